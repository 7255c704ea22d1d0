/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * All SQL text of the toolkit, from the model declarations: identifiers are
 * the declared table and field names (quoted), values only ever parameters
 * ($1…) for PQexecParams.  Rows travel as canonical text per field: timestamps
 * as µs since the epoch, booleans as `true`/`false`, lists as JSON; a SELECT
 * list reads timestamps and booleans bare, and exm_rest_row_new() makes their
 * text canonical.  Pure: no connection here.
 */
#pragma once

#include <glib.h>

#include "exm-rest-list-query.h"
#include "exm-rest-model.h"

G_BEGIN_DECLS

/**
 * ExmRestSet:
 * @field: the column
 * @text: (nullable): its canonical SQL text, %NULL for NULL
 *
 * One column value to write (see exm-rest-set.h).
 */
typedef struct {
	const ExmRestField *field;
	gchar *text;
} ExmRestSet;

/**
 * exm_rest_sql_selected:
 * @field: a field
 * @with_hidden: whether hidden-on-read columns are wanted
 *
 * Returns: whether a SELECT list of exm_rest_sql_columns() carries @field
 */
gboolean exm_rest_sql_selected(const ExmRestField *field, gboolean with_hidden);

/**
 * exm_rest_sql_columns:
 * @model: a model
 * @with_hidden: include hidden-on-read columns (what an update compares)
 *
 * Returns: (transfer none): the SELECT list, each column as text that
 *   exm_rest_row_new() reads as canonical; built once per model and process
 *   and never freed
 */
const gchar *exm_rest_sql_columns(const ExmRestModel *model, gboolean with_hidden);

/**
 * exm_rest_sql_columns_of:
 * @model: a model
 * @fields: %NULL-terminated names of some of its fields, a static array
 *   (the list is built once per model and array, as exm_rest_sql_columns())
 *
 * Returns: (transfer none): the SELECT list of those of @fields that have a
 *   column, as exm_rest_sql_columns() writes each; never freed
 */
const gchar *exm_rest_sql_columns_of(const ExmRestModel *model, const gchar *const *fields);

/**
 * exm_rest_sql_write_expr:
 * @sql: where to append
 * @type: the column's type
 * @n: the parameter number
 *
 * Appends the expression writing the canonical text in $@n into a column.
 */
void exm_rest_sql_write_expr(GString *sql, ExmRestType type, guint n);

/**
 * exm_rest_sql_list:
 * @query: a parsed query
 * @model: its model
 * @columns: the SELECT list, e.g. `"uuid", "name"`
 * @params: (element-type utf8): receives the parameters ($1…), owned strings
 *
 * `SELECT <columns> FROM "<table>" WHERE <filters> [AND <marker>] ORDER BY
 * [<sort_key> <dir>,] "uuid" ASC [LIMIT n]`; values only as parameters.
 *
 * Returns: (transfer full): the SQL
 */
gchar *exm_rest_sql_list(const ExmRestListQuery *query,
			 const ExmRestModel *model,
			 const gchar *columns,
			 GPtrArray *params);

/**
 * exm_rest_sql_marker_check:
 * @query: a parsed query
 * @model: its model
 * @params: (element-type utf8): receives the parameters
 *
 * With a sort key other than `uuid`, the marker's sort value is looked up, so
 * the marker must name a row of the listed set (same filters); otherwise
 * upstream answers 404 (docs/rest-conventions.md §4.4).  This is that check.
 *
 * Returns: (transfer full) (nullable): `SELECT 1 FROM "<table>" WHERE
 *   <filters> AND "uuid" = <marker>`, or %NULL when no check is needed
 */
gchar *exm_rest_sql_marker_check(const ExmRestListQuery *query,
				 const ExmRestModel *model,
				 GPtrArray *params);

/**
 * exm_rest_sql_load:
 * @model: a model
 * @columns: the SELECT list: exm_rest_sql_columns() (with hidden-on-read
 *   columns or not) or exm_rest_sql_columns_of()
 * @id: the row's uuid
 * @scope: (nullable): a project_id the row must carry
 * @parent_field: (nullable): a column that must hold @parent_id
 * @parent_id: (nullable): the parent's uuid
 * @for_update: lock the row
 * @params: (element-type utf8): receives the parameters, owned strings
 *
 * Returns: (transfer full): `SELECT <columns> FROM <table> WHERE "uuid" = $1 …`
 */
gchar *exm_rest_sql_load(const ExmRestModel *model,
			 const gchar *columns,
			 const gchar *id,
			 const gchar *scope,
			 const gchar *parent_field,
			 const gchar *parent_id,
			 gboolean for_update,
			 GPtrArray *params);

/**
 * exm_rest_sql_insert:
 * @model: a model
 * @sets: (element-type ExmRestSet): the columns to write
 * @params: receives the parameters (borrowed from @sets)
 *
 * Returns: (transfer full): `INSERT … RETURNING <columns>`
 */
gchar *exm_rest_sql_insert(const ExmRestModel *model, GPtrArray *sets, GPtrArray *params);

/**
 * exm_rest_sql_update:
 * @model: a model
 * @sets: (element-type ExmRestSet): the changed columns
 * @now: the request's clock text (µs since the epoch)
 * @id: the row's uuid
 * @params: receives the parameters (borrowed)
 *
 * `updated_at` moves to @now, and strictly forward.
 *
 * Returns: (transfer full): `UPDATE … RETURNING <columns>`
 */
gchar *exm_rest_sql_update(const ExmRestModel *model,
			   GPtrArray *sets,
			   const gchar *now,
			   const gchar *id,
			   GPtrArray *params);

/**
 * exm_rest_sql_delete_where:
 * @model: a model
 * @field: a uuid column
 *
 * Returns: (transfer full): `DELETE FROM <table> WHERE <field> = $1::uuid`
 */
gchar *exm_rest_sql_delete_where(const ExmRestModel *model, const gchar *field);

/**
 * exm_rest_sql_lock:
 * @model: a model
 *
 * Returns: (transfer full): `SELECT 1 FROM <table> WHERE "uuid" = $1::uuid FOR UPDATE`
 */
gchar *exm_rest_sql_lock(const ExmRestModel *model);

/**
 * exm_rest_sql_touch:
 * @model: a model
 *
 * Returns: (transfer full): the UPDATE moving `updated_at` of row $2 to $1 (µs
 *   since the epoch), strictly forward
 */
gchar *exm_rest_sql_touch(const ExmRestModel *model);

G_END_DECLS
