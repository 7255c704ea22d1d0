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
#include "exh-plugin.h"
#include "exh-pool.h"
#include "exh-ua.h"

struct _ExhHost {
	ExhHostConfig *config;
	ExhIam *iam;
	GPtrArray *plugins; /* ExhPlugin* */
	ExhPool *pool;
	gchar *started_at;	  /* timestamp of the installed types */
	ExhUa *ua;		  /* the agent API and builder engine, when enabled */
	ExhCoreAgent *core_agent; /* the EM path's core-agent, when enabled */
	gboolean started;

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
	gint request_counter; /* atomic */
	gint served;	      /* atomic */
	gint dispatched;      /* atomic */
};

/* exh-server.c */
gboolean exh_server_start(ExhHost *host, GError **error);
void exh_server_stop(ExhHost *host);
void exh_server_drain(ExhHost *host);

/* exh-host.c: the installed types as the `/v1/types/` resources */
JsonNode *exh_host_types_json(ExhHost *host, const gchar *project, const gchar *uuid);
ExhPlugin *exh_host_find_plugin(ExhHost *host, const gchar *slug);
