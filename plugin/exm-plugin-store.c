/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Rows as canonical text, driven by the REST field descriptors: one SELECT
 * list per model, values compared and written as text parameters (SQL only via
 * PQexecParams), PostgreSQL errors mapped to the REST error codes.
 */
#include "exm-plugin-private.h"

#include <string.h>

#include "exm-cleanup.h"
#include "exm-error.h"
#include "exm-json.h"

static gboolean
exm_plugin_store_has_column(const ExmRestField *f)
{
	return (f->flags & EXM_REST_FIELD_NO_COLUMN) == 0;
}

/* Canonical text per type: timestamps as µs since the epoch, lists as JSON. */
gchar *
exm_plugin_store_columns(const ExmRestModel *model)
{
	GString *s = g_string_new(NULL);

	for (const ExmRestField *f = model->fields; f->name != NULL; f++) {
		if (!exm_plugin_store_has_column(f))
			continue;
		if (s->len > 0)
			g_string_append(s, ", ");
		if (f->type == EXM_REST_TYPE_TIMESTAMP)
			g_string_append_printf(
				s, "(EXTRACT(EPOCH FROM \"%s\") * 1000000)::bigint::text", f->name);
		else if (f->type == EXM_REST_TYPE_STRING_LIST)
			g_string_append_printf(s, "array_to_json(\"%s\")::text", f->name);
		else
			g_string_append_printf(s, "\"%s\"::text", f->name);
	}
	return g_string_free(s, FALSE);
}

/* Appends the SQL expression writing parameter $@n into a column of @type. */
void
exm_plugin_store_append_write_expr(GString *sql, ExmRestType type, guint n)
{
	switch (type) {
	case EXM_REST_TYPE_UUID:
	case EXM_REST_TYPE_RELATIONSHIP:
		g_string_append_printf(sql, "$%u::uuid", n);
		break;
	case EXM_REST_TYPE_INTEGER:
		g_string_append_printf(sql, "$%u::bigint", n);
		break;
	case EXM_REST_TYPE_BOOLEAN:
		g_string_append_printf(sql, "$%u::boolean", n);
		break;
	case EXM_REST_TYPE_TIMESTAMP:
		g_string_append_printf(
			sql, "(TIMESTAMP 'epoch' + $%u::bigint * INTERVAL '1 microsecond')", n);
		break;
	case EXM_REST_TYPE_STRING_LIST:
		g_string_append_printf(sql, "ARRAY(SELECT json_array_elements_text($%u::json))", n);
		break;
	default:
		g_string_append_printf(sql, "$%u::text", n);
		break;
	}
}

/* The message of a unique or foreign-key clash: PostgreSQL's primary text and
 * DETAIL only (the key), never "Failing row contains", which would print
 * every column, hashes included. */
static void
exm_plugin_store_conflict(PGresult *res, const ExmRestModel *model, GError **error)
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
exm_plugin_store_error(ExmPluginRequest *r,
		       PGresult *res,
		       const ExmRestModel *model,
		       GError **error)
{
	const gchar *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const gchar *primary =
		res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (PQstatus(r->db) != CONNECTION_OK) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_UNAVAILABLE,
				    "the database connection was lost");
		return;
	}
	if (g_strcmp0(state, "23505") == 0 || g_strcmp0(state, "23503") == 0) {
		exm_plugin_store_conflict(res, model, error);
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
	exm_plugin_log(r,
		       EXORDOS_PAAS_LOG_ERROR,
		       "sql error %s: %s",
		       state != NULL ? state : "-",
		       primary != NULL ? primary : PQerrorMessage(r->db));
	g_set_error_literal(error, EXM_ERROR, EXM_ERROR_FAILED, "database error");
}

PGresult *
exm_plugin_store_exec(ExmPluginRequest *r,
		      const ExmRestModel *model,
		      const gchar *sql,
		      GPtrArray *params,
		      GError **error)
{
	guint n = params != NULL ? params->len : 0;
	const gchar *const *values = n > 0 ? (const gchar *const *)params->pdata : NULL;
	g_autoptr(PGresult) res = PQexecParams(r->db, sql, (int)n, NULL, values, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		exm_plugin_store_error(r, res, model, error);
		return NULL;
	}
	return g_steal_pointer(&res);
}

ExmPluginRow *
exm_plugin_store_row_new(const ExmRestModel *model, PGresult *res, gint row)
{
	ExmPluginRow *out = g_new0(ExmPluginRow, 1);
	guint col = 0;
	guint i = 0;

	out->model = model;
	for (const ExmRestField *f = model->fields; f->name != NULL; f++)
		out->n_fields++;
	out->raw = g_new0(gchar *, out->n_fields + 1);
	for (const ExmRestField *f = model->fields; f->name != NULL; f++, i++) {
		if (!exm_plugin_store_has_column(f))
			continue;
		if (!PQgetisnull(res, row, (int)col))
			out->raw[i] = g_strdup(PQgetvalue(res, row, (int)col));
		col++;
	}
	return out;
}

void
exm_plugin_store_row_free(ExmPluginRow *row)
{
	if (row == NULL)
		return;
	for (guint i = 0; i < row->n_fields; i++) {
		/* password_hash travels through rows: wipe every value alike. */
		if (row->raw[i] != NULL)
			exm_secret_wipe(row->raw[i], strlen(row->raw[i]));
		g_free(row->raw[i]);
	}
	g_free(row->raw);
	g_free(row);
}

const gchar *
exm_plugin_store_row_get(const ExmPluginRow *row, const gchar *name)
{
	guint i = 0;

	for (const ExmRestField *f = row->model->fields; f->name != NULL; f++, i++) {
		if (g_strcmp0(f->name, name) == 0)
			return row->raw[i];
	}
	return NULL;
}

static void
exm_plugin_store_member(JsonObject *obj,
			const ExmRestField *f,
			const gchar *raw,
			const gchar *mount)
{
	g_autofree gchar *text = NULL;
	JsonNode *list;

	switch (f->type) {
	case EXM_REST_TYPE_INTEGER:
		json_object_set_int_member(obj, f->name, g_ascii_strtoll(raw, NULL, 10));
		break;
	case EXM_REST_TYPE_BOOLEAN:
		json_object_set_boolean_member(obj, f->name, g_strcmp0(raw, "true") == 0);
		break;
	case EXM_REST_TYPE_TIMESTAMP:
		text = exm_rest_format_timestamp(g_ascii_strtoll(raw, NULL, 10));
		json_object_set_string_member(obj, f->name, text);
		break;
	case EXM_REST_TYPE_RELATIONSHIP:
		text = g_strconcat(mount, f->related, raw, NULL);
		json_object_set_string_member(obj, f->name, text);
		break;
	case EXM_REST_TYPE_STRING_LIST:
		/* PostgreSQL's own array_to_json output: trusted, so plain json-glib. */
		list = json_from_string(raw, NULL);
		if (list != NULL)
			json_object_set_member(obj, f->name, list);
		break;
	default:
		json_object_set_string_member(obj, f->name, raw);
		break;
	}
}

JsonNode *
exm_plugin_store_row_to_json(const ExmPluginRow *row, const gchar *mount)
{
	JsonObject *obj = json_object_new();
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);
	guint i = 0;

	for (const ExmRestField *f = row->model->fields; f->name != NULL; f++, i++) {
		/* Hidden-on-read fields (password_hash) never enter the JSON at all. */
		if (row->raw[i] == NULL || f->read == EXM_REST_HIDDEN)
			continue;
		exm_plugin_store_member(obj, f, row->raw[i], mount);
	}
	json_node_take_object(node, obj);
	return node;
}

gchar *
exm_plugin_store_value_text(const ExmRestValue *value)
{
	g_autoptr(JsonNode) node = NULL;
	g_autoptr(JsonArray) array = NULL;

	if (value->is_null)
		return NULL;
	switch (value->field->type) {
	case EXM_REST_TYPE_INTEGER:
	case EXM_REST_TYPE_TIMESTAMP:
		return g_strdup_printf("%" G_GINT64_FORMAT, value->num);
	case EXM_REST_TYPE_BOOLEAN:
		return g_strdup(value->num ? "true" : "false");
	case EXM_REST_TYPE_STRING_LIST:
		array = json_array_new();
		for (guint i = 0; i < value->list->len; i++)
			json_array_add_string_element(array, g_ptr_array_index(value->list, i));
		node = json_node_new(JSON_NODE_ARRAY);
		json_node_set_array(node, array);
		return exm_json_to_string(node);
	default:
		return g_strdup(value->str);
	}
}

static void
exm_plugin_store_set_free(ExmPluginSet *set)
{
	if (set->text != NULL)
		exm_secret_wipe(set->text, strlen(set->text));
	g_free(set->text);
	g_free(set);
}

GPtrArray *
exm_plugin_store_sets_new(void)
{
	return g_ptr_array_new_with_free_func((GDestroyNotify)exm_plugin_store_set_free);
}

ExmPluginSet *
exm_plugin_store_sets_find(GPtrArray *sets, const gchar *name)
{
	for (guint i = 0; i < sets->len; i++) {
		ExmPluginSet *s = g_ptr_array_index(sets, i);
		if (g_strcmp0(s->field->name, name) == 0)
			return s;
	}
	return NULL;
}

/* Sets (or replaces) the value written to column @name. */
void
exm_plugin_store_sets_put(GPtrArray *sets,
			  const ExmRestModel *model,
			  const gchar *name,
			  const gchar *text)
{
	ExmPluginSet *s = exm_plugin_store_sets_find(sets, name);
	gchar *copy;

	if (s == NULL) {
		s = g_new0(ExmPluginSet, 1);
		s->field = exm_rest_model_field(model, name);
		g_return_if_fail(s->field != NULL);
		g_ptr_array_add(sets, s);
	}
	/* @text may be s->text itself: copy before freeing. */
	copy = g_strdup(text);
	if (s->text != NULL)
		exm_secret_wipe(s->text, strlen(s->text));
	g_free(s->text);
	s->text = copy;
}
