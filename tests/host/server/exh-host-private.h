/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host's internals, shared by exh-host.c and exh-server.c.
 */
#pragma once

#include <libsoup/soup.h>

#include "exh-core-agent.h"
#include "exh-host.h"
#include "exh-iam.h"
#include "exh-listener.h"
#include "exh-openapi.h"
#include "exh-plugin.h"
#include "exh-pool.h"
#include "exh-types.h"
#include "exh-ua.h"

struct _ExhHost {
	ExhHostConfig *config;
	ExhIam *iam;
	/* ExhPlugin* (a reference each): the mounted types; appended to by the
	 * type reconciler only, under plugins_lock, read under it by others */
	GPtrArray *plugins;
	GMutex plugins_lock;
	ExhTypes *types; /* the type reconciler, once started */
	ExhPool *pool;
	ExhUa *ua;		  /* the agent API and builder engine, when enabled */
	ExhCoreAgent *core_agent; /* the EM path's core-agent, when enabled */
	gboolean started;
	ExhOpenapi *openapi; /* `/specifications/<version>`, built on first use */

	/* the server thread and what only it touches */
	GThread *thread;
	GMainContext *context;
	GMainLoop *loop;
	SoupServer *server;
	ExhListener *listener;
	gboolean stopping;
	gboolean closed;	/* listener and clients closed, loop quitting */
	gboolean grace_expired; /* closed with requests still running */
	gint in_flight;		/* atomic; dispatched requests whose response is not written yet */
	GSource *shutdown_timer;

	/* start-up handshake with the server thread */
	GMutex lock;
	GCond cond;
	gboolean ready;
	GError *start_error;

	guint port;
	gchar *base_url;
	/* the metrics listener and its scrape-time gauges (exh-host-metrics.c) */
	struct _ExhMetricsServer *metrics;
	guint metrics_source;
	PGconn *metrics_db; /* the scrape thread's own, opened on first use */

	gint request_counter; /* atomic */
	gint served;	      /* atomic */
	gint dispatched;      /* atomic */
};

/* exh-host-metrics.c */
gboolean exh_host_metrics_start(ExhHost *host, GError **error);
void exh_host_metrics_stop(ExhHost *host);

/* exh-server.c */
gboolean exh_server_start(ExhHost *host, GError **error);
void exh_server_stop(ExhHost *host);
void exh_server_drain(ExhHost *host);

/* exh-host.c: the registered types as the `/v1/types/` resources */
JsonNode *exh_host_types_json(ExhHost *host, const gchar *project, const gchar *uuid);
/* (transfer full) (nullable): a reference to the mounted plugin of @slug */
ExhPlugin *exh_host_find_plugin(ExhHost *host, const gchar *slug);
/* Mounts @plugin (initialised) under its slug; thread-safe. */
void exh_host_mount_plugin(ExhHost *host, ExhPlugin *plugin);
GPtrArray *exh_host_plugins(ExhHost *host);
/* Applies the migrations of the host, the mounted plugins and @plugin. */
gboolean exh_host_migrate_plugin(ExhHost *host, PGconn *conn, ExhPlugin *plugin, GError **error);
