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
#include "exm-uuid.h"

#define INFRA_KINDS "('node_set', 'config')"

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

void
exh_builder_infra_entry_free(ExhInfraEntry *entry)
{
	g_free(entry->kind);
	g_free(entry->res_uuid);
	g_free(entry->master);
	g_free(entry->node);
	g_strfreev(entry->nodes);
	g_free(entry);
}

/* The entry of target @uuid as just read (created when new). */
static ExhInfraEntry *
entry_note(ExhBuilder *b, PGresult *res, gint i)
{
	const gchar *uuid = PQgetvalue(res, i, 1);
	ExhInfraEntry *e = g_hash_table_lookup(b->infra, uuid);

	if (e == NULL) {
		e = g_new0(ExhInfraEntry, 1);
		g_hash_table_replace(b->infra, g_strdup(uuid), e);
	}
	g_free(e->kind);
	e->kind = g_strdup(PQgetvalue(res, i, 0));
	g_free(e->res_uuid);
	e->res_uuid = g_strdup(PQgetvalue(res, i, 2));
	g_free(e->master);
	e->master = PQgetisnull(res, i, 5) ? NULL : g_strdup(PQgetvalue(res, i, 5));
	e->settled = FALSE;
	return e;
}

static gboolean
is_applied(ExhBuilderTick *t, const gchar *res_uuid, const gchar *hash)
{
	return g_strcmp0(g_hash_table_lookup(t->b->applied, res_uuid), hash) == 0;
}

/* Hands a changed infra target to the backend (level-based, once per hash). */
static void
apply_infra(ExhBuilderTick *t, ExhInfraEntry *e, const gchar *hash, JsonObject *value)
{
	g_autoptr(GError) error = NULL;
	gboolean ok;

	if (is_applied(t, e->res_uuid, hash))
		return;
	if (g_str_equal(e->kind, "node_set")) {
		g_autoptr(ExhNodeSetTarget) target = exh_node_set_target_from_json(value, &error);
		ok = target != NULL &&
		     exh_infra_backend_apply_node_set(t->b->backend, target, &error);
	} else {
		g_autoptr(ExhConfigTarget) target = exh_config_target_from_json(value, &error);
		ok = target != NULL &&
		     exh_infra_backend_apply_config(t->b->backend, target, &error);
		/* a notification about its node's set concerns it too */
		if (target != NULL) {
			g_free(e->node);
			e->node = g_strdup(target->node);
		}
	}
	if (ok) {
		g_hash_table_replace(t->b->applied, g_strdup(e->res_uuid), g_strdup(hash));
		g_hash_table_remove(t->b->refused, e->res_uuid);
		return;
	}
	/* retried every tick (a node may appear), logged once per target version */
	if (g_strcmp0(g_hash_table_lookup(t->b->refused, e->res_uuid), hash) != 0)
		exh_log(G_LOG_LEVEL_MESSAGE,
			NULL,
			"backend refused %s %s: %s",
			e->kind,
			e->res_uuid,
			error->message);
	g_hash_table_replace(t->b->refused, g_strdup(e->res_uuid), g_strdup(hash));
}

static void
note_nodes(ExhInfraEntry *e, const ExhNodeSetActual *actual)
{
	GStrvBuilder *nodes = g_strv_builder_new();

	for (guint i = 0; actual->nodes != NULL && i < actual->nodes->len; i++)
		g_strv_builder_add(nodes, ((const ExhInfraNode *)actual->nodes->pdata[i])->uuid);
	g_strfreev(e->nodes);
	e->nodes = g_strv_builder_end(nodes);
	g_strv_builder_unref(nodes);
}

static gboolean
report_node_set(ExhBuilderTick *t,
		ExhInfraEntry *e,
		const gchar *uuid,
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
	note_nodes(e, actual);
	e->settled = actual->status == EXH_INFRA_STATUS_ACTIVE;
	value = exh_node_set_actual_to_json(actual);
	return put_node_keys(t, actual, error) &&
	       put_actual(t,
			  "node_set",
			  uuid,
			  e->res_uuid,
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
	      ExhInfraEntry *e,
	      const gchar *uuid,
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
	e->settled = status == EXH_INFRA_STATUS_ACTIVE;
	/* the file is the target (the backend wrote it) plus its status */
	name = exh_infra_status_to_string(status);
	value = object_copy(target);
	json_object_set_string_member(json_node_get_object(value), "status", name);
	return put_actual(t, "config", uuid, e->res_uuid, target, value, name, error);
}

/* Infra actuals whose target is gone (all of them, or those of the res_uuids
 * in @only): the backend deletes, keys and row go. */
static gboolean
delete_orphans(ExhBuilderTick *t, const gchar *only, GError **error)
{
	const gchar *p0[] = { only };
	g_autoptr(PGresult) res = exh_builder_sql_exec(
		t,
		"SELECT a.kind, a.uuid, a.res_uuid, a.value::text FROM ua_actual_resources a WHERE "
		"a.kind IN " INFRA_KINDS " AND a.node IS NULL AND ($1::uuid[] IS NULL OR "
		"a.res_uuid = ANY($1::uuid[])) AND NOT EXISTS (SELECT 1 FROM ua_target_resources r "
		"WHERE r.res_uuid = a.res_uuid)",
		1,
		p0,
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

/* The configs whose node is one of set @e's nodes. */
static void
add_configs_of_set(ExhBuilder *b, const ExhInfraEntry *set, GHashTable *want)
{
	GHashTableIter it;
	gpointer key;
	gpointer value;

	if (set->nodes == NULL || set->nodes[0] == NULL)
		return;
	g_hash_table_iter_init(&it, b->infra);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		const ExhInfraEntry *e = value;

		if (e->node != NULL && g_strv_contains((const gchar *const *)set->nodes, e->node))
			g_hash_table_add(want, g_strdup(key));
	}
}

/* At a tick's start: the uuids its marks name, those the backend notified
 * (with a set's configs), and every target not settled yet. */
static void
want_at_start(ExhBuilderTick *t, GHashTable *want)
{
	g_auto(GStrv) marks = NULL;
	GHashTableIter it;
	gpointer key;
	gpointer value;

	if (t->marks != NULL && strlen(t->marks) > 2) {
		g_autofree gchar *inner = g_strndup(t->marks + 1, strlen(t->marks) - 2);

		marks = g_strsplit(inner, ",", -1);
		for (guint i = 0; marks[i] != NULL; i++)
			g_hash_table_add(want, g_strdup(marks[i]));
	}
	g_hash_table_iter_init(&it, t->b->notified);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		const ExhInfraEntry *e = g_hash_table_lookup(t->b->infra, key);

		g_hash_table_add(want, g_strdup(key));
		if (e != NULL && g_str_equal(e->kind, "node_set"))
			add_configs_of_set(t->b, e, want);
	}
	g_hash_table_remove_all(t->b->notified);
	g_hash_table_iter_init(&it, t->b->infra);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		if (!((const ExhInfraEntry *)value)->settled)
			g_hash_table_add(want, g_strdup(key));
	}
}

static void
add_all(GHashTable *want, GHashTable *from)
{
	GHashTableIter it;
	gpointer key;

	g_hash_table_iter_init(&it, from);
	while (g_hash_table_iter_next(&it, &key, NULL))
		g_hash_table_add(want, g_strdup(key));
}

/* A uuid[] literal of the keys of @set ("{}" when empty); they are uuids. */
static gchar *
uuid_literal(GHashTable *set)
{
	GString *s = g_string_new("{");
	GHashTableIter it;
	gpointer key;

	g_hash_table_iter_init(&it, set);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		if (!exm_uuid_is_valid(key))
			continue;
		if (s->len > 1)
			g_string_append_c(s, ',');
		g_string_append(s, key);
	}
	g_string_append_c(s, '}');
	return g_string_free(s, FALSE);
}

static gboolean
sync_row(ExhBuilderTick *t, PGresult *res, gint i, GError **error)
{
	const gchar *text = PQgetvalue(res, i, 3);
	const gchar *hash = PQgetvalue(res, i, 4);
	g_autoptr(JsonNode) node = exm_json_parse_strict(text, strlen(text), NULL);
	ExhInfraEntry *e;
	gboolean ok;

	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node))
		return TRUE;
	e = entry_note(t->b, res, i);
	apply_infra(t, e, hash, json_node_get_object(node));
	ok = g_str_equal(e->kind, "node_set")
		     ? report_node_set(
			       t, e, PQgetvalue(res, i, 1), json_node_get_object(node), error)
		     : report_config(
			       t, e, PQgetvalue(res, i, 1), json_node_get_object(node), error);
	/* refused by the backend: tried again next tick */
	e->settled = e->settled && is_applied(t, e->res_uuid, hash);
	return ok;
}

/* The remembered targets @want names (or whose master it names) that the
 * read did not return: gone.  Returns their res_uuids as a uuid[] literal. */
static gchar *
vanished(ExhBuilder *b, GHashTable *want, GHashTable *seen)
{
	g_autoptr(GHashTable) gone = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GHashTableIter it;
	gpointer key;
	gpointer value;

	g_hash_table_iter_init(&it, b->infra);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		ExhInfraEntry *e = value;

		if (g_hash_table_contains(seen, key) ||
		    !(g_hash_table_contains(want, key) ||
		      (e->master != NULL && g_hash_table_contains(want, e->master))))
			continue;
		g_hash_table_add(gone, g_strdup(e->res_uuid));
		g_hash_table_iter_remove(&it);
	}
	return g_hash_table_size(gone) > 0 ? uuid_literal(gone) : NULL;
}

/* Forgets the targets a full read did not return. */
static void
forget_unseen(ExhBuilder *b, GHashTable *seen)
{
	GHashTableIter it;
	gpointer key;

	g_hash_table_iter_init(&it, b->infra);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		if (!g_hash_table_contains(seen, key))
			g_hash_table_iter_remove(&it);
	}
}

static PGresult *
read_targets(ExhBuilderTick *t, const gchar *want, GError **error)
{
	const gchar *params[] = { want };

	/* node sets before configs: a config needs its node */
	return exh_builder_sql_exec(
		t,
		"SELECT kind, uuid, res_uuid, value::text, hash, master FROM ua_target_resources "
		"WHERE agent IS NULL AND kind IN " INFRA_KINDS " AND ($1::uuid[] IS NULL OR "
		"uuid = ANY($1::uuid[]) OR master = ANY($1::uuid[])) ORDER BY kind DESC, uuid",
		1,
		params,
		error);
}

gboolean
exh_builder_infra_sync(ExhBuilderTick *t, gboolean end, GError **error)
{
	/* once per full pass (exh_builder_tick()), not on each of its ticks */
	gboolean full = t->b->infra_full && !end;
	g_autoptr(GHashTable) want = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(PGresult) res = NULL;
	g_autofree gchar *literal = NULL;
	g_autofree gchar *gone = NULL;

	if (t->b->backend == NULL)
		return TRUE;
	if (!full && end && t->touched != NULL)
		add_all(want, t->touched);
	else if (!full && !end)
		want_at_start(t, want);
	if (!full && g_hash_table_size(want) == 0)
		return TRUE; /* nothing happened to any infra target */
	literal = full ? NULL : uuid_literal(want);
	res = read_targets(t, literal, error);
	if (res == NULL)
		return FALSE;
	for (gint i = 0; i < PQntuples(res); i++) {
		g_hash_table_add(seen, g_strdup(PQgetvalue(res, i, 1)));
		if (!sync_row(t, res, i, error))
			return FALSE;
	}
	if (full) {
		forget_unseen(t->b, seen);
		t->b->infra_full = FALSE;
		return delete_orphans(t, NULL, error);
	}
	gone = vanished(t->b, want, seen);
	return gone == NULL || delete_orphans(t, gone, error);
}
