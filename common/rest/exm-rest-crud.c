/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The resource controllers (see exm-rest-crud.h).
 */
#include "exm-rest-crud.h"

#include <string.h>

#include "exm-cleanup.h"
#include "exm-error.h"
#include "exm-json.h"
#include "exm-secret.h"
#include "exm-rest-set.h"
#include "exm-rest-sql.h"
#include "exm-time.h"
#include "exm-uuid.h"

/* Runs a write … RETURNING the row; no row back means the row went away
 * under the transaction. */
static ExmRestRow *
crud_write(ExmRestCrud *r,
	   const ExmRestKind *kind,
	   const gchar *sql,
	   GPtrArray *params,
	   GError **error)
{
	ExmRestRow *row = NULL;

	if (!exm_rest_store_one(&r->store, kind->model, sql, params, &row, error))
		return NULL;
	if (row == NULL)
		g_set_error_literal(
			error, EXM_ERROR, EXM_ERROR_FAILED, "the write returned no row");
	return row;
}

static void
crud_forbidden(GError **error)
{
	g_set_error_literal(
		error, EXM_ERROR, EXM_ERROR_FORBIDDEN, "The request you have made is forbidden.");
}

/* The parent's uuid for a nested kind: the parent row the walk loaded (and
 * checked) on its way, so lookups during the walk are scoped to it too. */
static const gchar *
crud_parent_id(ExmRestCrud *r)
{
	return r->parent != NULL ? exm_rest_row_get(r->parent, "uuid") : NULL;
}

gboolean
exm_rest_crud_enforce(ExmRestCrud *r, const gchar *policy, const gchar *action, GError **error)
{
	g_autofree gchar *rule = g_strconcat(policy, ".", action, NULL);

	return exm_rest_enforcer_check(r->enforcer, rule, error);
}

/* @only: (nullable): the fields to load, else every one (hidden ones too
 * with @with_hidden). */
static ExmRestRow *
crud_load_row(ExmRestCrud *r,
	      const ExmRestKind *kind,
	      const gchar *id,
	      gboolean with_hidden,
	      gboolean for_update,
	      const gchar *const *only,
	      GError **error)
{
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	const gchar *some = only != NULL ? exm_rest_sql_columns_of(kind->model, only) : NULL;
	g_autofree gchar *sql = NULL;
	const gchar *scope = kind->scoped ? r->project : NULL;
	ExmRestRow *row = NULL;

	/* A nested row is only ever found below its loaded parent. */
	if (kind->parent_field != NULL && crud_parent_id(r) == NULL) {
		exm_rest_model_error_not_found(error, kind->model, id, scope);
		return NULL;
	}
	sql = exm_rest_sql_load(kind->model,
				some != NULL ? some
					     : exm_rest_sql_columns(kind->model, with_hidden),
				id,
				scope,
				kind->parent_field,
				crud_parent_id(r),
				for_update,
				params);
	if (!exm_rest_store_one(&r->store, kind->model, sql, params, &row, error))
		return NULL;
	if (row == NULL)
		exm_rest_model_error_not_found(error, kind->model, id, scope);
	else
		row->only = only;
	return row;
}

ExmRestRow *
exm_rest_crud_load(ExmRestCrud *r,
		   const ExmRestKind *kind,
		   const gchar *id,
		   gboolean for_update,
		   GError **error)
{
	return crud_load_row(r, kind, id, for_update, for_update, NULL, error);
}

gboolean
exm_rest_crud_load_parent(ExmRestCrud *r, const ExmRestKind *kind, const gchar *id, GError **error)
{
	gboolean lock = kind == r->lock_parent;

	if (!exm_rest_crud_enforce(r, kind->policy, "read", error))
		return FALSE;
	g_clear_pointer(&r->parent, exm_rest_row_free);
	r->parent = crud_load_row(r, kind, id, FALSE, lock, lock ? r->parent_fields : NULL, error);
	r->parent_locked = lock && r->parent != NULL;
	return r->parent != NULL;
}

/* A create (POST on a collection) of a kind whose writes lock its parent:
 * that kind, whose parent the walk then loads `FOR UPDATE`. */
static const ExmRestKind *
crud_create_lock(ExmRestCrud *r, const gchar *http_method, const gchar *path)
{
	g_autofree gchar *trimmed = g_strdup(path);
	const gchar *last;

	if (g_strcmp0(http_method, "POST") != 0)
		return NULL;
	while (*trimmed != '\0' && g_str_has_suffix(trimmed, "/"))
		trimmed[strlen(trimmed) - 1] = '\0';
	last = strrchr(trimmed, '/');
	last = last != NULL ? last + 1 : trimmed;
	for (guint i = 0; r->kinds != NULL && r->kinds[i] != NULL; i++) {
		const ExmRestKind *k = r->kinds[i];

		if (k->locks_parent && k->parent != NULL && g_str_equal(k->route->name, last))
			return k;
	}
	return NULL;
}

const ExmRestKind *
exm_rest_crud_kind_for_route(ExmRestCrud *r, const ExmRestRoute *route)
{
	for (guint i = 0; r->kinds != NULL && r->kinds[i] != NULL; i++) {
		if (r->kinds[i]->route == route)
			return r->kinds[i];
	}
	return NULL;
}

/* Whether some kind of the mount is nested below @kind. */
static gboolean
crud_is_parent(ExmRestCrud *r, const ExmRestKind *kind)
{
	for (guint i = 0; r->kinds != NULL && r->kinds[i] != NULL; i++) {
		if (r->kinds[i]->parent == kind)
			return TRUE;
	}
	return FALSE;
}

gboolean
exm_rest_crud_walk_load(const ExmRestRoute *route,
			const gchar *id,
			GPtrArray *parents,
			gpointer user_data,
			GError **error)
{
	ExmRestCrud *r = user_data;
	const ExmRestKind *kind = exm_rest_crud_kind_for_route(r, route);
	g_autoptr(ExmRestRow) row = NULL;

	if (kind == NULL) {
		g_set_error(error, EXM_ERROR, EXM_ERROR_FAILED, "no kind serves %s", route->name);
		return FALSE;
	}
	if (crud_is_parent(r, kind))
		return exm_rest_crud_load_parent(r, kind, id, error);
	if (!exm_rest_crud_enforce(r, kind->policy, "read", error))
		return FALSE;
	row = exm_rest_crud_load(r, kind, id, FALSE, error);
	return row != NULL;
}

/* `?fields=` applies to every method (docs/rest-conventions.md §4.5). */
static GPtrArray *
crud_fields(ExmRestCrud *r)
{
	GPtrArray *fields = NULL;

	for (gsize i = 0; i < r->n_query; i++) {
		if (g_strcmp0(r->query[i].key, "fields") != 0)
			continue;
		if (fields == NULL)
			fields = g_ptr_array_new();
		g_ptr_array_add(fields, (gpointer)r->query[i].value);
	}
	return fields;
}

/* The answer for one row, with read permissions: the API never echoes a
 * write-only or hidden field, not even in the 201 of a create. */
static void
crud_answer_row(ExmRestCrud *r, guint status, const ExmRestRow *row)
{
	g_autoptr(GPtrArray) fields = crud_fields(r);
	GString *out = g_string_sized_new(512);

	exm_rest_row_write(out, row, r->mount, fields);
	r->resp->status = status;
	g_free(r->resp->body);
	r->resp->body = g_string_free(out, FALSE);
}

/* A scoped identity lists its own project only; asking for another is a 403. */
static gboolean
crud_scope_list(ExmRestCrud *r, const ExmRestKind *kind, ExmRestListQuery *q, GError **error)
{
	if (kind->scoped && r->project != NULL) {
		ExmRestFilter *f = exm_rest_list_query_get_filter(q, "project_id");

		for (guint i = 0; f != NULL && i < f->values->len; i++) {
			if (g_strcmp0(g_ptr_array_index(f->values, i), r->project) != 0) {
				crud_forbidden(error);
				return FALSE;
			}
		}
		exm_rest_list_query_add_filter(q, kind->model, "project_id", r->project);
	}
	if (kind->parent_field != NULL)
		exm_rest_list_query_add_filter(
			q, kind->model, kind->parent_field, crud_parent_id(r));
	return TRUE;
}

static void
crud_list_answer(ExmRestCrud *r, const ExmRestKind *kind, ExmRestListQuery *q, PGresult *res)
{
	gint n = PQntuples(res);
	GString *out = g_string_sized_new(64 + 512 * (gsize)n);
	g_autofree gchar *last = NULL;

	g_string_append_c(out, '[');
	for (gint i = 0; i < n; i++) {
		g_autoptr(ExmRestRow) row = exm_rest_row_new(kind->model, res, i);
		if (i > 0)
			g_string_append_c(out, ',');
		exm_rest_row_write(out, row, r->mount, q->fields);
		if (i == n - 1)
			last = g_strdup(exm_rest_row_get(row, "uuid"));
	}
	g_string_append_c(out, ']');
	r->resp->status = 200;
	g_free(r->resp->body);
	r->resp->body = g_string_free(out, FALSE);
	exm_rest_response_paginate(r->resp, q, (guint)n, last);
}

/* A marker with a sort key must name a listed row (404 otherwise). */
static gboolean
crud_check_marker(ExmRestCrud *r, const ExmRestKind *kind, ExmRestListQuery *q, GError **error)
{
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *sql = exm_rest_sql_marker_check(q, kind->model, params);
	g_autoptr(PGresult) res = NULL;

	if (sql == NULL)
		return TRUE;
	res = exm_rest_store_exec(&r->store, kind->model, sql, params, error);
	if (res == NULL)
		return FALSE;
	if (PQntuples(res) == 0) {
		exm_rest_model_error_not_found(
			error, kind->model, q->marker, kind->scoped ? r->project : NULL);
		return FALSE;
	}
	return TRUE;
}

static gboolean
crud_list(ExmRestCrud *r, const ExmRestKind *kind, GError **error)
{
	g_autoptr(ExmRestListQuery) q = NULL;
	g_autoptr(GPtrArray) sql_params = g_ptr_array_new_with_free_func(g_free);
	const gchar *columns;
	g_autofree gchar *sql = NULL;
	g_autoptr(PGresult) res = NULL;

	q = exm_rest_list_query_parse(kind->model, r->query, r->n_query, r->mount, error);
	if (q == NULL || !exm_rest_crud_enforce(r, kind->policy, "read", error) ||
	    !crud_scope_list(r, kind, q, error))
		return FALSE;
	if (!crud_check_marker(r, kind, q, error))
		return FALSE;
	columns = exm_rest_sql_columns(kind->model, FALSE);
	sql = exm_rest_sql_list(q, kind->model, columns, sql_params);
	res = exm_rest_store_exec(&r->store, kind->model, sql, sql_params, error);
	if (res == NULL)
		return FALSE;
	crud_list_answer(r, kind, q, res);
	return TRUE;
}

static gboolean
crud_get(ExmRestCrud *r, const ExmRestKind *kind, GError **error)
{
	g_autoptr(ExmRestRow) row = NULL;

	if (!exm_rest_crud_enforce(r, kind->policy, "read", error))
		return FALSE;
	row = exm_rest_crud_load(r, kind, r->match->id, FALSE, error);
	if (row == NULL)
		return FALSE;
	crud_answer_row(r, 200, row);
	return TRUE;
}

/* Missing Content-Type means JSON; parameters after `;` are ignored (§2). */
static gboolean
crud_content_type(ExmRestCrud *r, GError **error)
{
	const gchar *ct = r->content_type;
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
crud_unpack(ExmRestCrud *r, const ExmRestKind *kind, ExmRestMethod method, GError **error)
{
	if (!crud_content_type(r, error))
		return NULL;
	return exm_rest_body_unpack(kind->model, method, r->body, r->body_len, r->mount, error);
}

/* The kind served at the collection a relationship points to (`<route>/`). */
static const ExmRestKind *
crud_related_kind(ExmRestCrud *r, const ExmRestField *f)
{
	for (guint i = 0; r->kinds != NULL && r->kinds[i] != NULL; i++) {
		const ExmRestKind *k = r->kinds[i];
		gsize n = strlen(k->route->name);
		if (k->parent == NULL && strncmp(f->related, k->route->name, n) == 0 &&
		    g_strcmp0(f->related + n, "/") == 0)
			return k;
	}
	return NULL;
}

/* Relationship values are resolved like upstream: through the target's own
 * controller (its `read` policy, its project scope, 404 when absent). */
static gboolean
crud_resolve(ExmRestCrud *r, const ExmRestKind *kind, const ExmRestBody *body, GError **error)
{
	for (const ExmRestField *f = kind->model->fields; f->name != NULL; f++) {
		const ExmRestValue *v = exm_rest_body_get(body, f->name);
		const ExmRestKind *target;
		g_autoptr(ExmRestRow) row = NULL;

		if (v == NULL || v->is_null || f->type != EXM_REST_TYPE_RELATIONSHIP)
			continue;
		target = crud_related_kind(r, f);
		if (target == NULL)
			continue;
		if (!exm_rest_crud_enforce(r, target->policy, "read", error))
			return FALSE;
		row = exm_rest_crud_load(r, target, v->str, FALSE, error);
		if (row == NULL)
			return FALSE;
	}
	return TRUE;
}

/* The body's values are in the model's order (exm_rest_body_unpack()), so
 * walking them is the model's order without looking each field up. */
static void
crud_sets_from_body(const ExmRestBody *body, const ExmRestModel *model, GPtrArray *sets)
{
	const GPtrArray *values = exm_rest_body_values(body);

	for (guint i = 0; i < values->len; i++) {
		const ExmRestValue *v = g_ptr_array_index(values, i);
		const ExmRestField *f = v->field;
		g_autofree gchar *text = NULL;
		if ((f->flags & EXM_REST_FIELD_NO_COLUMN) != 0)
			continue;
		text = exm_rest_body_value_text(v);
		exm_rest_set_put(sets, model, f->name, text);
		if (text != NULL)
			exm_secret_wipe(text, strlen(text));
	}
}

/* project_id at create: a scoped identity may only name its own project;
 * absent, it comes from the parent (nested) or the identity's scope. */
static gboolean
crud_create_project(ExmRestCrud *r, const ExmRestKind *kind, GPtrArray *sets, GError **error)
{
	ExmRestSet *p = exm_rest_set_find(sets, "project_id");
	const gchar *value = p != NULL ? p->text : NULL;

	if (exm_rest_model_field(kind->model, "project_id") == NULL)
		return TRUE;
	if (value != NULL && r->project != NULL && g_strcmp0(value, r->project) != 0) {
		crud_forbidden(error);
		return FALSE;
	}
	if (value == NULL && r->parent != NULL && kind->parent_field != NULL)
		value = exm_rest_row_get(r->parent, "project_id");
	if (value == NULL)
		value = r->project;
	if (value == NULL) {
		exm_rest_model_error_required(error, kind->model, "project_id");
		return FALSE;
	}
	exm_rest_set_put(sets, kind->model, "project_id", value);
	return TRUE;
}

static gboolean
crud_check_required(const ExmRestKind *kind, GPtrArray *sets, GError **error)
{
	for (const ExmRestField *f = kind->model->fields; f->name != NULL; f++) {
		ExmRestSet *s;
		if ((f->flags & EXM_REST_FIELD_REQUIRED) == 0)
			continue;
		s = exm_rest_set_find(sets, f->name);
		if (s == NULL || s->text == NULL) {
			exm_rest_model_error_required(error, kind->model, f->name);
			return FALSE;
		}
	}
	return TRUE;
}

/* INSERT … RETURNING the row; values only as parameters. */
static ExmRestRow *
crud_insert(ExmRestCrud *r, const ExmRestKind *kind, GPtrArray *sets, GError **error)
{
	g_autoptr(GPtrArray) params = g_ptr_array_new();
	g_autofree gchar *sql = exm_rest_sql_insert(kind->model, sets, params);

	return crud_write(r, kind, sql, params, error);
}

/* `Location`: the collection of the kind's route, below its parent's
 * resource for a nested kind. */
static void
crud_location(ExmRestCrud *r, const ExmRestKind *kind, const gchar *id)
{
	g_autofree gchar *loc = NULL;

	if (kind->parent != NULL)
		loc = g_strconcat(r->base_url,
				  r->mount,
				  kind->parent->route->name,
				  "/",
				  crud_parent_id(r),
				  "/",
				  kind->route->name,
				  "/",
				  id,
				  NULL);
	else
		loc = g_strconcat(r->base_url, r->mount, kind->route->name, "/", id, NULL);
	exm_rest_response_add_header(r->resp, "Location", loc);
}

static gboolean
crud_create_sets(ExmRestCrud *r,
		 const ExmRestKind *kind,
		 const ExmRestBody *body,
		 GPtrArray *sets,
		 GError **error)
{
	g_autofree gchar *now = exm_time_usec_text(r->now);
	g_autofree gchar *uuid = NULL;

	crud_sets_from_body(body, kind->model, sets);
	if (!crud_create_project(r, kind, sets, error))
		return FALSE;
	if (kind->parent_field != NULL && exm_rest_set_find(sets, kind->parent_field) == NULL)
		exm_rest_set_put(sets, kind->model, kind->parent_field, crud_parent_id(r));
	if (!crud_check_required(kind, sets, error))
		return FALSE;
	if (kind->prepare != NULL && !kind->prepare(r, body, NULL, sets, error))
		return FALSE;
	if (exm_rest_set_find(sets, "uuid") == NULL) {
		uuid = exm_uuid_v4();
		exm_rest_set_put(sets, kind->model, "uuid", uuid);
	}
	if (exm_rest_set_find(sets, "created_at") == NULL)
		exm_rest_set_put(sets, kind->model, "created_at", now);
	if (exm_rest_set_find(sets, "updated_at") == NULL)
		exm_rest_set_put(sets, kind->model, "updated_at", now);
	return TRUE;
}

static gboolean
crud_create(ExmRestCrud *r, const ExmRestKind *kind, GError **error)
{
	g_autoptr(ExmRestBody) body = crud_unpack(r, kind, EXM_REST_CREATE, error);
	g_autoptr(GPtrArray) sets = exm_rest_set_list_new();
	g_autoptr(ExmRestRow) row = NULL;

	if (body == NULL || !crud_resolve(r, kind, body, error) ||
	    !exm_rest_crud_enforce(r, kind->policy, "create", error) ||
	    !crud_create_sets(r, kind, body, sets, error))
		return FALSE;
	if (kind->before_write != NULL && !kind->before_write(r, error))
		return FALSE;
	row = crud_insert(r, kind, sets, error);
	if (row == NULL)
		return FALSE;
	if (kind->after_write != NULL && !kind->after_write(r, error))
		return FALSE;
	crud_answer_row(r, 201, row);
	crud_location(r, kind, exm_rest_row_get(row, "uuid"));
	return TRUE;
}

/* Update checks on fixed values: the body's uuid must be the URL's, a scoped
 * identity may not name a foreign project, model read-only values may be
 * re-sent but not changed. */
static gboolean
crud_update_fixed(ExmRestCrud *r,
		  const ExmRestKind *kind,
		  const ExmRestBody *body,
		  const ExmRestRow *row,
		  GError **error)
{
	const ExmRestValue *p = exm_rest_body_get(body, "project_id");

	if (p != NULL && r->project != NULL && g_strcmp0(p->str, r->project) != 0) {
		crud_forbidden(error);
		return FALSE;
	}
	for (const ExmRestField *f = kind->model->fields; f->name != NULL; f++) {
		const ExmRestValue *v = exm_rest_body_get(body, f->name);
		g_autofree gchar *text = NULL;
		if (v == NULL || (f->flags & EXM_REST_FIELD_READ_ONLY) == 0 ||
		    g_strcmp0(f->name, "uuid") == 0)
			continue;
		text = exm_rest_body_value_text(v);
		/* upstream compares a relationship's loaded model with the URI it
		 * was sent, which never match: even an unchanged one is refused */
		if (f->type == EXM_REST_TYPE_RELATIONSHIP ||
		    g_strcmp0(text, exm_rest_row_get(row, f->name)) != 0) {
			exm_rest_model_error_read_only(error, kind->model, f->name);
			return FALSE;
		}
	}
	return TRUE;
}

/* Drops the sets that would not change the row (dirty tracking, §6.4). */
static void
crud_keep_changes(GPtrArray *sets, const ExmRestRow *row)
{
	for (guint i = sets->len; i > 0; i--) {
		ExmRestSet *s = g_ptr_array_index(sets, i - 1);
		if (g_strcmp0(s->text, exm_rest_row_get(row, s->field->name)) == 0)
			g_ptr_array_remove_index(sets, i - 1);
	}
}

static ExmRestRow *
crud_write_update(ExmRestCrud *r, const ExmRestKind *kind, GPtrArray *sets, GError **error)
{
	g_autoptr(GPtrArray) params = g_ptr_array_new();
	g_autofree gchar *now = exm_time_usec_text(r->now);
	g_autofree gchar *sql = exm_rest_sql_update(kind->model, sets, now, r->match->id, params);

	return crud_write(r, kind, sql, params, error);
}

static gboolean
crud_update_uuid(ExmRestCrud *r, const ExmRestBody *body, GError **error)
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
crud_update(ExmRestCrud *r, const ExmRestKind *kind, GError **error)
{
	g_autoptr(ExmRestBody) body = crud_unpack(r, kind, EXM_REST_UPDATE, error);
	g_autoptr(GPtrArray) sets = exm_rest_set_list_new();
	g_autoptr(ExmRestRow) row = NULL;

	if (body == NULL || !crud_update_uuid(r, body, error) ||
	    !exm_rest_crud_enforce(r, kind->policy, "update", error))
		return FALSE;
	if (kind->before_write != NULL && !kind->before_write(r, error))
		return FALSE;
	row = exm_rest_crud_load(r, kind, r->match->id, TRUE, error);
	if (row == NULL || !crud_update_fixed(r, kind, body, row, error))
		return FALSE;
	crud_sets_from_body(body, kind->model, sets);
	if (kind->prepare != NULL && !kind->prepare(r, body, row, sets, error))
		return FALSE;
	crud_keep_changes(sets, row);
	if (sets->len == 0) {
		crud_answer_row(r, 200, row);
		return TRUE;
	}
	return exm_rest_crud_write_update(r, kind, sets, error);
}

gboolean
exm_rest_crud_write_update(ExmRestCrud *r, const ExmRestKind *kind, GPtrArray *sets, GError **error)
{
	g_autoptr(ExmRestRow) updated = crud_write_update(r, kind, sets, error);

	if (updated == NULL)
		return FALSE;
	if (kind->after_write != NULL && !kind->after_write(r, error))
		return FALSE;
	crud_answer_row(r, 200, updated);
	return TRUE;
}

static gboolean
crud_delete(ExmRestCrud *r, const ExmRestKind *kind, GError **error)
{
	g_autoptr(ExmRestRow) row = NULL;

	if (!exm_rest_crud_enforce(r, kind->policy, "delete", error))
		return FALSE;
	if (kind->before_write != NULL && !kind->before_write(r, error))
		return FALSE;
	row = exm_rest_crud_load(r, kind, r->match->id, TRUE, error);
	if (row == NULL)
		return FALSE;
	if (kind->before_delete != NULL && !kind->before_delete(r, row, error))
		return FALSE;
	if (!exm_rest_store_delete_where(&r->store, kind->model, "uuid", r->match->id, error))
		return FALSE;
	if (kind->after_write != NULL && !kind->after_write(r, error))
		return FALSE;
	exm_rest_response_set_json(r->resp, 204, NULL);
	return TRUE;
}

void
exm_rest_crud_dispatch(ExmRestCrud *r, const ExmRestKind *kind)
{
	g_autoptr(GError) error = NULL;
	gboolean ok = FALSE;

	switch (r->match->method) {
	case EXM_REST_FILTER:
		ok = crud_list(r, kind, &error);
		break;
	case EXM_REST_GET:
		ok = crud_get(r, kind, &error);
		break;
	case EXM_REST_CREATE:
		ok = crud_create(r, kind, &error);
		break;
	case EXM_REST_UPDATE:
		ok = crud_update(r, kind, &error);
		break;
	case EXM_REST_DELETE:
		ok = crud_delete(r, kind, &error);
		break;
	default:
		g_set_error_literal(
			&error, EXM_ERROR, EXM_ERROR_NOT_IMPLEMENTED, "Not implemented.");
		break;
	}
	if (!ok)
		exm_rest_response_set_error(r->resp, error);
}

/* A JSON body's object: parsed from a copy that is wiped afterwards. */
static JsonObject *
kwargs_json(ExmRestCrud *r, const gchar *const *secrets, GError **error)
{
	static const gchar *const none[] = { NULL };
	g_autoptr(JsonNode) root = exm_json_parse_secret_copy(
		r->body, r->body_len, secrets != NULL ? secrets : none, error);

	if (root == NULL)
		return NULL;
	if (!JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error_literal(
			error, EXM_ERROR, EXM_ERROR_PARSE_BODY, "the body is not a JSON object");
		return NULL;
	}
	return json_object_ref(json_node_get_object(root));
}

/* Fields of an urlencoded form body into @kwargs; the decoded copies are
 * wiped, as a form may carry a secret too. */
static gboolean
kwargs_form(ExmRestCrud *r, JsonObject *kwargs, GError **error)
{
	g_autofree gchar *text = g_strndup(r->body, r->body_len);
	g_autoptr(GError) local = NULL;
	g_autoptr(GHashTable) fields =
		g_uri_parse_params(text, -1, "&", G_URI_PARAMS_WWW_FORM, &local);
	GHashTableIter it;
	gpointer k, v;

	exm_secret_wipe(text, r->body_len);
	if (fields == NULL) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_PARSE_BODY,
			    "the form body does not parse: %s",
			    local->message);
		return FALSE;
	}
	g_hash_table_iter_init(&it, fields);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		json_object_set_string_member(kwargs, k, v);
		exm_secret_wipe(v, strlen(v));
	}
	return TRUE;
}

JsonObject *
exm_rest_crud_action_kwargs(ExmRestCrud *r, const gchar *const *secrets, GError **error)
{
	g_autoptr(JsonObject) kwargs = NULL;
	const gchar *ct = r->content_type != NULL ? r->content_type : "";
	gboolean has_body = r->body != NULL && r->body_len > 0;

	if (has_body && strcmp(ct, "application/json") == 0)
		return kwargs_json(r, secrets, error);
	kwargs = json_object_new();
	for (gsize i = 0; i < r->n_query; i++)
		json_object_set_string_member(kwargs, r->query[i].key, r->query[i].value);
	if (has_body && g_ascii_strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0 &&
	    !kwargs_form(r, kwargs, error))
		return NULL;
	return g_steal_pointer(&kwargs);
}

void
exm_rest_crud_serve(ExmRestCrud *r,
		    const ExmRestRoute *mount,
		    const gchar *http_method,
		    const gchar *path,
		    ExmRestCrudActionFunc action)
{
	g_autoptr(GError) error = NULL;
	const ExmRestKind *kind;

	kind = crud_create_lock(r, http_method, path);
	r->lock_parent = kind != NULL ? kind->parent : NULL;
	r->parent_fields = kind != NULL ? kind->create_reads_parent : NULL;
	r->match =
		exm_rest_route_walk(mount, http_method, path, exm_rest_crud_walk_load, r, &error);
	if (r->match == NULL) {
		exm_rest_response_set_error(r->resp, error);
		return;
	}
	kind = exm_rest_crud_kind_for_route(r, r->match->route);
	if (kind == NULL) {
		/* The type's index: no policy, anonymous callers get it too (§1.3). */
		g_autoptr(JsonNode) list = exm_rest_route_list_json(mount);
		exm_rest_response_set_json(r->resp, 200, list);
		return;
	}
	if (r->match->method == EXM_REST_ACTION) {
		action(r, kind);
		return;
	}
	exm_rest_crud_dispatch(r, kind);
}
