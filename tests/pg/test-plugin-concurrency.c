/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * 32 dispatches at once on one instance, each on its own connection as the
 * host's workers run them: account writes serialise on the instance row, no
 * write is lost, username clashes are clean 409s, updated_at moves.
 */
#include <string.h>

#include "exm-test.h"
#include "test-plugin-fixture.h"

#define N_THREADS 32
#define N_UNIQUE  24

typedef struct {
	ExmFixture *f;
	const gchar *instance;
	guint index;
	const gchar *account; /* for updates */
	guint status;
	gchar *type;
} Job;

static gpointer
create_job(gpointer data)
{
	Job *job = data;
	PGconn *db = exm_fixture_connect(job->f);
	/* the last 8 reuse the first 8 names, half of them in another case */
	guint n = job->index < N_UNIQUE ? job->index : job->index - N_UNIQUE;
	g_autofree gchar *name = g_strdup_printf(job->index % 2 ? "User%02u" : "user%02u", n);
	g_autofree gchar *path = g_strdup_printf("instances/%s/accounts/", job->instance);
	g_autofree gchar *body =
		g_strdup_printf("{\"username\":\"%s\",\"password_hash\":\"%s\"}", name, EXM_HASH6);
	g_autoptr(ExmReply) r =
		exm_fixture_call(job->f, db, &exm_who_owner1, "POST", path, NULL, body);

	job->status = r->status;
	if (r->status >= 400)
		job->type = g_strdup(exm_reply_str(r, "type"));
	PQfinish(db);
	return NULL;
}

static gpointer
update_job(gpointer data)
{
	Job *job = data;
	PGconn *db = exm_fixture_connect(job->f);
	g_autofree gchar *path =
		g_strdup_printf("instances/%s/accounts/%s", job->instance, job->account);
	g_autoptr(ExmReply) r = exm_fixture_call(job->f,
						 db,
						 &exm_who_owner1,
						 "PUT",
						 path,
						 NULL,
						 "{\"active\":false,\"description\":\"touched\"}");

	job->status = r->status;
	PQfinish(db);
	return NULL;
}

static void
run_jobs(Job *jobs, GThreadFunc func)
{
	GThread *threads[N_THREADS];

	for (guint i = 0; i < N_THREADS; i++)
		threads[i] = g_thread_new("job", func, &jobs[i]);
	for (guint i = 0; i < N_THREADS; i++)
		g_thread_join(threads[i]);
}

static void
test_parallel_accounts(void)
{
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_autofree gchar *v1 = NULL;
	g_autofree gchar *i1 = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *sql = NULL;
	g_autoptr(GPtrArray) ids = NULL;
	Job jobs[N_THREADS] = { { 0 } };
	guint created = 0;
	guint clashes = 0;
	PGresult *res;

	if (f == NULL)
		return;
	v1 = exm_fixture_version(f, "exim4_1");
	i1 = exm_fixture_instance(f, &exm_who_owner1, NULL, v1, "m1");
	sql = g_strdup_printf("SELECT updated_at::text FROM mail_instances WHERE uuid = '%s'", i1);
	before = exm_fixture_scalar(f, sql);

	for (guint i = 0; i < N_THREADS; i++) {
		jobs[i].f = f;
		jobs[i].instance = i1;
		jobs[i].index = i;
	}
	run_jobs(jobs, create_job);
	for (guint i = 0; i < N_THREADS; i++) {
		if (jobs[i].status == 201)
			created++;
		else {
			g_assert_cmpuint(jobs[i].status, ==, 409);
			g_assert_cmpstr(jobs[i].type, ==, "ConflictRecords");
			clashes++;
		}
		g_free(jobs[i].type);
	}
	g_assert_cmpuint(created, ==, N_UNIQUE);
	g_assert_cmpuint(clashes, ==, N_THREADS - N_UNIQUE);
	g_assert_cmpint(exm_fixture_count(f, "mail_accounts"), ==, N_UNIQUE);
	g_assert_cmpint(
		exm_fixture_count(f, "mail_accounts WHERE username <> lower(username)"), ==, 0);
	after = exm_fixture_scalar(f, sql);
	g_assert_cmpstr(after, >, before);

	/* 32 concurrent updates over the 24 accounts: every one lands */
	res = PQexec(f->db, "SELECT uuid::text FROM mail_accounts ORDER BY username");
	g_assert_cmpint(PQntuples(res), ==, N_UNIQUE);
	ids = g_ptr_array_new_with_free_func(g_free);
	for (gint i = 0; i < PQntuples(res); i++)
		g_ptr_array_add(ids, g_strdup(PQgetvalue(res, i, 0)));
	PQclear(res);
	for (guint i = 0; i < N_THREADS; i++) {
		jobs[i].account = g_ptr_array_index(ids, i % N_UNIQUE);
		jobs[i].type = NULL;
	}
	g_free(before);
	before = g_steal_pointer(&after);
	run_jobs(jobs, update_job);
	for (guint i = 0; i < N_THREADS; i++)
		g_assert_cmpuint(jobs[i].status, ==, 200);
	g_assert_cmpint(exm_fixture_count(f, "mail_accounts WHERE active"), ==, 0);
	g_assert_cmpint(
		exm_fixture_count(f, "mail_accounts WHERE description = 'touched'"), ==, N_UNIQUE);
	after = exm_fixture_scalar(f, sql);
	g_assert_cmpstr(after, >, before);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/plugin/concurrency/parallel-accounts", test_parallel_accounts);
	return g_test_run();
}
