/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Usage for the API (agent/dp/exm-dp-usage.c, docs/usage.md): exim main log
 * lines, fed through the log reader, summed per account over the last 24
 * hours, the last authenticated submission and the recent delivery outcomes,
 * all bounded; and the reader's held and limit counters.
 */
#include <string.h>

#include "exm-dp-logstats.h"
#include "exm-dp-usage.h"
#include "exm-json.h"
#include "exm-test.h"
#include "exm-time.h"

#define ALICE "alice@example.com"
#define BOB   "bob@example.com"

typedef struct {
	ExmDpLogStats *log;
	ExmDpUsage *usage;
	guint seq;
} Fx;

static void
fx_init(Fx *fx)
{
	fx->log = exm_dp_logstats_new("/nonexistent/mainlog", TRUE);
	fx->usage = exm_dp_usage_new();
	fx->seq = 0;
	exm_dp_logstats_set_observer(fx->log, exm_dp_usage_observe, fx->usage);
	exm_dp_logstats_set_login_observer(fx->log, exm_dp_usage_observe_login, fx->usage);
}

static void
fx_clear(Fx *fx)
{
	exm_dp_logstats_free(fx->log);
	exm_dp_usage_free(fx->usage);
}

/* exim's local `YYYY-MM-DD HH:MM:SS` of @t */
static gchar *
stamp(gint64 t)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(t);

	return g_date_time_format(dt, "%Y-%m-%d %H:%M:%S");
}

static void
feed(Fx *fx, gint64 t, const gchar *id_symbol_rest)
{
	g_autofree gchar *s = stamp(t);
	g_autofree gchar *line = g_strdup_printf("%s %s", s, id_symbol_rest);

	exm_dp_logstats_feed_line(fx->log, line, strlen(line));
}

/* A message of @account to @rcpt, with its own id; returns the id. */
static gchar *
submit(Fx *fx, gint64 t, const gchar *account, const gchar *rcpt)
{
	gchar *id = g_strdup_printf("1tJ%03u-0001Ab-Cd", fx->seq++);
	g_autofree gchar *line = g_strdup_printf(
		"%s <= %s H=(c.test) [127.0.0.1] P=esmtpsa X=TLS1.3:x:256 A=plain_server:%s "
		"S=512 T=\"A=plain_server:" BOB "\" for %s",
		id,
		account,
		account,
		rcpt);

	feed(fx, t, line);
	return id;
}

static void
outcome(Fx *fx, gint64 t, const gchar *id, const gchar *symbol, const gchar *rest)
{
	g_autofree gchar *line = g_strdup_printf("%s %s %s", id, symbol, rest);

	feed(fx, t, line);
}

static JsonObject *
account_of(JsonNode *root, const gchar *address)
{
	JsonObject *accounts =
		json_object_get_object_member(json_node_get_object(root), "accounts");

	return json_object_has_member(accounts, address)
		       ? json_object_get_object_member(accounts, address)
		       : NULL;
}

static void
test_counts_and_deliveries(void)
{
	Fx fx;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autofree gchar *id1 = NULL;
	g_autofree gchar *id2 = NULL;
	g_autofree gchar *id3 = NULL;
	g_autoptr(JsonNode) root = NULL;
	JsonObject *alice;
	JsonArray *deliveries;
	JsonObject *d;

	fx_init(&fx);
	id1 = submit(&fx, now - 60, ALICE, "x@Remote.Test");
	outcome(&fx,
		now - 59,
		id1,
		"=>",
		"x@Remote.Test R=r T=t H=mx [192.0.2.1] C=\"250 2.0.0 Ok: queued\"");
	id2 = submit(&fx, now - 50, ALICE, "y@remote.test");
	outcome(&fx,
		now - 49,
		id2,
		"==",
		"y@remote.test R=r T=t defer (-44) H=mx [192.0.2.1]: SMTP error from remote mail "
		"server after RCPT TO:<y@remote.test>: 451 4.3.0 try later\x01");
	id3 = submit(&fx, now - 40, ALICE, "z@other.test");
	outcome(&fx,
		now - 39,
		id3,
		"**",
		"z@other.test R=r T=t H=mx [192.0.2.1]: SMTP error from remote mail server after "
		"RCPT TO:<z@other.test>: 550 5.1.1 no such user");
	outcome(&fx, now - 30, id3, "Frozen", "(delivery error message)");
	/* a bounce exim made (no authenticated id) is nobody's usage */
	feed(&fx, now - 20, "1tJ999-0001Ab-Cd <= <> R=x U=Debian-exim P=local S=1");
	root = exm_dp_usage_to_json(fx.usage, now);
	alice = account_of(root, ALICE);
	g_assert_nonnull(alice);
	g_assert_null(account_of(root, BOB)); /* the subject cannot pose as a login */
	g_assert_null(account_of(root, "unknown"));
	g_assert_cmpint(json_object_get_int_member(alice, "accepted"), ==, 3);
	g_assert_cmpint(json_object_get_int_member(alice, "delivered"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(alice, "deferred"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(alice, "bounced"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(alice, "held"), ==, 1);
	g_assert_nonnull(json_object_get_string_member(alice, "last_login"));
	deliveries = json_object_get_array_member(json_node_get_object(root), "deliveries");
	g_assert_cmpuint(json_array_get_length(deliveries), ==, 3);
	d = json_array_get_object_element(deliveries, 0);
	g_assert_cmpstr(json_object_get_string_member(d, "domain"), ==, "remote.test");
	g_assert_cmpstr(json_object_get_string_member(d, "status"), ==, "delivered");
	g_assert_cmpstr(json_object_get_string_member(d, "reply"), ==, "250 2.0.0 Ok: queued");
	g_assert_cmpstr(json_object_get_string_member(d, "account"), ==, ALICE);
	d = json_array_get_object_element(deliveries, 1);
	g_assert_cmpstr(json_object_get_string_member(d, "status"), ==, "deferred");
	g_assert_cmpstr(json_object_get_string_member(d, "reply"), ==, "451 4.3.0 try later?");
	d = json_array_get_object_element(deliveries, 2);
	g_assert_cmpstr(json_object_get_string_member(d, "domain"), ==, "other.test");
	g_assert_cmpstr(json_object_get_string_member(d, "reply"), ==, "550 5.1.1 no such user");
	fx_clear(&fx);
}

/* Older than the window: out of the sums and the deliveries; the summary of
 * a quiet log is the same text each time. */
static void
test_window_and_quiet(void)
{
	Fx fx;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autofree gchar *old = NULL;
	g_autofree gchar *recent = NULL;
	g_autoptr(JsonNode) a = NULL;
	g_autoptr(JsonNode) b = NULL;
	g_autofree gchar *ta = NULL;
	g_autofree gchar *tb = NULL;

	fx_init(&fx);
	old = submit(&fx, now - 25 * 3600, BOB, "x@remote.test");
	outcome(&fx, now - 25 * 3600, old, "=>", "x@remote.test R=r T=t C=\"250 ok\"");
	recent = submit(&fx, now - 10, ALICE, "x@remote.test");
	a = exm_dp_usage_to_json(fx.usage, now);
	b = exm_dp_usage_to_json(fx.usage, now + 1);
	ta = exm_json_to_string(a);
	tb = exm_json_to_string(b);
	g_assert_cmpstr(ta, ==, tb);
	g_assert_cmpint(json_object_get_int_member(account_of(a, ALICE), "accepted"), ==, 1);
	/* bob's counts are out of the window; his last login stays */
	g_assert_cmpint(json_object_get_int_member(account_of(a, BOB), "accepted"), ==, 0);
	g_assert_cmpint(json_object_get_int_member(account_of(a, BOB), "delivered"), ==, 0);
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(json_node_get_object(a),
									    "deliveries")),
			 ==,
			 0);
	fx_clear(&fx);
}

/* Lines that only look like a login count nothing. */
/* check-source: table */
static const gchar *const not_logins[] = {
	"AUTH with the current secret 0123456789ABCDEF: login " BOB,  /* upper case */
	"AUTH with the current secret 0123456789abcde: login " BOB,   /* 15 digits */
	"AUTH with the current secret 0123456789abcdef0: login " BOB, /* 17 */
	"AUTH with the other secret 0123456789abcdef: login " BOB,
	"AUTH with the current secret 0123456789abcdef: login bob",	  /* no @ */
	"AUTH with the current secret 0123456789abcdef: login " BOB " x", /* two words */
	"AUTH with the current secret 0123456789abcdef: login ",
	"H=(x) [192.0.2.1] AUTH with the current secret 0123456789abcdef: login " BOB,
	"1tJ000-0001Ab-Cd AUTH with the current secret 0123456789abcdef: login " BOB,
	NULL,
};
/* check-source: end */

/* Each successful login names its secret: the account's last login moves
 * without any mail, each secret keeps its own last time, at most
 * EXM_DP_USAGE_SECRETS of them (the oldest goes), and a line of another
 * shape counts nothing. */
static void
test_logins(void)
{
	Fx fx;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autoptr(JsonNode) root = NULL;
	JsonObject *alice, *secrets;

	fx_init(&fx);
	feed(&fx, now - 100, "AUTH with the current secret 1111111111111111: login " ALICE);
	feed(&fx, now - 90, "AUTH with the previous secret 2222222222222222: login " ALICE);
	feed(&fx, now - 80, "AUTH with the current secret 1111111111111111: login " ALICE);
	for (guint i = 0; not_logins[i] != NULL; i++)
		feed(&fx, now - 70, not_logins[i]);
	root = exm_dp_usage_to_json(fx.usage, now);
	g_assert_null(account_of(root, BOB));
	alice = account_of(root, ALICE);
	g_assert_cmpint(json_object_get_int_member(alice, "accepted"), ==, 0);
	secrets = json_object_get_object_member(alice, "secrets");
	g_assert_cmpuint(json_object_get_size(secrets), ==, 2);
	{
		g_autofree gchar *t80 = exm_time_format((now - 80) * G_USEC_PER_SEC);
		g_autofree gchar *t90 = exm_time_format((now - 90) * G_USEC_PER_SEC);

		g_assert_cmpstr(json_object_get_string_member(alice, "last_login"), ==, t80);
		g_assert_cmpstr(
			json_object_get_string_member(secrets, "1111111111111111"), ==, t80);
		g_assert_cmpstr(
			json_object_get_string_member(secrets, "2222222222222222"), ==, t90);
	}
	g_assert_cmpuint(exm_dp_logstats_get_logins(fx.log, FALSE), ==, 2);
	g_assert_cmpuint(exm_dp_logstats_get_logins(fx.log, TRUE), ==, 1);
	g_assert_cmpuint(exm_dp_logstats_get_auth_failures(fx.log), ==, 0);
	/* three more secrets: the oldest (2222…) goes */
	feed(&fx, now - 60, "AUTH with the current secret 3333333333333333: login " ALICE);
	feed(&fx, now - 50, "AUTH with the current secret 4444444444444444: login " ALICE);
	feed(&fx, now - 40, "AUTH with the current secret 5555555555555555: login " ALICE);
	json_node_unref(root);
	root = exm_dp_usage_to_json(fx.usage, now);
	secrets = json_object_get_object_member(account_of(root, ALICE), "secrets");
	g_assert_cmpuint(json_object_get_size(secrets), ==, EXM_DP_USAGE_SECRETS);
	g_assert_false(json_object_has_member(secrets, "2222222222222222"));
	g_assert_true(json_object_has_member(secrets, "1111111111111111"));
	fx_clear(&fx);
}

/* At most EXM_DP_USAGE_MAX_DELIVERIES outcomes, the newest; replies cut. */
static void
test_bounds(void)
{
	Fx fx;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autofree gchar *long_reply = g_strnfill(1000, 'x');
	g_autoptr(JsonNode) root = NULL;
	JsonArray *deliveries;
	JsonObject *last;

	fx_init(&fx);
	for (guint i = 0; i < EXM_DP_USAGE_MAX_DELIVERIES + 20; i++) {
		g_autofree gchar *id = submit(&fx, now - 100, ALICE, "x@remote.test");
		g_autofree gchar *rest =
			g_strdup_printf("x@remote.test R=r T=t C=\"250 %u %s\"", i, long_reply);

		outcome(&fx, now - 100, id, "=>", rest);
	}
	root = exm_dp_usage_to_json(fx.usage, now);
	deliveries = json_object_get_array_member(json_node_get_object(root), "deliveries");
	g_assert_cmpuint(json_array_get_length(deliveries), ==, EXM_DP_USAGE_MAX_DELIVERIES);
	last = json_array_get_object_element(deliveries, EXM_DP_USAGE_MAX_DELIVERIES - 1);
	g_assert_cmpuint(
		strlen(json_object_get_string_member(last, "reply")), ==, EXM_DP_USAGE_REPLY_MAX);
	g_assert_true(g_str_has_prefix(json_object_get_string_member(last, "reply"), "250 119 "));
	fx_clear(&fx);
}

/* The refusals of the send limits and the login defence, by their reply. */
static void
test_limit_hits(void)
{
	Fx fx;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autofree gchar *id = NULL;

	fx_init(&fx);
	feed(&fx,
	     now,
	     "H=(c.test) [127.0.0.1] F=<a@example.com> A=plain_server:" ALICE
	     " temporarily rejected MAIL <a@example.com>: limit of 2 messages per hour reached "
	     "for " ALICE "; retry in about 1800 seconds");
	feed(&fx,
	     now,
	     "H=(c.test) [127.0.0.1] F=<a@example.com> temporarily rejected RCPT <x@y.test>: "
	     "limit of 2 recipients per day reached for " ALICE);
	feed(&fx,
	     now,
	     "H=(c.test) [127.0.0.1] temporarily rejected MAIL <a@example.com>: instance limit "
	     "of 1 messages per hour reached; retry");
	/* a subject on a message line is the sender's text, not a refusal */
	id = submit(&fx, now, ALICE, "x@remote.test");
	feed(&fx,
	     now,
	     "1tJ777-0001Ab-Cd <= a@example.com A=plain_server:" ALICE
	     " T=\"rejected: limit of 2 messages per hour reached for x\"");
	g_assert_cmpuint(exm_dp_logstats_get_limit_hits(fx.log, "messages_per_hour"), ==, 1);
	g_assert_cmpuint(exm_dp_logstats_get_limit_hits(fx.log, "recipients_per_day"), ==, 1);
	g_assert_cmpuint(exm_dp_logstats_get_limit_hits(fx.log, "instance_ceiling"), ==, 1);
	g_assert_cmpuint(exm_dp_logstats_get_limit_hits(fx.log, "auth_lockout"), ==, 0);
	fx_clear(&fx);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/dp/usage/counts-and-deliveries", test_counts_and_deliveries);
	g_test_add_func("/dp/usage/window-and-quiet", test_window_and_quiet);
	g_test_add_func("/dp/usage/bounds", test_bounds);
	g_test_add_func("/dp/usage/limit-hits", test_limit_hits);
	g_test_add_func("/dp/usage/logins", test_logins);
	return g_test_run();
}
