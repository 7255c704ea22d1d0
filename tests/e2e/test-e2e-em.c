/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The EM path end to end (issue 14 #1, docs/em-path.md): the fake Core hands
 * the exordos_notification manifest's instance and account (a plaintext
 * password) to the host's core-agent as targets; they are created through
 * the plugin, the instance's node comes up through the core backend, the
 * account logs in over SMTP, and ten further core-agent cycles write no row
 * and no passwd line; a refused manifest value comes back as the resource's
 * failure with the plugin's message.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "exm-test.h"
#include "exm-uuid.h"
#include "test-core-e2e-fixture.h"
#include "test-e2e-smtp.h"

#define K_INST	 "em_mailaas_types_mail_instances"
#define K_ACC	 "em_mailaas_types_mail_instances_accounts"
#define U_INST	 "4e4e4e4e-1111-4222-8333-444444444444"
#define U_ACC	 "5f5f5f5f-1111-4222-8333-444444444444"
#define PLAIN	 "6a1f0c9e2b7d4e8f9a0b1c2d3e4f5a6b"
#define EM_LOGIN "smtp@" E2E_DOMAIN

static gchar *
em_agent(void)
{
	return exm_uuid_v5(CORE_E2E_EM_NODE, "core_agent", NULL);
}

/* The manifest's resources as the core-agent's targets. */
static void
load_targets(CoreE2e *e, gint cpu)
{
	g_autofree gchar *agent = em_agent();
	g_autofree gchar *body = g_strdup_printf(
		"{\"agent\":\"%s\",\"resources\":["
		"{\"kind\":\"" K_INST "\",\"uuid\":\"" U_INST "\",\"value\":{"
		"\"uuid\":\"" U_INST "\",\"name\":\"notification_mail\","
		"\"project_id\":\"" CORE_E2E_EM_PROJECT "\",\"domain\":\"" E2E_DOMAIN "\","
		"\"cpu\":%d,\"ram\":1024,\"disk_size\":10,\"version\":\"%s\"}},"
		"{\"kind\":\"" K_ACC "\",\"uuid\":\"" U_ACC "\",\"value\":{"
		"\"uuid\":\"" U_ACC "\",\"instance\":\"/v1/types/mail/instances/" U_INST "\","
		"\"project_id\":\"" CORE_E2E_EM_PROJECT "\",\"username\":\"smtp\","
		"\"password\":\"" PLAIN "\"}}]}",
		agent,
		cpu,
		e->version_uri);

	core_fake_post(e->fake, "/_fake/ua/targets", body);
}

/* The actual the core-agent reported for @uuid, or NULL. */
static JsonObject *
actual_of(CoreE2e *e, const gchar *uuid)
{
	g_autoptr(JsonObject) state = core_fake_get(e->fake, "/_fake/ua/state");
	JsonArray *all = json_object_get_array_member(state, "actuals");

	for (guint i = 0; i < json_array_get_length(all); i++) {
		JsonObject *a = json_array_get_object_element(all, i);

		if (g_str_equal(json_object_get_string_member(a, "uuid"), uuid))
			return json_object_ref(a);
	}
	return NULL;
}

static const gchar *
target_hash(CoreE2e *e, JsonObject *state, const gchar *uuid)
{
	JsonArray *all = json_object_get_array_member(state, "targets");

	for (guint i = 0; i < json_array_get_length(all); i++) {
		JsonObject *t = json_array_get_object_element(all, i);

		if (g_str_equal(json_object_get_string_member(t, "uuid"), uuid))
			return json_object_get_string_member(t, "hash");
	}
	return NULL;
}

/* What the fake Core saw, for a failure's log. */
static void
dump_fake(CoreE2e *e)
{
	g_autoptr(JsonObject) state = core_fake_state(e->fake);
	g_autoptr(JsonObject) ua = core_fake_get(e->fake, "/_fake/ua/state");
	g_autoptr(JsonNode) a = json_node_init_object(json_node_alloc(), state);
	g_autoptr(JsonNode) b = json_node_init_object(json_node_alloc(), ua);
	g_autofree gchar *ta = json_to_string(a, FALSE);
	g_autofree gchar *tb = json_to_string(b, FALSE);

	g_test_message("fake calls: %.3000s",
		       strstr(ta, "\"calls\"") ? strstr(ta, "\"calls\"") : ta);
	g_test_message("fake ua: %.3000s", tb);
}

/* Bounded wait until the reported actual of @uuid hashes as its target. */
static gboolean
wait_converged(CoreE2e *e, const gchar *uuid)
{
	for (guint i = 0; i < E2E_WAIT_S * 10; i++) {
		g_autoptr(JsonObject) state = core_fake_get(e->fake, "/_fake/ua/state");
		g_autoptr(JsonObject) a = actual_of(e, uuid);

		if (a != NULL && g_strcmp0(json_object_get_string_member(a, "hash"),
					   target_hash(e, state, uuid)) == 0)
			return TRUE;
		g_usleep(100 * 1000);
	}
	g_test_message("%s never converged", uuid);
	dump_fake(e);
	return FALSE;
}

static gchar *
db_scalar(CoreE2e *e, const gchar *sql)
{
	g_autoptr(GError) error = NULL;
	gchar *v = exm_test_pg_exec(e->t->conninfo, sql, &error);

	g_assert_no_error(error);
	return v;
}

/*
 * Bounded wait until the host's scheduled DNS check (docs/dns-verification.md
 * §7) has looked at the new instance: it writes the row once, soon after
 * ACTIVE, and then not again for its period, so the idempotence window below
 * starts after it.
 */
static gboolean
wait_dns_checked(CoreE2e *e)
{
	for (guint i = 0; i < E2E_WAIT_S * 10; i++) {
		g_autofree gchar *now = db_scalar(e,
						  "SELECT dns_checked_at IS NOT NULL FROM "
						  "mail_instances WHERE uuid = '" U_INST "'");

		if (g_strcmp0(now, "t") == 0)
			return TRUE;
		g_usleep(100 * 1000);
	}
	return FALSE;
}

/* Bounded wait until the node's report of the test's logins has reached the
 * account (the usage member names the secret that logged in, and the
 * builder writes the account and instance rows once for it): that write is
 * a change, not churn, so the quiet window starts after it. */
static gboolean
wait_login_reported(CoreE2e *e)
{
	for (guint i = 0; i < E2E_WAIT_S * 10; i++) {
		g_autofree gchar *now = db_scalar(e,
						  "SELECT bool_and(password_last_login_at IS NOT "
						  "NULL) FROM mail_accounts");

		if (g_strcmp0(now, "t") == 0)
			return TRUE;
		g_usleep(100 * 1000);
	}
	return FALSE;
}

/* Bounded wait until the instance row has @status. */
static gboolean
wait_instance(CoreE2e *e, const gchar *status)
{
	for (guint i = 0; i < E2E_WAIT_S * 10; i++) {
		g_autofree gchar *now =
			db_scalar(e, "SELECT status FROM mail_instances WHERE uuid = '" U_INST "'");

		if (g_strcmp0(now, status) == 0)
			return TRUE;
		g_usleep(100 * 1000);
	}
	return FALSE;
}

static gchar *
rows(CoreE2e *e)
{
	return db_scalar(
		e,
		"SELECT string_agg(t, ' ' ORDER BY t) FROM (SELECT xmin::text || updated_at::text "
		"|| password_hash AS t FROM mail_accounts UNION ALL SELECT xmin::text || "
		"updated_at::text FROM mail_instances UNION ALL SELECT xmin::text || seal FROM "
		"mail_account_seals) s");
}

/* inode, mtime (ns) and content of the node's passwd file. */
static gchar *
passwd_state(const ExhLocalNodeInfo *node)
{
	g_autofree gchar *path = g_build_filename(node->root, "etc/exim4/passwd", NULL);
	g_autofree gchar *text = NULL;
	GStatBuf st;

	g_assert_cmpint(g_stat(path, &st), ==, 0);
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	g_assert_null(strstr(text, PLAIN));
	return g_strdup_printf("%lu %ld.%09ld %s",
			       (gulong)st.st_ino,
			       (glong)st.st_mtim.tv_sec,
			       st.st_mtim.tv_nsec,
			       text);
}

/* Waits for @n more get_payload polls of the core-agent (its cycles). */
static void
wait_cycles(CoreE2e *e, guint n)
{
	guint start = core_fake_count(e->fake, "GET", "get_payload");

	for (guint i = 0; i < E2E_WAIT_S * 20; i++) {
		if (core_fake_count(e->fake, "GET", "get_payload") >= start + n)
			return;
		g_usleep(100 * 1000);
	}
	g_assert_not_reached();
}

static void
check_refused(CoreE2e *e)
{
	load_targets(e, 0);
	for (guint i = 0; i < E2E_WAIT_S * 10; i++) {
		g_autoptr(JsonObject) a = actual_of(e, U_INST);
		JsonObject *value = a != NULL ? json_object_get_object_member(a, "value") : NULL;
		JsonObject *err = value != NULL && json_object_has_member(value, "error")
					  ? json_object_get_object_member(value, "error")
					  : NULL;

		if (err != NULL &&
		    g_str_equal(json_object_get_string_member(a, "status"), "ERROR")) {
			g_test_message("refused: %s",
				       json_object_get_string_member(err, "message"));
			g_assert_cmpstr(
				json_object_get_string_member(err, "type"), ==, "ModelTypeError");
			g_assert_nonnull(
				strstr(json_object_get_string_member(err, "message"), "cpu"));
			return;
		}
		g_usleep(100 * 1000);
	}
	g_assert_not_reached();
}

static void
test_em_notification(void)
{
	g_autoptr(CoreE2e) e = core_e2e_new_full(600, TRUE);
	g_autoptr(ExhLocalNodeInfo) node = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *pw_before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *pw_after = NULL;

	if (e == NULL)
		return;
	load_targets(e, 1);
	g_assert_true(wait_converged(e, U_INST));
	g_assert_true(wait_converged(e, U_ACC));
	g_assert_true(wait_instance(e, "ACTIVE"));
	node = core_e2e_node(e, U_INST);
	g_assert_nonnull(node);
	g_assert_true(e2e_wait_login(NULL, node, FALSE, EM_LOGIN, PLAIN, 235));
	g_assert_true(wait_dns_checked(e));
	g_assert_true(wait_login_reported(e));
	wait_cycles(e, 2);
	before = rows(e);
	pw_before = passwd_state(node);
	wait_cycles(e, 10);
	after = rows(e);
	pw_after = passwd_state(node);
	g_assert_cmpstr(after, ==, before);
	g_assert_cmpstr(pw_after, ==, pw_before);
	g_assert_cmpint(e2e_login(NULL, node, FALSE, EM_LOGIN, PLAIN), ==, 235);
	check_refused(e);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/e2e/em/notification", test_em_notification);
	return g_test_run();
}
