/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The live DNS check (common/mail/exm-mail-dnscheck.c) through the real
 * resolver (libunbound, exm-mail-resolver.c) against a real authoritative
 * server: Debian's knotd on 127.0.0.1 and a port of its own, serving the
 * instance's zone and the reverse zone of its node address, both written by
 * the test.  Each case changes one record of the published guidance and
 * expects the matching check to say so; knotd is stopped by the fixture's
 * teardown, which runs even when a case fails.
 */
#include <gio/gio.h>
#include <string.h>

#include "exm-mail-dkim.h"
#include "exm-mail-dns.h"
#include "exm-mail-dnscheck.h"
#include "exm-mail-resolver.h"
#include "exm-test-knot.h"
#include "exm-test.h"

#define DOMAIN	 "example.com"
#define NODE_IP	 "192.0.2.10"
#define REVZONE	 "2.0.192.in-addr.arpa"
#define SELECTOR "platform"
#define KEY                                                                                        \
	"v=DKIM1; h=sha256; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"                 \
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/0123456789"               \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/0123456789abcdefghijk"              \
	"lmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/0123456789abcdefghijklmnopqrstuv"              \
	"IDAQAB"
/* The deadline of a check that expects answers: generous, since a late answer
 * is rightly "unverified" and a loaded CI machine must not turn an expected
 * "ok" into that; the timeout tests pass their own short deadline. */
#define TIMEOUT_MS 15000

typedef struct {
	ExmTestKnot *knot;
	GPtrArray *forward; /* "<fqdn>. 3600 IN <type> <rdata>" of the instance zone */
	GPtrArray *reverse; /* likewise, the reverse zone */
} Fixture;

/* The zone lines of the published guidance: exactly what dns_records says. */
static void
guidance_lines(Fixture *f)
{
	const gchar *ips[] = { NODE_IP, NULL };
	g_autoptr(JsonNode) root = exm_mail_dns_records(DOMAIN, ips, SELECTOR, KEY);
	JsonArray *records = json_object_get_array_member(json_node_get_object(root), "records");

	for (guint k = 0; k < json_array_get_length(records); k++) {
		JsonObject *r = json_array_get_object_element(records, k);
		const gchar *type = json_object_get_string_member(r, "type");
		const gchar *data = json_object_get_string_member(r, "data");
		g_autofree gchar *rdata = g_str_equal(type, "TXT")
						  ? exm_mail_dkim_quoted_chunks(data, " ")
						  : g_strdup(data);

		g_ptr_array_add(g_str_equal(type, "PTR") ? f->reverse : f->forward,
				g_strdup_printf("%s. 3600 IN %s %s",
						json_object_get_string_member(r, "fqdn"),
						type,
						rdata));
	}
}

/* Replaces the lines starting with @prefix by @line (%NULL: removes them). */
static void
replace_line(GPtrArray *lines, const gchar *prefix, const gchar *line)
{
	for (guint k = lines->len; k > 0; k--) {
		if (g_str_has_prefix(g_ptr_array_index(lines, k - 1), prefix))
			g_ptr_array_remove_index(lines, k - 1);
	}
	if (line != NULL)
		g_ptr_array_add(lines, g_strdup(line));
}

static void
write_zone(Fixture *f, const gchar *origin, GPtrArray *lines)
{
	g_autoptr(GString) z = g_string_new(NULL);

	for (guint k = 0; k < lines->len; k++)
		g_string_append_printf(z, "%s\n", (const gchar *)g_ptr_array_index(lines, k));
	exm_test_knot_write_zone(f->knot, origin, z->str);
}

static void
write_zones(Fixture *f)
{
	write_zone(f, DOMAIN, f->forward);
	write_zone(f, REVZONE, f->reverse);
}

/* Writes the zones again and has knotd load them. */
static void
reload(Fixture *f)
{
	write_zones(f);
	exm_test_knot_reload(f->knot);
}

static void
setup(Fixture *f, gconstpointer data)
{
	const gchar *zones[] = { DOMAIN, REVZONE, NULL };

	(void)data;
	f->forward = g_ptr_array_new_with_free_func(g_free);
	f->reverse = g_ptr_array_new_with_free_func(g_free);
	f->knot = exm_test_knot_new(zones);
	if (f->knot == NULL)
		return;
	guidance_lines(f);
	write_zones(f);
	if (!exm_test_knot_start(f->knot))
		g_clear_pointer(&f->knot, exm_test_knot_free);
}

static void
teardown(Fixture *f, gconstpointer data)
{
	(void)data;
	g_clear_pointer(&f->knot, exm_test_knot_free);
	g_ptr_array_unref(f->forward);
	g_ptr_array_unref(f->reverse);
}

/* One check now, through libunbound pointed at @server. */
static JsonNode *
verify_at(const gchar *server, guint timeout_ms)
{
	const gchar *ips[] = { NODE_IP, NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmMailResolver) res = exm_mail_resolver_new(server, timeout_ms, &error);
	gint64 t0 = g_get_monotonic_time();
	JsonNode *out;

	g_assert_no_error(error);
	out = exm_mail_dnscheck_run(DOMAIN, ips, SELECTOR, KEY, exm_mail_resolver_lookup, res);
	g_autofree gchar *text = NULL;

	g_test_message("check: %s in %.1f ms",
		       exm_mail_dnscheck_status(out),
		       (gdouble)(g_get_monotonic_time() - t0) / 1000.0);
	text = json_to_string(out, FALSE);
	g_test_message("%s", text);
	return out;
}

static JsonNode *
verify(Fixture *f)
{
	/* answers that arrive late are unverified: valgrind is slow */
	return verify_at(exm_test_knot_server(f->knot),
			 g_getenv("EXM_UNDER_VALGRIND") != NULL ? 5 * TIMEOUT_MS : TIMEOUT_MS);
}

/* The check named @check (for a PTR: of NODE_IP). */
static JsonObject *
check_of(JsonNode *result, const gchar *check)
{
	JsonArray *a = json_object_get_array_member(json_node_get_object(result), "checks");

	for (guint k = 0; k < json_array_get_length(a); k++) {
		JsonObject *o = json_array_get_object_element(a, k);

		if (g_str_equal(json_object_get_string_member(o, "check"), check))
			return o;
	}
	g_assert_not_reached();
	return NULL;
}

/* @check's result is @result, every other check is ok, and the run is @status. */
static void
assert_only(JsonNode *result, const gchar *check, const gchar *want, const gchar *status)
{
	JsonArray *a = json_object_get_array_member(json_node_get_object(result), "checks");

	g_assert_cmpstr(exm_mail_dnscheck_status(result), ==, status);
	for (guint k = 0; k < json_array_get_length(a); k++) {
		JsonObject *o = json_array_get_object_element(a, k);
		const gchar *name = json_object_get_string_member(o, "check");

		if (!g_str_equal(name, check))
			g_assert_cmpstr(json_object_get_string_member(o, "result"), ==, "ok");
		else
			g_assert_cmpstr(json_object_get_string_member(o, "result"), ==, want);
	}
}

/* The expected value the check reports is what dns_records says to publish. */
static void
assert_expected(JsonNode *result, const gchar *check, const gchar *type, const gchar *fqdn)
{
	const gchar *ips[] = { NODE_IP, NULL };
	g_autoptr(JsonNode) guide = exm_mail_dns_records(DOMAIN, ips, SELECTOR, KEY);
	JsonArray *rs = json_object_get_array_member(json_node_get_object(guide), "records");
	JsonObject *o = check_of(result, check);

	for (guint k = 0; k < json_array_get_length(rs); k++) {
		JsonObject *r = json_array_get_object_element(rs, k);

		if (g_str_equal(json_object_get_string_member(r, "type"), type) &&
		    g_str_equal(json_object_get_string_member(r, "fqdn"), fqdn)) {
			g_assert_cmpstr(json_object_get_string_member(o, "expected"),
					==,
					json_object_get_string_member(r, "data"));
			g_assert_true(g_str_has_prefix(json_object_get_string_member(o, "publish"),
						       fqdn));
			return;
		}
	}
	g_assert_not_reached();
}

#define SPF_PREFIX   DOMAIN ". 3600 IN TXT \"v=spf1"
#define DKIM_PREFIX  SELECTOR "._domainkey." DOMAIN "."
#define DMARC_PREFIX "_dmarc." DOMAIN "."
#define PTR_PREFIX   "10." REVZONE "."

static gboolean
knot_up(Fixture *f)
{
	return f->knot != NULL;
}

static void
test_correct_records(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonNode) r = NULL;

	(void)data;
	if (!knot_up(f))
		return;
	r = verify(f);
	assert_only(r, "", "", "ok");
	g_assert_cmpstr(json_object_get_string_member(check_of(r, "dmarc"), "policy"), ==, "none");
}

static void
test_spf_without_address(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonNode) r = NULL;
	JsonObject *spf;

	(void)data;
	if (!knot_up(f))
		return;
	replace_line(f->forward, SPF_PREFIX, SPF_PREFIX " ip4:198.51.100.0/24 mx -all\"");
	reload(f);
	r = verify(f);
	assert_only(r, "spf", "wrong", "failing");
	assert_expected(r, "spf", "TXT", DOMAIN);
	spf = check_of(r, "spf");
	g_assert_nonnull(strstr(json_object_get_string_member(spf, "reason"), NODE_IP));
	g_assert_cmpstr(
		json_array_get_string_element(json_object_get_array_member(spf, "found"), 0),
		==,
		"v=spf1 ip4:198.51.100.0/24 mx -all");
}

/* Eleven `a:` lookups before the address: RFC 7208's limit of ten is spent. */
static void
test_spf_over_lookup_limit(Fixture *f, gconstpointer data)
{
	g_autoptr(GString) spf = g_string_new(SPF_PREFIX);
	g_autoptr(JsonNode) r = NULL;

	(void)data;
	if (!knot_up(f))
		return;
	for (guint k = 0; k <= EXM_MAIL_DNSCHECK_SPF_LOOKUPS; k++)
		g_string_append_printf(spf, " a:h%u." DOMAIN, k);
	g_string_append(spf, " ip4:" NODE_IP " -all\"");
	replace_line(f->forward, SPF_PREFIX, spf->str);
	reload(f);
	r = verify(f);
	assert_only(r, "spf", "wrong", "failing");
	g_assert_nonnull(strstr(json_object_get_string_member(check_of(r, "spf"), "reason"),
				"more than 10 DNS lookups"));
	assert_expected(r, "spf", "TXT", DOMAIN);
}

/* The same address through include: stays within the limit: ok. */
static void
test_spf_through_include(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonNode) r = NULL;

	(void)data;
	if (!knot_up(f))
		return;
	replace_line(f->forward, SPF_PREFIX, SPF_PREFIX " include:_spf." DOMAIN " -all\"");
	g_ptr_array_add(f->forward,
			g_strdup("_spf." DOMAIN ". 3600 IN TXT \"v=spf1 a:mail." DOMAIN " -all\""));
	reload(f);
	r = verify(f);
	assert_only(r, "", "", "ok");
}

static void
test_stale_dkim(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonNode) r = NULL;

	(void)data;
	if (!knot_up(f))
		return;
	replace_line(f->forward,
		     DKIM_PREFIX,
		     DKIM_PREFIX " 3600 IN TXT \"v=DKIM1; h=sha256; k=rsa; p=MIIBstale\"");
	reload(f);
	r = verify(f);
	assert_only(r, "dkim", "wrong", "failing");
	assert_expected(r, "dkim", "TXT", SELECTOR "._domainkey." DOMAIN);
	/* fixed in the zone: the next check is ok */
	replace_line(f->forward, DKIM_PREFIX, NULL);
	guidance_lines(f);
	replace_line(f->forward, "", NULL);
	g_ptr_array_set_size(f->reverse, 0);
	guidance_lines(f);
	reload(f);
	json_node_unref(g_steal_pointer(&r));
	r = verify(f);
	assert_only(r, "", "", "ok");
}

/* A hostile answer: a 6000-byte DKIM record (in 24 strings of 250) is cut at
 * the resolver's bound and reported wrong, not taken whole. */
static void
test_oversized_txt(Fixture *f, gconstpointer data)
{
	g_autoptr(GString) line = g_string_new(DKIM_PREFIX " 3600 IN TXT");
	g_autoptr(JsonNode) r = NULL;
	JsonArray *found;

	(void)data;
	if (!knot_up(f))
		return;
	for (guint k = 0; k < 24; k++) {
		g_autofree gchar *chunk = g_strnfill(250, 'A');

		g_string_append_printf(line, " \"%s\"", chunk);
	}
	replace_line(f->forward, DKIM_PREFIX, line->str);
	reload(f);
	r = verify(f);
	assert_only(r, "dkim", "wrong", "failing");
	found = json_object_get_array_member(check_of(r, "dkim"), "found");
	g_assert_cmpuint(json_array_get_length(found), ==, 1);
	g_assert_cmpuint(
		strlen(json_array_get_string_element(found, 0)), ==, EXM_MAIL_RESOLVER_MAX_TXT);
}

static void
test_dmarc_absent(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonNode) r = NULL;

	(void)data;
	if (!knot_up(f))
		return;
	replace_line(f->forward, DMARC_PREFIX, NULL);
	reload(f);
	r = verify(f);
	assert_only(r, "dmarc", "missing", "degraded");
	assert_expected(r, "dmarc", "TXT", "_dmarc." DOMAIN);
}

static void
test_ptr_mismatch(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonNode) r = NULL;

	(void)data;
	if (!knot_up(f))
		return;
	replace_line(f->reverse, PTR_PREFIX, PTR_PREFIX " 3600 IN PTR other." DOMAIN ".");
	reload(f);
	r = verify(f);
	assert_only(r, "ptr", "wrong", "degraded");
	assert_expected(r, "ptr", "PTR", "10." REVZONE);
	g_assert_cmpstr(json_object_get_string_member(check_of(r, "ptr"), "expected"),
			==,
			"mail." DOMAIN ".");
}

/* The PTR names the right host, whose A record does not lead back. */
static void
test_ptr_not_forward_confirmed(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonNode) r = NULL;

	(void)data;
	if (!knot_up(f))
		return;
	replace_line(
		f->forward, "mail." DOMAIN ". 3600 IN A", "mail." DOMAIN ". 3600 IN A 192.0.2.99");
	reload(f);
	r = verify(f);
	assert_only(r, "ptr", "wrong", "degraded");
	g_assert_nonnull(strstr(json_object_get_string_member(check_of(r, "ptr"), "reason"),
				"does not lead back"));
}

static void
assert_all_unverified(JsonNode *r)
{
	JsonArray *a = json_object_get_array_member(json_node_get_object(r), "checks");

	g_assert_cmpstr(exm_mail_dnscheck_status(r), ==, "unverified");
	for (guint k = 0; k < json_array_get_length(a); k++)
		g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(a, k),
							      "result"),
				==,
				"unverified");
}

/* knotd stopped: nothing answers; and a port that swallows every query. */
static void
test_resolver_timeout(Fixture *f, gconstpointer data)
{
	g_autoptr(GSocket) hole = NULL;
	g_autoptr(GSocketAddress) addr = NULL;
	g_autoptr(GSocketAddress) bound = NULL;
	g_autoptr(JsonNode) r = NULL;
	g_autofree gchar *server = NULL;
	g_autoptr(GError) error = NULL;

	(void)data;
	if (!knot_up(f))
		return;
	exm_test_knot_stop(f->knot);
	r = verify_at(exm_test_knot_server(f->knot), 1500);
	assert_all_unverified(r);
	hole = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, 0, &error);
	EXM_TEST_OK(error);
	addr = g_inet_socket_address_new_from_string("127.0.0.1", 0);
	g_socket_bind(hole, addr, FALSE, &error);
	EXM_TEST_OK(error);
	bound = g_socket_get_local_address(hole, &error);
	EXM_TEST_OK(error);
	server = g_strdup_printf("127.0.0.1@%u",
				 g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound)));
	json_node_unref(g_steal_pointer(&r));
	r = verify_at(server, 1500);
	assert_all_unverified(r);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
#define ADD(name, fn) g_test_add("/dns-verify/" name, Fixture, NULL, setup, fn, teardown)
	ADD("correct-records", test_correct_records);
	ADD("spf-without-address", test_spf_without_address);
	ADD("spf-over-lookup-limit", test_spf_over_lookup_limit);
	ADD("spf-through-include", test_spf_through_include);
	ADD("stale-dkim-then-fixed", test_stale_dkim);
	ADD("oversized-txt", test_oversized_txt);
	ADD("dmarc-absent", test_dmarc_absent);
	ADD("ptr-mismatch", test_ptr_mismatch);
	ADD("ptr-not-forward-confirmed", test_ptr_not_forward_confirmed);
	ADD("resolver-timeout", test_resolver_timeout);
#undef ADD
	return g_test_run();
}
