/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * What exim did, counted from its main log incrementally (docs/metrics.md §5):
 * each poll reads only what was appended since the last one, a rotated log is
 * finished through the descriptor still open before the new file is followed,
 * and a truncated one is read again from its start.  Counts per account (the
 * authenticated id on the `<=` line, carried to the deliveries by message id),
 * AUTH failures, TLS versions of authenticated submissions.  The label sets
 * are bounded: at most %EXM_DP_LOGSTATS_MAX_ACCOUNTS accounts (the rest count
 * as `other`), message ids remembered at most %EXM_DP_LOGSTATS_MAX_MESSAGES.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define EXM_DP_LOGSTATS_MAX_ACCOUNTS 10000
#define EXM_DP_LOGSTATS_MAX_MESSAGES 100000
/* bytes one poll reads at most; the rest waits for the next */
#define EXM_DP_LOGSTATS_MAX_READ (8 * 1024 * 1024)

typedef enum {
	EXM_DP_LOG_RECEIVED,
	EXM_DP_LOG_DELIVERED,
	EXM_DP_LOG_DEFERRED,
	EXM_DP_LOG_BOUNCED,
	EXM_DP_LOG_N_OUTCOMES
} ExmDpLogOutcome;

typedef struct _ExmDpLogStats ExmDpLogStats;

/**
 * exm_dp_logstats_new:
 * @path: the main log (`<log dir>/mainlog`); it need not exist yet
 * @from_start: read what the log holds already (tests); %FALSE starts at its
 *   end, so an agent restart never rescans a large log
 *
 * Returns: (transfer full): the counter
 */
ExmDpLogStats *exm_dp_logstats_new(const gchar *path, gboolean from_start);
void exm_dp_logstats_free(ExmDpLogStats *stats);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmDpLogStats, exm_dp_logstats_free)

/* Reads what was appended; returns the bytes consumed. */
gsize exm_dp_logstats_poll(ExmDpLogStats *stats);

/* Feeds one line (without its newline), as the poll does. */
void exm_dp_logstats_feed_line(ExmDpLogStats *stats, const gchar *line, gsize len);

/* Appends the families in the Prometheus text format. */
void exm_dp_logstats_render(ExmDpLogStats *stats, GString *out);

/* Count of @outcome for @account (`unknown`, `other` included); tests. */
guint64 exm_dp_logstats_get(ExmDpLogStats *stats, const gchar *account, ExmDpLogOutcome outcome);
guint64 exm_dp_logstats_get_auth_failures(ExmDpLogStats *stats);

G_END_DECLS
