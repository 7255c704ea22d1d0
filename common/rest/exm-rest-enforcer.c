/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The gcl_iam enforcer (see exm-rest-enforcer.h).
 */
#include "exm-rest-enforcer.h"

#include "exm-error.h"

struct _ExmRestEnforcer {
	GHashTable *services; /* name → (resource → set of actions) */
};

static GHashTable *
level_new(GDestroyNotify value_free)
{
	return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, value_free);
}

/* gcl_iam's quirk: once `*` exists at a level, every key goes to it. */
static const gchar *
level_key(GHashTable *level, const gchar *key)
{
	return g_hash_table_contains(level, "*") ? "*" : key;
}

static GHashTable *
level_get(GHashTable *level, const gchar *key, GDestroyNotify value_free)
{
	const gchar *k = level_key(level, key);
	GHashTable *child = g_hash_table_lookup(level, k);

	if (child == NULL) {
		child = level_new(value_free);
		g_hash_table_insert(level, g_strdup(k), child);
	}
	return child;
}

ExmRestEnforcer *
exm_rest_enforcer_new(const gchar *const *permissions)
{
	ExmRestEnforcer *e = g_new0(ExmRestEnforcer, 1);

	e->services = level_new((GDestroyNotify)g_hash_table_unref);
	for (guint i = 0; permissions != NULL && permissions[i] != NULL; i++) {
		g_auto(GStrv) parts = g_strsplit(permissions[i], ".", -1);
		GHashTable *resources;
		GHashTable *actions;
		if (g_strv_length(parts) != 3)
			continue;
		resources = level_get(e->services, parts[0], (GDestroyNotify)g_hash_table_unref);
		actions = level_get(resources, parts[1], NULL);
		g_hash_table_add(actions, g_strdup(parts[2]));
	}
	return e;
}

gboolean
exm_rest_enforcer_allows(const ExmRestEnforcer *enforcer, const gchar *rule)
{
	g_auto(GStrv) parts = g_strsplit(rule, ".", -1);
	GHashTable *resources;
	GHashTable *actions;

	if (g_strv_length(parts) != 3)
		return FALSE;
	resources =
		g_hash_table_lookup(enforcer->services, level_key(enforcer->services, parts[0]));
	if (resources == NULL)
		return FALSE;
	actions = g_hash_table_lookup(resources, level_key(resources, parts[1]));
	if (actions == NULL)
		return FALSE;
	return g_hash_table_contains(actions, parts[2]) || g_hash_table_contains(actions, "*");
}

gboolean
exm_rest_enforcer_check(const ExmRestEnforcer *enforcer, const gchar *rule, GError **error)
{
	if (exm_rest_enforcer_allows(enforcer, rule))
		return TRUE;
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_POLICY_NOT_AUTHORIZED,
		    "Policy rule %s is disallowed.",
		    rule);
	return FALSE;
}

void
exm_rest_enforcer_free(ExmRestEnforcer *enforcer)
{
	if (enforcer == NULL)
		return;
	g_hash_table_unref(enforcer->services);
	g_free(enforcer);
}
