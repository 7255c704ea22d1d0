/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The sandbox (issue 16 item 4, docs/sandbox.md) end to end: the host with
 * the plugin, the engine and the local backend whose node would deliver to
 * the dp sink; alice, created with `sandbox: true`, sends one message.  It
 * never reaches the sink; the account's `actions/captured` lists it, signed
 * by the node's DKIM key as the agent checked it, and `?id=` hands out the
 * whole message as exim captured it.
 */
#include <signal.h>
#include <string.h>

#include "exm-test.h"
#include "test-e2e-fixture.h"

#define USER	 "alice@" E2E_DOMAIN
#define PASSWORD "correct horse battery"

/* alice with the sandbox on from her creation, so the node's first value
 * that lets her log in already captures her mail. */
static gchar *
create_sandboxed(E2e *e, const gchar *instance)
{
	g_autofree gchar *path = g_strdup_printf("/v1/types/mail/instances/%s/accounts/", instance);
	g_autofree gchar *body = g_strdup_printf(
		"{\"username\": \"alice\", \"password\": \"%s\", \"sandbox\": true}", PASSWORD);
	g_autoptr(ExhTestResponse) r =
		exh_test_request(e->t, "POST", path, EXH_TEST_TOKEN_OWNER, body);

	g_assert_cmpuint(r->status, ==, 201);
	return g_strdup(exh_test_response_get_string(r, "uuid"));
}

/* Bounded wait (a hang guard) until the action lists a message. */
static JsonObject *
wait_captured(E2e *e, const gchar *path)
{
	JsonObject *o = NULL;

	for (guint i = 0; i < E2E_WAIT_S * 10; i++) {
		g_clear_pointer(&o, json_object_unref);
		o = e2e_get_json(e, path);
		if (o != NULL &&
		    json_array_get_length(json_object_get_array_member(o, "captured")) > 0)
			break;
		g_usleep(100 * 1000);
	}
	return o;
}

/* The listed message, then the whole of it by its id. */
static void
assert_captured(E2e *e, const gchar *path, JsonObject *list)
{
	JsonArray *items;
	JsonObject *m;
	g_autofree gchar *one = NULL;
	g_autoptr(JsonObject) full = NULL;
	g_autofree guchar *text = NULL;
	g_autofree gchar *message = NULL;
	gsize len = 0;

	g_assert_nonnull(list);
	items = json_object_get_array_member(list, "captured");
	g_assert_cmpuint(json_array_get_length(items), ==, 1);
	m = json_array_get_object_element(items, 0);
	g_test_message("captured %s: dkim %s (%s)",
		       json_object_get_string_member(m, "id"),
		       json_object_get_string_member(m, "dkim"),
		       json_object_get_string_member(m, "dkim_detail"));
	g_assert_cmpstr(json_object_get_string_member(m, "account"), ==, USER);
	g_assert_cmpstr(json_array_get_string_element(json_object_get_array_member(m, "to"), 0),
			==,
			"someone@example.net");
	g_assert_cmpstr(json_object_get_string_member(m, "dkim"), ==, "pass");
	g_assert_true(json_object_get_boolean_member(m, "has_message"));
	g_assert_false(json_object_has_member(m, "raw"));
	one = g_strdup_printf("%s?id=%s", path, json_object_get_string_member(m, "id"));
	full = e2e_get_json(e, one);
	g_assert_nonnull(full);
	text = g_base64_decode(json_object_get_string_member(full, "message_base64"), &len);
	message = g_strndup((const gchar *)text, len);
	g_assert_nonnull(strstr(message, "DKIM-Signature:"));
	g_assert_nonnull(strstr(message, "X-Exordos-Sandbox: " USER));
	g_assert_nonnull(strstr(message, "Subject: dp test"));
}

static gboolean
dir_empty(const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);

	return d == NULL || g_dir_read_name(d) == NULL;
}

static void
test_sandbox(void)
{
	g_auto(E2eSink) sink = { 0 };
	g_autoptr(E2e) e = NULL;
	g_autofree gchar *instance = NULL;
	g_autofree gchar *account = NULL;
	g_autofree gchar *path = NULL;
	g_autoptr(ExhLocalNodeInfo) node = NULL;
	g_autoptr(JsonObject) active = NULL;
	g_autoptr(JsonObject) list = NULL;

	e2e_sink_start(&sink);
	e = e2e_new_with_smarthost(TRUE, sink.smarthost);
	if (e != NULL && (instance = e2e_create_instance(e, "sandbox", E2E_DOMAIN)) != NULL &&
	    (active = e2e_wait_instance(e, instance, "ACTIVE")) != NULL) {
		node = e2e_node(e, instance);
		account = create_sandboxed(e, instance);
		g_assert_true(e2e_wait_login(e, node, FALSE, USER, PASSWORD, 235));
		g_assert_cmpint(
			e2e_send_mail(node->ipv4, USER, PASSWORD, "someone@example.net"), ==, 250);
		path = g_strdup_printf("/v1/types/mail/instances/%s/accounts/%s/actions/captured",
				       instance,
				       account);
		list = wait_captured(e, path);
		assert_captured(e, path, list);
		g_assert_true(dir_empty(sink.dir));
	}
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/e2e/sandbox", test_sandbox);
	return g_test_run();
}
