/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The local backend's settings and their `[local]` group (exh-local-config.h).
 */
#include "exh-local-config.h"

#include "exh-host.h"
#include "exh-local-net.h"
#include "exm-ini.h"

/* The [local] keys the backend itself reads; any other key is a setting of
 * the node descriptor's argv templates. */
/* check-source: table */
#define LOCAL_KEY(name, t, field, ...)                                                             \
	{                                                                                          \
		.group = "local", .key = name, .type = t,                                          \
		.offset = G_STRUCT_OFFSET(ExhLocalConfig, field), __VA_ARGS__                      \
	}
static const ExmIniKey local_keys[] = {
	LOCAL_KEY("state_dir", EXM_INI_STRING, state_dir),
	LOCAL_KEY("lock_dir", EXM_INI_STRING, lock_dir),
	LOCAL_KEY("subnet", EXM_INI_UINT, subnet, .max = EXH_LOCAL_SUBNET_MAX),
	LOCAL_KEY("port_base", EXM_INI_UINT, port_base, .max = 65533),
	LOCAL_KEY("node_descriptor", EXM_INI_STRING, node_descriptor),
	LOCAL_KEY("uuid5_name", EXM_INI_STRING, uuid5_name),
	LOCAL_KEY("envelope", EXM_INI_BOOL, envelope, .def = "true"),
	LOCAL_KEY("stop_timeout_ms", EXM_INI_UINT, stop_timeout_ms, .def = "5000", .max = 600000),
};
/* check-source: end */
static const ExmIniSchema local_schema =
	EXM_INI_SCHEMA(local_keys, exh_error_quark, EXH_ERROR_CONFIG);

ExhLocalConfig *
exh_local_config_new(void)
{
	ExhLocalConfig *c = g_new0(ExhLocalConfig, 1);

	c->settings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	exm_ini_defaults(&local_schema, c);
	return c;
}

void
exh_local_config_free(ExhLocalConfig *c)
{
	if (c == NULL)
		return;
	g_free(c->state_dir);
	g_free(c->lock_dir);
	g_free(c->node_descriptor);
	g_clear_pointer(&c->settings, g_hash_table_unref);
	g_free(c->orch_endpoint);
	g_free(c->status_endpoint);
	g_free(c->uuid5_name);
	g_free(c->caps_drivers);
	g_free(c);
}

void
exh_local_config_set(ExhLocalConfig *c, const gchar *name, const gchar *value)
{
	if (value == NULL)
		g_hash_table_remove(c->settings, name);
	else
		g_hash_table_replace(c->settings, g_strdup(name), g_strdup(value));
}

const gchar *
exh_local_config_get(const ExhLocalConfig *c, const gchar *name)
{
	return g_hash_table_lookup(c->settings, name);
}

ExhLocalConfig *
exh_local_config_copy(const ExhLocalConfig *src)
{
	ExhLocalConfig *c = g_memdup2(src, sizeof(*src));
	GHashTableIter iter;
	gpointer key, value;

	c->state_dir = g_strdup(src->state_dir);
	c->lock_dir = g_strdup(src->lock_dir);
	c->node_descriptor = g_strdup(src->node_descriptor);
	c->settings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_hash_table_iter_init(&iter, src->settings);
	while (g_hash_table_iter_next(&iter, &key, &value))
		g_hash_table_insert(c->settings, g_strdup(key), g_strdup(value));
	c->orch_endpoint = g_strdup(src->orch_endpoint);
	c->status_endpoint = g_strdup(src->status_endpoint);
	c->uuid5_name = g_strdup(src->uuid5_name);
	c->caps_drivers = g_strdup(src->caps_drivers);
	return c;
}

static gboolean
is_backend_key(const gchar *key)
{
	for (gsize i = 0; i < G_N_ELEMENTS(local_keys); i++)
		if (g_strcmp0(local_keys[i].key, key) == 0)
			return TRUE;
	return FALSE;
}

static gboolean
load_settings(ExhLocalConfig *c, GKeyFile *kf, GError **error)
{
	g_auto(GStrv) keys = g_key_file_get_keys(kf, "local", NULL, NULL);

	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		g_autoptr(GError) local = NULL;
		g_autofree gchar *value = NULL;

		if (is_backend_key(keys[i]))
			continue;
		value = g_key_file_get_string(kf, "local", keys[i], &local);
		if (value == NULL) {
			g_set_error(error,
				    EXH_ERROR,
				    EXH_ERROR_CONFIG,
				    "[local] %s: %s",
				    keys[i],
				    local->message);
			return FALSE;
		}
		exh_local_config_set(c, keys[i], value);
	}
	return TRUE;
}

gboolean
exh_local_config_load_key_file(ExhLocalConfig *c, GKeyFile *kf, GError **error)
{
	if (!g_key_file_has_group(kf, "local"))
		return TRUE;
	return exm_ini_load_key_file(&local_schema, c, kf, "host config", error) &&
	       load_settings(c, kf, error);
}
