/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The DKIM TXT record: its data, its 255-byte chunks, the BIND-style file.
 */
#include "exm-mail-dkim.h"

#include <string.h>

#include "exm-mail-error.h"
#include "exm-mail-validate.h"

#define TXT_CHUNK_MAX 255

/**
 * exm_mail_dkim_record_data:
 * @public_key_b64: (nullable): base64 of the DER SubjectPublicKeyInfo
 *
 * Returns: (transfer full): `v=DKIM1; h=sha256; k=rsa; p=<key>`
 */
gchar *
exm_mail_dkim_record_data(const gchar *public_key_b64)
{
	return g_strdup_printf("v=DKIM1; h=sha256; k=rsa; p=%s",
			       public_key_b64 != NULL ? public_key_b64 : "");
}

/**
 * exm_mail_dkim_split:
 * @data: (nullable): TXT data
 *
 * Returns: (transfer full): @data cut into strings of at most 255 bytes (one empty
 *   string for empty data: a TXT record always has at least one)
 */
GStrv
exm_mail_dkim_split(const gchar *data)
{
	g_autoptr(GStrvBuilder) b = g_strv_builder_new();
	gsize len = data != NULL ? strlen(data) : 0;

	if (len == 0)
		g_strv_builder_add(b, "");
	for (gsize off = 0; off < len; off += TXT_CHUNK_MAX) {
		g_autofree gchar *chunk = g_strndup(data + off, TXT_CHUNK_MAX);

		g_strv_builder_add(b, chunk);
	}
	return g_strv_builder_end(b);
}

/* A zone-file character-string: quotes and backslashes escaped, others as \DDD. */
static void
append_quoted(GString *out, const gchar *chunk)
{
	g_string_append_c(out, '"');
	for (const guchar *p = (const guchar *)chunk; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_printf(out, "\\%c", *p);
		else if (*p < 0x20 || *p > 0x7e)
			g_string_append_printf(out, "\\%03u", *p);
		else
			g_string_append_c(out, (gchar)*p);
	}
	g_string_append_c(out, '"');
}

/**
 * exm_mail_dkim_quoted_chunks:
 * @data: TXT data
 * @sep: the separator
 *
 * Returns: (transfer full): the 255-byte chunks of @data, quoted, joined with @sep
 */
gchar *
exm_mail_dkim_quoted_chunks(const gchar *data, const gchar *sep)
{
	g_auto(GStrv) chunks = exm_mail_dkim_split(data);
	GString *out = g_string_new(NULL);

	for (guint k = 0; chunks[k] != NULL; k++) {
		if (k > 0)
			g_string_append(out, sep);
		append_quoted(out, chunks[k]);
	}
	return g_string_free(out, FALSE);
}

/**
 * exm_mail_dkim_txt_render:
 * @selector: the DKIM selector
 * @domain: the instance domain (only in the trailing comment)
 * @data: the TXT data
 *
 * Returns: (transfer full): the BIND-style record, as opendkim-genkey writes it
 */
gchar *
exm_mail_dkim_txt_render(const gchar *selector, const gchar *domain, const gchar *data)
{
	g_autofree gchar *chunks = exm_mail_dkim_quoted_chunks(data, "\n\t  ");
	const gchar *sel =
		exm_mail_validate_selector(selector, NULL) ? selector : EXM_MAIL_DEFAULT_SELECTOR;
	g_autofree gchar *dom = exm_mail_validate_normalize_domain(domain, NULL);

	return g_strdup_printf("%s._domainkey\tIN\tTXT\t( %s )  ; ----- DKIM key %s for %s\n",
			       sel,
			       chunks,
			       sel,
			       dom != NULL ? dom : "?");
}

/**
 * exm_mail_dkim_txt_parse:
 * @content: (nullable): a BIND-style TXT record or a quoted string
 *
 * Returns: (transfer full): every double-quoted chunk concatenated, then trimmed;
 *   "" when there is none
 */
gchar *
exm_mail_dkim_txt_parse(const gchar *content)
{
	g_autoptr(GString) out = g_string_new(NULL);
	const gchar *p = content;

	while (p != NULL && (p = strchr(p, '"')) != NULL) {
		const gchar *end = strchr(p + 1, '"');

		if (end == NULL)
			break;
		g_string_append_len(out, p + 1, end - (p + 1));
		p = end + 1;
	}
	return g_strstrip(g_string_free(g_steal_pointer(&out), FALSE));
}
