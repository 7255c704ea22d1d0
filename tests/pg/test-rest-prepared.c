/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Statements prepared per connection (common/rest/exm-rest-prepared.c) on
 * the throwaway PostgreSQL: a text is prepared on its second execution and
 * answers as the unnamed one did; the cache follows the server's session
 * (reset, DEALLOCATE, a changed column type, a rolled-back or aborted
 * transaction), each checked against the server's pg_prepared_statements;
 * its bounds hold; EXM_REST_PREPARE=0 turns it off.
 */
#include "exm-error.h"
#include "exm-rest-prepared.h"
#include "exm-rest-store.h"
#include "exm-test-pg.h"
#include "exm-test.h"

#include <stdlib.h>

static const gchar add_one[] = "SELECT $1::int + 1";

/* A connection to a fresh database, NULL when PostgreSQL is missing. */
static PGconn *
connect_fresh(void)
{
	ExmTestPg *pg = exm_test_pg_get();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *db = NULL;
	PGconn *conn;

	if (pg == NULL)
		return NULL;
	db = exm_test_pg_create_database(pg, &error);
	g_assert_no_error(error);
	conn = PQconnectdb(db);
	g_assert_cmpint(PQstatus(conn), ==, CONNECTION_OK);
	return conn;
}

static void
run_ok(PGconn *conn, const gchar *sql)
{
	g_autoptr(PGresult) res = PQexec(conn, sql);

	g_assert_cmpint(PQresultStatus(res), ==, PGRES_COMMAND_OK);
}

/* The server's own count of the session's prepared statements (the
 * cache's count could be wrong in the same way as the cache). */
static guint
server_prepared(PGconn *conn)
{
	g_autoptr(PGresult) res = PQexec(conn, "SELECT count(*) FROM pg_prepared_statements");

	g_assert_cmpint(PQresultStatus(res), ==, PGRES_TUPLES_OK);
	return (guint)atoi(PQgetvalue(res, 0, 0));
}

/* What the cache counts and what the server holds, both (a macro: a failure
 * names the test's line). */
#define assert_prepared(conn, cache, server)                                                       \
	G_STMT_START                                                                               \
	{                                                                                          \
		g_assert_cmpuint(exm_rest_prepared_count(conn), ==, (cache));                      \
		g_assert_cmpuint(server_prepared(conn), ==, (server));                             \
	}                                                                                          \
	G_STMT_END

/* @sql with one value, @value; its one-column answer, or NULL with the
 * result's SQLSTATE in @state. */
static gchar *
run_one(PGconn *conn, const gchar *sql, const gchar *value, gchar **state)
{
	const gchar *values[] = { value };
	g_autoptr(PGresult) res = exm_rest_prepared_exec(conn, sql, 1, values);

	if (state != NULL)
		*state = NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		g_assert_nonnull(state);
		*state = g_strdup(PQresultErrorField(res, PG_DIAG_SQLSTATE));
		return NULL;
	}
	g_assert_cmpint(PQntuples(res), ==, 1);
	return PQgetisnull(res, 0, 0) ? g_strdup("(null)") : g_strdup(PQgetvalue(res, 0, 0));
}

static void
assert_one(PGconn *conn, const gchar *sql, const gchar *value, const gchar *expect)
{
	g_autofree gchar *got = run_one(conn, sql, value, NULL);

	g_assert_cmpstr(got, ==, expect);
}

/* Unnamed the first time, prepared the second, the same answers, NULL
 * values too; a statement prepared in a transaction outlives its rollback. */
static void
test_prepared_second_use(void)
{
	g_autoptr(PGconn) conn = connect_fresh();

	if (conn == NULL)
		return;
	assert_one(conn, add_one, "41", "42");
	assert_prepared(conn, 0, 0);
	assert_one(conn, add_one, "1", "2");
	assert_prepared(conn, 1, 1);
	assert_one(conn, add_one, NULL, "(null)");
	g_assert_cmpuint(server_prepared(conn), ==, 1);

	run_ok(conn, "BEGIN");
	assert_one(conn, "SELECT $1::text || 'b'", "a", "ab");
	assert_one(conn, "SELECT $1::text || 'b'", "c", "cb");
	run_ok(conn, "ROLLBACK");
	g_assert_cmpuint(server_prepared(conn), ==, 2);
	assert_one(conn, "SELECT $1::text || 'b'", "d", "db");
	g_assert_cmpuint(exm_rest_prepared_count(conn), ==, 2);
}

/* An aborted transaction refuses the PREPARE: the error is the answer,
 * nothing is remembered as prepared, and the next use prepares. */
static void
test_prepared_aborted(void)
{
	g_autoptr(PGconn) conn = connect_fresh();
	g_autofree gchar *state = NULL;
	g_autofree gchar *got = NULL;

	if (conn == NULL)
		return;
	assert_one(conn, add_one, "1", "2");
	run_ok(conn, "BEGIN");
	g_assert_null(run_one(conn, "SELECT 1/$1::int", "0", &state));
	g_assert_cmpstr(state, ==, "22012");
	g_clear_pointer(&state, g_free);
	got = run_one(conn, add_one, "1", &state);
	g_assert_null(got);
	g_assert_cmpstr(state, ==, "25P02");
	g_assert_cmpuint(exm_rest_prepared_count(conn), ==, 0);
	run_ok(conn, "ROLLBACK");
	assert_one(conn, add_one, "2", "3");
	assert_prepared(conn, 1, 1);
}

/* A reset is a new session: the cache forgets, and prepares again. */
static void
test_prepared_reset(void)
{
	g_autoptr(PGconn) conn = connect_fresh();

	if (conn == NULL)
		return;
	assert_one(conn, add_one, "1", "2");
	assert_one(conn, add_one, "2", "3");
	g_assert_cmpuint(exm_rest_prepared_count(conn), ==, 1);
	PQreset(conn);
	g_assert_cmpint(PQstatus(conn), ==, CONNECTION_OK);
	assert_prepared(conn, 0, 0);
	assert_one(conn, add_one, "3", "4");
	assert_one(conn, add_one, "4", "5");
	assert_prepared(conn, 1, 1);
}

/* Statements dropped behind the cache's back (DEALLOCATE ALL): the cache
 * forgets them all; outside a transaction the statement answers anyway (run
 * again unnamed), inside one the error is the answer; later executions
 * prepare again. */
static void
test_prepared_deallocated(void)
{
	g_autoptr(PGconn) conn = connect_fresh();
	g_autofree gchar *state = NULL;

	if (conn == NULL)
		return;
	assert_one(conn, add_one, "1", "2");
	assert_one(conn, add_one, "1", "2");
	run_ok(conn, "DEALLOCATE ALL");
	assert_one(conn, add_one, "4", "5");
	g_assert_cmpuint(exm_rest_prepared_count(conn), ==, 0);
	assert_one(conn, add_one, "5", "6");
	assert_one(conn, add_one, "6", "7");
	assert_prepared(conn, 1, 1);

	run_ok(conn, "DEALLOCATE ALL");
	run_ok(conn, "BEGIN");
	g_assert_null(run_one(conn, add_one, "1", &state));
	g_assert_cmpstr(state, ==, "26000");
	run_ok(conn, "ROLLBACK");
	g_assert_cmpuint(exm_rest_prepared_count(conn), ==, 0);
	assert_one(conn, add_one, "6", "7");
	assert_one(conn, add_one, "7", "8");
	g_assert_cmpuint(server_prepared(conn), ==, 1);
}

/* A statement whose result type changed under it (a column's type altered):
 * that one is forgotten, the others kept; outside a transaction it answers
 * anyway and is dropped on the server, inside one the error is the answer
 * and the old statement stays there unused. */
static void
test_prepared_altered(void)
{
	g_autoptr(PGconn) conn = connect_fresh();
	static const gchar by_a[] = "SELECT a FROM t WHERE a = $1::int";
	g_autofree gchar *state = NULL;

	if (conn == NULL)
		return;
	run_ok(conn, "CREATE TABLE t (a int)");
	run_ok(conn, "INSERT INTO t VALUES (7)");
	for (guint i = 0; i < 2; i++) {
		assert_one(conn, add_one, "1", "2");
		assert_one(conn, by_a, "7", "7");
	}
	g_assert_cmpuint(exm_rest_prepared_count(conn), ==, 2);
	run_ok(conn, "ALTER TABLE t ALTER a TYPE bigint");
	assert_one(conn, by_a, "7", "7");
	assert_prepared(conn, 1, 1);
	assert_one(conn, by_a, "7", "7");
	assert_one(conn, by_a, "7", "7");
	assert_prepared(conn, 2, 2);

	run_ok(conn, "ALTER TABLE t ALTER a TYPE int");
	run_ok(conn, "BEGIN");
	g_assert_null(run_one(conn, by_a, "7", &state));
	g_assert_cmpstr(state, ==, "0A000");
	run_ok(conn, "ROLLBACK");
	g_assert_cmpuint(exm_rest_prepared_count(conn), ==, 1);
	assert_one(conn, add_one, "1", "2");
	assert_one(conn, by_a, "7", "7");
	assert_one(conn, by_a, "7", "7");
	assert_prepared(conn, 2, 3);
}

/* More repeated texts than may be prepared: EXM_REST_PREPARED_MAX
 * prepared, the rest unnamed, every answer right. */
static void
test_prepared_bounds(void)
{
	g_autoptr(PGconn) conn = connect_fresh();

	if (conn == NULL)
		return;
	for (guint round = 0; round < 2; round++) {
		for (guint i = 0; i < EXM_REST_PREPARED_MAX + 36; i++) {
			g_autofree gchar *sql = g_strdup_printf("SELECT $1::int + %u", i);
			g_autofree gchar *expect = g_strdup_printf("%u", i + 10);

			assert_one(conn, sql, "10", expect);
		}
	}
	assert_prepared(conn, EXM_REST_PREPARED_MAX, EXM_REST_PREPARED_MAX);
}

/* More one-off texts than the table remembers, then a text that repeats:
 * the full table forgot the one-offs, so the repeated one is prepared. */
static void
test_prepared_one_offs(void)
{
	g_autoptr(PGconn) conn = connect_fresh();

	if (conn == NULL)
		return;
	for (guint i = 0; i < EXM_REST_PREPARED_SEEN + 20; i++) {
		g_autofree gchar *sql = g_strdup_printf("SELECT $1::int - %u", i);
		g_autofree gchar *expect = g_strdup_printf("%d", 1000 - (gint)i);

		assert_one(conn, sql, "1000", expect);
	}
	g_assert_cmpuint(exm_rest_prepared_count(conn), ==, 0);
	assert_one(conn, add_one, "1", "2");
	assert_one(conn, add_one, "2", "3");
	assert_prepared(conn, 1, 1);
}

/* Through the store: the same rows as before, prepared from the second
 * time, and a stale statement in a transaction is the store's 500, not a
 * crash. */
static void
test_prepared_store(void)
{
	g_autoptr(PGconn) conn = connect_fresh();
	static const ExmRestModel model = { .name = "Thing" };
	ExmRestStore store = { NULL, NULL, NULL };
	g_autoptr(GPtrArray) params = g_ptr_array_new();
	g_autoptr(GError) error = NULL;

	if (conn == NULL)
		return;
	store.db = conn;
	run_ok(conn, "SET DateStyle = ISO");
	g_ptr_array_add(params, (gpointer) "20");
	for (guint i = 0; i < 3; i++) {
		g_autoptr(PGresult) res =
			exm_rest_store_exec(&store, &model, add_one, params, &error);

		g_assert_no_error(error);
		g_assert_cmpstr(PQgetvalue(res, 0, 0), ==, "21");
	}
	g_assert_cmpuint(exm_rest_prepared_count(conn), ==, 1);
	run_ok(conn, "DEALLOCATE ALL");
	run_ok(conn, "BEGIN");
	g_assert_null(exm_rest_store_exec(&store, &model, add_one, params, &error));
	g_assert_error(error, EXM_ERROR, EXM_ERROR_FAILED);
	run_ok(conn, "ROLLBACK");
}

/* EXM_REST_PREPARE=0: every statement unnamed (in a process of its own,
 * as the setting is read once). */
static void
test_prepared_off(void)
{
	if (g_test_subprocess()) {
		g_autoptr(PGconn) conn = connect_fresh();

		for (guint i = 0; conn != NULL && i < 3; i++)
			assert_one(conn, add_one, "1", "2");
		if (conn != NULL) {
			assert_prepared(conn, 0, 0);
		}
		return;
	}
	g_setenv("EXM_REST_PREPARE", "0", TRUE);
	g_test_trap_subprocess(NULL, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
	g_unsetenv("EXM_REST_PREPARE");
	g_test_trap_assert_passed();
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/rest/prepared/second-use", test_prepared_second_use);
	g_test_add_func("/rest/prepared/aborted", test_prepared_aborted);
	g_test_add_func("/rest/prepared/reset", test_prepared_reset);
	g_test_add_func("/rest/prepared/deallocated", test_prepared_deallocated);
	g_test_add_func("/rest/prepared/altered", test_prepared_altered);
	g_test_add_func("/rest/prepared/bounds", test_prepared_bounds);
	g_test_add_func("/rest/prepared/one-offs", test_prepared_one_offs);
	g_test_add_func("/rest/prepared/store", test_prepared_store);
	g_test_add_func("/rest/prepared/off", test_prepared_off);
	return g_test_run();
}
