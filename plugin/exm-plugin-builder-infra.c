/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The infra builder (`mail_instance_iaas`): the NodeSet of an instance and
 * one mail.env Config per node of the actual set (docs/mail.md
 * §3.1, shapes of docs/agent-protocol.md §10).  Pure: no database, no I/O.
 */
#include "exm-plugin-builder.h"

#include "exm-json.h"
#include "exm-mail-files.h"
#include "exm-uuid.h"

static void
builder_disk(JsonBuilder *b, gint64 size, const gchar *label, const gchar *image)
{
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "size");
	json_builder_add_int_value(b, size);
	json_builder_set_member_name(b, "label");
	json_builder_add_string_value(b, label);
	if (image != NULL) {
		json_builder_set_member_name(b, "image");
		json_builder_add_string_value(b, image);
	}
	json_builder_end_object(b);
}

static void
builder_member(JsonBuilder *b, const gchar *name, const gchar *value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_string_value(b, value);
}

/* Infra lives in the host's project (upstream: MetaPaaS's); Core refuses the
 * tenant's for the host's credentials.  An older host gave none. */
static const gchar *
builder_infra_project(const ExmPluginBuilderInput *in)
{
	return in->infra_project != NULL ? in->infra_project : in->instance->project_id;
}

/* The NodeSet target fields: uuid, name, replicas, cores, ram, node_type,
 * set_type, project_id, disk_spec (root 6 GB from the image + data disk). */
static gchar *
builder_node_set(const ExmPluginBuilderInput *in)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *name = g_strconcat("mailaas-dp-", in->instance->uuid, NULL);

	json_builder_begin_object(b);
	builder_member(b, "uuid", in->instance->uuid);
	builder_member(b, "name", name);
	json_builder_set_member_name(b, "replicas");
	json_builder_add_int_value(b, 1);
	json_builder_set_member_name(b, "cores");
	json_builder_add_int_value(b, in->instance->cpu);
	json_builder_set_member_name(b, "ram");
	json_builder_add_int_value(b, in->instance->ram);
	builder_member(b, "node_type", "VM");
	builder_member(b, "set_type", "SET");
	builder_member(b, "project_id", builder_infra_project(in));
	json_builder_set_member_name(b, "disk_spec");
	json_builder_begin_object(b);
	builder_member(b, "kind", "disks");
	json_builder_set_member_name(b, "disks");
	json_builder_begin_array(b);
	builder_disk(b, EXM_PLUGIN_ROOT_DISK_GB, "root", in->image);
	builder_disk(b, in->instance->disk_size, "data", NULL);
	json_builder_end_array(b);
	json_builder_end_object(b);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	return exm_json_canonical(root);
}

static void
builder_kind_object(JsonBuilder *b,
		    const gchar *member,
		    const gchar *kind,
		    const gchar *key,
		    const gchar *value)
{
	json_builder_set_member_name(b, member);
	json_builder_begin_object(b);
	builder_member(b, "kind", kind);
	builder_member(b, key, value);
	json_builder_end_object(b);
}

/* The Config target fields: uuid, name, path, target, body, on_change, mode,
 * owner, group, project_id. */
static gchar *
builder_config(const ExmPluginBuilderInput *in,
	       const gchar *uuid,
	       const gchar *node,
	       const gchar *content)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(b);
	builder_member(b, "uuid", uuid);
	builder_member(b, "name", node);
	builder_member(b, "project_id", builder_infra_project(in));
	builder_member(b, "path", EXM_PLUGIN_ENV_PATH);
	builder_kind_object(b, "target", "node", "node", node);
	builder_kind_object(b, "body", "text", "content", content);
	builder_kind_object(b, "on_change", "shell", "command", EXM_PLUGIN_ENV_ON_CHANGE);
	builder_member(b, "mode", "0640");
	builder_member(b, "owner", "root");
	builder_member(b, "group", "root");
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	return exm_json_canonical(root);
}

static gboolean
builder_configs(const ExmPluginBuilderInput *in,
		const ExmPluginBuilderSeen *seen,
		const ExordosPaasBuildSink *sink,
		gchar **out_error)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *content = NULL;

	if (seen->nodes->len == 0)
		return TRUE;
	content = exm_mail_env_render(in->instance->domain, &error);
	if (content == NULL) {
		*out_error = g_strdup_printf("mail.env: %s", error->message);
		return FALSE;
	}
	for (guint k = 0; k < seen->nodes->len; k++) {
		const gchar *node = seen->nodes->pdata[k];
		g_autofree gchar *name = g_strconcat("config-", node, NULL);
		g_autofree gchar *uuid = exm_uuid_v5(in->instance->uuid, name, NULL);
		g_autofree gchar *value = builder_config(in, uuid, node, content);

		sink->add_target(sink->sink, EXM_PLUGIN_KIND_CONFIG, uuid, value, NULL, "NEW");
	}
	return TRUE;
}

gboolean
exm_plugin_builder_infra_build(gpointer ctx,
			       gconstpointer input,
			       const ExordosPaasBuildView *view,
			       const ExordosPaasBuildSink *sink,
			       gchar **out_error)
{
	const ExmPluginBuilderInput *in = input;
	g_autoptr(ExmPluginBuilderSeen) seen = exm_plugin_builder_seen_new(view);
	g_autofree gchar *node_set = builder_node_set(in);
	g_autofree gchar *value = exm_plugin_builder_instance_value(in, TRUE);
	g_autofree gchar *patch = NULL;
	const gchar *status = NULL;

	sink->add_target(
		sink->sink, EXM_PLUGIN_KIND_NODE_SET, in->instance->uuid, node_set, NULL, "NEW");
	if (!builder_configs(in, seen, sink, out_error))
		return FALSE;
	patch = exm_plugin_builder_desired(in, seen, TRUE, NULL, &status);
	sink->set_instance(sink->sink, value, status);
	if (patch != NULL)
		sink->set_patch(sink->sink, patch);
	return TRUE;
}
