/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * What the Orch API (exh-orch.c) and the Status API (exh-status.c) routes
 * share: one request as the listener decoded it and one result.  Routes run
 * on a worker thread inside the pool's transaction; no libsoup type here.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>

G_BEGIN_DECLS

/**
 * ExhUaCall:
 * @node: the calling node (`X-Genesis-Node-UUID`, canonical), whose key
 *   opened the request: every agent and resource a route touches must be its
 * @method: HTTP method
 * @segments: the decoded path split at `/` (a trailing slash gives a final "")
 * @query: (element-type utf8 utf8): decoded query parameters (last one wins)
 * @content_type: (nullable): the request's media type, without parameters
 * @body: (nullable): the JSON body after the envelope was opened, or %NULL
 *   when the request had none
 */
typedef struct {
	const gchar *node;
	const gchar *method;
	gchar **segments;
	GHashTable *query;
	const gchar *content_type;
	JsonNode *body;
} ExhUaCall;

/**
 * ExhUaResult:
 * @status: HTTP status
 * @body: (nullable): JSON to answer with (%NULL for 204)
 * @error: (nullable): the error to answer with instead (plain JSON, never
 *   encrypted)
 * @changed: the call wrote something agents may see (wake long polls)
 * @park: get_payload found the hash unchanged and may wait for a change
 * @wait: seconds the caller asked to wait (0..10)
 * @payload_agent: (nullable): get_payload computed the payload of this agent…
 * @payload_hash: (nullable): …whose hash is this (what the light-poll cache keeps)
 */
typedef struct {
	guint status;
	JsonNode *body;
	GError *error;
	gboolean changed;
	gboolean park;
	guint wait;
	gchar *payload_agent;
	gchar *payload_hash;
} ExhUaResult;

void exh_ua_route_result_clear(ExhUaResult *result);

/* The Orch API of docs/agent-protocol.md §4. */
void exh_orch_serve(PGconn *conn, const ExhUaCall *call, ExhUaResult *result);

/* The Status API of docs/agent-protocol.md §5. */
void exh_status_serve(PGconn *conn, const ExhUaCall *call, ExhUaResult *result);

/* Sets @result to a 405 for @method. */
void exh_ua_route_result_method_not_allowed(ExhUaResult *result, const gchar *method);

/* Sets @result to a 404 for @path. */
void exh_ua_route_result_not_found(ExhUaResult *result, const gchar *method, gchar **segments);

/* The call's body as an object (borrowed), or %NULL with a 400 in @result. */
JsonObject *exh_ua_route_body_object(const ExhUaCall *call, ExhUaResult *result);

/* Canonical lower-case UUID of a path segment, or %NULL with a 404 in @result. */
gchar *exh_ua_route_segment_uuid(ExhUaResult *result, const gchar *segment);

G_END_DECLS
