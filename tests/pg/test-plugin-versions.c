/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail REST API through the plugin ABI, on a real PostgreSQL: versions
 * (docs/rest-conventions.md, docs/mail.md §6).
 */
#include <string.h>

#include "exm-test.h"
#include "test-plugin-fixture.h"

#define VERSIONS "versions/"

/* ------------------------------------------------------------------ versions */

/* Per-test state of the version tests: exim4_1, created by an operator. */
typedef struct {
	ExmFixture *f;
	gchar *v1;
	gchar *path;
	gchar *created;
	ExmReply *reply;
} VersionsFixture;

static void
versions_fixture_setup(VersionsFixture *a, gconstpointer data)
{
	a->f = exm_fixture_new();
	if (a->f == NULL)
		return;
	a->reply = exm_fixture_call(
		a->f,
		NULL,
		&exm_who_admin,
		"POST",
		VERSIONS,
		NULL,
		"{\"name\":\"exim4_1\",\"image\":\"img\",\"description\":\"" EXM_P1 "\"}");
	exm_assert_status(a->reply, 201);
	a->v1 = g_strdup(exm_reply_str(a->reply, "uuid"));
	a->created = g_strdup(exm_reply_str(a->reply, "created_at"));
	a->path = g_strdup_printf("versions/%s", a->v1);
}

static void
versions_fixture_teardown(VersionsFixture *a, gconstpointer data)
{
	exm_fixture_free(a->f);
	g_free(a->v1);
	g_free(a->path);
	g_free(a->created);
	exm_reply_free(a->reply);
}

/* The shared state under short names; not every test uses every name. */
#define VERSIONS_LOCALS                                                                            \
	G_GNUC_UNUSED ExmFixture *f = a->f;                                                        \
	G_GNUC_UNUSED const gchar *v1 = a->v1;                                                     \
	G_GNUC_UNUSED const gchar *path = a->path;                                                 \
	G_GNUC_UNUSED const gchar *created = a->created;                                           \
	g_autoptr(ExmReply) r = NULL

static void
test_versions_create(VersionsFixture *a, gconstpointer data)
{
	VERSIONS_LOCALS;
	g_autofree gchar *loc = NULL;

	if (f == NULL)
		return;
	r = g_steal_pointer(&a->reply);
	loc = g_strdup_printf("http://127.0.0.1:8080/v1/types/mail/versions/%s", v1);
	g_assert_cmpstr(exm_reply_header(r, "Location"), ==, loc);
	g_assert_true(g_str_has_prefix(r->body, "{\"uuid\":\""));
	g_assert_nonnull(strstr(
		r->body, "\"name\":\"exim4_1\",\"description\":\"" EXM_P1 "\",\"created_at\":\""));
	g_assert_true(g_str_has_suffix(r->body, "\",\"image\":\"img\"}"));
	g_assert_cmpuint(strlen(created), ==, strlen("2026-11-25T12:33:14.510407Z"));
	g_assert_true(g_str_has_suffix(created, "Z"));
	g_assert_cmpint(created[10], ==, 'T');
}

static void
test_versions_policy(VersionsFixture *a, gconstpointer data)
{
	VERSIONS_LOCALS;

	if (f == NULL)
		return;
	/* owners read, only operators write */
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", VERSIONS, "name=exim4_1", NULL);
	exm_assert_status(r, 200);
	g_assert_cmpuint(exm_reply_len(r), ==, 1);
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(f, NULL, &exm_who_owner2, "GET", path, NULL, NULL);
	exm_assert_status(r, 200);
	g_assert_cmpstr(exm_reply_str(r, "name"), ==, "exim4_1");
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "POST", VERSIONS, NULL, "{\"name\":\"x\"}");
	exm_assert_error(r, 403, "PolicyNotAuthorized");
	g_assert_cmpstr(exm_reply_str(r, "message"),
			==,
			"Policy rule exordos_mail.mail_version.create is disallowed.");
	g_assert_cmpint(exm_reply_int(r, "code"), ==, 10000001);
	g_clear_pointer(&r, exm_reply_free);
	exm_fixture_assert_call_error(
		f, &exm_who_owner1, "PUT", path, "{\"name\":\"y\"}", 403, "PolicyNotAuthorized");
	exm_fixture_assert_call_error(
		f, &exm_who_owner1, "DELETE", path, NULL, 403, "PolicyNotAuthorized");
	exm_fixture_assert_call_error(
		f, &exm_who_anon, "GET", VERSIONS, NULL, 403, "PolicyNotAuthorized");
}

static void
test_versions_escaping(VersionsFixture *a, gconstpointer data)
{
	VERSIONS_LOCALS;

	if (f == NULL)
		return;
	/* the answer's string escaping: short escapes, \u00XX, UTF-8 raw */
	r = exm_fixture_call(
		f,
		NULL,
		&exm_who_admin,
		"POST",
		VERSIONS,
		"fields=description",
		"{\"name\":\"esc\",\"description\":\"q\\\"b\\\\c\\n\\u0001\\u00e9/\u00e9\"}");
	exm_assert_status(r, 201);
	g_assert_cmpstr(
		r->body, ==, "{\"description\":\"q\\\"b\\\\c\\n\\u0001\xc3\xa9/\xc3\xa9\"}");
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(
		f, NULL, &exm_who_admin, "GET", VERSIONS, "name=esc&fields=name", NULL);
	exm_assert_status(r, 200);
	g_assert_cmpstr(r->body, ==, "[{\"name\":\"esc\"}]");
	g_clear_pointer(&r, exm_reply_free);
}

static void
test_versions_update(VersionsFixture *a, gconstpointer data)
{
	VERSIONS_LOCALS;

	if (f == NULL)
		return;
	/* duplicate name → 409 */
	exm_fixture_assert_call_error(f,
				      &exm_who_admin,
				      "POST",
				      VERSIONS,
				      "{\"name\":\"exim4_1\"}",
				      409,
				      "ConflictRecords");

	/* update: partial, PATCH the same, no-op keeps updated_at */
	r = exm_fixture_call(f, NULL, &exm_who_admin, "PATCH", path, NULL, "{\"image\":\"img2\"}");
	exm_assert_status(r, 200);
	g_assert_cmpstr(exm_reply_str(r, "image"), ==, "img2");
	g_assert_cmpstr(exm_reply_str(r, "name"), ==, "exim4_1");
	g_assert_cmpstr(exm_reply_str(r, "created_at"), ==, created);
	g_assert_cmpstr(exm_reply_str(r, "updated_at"), >, created);
	g_clear_pointer(&r, exm_reply_free);
	exm_fixture_assert_call_error(f,
				      &exm_who_admin,
				      "PUT",
				      path,
				      "{\"created_at\":\"2020-01-01T00:00:00.000000Z\"}",
				      400,
				      "ReadOnlyProperty");
}

static void
test_versions_delete(VersionsFixture *a, gconstpointer data)
{
	VERSIONS_LOCALS;
	g_autofree gchar *inst = NULL;

	if (f == NULL)
		return;
	/* a referenced version cannot be deleted */
	inst = exm_fixture_instance(f, &exm_who_owner1, NULL, v1, "m1");
	exm_fixture_assert_call_error(
		f, &exm_who_admin, "DELETE", path, NULL, 409, "ConflictRecords");
	g_assert_cmpint(exm_fixture_count(f, "mail_versions"), ==, 1);

	{
		g_autofree gchar *ipath = g_strdup_printf("instances/%s", inst);
		r = exm_fixture_call(f, NULL, &exm_who_owner1, "DELETE", ipath, NULL, NULL);
		exm_assert_status(r, 204);
		g_clear_pointer(&r, exm_reply_free);
	}
	r = exm_fixture_call(f, NULL, &exm_who_admin, "DELETE", path, NULL, NULL);
	exm_assert_status(r, 204);
	g_clear_pointer(&r, exm_reply_free);
	exm_fixture_assert_call_error(
		f, &exm_who_admin, "DELETE", path, NULL, 404, "RecordNotFound");
	r = exm_fixture_call(f, NULL, &exm_who_admin, "GET", path, NULL, NULL);
	exm_assert_error(r, 404, "RecordNotFound");
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
#define VERSIONS_TEST(path, fn)                                                                    \
	g_test_add(path,                                                                           \
		   VersionsFixture,                                                                \
		   NULL,                                                                           \
		   versions_fixture_setup,                                                         \
		   fn,                                                                             \
		   versions_fixture_teardown)
	VERSIONS_TEST("/plugin/versions/create", test_versions_create);
	VERSIONS_TEST("/plugin/versions/policy", test_versions_policy);
	VERSIONS_TEST("/plugin/versions/escaping", test_versions_escaping);
	VERSIONS_TEST("/plugin/versions/update", test_versions_update);
	VERSIONS_TEST("/plugin/versions/delete", test_versions_delete);
	return g_test_run();
}
