/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The node's log counter (agent/dp/exm-dp-logstats.c) on exim main log lines
 * of the shapes exim 4.96 writes with the template's log_selector: outcomes
 * per account, AUTH failures, TLS versions, and the reader's increments,
 * rotation, truncation, split lines and caps.
 */
#include "exm-config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "exm-dp-logstats.h"
#include "exm-test.h"

#define ALICE "alice@example.com"
#define ID1   "1tJabc-0001Ab-Cd"
#define ID2   "1tJabd-0001Ab-Ce"

/* clang-format off */
static const gchar *const day[] = {
	"2026-12-04 10:00:00 " ID1 " <= " ALICE " H=(client.test) [127.0.0.1] I=[127.0.0.5]:587 "
	"P=esmtpsa X=TLS1.3:ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_256_GCM:256 CV=no "
	"A=plain_server:" ALICE " S=512 id=x@client.test T=\"hello A=plain:mallory\" for "
	"a@remote.test b@remote.test c@remote.test",
	"2026-12-04 10:00:01 " ID1 " => a@remote.test R=dnslookup T=remote_smtp H=mx.remote.test "
	"[192.0.2.1] X=TLS1.3:x:256 CV=no C=\"250 OK\"",
	"2026-12-04 10:00:01 " ID1 " -> b@remote.test R=dnslookup T=remote_smtp H=mx.remote.test",
	"2026-12-04 10:00:01 " ID1 " == c@remote.test R=dnslookup T=remote_smtp defer (-44) "
	"H=mx.remote.test [192.0.2.1]: SMTP error from remote mail server after RCPT TO:<c@remote.test>: 451 later",
	"2026-12-04 10:00:02 " ID2 " <= <> R=" ID1 " U=Debian-exim P=local S=1234",
	"2026-12-04 10:00:02 " ID2 " ** " ALICE ": Unrouteable address",
	"2026-12-04 10:00:02 " ID2 " Completed",
	"2026-12-04 10:00:03 plain_server authenticator failed for (client.test) [127.0.0.1] "
	"I=[127.0.0.5]:587: 535 Incorrect authentication data (set_id=" ALICE ")",
	"2026-12-04 10:00:04 SMTP connection from (client.test) [127.0.0.1] lost",
	"garbage",
	"",
};
/* clang-format on */

static gchar *
day_text(void)
{
	g_autoptr(GString) s = g_string_new(NULL);

	for (guint i = 0; i < G_N_ELEMENTS(day); i++)
		g_string_append_printf(s, "%s\n", day[i]);
	return g_string_free(g_steal_pointer(&s), FALSE);
}

static void
append(const gchar *path, const gchar *text)
{
	gint fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, text, strlen(text)), ==, (gssize)strlen(text));
	close(fd);
}

static void
assert_day(ExmDpLogStats *s, guint times)
{
	g_assert_cmpuint(exm_dp_logstats_get(s, ALICE, EXM_DP_LOG_RECEIVED), ==, 1 * times);
	g_assert_cmpuint(exm_dp_logstats_get(s, ALICE, EXM_DP_LOG_DEFERRED), ==, 1 * times);
	g_assert_cmpuint(exm_dp_logstats_get(s, ALICE, EXM_DP_LOG_BOUNCED), ==, 0);
	/* the bounce exim made itself belongs to nobody's credential */
	g_assert_cmpuint(exm_dp_logstats_get(s, "unknown", EXM_DP_LOG_RECEIVED), ==, 1 * times);
	g_assert_cmpuint(exm_dp_logstats_get(s, "unknown", EXM_DP_LOG_BOUNCED), ==, 1 * times);
	/* A= inside the subject is not the authenticated id */
	g_assert_cmpuint(exm_dp_logstats_get(s, "mallory", EXM_DP_LOG_RECEIVED), ==, 0);
	g_assert_cmpuint(exm_dp_logstats_get_auth_failures(s), ==, 1 * times);
}

static void
test_lines(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("exm-logstats");
	g_autofree gchar *path = g_build_filename(dir, "mainlog", NULL);
	g_autofree gchar *text = day_text();
	g_autoptr(ExmDpLogStats) s = exm_dp_logstats_new(path, TRUE);
	g_autoptr(GString) out = g_string_new(NULL);

	g_assert_cmpuint(exm_dp_logstats_poll(s), ==, 0); /* no log yet */
	append(path, text);
	g_assert_cmpuint(exm_dp_logstats_poll(s), ==, strlen(text));
	assert_day(s, 1);
	g_assert_cmpuint(exm_dp_logstats_get(s, ALICE, EXM_DP_LOG_DELIVERED), ==, 2);
	g_assert_cmpuint(exm_dp_logstats_poll(s), ==, 0); /* nothing new: nothing read */
	assert_day(s, 1);
	/* an unauthenticated message whose subject mimics A= is nobody's */
	{
		const gchar *spoof = "2026-12-04 10:00:09 1tJabe-0001Ab-Cf <= x@y H=[127.0.0.1] "
				     "P=esmtp S=9 T=\"x A=plain_server:mallory\" for z@y";

		exm_dp_logstats_feed_line(s, spoof, strlen(spoof));
		g_assert_cmpuint(exm_dp_logstats_get(s, "mallory", EXM_DP_LOG_RECEIVED), ==, 0);
		g_assert_cmpuint(exm_dp_logstats_get(s, "unknown", EXM_DP_LOG_RECEIVED), ==, 2);
	}
	exm_dp_logstats_render(s, out);
	g_assert_nonnull(strstr(out->str,
				"\nexordos_node_messages_total{account=\"" ALICE
				"\",outcome=\"delivered\"} 2\n"));
	g_assert_nonnull(
		strstr(out->str, "\nexordos_node_tls_submissions_total{version=\"TLS1.3\"} 1\n"));
	g_assert_nonnull(strstr(out->str, "\nexordos_node_auth_failures_total 1\n"));
	exm_test_rmtree(dir);
}

/* A line split over two writes counts once, when it is complete. */
static void
test_split(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("exm-logstats");
	g_autofree gchar *path = g_build_filename(dir, "mainlog", NULL);
	g_autoptr(ExmDpLogStats) s = exm_dp_logstats_new(path, TRUE);
	g_autofree gchar *head = g_strndup(day[0], 40);

	append(path, head);
	exm_dp_logstats_poll(s);
	g_assert_cmpuint(exm_dp_logstats_get(s, ALICE, EXM_DP_LOG_RECEIVED), ==, 0);
	append(path, day[0] + 40);
	append(path, "\n");
	exm_dp_logstats_poll(s);
	g_assert_cmpuint(exm_dp_logstats_get(s, ALICE, EXM_DP_LOG_RECEIVED), ==, 1);
	exm_test_rmtree(dir);
}

/* Rotation: the old file is finished, then the new one read from its start;
 * what the log held before the agent started is not counted. */
static void
test_rotation(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("exm-logstats");
	g_autofree gchar *path = g_build_filename(dir, "mainlog", NULL);
	g_autofree gchar *old = g_build_filename(dir, "mainlog.1", NULL);
	g_autofree gchar *text = day_text();
	g_autoptr(ExmDpLogStats) s = NULL;

	append(path, text);
	s = exm_dp_logstats_new(path, FALSE);
	exm_dp_logstats_poll(s);
	assert_day(s, 0);
	append(path, text);
	g_assert_cmpint(g_rename(path, old), ==, 0);
	/* written by exim to the old file before it reopened the log */
	append(old, "2026-12-04 10:00:05 " ID1 " => late@remote.test R=dnslookup\n");
	append(path, text);
	exm_dp_logstats_poll(s);
	assert_day(s, 2);
	/* two days' deliveries plus the late one; ID1 is not completed, so alice's */
	g_assert_cmpuint(exm_dp_logstats_get(s, ALICE, EXM_DP_LOG_DELIVERED), ==, 2 * 2 + 1);
	exm_test_rmtree(dir);
}

static void
test_truncation(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("exm-logstats");
	g_autofree gchar *path = g_build_filename(dir, "mainlog", NULL);
	g_autofree gchar *text = day_text();
	g_autoptr(ExmDpLogStats) s = exm_dp_logstats_new(path, TRUE);

	append(path, text);
	append(path, text);
	exm_dp_logstats_poll(s);
	assert_day(s, 2);
	g_assert_cmpint(truncate(path, 0), ==, 0);
	append(path, text);
	exm_dp_logstats_poll(s);
	assert_day(s, 3);
	exm_test_rmtree(dir);
}

static void
test_caps(void)
{
	g_autoptr(ExmDpLogStats) s = exm_dp_logstats_new("/nonexistent/mainlog", TRUE);
	g_autofree gchar *long_line = g_strnfill(200000, 'x');
	g_autofree gchar *dir = exm_test_mkdtemp("exm-logstats");
	g_autofree gchar *path = g_build_filename(dir, "mainlog", NULL);
	g_autoptr(ExmDpLogStats) t = exm_dp_logstats_new(path, TRUE);

	for (guint i = 0; i < EXM_DP_LOGSTATS_MAX_ACCOUNTS + 5; i++) {
		g_autofree gchar *line =
			g_strdup_printf("2026-12-04 10:00:00 1tJ%03x-0001Ab-Cd <= u%u@example.com "
					"P=esmtpsa A=plain_server:u%u@example.com S=1",
					i % 4096,
					i,
					i);
		exm_dp_logstats_feed_line(s, line, strlen(line));
	}
	g_assert_cmpuint(exm_dp_logstats_get(s, "other", EXM_DP_LOG_RECEIVED), ==, 5);
	g_assert_cmpuint(exm_dp_logstats_get(s, "u0@example.com", EXM_DP_LOG_RECEIVED), ==, 1);
	/* an over-long line is skipped whole, the next one counts */
	append(path, long_line);
	append(path, "\n");
	append(path, day[7]);
	append(path, "\n");
	exm_dp_logstats_poll(t);
	g_assert_cmpuint(exm_dp_logstats_get_auth_failures(t), ==, 1);
	exm_test_rmtree(dir);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/dp-logstats/lines", test_lines);
	g_test_add_func("/dp-logstats/split", test_split);
	g_test_add_func("/dp-logstats/rotation", test_rotation);
	g_test_add_func("/dp-logstats/truncation", test_truncation);
	g_test_add_func("/dp-logstats/caps", test_caps);
	return g_test_run();
}
