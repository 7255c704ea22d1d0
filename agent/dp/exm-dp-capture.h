/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The sandbox's captured messages (docs/sandbox.md §1–§2): exim stores each
 * in the capture directory (maildir style); the agent lists them, verifies
 * each one's DKIM signature once against the node's own key, prunes the
 * directory to its bounds and reports the `captured` member of the node's
 * actual value.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* the member of the node's actual value */
#define EXM_DP_CAPTURE_MEMBER	    "captured"
#define EXM_DP_CAPTURE_MAX_MESSAGES 100
#define EXM_DP_CAPTURE_MAX_AGE	    (7 * 24 * 3600)
/* the newest this many, when at most EXM_DP_CAPTURE_RAW_MAX bytes, carry `raw` */
#define EXM_DP_CAPTURE_RAW_MESSAGES 5
#define EXM_DP_CAPTURE_RAW_MAX	    (64 * 1024)
/* a larger message is listed, its DKIM signature not checked */
#define EXM_DP_CAPTURE_VERIFY_MAX (4 * 1024 * 1024)
#define EXM_DP_CAPTURE_TEXT_MAX	  200
#define EXM_DP_CAPTURE_TO_MAX	  10

typedef struct _ExmDpCapture ExmDpCapture;

/* @dir: the capture directory (its `new/` and `cur/` are read). */
ExmDpCapture *exm_dp_capture_new(const gchar *dir);
void exm_dp_capture_free(ExmDpCapture *capture);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmDpCapture, exm_dp_capture_free)

/**
 * exm_dp_capture_set_key:
 * @domain: the instance's domain (the signature's `d=`)
 * @record: the node's DKIM record data (`v=DKIM1; …; p=<key>`), as the
 *   agent reports it; the selector is the node's
 *
 * A different key or domain checks every message again at the next poll.
 */
void exm_dp_capture_set_key(ExmDpCapture *capture, const gchar *domain, const gchar *record);

/**
 * exm_dp_capture_poll:
 * @now: seconds since the epoch
 *
 * Reads the files that appeared, forgets the ones that went, deletes the
 * ones past the bounds (older than %EXM_DP_CAPTURE_MAX_AGE, beyond the
 * newest %EXM_DP_CAPTURE_MAX_MESSAGES).  A missing directory is empty.
 */
void exm_dp_capture_poll(ExmDpCapture *capture, gint64 now);

/**
 * exm_dp_capture_to_json:
 *
 * Returns: (transfer full) (nullable): `{"messages": [...]}` oldest first,
 *   %NULL when nothing is captured; the same text while the directory is
 *   unchanged
 */
JsonNode *exm_dp_capture_to_json(ExmDpCapture *capture);

G_END_DECLS
