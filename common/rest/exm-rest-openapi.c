/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The OpenAPI document of a mount (exm-rest-openapi.h), from its route tree
 * and its kinds' models only: what the walk (exm-rest-route.c) serves is what
 * is documented, and the checks that keep the two equal live in the tests
 * (tests/unit/test-plugin-openapi.c, tests/http/test-host-openapi.c).
 */
#include "exm-rest-openapi.h"

#include <string.h>

#include "exm-error.h"

static const gchar *const oas_versions[] = { "3.0.3", "3.1.0", NULL };

/* The error answers, by status: the component's name and what it means. */
static const struct {
	guint status;
	const gchar *name;
	const gchar *description;
} oas_errors[] = {
	{ 400,
	  "BadRequest",
	  "restalchemy error body: ParseError, ParseBodyError, TypeError, ModelTypeError, "
	  "PropertyRequired, ReadOnlyProperty, ValidationError, "
	  "ValidationPropertyIncompatibleError, ValidationFilterIncompatibleError, "
	  "ValidationSort*Error, NotEqualUuidException" },
	{ 401, "Unauthorized", "OAuth error body: the bearer token is invalid or expired" },
	{ 403,
	  "Forbidden",
	  "restalchemy error body: PolicyNotAuthorized, Forbidden, FieldPermissionError" },
	{ 404,
	  "NotFound",
	  "restalchemy error body: RecordNotFound, LocatorNotFound, IncorrectRouteAttribute, "
	  "ResourceNotFoundError, CollectionNotFoundError, NotFoundError" },
	{ 405, "MethodNotAllowed", "restalchemy error body: UnsupportedHttpMethod" },
	{ 409, "Conflict", "restalchemy error body: ConflictRecords" },
	{ 413, "PayloadTooLarge", "restalchemy error body: the request body is too large" },
	{ 500, "InternalError", "restalchemy error body: an unexpected failure" },
	{ 503, "Unavailable", "restalchemy error body: the server is shutting down or busy" },
};

/* The error statuses of each kind of operation. */
static const guint oas_err_index[] = { 401, 500, 0 };
static const guint oas_err_list[] = { 400, 401, 403, 404, 500, 0 };
static const guint oas_err_write[] = { 400, 401, 403, 404, 409, 413, 500, 0 };
static const guint oas_err_delete[] = { 400, 401, 403, 404, 409, 500, 0 };

const gchar *const *
exm_rest_openapi_versions(void)
{
	return oas_versions;
}

static gboolean
oas31(JsonObject *doc)
{
	return g_str_has_prefix(json_object_get_string_member(doc, "openapi"), "3.1");
}

static JsonObject *
obj_child(JsonObject *parent, const gchar *name)
{
	if (!json_object_has_member(parent, name))
		json_object_set_object_member(parent, name, json_object_new());
	return json_object_get_object_member(parent, name);
}

/* A node owning @o (json_node_init_object() would add a reference). */
static JsonNode *
node_take(JsonObject *o)
{
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);

	json_node_take_object(node, o);
	return node;
}

static JsonNode *
ref_node(const gchar *section, const gchar *name)
{
	g_autofree gchar *ref = g_strdup_printf("#/components/%s/%s", section, name);
	JsonObject *o = json_object_new();

	json_object_set_string_member(o, "$ref", ref);
	return node_take(o);
}

static JsonObject *
schema_typed(const gchar *type, const gchar *format)
{
	JsonObject *o = json_object_new();

	json_object_set_string_member(o, "type", type);
	if (format != NULL)
		json_object_set_string_member(o, "format", format);
	return o;
}

static JsonArray *
strv_array(const gchar *const *values)
{
	JsonArray *a = json_array_new();

	for (gsize i = 0; values != NULL && values[i] != NULL; i++)
		json_array_add_string_element(a, values[i]);
	return a;
}

/* restalchemy's error body {"type","code","message"} and gcl_iam's OAuth one. */
static void
skeleton_error_schemas(JsonObject *schemas)
{
	static const gchar *const ra[] = { "type", "code", "message", NULL };
	static const gchar *const oauth[] = { "error", "error_description", NULL };
	JsonObject *e = schema_typed("object", NULL);
	JsonObject *props = obj_child(e, "properties");
	JsonObject *o = schema_typed("object", NULL);
	JsonObject *oprops = obj_child(o, "properties");

	json_object_set_array_member(e, "required", strv_array(ra));
	json_object_set_object_member(props, "type", schema_typed("string", NULL));
	json_object_set_object_member(props, "code", schema_typed("integer", "int64"));
	json_object_set_object_member(props, "message", schema_typed("string", NULL));
	json_object_set_string_member(e,
				      "description",
				      "restalchemy's error: the exception's class name, its code "
				      "(the HTTP status, or 10000001) and its message");
	json_object_set_object_member(schemas, "Error", e);
	json_object_set_array_member(o, "required", strv_array(oauth));
	json_object_set_object_member(oprops, "error", schema_typed("string", NULL));
	json_object_set_object_member(oprops, "error_description", schema_typed("string", NULL));
	json_object_set_object_member(schemas, "OAuthError", o);
}

static JsonObject *
json_content(JsonNode *schema)
{
	JsonObject *content = json_object_new();
	JsonObject *media = json_object_new();

	json_object_set_member(media, "schema", schema);
	json_object_set_object_member(content, "application/json", media);
	return content;
}

static void
skeleton_responses(JsonObject *components)
{
	JsonObject *responses = obj_child(components, "responses");

	for (gsize i = 0; i < G_N_ELEMENTS(oas_errors); i++) {
		JsonObject *r = json_object_new();
		const gchar *schema = oas_errors[i].status == 401 ? "OAuthError" : "Error";
		json_object_set_string_member(r, "description", oas_errors[i].description);
		json_object_set_object_member(
			r, "content", json_content(ref_node("schemas", schema)));
		json_object_set_object_member(responses, oas_errors[i].name, r);
	}
}

static void
skeleton_header(JsonObject *headers, const gchar *name, JsonObject *schema, const gchar *text)
{
	JsonObject *h = json_object_new();

	json_object_set_string_member(h, "description", text);
	json_object_set_object_member(h, "schema", schema);
	json_object_set_object_member(headers, name, h);
}

static void
skeleton_headers(JsonObject *components)
{
	JsonObject *headers = obj_child(components, "headers");
	JsonObject *limit = schema_typed("integer", "int64");

	json_object_set_int_member(limit, "minimum", 1);
	skeleton_header(headers,
			"X-Pagination-Limit",
			limit,
			"the page_limit of the request, when it was above 0");
	skeleton_header(headers,
			"X-Pagination-Marker",
			schema_typed("string", "uuid"),
			"the uuid of the last item, only when the page is full: the "
			"page_marker of the next page");
	skeleton_header(headers,
			"Location",
			schema_typed("string", "uri"),
			"the absolute URL of the created resource");
}

JsonObject *
exm_rest_openapi_skeleton(const gchar *oas_version,
			  const gchar *title,
			  const gchar *version,
			  GError **error)
{
	JsonObject *doc;
	JsonObject *info;
	JsonObject *components;
	JsonObject *list = schema_typed("array", NULL);

	if (oas_version == NULL || !g_strv_contains(oas_versions, oas_version)) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_PATH_NOT_FOUND,
			    "OpenAPI version %s is not served.",
			    oas_version != NULL ? oas_version : "(none)");
		json_object_unref(list);
		return NULL;
	}
	doc = json_object_new();
	json_object_set_string_member(doc, "openapi", oas_version);
	info = obj_child(doc, "info");
	json_object_set_string_member(info, "title", title);
	json_object_set_string_member(info, "version", version);
	obj_child(doc, "paths");
	components = obj_child(doc, "components");
	skeleton_error_schemas(obj_child(components, "schemas"));
	json_object_set_object_member(list, "items", schema_typed("string", NULL));
	json_object_set_object_member(obj_child(components, "schemas"), "RouteList", list);
	skeleton_responses(components);
	skeleton_headers(components);
	return doc;
}

/* ------------------------------------------------------------------ fields */

static const gchar *
access_name(ExmRestAccess access)
{
	return access == EXM_REST_RW ? "RW" : access == EXM_REST_RO ? "RO" : "HIDDEN";
}

static JsonObject *
field_type(const ExmRestField *f, const gchar *mount)
{
	g_autofree gchar *pattern = NULL;
	JsonObject *o;

	switch (f->type) {
	case EXM_REST_TYPE_UUID:
		return schema_typed("string", "uuid");
	case EXM_REST_TYPE_INTEGER:
		return schema_typed("integer", "int64");
	case EXM_REST_TYPE_BOOLEAN:
		return schema_typed("boolean", NULL);
	case EXM_REST_TYPE_TIMESTAMP:
		return schema_typed("string", "date-time");
	case EXM_REST_TYPE_OBJECT:
		return schema_typed("object", NULL);
	case EXM_REST_TYPE_STRING_LIST:
		o = schema_typed("array", NULL);
		json_object_set_object_member(o, "items", schema_typed("string", NULL));
		return o;
	case EXM_REST_TYPE_RELATIONSHIP:
		o = schema_typed("string", "uri-reference");
		pattern = g_strdup_printf("^%s%s[0-9a-fA-F-]{36}$", mount, f->related);
		json_object_set_string_member(o, "pattern", pattern);
		json_object_set_string_member(o, "x-exordos-related", f->related);
		return o;
	default:
		return schema_typed("string", NULL);
	}
}

static void
field_limits(JsonObject *o, const ExmRestFieldSchema *s)
{
	if (s == NULL)
		return;
	if ((s->limits & EXM_REST_LIMIT_MIN) != 0)
		json_object_set_int_member(o, "minimum", s->minimum);
	if ((s->limits & EXM_REST_LIMIT_MAX) != 0)
		json_object_set_int_member(o, "maximum", s->maximum);
	if ((s->limits & EXM_REST_LIMIT_MIN_LENGTH) != 0)
		json_object_set_int_member(o, "minLength", s->min_length);
	if ((s->limits & EXM_REST_LIMIT_MAX_LENGTH) != 0)
		json_object_set_int_member(o, "maxLength", s->max_length);
	if (s->values != NULL)
		json_object_set_array_member(o, "enum", strv_array(s->values));
	if (s->format != NULL)
		json_object_set_string_member(o, "format", s->format);
	if (s->description != NULL)
		json_object_set_string_member(o, "description", s->description);
}

/* 3.0: `nullable`; 3.1: a type array with "null" (and null among an enum's). */
static void
field_nullable(JsonObject *o, gboolean v31)
{
	JsonArray *types;

	if (!v31) {
		json_object_set_boolean_member(o, "nullable", TRUE);
		return;
	}
	types = json_array_new();
	json_array_add_string_element(types, json_object_get_string_member(o, "type"));
	json_array_add_string_element(types, "null");
	json_object_set_array_member(o, "type", types);
	if (json_object_has_member(o, "enum"))
		json_array_add_null_element(json_object_get_array_member(o, "enum"));
}

/* A field's value schema: type, format, limits, nullability. */
static JsonObject *
field_value(const ExmRestField *f, const gchar *mount, gboolean v31)
{
	JsonObject *o = field_type(f, mount);

	field_limits(o, f->schema);
	if ((f->flags & EXM_REST_FIELD_NULLABLE) != 0)
		field_nullable(o, v31);
	return o;
}

static gboolean
field_writable(const ExmRestField *f)
{
	return f->create == EXM_REST_RW || f->update == EXM_REST_RW;
}

/* The property of a model schema: value + per-method access. */
static JsonObject *
field_property(const ExmRestField *f, const gchar *mount, gboolean v31)
{
	JsonObject *o = field_value(f, mount, v31);
	JsonObject *access = json_object_new();

	if (!field_writable(f))
		json_object_set_boolean_member(o, "readOnly", TRUE);
	if (f->read == EXM_REST_HIDDEN)
		json_object_set_boolean_member(o, "writeOnly", TRUE);
	json_object_set_string_member(access, "create", access_name(f->create));
	json_object_set_string_member(access, "read", access_name(f->read));
	json_object_set_string_member(access, "update", access_name(f->update));
	json_object_set_object_member(o, "x-exordos-access", access);
	if ((f->flags & EXM_REST_FIELD_READ_ONLY) != 0)
		json_object_set_boolean_member(o, "x-exordos-model-read-only", TRUE);
	if ((f->flags & EXM_REST_FIELD_SECRET) != 0)
		json_object_set_boolean_member(o, "x-exordos-secret", TRUE);
	if ((f->flags & EXM_REST_FIELD_NO_COLUMN) != 0)
		json_object_set_boolean_member(o, "x-exordos-no-column", TRUE);
	return o;
}

/* ------------------------------------------------------------------ models */

/* Filled in at create when absent: the scope's project, the URL's parent. */
static gboolean
model_defaulted(const ExmRestKind *kind, const ExmRestField *f)
{
	return g_str_equal(f->name, "project_id") ||
	       (kind->parent_field != NULL && g_str_equal(f->name, kind->parent_field));
}

/* `<Model>` (what answers hold), `<Model>Create`, `<Model>Update` (bodies). */
static void
model_schemas(JsonObject *schemas, const ExmRestKind *kind, const gchar *mount, gboolean v31)
{
	const ExmRestModel *m = kind->model;
	JsonObject *all = schema_typed("object", NULL);
	JsonObject *create = schema_typed("object", NULL);
	JsonObject *update = schema_typed("object", NULL);
	JsonArray *required = json_array_new();
	g_autofree gchar *cname = g_strconcat(m->name, "Create", NULL);
	g_autofree gchar *uname = g_strconcat(m->name, "Update", NULL);

	for (const ExmRestField *f = m->fields; f->name != NULL; f++) {
		if (!field_writable(f) && f->read == EXM_REST_HIDDEN)
			continue;
		json_object_set_object_member(
			obj_child(all, "properties"), f->name, field_property(f, mount, v31));
		if (f->create == EXM_REST_RW)
			json_object_set_object_member(obj_child(create, "properties"),
						      f->name,
						      field_property(f, mount, v31));
		if (f->update == EXM_REST_RW)
			json_object_set_object_member(obj_child(update, "properties"),
						      f->name,
						      field_property(f, mount, v31));
		if ((f->flags & EXM_REST_FIELD_REQUIRED) != 0 && f->create == EXM_REST_RW &&
		    !model_defaulted(kind, f))
			json_array_add_string_element(required, f->name);
	}
	json_object_set_boolean_member(create, "additionalProperties", FALSE);
	json_object_set_boolean_member(update, "additionalProperties", FALSE);
	if (json_array_get_length(required) > 0)
		json_object_set_array_member(create, "required", json_array_ref(required));
	json_array_unref(required);
	json_object_set_string_member(all, "x-exordos-model", m->class_path);
	json_object_set_object_member(schemas, m->name, all);
	json_object_set_object_member(schemas, cname, create);
	json_object_set_object_member(schemas, uname, update);
}

/* ------------------------------------------------------------------ operations */

/* Upstream's operationId: `<Method>_<segments without braces>`. */
static gchar *
operation_id(const gchar *method, const gchar *path)
{
	g_auto(GStrv) parts = g_strsplit(path, "/", -1);
	GString *id = g_string_new(NULL);

	g_string_append_c(id, g_ascii_toupper(method[0]));
	g_string_append(id, method + 1);
	for (gsize i = 0; parts[i] != NULL; i++) {
		if (parts[i][0] == '\0')
			continue;
		g_string_append_c(id, '_');
		for (const gchar *c = parts[i]; *c != '\0'; c++)
			if (*c != '{' && *c != '}')
				g_string_append_c(id, *c == '-' ? '_' : *c);
	}
	return g_string_free(id, FALSE);
}

static void
operation_path_params(JsonObject *op, const gchar *path)
{
	JsonArray *params = json_array_new();

	for (const gchar *p = strchr(path, '{'); p != NULL; p = strchr(p + 1, '{')) {
		const gchar *end = strchr(p, '}');
		g_autofree gchar *name = end != NULL ? g_strndup(p + 1, end - p - 1) : NULL;
		JsonObject *param = json_object_new();
		if (name == NULL) {
			json_object_unref(param);
			break;
		}
		json_object_set_string_member(param, "name", name);
		json_object_set_string_member(param, "in", "path");
		json_object_set_boolean_member(param, "required", TRUE);
		json_object_set_object_member(
			param,
			"schema",
			schema_typed("string", g_str_has_suffix(name, "Uuid") ? "uuid" : NULL));
		json_array_add_object_element(params, param);
	}
	json_object_set_array_member(op, "parameters", params);
}

static const gchar *
error_name(guint status)
{
	for (gsize i = 0; i < G_N_ELEMENTS(oas_errors); i++)
		if (oas_errors[i].status == status)
			return oas_errors[i].name;
	return "InternalError";
}

JsonObject *
exm_rest_openapi_operation(JsonObject *doc,
			   const gchar *path,
			   const gchar *method,
			   const gchar *summary,
			   guint ok,
			   JsonNode *ok_schema,
			   const guint *errors)
{
	JsonObject *item = obj_child(obj_child(doc, "paths"), path);
	JsonObject *op = json_object_new();
	JsonObject *responses = obj_child(op, "responses");
	JsonObject *success = json_object_new();
	g_autofree gchar *id = operation_id(method, path);
	g_autofree gchar *code = g_strdup_printf("%u", ok);

	json_object_set_string_member(op, "operationId", id);
	json_object_set_string_member(op, "summary", summary);
	operation_path_params(op, path);
	json_object_set_string_member(success, "description", summary);
	if (ok_schema != NULL)
		json_object_set_object_member(success, "content", json_content(ok_schema));
	json_object_set_object_member(responses, code, success);
	for (gsize i = 0; errors != NULL && errors[i] != 0; i++) {
		g_autofree gchar *status = g_strdup_printf("%u", errors[i]);
		json_object_set_member(
			responses, status, ref_node("responses", error_name(errors[i])));
	}
	json_object_set_object_member(item, method, op);
	return op;
}

static void
add_header(JsonObject *op, guint status, const gchar *name)
{
	g_autofree gchar *code = g_strdup_printf("%u", status);
	JsonObject *r =
		json_object_get_object_member(json_object_get_object_member(op, "responses"), code);

	json_object_set_member(obj_child(r, "headers"), name, ref_node("headers", name));
}

static void
add_body(JsonObject *op, const gchar *schema)
{
	JsonObject *body = json_object_new();

	json_object_set_boolean_member(body, "required", TRUE);
	json_object_set_object_member(body, "content", json_content(ref_node("schemas", schema)));
	json_object_set_object_member(op, "requestBody", body);
}

/* ------------------------------------------------------------------ lists */

static gboolean
filterable(const ExmRestField *f)
{
	return (f->flags & (EXM_REST_FIELD_NO_COLUMN | EXM_REST_FIELD_SECRET)) == 0 &&
	       f->type != EXM_REST_TYPE_OBJECT;
}

static void
query_param(JsonArray *params, const gchar *name, JsonObject *schema, const gchar *text)
{
	JsonObject *p = json_object_new();

	json_object_set_string_member(p, "name", name);
	json_object_set_string_member(p, "in", "query");
	json_object_set_string_member(p, "description", text);
	json_object_set_boolean_member(p, "required", FALSE);
	if (g_str_equal(json_object_get_string_member(schema, "type"), "array")) {
		json_object_set_string_member(p, "style", "form");
		json_object_set_boolean_member(p, "explode", TRUE);
	}
	json_object_set_object_member(p, "schema", schema);
	json_array_add_object_element(params, p);
}

static JsonObject *
array_of(JsonObject *items)
{
	JsonObject *a = schema_typed("array", NULL);

	json_object_set_object_member(a, "items", items);
	return a;
}

/* The reserved list parameters of restalchemy (§4.1). */
static void
list_reserved(JsonArray *params, const ExmRestModel *m)
{
	JsonObject *limit = schema_typed("integer", "int64");
	JsonObject *fields = schema_typed("string", NULL);
	JsonObject *keys = schema_typed("string", NULL);
	JsonObject *dir = schema_typed("string", NULL);
	JsonArray *names = json_array_new();
	JsonArray *sortable = json_array_new();

	for (const ExmRestField *f = m->fields; f->name != NULL; f++) {
		if (f->read != EXM_REST_HIDDEN)
			json_array_add_string_element(names, f->name);
		if (filterable(f))
			json_array_add_string_element(sortable, f->name);
	}
	json_object_set_array_member(fields, "enum", names);
	json_object_set_array_member(keys, "enum", sortable);
	json_object_set_int_member(limit, "minimum", 0);
	json_object_set_string_member(dir, "pattern", "^([aA][sS][cC]|[dD][eE][sS][cC])$");
	query_param(params, "fields", array_of(fields), "sparse fieldset: only these fields");
	query_param(params, "page_limit", limit, "page size; 0 or absent: no limit");
	query_param(params,
		    "page_marker",
		    schema_typed("string", "uuid"),
		    "the X-Pagination-Marker of the previous page");
	query_param(params, "sort_key", keys, "the one field to sort by, then uuid");
	query_param(params, "sort_dir", dir, "asc or desc, case-insensitive");
}

/* Every other parameter is a filter on a field: repeated = OR, fields AND. */
static void
list_params(JsonObject *op, const ExmRestModel *m, const gchar *mount)
{
	JsonArray *params = json_object_get_array_member(op, "parameters");

	list_reserved(params, m);
	for (const ExmRestField *f = m->fields; f->name != NULL; f++) {
		JsonObject *value;
		g_autofree gchar *text = NULL;
		if (!filterable(f) || f->type == EXM_REST_TYPE_STRING_LIST)
			continue;
		value = field_type(f, mount);
		field_limits(value, f->schema);
		if (json_object_has_member(value, "description"))
			json_object_remove_member(value, "description");
		text = g_strdup_printf("filter: %s equals one of the values", f->name);
		query_param(params, f->name, array_of(value), text);
	}
}

/* ------------------------------------------------------------------ routes */

typedef struct {
	const ExmRestOpenapiSpec *spec;
	JsonObject *doc;
	gboolean v31;
} Build;

static const ExmRestKind *
kind_of(const Build *b, const ExmRestRoute *route)
{
	for (gsize i = 0; b->spec->kinds != NULL && b->spec->kinds[i] != NULL; i++)
		if (b->spec->kinds[i]->route == route)
			return b->spec->kinds[i];
	return NULL;
}

static JsonNode *
model_ref(const ExmRestKind *kind)
{
	JsonObject *any;

	if (kind != NULL)
		return ref_node("schemas", kind->model->name);
	any = schema_typed("object", NULL);
	return node_take(any);
}

static void
build_collection_ops(Build *b, const ExmRestRoute *route, const gchar *coll)
{
	const ExmRestKind *kind = kind_of(b, route);
	g_autofree gchar *cname =
		kind != NULL ? g_strconcat(kind->model->name, "Create", NULL) : NULL;
	JsonObject *op;

	if ((route->allow & EXM_REST_FILTER) != 0) {
		JsonObject *list = array_of(json_object_new());
		json_object_set_member(list, "items", model_ref(kind));
		op = exm_rest_openapi_operation(
			b->doc, coll, "get", "list", 200, node_take(list), oas_err_list);
		add_header(op, 200, "X-Pagination-Limit");
		add_header(op, 200, "X-Pagination-Marker");
		if (kind != NULL)
			list_params(op, kind->model, b->spec->mount);
	}
	if ((route->allow & EXM_REST_CREATE) != 0) {
		op = exm_rest_openapi_operation(
			b->doc, coll, "post", "create", 201, model_ref(kind), oas_err_write);
		add_header(op, 201, "Location");
		if (cname != NULL)
			add_body(op, cname);
	}
}

static void
build_resource_ops(Build *b, const ExmRestRoute *route, const gchar *res)
{
	static const gchar *const update_methods[] = { "put", "patch" };
	const ExmRestKind *kind = kind_of(b, route);
	g_autofree gchar *uname =
		kind != NULL ? g_strconcat(kind->model->name, "Update", NULL) : NULL;

	if ((route->allow & EXM_REST_GET) != 0)
		exm_rest_openapi_operation(
			b->doc, res, "get", "get", 200, model_ref(kind), oas_err_list);
	for (gsize i = 0; i < G_N_ELEMENTS(update_methods); i++) {
		JsonObject *op;
		if ((route->allow & EXM_REST_UPDATE) == 0)
			break;
		op = exm_rest_openapi_operation(b->doc,
						res,
						update_methods[i],
						"partial update: only the given fields change",
						200,
						model_ref(kind),
						oas_err_write);
		if (uname != NULL)
			add_body(op, uname);
	}
	if ((route->allow & EXM_REST_DELETE) != 0)
		exm_rest_openapi_operation(
			b->doc, res, "delete", "delete", 204, NULL, oas_err_delete);
	for (gsize i = 0; route->actions != NULL && route->actions[i] != NULL; i++) {
		g_autofree gchar *path = g_strconcat(res, "/actions/", route->actions[i], NULL);
		exm_rest_openapi_operation(b->doc,
					   path,
					   "get",
					   "plain action (GET only)",
					   200,
					   node_take(json_object_new()),
					   oas_err_list);
	}
	for (gsize i = 0; route->invoke_actions != NULL && route->invoke_actions[i] != NULL; i++) {
		g_autofree gchar *path =
			g_strconcat(res, "/actions/", route->invoke_actions[i], "/invoke", NULL);
		exm_rest_openapi_operation(b->doc,
					   path,
					   "post",
					   "invoke action (POST; JSON body of keyword arguments)",
					   200,
					   node_take(json_object_new()),
					   oas_err_write);
	}
}

// NOLINTBEGIN(misc-no-recursion): the depth of a constant route tree the plugin declares
static void build_route(Build *b, const ExmRestRoute *route, const gchar *coll);

static void
build_children(Build *b, const ExmRestRoute *route, const gchar *base, gboolean nested)
{
	for (gsize i = 0; route->children != NULL && route->children[i] != NULL; i++) {
		const ExmRestRoute *child = route->children[i];
		g_autofree gchar *coll = NULL;
		if (child->nested != nested)
			continue;
		coll = g_strconcat(base, child->name, "/", NULL);
		build_route(b, child, coll);
	}
}

/* A route at collection path @coll: its operations, then its children. */
static void
build_route(Build *b, const ExmRestRoute *route, const gchar *coll)
{
	const ExmRestKind *kind = kind_of(b, route);
	g_autofree gchar *res = NULL;
	g_autofree gchar *res_slash = NULL;

	if (!route->has_resources) {
		if ((route->allow & EXM_REST_FILTER) != 0)
			exm_rest_openapi_operation(b->doc,
						   coll,
						   "get",
						   "the names of the collections below",
						   200,
						   ref_node("schemas", "RouteList"),
						   oas_err_index);
		build_children(b, route, coll, FALSE);
		return;
	}
	if (kind != NULL)
		model_schemas(
			json_object_get_object_member(
				json_object_get_object_member(b->doc, "components"), "schemas"),
			kind,
			b->spec->mount,
			b->v31);
	build_collection_ops(b, route, coll);
	res = g_strdup_printf("%s{%sUuid}", coll, kind != NULL ? kind->model->name : "Resource");
	build_resource_ops(b, route, res);
	build_children(b, route, coll, FALSE);
	res_slash = g_strconcat(res, "/", NULL);
	build_children(b, route, res_slash, TRUE);
}
// NOLINTEND(misc-no-recursion)

JsonObject *
exm_rest_openapi_build(const ExmRestOpenapiSpec *spec, const gchar *oas_version, GError **error)
{
	Build b = { spec, NULL, FALSE };

	b.doc = exm_rest_openapi_skeleton(oas_version, spec->title, spec->version, error);
	if (b.doc == NULL)
		return NULL;
	b.v31 = oas31(b.doc);
	build_route(&b, spec->root, spec->mount);
	return b.doc;
}

static void
merge_members(JsonObject *into, JsonObject *from)
{
	g_autoptr(GList) names = json_object_get_members(from);

	for (GList *l = names; l != NULL; l = l->next)
		if (!json_object_has_member(into, l->data))
			json_object_set_member(
				into,
				l->data,
				json_node_copy(json_object_get_member(from, l->data)));
}

void
exm_rest_openapi_merge(JsonObject *doc, JsonObject *other)
{
	merge_members(obj_child(doc, "paths"), obj_child(other, "paths"));
	merge_members(obj_child(obj_child(doc, "components"), "schemas"),
		      obj_child(obj_child(other, "components"), "schemas"));
}
