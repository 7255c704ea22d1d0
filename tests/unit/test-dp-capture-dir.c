/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The sandbox's capture directory as the agent reads it
 * (agent/dp/exm-dp-capture.c, docs/sandbox.md §1–§2), on files laid out as
 * exim's maildir delivery writes them: the summary of each, the bounds (100
 * newest, 7 days, `raw` on the newest 5 of at most 64 KiB), files that are no
 * capture of ours, a quiet directory, a file that went away.
 */
#include <string.h>
#include <sys/stat.h>
#include <utime.h>

#include <glib/gstdio.h>

#include "exm-dp-capture.h"
#include "exm-json.h"
#include "exm-test.h"

#define RECORD "v=DKIM1; h=sha256; k=rsa; p=QUJDREVGRw=="

typedef struct {
	gchar *dir;
	gchar *new_dir;
	ExmDpCapture *capture;
	gint64 now;
} Fx;

static void
fx_setup(Fx *fx, gconstpointer data)
{
	fx->dir = exm_test_mkdtemp("exm-capture");
	fx->new_dir = g_build_filename(fx->dir, "new", NULL);
	g_assert_cmpint(g_mkdir_with_parents(fx->new_dir, 0750), ==, 0);
	fx->capture = exm_dp_capture_new(fx->dir);
	exm_dp_capture_set_key(fx->capture, "example.com", RECORD);
	fx->now = g_get_real_time() / G_USEC_PER_SEC;
}

static void
fx_teardown(Fx *fx, gconstpointer data)
{
	exm_dp_capture_free(fx->capture);
	exm_test_rmtree(fx->dir);
	g_free(fx->dir);
	g_free(fx->new_dir);
}

/* A captured message @n of @account at @t (mtime), @extra bytes of body. */
static gchar *
put(Fx *fx, guint n, const gchar *account, gint64 t, gsize extra)
{
	g_autofree gchar *name = g_strdup_printf("%" G_GINT64_FORMAT ".M%uP1.mail", t, n);
	gchar *path = g_build_filename(fx->new_dir, name, NULL);
	g_autofree gchar *pad = g_strnfill(extra, 'x');
	g_autofree gchar *text = g_strdup_printf(
		"Received: from x\n\tby mail.example.com\n"
		"From: Stage <stage@example.com>\nTo: a@example.net,\n b@example.net\n"
		"Subject: number %u\x01\nMessage-ID: <%u@client.test>\n"
		"X-Exordos-Sandbox: %s\nX-Exordos-Capture-Id: 1xZmAJ-%04uAb-Cd\n\nbody %s\n",
		n,
		n,
		account,
		n,
		pad);
	struct utimbuf times = { (time_t)t, (time_t)t };

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_assert_cmpint(utime(path, &times), ==, 0);
	return path;
}

static JsonArray *
messages(JsonNode *root)
{
	return json_object_get_array_member(json_node_get_object(root), "messages");
}

/* One message: every member as the API expects it, `none` without a
 * signature, the whole text in `raw`; the same text when nothing moved. */
static void
test_summary(Fx *fx, gconstpointer data)
{
	g_autofree gchar *path = put(fx, 1, "stage@example.com", fx->now - 10, 0);
	g_autoptr(JsonNode) a = NULL;
	g_autoptr(JsonNode) b = NULL;
	g_autofree gchar *ta = NULL;
	g_autofree gchar *tb = NULL;
	g_autofree gchar *text = NULL;
	g_autofree guchar *raw = NULL;
	gsize len = 0;
	JsonObject *m;
	JsonArray *to;

	exm_dp_capture_poll(fx->capture, fx->now);
	a = exm_dp_capture_to_json(fx->capture);
	g_assert_nonnull(a);
	g_assert_cmpuint(json_array_get_length(messages(a)), ==, 1);
	m = json_array_get_object_element(messages(a), 0);
	g_assert_cmpstr(json_object_get_string_member(m, "id"), ==, "1xZmAJ-0001Ab-Cd");
	g_assert_cmpstr(json_object_get_string_member(m, "account"), ==, "stage@example.com");
	g_assert_cmpstr(json_object_get_string_member(m, "from"), ==, "Stage <stage@example.com>");
	g_assert_cmpstr(json_object_get_string_member(m, "subject"), ==, "number 1?");
	g_assert_cmpstr(json_object_get_string_member(m, "message_id"), ==, "<1@client.test>");
	g_assert_cmpstr(json_object_get_string_member(m, "dkim"), ==, "none");
	to = json_object_get_array_member(m, "to");
	g_assert_cmpuint(json_array_get_length(to), ==, 2);
	g_assert_cmpstr(json_array_get_string_element(to, 1), ==, "b@example.net");
	g_assert_true(g_file_get_contents(path, &text, &len, NULL));
	g_assert_cmpint(json_object_get_int_member(m, "size"), ==, (gint64)len);
	raw = g_base64_decode(json_object_get_string_member(m, "raw"), &len);
	g_assert_cmpmem(raw, len, text, strlen(text));
	exm_dp_capture_poll(fx->capture, fx->now + 5);
	b = exm_dp_capture_to_json(fx->capture);
	ta = exm_json_to_string(a);
	tb = exm_json_to_string(b);
	g_assert_cmpstr(ta, ==, tb);
	/* gone from the directory: gone from the report */
	g_assert_cmpint(g_unlink(path), ==, 0);
	exm_dp_capture_poll(fx->capture, fx->now + 6);
	g_assert_null(exm_dp_capture_to_json(fx->capture));
}

/* The newest 100 stay, older and surplus files are deleted; `raw` only on
 * the newest five of at most 64 KiB; a file with no account or id of ours
 * is never reported and is deleted. */
static void
test_bounds(Fx *fx, gconstpointer data)
{
	g_autofree gchar *old = put(fx, 999, "stage@example.com", fx->now - 8 * 86400, 0);
	g_autofree gchar *stray = g_build_filename(fx->new_dir, "stray", NULL);
	g_autoptr(JsonNode) root = NULL;
	guint with_raw = 0;

	g_assert_true(g_file_set_contents(stray, "Subject: hi\n\nno header of ours\n", -1, NULL));
	for (guint i = 0; i < 105; i++) {
		g_autofree gchar *p = put(fx,
					  i,
					  i % 2 == 0 ? "stage@example.com" : "qa@example.com",
					  fx->now - 1000 + i,
					  i == 104 ? EXM_DP_CAPTURE_RAW_MAX : 0);
	}
	exm_dp_capture_poll(fx->capture, fx->now);
	root = exm_dp_capture_to_json(fx->capture);
	g_assert_cmpuint(json_array_get_length(messages(root)), ==, EXM_DP_CAPTURE_MAX_MESSAGES);
	g_assert_false(g_file_test(old, G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(stray, G_FILE_TEST_EXISTS)); /* no capture of ours */
	for (guint i = 0; i < EXM_DP_CAPTURE_MAX_MESSAGES; i++) {
		JsonObject *m = json_array_get_object_element(messages(root), i);
		g_autofree gchar *id = g_strdup_printf("1xZmAJ-%04uAb-Cd", i + 5);

		g_assert_cmpstr(json_object_get_string_member(m, "id"), ==, id);
		if (json_object_has_member(m, "raw")) {
			with_raw++;
			g_assert_cmpuint(i, >=, EXM_DP_CAPTURE_MAX_MESSAGES - 6);
			g_assert_cmpuint(i, <, EXM_DP_CAPTURE_MAX_MESSAGES - 1);
		}
	}
	/* the newest is larger than 64 KiB: the five before it carry raw */
	g_assert_cmpuint(with_raw, ==, EXM_DP_CAPTURE_RAW_MESSAGES);
	g_assert_false(json_object_has_member(
		json_array_get_object_element(messages(root), EXM_DP_CAPTURE_MAX_MESSAGES - 1),
		"raw"));
}

/* A hostile account header (another shape, upper case, two @) is no capture. */
static void
test_hostile(Fx *fx, gconstpointer data)
{
	static const gchar *const accounts[] = {
		"Stage@example.com", "a b@example.com", "x@y@example.com", "", "stage@", NULL
	};

	for (guint i = 0; accounts[i] != NULL; i++) {
		g_autofree gchar *p = put(fx, i, accounts[i], fx->now - 10 + i, 0);
	}
	exm_dp_capture_poll(fx->capture, fx->now);
	g_assert_null(exm_dp_capture_to_json(fx->capture));
}

/* The DKIM detail names the domain; a long domain is cut to the report's
 * bound (the plugin refuses a longer text, and with it the whole report). */
static void
test_long_domain(Fx *fx, gconstpointer data)
{
	g_autoptr(GString) domain = g_string_new(NULL);
	g_autofree gchar *path = put(fx, 1, "stage@example.com", fx->now - 10, 0);
	g_autoptr(JsonNode) root = NULL;
	JsonObject *m;

	for (guint i = 0; i < 4; i++)
		g_string_append(domain,
				"a-rather-long-label-of-the-instance-domain-for-this-test.");
	g_string_append(domain, "example");
	exm_dp_capture_set_key(fx->capture, domain->str, RECORD);
	exm_dp_capture_poll(fx->capture, fx->now);
	root = exm_dp_capture_to_json(fx->capture);
	m = json_array_get_object_element(messages(root), 0);
	g_assert_cmpstr(json_object_get_string_member(m, "dkim"), ==, "none");
	g_assert_cmpuint(strlen(json_object_get_string_member(m, "dkim_detail")),
			 ==,
			 EXM_DP_CAPTURE_TEXT_MAX);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add("/dp/capture/summary", Fx, NULL, fx_setup, test_summary, fx_teardown);
	g_test_add("/dp/capture/bounds", Fx, NULL, fx_setup, test_bounds, fx_teardown);
	g_test_add("/dp/capture/hostile", Fx, NULL, fx_setup, test_hostile, fx_teardown);
	g_test_add("/dp/capture/long-domain", Fx, NULL, fx_setup, test_long_domain, fx_teardown);
	return g_test_run();
}
