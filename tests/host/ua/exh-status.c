/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The Status API (docs/agent-protocol.md §5): agents register themselves
 * and report their actual resources.  Resource URLs carry the resource
 * `uuid` and the kind; collection URLs end with `/`.
 */
#include "exh-status.h"

#include "exh-ua-store.h"
#include "exm-error.h"

#include <string.h>

static void
serve_agents_collection(PGconn *conn, const ExhUaCall *call, ExhUaResult *result)
{
	JsonObject *body;

	if (!g_str_equal(call->method, "POST")) {
		exh_ua_route_result_method_not_allowed(result, call->method);
		return;
	}
	body = exh_ua_route_body_object(call, result);
	if (body == NULL)
		return;
	result->body = exh_ua_store_agent_create(conn, call->node, body, &result->error);
	result->status = 201;
	result->changed = TRUE;
}

/* The methods of one agent or resource: any other is a 405 before any lookup. */
static gboolean
item_method(const ExhUaCall *call, ExhUaResult *result)
{
	static const gchar *const methods[] = { "GET", "PUT", "PATCH", "DELETE", NULL };

	if (g_strv_contains(methods, call->method))
		return TRUE;
	exh_ua_route_result_method_not_allowed(result, call->method);
	return FALSE;
}

/* Another node's agent is answered as a missing one (before the body is read). */
static void
serve_agent(PGconn *conn, const ExhUaCall *call, const gchar *uuid, ExhUaResult *result)
{
	JsonObject *body;

	if (!item_method(call, result) ||
	    !exh_ua_store_agent_of_node(conn, call->node, uuid, &result->error))
		return;
	if (g_str_equal(call->method, "GET")) {
		result->body = exh_ua_store_agent_get(conn, uuid, &result->error);
		result->status = 200;
	} else if (g_str_equal(call->method, "PUT") || g_str_equal(call->method, "PATCH")) {
		body = exh_ua_route_body_object(call, result);
		if (body == NULL)
			return;
		result->body =
			exh_ua_store_agent_update(conn, call->node, uuid, body, &result->error);
		result->status = 200;
		result->changed = TRUE;
	} else {
		exh_ua_store_agent_delete(conn, uuid, &result->error);
		result->status = 204;
		result->changed = TRUE;
	}
}

static void
serve_resources_collection(PGconn *conn,
			   const ExhUaCall *call,
			   const gchar *kind,
			   ExhUaResult *result)
{
	JsonObject *body;

	if (!g_str_equal(call->method, "POST")) {
		exh_ua_route_result_method_not_allowed(result, call->method);
		return;
	}
	body = exh_ua_route_body_object(call, result);
	if (body == NULL)
		return;
	result->body = exh_ua_store_resource_create(conn, call->node, kind, body, &result->error);
	result->status = 201;
	result->changed = TRUE;
}

static void
serve_resource(PGconn *conn,
	       const ExhUaCall *call,
	       const gchar *kind,
	       const gchar *uuid,
	       ExhUaResult *result)
{
	JsonObject *body;

	if (!item_method(call, result) ||
	    !exh_ua_store_resource_of_node(conn, call->node, kind, uuid, &result->error))
		return;
	if (g_str_equal(call->method, "GET")) {
		result->body = exh_ua_store_resource_get(conn, kind, uuid, &result->error);
		result->status = 200;
	} else if (g_str_equal(call->method, "PUT") || g_str_equal(call->method, "PATCH")) {
		body = exh_ua_route_body_object(call, result);
		if (body == NULL)
			return;
		result->body = exh_ua_store_resource_update(
			conn, call->node, kind, uuid, body, &result->error);
		result->status = 200;
		result->changed = TRUE;
	} else {
		exh_ua_store_resource_delete(conn, kind, uuid, &result->error);
		result->status = 204;
		result->changed = TRUE;
	}
}

/* A kind is 1..64 characters of a resource kind name. */
static gboolean
kind_is_valid(const gchar *kind)
{
	gsize len = strlen(kind);

	return len > 0 && len <= 64 &&
	       strspn(kind, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") ==
		       len;
}

/* `/v1/kind/…` */
static void
serve_kind(PGconn *conn, const ExhUaCall *call, ExhUaResult *result)
{
	gchar **s = call->segments;
	guint n = g_strv_length(s);
	g_autofree gchar *uuid = NULL;

	if (n == 4 && *s[3] == '\0') {
		if (!g_str_equal(call->method, "GET")) {
			exh_ua_route_result_method_not_allowed(result, call->method);
			return;
		}
		result->body = exh_ua_store_kinds(conn, call->node, &result->error);
		result->status = 200;
		return;
	}
	if (!kind_is_valid(s[3])) {
		exh_ua_route_result_not_found(result, call->method, s);
		return;
	}
	if (n == 4) {
		if (!g_str_equal(call->method, "GET")) {
			exh_ua_route_result_method_not_allowed(result, call->method);
			return;
		}
		result->body = json_node_new(JSON_NODE_OBJECT);
		json_node_take_object(result->body, json_object_new());
		json_object_set_string_member(json_node_get_object(result->body), "kind", s[3]);
		result->status = 200;
		return;
	}
	if (n < 6 || !g_str_equal(s[4], "resources") || n > 6) {
		exh_ua_route_result_not_found(result, call->method, s);
		return;
	}
	if (*s[5] == '\0') {
		serve_resources_collection(conn, call, s[3], result);
		return;
	}
	uuid = exh_ua_route_segment_uuid(result, s[5]);
	if (uuid != NULL)
		serve_resource(conn, call, s[3], uuid, result);
}

/* `/v1/node_verifiers/<node>/actions/verify` (gcl_sdk migration 0006) */
static void
serve_node_verifier(PGconn *conn, const ExhUaCall *call, ExhUaResult *result)
{
	gchar **s = call->segments;
	g_autofree gchar *uuid = NULL;

	if (g_strv_length(s) != 6 || !g_str_equal(s[4], "actions") ||
	    !g_str_equal(s[5], "verify")) {
		exh_ua_route_result_not_found(result, call->method, s);
		return;
	}
	if (!g_str_equal(call->method, "GET")) {
		exh_ua_route_result_method_not_allowed(result, call->method);
		return;
	}
	uuid = exh_ua_route_segment_uuid(result, s[3]);
	if (uuid == NULL)
		return;
	result->body = exh_ua_store_node_verify(conn, call->node, uuid, &result->error);
	result->status = 200;
}

void
exh_status_serve(PGconn *conn, const ExhUaCall *call, ExhUaResult *result)
{
	gchar **s = call->segments;
	guint n = g_strv_length(s);
	g_autofree gchar *uuid = NULL;

	if (n < 4 || !g_str_equal(s[1], "v1")) {
		exh_ua_route_result_not_found(result, call->method, s);
		return;
	}
	if (g_str_equal(s[2], "kind")) {
		serve_kind(conn, call, result);
		return;
	}
	if (g_str_equal(s[2], "node_verifiers")) {
		serve_node_verifier(conn, call, result);
		return;
	}
	if (!g_str_equal(s[2], "agents") || n > 4) {
		exh_ua_route_result_not_found(result, call->method, s);
		return;
	}
	if (*s[3] == '\0') {
		serve_agents_collection(conn, call, result);
		return;
	}
	uuid = exh_ua_route_segment_uuid(result, s[3]);
	if (uuid != NULL)
		serve_agent(conn, call, uuid, result);
}
