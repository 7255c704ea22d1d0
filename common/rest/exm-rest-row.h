/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A loaded row: the canonical text of each field (exm-rest-sql.h), read by
 * column name, and written out as the API answers it.
 */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

#include "exm-rest-model.h"

G_BEGIN_DECLS

/**
 * ExmRestRow:
 * @model: its model
 * @raw: canonical text per field index (%NULL for SQL NULL or a field that
 *   was not selected)
 * @n_fields: the model's field count
 * @only: (nullable): a partial row's fields (exm_rest_sql_columns_of()),
 *   static; reading or writing any other is a programming error
 *   (g_critical()), not a silent SQL NULL
 */
typedef struct {
	const ExmRestModel *model;
	gchar **raw;
	guint n_fields;
	const gchar *const *only;
} ExmRestRow;

/**
 * exm_rest_row_new:
 * @model: the model
 * @res: a result whose columns are named after the model's fields
 * @row: the row number
 *
 * Every field of @model with a column of that name in @res is read.
 *
 * Returns: (transfer full): the row
 */
ExmRestRow *exm_rest_row_new(const ExmRestModel *model, PGresult *res, gint row);

/**
 * exm_rest_row_free:
 * @row: (nullable): a row
 *
 * Frees @row, wiping every value (hashes travel through rows).
 */
void exm_rest_row_free(ExmRestRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmRestRow, exm_rest_row_free)

/**
 * exm_rest_row_get:
 * @row: a row
 * @name: a field name
 *
 * Returns: (transfer none) (nullable): its canonical text
 */
const gchar *exm_rest_row_get(const ExmRestRow *row, const gchar *name);

/**
 * exm_rest_row_write:
 * @out: where to append
 * @row: a row
 * @mount: the mount prefix, for relationship URIs
 * @fields: (nullable): the sparse fieldset
 *
 * Appends the row as the API answers it: model order, nulls, hidden-on-read
 * fields and fields outside @fields left out (docs/rest-conventions.md §5).
 */
void exm_rest_row_write(GString *out, const ExmRestRow *row, const gchar *mount, GPtrArray *fields);

/**
 * exm_rest_row_parse_text_list:
 * @json: a list field's canonical text (a JSON list: exm_rest_row_get())
 * @out: (element-type utf8): receives copies of its strings
 *
 * Appends the strings of @json to @out; anything else is skipped.
 */
void exm_rest_row_parse_text_list(const gchar *json, GPtrArray *out);

G_END_DECLS
