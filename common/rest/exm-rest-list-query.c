/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * List queries (see exm-rest-list-query.h).
 */
#include "exm-rest-list-query.h"

#include "exm-error.h"
#include "exm-time.h"
#include "exm-uuid.h"

static void
filter_free(ExmRestFilter *f)
{
	g_ptr_array_unref(f->values);
	g_free(f);
}

void
exm_rest_list_query_free(ExmRestListQuery *query)
{
	if (query == NULL)
		return;
	g_ptr_array_unref(query->filters);
	g_free(query->marker);
	if (query->fields != NULL)
		g_ptr_array_unref(query->fields);
	g_free(query);
}

ExmRestFilter *
exm_rest_list_query_get_filter(ExmRestListQuery *query, const gchar *name)
{
	for (guint i = 0; i < query->filters->len; i++) {
		ExmRestFilter *f = g_ptr_array_index(query->filters, i);
		if (g_strcmp0(f->field->name, name) == 0)
			return f;
	}
	return NULL;
}

static ExmRestFilter *
filter_new(ExmRestListQuery *query, const ExmRestField *field)
{
	ExmRestFilter *f = g_new0(ExmRestFilter, 1);

	f->field = field;
	f->values = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(query->filters, f);
	return f;
}

void
exm_rest_list_query_add_filter(ExmRestListQuery *query,
			       const ExmRestModel *model,
			       const gchar *name,
			       const gchar *value)
{
	const ExmRestField *field = exm_rest_model_field(model, name);
	ExmRestFilter *f;

	g_return_if_fail(field != NULL);
	/* A new filter, never merged into a client one: server filters AND. */
	f = filter_new(query, field);
	g_ptr_array_add(f->values, g_strdup(value));
}

static gchar *
filter_value(const ExmRestField *field,
	     const gchar *value,
	     const gchar *mount_prefix,
	     GError **error)
{
	gint64 n;

	switch (field->type) {
	case EXM_REST_TYPE_UUID:
		return exm_uuid_parse_lenient(value, field->name, error);
	case EXM_REST_TYPE_RELATIONSHIP:
		return exm_rest_model_parse_relationship(
			value, mount_prefix, field->related, error);
	case EXM_REST_TYPE_INTEGER:
		if (!g_ascii_string_to_signed(value, 10, G_MININT64, G_MAXINT64, &n, NULL))
			break;
		return g_strdup_printf("%" G_GINT64_FORMAT, n);
	case EXM_REST_TYPE_BOOLEAN:
		return g_strdup(g_ascii_strcasecmp(value, "yes") == 0 ||
						g_ascii_strcasecmp(value, "true") == 0 ||
						g_strcmp0(value, "1") == 0
					? "true"
					: "false");
	case EXM_REST_TYPE_TIMESTAMP:
		if (!exm_time_parse(value, &n))
			break;
		return exm_time_format(n);
	default:
		return g_strdup(value);
	}
	g_set_error(
		error, EXM_ERROR, EXM_ERROR_PARSE, "Can't parse value: %s=%s.", field->name, value);
	return NULL;
}

static gboolean
query_add_client_filter(ExmRestListQuery *query,
			const ExmRestModel *model,
			const ExmRestParam *p,
			const gchar *mount_prefix,
			GError **error)
{
	const ExmRestField *field = exm_rest_model_field(model, p->key);
	ExmRestFilter *f;
	gchar *value;

	/* Secret columns (password hashes) are no filter: that would be an
	 * oracle on their values.  Upstream allows it; we refuse. */
	if (field == NULL ||
	    (field->flags & (EXM_REST_FIELD_NO_COLUMN | EXM_REST_FIELD_SECRET)) != 0 ||
	    field->type == EXM_REST_TYPE_OBJECT) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_FILTER_INCOMPATIBLE,
			    "Filter '%s' is not supported",
			    p->key);
		return FALSE;
	}
	value = filter_value(field, p->value, mount_prefix, error);
	if (value == NULL)
		return FALSE;
	f = exm_rest_list_query_get_filter(query, field->name);
	if (f == NULL)
		f = filter_new(query, field);
	g_ptr_array_add(f->values, value);
	return TRUE;
}

static gboolean
query_set_limit(ExmRestListQuery *query, const gchar *value, GError **error)
{
	guint64 n;

	if (!g_ascii_string_to_unsigned(value, 10, 0, G_MAXINT32, &n, NULL)) {
		g_set_error(error, EXM_ERROR, EXM_ERROR_PARSE, "Can't parse value: %s.", value);
		return FALSE;
	}
	query->limit = n;
	return TRUE;
}

/* sort_key/sort_dir: one key at most (paginated controllers), dirs matching. */
static gboolean
query_set_sort(ExmRestListQuery *query,
	       const ExmRestModel *model,
	       GPtrArray *keys,
	       GPtrArray *dirs,
	       GError **error)
{
	const ExmRestField *field;

	for (guint i = 0; i < dirs->len; i++) {
		const gchar *d = g_ptr_array_index(dirs, i);
		if (g_ascii_strcasecmp(d, "asc") != 0 && g_ascii_strcasecmp(d, "desc") != 0) {
			g_set_error(error,
				    EXM_ERROR,
				    EXM_ERROR_SORT_DIR,
				    "Direction %s is not valid for sorting.",
				    d);
			return FALSE;
		}
	}
	if (keys->len == 0)
		return TRUE;
	if (dirs->len > 0 && dirs->len != keys->len) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_SORT_COUNT,
				    "Number of sort keys and directions is not equal.");
		return FALSE;
	}
	if (keys->len > 1) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_SORT_NUMBER,
				    "Only one field can be sorted with such request.");
		return FALSE;
	}
	field = exm_rest_model_field(model, g_ptr_array_index(keys, 0));
	if (field == NULL ||
	    (field->flags & (EXM_REST_FIELD_NO_COLUMN | EXM_REST_FIELD_SECRET)) != 0 ||
	    field->type == EXM_REST_TYPE_STRING_LIST || field->type == EXM_REST_TYPE_OBJECT) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_VALIDATION,
			    "sort key '%s' is not supported",
			    (const gchar *)g_ptr_array_index(keys, 0));
		return FALSE;
	}
	query->sort_key = field;
	query->sort_desc =
		dirs->len > 0 && g_ascii_strcasecmp(g_ptr_array_index(dirs, 0), "desc") == 0;
	return TRUE;
}

static gboolean
query_param(ExmRestListQuery *query,
	    const ExmRestModel *model,
	    const ExmRestParam *p,
	    const gchar *mount_prefix,
	    GPtrArray *keys,
	    GPtrArray *dirs,
	    GError **error)
{
	if (p->key == NULL || p->value == NULL || !g_utf8_validate(p->key, -1, NULL) ||
	    !g_utf8_validate(p->value, -1, NULL)) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_PARSE,
				    "Can't parse value: the query string is not valid utf-8.");
		return FALSE;
	}
	if (g_strcmp0(p->key, "page_limit") == 0)
		return query_set_limit(query, p->value, error);
	if (g_strcmp0(p->key, "page_marker") == 0) {
		g_free(query->marker);
		query->marker = exm_uuid_parse_lenient(p->value, "uuid", error);
		return query->marker != NULL;
	}
	if (g_strcmp0(p->key, "sort_key") == 0) {
		g_ptr_array_add(keys, (gpointer)p->value);
		return TRUE;
	}
	if (g_strcmp0(p->key, "sort_dir") == 0) {
		g_ptr_array_add(dirs, (gpointer)p->value);
		return TRUE;
	}
	if (g_strcmp0(p->key, "fields") == 0) {
		if (query->fields == NULL)
			query->fields = g_ptr_array_new_with_free_func(g_free);
		g_ptr_array_add(query->fields, g_strdup(p->value));
		return TRUE;
	}
	return query_add_client_filter(query, model, p, mount_prefix, error);
}

ExmRestListQuery *
exm_rest_list_query_parse(const ExmRestModel *model,
			  const ExmRestParam *params,
			  gsize n_params,
			  const gchar *mount_prefix,
			  GError **error)
{
	g_autoptr(ExmRestListQuery) query = g_new0(ExmRestListQuery, 1);
	g_autoptr(GPtrArray) keys = g_ptr_array_new();
	g_autoptr(GPtrArray) dirs = g_ptr_array_new();

	query->filters = g_ptr_array_new_with_free_func((GDestroyNotify)filter_free);
	for (gsize i = 0; i < n_params; i++) {
		if (!query_param(query, model, &params[i], mount_prefix, keys, dirs, error))
			// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
			return NULL;
	}
	if (!query_set_sort(query, model, keys, dirs, error))
		return NULL;
	return g_steal_pointer(&query);
}
