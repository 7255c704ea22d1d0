/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The live DNS check of an instance (docs/dns-verification.md): what is
 * published against what exm_mail_dns_records() says to publish.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

/* RFC 7208 §4.6.4: at most 10 mechanisms and modifiers that cause lookups. */
#define EXM_MAIL_DNSCHECK_SPF_LOOKUPS 10

/**
 * ExmMailDnsLookup:
 * @data: the resolver
 * @name: the name
 * @type: "A", "TXT", "MX" or "PTR"
 * @out: gets one string per record (exm_mail_resolver_lookup()'s forms)
 * @error: when the answer is not known (timeout, SERVFAIL)
 *
 * Returns: %TRUE when the answer (possibly empty) is known
 */
typedef gboolean (*ExmMailDnsLookup)(gpointer data,
				     const gchar *name,
				     const gchar *type,
				     GPtrArray *out,
				     GError **error);

/**
 * exm_mail_dnscheck_run:
 * @domain: the instance domain
 * @ipsv4: (nullable): %NULL-terminated node addresses
 * @selector: (nullable): DKIM selector ("" or %NULL: no key yet)
 * @dkim_data: (nullable): the DKIM TXT data the instance's key gives
 * @lookup: the resolver's lookup
 * @data: its first argument
 *
 * Checks SPF, DKIM, DMARC, MX and PTR (FCrDNS to exim's primary_hostname).
 * Each check is `ok`, `missing`, `wrong` or `unverified` (its answer was not
 * learnt in time), with `found`, `expected`, `publish` (the zone line) and a
 * `reason` when it is not ok.  `status` sums them up: `unverified` when any
 * lookup failed, else `failing` when SPF or DKIM is not ok, else `degraded`
 * when DMARC, MX or a PTR is not ok, else `ok`.
 *
 * Returns: (transfer full): `{"domain","status","checks":[{"check","name",
 *   "type","result","found":[…],"expected","publish","reason"?…}…]}`
 */
JsonNode *exm_mail_dnscheck_run(const gchar *domain,
				const gchar *const *ipsv4,
				const gchar *selector,
				const gchar *dkim_data,
				ExmMailDnsLookup lookup,
				gpointer data);

/* The `status` member of an exm_mail_dnscheck_run() answer ("unverified" if absent). */
const gchar *exm_mail_dnscheck_status(JsonNode *result);
