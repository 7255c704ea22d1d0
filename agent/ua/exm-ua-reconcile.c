/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ua-reconcile.h"

#include "exm-ua-error.h"

#include <string.h>

/* The driver's listing as resources, not hashed yet: one a target matches is
 * hashed on its keys (apply_target), one left over before it is reported
 * (remove_extra).  A value without a uuid cannot be matched to anything: the
 * kind counts as failed. */
static GPtrArray *
list_actual(ExmUaDriver *driver, const gchar *kind, ExmUaKindResult *result)
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
		ExmUaResource *r = exm_ua_resource_new_listed(kind, values->pdata[i], &local);
		if (r == NULL) {
			g_warning("%s: %s", driver->name, local->message);
			result->failed = TRUE;
			continue;
		}
		g_ptr_array_add(actual, r);
	}
	g_ptr_array_sort(actual, exm_ua_resource_cmp_uuid);
	return actual;
}

/* Wraps a create/update result; the driver must answer for the uuid it was given. */
static ExmUaResource *
wrap_result(ExmUaResource *t, JsonObject *value, GError **error)
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
apply_target(ExmUaDriver *driver,
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
	r = wrap_result(t, value, &error);
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
remove_extra(ExmUaDriver *driver, ExmUaResource *a, GPtrArray *collected, ExmUaKindResult *result)
{
	g_autoptr(GError) error = NULL;

	if (driver->remove(driver, a->kind, a->value, &error)) {
		result->deleted++;
		return;
	}
	g_warning("%s: delete %s/%s failed: %s", driver->name, a->kind, a->uuid, error->message);
	result->failed = TRUE;
	exm_ua_resource_hash_listed(a);
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
	actual = list_actual(driver, kind, result);
	if (actual == NULL)
		return;
	by_uuid = exm_ua_resource_index(actual);
	wanted = exm_ua_resource_index(targets);
	sorted = exm_ua_resource_sorted_by_uuid(targets);
	for (guint i = 0; i < sorted->len; i++) {
		ExmUaResource *t = sorted->pdata[i];
		apply_target(driver, t, g_hash_table_lookup(by_uuid, t->uuid), collected, result);
	}
	for (guint i = 0; i < actual->len; i++) {
		ExmUaResource *a = actual->pdata[i];
		if (!g_hash_table_contains(wanted, a->uuid))
			remove_extra(driver, a, collected, result);
	}
}
