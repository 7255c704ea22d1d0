/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The circuit breaker's counting (agent/dp/exm-dp-breaker.c,
 * docs/abuse-controls.md §7): exim main log lines through the log reader;
 * first-time recipients and the bounce share per UTC day, the trips, a reset,
 * the bounds, the report's exact text, and the saved state (round trip,
 * nothing written when nothing changed, hostile files refused).
 */
#include <glib/gstdio.h>
#include <string.h>

#include "exm-dp-breaker.h"
#include "exm-dp-logstats.h"
#include "exm-dp-queue.h"
#include "exm-dp-usage.h"
#include "exm-json.h"
#include "exm-test.h"

#define ALICE "alice@example.com"
#define BOB   "bob@example.com"
#define TOKEN "7b0e6a4c-1d2e-4f3a-8b5c-6d7e8f9a0b1c"

/* 2026-12-05 10:00:00 UTC, mid-day in any time zone within ±10 h */
#define T0 G_GINT64_CONSTANT(1796464800)

typedef struct {
	ExmDpLogStats *log;
	ExmDpBreaker *breaker;
	ExmDpUsage *usage;
	guint seq;
} Fx;

static void
fx_init(Fx *fx, gint64 new_max, gint64 percent, gint64 min)
{
	fx->log = exm_dp_logstats_new("/nonexistent/mainlog", TRUE);
	fx->breaker = exm_dp_breaker_new();
	fx->usage = exm_dp_usage_new();
	fx->seq = 0;
	exm_dp_breaker_set_limits(fx->breaker, new_max, percent, min);
	exm_dp_breaker_set_next(fx->breaker, exm_dp_usage_observe, fx->usage);
	exm_dp_logstats_set_observer(fx->log, exm_dp_breaker_observe, fx->breaker);
}

static void
fx_clear(Fx *fx)
{
	exm_dp_logstats_free(fx->log);
	exm_dp_breaker_free(fx->breaker);
	exm_dp_usage_free(fx->usage);
}

static void
feed(Fx *fx, gint64 t, const gchar *text)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(t);
	g_autofree gchar *s = g_date_time_format(dt, "%Y-%m-%d %H:%M:%S");
	g_autofree gchar *line = g_strdup_printf("%s %s", s, text);

	exm_dp_logstats_feed_line(fx->log, line, strlen(line));
}

/* A message of @account to @rcpts (space-separated); returns its id. */
static gchar *
submit(Fx *fx, gint64 t, const gchar *account, const gchar *rcpts)
{
	gchar *id = g_strdup_printf("1tJ%03u-0001Ab-Cd", fx->seq++ % 1000);
	g_autofree gchar *line =
		g_strdup_printf("%s <= %s H=(c.test) [127.0.0.1] P=esmtpsa A=plain_server:%s S=512 "
				"T=\"for evil@x.test\" for %s",
				id,
				account,
				account,
				rcpts);

	feed(fx, t, line);
	return id;
}

static void
finish(Fx *fx, gint64 t, const gchar *id, const gchar *symbol, const gchar *rcpt)
{
	g_autofree gchar *line =
		g_strdup_printf("%s %s %s R=r T=t H=mx [192.0.2.1]", id, symbol, rcpt);

	feed(fx, t, line);
}

static gchar *
report(Fx *fx)
{
	g_autoptr(JsonNode) node = exm_dp_breaker_to_json(fx->breaker, fx->log);

	return node != NULL ? json_to_string(node, FALSE) : NULL;
}

static void
send_n(Fx *fx, gint64 t, const gchar *account, guint from, guint n)
{
	for (guint i = from; i < from + n; i++) {
		g_autofree gchar *rcpt = g_strdup_printf("r%u@Remote.Test", i);
		g_autofree gchar *id = submit(fx, t, account, rcpt);
	}
}

static void
test_new_recipients(void)
{
	Fx fx;
	g_autofree gchar *id = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr(GPtrArray) trips = NULL;

	fx_init(&fx, 3, 0, 0);
	g_assert_null(report(&fx)); /* nothing to say: no member */
	send_n(&fx, T0, ALICE, 0, 3);
	/* the same recipients again (any case), and the subject's text: not new */
	id = submit(&fx, T0 + 1, ALICE, "R0@remote.test r1@remote.test");
	g_assert_false(exm_dp_breaker_is_held(fx.breaker, ALICE));
	send_n(&fx, T0 + 2, BOB, 0, 3); /* another account's recipients are its own */
	/* the same login in another case is the same account */
	send_n(&fx, T0 + 2, "Alice@Example.COM", 0, 3);
	g_assert_false(exm_dp_breaker_is_held(fx.breaker, BOB));
	g_clear_pointer(&id, g_free);
	id = submit(&fx, T0 + 3, ALICE, "r3@remote.test");
	g_assert_true(exm_dp_breaker_is_held(fx.breaker, ALICE));
	trips = exm_dp_breaker_take_trips(fx.breaker);
	g_assert_cmpuint(trips->len, ==, 1);
	g_assert_cmpstr(trips->pdata[0], ==, ALICE);
	g_assert_cmpuint(exm_dp_breaker_get_trips_total(fx.breaker), ==, 1);
	g_assert_cmpuint(exm_dp_breaker_get_held_count(fx.breaker), ==, 1);
	text = report(&fx);
	/* held_messages: the account's messages not yet completed, in any case */
	g_assert_cmpstr(text,
			==,
			"{\"accounts\":{\"" ALICE "\":{\"sending\":\"held\",\"reason\":"
			"\"new_recipients\",\"since\":\"2026-12-05T10:00:03.000000Z\","
			"\"new_recipients\":4,\"recipients\":0,\"bounces\":0,"
			"\"held_messages\":8}},\"done\":{}}");
	fx_clear(&fx);
}

static void
test_day_roll(void)
{
	Fx fx;

	fx_init(&fx, 3, 0, 0);
	send_n(&fx, T0, ALICE, 0, 3);
	send_n(&fx, T0 + 86400, ALICE, 3, 3); /* a new UTC day: counted from 0 */
	g_assert_false(exm_dp_breaker_is_held(fx.breaker, ALICE));
	/* a line of the day before (a clock set back) counts nothing */
	send_n(&fx, T0, ALICE, 6, 3);
	g_assert_false(exm_dp_breaker_is_held(fx.breaker, ALICE));
	send_n(&fx, T0 + 86400, ALICE, 9, 1);
	g_assert_true(exm_dp_breaker_is_held(fx.breaker, ALICE));
	fx_clear(&fx);
}

static void
test_bounces(void)
{
	Fx fx;
	const gchar *symbols[] = { "=>", "->", "**", "==", "**" };
	g_autofree gchar *text = NULL;

	fx_init(&fx, 1000, 50, 4);
	for (guint i = 0; i < G_N_ELEMENTS(symbols); i++) {
		g_autofree gchar *rcpt = g_strdup_printf("b%u@remote.test", i);
		g_autofree gchar *id = submit(&fx, T0 + i, ALICE, rcpt);

		/* 2 of 3 finished bounced is past 50 %, but under the minimum of 4 */
		g_assert_false(exm_dp_breaker_is_held(fx.breaker, ALICE));
		finish(&fx, T0 + i, id, symbols[i], rcpt);
	}
	/* 4 finished (a deferral is not), 2 bounced: 50 % >= 50 % */
	g_assert_true(exm_dp_breaker_is_held(fx.breaker, ALICE));
	text = report(&fx);
	g_assert_nonnull(strstr(text,
				"\"reason\":\"bounces\",\"since\":\"2026-12-05T10:00:04.000000Z\","
				"\"new_recipients\":5,\"recipients\":4,\"bounces\":2"));
	fx_clear(&fx);
}

static void
test_reset(void)
{
	Fx fx;
	g_autofree gchar *text = NULL;
	g_autoptr(GHashTable) keep = g_hash_table_new(g_str_hash, g_str_equal);

	fx_init(&fx, 3, 0, 0);
	send_n(&fx, T0, ALICE, 0, 4);
	g_assert_true(exm_dp_breaker_is_held(fx.breaker, ALICE));
	exm_dp_breaker_reset(fx.breaker, ALICE, TOKEN);
	g_assert_false(exm_dp_breaker_is_held(fx.breaker, ALICE));
	g_assert_cmpstr(exm_dp_breaker_get_done(fx.breaker, ALICE), ==, TOKEN);
	text = report(&fx);
	g_assert_cmpstr(text, ==, "{\"accounts\":{},\"done\":{\"" ALICE "\":\"" TOKEN "\"}}");
	/* the recipients it sent to stay known: the same four trip nothing */
	send_n(&fx, T0 + 1, ALICE, 0, 4);
	send_n(&fx, T0 + 1, ALICE, 100, 3);
	g_assert_false(exm_dp_breaker_is_held(fx.breaker, ALICE));
	/* the payload no longer carries the action: the token is forgotten */
	exm_dp_breaker_keep_done(fx.breaker, keep);
	g_assert_null(exm_dp_breaker_get_done(fx.breaker, ALICE));
	g_assert_null(report(&fx));
	fx_clear(&fx);
}

static void
test_bounds(void)
{
	Fx fx;

	fx_init(&fx, 1000, 0, 0);
	/* 11 000 recipients, 1000 a day (never more than 1000 new in a day) */
	for (guint i = 0; i <= EXM_DP_BREAKER_SEEN_PER_ACCOUNT / 1000; i++) {
		g_autoptr(GString) rcpts = g_string_new(NULL);
		g_autofree gchar *id = NULL;

		for (guint j = i * 1000; j < i * 1000 + 1000; j++)
			g_string_append_printf(
				rcpts, "%sm%u@remote.test", j == i * 1000 ? "" : " ", j);
		id = submit(&fx, T0 + (gint64)i * 86400, ALICE, rcpts->str);
	}
	g_assert_false(exm_dp_breaker_is_held(fx.breaker, ALICE));
	/* the account remembers its last 10 000: m1000.. are known, m0..m999
	 * (the oldest) were evicted and are new again */
	exm_dp_breaker_set_limits(fx.breaker, 1, 0, 0);
	{
		g_autofree gchar *a =
			submit(&fx,
			       T0 + 20 * 86400,
			       ALICE,
			       "m1000@remote.test m5000@remote.test m10999@remote.test");
		g_assert_false(exm_dp_breaker_is_held(fx.breaker, ALICE));
	}
	{
		g_autofree gchar *b =
			submit(&fx, T0 + 20 * 86400, ALICE, "m0@remote.test m999@remote.test");
		g_assert_true(exm_dp_breaker_is_held(fx.breaker, ALICE));
	}
	fx_clear(&fx);
}

/* The cost of saving a full state: its size and time, and it loads back. */
static void
save_figure(ExmDpBreaker *b)
{
	g_autofree gchar *dir = exm_test_mkdtemp("breaker");
	g_autofree gchar *path = g_build_filename(dir, "breaker.json", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmDpBreaker) loaded = NULL;
	gint64 start = g_get_monotonic_time();
	gint64 mid;
	GStatBuf st = { 0 };

	g_assert_true(exm_dp_breaker_save(b, path, NULL, &error));
	g_assert_no_error(error);
	mid = g_get_monotonic_time();
	loaded = exm_dp_breaker_load(path, &error);
	g_assert_no_error(error);
	g_assert_nonnull(loaded);
	if (loaded != NULL)
		g_assert_cmpuint(
			exm_dp_breaker_get_seen_total(loaded), ==, EXM_DP_BREAKER_SEEN_TOTAL);
	(void)g_stat(path, &st);
	g_test_message("figure: full breaker.json %.1f MB, saved in %.2f s, loaded in %.2f s",
		       (gdouble)st.st_size / 1e6,
		       (gdouble)(mid - start) / G_USEC_PER_SEC,
		       (gdouble)(g_get_monotonic_time() - mid) / G_USEC_PER_SEC);
	exm_test_rmtree(dir);
}

/* 100 accounts of 10 000 fill the total; the 101st account's first
 * recipient takes the oldest of the largest, so the total stays. */
static void
test_bound_total(void)
{
	Fx fx;
	g_autoptr(GString) rcpts = g_string_new(NULL);
	gint64 start = g_get_monotonic_time();

	fx_init(&fx, 1000000, 0, 0);
	for (guint a = 0; a < EXM_DP_BREAKER_SEEN_TOTAL / EXM_DP_BREAKER_SEEN_PER_ACCOUNT; a++) {
		g_autofree gchar *account = g_strdup_printf("a%u@example.com", a);

		for (guint i = 0; i < EXM_DP_BREAKER_SEEN_PER_ACCOUNT; i += 1000) {
			g_autofree gchar *id = NULL;

			g_string_truncate(rcpts, 0);
			for (guint j = i; j < i + 1000; j++)
				g_string_append_printf(
					rcpts, "%sr%u@remote.test", j == i ? "" : " ", j);
			id = submit(&fx, T0, account, rcpts->str);
		}
	}
	g_assert_cmpuint(exm_dp_breaker_get_seen_total(fx.breaker), ==, EXM_DP_BREAKER_SEEN_TOTAL);
	send_n(&fx, T0, "late@example.com", 0, 2);
	g_assert_cmpuint(exm_dp_breaker_get_seen_total(fx.breaker), ==, EXM_DP_BREAKER_SEEN_TOTAL);
	g_test_message("figure: 1 000 000 recipients counted in %.2f s",
		       (gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC);
	/* the full store's round trip is a speed figure, and under valgrind most
	 * of the test's time for a figure of valgrind's; /dp/breaker/store and
	 * store-hostile run the same code there on small stores */
	if (g_getenv("EXM_UNDER_VALGRIND") == NULL)
		save_figure(fx.breaker);
	fx_clear(&fx);
}

static gchar *
tmp_state(gchar **dir)
{
	*dir = exm_test_mkdtemp("breaker");
	return g_build_filename(*dir, "usage", "breaker.json", NULL);
}

static void
test_store(void)
{
	Fx fx;
	g_autofree gchar *dir = NULL;
	g_autofree gchar *path = tmp_state(&dir);
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autoptr(ExmDpBreaker) loaded = NULL;
	g_autoptr(GError) error = NULL;
	gboolean written = TRUE;
	GStatBuf st;

	fx_init(&fx, 3, 0, 0);
	/* nothing counted: nothing written */
	g_assert_true(exm_dp_breaker_save(fx.breaker, path, &written, &error));
	g_assert_false(written);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	send_n(&fx, T0, ALICE, 0, 4);
	exm_dp_breaker_reset(fx.breaker, BOB, TOKEN);
	g_assert_true(exm_dp_breaker_save(fx.breaker, path, &written, &error));
	g_assert_true(written);
	g_assert_cmpint(g_stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	g_assert_true(exm_dp_breaker_save(fx.breaker, path, &written, &error));
	g_assert_false(written); /* unchanged */
	before = report(&fx);
	loaded = exm_dp_breaker_load(path, &error);
	g_assert_no_error(error);
	g_assert_nonnull(loaded);
	/* the same report (held_messages aside: the reader is not saved here) */
	{
		g_autoptr(JsonNode) n = exm_dp_breaker_to_json(loaded, fx.log);

		after = json_to_string(n, FALSE);
	}
	g_assert_cmpstr(after, ==, before);
	g_assert_true(exm_dp_breaker_is_held(loaded, ALICE));
	g_assert_true(exm_dp_breaker_save(loaded, path, &written, &error));
	g_assert_false(written); /* just loaded: nothing to write */
	fx_clear(&fx);
	/* the seen set came back: the same recipients are not new after a reset */
	fx.log = exm_dp_logstats_new("/nonexistent/mainlog", TRUE);
	fx.usage = NULL;
	fx.breaker = g_steal_pointer(&loaded);
	fx.seq = 0;
	exm_dp_breaker_set_limits(fx.breaker, 3, 0, 0);
	exm_dp_logstats_set_observer(fx.log, exm_dp_breaker_observe, fx.breaker);
	exm_dp_breaker_reset(fx.breaker, ALICE, TOKEN);
	send_n(&fx, T0 + 1, ALICE, 0, 4);
	g_assert_false(exm_dp_breaker_is_held(fx.breaker, ALICE));
	fx_clear(&fx);
	exm_test_rmtree(dir);
}

static void
assert_refused(const gchar *path, const gchar *text)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmDpBreaker) b = NULL;

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	b = exm_dp_breaker_load(path, &error);
	g_assert_null(b);
	g_assert_nonnull(error);
	if (error != NULL)
		g_test_message("refused: %s", error->message);
}

#define ACC(body) "{\"version\":1,\"done\":{},\"accounts\":{\"" ALICE "\":" body "}}"

static void
test_store_hostile(void)
{
	g_autofree gchar *dir = NULL;
	g_autofree gchar *path = tmp_state(&dir);
	g_autofree gchar *parent = g_path_get_dirname(path);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmDpBreaker) none = NULL;
	const gchar *const hostile[] = {
		"",
		"not json",
		"[]",
		"{\"version\":2,\"accounts\":{},\"done\":{}}",
		"{\"version\":1,\"accounts\":{}}",
		ACC("{\"day\":1,\"counts\":[0,0,-1],\"seen\":[]}"),
		ACC("{\"day\":1,\"counts\":[0,0],\"seen\":[]}"),
		ACC("{\"day\":-1,\"counts\":[0,0,0],\"seen\":[]}"),
		ACC("{\"day\":1,\"counts\":[0,0,0],\"seen\":[\"xyz\"]}"),
		ACC("{\"day\":1,\"counts\":[0,0,0],\"seen\":[\"00000000000000zz\"]}"),
		ACC("{\"day\":1,\"counts\":[0,0,0],\"seen\":[\"0000000000000001\","
		    "\"0000000000000001\"]}"),
		ACC("{\"day\":1,\"counts\":[0,0,0],\"held\":[7,1,0,0,0],\"seen\":[]}"),
		ACC("{\"day\":1,\"counts\":[0,0,0],\"held\":[0,0,0,0,0],\"seen\":[]}"),
		ACC("{\"day\":1.5,\"counts\":[0,0,0],\"seen\":[]}"),
		"{\"version\":1,\"accounts\":{\"nobody\":{\"day\":1,\"counts\":[0,0,0],"
		"\"seen\":[]}},\"done\":{}}",
		"{\"version\":1,\"accounts\":{},\"done\":{\"" ALICE "\":\"not-a-uuid\"}}",
		"{\"version\":1,\"accounts\":{},\"done\":{\"" ALICE "\":7}}",
		NULL,
	};
	g_autofree gchar *huge = g_strnfill(EXM_DP_BREAKER_STORE_MAX + 1, ' ');

	g_assert_cmpint(g_mkdir_with_parents(parent, 0700), ==, 0);
	none = exm_dp_breaker_load(path, &error);
	g_assert_null(none);
	g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT); /* a first start */
	for (guint i = 0; hostile[i] != NULL; i++)
		assert_refused(path, hostile[i]);
	assert_refused(path, huge);
	exm_test_rmtree(dir);
}

/* The queue commands' argv: a stand-in exim records its arguments.  Ids
 * that are not exim's (an option, a path, dashes out of place) never reach
 * it; 250 good ids make three commands of at most 100. */
static void
test_queue_argv(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("breaker-queue");
	g_autofree gchar *exim = g_build_filename(dir, "exim", NULL);
	g_autofree gchar *log = g_build_filename(dir, "exim.log", NULL);
	g_autofree gchar *script = g_strdup_printf("#!/bin/sh\necho \"$*\" >> %s\n", log);
	g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	g_auto(GStrv) words = NULL;
	const gchar *const hostile[] = { "-Mrm1234-123456-12",
					 "1234567-12345-123",
					 "../../etc/passwd",
					 "1tJ000-0001Ab-C;",
					 "" };

	g_assert_true(g_file_set_contents(exim, script, -1, NULL));
	g_assert_cmpint(g_chmod(exim, 0700), ==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(hostile); i++)
		g_ptr_array_add(ids, g_strdup(hostile[i]));
	for (guint i = 0; i < 250; i++)
		g_ptr_array_add(ids, g_strdup_printf("1tJ%03u-0001Ab-Cd", i));
	g_ptr_array_add(ids, g_strdup("1tJ000-00000000001-AbCd")); /* exim 4.97's long form */
	g_assert_true(
		exm_dp_queue_run(exim, "/etc/exim4/exim4.conf", EXM_DP_QUEUE_REMOVE, ids, &error));
	g_assert_no_error(error);
	text = exm_test_read_file(log);
	lines = g_strsplit(text, "\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 4); /* three lines and the end */
	g_assert_true(
		g_str_has_prefix(lines[0], "-C /etc/exim4/exim4.conf -Mrm 1tJ000-0001Ab-Cd "));
	words = g_strsplit(lines[0], " ", -1);
	g_assert_cmpuint(g_strv_length(words), ==, 103);
	g_assert_true(g_str_has_suffix(lines[2], "1tJ249-0001Ab-Cd 1tJ000-00000000001-AbCd"));
	for (guint i = 0; i < G_N_ELEMENTS(hostile) - 1; i++)
		g_assert_null(strstr(text, hostile[i]));
	exm_test_rmtree(dir);
}

int
main(int argc, char **argv)
{
	g_setenv("TZ", "UTC", TRUE);
	exm_test_init(&argc, &argv);
	g_test_add_func("/dp/breaker/new-recipients", test_new_recipients);
	g_test_add_func("/dp/breaker/day-roll", test_day_roll);
	g_test_add_func("/dp/breaker/bounces", test_bounces);
	g_test_add_func("/dp/breaker/reset", test_reset);
	g_test_add_func("/dp/breaker/bounds", test_bounds);
	g_test_add_func("/dp/breaker/bound-total", test_bound_total);
	g_test_add_func("/dp/breaker/store", test_store);
	g_test_add_func("/dp/breaker/store-hostile", test_store_hostile);
	g_test_add_func("/dp/breaker/queue-argv", test_queue_argv);
	return g_test_run();
}
