/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-periodic.h"

#include "exh-log.h"
#include "exh-pool.h"
#include "exh-thread.h"
#include "exm-cleanup.h"

#define INTERVAL_MIN_MS 100
/* How long the thread sleeps with no job at all (a plugin may come later). */
#define IDLE_WAIT_US (60 * G_USEC_PER_SEC)

typedef struct {
	const ExordosPaasPluginDescriptor *desc;
	gpointer ctx;
	const ExordosPaasPeriodicJob *job;
	gint64 due_us;	/* monotonic */
	guint failures; /* in a row; only the runner's thread touches it */
} Job;

struct _ExhPeriodic {
	gchar *conninfo;
	GMutex lock;
	GCond cond;
	GPtrArray *jobs; /* Job, under @lock */
	GThread *thread;
	gboolean stopping;
	PGconn *conn; /* the thread's own */
	ExhPeriodicStats stats;
};

ExhPeriodic *
exh_periodic_new(const gchar *conninfo)
{
	ExhPeriodic *p = g_new0(ExhPeriodic, 1);

	p->conninfo = g_strdup(conninfo);
	g_mutex_init(&p->lock);
	g_cond_init(&p->cond);
	p->jobs = g_ptr_array_new_with_free_func(g_free);
	return p;
}

/* The member exists from ABI minor 4 on, inside the plugin's struct. */
static const ExordosPaasPeriodicJob *const *
plugin_jobs(const ExordosPaasPluginDescriptor *desc)
{
	if (desc->abi_minor < 4 ||
	    desc->struct_size <
		    G_STRUCT_OFFSET(ExordosPaasPluginDescriptor, periodic) + sizeof(desc->periodic))
		return NULL;
	return desc->periodic;
}

static gboolean
job_ok(const ExordosPaasPluginDescriptor *desc, const ExordosPaasPeriodicJob *job)
{
	if (job->struct_size >= G_STRUCT_OFFSET(ExordosPaasPeriodicJob, reserved) &&
	    job->run != NULL && job->name != NULL)
		return TRUE;
	exh_log(G_LOG_LEVEL_MESSAGE,
		NULL,
		"plugin %s: malformed periodic job; ignored",
		desc->slug);
	return FALSE;
}

guint
exh_periodic_add_plugin(ExhPeriodic *periodic,
			const ExordosPaasPluginDescriptor *desc,
			gpointer ctx)
{
	const ExordosPaasPeriodicJob *const *jobs = plugin_jobs(desc);
	guint n = 0;

	g_mutex_lock(&periodic->lock);
	for (guint i = 0; jobs != NULL && jobs[i] != NULL; i++) {
		Job *job;

		if (!job_ok(desc, jobs[i]))
			continue;
		job = g_new0(Job, 1);
		job->desc = desc;
		job->ctx = ctx;
		job->job = jobs[i];
		job->due_us = g_get_monotonic_time();
		g_ptr_array_add(periodic->jobs, job);
		n++;
	}
	g_cond_signal(&periodic->cond);
	g_mutex_unlock(&periodic->lock);
	return n;
}

/* The job due first, or %NULL when there is none (under the lock). */
static Job *
next_job(ExhPeriodic *p)
{
	Job *first = NULL;

	for (guint i = 0; i < p->jobs->len; i++) {
		Job *job = g_ptr_array_index(p->jobs, i);

		if (first == NULL || job->due_us < first->due_us)
			first = job;
	}
	return first;
}

/* A usable connection, made again after a loss; %NULL (and @error) when the
 * database is away: the step fails, logged and backed off like any other. */
static PGconn *
thread_conn(ExhPeriodic *p, GError **error)
{
	if (p->conn != NULL && PQstatus(p->conn) == CONNECTION_OK &&
	    PQtransactionStatus(p->conn) == PQTRANS_IDLE)
		return p->conn;
	g_clear_pointer(&p->conn, PQfinish);
	p->conn = exh_pool_connect(p->conninfo, error);
	return p->conn;
}

/* One step of @job, in autocommit (the step holds no lock across its slow
 * work); %TRUE when it says more is due.  @failure: (out): why it failed,
 * %NULL when it did not. */
static gboolean
run_step(ExhPeriodic *p, const Job *job, gchar **failure)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *message = NULL;
	gboolean more = FALSE;
	PGconn *conn = thread_conn(p, &error);

	*failure = NULL;
	if (conn == NULL) {
		*failure = g_strdup(error->message);
		return FALSE;
	}
	if (job->job->run(job->ctx, conn, g_get_real_time(), &more, &message))
		return more;
	*failure = message != NULL ? g_steal_pointer(&message) : g_strdup("no message");
	/* a step that left a transaction open gets a fresh connection next */
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		g_clear_pointer(&p->conn, PQfinish);
	return FALSE;
}

guint64
exh_periodic_delay_ms(guint interval_ms, guint failures)
{
	guint64 interval = MAX(interval_ms, INTERVAL_MIN_MS);
	guint64 cap = MAX(
		interval,
		MIN(interval * EXH_PERIODIC_BACKOFF_FACTOR, (guint64)EXH_PERIODIC_BACKOFF_MAX_MS));
	guint64 delay = interval;

	/* the first failure waits the interval, each further one twice as long */
	for (guint i = 1; i < failures && delay < cap; i++)
		delay *= 2;
	return MIN(delay, cap);
}

/* The first failure, every %EXH_PERIODIC_LOG_EVERY-th in a row and the
 * recovery are logged: a job failing for hours writes a bounded trickle.
 * Returns: %TRUE when a line was written. */
static gboolean
report(const Job *job, const gchar *failure, guint64 delay_ms)
{
	const gchar *slug = job->desc->slug;
	const gchar *name = job->job->name;

	if (failure == NULL && job->failures > 0) {
		exh_log(G_LOG_LEVEL_MESSAGE,
			NULL,
			"plugin %s: periodic job %s works again after %u failed steps",
			slug,
			name,
			job->failures);
		return TRUE;
	}
	if (failure == NULL ||
	    (job->failures > 0 && (job->failures + 1) % EXH_PERIODIC_LOG_EVERY != 0))
		return FALSE;
	exh_log(G_LOG_LEVEL_MESSAGE,
		NULL,
		"plugin %s: periodic job %s failed (%u in a row): %s; next try in "
		"%" G_GUINT64_FORMAT " ms",
		slug,
		name,
		job->failures + 1,
		failure,
		delay_ms);
	return TRUE;
}

/* After a step, on the runner's thread: what is logged, when @job runs next,
 * the counters. */
static void
after_step(ExhPeriodic *p, Job *job, gboolean more, const gchar *failure)
{
	guint failures = failure != NULL ? job->failures + 1 : 0;
	guint64 delay_ms = more && failure == NULL
				   ? 0
				   : exh_periodic_delay_ms(job->job->interval_ms, failures);
	gboolean logged = report(job, failure, delay_ms);

	g_mutex_lock(&p->lock);
	if (failures > 0 && job->failures == 0)
		p->stats.failing++;
	else if (failures == 0 && job->failures > 0)
		p->stats.failing--;
	job->failures = failures;
	p->stats.steps++;
	p->stats.failed += failure != NULL ? 1 : 0;
	p->stats.logged += logged ? 1 : 0;
	p->stats.last_delay_ms = delay_ms;
	job->due_us = g_get_monotonic_time() + (gint64)delay_ms * 1000;
	g_mutex_unlock(&p->lock);
}

static gpointer
periodic_thread(gpointer data)
{
	ExhPeriodic *p = data;

	g_mutex_lock(&p->lock);
	while (!p->stopping) {
		Job *job = next_job(p);
		gint64 now = g_get_monotonic_time();
		g_autofree gchar *failure = NULL;
		gboolean more;

		if (job == NULL || job->due_us > now) {
			(void)g_cond_wait_until(
				&p->cond, &p->lock, job != NULL ? job->due_us : now + IDLE_WAIT_US);
			continue;
		}
		g_mutex_unlock(&p->lock);
		more = run_step(p, job, &failure);
		after_step(p, job, more, failure);
		g_mutex_lock(&p->lock);
	}
	g_mutex_unlock(&p->lock);
	g_clear_pointer(&p->conn, PQfinish);
	return NULL;
}

void
exh_periodic_start(ExhPeriodic *periodic)
{
	if (periodic->thread != NULL)
		return;
	periodic->stopping = FALSE;
	periodic->thread = exh_thread_new_running("exh-periodic", periodic_thread, periodic);
}

void
exh_periodic_stop(ExhPeriodic *periodic)
{
	if (periodic->thread == NULL)
		return;
	g_mutex_lock(&periodic->lock);
	periodic->stopping = TRUE;
	g_cond_signal(&periodic->cond);
	g_mutex_unlock(&periodic->lock);
	g_thread_join(g_steal_pointer(&periodic->thread));
}

void
exh_periodic_get_stats(ExhPeriodic *periodic, ExhPeriodicStats *out)
{
	g_mutex_lock(&periodic->lock);
	*out = periodic->stats;
	g_mutex_unlock(&periodic->lock);
}

void
exh_periodic_free(ExhPeriodic *periodic)
{
	if (periodic == NULL)
		return;
	exh_periodic_stop(periodic);
	g_ptr_array_unref(periodic->jobs);
	g_cond_clear(&periodic->cond);
	g_mutex_clear(&periodic->lock);
	g_free(periodic->conninfo);
	g_free(periodic);
}
