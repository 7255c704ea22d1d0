/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Usage in the API (issue 16 item 3, docs/usage.md) end to end: the host with
 * the plugin, the engine and the local backend whose node delivers to the dp
 * sink; alice sends one message the sink takes, one it answers 451 and one it
 * answers 550.  The account's and the instance's 24-hour counts, and the
 * instance's recent deliveries, show that run through the public API.  The
 * same report path carries the served certificate (issue 22 item 4,
 * docs/tls.md §4): the instance shows the node's self-signed one.
 */
#include <signal.h>
#include <string.h>

#include "exm-test.h"
#include "test-e2e-fixture.h"

#define USER	 "alice@" E2E_DOMAIN
#define PASSWORD "correct horse battery"

/* Bounded wait (a hang guard) until the account shows the whole run. */
static JsonObject *
wait_account_usage(E2e *e, const gchar *path)
{
	JsonObject *o = NULL;

	for (guint i = 0; i < E2E_WAIT_S * 10; i++) {
		g_clear_pointer(&o, json_object_unref);
		o = e2e_get_json(e, path);
		if (o != NULL && json_object_get_int_member(o, "usage_delivered_24h") >= 1 &&
		    json_object_get_int_member(o, "usage_deferred_24h") >= 1 &&
		    json_object_get_int_member(o, "usage_bounced_24h") >= 1)
			break;
		g_usleep(100 * 1000);
	}
	return o;
}

static void
assert_counts(JsonObject *o)
{
	g_assert_nonnull(o);
	g_assert_cmpint(json_object_get_int_member(o, "usage_accepted_24h"), ==, 3);
	g_assert_cmpint(json_object_get_int_member(o, "usage_delivered_24h"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(o, "usage_deferred_24h"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(o, "usage_bounced_24h"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(o, "usage_held_24h"), ==, 0);
	g_assert_false(json_object_get_null_member(o, "last_login_at"));
}

static void
assert_deliveries(E2e *e, const gchar *instance)
{
	g_autofree gchar *path =
		g_strdup_printf("/v1/types/mail/instances/%s/actions/deliveries", instance);
	g_autoptr(JsonObject) o = e2e_get_json(e, path);
	JsonArray *list;
	guint seen = 0;

	g_assert_nonnull(o);
	list = json_object_get_array_member(o, "deliveries");
	for (guint i = 0; i < json_array_get_length(list); i++) {
		JsonObject *d = json_array_get_object_element(list, i);
		const gchar *status = json_object_get_string_member(d, "status");
		const gchar *reply = json_object_get_string_member(d, "reply");

		g_assert_cmpstr(json_object_get_string_member(d, "account"), ==, USER);
		g_assert_cmpstr(json_object_get_string_member(d, "domain"), ==, "example.net");
		if (g_str_equal(status, "deferred")) {
			seen |= 1;
			g_assert_true(g_str_has_prefix(reply, "451 "));
		} else if (g_str_equal(status, "bounced")) {
			seen |= 2;
			g_assert_true(g_str_has_prefix(reply, "550 "));
		} else {
			seen |= 4;
		}
	}
	g_assert_cmpuint(seen, ==, 7);
}

/* The node's self-signed certificate, as its agent reported it. */
static void
assert_tls(JsonObject *o)
{
	g_autoptr(GDateTime) not_after = NULL;
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autoptr(GDateTime) soon = g_date_time_add_days(now, 300);

	g_assert_cmpstr(json_object_get_string_member(o, "tls_source"), ==, "self_signed");
	g_assert_cmpstr(
		json_object_get_string_member(o, "tls_issuer"), ==, "CN = mail." E2E_DOMAIN);
	not_after = g_date_time_new_from_iso8601(json_object_get_string_member(o, "tls_not_after"),
						 NULL);
	g_assert_nonnull(not_after);
	g_assert_cmpint(g_date_time_compare(not_after, soon), >, 0);
	g_assert_false(json_object_has_member(o, "tls_error"));
}

static void
test_usage(void)
{
	g_auto(E2eSink) sink = { 0 };
	g_autoptr(E2e) e = NULL;
	g_autofree gchar *instance = NULL;
	g_autofree gchar *account = NULL;
	g_autofree gchar *path = NULL;
	g_autoptr(JsonObject) acc = NULL;
	g_autoptr(JsonObject) inst = NULL;
	g_autoptr(ExhLocalNodeInfo) node = NULL;
	g_autoptr(JsonObject) active = NULL;

	e2e_sink_start(&sink);
	e = e2e_new_with_smarthost(TRUE, sink.smarthost);
	if (e != NULL && (instance = e2e_create_instance(e, "usage", E2E_DOMAIN)) != NULL &&
	    (active = e2e_wait_instance(e, instance, "ACTIVE")) != NULL) {
		node = e2e_node(e, instance);
		account = e2e_create_account(e, instance, "alice", PASSWORD);
		g_assert_true(e2e_wait_login(e, node, FALSE, USER, PASSWORD, 235));
		g_assert_cmpint(
			e2e_send_mail(node->ipv4, USER, PASSWORD, "ok@example.net"), ==, 250);
		g_assert_cmpint(
			e2e_send_mail(node->ipv4, USER, PASSWORD, "defer@example.net"), ==, 250);
		g_assert_cmpint(
			e2e_send_mail(node->ipv4, USER, PASSWORD, "bounce@example.net"), ==, 250);
		path = g_strdup_printf(
			"/v1/types/mail/instances/%s/accounts/%s", instance, account);
		acc = wait_account_usage(e, path);
		assert_counts(acc);
		g_free(path);
		path = g_strdup_printf("/v1/types/mail/instances/%s", instance);
		inst = e2e_get_json(e, path);
		assert_counts(inst);
		assert_tls(inst);
		assert_deliveries(e, instance);
	}
}

/* Whether a message to @to reached the sink (its To: header). */
static gboolean
sink_has(const gchar *dir, const gchar *to)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	g_autofree gchar *needle = g_strdup_printf("To: %s", to);
	const gchar *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *path = g_build_filename(dir, name, NULL);
		g_autofree gchar *text = NULL;

		if (g_str_has_suffix(name, ".eml") &&
		    g_file_get_contents(path, &text, NULL, NULL) && strstr(text, needle) != NULL)
			return TRUE;
	}
	return FALSE;
}

/* Bounded wait until the account's `sending` is @want; returns the account. */
static JsonObject *
wait_sending(E2e *e, const gchar *path, const gchar *want)
{
	JsonObject *o = NULL;

	for (guint i = 0; i < E2E_WAIT_S * 10; i++) {
		g_clear_pointer(&o, json_object_unref);
		o = e2e_get_json(e, path);
		if (o != NULL && g_strcmp0(json_object_get_string_member(o, "sending"), want) == 0)
			break;
		g_usleep(100 * 1000);
	}
	return o;
}

/* The circuit breaker end to end (issue 15 item 4, docs/abuse-controls.md
 * §7): the instance allows 3 first-time recipients a day; after a fourth the
 * account trips, its next message is accepted but held on the node (not at
 * the sink), the API shows it held with the reason and counts; a release
 * through the API delivers it and the account sends normally again. */
static void
breaker_run(E2e *e, const gchar *instance, const gchar *dir)
{
	g_autoptr(ExhLocalNodeInfo) node = e2e_node(e, instance);
	g_autofree gchar *account = e2e_create_account(e, instance, "alice", PASSWORD);
	g_autofree gchar *path =
		g_strdup_printf("/v1/types/mail/instances/%s/accounts/%s", instance, account);
	g_autofree gchar *release = g_strconcat(path, "/actions/release/invoke", NULL);
	g_autoptr(JsonObject) held = NULL;
	g_autoptr(JsonObject) normal = NULL;
	g_autoptr(ExhTestResponse) r = NULL;
	JsonObject *counts;

	g_assert_true(e2e_wait_login(e, node, FALSE, USER, PASSWORD, 235));
	for (guint i = 1; i <= 4; i++) {
		g_autofree gchar *to = g_strdup_printf("r%u@example.net", i);

		g_assert_cmpint(e2e_send_mail(node->ipv4, USER, PASSWORD, to), ==, 250);
	}
	held = wait_sending(e, path, "held");
	g_assert_nonnull(held);
	g_assert_cmpstr(json_object_get_string_member(held, "sending"), ==, "held");
	g_assert_cmpstr(json_object_get_string_member(held, "held_reason"), ==, "new_recipients");
	counts = json_object_get_object_member(held, "held_counts");
	g_assert_cmpint(json_object_get_int_member(counts, "new_recipients"), ==, 4);
	/* accepted, not delivered */
	g_assert_cmpint(e2e_send_mail(node->ipv4, USER, PASSWORD, "late@example.net"), ==, 250);
	g_usleep(2 * G_USEC_PER_SEC);
	g_assert_false(sink_has(dir, "late@example.net"));
	r = exh_test_request(e->t, "POST", release, EXH_TEST_TOKEN_OWNER, "{}");
	g_assert_cmpuint(r->status, ==, 200);
	g_assert_nonnull(strstr(r->body, "\"releasing\""));
	normal = wait_sending(e, path, "normal");
	g_assert_nonnull(normal);
	g_assert_cmpstr(json_object_get_string_member(normal, "sending"), ==, "normal");
	for (guint i = 0; i < E2E_WAIT_S * 10 && !sink_has(dir, "late@example.net"); i++)
		g_usleep(100 * 1000);
	if (!sink_has(dir, "late@example.net")) {
		g_autofree gchar *log = g_build_filename(node->root, "var/log/exim4/mainlog", NULL);
		g_autofree gchar *text = NULL;

		g_file_get_contents(log, &text, NULL, NULL);
		g_test_message("the node's main log:\n%s", text != NULL ? text : "(none)");
	}
	g_assert_true(sink_has(dir, "late@example.net"));
}

static void
test_breaker(void)
{
	g_auto(E2eSink) sink = { 0 };
	g_autoptr(E2e) e = NULL;
	g_autofree gchar *instance = NULL;
	g_autoptr(JsonObject) active = NULL;

	e2e_sink_start(&sink);
	e = e2e_new_with_smarthost(TRUE, sink.smarthost);
	if (e != NULL && (instance = e2e_create_instance(e, "breaker", E2E_DOMAIN)) != NULL &&
	    (active = e2e_wait_instance(e, instance, "ACTIVE")) != NULL) {
		g_autofree gchar *path = g_strdup_printf("/v1/types/mail/instances/%s", instance);
		g_autoptr(ExhTestResponse) r =
			exh_test_request(e->t,
					 "PUT",
					 path,
					 EXH_TEST_TOKEN_OWNER,
					 "{\"breaker_new_recipients_per_day\": 3}");

		g_assert_cmpuint(r->status, ==, 200);
		breaker_run(e, instance, sink.dir);
	}
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/e2e/usage", test_usage);
	g_test_add_func("/e2e/breaker", test_breaker);
	return g_test_run();
}
