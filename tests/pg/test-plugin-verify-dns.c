/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * `GET instances/<uuid>/actions/verify_dns` through the plugin's ABI on the
 * throwaway cluster, the resolver pointed (EXM_DNS_RESOLVER) at a real knotd
 * serving the records dns_records answers: the answer, the instance's
 * dns_status/dns_checked_at, the readiness condition next to status, the
 * cache, the trigger that makes a changed key or address unverified, project
 * scope, and a stopped server giving unverified.
 */
#include <string.h>

#include "exm-test-knot.h"
#include "exm-test.h"
#include "test-plugin-fixture.h"

#define IP	"192.0.2.10"
#define REVZONE "2.0.192.in-addr.arpa"
#define KEY	"v=DKIM1; h=sha256; k=rsa; p=QUJDREVGRw=="

static ExmReply *
verify(ExmFixture *f, const ExmWho *who, const gchar *instance)
{
	g_autofree gchar *path = g_strdup_printf("instances/%s/actions/verify_dns", instance);

	return exm_fixture_call(f, NULL, who, "GET", path, NULL, NULL);
}

static const gchar *
member(ExmReply *r, const gchar *object, const gchar *name)
{
	return json_object_get_string_member(
		json_object_get_object_member(json_node_get_object(r->json), object), name);
}

static gboolean
ready(ExmReply *r)
{
	return json_object_get_boolean_member(
		json_object_get_object_member(json_node_get_object(r->json), "readiness"),
		"ready_to_send");
}

/* The value of @expr (SQL over the instance's columns) for @instance. */
static gchar *
instance_value(ExmFixture *f, const gchar *instance, const gchar *expr)
{
	g_autofree gchar *sql =
		g_strdup_printf("SELECT %s FROM mail_instances WHERE uuid = '%s'", expr, instance);

	return exm_fixture_scalar(f, sql);
}

static gchar *
instance_dns_status(ExmFixture *f, const gchar *instance)
{
	return instance_value(f, instance, "dns_status");
}

/* Publishes the instance's guidance, with @dkim in place of its DKIM key. */
static void
publish(ExmFixture *f, ExmTestKnot *knot, const gchar *instance, const gchar *dkim)
{
	g_autofree gchar *path = g_strdup_printf("instances/%s/actions/dns_records", instance);
	g_autoptr(ExmReply) rec =
		exm_fixture_call(f, NULL, &exm_who_owner1, "GET", path, NULL, NULL);
	g_autofree gchar *fwd = exm_fixture_zone_lines(rec, FALSE);
	g_autofree gchar *rev = exm_fixture_zone_lines(rec, TRUE);
	g_autofree gchar *key_line = g_strdup_printf("p=%s\"", dkim);
	gchar *p;

	exm_assert_status(rec, 200);
	if (dkim != NULL && (p = strstr(fwd, "p=QUJDREVGRw==\"")) != NULL) {
		g_autofree gchar *head = g_strndup(fwd, (gsize)(p - fwd));
		g_autofree gchar *tail = g_strdup(p + strlen("p=QUJDREVGRw==\""));

		g_free(fwd);
		fwd = g_strconcat(head, key_line, tail, NULL);
	}
	exm_test_knot_write_zone(knot, "example.com", fwd);
	exm_test_knot_write_zone(knot, REVZONE, rev);
}

static gchar *
seed_instance(ExmFixture *f)
{
	g_autofree gchar *version = exm_fixture_version(f, "v1");
	gchar *instance = exm_fixture_instance(f, &exm_who_owner1, NULL, version, "mail-dns");
	g_autofree gchar *sql = g_strdup_printf(
		"UPDATE mail_instances SET ipsv4 = '{" IP "}', dkim_public_key = '" KEY "', "
		"dkim_selector = 'platform', status = 'ACTIVE' WHERE uuid = '%s' RETURNING 1",
		instance);
	g_autofree gchar *one = exm_fixture_scalar(f, sql);

	return instance;
}

/* A new key on the instance: unverified and no cached answer (the trigger). */
static void
assert_new_key_unverified(ExmFixture *f, const gchar *instance)
{
	g_autofree gchar *sql = g_strdup_printf(
		"UPDATE mail_instances SET dkim_public_key = 'v=DKIM1; p=TkVX' WHERE uuid = '%s' "
		"RETURNING 1",
		instance);
	g_autofree gchar *one = exm_fixture_scalar(f, sql);
	g_autofree gchar *now = instance_dns_status(f, instance);

	g_assert_cmpstr(now, ==, "unverified");
	g_assert_cmpint(exm_fixture_count(f, "mail_instance_dns"), ==, 0);
}

static void
test_verify_dns(void)
{
	const gchar *zones[] = { "example.com", REVZONE, NULL };
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_autoptr(ExmTestKnot) knot = NULL;
	g_autofree gchar *instance = NULL;
	g_autofree gchar *status = NULL;
	g_autofree gchar *get_path = NULL;
	g_autoptr(ExmReply) r = NULL;

	if (f == NULL || (knot = exm_test_knot_new(zones)) == NULL)
		return;
	instance = seed_instance(f);
	get_path = g_strdup_printf("instances/%s", instance);
	publish(f, knot, instance, NULL);
	if (!exm_test_knot_start(knot))
		return;
	g_setenv("EXM_DNS_RESOLVER", exm_test_knot_server(knot), TRUE);
	/* answers that arrive late are unverified: valgrind is slow */
	g_setenv("EXM_DNS_TIMEOUT_MS",
		 g_getenv("EXM_UNDER_VALGRIND") != NULL ? "20000" : "3000",
		 TRUE);
	g_setenv("EXM_DNS_CACHE_SECONDS", "600", TRUE);

	/* before any check: unverified, not ready although ACTIVE */
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", get_path, NULL, NULL);
	g_assert_cmpstr(exm_reply_str(r, "dns_status"), ==, "unverified");
	g_assert_false(exm_reply_has(r, "dns_checked_at") &&
		       json_object_get_string_member(json_node_get_object(r->json),
						     "dns_checked_at") != NULL);
	g_clear_pointer(&r, exm_reply_free);

	/* the published guidance: ok, ready, kept on the instance */
	r = verify(f, &exm_who_owner1, instance);
	exm_assert_status(r, 200);
	g_assert_cmpstr(exm_reply_str(r, "status"), ==, "ok");
	g_assert_false(json_object_get_boolean_member(json_node_get_object(r->json), "cached"));
	g_assert_cmpstr(member(r, "readiness", "status"), ==, "ACTIVE");
	g_assert_true(ready(r));
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", get_path, NULL, NULL);
	g_assert_cmpstr(exm_reply_str(r, "dns_status"), ==, "ok");
	g_assert_nonnull(exm_reply_str(r, "dns_checked_at"));
	g_clear_pointer(&r, exm_reply_free);

	/* a stale key published: the cached answer first, then the fresh one */
	publish(f, knot, instance, "c3RhbGU=");
	exm_test_knot_reload(knot);
	r = verify(f, &exm_who_readonly1, instance);
	exm_assert_status(r, 200);
	g_assert_true(json_object_get_boolean_member(json_node_get_object(r->json), "cached"));
	g_assert_cmpstr(exm_reply_str(r, "status"), ==, "ok");
	g_clear_pointer(&r, exm_reply_free);
	g_setenv("EXM_DNS_CACHE_SECONDS", "0", TRUE);
	r = verify(f, &exm_who_owner1, instance);
	g_assert_cmpstr(exm_reply_str(r, "status"), ==, "failing");
	g_assert_cmpstr(member(r, "readiness", "status"), ==, "ACTIVE");
	g_assert_cmpstr(member(r, "readiness", "dns_status"), ==, "failing");
	g_assert_false(ready(r));
	status = instance_dns_status(f, instance);
	g_assert_cmpstr(status, ==, "failing");
	g_clear_pointer(&r, exm_reply_free);

	/* another project's instance is not found */
	r = verify(f, &exm_who_owner2, instance);
	exm_assert_status(r, 404);
	g_clear_pointer(&r, exm_reply_free);

	assert_new_key_unverified(f, instance);

	/* the server gone: unverified, never a false ok */
	exm_test_knot_stop(knot);
	g_setenv("EXM_DNS_TIMEOUT_MS", "1500", TRUE);
	r = verify(f, &exm_who_owner1, instance);
	exm_assert_status(r, 200);
	g_assert_cmpstr(exm_reply_str(r, "status"), ==, "unverified");
	g_assert_false(ready(r));
}

/* One step of the plugin's dns_recheck job at @now_us, as the host runs it:
 * in autocommit; it leaves no transaction open. */
static gboolean
recheck_step(ExmFixture *f, gint64 now_us)
{
	const ExordosPaasPeriodicJob *job = f->desc->periodic[0];
	g_autofree gchar *message = NULL;
	gboolean more = TRUE;

	g_assert_cmpstr(job->name, ==, "dns_recheck");
	g_assert_true(job->run(f->ctx, f->db, now_us, &more, &message));
	g_assert_null(message);
	g_assert_cmpint(PQtransactionStatus(f->db), ==, PQTRANS_IDLE);
	return more;
}

/* Seconds from @now_us to the instance's next scheduled check. */
static gdouble
next_in(ExmFixture *f, const gchar *instance, gint64 now_us)
{
	g_autofree gchar *v =
		instance_value(f, instance, "extract(epoch FROM dns_next_check_at) * 1000000");

	g_assert_nonnull(v);
	return (g_ascii_strtod(v, NULL) - (gdouble)now_us) / G_USEC_PER_SEC;
}

static gchar *
checked_at(ExmFixture *f, const gchar *instance)
{
	return instance_value(f, instance, "dns_checked_at");
}

/* A budget of one query an hour stretches a one-minute period to hours; 0
 * turns the schedule off. */
static void
assert_budget_and_off(ExmFixture *f, const gchar *instance, gint64 now)
{
	g_autofree gchar *sql = NULL;
	g_autofree gchar *one = NULL;
	g_autofree gchar *due = NULL;

	g_setenv("EXM_DNS_RECHECK_SECONDS", "60", TRUE);
	g_setenv("EXM_DNS_QUERY_BUDGET", "1", TRUE);
	now += (gint64)2 * 3600 * G_USEC_PER_SEC;
	g_assert_true(recheck_step(f, now));
	g_assert_cmpfloat(next_in(f, instance, now), >=, 0.75 * 3600);
	g_unsetenv("EXM_DNS_QUERY_BUDGET");

	/* a due instance (a new key) stays unchecked */
	g_setenv("EXM_DNS_RECHECK_SECONDS", "0", TRUE);
	sql = g_strdup_printf("UPDATE mail_instances SET dkim_public_key = 'v=DKIM1; p=T0ZG' "
			      "WHERE uuid = '%s' RETURNING 1",
			      instance);
	one = exm_fixture_scalar(f, sql);
	g_assert_false(recheck_step(f, now + G_USEC_PER_SEC));
	due = instance_value(f, instance, "dns_next_check_at IS NULL");
	g_assert_cmpstr(due, ==, "t");
}

/*
 * The scheduled re-check (ABI minor 4 periodic job): a due instance is
 * checked with no API call, then not again until its period (spread ±25 %)
 * has passed; a fixed record is ok on the next scheduled check; a new key
 * makes it due at once; the hourly query budget stretches the period.
 */
static void
test_dns_recheck(void)
{
	const gchar *zones[] = { "example.com", REVZONE, NULL };
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_autoptr(ExmTestKnot) knot = NULL;
	g_autofree gchar *instance = NULL;
	g_autofree gchar *first = NULL;
	g_autofree gchar *again = NULL;
	g_autofree gchar *status = NULL;
	gint64 now = g_get_real_time();
	gdouble in;

	if (f == NULL || (knot = exm_test_knot_new(zones)) == NULL)
		return;
	g_assert_cmpuint(f->desc->abi_minor, >=, 4);
	instance = seed_instance(f);
	publish(f, knot, instance, "c3RhbGU=");
	if (!exm_test_knot_start(knot))
		return;
	g_setenv("EXM_DNS_RESOLVER", exm_test_knot_server(knot), TRUE);
	g_setenv("EXM_DNS_TIMEOUT_MS",
		 g_getenv("EXM_UNDER_VALGRIND") != NULL ? "20000" : "3000",
		 TRUE);
	g_setenv("EXM_DNS_RECHECK_SECONDS", "3600", TRUE);
	g_setenv("EXM_DNS_QUERY_BUDGET", "100000", TRUE);

	/* due (never checked): checked by the job, failing for the stale key */
	g_assert_true(recheck_step(f, now));
	status = instance_dns_status(f, instance);
	g_assert_cmpstr(status, ==, "failing");
	in = next_in(f, instance, now);
	g_assert_cmpfloat(in, >=, 0.75 * 3600 - 1);
	g_assert_cmpfloat(in, <=, 1.25 * 3600 + 1);

	/* not due yet: the next step touches nothing */
	first = checked_at(f, instance);
	g_assert_false(recheck_step(f, now + 60 * G_USEC_PER_SEC));
	again = checked_at(f, instance);
	g_assert_cmpstr(first, ==, again);

	/* the record fixed: ok on the next scheduled check, with no API call */
	publish(f, knot, instance, NULL);
	exm_test_knot_reload(knot);
	now += (gint64)(1.25 * 3600 + 1) * G_USEC_PER_SEC;
	g_assert_true(recheck_step(f, now));
	g_clear_pointer(&status, g_free);
	status = instance_dns_status(f, instance);
	g_assert_cmpstr(status, ==, "ok");

	/* a new key: due at once (0002's trigger and 0008's), checked again */
	assert_new_key_unverified(f, instance);
	g_clear_pointer(&again, g_free);
	again = instance_value(f, instance, "dns_next_check_at IS NULL");
	g_assert_cmpstr(again, ==, "t");
	g_assert_true(recheck_step(f, now + G_USEC_PER_SEC));
	g_clear_pointer(&status, g_free);
	status = instance_dns_status(f, instance);
	g_assert_cmpstr(status, ==, "failing");

	assert_budget_and_off(f, instance, now);
	g_unsetenv("EXM_DNS_RECHECK_SECONDS");
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/plugin/verify-dns", test_verify_dns);
	g_test_add_func("/plugin/dns-recheck", test_dns_recheck);
	return g_test_run();
}
