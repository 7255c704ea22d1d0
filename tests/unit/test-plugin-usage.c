/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The plugin's check of the node's usage report (plugin/exm-plugin-usage.c,
 * docs/usage.md §4): the DP is not trusted, so a report with an address of
 * another domain, a bad count, time, status or reply, or past the bounds is
 * not taken; a valid new report joins the instance patch, an unchanged one
 * adds nothing.
 */
#include <string.h>

#include "exm-json.h"
#include "exm-plugin-usage.h"
#include "exm-test.h"

#define DOMAIN "example.org"
#define T      "2026-12-05T01:00:00.000000Z"
#define GOOD_ACCOUNT                                                                               \
	"\"alice@example.org\": {\"accepted\": 3, \"delivered\": 1, \"deferred\": 1, "             \
	"\"bounced\": 1, \"held\": 0, \"last_login\": \"" T "\", \"secrets\": "                    \
	"{\"0123456789abcdef\": \"" T "\", \"fedcba9876543210\": \"" T "\"}}"
#define GOOD_DELIVERY                                                                              \
	"{\"time\": \"2026-12-05T01:00:00.000000Z\", \"account\": \"alice@example.org\", "         \
	"\"domain\": \"example.net\", \"status\": \"bounced\", \"reply\": \"550 5.1.1 no\"}"

static gboolean
valid(const gchar *text)
{
	g_autoptr(JsonObject) o = exm_json_parse_object(text, strlen(text), NULL);

	g_assert_nonnull(o);
	return exm_plugin_usage_valid(o, DOMAIN);
}

static gchar *
report(const gchar *accounts, const gchar *deliveries)
{
	return g_strdup_printf("{\"accounts\": {%s}, \"deliveries\": [%s]}", accounts, deliveries);
}

static void
test_valid(void)
{
	/* check-source: table */
	static const struct {
		const gchar *account;
		const gchar *delivery;
	} bad[] = {
		{ "\"alice@example.com\": {\"accepted\": 1, \"delivered\": 0, \"deferred\": 0, "
		  "\"bounced\": 0, \"held\": 0}",
		  "" },
		{ "\"alice@example.org\": {\"accepted\": -1, \"delivered\": 0, \"deferred\": 0, "
		  "\"bounced\": 0, \"held\": 0}",
		  "" },
		{ "\"alice@example.org\": {\"accepted\": \"1\", \"delivered\": 0, \"deferred\": 0, "
		  "\"bounced\": 0, \"held\": 0}",
		  "" },
		{ "\"al'ice@example.org\": {\"accepted\": 1, \"delivered\": 0, \"deferred\": 0, "
		  "\"bounced\": 0, \"held\": 0}",
		  "" },
		{ "\"alice@example.org\": {\"accepted\": 1, \"delivered\": 0, \"deferred\": 0, "
		  "\"bounced\": 0, \"held\": 0, \"last_login\": \"yesterday\"}",
		  "" },
		{ GOOD_ACCOUNT,
		  "{\"time\": \"2026-12-05T01:00:00.000000Z\", \"account\": \"alice@example.org\", "
		  "\"domain\": \"example.net\", \"status\": \"lost\", \"reply\": \"x\"}" },
		{ GOOD_ACCOUNT,
		  "{\"time\": \"2026-12-05T01:00:00.000000Z\", \"account\": \"alice@example.org\", "
		  "\"domain\": \"example.net\", \"status\": \"bounced\", \"reply\": \"a\\nb\"}" },
		{ GOOD_ACCOUNT,
		  "{\"time\": \"2026-12-05T01:00:00.000000Z\", \"account\": \"alice@example.org\", "
		  "\"domain\": \"ex'ample.net\", \"status\": \"bounced\", \"reply\": \"x\"}" },
		{ GOOD_ACCOUNT,
		  "{\"time\": \"now\", \"account\": \"alice@example.org\", \"domain\": \"a.b\", "
		  "\"status\": \"bounced\", \"reply\": \"x\"}" },
		/* secrets: a fingerprint of another shape, a bad time, too many, not an object */
		{ "\"alice@example.org\": {\"accepted\": 1, \"delivered\": 0, \"deferred\": 0, "
		  "\"bounced\": 0, \"held\": 0, \"secrets\": {\"0123456789ABCDEF\": "
		  "\"2026-12-05T01:00:00.000000Z\"}}",
		  "" },
		{ "\"alice@example.org\": {\"accepted\": 1, \"delivered\": 0, \"deferred\": 0, "
		  "\"bounced\": 0, \"held\": 0, \"secrets\": {\"0123456789abcdef\": \"soon\"}}",
		  "" },
		{ "\"alice@example.org\": {\"accepted\": 1, \"delivered\": 0, \"deferred\": 0, "
		  "\"bounced\": 0, \"held\": 0, \"secrets\": {\"0000000000000000\": \"" T "\", "
		  "\"1111111111111111\": \"" T "\", \"2222222222222222\": \"" T "\", "
		  "\"3333333333333333\": \"" T "\", \"4444444444444444\": \"" T "\"}}",
		  "" },
		{ "\"alice@example.org\": {\"accepted\": 1, \"delivered\": 0, \"deferred\": 0, "
		  "\"bounced\": 0, \"held\": 0, \"secrets\": [\"0123456789abcdef\"]}",
		  "" },
	};
	/* check-source: end */
	g_autofree gchar *good = report(GOOD_ACCOUNT, GOOD_DELIVERY);
	g_autoptr(GString) many = g_string_new(GOOD_DELIVERY);
	g_autofree gchar *too_many = NULL;

	g_assert_true(valid(good));
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree gchar *text = report(bad[i].account, bad[i].delivery);

		g_test_message("bad report %u", i);
		g_assert_false(valid(text));
	}
	for (guint i = 0; i < 100; i++)
		g_string_append(many, ", " GOOD_DELIVERY);
	too_many = report(GOOD_ACCOUNT, many->str);
	g_assert_false(valid(too_many));
	g_assert_false(valid("{\"accounts\": []}"));
}

static ExmPluginBuilderSeen *
seen_with(const gchar *usage)
{
	ExmPluginBuilderSeen *seen = g_new0(ExmPluginBuilderSeen, 1);
	g_autofree gchar *text = g_strdup_printf("{\"uuid\": \"x\", \"usage\": %s}", usage);

	seen->nodes = g_ptr_array_new_with_free_func(g_free);
	seen->ips = g_ptr_array_new_with_free_func(g_free);
	seen->node_actual = json_from_string(text, NULL);
	return seen;
}

static void
test_patch(void)
{
	g_autofree gchar *good = report(GOOD_ACCOUNT, GOOD_DELIVERY);
	g_autofree gchar *bad = report(GOOD_ACCOUNT, "{\"time\": 1}");
	g_autoptr(ExmPluginBuilderSeen) seen = seen_with(good);
	g_autoptr(ExmPluginBuilderSeen) bad_seen = seen_with(bad);
	ExmPluginBuilderInput in = { 0 };
	ExmMailInstance instance = { 0 };
	g_autofree gchar *patch = NULL;
	g_autoptr(JsonObject) obj = NULL;
	JsonObject *usage =
		json_object_get_object_member(json_node_get_object(seen->node_actual), "usage");
	g_autoptr(JsonNode) usage_node = json_node_init_object(json_node_alloc(), usage);

	instance.domain = (gchar *)DOMAIN;
	in.instance = &instance;
	in.usage_hash = (gchar *)"";
	/* new: joins the instance patch, whose members stay */
	patch = exm_plugin_usage_patch(&in, seen, g_strdup("{\"status\": \"ACTIVE\"}"));
	obj = exm_json_parse_object(patch, strlen(patch), NULL);
	g_assert_cmpstr(json_object_get_string_member(obj, "status"), ==, "ACTIVE");
	g_assert_true(json_object_has_member(obj, EXM_PLUGIN_USAGE_PATCH));
	g_clear_pointer(&patch, g_free);
	/* invalid: nothing */
	g_assert_null(exm_plugin_usage_patch(&in, bad_seen, NULL));
	/* unchanged: nothing */
	in.usage_hash = exm_json_hash(usage_node);
	g_assert_null(exm_plugin_usage_patch(&in, seen, NULL));
	g_free(in.usage_hash);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/plugin/usage/valid", test_valid);
	g_test_add_func("/plugin/usage/patch", test_patch);
	return g_test_run();
}
