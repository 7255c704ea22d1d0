/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The control-plane half of the universal agent protocol in one object: the
 * ua tables (host migrations), the Orch and Status API listeners
 * (exh-ua-server.h) and the builder engine (exh-builder.h) with its infra
 * backend.  The engine wakes the parked get_payload requests whenever it
 * wrote something.  exh_host_start() runs one when the config enables the
 * agent API; tests may run one on their own.
 */
#pragma once

#include "exh-backend.h"
#include "exh-builder.h"
#include "exh-ua-server.h"

G_BEGIN_DECLS

/**
 * ExhUaOptions:
 * @conninfo: libpq conninfo
 * @listen_address: address of both listeners
 * @orch_port: Orch API port (0 = any)
 * @status_port: Status API port (0 = any)
 * @workers: database connections of the listeners
 * @max_queued: requests waiting for a worker before new ones get 503 (0 = 64
 *   per worker), as the host's `max_queued`
 * @max_body: body limit of the Orch API (the Status API's is
 *   exh_ua_server_status_max_body())
 * @connections: timeouts and caps of both listeners
 * @plain_agents: node keys are written with encryption not required
 * @backend: (nullable) (transfer none): the infra backend
 */
typedef struct {
	const gchar *conninfo;
	const gchar *listen_address;
	guint orch_port;
	guint status_port;
	guint workers;
	guint max_queued;
	gsize max_body;
	ExhListenerLimits connections;
	gboolean plain_agents;
	ExhInfraBackend *backend;
} ExhUaOptions;

typedef struct _ExhUa ExhUa;

ExhUa *exh_ua_new(const ExhUaOptions *options, GError **error);

/* Registers a plugin's builders (plugins without builders are ignored). */
void exh_ua_add_plugin(ExhUa *ua, const ExordosPaasPluginDescriptor *desc, gpointer ctx);

/* The same for a plugin mounted while the engine runs (type registration):
 * exh_builder_add_plugin_live() on @conn.  %TRUE for a plugin without builders. */
gboolean exh_ua_add_plugin_live(ExhUa *ua,
				PGconn *conn,
				const ExordosPaasPluginDescriptor *desc,
				gpointer ctx,
				GError **error);

/**
 * exh_ua_start:
 * @ua: the object
 * @error: return location
 *
 * Applies the ua migrations, prepares the builders (notify triggers), starts
 * the listeners, tells a local backend their URLs, and starts the engine.
 *
 * Returns: %TRUE on success
 */
gboolean exh_ua_start(ExhUa *ua, GError **error);

/* (transfer none) */
ExhUaServer *exh_ua_get_server(ExhUa *ua);
ExhBuilder *exh_ua_get_builder(ExhUa *ua);

/* The plugins' background jobs (ABI minor 4). */
struct _ExhPeriodic *exh_ua_get_periodic(ExhUa *ua);

/* Stops the engine, then the listeners; the backend is left running. */
void exh_ua_stop(ExhUa *ua);

void exh_ua_free(ExhUa *ua);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhUa, exh_ua_free)

G_END_DECLS
