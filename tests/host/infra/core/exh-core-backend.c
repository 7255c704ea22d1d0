/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The `core` backend's entry points (exh-core-backend.h): they record the
 * desired state and read the polled one; the worker (exh-core-sync.c)
 * talks to Core.
 */
#include "exh-core-private.h"

#include "exh-error.h"
#include "exm-secret.h"

static const ExhInfraBackendVTable core_vtable;

static void
key_free(gpointer key)
{
	exm_secret_free(key);
}

static void
item_free(gpointer data)
{
	ExhCoreItem *item = data;

	g_free(item->uuid);
	if (item->body != NULL)
		json_node_unref(item->body);
	exh_node_set_actual_free(item->actual);
	g_free(item);
}

void
exh_core_backend_wake(ExhCoreBackend *self)
{
	self->wake = TRUE;
	g_cond_signal(&self->cond);
}

static gboolean
check_project(ExhCoreBackend *self,
	      const gchar *kind,
	      const gchar *uuid,
	      const gchar *project,
	      GError **error)
{
	if (g_strcmp0(project, self->config->project) == 0)
		return TRUE;
	g_set_error(error,
		    EXH_ERROR,
		    EXH_ERROR_CONFIG,
		    "%s %s: project %s is not the infra project %s",
		    kind,
		    uuid,
		    project != NULL ? project : "(none)",
		    self->config->project);
	return FALSE;
}

/* Records @body as desired; a change of it (only) makes the worker sync. */
static void
desire(ExhCoreBackend *self,
       GHashTable *table,
       GHashTable *doomed,
       const gchar *uuid,
       JsonNode *body)
{
	ExhCoreItem *item;

	g_mutex_lock(&self->lock);
	g_hash_table_remove(doomed, uuid);
	item = g_hash_table_lookup(table, uuid);
	if (item == NULL) {
		item = g_new0(ExhCoreItem, 1);
		item->uuid = g_strdup(uuid);
		item->status = EXH_INFRA_STATUS_NEW;
		g_hash_table_insert(table, item->uuid, item);
	}
	if (item->body == NULL || !json_node_equal(item->body, body)) {
		if (item->body != NULL)
			json_node_unref(item->body);
		item->body = json_node_ref(body);
		item->gen++;
		exh_core_backend_wake(self);
	}
	g_mutex_unlock(&self->lock);
}

/* The set's POST value: its target fields, node_type "VM", set_type "SET". */
static JsonNode *
set_body(const ExhNodeSetTarget *target)
{
	g_autoptr(ExhNodeSetActual) actual = exh_node_set_actual_new();
	JsonNode *node;

	actual->uuid = g_strdup(target->uuid);
	actual->target = exh_node_set_target_copy(target);
	node = exh_node_set_actual_to_json(actual);
	json_object_remove_member(json_node_get_object(node), "status");
	json_object_remove_member(json_node_get_object(node), "nodes");
	return node;
}

static gboolean
core_apply_node_set(ExhInfraBackend *backend, const ExhNodeSetTarget *target, GError **error)
{
	ExhCoreBackend *self = (ExhCoreBackend *)backend;
	g_autoptr(JsonNode) body = NULL;

	if (!check_project(self, "node_set", target->uuid, target->project_id, error))
		return FALSE;
	if (target->name == NULL) {
		g_set_error(
			error, EXH_ERROR, EXH_ERROR_CONFIG, "node_set %s: no name", target->uuid);
		return FALSE;
	}
	body = set_body(target);
	desire(self, self->sets, self->doomed_sets, target->uuid, body);
	return TRUE;
}

static void
kind_member(JsonBuilder *b,
	    const gchar *member,
	    const gchar *kind,
	    const gchar *key,
	    const gchar *value)
{
	json_builder_set_member_name(b, member);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "kind");
	json_builder_add_string_value(b, kind);
	if (key != NULL) {
		json_builder_set_member_name(b, key);
		json_builder_add_string_value(b, value);
	}
	json_builder_end_object(b);
}

static void
string_member(JsonBuilder *b, const gchar *member, const gchar *value)
{
	json_builder_set_member_name(b, member);
	json_builder_add_string_value(b, value);
}

/* The config's POST value; `on_change` verbatim (Core runs it on the node). */
static JsonNode *
config_body(const ExhConfigTarget *t)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autofree gchar *mode = g_strdup_printf("%04o", t->mode);

	json_builder_begin_object(b);
	string_member(b, "uuid", t->uuid);
	string_member(b, "name", t->name != NULL ? t->name : t->uuid);
	string_member(b, "project_id", t->project_id);
	string_member(b, "path", t->path);
	kind_member(b, "target", "node", "node", t->node);
	kind_member(b, "body", "text", "content", t->content);
	if (t->on_change != NULL)
		kind_member(b, "on_change", "shell", "command", t->on_change);
	else
		kind_member(b, "on_change", "no_action", NULL, NULL);
	string_member(b, "mode", mode);
	string_member(b, "owner", t->owner);
	string_member(b, "group", t->group);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

static gboolean
core_apply_config(ExhInfraBackend *backend, const ExhConfigTarget *target, GError **error)
{
	ExhCoreBackend *self = (ExhCoreBackend *)backend;
	g_autoptr(JsonNode) body = NULL;

	if (!check_project(self, "config", target->uuid, target->project_id, error))
		return FALSE;
	body = config_body(target);
	desire(self, self->configs, self->doomed_configs, target->uuid, body);
	return TRUE;
}

/* Forgotten now (no longer reported), DELETEd by the worker until Core agrees. */
static gboolean
doom(ExhCoreBackend *self, GHashTable *table, GHashTable *doomed, const gchar *uuid)
{
	ExhCoreItem *item;

	g_mutex_lock(&self->lock);
	item = g_hash_table_lookup(table, uuid);
	if (item != NULL && item->actual != NULL) {
		for (guint i = 0; i < item->actual->nodes->len; i++)
			g_hash_table_remove(self->keys,
					    ((ExhInfraNode *)item->actual->nodes->pdata[i])->uuid);
	}
	g_hash_table_remove(table, uuid);
	g_hash_table_add(doomed, g_strdup(uuid));
	exh_core_backend_wake(self);
	g_mutex_unlock(&self->lock);
	return TRUE;
}

static gboolean
core_delete_node_set(ExhInfraBackend *backend, const gchar *uuid, GError **error)
{
	ExhCoreBackend *self = (ExhCoreBackend *)backend;

	return doom(self, self->sets, self->doomed_sets, uuid);
}

static gboolean
core_delete_config(ExhInfraBackend *backend, const gchar *uuid, GError **error)
{
	ExhCoreBackend *self = (ExhCoreBackend *)backend;

	return doom(self, self->configs, self->doomed_configs, uuid);
}

static ExhNodeSetActual *
actual_copy(const ExhNodeSetActual *src)
{
	ExhNodeSetActual *dst = exh_node_set_actual_new();

	dst->uuid = g_strdup(src->uuid);
	dst->status = src->status;
	dst->error = g_strdup(src->error);
	dst->target = src->target != NULL ? exh_node_set_target_copy(src->target) : NULL;
	for (guint i = 0; i < src->nodes->len; i++) {
		const ExhInfraNode *s = src->nodes->pdata[i];
		ExhInfraNode *d = g_new0(ExhInfraNode, 1);

		d->uuid = g_strdup(s->uuid);
		d->name = g_strdup(s->name);
		d->ipv4 = g_strdup(s->ipv4);
		d->private_key = g_strdup(s->private_key);
		g_ptr_array_add(dst->nodes, d);
	}
	return dst;
}

/* The last poll's snapshot; NULL (no error) before the first one. */
static ExhNodeSetActual *
core_get_node_set(ExhInfraBackend *backend, const gchar *uuid, GError **error)
{
	ExhCoreBackend *self = (ExhCoreBackend *)backend;
	ExhNodeSetActual *copy = NULL;
	ExhCoreItem *item;

	g_mutex_lock(&self->lock);
	item = g_hash_table_lookup(self->sets, uuid);
	if (item != NULL && item->actual != NULL)
		copy = actual_copy(item->actual);
	g_mutex_unlock(&self->lock);
	return copy;
}

static gboolean
core_get_config_status(ExhInfraBackend *backend,
		       const gchar *uuid,
		       ExhInfraStatus *out_status,
		       GError **error)
{
	ExhCoreBackend *self = (ExhCoreBackend *)backend;
	gboolean known = FALSE;
	ExhCoreItem *item;

	g_mutex_lock(&self->lock);
	item = g_hash_table_lookup(self->configs, uuid);
	if (item != NULL && item->polled) {
		*out_status = item->status;
		known = TRUE;
	}
	g_mutex_unlock(&self->lock);
	return known;
}

static void
core_shutdown(ExhInfraBackend *backend)
{
	ExhCoreBackend *self = (ExhCoreBackend *)backend;
	GThread *worker;

	g_mutex_lock(&self->lock);
	self->stopping = TRUE;
	g_cond_signal(&self->cond);
	worker = g_steal_pointer(&self->worker);
	g_mutex_unlock(&self->lock);
	if (worker != NULL)
		g_thread_join(worker);
}

static void
core_free(ExhInfraBackend *backend)
{
	ExhCoreBackend *self = (ExhCoreBackend *)backend;

	exh_core_client_free(self->client);
	exh_core_config_free(self->config);
	g_hash_table_unref(self->sets);
	g_hash_table_unref(self->configs);
	g_hash_table_unref(self->doomed_sets);
	g_hash_table_unref(self->doomed_configs);
	g_hash_table_unref(self->keys);
	g_free(self->last_error);
	g_mutex_clear(&self->lock);
	g_cond_clear(&self->cond);
	g_free(self);
}

static const ExhInfraBackendVTable core_vtable = {
	.name = "core",
	.apply_node_set = core_apply_node_set,
	.delete_node_set = core_delete_node_set,
	.get_node_set = core_get_node_set,
	.apply_config = core_apply_config,
	.delete_config = core_delete_config,
	.get_config_status = core_get_config_status,
	.shutdown = core_shutdown,
	.free = core_free,
};

static ExhCoreConfig *
config_copy(const ExhCoreConfig *src)
{
	ExhCoreConfig *dst = g_new0(ExhCoreConfig, 1);

	*dst = *src;
	dst->endpoint = g_strdup(src->endpoint);
	dst->user = g_strdup(src->user);
	dst->password = g_strdup(src->password);
	dst->client_id = g_strdup(src->client_id);
	dst->client_secret = g_strdup(src->client_secret);
	dst->client_uuid = g_strdup(src->client_uuid);
	dst->project = g_strdup(src->project);
	return dst;
}

ExhInfraBackend *
exh_core_backend_new(const ExhCoreConfig *config, GError **error)
{
	ExhCoreBackend *self;

	if (config->endpoint == NULL || config->password == NULL || config->project == NULL) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "core backend: endpoint, password and project are required");
		return NULL;
	}
	self = g_new0(ExhCoreBackend, 1);
	exh_infra_backend_init(&self->base, &core_vtable);
	self->config = config_copy(config);
	self->client = exh_core_client_new(self->config);
	g_mutex_init(&self->lock);
	g_cond_init(&self->cond);
	self->sets = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, item_free);
	self->configs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, item_free);
	self->doomed_sets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->doomed_configs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, key_free);
	self->worker = g_thread_new("exh-core", exh_core_sync_worker, self);
	return &self->base;
}

ExhInfraBackend *
exh_core_backend_new_from_key_file(GKeyFile *key_file, GError **error)
{
	g_autoptr(ExhCoreConfig) config = exh_core_config_load_key_file(key_file, error);

	if (config == NULL)
		return NULL;
	return exh_core_backend_new(config, error);
}

gboolean
exh_core_backend_is_core(ExhInfraBackend *backend)
{
	return backend != NULL && backend->vtable == &core_vtable;
}

ExhCoreStats
exh_core_backend_get_stats(ExhInfraBackend *backend)
{
	return exh_core_client_get_stats(((ExhCoreBackend *)backend)->client);
}
