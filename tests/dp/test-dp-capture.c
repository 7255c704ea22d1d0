/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The sandbox (issue 16 item 4, docs/sandbox.md) against a real exim: a
 * sandboxed account's mail is accepted, DKIM-signed and kept in the capture
 * directory instead of reaching the sink, while another account's mail is
 * delivered; the capture port takes mail from the node's capture address
 * only; the agent lists what was captured, with the DKIM result of its own
 * verification, in the node's actual value.
 */
#include <string.h>

#include "exm-dp-driver.h"
#include "exm-dp-fixture.h"
#include "exm-json.h"
#include "exm-test.h"

#define UUID  "0b7e2f5c-3d4a-4e5f-8a6b-7c8d9e0f1a2d"
#define STAGE "stage@example.com"
#define PROD  "prod@example.com"

typedef struct {
	ExmDpFixture *fx;
	ExmDpDriver *driver;
	gchar *hash;
} Node;

static void
node_free(Node *n)
{
	g_clear_pointer(&n->driver, exm_dp_driver_free);
	g_clear_pointer(&n->fx, exm_dp_fixture_free);
	g_free(n->hash);
}

/* stage (sandboxed) and prod, both with password "pw"; returns the actual value. */
static JsonNode *
apply(Node *n)
{
	const gchar *accounts[] = { "stage", n->hash, "1", "prod", n->hash, "1", NULL };
	g_autoptr(JsonNode) value = exm_dp_node_value(UUID, accounts);
	g_autoptr(GError) error = NULL;
	JsonNode *actual;
	JsonObject *acc = json_object_get_object_member(
		json_object_get_object_member(json_node_get_object(value), "accounts"), "stage");

	json_object_set_boolean_member(acc, "sandbox", TRUE);
	actual = exm_dp_driver_apply(n->driver, value, NULL, &error);
	g_assert_no_error(error);
	return actual;
}

static gboolean
node_up(Node *n)
{
	g_autoptr(GError) error = NULL;

	if (!exm_dp_have_exim_and_sink())
		return FALSE;
	n->hash = exm_dp_hash("$6$", "pw");
	n->fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	g_assert_true(exm_dp_fixture_configure(n->fx, &error) &&
		      exm_dp_fixture_start_sink(n->fx, &error) &&
		      exm_dp_fixture_start_exim(n->fx, &error));
	g_assert_no_error(error);
	n->driver = exm_dp_driver_new(n->fx->config, &error);
	g_assert_no_error(error);
	json_node_unref(apply(n));
	return TRUE;
}

static JsonObject *
send_as(Node *n, const gchar *port, const gchar *user, const gchar *to)
{
	const gchar *argv[] = { "send", n->fx->addr,
				port,	g_str_equal(port, "587") ? "starttls" : "plain",
				user,	"pw",
				user,	to,
				NULL };
	g_autoptr(GError) error = NULL;
	JsonObject *obj = exm_dp_fixture_client(argv, &error);

	g_assert_no_error(error);
	return obj;
}

/* The files of a maildir's new/ (bounded wait for @want of them). */
static GPtrArray *
wait_files(const gchar *dir, guint want)
{
	GPtrArray *files = NULL;

	for (guint i = 0; i < 200; i++) {
		g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
		const gchar *name;

		g_clear_pointer(&files, g_ptr_array_unref);
		files = g_ptr_array_new_with_free_func(g_free);
		while (d != NULL && (name = g_dir_read_name(d)) != NULL)
			g_ptr_array_add(files, g_build_filename(dir, name, NULL));
		if (files->len >= want)
			break;
		g_usleep(50 * 1000);
	}
	return files;
}

/* The agent reports the capture: stage's, exim's id, the headers, a DKIM
 * pass by its own check of exim's signature (python3-dkim agrees, given the
 * node's record), and the whole message. */
static void
check_reported(Node *n, const gchar *file, const gchar *text)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) actual = exm_dp_driver_get(n->driver, EXM_DP_DRIVER_KIND, UUID, &error);
	g_autofree gchar *txt = exm_dp_fixture_path(n->fx, EXM_DP_PATH_DKIM_TXT);
	g_autofree gchar *script = exm_dp_script("dkim-verify.py");
	const gchar *argv[] = { "/usr/bin/python3", script, file, txt, NULL };
	g_autofree gchar *raw = NULL;
	gsize raw_len = 0;
	JsonArray *list;
	JsonObject *m;

	g_assert_no_error(error);
	list = json_object_get_array_member(
		json_object_get_object_member(json_node_get_object(actual), "captured"),
		"messages");
	g_assert_cmpuint(json_array_get_length(list), ==, 1);
	m = json_array_get_object_element(list, 0);
	g_test_message("dkim: %s (%s)",
		       json_object_get_string_member(m, "dkim"),
		       json_object_get_string_member(m, "dkim_detail"));
	g_assert_cmpstr(json_object_get_string_member(m, "account"), ==, STAGE);
	g_assert_cmpstr(json_object_get_string_member(m, "dkim"), ==, "pass");
	g_assert_cmpstr(json_object_get_string_member(m, "subject"), ==, "dp test");
	g_assert_cmpstr(json_array_get_string_element(json_object_get_array_member(m, "to"), 0),
			==,
			"someone@example.net");
	g_assert_nonnull(strstr(text, json_object_get_string_member(m, "id")));
	raw = (gchar *)g_base64_decode(json_object_get_string_member(m, "raw"), &raw_len);
	g_assert_cmpuint(raw_len, ==, strlen(text));
	g_assert_true(memcmp(raw, text, raw_len) == 0);
	g_assert_cmpint(exm_test_run(argv, NULL, NULL), ==, 0);
}

/* Mail of the sandboxed account is captured, signed and marked; prod's is
 * delivered; nothing of stage reaches the sink. */
static void
test_captured(void)
{
	Node n = { 0 };
	g_autofree gchar *new_dir = NULL;
	g_autoptr(GPtrArray) captured = NULL;
	g_autoptr(GPtrArray) sunk = NULL;
	g_autofree gchar *text = NULL;

	if (!node_up(&n))
		return;
	{
		g_autoptr(JsonObject) a = send_as(&n, "587", STAGE, "someone@example.net");
		g_autoptr(JsonObject) b = send_as(&n, "587", PROD, "other@example.net");

		g_assert_cmpstr(json_object_get_string_member(a, "stage"), ==, "done");
		g_assert_cmpstr(json_object_get_string_member(b, "stage"), ==, "done");
	}
	new_dir = exm_dp_fixture_path(n.fx, EXM_DP_PATH_CAPTURE_DIR "/new");
	captured = wait_files(new_dir, 1);
	g_assert_cmpuint(captured->len, ==, 1);
	g_assert_true(g_file_get_contents(captured->pdata[0], &text, NULL, NULL));
	g_test_message("%s", text);
	g_assert_nonnull(strstr(text, "\nX-Exordos-Sandbox: " STAGE "\n"));
	g_assert_nonnull(strstr(text, "DKIM-Signature: "));
	g_assert_nonnull(strstr(text, "d=example.com"));
	g_assert_nonnull(strstr(text, "To: someone@example.net"));
	check_reported(&n, captured->pdata[0], text);
	sunk = wait_files(n.fx->sink_dir, 1);
	g_assert_cmpuint(sunk->len, ==, 1);
	g_clear_pointer(&text, g_free);
	g_assert_true(g_file_get_contents(sunk->pdata[0], &text, NULL, NULL));
	g_assert_nonnull(strstr(text, "other@example.net"));
	g_assert_null(strstr(text, "someone@example.net"));
	node_free(&n);
}

/* The capture port takes mail from the node's capture address only: a
 * client from another address is refused at MAIL FROM, and nothing is kept. */
static void
test_port_closed(void)
{
	Node n = { 0 };
	g_autofree gchar *port = NULL;
	g_autofree gchar *new_dir = NULL;
	g_autoptr(JsonObject) r = NULL;
	g_autoptr(GPtrArray) files = NULL;

	if (!node_up(&n))
		return;
	port = g_strdup_printf("%d", n.fx->config->capture_port);
	g_setenv("EXM_SMTP_SOURCE", "127.0.0.1", TRUE);
	{
		const gchar *argv[] = { "send", n.fx->addr, port,  "plain",
					"-",	"-",	    STAGE, "someone@example.net",
					NULL };
		g_autoptr(GError) error = NULL;

		r = exm_dp_fixture_client(argv, &error);
		g_assert_no_error(error);
	}
	g_unsetenv("EXM_SMTP_SOURCE");
	g_assert_cmpstr(json_object_get_string_member(r, "stage"), ==, "mail");
	g_assert_cmpint(json_object_get_int_member(r, "code"), ==, 550);
	g_assert_nonnull(strstr(json_object_get_string_member(r, "message"),
				"the capture port takes mail from this node only"));
	new_dir = exm_dp_fixture_path(n.fx, EXM_DP_PATH_CAPTURE_DIR "/new");
	files = wait_files(new_dir, 0);
	g_assert_cmpuint(files->len, ==, 0);
	node_free(&n);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/dp/capture/captured", test_captured);
	g_test_add_func("/dp/capture/port-closed", test_port_closed);
	return g_test_run();
}
