/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The one timestamp format of the project: restalchemy's UTCDateTimeZ as the
 * REST API writes and reads it (docs/rest-conventions.md).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * exm_time_format:
 * @usec: microseconds since the epoch, UTC
 *
 * Times before 1970 are floored (-1 µs is `1969-12-31T23:59:59.999999Z`);
 * years past 9999 print with more digits; a time gmtime_r() cannot represent
 * prints as the epoch.
 *
 * Returns: (transfer full): `YYYY-MM-DDTHH:MM:SS.ffffffZ`, always six digits
 */
gchar *exm_time_format(gint64 usec);

/**
 * exm_time_usec_text:
 * @usec: microseconds since the epoch
 *
 * The form a timestamp is bound to SQL in (docs/rest-conventions.md): what
 * `g_strdup_printf("%" G_GINT64_FORMAT)` writes, without printf, as every
 * write binds one or two (docs/scale.md §8).
 *
 * Returns: (transfer full): @usec in decimal
 */
gchar *exm_time_usec_text(gint64 usec);

/**
 * exm_time_parse:
 * @text: (nullable): `YYYY-MM-DD HH:MM:SS.f` or `YYYY-MM-DDTHH:MM:SS.fZ`,
 *   fraction of 1–6 digits required, no offset
 * @out: (out): µs since the epoch, UTC
 *
 * Returns: %TRUE when @text is such a timestamp
 */
gboolean exm_time_parse(const gchar *text, gint64 *out);

/**
 * exm_time_parse_sql:
 * @text: (nullable): a `timestamp` column's text in PostgreSQL's ISO
 *   DateStyle: `YYYY-MM-DD HH:MM:SS`, then `.f` with 1–6 digits unless the
 *   fraction is zero; years 1–9999 (no `BC`, no `infinity`)
 * @out: (out): µs since the epoch, UTC
 *
 * Returns: %TRUE when @text is such a timestamp
 */
gboolean exm_time_parse_sql(const gchar *text, gint64 *out);

G_END_DECLS
