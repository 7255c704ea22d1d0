/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The usage kept across agent restarts (agent/dp/exm-dp-usage-store.c,
 * docs/usage.md §1.1): a real main log in a temporary directory, read, saved,
 * read again by new objects from the same file; the counts come back, new
 * lines count on top once, a half-written line and a rotation while the
 * agent was away are handled, an idle poll writes nothing, and a corrupt,
 * truncated or forged state is logged and ignored.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exm-dp-logstats.h"
#include "exm-dp-usage-store.h"
#include "exm-dp-usage.h"
#include "exm-json.h"
#include "exm-test.h"

#define ALICE "alice@example.com"

typedef struct {
	gchar *dir;
	gchar *log_path;
	gchar *state_path;
	guint seq;
	/* the agent of the moment */
	ExmDpUsageStore *store;
	ExmDpLogStats *log;
	ExmDpUsage *usage;
} Fx;

static gint64
now_s(void)
{
	return g_get_real_time() / G_USEC_PER_SEC;
}

/* A new agent: reads the state file, else starts at the log's end. */
static void
agent_start(Fx *fx)
{
	fx->store = exm_dp_usage_store_new(fx->state_path);
	fx->log = exm_dp_logstats_new(fx->log_path, FALSE);
	fx->usage = exm_dp_usage_store_load(fx->store, fx->log, now_s());
	if (fx->usage == NULL)
		fx->usage = exm_dp_usage_new();
	exm_dp_logstats_set_observer(fx->log, exm_dp_usage_observe, fx->usage);
	exm_dp_logstats_set_login_observer(fx->log, exm_dp_usage_observe_login, fx->usage);
}

static void
agent_stop(Fx *fx)
{
	g_clear_pointer(&fx->store, exm_dp_usage_store_free);
	g_clear_pointer(&fx->log, exm_dp_logstats_free);
	g_clear_pointer(&fx->usage, exm_dp_usage_free);
}

/* One agent iteration: poll, save; returns whether the file was written. */
static gboolean
agent_poll(Fx *fx)
{
	g_autoptr(GError) error = NULL;
	gboolean written = FALSE;

	exm_dp_logstats_poll(fx->log);
	g_assert_true(exm_dp_usage_store_save(fx->store, fx->log, fx->usage, &written, &error));
	g_assert_no_error(error);
	return written;
}

static void
fx_setup(Fx *fx, gconstpointer data)
{
	memset(fx, 0, sizeof *fx);
	fx->dir = exm_test_mkdtemp("usage-store");
	fx->log_path = g_build_filename(fx->dir, "mainlog", NULL);
	fx->state_path = g_build_filename(fx->dir, "usage", "state.json", NULL);
}

static void
fx_teardown(Fx *fx, gconstpointer data)
{
	agent_stop(fx);
	exm_test_rmtree(fx->dir);
	g_free(fx->dir);
	g_free(fx->log_path);
	g_free(fx->state_path);
}

static void
append_to(const gchar *path, const gchar *text)
{
	FILE *f = fopen(path, "a");

	g_assert_nonnull(f);
	g_assert_cmpint(fputs(text, f), >=, 0);
	g_assert_cmpint(fclose(f), ==, 0);
}

/* A message of alice: a login with her secret, accepted and delivered. */
static void
mail(Fx *fx, const gchar *path)
{
	g_autoptr(GDateTime) dt = g_date_time_new_now_local();
	g_autofree gchar *t = g_date_time_format(dt, "%Y-%m-%d %H:%M:%S");
	g_autofree gchar *id = g_strdup_printf("1tJ%03u-0001Ab-Cd", fx->seq++);
	g_autofree gchar *text = g_strdup_printf(
		"%s AUTH with the current secret 00112233aabbccdd: login " ALICE "\n"
		"%s %s <= %s H=(c.test) [127.0.0.1] P=esmtpsa A=plain_server:%s S=512\n"
		"%s %s => x@remote.test R=r T=t H=mx [192.0.2.1] C=\"250 2.0.0 Ok\"\n",
		t,
		t,
		id,
		ALICE,
		ALICE,
		t,
		id);

	append_to(path, text);
}

static gint64
count(Fx *fx, const gchar *name)
{
	g_autoptr(JsonNode) root = exm_dp_usage_to_json(fx->usage, now_s());
	JsonObject *accounts =
		json_object_get_object_member(json_node_get_object(root), "accounts");

	if (!json_object_has_member(accounts, ALICE))
		return 0;
	return json_object_get_int_member(json_object_get_object_member(accounts, ALICE), name);
}

static guint
n_deliveries(Fx *fx)
{
	g_autoptr(JsonNode) root = exm_dp_usage_to_json(fx->usage, now_s());

	return json_array_get_length(
		json_object_get_array_member(json_node_get_object(root), "deliveries"));
}

static gchar *
usage_text(Fx *fx)
{
	g_autoptr(JsonNode) root = exm_dp_usage_to_json(fx->usage, now_s());

	return exm_json_to_string(root);
}

/* Counted, saved, restarted: the same report; new mail counts on top once. */
static void
test_restart(Fx *fx, gconstpointer data)
{
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	struct stat st;

	append_to(fx->log_path, "2026-01-01 00:00:00 an old line, before the first start\n");
	agent_start(fx);
	g_assert_true(agent_poll(fx)); /* the first position: the log's end */
	mail(fx, fx->log_path);
	mail(fx, fx->log_path);
	g_assert_true(agent_poll(fx));
	g_assert_cmpint(count(fx, "accepted"), ==, 2);
	/* idle: nothing read, nothing written, however often; nor for lines
	 * that count nothing (a restart reads them again, for nothing) */
	for (guint i = 0; i < 3; i++)
		g_assert_false(agent_poll(fx));
	append_to(fx->log_path,
		  "2026-01-01 00:00:01 SMTP connection from [192.0.2.9] lost\n"
		  "2026-01-01 00:00:02 1tJ999-0001Ab-Cd <= <> R=1tJ000-0001Ab-Cd U=Debian-exim "
		  "P=local S=900\n");
	g_assert_false(agent_poll(fx));
	g_assert_cmpuint(exm_dp_usage_store_get_writes(fx->store), ==, 2);
	g_assert_cmpint(stat(fx->state_path, &st), ==, 0);
	g_assert_cmpuint(st.st_mode & 07777, ==, EXM_DP_USAGE_STORE_MODE);
	before = usage_text(fx);
	agent_stop(fx);

	g_assert_nonnull(strstr(before, "\"secrets\":{\"00112233aabbccdd\":\""));
	agent_start(fx);
	after = usage_text(fx);
	g_assert_cmpstr(after, ==, before);
	g_assert_false(agent_poll(fx)); /* the restart read nothing again */
	g_assert_cmpint(count(fx, "accepted"), ==, 2);
	g_assert_cmpuint(n_deliveries(fx), ==, 2);
	mail(fx, fx->log_path);
	g_assert_true(agent_poll(fx));
	g_assert_cmpint(count(fx, "accepted"), ==, 3);
	g_assert_cmpint(count(fx, "delivered"), ==, 3);
	g_assert_cmpuint(n_deliveries(fx), ==, 3);
}

/* A crash after lines were read but before they were saved: the restarted
 * agent reads them again from the saved position, counted once. */
static void
test_crash_before_save(Fx *fx, gconstpointer data)
{
	append_to(fx->log_path, "");
	agent_start(fx);
	agent_poll(fx);
	mail(fx, fx->log_path);
	g_assert_true(agent_poll(fx));
	mail(fx, fx->log_path);
	exm_dp_logstats_poll(fx->log); /* read, never saved */
	g_assert_cmpint(count(fx, "accepted"), ==, 2);
	agent_stop(fx);

	agent_start(fx);
	g_assert_cmpint(count(fx, "accepted"), ==, 1);
	g_assert_true(agent_poll(fx));
	g_assert_cmpint(count(fx, "accepted"), ==, 2);
	g_assert_cmpint(count(fx, "delivered"), ==, 2);
}

/* A line half written when the agent saved: its start is not past the
 * position, so the restarted agent reads it whole, once. */
static void
test_partial_line(Fx *fx, gconstpointer data)
{
	g_autofree gchar *text = NULL;
	gsize len = 0;

	append_to(fx->log_path, "");
	agent_start(fx);
	agent_poll(fx);
	mail(fx, fx->log_path);
	g_assert_true(g_file_get_contents(fx->log_path, &text, &len, NULL));
	/* the delivery line without its last bytes and newline, in place */
	g_assert_cmpint(truncate(fx->log_path, (off_t)(len - 5)), ==, 0);
	g_assert_true(agent_poll(fx));
	g_assert_cmpint(count(fx, "accepted"), ==, 1);
	g_assert_cmpint(count(fx, "delivered"), ==, 0);
	agent_stop(fx);

	append_to(fx->log_path, text + len - 5);
	agent_start(fx);
	g_assert_true(agent_poll(fx));
	g_assert_cmpint(count(fx, "accepted"), ==, 1);
	g_assert_cmpint(count(fx, "delivered"), ==, 1);
}

/* logrotate moved the log to mainlog.1 while the agent was away: the rest
 * of the old file, then the new one from its start. */
static void
test_rotated_while_away(Fx *fx, gconstpointer data)
{
	g_autofree gchar *rotated = g_strconcat(fx->log_path, ".1", NULL);
	g_autofree gchar *rotated2 = g_strconcat(fx->log_path, ".2", NULL);

	append_to(fx->log_path, "");
	agent_start(fx);
	agent_poll(fx);
	mail(fx, fx->log_path);
	g_assert_true(agent_poll(fx));
	agent_stop(fx);
	mail(fx, fx->log_path);
	g_assert_cmpint(rename(fx->log_path, rotated), ==, 0);
	mail(fx, fx->log_path);

	agent_start(fx);
	g_assert_true(agent_poll(fx));
	g_assert_cmpint(count(fx, "accepted"), ==, 3);
	agent_stop(fx);

	/* rotated twice: the old file is out of reach; the new log from its start */
	g_assert_cmpint(rename(rotated, rotated2), ==, 0);
	g_assert_cmpint(rename(fx->log_path, rotated), ==, 0);
	mail(fx, fx->log_path);
	agent_start(fx);
	g_assert_true(agent_poll(fx));
	g_assert_cmpint(count(fx, "accepted"), ==, 4);
}

/* Corrupt, truncated or forged states (`%s`: the current hour). */
/* check-source: table */
static const gchar *const bad_states[] = {
	"",
	"{\"version\":1,\"inode\":1,\"off",
	"[]",
	"{\"version\":2,\"inode\":1,\"offset\":0,\"messages\":{},\"usage\":"
	"{\"accounts\":{},\"deliveries\":[]}}",
	"{\"version\":1,\"inode\":-1,\"offset\":0,\"messages\":{},\"usage\":"
	"{\"accounts\":{},\"deliveries\":[]}}",
	"{\"version\":1,\"inode\":1,\"offset\":\"0\",\"messages\":{},\"usage\":"
	"{\"accounts\":{},\"deliveries\":[]}}",
	"{\"version\":1,\"inode\":1,\"offset\":0,\"messages\":{},\"usage\":"
	"{\"accounts\":{\"" ALICE "\":{\"last_login\":0,\"hours\":[[%s,1,2,3,4,-5]]}},"
	"\"deliveries\":[]}}",
	"{\"version\":1,\"inode\":1,\"offset\":0,\"messages\":{},\"usage\":"
	"{\"accounts\":{\"" ALICE "\":{\"last_login\":0,\"hours\":[[%s,1,2,3,4]]}},"
	"\"deliveries\":[]}}",
	"{\"version\":1,\"inode\":1,\"offset\":0,\"messages\":{},\"usage\":"
	"{\"accounts\":{\"" ALICE "\":{\"last_login\":0,\"hours\":[[%s,1,2,3,4,5],"
	"[%s,1,1,1,1,1]]}},\"deliveries\":[]}}",
	"{\"version\":1,\"inode\":1,\"offset\":0,\"messages\":{},\"usage\":"
	"{\"accounts\":{\"nobody\":{\"last_login\":0,\"hours\":[]}},\"deliveries\":[]}}",
	"{\"version\":1,\"inode\":1,\"offset\":0,\"messages\":{},\"usage\":"
	"{\"accounts\":{},\"deliveries\":[{\"time\":1,\"account\":\"" ALICE "\","
	"\"domain\":\"x\",\"status\":\"delivered\",\"reply\":\"\"}]}}",
	"{\"version\":1,\"inode\":1,\"offset\":0,\"messages\":{},\"usage\":"
	"{\"accounts\":{\"" ALICE "\":{\"last_login\":0,\"hours\":[]}},\"deliveries\":"
	"[{\"time\":1,\"account\":\"" ALICE "\",\"domain\":\"x\",\"status\":\"accepted\","
	"\"reply\":\"\"}]}}",
	"{\"version\":1,\"inode\":1,\"offset\":0,\"messages\":{\"1tJ000-0001Ab-Cd\":"
	"\"mallory@example.com\"},\"usage\":{\"accounts\":{\"" ALICE "\":"
	"{\"last_login\":0,\"hours\":[]}},\"deliveries\":[]}}",
	"{\"version\":1,\"inode\":1,\"offset\":0,\"messages\":{\"x; rm -rf\":\"" ALICE "\"},"
	"\"usage\":{\"accounts\":{\"" ALICE "\":{\"last_login\":0,\"hours\":[]}},"
	"\"deliveries\":[]}}",
	/* secrets: a fingerprint not of 16 lower-case hex digits, a time of 0,
	 * more than EXM_DP_USAGE_SECRETS, not an object */
	"{\"version\":1,\"inode\":1,\"offset\":0,\"messages\":{},\"usage\":"
	"{\"accounts\":{\"" ALICE "\":{\"last_login\":0,\"secrets\":{\"0123456789ABCDEF\":5},"
	"\"hours\":[]}},\"deliveries\":[]}}",
	"{\"version\":1,\"inode\":1,\"offset\":0,\"messages\":{},\"usage\":"
	"{\"accounts\":{\"" ALICE "\":{\"last_login\":0,\"secrets\":{\"0123456789abcdef\":0},"
	"\"hours\":[]}},\"deliveries\":[]}}",
	"{\"version\":1,\"inode\":1,\"offset\":0,\"messages\":{},\"usage\":"
	"{\"accounts\":{\"" ALICE "\":{\"last_login\":0,\"secrets\":{\"0123456789abcde0\":1,"
	"\"0123456789abcde1\":1,\"0123456789abcde2\":1,\"0123456789abcde3\":1,"
	"\"0123456789abcde4\":1},\"hours\":[]}},\"deliveries\":[]}}",
	"{\"version\":1,\"inode\":1,\"offset\":0,\"messages\":{},\"usage\":"
	"{\"accounts\":{\"" ALICE "\":{\"last_login\":0,\"secrets\":[],"
	"\"hours\":[]}},\"deliveries\":[]}}",
	NULL,
};
/* check-source: end */

/* The saved file is untrusted: each of these is logged and ignored, and the
 * agent starts as on a first start (at the log's end, nothing counted). */
static void
test_corrupt(Fx *fx, gconstpointer data)
{
	g_autofree gchar *valid = NULL;
	g_autofree gchar *dir = g_path_get_dirname(fx->state_path);
	gchar hour[64];

	g_snprintf(hour, sizeof hour, "%" G_GINT64_FORMAT, now_s() / 3600);
	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	mail(fx, fx->log_path);
	for (guint i = 0; bad_states[i] != NULL; i++) {
		g_autoptr(GString) text = g_string_new(bad_states[i]);

		g_string_replace(text, "%s", hour, 0);
		g_assert_true(g_file_set_contents(fx->state_path, text->str, -1, NULL));
		g_test_expect_message("exm-dp", G_LOG_LEVEL_WARNING, "usage state * ignored: *");
		agent_start(fx);
		g_test_assert_expected_messages();
		agent_poll(fx);
		g_assert_cmpint(count(fx, "accepted"), ==, 0);
		agent_stop(fx);
	}

	/* too large: refused before it is read (a sparse file costs nothing) */
	g_assert_true(g_file_set_contents(fx->state_path, "{}", -1, NULL));
	g_assert_cmpint(truncate(fx->state_path, EXM_DP_USAGE_STORE_MAX + 1), ==, 0);
	g_test_expect_message("exm-dp", G_LOG_LEVEL_WARNING, "usage state * ignored: too large");
	agent_start(fx);
	g_test_assert_expected_messages();
	agent_stop(fx);

	/* a valid file of the same shape loads: the cases fail for what they say */
	valid = g_strdup_printf(
		"{\"version\":1,\"inode\":1,\"offset\":0,\"messages\":{\"1tJ000-0001Ab-Cd\":"
		"\"" ALICE "\"},\"usage\":{\"accounts\":{\"" ALICE "\":{\"last_login\":0,"
		"\"hours\":[[%s,7,0,0,0,0]]}},\"deliveries\":[{\"time\":%" G_GINT64_FORMAT
		",\"account\":\"" ALICE "\",\"domain\":\"x.test\",\"status\":\"deferred\","
		"\"reply\":\"451 \\u0001later\"}]}}",
		hour,
		now_s());
	g_assert_true(g_file_set_contents(fx->state_path, valid, -1, NULL));
	agent_start(fx);
	g_assert_cmpint(count(fx, "accepted"), ==, 7);
	g_assert_cmpuint(n_deliveries(fx), ==, 1);
	{
		g_autofree gchar *text = usage_text(fx);

		g_assert_nonnull(strstr(text, "451 ?later"));
	}
}

/* Hours that left the window while the agent was away are not loaded. */
static void
test_stale_hours(Fx *fx, gconstpointer data)
{
	g_autofree gchar *dir = g_path_get_dirname(fx->state_path);
	g_autofree gchar *text = g_strdup_printf(
		"{\"version\":1,\"inode\":1,\"offset\":0,\"messages\":{},\"usage\":{\"accounts\":"
		"{\"" ALICE "\":{\"last_login\":5,\"hours\":[[%" G_GINT64_FORMAT ",9,0,0,0,0],"
		"[%" G_GINT64_FORMAT ",2,0,0,0,0]]}},\"deliveries\":[]}}",
		now_s() / 3600 - 30,
		now_s() / 3600 - 1);

	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	g_assert_true(g_file_set_contents(fx->state_path, text, -1, NULL));
	agent_start(fx);
	g_assert_cmpint(count(fx, "accepted"), ==, 2);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
#define ADD(name, fn) g_test_add("/dp/usage-store/" name, Fx, NULL, fx_setup, fn, fx_teardown)
	ADD("restart", test_restart);
	ADD("crash-before-save", test_crash_before_save);
	ADD("partial-line", test_partial_line);
	ADD("rotated-while-away", test_rotated_while_away);
	ADD("corrupt", test_corrupt);
	ADD("stale-hours", test_stale_hours);
	return g_test_run();
}
