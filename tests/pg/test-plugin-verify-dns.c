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

/* The zone lines of @type-filter (PTR or not) from the instance's dns_records. */
static gchar *
zone_lines(ExmReply *records, gboolean ptr)
{
	JsonArray *a = json_object_get_array_member(json_node_get_object(records->json), "records");
	GString *z = g_string_new(NULL);

	for (guint k = 0; k < json_array_get_length(a); k++) {
		JsonObject *r = json_array_get_object_element(a, k);
		const gchar *type = json_object_get_string_member(r, "type");
		const gchar *data = json_object_get_string_member(r, "data");
		/* every TXT of this instance fits one 255-byte string */
		g_autofree gchar *rdata =
			g_str_equal(type, "TXT") ? g_strdup_printf("\"%s\"", data) : g_strdup(data);

		if (g_str_equal(type, "PTR") == ptr)
			g_string_append_printf(z,
					       "%s. 3600 IN %s %s\n",
					       json_object_get_string_member(r, "fqdn"),
					       type,
					       rdata);
	}
	return g_string_free(z, FALSE);
}

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

static gchar *
instance_dns_status(ExmFixture *f, const gchar *instance)
{
	g_autofree gchar *sql = g_strdup_printf(
		"SELECT dns_status FROM mail_instances WHERE uuid = '%s'", instance);

	return exm_fixture_scalar(f, sql);
}

/* Publishes the instance's guidance, with @dkim in place of its DKIM key. */
static void
publish(ExmFixture *f, ExmTestKnot *knot, const gchar *instance, const gchar *dkim)
{
	g_autofree gchar *path = g_strdup_printf("instances/%s/actions/dns_records", instance);
	g_autoptr(ExmReply) rec =
		exm_fixture_call(f, NULL, &exm_who_owner1, "GET", path, NULL, NULL);
	g_autofree gchar *fwd = zone_lines(rec, FALSE);
	g_autofree gchar *rev = zone_lines(rec, TRUE);
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

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/plugin/verify-dns", test_verify_dns);
	return g_test_run();
}
