/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The plugin's embedded migrations: up, down, up again on a real PostgreSQL,
 * the schema rules they carry (tables prefixed mail_, usernames unique per
 * instance ignoring case, checks, foreign keys), and their agreement with the
 * model declarations.
 */
#include "exm-test.h"
#include "test-plugin-fixture.h"

static void
exec_ok(PGconn *db, const gchar *sql)
{
	PGresult *res = PQexec(db, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		g_test_message("%s: %s", sql, PQresultErrorMessage(res));
	g_assert_true(PQresultStatus(res) == PGRES_COMMAND_OK ||
		      PQresultStatus(res) == PGRES_TUPLES_OK);
	PQclear(res);
}

static gchar *
exec_fails(PGconn *db, const gchar *sql)
{
	PGresult *res = PQexec(db, sql);
	gchar *state;

	g_assert_cmpint(PQresultStatus(res), ==, PGRES_FATAL_ERROR);
	state = g_strdup(PQresultErrorField(res, PG_DIAG_SQLSTATE));
	PQclear(res);
	return state;
}

/* Every migration down (last first) or up (first first), in one transaction. */
static void
migrate_all(ExmFixture *f, gboolean up)
{
	guint n = 0;

	while (f->desc->migrations[n] != NULL)
		n++;
	exec_ok(f->db, "BEGIN");
	for (guint i = 0; i < n; i++) {
		const ExordosPaasMigration *m = f->desc->migrations[up ? i : n - 1 - i];

		exec_ok(f->db, up ? m->up_sql : m->down_sql);
	}
	exec_ok(f->db, "COMMIT");
}

static void
test_up_down_up(void)
{
	g_autoptr(ExmFixture) f = exm_fixture_new();
	/* mail_versions, mail_instances, mail_accounts; mail_account_seals (0001),
	 * mail_instance_dns (0002), mail_instance_usage (0005),
	 * mail_instance_breaker (0010), mail_instance_captures (0011),
	 * mail_instance_certificates (0013) */
	const gint tables = 9;

	if (f == NULL)
		return;
	g_assert_cmpint(
		exm_fixture_count(f, "pg_tables WHERE tablename LIKE 'mail\\_%'"), ==, tables);
	g_assert_cmpint(exm_fixture_count(f,
					  "pg_tables WHERE schemaname = 'public' AND "
					  "tablename NOT LIKE 'mail\\_%'"),
			==,
			0);
	migrate_all(f, FALSE);
	g_assert_cmpint(exm_fixture_count(f, "pg_tables WHERE tablename LIKE 'mail\\_%'"), ==, 0);
	/* down twice is harmless */
	migrate_all(f, FALSE);
	migrate_all(f, TRUE);
	g_assert_cmpint(
		exm_fixture_count(f, "pg_tables WHERE tablename LIKE 'mail\\_%'"), ==, tables);
	g_assert_cmpint(exm_fixture_count(f,
					  "information_schema.columns WHERE column_name = "
					  "'root_password'"),
			==,
			0);
}

static void
test_schema_rules(void)
{
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_autofree gchar *s1 = NULL;
	g_autofree gchar *s2 = NULL;
	g_autofree gchar *s3 = NULL;
	g_autofree gchar *s4 = NULL;

	if (f == NULL)
		return;
	exec_ok(f->db,
		"INSERT INTO mail_versions VALUES ('00000000-0000-0000-0000-000000000001', 'v1', "
		"'', "
		"'img', now(), now())");
	exec_ok(f->db,
		"INSERT INTO mail_instances (uuid, name, project_id, domain, cpu, ram, disk_size, "
		"version, created_at, updated_at) VALUES ('00000000-0000-0000-0000-000000000002', "
		"'m', '00000000-0000-0000-0000-000000000003', 'a.b', 1, 512, 8, "
		"'00000000-0000-0000-0000-000000000001', now(), now())");
	exec_ok(f->db,
		"INSERT INTO mail_accounts (uuid, project_id, instance, username, password_hash, "
		"created_at, updated_at) VALUES ('00000000-0000-0000-0000-000000000004', "
		"'00000000-0000-0000-0000-000000000003', '00000000-0000-0000-0000-000000000002', "
		"'alice', 'h', now(), now())");
	s1 = exec_fails(f->db,
			"INSERT INTO mail_accounts (uuid, project_id, instance, username, "
			"password_hash, created_at, updated_at) VALUES "
			"('00000000-0000-0000-0000-000000000005', "
			"'00000000-0000-0000-0000-000000000003', "
			"'00000000-0000-0000-0000-000000000002', 'Alice', 'h', now(), now())");
	g_assert_cmpstr(s1, ==, "23505");
	s2 = exec_fails(f->db,
			"UPDATE mail_instances SET cpu = 129 WHERE uuid = "
			"'00000000-0000-0000-0000-000000000002'");
	g_assert_cmpstr(s2, ==, "23514");
	s3 = exec_fails(
		f->db,
		"DELETE FROM mail_versions WHERE uuid = '00000000-0000-0000-0000-000000000001'");
	g_assert_cmpstr(s3, ==, "23503");
	s4 = exec_fails(
		f->db,
		"DELETE FROM mail_instances WHERE uuid = '00000000-0000-0000-0000-000000000002'");
	g_assert_cmpstr(s4, ==, "23503");
	g_assert_cmpint(exm_fixture_count(f,
					  "mail_instances WHERE status = 'NEW' AND "
					  "dkim_public_key = '' AND dkim_selector = ''"),
			==,
			1);
}

/* The migration and the one declaration of each model agree: every declared
 * field with a column (not write-only) is a column of its table, and every
 * column of the table is declared. */
static void
test_declarations_match(void)
{
	g_autoptr(ExmFixture) f = exm_fixture_new();

	if (f == NULL)
		return;
	for (guint i = 0; f->desc->models[i] != NULL; i++) {
		const ExordosPaasModel *m = f->desc->models[i];
		guint n_columns = 0;
		g_autofree gchar *where = g_strdup_printf(
			"information_schema.columns WHERE table_name = '%s'", m->table);

		for (guint k = 0; m->fields[k] != NULL; k++) {
			const ExordosPaasField *fd = m->fields[k];
			g_autofree gchar *column = NULL;

			if ((fd->flags & EXORDOS_PAAS_FIELD_FLAG_WRITE_ONLY) != 0)
				continue;
			column = g_strdup_printf("%s AND column_name = '%s'", where, fd->name);
			if (exm_fixture_count(f, column) != 1)
				g_error("%s.%s is declared but has no column", m->table, fd->name);
			n_columns++;
		}
		g_assert_cmpint(exm_fixture_count(f, where), ==, n_columns);
	}
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/plugin/migrations/up-down-up", test_up_down_up);
	g_test_add_func("/plugin/migrations/schema-rules", test_schema_rules);
	g_test_add_func("/plugin/migrations/declarations-match", test_declarations_match);
	return g_test_run();
}
