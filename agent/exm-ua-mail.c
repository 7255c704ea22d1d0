/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ua-mail.h"

#include "exm-dp-config.h"
#include "exm-dp-error.h"
#include "exm-driver.h"
#include "exm-json.h"

typedef struct {
	ExmUaDriver base; /* first: the agent hands us &base */
	ExmDriver *driver;
} ExmUaMailDriver;

static ExmDriver *
exm_ua_mail_inner(ExmUaDriver *d)
{
	return ((ExmUaMailDriver *)d)->driver;
}

static const gchar *const *
exm_ua_mail_kinds(ExmUaDriver *d)
{
	return exm_driver_kinds();
}

/* The data-plane driver speaks JsonNode, the agent JsonObject. */
static JsonObject *
exm_ua_mail_take_object(JsonNode *node, GError **error)
{
	g_autoptr(JsonNode) owned = node;

	if (owned == NULL)
		return NULL;
	if (!JSON_NODE_HOLDS_OBJECT(owned)) {
		g_set_error(
			error, EXM_DP_ERROR, EXM_DP_ERROR_FAILED, "driver value is not an object");
		return NULL;
	}
	return json_node_dup_object(owned);
}

static GPtrArray *
exm_ua_mail_list(ExmUaDriver *d, const gchar *kind, GError **error)
{
	g_autoptr(GPtrArray) nodes = exm_driver_list(exm_ua_mail_inner(d), kind, error);
	g_autoptr(GPtrArray) out = NULL;

	if (nodes == NULL)
		return NULL;
	out = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
	for (guint i = 0; i < nodes->len; i++) {
		JsonObject *o = exm_ua_mail_take_object(json_node_ref(nodes->pdata[i]), error);
		if (o == NULL)
			return NULL;
		g_ptr_array_add(out, o);
	}
	return g_steal_pointer(&out);
}

static JsonObject *
exm_ua_mail_create(ExmUaDriver *d, const gchar *kind, JsonObject *value, GError **error)
{
	g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), value);

	return exm_ua_mail_take_object(exm_driver_create(exm_ua_mail_inner(d), kind, node, error),
				       error);
}

static JsonObject *
exm_ua_mail_update(ExmUaDriver *d, const gchar *kind, JsonObject *value, GError **error)
{
	g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), value);

	return exm_ua_mail_take_object(exm_driver_update(exm_ua_mail_inner(d), kind, node, error),
				       error);
}

/* An object that is already gone is what a delete wants (§7.4: NotFound ignored). */
static gboolean
exm_ua_mail_remove(ExmUaDriver *d, const gchar *kind, JsonObject *value, GError **error)
{
	g_autoptr(GError) local = NULL;
	const gchar *uuid = NULL;

	/* not json_object_get_string_member_with_default(): it g_criticals on an
	 * object or array member */
	if (!exm_json_get_string(value, "uuid", TRUE, &uuid, NULL, NULL) || uuid == NULL) {
		g_set_error(error, EXM_DP_ERROR, EXM_DP_ERROR_INVALID, "value without a uuid");
		return FALSE;
	}
	if (exm_driver_delete(exm_ua_mail_inner(d), kind, uuid, &local))
		return TRUE;
	if (g_error_matches(local, EXM_DP_ERROR, EXM_DP_ERROR_NOT_FOUND))
		return TRUE;
	g_propagate_error(error, g_steal_pointer(&local));
	return FALSE;
}

static void
exm_ua_mail_destroy(ExmUaDriver *d)
{
	ExmUaMailDriver *md = (ExmUaMailDriver *)d;

	exm_driver_free(md->driver);
	g_free(md);
}

/**
 * exm_ua_mail_driver_new:
 * @config_path: the agent's ini file; its `[dataplane]` group configures the node
 * @error: %EXM_DP_ERROR_CONFIG
 *
 * Returns: (transfer full): the driver
 */
ExmUaDriver *
exm_ua_mail_driver_new(const gchar *config_path, GError **error)
{
	g_autoptr(ExmDpConfig) dp = exm_dp_config_new();
	ExmUaMailDriver *md;
	ExmDriver *inner;

	if (!exm_dp_config_load_file(dp, config_path, error) || !exm_dp_config_validate(dp, error))
		return NULL;
	inner = exm_driver_new(dp, error);
	if (inner == NULL)
		return NULL;
	md = g_new0(ExmUaMailDriver, 1);
	md->driver = inner;
	md->base.name = EXM_UA_MAIL_DRIVER_NAME;
	md->base.kinds = exm_ua_mail_kinds;
	md->base.list = exm_ua_mail_list;
	md->base.create = exm_ua_mail_create;
	md->base.update = exm_ua_mail_update;
	md->base.remove = exm_ua_mail_remove;
	md->base.destroy = exm_ua_mail_destroy;
	return &md->base;
}
