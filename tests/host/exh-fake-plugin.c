/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A fake PaaS plugin for the host's own tests, independent of the mail plugin.
 * Built in variants (meson c_args): the ABI major (FAKE_ABI_MAJOR), the slug
 * (FAKE_SLUG), the migration uuids (FAKE_UUID_PREFIX), a broken migration
 * (FAKE_BROKEN), one without the entry point (FAKE_NO_ENTRY) and one of ABI
 * minor 2 whose unused `openapi` slot holds a function that must never be
 * called (FAKE_MINOR2).
 *
 * Its subtree: `echo` answers what the host passed in; `write?name=N&status=S`
 * inserts a row into fake_a and answers S (default 201), so tests see COMMIT
 * and ROLLBACK; `sleep?ms=N` holds a worker; `backend` answers the PostgreSQL
 * backend pid; `headers` answers good and bad extra headers; `status?code=N`
 * answers N; `badtx` fails a statement yet answers 200; `lock` waits for advisory lock 4242 (a test
 * holds it to keep a worker busy); `state` answers how the host runs the
 * request (a transaction open, read-only, the transaction's start).  Every
 * path below `ro/` (`ro/state`, `ro/write`, `ro/backend`, `ro/begin`, which
 * opens a transaction and fails a statement in it yet answers 200) is
 * declared read-only (ABI minor 5, rest_route_flags).
 */
#include <glib.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "exordos-paas-plugin.h"

#ifndef FAKE_ABI_MAJOR
#define FAKE_ABI_MAJOR EXORDOS_PAAS_PLUGIN_ABI_MAJOR
#endif
#ifndef FAKE_SLUG
#define FAKE_SLUG "fake"
#endif
#ifdef FAKE_MINOR2
#define FAKE_ABI_MINOR 2
#else
#define FAKE_ABI_MINOR EXORDOS_PAAS_PLUGIN_ABI_MINOR
#endif
/* Migration identities; a second plugin needs its own (or the host refuses). */
#ifndef FAKE_UUID_PREFIX
#define FAKE_UUID_PREFIX "aaaaaaaa"
#endif
#define FAKE_UUID(n) FAKE_UUID_PREFIX "-0000-4000-8000-0000000000" n

static const gchar *const none[] = { NULL };
static const gchar *const dep_a[] = { FAKE_UUID("01"), NULL };
static const gchar *const dep_b[] = { FAKE_UUID("02"), NULL };

static const ExordosPaasMigration mig_a = {
	.uuid = FAKE_UUID("01"),
	.name = "0000-fake-a",
	.depends = none,
	.up_sql = "CREATE TABLE " FAKE_SLUG "_a (id SERIAL PRIMARY KEY, name TEXT NOT NULL);",
	.down_sql = "DROP TABLE " FAKE_SLUG "_a;",
};
static const ExordosPaasMigration mig_b = {
	.uuid = FAKE_UUID("02"),
	.name = "0001-fake-b",
	.depends = dep_a,
	.up_sql = "CREATE TABLE " FAKE_SLUG "_b (id INT REFERENCES " FAKE_SLUG "_a (id));"
		  "INSERT INTO " FAKE_SLUG "_a (name) VALUES ('seed');",
	.down_sql = "DROP TABLE " FAKE_SLUG "_b; DELETE FROM " FAKE_SLUG "_a WHERE name = 'seed';",
};
static const ExordosPaasMigration mig_c = {
	.uuid = FAKE_UUID("03"),
	.name = "0002-fake-c",
	.depends = dep_b,
	.up_sql = "ALTER TABLE " FAKE_SLUG "_b ADD COLUMN note TEXT;",
	.down_sql = "ALTER TABLE " FAKE_SLUG "_b DROP COLUMN note;",
};
#ifdef FAKE_BROKEN
static const ExordosPaasMigration mig_broken = {
	.uuid = FAKE_UUID("ff"),
	.name = "0003-fake-broken",
	.depends = dep_b,
	.up_sql = "CREATE TABLE " FAKE_SLUG "_broken (id INT); SELECT no_such_function();",
	.down_sql = "DROP TABLE " FAKE_SLUG "_broken;",
};
#endif

/* Deliberately not in dependency order: the host must sort them. */
static const ExordosPaasMigration *const migrations[] = {
	&mig_c,	     &mig_a, &mig_b,
#ifdef FAKE_BROKEN
	&mig_broken,
#endif
	NULL,
};

static const gchar *const permissions[] = { "fake.thing.read", NULL };

typedef struct {
	const ExordosPaasHost *host;
	gint dispatches;
} FakeCtx;

static gboolean
fake_init(const ExordosPaasHost *host, gpointer *out_ctx, gchar **out_error)
{
	FakeCtx *ctx;

	if (host->struct_size < sizeof(ExordosPaasHost) || host->log == NULL) {
		*out_error = g_strdup("host table too small");
		return FALSE;
	}
	ctx = g_new0(FakeCtx, 1);
	ctx->host = host;
	host->log(host->host_data, EXORDOS_PAAS_LOG_INFO, NULL, "fake plugin ready");
	*out_ctx = ctx;
	return TRUE;
}

static void
fake_shutdown(gpointer ctx)
{
	g_free(ctx);
}

static const gchar *
query_get(const ExordosPaasRestRequest *req, const gchar *key)
{
	for (gsize i = 0; i < req->n_query; i++) {
		if (g_str_equal(req->query[i].key, key))
			return req->query[i].value;
	}
	return NULL;
}

static void
set_json(ExordosPaasRestResponse *resp, guint status, JsonBuilder *b)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = json_builder_get_root(b);

	json_generator_set_root(gen, root);
	resp->status = status;
	resp->body = json_generator_to_data(gen, &resp->body_len);
}

static void
add_str(JsonBuilder *b, const gchar *name, const gchar *value)
{
	json_builder_set_member_name(b, name);
	if (value != NULL)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
}

static void
echo_identity(JsonBuilder *b, const ExordosPaasIdentity *id)
{
	json_builder_set_member_name(b, "anonymous");
	json_builder_add_boolean_value(b, id->anonymous);
	add_str(b, "user", id->user_uuid);
	add_str(b, "project", id->project_id);
	json_builder_set_member_name(b, "permissions");
	json_builder_begin_array(b);
	for (guint i = 0; id->permissions[i] != NULL; i++)
		json_builder_add_string_value(b, id->permissions[i]);
	json_builder_end_array(b);
}

static void
echo(const FakeCtx *ctx, const ExordosPaasRestRequest *req, ExordosPaasRestResponse *resp)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	add_str(b, "method", req->method);
	add_str(b, "path", req->path);
	json_builder_set_member_name(b, "query");
	json_builder_begin_array(b);
	for (gsize i = 0; i < req->n_query; i++) {
		json_builder_begin_array(b);
		json_builder_add_string_value(b, req->query[i].key);
		json_builder_add_string_value(b, req->query[i].value);
		json_builder_end_array(b);
	}
	json_builder_end_array(b);
	echo_identity(b, req->identity);
	json_builder_set_member_name(b, "body_len");
	json_builder_add_int_value(b, (gint64)req->body_len);
	add_str(b, "content_type", req->content_type);
	add_str(b, "base_url", req->base_url);
	add_str(b, "mount_prefix", req->mount_prefix);
	add_str(b, "infra_project", ctx->host->abi_minor >= 2 ? ctx->host->infra_project_id : NULL);
	json_builder_set_member_name(b, "in_transaction");
	json_builder_add_boolean_value(b, PQtransactionStatus(req->db) == PQTRANS_INTRANS);
	json_builder_set_member_name(b, "struct_size_ok");
	json_builder_add_boolean_value(b, req->struct_size >= sizeof(ExordosPaasRestRequest));
	json_builder_end_object(b);
	set_json(resp, 200, b);
}

static guint
status_param(const ExordosPaasRestRequest *req, const gchar *key, guint fallback)
{
	const gchar *text = query_get(req, key);

	return text != NULL ? (guint)g_ascii_strtoull(text, NULL, 10) : fallback;
}

static void
simple(ExordosPaasRestResponse *resp, guint status, const gchar *key, const gchar *value)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	add_str(b, key, value);
	json_builder_end_object(b);
	set_json(resp, status, b);
}

static void
write_row(const ExordosPaasRestRequest *req, ExordosPaasRestResponse *resp)
{
	const gchar *name = query_get(req, "name");
	const gchar *values[] = { name != NULL ? name : "row" };
	PGresult *res = PQexecParams(req->db,
				     "INSERT INTO " FAKE_SLUG "_a (name) VALUES ($1)",
				     1,
				     NULL,
				     values,
				     NULL,
				     NULL,
				     0);
	gboolean ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	PQclear(res);
	simple(resp, ok ? status_param(req, "status", 201) : 500, "name", values[0]);
}

static void
backend(const ExordosPaasRestRequest *req, ExordosPaasRestResponse *resp)
{
	PGresult *res =
		PQexecParams(req->db, "SELECT pg_backend_pid()", 0, NULL, NULL, NULL, NULL, 0);

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		simple(resp, 200, "pid", PQgetvalue(res, 0, 0));
	else
		simple(resp, 500, "error", "query failed");
	PQclear(res);
}

/* A statement that fails, then a 200 answer all the same (a plugin bug). */
static void
fail_then_answer(const ExordosPaasRestRequest *req, ExordosPaasRestResponse *resp)
{
	PGresult *res = PQexecParams(req->db,
				     "SELECT no_such_column FROM " FAKE_SLUG "_a",
				     0,
				     NULL,
				     NULL,
				     NULL,
				     NULL,
				     0);

	PQclear(res);
	simple(resp, 200, "oops", "yes");
}

/* A plugin bug: a failed statement, yet a 2xx answer. */
static void
bad_transaction(const ExordosPaasRestRequest *req, ExordosPaasRestResponse *resp)
{
	const gchar *values[] = { "w-bad" };
	PGresult *res = PQexecParams(req->db,
				     "INSERT INTO " FAKE_SLUG "_a (name) VALUES ($1)",
				     1,
				     NULL,
				     values,
				     NULL,
				     NULL,
				     0);

	PQclear(res);
	fail_then_answer(req, resp);
}

/*
 * How the host runs this request: libpq's view of the transaction, and the
 * server's: read-only, and whether two statements share a transaction (in
 * one, now() is its start for both; each its own, two readings).
 */
static void
state(const ExordosPaasRestRequest *req, ExordosPaasRestResponse *resp)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	gboolean in_tx = PQtransactionStatus(req->db) != PQTRANS_IDLE;
	PGresult *first = PQexecParams(req->db, "SELECT now()", 0, NULL, NULL, NULL, NULL, 0);
	const gchar *values[] = { PQresultStatus(first) == PGRES_TUPLES_OK ? PQgetvalue(first, 0, 0)
									   : "epoch" };
	PGresult *res = PQexecParams(req->db,
				     "SELECT current_setting('transaction_read_only'), "
				     "now() = $1::timestamptz, pg_backend_pid()",
				     1,
				     NULL,
				     values,
				     NULL,
				     NULL,
				     0);

	PQclear(first);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		simple(resp, 500, "error", "query failed");
		return;
	}
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "in_transaction");
	json_builder_add_boolean_value(b, in_tx);
	add_str(b, "read_only", PQgetvalue(res, 0, 0));
	add_str(b, "one_transaction", PQgetvalue(res, 0, 1));
	add_str(b, "pid", PQgetvalue(res, 0, 2));
	json_builder_end_object(b);
	PQclear(res);
	set_json(resp, 200, b);
}

/* A plugin bug on a read-only route: a transaction of its own, left failed. */
static void
begin_and_fail(const ExordosPaasRestRequest *req, ExordosPaasRestResponse *resp)
{
	PGresult *res = PQexecParams(req->db, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);

	PQclear(res);
	fail_then_answer(req, resp);
}

/* Blocks while a test holds advisory lock 4242 in this database. */
static void
lock(const ExordosPaasRestRequest *req, ExordosPaasRestResponse *resp)
{
	PGresult *res = PQexecParams(
		req->db, "SELECT pg_advisory_xact_lock(4242)", 0, NULL, NULL, NULL, NULL, 0);

	simple(resp, PQresultStatus(res) == PGRES_TUPLES_OK ? 200 : 500, "locked", "yes");
	PQclear(res);
}

static void
headers(ExordosPaasRestResponse *resp)
{
	resp->n_headers = 2;
	resp->headers = g_new0(ExordosPaasHeader, 2);
	resp->headers[0].name = g_strdup("X-Fake");
	resp->headers[0].value = g_strdup("yes");
	resp->headers[1].name = g_strdup("X-Evil");
	resp->headers[1].value = g_strdup("a\r\nSet-Cookie: x=1");
	simple(resp, 200, "headers", "2");
}

static void
fake_dispatch(gpointer ctx, const ExordosPaasRestRequest *req, ExordosPaasRestResponse *resp)
{
	const gchar *path = req->path;

	g_atomic_int_inc(&((FakeCtx *)ctx)->dispatches);
	if (g_str_has_prefix(path, "ro/"))
		path += 3;
	if (g_str_equal(path, "state"))
		state(req, resp);
	else if (g_str_equal(req->path, "ro/begin"))
		begin_and_fail(req, resp);
	else if (g_str_equal(path, "echo"))
		echo(ctx, req, resp);
	else if (g_str_equal(path, "write"))
		write_row(req, resp);
	else if (g_str_equal(req->path, "sleep")) {
		g_usleep(status_param(req, "ms", 100) * 1000);
		simple(resp, 200, "slept", "yes");
	} else if (g_str_equal(req->path, "badtx"))
		bad_transaction(req, resp);
	else if (g_str_equal(req->path, "lock"))
		lock(req, resp);
	else if (g_str_equal(path, "backend"))
		backend(req, resp);
	else if (g_str_equal(req->path, "headers"))
		headers(resp);
	else if (g_str_equal(req->path, "status"))
		simple(resp, status_param(req, "code", 200), "status", "set");
	else if (g_str_equal(req->path, "empty"))
		resp->status = 204;
	else
		simple(resp, 404, "type", "RecordNotFound");
}

static void
fake_response_clear(gpointer ctx, ExordosPaasRestResponse *resp)
{
	for (gsize i = 0; i < resp->n_headers; i++) {
		g_free(resp->headers[i].name);
		g_free(resp->headers[i].value);
	}
	g_free(resp->headers);
	g_free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

#ifndef FAKE_MINOR2
/* ABI minor 5: every path below `ro/` only reads. */
static guint32
fake_route_flags(gpointer ctx, const gchar *method, const gchar *path)
{
	return g_str_has_prefix(path, "ro/") ? EXORDOS_PAAS_ROUTE_FLAG_READ_ONLY
					     : EXORDOS_PAAS_ROUTE_FLAG_NONE;
}
#else
/* In the slot of a member minor 2 does not have: a host reading it is a bug. */
static gchar *
fake_openapi_poison(gpointer ctx, const gchar *version, const gchar *mount, gchar **out_error)
{
	g_error("the host called openapi of an ABI minor 2 plugin");
	return NULL;
}

static guint32
fake_route_flags_poison(gpointer ctx, const gchar *method, const gchar *path)
{
	g_error("the host called rest_route_flags of an ABI minor 2 plugin");
	return EXORDOS_PAAS_ROUTE_FLAG_NONE;
}
#endif

static const ExordosPaasPluginDescriptor descriptor = {
	.abi_major = FAKE_ABI_MAJOR,
	.abi_minor = FAKE_ABI_MINOR,
	.struct_size = sizeof(ExordosPaasPluginDescriptor),
	.slug = FAKE_SLUG,
	.element = FAKE_SLUG "aas",
	.version = "0.0.1",
	.migrations = migrations,
	.permissions = permissions,
	.init = fake_init,
	.shutdown = fake_shutdown,
	.rest_dispatch = fake_dispatch,
	.rest_response_clear = fake_response_clear,
#ifdef FAKE_MINOR2
	.openapi = fake_openapi_poison,
	/* never read either: a minor 2 plugin's requests all run in a transaction */
	.rest_route_flags = fake_route_flags_poison,
#else
	.rest_route_flags = fake_route_flags,
#endif
};

#ifndef FAKE_NO_ENTRY
EXORDOS_PAAS_PLUGIN_EXPORT const ExordosPaasPluginDescriptor *
exordos_paas_plugin_get_descriptor(void)
{
	return &descriptor;
}
#else
EXORDOS_PAAS_PLUGIN_EXPORT const ExordosPaasPluginDescriptor *exh_fake_something_else(void);
EXORDOS_PAAS_PLUGIN_EXPORT const ExordosPaasPluginDescriptor *
exh_fake_something_else(void)
{
	return &descriptor;
}
#endif
