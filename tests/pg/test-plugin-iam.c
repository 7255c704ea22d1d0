/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail REST API through the plugin ABI, on a real PostgreSQL: gcl_iam
 * policies and project scoping across the models (docs/rest-conventions.md §8).
 */
#include <string.h>

#include "exm-test.h"
#include "test-plugin-fixture.h"

#define INSTANCES "instances/"

/* ------------------------------------------------------------------ IAM */

/* Per-test state of the IAM tests: an instance in P1 (owner) and one in P2
 * (created by an operator without project, which works across projects). */
typedef struct {
	ExmFixture *f;
	gchar *v1;
	gchar *i1;
	gchar *i2;
	gchar *p1;
	gchar *coll2;
} IamFixture;

static void
iam_fixture_setup(IamFixture *a, gconstpointer data)
{
	a->f = exm_fixture_new();
	if (a->f == NULL)
		return;
	a->v1 = exm_fixture_version(a->f, "exim4_1");
	a->i1 = exm_fixture_instance(a->f, &exm_who_owner1, NULL, a->v1, "m1");
	a->i2 = exm_fixture_instance(a->f, &exm_who_admin, EXM_P2, a->v1, "m2");
	a->p1 = g_strdup_printf("instances/%s", a->i1);
	a->coll2 = exm_fixture_accounts_path(a->i2);
}

static void
iam_fixture_teardown(IamFixture *a, gconstpointer data)
{
	if (a->f != NULL)
		g_assert_cmpint(exm_fixture_count(a->f, "mail_instances"), ==, 2);
	exm_fixture_free(a->f);
	g_free(a->v1);
	g_free(a->i1);
	g_free(a->i2);
	g_free(a->p1);
	g_free(a->coll2);
}

/* The shared state under short names; not every test uses every name. */
#define IAM_LOCALS                                                                                 \
	G_GNUC_UNUSED ExmFixture *f = a->f;                                                        \
	G_GNUC_UNUSED const gchar *v1 = a->v1;                                                     \
	G_GNUC_UNUSED const gchar *p1 = a->p1;                                                     \
	G_GNUC_UNUSED const gchar *coll2 = a->coll2;                                               \
	G_GNUC_UNUSED g_autofree gchar *body = NULL;                                               \
	g_autoptr(ExmReply) r = NULL

static void
test_iam_lists(IamFixture *a, gconstpointer data)
{
	IAM_LOCALS;

	if (f == NULL)
		return;
	/* own project only in lists; ?project_id= of another is a 403 */
	exm_fixture_assert_list_len(f, NULL, 1);
	r = exm_fixture_call(
		f, NULL, &exm_who_owner1, "GET", INSTANCES, "project_id=" EXM_P2, NULL);
	exm_assert_error(r, 403, "Forbidden");
	g_assert_cmpstr(exm_reply_str(r, "message"), ==, "The request you have made is forbidden.");
	g_clear_pointer(&r, exm_reply_free);
	exm_fixture_assert_list_len(f, "project_id=" EXM_P1, 1);
	r = exm_fixture_call(f, NULL, &exm_who_admin, "GET", INSTANCES, NULL, NULL);
	exm_assert_status(r, 200);
	g_assert_cmpuint(exm_reply_len(r), ==, 2);
	g_clear_pointer(&r, exm_reply_free);
}

static void
test_iam_foreign_rows(IamFixture *a, gconstpointer data)
{
	IAM_LOCALS;

	if (f == NULL)
		return;
	/* other projects' rows are 404, not 403; so are their accounts */
	exm_fixture_assert_call_error(f, &exm_who_owner2, "GET", p1, NULL, 404, "RecordNotFound");
	exm_fixture_assert_call_error(
		f, &exm_who_owner2, "PUT", p1, "{\"cpu\":3}", 404, "RecordNotFound");
	exm_fixture_assert_call_error(
		f, &exm_who_owner2, "DELETE", p1, NULL, 404, "RecordNotFound");
	exm_fixture_assert_call_error(
		f, &exm_who_owner1, "GET", coll2, NULL, 404, "RecordNotFound");
	body = g_strdup_printf("{\"username\":\"eve\",\"password_hash\":\"%s\"}", EXM_HASH6);
	exm_fixture_assert_call_error(
		f, &exm_who_owner1, "POST", coll2, body, 404, "RecordNotFound");
}

static void
test_iam_foreign_project(IamFixture *a, gconstpointer data)
{
	IAM_LOCALS;

	if (f == NULL)
		return;
	{
		/* a host may hand over the project in upper case: same project */
		const ExmWho upper = { "4D657461-0000-0000-0000-000000000002",
				       exm_who_owner1.perms,
				       FALSE };
		g_autofree gchar *b = g_strdup_printf("{\"project_id\":\"%s\"}", EXM_P1);
		r = exm_fixture_call(f, NULL, &upper, "PUT", p1, NULL, b);
		exm_assert_status(r, 200);
		g_clear_pointer(&r, exm_reply_free);
	}
	/* a foreign project_id in a body is a 403 */
	body = (g_free(body),
		g_strdup_printf("{\"name\":\"m3\",\"project_id\":\"" EXM_P2
				"\",\"domain\":\"a.example\",\"cpu\":1,\"ram\":512,\"disk_size\":8,"
				"\"version\":\"/v1/types/mail/versions/%s\"}",
				v1));
	exm_fixture_assert_call_error(
		f, &exm_who_owner1, "POST", INSTANCES, body, 403, "Forbidden");
	exm_fixture_assert_call_error(
		f, &exm_who_owner1, "PUT", p1, "{\"project_id\":\"" EXM_P2 "\"}", 403, "Forbidden");
	/* an operator may not move an instance either */
	exm_fixture_assert_call_error(f,
				      &exm_who_admin,
				      "PUT",
				      p1,
				      "{\"project_id\":\"" EXM_P2 "\"}",
				      400,
				      "ReadOnlyProperty");
}

static void
test_iam_wildcards(IamFixture *a, gconstpointer data)
{
	IAM_LOCALS;

	if (f == NULL)
		return;
	/* wildcards */
	r = exm_fixture_call(f, NULL, &exm_who_wild1, "PUT", p1, NULL, "{\"cpu\":3}");
	exm_assert_status(r, 200);
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(f, NULL, &exm_who_readonly1, "GET", p1, NULL, NULL);
	exm_assert_status(r, 200);
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(f, NULL, &exm_who_readonly1, "PUT", p1, NULL, "{\"cpu\":2}");
	exm_assert_error(r, 403, "PolicyNotAuthorized");
	g_assert_cmpstr(exm_reply_str(r, "message"),
			==,
			"Policy rule exordos_mail.mail_instance.update is disallowed.");
	g_clear_pointer(&r, exm_reply_free);

	/* missing the version read permission: creating an instance needs it */
	{
		static const gchar *const perms[] = { "exordos_mail.mail_instance.*", NULL };
		const ExmWho who = { EXM_P1, perms, FALSE };
		body = (g_free(body),
			g_strdup_printf(
				"{\"name\":\"m3\",\"domain\":\"a.example\",\"cpu\":1,\"ram\":"
				"512,\"disk_size\":8,\"version\":\"/v1/types/mail/versions/%s\"}",
				v1));
		r = exm_fixture_call(f, NULL, &who, "POST", INSTANCES, NULL, body);
		exm_assert_error(r, 403, "PolicyNotAuthorized");
		g_assert_cmpstr(exm_reply_str(r, "message"),
				==,
				"Policy rule exordos_mail.mail_version.read is disallowed.");
		g_clear_pointer(&r, exm_reply_free);
	}
	/* gcl_iam's shadowing quirk: a later `*` resource hides the specific one */
	{
		static const gchar *const perms[] = { "exordos_mail.mail_instance.update",
						      "exordos_mail.*.read",
						      NULL };
		const ExmWho who = { EXM_P1, perms, FALSE };
		r = exm_fixture_call(f, NULL, &who, "PUT", p1, NULL, "{\"cpu\":2}");
		exm_assert_error(r, 403, "PolicyNotAuthorized");
		g_clear_pointer(&r, exm_reply_free);
	}
}

static void
test_iam_anonymous(IamFixture *a, gconstpointer data)
{
	IAM_LOCALS;

	if (f == NULL)
		return;
	/* anonymous: 403 everywhere but the index; malformed body still 400 first */
	r = exm_fixture_call(f, NULL, &exm_who_anon, "GET", INSTANCES, NULL, NULL);
	exm_assert_error(r, 403, "PolicyNotAuthorized");
	g_assert_cmpstr(exm_reply_str(r, "message"),
			==,
			"Policy rule exordos_mail.mail_instance.read is disallowed.");
	g_clear_pointer(&r, exm_reply_free);
	exm_fixture_assert_call_error(
		f, &exm_who_anon, "GET", p1, NULL, 403, "PolicyNotAuthorized");
	exm_fixture_assert_call_error(
		f, &exm_who_anon, "POST", INSTANCES, "{bad", 400, "ParseBodyError");
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
#define IAM_TEST(path, fn)                                                                         \
	g_test_add(path, IamFixture, NULL, iam_fixture_setup, fn, iam_fixture_teardown)
	IAM_TEST("/plugin/iam/lists", test_iam_lists);
	IAM_TEST("/plugin/iam/foreign-rows", test_iam_foreign_rows);
	IAM_TEST("/plugin/iam/foreign-project", test_iam_foreign_project);
	IAM_TEST("/plugin/iam/wildcards", test_iam_wildcards);
	IAM_TEST("/plugin/iam/anonymous", test_iam_anonymous);
	return g_test_run();
}
