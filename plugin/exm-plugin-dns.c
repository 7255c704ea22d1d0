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

/* Runs the check now, through the configured resolver, within the timeout. */
static JsonNode *
verify_now(const ExmRestRow *row)
{
	const gchar *ipsv4 = exm_rest_row_get(row, "ipsv4");
	g_autoptr(GPtrArray) ips = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmMailResolver) res =
		exm_mail_resolver_new(g_getenv(ENV_RESOLVER),
				      env_uint(ENV_TIMEOUT, TIMEOUT_DEFAULT, 100, TIMEOUT_MAX),
				      &error);

	exm_rest_row_parse_text_list(ipsv4 != NULL ? ipsv4 : "[]", ips);
	g_ptr_array_add(ips, NULL);
	if (res == NULL) {
		JsonNode *out = json_from_string("{\"status\":\"unverified\",\"checks\":[]}", NULL);
		json_object_set_string_member(json_node_get_object(out), "error", error->message);
		return out;
	}
	return exm_mail_dnscheck_run(dns_text(row, "domain"),
				     (const gchar *const *)ips->pdata,
				     dns_text(row, "dkim_selector"),
				     dns_text(row, "dkim_public_key"),
				     exm_mail_resolver_lookup,
				     res);
}

/* The readiness condition next to `status` (docs/dns-verification.md §Readiness). */
static void
add_readiness(JsonObject *o, const ExmRestRow *row, const gchar *dns_status)
{
	const gchar *status = dns_text(row, "status");
	JsonObject *ready = json_object_new();

	json_object_set_string_member(ready, "status", status);
	json_object_set_string_member(ready, "dns_status", dns_status);
	json_object_set_boolean_member(ready,
				       "ready_to_send",
				       g_str_equal(status, "ACTIVE") &&
					       g_str_equal(dns_status, "ok"));
	json_object_set_object_member(o, "readiness", ready);
}

static gboolean
exec_sql(ExmRestCrud *r, const gchar *sql, GPtrArray *params, GError **error)
{
	g_autoptr(PGresult) res =
		exm_rest_store_exec(&r->store, &exm_plugin_instance_model, sql, params, error);

	return res != NULL;
}

/* The status on the instance, the answer in mail_instance_dns. */
static gboolean
verify_store(ExmRestCrud *r, const gchar *uuid, JsonNode *result, GError **error)
{
	static const gchar update[] =
		"UPDATE mail_instances SET dns_status = $2, dns_checked_at = TIMESTAMP 'epoch' + "
		"$3::bigint * INTERVAL '1 microsecond' WHERE uuid = $1::uuid";
	static const gchar upsert[] =
		"INSERT INTO mail_instance_dns (instance, checked_at, result) VALUES ($1::uuid, "
		"TIMESTAMP 'epoch' + $2::bigint * INTERVAL '1 microsecond', $3) ON CONFLICT "
		"(instance) DO UPDATE SET result = EXCLUDED.result, checked_at = "
		"EXCLUDED.checked_at";
	g_autoptr(GPtrArray) p1 = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) p2 = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *now = g_strdup_printf("%" G_GINT64_FORMAT, r->now);

	g_ptr_array_add(p1, g_strdup(uuid));
	g_ptr_array_add(p1, g_strdup(exm_mail_dnscheck_status(result)));
	g_ptr_array_add(p1, g_strdup(now));
	g_ptr_array_add(p2, g_strdup(uuid));
	g_ptr_array_add(p2, g_strdup(now));
	g_ptr_array_add(p2, json_to_string(result, FALSE));
	return exec_sql(r, update, p1, error) && exec_sql(r, upsert, p2, error);
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
		g_clear_pointer(&result, json_node_unref);
		result = verify_now(row);
		json_object_set_string_member(json_node_get_object(result), "checked_at", now);
		if (!verify_store(r, uuid, result, error))
			return FALSE;
		json_object_set_boolean_member(json_node_get_object(result), "cached", FALSE);
	}
	add_readiness(json_node_get_object(result), row, exm_mail_dnscheck_status(result));
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
