/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The real daemon: `exordos-metapaas-mail-agent run` as a child process with the
 * MailCapabilityDriver on a sandbox root, against the in-process fake CP
 * (loopback).  It registers, applies a `mail_instance_node` target to passwd,
 * reports the converged actual state, survives SIGHUP and exits 0 on SIGTERM.
 */
#include "exm-config.h"
#include "exm-json.h"
#include "exm-mail-model.h"
#include "exm-test.h"
#include "exm-uuid.h"
#include "test-ua-fakecp.h"

#include <gio/gio.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define NODE_UUID "5e3f8a9c-1b2d-4c5e-8f70-0a1b2c3d4e5f"
#define KIND	  "mail_instance_node"
#define KEY_B64	  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define HASH_1                                                                                     \
	"$6$abcdefgh$oGoxMtczJ0/xYkNKQnGuC3pOdNoGsZRZNs7n5JzX8KfMJWEmD2Bx4wBt/"                    \
	"tMCPvjE87aPyrlQPEKxEcxV6d4J6."

typedef struct {
	gchar *dir;
	gchar *conf;
	FakeCp *cp;
	GSubprocess *child;
	gboolean exited;
	gchar *agent_uuid;
} Run;

static gboolean
on_tick(gpointer data)
{
	*(gboolean *)data = TRUE;
	return G_SOURCE_REMOVE;
}

/* Iterates the main context (the fake CP lives there) for up to @secs or until
 * @done returns TRUE. */
static gboolean
wait_for(Run *r, gboolean (*done)(Run *r), guint secs)
{
	gint64 end = g_get_monotonic_time() + secs * G_USEC_PER_SEC;

	while (!done(r) && g_get_monotonic_time() < end) {
		gboolean tick = FALSE;
		g_timeout_add(20, on_tick, &tick);
		while (!tick)
			g_main_context_iteration(NULL, TRUE);
	}
	return done(r);
}

static void
on_child_exit(GObject *source, GAsyncResult *res, gpointer data)
{
	Run *r = data;

	g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
	r->exited = TRUE;
}

static gboolean
child_exited(Run *r)
{
	return r->exited;
}

static void
run_spawn(Run *r, const gchar *conf)
{
	g_autofree gchar *exe =
		g_build_filename(EXM_BUILD_ROOT, "agent", "exordos-metapaas-mail-agent", NULL);
	g_autoptr(GSubprocessLauncher) launcher =
		g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
	g_autoptr(GError) error = NULL;

	r->exited = FALSE;
	/* the daemon dies with the test, even when an assertion aborts it */
	g_subprocess_launcher_set_child_setup(
		launcher, exm_test_die_with_parent, GINT_TO_POINTER(SIGKILL), NULL);
	r->child = g_subprocess_launcher_spawn(
		launcher, &error, exe, "run", "--config-file", conf, NULL);
	g_assert_no_error(error);
	if (r->child != NULL)
		g_subprocess_wait_async(r->child, NULL, on_child_exit, r);
}

/* Always stops the child, even after a failed assertion. */
static void
run_clear(Run *r)
{
	if (r->child != NULL && !r->exited) {
		g_subprocess_force_exit(r->child);
		wait_for(r, child_exited, 10);
	}
	g_clear_object(&r->child);
	g_clear_pointer(&r->cp, fake_cp_free);
	for (guint i = 0; i < 5; i++)
		g_main_context_iteration(NULL, FALSE);
	if (r->dir != NULL)
		exm_test_rmtree(r->dir);
	g_free(r->dir);
	g_free(r->conf);
	g_free(r->agent_uuid);
}

/* @key_b64: (nullable): the node key the agent and the fake CP share. */
static void
run_init_keyed(Run *r, const gchar *key_b64)
{
	g_autofree gchar *text = NULL;
	g_autofree gchar *key_line = NULL;
	g_autoptr(GError) error = NULL;

	r->dir = exm_test_mkdtemp("ua-run");
	r->conf = g_build_filename(r->dir, "agent.conf", NULL);
	r->cp = fake_cp_new(key_b64);
	if (key_b64 != NULL) {
		g_autofree gchar *kp = g_build_filename(r->dir, "node.key", NULL);
		g_autofree gchar *kt = g_strconcat(key_b64, "\n", NULL);

		g_assert_true(g_file_set_contents_full(
			kp, kt, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error));
		g_assert_no_error(error);
		key_line = g_strdup_printf(
			"private_key_path = %s\norch_secure_communication = true\n", kp);
	}
	r->agent_uuid = exm_uuid_v5(NODE_UUID, "mailaas", &error);
	g_assert_no_error(error);
	text = g_strdup_printf("[universal_agent]\n"
			       "orch_endpoint = %s\n"
			       "status_endpoint = %s\n"
			       "uuid5_name = mailaas\n"
			       "node_uuid = %s\n"
			       "payload_path = %s/var/lib/exordos/exordos_metapaas/payload.json\n"
			       "caps_drivers = MailCapabilityDriver\n"
			       "poll_interval = 0.1\n"
			       "backoff_initial = 0.1\n"
			       "backoff_max = 0.5\n"
			       "%s"
			       "[dataplane]\n"
			       "root = %s\n",
			       fake_cp_orch_url(r->cp),
			       fake_cp_status_url(r->cp),
			       NODE_UUID,
			       r->dir,
			       key_line != NULL ? key_line : "",
			       r->dir);
	g_file_set_contents(r->conf, text, -1, &error);
	g_assert_no_error(error);
}

static void
run_init(Run *r)
{
	run_init_keyed(r, NULL);
}

static gboolean
converged(Run *r)
{
	JsonObject *row = fake_cp_get_actual(r->cp, KIND, r->agent_uuid);
	g_autofree gchar *hash = fake_cp_payload_hash(r->cp, r->agent_uuid);

	return row != NULL && hash != NULL && fake_cp_count(r->cp, "GET", "/v1/agents/") > 0 &&
	       g_strcmp0(json_object_get_string_member(row, "status"), "ACTIVE") == 0 &&
	       fake_cp_count(r->cp, "PUT", "/v1/kind/") +
			       fake_cp_count(r->cp, "POST", "/v1/kind/") >
		       0;
}

static guint polls_seen;

static gboolean
polled_again(Run *r)
{
	return fake_cp_count(r->cp, "GET", "/v1/agents/") > polls_seen + 1;
}

/* The driver parses values with libexm-mail; while that is still the compiling
 * placeholder of the skeleton, the daemon cannot converge: say so, do not fail. */
static gboolean
mail_model_ready(const gchar *value)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) node = exm_json_parse_strict(value, strlen(value), &error);
	g_autoptr(ExmMailNode) parsed = NULL;

	g_assert_no_error(error);
	parsed = exm_mail_node_from_json(node, &error);
	if (parsed == NULL && strstr(error->message, "not implemented") != NULL) {
		g_test_skip_printf("libexm-mail is a placeholder: %s", error->message);
		return FALSE;
	}
	g_assert_no_error(error);
	return parsed != NULL;
}

static gboolean
registered_and_polling(Run *r)
{
	return fake_cp_get_agent(r->cp, r->agent_uuid) != NULL &&
	       fake_cp_count(r->cp, "GET", "/v1/agents/") >= 2;
}

/* SIGTERM: a clean exit with status 0.  The agent stops when the apply in
 * progress returns to its loop (the write, its cdb twin, the read back): a
 * liveness bound, generous for a sanitizer build on a loaded machine. */
static void
term_and_check(Run *r)
{
	g_subprocess_send_signal(r->child, SIGTERM);
	g_assert_true(wait_for(r, child_exited, 30));
	g_assert_true(g_subprocess_get_if_exited(r->child));
	g_assert_cmpint(g_subprocess_get_exit_status(r->child), ==, 0);
}

/* Registration with the mail capability, polling, SIGHUP keeps it running. */
static void
test_run_lifecycle(void)
{
	Run r = { 0 };
	JsonObject *agent;
	JsonArray *caps;

	run_init(&r);
	run_spawn(&r, r.conf);
	if (!wait_for(&r, registered_and_polling, 30)) {
		g_test_fail_printf("the agent did not register and poll (exited: %d)", r.exited);
		run_clear(&r);
		return;
	}
	agent = fake_cp_get_agent(r.cp, r.agent_uuid);
	caps = json_object_get_array_member(json_object_get_object_member(agent, "capabilities"),
					    "capabilities");
	g_assert_cmpuint(json_array_get_length(caps), ==, 1);
	g_assert_cmpstr(json_array_get_string_element(caps, 0), ==, KIND);
	g_assert_cmpstr(json_object_get_string_member(agent, "node"), ==, NODE_UUID);

	polls_seen = fake_cp_count(r.cp, "GET", "/v1/agents/");
	kill(atoi(g_subprocess_get_identifier(r.child)), SIGHUP);
	g_assert_true(wait_for(&r, polled_again, 10));
	g_assert_false(r.exited);
	term_and_check(&r);
	g_assert_cmpuint(fake_cp_violations(r.cp)->len, ==, 0);
	run_clear(&r);
}

/* A target is applied to passwd and reported converged. */
static void
test_run_converge(void)
{
	Run r = { 0 };
	g_autofree gchar *value = NULL;
	g_autofree gchar *passwd_path = NULL;
	g_autofree gchar *passwd = NULL;
	JsonObject *row;
	JsonObject *accounts;

	run_init(&r);
	value = g_strdup_printf("{\"uuid\":\"%s\",\"name\":\"mail1\",\"domain\":\"example.com\","
				"\"accounts\":{\"alice\":{\"password_hash\":\"" HASH_1 "\","
				"\"active\":true},\"bob\":{\"password_hash\":\"" HASH_1 "\","
				"\"active\":false}}}",
				r.agent_uuid);
	if (!mail_model_ready(value)) {
		run_clear(&r);
		return;
	}
	fake_cp_set_target(r.cp, r.agent_uuid, KIND, value);
	run_spawn(&r, r.conf);
	if (!wait_for(&r, converged, 30)) {
		g_test_fail_printf("the agent did not converge (exited: %d)", r.exited);
		run_clear(&r);
		return;
	}
	passwd_path = g_build_filename(r.dir, "etc/exim4/passwd", NULL);
	passwd = exm_test_read_file(passwd_path);
	g_assert_cmpstr(passwd, ==, "alice@example.com:" HASH_1 "\n");
	row = fake_cp_get_actual(r.cp, KIND, r.agent_uuid);
	accounts = json_object_get_object_member(json_object_get_object_member(row, "value"),
						 "accounts");
	g_assert_true(json_object_has_member(accounts, "bob"));
	term_and_check(&r);
	g_assert_cmpuint(fake_cp_violations(r.cp)->len, ==, 0);
	run_clear(&r);
}

static guint payload_polls;

static gchar *passwd_text(Run *r);

static gboolean
passwd_has_mallory(Run *r)
{
	g_autofree gchar *text = passwd_text(r);

	return text != NULL && strstr(text, "mallory@example.com:") != NULL;
}

static gboolean
polled_three_more(Run *r)
{
	return fake_cp_count(r->cp, "GET", "/v1/agents/") >= payload_polls + 3;
}

static gchar *
passwd_text(Run *r)
{
	g_autofree gchar *path = g_build_filename(r->dir, "etc/exim4/passwd", NULL);

	return exm_test_read_file(path);
}

static gchar *
mail_value(Run *r, const gchar *extra)
{
	return g_strdup_printf("{\"uuid\":\"%s\",\"name\":\"mail1\",\"domain\":\"example.com\","
			       "\"accounts\":{\"alice\":{\"password_hash\":\"" HASH_1 "\","
			       "\"active\":true}%s}}",
			       r->agent_uuid,
			       extra);
}

/* Someone on the CP<->DP path without the node key answers the real daemon's
 * get_payload in plain JSON with an account of their own: the daemon, which
 * holds a key, never applies it, so passwd stays as the sealed CP left it;
 * once the sealed CP answers again its target is applied. */
static void
test_run_plain_answer_leaves_passwd(void)
{
	Run r = { 0 };
	g_autofree gchar *value = NULL;
	g_autofree gchar *forged = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *during = NULL;

	run_init_keyed(&r, KEY_B64);
	value = mail_value(&r, "");
	if (!mail_model_ready(value)) {
		run_clear(&r);
		return;
	}
	fake_cp_set_target(r.cp, r.agent_uuid, KIND, value);
	run_spawn(&r, r.conf);
	g_assert_true(wait_for(&r, converged, 30));
	before = passwd_text(&r);
	g_assert_cmpstr(before, ==, "alice@example.com:" HASH_1 "\n");

	fake_cp_answer_plain(r.cp, TRUE);
	forged = mail_value(&r, ",\"mallory\":{\"password_hash\":\"" HASH_1 "\",\"active\":true}");
	fake_cp_set_target(r.cp, r.agent_uuid, KIND, forged);
	payload_polls = fake_cp_count(r.cp, "GET", "/v1/agents/");
	g_assert_true(wait_for(&r, polled_three_more, 30));
	during = passwd_text(&r);
	g_assert_cmpstr(during, ==, before);
	g_assert_false(r.exited);

	/* the sealed CP is followed again: the change is real, not lost */
	fake_cp_answer_plain(r.cp, FALSE);
	g_assert_true(wait_for(&r, passwd_has_mallory, 30));
	term_and_check(&r);
	run_clear(&r);
}

static void
test_run_bad_config(void)
{
	Run r = { 0 };
	g_autofree gchar *bad = NULL;

	run_init(&r);
	bad = g_build_filename(r.dir, "bad.conf", NULL);
	g_assert_true(g_file_set_contents(bad, "[universal_agent]\nuuid = nope\n", -1, NULL));
	run_spawn(&r, bad);
	g_assert_true(wait_for(&r, child_exited, 10));
	g_assert_true(g_subprocess_get_if_exited(r.child));
	g_assert_cmpint(g_subprocess_get_exit_status(r.child), ==, 1);
	g_assert_cmpuint(fake_cp_log(r.cp)->len, ==, 0);
	run_clear(&r);
}

/* A configured driver this agent does not have is a configuration error: exit
 * status 1 before any request to the control plane. */
static void
test_run_unknown_driver(void)
{
	Run r = { 0 };
	g_autofree gchar *text = NULL;
	g_autofree gchar *bad = NULL;
	g_autoptr(GString) edited = NULL;

	run_init(&r);
	g_assert_true(g_file_get_contents(r.conf, &text, NULL, NULL));
	edited = g_string_new(text);
	g_assert_cmpuint(g_string_replace(edited,
					  "caps_drivers = MailCapabilityDriver\n",
					  "caps_drivers = MailCapabilityDriver,NoSuchDriver\n",
					  1),
			 ==,
			 1);
	bad = g_build_filename(r.dir, "unknown-driver.conf", NULL);
	g_assert_true(g_file_set_contents(bad, edited->str, -1, NULL));
	run_spawn(&r, bad);
	g_assert_true(wait_for(&r, child_exited, 10));
	g_assert_true(g_subprocess_get_if_exited(r.child));
	g_assert_cmpint(g_subprocess_get_exit_status(r.child), ==, 1);
	g_assert_cmpuint(fake_cp_log(r.cp)->len, ==, 0);
	run_clear(&r);
}

/* An agent killed before its renames left temp files (issue 21 #6): the next
 * agent removes those of its own files (`.<name>.<8 hex>.tmp` beside passwd,
 * mail_meta.json and payload.json) and nothing else. */
static const gchar *const agent_files[] = {
	"etc/exim4/passwd",
	"var/lib/exordos/universal_agent/mail_meta.json",
	"var/lib/exordos/exordos_metapaas/payload.json",
};

static gchar *
plant_beside(Run *r, const gchar *rel, const gchar *pre, const gchar *post)
{
	g_autofree gchar *path = g_build_filename(r->dir, rel, NULL);
	g_autofree gchar *dir = g_path_get_dirname(path);
	g_autofree gchar *base = g_path_get_basename(path);
	g_autofree gchar *name = g_strconcat(pre, base, post, NULL);
	gchar *out = g_build_filename(dir, name, NULL);

	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	g_assert_true(g_file_set_contents(out, "alice@example.com:" HASH_1 "\n", -1, NULL));
	return out;
}

static void
test_run_stale_temp_files(void)
{
	Run r = { 0 };
	g_autoptr(GPtrArray) stale = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) decoys = g_ptr_array_new_with_free_func(g_free);
	gboolean ok;

	run_init(&r);
	for (guint i = 0; i < G_N_ELEMENTS(agent_files); i++) {
		g_ptr_array_add(stale, plant_beside(&r, agent_files[i], ".", ".a1b2c3d4.tmp"));
		g_ptr_array_add(stale, plant_beside(&r, agent_files[i], ".", ".00000000.tmp"));
		g_ptr_array_add(decoys, plant_beside(&r, agent_files[i], ".", ".A1B2C3D4.tmp"));
		g_ptr_array_add(decoys, plant_beside(&r, agent_files[i], ".", ".a1b2c3d4.tmp.1"));
		g_ptr_array_add(decoys, plant_beside(&r, agent_files[i], "", ".a1b2c3d4.tmp"));
		g_ptr_array_add(decoys, plant_beside(&r, agent_files[i], ".", ".a1b2c3.tmp"));
		g_ptr_array_add(decoys, plant_beside(&r, agent_files[i], ".x", ".a1b2c3d4.tmp"));
	}
	/* configure's file, not the agent's */
	g_ptr_array_add(decoys, plant_beside(&r, "etc/exim4/exim4.conf", ".", ".a1b2c3d4.tmp"));
	run_spawn(&r, r.conf);
	ok = wait_for(&r, registered_and_polling, 30);
	for (guint i = 0; i < stale->len; i++)
		if (g_file_test(stale->pdata[i], G_FILE_TEST_EXISTS))
			g_test_fail_printf("stale %s is still there", (gchar *)stale->pdata[i]);
	for (guint i = 0; i < decoys->len; i++)
		if (!g_file_test(decoys->pdata[i], G_FILE_TEST_IS_REGULAR))
			g_test_fail_printf("%s was removed", (gchar *)decoys->pdata[i]);
	g_test_message("%u stale temp files planted, %u look-alikes", stale->len, decoys->len);
	if (!ok)
		g_test_fail_printf("the agent did not register and poll (exited: %d)", r.exited);
	else
		term_and_check(&r);
	run_clear(&r);
}

/* SIGKILL while passwd's temp file exists (issue 21 #6): an inotify watch on
 * passwd's directory kills the agent the moment a `.passwd.*.tmp` appears,
 * KILL_ROUNDS times, with a passwd large enough that the write outlasts the
 * reaction.  Every temp file seen has no bit beyond passwd's 0640; the next
 * agent removes what the killed one left; the end state is complete. */
#define KILL_ROUNDS   10
#define KILL_ACCOUNTS 4000

typedef struct {
	Run *r;
	gchar *dir;
	int fd;
	gboolean armed;
	guint kills;
	guint seen;
	mode_t extra;
} Killer;

static gboolean
on_inotify(gint fd, GIOCondition cond, gpointer data)
{
	Killer *k = data;
	gchar buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n = read(fd, buf, sizeof(buf));

	for (gchar *p = buf; n > 0 && p < buf + n;) {
		const struct inotify_event *ev = (const struct inotify_event *)p;
		struct stat st;

		if (ev->len > 0 && g_str_has_prefix(ev->name, ".passwd.") &&
		    g_str_has_suffix(ev->name, ".tmp")) {
			g_autofree gchar *path = g_build_filename(k->dir, ev->name, NULL);
			if (k->armed && k->r->child != NULL) {
				g_subprocess_send_signal(k->r->child, SIGKILL);
				k->armed = FALSE;
				k->kills++;
			}
			if (lstat(path, &st) == 0) {
				k->seen++;
				k->extra |= (st.st_mode & 07777) & ~(mode_t)0640;
			}
		}
		p += sizeof(*ev) + ev->len;
	}
	return G_SOURCE_CONTINUE;
}

static gchar *
many_accounts(const gchar *agent, guint round)
{
	g_autoptr(GString) v = g_string_new(NULL);

	g_string_append_printf(
		v,
		"{\"uuid\":\"%s\",\"name\":\"mail1\",\"domain\":\"example.com\",\"accounts\":{",
		agent);
	for (guint i = 0; i < KILL_ACCOUNTS; i++)
		g_string_append_printf(v,
				       "%s\"u%u\":{\"password_hash\":\"" HASH_1
				       "\",\"active\":true}",
				       i == 0 ? "" : ",",
				       i);
	g_string_append_printf(
		v, ",\"round%u\":{\"password_hash\":\"" HASH_1 "\",\"active\":true}}}", round);
	return g_string_free(g_steal_pointer(&v), FALSE);
}

static guint
count_temp_files(const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const gchar *name;
	guint n = 0;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL)
		n += name[0] == '.' && g_str_has_suffix(name, ".tmp");
	return n;
}

static gboolean
has_final_round(Run *r)
{
	g_autofree gchar *path = g_build_filename(r->dir, "etc/exim4/passwd", NULL);
	g_autofree gchar *text = NULL;
	g_autofree gchar *needle = g_strdup_printf("round%u@example.com:", KILL_ROUNDS);

	return g_file_get_contents(path, &text, NULL, NULL) && strstr(text, needle) != NULL;
}

/* One round: a new target, the agent killed at its temp file (or not, when it
 * did not get there in time); returns the temp files the kill left. */
static guint
kill_round(Run *r, Killer *k, guint round)
{
	g_autofree gchar *value = many_accounts(r->agent_uuid, round);

	run_spawn(r, r->conf);
	k->armed = TRUE;
	fake_cp_set_target(r->cp, r->agent_uuid, KIND, value);
	wait_for(r, child_exited, 10);
	if (!r->exited) {
		g_subprocess_force_exit(r->child);
		wait_for(r, child_exited, 10);
	}
	k->armed = FALSE;
	g_clear_object(&r->child);
	return count_temp_files(k->dir);
}

static void
test_run_sigkill_applies(void)
{
	Run r = { 0 };
	Killer k = { .r = &r };
	guint left = 0, watch;
	gboolean ok;

	run_init(&r);
	k.dir = g_build_filename(r.dir, "etc/exim4", NULL);
	g_assert_cmpint(g_mkdir_with_parents(k.dir, 0755), ==, 0);
	k.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	g_assert_cmpint(inotify_add_watch(k.fd, k.dir, IN_CREATE), >=, 0);
	watch = g_unix_fd_add(k.fd, G_IO_IN, on_inotify, &k);
	for (guint i = 0; i < KILL_ROUNDS; i++)
		left += kill_round(&r, &k, i);
	k.armed = FALSE;
	run_spawn(&r, r.conf);
	{
		g_autofree gchar *value = many_accounts(r.agent_uuid, KILL_ROUNDS);
		fake_cp_set_target(r.cp, r.agent_uuid, KIND, value);
	}
	ok = wait_for(&r, has_final_round, 60);
	if (ok)
		term_and_check(&r);
	g_test_message("%u kills at a temp file, %u temp files found after them (summed), %u seen; "
		       "after restart: %u (target 0), extra mode bits %04o (target 0)",
		       k.kills,
		       left,
		       k.seen,
		       count_temp_files(k.dir),
		       k.extra);
	if (!ok)
		g_test_fail_printf("the agent did not converge after the kills");
	if (count_temp_files(k.dir) != 0)
		g_test_fail_printf("temp files outlived the killed agents");
	if (k.extra != 0)
		g_test_fail_printf("a temp file had mode bits %04o beyond 0640", k.extra);
	g_source_remove(watch);
	close(k.fd);
	g_free(k.dir);
	run_clear(&r);
}

/* ---------------------------------------------------------------------------
 * A control-plane outage longer than the old backoff could grow (issue 21 #5):
 * a small fleet of real agents, the CP stopped for OUTAGE_SECS, a new account
 * set when it returns.  Every agent must have it in passwd within
 * RETURN_BOUND_SECS, and each must have logged the outage and the recovery
 * once, not once per attempt.  backoff_initial = 8 with the default cap makes
 * the old 60 s cap reachable within the outage (8, 16, 32, 60 …). */
#define FLEET		  3
#define OUTAGE_SECS	  60
#define RETURN_BOUND_SECS 15.0

typedef struct {
	gchar *dir;
	gchar *node;
	gchar *uuid;
	gchar *log;
	GSubprocess *child;
	gboolean exited;
	goffset log_mark;
	gdouble converged_after;
} FleetAgent;

static FleetAgent fleet[FLEET];

static void
on_fleet_exit(GObject *source, GAsyncResult *res, gpointer data)
{
	g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
	((FleetAgent *)data)->exited = TRUE;
}

static gchar *
fleet_value(const FleetAgent *a, gboolean with_carol)
{
	return g_strdup_printf(
		"{\"uuid\":\"%s\",\"name\":\"mail1\",\"domain\":\"example.com\","
		"\"accounts\":{\"alice\":{\"password_hash\":\"" HASH_1 "\","
		"\"active\":true}%s}}",
		a->uuid,
		with_carol ? ",\"carol\":{\"password_hash\":\"" HASH_1 "\",\"active\":true}" : "");
}

static void
fleet_spawn(FleetAgent *a, FakeCp *cp, guint i)
{
	g_autofree gchar *exe =
		g_build_filename(EXM_BUILD_ROOT, "agent", "exordos-metapaas-mail-agent", NULL);
	g_autofree gchar *conf = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *value = NULL;
	g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
	g_autoptr(GError) error = NULL;

	a->dir = exm_test_mkdtemp("ua-fleet");
	a->node = g_strdup_printf("5e3f8a9c-1b2d-4c5e-8f70-0a1b2c3d4e%02u", i);
	a->uuid = exm_uuid_v5(a->node, "mailaas", &error);
	g_assert_no_error(error);
	a->log = g_build_filename(a->dir, "agent.log", NULL);
	conf = g_build_filename(a->dir, "agent.conf", NULL);
	text = g_strdup_printf("[universal_agent]\norch_endpoint = %s\nstatus_endpoint = %s\n"
			       "uuid5_name = mailaas\nnode_uuid = %s\n"
			       "payload_path = %s/var/lib/exordos/exordos_metapaas/payload.json\n"
			       "caps_drivers = MailCapabilityDriver\npoll_interval = 0.2\n"
			       "backoff_initial = 8\n[dataplane]\nroot = %s\n",
			       fake_cp_orch_url(cp),
			       fake_cp_status_url(cp),
			       a->node,
			       a->dir,
			       a->dir);
	g_assert_true(g_file_set_contents(conf, text, -1, NULL));
	value = fleet_value(a, FALSE);
	fake_cp_set_target(cp, a->uuid, KIND, value);
	g_subprocess_launcher_unsetenv(l, "G_MESSAGES_DEBUG");
	g_subprocess_launcher_set_stderr_file_path(l, a->log);
	g_subprocess_launcher_set_stdout_file_path(l, "/dev/null");
	a->child = g_subprocess_launcher_spawn(l, &error, exe, "run", "--config-file", conf, NULL);
	g_assert_no_error(error);
	g_subprocess_wait_async(a->child, NULL, on_fleet_exit, a);
}

static gboolean
fleet_has(const FleetAgent *a, const gchar *account)
{
	g_autofree gchar *path = g_build_filename(a->dir, "etc/exim4/passwd", NULL);
	g_autofree gchar *text = NULL;
	g_autofree gchar *needle = g_strdup_printf("%s@example.com:", account);

	return g_file_get_contents(path, &text, NULL, NULL) && strstr(text, needle) != NULL;
}

static gboolean
fleet_all_have_alice(Run *r)
{
	for (guint i = 0; i < FLEET; i++)
		if (!fleet_has(&fleet[i], "alice"))
			return FALSE;
	return TRUE;
}

static gint64 fleet_back_at;

/* Records when each agent got carol; TRUE once all have. */
static gboolean
fleet_all_have_carol(Run *r)
{
	gboolean all = TRUE;

	for (guint i = 0; i < FLEET; i++) {
		if (fleet[i].converged_after >= 0)
			continue;
		if (fleet_has(&fleet[i], "carol"))
			fleet[i].converged_after =
				(g_get_monotonic_time() - fleet_back_at) / (gdouble)G_USEC_PER_SEC;
		else
			all = FALSE;
	}
	return all;
}

static gboolean
never(Run *r)
{
	return FALSE;
}

static gboolean
fleet_all_exited(Run *r)
{
	for (guint i = 0; i < FLEET; i++)
		if (fleet[i].child != NULL && !fleet[i].exited)
			return FALSE;
	return TRUE;
}

static void
fleet_clear(Run *r)
{
	for (guint i = 0; i < FLEET; i++)
		if (fleet[i].child != NULL && !fleet[i].exited)
			g_subprocess_force_exit(fleet[i].child);
	wait_for(r, fleet_all_exited, 10);
	for (guint i = 0; i < FLEET; i++) {
		FleetAgent *a = &fleet[i];
		g_clear_object(&a->child);
		if (a->dir != NULL)
			exm_test_rmtree(a->dir);
		g_free(a->dir);
		g_free(a->node);
		g_free(a->uuid);
		g_free(a->log);
		memset(a, 0, sizeof(*a));
	}
	g_clear_pointer(&r->cp, fake_cp_free);
}

/* Lines of @a's log written since the CP went down that contain @needle. */
static guint
fleet_count_lines(const FleetAgent *a, const gchar *needle, guint *total)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	gsize len = 0;
	guint n = 0;

	*total = 0;
	if (!g_file_get_contents(a->log, &text, &len, NULL))
		return 0;
	lines = g_strsplit(text + MIN((gsize)a->log_mark, len), "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (lines[i][0] == '\0')
			continue;
		(*total)++;
		n += strstr(lines[i], needle) != NULL;
	}
	return n;
}

/* Checks without aborting, so the fleet is still stopped on a failure. */
static void
fleet_check_logs(void)
{
	for (guint i = 0; i < FLEET; i++) {
		guint total = 0;
		guint down = fleet_count_lines(&fleet[i], "control plane unreachable", &total);
		guint up = fleet_count_lines(&fleet[i], "control plane reachable again", &total);

		g_test_message("agent %u: %u log lines over the outage (%u outage, %u recovery)",
			       i,
			       total,
			       down,
			       up);
		if (down != 1 || up != 1 || total != 2)
			g_test_fail_printf("agent %u: expected one outage and one recovery line "
					   "over the outage, got %u, %u (%u lines in all)",
					   i,
					   down,
					   up,
					   total);
	}
}

/* Jitter kept: the agents do not come back in lockstep, and all within the bound. */
static void
fleet_check_times(void)
{
	gdouble lo = G_MAXDOUBLE, hi = 0;

	for (guint i = 0; i < FLEET; i++) {
		g_test_message("agent %u: new account on the node %.2f s after the CP "
			       "returned from a %d s outage (target < %.0f s)",
			       i,
			       fleet[i].converged_after,
			       OUTAGE_SECS,
			       RETURN_BOUND_SECS);
		lo = MIN(lo, fleet[i].converged_after);
		hi = MAX(hi, fleet[i].converged_after);
	}
	g_test_message("spread of the fleet's return: %.2f s", hi - lo);
	if (hi >= RETURN_BOUND_SECS)
		g_test_fail_printf("an agent took %.2f s to converge after the outage", hi);
	if (hi - lo <= 0.01)
		g_test_fail_printf("the fleet came back in lockstep (spread %.3f s)", hi - lo);
}

static void
test_run_outage(void)
{
	Run r = { 0 };

	r.cp = fake_cp_new(NULL);
	for (guint i = 0; i < FLEET; i++)
		fleet_spawn(&fleet[i], r.cp, i);
	if (!wait_for(&r, fleet_all_have_alice, 30)) {
		g_test_fail_printf("the fleet did not converge before the outage");
		fleet_clear(&r);
		return;
	}
	for (guint i = 0; i < FLEET; i++) {
		g_autoptr(GFile) f = g_file_new_for_path(fleet[i].log);
		g_autoptr(GFileInfo) info = g_file_query_info(f, "standard::size", 0, NULL, NULL);
		fleet[i].log_mark = info != NULL ? g_file_info_get_size(info) : 0;
		fleet[i].converged_after = -1;
	}
	fake_cp_go_down(r.cp);
	wait_for(&r, never, OUTAGE_SECS);
	fake_cp_come_up(r.cp);
	fleet_back_at = g_get_monotonic_time();
	for (guint i = 0; i < FLEET; i++) {
		g_autofree gchar *value = fleet_value(&fleet[i], TRUE);
		fake_cp_set_target(r.cp, fleet[i].uuid, KIND, value);
	}
	wait_for(&r, fleet_all_have_carol, 70);
	for (guint i = 0; i < FLEET; i++)
		if (fleet[i].converged_after < 0)
			fleet[i].converged_after = G_MAXDOUBLE;
	fleet_check_times();
	fleet_check_logs();
	fleet_clear(&r);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/ua/run/register-poll-hup-term", test_run_lifecycle);
	g_test_add_func("/ua/run/converge-passwd", test_run_converge);
	g_test_add_func("/ua/run/bad-config-exits-1", test_run_bad_config);
	g_test_add_func("/ua/run/unknown-driver-exits-1", test_run_unknown_driver);
	g_test_add_func("/ua/run/plain-answer-leaves-passwd", test_run_plain_answer_leaves_passwd);
	g_test_add_func("/ua/run/stale-temp-files", test_run_stale_temp_files);
	g_test_add_func("/ua/run/sigkill-at-temp-file", test_run_sigkill_applies);
	g_test_add_func("/ua/run/outage-return-bound-and-log-once", test_run_outage);
	return g_test_run();
}
