/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ua-config.h"

#include "exm-ini.h"
#include "exm-ua-error.h"

#include <math.h>

static GQuark
config_error(void)
{
	return EXM_UA_ERROR;
}

static const gchar *
config_check_endpoint(gconstpointer field)
{
	g_autoptr(GUri) uri = g_uri_parse(*(gchar *const *)field, G_URI_FLAGS_NONE, NULL);
	const gchar *scheme = uri != NULL ? g_uri_get_scheme(uri) : NULL;

	if (uri == NULL || g_uri_get_host(uri) == NULL || g_uri_get_query(uri) != NULL ||
	    (g_strcmp0(scheme, "http") != 0 && g_strcmp0(scheme, "https") != 0))
		return "not an http(s) base url";
	return NULL;
}

static const gchar *
config_check_absolute(gconstpointer field)
{
	return g_path_is_absolute(*(gchar *const *)field) ? NULL : "not an absolute path";
}

/* `long_poll_wait`: seconds in (0, EXM_UA_MAX_LONG_POLL_WAIT], held as whole seconds ≥ 1. */
static const gchar *
config_set_wait(gpointer field, const gchar *text)
{
	gchar *end = NULL;
	gdouble wait = text != NULL ? g_ascii_strtod(text, &end) : EXM_UA_MAX_LONG_POLL_WAIT;

	if (text != NULL && (text[0] == '\0' || *end != '\0' || !isfinite(wait) || wait <= 0 ||
			     wait > EXM_UA_MAX_LONG_POLL_WAIT))
		return "expected seconds in (0, " G_STRINGIFY(EXM_UA_MAX_LONG_POLL_WAIT) "]";
	*(guint *)field = MAX(1, (guint)wait);
	return NULL;
}

#define UA_KEY(name, field, t)                                                                     \
	.group = EXM_UA_CONFIG_GROUP, .key = (name), .type = (t),                                  \
	.offset = G_STRUCT_OFFSET(ExmUaConfig, field)
#define UA_SECONDS(name, field, dflt, most)                                                        \
	UA_KEY(name, field, EXM_INI_DOUBLE), .def = (dflt), .min = 0, .max = (most)

/* clang-format off */
static const ExmIniKey exm_ua_config_keys[] = {
	{ UA_KEY("orch_endpoint", orch_endpoint, EXM_INI_STRING), .def = EXM_UA_DEFAULT_ENDPOINT,
	  .flags = EXM_INI_EMPTY_IS_DEFAULT, .check = config_check_endpoint },
	{ UA_KEY("status_endpoint", status_endpoint, EXM_INI_STRING),
	  .def = EXM_UA_DEFAULT_ENDPOINT, .flags = EXM_INI_EMPTY_IS_DEFAULT,
	  .check = config_check_endpoint },
	{ UA_KEY("uuid", uuid, EXM_INI_UUID), .flags = EXM_INI_EMPTY_IS_DEFAULT },
	{ UA_KEY("uuid5_name", uuid5_name, EXM_INI_STRING), .flags = EXM_INI_EMPTY_IS_DEFAULT },
	{ UA_KEY("node_uuid", node_uuid, EXM_INI_UUID), .flags = EXM_INI_EMPTY_IS_DEFAULT },
	{ UA_KEY("system_root", system_root, EXM_INI_STRING), .def = "/",
	  .flags = EXM_INI_EMPTY_IS_DEFAULT, .check = config_check_absolute },
	{ UA_KEY("payload_path", payload_path, EXM_INI_STRING),
	  .def = EXM_UA_DEFAULT_WORK_DIR "/payload.json", .flags = EXM_INI_EMPTY_IS_DEFAULT,
	  .check = config_check_absolute },
	{ UA_KEY("private_key_path", private_key_path, EXM_INI_STRING),
	  .flags = EXM_INI_EMPTY_IS_DEFAULT },
	{ UA_KEY("orch_secure_communication", secure, EXM_INI_BOOL), .def = "true" },
	{ UA_KEY("caps_drivers", caps_drivers, EXM_INI_STRV), .separator = ',' },
	{ UA_KEY("verify_node_on_register", verify_node, EXM_INI_BOOL), .def = "true" },
	{ UA_KEY("long_poll", long_poll, EXM_INI_BOOL), .def = "false" },
	{ UA_KEY("long_poll_wait", long_poll_wait, EXM_INI_CUSTOM), .def = G_STRINGIFY(EXM_UA_MAX_LONG_POLL_WAIT),
	  .set = config_set_wait },
	{ UA_SECONDS("poll_interval", poll_interval, G_STRINGIFY(EXM_UA_DEFAULT_POLL_INTERVAL), 3600) },
	{ UA_SECONDS("http_timeout", http_timeout, "20", 600) },
	{ UA_SECONDS("backoff_initial", backoff_initial, "1", 3600) },
	{ UA_SECONDS("backoff_max", backoff_max, G_STRINGIFY(EXM_UA_DEFAULT_BACKOFF_MAX), 3600) },
};
/* clang-format on */
static const ExmIniSchema exm_ua_config_schema =
	EXM_INI_SCHEMA(exm_ua_config_keys, config_error, EXM_UA_ERROR_CONFIG);

/* The rules between keys, after every key is read. */
static void
config_settle(ExmUaConfig *c)
{
	/* The cap bounds how late the agent sees a CP that came back: it wins. */
	if (c->backoff_initial > c->backoff_max)
		c->backoff_initial = c->backoff_max;
	/* The request must outlive the server's hold, or every long poll times out. */
	if (c->long_poll && c->http_timeout <= c->long_poll_wait)
		c->http_timeout = c->long_poll_wait + 5;
}

static ExmUaConfig *
config_from_key_file(GKeyFile *kf, const gchar *source, GError **error)
{
	g_autoptr(ExmUaConfig) c = g_new0(ExmUaConfig, 1);

	if (!g_key_file_has_group(kf, EXM_UA_CONFIG_GROUP)) {
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_CONFIG,
			    "%s: no [%s] section",
			    source,
			    EXM_UA_CONFIG_GROUP);
		return NULL;
	}
	exm_ini_defaults(&exm_ua_config_schema, c);
	if (!exm_ini_load_key_file(&exm_ua_config_schema, c, kf, source, error))
		return NULL;
	config_settle(c);
	return g_steal_pointer(&c);
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
	return config_from_key_file(kf, "config", error);
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
	g_autoptr(GKeyFile) kf = exm_ini_read_key_file(&exm_ua_config_schema, path, error);

	if (kf == NULL)
		return NULL;
	return config_from_key_file(kf, path, error);
}

/**
 * exm_ua_config_options_new:
 *
 * Returns: (transfer full): the command line of the agent daemon: `--config-file`
 * (-c) naming the ini file; the settings themselves come from the file only
 */
ExmIniOptions *
exm_ua_config_options_new(void)
{
	return exm_ini_options_new(&exm_ua_config_schema,
				   "config-file",
				   'c',
				   "agent configuration (ini, [universal_agent])");
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
	exm_ini_clear(&exm_ua_config_schema, config);
	g_free(config);
}
