/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The fake Exordos Core as a test's child (test-core-fixture.h).
 */
#include "test-core-fixture.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>

#include "exm-json.h"
#include "exm-test.h"

static gchar *
read_line(GSubprocess *proc)
{
	GInputStream *out = g_subprocess_get_stdout_pipe(proc);
	g_autoptr(GDataInputStream) data = g_data_input_stream_new(out);
	g_autoptr(GError) error = NULL;
	gchar *line;

	g_filter_input_stream_set_close_base_stream(G_FILTER_INPUT_STREAM(data), FALSE);
	line = g_data_input_stream_read_line(data, NULL, NULL, &error);
	g_assert_no_error(error);
	return line;
}

CoreFake *
core_fake_new(const gchar *prefix, guint token_ttl, guint tick_ms, gboolean external)
{
	g_autofree gchar *python = g_file_test("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE)
					   ? g_strdup("/usr/bin/python3")
					   : exm_test_find_program("python3");
	g_autofree gchar *fakes =
		g_build_filename(g_getenv("EXM_SOURCE_ROOT"), "tests", "fakes", NULL);
	g_autofree gchar *ttl = g_strdup_printf("%u", token_ttl);
	g_autofree gchar *tick = g_strdup_printf("%u", tick_ms);
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *line = NULL;
	CoreFake *fake;

	if (python == NULL || g_getenv("EXM_SOURCE_ROOT") == NULL) {
		exm_test_peer_missing("python3 (the fake Exordos Core)");
		return NULL;
	}
	fake = g_new0(CoreFake, 1);
	fake->dir = exm_test_mkdtemp("fake-core");
	fake->password_file = g_build_filename(fake->dir, "password", NULL);
	g_assert_true(g_file_set_contents(fake->password_file, CORE_FAKE_PASSWORD "\n", -1, NULL));
	g_assert_cmpint(g_chmod(fake->password_file, 0600), ==, 0);
	launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
	g_subprocess_launcher_set_cwd(launcher, fakes);
	{
		const gchar *argv[] = { python,
					"-m",
					"fake_core",
					"--project",
					CORE_FAKE_PROJECT,
					"--password-file",
					fake->password_file,
					"--prefix",
					prefix != NULL ? prefix : "",
					"--token-ttl",
					ttl,
					"--tick-ms",
					tick,
					"--die-with-parent",
					external ? "--external-nodes" : NULL,
					NULL };

		fake->proc = g_subprocess_launcher_spawnv(launcher, argv, &error);
	}
	g_assert_no_error(error);
	line = read_line(fake->proc);
	g_assert_nonnull(line);
	g_assert_true(g_str_has_prefix(line, "listening http://127.0.0.1:"));
	fake->endpoint = g_strdup(line + strlen("listening "));
	fake->root = g_strndup(fake->endpoint,
			       strlen(fake->endpoint) - strlen(prefix != NULL ? prefix : ""));
	return fake;
}

void
core_fake_free(CoreFake *fake)
{
	if (fake == NULL)
		return;
	if (fake->proc != NULL) {
		g_subprocess_send_signal(fake->proc, SIGTERM);
		g_subprocess_wait(fake->proc, NULL, NULL);
		g_object_unref(fake->proc);
	}
	if (fake->dir != NULL)
		exm_test_rmtree(fake->dir);
	g_free(fake->dir);
	g_free(fake->root);
	g_free(fake->endpoint);
	g_free(fake->password_file);
	g_free(fake);
}

ExhCoreConfig *
core_fake_config(CoreFake *fake, guint poll_ms)
{
	ExhCoreConfig *config = exh_core_config_new();

	config->endpoint = g_strdup(fake->endpoint);
	config->password = g_strdup(CORE_FAKE_PASSWORD);
	config->project = g_strdup(CORE_FAKE_PROJECT);
	config->poll_ms = poll_ms;
	config->timeout_ms = 2000;
	return config;
}

static JsonNode *
request_status(CoreFake *fake,
	       const gchar *method,
	       const gchar *path,
	       const gchar *json,
	       guint *status)
{
	g_autoptr(SoupSession) session =
		soup_session_new_with_options("proxy-resolver", NULL, NULL);
	g_autofree gchar *url = g_strconcat(fake->root, path, NULL);
	g_autoptr(SoupMessage) msg = soup_message_new(method, url);
	g_autoptr(GBytes) answer = NULL;
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	const gchar *data;

	if (json != NULL) {
		g_autoptr(GBytes) body = g_bytes_new(json, strlen(json));

		soup_message_set_request_body_from_bytes(msg, "application/json", body);
	}
	answer = soup_session_send_and_read(session, msg, NULL, &error);
	g_assert_no_error(error);
	*status = soup_message_get_status(msg);
	data = g_bytes_get_data(answer, &len);
	return exm_json_parse_strict(data, len, NULL);
}

static JsonNode *
request(CoreFake *fake, const gchar *method, const gchar *path, const gchar *json)
{
	guint status = 0;
	JsonNode *node = request_status(fake, method, path, json, &status);

	g_assert_cmpuint(status, ==, 200);
	return node;
}

void
core_fake_control(CoreFake *fake, const gchar *json)
{
	g_autoptr(JsonNode) node = request(fake, "POST", "/_fake/control", json);
}

void
core_fake_post(CoreFake *fake, const gchar *path, const gchar *json)
{
	g_autoptr(JsonNode) node = request(fake, "POST", path, json);
}

gboolean
core_fake_report(CoreFake *fake, const gchar *path, const gchar *json)
{
	guint status = 0;
	g_autoptr(JsonNode) node = request_status(fake, "POST", path, json, &status);

	if (status != 404)
		g_assert_cmpuint(status, ==, 200);
	return status == 200;
}

JsonObject *
core_fake_get(CoreFake *fake, const gchar *path)
{
	g_autoptr(JsonNode) node = request(fake, "GET", path, NULL);

	g_assert_nonnull(node);
	return json_object_ref(json_node_get_object(node));
}

JsonObject *
core_fake_state(CoreFake *fake)
{
	g_autoptr(JsonNode) node = request(fake, "GET", "/_fake/state", NULL);

	g_assert_nonnull(node);
	return json_object_ref(json_node_get_object(node));
}

guint
core_fake_count(CoreFake *fake, const gchar *method, const gchar *route)
{
	g_autoptr(JsonObject) state = core_fake_state(fake);
	JsonArray *calls = json_object_get_array_member(state, "calls");
	guint n = 0;

	for (guint i = 0; i < json_array_get_length(calls); i++) {
		JsonObject *call = json_array_get_object_element(calls, i);

		if ((method == NULL ||
		     g_str_equal(json_object_get_string_member(call, "method"), method)) &&
		    (route == NULL ||
		     g_str_equal(json_object_get_string_member(call, "route"), route)))
			n++;
	}
	return n;
}

JsonObject *
core_fake_object(JsonObject *state, const gchar *collection, const gchar *uuid)
{
	JsonObject *all = json_object_get_object_member(state, collection);

	return json_object_has_member(all, uuid) ? json_object_get_object_member(all, uuid) : NULL;
}
