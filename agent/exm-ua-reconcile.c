/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ua-reconcile.h"

#include "exm-proto.h"
#include "exm-ua-error.h"

#include <string.h>

/* uuid → resource of @arr (borrowed). */
static GHashTable *
exm_ua_index(GPtrArray *arr)
{
	GHashTable *index = g_hash_table_new(g_str_hash, g_str_equal);

	for (guint i = 0; arr != NULL && i < arr->len; i++) {
		ExmUaResource *r = arr->pdata[i];
		g_hash_table_insert(index, r->uuid, r);
	}
	return index;
}

static gint
exm_ua_cmp_uuid(gconstpointer a, gconstpointer b)
{
	return strcmp((*(ExmUaResource *const *)a)->uuid, (*(ExmUaResource *const *)b)->uuid);
}

/* The driver's listing as resources, hashed without target keys for now.  A value
 * without a uuid cannot be matched to anything: the kind counts as failed. */
static GPtrArray *
exm_ua_list_actual(ExmUaDriver *driver, const gchar *kind, ExmUaKindResult *result)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) values = driver->list(driver, kind, &error);
	GPtrArray *actual;

	if (values == NULL) {
		g_warning("%s: listing %s failed: %s", driver->name, kind, error->message);
		result->failed = TRUE;
		return NULL;
	}
	actual = g_ptr_array_new_with_free_func((GDestroyNotify)exm_ua_resource_unref);
	for (guint i = 0; i < values->len; i++) {
		g_autoptr(GError) local = NULL;
		ExmUaResource *r = exm_ua_resource_new_actual(kind, values->pdata[i], NULL, &local);
		if (r == NULL) {
			g_warning("%s: %s", driver->name, local->message);
			result->failed = TRUE;
			continue;
		}
		g_ptr_array_add(actual, r);
	}
	g_ptr_array_sort(actual, exm_ua_cmp_uuid);
	return actual;
}

/* Wraps a create/update result; the driver must answer for the uuid it was given. */
static ExmUaResource *
exm_ua_wrap_result(ExmUaResource *t, JsonObject *value, GError **error)
{
	g_autoptr(ExmUaResource) r = NULL;

	if (value == NULL)
		return NULL;
	r = exm_ua_resource_new_actual(t->kind, value, t->value, error);
	if (r != NULL && strcmp(r->uuid, t->uuid) != 0) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_DRIVER,
			    "driver answered for %s instead of %s",
			    r->uuid,
			    t->uuid);
		return NULL;
	}
	return g_steal_pointer(&r);
}

static void
exm_ua_apply_target(ExmUaDriver *driver,
		    ExmUaResource *t,
		    ExmUaResource *a,
		    GPtrArray *collected,
		    ExmUaKindResult *result)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) value = NULL;
	g_autoptr(ExmUaResource) twin = NULL;
	ExmUaResource *r;

	if (a != NULL) {
		/* Converged ⇔ the projection on the target's keys hashes equal (§2.3). */
		twin = exm_ua_resource_new_actual(t->kind, a->value, t->value, NULL);
		if (twin != NULL && g_strcmp0(twin->hash, t->hash) == 0) {
			g_ptr_array_add(collected, g_steal_pointer(&twin));
			return;
		}
		value = driver->update(driver, t->kind, t->value, &error);
	} else {
		value = driver->create(driver, t->kind, t->value, &error);
	}
	r = exm_ua_wrap_result(t, value, &error);
	if (r == NULL) {
		g_warning("%s: %s %s/%s failed: %s",
			  driver->name,
			  a != NULL ? "update" : "create",
			  t->kind,
			  t->uuid,
			  error->message);
		result->failed = TRUE;
		/* What is on the DP is still the truth to report. */
		if (twin != NULL)
			g_ptr_array_add(collected, g_steal_pointer(&twin));
		return;
	}
	g_ptr_array_add(collected, r);
	if (a != NULL)
		result->updated++;
	else
		result->created++;
}

static void
exm_ua_remove_extra(ExmUaDriver *driver,
		    ExmUaResource *a,
		    GPtrArray *collected,
		    ExmUaKindResult *result)
{
	g_autoptr(GError) error = NULL;

	if (driver->remove(driver, a->kind, a->value, &error)) {
		result->deleted++;
		return;
	}
	g_warning("%s: delete %s/%s failed: %s", driver->name, a->kind, a->uuid, error->message);
	result->failed = TRUE;
	g_ptr_array_add(collected, exm_ua_resource_ref(a));
}

/**
 * exm_ua_reconcile_kind:
 * @driver: the driver of @kind
 * @kind: a capability kind
 * @targets: (nullable): the target resources of @kind (#ExmUaResource)
 * @collected: receives the resulting actual resources (#ExmUaResource)
 * @result: (out caller-allocates): what happened
 *
 * Lists the data plane, creates missing targets, removes extra objects and
 * updates objects whose projected hash differs from the target's.
 */
void
exm_ua_reconcile_kind(ExmUaDriver *driver,
		      const gchar *kind,
		      GPtrArray *targets,
		      GPtrArray *collected,
		      ExmUaKindResult *result)
{
	g_autoptr(GPtrArray) actual = NULL;
	g_autoptr(GPtrArray) sorted = NULL;
	g_autoptr(GHashTable) by_uuid = NULL;
	g_autoptr(GHashTable) wanted = NULL;

	memset(result, 0, sizeof(*result));
	actual = exm_ua_list_actual(driver, kind, result);
	if (actual == NULL)
		return;
	by_uuid = exm_ua_index(actual);
	wanted = exm_ua_index(targets);
	sorted = exm_ua_resource_sorted_by_uuid(targets);
	for (guint i = 0; i < sorted->len; i++) {
		ExmUaResource *t = sorted->pdata[i];
		exm_ua_apply_target(
			driver, t, g_hash_table_lookup(by_uuid, t->uuid), collected, result);
	}
	for (guint i = 0; i < actual->len; i++) {
		ExmUaResource *a = actual->pdata[i];
		if (!g_hash_table_contains(wanted, a->uuid))
			exm_ua_remove_extra(driver, a, collected, result);
	}
}

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
exm_ua_sync_add(GPtrArray *ops,
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
exm_ua_sync_differs(const ExmUaResource *dp, const ExmUaResource *cp)
{
	return g_strcmp0(dp->full_hash, cp->full_hash) != 0 || g_strcmp0(dp->hash, cp->hash) != 0 ||
	       g_strcmp0(dp->status, cp->status) != 0;
}

static void
exm_ua_sync_plan_kind(GPtrArray *ops,
		      const gchar *kind,
		      GPtrArray *dp,
		      GPtrArray *cp,
		      gboolean failed)
{
	g_autoptr(GHashTable) dp_index = exm_ua_index(dp);
	g_autoptr(GHashTable) cp_index = exm_ua_index(cp);
	g_autoptr(GPtrArray) dp_sorted = exm_ua_resource_sorted_by_uuid(dp);
	g_autoptr(GPtrArray) cp_sorted = exm_ua_resource_sorted_by_uuid(cp);

	for (guint i = 0; i < dp_sorted->len; i++) {
		ExmUaResource *r = dp_sorted->pdata[i];
		ExmUaResource *known = g_hash_table_lookup(cp_index, r->uuid);
		if (known == NULL)
			exm_ua_sync_add(ops, EXM_UA_SYNC_POST, kind, r->uuid, r);
		else if (exm_ua_sync_differs(r, known))
			exm_ua_sync_add(ops, EXM_UA_SYNC_PUT, kind, r->uuid, r);
	}
	if (failed)
		return;
	for (guint i = 0; i < cp_sorted->len; i++) {
		ExmUaResource *known = cp_sorted->pdata[i];
		if (!g_hash_table_contains(dp_index, known->uuid))
			exm_ua_sync_add(ops, EXM_UA_SYNC_DELETE, kind, known->uuid, NULL);
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
		exm_ua_sync_plan_kind(ops,
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
