/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The local backend's settings and their `[local]` group (exh-local-config.h).
 */
#include "exh-local-config.h"

#include "exh-host.h"
#include "exh-local-net.h"

ExhLocalConfig *
exh_local_config_new(void)
{
	ExhLocalConfig *c = g_new0(ExhLocalConfig, 1);

	c->settings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	c->envelope = TRUE;
	c->stop_timeout_ms = 5000;
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
load_str(GKeyFile *kf, const gchar *key, gchar **out, GError **error)
{
	g_autoptr(GError) local = NULL;
	gchar *value = g_key_file_get_string(kf, "local", key, &local);

	if (value == NULL) {
		if (g_error_matches(local, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND))
			return TRUE;
		g_set_error(
			error, EXH_ERROR, EXH_ERROR_CONFIG, "[local] %s: %s", key, local->message);
		return FALSE;
	}
	g_free(*out);
	*out = value;
	return TRUE;
}

static gboolean
load_uint(GKeyFile *kf, const gchar *key, guint max, guint *out, GError **error)
{
	g_autoptr(GError) local = NULL;
	gint value;

	if (!g_key_file_has_key(kf, "local", key, NULL))
		return TRUE;
	value = g_key_file_get_integer(kf, "local", key, &local);
	if (local != NULL || value < 0 || (guint)value > max) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "[local] %s: not an integer in 0..%u",
			    key,
			    max);
		return FALSE;
	}
	*out = (guint)value;
	return TRUE;
}

/* The [local] keys the backend itself reads; any other is a setting. */
static const gchar *const backend_keys[] = { "state_dir", "lock_dir",	     "subnet",
					     "port_base", "node_descriptor", "uuid5_name",
					     "envelope",  "stop_timeout_ms", NULL };

static gboolean
load_settings(ExhLocalConfig *c, GKeyFile *kf, GError **error)
{
	g_auto(GStrv) keys = g_key_file_get_keys(kf, "local", NULL, NULL);

	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		g_autofree gchar *value = NULL;

		if (g_strv_contains(backend_keys, keys[i]))
			continue;
		if (!load_str(kf, keys[i], &value, error))
			return FALSE;
		exh_local_config_set(c, keys[i], value);
	}
	return TRUE;
}

gboolean
exh_local_config_load_key_file(ExhLocalConfig *c, GKeyFile *kf, GError **error)
{
	g_autoptr(GError) local = NULL;

	if (!g_key_file_has_group(kf, "local"))
		return TRUE;
	if (!load_str(kf, "state_dir", &c->state_dir, error) ||
	    !load_str(kf, "lock_dir", &c->lock_dir, error) ||
	    !load_uint(kf, "subnet", EXH_LOCAL_SUBNET_MAX, &c->subnet, error) ||
	    !load_uint(kf, "port_base", 65533, &c->port_base, error) ||
	    !load_str(kf, "node_descriptor", &c->node_descriptor, error) ||
	    !load_str(kf, "uuid5_name", &c->uuid5_name, error) ||
	    !load_uint(kf, "stop_timeout_ms", 600000, &c->stop_timeout_ms, error) ||
	    !load_settings(c, kf, error))
		return FALSE;
	if (g_key_file_has_key(kf, "local", "envelope", NULL)) {
		c->envelope = g_key_file_get_boolean(kf, "local", "envelope", &local);
		if (local != NULL) {
			g_set_error(error,
				    EXH_ERROR,
				    EXH_ERROR_CONFIG,
				    "[local] envelope: %s",
				    local->message);
			return FALSE;
		}
	}
	return TRUE;
}
