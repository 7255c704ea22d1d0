/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The plugin's check of the node's captured report (plugin/exm-plugin-capture.c,
 * docs/sandbox.md §2): the DP is not trusted, so a report with an account of
 * another domain, a bad id, size, time, DKIM word or text, a bad or too large
 * `raw`, too many of them, or too many messages is not taken as a whole.
 */
#include <string.h>

#include "exm-json.h"
#include "exm-plugin-capture.h"
#include "exm-test.h"

#define DOMAIN "example.org"
/* a message with every member, and one with the least */
#define FULL(id, raw)                                                                              \
	"{\"id\": \"" id "\", \"account\": \"stage@example.org\", \"time\": "                      \
	"\"2026-12-05T10:00:00.000000Z\", \"size\": 1234, \"from\": \"stage@example.org\", "       \
	"\"to\": [\"someone@example.net\"], \"subject\": \"Hello\", \"message_id\": "              \
	"\"<abc@example.org>\", \"dkim\": \"fail\", \"dkim_detail\": \"body hash\"" raw "}"
#define RAW ", \"raw\": \"SGVsbG8sIHdvcmxkIQ==\""

static gboolean
valid(const gchar *messages)
{
	g_autofree gchar *text = g_strdup_printf("{\"messages\": [%s]}", messages);
	g_autoptr(JsonObject) o = exm_json_parse_object(text, strlen(text), NULL);

	g_assert_nonnull(o);
	return exm_plugin_capture_valid(o, DOMAIN);
}

/* A message as FULL() with member @name's value replaced by @value. */
static gchar *
with(const gchar *name, const gchar *value)
{
	static const gchar base[] = FULL("1tKq2x-0004Ab-Cd", RAW);
	g_autoptr(JsonObject) o = exm_json_parse_object(base, strlen(base), NULL);
	g_autoptr(JsonNode) v = exm_json_parse_strict(value, strlen(value), NULL);
	g_autoptr(JsonNode) root = NULL;

	g_assert_nonnull(v);
	json_object_set_member(o, name, json_node_copy(v));
	root = json_node_init_object(json_node_alloc(), o);
	return exm_json_to_string(root);
}

static void
test_good(void)
{
	g_autoptr(GString) five = g_string_new("");

	g_assert_true(valid(""));
	g_assert_true(valid(FULL("1tKq2x-0004Ab-Cd", RAW)));
	g_assert_true(valid("{\"id\": \"1tKq2x-0004Ab-Ce\", \"account\": \"stage@EXAMPLE.org\", "
			    "\"time\": \"2026-12-05T10:00:00.000000Z\", \"size\": 0, "
			    "\"dkim\": \"none\"}"));
	for (guint i = 0; i < 5; i++)
		g_string_append_printf(
			five, "%s" FULL("1tKq2x-0004Ab-C%u", RAW), i > 0 ? ", " : "", i);
	g_assert_true(valid(five->str));
}

static void
test_bad(void)
{
	/* check-source: table */
	static const struct {
		const gchar *name;
		const gchar *value;
	} bad[] = {
		{ "account", "\"stage@example.com\"" },
		{ "account", "\"st'age@example.org\"" },
		{ "account", "null" },
		{ "account", "\"Stage@example.org\"" },
		{ "id", "\"1tKq2x0004AbCd\"" },
		{ "id", "\"1tKq2x-0004Ab-Cd-\"" },
		{ "id", "\"1tKq2x-0004Ab_Cdxx\"" },
		{ "id", "\"1tKq2x-0004Ab-Cdxxxxxxxx\"" },
		{ "id", "42" },
		{ "size", "-1" },
		{ "size", "\"12\"" },
		{ "size", "1.5" },
		{ "size", "99999999999999999" },
		{ "time", "\"yesterday\"" },
		{ "time", "null" },
		{ "dkim", "\"neutral\"" },
		{ "dkim", "\"PASS\"" },
		{ "subject", "\"a\\nb\"" },
		{ "subject", "\"caf\\u00e9\"" },
		{ "from", "7" },
		{ "to", "\"someone@example.net\"" },
		{ "to", "[1]" },
		{ "to", "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\"]" },
		{ "raw", "\"not base64!\"" },
		{ "raw", "\"SGk\"" },
		{ "raw", "\"S=Gk\"" },
		{ "raw", "\"\"" },
		{ "raw", "3" },
	};
	/* check-source: end */
	g_autoptr(GString) six = g_string_new("");
	g_autoptr(GString) many = g_string_new("");
	g_autoptr(GString) big = g_string_new("\"");
	g_autofree gchar *long_subject = g_strnfill(201, 'x');
	g_autofree gchar *long_value = g_strdup_printf("\"%s\"", long_subject);
	g_autofree gchar *big_raw = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree gchar *m = with(bad[i].name, bad[i].value);

		g_test_message("bad %s: %s", bad[i].name, bad[i].value);
		g_assert_false(valid(m));
	}
	big_raw = with("subject", long_value);
	g_assert_false(valid(big_raw));
	/* two messages of one id, six raws, 101 messages, a raw over 64 KiB */
	g_assert_false(valid(FULL("1tKq2x-0004Ab-Cd", "") ", " FULL("1tKq2x-0004Ab-Cd", "")));
	for (guint i = 0; i < 6; i++)
		g_string_append_printf(
			six, "%s" FULL("1tKq2x-0004Ab-C%u", RAW), i > 0 ? ", " : "", i);
	g_assert_false(valid(six->str));
	for (guint i = 0; i < 101; i++)
		g_string_append_printf(
			many, "%s" FULL("1tKq2x-0004Ab-%03u", ""), i > 0 ? ", " : "", i);
	g_assert_false(valid(many->str));
	for (guint i = 0; i < (64 * 1024 / 3 + 1); i++)
		g_string_append(big, "QUJD");
	g_string_append_c(big, '"');
	g_free(big_raw);
	big_raw = with("raw", big->str);
	g_assert_false(valid(big_raw));
}

/* The largest `raw` allowed is exactly 64 KiB decoded. */
static void
test_raw_bound(void)
{
	g_autofree guchar *bytes = g_malloc0(EXM_PLUGIN_CAPTURE_RAW_MAX);
	g_autofree gchar *b64 = g_base64_encode(bytes, EXM_PLUGIN_CAPTURE_RAW_MAX);
	g_autofree gchar *value = g_strdup_printf("\"%s\"", b64);
	g_autofree gchar *m = with("raw", value);

	g_assert_true(valid(m));
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/plugin/capture/good", test_good);
	g_test_add_func("/plugin/capture/bad", test_bad);
	g_test_add_func("/plugin/capture/raw-bound", test_raw_bound);
	return g_test_run();
}
