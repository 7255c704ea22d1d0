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
#include "exm-time.h"

static gboolean
exm_plugin_store_has_column(const ExmRestField *f)
{
	return (f->flags & EXM_REST_FIELD_NO_COLUMN) == 0;
}

/* Whether a SELECT list carries @f: columns only, and hidden-on-read ones
 * (password_hash) only when @with_hidden, i.e. for rows an update compares. */
static gboolean
exm_plugin_store_selected(const ExmRestField *f, gboolean with_hidden)
{
	return exm_plugin_store_has_column(f) && (with_hidden || f->read != EXM_REST_HIDDEN);
}

/* Canonical text per type: timestamps as µs since the epoch, lists as JSON. */
gchar *
exm_plugin_store_columns(const ExmRestModel *model, gboolean with_hidden)
{
	GString *s = g_string_new(NULL);

	for (const ExmRestField *f = model->fields; f->name != NULL; f++) {
		if (!exm_plugin_store_selected(f, with_hidden))
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

/* @with_hidden: as the SELECT list of @res was built. */
ExmPluginRow *
exm_plugin_store_row_new(const ExmRestModel *model, PGresult *res, gint row, gboolean with_hidden)
{
	ExmPluginRow *out = g_new0(ExmPluginRow, 1);
	guint col = 0;
	guint i = 0;

	out->model = model;
	for (const ExmRestField *f = model->fields; f->name != NULL; f++)
		out->n_fields++;
	out->raw = g_new0(gchar *, out->n_fields + 1);
	for (const ExmRestField *f = model->fields; f->name != NULL; f++, i++) {
		if (!exm_plugin_store_selected(f, with_hidden))
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

/* A JSON string as the API writes it (exm_json_to_string's compact form):
 * the short escapes, \u00XX for other controls, everything else raw.  Rows
 * come from a UTF8 database, so the text is valid UTF-8. */
static void
exm_plugin_store_write_string(GString *out, const gchar *s)
{
	const gchar *run = s;

	g_string_append_c(out, '"');
	for (const gchar *p = s; *p != '\0'; p++) {
		guchar c = (guchar)*p;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		g_string_append_len(out, run, p - run);
		run = p + 1;
		switch (c) {
		case '"':
			g_string_append(out, "\\\"");
			break;
		case '\\':
			g_string_append(out, "\\\\");
			break;
		case '\n':
			g_string_append(out, "\\n");
			break;
		case '\r':
			g_string_append(out, "\\r");
			break;
		case '\t':
			g_string_append(out, "\\t");
			break;
		case '\b':
			g_string_append(out, "\\b");
			break;
		case '\f':
			g_string_append(out, "\\f");
			break;
		default:
			g_string_append_printf(out, "\\u%04x", c);
			break;
		}
	}
	g_string_append(out, run);
	g_string_append_c(out, '"');
}

static void
exm_plugin_store_write_value(GString *out,
			     const ExmRestField *f,
			     const gchar *raw,
			     const gchar *mount)
{
	g_autofree gchar *text = NULL;

	switch (f->type) {
	case EXM_REST_TYPE_INTEGER:
		/* PostgreSQL's int text is already a JSON integer. */
		g_string_append(out, raw);
		break;
	case EXM_REST_TYPE_BOOLEAN:
		g_string_append(out, g_strcmp0(raw, "true") == 0 ? "true" : "false");
		break;
	case EXM_REST_TYPE_TIMESTAMP:
		text = exm_time_format(g_ascii_strtoll(raw, NULL, 10));
		g_string_append_printf(out, "\"%s\"", text);
		break;
	case EXM_REST_TYPE_RELATIONSHIP:
		text = g_strconcat(mount, f->related, raw, NULL);
		exm_plugin_store_write_string(out, text);
		break;
	case EXM_REST_TYPE_STRING_LIST:
		/* array_to_json(): compact, escaped by PostgreSQL alike. */
		g_string_append(out, raw);
		break;
	default:
		exm_plugin_store_write_string(out, raw);
		break;
	}
}

static gboolean
exm_plugin_store_wanted(const ExmRestField *f, GPtrArray *fields)
{
	if (f->read == EXM_REST_HIDDEN)
		return FALSE;
	for (guint i = 0; fields != NULL && i < fields->len; i++) {
		if (g_strcmp0(g_ptr_array_index(fields, i), f->name) == 0)
			return TRUE;
	}
	return fields == NULL;
}

/* The row as the API answers it, straight into @out: model order, nulls,
 * hidden-on-read fields (password_hash) and fields outside the sparse
 * fieldset left out (rest-conventions §5).  No JSON tree on the list path. */
void
exm_plugin_store_row_write(GString *out,
			   const ExmPluginRow *row,
			   const gchar *mount,
			   GPtrArray *fields)
{
	gboolean first = TRUE;
	guint i = 0;

	g_string_append_c(out, '{');
	for (const ExmRestField *f = row->model->fields; f->name != NULL; f++, i++) {
		if (row->raw[i] == NULL || !exm_plugin_store_wanted(f, fields))
			continue;
		if (!first)
			g_string_append_c(out, ',');
		first = FALSE;
		g_string_append_printf(out, "\"%s\":", f->name);
		exm_plugin_store_write_value(out, f, row->raw[i], mount);
	}
	g_string_append_c(out, '}');
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

/**
 * exm_plugin_store_parse_text_list:
 * @json: a text[] column as `array_to_json(…)::text`
 * @out: (element-type utf8): receives copies of its strings
 *
 * Appends the strings of @json to @out; anything else (nulls, a broken
 * value) is skipped.
 */
void
exm_plugin_store_parse_text_list(const gchar *json, GPtrArray *out)
{
	g_autoptr(JsonNode) node = exm_json_parse_strict(json, strlen(json), NULL);
	JsonArray *list;

	if (node == NULL || !JSON_NODE_HOLDS_ARRAY(node))
		return;
	list = json_node_get_array(node);
	for (guint k = 0; k < json_array_get_length(list); k++) {
		JsonNode *e = json_array_get_element(list, k);

		if (JSON_NODE_HOLDS_VALUE(e) && json_node_get_value_type(e) == G_TYPE_STRING)
			g_ptr_array_add(out, g_strdup(json_node_get_string(e)));
	}
}
