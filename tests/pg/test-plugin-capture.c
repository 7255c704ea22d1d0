/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The sandbox through the plugin ABI on a real PostgreSQL (docs/sandbox.md
 * §2–§3): the account's `sandbox` field, the node's captured report copied by
 * the paas builder (only when it changed, never when it breaks its bounds),
 * and `actions/captured`, which shows each account its own messages only.
 */
#include <string.h>

#include "exm-test.h"
#include "test-plugin-fixture.h"

#define ID1 "1tKq2x-0004Ab-C1"
#define ID2 "1tKq2x-0004Ab-C2"
#define ID3 "1tKq2x-0004Ab-C3"
/* "Hello, world!\r\n" */
#define RAW1 "SGVsbG8sIHdvcmxkIQ0K"

/* Two accounts of i1 (alice, bob), one of i2 (dave), both of project P1. */
typedef struct {
	ExmFixture *f;
	gchar *i1;
	gchar *i2;
	gchar *alice; /* paths of their actions/captured */
	gchar *bob;
	gchar *dave;
} CaptureFixture;

static gchar *
captured_path(const gchar *instance, const gchar *account)
{
	return g_strdup_printf("instances/%s/accounts/%s/actions/captured", instance, account);
}

static void
capture_fixture_setup(CaptureFixture *c, gconstpointer data)
{
	g_autofree gchar *v1 = NULL;
	g_autofree gchar *a = NULL;
	g_autofree gchar *b = NULL;
	g_autofree gchar *d = NULL;

	c->f = exm_fixture_new();
	if (c->f == NULL)
		return;
	v1 = exm_fixture_version(c->f, "exim4_1");
	c->i1 = exm_fixture_instance(c->f, &exm_who_owner1, NULL, v1, "m1");
	c->i2 = exm_fixture_instance(c->f, &exm_who_owner1, NULL, v1, "m2");
	a = exm_fixture_account(c->f, &exm_who_owner1, c->i1, "alice");
	b = exm_fixture_account(c->f, &exm_who_owner1, c->i1, "bob");
	d = exm_fixture_account(c->f, &exm_who_owner1, c->i2, "dave");
	c->alice = captured_path(c->i1, a);
	c->bob = captured_path(c->i1, b);
	c->dave = captured_path(c->i2, d);
}

static void
capture_fixture_teardown(CaptureFixture *c, gconstpointer data)
{
	exm_fixture_free(c->f);
	g_free(c->i1);
	g_free(c->i2);
	g_free(c->alice);
	g_free(c->bob);
	g_free(c->dave);
}

/* A message of @account @hours_ago, with `raw` when @raw is set. */
static gchar *
message(const gchar *id, const gchar *account, gint hours_ago, const gchar *raw)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autoptr(GDateTime) then = g_date_time_add_hours(now, -hours_ago);
	g_autofree gchar *t = g_date_time_format(then, "%Y-%m-%dT%H:%M:%S.%fZ");

	return g_strdup_printf(
		"{\"id\": \"%s\", \"account\": \"%s\", \"time\": \"%s\", "
		"\"size\": 15, \"from\": \"%s\", \"to\": [\"x@example.net\"], "
		"\"subject\": \"Hello\", \"message_id\": \"<m@example.com>\", "
		"\"dkim\": \"pass\", \"dkim_detail\": \"d=example.com s=platform\"%s%s%s}",
		id,
		account,
		t,
		account,
		raw != NULL ? ", \"raw\": \"" : "",
		raw != NULL ? raw : "",
		raw != NULL ? "\"" : "");
}

/* The node's report: alice's ID1 (in full) and ID3, bob's ID2, oldest first. */
static gchar *
good_report(void)
{
	g_autofree gchar *m1 = message(ID1, "alice@example.com", 3, RAW1);
	g_autofree gchar *m2 = message(ID2, "bob@example.com", 2, NULL);
	g_autofree gchar *m3 = message(ID3, "alice@example.com", 1, NULL);

	return g_strdup_printf("\"captured\": {\"messages\": [%s, %s, %s]}", m1, m2, m3);
}

/* One paas builder pass over i1, the node reporting @member: the text
 * `"captured": <value>` (%NULL: no such member). */
static gchar *
capture_tick(CaptureFixture *c, const gchar *member)
{
	static const gchar prefix[] = "\"captured\": ";

	g_assert_true(member == NULL || g_str_has_prefix(member, prefix));
	return exm_fixture_paas_tick(
		c->f, c->i1, "captured", member != NULL ? member + strlen(prefix) : NULL, NULL);
}

/* xmin and hash of i1's row: what a write would move. */
static gchar *
capture_row(CaptureFixture *c)
{
	g_autofree gchar *sql = g_strdup_printf("SELECT xmin::text || ' ' || hash FROM "
						"mail_instance_captures WHERE instance = '%s'",
						c->i1);
	return exm_fixture_scalar(c->f, sql);
}

static gchar *
updated_at(CaptureFixture *c)
{
	g_autofree gchar *sql = g_strdup_printf(
		"SELECT updated_at::text FROM mail_instances WHERE uuid = '%s'", c->i1);
	return exm_fixture_scalar(c->f, sql);
}

static JsonArray *
captured_list(ExmReply *r)
{
	return json_object_get_array_member(json_node_get_object(r->json), "captured");
}

/* `sandbox` is a boolean like `active`: false by default, written on create
 * and update, a filter; anything but true/false is a 400 naming it. */
static void
test_capture_field(CaptureFixture *c, gconstpointer data)
{
	g_autofree gchar *coll = NULL;
	g_autofree gchar *body = NULL;
	g_autofree gchar *alice = NULL;
	g_autoptr(ExmReply) r = NULL;

	if (c->f == NULL)
		return;
	coll = exm_fixture_accounts_path(c->i1);
	alice = g_strndup(c->alice, strlen(c->alice) - strlen("/actions/captured"));
	r = exm_fixture_call(c->f, NULL, &exm_who_owner1, "GET", alice, NULL, NULL);
	exm_assert_status(r, 200);
	g_assert_false(json_object_get_boolean_member(json_node_get_object(r->json), "sandbox"));
	g_clear_pointer(&r, exm_reply_free);
	body = g_strdup_printf(
		"{\"username\": \"stage\", \"password_hash\": \"%s\", \"sandbox\": true}",
		EXM_HASH6);
	r = exm_fixture_call(c->f, NULL, &exm_who_owner1, "POST", coll, NULL, body);
	exm_assert_status(r, 201);
	g_assert_true(json_object_get_boolean_member(json_node_get_object(r->json), "sandbox"));
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(
		c->f, NULL, &exm_who_owner1, "PUT", alice, NULL, "{\"sandbox\": \"yes\"}");
	g_assert_cmpuint(r->status, ==, 400);
	g_assert_nonnull(strstr(r->body, "sandbox"));
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(c->f, NULL, &exm_who_owner1, "PUT", alice, NULL, "{\"sandbox\": 1}");
	g_assert_cmpuint(r->status, ==, 400);
	g_assert_nonnull(strstr(r->body, "sandbox"));
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(
		c->f, NULL, &exm_who_owner1, "PUT", alice, NULL, "{\"sandbox\": true}");
	exm_assert_status(r, 200);
	g_assert_true(json_object_get_boolean_member(json_node_get_object(r->json), "sandbox"));
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(c->f, NULL, &exm_who_owner1, "GET", coll, "sandbox=true", NULL);
	exm_assert_status(r, 200);
	g_assert_cmpuint(exm_reply_len(r), ==, 2);
}

/* Each account sees its own messages, newest first, without their text;
 * `?id=` gives one kept in full. */
static void
check_lists(CaptureFixture *c)
{
	g_autoptr(ExmReply) r =
		exm_fixture_call(c->f, NULL, &exm_who_owner1, "GET", c->alice, NULL, NULL);
	g_autoptr(ExmReply) b = NULL;
	g_autoptr(ExmReply) d = NULL;
	JsonArray *list;

	exm_assert_status(r, 200);
	list = captured_list(r);
	g_assert_cmpuint(json_array_get_length(list), ==, 2);
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(list, 0), "id"),
			==,
			ID3);
	g_assert_false(json_object_get_boolean_member(json_array_get_object_element(list, 0),
						      "has_message"));
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(list, 1), "id"),
			==,
			ID1);
	g_assert_true(json_object_get_boolean_member(json_array_get_object_element(list, 1),
						     "has_message"));
	g_assert_null(strstr(r->body, "\"raw\""));
	g_assert_null(strstr(r->body, RAW1));
	g_assert_nonnull(exm_reply_str(r, "reported_at"));
	g_assert_cmpint(exm_reply_int(r, "max_messages"), ==, 100);
	g_assert_cmpint(exm_reply_int(r, "max_age_seconds"), ==, 604800);
	b = exm_fixture_call(c->f, NULL, &exm_who_owner1, "GET", c->bob, NULL, NULL);
	exm_assert_status(b, 200);
	g_assert_cmpuint(json_array_get_length(captured_list(b)), ==, 1);
	g_assert_cmpstr(json_object_get_string_member(
				json_array_get_object_element(captured_list(b), 0), "id"),
			==,
			ID2);
	d = exm_fixture_call(c->f, NULL, &exm_who_owner1, "GET", c->dave, NULL, NULL);
	exm_assert_status(d, 200);
	g_assert_cmpuint(json_array_get_length(captured_list(d)), ==, 0);
	g_assert_true(json_object_get_null_member(json_node_get_object(d->json), "reported_at"));
}

/* `?id=`: the message in full, or a 404; any other argument is a 400; the
 * read permission is enough, another project sees nothing. */
static void
check_one(CaptureFixture *c)
{
	static const gchar *const missing[] = {
		"id=" ID3, "id=" ID2, "id=1tKq2x-0004Ab-ZZ", "id=../../etc", "id="
	};
	g_autoptr(ExmReply) r =
		exm_fixture_call(c->f, NULL, &exm_who_readonly1, "GET", c->alice, "id=" ID1, NULL);
	g_autoptr(ExmReply) bad = NULL;
	g_autoptr(ExmReply) other = NULL;
	g_autofree guchar *text = NULL;
	gsize len = 0;

	exm_assert_status(r, 200);
	g_assert_cmpstr(exm_reply_str(r, "id"), ==, ID1);
	g_assert_cmpstr(exm_reply_str(r, "message_base64"), ==, RAW1);
	g_assert_false(exm_reply_has(r, "raw"));
	text = g_base64_decode(exm_reply_str(r, "message_base64"), &len);
	g_assert_cmpmem(text, len, "Hello, world!\r\n", 15);
	for (guint i = 0; i < G_N_ELEMENTS(missing); i++) {
		g_autoptr(ExmReply) m = exm_fixture_call(
			c->f, NULL, &exm_who_owner1, "GET", c->alice, missing[i], NULL);

		exm_assert_error(m, 404, "RecordNotFound");
	}
	bad = exm_fixture_call(c->f, NULL, &exm_who_owner1, "GET", c->alice, "since=1", NULL);
	exm_assert_error(bad, 400, "ValidationError");
	g_assert_nonnull(strstr(bad->body, "since"));
	other = exm_fixture_call(c->f, NULL, &exm_who_owner2, "GET", c->alice, NULL, NULL);
	g_assert_cmpuint(other->status, ==, 404);
	g_assert_null(strstr(other->body, ID1));
}

static void
test_capture_report(CaptureFixture *c, gconstpointer data)
{
	g_autofree gchar *report = NULL;
	g_autofree gchar *patch = NULL;
	g_autofree gchar *same = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *row = NULL;
	g_autofree gchar *row2 = NULL;
	g_autoptr(ExmReply) r = NULL;

	if (c->f == NULL)
		return;
	report = good_report();
	/* a first pass takes the instance ACTIVE (its own patch); no report yet
	 * writes no row */
	g_free(capture_tick(c, NULL));
	g_assert_cmpint(exm_fixture_count(c->f, "mail_instance_captures"), ==, 0);
	before = updated_at(c);
	patch = capture_tick(c, report);
	g_assert_nonnull(strstr(patch, "captured"));
	after = updated_at(c);
	g_assert_cmpstr(after, ==, before);
	check_lists(c);
	check_one(c);
	/* the same report again writes nothing */
	row = capture_row(c);
	same = capture_tick(c, report);
	g_assert_true(same == NULL || strstr(same, "captured") == NULL);
	row2 = capture_row(c);
	g_assert_cmpstr(row2, ==, row);
	/* the node keeping nothing leaves out the member: the list empties */
	g_free(patch);
	patch = capture_tick(c, NULL);
	g_assert_nonnull(strstr(patch, "captured"));
	r = exm_fixture_call(c->f, NULL, &exm_who_owner1, "GET", c->alice, NULL, NULL);
	exm_assert_status(r, 200);
	g_assert_cmpuint(json_array_get_length(captured_list(r)), ==, 0);
}

/* The node target's value the paas builder makes from the database. */
static void
node_value_sink(gpointer sink,
		const gchar *kind,
		const gchar *uuid,
		const gchar *value,
		const gchar *agent,
		const gchar *status)
{
	gchar **out = sink;

	g_free(*out);
	*out = g_strdup(value);
}

static void
node_value_instance(gpointer sink, const gchar *value, const gchar *status)
{
}

static void
node_value_patch(gpointer sink, const gchar *patch)
{
}

static void
node_value_not_ready(gpointer sink, const gchar *reason)
{
	g_test_message("not ready: %s", reason);
}

static gchar *
node_value(CaptureFixture *c)
{
	const ExordosPaasBuilder *b = c->f->desc->builders->builders[1];
	ExordosPaasResource ns = {
		"node_set", c->i1, "{\"nodes\": {\"5eed0000-1111-4222-8333-444455556666\": {}}}",
		"ACTIVE",   "h0",  "h0",
		NULL
	};
	ExordosPaasResourcePair pair = { &ns, &ns };
	const ExordosPaasResourcePair *pairs[] = { &pair, NULL };
	ExordosPaasBuildView view = { sizeof(view), c->i1, pairs };
	gchar *value = NULL;
	ExordosPaasBuildSink sink = { sizeof(sink),	   &value,	     node_value_sink,
				      node_value_instance, node_value_patch, node_value_not_ready };
	gpointer input = NULL;
	g_autofree gchar *error = NULL;

	g_assert_true(b->load(c->f->ctx, c->f->db, c->i1, &input, &error));
	g_assert_true(b->build(c->f->ctx, input, &view, &sink, &error));
	g_assert_null(error);
	b->input_free(input);
	return value;
}

/* The node value says `sandbox: true` for alice once she is sandboxed, never
 * for bob (docs/sandbox.md §1). */
static void
test_capture_node_value(CaptureFixture *c, gconstpointer data)
{
	g_autofree gchar *alice = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr(JsonNode) value = NULL;
	g_autoptr(ExmReply) r = NULL;
	JsonObject *accounts;

	if (c->f == NULL)
		return;
	text = node_value(c);
	g_assert_null(strstr(text, "sandbox"));
	alice = g_strndup(c->alice, strlen(c->alice) - strlen("/actions/captured"));
	r = exm_fixture_call(
		c->f, NULL, &exm_who_owner1, "PUT", alice, NULL, "{\"sandbox\": true}");
	exm_assert_status(r, 200);
	g_free(text);
	text = node_value(c);
	value = json_from_string(text, NULL);
	accounts = json_object_get_object_member(json_node_get_object(value), "accounts");
	g_assert_true(json_object_get_boolean_member(
		json_object_get_object_member(accounts, "alice"), "sandbox"));
	g_assert_false(
		json_object_has_member(json_object_get_object_member(accounts, "bob"), "sandbox"));
}

/* @n messages of alice, each with `raw` @raw (%NULL: none). */
static gchar *
messages(guint n, const gchar *raw)
{
	g_autoptr(GString) s = g_string_new("\"captured\": {\"messages\": [");

	for (guint i = 0; i < n; i++) {
		g_autofree gchar *id = g_strdup_printf("1tKq2x-0004Ab-%03u", i);
		g_autofree gchar *m = message(id, "alice@example.com", 1, raw);

		g_string_append_printf(s, "%s%s", i > 0 ? ", " : "", m);
	}
	g_string_append(s, "]}");
	return g_string_free(g_steal_pointer(&s), FALSE);
}

/* The good report with @from replaced by @to. */
static gchar *
altered(const gchar *from, const gchar *to)
{
	g_autofree gchar *report = good_report();
	GString *s = g_string_new(report);

	g_assert_cmpuint(g_string_replace(s, from, to, 1), ==, 1);
	return g_string_free(s, FALSE);
}

/* How many times the host was told of a refused captured report. */
static guint
warnings(CaptureFixture *c)
{
	guint n = 0;

	g_mutex_lock(&c->f->log_lock);
	for (guint i = 0; i < c->f->logs->len; i++)
		n += strstr(g_ptr_array_index(c->f->logs, i), "captured report") != NULL;
	g_mutex_unlock(&c->f->log_lock);
	return n;
}

/* A report breaking any bound is ignored as a whole, with a warning: the
 * stored one stays, byte for byte. */
static void
test_capture_hostile(CaptureFixture *c, gconstpointer data)
{
	g_autofree gchar *report = NULL;
	g_autofree gchar *patch = NULL;
	g_autofree gchar *row = NULL;
	g_autofree gchar *huge = NULL;
	g_autoptr(GPtrArray) bad = g_ptr_array_new_with_free_func(g_free);
	g_autofree guchar *bytes = g_malloc0(64 * 1024 + 1);

	if (c->f == NULL)
		return;
	report = good_report();
	patch = capture_tick(c, report);
	g_assert_nonnull(patch);
	row = capture_row(c);
	g_assert_cmpuint(warnings(c), ==, 0);
	huge = g_base64_encode(bytes, 64 * 1024 + 1);
	g_ptr_array_add(bad,
			altered("\"account\": \"alice@example.com\"",
				"\"account\": \"alice@example.org\""));
	g_ptr_array_add(bad, altered(ID1, "1tKq2x0004AbC1"));
	g_ptr_array_add(bad, altered("\"size\": 15", "\"size\": -1"));
	g_ptr_array_add(bad, messages(6, RAW1));
	g_ptr_array_add(bad, messages(1, huge));
	g_ptr_array_add(bad, messages(1, "SGk"));
	g_ptr_array_add(bad, messages(101, NULL));
	g_ptr_array_add(bad, altered("\"dkim\": \"pass\"", "\"dkim\": \"maybe\""));
	g_ptr_array_add(bad, altered("\"subject\": \"Hello\"", "\"subject\": \"He\\u0007llo\""));
	g_ptr_array_add(bad, g_strdup("\"captured\": [\"not an object\"]"));
	for (guint i = 0; i < bad->len; i++) {
		guint before = warnings(c);
		g_autofree gchar *p = capture_tick(c, bad->pdata[i]);
		g_autofree gchar *now = capture_row(c);

		g_test_message("hostile report %u", i);
		g_assert_true(p == NULL || strstr(p, "captured") == NULL);
		g_assert_cmpstr(now, ==, row);
		g_assert_cmpuint(warnings(c), ==, before + 1);
	}
	check_lists(c);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
#define CAPTURE_TEST(path, fn)                                                                     \
	g_test_add(path, CaptureFixture, NULL, capture_fixture_setup, fn, capture_fixture_teardown)
	CAPTURE_TEST("/plugin/capture/field", test_capture_field);
	CAPTURE_TEST("/plugin/capture/node-value", test_capture_node_value);
	CAPTURE_TEST("/plugin/capture/report", test_capture_report);
	CAPTURE_TEST("/plugin/capture/hostile", test_capture_hostile);
	return g_test_run();
}
