/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * From API call to SMTP login (issue 5 item 7), through the public API only:
 * the in-process host with the mail plugin, the agent API and the builder
 * engine; the local backend running the real configure, exim4 and agent per
 * node; logins with an in-process SMTP client on 587 (STARTTLS) and 465.
 */
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "exm-json.h"
#include "exm-test.h"
#include "exm-time.h"
#include "test-e2e-fixture.h"

#define USER	 "alice@" E2E_DOMAIN
#define PASSWORD "correct horse battery"

#define RETURN_IF_NULL(x)                                                                          \
	G_STMT_START                                                                               \
	{                                                                                          \
		g_assert_nonnull(x);                                                               \
		if ((x) == NULL)                                                                   \
			return;                                                                    \
	}                                                                                          \
	G_STMT_END

/* An ACTIVE instance with its node; %NULL members when it did not come up. */
typedef struct {
	gchar *uuid;
	JsonObject *json;
	ExhLocalNodeInfo *node;
} Instance;

static void
instance_clear(Instance *in)
{
	g_free(in->uuid);
	g_clear_pointer(&in->json, json_object_unref);
	g_clear_pointer(&in->node, exh_local_node_info_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Instance, instance_clear)

static gboolean
bring_up(E2e *e, Instance *in)
{
	JsonArray *ips;
	const gchar *dkim;

	in->uuid = e2e_create_instance(e, "mail-e2e", E2E_DOMAIN);
	if (in->uuid == NULL)
		return FALSE;
	in->json = e2e_wait_instance(e, in->uuid, "ACTIVE");
	g_assert_nonnull(in->json);
	if (in->json == NULL)
		return FALSE;
	ips = json_object_get_array_member(in->json, "ipsv4");
	g_assert_cmpuint(json_array_get_length(ips), ==, 1);
	dkim = json_object_get_string_member(in->json, "dkim_public_key");
	g_assert_true(dkim != NULL && strlen(dkim) > 100);
	g_assert_cmpstr(json_object_get_string_member(in->json, "dkim_selector"), ==, "platform");
	in->node = e2e_node(e, in->uuid);
	g_assert_nonnull(in->node);
	if (in->node == NULL)
		return FALSE;
	g_assert_cmpstr(json_array_get_string_element(ips, 0), ==, in->node->ipv4);
	return TRUE;
}

/* bring_up, then alice's account, once her login works on the node. */
static gboolean
bring_up_alice(E2e *e, Instance *in, gchar **account)
{
	if (!bring_up(e, in))
		return FALSE;
	*account = e2e_create_account(e, in->uuid, "alice", PASSWORD);
	g_assert_nonnull(*account);
	if (*account == NULL)
		return FALSE;
	g_assert_true(e2e_wait_login(e, in->node, FALSE, USER, PASSWORD, 235));
	return TRUE;
}

static void
test_account_lifecycle(void)
{
	g_autoptr(E2e) e = e2e_new(TRUE);
	g_auto(Instance) in = { 0 };
	g_autofree gchar *account = NULL;
	g_autofree gchar *path = NULL;

	if (e == NULL || !bring_up_alice(e, &in, &account))
		return;
	g_assert_cmpint(e2e_login(e, in.node, TRUE, USER, PASSWORD), ==, 235);
	g_assert_cmpint(e2e_login(e, in.node, FALSE, "alice", PASSWORD), ==, 235);
	g_assert_cmpint(e2e_login(e, in.node, FALSE, USER, "wrong"), ==, 535);

	/* disabled → refused; enabled again → accepted */
	g_assert_cmpuint(e2e_update_account(e, in.uuid, account, "{\"active\":false}"), ==, 200);
	g_assert_true(e2e_wait_login(e, in.node, FALSE, USER, PASSWORD, 535));
	g_assert_cmpint(e2e_login(e, in.node, TRUE, USER, PASSWORD), ==, 535);
	g_assert_cmpuint(e2e_update_account(e, in.uuid, account, "{\"active\":true}"), ==, 200);
	g_assert_true(e2e_wait_login(e, in.node, FALSE, USER, PASSWORD, 235));

	/* password change: the new one works, the old one is refused */
	g_assert_cmpuint(e2e_update_account(e, in.uuid, account, "{\"password\":\"new secret 2\"}"),
			 ==,
			 200);
	g_assert_true(e2e_wait_login(e, in.node, FALSE, USER, "new secret 2", 235));
	g_assert_cmpint(e2e_login(e, in.node, TRUE, USER, PASSWORD), ==, 535);

	/* deleted → refused */
	path = g_strdup_printf("instances/%s/accounts/%s", in.uuid, account);
	g_assert_cmpuint(e2e_delete(e, path), ==, 204);
	g_assert_true(e2e_wait_login(e, in.node, FALSE, USER, "new secret 2", 535));
}

/* Bounded wait (a hang guard) until the account shows the new secret's
 * last login and, when the old one was used (@old_tried), the old one's. */
static void
wait_login_times(E2e *e, const gchar *instance, const gchar *account, gboolean old_tried)
{
	g_autofree gchar *path =
		g_strdup_printf("/v1/types/mail/instances/%s/accounts/%s", instance, account);
	gboolean cur = FALSE, prev = FALSE;

	for (guint i = 0; i < E2E_WAIT_S * 10 && !(cur && (prev || !old_tried)); i++) {
		g_autoptr(ExhTestResponse) r =
			exh_test_request(e->t, "GET", path, EXH_TEST_TOKEN_OWNER, NULL);
		g_autoptr(JsonObject) o = exm_json_parse_object(r->body, strlen(r->body), NULL);

		g_assert_nonnull(o);
		cur = !json_object_get_null_member(o, "password_last_login_at");
		prev = !json_object_get_null_member(o, "previous_password_last_login_at");
		if (!(cur && (prev || !old_tried)))
			g_usleep(100 * 1000);
	}
	g_assert_true(cur);
	g_assert_true(prev || !old_tried);
}

/* Rotation with an overlap window through the API (docs/abuse-controls.md
 * §5): the new secret reaches the node, the old one keeps working until the
 * deadline and stops then with no further call, the account shows when each
 * secret last logged in; an expiry in the past ends every login. */
static void
test_rotation(void)
{
	g_autoptr(E2e) e = e2e_new(TRUE);
	g_auto(Instance) in = { 0 };
	g_autofree gchar *account = NULL;
	g_autofree gchar *path = NULL;
	g_autoptr(ExhTestResponse) r = NULL;
	g_autoptr(JsonObject) shown = NULL;
	gint64 until_us = 0;
	gboolean old_tried = FALSE;

	if (e == NULL || !bring_up_alice(e, &in, &account))
		return;
	path = g_strdup_printf(
		"/v1/types/mail/instances/%s/accounts/%s/actions/rotate/invoke", in.uuid, account);
	r = exh_test_request(e->t,
			     "POST",
			     path,
			     EXH_TEST_TOKEN_OWNER,
			     "{\"password\": \"rotated secret 3\", \"overlap_seconds\": 12}");
	g_assert_cmpuint(r->status, ==, 200);
	g_assert_null(strstr(r->body, "rotated secret"));
	shown = exm_json_parse_object(r->body, strlen(r->body), NULL);
	g_assert_nonnull(shown);
	g_assert_true(exm_time_parse(
		json_object_get_string_member(shown, "previous_password_valid_until"), &until_us));
	g_assert_true(e2e_wait_login(e, in.node, FALSE, USER, "rotated secret 3", 235));
	/* inside the window both log in */
	if (g_get_real_time() < until_us - 2 * G_USEC_PER_SEC) {
		g_assert_cmpint(e2e_login(e, in.node, FALSE, USER, PASSWORD), ==, 235);
		old_tried = TRUE;
	} else {
		g_test_message("the window closed before the old secret was tried");
	}
	/* then only the new one, on the node's clock */
	while (g_get_real_time() <= until_us + G_USEC_PER_SEC)
		g_usleep(200 * 1000);
	g_assert_cmpint(e2e_login(e, in.node, FALSE, USER, PASSWORD), ==, 535);
	g_assert_cmpint(e2e_login(e, in.node, FALSE, USER, "rotated secret 3"), ==, 235);
	/* the account shows when each secret last logged in, as the node saw it */
	wait_login_times(e, in.uuid, account, old_tried);

	/* an expiry in the past: no login at all */
	g_assert_cmpuint(
		e2e_update_account(
			e, in.uuid, account, "{\"expires_at\": \"2020-01-01T00:00:00.000000Z\"}"),
		==,
		200);
	g_assert_true(e2e_wait_login(e, in.node, FALSE, USER, "rotated secret 3", 535));
}

/* disk grow reaches the NodeSet; delete removes processes and sandbox */
static void
test_resize_and_delete(void)
{
	g_autoptr(E2e) e = e2e_new(TRUE);
	g_auto(Instance) in = { 0 };
	g_autofree gchar *path = NULL;
	g_autofree gchar *inst_path = NULL;
	gint64 size = 0;

	if (e == NULL || !bring_up(e, &in))
		return;
	inst_path = g_strdup_printf("/v1/types/mail/instances/%s", in.uuid);
	{
		g_autoptr(ExhTestResponse) r = exh_test_request(
			e->t, "PUT", inst_path, EXH_TEST_TOKEN_OWNER, "{\"disk_size\":30}");

		g_assert_cmpuint(r->status, ==, 200);
	}
	for (guint i = 0; i < E2E_WAIT_S * 10 && size != 30; i++) {
		g_autoptr(ExhNodeSetActual) set =
			exh_infra_backend_get_node_set(e->backend, in.uuid, NULL);

		if (set != NULL && set->target->disks->len == 2)
			size = ((ExhInfraDisk *)set->target->disks->pdata[1])->size;
		if (size != 30)
			g_usleep(100 * 1000);
	}
	g_assert_cmpint(size, ==, 30);

	path = g_strdup_printf("instances/%s", in.uuid);
	g_assert_cmpuint(e2e_delete(e, path), ==, 204);
	for (guint i = 0; i < E2E_WAIT_S * 10 && g_file_test(in.node->dir, G_FILE_TEST_EXISTS); i++)
		g_usleep(100 * 1000);
	g_assert_false(g_file_test(in.node->dir, G_FILE_TEST_EXISTS));
	g_assert_cmpuint(exm_test_count_processes(in.node->dir), ==, 0);
	g_assert_cmpint(kill(in.node->service_pid, 0), !=, 0);
	g_assert_null(exh_infra_backend_get_node_set(e->backend, in.uuid, NULL));
}

static void
test_configure_failure(void)
{
	g_autoptr(E2e) e = e2e_new(TRUE);
	g_autofree gchar *uuid = NULL;
	g_autoptr(JsonObject) json = NULL;

	if (e == NULL)
		return;
	e->break_keys = TRUE;
	uuid = e2e_create_instance(e, "mail-broken", E2E_DOMAIN);
	RETURN_IF_NULL(uuid);
	json = e2e_wait_instance(e, uuid, "ERROR");
	g_assert_nonnull(json);
}

/* The control plane goes away: the node keeps serving; back, it converges. */
static void
test_host_down(void)
{
	g_autoptr(E2e) e = e2e_new(TRUE);
	g_auto(Instance) in = { 0 };
	g_autofree gchar *account = NULL;
	g_autofree gchar *bob = NULL;

	if (e == NULL || !bring_up_alice(e, &in, &account))
		return;
	e2e_stop_host(e);
	g_usleep(3 * G_USEC_PER_SEC);
	g_assert_cmpint(e2e_login(e, in.node, FALSE, USER, PASSWORD), ==, 235);
	g_assert_cmpint(e2e_login(e, in.node, TRUE, USER, PASSWORD), ==, 235);
	if (!e2e_start_host(e))
		return;
	bob = e2e_create_account(e, in.uuid, "bob", "bob secret");
	RETURN_IF_NULL(bob);
	g_assert_true(e2e_wait_login(e, in.node, FALSE, "bob@" E2E_DOMAIN, "bob secret", 235));
	g_assert_cmpint(e2e_login(e, in.node, FALSE, USER, PASSWORD), ==, 235);
}

static gboolean
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static gboolean
wait_agent_started(E2e *e, Instance *in, guint starts)
{
	for (guint i = 0; i < E2E_WAIT_S * 10; i++) {
		g_autoptr(ExhLocalNodeInfo) info = e2e_node(e, in->uuid);

		if (info != NULL && info->agent_starts >= starts && info->agent_pid > 0)
			return TRUE;
		g_usleep(100 * 1000);
	}
	return FALSE;
}

/* Agent restarted: no rewrite; an account made while it was down is applied. */
static void
test_agent_down(void)
{
	g_autoptr(E2e) e = e2e_new(TRUE);
	g_auto(Instance) in = { 0 };
	g_autofree gchar *account = NULL;
	g_autofree gchar *bob = NULL;
	g_autofree gchar *passwd = NULL;
	struct stat before, after;

	if (e == NULL || !bring_up_alice(e, &in, &account))
		return;
	passwd = g_build_filename(in.node->root, "etc/exim4/passwd", NULL);
	g_assert_cmpint(g_stat(passwd, &before), ==, 0);

	/* restart: the same payload again writes nothing */
	g_assert_true(exh_local_backend_set_agent_running(e->backend, in.node->uuid, FALSE));
	g_assert_true(exh_local_backend_set_agent_running(e->backend, in.node->uuid, TRUE));
	g_assert_true(wait_agent_started(e, &in, in.node->agent_starts + 1));
	g_usleep(3 * G_USEC_PER_SEC);
	g_assert_cmpint(g_stat(passwd, &after), ==, 0);
	g_assert_true(same_file(&before, &after));

	/* down: a new account is not there; back: it is */
	g_assert_true(exh_local_backend_set_agent_running(e->backend, in.node->uuid, FALSE));
	for (guint i = 0; i < 50; i++) {
		g_autoptr(ExhLocalNodeInfo) info = e2e_node(e, in.uuid);

		if (info->agent_pid == 0)
			break;
		g_usleep(100 * 1000);
	}
	bob = e2e_create_account(e, in.uuid, "bob", "bob secret");
	RETURN_IF_NULL(bob);
	g_usleep(2 * G_USEC_PER_SEC);
	g_assert_cmpint(e2e_login(e, in.node, FALSE, "bob@" E2E_DOMAIN, "bob secret"), ==, 535);
	g_assert_true(exh_local_backend_set_agent_running(e->backend, in.node->uuid, TRUE));
	g_assert_true(e2e_wait_login(e, in.node, FALSE, "bob@" E2E_DOMAIN, "bob secret", 235));
	g_assert_cmpint(e2e_login(e, in.node, TRUE, USER, PASSWORD), ==, 235);
}

/* Agents talking plain (no envelope): the same flow works. */
static void
test_envelope_off(void)
{
	g_autoptr(E2e) e = e2e_new(FALSE);
	g_auto(Instance) in = { 0 };
	g_autofree gchar *account = NULL;
	g_autofree gchar *ini = NULL;
	g_autofree gchar *ini_path = NULL;

	if (e == NULL || !bring_up(e, &in))
		return;
	ini_path = g_build_filename(in.node->dir, "node.ini", NULL);
	ini = exm_test_read_file(ini_path);
	g_assert_nonnull(strstr(ini, "orch_secure_communication=false"));
	account = e2e_create_account(e, in.uuid, "alice", PASSWORD);
	RETURN_IF_NULL(account);
	g_assert_true(e2e_wait_login(e, in.node, FALSE, USER, PASSWORD, 235));
	g_assert_cmpint(e2e_login(e, in.node, TRUE, USER, PASSWORD), ==, 235);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/e2e/account-lifecycle", test_account_lifecycle);
	g_test_add_func("/e2e/rotation", test_rotation);
	g_test_add_func("/e2e/resize-and-delete", test_resize_and_delete);
	g_test_add_func("/e2e/configure-failure", test_configure_failure);
	g_test_add_func("/e2e/host-down", test_host_down);
	g_test_add_func("/e2e/agent-down", test_agent_down);
	g_test_add_func("/e2e/envelope-off", test_envelope_off);
	return g_test_run();
}
