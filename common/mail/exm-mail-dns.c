/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The DNS guidance of the seed README: SPF, DKIM, DMARC, MX and PTR records.
 */
#include "exm-mail-dns.h"

#include <string.h>

#include "exm-mail-dkim.h"
#include "exm-mail-validate.h"

#define DNS_TTL	      3600
#define SPF_TAIL      "a mx ~all"
#define DMARC_DATA    "v=DMARC1; p=none; pct=100; adkim=s; aspf=s"
#define MX_PREFERENCE 10
#define HOST_LABEL    "mail"
/* issue 22: a second MX would take a domain's inbound mail to this relay */
#define MX_NOTE "only if the domain has no MX record yet; never add it next to an existing MX"

typedef struct {
	gchar *name; /* relative to the domain ("@"), or absolute with a trailing dot */
	const gchar *type;
	gchar *data;	   /* TXT: the unquoted text; others: RDATA as in a zone file */
	gchar *fqdn;	   /* without trailing dot */
	const gchar *note; /* (nullable): when to publish it */
} DnsRecord;

static void
dns_record_free(DnsRecord *r)
{
	g_free(r->name);
	g_free(r->data);
	g_free(r->fqdn);
	g_free(r);
}

static void
add_record(GPtrArray *records, const gchar *name, const gchar *type, gchar *data, gchar *fqdn)
{
	DnsRecord *r = g_new0(DnsRecord, 1);

	r->name = g_strdup(name);
	r->type = type;
	r->data = data;
	r->fqdn = fqdn;
	g_ptr_array_add(records, r);
}

static gchar *
spf_data(const gchar *const *ipsv4)
{
	GString *spf = g_string_new("v=spf1 ");

	for (guint k = 0; ipsv4 != NULL && ipsv4[k] != NULL; k++) {
		if (exm_mail_validate_ipv4(ipsv4[k], NULL))
			g_string_append_printf(spf, "ip4:%s/32 ", ipsv4[k]);
	}
	g_string_append(spf, SPF_TAIL);
	return g_string_free(spf, FALSE);
}

static gchar *
ptr_name(const gchar *ip)
{
	g_auto(GStrv) o = g_strsplit(ip, ".", 4);

	return g_strdup_printf("%s.%s.%s.%s.in-addr.arpa", o[3], o[2], o[1], o[0]);
}

/* The DKIM record when both selector and data are usable. */
static void
add_dkim_record(GPtrArray *records,
		const gchar *domain,
		const gchar *selector,
		const gchar *dkim_data)
{
	g_autofree gchar *name = NULL;

	if (selector == NULL || *selector == '\0' || dkim_data == NULL || *dkim_data == '\0' ||
	    !exm_mail_validate_selector(selector, NULL))
		return;
	name = g_strdup_printf("%s._domainkey", selector);
	add_record(
		records, name, "TXT", g_strdup(dkim_data), g_strdup_printf("%s.%s", name, domain));
}

/* The records of the seed README, in its order: DKIM, SPF, DMARC, PTR, then
 * the A records of the primary hostname the PTRs name, then MX. */
static GPtrArray *
dns_record_list(const gchar *domain,
		const gchar *const *ipsv4,
		const gchar *selector,
		const gchar *dkim_data)
{
	GPtrArray *records = g_ptr_array_new_with_free_func((GDestroyNotify)dns_record_free);

	add_dkim_record(records, domain, selector, dkim_data);
	add_record(records, "@", "TXT", spf_data(ipsv4), g_strdup(domain));
	add_record(records,
		   "_dmarc",
		   "TXT",
		   g_strdup(DMARC_DATA),
		   g_strdup_printf("_dmarc.%s", domain));
	for (guint k = 0; ipsv4 != NULL && ipsv4[k] != NULL; k++) {
		g_autofree gchar *rev = NULL;
		g_autofree gchar *abs = NULL;

		if (!exm_mail_validate_ipv4(ipsv4[k], NULL))
			continue;
		rev = ptr_name(ipsv4[k]);
		abs = g_strconcat(rev, ".", NULL);
		add_record(records,
			   abs,
			   "PTR",
			   g_strdup_printf("%s%s.", EXM_MAIL_DNS_HOST_PREFIX, domain),
			   g_strdup(rev));
	}
	/* the A records that take each PTR name back to its address (FCrDNS) */
	for (guint k = 0; ipsv4 != NULL && ipsv4[k] != NULL; k++) {
		if (exm_mail_validate_ipv4(ipsv4[k], NULL))
			add_record(records,
				   HOST_LABEL,
				   "A",
				   g_strdup(ipsv4[k]),
				   g_strdup_printf("%s%s", EXM_MAIL_DNS_HOST_PREFIX, domain));
	}
	add_record(records,
		   "@",
		   "MX",
		   g_strdup_printf("%d %s.", MX_PREFERENCE, domain),
		   g_strdup(domain));
	((DnsRecord *)g_ptr_array_index(records, records->len - 1))->note = MX_NOTE;
	return records;
}

/* PTR records live in the reverse zone of whoever owns the address, so they are
 * written as comments: the text stays loadable as the domain's own zone. */
static gchar *
zone_text(const gchar *domain, GPtrArray *records)
{
	GString *z = g_string_new(NULL);
	gboolean ptr_noted = FALSE;

	g_string_append_printf(z, "; mail DNS records for %s\n$ORIGIN %s.\n", domain, domain);
	for (guint k = 0; k < records->len; k++) {
		const DnsRecord *r = g_ptr_array_index(records, k);
		gboolean ptr = g_str_equal(r->type, "PTR");
		g_autofree gchar *rdata = NULL;

		if (ptr && !ptr_noted) {
			g_string_append(z,
					"; PTR records belong to the reverse zone of the IP "
					"address owner:\n");
			ptr_noted = TRUE;
		}
		rdata = g_str_equal(r->type, "TXT") ? exm_mail_dkim_quoted_chunks(r->data, " ")
						    : g_strdup(r->data);
		if (r->note != NULL)
			g_string_append_printf(z, "; %s %s:\n", r->type, r->note);
		g_string_append_printf(z,
				       "%s%s\t%d\tIN\t%s\t%s\n",
				       ptr ? "; " : "",
				       r->name,
				       DNS_TTL,
				       r->type,
				       rdata);
	}
	return g_string_free(z, FALSE);
}

/**
 * exm_mail_dns_zone:
 * @domain: the instance domain
 * @ipsv4: (nullable): %NULL-terminated IPv4 list
 * @selector: (nullable): DKIM selector
 * @dkim_data: (nullable): the TXT data
 *
 * Invalid IPs and an invalid selector are left out; an invalid domain yields "".
 * The PTR lines are comments (they belong to another zone), so the text loads as
 * the domain's zone.
 *
 * Returns: (transfer full): zone-file text
 */
gchar *
exm_mail_dns_zone(const gchar *domain,
		  const gchar *const *ipsv4,
		  const gchar *selector,
		  const gchar *dkim_data)
{
	g_autofree gchar *dom = exm_mail_validate_normalize_domain(domain, NULL);
	g_autoptr(GPtrArray) records = NULL;

	if (dom == NULL)
		return g_strdup("");
	records = dns_record_list(dom, ipsv4, selector, dkim_data);
	return zone_text(dom, records);
}

static void
build_record(JsonBuilder *b, const DnsRecord *r)
{
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "name");
	json_builder_add_string_value(b, r->name);
	json_builder_set_member_name(b, "type");
	json_builder_add_string_value(b, r->type);
	json_builder_set_member_name(b, "ttl");
	json_builder_add_int_value(b, DNS_TTL);
	json_builder_set_member_name(b, "data");
	json_builder_add_string_value(b, r->data);
	json_builder_set_member_name(b, "fqdn");
	json_builder_add_string_value(b, r->fqdn);
	if (r->note != NULL) {
		json_builder_set_member_name(b, "note");
		json_builder_add_string_value(b, r->note);
	}
	json_builder_end_object(b);
}

/**
 * exm_mail_dns_records:
 * @domain: the instance domain
 * @ipsv4: (nullable): %NULL-terminated IPv4 list
 * @selector: (nullable): DKIM selector ("" or %NULL: no DKIM record yet)
 * @dkim_data: (nullable): the TXT data
 *
 * TXT `data` is the unquoted text; MX and PTR `data` are as in a zone file
 * (`10 example.com.`, `example.com.`); the MX carries a `note`: publish it only
 * where the domain has none.  `smtp_hostname` is the node's one name.  An invalid
 * domain yields no records (and a null `smtp_hostname`).
 *
 * Returns: (transfer full): `{"domain","smtp_hostname","records":[{name,type,ttl,data,
 *   fqdn[,note]}…],"zone"}`
 */
JsonNode *
exm_mail_dns_records(const gchar *domain,
		     const gchar *const *ipsv4,
		     const gchar *selector,
		     const gchar *dkim_data)
{
	g_autofree gchar *dom = exm_mail_validate_normalize_domain(domain, NULL);
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(GPtrArray) records = NULL;
	g_autofree gchar *zone = NULL;
	g_autofree gchar *host = dom != NULL ? exm_mail_dns_primary_hostname(dom) : NULL;

	records =
		dom != NULL ? dns_record_list(dom, ipsv4, selector, dkim_data) : g_ptr_array_new();
	zone = dom != NULL ? zone_text(dom, records) : g_strdup("");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "domain");
	json_builder_add_string_value(b, dom != NULL ? dom : "");
	json_builder_set_member_name(b, "smtp_hostname");
	if (dom != NULL)
		json_builder_add_string_value(b, host);
	else
		json_builder_add_null_value(b);
	json_builder_set_member_name(b, "records");
	json_builder_begin_array(b);
	for (guint k = 0; k < records->len; k++)
		build_record(b, g_ptr_array_index(records, k));
	json_builder_end_array(b);
	json_builder_set_member_name(b, "zone");
	json_builder_add_string_value(b, zone);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

/**
 * exm_mail_dns_primary_hostname:
 * @domain: the instance domain (normalised)
 *
 * Returns: (transfer full): `mail.<domain>`, exim's primary_hostname
 *   (data/exim4/exim4.conf.in), which each PTR must name
 */
gchar *
exm_mail_dns_primary_hostname(const gchar *domain)
{
	return g_strconcat(EXM_MAIL_DNS_HOST_PREFIX, domain, NULL);
}
