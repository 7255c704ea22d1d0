/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * 32 parallel account creates and updates on one instance through the host
 * (HTTP clients → worker pool → mail plugin → PostgreSQL): no lost update,
 * clashes (including `Alice` after `alice`) are clean 409s, and the instance's
 * updated_at moves.  The plugin helper's tests/pg/test-plugin-concurrency.c
 * does the same through the ABI without HTTP.
 */
#include "exh-test.h"
#include "exm-test.h"

#include <string.h>

#define N_CLIENTS 32
/* 24 distinct usernames; clients 24..31 send a case variant of 0..7 */
#define N_UNIQUE 24

typedef struct {
	const gchar *base;
	const gchar *path;
	const gchar *method;
	gchar *body;
	GMutex *start_lock;
	GCond *start_cond;
	gboolean *go;
	guint status;
	gchar *reply;
} Call;

static gpointer
call_run(gpointer data)
{
	Call *c = data;
	g_autoptr(SoupSession) session = soup_session_new_with_options("timeout", 120, NULL);
	g_autofree gchar *url = g_strconcat(c->base, c->path, NULL);
	g_autoptr(SoupMessage) msg = soup_message_new(c->method, url);
	g_autoptr(GBytes) body = g_bytes_new(c->body, strlen(c->body));
	g_autoptr(GBytes) reply = NULL;
	g_autoptr(GError) error = NULL;

	soup_message_headers_replace(soup_message_get_request_headers(msg),
				     "Authorization",
				     "Bearer " EXH_TEST_TOKEN_OWNER);
	soup_message_set_request_body_from_bytes(msg, "application/json", body);
	/* all 32 start together */
	g_mutex_lock(c->start_lock);
	while (!*c->go)
		g_cond_wait(c->start_cond, c->start_lock);
	g_mutex_unlock(c->start_lock);
	reply = soup_session_send_and_read(session, msg, NULL, &error);
	if (reply == NULL)
		g_test_message("%s %s: %s", c->method, c->path, error->message);
	c->status = soup_message_get_status(msg);
	if (reply != NULL)
		c->reply = g_strndup(g_bytes_get_data(reply, NULL), g_bytes_get_size(reply));
	return NULL;
}

/* Runs @calls concurrently. */
static void
run_all(Call *calls, guint n)
{
	GMutex lock;
	GCond cond;
	gboolean go = FALSE;
	GThread *threads[N_CLIENTS];

	g_mutex_init(&lock);
	g_cond_init(&cond);
	for (guint i = 0; i < n; i++) {
		calls[i].start_lock = &lock;
		calls[i].start_cond = &cond;
		calls[i].go = &go;
		threads[i] = g_thread_new("call", call_run, &calls[i]);
	}
	g_mutex_lock(&lock);
	go = TRUE;
	g_cond_broadcast(&cond);
	g_mutex_unlock(&lock);
	for (guint i = 0; i < n; i++)
		g_thread_join(threads[i]);
	g_mutex_clear(&lock);
	g_cond_clear(&cond);
}

static gchar *
updated_at(ExhTest *t, const gchar *instance_path)
{
	g_autoptr(ExhTestResponse) r =
		exh_test_request(t, "GET", instance_path, EXH_TEST_TOKEN_OWNER, NULL);

	return g_strdup(exh_test_response_get_string(r, "updated_at"));
}

static gchar *
account_body(guint i, const gchar *hash)
{
	g_autofree gchar *name = g_strdup_printf("user%02u", i % N_UNIQUE);

	/* the duplicates differ only in case: usernames are case-insensitive */
	if (i >= N_UNIQUE)
		name[0] = 'U';
	return g_strdup_printf("{\"username\":\"%s\",\"password_hash\":\"%s\"}", name, hash);
}

static void
check_creates(ExhTest *t, Call *calls)
{
	guint created = 0;
	guint conflicts = 0;
	g_autofree gchar *rows = NULL;

	for (guint i = 0; i < N_CLIENTS; i++) {
		if (calls[i].status == 201)
			created++;
		else if (calls[i].status == 409) {
			conflicts++;
			g_assert_nonnull(strstr(calls[i].reply, "\"type\":\"ConflictRecords\""));
		} else {
			g_test_message("create %u: %u %s", i, calls[i].status, calls[i].reply);
		}
	}
	g_assert_cmpuint(created, ==, N_UNIQUE);
	g_assert_cmpuint(conflicts, ==, N_CLIENTS - N_UNIQUE);
	rows = exh_test_sql(t,
			    "SELECT count(DISTINCT lower(username)) || '/' || count(*) "
			    "FROM mail_accounts");
	g_assert_cmpstr(rows, ==, "24/24");
}

/* an operator's version and an owner's instance; returns the instance path */
static gchar *
create_instance(ExhTest *t)
{
	g_autofree gchar *version = NULL;
	g_autofree gchar *instance = NULL;
	g_autofree gchar *body = NULL;

	version = exh_test_create(t,
				  EXH_TEST_TOKEN_OPERATOR,
				  "/v1/types/mail/versions/",
				  "{\"name\":\"exim4_1\",\"image\":\"img\"}");
	body = g_strdup_printf("{\"name\":\"p\",\"domain\":\"example.com\",\"cpu\":1,\"ram\":1024,"
			       "\"disk_size\":10,\"version\":\"/v1/types/mail/versions/%s\"}",
			       version);
	instance = exh_test_create(t, EXH_TEST_TOKEN_OWNER, "/v1/types/mail/instances/", body);
	return g_strconcat("/v1/types/mail/instances/", instance, NULL);
}

/* the uuids of the created accounts into @ids; frees the calls' buffers */
static void
collect_ids(Call *calls, gchar **ids)
{
	for (guint i = 0, k = 0; i < N_CLIENTS; i++) {
		g_autoptr(JsonParser) p = json_parser_new();

		if (calls[i].status == 201 &&
		    json_parser_load_from_data(p, calls[i].reply, -1, NULL))
			ids[k++] = g_strdup(json_object_get_string_member(
				json_node_get_object(json_parser_get_root(p)), "uuid"));
		g_free(calls[i].body);
		g_free(calls[i].reply);
	}
}

/* 32 concurrent updates over the 24 accounts: every one lands */
static void
update_all(ExhTest *t, const gchar *accounts_path, gchar **ids)
{
	g_autofree gchar *inactive = NULL;
	Call calls[N_CLIENTS];

	memset(calls, 0, sizeof(calls));
	for (guint i = 0; i < N_CLIENTS; i++) {
		g_autofree gchar *path = g_strconcat(accounts_path, ids[i % N_UNIQUE], NULL);

		calls[i] = (Call){
			t->base_url, g_steal_pointer(&path), "PATCH", g_strdup("{\"active\":false}")
		};
	}
	run_all(calls, N_CLIENTS);
	for (guint i = 0; i < N_CLIENTS; i++) {
		if (calls[i].status != 200)
			g_test_message("update %u: %u %s", i, calls[i].status, calls[i].reply);
		g_assert_cmpuint(calls[i].status, ==, 200);
		g_free((gchar *)calls[i].path);
		g_free(calls[i].body);
		g_free(calls[i].reply);
	}
	inactive = exh_test_sql(t, "SELECT count(*) FROM mail_accounts WHERE NOT active");
	g_assert_cmpstr(inactive, ==, "24");
}

static void
test_parallel_accounts(void)
{
	ExhTestOptions options = { .workers = 8 };
	g_autoptr(ExhTest) t = exh_test_new(&options);
	const gchar *argv[] = { "openssl", "passwd", "-6", "-salt", "parallel", "pw", NULL };
	g_autofree gchar *hash = NULL;
	g_autofree gchar *instance_path = NULL;
	g_autofree gchar *accounts_path = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after_create = NULL;
	g_autofree gchar *after_update = NULL;
	gchar *ids[N_UNIQUE] = { NULL };
	Call calls[N_CLIENTS];

	if (t == NULL)
		return;
	if (exm_test_run(argv, &hash, NULL) != 0) {
		exm_test_peer_missing("openssl is not installed");
		return;
	}
	g_strstrip(hash);
	instance_path = create_instance(t);
	accounts_path = g_strconcat(instance_path, "/accounts/", NULL);
	before = updated_at(t, instance_path);

	memset(calls, 0, sizeof(calls));
	for (guint i = 0; i < N_CLIENTS; i++)
		calls[i] = (Call){ t->base_url, accounts_path, "POST", account_body(i, hash) };
	run_all(calls, N_CLIENTS);
	check_creates(t, calls);
	collect_ids(calls, ids);
	after_create = updated_at(t, instance_path);
	g_assert_cmpstr(after_create, >, before);

	update_all(t, accounts_path, ids);
	after_update = updated_at(t, instance_path);
	g_assert_cmpstr(after_update, >, after_create);
	for (guint i = 0; i < N_UNIQUE; i++)
		g_free(ids[i]);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/http/host/parallel-accounts", test_parallel_accounts);
	return g_test_run();
}
