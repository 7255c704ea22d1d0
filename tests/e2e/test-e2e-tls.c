/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A tenant's own certificate end to end (issue 22 item 3, docs/tls.md §3):
 * the host with the plugin, the engine and the local backend whose node runs
 * exim and the real agent.  The unit suite's chain for mail.example.com and
 * its key, made afresh for the run (exm_test_make_certs()), go through the public API's
 * `certificate` action; the node value carries them to the agent, which installs them; the
 * instance's tls_source turns `custom`, and a client that verifies (tests/dp/tls-verify.py,
 * trusting the unit suite's root) connects by mail.example.com on 587 and
 * 465.  The answers and the node's logs (the agent's, exim's) carry no key.  `certificate_remove`
 * brings the self-signed certificate back.
 */
#include "exm-config.h"

#include <string.h>

#include "exm-test.h"
#include "test-e2e-fixture.h"

/* This run's certificates (exm_test_make_certs(): the node checks them
 * against the real clock). */
static gchar *certs;

static gchar *
unit_file(const gchar *name)
{
	g_autofree gchar *path = g_build_filename(certs, name, NULL);

	return exm_test_read_file(path);
}

/* `{"chain": leaf+intermediate+root, "key": the leaf's key}`. */
static gchar *
cert_body(const gchar *key)
{
	g_autofree gchar *leaf = unit_file("rsa.pem");
	g_autofree gchar *inter = unit_file("inter.pem");
	g_autofree gchar *root = unit_file("root.pem");
	g_autofree gchar *chain = g_strconcat(leaf, inter, root, NULL);
	g_autoptr(JsonObject) o = json_object_new();
	g_autoptr(JsonNode) node = NULL;

	json_object_set_string_member(o, "chain", chain);
	json_object_set_string_member(o, "key", key);
	node = json_node_init_object(json_node_alloc(), o);
	return json_to_string(node, FALSE);
}

/* Bounded wait (a hang guard) until the instance's tls_source is @want. */
static JsonObject *
wait_tls_source(E2e *e, const gchar *path, const gchar *want)
{
	JsonObject *o = NULL;

	for (guint i = 0; i < E2E_WAIT_S * 10; i++) {
		g_clear_pointer(&o, json_object_unref);
		o = e2e_get_json(e, path);
		if (o != NULL && json_object_has_member(o, "tls_source") &&
		    g_strcmp0(json_object_get_string_member(o, "tls_source"), want) == 0)
			break;
		g_usleep(100 * 1000);
	}
	return o;
}

/* A verifying client on @port_name, trusting the unit root, by name. */
static gboolean
verifies(const ExhLocalNodeInfo *node, const gchar *port_name, const gchar *mode)
{
	g_autofree gchar *port = g_strdup_printf("%u", exh_local_node_info_port(node, port_name));
	g_autofree gchar *root = g_build_filename(certs, "root.pem", NULL);
	const gchar *argv[] = { "/usr/bin/python3",
				EXM_SOURCE_ROOT "/tests/dp/tls-verify.py",
				node->ipv4,
				port,
				mode,
				"mail." E2E_DOMAIN,
				root,
				NULL };
	g_autofree gchar *out = NULL;
	g_autoptr(JsonNode) json = NULL;

	g_assert_cmpint(exm_test_run(argv, &out, NULL), ==, 0);
	json = json_from_string(out, NULL);
	g_assert_nonnull(json);
	g_test_message("%s %s: %s", port_name, mode, out);
	return json_object_get_boolean_member(json_node_get_object(json), "ok");
}

static void
assert_no_key(const gchar *text, const gchar *key)
{
	g_autofree gchar *line = g_strndup(strchr(key, '\n') + 1, 40);

	g_assert_null(strstr(text, line));
	g_assert_null(strstr(text, "PRIVATE KEY"));
}

/* Every log the node wrote (the agent's and exim's) carries no key bytes. */
static void
assert_logs_lack_key(const ExhLocalNodeInfo *node, const gchar *key)
{
	g_autofree gchar *logs = g_build_filename(node->dir, "log", NULL);
	g_autofree gchar *exim = g_build_filename(node->root, "var", "log", "exim4", NULL);
	const gchar *const dirs[] = { logs, exim };
	guint seen = 0;

	for (guint i = 0; i < G_N_ELEMENTS(dirs); i++) {
		g_autoptr(GDir) d = g_dir_open(dirs[i], 0, NULL);
		const gchar *name;

		while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
			g_autofree gchar *path = g_build_filename(dirs[i], name, NULL);
			g_autofree gchar *text = NULL;

			if (!g_file_test(path, G_FILE_TEST_IS_REGULAR) ||
			    !g_file_get_contents(path, &text, NULL, NULL))
				continue;
			g_test_message("scanned %s", path);
			assert_no_key(text, key);
			seen++;
		}
	}
	g_assert_cmpuint(seen, >, 0);
}

static void
run(E2e *e, const gchar *instance)
{
	g_autoptr(ExhLocalNodeInfo) node = e2e_node(e, instance);
	g_autofree gchar *path = g_strdup_printf("/v1/types/mail/instances/%s", instance);
	g_autofree gchar *put = g_strconcat(path, "/actions/certificate/invoke", NULL);
	g_autofree gchar *rm = g_strconcat(path, "/actions/certificate_remove/invoke", NULL);
	g_autofree gchar *key = unit_file("rsa.key");
	g_autofree gchar *body = cert_body(key);
	g_autoptr(JsonObject) before = wait_tls_source(e, path, "self_signed");
	g_autoptr(JsonObject) custom = NULL;
	g_autoptr(JsonObject) back = NULL;

	g_assert_cmpstr(json_object_get_string_member(before, "tls_source"), ==, "self_signed");
	g_assert_false(verifies(node, "submission", "starttls"));
	{
		g_autoptr(ExhTestResponse) r =
			exh_test_request(e->t, "POST", put, EXH_TEST_TOKEN_OWNER, body);

		g_assert_cmpuint(r->status, ==, 200);
		assert_no_key(r->body, key);
	}
	custom = wait_tls_source(e, path, "custom");
	g_assert_cmpstr(json_object_get_string_member(custom, "tls_source"), ==, "custom");
	g_assert_cmpstr(
		json_object_get_string_member(custom, "tls_issuer"), ==, "CN = Test Intermediate");
	g_assert_true(verifies(node, "submission", "starttls"));
	g_assert_true(verifies(node, "smtps", "tls"));
	{
		g_autoptr(ExhTestResponse) get =
			exh_test_request(e->t, "GET", path, EXH_TEST_TOKEN_OWNER, NULL);

		assert_no_key(get->body, key);
	}
	{
		g_autoptr(ExhTestResponse) r =
			exh_test_request(e->t, "POST", rm, EXH_TEST_TOKEN_OWNER, "{}");

		g_assert_cmpuint(r->status, ==, 204);
	}
	assert_logs_lack_key(node, key);
	back = wait_tls_source(e, path, "self_signed");
	g_assert_cmpstr(json_object_get_string_member(back, "tls_source"), ==, "self_signed");
	g_assert_false(verifies(node, "smtps", "tls"));
}

static void
test_custom_certificate(void)
{
	g_autoptr(E2e) e = e2e_new(TRUE);
	g_autofree gchar *instance = NULL;
	g_autoptr(JsonObject) active = NULL;

	certs = exm_test_make_certs();
	if (certs != NULL && e != NULL &&
	    (instance = e2e_create_instance(e, "tls", E2E_DOMAIN)) != NULL &&
	    (active = e2e_wait_instance(e, instance, "ACTIVE")) != NULL)
		run(e, instance);
}

int
main(int argc, char **argv)
{
	int rc;

	exh_test_init(&argc, &argv);
	g_test_add_func("/e2e/tls/custom-certificate", test_custom_certificate);
	rc = g_test_run();
	exm_test_rmtree(certs);
	g_free(certs);
	return rc;
}
