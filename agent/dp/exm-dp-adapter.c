/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-adapter.h"

#include "exm-dp-acme.h"
#include "exm-dp-breaker.h"
#include "exm-dp-config.h"
#include "exm-dp-error.h"
#include "exm-dp-driver.h"
#include "exm-dp-metrics.h"
#include "exm-dp-usage-store.h"
#include "exm-dp-usage.h"
#include "exm-json.h"

/* how often the breaker reads the log: a trip is enforced within about this */
#define EXM_DP_ADAPTER_BREAKER_TICK_MS 1000

typedef struct {
	ExmUaDriver base; /* first: the agent hands us &base */
	ExmDpDriver *driver;
	ExmDpMetrics *metrics;	  /* the node's /metrics, when configured */
	ExmDpLogStats *usage_log; /* the main log read for usage (issue 16) */
	ExmDpUsage *usage;
	ExmDpUsageStore *usage_store;
	ExmDpBreaker *breaker; /* the circuit breaker (docs/abuse-controls.md §7) */
	guint breaker_source;
	ExmDpAcme *acme; /* ACME on the node (docs/tls.md §5); ticked with the breaker */
} Adapter;

static ExmDpDriver *
adapter_inner(ExmUaDriver *d)
{
	return ((Adapter *)d)->driver;
}

static const gchar *const *
adapter_kinds(ExmUaDriver *d)
{
	return exm_dp_driver_kinds();
}

/* The data-plane driver speaks JsonNode, the agent JsonObject. */
static JsonObject *
adapter_take_object(JsonNode *node, GError **error)
{
	g_autoptr(JsonNode) owned = node;

	if (owned == NULL)
		return NULL;
	if (!JSON_NODE_HOLDS_OBJECT(owned)) {
		g_set_error(
			error, EXM_DP_ERROR, EXM_DP_ERROR_FAILED, "driver value is not an object");
		return NULL;
	}
	return json_node_dup_object(owned);
}

static GPtrArray *
adapter_list(ExmUaDriver *d, const gchar *kind, GError **error)
{
	g_autoptr(GPtrArray) nodes = exm_dp_driver_list(adapter_inner(d), kind, error);
	g_autoptr(GPtrArray) out = NULL;

	if (nodes == NULL)
		return NULL;
	out = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
	for (guint i = 0; i < nodes->len; i++) {
		JsonObject *o = adapter_take_object(json_node_ref(nodes->pdata[i]), error);
		if (o == NULL)
			return NULL;
		g_ptr_array_add(out, o);
	}
	return g_steal_pointer(&out);
}

static gboolean
adapter_unchanged(ExmUaDriver *d, const gchar *kind)
{
	return exm_dp_driver_unchanged(adapter_inner(d), kind);
}

static gboolean
adapter_keys_unchanged(ExmUaDriver *d, const gchar *kind)
{
	return exm_dp_driver_keys_unchanged(adapter_inner(d), kind);
}

static JsonObject *
adapter_create(ExmUaDriver *d, const gchar *kind, JsonObject *value, GError **error)
{
	g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), value);

	return adapter_take_object(exm_dp_driver_create(adapter_inner(d), kind, node, error),
				   error);
}

static JsonObject *
adapter_update(ExmUaDriver *d, const gchar *kind, JsonObject *value, GError **error)
{
	g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), value);

	return adapter_take_object(exm_dp_driver_update(adapter_inner(d), kind, node, error),
				   error);
}

/* An object that is already gone is what a delete wants (§7.4: NotFound ignored). */
static gboolean
adapter_remove(ExmUaDriver *d, const gchar *kind, JsonObject *value, GError **error)
{
	g_autoptr(GError) local = NULL;
	const gchar *uuid = NULL;

	/* not json_object_get_string_member_with_default(): it g_criticals on an
	 * object or array member */
	if (!exm_json_get_string(value, "uuid", TRUE, &uuid, NULL, NULL) || uuid == NULL) {
		g_set_error(error, EXM_DP_ERROR, EXM_DP_ERROR_INVALID, "value without a uuid");
		return FALSE;
	}
	if (exm_dp_driver_delete(adapter_inner(d), kind, uuid, &local))
		return TRUE;
	if (g_error_matches(local, EXM_DP_ERROR, EXM_DP_ERROR_NOT_FOUND))
		return TRUE;
	g_propagate_error(error, g_steal_pointer(&local));
	return FALSE;
}

static void
adapter_destroy(ExmUaDriver *d)
{
	Adapter *md = (Adapter *)d;

	g_clear_handle_id(&md->breaker_source, g_source_remove);
	exm_dp_driver_set_breaker(md->driver, NULL, NULL); /* saves what it counted */
	exm_dp_driver_set_acme(md->driver, NULL);
	exm_dp_acme_free(md->acme); /* kills a uacme in flight */
	exm_dp_driver_free(md->driver);
	exm_dp_metrics_free(md->metrics);
	exm_dp_logstats_free(md->usage_log);
	exm_dp_usage_free(md->usage);
	exm_dp_usage_store_free(md->usage_store);
	exm_dp_breaker_free(md->breaker);
	g_free(md);
}

/* Usage in the actual state: a reader of its own (the metrics one exists only
 * when /metrics is served).  It resumes where the saved state left off; on a
 * first start (or a state ignored) from the log's end like /metrics. */
static void
adapter_usage(Adapter *md, const ExmDpConfig *dp)
{
	g_autofree gchar *log = g_build_filename(dp->root, EXM_DP_PATH_LOG_DIR, "mainlog", NULL);
	g_autofree gchar *state = g_build_filename(dp->root, EXM_DP_PATH_USAGE_STATE, NULL);

	md->usage_store = exm_dp_usage_store_new(state);
	md->usage_log = exm_dp_logstats_new(log, FALSE);
	md->usage = exm_dp_usage_store_load(
		md->usage_store, md->usage_log, g_get_real_time() / G_USEC_PER_SEC);
	if (md->usage == NULL)
		md->usage = exm_dp_usage_new();
	/* the message observer is the breaker's, which hands each line on to
	 * the usage (adapter_breaker()); logins go to the usage directly */
	exm_dp_logstats_set_login_observer(md->usage_log, exm_dp_usage_observe_login, md->usage);
	exm_dp_driver_set_usage(md->driver, md->usage_log, md->usage);
	exm_dp_driver_set_usage_store(md->driver, md->usage_store);
}

static gboolean
breaker_tick(gpointer data)
{
	Adapter *md = data;

	exm_dp_driver_breaker_tick(md->driver);
	if (md->acme != NULL)
		exm_dp_acme_tick(md->acme);
	return G_SOURCE_CONTINUE;
}

/* The breaker counts the lines before the usage does (one reader, one
 * observer).  Its state is untrusted like the usage's: a refused file is
 * logged and the breaker starts empty.  The tick reads the log every second
 * in the agent's main context, which runs during a long poll. */
static void
adapter_breaker(Adapter *md, const ExmDpConfig *dp)
{
	g_autofree gchar *path = g_build_filename(dp->root, EXM_DP_PATH_BREAKER_STATE, NULL);
	g_autoptr(GError) error = NULL;

	md->breaker = exm_dp_breaker_load(path, &error);
	if (md->breaker == NULL) {
		if (!g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			g_warning("breaker state %s ignored: %s", path, error->message);
		md->breaker = exm_dp_breaker_new();
	}
	exm_dp_breaker_set_next(md->breaker, exm_dp_usage_observe, md->usage);
	exm_dp_logstats_set_observer(md->usage_log, exm_dp_breaker_observe, md->breaker);
	exm_dp_driver_set_breaker(md->driver, md->breaker, path);
	md->breaker_source = g_timeout_add(EXM_DP_ADAPTER_BREAKER_TICK_MS, breaker_tick, md);
	if (md->metrics != NULL)
		exm_dp_metrics_set_breaker(md->metrics, md->breaker);
}

/* ACME costs nothing until the node value asks for it (the driver passes
 * its `acme` member on every apply); a broken setting costs ACME only. */
static void
adapter_acme(Adapter *md, const ExmDpConfig *dp)
{
	g_autoptr(GError) error = NULL;

	md->acme = exm_dp_acme_new(dp, &error);
	if (md->acme == NULL) {
		g_warning("acme disabled: %s", error->message);
		return;
	}
	exm_dp_driver_set_acme(md->driver, md->acme);
}

/**
 * exm_dp_adapter_new:
 * @config_path: the agent's ini file; its `[dataplane]` group configures the node
 * @error: %EXM_DP_ERROR_CONFIG
 *
 * Returns: (transfer full): the driver
 */
ExmUaDriver *
exm_dp_adapter_new(const gchar *config_path, GError **error)
{
	g_autoptr(ExmDpConfig) dp = exm_dp_config_new();
	g_autoptr(ExmDpMetrics) metrics = NULL;
	Adapter *md;
	ExmDpDriver *inner;

	if (!exm_dp_config_load_file(dp, config_path, error) || !exm_dp_config_validate(dp, error))
		return NULL;
	/* metrics are an extra: a port taken or a bad address costs them, not
	 * the node's mail */
	if (dp->metrics_listen[0] != '\0') {
		g_autoptr(GError) local = NULL;

		metrics = exm_dp_metrics_new(dp, &local);
		if (metrics == NULL)
			g_warning("node metrics not served: %s", local->message);
	}
	inner = exm_dp_driver_new(dp, error);
	if (inner == NULL)
		return NULL;
	md = g_new0(Adapter, 1);
	md->driver = inner;
	md->metrics = g_steal_pointer(&metrics);
	adapter_usage(md, dp);
	adapter_acme(md, dp);
	adapter_breaker(md, dp);
	md->base.name = EXM_DP_ADAPTER_DRIVER_NAME;
	md->base.kinds = adapter_kinds;
	md->base.list = adapter_list;
	md->base.unchanged = adapter_unchanged;
	md->base.keys_unchanged = adapter_keys_unchanged;
	md->base.create = adapter_create;
	md->base.update = adapter_update;
	md->base.remove = adapter_remove;
	md->base.destroy = adapter_destroy;
	return &md->base;
}
