/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-host-private.h"

#include "exh-jwks.h"
#include "exh-log.h"
#include "exh-metrics-server.h"
#include "exh-migrate.h"
#include "exh-ua-store.h"
#include "exm-cleanup.h"
#include "exm-json.h"
#include "exm-secret.h"
#include "exm-time.h"
#include "exm-uuid.h"

#include <string.h>

/* Jobs allowed to wait for a worker, per worker, before requests get 503. */
#define QUEUE_PER_WORKER 64

static const gchar *const no_depends[] = { NULL };
static const gchar *const on_types[] = { "4d657461-0000-0000-0000-000000000010", NULL };

/*
 * The host's own schema: the registry of installed types, with the id and
 * shape of exordos_metapaas' `0000-init-plugins` (docs/plugin-abi.md §7).
 */
static const ExhMigration host_migrations[] = {
	{
		.uuid = "4d657461-0000-0000-0000-000000000010",
		.name = "0000-init-plugins",
		.owner = "host",
		.depends = no_depends,
		.up_sql = "CREATE TABLE metapaas_paas_types ("
			  " uuid UUID PRIMARY KEY,"
			  " name VARCHAR(255) NOT NULL DEFAULT '',"
			  " description VARCHAR(255) NOT NULL DEFAULT '',"
			  " project_id UUID NOT NULL,"
			  " element_name VARCHAR(128) NOT NULL,"
			  " package VARCHAR(512) NOT NULL,"
			  " version VARCHAR(128) NOT NULL DEFAULT '',"
			  " index_url VARCHAR(512) NOT NULL DEFAULT '',"
			  " status VARCHAR(32) NOT NULL DEFAULT 'NEW',"
			  " created_at TIMESTAMP NOT NULL,"
			  " updated_at TIMESTAMP NOT NULL);",
		.down_sql = "DROP TABLE IF EXISTS metapaas_paas_types;",
	},
	/* the host's own: why the reconciler refused a row (upstream has no column) */
	{
		.uuid = "65786800-0000-4000-8000-000000000010",
		.name = "0001-exh-paas-type-errors",
		.owner = "host",
		.depends = on_types,
		.up_sql = "CREATE TABLE exh_paas_type_errors ("
			  " uuid UUID PRIMARY KEY REFERENCES metapaas_paas_types (uuid)"
			  " ON DELETE CASCADE,"
			  " reason TEXT NOT NULL,"
			  " attempt TEXT NOT NULL);",
		.down_sql = "DROP TABLE IF EXISTS exh_paas_type_errors;",
	},
};

static gboolean
load_plugins(ExhHost *host, GError **error)
{
	for (guint i = 0; host->config->plugins != NULL && host->config->plugins[i] != NULL; i++) {
		ExhPlugin *plugin = exh_plugin_load(host->config->plugins[i], error);
		g_autoptr(ExhPlugin) same = NULL;

		if (plugin == NULL)
			return FALSE;
		same = exh_host_find_plugin(host, plugin->desc->slug);
		if (same != NULL) {
			g_set_error(error,
				    EXH_ERROR,
				    EXH_ERROR_PLUGIN,
				    "plugin %s: slug %s is already served by another plugin",
				    plugin->path,
				    plugin->desc->slug);
			exh_plugin_free(plugin);
			return FALSE;
		}
		g_ptr_array_add(host->plugins, plugin);
	}
	return TRUE;
}

static ExhHostConfig *
config_copy(const ExhHostConfig *config)
{
	ExhHostConfig *copy = g_new0(ExhHostConfig, 1);

	*copy = *config;
	/* every key of the config file, from its schema: none can be forgotten */
	exh_host_config_copy_fields(copy);
	copy->config_file = g_strdup(config->config_file);
	return copy;
}

/* `[iam] mode = core`: Core IAM checks and introspects bearer tokens. */
static gboolean
setup_core_iam(ExhHost *host, GError **error)
{
	const ExhHostConfig *c = host->config;
	g_autofree gchar *text = NULL;
	g_autoptr(GBytes) key = NULL;
	ExhIamCoreConfig core = { 0 };

	if (c->iam_mode == NULL || g_str_equal(c->iam_mode, "token_file"))
		return TRUE;
	text = exh_iam_read_secret_file(c->iam_jwks_key_file, error);
	if (text == NULL)
		return FALSE;
	key = exh_jwks_decryption_key(g_strstrip(text), error);
	exm_secret_wipe(text, strlen(text));
	if (key == NULL)
		return FALSE;
	core.endpoint = c->iam_endpoint;
	core.audience = c->iam_audience;
	core.decryption_key = key;
	core.timeout_s = c->iam_timeout;
	core.cache_ttl_s = c->iam_cache_ttl;
	core.cache_max = c->iam_cache_max;
	core.jwks_ttl_s = c->iam_jwks_ttl;
	core.jwks_refresh_s = c->iam_jwks_refresh;
	core.max_concurrent = c->iam_max_concurrent;
	core.skew_s = 30;
	exh_iam_use_core(host->iam, exh_iam_core_new(&core));
	return TRUE;
}

ExhHost *
exh_host_new(const ExhHostConfig *config, GError **error)
{
	g_autoptr(ExhHost) host = g_new0(ExhHost, 1);

	if (!exh_host_config_validate(config, error))
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
		return NULL;
	host->config = config_copy(config);
	g_mutex_init(&host->lock);
	g_cond_init(&host->cond);
	g_mutex_init(&host->plugins_lock);
	host->plugins = g_ptr_array_new_with_free_func((GDestroyNotify)exh_plugin_free);
	host->openapi = exh_openapi_new();
	host->iam = exh_iam_new();
	if (config->token_file != NULL && !exh_iam_load_file(host->iam, config->token_file, error))
		return NULL;
	if (!setup_core_iam(host, error))
		return NULL;
	if (!load_plugins(host, error))
		return NULL;
	return g_steal_pointer(&host);
}

ExhPlugin *
exh_host_find_plugin(ExhHost *host, const gchar *slug)
{
	ExhPlugin *found = NULL;

	g_mutex_lock(&host->plugins_lock);
	for (guint i = 0; found == NULL && i < host->plugins->len; i++) {
		ExhPlugin *plugin = host->plugins->pdata[i];

		if (g_strcmp0(plugin->desc->slug, slug) == 0)
			found = exh_plugin_ref(plugin);
	}
	g_mutex_unlock(&host->plugins_lock);
	return found;
}

/* (transfer full): the mounted plugins now, each with a reference */
GPtrArray *
exh_host_plugins(ExhHost *host)
{
	GPtrArray *copy = g_ptr_array_new_with_free_func((GDestroyNotify)exh_plugin_free);

	g_mutex_lock(&host->plugins_lock);
	for (guint i = 0; i < host->plugins->len; i++)
		g_ptr_array_add(copy, exh_plugin_ref(host->plugins->pdata[i]));
	g_mutex_unlock(&host->plugins_lock);
	return copy;
}

void
exh_host_mount_plugin(ExhHost *host, ExhPlugin *plugin)
{
	g_mutex_lock(&host->plugins_lock);
	g_ptr_array_add(host->plugins, exh_plugin_ref(plugin));
	g_mutex_unlock(&host->plugins_lock);
	/* the OpenAPI document gains the type's paths */
	exh_openapi_invalidate(host->openapi);
}

static void
add_plugin_migrations(GPtrArray *all, ExhPlugin *plugin)
{
	const ExordosPaasMigration *const *list = plugin->desc->migrations;

	for (guint i = 0; list != NULL && list[i] != NULL; i++) {
		ExhMigration *m = g_new0(ExhMigration, 1);

		m->uuid = list[i]->uuid;
		m->name = list[i]->name != NULL ? list[i]->name : list[i]->uuid;
		m->owner = plugin->desc->slug;
		m->depends = list[i]->depends;
		m->up_sql = list[i]->up_sql;
		m->down_sql = list[i]->down_sql;
		g_ptr_array_add(all, m);
	}
}

/* Every migration: the host's first, then each plugin's in its order, then
 * @extra's.  Called by the one thread that mounts (start-up, then the type
 * reconciler), so the list cannot change under it. */
static GPtrArray *
collect_migrations(ExhHost *host, ExhPlugin *extra)
{
	GPtrArray *all = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < G_N_ELEMENTS(host_migrations); i++)
		g_ptr_array_add(all, g_memdup2(&host_migrations[i], sizeof(ExhMigration)));
	for (guint p = 0; p < host->plugins->len; p++)
		add_plugin_migrations(all, host->plugins->pdata[p]);
	if (extra != NULL)
		add_plugin_migrations(all, extra);
	return all;
}

gboolean
exh_host_migrate_plugin(ExhHost *host, PGconn *conn, ExhPlugin *plugin, GError **error)
{
	g_autoptr(GPtrArray) migrations = collect_migrations(host, plugin);
	guint applied = 0;

	if (!exh_migrate_apply(conn, migrations, &applied, error))
		return FALSE;
	exh_log(G_LOG_LEVEL_INFO,
		NULL,
		"type %s: %u migrations applied",
		plugin->desc->slug,
		applied);
	return TRUE;
}

static PGconn *
connect_db(ExhHost *host, GError **error)
{
	PGconn *conn = exh_pool_connect(host->config->conninfo, error);

	if (conn != NULL)
		PQsetNoticeProcessor(conn, exh_log_pg_notice, NULL);
	return conn;
}

static gchar *
type_uuid(ExhHost *host, ExhPlugin *plugin)
{
	return exm_uuid_v5(host->config->project_id, plugin->desc->slug, NULL);
}

/* The installed types into the registry table; no write when nothing changed. */
static gboolean
register_types(ExhHost *host, PGconn *conn, GError **error)
{
	for (guint i = 0; i < host->plugins->len; i++) {
		ExhPlugin *plugin = host->plugins->pdata[i];
		g_autofree gchar *uuid = type_uuid(host, plugin);
		g_autofree gchar *package = g_path_get_basename(plugin->path);
		const gchar *values[] = { uuid,
					  plugin->desc->slug,
					  host->config->project_id,
					  plugin->desc->element,
					  package,
					  plugin->desc->version };
		g_autoptr(PGresult) res = PQexecParams(
			conn,
			"INSERT INTO metapaas_paas_types (uuid, name, project_id, element_name, "
			"package, version, status, created_at, updated_at) "
			"VALUES ($1, $2, $3, $4, $5, $6, 'ACTIVE', now() AT TIME ZONE 'utc', "
			"now() AT TIME ZONE 'utc') "
			"ON CONFLICT (uuid) DO UPDATE SET element_name = EXCLUDED.element_name, "
			"package = EXCLUDED.package, version = EXCLUDED.version, status = "
			"'ACTIVE', "
			"updated_at = EXCLUDED.updated_at "
			"WHERE (metapaas_paas_types.element_name, metapaas_paas_types.package, "
			"metapaas_paas_types.version, metapaas_paas_types.status) IS DISTINCT FROM "
			"(EXCLUDED.element_name, EXCLUDED.package, EXCLUDED.version, 'ACTIVE')",
			6,
			NULL,
			values,
			NULL,
			NULL,
			0);

		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			g_autofree gchar *why = g_strstrip(g_strdup(PQresultErrorMessage(res)));
			g_set_error(error,
				    EXH_ERROR,
				    EXH_ERROR_DB,
				    "registering type %s: %s",
				    plugin->desc->slug,
				    why);
			return FALSE;
		}
	}
	return TRUE;
}

gboolean
exh_host_migrate(ExhHost *host, GError **error)
{
	g_autoptr(PGconn) conn = connect_db(host, error);
	g_autoptr(GPtrArray) migrations = NULL;
	guint applied = 0;

	if (conn == NULL)
		return FALSE;
	migrations = collect_migrations(host, NULL);
	if (!exh_migrate_apply(conn, migrations, &applied, error))
		return FALSE;
	if (host->config->agent_api && !exh_ua_store_migrate(conn, error))
		return FALSE;
	exh_log(G_LOG_LEVEL_INFO,
		NULL,
		"migrations: %u applied, %u known",
		applied,
		migrations->len);
	return register_types(host, conn, error);
}

gboolean
exh_host_rollback_migration(ExhHost *host, const gchar *uuid, GError **error)
{
	g_autoptr(PGconn) conn = connect_db(host, error);
	g_autoptr(GPtrArray) migrations = NULL;

	if (conn == NULL)
		return FALSE;
	migrations = collect_migrations(host, NULL);
	return exh_migrate_rollback(conn, migrations, uuid, error);
}

static gboolean
init_plugins(ExhHost *host, GError **error)
{
	for (guint i = 0; i < host->plugins->len; i++) {
		if (!exh_plugin_init(host->plugins->pdata[i], host->config->project_id, error))
			return FALSE;
	}
	return TRUE;
}

/* The Orch/Status APIs and the builder engine over the plugins' builders. */
static gboolean
start_agent_api(ExhHost *host, GError **error)
{
	ExhUaOptions options = {
		.conninfo = host->config->conninfo,
		.listen_address = host->config->listen_address,
		.orch_port = host->config->orch_port,
		.status_port = host->config->status_port,
		.workers = host->config->workers,
		.max_queued = host->config->max_queued,
		.max_body = host->config->max_body,
		.connections = host->config->connections,
		.plain_agents = host->config->plain_agents,
		.backend = host->config->backend,
	};

	host->ua = exh_ua_new(&options, error);
	if (host->ua == NULL)
		return FALSE;
	for (guint i = 0; i < host->plugins->len; i++) {
		ExhPlugin *plugin = host->plugins->pdata[i];
		exh_ua_add_plugin(host->ua, plugin->desc, plugin->ctx);
	}
	return exh_ua_start(host->ua, error);
}

/* The EM path's core-agent (docs/em-path.md): one driver per plugin. */
static gboolean
start_core_agent(ExhHost *host, GError **error)
{
	const ExhHostConfig *c = host->config;

	host->core_agent = exh_core_agent_new(c->core_agent_config,
					      c->conninfo,
					      c->core_agent_filter,
					      c->core_agent_seal_key_file,
					      error);
	if (host->core_agent == NULL)
		return FALSE;
	for (guint i = 0; i < host->plugins->len; i++) {
		ExhPlugin *plugin = host->plugins->pdata[i];

		if (!exh_core_agent_add_plugin(host->core_agent, plugin->desc, plugin->ctx, error))
			return FALSE;
	}
	exh_core_agent_start(host->core_agent);
	return TRUE;
}

/* What runs before the user API: the agent API and its engine, the
 * core-agent, the types thread. */
static gboolean
start_background(ExhHost *host, GError **error)
{
	if ((host->config->agent_api && !start_agent_api(host, error)) ||
	    (host->config->core_agent && !start_core_agent(host, error)))
		return FALSE;
	exh_types_start(host->types);
	return TRUE;
}

gboolean
exh_host_start(ExhHost *host, GError **error)
{
	g_return_val_if_fail(!host->started, FALSE);
	if (!exh_listener_check_fd_limit(
		    host->config->agent_api ? 3 : 1, &host->config->connections, error) ||
	    !exh_host_migrate(host, error) || !init_plugins(host, error))
		return FALSE;
	/* the registered types are served from the first request on */
	if (host->types == NULL)
		host->types = exh_types_new(host);
	if (!exh_types_reconcile(host->types, error))
		return FALSE;
	host->pool = exh_pool_new(host->config->conninfo,
				  host->config->workers,
				  host->config->max_queued > 0
					  ? host->config->max_queued
					  : host->config->workers * QUEUE_PER_WORKER,
				  error);
	if (host->pool == NULL)
		return FALSE;
	/* The user API starts last: its first answer tells a supervisor (a
	 * load balancer, a test) that the host has started, so the agent API
	 * and the engine run by then.  The metrics read the user API's
	 * listener and come after it. */
	host->started = TRUE;
	if (!start_background(host, error) || !exh_server_start(host, error) ||
	    !exh_host_metrics_start(host, error)) {
		exh_host_stop(host);
		return FALSE;
	}
	return TRUE;
}

guint
exh_host_get_port(ExhHost *host)
{
	return host->port;
}

const gchar *
exh_host_get_base_url(ExhHost *host)
{
	return host->base_url;
}

const gchar *
exh_host_get_metrics_url(ExhHost *host)
{
	return host->metrics != NULL ? exh_metrics_server_get_url(host->metrics) : NULL;
}

void
exh_host_stop(ExhHost *host)
{
	if (!host->started)
		return;
	host->started = FALSE;
	/* a scrape reads the pools and the agent side: it goes first */
	exh_host_metrics_stop(host);
	/* nothing is mounted from here on */
	if (host->types != NULL)
		exh_types_stop(host->types);
	/* the engine and the core-agent call into the plugins: they stop before
	 * the plugins shut down */
	g_clear_pointer(&host->core_agent, exh_core_agent_free);
	g_clear_pointer(&host->ua, exh_ua_free);
	exh_server_stop(host);
	/* past the grace period nobody waits for the answers: stop the queries */
	if (host->grace_expired && host->pool != NULL)
		exh_pool_cancel(host->pool);
	g_clear_pointer(&host->pool, exh_pool_free);
	exh_server_drain(host);
	for (guint i = 0; i < host->plugins->len; i++)
		exh_plugin_shutdown(host->plugins->pdata[i]);
	exh_log(G_LOG_LEVEL_INFO,
		NULL,
		"stopped after %d requests",
		g_atomic_int_get(&host->served));
}

void
exh_host_free(ExhHost *host)
{
	if (host == NULL)
		return;
	exh_host_stop(host);
	exh_server_drain(host);
	g_clear_pointer(&host->types, exh_types_free);
	g_clear_pointer(&host->plugins, g_ptr_array_unref);
	g_clear_pointer(&host->openapi, exh_openapi_free);
	g_mutex_clear(&host->plugins_lock);
	g_clear_pointer(&host->iam, exh_iam_free);
	g_clear_pointer(&host->config, exh_host_config_free);
	g_clear_error(&host->start_error);
	g_mutex_clear(&host->lock);
	g_cond_clear(&host->cond);
	g_free(host->base_url);
	g_free(host);
}

void
exh_host_get_stats(ExhHost *host,
		   guint64 *out_served,
		   guint64 *out_dispatched,
		   guint64 *out_reconnects)
{
	if (out_served != NULL)
		*out_served = (guint64)g_atomic_int_get(&host->served);
	if (out_dispatched != NULL)
		*out_dispatched = (guint64)g_atomic_int_get(&host->dispatched);
	if (out_reconnects != NULL)
		*out_reconnects = host->pool != NULL ? exh_pool_get_reconnects(host->pool) : 0;
}

const gchar *
exh_host_get_orch_url(ExhHost *host)
{
	return host->ua != NULL ? exh_ua_server_get_orch_url(exh_ua_get_server(host->ua)) : NULL;
}

const gchar *
exh_host_get_status_url(ExhHost *host)
{
	return host->ua != NULL ? exh_ua_server_get_status_url(exh_ua_get_server(host->ua)) : NULL;
}

guint
exh_host_get_in_flight(ExhHost *host)
{
	return (guint)g_atomic_int_get(&host->in_flight);
}

void
exh_host_get_connections(ExhHost *host, guint *out_open, guint64 *out_refused)
{
	guint open = host->listener != NULL ? exh_listener_get_open(host->listener) : 0;
	guint64 refused = host->listener != NULL ? exh_listener_get_refused(host->listener) : 0;
	guint ua_open = 0;
	guint64 ua_refused = 0;

	if (host->ua != NULL)
		exh_ua_server_get_connections(exh_ua_get_server(host->ua), &ua_open, &ua_refused);
	if (out_open != NULL)
		*out_open = open + ua_open;
	if (out_refused != NULL)
		*out_refused = refused + ua_refused;
}

guint64
exh_host_get_light_polls(ExhHost *host)
{
	return host->ua != NULL ? exh_ua_server_get_light_served(exh_ua_get_server(host->ua)) : 0;
}

/*
 * The registered types as PaaSType resources, as the reconciler's last pass
 * read them.  A project-scoped caller sees only the types of its project.
 * With @uuid: that one type, or %NULL.
 */
JsonNode *
exh_host_types_json(ExhHost *host, const gchar *project, const gchar *uuid)
{
	if (host->types == NULL)
		return uuid != NULL ? NULL : json_node_init_array(json_node_alloc(), NULL);
	return exh_types_json(host->types, project, uuid);
}

void
exh_host_types_changed(ExhHost *host)
{
	/* host->types lives from exh_host_start() to exh_host_free() */
	if (host->types != NULL)
		exh_types_wake(host->types);
}
