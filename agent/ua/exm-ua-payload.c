/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ua-payload.h"

#include "exm-json.h"
#include "exm-proto.h"
#include "exm-ua-error.h"

#include <string.h>

static GHashTable *
baskets_new(void)
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

	p->capabilities = baskets_new();
	p->facts = baskets_new();
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
	exm_stamp_free(payload->saved.file);
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
baskets_from_json(ExmUaPayload *p, gboolean capability, JsonObject *obj, GError **error)
{
	g_autoptr(GList) kinds = json_object_get_members(obj);

	for (GList *l = kinds; l != NULL; l = l->next) {
		const gchar *kind = l->data;
		JsonNode *node = json_object_get_member(obj, kind);
		JsonArray *resources = NULL;
		GPtrArray *basket;

		if (!exm_proto_kind_is_valid(kind) || !JSON_NODE_HOLDS_OBJECT(node)) {
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
 * exm_ua_payload_unused:
 *
 * What the agent keeps of a payload's facts (the CP's actual rows) is their
 * identity, hashes, status and `updated_at`: a fact's value is never read,
 * and at 100 000 accounts it is half the answer's text.  These paths leave
 * it empty in the tree (exm_json_parse_pruned()), and keep a capability's
 * `accounts` as their canonical text (EXM_UA_PAYLOAD_RAW_ACCOUNTS).
 *
 * Returns: (transfer none): the paths, %NULL-terminated
 */
const gchar *const *
exm_ua_payload_unused(void)
{
	static const gchar *const paths[] = {
		"facts/*/resources/*/value",
		EXM_UA_PAYLOAD_RAW_ACCOUNTS,
		NULL,
	};

	return paths;
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
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
		g_set_error(error, EXM_UA_ERROR, EXM_UA_ERROR_PROTOCOL, "payload is not an object");
		return NULL;
	}
	obj = json_node_get_object(root);
	if (!exm_json_get_object(obj, "capabilities", &caps, NULL, &local) ||
	    !exm_json_get_object(obj, "facts", &facts, NULL, &local) ||
	    !exm_json_get_string(obj, "hash", FALSE, &hash, NULL, &local) ||
	    !exm_json_get_int(obj, "version", &p->version, NULL, &local) ||
	    (caps != NULL && !baskets_from_json(p, TRUE, caps, &local)) ||
	    (facts != NULL && !baskets_from_json(p, FALSE, facts, &local))) {
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
str_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const gchar *const *)a, *(const gchar *const *)b);
}

/**
 * exm_ua_payload_sorted_kinds:
 * @table: a table with string keys
 *
 * Output and hashing must not depend on hash-table order.
 *
 * Returns: (transfer container): the keys of @table, sorted
 */
GPtrArray *
exm_ua_payload_sorted_kinds(GHashTable *table)
{
	GPtrArray *keys = g_ptr_array_sized_new(g_hash_table_size(table));
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, table);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_ptr_array_add(keys, key);
	g_ptr_array_sort(keys, str_cmp);
	return keys;
}

static JsonNode *
baskets_to_json(GHashTable *table, gboolean values)
{
	g_autoptr(JsonObject) obj = json_object_new();
	g_autoptr(GPtrArray) kinds = exm_ua_payload_sorted_kinds(table);

	for (guint k = 0; k < kinds->len; k++) {
		GPtrArray *basket = g_hash_table_lookup(table, kinds->pdata[k]);
		g_autoptr(GPtrArray) sorted = exm_ua_resource_sorted_by_uuid(basket);
		JsonArray *arr = json_array_new();
		JsonObject *entry = json_object_new();

		for (guint i = 0; i < sorted->len; i++)
			json_array_add_element(
				arr, exm_ua_resource_to_json_full(sorted->pdata[i], values));
		json_object_set_array_member(entry, "resources", arr);
		json_object_set_object_member(obj, kinds->pdata[k], entry);
	}
	return json_node_init_object(json_node_alloc(), obj);
}

static JsonNode *
payload_json(const ExmUaPayload *payload, gboolean capability_values, gboolean fact_values)
{
	g_autoptr(JsonObject) obj = json_object_new();

	json_object_set_member(
		obj, "capabilities", baskets_to_json(payload->capabilities, capability_values));
	json_object_set_member(obj, "facts", baskets_to_json(payload->facts, fact_values));
	json_object_set_string_member(obj, "hash", payload->hash);
	json_object_set_int_member(obj, "version", payload->version);
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
	return payload_json(payload, TRUE, TRUE);
}

/**
 * exm_ua_payload_to_json_pruned:
 * @payload: a payload
 * @capability_values: write the capabilities' values
 *
 * The saved state (exm_ua_state_save()) writes no value its reader leaves
 * unread: at 100 000 accounts each is 15 MB of text, and the collected
 * payload holds the node's value twice (a capability is reported as a fact
 * too).
 *
 * Returns: (transfer full): the payload as JSON, kinds and resources sorted,
 *   the facts' values `{}`, and the capabilities' unless @capability_values
 */
JsonNode *
exm_ua_payload_to_json_pruned(const ExmUaPayload *payload, gboolean capability_values)
{
	return payload_json(payload, capability_values, FALSE);
}

/* The capability `hash`es (@full %FALSE) or fact `full_hash`es of @table. */
static void
collect_hashes(GHashTable *table, gboolean full, GPtrArray *out)
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
}

/**
 * exm_ua_payload_compute_hash:
 * @payload: a payload
 *
 * Returns: (transfer full): exm_proto_hash_payload() of the capability `hash`es
 * and the fact `full_hash`es
 */
gchar *
exm_ua_payload_compute_hash(const ExmUaPayload *payload)
{
	g_autoptr(GPtrArray) caps = g_ptr_array_new();
	g_autoptr(GPtrArray) facts = g_ptr_array_new();

	collect_hashes(payload->capabilities, FALSE, caps);
	collect_hashes(payload->facts, TRUE, facts);
	return exm_proto_hash_payload(caps, facts);
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

/* The first resource of @table older than its twin in @applied_table, or %NULL. */
static const ExmUaResource *
find_older(GHashTable *table, GHashTable *applied_table)
{
	GHashTableIter iter;
	gpointer kind, basket;

	g_hash_table_iter_init(&iter, table);
	while (g_hash_table_iter_next(&iter, &kind, &basket)) {
		GPtrArray *b = basket;
		g_autoptr(GHashTable) applied =
			exm_ua_resource_index(g_hash_table_lookup(applied_table, kind));

		for (guint i = 0; i < b->len; i++) {
			const ExmUaResource *r = b->pdata[i];
			const ExmUaResource *a = g_hash_table_lookup(applied, r->uuid);

			if (a != NULL && r->updated_at != 0 && r->updated_at < a->updated_at)
				return r;
		}
	}
	return NULL;
}

/**
 * exm_ua_payload_find_older:
 * @payload: a full payload the CP just sent
 * @applied: (nullable): the last full payload the agent accepted
 *
 * A CP writes `updated_at` on every change of a row, so a row never comes back
 * older than it was: a payload holding such a row is a recorded one replayed.
 * Rows without a timestamp on either side are not compared.
 *
 * Returns: (transfer none) (nullable): the first target or actual row of
 * @payload whose `updated_at` is older than that of the same row in @applied
 */
const ExmUaResource *
exm_ua_payload_find_older(const ExmUaPayload *payload, const ExmUaPayload *applied)
{
	const ExmUaResource *r;

	if (applied == NULL)
		return NULL;
	r = find_older(payload->capabilities, applied->capabilities);
	return r != NULL ? r : find_older(payload->facts, applied->facts);
}

static void
marks_copy(GHashTable *from, ExmUaPayload *to, gboolean capability)
{
	GHashTableIter iter;
	gpointer kind, basket;

	g_hash_table_iter_init(&iter, from);
	while (g_hash_table_iter_next(&iter, &kind, &basket)) {
		GPtrArray *b = basket;
		GPtrArray *out = exm_ua_payload_basket(to, capability, kind, TRUE);

		for (guint i = 0; i < b->len; i++)
			g_ptr_array_add(out, exm_ua_resource_mark(b->pdata[i]));
	}
}

/**
 * exm_ua_payload_marks:
 * @payload: a payload
 *
 * Returns: (transfer full): @payload with every resource reduced to
 * exm_ua_resource_mark(): enough for exm_ua_payload_find_older() and
 * exm_ua_payload_same(), nothing to apply (hollow)
 */
ExmUaPayload *
exm_ua_payload_marks(const ExmUaPayload *payload)
{
	ExmUaPayload *m = exm_ua_payload_new();

	marks_copy(payload->capabilities, m, TRUE);
	marks_copy(payload->facts, m, FALSE);
	g_free(m->hash);
	m->hash = g_strdup(payload->hash);
	m->version = payload->version;
	m->hollow = TRUE;
	m->saved = payload->saved;
	m->saved.file = payload->saved.file != NULL ? exm_stamp_copy(payload->saved.file) : NULL;
	return m;
}
