/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Results shared by the Orch and Status API routes.
 */
#include "exh-ua-route.h"

#include "exm-error.h"
#include "exm-uuid.h"

void
exh_ua_route_result_clear(ExhUaResult *result)
{
	g_clear_pointer(&result->body, json_node_unref);
	g_clear_error(&result->error);
	g_clear_pointer(&result->payload_agent, g_free);
	g_clear_pointer(&result->payload_hash, g_free);
}

void
exh_ua_route_result_method_not_allowed(ExhUaResult *result, const gchar *method)
{
	g_clear_error(&result->error);
	g_set_error(&result->error,
		    EXM_ERROR,
		    EXM_ERROR_METHOD_NOT_ALLOWED,
		    "HTTP method '%s' is not supported.",
		    method);
}

void
exh_ua_route_result_not_found(ExhUaResult *result, const gchar *method, gchar **segments)
{
	g_autofree gchar *path = g_strjoinv("/", segments);

	g_clear_error(&result->error);
	g_set_error(&result->error,
		    EXM_ERROR,
		    EXM_ERROR_NOT_FOUND,
		    "Nothing is found on path '%s' (%s).",
		    path,
		    method);
}

gchar *
exh_ua_route_segment_uuid(ExhUaResult *result, const gchar *segment)
{
	gchar *uuid = exm_uuid_parse(segment, NULL);

	if (uuid == NULL)
		g_set_error(&result->error,
			    EXM_ERROR,
			    EXM_ERROR_NOT_FOUND,
			    "Resource '%s' is not found.",
			    segment);
	return uuid;
}

JsonObject *
exh_ua_route_body_object(const ExhUaCall *call, ExhUaResult *result)
{
	if (call->body != NULL && JSON_NODE_HOLDS_OBJECT(call->body))
		return json_node_get_object(call->body);
	g_set_error_literal(
		&result->error, EXM_ERROR, EXM_ERROR_PARSE_BODY, "A JSON object body is required.");
	return NULL;
}
