/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ua-config.h"

#include "exm-ua-error.h"
#include "exm-uuid.h"

#include <math.h>

static gchar *
exm_ua_config_get_string(GKeyFile *kf, const gchar *key, const gchar *fallback)
{
	g_autofree gchar *value = g_key_file_get_string(kf, EXM_UA_CONFIG_GROUP, key, NULL);

	if (value != NULL)
		g_strstrip(value);
	if (value == NULL || value[0] == '\0')
		return g_strdup(fallback);
	return g_steal_pointer(&value);
}

static gboolean
exm_ua_config_get_bool(GKeyFile *kf,
		       const gchar *key,
		       gboolean fallback,
		       gboolean *out,
		       GError **error)
{
	g_autoptr(GError) local = NULL;

	*out = fallback;
	if (!g_key_file_has_key(kf, EXM_UA_CONFIG_GROUP, key, NULL))
		return TRUE;
	*out = g_key_file_get_boolean(kf, EXM_UA_CONFIG_GROUP, key, &local);
	if (local != NULL) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_CONFIG,
			    "%s: not a boolean (true/false)",
			    key);
		return FALSE;
	}
	return TRUE;
}

/* A positive number of seconds no larger than @max. */
static gboolean
exm_ua_config_get_seconds(GKeyFile *kf,
			  const gchar *key,
			  gdouble fallback,
			  gdouble max,
			  gdouble *out,
			  GError **error)
{
	g_autoptr(GError) local = NULL;

	*out = fallback;
	if (!g_key_file_has_key(kf, EXM_UA_CONFIG_GROUP, key, NULL))
		return TRUE;
	*out = g_key_file_get_double(kf, EXM_UA_CONFIG_GROUP, key, &local);
	if (local != NULL || !isfinite(*out) || *out <= 0 || *out > max) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_CONFIG,
			    "%s: expected seconds in (0, %g]",
			    key,
			    max);
		return FALSE;
	}
	return TRUE;
}

static gboolean
exm_ua_config_check_endpoint(const gchar *key, const gchar *url, GError **error)
{
	g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
	const gchar *scheme = uri != NULL ? g_uri_get_scheme(uri) : NULL;

	if (uri == NULL || g_uri_get_host(uri) == NULL || g_uri_get_query(uri) != NULL ||
	    (g_strcmp0(scheme, "http") != 0 && g_strcmp0(scheme, "https") != 0)) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_CONFIG,
			    "%s: not an http(s) base url",
			    key);
		return FALSE;
	}
	return TRUE;
}

/* Optional uuid keys are normalised to lower case; a bad one is an error, not ignored. */
static gboolean
exm_ua_config_normalise_uuid(const gchar *key, gchar **value, GError **error)
{
	gchar *parsed;

	if (*value == NULL)
		return TRUE;
	parsed = exm_uuid_parse(*value, NULL);
	if (parsed == NULL) {
		g_set_error(error, EXM_UA_ERROR, EXM_UA_ERROR_CONFIG, "%s: not a uuid", key);
		return FALSE;
	}
	g_free(*value);
	*value = parsed;
	return TRUE;
}

static gboolean
exm_ua_config_read_strings(ExmUaConfig *c, GKeyFile *kf, GError **error)
{
	g_autofree gchar *drivers = NULL;

	c->orch_endpoint = exm_ua_config_get_string(kf, "orch_endpoint", EXM_UA_DEFAULT_ENDPOINT);
	c->status_endpoint =
		exm_ua_config_get_string(kf, "status_endpoint", EXM_UA_DEFAULT_ENDPOINT);
	c->uuid = exm_ua_config_get_string(kf, "uuid", NULL);
	c->uuid5_name = exm_ua_config_get_string(kf, "uuid5_name", NULL);
	c->node_uuid = exm_ua_config_get_string(kf, "node_uuid", NULL);
	c->system_root = exm_ua_config_get_string(kf, "system_root", "/");
	c->payload_path = exm_ua_config_get_string(
		kf, "payload_path", EXM_UA_DEFAULT_WORK_DIR "/payload.json");
	c->private_key_path = exm_ua_config_get_string(kf, "private_key_path", NULL);
	drivers = exm_ua_config_get_string(kf, "caps_drivers", "");
	c->caps_drivers = g_strsplit(drivers, ",", -1);
	for (guint i = 0; c->caps_drivers[i] != NULL; i++)
		g_strstrip(c->caps_drivers[i]);

	if (!exm_ua_config_check_endpoint("orch_endpoint", c->orch_endpoint, error) ||
	    !exm_ua_config_check_endpoint("status_endpoint", c->status_endpoint, error) ||
	    !exm_ua_config_normalise_uuid("uuid", &c->uuid, error) ||
	    !exm_ua_config_normalise_uuid("node_uuid", &c->node_uuid, error))
		return FALSE;
	if (!g_path_is_absolute(c->payload_path) || !g_path_is_absolute(c->system_root)) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_CONFIG,
			    "payload_path and system_root must be absolute paths");
		return FALSE;
	}
	return TRUE;
}

static gboolean
exm_ua_config_read_numbers(ExmUaConfig *c, GKeyFile *kf, GError **error)
{
	gdouble wait = EXM_UA_MAX_LONG_POLL_WAIT;

	if (!exm_ua_config_get_bool(kf, "orch_secure_communication", TRUE, &c->secure, error) ||
	    !exm_ua_config_get_bool(kf, "long_poll", FALSE, &c->long_poll, error) ||
	    !exm_ua_config_get_seconds(kf,
				       "long_poll_wait",
				       EXM_UA_MAX_LONG_POLL_WAIT,
				       EXM_UA_MAX_LONG_POLL_WAIT,
				       &wait,
				       error) ||
	    !exm_ua_config_get_seconds(kf,
				       "poll_interval",
				       EXM_UA_DEFAULT_POLL_INTERVAL,
				       3600,
				       &c->poll_interval,
				       error) ||
	    !exm_ua_config_get_seconds(kf, "http_timeout", 20, 600, &c->http_timeout, error) ||
	    !exm_ua_config_get_seconds(
		    kf, "backoff_initial", 1, 3600, &c->backoff_initial, error) ||
	    !exm_ua_config_get_seconds(kf, "backoff_max", 60, 3600, &c->backoff_max, error))
		return FALSE;
	c->long_poll_wait = MAX(1, (guint)wait);
	if (c->backoff_max < c->backoff_initial)
		c->backoff_max = c->backoff_initial;
	/* The request must outlive the server's hold, or every long poll times out. */
	if (c->long_poll && c->http_timeout <= c->long_poll_wait)
		c->http_timeout = c->long_poll_wait + 5;
	return TRUE;
}

/**
 * exm_ua_config_load_keyfile:
 * @kf: a parsed key file
 * @error: %EXM_UA_ERROR_CONFIG naming the key on a bad value
 *
 * Returns: (transfer full): the configuration read from the `[universal_agent]` group
 */
ExmUaConfig *
exm_ua_config_load_keyfile(GKeyFile *kf, GError **error)
{
	g_autoptr(ExmUaConfig) c = g_new0(ExmUaConfig, 1);

	if (!g_key_file_has_group(kf, EXM_UA_CONFIG_GROUP)) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_CONFIG,
			    "no [%s] section",
			    EXM_UA_CONFIG_GROUP);
		return NULL;
	}
	if (!exm_ua_config_read_strings(c, kf, error) || !exm_ua_config_read_numbers(c, kf, error))
		return NULL;
	return g_steal_pointer(&c);
}

/**
 * exm_ua_config_load:
 * @path: ini file
 * @error: %EXM_UA_ERROR_CONFIG on a missing file or a bad value
 *
 * Returns: (transfer full): the configuration, defaults filled in
 */
ExmUaConfig *
exm_ua_config_load(const gchar *path, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) local = NULL;
	ExmUaConfig *c;

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local)) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_CONFIG,
			    "cannot read %s: %s",
			    path,
			    local->message);
		return NULL;
	}
	c = exm_ua_config_load_keyfile(kf, error);
	if (c == NULL)
		g_prefix_error(error, "%s: ", path);
	return c;
}

/**
 * exm_ua_config_use_envelope:
 * @config: a configuration
 *
 * Returns: %TRUE when requests are wrapped in the §6 envelope (a key file is
 * configured and `orch_secure_communication` is not switched off).
 */
gboolean
exm_ua_config_use_envelope(const ExmUaConfig *config)
{
	return config->secure && config->private_key_path != NULL;
}

/**
 * exm_ua_config_free:
 * @config: (nullable): a configuration
 */
void
exm_ua_config_free(ExmUaConfig *config)
{
	if (config == NULL)
		return;
	g_free(config->orch_endpoint);
	g_free(config->status_endpoint);
	g_free(config->uuid);
	g_free(config->uuid5_name);
	g_free(config->node_uuid);
	g_free(config->system_root);
	g_free(config->payload_path);
	g_free(config->private_key_path);
	g_strfreev(config->caps_drivers);
	g_free(config);
}
