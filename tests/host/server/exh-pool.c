/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-pool.h"

#include "exh-host.h"
#include "exh-log.h"
#include "exm-cleanup.h"
#include "exm-error.h"

#include <string.h>

struct _ExhPool {
	gchar *conninfo;
	GThreadPool *threads;
	GAsyncQueue *slots; /* PGconn slots, one per worker; NULL entries not allowed */
	guint n_slots;
	guint max_queued;
	gint reconnects; /* atomic */
	GPtrArray *all;	 /* every Slot, for cancelling */
	GMutex lock;	 /* guards Slot.busy, Slot.cancel and Slot.pid */
};

/* A connection slot; conn is NULL until first use. */
typedef struct {
	PGconn *conn;
	PGcancel *cancel; /* for the current backend */
	gint pid;	  /* the current backend's process */
	gboolean busy;	  /* a job's statements may be running */
} Slot;

typedef struct {
	ExhPoolTxFunc tx;
	ExhPoolDoneFunc done;
	gpointer data;
	gboolean read_only; /* no transaction (exh_pool_push_read()) */
} Job;

static gboolean
exec_command(PGconn *conn, const gchar *sql)
{
	g_autoptr(PGresult) res = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);

	return PQresultStatus(res) == PGRES_COMMAND_OK;
}

/* The session every connection of the host has: timestamps are UTC
 * throughout (restalchemy stores naive UTC) and read in the ISO DateStyle
 * (exm_rest_store_exec() refuses another). */
static gboolean
session_set(PGconn *conn)
{
	return exec_command(conn, "SET TIME ZONE 'UTC'") &&
	       exec_command(conn, "SET DateStyle = ISO");
}

PGconn *
exh_pool_connect(const gchar *conninfo, GError **error)
{
	g_autoptr(PGconn) conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK || !session_set(conn)) {
		g_autofree gchar *why = g_strstrip(g_strdup(PQerrorMessage(conn)));
		g_set_error(
			error, EXH_ERROR, EXH_ERROR_DB, "cannot connect to the database: %s", why);
		return NULL;
	}
	return g_steal_pointer(&conn);
}

/* Opens or resets the slot's connection; TRUE when it is usable. */
static gboolean
slot_connect(ExhPool *pool, Slot *slot)
{
	if (slot->conn == NULL) {
		slot->conn = PQconnectdb(pool->conninfo);
	} else {
		PQreset(slot->conn);
		g_atomic_int_inc(&pool->reconnects);
	}
	if (PQstatus(slot->conn) != CONNECTION_OK)
		return FALSE;
	PQsetNoticeProcessor(slot->conn, exh_log_pg_notice, NULL);
	g_mutex_lock(&pool->lock);
	g_clear_pointer(&slot->cancel, PQfreeCancel);
	slot->cancel = PQgetCancel(slot->conn);
	slot->pid = PQbackendPID(slot->conn);
	g_mutex_unlock(&pool->lock);
	/* a read runs without BEGIN, so a statement outside a transaction is
	 * read-only and a write by mistake fails instead of committing by itself */
	if (session_set(slot->conn) &&
	    exec_command(slot->conn, "SET default_transaction_read_only = on"))
		return TRUE;
	/* never used without them: a read could write; opened anew next time */
	g_mutex_lock(&pool->lock);
	g_clear_pointer(&slot->cancel, PQfreeCancel);
	slot->pid = 0;
	g_mutex_unlock(&pool->lock);
	g_clear_pointer(&slot->conn, PQfinish);
	return FALSE;
}

/* The slot's connection, opened or reset when it is gone or broken. */
static gboolean
slot_ready(ExhPool *pool, Slot *slot)
{
	if (slot->conn != NULL && PQstatus(slot->conn) == CONNECTION_OK)
		return TRUE;
	return slot_connect(pool, slot);
}

static void
set_unavailable(Slot *slot, GError **error)
{
	if (slot->conn != NULL) {
		g_autofree gchar *why = g_strstrip(g_strdup(PQerrorMessage(slot->conn)));
		exh_log(G_LOG_LEVEL_MESSAGE, NULL, "database unavailable: %s", why);
	}
	g_set_error_literal(error,
			    EXM_ERROR,
			    EXM_ERROR_UNAVAILABLE,
			    "The database is unavailable, try again later.");
}

/*
 * BEGIN on the slot's connection, read-write over the session's read-only
 * default.  A connection that went bad since the last job (a PostgreSQL
 * restart shows only on the next statement) is reset and BEGIN retried once.
 */
static gboolean
slot_begin(ExhPool *pool, Slot *slot, GError **error)
{
	for (guint attempt = 0; attempt < 2; attempt++) {
		if (!slot_ready(pool, slot))
			continue;
		if (exec_command(slot->conn, "BEGIN READ WRITE"))
			return TRUE;
		if (PQstatus(slot->conn) == CONNECTION_OK)
			break;
	}
	set_unavailable(slot, error);
	return FALSE;
}

/* COMMIT must really commit: a failed transaction answers COMMIT with ROLLBACK. */
static gboolean
slot_commit(Slot *slot, GError **error)
{
	g_autoptr(PGresult) res = NULL;

	switch (PQtransactionStatus(slot->conn)) {
	case PQTRANS_INTRANS:
		break;
	case PQTRANS_INERROR:
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_FAILED,
				    "a statement failed in a successful request; rolled back");
		return FALSE;
	default:
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_FAILED,
				    "the transaction was not open at commit");
		return FALSE;
	}
	res = PQexecParams(slot->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_COMMAND_OK && g_strcmp0(PQcmdStatus(res), "COMMIT") == 0)
		return TRUE;
	if (PQstatus(slot->conn) != CONNECTION_OK)
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_UNAVAILABLE,
				    "The database is unavailable, try again later.");
	else
		g_set_error_literal(error, EXM_ERROR, EXM_ERROR_FAILED, "commit failed");
	return FALSE;
}

static void
slot_rollback(Slot *slot)
{
	if (PQtransactionStatus(slot->conn) != PQTRANS_IDLE)
		exec_command(slot->conn, "ROLLBACK");
}

static void
slot_set_busy(ExhPool *pool, Slot *slot, gboolean busy)
{
	g_mutex_lock(&pool->lock);
	slot->busy = busy;
	g_mutex_unlock(&pool->lock);
}

static guint
slot_run(ExhPool *pool, Slot *slot, const Job *job)
{
	guint status;

	slot_set_busy(pool, slot, TRUE);
	status = job->tx(slot->conn, job->data);
	slot_set_busy(pool, slot, FALSE);
	return status;
}

static void
run_transaction(ExhPool *pool, Slot *slot, const Job *job, GError **error)
{
	guint status;

	if (!slot_begin(pool, slot, error))
		return;
	status = slot_run(pool, slot, job);
	if (status >= 200 && status < 300)
		slot_commit(slot, error);
	if (*error != NULL || status < 200 || status >= 300)
		slot_rollback(slot);
}

/*
 * A read: no BEGIN, so a connection that went bad since the last job shows
 * only in the job's own statements.  A read writes nothing, so after a reset
 * it runs once more; a failed statement ended its own transaction, so the
 * connection is clean again unless the job opened one itself (rolled back).
 */
static void
run_read(ExhPool *pool, Slot *slot, const Job *job, GError **error)
{
	for (guint attempt = 0; attempt < 2; attempt++) {
		if (!slot_ready(pool, slot))
			break;
		slot_run(pool, slot, job);
		if (PQstatus(slot->conn) == CONNECTION_OK) {
			slot_rollback(slot);
			return;
		}
	}
	set_unavailable(slot, error);
}

static void
worker(gpointer item, gpointer user_data)
{
	ExhPool *pool = user_data;
	Job *job = item;
	Slot *slot = g_async_queue_pop(pool->slots);
	g_autoptr(GError) error = NULL;

	if (job->read_only)
		run_read(pool, slot, job, &error);
	else
		run_transaction(pool, slot, job, &error);
	g_async_queue_push(pool->slots, slot);
	job->done(job->data, error);
	g_free(job);
}

ExhPool *
exh_pool_new(const gchar *conninfo, guint workers, guint max_queued, GError **error)
{
	ExhPool *pool;

	g_return_val_if_fail(workers > 0, NULL);
	pool = g_new0(ExhPool, 1);
	pool->conninfo = g_strdup(conninfo);
	pool->max_queued = max_queued;
	pool->slots = g_async_queue_new();
	pool->n_slots = workers;
	pool->all = g_ptr_array_new();
	g_mutex_init(&pool->lock);
	for (guint i = 0; i < workers; i++) {
		Slot *slot = g_new0(Slot, 1);

		g_ptr_array_add(pool->all, slot);
		g_async_queue_push(pool->slots, slot);
	}
	/* exclusive: the threads are ours alone and exit at free */
	pool->threads = g_thread_pool_new(worker, pool, (gint)workers, TRUE, error);
	if (pool->threads == NULL) {
		exh_pool_free(pool);
		return NULL;
	}
	return pool;
}

static gboolean
pool_push(ExhPool *pool,
	  ExhPoolTxFunc tx,
	  ExhPoolDoneFunc done,
	  gpointer data,
	  gboolean read_only,
	  GError **error)
{
	Job *job;

	if (g_thread_pool_unprocessed(pool->threads) >= pool->max_queued) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_UNAVAILABLE,
				    "The server is busy, try again later.");
		return FALSE;
	}
	job = g_new0(Job, 1);
	job->tx = tx;
	job->done = done;
	job->data = data;
	job->read_only = read_only;
	return g_thread_pool_push(pool->threads, job, error);
}

gboolean
exh_pool_push(ExhPool *pool, ExhPoolTxFunc tx, ExhPoolDoneFunc done, gpointer data, GError **error)
{
	return pool_push(pool, tx, done, data, FALSE, error);
}

gboolean
exh_pool_push_read(ExhPool *pool,
		   ExhPoolTxFunc tx,
		   ExhPoolDoneFunc done,
		   gpointer data,
		   GError **error)
{
	return pool_push(pool, tx, done, data, TRUE, error);
}

void
exh_pool_cancel(ExhPool *pool)
{
	g_mutex_lock(&pool->lock);
	for (guint i = 0; i < pool->all->len; i++) {
		Slot *slot = pool->all->pdata[i];
		gchar why[256];

		if (slot->busy && slot->cancel != NULL && !PQcancel(slot->cancel, why, sizeof(why)))
			exh_log(G_LOG_LEVEL_MESSAGE, NULL, "cancelling a statement: %s", why);
	}
	g_mutex_unlock(&pool->lock);
}

void
exh_pool_get_usage(ExhPool *pool, guint *out_size, guint *out_busy, guint *out_queued)
{
	guint busy = 0;

	g_mutex_lock(&pool->lock);
	for (guint i = 0; i < pool->all->len; i++)
		busy += ((Slot *)pool->all->pdata[i])->busy ? 1 : 0;
	g_mutex_unlock(&pool->lock);
	*out_size = pool->n_slots;
	*out_busy = busy;
	*out_queued = g_thread_pool_unprocessed(pool->threads);
}

gboolean
exh_pool_has_backend(ExhPool *pool, gint pid)
{
	gboolean found = FALSE;

	g_mutex_lock(&pool->lock);
	for (guint i = 0; i < pool->all->len && !found; i++) {
		const Slot *slot = pool->all->pdata[i];

		found = slot->pid != 0 && slot->pid == pid;
	}
	g_mutex_unlock(&pool->lock);
	return found;
}

guint64
exh_pool_get_reconnects(ExhPool *pool)
{
	return (guint64)g_atomic_int_get(&pool->reconnects);
}

void
exh_pool_free(ExhPool *pool)
{
	if (pool == NULL)
		return;
	/* not immediate: every queued job still runs, then the threads exit */
	if (pool->threads != NULL)
		g_thread_pool_free(pool->threads, FALSE, TRUE);
	/* the threads are gone: every slot is back in its queue */
	for (guint i = 0; i < pool->all->len; i++) {
		Slot *slot = pool->all->pdata[i];

		g_clear_pointer(&slot->cancel, PQfreeCancel);
		g_clear_pointer(&slot->conn, PQfinish);
		g_free(slot);
	}
	g_ptr_array_unref(pool->all);
	g_mutex_clear(&pool->lock);
	g_async_queue_unref(pool->slots);
	g_free(pool->conninfo);
	g_free(pool);
}
