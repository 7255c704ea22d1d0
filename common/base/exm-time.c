/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Timestamps (see exm-time.h).
 */
#include "exm-time.h"

#include <time.h>

/* @n as @width digits, zero-padded, ending at @end (exclusive). */
static void
time_put(gchar *end, guint width, gint64 n)
{
	for (guint i = 0; i < width; i++, n /= 10)
		*--end = (gchar)('0' + n % 10);
}

gchar *
exm_time_format(gint64 usec)
{
	time_t secs = (time_t)(usec >= 0 ? usec / G_USEC_PER_SEC
					 : -((-usec + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC));
	gint64 frac = usec - (gint64)secs * G_USEC_PER_SEC;
	gchar text[] = "0000-00-00T00:00:00.000000Z";
	struct tm tm;

	if (gmtime_r(&secs, &tm) == NULL)
		return g_strdup("1970-01-01T00:00:00.000000Z");
	/* years outside four digits as printf writes them */
	if (tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
		return g_strdup_printf("%04d-%02d-%02dT%02d:%02d:%02d.%06" G_GINT64_FORMAT "Z",
				       tm.tm_year + 1900,
				       tm.tm_mon + 1,
				       tm.tm_mday,
				       tm.tm_hour,
				       tm.tm_min,
				       tm.tm_sec,
				       frac);
	/* the same text placed digit by digit: every row a response carries
	 * formats two or three of these, and printf was most of their cost */
	time_put(text + 4, 4, tm.tm_year + 1900);
	time_put(text + 7, 2, tm.tm_mon + 1);
	time_put(text + 10, 2, tm.tm_mday);
	time_put(text + 13, 2, tm.tm_hour);
	time_put(text + 16, 2, tm.tm_min);
	time_put(text + 19, 2, tm.tm_sec);
	time_put(text + 26, 6, frac);
	return g_strdup(text);
}

gchar *
exm_time_usec_text(gint64 usec)
{
	gchar text[24];
	gsize i = sizeof(text) - 1;
	/* the magnitude unsigned: G_MININT64 has no positive twin */
	guint64 n = usec < 0 ? -(guint64)usec : (guint64)usec;

	text[i] = '\0';
	do {
		text[--i] = (gchar)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	if (usec < 0)
		text[--i] = '-';
	return g_strdup(text + i);
}

static gboolean
time_digits(const gchar **p, guint n, gint *out)
{
	gint v = 0;

	for (guint i = 0; i < n; i++) {
		if (!g_ascii_isdigit((*p)[i]))
			return FALSE;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return TRUE;
}

static gboolean
time_expect(const gchar **p, gchar c)
{
	if (**p != c)
		return FALSE;
	(*p)++;
	return TRUE;
}

/* The `.f` fraction (1..6 digits) scaled to microseconds; absent is 0 when
 * @optional (PostgreSQL leaves out a zero fraction). */
static gboolean
time_fraction(const gchar **p, gboolean optional, gint *usec)
{
	guint n = 0;
	gint v = 0;

	if (optional && **p != '.') {
		*usec = 0;
		return TRUE;
	}
	if (!time_expect(p, '.'))
		return FALSE;
	while (g_ascii_isdigit(**p) && n < 7) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	if (n == 0 || n > 6)
		return FALSE;
	for (; n < 6; n++)
		v *= 10;
	*usec = v;
	return TRUE;
}

/* Days from 1970-01-01 to @y-@m-@d (proleptic Gregorian, @y >= 1): whole
 * 400-year eras, then the years, then the day in a year counted from March,
 * so that the leap day comes last.  Arithmetic, not a GDateTime: a list page
 * reads two or three timestamps per row (docs/scale.md §8). */
static gint64
time_days(gint y, gint m, gint d)
{
	gint era, yoe, doy;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	return (gint64)era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* `YYYY-MM-DD`, then a space or 'T' (*@iso set when 'T'), then `HH:MM:SS`
 * and the fraction (optional when @optional_fraction), as µs since the
 * epoch; the text after it is left at *@p. */
static gboolean
time_read(const gchar **p, gboolean optional_fraction, gboolean *iso, gint64 *out)
{
	gint y, mo, d, h, mi, s, us;

	if (!time_digits(p, 4, &y) || !time_expect(p, '-') || !time_digits(p, 2, &mo) ||
	    !time_expect(p, '-') || !time_digits(p, 2, &d))
		return FALSE;
	*iso = **p == 'T';
	if ((**p != 'T' && **p != ' ') || ((*p)++, !time_digits(p, 2, &h)) ||
	    !time_expect(p, ':') || !time_digits(p, 2, &mi) || !time_expect(p, ':') ||
	    !time_digits(p, 2, &s) || !time_fraction(p, optional_fraction, &us))
		return FALSE;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > g_date_get_days_in_month(mo, y) || h > 23 ||
	    mi > 59 || s > 59)
		return FALSE;
	*out = ((time_days(y, mo, d) * 24 + h) * 60 + mi) * 60 * G_USEC_PER_SEC +
	       (gint64)s * G_USEC_PER_SEC + us;
	return TRUE;
}

/* @sql: a column's ISO text (a space, the fraction optional), else the
 * API's (`T` and `Z`, or a space, the fraction required). */
static gboolean
time_parse(const gchar *text, gboolean sql, gint64 *out)
{
	const gchar *p = text;
	gboolean iso;
	gint64 v;

	if (text == NULL || !time_read(&p, sql, &iso, &v) || (sql && iso))
		return FALSE;
	if (iso && !time_expect(&p, 'Z'))
		return FALSE;
	if (*p != '\0')
		return FALSE;
	*out = v;
	return TRUE;
}

gboolean
exm_time_parse(const gchar *text, gint64 *out)
{
	return time_parse(text, FALSE, out);
}

gboolean
exm_time_parse_sql(const gchar *text, gint64 *out)
{
	return time_parse(text, TRUE, out);
}
