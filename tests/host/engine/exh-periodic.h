/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The plugins' background jobs (ABI minor 4, #ExordosPaasPeriodicJob): one
 * thread of the host with its own database connection (in autocommit) runs
 * each job's step every job's interval, and again at once while the step
 * says more is due (docs/plugin-abi.md §2).  A step that fails (the database
 * away included) is tried again after its interval, then after twice as long
 * each time it fails again, up to %EXH_PERIODIC_BACKOFF_FACTOR times the
 * interval or %EXH_PERIODIC_BACKOFF_MAX_MS, whichever is shorter (never less
 * than the interval); the first success brings the interval back.  The first
 * failure, every %EXH_PERIODIC_LOG_EVERY-th in a row and the recovery are
 * logged, so a job that keeps failing does not fill the log.  A lost
 * connection, or one a failed step left inside a transaction, is made again
 * on the next step.
 */
#pragma once

#include <glib.h>

#include "exordos-paas-plugin.h"

G_BEGIN_DECLS

#define EXH_PERIODIC_BACKOFF_FACTOR 10
#define EXH_PERIODIC_BACKOFF_MAX_MS (5 * 60 * 1000)
#define EXH_PERIODIC_LOG_EVERY	    10

typedef struct _ExhPeriodic ExhPeriodic;

/**
 * ExhPeriodicStats:
 * @steps: steps run (successful or not)
 * @failed: steps that failed
 * @failing: jobs whose last step failed
 * @logged: lines logged about failures and recoveries
 * @last_delay_ms: the wait the runner chose after the last step
 */
typedef struct {
	guint64 steps;
	guint64 failed;
	guint failing;
	guint64 logged;
	guint64 last_delay_ms;
} ExhPeriodicStats;

/**
 * exh_periodic_delay_ms:
 * @interval_ms: the job's interval (raised to the 100 ms floor)
 * @failures: its failed steps in a row, the last one included (0: it worked)
 *
 * Returns: how long the runner waits before the next step of a job that
 * left nothing due: the interval for 0 and 1 failure, then doubling, capped
 */
guint64 exh_periodic_delay_ms(guint interval_ms, guint failures);

/**
 * exh_periodic_new:
 * @conninfo: libpq conninfo
 *
 * Returns: (transfer full): a runner with no job, not started
 */
ExhPeriodic *exh_periodic_new(const gchar *conninfo);

/**
 * exh_periodic_add_plugin:
 * @periodic: a runner, started or not
 * @desc: (transfer none): a plugin descriptor; it must outlive the runner
 * @ctx: the plugin context from init
 *
 * Adds the plugin's jobs, when its ABI minor (≥ 4) and struct size say it has
 * the member; a malformed job (no run, a short struct) is logged and skipped.
 *
 * Returns: how many jobs were added
 */
guint exh_periodic_add_plugin(ExhPeriodic *periodic,
			      const ExordosPaasPluginDescriptor *desc,
			      gpointer ctx);

/* Starts the runner's thread (no-op when running). */
void exh_periodic_start(ExhPeriodic *periodic);

/* Stops the thread after the step in progress; idempotent. */
void exh_periodic_stop(ExhPeriodic *periodic);

/* A copy of the counters (thread-safe). */
void exh_periodic_get_stats(ExhPeriodic *periodic, ExhPeriodicStats *out);

void exh_periodic_free(ExhPeriodic *periodic);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhPeriodic, exh_periodic_free)

G_END_DECLS
