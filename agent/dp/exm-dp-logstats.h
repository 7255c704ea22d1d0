/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * What exim did, counted from its main log incrementally (docs/metrics.md §5):
 * each poll reads only what was appended since the last one, a rotated log is
 * finished through the descriptor still open before the new file is followed,
 * and a truncated one is read again from its start.  Counts per account (the
 * authenticated id on the `<=` line, carried to the deliveries by message id),
 * AUTH failures, TLS versions of authenticated submissions, TLS version and
 * DANE of remote deliveries (docs/tls.md §7).  The label sets
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
	EXM_DP_LOG_HELD, /* frozen: by an ACL (the breaker) or after a failed bounce */
	EXM_DP_LOG_N_OUTCOMES
} ExmDpLogOutcome;

typedef struct _ExmDpLogStats ExmDpLogStats;

/**
 * ExmDpLogEvent:
 * @outcome: what the line says happened to the message
 * @time: the line's `YYYY-MM-DD HH:MM:SS` (exim's local time)
 * @account: the authenticated id of the message's `<=` line, `unknown` when
 *   none (or forgotten), `other` past the account cap
 * @authenticated: the `<=` line carried an authenticated id (@outcome RECEIVED)
 * @rest: the line after its symbol (recipient and fields), for deliveries
 * @id: the message id
 * @tls: (nullable): how a delivery to a remote host went (DELIVERED lines of
 *   remote SMTP deliveries only)
 *
 * One classified line, handed to the observer (exm-dp-usage.c) as it is read.
 */
typedef struct {
	ExmDpLogOutcome outcome;
	const gchar *time;
	const gchar *account;
	gboolean authenticated;
	const gchar *rest;
	const gchar *id;
	const struct _ExmDpDeliveryTls *tls;
} ExmDpLogEvent;

/**
 * ExmDpDeliveryTls:
 * @version: the TLS version (`TLS1.3`, `TLS1.2`, … `other`), `none` in clear
 * @dane: the peer's certificate was verified by DANE (`CV=dane`)
 * @dnssec: the MX and address lookups were DNSSEC-validated (`DS`)
 *
 * The facts of one delivery to a remote host (issue 22 item 6, docs/tls.md
 * §5), from exim's delivery line, for the metrics and the deliveries view.
 */
typedef struct _ExmDpDeliveryTls {
	const gchar *version;
	gboolean dane;
	gboolean dnssec;
} ExmDpDeliveryTls;

/**
 * exm_dp_logstats_delivery_tls:
 * @rest: a `=>` or `->` line after its symbol
 * @out: (out): the delivery's facts; @version is a static string
 *
 * Reads exim's own fields only: the recipient and `F=<sender>` are skipped as
 * words (a quoted local part may hold spaces), and nothing from `DN="` or
 * `C="` on (the peer's texts) is looked at.
 *
 * Returns: %FALSE for a line that is no remote SMTP delivery (no `H=`: a local
 *   delivery) or the sandbox's hand-over to the capture listener
 */
gboolean exm_dp_logstats_delivery_tls(const gchar *rest, ExmDpDeliveryTls *out);

typedef void (*ExmDpLogObserver)(const ExmDpLogEvent *event, gpointer data);

/**
 * ExmDpLoginEvent:
 * @time: the line's `YYYY-MM-DD HH:MM:SS`
 * @account: the login, lower-cased, as exim verified it
 * @secret: the secret's fingerprint (exm_mail_crypt_fingerprint(), 16 hex digits)
 * @previous: the secret a rotation replaced, inside its overlap window
 *
 * One successful AUTH, from the line exim's authenticators write
 * (`AUTH with the current|previous secret <fp>: login <address>`,
 * data/exim4/exim4.conf.in).
 */
typedef struct {
	const gchar *time;
	const gchar *account;
	const gchar *secret;
	gboolean previous;
} ExmDpLoginEvent;

typedef void (*ExmDpLoginObserver)(const ExmDpLoginEvent *event, gpointer data);

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

/* Calls @observer for every message line read from now on (one observer). */
void exm_dp_logstats_set_observer(ExmDpLogStats *stats, ExmDpLogObserver observer, gpointer data);

/* Calls @observer for every successful login read from now on (one observer). */
void exm_dp_logstats_set_login_observer(ExmDpLogStats *stats,
					ExmDpLoginObserver observer,
					gpointer data);

/* Reads what was appended; returns the bytes consumed. */
gsize exm_dp_logstats_poll(ExmDpLogStats *stats);

/* Feeds one line (without its newline), as the poll does. */
void exm_dp_logstats_feed_line(ExmDpLogStats *stats, const gchar *line, gsize len);

/* Appends the families in the Prometheus text format. */
void exm_dp_logstats_render(ExmDpLogStats *stats, GString *out);

/**
 * exm_dp_logstats_get_position:
 * @inode: (out): the open log's inode
 * @offset: (out): where the first line not yet read completely starts
 *
 * What a restarted reader resumes at (exm-dp-usage-store.h): every line
 * before @offset has reached the observer, none after it.
 *
 * Returns: %FALSE when no log is open yet (nothing was read)
 */
gboolean exm_dp_logstats_get_position(ExmDpLogStats *stats, guint64 *inode, guint64 *offset);

/**
 * exm_dp_logstats_resume:
 *
 * Before the first poll: start at a saved position instead of the log's end.
 * When the log at the path is no longer @inode, its first rotated copy
 * (`<path>.1`) of that inode is read on from @offset and then the log from
 * its start; when neither is, the log is read from its start (it began
 * after the position).  A file shorter than @offset was truncated: from its
 * start too.
 */
void exm_dp_logstats_resume(ExmDpLogStats *stats, guint64 inode, guint64 offset);

/* The messages whose account is known (id → account), for a saved state. */
void exm_dp_logstats_foreach_message(ExmDpLogStats *stats, GHFunc func, gpointer data);
/* exim's message id: `XXXXXX-XXXXXX-XX` of letters and digits (16 to 23 long). */
gboolean exm_dp_logstats_is_message_id(const gchar *s);
/* Restores one; %FALSE when @id is no message id or the table is full. */
gboolean exm_dp_logstats_add_message(ExmDpLogStats *stats, const gchar *id, const gchar *account);

/* Count of @outcome for @account (`unknown`, `other` included); tests. */
guint64 exm_dp_logstats_get(ExmDpLogStats *stats, const gchar *account, ExmDpLogOutcome outcome);
guint64 exm_dp_logstats_get_auth_failures(ExmDpLogStats *stats);
/* Successful logins with the current (@previous %FALSE) or the previous secret. */
guint64 exm_dp_logstats_get_logins(ExmDpLogStats *stats, gboolean previous);
/* Refusals by a send limit or the login defence (@limit as in the metric). */
guint64 exm_dp_logstats_get_limit_hits(ExmDpLogStats *stats, const gchar *limit);
/* Remote deliveries by TLS version (`none`: in clear) and DANE. */
guint64 exm_dp_logstats_get_deliveries_tls(ExmDpLogStats *stats,
					   const gchar *version,
					   gboolean dane);
/* Delivery attempts DANE refused: the peer's certificate matched no TLSA
 * record (`DANE attempt failed`), or it offered no STARTTLS. */
guint64 exm_dp_logstats_get_dane_failures(ExmDpLogStats *stats);

G_END_DECLS
