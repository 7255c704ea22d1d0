/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The infra backend interface: the target/actual value types, their §10 JSON
 * forms, and the dispatch through the vtable.
 */
#include "exh-backend.h"

#include <string.h>

#include "exh-host.h"
#include "exm-json.h"
#include "exm-uuid.h"

#define EXH_MAX_REPLICAS 4096
#define EXH_MAX_CORES	 4096
#define EXH_MAX_PATH	 255

const gchar *
exh_infra_status_to_string(ExhInfraStatus status)
{
	switch (status) {
	case EXH_INFRA_STATUS_NEW:
		return "NEW";
	case EXH_INFRA_STATUS_IN_PROGRESS:
		return "IN_PROGRESS";
	case EXH_INFRA_STATUS_ACTIVE:
		return "ACTIVE";
	case EXH_INFRA_STATUS_ERROR:
		return "ERROR";
	}
	return "ERROR";
}

static void
disk_free(gpointer data)
{
	ExhInfraDisk *disk = data;

	g_free(disk->label);
	g_free(disk->image);
	g_free(disk->mount_point);
	g_free(disk->fs);
	g_free(disk);
}

ExhNodeSetTarget *
exh_node_set_target_new(void)
{
	ExhNodeSetTarget *target = g_new0(ExhNodeSetTarget, 1);

	target->replicas = 1;
	target->cores = 1;
	target->disks = g_ptr_array_new_with_free_func(disk_free);
	return target;
}

void
exh_node_set_target_free(ExhNodeSetTarget *target)
{
	if (target == NULL)
		return;
	g_free(target->uuid);
	g_free(target->name);
	g_free(target->project_id);
	g_ptr_array_unref(target->disks);
	g_free(target);
}

ExhNodeSetTarget *
exh_node_set_target_copy(const ExhNodeSetTarget *src)
{
	ExhNodeSetTarget *dst = exh_node_set_target_new();

	dst->uuid = g_strdup(src->uuid);
	dst->name = g_strdup(src->name);
	dst->project_id = g_strdup(src->project_id);
	dst->replicas = src->replicas;
	dst->cores = src->cores;
	dst->ram = src->ram;
	for (guint i = 0; i < src->disks->len; i++) {
		const ExhInfraDisk *s = g_ptr_array_index(src->disks, i);
		ExhInfraDisk *d = g_new0(ExhInfraDisk, 1);

		d->size = s->size;
		d->label = g_strdup(s->label);
		d->image = g_strdup(s->image);
		d->mount_point = g_strdup(s->mount_point);
		d->fs = g_strdup(s->fs);
		g_ptr_array_add(dst->disks, d);
	}
	return dst;
}

/* An optional string member of at most @max chars; absent and null give NULL. */
static gboolean
get_opt_string(JsonObject *obj, const gchar *name, gsize max, gchar **out, GError **error)
{
	const gchar *value = NULL;

	if (!exm_json_get_string(obj, name, TRUE, &value, NULL, error))
		return FALSE;
	if (value != NULL && strlen(value) > max) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "%s: longer than %zu", name, max);
		return FALSE;
	}
	*out = g_strdup(value);
	return TRUE;
}

static gboolean
get_int_range(JsonObject *obj,
	      const gchar *name,
	      gint64 min,
	      gint64 max,
	      gint64 dflt,
	      gint64 *out,
	      GError **error)
{
	gboolean present = FALSE;

	*out = dflt;
	if (!exm_json_get_int(obj, name, out, &present, error))
		return FALSE;
	if (*out < min || *out > max) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "%s: out of range", name);
		return FALSE;
	}
	return TRUE;
}

static ExhInfraDisk *
disk_from_json(JsonNode *node, GError **error)
{
	g_autoptr(GError) local = NULL;
	ExhInfraDisk *disk;
	JsonObject *obj;
	gint64 size = 0;

	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "a disk is not an object");
		return NULL;
	}
	obj = json_node_get_object(node);
	if (!json_object_has_member(obj, "size") ||
	    !get_int_range(obj, "size", 1, G_MAXINT32, 0, &size, error))
		return NULL;
	disk = g_new0(ExhInfraDisk, 1);
	disk->size = size;
	if (!get_opt_string(obj, "label", 128, &disk->label, &local) ||
	    !get_opt_string(obj, "image", 256, &disk->image, &local) ||
	    !get_opt_string(obj, "mount_point", 512, &disk->mount_point, &local) ||
	    !get_opt_string(obj, "fs", 256, &disk->fs, &local)) {
		disk_free(disk);
		g_propagate_error(error, g_steal_pointer(&local));
		return NULL;
	}
	return disk;
}

/* §10: first disk = root with an image; extra disks unique labels, not fs+image. */
static gboolean
check_disks(GPtrArray *disks, GError **error)
{
	g_autoptr(GHashTable) labels = g_hash_table_new(g_str_hash, g_str_equal);

	if (disks->len == 0 || ((ExhInfraDisk *)g_ptr_array_index(disks, 0))->image == NULL) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "disk_spec: no root disk image");
		return FALSE;
	}
	for (guint i = 1; i < disks->len; i++) {
		ExhInfraDisk *d = g_ptr_array_index(disks, i);

		if (d->label == NULL || !g_hash_table_add(labels, d->label)) {
			g_set_error(error,
				    EXH_ERROR,
				    EXH_ERROR_CONFIG,
				    "disk_spec: extra disks need unique labels");
			return FALSE;
		}
		if (d->fs != NULL && d->image != NULL) {
			g_set_error(error,
				    EXH_ERROR,
				    EXH_ERROR_CONFIG,
				    "disk_spec: a disk has both fs and image");
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
disk_spec_from_json(JsonObject *value, GPtrArray *disks, GError **error)
{
	JsonObject *spec = NULL;
	const gchar *kind = NULL;
	JsonArray *items = NULL;

	if (!exm_json_get_object(value, "disk_spec", &spec, NULL, error) ||
	    (spec != NULL && !exm_json_get_string(spec, "kind", FALSE, &kind, NULL, error)))
		return FALSE;
	if (g_strcmp0(kind, "root_disk") == 0) {
		ExhInfraDisk *disk =
			disk_from_json(json_object_get_member(value, "disk_spec"), error);

		if (disk == NULL)
			return FALSE;
		g_ptr_array_add(disks, disk);
	} else if (g_strcmp0(kind, "disks") == 0) {
		if (!exm_json_get_array(spec, "disks", &items, NULL, error))
			return FALSE;
		for (guint i = 0; items != NULL && i < json_array_get_length(items); i++) {
			ExhInfraDisk *disk =
				disk_from_json(json_array_get_element(items, i), error);

			if (disk == NULL)
				return FALSE;
			g_ptr_array_add(disks, disk);
		}
	} else {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "disk_spec: unknown kind");
		return FALSE;
	}
	return check_disks(disks, error);
}

static gboolean
get_uuid(JsonObject *obj, const gchar *name, gchar **out, GError **error)
{
	const gchar *value = NULL;

	if (!exm_json_get_string(obj, name, FALSE, &value, NULL, error))
		return FALSE;
	if (value == NULL || !exm_uuid_is_valid(value)) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "%s: not a uuid", name);
		return FALSE;
	}
	*out = g_strdup(value);
	return TRUE;
}

ExhNodeSetTarget *
exh_node_set_target_from_json(JsonObject *value, GError **error)
{
	g_autoptr(ExhNodeSetTarget) target = exh_node_set_target_new();
	gint64 replicas = 0, cores = 0, ram = 0;

	if (!get_uuid(value, "uuid", &target->uuid, error) ||
	    !get_opt_string(value, "name", 255, &target->name, error) ||
	    !get_opt_string(value, "project_id", 36, &target->project_id, error) ||
	    !get_int_range(value, "replicas", 0, EXH_MAX_REPLICAS, 1, &replicas, error) ||
	    !get_int_range(value, "cores", 1, EXH_MAX_CORES, 1, &cores, error) ||
	    !get_int_range(value, "ram", 0, G_MAXINT32, 0, &ram, error) ||
	    !disk_spec_from_json(value, target->disks, error)) {
		g_prefix_error(error, "node_set: ");
		return NULL;
	}
	target->replicas = (guint)replicas;
	target->cores = (guint)cores;
	target->ram = (guint64)ram;
	return g_steal_pointer(&target);
}

ExhConfigTarget *
exh_config_target_new(void)
{
	ExhConfigTarget *target = g_new0(ExhConfigTarget, 1);

	target->mode = 0600;
	target->owner = g_strdup("root");
	target->group = g_strdup("root");
	return target;
}

void
exh_config_target_free(ExhConfigTarget *target)
{
	if (target == NULL)
		return;
	g_free(target->uuid);
	g_free(target->node);
	g_free(target->path);
	g_free(target->content);
	g_free(target->owner);
	g_free(target->group);
	g_free(target->on_change);
	g_free(target);
}

/* `"0640"`-style octal strings of at most 4 chars (§10). */
static gboolean
parse_mode(const gchar *text, guint *out, GError **error)
{
	guint64 mode = 0;

	if (text == NULL || *text == '\0' || strlen(text) > 4 ||
	    !g_ascii_string_to_unsigned(text, 8, 0, 07777, &mode, NULL)) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "mode: not an octal mode");
		return FALSE;
	}
	*out = (guint)mode;
	return TRUE;
}

static gboolean
config_path_ok(const gchar *path)
{
	g_auto(GStrv) parts = NULL;

	if (path == NULL || path[0] != '/' || strlen(path) > EXH_MAX_PATH ||
	    strchr(path, '\n') != NULL)
		return FALSE;
	parts = g_strsplit(path, "/", -1);
	for (guint i = 0; parts[i] != NULL; i++) {
		if (g_str_equal(parts[i], "..") || g_str_equal(parts[i], "."))
			return FALSE;
	}
	return TRUE;
}

static gboolean
config_kinds_from_json(JsonObject *value, ExhConfigTarget *target, GError **error)
{
	JsonObject *sub = NULL;
	const gchar *kind = NULL, *text = NULL;

	if (!exm_json_get_object(value, "target", &sub, NULL, error) || sub == NULL ||
	    !exm_json_get_string(sub, "kind", FALSE, &kind, NULL, error) ||
	    g_strcmp0(kind, "node") != 0 || !get_uuid(sub, "node", &target->node, error)) {
		g_set_error_literal(error, EXH_ERROR, EXH_ERROR_CONFIG, "target: not a node");
		return FALSE;
	}
	if (!exm_json_get_object(value, "body", &sub, NULL, error) || sub == NULL ||
	    !exm_json_get_string(sub, "kind", FALSE, &kind, NULL, error) ||
	    g_strcmp0(kind, "text") != 0 ||
	    !exm_json_get_string(sub, "content", FALSE, &text, NULL, error) || text == NULL) {
		g_clear_error(error);
		g_set_error_literal(error, EXH_ERROR, EXH_ERROR_CONFIG, "body: not a text body");
		return FALSE;
	}
	target->content = g_strdup(text);
	sub = NULL;
	if (!exm_json_get_object(value, "on_change", &sub, NULL, error))
		return FALSE;
	if (sub == NULL)
		return TRUE;
	if (!exm_json_get_string(sub, "kind", FALSE, &kind, NULL, error))
		return FALSE;
	if (g_strcmp0(kind, "no_action") == 0)
		return TRUE;
	if (g_strcmp0(kind, "shell") != 0 ||
	    !exm_json_get_string(sub, "command", FALSE, &text, NULL, error) || text == NULL) {
		g_clear_error(error);
		g_set_error_literal(error, EXH_ERROR, EXH_ERROR_CONFIG, "on_change: unsupported");
		return FALSE;
	}
	target->on_change = g_strdup(text);
	return TRUE;
}

ExhConfigTarget *
exh_config_target_from_json(JsonObject *value, GError **error)
{
	g_autoptr(ExhConfigTarget) target = exh_config_target_new();
	const gchar *mode = "0600", *owner = "root", *group = "root", *path = NULL;

	if (!get_uuid(value, "uuid", &target->uuid, error) ||
	    !exm_json_get_string(value, "path", FALSE, &path, NULL, error) ||
	    !exm_json_get_string(value, "mode", FALSE, &mode, NULL, error) ||
	    !exm_json_get_string(value, "owner", FALSE, &owner, NULL, error) ||
	    !exm_json_get_string(value, "group", FALSE, &group, NULL, error) ||
	    !parse_mode(mode, &target->mode, error) ||
	    !config_kinds_from_json(value, target, error)) {
		g_prefix_error(error, "config: ");
		return NULL;
	}
	target->path = g_strdup(path);
	if (!config_path_ok(target->path)) {
		g_set_error_literal(error, EXH_ERROR, EXH_ERROR_CONFIG, "config: bad path");
		return NULL;
	}
	g_free(target->owner);
	target->owner = g_strdup(owner);
	g_free(target->group);
	target->group = g_strdup(group);
	return g_steal_pointer(&target);
}

static void
node_free(gpointer data)
{
	ExhInfraNode *node = data;

	g_free(node->uuid);
	g_free(node->name);
	g_free(node->ipv4);
	if (node->private_key != NULL)
		memset(node->private_key, 0, strlen(node->private_key));
	g_free(node->private_key);
	g_free(node);
}

ExhNodeSetActual *
exh_node_set_actual_new(void)
{
	ExhNodeSetActual *actual = g_new0(ExhNodeSetActual, 1);

	actual->nodes = g_ptr_array_new_with_free_func(node_free);
	return actual;
}

void
exh_node_set_actual_free(ExhNodeSetActual *actual)
{
	if (actual == NULL)
		return;
	g_free(actual->uuid);
	g_free(actual->error);
	exh_node_set_target_free(actual->target);
	g_ptr_array_unref(actual->nodes);
	g_free(actual);
}

static void
add_disk_spec(JsonBuilder *b, const ExhNodeSetTarget *target)
{
	json_builder_set_member_name(b, "disk_spec");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "kind");
	json_builder_add_string_value(b, "disks");
	json_builder_set_member_name(b, "disks");
	json_builder_begin_array(b);
	for (guint i = 0; i < target->disks->len; i++) {
		const ExhInfraDisk *d = g_ptr_array_index(target->disks, i);

		json_builder_begin_object(b);
		json_builder_set_member_name(b, "size");
		json_builder_add_int_value(b, d->size);
		if (d->label != NULL) {
			json_builder_set_member_name(b, "label");
			json_builder_add_string_value(b, d->label);
		}
		if (d->image != NULL) {
			json_builder_set_member_name(b, "image");
			json_builder_add_string_value(b, d->image);
		}
		if (d->mount_point != NULL) {
			json_builder_set_member_name(b, "mount_point");
			json_builder_add_string_value(b, d->mount_point);
		}
		if (d->fs != NULL) {
			json_builder_set_member_name(b, "fs");
			json_builder_add_string_value(b, d->fs);
		}
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
}

static void
add_string(JsonBuilder *b, const gchar *name, const gchar *value)
{
	json_builder_set_member_name(b, name);
	if (value != NULL)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
}

static void
add_nodes(JsonBuilder *b, const ExhNodeSetActual *actual)
{
	json_builder_set_member_name(b, "nodes");
	json_builder_begin_object(b);
	for (guint i = 0; i < actual->nodes->len; i++) {
		const ExhInfraNode *n = g_ptr_array_index(actual->nodes, i);

		json_builder_set_member_name(b, n->uuid);
		json_builder_begin_object(b);
		add_string(b, "uuid", n->uuid);
		add_string(b, "name", n->name);
		add_string(b, "ipv4", n->ipv4);
		json_builder_end_object(b);
	}
	json_builder_end_object(b);
}

JsonNode *
exh_node_set_actual_to_json(const ExhNodeSetActual *actual)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	const ExhNodeSetTarget *t = actual->target;

	json_builder_begin_object(b);
	add_string(b, "uuid", actual->uuid);
	if (t != NULL) {
		add_string(b, "name", t->name);
		add_string(b, "project_id", t->project_id);
		json_builder_set_member_name(b, "replicas");
		json_builder_add_int_value(b, t->replicas);
		json_builder_set_member_name(b, "cores");
		json_builder_add_int_value(b, t->cores);
		json_builder_set_member_name(b, "ram");
		json_builder_add_int_value(b, (gint64)t->ram);
		add_string(b, "node_type", "VM");
		add_string(b, "set_type", "SET");
		add_disk_spec(b, t);
	}
	add_string(b, "status", exh_infra_status_to_string(actual->status));
	add_nodes(b, actual);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

void
exh_infra_backend_init(ExhInfraBackend *backend, const ExhInfraBackendVTable *vtable)
{
	backend->vtable = vtable;
	g_mutex_init(&backend->notify_lock);
}

const gchar *
exh_infra_backend_get_name(ExhInfraBackend *backend)
{
	return backend->vtable->name;
}

/* The hook is captured at emission: the dispatch never reads the backend. */
typedef struct {
	ExhInfraBackend *backend;
	ExhInfraBackendNotify notify;
	gpointer user_data;
	gchar *node_set;
} Emit;

static gboolean
emit_dispatch(gpointer data)
{
	Emit *emit = data;

	emit->notify(emit->backend, emit->node_set, emit->user_data);
	return G_SOURCE_REMOVE;
}

static void
emit_free(gpointer data)
{
	Emit *emit = data;

	g_free(emit->node_set);
	g_free(emit);
}

void
exh_infra_backend_emit_changed(ExhInfraBackend *backend, const gchar *node_set)
{
	GMainContext *context = NULL;
	Emit *emit = g_new0(Emit, 1);

	g_mutex_lock(&backend->notify_lock);
	if (backend->notify != NULL)
		context = g_main_context_ref(backend->notify_context);
	emit->notify = backend->notify;
	emit->user_data = backend->notify_data;
	g_mutex_unlock(&backend->notify_lock);
	if (context == NULL) {
		g_free(emit);
		return;
	}
	emit->backend = backend;
	emit->node_set = g_strdup(node_set);
	g_main_context_invoke_full(context, G_PRIORITY_DEFAULT, emit_dispatch, emit, emit_free);
	g_main_context_unref(context);
}

void
exh_infra_backend_set_notify(ExhInfraBackend *backend,
			     GMainContext *context,
			     ExhInfraBackendNotify notify,
			     gpointer user_data,
			     GDestroyNotify destroy)
{
	GDestroyNotify old_destroy;
	gpointer old_data;
	GMainContext *old_context;

	g_mutex_lock(&backend->notify_lock);
	old_destroy = backend->notify_destroy;
	old_data = backend->notify_data;
	old_context = backend->notify_context;
	backend->notify = notify;
	backend->notify_data = user_data;
	backend->notify_destroy = destroy;
	backend->notify_context =
		notify != NULL
			? g_main_context_ref(context != NULL ? context : g_main_context_default())
			: NULL;
	g_mutex_unlock(&backend->notify_lock);
	if (old_destroy != NULL)
		old_destroy(old_data);
	if (old_context != NULL)
		g_main_context_unref(old_context);
}

gboolean
exh_infra_backend_apply_node_set(ExhInfraBackend *backend,
				 const ExhNodeSetTarget *target,
				 GError **error)
{
	return backend->vtable->apply_node_set(backend, target, error);
}

gboolean
exh_infra_backend_delete_node_set(ExhInfraBackend *backend, const gchar *uuid, GError **error)
{
	return backend->vtable->delete_node_set(backend, uuid, error);
}

ExhNodeSetActual *
exh_infra_backend_get_node_set(ExhInfraBackend *backend, const gchar *uuid, GError **error)
{
	return backend->vtable->get_node_set(backend, uuid, error);
}

gboolean
exh_infra_backend_apply_config(ExhInfraBackend *backend,
			       const ExhConfigTarget *target,
			       GError **error)
{
	return backend->vtable->apply_config(backend, target, error);
}

gboolean
exh_infra_backend_delete_config(ExhInfraBackend *backend, const gchar *uuid, GError **error)
{
	return backend->vtable->delete_config(backend, uuid, error);
}

gboolean
exh_infra_backend_get_config_status(ExhInfraBackend *backend,
				    const gchar *uuid,
				    ExhInfraStatus *out_status,
				    GError **error)
{
	return backend->vtable->get_config_status(backend, uuid, out_status, error);
}

void
exh_infra_backend_shutdown(ExhInfraBackend *backend)
{
	backend->vtable->shutdown(backend);
}

void
exh_infra_backend_free(ExhInfraBackend *backend)
{
	if (backend == NULL)
		return;
	backend->vtable->shutdown(backend);
	exh_infra_backend_set_notify(backend, NULL, NULL, NULL, NULL);
	g_mutex_clear(&backend->notify_lock);
	backend->vtable->free(backend);
}
