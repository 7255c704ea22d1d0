/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Route walking below a mount point with restalchemy's algorithm, quirks
 * included (docs/rest-conventions.md §1.2).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include "exm-rest-method.h"

G_BEGIN_DECLS

typedef struct _ExmRestRoute ExmRestRoute;

/**
 * ExmRestRoute:
 * @name: the segment (attribute name; a `-` in a request segment matches `_`)
 * @class_name: the route's class for error messages (`pkg.routes.ThingRoute`)
 * @controller: the controller's name for 501 messages (`ThingController`)
 * @nested: reachable only below a resource of its parent (`things/<id>/parts/`)
 * @has_resources: its members are resources with UUID ids; %FALSE for a route
 *   that only lists its children (a 501 when something tries to load a member)
 * @allow: #ExmRestMethod mask of allowed methods
 * @children: (nullable): %NULL-terminated child routes
 * @actions: (nullable): %NULL-terminated names of plain GET actions
 * @tag: free for the user (e.g. which handler serves the route)
 * @invoke_actions: (nullable): %NULL-terminated names of invoke actions,
 *   called `POST <id>/actions/<name>/invoke` (docs/rest-conventions.md §1.4);
 *   last, so routes without any keep their positional initialisers
 */
struct _ExmRestRoute {
	const gchar *name;
	const gchar *class_name;
	const gchar *controller;
	gboolean nested;
	gboolean has_resources;
	guint allow;
	const ExmRestRoute *const *children;
	const gchar *const *actions;
	gint tag;
	const gchar *const *invoke_actions;
};

/**
 * ExmRestRef:
 * @route: a route
 * @id: canonical lower-case UUID of a resource in it
 */
typedef struct {
	const ExmRestRoute *route;
	gchar *id;
} ExmRestRef;

/**
 * ExmRestMatch:
 * @route: the route the call lands on
 * @method: what to do
 * @id: (nullable): the resource's canonical UUID for GET/UPDATE/DELETE/ACTION
 * @parents: #ExmRestRef of the resources walked through, outermost first
 * @action: (nullable): the action name for %EXM_REST_ACTION
 * @invoke: the action is an invoke action (`…/actions/<name>/invoke`, POST);
 *   %FALSE for a plain GET action
 */
typedef struct {
	const ExmRestRoute *route;
	ExmRestMethod method;
	gchar *id;
	GPtrArray *parents;
	gchar *action;
	gboolean invoke;
} ExmRestMatch;

/**
 * ExmRestLoadFunc:
 * @route: the route whose resource must be loaded
 * @id: the resource's canonical UUID
 * @parents: the resources walked through before it (outermost first)
 * @user_data: as given to exm_rest_route_walk()
 * @error: a 403/404 when the caller may not see the resource
 *
 * Loads a resource the walk passes through (a parent of a nested collection or
 * the target of an action), at the point where restalchemy loads it, so that
 * error precedence matches upstream.
 */
typedef gboolean (*ExmRestLoadFunc)(const ExmRestRoute *route,
				    const gchar *id,
				    GPtrArray *parents,
				    gpointer user_data,
				    GError **error);

/**
 * exm_rest_route_walk:
 * @mount: the route mounted at the prefix
 * @http_method: the HTTP method (`HEAD` is refused like any unmapped method)
 * @path: the decoded path below the mount, e.g. `things/<id>/parts/`
 * @load: (nullable): called for each resource the walk passes through
 * @user_data: for @load
 * @error: 400 `ParseError` (bad id), 404 (unknown route), 405, 501, or what
 *   @load set
 *
 * Walks @path segment by segment with restalchemy's algorithm, quirks included:
 * a collection ends with `/`, a resource does not; `PATCH` maps to UPDATE.
 *
 * Returns: (transfer full): the match, or %NULL with @error set
 */
ExmRestMatch *exm_rest_route_walk(const ExmRestRoute *mount,
				  const gchar *http_method,
				  const gchar *path,
				  ExmRestLoadFunc load,
				  gpointer user_data,
				  GError **error);
/**
 * exm_rest_route_match_free:
 * @match: (nullable): a match
 *
 * Frees @match and its parents.
 */
void exm_rest_route_match_free(ExmRestMatch *match);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmRestMatch, exm_rest_route_match_free)

/**
 * exm_rest_route_list_json:
 * @route: a route
 *
 * The route index: the names of its non-nested children, sorted.
 *
 * Returns: (transfer full): a JSON array of strings
 */
JsonNode *exm_rest_route_list_json(const ExmRestRoute *route);

G_END_DECLS
