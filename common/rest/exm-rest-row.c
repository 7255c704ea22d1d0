/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Loaded rows (see exm-rest-row.h).
 */
#include "exm-rest-row.h"

#include <string.h>

#include "exm-cleanup.h"
#include "exm-json.h"
#include "exm-time.h"

/* @name's column in @res: @guess first (the SELECT lists of
 * exm_rest_sql_columns() come in the model's order), else by exact name.
 * Not PQfnumber(): it copies and case-folds the name on every call, and a
 * field a list leaves out (a hidden one) misses the guess on every row; the
 * lists name each column after its field, quoted, so exact is what matches. */
static int
row_column(PGresult *res, int guess, const gchar *name)
{
	int n = PQnfields(res);

	if (guess < n && g_strcmp0(PQfname(res, guess), name) == 0)
		return guess;
	for (int c = 0; c < n; c++) {
		if (strcmp(PQfname(res, c), name) == 0)
			return c;
	}
	return -1;
}

/* Columns are found by name (exm_rest_sql_columns() names each after its
 * field), so any SELECT list of the model's columns reads, in any order. */
ExmRestRow *
exm_rest_row_new(const ExmRestModel *model, PGresult *res, gint row)
{
	ExmRestRow *out = g_new0(ExmRestRow, 1);
	guint i = 0;
	int next = 0;

	out->model = model;
	for (const ExmRestField *f = model->fields; f->name != NULL; f++)
		out->n_fields++;
	out->raw = g_new0(gchar *, out->n_fields + 1);
	for (const ExmRestField *f = model->fields; f->name != NULL; f++, i++) {
		int col = (f->flags & EXM_REST_FIELD_NO_COLUMN) != 0
				  ? -1
				  : row_column(res, next, f->name);
		if (col < 0)
			continue;
		next = col + 1;
		if (!PQgetisnull(res, row, col))
			out->raw[i] = g_strdup(PQgetvalue(res, row, col));
	}
	return out;
}

void
exm_rest_row_free(ExmRestRow *row)
{
	if (row == NULL)
		return;
	for (guint i = 0; i < row->n_fields; i++) {
		/* Secrets (password hashes) travel through rows: wipe every value alike. */
		if (row->raw[i] != NULL)
			exm_secret_wipe(row->raw[i], strlen(row->raw[i]));
		g_free(row->raw[i]);
	}
	g_free(row->raw);
	g_free(row);
}

/* A partial row was loaded for readers that named what they read: anything
 * else they read is a bug to show, not a NULL to act on. */
static gboolean
row_loaded(const ExmRestRow *row, const gchar *name)
{
	if (row->only == NULL || g_strv_contains(row->only, name))
		return TRUE;
	g_critical("field %s of a partial %s row was not loaded", name, row->model->name);
	return FALSE;
}

const gchar *
exm_rest_row_get(const ExmRestRow *row, const gchar *name)
{
	guint i = 0;

	if (!row_loaded(row, name))
		return NULL;

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
row_write_string(GString *out, const gchar *s)
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
row_write_value(GString *out, const ExmRestField *f, const gchar *raw, const gchar *mount)
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
		g_string_append_c(out, '"');
		g_string_append(out, text);
		g_string_append_c(out, '"');
		break;
	case EXM_REST_TYPE_RELATIONSHIP:
		text = g_strconcat(mount, f->related, raw, NULL);
		row_write_string(out, text);
		break;
	case EXM_REST_TYPE_STRING_LIST:
	case EXM_REST_TYPE_OBJECT:
		/* array_to_json() and jsonb's text: JSON already, escaped by
		 * PostgreSQL. */
		g_string_append(out, raw);
		break;
	default:
		row_write_string(out, raw);
		break;
	}
}

static gboolean
row_wanted(const ExmRestField *f, GPtrArray *fields)
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
 * hidden-on-read fields (secrets) and fields outside the sparse
 * fieldset left out (docs/rest-conventions.md §5).  No JSON tree on the list path. */
void
exm_rest_row_write(GString *out, const ExmRestRow *row, const gchar *mount, GPtrArray *fields)
{
	gboolean first = TRUE;
	guint i = 0;

	if (row->only != NULL)
		g_critical("a partial %s row is never an answer", row->model->name);
	g_string_append_c(out, '{');
	for (const ExmRestField *f = row->model->fields; f->name != NULL; f++, i++) {
		if (row->raw[i] == NULL || !row_wanted(f, fields))
			continue;
		if (!first)
			g_string_append_c(out, ',');
		first = FALSE;
		/* appends, not printf: a field costs a tenth (GET one answers 20) */
		g_string_append_c(out, '"');
		g_string_append(out, f->name);
		g_string_append(out, "\":");
		row_write_value(out, f, row->raw[i], mount);
	}
	g_string_append_c(out, '}');
}

/**
 * exm_rest_row_parse_text_list:
 * @json: a text[] column as `array_to_json(…)::text`
 * @out: (element-type utf8): receives copies of its strings
 *
 * Appends the strings of @json to @out; anything else (nulls, a broken
 * value) is skipped.
 */
void
exm_rest_row_parse_text_list(const gchar *json, GPtrArray *out)
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
