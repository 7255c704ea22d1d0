/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The user API listener.  A dedicated thread owns a GMainContext, the
 * SoupServer and every libsoup object (libsoup 3 is not thread-safe).
 * Requests for a plugin's subtree are paused, run on the worker pool and
 * handed back to that context with g_main_context_invoke(), where the
 * response is set and the message unpaused.
 */
#include "exh-host-private.h"

#include "exh-log.h"
#include "exh-metrics.h"
#include "exh-server.h"
#include "exm-cleanup.h"
#include "exm-error.h"
#include "exm-json.h"
#include "exm-rest.h"
#include "exm-uuid.h"

#include <string.h>

#define SHUTDOWN_GRACE_MS 30000

/* per-message data: bytes of body seen so far, and the too-large mark */
#define body_size_quark g_quark_from_static_string("exh-body-size")
#define too_large_quark g_quark_from_static_string("exh-too-large")
/* set once libsoup is done with a message (written, or its connection gone) */
#define finished_quark g_quark_from_static_string("exh-finished")

/* One request from the handler to its response. */
typedef struct {
	ExhHost *host;
	SoupServerMessage *msg; /* ref */
	gchar *request_id;
	gchar *method;
	gchar *raw_path;
	gint64 start;
	gboolean held;	       /* paused, counted in flight, watched (hold()) */
	gboolean pooled;       /* owned by the worker pool until dispatch_finish */
	gboolean authed;       /* the IAM has answered */
	gchar *path;	       /* unescaped, kept while the IAM answers */
	ExhIdentity *identity; /* ref */

	/* a plugin dispatch */
	ExhPlugin *plugin; /* a reference: never unloaded while in use */
	gchar *sub_path;
	GArray *query; /* ExordosPaasQueryParam, strings in query_strings */
	GPtrArray *query_strings;
	gchar *content_type;
	GBytes *body;
	gchar *base_url;

	/* its result, filled on the worker */
	guint status;
	GBytes *response;
	GPtrArray *headers; /* name, value, … */
} ExhRequest;

/*
 * A request body may carry a plaintext `password`.  @req->body is the copy
 * soup_message_body_flatten() made (libsoup keeps a ref as the body's data);
 * it is wiped here, once the plugin has answered.  libsoup's chunks are wiped
 * in wipe_soup_chunks() as soon as the copy is made.
 */
static void
request_wipe_body(ExhRequest *req)
{
	gsize len = 0;
	gconstpointer data;

	if (req->body == NULL)
		return;
	data = g_bytes_get_data(req->body, &len);
	exm_secret_wipe((gpointer)data, len);
	g_clear_pointer(&req->body, g_bytes_unref);
}

static void
request_free(ExhRequest *req)
{
	request_wipe_body(req);
	g_clear_pointer(&req->identity, exh_identity_unref);
	g_clear_pointer(&req->plugin, exh_plugin_free);
	g_free(req->path);
	g_clear_object(&req->msg);
	g_free(req->request_id);
	g_free(req->method);
	g_free(req->raw_path);
	g_free(req->sub_path);
	g_clear_pointer(&req->query, g_array_unref);
	g_clear_pointer(&req->query_strings, g_ptr_array_unref);
	g_free(req->content_type);
	g_free(req->base_url);
	g_clear_pointer(&req->response, g_bytes_unref);
	g_clear_pointer(&req->headers, g_ptr_array_unref);
	g_free(req);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhRequest, request_free)

static ExhRequest *
request_new(ExhHost *host, SoupServerMessage *msg)
{
	ExhRequest *req = g_new0(ExhRequest, 1);
	guint n = (guint)g_atomic_int_add(&host->request_counter, 1) + 1;

	req->host = host;
	req->msg = g_object_ref(msg);
	req->request_id = g_strdup_printf("%u-%u", host->port, n);
	req->method = g_strdup(soup_server_message_get_method(msg));
	req->raw_path = g_strdup(g_uri_get_path(soup_server_message_get_uri(msg)));
	req->start = g_get_monotonic_time();
	req->headers = g_ptr_array_new_with_free_func(g_free);
	return req;
}

/* ------------------------------------------------------------- responses */

static void
respond(ExhRequest *req, guint status, GBytes *body)
{
	SoupMessageHeaders *headers = soup_server_message_get_response_headers(req->msg);

	soup_server_message_set_status(req->msg, status, NULL);
	for (guint i = 0; i + 1 < req->headers->len; i += 2)
		soup_message_headers_append(
			headers, req->headers->pdata[i], req->headers->pdata[i + 1]);
	if (body != NULL) {
		soup_message_headers_set_content_type(headers, "application/json", NULL);
		soup_message_body_append_bytes(soup_server_message_get_response_body(req->msg),
					       body);
	}
	if (req->host->stopping)
		soup_message_headers_replace(headers, "Connection", "close");
	g_atomic_int_inc(&req->host->served);
	exh_log_request(req->request_id,
			req->method,
			req->raw_path,
			status,
			g_get_monotonic_time() - req->start);
	exh_metrics_observe_request(
		"user", req->method, req->raw_path, status, g_get_monotonic_time() - req->start);
}

static void
respond_json(ExhRequest *req, guint status, JsonNode *node)
{
	g_autofree gchar *text = exm_json_to_string(node);
	gsize len = strlen(text);
	g_autoptr(GBytes) body = g_bytes_new_take(g_steal_pointer(&text), len);

	respond(req, status, body);
}

static void
respond_error(ExhRequest *req, const GError *error)
{
	g_autofree gchar *text = exm_error_body(error);
	gsize len = strlen(text);
	g_autoptr(GBytes) body = g_bytes_new_take(g_steal_pointer(&text), len);

	g_ptr_array_set_size(req->headers, 0);
	respond(req, exm_error_http_status(error), body);
}

static void
respond_method_not_allowed(ExhRequest *req, const gchar *name)
{
	g_autoptr(GError) error = g_error_new(EXM_ERROR,
					      EXM_ERROR_METHOD_NOT_ALLOWED,
					      "HTTP method '%s' is not supported.",
					      name);

	respond_error(req, error);
}

/* ------------------------------------------------------------- body limit */

static void
mark_too_large(SoupServerMessage *msg)
{
	g_object_set_qdata(G_OBJECT(msg), too_large_quark, GINT_TO_POINTER(1));
	/* keep reading (the connection must stay in sync) but stop buffering */
	soup_message_body_set_accumulate(soup_server_message_get_request_body(msg), FALSE);
}

static void
got_chunk(SoupServerMessage *msg, GBytes *chunk, gpointer user_data)
{
	const gsize *max_body = user_data;
	gsize size = GPOINTER_TO_SIZE(g_object_get_qdata(G_OBJECT(msg), body_size_quark));

	size += g_bytes_get_size(chunk);
	g_object_set_qdata(G_OBJECT(msg), body_size_quark, GSIZE_TO_POINTER(size));
	if (size > *max_body)
		mark_too_large(msg);
}

static void
request_started(SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
	g_signal_connect(msg, "got-chunk", G_CALLBACK(got_chunk), user_data);
}

void
exh_server_limit_body(SoupServer *server, const gsize *max_body)
{
	g_signal_connect(
		server, "request-started", G_CALLBACK(request_started), (gpointer)max_body);
}

gboolean
exh_server_body_declared_too_large(SoupServerMessage *msg, gsize max_body)
{
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);

	if (soup_message_headers_get_encoding(headers) != SOUP_ENCODING_CONTENT_LENGTH ||
	    (guint64)soup_message_headers_get_content_length(headers) <= max_body)
		return FALSE;
	mark_too_large(msg);
	return TRUE;
}

gboolean
exh_server_body_too_large(SoupServerMessage *msg)
{
	return g_object_get_qdata(G_OBJECT(msg), too_large_quark) != NULL;
}

/*
 * Refuses a declared oversize body before it is read into memory.  Answering
 * here (a status set in an early handler) also spares a client that sent
 * `Expect: 100-continue` from uploading the body at all.
 */
static void
early_handler(SoupServer *server,
	      SoupServerMessage *msg,
	      const char *path,
	      GHashTable *query,
	      gpointer user_data)
{
	ExhHost *host = user_data;
	g_autoptr(ExhRequest) req = NULL;
	g_autoptr(GError) error = NULL;

	if (!exh_server_body_declared_too_large(msg, host->config->max_body))
		return;
	req = request_new(host, msg);
	exh_server_too_large(host->config->max_body, &error);
	respond_error(req, error);
	/* the body may stay unread: this connection cannot carry another request */
	soup_message_headers_replace(
		soup_server_message_get_response_headers(msg), "Connection", "close");
}

/* ------------------------------------------------------------- dispatch */

/* An RFC 9110 token. */
static gboolean
header_name_is_valid(const gchar *name)
{
	if (name == NULL || *name == '\0')
		return FALSE;
	return strspn(name,
		      "!#$%&'*+-.^_`|~0123456789"
		      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(name);
}

/* No control characters: nothing can split the header block. */
static gboolean
header_value_is_valid(const gchar *value)
{
	if (value == NULL)
		return FALSE;
	for (const guchar *p = (const guchar *)value; *p != '\0'; p++) {
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return FALSE;
	}
	return TRUE;
}

/* Afresh: a read runs again after its connection broke (exh_pool_push_read()). */
static void
copy_plugin_response(ExhRequest *req, ExordosPaasRestResponse *resp)
{
	req->status = resp->status;
	g_clear_pointer(&req->response, g_bytes_unref);
	g_ptr_array_set_size(req->headers, 0);
	if (resp->body != NULL)
		req->response = g_bytes_new(resp->body, resp->body_len);
	for (gsize i = 0; i < resp->n_headers; i++) {
		const ExordosPaasHeader *h = &resp->headers[i];

		if (!header_name_is_valid(h->name) || !header_value_is_valid(h->value)) {
			exh_log(G_LOG_LEVEL_MESSAGE,
				req->request_id,
				"plugin %s sent an invalid response header; dropped",
				req->plugin->desc->slug);
			continue;
		}
		g_ptr_array_add(req->headers, g_strdup(h->name));
		g_ptr_array_add(req->headers, g_strdup(h->value));
	}
}

/* Worker thread: the plugin's dispatch inside the pool's transaction, or
 * outside any for a route the plugin declared read-only. */
static guint
dispatch_tx(PGconn *conn, gpointer data)
{
	ExhRequest *req = data;
	const ExordosPaasPluginDescriptor *desc = req->plugin->desc;
	ExordosPaasIdentity identity = {
		.anonymous = req->identity->anonymous,
		.user_uuid = req->identity->user,
		.project_id = req->identity->project,
		.permissions = (const gchar *const *)req->identity->permissions,
	};
	ExordosPaasRestRequest request = {
		.struct_size = sizeof(ExordosPaasRestRequest),
		.method = req->method,
		.path = req->sub_path,
		.query = (const ExordosPaasQueryParam *)req->query->data,
		.n_query = req->query->len,
		.content_type = req->content_type,
		.base_url = req->base_url,
		.mount_prefix = req->plugin->mount_prefix,
		.identity = &identity,
		.db = conn,
		.request_id = req->request_id,
	};
	ExordosPaasRestResponse response = { 0 };
	gsize len = 0;

	if (req->body != NULL) {
		request.body = g_bytes_get_data(req->body, &len);
		request.body_len = len;
	}
	desc->rest_dispatch(req->plugin->ctx, &request, &response);
	copy_plugin_response(req, &response);
	desc->rest_response_clear(req->plugin->ctx, &response);
	if (req->status < 100 || req->status > 599) {
		exh_log(G_LOG_LEVEL_MESSAGE,
			req->request_id,
			"plugin %s answered status %u",
			desc->slug,
			req->status);
		req->status = 500;
	}
	return req->status;
}

/* Server thread: the worker's result becomes the response. */
static gboolean
dispatch_finish(gpointer data)
{
	g_autoptr(ExhRequest) req = data;

	/* libsoup 3.2 refuses to unpause a message whose connection is gone */
	if (g_object_get_qdata(G_OBJECT(req->msg), finished_quark) != NULL) {
		exh_log(G_LOG_LEVEL_DEBUG,
			req->request_id,
			"client gone; answer %u dropped",
			req->status);
		return G_SOURCE_REMOVE;
	}
	respond(req, req->status, req->response);
	soup_server_message_unpause(req->msg);
	return G_SOURCE_REMOVE;
}

/* Worker thread, after COMMIT/ROLLBACK. */
static void
dispatch_done(gpointer data, const GError *error)
{
	ExhRequest *req = data;

	g_atomic_int_inc(&req->host->dispatched);
	if (error != NULL) {
		g_autofree gchar *text = exm_error_body(error);
		gsize len = strlen(text);

		exh_log(G_LOG_LEVEL_MESSAGE, req->request_id, "request failed: %s", error->message);
		req->status = exm_error_http_status(error);
		g_clear_pointer(&req->response, g_bytes_unref);
		req->response = g_bytes_new_take(g_steal_pointer(&text), len);
		g_ptr_array_set_size(req->headers, 0);
	}
	g_main_context_invoke(req->host->context, dispatch_finish, req);
}

static void
finish_shutdown(ExhHost *host)
{
	/* closing the clients below finishes their messages: no second round */
	if (host->closed)
		return;
	host->closed = TRUE;
	if (host->shutdown_timer != NULL) {
		g_source_destroy(host->shutdown_timer);
		g_clear_pointer(&host->shutdown_timer, g_source_unref);
	}
	exh_listener_close(host->listener);
	soup_server_disconnect(host->server);
	g_main_loop_quit(host->loop);
}

/*
 * "finished" (response written, or the exchange aborted) or "disconnected"
 * (connection closed under a paused message, which libsoup 3.2 reports without
 * "finished"): either way, once.
 */
static void
message_done(SoupServerMessage *msg, gpointer user_data)
{
	ExhHost *host = user_data;

	if (g_object_get_qdata(G_OBJECT(msg), finished_quark) != NULL)
		return;
	g_object_set_qdata(G_OBJECT(msg), finished_quark, GINT_TO_POINTER(1));
	if (g_atomic_int_dec_and_test(&host->in_flight) && host->stopping)
		finish_shutdown(host);
}

static gboolean
query_add(ExhRequest *req, const gchar *pair, gsize len)
{
	g_autofree gchar *raw = g_strndup(pair, len);
	gchar *eq = strchr(raw, '=');
	gchar *key;
	gchar *value;

	g_strdelimit(raw, "+", ' ');
	if (eq != NULL)
		*eq = '\0';
	key = g_uri_unescape_string(raw, NULL);
	value = g_uri_unescape_string(eq != NULL ? eq + 1 : "", NULL);
	if (key != NULL)
		g_ptr_array_add(req->query_strings, key);
	if (value != NULL)
		g_ptr_array_add(req->query_strings, value);
	if (key == NULL || value == NULL || !g_utf8_validate(key, -1, NULL) ||
	    !g_utf8_validate(value, -1, NULL))
		return FALSE;
	g_array_append_vals(req->query, &(ExordosPaasQueryParam){ key, value }, 1);
	return TRUE;
}

/* Query parameters in request order, repeats kept, decoded. */
static gboolean
parse_query(ExhRequest *req, GError **error)
{
	const gchar *q = g_uri_get_query(soup_server_message_get_uri(req->msg));

	req->query = g_array_new(FALSE, FALSE, sizeof(ExordosPaasQueryParam));
	req->query_strings = g_ptr_array_new_with_free_func(g_free);
	while (q != NULL && *q != '\0') {
		const gchar *end = strchr(q, '&');
		gsize len = end != NULL ? (gsize)(end - q) : strlen(q);

		if (len > 0 && !query_add(req, q, len)) {
			g_set_error_literal(error,
					    EXM_ERROR,
					    EXM_ERROR_PARSE,
					    "Can't parse value: query string.");
			return FALSE;
		}
		q = end != NULL ? end + 1 : NULL;
	}
	return TRUE;
}

/*
 * X-Forwarded-Prefix as the platform's load balancer sets it (`/api/metapaas`):
 * a path of plain segments, without its trailing '/'; "" when absent or not
 * such a path (an odd value is ignored, never copied into a URL).
 */
static gchar *
forwarded_prefix(SoupMessageHeaders *headers)
{
	const gchar *prefix = soup_message_headers_get_one(headers, "X-Forwarded-Prefix");
	gsize len;

	if (prefix == NULL || prefix[0] != '/' || strlen(prefix) > 256 ||
	    strspn(prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/") !=
		    strlen(prefix) ||
	    strstr(prefix, "//") != NULL || strstr(prefix, "/.") != NULL)
		return g_strdup("");
	len = strlen(prefix);
	while (len > 0 && prefix[len - 1] == '/')
		len--;
	return g_strndup(prefix, len);
}

/*
 * The base of the absolute URLs of an answer (`Location`): the configured
 * external base when there is one, else `<X-Forwarded-Proto or http>://<Host
 * header><X-Forwarded-Prefix>`, with our own address when the Host header is
 * not a plain host[:port].
 */
static gchar *
request_base_url(ExhRequest *req)
{
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(req->msg);
	const gchar *host = soup_message_headers_get_one(headers, "Host");
	const gchar *proto = soup_message_headers_get_one(headers, "X-Forwarded-Proto");
	g_autofree gchar *prefix = NULL;

	if (req->host->config->external_base_url != NULL)
		return g_strdup(req->host->config->external_base_url);
	prefix = forwarded_prefix(headers);
	if (host == NULL || *host == '\0' || strlen(host) > 255 ||
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") !=
		    strlen(host))
		return g_strconcat(req->host->base_url, prefix, NULL);
	if (g_strcmp0(proto, "https") != 0)
		proto = "http";
	return g_strconcat(proto, "://", host, prefix, NULL);
}

/*
 * The chunks libsoup read a request body into stay in the message next to the
 * flattened copy until the message is freed.  Nothing reads them after the
 * flatten, so their bytes (malloc'd by libsoup's reader) are wiped in place.
 * The buffers libsoup reads through before it makes a chunk are kept clear by
 * the listener (exh-line-stream.h, clear_dead_stack()); docs/SECURITY.md §8.
 */
static void
wipe_soup_chunks(SoupMessageBody *body)
{
	goffset offset = 0;

	while (offset < body->length) {
		g_autoptr(GBytes) chunk = soup_message_body_get_chunk(body, offset);
		gconstpointer data;
		gsize len = 0;

		if (chunk == NULL || g_bytes_get_size(chunk) == 0)
			break;
		data = g_bytes_get_data(chunk, &len);
		exm_secret_wipe((gpointer)data, len);
		offset += (goffset)len;
	}
}

/*
 * The message waits (for a worker, or for the IAM): paused, counted in
 * flight for the shutdown, and watched for its client going away.  Once.
 */
static void
hold(ExhRequest *req)
{
	if (req->held)
		return;
	req->held = TRUE;
	g_atomic_int_inc(&req->host->in_flight);
	g_signal_connect(req->msg, "finished", G_CALLBACK(message_done), req->host);
	g_signal_connect(req->msg, "disconnected", G_CALLBACK(message_done), req->host);
	soup_server_message_pause(req->msg);
}

/*
 * The plugin declared the request read-only (ABI minor 5): it runs without a
 * transaction.  A plugin of an older minor has no such member to read.
 */
static gboolean
route_is_read_only(const ExhRequest *req)
{
	const ExordosPaasPluginDescriptor *d = req->plugin->desc;

	if (!EXH_PLUGIN_HAS(d, 5, rest_route_flags) || d->rest_route_flags == NULL)
		return FALSE;
	return (d->rest_route_flags(req->plugin->ctx, req->method, req->sub_path) &
		EXORDOS_PAAS_ROUTE_FLAG_READ_ONLY) != 0;
}

/* Takes @plugin's reference. */
static void
dispatch(ExhRequest *req, ExhPlugin *plugin, const ExhIdentity *identity, const gchar *sub_path)
{
	ExhHost *host = req->host;
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(req->msg);
	SoupMessageBody *body = soup_server_message_get_request_body(req->msg);
	g_autoptr(GError) error = NULL;
	const gchar *ctype;

	req->plugin = plugin;
	req->sub_path = g_strdup(sub_path);
	if (!parse_query(req, &error)) {
		respond_error(req, error);
		return;
	}
	ctype = soup_message_headers_get_one(headers, "Content-Type");
	req->content_type = g_strdup(ctype);
	if (body != NULL && body->length > 0) {
		req->body = soup_message_body_flatten(body);
		wipe_soup_chunks(body);
	}
	req->base_url = request_base_url(req);

	/* the pool owns the request until dispatch_finish, in one transaction
	 * unless the plugin declared the route read-only: a plugin's GET may
	 * write too (verify_dns caches its answer) */
	if (!(route_is_read_only(req)
		      ? exh_pool_push_read(host->pool, dispatch_tx, dispatch_done, req, &error)
		      : exh_pool_push(host->pool, dispatch_tx, dispatch_done, req, &error))) {
		respond_error(req, error);
		return;
	}
	req->pooled = TRUE;
	hold(req);
}

/* ------------------------------------------------------------- host routes */

static void
serve_listing(ExhRequest *req, const gchar *const *names)
{
	g_autoptr(JsonNode) node = json_node_new(JSON_NODE_ARRAY);
	JsonArray *array = json_array_new();

	for (guint i = 0; names[i] != NULL; i++)
		json_array_add_string_element(array, names[i]);
	json_node_take_array(node, array);
	respond_json(req, 200, node);
}

/* A route that only lists its children (restalchemy RoutesListController). */
static void
serve_route_list(ExhRequest *req, const gchar *const *names)
{
	if (g_str_equal(req->method, "GET"))
		serve_listing(req, names);
	else if (g_str_equal(req->method, "POST"))
		respond_method_not_allowed(req, "CREATE");
	else
		respond_method_not_allowed(req, req->method);
}

static gboolean
check_types_policy(ExhRequest *req, const ExhIdentity *identity)
{
	g_autoptr(GError) error = NULL;

	if (exm_rest_enforcer_check(identity->enforcer, "exordos_metapaas.paas_type.read", &error))
		return TRUE;
	respond_error(req, error);
	return FALSE;
}

/* `/v1/types/`: read-only list of the installed types. */
static void
serve_types(ExhRequest *req, const ExhIdentity *identity)
{
	g_autoptr(JsonNode) node = NULL;

	if (g_str_equal(req->method, "POST")) {
		respond_method_not_allowed(req, "CREATE");
		return;
	}
	if (!g_str_equal(req->method, "GET")) {
		respond_method_not_allowed(req, req->method);
		return;
	}
	if (!check_types_policy(req, identity))
		return;
	node = exh_host_types_json(req->host, identity->project, NULL);
	respond_json(req, 200, node);
}

/* `/v1/types/<id>`: one installed type. */
static void
serve_type(ExhRequest *req, const ExhIdentity *identity, const gchar *id)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *uuid = NULL;
	g_autoptr(JsonNode) node = NULL;

	if (g_str_equal(req->method, "PUT") || g_str_equal(req->method, "PATCH")) {
		respond_method_not_allowed(req, "UPDATE");
		return;
	}
	if (g_str_equal(req->method, "DELETE")) {
		respond_method_not_allowed(req, "DELETE");
		return;
	}
	if (!g_str_equal(req->method, "GET")) {
		respond_method_not_allowed(req, req->method);
		return;
	}
	uuid = exm_uuid_parse_lenient(id, "uuid", &error);
	if (uuid == NULL) {
		respond_error(req, error);
		return;
	}
	if (!check_types_policy(req, identity))
		return;
	node = exh_host_types_json(req->host, identity->project, uuid);
	if (node == NULL) {
		g_set_error(&error,
			    EXM_ERROR,
			    EXM_ERROR_NOT_FOUND,
			    "Can't found record in storage for model (<class "
			    "'exordos_metapaas.dm.models.PaaSType'>) and filters ({'uuid': <EQ "
			    "(UUID('%s'))>}).",
			    uuid);
		respond_error(req, error);
		return;
	}
	respond_json(req, 200, node);
}

/* `/v1/types/<segment>/…` where no plugin has that slug: a type by id. */
static void
serve_unknown_type(ExhRequest *req, const gchar *segment)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *uuid = exm_uuid_parse_lenient(segment, "uuid", &error);

	if (uuid != NULL)
		g_set_error(&error,
			    EXM_ERROR,
			    EXM_ERROR_NOT_FOUND,
			    "Resource '%s' is not found on path: %s.",
			    segment,
			    req->raw_path);
	respond_error(req, error);
}

static void
serve_types_subtree(ExhRequest *req, const ExhIdentity *identity, const gchar *rest)
{
	const gchar *slash = strchr(rest, '/');
	g_autofree gchar *segment = NULL;
	ExhPlugin *plugin;

	if (*rest == '\0') {
		serve_types(req, identity);
		return;
	}
	if (slash == NULL) {
		serve_type(req, identity, rest);
		return;
	}
	segment = g_strndup(rest, slash - rest);
	plugin = exh_host_find_plugin(req->host, segment);
	if (plugin == NULL) {
		serve_unknown_type(req, segment);
		return;
	}
	dispatch(req, plugin, identity, slash + 1);
}

static void
serve_not_found(ExhRequest *req)
{
	g_autoptr(GError) error = g_error_new(
		EXM_ERROR, EXM_ERROR_NOT_FOUND, "Nothing is found on path '%s'.", req->raw_path);

	respond_error(req, error);
}

/* `/specifications/<version>`: GET the document, PUT regenerates it. */
static void
serve_specification(ExhRequest *req, const gchar *version)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *base = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr(GBytes) body = NULL;
	gboolean put = g_str_equal(req->method, "PUT");
	g_autoptr(GPtrArray) plugins = NULL;
	gsize len;

	if (!put && !g_str_equal(req->method, "GET")) {
		respond_method_not_allowed(
			req, g_str_equal(req->method, "DELETE") ? "DELETE" : req->method);
		return;
	}
	base = request_base_url(req);
	plugins = exh_host_plugins(req->host); /* a type may be mounted meanwhile */
	text = exh_openapi_document(req->host->openapi, plugins, version, base, put, &error);
	if (text == NULL) {
		respond_error(req, error); /* 404 NotFoundError for an unknown version */
		return;
	}
	len = strlen(text);
	body = g_bytes_new_take(g_steal_pointer(&text), len);
	respond(req, 200, body);
}

/* `/specifications/…` (upstream's OpenApiSpecificationRoute, no policy). */
static void
serve_specifications(ExhRequest *req, const gchar *rest)
{
	if (*rest == '\0')
		serve_route_list(req, exm_rest_openapi_versions());
	else if (strchr(rest, '/') != NULL)
		serve_not_found(req);
	else
		serve_specification(req, rest);
}

/* Where an authenticated request goes. */
static void
route_identified(ExhRequest *req, const gchar *path)
{
	static const gchar *const root_children[] = { "specifications", "v1", NULL };
	static const gchar *const v1_children[] = { "types", NULL };

	if (g_str_has_prefix(path, "/v1/types/"))
		serve_types_subtree(req, req->identity, path + strlen("/v1/types/"));
	else if (g_str_has_prefix(path, "/specifications/"))
		serve_specifications(req, path + strlen("/specifications/"));
	else if (g_str_equal(path, "/"))
		serve_route_list(req, root_children);
	else if (g_str_equal(path, "/v1/"))
		serve_route_list(req, v1_children);
	else
		serve_not_found(req);
}

/*
 * The IAM's answer: now, from route() (token file, Core IAM's cache), or
 * later, when the request is held and owned by this callback.
 */
static void
authenticated(ExhIdentity *identity, const GError *error, gpointer data)
{
	ExhRequest *req = data;
	gboolean later = req->held;

	req->authed = TRUE;
	if (later && g_object_get_qdata(G_OBJECT(req->msg), finished_quark) != NULL) {
		exh_log(G_LOG_LEVEL_DEBUG, req->request_id, "client gone while the IAM answered");
		request_free(req);
		return;
	}
	if (identity == NULL) {
		respond_error(req, error);
	} else {
		req->identity = exh_identity_ref(identity);
		route_identified(req, req->path);
	}
	if (later && !req->pooled) {
		soup_server_message_unpause(req->msg);
		request_free(req);
	}
}

static void
route(ExhRequest *req, const gchar *path)
{
	static const gchar *const v1_children[] = { "types", NULL };
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(req->msg);

	/* metapaas skips authentication for exactly GET /v1/ */
	// NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): path is NULL only on error
	if (g_str_equal(path, "/v1/") && g_str_equal(req->method, "GET")) {
		serve_listing(req, v1_children);
		return;
	}
	req->path = g_strdup(path);
	exh_iam_authenticate_async(req->host->iam,
				   soup_message_headers_get_one(headers, "Authorization"),
				   soup_message_headers_get_one(headers, "X-OTP"),
				   authenticated,
				   req);
	if (!req->authed)
		hold(req); /* owned by authenticated() from here */
}

static void
handler(SoupServer *server,
	SoupServerMessage *msg,
	const char *unused_path,
	GHashTable *unused_query,
	gpointer user_data)
{
	ExhHost *host = user_data;
	g_autoptr(ExhRequest) req = request_new(host, msg);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;

	if (host->stopping) {
		g_set_error_literal(
			&error, EXM_ERROR, EXM_ERROR_UNAVAILABLE, "The server is shutting down.");
	} else if (exh_server_body_too_large(msg)) {
		exh_server_too_large(host->config->max_body, &error);
	} else {
		/* %2F and %00 stay refused: a segment never holds a slash or a NUL */
		path = g_uri_unescape_string(req->raw_path, "/");
		if (path == NULL || !g_utf8_validate(path, -1, NULL))
			g_set_error(&error,
				    EXM_ERROR,
				    EXM_ERROR_NOT_FOUND,
				    "Nothing is found on path '%s'.",
				    req->raw_path);
	}
	if (error != NULL) {
		respond_error(req, error);
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
		return;
	}
	route(req, path);
	if (req->held)
		g_steal_pointer(&req); /* owned by the worker pool or the IAM now */
}

/* ------------------------------------------------------------- the thread */

static gboolean
server_listen(ExhHost *host, GError **error)
{
	g_autoptr(GInetAddress) address =
		exh_host_config_parse_listen(host->config->listen_address, error);
	g_autoptr(GSocketAddress) sockaddr = NULL;

	if (address == NULL)
		return FALSE;
	sockaddr = g_inet_socket_address_new(address, (guint16)host->config->port);
	host->listener = exh_listener_new(host->server, "user API", &host->config->connections);
	exh_listener_set_park_idle(host->listener, TRUE);
	host->port = exh_listener_listen(host->listener, sockaddr, error);
	if (host->port == 0)
		return FALSE;
	host->base_url =
		g_inet_address_get_family(address) == G_SOCKET_FAMILY_IPV6
			? g_strdup_printf(
				  "http://[%s]:%u", host->config->listen_address, host->port)
			: g_strdup_printf("http://%s:%u", host->config->listen_address, host->port);
	return TRUE;
}

static gboolean
server_setup(ExhHost *host, GError **error)
{
	host->server = soup_server_new(NULL, NULL);
	exh_server_limit_body(host->server, &host->config->max_body);
	soup_server_add_early_handler(host->server, NULL, early_handler, host, NULL);
	soup_server_add_handler(host->server, NULL, handler, host, NULL);
	return server_listen(host, error);
}

static gpointer
server_thread(gpointer data)
{
	ExhHost *host = data;
	GError *error = NULL;
	gboolean ok;

	g_main_context_push_thread_default(host->context);
	ok = server_setup(host, &error);
	g_mutex_lock(&host->lock);
	host->ready = TRUE;
	host->start_error = error;
	g_cond_signal(&host->cond);
	g_mutex_unlock(&host->lock);
	if (ok)
		g_main_loop_run(host->loop);
	g_main_context_pop_thread_default(host->context);
	return NULL;
}

gboolean
exh_server_too_large(gsize max_body, GError **error)
{
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_TOO_LARGE,
		    "Request body is larger than %" G_GSIZE_FORMAT " bytes.",
		    max_body);
	return FALSE;
}

gboolean
exh_server_start(ExhHost *host, GError **error)
{
	host->context = g_main_context_new();
	host->loop = g_main_loop_new(host->context, FALSE);
	host->thread = g_thread_new("exh-server", server_thread, host);
	g_mutex_lock(&host->lock);
	while (!host->ready)
		g_cond_wait(&host->cond, &host->lock);
	g_mutex_unlock(&host->lock);
	if (host->start_error != NULL) {
		g_propagate_error(error, g_steal_pointer(&host->start_error));
		g_thread_join(g_steal_pointer(&host->thread));
		return FALSE;
	}
	exh_log(G_LOG_LEVEL_INFO, NULL, "user API listening on %s", host->base_url);
	return TRUE;
}

static guint
grace_ms(ExhHost *host)
{
	return host->config->shutdown_grace_ms > 0 ? host->config->shutdown_grace_ms
						   : SHUTDOWN_GRACE_MS;
}

static gboolean
shutdown_timeout(gpointer data)
{
	ExhHost *host = data;

	exh_log(G_LOG_LEVEL_MESSAGE,
		NULL,
		"%d requests still in flight after %d ms; closing",
		g_atomic_int_get(&host->in_flight),
		grace_ms(host));
	host->grace_expired = TRUE;
	finish_shutdown(host);
	return G_SOURCE_REMOVE;
}

/* Server thread: refuse new requests, close once the last response is out. */
static gboolean
begin_shutdown(gpointer data)
{
	ExhHost *host = data;

	host->stopping = TRUE;
	if (g_atomic_int_get(&host->in_flight) == 0) {
		finish_shutdown(host);
		return G_SOURCE_REMOVE;
	}
	host->shutdown_timer = g_timeout_source_new(grace_ms(host));
	g_source_set_callback(host->shutdown_timer, shutdown_timeout, host, NULL);
	g_source_attach(host->shutdown_timer, host->context);
	return G_SOURCE_REMOVE;
}

void
exh_server_stop(ExhHost *host)
{
	if (host->thread == NULL)
		return;
	g_main_context_invoke(host->context, begin_shutdown, host);
	g_thread_join(g_steal_pointer(&host->thread));
}

/* After the pool is gone: run hand-backs that arrived too late, free the server. */
void
exh_server_drain(ExhHost *host)
{
	if (host->context == NULL)
		return;
	g_main_context_push_thread_default(host->context);
	while (g_main_context_iteration(host->context, FALSE))
		;
	if (host->listener != NULL)
		exh_listener_close(host->listener);
	g_clear_object(&host->server);
	while (g_main_context_iteration(host->context, FALSE))
		;
	/* after the server: libsoup's messages call into it until they are gone */
	g_clear_pointer(&host->listener, exh_listener_free);
	g_main_context_pop_thread_default(host->context);
	g_clear_pointer(&host->loop, g_main_loop_unref);
	g_clear_pointer(&host->context, g_main_context_unref);
}
