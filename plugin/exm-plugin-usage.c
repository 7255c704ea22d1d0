/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Usage per account and instance (docs/usage.md §4): the node's report
 * checked, copied into the database by the paas builder, and
 * `GET /v1/types/mail/instances/<uuid>/actions/deliveries` (IAM
 * `exordos_mail.mail_instance.read`, project-scoped like a GET).
 */
#include "exm-plugin-usage.h"

#include <string.h>

#include "exm-cleanup.h"
#include "exm-json.h"
#include "exm-mail-crypt.h"
#include "exm-plugin-private.h"
#include "exm-plugin-report.h"
#include "exm-time.h"

/* the node's bounds (agent/dp/exm-dp-usage.h), enforced again here */
#define MAX_ACCOUNTS   10000
#define MAX_DELIVERIES 100
#define MAX_REPLY      200
#define MAX_DOMAIN     253
#define MAX_COUNT      G_GINT64_CONSTANT(1000000000000000)
#define WINDOW_SECONDS (24 * 3600)
#define MAX_SECRETS    4 /* EXM_DP_USAGE_SECRETS */

static const gchar *const count_names[] = { "accepted", "delivered", "deferred",
					    "bounced",	"held",	     NULL };
static const gchar *const statuses[] = { "delivered", "deferred", "bounced", NULL };

/* ------------------------------------------------------------------ checks */

/* `secrets`: absent, or at most MAX_SECRETS fingerprints (16 lower-case hex
 * digits, exm_mail_crypt_fingerprint()) each with a time. */
static gboolean
secrets_ok(JsonObject *account)
{
	JsonObject *secrets = NULL;
	JsonObjectIter it;
	const gchar *fp;
	JsonNode *t;

	if (!exm_json_get_object(account, "secrets", &secrets, NULL, NULL))
		return FALSE;
	if (secrets == NULL)
		return TRUE;
	if (json_object_get_size(secrets) > MAX_SECRETS)
		return FALSE;
	json_object_iter_init(&it, secrets);
	while (json_object_iter_next(&it, &fp, &t)) {
		if (strlen(fp) != EXM_MAIL_CRYPT_FINGERPRINT_LEN ||
		    strspn(fp, "0123456789abcdef") != EXM_MAIL_CRYPT_FINGERPRINT_LEN ||
		    !exm_plugin_report_time_ok(secrets, fp, TRUE))
			return FALSE;
	}
	return TRUE;
}

static gboolean
counts_ok(JsonNode *node)
{
	JsonObject *o = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;

	if (o == NULL)
		return FALSE;
	for (guint i = 0; count_names[i] != NULL; i++) {
		gint64 n = -1;

		if (!exm_json_get_int(o, count_names[i], &n, NULL, NULL) || n < 0 || n > MAX_COUNT)
			return FALSE;
	}
	return exm_plugin_report_time_ok(o, "last_login", FALSE) && secrets_ok(o);
}

static gboolean
delivery_ok(JsonNode *node, const gchar *domain)
{
	JsonObject *o = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
	const gchar *account = NULL;
	const gchar *rdomain = NULL;
	const gchar *status = NULL;
	const gchar *reply = NULL;

	if (o == NULL || !exm_plugin_report_time_ok(o, "time", TRUE) ||
	    !exm_json_get_string(o, "account", FALSE, &account, NULL, NULL) ||
	    !exm_json_get_string(o, "domain", FALSE, &rdomain, NULL, NULL) ||
	    !exm_json_get_string(o, "status", FALSE, &status, NULL, NULL) ||
	    !exm_json_get_string(o, "reply", FALSE, &reply, NULL, NULL) || account == NULL ||
	    rdomain == NULL || status == NULL || reply == NULL)
		return FALSE;
	if (strspn(rdomain, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(rdomain) ||
	    strlen(rdomain) > MAX_DOMAIN)
		return FALSE;
	return exm_plugin_report_address_ok(account, domain) && g_strv_contains(statuses, status) &&
	       exm_plugin_report_printable(reply, MAX_REPLY, "");
}

gboolean
exm_plugin_usage_valid(JsonObject *usage, const gchar *domain)
{
	JsonObject *accounts = NULL;
	JsonArray *deliveries = NULL;
	g_autoptr(GList) names = NULL;

	if (!exm_json_get_object(usage, "accounts", &accounts, NULL, NULL) ||
	    !exm_json_get_array(usage, "deliveries", &deliveries, NULL, NULL) || accounts == NULL ||
	    deliveries == NULL || json_object_get_size(accounts) > MAX_ACCOUNTS ||
	    json_array_get_length(deliveries) > MAX_DELIVERIES)
		return FALSE;
	names = json_object_get_members(accounts);
	for (GList *l = names; l != NULL; l = l->next) {
		if (!exm_plugin_report_address_ok(l->data, domain) ||
		    !counts_ok(json_object_get_member(accounts, l->data)))
			return FALSE;
	}
	for (guint i = 0; i < json_array_get_length(deliveries); i++) {
		if (!delivery_ok(json_array_get_element(deliveries, i), domain))
			return FALSE;
	}
	return TRUE;
}

/* ------------------------------------------------------------------ builder */

static PGresult *
usage_exec(PGconn *db, const gchar *sql, GPtrArray *params, GError **error)
{
	ExmRestStore store = { db, NULL, NULL };

	return exm_rest_store_exec(&store, &exm_plugin_instance_model, sql, params, error);
}

gboolean
exm_plugin_usage_load(PGconn *db, ExmPluginBuilderInput *in, gchar **out_error)
{
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_autoptr(PGresult) res = NULL;

	g_ptr_array_add(params, g_strdup(in->instance->uuid));
	res = usage_exec(db,
			 "SELECT hash FROM mail_instance_usage WHERE instance = $1::uuid",
			 params,
			 &error);
	if (res == NULL) {
		*out_error = g_strdup_printf("loading the usage: %s", error->message);
		return FALSE;
	}
	g_free(in->usage_hash);
	in->usage_hash = g_strdup(PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	return TRUE;
}

gchar *
exm_plugin_usage_patch(const ExmPluginBuilderInput *in,
		       const ExmPluginBuilderSeen *seen,
		       gchar *patch)
{
	JsonObject *actual =
		seen->node_actual != NULL ? json_node_get_object(seen->node_actual) : NULL;
	JsonObject *usage = NULL;
	g_autoptr(JsonNode) node = NULL;
	g_autofree gchar *hash = NULL;

	if (actual == NULL || in->usage_hash == NULL ||
	    !exm_json_get_object(actual, "usage", &usage, NULL, NULL) || usage == NULL ||
	    !exm_plugin_usage_valid(usage, in->instance->domain))
		return patch;
	node = json_node_init_object(json_node_alloc(), usage);
	hash = exm_json_hash(node);
	if (g_str_equal(hash, in->usage_hash))
		return patch;
	return exm_plugin_builder_patch_add(patch, EXM_PLUGIN_USAGE_PATCH, json_node_copy(node));
}

/* The instance's totals: the sum over its reported accounts, the latest login. */
static void
usage_totals(JsonObject *accounts, gint64 *sum, const gchar **last)
{
	g_autoptr(GList) names = json_object_get_members(accounts);

	for (GList *l = names; l != NULL; l = l->next) {
		JsonObject *o = json_object_get_object_member(accounts, l->data);
		const gchar *login = NULL;

		for (guint i = 0; count_names[i] != NULL; i++)
			sum[i] += json_object_get_int_member(o, count_names[i]);
		if (exm_json_get_string(o, "last_login", FALSE, &login, NULL, NULL) &&
		    login != NULL && (*last == NULL || strcmp(login, *last) > 0))
			*last = login;
	}
}

/* Accounts not in the report count zero; a login time only moves forward.
 * The report names secrets by fingerprint; FP() is exm_mail_crypt_fingerprint()
 * in SQL (the scheme stripped, 16 hex digits of the SHA-256), so each of the
 * account's two hashes finds its own time (tests/pg/test-plugin-accounts.c
 * `login-secrets` pins the two together). */
/* clang-format off */
#define FP(h) \
	"(v->'secrets'->>substr(encode(sha256(convert_to(regexp_replace(" h ", " \
	"'^\\{[^}]*\\}', ''), 'UTF8')), 'hex'), 1, 16))::timestamp"
static const gchar usage_accounts_sql[] =
	"WITH u AS (SELECT uuid, COALESCE((v->>'accepted')::bigint, 0) AS acc, "
	"COALESCE((v->>'delivered')::bigint, 0) AS del, COALESCE((v->>'deferred')::bigint, 0) "
	"AS def, COALESCE((v->>'bounced')::bigint, 0) AS bnc, COALESCE((v->>'held')::bigint, 0) "
	"AS hld, (v->>'last_login')::timestamp AS ll, "
	FP("password_hash") " AS cl, " FP("previous_password_hash") " AS pl "
	"FROM (SELECT uuid, password_hash, previous_password_hash, $2::jsonb -> "
	"(lower(username) || '@' || lower($3)) AS v FROM mail_accounts WHERE instance = "
	"$1::uuid) AS s) UPDATE mail_accounts AS a SET usage_accepted_24h = u.acc, "
	"usage_delivered_24h = u.del, usage_deferred_24h = u.def, usage_bounced_24h = u.bnc, "
	"usage_held_24h = u.hld, last_login_at = GREATEST(a.last_login_at, u.ll), "
	"password_last_login_at = GREATEST(a.password_last_login_at, u.cl), "
	"previous_password_last_login_at = GREATEST(a.previous_password_last_login_at, u.pl) "
	"FROM u WHERE a.uuid = u.uuid AND (a.usage_accepted_24h, a.usage_delivered_24h, "
	"a.usage_deferred_24h, a.usage_bounced_24h, a.usage_held_24h, a.last_login_at, "
	"a.password_last_login_at, a.previous_password_last_login_at) IS DISTINCT FROM (u.acc, "
	"u.del, u.def, u.bnc, u.hld, GREATEST(a.last_login_at, u.ll), "
	"GREATEST(a.password_last_login_at, u.cl), "
	"GREATEST(a.previous_password_last_login_at, u.pl))";
#undef FP
/* clang-format on */

static const gchar usage_instance_sql[] =
	"UPDATE mail_instances SET usage_accepted_24h = $2::bigint, usage_delivered_24h = "
	"$3::bigint, usage_deferred_24h = $4::bigint, usage_bounced_24h = $5::bigint, "
	"usage_held_24h = $6::bigint, last_login_at = GREATEST(last_login_at, $7::timestamp), "
	"usage_reported_at = TIMESTAMP 'epoch' + $8::bigint * INTERVAL '1 microsecond' WHERE "
	"uuid = $1::uuid";

static const gchar usage_report_sql[] =
	"INSERT INTO mail_instance_usage (instance, hash, deliveries, reported_at) VALUES "
	"($1::uuid, $2, $3, TIMESTAMP 'epoch' + $4::bigint * INTERVAL '1 microsecond') ON "
	"CONFLICT (instance) DO UPDATE SET hash = EXCLUDED.hash, deliveries = "
	"EXCLUDED.deliveries, reported_at = EXCLUDED.reported_at";

static gboolean
usage_write(PGconn *db, const gchar *sql, GPtrArray *params, gchar **out_error)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PGresult) res = usage_exec(db, sql, params, &error);

	if (res != NULL)
		return TRUE;
	*out_error = g_strdup_printf("storing the usage: %s", error->message);
	return FALSE;
}

gboolean
exm_plugin_usage_store(PGconn *db,
		       const ExmPluginBuilderInput *in,
		       JsonObject *usage,
		       gchar **out_error)
{
	JsonObject *accounts = json_object_get_object_member(usage, "accounts");
	g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), usage);
	g_autoptr(GPtrArray) p1 = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) p2 = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) p3 = g_ptr_array_new_with_free_func(g_free);
	gint64 sum[G_N_ELEMENTS(count_names)] = { 0 };
	const gchar *last = NULL;
	gchar *now = g_strdup_printf("%" G_GINT64_FORMAT, g_get_real_time());

	if (!exm_plugin_usage_valid(usage, in->instance->domain)) {
		g_free(now);
		*out_error = g_strdup("malformed usage report");
		return FALSE;
	}
	usage_totals(accounts, sum, &last);
	g_ptr_array_add(p1, g_strdup(in->instance->uuid));
	g_ptr_array_add(p1, exm_json_to_string(json_object_get_member(usage, "accounts")));
	g_ptr_array_add(p1, g_strdup(in->instance->domain));
	g_ptr_array_add(p2, g_strdup(in->instance->uuid));
	for (guint i = 0; count_names[i] != NULL; i++)
		g_ptr_array_add(p2, g_strdup_printf("%" G_GINT64_FORMAT, sum[i]));
	g_ptr_array_add(p2, g_strdup(last));
	g_ptr_array_add(p2, g_strdup(now));
	g_ptr_array_add(p3, g_strdup(in->instance->uuid));
	g_ptr_array_add(p3, exm_json_hash(node));
	g_ptr_array_add(p3, exm_json_to_string(json_object_get_member(usage, "deliveries")));
	g_ptr_array_add(p3, now);
	return usage_write(db, usage_accounts_sql, p1, out_error) &&
	       usage_write(db, usage_instance_sql, p2, out_error) &&
	       usage_write(db, usage_report_sql, p3, out_error);
}

/* ------------------------------------------------------------------ the action */

/* The stored outcomes still inside the window, oldest first. */
static JsonNode *
deliveries_answer(const gchar *text, const gchar *reported_at, gint64 now)
{
	g_autoptr(JsonNode) stored =
		text != NULL ? exm_json_parse_strict(text, strlen(text), NULL) : NULL;
	JsonArray *out = json_array_new();
	JsonObject *o = json_object_new();
	JsonNode *root;

	for (guint i = 0; stored != NULL && JSON_NODE_HOLDS_ARRAY(stored) &&
			  i < json_array_get_length(json_node_get_array(stored));
	     i++) {
		JsonNode *d = json_array_get_element(json_node_get_array(stored), i);
		const gchar *time = NULL;
		gint64 t = 0;

		if (!JSON_NODE_HOLDS_OBJECT(d) ||
		    !exm_json_get_string(
			    json_node_get_object(d), "time", FALSE, &time, NULL, NULL) ||
		    time == NULL || !exm_time_parse(time, &t) ||
		    t <= now - (gint64)WINDOW_SECONDS * G_USEC_PER_SEC)
			continue;
		json_array_add_element(out, json_node_copy(d));
	}
	json_object_set_array_member(o, "deliveries", out);
	if (reported_at != NULL)
		json_object_set_string_member(o, "reported_at", reported_at);
	else
		json_object_set_null_member(o, "reported_at");
	json_object_set_int_member(o, "window_seconds", WINDOW_SECONDS);
	json_object_set_int_member(o, "max_deliveries", MAX_DELIVERIES);
	root = json_node_init_object(json_node_alloc(), o);
	json_object_unref(o);
	return root;
}

static gboolean
deliveries_serve(ExmRestCrud *r, const ExmRestKind *kind, GError **error)
{
	g_autoptr(ExmRestRow) own = NULL;
	const ExmRestRow *row = r->parent;
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(PGresult) res = NULL;
	g_autoptr(JsonNode) answer = NULL;
	g_autofree gchar *reported = NULL;

	if (!exm_rest_crud_enforce(r, kind->policy, "read", error))
		return FALSE;
	if (row == NULL) {
		own = exm_rest_crud_load(r, kind, r->match->id, FALSE, error);
		if (own == NULL)
			return FALSE;
		row = own;
	}
	g_ptr_array_add(params, g_strdup(exm_rest_row_get(row, "uuid")));
	res = exm_rest_store_exec(
		&r->store,
		&exm_plugin_instance_model,
		"SELECT deliveries, (EXTRACT(EPOCH FROM reported_at) * 1000000)::bigint "
		"FROM mail_instance_usage WHERE instance = $1::uuid",
		params,
		error);
	if (res == NULL)
		return FALSE;
	if (PQntuples(res) > 0)
		reported = exm_time_format(g_ascii_strtoll(PQgetvalue(res, 0, 1), NULL, 10));
	answer = deliveries_answer(
		PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : NULL, reported, r->now);
	exm_rest_response_set_json(r->resp, 200, answer);
	return TRUE;
}

void
exm_plugin_usage_action(ExmRestCrud *r, const ExmRestKind *kind)
{
	g_autoptr(GError) error = NULL;

	if (!deliveries_serve(r, kind, &error))
		exm_rest_response_set_error(r->resp, error);
}
