/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Usage per account for the API (docs/usage.md): what the main log reader
 * (exm-dp-logstats.h) sees, summed in hourly buckets so the agent's actual
 * state carries only the last 24 hours' totals per account, the last
 * authenticated submission, and the most recent delivery outcomes.  Bounded:
 * at most %EXM_DP_USAGE_MAX_ACCOUNTS accounts, %EXM_DP_USAGE_MAX_DELIVERIES
 * outcomes no older than 24 hours, replies cut to %EXM_DP_USAGE_REPLY_MAX
 * printable characters.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "exm-dp-logstats.h"

G_BEGIN_DECLS

#define EXM_DP_USAGE_HOURS	    24
#define EXM_DP_USAGE_MAX_ACCOUNTS   10000
#define EXM_DP_USAGE_MAX_DELIVERIES 100
#define EXM_DP_USAGE_REPLY_MAX	    200
/* secrets remembered per account (the current, the previous, and two more
 * so a rotation and a quick second one lose nothing); the oldest goes */
#define EXM_DP_USAGE_SECRETS 4
/* the member of the node's actual value (docs/usage.md §2) */
#define EXM_DP_USAGE_MEMBER "usage"

typedef struct _ExmDpUsage ExmDpUsage;

ExmDpUsage *exm_dp_usage_new(void);
void exm_dp_usage_free(ExmDpUsage *usage);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmDpUsage, exm_dp_usage_free)

/* Printable ASCII only, cut to EXM_DP_USAGE_REPLY_MAX (texts from the node). */
gchar *exm_dp_usage_clean_text(const gchar *text, gsize len);

/* An #ExmDpLogObserver: counts @event into @usage. */
void exm_dp_usage_observe(const ExmDpLogEvent *event, gpointer data);

/* An #ExmDpLoginObserver: the account's last login, and its secret's. */
void exm_dp_usage_observe_login(const ExmDpLoginEvent *event, gpointer data);

/**
 * exm_dp_usage_to_json:
 * @now: seconds since the epoch; the window is the hour of @now and the 23
 *   before it
 *
 * Returns: (transfer full): `{"accounts": {address: {accepted, delivered,
 * deferred, bounced, held, last_login?, secrets?: {fingerprint: time}}},
 * "deliveries": [{time, account,
 * domain, status, reply}]}`, accounts sorted, deliveries oldest first; the
 * same text for the same log within one hour (a quiet node reports no change)
 */
JsonNode *exm_dp_usage_to_json(ExmDpUsage *usage, gint64 now);

/* Grows with every line counted: the saved state is behind when it moved. */
guint64 exm_dp_usage_get_generation(ExmDpUsage *usage);

/* Whether @address has a slot (it was seen, or loaded). */
gboolean exm_dp_usage_has_account(ExmDpUsage *usage, const gchar *address);

/**
 * exm_dp_usage_save_json:
 *
 * Returns: (transfer full): everything @usage holds, for the saved state
 * (exm-dp-usage-store.h): `{"accounts": {address: {"last_login": seconds,
 * "hours": [[hour, accepted, delivered, deferred, bounced, held], …]}},
 * "deliveries": [{time (seconds), account, domain, status, reply}]}`
 */
JsonNode *exm_dp_usage_save_json(ExmDpUsage *usage);

/**
 * exm_dp_usage_load_json:
 * @node: what exm_dp_usage_save_json() wrote, read back from disk: untrusted
 * @now: seconds since the epoch; hours outside its window are dropped
 * @error: %EXM_ERROR_VALIDATION naming what is wrong
 *
 * Checks everything against the bounds the log reader keeps (accounts,
 * hours, counts, outcomes and their texts); any fault refuses the whole state.
 *
 * Returns: (transfer full): the usage, or %NULL
 */
ExmDpUsage *exm_dp_usage_load_json(JsonNode *node, gint64 now, GError **error);

G_END_DECLS
