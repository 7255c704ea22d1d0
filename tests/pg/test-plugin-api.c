/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail REST API through the plugin ABI (no HTTP), on a real PostgreSQL:
 * what is common to every model: the descriptor, the index, list queries
 * and hostile input (docs/rest-conventions.md).  Each model has its own
 * file: test-plugin-versions.c, -instances.c, -accounts.c; IAM is
 * test-plugin-iam.c.
 */
#include <string.h>

#include "exm-test.h"
#include "test-plugin-fixture.h"

#define INSTANCES "instances/"

/* ------------------------------------------------------------------ descriptor */

/* 0012 (issue 22's ACME settings) builds on 0000 and is listed last. */
static void
check_migration_acme(const ExordosPaasPluginDescriptor *d)
{
	const ExordosPaasMigration *m = d->migrations[12];

	g_assert_cmpstr(m->name, ==, "0012-acme");
	g_assert_cmpstr(m->uuid, ==, "30fabbb3-cf43-4445-bf2d-52aedb2fdcc9");
	g_assert_cmpstr(m->depends[0], ==, d->migrations[0]->uuid);
	g_assert_null(m->depends[1]);
	g_assert_nonnull(strstr(m->up_sql, "ADD COLUMN acme_directory_url VARCHAR(1024)"));
	g_assert_nonnull(strstr(m->down_sql, "DROP COLUMN IF EXISTS acme_contact"));
}

/* 0011 (the sandbox) builds on 0005, listed after 0010. */
static void
check_migration_sandbox(const ExordosPaasPluginDescriptor *d)
{
	const ExordosPaasMigration *last = NULL;
	guint n = 11;

	last = d->migrations[n];
	check_migration_acme(d);
	g_assert_cmpstr(last->name, ==, "0011-sandbox");
	g_assert_cmpstr(last->uuid, ==, "b605b719-ffc3-42ba-8b26-eafd5ba28936");
	g_assert_cmpstr(last->depends[0], ==, d->migrations[4]->uuid);
	g_assert_null(last->depends[1]);
	g_assert_nonnull(strstr(last->up_sql, "ADD COLUMN sandbox BOOLEAN NOT NULL DEFAULT false"));
	g_assert_nonnull(strstr(last->up_sql, "CREATE TABLE mail_instance_captures"));
	g_assert_nonnull(strstr(last->down_sql, "DROP TABLE IF EXISTS mail_instance_captures"));
}

/* 0014 (the directories a version allows) builds on 0012 and is listed
 * last. */
static void
check_migration_acme_allowed(const ExordosPaasPluginDescriptor *d)
{
	const ExordosPaasMigration *last = NULL;
	guint n = 0;

	while (d->migrations[n + 1] != NULL)
		n++;
	last = d->migrations[n];
	g_assert_cmpuint(n, ==, 14);
	g_assert_cmpstr(last->name, ==, "0014-acme-allowed");
	g_assert_cmpstr(last->uuid, ==, "15d8ac1a-7e31-4cbf-9354-5c1b9b51ddfa");
	g_assert_cmpstr(last->depends[0], ==, d->migrations[12]->uuid);
	g_assert_null(last->depends[1]);
	g_assert_nonnull(strstr(last->up_sql, "ADD COLUMN acme_allowed_directory_urls TEXT[]"));
	g_assert_nonnull(
		strstr(last->down_sql, "DROP COLUMN IF EXISTS acme_allowed_directory_urls"));
}

/* 0013 (a tenant's own certificate) builds on 0006, listed after 0012. */
static void
check_migration_tls_custom(const ExordosPaasPluginDescriptor *d)
{
	const ExordosPaasMigration *last = d->migrations[13];

	check_migration_acme_allowed(d);
	g_assert_cmpstr(last->name, ==, "0013-tls-custom");
	g_assert_cmpstr(last->uuid, ==, "efc4d935-826f-47ee-885e-ee6dbb2bcc5f");
	g_assert_cmpstr(last->depends[0], ==, d->migrations[5]->uuid);
	g_assert_null(last->depends[1]);
	g_assert_nonnull(strstr(last->up_sql, "CREATE TABLE mail_instance_certificates"));
	g_assert_nonnull(strstr(last->up_sql, "ON DELETE CASCADE"));
	g_assert_nonnull(strstr(last->down_sql, "DROP TABLE IF EXISTS mail_instance_certificates"));
}

/* The migrations in application order, each with what it depends on. */
static void
check_migrations(const ExordosPaasPluginDescriptor *d)
{
	g_assert_cmpstr(d->migrations[0]->uuid, ==, "b2c3d4e5-f6a7-8901-bcde-f12345678901");
	g_assert_nonnull(d->migrations[0]->depends);
	g_assert_null(d->migrations[0]->depends[0]);
	g_assert_nonnull(strstr(d->migrations[0]->up_sql, "CREATE TABLE mail_accounts"));
	g_assert_null(strstr(d->migrations[0]->up_sql, "root_password"));
	g_assert_nonnull(strstr(d->migrations[0]->down_sql, "DROP TABLE IF EXISTS mail_versions"));
	/* 0001 (the EM path's seals), 0002 (the live DNS check) and 0003 (the
	 * abuse controls) depend on 0000 only */
	g_assert_cmpstr(d->migrations[1]->uuid, ==, "aa0c8c05-986d-4d9b-b602-65fce206e2d3");
	g_assert_cmpstr(d->migrations[2]->name, ==, "0002-dns-verification");
	g_assert_cmpstr(d->migrations[3]->name, ==, "0003-abuse-controls");
	/* 0005 (issue 16's usage) and 0006 (issue 22's TLS) depend on 0000 only;
	 * 0008 (the DNS re-check's schedule) builds on 0002 */
	g_assert_cmpstr(d->migrations[4]->name, ==, "0005-usage-sandbox");
	g_assert_cmpstr(d->migrations[5]->name, ==, "0006-tls");
	for (guint i = 1; i <= 5; i++) {
		g_assert_cmpstr(d->migrations[i]->depends[0], ==, d->migrations[0]->uuid);
		g_assert_null(d->migrations[i]->depends[1]);
	}
	g_assert_cmpstr(d->migrations[6]->name, ==, "0008-dns-schedule");
	g_assert_cmpstr(d->migrations[6]->depends[0], ==, d->migrations[2]->uuid);
	g_assert_null(d->migrations[6]->depends[1]);
	/* 0004 (issue 15's rotation) depends on 0000 only, listed after them */
	g_assert_cmpstr(d->migrations[7]->name, ==, "0004-rotation");
	g_assert_cmpstr(d->migrations[7]->depends[0], ==, d->migrations[0]->uuid);
	g_assert_null(d->migrations[7]->depends[1]);
	/* 0007 (the served certificate's status) builds on 0006, listed last */
	g_assert_cmpstr(d->migrations[8]->name, ==, "0007-tls-status");
	g_assert_cmpstr(d->migrations[8]->uuid, ==, "e14d8404-55aa-4af5-aa77-26805dd12888");
	g_assert_cmpstr(d->migrations[8]->depends[0], ==, d->migrations[5]->uuid);
	g_assert_null(d->migrations[8]->depends[1]);
	g_assert_nonnull(strstr(d->migrations[8]->up_sql, "ADD COLUMN tls_not_after"));
	g_assert_nonnull(strstr(d->migrations[8]->down_sql, "DROP COLUMN IF EXISTS tls_source"));
	/* 0009 (the last login per secret) builds on 0004 and 0005 */
	g_assert_cmpstr(d->migrations[9]->name, ==, "0009-login-secrets");
	g_assert_cmpstr(d->migrations[9]->uuid, ==, "382a51b1-05eb-4a62-9b3f-69f023e54f8d");
	g_assert_cmpstr(d->migrations[9]->depends[0], ==, d->migrations[7]->uuid);
	g_assert_cmpstr(d->migrations[9]->depends[1], ==, d->migrations[4]->uuid);
	g_assert_null(d->migrations[9]->depends[2]);
	/* 0010 (issue 15's circuit breaker) depends on 0000 only, listed after */
	g_assert_cmpstr(d->migrations[10]->name, ==, "0010-breaker");
	g_assert_cmpstr(d->migrations[10]->uuid, ==, "871c9357-1e94-44f7-8244-db9ad1d90f2b");
	g_assert_cmpstr(d->migrations[10]->depends[0], ==, d->migrations[0]->uuid);
	g_assert_null(d->migrations[10]->depends[1]);
	g_assert_nonnull(strstr(d->migrations[10]->up_sql, "ADD COLUMN breaker_token"));
	g_assert_nonnull(
		strstr(d->migrations[10]->down_sql, "DROP TABLE IF EXISTS mail_instance_breaker"));
	check_migration_sandbox(d);
	check_migration_tls_custom(d);
}

#define ROUTE_ID "4d657461-0000-4000-8000-00000000000a"

/* ABI minor 5: the plain GETs only read; the GET actions (verify_dns
 * stores its answer) and every other method keep their transaction. */
static void
test_route_flags(void)
{
	static const struct {
		const gchar *method;
		const gchar *path;
		guint32 flags;
	} cases[] = {
		{ "GET", "", EXORDOS_PAAS_ROUTE_FLAG_READ_ONLY },
		{ "GET", "instances/", EXORDOS_PAAS_ROUTE_FLAG_READ_ONLY },
		{ "GET", "versions/", EXORDOS_PAAS_ROUTE_FLAG_READ_ONLY },
		{ "GET", "instances/" ROUTE_ID, EXORDOS_PAAS_ROUTE_FLAG_READ_ONLY },
		{ "GET", "instances/" ROUTE_ID "/accounts/", EXORDOS_PAAS_ROUTE_FLAG_READ_ONLY },
		{ "GET",
		  "instances/" ROUTE_ID "/accounts/" ROUTE_ID,
		  EXORDOS_PAAS_ROUTE_FLAG_READ_ONLY },
		/* answered before any statement */
		{ "GET", "nothing/", EXORDOS_PAAS_ROUTE_FLAG_READ_ONLY },
		{ "GET",
		  "instances/" ROUTE_ID "/actions/verify_dns",
		  EXORDOS_PAAS_ROUTE_FLAG_NONE },
		{ "GET",
		  "instances/" ROUTE_ID "/actions/dns_records",
		  EXORDOS_PAAS_ROUTE_FLAG_NONE },
		{ "GET", "instances/" ROUTE_ID "/accounts/" ROUTE_ID "/actions/captured", 0 },
		{ "POST", "instances/", EXORDOS_PAAS_ROUTE_FLAG_NONE },
		{ "PUT", "instances/" ROUTE_ID, EXORDOS_PAAS_ROUTE_FLAG_NONE },
		{ "DELETE", "instances/" ROUTE_ID, EXORDOS_PAAS_ROUTE_FLAG_NONE },
		{ "HEAD", "instances/", EXORDOS_PAAS_ROUTE_FLAG_NONE },
	};
	GModule *module = NULL;
	const ExordosPaasPluginDescriptor *d = exm_fixture_load_descriptor(&module);

	g_assert_cmpuint(d->abi_minor, >=, 5);
	g_assert_nonnull(d->rest_route_flags);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		/* the mail plugin's answer needs no context: a pure walk */
		guint32 flags = d->rest_route_flags(NULL, cases[i].method, cases[i].path);

		g_test_message("%s %s", cases[i].method, cases[i].path);
		g_assert_cmpuint(flags, ==, cases[i].flags);
	}
	g_module_close(module);
}

static void
test_descriptor(void)
{
	GModule *module = NULL;
	const ExordosPaasPluginDescriptor *d = exm_fixture_load_descriptor(&module);
	const gchar *expect_em[] = { "em_mailaas_types_mail_versions",
				     "em_mailaas_types_mail_instances",
				     "em_mailaas_types_mail_instances_accounts" };
	guint n = 0;

	g_assert_cmpuint(d->abi_major, ==, EXORDOS_PAAS_PLUGIN_ABI_MAJOR);
	g_assert_cmpuint(d->abi_minor, ==, EXORDOS_PAAS_PLUGIN_ABI_MINOR);
	g_assert_cmpuint(d->struct_size, ==, sizeof(ExordosPaasPluginDescriptor));
	g_assert_cmpstr(d->slug, ==, "mail");
	g_assert_cmpstr(d->element, ==, "mailaas");
	g_assert_nonnull(d->version);
	check_migrations(d);
	/* ABI minor 4: the background jobs and the metrics */
	g_assert_cmpuint(d->abi_minor, >=, 4);
	g_assert_cmpstr(d->periodic[0]->name, ==, "dns_recheck");
	g_assert_cmpuint(d->periodic[0]->struct_size, ==, sizeof(ExordosPaasPeriodicJob));
	g_assert_null(d->periodic[1]);
	g_assert_nonnull(d->metrics);
	g_assert_nonnull(d->manifest_apply);
	for (guint i = 0; d->agent_models[i] != NULL; i++) {
		g_autofree gchar *sub =
			g_strdelimit(g_strdup(d->agent_models[i]->subpath), ".", '_');
		g_autofree gchar *em =
			g_strdup_printf("em_%s_types_%s_%s", d->element, d->slug, sub);
		g_assert_cmpstr(em, ==, expect_em[i]);
		n++;
	}
	g_assert_cmpuint(n, ==, 3);
	g_assert_cmpstr(d->agent_models[0]->filter_field, ==, "description");
	g_assert_cmpstr(d->agent_models[1]->filter_field, ==, "project_id");
	g_assert_cmpstr(d->agent_models[2]->filter_field, ==, "project_id");
	g_assert_cmpuint(g_strv_length((gchar **)d->permissions), ==, 12);
	g_assert_true(g_strv_contains(d->permissions, "exordos_mail.mail_version.delete"));
	for (guint i = 0; d->models[i] != NULL; i++)
		g_assert_true(g_str_has_prefix(d->models[i]->table, "mail_"));
	for (guint i = 0; i < G_N_ELEMENTS(d->reserved); i++)
		g_assert_null(d->reserved[i]);
	g_assert_nonnull(d->init);
	g_assert_nonnull(d->shutdown);
	g_assert_nonnull(d->rest_dispatch);
	g_assert_nonnull(d->rest_response_clear);
	g_module_close(module);
}

static void
test_init_refuses_other_abi(void)
{
	GModule *module = NULL;
	const ExordosPaasPluginDescriptor *d = exm_fixture_load_descriptor(&module);
	ExordosPaasHost host = { 0 };
	gpointer ctx = NULL;
	g_autofree gchar *err = NULL;

	host.struct_size = sizeof(host);
	host.abi_major = EXORDOS_PAAS_PLUGIN_ABI_MAJOR + 1;
	g_assert_false(d->init(&host, &ctx, &err));
	g_assert_null(ctx);
	g_assert_nonnull(err);
	g_assert_false(d->init(NULL, &ctx, NULL));
	g_module_close(module);
}

/* ------------------------------------------------------------------ index */

static void
test_index(void)
{
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_autoptr(ExmReply) r = NULL;

	if (f == NULL)
		return;
	r = exm_fixture_call(f, NULL, &exm_who_anon, "GET", "", NULL, NULL);
	exm_assert_status(r, 200);
	g_assert_cmpstr(r->body, ==, "[\"instances\",\"versions\"]");
	g_clear_pointer(&r, exm_reply_free);

	r = exm_fixture_call(f, NULL, &exm_who_admin, "POST", "", NULL, "{}");
	exm_assert_error(r, 405, "UnsupportedHttpMethod");
	g_assert_cmpstr(exm_reply_str(r, "message"), ==, "HTTP method 'CREATE' is not supported.");
	g_clear_pointer(&r, exm_reply_free);

	/* no trailing slash: a resource of the index route, which lists only */
	r = exm_fixture_call(f, NULL, &exm_who_admin, "GET", "versions", NULL, NULL);
	exm_assert_error(r, 405, "UnsupportedHttpMethod");
	g_assert_cmpstr(exm_reply_str(r, "message"), ==, "HTTP method 'GET' is not supported.");
	g_clear_pointer(&r, exm_reply_free);

	r = exm_fixture_call(f, NULL, &exm_who_admin, "GET", "nothere/", NULL, NULL);
	exm_assert_error(r, 501, "NotImplementedError");
	g_clear_pointer(&r, exm_reply_free);

	r = exm_fixture_call(f, NULL, &exm_who_admin, "DELETE", "", NULL, NULL);
	exm_assert_error(r, 405, "UnsupportedHttpMethod");
	g_assert_cmpstr(exm_reply_str(r, "message"), ==, "HTTP method 'DELETE' is not supported.");
}

/* ------------------------------------------------------------------ lists */

/* Per-test state of the list tests: five instances m0..m4 over two versions. */
typedef struct {
	ExmFixture *f;
	gchar *v2;
} ListsFixture;

static void
lists_fixture_setup(ListsFixture *a, gconstpointer data)
{
	g_autofree gchar *v1 = NULL;

	a->f = exm_fixture_new();
	if (a->f == NULL)
		return;
	v1 = exm_fixture_version(a->f, "exim4_1");
	a->v2 = exm_fixture_version(a->f, "exim4_2");
	for (guint i = 0; i < 5; i++) {
		g_autofree gchar *name = g_strdup_printf("m%u", i);
		g_free(exm_fixture_instance(a->f, &exm_who_owner1, NULL, i < 2 ? v1 : a->v2, name));
	}
}

static void
lists_fixture_teardown(ListsFixture *a, gconstpointer data)
{
	exm_fixture_free(a->f);
	g_free(a->v2);
}

static void
test_lists_filters(ListsFixture *a, gconstpointer data)
{
	static const struct {
		const gchar *query;
		const gchar *type;
	} bad[] = {
		{ "cpu=x", "ParseError" },
		{ "bogus=1", "ValidationFilterIncompatibleError" },
		{ "sort_key=name&sort_dir=up", "ValidationSortInvalidDirValueError" },
		{ "sort_key=name&sort_key=cpu", "ValidationSortNumberError" },
		{ "page_limit=-1", "ParseError" },
		{ "page_marker=zz", "ParseError" },
	};
	ExmFixture *f = a->f;
	const gchar *v2 = a->v2;
	g_autofree gchar *q = NULL;

	if (f == NULL)
		return;
	exm_fixture_assert_list_len(f, "name=m1&name=m3", 2);
	q = g_strdup_printf("version=/v1/types/mail/versions/%s", v2);
	exm_fixture_assert_list_len(f, q, 3);
	g_free(q);
	q = g_strdup_printf("version=%s", v2);
	exm_fixture_assert_list_error(f, q, 404, "LocatorNotFound");
	exm_fixture_assert_list_len(f, "cpu=2&status=NEW", 5);
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		exm_fixture_assert_list_error(f, bad[i].query, 400, bad[i].type);
}

static void
test_lists_pages(ListsFixture *a, gconstpointer data)
{
	ExmFixture *f = a->f;
	g_autofree gchar *marker = NULL;
	g_autofree gchar *q = NULL;
	g_autoptr(ExmReply) r = NULL;
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	if (f == NULL)
		return;
	/* sorted by name descending */
	r = exm_fixture_call(f,
			     NULL,
			     &exm_who_owner1,
			     "GET",
			     INSTANCES,
			     "sort_key=name&sort_dir=DESC&fields=name",
			     NULL);
	exm_assert_status(r, 200);
	g_assert_cmpstr(r->body,
			==,
			"[{\"name\":\"m4\"},{\"name\":\"m3\"},{\"name\":\"m2\"},{\"name\":\"m1\"},{"
			"\"name\":\"m0\"}]");
	g_clear_pointer(&r, exm_reply_free);

	/* marker pagination by name: 2 + 2 + 1, every row once */
	for (guint page = 0; page < 3; page++) {
		g_free(q);
		q = marker != NULL
			    ? g_strdup_printf("page_limit=2&sort_key=name&page_marker=%s", marker)
			    : g_strdup("page_limit=2&sort_key=name");
		r = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", INSTANCES, q, NULL);
		exm_assert_status(r, 200);
		g_assert_cmpstr(exm_reply_header(r, "X-Pagination-Limit"), ==, "2");
		g_assert_cmpuint(exm_reply_len(r), ==, page < 2 ? 2 : 1);
		for (guint i = 0; i < exm_reply_len(r); i++) {
			JsonObject *o =
				json_array_get_object_element(json_node_get_array(r->json), i);
			g_assert_true(g_hash_table_add(
				seen, g_strdup(json_object_get_string_member(o, "name"))));
		}
		g_free(marker);
		marker = g_strdup(exm_reply_header(r, "X-Pagination-Marker"));
		if (page < 2)
			g_assert_nonnull(marker);
		else
			g_assert_null(marker);
		g_clear_pointer(&r, exm_reply_free);
	}
	g_assert_cmpuint(g_hash_table_size(seen), ==, 5);

	/* with a sort key the marker must be a listed row; without, it is a bound */
	exm_fixture_assert_list_error(
		f,
		"page_limit=2&sort_key=name&page_marker=00000000-0000-0000-0000-000000000000",
		404,
		"RecordNotFound");

	/* uuid order pagination without sort key */
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", INSTANCES, "page_limit=5", NULL);
	exm_assert_status(r, 200);
	g_assert_nonnull(exm_reply_header(r, "X-Pagination-Marker"));
	g_free(q);
	q = g_strdup_printf("page_limit=5&page_marker=%s",
			    exm_reply_header(r, "X-Pagination-Marker"));
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", INSTANCES, q, NULL);
	exm_assert_status(r, 200);
	g_assert_cmpstr(r->body, ==, "[]");
	g_assert_null(exm_reply_header(r, "X-Pagination-Marker"));
}

/* ------------------------------------------------------------------ hostile input */

/* A fresh database with one instance; *@snapshot is its updated_at. */
static ExmFixture *
hostile_setup(gchar **instance, gchar **snapshot)
{
	ExmFixture *f = exm_fixture_new();
	g_autofree gchar *v1 = NULL;

	if (f == NULL)
		return NULL;
	v1 = exm_fixture_version(f, "exim4_1");
	*instance = exm_fixture_instance(f, &exm_who_owner1, NULL, v1, "m1");
	*snapshot = exm_fixture_scalar(f, "SELECT updated_at::text FROM mail_instances");
	return f;
}

/* Nothing was written by any of it: no account, the instance untouched. */
static void
hostile_nothing_written(ExmFixture *f, const gchar *snapshot)
{
	g_autofree gchar *now =
		exm_fixture_scalar(f, "SELECT updated_at::text FROM mail_instances");

	g_assert_cmpint(exm_fixture_count(f, "mail_accounts"), ==, 0);
	g_assert_cmpstr(now, ==, snapshot);
}

static void
test_hostile_bodies(void)
{
	g_autofree gchar *i1 = NULL;
	g_autofree gchar *snapshot = NULL;
	g_autoptr(ExmFixture) f = hostile_setup(&i1, &snapshot);
	g_autofree gchar *coll = NULL;
	const gchar *const bodies[] = {
		"",
		"{",
		"[1,2]",
		"null",
		"\"s\"",
		"{'name':'x'}",
		"{\"username\":\"a\\u0000b\"}",
		"{\"username\":\"bob\",\"password_hash\":\"x\"} trailing",
		"{\"cpu\":1e400}",
		"{\"cpu\":99999999999999999999}",
		"{\"cpu\":NaN}",
		"{\"cpu\":Infinity}",
		"{\"username\":\"\\u0000\"}",
		"{\"username\":\"\\ud800\"}",
	};

	if (f == NULL)
		return;
	coll = exm_fixture_accounts_path(i1);
	for (guint i = 0; i < G_N_ELEMENTS(bodies); i++) {
		g_autoptr(ExmReply) r =
			exm_fixture_call(f, NULL, &exm_who_owner1, "POST", coll, NULL, bodies[i]);
		g_test_message("body %u: %u %s", i, r->status, r->body);
		exm_assert_error(r, 400, "ParseBodyError");
	}
	{
		/* raw NUL and invalid UTF-8 inside the given length */
		const gchar nul[] = "{\"username\":\"a\0b\"}";
		const gchar bad[] = "{\"username\":\"\xff\xfe\"}";
		g_autoptr(ExmReply) r1 = exm_fixture_call_len(
			f, NULL, &exm_who_owner1, "POST", coll, NULL, nul, sizeof(nul) - 1, NULL);
		g_autoptr(ExmReply) r2 = exm_fixture_call_len(
			f, NULL, &exm_who_owner1, "POST", coll, NULL, bad, sizeof(bad) - 1, NULL);
		g_autoptr(ExmReply) r3 = exm_fixture_call_len(
			f, NULL, &exm_who_owner1, "POST", coll, NULL, "{}", 2, "text/plain");
		exm_assert_error(r1, 400, "ParseBodyError");
		exm_assert_error(r2, 400, "ParseBodyError");
		exm_assert_error(r3, 400, "ParseBodyError");
	}
	hostile_nothing_written(f, snapshot);
}

static void
test_hostile_types(void)
{
	g_autofree gchar *i1 = NULL;
	g_autofree gchar *snapshot = NULL;
	g_autoptr(ExmFixture) f = hostile_setup(&i1, &snapshot);
	g_autofree gchar *coll = NULL;
	g_autofree gchar *ipath = NULL;
	const gchar *const typed[] = {
		"{\"username\":123,\"password_hash\":\"" EXM_HASH6 "\"}",
		"{\"username\":[\"a\"],\"password_hash\":\"" EXM_HASH6 "\"}",
		"{\"username\":\"bob\",\"password_hash\":{}}",
		"{\"username\":\"bob\",\"password_hash\":\"" EXM_HASH6 "\",\"active\":1}",
		"{\"username\":\"bob\",\"password_hash\":\"" EXM_HASH6 "\",\"bogus\":1}",
		"{\"username\":null,\"password_hash\":\"" EXM_HASH6 "\"}",
		"{\"username\":\"bob\",\"password_hash\":\"" EXM_HASH6 "\",\"uuid\":\"nope\"}",
		"{\"username\":\"bob\",\"password_hash\":\"" EXM_HASH6
		"\",\"created_at\":\"yesterday\"}",
		"{\"username\":\"bob\",\"password_hash\":\"" EXM_HASH6 "\",\"name\":1.5}",
		"{\"username\":\"bob\",\"password_hash\":\"" EXM_HASH6 "\",\"instance\":\"/x/y\"}",
		"{\"username\":\"bob\\nroot\",\"password_hash\":\"" EXM_HASH6 "\"}",
		"{\"username\":\"bob:x\",\"password_hash\":\"" EXM_HASH6 "\"}",
	};

	if (f == NULL)
		return;
	coll = exm_fixture_accounts_path(i1);
	ipath = g_strdup_printf("instances/%s", i1);
	for (guint i = 0; i < G_N_ELEMENTS(typed); i++) {
		g_autoptr(ExmReply) r =
			exm_fixture_call(f, NULL, &exm_who_owner1, "POST", coll, NULL, typed[i]);
		g_test_message("typed %u: %u %s", i, r->status, r->body);
		g_assert_cmpuint(r->status, >=, 400);
		g_assert_cmpuint(r->status, <, 500);
	}
	{
		g_autoptr(ExmReply) r = exm_fixture_call(
			f, NULL, &exm_who_owner1, "PUT", ipath, NULL, "{\"cpu\":1e400}");
		exm_assert_error(r, 400, "ParseBodyError");
	}
	{
		g_autoptr(ExmReply) r = exm_fixture_call(f,
							 NULL,
							 &exm_who_owner1,
							 "PUT",
							 ipath,
							 NULL,
							 "{\"ram\":9223372036854775807}");
		g_assert_cmpuint(r->status, ==, 400);
	}
	{
		g_autoptr(ExmReply) r = exm_fixture_call(
			f, NULL, &exm_who_owner1, "PUT", ipath, NULL, "{\"ram\":2147483648}");
		g_assert_cmpuint(r->status, ==, 400);
	}

	hostile_nothing_written(f, snapshot);
}

static void
test_hostile_routes(void)
{
	g_autofree gchar *i1 = NULL;
	g_autofree gchar *snapshot = NULL;
	g_autoptr(ExmFixture) f = hostile_setup(&i1, &snapshot);

	if (f == NULL)
		return;
	/* routes and methods */
	{
		const struct {
			const gchar *method;
			const gchar *path;
			guint status;
			const gchar *type;
		} routes[] = {
			{ "GET", "instances/not-a-uuid", 400, "ParseError" },
			{ "GET",
			  "instances/{12345678-1234-1234-1234-1234567890ZZ}",
			  400,
			  "ParseError" },
			{ "GET",
			  "instances/00000000-0000-0000-0000-000000000000",
			  404,
			  "RecordNotFound" },
			{ "GET",
			  "instances/00000000-0000-0000-0000-000000000000/accounts/",
			  404,
			  "RecordNotFound" },
			{ "GET",
			  "versions/00000000-0000-0000-0000-000000000000/",
			  404,
			  "RecordNotFound" },
			{ "GET", "bogus", 405, "UnsupportedHttpMethod" },
			{ "POST", "instances", 405, "UnsupportedHttpMethod" },
			{ "HEAD", "instances/", 405, "UnsupportedHttpMethod" },
			{ "OPTIONS", "instances/", 405, "UnsupportedHttpMethod" },
			{ "PUT", "instances/", 405, "UnsupportedHttpMethod" },
			{ "DELETE", "instances/", 405, "UnsupportedHttpMethod" },
			{ "POST",
			  "versions/00000000-0000-0000-0000-000000000000",
			  405,
			  "UnsupportedHttpMethod" },
			{ "GET", "accounts/", 501, "NotImplementedError" },
			{ "PATCH", "instances/", 405, "UnsupportedHttpMethod" },
		};
		for (guint i = 0; i < G_N_ELEMENTS(routes); i++) {
			g_autoptr(ExmReply) r = exm_fixture_call(f,
								 NULL,
								 &exm_who_owner1,
								 routes[i].method,
								 routes[i].path,
								 NULL,
								 NULL);
			g_test_message("%s %s: %u %s",
				       routes[i].method,
				       routes[i].path,
				       r->status,
				       r->body);
			exm_assert_error(r, routes[i].status, routes[i].type);
		}
	}
	hostile_nothing_written(f, snapshot);
}

static void
test_hostile_ids(void)
{
	g_autofree gchar *i1 = NULL;
	g_autofree gchar *snapshot = NULL;
	g_autoptr(ExmFixture) f = hostile_setup(&i1, &snapshot);

	if (f == NULL)
		return;
	{
		/* instance of the URL loaded first, then the route error */
		g_autofree gchar *p = g_strdup_printf("instances/%s/bogus/", i1);
		g_autofree gchar *p2 = g_strdup_printf("instances/%s/accounts", i1);
		g_autofree gchar *p3 = g_strdup_printf("instances/%s/", i1);
		g_autoptr(ExmReply) r =
			exm_fixture_call(f, NULL, &exm_who_owner1, "GET", p, NULL, NULL);
		g_autoptr(ExmReply) r2 =
			exm_fixture_call(f, NULL, &exm_who_owner1, "GET", p2, NULL, NULL);
		g_autoptr(ExmReply) r3 =
			exm_fixture_call(f, NULL, &exm_who_owner1, "GET", p3, NULL, NULL);
		exm_assert_error(r, 404, "IncorrectRouteAttribute");
		g_assert_cmpstr(
			exm_reply_str(r, "message"),
			==,
			"Route <class 'exordos_mail.controlplane.api.routes.MailInstanceRoute'> "
			"doesn't have method bogus.");
		exm_assert_error(r2, 400, "ParseError");
		g_assert_cmpstr(exm_reply_str(r2, "message"), ==, "Can't parse value: uuid=None.");
		exm_assert_error(r3, 404, "IncorrectRouteAttribute");
		g_assert_cmpstr(
			exm_reply_str(r3, "message"),
			==,
			"Route <class 'exordos_mail.controlplane.api.routes.MailInstanceRoute'> "
			"doesn't have method .");
	}
	{
		/* runs of slashes collapse like WebOb's path_info_pop() */
		g_autoptr(ExmReply) r = exm_fixture_call(
			f, NULL, &exm_who_owner1, "GET", "//instances/", NULL, NULL);
		exm_assert_status(r, 200);
	}
	{
		/* Python-uuid leniency: upper case, no hyphens, braces, urn */
		g_autofree gchar *up = g_ascii_strup(i1, -1);
		g_autofree gchar *p = g_strdup_printf("instances/{%s}", up);
		g_autofree gchar *p2 = g_strdup_printf("instances/urn:uuid:%s", i1);
		g_autoptr(ExmReply) r =
			exm_fixture_call(f, NULL, &exm_who_owner1, "GET", p, NULL, NULL);
		g_autoptr(ExmReply) r2 =
			exm_fixture_call(f, NULL, &exm_who_owner1, "GET", p2, NULL, NULL);
		exm_assert_status(r, 200);
		g_assert_cmpstr(exm_reply_str(r, "uuid"), ==, i1);
		exm_assert_status(r2, 200);
	}

	hostile_nothing_written(f, snapshot);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/plugin/descriptor", test_descriptor);
	g_test_add_func("/plugin/route-flags", test_route_flags);
	g_test_add_func("/plugin/init-refuses-other-abi", test_init_refuses_other_abi);
	g_test_add_func("/plugin/index", test_index);
	g_test_add("/plugin/lists/filters",
		   ListsFixture,
		   NULL,
		   lists_fixture_setup,
		   test_lists_filters,
		   lists_fixture_teardown);
	g_test_add("/plugin/lists/pages",
		   ListsFixture,
		   NULL,
		   lists_fixture_setup,
		   test_lists_pages,
		   lists_fixture_teardown);
	g_test_add_func("/plugin/hostile/bodies", test_hostile_bodies);
	g_test_add_func("/plugin/hostile/types", test_hostile_types);
	g_test_add_func("/plugin/hostile/routes", test_hostile_routes);
	g_test_add_func("/plugin/hostile/ids", test_hostile_ids);
	return g_test_run();
}
