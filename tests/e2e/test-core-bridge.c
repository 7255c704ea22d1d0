/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Real nodes behind the fake Exordos Core (test-core-bridge.h).
 */
#include "test-core-bridge.h"

#include <string.h>

#include "exm-json.h"

struct _CoreBridge {
	CoreFake *fake;
	ExhInfraBackend *local;
	GThread *thread;
	gint stop;
	GHashTable *rendered; /* config uuid -> revision applied locally */
	GHashTable *sets;     /* set uuids booted locally */
};

static void
add_node(JsonBuilder *b, const ExhInfraNode *node)
{
	json_builder_set_member_name(b, node->uuid);
	json_builder_begin_object(b);
	if (node->ipv4 != NULL) {
		json_builder_set_member_name(b, "ipv4");
		json_builder_add_string_value(b, node->ipv4);
	}
	if (node->private_key != NULL) {
		json_builder_set_member_name(b, "key");
		json_builder_add_string_value(b, node->private_key);
	}
	json_builder_end_object(b);
}

/* What the local set is, told to the fake as Core's own nodes. */
static void
report_set(CoreBridge *bridge, const gchar *uuid)
{
	g_autoptr(ExhNodeSetActual) actual =
		exh_infra_backend_get_node_set(bridge->local, uuid, NULL);
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *path = g_strdup_printf("/_fake/sets/%s/nodes", uuid);
	g_autofree gchar *json = NULL;

	if (actual == NULL)
		return;
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "nodes");
	json_builder_begin_object(b);
	for (guint i = 0; i < actual->nodes->len; i++)
		add_node(b, actual->nodes->pdata[i]);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "status");
	json_builder_add_string_value(b, exh_infra_status_to_string(actual->status));
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json = exm_json_to_string(root);
	core_fake_report(bridge->fake, path, json);
}

static void
boot_sets(CoreBridge *bridge, JsonObject *sets)
{
	g_autoptr(GList) names = json_object_get_members(sets);
	GHashTableIter it;
	gpointer key;

	for (GList *l = names; l != NULL; l = l->next) {
		JsonObject *value = json_object_get_object_member(sets, l->data);
		g_autoptr(ExhNodeSetTarget) target = exh_node_set_target_from_json(value, NULL);

		if (target == NULL ||
		    g_str_equal(json_object_get_string_member(value, "status"), "NEW"))
			continue;
		if (exh_infra_backend_apply_node_set(bridge->local, target, NULL))
			g_hash_table_add(bridge->sets, g_strdup(l->data));
		report_set(bridge, l->data);
	}
	g_hash_table_iter_init(&it, bridge->sets);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		if (json_object_has_member(sets, key))
			continue;
		exh_infra_backend_delete_node_set(bridge->local, key, NULL);
		g_hash_table_iter_remove(&it);
	}
}

/* The base agent's part: render a new revision, report it once it is ACTIVE. */
static void
render_configs(CoreBridge *bridge, JsonObject *configs, JsonObject *revisions)
{
	g_autoptr(GList) names = json_object_get_members(configs);

	for (GList *l = names; l != NULL; l = l->next) {
		JsonObject *value = json_object_get_object_member(configs, l->data);
		gint64 revision = json_object_get_int_member(revisions, l->data);
		g_autoptr(ExhConfigTarget) target = exh_config_target_from_json(value, NULL);
		ExhInfraStatus status = EXH_INFRA_STATUS_NEW;
		g_autofree gchar *path = NULL;
		g_autofree gchar *json = NULL;

		if (target == NULL)
			continue;
		if (GPOINTER_TO_SIZE(g_hash_table_lookup(bridge->rendered, l->data)) !=
		    (gsize)revision) {
			if (!exh_infra_backend_apply_config(bridge->local, target, NULL))
				continue;
			g_hash_table_replace(
				bridge->rendered, g_strdup(l->data), GSIZE_TO_POINTER(revision));
		}
		if (!exh_infra_backend_get_config_status(bridge->local, l->data, &status, NULL) ||
		    status == EXH_INFRA_STATUS_IN_PROGRESS ||
		    g_str_equal(json_object_get_string_member(value, "status"),
				exh_infra_status_to_string(status)))
			continue;
		path = g_strdup_printf("/_fake/configs/%s/status", (const gchar *)l->data);
		json = g_strdup_printf("{\"revision\":%" G_GINT64_FORMAT ",\"status\":\"%s\"}",
				       revision,
				       exh_infra_status_to_string(status));
		core_fake_report(bridge->fake, path, json);
	}
}

static gpointer
bridge_thread(gpointer data)
{
	CoreBridge *bridge = data;

	while (!g_atomic_int_get(&bridge->stop)) {
		g_autoptr(JsonObject) state = core_fake_state(bridge->fake);

		boot_sets(bridge, json_object_get_object_member(state, "sets"));
		render_configs(bridge,
			       json_object_get_object_member(state, "configs"),
			       json_object_get_object_member(state, "revisions"));
		g_usleep(50 * 1000);
	}
	return NULL;
}

CoreBridge *
core_bridge_new(CoreFake *fake, ExhInfraBackend *local)
{
	CoreBridge *bridge = g_new0(CoreBridge, 1);

	bridge->fake = fake;
	bridge->local = local;
	bridge->rendered = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	bridge->sets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	bridge->thread = g_thread_new("core-bridge", bridge_thread, bridge);
	return bridge;
}

void
core_bridge_free(CoreBridge *bridge)
{
	if (bridge == NULL)
		return;
	g_atomic_int_set(&bridge->stop, 1);
	g_thread_join(bridge->thread);
	g_hash_table_unref(bridge->rendered);
	g_hash_table_unref(bridge->sets);
	g_free(bridge);
}
