/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzz target: the strict JSON front door of every request body and agent
 * payload (exm_json_prescan, exm_json_parse_strict) and the canonical writer
 * behind the protocol hashes (exm_json_canonical).
 *
 * Properties: a refusal is EXM_ERROR_PARSE_BODY and parse_strict agrees with
 * prescan; what prescan accepts json-glib parses; the canonical text is ASCII,
 * passes the strict parser again and is a fixed point; the API writer's text
 * (exm_json_to_string) parses back to the same canonical text; with the
 * objects of the first two levels kept raw, the tree has the same canonical
 * text, hash and value.
 */
#include <string.h>

#include "exm-error.h"
#include "exm-json.h"
#include "fuzz-common.h"

static gchar *
canonical_of_text(const gchar *text, gsize len)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) root = exm_json_parse_strict(text, len, &error);

	EXM_FUZZ_CHECK(root != NULL, "own output refused: %s: %s", error->message, text);
	return exm_json_canonical(root);
}

/* The API writer's text of @node parses back to @canonical. */
static void
check_api_text(JsonNode *node, const gchar *canonical, const gchar *what)
{
	g_autofree gchar *api = exm_json_to_string(node);
	g_autofree gchar *from_api = canonical_of_text(api, strlen(api));

	EXM_FUZZ_CHECK(g_str_equal(canonical, from_api),
		       "%s API text changes the value: %s vs %s",
		       what,
		       canonical,
		       from_api);
}

static void
check_refusal(const uint8_t *data, size_t size, const GError *error)
{
	g_autoptr(GError) strict_error = NULL;
	g_autoptr(JsonNode) root = NULL;

	EXM_FUZZ_CHECK(error != NULL && g_error_matches(error, EXM_ERROR, EXM_ERROR_PARSE_BODY),
		       "a refusal must be PARSE_BODY");
	root = exm_json_parse_strict((const gchar *)data, size, &strict_error);
	EXM_FUZZ_CHECK(root == NULL && strict_error != NULL,
		       "parse_strict accepts what prescan refuses");
}

static void
check_json_glib(const uint8_t *data, size_t size)
{
	g_autoptr(JsonParser) parser = json_parser_new_immutable();
	g_autoptr(GError) error = NULL;
	gboolean loaded =
		json_parser_load_from_data(parser, (const gchar *)data, (gssize)size, &error);

	EXM_FUZZ_CHECK(loaded && json_parser_get_root(parser) != NULL,
		       "json-glib refuses what prescan accepted: %s",
		       error != NULL ? error->message : "no root");
}

/* exm_json_parse_secret() with every root member named secret: its own
 * decoding of those strings must give the very tree json-glib gives. */
static void
check_secret_parse(const uint8_t *data, size_t size, const gchar *canonical)
{
	g_autofree gchar *copy = g_memdup2(data, size);
	g_autoptr(GPtrArray) names = g_ptr_array_new();
	g_autoptr(JsonNode) strict = exm_json_parse_strict((const gchar *)data, size, NULL);
	g_autoptr(JsonNode) secret = NULL;
	g_autoptr(GList) members = NULL;
	g_autofree gchar *again = NULL;

	if (!JSON_NODE_HOLDS_OBJECT(strict))
		return;
	members = json_object_get_members(json_node_get_object(strict));
	for (GList *l = members; l != NULL; l = l->next)
		g_ptr_array_add(names, l->data);
	g_ptr_array_add(names, NULL);
	secret = exm_json_parse_secret(copy, size, (const gchar *const *)names->pdata, NULL);
	EXM_FUZZ_CHECK(secret != NULL, "parse_secret refuses what parse_strict accepted");
	again = exm_json_canonical(secret);
	EXM_FUZZ_CHECK(g_str_equal(canonical, again),
		       "parse_secret changes the value: %s vs %s",
		       canonical,
		       again);
}

/* The objects one and two levels down kept as raw nodes: nothing a reader
 * of the text could tell changes. */
static void
check_raw_parse(const uint8_t *data, size_t size, JsonNode *root, const gchar *canonical)
{
	static const gchar *const raw[] = { "=*", "=*/*", NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) kept = exm_json_parse_pruned((const gchar *)data, size, raw, &error);
	g_autofree gchar *text = NULL;
	g_autofree gchar *hash = NULL;
	g_autofree gchar *want_hash = NULL;

	EXM_FUZZ_CHECK(kept != NULL, "raw parse refuses: %s", error->message);
	text = exm_json_canonical(kept);
	EXM_FUZZ_CHECK(g_str_equal(text, canonical),
		       "raw parse changes the value: %s vs %s",
		       canonical,
		       text);
	hash = exm_json_hash(kept);
	want_hash = exm_json_hash(root);
	EXM_FUZZ_CHECK(g_str_equal(hash, want_hash), "raw parse changes the hash");
	EXM_FUZZ_CHECK(exm_json_same(kept, root) && exm_json_same(root, kept),
		       "raw parse is not the same value");
	check_api_text(kept, canonical, "the raw parse's");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *canonical = NULL;
	g_autofree gchar *again = NULL;

	exm_fuzz_begin(data, size);
	if (!exm_json_prescan((const gchar *)data, size, &error)) {
		check_refusal(data, size, error);
		return 0;
	}
	check_json_glib(data, size);
	root = exm_json_parse_strict((const gchar *)data, size, &error);
	EXM_FUZZ_CHECK(
		root != NULL, "parse_strict refuses what prescan accepted: %s", error->message);

	canonical = exm_json_canonical(root);
	for (const gchar *p = canonical; *p != '\0'; p++)
		EXM_FUZZ_CHECK((guchar)*p >= 0x20 && (guchar)*p < 0x80,
			       "canonical text not ASCII: %s",
			       canonical);
	again = canonical_of_text(canonical, strlen(canonical));
	EXM_FUZZ_CHECK(g_str_equal(canonical, again),
		       "canonical is no fixed point: %s -> %s",
		       canonical,
		       again);

	check_secret_parse(data, size, canonical);
	check_raw_parse(data, size, root, canonical);
	check_api_text(root, canonical, "the");
	exm_fuzz_accepted();
	return 0;
}
