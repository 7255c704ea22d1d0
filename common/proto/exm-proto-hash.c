/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-proto-hash.h"

#include "exm-json.h"

#include <string.h>

gchar *
exm_proto_hash_value(JsonObject *value)
{
	return exm_json_hash_members(value, NULL);
}

/* The members are written where they are: a copy of a node's 100 000
 * accounts cost more than hashing them (docs/scale.md §3). */
gchar *
exm_proto_hash_projection(JsonObject *value, JsonObject *keys)
{
	return exm_json_hash_members(value, keys);
}

static gint
str_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const gchar *const *)a, *(const gchar *const *)b);
}

gchar *
exm_proto_hash_payload(GPtrArray *hashes, GPtrArray *full_hashes)
{
	g_autoptr(JsonArray) arr = json_array_new();
	g_autoptr(JsonNode) node = NULL;

	g_ptr_array_sort(hashes, str_cmp);
	g_ptr_array_sort(full_hashes, str_cmp);
	for (guint i = 0; i < hashes->len; i++)
		json_array_add_string_element(arr, hashes->pdata[i]);
	for (guint i = 0; i < full_hashes->len; i++)
		json_array_add_string_element(arr, full_hashes->pdata[i]);
	node = json_node_init_array(json_node_alloc(), arr);
	return exm_json_hash(node);
}
