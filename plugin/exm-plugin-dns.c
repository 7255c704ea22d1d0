/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * `GET /v1/types/mail/instances/<uuid>/actions/dns_records`: the SPF, DKIM,
 * DMARC, MX and PTR records to publish for an instance (the seed README's DNS
 * guidance), as JSON records plus zone-file text, from its domain, `ipsv4` and
 * DKIM key.  `GET …/actions/verify_dns`: those records checked live now
 * (docs/dns-verification.md), the answer kept on the instance and served again
 * while fresh.  IAM `exordos_mail.mail_instance.read`, project-scoped like a GET.
 */
#include "exm-plugin-private.h"

#include "exm-cleanup.h"
#include "exm-error.h"
#include "exm-json.h"
#include "exm-mail-dnscheck.h"
#include "exm-mail-files.h"
#include "exm-mail-resolver.h"
#include "exm-plugin-tls.h"
#include "exm-time.h"

/* The plugin's DNS settings come from the host process's environment (the ABI
 * carries no plugin configuration): docs/dns-verification.md §Configuration. */
#define ENV_RESOLVER	"EXM_DNS_RESOLVER"
#define ENV_TIMEOUT	"EXM_DNS_TIMEOUT_MS"
#define ENV_CACHE	"EXM_DNS_CACHE_SECONDS"
#define TIMEOUT_DEFAULT 5000
#define TIMEOUT_MAX	30000
#define CACHE_DEFAULT	60
#define CACHE_MAX	3600
#define ENV_PERIOD	"EXM_DNS_RECHECK_SECONDS"
#define ENV_BUDGET	"EXM_DNS_QUERY_BUDGET"
#define PERIOD_DEFAULT	3600
#define PERIOD_MAX	(7 * 86400)
#define BUDGET_DEFAULT	100000
#define BUDGET_MAX	100000000

static const gchar *
dns_text(const ExmRestRow *row, const gchar *name)
{
	const gchar *text = exm_rest_row_get(row, name);

	return text != NULL ? text : "";
}

/* The records from the instance row (domain, ipsv4, DKIM), as the toolkit
 * loaded it. */
static void
dns_answer(ExmRestCrud *r, const ExmRestRow *row)
{
	const gchar *ipsv4 = exm_rest_row_get(row, "ipsv4");
	g_autoptr(GPtrArray) ips = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(JsonNode) records = NULL;

	exm_rest_row_parse_text_list(ipsv4 != NULL ? ipsv4 : "[]", ips);
	g_ptr_array_add(ips, NULL);
	records = exm_mail_dns_records(dns_text(row, "domain"),
				       (const gchar *const *)ips->pdata,
				       dns_text(row, "dkim_selector"),
				       dns_text(row, "dkim_public_key"));
	exm_rest_response_set_json(r->resp, 200, records);
}

static gboolean
dns_serve(ExmRestCrud *r, const ExmRestKind *kind, GError **error)
{
	g_autoptr(ExmRestRow) row = NULL;

	/* the walk loaded the instance already (read policy, project scope); load
	 * it again only if a future route skips that */
	if (!exm_rest_crud_enforce(r, kind->policy, "read", error))
		return FALSE;
	if (r->parent == NULL) {
		row = exm_rest_crud_load(r, kind, r->match->id, FALSE, error);
		if (row == NULL)
			return FALSE;
	}
	dns_answer(r, r->parent != NULL ? r->parent : row);
	return TRUE;
}

static guint
env_uint(const gchar *name, guint def, guint min, guint max)
{
	const gchar *text = g_getenv(name);
	guint64 v;

	if (text == NULL || !g_ascii_string_to_unsigned(text, 10, min, max, &v, NULL))
		return def;
	return (guint)v;
}

/* The last answer when it is younger than the cache period, else %NULL. */
static JsonNode *
verify_cached(ExmRestCrud *r, const gchar *uuid, GError **error)
{
	static const gchar sql[] =
		"SELECT result FROM mail_instance_dns WHERE instance = $1::uuid AND checked_at > "
		"TIMESTAMP 'epoch' + $2::bigint * INTERVAL '1 microsecond'";
	guint cache = env_uint(ENV_CACHE, CACHE_DEFAULT, 0, CACHE_MAX);
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(PGresult) res = NULL;

	g_ptr_array_add(params, g_strdup(uuid));
	g_ptr_array_add(
		params,
		g_strdup_printf("%" G_GINT64_FORMAT, r->now - (gint64)cache * G_USEC_PER_SEC));
	res = exm_rest_store_exec(&r->store, &exm_plugin_instance_model, sql, params, error);
	if (res == NULL || PQntuples(res) != 1)
		return NULL;
	return json_from_string(PQgetvalue(res, 0, 0), NULL);
}

/* The resolver's lookup, counted (the scheduler's query budget). */
typedef struct {
	ExmMailResolver *res;
	guint queries;
} Counted;

static gboolean
counted_lookup(gpointer data, const gchar *name, const gchar *type, GPtrArray *out, GError **error)
{
	Counted *c = data;

	c->queries++;
	return exm_mail_resolver_lookup(c->res, name, type, out, error);
}

/* Runs the check now, through the configured resolver, within the timeout;
 * @queries (optional) gets how many lookups it made. */
static JsonNode *
verify_now(const ExmRestRow *row, guint *queries)
{
	const gchar *ipsv4 = exm_rest_row_get(row, "ipsv4");
	g_autoptr(GPtrArray) ips = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmMailResolver) res =
		exm_mail_resolver_new(g_getenv(ENV_RESOLVER),
				      env_uint(ENV_TIMEOUT, TIMEOUT_DEFAULT, 100, TIMEOUT_MAX),
				      &error);
	Counted counted = { NULL, 0 };
	JsonNode *out;

	exm_rest_row_parse_text_list(ipsv4 != NULL ? ipsv4 : "[]", ips);
	g_ptr_array_add(ips, NULL);
	if (queries != NULL)
		*queries = 0;
	if (res == NULL) {
		out = json_from_string("{\"status\":\"unverified\",\"checks\":[]}", NULL);
		json_object_set_string_member(json_node_get_object(out), "error", error->message);
		return out;
	}
	counted.res = res;
	out = exm_mail_dnscheck_run(dns_text(row, "domain"),
				    (const gchar *const *)ips->pdata,
				    dns_text(row, "dkim_selector"),
				    dns_text(row, "dkim_public_key"),
				    counted_lookup,
				    &counted);
	if (queries != NULL)
		*queries = counted.queries;
	/* what the check cost, for the operator's query budget */
	json_object_set_int_member(json_node_get_object(out), "queries", counted.queries);
	return out;
}

/* The readiness condition next to `status` (docs/dns-verification.md §Readiness),
 * with what the instance should know though it may send: the served
 * certificate's warnings (docs/tls.md §4). */
static void
add_readiness(JsonObject *o, const ExmRestRow *row, const gchar *dns_status, gint64 now)
{
	const gchar *status = dns_text(row, "status");
	JsonObject *ready = json_object_new();
	JsonArray *warnings = json_array_new();

	json_object_set_string_member(ready, "status", status);
	json_object_set_string_member(ready, "dns_status", dns_status);
	json_object_set_boolean_member(ready,
				       "ready_to_send",
				       g_str_equal(status, "ACTIVE") &&
					       g_str_equal(dns_status, "ok"));
	exm_plugin_tls_warnings(row, now, warnings);
	json_object_set_array_member(ready, "warnings", warnings);
	json_object_set_object_member(o, "readiness", ready);
}

static gboolean
exec_sql(const ExmRestStore *store, const gchar *sql, GPtrArray *params, GError **error)
{
	g_autoptr(PGresult) res =
		exm_rest_store_exec(store, &exm_plugin_instance_model, sql, params, error);

	return res != NULL;
}

/*
 * When the scheduler checks an instance next: its period (the configured one,
 * or longer when the instances' checks would spend more than the hourly query
 * budget), spread by ±25 % so instances created together drift apart.  The
 * spread raises the mean rate by about 2 % (the mean of 1/U over U in
 * [0.75, 1.25]), so the budget's period gets 5 % headroom.
 */
static gint64
next_check(gint64 now, guint queries, gint64 n_instances)
{
	guint period = MAX(env_uint(ENV_PERIOD, PERIOD_DEFAULT, 0, PERIOD_MAX), 1);
	guint budget = env_uint(ENV_BUDGET, BUDGET_DEFAULT, 1, BUDGET_MAX);
	gdouble need =
		1.05 * (gdouble)MAX(queries, 1) * (gdouble)MAX(n_instances, 1) * 3600.0 / budget;
	gdouble base = MAX((gdouble)period, need);

	return now + (gint64)(base * g_random_double_range(0.75, 1.25) * G_USEC_PER_SEC);
}

/* The status on the instance (and when the scheduler looks again), the
 * answer in mail_instance_dns. */
static gboolean
verify_store(const ExmRestStore *store,
	     const gchar *uuid,
	     JsonNode *result,
	     gint64 now_us,
	     gint64 next_us,
	     GError **error)
{
	static const gchar update[] =
		"UPDATE mail_instances SET dns_status = $2, dns_checked_at = TIMESTAMP 'epoch' + "
		"$3::bigint * INTERVAL '1 microsecond', dns_next_check_at = TIMESTAMP 'epoch' + "
		"$4::bigint * INTERVAL '1 microsecond' WHERE uuid = $1::uuid";
	static const gchar upsert[] =
		"INSERT INTO mail_instance_dns (instance, checked_at, result) VALUES ($1::uuid, "
		"TIMESTAMP 'epoch' + $2::bigint * INTERVAL '1 microsecond', $3) ON CONFLICT "
		"(instance) DO UPDATE SET result = EXCLUDED.result, checked_at = "
		"EXCLUDED.checked_at";
	g_autoptr(GPtrArray) p1 = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) p2 = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *now = g_strdup_printf("%" G_GINT64_FORMAT, now_us);

	g_ptr_array_add(p1, g_strdup(uuid));
	g_ptr_array_add(p1, g_strdup(exm_mail_dnscheck_status(result)));
	g_ptr_array_add(p1, g_strdup(now));
	g_ptr_array_add(p1, g_strdup_printf("%" G_GINT64_FORMAT, next_us));
	g_ptr_array_add(p2, g_strdup(uuid));
	g_ptr_array_add(p2, g_strdup(now));
	g_ptr_array_add(p2, json_to_string(result, FALSE));
	return exec_sql(store, update, p1, error) && exec_sql(store, upsert, p2, error);
}

static gboolean
verify_serve(ExmRestCrud *r, const ExmRestKind *kind, GError **error)
{
	g_autoptr(ExmRestRow) own = NULL;
	const ExmRestRow *row = r->parent;
	const gchar *uuid;
	g_autoptr(JsonNode) result = NULL;

	if (!exm_rest_crud_enforce(r, kind->policy, "read", error))
		return FALSE;
	if (row == NULL) {
		own = exm_rest_crud_load(r, kind, r->match->id, FALSE, error);
		if (own == NULL)
			return FALSE;
		row = own;
	}
	uuid = exm_rest_row_get(row, "uuid");
	result = verify_cached(r, uuid, error);
	if (result != NULL && JSON_NODE_HOLDS_OBJECT(result)) {
		json_object_set_boolean_member(json_node_get_object(result), "cached", TRUE);
	} else {
		g_autofree gchar *now = exm_time_format(r->now);

		if (error != NULL && *error != NULL)
			return FALSE;
		guint queries = 0;

		g_clear_pointer(&result, json_node_unref);
		result = verify_now(row, &queries);
		json_object_set_string_member(json_node_get_object(result), "checked_at", now);
		/* an answer on demand also puts the next scheduled one off */
		if (!verify_store(
			    &r->store, uuid, result, r->now, next_check(r->now, queries, 1), error))
			return FALSE;
		json_object_set_boolean_member(json_node_get_object(result), "cached", FALSE);
	}
	add_readiness(json_node_get_object(result), row, exm_mail_dnscheck_status(result), r->now);
	exm_rest_response_set_json(r->resp, 200, result);
	return TRUE;
}

void
exm_plugin_dns_action(ExmRestCrud *r, const ExmRestKind *kind)
{
	g_autoptr(GError) error = NULL;
	gboolean ok = g_strcmp0(r->match->action, "verify_dns") == 0 ? verify_serve(r, kind, &error)
								     : dns_serve(r, kind, &error);

	if (!ok)
		exm_rest_response_set_error(r->resp, error);
}

/* ------------------------------------------------- the scheduled re-check */

/* Where a scheduled step's unexpected SQL error goes: the host's log. */
static void
recheck_log(gpointer data, const gchar *message)
{
	const ExmPlugin *plugin = data;

	if (plugin->host != NULL && plugin->host->log != NULL)
		plugin->host->log(plugin->host->host_data, EXORDOS_PAAS_LOG_ERROR, NULL, message);
}

/*
 * Claims the ACTIVE instance due first: one statement (so its row lock ends
 * with it) that moves its dns_next_check_at to a lease in the future, so a
 * second host, or the next step, passes it by while this step checks it
 * with no lock held.  A check that never stores (a crash) is tried again
 * when the lease ends.
 */
static PGresult *
recheck_claim(const ExmRestStore *store, gint64 now_us, gint64 lease_us, GError **error)
{
	static const gchar sql[] =
		"UPDATE mail_instances SET dns_next_check_at = TIMESTAMP 'epoch' + $2::bigint * "
		"INTERVAL '1 microsecond' WHERE uuid = (SELECT uuid FROM mail_instances WHERE "
		"status = 'ACTIVE' AND (dns_next_check_at IS NULL OR dns_next_check_at <= "
		"TIMESTAMP 'epoch' + $1::bigint * INTERVAL '1 microsecond') ORDER BY "
		"dns_next_check_at NULLS FIRST LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING "
		"uuid, domain, ipsv4, dkim_selector, "
		"dkim_public_key, status";
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);

	g_ptr_array_add(params, g_strdup_printf("%" G_GINT64_FORMAT, now_us));
	g_ptr_array_add(params, g_strdup_printf("%" G_GINT64_FORMAT, lease_us));
	return exm_rest_store_exec(store, &exm_plugin_instance_model, sql, params, error);
}

/*
 * Stores a scheduled answer, in one statement: only while the claim still
 * holds (a key or address change meanwhile cleared dns_next_check_at, so the
 * answer is about old values and is dropped; the instance is due again).
 */
static gboolean
recheck_store(const ExmRestStore *store,
	      const gchar *uuid,
	      JsonNode *result,
	      gint64 now_us,
	      gint64 lease_us,
	      gint64 next_us,
	      GError **error)
{
	static const gchar sql[] =
		"WITH u AS (UPDATE mail_instances SET dns_status = $2, dns_checked_at = TIMESTAMP "
		"'epoch' + $3::bigint * INTERVAL '1 microsecond', dns_next_check_at = TIMESTAMP "
		"'epoch' + $5::bigint * INTERVAL '1 microsecond' WHERE uuid = $1::uuid AND "
		"dns_next_check_at = TIMESTAMP 'epoch' + $4::bigint * INTERVAL '1 microsecond' "
		"RETURNING uuid) INSERT INTO mail_instance_dns (instance, checked_at, result) "
		"SELECT uuid, TIMESTAMP 'epoch' + $3::bigint * INTERVAL '1 microsecond', $6 FROM u "
		"ON CONFLICT (instance) DO UPDATE SET result = EXCLUDED.result, checked_at = "
		"EXCLUDED.checked_at";
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(PGresult) res = NULL;

	g_ptr_array_add(params, g_strdup(uuid));
	g_ptr_array_add(params, g_strdup(exm_mail_dnscheck_status(result)));
	g_ptr_array_add(params, g_strdup_printf("%" G_GINT64_FORMAT, now_us));
	g_ptr_array_add(params, g_strdup_printf("%" G_GINT64_FORMAT, lease_us));
	g_ptr_array_add(params, g_strdup_printf("%" G_GINT64_FORMAT, next_us));
	g_ptr_array_add(params, json_to_string(result, FALSE));
	res = exm_rest_store_exec(store, &exm_plugin_instance_model, sql, params, error);
	return res != NULL;
}

/* How many instances the scheduler keeps checked (the budget's divisor). */
static gint64
recheck_count(const ExmRestStore *store, GError **error)
{
	static const gchar sql[] = "SELECT count(*) FROM mail_instances WHERE status = 'ACTIVE'";
	g_autoptr(PGresult) res =
		exm_rest_store_exec(store, &exm_plugin_instance_model, sql, NULL, error);

	return res != NULL ? g_ascii_strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
}

/* One claimed instance checked (no lock held) and its answer stored. */
static gboolean
recheck_one(const ExmRestStore *store,
	    PGresult *claimed,
	    gint64 now_us,
	    gint64 lease_us,
	    GError **error)
{
	g_autoptr(ExmRestRow) row = exm_rest_row_new(&exm_plugin_instance_model, claimed, 0);
	g_autofree gchar *checked = exm_time_format(now_us);
	g_autoptr(JsonNode) result = NULL;
	guint queries = 0;
	gint64 n;

	result = verify_now(row, &queries);
	json_object_set_string_member(json_node_get_object(result), "checked_at", checked);
	n = recheck_count(store, error);
	return n >= 0 && recheck_store(store,
				       exm_rest_row_get(row, "uuid"),
				       result,
				       now_us,
				       lease_us,
				       next_check(now_us, queries, n),
				       error);
}

gboolean
exm_plugin_dns_recheck_run(gpointer ctx,
			   PGconn *db,
			   gint64 now_us,
			   gboolean *out_more,
			   gchar **out_error)
{
	ExmRestStore store = { db, recheck_log, ctx };
	g_autoptr(GError) error = NULL;
	g_autoptr(PGresult) claimed = NULL;
	/* the lease outlasts the check's deadline by a margin */
	gint64 lease_us =
		now_us +
		((gint64)env_uint(ENV_TIMEOUT, TIMEOUT_DEFAULT, 100, TIMEOUT_MAX) + 5000) * 1000;

	*out_more = FALSE;
	/* 0: the schedule is off (the stand); checks run on request only */
	if (env_uint(ENV_PERIOD, PERIOD_DEFAULT, 0, PERIOD_MAX) == 0)
		return TRUE;
	claimed = recheck_claim(&store, now_us, lease_us, &error);
	if (claimed != NULL && PQntuples(claimed) == 1 &&
	    recheck_one(&store, claimed, now_us, lease_us, &error))
		*out_more = TRUE; /* perhaps more are due: the host asks at once */
	if (error == NULL)
		return TRUE;
	if (out_error != NULL)
		*out_error = g_strdup_printf("dns re-check: %s", error->message);
	return FALSE;
}

/* ---------------------------------------------------------- the metrics */

static const gchar *const dns_statuses[] = { "unverified", "ok", "degraded", "failing", NULL };

/* The ACTIVE instances by dns_status (every status, 0 when none), from the
 * per-instance rows. */
static void
metrics_by_status(PGresult *res, const ExordosPaasMetricSink *sink)
{
	for (guint k = 0; dns_statuses[k] != NULL; k++) {
		gdouble n = 0;

		for (gint i = 0; i < PQntuples(res); i++)
			n += g_str_equal(PQgetvalue(res, i, 1), dns_statuses[k]) ? 1 : 0;
		sink->add(sink->sink,
			  "exordos_mail_instances_dns",
			  "ACTIVE mail instances by the result of their last DNS check.",
			  "gauge",
			  "dns_status",
			  dns_statuses[k],
			  n);
	}
}

/* Per ACTIVE instance: 1 when its published DNS is ok (ready to send). */
static void
metrics_per_instance(PGresult *res, const ExordosPaasMetricSink *sink)
{
	for (gint i = 0; i < PQntuples(res); i++)
		sink->add(sink->sink,
			  "exordos_mail_instance_dns_ok",
			  "Whether an ACTIVE instance's published DNS checked ok (1) or not (0).",
			  "gauge",
			  "instance",
			  PQgetvalue(res, i, 0),
			  g_str_equal(PQgetvalue(res, i, 1), "ok") ? 1 : 0);
}

gboolean
exm_plugin_dns_metrics(gpointer ctx,
		       PGconn *db,
		       const ExordosPaasMetricSink *sink,
		       gchar **out_error)
{
	static const gchar sql[] = "SELECT uuid::text, dns_status FROM mail_instances WHERE "
				   "status = 'ACTIVE' ORDER BY 1";
	ExmRestStore store = { db, recheck_log, ctx };
	g_autoptr(GError) error = NULL;
	/* one read serves both families */
	g_autoptr(PGresult) res =
		exm_rest_store_exec(&store, &exm_plugin_instance_model, sql, NULL, &error);

	if (res == NULL) {
		if (out_error != NULL)
			*out_error = g_strdup_printf("dns metrics: %s", error->message);
		return FALSE;
	}
	metrics_by_status(res, sink);
	metrics_per_instance(res, sink);
	return TRUE;
}
