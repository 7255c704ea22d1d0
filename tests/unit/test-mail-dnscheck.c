/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The live DNS check's rules (common/mail/exm-mail-dnscheck.c) with an
 * in-memory zone in place of the resolver: SPF qualifiers, redirect, several
 * records, DMARC parsing, an unanswered lookup deep in an include, and the
 * count of queries the resolver is asked.  The real resolver against a real
 * server is tests/dp/test-dns-verify.c.
 */
#include <string.h>

#include "exm-mail-dns.h"
#include "exm-mail-dnscheck.h"
#include "exm-test.h"

#define DOMAIN "example.com"
#define IP     "192.0.2.10"
#define KEY    "v=DKIM1; p=QUJD"

typedef struct {
	GHashTable *rr;	   /* "name TYPE" → GPtrArray of strings */
	const gchar *down; /* a name whose lookups fail */
	guint queries;
} Zone;

static void
zone_add(Zone *z, const gchar *name, const gchar *type, const gchar *data)
{
	g_autofree gchar *key = g_strdup_printf("%s %s", name, type);
	GPtrArray *a = g_hash_table_lookup(z->rr, key);

	if (a == NULL) {
		a = g_ptr_array_new_with_free_func(g_free);
		g_hash_table_insert(z->rr, g_steal_pointer(&key), a);
	}
	g_ptr_array_add(a, g_strdup(data));
}

static void
zone_del(Zone *z, const gchar *name, const gchar *type)
{
	g_autofree gchar *key = g_strdup_printf("%s %s", name, type);

	g_hash_table_remove(z->rr, key);
}

static gboolean
zone_lookup(gpointer data, const gchar *name, const gchar *type, GPtrArray *out, GError **error)
{
	Zone *z = data;
	gsize n = strlen(name);
	/* a name from an MX or PTR answer ends in a dot */
	g_autofree gchar *key = g_strdup_printf(
		"%.*s %s", (int)(n > 0 && name[n - 1] == '.' ? n - 1 : n), name, type);
	GPtrArray *a = g_hash_table_lookup(z->rr, key);

	z->queries++;
	if (z->down != NULL && g_str_equal(name, z->down)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "timed out");
		return FALSE;
	}
	for (guint k = 0; a != NULL && k < a->len; k++)
		g_ptr_array_add(out, g_strdup(g_ptr_array_index(a, k)));
	return TRUE;
}

/* The zone dns_records asks for, published as it says. */
static Zone *
zone_new(void)
{
	const gchar *ips[] = { IP, NULL };
	g_autoptr(JsonNode) root = exm_mail_dns_records(DOMAIN, ips, "platform", KEY);
	JsonArray *a = json_object_get_array_member(json_node_get_object(root), "records");
	Zone *z = g_new0(Zone, 1);

	z->rr = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
	for (guint k = 0; k < json_array_get_length(a); k++) {
		JsonObject *r = json_array_get_object_element(a, k);

		zone_add(z,
			 json_object_get_string_member(r, "fqdn"),
			 json_object_get_string_member(r, "type"),
			 json_object_get_string_member(r, "data"));
	}
	zone_add(z, DOMAIN, "A", IP);
	return z;
}

static void
zone_free(Zone *z)
{
	g_hash_table_unref(z->rr);
	g_free(z);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Zone, zone_free)

static JsonNode *
run(Zone *z)
{
	const gchar *ips[] = { IP, NULL };

	return exm_mail_dnscheck_run(DOMAIN, ips, "platform", KEY, zone_lookup, z);
}

static const gchar *
result_of(JsonNode *r, const gchar *check, const gchar *member)
{
	JsonArray *a = json_object_get_array_member(json_node_get_object(r), "checks");

	for (guint k = 0; k < json_array_get_length(a); k++) {
		JsonObject *o = json_array_get_object_element(a, k);

		if (g_str_equal(json_object_get_string_member(o, "check"), check))
			return json_object_has_member(o, member)
				       ? json_object_get_string_member(o, member)
				       : NULL;
	}
	return NULL;
}

static void
set_spf(Zone *z, const gchar *spf)
{
	zone_del(z, DOMAIN, "TXT");
	zone_add(z, DOMAIN, "TXT", "google-site-verification=x");
	zone_add(z, DOMAIN, "TXT", spf);
}

static void
test_published_guidance_is_ok(void)
{
	g_autoptr(Zone) z = zone_new();
	g_autoptr(JsonNode) r = run(z);

	g_assert_cmpstr(exm_mail_dnscheck_status(r), ==, "ok");
	g_test_message("queries for one instance with one address: %u", z->queries);
	g_assert_cmpuint(z->queries, >, 0);
}

/* The first matching term decides: a `~` or `-` match before the address
 * does not authorise it; a `+` one after a non-match does. */
static void
test_spf_qualifiers(void)
{
	static const struct {
		const gchar *spf;
		const gchar *result;
	} cases[] = {
		{ "v=spf1 ~ip4:192.0.2.0/24 ip4:" IP " -all", "wrong" },
		{ "v=spf1 -ip4:" IP " +all", "wrong" },
		{ "v=spf1 ip4:198.51.100.0/24 +ip4:192.0.2.0/28 -all", "ok" },
		{ "v=spf1 ip4:" IP "/33 -all", "wrong" },
		{ "v=spf1 a -all", "ok" },
		{ "v=spf1 mx:" DOMAIN "/24 -all", "ok" },
		{ "v=spf1 mx:" DOMAIN "/32 -all", "ok" },
		{ "v=spf1 a:mail." DOMAIN " -all", "ok" },
		{ "v=spf1 a:nowhere." DOMAIN " -all", "wrong" },
		{ "v=spf1 ip6:2001:db8::/32 redirect=_spf." DOMAIN, "ok" },
		{ "v=spf1 bogus:x ip4:" IP " -all", "wrong" },
		{ "v=spf1 exp=explain." DOMAIN " ip4:" IP " -all", "ok" },
	};

	for (gsize k = 0; k < G_N_ELEMENTS(cases); k++) {
		g_autoptr(Zone) z = zone_new();
		g_autoptr(JsonNode) r = NULL;

		zone_add(z, "_spf." DOMAIN, "TXT", "v=spf1 ip4:" IP " -all");
		set_spf(z, cases[k].spf);
		r = run(z);
		g_test_message("%s", cases[k].spf);
		g_assert_cmpstr(result_of(r, "spf", "result"), ==, cases[k].result);
	}
}

static void
test_spf_two_records(void)
{
	g_autoptr(Zone) z = zone_new();
	g_autoptr(JsonNode) r = NULL;

	zone_add(z, DOMAIN, "TXT", "v=spf1 -all");
	r = run(z);
	g_assert_cmpstr(result_of(r, "spf", "result"), ==, "wrong");
	g_assert_cmpstr(exm_mail_dnscheck_status(r), ==, "failing");
}

/* An include whose lookup is not answered: unverified, never ok nor wrong. */
static void
test_spf_include_unanswered(void)
{
	g_autoptr(Zone) z = zone_new();
	g_autoptr(JsonNode) r = NULL;

	set_spf(z, "v=spf1 include:_spf.other.example ~all");
	z->down = "_spf.other.example";
	r = run(z);
	g_assert_cmpstr(result_of(r, "spf", "result"), ==, "unverified");
	g_assert_cmpstr(exm_mail_dnscheck_status(r), ==, "unverified");
}

/* include loops end at the 10-lookup limit */
static void
test_spf_include_loop(void)
{
	g_autoptr(Zone) z = zone_new();
	g_autoptr(JsonNode) r = NULL;

	set_spf(z, "v=spf1 include:" DOMAIN " -all");
	r = run(z);
	g_assert_cmpstr(result_of(r, "spf", "result"), ==, "wrong");
	g_assert_nonnull(strstr(result_of(r, "spf", "reason"), "more than 10"));
	g_test_message("queries: %u", z->queries);
}

static void
test_dmarc_parsing(void)
{
	static const struct {
		const gchar *txt;
		const gchar *result;
		const gchar *policy;
	} cases[] = {
		{ "v=DMARC1; p=reject; rua=mailto:a@" DOMAIN, "ok", "reject" },
		{ "v=DMARC1;p=quarantine", "ok", "quarantine" },
		{ "v=DMARC1; p=bogus", "wrong", NULL },
		{ "v=DMARC1; rua=mailto:a@" DOMAIN, "wrong", NULL },
		{ "p=reject; v=DMARC1", "missing", NULL },
	};

	for (gsize k = 0; k < G_N_ELEMENTS(cases); k++) {
		g_autoptr(Zone) z = zone_new();
		g_autoptr(JsonNode) r = NULL;

		zone_del(z, "_dmarc." DOMAIN, "TXT");
		zone_add(z, "_dmarc." DOMAIN, "TXT", cases[k].txt);
		r = run(z);
		g_assert_cmpstr(result_of(r, "dmarc", "result"), ==, cases[k].result);
		g_assert_cmpstr(result_of(r, "dmarc", "policy"), ==, cases[k].policy);
		g_assert_cmpstr(exm_mail_dnscheck_status(r), ==, k < 2 ? "ok" : "degraded");
	}
}

/* Whitespace inside the published key does not matter; another key does. */
static void
test_dkim_whitespace(void)
{
	g_autoptr(Zone) z = zone_new();
	g_autoptr(JsonNode) r = NULL;
	g_autoptr(JsonNode) r2 = NULL;

	zone_del(z, "platform._domainkey." DOMAIN, "TXT");
	zone_add(z, "platform._domainkey." DOMAIN, "TXT", "v=DKIM1;  p=QU JD ");
	r = run(z);
	g_assert_cmpstr(result_of(r, "dkim", "result"), ==, "ok");
	zone_del(z, "platform._domainkey." DOMAIN, "TXT");
	zone_add(z, "platform._domainkey." DOMAIN, "TXT", "v=DKIM1; p=QUJE");
	r2 = run(z);
	g_assert_cmpstr(result_of(r2, "dkim", "result"), ==, "wrong");
	g_assert_cmpstr(result_of(r2, "dkim", "expected"), ==, KEY);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/mail/dnscheck/published-guidance-is-ok", test_published_guidance_is_ok);
	g_test_add_func("/mail/dnscheck/spf-qualifiers", test_spf_qualifiers);
	g_test_add_func("/mail/dnscheck/spf-two-records", test_spf_two_records);
	g_test_add_func("/mail/dnscheck/spf-include-unanswered", test_spf_include_unanswered);
	g_test_add_func("/mail/dnscheck/spf-include-loop", test_spf_include_loop);
	g_test_add_func("/mail/dnscheck/dmarc-parsing", test_dmarc_parsing);
	g_test_add_func("/mail/dnscheck/dkim-whitespace", test_dkim_whitespace);
	return g_test_run();
}
