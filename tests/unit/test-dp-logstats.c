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

/* Issue 22 item 6: delivery lines exim 4.96 wrote in test-dp-dane (DANE, a
 * TLSA mismatch, no STARTTLS where a TLSA record requires it, opportunistic
 * TLS, and the mismatching host again without AD), then the
 * shapes the reader must not be fooled by. */
#define DANE_A "1xZpHZ-0007N7-03"
#define DANE_B "1xZpHZ-0007NN-1Z"
#define DANE_C "1xZpHZ-0007NV-2X"
#define DANE_D "1xZpbf-0000lW-1W"
#define X13    "X=TLS1.3:ECDHE_SECP256R1__ECDSA_SECP256R1_SHA256__AES_256_GCM:256"

/* clang-format off */
static const gchar *const dane_run[] = {
	"2026-12-05 12:54:29 " DANE_B " <= mia@example.com H=(client.test) [127.0.0.1] "
	"I=[127.148.230.154]:587 P=esmtpsa X=TLS1.3:ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_256_GCM:256 "
	"CV=no A=plain_server:mia@example.com S=433 id=1796475269467228165@client.test T=\"dp test\" "
	"for someone@b.dane.test",
	"2026-12-05 12:54:29 " DANE_A " => someone@a.dane.test F=<mia@example.com> R=dnslookup "
	"T=remote_smtp H=mx-a.dane.test DS [192.0.2.25] I=[192.0.2.25] " X13 " CV=dane "
	"DN=\"CN=mx-a.dane.test\" C=\"250 2.0.0 stored\"",
	"2026-12-05 12:54:29 " DANE_B " DANE attempt failed; TLS connection to mx-b.dane.test "
	"[192.0.2.26]: (certificate verification failed): Verification failed. The certificate differs. ",
	"2026-12-05 12:54:29 " DANE_B " == someone@b.dane.test R=dnslookup T=remote_smtp defer (-37) "
	"H=mx-b.dane.test DS [192.0.2.26] I=[192.0.2.26]: TLS session: (certificate verification "
	"failed): Verification failed. The certificate differs. ",
	"2026-12-05 13:15:15 " DANE_D " H=mx-d.dane.test [192.0.2.28]: a TLS session is required, "
	"but the server did not offer TLS support",
	"2026-12-05 13:15:15 " DANE_D " == someone@d.dane.test R=dnslookup T=remote_smtp defer (-38) "
	"H=mx-d.dane.test DS [192.0.2.28] I=[192.0.2.28]: a TLS session is required, but the server "
	"did not offer TLS support",
	/* the same text from a remote's reply is no refusal of the node's */
	"2026-12-05 13:15:16 " DANE_D " H=mx-d.dane.test [192.0.2.28] SMTP error from remote mail "
	"server after MAIL FROM:<x@y>: 550 ]: a TLS session is required, but the server did not offer "
	"TLS support",
	"2026-12-05 12:54:29 " DANE_C " => someone@c.dane.test F=<mia@example.com> R=dnslookup "
	"T=remote_smtp H=mx-c.dane.test DS [192.0.2.27] I=[192.0.2.27] " X13 " CV=no "
	"DN=\"CN=mx-c.dane.test\" C=\"250 2.0.0 stored\"",
	"2026-12-05 12:54:30 " DANE_B " => someone@b.dane.test F=<mia@example.com> R=dnslookup "
	"T=remote_smtp H=mx-b.dane.test [192.0.2.26] I=[192.0.2.26] " X13 " CV=no "
	"DN=\"CN=mx-b.dane.test\" C=\"250 2.0.0 stored\"",
};

static const struct {
	const gchar *rest;
	gboolean remote;
	const gchar *version;
	gboolean dane;
	gboolean dnssec;
} dane_shapes[] = {
	/* check-source: table */
	{ " x@r.test R=dnslookup T=remote_smtp H=mx.r.test [192.0.2.1] C=\"250 OK\"",
	  TRUE, "none", FALSE, FALSE },
	{ " x@r.test R=dnslookup T=remote_smtp H=mx.r.test DS [192.0.2.1] "
	  "X=TLS1.2:ECDHE_RSA_AES_128_GCM_SHA256:128 CV=yes C=\"250 OK\"",
	  TRUE, "TLS1.2", FALSE, TRUE },
	{ " x@r.test R=dnslookup T=remote_smtp H=mx.r.test [192.0.2.1] X=QUIC9:x:1 CV=no",
	  TRUE, "other", FALSE, FALSE },
	/* the sender's quoted local parts and the peer's DN and reply pose as fields */
	{ " \"a X=TLS1.0 CV=dane\"@r.test F=<\"b H=x DS X=SSL3 CV=dane\"@example.com> "
	  "R=dnslookup T=remote_smtp H=mx.r.test [192.0.2.1] C=\"250 X=TLS1.0 CV=dane\"",
	  TRUE, "none", FALSE, FALSE },
	{ " x@r.test R=dnslookup T=remote_smtp H=mx.r.test [192.0.2.1] X=TLS1.3:x:256 CV=no "
	  "DN=\"CN=evil CV=dane X=SSL3\" C=\"250 OK\"",
	  TRUE, "TLS1.3", FALSE, FALSE },
	/* no remote host: a local delivery; the sandbox's hand-over to the node itself */
	{ " x@r.test R=capture T=capture_file", FALSE, "none", FALSE, FALSE },
	{ " x@r.test R=sandbox T=sandbox_smtp H=127.0.0.5 [127.0.0.5] C=\"250 OK\"",
	  FALSE, "none", FALSE, FALSE },
	/* check-source: end */
};
/* clang-format on */

static void
observe_tls(const ExmDpLogEvent *event, gpointer data)
{
	GPtrArray *seen = data;

	if (event->tls != NULL)
		g_ptr_array_add(seen,
				g_strdup_printf("%s %s dane=%d ds=%d",
						event->id,
						event->tls->version,
						event->tls->dane,
						event->tls->dnssec));
}

static void
test_delivery_tls(void)
{
	g_autoptr(ExmDpLogStats) s = exm_dp_logstats_new("/nonexistent/mainlog", TRUE);
	g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GString) text = g_string_new(NULL);

	for (guint i = 0; i < G_N_ELEMENTS(dane_shapes); i++) {
		ExmDpDeliveryTls tls;

		g_test_message("%s", dane_shapes[i].rest);
		g_assert_cmpint(exm_dp_logstats_delivery_tls(dane_shapes[i].rest, &tls),
				==,
				dane_shapes[i].remote);
		g_assert_cmpstr(tls.version, ==, dane_shapes[i].version);
		g_assert_cmpint(tls.dane, ==, dane_shapes[i].dane);
		g_assert_cmpint(tls.dnssec, ==, dane_shapes[i].dnssec);
	}
	exm_dp_logstats_set_observer(s, observe_tls, seen);
	for (guint i = 0; i < G_N_ELEMENTS(dane_run); i++)
		exm_dp_logstats_feed_line(s, dane_run[i], strlen(dane_run[i]));
	g_assert_cmpuint(seen->len, ==, 3);
	g_assert_cmpstr(seen->pdata[0], ==, DANE_A " TLS1.3 dane=1 ds=1");
	g_assert_cmpstr(seen->pdata[1], ==, DANE_C " TLS1.3 dane=0 ds=1");
	g_assert_cmpstr(seen->pdata[2], ==, DANE_B " TLS1.3 dane=0 ds=0");
	g_assert_cmpuint(exm_dp_logstats_get_deliveries_tls(s, "TLS1.3", TRUE), ==, 1);
	g_assert_cmpuint(exm_dp_logstats_get_deliveries_tls(s, "TLS1.3", FALSE), ==, 2);
	g_assert_cmpuint(exm_dp_logstats_get_deliveries_tls(s, "none", FALSE), ==, 0);
	g_assert_cmpuint(exm_dp_logstats_get_deliveries_tls(s, "bogus", FALSE), ==, 0);
	g_assert_cmpuint(exm_dp_logstats_get_dane_failures(s), ==, 2);
	exm_dp_logstats_render(s, text);
	g_assert_nonnull(
		strstr(text->str,
		       "\nexordos_node_deliveries_tls_total{version=\"TLS1.3\",dane=\"no\"} 2\n"
		       "exordos_node_deliveries_tls_total{version=\"TLS1.3\",dane=\"yes\"} 1\n"));
	g_assert_nonnull(strstr(text->str, "\nexordos_node_dane_failures_total 2\n"));
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
	g_test_add_func("/dp-logstats/delivery-tls", test_delivery_tls);
	return g_test_run();
}
