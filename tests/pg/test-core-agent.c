/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host's core-agent driver (tests/host/coreagent) under the universal
 * agent's own reconcile step (agent/ua exm_ua_reconcile_kind), on a real
 * PostgreSQL with the mail plugin: the exordos_notification manifest's
 * instance and account converge through manifest_apply, ten further cycles
 * write no row and re-hash nothing, no plaintext rests in the database, and a
 * refused value is reported as an ERROR resource carrying the plugin's
 * message (docs/em-path.md).
 */
#include <string.h>

#include "exh-core-agent-driver.h"
#include "exm-json.h"
#include "exm-test.h"
#include "exm-ua-reconcile.h"
#include "exm-ua-resource.h"
#include "test-plugin-fixture.h"

#define EM_PROJECT "12345678-c625-4fee-81d5-f691897b8142"
#define K_INST	   "em_mailaas_types_mail_instances"
#define K_ACC	   "em_mailaas_types_mail_instances_accounts"
#define U_INST	   "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
#define U_ACC	   "1c2d3e4f-5061-4728-93a4-b5c6d7e8f9a0"
#define PLAIN	   "9f8e7d6c5b4a39281706f5e4d3c2b1a0"

typedef struct {
	ExmFixture *f;
	ExmUaDriver *driver;
	gchar *version;
} CoreFixture;

static void
core_setup(CoreFixture *c, gconstpointer data)
{
	guint8 key[32];
	g_autoptr(GError) error = NULL;

	c->f = exm_fixture_new();
	if (c->f == NULL)
		return;
	for (guint i = 0; i < sizeof(key); i++)
		key[i] = (guint8)(i * 7 + 3);
	c->version = exm_fixture_version(c->f, "exim4_1");
	c->driver = exh_core_agent_driver_new(c->f->desc,
					      c->f->ctx,
					      PQconnectdb(c->f->conninfo),
					      EM_PROJECT,
					      exh_seal_key_new_from_bytes(key),
					      &error);
	g_assert_no_error(error);
}

static void
core_teardown(CoreFixture *c, gconstpointer data)
{
	g_clear_pointer(&c->driver, exm_ua_driver_free);
	g_free(c->version);
	g_clear_pointer(&c->f, exm_fixture_free);
}

/* The manifest's targets, as Core hands them to the agent. */
static JsonObject *
target_value(const gchar *json)
{
	JsonObject *o = exm_json_parse_object(json, strlen(json), NULL);

	g_assert_nonnull(o);
	return o;
}

static gchar *
instance_json(CoreFixture *c, gint cpu)
{
	return g_strdup_printf("{\"uuid\":\"%s\",\"name\":\"notification_mail\","
			       "\"project_id\":\"%s\",\"domain\":\"notify.example.com\","
			       "\"cpu\":%d,\"ram\":1024,\"disk_size\":10,"
			       "\"version\":\"/v1/types/mail/versions/%s\"}",
			       U_INST,
			       EM_PROJECT,
			       cpu,
			       c->version);
}

static gchar *
account_json(void)
{
	return g_strdup_printf("{\"uuid\":\"%s\",\"instance\":\"/v1/types/mail/instances/%s\","
			       "\"project_id\":\"%s\",\"username\":\"smtp\",\"password\":\"%s\"}",
			       U_ACC,
			       U_INST,
			       EM_PROJECT,
			       PLAIN);
}

/* One reconcile of @kind towards @json; returns the collected resource. */
static ExmUaResource *
cycle(CoreFixture *c, const gchar *kind, const gchar *json, ExmUaKindResult *result)
{
	g_autoptr(JsonObject) value = target_value(json);
	g_autoptr(GPtrArray) targets =
		g_ptr_array_new_with_free_func((GDestroyNotify)exm_ua_resource_unref);
	g_autoptr(GPtrArray) collected =
		g_ptr_array_new_with_free_func((GDestroyNotify)exm_ua_resource_unref);

	g_ptr_array_add(targets, exm_ua_resource_new_actual(kind, value, value, NULL));
	memset(result, 0, sizeof(*result));
	exm_ua_reconcile_kind(c->driver, kind, targets, collected, result);
	g_assert_cmpuint(collected->len, ==, 1);
	return exm_ua_resource_ref(g_ptr_array_index(collected, 0));
}

static gchar *
rows(CoreFixture *c)
{
	return exm_fixture_scalar(c->f,
				  "SELECT string_agg(t, ' ' ORDER BY t) FROM ("
				  "SELECT xmin::text || updated_at::text || password_hash AS t "
				  "FROM mail_accounts UNION ALL SELECT xmin::text || "
				  "updated_at::text FROM mail_instances UNION ALL SELECT "
				  "xmin::text || seal FROM mail_account_seals) s");
}

static void
converge(CoreFixture *c, const gchar *inst, const gchar *acc, gboolean first)
{
	ExmUaKindResult r;
	g_autoptr(ExmUaResource) ri = cycle(c, K_INST, inst, &r);
	g_autoptr(JsonObject) ti = target_value(inst);
	g_autoptr(ExmUaResource) want_i = exm_ua_resource_new_actual(K_INST, ti, ti, NULL);

	g_assert_false(r.failed);
	g_assert_cmpuint(r.created, ==, first ? 1 : 0);
	g_assert_cmpuint(r.updated + r.deleted, ==, 0);
	g_assert_cmpstr(ri->hash, ==, want_i->hash);
	g_autoptr(ExmUaResource) ra = cycle(c, K_ACC, acc, &r);
	g_autoptr(JsonObject) ta = target_value(acc);
	g_autoptr(ExmUaResource) want_a = exm_ua_resource_new_actual(K_ACC, ta, ta, NULL);
	g_assert_false(r.failed);
	g_assert_cmpuint(r.created, ==, first ? 1 : 0);
	g_assert_cmpuint(r.updated + r.deleted, ==, 0);
	/* the echoed password (from the seal) makes the account converge */
	g_assert_cmpstr(ra->hash, ==, want_a->hash);
}

static void
test_core_agent_converges(CoreFixture *c, gconstpointer data)
{
	g_autofree gchar *inst = NULL;
	g_autofree gchar *acc = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *plain = NULL;

	if (c->f == NULL)
		return;
	inst = instance_json(c, 1);
	acc = account_json();
	converge(c, inst, acc, TRUE);
	before = rows(c);
	g_test_message("rows after the first cycle: %s", before);
	g_assert_true(strstr(before, "$y$") != NULL);
	for (guint i = 0; i < 10; i++) {
		g_autofree gchar *now = NULL;

		converge(c, inst, acc, FALSE);
		now = rows(c);
		g_assert_cmpstr(now, ==, before);
	}
	plain = exm_fixture_scalar(
		c->f,
		"SELECT count(*)::text FROM mail_accounts a, mail_account_seals s "
		"WHERE a::text LIKE '%" PLAIN "%' OR s::text LIKE '%" PLAIN "%'");
	g_assert_cmpstr(plain, ==, "0");
	g_assert_true(exm_fixture_logs_lack(c->f, PLAIN));
}

/* A refused value: an ERROR resource with the plugin's error; no write. */
static void
test_core_agent_refused(CoreFixture *c, gconstpointer data)
{
	g_autofree gchar *inst = NULL;
	g_autofree gchar *bad = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autoptr(ExmUaResource) r = NULL;
	JsonObject *err;
	ExmUaKindResult res;

	if (c->f == NULL)
		return;
	inst = instance_json(c, 1);
	bad = instance_json(c, 0);
	g_clear_pointer(&r, exm_ua_resource_unref);
	r = cycle(c, K_INST, inst, &res);
	before = rows(c);
	g_clear_pointer(&r, exm_ua_resource_unref);
	r = cycle(c, K_INST, bad, &res);
	g_assert_cmpstr(r->status, ==, "ERROR");
	err = json_object_get_object_member(r->value, "error");
	g_assert_nonnull(err);
	g_test_message("reported: %s", json_object_get_string_member(err, "message"));
	g_assert_cmpstr(json_object_get_string_member(err, "type"), ==, "ModelTypeError");
	g_assert_nonnull(strstr(json_object_get_string_member(err, "message"), "cpu"));
	g_assert_cmpint(json_object_get_int_member(r->value, "cpu"), ==, 1);
	after = rows(c);
	g_assert_cmpstr(after, ==, before);
}

/* A seal opens with its key and resource only. */
static void
test_core_agent_seal(void)
{
	guint8 k1[32] = { 1 };
	guint8 k2[32] = { 2 };
	g_autoptr(ExhSealKey) a = exh_seal_key_new_from_bytes(k1);
	g_autoptr(ExhSealKey) b = exh_seal_key_new_from_bytes(k2);
	g_autofree gchar *s = exh_seal_close(a, "kind\nuuid-1", "{\"password\":\"x\"}");
	g_autofree gchar *s2 = exh_seal_close(a, "kind\nuuid-1", "{\"password\":\"x\"}");
	g_autofree gchar *ok = exh_seal_open(a, "kind\nuuid-1", s, NULL);
	g_autofree gchar *other_key = exh_seal_open(b, "kind\nuuid-1", s, NULL);
	g_autofree gchar *other_res = exh_seal_open(a, "kind\nuuid-2", s, NULL);

	g_assert_cmpstr(ok, ==, "{\"password\":\"x\"}");
	g_assert_cmpstr(s, !=, s2); /* a fresh nonce per seal */
	g_assert_null(strstr(s, "password"));
	g_assert_null(other_key);
	g_assert_null(other_res);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/core-agent/seal", test_core_agent_seal);
	g_test_add("/core-agent/converges",
		   CoreFixture,
		   NULL,
		   core_setup,
		   test_core_agent_converges,
		   core_teardown);
	g_test_add("/core-agent/refused",
		   CoreFixture,
		   NULL,
		   core_setup,
		   test_core_agent_refused,
		   core_teardown);
	return g_test_run();
}
