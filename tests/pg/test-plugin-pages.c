/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Marker pagination over every sortable key of every model, both directions
 * and every page size, on rows with NULLs and ties in each column
 * (docs/rest-conventions.md §4.4): walking the pages returns every row
 * exactly once, in the order of the unpaginated list.
 */
#include <string.h>

#include "exm-test.h"
#include "test-plugin-fixture.h"

#define ROWS 6

/* Runs a test-only statement; refusals (NOT NULL, UNIQUE, CHECK) are fine. */
static void
try_sql(ExmFixture *f, const gchar *sql)
{
	PGresult *res = PQexec(f->db, sql);

	PQclear(res);
}

/* Per column: the first two rows (by uuid) NULL where the column allows it,
 * the third a tie with the fourth. */
static void
nulls_and_ties(ExmFixture *f, const ExordosPaasModel *m)
{
	for (guint i = 0; m->fields[i] != NULL; i++) {
		const gchar *col = m->fields[i]->name;
		g_autofree gchar *nulls = NULL;
		g_autofree gchar *tie = NULL;

		if (g_str_equal(col, "uuid"))
			continue;
		nulls = g_strdup_printf("UPDATE %s SET \"%s\" = NULL WHERE uuid IN (SELECT uuid "
					"FROM %s ORDER BY uuid LIMIT 2)",
					m->table,
					col,
					m->table);
		tie = g_strdup_printf("UPDATE %s SET \"%s\" = (SELECT \"%s\" FROM %s ORDER BY "
				      "uuid OFFSET 3 LIMIT 1) WHERE uuid = (SELECT uuid FROM %s "
				      "ORDER BY uuid OFFSET 2 LIMIT 1)",
				      m->table,
				      col,
				      col,
				      m->table,
				      m->table);
		try_sql(f, nulls);
		try_sql(f, tie);
	}
}

/* The uuids of one answer, appended to @out; the next marker or NULL. */
static gchar *
collect_page(ExmReply *r, GPtrArray *out)
{
	JsonArray *a = json_node_get_array(r->json);

	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonObject *o = json_array_get_object_element(a, i);
		g_ptr_array_add(out, g_strdup(json_object_get_string_member(o, "uuid")));
	}
	return g_strdup(exm_reply_header(r, "X-Pagination-Marker"));
}

/* The whole list in one answer; %NULL when @sort is no sort key of the model. */
static GPtrArray *
list_all(ExmFixture *f, const ExmWho *who, const gchar *path, const gchar *sort)
{
	g_autoptr(ExmReply) r = exm_fixture_call(f, NULL, who, "GET", path, sort, NULL);
	GPtrArray *all = g_ptr_array_new_with_free_func(g_free);

	if (r->status == 400) {
		exm_assert_error(r, 400, "ValidationError");
		g_ptr_array_unref(all);
		return NULL;
	}
	exm_assert_status(r, 200);
	g_free(collect_page(r, all));
	return all;
}

/* Follows the markers with pages of @limit; every row once, in @all's order. */
static void
assert_pages(ExmFixture *f,
	     const ExmWho *who,
	     const gchar *path,
	     const gchar *sort,
	     guint limit,
	     GPtrArray *all)
{
	g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *marker = NULL;

	for (guint page = 0; page <= ROWS + 1; page++) {
		g_autofree gchar *q =
			marker != NULL
				? g_strdup_printf(
					  "%s&page_limit=%u&page_marker=%s", sort, limit, marker)
				: g_strdup_printf("%s&page_limit=%u", sort, limit);
		g_autoptr(ExmReply) r = exm_fixture_call(f, NULL, who, "GET", path, q, NULL);

		exm_assert_status(r, 200);
		g_free(marker);
		marker = collect_page(r, seen);
		if (marker == NULL)
			break;
	}
	if (seen->len != all->len)
		g_test_message("%s %s page_limit=%u: %u of %u rows",
			       path,
			       sort,
			       limit,
			       seen->len,
			       all->len);
	g_assert_null(marker);
	g_assert_cmpuint(seen->len, ==, all->len);
	for (guint i = 0; i < all->len; i++)
		g_assert_cmpstr(g_ptr_array_index(seen, i), ==, g_ptr_array_index(all, i));
}

/* Every field as a sort key, both directions, every page size; returns how
 * many keys the model sorts by. */
static guint
assert_model_pages(ExmFixture *f, const ExordosPaasModel *m, const ExmWho *who, const gchar *path)
{
	static const gchar *const dirs[] = { "asc", "desc" };
	guint sortable = 0;

	for (guint i = 0; m->fields[i] != NULL; i++) {
		for (guint d = 0; d < G_N_ELEMENTS(dirs); d++) {
			g_autofree gchar *sort = g_strdup_printf(
				"fields=uuid&sort_key=%s&sort_dir=%s", m->fields[i]->name, dirs[d]);
			g_autoptr(GPtrArray) all = list_all(f, who, path, sort);

			if (all == NULL)
				continue;
			g_assert_cmpuint(all->len, ==, ROWS);
			sortable += d == 0;
			for (guint limit = 1; limit <= ROWS + 1; limit++)
				assert_pages(f, who, path, sort, limit, all);
		}
	}
	return sortable;
}

static const ExordosPaasModel *
find_model(ExmFixture *f, const gchar *table)
{
	for (guint i = 0; f->desc->models[i] != NULL; i++) {
		if (g_str_equal(f->desc->models[i]->table, table))
			return f->desc->models[i];
	}
	g_assert_not_reached();
	return NULL;
}

static void
test_pages_every_key(void)
{
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_autofree gchar *version = NULL;
	g_autofree gchar *first = NULL;
	g_autofree gchar *accounts = NULL;

	if (f == NULL)
		return;
	for (guint i = 0; i < ROWS; i++) {
		g_autofree gchar *name = g_strdup_printf("v%u", i);
		g_autofree gchar *instance = NULL;

		g_free(version);
		version = exm_fixture_version(f, name);
		instance = exm_fixture_instance(f, &exm_who_owner1, NULL, version, name);
		if (first == NULL)
			first = g_strdup(instance);
	}
	for (guint i = 0; i < ROWS; i++) {
		g_autofree gchar *user = g_strdup_printf("user%u", i);
		g_free(exm_fixture_account(f, &exm_who_owner1, first, user));
	}
	accounts = exm_fixture_accounts_path(first);
	nulls_and_ties(f, find_model(f, "mail_versions"));
	nulls_and_ties(f, find_model(f, "mail_instances"));
	nulls_and_ties(f, find_model(f, "mail_accounts"));
	g_assert_cmpuint(
		assert_model_pages(f, find_model(f, "mail_versions"), &exm_who_admin, "versions/"),
		>=,
		5);
	g_assert_cmpuint(assert_model_pages(
				 f, find_model(f, "mail_instances"), &exm_who_owner1, "instances/"),
			 >=,
			 10);
	g_assert_cmpuint(
		assert_model_pages(f, find_model(f, "mail_accounts"), &exm_who_owner1, accounts),
		>=,
		8);
}

/* An integer key sorts by value: 9 before 10 before 100 (their text would
 * put 10 and 100 first), unpaginated and page by page alike. */
static void
test_pages_integer_order(void)
{
	static const guint cpus[] = { 100, 9, 10 };
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_autoptr(GPtrArray) all = NULL;
	g_autofree gchar *version = NULL;
	const gchar *by_cpu[3] = { NULL };
	gchar *uuids[3] = { NULL };

	if (f == NULL)
		return;
	version = exm_fixture_version(f, "v");
	for (guint i = 0; i < G_N_ELEMENTS(cpus); i++) {
		g_autofree gchar *name = g_strdup_printf("i%u", i);
		g_autofree gchar *cpu = g_strdup_printf("%u", cpus[i]);
		const gchar *params[2] = { cpu, NULL };
		PGresult *res;

		uuids[i] = exm_fixture_instance(f, &exm_who_owner1, NULL, version, name);
		params[1] = uuids[i];
		res = PQexecParams(
			f->db,
			"UPDATE mail_instances SET cpu = $1::bigint WHERE uuid = $2::uuid",
			2,
			NULL,
			params,
			NULL,
			NULL,
			0);
		g_assert_cmpint(PQresultStatus(res), ==, PGRES_COMMAND_OK);
		PQclear(res);
	}
	by_cpu[0] = uuids[1];
	by_cpu[1] = uuids[2];
	by_cpu[2] = uuids[0];
	all = list_all(f, &exm_who_owner1, "instances/", "fields=uuid&sort_key=cpu&sort_dir=asc");
	g_assert_nonnull(all);
	g_assert_cmpuint(all->len, ==, 3);
	for (guint i = 0; i < G_N_ELEMENTS(by_cpu); i++)
		g_assert_cmpstr(g_ptr_array_index(all, i), ==, by_cpu[i]);
	assert_pages(
		f, &exm_who_owner1, "instances/", "fields=uuid&sort_key=cpu&sort_dir=asc", 1, all);
	for (guint i = 0; i < G_N_ELEMENTS(uuids); i++)
		g_free(uuids[i]);
}

static void
set_column(ExmFixture *f, const gchar *column, const gchar *value, const gchar *uuid)
{
	g_autofree gchar *sql = g_strdup_printf(
		"UPDATE mail_instances SET \"%s\" = $1::timestamp WHERE uuid = $2::uuid", column);
	const gchar *params[2] = { value, uuid };
	PGresult *res = PQexecParams(f->db, sql, 2, NULL, params, NULL, NULL, 0);

	g_assert_cmpint(PQresultStatus(res), ==, PGRES_COMMAND_OK);
	PQclear(res);
}

/* Timestamps are read as PostgreSQL's ISO text (a zero fraction and
 * trailing zeros left out) and answered with six digits; a timestamp key
 * sorts by time, 1999 before 2026 (the text of their µs numbers, 15 and 16
 * digits, would put 1999 last), unpaginated and page by page alike. */
static void
test_pages_timestamp_order(void)
{
	static const gchar *const stored[] = { "2026-01-02 03:04:05.5",
					       "1999-12-31 23:59:59.000001",
					       "2026-01-02 03:04:05" };
	static const gchar *const answered[] = { "2026-01-02T03:04:05.500000Z",
						 "1999-12-31T23:59:59.000001Z",
						 "2026-01-02T03:04:05.000000Z" };
	static const guint order[] = { 1, 2, 0 };
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_autoptr(GPtrArray) all = NULL;
	g_autofree gchar *version = NULL;
	gchar *uuids[3] = { NULL };

	if (f == NULL)
		return;
	version = exm_fixture_version(f, "v");
	for (guint i = 0; i < G_N_ELEMENTS(stored); i++) {
		g_autofree gchar *name = g_strdup_printf("t%u", i);
		g_autofree gchar *path = NULL;
		g_autoptr(ExmReply) r = NULL;

		uuids[i] = exm_fixture_instance(f, &exm_who_owner1, NULL, version, name);
		set_column(f, "created_at", stored[i], uuids[i]);
		path = g_strdup_printf("instances/%s", uuids[i]);
		r = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", path, NULL, NULL);
		exm_assert_status(r, 200);
		g_assert_cmpstr(exm_reply_str(r, "created_at"), ==, answered[i]);
	}
	all = list_all(
		f, &exm_who_owner1, "instances/", "fields=uuid&sort_key=created_at&sort_dir=asc");
	g_assert_nonnull(all);
	g_assert_cmpuint(all->len, ==, 3);
	for (guint i = 0; i < G_N_ELEMENTS(order); i++)
		g_assert_cmpstr(g_ptr_array_index(all, i), ==, uuids[order[i]]);
	assert_pages(f,
		     &exm_who_owner1,
		     "instances/",
		     "fields=uuid&sort_key=created_at&sort_dir=asc",
		     1,
		     all);
	for (guint i = 0; i < G_N_ELEMENTS(uuids); i++)
		g_free(uuids[i]);
}

/* A timestamp the API never writes (`infinity`, put there by hand) is
 * logged and answered as null, not misread; a connection in another
 * DateStyle than ISO is refused (500, logged), not read wrong, and answers
 * again once it is back in ISO. */
static void
test_rows_timestamp_refusals(void)
{
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_autofree gchar *version = NULL;
	g_autofree gchar *uuid = NULL;
	g_autofree gchar *path = NULL;
	g_autoptr(ExmReply) odd = NULL;
	g_autoptr(ExmReply) refused = NULL;
	g_autoptr(ExmReply) again = NULL;
	PGresult *res;

	if (f == NULL)
		return;
	version = exm_fixture_version(f, "v");
	uuid = exm_fixture_instance(f, &exm_who_owner1, NULL, version, "odd");
	path = g_strdup_printf("instances/%s", uuid);
	set_column(f, "dns_checked_at", "infinity", uuid);
	g_test_expect_message("exm-rest", G_LOG_LEVEL_WARNING, "*dns_checked_at*'infinity'*");
	odd = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", path, NULL, NULL);
	g_test_assert_expected_messages();
	exm_assert_status(odd, 200);
	g_assert_false(exm_reply_has(odd, "dns_checked_at")); /* a null is left out */
	g_assert_nonnull(exm_reply_str(odd, "created_at"));

	res = PQexec(f->db, "SET DateStyle = SQL");
	g_assert_cmpint(PQresultStatus(res), ==, PGRES_COMMAND_OK);
	PQclear(res);
	refused = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", path, NULL, NULL);
	exm_assert_error(refused, 500, "InternalError");
	g_assert_false(exm_fixture_logs_lack(f, "DateStyle is 'SQL"));
	res = PQexec(f->db, "SET DateStyle = ISO");
	PQclear(res);
	set_column(f, "dns_checked_at", "2026-01-02 03:04:05", uuid);
	again = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", path, NULL, NULL);
	exm_assert_status(again, 200);
	g_assert_cmpstr(exm_reply_str(again, "dns_checked_at"), ==, "2026-01-02T03:04:05.000000Z");
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/plugin/pages/every-key", test_pages_every_key);
	g_test_add_func("/plugin/pages/integer-order", test_pages_integer_order);
	g_test_add_func("/plugin/pages/timestamp-order", test_pages_timestamp_order);
	g_test_add_func("/plugin/rows/timestamp-refusals", test_rows_timestamp_refusals);
	return g_test_run();
}
