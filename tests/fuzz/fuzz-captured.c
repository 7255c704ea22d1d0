/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzz target: exm_plugin_capture_valid, the check of the `captured` member
 * a node reports (docs/sandbox.md §2), which the plugin stores and shows the
 * tenant.
 *
 * Properties: an accepted report has at most 100 messages, at most 5 of
 * them with `raw`, each id once and of exim's shape, every account at the
 * instance's domain, every `raw` base64 that decodes to at most 64 KiB with
 * every character used, every header text printable ASCII of at most 200;
 * and the check gives the same answer twice.
 */
#include <string.h>

#include "exm-json.h"
#include "exm-plugin-capture.h"
#include "fuzz-common.h"

#define DOMAIN "example.com"

static gboolean
printable(const gchar *s)
{
	if (strlen(s) > EXM_PLUGIN_CAPTURE_TEXT_MAX)
		return FALSE;
	for (const gchar *p = s; *p != '\0'; p++) {
		if (!g_ascii_isprint(*p))
			return FALSE;
	}
	return TRUE;
}

static void
check_raw(const gchar *raw)
{
	gsize len = 0;
	g_autofree guchar *bytes = g_base64_decode(raw, &len);
	g_autofree gchar *again = g_base64_encode(bytes, len);

	EXM_FUZZ_CHECK(len <= EXM_PLUGIN_CAPTURE_RAW_MAX, "raw of %" G_GSIZE_FORMAT " bytes", len);
	/* every character counted: nothing the decoder skipped (unused low
	 * bits of the last one may differ, which is harmless) */
	EXM_FUZZ_CHECK(strlen(again) == strlen(raw), "raw is not plain base64: %s", raw);
}

static void
check_message(JsonObject *m, GHashTable *ids, guint *raws)
{
	static const gchar *const texts[] = { "from", "subject", "message_id", "dkim_detail" };
	const gchar *id = json_object_get_string_member(m, "id");
	const gchar *account = json_object_get_string_member(m, "account");
	const gchar *at = strrchr(account, '@');

	EXM_FUZZ_CHECK(strlen(id) >= 16 && strlen(id) <= 23 && g_hash_table_add(ids, (gpointer)id),
		       "id %s",
		       id);
	EXM_FUZZ_CHECK(
		at != NULL && g_ascii_strcasecmp(at + 1, DOMAIN) == 0, "account %s", account);
	for (guint i = 0; i < G_N_ELEMENTS(texts); i++) {
		const gchar *s = json_object_has_member(m, texts[i])
					 ? json_object_get_string_member(m, texts[i])
					 : "";
		EXM_FUZZ_CHECK(printable(s), "%s: %s", texts[i], s);
	}
	if (json_object_has_member(m, "raw")) {
		(*raws)++;
		check_raw(json_object_get_string_member(m, "raw"));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(GHashTable) ids = g_hash_table_new(g_str_hash, g_str_equal);
	JsonObject *captured;
	JsonArray *messages;
	guint raws = 0;

	exm_fuzz_begin(data, size);
	root = exm_json_parse_strict((const gchar *)data, size, NULL);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root))
		return 0;
	captured = json_node_get_object(root);
	if (!exm_plugin_capture_valid(captured, DOMAIN))
		return 0;
	exm_fuzz_accepted();
	EXM_FUZZ_CHECK(exm_plugin_capture_valid(captured, DOMAIN), "second answer differs");
	messages = json_object_get_array_member(captured, "messages");
	EXM_FUZZ_CHECK(json_array_get_length(messages) <= EXM_PLUGIN_CAPTURE_MAX_MESSAGES,
		       "%u messages",
		       json_array_get_length(messages));
	for (guint i = 0; i < json_array_get_length(messages); i++)
		check_message(json_array_get_object_element(messages, i), ids, &raws);
	EXM_FUZZ_CHECK(raws <= EXM_PLUGIN_CAPTURE_MAX_RAWS, "%u raws", raws);
	return 0;
}
