/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The core-agent's driver: the plugin's Element Manager kinds through
 * manifest_apply (docs/em-path.md).
 */
#include "exh-core-agent-driver.h"

#include <string.h>

#include "exm-error.h"
#include "exm-json.h"
#include "exm-secret.h"

typedef struct {
	const ExordosPaasPluginDescriptor *desc;
	gpointer plugin;
	PGconn *db;
	gchar *filter;
	ExhSealKey *key;
	GPtrArray *kinds; /* NULL-terminated */
} CoreDriver;

/* One answer of manifest_apply. */
typedef struct {
	guint status;
	gchar *body;
	gchar *seal;
} CoreAnswer;

static void
answer_clear(CoreAnswer *a)
{
	g_free(a->body);
	g_free(a->seal);
	memset(a, 0, sizeof(*a));
}

static gboolean
core_exec(PGconn *db, const gchar *sql)
{
	PGresult *res = PQexec(db, sql);
	gboolean ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	PQclear(res);
	return ok;
}

/* One manifest call in its own transaction (COMMIT on 2xx). */
static void
core_call(CoreDriver *d,
	  ExordosPaasManifestOp op,
	  const gchar *kind,
	  const gchar *uuid,
	  const gchar *value,
	  const gchar *seal,
	  CoreAnswer *out)
{
	ExordosPaasManifestRequest req = { 0 };
	ExordosPaasRestResponse resp = { 0 };
	gboolean ok;

	memset(out, 0, sizeof(*out));
	req.struct_size = sizeof(req);
	req.op = op;
	req.kind = kind;
	req.uuid = uuid;
	req.value = value;
	req.seal = seal;
	req.db = d->db;
	req.request_id = "core-agent";
	if (PQstatus(d->db) != CONNECTION_OK)
		PQreset(d->db); /* a lost connection is retried once per call */
	if (!core_exec(d->db, "BEGIN")) {
		out->status = 503;
		return;
	}
	d->desc->manifest_apply(d->plugin, &req, &resp);
	ok = resp.status >= 200 && resp.status < 300;
	if (!core_exec(d->db, ok ? "COMMIT" : "ROLLBACK") && ok)
		resp.status = 503;
	out->status = resp.status;
	out->body = g_strdup(resp.body);
	for (gsize i = 0; i < resp.n_headers; i++) {
		if (g_ascii_strcasecmp(resp.headers[i].name, EXORDOS_PAAS_MANIFEST_SEAL_HEADER) ==
		    0)
			out->seal = g_strdup(resp.headers[i].value);
	}
	d->desc->rest_response_clear(d->plugin, &resp);
}

static gboolean
answer_error(const gchar *what, const CoreAnswer *a, GError **error)
{
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_FAILED,
		    "%s: the plugin answered %u %s",
		    what,
		    a->status,
		    a->body != NULL ? a->body : "");
	return FALSE;
}

/* The model of an EM kind, for its read-hidden fields. */
static const ExordosPaasModel *
core_model(CoreDriver *d, const gchar *kind)
{
	for (gsize i = 0; d->desc->agent_models[i] != NULL; i++) {
		const ExordosPaasAgentModel *am = d->desc->agent_models[i];

		if (!g_str_equal(g_ptr_array_index(d->kinds, i), kind))
			continue;
		for (gsize j = 0; d->desc->models[j] != NULL; j++) {
			if (g_str_equal(d->desc->models[j]->kind, am->model_kind))
				return d->desc->models[j];
		}
	}
	return NULL;
}

/* The read-hidden members of @value (NULL when none). */
static JsonObject *
core_hidden(CoreDriver *d, const gchar *kind, JsonObject *value)
{
	const ExordosPaasModel *model = core_model(d, kind);
	JsonObject *hidden = NULL;

	for (gsize i = 0; model != NULL && model->fields[i] != NULL; i++) {
		const ExordosPaasField *f = model->fields[i];
		JsonNode *n = json_object_get_member(value, f->name);

		if (f->access_read != EXORDOS_PAAS_ACCESS_HIDDEN || n == NULL)
			continue;
		if (hidden == NULL)
			hidden = json_object_new();
		json_object_set_member(hidden, f->name, json_node_copy(n));
	}
	return hidden;
}

static gchar *
core_bound(const gchar *kind, const gchar *uuid)
{
	return g_strdup_printf("exordos-em-seal/v1\n%s\n%s", kind, uuid);
}

static gchar *
object_canonical(JsonObject *obj)
{
	g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), obj);

	return exm_json_canonical(node);
}

/* The opened seal of a stored resource, as the canonical text sealed. */
static gchar *
core_open(CoreDriver *d, const gchar *kind, const gchar *uuid, const gchar *seal)
{
	g_autofree gchar *bound = core_bound(kind, uuid);

	return seal != NULL ? exh_seal_open(d->key, bound, seal, NULL) : NULL;
}

/* The actual value: the plugin's representation plus the read-hidden members
 * the seal holds (the host alone can open it). */
static JsonObject *
core_actual(CoreDriver *d, const gchar *kind, const gchar *uuid, const CoreAnswer *a)
{
	g_autoptr(JsonObject) actual = exm_json_parse_object(a->body, strlen(a->body), NULL);
	g_autoptr(ExmSecret) opened = core_open(d, kind, uuid, a->seal);
	g_autoptr(JsonObject) hidden = NULL;
	g_autoptr(GList) names = NULL;

	if (actual == NULL || opened == NULL)
		return g_steal_pointer(&actual);
	hidden = exm_json_parse_object(opened, strlen(opened), NULL);
	names = hidden != NULL ? json_object_get_members(hidden) : NULL;
	for (GList *l = names; l != NULL; l = l->next)
		json_object_set_member(
			actual, l->data, json_node_copy(json_object_get_member(hidden, l->data)));
	return g_steal_pointer(&actual);
}

static GPtrArray *
core_list(ExmUaDriver *driver, const gchar *kind, GError **error)
{
	CoreDriver *d = driver->self;
	g_autoptr(GPtrArray) out =
		g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
	g_autoptr(JsonNode) ids = NULL;
	CoreAnswer a;

	core_call(d, EXORDOS_PAAS_MANIFEST_LIST, kind, NULL, d->filter, NULL, &a);
	ids = a.status == 200 ? json_from_string(a.body, NULL) : NULL;
	if (ids == NULL || !JSON_NODE_HOLDS_ARRAY(ids)) {
		answer_error(kind, &a, error);
		answer_clear(&a);
		return NULL;
	}
	answer_clear(&a);
	for (guint i = 0; i < json_array_get_length(json_node_get_array(ids)); i++) {
		const gchar *uuid = json_array_get_string_element(json_node_get_array(ids), i);
		JsonObject *actual;

		core_call(d, EXORDOS_PAAS_MANIFEST_GET, kind, uuid, NULL, NULL, &a);
		actual = a.status == 200 ? core_actual(d, kind, uuid, &a) : NULL;
		if (actual != NULL)
			g_ptr_array_add(out, actual);
		answer_clear(&a);
	}
	return g_steal_pointer(&out);
}

/* What a refusal reports: the stored state (if any), status ERROR and the
 * plugin's error body. */
static JsonObject *
core_refused(CoreDriver *d, const gchar *kind, const gchar *uuid, const CoreAnswer *a)
{
	CoreAnswer now;
	JsonObject *v;
	g_autoptr(JsonNode) err = a->body != NULL ? json_from_string(a->body, NULL) : NULL;

	core_call(d, EXORDOS_PAAS_MANIFEST_GET, kind, uuid, NULL, NULL, &now);
	v = now.status == 200 ? core_actual(d, kind, uuid, &now) : NULL;
	answer_clear(&now);
	if (v == NULL)
		v = json_object_new();
	json_object_set_string_member(v, "uuid", uuid);
	json_object_set_string_member(v, "status", "ERROR");
	if (err != NULL)
		json_object_set_member(v, "error", g_steal_pointer(&err));
	return v;
}

/* The value to send: read-hidden members the stored seal already holds are
 * left out (the plugin changes nothing for them); *seal is what to store. */
static JsonObject *
core_outgoing(CoreDriver *d, const gchar *kind, const gchar *uuid, JsonObject *value, gchar **seal)
{
	g_autoptr(JsonObject) hidden = core_hidden(d, kind, value);
	g_autoptr(ExmSecret) secret = NULL;
	g_autoptr(ExmSecret) opened = NULL;
	g_autofree gchar *bound = core_bound(kind, uuid);
	g_autoptr(GList) names = NULL;
	JsonObject *out = json_object_new();
	CoreAnswer a;

	names = json_object_get_members(value);
	for (GList *l = names; l != NULL; l = l->next)
		json_object_set_member(
			out, l->data, json_node_copy(json_object_get_member(value, l->data)));
	if (hidden == NULL)
		return out;
	secret = object_canonical(hidden);
	core_call(d, EXORDOS_PAAS_MANIFEST_GET, kind, uuid, NULL, NULL, &a);
	opened = core_open(d, kind, uuid, a.seal);
	if (opened != NULL && g_str_equal(opened, secret)) {
		g_clear_pointer(&names, g_list_free);
		names = json_object_get_members(hidden);
		for (GList *l = names; l != NULL; l = l->next)
			json_object_remove_member(out, l->data);
		*seal = g_steal_pointer(&a.seal);
	} else {
		*seal = exh_seal_close(d->key, bound, secret);
	}
	answer_clear(&a);
	return out;
}

static JsonObject *
core_apply(ExmUaDriver *driver, const gchar *kind, JsonObject *value, GError **error)
{
	CoreDriver *d = driver->self;
	const gchar *uuid = NULL;
	g_autofree gchar *seal = NULL;
	g_autoptr(JsonObject) out = NULL;
	g_autoptr(ExmSecret) text = NULL;
	JsonObject *actual;
	CoreAnswer a;

	if (!exm_json_get_string(value, "uuid", FALSE, &uuid, NULL, error))
		return NULL;
	if (uuid == NULL) {
		answer_error(kind, &(CoreAnswer){ 400, NULL, NULL }, error);
		return NULL;
	}
	out = core_outgoing(d, kind, uuid, value, &seal);
	text = object_canonical(out);
	core_call(d, EXORDOS_PAAS_MANIFEST_CREATE, kind, uuid, text, seal, &a);
	if (a.status >= 500) {
		answer_error(kind, &a, error);
		answer_clear(&a);
		return NULL;
	}
	actual = a.status < 300 ? core_actual(d, kind, uuid, &a) : core_refused(d, kind, uuid, &a);
	answer_clear(&a);
	return actual;
}

static gboolean
core_remove(ExmUaDriver *driver, const gchar *kind, JsonObject *value, GError **error)
{
	CoreDriver *d = driver->self;
	const gchar *uuid = NULL;
	gboolean ok;
	CoreAnswer a;

	if (!exm_json_get_string(value, "uuid", FALSE, &uuid, NULL, error))
		return FALSE;
	if (uuid == NULL)
		return answer_error(kind, &(CoreAnswer){ 400, NULL, NULL }, error);
	core_call(d, EXORDOS_PAAS_MANIFEST_DELETE, kind, uuid, NULL, NULL, &a);
	ok = a.status == 204 || a.status == 404 || answer_error(kind, &a, error);
	answer_clear(&a);
	return ok;
}

static const gchar *const *
core_kinds(ExmUaDriver *driver)
{
	CoreDriver *d = driver->self;

	return (const gchar *const *)d->kinds->pdata;
}

static void
core_destroy(ExmUaDriver *driver)
{
	CoreDriver *d = driver->self;

	PQfinish(d->db);
	g_free(d->filter);
	exh_seal_key_free(d->key);
	g_ptr_array_unref(d->kinds);
	g_free(d);
	g_free(driver);
}

ExmUaDriver *
exh_core_agent_driver_new(const ExordosPaasPluginDescriptor *desc,
			  gpointer plugin_ctx,
			  PGconn *db,
			  const gchar *filter,
			  ExhSealKey *key,
			  GError **error)
{
	ExmUaDriver *driver;
	CoreDriver *d;

	if (desc->abi_minor < 3 || desc->manifest_apply == NULL) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_FAILED,
			    "plugin %s takes no manifest resources (ABI minor %u < 3)",
			    desc->slug,
			    desc->abi_minor);
		PQfinish(db);
		exh_seal_key_free(key);
		return NULL;
	}
	d = g_new0(CoreDriver, 1);
	d->desc = desc;
	d->plugin = plugin_ctx;
	d->db = db;
	d->filter = g_strdup(filter);
	d->key = key;
	d->kinds = g_ptr_array_new_with_free_func(g_free);
	for (gsize i = 0; desc->agent_models[i] != NULL; i++) {
		g_autofree gchar *sub =
			g_strdelimit(g_strdup(desc->agent_models[i]->subpath), ".", '_');

		g_ptr_array_add(
			d->kinds,
			g_strdup_printf("em_%s_types_%s_%s", desc->element, desc->slug, sub));
	}
	g_ptr_array_add(d->kinds, NULL);
	driver = g_new0(ExmUaDriver, 1);
	driver->name = EXH_CORE_AGENT_DRIVER;
	driver->kinds = core_kinds;
	driver->list = core_list;
	driver->create = core_apply;
	driver->update = core_apply;
	driver->remove = core_remove;
	driver->destroy = core_destroy;
	driver->self = d;
	return driver;
}
