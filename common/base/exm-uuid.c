/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-uuid.h"

#include "exm-error.h"

#include <string.h>
#include <sys/random.h>
#include <uuid/uuid.h>

#define EXM_UUID_TEXT_LEN 36

/* The one parser.  Strict: exactly 8-4-4-4-12 hex digits (libuuid's
 * uuid_parse() only checks the first 36 bytes and is not a contract about what
 * follows, so the shape is checked here byte by byte).  Lenient: Python's
 * uuid.UUID(), i.e. hex.replace('urn:', '').replace('uuid:', '').strip('{}')
 * .replace('-', '') must leave 32 hex digits.  Either way @hex gets the 32
 * lower-case digits. */
static gboolean
uuid_hex(const gchar *text, gboolean lenient, gchar hex[33])
{
	/* a copy only for the prefixes to take out: the route walk and the
	 * metrics parse a path's ids on every request (docs/scale.md §8) */
	g_autoptr(GString) s = NULL;
	const gchar *str = text;
	guint n = 0;
	gsize start = 0;
	gsize end = strlen(text);

	if (lenient && (strstr(text, "urn:") != NULL || strstr(text, "uuid:") != NULL)) {
		s = g_string_new(text);
		g_string_replace(s, "urn:", "", 0);
		g_string_replace(s, "uuid:", "", 0);
		str = s->str;
		end = s->len;
	} else if (!lenient && end != EXM_UUID_TEXT_LEN) {
		return FALSE;
	}
	while (lenient && start < end && (str[start] == '{' || str[start] == '}'))
		start++;
	while (lenient && end > start && (str[end - 1] == '{' || str[end - 1] == '}'))
		end--;
	for (gsize i = start; i < end; i++) {
		gchar c = str[i];
		gboolean hyphen = i == 8 || i == 13 || i == 18 || i == 23;
		if (!lenient && hyphen != (c == '-'))
			return FALSE;
		if (c == '-' && (lenient || hyphen))
			continue;
		if (!g_ascii_isxdigit(c) || n >= 32)
			return FALSE;
		hex[n++] = g_ascii_tolower(c);
	}
	hex[n] = '\0';
	return n == 32;
}

static gboolean
uuid_shape_ok(const gchar *text)
{
	gchar hex[33];

	return uuid_hex(text, FALSE, hex);
}

static gboolean
uuid_refuse(GError **error)
{
	g_set_error(
		error, EXM_ERROR, EXM_ERROR_PARSE, "not a uuid (expected 8-4-4-4-12 hex digits)");
	return FALSE;
}

static gboolean
uuid_to_bin(const gchar *text, uuid_t out, GError **error)
{
	if (text == NULL || !uuid_shape_ok(text) || uuid_parse(text, out) != 0)
		return uuid_refuse(error);
	return TRUE;
}

static gchar *
uuid_from_bin(const uuid_t uu)
{
	gchar buf[EXM_UUID_TEXT_LEN + 1];

	uuid_unparse_lower(uu, buf);
	return g_strdup(buf);
}

/* 8-4-4-4-12 from 32 hex digits, placed rather than printed. */
static gchar *
uuid_from_hex(const gchar hex[33])
{
	gchar *out = g_malloc(EXM_UUID_TEXT_LEN + 1);
	gsize o = 0;

	for (guint i = 0; i < 32; i++) {
		if (i == 8 || i == 12 || i == 16 || i == 20)
			out[o++] = '-';
		out[o++] = hex[i];
	}
	out[o] = '\0';
	return out;
}

/**
 * exm_uuid_parse:
 * @text: a UUID in any case, canonical 8-4-4-4-12 form
 * @error: %EXM_ERROR_PARSE when @text is not a UUID
 *
 * Returns: (transfer full): the lower-case canonical form
 */
gchar *
exm_uuid_parse(const gchar *text, GError **error)
{
	gchar hex[33];

	/* the shape check's digits are the answer: no trip through binary */
	if (text == NULL || !uuid_hex(text, FALSE, hex)) {
		uuid_refuse(error);
		return NULL;
	}
	return uuid_from_hex(hex);
}

/**
 * exm_uuid_parse_lenient:
 * @text: (nullable): user input
 * @name: the parameter name for the message (`uuid`)
 * @error: %EXM_ERROR_PARSE "Can't parse value: <name>=<text>." (400 `ParseError`)
 *
 * Returns: (transfer full): the lower-case canonical form
 */
gchar *
exm_uuid_parse_lenient(const gchar *text, const gchar *name, GError **error)
{
	gchar hex[33];
	gboolean utf8 = text != NULL && g_utf8_validate(text, -1, NULL);

	if (!utf8 || !uuid_hex(text, TRUE, hex)) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_PARSE,
			    "Can't parse value: %s=%s.",
			    name,
			    text == NULL ? "None"
			    : utf8	 ? text
					 : "<invalid utf-8>");
		return NULL;
	}
	return uuid_from_hex(hex);
}

/**
 * exm_uuid_is_valid:
 * @text: (nullable): candidate
 *
 * Returns: %TRUE if @text parses as a UUID
 */
gboolean
exm_uuid_is_valid(const gchar *text)
{
	return text != NULL && uuid_shape_ok(text);
}

/**
 * exm_uuid_v4:
 *
 * Returns: (transfer full): a random (v4) UUID, lower case
 */
gchar *
exm_uuid_v4(void)
{
	uuid_t uu;

	/* the kernel's random bytes with the version and variant bits set, as
	 * libuuid does, without its per-call srandom() and random() mixing
	 * (most of a create's uuid, docs/scale.md §8); libuuid when the call
	 * comes short */
	if (getrandom(uu, sizeof(uu), 0) == (ssize_t)sizeof(uu)) {
		uu[6] = (guchar)((uu[6] & 0x0F) | 0x40);
		uu[8] = (guchar)((uu[8] & 0x3F) | 0x80);
	} else {
		uuid_generate_random(uu);
	}
	return uuid_from_bin(uu);
}

/**
 * exm_uuid_v5:
 * @ns: namespace UUID text
 * @name: UTF-8 name
 * @error: %EXM_ERROR_PARSE when @ns is not a UUID
 *
 * Returns: (transfer full): lower-case canonical UUID
 */
gchar *
exm_uuid_v5(const gchar *ns, const gchar *name, GError **error)
{
	uuid_t nsu = { 0 };
	uuid_t out;

	g_return_val_if_fail(name != NULL, NULL);
	if (!uuid_to_bin(ns, nsu, error))
		return NULL;
	uuid_generate_sha1(out, nsu, name, strlen(name));
	return uuid_from_bin(out);
}
