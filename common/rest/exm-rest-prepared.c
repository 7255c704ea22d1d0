/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Statements prepared per connection (see exm-rest-prepared.h).
 *
 * The cache is the connection's: libpq's event system holds it as the
 * connection's instance data, tells us when a reset replaced the server's
 * session (its statements gone) and frees it with the connection.  A
 * connection is used by one thread at a time (the host's pool lends it to
 * one request, the engine's threads own theirs), and the events fire in the
 * thread that resets or closes it, so the cache needs no lock.  The code
 * that registers the event procedure must stay loaded while the connection
 * lives: the host closes every connection before it unloads a plugin
 * (docs/plugin-abi.md §7).
 */
#include "exm-rest-prepared.h"

#include "exm-cleanup.h"

#include <libpq-events.h>

typedef struct {
	GHashTable *texts; /* SQL text (owned) -> its statement's name, NULL until prepared */
	guint prepared;
	guint64 serial; /* a session never sees a name twice */
} Statements;

static void
statements_forget(Statements *s)
{
	g_hash_table_remove_all(s->texts);
	s->prepared = 0;
}

static void
statements_free(Statements *s)
{
	if (s == NULL)
		return;
	g_hash_table_unref(s->texts);
	g_free(s);
}

static int
prepared_event(PGEventId id, void *info, void *pass_through)
{
	(void)pass_through;
	if (id == PGEVT_CONNRESET) {
		const PGEventConnReset *e = info;
		Statements *s = PQinstanceData(e->conn, prepared_event);

		if (s != NULL)
			statements_forget(s);
	} else if (id == PGEVT_CONNDESTROY) {
		const PGEventConnDestroy *e = info;

		statements_free(PQinstanceData(e->conn, prepared_event));
	}
	/* every other event (a result made, copied, freed) needs nothing */
	return 1;
}

/* EXM_REST_PREPARE=0 turns preparing off for the process: every statement
 * runs unnamed, as before (a pooler that cannot keep a session's named
 * statements; the benchmarks' comparison with the previous design). */
static gboolean
prepared_enabled(void)
{
	static gsize enabled;

	if (g_once_init_enter(&enabled)) {
		gsize on = g_strcmp0(g_getenv("EXM_REST_PREPARE"), "0") == 0 ? 1 : 2;

		g_once_init_leave(&enabled, on);
	}
	return enabled == 2;
}

/* @db's cache, made and attached on first use; NULL when preparing is off
 * or libpq refused the event procedure (the statements then run unnamed). */
static Statements *
statements_of(PGconn *db)
{
	Statements *s = PQinstanceData(db, prepared_event);

	if (s != NULL || !prepared_enabled())
		return s;
	if (PQregisterEventProc(db, prepared_event, "exm-rest-prepared", NULL) == 0)
		return NULL;
	s = g_new0(Statements, 1);
	s->texts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	if (PQsetInstanceData(db, prepared_event, s) == 0) {
		statements_free(s);
		return NULL;
	}
	return s;
}

/* A name of its own per library copy and session: the host and a plugin
 * each link the toolkit, and each copy keeps its own cache on a connection
 * they share; the cache's address tells them apart. */
static gchar *
statement_name(Statements *s)
{
	return g_strdup_printf(
		"exm_%" G_GINTPTR_MODIFIER "x_%" G_GUINT64_FORMAT, (gintptr)s, ++s->serial);
}

/* Remembers @sql as run once.  A full table forgets the texts that ran
 * only once so far (the prepared ones stay): otherwise the first
 * EXM_REST_PREPARED_SEEN texts of a connection's life, one-off filter
 * combinations among them, would keep every later text from ever being
 * prepared. */
static void
statements_remember(Statements *s, const gchar *sql)
{
	GHashTableIter iter;
	gpointer name;

	if (g_hash_table_size(s->texts) >= EXM_REST_PREPARED_SEEN) {
		g_hash_table_iter_init(&iter, s->texts);
		while (g_hash_table_iter_next(&iter, NULL, &name)) {
			if (name == NULL)
				g_hash_table_iter_remove(&iter);
		}
	}
	if (g_hash_table_size(s->texts) < EXM_REST_PREPARED_SEEN)
		g_hash_table_insert(s->texts, g_strdup(sql), NULL);
}

/* @sql's statement on @db, prepared now if it ran before; *@failed holds
 * the PREPARE's error instead.  NULL: run @sql unnamed. */
static const gchar *
statements_lookup(Statements *s, PGconn *db, const gchar *sql, int n, PGresult **failed)
{
	gpointer name = NULL;
	g_autoptr(PGresult) res = NULL;

	*failed = NULL;
	if (!g_hash_table_lookup_extended(s->texts, sql, NULL, &name)) {
		statements_remember(s, sql);
		return NULL;
	}
	if (name != NULL || s->prepared >= EXM_REST_PREPARED_MAX)
		return name;
	name = statement_name(s);
	res = PQprepare(db, name, sql, n, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		g_free(name);
		*failed = g_steal_pointer(&res);
		return NULL;
	}
	s->prepared++;
	g_hash_table_insert(s->texts, g_strdup(sql), name);
	return name;
}

/* A statement of ours failed for what the server did behind the cache:
 * 26000, it no longer has one we named (`DEALLOCATE ALL`, `DISCARD ALL`
 * drop them all, so the cache forgets them all); 0A000, one no longer fits
 * the table it was planned on ("cached plan must not change result type",
 * a column's type changed), so that one is forgotten and, unless the error
 * aborted a transaction, dropped on the server too (otherwise it stays
 * there, unused, until the session ends).  FALSE: another error. */
static gboolean
statements_stale(Statements *s, PGconn *db, const gchar *sql, const PGresult *res)
{
	const gchar *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	g_autofree gchar *key = NULL;
	g_autofree gchar *name = NULL;

	if (g_strcmp0(state, "26000") == 0) {
		statements_forget(s);
		return TRUE;
	}
	if (g_strcmp0(state, "0A000") != 0 ||
	    !g_hash_table_steal_extended(s->texts, sql, (gpointer *)&key, (gpointer *)&name))
		return FALSE;
	if (name == NULL)
		return TRUE;
	s->prepared--;
	if (PQtransactionStatus(db) != PQTRANS_INERROR) {
		/* the name is ours (statement_name()), no request's text */
		g_autofree gchar *drop = g_strconcat("DEALLOCATE \"", name, "\"", NULL);

		PQclear(PQexec(db, drop));
	}
	return TRUE;
}

PGresult *
exm_rest_prepared_exec(PGconn *db, const gchar *sql, int n, const gchar *const *values)
{
	Statements *s = statements_of(db);
	const gchar *name = NULL;
	PGresult *res = NULL;

	if (s != NULL)
		name = statements_lookup(s, db, sql, n, &res);
	if (res != NULL)
		return res;
	if (name == NULL)
		return PQexecParams(db, sql, n, NULL, values, NULL, NULL, 0);
	res = PQexecPrepared(db, name, n, values, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_FATAL_ERROR || !statements_stale(s, db, sql, res))
		return res;
	/* outside a transaction block nothing was aborted: the statement runs
	 * again, unnamed, and the caller never sees the stale name */
	if (PQtransactionStatus(db) != PQTRANS_IDLE)
		return res;
	PQclear(res);
	return PQexecParams(db, sql, n, NULL, values, NULL, NULL, 0);
}

guint
exm_rest_prepared_count(PGconn *db)
{
	const Statements *s = PQinstanceData(db, prepared_event);

	return s != NULL ? s->prepared : 0;
}
