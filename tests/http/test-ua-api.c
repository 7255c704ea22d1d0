/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The Orch and Status APIs of the reference host (tests/host/ua/exh-ua-server.h)
 * over HTTP, against the exchanges of docs/agent-protocol.md §3–§6: the
 * SDK middleware (node header, key row, plain refused while encryption is
 * required), agent registration, actual resources, get_payload with the §2.3
 * hash vectors and the light payload, the envelope with the §6 framing, and
 * the host's `wait=` long poll.
 */
#include "exm-config.h"

#include <stdio.h>
#include <string.h>

#include "exh-test.h"
#include "exh-ua-server.h"
#include "exm-envelope.h"
#include "exm-json.h"
#include "exm-test.h"

#define NODE	   "11111111-2222-3333-4444-555555555555"
#define AGENT	   "239bb923-73ae-5e7f-a9be-30e0a13dff80"
#define VM	   "a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890"
#define VM_RES	   "bce5d269-12be-52b0-90df-0191f1a39ace"
#define OTHER_NODE "99999999-2222-3333-4444-555555555555"
#define KEY_B64	   "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define OTHER_KEY  "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="

#define HASH_EMPTY     "831154110e30ac6a"
#define HASH_TARGET    "e5ecd78270703c31"
#define HASH_FULL      "8e9ed58523af9b50"
#define HASH_ONE       "486e18f02c531d23"
#define HASH_CONVERGED "37a273eaeebbb63f"

#define AGENT_BODY                                                                                 \
	"{\"uuid\": \"" AGENT                                                                      \
	"\", \"name\": \"Universal Agent 239bb923\", \"description\": \"\", "                      \
	"\"capabilities\": {\"capabilities\": [\"demo_vm\"]}, \"facts\": {\"facts\": []}, "        \
	"\"node\": \"" NODE "\", \"status\": \"ACTIVE\", \"created_at\": "                         \
	"\"2026-05-01 10:00:00.000000\", \"updated_at\": \"2026-05-01 10:00:00.000000\"}"

#define ACTUAL_BODY                                                                                \
	"{\"uuid\": \"" VM "\", \"kind\": \"/v1/kind/demo_vm\", \"res_uuid\": \"" VM_RES "\", "    \
	"\"value\": {\"uuid\": \"" VM "\", \"name\": \"vm\", \"cores\": 1, \"ram\": 1024, "        \
	"\"status\": \"ACTIVE\", \"created_at\": \"2022-01-01 00:00:00.000000\"}, "                \
	"\"hash\": \"" HASH_TARGET "\", \"full_hash\": \"" HASH_FULL "\", \"status\": "            \
	"\"ACTIVE\", \"node\": \"" NODE "\", \"created_at\": \"2026-05-01 10:00:03.000000\", "     \
	"\"updated_at\": \"2026-05-01 10:00:03.000000\"}"

static const gchar *const plain_headers[] = { "X-Genesis-Node-UUID", NODE, NULL };
static const gchar *const json_headers[] = {
	"X-Genesis-Node-UUID", NODE, "Content-Type", "application/json", NULL,
};

static ExhTest *
start(void)
{
	ExhTestOptions options = { .agent_api = TRUE };

	return exh_test_new(&options);
}

/* A request to the Orch (or Status) listener, through the fixture's client. */
static ExhTestResponse *
ua(ExhTest *t,
   gboolean orch,
   const gchar *method,
   const gchar *path,
   const gchar *const *headers,
   const gchar *body)
{
	gchar *saved = t->base_url;
	ExhTestResponse *r;

	t->base_url =
		(gchar *)(orch ? exh_host_get_orch_url(t->host) : exh_host_get_status_url(t->host));
	r = exh_test_request_full(t, method, path, headers, body, body != NULL ? strlen(body) : 0);
	t->base_url = saved;
	return r;
}

/* A DELETE on the status API answers 204 with no body, then 404 once it is gone. */
static void
assert_deleted_once(ExhTest *t, const gchar *path)
{
	g_autoptr(ExhTestResponse) d1 = ua(t, FALSE, "DELETE", path, plain_headers, NULL);
	g_autoptr(ExhTestResponse) d2 = NULL;

	g_assert_cmpuint(d1->status, ==, 204);
	g_assert_cmpuint(d1->len, ==, 0);
	d2 = ua(t, FALSE, "DELETE", path, plain_headers, NULL);
	exh_test_assert_error(d2, 404, "RecordNotFound", NULL);
}

static void
sql(ExhTest *t, const gchar *text)
{
	g_free(exh_test_sql(t, text));
}

/* A key row for NODE; plain requests allowed unless @required. */
static void
put_key(ExhTest *t, gboolean required)
{
	sql(t,
	    required ? "INSERT INTO ua_node_encryption_keys (uuid, private_key) VALUES ('" NODE
		       "', '" KEY_B64 "')"
		     : "INSERT INTO ua_node_encryption_keys (uuid, private_key, "
		       "encryption_disabled_until) VALUES ('" NODE "', '" KEY_B64
		       "', '9999-12-31')");
}

static gchar *
canonical(ExhTestResponse *r)
{
	g_assert_nonnull(r->json);
	return exm_json_canonical(r->json);
}

static void
test_middleware(void)
{
	g_autoptr(ExhTest) t = start();
	static const gchar *const none[] = { NULL };
	static const gchar *const bad[] = { "X-Genesis-Node-UUID", "nope", NULL };

	if (t == NULL)
		return;
	/* no node header: uuid.UUID(None) raises in the SDK middleware → 500 */
	g_autoptr(ExhTestResponse) r1 = ua(t, TRUE, "GET", "/v1/agents/" AGENT, none, NULL);
	g_autoptr(ExhTestResponse) r2 = ua(t, FALSE, "POST", "/v1/agents/", bad, AGENT_BODY);
	exh_test_assert_error(r1, 500, "InternalError", NULL);
	exh_test_assert_error(r2, 500, "InternalError", NULL);
	/* no key row: 404 on every endpoint, even in plain mode */
	g_autoptr(ExhTestResponse) r3 =
		ua(t, TRUE, "GET", "/v1/agents/" AGENT, plain_headers, NULL);
	g_autoptr(ExhTestResponse) r4 =
		ua(t, FALSE, "POST", "/v1/agents/", json_headers, AGENT_BODY);
	exh_test_assert_error(r3, 404, "RecordNotFound", NULL);
	exh_test_assert_error(r4, 404, "RecordNotFound", NULL);
	/* a key row that requires encryption: plain bodies are refused */
	put_key(t, TRUE);
	g_autoptr(ExhTestResponse) r5 =
		ua(t, FALSE, "POST", "/v1/agents/", json_headers, AGENT_BODY);
	exh_test_assert_error(r5, 400, "ValidationError", NULL);
	g_assert_cmpstr(exh_test_response_get_string(r5, "message"),
			==,
			"Response content type should be encrypted");
	g_autofree gchar *n = exh_test_sql(t, "SELECT count(*) FROM ua_agents");
	g_assert_cmpstr(n, ==, "0");
	/* a corrupt key row is the server's fault */
	sql(t, "UPDATE ua_node_encryption_keys SET private_key = 'not base64'");
	g_autoptr(ExhTestResponse) r6 =
		ua(t, TRUE, "GET", "/v1/agents/" AGENT, plain_headers, NULL);
	exh_test_assert_error(r6, 500, "InternalError", NULL);
}

static void
test_agents(void)
{
	g_autoptr(ExhTest) t = start();

	if (t == NULL)
		return;
	put_key(t, FALSE);
	g_autoptr(ExhTestResponse) c =
		ua(t, FALSE, "POST", "/v1/agents/", json_headers, AGENT_BODY);
	g_assert_cmpuint(c->status, ==, 201);
	g_assert_cmpstr(exh_test_response_get_string(c, "uuid"), ==, AGENT);
	g_assert_cmpstr(exh_test_response_get_string(c, "node"), ==, NODE);
	g_assert_cmpstr(
		exh_test_response_get_string(c, "created_at"), ==, "2026-05-01T10:00:00.000000Z");
	g_assert_cmpstr(exh_test_response_get_string(c, "status"), ==, "ACTIVE");
	g_assert_true(exh_test_response_has_member(c, "created_at"));
	/* registration again: 409, then the agent PUTs what may have changed */
	g_autoptr(ExhTestResponse) dup =
		ua(t, FALSE, "POST", "/v1/agents/", json_headers, AGENT_BODY);
	exh_test_assert_error(dup, 409, "ConflictRecords", NULL);
	g_autoptr(ExhTestResponse) put =
		ua(t,
		   FALSE,
		   "PUT",
		   "/v1/agents/" AGENT,
		   json_headers,
		   "{\"capabilities\": {\"capabilities\": [\"demo_vm\", "
		   "\"x\"]}, \"facts\": {\"facts\": []}, \"name\": \"a\"}");
	g_assert_cmpuint(put->status, ==, 200);
	g_assert_cmpstr(exh_test_response_get_string(put, "name"), ==, "a");
	/* the timestamps are the create's; read-only on update */
	g_autoptr(ExhTestResponse) ts = ua(t,
					   FALSE,
					   "PUT",
					   "/v1/agents/" AGENT,
					   json_headers,
					   "{\"created_at\": \"2026-05-01 10:00:00.000000\"}");
	exh_test_assert_error(ts, 400, "ReadOnlyProperty", NULL);
	/* unknown fields are refused (restalchemy unpackers) */
	g_autoptr(ExhTestResponse) unk =
		ua(t, FALSE, "PUT", "/v1/agents/" AGENT, json_headers, "{\"color\": \"red\"}");
	exh_test_assert_error(unk, 400, "ValidationError", NULL);
	/* the Orch API reads it, lists nothing, deletes nothing */
	g_autoptr(ExhTestResponse) get =
		ua(t, TRUE, "GET", "/v1/agents/" AGENT, plain_headers, NULL);
	g_assert_cmpuint(get->status, ==, 200);
	g_assert_cmpstr(exh_test_response_get_string(get, "name"), ==, "a");
	g_autoptr(ExhTestResponse) l1 = ua(t, TRUE, "GET", "/v1/agents/", plain_headers, NULL);
	g_autoptr(ExhTestResponse) l2 =
		ua(t, TRUE, "DELETE", "/v1/agents/" AGENT, json_headers, NULL);
	g_autoptr(ExhTestResponse) l3 = ua(t, FALSE, "GET", "/v1/agents/", plain_headers, NULL);
	/* the Orch API keeps the configured limit (its bodies are kwargs) */
	g_autofree gchar *big = g_strnfill(2 * 1024 * 1024, ' ');
	g_autoptr(ExhTestResponse) l4 = ua(t, TRUE, "POST", "/v1/agents/", json_headers, big);
	exh_test_assert_error(l4, 413, "RequestEntityTooLarge", NULL);
	exh_test_assert_error(l1, 405, "UnsupportedHttpMethod", NULL);
	exh_test_assert_error(l2, 405, "UnsupportedHttpMethod", NULL);
	exh_test_assert_error(l3, 405, "UnsupportedHttpMethod", NULL);
	/* delete: 204, then 404 */
	assert_deleted_once(t, "/v1/agents/" AGENT);
	g_autoptr(ExhTestResponse) g2 =
		ua(t, TRUE, "GET", "/v1/agents/" AGENT, plain_headers, NULL);
	exh_test_assert_error(g2, 404, "RecordNotFound", NULL);
}

static void
insert_target(ExhTest *t)
{
	sql(t,
	    "INSERT INTO ua_target_resources (uuid, kind, res_uuid, value, hash, status, agent, "
	    "node) VALUES ('" VM "', 'demo_vm', '" VM_RES "', '{\"uuid\": \"" VM
	    "\", \"name\": \"vm\", \"cores\": 1, \"ram\": 1024}', '" HASH_TARGET
	    "', 'ACTIVE', '" AGENT "', '" NODE "')");
}

/* nothing yet: the empty baskets of §4.1 step 5 and the hash of [] */
static void
payload_empty(ExhTest *t)
{
	g_autofree gchar *text = NULL;
	g_autoptr(ExhTestResponse) p0 =
		ua(t, TRUE, "GET", "/v1/agents/" AGENT "/actions/get_payload", plain_headers, NULL);
	g_assert_cmpuint(p0->status, ==, 200);
	text = canonical(p0);
	g_assert_cmpstr(
		text,
		==,
		"{\"capabilities\":{\"demo_vm\":{\"resources\":[]}},\"facts\":{\"demo_vm\":{"
		"\"resources\":[]}},\"hash\":\"" HASH_EMPTY "\",\"version\":0}");
}

/* where the kwargs hash and version come from: query, or a JSON body */
static void
payload_kwargs(ExhTest *t)
{
	g_autofree gchar *text = NULL;
	/* the same hash: the light payload echoes hash and version */
	g_autoptr(ExhTestResponse) p1 =
		ua(t,
		   TRUE,
		   "GET",
		   "/v1/agents/" AGENT "/actions/get_payload?hash=" HASH_EMPTY "&version=3",
		   plain_headers,
		   NULL);
	text = canonical(p1);
	g_assert_cmpstr(text,
			==,
			"{\"capabilities\":{},\"facts\":{},\"hash\":\"" HASH_EMPTY
			"\",\"version\":3}");
	/* with Content-Type: application/json the kwargs come from the (empty) body */
	g_autoptr(ExhTestResponse) p2 =
		ua(t,
		   TRUE,
		   "GET",
		   "/v1/agents/" AGENT "/actions/get_payload?hash=" HASH_EMPTY,
		   json_headers,
		   NULL);
	g_assert_true(json_object_has_member(
		json_object_get_object_member(json_node_get_object(p2->json), "capabilities"),
		"demo_vm"));
	/* …and a JSON body gives them (version as a number or a string) */
	static const gchar *const get_json[] = {
		"X-Genesis-Node-UUID", NODE, "Content-Type", "application/json", NULL,
	};
	g_autoptr(ExhTestResponse) pb = ua(t,
					   TRUE,
					   "GET",
					   "/v1/agents/" AGENT "/actions/get_payload",
					   get_json,
					   "{\"hash\": \"" HASH_EMPTY "\", \"version\": 2}");
	g_free(text);
	text = canonical(pb);
	g_assert_cmpstr(text,
			==,
			"{\"capabilities\":{},\"facts\":{},\"hash\":\"" HASH_EMPTY
			"\",\"version\":2}");
}

/* docs/agent-protocol.md §4.1: a full payload answers version 0, whatever
 * version was sent (upstream never echoes it there) */
static void
payload_full_version(ExhTest *t)
{
	g_autoptr(ExhTestResponse) p =
		ua(t,
		   TRUE,
		   "GET",
		   "/v1/agents/" AGENT "/actions/get_payload?hash=x&version=3",
		   plain_headers,
		   NULL);

	g_assert_cmpuint(p->status, ==, 200);
	g_assert_cmpstr(exh_test_response_get_string(p, "hash"), ==, HASH_EMPTY);
	g_assert_cmpint(
		json_object_get_int_member(json_node_get_object(p->json), "version"), ==, 0);
}

/* Upstream's get_payload takes hash and version only: another kwarg is a
 * Python TypeError, answered 500; `wait` is this host's documented extension. */
static void
payload_unknown_kwargs(ExhTest *t)
{
	static const gchar *const get_json[] = {
		"X-Genesis-Node-UUID", NODE, "Content-Type", "application/json", NULL,
	};
	g_autoptr(ExhTestResponse) q =
		ua(t,
		   TRUE,
		   "GET",
		   "/v1/agents/" AGENT "/actions/get_payload?hash=&color=red",
		   plain_headers,
		   NULL);
	g_autoptr(ExhTestResponse) b = ua(t,
					  TRUE,
					  "GET",
					  "/v1/agents/" AGENT "/actions/get_payload",
					  get_json,
					  "{\"hash\": \"\", \"color\": \"red\"}");
	g_autoptr(ExhTestResponse) w =
		ua(t,
		   TRUE,
		   "GET",
		   "/v1/agents/" AGENT "/actions/get_payload?hash=&version=0&wait=0",
		   plain_headers,
		   NULL);

	exh_test_assert_error(q, 500, "TypeError", NULL);
	exh_test_assert_error(b, 500, "TypeError", NULL);
	g_assert_cmpuint(w->status, ==, 200);
}

static void
payload_errors(ExhTest *t)
{
	/* bad version; unknown agent */
	g_autoptr(ExhTestResponse) p3 = ua(t,
					   TRUE,
					   "GET",
					   "/v1/agents/" AGENT "/actions/get_payload?version=x",
					   plain_headers,
					   NULL);
	exh_test_assert_error(p3, 400, "ValidationError", NULL);
	g_autoptr(ExhTestResponse) p4 =
		ua(t, TRUE, "GET", "/v1/agents/" VM "/actions/get_payload", plain_headers, NULL);
	exh_test_assert_error(p4, 404, "RecordNotFound", NULL);
}

/* one target, then its actual resource */
static void
payload_one_target(ExhTest *t)
{
	JsonObject *res;

	/* one target: §2.3 vector, stripped fields absent */
	insert_target(t);
	g_autoptr(ExhTestResponse) p5 =
		ua(t,
		   TRUE,
		   "GET",
		   "/v1/agents/" AGENT "/actions/get_payload?hash=" HASH_EMPTY,
		   plain_headers,
		   NULL);
	g_assert_cmpstr(exh_test_response_get_string(p5, "hash"), ==, HASH_ONE);
	res = json_array_get_object_element(
		json_object_get_array_member(
			json_object_get_object_member(
				json_object_get_object_member(json_node_get_object(p5->json),
							      "capabilities"),
				"demo_vm"),
			"resources"),
		0);
	g_assert_cmpstr(json_object_get_string_member(res, "res_uuid"), ==, VM_RES);
	g_assert_cmpstr(json_object_get_string_member(res, "kind"), ==, "demo_vm");
	g_assert_false(json_object_has_member(res, "agent"));
	g_assert_false(json_object_has_member(res, "master"));
	g_assert_false(json_object_has_member(res, "node"));
	g_assert_false(json_object_has_member(res, "tracked_at"));
	/* the actual resource of §5.1 → the converged payload hash */
	g_autoptr(ExhTestResponse) a1 =
		ua(t, FALSE, "POST", "/v1/kind/demo_vm/resources/", json_headers, ACTUAL_BODY);
	g_assert_cmpuint(a1->status, ==, 201);
	g_assert_cmpstr(exh_test_response_get_string(a1, "kind"), ==, "/v1/kind/demo_vm");
	g_assert_cmpstr(exh_test_response_get_string(a1, "res_uuid"), ==, VM_RES);
	g_autoptr(ExhTestResponse) p6 =
		ua(t, TRUE, "GET", "/v1/agents/" AGENT "/actions/get_payload", plain_headers, NULL);
	g_assert_cmpstr(exh_test_response_get_string(p6, "hash"), ==, HASH_CONVERGED);
	/* a fact of another node is not in this agent's payload */
	sql(t, "UPDATE ua_actual_resources SET node = '" OTHER_NODE "'");
	g_autoptr(ExhTestResponse) p7 =
		ua(t, TRUE, "GET", "/v1/agents/" AGENT "/actions/get_payload", plain_headers, NULL);
	g_assert_cmpstr(exh_test_response_get_string(p7, "hash"), ==, HASH_ONE);
}

static void
test_payload(void)
{
	g_autoptr(ExhTest) t = start();

	if (t == NULL)
		return;
	put_key(t, FALSE);
	g_autoptr(ExhTestResponse) c =
		ua(t, FALSE, "POST", "/v1/agents/", json_headers, AGENT_BODY);
	g_assert_cmpuint(c->status, ==, 201);
	payload_empty(t);
	payload_kwargs(t);
	payload_full_version(t);
	payload_unknown_kwargs(t);
	payload_errors(t);
	payload_one_target(t);
}

/* A bare kind is no URI: restalchemy's resource map finds no locator for it. */
static void
post_bare_kind(ExhTest *t)
{
	g_autofree gchar *bare_body = g_strdup(ACTUAL_BODY);
	gchar *at = strstr(bare_body, "\"/v1/kind/demo_vm\"");

	g_assert_nonnull(at);
	memmove(at + 1, at + 10, strlen(at + 10) + 1);
	g_assert_nonnull(strstr(bare_body, "\"kind\": \"demo_vm\""));
	g_autoptr(ExhTestResponse) bare =
		ua(t, FALSE, "POST", "/v1/kind/demo_vm/resources/", json_headers, bare_body);
	exh_test_assert_error(bare, 404, "LocatorNotFound", NULL);
}

static void
test_resources(void)
{
	g_autoptr(ExhTest) t = start();
	g_autofree gchar *kinds = NULL;

	if (t == NULL)
		return;
	put_key(t, FALSE);
	g_autoptr(ExhTestResponse) a1 =
		ua(t, FALSE, "POST", "/v1/kind/demo_vm/resources/", json_headers, ACTUAL_BODY);
	g_assert_cmpuint(a1->status, ==, 201);
	/* the timestamps a create sends are stored (now() is only the default) */
	g_assert_cmpstr(
		exh_test_response_get_string(a1, "created_at"), ==, "2026-05-01T10:00:03.000000Z");
	g_assert_cmpstr(
		exh_test_response_get_string(a1, "updated_at"), ==, "2026-05-01T10:00:03.000000Z");
	g_autoptr(ExhTestResponse) a2 =
		ua(t, FALSE, "POST", "/v1/kind/demo_vm/resources/", json_headers, ACTUAL_BODY);
	exh_test_assert_error(a2, 409, "ConflictRecords", NULL);
	g_autoptr(ExhTestResponse) g1 =
		ua(t, FALSE, "GET", "/v1/kind/demo_vm/resources/" VM, plain_headers, NULL);
	g_assert_cmpuint(g1->status, ==, 200);
	g_assert_cmpstr(exh_test_response_get_string(g1, "full_hash"), ==, HASH_FULL);
	/* §5.2: exactly value, hash, full_hash, status */
	g_autoptr(ExhTestResponse) u1 =
		ua(t,
		   FALSE,
		   "PUT",
		   "/v1/kind/demo_vm/resources/" VM,
		   json_headers,
		   "{\"value\": {\"uuid\": \"" VM "\"}, \"hash\": \"h\", \"full_hash\": \"f\", "
		   "\"status\": \"ERROR\"}");
	g_assert_cmpuint(u1->status, ==, 200);
	g_assert_cmpstr(exh_test_response_get_string(u1, "status"), ==, "ERROR");
	g_assert_cmpstr(exh_test_response_get_string(u1, "node"), ==, NODE);
	g_autoptr(ExhTestResponse) u2 = ua(t,
					   FALSE,
					   "PUT",
					   "/v1/kind/demo_vm/resources/" VM,
					   json_headers,
					   "{\"uuid\": \"" NODE "\"}");
	g_assert_cmpuint(u2->status, ==, 400);
	g_autoptr(ExhTestResponse) u3 = ua(t,
					   FALSE,
					   "PUT",
					   "/v1/kind/demo_vm/resources/" NODE,
					   json_headers,
					   "{\"status\": \"ACTIVE\"}");
	exh_test_assert_error(u3, 404, "RecordNotFound", NULL);
	/* …and are read-only on update (§5.2: the agent strips them) */
	g_autoptr(ExhTestResponse) u4 = ua(t,
					   FALSE,
					   "PUT",
					   "/v1/kind/demo_vm/resources/" VM,
					   json_headers,
					   "{\"status\": \"ACTIVE\", \"updated_at\": "
					   "\"2026-05-01 10:00:03.000000\"}");
	exh_test_assert_error(u4, 400, "ReadOnlyProperty", NULL);
	g_autoptr(ExhTestResponse) g2 =
		ua(t, FALSE, "GET", "/v1/kind/demo_vm/resources/" VM, plain_headers, NULL);
	g_assert_cmpstr(exh_test_response_get_string(g2, "status"), ==, "ERROR");
	/* kinds, and no listing of resources */
	g_autoptr(ExhTestResponse) k = ua(t, FALSE, "GET", "/v1/kind/", plain_headers, NULL);
	kinds = canonical(k);
	g_assert_cmpstr(kinds, ==, "[\"demo_vm\"]");
	g_autoptr(ExhTestResponse) l =
		ua(t, FALSE, "GET", "/v1/kind/demo_vm/resources/", plain_headers, NULL);
	exh_test_assert_error(l, 405, "UnsupportedHttpMethod", NULL);
	/* a kind URI that is not the URL's */
	g_autoptr(ExhTestResponse) bad =
		ua(t, FALSE, "POST", "/v1/kind/other/resources/", json_headers, ACTUAL_BODY);
	exh_test_assert_error(bad, 400, "ValidationError", NULL);
	post_bare_kind(t);
	assert_deleted_once(t, "/v1/kind/demo_vm/resources/" VM);
}

/* ------------------------------------------------------------------ envelope */

/* A sealed exchange; the raw reply is kept (ciphertext may hold NUL bytes). */
typedef struct {
	guint status;
	SoupMessageHeaders *headers;
	GBytes *body;
	JsonNode *json; /* plain JSON replies only */
} Sealed;

static void
sealed_free(Sealed *r)
{
	soup_message_headers_unref(r->headers);
	g_bytes_unref(r->body);
	if (r->json != NULL)
		json_node_unref(r->json);
	g_free(r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Sealed, sealed_free)

static JsonNode *
open_response(Sealed *r, const guint8 *key)
{
	const gchar *type = soup_message_headers_get_content_type(r->headers, NULL);
	const gchar *nonce = soup_message_headers_get_one(r->headers, EXM_ENVELOPE_HEADER_NONCE);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) plain = NULL;
	gsize len = 0;
	const gchar *data = g_bytes_get_data(r->body, &len);

	g_assert_cmpstr(type, ==, EXM_ENVELOPE_CONTENT_TYPE);
	g_assert_cmpstr(
		soup_message_headers_get_one(r->headers, EXM_ENVELOPE_HEADER_NODE_UUID), ==, NODE);
	g_assert_nonnull(nonce);
	plain = exm_envelope_open(key, nonce, data, len, &error);
	g_assert_no_error(error);
	return exm_json_parse_strict(g_bytes_get_data(plain, NULL), g_bytes_get_size(plain), NULL);
}

/* A request of @node, sealed with @key. */
static Sealed *
sealed_as(ExhTest *t,
	  const gchar *node,
	  gboolean orch,
	  const gchar *method,
	  const gchar *path,
	  const guint8 *key,
	  const gchar *json)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *nonce = NULL;
	g_autoptr(GBytes) wire = exm_envelope_seal(key, json, strlen(json), &nonce, &error);
	g_autofree gchar *url = g_strconcat(orch ? exh_host_get_orch_url(t->host)
						 : exh_host_get_status_url(t->host),
					    path,
					    NULL);
	g_autoptr(SoupMessage) msg = soup_message_new(method, url);
	SoupMessageHeaders *h = soup_message_get_request_headers(msg);
	Sealed *r = g_new0(Sealed, 1);

	g_assert_no_error(error);
	soup_message_headers_replace(h, "X-Genesis-Node-UUID", node);
	soup_message_headers_replace(h, EXM_ENVELOPE_HEADER_NONCE, nonce);
	soup_message_set_request_body_from_bytes(msg, EXM_ENVELOPE_CONTENT_TYPE, wire);
	r->body = soup_session_send_and_read(t->session, msg, NULL, &error);
	g_assert_no_error(error);
	r->status = soup_message_get_status(msg);
	r->headers = soup_message_headers_ref(soup_message_get_response_headers(msg));
	if (g_strcmp0(soup_message_headers_get_content_type(r->headers, NULL),
		      "application/json") == 0)
		r->json = exm_json_parse_strict(
			g_bytes_get_data(r->body, NULL), g_bytes_get_size(r->body), NULL);
	return r;
}

/* NODE's sealed get_payload: a 200 that opens with @key and has @hash. */
static void
assert_sealed_payload(ExhTest *t, const guint8 *key, const gchar *hash)
{
	g_autoptr(Sealed) p = sealed_as(
		t, NODE, TRUE, "GET", "/v1/agents/" AGENT "/actions/get_payload", key, "null");
	g_autoptr(JsonNode) payload = NULL;

	g_assert_cmpuint(p->status, ==, 200);
	payload = open_response(p, key);
	g_assert_cmpstr(
		json_object_get_string_member(json_node_get_object(payload), "hash"), ==, hash);
}

static Sealed *
sealed(ExhTest *t,
       gboolean orch,
       const gchar *method,
       const gchar *path,
       const guint8 *key,
       const gchar *json)
{
	return sealed_as(t, NODE, orch, method, path, key, json);
}

static void
assert_sealed_error(Sealed *r, guint status, const gchar *type)
{
	g_assert_cmpuint(r->status, ==, status);
	g_assert_nonnull(r->json);
	g_assert_cmpstr(
		json_object_get_string_member(json_node_get_object(r->json), "type"), ==, type);
}

static void
test_envelope(void)
{
	g_autoptr(ExhTest) t = start();
	guint8 key[EXM_ENVELOPE_KEY_LEN];
	g_autoptr(JsonNode) agent = NULL;

	if (t == NULL)
		return;
	g_assert_true(exm_envelope_key_from_base64(KEY_B64, key, NULL));
	put_key(t, TRUE);
	g_autoptr(Sealed) c = sealed(t, FALSE, "POST", "/v1/agents/", key, AGENT_BODY);
	g_assert_cmpuint(c->status, ==, 201);
	agent = open_response(c, key);
	g_assert_cmpstr(
		json_object_get_string_member(json_node_get_object(agent), "uuid"), ==, AGENT);
	/* bodiless requests carry the sealed `null` (§6.3) */
	assert_sealed_payload(t, key, HASH_EMPTY);
	/* errors stay plain JSON */
	g_autoptr(Sealed) e =
		sealed(t, TRUE, "GET", "/v1/agents/" VM "/actions/get_payload", key, "null");
	assert_sealed_error(e, 404, "RecordNotFound");
	/* a body sealed with another key does not open */
	key[0] ^= 1;
	g_autoptr(Sealed) wrong = sealed(t, FALSE, "POST", "/v1/agents/", key, AGENT_BODY);
	assert_sealed_error(wrong, 400, "ParseBodyError");
	key[0] ^= 1;
	/* 204: the encrypted headers, no body to open */
	g_autoptr(Sealed) d = sealed(t, FALSE, "DELETE", "/v1/agents/" AGENT, key, "null");
	g_assert_cmpuint(d->status, ==, 204);
	g_assert_cmpuint(g_bytes_get_size(d->body), ==, 0);
	g_assert_cmpstr(soup_message_headers_get_content_type(d->headers, NULL),
			==,
			EXM_ENVELOPE_CONTENT_TYPE);
	/* …and, as upstream's, a fresh X-Genesis-Nonce (16 characters of base64) */
	g_assert_cmpuint(
		strlen(soup_message_headers_get_one(d->headers, EXM_ENVELOPE_HEADER_NONCE) != NULL
			       ? soup_message_headers_get_one(d->headers, EXM_ENVELOPE_HEADER_NONCE)
			       : ""),
		==,
		16);
}

/* ------------------------------------------------------------------ other nodes */

/* What another node may try on NODE's agent and resource; each must answer as
 * if they did not exist. */
static const struct {
	gboolean orch;
	const gchar *method;
	const gchar *path;
	const gchar *body;
} cross_node[] = {
	{ TRUE, "GET", "/v1/agents/" AGENT, "null" },
	{ TRUE, "GET", "/v1/agents/" AGENT "/actions/get_payload", "null" },
	{ TRUE, "GET", "/v1/agents/" AGENT "/actions/get_payload?hash=" HASH_ONE, "null" },
	{ FALSE, "GET", "/v1/agents/" AGENT, "null" },
	{ FALSE, "PUT", "/v1/agents/" AGENT, "{\"node\": \"" OTHER_NODE "\"}" },
	{ FALSE, "PATCH", "/v1/agents/" AGENT, "{\"status\": \"DISABLED\"}" },
	{ FALSE, "DELETE", "/v1/agents/" AGENT, "null" },
	{ FALSE, "GET", "/v1/kind/demo_vm/resources/" VM, "null" },
	{ FALSE,
	  "PUT",
	  "/v1/kind/demo_vm/resources/" VM,
	  "{\"value\": {\"dkim_public_key\": \"attacker\"}, \"hash\": \"h\", "
	  "\"full_hash\": \"f\", \"status\": \"ACTIVE\"}" },
	{ FALSE, "PUT", "/v1/kind/demo_vm/resources/" VM, "{\"node\": \"" OTHER_NODE "\"}" },
	{ FALSE, "DELETE", "/v1/kind/demo_vm/resources/" VM, "null" },
};

/* Host log lines that report a cross-node attempt (any thread logs them). */
static gint cross_node_logged;

static GLogWriterOutput
count_cross_node(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
	for (gsize i = 0; i < n; i++) {
		if (g_str_equal(fields[i].key, "MESSAGE") && fields[i].length < 0 &&
		    strstr(fields[i].value, "of another node; answered as missing") != NULL)
			g_atomic_int_inc(&cross_node_logged);
	}
	return g_log_writer_default(level, fields, n, data);
}

/* NODE's rows as text, to see that nothing changed. */
static gchar *
node_rows(ExhTest *t)
{
	return exh_test_sql(
		t,
		"SELECT (SELECT string_agg(a::text, '|' ORDER BY uuid) FROM ua_agents a) "
		"|| '/' || (SELECT string_agg(r::text, '|' ORDER BY res_uuid) FROM "
		"ua_actual_resources r)");
}

/* Every cross-node attempt, answered as a missing record; the bodies kept. */
static GPtrArray *
try_cross_node(ExhTest *t, const guint8 *key)
{
	GPtrArray *bodies = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < G_N_ELEMENTS(cross_node); i++) {
		g_autoptr(Sealed) r = sealed_as(t,
						OTHER_NODE,
						cross_node[i].orch,
						cross_node[i].method,
						cross_node[i].path,
						key,
						cross_node[i].body);

		g_test_message("%s %s -> %u", cross_node[i].method, cross_node[i].path, r->status);
		assert_sealed_error(r, 404, "RecordNotFound");
		g_ptr_array_add(
			bodies,
			g_strndup(g_bytes_get_data(r->body, NULL), g_bytes_get_size(r->body)));
	}
	return bodies;
}

/* Writes that name NODE in their body: refused, nothing written. */
static void
try_cross_node_posts(ExhTest *t, const guint8 *key)
{
	static const gchar *const posts[][2] = {
		{ "/v1/agents/", AGENT_BODY },
		{ "/v1/agents/",
		  "{\"uuid\": \"" VM_RES "\", \"node\": \"" NODE "\", \"capabilities\": "
		  "{\"capabilities\": [\"demo_vm\"]}}" },
		{ "/v1/kind/demo_vm/resources/", ACTUAL_BODY },
		{ "/v1/kind/demo_vm/resources/",
		  "{\"uuid\": \"" OTHER_NODE "\", \"kind\": \"/v1/kind/demo_vm\", "
		  "\"value\": {}, \"node\": \"" NODE "\"}" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(posts); i++) {
		g_autoptr(Sealed) r =
			sealed_as(t, OTHER_NODE, FALSE, "POST", posts[i][0], key, posts[i][1]);

		g_test_message("POST %s -> %u", posts[i][0], r->status);
		g_assert_cmpuint(r->status, >=, 400);
		g_assert_nonnull(r->json);
	}
}

static void
test_other_node(void)
{
	g_autoptr(ExhTest) t = start();
	guint8 key[EXM_ENVELOPE_KEY_LEN];
	guint8 other[EXM_ENVELOPE_KEY_LEN];
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autoptr(GPtrArray) existing = NULL;
	g_autoptr(GPtrArray) missing = NULL;

	if (t == NULL)
		return;
	g_assert_true(exm_envelope_key_from_base64(KEY_B64, key, NULL));
	g_assert_true(exm_envelope_key_from_base64(OTHER_KEY, other, NULL));
	put_key(t, TRUE);
	sql(t,
	    "INSERT INTO ua_node_encryption_keys (uuid, private_key) VALUES ('" OTHER_NODE
	    "', '" OTHER_KEY "')");
	g_autoptr(Sealed) c = sealed(t, FALSE, "POST", "/v1/agents/", key, AGENT_BODY);
	g_assert_cmpuint(c->status, ==, 201);
	insert_target(t);
	g_autoptr(Sealed) a =
		sealed(t, FALSE, "POST", "/v1/kind/demo_vm/resources/", key, ACTUAL_BODY);
	g_assert_cmpuint(a->status, ==, 201);
	before = node_rows(t);
	/* the other node, sealing with its own valid key; each attempt is logged */
	g_atomic_int_set(&cross_node_logged, 0);
	existing = try_cross_node(t, other);
	g_assert_cmpint(g_atomic_int_get(&cross_node_logged), ==, G_N_ELEMENTS(cross_node));
	try_cross_node_posts(t, other);
	/* NODE itself cannot hand its agent or resource to the other node */
	g_autoptr(Sealed) m1 =
		sealed(t, FALSE, "PUT", "/v1/agents/" AGENT, key, "{\"node\": \"" OTHER_NODE "\"}");
	g_autoptr(Sealed) m2 = sealed(t,
				      FALSE,
				      "PUT",
				      "/v1/kind/demo_vm/resources/" VM,
				      key,
				      "{\"node\": \"" OTHER_NODE "\"}");
	assert_sealed_error(m1, 400, "ValidationError");
	assert_sealed_error(m2, 400, "ValidationError");
	after = node_rows(t);
	g_assert_cmpstr(after, ==, before);
	/* NODE itself still gets its payload */
	assert_sealed_payload(t, key, HASH_CONVERGED);
	/* once they are gone, the other node gets the very same answers */
	g_autoptr(Sealed) d1 =
		sealed(t, FALSE, "DELETE", "/v1/kind/demo_vm/resources/" VM, key, "null");
	g_autoptr(Sealed) d2 = sealed(t, FALSE, "DELETE", "/v1/agents/" AGENT, key, "null");
	g_assert_cmpuint(d1->status, ==, 204);
	g_assert_cmpuint(d2->status, ==, 204);
	missing = try_cross_node(t, other);
	for (guint i = 0; i < existing->len; i++)
		g_assert_cmpstr(existing->pdata[i], ==, missing->pdata[i]);
}

/* ------------------------------------------------------------------ node verifier */

/* gcl_sdk's `GET /v1/node_verifiers/<node>/actions/verify`: `{"valid": true}` for a
 * node with a key row, 404 otherwise; a node verifies only itself (another node,
 * even a known one, answers as a missing one). */
static void
test_node_verifier(void)
{
	g_autoptr(ExhTest) t = start();
	g_autofree gchar *text = NULL;
	guint8 key[EXM_ENVELOPE_KEY_LEN];
	g_autoptr(JsonNode) valid = NULL;

	if (t == NULL)
		return;
	put_key(t, FALSE);
	g_autoptr(ExhTestResponse) ok = ua(
		t, FALSE, "GET", "/v1/node_verifiers/" NODE "/actions/verify", plain_headers, NULL);
	g_assert_cmpuint(ok->status, ==, 200);
	text = canonical(ok);
	g_assert_cmpstr(text, ==, "{\"valid\":true}");
	/* another node, known or not: the very 404 of a missing one */
	sql(t,
	    "INSERT INTO ua_node_encryption_keys (uuid, private_key) VALUES ('" OTHER_NODE
	    "', '" OTHER_KEY "')");
	g_autoptr(ExhTestResponse) other = ua(t,
					      FALSE,
					      "GET",
					      "/v1/node_verifiers/" OTHER_NODE "/actions/verify",
					      plain_headers,
					      NULL);
	g_autoptr(ExhTestResponse) unknown = ua(
		t, FALSE, "GET", "/v1/node_verifiers/" VM "/actions/verify", plain_headers, NULL);
	exh_test_assert_error(other, 404, "RecordNotFound", NULL);
	exh_test_assert_error(unknown, 404, "RecordNotFound", NULL);
	/* only GET; no such route on the Orch API */
	g_autoptr(ExhTestResponse) post = ua(
		t, FALSE, "POST", "/v1/node_verifiers/" NODE "/actions/verify", json_headers, "{}");
	g_autoptr(ExhTestResponse) orch = ua(
		t, TRUE, "GET", "/v1/node_verifiers/" NODE "/actions/verify", plain_headers, NULL);
	exh_test_assert_error(post, 405, "UnsupportedHttpMethod", NULL);
	exh_test_assert_error(orch, 404, "RecordNotFound", NULL);
	/* sealed while encryption is required, like every success */
	sql(t, "DELETE FROM ua_node_encryption_keys WHERE uuid = '" NODE "'");
	put_key(t, TRUE);
	g_assert_true(exm_envelope_key_from_base64(KEY_B64, key, NULL));
	g_autoptr(Sealed) s =
		sealed(t, FALSE, "GET", "/v1/node_verifiers/" NODE "/actions/verify", key, "null");
	g_assert_cmpuint(s->status, ==, 200);
	valid = open_response(s, key);
	g_assert_true(json_object_get_boolean_member(json_node_get_object(valid), "valid"));
}

/* ------------------------------------------------------------------ orch agents */

/* Upstream's Orch agents controller: created ACTIVE whatever status is sent;
 * on update `status` is read-only (403 FieldPermissionError) and the agent is
 * made ACTIVE again. */
static void
test_orch_agents(void)
{
	g_autoptr(ExhTest) t = start();
	g_autofree gchar *status = NULL;

	if (t == NULL)
		return;
	put_key(t, FALSE);
	g_autoptr(ExhTestResponse) c = ua(t,
					  TRUE,
					  "POST",
					  "/v1/agents/",
					  json_headers,
					  "{\"uuid\": \"" AGENT "\", \"node\": \"" NODE
					  "\", \"status\": \"DISABLED\", \"capabilities\": "
					  "{\"capabilities\": [\"demo_vm\"]}}");
	g_assert_cmpuint(c->status, ==, 201);
	g_assert_cmpstr(exh_test_response_get_string(c, "status"), ==, "ACTIVE");
	g_autoptr(ExhTestResponse) dup =
		ua(t, TRUE, "POST", "/v1/agents/", json_headers, AGENT_BODY);
	exh_test_assert_error(dup, 409, "ConflictRecords", NULL);
	g_autoptr(ExhTestResponse) ro =
		ua(t, TRUE, "PUT", "/v1/agents/" AGENT, json_headers, "{\"status\": \"ACTIVE\"}");
	exh_test_assert_error(ro, 403, "FieldPermissionError", NULL);
	sql(t, "UPDATE ua_agents SET status = 'DISABLED'");
	g_autoptr(ExhTestResponse) u =
		ua(t, TRUE, "PUT", "/v1/agents/" AGENT, json_headers, "{\"name\": \"b\"}");
	g_assert_cmpuint(u->status, ==, 200);
	g_assert_cmpstr(exh_test_response_get_string(u, "name"), ==, "b");
	g_assert_cmpstr(exh_test_response_get_string(u, "status"), ==, "ACTIVE");
	status = exh_test_sql(t, "SELECT status FROM ua_agents");
	g_assert_cmpstr(status, ==, "ACTIVE");
	/* another node's agent is a missing one; an agent of another node is refused */
	static const gchar *const other[] = {
		"X-Genesis-Node-UUID", OTHER_NODE, "Content-Type", "application/json", NULL
	};
	sql(t,
	    "INSERT INTO ua_node_encryption_keys (uuid, private_key, encryption_disabled_until) "
	    "VALUES ('" OTHER_NODE "', '" OTHER_KEY "', '9999-12-31')");
	g_autoptr(ExhTestResponse) x =
		ua(t, TRUE, "PUT", "/v1/agents/" AGENT, other, "{\"name\": \"c\"}");
	g_autoptr(ExhTestResponse) y = ua(t, TRUE, "POST", "/v1/agents/", other, AGENT_BODY);
	exh_test_assert_error(x, 404, "RecordNotFound", NULL);
	g_assert_cmpuint(y->status, ==, 400);
}

/* ------------------------------------------------------------------ light-poll cache */

/* How many times a poll may be retried for a change written by another
 * connection to reach the host (its NOTIFY, a few ms; bounded generously). */
#define NOTIFY_TRIES 250

/* NODE's sealed get_payload holding @hash (version 7), sealed with @key. */
static Sealed *
sealed_poll(ExhTest *t, const guint8 *key, const gchar *hash)
{
	g_autofree gchar *path =
		g_strdup_printf("/v1/agents/" AGENT "/actions/get_payload?hash=%s&version=7", hash);

	return sealed(t, TRUE, "GET", path, key, "null");
}

/* The hash a sealed poll answered (the payload opened with @key); with
 * @light, whether it was the light answer echoing version 7. */
static gchar *
polled_hash(Sealed *r, const guint8 *key, gboolean *light)
{
	g_autoptr(JsonNode) payload = NULL;
	JsonObject *obj;

	g_assert_cmpuint(r->status, ==, 200);
	payload = open_response(r, key);
	obj = json_node_get_object(payload);
	*light = json_object_get_int_member(obj, "version") == 7;
	return g_strdup(json_object_get_string_member(obj, "hash"));
}

/* Polls holding @hash until the answer is not that light one; its hash. */
static gchar *
poll_until_changed(ExhTest *t, const guint8 *key, const gchar *hash)
{
	for (guint i = 0; i < NOTIFY_TRIES; i++) {
		g_autoptr(Sealed) r = sealed_poll(t, key, hash);
		gboolean light = FALSE;
		g_autofree gchar *got = polled_hash(r, key, &light);

		if (!light)
			return g_steal_pointer(&got);
		g_usleep(20 * 1000);
	}
	g_assert_not_reached();
}

/* A registered agent of NODE (key required) whose light answer of HASH_EMPTY
 * the host now answers from its cache. */
static void
light_cached(ExhTest *t, const guint8 *key)
{
	guint64 before;
	gboolean light = FALSE;

	put_key(t, TRUE);
	g_autoptr(Sealed) c = sealed(t, FALSE, "POST", "/v1/agents/", key, AGENT_BODY);
	g_assert_cmpuint(c->status, ==, 201);
	/* the first poll reads the database and fills the cache… */
	g_autoptr(Sealed) p1 = sealed_poll(t, key, "");
	g_autofree gchar *h1 = polled_hash(p1, key, &light);
	g_assert_cmpstr(h1, ==, HASH_EMPTY);
	g_assert_false(light);
	/* …the next ones are answered from it, light, sealed, version echoed (the
	 * agent's own registration may still be notified: retried until served) */
	before = exh_host_get_light_polls(t->host);
	for (guint i = 0; i < NOTIFY_TRIES && exh_host_get_light_polls(t->host) == before; i++) {
		g_autoptr(Sealed) p2 = sealed_poll(t, key, HASH_EMPTY);
		g_autofree gchar *h2 = polled_hash(p2, key, &light);

		g_assert_cmpstr(h2, ==, HASH_EMPTY);
		g_assert_true(light);
	}
	g_assert_cmpuint(exh_host_get_light_polls(t->host), >, before);
}

/*
 * docs/scale.md §4: a light answer from the cache never outlives what it
 * stands for.  A write through this host's Status API reaches the very next
 * poll; a target written by another connection (a builder of another host)
 * reaches a poll once its NOTIFY is in, as a parked poll's wake does.
 */
static void
test_light_cache_payload(void)
{
	g_autoptr(ExhTest) t = start();
	guint8 key[EXM_ENVELOPE_KEY_LEN];
	gboolean light = TRUE;

	if (t == NULL)
		return;
	g_assert_true(exm_envelope_key_from_base64(KEY_B64, key, NULL));
	light_cached(t, key);
	/* another connection writes a target: the poll gets the new payload */
	insert_target(t);
	g_autofree gchar *h1 = poll_until_changed(t, key, HASH_EMPTY);
	g_assert_cmpstr(h1, ==, HASH_ONE);
	/* cached again; an actual reported through this host: the next poll sees it */
	g_autoptr(Sealed) p1 = sealed_poll(t, key, HASH_ONE);
	g_autofree gchar *h2 = polled_hash(p1, key, &light);
	g_assert_true(light);
	g_autoptr(Sealed) a =
		sealed(t, FALSE, "POST", "/v1/kind/demo_vm/resources/", key, ACTUAL_BODY);
	g_assert_cmpuint(a->status, ==, 201);
	g_autoptr(Sealed) p2 = sealed_poll(t, key, HASH_ONE);
	g_autofree gchar *h3 = polled_hash(p2, key, &light);
	g_assert_false(light);
	g_assert_cmpstr(h3, ==, HASH_CONVERGED);
	/* the agent's capabilities changed by another connection: its baskets change */
	g_autoptr(Sealed) p3 = sealed_poll(t, key, HASH_CONVERGED);
	g_autofree gchar *h4 = polled_hash(p3, key, &light);
	g_assert_true(light);
	sql(t, "UPDATE ua_agents SET capabilities = '{\"capabilities\": []}'");
	g_autofree gchar *h5 = poll_until_changed(t, key, HASH_CONVERGED);
	g_assert_cmpstr(h5, ==, HASH_EMPTY);
}

/* A node whose key row another connection removed or replaced is not served
 * from the cache: refused as the database says, once its NOTIFY is in. */
static void
test_light_cache_key(void)
{
	g_autoptr(ExhTest) t = start();
	guint8 key[EXM_ENVELOPE_KEY_LEN];
	guint8 other[EXM_ENVELOPE_KEY_LEN];
	guint i;

	if (t == NULL)
		return;
	g_assert_true(exm_envelope_key_from_base64(KEY_B64, key, NULL));
	g_assert_true(exm_envelope_key_from_base64(OTHER_KEY, other, NULL));
	light_cached(t, key);
	/* a new key: the old one no longer opens a request */
	sql(t,
	    "UPDATE ua_node_encryption_keys SET private_key = '" OTHER_KEY "' WHERE uuid = '" NODE
	    "'");
	for (i = 0; i < NOTIFY_TRIES; i++) {
		g_autoptr(Sealed) r = sealed_poll(t, key, HASH_EMPTY);

		if (r->status != 200) {
			assert_sealed_error(r, 400, "ParseBodyError");
			break;
		}
		g_usleep(20 * 1000);
	}
	g_assert_cmpuint(i, <, NOTIFY_TRIES);
	/* the new key is served (and cached again) */
	g_autoptr(Sealed) n = sealed_poll(t, other, HASH_EMPTY);
	g_assert_cmpuint(n->status, ==, 200);
	/* the key removed: the node is refused */
	sql(t, "DELETE FROM ua_node_encryption_keys WHERE uuid = '" NODE "'");
	for (i = 0; i < NOTIFY_TRIES; i++) {
		g_autoptr(Sealed) r = sealed_poll(t, other, HASH_EMPTY);

		if (r->status != 200) {
			assert_sealed_error(r, 404, "RecordNotFound");
			break;
		}
		g_usleep(20 * 1000);
	}
	g_assert_cmpuint(i, <, NOTIFY_TRIES);
}

/* ------------------------------------------------------------------ long poll */

typedef struct {
	GBytes *reply;
	gboolean done;
} Pending;

static void
sent(GObject *source, GAsyncResult *result, gpointer data)
{
	Pending *p = data;

	p->reply = soup_session_send_and_read_finish(SOUP_SESSION(source), result, NULL);
	p->done = TRUE;
}

static void
test_long_poll(void)
{
	g_autoptr(ExhTest) t = start();
	g_autofree gchar *url = NULL;
	g_autoptr(SoupMessage) msg = NULL;
	g_autoptr(SoupSession) session = NULL;
	g_autoptr(JsonNode) body = NULL;
	Pending pending = { 0 };
	gint64 start_time;

	if (t == NULL)
		return;
	put_key(t, FALSE);
	g_autoptr(ExhTestResponse) c =
		ua(t, FALSE, "POST", "/v1/agents/", json_headers, AGENT_BODY);
	g_assert_cmpuint(c->status, ==, 201);
	/* wait must be a number; more than 10 s is capped */
	g_autoptr(ExhTestResponse) w = ua(t,
					  TRUE,
					  "GET",
					  "/v1/agents/" AGENT "/actions/get_payload?wait=soon",
					  plain_headers,
					  NULL);
	exh_test_assert_error(w, 400, "ValidationError", NULL);
	/* unchanged: held until the time is up, then the light payload */
	start_time = g_get_monotonic_time();
	g_autoptr(ExhTestResponse) l =
		ua(t,
		   TRUE,
		   "GET",
		   "/v1/agents/" AGENT "/actions/get_payload?hash=" HASH_EMPTY "&wait=1",
		   plain_headers,
		   NULL);
	g_assert_cmpstr(exh_test_response_get_string(l, "hash"), ==, HASH_EMPTY);
	g_assert_cmpint(g_get_monotonic_time() - start_time, >=, 900 * 1000);
	/* a Status API write while it waits wakes it with the new payload */
	session = soup_session_new();
	url = g_strconcat(exh_host_get_orch_url(t->host),
			  "/v1/agents/" AGENT "/actions/get_payload?hash=" HASH_EMPTY "&wait=10",
			  NULL);
	msg = soup_message_new("GET", url);
	soup_message_headers_replace(
		soup_message_get_request_headers(msg), "X-Genesis-Node-UUID", NODE);
	soup_session_send_and_read_async(session, msg, G_PRIORITY_DEFAULT, NULL, sent, &pending);
	for (guint i = 0; i < 20; i++) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(10000);
	}
	g_assert_false(pending.done);
	g_autoptr(ExhTestResponse) a =
		ua(t, FALSE, "POST", "/v1/kind/demo_vm/resources/", json_headers, ACTUAL_BODY);
	g_assert_cmpuint(a->status, ==, 201);
	while (!pending.done)
		g_main_context_iteration(NULL, TRUE);
	g_assert_nonnull(pending.reply);
	body = exm_json_parse_strict(
		g_bytes_get_data(pending.reply, NULL), g_bytes_get_size(pending.reply), NULL);
	g_assert_nonnull(body);
	g_assert_cmpstr(
		json_object_get_string_member(json_node_get_object(body), "hash"), !=, HASH_EMPTY);
	g_bytes_unref(pending.reply);
	soup_session_abort(session);
}

/* ------------------------------------------------------------------ second host */

/* Parks a get_payload on host A for 10 s; @session sends it. */
static SoupMessage *
park_poll(ExhTest *t, SoupSession *session, Pending *pending)
{
	g_autofree gchar *url =
		g_strconcat(exh_host_get_orch_url(t->host),
			    "/v1/agents/" AGENT "/actions/get_payload?hash=" HASH_EMPTY "&wait=10",
			    NULL);
	SoupMessage *msg = soup_message_new("GET", url);

	soup_message_headers_replace(
		soup_message_get_request_headers(msg), "X-Genesis-Node-UUID", NODE);
	soup_session_send_and_read_async(session, msg, G_PRIORITY_DEFAULT, NULL, sent, pending);
	for (guint i = 0; i < 20; i++) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(10000);
	}
	return msg;
}

/*
 * Issue 18 item 5: a Status API write on another host process (same
 * database) wakes a poll parked on this one; it is answered with the new
 * payload, not the light one its 10 s wait would end with.  The wake's delay
 * is printed (target 100 ms), never asserted.
 */
static void
test_long_poll_second_host(void)
{
	g_autoptr(ExhTest) t = start();
	g_autoptr(SoupSession) session = NULL;
	g_autoptr(SoupSession) other = NULL;
	g_autoptr(SoupMessage) poll = NULL;
	g_autoptr(SoupMessage) write = NULL;
	g_autoptr(GBytes) written = NULL;
	g_autoptr(GBytes) bytes = g_bytes_new_static(ACTUAL_BODY, strlen(ACTUAL_BODY));
	g_autoptr(JsonNode) body = NULL;
	g_autofree gchar *url = NULL;
	g_autoptr(ExhTest) b = NULL;
	g_autoptr(GError) error = NULL;
	Pending pending = { 0 };
	gint64 wrote;

	if (t == NULL)
		return;
	put_key(t, FALSE);
	g_autoptr(ExhTestResponse) c =
		ua(t, FALSE, "POST", "/v1/agents/", json_headers, AGENT_BODY);
	g_assert_cmpuint(c->status, ==, 201);
	/* exordos-paas-host, a process of its own, on the same database */
	b = exh_test_spawn_peer(t, &error);
	g_assert_no_error(error);
	g_assert_nonnull(b);
	session = soup_session_new();
	poll = park_poll(t, session, &pending);
	g_assert_false(pending.done);
	/* the write, on host B */
	other = soup_session_new();
	url = g_strconcat(b->status_url, "/v1/kind/demo_vm/resources/", NULL);
	write = soup_message_new("POST", url);
	soup_message_headers_replace(
		soup_message_get_request_headers(write), "X-Genesis-Node-UUID", NODE);
	soup_message_set_request_body_from_bytes(write, "application/json", bytes);
	written = soup_session_send_and_read(other, write, NULL, NULL);
	wrote = g_get_monotonic_time();
	g_assert_cmpuint(soup_message_get_status(write), ==, 201);
	while (!pending.done)
		g_main_context_iteration(NULL, TRUE);
	g_test_message("a poll parked on host A woken %.1f ms after host B's 201 (target 100 ms)",
		       (g_get_monotonic_time() - wrote) / 1000.0);
	g_clear_pointer(&b, exh_test_free);
	g_assert_nonnull(pending.reply);
	body = exm_json_parse_strict(
		g_bytes_get_data(pending.reply, NULL), g_bytes_get_size(pending.reply), NULL);
	g_assert_nonnull(body);
	g_assert_cmpstr(
		json_object_get_string_member(json_node_get_object(body), "hash"), !=, HASH_EMPTY);
	g_bytes_unref(pending.reply);
	soup_session_abort(session);
}

/* ------------------------------------------------------------------ body limit */

/* A field of /proc/self/status in KiB (VmRSS, VmHWM), 0 when unreadable. */
static guint64
status_kib(const gchar *field)
{
	g_autofree gchar *status = NULL;
	const gchar *line;

	if (!g_file_get_contents("/proc/self/status", &status, NULL, NULL))
		return 0;
	line = strstr(status, field);
	return line != NULL ? g_ascii_strtoull(line + strlen(field) + 1, NULL, 10) : 0;
}

/* Resets VmHWM to the current RSS (Linux clear_refs). */
static gboolean
reset_peak_rss(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	gboolean ok;

	if (f == NULL)
		return FALSE;
	ok = fputs("5", f) >= 0;
	return fclose(f) == 0 && ok;
}

/*
 * POSTs @total bytes in 1 MiB chunks (Transfer-Encoding: chunked, no length
 * up front) to the Status API as a node without a key; returns the status of
 * the answer.  The server may stop reading early: a failed write ends the
 * upload, the answer is read anyway.
 */
static guint
post_chunked(ExhTest *t, gsize total)
{
	static const gchar head[] = "POST /v1/agents/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				    "X-Genesis-Node-UUID: " OTHER_NODE "\r\n"
				    "Content-Type: application/json\r\n"
				    "Transfer-Encoding: chunked\r\n\r\n";
	const gsize chunk = 1024 * 1024;
	g_autofree gchar *buf = g_malloc(chunk);
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketConnection) conn = NULL;
	g_autoptr(GDataInputStream) in = NULL;
	g_autofree gchar *line = NULL;
	GOutputStream *out;
	gboolean ok;

	memset(buf, ' ', chunk);
	g_socket_client_set_timeout(client, 60);
	conn = g_socket_client_connect_to_uri(
		client, exh_host_get_status_url(t->host), 0, NULL, NULL);
	g_assert_nonnull(conn);
	out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
	ok = g_output_stream_write_all(out, head, strlen(head), NULL, NULL, NULL);
	for (gsize sent = 0; ok && sent < total; sent += chunk) {
		g_autofree gchar *size = g_strdup_printf("%" G_GSIZE_MODIFIER "x\r\n", chunk);

		ok = g_output_stream_write_all(out, size, strlen(size), NULL, NULL, NULL) &&
		     g_output_stream_write_all(out, buf, chunk, NULL, NULL, NULL) &&
		     g_output_stream_write_all(out, "\r\n", 2, NULL, NULL, NULL);
	}
	if (ok)
		g_output_stream_write_all(out, "0\r\n\r\n", 5, NULL, NULL, NULL);
	in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(conn)));
	line = g_data_input_stream_read_line(in, NULL, NULL, NULL);
	g_assert_nonnull(line);
	g_assert_true(g_str_has_prefix(line, "HTTP/1.1 "));
	return (guint)g_ascii_strtoull(line + strlen("HTTP/1.1 "), NULL, 10);
}

/* A chunked body over the limit is refused without being held in memory,
 * before any key is looked at. */
static void
test_chunked_limit(void)
{
	const gsize limit = exh_ua_server_status_max_body(EXH_DEFAULT_MAX_BODY);
	const gsize total = limit + 64 * 1024 * 1024;
	g_autoptr(ExhTest) t = start();
	guint64 rss;
	guint64 peak;

	if (t == NULL)
		return;
	if (!reset_peak_rss()) {
		g_test_skip("/proc/self/clear_refs cannot reset the peak RSS here");
		return;
	}
	rss = status_kib("VmRSS:");
	g_assert_cmpuint(post_chunked(t, total), ==, 413);
	peak = status_kib("VmHWM:");
	g_test_message("RSS %" G_GUINT64_FORMAT " KiB, peak while refusing %" G_GUINT64_FORMAT
		       " KiB",
		       rss,
		       peak);
	g_assert_cmpuint(rss, >, 0);
#if defined(__SANITIZE_ADDRESS__)
	/* ASan keeps freed blocks in its quarantine (256 MiB by default), so the
	 * chunks the host read and dropped still count: the peak says nothing
	 * about the host here.  The plain build asserts it. */
	g_test_message("peak not asserted under AddressSanitizer");
#else
	/* what is kept is bounded by the limit, not by what the client sends */
	g_assert_cmpuint(peak, <, rss + (limit + 32 * 1024 * 1024) / 1024);
#endif
}

/* ------------------------------------------------------------------ large reports */

/* An actual-resource value with @n accounts as a mail node reports them
 * (a sha512-crypt hash each), as JSON text. */
static GString *
report_value(guint n)
{
	GString *s = g_string_sized_new((gsize)n * 160 + 256);

	g_string_append(s, "{\"value\": {\"uuid\": \"" VM "\", \"accounts\": [");
	for (guint i = 0; i < n; i++)
		g_string_append_printf(s,
				       "%s{\"username\": \"user%06u\", \"password_hash\": "
				       "\"$6$rounds=5000$%016u$%086u\", \"active\": true}",
				       i > 0 ? ", " : "",
				       i,
				       i,
				       i);
	g_string_append(s, "]}, \"hash\": \"h\", \"full_hash\": \"f\", \"status\": \"ACTIVE\"}");
	return s;
}

/* A request whose headers declare @length bytes; the answer's status, read
 * before any of the body is sent. */
static guint
declared_status(ExhTest *t, guint64 length)
{
	g_autofree gchar *head = g_strdup_printf(
		"PUT /v1/kind/demo_vm/resources/" VM " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		"X-Genesis-Node-UUID: " NODE "\r\nContent-Type: application/json\r\n"
		"Expect: 100-continue\r\nContent-Length: %" G_GUINT64_FORMAT "\r\n\r\n",
		length);
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketConnection) conn = NULL;
	g_autoptr(GDataInputStream) in = NULL;
	g_autofree gchar *line = NULL;
	g_autoptr(GError) error = NULL;

	g_socket_client_set_timeout(client, 30);
	conn = g_socket_client_connect_to_uri(
		client, exh_host_get_status_url(t->host), 0, NULL, NULL);
	g_assert_nonnull(conn);
	g_assert_true(g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(conn)),
						head,
						strlen(head),
						NULL,
						NULL,
						NULL));
	in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(conn)));
	line = g_data_input_stream_read_line(in, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(line);
	return (guint)g_ascii_strtoull(line + strlen("HTTP/1.1 "), NULL, 10);
}

/* The report of an instance with 100 000 accounts is accepted; a body over
 * the limit derived from the largest payload is refused before it is sent. */
static void
test_large_report(void)
{
	g_autoptr(ExhTest) t = start();
	g_autoptr(GString) value = NULL;
	g_autofree gchar *stored = NULL;
	g_autofree gchar *expected = NULL;
	guint accounts = 100000;
	gint64 start_time;

	if (t == NULL)
		return;
#if defined(__SANITIZE_ADDRESS__)
	/* instrumented, the host takes minutes over 18 MB of JSON: the size is the
	 * plain build's to assert; here the path runs with a tenth of it */
	accounts = 10000;
#endif
	if (g_getenv("EXM_UNDER_VALGRIND") != NULL)
		accounts = 10000;
	value = report_value(accounts);
	expected = g_strdup_printf("%u", accounts);
	put_key(t, FALSE);
	g_autoptr(ExhTestResponse) a =
		ua(t, FALSE, "POST", "/v1/kind/demo_vm/resources/", json_headers, ACTUAL_BODY);
	g_assert_cmpuint(a->status, ==, 201);
	start_time = g_get_monotonic_time();
	g_autoptr(ExhTestResponse) u =
		ua(t, FALSE, "PUT", "/v1/kind/demo_vm/resources/" VM, json_headers, value->str);
	g_test_message("%u-account report: %zu bytes, answered %u in %.2f s (limit %zu)",
		       accounts,
		       value->len,
		       u->status,
		       (gdouble)(g_get_monotonic_time() - start_time) / G_USEC_PER_SEC,
		       exh_ua_server_status_max_body(EXH_DEFAULT_MAX_BODY));
	g_assert_cmpuint(u->status, ==, 200);
	stored = exh_test_sql(t,
			      "SELECT jsonb_array_length((value::jsonb)->'accounts') FROM "
			      "ua_actual_resources");
	g_assert_cmpstr(stored, ==, expected);
	g_assert_cmpuint(
		declared_status(t, exh_ua_server_status_max_body(EXH_DEFAULT_MAX_BODY) + 1),
		==,
		413);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_log_set_writer_func(count_cross_node, NULL, NULL);
	g_test_add_func("/ua/middleware", test_middleware);
	g_test_add_func("/ua/agents", test_agents);
	g_test_add_func("/ua/payload", test_payload);
	g_test_add_func("/ua/resources", test_resources);
	g_test_add_func("/ua/envelope", test_envelope);
	g_test_add_func("/ua/other-node", test_other_node);
	g_test_add_func("/ua/node-verifier", test_node_verifier);
	g_test_add_func("/ua/orch-agents", test_orch_agents);
	g_test_add_func("/ua/light-cache-payload", test_light_cache_payload);
	g_test_add_func("/ua/light-cache-key", test_light_cache_key);
	g_test_add_func("/ua/long-poll", test_long_poll);
	g_test_add_func("/ua/long-poll-second-host", test_long_poll_second_host);
	g_test_add_func("/ua/chunked-limit", test_chunked_limit);
	g_test_add_func("/ua/large-report", test_large_report);
	return g_test_run();
}
