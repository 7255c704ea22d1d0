/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-ua.h"

#include "exh-host.h"
#include "exh-local-backend.h"
#include "exh-log.h"
#include "exh-plugin.h"
#include "exh-periodic.h"
#include "exh-pool.h"
#include "exh-ua-store.h"
#include "exm-cleanup.h"
#include "exm-error.h"

struct _ExhUa {
	gchar *conninfo;
	ExhInfraBackend *backend;
	ExhUaServer *server;
	ExhBuilder *builder;
	ExhPeriodic *periodic; /* the plugins' background jobs (ABI minor 4) */
	gboolean started;
};

static void
wake_server(gpointer data)
{
	exh_ua_server_wake(data);
}

static void
listening(gboolean up, gpointer data)
{
	exh_ua_server_set_listening(data, up);
}

/* The Orch/Status APIs' own writes woke their parked polls already. */
static gboolean
own_pid(gint pid, gpointer data)
{
	ExhPool *pool = exh_ua_server_get_pool(data);

	return pool != NULL && exh_pool_has_backend(pool, pid);
}

ExhUa *
exh_ua_new(const ExhUaOptions *options, GError **error)
{
	ExhUaServerConfig config = {
		.listen_address =
			(gchar *)(options->listen_address != NULL ? options->listen_address
								  : "127.0.0.1"),
		.orch_port = options->orch_port,
		.status_port = options->status_port,
		.conninfo = (gchar *)options->conninfo,
		.workers = options->workers > 0 ? options->workers : 2,
		.max_queued = options->max_queued,
		.max_body = options->max_body,
		.connections = options->connections,
	};
	g_autoptr(ExhUaServer) server = exh_ua_server_new(&config, error);
	ExhUa *ua;

	if (server == NULL)
		return NULL;
	ua = g_new0(ExhUa, 1);
	ua->conninfo = g_strdup(options->conninfo);
	ua->backend = options->backend;
	ua->server = g_steal_pointer(&server);
	ua->builder = exh_builder_new(options->conninfo, options->backend);
	exh_builder_set_plain_agents(ua->builder, options->plain_agents);
	exh_builder_set_changed_func(ua->builder, wake_server, ua->server);
	exh_builder_set_own_pid_func(ua->builder, own_pid);
	exh_builder_set_listen_func(ua->builder, listening);
	ua->periodic = exh_periodic_new(options->conninfo);
	return ua;
}

/* The builders member exists from ABI minor 1 on, inside the plugin's struct. */
static gboolean
has_builders(const ExordosPaasPluginDescriptor *desc)
{
	const ExordosPaasBuilders *b;

	if (!EXH_PLUGIN_HAS(desc, 1, builders) || desc->builders == NULL)
		return FALSE;
	b = desc->builders;
	if (b->struct_size >= G_STRUCT_OFFSET(ExordosPaasBuilders, reserved) && b->builders != NULL)
		return TRUE;
	exh_log(G_LOG_LEVEL_MESSAGE, NULL, "plugin %s: malformed builders; ignored", desc->slug);
	return FALSE;
}

void
exh_ua_add_plugin(ExhUa *ua, const ExordosPaasPluginDescriptor *desc, gpointer ctx)
{
	if (has_builders(desc))
		exh_builder_add_plugin(ua->builder, desc, ctx);
	(void)exh_periodic_add_plugin(ua->periodic, desc, ctx);
}

gboolean
exh_ua_add_plugin_live(ExhUa *ua,
		       PGconn *conn,
		       const ExordosPaasPluginDescriptor *desc,
		       gpointer ctx,
		       GError **error)
{
	(void)exh_periodic_add_plugin(ua->periodic, desc, ctx);
	if (!has_builders(desc))
		return TRUE;
	return exh_builder_add_plugin_live(ua->builder, conn, desc, ctx, error);
}

static gboolean
prepare_db(ExhUa *ua, GError **error)
{
	g_autoptr(PGconn) conn = exh_pool_connect(ua->conninfo, error);

	return conn != NULL && exh_ua_store_migrate(conn, error) &&
	       exh_builder_prepare(ua->builder, conn, error);
}

gboolean
exh_ua_start(ExhUa *ua, GError **error)
{
	g_return_val_if_fail(!ua->started, FALSE);
	if (!prepare_db(ua, error) || !exh_ua_server_start(ua->server, error))
		return FALSE;
	if (ua->backend != NULL && exh_local_backend_is_local(ua->backend))
		exh_local_backend_set_endpoints(ua->backend,
						exh_ua_server_get_orch_url(ua->server),
						exh_ua_server_get_status_url(ua->server));
	if (!exh_builder_start(ua->builder, error)) {
		exh_ua_server_stop(ua->server);
		return FALSE;
	}
	exh_periodic_start(ua->periodic);
	ua->started = TRUE;
	return TRUE;
}

ExhUaServer *
exh_ua_get_server(ExhUa *ua)
{
	return ua->server;
}

ExhBuilder *
exh_ua_get_builder(ExhUa *ua)
{
	return ua->builder;
}

ExhPeriodic *
exh_ua_get_periodic(ExhUa *ua)
{
	return ua->periodic;
}

void
exh_ua_stop(ExhUa *ua)
{
	if (!ua->started)
		return;
	ua->started = FALSE;
	exh_periodic_stop(ua->periodic);
	exh_builder_stop(ua->builder);
	exh_ua_server_stop(ua->server);
}

void
exh_ua_free(ExhUa *ua)
{
	if (ua == NULL)
		return;
	exh_ua_stop(ua);
	exh_builder_free(ua->builder);
	exh_periodic_free(ua->periodic);
	exh_ua_server_free(ua->server);
	g_free(ua->conninfo);
	g_free(ua);
}
