/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The DNS guidance of the seed README.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

/* exim's primary_hostname is this prefix and the domain (exim4.conf.in) */
#define EXM_MAIL_DNS_HOST_PREFIX "mail."

/**
 * exm_mail_dns_records:
 * @domain: the instance domain
 * @ipsv4: (nullable): %NULL-terminated IPv4 list
 * @selector: (nullable): DKIM selector ("" or %NULL: no DKIM record yet)
 * @dkim_data: (nullable): the TXT data (`v=DKIM1; …`)
 *
 * The records of the seed README: SPF (`v=spf1 ip4:<ip>/32 … a mx ~all`),
 * DKIM at `<selector>._domainkey`, DMARC at `_dmarc`, PTR per IP naming exim's
 * primary_hostname `mail.<domain>`, an A record of that name per IP (so the
 * PTR leads back: FCrDNS), MX at `@` with a note: only where the domain has no
 * MX (issue 22: never a second MX).  The node's names live here only:
 * exim's primary_hostname, the certificate's CN/SAN and the instance's
 * smtp_hostname all come from exm_mail_dns_primary_hostname().
 *
 * Returns: (transfer full): `{"domain":…,"smtp_hostname":…,"records":[{"name",
 *   "type","ttl","data","fqdn"[,"note"]}…],"zone":"<zone-file text>"}`
 */
JsonNode *exm_mail_dns_records(const gchar *domain,
			       const gchar *const *ipsv4,
			       const gchar *selector,
			       const gchar *dkim_data);

/**
 * exm_mail_dns_zone:
 * Returns: (transfer full): the same records as zone-file lines (TXT data split
 * into ≤255-byte quoted strings)
 */
gchar *exm_mail_dns_zone(const gchar *domain,
			 const gchar *const *ipsv4,
			 const gchar *selector,
			 const gchar *dkim_data);

/* exim's primary_hostname for @domain: `mail.<domain>` (transfer full) */
gchar *exm_mail_dns_primary_hostname(const gchar *domain);
