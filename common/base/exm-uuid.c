/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-uuid.h"

#include "exm-error.h"

#include <string.h>
#include <uuid/uuid.h>

#define EXM_UUID_TEXT_LEN 36

/* libuuid's uuid_parse() only checks the first 36 bytes and is not a contract
 * about what follows, so the 8-4-4-4-12 shape is checked here byte by byte. */
static gboolean
exm_uuid_shape_ok(const gchar *text)
{
	for (gsize i = 0; i < EXM_UUID_TEXT_LEN; i++) {
		gboolean hyphen = (i == 8 || i == 13 || i == 18 || i == 23);
		if (text[i] == '\0')
			return FALSE;
		if (hyphen ? text[i] != '-' : !g_ascii_isxdigit(text[i]))
			return FALSE;
	}
	return text[EXM_UUID_TEXT_LEN] == '\0';
}

static gboolean
exm_uuid_to_bin(const gchar *text, uuid_t out, GError **error)
{
	if (text == NULL || !exm_uuid_shape_ok(text) || uuid_parse(text, out) != 0) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_PARSE,
			    "not a uuid (expected 8-4-4-4-12 hex digits)");
		return FALSE;
	}
	return TRUE;
}

static gchar *
exm_uuid_from_bin(const uuid_t uu)
{
	gchar buf[EXM_UUID_TEXT_LEN + 1];

	uuid_unparse_lower(uu, buf);
	return g_strdup(buf);
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
	uuid_t uu;

	if (!exm_uuid_to_bin(text, uu, error))
		return NULL;
	return exm_uuid_from_bin(uu);
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
	return text != NULL && exm_uuid_shape_ok(text);
}

/**
 * exm_uuid4:
 *
 * Returns: (transfer full): a random (v4) UUID, lower case
 */
gchar *
exm_uuid4(void)
{
	uuid_t uu;

	uuid_generate_random(uu);
	return exm_uuid_from_bin(uu);
}

/**
 * exm_uuid5:
 * @ns: namespace UUID text
 * @name: UTF-8 name
 * @error: %EXM_ERROR_PARSE when @ns is not a UUID
 *
 * Returns: (transfer full): lower-case canonical UUID
 */
gchar *
exm_uuid5(const gchar *ns, const gchar *name, GError **error)
{
	uuid_t nsu;
	uuid_t out;

	g_return_val_if_fail(name != NULL, NULL);
	if (!exm_uuid_to_bin(ns, nsu, error))
		return NULL;
	uuid_generate_sha1(out, nsu, name, strlen(name));
	return exm_uuid_from_bin(out);
}
