/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host's metrics (docs/metrics.md): one registry per process, fed by the
 * user API, the Orch and Status APIs, the builder engine, the Core backend and
 * Core IAM, and rendered in the Prometheus text exposition format (0.0.4) by
 * exh-metrics-server.h.  One registry per process because a deployed host is
 * one process: a test that runs two hosts in one process sees their sum.
 *
 * Every label set is bounded: request routes are templates (uuids folded to
 * `{uuid}`, paths no route answered folded to `unmatched`), never a request,
 * token or project; each family keeps at most %EXH_METRICS_MAX_SERIES series
 * and counts what it had to drop.  Thread-safe.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define EXH_METRICS_MAX_SERIES 2048
/* node label values of exordos_host_agent_last_poll_seconds kept at most */
#define EXH_METRICS_MAX_NODES 100000

typedef struct _ExhMetricsCollector ExhMetricsCollector;

/**
 * ExhMetricsSourceFunc:
 * @collector: takes the source's samples (exh_metrics_collect())
 * @user_data: as registered
 *
 * Adds gauges read at scrape time (pool use, connections), from the metrics
 * server's thread.  exh_metrics_remove_source() waits for a running call, so
 * @user_data may be freed once it returns; a source must not call back into
 * the registry.
 */
typedef void (*ExhMetricsSourceFunc)(ExhMetricsCollector *collector, gpointer user_data);

/**
 * exh_metrics_collect:
 * @collector: as passed to the source
 * @name: the family, e.g. `exordos_host_db_pool_busy`
 * @help: its help text (the first one given wins)
 * @type: `gauge` or `counter`
 * @label: (nullable): the name of the sample's one label
 * @value: (nullable): its value
 * @sample: the sample
 *
 * Several sources may add samples to one family; it is rendered once.
 */
void exh_metrics_collect(ExhMetricsCollector *collector,
			 const gchar *name,
			 const gchar *help,
			 const gchar *type,
			 const gchar *label,
			 const gchar *value,
			 gdouble sample);

void exh_metrics_observe_request(const gchar *api,
				 const gchar *method,
				 const gchar *path,
				 guint status,
				 gint64 usec);
void exh_metrics_observe_tick(const gchar *builder, gint64 usec, guint built, guint errors);
void exh_metrics_observe_call(const gchar *peer,
			      const gchar *call,
			      const gchar *outcome,
			      gint64 usec);
void exh_metrics_observe_http_call(const gchar *peer,
				   const gchar *call,
				   gboolean answered,
				   guint status,
				   gint64 usec);
void exh_metrics_agent_polled(const gchar *node);

guint exh_metrics_add_source(ExhMetricsSourceFunc func, gpointer user_data);
void exh_metrics_remove_source(guint id);

gchar *exh_metrics_render(void);
gchar *exh_metrics_route_template(const gchar *path);
void exh_metrics_reset(void);

G_END_DECLS
