/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-host.h"

#include <gio/gio.h>

#include "exh-local-backend.h"

#include "exm-config.h"
#include "exordos-paas-plugin.h"
#include "exm-uuid.h"

#include <string.h>

ExhHostConfig *
exh_host_config_new(void)
{
	ExhHostConfig *config = g_new0(ExhHostConfig, 1);

	config->listen_address = g_strdup("127.0.0.1");
	config->port = 8080;
	config->workers = EXH_DEFAULT_WORKERS;
	config->max_body = EXH_DEFAULT_MAX_BODY;
	config->project_id = g_strdup(EXH_DEFAULT_PROJECT);
	config->plugins = g_new0(gchar *, 1);
	config->orch_port = 11011;
	config->status_port = 11012;
	return config;
}

void
exh_host_config_free(ExhHostConfig *config)
{
	if (config == NULL)
		return;
	g_free(config->listen_address);
	g_free(config->conninfo);
	g_strfreev(config->plugins);
	g_free(config->token_file);
	g_free(config->project_id);
	g_free(config->config_file);
	g_free(config);
}

static void
replace_str(gchar **slot, gchar *value)
{
	if (value == NULL)
		return;
	g_free(*slot);
	*slot = value;
}

/* An unsigned key in [min, max]; absent keys leave @out alone. */
static gboolean
get_uint(GKeyFile *kf,
	 const gchar *group,
	 const gchar *key,
	 guint64 min,
	 guint64 max,
	 guint64 *out,
	 GError **error)
{
	g_autofree gchar *text = g_key_file_get_value(kf, group, key, NULL);
	g_autoptr(GError) local = NULL;
	guint64 value;

	if (text == NULL)
		return TRUE;
	if (!g_ascii_string_to_unsigned(g_strstrip(text), 10, min, max, &value, &local)) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "[%s] %s: %s",
			    group,
			    key,
			    local->message);
		return FALSE;
	}
	*out = value;
	return TRUE;
}

static gboolean
load_numbers(ExhHostConfig *config, GKeyFile *kf, GError **error)
{
	guint64 port = config->port;
	guint64 workers = config->workers;
	guint64 max_body = config->max_body;
	guint64 max_queued = config->max_queued;
	guint64 grace = config->shutdown_grace_ms;

	if (!get_uint(kf, "host", "port", 0, 65535, &port, error) ||
	    !get_uint(kf, "host", "workers", 1, 256, &workers, error) ||
	    !get_uint(kf, "host", "max_body", 1, G_MAXUINT32, &max_body, error) ||
	    !get_uint(kf, "host", "max_queued", 0, 1000000, &max_queued, error) ||
	    !get_uint(kf, "host", "shutdown_grace_ms", 0, 3600000, &grace, error))
		return FALSE;
	config->port = (guint)port;
	config->workers = (guint)workers;
	config->max_body = (gsize)max_body;
	config->max_queued = (guint)max_queued;
	config->shutdown_grace_ms = (guint)grace;
	return TRUE;
}

/* `[agent_api] enabled, orch_port, status_port, plain_agents` (exh-ua.h). */
static gboolean
load_agent_api(ExhHostConfig *config, GKeyFile *kf, GError **error)
{
	guint64 orch = config->orch_port;
	guint64 status = config->status_port;

	if (!get_uint(kf, "agent_api", "orch_port", 0, 65535, &orch, error) ||
	    !get_uint(kf, "agent_api", "status_port", 0, 65535, &status, error))
		return FALSE;
	config->orch_port = (guint)orch;
	config->status_port = (guint)status;
	if (g_key_file_has_key(kf, "agent_api", "enabled", NULL))
		config->agent_api = g_key_file_get_boolean(kf, "agent_api", "enabled", NULL);
	if (g_key_file_has_key(kf, "agent_api", "plain_agents", NULL))
		config->plain_agents =
			g_key_file_get_boolean(kf, "agent_api", "plain_agents", NULL);
	return TRUE;
}

gboolean
exh_host_config_load_file(ExhHostConfig *config, const gchar *path, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) local = NULL;
	gchar **plugins;

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local)) {
		g_set_error(
			error, EXH_ERROR, EXH_ERROR_CONFIG, "config %s: %s", path, local->message);
		return FALSE;
	}
	replace_str(&config->listen_address, g_key_file_get_string(kf, "host", "listen", NULL));
	replace_str(&config->token_file, g_key_file_get_string(kf, "host", "token_file", NULL));
	replace_str(&config->project_id, g_key_file_get_string(kf, "host", "project_id", NULL));
	replace_str(&config->conninfo, g_key_file_get_string(kf, "db", "conninfo", NULL));
	plugins = g_key_file_get_string_list(kf, "host", "plugins", NULL, NULL);
	if (plugins != NULL) {
		g_strfreev(config->plugins);
		config->plugins = plugins;
	}
	if (!load_numbers(config, kf, error) || !load_agent_api(config, kf, error)) {
		g_prefix_error(error, "config %s: ", path);
		return FALSE;
	}
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
	if (!g_key_file_has_group(kf, "local"))
		return NULL;
	if (!config->agent_api) {
		/* without the builder engine nothing would ever ask it for a node */
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "config %s: [local] needs [agent_api] enabled = true",
			    config->config_file);
		return NULL;
	}
	backend = exh_local_backend_new_from_key_file(kf, &local);
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
	if (config->project_id == NULL || !exm_uuid_is_valid(config->project_id)) {
		g_set_error_literal(
			error, EXH_ERROR, EXH_ERROR_CONFIG, "project_id must be a UUID");
		return FALSE;
	}
	return TRUE;
}

typedef struct {
	gchar *config_file;
	gchar *listen;
	gint port;
	gchar *db;
	gchar **plugins;
	gchar *token_file;
	gint workers;
	gboolean migrate_only;
	gboolean verbose;
	gboolean version;
} Args;

static void
args_clear(Args *args)
{
	g_free(args->config_file);
	g_free(args->listen);
	g_free(args->db);
	g_strfreev(args->plugins);
	g_free(args->token_file);
}

static gboolean
apply_args(ExhHostConfig *config, Args *a, GError **error)
{
	if (a->config_file != NULL && !exh_host_config_load_file(config, a->config_file, error))
		return FALSE;
	replace_str(&config->listen_address, g_steal_pointer(&a->listen));
	replace_str(&config->conninfo, g_steal_pointer(&a->db));
	replace_str(&config->token_file, g_steal_pointer(&a->token_file));
	if (a->plugins != NULL) {
		g_strfreev(config->plugins);
		config->plugins = g_steal_pointer(&a->plugins);
	}
	if (a->port >= 0)
		config->port = (guint)a->port;
	if (a->workers > 0)
		config->workers = (guint)a->workers;
	config->migrate_only = a->migrate_only;
	config->verbose = a->verbose;
	return exh_host_config_validate(config, error);
}

gboolean
exh_host_config_parse_args(ExhHostConfig *config,
			   gint *argc,
			   gchar ***argv,
			   gboolean *out_exit,
			   GError **error)
{
	Args a = { .port = -1, .workers = 0 };
	/* clang-format off */
	const GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &a.config_file,
		  "Config file (GKeyFile), read before the other flags", "FILE" },
		{ "listen", 'l', 0, G_OPTION_ARG_STRING, &a.listen,
		  "IP address of the user API (default 127.0.0.1)", "ADDR" },
		{ "port", 'p', 0, G_OPTION_ARG_INT, &a.port, "TCP port (0 = any free port)", "PORT" },
		{ "db", 'd', 0, G_OPTION_ARG_STRING, &a.db, "libpq conninfo of the database",
		  "CONNINFO" },
		{ "plugin", 'P', 0, G_OPTION_ARG_FILENAME_ARRAY, &a.plugins,
		  "Plugin shared object (repeatable)", "SO" },
		{ "token-file", 't', 0, G_OPTION_ARG_FILENAME, &a.token_file,
		  "IAM token file (GKeyFile, one group per token)", "FILE" },
		{ "workers", 'w', 0, G_OPTION_ARG_INT, &a.workers,
		  "Worker threads = database connections", "N" },
		{ "migrate-only", 0, 0, G_OPTION_ARG_NONE, &a.migrate_only,
		  "Apply the migrations and exit", NULL },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &a.verbose,
		  "Log info and debug records (the access log among them)", NULL },
		{ "version", 'V', 0, G_OPTION_ARG_NONE, &a.version, "Print the version and exit",
		  NULL },
		{ NULL },
	};
	/* clang-format on */
	g_autoptr(GOptionContext) ctx = g_option_context_new("- reference Exordos MetaPaaS host");
	gboolean ok;

	*out_exit = FALSE;
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_summary(ctx,
				     "Loads PaaS type plugins and serves their REST API "
				     "under /v1/types/<slug>/ on PostgreSQL.");
	if (!g_option_context_parse(ctx, argc, argv, error)) {
		args_clear(&a);
		return FALSE;
	}
	if (a.version) {
		g_print("exordos-paas-host %s (plugin ABI %d.%d)\n",
			EXM_VERSION,
			EXORDOS_PAAS_PLUGIN_ABI_MAJOR,
			EXORDOS_PAAS_PLUGIN_ABI_MINOR);
		*out_exit = TRUE;
		args_clear(&a);
		return TRUE;
	}
	ok = apply_args(config, &a, error);
	args_clear(&a);
	return ok;
}
