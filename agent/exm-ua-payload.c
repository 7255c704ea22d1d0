/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ua-payload.h"

#include "exm-json.h"
#include "exm-ua-error.h"
#include "exm-ua-identity.h"
#include "exm-uuid.h"

#include <string.h>

/* The Status API column widths (§3.1). */
#define EXM_UA_HASH_MAX	  256
#define EXM_UA_STATUS_MAX 32

/**
 * exm_ua_kind_is_valid:
 * @kind: (nullable): a kind
 *
 * Returns: %TRUE when @kind is 1..64 characters of [A-Za-z0-9_.-]
 */
gboolean
exm_ua_kind_is_valid(const gchar *kind)
{
	gsize len;

	if (kind == NULL)
		return FALSE;
	len = strlen(kind);
	if (len == 0 || len > EXM_UA_KIND_MAX)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(kind[i]) && strchr("_.-", kind[i]) == NULL)
			return FALSE;
	}
	return TRUE;
}

/**
 * exm_ua_hash_value:
 * @value: an object
 *
 * Returns: (transfer full): the protocol's `calculate_hash` of @value
 */
gchar *
exm_ua_hash_value(JsonObject *value)
{
	g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), value);

	return exm_json_hash(node);
}

/**
 * exm_ua_hash_projection:
 * @value: an actual value
 * @keys: (nullable): the target value whose keys select the members of @value
 *
 * Returns: (transfer full): the hash of the projection (or of @value without @keys)
 */
gchar *
exm_ua_hash_projection(JsonObject *value, JsonObject *keys)
{
	g_autoptr(JsonObject) proj = NULL;
	g_autoptr(GList) names = NULL;

	if (keys == NULL)
		return exm_ua_hash_value(value);
	proj = json_object_new();
	names = json_object_get_members(keys);
	for (GList *l = names; l != NULL; l = l->next) {
		JsonNode *member = json_object_get_member(value, l->data);
		if (member != NULL)
			json_object_set_member(proj, l->data, json_node_copy(member));
	}
	return exm_ua_hash_value(proj);
}

static void
exm_ua_resource_clear(gpointer data)
{
	ExmUaResource *r = data;

	g_free(r->uuid);
	g_free(r->kind);
	g_clear_pointer(&r->value, json_object_unref);
	g_free(r->hash);
	g_free(r->full_hash);
	g_free(r->status);
}

/**
 * exm_ua_resource_ref:
 * @r: a resource
 *
 * Returns: (transfer full): @r
 */
ExmUaResource *
exm_ua_resource_ref(ExmUaResource *r)
{
	return g_rc_box_acquire(r);
}

/**
 * exm_ua_resource_unref:
 * @r: (nullable): a resource
 */
void
exm_ua_resource_unref(ExmUaResource *r)
{
	if (r != NULL)
		g_rc_box_release_full(r, exm_ua_resource_clear);
}

static gboolean
exm_ua_get_short_string(JsonObject *obj,
			const gchar *name,
			gsize max,
			const gchar *fallback,
			gchar **out,
			GError **error)
{
	const gchar *s = fallback;

	if (!exm_json_get_string(obj, name, FALSE, &s, NULL, error))
		return FALSE;
	if (s == NULL || strlen(s) > max) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_PROTOCOL,
			    "%s: missing or longer than %" G_GSIZE_FORMAT,
			    name,
			    max);
		return FALSE;
	}
	*out = g_strdup(s);
	return TRUE;
}

/* uuid of a value: a string that is a uuid (normalised to lower case). */
static gchar *
exm_ua_value_uuid(JsonObject *value, GError **error)
{
	const gchar *uuid = NULL;
	gchar *parsed;

	if (!exm_json_get_string(value, "uuid", FALSE, &uuid, NULL, error))
		return NULL;
	parsed = uuid != NULL ? exm_uuid_parse(uuid, NULL) : NULL;
	if (parsed == NULL)
		g_set_error(
			error, EXM_UA_ERROR, EXM_UA_ERROR_PROTOCOL, "uuid: missing or not a uuid");
	return parsed;
}

/**
 * exm_ua_resource_new_actual:
 * @kind: kind
 * @value: the value a driver reported (must carry a uuid `uuid`)
 * @target: (nullable): the target value of the same identity
 * @error: %EXM_UA_ERROR_DRIVER when @value has no valid `uuid` or `status`
 *
 * Returns: (transfer full): the actual resource with its hashes and status
 */
ExmUaResource *
exm_ua_resource_new_actual(const gchar *kind, JsonObject *value, JsonObject *target, GError **error)
{
	g_autoptr(ExmUaResource) r = g_rc_box_new0(ExmUaResource);
	g_autoptr(GError) local = NULL;

	r->kind = g_strdup(kind);
	r->value = json_object_ref(value);
	r->uuid = exm_ua_value_uuid(value, &local);
	if (r->uuid == NULL ||
	    !exm_ua_get_short_string(
		    value, "status", EXM_UA_STATUS_MAX, "ACTIVE", &r->status, &local)) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_DRIVER,
			    "driver reported a bad %s value: %s",
			    kind,
			    local->message);
		return NULL;
	}
	r->hash = exm_ua_hash_projection(value, target);
	r->full_hash = exm_ua_hash_value(value);
	return g_steal_pointer(&r);
}

/**
 * exm_ua_resource_from_json:
 * @kind: the kind the resource is listed under
 * @obj: a resource as a payload carries it
 * @error: %EXM_UA_ERROR_PROTOCOL when a member is missing or of the wrong type
 *
 * Returns: (transfer full): the resource
 */
ExmUaResource *
exm_ua_resource_from_json(const gchar *kind, JsonObject *obj, GError **error)
{
	g_autoptr(ExmUaResource) r = g_rc_box_new0(ExmUaResource);
	JsonObject *value = NULL;
	const gchar *uuid = NULL;

	r->kind = g_strdup(kind);
	if (!exm_json_get_string(obj, "uuid", FALSE, &uuid, NULL, error) ||
	    !exm_json_get_object(obj, "value", &value, NULL, error) ||
	    !exm_ua_get_short_string(obj, "hash", EXM_UA_HASH_MAX, "", &r->hash, error) ||
	    !exm_ua_get_short_string(obj, "full_hash", EXM_UA_HASH_MAX, "", &r->full_hash, error) ||
	    !exm_ua_get_short_string(obj, "status", EXM_UA_STATUS_MAX, "ACTIVE", &r->status, error))
		return NULL;
	r->uuid = uuid != NULL ? exm_uuid_parse(uuid, NULL) : NULL;
	if (r->uuid == NULL || value == NULL) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_PROTOCOL,
			    "resource without a uuid or a value");
		return NULL;
	}
	r->value = json_object_ref(value);
	return g_steal_pointer(&r);
}

/**
 * exm_ua_resource_to_json:
 * @r: a resource
 *
 * Returns: (transfer full): `{uuid, kind, res_uuid, value, hash, full_hash, status}`
 */
JsonNode *
exm_ua_resource_to_json(const ExmUaResource *r)
{
	g_autoptr(JsonObject) o = json_object_new();
	g_autofree gchar *res_uuid = exm_ua_res_uuid(r->uuid, r->kind);

	json_object_set_string_member(o, "uuid", r->uuid);
	json_object_set_string_member(o, "kind", r->kind);
	json_object_set_string_member(o, "res_uuid", res_uuid);
	json_object_set_object_member(o, "value", json_object_ref(r->value));
	json_object_set_string_member(o, "hash", r->hash);
	json_object_set_string_member(o, "full_hash", r->full_hash);
	json_object_set_string_member(o, "status", r->status);
	return json_node_init_object(json_node_alloc(), o);
}

static GHashTable *
exm_ua_baskets_new(void)
{
	return g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
}

/**
 * exm_ua_payload_new:
 *
 * Returns: (transfer full): an empty payload with hash "" and version 0
 */
ExmUaPayload *
exm_ua_payload_new(void)
{
	ExmUaPayload *p = g_new0(ExmUaPayload, 1);

	p->capabilities = exm_ua_baskets_new();
	p->facts = exm_ua_baskets_new();
	p->hash = g_strdup("");
	return p;
}

/**
 * exm_ua_payload_free:
 * @payload: (nullable): a payload
 */
void
exm_ua_payload_free(ExmUaPayload *payload)
{
	if (payload == NULL)
		return;
	g_hash_table_unref(payload->capabilities);
	g_hash_table_unref(payload->facts);
	g_free(payload->hash);
	g_free(payload);
}

/**
 * exm_ua_payload_basket:
 * @payload: a payload
 * @capability: %TRUE for capabilities, %FALSE for facts
 * @kind: a kind
 * @create: add an empty basket when @kind has none
 *
 * Returns: (transfer none) (nullable): the resources of @kind
 */
GPtrArray *
exm_ua_payload_basket(ExmUaPayload *payload,
		      gboolean capability,
		      const gchar *kind,
		      gboolean create)
{
	GHashTable *table = capability ? payload->capabilities : payload->facts;
	GPtrArray *basket = g_hash_table_lookup(table, kind);

	if (basket == NULL && create) {
		basket = g_ptr_array_new_with_free_func((GDestroyNotify)exm_ua_resource_unref);
		g_hash_table_insert(table, g_strdup(kind), basket);
	}
	return basket;
}

/* `{"<kind>": {"resources": [...]}, ...}` into @table. */
static gboolean
exm_ua_baskets_from_json(ExmUaPayload *p, gboolean capability, JsonObject *obj, GError **error)
{
	g_autoptr(GList) kinds = json_object_get_members(obj);

	for (GList *l = kinds; l != NULL; l = l->next) {
		const gchar *kind = l->data;
		JsonNode *node = json_object_get_member(obj, kind);
		JsonArray *resources = NULL;
		GPtrArray *basket;

		if (!exm_ua_kind_is_valid(kind) || !JSON_NODE_HOLDS_OBJECT(node)) {
			g_set_error(error, EXM_UA_ERROR, EXM_UA_ERROR_PROTOCOL, "bad kind entry");
			return FALSE;
		}
		if (!exm_json_get_array(
			    json_node_get_object(node), "resources", &resources, NULL, error))
			return FALSE;
		basket = exm_ua_payload_basket(p, capability, kind, TRUE);
		for (guint i = 0; resources != NULL && i < json_array_get_length(resources); i++) {
			JsonNode *rn = json_array_get_element(resources, i);
			ExmUaResource *r;

			if (!JSON_NODE_HOLDS_OBJECT(rn)) {
				g_set_error(error,
					    EXM_UA_ERROR,
					    EXM_UA_ERROR_PROTOCOL,
					    "%s: resource is not an object",
					    kind);
				return FALSE;
			}
			r = exm_ua_resource_from_json(kind, json_node_get_object(rn), error);
			if (r == NULL) {
				g_prefix_error(error, "%s: ", kind);
				return FALSE;
			}
			g_ptr_array_add(basket, r);
		}
	}
	return TRUE;
}

/**
 * exm_ua_payload_from_json:
 * @root: `{capabilities, facts, hash, version}`
 * @error: %EXM_UA_ERROR_PROTOCOL on a malformed payload
 *
 * Returns: (transfer full): the payload
 */
ExmUaPayload *
exm_ua_payload_from_json(JsonNode *root, GError **error)
{
	g_autoptr(ExmUaPayload) p = exm_ua_payload_new();
	g_autoptr(GError) local = NULL;
	JsonObject *obj, *caps = NULL, *facts = NULL;
	const gchar *hash = NULL;

	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error(error, EXM_UA_ERROR, EXM_UA_ERROR_PROTOCOL, "payload is not an object");
		return NULL;
	}
	obj = json_node_get_object(root);
	if (!exm_json_get_object(obj, "capabilities", &caps, NULL, &local) ||
	    !exm_json_get_object(obj, "facts", &facts, NULL, &local) ||
	    !exm_json_get_string(obj, "hash", FALSE, &hash, NULL, &local) ||
	    !exm_json_get_int(obj, "version", &p->version, NULL, &local) ||
	    (caps != NULL && !exm_ua_baskets_from_json(p, TRUE, caps, &local)) ||
	    (facts != NULL && !exm_ua_baskets_from_json(p, FALSE, facts, &local))) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_PROTOCOL,
			    "malformed payload: %s",
			    local->message);
		return NULL;
	}
	if (hash == NULL || p->version < 0) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_PROTOCOL,
			    "malformed payload: no hash or a negative version");
		return NULL;
	}
	g_free(p->hash);
	p->hash = g_strdup(hash);
	return g_steal_pointer(&p);
}

static gint
exm_ua_resource_cmp(gconstpointer a, gconstpointer b)
{
	const ExmUaResource *ra = *(ExmUaResource *const *)a;
	const ExmUaResource *rb = *(ExmUaResource *const *)b;

	return strcmp(ra->uuid, rb->uuid);
}

/**
 * exm_ua_sorted_by_uuid:
 * @resources: (nullable): #ExmUaResource array
 *
 * Returns: (transfer container): the same resources (borrowed), sorted by uuid
 */
GPtrArray *
exm_ua_sorted_by_uuid(GPtrArray *resources)
{
	GPtrArray *sorted = g_ptr_array_sized_new(resources != NULL ? resources->len : 0);

	for (guint i = 0; resources != NULL && i < resources->len; i++)
		g_ptr_array_add(sorted, resources->pdata[i]);
	g_ptr_array_sort(sorted, exm_ua_resource_cmp);
	return sorted;
}

static gint
exm_ua_str_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const gchar *const *)a, *(const gchar *const *)b);
}

/**
 * exm_ua_sorted_keys:
 * @table: a table with string keys
 *
 * Output and hashing must not depend on hash-table order.
 *
 * Returns: (transfer container): the keys of @table, sorted
 */
GPtrArray *
exm_ua_sorted_keys(GHashTable *table)
{
	GPtrArray *keys = g_ptr_array_sized_new(g_hash_table_size(table));
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, table);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_ptr_array_add(keys, key);
	g_ptr_array_sort(keys, exm_ua_str_cmp);
	return keys;
}

static JsonNode *
exm_ua_baskets_to_json(GHashTable *table)
{
	g_autoptr(JsonObject) obj = json_object_new();
	g_autoptr(GPtrArray) kinds = exm_ua_sorted_keys(table);

	for (guint k = 0; k < kinds->len; k++) {
		GPtrArray *basket = g_hash_table_lookup(table, kinds->pdata[k]);
		g_autoptr(GPtrArray) sorted = exm_ua_sorted_by_uuid(basket);
		JsonArray *arr = json_array_new();
		JsonObject *entry = json_object_new();

		for (guint i = 0; i < sorted->len; i++)
			json_array_add_element(arr, exm_ua_resource_to_json(sorted->pdata[i]));
		json_object_set_array_member(entry, "resources", arr);
		json_object_set_object_member(obj, kinds->pdata[k], entry);
	}
	return json_node_init_object(json_node_alloc(), obj);
}

/**
 * exm_ua_payload_to_json:
 * @payload: a payload
 *
 * Returns: (transfer full): the payload as JSON, kinds and resources sorted
 */
JsonNode *
exm_ua_payload_to_json(const ExmUaPayload *payload)
{
	g_autoptr(JsonObject) obj = json_object_new();

	json_object_set_member(obj, "capabilities", exm_ua_baskets_to_json(payload->capabilities));
	json_object_set_member(obj, "facts", exm_ua_baskets_to_json(payload->facts));
	json_object_set_string_member(obj, "hash", payload->hash);
	json_object_set_int_member(obj, "version", payload->version);
	return json_node_init_object(json_node_alloc(), obj);
}

static void
exm_ua_collect_hashes(GHashTable *table, gboolean full, GPtrArray *out)
{
	GHashTableIter iter;
	gpointer basket;

	g_hash_table_iter_init(&iter, table);
	while (g_hash_table_iter_next(&iter, NULL, &basket)) {
		GPtrArray *b = basket;
		for (guint i = 0; i < b->len; i++) {
			ExmUaResource *r = b->pdata[i];
			g_ptr_array_add(out, full ? r->full_hash : r->hash);
		}
	}
	g_ptr_array_sort(out, exm_ua_str_cmp);
}

/**
 * exm_ua_payload_compute_hash:
 * @payload: a payload
 *
 * Returns: (transfer full): XXH3 of the canonical JSON of the sorted capability
 * `hash`es followed by the sorted fact `full_hash`es
 */
gchar *
exm_ua_payload_compute_hash(const ExmUaPayload *payload)
{
	g_autoptr(GPtrArray) caps = g_ptr_array_new();
	g_autoptr(GPtrArray) facts = g_ptr_array_new();
	g_autoptr(JsonArray) arr = json_array_new();
	g_autoptr(JsonNode) node = NULL;

	exm_ua_collect_hashes(payload->capabilities, FALSE, caps);
	exm_ua_collect_hashes(payload->facts, TRUE, facts);
	for (guint i = 0; i < caps->len; i++)
		json_array_add_string_element(arr, caps->pdata[i]);
	for (guint i = 0; i < facts->len; i++)
		json_array_add_string_element(arr, facts->pdata[i]);
	node = json_node_init_array(json_node_alloc(), arr);
	return exm_json_hash(node);
}

/**
 * exm_ua_payload_same:
 * @a: a payload
 * @b: another
 *
 * Returns: %TRUE when (hash, version) of @a and @b are equal (§3.4)
 */
gboolean
exm_ua_payload_same(const ExmUaPayload *a, const ExmUaPayload *b)
{
	return a->version == b->version && g_strcmp0(a->hash, b->hash) == 0;
}
