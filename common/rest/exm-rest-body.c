/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Body unpacking (see exm-rest-body.h).
 */
#include "exm-rest-body.h"

#include <string.h>

#include "exm-cleanup.h"
#include "exm-error.h"
#include "exm-json.h"
#include "exm-rest-private.h"
#include "exm-secret.h"
#include "exm-time.h"
#include "exm-uuid.h"

struct _ExmRestBody {
	GPtrArray *values; /* ExmRestValue* in model order */
};

static void
value_free(ExmRestValue *v)
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

const GPtrArray *
exm_rest_body_values(const ExmRestBody *body)
{
	return body->values;
}

static const gchar *
type_class(ExmRestType type)
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
node_class(JsonNode *node)
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

/* 400 `TypeError` (create) or `ModelTypeError` (update) in restalchemy's
 * wording for @value (Python's str() of it, of class @py_class); never echoes
 * a secret. */
static void
type_error(GError **error,
	   const ExmRestModel *model,
	   const ExmRestField *field,
	   ExmRestMethod method,
	   const gchar *value,
	   const gchar *py_class)
{
	if ((field->flags & EXM_REST_FIELD_SECRET) != 0)
		value = "<hidden>";
	if (method == EXM_REST_UPDATE)
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_MODEL_TYPE,
			    "Invalid type value '%s'(<class '%s'>) for '%s.%s'(%s).",
			    value,
			    py_class,
			    model->name,
			    field->name,
			    type_class(field->type));
	else
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_TYPE,
			    "Invalid type value '%s' for '%s'.",
			    value,
			    type_class(field->type));
}

static void
set_type_error(GError **error,
	       const ExmRestModel *model,
	       const ExmRestField *field,
	       ExmRestMethod method,
	       JsonNode *node)
{
	g_autofree gchar *value =
		(field->flags & EXM_REST_FIELD_SECRET) != 0 ? NULL : exm_rest_repr(node, TRUE);

	type_error(error, model, field, method, value, node_class(node));
}

gboolean
exm_rest_body_range_error(GError **error,
			  const ExmRestModel *model,
			  const gchar *field,
			  ExmRestMethod method,
			  const gchar *value)
{
	const ExmRestField *f = exm_rest_model_field(model, field);

	g_return_val_if_fail(f != NULL, FALSE);
	type_error(
		error, model, f, method, value, f->type == EXM_REST_TYPE_INTEGER ? "int" : "str");
	return FALSE;
}

static void
set_parse_error(GError **error, const ExmRestField *field, JsonNode *node)
{
	g_autofree gchar *value = exm_rest_repr(node, TRUE);

	g_set_error(
		error, EXM_ERROR, EXM_ERROR_PARSE, "Can't parse value: %s=%s.", field->name, value);
}

static gboolean
node_is_string(JsonNode *node)
{
	return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING;
}

static gboolean
convert_list(ExmRestValue *v, JsonNode *node)
{
	JsonArray *a;

	if (!JSON_NODE_HOLDS_ARRAY(node))
		return FALSE;
	a = json_node_get_array(node);
	v->list = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonNode *e = json_array_get_element(a, i);
		if (!node_is_string(e))
			return FALSE;
		g_ptr_array_add(v->list, g_strdup(json_node_get_string(e)));
	}
	return TRUE;
}

/* The string-typed conversions: UUID, timestamp, relationship (ParseError or
 * LocatorNotFound) and plain strings (TypeError). */
static gboolean
convert_string(ExmRestValue *v,
	       JsonNode *node,
	       const ExmRestModel *model,
	       ExmRestMethod method,
	       const gchar *mount_prefix,
	       GError **error)
{
	const ExmRestField *f = v->field;
	const gchar *s;

	if (!node_is_string(node)) {
		if (f->type == EXM_REST_TYPE_STRING || f->type == EXM_REST_TYPE_ENUM)
			set_type_error(error, model, f, method, node);
		else
			set_parse_error(error, f, node);
		return FALSE;
	}
	s = json_node_get_string(node);
	switch (f->type) {
	case EXM_REST_TYPE_UUID:
		v->str = exm_uuid_parse_lenient(s, f->name, error);
		return v->str != NULL;
	case EXM_REST_TYPE_RELATIONSHIP:
		v->str = exm_rest_model_parse_relationship(s, mount_prefix, f->related, error);
		return v->str != NULL;
	case EXM_REST_TYPE_TIMESTAMP:
		if (!exm_time_parse(s, &v->num)) {
			set_parse_error(error, f, node);
			return FALSE;
		}
		return TRUE;
	default:
		v->str = g_strdup(s);
		return TRUE;
	}
}

static gboolean
convert(ExmRestValue *v,
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
			exm_rest_model_error_required(error, model, f->name);
			return FALSE;
		}
		set_type_error(error, model, f, method, node);
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
		if (!convert_list(v, node))
			break;
		return TRUE;
	default:
		return convert_string(v, node, model, method, mount_prefix, error);
	}
	set_type_error(error, model, f, method, node);
	return FALSE;
}

/* The names of @model's secret fields (a %NULL-terminated array of its names). */
static GPtrArray *
secret_names(const ExmRestModel *model)
{
	GPtrArray *names = g_ptr_array_new();

	for (const ExmRestField *f = model->fields; f->name != NULL; f++) {
		if ((f->flags & EXM_REST_FIELD_SECRET) != 0)
			g_ptr_array_add(names, (gpointer)f->name);
	}
	g_ptr_array_add(names, NULL);
	return names;
}

/*
 * The body is parsed from a copy this code owns and wipes, and its secret
 * members never reach json-glib's scanner (exm_json_parse_secret()).
 */
static JsonNode *
parse_owned(const ExmRestModel *model, const gchar *data, gsize len, GError **error)
{
	g_autoptr(GPtrArray) names = secret_names(model);

	return exm_json_parse_secret_copy(data, len, (const gchar *const *)names->pdata, error);
}

static JsonObject *
parse_body_object(const ExmRestModel *model, const gchar *data, gsize len, GError **error)
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
	root = parse_owned(model, data, len, &local);
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
check_leftovers(JsonObject *obj, const ExmRestModel *model, GError **error)
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

/* The strings of secret fields in the parsed tree, the only copies
 * exm_json_parse_secret() left, are wiped before json-glib frees them. */
static void
wipe_secrets(JsonObject *obj, const ExmRestModel *model)
{
	g_autoptr(GPtrArray) names = secret_names(model);

	exm_json_wipe_members(obj, (const gchar *const *)names->pdata);
}

/* The body's members by field index (@nodes, one per field); whether some
 * member names no field.  One pass over the few members the body has, not
 * a lookup in it for each of the model's fields (docs/scale.md §8). */
static gboolean
body_members(JsonObject *obj, const ExmRestModel *model, JsonNode **nodes)
{
	gboolean leftovers = FALSE;
	JsonObjectIter it;
	const gchar *k;
	JsonNode *v;

	json_object_iter_init(&it, obj);
	while (json_object_iter_next(&it, &k, &v)) {
		const ExmRestField *f = exm_rest_model_field(model, k);

		if (f == NULL)
			leftovers = TRUE;
		else
			nodes[f - model->fields] = v;
	}
	return leftovers;
}

/* The values of the fields @nodes holds, in the model's order. */
static gboolean
body_fill_fields(ExmRestBody *body,
		 JsonNode *const *nodes,
		 const ExmRestModel *model,
		 ExmRestMethod method,
		 const gchar *mount_prefix,
		 GError **error)
{
	for (guint i = 0; model->fields[i].name != NULL; i++) {
		const ExmRestField *f = &model->fields[i];
		ExmRestValue *v;
		if (nodes[i] == NULL)
			continue;
		if (exm_rest_model_field_access(f, method) != EXM_REST_RW) {
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
		if (!convert(v, nodes[i], model, method, mount_prefix, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
body_fill(ExmRestBody *body,
	  JsonObject *obj,
	  const ExmRestModel *model,
	  ExmRestMethod method,
	  const gchar *mount_prefix,
	  GError **error)
{
	guint n = 0;
	JsonNode **nodes;
	gboolean leftovers;
	gboolean ok;

	while (model->fields[n].name != NULL)
		n++;
	nodes = g_new0(JsonNode *, n + 1);
	leftovers = body_members(obj, model, nodes);
	ok = body_fill_fields(body, nodes, model, method, mount_prefix, error) &&
	     (!leftovers || check_leftovers(obj, model, error));
	g_free(nodes);
	return ok;
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
	g_autoptr(JsonObject) obj = parse_body_object(model, data, len, error);
	gboolean ok;

	body->values = g_ptr_array_new_with_free_func((GDestroyNotify)value_free);
	if (obj == NULL)
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
		return NULL;
	ok = body_fill(body, obj, model, method, mount_prefix, error);
	wipe_secrets(obj, model);
	if (!ok)
		return NULL;
	return g_steal_pointer(&body);
}

gchar *
exm_rest_body_value_text(const ExmRestValue *value)
{
	g_autoptr(JsonNode) node = NULL;
	g_autoptr(JsonArray) array = NULL;

	if (value->is_null)
		return NULL;
	switch (value->field->type) {
	case EXM_REST_TYPE_INTEGER:
	case EXM_REST_TYPE_TIMESTAMP:
		return g_strdup_printf("%" G_GINT64_FORMAT, value->num);
	case EXM_REST_TYPE_BOOLEAN:
		return g_strdup(value->num ? "true" : "false");
	case EXM_REST_TYPE_STRING_LIST:
		array = json_array_new();
		for (guint i = 0; i < value->list->len; i++)
			json_array_add_string_element(array, g_ptr_array_index(value->list, i));
		node = json_node_new(JSON_NODE_ARRAY);
		json_node_set_array(node, array);
		return exm_json_to_string(node);
	default:
		return g_strdup(value->str);
	}
}
