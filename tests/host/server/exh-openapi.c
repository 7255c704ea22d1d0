/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * `/specifications/<version>`: the plugins' documents (their ABI minor 3
 * `openapi` entry) merged with the host's own paths (docs/rest-conventions.md
 * §13).  Built once per version under a lock; `servers` is set per request.
 */
#include "exh-openapi.h"

#include <string.h>

#include "exm-config.h"
#include "exm-error.h"
#include "exm-json.h"
#include "exm-rest-openapi.h"

struct _ExhOpenapi {
	GMutex lock;
	GHashTable *docs; /* version → JsonObject */
};

ExhOpenapi *
exh_openapi_new(void)
{
	ExhOpenapi *openapi = g_new0(ExhOpenapi, 1);

	g_mutex_init(&openapi->lock);
	openapi->docs = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)json_object_unref);
	return openapi;
}

void
exh_openapi_free(ExhOpenapi *openapi)
{
	if (openapi == NULL)
		return;
	g_hash_table_unref(openapi->docs);
	g_mutex_clear(&openapi->lock);
	g_free(openapi);
}

/* The plugin generates a document when its ABI minor says the member exists. */
static ExordosPaasOpenapiFunc
plugin_openapi_func(const ExhPlugin *plugin)
{
	const ExordosPaasPluginDescriptor *d = plugin->desc;

	if (!EXH_PLUGIN_HAS(d, 3, openapi))
		return NULL;
	return d->openapi;
}

static gboolean
merge_plugin(JsonObject *doc, ExhPlugin *plugin, const gchar *version, GError **error)
{
	ExordosPaasOpenapiFunc func = plugin_openapi_func(plugin);
	g_autofree gchar *text = NULL;
	g_autofree gchar *message = NULL;
	g_autoptr(JsonNode) node = NULL;

	if (func == NULL)
		return TRUE;
	text = func(plugin->ctx, version, plugin->mount_prefix, &message);
	if (text != NULL)
		node = json_from_string(text, NULL);
	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_FAILED,
			    "plugin %s generated no OpenAPI %s document: %s",
			    plugin->desc->slug,
			    version,
			    message != NULL ? message : "not a JSON object");
		return FALSE;
	}
	exm_rest_openapi_merge(doc, json_node_get_object(node));
	return TRUE;
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
array_of_ref(const gchar *schema)
{
	g_autofree gchar *ref = g_strdup_printf("#/components/schemas/%s", schema);
	JsonObject *a = json_object_new();
	JsonObject *items = json_object_new();

	json_object_set_string_member(items, "$ref", ref);
	json_object_set_string_member(a, "type", "array");
	json_object_set_object_member(a, "items", items);
	return node_take(a);
}

static JsonNode *
object_schema(const gchar *description)
{
	JsonObject *o = json_object_new();

	json_object_set_string_member(o, "type", "object");
	json_object_set_string_member(o, "description", description);
	return node_take(o);
}

/* The host's own routes (exh-server.c: route(), route_identified()). */
static void
host_paths(JsonObject *doc)
{
	static const guint index_errors[] = { 401, 500, 0 };
	static const guint v1_errors[] = { 500, 0 };
	static const guint list_errors[] = { 400, 401, 403, 500, 0 };
	static const guint get_errors[] = { 400, 401, 403, 404, 500, 0 };
	static const guint spec_errors[] = { 401, 404, 500, 0 };
	const gchar *type = "an installed PaaS type (exordos_metapaas PaaSType)";

	exm_rest_openapi_operation(doc,
				   "/",
				   "get",
				   "the root's collections",
				   200,
				   array_of_ref("RouteList"),
				   index_errors);
	exm_rest_openapi_operation(doc,
				   "/v1/",
				   "get",
				   "the API's collections (no authentication)",
				   200,
				   array_of_ref("RouteList"),
				   v1_errors);
	exm_rest_openapi_operation(doc,
				   "/v1/types/",
				   "get",
				   "the installed types",
				   200,
				   object_schema(type),
				   list_errors);
	exm_rest_openapi_operation(doc,
				   "/v1/types/{PaaSTypeUuid}",
				   "get",
				   "one type",
				   200,
				   object_schema(type),
				   get_errors);
	exm_rest_openapi_operation(doc,
				   "/specifications/",
				   "get",
				   "the OpenAPI versions served",
				   200,
				   array_of_ref("RouteList"),
				   index_errors);
	exm_rest_openapi_operation(doc,
				   "/specifications/{version}",
				   "get",
				   "the OpenAPI document",
				   200,
				   object_schema("an OpenAPI document"),
				   spec_errors);
	exm_rest_openapi_operation(doc,
				   "/specifications/{version}",
				   "put",
				   "regenerate the OpenAPI document",
				   200,
				   object_schema("an OpenAPI document"),
				   spec_errors);
}

static JsonObject *
build(GPtrArray *plugins, const gchar *version, GError **error)
{
	g_autoptr(JsonObject) doc =
		exm_rest_openapi_skeleton(version, "exordos-paas-host", EXM_VERSION, error);

	if (doc == NULL)
		return NULL;
	for (guint i = 0; plugins != NULL && i < plugins->len; i++)
		if (!merge_plugin(doc, plugins->pdata[i], version, error))
			return NULL;
	host_paths(doc);
	return g_steal_pointer(&doc);
}

void
exh_openapi_invalidate(ExhOpenapi *openapi)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&openapi->lock);

	g_hash_table_remove_all(openapi->docs);
}

gchar *
exh_openapi_document(ExhOpenapi *openapi,
		     GPtrArray *plugins,
		     const gchar *version,
		     const gchar *base_url,
		     gboolean rebuild,
		     GError **error)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&openapi->lock);
	g_autoptr(JsonNode) node = json_node_alloc();
	JsonObject *doc;
	JsonArray *servers = json_array_new();
	JsonObject *server = json_object_new();

	json_object_set_string_member(server, "url", base_url);
	json_array_add_object_element(servers, server);
	if (rebuild)
		g_hash_table_remove(openapi->docs, version);
	doc = g_hash_table_lookup(openapi->docs, version);
	if (doc == NULL) {
		doc = build(plugins, version, error);
		if (doc == NULL) {
			json_array_unref(servers);
			return NULL;
		}
		g_hash_table_insert(openapi->docs, g_strdup(version), doc);
	}
	json_object_set_array_member(doc, "servers", servers);
	json_node_init_object(node, doc);
	return exm_json_to_string(node);
}
