/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Statements on the request's connection (see exm-rest-store.h).
 */
#include "exm-rest-store.h"

#include "exm-error.h"
#include "exm-rest-prepared.h"
#include "exm-time.h"

/* The message of a unique or foreign-key clash: PostgreSQL's primary text and
 * DETAIL only (the key), never "Failing row contains", which would print
 * every column, hashes included. */
static void
store_conflict(PGresult *res, const ExmRestModel *model, GError **error)
{
	const gchar *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const gchar *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);

	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_CONFLICT,
		    "Duplicate parameters for '<%s>'. Original message: %s%s%s",
		    model->name,
		    primary != NULL ? primary : "conflict",
		    detail != NULL ? "\nDETAIL:  " : "",
		    detail != NULL ? detail : "");
}

static void
store_error(const ExmRestStore *store, PGresult *res, const ExmRestModel *model, GError **error)
{
	const gchar *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const gchar *primary =
		res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (PQstatus(store->db) != CONNECTION_OK) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_UNAVAILABLE,
				    "the database connection was lost");
		return;
	}
	if (g_strcmp0(state, "23505") == 0 || g_strcmp0(state, "23503") == 0) {
		store_conflict(res, model, error);
		return;
	}
	if (g_strcmp0(state, "40P01") == 0 || g_strcmp0(state, "40001") == 0) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_CONFLICT,
				    "a concurrent request changed the same rows; retry");
		return;
	}
	if (state != NULL && (g_str_has_prefix(state, "22") || g_str_has_prefix(state, "23"))) {
		/* Data and constraint errors of values the checks let through: the
		 * primary message names the type or constraint, not the row. */
		g_set_error(
			error, EXM_ERROR, EXM_ERROR_VALIDATION, "%s", primary ? primary : state);
		return;
	}
	if (store->log != NULL) {
		g_autofree gchar *msg =
			g_strdup_printf("sql error %s: %s",
					state != NULL ? state : "-",
					primary != NULL ? primary : PQerrorMessage(store->db));
		store->log(store->log_data, msg);
	}
	g_set_error_literal(error, EXM_ERROR, EXM_ERROR_FAILED, "database error");
}

/* Rows read timestamps in PostgreSQL's ISO output (exm-rest-sql.h), which
 * the session's DateStyle decides: a connection with another (a client's
 * PGDATESTYLE, a server set to `SQL`) is refused before it is used, not
 * read wrong.  The server reports DateStyle to libpq on every change, so
 * this reads a local copy. */
static gboolean
store_datestyle_iso(const ExmRestStore *store, GError **error)
{
	const gchar *style = PQparameterStatus(store->db, "DateStyle");

	/* a lost connection: the statement fails, and store_error() says so */
	if ((style != NULL && g_str_has_prefix(style, "ISO")) ||
	    PQstatus(store->db) != CONNECTION_OK)
		return TRUE;
	if (store->log != NULL) {
		g_autofree gchar *msg = g_strdup_printf(
			"sql error: the connection's DateStyle is '%s', timestamps are read in ISO",
			style != NULL ? style : "(unknown)");
		store->log(store->log_data, msg);
	}
	g_set_error_literal(error, EXM_ERROR, EXM_ERROR_FAILED, "database error");
	return FALSE;
}

PGresult *
exm_rest_store_exec(const ExmRestStore *store,
		    const ExmRestModel *model,
		    const gchar *sql,
		    GPtrArray *params,
		    GError **error)
{
	guint n = params != NULL ? params->len : 0;
	const gchar *const *values = n > 0 ? (const gchar *const *)params->pdata : NULL;
	g_autoptr(PGresult) res = NULL;
	ExecStatusType st;

	if (!store_datestyle_iso(store, error))
		return NULL;
	res = exm_rest_prepared_exec(store->db, sql, (int)n, values);
	st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		store_error(store, res, model, error);
		return NULL;
	}
	return g_steal_pointer(&res);
}

gboolean
exm_rest_store_one(const ExmRestStore *store,
		   const ExmRestModel *model,
		   const gchar *sql,
		   GPtrArray *params,
		   ExmRestRow **out,
		   GError **error)
{
	g_autoptr(PGresult) res = exm_rest_store_exec(store, model, sql, params, error);

	*out = NULL;
	if (res == NULL)
		return FALSE;
	if (PQntuples(res) == 1)
		*out = exm_rest_row_new(model, res, 0);
	return TRUE;
}

gboolean
exm_rest_store_lock(const ExmRestStore *store,
		    const ExmRestModel *model,
		    const gchar *id,
		    GError **error)
{
	g_autoptr(GPtrArray) params = g_ptr_array_new();
	g_autofree gchar *sql = exm_rest_sql_lock(model);
	g_autoptr(PGresult) res = NULL;

	g_ptr_array_add(params, (gpointer)id);
	res = exm_rest_store_exec(store, model, sql, params, error);
	if (res == NULL)
		return FALSE;
	if (PQntuples(res) != 1) {
		exm_rest_model_error_not_found(error, model, id, NULL);
		return FALSE;
	}
	return TRUE;
}

gboolean
exm_rest_store_touch(const ExmRestStore *store,
		     const ExmRestModel *model,
		     const gchar *id,
		     gint64 now,
		     GError **error)
{
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *sql = exm_rest_sql_touch(model);
	g_autoptr(PGresult) res = NULL;

	g_ptr_array_add(params, exm_time_usec_text(now));
	g_ptr_array_add(params, g_strdup(id));
	res = exm_rest_store_exec(store, model, sql, params, error);
	return res != NULL;
}

gboolean
exm_rest_store_delete_where(const ExmRestStore *store,
			    const ExmRestModel *model,
			    const gchar *field,
			    const gchar *value,
			    GError **error)
{
	g_autoptr(GPtrArray) params = g_ptr_array_new();
	g_autofree gchar *sql = exm_rest_sql_delete_where(model, field);
	g_autoptr(PGresult) res = NULL;

	g_ptr_array_add(params, (gpointer)value);
	res = exm_rest_store_exec(store, model, sql, params, error);
	return res != NULL;
}
