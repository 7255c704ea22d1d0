/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The sandbox's captured messages (docs/sandbox.md §2–§3): the node's report
 * checked, copied into mail_instance_captures by the paas builder, and
 * `GET /v1/types/mail/instances/<i>/accounts/<a>/actions/captured` (IAM
 * `exordos_mail.account.read`, project-scoped like a GET of the account).
 */
#include "exm-plugin-capture.h"

#include <string.h>

#include "exm-cleanup.h"
#include "exm-error.h"
#include "exm-json.h"
#include "exm-mail-error.h"
#include "exm-plugin-private.h"
#include "exm-plugin-report.h"
#include "exm-time.h"

/* a size no mail can have: a forged one stops here */
#define MAX_SIZE G_GINT64_CONSTANT(1099511627776)

static const gchar *const dkim_words[] = { "pass", "fail", "none", NULL };
static const gchar *const texts[] = { "from", "subject", "message_id", "dkim_detail", NULL };

/* ------------------------------------------------------------------ checks */

/* exim's message id (exm_dp_logstats_is_message_id()'s rule): 16 to 23
 * letters and digits with exactly two '-'. */
static gboolean
message_id_ok(const gchar *s)
{
	static const gchar alnum[] = "abcdefghijklmnopqrstuvwxyz"
				     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
	gsize len = strlen(s);
	const gchar *first = strchr(s, '-');
	const gchar *last = strrchr(s, '-');

	return len >= 16 && len <= 23 && strspn(s, alnum) == len && first != NULL &&
	       first != last && strchr(first + 1, '-') == last;
}

/* Strict base64 (padding only at the end) of at most RAW_MAX bytes.  The
 * length is counted no further than one past the longest allowed text, whose
 * length is then no multiple of 4. */
static gboolean
raw_ok(const gchar *s)
{
	static const gchar b64[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
	gsize len = strnlen(s, (EXM_PLUGIN_CAPTURE_RAW_MAX / 3 + 1) * 4 + 1);
	gsize pad = 0;

	if (len == 0 || len % 4 != 0)
		return FALSE;
	while (pad < 2 && s[len - 1 - pad] == '=')
		pad++;
	return strspn(s, b64) == len - pad && len / 4 * 3 - pad <= EXM_PLUGIN_CAPTURE_RAW_MAX;
}

/* The header texts: absent, or printable ASCII of at most TEXT_MAX. */
static gboolean
texts_ok(JsonObject *o)
{
	JsonArray *to = NULL;

	for (guint i = 0; texts[i] != NULL; i++) {
		const gchar *s = NULL;

		if (!exm_json_get_string(o, texts[i], FALSE, &s, NULL, NULL) ||
		    (s != NULL && !exm_plugin_report_printable(s, EXM_PLUGIN_CAPTURE_TEXT_MAX, "")))
			return FALSE;
	}
	if (!exm_json_get_array(o, "to", &to, NULL, NULL))
		return FALSE;
	if (to == NULL)
		return TRUE;
	if (json_array_get_length(to) > EXM_PLUGIN_CAPTURE_TO_MAX)
		return FALSE;
	for (guint i = 0; i < json_array_get_length(to); i++) {
		JsonNode *n = json_array_get_element(to, i);

		if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING ||
		    !exm_plugin_report_printable(
			    json_node_get_string(n), EXM_PLUGIN_CAPTURE_TEXT_MAX, ""))
			return FALSE;
	}
	return TRUE;
}

/* One message; @ids holds the ids seen so far (each once), @raws counts
 * the messages carrying `raw`. */
static gboolean
message_ok(JsonNode *node, const gchar *domain, GHashTable *ids, guint *raws)
{
	JsonObject *o = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
	const gchar *id = NULL;
	const gchar *account = NULL;
	const gchar *dkim = NULL;
	const gchar *raw = NULL;
	gint64 size = -1;

	if (o == NULL || !exm_json_get_string(o, "id", FALSE, &id, NULL, NULL) ||
	    !exm_json_get_string(o, "account", FALSE, &account, NULL, NULL) ||
	    !exm_json_get_string(o, "dkim", FALSE, &dkim, NULL, NULL) ||
	    !exm_json_get_string(o, "raw", FALSE, &raw, NULL, NULL) ||
	    !exm_json_get_int(o, "size", &size, NULL, NULL) || id == NULL || account == NULL ||
	    dkim == NULL || size < 0 || size > MAX_SIZE)
		return FALSE;
	if (!message_id_ok(id) || !g_hash_table_add(ids, (gpointer)id) ||
	    !exm_plugin_report_address_ok(account, domain) || !g_strv_contains(dkim_words, dkim) ||
	    !exm_plugin_report_time_ok(o, "time", TRUE) || !texts_ok(o))
		return FALSE;
	if (raw != NULL)
		(*raws)++;
	return raw == NULL || raw_ok(raw);
}

gboolean
exm_plugin_capture_valid(JsonObject *captured, const gchar *domain)
{
	g_autoptr(GHashTable) ids = g_hash_table_new(g_str_hash, g_str_equal);
	JsonArray *messages = NULL;
	guint raws = 0;

	if (!exm_json_get_array(captured, "messages", &messages, NULL, NULL) || messages == NULL ||
	    json_array_get_length(messages) > EXM_PLUGIN_CAPTURE_MAX_MESSAGES)
		return FALSE;
	for (guint i = 0; i < json_array_get_length(messages); i++) {
		if (!message_ok(json_array_get_element(messages, i), domain, ids, &raws) ||
		    raws > EXM_PLUGIN_CAPTURE_MAX_RAWS)
			return FALSE;
	}
	return TRUE;
}

/* ------------------------------------------------------------------ builder */

static PGresult *
capture_exec(const ExmRestStore *store, const gchar *sql, GPtrArray *params, GError **error)
{
	return exm_rest_store_exec(store, &exm_plugin_account_model, sql, params, error);
}

gboolean
exm_plugin_capture_load(PGconn *db, ExmPluginBuilderInput *in, gchar **out_error)
{
	ExmRestStore store = { db, NULL, NULL };
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_autoptr(PGresult) res = NULL;

	g_ptr_array_add(params, g_strdup(in->instance->uuid));
	res = capture_exec(&store,
			   "SELECT hash FROM mail_instance_captures WHERE instance = $1::uuid",
			   params,
			   &error);
	if (res == NULL) {
		*out_error = g_strdup_printf("loading the captured report: %s", error->message);
		return FALSE;
	}
	g_free(in->capture_hash);
	in->capture_hash = g_strdup(PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	return TRUE;
}

/* A refused report is the node's fault or an attack: the operator hears of
 * it, the stored report stays. */
static void
capture_warn(gpointer ctx, const ExmPluginBuilderInput *in)
{
	const ExmPlugin *plugin = ctx;
	g_autofree gchar *line = NULL;

	if (plugin == NULL || plugin->host == NULL || plugin->host->log == NULL)
		return;
	line = g_strdup_printf("instance %s: the node's captured report breaks its bounds; "
			       "ignored",
			       in->instance->uuid);
	plugin->host->log(plugin->host->host_data, EXORDOS_PAAS_LOG_WARNING, NULL, line);
}

gchar *
exm_plugin_capture_patch(gpointer ctx,
			 const ExmPluginBuilderInput *in,
			 const ExmPluginBuilderSeen *seen,
			 gchar *patch)
{
	JsonObject *actual =
		seen->node_actual != NULL ? json_node_get_object(seen->node_actual) : NULL;
	JsonObject *captured = NULL;
	g_autoptr(JsonObject) empty = NULL;
	g_autoptr(JsonNode) node = NULL;
	g_autofree gchar *hash = NULL;

	if (actual == NULL || in->capture_hash == NULL)
		return patch;
	if (!exm_json_get_object(actual, EXM_PLUGIN_CAPTURE_PATCH, &captured, NULL, NULL) ||
	    (captured != NULL && !exm_plugin_capture_valid(captured, in->instance->domain))) {
		capture_warn(ctx, in);
		return patch;
	}
	if (captured == NULL && *in->capture_hash == '\0')
		return patch;
	if (captured == NULL) {
		empty = json_object_new();
		json_object_set_array_member(empty, "messages", json_array_new());
		captured = empty;
	}
	node = json_node_init_object(json_node_alloc(), captured);
	hash = exm_json_hash(node);
	if (g_str_equal(hash, in->capture_hash))
		return patch;
	return exm_plugin_builder_patch_add(patch, EXM_PLUGIN_CAPTURE_PATCH, json_node_copy(node));
}

static const gchar capture_store_sql[] =
	"INSERT INTO mail_instance_captures (instance, hash, messages, reported_at) VALUES "
	"($1::uuid, $2, $3, TIMESTAMP 'epoch' + $4::bigint * INTERVAL '1 microsecond') ON "
	"CONFLICT (instance) DO UPDATE SET hash = EXCLUDED.hash, messages = EXCLUDED.messages, "
	"reported_at = EXCLUDED.reported_at WHERE mail_instance_captures.hash IS DISTINCT FROM "
	"EXCLUDED.hash";

gboolean
exm_plugin_capture_apply(PGconn *db,
			 const ExmPluginBuilderInput *in,
			 JsonObject *patch,
			 gchar **out_error)
{
	ExmRestStore store = { db, NULL, NULL };
	JsonObject *captured = NULL;
	g_autoptr(JsonNode) node = NULL;
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_autoptr(PGresult) res = NULL;

	if (!exm_json_get_object(patch, EXM_PLUGIN_CAPTURE_PATCH, &captured, NULL, NULL) ||
	    (captured != NULL && !exm_plugin_capture_valid(captured, in->instance->domain))) {
		*out_error = g_strdup("malformed captured report");
		return FALSE;
	}
	if (captured == NULL)
		return TRUE;
	node = json_node_init_object(json_node_alloc(), captured);
	g_ptr_array_add(params, g_strdup(in->instance->uuid));
	g_ptr_array_add(params, exm_json_hash(node));
	g_ptr_array_add(params, exm_json_to_string(json_object_get_member(captured, "messages")));
	g_ptr_array_add(params, g_strdup_printf("%" G_GINT64_FORMAT, g_get_real_time()));
	res = capture_exec(&store, capture_store_sql, params, &error);
	if (res == NULL) {
		*out_error = g_strdup_printf("storing the captured report: %s", error->message);
		return FALSE;
	}
	return TRUE;
}

/* ------------------------------------------------------------------ the action */

/* `id` is the only argument: anything else is a mistake worth saying. */
static gboolean
captured_query(ExmRestCrud *r, const gchar **out_id, GError **error)
{
	*out_id = NULL;
	for (gsize i = 0; i < r->n_query; i++) {
		if (!g_str_equal(r->query[i].key, "id")) {
			g_set_error(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_INVALID,
				    "%s: not an argument of this action; send only id",
				    r->query[i].key);
			return FALSE;
		}
		*out_id = r->query[i].value != NULL ? r->query[i].value : "";
	}
	return TRUE;
}

/* A stored message as the API shows it: no `raw`, `has_message` whether it
 * is kept in full, and its text as `message_base64` when @full. */
static JsonNode *
captured_item(JsonObject *m, gboolean full)
{
	g_autoptr(JsonObject) o = json_object_new();
	g_autoptr(GList) names = json_object_get_members(m);
	JsonNode *raw = json_object_get_member(m, "raw");

	for (GList *l = names; l != NULL; l = l->next) {
		if (!g_str_equal(l->data, "raw"))
			json_object_set_member(
				o, l->data, json_node_copy(json_object_get_member(m, l->data)));
	}
	json_object_set_boolean_member(o, "has_message", raw != NULL);
	if (full && raw != NULL)
		json_object_set_member(o, "message_base64", json_node_copy(raw));
	return json_node_init_object(json_node_alloc(), o);
}

/* The stored message @o when it is @address's and younger than the bound. */
static gboolean
captured_mine(JsonNode *node, const gchar *address, gint64 now)
{
	JsonObject *o = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
	const gchar *account = NULL;
	const gchar *time = NULL;
	gint64 t = 0;

	return o != NULL && exm_json_get_string(o, "account", FALSE, &account, NULL, NULL) &&
	       exm_json_get_string(o, "time", FALSE, &time, NULL, NULL) && account != NULL &&
	       time != NULL && g_ascii_strcasecmp(account, address) == 0 &&
	       exm_time_parse(time, &t) &&
	       t > now - (gint64)EXM_PLUGIN_CAPTURE_MAX_AGE * G_USEC_PER_SEC;
}

/* The list: the account's messages, newest first (the node reports them
 * oldest first). */
static JsonNode *
captured_list(JsonArray *stored, const gchar *address, const gchar *reported_at, gint64 now)
{
	JsonArray *out = json_array_new();
	g_autoptr(JsonObject) o = json_object_new();

	for (guint i = stored != NULL ? json_array_get_length(stored) : 0; i > 0; i--) {
		JsonNode *m = json_array_get_element(stored, i - 1);

		if (captured_mine(m, address, now))
			json_array_add_element(out, captured_item(json_node_get_object(m), FALSE));
	}
	json_object_set_array_member(o, "captured", out);
	if (reported_at != NULL)
		json_object_set_string_member(o, "reported_at", reported_at);
	else
		json_object_set_null_member(o, "reported_at");
	json_object_set_int_member(o, "max_messages", EXM_PLUGIN_CAPTURE_MAX_MESSAGES);
	json_object_set_int_member(o, "max_age_seconds", EXM_PLUGIN_CAPTURE_MAX_AGE);
	return json_node_init_object(json_node_alloc(), o);
}

/* One message in full, or a 404 when the account has none of that id kept
 * in full. */
static JsonNode *
captured_one(JsonArray *stored, const gchar *address, const gchar *id, gint64 now, GError **error)
{
	for (guint i = 0; stored != NULL && i < json_array_get_length(stored); i++) {
		JsonNode *m = json_array_get_element(stored, i);
		const gchar *mid = NULL;

		if (captured_mine(m, address, now) &&
		    exm_json_get_string(json_node_get_object(m), "id", FALSE, &mid, NULL, NULL) &&
		    g_strcmp0(mid, id) == 0 &&
		    json_object_has_member(json_node_get_object(m), "raw"))
			return captured_item(json_node_get_object(m), TRUE);
	}
	if (message_id_ok(id))
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_NOT_FOUND,
			    "captured message %s: not kept in full for this account",
			    id);
	else
		g_set_error_literal(
			error, EXM_ERROR, EXM_ERROR_NOT_FOUND, "id: not a captured message's id");
	return NULL;
}

static gboolean
captured_serve(ExmRestCrud *r, const ExmRestKind *kind, GError **error)
{
	const gchar *id = NULL;
	g_autoptr(ExmRestRow) account = NULL;
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(PGresult) res = NULL;
	g_autoptr(JsonNode) stored = NULL;
	g_autoptr(JsonNode) answer = NULL;
	g_autofree gchar *address = NULL;
	g_autofree gchar *reported = NULL;
	JsonArray *messages = NULL;

	if (!exm_rest_crud_enforce(r, kind->policy, "read", error) ||
	    !captured_query(r, &id, error))
		return FALSE;
	account = exm_rest_crud_load(r, kind, r->match->id, FALSE, error);
	if (account == NULL)
		return FALSE;
	if (r->parent == NULL) {
		g_set_error_literal(
			error, EXM_ERROR, EXM_ERROR_FAILED, "no instance for the account");
		return FALSE;
	}
	address = g_strdup_printf("%s@%s",
				  exm_rest_row_get(account, "username"),
				  exm_rest_row_get(r->parent, "domain"));
	g_ptr_array_add(params, g_strdup(exm_rest_row_get(r->parent, "uuid")));
	res = exm_rest_store_exec(
		&r->store,
		&exm_plugin_account_model,
		"SELECT messages, (EXTRACT(EPOCH FROM reported_at) * 1000000)::bigint "
		"FROM mail_instance_captures WHERE instance = $1::uuid",
		params,
		error);
	if (res == NULL)
		return FALSE;
	if (PQntuples(res) > 0) {
		const gchar *text = PQgetvalue(res, 0, 0);

		stored = exm_json_parse_strict(text, strlen(text), NULL);
		reported = exm_time_format(g_ascii_strtoll(PQgetvalue(res, 0, 1), NULL, 10));
	}
	if (stored != NULL && JSON_NODE_HOLDS_ARRAY(stored))
		messages = json_node_get_array(stored);
	answer = id != NULL ? captured_one(messages, address, id, r->now, error)
			    : captured_list(messages, address, reported, r->now);
	if (answer == NULL)
		return FALSE;
	exm_rest_response_set_json(r->resp, 200, answer);
	return TRUE;
}

void
exm_plugin_capture_action(ExmRestCrud *r, const ExmRestKind *kind)
{
	g_autoptr(GError) error = NULL;

	if (!captured_serve(r, kind, &error))
		exm_rest_response_set_error(r->resp, error);
}
