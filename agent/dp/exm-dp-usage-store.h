/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The usage of the API kept across agent restarts and node reboots
 * (docs/usage.md §1.1): one file on the data disk holds the log reader's
 * position (the main log's inode and the offset of the first line not yet
 * counted), the messages whose account is known, and the usage counted from
 * every line before that position.  One file, replaced atomically, so the
 * counts and the position always agree: a crash between two writes re-reads
 * the lines after the saved position (counted once, never twice).  Written
 * only when a line was counted since (or no position is saved yet), so an
 * idle agent writes nothing, nor does one whose log only has lines that
 * count nothing (connections, refusals, exim's own bounces).
 */
#pragma once

#include <glib.h>

#include "exm-dp-logstats.h"
#include "exm-dp-usage.h"

G_BEGIN_DECLS

/* the file's format; another version is ignored */
#define EXM_DP_USAGE_STORE_VERSION 1
/* the most a state can take (10 000 accounts of 24 hours, 100 000 messages
 * in flight); a larger file is not ours */
#define EXM_DP_USAGE_STORE_MAX	(64 * 1024 * 1024)
#define EXM_DP_USAGE_STORE_MODE 0600

typedef struct _ExmDpUsageStore ExmDpUsageStore;

/* @path: the state file (its directory is made 0700 when missing) */
ExmDpUsageStore *exm_dp_usage_store_new(const gchar *path);
void exm_dp_usage_store_free(ExmDpUsageStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmDpUsageStore, exm_dp_usage_store_free)

/**
 * exm_dp_usage_store_load:
 * @log: a reader not polled yet: it resumes at the saved position
 *   (exm_dp_logstats_resume()) and knows the saved messages
 * @now: seconds since the epoch (hours outside the window are dropped)
 *
 * A missing file is a first start (@log starts where it was told to); a
 * corrupt, truncated, oversized or foreign one is logged and ignored.
 *
 * Returns: (transfer full) (nullable): the saved usage, %NULL when none was
 *   loaded (the caller starts an empty one)
 */
ExmDpUsage *exm_dp_usage_store_load(ExmDpUsageStore *store, ExmDpLogStats *log, gint64 now);

/**
 * exm_dp_usage_store_save:
 * @written: (out) (optional): %TRUE when the file was written
 *
 * Call after a poll of @log: writes @usage with @log's position when a
 * line was counted since the last load or save, or on the first poll when
 * nothing was loaded (so a restart resumes there); nothing otherwise.
 *
 * Returns: %FALSE with @error (I/O) when the write failed; the next call tries again
 */
gboolean exm_dp_usage_store_save(ExmDpUsageStore *store,
				 ExmDpLogStats *log,
				 ExmDpUsage *usage,
				 gboolean *written,
				 GError **error);

/* Files written so far (tests). */
guint exm_dp_usage_store_get_writes(ExmDpUsageStore *store);

G_END_DECLS
