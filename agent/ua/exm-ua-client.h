/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * HTTP client of the Orch and Status APIs (docs/agent-protocol.md §4–§6):
 * asynchronous libsoup-3 requests on the thread-default main context, JSON
 * bodies, the `X-Genesis-Node-UUID` header on every request and, when a key is
 * configured, the ChaCha20-Poly1305 envelope of both directions.
 *
 * exm_ua_client_encode() and exm_ua_client_answer() are the same encoding and
 * reading without the client's transport, for a caller that carries the
 * bytes itself (the Orch load simulator's polls, docs/scale.md §4): a
 * client's libsoup session attaches nothing to its context until it sends,
 * so such a client costs the context's iterations nothing.
 */
#pragma once

#include "exm-ua-config.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>

typedef enum {
	EXM_UA_API_ORCH,
	EXM_UA_API_STATUS,
} ExmUaApi;

/**
 * ExmUaResponse:
 * @status: the HTTP status
 * @body: (nullable): the decoded JSON body; %NULL for an empty body (204) and for
 *   an unparseable error body
 */
typedef struct {
	guint status;
	JsonNode *body;
} ExmUaResponse;

void exm_ua_client_response_free(ExmUaResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmUaResponse, exm_ua_client_response_free)

typedef struct _ExmUaClient ExmUaClient;

/**
 * exm_ua_client_new:
 * @config: endpoints, timeout and the key file
 * @node_uuid: the `X-Genesis-Node-UUID` value
 * @error: %EXM_UA_ERROR_CONFIG when the key file is missing or malformed
 *
 * Returns: (transfer full): a client
 */
ExmUaClient *exm_ua_client_new(const ExmUaConfig *config, const gchar *node_uuid, GError **error);
void exm_ua_client_free(ExmUaClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmUaClient, exm_ua_client_free)

/* Returns: %TRUE when the client seals requests in the §6 envelope. */
gboolean exm_ua_client_is_sealed(ExmUaClient *client);

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
void exm_ua_client_request_async(ExmUaClient *client,
				 ExmUaApi api,
				 const gchar *method,
				 const gchar *path,
				 const gchar *query,
				 JsonNode *body,
				 GCancellable *cancellable,
				 GAsyncReadyCallback callback,
				 gpointer user_data);

/**
 * exm_ua_client_request_pruned_async:
 * @prune: (nullable): paths of the answer's objects to leave empty
 *   (exm_json_parse_pruned()); must outlive the request (a static array)
 *
 * exm_ua_client_request_async() for an answer of which the caller keeps only
 * part: the answer's payload facts, of which the agent keeps the hashes
 * (exm_ua_payload_unused()).
 */
void exm_ua_client_request_pruned_async(ExmUaClient *client,
					ExmUaApi api,
					const gchar *method,
					const gchar *path,
					const gchar *query,
					JsonNode *body,
					const gchar *const *prune,
					GCancellable *cancellable,
					GAsyncReadyCallback callback,
					gpointer user_data);

/**
 * ExmUaClientWire:
 * @content_type: (nullable): the Content-Type of @body; %NULL when there is none
 * @nonce: (nullable): the `X-Genesis-Nonce` of a sealed body
 * @body: (nullable): the bytes sent; %NULL: no body
 *
 * A request's body as the client puts it on the wire (exm_ua_client_encode()).
 */
typedef struct {
	const gchar *content_type;
	gchar *nonce;
	GBytes *body;
} ExmUaClientWire;

void exm_ua_client_wire_clear(ExmUaClientWire *wire);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ExmUaClientWire, exm_ua_client_wire_clear)

const gchar *exm_ua_client_get_node_uuid(ExmUaClient *client);
gboolean exm_ua_client_encode(ExmUaClient *client,
			      JsonNode *body,
			      ExmUaClientWire *wire,
			      GError **error);
ExmUaResponse *exm_ua_client_answer(ExmUaClient *client,
				    guint status,
				    const gchar *content_type,
				    const gchar *nonce,
				    gchar *data,
				    gsize len,
				    const gchar *const *prune,
				    GError **error);

/**
 * exm_ua_client_request_finish:
 * @client: a client
 * @result: the result
 * @error: a %G_IO_ERROR when the CP could not be reached (or the request was
 *   cancelled), %EXM_UA_ERROR_PROTOCOL when a 2xx body cannot be decoded,
 *   %EXM_UA_ERROR_REFUSED when the answer must not be trusted (a plain 2xx body
 *   although a key is held, a sealed one received before)
 *
 * Any HTTP status is a response, not an error.
 *
 * Returns: (transfer full): the response
 */
ExmUaResponse *exm_ua_client_request_finish(ExmUaClient *client,
					    GAsyncResult *result,
					    GError **error);
