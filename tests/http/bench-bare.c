/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A benchmark tool, not a test (issue 18 item 6, docs/scale.md §8): the
 * physical limit the host is compared with.  A bare libsoup-3 server with the
 * host's shape (one loop thread, a pool of worker threads with one libpq
 * connection each, the message paused while a worker runs) doing only the
 * database work of two host requests on the host's own tables:
 *
 *   GET  /one/<instance>        one SELECT of the instance's row in its
 *                               project (autocommit), the row as JSON
 *   POST /accounts/<instance>   BEGIN, lock the parent, insert the account
 *                               (the body's username and password_hash),
 *                               touch the parent, COMMIT; 201 and the row
 *
 * No authentication, no validation, no plugin.  bench-host starts it on the
 * host's database: bench-bare --db CONNINFO --port PORT --workers N
 * --project UUID [--prepared].  With --prepared each connection prepares the
 * four statements once and runs them by name (the host prepares a statement
 * on its second use, common/rest/exm-rest-prepared.c); without, they run
 * unnamed, parsed and planned every time.  SIGTERM stops it.
 */
#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>
#include <libsoup/soup.h>
#include <string.h>

typedef struct {
	GAsyncQueue *conns;
	GThreadPool *pool;
	GMainContext *context;
	const gchar *project;
} Bare;

typedef struct {
	Bare *bare;
	SoupServerMessage *msg;
	gboolean post;
	gchar *instance;
	gchar *body;
	guint status;
	gchar *answer;
} Job;

/* The first row of @res as a JSON object of text values. */
static gchar *
row_json(PGresult *res)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(b);
	for (gint c = 0; c < PQnfields(res); c++) {
		json_builder_set_member_name(b, PQfname(res, c));
		if (PQgetisnull(res, 0, c))
			json_builder_add_null_value(b);
		else
			json_builder_add_string_value(b, PQgetvalue(res, 0, c));
	}
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	return json_to_string(root, FALSE);
}

/* The statements of the two requests; with --prepared, each connection
 * prepares them as "s0".."s3" and run() names them. */
static const gchar sql_get[] =
	"SELECT * FROM mail_instances WHERE uuid = $1::uuid AND project_id = $2::uuid";
static const gchar sql_lock[] = "SELECT 1 FROM mail_instances WHERE uuid = $1::uuid FOR UPDATE";
static const gchar sql_insert[] =
	"INSERT INTO mail_accounts (uuid, project_id, instance, username, password_hash, "
	"created_at, updated_at) VALUES (gen_random_uuid(), $2::uuid, $1::uuid, $3, $4, now(), "
	"now()) RETURNING *";
static const gchar sql_touch[] =
	"UPDATE mail_instances SET updated_at = now() WHERE uuid = $1::uuid";
static const gchar *const statements[] = { sql_get, sql_lock, sql_insert, sql_touch };
static const gint statement_params[] = { 2, 1, 4, 1 };

static gboolean use_prepared;

/* statements[@i]'s name on a connection, "s0".."s3" */
static void
statement_name(guint i, gchar name[3])
{
	name[0] = 's';
	name[1] = (gchar)('0' + i);
	name[2] = '\0';
}

static PGresult *
run(PGconn *conn, const gchar *sql, gint n, const gchar *const *params)
{
	for (guint i = 0; use_prepared && i < G_N_ELEMENTS(statements); i++) {
		if (sql == statements[i]) {
			gchar name[3];

			statement_name(i, name);
			return PQexecPrepared(conn, name, n, params, NULL, NULL, 0);
		}
	}
	return PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
}

static gboolean
prepare_all(PGconn *conn)
{
	for (guint i = 0; i < G_N_ELEMENTS(statements); i++) {
		gchar name[3];
		PGresult *res;
		gboolean good;

		statement_name(i, name);
		res = PQprepare(conn, name, statements[i], statement_params[i], NULL);
		good = PQresultStatus(res) == PGRES_COMMAND_OK;

		if (!good)
			g_printerr("bench-bare: prepare: %s", PQerrorMessage(conn));
		PQclear(res);
		if (!good)
			return FALSE;
	}
	return TRUE;
}

static gboolean
ok(PGresult *res)
{
	ExecStatusType s = PQresultStatus(res);

	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

static void
get_one(PGconn *conn, Job *job)
{
	const gchar *params[] = { job->instance, job->bare->project };
	PGresult *res = run(conn, sql_get, 2, params);

	job->status = !ok(res) ? 500 : PQntuples(res) == 1 ? 200 : 404;
	if (job->status == 200)
		job->answer = row_json(res);
	PQclear(res);
}

static gchar *
member(JsonObject *o, const gchar *name)
{
	return g_strdup(o != NULL && json_object_has_member(o, name)
				? json_object_get_string_member(o, name)
				: "");
}

static void
post_account(PGconn *conn, Job *job)
{
	g_autoptr(JsonNode) node = json_from_string(job->body != NULL ? job->body : "", NULL);
	JsonObject *o =
		node != NULL && JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
	g_autofree gchar *user = member(o, "username");
	g_autofree gchar *hash = member(o, "password_hash");
	const gchar *params[] = { job->instance, job->bare->project, user, hash };
	PGresult *res = run(conn, "BEGIN", 0, NULL);
	gboolean good = ok(res);

	PQclear(res);
	res = run(conn, sql_lock, 1, params);
	good = good && ok(res) && PQntuples(res) == 1;
	PQclear(res);
	res = good ? run(conn, sql_insert, 4, params) : NULL;
	good = good && ok(res);
	if (good)
		job->answer = row_json(res);
	PQclear(res);
	res = good ? run(conn, sql_touch, 1, params) : NULL;
	good = good && ok(res);
	PQclear(res);
	res = run(conn, good ? "COMMIT" : "ROLLBACK", 0, NULL);
	job->status = good && ok(res) ? 201 : 500;
	PQclear(res);
}

static gboolean
answer_cb(gpointer data)
{
	Job *job = data;

	if (job->answer != NULL) {
		gsize len = strlen(job->answer);

		soup_server_message_set_response(job->msg,
						 "application/json",
						 SOUP_MEMORY_TAKE,
						 g_steal_pointer(&job->answer),
						 len);
	}
	soup_server_message_set_status(job->msg, job->status, NULL);
	soup_server_message_unpause(job->msg);
	g_object_unref(job->msg);
	g_free(job->instance);
	g_free(job->body);
	g_free(job->answer);
	g_free(job);
	return G_SOURCE_REMOVE;
}

static void
worker(gpointer data, gpointer user_data)
{
	Job *job = data;
	PGconn *conn = g_async_queue_pop(job->bare->conns);

	if (job->post)
		post_account(conn, job);
	else
		get_one(conn, job);
	g_async_queue_push(job->bare->conns, conn);
	g_main_context_invoke(job->bare->context, answer_cb, job);
}

static void
handle(SoupServer *server,
       SoupServerMessage *msg,
       const char *path,
       GHashTable *query,
       gpointer data)
{
	Bare *bare = data;
	gboolean post = g_str_equal(soup_server_message_get_method(msg), "POST");
	const gchar *prefix = post ? "/accounts/" : "/one/";
	SoupMessageBody *body = soup_server_message_get_request_body(msg);
	Job *job;

	if (!g_str_has_prefix(path, prefix)) {
		soup_server_message_set_status(msg, 404, NULL);
		return;
	}
	job = g_new0(Job, 1);
	job->bare = bare;
	job->msg = g_object_ref(msg);
	job->post = post;
	job->instance = g_strdup(path + strlen(prefix));
	if (body != NULL && body->length > 0)
		job->body = g_strndup(body->data, body->length);
	soup_server_message_pause(msg);
	g_thread_pool_push(bare->pool, job, NULL);
}

static gboolean
stop_cb(gpointer data)
{
	g_main_loop_quit(data);
	return G_SOURCE_REMOVE;
}

static gboolean
open_conns(Bare *bare, const gchar *conninfo, gint workers)
{
	for (gint i = 0; i < workers; i++) {
		PGconn *conn = PQconnectdb(conninfo);

		if (PQstatus(conn) != CONNECTION_OK || (use_prepared && !prepare_all(conn))) {
			g_printerr("bench-bare: %s", PQerrorMessage(conn));
			PQfinish(conn);
			return FALSE;
		}
		g_async_queue_push(bare->conns, conn);
	}
	return TRUE;
}

int
main(int argc, char **argv)
{
	g_autofree gchar *conninfo = NULL;
	g_autofree gchar *project = NULL;
	gint port = 0;
	gint workers = 2;
	GOptionEntry entries[] = {
		{ "db", 0, 0, G_OPTION_ARG_STRING, &conninfo, "libpq conninfo", "CONNINFO" },
		{ "port", 0, 0, G_OPTION_ARG_INT, &port, "loopback port", "PORT" },
		{ "workers", 0, 0, G_OPTION_ARG_INT, &workers, "worker threads", "N" },
		{ "project",
		  0,
		  0,
		  G_OPTION_ARG_STRING,
		  &project,
		  "the instances' project",
		  "UUID" },
		{ "prepared",
		  0,
		  0,
		  G_OPTION_ARG_NONE,
		  &use_prepared,
		  "prepare the statements once per connection",
		  NULL },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- the bare endpoint");
	g_autoptr(GError) error = NULL;
	g_autoptr(SoupServer) server = NULL;
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	Bare bare = { g_async_queue_new(), NULL, g_main_context_default(), NULL };
	PGconn *conn;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error) || conninfo == NULL ||
	    project == NULL || port <= 0 || workers <= 0) {
		g_printerr("bench-bare: --db, --project, --port and --workers are needed\n");
		return 2;
	}
	bare.project = project;
	if (!open_conns(&bare, conninfo, workers))
		return 1;
	bare.pool = g_thread_pool_new(worker, NULL, workers, TRUE, &error);
	server = soup_server_new(NULL, NULL);
	soup_server_add_handler(server, NULL, handle, &bare, NULL);
	if (bare.pool == NULL ||
	    !soup_server_listen_local(server, (guint)port, SOUP_SERVER_LISTEN_IPV4_ONLY, &error)) {
		g_printerr("bench-bare: %s\n", error != NULL ? error->message : "no pool");
		return 1;
	}
	g_unix_signal_add(SIGTERM, stop_cb, loop);
	g_unix_signal_add(SIGINT, stop_cb, loop);
	g_main_loop_run(loop);
	soup_server_disconnect(server);
	g_thread_pool_free(bare.pool, FALSE, TRUE);
	while ((conn = g_async_queue_try_pop(bare.conns)) != NULL)
		PQfinish(conn);
	g_async_queue_unref(bare.conns);
	return 0;
}
