/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The one timestamp formatter and parser (exm-time.c): the REST cases moved
 * from test-rest.c and the formatting cases of the former
 * exm_mail_format_timestamp() (test-mail-model.c).
 */
#include "exm-base.h"
#include "exm-test.h"

static gint64
usec_of(const gchar *iso)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(iso, NULL);

	g_assert_nonnull(dt);
	return g_date_time_to_unix(dt) * G_USEC_PER_SEC + g_date_time_get_microsecond(dt);
}

static void
test_timestamps(void)
{
	gint64 us = 0;
	g_autofree gchar *a = exm_time_format(1764073994510407);
	g_autofree gchar *b = exm_time_format(0);
	const gchar *bad[] = { "2024-01-02T03:04:05Z",
			       "2024-01-02T03:04:05.1234567Z",
			       "2024-01-02T03:04:05.1+00:00",
			       "2024-01-02 03:04:05.1Z",
			       "2024-13-02T03:04:05.1Z",
			       "2024-01-02T03:04:05.1",
			       "",
			       "x" };

	g_assert_cmpstr(a, ==, "2025-11-25T12:33:14.510407Z");
	g_assert_cmpstr(b, ==, "1970-01-01T00:00:00.000000Z");
	g_assert_true(exm_time_parse("2025-11-25T12:33:14.510407Z", &us));
	g_assert_cmpint(us, ==, 1764073994510407);
	g_assert_true(exm_time_parse("2025-11-25 12:33:14.5", &us));
	g_assert_cmpint(us, ==, 1764073994500000);
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		g_assert_false(exm_time_parse(bad[i], &us));
}

/* Every day near the ends of the range and around 1900–2100 (leap rules of
 * both kinds), every 31st elsewhere: the whole range took minutes under
 * valgrind. */
static guint
calendar_step(const GDate *day)
{
	guint y = g_date_get_year(day);

	return y <= 4 || (y >= 1896 && y <= 2104) || y >= 9996 ? 1 : 31;
}

/* The calendar arithmetic against GDate's Julian days through years 1 to
 * 9999 at a time of day, both parsers, and the days that do not exist. */
static void
test_parse_calendar(void)
{
	const gchar *none[] = { "2023-02-29 00:00:00", "1900-02-29 00:00:00", "2024-04-31 00:00:00",
				"2024-00-10 00:00:00", "2024-01-00 00:00:00", "0000-01-01 00:00:00",
				"2024-01-01 24:00:00", "2024-01-01 00:60:00", "2024-01-01 00:00:60",
				"2024-13-01 00:00:00" };
	g_autoptr(GDate) epoch = g_date_new_dmy(1, G_DATE_JANUARY, 1970);
	g_autoptr(GDate) day = g_date_new_dmy(1, G_DATE_JANUARY, 1);
	const gint64 clock = G_GINT64_CONSTANT(13 * 3600 + 7 * 60 + 9) * G_USEC_PER_SEC;
	gint64 us = 0;

	g_assert_true(exm_time_parse_sql("2000-02-29 00:00:00", &us));
	g_assert_cmpint(us, ==, G_GINT64_CONSTANT(951782400000000));
	for (guint i = 0; i < G_N_ELEMENTS(none); i++)
		g_assert_false(exm_time_parse_sql(none[i], &us));
	for (;;) {
		gint64 days = (gint64)g_date_get_julian(day) - g_date_get_julian(epoch);
		gint64 want = days * 86400 * G_USEC_PER_SEC + clock;
		gchar sql[32], api[40];

		g_snprintf(sql,
			   sizeof(sql),
			   "%04d-%02d-%02d 13:07:09",
			   g_date_get_year(day),
			   g_date_get_month(day),
			   g_date_get_day(day));
		g_snprintf(api,
			   sizeof(api),
			   "%04d-%02d-%02dT13:07:09.000042Z",
			   g_date_get_year(day),
			   g_date_get_month(day),
			   g_date_get_day(day));
		us = -1;
		g_assert_true(exm_time_parse_sql(sql, &us));
		g_assert_cmpint(us, ==, want);
		g_assert_true(exm_time_parse(api, &us));
		g_assert_cmpint(us, ==, want + 42);
		if (g_date_get_year(day) == 9999 && g_date_get_month(day) == 12 &&
		    g_date_get_day(day) == 31)
			break;
		g_date_add_days(day, calendar_step(day));
	}
}

/* PostgreSQL's ISO text of a `timestamp`: the fraction's trailing zeros,
 * and a zero fraction, left out; nothing else accepted. */
static void
test_parse_sql(void)
{
	const struct {
		const gchar *text;
		gint64 usec;
	} good[] = {
		{ "2025-11-25 12:33:14.510407", 1764073994510407 },
		{ "2025-11-25 12:33:14.5", 1764073994500000 },
		{ "2025-11-25 12:33:14", 1764073994000000 },
		{ "1970-01-01 00:00:00", 0 },
		{ "1969-12-31 23:59:59.999999", -1 },
		{ "0001-01-01 00:00:00", G_GINT64_CONSTANT(-62135596800000000) },
		{ "9999-12-31 23:59:59.999999", G_GINT64_CONSTANT(253402300799999999) },
	};
	const gchar *bad[] = { "2025-11-25T12:33:14.5Z",
			       "2025-11-25 12:33:14.",
			       "2025-11-25 12:33:14.1234567",
			       "2025-11-25 12:33:14+00",
			       "2025-11-25 12:33:14 BC",
			       "10000-01-01 00:00:00",
			       "infinity",
			       "-infinity",
			       "Tue Nov 25 12:33:14 2025",
			       "11/25/2025 12:33:14",
			       "",
			       NULL };
	gint64 us = 0;

	for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
		g_assert_true(exm_time_parse_sql(good[i].text, &us));
		g_assert_cmpint(us, ==, good[i].usec);
	}
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		g_assert_false(exm_time_parse_sql(bad[i], &us));
}

static void
test_format_edges(void)
{
	const struct {
		gint64 usec;
		const gchar *text;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00.000000Z" },
		{ 1, "1970-01-01T00:00:00.000001Z" },
		{ -1, "1969-12-31T23:59:59.999999Z" },
		{ 999999, "1970-01-01T00:00:00.999999Z" },
		{ G_GINT64_CONSTANT(253402300799999999), "9999-12-31T23:59:59.999999Z" },
		/* beyond four digits of year: as printf wrote them */
		{ G_GINT64_CONSTANT(253402300800000000), "10000-01-01T00:00:00.000000Z" },
		{ G_GINT64_CONSTANT(-62135596800000001), "0000-12-31T23:59:59.999999Z" },
		{ G_GINT64_CONSTANT(-62167219200000001), "-001-12-31T23:59:59.999999Z" },
		{ G_GINT64_CONSTANT(951782400000000), "2000-02-29T00:00:00.000000Z" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *t = exm_time_format(cases[i].usec);

		g_assert_cmpstr(t, ==, cases[i].text);
	}
	{
		g_autofree gchar *t = exm_time_format(usec_of("2026-11-25T12:33:14.510407Z"));

		g_assert_cmpstr(t, ==, "2026-11-25T12:33:14.510407Z");
	}
}

static void
test_usec_text(void)
{
	const gint64 cases[] = { 0, 1, -1, 1764073994510407, G_MAXINT64, G_MININT64 };

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *want = g_strdup_printf("%" G_GINT64_FORMAT, cases[i]);
		g_autofree gchar *got = exm_time_usec_text(cases[i]);

		g_assert_cmpstr(got, ==, want);
	}
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/time/round-trip", test_timestamps);
	g_test_add_func("/time/format-edges", test_format_edges);
	g_test_add_func("/time/parse-sql", test_parse_sql);
	g_test_add_func("/time/parse-calendar", test_parse_calendar);
	g_test_add_func("/time/usec-text", test_usec_text);
	return g_test_run();
}
