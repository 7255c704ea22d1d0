/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * restalchemy's resource controllers over one table: list, get, create,
 * update and delete with gcl_iam policy checks and project scoping
 * (rest-conventions §2, §4, §6, §8.4), in upstream's order of checks (§3.3).
 * What is particular to a model lives in its ExmPluginKind hooks.
 */
#include "exm-plugin-private.h"

#include <string.h>

#include "exm-cleanup.h"
#include "exm-error.h"
#include "exm-uuid.h"

/* The SELECT list of answers, or with @with_hidden the one an update
 * compares against (password_hash included). */
static const gchar *
exm_plugin_crud_columns(ExmPluginRequest *r, const ExmPluginKind *kind, gboolean with_hidden)
{
	return with_hidden ? r->plugin->all_columns[kind->tag] : r->plugin->columns[kind->tag];
}

static void
exm_plugin_crud_forbidden(GError **error)
{
	g_set_error_literal(
		error, EXM_ERROR, EXM_ERROR_FORBIDDEN, "The request you have made is forbidden.");
}

/* The parent's uuid for a nested kind: the instance the walk loaded (and
 * checked) on its way, so lookups during the walk are scoped to it too. */
static const gchar *
exm_plugin_crud_parent_id(ExmPluginRequest *r)
{
	return r->parent != NULL ? exm_plugin_store_row_get(r->parent, "uuid") : NULL;
}

ExmPluginRow *
exm_plugin_crud_load(ExmPluginRequest *r,
		     const ExmPluginKind *kind,
		     const gchar *id,
		     gboolean for_update,
		     GError **error)
{
	g_autoptr(GString) sql = g_string_new(NULL);
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(PGresult) res = NULL;
	const gchar *scope = kind->scoped ? r->project : NULL;

	g_string_printf(sql,
			"SELECT %s FROM \"%s\" WHERE \"uuid\" = $1::uuid",
			exm_plugin_crud_columns(r, kind, for_update),
			kind->model->table);
	g_ptr_array_add(params, g_strdup(id));
	if (scope != NULL) {
		g_ptr_array_add(params, g_strdup(scope));
		g_string_append_printf(sql, " AND \"project_id\" = $%u::uuid", params->len);
	}
	if (kind->parent_field != NULL) {
		/* A nested row is only ever found below its loaded parent. */
		if (exm_plugin_crud_parent_id(r) == NULL) {
			exm_rest_set_not_found_error(error, kind->model, id, scope);
			return NULL;
		}
		g_ptr_array_add(params, g_strdup(exm_plugin_crud_parent_id(r)));
		g_string_append_printf(
			sql, " AND \"%s\" = $%u::uuid", kind->parent_field, params->len);
	}
	if (for_update)
		g_string_append(sql, " FOR UPDATE");
	res = exm_plugin_store_exec(r, kind->model, sql->str, params, error);
	if (res == NULL)
		return NULL;
	if (PQntuples(res) != 1) {
		exm_rest_set_not_found_error(error, kind->model, id, scope);
		return NULL;
	}
	return exm_plugin_store_row_new(kind->model, res, 0, for_update);
}

/* `?fields=` applies to every method (rest-conventions §4.5). */
static GPtrArray *
exm_plugin_crud_fields(ExmPluginRequest *r)
{
	GPtrArray *fields = NULL;

	for (gsize i = 0; i < r->req->n_query; i++) {
		if (g_strcmp0(r->req->query[i].key, "fields") != 0)
			continue;
		if (fields == NULL)
			fields = g_ptr_array_new();
		g_ptr_array_add(fields, (gpointer)r->req->query[i].value);
	}
	return fields;
}

/* The answer for one row, with read permissions: the API never echoes a
 * write-only or hidden field, not even in the 201 of a create. */
static void
exm_plugin_crud_answer_row(ExmPluginRequest *r, guint status, const ExmPluginRow *row)
{
	g_autoptr(GPtrArray) fields = exm_plugin_crud_fields(r);
	GString *out = g_string_sized_new(512);

	exm_plugin_store_row_write(out, row, r->mount, fields);
	r->resp->status = status;
	g_free(r->resp->body);
	r->resp->body = g_string_free(out, FALSE);
}

static ExmRestParam *
exm_plugin_crud_params(ExmPluginRequest *r)
{
	ExmRestParam *params = g_new0(ExmRestParam, r->req->n_query + 1);

	for (gsize i = 0; i < r->req->n_query; i++) {
		params[i].key = r->req->query[i].key;
		params[i].value = r->req->query[i].value;
	}
	return params;
}

/* A scoped identity lists its own project only; asking for another is a 403. */
static gboolean
exm_plugin_crud_scope_list(ExmPluginRequest *r,
			   const ExmPluginKind *kind,
			   ExmRestListQuery *q,
			   GError **error)
{
	ExmRestFilter *f;

	if (kind->scoped && r->project != NULL) {
		f = exm_rest_list_query_get_filter(q, "project_id");
		for (guint i = 0; f != NULL && i < f->values->len; i++) {
			if (g_strcmp0(g_ptr_array_index(f->values, i), r->project) != 0) {
				exm_plugin_crud_forbidden(error);
				return FALSE;
			}
		}
		exm_rest_list_query_add_filter(q, kind->model, "project_id", r->project);
	}
	if (kind->parent_field != NULL)
		exm_rest_list_query_add_filter(
			q, kind->model, kind->parent_field, exm_plugin_crud_parent_id(r));
	return TRUE;
}

static void
exm_plugin_crud_list_answer(ExmPluginRequest *r,
			    const ExmPluginKind *kind,
			    ExmRestListQuery *q,
			    PGresult *res)
{
	gint n = PQntuples(res);
	GString *out = g_string_sized_new(64 + 512 * (gsize)n);
	g_autofree gchar *last = NULL;

	g_string_append_c(out, '[');
	for (gint i = 0; i < n; i++) {
		g_autoptr(ExmPluginRow) row = exm_plugin_store_row_new(kind->model, res, i, FALSE);
		if (i > 0)
			g_string_append_c(out, ',');
		exm_plugin_store_row_write(out, row, r->mount, q->fields);
		if (i == n - 1)
			last = g_strdup(exm_plugin_store_row_get(row, "uuid"));
	}
	g_string_append_c(out, ']');
	r->resp->status = 200;
	g_free(r->resp->body);
	r->resp->body = g_string_free(out, FALSE);
	exm_rest_response_paginate(r->resp, q, (guint)n, last);
}

/* A marker with a sort key must name a listed row (404 otherwise). */
static gboolean
exm_plugin_crud_check_marker(ExmPluginRequest *r,
			     const ExmPluginKind *kind,
			     ExmRestListQuery *q,
			     GError **error)
{
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *sql = exm_rest_list_query_marker_sql(q, kind->model, params);
	g_autoptr(PGresult) res = NULL;

	if (sql == NULL)
		return TRUE;
	res = exm_plugin_store_exec(r, kind->model, sql, params, error);
	if (res == NULL)
		return FALSE;
	if (PQntuples(res) == 0) {
		exm_rest_set_not_found_error(
			error, kind->model, q->marker, kind->scoped ? r->project : NULL);
		return FALSE;
	}
	return TRUE;
}

static gboolean
exm_plugin_crud_list(ExmPluginRequest *r, const ExmPluginKind *kind, GError **error)
{
	g_autofree ExmRestParam *params = exm_plugin_crud_params(r);
	g_autoptr(ExmRestListQuery) q = NULL;
	g_autoptr(GPtrArray) sql_params = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *sql = NULL;
	g_autoptr(PGresult) res = NULL;

	q = exm_rest_list_query_parse(kind->model, params, r->req->n_query, r->mount, error);
	if (q == NULL || !exm_plugin_enforce(r, kind->policy, "read", error) ||
	    !exm_plugin_crud_scope_list(r, kind, q, error))
		return FALSE;
	if (!exm_plugin_crud_check_marker(r, kind, q, error))
		return FALSE;
	sql = exm_rest_list_query_sql(
		q, kind->model, exm_plugin_crud_columns(r, kind, FALSE), sql_params);
	res = exm_plugin_store_exec(r, kind->model, sql, sql_params, error);
	if (res == NULL)
		return FALSE;
	exm_plugin_crud_list_answer(r, kind, q, res);
	return TRUE;
}

static gboolean
exm_plugin_crud_get(ExmPluginRequest *r, const ExmPluginKind *kind, GError **error)
{
	g_autoptr(ExmPluginRow) row = NULL;

	if (!exm_plugin_enforce(r, kind->policy, "read", error))
		return FALSE;
	row = exm_plugin_crud_load(r, kind, r->match->id, FALSE, error);
	if (row == NULL)
		return FALSE;
	exm_plugin_crud_answer_row(r, 200, row);
	return TRUE;
}

/* Missing Content-Type means JSON; parameters after `;` are ignored (§2). */
static gboolean
exm_plugin_crud_content_type(ExmPluginRequest *r, GError **error)
{
	const gchar *ct = r->req->content_type;
	g_autofree gchar *base = NULL;

	if (ct == NULL || *ct == '\0')
		return TRUE;
	base = g_strstrip(g_strndup(ct, strcspn(ct, ";")));
	if (g_ascii_strcasecmp(base, "application/json") == 0)
		return TRUE;
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_PARSE_BODY,
		    "Packer can't found for content type %s",
		    g_utf8_validate(base, -1, NULL) ? base : "<invalid utf-8>");
	return FALSE;
}

static ExmRestBody *
exm_plugin_crud_unpack(ExmPluginRequest *r,
		       const ExmPluginKind *kind,
		       ExmRestMethod method,
		       GError **error)
{
	if (!exm_plugin_crud_content_type(r, error))
		return NULL;
	return exm_rest_body_unpack(
		kind->model, method, r->req->body, r->req->body_len, r->mount, error);
}

static const ExmPluginKind *
exm_plugin_crud_related_kind(const ExmRestField *f)
{
	if (g_strcmp0(f->related, "versions/") == 0)
		return exm_plugin_kind_for_tag(EXM_PLUGIN_ROUTE_VERSIONS);
	if (g_strcmp0(f->related, "instances/") == 0)
		return exm_plugin_kind_for_tag(EXM_PLUGIN_ROUTE_INSTANCES);
	return NULL;
}

/* Relationship values are resolved like upstream: through the target's own
 * controller (its `read` policy, its project scope, 404 when absent). */
static gboolean
exm_plugin_crud_resolve(ExmPluginRequest *r,
			const ExmPluginKind *kind,
			const ExmRestBody *body,
			GError **error)
{
	for (const ExmRestField *f = kind->model->fields; f->name != NULL; f++) {
		const ExmRestValue *v = exm_rest_body_get(body, f->name);
		const ExmPluginKind *target;
		g_autoptr(ExmPluginRow) row = NULL;

		if (v == NULL || v->is_null || f->type != EXM_REST_TYPE_RELATIONSHIP)
			continue;
		target = exm_plugin_crud_related_kind(f);
		if (target == NULL)
			continue;
		if (!exm_plugin_enforce(r, target->policy, "read", error))
			return FALSE;
		row = exm_plugin_crud_load(r, target, v->str, FALSE, error);
		if (row == NULL)
			return FALSE;
	}
	return TRUE;
}

static void
exm_plugin_crud_sets_from_body(const ExmRestBody *body, const ExmRestModel *model, GPtrArray *sets)
{
	for (const ExmRestField *f = model->fields; f->name != NULL; f++) {
		const ExmRestValue *v = exm_rest_body_get(body, f->name);
		g_autofree gchar *text = NULL;
		if (v == NULL || (f->flags & EXM_REST_FIELD_NO_COLUMN) != 0)
			continue;
		text = exm_plugin_store_value_text(v);
		exm_plugin_store_sets_put(sets, model, f->name, text);
		if (text != NULL)
			exm_secret_wipe(text, strlen(text));
	}
}

/* project_id at create: a scoped identity may only name its own project;
 * absent, it comes from the parent (nested) or the identity's scope. */
static gboolean
exm_plugin_crud_create_project(ExmPluginRequest *r,
			       const ExmPluginKind *kind,
			       GPtrArray *sets,
			       GError **error)
{
	ExmPluginSet *p = exm_plugin_store_sets_find(sets, "project_id");
	const gchar *value = p != NULL ? p->text : NULL;

	if (exm_rest_model_field(kind->model, "project_id") == NULL)
		return TRUE;
	if (value != NULL && r->project != NULL && g_strcmp0(value, r->project) != 0) {
		exm_plugin_crud_forbidden(error);
		return FALSE;
	}
	if (value == NULL && r->parent != NULL && kind->parent_field != NULL)
		value = exm_plugin_store_row_get(r->parent, "project_id");
	if (value == NULL)
		value = r->project;
	if (value == NULL) {
		exm_rest_set_required_error(error, kind->model, "project_id");
		return FALSE;
	}
	exm_plugin_store_sets_put(sets, kind->model, "project_id", value);
	return TRUE;
}

static gboolean
exm_plugin_crud_check_required(const ExmPluginKind *kind, GPtrArray *sets, GError **error)
{
	for (const ExmRestField *f = kind->model->fields; f->name != NULL; f++) {
		ExmPluginSet *s;
		if ((f->flags & EXM_REST_FIELD_REQUIRED) == 0)
			continue;
		s = exm_plugin_store_sets_find(sets, f->name);
		if (s == NULL || s->text == NULL) {
			exm_rest_set_required_error(error, kind->model, f->name);
			return FALSE;
		}
	}
	return TRUE;
}

/* INSERT … RETURNING the row; values only as parameters. */
static ExmPluginRow *
exm_plugin_crud_insert(ExmPluginRequest *r,
		       const ExmPluginKind *kind,
		       GPtrArray *sets,
		       GError **error)
{
	g_autoptr(GString) cols = g_string_new(NULL);
	g_autoptr(GString) vals = g_string_new(NULL);
	g_autoptr(GPtrArray) params = g_ptr_array_new();
	g_autofree gchar *sql = NULL;
	g_autoptr(PGresult) res = NULL;

	for (guint i = 0; i < sets->len; i++) {
		ExmPluginSet *s = g_ptr_array_index(sets, i);
		g_ptr_array_add(params, s->text);
		g_string_append_printf(cols, "%s\"%s\"", i > 0 ? ", " : "", s->field->name);
		if (i > 0)
			g_string_append(vals, ", ");
		exm_plugin_store_append_write_expr(vals, s->field->type, params->len);
	}
	sql = g_strdup_printf("INSERT INTO \"%s\" (%s) VALUES (%s) RETURNING %s",
			      kind->model->table,
			      cols->str,
			      vals->str,
			      exm_plugin_crud_columns(r, kind, FALSE));
	res = exm_plugin_store_exec(r, kind->model, sql, params, error);
	if (res == NULL)
		return NULL;
	return exm_plugin_store_row_new(kind->model, res, 0, FALSE);
}

static void
exm_plugin_crud_location(ExmPluginRequest *r, const ExmPluginKind *kind, const gchar *id)
{
	g_autofree gchar *loc = NULL;

	if (kind->parent_field != NULL)
		loc = g_strdup_printf("%s%sinstances/%s/%s/%s",
				      r->req->base_url,
				      r->mount,
				      exm_plugin_crud_parent_id(r),
				      r->match->route->name,
				      id);
	else
		loc = g_strdup_printf(
			"%s%s%s/%s", r->req->base_url, r->mount, r->match->route->name, id);
	exm_rest_response_add_header(r->resp, "Location", loc);
}

static gboolean
exm_plugin_crud_create_sets(ExmPluginRequest *r,
			    const ExmPluginKind *kind,
			    const ExmRestBody *body,
			    GPtrArray *sets,
			    GError **error)
{
	g_autofree gchar *now = g_strdup_printf("%" G_GINT64_FORMAT, r->now);
	g_autofree gchar *uuid = NULL;

	exm_plugin_crud_sets_from_body(body, kind->model, sets);
	if (!exm_plugin_crud_create_project(r, kind, sets, error))
		return FALSE;
	if (kind->parent_field != NULL &&
	    exm_plugin_store_sets_find(sets, kind->parent_field) == NULL)
		exm_plugin_store_sets_put(
			sets, kind->model, kind->parent_field, exm_plugin_crud_parent_id(r));
	if (!exm_plugin_crud_check_required(kind, sets, error))
		return FALSE;
	if (kind->prepare != NULL && !kind->prepare(r, body, NULL, sets, error))
		return FALSE;
	if (exm_plugin_store_sets_find(sets, "uuid") == NULL) {
		uuid = exm_uuid4();
		exm_plugin_store_sets_put(sets, kind->model, "uuid", uuid);
	}
	if (exm_plugin_store_sets_find(sets, "created_at") == NULL)
		exm_plugin_store_sets_put(sets, kind->model, "created_at", now);
	if (exm_plugin_store_sets_find(sets, "updated_at") == NULL)
		exm_plugin_store_sets_put(sets, kind->model, "updated_at", now);
	return TRUE;
}

static gboolean
exm_plugin_crud_create(ExmPluginRequest *r, const ExmPluginKind *kind, GError **error)
{
	g_autoptr(ExmRestBody) body = exm_plugin_crud_unpack(r, kind, EXM_REST_CREATE, error);
	g_autoptr(GPtrArray) sets = exm_plugin_store_sets_new();
	g_autoptr(ExmPluginRow) row = NULL;

	if (body == NULL || !exm_plugin_crud_resolve(r, kind, body, error) ||
	    !exm_plugin_enforce(r, kind->policy, "create", error) ||
	    !exm_plugin_crud_create_sets(r, kind, body, sets, error))
		return FALSE;
	if (kind->before_write != NULL && !kind->before_write(r, error))
		return FALSE;
	row = exm_plugin_crud_insert(r, kind, sets, error);
	if (row == NULL)
		return FALSE;
	if (kind->after_write != NULL && !kind->after_write(r, error))
		return FALSE;
	exm_plugin_crud_answer_row(r, 201, row);
	exm_plugin_crud_location(r, kind, exm_plugin_store_row_get(row, "uuid"));
	return TRUE;
}

/* Update checks on fixed values: the body's uuid must be the URL's, a scoped
 * identity may not name a foreign project, model read-only values may be
 * re-sent but not changed. */
static gboolean
exm_plugin_crud_update_fixed(ExmPluginRequest *r,
			     const ExmPluginKind *kind,
			     const ExmRestBody *body,
			     const ExmPluginRow *row,
			     GError **error)
{
	const ExmRestValue *p = exm_rest_body_get(body, "project_id");

	if (p != NULL && r->project != NULL && g_strcmp0(p->str, r->project) != 0) {
		exm_plugin_crud_forbidden(error);
		return FALSE;
	}
	for (const ExmRestField *f = kind->model->fields; f->name != NULL; f++) {
		const ExmRestValue *v = exm_rest_body_get(body, f->name);
		g_autofree gchar *text = NULL;
		if (v == NULL || (f->flags & EXM_REST_FIELD_READ_ONLY) == 0 ||
		    g_strcmp0(f->name, "uuid") == 0)
			continue;
		text = exm_plugin_store_value_text(v);
		if (g_strcmp0(text, exm_plugin_store_row_get(row, f->name)) != 0) {
			exm_rest_set_read_only_error(error, kind->model, f->name);
			return FALSE;
		}
	}
	return TRUE;
}

/* Drops the sets that would not change the row (dirty tracking, §6.4). */
static void
exm_plugin_crud_keep_changes(GPtrArray *sets, const ExmPluginRow *row)
{
	for (guint i = sets->len; i > 0; i--) {
		ExmPluginSet *s = g_ptr_array_index(sets, i - 1);
		if (g_strcmp0(s->text, exm_plugin_store_row_get(row, s->field->name)) == 0)
			g_ptr_array_remove_index(sets, i - 1);
	}
}

static ExmPluginRow *
exm_plugin_crud_write_update(ExmPluginRequest *r,
			     const ExmPluginKind *kind,
			     GPtrArray *sets,
			     GError **error)
{
	g_autoptr(GString) sql = g_string_new(NULL);
	g_autoptr(GPtrArray) params = g_ptr_array_new();
	g_autofree gchar *now = g_strdup_printf("%" G_GINT64_FORMAT, r->now);
	g_autoptr(PGresult) res = NULL;

	g_string_printf(sql, "UPDATE \"%s\" SET ", kind->model->table);
	for (guint i = 0; i < sets->len; i++) {
		ExmPluginSet *s = g_ptr_array_index(sets, i);
		g_ptr_array_add(params, s->text);
		g_string_append_printf(sql, "\"%s\" = ", s->field->name);
		exm_plugin_store_append_write_expr(sql, s->field->type, params->len);
		g_string_append(sql, ", ");
	}
	g_ptr_array_add(params, now);
	g_string_append_printf(
		sql,
		"\"updated_at\" = GREATEST(TIMESTAMP 'epoch' + $%u::bigint * "
		"INTERVAL '1 microsecond', \"updated_at\" + INTERVAL '1 microsecond')",
		params->len);
	g_ptr_array_add(params, r->match->id);
	g_string_append_printf(sql,
			       " WHERE \"uuid\" = $%u::uuid RETURNING %s",
			       params->len,
			       exm_plugin_crud_columns(r, kind, FALSE));
	res = exm_plugin_store_exec(r, kind->model, sql->str, params, error);
	if (res == NULL)
		return NULL;
	return exm_plugin_store_row_new(kind->model, res, 0, FALSE);
}

static gboolean
exm_plugin_crud_update_uuid(ExmPluginRequest *r, const ExmRestBody *body, GError **error)
{
	const ExmRestValue *u = exm_rest_body_get(body, "uuid");

	if (u == NULL || g_strcmp0(u->str, r->match->id) == 0)
		return TRUE;
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_NOT_EQUAL_UUID,
		    "Uuid (%s) in body is not equal to parsed id (%s) from url.",
		    u->str,
		    r->match->id);
	return FALSE;
}

static gboolean
exm_plugin_crud_update(ExmPluginRequest *r, const ExmPluginKind *kind, GError **error)
{
	g_autoptr(ExmRestBody) body = exm_plugin_crud_unpack(r, kind, EXM_REST_UPDATE, error);
	g_autoptr(GPtrArray) sets = exm_plugin_store_sets_new();
	g_autoptr(ExmPluginRow) row = NULL;
	g_autoptr(ExmPluginRow) updated = NULL;

	if (body == NULL || !exm_plugin_crud_update_uuid(r, body, error) ||
	    !exm_plugin_enforce(r, kind->policy, "update", error))
		return FALSE;
	if (kind->before_write != NULL && !kind->before_write(r, error))
		return FALSE;
	row = exm_plugin_crud_load(r, kind, r->match->id, TRUE, error);
	if (row == NULL || !exm_plugin_crud_update_fixed(r, kind, body, row, error))
		return FALSE;
	exm_plugin_crud_sets_from_body(body, kind->model, sets);
	if (kind->prepare != NULL && !kind->prepare(r, body, row, sets, error))
		return FALSE;
	exm_plugin_crud_keep_changes(sets, row);
	if (sets->len == 0) {
		exm_plugin_crud_answer_row(r, 200, row);
		return TRUE;
	}
	updated = exm_plugin_crud_write_update(r, kind, sets, error);
	if (updated == NULL)
		return FALSE;
	if (kind->after_write != NULL && !kind->after_write(r, error))
		return FALSE;
	exm_plugin_crud_answer_row(r, 200, updated);
	return TRUE;
}

static gboolean
exm_plugin_crud_delete(ExmPluginRequest *r, const ExmPluginKind *kind, GError **error)
{
	g_autoptr(ExmPluginRow) row = NULL;
	g_autoptr(GPtrArray) params = g_ptr_array_new();
	g_autofree gchar *sql = NULL;
	g_autoptr(PGresult) res = NULL;

	if (!exm_plugin_enforce(r, kind->policy, "delete", error))
		return FALSE;
	if (kind->before_write != NULL && !kind->before_write(r, error))
		return FALSE;
	row = exm_plugin_crud_load(r, kind, r->match->id, TRUE, error);
	if (row == NULL)
		return FALSE;
	if (kind->before_delete != NULL && !kind->before_delete(r, row, error))
		return FALSE;
	g_ptr_array_add(params, r->match->id);
	sql = g_strdup_printf("DELETE FROM \"%s\" WHERE \"uuid\" = $1::uuid", kind->model->table);
	res = exm_plugin_store_exec(r, kind->model, sql, params, error);
	if (res == NULL)
		return FALSE;
	if (kind->after_write != NULL && !kind->after_write(r, error))
		return FALSE;
	exm_rest_response_set_json(r->resp, 204, NULL);
	return TRUE;
}

void
exm_plugin_crud_dispatch(ExmPluginRequest *r, const ExmPluginKind *kind)
{
	g_autoptr(GError) error = NULL;
	gboolean ok = FALSE;

	switch (r->match->method) {
	case EXM_REST_FILTER:
		ok = exm_plugin_crud_list(r, kind, &error);
		break;
	case EXM_REST_GET:
		ok = exm_plugin_crud_get(r, kind, &error);
		break;
	case EXM_REST_CREATE:
		ok = exm_plugin_crud_create(r, kind, &error);
		break;
	case EXM_REST_UPDATE:
		ok = exm_plugin_crud_update(r, kind, &error);
		break;
	case EXM_REST_DELETE:
		ok = exm_plugin_crud_delete(r, kind, &error);
		break;
	default:
		g_set_error_literal(
			&error, EXM_ERROR, EXM_ERROR_NOT_IMPLEMENTED, "Not implemented.");
		break;
	}
	if (!ok)
		exm_rest_response_set_error(r->resp, error);
}
