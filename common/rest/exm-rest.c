/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The REST toolkit (see exm-rest.h).  Section numbers refer to
 * reference/rest-conventions.md.
 */
#include "exm-rest.h"

#include <string.h>

#include "exm-cleanup.h"
#include "exm-error.h"
#include "exm-json.h"
#include "exm-time.h"
#include "exm-uuid.h"

const gchar *
exm_rest_method_name(ExmRestMethod method)
{
	switch (method) {
	case EXM_REST_FILTER:
		return "FILTER";
	case EXM_REST_CREATE:
		return "CREATE";
	case EXM_REST_GET:
		return "GET";
	case EXM_REST_UPDATE:
		return "UPDATE";
	case EXM_REST_DELETE:
		return "DELETE";
	case EXM_REST_ACTION:
		return "ACTION";
	default:
		return "UNKNOWN";
	}
}

/* ------------------------------------------------------------------ python repr */

/* Python's repr() of a str, close enough for messages: quote choice and the
 * common escapes.  Non-ASCII stays raw; exm_error_body() escapes it. */
static void
exm_rest_repr_string(GString *out, const gchar *s)
{
	gchar quote = (strchr(s, '\'') != NULL && strchr(s, '"') == NULL) ? '"' : '\'';

	g_string_append_c(out, quote);
	for (const gchar *p = s; *p != '\0'; p++) {
		guchar c = (guchar)*p;
		if (c == '\\' || c == (guchar)quote)
			g_string_append_printf(out, "\\%c", c);
		else if (c == '\n')
			g_string_append(out, "\\n");
		else if (c == '\r')
			g_string_append(out, "\\r");
		else if (c == '\t')
			g_string_append(out, "\\t");
		else if (c < 0x20 || c == 0x7f)
			g_string_append_printf(out, "\\x%02x", c);
		else
			g_string_append_c(out, (gchar)c);
	}
	g_string_append_c(out, quote);
}

static void exm_rest_repr_node(GString *out, JsonNode *node, gboolean top);

static void
exm_rest_repr_value(GString *out, JsonNode *node, gboolean top)
{
	GType t = json_node_get_value_type(node);

	if (t == G_TYPE_BOOLEAN)
		g_string_append(out, json_node_get_boolean(node) ? "True" : "False");
	else if (t == G_TYPE_INT64)
		g_string_append_printf(out, "%" G_GINT64_FORMAT, json_node_get_int(node));
	else if (t == G_TYPE_DOUBLE) {
		gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
		g_string_append(out, g_ascii_dtostr(buf, sizeof(buf), json_node_get_double(node)));
	} else if (top)
		g_string_append(out, json_node_get_string(node));
	else
		exm_rest_repr_string(out, json_node_get_string(node));
}

/* @top: a bare string renders as Python str() (no quotes), as `%s` does. */
static void
exm_rest_repr_node(GString *out, JsonNode *node, gboolean top)
{
	switch (JSON_NODE_TYPE(node)) {
	case JSON_NODE_NULL:
		g_string_append(out, "None");
		break;
	case JSON_NODE_VALUE:
		exm_rest_repr_value(out, node, top);
		break;
	case JSON_NODE_ARRAY: {
		JsonArray *a = json_node_get_array(node);
		g_string_append_c(out, '[');
		for (guint i = 0; i < json_array_get_length(a); i++) {
			if (i > 0)
				g_string_append(out, ", ");
			exm_rest_repr_node(out, json_array_get_element(a, i), FALSE);
		}
		g_string_append_c(out, ']');
		break;
	}
	case JSON_NODE_OBJECT: {
		JsonObjectIter it;
		const gchar *k;
		JsonNode *v;
		gboolean first = TRUE;
		json_object_iter_init(&it, json_node_get_object(node));
		g_string_append_c(out, '{');
		while (json_object_iter_next(&it, &k, &v)) {
			if (!first)
				g_string_append(out, ", ");
			first = FALSE;
			exm_rest_repr_string(out, k);
			g_string_append(out, ": ");
			exm_rest_repr_node(out, v, FALSE);
		}
		g_string_append_c(out, '}');
		break;
	}
	}
}

static gchar *
exm_rest_repr(JsonNode *node, gboolean top)
{
	GString *out = g_string_new(NULL);
	exm_rest_repr_node(out, node, top);
	return g_string_free(out, FALSE);
}

/* ------------------------------------------------------------------ routes */

/* WebOb's path_info_pop(): NULL when nothing is left; leading slashes are
 * skipped (so runs collapse) and the segment up to the next slash returned. */
static gchar *
exm_rest_path_pop(const gchar **path_info)
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
exm_rest_path_peek(const gchar *path_info)
{
	const gchar *s = path_info;

	if (*s == '\0')
		return NULL;
	while (*s == '/')
		s++;
	return g_strndup(s, strchrnul(s, '/') - s);
}

static const ExmRestRoute *
exm_rest_route_child(const ExmRestRoute *route, const gchar *segment)
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
exm_rest_map_method(const ExmRestRoute *route,
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
exm_rest_route_parse_id(const ExmRestRoute *route, const gchar *id, GError **error)
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
exm_rest_ref_new(const ExmRestRoute *route, gchar *id)
{
	ExmRestRef *ref = g_new0(ExmRestRef, 1);
	ref->route = route;
	ref->id = id;
	return ref;
}

static void
exm_rest_ref_free(ExmRestRef *ref)
{
	g_free(ref->id);
	g_free(ref);
}

void
exm_rest_match_free(ExmRestMatch *match)
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
exm_rest_no_method(const ExmRestRoute *route, const gchar *name, GError **error)
{
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_NOT_FOUND,
		    "Route <class '%s'> doesn't have method %s.",
		    route->class_name,
		    name != NULL ? name : "None");
	return FALSE;
}

/* Parses @id and runs @load on it: restalchemy's controller `get` of a
 * resource the walk passes through. */
static gchar *
exm_rest_walk_load(const ExmRestRoute *route,
		   const gchar *id,
		   ExmRestMatch *match,
		   ExmRestLoadFunc load,
		   gpointer user_data,
		   GError **error)
{
	g_autofree gchar *canon = exm_rest_route_parse_id(route, id, error);

	if (canon == NULL)
		return NULL;
	if (load != NULL && !load(route, canon, match->parents, user_data, error))
		return NULL;
	return g_steal_pointer(&canon);
}

/* `<id>/actions/<name>[/…]`; only plain GET actions exist in the toolkit. */
static gboolean
exm_rest_walk_action(ExmRestMatch *match,
		     const gchar **path_info,
		     const gchar *http,
		     GError **error)
{
	const ExmRestRoute *route = match->route;
	g_autofree gchar *actions = exm_rest_path_pop(path_info);
	g_autofree gchar *name = exm_rest_path_pop(path_info);
	g_autofree gchar *rest = exm_rest_path_pop(path_info);
	gboolean known = FALSE;

	if (name != NULL)
		g_strdelimit(name, "-", '_');
	for (guint i = 0; name != NULL && route->actions != NULL && route->actions[i]; i++)
		known = known || g_strcmp0(route->actions[i], name) == 0;
	if (!known)
		return exm_rest_no_method(route, name, error);
	if (rest != NULL && g_strcmp0(rest, "invoke") != 0) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_NOT_FOUND,
			    "Method '%s' is not supported for %s.",
			    rest,
			    name);
		return FALSE;
	}
	if (rest != NULL || g_strcmp0(http, "GET") != 0) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_NOT_FOUND,
			    "Action %s is incorrectly called with HTTP method %s.",
			    name,
			    http);
		return FALSE;
	}
	match->method = EXM_REST_ACTION;
	match->action = g_steal_pointer(&name);
	return TRUE;
}

/* The last segment: a collection call (`name == ""`) or a resource call. */
static gboolean
exm_rest_walk_final(ExmRestMatch *match, const gchar *name, const gchar *http, GError **error)
{
	gboolean collection = g_strcmp0(name, "") == 0;

	if (!exm_rest_map_method(match->route, http, collection, &match->method, error))
		return FALSE;
	if (collection)
		return TRUE;
	match->id = exm_rest_route_parse_id(match->route, name, error);
	return match->id != NULL;
}

/* `<id>/<child>/…`: load the resource, then step into a nested child. */
static gboolean
exm_rest_walk_nested(ExmRestMatch *match,
		     const gchar *name,
		     const gchar **path_info,
		     ExmRestLoadFunc load,
		     gpointer user_data,
		     GError **error)
{
	const ExmRestRoute *route = match->route;
	const ExmRestRoute *child;
	g_autofree gchar *segment = NULL;
	gchar *id = exm_rest_walk_load(route, name, match, load, user_data, error);

	if (id == NULL)
		return FALSE;
	g_ptr_array_add(match->parents, exm_rest_ref_new(route, id));
	segment = exm_rest_path_pop(path_info);
	child = exm_rest_route_child(route, segment);
	if (child == NULL)
		return exm_rest_no_method(route, segment, error);
	if (!child->nested) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_NOT_FOUND,
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
exm_rest_walk_step(ExmRestMatch *match,
		   const gchar **path_info,
		   const gchar *http,
		   const gchar *full_path,
		   ExmRestLoadFunc load,
		   gpointer user_data,
		   gboolean *done,
		   GError **error)
{
	g_autofree gchar *name = exm_rest_path_pop(path_info);
	g_autofree gchar *next = exm_rest_path_peek(*path_info);
	const ExmRestRoute *child;

	if (next == NULL) {
		*done = TRUE;
		return exm_rest_walk_final(match, name, http, error);
	}
	child = exm_rest_route_child(match->route, name);
	if (child != NULL) {
		if (child->nested) {
			g_set_error(error,
				    EXM_ERROR,
				    EXM_ERROR_NOT_FOUND,
				    "Resource '%s' is not found on path: %s.",
				    name,
				    full_path);
			return FALSE;
		}
		match->route = child;
		return TRUE;
	}
	if (g_strcmp0(next, "actions") == 0) {
		g_autofree gchar *id =
			exm_rest_walk_load(match->route, name, match, load, user_data, error);
		if (id == NULL)
			return FALSE;
		match->id = g_steal_pointer(&id);
		*done = TRUE;
		return exm_rest_walk_action(match, path_info, http, error);
	}
	if (name != NULL && name[0] != '\0')
		return exm_rest_walk_nested(match, name, path_info, load, user_data, error);
	g_set_error(
		error, EXM_ERROR, EXM_ERROR_NOT_FOUND, "Nothing is found on path '%s'.", full_path);
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
		g_set_error_literal(
			error, EXM_ERROR, EXM_ERROR_NOT_FOUND, "path is not valid utf-8");
		return NULL;
	}
	match->route = mount;
	match->parents = g_ptr_array_new_with_free_func((GDestroyNotify)exm_rest_ref_free);
	/* The mount's own segment was popped already: what remains starts with "/". */
	path_info = g_strconcat("/", path, NULL);
	cursor = path_info;
	while (!done) {
		if (!exm_rest_walk_step(
			    match, &cursor, http_method, path_info, load, user_data, &done, error))
			return NULL;
	}
	return g_steal_pointer(&match);
}

static gint
exm_rest_strcmp_ptr(gconstpointer a, gconstpointer b)
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
	g_ptr_array_sort(names, exm_rest_strcmp_ptr);
	for (guint i = 0; i < names->len; i++)
		json_array_add_string_element(array, g_ptr_array_index(names, i));
	json_node_take_array(node, array);
	return node;
}

/* ------------------------------------------------------------------ fields */

const ExmRestField *
exm_rest_model_field(const ExmRestModel *model, const gchar *name)
{
	for (const ExmRestField *f = model->fields; f->name != NULL; f++) {
		if (g_strcmp0(f->name, name) == 0)
			return f;
	}
	return NULL;
}

ExmRestAccess
exm_rest_field_access(const ExmRestField *field, ExmRestMethod method)
{
	switch (method) {
	case EXM_REST_CREATE:
		return field->create;
	case EXM_REST_UPDATE:
		return field->update;
	default:
		return field->read;
	}
}

/* ------------------------------------------------------------------ errors */

void
exm_rest_set_read_only_error(GError **error, const ExmRestModel *model, const gchar *field)
{
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_READ_ONLY,
		    "Property '%s' of model <class '%s'> is read only.",
		    field,
		    model->class_path);
}

void
exm_rest_set_required_error(GError **error, const ExmRestModel *model, const gchar *field)
{
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_PROPERTY_REQUIRED,
		    "Value for property '%s' for model <class '%s'> is required! Property "
		    "should not be None value.",
		    field,
		    model->class_path);
}

void
exm_rest_set_not_found_error(GError **error,
			     const ExmRestModel *model,
			     const gchar *id,
			     const gchar *project_id)
{
	g_autofree gchar *scope =
		project_id != NULL ? g_strdup_printf("'project_id': UUID('%s'), ", project_id)
				   : g_strdup("");

	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_NOT_FOUND,
		    "Can't found record in storage for model (<class '%s'>) and filters "
		    "({%s'uuid': <EQ (UUID('%s'))>}).",
		    model->class_path,
		    scope,
		    id);
}

/* ------------------------------------------------------------------ bodies */

struct _ExmRestBody {
	GPtrArray *values; /* ExmRestValue* in model order */
};

static void
exm_rest_value_free(ExmRestValue *v)
{
	if (v->str != NULL && (v->field->flags & EXM_REST_FIELD_SECRET) != 0)
		exm_secret_free(g_steal_pointer(&v->str));
	g_free(v->str);
	if (v->list != NULL)
		g_ptr_array_unref(v->list);
	g_free(v);
}

void
exm_rest_body_free(ExmRestBody *body)
{
	if (body == NULL)
		return;
	g_ptr_array_unref(body->values);
	g_free(body);
}

const ExmRestValue *
exm_rest_body_get(const ExmRestBody *body, const gchar *name)
{
	for (guint i = 0; i < body->values->len; i++) {
		const ExmRestValue *v = g_ptr_array_index(body->values, i);
		if (g_strcmp0(v->field->name, name) == 0)
			return v;
	}
	return NULL;
}

static const gchar *
exm_rest_type_class(ExmRestType type)
{
	switch (type) {
	case EXM_REST_TYPE_INTEGER:
		return "Integer";
	case EXM_REST_TYPE_BOOLEAN:
		return "Boolean";
	case EXM_REST_TYPE_STRING_LIST:
		return "TypedList";
	case EXM_REST_TYPE_UUID:
		return "UUID";
	case EXM_REST_TYPE_TIMESTAMP:
		return "UTCDateTimeZ";
	case EXM_REST_TYPE_RELATIONSHIP:
		return "Relationship";
	default:
		return "String";
	}
}

static const gchar *
exm_rest_node_class(JsonNode *node)
{
	GType t;

	switch (JSON_NODE_TYPE(node)) {
	case JSON_NODE_NULL:
		return "NoneType";
	case JSON_NODE_ARRAY:
		return "list";
	case JSON_NODE_OBJECT:
		return "dict";
	default:
		t = json_node_get_value_type(node);
		return t == G_TYPE_BOOLEAN  ? "bool"
		       : t == G_TYPE_INT64  ? "int"
		       : t == G_TYPE_DOUBLE ? "float"
					    : "str";
	}
}

/* 400 `TypeError` in restalchemy's create or update wording; never echoes a
 * secret. */
static void
exm_rest_set_type_error(GError **error,
			const ExmRestModel *model,
			const ExmRestField *field,
			ExmRestMethod method,
			JsonNode *node)
{
	g_autofree gchar *value = (field->flags & EXM_REST_FIELD_SECRET) != 0
					  ? g_strdup("<hidden>")
					  : exm_rest_repr(node, TRUE);

	if (method == EXM_REST_UPDATE)
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_TYPE,
			    "Invalid type value '%s'(<class '%s'>) for '%s.%s'(%s).",
			    value,
			    exm_rest_node_class(node),
			    model->name,
			    field->name,
			    exm_rest_type_class(field->type));
	else
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_TYPE,
			    "Invalid type value '%s' for '%s'.",
			    value,
			    exm_rest_type_class(field->type));
}

static void
exm_rest_set_parse_error(GError **error, const ExmRestField *field, JsonNode *node)
{
	g_autofree gchar *value = exm_rest_repr(node, TRUE);

	g_set_error(
		error, EXM_ERROR, EXM_ERROR_PARSE, "Can't parse value: %s=%s.", field->name, value);
}

static gboolean
exm_rest_node_is_string(JsonNode *node)
{
	return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING;
}

/* `<mount><related><uuid>` → the uuid; anything else is a 404 LocatorNotFound. */
static gchar *
exm_rest_parse_relationship(const gchar *uri,
			    const gchar *mount_prefix,
			    const gchar *related,
			    GError **error)
{
	gsize plen = strlen(mount_prefix);
	gsize rlen = strlen(related);
	const gchar *tail = uri + plen + rlen;
	gchar *id = NULL;

	if (strncmp(uri, mount_prefix, plen) == 0 && strncmp(uri + plen, related, rlen) == 0 &&
	    strchr(tail, '/') == NULL)
		id = exm_uuid_parse_lenient(tail, "uuid", NULL);
	if (id == NULL)
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_LOCATOR_NOT_FOUND,
			    "Locator is not found for URI %s. Thus resource could not be found.",
			    uri);
	return id;
}

static gboolean
exm_rest_convert_list(ExmRestValue *v, JsonNode *node)
{
	JsonArray *a;

	if (!JSON_NODE_HOLDS_ARRAY(node))
		return FALSE;
	a = json_node_get_array(node);
	v->list = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonNode *e = json_array_get_element(a, i);
		if (!exm_rest_node_is_string(e))
			return FALSE;
		g_ptr_array_add(v->list, g_strdup(json_node_get_string(e)));
	}
	return TRUE;
}

/* The string-typed conversions: UUID, timestamp, relationship (ParseError or
 * LocatorNotFound) and plain strings (TypeError). */
static gboolean
exm_rest_convert_string(ExmRestValue *v,
			JsonNode *node,
			const ExmRestModel *model,
			ExmRestMethod method,
			const gchar *mount_prefix,
			GError **error)
{
	const ExmRestField *f = v->field;
	const gchar *s;

	if (!exm_rest_node_is_string(node)) {
		if (f->type == EXM_REST_TYPE_STRING)
			exm_rest_set_type_error(error, model, f, method, node);
		else
			exm_rest_set_parse_error(error, f, node);
		return FALSE;
	}
	s = json_node_get_string(node);
	switch (f->type) {
	case EXM_REST_TYPE_UUID:
		v->str = exm_uuid_parse_lenient(s, f->name, error);
		return v->str != NULL;
	case EXM_REST_TYPE_RELATIONSHIP:
		v->str = exm_rest_parse_relationship(s, mount_prefix, f->related, error);
		return v->str != NULL;
	case EXM_REST_TYPE_TIMESTAMP:
		if (!exm_time_parse(s, &v->num)) {
			exm_rest_set_parse_error(error, f, node);
			return FALSE;
		}
		return TRUE;
	default:
		v->str = g_strdup(s);
		return TRUE;
	}
}

static gboolean
exm_rest_convert(ExmRestValue *v,
		 JsonNode *node,
		 const ExmRestModel *model,
		 ExmRestMethod method,
		 const gchar *mount_prefix,
		 GError **error)
{
	const ExmRestField *f = v->field;

	if (JSON_NODE_HOLDS_NULL(node)) {
		if ((f->flags & EXM_REST_FIELD_NULLABLE) != 0) {
			v->is_null = TRUE;
			return TRUE;
		}
		if ((f->flags & EXM_REST_FIELD_REQUIRED) != 0) {
			exm_rest_set_required_error(error, model, f->name);
			return FALSE;
		}
		exm_rest_set_type_error(error, model, f, method, node);
		return FALSE;
	}
	switch (f->type) {
	case EXM_REST_TYPE_INTEGER:
		if (!exm_json_node_is_int(node))
			break;
		v->num = json_node_get_int(node);
		return TRUE;
	case EXM_REST_TYPE_BOOLEAN:
		if (!JSON_NODE_HOLDS_VALUE(node) ||
		    json_node_get_value_type(node) != G_TYPE_BOOLEAN)
			break;
		v->num = json_node_get_boolean(node) ? 1 : 0;
		return TRUE;
	case EXM_REST_TYPE_STRING_LIST:
		if (!exm_rest_convert_list(v, node))
			break;
		return TRUE;
	default:
		return exm_rest_convert_string(v, node, model, method, mount_prefix, error);
	}
	exm_rest_set_type_error(error, model, f, method, node);
	return FALSE;
}

static JsonObject *
exm_rest_parse_body_object(const gchar *data, gsize len, GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autoptr(JsonNode) root = NULL;

	if (data == NULL || len == 0) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_PARSE_BODY,
				    "Can't parse body with specified content-type.");
		return NULL;
	}
	root = exm_json_parse_strict(data, len, &local);
	if (root == NULL) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_PARSE_BODY,
			    "Can't parse body with specified content-type: %s",
			    local->message);
		return NULL;
	}
	if (!JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_PARSE_BODY,
				    "Can't parse body with specified content-type: the body must "
				    "be a JSON object.");
		return NULL;
	}
	return json_object_ref(json_node_get_object(root));
}

/* 400 naming the keys no field took, as a Python dict repr in body order. */
static gboolean
exm_rest_check_leftovers(JsonObject *obj, const ExmRestModel *model, GError **error)
{
	g_autoptr(JsonNode) rest = json_node_new(JSON_NODE_OBJECT);
	JsonObject *left = json_object_new();
	JsonObjectIter it;
	const gchar *k;
	JsonNode *v;
	g_autofree gchar *repr = NULL;

	json_node_take_object(rest, left);
	json_object_iter_init(&it, obj);
	while (json_object_iter_next(&it, &k, &v)) {
		if (exm_rest_model_field(model, k) == NULL)
			json_object_set_member(left, k, json_node_copy(v));
	}
	if (json_object_get_size(left) == 0)
		return TRUE;
	repr = exm_rest_repr(rest, FALSE);
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_PROPERTY_INCOMPATIBLE,
		    "%s is not compatible with model %s",
		    repr,
		    model->name);
	return FALSE;
}

/* Secret strings inside the parsed tree are wiped before json-glib frees them. */
static void
exm_rest_wipe_secrets(JsonObject *obj, const ExmRestModel *model)
{
	for (const ExmRestField *f = model->fields; f->name != NULL; f++) {
		JsonNode *n;
		if ((f->flags & EXM_REST_FIELD_SECRET) == 0)
			continue;
		n = json_object_get_member(obj, f->name);
		if (n != NULL && exm_rest_node_is_string(n)) {
			gchar *s = (gchar *)json_node_get_string(n);
			exm_secret_wipe(s, strlen(s));
		}
	}
}

static gboolean
exm_rest_body_fill(ExmRestBody *body,
		   JsonObject *obj,
		   const ExmRestModel *model,
		   ExmRestMethod method,
		   const gchar *mount_prefix,
		   GError **error)
{
	for (const ExmRestField *f = model->fields; f->name != NULL; f++) {
		JsonNode *node = json_object_get_member(obj, f->name);
		ExmRestValue *v;
		if (node == NULL)
			continue;
		if (exm_rest_field_access(f, method) != EXM_REST_RW) {
			g_set_error(error,
				    EXM_ERROR,
				    EXM_ERROR_FIELD_PERMISSION,
				    "Permission denied for field %s.",
				    f->name);
			return FALSE;
		}
		v = g_new0(ExmRestValue, 1);
		v->field = f;
		g_ptr_array_add(body->values, v);
		if (!exm_rest_convert(v, node, model, method, mount_prefix, error))
			return FALSE;
	}
	return exm_rest_check_leftovers(obj, model, error);
}

ExmRestBody *
exm_rest_body_unpack(const ExmRestModel *model,
		     ExmRestMethod method,
		     const gchar *data,
		     gsize len,
		     const gchar *mount_prefix,
		     GError **error)
{
	g_autoptr(ExmRestBody) body = g_new0(ExmRestBody, 1);
	g_autoptr(JsonObject) obj = exm_rest_parse_body_object(data, len, error);
	gboolean ok;

	body->values = g_ptr_array_new_with_free_func((GDestroyNotify)exm_rest_value_free);
	if (obj == NULL)
		return NULL;
	ok = exm_rest_body_fill(body, obj, model, method, mount_prefix, error);
	exm_rest_wipe_secrets(obj, model);
	if (!ok)
		return NULL;
	return g_steal_pointer(&body);
}

/* ------------------------------------------------------------------ lists */

static void
exm_rest_filter_free(ExmRestFilter *f)
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
exm_rest_filter_new(ExmRestListQuery *query, const ExmRestField *field)
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
	f = exm_rest_filter_new(query, field);
	g_ptr_array_add(f->values, g_strdup(value));
}

static gchar *
exm_rest_filter_value(const ExmRestField *field,
		      const gchar *value,
		      const gchar *mount_prefix,
		      GError **error)
{
	gint64 n;

	switch (field->type) {
	case EXM_REST_TYPE_UUID:
		return exm_uuid_parse_lenient(value, field->name, error);
	case EXM_REST_TYPE_RELATIONSHIP:
		return exm_rest_parse_relationship(value, mount_prefix, field->related, error);
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
exm_rest_query_add_client_filter(ExmRestListQuery *query,
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
	    (field->flags & (EXM_REST_FIELD_NO_COLUMN | EXM_REST_FIELD_SECRET)) != 0) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_FILTER_INCOMPATIBLE,
			    "Filter '%s' is not supported",
			    p->key);
		return FALSE;
	}
	value = exm_rest_filter_value(field, p->value, mount_prefix, error);
	if (value == NULL)
		return FALSE;
	f = exm_rest_list_query_get_filter(query, field->name);
	if (f == NULL)
		f = exm_rest_filter_new(query, field);
	g_ptr_array_add(f->values, value);
	return TRUE;
}

static gboolean
exm_rest_query_set_limit(ExmRestListQuery *query, const gchar *value, GError **error)
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
exm_rest_query_set_sort(ExmRestListQuery *query,
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
	    field->type == EXM_REST_TYPE_STRING_LIST) {
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
exm_rest_query_param(ExmRestListQuery *query,
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
		return exm_rest_query_set_limit(query, p->value, error);
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
	return exm_rest_query_add_client_filter(query, model, p, mount_prefix, error);
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

	query->filters = g_ptr_array_new_with_free_func((GDestroyNotify)exm_rest_filter_free);
	for (gsize i = 0; i < n_params; i++) {
		if (!exm_rest_query_param(
			    query, model, &params[i], mount_prefix, keys, dirs, error))
			return NULL;
	}
	if (!exm_rest_query_set_sort(query, model, keys, dirs, error))
		return NULL;
	return g_steal_pointer(&query);
}

static const gchar *
exm_rest_sql_cast(ExmRestType type)
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
exm_rest_sql_param(GPtrArray *params, const gchar *value)
{
	g_ptr_array_add(params, g_strdup(value));
	return params->len;
}

static void
exm_rest_sql_filter(GString *sql, const ExmRestFilter *f, GPtrArray *params)
{
	const gchar *cast = exm_rest_sql_cast(f->field->type);

	g_string_append(sql, " AND (");
	for (guint i = 0; i < f->values->len; i++) {
		const gchar *v = g_ptr_array_index(f->values, i);
		guint n = exm_rest_sql_param(params, v);
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

/* Marker pagination (§4.4): rows strictly after the marker row in the order. */
static void
exm_rest_sql_marker(GString *sql,
		    const ExmRestListQuery *q,
		    const ExmRestModel *model,
		    GPtrArray *params)
{
	guint m = exm_rest_sql_param(params, q->marker);
	const gchar *op = q->sort_desc ? "<" : ">";
	const gchar *key;

	if (q->sort_key == NULL || g_strcmp0(q->sort_key->name, "uuid") == 0) {
		g_string_append_printf(
			sql, " AND \"uuid\" %s $%u::uuid", q->sort_key ? op : ">", m);
		return;
	}
	key = q->sort_key->name;
	g_string_append_printf(
		sql,
		" AND (\"%s\" %s (SELECT \"%s\" FROM \"%s\" WHERE \"uuid\" = $%u::uuid)"
		" OR (\"%s\" = (SELECT \"%s\" FROM \"%s\" WHERE \"uuid\" = $%u::uuid)"
		" AND \"uuid\" > $%u::uuid))",
		key,
		op,
		key,
		model->table,
		m,
		key,
		key,
		model->table,
		m,
		m);
}

gchar *
exm_rest_list_query_sql(const ExmRestListQuery *query,
			const ExmRestModel *model,
			const gchar *columns,
			GPtrArray *params)
{
	GString *sql = g_string_new(NULL);
	const gchar *dir = query->sort_desc ? "DESC" : "ASC";

	g_string_append_printf(sql, "SELECT %s FROM \"%s\" WHERE TRUE", columns, model->table);
	for (guint i = 0; i < query->filters->len; i++)
		exm_rest_sql_filter(sql, g_ptr_array_index(query->filters, i), params);
	if (query->marker != NULL)
		exm_rest_sql_marker(sql, query, model, params);
	if (query->sort_key == NULL)
		g_string_append(sql, " ORDER BY \"uuid\" ASC");
	else if (g_strcmp0(query->sort_key->name, "uuid") == 0)
		g_string_append_printf(sql, " ORDER BY \"uuid\" %s", dir);
	else
		g_string_append_printf(
			sql, " ORDER BY \"%s\" %s, \"uuid\" ASC", query->sort_key->name, dir);
	if (query->limit > 0)
		g_string_append_printf(sql, " LIMIT %" G_GUINT64_FORMAT, query->limit);
	return g_string_free(sql, FALSE);
}

gchar *
exm_rest_list_query_marker_sql(const ExmRestListQuery *query,
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
		exm_rest_sql_filter(sql, g_ptr_array_index(query->filters, i), params);
	m = exm_rest_sql_param(params, query->marker);
	g_string_append_printf(sql, " AND \"uuid\" = $%u::uuid", m);
	return g_string_free(sql, FALSE);
}

/* ------------------------------------------------------------------ output */

static gboolean
exm_rest_fields_has(GPtrArray *fields, const gchar *name)
{
	for (guint i = 0; i < fields->len; i++) {
		if (g_strcmp0(g_ptr_array_index(fields, i), name) == 0)
			return TRUE;
	}
	return FALSE;
}

void
exm_rest_pack(JsonObject *object,
	      const ExmRestModel *model,
	      ExmRestMethod method,
	      GPtrArray *fields)
{
	g_autoptr(GList) members = json_object_get_members(object);

	for (GList *l = members; l != NULL; l = l->next) {
		const gchar *name = l->data;
		const ExmRestField *f = exm_rest_model_field(model, name);
		JsonNode *n = json_object_get_member(object, name);
		gboolean drop = f == NULL || exm_rest_field_access(f, method) == EXM_REST_HIDDEN ||
				JSON_NODE_HOLDS_NULL(n) ||
				(fields != NULL && !exm_rest_fields_has(fields, name));
		if (drop)
			json_object_remove_member(object, name);
	}
}

/* ------------------------------------------------------------------ IAM */

struct _ExmRestEnforcer {
	GHashTable *services; /* name → (resource → set of actions) */
};

static GHashTable *
exm_rest_level_new(GDestroyNotify value_free)
{
	return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, value_free);
}

/* gcl_iam's quirk: once `*` exists at a level, every key goes to it. */
static const gchar *
exm_rest_level_key(GHashTable *level, const gchar *key)
{
	return g_hash_table_contains(level, "*") ? "*" : key;
}

static GHashTable *
exm_rest_level_get(GHashTable *level, const gchar *key, GDestroyNotify value_free)
{
	const gchar *k = exm_rest_level_key(level, key);
	GHashTable *child = g_hash_table_lookup(level, k);

	if (child == NULL) {
		child = exm_rest_level_new(value_free);
		g_hash_table_insert(level, g_strdup(k), child);
	}
	return child;
}

ExmRestEnforcer *
exm_rest_enforcer_new(const gchar *const *permissions)
{
	ExmRestEnforcer *e = g_new0(ExmRestEnforcer, 1);

	e->services = exm_rest_level_new((GDestroyNotify)g_hash_table_unref);
	for (guint i = 0; permissions != NULL && permissions[i] != NULL; i++) {
		g_auto(GStrv) parts = g_strsplit(permissions[i], ".", -1);
		GHashTable *resources;
		GHashTable *actions;
		if (g_strv_length(parts) != 3)
			continue;
		resources = exm_rest_level_get(
			e->services, parts[0], (GDestroyNotify)g_hash_table_unref);
		actions = exm_rest_level_get(resources, parts[1], NULL);
		g_hash_table_add(actions, g_strdup(parts[2]));
	}
	return e;
}

gboolean
exm_rest_enforcer_allows(const ExmRestEnforcer *enforcer, const gchar *rule)
{
	g_auto(GStrv) parts = g_strsplit(rule, ".", -1);
	GHashTable *resources;
	GHashTable *actions;

	if (g_strv_length(parts) != 3)
		return FALSE;
	resources = g_hash_table_lookup(enforcer->services,
					exm_rest_level_key(enforcer->services, parts[0]));
	if (resources == NULL)
		return FALSE;
	actions = g_hash_table_lookup(resources, exm_rest_level_key(resources, parts[1]));
	if (actions == NULL)
		return FALSE;
	return g_hash_table_contains(actions, parts[2]) || g_hash_table_contains(actions, "*");
}

gboolean
exm_rest_enforcer_check(const ExmRestEnforcer *enforcer, const gchar *rule, GError **error)
{
	if (exm_rest_enforcer_allows(enforcer, rule))
		return TRUE;
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_POLICY_NOT_AUTHORIZED,
		    "Policy rule %s is disallowed.",
		    rule);
	return FALSE;
}

void
exm_rest_enforcer_free(ExmRestEnforcer *enforcer)
{
	if (enforcer == NULL)
		return;
	g_hash_table_unref(enforcer->services);
	g_free(enforcer);
}

/* ------------------------------------------------------------------ responses */

ExmRestResponse *
exm_rest_response_new(void)
{
	ExmRestResponse *r = g_new0(ExmRestResponse, 1);

	r->status = 500;
	r->headers = g_ptr_array_new_with_free_func(g_free);
	return r;
}

void
exm_rest_response_free(ExmRestResponse *response)
{
	if (response == NULL)
		return;
	g_free(response->body);
	g_ptr_array_unref(response->headers);
	g_free(response);
}

void
exm_rest_response_set_json(ExmRestResponse *response, guint status, JsonNode *node)
{
	response->status = status;
	g_clear_pointer(&response->body, g_free);
	if (node != NULL)
		response->body = exm_json_to_string(node);
}

void
exm_rest_response_set_error(ExmRestResponse *response, const GError *error)
{
	response->status = exm_error_http_status(error);
	g_free(response->body);
	response->body = exm_error_body(error);
	g_ptr_array_set_size(response->headers, 0);
}

void
exm_rest_response_add_header(ExmRestResponse *response, const gchar *name, const gchar *value)
{
	g_ptr_array_add(response->headers, g_strdup(name));
	g_ptr_array_add(response->headers, g_strdup(value));
}

void
exm_rest_response_paginate(ExmRestResponse *response,
			   const ExmRestListQuery *query,
			   guint n_items,
			   const gchar *last_id)
{
	g_autofree gchar *limit = NULL;

	if (query->limit == 0)
		return;
	limit = g_strdup_printf("%" G_GUINT64_FORMAT, query->limit);
	exm_rest_response_add_header(response, "X-Pagination-Limit", limit);
	if (n_items == query->limit && last_id != NULL)
		exm_rest_response_add_header(response, "X-Pagination-Marker", last_id);
}
