/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests of the agent library's pure parts against the protocol's vectors
 * (docs/agent-protocol.md §2.1, §2.3, §4.1): resources and payloads with
 * their hashes, identity, configuration and the Status API plan (the hash and
 * uuid5 vectors of libexm-proto itself are in test-proto.c).
 */
#include "exm-proto.h"
#include "exm-json.h"
#include "exm-test.h"
#include "exm-envelope.h"
#include "exm-ua-client.h"
#include "exm-ua-config.h"
#include "exm-ua-error.h"
#include "exm-ua-identity.h"
#include "exm-ua-payload.h"
#include "exm-ua-reconcile.h"
#include "exm-ua-sync.h"
#include "exm-ua-state.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#define VM_UUID	   "a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890"
#define NODE_UUID  "11111111-2222-3333-4444-555555555555"
#define AGENT_UUID "239bb923-73ae-5e7f-a9be-30e0a13dff80"
#define VM_TARGET  "{\"uuid\":\"" VM_UUID "\",\"name\":\"vm\",\"cores\":1,\"ram\":1024}"
#define VM_ACTUAL                                                                                  \
	"{\"uuid\":\"" VM_UUID                                                                     \
	"\",\"name\":\"vm\",\"cores\":1,\"ram\":1024,\"status\":\"ACTIVE\","                       \
	"\"created_at\":\"2022-01-01 00:00:00.000000\"}"

/* The full response of §4.1, verbatim. */
static const gchar *example_payload =
	"{\"capabilities\": {\"demo_vm\": {\"resources\": [{"
	"\"uuid\": \"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890\", \"kind\": \"demo_vm\","
	"\"res_uuid\": \"bce5d269-12be-52b0-90df-0191f1a39ace\","
	"\"value\": {\"uuid\": \"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890\", \"name\": \"vm\", "
	"\"cores\": 1, \"ram\": 1024},"
	"\"hash\": \"e5ecd78270703c31\", \"full_hash\": \"8e9ed58523af9b50\", \"status\": "
	"\"ACTIVE\","
	"\"created_at\": \"2026-05-01 10:00:00.123456\", \"updated_at\": \"2026-05-01 "
	"10:00:05.000001\"}]}},"
	"\"facts\": {\"demo_vm\": {\"resources\": [{"
	"\"uuid\": \"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890\", \"kind\": \"demo_vm\","
	"\"res_uuid\": \"bce5d269-12be-52b0-90df-0191f1a39ace\","
	"\"value\": {\"uuid\": \"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890\", \"name\": \"vm\", "
	"\"cores\": 1,"
	"\"ram\": 1024, \"status\": \"ACTIVE\", \"created_at\": \"2022-01-01 00:00:00.000000\"},"
	"\"hash\": \"e5ecd78270703c31\", \"full_hash\": \"8e9ed58523af9b50\", \"status\": "
	"\"ACTIVE\","
	"\"created_at\": \"2026-05-01 10:00:03.000000\", \"updated_at\": \"2026-05-01 "
	"10:00:03.000000\"}]}},"
	"\"hash\": \"37a273eaeebbb63f\", \"version\": 0}";

static JsonObject *
parse_object(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	JsonObject *o = exm_json_parse_object(text, strlen(text), &error);

	g_assert_no_error(error);
	return o;
}

/* hash = projection on keys(target.value); full_hash = whole value (§2.3). */
static void
test_projection_hash(void)
{
	g_autoptr(JsonObject) target = parse_object(VM_TARGET);
	g_autoptr(JsonObject) actual = parse_object(VM_ACTUAL);
	g_autoptr(JsonObject) drifted =
		parse_object("{\"uuid\":\"" VM_UUID "\",\"name\":\"vm\",\"cores\":2,\"ram\":1024}");
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmUaResource) r = NULL;
	g_autoptr(ExmUaResource) d = NULL;
	g_autofree gchar *proj = exm_proto_hash_projection(actual, target);
	g_autofree gchar *whole = exm_proto_hash_projection(actual, NULL);

	g_assert_cmpstr(proj, ==, "e5ecd78270703c31");
	g_assert_cmpstr(whole, ==, "8e9ed58523af9b50");
	r = exm_ua_resource_new_actual("demo_vm", actual, target, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(r->uuid, ==, VM_UUID);
	g_assert_cmpstr(r->hash, ==, "e5ecd78270703c31");
	g_assert_cmpstr(r->full_hash, ==, "8e9ed58523af9b50");
	g_assert_cmpstr(r->status, ==, "ACTIVE");
	d = exm_ua_resource_new_actual("demo_vm", drifted, target, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(d->hash, !=, "e5ecd78270703c31");
	g_assert_cmpstr(d->status, ==, "ACTIVE"); /* no status member → ACTIVE */
}

/* Any other status string (≤32 chars) is reported as it is (§13.1 item 9). */
static void
test_status_propagation(void)
{
	g_autoptr(JsonObject) v = parse_object("{\"uuid\":\"" VM_UUID "\",\"status\":\"ERROR\"}");
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmUaResource) r = exm_ua_resource_new_actual("demo_vm", v, NULL, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(r->status, ==, "ERROR");
}

static void
test_resource_bad_values(void)
{
	static const gchar *bad[] = {
		"{\"name\":\"x\"}",
		"{\"uuid\":\"not-a-uuid\"}",
		"{\"uuid\":\"" VM_UUID "\",\"status\":7}",
		"{\"uuid\":\"" VM_UUID "\",\"status\":\"0123456789012345678901234567890123\"}",
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(JsonObject) o = parse_object(bad[i]);
		g_autoptr(GError) error = NULL;
		g_autoptr(ExmUaResource) r = exm_ua_resource_new_actual("demo_vm", o, NULL, &error);
		g_assert_null(r);
		g_assert_error(error, EXM_UA_ERROR, EXM_UA_ERROR_DRIVER);
	}
}

static ExmUaResource *
resource(const gchar *kind, const gchar *json, const gchar *target_json)
{
	g_autoptr(JsonObject) v = parse_object(json);
	g_autoptr(JsonObject) t = target_json != NULL ? parse_object(target_json) : NULL;
	g_autoptr(GError) error = NULL;
	ExmUaResource *r = exm_ua_resource_new_actual(kind, v, t, &error);

	g_assert_no_error(error);
	return r;
}

/* Payload hash = sorted cap hashes ++ sorted fact full_hashes (§2.3 vectors). */
static void
test_payload_hash_vectors(void)
{
	g_autoptr(ExmUaPayload) p = exm_ua_payload_new();
	g_autofree gchar *empty = exm_ua_payload_compute_hash(p);
	g_autofree gchar *one = NULL;
	g_autofree gchar *converged = NULL;
	ExmUaResource *t = resource("demo_vm", VM_TARGET, NULL);

	g_assert_cmpstr(empty, ==, "831154110e30ac6a");
	/* empty baskets do not change the hash */
	exm_ua_payload_basket(p, TRUE, "demo_vm", TRUE);
	exm_ua_payload_basket(p, FALSE, "other", TRUE);
	g_free(empty);
	empty = exm_ua_payload_compute_hash(p);
	g_assert_cmpstr(empty, ==, "831154110e30ac6a");

	g_ptr_array_add(exm_ua_payload_basket(p, TRUE, "demo_vm", TRUE), t);
	one = exm_ua_payload_compute_hash(p);
	g_assert_cmpstr(one, ==, "486e18f02c531d23");
	g_ptr_array_add(exm_ua_payload_basket(p, FALSE, "demo_vm", TRUE),
			resource("demo_vm", VM_ACTUAL, VM_TARGET));
	converged = exm_ua_payload_compute_hash(p);
	g_assert_cmpstr(converged, ==, "37a273eaeebbb63f");
}

/* Capability hashes are sorted among themselves, never interleaved with facts. */
static void
test_payload_hash_sorting(void)
{
	g_autoptr(ExmUaPayload) a = exm_ua_payload_new();
	g_autoptr(ExmUaPayload) b = exm_ua_payload_new();
	g_autofree gchar *ha = NULL;
	g_autofree gchar *hb = NULL;
	const gchar *v1 = "{\"uuid\":\"" VM_UUID "\",\"n\":1}";
	const gchar *v2 = "{\"uuid\":\"" NODE_UUID "\",\"n\":2}";

	g_ptr_array_add(exm_ua_payload_basket(a, TRUE, "k1", TRUE), resource("k1", v1, NULL));
	g_ptr_array_add(exm_ua_payload_basket(a, TRUE, "k2", TRUE), resource("k2", v2, NULL));
	g_ptr_array_add(exm_ua_payload_basket(b, TRUE, "k2", TRUE), resource("k2", v1, NULL));
	g_ptr_array_add(exm_ua_payload_basket(b, TRUE, "k1", TRUE), resource("k1", v2, NULL));
	ha = exm_ua_payload_compute_hash(a);
	hb = exm_ua_payload_compute_hash(b);
	g_assert_cmpstr(ha, ==, hb);
}

/* The §4.1 example response parses, and its own hash recomputes. */
static void
test_payload_example(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) root =
		exm_json_parse_strict(example_payload, strlen(example_payload), &error);
	g_autoptr(ExmUaPayload) p = NULL;
	g_autofree gchar *hash = NULL;
	g_autoptr(ExmUaPayload) again = NULL;
	g_autoptr(JsonNode) out = NULL;
	GPtrArray *caps;

	g_assert_no_error(error);
	p = exm_ua_payload_from_json(root, &error);
	g_assert_no_error(error);
	g_assert_nonnull(p);
	if (p == NULL)
		return;
	g_assert_cmpstr(p->hash, ==, "37a273eaeebbb63f");
	g_assert_cmpint(p->version, ==, 0);
	caps = exm_ua_payload_basket(p, TRUE, "demo_vm", FALSE);
	g_assert_nonnull(caps);
	g_assert_cmpuint(caps->len, ==, 1);
	hash = exm_ua_payload_compute_hash(p);
	g_assert_cmpstr(hash, ==, "37a273eaeebbb63f");
	/* round trip through the persisted form */
	out = exm_ua_payload_to_json(p);
	again = exm_ua_payload_from_json(out, &error);
	g_assert_no_error(error);
	g_assert_true(exm_ua_payload_same(p, again));
}

static void
test_payload_malformed(void)
{
	static const gchar *bad[] = {
		"[]",
		"{\"capabilities\":{},\"facts\":{},\"version\":0}",
		"{\"capabilities\":{},\"facts\":{},\"hash\":\"x\",\"version\":-1}",
		"{\"capabilities\":{\"k\":{\"resources\":[1]}},\"facts\":{},\"hash\":\"x\","
		"\"version\":0}",
		"{\"capabilities\":{\"k\":{\"resources\":[{\"uuid\":\"" VM_UUID "\"}]}},"
		"\"facts\":{},\"hash\":\"x\",\"version\":0}",
		"{\"capabilities\":{\"bad/kind\":{\"resources\":[]}},\"facts\":{},\"hash\":\"x\","
		"\"version\":0}",
		"{\"capabilities\":{},\"facts\":{},\"hash\":\"x\",\"version\":\"0\"}",
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonNode) root = exm_json_parse_strict(bad[i], strlen(bad[i]), &error);
		g_autoptr(ExmUaPayload) p = NULL;

		g_assert_no_error(error);
		p = exm_ua_payload_from_json(root, &error);
		g_assert_null(p);
		g_assert_error(error, EXM_UA_ERROR, EXM_UA_ERROR_PROTOCOL);
	}
}

static gchar *
write_config(const gchar *dir, const gchar *body)
{
	g_autofree gchar *path = g_build_filename(dir, "agent.conf", NULL);
	g_autofree gchar *text = g_strdup_printf("[universal_agent]\n%s", body);
	g_autoptr(GError) error = NULL;

	g_file_set_contents(path, text, -1, &error);
	g_assert_no_error(error);
	return g_steal_pointer(&path);
}

/* System uuid from <root>/sys/class/dmi/id/product_uuid (upper case + newline, as
 * the kernel prints it), agent = uuid5(node, uuid5_name), node_uuid overrides. */
static void
test_identity(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("ua-identity");
	g_autofree gchar *dmi = g_build_filename(dir, "sys/class/dmi/id", NULL);
	g_autofree gchar *file = g_build_filename(dmi, "product_uuid", NULL);
	g_autofree gchar *body = g_strdup_printf("uuid5_name = s3aas\nsystem_root = %s\n", dir);
	g_autofree gchar *conf = write_config(dir, body);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmUaConfig) c = NULL;
	g_autoptr(ExmUaIdentity) id = NULL;
	g_autoptr(ExmUaIdentity) id2 = NULL;

	g_assert_cmpint(g_mkdir_with_parents(dmi, 0755), ==, 0);
	g_file_set_contents(file, "11111111-2222-3333-4444-555555555555\n", -1, &error);
	g_assert_no_error(error);
	c = exm_ua_config_load(conf, &error);
	g_assert_no_error(error);
	id = exm_ua_identity_new(c, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(id->node, ==, NODE_UUID);
	g_assert_cmpstr(id->agent, ==, AGENT_UUID);
	g_assert_cmpstr(id->name, ==, "Universal Agent 239bb923");

	/* node_uuid wins over DMI; explicit uuid wins over uuid5 */
	g_free(c->node_uuid);
	c->node_uuid = g_strdup(VM_UUID);
	id2 = exm_ua_identity_new(c, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(id2->node, ==, VM_UUID);
	g_clear_pointer(&id2, exm_ua_identity_free);
	c->uuid = g_strdup(NODE_UUID);
	id2 = exm_ua_identity_new(c, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(id2->agent, ==, NODE_UUID);
	g_clear_pointer(&id2, exm_ua_identity_free);

	/* garbage DMI file */
	g_free(c->node_uuid);
	c->node_uuid = NULL;
	g_free(c->uuid);
	c->uuid = NULL;
	g_file_set_contents(file, "Not Settable\n", -1, &error);
	g_assert_no_error(error);
	id2 = exm_ua_identity_new(c, &error);
	g_assert_null(id2);
	g_assert_error(error, EXM_UA_ERROR, EXM_UA_ERROR_CONFIG);
	exm_test_rmtree(dir);
}

static void
test_config_defaults(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("ua-config");
	g_autofree gchar *conf = write_config(dir, "uuid5_name = mailaas\n");
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmUaConfig) c = exm_ua_config_load(conf, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(c->orch_endpoint, ==, "http://localhost:11011");
	g_assert_cmpstr(c->status_endpoint, ==, "http://localhost:11011");
	g_assert_cmpstr(c->payload_path, ==, "/var/lib/exordos/universal_agent/payload.json");
	g_assert_cmpstr(c->system_root, ==, "/");
	g_assert_null(c->private_key_path);
	g_assert_true(c->secure);
	g_assert_false(exm_ua_config_use_envelope(c));
	g_assert_false(c->long_poll);
	g_assert_cmpfloat(c->poll_interval, ==, 3.0);
	g_assert_cmpfloat(c->http_timeout, ==, 20.0);
	g_assert_cmpuint(c->long_poll_wait, ==, 10);
	/* the cap bounds how late a returned CP is seen (issue 21 #5) */
	g_assert_cmpfloat(c->backoff_initial, ==, 1.0);
	g_assert_cmpfloat(c->backoff_max, ==, 10.0);
	exm_test_rmtree(dir);
}

/* A first delay above the cap is lowered to it: the cap wins. */
static void
test_config_backoff_cap_wins(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("ua-config");
	g_autofree gchar *conf = write_config(dir, "uuid5_name = mailaas\nbackoff_initial = 30\n");
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmUaConfig) c = exm_ua_config_load(conf, &error);

	g_assert_no_error(error);
	g_assert_cmpfloat(c->backoff_initial, ==, 10.0);
	g_assert_cmpfloat(c->backoff_max, ==, 10.0);
	exm_test_rmtree(dir);
}

static void
test_config_bad(void)
{
	static const gchar *bad[] = {
		"orch_endpoint = ftp://x/\n",
		"status_endpoint = not a url\n",
		"uuid = nope\n",
		"node_uuid = 1234\n",
		"long_poll = maybe\n",
		"poll_interval = -1\n",
		"poll_interval = nan\n",
		"long_poll_wait = 11\n",
		"payload_path = relative/payload.json\n",
	};
	g_autofree gchar *dir = exm_test_mkdtemp("ua-config");

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree gchar *conf = write_config(dir, bad[i]);
		g_autoptr(GError) error = NULL;
		g_autoptr(ExmUaConfig) c = exm_ua_config_load(conf, &error);
		g_assert_null(c);
		g_assert_error(error, EXM_UA_ERROR, EXM_UA_ERROR_CONFIG);
	}
	exm_test_rmtree(dir);
}

static void
add(ExmUaPayload *p, gboolean cap, ExmUaResource *r)
{
	g_ptr_array_add(exm_ua_payload_basket(p, cap, r->kind, TRUE), r);
}

static const ExmUaSyncOp *
find_op(GPtrArray *ops, ExmUaSyncVerb verb, const gchar *uuid)
{
	for (guint i = 0; i < ops->len; i++) {
		const ExmUaSyncOp *op = ops->pdata[i];
		if (op->verb == verb && g_str_equal(op->uuid, uuid))
			return op;
	}
	return NULL;
}

/* POST what only the DP has, PUT what differs, DELETE what only the CP has, but
 * never a DELETE for a kind whose driver failed. */
static void
test_sync_plan(void)
{
	const gchar *u1 = "00000000-0000-4000-8000-000000000001";
	const gchar *u2 = "00000000-0000-4000-8000-000000000002";
	const gchar *u3 = "00000000-0000-4000-8000-000000000003";
	const gchar *u4 = "00000000-0000-4000-8000-000000000004";
	g_autofree gchar *v1 = g_strdup_printf("{\"uuid\":\"%s\"}", u1);
	g_autofree gchar *v2 = g_strdup_printf("{\"uuid\":\"%s\",\"x\":1}", u2);
	g_autofree gchar *v2b = g_strdup_printf("{\"uuid\":\"%s\",\"x\":2}", u2);
	g_autofree gchar *v3 = g_strdup_printf("{\"uuid\":\"%s\"}", u3);
	g_autofree gchar *v4 = g_strdup_printf("{\"uuid\":\"%s\"}", u4);
	g_autoptr(ExmUaPayload) dp = exm_ua_payload_new();
	g_autoptr(ExmUaPayload) cp = exm_ua_payload_new();
	g_autoptr(GHashTable) kinds = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GPtrArray) ops = NULL;
	g_autoptr(GPtrArray) ops2 = NULL;
	g_autoptr(JsonNode) post = NULL;
	g_autoptr(JsonNode) put = NULL;
	const ExmUaSyncOp *op;

	add(dp, FALSE, resource("k", v1, NULL)); /* new → POST */
	add(dp, FALSE, resource("k", v2b, NULL));
	add(cp, FALSE, resource("k", v2, NULL));     /* differs → PUT */
	add(cp, FALSE, resource("k", v3, NULL));     /* gone → DELETE */
	add(cp, FALSE, resource("other", v4, NULL)); /* unprocessed kind: untouched */
	g_hash_table_insert(kinds, "k", GINT_TO_POINTER(FALSE));
	ops = exm_ua_sync_plan(dp, cp, kinds);
	g_assert_cmpuint(ops->len, ==, 3);
	g_assert_nonnull(find_op(ops, EXM_UA_SYNC_POST, u1));
	g_assert_nonnull(find_op(ops, EXM_UA_SYNC_PUT, u2));
	g_assert_nonnull(find_op(ops, EXM_UA_SYNC_DELETE, u3));

	op = find_op(ops, EXM_UA_SYNC_POST, u1);
	post = exm_ua_sync_body(op, NODE_UUID);
	{
		JsonObject *o = json_node_get_object(post);
		g_autofree gchar *res_uuid = exm_proto_uuid_resource(u1, "k");
		g_assert_cmpuint(json_object_get_size(o), ==, 8);
		g_assert_cmpstr(json_object_get_string_member(o, "kind"), ==, "/v1/kind/k");
		g_assert_cmpstr(json_object_get_string_member(o, "res_uuid"), ==, res_uuid);
		g_assert_cmpstr(json_object_get_string_member(o, "node"), ==, NODE_UUID);
	}
	put = exm_ua_sync_body(find_op(ops, EXM_UA_SYNC_PUT, u2), NODE_UUID);
	{
		JsonObject *o = json_node_get_object(put);
		g_assert_cmpuint(json_object_get_size(o), ==, 4);
		g_assert_true(json_object_has_member(o, "value"));
		g_assert_true(json_object_has_member(o, "hash"));
		g_assert_true(json_object_has_member(o, "full_hash"));
		g_assert_true(json_object_has_member(o, "status"));
	}

	g_hash_table_insert(kinds, "k", GINT_TO_POINTER(TRUE)); /* the driver failed */
	ops2 = exm_ua_sync_plan(dp, cp, kinds);
	g_assert_null(find_op(ops2, EXM_UA_SYNC_DELETE, u3));
	g_assert_cmpuint(ops2->len, ==, 2);
}

static ExmUaResource *
first_of(ExmUaPayload *p, gboolean capability)
{
	return exm_ua_payload_basket(p, capability, "demo_vm", FALSE)->pdata[0];
}

static guint
state_value_size(ExmUaPayload *p, gboolean capability)
{
	return json_object_get_size(first_of(p, capability)->value);
}

/* How often @needle occurs in the file at @path. */
static guint
occurrences(const gchar *path, const gchar *needle)
{
	g_autofree gchar *text = NULL;
	guint n = 0;

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	for (const gchar *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Saved atomically with mode 0600, not rewritten when unchanged, loaded back. */
static void
test_state_roundtrip(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("ua-state");
	g_autofree gchar *path = g_build_filename(dir, "sub", "payload.json", NULL);
	g_autoptr(ExmUaPayload) p = exm_ua_payload_new();
	g_autoptr(ExmUaPayload) t = exm_ua_payload_new();
	g_autoptr(ExmUaPayload) lp = NULL;
	g_autoptr(ExmUaPayload) lt = NULL;
	g_autoptr(GError) error = NULL;
	gboolean changed = FALSE;
	struct stat st;

	add(p, TRUE, resource("demo_vm", VM_ACTUAL, VM_TARGET));
	add(p, FALSE, resource("demo_vm", VM_ACTUAL, VM_TARGET));
	g_free(p->hash);
	p->hash = exm_ua_payload_compute_hash(p);
	add(t, TRUE, resource("demo_vm", VM_TARGET, NULL));
	g_assert_true(exm_ua_state_save(path, p, t, &changed, &error));
	g_assert_no_error(error);
	g_assert_true(changed);
	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0600);
	g_assert_true(exm_ua_state_save(path, p, t, &changed, &error));
	g_assert_false(changed);
	/* no value the reader leaves unread is written: the targets' alone */
	g_assert_cmpuint(occurrences(path, "\"created_at\""), ==, 0);
	g_assert_cmpuint(occurrences(path, "\"ram\":1024"), ==, 1);

	exm_ua_state_load(path, &lp, &lt);
	g_assert_cmpstr(lp->hash, ==, "37a273eaeebbb63f");
	g_assert_nonnull(lt);
	g_assert_nonnull(exm_ua_payload_basket(lt, TRUE, "demo_vm", FALSE));
	/* of the collected payload only the hashes are read back (docs/scale.md
	 * §3); the targets' values are */
	g_assert_cmpuint(state_value_size(lp, TRUE), ==, 0);
	g_assert_cmpuint(state_value_size(lp, FALSE), ==, 0);
	g_assert_cmpuint(state_value_size(lt, TRUE), >, 0);
	g_assert_cmpstr(first_of(lp, TRUE)->full_hash, ==, first_of(p, TRUE)->full_hash);
	g_clear_pointer(&lp, exm_ua_payload_free);
	g_clear_pointer(&lt, exm_ua_payload_free);
	/* without targets, the collected values stand in for them */
	g_assert_true(exm_ua_state_save(path, p, NULL, &changed, &error));
	g_assert_cmpuint(occurrences(path, "\"created_at\""), ==, 1);
	exm_ua_state_load(path, &lp, &lt);
	g_assert_null(lt);
	g_assert_cmpuint(state_value_size(lp, TRUE), >, 0);
	g_assert_cmpuint(state_value_size(lp, FALSE), ==, 0);
	g_clear_pointer(&lp, exm_ua_payload_free);

	/* a corrupt file is an empty state, not a crash */
	g_file_set_contents(path, "{\"hash\":", -1, &error);
	g_assert_no_error(error);
	exm_ua_state_load(path, &lp, &lt);
	g_assert_cmpstr(lp->hash, ==, "");
	g_assert_null(lt);
	exm_test_rmtree(dir);
}

#define VM_TARGET_DISKS                                                                            \
	"{\"uuid\":\"" VM_UUID "\",\"name\":\"vm\",\"ram\":1024,"                                  \
	"\"disks\":{\"root\":{\"size\":10}},\"tags\":[\"a\",{\"b\":1}]}"

/* What the state tests save: two collected payloads (@p, @p2), the targets
 * @t, in @dir's payload.json and full.json (a whole save to compare with). */
typedef struct {
	gchar *dir;
	gchar *path;
	gchar *full_path;
	ExmUaPayload *p;
	ExmUaPayload *p2;
	ExmUaPayload *t;
} StateFx;

static void
state_fx_init(StateFx *fx, const gchar *name)
{
	g_autoptr(GError) error = NULL;

	fx->dir = exm_test_mkdtemp(name);
	fx->path = g_build_filename(fx->dir, "payload.json", NULL);
	fx->full_path = g_build_filename(fx->dir, "full.json", NULL);
	fx->p = exm_ua_payload_new();
	fx->p2 = exm_ua_payload_new();
	fx->t = exm_ua_payload_new();
	add(fx->p, TRUE, resource("demo_vm", VM_ACTUAL, VM_TARGET));
	add(fx->p2, TRUE, resource("demo_vm", VM_ACTUAL, VM_TARGET_DISKS));
	g_free(fx->p2->hash);
	fx->p2->hash = exm_ua_payload_compute_hash(fx->p2);
	add(fx->t, TRUE, resource("demo_vm", VM_TARGET_DISKS, NULL));
	g_free(fx->t->hash);
	fx->t->hash = g_strdup("0123456789abcdef");
	/* the file as both tests begin: p collected, t the targets */
	g_assert_true(exm_ua_state_save(fx->path, fx->p, fx->t, NULL, &error));
	g_assert_no_error(error);
}

static void
state_fx_clear(StateFx *fx)
{
	exm_test_rmtree(fx->dir);
	g_free(fx->dir);
	g_free(fx->path);
	g_free(fx->full_path);
	exm_ua_payload_free(fx->p);
	exm_ua_payload_free(fx->p2);
	exm_ua_payload_free(fx->t);
}

/* Read hollow, the targets keep their member names, scalars, arrays and
 * hashes, and every object inside their values is empty; saved again, the
 * file is byte for byte what a save with their values writes.  Saved hollow
 * over a file holding other targets (or none), nothing is written. */
static void
test_state_hollow(void)
{
	StateFx fx;
	g_autoptr(ExmUaPayload) lp = NULL;
	g_autoptr(ExmUaPayload) lt = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *hollow_text = NULL;
	g_autofree gchar *full_text = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	ExmUaResource *r;
	gboolean changed = FALSE;

	state_fx_init(&fx, "ua-state-hollow");
	exm_ua_state_load_hollow(fx.path, &lp, &lt);
	g_assert_nonnull(lt);
	g_assert_true(lt->hollow);
	g_assert_cmpstr(lt->hash, ==, fx.t->hash);
	r = first_of(lt, TRUE);
	g_assert_true(r->hollow);
	g_assert_cmpstr(r->hash, ==, first_of(fx.t, TRUE)->hash);
	g_assert_cmpuint(json_object_get_size(r->value), ==, 5);
	g_assert_cmpint(json_object_get_int_member(r->value, "ram"), ==, 1024);
	g_assert_cmpuint(
		json_object_get_size(json_object_get_object_member(r->value, "disks")), ==, 0);
	g_assert_cmpuint(
		json_array_get_length(json_object_get_array_member(r->value, "tags")), ==, 2);
	g_assert_false(first_of(lp, TRUE)->hollow);

	/* a new collected payload saved with the hollow targets */
	g_assert_true(exm_ua_state_save(fx.path, fx.p2, lt, &changed, &error));
	g_assert_no_error(error);
	g_assert_true(changed);
	g_assert_true(exm_ua_state_save(fx.full_path, fx.p2, fx.t, NULL, &error));
	g_assert_true(g_file_get_contents(fx.path, &hollow_text, NULL, NULL));
	g_assert_true(g_file_get_contents(fx.full_path, &full_text, NULL, NULL));
	g_assert_cmpstr(hollow_text, ==, full_text);
	g_assert_true(exm_ua_state_save(fx.path, fx.p2, lt, &changed, &error));
	g_assert_false(changed);

	/* the file holds other targets, or none: refused, the file kept */
	g_free(fx.t->hash);
	fx.t->hash = g_strdup("fedcba9876543210");
	g_assert_true(exm_ua_state_save(fx.path, fx.p, fx.t, NULL, &error));
	g_assert_true(g_file_get_contents(fx.path, &before, NULL, NULL));
	g_assert_false(exm_ua_state_save(fx.path, fx.p2, lt, NULL, &error));
	g_assert_error(error, EXM_UA_ERROR, EXM_UA_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, "not the ones held"));
	g_clear_error(&error);
	g_assert_true(g_file_get_contents(fx.path, &after, NULL, NULL));
	g_assert_cmpstr(after, ==, before);
	g_assert_true(exm_ua_state_save(fx.path, fx.p, NULL, NULL, &error));
	g_assert_false(exm_ua_state_save(fx.path, fx.p2, lt, NULL, &error));
	g_assert_error(error, EXM_UA_ERROR, EXM_UA_ERROR_FAILED);
	g_clear_error(&error);
	g_assert_cmpint(g_unlink(fx.path), ==, 0);
	g_assert_false(exm_ua_state_save(fx.path, fx.p2, lt, NULL, &error));
	g_assert_error(error, EXM_UA_ERROR, EXM_UA_ERROR_FAILED);
	g_assert_false(g_file_test(fx.path, G_FILE_TEST_EXISTS));
	state_fx_clear(&fx);
}

/* Hollow targets larger than one read of the file (64 KiB): copied in
 * several reads, byte for byte what a whole save writes, from where they
 * were recorded and from a file another writer wrote. */
static void
test_state_hollow_large(void)
{
	StateFx fx;
	g_autofree gchar *big = g_strnfill(300000, 'h');
	g_autofree gchar *target = g_strdup_printf(
		"{\"uuid\":\"" VM_UUID "\",\"ram\":1,\"note\":\"%s\",\"disks\":{\"r\":{}}}", big);
	g_autoptr(ExmUaPayload) lp = NULL;
	g_autoptr(ExmUaPayload) lt = NULL;
	g_autoptr(GError) error = NULL;

	state_fx_init(&fx, "ua-state-large");
	exm_ua_payload_free(fx.t);
	fx.t = exm_ua_payload_new();
	add(fx.t, TRUE, resource("demo_vm", target, NULL));
	g_free(fx.t->hash);
	fx.t->hash = g_strdup("0123456789abcdef");
	g_assert_true(exm_ua_state_save(fx.path, fx.p, fx.t, NULL, &error));
	g_assert_no_error(error);
	exm_ua_state_load_hollow(fx.path, &lp, &lt);
	g_assert_nonnull(lt);
	for (guint i = 0; i < 3; i++) {
		g_autofree gchar *hollow_text = NULL;
		g_autofree gchar *full_text = NULL;

		/* the second round: the file rewritten by another writer */
		if (i == 1)
			g_assert_true(exm_ua_state_save(fx.path, fx.p, fx.t, NULL, &error));
		g_assert_true(exm_ua_state_save(fx.path, i == 2 ? fx.p : fx.p2, lt, NULL, &error));
		g_assert_no_error(error);
		g_assert_true(
			exm_ua_state_save(fx.full_path, i == 2 ? fx.p : fx.p2, fx.t, NULL, &error));
		g_assert_true(g_file_get_contents(fx.path, &hollow_text, NULL, NULL));
		g_assert_true(g_file_get_contents(fx.full_path, &full_text, NULL, NULL));
		g_assert_cmpuint(strlen(hollow_text), >, 300000);
		g_assert_cmpstr(hollow_text, ==, full_text);
	}
	state_fx_clear(&fx);
}

/* Hollow targets know where the file they were read from or last written to
 * holds them (ExmUaSaved): saves with other collected payloads (a text longer
 * or shorter before them) copy them from there, byte for byte as whole
 * saves write; a file written since by another writer is checked again. */
static void
test_state_hollow_recorded(void)
{
	StateFx fx;
	g_autoptr(ExmUaPayload) lp = NULL;
	g_autoptr(ExmUaPayload) lt = NULL;
	g_autoptr(GError) error = NULL;
	gboolean changed = FALSE;

	state_fx_init(&fx, "ua-state-recorded");
	exm_ua_state_load_hollow(fx.path, &lp, &lt);
	g_assert_nonnull(lt);
	g_assert_nonnull(lt->saved.file);
	for (guint i = 0; i < 3; i++) {
		ExmUaPayload *c = i == 1 ? fx.p : fx.p2;
		g_autofree gchar *hollow_text = NULL;
		g_autofree gchar *full_text = NULL;

		g_assert_true(exm_ua_state_save(fx.path, c, lt, &changed, &error));
		g_assert_no_error(error);
		g_assert_true(changed);
		g_assert_nonnull(lt->saved.file);
		g_assert_true(exm_ua_state_save(fx.full_path, c, fx.t, NULL, &error));
		g_assert_true(g_file_get_contents(fx.path, &hollow_text, NULL, NULL));
		g_assert_true(g_file_get_contents(fx.full_path, &full_text, NULL, NULL));
		g_assert_cmpstr(hollow_text, ==, full_text);
		/* another writer, the same targets: checked again, and kept */
		if (i == 1)
			g_assert_true(exm_ua_state_save(fx.path, fx.p, fx.t, NULL, &error));
	}
	/* another writer, other targets where the recorded ones were: refused */
	g_free(fx.t->hash);
	fx.t->hash = g_strdup("fedcba9876543210");
	g_assert_true(exm_ua_state_save(fx.path, fx.p2, fx.t, NULL, &error));
	g_assert_false(exm_ua_state_save(fx.path, fx.p2, lt, NULL, &error));
	g_assert_error(error, EXM_UA_ERROR, EXM_UA_ERROR_FAILED);
	state_fx_clear(&fx);
}

/* A state that cannot be saved is an error; one that cannot be read back (not a
 * file, a corrupt cached target) is an empty state, so the agent starts over. */
static void
test_state_failures(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("ua-state-fail");
	g_autofree gchar *file = g_build_filename(dir, "file", NULL);
	g_autofree gchar *under_file = g_build_filename(file, "payload.json", NULL);
	g_autofree gchar *subdir = g_build_filename(dir, "subdir", NULL);
	g_autofree gchar *path = g_build_filename(dir, "payload.json", NULL);
	g_autoptr(ExmUaPayload) p = exm_ua_payload_new();
	g_autoptr(ExmUaPayload) lp = NULL;
	g_autoptr(ExmUaPayload) lt = NULL;
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr(GError) error = NULL;

	add(p, TRUE, resource("demo_vm", VM_ACTUAL, VM_TARGET));
	g_assert_true(g_file_set_contents(file, "x", -1, NULL));
	g_assert_false(exm_ua_state_save(under_file, p, NULL, NULL, &error));
	g_assert_error(error, EXM_UA_ERROR, EXM_UA_ERROR_FAILED);
	g_clear_error(&error);
	/* a directory where the file goes: the atomic write fails, nothing is lost */
	g_assert_cmpint(g_mkdir(subdir, 0700), ==, 0);
	g_assert_false(exm_ua_state_save(subdir, p, NULL, NULL, &error));
	g_assert_error(error, EXM_UA_ERROR, EXM_UA_ERROR_FAILED);
	g_clear_error(&error);
	g_assert_true(g_file_test(subdir, G_FILE_TEST_IS_DIR));

	/* unreadable (a directory) and missing files: empty states */
	exm_ua_state_load(subdir, &lp, &lt);
	g_assert_null(exm_ua_payload_basket(lp, TRUE, "demo_vm", FALSE));
	g_assert_null(lt);
	g_clear_pointer(&lp, exm_ua_payload_free);
	exm_ua_state_load(path, &lp, &lt);
	g_assert_null(lt);
	g_clear_pointer(&lp, exm_ua_payload_free);

	/* a valid collected payload with corrupt cached targets: both are dropped */
	root = exm_ua_payload_to_json(p);
	json_object_set_int_member(json_node_get_object(root), "targets", 42);
	text = exm_json_to_string(root);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	exm_ua_state_load(path, &lp, &lt);
	g_assert_null(exm_ua_payload_basket(lp, TRUE, "demo_vm", FALSE));
	g_assert_null(lt);
	exm_test_rmtree(dir);
}

/* A sealed client's key, written as the agent's key file. */
static ExmUaClient *
client_with_key(const gchar *dir, guint8 key[EXM_ENVELOPE_KEY_LEN])
{
	g_autofree gchar *path = g_build_filename(dir, "key", NULL);
	g_autofree gchar *b64 = NULL;
	ExmUaConfig config = {
		.orch_endpoint = "http://127.0.0.1:9",
		.status_endpoint = "http://127.0.0.1:9",
		.private_key_path = path,
		.secure = TRUE,
		.http_timeout = 5,
	};
	g_autoptr(GError) error = NULL;
	ExmUaClient *client;

	for (guint i = 0; i < EXM_ENVELOPE_KEY_LEN; i++)
		key[i] = (guint8)g_random_int();
	b64 = g_base64_encode(key, EXM_ENVELOPE_KEY_LEN);
	g_assert_true(g_file_set_contents_full(
		path, b64, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error));
	client = exm_ua_client_new(&config, "node-1", &error);
	g_assert_no_error(error);
	return client;
}

/* @plain sealed with @key: the body (with a byte of room) and its nonce. */
static gchar *
seal_answer(const guint8 *key, const gchar *plain, gsize *len, gchar **nonce)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) wire = exm_envelope_seal(key, plain, strlen(plain), nonce, &error);
	gsize size = 0;
	const gchar *data;
	gchar *copy;

	g_assert_no_error(error);
	data = g_bytes_get_data(wire, &size);
	copy = g_malloc(size + 1);
	memcpy(copy, data, size);
	*len = size;
	return copy;
}

/* @body as the client encodes it opens with @key to @expected. */
static void
assert_encodes(ExmUaClient *client, const guint8 *key, JsonNode *body, const gchar *expected)
{
	g_auto(ExmUaClientWire) wire = { 0 };
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) plain = NULL;

	g_assert_true(exm_ua_client_encode(client, body, &wire, &error));
	g_assert_cmpstr(wire.content_type, ==, EXM_ENVELOPE_CONTENT_TYPE);
	g_assert_nonnull(wire.nonce);
	plain = exm_envelope_open(key,
				  wire.nonce,
				  g_bytes_get_data(wire.body, NULL),
				  g_bytes_get_size(wire.body),
				  &error);
	g_assert_no_error(error);
	g_assert_cmpstr(g_bytes_get_data(plain, NULL), ==, expected);
}

/* A request's body as the client sends it, without its own transport (what
 * the Orch load simulator carries itself). */
static void
test_client_encode(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("ua-client");
	guint8 key[EXM_ENVELOPE_KEY_LEN];
	g_autoptr(ExmUaClient) client = client_with_key(dir, key);
	g_autoptr(JsonNode) body = json_from_string("{\"a\":1}", NULL);

	g_assert_cmpstr(exm_ua_client_get_node_uuid(client), ==, "node-1");
	/* bodiless: the sealed JSON literal null */
	assert_encodes(client, key, NULL, "null");
	assert_encodes(client, key, body, "{\"a\":1}");
	exm_test_rmtree(dir);
}

/* @plain sealed with a fresh nonce (its first byte flipped when @tamper), as
 * a 200 answer. */
static ExmUaResponse *
answer_sealed(ExmUaClient *client,
	      const guint8 *key,
	      const gchar *plain,
	      gboolean tamper,
	      GError **error)
{
	g_autofree gchar *nonce = NULL;
	gsize len = 0;
	gchar *data = seal_answer(key, plain, &len, &nonce);

	if (tamper)
		data[0] ^= 1;
	return exm_ua_client_answer(
		client, 200, EXM_ENVELOPE_CONTENT_TYPE, nonce, data, len, NULL, error);
}

/* Answers as the client reads them, off another transport. */
static void
test_client_answer(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("ua-client");
	guint8 key[EXM_ENVELOPE_KEY_LEN];
	g_autoptr(ExmUaClient) client = client_with_key(dir, key);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmUaResponse) resp =
		answer_sealed(client, key, "{\"hash\":\"h\"}", FALSE, &error);
	g_autofree gchar *nonce = NULL;
	gsize len = 0;
	gchar *data;

	g_assert_no_error(error);
	g_assert_cmpuint(resp->status, ==, 200);
	g_assert_cmpstr(
		json_object_get_string_member(json_node_get_object(resp->body), "hash"), ==, "h");
	g_clear_pointer(&resp, exm_ua_client_response_free);
	/* a sealed answer that does not authenticate */
	resp = answer_sealed(client, key, "{}", TRUE, &error);
	g_assert_error(error, EXM_UA_ERROR, EXM_UA_ERROR_PROTOCOL);
	g_assert_null(resp);
	g_clear_error(&error);
	/* the same answer twice, its nonce seen: a replay */
	data = seal_answer(key, "{}", &len, &nonce);
	resp = exm_ua_client_answer(client,
				    200,
				    EXM_ENVELOPE_CONTENT_TYPE,
				    nonce,
				    g_memdup2(data, len + 1),
				    len,
				    NULL,
				    &error);
	g_assert_no_error(error);
	g_clear_pointer(&resp, exm_ua_client_response_free);
	resp = exm_ua_client_answer(
		client, 200, EXM_ENVELOPE_CONTENT_TYPE, nonce, data, len, NULL, &error);
	g_assert_error(error, EXM_UA_ERROR, EXM_UA_ERROR_REFUSED);
	g_assert_null(resp);
	g_clear_error(&error);
	/* a plain success although a key is held */
	resp = exm_ua_client_answer(
		client, 200, "application/json", NULL, g_strdup("{}"), 2, NULL, &error);
	g_assert_error(error, EXM_UA_ERROR, EXM_UA_ERROR_REFUSED);
	g_clear_error(&error);
	/* error answers: plain JSON read, anything else an empty body */
	resp = exm_ua_client_answer(client,
				    404,
				    "application/json",
				    NULL,
				    g_strdup("{\"message\":\"x\"}"),
				    15,
				    NULL,
				    &error);
	g_assert_no_error(error);
	g_assert_cmpuint(resp->status, ==, 404);
	g_assert_nonnull(resp->body);
	g_clear_pointer(&resp, exm_ua_client_response_free);
	resp = exm_ua_client_answer(
		client, 500, "text/html", NULL, g_strdup("<oops"), 5, NULL, &error);
	g_assert_no_error(error);
	g_assert_null(resp->body);
	g_clear_pointer(&resp, exm_ua_client_response_free);
	resp = exm_ua_client_answer(client, 204, NULL, NULL, g_strdup(""), 0, NULL, &error);
	g_assert_no_error(error);
	g_assert_null(resp->body);
	exm_test_rmtree(dir);
}

static void
client_request_done(GObject *source, GAsyncResult *res, gpointer data)
{
	gboolean *done = data;
	g_autoptr(GError) error = NULL;
	/* the client is not used by the finish */
	g_autoptr(ExmUaResponse) resp = exm_ua_client_request_finish(NULL, res, &error);

	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
	*done = TRUE;
}

/* A client keeps no source in its context until its first request: one
 * whose polls travel by other means (the Orch load simulator's,
 * exm_ua_client_encode()) costs its context's iterations nothing. */
static void
test_client_no_source_until_request(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("ua-client");
	g_autoptr(GMainContext) context = g_main_context_new();
	guint8 key[EXM_ENVELOPE_KEY_LEN];
	g_autoptr(ExmUaClient) client = NULL;
	g_auto(ExmUaClientWire) wire = { 0 };
	g_autoptr(GError) error = NULL;
	gboolean done = FALSE;

	g_main_context_push_thread_default(context);
	client = client_with_key(dir, key);
	g_assert_true(exm_ua_client_encode(client, NULL, &wire, &error));
	/* source ids count from 1 in a context of its own */
	g_assert_null(g_main_context_find_source_by_id(context, 1));
	exm_ua_client_request_async(client,
				    EXM_UA_API_ORCH,
				    "GET",
				    "/v1/x",
				    NULL,
				    NULL,
				    NULL,
				    client_request_done,
				    &done);
	g_assert_nonnull(g_main_context_find_source_by_id(context, 1));
	while (!done)
		g_main_context_iteration(context, TRUE);
	g_clear_pointer(&client, exm_ua_client_free);
	while (g_main_context_iteration(context, FALSE))
		;
	g_main_context_pop_thread_default(context);
	exm_test_rmtree(dir);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	/* The agent logs CP outages and injected failures as warnings by design;
	 * criticals stay fatal (G_DEBUG=fatal-criticals). */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	g_test_add_func("/ua/hash/projection", test_projection_hash);
	g_test_add_func("/ua/hash/bad-actual-values", test_resource_bad_values);
	g_test_add_func("/ua/hash/status-propagation", test_status_propagation);
	g_test_add_func("/ua/hash/payload-vectors", test_payload_hash_vectors);
	g_test_add_func("/ua/hash/payload-sorting", test_payload_hash_sorting);
	g_test_add_func("/ua/payload/example", test_payload_example);
	g_test_add_func("/ua/payload/malformed", test_payload_malformed);
	g_test_add_func("/ua/identity/dmi-uuid5-override", test_identity);
	g_test_add_func("/ua/config/defaults", test_config_defaults);
	g_test_add_func("/ua/config/backoff-cap-wins", test_config_backoff_cap_wins);
	g_test_add_func("/ua/config/bad-values", test_config_bad);
	g_test_add_func("/ua/sync/plan", test_sync_plan);
	g_test_add_func("/ua/state/roundtrip", test_state_roundtrip);
	g_test_add_func("/ua/state/failures", test_state_failures);
	g_test_add_func("/ua/state/hollow", test_state_hollow);
	g_test_add_func("/ua/state/hollow-recorded", test_state_hollow_recorded);
	g_test_add_func("/ua/state/hollow-large", test_state_hollow_large);
	g_test_add_func("/ua/client/encode", test_client_encode);
	g_test_add_func("/ua/client/answer", test_client_answer);
	g_test_add_func("/ua/client/no-source-until-request", test_client_no_source_until_request);
	return g_test_run();
}
