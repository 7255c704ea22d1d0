/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The circuit breaker for a stolen credential (docs/abuse-controls.md §7):
 * the node's report checked and copied onto the accounts by the paas builder,
 * and the `release` and `discard` invoke actions of an account (IAM
 * `exordos_mail.account.update`, project-scoped like rotate).
 */
#include "exm-plugin-breaker.h"

#include <string.h>

#include "exm-cleanup.h"
#include "exm-json.h"
#include "exm-mail-error.h"
#include "exm-plugin-private.h"
#include "exm-plugin-report.h"
#include "exm-plugin-usage.h"
#include "exm-time.h"
#include "exm-uuid.h"

/* the node's bounds, enforced again here (as the usage report's) */
#define MAX_ACCOUNTS 10000
#define MAX_COUNT    G_GINT64_CONSTANT(1000000000000000)

static const gchar *const count_names[] = { "new_recipients",
					    "recipients",
					    "bounces",
					    "held_messages",
					    NULL };
static const gchar *const reasons[] = { "new_recipients", "bounces", NULL };

/* ------------------------------------------------------------------ checks */

/* One held account: `sending` "held", a known reason, a parsed time and
 * the four counts, integers in [0, MAX_COUNT]. */
static gboolean
held_ok(JsonNode *node)
{
	JsonObject *o = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
	const gchar *sending = NULL;
	const gchar *reason = NULL;
	const gchar *since = NULL;
	gint64 t = 0;

	if (o == NULL || !exm_json_get_string(o, "sending", FALSE, &sending, NULL, NULL) ||
	    !exm_json_get_string(o, "reason", FALSE, &reason, NULL, NULL) ||
	    !exm_json_get_string(o, "since", FALSE, &since, NULL, NULL) ||
	    g_strcmp0(sending, "held") != 0 || reason == NULL ||
	    !g_strv_contains(reasons, reason) || since == NULL || !exm_time_parse(since, &t))
		return FALSE;
	for (guint i = 0; count_names[i] != NULL; i++) {
		gint64 n = -1;

		if (!exm_json_get_int(o, count_names[i], &n, NULL, NULL) || n < 0 || n > MAX_COUNT)
			return FALSE;
	}
	return TRUE;
}

static gboolean
done_ok(JsonNode *node)
{
	return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING &&
	       exm_uuid_is_valid(json_node_get_string(node));
}

/* @map is absent, or an object of at most MAX_ACCOUNTS addresses of @domain
 * whose every value passes @value_ok. */
static gboolean
map_ok(JsonObject *breaker,
       const gchar *name,
       const gchar *domain,
       gboolean (*value_ok)(JsonNode *node))
{
	JsonObject *map = NULL;
	g_autoptr(GList) names = NULL;

	if (!exm_json_get_object(breaker, name, &map, NULL, NULL))
		return FALSE;
	if (map == NULL)
		return TRUE;
	if (json_object_get_size(map) > MAX_ACCOUNTS)
		return FALSE;
	names = json_object_get_members(map);
	for (GList *l = names; l != NULL; l = l->next) {
		if (!exm_plugin_report_address_ok(l->data, domain) ||
		    !value_ok(json_object_get_member(map, l->data)))
			return FALSE;
	}
	return TRUE;
}

gboolean
exm_plugin_breaker_valid(JsonObject *breaker, const gchar *domain)
{
	return map_ok(breaker, "accounts", domain, held_ok) &&
	       map_ok(breaker, "done", domain, done_ok);
}

/* ------------------------------------------------------------------ builder */

static PGresult *
breaker_exec(PGconn *db, const gchar *sql, GPtrArray *params, GError **error)
{
	ExmRestStore store = { db, NULL, NULL };

	return exm_rest_store_exec(&store, &exm_plugin_account_model, sql, params, error);
}

gboolean
exm_plugin_breaker_load(PGconn *db, ExmPluginBuilderInput *in, gchar **out_error)
{
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_autoptr(PGresult) res = NULL;

	g_ptr_array_add(params, g_strdup(in->instance->uuid));
	res = breaker_exec(db,
			   "SELECT hash FROM mail_instance_breaker WHERE instance = $1::uuid",
			   params,
			   &error);
	if (res == NULL) {
		*out_error = g_strdup_printf("loading the breaker report: %s", error->message);
		return FALSE;
	}
	g_free(in->breaker_hash);
	in->breaker_hash = g_strdup(PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	return TRUE;
}

static void
breaker_warn(gpointer ctx, const gchar *uuid)
{
	const ExmPlugin *plugin = ctx;
	g_autofree gchar *message = NULL;

	if (plugin == NULL || plugin->host == NULL || plugin->host->log == NULL)
		return;
	message = g_strdup_printf("instance %s: the node's breaker report breaks its bounds "
				  "(docs/abuse-controls.md §7); ignored",
				  uuid);
	plugin->host->log(plugin->host->host_data, EXORDOS_PAAS_LOG_WARNING, NULL, message);
}

gchar *
exm_plugin_breaker_patch(gpointer ctx,
			 const ExmPluginBuilderInput *in,
			 const ExmPluginBuilderSeen *seen,
			 gchar *patch)
{
	JsonObject *actual =
		seen->node_actual != NULL ? json_node_get_object(seen->node_actual) : NULL;
	JsonObject *breaker = NULL;
	g_autoptr(JsonObject) empty = json_object_new();
	g_autoptr(JsonNode) node = NULL;
	g_autofree gchar *hash = NULL;

	if (actual == NULL || in->breaker_hash == NULL)
		return patch;
	/* absent: nothing held and nothing done, which resets what was held */
	if (!exm_json_get_object(actual, "breaker", &breaker, NULL, NULL) || breaker == NULL) {
		if (json_object_has_member(actual, "breaker")) {
			breaker_warn(ctx, in->instance->uuid);
			return patch;
		}
		breaker = empty;
	}
	if (!exm_plugin_breaker_valid(breaker, in->instance->domain)) {
		breaker_warn(ctx, in->instance->uuid);
		return patch;
	}
	node = json_node_init_object(json_node_alloc(), breaker);
	hash = exm_json_hash(node);
	if (g_str_equal(hash, in->breaker_hash))
		return patch;
	return exm_plugin_builder_patch_add(patch, EXM_PLUGIN_BREAKER_PATCH, json_node_copy(node));
}

/*
 * Each account of the instance from the report: held (with why, since when
 * and the counts) when `accounts` names it, else normal.  A pending action
 * keeps `sending` releasing/discarding until `done` names its token; then
 * the action is cleared, so the next node value no longer carries it.  Rows
 * that would not change are not written.
 */
static const gchar breaker_accounts_sql[] =
	"WITH r AS (SELECT uuid, sending, breaker_op, breaker_token, $2::jsonb -> "
	"(lower(username) || '@' || lower($3)) AS h, COALESCE(lower($4::jsonb ->> "
	"(lower(username) || '@' || lower($3))) = breaker_token::text, FALSE) AS done FROM "
	"mail_accounts WHERE instance = $1::uuid), w AS (SELECT uuid, CASE WHEN breaker_op IS "
	"NOT NULL AND NOT done THEN sending WHEN h IS NULL THEN 'normal' ELSE 'held' END AS s, "
	"h ->> 'reason' AS hr, (h ->> 'since')::timestamp AS hs, CASE WHEN h IS NULL THEN NULL "
	"ELSE jsonb_build_object('new_recipients', h -> 'new_recipients', 'recipients', h -> "
	"'recipients', 'bounces', h -> 'bounces', 'held_messages', h -> 'held_messages') END AS "
	"hc, CASE WHEN done THEN NULL ELSE breaker_op END AS op, CASE WHEN done THEN NULL ELSE "
	"breaker_token END AS tok FROM r) UPDATE mail_accounts AS a SET sending = w.s, "
	"held_reason = w.hr, held_since = w.hs, held_counts = w.hc, breaker_op = w.op, "
	"breaker_token = w.tok FROM w WHERE a.uuid = w.uuid AND (a.sending, a.held_reason, "
	"a.held_since, a.held_counts, a.breaker_op, a.breaker_token) IS DISTINCT FROM (w.s, "
	"w.hr, w.hs, w.hc, w.op, w.tok)";

static const gchar breaker_hash_sql[] =
	"INSERT INTO mail_instance_breaker (instance, hash) VALUES ($1::uuid, $2) ON CONFLICT "
	"(instance) DO UPDATE SET hash = EXCLUDED.hash";

static gboolean
breaker_write(PGconn *db, const gchar *sql, GPtrArray *params, gchar **out_error)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PGresult) res = breaker_exec(db, sql, params, &error);

	if (res != NULL)
		return TRUE;
	*out_error = g_strdup_printf("storing the breaker report: %s", error->message);
	return FALSE;
}

/* Member @name of @breaker as JSON text, `{}` when absent. */
static gchar *
breaker_member_text(JsonObject *breaker, const gchar *name)
{
	JsonNode *m = json_object_get_member(breaker, name);

	return m != NULL && JSON_NODE_HOLDS_OBJECT(m) ? exm_json_to_string(m) : g_strdup("{}");
}

gboolean
exm_plugin_breaker_store(PGconn *db,
			 const ExmPluginBuilderInput *in,
			 JsonObject *breaker,
			 gchar **out_error)
{
	g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), breaker);
	g_autoptr(GPtrArray) p1 = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) p2 = g_ptr_array_new_with_free_func(g_free);

	if (!exm_plugin_breaker_valid(breaker, in->instance->domain)) {
		*out_error = g_strdup("malformed breaker report");
		return FALSE;
	}
	g_ptr_array_add(p1, g_strdup(in->instance->uuid));
	g_ptr_array_add(p1, breaker_member_text(breaker, "accounts"));
	g_ptr_array_add(p1, g_strdup(in->instance->domain));
	g_ptr_array_add(p1, breaker_member_text(breaker, "done"));
	g_ptr_array_add(p2, g_strdup(in->instance->uuid));
	g_ptr_array_add(p2, exm_json_hash(node));
	return breaker_write(db, breaker_accounts_sql, p1, out_error) &&
	       breaker_write(db, breaker_hash_sql, p2, out_error);
}

/* ------------------------------------------------------------------ the actions */

/* No argument: a misspelt or extra one is not ignored. */
static gboolean
breaker_no_arguments(const gchar *action, JsonObject *kwargs, GError **error)
{
	g_autoptr(GList) names = json_object_get_members(kwargs);
	const gchar *name = names != NULL ? names->data : NULL;

	if (name == NULL)
		return TRUE;
	g_set_error(error,
		    EXM_MAIL_ERROR,
		    EXM_MAIL_ERROR_INVALID,
		    "%s: unknown argument '%s'; the action takes none",
		    action,
		    g_utf8_validate(name, -1, NULL) ? name : "<invalid utf-8>");
	return FALSE;
}

/* The pending action with a fresh token: the node performs each token once,
 * so a repeated call is a new request (a release after a second trip). */
static gboolean
breaker_run(ExmRestCrud *r, const ExmRestKind *kind, JsonObject *kwargs, GError **error)
{
	const gchar *action = r->match->action;
	g_autoptr(GPtrArray) sets = exm_rest_set_list_new();
	g_autoptr(ExmRestRow) row = NULL;
	g_autofree gchar *token = exm_uuid_v4();

	if (!breaker_no_arguments(action, kwargs, error) || !kind->before_write(r, error))
		return FALSE;
	row = exm_rest_crud_load(r, kind, r->match->id, TRUE, error);
	if (row == NULL)
		return FALSE;
	exm_rest_set_put(sets, kind->model, "breaker_op", action);
	exm_rest_set_put(sets, kind->model, "breaker_token", token);
	exm_rest_set_put(sets,
			 kind->model,
			 "sending",
			 g_str_equal(action, "release") ? "releasing" : "discarding");
	return exm_rest_crud_write_update(r, kind, sets, error);
}

void
exm_plugin_breaker_action(ExmRestCrud *r, const ExmRestKind *kind)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) kwargs = NULL;

	if (exm_rest_crud_enforce(r, kind->policy, "update", &error))
		kwargs = exm_rest_crud_action_kwargs(r, NULL, &error);
	if (kwargs == NULL || !breaker_run(r, kind, kwargs, &error))
		exm_rest_response_set_error(r->resp, error);
}
