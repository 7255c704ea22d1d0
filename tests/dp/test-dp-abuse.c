/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The abuse controls (docs/abuse-controls.md) against Debian's exim4: send
 * limits answered with 451 and kept across an exim restart, the login defence
 * locking out an address and a login before any hash is verified while another
 * client still logs in, and senders per account.  The node value reaches exim
 * through the driver's policy file, as on a node.
 */
#include <string.h>

#include "exm-dp-driver.h"
#include "exm-dp-fixture.h"
#include "exm-dp-logstats.h"
#include "exm-dp-usage.h"
#include "exm-mail-crypt.h"
#include "exm-test.h"

#define UUID "5d1c9a2e-7b3f-4c6d-9e8f-0a1b2c3d4e5f"

static ExmDpFixture *fx;
static ExmDpDriver *driver;
static gchar *setup_failure;
static gchar *pw_hash;

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

/* `{name: {password_hash: "pw", active, <member>: <value>...}}` per account in
 * @policies (JSON text per account, merged in), and @limits. */
static void
apply(const gchar *const *policies, const gchar *limits)
{
	g_autoptr(GPtrArray) triples = g_ptr_array_new();
	g_autoptr(JsonNode) value = NULL;
	g_autoptr(JsonNode) actual = NULL;
	g_autoptr(GError) error = NULL;
	JsonObject *accounts;

	for (guint i = 0; policies[i] != NULL; i += 2) {
		g_ptr_array_add(triples, (gpointer)policies[i]);
		g_ptr_array_add(triples, pw_hash);
		g_ptr_array_add(triples, (gpointer) "1");
	}
	g_ptr_array_add(triples, NULL);
	value = exm_dp_node_value(UUID, (const gchar *const *)triples->pdata);
	accounts = json_object_get_object_member(json_node_get_object(value), "accounts");
	for (guint i = 0; policies[i] != NULL; i += 2) {
		g_autoptr(JsonNode) extra = json_from_string(policies[i + 1], &error);
		g_autoptr(GList) names = NULL;
		JsonObject *acc = json_object_get_object_member(accounts, policies[i]);

		g_assert_no_error(error);
		names = json_object_get_members(json_node_get_object(extra));
		for (GList *l = names; l != NULL; l = l->next)
			json_object_set_member(acc,
					       l->data,
					       json_node_copy(json_object_get_member(
						       json_node_get_object(extra), l->data)));
	}
	json_object_set_member(
		json_node_get_object(value), "limits", json_from_string(limits, NULL));
	actual = exm_dp_driver_apply(driver, value, NULL, &error);
	g_assert_no_error(error);
}

static JsonObject *
client(const gchar *source, const gchar *const *argv)
{
	g_autoptr(GError) error = NULL;
	JsonObject *obj;

	g_setenv("EXM_SMTP_SOURCE", source, TRUE);
	obj = exm_dp_fixture_client(argv, &error);
	g_unsetenv("EXM_SMTP_SOURCE");
	g_assert_no_error(error);
	g_assert_nonnull(obj);
	return obj;
}

static JsonObject *
send_from(const gchar *user, const gchar *from, const gchar *to)
{
	const gchar *argv[] = { "send", fx->addr, "587", "starttls", user, "pw", from, to, NULL };

	return client(fx->addr, argv);
}

static JsonObject *
auth_from(const gchar *source, const gchar *user, const gchar *password)
{
	const gchar *argv[] = {
		"auth", fx->addr, "587", "starttls", user, password, "PLAIN", NULL
	};

	return client(source, argv);
}

static void
assert_reply(JsonObject *r, const gchar *stage, gint64 code, const gchar *text)
{
	const gchar *msg = json_object_has_member(r, "message")
				   ? json_object_get_string_member(r, "message")
				   : "";

	g_test_message("%s %" G_GINT64_FORMAT " %s",
		       json_object_get_string_member(r, "stage"),
		       json_object_get_int_member(r, "code"),
		       msg);
	g_assert_cmpstr(json_object_get_string_member(r, "stage"), ==, stage);
	g_assert_cmpint(json_object_get_int_member(r, "code"), ==, code);
	if (text != NULL)
		g_assert_nonnull(strstr(msg, text));
}

/* The smoothed rate remembers the burst: a restart of exim does not reset it. */
static void
test_messages_per_hour(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *db = NULL;

	if (!ready())
		return;
	apply((const gchar *[]){ "mph", "{\"messages_per_hour\": 2}", NULL }, "{}");
	for (guint i = 0; i < 2; i++) {
		g_autoptr(JsonObject) ok =
			send_from("mph@example.com", "mph@example.com", "x@example.net");
		assert_reply(ok, "done", 250, NULL);
	}
	{
		g_autoptr(JsonObject) r =
			send_from("mph@example.com", "mph@example.com", "x@example.net");
		assert_reply(r,
			     "mail",
			     451,
			     "4.7.1 limit of 2 messages per hour reached for mph@example.com; "
			     "retry in about 1800 seconds");
	}
	g_assert_true(exm_dp_fixture_restart_exim(fx, &error));
	EXM_TEST_OK(error);
	db = g_build_filename(fx->root, EXM_DP_PATH_SPOOL, "db", "ratelimit", NULL);
	g_assert_true(g_file_test(db, G_FILE_TEST_EXISTS));
	{
		g_autoptr(JsonObject) r =
			send_from("mph@example.com", "mph@example.com", "x@example.net");
		assert_reply(r, "mail", 451, "limit of 2 messages per hour");
	}
}

static void
test_recipients_per_day(void)
{
	g_autoptr(JsonObject) r = NULL;

	if (!ready())
		return;
	apply((const gchar *[]){ "rpd", "{\"recipients_per_day\": 2}", NULL }, "{}");
	for (guint i = 0; i < 2; i++) {
		g_autoptr(JsonObject) ok =
			send_from("rpd@example.com", "rpd@example.com", "y@example.net");
		assert_reply(ok, "done", 250, NULL);
	}
	r = send_from("rpd@example.com", "rpd@example.com", "y@example.net");
	assert_reply(
		r, "rcpt", 451, "4.7.1 limit of 2 recipients per day reached for rpd@example.com");
}

/* An account without a limit of its own gets the instance default. */
static void
test_instance_default(void)
{
	g_autoptr(JsonObject) ok = NULL;
	g_autoptr(JsonObject) r = NULL;

	if (!ready())
		return;
	apply((const gchar *[]){ "dflt", "{}", NULL }, "{\"messages_per_hour\": 1}");
	ok = send_from("dflt@example.com", "dflt@example.com", "z@example.net");
	assert_reply(ok, "done", 250, NULL);
	r = send_from("dflt@example.com", "dflt@example.com", "z@example.net");
	assert_reply(r, "mail", 451, "limit of 1 messages per hour reached for dflt@example.com");
}

static void
test_senders(void)
{
	const gchar *list = "{\"senders\": [\"snd@example.com\", \"*@news.example.com\"]}";
	const gchar *refused[] = { "other@example.com", "x@sub.news.example.com", NULL };

	if (!ready())
		return;
	apply((const gchar *[]){ "snd", list, "free", "{}", NULL }, "{}");
	{
		g_autoptr(JsonObject) a = send_from("snd", "snd@example.com", "s@example.net");
		g_autoptr(JsonObject) b = send_from("snd", "any@news.example.com", "s@example.net");
		/* an account without a list keeps the default */
		g_autoptr(JsonObject) c = send_from("free", "who@example.com", "s@example.net");

		assert_reply(a, "done", 250, NULL);
		assert_reply(b, "done", 250, NULL);
		assert_reply(c, "done", 250, NULL);
	}
	for (guint i = 0; refused[i] != NULL; i++) {
		g_autoptr(JsonObject) r = send_from("snd", refused[i], "s@example.net");

		assert_reply(r, "mail", 553, "5.7.1 sender");
		g_assert_nonnull(strstr(json_object_get_string_member(r, "message"),
					"is not allowed for snd@example.com"));
	}
}

static void
test_instance_ceiling(void)
{
	g_autoptr(JsonObject) first = NULL;
	g_autoptr(JsonObject) r = NULL;

	if (!ready())
		return;
	/* every message this binary sent counts towards the instance's rate */
	apply((const gchar *[]){ "ceil", "{}", NULL }, "{\"messages_per_hour_ceiling\": 1}");
	first = send_from("ceil", "ceil@example.com", "c@example.net");
	g_test_message("first: %" G_GINT64_FORMAT, json_object_get_int_member(first, "code"));
	r = send_from("ceil", "ceil@example.com", "c@example.net");
	assert_reply(r, "mail", 451, "4.7.1 instance limit of 1 messages per hour reached");
}

static gint64
code_of(JsonObject *r)
{
	g_test_message("AUTH %" G_GINT64_FORMAT " %s (%.1f ms)",
		       json_object_get_int_member(r, "code"),
		       json_object_get_string_member(r, "message"),
		       json_object_get_double_member(r, "ms"));
	return json_object_get_int_member(r, "code");
}

/* Three failures from one address lock that address (454 before any
 * credential) and that login everywhere (435, logged as refused before
 * verification); another client and another login still get in. */
static void
test_login_defence(void)
{
	const gchar *attacker, *other;
	gint64 first;
	g_autoptr(JsonObject) by_addr = NULL;
	g_autofree gchar *log = NULL;
	g_autofree gchar *log_path = NULL;

	if (!ready())
		return;
	attacker = fx->addr;
	other = fx->sink_addr;
	apply((const gchar *[]){ "lock", "{}", "fine", "{}", NULL },
	      "{\"auth_fail_limit\": 3, \"auth_fail_window\": 600}");
	first = g_get_monotonic_time();
	for (guint i = 0; i < 3; i++) {
		g_autoptr(JsonObject) r = auth_from(attacker, "lock@example.com", "guess");
		g_assert_cmpint(code_of(r), ==, 535);
	}
	by_addr = auth_from(attacker, "fine@example.com", "pw");
	g_test_message("from the first failed attempt to the lock-out: %.0f ms",
		       (gdouble)(g_get_monotonic_time() - first) / 1000.0);
	{
		g_autoptr(JsonObject) by_login = auth_from(other, "lock@example.com", "pw");
		g_autoptr(JsonObject) ok = auth_from(other, "fine@example.com", "pw");

		g_assert_cmpint(code_of(by_addr), ==, 454);
		g_assert_nonnull(strstr(json_object_get_string_member(by_addr, "message"),
					"too many failed logins from"));
		g_assert_cmpint(code_of(by_login), ==, 435);
		g_assert_cmpint(code_of(ok), ==, 235);
	}
	log_path = g_build_filename(fx->root, EXM_DP_PATH_LOG_DIR, "mainlog", NULL);
	g_assert_true(g_file_get_contents(log_path, &log, NULL, NULL));
	g_assert_nonnull(strstr(log, "AUTH refused before verification: login lock@example.com"));
	g_assert_nonnull(strstr(log, "AUTH refused before verification: client address"));
}

/* exim logged each login with its secret's fingerprint, the one
 * exm_mail_crypt_fingerprint() gives (docs/usage.md §1), and the agent's
 * reader of the real log reports both secrets of rot@ with their times. */
static void
check_login_lines(const gchar *log, const gchar *old_hash)
{
	g_autofree gchar *cur_fp = exm_mail_crypt_fingerprint(pw_hash);
	g_autofree gchar *old_fp = exm_mail_crypt_fingerprint(old_hash);
	g_autofree gchar *cur =
		g_strdup_printf("AUTH with the current secret %s: login rot@example.com", cur_fp);
	g_autofree gchar *prev =
		g_strdup_printf("AUTH with the previous secret %s: login rot@example.com", old_fp);
	g_autoptr(ExmDpLogStats) stats = exm_dp_logstats_new("/nonexistent", TRUE);
	g_autoptr(ExmDpUsage) usage = exm_dp_usage_new();
	g_autoptr(JsonNode) report = NULL;
	g_auto(GStrv) lines = g_strsplit(log, "\n", -1);
	JsonObject *secrets;

	g_assert_nonnull(strstr(log, cur));
	g_assert_nonnull(strstr(log, prev));
	exm_dp_logstats_set_login_observer(stats, exm_dp_usage_observe_login, usage);
	for (guint i = 0; lines[i] != NULL; i++)
		exm_dp_logstats_feed_line(stats, lines[i], strlen(lines[i]));
	report = exm_dp_usage_to_json(usage, g_get_real_time() / G_USEC_PER_SEC);
	secrets = json_object_get_object_member(
		json_object_get_object_member(
			json_object_get_object_member(json_node_get_object(report), "accounts"),
			"rot@example.com"),
		"secrets");
	g_assert_cmpuint(json_object_get_size(secrets), ==, 2);
	g_assert_true(json_object_has_member(secrets, cur_fp));
	g_assert_true(json_object_has_member(secrets, old_fp));
	g_assert_cmpuint(exm_dp_logstats_get_logins(stats, TRUE), ==, 1);
}

/* Rotation with an overlap window and expiry (docs/abuse-controls.md §5):
 * until the deadline both secrets log in (the old one logged as such), then
 * only the new one, with no further apply; an expired account logs in with
 * neither.  From an address of its own, so the failures do not count
 * against the fixture's. */
static void
test_rotation(void)
{
	const gchar *source = "127.0.0.3";
	/* `rounds=6000$`: an `=` inside the policy word, as SHA-crypt writes it */
	g_autofree gchar *old_hash = exm_dp_hash_rounds("old-pw", 6000);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	gint64 until = now + 15; /* room for four logins on a loaded machine */
	g_autofree gchar *rot = g_strdup_printf(
		"{\"previous_password_hash\": \"%s\", \"previous_until\": %" G_GINT64_FORMAT "}",
		old_hash,
		until);
	g_autofree gchar *gone = g_strdup_printf("{\"expires_at\": %" G_GINT64_FORMAT "}", now - 1);
	g_autofree gchar *later =
		g_strdup_printf("{\"expires_at\": %" G_GINT64_FORMAT "}", now + 3600);
	g_autofree gchar *log = NULL;
	g_autofree gchar *log_path = NULL;

	if (!ready())
		return;
	apply((const gchar *[]){ "rot", rot, "gone", gone, "later", later, NULL }, "{}");
	{
		g_autoptr(JsonObject) cur = auth_from(source, "rot@example.com", "pw");
		g_autoptr(JsonObject) old = auth_from(source, "rot@example.com", "old-pw");
		g_autoptr(JsonObject) expired = auth_from(source, "gone@example.com", "pw");
		g_autoptr(JsonObject) live = auth_from(source, "later@example.com", "pw");

		g_assert_cmpint(g_get_real_time() / G_USEC_PER_SEC, <, until);
		g_assert_cmpint(code_of(cur), ==, 235);
		g_assert_cmpint(code_of(old), ==, 235);
		g_assert_cmpint(code_of(expired), ==, 535);
		g_assert_cmpint(code_of(live), ==, 235);
	}
	log_path = g_build_filename(fx->root, EXM_DP_PATH_LOG_DIR, "mainlog", NULL);
	g_assert_true(g_file_get_contents(log_path, &log, NULL, NULL));
	check_login_lines(log, old_hash);
	/* past the deadline, by the node's clock alone */
	while (g_get_real_time() / G_USEC_PER_SEC <= until)
		g_usleep(200 * 1000);
	{
		g_autoptr(JsonObject) old = auth_from(source, "rot@example.com", "old-pw");
		g_autoptr(JsonObject) cur = auth_from(source, "rot@example.com", "pw");

		g_assert_cmpint(code_of(old), ==, 535);
		g_assert_cmpint(code_of(cur), ==, 235);
	}
}

static void
start(void)
{
	g_autoptr(GError) error = NULL;

	g_autofree gchar *exim = exm_test_find_program("exim4");

	if (exim == NULL || !g_file_test("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE)) {
		setup_failure = g_strdup("peer:exim4 or /usr/bin/python3 is not installed");
		return;
	}
	/* a SHA-512 hash of 200000 rounds: each verification is measurable */
	pw_hash = exm_dp_hash_rounds("pw", 200000);
	fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	g_test_message("exim on %s, sandbox %s", fx->addr, fx->root);
	if (!exm_dp_fixture_configure(fx, &error) || !exm_dp_fixture_start_sink(fx, &error) ||
	    !exm_dp_fixture_start_exim(fx, &error) ||
	    (driver = exm_dp_driver_new(fx->config, &error)) == NULL)
		setup_failure = g_strdup(error->message);
}

int
main(int argc, char **argv)
{
	int rc;

	exm_test_init(&argc, &argv);
	g_test_add_func("/dp/abuse/messages-per-hour", test_messages_per_hour);
	g_test_add_func("/dp/abuse/recipients-per-day", test_recipients_per_day);
	g_test_add_func("/dp/abuse/instance-default", test_instance_default);
	g_test_add_func("/dp/abuse/senders", test_senders);
	g_test_add_func("/dp/abuse/instance-ceiling", test_instance_ceiling);
	g_test_add_func("/dp/abuse/rotation", test_rotation);
	/* last: it locks the fixture's own address */
	g_test_add_func("/dp/abuse/login-defence", test_login_defence);
	start();
	rc = g_test_run();
	exm_dp_driver_free(driver);
	exm_dp_fixture_free(fx);
	g_free(pw_hash);
	g_free(setup_failure);
	return rc;
}
