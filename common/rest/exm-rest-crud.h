/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * restalchemy's resource controllers over one table each: list, get, create,
 * update and delete with gcl_iam policy checks and project scoping
 * (docs/rest-conventions.md §2, §4, §6, §8.4), in upstream's order of checks (§3.3).
 * What is particular to a model lives in its #ExmRestKind hooks; the
 * collections a kind is served at come from its route, so nothing here names
 * a model.
 */
#pragma once

#include <glib.h>

#include "exm-rest-body.h"
#include "exm-rest-enforcer.h"
#include "exm-rest-list-query.h"
#include "exm-rest-response.h"
#include "exm-rest-route.h"
#include "exm-rest-row.h"
#include "exm-rest-store.h"

G_BEGIN_DECLS

typedef struct _ExmRestCrud ExmRestCrud;
typedef struct _ExmRestKind ExmRestKind;

/**
 * ExmRestKind:
 * @model: fields, table, names
 * @route: the route serving it (its name is the collection's segment)
 * @policy: IAM prefix, e.g. `<service>.<resource>`
 * @scoped: rows carry `project_id` and a scoped identity sees its own only
 * @parent: (nullable): for a nested kind, the kind of its parent resource
 * @parent_field: for a nested kind, the column holding the parent's uuid
 * @prepare: model rules on create (@row %NULL) and update: validates and
 *   normalises @sets, may add to it; runs after the policy checks
 * @before_write: called before any row of the kind is written (locks)
 * @locks_parent: @before_write locks the parent row unless @parent_locked
 *   says the walk did: a create loads the parent `FOR UPDATE` on its walk,
 *   one statement fewer
 * @before_delete: called before the row is deleted (cascades)
 * @after_write: called after a row was created, changed or deleted
 * @create_reads_parent: (nullable): with @locks_parent, the fields of the
 *   parent row a create reads (the toolkit's and the hooks'): the walk of a
 *   create loads only those, a fraction of the statement's and the row's
 *   cost (docs/scale.md §8); reading another one of that row is a
 *   g_critical().  %NULL loads the whole row.
 */
struct _ExmRestKind {
	const ExmRestModel *model;
	const ExmRestRoute *route;
	const gchar *policy;
	gboolean scoped;
	const ExmRestKind *parent;
	const gchar *parent_field;
	gboolean (*prepare)(ExmRestCrud *r,
			    const ExmRestBody *body,
			    const ExmRestRow *row,
			    GPtrArray *sets,
			    GError **error);
	gboolean (*before_write)(ExmRestCrud *r, GError **error);
	gboolean locks_parent;
	gboolean (*before_delete)(ExmRestCrud *r, const ExmRestRow *row, GError **error);
	gboolean (*after_write)(ExmRestCrud *r, GError **error);
	const gchar *const *create_reads_parent;
};

/**
 * ExmRestCrud:
 * @store: the database of the request
 * @query: (array length=n_query): the decoded query string
 * @n_query: its length
 * @body: (nullable): the request body
 * @body_len: its length
 * @content_type: (nullable): the request's Content-Type
 * @base_url: scheme and authority for `Location`
 * @mount: the mount prefix, e.g. `/v1/types/<slug>/`
 * @project: (nullable): the identity's project scope (canonical)
 * @enforcer: the identity's grants
 * @kinds: %NULL-terminated kinds of the mount (relationship targets)
 * @resp: the response being built
 * @match: the route walk's result
 * @parent: (nullable): the parent row the walk loaded (nested routes)
 * @lock_parent: (nullable): a create of a kind with @locks_parent: its
 *   parent kind, which the walk loads `FOR UPDATE`
 * @parent_locked: the walk loaded @parent `FOR UPDATE`
 * @parent_fields: (nullable): with @lock_parent, the create's
 *   #ExmRestKind.create_reads_parent: the only fields the walk loads of it
 * @now: µs since the epoch, one clock reading per request
 * @user_data: the caller's
 *
 * One request, owned by the dispatching thread.
 */
struct _ExmRestCrud {
	ExmRestStore store;
	const ExmRestParam *query;
	gsize n_query;
	const gchar *body;
	gsize body_len;
	const gchar *content_type;
	const gchar *base_url;
	const gchar *mount;
	const gchar *project;
	ExmRestEnforcer *enforcer;
	const ExmRestKind *const *kinds;
	ExmRestResponse *resp;
	ExmRestMatch *match;
	ExmRestRow *parent;
	const ExmRestKind *lock_parent;
	gboolean parent_locked;
	const gchar *const *parent_fields;
	gint64 now;
	gpointer user_data;
};

/**
 * exm_rest_crud_enforce:
 * @r: the request
 * @policy: an IAM prefix
 * @action: `read`, `create`, …
 * @error: 403 `PolicyNotAuthorized`
 *
 * Returns: %TRUE when the identity may do `<policy>.<action>`
 */
gboolean exm_rest_crud_enforce(ExmRestCrud *r,
			       const gchar *policy,
			       const gchar *action,
			       GError **error);

/**
 * exm_rest_crud_load:
 * @r: the request
 * @kind: the kind
 * @id: a uuid
 * @for_update: lock it and read hidden-on-read columns too
 * @error: 404 `RecordNotFound` (outside the scope or the parent too)
 *
 * Returns: (transfer full): the row, or %NULL with @error set
 */
ExmRestRow *exm_rest_crud_load(ExmRestCrud *r,
			       const ExmRestKind *kind,
			       const gchar *id,
			       gboolean for_update,
			       GError **error);

/**
 * exm_rest_crud_load_parent:
 * @r: the request
 * @kind: the parent's kind
 * @id: its uuid
 * @error: 403 (policy) or 404
 *
 * Checks `<policy>.read` and loads @id as #ExmRestCrud.parent, the walk's
 * step through a parent resource.
 *
 * Returns: %TRUE when loaded
 */
gboolean exm_rest_crud_load_parent(ExmRestCrud *r,
				   const ExmRestKind *kind,
				   const gchar *id,
				   GError **error);

/**
 * exm_rest_crud_kind_for_route:
 * @r: the request
 * @route: a route of the mount
 *
 * Returns: (transfer none) (nullable): the kind of #ExmRestCrud.kinds served
 *   at @route
 */
const ExmRestKind *exm_rest_crud_kind_for_route(ExmRestCrud *r, const ExmRestRoute *route);

/**
 * exm_rest_crud_walk_load:
 * @route: the route whose resource the walk passes through
 * @id: its uuid
 * @parents: the resources walked through before it
 * @user_data: the #ExmRestCrud
 * @error: 403 or 404
 *
 * The #ExmRestLoadFunc of a mount served by #ExmRestCrud.kinds: a resource
 * with nested kinds below it becomes #ExmRestCrud.parent (its `read` policy
 * checked), any other one (an action's target) is checked to exist in scope.
 *
 * Returns: %TRUE when the walk may go on
 */
gboolean exm_rest_crud_walk_load(const ExmRestRoute *route,
				 const gchar *id,
				 GPtrArray *parents,
				 gpointer user_data,
				 GError **error);

/**
 * exm_rest_crud_dispatch:
 * @r: the request, walked
 * @kind: the kind its route serves
 *
 * Serves FILTER, GET, CREATE, UPDATE and DELETE; any error becomes the
 * response.
 */
void exm_rest_crud_dispatch(ExmRestCrud *r, const ExmRestKind *kind);

/**
 * ExmRestCrudActionFunc:
 * @r: the request; #ExmRestMatch.action names the action, #ExmRestMatch.id
 *   its resource (already loaded by the walk)
 * @kind: the kind of the resource
 *
 * Serves an action (a plain GET one, or an invoke one when
 * #ExmRestMatch.invoke) and sets the response.  Only the walk's `read` of the
 * resource has been checked: an action that changes something enforces its
 * own rule (docs/rest-conventions.md §1.4).
 */
typedef void (*ExmRestCrudActionFunc)(ExmRestCrud *r, const ExmRestKind *kind);

/**
 * exm_rest_crud_action_kwargs:
 * @r: an action request
 * @secrets: (nullable): %NULL-terminated names of members whose values are
 *   secret: they never reach json-glib's scanner, and the copy of the body
 *   parsed is wiped (exm_json_parse_secret())
 * @error: 400 `ParseBodyError` for a JSON body that does not parse or is not
 *   an object
 *
 * The action's keyword arguments by upstream's rule (§1.4): the members of
 * the body's JSON object when Content-Type is exactly `application/json` and
 * the body is not empty; otherwise the query string's parameters followed by
 * the fields of an `application/x-www-form-urlencoded` body, all strings, a
 * repeated name keeping its last value.
 *
 * Returns: (transfer full): the arguments, or %NULL with @error set
 */
JsonObject *exm_rest_crud_action_kwargs(ExmRestCrud *r,
					const gchar *const *secrets,
					GError **error);

/**
 * exm_rest_crud_write_update:
 * @r: the request, its resource (#ExmRestMatch.id) loaded and locked
 * @kind: its kind
 * @sets: (element-type ExmRestSet): the columns to write, validated
 * @error: a database error
 *
 * What an update does once its values are known, for an action that changes
 * its resource: writes @sets with `updated_at` moved forward, runs the kind's
 * after_write and answers 200 with the row.
 *
 * Returns: %TRUE when written and answered
 */
gboolean exm_rest_crud_write_update(ExmRestCrud *r,
				    const ExmRestKind *kind,
				    GPtrArray *sets,
				    GError **error);

/**
 * exm_rest_crud_serve:
 * @r: the request, not walked yet
 * @mount: the route mounted at #ExmRestCrud.mount
 * @http_method: the HTTP method
 * @path: the decoded path below the mount
 * @action: serves the routes' actions
 *
 * Walks @path (exm_rest_crud_walk_load() on the way), then answers the
 * mount's index (no policy), an action or a CRUD method.  #ExmRestCrud.match
 * and #ExmRestCrud.parent are left for the caller to free.
 */
void exm_rest_crud_serve(ExmRestCrud *r,
			 const ExmRestRoute *mount,
			 const gchar *http_method,
			 const gchar *path,
			 ExmRestCrudActionFunc action);

G_END_DECLS
