/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The data-plane file formats: /etc/exim4/passwd, mail.env, the DKIM TXT record,
 * and the DNS guidance of the seed README.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "exm-mail-model.h"

/**
 * exm_mail_passwd_render:
 * @node: the value
 *
 * One line per ACTIVE account, `username@domain:hash` with any `{SCHEME}` prefix
 * stripped, sorted, `\n` after each line; "" when there is none.
 *
 * Returns: (transfer full): the file content
 */
gchar *exm_mail_passwd_render(const ExmMailNode *node);

/**
 * ExmMailPasswdEntry:
 * @address: `local@domain` as found (lower-cased)
 * @local: the part before `@`
 * @hash: text after the first `:`
 */
typedef struct {
	gchar *address;
	gchar *local;
	gchar *hash;
} ExmMailPasswdEntry;

void exm_mail_passwd_entry_free(ExmMailPasswdEntry *e);

/**
 * exm_mail_passwd_parse:
 * @content: file content
 * @error: %EXM_MAIL_ERROR_PARSE on a NUL byte or invalid UTF-8
 *
 * Skips blank and `#` lines and lines without `:` or `@` in the key (upstream
 * restore_from_dp).
 *
 * Returns: (transfer full) (element-type ExmMailPasswdEntry): entries in file order
 */
GPtrArray *exm_mail_passwd_parse(const gchar *content, GError **error);

/**
 * exm_mail_env_render:
 * @domain: the instance domain (validated again)
 *
 * Returns: (transfer full): `MAIL_DOMAIN=<domain>\n`, or %NULL with an error
 */
gchar *exm_mail_env_render(const gchar *domain, GError **error);

/**
 * exm_mail_env_parse:
 * @content: mail.env content (shell `KEY=value` lines, `#` comments, optional
 *   single or double quotes around the value)
 * @error: %EXM_MAIL_ERROR_PARSE when MAIL_DOMAIN is missing, repeated, or not a
 *   valid domain; unknown keys are refused too
 *
 * Returns: (transfer full): the lower-cased domain
 */
gchar *exm_mail_env_parse(const gchar *content, GError **error);

/**
 * exm_mail_dkim_record_data:
 * @public_key_b64: base64 of the DER SubjectPublicKeyInfo (no whitespace)
 *
 * Returns: (transfer full): `v=DKIM1; h=sha256; k=rsa; p=<key>`
 */
gchar *exm_mail_dkim_record_data(const gchar *public_key_b64);

/**
 * exm_mail_dkim_split:
 * @data: TXT data
 *
 * Returns: (transfer full): @data cut into strings of at most 255 bytes
 */
GStrv exm_mail_dkim_split(const gchar *data);

/**
 * exm_mail_dkim_txt_render:
 *
 * BIND style, as opendkim-genkey writes it:
 * `<selector>._domainkey\tIN\tTXT\t( "chunk1"\n\t  "chunk2" )`
 * followed by `  ; ----- DKIM key <selector> for <domain>\n`
 *
 * Returns: (transfer full): the file content
 */
gchar *exm_mail_dkim_txt_render(const gchar *selector, const gchar *domain, const gchar *data);

/**
 * exm_mail_dkim_txt_parse:
 * @content: a BIND-style TXT record or a quoted string
 *
 * Concatenates every double-quoted chunk, then trims (upstream `_parse_dkim_txt`).
 *
 * Returns: (transfer full): the data, "" when there is no quoted chunk
 */
gchar *exm_mail_dkim_txt_parse(const gchar *content);

/**
 * exm_mail_dns_records:
 * @domain: the instance domain
 * @ipsv4: (nullable): %NULL-terminated IPv4 list
 * @selector: (nullable): DKIM selector ("" or %NULL: no DKIM record yet)
 * @dkim_data: (nullable): the TXT data (`v=DKIM1; …`)
 *
 * The records of the seed README: SPF (`v=spf1 ip4:<ip>/32 … a mx ~all`),
 * DKIM at `<selector>._domainkey`, DMARC at `_dmarc`, MX at `@`, PTR per IP.
 *
 * Returns: (transfer full): `{"domain":…,"records":[{"name","type","ttl","data",
 *   "fqdn"}…],"zone":"<zone-file text>"}`
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
