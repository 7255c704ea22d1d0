/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ua-reconcile.h"

#include "exm-memprobe.h"
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
	exm_memprobe_point("listed");
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

/* The actual resource of @t's uuid hashed on @t, listed now: what is on the
 * DP after an update decided from the marks failed. */
static ExmUaResource *
listed_twin(ExmUaDriver *driver, ExmUaResource *t, ExmUaKindResult *result)
{
	g_autoptr(GPtrArray) actual = list_actual(driver, t->kind, result);

	for (guint i = 0; actual != NULL && i < actual->len; i++) {
		ExmUaResource *a = actual->pdata[i];

		if (strcmp(a->uuid, t->uuid) == 0)
			return exm_ua_resource_new_actual(t->kind, a->value, t->value, NULL);
	}
	return NULL;
}

/* @decided: @a is the mark of a settled listing that differs from @t (no
 * value to hash, none needed to update).  Otherwise @a is listed, and
 * hollowed out once it is known to differ. */
static void
apply_target(ExmUaDriver *driver,
	     ExmUaResource *t,
	     ExmUaResource *a,
	     gboolean decided,
	     GPtrArray *collected,
	     ExmUaKindResult *result)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) value = NULL;
	g_autoptr(ExmUaResource) twin = NULL;
	ExmUaResource *r;

	if (a != NULL && decided) {
		value = driver->update(driver, t->kind, t->value, &error);
	} else if (a != NULL) {
		/* Converged ⇔ the projection on the target's keys hashes equal (§2.3). */
		twin = exm_ua_resource_new_actual(t->kind, a->value, t->value, NULL);
		if (twin != NULL && g_strcmp0(twin->hash, t->hash) == 0) {
			g_ptr_array_add(collected, g_steal_pointer(&twin));
			return;
		}
		/* to be written: the listed value (as large as the target, 14 MB
		 * at 100 000 accounts) is not held through the write; a failed
		 * one lists again, as after a decision from the marks */
		g_clear_pointer(&twin, exm_ua_resource_unref);
		exm_ua_resource_hollow_out(a);
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
		if (a != NULL)
			twin = listed_twin(driver, t, result);
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

/* Whether @marks (of the resources the DP holds) decide @sorted without a
 * listing: every target has no mark (a create) or a mark hashed on its keys
 * that differs from it (an update), and no mark is left over (a removal, like
 * a converged target, needs the listed value). */
static gboolean
marks_decide(GPtrArray *marks, GHashTable *by_uuid, GHashTable *wanted, GPtrArray *sorted)
{
	if (g_hash_table_size(by_uuid) != marks->len)
		return FALSE;
	for (guint i = 0; i < marks->len; i++) {
		if (!g_hash_table_contains(wanted, ((ExmUaResource *)marks->pdata[i])->uuid))
			return FALSE;
	}
	for (guint i = 0; i < sorted->len; i++) {
		ExmUaResource *t = sorted->pdata[i];
		ExmUaResource *m = g_hash_table_lookup(by_uuid, t->uuid);

		if (m != NULL &&
		    (!exm_ua_resource_keys_match(m, t->value) || g_strcmp0(m->hash, t->hash) == 0))
			return FALSE;
	}
	return TRUE;
}

/* Whether every target of @sorted is listed in @by_uuid, converged, and
 * nothing listed is left to remove: then their twins go to @collected. */
static gboolean
hollow_converged(GPtrArray *actual,
		 GHashTable *by_uuid,
		 GHashTable *wanted,
		 GPtrArray *sorted,
		 GPtrArray *collected)
{
	g_autoptr(GPtrArray) twins =
		g_ptr_array_new_with_free_func((GDestroyNotify)exm_ua_resource_unref);

	for (guint i = 0; i < actual->len; i++) {
		if (!g_hash_table_contains(wanted, ((ExmUaResource *)actual->pdata[i])->uuid))
			return FALSE;
	}
	for (guint i = 0; i < sorted->len; i++) {
		ExmUaResource *t = sorted->pdata[i];
		ExmUaResource *a = g_hash_table_lookup(by_uuid, t->uuid);
		ExmUaResource *twin =
			a != NULL ? exm_ua_resource_new_actual(t->kind, a->value, t->value, NULL)
				  : NULL;

		if (twin == NULL)
			return FALSE;
		g_ptr_array_add(twins, twin);
		if (g_strcmp0(twin->hash, t->hash) != 0)
			return FALSE;
	}
	g_ptr_array_extend_and_steal(collected, g_steal_pointer(&twins));
	return TRUE;
}

static gboolean
any_hollow(GPtrArray *targets)
{
	for (guint i = 0; targets != NULL && i < targets->len; i++) {
		if (((ExmUaResource *)targets->pdata[i])->hollow)
			return TRUE;
	}
	return FALSE;
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
	exm_ua_reconcile_kind_settled(driver, kind, targets, NULL, collected, result);
}

void
exm_ua_reconcile_kind_settled(ExmUaDriver *driver,
			      const gchar *kind,
			      GPtrArray *targets,
			      GPtrArray *marks,
			      GPtrArray *collected,
			      ExmUaKindResult *result)
{
	g_autoptr(GPtrArray) actual = NULL;
	g_autoptr(GPtrArray) sorted = exm_ua_resource_sorted_by_uuid(targets);
	g_autoptr(GHashTable) by_uuid = NULL;
	g_autoptr(GHashTable) wanted = exm_ua_resource_index(targets);
	gboolean decided = FALSE;
	gboolean hollow = any_hollow(targets);

	memset(result, 0, sizeof(*result));
	if (marks != NULL) {
		by_uuid = exm_ua_resource_index(marks);
		decided = marks_decide(marks, by_uuid, wanted, sorted);
	}
	if (decided && hollow) {
		result->need_values = TRUE;
		return;
	}
	if (!decided) {
		g_clear_pointer(&by_uuid, g_hash_table_unref);
		actual = list_actual(driver, kind, result);
		if (actual == NULL)
			return;
		by_uuid = exm_ua_resource_index(actual);
	}
	if (hollow) {
		/* never applied: converged, they are collected as they stand;
		 * otherwise the caller comes back with their values */
		result->need_values = !hollow_converged(actual, by_uuid, wanted, sorted, collected);
		return;
	}
	for (guint i = 0; i < sorted->len; i++) {
		ExmUaResource *t = sorted->pdata[i];
		apply_target(driver,
			     t,
			     g_hash_table_lookup(by_uuid, t->uuid),
			     decided,
			     collected,
			     result);
	}
	if (decided)
		return;
	for (guint i = 0; i < actual->len; i++) {
		ExmUaResource *a = actual->pdata[i];
		if (!g_hash_table_contains(wanted, a->uuid))
			remove_extra(driver, a, collected, result);
	}
}
