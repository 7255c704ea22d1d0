/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-ua-server.h"

#include <libsoup/soup.h>
#include <string.h>

#include "exh-host.h"
#include "exh-log.h"
#include "exh-metrics.h"
#include "exh-orch.h"
#include "exh-pool.h"
#include "exh-server.h"
#include "exh-status.h"
#include "exh-ua-cache.h"
#include "exh-ua-route.h"
#include "exh-ua-store.h"
#include "exm-cleanup.h"
#include "exm-envelope.h"
#include "exm-error.h"
#include "exm-json.h"
#include "exm-uuid.h"

#define QUEUE_PER_WORKER  64
#define SHUTDOWN_GRACE_MS 15000

typedef enum {
	API_ORCH,
	API_STATUS,
} Api;

struct _ExhUaServer {
	ExhUaServerConfig config;
	ExhPool *pool;
	GThread *thread;
	GMainContext *context;
	GMainLoop *loop;
	SoupServer *servers[2];
	ExhListener *listeners[2];
	gsize max_body[2]; /* per API: the Orch API's is the config's */
	guint ports[2];
	gchar *urls[2];
	ExhUaCache *cache;  /* server thread only, but for set_listening */
	GList *parked;	    /* Job*, server thread only */
	guint64 generation; /* server thread only: bumped by every wake */
	gboolean stopping;
	gint in_flight;	   /* atomic */
	gint served;	   /* atomic */
	gint light;	   /* atomic: answered from the cache */
	gboolean no_cache; /* EXH_UA_LIGHT_CACHE=off: the benchmark's comparison */
	GSource *shutdown_timer;
	gboolean started;

	GMutex lock;
	GCond cond;
	gboolean ready;
	GError *start_error;
};

/* set on a message whose client went away (exh_listener_set_gone_func()) */
#define gone_quark g_quark_from_static_string("exh-ua-gone")

/* One request from the handler to its response. */
typedef struct {
	ExhUaServer *server;
	Api api;
	SoupServerMessage *msg; /* ref */
	gint64 start;
	gint64 deadline; /* µs, monotonic; 0 until first parked */
	guint64 generation;
	GSource *timer;

	/* decoded request */
	gchar *method;
	gchar *raw_path;
	gchar **segments;
	GHashTable *query;
	gchar *content_type;
	gchar *node;
	gchar *nonce;
	GBytes *body;

	/* result, filled on the worker */
	guint status;
	GBytes *response;
	gboolean encrypted;
	gchar *response_nonce;
	gboolean changed;
	gboolean park;
	guint wait;
	guint64 cache_gen;	      /* exh_ua_cache_generation() as the worker began */
	gchar *cache_agent;	      /* with cache_entry: what the worker read… */
	ExhUaCacheEntry *cache_entry; /* …to keep in the cache (server thread) */
} Job;

static void
job_free(Job *job)
{
	g_clear_object(&job->msg);
	if (job->timer != NULL) {
		g_source_destroy(job->timer);
		g_source_unref(job->timer);
	}
	g_free(job->method);
	g_free(job->raw_path);
	g_strfreev(job->segments);
	g_clear_pointer(&job->query, g_hash_table_unref);
	g_free(job->content_type);
	g_free(job->node);
	g_free(job->nonce);
	g_clear_pointer(&job->body, g_bytes_unref);
	g_clear_pointer(&job->response, g_bytes_unref);
	g_free(job->response_nonce);
	g_free(job->cache_agent);
	exh_ua_cache_entry_free(job->cache_entry);
	g_free(job);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Job, job_free)

/* ------------------------------------------------------------- worker side */

static void
job_set_error(Job *job, const GError *error)
{
	g_autofree gchar *text = exm_error_body(error);
	gsize len = strlen(text);

	job->status = exm_error_http_status(error);
	g_clear_pointer(&job->response, g_bytes_unref);
	job->response = g_bytes_new_take(g_steal_pointer(&text), len);
	job->encrypted = FALSE;
	g_clear_pointer(&job->response_nonce, g_free);
}

/* §6.4: plain requests are refused while encryption is required; an encrypted
 * body is opened with the request nonce. */
static JsonNode *
job_open_body(Job *job, const ExhUaNodeKey *key, GError **error)
{
	gboolean sealed = g_strcmp0(job->content_type, EXM_ENVELOPE_CONTENT_TYPE) == 0;
	g_autoptr(GBytes) plain = NULL;
	gsize len = 0;
	const gchar *data;

	if (key->required && !sealed) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_VALIDATION,
				    "Response content type should be encrypted");
		return NULL;
	}
	if (job->body == NULL || g_bytes_get_size(job->body) == 0)
		return NULL;
	if (sealed) {
		data = g_bytes_get_data(job->body, &len);
		plain = exm_envelope_open(key->key, job->nonce, data, len, error);
		if (plain == NULL) {
			g_autoptr(GError) inner = g_steal_pointer(error);
			g_set_error(error,
				    EXM_ERROR,
				    EXM_ERROR_PARSE_BODY,
				    "Can't decrypt the request body: %s",
				    inner->message);
			return NULL;
		}
	} else {
		plain = g_bytes_ref(job->body);
	}
	data = g_bytes_get_data(plain, &len);
	return exm_json_parse_strict(data, len, error);
}

/* §6.5: a successful response is sealed with a fresh nonce while encryption is required. */
static gboolean
job_encode(Job *job, const ExhUaNodeKey *key, guint status, JsonNode *body, GError **error)
{
	g_autofree gchar *text = body != NULL ? exm_json_to_string(body) : NULL;

	job->status = status;
	job->encrypted = key->required;
	if (text == NULL && key->required) {
		/* a 204 carries a fresh X-Genesis-Nonce too, as upstream's */
		guint8 nonce[EXM_ENVELOPE_NONCE_LEN];

		if (!exm_envelope_nonce_new(nonce, error))
			return FALSE;
		job->response_nonce = exm_envelope_nonce_to_base64(nonce);
		return TRUE;
	}
	if (text == NULL)
		return TRUE;
	if (job->api == API_ORCH && strlen(text) > EXH_UA_MAX_PAYLOAD) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_FAILED,
			    "an answer of %zu bytes is over the %d an agent accepts",
			    strlen(text),
			    EXH_UA_MAX_PAYLOAD);
		return FALSE;
	}
	if (!key->required) {
		gsize len = strlen(text);
		job->response = g_bytes_new_take(g_steal_pointer(&text), len);
		return TRUE;
	}
	job->response =
		exm_envelope_seal(key->key, text, strlen(text), &job->response_nonce, error);
	return job->response != NULL;
}

/* The node key is a secret: wiped (in a way the compiler keeps) on scope exit. */
static void
node_key_wipe(ExhUaNodeKey *key)
{
	exm_secret_wipe(key, sizeof(*key));
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ExhUaNodeKey, node_key_wipe)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ExhUaResult, exh_ua_route_result_clear)

/* Opens the request with the node's key, serves it and seals the answer. */
static gboolean
job_serve(Job *job, PGconn *conn, GError **error)
{
	g_auto(ExhUaNodeKey) key = { 0 };
	g_auto(ExhUaResult) result = { 0 };
	ExhUaCall call = { .node = job->node,
			   .method = job->method,
			   .segments = job->segments,
			   .query = job->query,
			   .content_type = job->content_type };
	g_autoptr(GError) local = NULL;
	g_autoptr(JsonNode) body = NULL;

	if (!exh_ua_store_node_key(conn, job->node, &key, error))
		return FALSE;
	body = job_open_body(job, &key, &local);
	if (local != NULL) {
		g_propagate_error(error, g_steal_pointer(&local));
		return FALSE;
	}
	call.body = body;
	if (job->api == API_ORCH)
		exh_orch_serve(conn, &call, &result);
	else
		exh_status_serve(conn, &call, &result);
	if (result.error != NULL) {
		g_propagate_error(error, g_steal_pointer(&result.error));
		return FALSE;
	}
	job->changed = result.changed;
	job->park = result.park;
	job->wait = result.wait;
	if (!job_encode(job, &key, result.status, result.body, error))
		return FALSE;
	/* only what is answered sealed is kept: plain answers depend on the clock */
	if (result.payload_hash != NULL && key.required) {
		job->cache_entry = exh_ua_cache_entry_new(
			job->node, result.payload_hash, &key, job->cache_gen);
		job->cache_agent = g_steal_pointer(&result.payload_agent);
	}
	return TRUE;
}

static guint
job_tx(PGconn *conn, gpointer data)
{
	Job *job = data;
	g_autoptr(GError) error = NULL;

	job->park = FALSE;
	/* before any read: a write committed after this is a newer generation */
	job->cache_gen = exh_ua_cache_generation();
	g_clear_pointer(&job->cache_entry, exh_ua_cache_entry_free);
	g_clear_pointer(&job->cache_agent, g_free);
	g_clear_pointer(&job->response, g_bytes_unref);
	g_clear_pointer(&job->response_nonce, g_free);
	if (!job_serve(job, conn, &error))
		job_set_error(job, error);
	return job->status;
}

static gboolean job_finish(gpointer data);

static void
job_done(gpointer data, const GError *error)
{
	Job *job = data;

	if (error != NULL) {
		job_set_error(job, error);
		g_clear_pointer(&job->cache_entry, exh_ua_cache_entry_free);
	}
	g_main_context_invoke(job->server->context, job_finish, job);
}

/* ------------------------------------------------------------- server side */

static void
job_respond(Job *job)
{
	SoupMessageHeaders *headers = soup_server_message_get_response_headers(job->msg);

	soup_server_message_set_status(job->msg, job->status, NULL);
	if (job->encrypted) {
		soup_message_headers_replace(headers, "Content-Type", EXM_ENVELOPE_CONTENT_TYPE);
		soup_message_headers_replace(headers, EXM_ENVELOPE_HEADER_NODE_UUID, job->node);
		/* a 204 carries the headers (a nonce too) but no body to open */
		if (job->response_nonce != NULL)
			soup_message_headers_replace(
				headers, EXM_ENVELOPE_HEADER_NONCE, job->response_nonce);
	} else if (job->response != NULL) {
		soup_message_headers_set_content_type(headers, "application/json", NULL);
	}
	if (job->response != NULL)
		soup_message_body_append_bytes(soup_server_message_get_response_body(job->msg),
					       job->response);
	if (job->server->stopping)
		soup_message_headers_replace(headers, "Connection", "close");
	g_atomic_int_inc(&job->server->served);
	exh_log_request(
		NULL, job->method, job->raw_path, job->status, g_get_monotonic_time() - job->start);
	exh_metrics_observe_request(job->api == API_ORCH ? "orch" : "status",
				    job->method,
				    job->raw_path,
				    job->status,
				    g_get_monotonic_time() - job->start);
}

static gboolean
job_push(Job *job)
{
	g_autoptr(GError) error = NULL;

	job->generation = job->server->generation;
	if (exh_pool_push(job->server->pool, job_tx, job_done, job, &error))
		return TRUE;
	job_set_error(job, error);
	return FALSE;
}

/* Answers a paused job and frees it. */
static void
job_complete(Job *job)
{
	job_respond(job);
	soup_server_message_unpause(job->msg);
	job_free(job);
}

static gboolean
park_timeout(gpointer data)
{
	Job *job = data;

	job->server->parked = g_list_remove(job->server->parked, job);
	g_clear_pointer(&job->timer, g_source_unref);
	job_complete(job);
	return G_SOURCE_REMOVE;
}

/* A light payload with time left: wait for a wake (or answer at the deadline). */
static void
job_park(Job *job)
{
	ExhUaServer *server = job->server;
	gint64 left = job->deadline - g_get_monotonic_time();

	job->timer = g_timeout_source_new((guint)MAX(left / 1000, 1));
	g_source_set_callback(job->timer, park_timeout, job, NULL);
	g_source_attach(job->timer, server->context);
	server->parked = g_list_prepend(server->parked, job);
}

static void wake_parked(ExhUaServer *server);

static gboolean
job_finish(gpointer data)
{
	Job *job = data;
	ExhUaServer *server = job->server;
	gboolean gone = g_object_get_qdata(G_OBJECT(job->msg), gone_quark) != NULL;

	if (job->cache_entry != NULL)
		exh_ua_cache_put(
			server->cache, job->cache_agent, g_steal_pointer(&job->cache_entry));
	if (job->park && !server->stopping && !gone) {
		if (job->deadline == 0)
			job->deadline = job->start + (gint64)job->wait * G_USEC_PER_SEC;
		if (g_get_monotonic_time() < job->deadline) {
			/* a wake that came while it ran means: compute again */
			if (job->generation != server->generation) {
				if (!job_push(job))
					job_complete(job);
			} else {
				job_park(job);
			}
			return G_SOURCE_REMOVE;
		}
	}
	if (job->changed)
		wake_parked(server);
	job_complete(job);
	return G_SOURCE_REMOVE;
}

static void
wake_parked(ExhUaServer *server)
{
	GList *parked = g_steal_pointer(&server->parked);

	exh_ua_cache_invalidate();
	server->generation++;
	for (GList *l = parked; l != NULL; l = l->next) {
		Job *job = l->data;

		g_source_destroy(job->timer);
		g_clear_pointer(&job->timer, g_source_unref);
		if (!job_push(job))
			job_complete(job);
	}
	g_list_free(parked);
}

static gboolean
wake_in_context(gpointer data)
{
	wake_parked(data);
	return G_SOURCE_REMOVE;
}

void
exh_ua_server_wake(ExhUaServer *server)
{
	/* now, not when the loop gets to it: no light answer from before the change */
	exh_ua_cache_invalidate();
	if (server->context != NULL && server->started)
		g_main_context_invoke(server->context, wake_in_context, server);
}

void
exh_ua_server_set_listening(ExhUaServer *server, gboolean listening)
{
	exh_ua_cache_set_listening(server->cache, listening && !server->no_cache);
}

guint64
exh_ua_server_get_light_served(ExhUaServer *server)
{
	return (guint64)g_atomic_int_get(&server->light);
}

static void
finish_shutdown(ExhUaServer *server)
{
	if (server->shutdown_timer != NULL) {
		g_source_destroy(server->shutdown_timer);
		g_clear_pointer(&server->shutdown_timer, g_source_unref);
	}
	for (guint i = 0; i < G_N_ELEMENTS(server->servers); i++) {
		exh_listener_close(server->listeners[i]);
		soup_server_disconnect(server->servers[i]);
	}
	g_main_loop_quit(server->loop);
}

static void
message_finished(SoupServerMessage *msg, gpointer user_data)
{
	ExhUaServer *server = user_data;

	if (g_atomic_int_dec_and_test(&server->in_flight) && server->stopping)
		finish_shutdown(server);
}

/* Decoded query, last value of a repeated key wins (as with webob's GET dict). */
static GHashTable *
parse_query(const gchar *q)
{
	GHashTable *table = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

	while (q != NULL && *q != '\0') {
		const gchar *end = strchr(q, '&');
		g_autofree gchar *pair = g_strndup(q, end != NULL ? (gsize)(end - q) : strlen(q));
		gchar *eq = strchr(pair, '=');
		gchar *key;
		gchar *value;

		g_strdelimit(pair, "+", ' ');
		if (eq != NULL)
			*eq = '\0';
		key = g_uri_unescape_string(pair, NULL);
		value = g_uri_unescape_string(eq != NULL ? eq + 1 : "", NULL);
		if (key != NULL && value != NULL && g_utf8_validate(key, -1, NULL) &&
		    g_utf8_validate(value, -1, NULL))
			g_hash_table_replace(table, g_steal_pointer(&key), g_steal_pointer(&value));
		g_free(key);
		g_free(value);
		q = end != NULL ? end + 1 : NULL;
	}
	return table;
}

static Job *
job_new(ExhUaServer *server, Api api, SoupServerMessage *msg)
{
	Job *job = g_new0(Job, 1);
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
	GUri *uri = soup_server_message_get_uri(msg);
	const gchar *type = soup_message_headers_get_content_type(headers, NULL);
	SoupMessageBody *body = soup_server_message_get_request_body(msg);
	g_autofree gchar *path = g_uri_unescape_string(g_uri_get_path(uri), "/");

	job->server = server;
	job->api = api;
	job->msg = g_object_ref(msg);
	job->start = g_get_monotonic_time();
	job->method = g_strdup(soup_server_message_get_method(msg));
	job->raw_path = g_strdup(g_uri_get_path(uri));
	job->segments = g_strsplit(path != NULL ? path : "", "/", -1);
	job->query = parse_query(g_uri_get_query(uri));
	job->content_type = g_strdup(type);
	job->node = g_strdup(soup_message_headers_get_one(headers, EXM_ENVELOPE_HEADER_NODE_UUID));
	job->nonce = g_strdup(soup_message_headers_get_one(headers, EXM_ENVELOPE_HEADER_NONCE));
	/* past the limit the body was dropped, not kept: nothing to flatten */
	if (body != NULL && body->length > 0 && !exh_server_body_too_large(msg))
		job->body = soup_message_body_flatten(body);
	return job;
}

/* What can be refused before any database work. */
static gboolean
job_precheck(Job *job, GError **error)
{
	g_autofree gchar *node = NULL;

	if (job->server->stopping) {
		g_set_error_literal(
			error, EXM_ERROR, EXM_ERROR_UNAVAILABLE, "The server is shutting down.");
		return FALSE;
	}
	if (exh_server_body_too_large(job->msg))
		return exh_server_too_large(job->server->max_body[job->api], error);
	/* the SDK middleware: uuid.UUID(None) raises, which is a 500 */
	node = job->node != NULL ? exm_uuid_parse(job->node, NULL) : NULL;
	if (node == NULL) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_FAILED,
				    "missing or invalid X-Genesis-Node-UUID header");
		return FALSE;
	}
	g_free(job->node);
	job->node = g_steal_pointer(&node);
	return TRUE;
}

/* A sealed body (the agent's `null` of a bodiless request, §6.3) opens with
 * the node's key, as the worker would open it: it proves the key. */
static gboolean
job_body_opens(Job *job, const ExhUaNodeKey *key)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) body = NULL;

	if (job->body == NULL)
		return TRUE;
	body = job_open_body(job, key, &error);
	return body != NULL || error == NULL; /* an empty body opens as nothing */
}

/*
 * The light-poll fast path (docs/scale.md §4): a get_payload whose agent's
 * payload hash the cache still holds gets its light answer here, sealed with
 * the node's key the cache holds too, as the worker would have answered it.
 * Only a sealed request qualifies, whose body (if any) opens with that key;
 * anything else, a miss included, goes to the worker to answer.
 */
static gboolean
job_light(Job *job)
{
	g_auto(ExhUaNodeKey) key = { 0 };
	ExhUaCall call = { .node = job->node,
			   .method = job->method,
			   .segments = job->segments,
			   .query = job->query,
			   .content_type = job->content_type };
	g_autofree gchar *agent = NULL;
	g_autoptr(JsonNode) body = NULL;
	const gchar *hash = NULL;
	gint64 version = 0;
	guint wait = 0;

	if (job->api != API_ORCH || g_strcmp0(job->content_type, EXM_ENVELOPE_CONTENT_TYPE) != 0 ||
	    !exh_orch_light_request(&call, &agent, &hash, &version, &wait) ||
	    !exh_ua_cache_lookup(job->server->cache, agent, job->node, hash, &key) ||
	    !job_body_opens(job, &key))
		return FALSE;
	body = exh_ua_store_light_payload(hash, version);
	if (!job_encode(job, &key, 200, body, NULL))
		return FALSE;
	exh_metrics_agent_polled(job->node);
	g_atomic_int_inc(&job->server->light);
	job->park = wait > 0;
	job->wait = wait;
	job->generation = job->server->generation;
	return TRUE;
}

/* Pauses @msg until job_finish() answers it. */
static void
job_pause(Job *job)
{
	g_atomic_int_inc(&job->server->in_flight);
	g_signal_connect(job->msg, "finished", G_CALLBACK(message_finished), job->server);
	soup_server_message_pause(job->msg);
}

static void
handle(ExhUaServer *server, Api api, SoupServerMessage *msg)
{
	g_autoptr(Job) job = job_new(server, api, msg);
	g_autoptr(GError) error = NULL;

	if (job_precheck(job, &error) && job_light(job)) {
		if (!job->park) {
			job_respond(job);
			return;
		}
		job_pause(job);
		job_finish(g_steal_pointer(&job)); /* parks it */
		return;
	}
	if (error != NULL || !job_push(job)) {
		if (error != NULL)
			job_set_error(job, error);
		job_respond(job);
		return;
	}
	job_pause(job);
	g_steal_pointer(&job); /* the pool owns it until job_finish */
}

/* A declared oversize body is refused before it is read into memory (a chunked
 * one is dropped as it arrives, exh_server_limit_body(), and refused in handle()). */
static void
// cppcheck-suppress constParameter ; the signature is libsoup's SoupServerCallback
early_handler(SoupServer *s, SoupServerMessage *msg, const char *p, GHashTable *q, gpointer data)
{
	ExhUaServer *server = data;
	gsize max_body = server->max_body[s == server->servers[API_ORCH] ? API_ORCH : API_STATUS];
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	gsize len;

	if (!exh_server_body_declared_too_large(msg, max_body))
		return;
	exh_server_too_large(max_body, &error);
	text = exm_error_body(error);
	len = strlen(text);
	soup_server_message_set_response(
		msg, "application/json", SOUP_MEMORY_TAKE, g_steal_pointer(&text), len);
	soup_server_message_set_status(msg, exm_error_http_status(error), NULL);
	soup_message_headers_replace(
		soup_server_message_get_response_headers(msg), "Connection", "close");
}

static void
orch_handler(SoupServer *s, SoupServerMessage *msg, const char *p, GHashTable *q, gpointer data)
{
	handle(data, API_ORCH, msg);
}

static void
status_handler(SoupServer *s, SoupServerMessage *msg, const char *p, GHashTable *q, gpointer data)
{
	handle(data, API_STATUS, msg);
}

/* ------------------------------------------------------------- thread */

/* The client of a request still being served went away: a parked long poll is
 * answered (into the closed connection) now, a running one once it is back. */
static void
client_gone(SoupServerMessage *msg, gpointer data)
{
	ExhUaServer *server = data;

	g_object_set_qdata(G_OBJECT(msg), gone_quark, GINT_TO_POINTER(1));
	for (GList *l = server->parked; l != NULL; l = l->next) {
		Job *job = l->data;

		if (job->msg != msg)
			continue;
		server->parked = g_list_delete_link(server->parked, l);
		g_source_destroy(job->timer);
		g_clear_pointer(&job->timer, g_source_unref);
		job_complete(job);
		return;
	}
}

static const gchar *const api_names[] = { [API_ORCH] = "Orch API", [API_STATUS] = "Status API" };

static gboolean
listen_one(ExhUaServer *server, guint i, GError **error)
{
	g_autoptr(GInetAddress) address =
		exh_host_config_parse_listen(server->config.listen_address, error);
	g_autoptr(GSocketAddress) sockaddr = NULL;
	guint port = i == API_ORCH ? server->config.orch_port : server->config.status_port;

	if (address == NULL)
		return FALSE;
	server->servers[i] = soup_server_new(NULL, NULL);
	exh_server_limit_body(server->servers[i], &server->max_body[i]);
	soup_server_add_early_handler(server->servers[i], NULL, early_handler, server, NULL);
	soup_server_add_handler(server->servers[i],
				NULL,
				i == API_ORCH ? orch_handler : status_handler,
				server,
				NULL);
	server->listeners[i] =
		exh_listener_new(server->servers[i], api_names[i], &server->config.connections);
	exh_listener_set_gone_func(server->listeners[i], client_gone, server);
	/* an agent's connection waits 3 s between two polls (docs/scale.md §4) */
	exh_listener_set_park_idle(server->listeners[i], TRUE);
	sockaddr = g_inet_socket_address_new(address, (guint16)port);
	server->ports[i] = exh_listener_listen(server->listeners[i], sockaddr, error);
	if (server->ports[i] == 0)
		return FALSE;
	server->urls[i] =
		g_strdup_printf("http://%s:%u", server->config.listen_address, server->ports[i]);
	return TRUE;
}

static gpointer
server_thread(gpointer data)
{
	ExhUaServer *server = data;
	GError *error = NULL;
	gboolean ok;

	g_main_context_push_thread_default(server->context);
	ok = listen_one(server, API_ORCH, &error) && listen_one(server, API_STATUS, &error);
	g_mutex_lock(&server->lock);
	server->ready = TRUE;
	server->start_error = error;
	g_cond_signal(&server->cond);
	g_mutex_unlock(&server->lock);
	if (ok)
		g_main_loop_run(server->loop);
	g_main_context_pop_thread_default(server->context);
	return NULL;
}

ExhUaServer *
exh_ua_server_new(const ExhUaServerConfig *config, GError **error)
{
	ExhUaServer *server;

	if (config->conninfo == NULL || config->workers == 0 || config->listen_address == NULL) {
		g_set_error_literal(error,
				    EXH_ERROR,
				    EXH_ERROR_CONFIG,
				    "the agent API needs a conninfo, an address and workers");
		return NULL;
	}
	server = g_new0(ExhUaServer, 1);
	server->config = *config;
	server->config.listen_address = g_strdup(config->listen_address);
	server->config.conninfo = g_strdup(config->conninfo);
	if (server->config.max_body == 0)
		server->config.max_body = EXH_DEFAULT_MAX_BODY;
	server->max_body[API_ORCH] = server->config.max_body;
	server->max_body[API_STATUS] = exh_ua_server_status_max_body(server->config.max_body);
	server->cache = exh_ua_cache_new();
	server->no_cache = g_strcmp0(g_getenv("EXH_UA_LIGHT_CACHE"), "off") == 0;
	g_mutex_init(&server->lock);
	g_cond_init(&server->cond);
	return server;
}

gboolean
exh_ua_server_start(ExhUaServer *server, GError **error)
{
	g_return_val_if_fail(!server->started, FALSE);
	server->pool = exh_pool_new(server->config.conninfo,
				    server->config.workers,
				    server->config.max_queued > 0
					    ? server->config.max_queued
					    : server->config.workers * QUEUE_PER_WORKER,
				    error);
	if (server->pool == NULL)
		return FALSE;
	server->context = g_main_context_new();
	server->loop = g_main_loop_new(server->context, FALSE);
	server->thread = g_thread_new("exh-ua", server_thread, server);
	g_mutex_lock(&server->lock);
	while (!server->ready)
		g_cond_wait(&server->cond, &server->lock);
	g_mutex_unlock(&server->lock);
	if (server->start_error != NULL) {
		g_propagate_error(error, g_steal_pointer(&server->start_error));
		g_thread_join(g_steal_pointer(&server->thread));
		return FALSE;
	}
	server->started = TRUE;
	exh_log(G_LOG_LEVEL_INFO,
		NULL,
		"orch API on %s, status API on %s",
		server->urls[API_ORCH],
		server->urls[API_STATUS]);
	return TRUE;
}

guint
exh_ua_server_get_orch_port(ExhUaServer *server)
{
	return server->ports[API_ORCH];
}

guint
exh_ua_server_get_status_port(ExhUaServer *server)
{
	return server->ports[API_STATUS];
}

const gchar *
exh_ua_server_get_orch_url(ExhUaServer *server)
{
	return server->urls[API_ORCH];
}

const gchar *
exh_ua_server_get_status_url(ExhUaServer *server)
{
	return server->urls[API_STATUS];
}

gsize
exh_ua_server_status_max_body(gsize max_body)
{
	return MAX(max_body, (gsize)EXH_UA_MAX_PAYLOAD + EXH_UA_BODY_SLACK);
}

ExhPool *
exh_ua_server_get_pool(ExhUaServer *server)
{
	return server->pool;
}

void
exh_ua_server_get_connections(ExhUaServer *server, guint *out_open, guint64 *out_refused)
{
	guint open = 0;
	guint64 refused = 0;

	for (guint i = 0; i < G_N_ELEMENTS(server->listeners); i++) {
		if (server->listeners[i] == NULL)
			continue;
		open += exh_listener_get_open(server->listeners[i]);
		refused += exh_listener_get_refused(server->listeners[i]);
	}
	if (out_open != NULL)
		*out_open = open;
	if (out_refused != NULL)
		*out_refused = refused;
}

guint64
exh_ua_server_get_served(ExhUaServer *server)
{
	return (guint64)g_atomic_int_get(&server->served);
}

static gboolean
shutdown_timeout(gpointer data)
{
	finish_shutdown(data);
	return G_SOURCE_REMOVE;
}

static gboolean
begin_shutdown(gpointer data)
{
	ExhUaServer *server = data;
	GList *parked = g_steal_pointer(&server->parked);

	server->stopping = TRUE;
	for (GList *l = parked; l != NULL; l = l->next)
		job_complete(l->data); /* its light payload, now */
	g_list_free(parked);
	if (g_atomic_int_get(&server->in_flight) == 0) {
		finish_shutdown(server);
		return G_SOURCE_REMOVE;
	}
	server->shutdown_timer = g_timeout_source_new(SHUTDOWN_GRACE_MS);
	g_source_set_callback(server->shutdown_timer, shutdown_timeout, server, NULL);
	g_source_attach(server->shutdown_timer, server->context);
	return G_SOURCE_REMOVE;
}

void
exh_ua_server_stop(ExhUaServer *server)
{
	if (!server->started)
		return;
	server->started = FALSE;
	g_main_context_invoke(server->context, begin_shutdown, server);
	g_thread_join(g_steal_pointer(&server->thread));
	g_clear_pointer(&server->pool, exh_pool_free);
	/* hand-backs that arrived after the loop quit, then the servers */
	g_main_context_push_thread_default(server->context);
	while (g_main_context_iteration(server->context, FALSE))
		;
	for (guint i = 0; i < G_N_ELEMENTS(server->servers); i++) {
		exh_listener_close(server->listeners[i]);
		g_clear_object(&server->servers[i]);
	}
	while (g_main_context_iteration(server->context, FALSE))
		;
	for (guint i = 0; i < G_N_ELEMENTS(server->listeners); i++)
		g_clear_pointer(&server->listeners[i], exh_listener_free);
	g_main_context_pop_thread_default(server->context);
}

void
exh_ua_server_free(ExhUaServer *server)
{
	if (server == NULL)
		return;
	exh_ua_server_stop(server);
	if (server->thread != NULL)
		g_thread_join(server->thread);
	g_clear_pointer(&server->pool, exh_pool_free);
	for (guint i = 0; i < G_N_ELEMENTS(server->servers); i++) {
		g_clear_pointer(&server->listeners[i], exh_listener_free);
		g_clear_object(&server->servers[i]);
	}
	g_clear_pointer(&server->loop, g_main_loop_unref);
	g_clear_pointer(&server->context, g_main_context_unref);
	g_clear_error(&server->start_error);
	g_clear_pointer(&server->cache, exh_ua_cache_free);
	for (guint i = 0; i < G_N_ELEMENTS(server->urls); i++)
		g_free(server->urls[i]);
	g_free(server->config.listen_address);
	g_free(server->config.conninfo);
	g_mutex_clear(&server->lock);
	g_cond_clear(&server->cond);
	g_free(server);
}
