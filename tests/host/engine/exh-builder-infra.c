/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The bridge to the infra backend: the infra targets (`node_set`, `config`,
 * no agent) go to the backend, its actual state comes back as actual rows
 * with the node keys; the actuals of deleted targets go.
 */
#include "exh-builder-private.h"

#include <string.h>

#include "exh-log.h"
#include "exh-ua-store.h"
#include "exm-cleanup.h"
#include "exm-json.h"
#include "exm-proto.h"

/* Writes an infra actual row when its full_hash moved (no no-op statement: the
 * table's trigger would wake the engine for nothing). */
static gboolean
put_actual(ExhBuilderTick *t,
	   const gchar *kind,
	   const gchar *uuid,
	   const gchar *res_uuid,
	   JsonObject *target,
	   JsonNode *value,
	   const gchar *status,
	   GError **error)
{
	g_autofree gchar *full_hash = exm_json_hash(value);
	g_autofree gchar *hash = exm_proto_hash_projection(json_node_get_object(value), target);
	g_autofree gchar *text = exm_json_canonical(value);
	const gchar *p1[] = { res_uuid };
	const gchar *p2[] = { uuid, kind, res_uuid, text, hash, full_hash, status };
	g_autoptr(PGresult) cur = exh_builder_sql_exec(
		t,
		"SELECT full_hash, status FROM ua_actual_resources WHERE res_uuid = $1",
		1,
		p1,
		error);

	if (cur == NULL)
		return FALSE;
	if (PQntuples(cur) == 1 && g_str_equal(PQgetvalue(cur, 0, 0), full_hash) &&
	    g_str_equal(PQgetvalue(cur, 0, 1), status))
		return TRUE;
	return exh_builder_sql_write(
		t,
		"INSERT INTO ua_actual_resources (uuid, kind, res_uuid, value, hash, "
		"full_hash, status) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7) ON CONFLICT "
		"(res_uuid) DO UPDATE SET value = EXCLUDED.value, hash = EXCLUDED.hash, "
		"full_hash = EXCLUDED.full_hash, status = EXCLUDED.status, updated_at = "
		" " EXH_UA_NOW,
		7,
		p2,
		error);
}

static gboolean
put_node_keys(ExhBuilderTick *t, const ExhNodeSetActual *actual, GError **error)
{
	for (guint i = 0; actual->nodes != NULL && i < actual->nodes->len; i++) {
		const ExhInfraNode *node = actual->nodes->pdata[i];
		const gchar *params[] = { node->uuid, node->private_key };
		g_autoptr(PGresult) cur = NULL;

		if (node->private_key == NULL)
			continue;
		cur = exh_builder_sql_exec(
			t,
			"SELECT 1 FROM ua_node_encryption_keys WHERE uuid = $1 AND "
			"private_key = $2",
			2,
			params,
			error);
		if (cur == NULL)
			return FALSE;
		if (PQntuples(cur) == 1)
			continue;
		if (!exh_ua_store_node_key_put(t->conn,
					       node->uuid,
					       node->private_key,
					       t->b->plain ? G_MAXINT : 0,
					       error))
			return FALSE;
		t->stats->written++;
	}
	return TRUE;
}

/* Hands a changed infra target to the backend (level-based, once per hash). */
static void
apply_infra(ExhBuilderTick *t,
	    const gchar *kind,
	    const gchar *res_uuid,
	    const gchar *hash,
	    JsonObject *value)
{
	g_autoptr(GError) error = NULL;
	gboolean ok;

	if (g_strcmp0(g_hash_table_lookup(t->b->applied, res_uuid), hash) == 0)
		return;
	if (g_str_equal(kind, "node_set")) {
		g_autoptr(ExhNodeSetTarget) target = exh_node_set_target_from_json(value, &error);
		ok = target != NULL &&
		     exh_infra_backend_apply_node_set(t->b->backend, target, &error);
	} else {
		g_autoptr(ExhConfigTarget) target = exh_config_target_from_json(value, &error);
		ok = target != NULL &&
		     exh_infra_backend_apply_config(t->b->backend, target, &error);
	}
	if (ok) {
		g_hash_table_replace(t->b->applied, g_strdup(res_uuid), g_strdup(hash));
		g_hash_table_remove(t->b->refused, res_uuid);
		return;
	}
	/* retried every tick (a node may appear), logged once per target version */
	if (g_strcmp0(g_hash_table_lookup(t->b->refused, res_uuid), hash) != 0)
		exh_log(G_LOG_LEVEL_MESSAGE,
			NULL,
			"backend refused %s %s: %s",
			kind,
			res_uuid,
			error->message);
	g_hash_table_replace(t->b->refused, g_strdup(res_uuid), g_strdup(hash));
}

static gboolean
report_node_set(ExhBuilderTick *t,
		const gchar *uuid,
		const gchar *res_uuid,
		JsonObject *target,
		GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autoptr(ExhNodeSetActual) actual =
		exh_infra_backend_get_node_set(t->b->backend, uuid, &local);
	g_autoptr(JsonNode) value = NULL;

	if (actual == NULL) {
		if (local != NULL)
			exh_log(G_LOG_LEVEL_MESSAGE, NULL, "node_set %s: %s", uuid, local->message);
		return TRUE;
	}
	value = exh_node_set_actual_to_json(actual);
	return put_node_keys(t, actual, error) &&
	       put_actual(t,
			  "node_set",
			  uuid,
			  res_uuid,
			  target,
			  value,
			  exh_infra_status_to_string(actual->status),
			  error);
}

/* A new object with the members of @obj (they are never modified). */
static JsonNode *
object_copy(JsonObject *obj)
{
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);
	JsonObject *copy = json_object_new();
	g_autoptr(GList) keys = json_object_get_members(obj);

	for (GList *l = keys; l != NULL; l = l->next)
		json_object_set_member(
			copy, l->data, json_node_copy(json_object_get_member(obj, l->data)));
	json_node_take_object(node, copy);
	return node;
}

static gboolean
report_config(ExhBuilderTick *t,
	      const gchar *uuid,
	      const gchar *res_uuid,
	      JsonObject *target,
	      GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autoptr(JsonNode) value = NULL;
	ExhInfraStatus status = EXH_INFRA_STATUS_NEW;
	const gchar *name;

	if (!exh_infra_backend_get_config_status(t->b->backend, uuid, &status, &local)) {
		if (local != NULL)
			exh_log(G_LOG_LEVEL_MESSAGE, NULL, "config %s: %s", uuid, local->message);
		return TRUE;
	}
	/* the file is the target (the backend wrote it) plus its status */
	name = exh_infra_status_to_string(status);
	value = object_copy(target);
	json_object_set_string_member(json_node_get_object(value), "status", name);
	return put_actual(t, "config", uuid, res_uuid, target, value, name, error);
}

/* Infra actuals whose target is gone: the backend deletes, keys and row go. */
static gboolean
delete_orphans(ExhBuilderTick *t, GError **error)
{
	g_autoptr(PGresult) res =
		exh_builder_sql_exec(t,
				     "SELECT a.kind, a.uuid, a.res_uuid, a.value::text FROM "
				     "ua_actual_resources a WHERE a.kind IN ('node_set', 'config') "
				     "AND a.node IS NULL AND NOT EXISTS (SELECT 1 FROM "
				     "ua_target_resources r WHERE r.res_uuid = a.res_uuid)",
				     0,
				     NULL,
				     error);

	if (res == NULL)
		return FALSE;
	for (gint i = 0; i < PQntuples(res); i++) {
		const gchar *kind = PQgetvalue(res, i, 0);
		const gchar *uuid = PQgetvalue(res, i, 1);
		const gchar *params[] = { PQgetvalue(res, i, 2), PQgetvalue(res, i, 3) };
		g_autoptr(GError) local = NULL;
		gboolean ok =
			g_str_equal(kind, "node_set")
				? exh_infra_backend_delete_node_set(t->b->backend, uuid, &local)
				: exh_infra_backend_delete_config(t->b->backend, uuid, &local);

		if (!ok) {
			exh_log(G_LOG_LEVEL_MESSAGE,
				NULL,
				"deleting %s %s: %s",
				kind,
				uuid,
				local->message);
			continue;
		}
		g_hash_table_remove(t->b->applied, params[0]);
		if (!exh_builder_sql_write(
			    t,
			    "DELETE FROM ua_node_encryption_keys WHERE uuid::text IN (SELECT "
			    "jsonb_object_keys($1::jsonb->'nodes') WHERE "
			    "jsonb_typeof($1::jsonb->'nodes') = 'object')",
			    1,
			    &params[1],
			    error) ||
		    !exh_builder_sql_write(t,
					   "DELETE FROM ua_actual_resources WHERE res_uuid = $1",
					   1,
					   params,
					   error))
			return FALSE;
	}
	return TRUE;
}

gboolean
exh_builder_infra_sync(ExhBuilderTick *t, GError **error)
{
	g_autoptr(PGresult) res = NULL;

	if (t->b->backend == NULL)
		return TRUE;
	/* node sets before configs: a config needs its node */
	res = exh_builder_sql_exec(
		t,
		"SELECT kind, uuid, res_uuid, value::text, hash FROM ua_target_resources WHERE "
		"agent IS NULL AND kind IN ('node_set', 'config') ORDER BY kind DESC, uuid",
		0,
		NULL,
		error);
	if (res == NULL)
		return FALSE;
	for (gint i = 0; i < PQntuples(res); i++) {
		const gchar *kind = PQgetvalue(res, i, 0);
		const gchar *text = PQgetvalue(res, i, 3);
		g_autoptr(JsonNode) node = exm_json_parse_strict(text, strlen(text), NULL);
		JsonObject *value;
		gboolean ok;

		if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node))
			continue;
		value = json_node_get_object(node);
		apply_infra(t, kind, PQgetvalue(res, i, 2), PQgetvalue(res, i, 4), value);
		ok = g_str_equal(kind, "node_set") ? report_node_set(t,
								     PQgetvalue(res, i, 1),
								     PQgetvalue(res, i, 2),
								     value,
								     error)
						   : report_config(t,
								   PQgetvalue(res, i, 1),
								   PQgetvalue(res, i, 2),
								   value,
								   error);
		if (!ok)
			return FALSE;
	}
	return delete_orphans(t, error);
}
