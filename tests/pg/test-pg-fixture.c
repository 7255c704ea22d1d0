/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The throwaway PostgreSQL fixture itself: start, fresh databases, restart,
 * and clean-up of the directory and the server.
 */
#include "exm-test-pg.h"
#include "exm-test.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

/* Alive and not a zombie (PID 1 here need not reap orphans). */
static gboolean
process_alive(GPid pid)
{
	g_autofree gchar *path = g_strdup_printf("/proc/%d/stat", (gint)pid);
	g_autofree gchar *stat = NULL;
	const gchar *p;

	if (kill(pid, 0) != 0 || !g_file_get_contents(path, &stat, NULL, NULL))
		return FALSE;
	p = strrchr(stat, ')');
	return p == NULL || p[1] == '\0' || p[2] != 'Z';
}

static void
test_fixture_databases(void)
{
	ExmTestPg *pg = exm_test_pg_get();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *db1 = NULL;
	g_autofree gchar *db2 = NULL;
	g_autofree gchar *v = NULL;
	g_autofree gchar *listen = NULL;

	if (pg == NULL)
		return;
	db1 = exm_test_pg_create_database(pg, &error);
	g_assert_no_error(error);
	db2 = exm_test_pg_create_database(pg, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(db1, !=, db2);

	/* a table in one database is invisible in the other */
	v = exm_test_pg_exec(db1, "CREATE TABLE t (x int)", &error);
	g_assert_no_error(error);
	g_clear_pointer(&v, g_free);
	v = exm_test_pg_exec(db2, "SELECT count(*) FROM t", &error);
	g_assert_error(error, EXM_TEST_PG_ERROR, EXM_TEST_PG_ERROR_FAILED);
	g_assert_null(v);
	g_clear_error(&error);

	/* Unix socket only: no TCP listener at all */
	listen = exm_test_pg_exec(db1, "SHOW listen_addresses", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(listen, ==, "");
	g_clear_pointer(&v, g_free);
	v = exm_test_pg_exec(
		db1, "SELECT current_setting('server_version_num')::int >= 150000", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(v, ==, "t");
}

static void
test_fixture_restart(void)
{
	ExmTestPg *pg = exm_test_pg_get();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *db = NULL;
	g_autofree gchar *v = NULL;
	PGconn *conn;
	GPid old;

	if (pg == NULL)
		return;
	db = exm_test_pg_create_database(pg, &error);
	g_assert_no_error(error);
	v = exm_test_pg_exec(db, "CREATE TABLE kept (x int)", &error);
	g_assert_no_error(error);
	g_clear_pointer(&v, g_free);
	v = exm_test_pg_exec(db, "INSERT INTO kept VALUES (7)", &error);
	g_assert_no_error(error);
	if (error != NULL)
		return;

	conn = PQconnectdb(db);
	g_assert_cmpint(PQstatus(conn), ==, CONNECTION_OK);
	old = exm_test_pg_get_pid(pg);
	g_assert_true(exm_test_pg_stop(pg, &error));
	g_assert_no_error(error);
	g_assert_cmpint(exm_test_pg_get_pid(pg), ==, 0);
	g_assert_cmpint(kill(old, 0), !=, 0);
	g_assert_cmpint(PQping(db), ==, PQPING_NO_RESPONSE);

	g_assert_true(exm_test_pg_start(pg, &error));
	g_assert_no_error(error);
	g_assert_cmpint(exm_test_pg_get_pid(pg), !=, 0);
	/* the old connection is dead; a reset brings it back, data survived */
	PQreset(conn);
	g_assert_cmpint(PQstatus(conn), ==, CONNECTION_OK);
	PQfinish(conn);
	g_clear_pointer(&v, g_free);
	v = exm_test_pg_exec(db, "SELECT x FROM kept", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(v, ==, "7");
}

static void
test_fixture_private_cleanup(void)
{
	g_autoptr(GError) error = NULL;
	ExmTestPg *pg = exm_test_pg_new(&error);
	g_autofree gchar *dir = NULL;
	GPid pid;

	if (g_error_matches(error, EXM_TEST_PG_ERROR, EXM_TEST_PG_ERROR_MISSING)) {
		exm_test_peer_missing("%s", error->message);
		return;
	}
	g_assert_no_error(error);
	g_assert_nonnull(pg);
	dir = g_strdup(exm_test_pg_get_socket_dir(pg));
	pid = exm_test_pg_get_pid(pg);
	g_assert_true(g_file_test(dir, G_FILE_TEST_IS_DIR));
	exm_test_pg_free(pg);
	g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
	g_assert_cmpint(kill(pid, 0), !=, 0);
}

/*
 * A test process that dies without any clean-up (SIGKILL) must still not leave
 * a server or a directory behind: the watchdog does it.
 */
static void
test_fixture_watchdog(void)
{
	if (g_test_subprocess()) {
		g_autoptr(GError) error = NULL;
		ExmTestPg *pg = exm_test_pg_new(&error);

		if (pg == NULL) {
			g_printerr("%s\n", error->message);
			return;
		}
		{
			g_autofree gchar *line = g_strdup_printf("%s %d",
								 exm_test_pg_get_socket_dir(pg),
								 (gint)exm_test_pg_get_pid(pg));
			g_file_set_contents(g_getenv("EXM_TEST_PG_WATCHDOG_OUT"), line, -1, NULL);
		}
		kill(getpid(), SIGKILL);
		return;
	}
	{
		g_autoptr(GError) error = NULL;
		g_auto(GStrv) parts = NULL;
		g_autofree gchar *outdir = NULL;
		g_autofree gchar *outfile = NULL;
		g_autofree gchar *out = NULL;
		gint64 deadline;
		GPid pid;

		/* skip like the others when PostgreSQL is missing */
		g_autoptr(ExmTestPg) probe = exm_test_pg_new(&error);
		if (g_error_matches(error, EXM_TEST_PG_ERROR, EXM_TEST_PG_ERROR_MISSING)) {
			exm_test_peer_missing("%s", error->message);
			return;
		}
		g_clear_pointer(&probe, exm_test_pg_free);

		outdir = exm_test_mkdtemp("exm-pg-wd");
		outfile = g_build_filename(outdir, "out", NULL);
		g_setenv("EXM_TEST_PG_WATCHDOG_OUT", outfile, TRUE);
		g_test_trap_subprocess(NULL, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
		g_test_trap_assert_failed();
		out = exm_test_read_file(outfile);
		exm_test_rmtree(outdir);
		g_assert_nonnull(out);
		if (out == NULL)
			return;
		parts = g_strsplit(g_strstrip(out), " ", 2);
		g_assert_cmpuint(g_strv_length(parts), ==, 2);
		pid = (GPid)g_ascii_strtoll(parts[1], NULL, 10);
		g_assert_cmpint(pid, >, 0);
		deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
		while (g_file_test(parts[0], G_FILE_TEST_EXISTS) &&
		       g_get_monotonic_time() < deadline)
			g_usleep(50 * 1000);
		g_assert_false(g_file_test(parts[0], G_FILE_TEST_EXISTS));
		while (process_alive(pid) && g_get_monotonic_time() < deadline)
			g_usleep(50 * 1000);
		g_assert_false(process_alive(pid));
	}
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/pg/fixture/databases", test_fixture_databases);
	g_test_add_func("/pg/fixture/restart", test_fixture_restart);
	g_test_add_func("/pg/fixture/private-cleanup", test_fixture_private_cleanup);
	g_test_add_func("/pg/fixture/watchdog", test_fixture_watchdog);
	return g_test_run();
}
