/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The reference host's migration runner and plugin loading on a real
 * PostgreSQL: up/down/up, dependency order, re-running as a no-op, a failing
 * migration, concurrent hosts, graph errors, and ABI refusal.
 */
#include "exh-migrate.h"
#include "exh-test.h"
#include "exm-test.h"

#define MIG_A	 "aaaaaaaa-0000-4000-8000-000000000001"
#define MIG_B	 "aaaaaaaa-0000-4000-8000-000000000002"
#define MIG_C	 "aaaaaaaa-0000-4000-8000-000000000003"
#define MIG_HOST "4d657461-0000-0000-0000-000000000010"
/* the host's second: why the type reconciler refused a row */
#define MIG_HOST_ERRORS "65786800-0000-4000-8000-000000000010"

/* Plugin paths for fake-plugin variants; an absolute path is taken as is. */
static gchar **
plugin_paths(const gchar *const *variants)
{
	GPtrArray *plugins = g_ptr_array_new();

	for (guint i = 0; variants != NULL && variants[i] != NULL; i++)
		g_ptr_array_add(plugins,
				g_str_has_prefix(variants[i], "/")
					? g_strdup(variants[i])
					: exh_test_fake_plugin_path(variants[i]));
	g_ptr_array_add(plugins, NULL);
	return (gchar **)g_ptr_array_free(plugins, FALSE);
}

/* A config with the given plugin variants; the database is not contacted. */
static ExhHostConfig *
config_offline(const gchar *const *variants)
{
	ExhHostConfig *config = exh_host_config_new();

	config->conninfo = g_strdup("dbname=unused");
	g_strfreev(config->plugins);
	config->plugins = plugin_paths(variants);
	return config;
}

/* A config on a fresh database with the given plugin variants. */
static ExhHostConfig *
config_for(ExmTestPg *pg, const gchar *const *variants)
{
	ExhHostConfig *config = exh_host_config_new();
	g_autoptr(GError) error = NULL;

	config->conninfo = exm_test_pg_create_database(pg, &error);
	g_assert_no_error(error);
	config->port = 0;
	g_strfreev(config->plugins);
	config->plugins = plugin_paths(variants);
	return config;
}

static gchar *
sql(const gchar *conninfo, const gchar *query)
{
	g_autoptr(GError) error = NULL;
	gchar *v = exm_test_pg_exec(conninfo, query, &error);

	g_assert_no_error(error);
	return v;
}

static void
assert_sql(const gchar *conninfo, const gchar *query, const gchar *expected)
{
	g_autofree gchar *v = sql(conninfo, query);

	g_assert_cmpstr(v, ==, expected);
}

/* All five migrations (the host's two, the plugin's three) applied: A's seed row once, C's column
 * present. */
static void
assert_all_up(const gchar *conninfo)
{
	assert_sql(conninfo, "SELECT count(*) FROM ra_migrations WHERE applied", "5");
	assert_sql(conninfo, "SELECT count(*) FROM fake_a", "1");
	assert_sql(conninfo,
		   "SELECT count(*) FROM information_schema.columns "
		   "WHERE table_name = 'fake_b' AND column_name = 'note'",
		   "1");
}

static void
test_migrate_up_down_up(void)
{
	static const gchar *const variants[] = { "", NULL };
	ExmTestPg *pg = exm_test_pg_get();
	g_autoptr(ExhHostConfig) config = NULL;
	g_autoptr(ExhHost) host = NULL;
	g_autoptr(GError) error = NULL;

	if (pg == NULL)
		return;
	config = config_for(pg, variants);
	host = exh_host_new(config, &error);
	g_assert_no_error(error);
	g_assert_true(exh_host_migrate(host, &error));
	g_assert_no_error(error);

	/* the host's two and the plugin's three, in dependency order */
	assert_all_up(config->conninfo);
	assert_sql(config->conninfo,
		   "SELECT string_agg(uuid, ',' ORDER BY uuid) FROM ra_migrations WHERE applied",
		   MIG_HOST "," MIG_HOST_ERRORS "," MIG_A "," MIG_B "," MIG_C);
	assert_sql(config->conninfo,
		   "SELECT name || ':' || element_name || ':' || status FROM metapaas_paas_types",
		   "fake:fakeaas:ACTIVE");

	/* re-running is a no-op: B's seed row is not inserted twice */
	g_assert_true(exh_host_migrate(host, &error));
	g_assert_no_error(error);
	assert_sql(config->conninfo, "SELECT count(*) FROM fake_a", "1");

	/* rolling back C only leaves A and B */
	g_assert_true(exh_host_rollback_migration(host, MIG_C, &error));
	g_assert_no_error(error);
	assert_sql(config->conninfo,
		   "SELECT count(*) FROM information_schema.columns "
		   "WHERE table_name = 'fake_b' AND column_name = 'note'",
		   "0");
	assert_sql(config->conninfo,
		   "SELECT applied::text FROM ra_migrations WHERE uuid = '" MIG_C "'",
		   "false");
	assert_sql(config->conninfo, "SELECT to_regclass('fake_b') IS NOT NULL", "t");

	/* rolling back A takes its dependents B (and C, already down) with it */
	g_assert_true(exh_host_rollback_migration(host, MIG_A, &error));
	g_assert_no_error(error);
	assert_sql(config->conninfo, "SELECT to_regclass('fake_a') IS NULL", "t");
	assert_sql(config->conninfo, "SELECT to_regclass('fake_b') IS NULL", "t");
	assert_sql(config->conninfo, "SELECT count(*) FROM ra_migrations WHERE NOT applied", "3");
	/* rows are kept, never deleted */
	assert_sql(config->conninfo, "SELECT count(*) FROM ra_migrations", "5");

	/* and up again */
	g_assert_true(exh_host_migrate(host, &error));
	g_assert_no_error(error);
	assert_all_up(config->conninfo);

	/* an unknown migration cannot be rolled back */
	g_assert_false(
		exh_host_rollback_migration(host, "bbbbbbbb-0000-4000-8000-000000000000", &error));
	g_assert_error(error, EXH_ERROR, EXH_ERROR_MIGRATION);
}

static void
test_migrate_broken(void)
{
	static const gchar *const variants[] = { "-broken", NULL };
	ExmTestPg *pg = exm_test_pg_get();
	g_autoptr(ExhHostConfig) config = NULL;
	g_autoptr(ExhHost) host = NULL;
	g_autoptr(GError) error = NULL;

	if (pg == NULL)
		return;
	config = config_for(pg, variants);
	host = exh_host_new(config, &error);
	g_assert_no_error(error);
	/* start refuses to serve on a half-migrated schema */
	g_assert_false(exh_host_start(host, &error));
	g_assert_error(error, EXH_ERROR, EXH_ERROR_MIGRATION);
	g_assert_nonnull(strstr(error->message, "0003-fake-broken"));
	g_assert_nonnull(strstr(error->message, "no_such_function"));
	/* its transaction rolled back: no table, no row; the others stay applied */
	assert_sql(config->conninfo, "SELECT to_regclass('fake_broken') IS NULL", "t");
	assert_sql(config->conninfo,
		   "SELECT count(*) FROM ra_migrations WHERE uuid LIKE 'aaaaaaaa-%-0000000000ff'",
		   "0");
	assert_sql(config->conninfo, "SELECT count(*) FROM ra_migrations WHERE applied", "5");
	g_assert_cmpuint(exh_host_get_port(host), ==, 0);
}

typedef struct {
	ExhHostConfig *config;
	gboolean ok;
	gchar *message;
} RaceArg;

static gpointer
race_thread(gpointer data)
{
	RaceArg *arg = data;
	g_autoptr(GError) error = NULL;
	g_autoptr(ExhHost) host = exh_host_new(arg->config, &error);

	arg->ok = host != NULL && exh_host_migrate(host, &error);
	if (!arg->ok)
		arg->message = g_strdup(error->message);
	return NULL;
}

/* Two hosts starting at once on one database: the advisory lock serialises them. */
static void
test_migrate_concurrent(void)
{
	static const gchar *const variants[] = { "", NULL };
	ExmTestPg *pg = exm_test_pg_get();
	g_autoptr(ExhHostConfig) config = NULL;
	RaceArg args[4] = { 0 };
	GThread *threads[4];

	if (pg == NULL)
		return;
	config = config_for(pg, variants);
	for (guint i = 0; i < G_N_ELEMENTS(args); i++) {
		args[i].config = config;
		threads[i] = g_thread_new("race", race_thread, &args[i]);
	}
	for (guint i = 0; i < G_N_ELEMENTS(args); i++) {
		g_thread_join(threads[i]);
		g_assert_true(args[i].ok);
		if (args[i].message != NULL)
			g_test_message("host %u: %s", i, args[i].message);
		g_free(args[i].message);
	}
	assert_sql(config->conninfo, "SELECT count(*) FROM ra_migrations WHERE applied", "5");
	assert_sql(config->conninfo, "SELECT count(*) FROM fake_a", "1");
	assert_sql(config->conninfo, "SELECT count(*) FROM metapaas_paas_types", "1");
}

/* exh_migrate_apply refuses the list with a migration error naming needle. */
static void
assert_apply_refused(PGconn *conn, GPtrArray *list, const gchar *needle)
{
	g_autoptr(GError) error = NULL;

	g_assert_false(exh_migrate_apply(conn, list, NULL, &error));
	g_assert_error(error, EXH_ERROR, EXH_ERROR_MIGRATION);
	g_assert_nonnull(strstr(error->message, needle));
}

static void
test_migrate_graph_errors(void)
{
	static const gchar *const none[] = { NULL };
	static const gchar *const on_x[] = { "cccccccc-0000-4000-8000-00000000000x", NULL };
	static const gchar *const on_2[] = { "cccccccc-0000-4000-8000-000000000002", NULL };
	static const gchar *const on_1[] = { "cccccccc-0000-4000-8000-000000000001", NULL };
	ExhMigration m1 = { "cccccccc-0000-4000-8000-000000000001", "m1", "t", on_2, "", "" };
	ExhMigration m2 = { "cccccccc-0000-4000-8000-000000000002", "m2", "t", on_1, "", "" };
	ExhMigration m3 = { "cccccccc-0000-4000-8000-000000000003", "m3", "t", on_x, "", "" };
	ExhMigration m4 = { "cccccccc-0000-4000-8000-000000000003", "m4", "t", none, "", "" };
	ExmTestPg *pg = exm_test_pg_get();
	g_autofree gchar *conninfo = NULL;
	g_autoptr(GPtrArray) list = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	PGconn *conn;

	if (pg == NULL)
		return;
	conninfo = exm_test_pg_create_database(pg, &error);
	g_assert_no_error(error);
	conn = PQconnectdb(conninfo);
	g_assert_cmpint(PQstatus(conn), ==, CONNECTION_OK);

	g_ptr_array_add(list, &m1);
	g_ptr_array_add(list, &m2);
	assert_apply_refused(conn, list, "cycle");

	g_ptr_array_set_size(list, 0);
	g_ptr_array_add(list, &m3);
	assert_apply_refused(conn, list, "unknown");

	g_ptr_array_add(list, &m4);
	assert_apply_refused(conn, list, "share the uuid");

	/* two plugins claiming one migration uuid: refused before anything runs */
	{
		static const gchar *const clash[] = { "", "-clash", NULL };
		g_autoptr(ExhHostConfig) config = config_for(pg, clash);
		g_autoptr(ExhHost) host = exh_host_new(config, &error);

		g_assert_no_error(error);
		g_assert_false(exh_host_migrate(host, &error));
		g_assert_error(error, EXH_ERROR, EXH_ERROR_MIGRATION);
		g_assert_nonnull(strstr(error->message, "share the uuid"));
		g_clear_error(&error);
		assert_sql(config->conninfo, "SELECT to_regclass('ra_migrations') IS NULL", "t");
	}

	/* nothing ran: not even the tracking table was created */
	g_assert_cmpint(exh_migrate_is_applied(conn, m1.uuid, &error), ==, 0);
	g_assert_no_error(error);
	PQfinish(conn);
}

static void
assert_refused(const gchar *const *variants, const gchar *needle)
{
	g_autoptr(ExhHostConfig) config = config_offline(variants);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExhHost) host = exh_host_new(config, &error);

	g_assert_null(host);
	g_assert_error(error, EXH_ERROR, EXH_ERROR_PLUGIN);
	if (error != NULL) {
		g_test_message("refused: %s", error->message);
		g_assert_nonnull(strstr(error->message, needle));
	}
}

static void
test_abi_refusal(void)
{
	static const gchar *const abi2[] = { "-abi2", NULL };
	static const gchar *const nosym[] = { "-nosym", NULL };
	static const gchar *const missing[] = { "/nonexistent/libnothing.so", NULL };
	static const gchar *const twice[] = { "", "", NULL };
	static const gchar *const two[] = { "", "-other", NULL };
	g_autoptr(ExhHostConfig) config = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(ExhHost) host = NULL;

	/* another major: a clear message naming both versions */
	assert_refused(abi2, "plugin ABI 2.");
	assert_refused(abi2, "is incompatible with this host's ABI 1.");
	assert_refused(abi2, "major versions differ");
	assert_refused(nosym, "does not export exordos_paas_plugin_get_descriptor");
	assert_refused(missing, "cannot load plugin /nonexistent/libnothing.so");
	assert_refused(twice, "slug fake is already served");

	/* two different slugs load side by side */
	config = config_offline(two);
	host = exh_host_new(config, &error);
	g_assert_no_error(error);
	g_assert_nonnull(host);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/pg/host/migrate/up-down-up", test_migrate_up_down_up);
	g_test_add_func("/pg/host/migrate/broken", test_migrate_broken);
	g_test_add_func("/pg/host/migrate/concurrent", test_migrate_concurrent);
	g_test_add_func("/pg/host/migrate/graph-errors", test_migrate_graph_errors);
	g_test_add_func("/pg/host/abi/refusal", test_abi_refusal);
	return g_test_run();
}
