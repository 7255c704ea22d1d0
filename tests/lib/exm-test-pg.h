/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A throwaway PostgreSQL cluster for the `pg` and `http` suites.
 *
 * The cluster lives in a fresh directory under /tmp owned by `postgres`; the
 * server runs as `postgres` (initdb refuses root), listens on a Unix socket in
 * that directory only (no TCP at all), with fsync off.  A small watchdog
 * process, fed by a pipe that only this process holds, stops the server and
 * removes the directory when the test process goes away for any reason
 * (normal exit, failed assertion, crash, SIGKILL by the test harness), so no
 * postgres outlives its test binary.
 */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

#define EXM_TEST_PG_ERROR (exm_test_pg_error_quark())
GQuark exm_test_pg_error_quark(void);

/**
 * ExmTestPgError:
 * @EXM_TEST_PG_ERROR_MISSING: PostgreSQL (or a way to run it as `postgres`) is not
 *   installed; callers report it with exm_test_peer_missing()
 * @EXM_TEST_PG_ERROR_FAILED: initdb, the server or a query failed
 */
typedef enum {
	EXM_TEST_PG_ERROR_MISSING,
	EXM_TEST_PG_ERROR_FAILED,
} ExmTestPgError;

typedef struct _ExmTestPg ExmTestPg;

/**
 * exm_test_pg_new:
 * @error: return location for a #GError
 *
 * Creates and starts a private cluster (initdb + postgres, ready for
 * connections).  Takes a second or two.
 *
 * Returns: (transfer full): the cluster, or %NULL with @error set
 *   (%EXM_TEST_PG_ERROR_MISSING when PostgreSQL is not installed)
 */
ExmTestPg *exm_test_pg_new(GError **error);

/**
 * exm_test_pg_free:
 * @pg: (nullable): a cluster
 *
 * Stops the server (immediate mode) and removes its directory.
 */
void exm_test_pg_free(ExmTestPg *pg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmTestPg, exm_test_pg_free)

/**
 * exm_test_pg_get:
 *
 * The cluster shared by every test of this binary, started on first use and
 * stopped at exit.  When PostgreSQL is missing the current test is marked
 * with exm_test_peer_missing(); on another failure it is marked failed.
 * Either way %NULL is returned and the caller returns at once.
 *
 * Returns: (transfer none) (nullable): the shared cluster
 */
ExmTestPg *exm_test_pg_get(void);

/* conninfo of the maintenance database `postgres` (superuser `postgres`). */
const gchar *exm_test_pg_get_conninfo(ExmTestPg *pg);

/* The directory holding the Unix socket (libpq `host=`). */
const gchar *exm_test_pg_get_socket_dir(ExmTestPg *pg);

/* The postmaster's pid, or 0 while stopped. */
GPid exm_test_pg_get_pid(ExmTestPg *pg);

/**
 * exm_test_pg_create_database:
 * @pg: a running cluster
 * @error: return location for a #GError
 *
 * Creates a new, empty database with a unique name, so every test starts
 * from a clean schema.
 *
 * Returns: (transfer full): its conninfo, or %NULL with @error set
 */
gchar *exm_test_pg_create_database(ExmTestPg *pg, GError **error);

/**
 * exm_test_pg_stop:
 * @pg: a cluster
 * @error: return location for a #GError
 *
 * Stops the server in fast mode (connections are terminated) and waits until
 * it has exited; the data stays.  A no-op when already stopped.
 *
 * Returns: %TRUE on success
 */
gboolean exm_test_pg_stop(ExmTestPg *pg, GError **error);

/**
 * exm_test_pg_start:
 * @pg: a stopped cluster
 * @error: return location for a #GError
 *
 * Starts the server again on the same socket and waits until it accepts
 * connections.  A no-op when already running.
 *
 * Returns: %TRUE on success
 */
gboolean exm_test_pg_start(ExmTestPg *pg, GError **error);

/**
 * exm_test_pg_exec:
 * @conninfo: where to connect
 * @sql: one statement without parameters (test code only)
 * @error: return location for a #GError
 *
 * Runs @sql on a fresh connection and returns the first column of the first
 * row (or "" when the statement returns no rows).
 *
 * Returns: (transfer full): the value, or %NULL with @error set
 */
gchar *exm_test_pg_exec(const gchar *conninfo, const gchar *sql, GError **error);
