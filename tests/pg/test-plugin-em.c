/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The EM path (manifest_apply, ABI minor 3) on a real PostgreSQL: element
 * manifest resources go through the REST code (validation, hashing, parent
 * touch, errors), an unchanged value writes nothing, and the host's seal is
 * kept with an account until another write changes its password
 * (docs/em-path.md).
 */
#include <string.h>

#include "exm-test.h"
#include "test-plugin-fixture.h"

#define K_INST "em_mailaas_types_mail_instances"
#define K_ACC  "em_mailaas_types_mail_instances_accounts"
#define U_INST "5e4d3c2b-1a09-4876-9543-210fedcba987"
#define U_ACC  "6f5e4d3c-2b1a-4987-8654-3210fedcba98"

typedef struct {
	ExmFixture *f;
	gchar *version;
} EmFixture;

static void
em_setup(EmFixture *e, gconstpointer data)
{
	e->f = exm_fixture_new();
	if (e->f != NULL)
		e->version = exm_fixture_version(e->f, "exim4_1");
}

static void
em_teardown(EmFixture *e, gconstpointer data)
{
	g_free(e->version);
	g_clear_pointer(&e->f, exm_fixture_free);
}

static gchar *
em_instance_value(EmFixture *e, gint cpu)
{
	return g_strdup_printf("{\"uuid\":\"%s\",\"name\":\"notification_mail\","
			       "\"project_id\":\"%s\",\"domain\":\"notify.example.com\","
			       "\"cpu\":%d,\"ram\":1024,\"disk_size\":10,\"version\":\"%s\"}",
			       U_INST,
			       EXM_P1,
			       cpu,
			       e->version);
}

static gchar *
em_account_value(const gchar *secret_key, const gchar *secret)
{
	return g_strdup_printf("{\"uuid\":\"%s\",\"instance\":\"/v1/types/mail/instances/%s\","
			       "\"project_id\":\"%s\",\"username\":\"smtp\",\"%s\":\"%s\"}",
			       U_ACC,
			       U_INST,
			       EXM_P1,
			       secret_key,
			       secret);
}

static gchar *
em_row(EmFixture *e, const gchar *table, const gchar *uuid)
{
	g_autofree gchar *sql = g_strdup_printf(
		"SELECT xmin::text || ' ' || updated_at::text FROM %s WHERE uuid = '%s'",
		table,
		uuid);
	return exm_fixture_scalar(e->f, sql);
}

static void
em_apply_ok(EmFixture *e,
	    const gchar *kind,
	    const gchar *uuid,
	    const gchar *value,
	    const gchar *seal,
	    guint status)
{
	g_autoptr(ExmReply) r =
		exm_fixture_manifest(e->f, EXORDOS_PAAS_MANIFEST_CREATE, kind, uuid, value, seal);

	if (r->status != status)
		g_test_message("apply %s: %u %s", kind, r->status, r->body);
	g_assert_cmpuint(r->status, ==, status);
	g_assert_cmpstr(exm_reply_str(r, "uuid"), ==, uuid);
	g_assert_false(exm_reply_has(r, "password"));
	g_assert_false(exm_reply_has(r, "password_hash"));
}

/* LIST: the uuids whose filter field (project_id) holds the value. */
static void
em_list_is(EmFixture *e, const gchar *kind, const gchar *filter, const gchar *expect)
{
	g_autoptr(ExmReply) r =
		exm_fixture_manifest(e->f, EXORDOS_PAAS_MANIFEST_LIST, kind, NULL, filter, NULL);

	exm_assert_status(r, 200);
	g_assert_cmpstr(r->body, ==, expect);
}

/* The notification manifest: instance and account created through the
 * plugin (a bare version uuid normalised, the password hashed), then ten
 * unchanged applies write no row. */
static void
test_em_converges(EmFixture *e, gconstpointer data)
{
	g_autofree gchar *inst = NULL;
	g_autofree gchar *acc = NULL;
	g_autofree gchar *omitted = NULL;
	g_autofree gchar *i_row = NULL;
	g_autofree gchar *a_row = NULL;
	g_autofree gchar *hash = NULL;

	if (e->f == NULL)
		return;
	inst = em_instance_value(e, 1);
	acc = em_account_value("password", "n0tify-plain");
	omitted = g_strdup_printf("{\"uuid\":\"%s\",\"instance\":\"%s\",\"project_id\":\"%s\","
				  "\"username\":\"smtp\"}",
				  U_ACC,
				  U_INST,
				  EXM_P1);
	em_apply_ok(e, K_INST, U_INST, inst, NULL, 201);
	em_apply_ok(e, K_ACC, U_ACC, acc, "sealed-1", 201);
	hash = exm_fixture_scalar(e->f, "SELECT password_hash FROM mail_accounts");
	g_assert_true(g_str_has_prefix(hash, "$y$"));
	g_assert_cmpint(exm_fixture_count(e->f, "mail_account_seals"), ==, 1);
	em_list_is(e, K_ACC, EXM_P1, "[\"" U_ACC "\"]");
	em_list_is(e, K_INST, EXM_P2, "[]");
	i_row = em_row(e, "mail_instances", U_INST);
	a_row = em_row(e, "mail_accounts", U_ACC);
	for (guint i = 0; i < 10; i++) {
		g_autofree gchar *i_now = NULL;
		g_autofree gchar *a_now = NULL;

		em_apply_ok(e, K_INST, U_INST, inst, NULL, 200);
		em_apply_ok(e, K_ACC, U_ACC, omitted, "sealed-1", 200);
		i_now = em_row(e, "mail_instances", U_INST);
		a_now = em_row(e, "mail_accounts", U_ACC);
		g_assert_cmpstr(i_now, ==, i_row);
		g_assert_cmpstr(a_now, ==, a_row);
	}
	/* the same plaintext again (a host without the seal) keeps the hash */
	em_apply_ok(e, K_ACC, U_ACC, acc, "sealed-2", 200);
	g_autofree gchar *same =
		exm_fixture_scalar(e->f, "SELECT password_hash FROM mail_accounts");
	g_assert_cmpstr(same, ==, hash);
	g_assert_true(exm_fixture_logs_lack(e->f, "n0tify-plain"));
	g_autofree gchar *plain =
		exm_fixture_scalar(e->f,
				   "SELECT count(*)::text FROM mail_accounts a JOIN "
				   "mail_account_seals s ON s.account = a.uuid WHERE "
				   "a::text LIKE '%n0tify-plain%' OR s.seal LIKE '%n0tify-plain%'");
	g_assert_cmpstr(plain, ==, "0");
}

/* Get answers the representation and the stored seal; a REST password
 * change drops the seal; delete removes the resource. */
static void
test_em_get_seal_delete(EmFixture *e, gconstpointer data)
{
	g_autofree gchar *inst = NULL;
	g_autofree gchar *acc = NULL;
	g_autofree gchar *path = NULL;
	g_autoptr(ExmReply) r = NULL;

	if (e->f == NULL)
		return;
	inst = em_instance_value(e, 1);
	acc = em_account_value("password", "first-plain");
	em_apply_ok(e, K_INST, U_INST, inst, NULL, 201);
	em_apply_ok(e, K_ACC, U_ACC, acc, "sealed-a", 201);
	r = exm_fixture_manifest(e->f, EXORDOS_PAAS_MANIFEST_GET, K_ACC, U_ACC, NULL, NULL);
	exm_assert_status(r, 200);
	g_assert_cmpstr(exm_reply_str(r, "username"), ==, "smtp");
	g_assert_cmpstr(exm_reply_header(r, EXORDOS_PAAS_MANIFEST_SEAL_HEADER), ==, "sealed-a");
	g_clear_pointer(&r, exm_reply_free);
	path = g_strdup_printf("instances/%s/accounts/%s", U_INST, U_ACC);
	r = exm_fixture_call(
		e->f, NULL, &exm_who_owner1, "PUT", path, NULL, "{\"password\":\"rest-plain\"}");
	exm_assert_status(r, 200);
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_manifest(e->f, EXORDOS_PAAS_MANIFEST_GET, K_ACC, U_ACC, NULL, NULL);
	exm_assert_status(r, 200);
	g_assert_null(exm_reply_header(r, EXORDOS_PAAS_MANIFEST_SEAL_HEADER));
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_manifest(e->f, EXORDOS_PAAS_MANIFEST_DELETE, K_ACC, U_ACC, NULL, NULL);
	exm_assert_status(r, 204);
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_manifest(e->f, EXORDOS_PAAS_MANIFEST_GET, K_ACC, U_ACC, NULL, NULL);
	exm_assert_error(r, 404, "RecordNotFound");
	g_assert_cmpint(exm_fixture_count(e->f, "mail_account_seals"), ==, 0);
}

/* A refused value answers the REST API's error and changes nothing; a
 * change moves the row; an unknown kind is a 404; the older
 * `password_hash: <plaintext>` form is hashed as `password`. */
static void
test_em_refused_and_changed(EmFixture *e, gconstpointer data)
{
	g_autofree gchar *inst = NULL;
	g_autofree gchar *bad = NULL;
	g_autofree gchar *more = NULL;
	g_autofree gchar *legacy = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *hash = NULL;
	g_autoptr(ExmReply) r = NULL;

	if (e->f == NULL)
		return;
	inst = em_instance_value(e, 1);
	em_apply_ok(e, K_INST, U_INST, inst, NULL, 201);
	before = em_row(e, "mail_instances", U_INST);
	bad = em_instance_value(e, 0);
	r = exm_fixture_manifest(e->f, EXORDOS_PAAS_MANIFEST_UPDATE, K_INST, U_INST, bad, NULL);
	/* upstream's type error at update */
	exm_assert_error(r, 400, "ModelTypeError");
	g_test_message("refused: %s", exm_reply_str(r, "message"));
	g_assert_nonnull(strstr(exm_reply_str(r, "message"), "cpu"));
	after = em_row(e, "mail_instances", U_INST);
	g_assert_cmpstr(after, ==, before);
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_manifest(e->f,
				 EXORDOS_PAAS_MANIFEST_CREATE,
				 "em_mailaas_types_mail_bogus",
				 U_INST,
				 inst,
				 NULL);
	g_assert_cmpuint(r->status, ==, 404);
	g_clear_pointer(&r, exm_reply_free);
	more = em_instance_value(e, 2);
	em_apply_ok(e, K_INST, U_INST, more, NULL, 200);
	g_clear_pointer(&after, g_free);
	after = em_row(e, "mail_instances", U_INST);
	g_assert_cmpstr(after, !=, before);
	legacy = em_account_value("password_hash", "legacy-plain");
	em_apply_ok(e, K_ACC, U_ACC, legacy, "sealed-l", 201);
	hash = exm_fixture_scalar(e->f, "SELECT password_hash FROM mail_accounts");
	g_assert_true(g_str_has_prefix(hash, "$y$"));
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add(
		"/plugin/em/converges", EmFixture, NULL, em_setup, test_em_converges, em_teardown);
	g_test_add("/plugin/em/get-seal-delete",
		   EmFixture,
		   NULL,
		   em_setup,
		   test_em_get_seal_delete,
		   em_teardown);
	g_test_add("/plugin/em/refused-and-changed",
		   EmFixture,
		   NULL,
		   em_setup,
		   test_em_refused_and_changed,
		   em_teardown);
	return g_test_run();
}
