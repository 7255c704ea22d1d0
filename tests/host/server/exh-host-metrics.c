/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host's metrics listener and what it reads at scrape time: database
 * pools, open connections and the agents known (docs/metrics.md).
 */
#include "exh-host-private.h"

#include "exh-log.h"
#include "exh-metrics-server.h"
#include "exh-metrics.h"
#include "exm-cleanup.h"

#include <string.h>

static void
collect_pool(ExhMetricsCollector *c, ExhPool *pool, const gchar *api)
{
	guint size = 0;
	guint busy = 0;
	guint queued = 0;

	if (pool == NULL)
		return;
	exh_pool_get_usage(pool, &size, &busy, &queued);
	exh_metrics_collect(c,
			    "exordos_host_db_pool_connections",
			    "Database connections of a pool (one per worker).",
			    "gauge",
			    "api",
			    api,
			    size);
	exh_metrics_collect(c,
			    "exordos_host_db_pool_busy",
			    "Pool connections running a request now.",
			    "gauge",
			    "api",
			    api,
			    busy);
	exh_metrics_collect(c,
			    "exordos_host_db_pool_queued",
			    "Requests waiting for a pool connection.",
			    "gauge",
			    "api",
			    api,
			    queued);
	exh_metrics_collect(c,
			    "exordos_host_db_reconnects_total",
			    "Pool connections re-established after a failure.",
			    "counter",
			    "api",
			    api,
			    (gdouble)exh_pool_get_reconnects(pool));
}

static void
collect_connections(ExhMetricsCollector *c, const gchar *api, guint open, guint64 refused)
{
	exh_metrics_collect(c,
			    "exordos_host_connections_open",
			    "Client connections open now.",
			    "gauge",
			    "api",
			    api,
			    open);
	exh_metrics_collect(c,
			    "exordos_host_connections_refused_total",
			    "Client connections refused by a connection cap.",
			    "counter",
			    "api",
			    api,
			    (gdouble)refused);
}

/* The scrape thread's connection: short timeouts, so a database that is down
 * delays a scrape by seconds, not minutes. */
static PGconn *
metrics_db(ExhHost *host)
{
	const gchar *const keys[] = { "dbname", "connect_timeout", "options", NULL };
	const gchar *const values[] = {
		host->config->conninfo, "2", "-c statement_timeout=2000", NULL
	};

	if (host->metrics_db != NULL && PQstatus(host->metrics_db) == CONNECTION_OK)
		return host->metrics_db;
	g_clear_pointer(&host->metrics_db, PQfinish);
	host->metrics_db = PQconnectdbParams(keys, values, 1);
	if (PQstatus(host->metrics_db) == CONNECTION_OK)
		return host->metrics_db;
	g_clear_pointer(&host->metrics_db, PQfinish);
	return NULL;
}

static void
collect_agents(ExhMetricsCollector *c, ExhHost *host)
{
	PGconn *db = metrics_db(host);
	g_autoptr(PGresult) res = NULL;
	gboolean up;

	if (db != NULL)
		res = PQexecParams(db,
				   "SELECT status::text, count(*) FROM ua_agents GROUP BY 1 "
				   "ORDER BY 1",
				   0,
				   NULL,
				   NULL,
				   NULL,
				   NULL,
				   0);
	up = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK;
	exh_metrics_collect(c,
			    "exordos_host_metrics_db_up",
			    "Whether the scrape could read the database (1) or not (0).",
			    "gauge",
			    NULL,
			    NULL,
			    up ? 1 : 0);
	for (gint i = 0; up && i < PQntuples(res); i++)
		exh_metrics_collect(c,
				    "exordos_host_agents",
				    "Universal agents registered, by status.",
				    "gauge",
				    "status",
				    PQgetvalue(res, i, 0),
				    g_ascii_strtod(PQgetvalue(res, i, 1), NULL));
}

/* A plugin's samples (ABI minor 4 `metrics`), checked before they reach the
 * registry: family `exordos_<slug>_…`, names in the exposition's safe subset,
 * a known type, and a bounded number of samples per scrape. */
typedef struct {
	ExhMetricsCollector *collector;
	const gchar *slug;
	guint samples;
	guint refused;
} PluginSink;

static gboolean
metric_name_ok(const gchar *name, const gchar *allowed_extra)
{
	if (name == NULL || name[0] == '\0')
		return FALSE;
	for (const gchar *p = name; *p != '\0'; p++)
		if (!g_ascii_islower(*p) && *p != '_' && strchr(allowed_extra, *p) == NULL)
			return FALSE;
	return TRUE;
}

static void
plugin_metric_add(gpointer data,
		  const gchar *name,
		  const gchar *help,
		  const gchar *type,
		  const gchar *label,
		  const gchar *value,
		  gdouble sample)
{
	PluginSink *s = data;
	g_autofree gchar *prefix = g_strdup_printf("exordos_%s_", s->slug);

	if (!g_str_has_prefix(name != NULL ? name : "", prefix) ||
	    !metric_name_ok(name, "0123456789") ||
	    (g_strcmp0(type, "gauge") != 0 && g_strcmp0(type, "counter") != 0) ||
	    (label != NULL && !metric_name_ok(label, "")) || (label == NULL) != (value == NULL) ||
	    s->samples >= EXH_METRICS_MAX_NODES) {
		s->refused++;
		return;
	}
	s->samples++;
	exh_metrics_collect(s->collector,
			    name,
			    help != NULL && strchr(help, '\n') == NULL ? help : "",
			    type,
			    label,
			    value,
			    sample);
}

static void
collect_plugin(ExhMetricsCollector *c, PGconn *db, const ExhPlugin *plugin)
{
	const ExordosPaasPluginDescriptor *d = plugin->desc;
	PluginSink s = { c, d->slug, 0, 0 };
	ExordosPaasMetricSink sink = {
		sizeof(ExordosPaasMetricSink), &s, plugin_metric_add, { 0 }
	};
	g_autofree gchar *message = NULL;

	if (!EXH_PLUGIN_HAS(d, 4, metrics) || d->metrics == NULL || !plugin->initialised)
		return;
	if (!d->metrics(plugin->ctx, db, &sink, &message))
		exh_log(G_LOG_LEVEL_MESSAGE,
			NULL,
			"plugin %s: metrics: %s",
			d->slug,
			message != NULL ? message : "failed");
	if (s.refused > 0)
		exh_log(G_LOG_LEVEL_MESSAGE,
			NULL,
			"plugin %s: %u metric samples refused (name, type or count)",
			d->slug,
			s.refused);
}

static void
collect_plugins(ExhMetricsCollector *c, ExhHost *host)
{
	g_autoptr(GPtrArray) plugins = exh_host_plugins(host);
	PGconn *db = metrics_db(host);

	for (guint i = 0; db != NULL && i < plugins->len; i++)
		collect_plugin(c, db, plugins->pdata[i]);
}

static void
collect(ExhMetricsCollector *c, gpointer data)
{
	ExhHost *host = data;
	guint open = 0;
	guint64 refused = 0;

	collect_pool(c, host->pool, "user");
	collect_plugins(c, host);
	if (host->listener != NULL)
		collect_connections(c,
				    "user",
				    exh_listener_get_open(host->listener),
				    exh_listener_get_refused(host->listener));
	if (host->ua == NULL)
		return;
	collect_pool(c, exh_ua_server_get_pool(exh_ua_get_server(host->ua)), "agent");
	exh_ua_server_get_connections(exh_ua_get_server(host->ua), &open, &refused);
	collect_connections(c, "agent", open, refused);
	collect_agents(c, host);
}

gboolean
exh_host_metrics_start(ExhHost *host, GError **error)
{
	if (!host->config->metrics)
		return TRUE;
	host->metrics = exh_metrics_server_new(host->config->metrics_listen,
					       host->config->metrics_port,
					       &host->config->connections,
					       error);
	if (host->metrics == NULL)
		return FALSE;
	host->metrics_source = exh_metrics_add_source(collect, host);
	return TRUE;
}

/* Before the pools and the agent side go: a scrape in progress finishes
 * first (exh_metrics_remove_source() waits for it). */
void
exh_host_metrics_stop(ExhHost *host)
{
	if (host->metrics_source != 0)
		exh_metrics_remove_source(host->metrics_source);
	host->metrics_source = 0;
	g_clear_pointer(&host->metrics, exh_metrics_server_free);
	g_clear_pointer(&host->metrics_db, PQfinish);
}
