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

/* One element of an array's text at *@p (quoted with backslash escapes, or
 * bare up to the next `,` or `}`) appended to @out as a JSON value: a bare
 * NULL is null.  FALSE on anything else (a nested array). */
static gboolean
row_list_item(const gchar **p, GString *out, GString *item)
{
	gboolean quoted = **p == '"';

	g_string_truncate(item, 0);
	if (quoted) {
		for ((*p)++; **p != '"'; (*p)++) {
			if (**p == '\\')
				(*p)++;
			if (**p == '\0')
				return FALSE;
			g_string_append_c(item, **p);
		}
		(*p)++;
	} else {
		for (; **p != ',' && **p != '}'; (*p)++) {
			if (**p == '\0' || **p == '"' || **p == '{' || **p == '\\')
				return FALSE;
			g_string_append_c(item, **p);
		}
		if (item->len == 0)
			return FALSE;
	}
	if (!quoted && g_ascii_strcasecmp(item->str, "NULL") == 0)
		g_string_append(out, "null");
	else
		exm_json_append_string(out, item->str);
	return TRUE;
}

/* PostgreSQL's text of a one-dimensional text[] (`{a,"b c",NULL}`) as the
 * JSON array `array_to_json()` would give, written as exm_json_to_string()
 * writes a list, so that a list re-sent unchanged compares equal; %NULL for
 * any other shape. */
static gchar *
row_list_json(const gchar *text)
{
	g_autoptr(GString) out = g_string_new("[");
	g_autoptr(GString) item = g_string_new(NULL);
	const gchar *p = text + 1;

	if (text[0] != '{')
		return NULL;
	while (*p != '}') {
		if (!row_list_item(&p, out, item))
			return NULL;
		if (*p == ',' && p[1] != '}')
			g_string_append_c(out, *p++);
		else if (*p != '}')
			return NULL;
	}
	if (p[1] != '\0')
		return NULL;
	g_string_append_c(out, ']');
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/* @f's canonical text from its column's: a timestamp's ISO text as µs since
 * the epoch, a boolean's `t`/`f` as `true`/`false`, a text[] as a JSON list,
 * the rest (a jsonb's text is its JSON) as they are.  %NULL for a timestamp
 * outside what the API writes (years 1–9999, no `infinity`) or an array of
 * another shape (nested), which only a hand-made row holds: logged, read as
 * absent. */
static gchar *
row_canonical(const ExmRestField *f, const gchar *text)
{
	gchar *list;
	gint64 us;

	switch (f->type) {
	case EXM_REST_TYPE_TIMESTAMP:
		if (exm_time_parse_sql(text, &us))
			return exm_time_usec_text(us);
		g_warning("column %s: timestamp '%s' outside what the api reads; read as null",
			  f->name,
			  text);
		return NULL;
	case EXM_REST_TYPE_BOOLEAN:
		return g_strdup(text[0] == 't' ? "true" : "false");
	case EXM_REST_TYPE_STRING_LIST:
		list = row_list_json(text);
		if (list == NULL)
			g_warning("column %s: array '%s' not a list the api reads; read as null",
				  f->name,
				  text);
		return list;
	default:
		return g_strdup(text);
	}
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
			out->raw[i] = row_canonical(f, PQgetvalue(res, row, col));
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
		exm_json_append_string(out, text);
		break;
	case EXM_REST_TYPE_STRING_LIST:
	case EXM_REST_TYPE_OBJECT:
		/* JSON already: a list as row_list_json() wrote it, a
		 * jsonb's text as PostgreSQL escaped it */
		g_string_append(out, raw);
		break;
	default:
		exm_json_append_string(out, raw);
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
 * @json: a list field's canonical text (a JSON list: exm_rest_row_get())
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
