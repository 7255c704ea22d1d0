/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ua-identity.h"

#include "exm-proto.h"
#include "exm-ua-error.h"
#include "exm-uuid.h"

#include <string.h>

/* Plenty for a uuid and whitespace; a bigger file is not a DMI uuid. */
#define EXM_UA_PRODUCT_UUID_MAX 128

/**
 * exm_ua_identity_read_system_uuid:
 * @root: directory holding `sys/class/dmi/id/product_uuid` (`/` on a real node)
 * @error: %EXM_UA_ERROR_CONFIG when the file is missing or holds no uuid
 *
 * Returns: (transfer full): the lower-case canonical system uuid
 */
gchar *
exm_ua_identity_read_system_uuid(const gchar *root, GError **error)
{
	g_autofree gchar *path = g_build_filename(root, "sys/class/dmi/id/product_uuid", NULL);
	g_autofree gchar *text = NULL;
	g_autoptr(GError) local = NULL;
	gsize len = 0;
	gchar *uuid;

	if (!g_file_get_contents(path, &text, &len, &local)) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_CONFIG,
			    "cannot read the system uuid: %s",
			    local->message);
		return NULL;
	}
	if (len > EXM_UA_PRODUCT_UUID_MAX || strlen(text) != len ||
	    (uuid = exm_uuid_parse(g_strstrip(text), NULL)) == NULL) {
		g_set_error(
			error, EXM_UA_ERROR, EXM_UA_ERROR_CONFIG, "%s does not hold a uuid", path);
		return NULL;
	}
	return uuid;
}

/**
 * exm_ua_identity_new:
 * @config: the agent configuration
 * @error: as exm_ua_identity_read_system_uuid()
 *
 * node = `node_uuid` or the system uuid; agent = `uuid`, else
 * uuid5(node, `uuid5_name`), else node.
 *
 * Returns: (transfer full): the identity
 */
ExmUaIdentity *
exm_ua_identity_new(const ExmUaConfig *config, GError **error)
{
	g_autoptr(ExmUaIdentity) id = g_new0(ExmUaIdentity, 1);

	if (config->node_uuid != NULL)
		id->node = g_strdup(config->node_uuid);
	else
		id->node = exm_ua_identity_read_system_uuid(config->system_root, error);
	if (id->node == NULL)
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
		return NULL;
	if (config->uuid != NULL)
		id->agent = g_strdup(config->uuid);
	else
		id->agent = exm_proto_uuid_agent(id->node, config->uuid5_name, error);
	if (id->agent == NULL)
		return NULL;
	id->name = g_strdup_printf("Universal Agent %.8s", id->agent);
	return g_steal_pointer(&id);
}

/**
 * exm_ua_identity_free:
 * @identity: (nullable): an identity
 */
void
exm_ua_identity_free(ExmUaIdentity *identity)
{
	if (identity == NULL)
		return;
	g_free(identity->node);
	g_free(identity->agent);
	g_free(identity->name);
	g_free(identity);
}

static JsonObject *
wrap_list(const gchar *name, GPtrArray *items)
{
	JsonObject *o = json_object_new();
	JsonArray *arr = json_array_new();

	for (guint i = 0; items != NULL && i < items->len; i++)
		json_array_add_string_element(arr, items->pdata[i]);
	json_object_set_array_member(o, name, arr);
	return o;
}

JsonNode *
exm_ua_identity_registration_body(const ExmUaIdentity *identity, GPtrArray *kinds, gboolean full)
{
	g_autoptr(JsonObject) o = json_object_new();

	if (full) {
		json_object_set_string_member(o, "uuid", identity->agent);
		json_object_set_string_member(o, "name", identity->name);
		json_object_set_string_member(o, "description", "");
	}
	json_object_set_object_member(o, "capabilities", wrap_list("capabilities", kinds));
	json_object_set_object_member(o, "facts", wrap_list("facts", NULL));
	if (full) {
		json_object_set_string_member(o, "node", identity->node);
		json_object_set_string_member(o, "status", "ACTIVE");
	} else {
		json_object_set_string_member(o, "name", identity->name);
	}
	return json_node_init_object(json_node_alloc(), o);
}
