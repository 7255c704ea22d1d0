/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The node set target and actual of the backend interface (exh-backend.h)
 * and their §10 JSON forms.
 */
#include "exh-backend.h"

#include "exh-error.h"
#include "exm-json.h"

#define EXH_MAX_REPLICAS 4096
#define EXH_MAX_CORES	 4096

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

ExhNodeSetTarget *
exh_node_set_target_from_json(JsonObject *value, GError **error)
{
	g_autoptr(ExhNodeSetTarget) target = exh_node_set_target_new();
	gint64 replicas = 0, cores = 0, ram = 0;

	if (!exh_infra_json_uuid(value, "uuid", &target->uuid, error) ||
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
