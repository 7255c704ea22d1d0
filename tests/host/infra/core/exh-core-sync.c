/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The `core` backend's worker (exh-core-backend.h): DELETEs what was
 * dropped, GET → POST/PUT what changed, polls what is desired, and backs
 * off when Core fails.  The lock is never held across a request.
 */
#include "exh-core-private.h"

#include <string.h>

#include "exh-error.h"
#include "exh-log.h"
#include "exm-json.h"
#include "exm-uuid.h"

#define SETS	       "/v1/compute/sets/"
#define CONFIGS	       "/v1/config/configs/"
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000

/* A snapshot of one item for the worker, taken under the lock. */
typedef struct {
	gchar *uuid;
	JsonNode *body;
	guint64 gen;
} Work;

static void
work_free(gpointer data)
{
	Work *w = data;

	g_free(w->uuid);
	json_node_unref(w->body);
	g_free(w);
}

static GPtrArray *
snapshot(ExhCoreBackend *self, GHashTable *table, gboolean dirty_only)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(work_free);
	GHashTableIter it;
	gpointer value;

	g_mutex_lock(&self->lock);
	g_hash_table_iter_init(&it, table);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		ExhCoreItem *item = value;
		Work *w;

		if (dirty_only && item->gen == item->synced_gen)
			continue;
		w = g_new0(Work, 1);
		w->uuid = g_strdup(item->uuid);
		w->body = json_node_ref(item->body);
		w->gen = item->gen;
		g_ptr_array_add(out, w);
	}
	g_mutex_unlock(&self->lock);
	return out;
}

static gboolean
delete_doomed(ExhCoreBackend *self, GHashTable *doomed, const gchar *base, GError **error)
{
	g_autoptr(GPtrArray) uuids = g_ptr_array_new_with_free_func(g_free);
	GHashTableIter it;
	gpointer key;

	g_mutex_lock(&self->lock);
	g_hash_table_iter_init(&it, doomed);
	while (g_hash_table_iter_next(&it, &key, NULL))
		g_ptr_array_add(uuids, g_strdup(key));
	g_mutex_unlock(&self->lock);
	for (guint i = 0; i < uuids->len; i++) {
		g_autofree gchar *path = g_strconcat(base, uuids->pdata[i], NULL);
		guint status = 0;

		/* 204 or 404: gone either way */
		if (!exh_core_client_call(self->client, "DELETE", path, NULL, &status, NULL, error))
			return FALSE;
		g_mutex_lock(&self->lock);
		g_hash_table_remove(doomed, uuids->pdata[i]);
		g_mutex_unlock(&self->lock);
	}
	return TRUE;
}

/* %TRUE when Core's value differs from @body on a member we send. */
static gboolean
differs(JsonNode *body, JsonObject *core)
{
	JsonObject *ours = json_node_get_object(body);
	g_autoptr(GList) names = json_object_get_members(ours);

	for (GList *l = names; l != NULL; l = l->next) {
		JsonNode *theirs = json_object_get_member(core, l->data);

		if (g_str_equal(l->data, "uuid") || g_str_equal(l->data, "project_id"))
			continue;
		if (theirs == NULL ||
		    !json_node_equal(json_object_get_member(ours, l->data), theirs))
			return TRUE;
	}
	return FALSE;
}

/* What a PUT sends: the value minus uuid and project_id (as gcl_sdk does). */
static JsonNode *
put_body(JsonNode *body)
{
	JsonNode *copy = json_node_copy(body);

	json_object_remove_member(json_node_get_object(copy), "uuid");
	json_object_remove_member(json_node_get_object(copy), "project_id");
	return copy;
}

static gboolean
expect_object(JsonNode *node, const gchar *what, const gchar *path, GError **error)
{
	if (node != NULL && JSON_NODE_HOLDS_OBJECT(node))
		return TRUE;
	g_set_error(error,
		    EXH_ERROR,
		    EXH_ERROR_FAILED,
		    "core GET %s: the answer is not a %s object",
		    path,
		    what);
	return FALSE;
}

/* GET; 404 → POST; a differing target field → PUT (only then). */
static gboolean
sync_one(ExhCoreBackend *self, const gchar *base, const gchar *what, Work *w, GError **error)
{
	g_autofree gchar *path = g_strconcat(base, w->uuid, NULL);
	g_autoptr(JsonNode) core = NULL;
	g_autoptr(JsonNode) answer = NULL;
	guint status = 0;

	if (!exh_core_client_call(self->client, "GET", path, NULL, &status, &core, error))
		return FALSE;
	if (status == 404) {
		if (!exh_core_client_call(
			    self->client, "POST", base, w->body, &status, &answer, error))
			return FALSE;
		exh_log(G_LOG_LEVEL_INFO, NULL, "core: created %s %s", what, w->uuid);
		return TRUE;
	}
	if (!expect_object(core, what, path, error))
		return FALSE;
	if (!differs(w->body, json_node_get_object(core)))
		return TRUE;
	{
		g_autoptr(JsonNode) put = put_body(w->body);

		if (!exh_core_client_call(self->client, "PUT", path, put, &status, &answer, error))
			return FALSE;
		if (status == 404) {
			g_set_error(error, EXH_ERROR, EXH_ERROR_FAILED, "core PUT %s: gone", path);
			return FALSE;
		}
	}
	exh_log(G_LOG_LEVEL_INFO, NULL, "core: updated %s %s", what, w->uuid);
	return TRUE;
}

static gboolean
sync_dirty(ExhCoreBackend *self,
	   GHashTable *table,
	   const gchar *base,
	   const gchar *what,
	   gboolean *synced,
	   GError **error)
{
	g_autoptr(GPtrArray) work = snapshot(self, table, TRUE);

	for (guint i = 0; i < work->len; i++) {
		Work *w = work->pdata[i];
		ExhCoreItem *item;

		if (!sync_one(self, base, what, w, error))
			return FALSE;
		*synced = TRUE;
		g_mutex_lock(&self->lock);
		item = g_hash_table_lookup(table, w->uuid);
		if (item != NULL && item->gen == w->gen)
			item->synced_gen = w->gen;
		g_mutex_unlock(&self->lock);
	}
	return TRUE;
}

/* Core's statuses on ours (SCHEDULED, STARTED: still on the way). */
static gboolean
parse_status(JsonObject *obj, ExhInfraStatus *out)
{
	static const struct {
		const gchar *name;
		ExhInfraStatus status;
	} map[] = {
		{ "NEW", EXH_INFRA_STATUS_NEW },
		{ "SCHEDULED", EXH_INFRA_STATUS_IN_PROGRESS },
		{ "IN_PROGRESS", EXH_INFRA_STATUS_IN_PROGRESS },
		{ "STARTED", EXH_INFRA_STATUS_IN_PROGRESS },
		{ "ACTIVE", EXH_INFRA_STATUS_ACTIVE },
		{ "ERROR", EXH_INFRA_STATUS_ERROR },
	};
	const gchar *name = NULL;

	if (!exm_json_get_string(obj, "status", FALSE, &name, NULL, NULL) || name == NULL)
		return FALSE;
	for (guint i = 0; i < G_N_ELEMENTS(map); i++) {
		if (g_str_equal(name, map[i].name)) {
			*out = map[i].status;
			return TRUE;
		}
	}
	return FALSE;
}

/* Marks an item for a GET/POST/PUT on the next cycle (it vanished or drifted). */
static void
mark_dirty(ExhCoreBackend *self, GHashTable *table, const gchar *uuid, guint64 gen)
{
	ExhCoreItem *item;

	g_mutex_lock(&self->lock);
	item = g_hash_table_lookup(table, uuid);
	if (item != NULL && item->gen == gen)
		item->synced_gen = 0;
	g_mutex_unlock(&self->lock);
}

static gint
node_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp((*(ExhInfraNode *const *)a)->uuid, (*(ExhInfraNode *const *)b)->uuid);
}

/* `nodes {uuid: {ipv4?}}`; node names as Core makes them (<set>-node-<4>). */
static gboolean
parse_nodes(JsonObject *obj, ExhNodeSetActual *actual)
{
	JsonObject *nodes = NULL;
	g_autoptr(GList) names = NULL;

	if (!exm_json_get_object(obj, "nodes", &nodes, NULL, NULL) || nodes == NULL)
		return FALSE;
	names = json_object_get_members(nodes);
	for (GList *l = names; l != NULL; l = l->next) {
		JsonNode *entry = json_object_get_member(nodes, l->data);
		const gchar *ipv4 = NULL;
		ExhInfraNode *node;

		if (!exm_uuid_is_valid(l->data) || !JSON_NODE_HOLDS_OBJECT(entry) ||
		    !exm_json_get_string(
			    json_node_get_object(entry), "ipv4", TRUE, &ipv4, NULL, NULL))
			return FALSE;
		node = g_new0(ExhInfraNode, 1);
		node->uuid = g_strdup(l->data);
		node->name = g_strdup_printf("%s-node-%.4s", actual->target->name, node->uuid);
		node->ipv4 = g_strdup(ipv4);
		g_ptr_array_add(actual->nodes, node);
	}
	g_ptr_array_sort(actual->nodes, node_cmp);
	return TRUE;
}

/* The whole answer or nothing: a half-parsed set never reaches the cache. */
static ExhNodeSetActual *
parse_set(const gchar *uuid, JsonObject *obj, const gchar *path, GError **error)
{
	g_autoptr(ExhNodeSetActual) actual = exh_node_set_actual_new();
	g_autoptr(GError) local = NULL;

	actual->uuid = g_strdup(uuid);
	actual->target = exh_node_set_target_from_json(obj, &local);
	if (actual->target == NULL || !parse_status(obj, &actual->status) ||
	    !parse_nodes(obj, actual)) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_FAILED,
			    "core GET %s: the answer is not a NodeSet (%s)",
			    path,
			    local != NULL ? local->message : "status or nodes");
		return NULL;
	}
	if (actual->status == EXH_INFRA_STATUS_ERROR)
		actual->error = g_strdup("core reports the node set in ERROR");
	return g_steal_pointer(&actual);
}

static gboolean
keys_missing(ExhCoreBackend *self, ExhNodeSetActual *actual)
{
	gboolean missing = FALSE;

	g_mutex_lock(&self->lock);
	for (guint i = 0; i < actual->nodes->len && !missing; i++)
		missing = !g_hash_table_contains(self->keys,
						 ((ExhInfraNode *)actual->nodes->pdata[i])->uuid);
	g_mutex_unlock(&self->lock);
	return missing;
}

/* GET …/actions/get_private_keys (a GET action, no `invoke`): {node: key}. */
static gboolean
fetch_keys(ExhCoreBackend *self, const gchar *path, GError **error)
{
	g_autofree gchar *action = g_strconcat(path, "/actions/get_private_keys", NULL);
	g_autoptr(JsonNode) answer = NULL;
	g_autoptr(GList) names = NULL;
	JsonObject *obj;
	guint status = 0;

	if (!exh_core_client_call(self->client, "GET", action, NULL, &status, &answer, error))
		return FALSE;
	if (status == 404)
		return TRUE;
	if (!expect_object(answer, "keys", action, error))
		return FALSE;
	obj = json_node_get_object(answer);
	names = json_object_get_members(obj);
	for (GList *l = names; l != NULL; l = l->next) {
		JsonNode *key = json_object_get_member(obj, l->data);

		if (!JSON_NODE_HOLDS_VALUE(key) || json_node_get_value_type(key) != G_TYPE_STRING ||
		    strlen(json_node_get_string(key)) != 44) {
			g_set_error(error,
				    EXH_ERROR,
				    EXH_ERROR_FAILED,
				    "core GET %s: node %s has no 44-char key",
				    action,
				    (const gchar *)l->data);
			return FALSE;
		}
	}
	g_mutex_lock(&self->lock);
	for (GList *l = names; l != NULL; l = l->next)
		g_hash_table_replace(self->keys,
				     g_strdup(l->data),
				     g_strdup(json_object_get_string_member(obj, l->data)));
	g_mutex_unlock(&self->lock);
	return TRUE;
}

static gboolean
same_actual(const ExhNodeSetActual *a, const ExhNodeSetActual *b)
{
	if (a == NULL || b == NULL || a->status != b->status || a->nodes->len != b->nodes->len)
		return FALSE;
	for (guint i = 0; i < a->nodes->len; i++) {
		const ExhInfraNode *x = a->nodes->pdata[i], *y = b->nodes->pdata[i];

		if (g_strcmp0(x->uuid, y->uuid) != 0 || g_strcmp0(x->ipv4, y->ipv4) != 0 ||
		    g_strcmp0(x->private_key, y->private_key) != 0)
			return FALSE;
	}
	return TRUE;
}

/* Replaces the cached snapshot (keys filled in) and wakes the engine on a change. */
static void
store_set(ExhCoreBackend *self, Work *w, ExhNodeSetActual *actual, gboolean drifted)
{
	ExhCoreItem *item;
	gboolean changed = FALSE, failed = FALSE;

	g_mutex_lock(&self->lock);
	item = g_hash_table_lookup(self->sets, w->uuid);
	if (item != NULL) {
		for (guint i = 0; i < actual->nodes->len; i++) {
			ExhInfraNode *node = actual->nodes->pdata[i];

			node->private_key = g_strdup(g_hash_table_lookup(self->keys, node->uuid));
		}
		changed = !same_actual(item->actual, actual);
		failed = changed && actual->status == EXH_INFRA_STATUS_ERROR;
		exh_node_set_actual_free(item->actual);
		item->actual = actual;
		item->status = actual->status;
		if (drifted && item->gen == w->gen)
			item->synced_gen = 0;
	} else {
		exh_node_set_actual_free(actual);
	}
	g_mutex_unlock(&self->lock);
	if (failed)
		exh_log(G_LOG_LEVEL_MESSAGE,
			NULL,
			"core: node_set %s is in ERROR on core",
			w->uuid);
	if (changed)
		exh_infra_backend_emit_changed(&self->base, w->uuid);
}

static gboolean
poll_set(ExhCoreBackend *self, Work *w, GError **error)
{
	g_autofree gchar *path = g_strconcat(SETS, w->uuid, NULL);
	g_autoptr(JsonNode) core = NULL;
	ExhNodeSetActual *actual;
	guint status = 0;

	if (!exh_core_client_call(self->client, "GET", path, NULL, &status, &core, error))
		return FALSE;
	if (status == 404) {
		mark_dirty(self, self->sets, w->uuid, w->gen);
		return TRUE;
	}
	if (!expect_object(core, "NodeSet", path, error))
		return FALSE;
	actual = parse_set(w->uuid, json_node_get_object(core), path, error);
	if (actual == NULL)
		return FALSE;
	if (keys_missing(self, actual) && !fetch_keys(self, path, error)) {
		exh_node_set_actual_free(actual);
		return FALSE;
	}
	store_set(self, w, actual, differs(w->body, json_node_get_object(core)));
	return TRUE;
}

static gboolean
poll_config(ExhCoreBackend *self, Work *w, GError **error)
{
	g_autofree gchar *path = g_strconcat(CONFIGS, w->uuid, NULL);
	g_autoptr(JsonNode) core = NULL;
	ExhInfraStatus state = EXH_INFRA_STATUS_NEW;
	ExhCoreItem *item;
	gboolean changed = FALSE;
	guint status = 0;

	if (!exh_core_client_call(self->client, "GET", path, NULL, &status, &core, error))
		return FALSE;
	if (status == 404) {
		mark_dirty(self, self->configs, w->uuid, w->gen);
		return TRUE;
	}
	if (!expect_object(core, "Config", path, error))
		return FALSE;
	if (!parse_status(json_node_get_object(core), &state)) {
		g_set_error(
			error, EXH_ERROR, EXH_ERROR_FAILED, "core GET %s: no config status", path);
		return FALSE;
	}
	g_mutex_lock(&self->lock);
	item = g_hash_table_lookup(self->configs, w->uuid);
	if (item != NULL) {
		changed = !item->polled || item->status != state;
		item->status = state;
		item->polled = TRUE;
		if (differs(w->body, json_node_get_object(core)) && item->gen == w->gen)
			item->synced_gen = 0;
	}
	g_mutex_unlock(&self->lock);
	if (changed)
		exh_infra_backend_emit_changed(&self->base, w->uuid);
	return TRUE;
}

static gboolean
poll_all(ExhCoreBackend *self, GError **error)
{
	g_autoptr(GPtrArray) sets = snapshot(self, self->sets, FALSE);
	g_autoptr(GPtrArray) configs = snapshot(self, self->configs, FALSE);

	for (guint i = 0; i < sets->len; i++) {
		if (!poll_set(self, sets->pdata[i], error))
			return FALSE;
	}
	for (guint i = 0; i < configs->len; i++) {
		if (!poll_config(self, configs->pdata[i], error))
			return FALSE;
	}
	return TRUE;
}

/* One pass: deletes, then sets before configs (a config needs its node), then
 * the poll when it is due or something was just written. */
static gboolean
cycle(ExhCoreBackend *self, GError **error)
{
	gboolean synced = FALSE;

	if (!delete_doomed(self, self->doomed_configs, CONFIGS, error) ||
	    !delete_doomed(self, self->doomed_sets, SETS, error) ||
	    !sync_dirty(self, self->sets, SETS, "node_set", &synced, error) ||
	    !sync_dirty(self, self->configs, CONFIGS, "config", &synced, error))
		return FALSE;
	if (!synced && g_get_monotonic_time() < self->next_poll)
		return TRUE;
	self->next_poll = g_get_monotonic_time() + (gint64)self->config->poll_ms * 1000;
	return poll_all(self, error);
}

/* One log line per distinct failure, and one when Core answers again. */
static void
report(ExhCoreBackend *self, const GError *error)
{
	if (error == NULL) {
		if (self->last_error != NULL)
			exh_log(G_LOG_LEVEL_MESSAGE, NULL, "core backend: core answers again");
		g_clear_pointer(&self->last_error, g_free);
		self->backoff_ms = 0;
		return;
	}
	self->backoff_ms =
		self->backoff_ms == 0 ? BACKOFF_MIN_MS : MIN(self->backoff_ms * 2, BACKOFF_MAX_MS);
	/* a retry must not miss the poll it failed on */
	self->next_poll = 0;
	if (g_strcmp0(self->last_error, error->message) == 0)
		return;
	exh_log(G_LOG_LEVEL_MESSAGE,
		NULL,
		"core backend: %s; targets kept, retrying with backoff from %u ms",
		error->message,
		self->backoff_ms);
	g_free(self->last_error);
	self->last_error = g_strdup(error->message);
}

gpointer
exh_core_sync_worker(gpointer data)
{
	ExhCoreBackend *self = data;

	g_mutex_lock(&self->lock);
	while (!self->stopping) {
		g_autoptr(GError) error = NULL;
		gint64 until;

		self->wake = FALSE;
		g_mutex_unlock(&self->lock);
		cycle(self, &error);
		report(self, error);
		g_mutex_lock(&self->lock);
		until = error != NULL ? g_get_monotonic_time() + (gint64)self->backoff_ms * 1000
				      : self->next_poll;
		while (!self->stopping && (error != NULL || !self->wake) &&
		       g_get_monotonic_time() < until)
			g_cond_wait_until(&self->cond, &self->lock, until);
	}
	g_mutex_unlock(&self->lock);
	return NULL;
}
