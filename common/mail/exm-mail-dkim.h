/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The DKIM TXT record of the data plane.
 */
#pragma once

#include <glib.h>

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
 * exm_mail_dkim_quoted_chunks:
 * @data: TXT data
 * @sep: the separator
 *
 * Returns: (transfer full): the 255-byte chunks of @data, each quoted, joined
 *   with @sep (the record file and the zone text both write them)
 */
gchar *exm_mail_dkim_quoted_chunks(const gchar *data, const gchar *sep);
