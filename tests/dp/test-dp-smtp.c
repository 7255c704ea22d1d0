/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The data plane end to end against Debian's exim4: configure renders the
 * sandbox, exim runs as a daemon on a loopback address of this binary's own
 * (25 and 587 STARTTLS, 465 implicit TLS), the driver applies accounts, and real
 * clients (swaks, /usr/bin/python3 smtplib) log in and send.  Every case of
 * docs/mail.md §5.6, plus hash families, login names, sender
 * policy and a DKIM signature verified by python3-dkim at a local sink.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exm-config.h"
#include "exm-dp-fixture.h"
#include "exm-dp-driver.h"
#include "exm-mail-files.h"
#include "exm-mail-validate.h"
#include "exm-test.h"

#define UUID "0b7e2f5c-3d4a-4e5f-8a6b-7c8d9e0f1a2b"

/* One exim for the whole binary: starting it per case would dominate the run. */
static ExmDpFixture *fx;
static ExmDpDriver *driver;
static gchar *setup_failure;

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

/* The cases here fail logins on purpose, all from one address: the login
 * defence (tested in test-dp-abuse.c) gets a threshold they never reach. */
static void
apply(const gchar *const *accounts)
{
	g_autoptr(JsonNode) value = exm_dp_node_value(UUID, accounts);
	g_autoptr(JsonObject) limits = json_object_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) actual = NULL;

	json_object_set_int_member(limits, "auth_fail_limit", EXM_MAIL_AUTH_FAIL_LIMIT_MAX);
	json_object_set_object_member(
		json_node_get_object(value), "limits", json_object_ref(limits));
	actual = exm_dp_driver_apply(driver, value, NULL, &error);

	g_assert_no_error(error);
}

static gint
auth(gint port, const gchar *user, const gchar *password)
{
	return exm_dp_fixture_auth(fx, port, user, password, NULL);
}

/* Runs swaks against the fixture; returns its exit status, output in @out. */
static gint
swaks(const gchar *const *extra, gchar **out)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autofree gchar *err = NULL;
	gint rc;

	g_ptr_array_add(argv, (gpointer) "swaks");
	g_ptr_array_add(argv, (gpointer) "--server");
	g_ptr_array_add(argv, fx->addr);
	g_ptr_array_add(argv, (gpointer) "--helo");
	g_ptr_array_add(argv, (gpointer) "client.test");
	for (guint i = 0; extra[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)extra[i]);
	g_ptr_array_add(argv, NULL);
	rc = exm_test_run((const gchar *const *)argv->pdata, out, &err);
	if (out != NULL && *out != NULL && err != NULL) {
		gchar *both = g_strconcat(*out, err, NULL);
		g_free(*out);
		*out = both;
	}
	return rc;
}

static void
test_auth_requires_tls(void)
{
	const gchar *plain[] = { "--port", "587", "--quit-after", "EHLO", NULL };
	const gchar *tls[] = { "--port", "25", "-tls", "--quit-after", "EHLO", NULL };
	const gchar *ehlo_plain[] = { "ehlo", fx->addr, "587", "plain", NULL };
	const gchar *ehlo_tls[] = { "ehlo", fx->addr, "587", "starttls", NULL };
	g_autofree gchar *out1 = NULL;
	g_autofree gchar *out2 = NULL;
	g_autoptr(JsonObject) o1 = NULL;
	g_autoptr(JsonObject) o2 = NULL;
	g_autoptr(GError) error = NULL;

	if (!ready() || !exm_dp_have("swaks"))
		return;
	g_assert_cmpint(swaks(plain, &out1), ==, 0);
	g_assert_nonnull(strstr(out1, "250-STARTTLS"));
	g_assert_null(strstr(out1, "AUTH"));
	g_assert_cmpint(swaks(tls, &out2), ==, 0);
	g_assert_nonnull(strstr(out2, "AUTH PLAIN LOGIN"));
	o1 = exm_dp_fixture_client(ehlo_plain, &error);
	EXM_TEST_OK(error);
	g_assert_cmpstr(json_object_get_string_member(o1, "auth"), ==, "");
	o2 = exm_dp_fixture_client(ehlo_tls, &error);
	EXM_TEST_OK(error);
	g_assert_cmpstr(json_object_get_string_member(o2, "auth"), ==, "PLAIN LOGIN");
}

static void
test_valid_wrong_unknown(void)
{
	g_autofree gchar *h = NULL;

	if (!ready())
		return;
	h = exm_dp_hash("$6$", "alice-pw");
	apply((const gchar *[]){ "alice", h, "1", NULL });
	g_assert_cmpint(auth(587, "alice@example.com", "alice-pw"), ==, 235);
	g_assert_cmpint(auth(25, "alice@example.com", "alice-pw"), ==, 235);
	g_assert_cmpint(auth(587, "alice@example.com", "wrong"), ==, 535);
	g_assert_cmpint(auth(587, "nobody@example.com", "alice-pw"), ==, 535);
	g_assert_cmpint(auth(587, "alice@example.org", "alice-pw"), ==, 535);
}

static void
test_scheme_prefix(void)
{
	g_autofree gchar *h = NULL;
	g_autofree gchar *prefixed = NULL;

	if (!ready())
		return;
	h = exm_dp_hash("$6$", "prefixed-pw");
	prefixed = g_strconcat("{SHA512-CRYPT}", h, NULL);
	apply((const gchar *[]){ "pref", prefixed, "1", NULL });
	g_assert_cmpint(auth(587, "pref@example.com", "prefixed-pw"), ==, 235);
}

static void
test_inactive_and_deleted(void)
{
	g_autofree gchar *h = NULL;

	if (!ready())
		return;
	h = exm_dp_hash("$6$", "pw");
	apply((const gchar *[]){ "carol", h, "1", "dave", h, "1", NULL });
	g_assert_cmpint(auth(587, "carol@example.com", "pw"), ==, 235);
	g_assert_cmpint(auth(587, "dave@example.com", "pw"), ==, 235);
	/* carol disabled, dave deleted: both refused at once (no reload) */
	apply((const gchar *[]){ "carol", h, "0", NULL });
	g_assert_cmpint(auth(587, "carol@example.com", "pw"), ==, 535);
	g_assert_cmpint(auth(587, "dave@example.com", "pw"), ==, 535);
	/* and re-enabled */
	apply((const gchar *[]){ "carol", h, "1", NULL });
	g_assert_cmpint(auth(587, "carol@example.com", "pw"), ==, 235);
}

static void
test_password_change(void)
{
	g_autofree gchar *h1 = NULL;
	g_autofree gchar *h2 = NULL;
	g_autofree gchar *p2 = NULL;

	if (!ready())
		return;
	h1 = exm_dp_hash("$6$", "old-pw");
	h2 = exm_dp_hash("$6$", "new-pw");
	p2 = g_strconcat("{SHA512-CRYPT}", h2, NULL);
	apply((const gchar *[]){ "erin", h1, "1", NULL });
	g_assert_cmpint(auth(587, "erin@example.com", "old-pw"), ==, 235);
	apply((const gchar *[]){ "erin", p2, "1", NULL });
	g_assert_cmpint(auth(587, "erin@example.com", "new-pw"), ==, 235);
	g_assert_cmpint(auth(587, "erin@example.com", "old-pw"), ==, 535);
}

static void
test_two_accounts_isolated(void)
{
	g_autofree gchar *ha = NULL;
	g_autofree gchar *hb = NULL;

	if (!ready())
		return;
	ha = exm_dp_hash("$6$", "alice-secret");
	hb = exm_dp_hash("$6$", "bob-secret");
	apply((const gchar *[]){ "alice", ha, "1", "bob", hb, "1", NULL });
	g_assert_cmpint(auth(587, "alice@example.com", "alice-secret"), ==, 235);
	g_assert_cmpint(auth(587, "bob@example.com", "bob-secret"), ==, 235);
	g_assert_cmpint(auth(587, "alice@example.com", "bob-secret"), ==, 535);
	g_assert_cmpint(auth(587, "bob@example.com", "alice-secret"), ==, 535);
}

static void
test_hash_families(void)
{
	const gchar *families[] = { "$y$", "$2b$", "$5$", "$6$" };

	if (!ready())
		return;
	for (guint i = 0; i < G_N_ELEMENTS(families); i++) {
		g_autofree gchar *h = exm_dp_hash(families[i], "family-pw");

		g_test_message("family %s", families[i]);
		apply((const gchar *[]){ "fam", h, "1", NULL });
		g_assert_cmpint(auth(587, "fam@example.com", "family-pw"), ==, 235);
		g_assert_cmpint(auth(587, "fam@example.com", "family-px"), ==, 535);
	}
}

static void
test_login_names(void)
{
	g_autofree gchar *h = NULL;

	if (!ready())
		return;
	h = exm_dp_hash("$y$", "name-pw");
	apply((const gchar *[]){ "frank.o", h, "1", NULL });
	g_assert_cmpint(auth(587, "frank.o", "name-pw"), ==, 235);
	g_assert_cmpint(auth(587, "Frank.O@Example.COM", "name-pw"), ==, 235);
	g_assert_cmpint(auth(587, "FRANK.O", "name-pw"), ==, 235);
	g_assert_cmpint(exm_dp_fixture_auth(fx, 587, "frank.o", "name-pw", "LOGIN"), ==, 235);
	g_assert_cmpint(
		exm_dp_fixture_auth(fx, 465, "FRANK.O@example.com", "name-pw", "PLAIN"), ==, 235);
	g_assert_cmpint(exm_dp_fixture_auth(fx, 587, "frank.o", "bad", "LOGIN"), ==, 535);
	g_assert_cmpint(auth(587, "frank.o@sub.example.com", "name-pw"), ==, 535);
}

static void
test_implicit_tls_465(void)
{
	g_autofree gchar *h = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *out_plain = NULL;
	const gchar *args[] = { "--port",
				"465",
				"-tlsc",
				"--auth",
				"PLAIN",
				"--auth-user",
				"gina@example.com",
				"--auth-password",
				"gina-pw",
				"--quit-after",
				"AUTH",
				NULL };
	/* a plain-text client gets no greeting on 465 */
	const gchar *plain[] = {
		"--port", "465", "--quit-after", "CONNECT", "--timeout", "3", NULL
	};

	if (!ready() || !exm_dp_have("swaks"))
		return;
	h = exm_dp_hash("$6$", "gina-pw");
	apply((const gchar *[]){ "gina", h, "1", NULL });
	g_assert_cmpint(swaks(args, &out), ==, 0);
	g_assert_nonnull(strstr(out, "235 Authentication succeeded"));
	g_assert_cmpint(auth(465, "gina@example.com", "gina-pw"), ==, 235);
	g_assert_cmpint(swaks(plain, &out_plain), !=, 0);
}

static JsonObject *
send_mail(gint port, const gchar *user, const gchar *password, const gchar *from, const gchar *to)
{
	g_autofree gchar *port_s = g_strdup_printf("%d", port);
	const gchar *argv[] = { "send", fx->addr, port_s, port == 465 ? "tls" : "starttls",
				user,	password, from,	  to,
				NULL };
	g_autoptr(GError) error = NULL;
	JsonObject *obj = exm_dp_fixture_client(argv, &error);

	g_assert_no_error(error);
	return obj;
}

static guint
sink_count(void)
{
	g_autoptr(GDir) d = g_dir_open(fx->sink_dir, 0, NULL);
	const gchar *name;
	guint n = 0;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL)
		n += g_str_has_suffix(name, ".eml");
	return n;
}

/* Waits until the sink holds @n messages (exim delivers right after DATA). */
static gboolean
wait_sink(guint n)
{
	for (guint i = 0; i < 200; i++) {
		if (sink_count() >= n)
			return TRUE;
		g_usleep(50 * 1000);
	}
	return FALSE;
}

static void
test_submission(void)
{
	g_autofree gchar *h = NULL;
	g_autoptr(JsonObject) ok = NULL;
	g_autoptr(JsonObject) sub = NULL;
	guint before;

	if (!ready())
		return;
	h = exm_dp_hash("$6$", "sender-pw");
	apply((const gchar *[]){ "henry", h, "1", NULL });
	before = sink_count();
	ok = send_mail(
		587, "henry@example.com", "sender-pw", "henry@example.com", "henry@example.com");
	g_assert_nonnull(ok);
	if (ok == NULL)
		return;
	g_assert_cmpstr(json_object_get_string_member(ok, "stage"), ==, "done");
	g_assert_cmpuint(json_object_get_size(json_object_get_object_member(ok, "refused")), ==, 0);
	/* a subdomain sender, to a foreign domain, over 465 */
	sub = send_mail(
		465, "henry", "sender-pw", "henry@lists.example.com", "someone@example.net");
	g_assert_cmpstr(json_object_get_string_member(sub, "stage"), ==, "done");
	g_assert_true(wait_sink(before + 2));
}

static void
test_foreign_sender_refused(void)
{
	g_autofree gchar *h = NULL;
	g_autoptr(JsonObject) r1 = NULL;
	g_autoptr(JsonObject) r2 = NULL;

	if (!ready())
		return;
	h = exm_dp_hash("$6$", "ivy-pw");
	apply((const gchar *[]){ "ivy", h, "1", NULL });
	r1 = send_mail(587, "ivy@example.com", "ivy-pw", "ivy@evil.example", "x@example.net");
	g_assert_cmpstr(json_object_get_string_member(r1, "stage"), ==, "mail");
	g_assert_cmpint(json_object_get_int_member(r1, "code"), ==, 553);
	/* "example.com" as a suffix of another domain is not a subdomain */
	r2 = send_mail(587, "ivy@example.com", "ivy-pw", "ivy@notexample.com", "x@example.net");
	g_assert_cmpint(json_object_get_int_member(r2, "code"), ==, 553);
}

static void
test_unauthenticated_refused(void)
{
	const gint ports[] = { 587, 25, 465 };
	const gchar *rcpts[] = { "noreply@example.com", "someone@example.net" };
	guint before;

	if (!ready())
		return;
	before = sink_count();
	for (guint p = 0; p < G_N_ELEMENTS(ports); p++) {
		for (guint r = 0; r < G_N_ELEMENTS(rcpts); r++) {
			g_autoptr(JsonObject) res =
				send_mail(ports[p], "-", "-", "noreply@example.com", rcpts[r]);
			gint64 code = res != NULL ? json_object_get_int_member(res, "code") : 0;

			g_assert_cmpstr(json_object_get_string_member(res, "stage"), !=, "done");
			g_assert_true(code == 530 || code == 550 || code == 553);
		}
	}
	g_usleep(300 * 1000);
	g_assert_cmpuint(sink_count(), ==, before);
}

/* The newest message at the sink carries a DKIM signature (d=example.com,
 * s=platform, relaxed/relaxed, rsa-sha256) that python3-dkim verifies against
 * platform.txt. */
static void
test_dkim_signature(void)
{
	g_autofree gchar *h = NULL;
	g_autoptr(JsonObject) res = NULL;
	g_autofree gchar *txt = NULL;
	g_autofree gchar *script = exm_dp_script("dkim-verify.py");
	g_autofree gchar *msg = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	guint before;

	if (!ready())
		return;
	h = exm_dp_hash("$6$", "dkim-pw");
	apply((const gchar *[]){ "jack", h, "1", NULL });
	before = sink_count();
	res = send_mail(
		587, "jack@example.com", "dkim-pw", "jack@example.com", "reader@example.net");
	g_assert_cmpstr(json_object_get_string_member(res, "stage"), ==, "done");
	if (!wait_sink(before + 1)) {
		g_test_fail_printf("no message at the sink");
		return;
	}
	path = g_strdup_printf("%s/msg-%u.eml", fx->sink_dir, before + 1);
	msg = exm_test_read_file(path);
	g_assert_nonnull(strstr(msg, "c=relaxed/relaxed"));
	g_assert_nonnull(strstr(msg, "a=rsa-sha256"));
	txt = exm_dp_fixture_path(fx, EXM_DP_PATH_DKIM_TXT);
	{
		const gchar *argv[] = { "/usr/bin/python3", script, path, txt, NULL };
		g_assert_cmpint(exm_test_run(argv, &out, &err), ==, 0);
	}
	g_assert_cmpstr(out, ==, "ok example.com platform\n");
}

static gboolean
swaks_has_tls(void)
{
	const gchar *argv[] = { "swaks", "--support", NULL };
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;

	exm_test_run(argv, &out, &err);
	return (out != NULL && strstr(out, "=== TLS supported") != NULL) ||
	       (err != NULL && strstr(err, "=== TLS supported") != NULL);
}

/* Peers first: a missing one skips (or fails under EXM_REQUIRE_REAL_PEERS). */
static gchar *
check_peers(void)
{
	const gchar *py_check[] = { "/usr/bin/python3", "-c", "import dkim, smtpd", NULL };
	g_autofree gchar *exim = exm_test_find_program("exim4");
	g_autofree gchar *swaks_bin = exm_test_find_program("swaks");

	if (exim == NULL)
		return g_strdup("peer:exim4 is not installed");
	if (swaks_bin == NULL)
		return g_strdup("peer:swaks is not installed");
	if (!swaks_has_tls())
		return g_strdup("peer:swaks without TLS (libnet-ssleay-perl is not installed)");
	if (!g_file_test("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE) ||
	    exm_test_run(py_check, NULL, NULL) != 0)
		return g_strdup("peer:/usr/bin/python3 with python3-dkim is not installed");
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
	g_test_message("exim on %s, sink on %s:%d, sandbox %s",
		       fx->addr,
		       fx->sink_addr,
		       fx->sink_port,
		       fx->root);
	if (!exm_dp_fixture_configure(fx, &error) || !exm_dp_fixture_start_sink(fx, &error) ||
	    !exm_dp_fixture_start_exim(fx, &error) ||
	    (driver = exm_dp_driver_new(fx->config, &error)) == NULL)
		setup_failure = g_strdup(error->message);
}

/* EHLO on @f's submission port (after STARTTLS when @mode is "starttls"). */
static JsonObject *
ehlo_on(ExmDpFixture *f, const gchar *mode)
{
	g_autofree gchar *port = g_strdup_printf("%d", f->config->submission_port);
	const gchar *argv[] = { "ehlo", f->addr, port, mode, NULL };
	g_autoptr(GError) error = NULL;
	JsonObject *obj = exm_dp_fixture_client(argv, &error);

	g_assert_no_error(error);
	return obj;
}

static gboolean
has_feature(JsonObject *ehlo, const gchar *name)
{
	JsonArray *features = json_object_get_array_member(ehlo, "features");

	for (guint i = 0; i < json_array_get_length(features); i++)
		if (g_str_equal(json_array_get_string_element(features, i), name))
			return TRUE;
	return FALSE;
}

/* A node whose first boot made /persist/exordos_mail 0700 root:root (the image
 * before issue 10): configure must open the key path to exim, or STARTTLS
 * answers 454 and AUTH is never offered. */
static void
test_private_persist_dir(void)
{
	g_autoptr(ExmDpFixture) own = NULL;
	g_autoptr(JsonObject) plain = NULL;
	g_autoptr(JsonObject) tls = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *persist = NULL;

	if (!ready())
		return;
	own = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	persist = exm_dp_fixture_path(own, EXM_DP_PATH_PERSIST);
	g_assert_cmpint(chown(persist, 0, 0), ==, 0);
	g_assert_cmpint(chmod(persist, 0700), ==, 0);
	g_assert_true(exm_dp_fixture_configure(own, &error));
	EXM_TEST_OK(error);
	g_assert_true(exm_dp_fixture_start_exim(own, &error));
	EXM_TEST_OK(error);
	plain = ehlo_on(own, "plain");
	g_assert_true(plain != NULL && has_feature(plain, "starttls"));
	tls = ehlo_on(own, "starttls");
	if (tls != NULL)
		g_assert_cmpstr(json_object_get_string_member(tls, "auth"), ==, "PLAIN LOGIN");
}

/*
 * The fixture's end stops every exim process it started, the children
 * serving connections too: the daemon's SIGTERM does not reach them, and
 * one that outlived the fixture logged into its removed sandbox when its
 * client left (a new var/log/exim4/mainlog under /tmp, seen after CI runs).
 */
static void
test_stop_ends_connections(void)
{
	g_autoptr(ExmDpFixture) own = NULL;
	g_autoptr(GError) error = NULL;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(465) };
	int held = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_autofree gchar *conf = NULL;
	g_autofree gchar *root = NULL;
	guint n = 0;

	if (!ready())
		return;
	own = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	g_assert_true(exm_dp_fixture_configure(own, &error));
	EXM_TEST_OK(error);
	g_assert_true(exm_dp_fixture_start_exim(own, &error));
	EXM_TEST_OK(error);
	conf = exm_dp_fixture_path(own, EXM_DP_PATH_EXIM_CONF);
	root = g_strdup(own->root);
	/* a client on 465 that says nothing: a child waits for its handshake */
	g_assert_cmpint(inet_pton(AF_INET, own->addr, &sa.sin_addr), ==, 1);
	g_assert_cmpint(connect(held, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	for (guint i = 0; i < 200 && (n = exm_test_count_processes(conf)) < 2; i++)
		g_usleep(20 * 1000);
	g_assert_cmpuint(n, >=, 2);
	g_clear_pointer(&own, exm_dp_fixture_free);
	g_assert_cmpuint(exm_test_count_processes(conf), ==, 0);
	close(held);
	g_usleep(300 * 1000);
	g_assert_false(g_file_test(root, G_FILE_TEST_EXISTS));
}

int
main(int argc, char **argv)
{
	int rc;

	exm_test_init(&argc, &argv);
	g_test_add_func("/dp/smtp/auth-requires-tls", test_auth_requires_tls);
	g_test_add_func("/dp/smtp/valid-wrong-unknown", test_valid_wrong_unknown);
	g_test_add_func("/dp/smtp/scheme-prefix", test_scheme_prefix);
	g_test_add_func("/dp/smtp/inactive-deleted-reenabled", test_inactive_and_deleted);
	g_test_add_func("/dp/smtp/password-change", test_password_change);
	g_test_add_func("/dp/smtp/two-accounts-isolated", test_two_accounts_isolated);
	g_test_add_func("/dp/smtp/hash-families", test_hash_families);
	g_test_add_func("/dp/smtp/login-names", test_login_names);
	g_test_add_func("/dp/smtp/implicit-tls-465", test_implicit_tls_465);
	g_test_add_func("/dp/smtp/authenticated-submission", test_submission);
	g_test_add_func("/dp/smtp/foreign-sender-refused", test_foreign_sender_refused);
	g_test_add_func("/dp/smtp/unauthenticated-refused", test_unauthenticated_refused);
	g_test_add_func("/dp/smtp/dkim-signature", test_dkim_signature);
	g_test_add_func("/dp/smtp/private-persist-dir", test_private_persist_dir);
	g_test_add_func("/dp/smtp/stop-ends-connections", test_stop_ends_connections);
	start();
	rc = g_test_run();
	exm_dp_driver_free(driver);
	exm_dp_fixture_free(fx);
	g_free(setup_failure);
	return rc;
}
