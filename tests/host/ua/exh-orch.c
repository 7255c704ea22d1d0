/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The Orch API (docs/agent-protocol.md §4): agents fetch themselves and their
 * payload; creating and updating an agent follow upstream's controller
 * (status forced ACTIVE, read-only on update).  `wait=<s>` (≤ 10) is this
 * host's long-poll extension (docs/architecture.md §2): when the payload hash
 * equals the one sent, the listener parks the request until something changes
 * or the time is up; every other unknown get_payload argument is refused as
 * upstream refuses it.
 */
#include "exh-orch.h"

#include "exh-metrics.h"

#include "exh-ua-route.h"
#include "exh-ua-store.h"
#include "exm-error.h"
#include "exm-json.h"
#include "exm-uuid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* restalchemy parses `version` with int(): optional sign, decimal digits. */
static gboolean
parse_version(const gchar *text, gint64 *out, GError **error)
{
	gchar *end = NULL;
	const gchar *p = text;

	while (*p == ' ')
		p++;
	if (*p != '\0' &&
	    (g_ascii_isdigit(*p) || ((*p == '-' || *p == '+') && g_ascii_isdigit(p[1])))) {
		errno = 0;
		*out = g_ascii_strtoll(p, &end, 10);
		while (end != NULL && *end == ' ')
			end++;
		if (errno == 0 && end != NULL && *end == '\0')
			return TRUE;
	}
	g_set_error(error, EXM_ERROR, EXM_ERROR_VALIDATION, "Invalid version: %s.", text);
	return FALSE;
}

/* `wait`: 0..10 seconds; larger values are capped, garbage is a 400. */
static gboolean
parse_wait(const gchar *text, guint *out, GError **error)
{
	guint64 value = 0;

	if (text == NULL || *text == '\0') {
		*out = 0;
		return TRUE;
	}
	if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT32, &value, NULL)) {
		g_set_error(error, EXM_ERROR, EXM_ERROR_VALIDATION, "Invalid wait: %s.", text);
		return FALSE;
	}
	*out = (guint)MIN(value, EXH_ORCH_MAX_WAIT);
	return TRUE;
}

/* `version` in a JSON body: a string (as the query carries it) or an integer. */
static gboolean
payload_body_version(JsonObject *obj, const gchar **version, gchar *buf, GError **error)
{
	JsonNode *node = json_object_get_member(obj, "version");
	const gchar *text = NULL;

	if (node != NULL && exm_json_node_is_int(node)) {
		g_snprintf(buf, 24, "%" G_GINT64_FORMAT, json_node_get_int(node));
		*version = buf;
		return TRUE;
	}
	if (!exm_json_get_string(obj, "version", FALSE, &text, NULL, error))
		return FALSE;
	*version = text != NULL ? text : "0";
	return TRUE;
}

/* Python's answer to an unknown keyword argument of the action: a TypeError
 * that restalchemy turns into a 500 (what an upstream CP answers to `wait=`). */
static GQuark
orch_error_quark(void)
{
	return g_quark_from_static_string("exh-orch-error-quark");
}

static const ExmErrorConversion orch_errors[] = {
	{ 0, 500, EXM_ERROR_CODE_GENERIC, "TypeError" },
};

/* The kwargs get_payload takes: upstream's, and `wait`, this host's extension. */
static gboolean
check_kwarg(const gchar *name, GError **error)
{
	static const gchar *const known[] = { "hash", "version", "wait", NULL };
	static gsize registered;

	if (g_strv_contains(known, name))
		return TRUE;
	if (g_once_init_enter(&registered)) {
		exm_error_register(orch_error_quark(), orch_errors, G_N_ELEMENTS(orch_errors));
		g_once_init_leave(&registered, 1);
	}
	g_set_error(error,
		    orch_error_quark(),
		    0,
		    "UniversalAgentsController.get_payload() got an unexpected keyword argument "
		    "'%s'",
		    name);
	return FALSE;
}

static gboolean
check_kwargs(GList *names, GError **error)
{
	for (GList *l = names; l != NULL; l = l->next) {
		if (!check_kwarg(l->data, error))
			return FALSE;
	}
	return TRUE;
}

/* The action's kwargs: from a JSON body when the request says application/json,
 * else from the query string (§4 quirk). */
static gboolean
payload_args(const ExhUaCall *call,
	     const gchar **hash,
	     const gchar **version,
	     gchar *version_buf,
	     const gchar **wait,
	     GError **error)
{
	*hash = "";
	*version = "0";
	*wait = g_hash_table_lookup(call->query, "wait");
	if (g_strcmp0(call->content_type, "application/json") == 0) {
		JsonObject *obj = call->body != NULL && JSON_NODE_HOLDS_OBJECT(call->body)
					  ? json_node_get_object(call->body)
					  : NULL;
		const gchar *text = NULL;
		g_autoptr(GList) names = NULL;

		if (obj == NULL)
			return TRUE;
		names = json_object_get_members(obj);
		if (!check_kwargs(names, error) ||
		    !exm_json_get_string(obj, "hash", FALSE, &text, NULL, error))
			return FALSE;
		*hash = text != NULL ? text : "";
		return payload_body_version(obj, version, version_buf, error);
	}
	{
		g_autoptr(GList) names = g_hash_table_get_keys(call->query);

		if (!check_kwargs(names, error))
			return FALSE;
	}
	if (g_hash_table_contains(call->query, "hash"))
		*hash = g_hash_table_lookup(call->query, "hash");
	if (g_hash_table_contains(call->query, "version"))
		*version = g_hash_table_lookup(call->query, "version");
	return TRUE;
}

static void
get_payload(PGconn *conn, const ExhUaCall *call, const gchar *agent, ExhUaResult *result)
{
	const gchar *hash = NULL;
	const gchar *version_text = NULL;
	const gchar *wait_text = NULL;
	gchar version_buf[24];
	gint64 version = 0;
	g_autofree gchar *computed = NULL;
	g_autoptr(JsonNode) full = NULL;

	if (!payload_args(call, &hash, &version_text, version_buf, &wait_text, &result->error) ||
	    !parse_version(version_text, &version, &result->error) ||
	    !parse_wait(wait_text, &result->wait, &result->error) ||
	    !exh_ua_store_agent_of_node(conn, call->node, agent, &result->error))
		return;
	/* a full payload answers version 0 whatever was sent, as upstream */
	full = exh_ua_store_payload(conn, agent, 0, &computed, &result->error);
	if (full == NULL)
		return;
	exh_metrics_agent_polled(call->node);
	result->status = 200;
	result->payload_agent = g_strdup(agent);
	result->payload_hash = g_strdup(computed);
	if (g_str_equal(computed, hash)) {
		result->body = exh_ua_store_light_payload(hash, version);
		result->park = result->wait > 0;
		return;
	}
	result->body = g_steal_pointer(&full);
}

gboolean
exh_orch_light_request(const ExhUaCall *call,
		       gchar **agent,
		       const gchar **hash,
		       gint64 *version,
		       guint *wait)
{
	gchar **s = call->segments;
	const gchar *version_text = NULL;
	const gchar *wait_text = NULL;
	gchar version_buf[24];

	/* s = "", "v1", "agents", <uuid>, "actions", "get_payload" */
	if (g_strv_length(s) != 6 || !g_str_equal(s[1], "v1") || !g_str_equal(s[2], "agents") ||
	    !g_str_equal(s[4], "actions") || !g_str_equal(s[5], "get_payload") ||
	    !g_str_equal(call->method, "GET") ||
	    g_strcmp0(call->content_type, "application/json") == 0 ||
	    !payload_args(call, hash, &version_text, version_buf, &wait_text, NULL) ||
	    **hash == '\0' || !parse_version(version_text, version, NULL) ||
	    !parse_wait(wait_text, wait, NULL))
		return FALSE;
	*agent = exm_uuid_parse(s[3], NULL);
	return *agent != NULL;
}

/* Upstream's Orch agents controller: an agent is created ACTIVE whatever
 * status it sends (overridden, not refused). */
static void
create_agent(PGconn *conn, const ExhUaCall *call, ExhUaResult *result)
{
	JsonObject *body = exh_ua_route_body_object(call, result);

	if (body == NULL)
		return;
	json_object_set_string_member(body, "status", "ACTIVE");
	result->body = exh_ua_store_agent_create(conn, call->node, body, &result->error);
	result->status = 201;
	result->changed = TRUE;
}

/* …and on update `status` is read-only, the agent (re)activated: an agent that
 * calls this proves it is alive. */
static void
update_agent(PGconn *conn, const ExhUaCall *call, const gchar *uuid, ExhUaResult *result)
{
	JsonObject *body = exh_ua_route_body_object(call, result);

	if (body == NULL)
		return;
	if (json_object_has_member(body, "status")) {
		g_set_error_literal(&result->error,
				    EXM_ERROR,
				    EXM_ERROR_FIELD_PERMISSION,
				    "Permission denied for field status.");
		return;
	}
	json_object_set_string_member(body, "status", "ACTIVE");
	result->body = exh_ua_store_agent_update(conn, call->node, uuid, body, &result->error);
	result->status = 200;
	result->changed = TRUE;
}

/* `/v1/agents/<uuid>`: read, or update as upstream's controller. */
static void
serve_agent(PGconn *conn, const ExhUaCall *call, const gchar *uuid, ExhUaResult *result)
{
	gboolean update = g_str_equal(call->method, "PUT") || g_str_equal(call->method, "PATCH");

	if (!update && !g_str_equal(call->method, "GET")) {
		exh_ua_route_result_method_not_allowed(result, call->method);
		return;
	}
	/* another node's agent is answered as a missing one */
	if (!exh_ua_store_agent_of_node(conn, call->node, uuid, &result->error))
		return;
	if (update) {
		update_agent(conn, call, uuid, result);
		return;
	}
	result->body = exh_ua_store_agent_get(conn, uuid, &result->error);
	result->status = 200;
}

void
exh_orch_serve(PGconn *conn, const ExhUaCall *call, ExhUaResult *result)
{
	gchar **s = call->segments;
	guint n = g_strv_length(s);
	g_autofree gchar *uuid = NULL;

	/* s = "", "v1", "agents", … */
	if (n < 4 || !g_str_equal(s[1], "v1") || !g_str_equal(s[2], "agents")) {
		exh_ua_route_result_not_found(result, call->method, s);
		return;
	}
	if (n == 4 && *s[3] == '\0') {
		/* the collection: no listing; creation as upstream's controller */
		if (g_str_equal(call->method, "POST"))
			create_agent(conn, call, result);
		else
			exh_ua_route_result_method_not_allowed(result, call->method);
		return;
	}
	uuid = exh_ua_route_segment_uuid(result, s[3]);
	if (uuid == NULL)
		return;
	if (n == 4) {
		serve_agent(conn, call, uuid, result);
		return;
	}
	if (n == 6 && g_str_equal(s[4], "actions") && g_str_equal(s[5], "get_payload")) {
		if (!g_str_equal(call->method, "GET")) {
			exh_ua_route_result_method_not_allowed(result, call->method);
			return;
		}
		get_payload(conn, call, uuid, result);
		return;
	}
	exh_ua_route_result_not_found(result, call->method, s);
}
