/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The live DNS check (exm-mail-dnscheck.h).  The expected values come from
 * exm_mail_dns_records(), the one place that says what to publish; this file
 * only compares.  Every answer is untrusted: the resolver bounds sizes and
 * counts, the SPF walk is bounded by RFC 7208's 10 lookups.
 */
#include "exm-mail-dnscheck.h"

#include <arpa/inet.h>
#include <string.h>

#include "exm-mail-dkim.h"
#include "exm-mail-dns.h"
#include "exm-mail-validate.h"

/* at most this many MX hosts are looked up for one `mx` (RFC 7208 §4.6.4) */
#define SPF_MX_HOSTS 10

typedef struct {
	ExmMailDnsLookup lookup;
	gpointer data;
	JsonArray *expected; /* exm_mail_dns_records()'s "records" */
	const gchar *domain;
	gboolean unknown;  /* some answer was not learnt */
	gboolean fail;	   /* SPF or DKIM not ok */
	gboolean degraded; /* DMARC, MX or a PTR not ok */
} Run;

typedef enum { SPF_NOMATCH, SPF_PASS, SPF_FAIL, SPF_PERMERROR, SPF_UNKNOWN } SpfResult;

typedef struct {
	guint32 ip; /* host order */
	guint lookups;
	gchar *reason;
} Spf;

/* Looks @name up; on failure marks the run unknown.  %NULL then. */
static GPtrArray *
ask(Run *run, const gchar *name, const gchar *type)
{
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;

	if (!run->lookup(run->data, name, type, out, &error)) {
		run->unknown = TRUE;
		return NULL;
	}
	return g_steal_pointer(&out);
}

static JsonObject *
expected_record(Run *run, const gchar *type, const gchar *fqdn)
{
	for (guint k = 0; k < json_array_get_length(run->expected); k++) {
		JsonObject *r = json_array_get_object_element(run->expected, k);

		if (g_str_equal(json_object_get_string_member(r, "type"), type) &&
		    g_ascii_strcasecmp(json_object_get_string_member(r, "fqdn"), fqdn) == 0)
			return r;
	}
	return NULL;
}

/* A check object with what is expected and the zone line to publish. */
static JsonObject *
check_new(Run *run, const gchar *check, const gchar *type, const gchar *fqdn)
{
	JsonObject *o = json_object_new();
	JsonObject *r = expected_record(run, type, fqdn);
	const gchar *data = r != NULL ? json_object_get_string_member(r, "data") : "";
	g_autofree gchar *rdata = NULL;
	g_autofree gchar *line = NULL;

	rdata = g_str_equal(type, "TXT") ? exm_mail_dkim_quoted_chunks(data, " ") : g_strdup(data);
	if (r != NULL)
		line = g_strdup_printf("%s.\t%" G_GINT64_FORMAT "\tIN\t%s\t%s",
				       fqdn,
				       json_object_get_int_member(r, "ttl"),
				       type,
				       rdata);
	json_object_set_string_member(o, "check", check);
	json_object_set_string_member(o, "name", fqdn);
	json_object_set_string_member(o, "type", type);
	json_object_set_string_member(o, "expected", data);
	json_object_set_string_member(o, "publish", line != NULL ? line : "");
	json_object_set_array_member(o, "found", json_array_new());
	return o;
}

static void
set_found(JsonObject *o, GPtrArray *found)
{
	JsonArray *a = json_object_get_array_member(o, "found");

	for (guint k = 0; found != NULL && k < found->len; k++)
		json_array_add_string_element(a, g_ptr_array_index(found, k));
}

/* Sets the result; a result other than ok marks the run @fail or degraded. */
static void
set_result(Run *run, JsonObject *o, const gchar *result, const gchar *reason, gboolean core)
{
	json_object_set_string_member(o, "result", result);
	if (reason != NULL)
		json_object_set_string_member(o, "reason", reason);
	if (g_str_equal(result, "ok") || g_str_equal(result, "unverified"))
		return;
	if (core)
		run->fail = TRUE;
	else
		run->degraded = TRUE;
}

static void
set_unverified(Run *run, JsonObject *o, const gchar *name)
{
	g_autofree gchar *why = g_strdup_printf("the lookup of %s did not answer in time", name);

	set_result(run, o, "unverified", why, FALSE);
}

/* The records of @found whose text starts with the version tag @tag. */
static GPtrArray *
tagged(GPtrArray *found, const gchar *tag)
{
	GPtrArray *out = g_ptr_array_new();
	gsize n = strlen(tag);

	for (guint k = 0; found != NULL && k < found->len; k++) {
		const gchar *t = g_ptr_array_index(found, k);

		if (g_ascii_strncasecmp(t, tag, n) == 0 &&
		    (t[n] == '\0' || t[n] == ' ' || t[n] == ';'))
			g_ptr_array_add(out, (gpointer)t);
	}
	return out;
}

/* --- SPF (RFC 7208 §4.6, §5): only what is needed to know whether an address
 * passes; macros never match. */

static SpfResult spf_eval_domain(Run *run, Spf *spf, const gchar *domain, guint depth);

static gboolean
spf_count(Spf *spf)
{
	if (++spf->lookups <= EXM_MAIL_DNSCHECK_SPF_LOOKUPS)
		return TRUE;
	g_free(spf->reason);
	spf->reason = g_strdup_printf("the record needs more than %d DNS lookups (RFC 7208 §4.6.4)",
				      EXM_MAIL_DNSCHECK_SPF_LOOKUPS);
	return FALSE;
}

static gboolean
in_cidr(guint32 ip, const gchar *addr, guint prefix)
{
	struct in_addr a;
	guint32 mask;

	if (inet_pton(AF_INET, addr, &a) != 1 || prefix > 32)
		return FALSE;
	mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
	return (ntohl(a.s_addr) & mask) == (ip & mask);
}

/* Splits `target/prefix`; the target may be empty (the current domain). */
static gchar *
spf_target(const gchar *arg, const gchar *domain, guint *prefix)
{
	const gchar *slash = strchr(arg, '/');
	gchar *target = slash != NULL ? g_strndup(arg, (gsize)(slash - arg)) : g_strdup(arg);

	guint64 p = 32;

	/* a bad prefix (33) matches nothing */
	if (slash != NULL && !g_ascii_string_to_unsigned(slash + 1, 10, 0, 32, &p, NULL))
		p = 33;
	*prefix = (guint)p;
	if (*target == '\0') {
		g_free(target);
		target = g_strdup(domain);
	}
	return target;
}

/* `a`: does an A record of @name fall in the prefix? */
static SpfResult
spf_match_a(Run *run, Spf *spf, const gchar *name, guint prefix)
{
	g_autoptr(GPtrArray) as = ask(run, name, "A");

	if (as == NULL)
		return SPF_UNKNOWN;
	for (guint k = 0; k < as->len; k++) {
		if (in_cidr(spf->ip, g_ptr_array_index(as, k), prefix))
			return SPF_PASS;
	}
	return SPF_NOMATCH;
}

static SpfResult
spf_match_mx(Run *run, Spf *spf, const gchar *name, guint prefix)
{
	g_autoptr(GPtrArray) mx = ask(run, name, "MX");

	if (mx == NULL)
		return SPF_UNKNOWN;
	for (guint k = 0; k < mx->len && k < SPF_MX_HOSTS; k++) {
		const gchar *host = strchr(g_ptr_array_index(mx, k), ' ');
		SpfResult r = host != NULL ? spf_match_a(run, spf, host + 1, prefix) : SPF_NOMATCH;

		if (r != SPF_NOMATCH)
			return r;
	}
	return SPF_NOMATCH;
}

/* The argument of mechanism @name in @term ("" for a bare `a`, "/24" for
 * `a/24`, the domain for `a:d`), or %NULL when @term is another mechanism. */
static const gchar *
mech_arg(const gchar *term, const gchar *name)
{
	gsize n = strlen(name);

	if (g_ascii_strncasecmp(term, name, n) != 0)
		return NULL;
	if (term[n] == '\0' || term[n] == '/')
		return term + n;
	return term[n] == ':' ? term + n + 1 : NULL;
}

static SpfResult
spf_counted(Spf *spf, SpfResult r)
{
	return spf_count(spf) ? r : SPF_PERMERROR;
}

static SpfResult
spf_host_mech(Run *run, Spf *spf, const gchar *arg, const gchar *domain, gboolean mx)
{
	guint prefix;
	g_autofree gchar *target = spf_target(arg, domain, &prefix);

	if (!spf_count(spf))
		return SPF_PERMERROR;
	return mx ? spf_match_mx(run, spf, target, prefix) : spf_match_a(run, spf, target, prefix);
}

// NOLINTBEGIN(misc-no-recursion): include:/redirect= nest at most EXM_MAIL_DNSCHECK_SPF_LOOKUPS
// deep (RFC 7208 §4.6.4)
/* One mechanism: SPF_PASS when it matches the address, SPF_NOMATCH, or an error. */
static SpfResult
spf_mechanism(Run *run, Spf *spf, const gchar *term, const gchar *domain, guint depth)
{
	const gchar *arg;

	if (g_ascii_strcasecmp(term, "all") == 0)
		return SPF_PASS;
	if ((arg = mech_arg(term, "ip4")) != NULL) {
		guint prefix;
		g_autofree gchar *addr = spf_target(arg, "", &prefix);

		return in_cidr(spf->ip, addr, prefix) ? SPF_PASS : SPF_NOMATCH;
	}
	if (mech_arg(term, "ip6") != NULL)
		return SPF_NOMATCH;
	if (strchr(term, '%') != NULL || mech_arg(term, "exists") != NULL ||
	    mech_arg(term, "ptr") != NULL)
		return spf_counted(spf, SPF_NOMATCH); /* a lookup, never a match here */
	if ((arg = mech_arg(term, "a")) != NULL)
		return spf_host_mech(run, spf, arg, domain, FALSE);
	if ((arg = mech_arg(term, "mx")) != NULL)
		return spf_host_mech(run, spf, arg, domain, TRUE);
	if ((arg = mech_arg(term, "include")) != NULL && *arg != '\0') {
		SpfResult r;

		if (!spf_count(spf))
			return SPF_PERMERROR;
		r = spf_eval_domain(run, spf, arg, depth + 1);
		return r == SPF_FAIL ? SPF_NOMATCH : r;
	}
	g_free(spf->reason);
	spf->reason = g_strdup_printf("unknown SPF mechanism %s", term);
	return SPF_PERMERROR;
}

/* `name=value` with no ':' before the '=' is a modifier. */
static gboolean
is_modifier(const gchar *term)
{
	const gchar *eq = strchr(term, '=');
	const gchar *colon = strchr(term, ':');

	return eq != NULL && (colon == NULL || eq < colon);
}

static SpfResult
spf_eval_record(Run *run, Spf *spf, const gchar *record, const gchar *domain, guint depth)
{
	g_auto(GStrv) terms = g_strsplit(record, " ", 64);
	const gchar *redirect = NULL;

	for (guint k = 1; terms[k] != NULL; k++) {
		const gchar *t = terms[k];
		gchar q = '+';
		SpfResult r;

		if (*t == '\0')
			continue;
		if (g_ascii_strncasecmp(t, "redirect=", 9) == 0)
			redirect = t + 9;
		if (is_modifier(t))
			continue;
		if (strchr("+-~?", *t) != NULL)
			q = *t++;
		r = spf_mechanism(run, spf, t, domain, depth);
		if (r == SPF_PASS)
			return q == '+' ? SPF_PASS : SPF_FAIL;
		if (r != SPF_NOMATCH)
			return r;
	}
	if (redirect == NULL || *redirect == '\0')
		return SPF_NOMATCH;
	return spf_count(spf) ? spf_eval_domain(run, spf, redirect, depth + 1) : SPF_PERMERROR;
}

static SpfResult
spf_eval_domain(Run *run, Spf *spf, const gchar *domain, guint depth)
{
	g_autoptr(GPtrArray) txt = NULL;
	g_autoptr(GPtrArray) records = NULL;

	if (depth > EXM_MAIL_DNSCHECK_SPF_LOOKUPS)
		return SPF_PERMERROR;
	txt = ask(run, domain, "TXT");
	if (txt == NULL)
		return SPF_UNKNOWN;
	records = tagged(txt, "v=spf1");
	if (records->len != 1) {
		g_free(spf->reason);
		spf->reason =
			g_strdup_printf("%s has %u v=spf1 records, not one", domain, records->len);
		return SPF_PERMERROR;
	}
	return spf_eval_record(run, spf, g_ptr_array_index(records, 0), domain, depth);
}
// NOLINTEND(misc-no-recursion)

static void
spf_verdict(Run *run, JsonObject *o, const gchar *record, GPtrArray *ips)
{
	for (guint k = 0; k < ips->len; k++) {
		const gchar *ip = g_ptr_array_index(ips, k);
		struct in_addr a;
		Spf spf = { 0 };
		g_autofree gchar *why = NULL;
		SpfResult r;

		inet_pton(AF_INET, ip, &a);
		spf.ip = ntohl(a.s_addr);
		r = spf_eval_record(run, &spf, record, run->domain, 0);
		why = r == SPF_PERMERROR ? g_strdup(spf.reason != NULL ? spf.reason : "permerror")
					 : g_strdup_printf("the record does not authorize %s", ip);
		g_free(spf.reason);
		if (r == SPF_UNKNOWN) {
			set_unverified(run, o, run->domain);
			return;
		}
		if (r != SPF_PASS) {
			set_result(run, o, "wrong", why, TRUE);
			return;
		}
	}
	set_result(run, o, "ok", NULL, TRUE);
}

static JsonObject *
check_spf(Run *run, GPtrArray *ips)
{
	JsonObject *o = check_new(run, "spf", "TXT", run->domain);
	g_autoptr(GPtrArray) txt = ask(run, run->domain, "TXT");
	g_autoptr(GPtrArray) spf = tagged(txt, "v=spf1");

	set_found(o, spf);
	if (txt == NULL)
		set_unverified(run, o, run->domain);
	else if (spf->len == 0)
		set_result(run, o, "missing", "no v=spf1 record", TRUE);
	else if (spf->len > 1)
		set_result(run, o, "wrong", "more than one v=spf1 record (RFC 7208 §4.5)", TRUE);
	else
		spf_verdict(run, o, g_ptr_array_index(spf, 0), ips);
	return o;
}

/* --- DKIM, DMARC, MX, PTR */

static gchar *
no_space(const gchar *s)
{
	GString *out = g_string_new(NULL);

	for (; *s != '\0'; s++) {
		if (!g_ascii_isspace(*s))
			g_string_append_c(out, *s);
	}
	return g_string_free(out, FALSE);
}

static gboolean
dkim_listed(GPtrArray *txt, const gchar *want)
{
	g_autofree gchar *w = no_space(want);

	for (guint k = 0; k < txt->len; k++) {
		g_autofree gchar *t = no_space(g_ptr_array_index(txt, k));

		if (g_str_equal(t, w))
			return TRUE;
	}
	return FALSE;
}

static JsonObject *
check_dkim(Run *run, const gchar *selector, const gchar *dkim_data)
{
	gboolean have =
		selector != NULL && *selector != '\0' && dkim_data != NULL && *dkim_data != '\0';
	g_autofree gchar *fqdn =
		g_strdup_printf("%s._domainkey.%s", have ? selector : "platform", run->domain);
	JsonObject *o = check_new(run, "dkim", "TXT", fqdn);
	g_autoptr(GPtrArray) txt = NULL;

	if (!have) {
		run->unknown = TRUE;
		set_result(run, o, "unverified", "the instance has no DKIM key yet", FALSE);
		return o;
	}
	txt = ask(run, fqdn, "TXT");
	set_found(o, txt);
	if (txt == NULL)
		set_unverified(run, o, fqdn);
	else if (txt->len == 0)
		set_result(run, o, "missing", "no TXT record", TRUE);
	else if (!dkim_listed(txt, dkim_data))
		set_result(run, o, "wrong", "the published key is not the instance's key", TRUE);
	else
		set_result(run, o, "ok", NULL, TRUE);
	return o;
}

/* RFC 7489 §6.3: `v=DMARC1` first, then a `p` of none, quarantine or reject. */
static const gchar *
dmarc_policy(const gchar *record)
{
	static const gchar *const policies[] = { "none", "quarantine", "reject" };
	g_auto(GStrv) tags = g_strsplit(record, ";", 32);

	for (guint k = 0; tags[k] != NULL; k++) {
		gchar *t = g_strstrip(tags[k]);

		if (k == 0 && g_strcmp0(t, "v=DMARC1") != 0)
			return NULL;
		if (!g_str_has_prefix(t, "p="))
			continue;
		for (gsize i = 0; i < G_N_ELEMENTS(policies); i++) {
			if (g_ascii_strcasecmp(g_strstrip(t + 2), policies[i]) == 0)
				return policies[i];
		}
		return NULL;
	}
	return NULL;
}

static JsonObject *
check_dmarc(Run *run)
{
	g_autofree gchar *fqdn = g_strdup_printf("_dmarc.%s", run->domain);
	JsonObject *o = check_new(run, "dmarc", "TXT", fqdn);
	g_autoptr(GPtrArray) txt = ask(run, fqdn, "TXT");
	g_autoptr(GPtrArray) dmarc = tagged(txt, "v=DMARC1");
	const gchar *policy = dmarc->len == 1 ? dmarc_policy(g_ptr_array_index(dmarc, 0)) : NULL;

	set_found(o, dmarc);
	if (policy != NULL)
		json_object_set_string_member(o, "policy", policy);
	if (txt == NULL)
		set_unverified(run, o, fqdn);
	else if (dmarc->len == 0)
		set_result(run, o, "missing", "no v=DMARC1 record", FALSE);
	else if (dmarc->len > 1)
		set_result(run, o, "wrong", "more than one v=DMARC1 record", FALSE);
	else if (policy == NULL)
		set_result(run, o, "wrong", "not parseable: v=DMARC1 first and a valid p=", FALSE);
	else
		set_result(run, o, "ok", NULL, FALSE);
	return o;
}

static JsonObject *
check_mx(Run *run)
{
	JsonObject *o = check_new(run, "mx", "MX", run->domain);
	g_autoptr(GPtrArray) mx = ask(run, run->domain, "MX");

	set_found(o, mx);
	if (mx == NULL)
		set_unverified(run, o, run->domain);
	else if (mx->len == 0)
		set_result(run, o, "missing", "no MX record", FALSE);
	else
		set_result(run, o, "ok", NULL, FALSE);
	return o;
}

static gboolean
listed(GPtrArray *found, const gchar *want)
{
	for (guint k = 0; k < found->len; k++) {
		if (g_ascii_strcasecmp(g_ptr_array_index(found, k), want) == 0)
			return TRUE;
	}
	return FALSE;
}

/* FCrDNS: the PTR names exim's primary_hostname, whose A leads back to @ip. */
static void
ptr_verdict(Run *run, JsonObject *o, GPtrArray *ptrs, const gchar *ip)
{
	g_autofree gchar *host = exm_mail_dns_primary_hostname(run->domain);
	g_autofree gchar *want = g_strconcat(host, ".", NULL);
	g_autofree gchar *why = NULL;
	g_autoptr(GPtrArray) as = NULL;

	if (ptrs->len == 0) {
		set_result(run, o, "missing", "no PTR record", FALSE);
		return;
	}
	if (!listed(ptrs, want)) {
		why = g_strdup_printf("the PTR does not name exim's primary_hostname %s", host);
		set_result(run, o, "wrong", why, FALSE);
		return;
	}
	as = ask(run, host, "A");
	if (as == NULL) {
		set_unverified(run, o, host);
		return;
	}
	why = g_strdup_printf("%s has no A record %s: the PTR does not lead back", host, ip);
	set_result(run, o, listed(as, ip) ? "ok" : "wrong", listed(as, ip) ? NULL : why, FALSE);
}

static JsonObject *
check_ptr(Run *run, const gchar *ip)
{
	g_auto(GStrv) o4 = g_strsplit(ip, ".", 4);
	g_autofree gchar *rev =
		g_strdup_printf("%s.%s.%s.%s.in-addr.arpa", o4[3], o4[2], o4[1], o4[0]);
	JsonObject *o = check_new(run, "ptr", "PTR", rev);
	g_autoptr(GPtrArray) ptrs = ask(run, rev, "PTR");

	json_object_set_string_member(o, "address", ip);
	set_found(o, ptrs);
	if (ptrs == NULL)
		set_unverified(run, o, rev);
	else
		ptr_verdict(run, o, ptrs, ip);
	return o;
}

static GPtrArray *
valid_ips(const gchar *const *ipsv4)
{
	GPtrArray *ips = g_ptr_array_new();

	for (guint k = 0; ipsv4 != NULL && ipsv4[k] != NULL; k++) {
		if (exm_mail_validate_ipv4(ipsv4[k], NULL))
			g_ptr_array_add(ips, (gpointer)ipsv4[k]);
	}
	return ips;
}

static const gchar *
run_status(const Run *run)
{
	if (run->unknown)
		return "unverified";
	if (run->fail)
		return "failing";
	return run->degraded ? "degraded" : "ok";
}

JsonNode *
exm_mail_dnscheck_run(const gchar *domain,
		      const gchar *const *ipsv4,
		      const gchar *selector,
		      const gchar *dkim_data,
		      ExmMailDnsLookup lookup,
		      gpointer data)
{
	g_autoptr(JsonNode) guidance = exm_mail_dns_records(domain, ipsv4, selector, dkim_data);
	JsonObject *g = json_node_get_object(guidance);
	Run run = { lookup, data, json_object_get_array_member(g, "records") };
	g_autoptr(GPtrArray) ips = valid_ips(ipsv4);
	JsonArray *checks = json_array_new();
	JsonObject *out = json_object_new();
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);

	run.domain = json_object_get_string_member(g, "domain");
	json_array_add_object_element(checks, check_spf(&run, ips));
	json_array_add_object_element(checks, check_dkim(&run, selector, dkim_data));
	json_array_add_object_element(checks, check_dmarc(&run));
	json_array_add_object_element(checks, check_mx(&run));
	for (guint k = 0; k < ips->len; k++)
		json_array_add_object_element(checks, check_ptr(&run, g_ptr_array_index(ips, k)));
	json_object_set_string_member(out, "domain", run.domain);
	json_object_set_string_member(
		out, "status", *run.domain != '\0' ? run_status(&run) : "failing");
	json_object_set_array_member(out, "checks", checks);
	json_node_take_object(node, out);
	return node;
}

const gchar *
exm_mail_dnscheck_status(JsonNode *result)
{
	JsonObject *o = result != NULL && JSON_NODE_HOLDS_OBJECT(result)
				? json_node_get_object(result)
				: NULL;

	if (o == NULL || !json_object_has_member(o, "status"))
		return "unverified";
	return json_object_get_string_member(o, "status");
}
