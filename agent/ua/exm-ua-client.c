/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ua-client.h"

#include "exm-cleanup.h"
#include "exm-config.h"
#include "exm-envelope.h"
#include "exm-json.h"
#include "exm-memprobe.h"
#include "exm-secret.h"
#include "exm-ua-error.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>

#define EXM_UA_JSON_TYPE "application/json"
/* A response bigger than this is not a payload we can use. */
#define EXM_UA_RESPONSE_MAX (64 * 1024 * 1024)
#define EXM_UA_KEY_FILE_MAX 1024
/* Response nonces remembered to refuse a replayed answer: at one answer per 3 s
 * poll about 13 hours, in about 1.5 MiB. */
#define EXM_UA_SEEN_NONCES 16384

struct _ExmUaClient {
	SoupSession *session;
	gchar *orch_base;
	gchar *status_base;
	gchar *node_uuid;
	gboolean sealed;
	guint8 key[EXM_ENVELOPE_KEY_LEN];
	GHashTable *seen;  /* nonces of the sealed answers opened … */
	GQueue seen_order; /* … oldest first */
};

/**
 * exm_ua_client_response_free:
 * @response: (nullable): a response
 */
void
exm_ua_client_response_free(ExmUaResponse *response)
{
	if (response == NULL)
		return;
	g_clear_pointer(&response->body, json_node_unref);
	g_free(response);
}

static gchar *
base_url(const gchar *url)
{
	gchar *base = g_strdup(url);
	gsize len = strlen(base);

	while (len > 0 && base[len - 1] == '/')
		base[--len] = '\0';
	return base;
}

static gboolean
client_load_key(ExmUaClient *client, const gchar *path, GError **error)
{
	g_autofree gchar *text = NULL;
	g_autoptr(GError) local = NULL;
	GStatBuf st;
	gsize len = 0;
	gboolean ok;

	ok = g_file_get_contents(path, &text, &len, &local) && len <= EXM_UA_KEY_FILE_MAX &&
	     strlen(text) == len && exm_envelope_key_from_base64(text, client->key, &local);
	/* all @len bytes: a file with a NUL inside would stop a strlen()-based wipe early */
	if (text != NULL)
		exm_secret_wipe(text, len);
	if (!ok) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_CONFIG,
			    "private_key_path %s: %s",
			    path,
			    local != NULL ? local->message : "not a key file");
		return FALSE;
	}
	if (g_stat(path, &st) == 0 && (st.st_mode & 0077) != 0)
		g_warning("private_key_path %s is accessible to other users (mode %04o)",
			  path,
			  (guint)(st.st_mode & 07777));
	client->sealed = TRUE;
	return TRUE;
}

/**
 * exm_ua_client_new:
 * @config: endpoints, timeout and the key file
 * @node_uuid: the `X-Genesis-Node-UUID` value
 * @error: %EXM_UA_ERROR_CONFIG when the key file is missing or malformed
 *
 * Returns: (transfer full): a client
 */
ExmUaClient *
exm_ua_client_new(const ExmUaConfig *config, const gchar *node_uuid, GError **error)
{
	g_autoptr(ExmUaClient) client = g_rc_box_new0(ExmUaClient);

	client->orch_base = base_url(config->orch_endpoint);
	client->status_base = base_url(config->status_endpoint);
	client->node_uuid = g_strdup(node_uuid);
	client->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (exm_ua_config_use_envelope(config) &&
	    !client_load_key(client, config->private_key_path, error))
		return NULL;
	/* No proxy resolver: the CP endpoints are internal addresses, and the
	 * desktop resolver would pull in GSettings on a headless node. */
	client->session = soup_session_new_with_options("proxy-resolver",
							NULL,
							"timeout",
							(guint)(config->http_timeout + 0.999),
							"user-agent",
							"exordos-metapaas-agent/" EXM_VERSION,
							NULL);
	return g_steal_pointer(&client);
}

static void
client_clear(gpointer data)
{
	ExmUaClient *client = data;

	/* close kept-alive connections now rather than whenever the peer notices */
	if (client->session != NULL)
		soup_session_abort(client->session);
	g_clear_object(&client->session);
	g_free(client->orch_base);
	g_free(client->status_base);
	g_free(client->node_uuid);
	g_queue_clear(&client->seen_order);
	g_clear_pointer(&client->seen, g_hash_table_unref);
	exm_secret_wipe(client->key, sizeof(client->key));
}

/**
 * exm_ua_client_free:
 * @client: (nullable): a client
 *
 * Drops the caller's reference; requests in flight keep the client alive until
 * their callbacks ran.
 */
void
exm_ua_client_free(ExmUaClient *client)
{
	if (client != NULL)
		g_rc_box_release_full(client, client_clear);
}

/**
 * exm_ua_client_is_sealed:
 * @client: a client
 *
 * Returns: %TRUE when the client seals requests in the §6 envelope
 */
gboolean
exm_ua_client_is_sealed(ExmUaClient *client)
{
	return client->sealed;
}

/**
 * exm_ua_client_wire_clear:
 * @wire: a request's body as encoded
 */
void
exm_ua_client_wire_clear(ExmUaClientWire *wire)
{
	wire->content_type = NULL;
	g_clear_pointer(&wire->nonce, g_free);
	g_clear_pointer(&wire->body, g_bytes_unref);
}

/**
 * exm_ua_client_encode:
 * @client: a client
 * @body: (nullable): the JSON body
 * @wire: (out caller-allocates): the body as sent, with its Content-Type and,
 *   sealed, its nonce; cleared with exm_ua_client_wire_clear()
 * @error: %EXM_ENVELOPE_ERROR when sealing fails
 *
 * A request's body: plain JSON (none for a bodiless request, whose
 * `X-Genesis-Node-UUID` header is then all it carries), or the envelope of
 * §6.3, also for bodiless requests, whose plaintext is the JSON literal
 * `null`, as Python sends.
 *
 * Returns: %FALSE with @error set on failure (@wire then empty)
 */
gboolean
exm_ua_client_encode(ExmUaClient *client, JsonNode *body, ExmUaClientWire *wire, GError **error)
{
	g_autofree gchar *text = body != NULL ? exm_json_to_string(body) : NULL;

	*wire = (ExmUaClientWire){ 0 };
	if (!client->sealed) {
		/* No Content-Type on bodiless requests: with application/json the CP
		 * reads action arguments from the body only (§4). */
		if (text != NULL) {
			gsize len = strlen(text);

			wire->content_type = EXM_UA_JSON_TYPE;
			wire->body = g_bytes_new_take(g_steal_pointer(&text), len);
		}
		return TRUE;
	}
	if (text == NULL)
		text = g_strdup("null");
	wire->body = exm_envelope_seal(client->key, text, strlen(text), &wire->nonce, error);
	if (wire->body == NULL)
		return FALSE;
	wire->content_type = EXM_ENVELOPE_CONTENT_TYPE;
	return TRUE;
}

/**
 * exm_ua_client_get_node_uuid:
 * @client: a client
 *
 * Returns: the `X-Genesis-Node-UUID` every request carries
 */
const gchar *
exm_ua_client_get_node_uuid(ExmUaClient *client)
{
	return client->node_uuid;
}

static gboolean
client_set_body(ExmUaClient *client, SoupMessage *msg, JsonNode *body, GError **error)
{
	SoupMessageHeaders *hdrs = soup_message_get_request_headers(msg);
	g_auto(ExmUaClientWire) wire = { 0 };

	if (!exm_ua_client_encode(client, body, &wire, error))
		return FALSE;
	soup_message_headers_replace(hdrs, EXM_ENVELOPE_HEADER_NODE_UUID, client->node_uuid);
	if (wire.nonce != NULL)
		soup_message_headers_replace(hdrs, EXM_ENVELOPE_HEADER_NONCE, wire.nonce);
	if (wire.body != NULL)
		soup_message_set_request_body_from_bytes(msg, wire.content_type, wire.body);
	return TRUE;
}

typedef struct {
	ExmUaClient *client;
	SoupMessage *msg;
	const gchar *const *prune;
	/* the response's body while it is read: what was read of it, in room
	 * for @cap bytes */
	GInputStream *body;
	guint8 *buf;
	gsize len;
	gsize cap;
} ExmUaRequestData;

static void
request_data_free(gpointer data)
{
	ExmUaRequestData *d = data;

	g_clear_object(&d->body);
	g_free(d->buf);
	g_clear_object(&d->msg);
	g_clear_pointer(&d->client, exm_ua_client_free);
	g_free(d);
}

/* A nonce the CP already used: every answer has a fresh random one (§6.5), so
 * only a recording replayed can bring it back. */
static gboolean
client_seen_nonce(ExmUaClient *client, const gchar *nonce, GError **error)
{
	gchar *copy;

	if (g_hash_table_contains(client->seen, nonce)) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_REFUSED,
			    "a sealed answer received before (nonce %s), replayed",
			    nonce);
		return TRUE;
	}
	copy = g_strdup(nonce);
	g_hash_table_add(client->seen, copy);
	g_queue_push_tail(&client->seen_order, copy);
	if (g_queue_get_length(&client->seen_order) > EXM_UA_SEEN_NONCES)
		g_hash_table_remove(client->seen, g_queue_pop_head(&client->seen_order));
	return FALSE;
}

/* Opens the sealed body @data[@len] where it lies (*@plain_len bytes of
 * plaintext, NUL-terminated); %FALSE (and @error) when it is not authentic
 * or replayed, @data then wiped. */
static gboolean
client_open(ExmUaClient *client,
	    const gchar *nonce,
	    gchar *data,
	    gsize len,
	    gsize *plain_len,
	    GError **error)
{
	if (!client->sealed || nonce == NULL) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_PROTOCOL,
			    "encrypted response without a key or a nonce");
		return FALSE;
	}
	if (!exm_envelope_open_in_place(client->key, nonce, (guint8 *)data, len, plain_len, error))
		return FALSE;
	/* only an authentic answer is remembered: a forged one cannot evict any */
	if (!client_seen_nonce(client, nonce, error))
		return TRUE;
	exm_secret_wipe(data, *plain_len);
	return FALSE;
}

/* Decodes the body (@data[@len], taken) by its Content-Type (§6.5):
 * encrypted → open with the response nonce; anything else → JSON, except a
 * 2xx body while the client holds a key: the CP seals every success then, so
 * a plain one comes from someone without the key.  Empty bodies (204) decode
 * to %NULL.  A sealed body is decrypted and its JSON parsed where it
 * lies: one copy of an answer of 28 MB at a time, not three (docs/scale.md
 * §3). */
static gboolean
client_decode(ExmUaClient *client,
	      guint status,
	      const gchar *type,
	      const gchar *nonce,
	      gchar *data_in,
	      gsize len,
	      const gchar *const *prune,
	      JsonNode **out,
	      GError **error)
{
	g_autofree gchar *data = data_in;

	*out = NULL;
	if (len == 0)
		return TRUE;
	if (len > EXM_UA_RESPONSE_MAX) {
		g_set_error(error, EXM_UA_ERROR, EXM_UA_ERROR_PROTOCOL, "response too large");
		return FALSE;
	}
	if (g_strcmp0(type, EXM_ENVELOPE_CONTENT_TYPE) == 0) {
		if (!client_open(client, nonce, data, len, &len, error))
			return FALSE;
	} else if (client->sealed && SOUP_STATUS_IS_SUCCESSFUL(status)) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_REFUSED,
			    "a plain %u answer (content type %s) although a key is held",
			    status,
			    type != NULL ? type : "none");
		return FALSE;
	}
	*out = exm_json_parse_pruned_take(g_steal_pointer(&data), len, prune, error);
	return *out != NULL;
}

/**
 * exm_ua_client_answer:
 * @client: a client
 * @status: the answer's HTTP status
 * @content_type: (nullable): its media type, without parameters
 * @nonce: (nullable): its `X-Genesis-Nonce`
 * @data: (transfer full): its body, @len bytes (opened and parsed where it
 *   lies: its room must be one byte longer)
 * @len: the body's length
 * @prune: (nullable): members left out of the parsed tree (see
 *   exm_json_parse_pruned_take())
 * @error: %EXM_UA_ERROR_REFUSED when the answer must not be trusted,
 *   %EXM_UA_ERROR_PROTOCOL when a 2xx body cannot be decoded
 *
 * An answer as the client reads it (§6.5): what exm_ua_client_request_finish()
 * gives for one received by the client's own session.
 *
 * Returns: (transfer full): the response, its body %NULL when empty or an
 *   error body that does not decode
 */
ExmUaResponse *
exm_ua_client_answer(ExmUaClient *client,
		     guint status,
		     const gchar *content_type,
		     const gchar *nonce,
		     gchar *data,
		     gsize len,
		     const gchar *const *prune,
		     GError **error)
{
	ExmUaResponse *resp;
	JsonNode *body = NULL;
	g_autoptr(GError) decode_error = NULL;

	/* a body that does not decode is left NULL */
	if (!client_decode(
		    client, status, content_type, nonce, data, len, prune, &body, &decode_error)) {
		if (g_error_matches(decode_error, EXM_UA_ERROR, EXM_UA_ERROR_REFUSED)) {
			g_propagate_error(error, g_steal_pointer(&decode_error));
			return NULL;
		}
		if (SOUP_STATUS_IS_SUCCESSFUL(status)) {
			g_set_error(error,
				    EXM_UA_ERROR,
				    EXM_UA_ERROR_PROTOCOL,
				    "cannot decode the %u response: %s",
				    status,
				    decode_error->message);
			return NULL;
		}
	}
	resp = g_new0(ExmUaResponse, 1);
	resp->status = status;
	resp->body = body;
	return resp;
}

/* The whole body read into d->buf (@task's reference is taken): decoded. */
static void
client_answered(GTask *task_in)
{
	g_autoptr(GTask) task = task_in;
	ExmUaRequestData *d = g_task_get_task_data(task);
	SoupMessageHeaders *hdrs = soup_message_get_response_headers(d->msg);
	ExmUaResponse *resp;
	GError *error = NULL;

	/* The caller's callback runs from here, and an agent iteration goes on
	 * from it: the answer's text (taken by the decoding) and the request's
	 * body (each as large as the node's value, 15 to 28 MB at 100 000
	 * accounts) are not held meanwhile (docs/scale.md §3). */
	exm_memprobe_point("answer read");
	resp = exm_ua_client_answer(d->client,
				    soup_message_get_status(d->msg),
				    soup_message_headers_get_content_type(hdrs, NULL),
				    soup_message_headers_get_one(hdrs, EXM_ENVELOPE_HEADER_NONCE),
				    (gchar *)g_steal_pointer(&d->buf),
				    d->len,
				    d->prune,
				    &error);
	soup_message_set_request_body(d->msg, NULL, NULL, 0);
	exm_memprobe_point("answer decoded");
	if (resp == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, resp, (GDestroyNotify)exm_ua_client_response_free);
}

static void
client_closed(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GTask *task = user_data;
	GError *error = NULL;

	if (!g_input_stream_close_finish(G_INPUT_STREAM(source), res, &error)) {
		g_task_return_error(task, error);
		g_object_unref(task);
		return;
	}
	client_answered(task);
}

static void client_read(GTask *task);

/* Reads on into the room left until the end, or until the body is known to
 * be too large (client_decode() refuses it), then closes the stream. */
static void
client_got(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GTask *task = user_data;
	ExmUaRequestData *d = g_task_get_task_data(task);
	GError *error = NULL;
	gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), res, &error);

	if (n < 0) {
		g_task_return_error(task, error);
		g_object_unref(task);
		return;
	}
	d->len += (gsize)n;
	if (n > 0 && d->len <= EXM_UA_RESPONSE_MAX) {
		client_read(task);
		return;
	}
	g_input_stream_close_async(
		d->body, G_PRIORITY_DEFAULT, g_task_get_cancellable(task), client_closed, task);
}

/* The room is grown (not zeroed) only when used up: a body of the announced
 * length fills it with one byte to spare, where its end is read. */
static void
client_read(GTask *task)
{
	ExmUaRequestData *d = g_task_get_task_data(task);

	if (d->len == d->cap) {
		d->cap = MIN(d->cap * 2, (gsize)EXM_UA_RESPONSE_MAX + 1);
		d->buf = g_realloc(d->buf, d->cap);
	}
	g_input_stream_read_async(d->body,
				  d->buf + d->len,
				  d->cap - d->len,
				  G_PRIORITY_DEFAULT,
				  g_task_get_cancellable(task),
				  client_got,
				  task);
}

/* The headers came: the body is read into one buffer of the announced
 * length (libsoup's send_and_read grew a GMemoryOutputStream 8 KiB at a
 * time, zeroing and moving it: a fifth of the CPU a 28 MB answer took to
 * receive, docs/scale.md §3). */
static void
client_sent(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GTask *task = user_data;
	ExmUaRequestData *d = g_task_get_task_data(task);
	SoupMessageHeaders *hdrs = NULL;
	GError *error = NULL;
	goffset announced = 0;

	d->body = soup_session_send_finish(SOUP_SESSION(source), res, &error);
	if (d->body == NULL) {
		g_task_return_error(task, error);
		g_object_unref(task);
		return;
	}
	/* The request was sent: its body (a report of every account, 16 MB at
	 * 100 000) is not held while the answer is read into memory. */
	soup_message_set_request_body(d->msg, NULL, NULL, 0);
	hdrs = soup_message_get_response_headers(d->msg);
	if (soup_message_headers_get_encoding(hdrs) == SOUP_ENCODING_CONTENT_LENGTH)
		announced = soup_message_headers_get_content_length(hdrs);
	d->cap = (gsize)CLAMP(announced, 0, EXM_UA_RESPONSE_MAX) + 1;
	d->buf = g_malloc(d->cap);
	client_read(task);
}

/**
 * exm_ua_client_request_async:
 * @client: a client
 * @api: which base URL
 * @method: `GET`, `POST`, `PUT` or `DELETE`
 * @path: absolute path below the base URL (already escaped)
 * @query: (nullable): query string without `?` (already escaped)
 * @body: (nullable): JSON body
 * @cancellable: (nullable): cancels the request
 * @callback: called on the thread-default main context
 * @user_data: its data
 */
void
exm_ua_client_request_async(ExmUaClient *client,
			    ExmUaApi api,
			    const gchar *method,
			    const gchar *path,
			    const gchar *query,
			    JsonNode *body,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data)
{
	exm_ua_client_request_pruned_async(
		client, api, method, path, query, body, NULL, cancellable, callback, user_data);
}

void
exm_ua_client_request_pruned_async(ExmUaClient *client,
				   ExmUaApi api,
				   const gchar *method,
				   const gchar *path,
				   const gchar *query,
				   JsonNode *body,
				   const gchar *const *prune,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
	const gchar *base = api == EXM_UA_API_ORCH ? client->orch_base : client->status_base;
	g_autofree gchar *url =
		g_strconcat(base, path, query != NULL ? "?" : "", query != NULL ? query : "", NULL);
	ExmUaRequestData *d = g_new0(ExmUaRequestData, 1);
	g_autoptr(GError) error = NULL;

	g_task_set_task_data(task, d, request_data_free);
	/* The request may complete after the agent dropped the client. */
	d->client = g_rc_box_acquire(client);
	d->prune = prune;
	d->msg = soup_message_new(method, url);
	if (d->msg == NULL) {
		g_task_return_new_error(task,
					EXM_UA_ERROR,
					EXM_UA_ERROR_CONFIG,
					"cannot build a request for %s",
					url);
		return;
	}
	if (!client_set_body(client, d->msg, body, &error)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	soup_session_send_async(client->session,
				d->msg,
				G_PRIORITY_DEFAULT,
				cancellable,
				client_sent,
				g_steal_pointer(&task));
}

/**
 * exm_ua_client_request_finish:
 * @client: a client
 * @result: the result
 * @error: a %G_IO_ERROR when the CP could not be reached (or the request was
 *   cancelled), %EXM_UA_ERROR_PROTOCOL when a 2xx body cannot be decoded,
 *   %EXM_UA_ERROR_REFUSED when the answer must not be trusted (a plain 2xx body
 *   although a key is held, a sealed one received before)
 *
 * Returns: (transfer full): the response
 */
ExmUaResponse *
exm_ua_client_request_finish(ExmUaClient *client, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}
