/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The bounded worker pool: N threads, one PostgreSQL connection each, one
 * transaction per job (COMMIT when the job answers 2xx, else ROLLBACK), or
 * none for a read (exh_pool_push_read()).  The connections' sessions are
 * read-only by default (`default_transaction_read_only`): a job's transaction
 * is `BEGIN READ WRITE`, and a read's statements, each its own transaction,
 * cannot write.  A broken connection (PostgreSQL restarted) is reset before
 * the next job; when the database stays unreachable the job fails with 503
 * instead of running.
 */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

/**
 * ExhPoolTxFunc:
 * @conn: a connection inside a transaction the pool opened; for a read, a
 *   connection outside any transaction whose statements cannot write
 * @data: the job
 *
 * Runs on a worker thread; a read may run twice (its connection broke during
 * the first run and was reset), so it sets its results afresh each time.
 *
 * Returns: the job's HTTP status; 2xx commits, anything else rolls back
 *   (ignored for a read)
 */
typedef guint (*ExhPoolTxFunc)(PGconn *conn, gpointer data);

/**
 * ExhPoolDoneFunc:
 * @data: the job
 * @error: (nullable): %NULL when the transaction ran and was committed or rolled
 *   back as asked; else why the job's result must not be used (503
 *   %EXM_ERROR_UNAVAILABLE when the database is unreachable, 500 when COMMIT
 *   failed)
 *
 * Runs on the worker thread after the transaction ended, exactly once per
 * pushed job.
 */
typedef void (*ExhPoolDoneFunc)(gpointer data, const GError *error);

typedef struct _ExhPool ExhPool;

/**
 * exh_pool_new:
 * @conninfo: libpq conninfo
 * @workers: threads = connections (≥ 1)
 * @max_queued: jobs allowed to wait for a worker before pushes fail with 503
 * @error: return location for a #GError
 *
 * Connections open lazily, on a worker's first job.
 *
 * Returns: (transfer full): the pool, or %NULL with @error set
 */
ExhPool *exh_pool_new(const gchar *conninfo, guint workers, guint max_queued, GError **error);

/**
 * exh_pool_push:
 * @pool: a pool
 * @tx: what to run in the transaction
 * @done: what to run afterwards
 * @data: the job
 * @error: 503 %EXM_ERROR_UNAVAILABLE when the queue is full
 *
 * Returns: %TRUE when queued (@done will run), %FALSE with @error set
 */
gboolean exh_pool_push(ExhPool *pool,
		       ExhPoolTxFunc tx,
		       ExhPoolDoneFunc done,
		       gpointer data,
		       GError **error);

/**
 * exh_pool_push_read:
 * @pool: a pool
 * @tx: what to run, outside a transaction: each statement commits by itself
 *   and cannot write (a write fails with SQLSTATE 25006)
 * @done: what to run afterwards
 * @data: the job
 * @error: 503 %EXM_ERROR_UNAVAILABLE when the queue is full
 *
 * exh_pool_push() for a job that only reads: no `BEGIN` and `COMMIT`, two
 * round trips fewer.  A transaction the job opened anyway is rolled back.
 *
 * Returns: %TRUE when queued (@done will run), %FALSE with @error set
 */
gboolean exh_pool_push_read(ExhPool *pool,
			    ExhPoolTxFunc tx,
			    ExhPoolDoneFunc done,
			    gpointer data,
			    GError **error);

/**
 * exh_pool_cancel:
 * @pool: a pool
 *
 * Asks PostgreSQL to cancel the statements the jobs are running now (their
 * transactions then roll back).  For a shutdown that cannot wait any longer.
 * Thread-safe.
 */
void exh_pool_cancel(ExhPool *pool);

/**
 * exh_pool_connect:
 * @conninfo: libpq connection string
 * @error: %EXH_ERROR_DB when the database is unreachable
 *
 * A connection of the host outside the pool's slots (migrations, the ua
 * tables, the types, the engine, the periodic jobs, the core-agent), in the
 * session every connection the host hands a plugin has: UTC and the ISO
 * DateStyle (docs/plugin-abi.md).
 *
 * Returns: (transfer full): a usable connection, or %NULL
 */
PGconn *exh_pool_connect(const gchar *conninfo, GError **error);

/* Database reconnections so far. */
guint64 exh_pool_get_reconnects(ExhPool *pool);

/* TRUE when PostgreSQL backend @pid serves one of the pool's connections
 * (a NOTIFY it sent is this pool's own write).  Thread-safe. */
gboolean exh_pool_has_backend(ExhPool *pool, gint pid);

/* Connections in all, those running a job now, and jobs waiting for one. */
void exh_pool_get_usage(ExhPool *pool, guint *out_size, guint *out_busy, guint *out_queued);

/* Waits for every queued job, joins the workers and closes the connections. */
void exh_pool_free(ExhPool *pool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhPool, exh_pool_free)
