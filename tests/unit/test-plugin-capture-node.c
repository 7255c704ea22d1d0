/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The two sides of the sandbox's report agree (docs/sandbox.md §2): what the
 * agent reports of a capture directory (agent/dp/exm-dp-capture.c) passes
 * the plugin's check (plugin/exm-plugin-capture.c), at its bounds too (the
 * newest five with `raw`, one of them at 64 KiB), so a node's honest report
 * is never refused as hostile.
 */
#include <string.h>
#include <sys/stat.h>
#include <utime.h>

#include <glib/gstdio.h>

#include "exm-dp-capture.h"
#include "exm-plugin-capture.h"
#include "exm-test.h"

#define DOMAIN "example.com"
#define RECORD "v=DKIM1; h=sha256; k=rsa; p=QUJDREVGRw=="

/* Message @n of @account at @t (mtime), @body bytes of body, with headers
 * a client could have sent: a control character, a long subject, many
 * recipients. */
static void
put(const gchar *dir, guint n, const gchar *account, gint64 t, gsize body)
{
	g_autofree gchar *name = g_strdup_printf("%" G_GINT64_FORMAT ".M%uP1.mail", t, n);
	g_autofree gchar *path = g_build_filename(dir, "new", name, NULL);
	g_autofree gchar *pad = g_strnfill(body, 'x');
	g_autofree gchar *subject = g_strnfill(300, 's');
	g_autofree gchar *text = g_strdup_printf(
		"From: Stage <stage@example.com>\nTo: a@example.net, b@example.net, c@example.net, "
		"d@example.net, e@example.net, f@example.net, g@example.net, h@example.net, "
		"i@example.net, j@example.net, k@example.net, l@example.net\n"
		"Subject: %u \x01\xc3\xa9 %s\nMessage-ID: <%u@client.test>\n"
		"X-Exordos-Sandbox: %s\nX-Exordos-Capture-Id: 1xZmAJ-%04uAb-Cd\n\n%s\n",
		n,
		subject,
		n,
		account,
		n,
		pad);
	struct utimbuf times = { (time_t)t, (time_t)t };

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_assert_cmpint(utime(path, &times), ==, 0);
}

static void
test_agent_report(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("exm-capture-node");
	g_autofree gchar *new_dir = g_build_filename(dir, "new", NULL);
	g_autoptr(ExmDpCapture) capture = exm_dp_capture_new(dir);
	g_autoptr(JsonNode) report = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	JsonArray *messages;
	guint raws = 0;

	g_assert_cmpint(g_mkdir_with_parents(new_dir, 0750), ==, 0);
	exm_dp_capture_set_key(capture, DOMAIN, RECORD);
	for (guint n = 0; n < 7; n++)
		put(dir,
		    n,
		    n % 2 == 0 ? "stage@example.com" : "other.one@example.com",
		    now - 60 * (7 - n),
		    n == 6 ? EXM_PLUGIN_CAPTURE_RAW_MAX - 1024 : 100);
	exm_dp_capture_poll(capture, now);
	report = exm_dp_capture_to_json(capture);
	g_assert_nonnull(report);
	messages = json_object_get_array_member(json_node_get_object(report), "messages");
	g_assert_cmpuint(json_array_get_length(messages), ==, 7);
	for (guint i = 0; i < json_array_get_length(messages); i++)
		raws += json_object_has_member(json_array_get_object_element(messages, i), "raw");
	g_assert_cmpuint(raws, ==, EXM_PLUGIN_CAPTURE_MAX_RAWS);
	g_assert_true(exm_plugin_capture_valid(json_node_get_object(report), DOMAIN));
	exm_test_rmtree(dir);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/plugin/capture-node/agent-report", test_agent_report);
	return g_test_run();
}
