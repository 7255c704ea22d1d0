/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzz target: exm_mail_dkim_txt_parse, which reads the DKIM TXT record a data
 * plane's opendkim-genkey (or our renderer) wrote, and its round trip with
 * exm_mail_dkim_txt_render / exm_mail_dkim_split.
 *
 * Properties: the result never holds a double quote nor leading/trailing
 * whitespace, and is never longer than the input; the split chunks are at
 * most 255 bytes and concatenate to it; when it is in the alphabet of DKIM
 * record data (printable ASCII without `\`), rendering it again (selector
 * `platform`, domain example.com) parses back to the same text.  (Outside it
 * the renderer writes zone-file escapes, `\"` and `\DDD`, which the parser,
 * like upstream's `_parse_dkim_txt`, does not undo.)
 */
#include <string.h>

#include "exm-mail.h"
#include "fuzz-common.h"

static gboolean
is_record_alphabet(const gchar *text)
{
	for (const gchar *p = text; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '\\')
			return FALSE;
	return TRUE;
}

static void
check_split(const gchar *text)
{
	g_auto(GStrv) chunks = exm_mail_dkim_split(text);
	g_autofree gchar *joined = NULL;

	for (guint k = 0; chunks[k] != NULL; k++)
		EXM_FUZZ_CHECK(
			strlen(chunks[k]) <= 255, "chunk %u is %zu bytes", k, strlen(chunks[k]));
	joined = g_strjoinv("", chunks);
	EXM_FUZZ_CHECK(g_str_equal(joined, text), "chunks do not make the text");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree gchar *content = exm_fuzz_strndup(data, size);
	g_autofree gchar *text = NULL;
	g_autofree gchar *rendered = NULL;
	g_autofree gchar *back = NULL;
	gsize len;

	exm_fuzz_begin(data, size);
	text = exm_mail_dkim_txt_parse(content);
	EXM_FUZZ_CHECK(text != NULL, "no result");
	len = strlen(text);
	EXM_FUZZ_CHECK(strchr(text, '"') == NULL, "a quote in the result: %s", text);
	EXM_FUZZ_CHECK(len <= strlen(content), "result longer than the input");
	EXM_FUZZ_CHECK(len == 0 || (!g_ascii_isspace(text[0]) && !g_ascii_isspace(text[len - 1])),
		       "result not trimmed: '%s'",
		       text);

	check_split(text);
	if (!is_record_alphabet(text))
		return 0;
	rendered = exm_mail_dkim_txt_render("platform", "example.com", text);
	back = exm_mail_dkim_txt_parse(rendered);
	EXM_FUZZ_CHECK(g_str_equal(back, text), "render/parse changes '%s' into '%s'", text, back);
	exm_fuzz_accepted();
	return 0;
}
