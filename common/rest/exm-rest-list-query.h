/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * List queries: filters, sorting, sparse fieldsets and marker pagination
 * (docs/rest-conventions.md §4).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include "exm-rest-model.h"

G_BEGIN_DECLS

/**
 * ExmRestParam:
 * @key: decoded name
 * @value: decoded value
 *
 * One query-string parameter; repeated keys appear once per occurrence.
 */
typedef struct {
	const gchar *key;
	const gchar *value;
} ExmRestParam;

/**
 * ExmRestFilter:
 * @field: the filtered field
 * @values: accepted values as SQL text parameters (any of them matches)
 */
typedef struct {
	const ExmRestField *field;
	GPtrArray *values;
} ExmRestFilter;

/**
 * ExmRestListQuery:
 * @filters: #ExmRestFilter, ANDed
 * @limit: `page_limit`, 0 = unlimited
 * @marker: (nullable): `page_marker`, canonical UUID
 * @sort_key: (nullable): the `sort_key` field
 * @sort_desc: `sort_dir=desc`
 * @fields: (nullable): `fields` (sparse fieldset, API names), %NULL = all
 */
typedef struct {
	GPtrArray *filters;
	guint64 limit;
	gchar *marker;
	const ExmRestField *sort_key;
	gboolean sort_desc;
	GPtrArray *fields;
} ExmRestListQuery;

/**
 * exm_rest_list_query_parse:
 * @model: the listed model
 * @params: (array length=n_params): the query
 * @n_params: their number
 * @mount_prefix: for relationship filters given by URI
 * @error: 400 `ValidationFilterIncompatibleError` (unknown filter), 400
 *   `ParseError` (bad value, limit or marker), 404 `LocatorNotFound` (a
 *   relationship filter that is not a URI), 400 sort errors
 *
 * Returns: (transfer full): the query, or %NULL with @error set
 */
ExmRestListQuery *exm_rest_list_query_parse(const ExmRestModel *model,
					    const ExmRestParam *params,
					    gsize n_params,
					    const gchar *mount_prefix,
					    GError **error);
/**
 * exm_rest_list_query_free:
 * @query: (nullable): a query
 *
 * Frees @query.
 */
void exm_rest_list_query_free(ExmRestListQuery *query);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmRestListQuery, exm_rest_list_query_free)

/**
 * exm_rest_list_query_get_filter:
 * @query: a query
 * @name: a field name
 *
 * Returns: (nullable) (transfer none): the first filter on @name
 */
ExmRestFilter *exm_rest_list_query_get_filter(ExmRestListQuery *query, const gchar *name);

/**
 * exm_rest_list_query_add_filter:
 * @query: a query
 * @model: its model
 * @name: a field of @model
 * @value: the value as SQL text
 *
 * Adds a server-side `@name = @value` filter (project scope, parent id),
 * ANDed with every other filter, never merged into a client one.
 */
void exm_rest_list_query_add_filter(ExmRestListQuery *query,
				    const ExmRestModel *model,
				    const gchar *name,
				    const gchar *value);

G_END_DECLS
