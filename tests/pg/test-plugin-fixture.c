/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "test-plugin-fixture.h"

#include <gmodule.h>
#include <string.h>

#include "exm-test-pg.h"
#include "exm-test.h"

static const gchar *const owner_perms[] = {
	"exordos_mail.mail_instance.create", "exordos_mail.mail_instance.read",
	"exordos_mail.mail_instance.update", "exordos_mail.mail_instance.delete",
	"exordos_mail.account.create",	     "exordos_mail.account.read",
	"exordos_mail.account.update",	     "exordos_mail.account.delete",
	"exordos_mail.mail_version.read",    NULL,
};
static const gchar *const all_perms[] = { "*.*.*", NULL };
static const gchar *const wild_perms[] = { "exordos_mail.*.*", NULL };
static const gchar *const read_perms[] = { "*.*.read", NULL };
static const gchar *const no_perms[] = { NULL };

const ExmWho exm_who_admin = { NULL, all_perms, FALSE };
const ExmWho exm_who_owner1 = { EXM_P1, owner_perms, FALSE };
const ExmWho exm_who_owner2 = { EXM_P2, owner_perms, FALSE };
const ExmWho exm_who_wild1 = { EXM_P1, wild_perms, FALSE };
const ExmWho exm_who_anon = { NULL, no_perms, TRUE };
const ExmWho exm_who_readonly1 = { EXM_P1, read_perms, FALSE };

void
exm_reply_free(ExmReply *reply)
{
	if (reply == NULL)
		return;
	g_free(reply->body);
	if (reply->json != NULL)
		json_node_unref(reply->json);
	g_hash_table_unref(reply->headers);
	g_free(reply);
}

static void
fixture_log(gpointer host_data,
	    ExordosPaasLogLevel level,
	    const gchar *request_id,
	    const gchar *msg)
{
	ExmFixture *f = host_data;

	g_assert_nonnull(msg);
	g_mutex_lock(&f->log_lock);
	g_ptr_array_add(f->logs, g_strdup(msg));
	g_mutex_unlock(&f->log_lock);
	g_test_message("plugin log [%d] %s: %s", level, request_id ? request_id : "-", msg);
}

const ExordosPaasPluginDescriptor *
exm_fixture_load_descriptor(GModule **module)
{
	ExordosPaasPluginGetDescriptorFunc get = NULL;

	*module = g_module_open(EXM_PLUGIN_PATH, G_MODULE_BIND_LOCAL);
	g_assert_nonnull(*module);
	g_assert_true(g_module_symbol(*module, EXORDOS_PAAS_PLUGIN_ENTRY_SYMBOL, (gpointer *)&get));
	g_assert_nonnull(get);
	return get();
}

/* What a host's migration runner does, reduced to the plugin's list. */
static void
fixture_migrate(ExmFixture *f)
{
	for (guint i = 0; f->desc->migrations[i] != NULL; i++) {
		const ExordosPaasMigration *m = f->desc->migrations[i];
		PGresult *res = PQexec(f->db, m->up_sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			g_error("migration %s: %s", m->name, PQresultErrorMessage(res));
		PQclear(res);
	}
}

ExmFixture *
exm_fixture_new(void)
{
	ExmTestPg *pg = exm_test_pg_get();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *err = NULL;
	ExmFixture *f;

	if (pg == NULL)
		return NULL;
	f = g_new0(ExmFixture, 1);
	g_mutex_init(&f->log_lock);
	f->logs = g_ptr_array_new_with_free_func(g_free);
	f->conninfo = exm_test_pg_create_database(pg, &error);
	g_assert_no_error(error);
	f->db = exm_fixture_connect(f);
	f->desc = exm_fixture_load_descriptor(&f->module);
	fixture_migrate(f);
	f->host.struct_size = sizeof(f->host);
	f->host.abi_major = EXORDOS_PAAS_PLUGIN_ABI_MAJOR;
	f->host.abi_minor = EXORDOS_PAAS_PLUGIN_ABI_MINOR;
	f->host.host_data = f;
	f->host.log = fixture_log;
	g_assert_true(f->desc->init(&f->host, &f->ctx, &err));
	g_assert_null(err);
	return f;
}

void
exm_fixture_free(ExmFixture *f)
{
	if (f == NULL)
		return;
	f->desc->shutdown(f->ctx);
	PQfinish(f->db);
	g_module_close(f->module);
	g_free(f->conninfo);
	g_ptr_array_unref(f->logs);
	g_mutex_clear(&f->log_lock);
	g_free(f);
}

PGconn *
exm_fixture_connect(ExmFixture *f)
{
	PGconn *db = PQconnectdb(f->conninfo);

	g_assert_cmpint(PQstatus(db), ==, CONNECTION_OK);
	return db;
}

static void
fixture_exec(PGconn *db, const gchar *sql)
{
	PGresult *res = PQexec(db, sql);

	g_assert_cmpint(PQresultStatus(res), ==, PGRES_COMMAND_OK);
	PQclear(res);
}

static GArray *
fixture_query(const gchar *query, GPtrArray *strings)
{
	GArray *params = g_array_new(FALSE, TRUE, sizeof(ExordosPaasQueryParam));
	g_auto(GStrv) pairs = NULL;

	if (query == NULL || *query == '\0')
		return params;
	pairs = g_strsplit(query, "&", -1);
	for (guint i = 0; pairs[i] != NULL; i++) {
		ExordosPaasQueryParam p;
		gchar *eq = strchr(pairs[i], '=');
		gchar *k = g_uri_unescape_segment(pairs[i], eq, NULL);
		gchar *v = g_uri_unescape_string(eq != NULL ? eq + 1 : "", NULL);
		g_assert_nonnull(k);
		g_assert_nonnull(v);
		g_ptr_array_add(strings, k);
		g_ptr_array_add(strings, v);
		p.key = k;
		p.value = v;
		g_array_append_val(params, p);
	}
	return params;
}

static void
fixture_check_shape(ExmReply *reply)
{
	JsonObject *o;

	if (reply->status == 204) {
		g_assert_null(reply->body);
		return;
	}
	g_assert_nonnull(reply->body);
	reply->json = json_from_string(reply->body, NULL);
	g_assert_nonnull(reply->json);
	if (reply->status < 400)
		return;
	/* {"type","code","message"} in that order, nothing else */
	g_assert_true(JSON_NODE_HOLDS_OBJECT(reply->json));
	o = json_node_get_object(reply->json);
	g_assert_cmpuint(json_object_get_size(o), ==, 3);
	g_assert_true(g_str_has_prefix(reply->body, "{\"type\":\""));
	g_assert_true(json_object_has_member(o, "code"));
	g_assert_true(json_object_has_member(o, "message"));
}

/* The plugin's answer copied into @reply; the answer is cleared. */
static void
fixture_reply(ExmFixture *f, ExordosPaasRestResponse *resp, ExmReply *reply)
{
	reply->status = resp->status;
	reply->body = g_strdup(resp->body);
	if (resp->body != NULL)
		g_assert_cmpuint(strlen(resp->body), ==, resp->body_len);
	reply->headers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	for (gsize i = 0; i < resp->n_headers; i++)
		g_hash_table_insert(reply->headers,
				    g_strdup(resp->headers[i].name),
				    g_strdup(resp->headers[i].value));
	f->desc->rest_response_clear(f->ctx, resp);
	g_assert_null(resp->body);
	g_assert_cmpuint(resp->n_headers, ==, 0);
	fixture_check_shape(reply);
}

ExmReply *
exm_fixture_call_len(ExmFixture *f,
		     PGconn *db,
		     const ExmWho *who,
		     const gchar *method,
		     const gchar *path,
		     const gchar *query,
		     const gchar *body,
		     gsize body_len,
		     const gchar *content_type)
{
	g_autoptr(GPtrArray) strings = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GArray) params = fixture_query(query, strings);
	ExordosPaasIdentity id = { 0 };
	ExordosPaasRestRequest req = { 0 };
	ExordosPaasRestResponse resp = { 0 };
	ExmReply *reply = g_new0(ExmReply, 1);

	db = db != NULL ? db : f->db;
	id.anonymous = who->anonymous;
	id.user_uuid = who->anonymous ? NULL : "00000000-0000-0000-0000-0000000000aa";
	id.project_id = who->project;
	id.permissions = who->perms;
	req.struct_size = sizeof(req);
	req.method = method;
	req.path = path;
	req.query = (const ExordosPaasQueryParam *)params->data;
	req.n_query = params->len;
	req.content_type = content_type;
	req.body = body;
	req.body_len = body_len;
	req.base_url = "http://127.0.0.1:8080";
	req.mount_prefix = "/v1/types/mail/";
	req.identity = &id;
	req.db = db;
	req.request_id = "test";
	fixture_exec(db, "BEGIN");
	f->desc->rest_dispatch(f->ctx, &req, &resp);
	fixture_exec(db, resp.status >= 200 && resp.status < 300 ? "COMMIT" : "ROLLBACK");

	fixture_reply(f, &resp, reply);
	return reply;
}

ExmReply *
exm_fixture_call(ExmFixture *f,
		 PGconn *db,
		 const ExmWho *who,
		 const gchar *method,
		 const gchar *path,
		 const gchar *query,
		 const gchar *body)
{
	return exm_fixture_call_len(
		f, db, who, method, path, query, body, body != NULL ? strlen(body) : 0, NULL);
}

void
exm_assert_error(ExmReply *reply, guint status, const gchar *type)
{
	if (reply->status != status)
		g_test_message("unexpected reply %u: %s", reply->status, reply->body);
	g_assert_cmpuint(reply->status, ==, status);
	g_assert_cmpstr(exm_reply_str(reply, "type"), ==, type);
}

static JsonObject *
reply_object(ExmReply *reply)
{
	g_assert_nonnull(reply->json);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(reply->json));
	return json_node_get_object(reply->json);
}

const gchar *
exm_reply_str(ExmReply *reply, const gchar *member)
{
	JsonObject *o = reply_object(reply);

	if (!json_object_has_member(o, member))
		return NULL;
	return json_object_get_string_member(o, member);
}

gint64
exm_reply_int(ExmReply *reply, const gchar *member)
{
	JsonObject *o = reply_object(reply);

	g_assert_true(json_object_has_member(o, member));
	return json_object_get_int_member(o, member);
}

gboolean
exm_reply_has(ExmReply *reply, const gchar *member)
{
	return json_object_has_member(reply_object(reply), member);
}

guint
exm_reply_len(ExmReply *reply)
{
	g_assert_nonnull(reply->json);
	g_assert_true(JSON_NODE_HOLDS_ARRAY(reply->json));
	return json_array_get_length(json_node_get_array(reply->json));
}

const gchar *
exm_reply_header(ExmReply *reply, const gchar *name)
{
	return g_hash_table_lookup(reply->headers, name);
}

gchar *
exm_fixture_scalar(ExmFixture *f, const gchar *sql)
{
	PGresult *res = PQexec(f->db, sql);
	gchar *v;

	g_assert_cmpint(PQresultStatus(res), ==, PGRES_TUPLES_OK);
	g_assert_cmpint(PQntuples(res), ==, 1);
	v = g_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

gint64
exm_fixture_count(ExmFixture *f, const gchar *table)
{
	g_autofree gchar *sql = g_strdup_printf("SELECT count(*) FROM %s", table);
	g_autofree gchar *v = exm_fixture_scalar(f, sql);

	return g_ascii_strtoll(v, NULL, 10);
}

gchar *
exm_fixture_version(ExmFixture *f, const gchar *name)
{
	g_autofree gchar *body = g_strdup_printf(
		"{\"name\":\"%s\",\"image\":\"http://img/%s.raw.zst\"}", name, name);
	g_autoptr(ExmReply) r =
		exm_fixture_call(f, NULL, &exm_who_admin, "POST", "versions/", NULL, body);

	exm_assert_status(r, 201);
	return g_strdup(exm_reply_str(r, "uuid"));
}

gchar *
exm_fixture_instance(ExmFixture *f,
		     const ExmWho *who,
		     const gchar *project,
		     const gchar *version,
		     const gchar *name)
{
	g_autofree gchar *proj =
		project != NULL ? g_strdup_printf("\"project_id\":\"%s\",", project) : g_strdup("");
	g_autofree gchar *body = g_strdup_printf(
		"{\"name\":\"%s\",%s\"domain\":\"example.com\",\"cpu\":2,\"ram\":2048,"
		"\"disk_size\":20,\"version\":\"/v1/types/mail/versions/%s\"}",
		name,
		proj,
		version);
	g_autoptr(ExmReply) r = exm_fixture_call(f, NULL, who, "POST", "instances/", NULL, body);

	if (r->status != 201)
		g_test_message("instance create: %u %s", r->status, r->body);
	exm_assert_status(r, 201);
	return g_strdup(exm_reply_str(r, "uuid"));
}

gchar *
exm_fixture_account(ExmFixture *f, const ExmWho *who, const gchar *instance, const gchar *username)
{
	g_autofree gchar *path = g_strdup_printf("instances/%s/accounts/", instance);
	g_autofree gchar *body = g_strdup_printf(
		"{\"username\":\"%s\",\"password_hash\":\"%s\"}", username, EXM_HASH6);
	g_autoptr(ExmReply) r = exm_fixture_call(f, NULL, who, "POST", path, NULL, body);

	if (r->status != 201)
		g_test_message("account create: %u %s", r->status, r->body);
	exm_assert_status(r, 201);
	return g_strdup(exm_reply_str(r, "uuid"));
}

/* ------------------------------------------------------------------ the paas builder */

#define TICK_NODE "5eed0000-1111-4222-8333-444455556666"
#define TICK_KEY  "v=DKIM1; h=sha256; k=rsa; p=QUJDREVGRw=="

typedef struct {
	gchar *patch;
	gchar *node;
} TickSink;

static void
tick_add_target(gpointer sink,
		const gchar *kind,
		const gchar *uuid,
		const gchar *value,
		const gchar *agent,
		const gchar *status)
{
	TickSink *s = sink;

	if (g_str_equal(kind, "mail_instance_node")) {
		g_free(s->node);
		s->node = g_strdup(value);
	}
}

static void
tick_set_instance(gpointer sink, const gchar *value, const gchar *status)
{
}

static void
tick_set_patch(gpointer sink, const gchar *patch)
{
	TickSink *s = sink;

	g_free(s->patch);
	s->patch = g_strdup(patch);
}

static void
tick_set_not_ready(gpointer sink, const gchar *reason)
{
	g_test_message("not ready: %s", reason);
}

gchar *
exm_fixture_paas_tick(ExmFixture *f,
		      const gchar *instance,
		      const gchar *name,
		      const gchar *member,
		      gchar **node)
{
	const ExordosPaasBuilder *b = f->desc->builders->builders[1];
	const gchar *ns_actual = "{\"status\": \"ACTIVE\", \"nodes\": {\"" TICK_NODE
				 "\": {\"uuid\": \"" TICK_NODE "\", \"ipv4\": \"127.9.0.1\"}}}";
	g_autofree gchar *node_actual = g_strdup_printf(
		"{\"uuid\": \"u\", \"name\": \"mail\", \"domain\": \"example.com\", "
		"\"accounts\": {}, \"dkim_public_key\": \"" TICK_KEY "\", \"dkim_selector\": "
		"\"platform\"%s%s%s%s}",
		member != NULL ? ", \"" : "",
		member != NULL ? name : "",
		member != NULL ? "\": " : "",
		member != NULL ? member : "");
	ExordosPaasResource ns_t = { "node_set", instance, "{}", "ACTIVE", "h0", "h0", NULL };
	ExordosPaasResource ns_a = { "node_set", instance, ns_actual, "ACTIVE", "h0", "h0", NULL };
	ExordosPaasResource node_t = { "mail_instance_node", "a", "{}", "NEW", "h1", "h1", "a" };
	ExordosPaasResource node_a = {
		"mail_instance_node", "a", node_actual, "ACTIVE", "h1", "h2", "a"
	};
	ExordosPaasResourcePair p0 = { &ns_t, &ns_a };
	ExordosPaasResourcePair p1 = { &node_t, &node_a };
	const ExordosPaasResourcePair *pairs[] = { &p0, &p1, NULL };
	ExordosPaasBuildView view = { sizeof(view), instance, pairs };
	TickSink s = { NULL, NULL };
	ExordosPaasBuildSink sink = { sizeof(sink),    &s,
				      tick_add_target, tick_set_instance,
				      tick_set_patch,  tick_set_not_ready };
	gpointer input = NULL;
	gchar *error = NULL;

	g_assert_cmpstr(b->kind, ==, "mail_instance");
	PQclear(PQexec(f->db, "BEGIN"));
	g_assert_true(b->load(f->ctx, f->db, instance, &input, &error));
	g_assert_null(error);
	g_assert_nonnull(input);
	g_assert_true(b->build(f->ctx, input, &view, &sink, &error));
	g_assert_null(error);
	if (s.patch != NULL && !b->apply(f->ctx, f->db, input, s.patch, &error))
		g_error("apply: %s", error);
	b->input_free(input);
	PQclear(PQexec(f->db, "COMMIT"));
	if (node != NULL)
		*node = g_steal_pointer(&s.node);
	g_free(s.node);
	return s.patch;
}

gboolean
exm_fixture_logs_lack(ExmFixture *f, const gchar *needle)
{
	gboolean ok = TRUE;

	g_mutex_lock(&f->log_lock);
	for (guint i = 0; i < f->logs->len; i++)
		ok = ok && strstr(g_ptr_array_index(f->logs, i), needle) == NULL;
	g_mutex_unlock(&f->log_lock);
	return ok;
}

/* ------------------------------------------------------------------ shared assertions */

/* The accounts collection of @instance. */
gchar *
exm_fixture_accounts_path(const gchar *instance)
{
	return g_strdup_printf("instances/%s/accounts/", instance);
}

/* A call without a query that must be refused with @status and @type. */
void
exm_fixture_assert_call_error(ExmFixture *f,
			      const ExmWho *who,
			      const gchar *method,
			      const gchar *path,
			      const gchar *body,
			      guint status,
			      const gchar *type)
{
	g_autoptr(ExmReply) r = exm_fixture_call(f, NULL, who, method, path, NULL, body);

	exm_assert_error(r, status, type);
}

/* GET instances/ with @query as owner1: 200 with @len items. */
void
exm_fixture_assert_list_len(ExmFixture *f, const gchar *query, guint len)
{
	g_autoptr(ExmReply) r =
		exm_fixture_call(f, NULL, &exm_who_owner1, "GET", "instances/", query, NULL);

	exm_assert_status(r, 200);
	g_assert_cmpuint(exm_reply_len(r), ==, len);
}

/* GET instances/ with @query as owner1: refused with @status and @type. */
void
exm_fixture_assert_list_error(ExmFixture *f, const gchar *query, guint status, const gchar *type)
{
	g_autoptr(ExmReply) r =
		exm_fixture_call(f, NULL, &exm_who_owner1, "GET", "instances/", query, NULL);

	exm_assert_error(r, status, type);
}

ExmReply *
exm_fixture_manifest(ExmFixture *f,
		     ExordosPaasManifestOp op,
		     const gchar *kind,
		     const gchar *uuid,
		     const gchar *value,
		     const gchar *seal)
{
	ExordosPaasManifestRequest req = { 0 };
	ExordosPaasRestResponse resp = { 0 };
	ExmReply *reply = g_new0(ExmReply, 1);

	g_assert_cmpuint(f->desc->abi_minor, >=, 3);
	g_assert_nonnull(f->desc->manifest_apply);
	req.struct_size = sizeof(req);
	req.op = op;
	req.kind = kind;
	req.uuid = uuid;
	req.value = value;
	req.seal = seal;
	req.db = f->db;
	req.request_id = "test-em";
	fixture_exec(f->db, "BEGIN");
	f->desc->manifest_apply(f->ctx, &req, &resp);
	fixture_exec(f->db, resp.status >= 200 && resp.status < 300 ? "COMMIT" : "ROLLBACK");
	fixture_reply(f, &resp, reply);
	return reply;
}

gchar *
exm_fixture_zone_lines(ExmReply *records, gboolean ptr)
{
	JsonArray *a = json_object_get_array_member(json_node_get_object(records->json), "records");
	GString *z = g_string_new(NULL);

	for (guint k = 0; k < json_array_get_length(a); k++) {
		JsonObject *r = json_array_get_object_element(a, k);
		const gchar *type = json_object_get_string_member(r, "type");
		const gchar *data = json_object_get_string_member(r, "data");
		/* every TXT of this instance fits one 255-byte string */
		g_autofree gchar *rdata =
			g_str_equal(type, "TXT") ? g_strdup_printf("\"%s\"", data) : g_strdup(data);

		if (g_str_equal(type, "PTR") == ptr)
			g_string_append_printf(z,
					       "%s. 3600 IN %s %s\n",
					       json_object_get_string_member(r, "fqdn"),
					       type,
					       rdata);
	}
	return g_string_free(z, FALSE);
}
