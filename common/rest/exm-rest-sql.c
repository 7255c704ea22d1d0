/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * SQL text (see exm-rest-sql.h).  Section numbers refer to
 * docs/rest-conventions.md.
 */
#include "exm-rest-sql.h"

#include <string.h>

static const gchar *
sql_cast(ExmRestType type)
{
	switch (type) {
	case EXM_REST_TYPE_UUID:
	case EXM_REST_TYPE_RELATIONSHIP:
		return "uuid";
	case EXM_REST_TYPE_INTEGER:
		return "bigint";
	case EXM_REST_TYPE_BOOLEAN:
		return "boolean";
	case EXM_REST_TYPE_TIMESTAMP:
		return "timestamp";
	default:
		return "text";
	}
}

static guint
sql_param(GPtrArray *params, const gchar *value)
{
	g_ptr_array_add(params, g_strdup(value));
	return params->len;
}

static void
sql_filter(GString *sql, const ExmRestFilter *f, GPtrArray *params)
{
	const gchar *cast = sql_cast(f->field->type);

	g_string_append(sql, " AND (");
	for (guint i = 0; i < f->values->len; i++) {
		const gchar *v = g_ptr_array_index(f->values, i);
		guint n = sql_param(params, v);
		if (i > 0)
			g_string_append(sql, " OR ");
		/* A list filter compares the whole column with a one-element list. */
		if (f->field->type == EXM_REST_TYPE_STRING_LIST)
			g_string_append_printf(
				sql, "\"%s\"::text[] = ARRAY[$%u::text]", f->field->name, n);
		else
			g_string_append_printf(sql, "\"%s\" = $%u::%s", f->field->name, n, cast);
	}
	g_string_append_c(sql, ')');
}

/*
 * Marker pagination (§4.4): rows strictly after the marker row in the order of
 * exm_rest_sql_list(), NULLs included.  A NULL key sorts after every value
 * ascending and before every value descending (NULLS LAST / NULLS FIRST, stated
 * in the ORDER BY), ties go by uuid ascending.  With K the key and V the
 * marker row's key (a subquery, the marker a parameter):
 *   asc:  (V IS NOT NULL AND (K > V OR K IS NULL)) OR (K IS NOT DISTINCT FROM V AND uuid > m)
 *   desc: (K < V OR (K IS NOT NULL AND V IS NULL)) OR (K IS NOT DISTINCT FROM V AND uuid > m)
 * where a NULL comparison is unknown, i.e. not after.
 */
static void
sql_marker_clause(GString *sql,
		  const ExmRestListQuery *q,
		  const ExmRestModel *model,
		  GPtrArray *params)
{
	guint m = sql_param(params, q->marker);
	g_autofree gchar *v = NULL;
	const gchar *k;

	if (q->sort_key == NULL || g_strcmp0(q->sort_key->name, "uuid") == 0) {
		g_string_append_printf(
			sql, " AND \"uuid\" %s $%u::uuid", q->sort_desc ? "<" : ">", m);
		return;
	}
	k = q->sort_key->name;
	v = g_strdup_printf(
		"(SELECT \"%s\" FROM \"%s\" WHERE \"uuid\" = $%u::uuid)", k, model->table, m);
	if (q->sort_desc)
		g_string_append_printf(sql,
				       " AND ((\"%s\" < %s OR (\"%s\" IS NOT NULL AND %s IS NULL))",
				       k,
				       v,
				       k,
				       v);
	else
		g_string_append_printf(sql,
				       " AND ((%s IS NOT NULL AND (\"%s\" > %s OR \"%s\" IS NULL))",
				       v,
				       k,
				       v,
				       k);
	g_string_append_printf(
		sql, " OR (\"%s\" IS NOT DISTINCT FROM %s AND \"uuid\" > $%u::uuid))", k, v, m);
}

gchar *
exm_rest_sql_list(const ExmRestListQuery *query,
		  const ExmRestModel *model,
		  const gchar *columns,
		  GPtrArray *params)
{
	GString *sql = g_string_new(NULL);
	const gchar *dir = query->sort_desc ? "DESC" : "ASC";

	g_string_append_printf(sql, "SELECT %s FROM \"%s\" WHERE TRUE", columns, model->table);
	for (guint i = 0; i < query->filters->len; i++)
		sql_filter(sql, g_ptr_array_index(query->filters, i), params);
	if (query->marker != NULL)
		sql_marker_clause(sql, query, model, params);
	if (query->sort_key == NULL)
		g_string_append(sql, " ORDER BY \"uuid\" ASC");
	else if (g_strcmp0(query->sort_key->name, "uuid") == 0)
		g_string_append_printf(sql, " ORDER BY \"uuid\" %s", dir);
	else
		/* the NULL placement sql_marker_clause() assumes, stated, not defaulted */
		g_string_append_printf(sql,
				       " ORDER BY \"%s\" %s NULLS %s, \"uuid\" ASC",
				       query->sort_key->name,
				       dir,
				       query->sort_desc ? "FIRST" : "LAST");
	if (query->limit > 0)
		g_string_append_printf(sql, " LIMIT %" G_GUINT64_FORMAT, query->limit);
	return g_string_free(sql, FALSE);
}

gchar *
exm_rest_sql_marker_check(const ExmRestListQuery *query,
			  const ExmRestModel *model,
			  GPtrArray *params)
{
	GString *sql;
	guint m;

	/* Without a sort key (or sorting by uuid) a marker is just a bound. */
	if (query->marker == NULL || query->sort_key == NULL ||
	    g_strcmp0(query->sort_key->name, "uuid") == 0)
		return NULL;
	sql = g_string_new(NULL);
	g_string_append_printf(sql, "SELECT 1 FROM \"%s\" WHERE TRUE", model->table);
	for (guint i = 0; i < query->filters->len; i++)
		sql_filter(sql, g_ptr_array_index(query->filters, i), params);
	m = sql_param(params, query->marker);
	g_string_append_printf(sql, " AND \"uuid\" = $%u::uuid", m);
	return g_string_free(sql, FALSE);
}

static gboolean
sql_has_column(const ExmRestField *f)
{
	return (f->flags & EXM_REST_FIELD_NO_COLUMN) == 0;
}

/* Whether a SELECT list carries @f: columns only, and hidden-on-read ones
 * (secrets) only when @with_hidden, i.e. for rows an update compares. */
gboolean
exm_rest_sql_selected(const ExmRestField *f, gboolean with_hidden)
{
	return sql_has_column(f) && (with_hidden || f->read != EXM_REST_HIDDEN);
}

/* `"name"`: appended piecewise, as the column lists are built per request and
 * printf's format parsing was most of their cost (docs/scale.md §8). */
static void
sql_append_quoted(GString *s, const gchar *name)
{
	g_string_append_c(s, '"');
	g_string_append(s, name);
	g_string_append_c(s, '"');
}

/* @f's column, bare and named after the field.  A uuid's, an integer's, a
 * text or varchar column's and a jsonb's output is their canonical text
 * already; a boolean's (`t`), a timestamp's (ISO, in the ISO DateStyle
 * exm_rest_store_exec() requires) and a text[]'s (`{a,b}`) are made
 * canonical by exm_rest_row_new().  Each cast or function in the list is a
 * coercion PostgreSQL looks up when it parses the statement, every time for
 * an unnamed one: GET one's SELECT with one per column cost its backend
 * about twice the bare endpoint's `SELECT *` (docs/scale.md §8).  A bare
 * column is sorted by an ORDER BY of its name as its values (an integer's
 * 10 after its 9, a timestamp by time), as the marker's comparison of the
 * columns has it. */
static void
sql_append_column(GString *s, const ExmRestField *f)
{
	if (s->len > 0)
		g_string_append(s, ", ");
	sql_append_quoted(s, f->name);
}

static gchar *
sql_columns_build(const ExmRestModel *model, gboolean with_hidden)
{
	GString *s = g_string_sized_new(1024);

	for (const ExmRestField *f = model->fields; f->name != NULL; f++) {
		if (exm_rest_sql_selected(f, with_hidden))
			sql_append_column(s, f);
	}
	return g_string_free(s, FALSE);
}

static gchar *
sql_columns_of_build(const ExmRestModel *model, const gchar *const *fields)
{
	GString *s = g_string_sized_new(256);

	for (const ExmRestField *f = model->fields; f->name != NULL; f++) {
		if (sql_has_column(f) && g_strv_contains(fields, f->name))
			sql_append_column(s, f);
	}
	return g_string_free(s, FALSE);
}

/* Models are static and their lists never change: each list is built once
 * per process and lent out, never copied: every load, insert and update of
 * every request asks for one, and a copy of its 1 KiB was a fifth of the
 * cost left in building the statements (docs/scale.md §8).  A list is either
 * a model's (with or without hidden fields, @fields NULL) or of the named
 * @fields, as static as the names. */
typedef struct {
	const ExmRestModel *model;
	const gchar *const *fields;
	gboolean with_hidden;
} SqlColumnsKey;

G_LOCK_DEFINE_STATIC(sql_columns_cache);
static GHashTable *sql_columns_cache;

static guint
sql_columns_key_hash(gconstpointer key)
{
	const SqlColumnsKey *k = key;

	return g_direct_hash(k->model) ^ g_direct_hash(k->fields) ^ (guint)k->with_hidden;
}

static gboolean
sql_columns_key_equal(gconstpointer a, gconstpointer b)
{
	const SqlColumnsKey *x = a;
	const SqlColumnsKey *y = b;

	return x->model == y->model && x->fields == y->fields && x->with_hidden == y->with_hidden;
}

static const gchar *
sql_columns_cached(const SqlColumnsKey *key)
{
	const gchar *list;

	G_LOCK(sql_columns_cache);
	if (sql_columns_cache == NULL)
		sql_columns_cache = g_hash_table_new(sql_columns_key_hash, sql_columns_key_equal);
	list = g_hash_table_lookup(sql_columns_cache, key);
	if (list == NULL) {
		gchar *built = key->fields != NULL
				       ? sql_columns_of_build(key->model, key->fields)
				       : sql_columns_build(key->model, key->with_hidden);

		g_hash_table_insert(sql_columns_cache, g_memdup2(key, sizeof(*key)), built);
		list = built;
	}
	G_UNLOCK(sql_columns_cache);
	return list;
}

const gchar *
exm_rest_sql_columns(const ExmRestModel *model, gboolean with_hidden)
{
	SqlColumnsKey key = { model, NULL, with_hidden != FALSE };

	return sql_columns_cached(&key);
}

const gchar *
exm_rest_sql_columns_of(const ExmRestModel *model, const gchar *const *fields)
{
	SqlColumnsKey key = { model, fields, FALSE };

	g_return_val_if_fail(fields != NULL, NULL);
	return sql_columns_cached(&key);
}

/* `$<n>` without printf: a write's statement holds one per column, and
 * printf was a tenth of the account POST's own SQL text. */
static void
sql_append_param(GString *sql, guint n)
{
	gchar digits[12];
	gsize i = sizeof(digits) - 1;

	digits[i] = '\0';
	do {
		digits[--i] = (gchar)('0' + n % 10);
		n /= 10;
	} while (n > 0 && i > 0);
	g_string_append_c(sql, '$');
	g_string_append(sql, digits + i);
}

/* Appends the SQL expression writing parameter $@n into a column of @type. */
void
exm_rest_sql_write_expr(GString *sql, ExmRestType type, guint n)
{
	const gchar *before = "";
	const gchar *after;

	switch (type) {
	case EXM_REST_TYPE_UUID:
	case EXM_REST_TYPE_RELATIONSHIP:
		after = "::uuid";
		break;
	case EXM_REST_TYPE_INTEGER:
		after = "::bigint";
		break;
	case EXM_REST_TYPE_BOOLEAN:
		after = "::boolean";
		break;
	case EXM_REST_TYPE_TIMESTAMP:
		before = "(TIMESTAMP 'epoch' + ";
		after = "::bigint * INTERVAL '1 microsecond')";
		break;
	case EXM_REST_TYPE_STRING_LIST:
		/* a NULL list stays NULL: ARRAY() of no elements would store the
		 * empty list, and null and [] may mean different things */
		g_string_append(sql, "CASE WHEN ");
		sql_append_param(sql, n);
		g_string_append(sql, "::json IS NULL THEN NULL ELSE ");
		before = "ARRAY(SELECT json_array_elements_text(";
		after = "::json)) END";
		break;
	case EXM_REST_TYPE_OBJECT:
		after = "::jsonb";
		break;
	default:
		after = "::text";
		break;
	}
	g_string_append(sql, before);
	sql_append_param(sql, n);
	g_string_append(sql, after);
}

/* `$<n>::uuid` */
static void
sql_append_uuid_param(GString *sql, guint n)
{
	exm_rest_sql_write_expr(sql, EXM_REST_TYPE_UUID, n);
}

gchar *
exm_rest_sql_load(const ExmRestModel *model,
		  const gchar *columns,
		  const gchar *id,
		  const gchar *scope,
		  const gchar *parent_field,
		  const gchar *parent_id,
		  gboolean for_update,
		  GPtrArray *params)
{
	GString *sql = g_string_sized_new(strlen(columns) + 256);

	/* appended, not printed: printf's copy of the long column list was
	 * most of this function's cost, run for every parent and row load */
	g_string_append(sql, "SELECT ");
	g_string_append(sql, columns);
	g_string_append(sql, " FROM ");
	sql_append_quoted(sql, model->table);
	g_string_append(sql, " WHERE \"uuid\" = ");
	sql_append_uuid_param(sql, sql_param(params, id));
	if (scope != NULL) {
		g_string_append(sql, " AND \"project_id\" = ");
		sql_append_uuid_param(sql, sql_param(params, scope));
	}
	if (parent_field != NULL) {
		g_string_append(sql, " AND ");
		sql_append_quoted(sql, parent_field);
		g_string_append(sql, " = ");
		sql_append_uuid_param(sql, sql_param(params, parent_id));
	}
	if (for_update)
		g_string_append(sql, " FOR UPDATE");
	return g_string_free(sql, FALSE);
}

gchar *
exm_rest_sql_insert(const ExmRestModel *model, GPtrArray *sets, GPtrArray *params)
{
	g_autoptr(GString) cols = g_string_new(NULL);
	g_autoptr(GString) vals = g_string_new(NULL);
	const gchar *columns = exm_rest_sql_columns(model, FALSE);

	for (guint i = 0; i < sets->len; i++) {
		ExmRestSet *s = g_ptr_array_index(sets, i);
		g_ptr_array_add(params, s->text);
		if (i > 0) {
			g_string_append(cols, ", ");
			g_string_append(vals, ", ");
		}
		g_string_append_c(cols, '"');
		g_string_append(cols, s->field->name);
		g_string_append_c(cols, '"');
		exm_rest_sql_write_expr(vals, s->field->type, params->len);
	}
	return g_strconcat("INSERT INTO \"",
			   model->table,
			   "\" (",
			   cols->str,
			   ") VALUES (",
			   vals->str,
			   ") RETURNING ",
			   columns,
			   NULL);
}

gchar *
exm_rest_sql_update(const ExmRestModel *model,
		    GPtrArray *sets,
		    const gchar *now,
		    const gchar *id,
		    GPtrArray *params)
{
	GString *sql = g_string_new(NULL);
	const gchar *columns = exm_rest_sql_columns(model, FALSE);

	g_string_printf(sql, "UPDATE \"%s\" SET ", model->table);
	for (guint i = 0; i < sets->len; i++) {
		ExmRestSet *s = g_ptr_array_index(sets, i);
		g_ptr_array_add(params, s->text);
		g_string_append_printf(sql, "\"%s\" = ", s->field->name);
		exm_rest_sql_write_expr(sql, s->field->type, params->len);
		g_string_append(sql, ", ");
	}
	g_ptr_array_add(params, (gpointer)now);
	g_string_append_printf(
		sql,
		"\"updated_at\" = GREATEST(TIMESTAMP 'epoch' + $%u::bigint * "
		"INTERVAL '1 microsecond', \"updated_at\" + INTERVAL '1 microsecond')",
		params->len);
	g_ptr_array_add(params, (gpointer)id);
	g_string_append_printf(
		sql, " WHERE \"uuid\" = $%u::uuid RETURNING %s", params->len, columns);
	return g_string_free(sql, FALSE);
}

gchar *
exm_rest_sql_delete_where(const ExmRestModel *model, const gchar *field)
{
	return g_strdup_printf("DELETE FROM \"%s\" WHERE \"%s\" = $1::uuid", model->table, field);
}

gchar *
exm_rest_sql_lock(const ExmRestModel *model)
{
	return g_strdup_printf("SELECT 1 FROM \"%s\" WHERE \"uuid\" = $1::uuid FOR UPDATE",
			       model->table);
}

gchar *
exm_rest_sql_touch(const ExmRestModel *model)
{
	return g_strconcat("UPDATE \"",
			   model->table,
			   "\" SET \"updated_at\" = GREATEST(TIMESTAMP 'epoch' + $1::bigint * "
			   "INTERVAL '1 microsecond', \"updated_at\" + INTERVAL '1 microsecond') "
			   "WHERE \"uuid\" = $2::uuid",
			   NULL);
}
