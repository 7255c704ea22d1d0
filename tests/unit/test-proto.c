/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * libexm-proto against the protocol's vectors (docs/agent-protocol.md §2.1,
 * §2.3): value, projection and payload hashes, res_uuid and agent uuid5 names,
 * the kind alphabet.  The host and the agent both compute these.
 */
#include "exm-json.h"
#include "exm-proto.h"
#include "exm-test.h"

#include <stdarg.h>
#include <string.h>

#define VM_UUID	   "a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890"
#define NODE_UUID  "11111111-2222-3333-4444-555555555555"
#define AGENT_UUID "239bb923-73ae-5e7f-a9be-30e0a13dff80"
#define VM_TARGET  "{\"uuid\":\"" VM_UUID "\",\"name\":\"vm\",\"cores\":1,\"ram\":1024}"
#define VM_ACTUAL                                                                                  \
	"{\"uuid\":\"" VM_UUID                                                                     \
	"\",\"name\":\"vm\",\"cores\":1,\"ram\":1024,\"status\":\"ACTIVE\","                       \
	"\"created_at\":\"2022-01-01 00:00:00.000000\"}"

static JsonObject *
parse_object(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	JsonObject *o = exm_json_parse_object(text, strlen(text), &error);

	g_assert_no_error(error);
	return o;
}

static void
test_value_hash_vectors(void)
{
	static const struct {
		const gchar *json;
		const gchar *hash;
	} vectors[] = {
		{ "{}", "1349cde127705c16" },
		{ VM_TARGET, "e5ecd78270703c31" },
		{ VM_ACTUAL, "8e9ed58523af9b50" },
		{ "{\"b\":true,\"d\":{\"a\":2,\"z\":1},\"f\":1.5,\"l\":[3,\"x\"],\"n\":null,"
		  "\"name\":\"caf\\u00e9 \\ud83d\\ude00\"}",
		  "aa9124d573751bff" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(vectors); i++) {
		g_autoptr(JsonObject) o = parse_object(vectors[i].json);
		g_autofree gchar *h = exm_proto_hash_value(o);
		g_assert_cmpstr(h, ==, vectors[i].hash);
	}
}

static void
test_res_uuid_vectors(void)
{
	static const gchar *vectors[][3] = {
		{ VM_UUID, "demo_vm", "bce5d269-12be-52b0-90df-0191f1a39ace" },
		{ VM_UUID, "node", "af977524-ff5b-53a4-a4a0-1fdbba284796" },
		{ NODE_UUID, "s3aas", AGENT_UUID },
	};

	for (guint i = 0; i < G_N_ELEMENTS(vectors); i++) {
		g_autofree gchar *u = exm_proto_uuid_resource(vectors[i][0], vectors[i][1]);
		g_assert_cmpstr(u, ==, vectors[i][2]);
	}
}

static void
test_kind_valid(void)
{
	g_assert_true(exm_proto_kind_is_valid("mail_instance_node"));
	g_assert_true(exm_proto_kind_is_valid("demo.vm-2"));
	g_assert_false(exm_proto_kind_is_valid(""));
	g_assert_false(exm_proto_kind_is_valid(NULL));
	g_assert_false(exm_proto_kind_is_valid("a/b"));
	g_assert_false(exm_proto_kind_is_valid("a?b"));
	g_assert_false(exm_proto_kind_is_valid(
		"x0123456789012345678901234567890123456789012345678901234567890123"));
}

/* hash = projection on keys(target.value); full_hash = whole value (§2.3). */
static void
test_projection_hash(void)
{
	g_autoptr(JsonObject) target = parse_object(VM_TARGET);
	g_autoptr(JsonObject) actual = parse_object(VM_ACTUAL);
	g_autoptr(JsonObject) drifted =
		parse_object("{\"uuid\":\"" VM_UUID "\",\"name\":\"vm\",\"cores\":2,\"ram\":1024}");
	g_autofree gchar *proj = exm_proto_hash_projection(actual, target);
	g_autofree gchar *whole = exm_proto_hash_projection(actual, NULL);
	g_autofree gchar *moved = exm_proto_hash_projection(drifted, target);

	g_assert_cmpstr(proj, ==, "e5ecd78270703c31");
	g_assert_cmpstr(whole, ==, "8e9ed58523af9b50");
	g_assert_cmpstr(moved, !=, "e5ecd78270703c31");
}

/* The projection is hashed where the members are (no copy): the same hash as
 * the canonical text of a projected copy, keys missing from the value and
 * nested objects in any member order included; the value is left as it was. */
static void
test_projection_in_place(void)
{
	g_autoptr(JsonObject) value = parse_object(
		"{\"z\":{\"b\":[1,{\"y\":2.5,\"x\":null}],\"a\":\"\\u00e9\"},\"m\":true,"
		"\"a\":-7,\"extra\":\"not a key\"}");
	g_autoptr(JsonObject) keys = parse_object("{\"m\":0,\"missing\":0,\"z\":0,\"a\":0}");
	g_autoptr(JsonObject) copy = json_object_new();
	g_autoptr(JsonNode) node = NULL;
	g_autoptr(JsonNode) whole = json_node_init_object(json_node_alloc(), value);
	g_autofree gchar *before = exm_json_canonical(whole);
	g_autofree gchar *want = NULL;
	g_autofree gchar *got = exm_proto_hash_projection(value, keys);
	g_autofree gchar *after = NULL;
	g_autofree gchar *all = exm_proto_hash_projection(value, NULL);
	g_autofree gchar *all_want = exm_json_hash(whole);

	json_object_set_member(copy, "a", json_node_copy(json_object_get_member(value, "a")));
	json_object_set_member(copy, "m", json_node_copy(json_object_get_member(value, "m")));
	json_object_set_member(copy, "z", json_node_copy(json_object_get_member(value, "z")));
	node = json_node_init_object(json_node_alloc(), copy);
	want = exm_json_hash(node);
	g_assert_cmpstr(got, ==, want);
	g_assert_cmpstr(all, ==, all_want);
	after = exm_json_canonical(whole);
	g_assert_cmpstr(after, ==, before);
}

static GPtrArray *
strings(const gchar *first, ...)
{
	GPtrArray *arr = g_ptr_array_new();
	va_list ap;

	va_start(ap, first);
	for (const gchar *s = first; s != NULL; s = va_arg(ap, const gchar *))
		g_ptr_array_add(arr, (gpointer)s);
	va_end(ap);
	return arr;
}

/* Payload hash = sorted cap hashes ++ sorted fact full_hashes (§2.3 vectors). */
static void
test_payload_hash_vectors(void)
{
	g_autoptr(GPtrArray) none = strings(NULL);
	g_autoptr(GPtrArray) none2 = strings(NULL);
	g_autoptr(GPtrArray) cap = strings("e5ecd78270703c31", NULL);
	g_autoptr(GPtrArray) cap2 = strings("e5ecd78270703c31", NULL);
	g_autoptr(GPtrArray) fact = strings("8e9ed58523af9b50", NULL);
	g_autofree gchar *empty = exm_proto_hash_payload(none, none2);
	g_autofree gchar *one = exm_proto_hash_payload(cap, none);
	g_autofree gchar *converged = exm_proto_hash_payload(cap2, fact);

	g_assert_cmpstr(empty, ==, "831154110e30ac6a");
	g_assert_cmpstr(one, ==, "486e18f02c531d23");
	g_assert_cmpstr(converged, ==, "37a273eaeebbb63f");
}

/* Capability hashes are sorted among themselves, never interleaved with facts. */
static void
test_payload_hash_sorting(void)
{
	g_autoptr(GPtrArray) a_caps = strings("b", "a", NULL);
	g_autoptr(GPtrArray) a_facts = strings("d", "c", NULL);
	g_autoptr(GPtrArray) b_caps = strings("a", "b", NULL);
	g_autoptr(GPtrArray) b_facts = strings("c", "d", NULL);
	g_autoptr(GPtrArray) c_caps = strings("a", "c", NULL);
	g_autoptr(GPtrArray) c_facts = strings("b", "d", NULL);
	g_autofree gchar *ha = exm_proto_hash_payload(a_caps, a_facts);
	g_autofree gchar *hb = exm_proto_hash_payload(b_caps, b_facts);
	g_autofree gchar *hc = exm_proto_hash_payload(c_caps, c_facts);

	g_assert_cmpstr(ha, ==, hb);
	g_assert_cmpstr(ha, !=, hc);
	g_assert_cmpstr(a_caps->pdata[0], ==, "a");
	g_assert_cmpstr(a_facts->pdata[0], ==, "c");
}

/* agent = uuid5(node, uuid5_name), or the node itself without a name (§2.1). */
static void
test_agent_uuid(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *agent = exm_proto_uuid_agent(NODE_UUID, "s3aas", &error);
	g_autofree gchar *plain = exm_proto_uuid_agent(NODE_UUID, NULL, &error);
	g_autofree gchar *bad = NULL;

	g_assert_no_error(error);
	g_assert_cmpstr(agent, ==, AGENT_UUID);
	g_assert_cmpstr(plain, ==, NODE_UUID);
	bad = exm_proto_uuid_agent("not-a-uuid", "s3aas", &error);
	g_assert_null(bad);
	g_assert_nonnull(error);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/proto/hash/value-vectors", test_value_hash_vectors);
	g_test_add_func("/proto/hash/projection", test_projection_hash);
	g_test_add_func("/proto/hash/projection-in-place", test_projection_in_place);
	g_test_add_func("/proto/hash/payload-vectors", test_payload_hash_vectors);
	g_test_add_func("/proto/hash/payload-sorting", test_payload_hash_sorting);
	g_test_add_func("/proto/uuid/res-uuid-vectors", test_res_uuid_vectors);
	g_test_add_func("/proto/uuid/agent", test_agent_uuid);
	g_test_add_func("/proto/kind/valid", test_kind_valid);
	return g_test_run();
}
