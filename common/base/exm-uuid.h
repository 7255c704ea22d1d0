/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * UUIDs: the one parser (strict, with a documented lenient mode for what the
 * REST API accepts) and the generators exm_uuid_v4() and exm_uuid_v5() (what
 * Python calls uuid.uuid4() and uuid.uuid5()).
 */
#pragma once

#include <glib.h>

/**
 * exm_uuid_parse:
 * @text: a UUID in any case, canonical 8-4-4-4-12 form
 * @error: %EXM_ERROR_PARSE when @text is not a UUID
 *
 * Returns: (transfer full): the lower-case canonical form
 */
gchar *exm_uuid_parse(const gchar *text, GError **error);

/**
 * exm_uuid_parse_lenient:
 * @text: (nullable): user input (a URL segment, a filter, a body value)
 * @name: the parameter name for the message (`uuid`)
 * @error: %EXM_ERROR_PARSE (400 `ParseError`) "Can't parse value: <name>=<text>."
 *
 * The lenient mode of the one UUID parser, for what the REST API accepts: as
 * Python's `uuid.UUID()` does, any case, hyphens anywhere or none, `{…}` and
 * `urn:uuid:` accepted.  Everything internal (stored rows, agent payloads,
 * configuration) uses the strict exm_uuid_parse().
 *
 * Returns: (transfer full): the lower-case canonical form
 */
gchar *exm_uuid_parse_lenient(const gchar *text, const gchar *name, GError **error);

/**
 * exm_uuid_is_valid:
 * Returns: %TRUE if @text (nullable) parses as a UUID
 */
gboolean exm_uuid_is_valid(const gchar *text);

/**
 * exm_uuid_v4:
 * Returns: (transfer full): a random (v4) UUID, lower case
 */
gchar *exm_uuid_v4(void);

/**
 * exm_uuid_v5:
 * @ns: namespace UUID text
 * @name: UTF-8 name
 * @error: %EXM_ERROR_PARSE when @ns is not a UUID
 *
 * RFC 4122 v5 (libuuid's uuid_generate_sha1), as Python's uuid.uuid5().
 *
 * Returns: (transfer full): lower-case canonical UUID
 */
gchar *exm_uuid_v5(const gchar *ns, const gchar *name, GError **error);
