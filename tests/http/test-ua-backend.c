/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The builder engine driving an infra backend (tests/host/infra/exh-backend.h):
 * an in-memory backend stands in for `local`/`core`.  The mail plugin's
 * NodeSet and Config targets reach it once per version (level-based, no
 * re-apply while nothing changes), its actual set comes back as the actual
 * `node_set` resource with the node key in `ua_node_encryption_keys`
 * (encryption required), the Config's status as the actual `config`, and
 * deleting the instance deletes the set and its keys.
 */
#include "exm-config.h"

#include <string.h>

#include "exh-test-backend.h"
#include "exh-builder.h"
#include "exh-ua-store.h"
#include "exh-test.h"
#include "exm-json.h"
#include "exm-test-pg.h"
#include "exm-test.h"
#include "exm-uuid.h"

/* ------------------------------------------------------------------ test */

static void
wait_sql(ExhTest *t, const gchar *sql, const gchar *want)
{
	gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
	g_autofree gchar *got = NULL;

	while (g_get_monotonic_time() < deadline) {
		g_free(got);
		got = exh_test_sql(t, sql);
		if (g_strcmp0(got, want) == 0)
			return;
		g_usleep(20000);
	}
	g_test_message("%s", sql);
	g_assert_cmpstr(got, ==, want);
}

static gchar *
create_instance(ExhTest *t)
{
	g_autofree gchar *version = exh_test_create(
		t,
		EXH_TEST_TOKEN_OPERATOR,
		"/v1/types/mail/versions/",
		"{\"name\": \"exim4_1\", \"image\": \"http://repo.local/mail.raw.zst\"}");
	g_autofree gchar *body =
		g_strdup_printf("{\"name\": \"m1\", \"project_id\": \"" EXH_TEST_PROJECT
				"\", \"domain\": \"example.org\", \"cpu\": 2, \"ram\": 2048, "
				"\"disk_size\": 10, \"version\": \"/v1/types/mail/versions/%s\"}",
				version);

	return exh_test_create(t, EXH_TEST_TOKEN_OWNER, "/v1/types/mail/instances/", body);
}

static void
check_applied(ExhTestBackend *f, const gchar *instance, gint64 data_disk)
{
	g_autofree gchar *name = g_strconcat("mailaas-dp-", instance, NULL);
	g_autofree gchar *config_name = g_strconcat("config-", EXH_TEST_BACKEND_NODE, NULL);
	g_autofree gchar *config = exm_uuid_v5(instance, config_name, NULL);
	ExhNodeSetTarget *set;
	ExhConfigTarget *cfg;
	ExhInfraDisk *root;
	ExhInfraDisk *data;

	g_mutex_lock(&f->lock);
	set = g_hash_table_lookup(f->sets, instance);
	g_assert_nonnull(set);
	g_assert_cmpstr(set->name, ==, name);
	g_assert_cmpuint(set->replicas, ==, 1);
	g_assert_cmpuint(set->cores, ==, 2);
	g_assert_cmpuint(set->ram, ==, 2048);
	g_assert_cmpuint(set->disks->len, ==, 2);
	root = set->disks->pdata[0];
	data = set->disks->pdata[1];
	g_assert_cmpint(root->size, ==, 6);
	g_assert_cmpstr(root->image, ==, "http://repo.local/mail.raw.zst");
	g_assert_cmpstr(root->label, ==, "root");
	g_assert_cmpint(data->size, ==, data_disk);
	g_assert_cmpstr(data->label, ==, "data");
	cfg = g_hash_table_lookup(f->configs, config);
	g_assert_nonnull(cfg);
	g_assert_cmpstr(cfg->node, ==, EXH_TEST_BACKEND_NODE);
	g_assert_cmpstr(cfg->path, ==, "/etc/exordos_metapaas/mail.env");
	g_assert_cmpstr(cfg->content, ==, "MAIL_DOMAIN=example.org\n");
	g_assert_cmpuint(cfg->mode, ==, 0640);
	g_assert_cmpstr(cfg->on_change, ==, "systemctl restart exordos-metapaas-mail-configure");
	g_mutex_unlock(&f->lock);
}

static void
test_backend(void)
{
	ExhTestBackend *f = exh_test_backend_new();
	ExhTestOptions options = { .agent_api = TRUE, .backend = &f->base };
	g_autoptr(ExhTest) t = exh_test_new(&options);
	g_autofree gchar *instance = NULL;
	g_autofree gchar *sql = NULL;
	g_autofree gchar *path = NULL;
	guint applies;

	if (t == NULL) {
		exh_infra_backend_free(&f->base);
		return;
	}
	instance = create_instance(t);
	/* the actual set and config come back; the node key is stored */
	sql = g_strdup_printf("SELECT status || ' ' || (value->'nodes'->'" EXH_TEST_BACKEND_NODE
			      "'->>'ipv4') FROM "
			      "ua_actual_resources WHERE kind = 'node_set' AND uuid = '%s'",
			      instance);
	wait_sql(t, sql, "ACTIVE 127.9.0.7");
	wait_sql(t, "SELECT status FROM ua_actual_resources WHERE kind = 'config'", "ACTIVE");
	wait_sql(t,
		 "SELECT private_key || ' ' || (encryption_disabled_until <= now() AT TIME ZONE "
		 "'utc')::text FROM ua_node_encryption_keys WHERE uuid = '" EXH_TEST_BACKEND_NODE
		 "'",
		 EXH_TEST_BACKEND_KEY " true");
	g_free(sql);
	sql = g_strdup_printf("SELECT array_to_string(ipsv4, ',') || ' ' || status FROM "
			      "mail_instances WHERE uuid = '%s'",
			      instance);
	wait_sql(t, sql, "127.9.0.7 IN_PROGRESS");
	check_applied(f, instance, 10);
	/* nothing changes: nothing is applied again */
	applies = exh_test_backend_count(f, &f->set_applies) +
		  exh_test_backend_count(f, &f->config_applies);
	g_usleep(2500 * 1000);
	g_assert_cmpuint(exh_test_backend_count(f, &f->set_applies) +
				 exh_test_backend_count(f, &f->config_applies),
			 ==,
			 applies);
	/* disk grow: the set is applied again with the new data disk */
	path = g_strdup_printf("/v1/types/mail/instances/%s", instance);
	g_autoptr(ExhTestResponse) u =
		exh_test_request(t, "PUT", path, EXH_TEST_TOKEN_OWNER, "{\"disk_size\": 30}");
	g_assert_cmpuint(u->status, ==, 200);
	g_free(sql);
	sql = g_strdup_printf("SELECT value->'disk_spec'->'disks'->1->>'size' FROM "
			      "ua_actual_resources WHERE kind = 'node_set' AND uuid = '%s'",
			      instance);
	wait_sql(t, sql, "30");
	check_applied(f, instance, 30);
	/* the backend reports the set failed: the instance is in ERROR */
	g_mutex_lock(&f->lock);
	f->failed = TRUE;
	g_mutex_unlock(&f->lock);
	exh_infra_backend_emit_changed(&f->base, instance);
	g_free(sql);
	sql = g_strdup_printf("SELECT status FROM mail_instances WHERE uuid = '%s'", instance);
	wait_sql(t, sql, "ERROR");
	g_mutex_lock(&f->lock);
	f->failed = FALSE;
	g_mutex_unlock(&f->lock);
	exh_infra_backend_emit_changed(&f->base, instance);
	wait_sql(t, sql, "IN_PROGRESS");
	/* delete: the backend deletes the set, the key and the actual rows go */
	g_autoptr(ExhTestResponse) d =
		exh_test_request(t, "DELETE", path, EXH_TEST_TOKEN_OWNER, NULL);
	g_assert_cmpuint(d->status, ==, 204);
	wait_sql(t, "SELECT count(*) FROM ua_actual_resources", "0");
	wait_sql(t, "SELECT count(*) FROM ua_node_encryption_keys", "0");
	g_assert_cmpuint(exh_test_backend_count(f, &f->set_deletes), ==, 1);
	g_clear_pointer(&t, exh_test_free);
	exh_infra_backend_free(&f->base);
}

/* ------------------------------------------------- the incremental bridge */

static gchar *
pg_value(const gchar *conninfo, const gchar *sql)
{
	g_autoptr(GError) error = NULL;
	gchar *value = exm_test_pg_exec(conninfo, sql, &error);

	g_assert_no_error(error);
	return value;
}

static void
pg_wait(const gchar *conninfo, const gchar *sql, const gchar *want)
{
	gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
	g_autofree gchar *got = NULL;

	while (g_get_monotonic_time() < deadline) {
		g_free(got);
		got = pg_value(conninfo, sql);
		if (g_strcmp0(got, want) == 0)
			return;
		g_usleep(20000);
	}
	g_test_message("%s", sql);
	g_assert_cmpstr(got, ==, want);
}

#define SET1 "00000000-0000-4000-8000-000000000001"
#define SET2 "00000000-0000-4000-8000-000000000002"
#define CFG1 "00000000-0000-4000-9000-000000000001"

/*
 * The bridge looks only at what happened (docs/scale.md §6): once every
 * target is handed over and ACTIVE, ticks ask the backend nothing; a
 * notification, a target changed or deleted by another connection reach the
 * backend and come back as actual rows.
 */
static void
test_incremental(void)
{
	ExhTestBackend *f = exh_test_backend_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *conninfo = NULL;
	PGconn *conn = NULL;
	ExhBuilder *builder = exh_test_backend_engine(f, 3, &conninfo, &conn);
	guint gets;

	if (builder == NULL) {
		exh_infra_backend_free(&f->base);
		return;
	}
	g_assert_true(exh_builder_start(builder, &error));
	g_assert_no_error(error);
	pg_wait(conninfo, "SELECT count(*) FROM ua_actual_resources WHERE status = 'ACTIVE'", "6");
	/* settled: two engine ticks (one a second) ask the backend nothing */
	g_usleep(300 * 1000);
	gets = exh_test_backend_count(f, &f->gets);
	g_usleep(2500 * 1000);
	g_assert_cmpuint(exh_test_backend_count(f, &f->gets), ==, gets);
	g_assert_cmpuint(exh_test_backend_count(f, &f->set_applies), ==, 3);
	g_assert_cmpuint(exh_test_backend_count(f, &f->config_applies), ==, 3);
	/* the backend says set 1 failed */
	g_mutex_lock(&f->lock);
	f->failed = TRUE;
	g_mutex_unlock(&f->lock);
	exh_infra_backend_emit_changed(&f->base, SET1);
	pg_wait(conninfo,
		"SELECT status FROM ua_actual_resources WHERE uuid = '" SET1 "'",
		"ERROR");
	/* an ERROR set is not settled: it is polled until it recovers */
	g_mutex_lock(&f->lock);
	f->failed = FALSE;
	g_mutex_unlock(&f->lock);
	pg_wait(conninfo,
		"SELECT status FROM ua_actual_resources WHERE uuid = '" SET1 "'",
		"ACTIVE");
	/* another connection changes a config: handed over again */
	g_free(pg_value(conninfo,
			"UPDATE ua_target_resources SET value = jsonb_set(value, "
			"'{body,content}', '\"v2\"'), hash = 'h1b' WHERE uuid = '" CFG1 "'"));
	pg_wait(conninfo,
		"SELECT value->'body'->>'content' FROM ua_actual_resources WHERE uuid = '" CFG1 "'",
		"v2");
	g_assert_cmpuint(exh_test_backend_count(f, &f->config_applies), ==, 4);
	/* …and deletes a set: the backend deletes it, its actual goes */
	g_free(pg_value(conninfo, "DELETE FROM ua_target_resources WHERE uuid = '" SET2 "'"));
	pg_wait(conninfo, "SELECT count(*) FROM ua_actual_resources WHERE uuid = '" SET2 "'", "0");
	g_assert_cmpuint(exh_test_backend_count(f, &f->set_deletes), ==, 1);
	exh_builder_stop(builder);
	exh_builder_free(builder);
	exh_infra_backend_free(&f->base);
	PQfinish(conn);
}

static guint
gets_of_tick(ExhBuilder *builder, PGconn *conn, ExhTestBackend *f)
{
	g_autoptr(GError) error = NULL;
	guint before = exh_test_backend_count(f, &f->gets);

	g_assert_true(exh_builder_tick(builder, conn, NULL, &error));
	g_assert_no_error(error);
	return exh_test_backend_count(f, &f->gets) - before;
}

/* A full pass reads every infra target once, not again on each of its later
 * ticks, which a backlog of marks (more than a tick takes) keeps going. */
static void
test_full_pass_once(void)
{
	ExhTestBackend *f = exh_test_backend_new();
	g_autofree gchar *conninfo = NULL;
	PGconn *conn = NULL;
	/* 1 200 targets, 1 200 marks: two batches */
	ExhBuilder *builder = exh_test_backend_engine(f, 600, &conninfo, &conn);

	if (builder == NULL) {
		exh_infra_backend_free(&f->base);
		return;
	}
	/* the first tick: a full pass, every target read and handed over */
	g_assert_cmpuint(gets_of_tick(builder, conn, f), ==, 1200);
	/* the pass goes on for the rest of the marks: only they are read */
	g_assert_cmpuint(gets_of_tick(builder, conn, f), <, 1200);
	/* settled, no marks left: nothing */
	gets_of_tick(builder, conn, f);
	g_assert_cmpuint(gets_of_tick(builder, conn, f), ==, 0);
	exh_builder_free(builder);
	exh_infra_backend_free(&f->base);
	PQfinish(conn);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/ua/backend/engine", test_backend);
	g_test_add_func("/ua/backend/incremental", test_incremental);
	g_test_add_func("/ua/backend/full-pass-once", test_full_pass_once);
	return g_test_run();
}
