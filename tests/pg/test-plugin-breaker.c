/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The circuit breaker's API side (issue 15 item 4, docs/abuse-controls.md §7)
 * through the plugin's ABI on the throwaway cluster: the instance thresholds
 * (bounded, 400 naming the field, null the default), the release and discard
 * actions (a pending op with a fresh token, IAM, scope, arguments), the node
 * value carrying both, and the node's `breaker` report copied onto the
 * accounts, a done token clearing the op, a hostile report ignored whole.
 */
#include <string.h>

#include "exm-test.h"
#include "test-plugin-fixture.h"

#define TOKEN "0b7e0b7e-0000-4000-8000-000000000001"
#define SINCE "2026-12-05T10:00:00.000000Z"
/* alice held for new recipients */
#define HELD                                                                                       \
	"{\"accounts\": {\"alice@example.com\": {\"sending\": \"held\", \"reason\": "              \
	"\"new_recipients\", \"since\": \"" SINCE "\", \"new_recipients\": 4, \"recipients\": "    \
	"10, \"bounces\": 0, \"held_messages\": 2}}}"

/* Answers leave nulls out (docs/rest-conventions.md §5). */
static gboolean
absent_or_null(ExmReply *r, const gchar *name)
{
	JsonObject *o = json_node_get_object(r->json);

	return !json_object_has_member(o, name) || json_object_get_null_member(o, name);
}

typedef struct {
	ExmFixture *f;
	gchar *instance;
	gchar *ipath;
	gchar *account;
	gchar *apath;
} Fx;

static void
fx_setup(Fx *x, gconstpointer data)
{
	g_autofree gchar *v1 = NULL;

	x->f = exm_fixture_new();
	if (x->f == NULL)
		return;
	v1 = exm_fixture_version(x->f, "v1");
	x->instance = exm_fixture_instance(x->f, &exm_who_owner1, NULL, v1, "mail-brk");
	x->ipath = g_strdup_printf("instances/%s", x->instance);
	x->account = exm_fixture_account(x->f, &exm_who_owner1, x->instance, "alice");
	x->apath = g_strdup_printf("instances/%s/accounts/%s", x->instance, x->account);
}

static void
fx_teardown(Fx *x, gconstpointer data)
{
	g_free(x->instance);
	g_free(x->ipath);
	g_free(x->account);
	g_free(x->apath);
	g_clear_pointer(&x->f, exm_fixture_free);
}

/* The account's @expr (SQL over its columns), '<null>' for NULL. */
static gchar *
account_col(Fx *x, const gchar *expr)
{
	g_autofree gchar *sql = g_strdup_printf(
		"SELECT COALESCE((%s)::text, '<null>') FROM mail_accounts WHERE uuid = '%s'",
		expr,
		x->account);

	return exm_fixture_scalar(x->f, sql);
}

/* The rows' versions (xmin) and updated_at of the account and its instance. */
static gchar *
versions(Fx *x, gboolean xmin)
{
	g_autofree gchar *sql = g_strdup_printf(
		"SELECT %s a.updated_at::text || ' ' || i.updated_at::text FROM mail_accounts a "
		"JOIN mail_instances i ON i.uuid = a.instance WHERE a.uuid = '%s'",
		xmin ? "a.xmin::text || ' ' || i.xmin::text || ' ' ||" : "",
		x->account);

	return exm_fixture_scalar(x->f, sql);
}

/* ------------------------------------------------------------------ thresholds */

/* The defaults: null (left out), documented in the OpenAPI schema. */
static void
assert_default_thresholds(Fx *x)
{
	static const gchar *const names[] = { "breaker_new_recipients_per_day",
					      "breaker_bounce_percent",
					      "breaker_bounce_min" };
	g_autoptr(ExmReply) r =
		exm_fixture_call(x->f, NULL, &exm_who_owner1, "GET", x->ipath, NULL, NULL);

	exm_assert_status(r, 200);
	for (guint i = 0; i < G_N_ELEMENTS(names); i++)
		g_assert_true(absent_or_null(r, names[i]));
}

/* Every bad value of each threshold is a 400 naming it, at create and at
 * update; null (or nothing) is the documented default; good values stick. */
static void
test_thresholds(Fx *x, gconstpointer data)
{
	static const gchar *const bad[] = {
		"\"breaker_new_recipients_per_day\":0",
		"\"breaker_new_recipients_per_day\":1000001",
		"\"breaker_new_recipients_per_day\":-5",
		"\"breaker_bounce_percent\":0",
		"\"breaker_bounce_percent\":101",
		"\"breaker_bounce_percent\":-1",
		"\"breaker_bounce_min\":0",
		"\"breaker_bounce_min\":1000001",
		"\"breaker_bounce_min\":-1",
	};
	static const gchar *const typed[] = {
		"\"breaker_new_recipients_per_day\":\"200\"",
		"\"breaker_bounce_percent\":12.5",
		"\"breaker_bounce_min\":true",
	};
	g_autofree gchar *version = NULL;
	g_autoptr(ExmReply) ok = NULL;

	if (x->f == NULL)
		return;
	assert_default_thresholds(x);
	version = exm_fixture_scalar(x->f, "SELECT uuid::text FROM mail_versions LIMIT 1");
	for (guint i = 0; i < G_N_ELEMENTS(bad) + G_N_ELEMENTS(typed); i++) {
		const gchar *field = i < G_N_ELEMENTS(bad) ? bad[i] : typed[i - G_N_ELEMENTS(bad)];
		g_autofree gchar *name = g_strndup(field + 1, strcspn(field + 1, "\""));
		g_autofree gchar *put = g_strdup_printf("{%s}", field);
		g_autofree gchar *post = g_strdup_printf(
			"{\"name\":\"bad%u\",\"domain\":\"bad%u.example.com\",\"cpu\":2,\"ram\":"
			"2048,\"disk_size\":20,\"version\":\"/v1/types/mail/versions/%s\",%s}",
			i,
			i,
			version,
			field);
		g_autoptr(ExmReply) u =
			exm_fixture_call(x->f, NULL, &exm_who_owner1, "PUT", x->ipath, NULL, put);
		g_autoptr(ExmReply) c = exm_fixture_call(
			x->f, NULL, &exm_who_owner1, "POST", "instances/", NULL, post);

		g_test_message("%s: %s / %s", field, u->body, c->body);
		g_assert_cmpuint(u->status, ==, 400);
		g_assert_cmpuint(c->status, ==, 400);
		g_assert_nonnull(strstr(exm_reply_str(u, "message"), name));
		if (i < G_N_ELEMENTS(bad)) {
			exm_assert_error(u, 400, "ValidationError");
			exm_assert_error(c, 400, "ValidationError");
			g_assert_true(g_str_has_prefix(exm_reply_str(u, "message"), name));
			g_assert_true(g_str_has_prefix(exm_reply_str(c, "message"), name));
		} else {
			/* a JSON type other than an integer: upstream's TypeError,
			 * whose wording at create names the type, not the field */
			exm_assert_error(c, 400, "TypeError");
			exm_assert_error(u, 400, "ModelTypeError");
		}
	}
	g_assert_cmpint(exm_fixture_count(x->f, "mail_instances"), ==, 1);
	ok = exm_fixture_call(
		x->f,
		NULL,
		&exm_who_owner1,
		"PUT",
		x->ipath,
		NULL,
		"{\"breaker_new_recipients_per_day\":1000000,\"breaker_bounce_percent\":"
		"100,\"breaker_bounce_min\":1}");
	exm_assert_status(ok, 200);
	g_assert_cmpint(exm_reply_int(ok, "breaker_new_recipients_per_day"), ==, 1000000);
	g_assert_cmpint(exm_reply_int(ok, "breaker_bounce_percent"), ==, 100);
	g_assert_cmpint(exm_reply_int(ok, "breaker_bounce_min"), ==, 1);
}

/* ------------------------------------------------------------------ actions */

static ExmReply *
invoke(Fx *x, const ExmWho *who, const gchar *action, const gchar *query, const gchar *body)
{
	g_autofree gchar *path = g_strdup_printf("%s/actions/%s/invoke", x->apath, action);

	return exm_fixture_call_len(x->f,
				    NULL,
				    who,
				    "POST",
				    path,
				    query,
				    body,
				    body != NULL ? strlen(body) : 0,
				    "application/json");
}

/* The account as a fresh, normal one shows it: no hold, no plumbing. */
static void
assert_normal_fresh(Fx *x)
{
	g_autoptr(ExmReply) r =
		exm_fixture_call(x->f, NULL, &exm_who_owner1, "GET", x->apath, NULL, NULL);

	exm_assert_status(r, 200);
	g_assert_cmpstr(exm_reply_str(r, "sending"), ==, "normal");
	g_assert_true(absent_or_null(r, "held_reason"));
	g_assert_true(absent_or_null(r, "held_since"));
	g_assert_true(absent_or_null(r, "held_counts"));
	g_assert_false(exm_reply_has(r, "breaker_op"));
	g_assert_false(exm_reply_has(r, "breaker_token"));
}

/* Each action answers the account now releasing/discarding, stores the op
 * with a fresh token (never shown) and moves the instance, so the builder
 * sends it; on an account that is not held it is accepted all the same. */
static void
test_actions(Fx *x, gconstpointer data)
{
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *op1 = NULL;
	g_autofree gchar *op2 = NULL;
	g_autoptr(ExmReply) rel = NULL;
	g_autoptr(ExmReply) dis = NULL;

	if (x->f == NULL)
		return;
	assert_normal_fresh(x);
	before = exm_fixture_scalar(x->f, "SELECT updated_at::text FROM mail_instances");
	rel = invoke(x, &exm_who_owner1, "release", NULL, NULL);
	exm_assert_status(rel, 200);
	g_assert_cmpstr(exm_reply_str(rel, "uuid"), ==, x->account);
	g_assert_cmpstr(exm_reply_str(rel, "sending"), ==, "releasing");
	g_assert_false(exm_reply_has(rel, "breaker_op"));
	g_assert_false(exm_reply_has(rel, "breaker_token"));
	op1 = account_col(x, "breaker_op || ' ' || breaker_token");
	g_assert_true(g_str_has_prefix(op1, "release "));
	after = exm_fixture_scalar(x->f, "SELECT updated_at::text FROM mail_instances");
	g_assert_cmpstr(after, >, before);

	/* an empty JSON object is no argument either */
	dis = invoke(x, &exm_who_owner1, "discard", NULL, "{}");
	exm_assert_status(dis, 200);
	g_assert_cmpstr(exm_reply_str(dis, "sending"), ==, "discarding");
	op2 = account_col(x, "breaker_op || ' ' || breaker_token");
	g_assert_true(g_str_has_prefix(op2, "discard "));
	g_assert_cmpstr(op2 + 8, !=, op1 + 8);
}

/* Arguments, IAM, scope, the verb: refused, and nothing changes. */
static void
test_actions_refused(Fx *x, gconstpointer data)
{
	static const gchar *const actions[] = { "release", "discard" };
	g_autofree gchar *start = NULL;
	g_autofree gchar *end = NULL;

	if (x->f == NULL)
		return;
	start = account_col(x, "sending || ' ' || COALESCE(breaker_op, '-')");
	for (guint i = 0; i < G_N_ELEMENTS(actions); i++) {
		g_autoptr(ExmReply) arg = invoke(x, &exm_who_owner1, actions[i], NULL, "{\"x\":1}");
		g_autoptr(ExmReply) qarg = invoke(x, &exm_who_owner1, actions[i], "force=1", NULL);
		g_autoptr(ExmReply) ro = invoke(x, &exm_who_readonly1, actions[i], NULL, NULL);
		g_autoptr(ExmReply) other = invoke(x, &exm_who_owner2, actions[i], NULL, NULL);
		g_autofree gchar *get_path =
			g_strdup_printf("%s/actions/%s/invoke", x->apath, actions[i]);
		g_autofree gchar *plain = g_strdup_printf("%s/actions/%s", x->apath, actions[i]);
		g_autofree gchar *prefix = g_strdup_printf("%s: unknown argument 'x'", actions[i]);
		g_autoptr(ExmReply) get =
			exm_fixture_call(x->f, NULL, &exm_who_owner1, "GET", get_path, NULL, NULL);
		g_autoptr(ExmReply) post =
			exm_fixture_call(x->f, NULL, &exm_who_owner1, "POST", plain, NULL, NULL);

		exm_assert_error(arg, 400, "ValidationError");
		g_assert_true(g_str_has_prefix(exm_reply_str(arg, "message"), prefix));
		exm_assert_error(qarg, 400, "ValidationError");
		g_assert_nonnull(strstr(exm_reply_str(qarg, "message"), "'force'"));
		exm_assert_error(ro, 403, "PolicyNotAuthorized");
		g_assert_cmpuint(other->status, ==, 404);
		exm_assert_error(get, 501, "NotImplementedError");
		g_assert_cmpuint(post->status, ==, 404);
	}
	end = account_col(x, "sending || ' ' || COALESCE(breaker_op, '-')");
	g_assert_cmpstr(end, ==, start);
	g_assert_cmpstr(end, ==, "normal -");
}

/* The new read-only fields cannot be written, the hidden ones neither, and
 * none of the plumbing is a filter. */
static void
test_fields_guarded(Fx *x, gconstpointer data)
{
	static const gchar *const writes[] = {
		"{\"sending\":\"normal\"}",	  "{\"held_reason\":\"bounces\"}",
		"{\"held_since\":\"" SINCE "\"}", "{\"held_counts\":{}}",
		"{\"breaker_op\":\"release\"}",
	};
	g_autofree gchar *coll = NULL;

	if (x->f == NULL)
		return;
	for (guint i = 0; i < G_N_ELEMENTS(writes); i++) {
		g_autoptr(ExmReply) r = exm_fixture_call(
			x->f, NULL, &exm_who_owner1, "PUT", x->apath, NULL, writes[i]);

		g_test_message("%s", writes[i]);
		exm_assert_error(r, 403, "FieldPermissionError");
	}
	coll = exm_fixture_accounts_path(x->instance);
	{
		g_autoptr(ExmReply) ok = exm_fixture_call(
			x->f, NULL, &exm_who_owner1, "GET", coll, "sending=normal", NULL);
		g_autoptr(ExmReply) tok = exm_fixture_call(
			x->f, NULL, &exm_who_owner1, "GET", coll, "breaker_token=" TOKEN, NULL);
		g_autoptr(ExmReply) counts = exm_fixture_call(
			x->f, NULL, &exm_who_owner1, "GET", coll, "held_counts=x", NULL);
		g_autoptr(ExmReply) sort = exm_fixture_call(
			x->f, NULL, &exm_who_owner1, "GET", coll, "sort_key=held_counts", NULL);

		exm_assert_status(ok, 200);
		g_assert_cmpuint(exm_reply_len(ok), ==, 1);
		g_assert_cmpuint(tok->status, ==, 400);
		g_assert_cmpuint(counts->status, ==, 400);
		g_assert_cmpuint(sort->status, ==, 400);
	}
}

/* ------------------------------------------------------------------ the builder */

/* One pass of the paas builder, the node reporting @breaker as its `breaker`
 * member (%NULL: none).  Returns the patch (%NULL: none); *@node the node
 * value. */
static gchar *
tick(Fx *x, const gchar *breaker, gchar **node)
{
	return exm_fixture_paas_tick(x->f, x->instance, "breaker", breaker, node);
}

static JsonObject *
node_member(JsonNode *root, const gchar *a, const gchar *b)
{
	JsonObject *o = json_node_get_object(root);

	o = json_object_has_member(o, a) ? json_object_get_object_member(o, a) : NULL;
	return o != NULL && b != NULL ? json_object_get_object_member(o, b) : o;
}

/* The node value carries the thresholds (left out while they are the
 * default) and the pending action with its token. */
static void
test_node_value(Fx *x, gconstpointer data)
{
	g_autofree gchar *node = NULL;
	g_autofree gchar *patch = NULL;
	g_autofree gchar *token = NULL;
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(ExmReply) put = NULL;
	g_autoptr(ExmReply) rel = NULL;
	JsonObject *limits;
	JsonObject *action;

	if (x->f == NULL)
		return;
	patch = tick(x, NULL, &node);
	root = json_from_string(node, NULL);
	g_assert_nonnull(root);
	limits = node_member(root, "limits", NULL);
	g_assert_true(limits == NULL || !json_object_has_member(limits, "breaker_bounce_min"));
	g_assert_false(
		json_object_has_member(node_member(root, "accounts", "alice"), "breaker_action"));
	g_clear_pointer(&node, g_free);
	g_clear_pointer(&patch, g_free);
	g_clear_pointer(&root, json_node_unref);

	put = exm_fixture_call(x->f,
			       NULL,
			       &exm_who_owner1,
			       "PUT",
			       x->ipath,
			       NULL,
			       "{\"breaker_new_recipients_per_day\":3,\"breaker_bounce_percent\":"
			       "40,\"breaker_bounce_min\":10}");
	exm_assert_status(put, 200);
	rel = invoke(x, &exm_who_owner1, "release", NULL, NULL);
	exm_assert_status(rel, 200);
	token = account_col(x, "breaker_token");
	patch = tick(x, NULL, &node);
	root = json_from_string(node, NULL);
	limits = node_member(root, "limits", NULL);
	g_assert_cmpint(
		json_object_get_int_member(limits, "breaker_new_recipients_per_day"), ==, 3);
	g_assert_cmpint(json_object_get_int_member(limits, "breaker_bounce_percent"), ==, 40);
	g_assert_cmpint(json_object_get_int_member(limits, "breaker_bounce_min"), ==, 10);
	action = node_member(root, "accounts", "alice");
	action = json_object_get_object_member(action, "breaker_action");
	g_assert_cmpstr(json_object_get_string_member(action, "op"), ==, "release");
	g_assert_cmpstr(json_object_get_string_member(action, "token"), ==, token);
}

/* ------------------------------------------------------------------ the report */

static gchar *
state(Fx *x)
{
	return account_col(x,
			   "concat_ws(' | ', sending, COALESCE(held_reason, '-'), "
			   "COALESCE(to_char(held_since, 'YYYY-MM-DD HH24:MI:SS'), '-'), "
			   "COALESCE(held_counts::text, '-'), COALESCE(breaker_op, '-'))");
}

/* A held account shows it, read-only, with why, since when and the counts;
 * an unchanged report writes nothing; neither bumps updated_at; an account
 * the report no longer names is normal again. */
static void
test_report_held(Fx *x, gconstpointer data)
{
	g_autofree gchar *patch = NULL;
	g_autofree gchar *st = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autoptr(ExmReply) r = NULL;
	JsonObject *counts;

	if (x->f == NULL)
		return;
	/* the node's first report (nothing held) also brings the instance's status */
	patch = tick(x, NULL, NULL);
	g_assert_nonnull(patch);
	before = versions(x, FALSE);
	g_clear_pointer(&patch, g_free);
	patch = tick(x, HELD, NULL);
	g_assert_nonnull(patch);
	g_assert_null(strstr(patch, "\"status\""));
	st = state(x);
	g_assert_cmpstr(st,
			==,
			"held | new_recipients | 2026-12-05 10:00:00 | {\"bounces\": 0, "
			"\"recipients\": 10, \"held_messages\": 2, \"new_recipients\": 4} | -");
	after = versions(x, FALSE);
	g_assert_cmpstr(after, ==, before);
	r = exm_fixture_call(x->f, NULL, &exm_who_owner1, "GET", x->apath, NULL, NULL);
	exm_assert_status(r, 200);
	g_assert_cmpstr(exm_reply_str(r, "sending"), ==, "held");
	g_assert_cmpstr(exm_reply_str(r, "held_reason"), ==, "new_recipients");
	g_assert_cmpstr(exm_reply_str(r, "held_since"), ==, SINCE);
	counts = json_object_get_object_member(json_node_get_object(r->json), "held_counts");
	g_assert_cmpint(json_object_get_int_member(counts, "new_recipients"), ==, 4);
	g_assert_cmpint(json_object_get_int_member(counts, "recipients"), ==, 10);
	g_assert_cmpint(json_object_get_int_member(counts, "bounces"), ==, 0);
	g_assert_cmpint(json_object_get_int_member(counts, "held_messages"), ==, 2);
	g_assert_cmpuint(json_object_get_size(counts), ==, 4);

	/* idle: the same report writes nothing at all */
	g_clear_pointer(&before, g_free);
	before = versions(x, TRUE);
	g_clear_pointer(&patch, g_free);
	patch = tick(x, HELD, NULL);
	g_assert_null(patch);
	g_clear_pointer(&after, g_free);
	after = versions(x, TRUE);
	g_assert_cmpstr(after, ==, before);

	/* the member absent: nothing held any more */
	g_clear_pointer(&patch, g_free);
	patch = tick(x, NULL, NULL);
	g_assert_nonnull(patch);
	g_clear_pointer(&st, g_free);
	st = state(x);
	g_assert_cmpstr(st, ==, "normal | - | - | - | -");
}

static gchar *
done_report(const gchar *token, gboolean held)
{
	return g_strdup_printf(
		"{\"accounts\": %s, \"done\": {\"alice@example.com\": \"%s\"}}",
		held ? "{\"alice@example.com\": {\"sending\": \"held\", \"reason\": "
		       "\"bounces\", \"since\": \"" SINCE "\", \"new_recipients\": "
		       "0, \"recipients\": 60, \"bounces\": 20, \"held_messages\": 1}}"
		     : "{}",
		token);
}

/* A pending action keeps the account releasing until the node reports its
 * token done, whatever else it reports; then the op and token are cleared,
 * the next node value drops the action, and the account shows the report. */
static void
test_report_done(Fx *x, gconstpointer data)
{
	g_autofree gchar *patch = NULL;
	g_autofree gchar *st = NULL;
	g_autofree gchar *token = NULL;
	g_autofree gchar *stale = NULL;
	g_autofree gchar *done = NULL;
	g_autofree gchar *node = NULL;
	g_autoptr(ExmReply) rel = NULL;

	if (x->f == NULL)
		return;
	patch = tick(x, HELD, NULL);
	g_assert_nonnull(patch);
	rel = invoke(x, &exm_who_owner1, "release", NULL, NULL);
	exm_assert_status(rel, 200);
	token = account_col(x, "breaker_token");

	/* another token done (an earlier action): still releasing, counts move */
	stale = done_report("0b7e0b7e-0000-4000-8000-000000000001", TRUE);
	g_clear_pointer(&patch, g_free);
	patch = tick(x, stale, NULL);
	g_assert_nonnull(patch);
	st = state(x);
	g_assert_true(g_str_has_prefix(st, "releasing | bounces | 2026-12-05 10:00:00 | "));
	g_assert_true(g_str_has_suffix(st, " | release"));

	/* its own token, upper-case as a node might send it: done */
	done = done_report(token, FALSE);
	for (gchar *p = strstr(done, token); p != NULL && *p != '"'; p++)
		*p = g_ascii_toupper(*p);
	g_clear_pointer(&patch, g_free);
	patch = tick(x, done, &node);
	g_assert_nonnull(patch);
	g_clear_pointer(&st, g_free);
	st = state(x);
	g_assert_cmpstr(st, ==, "normal | - | - | - | -");
	g_clear_pointer(&token, g_free);
	token = account_col(x, "breaker_token");
	g_assert_cmpstr(token, ==, "<null>");
	g_clear_pointer(&node, g_free);
	g_clear_pointer(&patch, g_free);
	patch = tick(x, done, &node);
	g_assert_null(patch);
	g_assert_null(strstr(node, "breaker_action"));
}

/* The DP is untrusted: a report breaking any bound is ignored as a whole
 * (no patch, the accounts as they were, a warning), and apply checks again
 * what reached it through the host. */
static void
test_report_hostile(Fx *x, gconstpointer data)
{
	/* check-source: table */
	static const gchar *const bad[] = {
		"[]",
		"{\"accounts\": []}",
		"{\"done\": {\"alice@example.com\": 5}}",
		"{\"done\": {\"alice@example.com\": \"not-a-uuid\"}}",
		"{\"done\": {\"alice@example.org\": \"0b7e0b7e-0000-4000-8000-000000000001\"}}",
		"{\"accounts\": {\"alice@example.org\": {\"sending\": \"held\", \"reason\": "
		"\"bounces\", \"since\": \"" SINCE "\", \"new_recipients\": 0, \"recipients\": 0, "
		"\"bounces\": 0, \"held_messages\": 0}}}",
		"{\"accounts\": {\"Alice Smith@example.com\": {\"sending\": \"held\", \"reason\": "
		"\"bounces\", \"since\": \"" SINCE "\", \"new_recipients\": 0, \"recipients\": 0, "
		"\"bounces\": 0, \"held_messages\": 0}}}",
		"{\"accounts\": {\"alice@example.com\": {\"sending\": \"held\", \"reason\": "
		"\"bounces\", \"since\": \"" SINCE "\", \"new_recipients\": -1, \"recipients\": 0, "
		"\"bounces\": 0, \"held_messages\": 0}}}",
		"{\"accounts\": {\"alice@example.com\": {\"sending\": \"held\", \"reason\": "
		"\"bounces\", \"since\": \"" SINCE "\", \"new_recipients\": 0, \"recipients\": 0, "
		"\"bounces\": 0, \"held_messages\": 1000000000000001}}}",
		"{\"accounts\": {\"alice@example.com\": {\"sending\": \"held\", \"reason\": "
		"\"bounces\", \"since\": \"" SINCE
		"\", \"new_recipients\": 0, \"recipients\": 0.5, "
		"\"bounces\": 0, \"held_messages\": 0}}}",
		"{\"accounts\": {\"alice@example.com\": {\"sending\": \"held\", \"reason\": "
		"\"bounces\", \"since\": \"" SINCE "\", \"recipients\": 0, \"bounces\": 0, "
		"\"held_messages\": 0}}}",
		"{\"accounts\": {\"alice@example.com\": {\"sending\": \"held\", \"reason\": "
		"\"spam\", \"since\": \"" SINCE "\", \"new_recipients\": 0, \"recipients\": 0, "
		"\"bounces\": 0, \"held_messages\": 0}}}",
		"{\"accounts\": {\"alice@example.com\": {\"sending\": \"normal\", \"reason\": "
		"\"bounces\", \"since\": \"" SINCE "\", \"new_recipients\": 0, \"recipients\": 0, "
		"\"bounces\": 0, \"held_messages\": 0}}}",
		"{\"accounts\": {\"alice@example.com\": {\"sending\": \"held\", \"reason\": "
		"\"bounces\", \"since\": \"yesterday\", \"new_recipients\": 0, \"recipients\": 0, "
		"\"bounces\": 0, \"held_messages\": 0}}}",
		"{\"accounts\": {\"alice@example.com\": {\"sending\": \"held\", \"reason\": "
		"\"bounces\", \"new_recipients\": 0, \"recipients\": 0, \"bounces\": 0, "
		"\"held_messages\": 0}}}",
		"{\"accounts\": {\"alice@example.com\": \"held\"}}",
	};
	/* check-source: end */
	g_autoptr(GString) huge = g_string_new("{\"done\": {");
	g_autofree gchar *patch = NULL;
	g_autofree gchar *before = NULL;
	gpointer input = NULL;
	gchar *error = NULL;
	const ExordosPaasBuilder *b;

	if (x->f == NULL)
		return;
	patch = tick(x, HELD, NULL);
	g_assert_nonnull(patch);
	before = state(x);
	for (guint i = 0; i <= G_N_ELEMENTS(bad); i++) {
		g_autofree gchar *p = NULL;
		g_autofree gchar *now = NULL;

		if (i == G_N_ELEMENTS(bad)) {
			/* more accounts than the node may report */
			for (guint k = 0; k <= 10000; k++)
				g_string_append_printf(huge,
						       "%s\"u%u@example.com\": "
						       "\"0b7e0b7e-0000-4000-8000-000000000001\"",
						       k > 0 ? ", " : "",
						       k);
			g_string_append(huge, "}}");
		}
		p = tick(x, i < G_N_ELEMENTS(bad) ? bad[i] : huge->str, NULL);
		now = state(x);
		g_test_message("report %u", i);
		g_assert_null(p);
		g_assert_cmpstr(now, ==, before);
	}
	g_assert_false(exm_fixture_logs_lack(x->f, "breaker report breaks its bounds"));

	b = x->f->desc->builders->builders[1];
	g_assert_true(b->load(x->f->ctx, x->f->db, x->instance, &input, &error));
	g_assert_false(b->apply(x->f->ctx,
				x->f->db,
				input,
				"{\"breaker\": {\"done\": {\"eve@example.org\": \"x\"}}}",
				&error));
	g_assert_cmpstr(error, ==, "malformed breaker report");
	g_free(error);
	b->input_free(input);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
#define BREAKER_TEST(path, fn) g_test_add(path, Fx, NULL, fx_setup, fn, fx_teardown)
	BREAKER_TEST("/plugin/breaker/thresholds", test_thresholds);
	BREAKER_TEST("/plugin/breaker/actions", test_actions);
	BREAKER_TEST("/plugin/breaker/actions-refused", test_actions_refused);
	BREAKER_TEST("/plugin/breaker/fields-guarded", test_fields_guarded);
	BREAKER_TEST("/plugin/breaker/node-value", test_node_value);
	BREAKER_TEST("/plugin/breaker/report-held", test_report_held);
	BREAKER_TEST("/plugin/breaker/report-done", test_report_done);
	BREAKER_TEST("/plugin/breaker/report-hostile", test_report_hostile);
	return g_test_run();
}
