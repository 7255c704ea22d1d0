/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzz target: exm_ua_payload_from_json, the agent's parser of the payload the
 * control plane answers (agent/ua/exm-ua-payload.h), after the strict JSON parser
 * every received body goes through.
 *
 * Properties: a refusal is EXM_UA_ERROR_PROTOCOL; in an accepted payload every
 * kind is a valid kind name (it ends up in URL paths), every resource is filed
 * under its own kind with a canonical UUID; exm_ua_payload_to_json() is
 * accepted again and gives the same canonical JSON, the same (hash, version)
 * and the same computed hash.  The agent's sync plan (exm_ua_sync_plan) of its
 * facts against themselves is empty, and against nothing is one POST per
 * distinct fact, each with a body (exm_ua_sync_body).
 */
#include <string.h>

#include "exm-json.h"
#include "exm-proto.h"
#include "exm-ua-error.h"
#include "exm-ua-payload.h"
#include "exm-ua-reconcile.h"
#include "exm-ua-sync.h"
#include "exm-uuid.h"
#include "fuzz-common.h"

static void
check_baskets(GHashTable *baskets)
{
	GHashTableIter iter;
	gpointer key, value;

	g_hash_table_iter_init(&iter, baskets);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		GPtrArray *resources = value;

		EXM_FUZZ_CHECK(
			exm_proto_kind_is_valid(key), "kind '%s' accepted", (const gchar *)key);
		for (guint k = 0; k < resources->len; k++) {
			const ExmUaResource *r = g_ptr_array_index(resources, k);

			EXM_FUZZ_CHECK(g_str_equal(r->kind, key),
				       "%s filed under %s",
				       r->kind,
				       (const gchar *)key);
			EXM_FUZZ_CHECK(exm_uuid_is_valid(r->uuid) && strlen(r->uuid) == 36,
				       "resource uuid %s",
				       r->uuid);
			EXM_FUZZ_CHECK(r->value != NULL && r->hash != NULL &&
					       r->full_hash != NULL && r->status != NULL,
				       "resource %s incomplete",
				       r->uuid);
		}
	}
}

static guint
count_distinct_facts(GHashTable *facts)
{
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GHashTableIter iter;
	gpointer key, value;

	g_hash_table_iter_init(&iter, facts);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		GPtrArray *resources = value;

		for (guint k = 0; k < resources->len; k++) {
			const ExmUaResource *r = g_ptr_array_index(resources, k);

			/* kinds are [A-Za-z0-9_.-], so a space cannot join two pairs */
			g_hash_table_add(seen, g_strconcat(r->kind, " ", r->uuid, NULL));
		}
	}
	return g_hash_table_size(seen);
}

static void
check_sync_plan(ExmUaPayload *payload, ExmUaPayload *again)
{
	g_autoptr(GHashTable) kinds = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(ExmUaPayload) empty = exm_ua_payload_new();
	g_autoptr(GPtrArray) same = NULL;
	g_autoptr(GPtrArray) fresh = NULL;
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, payload->facts);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_hash_table_insert(kinds, key, GINT_TO_POINTER(FALSE));
	same = exm_ua_sync_plan(payload, again, kinds);
	EXM_FUZZ_CHECK(same->len == 0, "%u operations between equal facts", same->len);
	fresh = exm_ua_sync_plan(payload, empty, kinds);
	EXM_FUZZ_CHECK(fresh->len == count_distinct_facts(payload->facts),
		       "%u operations for %u new facts",
		       fresh->len,
		       count_distinct_facts(payload->facts));
	for (guint k = 0; k < fresh->len; k++) {
		const ExmUaSyncOp *op = g_ptr_array_index(fresh, k);
		g_autoptr(JsonNode) body = NULL;

		EXM_FUZZ_CHECK(op->verb == EXM_UA_SYNC_POST && op->resource != NULL,
			       "%s/%s is not a POST",
			       op->kind,
			       op->uuid);
		body = exm_ua_sync_body(op, "11111111-2222-3333-4444-555555555555");
		EXM_FUZZ_CHECK(
			body != NULL && JSON_NODE_HOLDS_OBJECT(body), "no body for %s", op->uuid);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(ExmUaPayload) payload = NULL;
	g_autoptr(ExmUaPayload) again = NULL;
	g_autoptr(JsonNode) json = NULL;
	g_autoptr(JsonNode) json_again = NULL;
	g_autofree gchar *canonical = NULL;
	g_autofree gchar *canonical_again = NULL;
	g_autofree gchar *hash = NULL;
	g_autofree gchar *hash_again = NULL;

	exm_fuzz_begin(data, size);
	root = exm_json_parse_strict((const gchar *)data, size, NULL);
	if (root == NULL)
		return 0;
	payload = exm_ua_payload_from_json(root, &error);
	if (payload == NULL) {
		EXM_FUZZ_CHECK(g_error_matches(error, EXM_UA_ERROR, EXM_UA_ERROR_PROTOCOL),
			       "refusal of another kind: %s",
			       error->message);
		return 0;
	}
	check_baskets(payload->capabilities);
	check_baskets(payload->facts);

	json = exm_ua_payload_to_json(payload);
	again = exm_ua_payload_from_json(json, &error);
	EXM_FUZZ_CHECK(again != NULL, "own JSON refused: %s", error->message);
	json_again = exm_ua_payload_to_json(again);
	canonical = exm_json_canonical(json);
	canonical_again = exm_json_canonical(json_again);
	EXM_FUZZ_CHECK(g_str_equal(canonical, canonical_again),
		       "JSON changed: %s -> %s",
		       canonical,
		       canonical_again);
	EXM_FUZZ_CHECK(exm_ua_payload_same(payload, again), "(hash, version) changed");
	hash = exm_ua_payload_compute_hash(payload);
	hash_again = exm_ua_payload_compute_hash(again);
	EXM_FUZZ_CHECK(g_str_equal(hash, hash_again), "computed hash changed");
	check_sync_plan(payload, again);
	exm_fuzz_accepted();
	return 0;
}
