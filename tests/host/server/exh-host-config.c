/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-host.h"

#include <gio/gio.h>

#include "exh-core-backend.h"
#include "exh-local-backend.h"

#include "exm-config.h"
#include "exm-ini.h"
#include "exordos-paas-plugin.h"
#include "exm-uuid.h"

#include <string.h>

static GQuark
host_error(void)
{
	return EXH_ERROR;
}

G_STATIC_ASSERT(EXH_DEFAULT_MAX_BODY == 1048576);

#define HOST_KEY(grp, name, field, t)                                                              \
	.group = (grp), .key = (name), .type = (t), .offset = G_STRUCT_OFFSET(ExhHostConfig, field)

/* Every setting of the config file once, with its default and its flag. */
/* clang-format off */
static const ExmIniKey host_keys[] = {
	{ HOST_KEY("host", "listen", listen_address, EXM_INI_STRING), .def = "127.0.0.1",
	  .option = "listen", .short_name = 'l', .arg = "ADDR",
	  .help = "IP address of the user API (default 127.0.0.1)" },
	{ HOST_KEY("host", "port", port, EXM_INI_UINT), .def = "8080", .max = 65535,
	  .option = "port", .short_name = 'p', .arg = "PORT", .help = "TCP port (0 = any free port)" },
	{ HOST_KEY("host", "external_base_url", external_base_url, EXM_INI_STRING) },
	{ HOST_KEY("db", "conninfo", conninfo, EXM_INI_STRING), .option = "db", .short_name = 'd',
	  .arg = "CONNINFO", .help = "libpq conninfo of the database" },
	{ HOST_KEY("host", "plugins", plugins, EXM_INI_STRV), .flags = EXM_INI_FILENAME,
	  .option = "plugin", .short_name = 'P', .arg = "SO",
	  .help = "Plugin shared object (repeatable)" },
	{ HOST_KEY("host", "plugin_dir", plugin_dir, EXM_INI_STRING), .flags = EXM_INI_FILENAME,
	  .option = "plugin-dir", .arg = "DIR",
	  .help = "Directory of the plugins type registration rows name (docs/type-registration.md)" },
	{ HOST_KEY("host", "token_file", token_file, EXM_INI_STRING), .flags = EXM_INI_FILENAME,
	  .option = "token-file", .short_name = 't', .arg = "FILE",
	  .help = "IAM token file (GKeyFile, one group per token)" },
	{ HOST_KEY("host", "workers", workers, EXM_INI_UINT),
	  .min = 1, .max = 256, .option = "workers", .short_name = 'w', .arg = "N",
	  .help = "Worker threads = database connections (default: the online CPUs, 2..16)" },
	{ HOST_KEY("host", "max_body", max_body, EXM_INI_SIZE), .def = "1048576", .min = 1,
	  .max = G_MAXUINT32 },
	{ HOST_KEY("host", "max_queued", max_queued, EXM_INI_UINT), .max = 1000000 },
	{ HOST_KEY("host", "shutdown_grace_ms", shutdown_grace_ms, EXM_INI_UINT), .max = 3600000 },
	{ HOST_KEY("host", "header_timeout_ms", connections.header_timeout_ms, EXM_INI_UINT),
	  .def = G_STRINGIFY(EXH_LISTENER_HEADER_TIMEOUT_MS), .min = 1, .max = 3600000 },
	{ HOST_KEY("host", "idle_timeout_ms", connections.idle_timeout_ms, EXM_INI_UINT),
	  .def = G_STRINGIFY(EXH_LISTENER_IDLE_TIMEOUT_MS), .min = 1, .max = 3600000 },
	{ HOST_KEY("host", "max_connections", connections.max_connections, EXM_INI_UINT),
	  .def = G_STRINGIFY(EXH_LISTENER_MAX_CONNECTIONS), .min = 1, .max = 1000000 },
	{ HOST_KEY("host", "max_connections_per_address", connections.max_per_address,
		   EXM_INI_UINT), .def = G_STRINGIFY(EXH_LISTENER_MAX_PER_ADDRESS), .min = 1,
	  .max = 1000000 },
	{ HOST_KEY("host", "project_id", project_id, EXM_INI_STRING), .def = EXH_DEFAULT_PROJECT },
	{ HOST_KEY("agent_api", "enabled", agent_api, EXM_INI_BOOL), .def = "false" },
	{ HOST_KEY("agent_api", "orch_port", orch_port, EXM_INI_UINT), .def = "11011",
	  .max = 65535 },
	{ HOST_KEY("agent_api", "status_port", status_port, EXM_INI_UINT), .def = "11012",
	  .max = 65535 },
	{ HOST_KEY("agent_api", "plain_agents", plain_agents, EXM_INI_BOOL), .def = "false" },
	{ HOST_KEY("core_agent", "enabled", core_agent, EXM_INI_BOOL), .def = "false" },
	{ HOST_KEY("core_agent", "agent_config", core_agent_config, EXM_INI_STRING),
	  .flags = EXM_INI_FILENAME },
	{ HOST_KEY("core_agent", "seal_key_file", core_agent_seal_key_file, EXM_INI_STRING),
	  .flags = EXM_INI_FILENAME },
	{ HOST_KEY("core_agent", "filter", core_agent_filter, EXM_INI_STRING),
	  .def = EXH_CORE_AGENT_FILTER },
	{ HOST_KEY("iam", "mode", iam_mode, EXM_INI_STRING), .def = "token_file",
	  .option = "iam", .arg = "MODE", .help = "Identities: token_file or core (Core IAM)" },
	{ HOST_KEY("iam", "endpoint", iam_endpoint, EXM_INI_STRING) },
	{ HOST_KEY("iam", "audience", iam_audience, EXM_INI_STRING), .def = "GenesisCoreClientId" },
	{ HOST_KEY("iam", "jwks_key_file", iam_jwks_key_file, EXM_INI_STRING),
	  .flags = EXM_INI_FILENAME },
	{ HOST_KEY("iam", "timeout", iam_timeout, EXM_INI_UINT), .def = "5", .min = 1, .max = 300 },
	{ HOST_KEY("iam", "cache_ttl", iam_cache_ttl, EXM_INI_UINT), .def = "15", .max = 3600 },
	{ HOST_KEY("iam", "cache_max", iam_cache_max, EXM_INI_UINT), .def = "10000",
	  .max = 10000000 },
	{ HOST_KEY("iam", "jwks_ttl", iam_jwks_ttl, EXM_INI_UINT), .def = "60", .min = 1,
	  .max = 3600 },
	{ HOST_KEY("iam", "jwks_refresh", iam_jwks_refresh, EXM_INI_UINT), .def = "5", .max = 3600 },
	{ HOST_KEY("iam", "max_concurrent", iam_max_concurrent, EXM_INI_UINT), .def = "16",
	  .min = 1, .max = 1024 },
	{ HOST_KEY("metrics", "enabled", metrics, EXM_INI_BOOL), .def = "false" },
	{ HOST_KEY("metrics", "listen", metrics_listen, EXM_INI_STRING), .def = "127.0.0.1" },
	{ HOST_KEY("metrics", "port", metrics_port, EXM_INI_UINT), .def = "9464", .max = 65535 },
};
/* clang-format on */
static const ExmIniSchema host_schema = EXM_INI_SCHEMA(host_keys, host_error, EXH_ERROR_CONFIG);

ExhHostConfig *
exh_host_config_new(void)
{
	ExhHostConfig *config = g_new0(ExhHostConfig, 1);

	exm_ini_defaults(&host_schema, config);
	config->workers = exh_host_config_default_workers();
	return config;
}

/*
 * One worker per online CPU: a request's work is CPU (JSON, the plugin) and
 * round trips to a PostgreSQL that usually shares the machine, and on 2 cores
 * 2 workers served more than 4 (docs/scale.md §8).  At least 2, so one slow
 * statement does not stall every request; at most 16 connections.
 */
guint
exh_host_config_default_workers(void)
{
	return CLAMP(g_get_num_processors(), EXH_DEFAULT_WORKERS_MIN, EXH_DEFAULT_WORKERS_MAX);
}

void
exh_host_config_free(ExhHostConfig *config)
{
	if (config == NULL)
		return;
	exm_ini_clear(&host_schema, config);
	g_free(config->config_file);
	g_free(config);
}

void
exh_host_config_copy_fields(ExhHostConfig *config)
{
	exm_ini_copy_fields(&host_schema, config);
}

gboolean
exh_host_config_load_file(ExhHostConfig *config, const gchar *path, GError **error)
{
	if (!exm_ini_load_file(&host_schema, config, path, error))
		return FALSE;
	g_free(config->config_file);
	config->config_file = g_strdup(path);
	return TRUE;
}

ExhInfraBackend *
exh_host_config_new_backend(const ExhHostConfig *config, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) local = NULL;
	ExhInfraBackend *backend;
	const gchar *group;

	if (config->config_file == NULL)
		return NULL;
	if (!g_key_file_load_from_file(kf, config->config_file, G_KEY_FILE_NONE, &local)) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "config %s: %s",
			    config->config_file,
			    local->message);
		return NULL;
	}
	group = g_key_file_has_group(kf, "core") ? "core" : "local";
	if (!g_key_file_has_group(kf, group))
		return NULL;
	if (!config->agent_api ||
	    (g_str_equal(group, "core") && g_key_file_has_group(kf, "local"))) {
		/* without the builder engine nothing would ever ask it for a node */
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "config %s: [%s] needs [agent_api] enabled = true and no other backend",
			    config->config_file,
			    group);
		return NULL;
	}
	backend = g_str_equal(group, "core") ? exh_core_backend_new_from_key_file(kf, &local)
					     : exh_local_backend_new_from_key_file(kf, &local);
	if (backend == NULL) {
		g_propagate_prefixed_error(
			error, g_steal_pointer(&local), "config %s: ", config->config_file);
		return NULL;
	}
	return backend;
}

GInetAddress *
exh_host_config_parse_listen(const gchar *listen_address, GError **error)
{
	GInetAddress *address =
		g_inet_address_new_from_string(listen_address != NULL ? listen_address : "");

	if (address == NULL)
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "listen address %s is not an IP",
			    listen_address);
	return address;
}

/* `[iam] mode = core` needs Core IAM's URL and the JWKS key file. */
static gboolean
validate_iam(const ExhHostConfig *config, GError **error)
{
	const gchar *mode = config->iam_mode != NULL ? config->iam_mode : "token_file";
	g_autoptr(GUri) uri = NULL;

	if (g_str_equal(mode, "token_file"))
		return TRUE;
	if (!g_str_equal(mode, "core")) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "[iam] mode must be token_file or core, not %s",
			    mode);
		return FALSE;
	}
	if (config->iam_endpoint != NULL)
		uri = g_uri_parse(config->iam_endpoint, G_URI_FLAGS_NONE, NULL);
	if (uri == NULL || (g_strcmp0(g_uri_get_scheme(uri), "http") != 0 &&
			    g_strcmp0(g_uri_get_scheme(uri), "https") != 0)) {
		g_set_error_literal(
			error,
			EXH_ERROR,
			EXH_ERROR_CONFIG,
			"[iam] mode = core needs endpoint = an http(s) URL of Core IAM");
		return FALSE;
	}
	if (config->iam_jwks_key_file == NULL) {
		g_set_error_literal(error,
				    EXH_ERROR,
				    EXH_ERROR_CONFIG,
				    "[iam] mode = core needs jwks_key_file");
		return FALSE;
	}
	return TRUE;
}

/* An http(s) URL with a host, no query, fragment or trailing '/'. */
static gboolean
validate_external_base(const gchar *base, GError **error)
{
	g_autoptr(GUri) uri = NULL;

	if (base == NULL)
		return TRUE;
	uri = g_uri_parse(base, G_URI_FLAGS_NONE, NULL);
	if (uri == NULL || g_uri_get_host(uri) == NULL || *g_uri_get_host(uri) == '\0' ||
	    (g_strcmp0(g_uri_get_scheme(uri), "http") != 0 &&
	     g_strcmp0(g_uri_get_scheme(uri), "https") != 0) ||
	    g_uri_get_query(uri) != NULL || g_uri_get_fragment(uri) != NULL ||
	    g_uri_get_userinfo(uri) != NULL || g_str_has_suffix(base, "/")) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "[host] external_base_url %s is not an http(s) URL without a "
			    "query, a fragment or a trailing '/'",
			    base);
		return FALSE;
	}
	return TRUE;
}

gboolean
exh_host_config_validate(const ExhHostConfig *config, GError **error)
{
	g_autoptr(GInetAddress) address = NULL;

	if (config->conninfo == NULL || *config->conninfo == '\0') {
		g_set_error_literal(error,
				    EXH_ERROR,
				    EXH_ERROR_CONFIG,
				    "no database: set [db] conninfo or --db");
		return FALSE;
	}
	address = exh_host_config_parse_listen(config->listen_address, error);
	if (address == NULL)
		return FALSE;
	if (config->workers < 1 || config->workers > 256 || config->max_body < 1 ||
	    config->port > 65535) {
		g_set_error_literal(error,
				    EXH_ERROR,
				    EXH_ERROR_CONFIG,
				    "workers must be 1..256, max_body ≥ 1, port ≤ 65535");
		return FALSE;
	}
	if (!validate_external_base(config->external_base_url, error))
		return FALSE;
	if (config->project_id == NULL || !exm_uuid_is_valid(config->project_id)) {
		g_set_error_literal(
			error, EXH_ERROR, EXH_ERROR_CONFIG, "project_id must be a UUID");
		return FALSE;
	}
	return validate_iam(config, error);
}

/* --config, then the flags over the file, then the combination is checked. */
static gboolean
apply_args(ExhHostConfig *config, ExmIniOptions *options, GError **error)
{
	const gchar *file = exm_ini_options_config_file(options);

	if (file != NULL && !exh_host_config_load_file(config, file, error))
		return FALSE;
	return exm_ini_options_apply(options, config, error) &&
	       exh_host_config_validate(config, error);
}

gboolean
exh_host_config_parse_args(ExhHostConfig *config,
			   gint *argc,
			   gchar ***argv,
			   gboolean *out_exit,
			   GError **error)
{
	g_autoptr(ExmIniOptions) options = exm_ini_options_new(
		&host_schema, "config", 'c', "Config file (GKeyFile), read before the other flags");
	gboolean migrate_only = FALSE;
	gboolean verbose = FALSE;
	gboolean version = FALSE;
	/* clang-format off */
	const GOptionEntry own[] = {
		{ "migrate-only", 0, 0, G_OPTION_ARG_NONE, &migrate_only,
		  "Apply the migrations and exit", NULL },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
		  "Log info and debug records (the access log among them)", NULL },
		{ "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit",
		  NULL },
		{ NULL },
	};
	/* clang-format on */
	g_autoptr(GOptionContext) ctx = g_option_context_new("- reference Exordos MetaPaaS host");

	*out_exit = FALSE;
	g_option_context_add_main_entries(ctx, exm_ini_options_entries(options), NULL);
	g_option_context_add_main_entries(ctx, own, NULL);
	g_option_context_set_summary(ctx,
				     "Loads PaaS type plugins and serves their REST API "
				     "under /v1/types/<slug>/ on PostgreSQL.");
	if (!g_option_context_parse(ctx, argc, argv, error))
		return FALSE;
	if (version) {
		g_print("exordos-paas-host %s (plugin ABI %d.%d)\n",
			EXM_VERSION,
			EXORDOS_PAAS_PLUGIN_ABI_MAJOR,
			EXORDOS_PAAS_PLUGIN_ABI_MINOR);
		*out_exit = TRUE;
		return TRUE;
	}
	config->migrate_only = migrate_only;
	config->verbose = verbose;
	return apply_args(config, options, error);
}
