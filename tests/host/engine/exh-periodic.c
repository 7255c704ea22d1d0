/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-periodic.h"

#include "exh-log.h"
#include "exh-pool.h"
#include "exm-cleanup.h"

#define INTERVAL_MIN_MS 100
/* How long the thread sleeps with no job at all (a plugin may come later). */
#define IDLE_WAIT_US (60 * G_USEC_PER_SEC)

typedef struct {
	const ExordosPaasPluginDescriptor *desc;
	gpointer ctx;
	const ExordosPaasPeriodicJob *job;
	gint64 due_us; /* monotonic */
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

/* A usable connection, made again after a loss; %NULL when the database is away. */
static PGconn *
thread_conn(ExhPeriodic *p)
{
	g_autoptr(GError) error = NULL;

	if (p->conn != NULL && PQstatus(p->conn) == CONNECTION_OK &&
	    PQtransactionStatus(p->conn) == PQTRANS_IDLE)
		return p->conn;
	g_clear_pointer(&p->conn, PQfinish);
	p->conn = exh_pool_connect(p->conninfo, &error);
	if (p->conn == NULL)
		exh_log(G_LOG_LEVEL_MESSAGE, NULL, "periodic jobs: %s", error->message);
	return p->conn;
}

/* One step of @job, in autocommit (the step holds no lock across its slow
 * work); %TRUE when it says more is due. */
static gboolean
run_step(ExhPeriodic *p, const Job *job, gboolean *failed)
{
	g_autofree gchar *message = NULL;
	gboolean more = FALSE;
	PGconn *conn = thread_conn(p);

	*failed = TRUE;
	if (conn == NULL)
		return FALSE;
	if (job->job->run(job->ctx, conn, g_get_real_time(), &more, &message)) {
		*failed = FALSE;
		return more;
	}
	exh_log(G_LOG_LEVEL_MESSAGE,
		NULL,
		"plugin %s: periodic job %s failed: %s",
		job->desc->slug,
		job->job->name,
		message != NULL ? message : "no message");
	/* a step that left a transaction open gets a fresh connection next */
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		g_clear_pointer(&p->conn, PQfinish);
	return FALSE;
}

static gpointer
periodic_thread(gpointer data)
{
	ExhPeriodic *p = data;

	g_mutex_lock(&p->lock);
	while (!p->stopping) {
		Job *job = next_job(p);
		gint64 now = g_get_monotonic_time();
		gboolean more, failed;

		if (job == NULL || job->due_us > now) {
			(void)g_cond_wait_until(
				&p->cond, &p->lock, job != NULL ? job->due_us : now + IDLE_WAIT_US);
			continue;
		}
		g_mutex_unlock(&p->lock);
		more = run_step(p, job, &failed);
		g_mutex_lock(&p->lock);
		p->stats.steps++;
		p->stats.failed += failed ? 1 : 0;
		job->due_us =
			g_get_monotonic_time() +
			(more ? 0 : (gint64)MAX(job->job->interval_ms, INTERVAL_MIN_MS) * 1000);
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
	periodic->thread = g_thread_new("exh-periodic", periodic_thread, periodic);
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
