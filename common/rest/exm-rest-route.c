/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Route walking (see exm-rest-route.h).  Section numbers refer to
 * docs/rest-conventions.md.
 */
#include "exm-rest-route.h"

#include <string.h>

#include "exm-error.h"
#include "exm-uuid.h"

/* WebOb's path_info_pop(): NULL when nothing is left; leading slashes are
 * skipped (so runs collapse) and the segment up to the next slash returned. */
static gchar *
path_pop(const gchar **path_info)
{
	const gchar *s = *path_info;
	const gchar *e;

	if (*s == '\0')
		return NULL;
	while (*s == '/')
		s++;
	e = strchrnul(s, '/');
	*path_info = e;
	return g_strndup(s, e - s);
}

/* WebOb's path_info_peek(): NULL when nothing is left, "" when only slashes. */
static gchar *
path_peek(const gchar *path_info)
{
	const gchar *s = path_info;

	if (*s == '\0')
		return NULL;
	while (*s == '/')
		s++;
	return g_strndup(s, strchrnul(s, '/') - s);
}

static const ExmRestRoute *
route_child(const ExmRestRoute *route, const gchar *segment)
{
	g_autofree gchar *attr = NULL;

	if (segment == NULL || route->children == NULL)
		return NULL;
	attr = g_strdelimit(g_strdup(segment), "-", '_');
	for (guint i = 0; route->children[i] != NULL; i++) {
		if (g_strcmp0(route->children[i]->name, attr) == 0)
			return route->children[i];
	}
	return NULL;
}

static gboolean
map_method(const ExmRestRoute *route,
	   const gchar *http,
	   gboolean collection,
	   ExmRestMethod *out,
	   GError **error)
{
	ExmRestMethod m = 0;

	if (collection) {
		if (g_strcmp0(http, "GET") == 0)
			m = EXM_REST_FILTER;
		else if (g_strcmp0(http, "POST") == 0)
			m = EXM_REST_CREATE;
	} else if (g_strcmp0(http, "GET") == 0) {
		m = EXM_REST_GET;
	} else if (g_strcmp0(http, "PUT") == 0 || g_strcmp0(http, "PATCH") == 0) {
		m = EXM_REST_UPDATE;
	} else if (g_strcmp0(http, "DELETE") == 0) {
		m = EXM_REST_DELETE;
	}
	if (m == 0) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_METHOD_NOT_ALLOWED,
			    "HTTP method '%s' is not supported.",
			    http);
		return FALSE;
	}
	if ((route->allow & m) == 0) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_METHOD_NOT_ALLOWED,
			    "HTTP method '%s' is not supported.",
			    exm_rest_method_name(m));
		return FALSE;
	}
	*out = m;
	return TRUE;
}

static gchar *
route_parse_id(const ExmRestRoute *route, const gchar *id, GError **error)
{
	if (!route->has_resources) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_NOT_IMPLEMENTED,
			    "Not implemented ('method get in %s').",
			    route->controller);
		return NULL;
	}
	return exm_uuid_parse_lenient(id, "uuid", error);
}

static ExmRestRef *
ref_new(const ExmRestRoute *route, gchar *id)
{
	ExmRestRef *ref = g_new0(ExmRestRef, 1);
	ref->route = route;
	ref->id = id;
	return ref;
}

static void
ref_free(ExmRestRef *ref)
{
	g_free(ref->id);
	g_free(ref);
}

void
exm_rest_route_match_free(ExmRestMatch *match)
{
	if (match == NULL)
		return;
	g_free(match->id);
	g_free(match->action);
	if (match->parents != NULL)
		g_ptr_array_unref(match->parents);
	g_free(match);
}

/* restalchemy's answer to a path segment the route does not know. */
static gboolean
no_method(const ExmRestRoute *route, const gchar *name, GError **error)
{
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_INCORRECT_ROUTE,
		    "Route <class '%s'> doesn't have method %s.",
		    route->class_name,
		    name != NULL ? name : "None");
	return FALSE;
}

/* Parses @id and runs @load on it: restalchemy's controller `get` of a
 * resource the walk passes through. */
static gchar *
walk_load(const ExmRestRoute *route,
	  const gchar *id,
	  ExmRestMatch *match,
	  ExmRestLoadFunc load,
	  gpointer user_data,
	  GError **error)
{
	g_autofree gchar *canon = route_parse_id(route, id, error);

	if (canon == NULL)
		return NULL;
	if (load != NULL && !load(route, canon, match->parents, user_data, error))
		return NULL;
	return g_steal_pointer(&canon);
}

static gboolean
name_in(const gchar *const *names, const gchar *name)
{
	for (guint i = 0; names != NULL && names[i] != NULL; i++) {
		if (g_strcmp0(names[i], name) == 0)
			return TRUE;
	}
	return FALSE;
}

static gboolean
incorrect_action(const gchar *name, const gchar *http, GError **error)
{
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_INCORRECT_ACTION,
		    "Action %s is incorrectly called with HTTP method %s.",
		    name,
		    http);
	return FALSE;
}

/*
 * The verb against the form (§1.4): a plain action answers GET without
 * `/invoke`, an invoke action POST with it.  Any other combination is
 * restalchemy's IncorrectActionCall, except GET or PUT on an invoke action's
 * `/invoke`: that is the right form for a verb the action has no handler for,
 * a 501.
 */
static gboolean
action_verb(gboolean invoke, gboolean invoked, const gchar *name, const gchar *http, GError **error)
{
	gboolean get = g_strcmp0(http, "GET") == 0;

	if (!invoke)
		return !invoked && get ? TRUE : incorrect_action(name, http, error);
	if (invoked && g_strcmp0(http, "POST") == 0)
		return TRUE;
	if (invoked && (get || g_strcmp0(http, "PUT") == 0)) {
		g_set_error_literal(
			error, EXM_ERROR, EXM_ERROR_NOT_IMPLEMENTED, "Not implemented.");
		return FALSE;
	}
	return incorrect_action(name, http, error);
}

/* `<id>/actions/<name>[/invoke]`: a plain GET action or an invoke action. */
static gboolean
walk_action(ExmRestMatch *match, const gchar **path_info, const gchar *http, GError **error)
{
	const ExmRestRoute *route = match->route;
	g_autofree gchar *actions = path_pop(path_info);
	g_autofree gchar *name = path_pop(path_info);
	g_autofree gchar *rest = path_pop(path_info);
	gboolean invoke;

	if (name != NULL)
		g_strdelimit(name, "-", '_');
	invoke = name != NULL && name_in(route->invoke_actions, name);
	if (!invoke && (name == NULL || !name_in(route->actions, name)))
		return no_method(route, name, error);
	/* after `invoke` nothing more: `…/invoke/` or `…/invoke/x` is not a form */
	if ((rest != NULL && g_strcmp0(rest, "invoke") != 0) || **path_info != '\0') {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_UNSUPPORTED_METHOD,
			    "Method '%s%s' is not supported for %s.",
			    rest != NULL ? rest : "",
			    rest != NULL && g_strcmp0(rest, "invoke") == 0 ? *path_info : "",
			    name);
		return FALSE;
	}
	if (!action_verb(invoke, rest != NULL, name, http, error))
		return FALSE;
	match->method = EXM_REST_ACTION;
	match->invoke = invoke;
	match->action = g_steal_pointer(&name);
	return TRUE;
}

/* The last segment: a collection call (`name == ""`) or a resource call. */
static gboolean
walk_final(ExmRestMatch *match, const gchar *name, const gchar *http, GError **error)
{
	gboolean collection = g_strcmp0(name, "") == 0;

	if (!map_method(match->route, http, collection, &match->method, error))
		return FALSE;
	if (collection)
		return TRUE;
	match->id = route_parse_id(match->route, name, error);
	return match->id != NULL;
}

/* `<id>/<child>/…`: load the resource, then step into a nested child. */
static gboolean
walk_nested(ExmRestMatch *match,
	    const gchar *name,
	    const gchar **path_info,
	    ExmRestLoadFunc load,
	    gpointer user_data,
	    GError **error)
{
	const ExmRestRoute *route = match->route;
	const ExmRestRoute *child;
	g_autofree gchar *segment = NULL;
	gchar *id = walk_load(route, name, match, load, user_data, error);

	if (id == NULL)
		return FALSE;
	g_ptr_array_add(match->parents, ref_new(route, id));
	segment = path_pop(path_info);
	child = route_child(route, segment);
	if (child == NULL)
		return no_method(route, segment, error);
	if (!child->nested) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_COLLECTION_NOT_FOUND,
			    "Collection '%s' is not found on path.",
			    segment);
		return FALSE;
	}
	match->route = child;
	return TRUE;
}

/* One level of restalchemy's Route.do(); %TRUE with *@done set when the
 * walk has reached its target. */
static gboolean
walk_step(ExmRestMatch *match,
	  const gchar **path_info,
	  const gchar *http,
	  const gchar *full_path,
	  ExmRestLoadFunc load,
	  gpointer user_data,
	  gboolean *done,
	  GError **error)
{
	g_autofree gchar *name = path_pop(path_info);
	g_autofree gchar *next = path_peek(*path_info);
	const ExmRestRoute *child;

	if (next == NULL) {
		*done = TRUE;
		return walk_final(match, name, http, error);
	}
	child = route_child(match->route, name);
	if (child != NULL) {
		if (child->nested) {
			g_set_error(error,
				    EXM_ERROR,
				    EXM_ERROR_RESOURCE_NOT_FOUND,
				    "Resource '%s' is not found on path: %s.",
				    name,
				    full_path);
			return FALSE;
		}
		match->route = child;
		return TRUE;
	}
	if (g_strcmp0(next, "actions") == 0) {
		g_autofree gchar *id = walk_load(match->route, name, match, load, user_data, error);
		if (id == NULL)
			return FALSE;
		match->id = g_steal_pointer(&id);
		*done = TRUE;
		return walk_action(match, path_info, http, error);
	}
	if (name != NULL && name[0] != '\0')
		return walk_nested(match, name, path_info, load, user_data, error);
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_PATH_NOT_FOUND,
		    "Nothing is found on path '%s'.",
		    full_path);
	return FALSE;
}

ExmRestMatch *
exm_rest_route_walk(const ExmRestRoute *mount,
		    const gchar *http_method,
		    const gchar *path,
		    ExmRestLoadFunc load,
		    gpointer user_data,
		    GError **error)
{
	g_autoptr(ExmRestMatch) match = g_new0(ExmRestMatch, 1);
	g_autofree gchar *path_info = NULL;
	const gchar *cursor;
	gboolean done = FALSE;

	g_return_val_if_fail(mount != NULL && http_method != NULL, NULL);
	if (path == NULL || !g_utf8_validate(path, -1, NULL)) {
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
		g_set_error_literal(
			error, EXM_ERROR, EXM_ERROR_NOT_FOUND, "path is not valid utf-8");
		return NULL;
	}
	match->route = mount;
	match->parents = g_ptr_array_new_with_free_func((GDestroyNotify)ref_free);
	/* The mount's own segment was popped already: what remains starts with "/". */
	path_info = g_strconcat("/", path, NULL);
	cursor = path_info;
	while (!done) {
		if (!walk_step(
			    match, &cursor, http_method, path_info, load, user_data, &done, error))
			return NULL;
	}
	return g_steal_pointer(&match);
}

static gint
strcmp_ptr(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const gchar *const *)a, *(const gchar *const *)b);
}

JsonNode *
exm_rest_route_list_json(const ExmRestRoute *route)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new();
	JsonArray *array = json_array_new();
	JsonNode *node = json_node_new(JSON_NODE_ARRAY);

	for (guint i = 0; route->children != NULL && route->children[i] != NULL; i++) {
		if (!route->children[i]->nested)
			g_ptr_array_add(names, (gpointer)route->children[i]->name);
	}
	g_ptr_array_sort(names, strcmp_ptr);
	for (guint i = 0; i < names->len; i++)
		json_array_add_string_element(array, g_ptr_array_index(names, i));
	json_node_take_array(node, array);
	return node;
}
