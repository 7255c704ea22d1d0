/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ua-sync.h"

#include "exm-proto.h"

#include <string.h>

/**
 * exm_ua_sync_op_free:
 * @op: (nullable): a planned write
 */
void
exm_ua_sync_op_free(ExmUaSyncOp *op)
{
	if (op == NULL)
		return;
	g_free(op->kind);
	g_free(op->uuid);
	g_clear_pointer(&op->resource, exm_ua_resource_unref);
	g_free(op);
}

static void
sync_add(GPtrArray *ops,
	 ExmUaSyncVerb verb,
	 const gchar *kind,
	 const gchar *uuid,
	 ExmUaResource *resource)
{
	ExmUaSyncOp *op = g_new0(ExmUaSyncOp, 1);

	op->verb = verb;
	op->kind = g_strdup(kind);
	op->uuid = g_strdup(uuid);
	op->resource = resource != NULL ? exm_ua_resource_ref(resource) : NULL;
	g_ptr_array_add(ops, op);
}

static gboolean
sync_differs(const ExmUaResource *dp, const ExmUaResource *cp)
{
	return g_strcmp0(dp->full_hash, cp->full_hash) != 0 || g_strcmp0(dp->hash, cp->hash) != 0 ||
	       g_strcmp0(dp->status, cp->status) != 0;
}

static void
sync_plan_kind(GPtrArray *ops, const gchar *kind, GPtrArray *dp, GPtrArray *cp, gboolean failed)
{
	g_autoptr(GHashTable) dp_index = exm_ua_resource_index(dp);
	g_autoptr(GHashTable) cp_index = exm_ua_resource_index(cp);
	g_autoptr(GPtrArray) dp_sorted = exm_ua_resource_sorted_by_uuid(dp);
	g_autoptr(GPtrArray) cp_sorted = exm_ua_resource_sorted_by_uuid(cp);

	for (guint i = 0; i < dp_sorted->len; i++) {
		ExmUaResource *r = dp_sorted->pdata[i];
		ExmUaResource *known = g_hash_table_lookup(cp_index, r->uuid);
		if (known == NULL)
			sync_add(ops, EXM_UA_SYNC_POST, kind, r->uuid, r);
		else if (sync_differs(r, known))
			sync_add(ops, EXM_UA_SYNC_PUT, kind, r->uuid, r);
	}
	if (failed)
		return;
	for (guint i = 0; i < cp_sorted->len; i++) {
		ExmUaResource *known = cp_sorted->pdata[i];
		if (!g_hash_table_contains(dp_index, known->uuid))
			sync_add(ops, EXM_UA_SYNC_DELETE, kind, known->uuid, NULL);
	}
}

/**
 * exm_ua_sync_plan:
 * @collected: the collected payload (its facts are what the DP has)
 * @known: the facts the CP has (the target payload's facts)
 * @kinds: kind → GINT_TO_POINTER(failed) for every kind processed this iteration
 *
 * Returns: (transfer full): #ExmUaSyncOp list, kinds and uuids in sorted order
 */
GPtrArray *
exm_ua_sync_plan(ExmUaPayload *collected, ExmUaPayload *known, GHashTable *kinds)
{
	GPtrArray *ops = g_ptr_array_new_with_free_func((GDestroyNotify)exm_ua_sync_op_free);
	g_autoptr(GPtrArray) names = exm_ua_payload_sorted_kinds(kinds);

	for (guint k = 0; k < names->len; k++) {
		const gchar *kind = names->pdata[k];
		gboolean failed = GPOINTER_TO_INT(g_hash_table_lookup(kinds, kind));
		sync_plan_kind(ops,
			       kind,
			       exm_ua_payload_basket(collected, FALSE, kind, FALSE),
			       exm_ua_payload_basket(known, FALSE, kind, FALSE),
			       failed);
	}
	return ops;
}

/**
 * exm_ua_sync_body:
 * @op: a POST or PUT
 * @node: the node uuid (POST only)
 *
 * Returns: (transfer full): the exact body of §5.1 (POST) or §5.2 (PUT)
 */
JsonNode *
exm_ua_sync_body(const ExmUaSyncOp *op, const gchar *node)
{
	g_autoptr(JsonObject) o = json_object_new();
	const ExmUaResource *r = op->resource;

	if (op->verb == EXM_UA_SYNC_POST) {
		g_autofree gchar *kind_uri = g_strconcat("/v1/kind/", op->kind, NULL);
		g_autofree gchar *res_uuid = exm_proto_uuid_resource(r->uuid, op->kind);
		json_object_set_string_member(o, "uuid", r->uuid);
		json_object_set_string_member(o, "kind", kind_uri);
		json_object_set_string_member(o, "res_uuid", res_uuid);
	}
	json_object_set_object_member(o, "value", json_object_ref(r->value));
	json_object_set_string_member(o, "hash", r->hash);
	json_object_set_string_member(o, "full_hash", r->full_hash);
	json_object_set_string_member(o, "status", r->status);
	if (op->verb == EXM_UA_SYNC_POST)
		json_object_set_string_member(o, "node", node);
	return json_node_init_object(json_node_alloc(), o);
}
