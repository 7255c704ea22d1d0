/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "test-ua-fakecp.h"

#include "exm-cleanup.h"
#include "exm-envelope.h"
#include "exm-json.h"
#include "exm-uuid.h"

#include <libsoup/soup.h>
#include <string.h>

#define FAKE_JSON_TYPE "application/json"

typedef struct {
	gchar *kind;
	gchar *uuid;
	gchar *agent;
	JsonObject *value;
	gchar *hash;
	gchar *updated_at; /* when the target was last set, as the CP renders it */
} FakeTarget;

typedef struct {
	FakeCp *cp;
	SoupServerMessage *msg;
	gchar *agent;
	gchar *hash;
	gint64 version;
	guint timeout_id;
} FakeHeld;

typedef struct {
	FakeCp *cp;
	gboolean orch;
	SoupServer *server;
	guint port;
} FakeApi;

struct _FakeCp {
	FakeApi orch;
	FakeApi status;
	gchar *orch_url;
	gchar *status_url;
	gboolean sealed;
	guint8 key[EXM_ENVELOPE_KEY_LEN];
	GPtrArray *log;
	GPtrArray *violations;
	GHashTable *agents;  /* uuid → JsonObject */
	GHashTable *targets; /* "kind/uuid" → FakeTarget */
	GHashTable *actuals; /* "kind/uuid" → JsonObject row (bare kind, with node) */
	GPtrArray *held;     /* FakeHeld */
	guint seq;
	guint fail_n;
	guint fail_status;
	gboolean ignore_wait;
	gboolean accept_wait;
	gboolean refuse_node; /* the node verifier answers 404 */
	gboolean answer_plain;
	gboolean answer_chunked;
	GBytes *last_sealed;  /* the last sealed success body sent … */
	gchar *last_nonce;    /* … and its X-Genesis-Nonce */
	GBytes *payload_wire; /* the last sealed get_payload answer sent … */
	gchar *payload_nonce; /* … and its nonce */
	GBytes *replay_wire;  /* the recorded answer replayed … */
	gchar *replay_nonce;
	guint replay_n; /* … to the next replay_n get_payload calls */
};

static void
fake_request_free(gpointer data)
{
	FakeRequest *r = data;

	g_free(r->api);
	g_free(r->method);
	g_free(r->path);
	g_free(r->query);
	g_free(r->content_type);
	g_free(r->node_header);
	g_free(r->nonce_header);
	g_clear_pointer(&r->body, json_node_unref);
	g_free(r);
}

static void
fake_target_free(gpointer data)
{
	FakeTarget *t = data;

	g_free(t->kind);
	g_free(t->uuid);
	g_free(t->agent);
	json_object_unref(t->value);
	g_free(t->hash);
	g_free(t->updated_at);
	g_free(t);
}

static JsonObject *
fake_parse_object(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	JsonObject *obj = exm_json_parse_object(text, strlen(text), &error);

	g_assert_no_error(error);
	return obj;
}

/* json-glib copies are shallow; rows must not share objects with the log. */
static JsonObject *
fake_deep_copy(JsonNode *node)
{
	g_autofree gchar *text = exm_json_to_string(node);

	return fake_parse_object(text);
}

static gchar *
fake_hash_object(JsonObject *obj)
{
	g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), obj);

	return exm_json_hash(node);
}

static void fake_violation(FakeCp *cp, const gchar *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
fake_violation(FakeCp *cp, const gchar *fmt, ...)
{
	va_list ap;
	gchar *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_test_message("fake cp: protocol violation: %s", msg);
	g_ptr_array_add(cp->violations, msg);
}

/* ---- responses ---------------------------------------------------------- */

/* The body as is, or without a length: in chunks of at most 7 bytes
 * (fake_cp_answer_chunked()). */
static void
fake_set_body(FakeCp *cp, SoupServerMessage *msg, const gchar *type, gconstpointer data, gsize len)
{
	SoupMessageHeaders *hdrs = soup_server_message_get_response_headers(msg);
	SoupMessageBody *body = soup_server_message_get_response_body(msg);

	if (!cp->answer_chunked) {
		soup_server_message_set_response(msg, type, SOUP_MEMORY_COPY, data, len);
		return;
	}
	soup_message_headers_set_content_type(hdrs, type, NULL);
	soup_message_headers_set_encoding(hdrs, SOUP_ENCODING_CHUNKED);
	for (gsize at = 0; at < len; at += 7)
		soup_message_body_append(
			body, SOUP_MEMORY_COPY, (const guint8 *)data + at, MIN(7, len - at));
	soup_message_body_complete(body);
}

static void
fake_respond(FakeCp *cp, SoupServerMessage *msg, guint status, JsonNode *body)
{
	SoupMessageHeaders *hdrs = soup_server_message_get_response_headers(msg);
	g_autofree gchar *text = NULL;
	g_autofree gchar *nonce = NULL;
	g_autoptr(GBytes) wire = NULL;
	g_autoptr(GError) error = NULL;
	gsize len;

	soup_server_message_set_status(msg, status, NULL);
	if (body == NULL || status == SOUP_STATUS_NO_CONTENT)
		return;
	text = exm_json_to_string(body);
	len = strlen(text);
	/* Errors are always plain JSON (§5.3); successes sealed when required (§6.5),
	 * unless the test plays someone on the path who has no key. */
	if (!cp->sealed || cp->answer_plain || !SOUP_STATUS_IS_SUCCESSFUL(status)) {
		fake_set_body(cp, msg, FAKE_JSON_TYPE, text, len);
		return;
	}
	wire = exm_envelope_seal(cp->key, text, len, &nonce, &error);
	g_assert_no_error(error);
	g_clear_pointer(&cp->last_sealed, g_bytes_unref);
	cp->last_sealed = g_bytes_ref(wire);
	g_free(cp->last_nonce);
	cp->last_nonce = g_strdup(nonce);
	soup_message_headers_replace(hdrs, EXM_ENVELOPE_HEADER_NONCE, nonce);
	fake_set_body(cp,
		      msg,
		      EXM_ENVELOPE_CONTENT_TYPE,
		      g_bytes_get_data(wire, NULL),
		      g_bytes_get_size(wire));
}

static void
fake_error(FakeCp *cp,
	   SoupServerMessage *msg,
	   guint status,
	   const gchar *type,
	   const gchar *message)
{
	g_autoptr(JsonObject) o = json_object_new();
	g_autoptr(JsonNode) node = NULL;

	json_object_set_string_member(o, "type", type);
	json_object_set_int_member(o, "code", status);
	json_object_set_string_member(o, "message", message);
	node = json_node_init_object(json_node_alloc(), o);
	fake_respond(cp, msg, status, node);
}

static void
fake_respond_object(FakeCp *cp, SoupServerMessage *msg, guint status, JsonObject *obj)
{
	g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), obj);

	fake_respond(cp, msg, status, node);
}

/* ---- the §4.1 payload ----------------------------------------------------- */

static gboolean
fake_str_in_array(JsonArray *arr, const gchar *s)
{
	for (guint i = 0; arr != NULL && i < json_array_get_length(arr); i++) {
		if (g_strcmp0(json_array_get_string_element(arr, i), s) == 0)
			return TRUE;
	}
	return FALSE;
}

static JsonArray *
fake_agent_list(JsonObject *agent, const gchar *name)
{
	JsonObject *o;

	if (!json_object_has_member(agent, name))
		return NULL;
	o = json_object_get_object_member(agent, name);
	return o != NULL && json_object_has_member(o, name) ? json_object_get_array_member(o, name)
							    : NULL;
}

static JsonObject *
fake_basket(JsonObject *group, const gchar *kind)
{
	JsonObject *b = json_object_has_member(group, kind)
				? json_object_get_object_member(group, kind)
				: NULL;

	if (b == NULL) {
		b = json_object_new();
		json_object_set_array_member(b, "resources", json_array_new());
		json_object_set_object_member(group, kind, b);
	}
	return b;
}

static gint
fake_strcmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const gchar *const *)a, *(const gchar *const *)b);
}

static void
fake_add_caps(FakeCp *cp, const gchar *uuid, JsonArray *caps, JsonObject *group, GPtrArray *hashes)
{
	GHashTableIter iter;
	gpointer v;

	g_hash_table_iter_init(&iter, cp->targets);
	while (g_hash_table_iter_next(&iter, NULL, &v)) {
		FakeTarget *t = v;
		JsonObject *r;
		g_autofree gchar *res_uuid = NULL;

		if (g_strcmp0(t->agent, uuid) != 0 || !fake_str_in_array(caps, t->kind))
			continue;
		res_uuid = exm_uuid_v5(t->uuid, t->kind, NULL);
		r = json_object_new();
		json_object_set_string_member(r, "uuid", t->uuid);
		json_object_set_string_member(r, "kind", t->kind);
		json_object_set_string_member(r, "res_uuid", res_uuid);
		json_object_set_object_member(r, "value", json_object_ref(t->value));
		json_object_set_string_member(r, "hash", t->hash);
		json_object_set_string_member(r, "full_hash", "");
		json_object_set_string_member(r, "status", "NEW");
		json_object_set_string_member(r, "created_at", "2026-05-01 10:00:00.123456");
		json_object_set_string_member(r, "updated_at", t->updated_at);
		json_array_add_object_element(
			json_object_get_array_member(fake_basket(group, t->kind), "resources"), r);
		g_ptr_array_add(hashes, t->hash);
	}
}

static void
fake_add_facts(FakeCp *cp,
	       const gchar *node,
	       JsonArray *caps,
	       JsonArray *facts,
	       JsonObject *group,
	       GPtrArray *hashes)
{
	GHashTableIter iter;
	gpointer v;

	g_hash_table_iter_init(&iter, cp->actuals);
	while (g_hash_table_iter_next(&iter, NULL, &v)) {
		JsonObject *row = v;
		const gchar *kind = json_object_get_string_member(row, "kind");
		JsonObject *r;
		g_autoptr(GList) members = NULL;

		if (g_strcmp0(json_object_get_string_member(row, "node"), node) != 0 ||
		    (!fake_str_in_array(caps, kind) && !fake_str_in_array(facts, kind)))
			continue;
		r = json_object_new();
		members = json_object_get_members(row);
		for (GList *l = members; l != NULL; l = l->next) {
			if (strcmp(l->data, "node") != 0)
				json_object_set_member(
					r,
					l->data,
					json_node_copy(json_object_get_member(row, l->data)));
		}
		json_array_add_object_element(
			json_object_get_array_member(fake_basket(group, kind), "resources"), r);
		g_ptr_array_add(hashes, (gpointer)json_object_get_string_member(row, "full_hash"));
	}
}

static gchar *
fake_hash_list(GPtrArray *caps, GPtrArray *facts)
{
	g_autoptr(JsonArray) arr = json_array_new();
	g_autoptr(JsonNode) node = NULL;

	g_ptr_array_sort(caps, fake_strcmp);
	g_ptr_array_sort(facts, fake_strcmp);
	for (guint i = 0; i < caps->len; i++)
		json_array_add_string_element(arr, caps->pdata[i]);
	for (guint i = 0; i < facts->len; i++)
		json_array_add_string_element(arr, facts->pdata[i]);
	node = json_node_init_array(json_node_alloc(), arr);
	return exm_json_hash(node);
}

/* The full payload of @uuid (with empty baskets), or %NULL for an unknown agent. */
static JsonObject *
fake_build_payload(FakeCp *cp, const gchar *uuid)
{
	JsonObject *agent = g_hash_table_lookup(cp->agents, uuid);
	g_autoptr(JsonObject) payload = NULL;
	g_autoptr(GPtrArray) ch = g_ptr_array_new();
	g_autoptr(GPtrArray) fh = g_ptr_array_new();
	g_autofree gchar *hash = NULL;
	JsonObject *caps_group, *facts_group;
	JsonArray *caps, *facts;

	if (agent == NULL)
		return NULL;
	caps = fake_agent_list(agent, "capabilities");
	facts = fake_agent_list(agent, "facts");
	payload = json_object_new();
	caps_group = json_object_new();
	facts_group = json_object_new();
	json_object_set_object_member(payload, "capabilities", caps_group);
	json_object_set_object_member(payload, "facts", facts_group);
	fake_add_caps(cp, uuid, caps, caps_group, ch);
	fake_add_facts(
		cp, json_object_get_string_member(agent, "node"), caps, facts, facts_group, fh);
	hash = fake_hash_list(ch, fh);
	for (guint i = 0; caps != NULL && i < json_array_get_length(caps); i++) {
		fake_basket(caps_group, json_array_get_string_element(caps, i));
		fake_basket(facts_group, json_array_get_string_element(caps, i));
	}
	for (guint i = 0; facts != NULL && i < json_array_get_length(facts); i++)
		fake_basket(facts_group, json_array_get_string_element(facts, i));
	json_object_set_string_member(payload, "hash", hash);
	json_object_set_int_member(payload, "version", 0);
	return g_steal_pointer(&payload);
}

gchar *
fake_cp_payload_hash(FakeCp *cp, const gchar *agent)
{
	g_autoptr(JsonObject) p = fake_build_payload(cp, agent);

	return p != NULL ? g_strdup(json_object_get_string_member(p, "hash")) : NULL;
}

/* Answers a get_payload: full, or light when the hashes match (§4.1 step 4).
 * Returns %FALSE when it is light and the caller may hold it instead. */
static gboolean
fake_answer_payload(FakeCp *cp,
		    SoupServerMessage *msg,
		    const gchar *uuid,
		    const gchar *hash,
		    gint64 version,
		    gboolean may_hold)
{
	g_autoptr(JsonObject) payload = fake_build_payload(cp, uuid);
	g_autoptr(JsonObject) light = NULL;

	if (payload == NULL) {
		fake_error(cp, msg, SOUP_STATUS_NOT_FOUND, "RecordNotFound", "agent not found");
		return TRUE;
	}
	if (g_strcmp0(json_object_get_string_member(payload, "hash"), hash) != 0) {
		fake_respond_object(cp, msg, SOUP_STATUS_OK, payload);
		return TRUE;
	}
	if (may_hold)
		return FALSE;
	light = json_object_new();
	json_object_set_object_member(light, "capabilities", json_object_new());
	json_object_set_object_member(light, "facts", json_object_new());
	json_object_set_string_member(light, "hash", hash);
	json_object_set_int_member(light, "version", version);
	fake_respond_object(cp, msg, SOUP_STATUS_OK, light);
	return TRUE;
}

static void
fake_held_free(gpointer data)
{
	FakeHeld *h = data;

	g_clear_handle_id(&h->timeout_id, g_source_remove);
	g_signal_handlers_disconnect_by_data(h->msg, h);
	g_object_unref(h->msg);
	g_free(h->agent);
	g_free(h->hash);
	g_free(h);
}

/* Answers held long polls: all of them (@force), or those whose payload changed. */
static void
fake_wake_held(FakeCp *cp, gboolean force)
{
	for (guint i = 0; i < cp->held->len;) {
		FakeHeld *h = cp->held->pdata[i];
		if (fake_answer_payload(cp, h->msg, h->agent, h->hash, h->version, !force)) {
			soup_server_message_unpause(h->msg);
			g_ptr_array_remove_index(cp->held, i);
			continue;
		}
		i++;
	}
}

static gboolean
fake_held_timeout(gpointer data)
{
	FakeHeld *h = data;
	FakeCp *cp = h->cp;

	h->timeout_id = 0;
	fake_answer_payload(cp, h->msg, h->agent, h->hash, h->version, FALSE);
	soup_server_message_unpause(h->msg);
	g_ptr_array_remove(cp->held, h);
	return G_SOURCE_REMOVE;
}

static void
fake_held_gone(SoupServerMessage *msg, gpointer data)
{
	FakeHeld *h = data;

	g_ptr_array_remove(h->cp->held, h);
}

static void
fake_hold(FakeCp *cp,
	  SoupServerMessage *msg,
	  const gchar *uuid,
	  const gchar *hash,
	  gint64 version,
	  guint wait)
{
	FakeHeld *h = g_new0(FakeHeld, 1);

	h->cp = cp;
	h->msg = g_object_ref(msg);
	h->agent = g_strdup(uuid);
	h->hash = g_strdup(hash);
	h->version = version;
	h->timeout_id = g_timeout_add_seconds(wait, fake_held_timeout, h);
	g_signal_connect(msg, "disconnected", G_CALLBACK(fake_held_gone), h);
	g_ptr_array_add(cp->held, h);
	soup_server_message_pause(msg);
}

/* ---- routes --------------------------------------------------------------- */

/* Rejects members outside @allowed (restalchemy answers 400, §3). */
static gboolean
fake_only_members(FakeCp *cp,
		  SoupServerMessage *msg,
		  JsonObject *body,
		  const gchar *const *allowed,
		  const gchar *what)
{
	g_autoptr(GList) members = json_object_get_members(body);

	for (GList *l = members; l != NULL; l = l->next) {
		if (!g_strv_contains(allowed, l->data)) {
			fake_violation(cp, "%s: unknown field %s", what, (const gchar *)l->data);
			fake_error(cp, msg, 400, "ValidationPropertyIncompatibleError", l->data);
			return FALSE;
		}
	}
	return TRUE;
}

static JsonObject *
fake_body_object(FakeCp *cp, SoupServerMessage *msg, FakeRequest *req)
{
	if (req->body == NULL || !JSON_NODE_HOLDS_OBJECT(req->body)) {
		fake_violation(cp, "%s %s: body is not an object", req->method, req->path);
		fake_error(cp, msg, 400, "ParseBodyError", "body");
		return NULL;
	}
	return json_node_get_object(req->body);
}

static void
fake_agents_post(FakeCp *cp, SoupServerMessage *msg, FakeRequest *req)
{
	static const gchar *const allowed[] = { "uuid",	      "name", "description", "capabilities",
						"facts",      "node", "status",	     "created_at",
						"updated_at", NULL };
	JsonObject *body = fake_body_object(cp, msg, req);
	const gchar *uuid;

	if (body == NULL || !fake_only_members(cp, msg, body, allowed, "agent"))
		return;
	uuid = json_object_get_string_member_with_default(body, "uuid", "");
	if (g_hash_table_contains(cp->agents, uuid)) {
		fake_error(cp, msg, SOUP_STATUS_CONFLICT, "ConflictRecords", "agent exists");
		return;
	}
	g_hash_table_insert(cp->agents, g_strdup(uuid), fake_deep_copy(req->body));
	fake_respond_object(cp, msg, SOUP_STATUS_CREATED, body);
}

static void
fake_agents_put(FakeCp *cp, SoupServerMessage *msg, FakeRequest *req, const gchar *uuid)
{
	static const gchar *const allowed[] = { "capabilities", "facts", "name", NULL };
	JsonObject *body = fake_body_object(cp, msg, req);
	JsonObject *agent = g_hash_table_lookup(cp->agents, uuid);
	g_autoptr(GList) members = NULL;

	if (body == NULL || !fake_only_members(cp, msg, body, allowed, "agent update"))
		return;
	if (agent == NULL) {
		fake_error(cp, msg, SOUP_STATUS_NOT_FOUND, "RecordNotFound", "agent");
		return;
	}
	members = json_object_get_members(body);
	for (GList *l = members; l != NULL; l = l->next)
		json_object_set_member(
			agent, l->data, json_node_copy(json_object_get_member(body, l->data)));
	fake_respond_object(cp, msg, SOUP_STATUS_OK, agent);
}

static void
fake_resource_post(FakeCp *cp, SoupServerMessage *msg, FakeRequest *req, const gchar *kind)
{
	static const gchar *const allowed[] = { "uuid",	      "kind",	    "res_uuid", "value",
						"hash",	      "full_hash",  "status",	"node",
						"created_at", "updated_at", NULL };
	JsonObject *body = fake_body_object(cp, msg, req);
	g_autofree gchar *uri = g_strconcat("/v1/kind/", kind, NULL);
	g_autofree gchar *key = NULL;
	g_autofree gchar *res_uuid = NULL;
	JsonObject *row;

	if (body == NULL || !fake_only_members(cp, msg, body, allowed, "resource"))
		return;
	if (g_strcmp0(json_object_get_string_member_with_default(body, "kind", ""), uri) != 0)
		fake_violation(cp, "resource kind is not the URI %s", uri);
	res_uuid = exm_uuid_v5(
		json_object_get_string_member_with_default(body, "uuid", ""), kind, NULL);
	if (g_strcmp0(json_object_get_string_member_with_default(body, "res_uuid", ""), res_uuid) !=
	    0)
		fake_violation(cp, "res_uuid is not uuid5(uuid, kind)");
	key = g_strdup_printf(
		"%s/%s", kind, json_object_get_string_member_with_default(body, "uuid", ""));
	if (g_hash_table_contains(cp->actuals, key)) {
		fake_error(cp, msg, SOUP_STATUS_CONFLICT, "ConflictRecords", "resource exists");
		return;
	}
	row = fake_deep_copy(req->body);
	fake_respond_object(cp, msg, SOUP_STATUS_CREATED, row);
	json_object_set_string_member(row, "kind", kind);
	g_hash_table_insert(cp->actuals, g_steal_pointer(&key), row);
	fake_wake_held(cp, FALSE);
}

static void
fake_resource_put(FakeCp *cp,
		  SoupServerMessage *msg,
		  FakeRequest *req,
		  const gchar *kind,
		  const gchar *uuid)
{
	static const gchar *const allowed[] = { "value", "hash", "full_hash", "status", NULL };
	JsonObject *body = fake_body_object(cp, msg, req);
	g_autofree gchar *key = g_strdup_printf("%s/%s", kind, uuid);
	JsonObject *row = g_hash_table_lookup(cp->actuals, key);
	g_autoptr(GList) members = NULL;

	if (body == NULL || !fake_only_members(cp, msg, body, allowed, "resource update"))
		return;
	if (row == NULL) {
		fake_error(cp, msg, SOUP_STATUS_NOT_FOUND, "RecordNotFound", "resource");
		return;
	}
	members = json_object_get_members(body);
	for (GList *l = members; l != NULL; l = l->next)
		json_object_set_member(
			row, l->data, json_node_copy(json_object_get_member(body, l->data)));
	fake_respond_object(cp, msg, SOUP_STATUS_OK, row);
	fake_wake_held(cp, FALSE);
}

static void
fake_resource_delete(FakeCp *cp, SoupServerMessage *msg, const gchar *kind, const gchar *uuid)
{
	g_autofree gchar *key = g_strdup_printf("%s/%s", kind, uuid);

	if (!g_hash_table_remove(cp->actuals, key)) {
		fake_error(cp, msg, SOUP_STATUS_NOT_FOUND, "RecordNotFound", "resource");
		return;
	}
	fake_respond(cp, msg, SOUP_STATUS_NO_CONTENT, NULL);
	fake_wake_held(cp, FALSE);
}

/* gcl_sdk fork: `{"valid": true}` for a node with a key row, else 404; here
 * the calling node has one unless the test says it has not. */
static void
fake_node_verify(FakeCp *cp, SoupServerMessage *msg, FakeRequest *req, const gchar *node)
{
	g_autoptr(JsonObject) valid = NULL;

	if (req->body != NULL && !JSON_NODE_HOLDS_NULL(req->body))
		fake_violation(cp, "node verification with a body");
	if (cp->refuse_node || g_strcmp0(node, req->node_header) != 0) {
		fake_error(cp, msg, SOUP_STATUS_NOT_FOUND, "RecordNotFound", "node verifier");
		return;
	}
	valid = json_object_new();
	json_object_set_boolean_member(valid, "valid", TRUE);
	fake_respond_object(cp, msg, SOUP_STATUS_OK, valid);
}

static void
fake_route_status(FakeCp *cp, SoupServerMessage *msg, FakeRequest *req, gchar **p, guint n)
{
	const gchar *m = req->method;

	/* p = "", "v1", ... */
	if (n == 4 && g_str_equal(p[2], "agents") && p[3][0] == '\0' && g_str_equal(m, "POST"))
		fake_agents_post(cp, msg, req);
	else if (n == 4 && g_str_equal(p[2], "agents") && g_str_equal(m, "PUT"))
		fake_agents_put(cp, msg, req, p[3]);
	else if (n == 6 && g_str_equal(p[2], "kind") && g_str_equal(p[4], "resources") &&
		 p[5][0] == '\0' && g_str_equal(m, "POST"))
		fake_resource_post(cp, msg, req, p[3]);
	else if (n == 6 && g_str_equal(p[2], "kind") && g_str_equal(m, "PUT"))
		fake_resource_put(cp, msg, req, p[3], p[5]);
	else if (n == 6 && g_str_equal(p[2], "kind") && g_str_equal(m, "DELETE"))
		fake_resource_delete(cp, msg, p[3], p[5]);
	else if (n == 6 && g_str_equal(p[2], "node_verifiers") && g_str_equal(p[4], "actions") &&
		 g_str_equal(p[5], "verify") && g_str_equal(m, "GET"))
		fake_node_verify(cp, msg, req, p[3]);
	else {
		fake_violation(cp, "status api: no route for %s %s", m, req->path);
		fake_error(cp, msg, SOUP_STATUS_NOT_FOUND, "RecordNotFound", "no route");
	}
}

static void
fake_keep(GBytes **wire, gchar **nonce, GBytes *from_wire, const gchar *from_nonce)
{
	g_clear_pointer(wire, g_bytes_unref);
	*wire = from_wire != NULL ? g_bytes_ref(from_wire) : NULL;
	g_free(*nonce);
	*nonce = g_strdup(from_nonce);
}

/* What an eavesdropper replays: the recorded bytes and headers, verbatim. */
static void
fake_send_recorded(FakeCp *cp, SoupServerMessage *msg)
{
	SoupMessageHeaders *hdrs = soup_server_message_get_response_headers(msg);

	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_message_headers_replace(hdrs, EXM_ENVELOPE_HEADER_NONCE, cp->replay_nonce);
	soup_server_message_set_response(msg,
					 EXM_ENVELOPE_CONTENT_TYPE,
					 SOUP_MEMORY_COPY,
					 g_bytes_get_data(cp->replay_wire, NULL),
					 g_bytes_get_size(cp->replay_wire));
}

/* Upstream's get_payload(resource, hash="", version="0"): any other query
 * parameter is a keyword argument Python refuses, answered 500 TypeError
 * (`wait` too, unless the test plays this project's host). */
static gboolean
fake_payload_kwargs(FakeCp *cp, SoupServerMessage *msg, GHashTable *query)
{
	g_autoptr(GList) names = query != NULL ? g_hash_table_get_keys(query) : NULL;

	for (GList *l = names; l != NULL; l = l->next) {
		const gchar *name = l->data;
		g_autofree gchar *why = NULL;

		if (g_str_equal(name, "hash") || g_str_equal(name, "version") ||
		    (cp->accept_wait && g_str_equal(name, "wait")))
			continue;
		why = g_strdup_printf("UniversalAgentsController.get_payload() got an unexpected "
				      "keyword argument '%s'",
				      name);
		fake_error(cp, msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "TypeError", why);
		return FALSE;
	}
	return TRUE;
}

static void
fake_route_orch(FakeCp *cp,
		SoupServerMessage *msg,
		FakeRequest *req,
		GHashTable *query,
		gchar **p,
		guint n)
{
	const gchar *hash = query != NULL ? g_hash_table_lookup(query, "hash") : NULL;
	const gchar *version = query != NULL ? g_hash_table_lookup(query, "version") : NULL;
	const gchar *wait = query != NULL ? g_hash_table_lookup(query, "wait") : NULL;
	guint w = wait != NULL ? (guint)g_ascii_strtoull(wait, NULL, 10) : 0;
	gint64 v = version != NULL ? g_ascii_strtoll(version, NULL, 10) : 0;

	if (!(n == 6 && g_str_equal(p[2], "agents") && g_str_equal(p[4], "actions") &&
	      g_str_equal(p[5], "get_payload") && g_str_equal(req->method, "GET"))) {
		fake_violation(cp, "orch api: no route for %s %s", req->method, req->path);
		fake_error(cp, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "UnsupportedHttpMethod", "");
		return;
	}
	if (!cp->sealed && req->content_type != NULL)
		fake_violation(cp, "get_payload with Content-Type %s", req->content_type);
	if (!fake_payload_kwargs(cp, msg, query))
		return;
	if (cp->fail_n > 0) {
		cp->fail_n--;
		fake_error(cp, msg, cp->fail_status, "Injected", "injected failure");
		return;
	}
	if (cp->replay_n > 0) {
		cp->replay_n--;
		fake_send_recorded(cp, msg);
		return;
	}
	if (cp->ignore_wait)
		w = 0;
	g_clear_pointer(&cp->last_sealed, g_bytes_unref);
	if (!fake_answer_payload(cp, msg, p[3], hash != NULL ? hash : "", v, w > 0))
		fake_hold(cp, msg, p[3], hash != NULL ? hash : "", v, MIN(w, 10));
	else if (cp->last_sealed != NULL)
		fake_keep(&cp->payload_wire, &cp->payload_nonce, cp->last_sealed, cp->last_nonce);
}

/* Decodes the body (§6.3/§6.4); answers and returns %FALSE on a bad request. */
static gboolean
fake_decode(FakeCp *cp, SoupServerMessage *msg, FakeRequest *req)
{
	SoupMessageBody *mb = soup_server_message_get_request_body(msg);
	g_autoptr(GBytes) flat = soup_message_body_flatten(mb);
	gsize len = 0;
	const gchar *data = g_bytes_get_data(flat, &len);
	g_autoptr(GBytes) plain = NULL;
	g_autoptr(GError) error = NULL;

	if (req->node_header == NULL) {
		fake_violation(cp, "%s %s without X-Genesis-Node-UUID", req->method, req->path);
		fake_error(cp, msg, 500, "ValueError", "no node uuid");
		return FALSE;
	}
	if (cp->sealed) {
		if (g_strcmp0(req->content_type, EXM_ENVELOPE_CONTENT_TYPE) != 0) {
			fake_error(cp,
				   msg,
				   400,
				   "ValueError",
				   "Response content type should be encrypted");
			return FALSE;
		}
		plain = exm_envelope_open(cp->key, req->nonce_header, data, len, &error);
		if (plain == NULL) {
			fake_violation(cp, "cannot open the envelope: %s", error->message);
			fake_error(cp, msg, 400, "ParseBodyError", "envelope");
			return FALSE;
		}
		data = g_bytes_get_data(plain, &len);
	}
	if (len == 0)
		return TRUE;
	req->body = exm_json_parse_strict(data, len, &error);
	if (req->body == NULL) {
		fake_violation(cp, "%s %s: body is not JSON", req->method, req->path);
		fake_error(cp, msg, 400, "ParseBodyError", "json");
		return FALSE;
	}
	return TRUE;
}

static void
fake_finished(SoupServerMessage *msg, gpointer data)
{
	FakeCp *cp = data;
	guint seq = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(msg), "fake-seq"));

	for (guint i = 0; i < cp->log->len; i++) {
		FakeRequest *r = cp->log->pdata[i];
		if (r->seq == seq)
			r->status = soup_server_message_get_status(msg);
	}
}

static void
fake_handler(SoupServer *server,
	     SoupServerMessage *msg,
	     const char *path,
	     GHashTable *query,
	     gpointer user_data)
{
	FakeApi *api = user_data;
	FakeCp *cp = api->cp;
	SoupMessageHeaders *hdrs = soup_server_message_get_request_headers(msg);
	FakeRequest *req = g_new0(FakeRequest, 1);
	g_auto(GStrv) parts = g_strsplit(path, "/", -1);
	guint n = g_strv_length(parts);

	req->api = g_strdup(api->orch ? "orch" : "status");
	req->method = g_strdup(soup_server_message_get_method(msg));
	req->path = g_strdup(path);
	req->query = g_strdup(g_uri_get_query(soup_server_message_get_uri(msg)));
	req->content_type = g_strdup(soup_message_headers_get_one(hdrs, "Content-Type"));
	req->node_header =
		g_strdup(soup_message_headers_get_one(hdrs, EXM_ENVELOPE_HEADER_NODE_UUID));
	req->nonce_header = g_strdup(soup_message_headers_get_one(hdrs, EXM_ENVELOPE_HEADER_NONCE));
	req->seq = ++cp->seq;
	g_ptr_array_add(cp->log, req);
	/* held long polls are answered later: record the status when it is sent */
	g_object_set_data(G_OBJECT(msg), "fake-seq", GUINT_TO_POINTER(req->seq));
	g_signal_connect(msg, "finished", G_CALLBACK(fake_finished), cp);
	if (fake_decode(cp, msg, req)) {
		if (n < 3 || parts[0][0] != '\0' || !g_str_equal(parts[1], "v1"))
			fake_error(cp, msg, SOUP_STATUS_NOT_FOUND, "RecordNotFound", "no route");
		else if (api->orch)
			fake_route_orch(cp, msg, req, query, parts, n);
		else
			fake_route_status(cp, msg, req, parts, n);
	}
	req->status = soup_server_message_get_status(msg);
}

/* ---- life cycle ----------------------------------------------------------- */

static void
fake_api_listen(FakeApi *api)
{
	g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(lo, api->port);
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocketAddress) local = NULL;
	GSList *listeners;

	soup_server_listen(api->server, addr, 0, &error);
	g_assert_no_error(error);
	/* not soup_server_get_uris(): libsoup 3.2 leaks an address there */
	listeners = soup_server_get_listeners(api->server);
	g_assert_nonnull(listeners);
	local = g_socket_get_local_address(listeners->data, &error);
	g_assert_no_error(error);
	api->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
	g_slist_free(listeners);
}

static void
fake_api_init(FakeCp *cp, FakeApi *api, gboolean orch)
{
	api->cp = cp;
	api->orch = orch;
	api->server = soup_server_new(NULL, NULL);
	soup_server_add_handler(api->server, NULL, fake_handler, api, NULL);
	fake_api_listen(api);
}

FakeCp *
fake_cp_new(const gchar *key_b64)
{
	FakeCp *cp = g_new0(FakeCp, 1);
	g_autoptr(GError) error = NULL;

	cp->log = g_ptr_array_new_with_free_func(fake_request_free);
	cp->violations = g_ptr_array_new_with_free_func(g_free);
	cp->agents = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)json_object_unref);
	cp->targets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, fake_target_free);
	cp->actuals = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)json_object_unref);
	cp->held = g_ptr_array_new_with_free_func(fake_held_free);
	if (key_b64 != NULL) {
		cp->sealed = exm_envelope_key_from_base64(key_b64, cp->key, &error);
		g_assert_no_error(error);
	}
	fake_api_init(cp, &cp->orch, TRUE);
	fake_api_init(cp, &cp->status, FALSE);
	cp->orch_url = g_strdup_printf("http://127.0.0.1:%u", cp->orch.port);
	cp->status_url = g_strdup_printf("http://127.0.0.1:%u/", cp->status.port);
	return cp;
}

void
fake_cp_go_down(FakeCp *cp)
{
	fake_wake_held(cp, TRUE);
	soup_server_disconnect(cp->orch.server);
	soup_server_disconnect(cp->status.server);
}

void
fake_cp_come_up(FakeCp *cp)
{
	fake_api_listen(&cp->orch);
	fake_api_listen(&cp->status);
}

void
fake_cp_free(FakeCp *cp)
{
	if (cp == NULL)
		return;
	fake_wake_held(cp, TRUE);
	g_ptr_array_unref(cp->held);
	soup_server_disconnect(cp->orch.server);
	soup_server_disconnect(cp->status.server);
	g_object_unref(cp->orch.server);
	g_object_unref(cp->status.server);
	g_free(cp->orch_url);
	g_free(cp->status_url);
	g_ptr_array_unref(cp->log);
	g_ptr_array_unref(cp->violations);
	g_hash_table_unref(cp->agents);
	g_hash_table_unref(cp->targets);
	g_hash_table_unref(cp->actuals);
	g_clear_pointer(&cp->last_sealed, g_bytes_unref);
	g_clear_pointer(&cp->payload_wire, g_bytes_unref);
	g_clear_pointer(&cp->replay_wire, g_bytes_unref);
	g_free(cp->last_nonce);
	g_free(cp->payload_nonce);
	g_free(cp->replay_nonce);
	exm_secret_wipe(cp->key, sizeof(cp->key));
	g_free(cp);
}

const gchar *
fake_cp_orch_url(FakeCp *cp)
{
	return cp->orch_url;
}

const gchar *
fake_cp_status_url(FakeCp *cp)
{
	return cp->status_url;
}

GPtrArray *
fake_cp_log(FakeCp *cp)
{
	return cp->log;
}

void
fake_cp_clear_log(FakeCp *cp)
{
	g_ptr_array_set_size(cp->log, 0);
}

guint
fake_cp_count(FakeCp *cp, const gchar *method, const gchar *prefix)
{
	guint n = 0;

	for (guint i = 0; i < cp->log->len; i++) {
		FakeRequest *r = cp->log->pdata[i];
		n += g_str_equal(r->method, method) && g_str_has_prefix(r->path, prefix);
	}
	return n;
}

GPtrArray *
fake_cp_violations(FakeCp *cp)
{
	return cp->violations;
}

/* ---- state ---------------------------------------------------------------- */

void
fake_cp_add_agent(FakeCp *cp, const gchar *uuid, const gchar *node, const gchar *caps_json)
{
	g_autofree gchar *text =
		g_strdup_printf("{\"uuid\":\"%s\",\"name\":\"old\",\"description\":\"\","
				"\"capabilities\":{\"capabilities\":%s},\"facts\":{\"facts\":[]},"
				"\"node\":\"%s\",\"status\":\"ACTIVE\"}",
				uuid,
				caps_json,
				node);

	g_hash_table_insert(cp->agents, g_strdup(uuid), fake_parse_object(text));
}

void
fake_cp_forget_agent(FakeCp *cp, const gchar *uuid)
{
	g_hash_table_remove(cp->agents, uuid);
}

JsonObject *
fake_cp_get_agent(FakeCp *cp, const gchar *uuid)
{
	return g_hash_table_lookup(cp->agents, uuid);
}

/* restalchemy's simple view of a datetime: UTC, microseconds (§3); strictly
 * increasing, as a CP's clock is between two writes of one row. */
static gchar *
fake_now(void)
{
	static gint64 last;
	gint64 now = MAX(g_get_real_time(), last + 1);
	g_autoptr(GDateTime) sec = g_date_time_new_from_unix_utc(now / G_USEC_PER_SEC);
	g_autoptr(GDateTime) dt = g_date_time_add(sec, now % G_USEC_PER_SEC);

	last = now;
	return g_date_time_format(dt, "%Y-%m-%d %H:%M:%S.%f");
}

void
fake_cp_set_target(FakeCp *cp, const gchar *agent, const gchar *kind, const gchar *value_json)
{
	FakeTarget *t = g_new0(FakeTarget, 1);

	t->kind = g_strdup(kind);
	t->agent = g_strdup(agent);
	t->value = fake_parse_object(value_json);
	t->uuid = g_strdup(json_object_get_string_member(t->value, "uuid"));
	t->hash = fake_hash_object(t->value);
	t->updated_at = fake_now();
	g_hash_table_insert(cp->targets, g_strdup_printf("%s/%s", kind, t->uuid), t);
	fake_wake_held(cp, FALSE);
}

void
fake_cp_remove_target(FakeCp *cp, const gchar *kind, const gchar *uuid)
{
	g_autofree gchar *key = g_strdup_printf("%s/%s", kind, uuid);

	g_hash_table_remove(cp->targets, key);
	fake_wake_held(cp, FALSE);
}

void
fake_cp_add_actual(FakeCp *cp,
		   const gchar *kind,
		   const gchar *node,
		   const gchar *value_json,
		   const gchar *hash)
{
	JsonObject *value = fake_parse_object(value_json);
	JsonObject *row = json_object_new();
	const gchar *uuid = json_object_get_string_member(value, "uuid");
	g_autofree gchar *res_uuid = exm_uuid_v5(uuid, kind, NULL);
	g_autofree gchar *full = fake_hash_object(value);

	json_object_set_string_member(row, "uuid", uuid);
	json_object_set_string_member(row, "kind", kind);
	json_object_set_string_member(row, "res_uuid", res_uuid);
	json_object_set_string_member(row, "hash", hash);
	json_object_set_string_member(row, "full_hash", full);
	json_object_set_string_member(row, "status", "ACTIVE");
	json_object_set_string_member(row, "node", node);
	json_object_set_object_member(row, "value", value);
	g_hash_table_insert(cp->actuals, g_strdup_printf("%s/%s", kind, uuid), row);
}

JsonObject *
fake_cp_get_actual(FakeCp *cp, const gchar *kind, const gchar *uuid)
{
	g_autofree gchar *key = g_strdup_printf("%s/%s", kind, uuid);

	return g_hash_table_lookup(cp->actuals, key);
}

guint
fake_cp_n_actuals(FakeCp *cp)
{
	return g_hash_table_size(cp->actuals);
}

void
fake_cp_fail_next(FakeCp *cp, guint n, guint status)
{
	cp->fail_n = n;
	cp->fail_status = status;
}

void
fake_cp_accept_wait(FakeCp *cp, gboolean accept)
{
	cp->accept_wait = accept;
}

void
fake_cp_refuse_node(FakeCp *cp, gboolean refuse)
{
	cp->refuse_node = refuse;
}

void
fake_cp_ignore_wait(FakeCp *cp, gboolean ignore)
{
	cp->ignore_wait = ignore;
}

void
fake_cp_answer_plain(FakeCp *cp, gboolean plain)
{
	cp->answer_plain = plain;
}

void
fake_cp_answer_chunked(FakeCp *cp, gboolean chunked)
{
	cp->answer_chunked = chunked;
}

void
fake_cp_record_payload(FakeCp *cp)
{
	g_assert_nonnull(cp->payload_wire);
	fake_keep(&cp->replay_wire, &cp->replay_nonce, cp->payload_wire, cp->payload_nonce);
}

void
fake_cp_replay_payload(FakeCp *cp, guint n)
{
	g_assert_nonnull(cp->replay_wire);
	cp->replay_n = n;
}
