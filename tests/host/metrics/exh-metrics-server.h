/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The metrics listener: `GET /metrics` (the registry of exh-metrics.h in the
 * Prometheus text format) on its own address and port, served by its own
 * thread so a slow scrape never waits for the user API and the other way
 * round.  Connection caps and timeouts as every listener (exh-listener.h).
 */
#pragma once

#include <glib.h>

#include "exh-listener.h"

G_BEGIN_DECLS

typedef struct _ExhMetricsServer ExhMetricsServer;

/**
 * exh_metrics_server_new:
 * @listen_address: IP address to bind (loopback by default in the config)
 * @port: TCP port; 0 picks a free one
 * @limits: (nullable): connection caps and timeouts
 * @error: return location
 *
 * Binds and starts serving.
 *
 * Returns: (transfer full) (nullable): the running server
 */
ExhMetricsServer *exh_metrics_server_new(const gchar *listen_address,
					 guint port,
					 const ExhListenerLimits *limits,
					 GError **error);
guint exh_metrics_server_get_port(ExhMetricsServer *server);
/* `http://<address>:<port>/metrics` */
const gchar *exh_metrics_server_get_url(ExhMetricsServer *server);
/* Stops serving, closes every connection and joins the thread. */
void exh_metrics_server_free(ExhMetricsServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhMetricsServer, exh_metrics_server_free)

G_END_DECLS
