/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-migrate.h"

#include "exh-host.h"
#include "exh-log.h"
#include "exm-cleanup.h"

#include <string.h>

/* Serialises migration runs of every host sharing the database. */
#define LOCK_SQL "SELECT pg_advisory_xact_lock(4851573294372950387)"
#define TABLE_SQL                                                                                  \
	"CREATE TABLE IF NOT EXISTS ra_migrations ("                                               \
	"uuid CHAR(36) NOT NULL PRIMARY KEY, applied BOOLEAN NOT NULL)"

static gchar *
pg_message(PGconn *conn, PGresult *res)
{
	const gchar *msg = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn);

	return g_strstrip(g_strdup(msg != NULL && *msg != '\0' ? msg : "unknown error"));
}

/* One statement through PQexecParams; values only as parameters. */
static PGresult *
exec_params(PGconn *conn, const gchar *sql, gint n, const gchar *const *values, GError **error)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, values, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	{
		g_autofree gchar *msg = pg_message(conn, res);
		g_set_error(error, EXH_ERROR, EXH_ERROR_DB, "%s", msg);
	}
	PQclear(res);
	return NULL;
}

static gboolean
exec_ok(PGconn *conn, const gchar *sql, gint n, const gchar *const *values, GError **error)
{
	g_autoptr(PGresult) res = exec_params(conn, sql, n, values, error);

	return res != NULL;
}

/* Migration SQL is trusted, constant and may hold several statements. */
static gboolean
exec_script(PGconn *conn, const gchar *sql, GError **error)
{
	g_autoptr(PGresult) res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	g_autofree gchar *msg = NULL;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY)
		return TRUE;
	msg = pg_message(conn, res);
	g_set_error(error, EXH_ERROR, EXH_ERROR_MIGRATION, "%s", msg);
	return FALSE;
}

static void
rollback_quietly(PGconn *conn)
{
	g_autoptr(PGresult) res = PQexec(conn, "ROLLBACK");
}

/* BEGIN, the advisory lock and the tracking table. */
static gboolean
begin_locked(PGconn *conn, GError **error)
{
	if (!exec_ok(conn, "BEGIN", 0, NULL, error))
		return FALSE;
	if (!exec_ok(conn, LOCK_SQL, 0, NULL, error) || !exec_ok(conn, TABLE_SQL, 0, NULL, error)) {
		rollback_quietly(conn);
		return FALSE;
	}
	return TRUE;
}

typedef struct {
	GHashTable *by_uuid; /* uuid → ExhMigration* */
	GHashTable *state;   /* uuid → 1 visiting, 2 done (ordering) */
	GPtrArray *order;    /* ExhMigration*, dependencies first */
} Graph;

static void
graph_clear(Graph *g)
{
	g_clear_pointer(&g->by_uuid, g_hash_table_unref);
	g_clear_pointer(&g->state, g_hash_table_unref);
	g_clear_pointer(&g->order, g_ptr_array_unref);
}

// NOLINTBEGIN(misc-no-recursion): the graph of the checked-in migrations, a handful deep
static gboolean
graph_visit(Graph *g, const ExhMigration *m, GError **error)
{
	guint st = GPOINTER_TO_UINT(g_hash_table_lookup(g->state, m->uuid));

	if (st == 2)
		return TRUE;
	if (st == 1) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_MIGRATION,
			    "migration %s (%s) is part of a dependency cycle",
			    m->name,
			    m->uuid);
		return FALSE;
	}
	g_hash_table_insert(g->state, (gpointer)m->uuid, GUINT_TO_POINTER(1));
	for (guint i = 0; m->depends[i] != NULL; i++) {
		const ExhMigration *dep = g_hash_table_lookup(g->by_uuid, m->depends[i]);

		if (dep == NULL) {
			g_set_error(error,
				    EXH_ERROR,
				    EXH_ERROR_MIGRATION,
				    "migration %s (%s) depends on unknown migration %s",
				    m->name,
				    m->uuid,
				    m->depends[i]);
			return FALSE;
		}
		if (!graph_visit(g, dep, error))
			return FALSE;
	}
	g_hash_table_insert(g->state, (gpointer)m->uuid, GUINT_TO_POINTER(2));
	g_ptr_array_add(g->order, (gpointer)m);
	return TRUE;
}
// NOLINTEND(misc-no-recursion)

static gboolean
graph_build(Graph *g, GPtrArray *migrations, GError **error)
{
	g->by_uuid = g_hash_table_new(g_str_hash, g_str_equal);
	g->state = g_hash_table_new(g_str_hash, g_str_equal);
	g->order = g_ptr_array_new();
	for (guint i = 0; i < migrations->len; i++) {
		const ExhMigration *m = migrations->pdata[i];

		if (!g_hash_table_insert(g->by_uuid, (gpointer)m->uuid, (gpointer)m)) {
			g_set_error(error,
				    EXH_ERROR,
				    EXH_ERROR_MIGRATION,
				    "two migrations share the uuid %s",
				    m->uuid);
			return FALSE;
		}
	}
	for (guint i = 0; i < migrations->len; i++) {
		if (!graph_visit(g, migrations->pdata[i], error))
			return FALSE;
	}
	return TRUE;
}

/* Inside the locked transaction: run @m unless it is recorded as applied. */
static gboolean
apply_in_transaction(PGconn *conn, const ExhMigration *m, gboolean *applied, GError **error)
{
	const gchar *values[] = { m->uuid };
	g_autoptr(PGresult) res = NULL;

	res = exec_params(
		conn, "SELECT applied FROM ra_migrations WHERE uuid = $1", 1, values, error);
	if (res == NULL)
		return FALSE;
	if (PQntuples(res) == 1 && g_strcmp0(PQgetvalue(res, 0, 0), "t") == 0)
		return TRUE;
	if (!exec_script(conn, m->up_sql, error))
		return FALSE;
	if (!exec_ok(conn,
		     "INSERT INTO ra_migrations (uuid, applied) VALUES ($1, true) "
		     "ON CONFLICT (uuid) DO UPDATE SET applied = true",
		     1,
		     values,
		     error))
		return FALSE;
	*applied = TRUE;
	return TRUE;
}

static gboolean
apply_one(PGconn *conn, const ExhMigration *m, gboolean *applied, GError **error)
{
	*applied = FALSE;
	if (!begin_locked(conn, error)) {
		g_prefix_error(error, "migration %s (%s) of %s: ", m->name, m->uuid, m->owner);
		return FALSE;
	}
	if (!apply_in_transaction(conn, m, applied, error) ||
	    (*applied && !exec_ok(conn, "COMMIT", 0, NULL, error))) {
		rollback_quietly(conn);
		*applied = FALSE;
		g_prefix_error(error, "migration %s (%s) of %s: ", m->name, m->uuid, m->owner);
		return FALSE;
	}
	if (!*applied) {
		rollback_quietly(conn);
		return TRUE;
	}
	exh_log(G_LOG_LEVEL_INFO,
		NULL,
		"applied migration %s (%s) of %s",
		m->name,
		m->uuid,
		m->owner);
	return TRUE;
}

gboolean
exh_migrate_apply(PGconn *conn, GPtrArray *migrations, guint *out_applied, GError **error)
{
	Graph g = { 0 };
	guint n = 0;
	gboolean ok = TRUE;

	if (!graph_build(&g, migrations, error)) {
		graph_clear(&g);
		return FALSE;
	}
	for (guint i = 0; ok && i < g.order->len; i++) {
		gboolean applied = FALSE;

		ok = apply_one(conn, g.order->pdata[i], &applied, error);
		n += applied ? 1 : 0;
	}
	graph_clear(&g);
	if (out_applied != NULL)
		*out_applied = n;
	return ok;
}

typedef struct {
	PGconn *conn;
	GPtrArray *migrations;
	GHashTable *applied; /* uuid (owned) → TRUE */
} Revert;

static gboolean
depends_on(const ExhMigration *m, const gchar *uuid)
{
	for (guint i = 0; m->depends[i] != NULL; i++) {
		if (g_strcmp0(m->depends[i], uuid) == 0)
			return TRUE;
	}
	return FALSE;
}

// NOLINTBEGIN(misc-no-recursion): the graph of the checked-in migrations, a handful deep
static gboolean
revert_one(Revert *r, const ExhMigration *m, GError **error)
{
	const gchar *values[] = { m->uuid };

	if (!g_hash_table_contains(r->applied, m->uuid))
		return TRUE;
	/* dependents first, as restalchemy does */
	for (guint i = 0; i < r->migrations->len; i++) {
		const ExhMigration *other = r->migrations->pdata[i];

		if (depends_on(other, m->uuid) && !revert_one(r, other, error))
			return FALSE;
	}
	if (!exec_script(r->conn, m->down_sql, error) ||
	    !exec_ok(r->conn,
		     "UPDATE ra_migrations SET applied = false WHERE uuid = $1",
		     1,
		     values,
		     error)) {
		g_prefix_error(error, "rolling back migration %s (%s): ", m->name, m->uuid);
		return FALSE;
	}
	g_hash_table_remove(r->applied, m->uuid);
	exh_log(G_LOG_LEVEL_INFO,
		NULL,
		"rolled back migration %s (%s) of %s",
		m->name,
		m->uuid,
		m->owner);
	return TRUE;
}
// NOLINTEND(misc-no-recursion)

static const ExhMigration *
find_migration(GPtrArray *migrations, const gchar *uuid)
{
	for (guint i = 0; i < migrations->len; i++) {
		const ExhMigration *m = migrations->pdata[i];

		if (g_strcmp0(m->uuid, uuid) == 0)
			return m;
	}
	return NULL;
}

gboolean
exh_migrate_rollback(PGconn *conn, GPtrArray *migrations, const gchar *uuid, GError **error)
{
	const ExhMigration *target = find_migration(migrations, uuid);
	g_autoptr(GHashTable) applied =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(PGresult) res = NULL;
	Revert r = { conn, migrations, applied };

	if (target == NULL) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_MIGRATION, "unknown migration %s", uuid);
		return FALSE;
	}
	if (!begin_locked(conn, error))
		return FALSE;
	res = exec_params(conn, "SELECT uuid FROM ra_migrations WHERE applied", 0, NULL, error);
	if (res == NULL) {
		rollback_quietly(conn);
		return FALSE;
	}
	for (gint i = 0; i < PQntuples(res); i++)
		g_hash_table_add(applied, g_strdup(PQgetvalue(res, i, 0)));
	if (!revert_one(&r, target, error) || !exec_ok(conn, "COMMIT", 0, NULL, error)) {
		rollback_quietly(conn);
		return FALSE;
	}
	return TRUE;
}

gint
exh_migrate_is_applied(PGconn *conn, const gchar *uuid, GError **error)
{
	const gchar *values[] = { uuid };
	g_autoptr(PGresult) exists = NULL;
	g_autoptr(PGresult) res = NULL;

	exists = exec_params(
		conn, "SELECT to_regclass('ra_migrations') IS NOT NULL", 0, NULL, error);
	if (exists == NULL)
		return -1;
	if (g_strcmp0(PQgetvalue(exists, 0, 0), "t") != 0)
		return 0;
	res = exec_params(
		conn, "SELECT applied FROM ra_migrations WHERE uuid = $1", 1, values, error);
	if (res == NULL)
		return -1;
	return PQntuples(res) == 1 && g_strcmp0(PQgetvalue(res, 0, 0), "t") == 0 ? 1 : 0;
}
