/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail builders' pure half, linked from libexm-plugin without PostgreSQL:
 * a loaded input and an engine view go in, targets, the instance value and
 * the patch come out through a recording sink.
 */
#include <string.h>

#include "exm-json.h"
#include "exm-plugin-breaker.h"
#include "exm-plugin-capture.h"
#include "exm-plugin-builder.h"
#include "exm-test.h"
#include "exm-uuid.h"

#define INSTANCE "6f1c3b1e-2a4d-4c5e-9f60-7a8b9c0d1e2f"
#define PROJECT	 "00000000-0000-0000-0000-0000000000aa"
#define VERSION	 "00000000-0000-0000-0000-0000000000bb"
#define NODE	 "11111111-2222-3333-4444-555555555555"
#define INFRA	 "4d657461-0000-0000-0000-000000000002"
#define HASH                                                                                       \
	"$6$xNAW4QpoaCGQBXdf$6eKv4cyfwyXPWpgVWmTN7gVBU.8PXwV7cUi6UFBOR7N7.FrYwzPnd3mVtwdiESqe0U"   \
	"KjcDj3NcZ9z/HcLokwH0"

typedef struct {
	GPtrArray *kinds;  /* gchar*, one per add_target */
	GPtrArray *values; /* the same order */
	GPtrArray *agents;
	gchar *instance_value;
	gchar *status;
	gchar *patch;
	gchar *not_ready;
} Sink;

static void
sink_add(gpointer s,
	 const gchar *kind,
	 const gchar *uuid,
	 const gchar *value,
	 const gchar *agent,
	 const gchar *status)
{
	Sink *sink = s;

	g_ptr_array_add(sink->kinds, g_strdup(kind));
	g_ptr_array_add(sink->values, g_strdup(value));
	g_ptr_array_add(sink->agents, g_strdup(agent));
}

static void
sink_instance(gpointer s, const gchar *value, const gchar *status)
{
	Sink *sink = s;

	g_free(sink->instance_value);
	g_free(sink->status);
	sink->instance_value = g_strdup(value);
	sink->status = g_strdup(status);
}

static void
sink_patch(gpointer s, const gchar *patch)
{
	Sink *sink = s;

	g_free(sink->patch);
	sink->patch = g_strdup(patch);
}

static void
sink_not_ready(gpointer s, const gchar *reason)
{
	Sink *sink = s;

	g_free(sink->not_ready);
	sink->not_ready = g_strdup(reason);
}

static void
sink_clear(Sink *sink)
{
	g_ptr_array_unref(sink->kinds);
	g_ptr_array_unref(sink->values);
	g_ptr_array_unref(sink->agents);
	g_free(sink->instance_value);
	g_free(sink->status);
	g_free(sink->patch);
	g_free(sink->not_ready);
}

static ExordosPaasBuildSink
sink_init(Sink *sink)
{
	ExordosPaasBuildSink s = { sizeof(ExordosPaasBuildSink),
				   sink,
				   sink_add,
				   sink_instance,
				   sink_patch,
				   sink_not_ready };

	memset(sink, 0, sizeof(*sink));
	sink->kinds = g_ptr_array_new_with_free_func(g_free);
	sink->values = g_ptr_array_new_with_free_func(g_free);
	sink->agents = g_ptr_array_new_with_free_func(g_free);
	return s;
}

static ExmPluginBuilderInput *
input_new(void)
{
	ExmPluginBuilderInput *in = g_new0(ExmPluginBuilderInput, 1);
	ExmMailInstance *i = exm_mail_instance_new();

	i->uuid = g_strdup(INSTANCE);
	i->name = g_strdup("mx");
	i->project_id = g_strdup(PROJECT);
	i->domain = g_strdup("example.org");
	i->cpu = 2;
	i->ram = 2048;
	i->disk_size = 20;
	i->version = g_strdup(VERSION);
	in->instance = i;
	in->image = g_strdup("mail-image");
	in->accounts = exm_mail_node_new();
	g_assert_true(exm_mail_node_add_account(in->accounts, "alice", HASH, TRUE, NULL));
	return in;
}

/* A new instance: the NodeSet target only (no node yet, so no Config), the
 * instance IN_PROGRESS, and a patch saying so. */
static void
test_infra_new_instance(void)
{
	ExmPluginBuilderInput *in = input_new();
	const ExordosPaasResourcePair *const pairs[] = { NULL };
	ExordosPaasBuildView view = { sizeof(view), INSTANCE, pairs };
	Sink rec;
	ExordosPaasBuildSink sink = sink_init(&rec);
	g_autofree gchar *error = NULL;
	g_autoptr(JsonObject) ns = NULL;
	g_autoptr(JsonObject) patch = NULL;
	JsonObject *spec;

	g_assert_true(exm_plugin_builder_infra_build(NULL, in, &view, &sink, &error));
	g_assert_null(error);
	g_assert_cmpuint(rec.kinds->len, ==, 1);
	g_assert_cmpstr(rec.kinds->pdata[0], ==, EXM_PLUGIN_KIND_NODE_SET);
	ns = exm_json_parse_object(rec.values->pdata[0], strlen(rec.values->pdata[0]), NULL);
	g_assert_nonnull(ns);
	g_assert_cmpstr(json_object_get_string_member(ns, "name"), ==, "mailaas-dp-" INSTANCE);
	g_assert_cmpint(json_object_get_int_member(ns, "cores"), ==, 2);
	g_assert_cmpint(json_object_get_int_member(ns, "ram"), ==, 2048);
	spec = json_object_get_object_member(ns, "disk_spec");
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(spec, "disks")), ==, 2);
	g_assert_cmpstr(rec.status, ==, "IN_PROGRESS");
	g_assert_nonnull(rec.patch);
	patch = exm_json_parse_object(rec.patch, strlen(rec.patch), NULL);
	g_assert_cmpstr(json_object_get_string_member(patch, "status"), ==, "IN_PROGRESS");
	sink_clear(&rec);
	exm_plugin_builder_input_free(in);
}

/* With the host's infra project (ABI minor 2) the NodeSet and every Config
 * carry it, the instance keeps the tenant's; without one (an older host) both
 * fall back to the tenant's. */
static void
check_infra_project(const gchar *infra, const gchar *want)
{
	ExmPluginBuilderInput *in = input_new();
	ExordosPaasResource target = { "node_set", INSTANCE, "{}", "ACTIVE" };
	ExordosPaasResource actual = {
		"node_set", INSTANCE, "{\"nodes\":{\"" NODE "\":{\"ipv4\":\"10.0.0.5\"}}}", "ACTIVE"
	};
	ExordosPaasResourcePair pair = { &target, &actual };
	const ExordosPaasResourcePair *const pairs[] = { &pair, NULL };
	ExordosPaasBuildView view = { sizeof(view), INSTANCE, pairs };
	Sink rec;
	ExordosPaasBuildSink sink = sink_init(&rec);
	g_autofree gchar *error = NULL;
	g_autoptr(JsonObject) value = NULL;

	in->infra_project = g_strdup(infra);
	g_assert_true(exm_plugin_builder_infra_build(NULL, in, &view, &sink, &error));
	g_assert_cmpuint(rec.kinds->len, ==, 2);
	for (guint i = 0; i < rec.kinds->len; i++) {
		g_autoptr(JsonObject) v = exm_json_parse_object(
			rec.values->pdata[i], strlen(rec.values->pdata[i]), NULL);

		g_assert_cmpstr(json_object_get_string_member(v, "project_id"), ==, want);
	}
	g_assert_cmpstr(rec.kinds->pdata[1], ==, EXM_PLUGIN_KIND_CONFIG);
	value = exm_json_parse_object(rec.instance_value, strlen(rec.instance_value), NULL);
	g_assert_nonnull(value);
	if (json_object_has_member(value, "project_id"))
		g_assert_cmpstr(json_object_get_string_member(value, "project_id"), ==, PROJECT);
	sink_clear(&rec);
	exm_plugin_builder_input_free(in);
}

static void
test_infra_project(void)
{
	check_infra_project(INFRA, INFRA);
	check_infra_project(NULL, PROJECT);
}

/* Until the NodeSet is ACTIVE the paas builder is not ready. */
static void
test_paas_not_ready(void)
{
	ExmPluginBuilderInput *in = input_new();
	const ExordosPaasResourcePair *const pairs[] = { NULL };
	ExordosPaasBuildView view = { sizeof(view), INSTANCE, pairs };
	Sink rec;
	ExordosPaasBuildSink sink = sink_init(&rec);
	g_autofree gchar *error = NULL;

	g_assert_true(exm_plugin_builder_paas_build(NULL, in, &view, &sink, &error));
	g_assert_nonnull(rec.not_ready);
	g_assert_cmpuint(rec.kinds->len, ==, 0);
	sink_clear(&rec);
	exm_plugin_builder_input_free(in);
}

/* With an ACTIVE NodeSet: one mail_instance_node for the agent uuid5(node,
 * mailaas), carrying exactly {uuid, name, domain, accounts}. */
static void
test_paas_node_target(void)
{
	ExmPluginBuilderInput *in = input_new();
	ExordosPaasResource target = { "node_set", INSTANCE, "{}", "ACTIVE" };
	ExordosPaasResource actual = {
		"node_set", INSTANCE, "{\"nodes\":{\"" NODE "\":{\"ipv4\":\"10.0.0.5\"}}}", "ACTIVE"
	};
	ExordosPaasResourcePair pair = { &target, &actual };
	const ExordosPaasResourcePair *const pairs[] = { &pair, NULL };
	ExordosPaasBuildView view = { sizeof(view), INSTANCE, pairs };
	Sink rec;
	ExordosPaasBuildSink sink = sink_init(&rec);
	g_autofree gchar *error = NULL;
	g_autofree gchar *agent = exm_uuid_v5(NODE, EXM_PLUGIN_ELEMENT, NULL);
	g_autoptr(JsonObject) value = NULL;
	g_autoptr(JsonObject) patch = NULL;

	g_assert_true(exm_plugin_builder_paas_build(NULL, in, &view, &sink, &error));
	g_assert_null(rec.not_ready);
	g_assert_cmpuint(rec.kinds->len, ==, 1);
	g_assert_cmpstr(rec.kinds->pdata[0], ==, EXM_PLUGIN_KIND_NODE);
	g_assert_cmpstr(rec.agents->pdata[0], ==, agent);
	value = exm_json_parse_object(rec.values->pdata[0], strlen(rec.values->pdata[0]), NULL);
	g_assert_cmpuint(json_object_get_size(value), ==, 4);
	g_assert_cmpstr(json_object_get_string_member(value, "domain"), ==, "example.org");
	g_assert_true(
		json_object_has_member(json_object_get_object_member(value, "accounts"), "alice"));
	patch = exm_json_parse_object(rec.patch, strlen(rec.patch), NULL);
	g_assert_cmpstr(
		json_array_get_string_element(json_object_get_array_member(patch, "ipsv4"), 0),
		==,
		"10.0.0.5");
	sink_clear(&rec);
	exm_plugin_builder_input_free(in);
}

/* The node value the paas builder makes for @in once the NodeSet is ACTIVE;
 * @rec keeps what the sink got (cleared by the caller). */
static JsonObject *
paas_node_value(const ExmPluginBuilderInput *in, Sink *rec)
{
	ExordosPaasResource target = { "node_set", INSTANCE, "{}", "ACTIVE" };
	ExordosPaasResource actual = {
		"node_set", INSTANCE, "{\"nodes\":{\"" NODE "\":{\"ipv4\":\"10.0.0.5\"}}}", "ACTIVE"
	};
	ExordosPaasResourcePair pair = { &target, &actual };
	const ExordosPaasResourcePair *const pairs[] = { &pair, NULL };
	ExordosPaasBuildView view = { sizeof(view), INSTANCE, pairs };
	ExordosPaasBuildSink sink = sink_init(rec);
	g_autofree gchar *error = NULL;

	g_assert_true(exm_plugin_builder_paas_build(NULL, in, &view, &sink, &error));
	g_assert_null(error);
	g_assert_cmpuint(rec->values->len, ==, 1);
	return exm_json_parse_object(rec->values->pdata[0], strlen(rec->values->pdata[0]), NULL);
}

/* The abuse controls travel in the node value: the instance's limits and the
 * account's limits and senders (docs/abuse-controls.md). */
static void
test_paas_abuse_controls(void)
{
	ExmPluginBuilderInput *in = input_new();
	const gchar *senders[] = { "*@news.example.org", NULL };
	Sink rec;
	g_autoptr(JsonObject) value = NULL;
	JsonObject *alice;

	in->instance->limits.auth_fail_limit = 4;
	g_assert_true(
		exm_mail_node_set_account_policy(in->accounts, "alice", 30, 0, senders, NULL));
	value = paas_node_value(in, &rec);
	g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(value, "limits"),
						   "auth_fail_limit"),
			==,
			4);
	alice = json_object_get_object_member(json_object_get_object_member(value, "accounts"),
					      "alice");
	g_assert_cmpint(json_object_get_int_member(alice, "messages_per_hour"), ==, 30);
	g_assert_false(json_object_has_member(alice, "recipients_per_day"));
	g_assert_cmpstr(
		json_array_get_string_element(json_object_get_array_member(alice, "senders"), 0),
		==,
		"*@news.example.org");
	sink_clear(&rec);
	exm_plugin_builder_input_free(in);
}

/* The circuit breaker travels in the node value: the instance's thresholds
 * and an account's pending release with its token (docs/abuse-controls.md §7);
 * an account without one carries no action. */
static void
test_paas_breaker(void)
{
	ExmPluginBuilderInput *in = input_new();
	Sink rec;
	g_autoptr(JsonObject) value = NULL;
	JsonObject *limits;
	JsonObject *accounts;
	JsonObject *action;

	in->instance->limits.breaker_new_recipients_per_day = 3;
	in->instance->limits.breaker_bounce_percent = 40;
	in->instance->limits.breaker_bounce_min = 10;
	g_assert_true(exm_mail_node_add_account(in->accounts, "bob", HASH, TRUE, NULL));
	g_assert_true(exm_mail_node_set_account_breaker(
		in->accounts, "alice", EXM_MAIL_BREAKER_DISCARD, INFRA, NULL));
	value = paas_node_value(in, &rec);
	limits = json_object_get_object_member(value, "limits");
	g_assert_cmpint(
		json_object_get_int_member(limits, "breaker_new_recipients_per_day"), ==, 3);
	g_assert_cmpint(json_object_get_int_member(limits, "breaker_bounce_percent"), ==, 40);
	g_assert_cmpint(json_object_get_int_member(limits, "breaker_bounce_min"), ==, 10);
	accounts = json_object_get_object_member(value, "accounts");
	action = json_object_get_object_member(json_object_get_object_member(accounts, "alice"),
					       "breaker_action");
	g_assert_cmpstr(json_object_get_string_member(action, "op"), ==, "discard");
	g_assert_cmpstr(json_object_get_string_member(action, "token"), ==, INFRA);
	g_assert_false(json_object_has_member(json_object_get_object_member(accounts, "bob"),
					      "breaker_action"));
	sink_clear(&rec);
	exm_plugin_builder_input_free(in);
}

static ExmPluginBuilderSeen *
seen_with(const gchar *member)
{
	ExmPluginBuilderSeen *seen = g_new0(ExmPluginBuilderSeen, 1);
	g_autofree gchar *text = g_strdup_printf("{\"uuid\": \"x\"%s%s}",
						 member != NULL ? ", \"breaker\": " : "",
						 member ? member : "");

	seen->nodes = g_ptr_array_new_with_free_func(g_free);
	seen->ips = g_ptr_array_new_with_free_func(g_free);
	seen->node_actual = json_from_string(text, NULL);
	return seen;
}

/* The node's report joins the patch when it is valid and new; an absent
 * member is the empty report (so a hold ends); a bad one is ignored whole. */
static void
test_breaker_patch(void)
{
	const gchar *good = "{\"done\": {\"alice@example.org\": \"" INFRA "\"}}";
	g_autoptr(ExmPluginBuilderSeen) seen = seen_with(good);
	g_autoptr(ExmPluginBuilderSeen) none = seen_with(NULL);
	g_autoptr(ExmPluginBuilderSeen) foreign =
		seen_with("{\"done\": {\"alice@example.com\": \"" INFRA "\"}}");
	g_autoptr(ExmPluginBuilderSeen) wrong = seen_with("[]");
	ExmPluginBuilderInput *in = input_new();
	g_autofree gchar *patch = NULL;
	g_autofree gchar *empty = NULL;
	g_autoptr(JsonObject) obj = NULL;
	JsonObject *member = NULL;

	in->breaker_hash = g_strdup("");
	patch = exm_plugin_breaker_patch(NULL, in, seen, g_strdup("{\"status\": \"ACTIVE\"}"));
	obj = exm_json_parse_object(patch, strlen(patch), NULL);
	g_assert_cmpstr(json_object_get_string_member(obj, "status"), ==, "ACTIVE");
	member = json_object_get_object_member(obj, EXM_PLUGIN_BREAKER_PATCH);
	g_assert_true(json_object_has_member(member, "done"));
	g_assert_null(exm_plugin_breaker_patch(NULL, in, foreign, NULL));
	g_assert_null(exm_plugin_breaker_patch(NULL, in, wrong, NULL));
	empty = exm_plugin_breaker_patch(NULL, in, none, NULL);
	g_assert_cmpstr(empty, ==, "{\"breaker\":{}}");
	/* unchanged: nothing */
	g_free(in->breaker_hash);
	in->breaker_hash = exm_json_hash(json_object_get_member(obj, EXM_PLUGIN_BREAKER_PATCH));
	g_assert_null(exm_plugin_breaker_patch(NULL, in, seen, NULL));
	exm_plugin_builder_input_free(in);
}

/* One paas build of @in over an ACTIVE NodeSet and, when @node_value is
 * set, a node whose actual value it is. */
static void
paas_build_with(ExmPluginBuilderInput *in, const gchar *node_value, Sink *rec)
{
	ExordosPaasResource target = { "node_set", INSTANCE, "{}", "ACTIVE" };
	ExordosPaasResource actual = {
		"node_set", INSTANCE, "{\"nodes\":{\"" NODE "\":{\"ipv4\":\"10.0.0.5\"}}}", "ACTIVE"
	};
	ExordosPaasResource node_t = { "mail_instance_node", "a", "{}", "NEW", "h1", "h1", "a" };
	ExordosPaasResource node_a = {
		"mail_instance_node", "a", node_value, "ACTIVE", "h1", "h2", "a"
	};
	ExordosPaasResourcePair pair = { &target, &actual };
	ExordosPaasResourcePair node = { &node_t, &node_a };
	const ExordosPaasResourcePair *const pairs[] = { &pair,
							 node_value != NULL ? &node : NULL,
							 NULL };
	ExordosPaasBuildView view = { sizeof(view), INSTANCE, pairs };
	ExordosPaasBuildSink sink = sink_init(rec);
	g_autofree gchar *error = NULL;

	g_assert_true(exm_plugin_builder_paas_build(NULL, in, &view, &sink, &error));
	g_assert_null(error);
}

/* A sandboxed account carries `sandbox: true` in the node value, the others
 * nothing (docs/sandbox.md §1). */
static void
test_paas_sandbox(void)
{
	ExmPluginBuilderInput *in = input_new();
	g_autoptr(JsonObject) value = NULL;
	JsonObject *accounts;
	Sink rec;

	g_assert_true(exm_mail_node_add_account(in->accounts, "stage", HASH, TRUE, NULL));
	g_assert_true(exm_mail_node_set_account_sandbox(in->accounts, "stage", TRUE, NULL));
	paas_build_with(in, NULL, &rec);
	value = exm_json_parse_object(rec.values->pdata[0], strlen(rec.values->pdata[0]), NULL);
	accounts = json_object_get_object_member(value, "accounts");
	g_assert_true(json_object_get_boolean_member(
		json_object_get_object_member(accounts, "stage"), "sandbox"));
	g_assert_false(json_object_has_member(json_object_get_object_member(accounts, "alice"),
					      "sandbox"));
	sink_clear(&rec);
	exm_plugin_builder_input_free(in);
}

/* The node's captured report joins the patch when it is new, not when its
 * hash is the stored one. */
static void
test_paas_captured(void)
{
	static const gchar captured[] =
		"{\"messages\": [{\"id\": \"1tKq2x-0004Ab-Cd\", \"account\": "
		"\"alice@example.org\", \"time\": \"2026-12-05T10:00:00.000000Z\", \"size\": 12, "
		"\"dkim\": \"pass\", \"raw\": \"SGk=\"}]}";
	ExmPluginBuilderInput *in = input_new();
	g_autofree gchar *node_value = g_strdup_printf("{\"captured\": %s}", captured);
	g_autoptr(JsonNode) want = exm_json_parse_strict(captured, strlen(captured), NULL);
	g_autoptr(JsonObject) patch = NULL;
	Sink rec;

	in->capture_hash = g_strdup("");
	paas_build_with(in, node_value, &rec);
	patch = exm_json_parse_object(rec.patch, strlen(rec.patch), NULL);
	g_assert_true(json_object_has_member(patch, EXM_PLUGIN_CAPTURE_PATCH));
	sink_clear(&rec);
	g_free(in->capture_hash);
	in->capture_hash = exm_json_hash(want);
	paas_build_with(in, node_value, &rec);
	g_assert_true(rec.patch == NULL || strstr(rec.patch, "captured") == NULL);
	sink_clear(&rec);
	exm_plugin_builder_input_free(in);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/plugin/builder/infra-new-instance", test_infra_new_instance);
	g_test_add_func("/plugin/builder/infra-project", test_infra_project);
	g_test_add_func("/plugin/builder/paas-not-ready", test_paas_not_ready);
	g_test_add_func("/plugin/builder/paas-node-target", test_paas_node_target);
	g_test_add_func("/plugin/builder/paas-abuse-controls", test_paas_abuse_controls);
	g_test_add_func("/plugin/builder/paas-breaker", test_paas_breaker);
	g_test_add_func("/plugin/builder/breaker-patch", test_breaker_patch);
	g_test_add_func("/plugin/builder/paas-sandbox", test_paas_sandbox);
	g_test_add_func("/plugin/builder/paas-captured", test_paas_captured);
	return g_test_run();
}
