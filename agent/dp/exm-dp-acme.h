/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * ACME certificates obtained and renewed on the node (issue 22 item 2,
 * docs/tls.md §5).  Debian's uacme speaks the protocol; this engine decides
 * when it runs, answers its HTTP-01 challenges and installs what it got as
 * one file exim serves (EXM_DP_PATH_TLS_ACME), keeping the certificate it
 * had when a run fails.
 */
#pragma once

#include <glib.h>

#include "exm-dp-config.h"

/* the default back-off after a failed run: 1 min, doubling, at most 6 h */
#define EXM_DP_ACME_BACKOFF_MIN_SECONDS 60
#define EXM_DP_ACME_BACKOFF_MAX_SECONDS (6 * 3600)
/* one uacme run is killed after this long */
#define EXM_DP_ACME_TIMEOUT_SECONDS 300
/* the longest error kept and reported (the plugin accepts 512 bytes) */
#define EXM_DP_ACME_ERROR_MAX 400
/* the engine's state, under acme_dir */
#define EXM_DP_ACME_STATE_FILE "state.json"

typedef struct _ExmDpAcme ExmDpAcme;

/* seconds since the epoch, as the engine's clock says */
typedef gint64 (*ExmDpAcmeClock)(gpointer data);

/**
 * exm_dp_acme_new:
 * @config: the node's settings: acme_http_listen, acme_ca_file, acme_dir
 *   (under root), owner and group of the installed file
 *
 * Loads the state a previous agent left (last error, back-off); a state
 * that does not parse is ignored.  Nothing runs until a target is set.
 *
 * Returns: (transfer full): the engine, or %NULL (%EXM_DP_ERROR_CONFIG)
 */
ExmDpAcme *exm_dp_acme_new(const ExmDpConfig *config, GError **error);

/* Stops a run in flight (its uacme is killed) and frees @self (NULL is fine). */
void exm_dp_acme_free(ExmDpAcme *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmDpAcme, exm_dp_acme_free)

/**
 * exm_dp_acme_set_target:
 * @hostname: the name to certify (mail.<domain>)
 * @directory_url: (nullable): the ACME directory (`https://…`); %NULL = ACME
 *   off: a run in flight is stopped, EXM_DP_PATH_TLS_ACME and the last error
 *   are removed (exim serves the tenant's or the self-signed certificate)
 * @contact: (nullable): `mailto:ADDRESS` for the account
 *
 * The driver calls it on every apply: when nothing changed it costs a few
 * string comparisons.  A change forgets the back-off, so the next
 * exm_dp_acme_tick() decides afresh.
 *
 * Returns: %FALSE (%EXM_DP_ERROR_INVALID) for a malformed name, URL or contact;
 *   the engine keeps its previous target then
 */
gboolean exm_dp_acme_set_target(ExmDpAcme *self,
				const gchar *hostname,
				const gchar *directory_url,
				const gchar *contact,
				GError **error);

/**
 * exm_dp_acme_tick:
 *
 * Starts a run when one is due (exm_dp_acme_next_run() has come) and none is
 * in flight; returns at once: uacme runs as a child the main context
 * watches.  The agent calls it every second.
 */
void exm_dp_acme_tick(ExmDpAcme *self);

/**
 * exm_dp_acme_next_run:
 *
 * Returns: when the next run is due, seconds since the epoch by the
 *   engine's clock: now when no certificate for the hostname is installed,
 *   two thirds into the installed one's lifetime otherwise, later while a
 *   failure backs off; %G_MAXINT64 when ACME is off
 */
gint64 exm_dp_acme_next_run(ExmDpAcme *self);

/* %TRUE while a uacme child runs */
gboolean exm_dp_acme_running(ExmDpAcme *self);

/* how many runs have finished (installed or failed) since @self was made */
guint exm_dp_acme_get_runs(ExmDpAcme *self);

/* (nullable): the last run's failure, %NULL after a success */
const gchar *exm_dp_acme_get_error(ExmDpAcme *self);

/* Replaces the wall clock (tests: a renewal due later). */
void exm_dp_acme_set_clock(ExmDpAcme *self, ExmDpAcmeClock clock, gpointer data);

/* The back-off after a failure: @min_seconds doubling up to @max_seconds. */
void exm_dp_acme_set_backoff(ExmDpAcme *self, gint64 min_seconds, gint64 max_seconds);

/* Replaces uacme's challenge hook (tests: one that holds a run open). */
void exm_dp_acme_set_hook(ExmDpAcme *self, const gchar *hook);

/**
 * exm_dp_acme_state_path:
 *
 * Returns: (transfer full): the state file under @config's acme_dir
 */
gchar *exm_dp_acme_state_path(const ExmDpConfig *config);

/**
 * exm_dp_acme_read_error:
 * @state_path: exm_dp_acme_state_path()
 *
 * Returns: (transfer full) (nullable): the last run's failure as the state
 *   file keeps it; %NULL when there is none or no readable state
 */
gchar *exm_dp_acme_read_error(const gchar *state_path);
