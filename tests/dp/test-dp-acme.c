/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Issue 22 item 2 against real peers (docs/tls.md §5): Debian's pebble (an
 * RFC 8555 server) and pebble-challtestsrv (its DNS, answering the node's
 * address for mail.example.com) on loopback, a real exim on a sandboxed node,
 * and the agent's ACME engine running Debian's uacme.  Cases: the first
 * issuance (the chain verifies against pebble's root, Python's ssl trusting
 * only that root logs in on 465 and 587 by name, the status says `acme`);
 * renewal when the engine's clock passes two thirds of the lifetime (nothing
 * before; a new serial served without a restart while an open session keeps
 * going); a failing challenge (the old certificate stays, the error is
 * reported, the engine backs off, doubling); ACME switched off (the file
 * goes, the self-signed pair is served again); the HTTP-01 responder held
 * open mid-run (the token's key authorization, 404 for anything else, not
 * bound outside a run).
 */
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exm-config.h"
#include "exm-dp-acme.h"
#include "exm-dp-driver.h"
#include "exm-dp-error.h"
#include "exm-dp-fixture.h"
#include "exm-mail-dns.h"
#include "exm-test.h"

#define BACKOFF_MIN 30
#define BACKOFF_MAX 600
/* a hang guard for one run (pebble answers in a second or two) */
#define RUN_GUARD_SECONDS 120

static ExmDpFixture *fx;
static gchar *setup_failure;
static gchar *pebble_dir; /* certificates, config, pebble's root */
static GPid pebble_pid;
static GPid challtest_pid;
static gint acme_port;	/* pebble's directory, on the sink address */
static gint mgmt_port;	/* pebble's management */
static gint dns_port;	/* challtestsrv's DNS */
static gint admin_port; /* challtestsrv's management */
static gint http_port;	/* the node's HTTP-01 responder */
static gchar *directory_url;
static gchar *root_pem; /* pebble's root, fetched from its management */
static ExmDpAcme *acme;
static gint64 clock_offset;

static gboolean
ready(void)
{
	if (setup_failure == NULL)
		return TRUE;
	if (g_str_has_prefix(setup_failure, "peer:"))
		exm_test_peer_missing("%s", setup_failure + 5);
	else
		g_test_fail_printf("setup failed: %s", setup_failure);
	return FALSE;
}

static gint64
test_clock(gpointer unused)
{
	return g_get_real_time() / G_USEC_PER_SEC + clock_offset;
}

/* Ticks the engine and iterates the main context until @runs runs ended. */
static void
run_until(guint runs)
{
	gint64 guard = g_get_monotonic_time() + RUN_GUARD_SECONDS * G_USEC_PER_SEC;

	exm_dp_acme_tick(acme);
	while (exm_dp_acme_get_runs(acme) < runs && g_get_monotonic_time() < guard)
		g_main_context_iteration(NULL, exm_dp_acme_running(acme));
	g_assert_cmpuint(exm_dp_acme_get_runs(acme), ==, runs);
	g_assert_false(exm_dp_acme_running(acme));
}

static JsonObject *
verify_client(gint port, const gchar *mode, const gchar *cafile)
{
	g_autofree gchar *script = exm_dp_script("tls-verify.py");
	g_autofree gchar *p = g_strdup_printf("%d", port);
	g_autofree gchar *host = exm_mail_dns_primary_hostname(EXM_DP_TEST_DOMAIN);
	const gchar *argv[] = { "/usr/bin/python3", script, fx->addr, p, mode, host, cafile, NULL };
	g_autofree gchar *out = NULL;
	g_autoptr(JsonNode) node = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(exm_test_run(argv, &out, NULL), ==, 0);
	node = json_from_string(out, &error);
	g_assert_no_error(error);
	return json_object_ref(json_node_get_object(node));
}

/* Python's ssl trusting only pebble's root, by name, on 587 and 465: the
 * served leaf's serial (the same on both). */
static gchar *
served_serial(void)
{
	g_autoptr(JsonObject) sub =
		verify_client(fx->config->submission_port, "starttls", root_pem);
	g_autoptr(JsonObject) tls = verify_client(fx->config->smtps_port, "tls", root_pem);

	g_test_message("587: %s, 465: %s",
		       json_object_get_string_member_with_default(sub, "error", "ok"),
		       json_object_get_string_member_with_default(tls, "error", "ok"));
	g_assert_true(json_object_get_boolean_member(sub, "ok"));
	g_assert_true(json_object_get_boolean_member(tls, "ok"));
	g_assert_cmpstr(json_object_get_string_member(sub, "serial"),
			==,
			json_object_get_string_member(tls, "serial"));
	return g_strdup(json_object_get_string_member(tls, "serial"));
}

/* openssl's serial of acme.pem's leaf, as Python writes it (upper hex). */
static gchar *
file_serial(void)
{
	g_autofree gchar *pem = exm_dp_fixture_path(fx, EXM_DP_PATH_TLS_ACME);
	const gchar *argv[] = { "openssl", "x509", "-in", pem, "-noout", "-serial", NULL };
	g_autofree gchar *out = NULL;

	g_assert_cmpint(exm_test_run(argv, &out, NULL), ==, 0);
	g_strstrip(out);
	g_assert_true(g_str_has_prefix(out, "serial="));
	return g_strdup(out + strlen("serial="));
}

/* The `tls` member the driver reports now. */
static JsonObject *
listed_tls(void)
{
	g_autoptr(ExmDpDriver) driver = NULL;
	g_autoptr(JsonNode) value = NULL;
	g_autoptr(JsonNode) actual = NULL;
	g_autoptr(GPtrArray) list = NULL;
	g_autoptr(GError) error = NULL;

	driver = exm_dp_driver_new(fx->config, &error);
	g_assert_no_error(error);
	value = exm_dp_node_value("5e3f8a9c-1b2d-4c5e-8f70-0a1b2c3d4e5f", NULL);
	actual = exm_dp_driver_apply(driver, value, NULL, &error);
	g_assert_no_error(error);
	list = exm_dp_driver_list(driver, EXM_DP_DRIVER_KIND, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(list->len, ==, 1);
	return json_object_ref(
		json_object_get_object_member(json_node_get_object(list->pdata[0]), "tls"));
}

/* (1) the first issuance: before it the self-signed pair is served. */
static void
test_issue(void)
{
	g_autofree gchar *pem = NULL;
	g_autofree gchar *verify = NULL;
	g_autoptr(JsonObject) tls = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *expected = NULL;
	struct stat st;

	if (!ready())
		return;
	pem = exm_dp_fixture_path(fx, EXM_DP_PATH_TLS_ACME);
	g_assert_false(g_file_test(pem, G_FILE_TEST_EXISTS));
	g_assert_true(exm_dp_acme_set_target(
		acme, "mail.example.com", directory_url, "mailto:postmaster@example.com", &error));
	g_assert_no_error(error);
	g_assert_cmpint(exm_dp_acme_next_run(acme), <=, test_clock(NULL));
	run_until(1);
	g_assert_null(exm_dp_acme_get_error(acme));

	g_assert_cmpint(stat(pem, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0640);
	{
		const gchar *argv[] = { "openssl",    "verify", "-CAfile", root_pem,
					"-untrusted", pem,	pem,	   NULL };

		g_assert_cmpint(exm_test_run(argv, &verify, NULL), ==, 0);
	}
	serial = served_serial();
	expected = file_serial();
	g_assert_cmpstr(serial, ==, expected);
	tls = listed_tls();
	g_assert_cmpstr(json_object_get_string_member(tls, "source"), ==, "acme");
	g_assert_nonnull(strstr(json_object_get_string_member(tls, "issuer"), "Pebble"));
	g_assert_false(json_object_has_member(tls, "error"));
	/* next: two thirds into the lifetime, far ahead */
	g_assert_cmpint(exm_dp_acme_next_run(acme), >, test_clock(NULL) + 86400);
}

/* (2) renewal when the clock says so: nothing a minute before two thirds
 * of the lifetime, a new certificate just after, served from the next
 * handshake with no restart while an open session goes on. */
static void
test_renew(void)
{
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *file = NULL;
	g_autofree gchar *answered = NULL;
	guint restarts;
	gint64 due;
	ExmDpHeld held;

	if (!ready())
		return;
	g_assert_cmpuint(exm_dp_acme_get_runs(acme), ==, 1); /* after issue */
	before = served_serial();
	due = exm_dp_acme_next_run(acme);
	restarts = exm_dp_fixture_restarts(fx);

	clock_offset = due - 60 - g_get_real_time() / G_USEC_PER_SEC;
	exm_dp_acme_tick(acme);
	g_assert_false(exm_dp_acme_running(acme));
	g_assert_cmpuint(exm_dp_acme_get_runs(acme), ==, 1);

	exm_dp_held_start(&held, fx->addr, fx->config->smtps_port);
	clock_offset = due + 1 - g_get_real_time() / G_USEC_PER_SEC;
	run_until(2);
	clock_offset = 0;
	g_assert_null(exm_dp_acme_get_error(acme));
	after = served_serial();
	file = file_serial();
	g_assert_cmpstr(after, ==, file);
	g_assert_cmpstr(after, !=, before);
	answered = exm_dp_held_finish(&held);
	g_assert_nonnull(strstr(answered, "250 "));
	g_assert_nonnull(strstr(answered, "221 "));
	g_assert_cmpuint(exm_dp_fixture_restarts(fx), ==, restarts);
}

/* challtestsrv's management API: POST @path with @json. */
static void
challtest_post(const gchar *path, const gchar *json)
{
	g_autofree gchar *url = g_strdup_printf("http://%s:%d%s", fx->sink_addr, admin_port, path);
	const gchar *argv[] = { "curl", "-sSf", "-X", "POST", "-d", json, url, NULL };

	g_assert_cmpint(exm_test_run(argv, NULL, NULL), ==, 0);
}

/* An engine with a new ACME account: pebble has nothing of an earlier
 * account (a valid authorization, a pending or ready order) that could let
 * a run finish without a challenge (seen once in CI: the run ended before
 * the hook was asked, and nothing was left to probe). */
static void
fresh_account(void)
{
	g_autofree gchar *dir = g_build_filename(fx->config->root, fx->config->acme_dir, NULL);
	g_autoptr(GError) error = NULL;

	exm_dp_acme_free(acme);
	exm_test_rmtree(dir);
	acme = exm_dp_acme_new(fx->config, &error);
	g_assert_no_error(error);
	exm_dp_acme_set_clock(acme, test_clock, NULL);
}

/* One failing run due now by the engine's clock: its back-off in seconds. */
static gint64
failing_run(guint runs)
{
	gint64 now;

	clock_offset = exm_dp_acme_next_run(acme) - g_get_real_time() / G_USEC_PER_SEC;
	run_until(runs);
	now = test_clock(NULL);
	g_assert_nonnull(exm_dp_acme_get_error(acme));
	g_test_message("acme error: %s", exm_dp_acme_get_error(acme));
	/* pebble's validation found nothing answering at the address */
	g_assert_nonnull(strstr(exm_dp_acme_get_error(acme), "connection refused"));
	/* backed off: a tick now starts nothing */
	exm_dp_acme_tick(acme);
	g_assert_false(exm_dp_acme_running(acme));
	return exm_dp_acme_next_run(acme) - now;
}

/* (3) the challenge fails (the name resolves to an address where nothing
 * answers HTTP): the certificate stays, the error is reported, the engine
 * backs off and doubles the wait. */
static void
test_failure(void)
{
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *redirect = NULL;
	g_autoptr(JsonObject) tls = NULL;
	g_autoptr(GError) error = NULL;
	gint64 first;
	gint64 second;

	if (!ready())
		return;
	before = served_serial();
	/* Pebble lets a new order reuse a valid authorization of the account
	 * now and then even with PEBBLE_AUTHZREUSE=0 (it reuses one when
	 * rand.Intn(100) > the percentage, and refuses a negative one), and a
	 * run with a reused authorization asks for no challenge, so it does not
	 * fail (seen once in a full run).  The failing runs get an account that
	 * has none; with PEBBLE_AUTHZREUSE=100 the old account fails this test
	 * on every run. */
	fresh_account();
	g_assert_true(exm_dp_acme_set_target(
		acme, "mail.example.com", directory_url, "mailto:postmaster@example.com", &error));
	g_assert_no_error(error);
	exm_dp_acme_set_backoff(acme, BACKOFF_MIN, BACKOFF_MAX);
	redirect = g_strdup_printf("{\"host\":\"mail.example.com.\",\"addresses\":[\"%s\"]}",
				   fx->sink_addr);
	challtest_post("/add-a", redirect);
	/* due by the clock (a renewal): two thirds in */
	first = failing_run(exm_dp_acme_get_runs(acme) + 1);
	g_assert_cmpint(first, >=, BACKOFF_MIN - 2);
	g_assert_cmpint(first, <=, BACKOFF_MIN);
	second = failing_run(exm_dp_acme_get_runs(acme) + 1);
	g_assert_cmpint(second, >=, 2 * BACKOFF_MIN - 2);
	g_assert_cmpint(second, <=, 2 * BACKOFF_MIN);
	/* a restarted agent resumes the back-off and the error from state.json */
	{
		g_autoptr(ExmDpAcme) again = exm_dp_acme_new(fx->config, &error);

		g_assert_no_error(error);
		exm_dp_acme_set_clock(again, test_clock, NULL);
		g_assert_true(exm_dp_acme_set_target(again,
						     "mail.example.com",
						     directory_url,
						     "mailto:postmaster@example.com",
						     &error));
		g_assert_cmpint(exm_dp_acme_next_run(again), ==, exm_dp_acme_next_run(acme));
		g_assert_cmpstr(exm_dp_acme_get_error(again), ==, exm_dp_acme_get_error(acme));
	}
	clock_offset = 0;

	/* the old certificate is still served and reported, with the error */
	after = served_serial();
	g_assert_cmpstr(after, ==, before);
	tls = listed_tls();
	g_assert_cmpstr(json_object_get_string_member(tls, "source"), ==, "acme");
	g_assert_true(json_object_has_member(tls, "not_after"));
	g_assert_cmpstr(
		json_object_get_string_member(tls, "error"), ==, exm_dp_acme_get_error(acme));
	challtest_post("/clear-a", "{\"host\":\"mail.example.com.\"}");
}

/* ACME switched off (the node value without `acme`): the file and the error
 * go, exim serves the self-signed pair again from the next handshake. */
static void
test_off(void)
{
	g_autofree gchar *pem = NULL;
	g_autofree gchar *self_signed = NULL;
	g_autoptr(JsonObject) tls = NULL;
	g_autoptr(JsonObject) o = NULL;
	g_autoptr(GError) error = NULL;

	if (!ready())
		return;
	pem = exm_dp_fixture_path(fx, EXM_DP_PATH_TLS_ACME);
	self_signed = exm_dp_fixture_path(fx, EXM_DP_PATH_TLS_CERT);
	g_assert_true(g_file_test(pem, G_FILE_TEST_EXISTS));
	g_assert_true(exm_dp_acme_set_target(acme, "mail.example.com", NULL, NULL, &error));
	g_assert_no_error(error);
	g_assert_false(g_file_test(pem, G_FILE_TEST_EXISTS));
	g_assert_null(exm_dp_acme_get_error(acme));
	g_assert_cmpint(exm_dp_acme_next_run(acme), ==, G_MAXINT64);
	o = verify_client(fx->config->smtps_port, "tls", self_signed);
	g_assert_true(json_object_get_boolean_member(o, "ok"));
	tls = listed_tls();
	g_assert_cmpstr(json_object_get_string_member(tls, "source"), ==, "self_signed");
	g_assert_false(json_object_has_member(tls, "error"));
	/* a malformed target is refused and changes nothing */
	g_assert_false(
		exm_dp_acme_set_target(acme, "mail.example.com", "http://plain/dir", NULL, &error));
	g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_INVALID);
	g_assert_cmpint(exm_dp_acme_next_run(acme), ==, G_MAXINT64);
}

static void
store_result(GObject *source, GAsyncResult *result, gpointer data)
{
	*(GAsyncResult **)data = g_object_ref(result);
}

/* @argv run while the main context (and so the responder) goes on: stdout. */
static gchar *
run_async(const gchar *const *argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSubprocess) proc =
		g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
	g_autoptr(GAsyncResult) result = NULL;
	gchar *out = NULL;

	g_assert_no_error(error);
	g_subprocess_communicate_utf8_async(proc, NULL, NULL, store_result, &result);
	while (result == NULL)
		g_main_context_iteration(NULL, TRUE);
	g_assert_true(g_subprocess_communicate_utf8_finish(proc, result, &out, NULL, &error));
	g_assert_no_error(error);
	return out;
}

/* The responder's status for @method @path, and its body in @body. */
static gint
probe(const gchar *method, const gchar *path, gchar **body)
{
	g_autofree gchar *url = g_strdup_printf("http://%s:%d%s", fx->addr, http_port, path);
	const gchar *argv[] = { "curl",		  "-s",		  "-X", method, "-w",
				"\n%{http_code}", "--path-as-is", url,	NULL };
	g_autofree gchar *out = run_async(argv);
	g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
	guint n = g_strv_length(lines);
	gint code;

	g_assert_cmpuint(n, >=, 2);
	code = (gint)g_ascii_strtoll(lines[n - 1], NULL, 10);
	g_clear_pointer(&lines[n - 1], g_free); /* the rest is the body */
	if (body != NULL)
		*body = g_strjoinv("\n", lines);
	return code;
}

/* A hook that runs the real one, then holds `begin` until @release exists:
 * the run stays open while the test probes the responder. */
static gchar *
holding_hook(const gchar *release)
{
	g_autofree gchar *real =
		g_build_filename(EXM_SOURCE_ROOT, "data", "acme", "exm-acme-hook", NULL);
	gchar *path = g_build_filename(pebble_dir, "hold-hook", NULL);
	g_autofree gchar *text = g_strdup_printf(
		"#!/bin/sh\n\"%s\" \"$@\" || exit $?\n[ \"$1\" = begin ] || exit 0\n"
		"while [ ! -e \"%s\" ]; do sleep 0.1; done\n",
		real,
		release);

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_assert_cmpint(g_chmod(path, 0700), ==, 0);
	return path;
}

/* The one token file the hook wrote under acme_dir/challenge, waited for. */
static gchar *
wait_token(void)
{
	g_autofree gchar *dir =
		g_build_filename(fx->config->root, fx->config->acme_dir, "challenge", NULL);
	gint64 guard = g_get_monotonic_time() + RUN_GUARD_SECONDS * G_USEC_PER_SEC;

	while (g_get_monotonic_time() < guard) {
		g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
		const gchar *name = NULL;

		while (d != NULL && (name = g_dir_read_name(d)) != NULL && name[0] == '.')
			;
		if (name != NULL)
			return g_strdup(name);
		g_main_context_iteration(NULL, FALSE);
		g_usleep(20 * 1000);
	}
	g_assert_not_reached();
	return NULL;
}

/* The HTTP-01 responder, held open mid-run: the token's key authorization
 * for GET of its path, 404 for everything else; unbound after the run. */
static void
test_responder(void)
{
	g_autofree gchar *release = NULL;
	g_autofree gchar *hook = NULL;
	g_autofree gchar *token = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *body = NULL;
	g_autoptr(GError) error = NULL;
	guint runs;

	if (!ready())
		return;
	fresh_account();
	release = g_build_filename(pebble_dir, "release", NULL);
	hook = holding_hook(release);
	exm_dp_acme_set_hook(acme, hook);
	g_assert_false(exm_test_can_connect(fx->addr, (guint)http_port)); /* not bound idle */
	g_assert_true(
		exm_dp_acme_set_target(acme, "mail.example.com", directory_url, NULL, &error));
	g_assert_no_error(error);
	runs = exm_dp_acme_get_runs(acme);
	exm_dp_acme_tick(acme);
	token = wait_token();
	path = g_strconcat("/.well-known/acme-challenge/", token, NULL);
	g_assert_cmpint(probe("GET", path, &body), ==, 200);
	g_assert_true(g_str_has_prefix(body, token));
	g_assert_nonnull(strchr(body, '.'));
	g_assert_cmpint(probe("POST", path, NULL), ==, 404);
	g_assert_cmpint(probe("GET", "/", NULL), ==, 404);
	g_assert_cmpint(probe("GET", "/.well-known/acme-challenge/", NULL), ==, 404);
	g_assert_cmpint(probe("GET", "/.well-known/acme-challenge/no.such", NULL), ==, 404);
	g_assert_cmpint(probe("GET", "/.well-known/acme-challenge/../state.json", NULL), ==, 404);
	/* libsoup itself refuses an encoded slash (400); either way nothing */
	g_assert_cmpint(
		probe("GET", "/.well-known/acme-challenge/..%2Fstate.json", NULL) / 100, ==, 4);
	g_assert_true(g_file_set_contents(release, "", 0, NULL));
	run_until(runs + 1);
	g_assert_null(exm_dp_acme_get_error(acme));
	g_assert_false(exm_test_can_connect(fx->addr, (guint)http_port));
}

/* ---- the peers ---------------------------------------------------------- */

static void
pdeathsig(gpointer unused)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static void
stop_child(GPid *pid)
{
	gint status = 0;

	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	waitpid(*pid, &status, 0);
	g_spawn_close_pid(*pid);
	*pid = 0;
}

static gboolean
spawn_peer(const gchar *const *argv, const gchar *const *envp, gint port, GPid *pid, GError **error)
{
	g_auto(GStrv) env = g_get_environ();

	for (guint i = 0; envp != NULL && envp[i] != NULL; i++) {
		g_auto(GStrv) kv = g_strsplit(envp[i], "=", 2);

		env = g_environ_setenv(env, kv[0], kv[1], TRUE);
	}
	if (!g_spawn_async(pebble_dir,
			   (gchar **)argv,
			   env,
			   G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH |
				   G_SPAWN_STDOUT_TO_DEV_NULL,
			   pdeathsig,
			   NULL,
			   pid,
			   error))
		return FALSE;
	for (guint i = 0; i < 300; i++) {
		if (exm_test_can_connect(fx->sink_addr, (guint)port))
			return TRUE;
		g_usleep(100 * 1000);
	}
	g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "%s: not listening", argv[0]);
	return FALSE;
}

/* A port of @addr nothing is bound to, other than @not. */
static gint
free_port(const gchar *addr, gint not )
{
	for (guint attempt = 0; attempt < 200; attempt++) {
		gint port = g_random_int_range(20000, 60000);

		if (port != not &&exm_test_can_bind(addr, (guint)port))
			return port;
	}
	return 0;
}

static void
pick_ports(void)
{
	acme_port = free_port(fx->sink_addr, 0);
	mgmt_port = free_port(fx->sink_addr, acme_port);
	dns_port = free_port(fx->sink_addr, mgmt_port);
	admin_port = free_port(fx->sink_addr, dns_port);
	http_port = free_port(fx->addr, 0);
}

/* pebble-challtestsrv answers mail.example.com with the node's address;
 * pebble validates HTTP-01 on http_port there, through that DNS. */
static gboolean
start_pebble(GError **error)
{
	g_autofree gchar *script = exm_dp_script("pebble-setup.sh");
	g_autofree gchar *a = g_strdup_printf("%d", acme_port);
	g_autofree gchar *m = g_strdup_printf("%d", mgmt_port);
	g_autofree gchar *h = g_strdup_printf("%d", http_port);
	g_autofree gchar *dns = g_strdup_printf("%s:%d", fx->sink_addr, dns_port);
	g_autofree gchar *admin = g_strdup_printf("%s:%d", fx->sink_addr, admin_port);
	g_autofree gchar *config = g_build_filename(pebble_dir, "pebble.json", NULL);
	const gchar *setup[] = { "/bin/sh", script, pebble_dir, fx->sink_addr, a, m, h, NULL };
	const gchar *challtest[] = { "pebble-challtestsrv",
				     "-dns01",
				     dns,
				     "-http01",
				     "",
				     "-https01",
				     "",
				     "-tlsalpn01",
				     "",
				     "-management",
				     admin,
				     "-defaultIPv4",
				     fx->addr,
				     "-defaultIPv6",
				     "",
				     NULL };
	const gchar *pebble[] = { "pebble", "-config", config, "-dnsserver", dns, NULL };
	const gchar *pebble_env[] = {
		"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0", NULL
	};

	if (exm_test_run(setup, NULL, NULL) != 0) {
		g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "pebble-setup.sh failed");
		return FALSE;
	}
	return spawn_peer(challtest, NULL, admin_port, &challtest_pid, error) &&
	       spawn_peer(pebble, pebble_env, mgmt_port, &pebble_pid, error);
}

/* pebble's root, made at its start, from its management interface. */
static gboolean
fetch_root(GError **error)
{
	g_autofree gchar *ca = g_build_filename(pebble_dir, "ca.pem", NULL);
	g_autofree gchar *url = g_strdup_printf("https://%s:%d/roots/0", fx->sink_addr, mgmt_port);
	const gchar *argv[] = { "curl", "-sSf", "--cacert", ca, "-o", root_pem, url, NULL };

	if (exm_test_run(argv, NULL, NULL) == 0)
		return TRUE;
	g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "pebble's root not fetched");
	return FALSE;
}

static gchar *
check_peers(void)
{
	static const gchar *const programs[] = { "exim4", "openssl", "curl",
						 "uacme", "pebble",  "pebble-challtestsrv",
						 NULL };

	for (guint i = 0; programs[i] != NULL; i++) {
		g_autofree gchar *path = exm_test_find_program(programs[i]);

		if (path == NULL)
			return g_strdup_printf("peer:%s is not installed", programs[i]);
	}
	if (!g_file_test("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
		return g_strdup("peer:/usr/bin/python3 is not installed");
	/* uacme trusts pebble's CA through a mount namespace (docs/tls.md §5) */
	if (geteuid() != 0)
		return g_strdup("peer:test-dp-acme needs root (uacme's extra trust anchor)");
	return NULL;
}

static void
start(void)
{
	g_autoptr(GError) error = NULL;

	setup_failure = check_peers();
	if (setup_failure != NULL)
		return;
	fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	pebble_dir = exm_test_mkdtemp("exm-pebble");
	root_pem = g_build_filename(pebble_dir, "root.pem", NULL);
	pick_ports();
	directory_url = g_strdup_printf("https://%s:%d/dir", fx->sink_addr, acme_port);
	g_free(fx->config->acme_http_listen);
	fx->config->acme_http_listen = g_strdup_printf("%s:%d", fx->addr, http_port);
	g_free(fx->config->acme_ca_file);
	fx->config->acme_ca_file = g_build_filename(pebble_dir, "ca.pem", NULL);
	if (!exm_dp_fixture_configure(fx, &error) || !exm_dp_fixture_start_exim(fx, &error) ||
	    !start_pebble(&error) || !fetch_root(&error)) {
		setup_failure = g_strdup(error->message);
		return;
	}
	acme = exm_dp_acme_new(fx->config, &error);
	if (acme == NULL) {
		setup_failure = g_strdup(error->message);
		return;
	}
	exm_dp_acme_set_clock(acme, test_clock, NULL);
}

int
main(int argc, char **argv)
{
	int rc;

	exm_test_init(&argc, &argv);
	g_test_add_func("/dp/acme/issue", test_issue);
	g_test_add_func("/dp/acme/renew", test_renew);
	g_test_add_func("/dp/acme/failure", test_failure);
	g_test_add_func("/dp/acme/off", test_off);
	g_test_add_func("/dp/acme/responder", test_responder);
	start();
	rc = g_test_run();
	exm_dp_acme_free(acme);
	stop_child(&pebble_pid);
	stop_child(&challtest_pid);
	exm_dp_fixture_free(fx);
	if (pebble_dir != NULL && g_getenv("EXM_DP_KEEP_SANDBOX") == NULL)
		exm_test_rmtree(pebble_dir);
	g_free(pebble_dir);
	g_free(root_pem);
	g_free(directory_url);
	g_free(setup_failure);
	return rc;
}
