/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The EM path (ABI minor 3, docs/em-path.md): one element-manifest resource
 * applied or read through the plugin's own REST dispatch, so a manifest gets
 * the REST API's validation, normalisation, hashing, parent touch and error
 * bodies.  An apply reads the resource first and writes only the fields whose
 * value differs (none: nothing is written); an absent resource is created.
 * The seal the host passes is stored with an account when the apply set one
 * of its read-hidden fields, and answered back on every call.
 */
#include "exm-plugin-private.h"

#include <stddef.h>
#include <string.h>

#include "exm-error.h"
#include "exm-json.h"
#include "exm-uuid.h"

#define EM_SEAL_MAX 4096

static const gchar *const em_all_perms[] = { "*.*.*", NULL };

/* One call on the resource: its model, its collection path and uuid. */
typedef struct {
	gpointer ctx;
	const ExordosPaasManifestRequest *req;
	const ExordosPaasModel *model;
	gchar *mount;
	gchar *coll; /* below the mount, e.g. `instances/<uuid>/accounts/` */
	gchar *uuid;
	JsonObject *value;
} EmCall;

static void
em_call_clear(EmCall *c)
{
	g_free(c->mount);
	g_free(c->coll);
	g_free(c->uuid);
	g_clear_pointer(&c->value, json_object_unref);
}

static void
em_fail(ExordosPaasRestResponse *out, const GError *error)
{
	g_autoptr(ExmRestResponse) resp = exm_rest_response_new();

	exm_rest_response_set_error(resp, error);
	memset(out, 0, sizeof(*out));
	out->status = resp->status;
	out->body = g_steal_pointer(&resp->body);
	out->body_len = out->body != NULL ? strlen(out->body) : 0;
}

static const ExordosPaasModel *
em_model(const gchar *model_kind)
{
	const ExordosPaasModel *const *models = exm_plugin_get_descriptor()->models;

	for (gsize i = 0; model_kind != NULL && models[i] != NULL; i++) {
		if (g_str_equal(models[i]->kind, model_kind))
			return models[i];
	}
	return NULL;
}

static const ExordosPaasAgentModel *
em_agent_model(const gchar *em_kind)
{
	const ExordosPaasPluginDescriptor *d = exm_plugin_get_descriptor();

	for (gsize i = 0; em_kind != NULL && d->agent_models[i] != NULL; i++) {
		const ExordosPaasAgentModel *am = d->agent_models[i];
		g_autofree gchar *sub = g_strdelimit(g_strdup(am->subpath), ".", '_');
		g_autofree gchar *name =
			g_strdup_printf("em_%s_types_%s_%s", d->element, d->slug, sub);

		if (g_str_equal(name, em_kind))
			return am;
	}
	return NULL;
}

/**
 * exm_plugin_em_model:
 * @em_kind: an Element Manager kind
 *
 * Returns: (transfer none) (nullable): the model the agent model map stores
 *   @em_kind as, %NULL when it names none
 */
const ExordosPaasModel *
exm_plugin_em_model(const gchar *em_kind)
{
	const ExordosPaasAgentModel *am = em_agent_model(em_kind);

	return am != NULL ? em_model(am->model_kind) : NULL;
}

static const ExordosPaasField *
em_field(const ExordosPaasModel *model, const gchar *name)
{
	for (gsize i = 0; model->fields[i] != NULL; i++) {
		if (g_str_equal(model->fields[i]->name, name))
			return model->fields[i];
	}
	return NULL;
}

/* The uuid a relationship value names: a path URI's last segment or a bare
 * uuid; NULL for anything else. */
static gchar *
em_ref_uuid(JsonNode *node)
{
	const gchar *s;
	const gchar *slash;

	if (node == NULL || JSON_NODE_TYPE(node) != JSON_NODE_VALUE ||
	    json_node_get_value_type(node) != G_TYPE_STRING)
		return NULL;
	s = json_node_get_string(node);
	slash = strrchr(s, '/');
	return exm_uuid_parse(slash != NULL ? slash + 1 : s, NULL);
}

/* A bare uuid in a relationship field becomes the REST API's path URI. */
static void
em_normalise_refs(EmCall *c)
{
	for (gsize i = 0; c->model->fields[i] != NULL; i++) {
		const ExordosPaasField *f = c->model->fields[i];
		const ExordosPaasModel *rel = em_model(f->related_kind);
		const gchar *text = NULL;
		g_autofree gchar *id = NULL;
		g_autofree gchar *uri = NULL;

		if (f->type != EXORDOS_PAAS_FIELD_RELATIONSHIP || rel == NULL ||
		    !exm_json_get_string(c->value, f->name, FALSE, &text, NULL, NULL) ||
		    !exm_uuid_is_valid(text))
			continue;
		id = exm_uuid_parse(text, NULL);
		uri = g_strdup_printf("%s%s%s", c->mount, rel->path, id);
		json_object_set_string_member(c->value, f->name, uri);
	}
}

/* The older manifest form `password_hash: <plaintext>` (upstream's
 * auto-hashing) is the plaintext `password`: a value that is no crypt string
 * (those start with `$`) cannot be a hash. */
static void
em_legacy_password(EmCall *c)
{
	const gchar *hash = NULL;

	if (em_field(c->model, "password") == NULL ||
	    json_object_has_member(c->value, "password") ||
	    !exm_json_get_string(c->value, "password_hash", FALSE, &hash, NULL, NULL) ||
	    hash == NULL || hash[0] == '$')
		return;
	json_object_set_string_member(c->value, "password", hash);
	json_object_remove_member(c->value, "password_hash");
}

/* ------------------------------------------------------------------ REST */

/* One request through the plugin's REST dispatch, as the platform: every
 * permission, no project scope. */
static void
em_rest(EmCall *c,
	const gchar *method,
	const gchar *path,
	const gchar *body,
	ExordosPaasRestResponse *out)
{
	const ExordosPaasPluginDescriptor *d = exm_plugin_get_descriptor();
	ExordosPaasIdentity who = { FALSE, NULL, NULL, em_all_perms, { NULL } };
	ExordosPaasRestRequest req = { 0 };

	req.struct_size = sizeof(req);
	req.method = method;
	req.path = path;
	req.content_type = body != NULL ? "application/json" : NULL;
	req.body = body;
	req.body_len = body != NULL ? strlen(body) : 0;
	req.base_url = "http://em.invalid";
	req.mount_prefix = c->mount;
	req.identity = &who;
	req.db = c->req->db;
	req.request_id = c->req->request_id;
	memset(out, 0, sizeof(*out));
	d->rest_dispatch(c->ctx, &req, out);
}

static void
em_clear(ExordosPaasRestResponse *resp)
{
	exm_plugin_get_descriptor()->rest_response_clear(NULL, resp);
}

static ExmRestStore
em_store(EmCall *c)
{
	ExmRestStore store = { c->req->db, NULL, NULL };

	return store;
}

/* The parent field of a nested collection path (`instances/{instance}/…`). */
static gchar *
em_parent_field(const ExordosPaasModel *model)
{
	const gchar *open = strchr(model->path, '{');
	const gchar *close = open != NULL ? strchr(open, '}') : NULL;

	return close != NULL ? g_strndup(open + 1, close - open - 1) : NULL;
}

/* The collection path with the parent's uuid in place of `{field}`. */
static gboolean
em_collection(EmCall *c, const gchar *parent, GError **error)
{
	const gchar *open = strchr(c->model->path, '{');
	const gchar *close = open != NULL ? strchr(open, '}') : NULL;

	if (close == NULL) {
		c->coll = g_strdup(c->model->path);
		return TRUE;
	}
	if (parent == NULL) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_PROPERTY_REQUIRED,
			    "%s: a nested resource names its parent",
			    c->req->kind);
		return FALSE;
	}
	c->coll = g_strdup_printf(
		"%.*s%s%s", (int)(open - c->model->path), c->model->path, parent, close + 1);
	return TRUE;
}

/* The stored parent of a nested resource (get and delete carry no value). */
static gboolean
em_stored_parent(EmCall *c, gchar **out, GError **error)
{
	g_autofree gchar *field = em_parent_field(c->model);
	g_autofree gchar *sql = NULL;
	g_autoptr(GPtrArray) params = g_ptr_array_new();
	ExmRestStore store = em_store(c);
	PGresult *res;

	*out = NULL;
	if (field == NULL)
		return TRUE;
	sql = g_strdup_printf(
		"SELECT \"%s\"::text FROM %s WHERE uuid = $1", field, c->model->table);
	g_ptr_array_add(params, c->uuid);
	res = exm_rest_store_exec(&store, &exm_plugin_account_model, sql, params, error);
	if (res == NULL)
		return FALSE;
	if (PQntuples(res) == 1)
		*out = g_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (*out == NULL)
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_NOT_FOUND,
			    "%s %s not found",
			    c->req->kind,
			    c->uuid);
	return *out != NULL;
}

/* ------------------------------------------------------------------ seals */

/* Seals are kept for the models with a read-hidden field (accounts). */
static gboolean
em_has_hidden(const ExordosPaasModel *model, JsonObject *value)
{
	for (gsize i = 0; model->fields[i] != NULL; i++) {
		const ExordosPaasField *f = model->fields[i];

		if (f->access_read == EXORDOS_PAAS_ACCESS_HIDDEN &&
		    (value == NULL || json_object_has_member(value, f->name)))
			return TRUE;
	}
	return FALSE;
}

static gboolean
em_seal_sql(EmCall *c, const gchar *sql, const gchar *seal, gchar **out, GError **error)
{
	g_autoptr(GPtrArray) params = g_ptr_array_new();
	ExmRestStore store = em_store(c);
	PGresult *res;

	g_ptr_array_add(params, c->uuid);
	if (seal != NULL)
		g_ptr_array_add(params, (gpointer)seal);
	res = exm_rest_store_exec(&store, &exm_plugin_account_model, sql, params, error);
	if (res == NULL)
		return FALSE;
	if (out != NULL && PQntuples(res) == 1)
		*out = g_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return TRUE;
}

/* After a write that set a read-hidden field: the host's seal of it. */
static gboolean
em_seal_store(EmCall *c, JsonObject *written, GError **error)
{
	const gchar *seal = c->req->seal;

	if (!g_str_equal(c->model->table, "mail_accounts") || !em_has_hidden(c->model, written))
		return TRUE;
	if (seal == NULL)
		return em_seal_sql(
			c, "DELETE FROM mail_account_seals WHERE account = $1", NULL, NULL, error);
	if (strlen(seal) > EM_SEAL_MAX || !g_str_is_ascii(seal)) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_VALIDATION,
			    "seal: at most %d printable characters",
			    EM_SEAL_MAX);
		return FALSE;
	}
	return em_seal_sql(c,
			   "INSERT INTO mail_account_seals (account, seal) VALUES ($1, $2) "
			   "ON CONFLICT (account) DO UPDATE SET seal = EXCLUDED.seal",
			   seal,
			   NULL,
			   error);
}

/* The stored seal as the answer's header. */
static gboolean
em_seal_answer(EmCall *c, ExordosPaasRestResponse *out, GError **error)
{
	g_autofree gchar *seal = NULL;
	gsize n = out->n_headers;

	if (!g_str_equal(c->model->table, "mail_accounts"))
		return TRUE;
	if (!em_seal_sql(c,
			 "SELECT seal FROM mail_account_seals WHERE account = $1",
			 NULL,
			 &seal,
			 error))
		return FALSE;
	if (seal == NULL)
		return TRUE;
	out->headers = g_renew(ExordosPaasHeader, out->headers, n + 1);
	out->headers[n].name = g_strdup(EXORDOS_PAAS_MANIFEST_SEAL_HEADER);
	out->headers[n].value = g_steal_pointer(&seal);
	out->n_headers = n + 1;
	return TRUE;
}

/* ------------------------------------------------------------------ apply */

/* The value's members that differ from the stored representation. */
static JsonObject *
em_diff(JsonObject *value, const gchar *stored_body)
{
	g_autoptr(JsonObject) stored =
		exm_json_parse_object(stored_body, strlen(stored_body), NULL);
	JsonObject *diff = json_object_new();
	g_autoptr(GList) names = json_object_get_members(value);

	for (GList *l = names; l != NULL; l = l->next) {
		JsonNode *want = json_object_get_member(value, l->data);
		JsonNode *have = stored != NULL ? json_object_get_member(stored, l->data) : NULL;

		if (have == NULL || !json_node_equal(want, have))
			json_object_set_member(diff, l->data, json_node_copy(want));
	}
	return diff;
}

static gchar *
em_object_text(JsonObject *obj)
{
	g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), obj);

	return exm_json_to_string(node);
}

/* A write (POST of the whole value, PUT of the difference), then the seal. */
static void
em_write(EmCall *c,
	 const gchar *method,
	 const gchar *path,
	 JsonObject *body,
	 ExordosPaasRestResponse *out)
{
	g_autofree gchar *text = em_object_text(body);
	g_autoptr(GError) error = NULL;

	em_rest(c, method, path, text, out);
	if (out->status >= 300)
		return;
	if (em_seal_store(c, body, &error) && em_seal_answer(c, out, &error))
		return;
	em_clear(out);
	em_fail(out, error);
}

static void
em_apply(EmCall *c, ExordosPaasRestResponse *out)
{
	g_autofree gchar *path = g_strconcat(c->coll, c->uuid, NULL);
	g_autoptr(JsonObject) diff = NULL;
	g_autoptr(GError) error = NULL;

	em_rest(c, "GET", path, NULL, out);
	if (out->status == 404) {
		em_clear(out);
		em_write(c, "POST", c->coll, c->value, out);
		return;
	}
	if (out->status != 200)
		return;
	diff = em_diff(c->value, out->body);
	if (json_object_get_size(diff) > 0) {
		em_clear(out);
		em_write(c, "PUT", path, diff, out);
	} else if (!em_seal_answer(c, out, &error)) {
		em_clear(out);
		em_fail(out, error);
	}
}

/* ------------------------------------------------------------------ entry */

static gboolean
em_request_ok(gconstpointer ctx, const ExordosPaasManifestRequest *req, GError **error)
{
	if (ctx == NULL || req == NULL ||
	    req->struct_size < offsetof(ExordosPaasManifestRequest, reserved) ||
	    req->kind == NULL || req->db == NULL || req->op > EXORDOS_PAAS_MANIFEST_LIST ||
	    (req->uuid == NULL) != (req->op == EXORDOS_PAAS_MANIFEST_LIST) ||
	    (req->op != EXORDOS_PAAS_MANIFEST_DELETE && req->op != EXORDOS_PAAS_MANIFEST_GET &&
	     req->value == NULL)) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_FAILED,
				    "the host passed an incomplete manifest request");
		return FALSE;
	}
	return TRUE;
}

/* The value's own uuid, when it names one, must be the resource's. */
static gboolean
em_value_uuid(EmCall *c, GError **error)
{
	const gchar *id = NULL;
	g_autofree gchar *canon = NULL;

	if (!exm_json_get_string(c->value, "uuid", FALSE, &id, NULL, error))
		return FALSE;
	canon = id != NULL ? exm_uuid_parse(id, NULL) : NULL;
	if (id != NULL && g_strcmp0(canon, c->uuid) != 0) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_NOT_EQUAL_UUID,
			    "uuid: the value names %s, the resource is %s",
			    id,
			    c->uuid);
		return FALSE;
	}
	json_object_set_string_member(c->value, "uuid", c->uuid);
	return TRUE;
}

/* Model, mount, value and collection of the call. */
static gboolean
em_prepare(EmCall *c, GError **error)
{
	const ExordosPaasPluginDescriptor *d = exm_plugin_get_descriptor();
	g_autofree gchar *field = NULL;
	g_autofree gchar *parent = NULL;

	c->model = exm_plugin_em_model(c->req->kind);
	c->uuid = exm_uuid_parse(c->req->uuid, NULL);
	c->mount = g_strdup_printf("/v1/types/%s/", d->slug);
	if (c->model == NULL || c->uuid == NULL) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_RESOURCE_NOT_FOUND,
			    "%s: no manifest kind of this plugin, or no uuid",
			    c->req->kind);
		return FALSE;
	}
	if (c->req->value == NULL)
		return em_stored_parent(c, &parent, error) && em_collection(c, parent, error);
	c->value = exm_json_parse_object(c->req->value, strlen(c->req->value), error);
	if (c->value == NULL || !em_value_uuid(c, error))
		return FALSE;
	em_normalise_refs(c);
	em_legacy_password(c);
	field = em_parent_field(c->model);
	if (field != NULL)
		parent = em_ref_uuid(json_object_get_member(c->value, field));
	return em_collection(c, parent, error);
}

/* The uuids of the kind whose filter field holds the value. */
static void
em_list(gpointer ctx, const ExordosPaasManifestRequest *req, ExordosPaasRestResponse *out)
{
	const ExordosPaasAgentModel *am = em_agent_model(req->kind);
	const ExordosPaasModel *model = am != NULL ? em_model(am->model_kind) : NULL;
	g_autoptr(GPtrArray) params = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *sql = NULL;
	ExmRestStore store = { req->db, NULL, NULL };
	PGresult *res = NULL;

	if (model == NULL)
		g_set_error(&error,
			    EXM_ERROR,
			    EXM_ERROR_RESOURCE_NOT_FOUND,
			    "%s: no manifest kind of this plugin",
			    req->kind);
	sql = model != NULL ? g_strdup_printf("SELECT uuid::text FROM %s WHERE \"%s\"::text = $1 "
					      "ORDER BY uuid",
					      model->table,
					      am->filter_field)
			    : NULL;
	g_ptr_array_add(params, (gpointer)req->value);
	if (sql != NULL)
		res = exm_rest_store_exec(&store, &exm_plugin_account_model, sql, params, &error);
	if (res == NULL) {
		em_fail(out, error);
		return;
	}
	json_builder_begin_array(b);
	for (int i = 0; i < PQntuples(res); i++)
		json_builder_add_string_value(b, PQgetvalue(res, i, 0));
	json_builder_end_array(b);
	PQclear(res);
	root = json_builder_get_root(b);
	out->status = 200;
	out->body = exm_json_to_string(root);
	out->body_len = strlen(out->body);
}

/**
 * exm_plugin_em_apply:
 * @ctx: the plugin's context
 * @request: the manifest resource
 * @response: (out caller-allocates): the answer
 *
 * The descriptor's #ExordosPaasPluginDescriptor.manifest_apply.
 */
void
exm_plugin_em_apply(gpointer ctx,
		    const ExordosPaasManifestRequest *request,
		    ExordosPaasRestResponse *response)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;
	EmCall c = { ctx, request, NULL, NULL, NULL, NULL, NULL };

	if (response == NULL)
		return;
	memset(response, 0, sizeof(*response));
	if (em_request_ok(ctx, request, NULL) && request->op == EXORDOS_PAAS_MANIFEST_LIST) {
		em_list(ctx, request, response);
		return;
	}
	if (!em_request_ok(ctx, request, &error) || !em_prepare(&c, &error)) {
		em_fail(response, error);
		em_call_clear(&c);
		return;
	}
	path = g_strconcat(c.coll, c.uuid, NULL);
	if (request->op == EXORDOS_PAAS_MANIFEST_DELETE) {
		em_rest(&c, "DELETE", path, NULL, response);
	} else if (request->op == EXORDOS_PAAS_MANIFEST_GET) {
		em_rest(&c, "GET", path, NULL, response);
		if (response->status == 200 && !em_seal_answer(&c, response, &error)) {
			em_clear(response);
			em_fail(response, error);
		}
	} else {
		em_apply(&c, response);
	}
	em_call_clear(&c);
}
