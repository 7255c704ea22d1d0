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
	gint port = exm_test_free_port();
	g_autofree gchar *smarthost = g_strdup_printf("127.0.0.1:%d", port);
	g_autofree gchar *dir = exm_test_mkdtemp("e2e-sink");
	GPid sink = e2e_start_sink(port, dir);
	g_autoptr(E2e) e = e2e_new_with_smarthost(TRUE, smarthost);
	g_autofree gchar *instance = NULL;
	g_autofree gchar *account = NULL;
	g_autofree gchar *path = NULL;
	g_autoptr(JsonObject) acc = NULL;
	g_autoptr(JsonObject) inst = NULL;
	g_autoptr(ExhLocalNodeInfo) node = NULL;
	g_autoptr(JsonObject) active = NULL;

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
	kill(sink, SIGKILL);
	g_spawn_close_pid(sink);
	exm_test_rmtree(dir);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/e2e/usage", test_usage);
	return g_test_run();
}
