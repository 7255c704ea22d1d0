/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The circuit breaker for a stolen credential (docs/abuse-controls.md §7):
 * per account, counted from exim's main log (the usage reader, fed line by
 * line), the recipients it never sent to before and the share of its
 * finished recipients that bounced, per UTC day.  When either crosses the
 * instance's threshold the account trips: it is held (the driver writes
 * `held=1` on its policy line, exim freezes its new mail) until a release or
 * discard action resets it.  The agent decides, exim enforces.
 *
 * Bounded: at most %EXM_DP_BREAKER_MAX_ACCOUNTS accounts, each remembering at
 * most %EXM_DP_BREAKER_SEEN_PER_ACCOUNT recipients (64-bit hashes of the
 * lower-cased address, oldest evicted first), %EXM_DP_BREAKER_SEEN_TOTAL in
 * all (past it, the largest account loses its oldest).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "exm-dp-logstats.h"

G_BEGIN_DECLS

#define EXM_DP_BREAKER_MAX_ACCOUNTS	10000
#define EXM_DP_BREAKER_SEEN_PER_ACCOUNT 10000
#define EXM_DP_BREAKER_SEEN_TOTAL	1000000
/* the member of the node's actual value */
#define EXM_DP_BREAKER_MEMBER "breaker"
/* the saved state's format and its bound (1 000 000 hashes of 19 bytes) */
#define EXM_DP_BREAKER_STORE_VERSION 1
#define EXM_DP_BREAKER_STORE_MAX     (64 * 1024 * 1024)

typedef enum {
	EXM_DP_BREAKER_NEW_RECIPIENTS,
	EXM_DP_BREAKER_BOUNCES,
} ExmDpBreakerReason;

typedef struct _ExmDpBreaker ExmDpBreaker;

ExmDpBreaker *exm_dp_breaker_new(void);
void exm_dp_breaker_free(ExmDpBreaker *breaker);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmDpBreaker, exm_dp_breaker_free)

/* The instance's thresholds (0: the default of exm-mail-validate.h). */
void exm_dp_breaker_set_limits(ExmDpBreaker *breaker,
			       gint64 new_recipients_per_day,
			       gint64 bounce_percent,
			       gint64 bounce_min);

/* Lines go on to @next (the usage) after the breaker counted them. */
void exm_dp_breaker_set_next(ExmDpBreaker *breaker, ExmDpLogObserver next, gpointer data);

/**
 * exm_dp_breaker_observe:
 *
 * An #ExmDpLogObserver.  A `<=` line of an authenticated account adds each
 * recipient it never sent to before to the day's new recipients; a
 * delivery (`=>`, `->`) or a bounce (`**`) of its mail counts a finished
 * recipient.  The account trips when its new recipients of the day exceed
 * the threshold, or when at least `bounce_min` recipients finished that day
 * and `bounces * 100 >= bounce_percent * finished`.
 */
void exm_dp_breaker_observe(const ExmDpLogEvent *event, gpointer data);

gboolean exm_dp_breaker_is_held(ExmDpBreaker *breaker, const gchar *address);
/* Returns: (transfer full): the held addresses, a set */
GHashTable *exm_dp_breaker_get_held(ExmDpBreaker *breaker);
/* Returns: (transfer full): the addresses that tripped since the last call */
GPtrArray *exm_dp_breaker_take_trips(ExmDpBreaker *breaker);

/**
 * exm_dp_breaker_reset:
 * @token: the action performed (a UUID), reported as done from now on
 *
 * After a release or a discard: the account sends normally again, its day's
 * counts start over; the recipients it has sent to stay known, so the same
 * ones do not trip it again.
 */
void exm_dp_breaker_reset(ExmDpBreaker *breaker, const gchar *address, const gchar *token);
/* The last action performed for @address, %NULL when none is kept. */
const gchar *exm_dp_breaker_get_done(ExmDpBreaker *breaker, const gchar *address);
/* Forgets the done tokens of the accounts not in @keep (a set of addresses). */
void exm_dp_breaker_keep_done(ExmDpBreaker *breaker, GHashTable *keep);

/**
 * exm_dp_breaker_to_json:
 * @log: (nullable): the reader whose in-flight messages are the held ones
 *
 * Returns: (transfer full) (nullable): `{"accounts": {address: {"sending":
 *   "held", reason, since, new_recipients, recipients, bounces,
 *   held_messages}}, "done": {address: token}}` (the counts as they stood at
 *   the trip), %NULL when both are empty
 */
JsonNode *exm_dp_breaker_to_json(ExmDpBreaker *breaker, ExmDpLogStats *log);

/* Grows with every change of the state; the saved state is behind when it moved. */
guint64 exm_dp_breaker_get_generation(ExmDpBreaker *breaker);
/* Accounts held now, and trips since the process started (the node's /metrics). */
guint exm_dp_breaker_get_held_count(ExmDpBreaker *breaker);
guint64 exm_dp_breaker_get_trips_total(ExmDpBreaker *breaker);
/* Recipient hashes kept, all accounts together (tests). */
guint64 exm_dp_breaker_get_seen_total(ExmDpBreaker *breaker);

/**
 * exm_dp_breaker_save:
 * @path: breaker.json next to the usage state (its directory is made 0700)
 * @written: (out) (optional): %TRUE when the file was written
 *
 * Writes the whole state atomically (mode 0600) when it changed since the
 * last load or save; nothing otherwise.
 */
gboolean exm_dp_breaker_save(ExmDpBreaker *breaker,
			     const gchar *path,
			     gboolean *written,
			     GError **error);

/**
 * exm_dp_breaker_load:
 * @path: what exm_dp_breaker_save() wrote: untrusted
 * @error: %G_FILE_ERROR_NOENT when there is none; otherwise why it is refused
 *
 * Larger than %EXM_DP_BREAKER_STORE_MAX, unparsable, another version, a bad
 * account, count, reason, hash or token, or past a bound: refused whole.
 *
 * Returns: (transfer full): the breaker, or %NULL
 */
ExmDpBreaker *exm_dp_breaker_load(const gchar *path, GError **error);

G_END_DECLS
