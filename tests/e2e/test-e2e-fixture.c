/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "test-e2e-fixture.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "exm-config.h"
#include "exm-test.h"

#define INSTANCES "/v1/types/mail/instances/"

static void
break_key_dir(const gchar *node_uuid, const gchar *root, gpointer data)
{
	E2e *e = data;

	(void)node_uuid;
	if (e->break_keys)
		exm_test_break_dkim_dir(root);
}

static gboolean
have_peers(void)
{
	return exm_test_need_root_and("the local backend's exim", "exim4");
}

static gboolean
seed_version(E2e *e)
{
	g_autoptr(ExhTestResponse) r = exh_test_request(
		e->t,
		"POST",
		"/v1/types/mail/versions/",
		EXH_TEST_TOKEN_OPERATOR,
		"{\"name\":\"exim4_1\",\"image\":\"http://repo/exordos-metapaas-mail-dp.raw\"}");
	const gchar *uuid = exh_test_response_get_string(r, "uuid");

	if (r->status != 201 || uuid == NULL) {
		g_test_fail_printf("seed version: %u %s", r->status, r->body);
		return FALSE;
	}
	e->version_uri = g_strdup_printf("/v1/types/mail/versions/%s", uuid);
	return TRUE;
}

static gboolean
start_backend(E2e *e)
{
	g_autoptr(ExhLocalConfig) config = exh_local_config_new();
	g_autoptr(GError) error = NULL;

	e->state_dir = exm_test_mkdtemp("exh-e2e");
	config->state_dir = g_strdup(e->state_dir);
	config->node_descriptor = exh_test_node_descriptor_path();
	config->envelope = e->envelope;
	config->stop_timeout_ms = 3000;
	config->pre_configure = break_key_dir;
	config->pre_configure_data = e;
	/* run against another build's binaries (debugging aid) */
	exh_local_config_set(config, "configure", g_getenv("EXH_LOCAL_CONFIGURE"));
	exh_local_config_set(config, "agent", g_getenv("EXH_LOCAL_AGENT"));
	exh_local_config_set(config, "smarthost", e->smarthost);
	e->backend = exh_local_backend_new(config, &error);
	if (e->backend == NULL) {
		g_test_fail_printf("local backend: %s", error->message);
		return FALSE;
	}
	return TRUE;
}

E2e *
e2e_new(gboolean envelope)
{
	return e2e_new_with_smarthost(envelope, NULL);
}

E2e *
e2e_new_with_smarthost(gboolean envelope, const gchar *smarthost)
{
	g_autoptr(E2e) e = g_new0(E2e, 1);
	ExhTestOptions options = { .agent_api = TRUE, .plain_agents = !envelope };

	if (!have_peers())
		return NULL;
	e->envelope = envelope;
	e->smarthost = g_strdup(smarthost);
	if (!start_backend(e))
		return NULL;
	options.backend = e->backend;
	e->t = exh_test_new(&options);
	if (e->t == NULL || !seed_version(e))
		return NULL;
	return g_steal_pointer(&e);
}

void
e2e_free(E2e *e)
{
	if (e == NULL)
		return;
	/* the host borrows the backend: it goes first */
	g_clear_pointer(&e->t, exh_test_free);
	g_clear_pointer(&e->backend, exh_infra_backend_free);
	if (e->state_dir != NULL) {
		g_assert_cmpuint(exm_test_count_processes(e->state_dir), ==, 0);
		exm_test_rmtree(e->state_dir);
	}
	g_free(e->state_dir);
	g_free(e->version_uri);
	g_free(e->smarthost);
	g_free(e);
}

gchar *
e2e_create_instance(E2e *e, const gchar *name, const gchar *domain)
{
	/* the suites poll logins until an account reaches the node: those
	 * failures are by design, so the login defence (docs/abuse-controls.md)
	 * gets its highest threshold, not the default 10 that would lock the
	 * polling client out */
	g_autofree gchar *body = g_strdup_printf(
		"{\"name\":\"%s\",\"project_id\":\"%s\",\"domain\":\"%s\",\"cpu\":1,\"ram\":1024,"
		"\"disk_size\":10,\"version\":\"%s\",\"auth_fail_limit\":1000}",
		name,
		EXH_TEST_PROJECT,
		domain,
		e->version_uri);
	g_autoptr(ExhTestResponse) r =
		exh_test_request(e->t, "POST", INSTANCES, EXH_TEST_TOKEN_OWNER, body);

	if (r->status != 201) {
		g_test_fail_printf("create instance: %u %s", r->status, r->body);
		return NULL;
	}
	return g_strdup(exh_test_response_get_string(r, "uuid"));
}

JsonObject *
e2e_wait_instance(E2e *e, const gchar *uuid, const gchar *status)
{
	g_autofree gchar *path = g_strdup_printf(INSTANCES "%s", uuid);
	g_autofree gchar *last = NULL;

	for (guint i = 0; i < E2E_WAIT_S * 10; i++) {
		g_autoptr(ExhTestResponse) r =
			exh_test_request(e->t, "GET", path, EXH_TEST_TOKEN_OWNER, NULL);
		const gchar *s = exh_test_response_get_string(r, "status");

		if (r->status == 200 && g_strcmp0(s, status) == 0)
			return json_object_ref(json_node_get_object(r->json));
		g_free(last);
		last = g_strdup(r->body);
		g_usleep(100 * 1000);
	}
	g_test_message("instance %s never became %s; last: %s", uuid, status, last);
	return NULL;
}

gchar *
e2e_create_account(E2e *e, const gchar *instance, const gchar *user, const gchar *password)
{
	return e2e_create_account_on(e->t, instance, user, password);
}

gchar *
e2e_create_account_on(ExhTest *host,
		      const gchar *instance,
		      const gchar *user,
		      const gchar *password)
{
	g_autofree gchar *path = g_strdup_printf(INSTANCES "%s/accounts/", instance);
	g_autofree gchar *body =
		g_strdup_printf("{\"username\":\"%s\",\"password\":\"%s\",\"project_id\":\"%s\"}",
				user,
				password,
				EXH_TEST_PROJECT);
	g_autoptr(ExhTestResponse) r =
		exh_test_request(host, "POST", path, EXH_TEST_TOKEN_OWNER, body);

	if (r->status != 201) {
		g_test_fail_printf("create account: %u %s", r->status, r->body);
		return NULL;
	}
	return g_strdup(exh_test_response_get_string(r, "uuid"));
}

guint
e2e_update_account(E2e *e, const gchar *instance, const gchar *account, const gchar *body)
{
	g_autofree gchar *path = g_strdup_printf(INSTANCES "%s/accounts/%s", instance, account);
	g_autoptr(ExhTestResponse) r =
		exh_test_request(e->t, "PUT", path, EXH_TEST_TOKEN_OWNER, body);

	if (r->status != 200)
		g_test_message("update account: %u %s", r->status, r->body);
	return r->status;
}

guint
e2e_delete(E2e *e, const gchar *path)
{
	g_autofree gchar *full = g_strconcat("/v1/types/mail/", path, NULL);
	g_autoptr(ExhTestResponse) r =
		exh_test_request(e->t, "DELETE", full, EXH_TEST_TOKEN_OWNER, NULL);

	return r->status;
}

ExhLocalNodeInfo *
e2e_node(E2e *e, const gchar *instance)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ExhNodeSetActual) set =
		exh_infra_backend_get_node_set(e->backend, instance, &error);

	if (set == NULL || set->nodes->len == 0)
		return NULL;
	return exh_local_backend_get_node_info(e->backend,
					       ((ExhInfraNode *)set->nodes->pdata[0])->uuid);
}

gint
e2e_login(E2e *e,
	  const ExhLocalNodeInfo *node,
	  gboolean implicit_tls,
	  const gchar *user,
	  const gchar *password)
{
	g_autoptr(GError) error = NULL;
	gint code =
		e2e_smtp_auth(node->ipv4,
			      exh_local_node_info_port(node, implicit_tls ? "smtps" : "submission"),
			      implicit_tls ? E2E_SMTP_IMPLICIT : E2E_SMTP_STARTTLS,
			      user,
			      password,
			      &error);

	(void)e;
	if (code < 0)
		g_test_message("login %s: %s", user, error->message);
	return code;
}

gboolean
e2e_wait_login(E2e *e,
	       const ExhLocalNodeInfo *node,
	       gboolean implicit_tls,
	       const gchar *user,
	       const gchar *password,
	       gint code)
{
	gint last = 0;

	for (guint i = 0; i < E2E_WAIT_S * 20; i++) {
		last = e2e_login(e, node, implicit_tls, user, password);
		if (last == code)
			return TRUE;
		g_usleep(50 * 1000);
	}
	g_test_message("login %s never answered %d (last %d)", user, code, last);
	return FALSE;
}

gint64
e2e_time_to_login(E2e *e,
		  const ExhLocalNodeInfo *node,
		  const gchar *user,
		  const gchar *password,
		  gint64 max_us)
{
	gint64 start = g_get_monotonic_time();

	while (g_get_monotonic_time() - start < max_us) {
		if (e2e_login(e, node, FALSE, user, password) == 235)
			return g_get_monotonic_time() - start;
		g_usleep(5 * 1000);
	}
	return -1;
}

static guint
url_port(const gchar *url)
{
	const gchar *colon = url != NULL ? strrchr(url, ':') : NULL;

	return colon != NULL ? (guint)atoi(colon + 1) : 0;
}

void
e2e_stop_host(E2e *e)
{
	ExhHostConfig *config = e->t->config;

	/* the next host takes the same ports: the agents' URLs stay valid */
	config->port = exh_host_get_port(e->t->host);
	config->orch_port = url_port(exh_host_get_orch_url(e->t->host));
	config->status_port = url_port(exh_host_get_status_url(e->t->host));
	soup_session_abort(e->t->session);
	g_clear_pointer(&e->t->host, exh_host_free);
}

gboolean
e2e_start_host(E2e *e)
{
	g_autoptr(GError) error = NULL;

	e->t->host = exh_host_new(e->t->config, &error);
	if (e->t->host == NULL || !exh_host_start(e->t->host, &error)) {
		g_test_fail_printf("host restart: %s", error->message);
		return FALSE;
	}
	return TRUE;
}

ExhTest *
e2e_start_peer_host(E2e *e)
{
	g_autoptr(ExhTest) peer = g_new0(ExhTest, 1);
	ExhHostConfig *config = exh_host_config_new();
	g_autoptr(GError) error = NULL;

	peer->pg = e->t->pg;
	peer->conninfo = g_strdup(e->t->conninfo);
	peer->token_file = g_strdup(e->t->token_file);
	peer->config = config;
	g_free(config->conninfo);
	config->conninfo = g_strdup(peer->conninfo);
	config->token_file = g_strdup(peer->token_file);
	g_strfreev(config->plugins);
	config->plugins = g_strdupv(e->t->config->plugins);
	config->port = config->orch_port = config->status_port = 0;
	config->agent_api = TRUE;
	config->plain_agents = e->t->config->plain_agents;
	config->backend = e->backend;
	peer->host = exh_host_new(config, &error);
	if (peer->host == NULL || !exh_host_start(peer->host, &error)) {
		g_test_fail_printf("peer host: %s", error->message);
		return NULL;
	}
	peer->base_url = g_strdup(exh_host_get_base_url(peer->host));
	peer->session = soup_session_new_with_options("timeout", 120, NULL);
	return g_steal_pointer(&peer);
}

/* ------------------------------------------------------------------ the dp sink, a message */

#define SCRIPTS EXM_SOURCE_ROOT "/tests/dp/"
#define PYTHON	"/usr/bin/python3"

void
e2e_sink_start(E2eSink *sink)
{
	gint port = exm_test_free_port();
	g_autofree gchar *p = g_strdup_printf("%d", port);
	g_autoptr(GError) error = NULL;

	sink->smarthost = g_strdup_printf("127.0.0.1:%d", port);
	sink->dir = exm_test_mkdtemp("e2e-sink");
	{
		const gchar *argv[] = { PYTHON, SCRIPTS "smtp-sink.py", "127.0.0.1", p, sink->dir,
					NULL };

		g_assert_true(g_spawn_async(NULL,
					    (gchar **)argv,
					    NULL,
					    G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
					    exm_test_die_with_parent,
					    GINT_TO_POINTER(SIGKILL),
					    &sink->pid,
					    &error));
	}
	g_assert_no_error(error);
	for (guint i = 0; i < 100 && !exm_test_can_connect("127.0.0.1", (guint)port); i++)
		g_usleep(50 * 1000);
}

void
e2e_sink_clear(E2eSink *sink)
{
	if (sink->pid > 0) {
		kill(sink->pid, SIGKILL);
		waitpid(sink->pid, NULL, 0);
		g_spawn_close_pid(sink->pid);
	}
	if (sink->dir != NULL)
		exm_test_rmtree(sink->dir);
	g_free(sink->dir);
	g_free(sink->smarthost);
	memset(sink, 0, sizeof(*sink));
}

gint64
e2e_send_mail(const gchar *addr, const gchar *user, const gchar *password, const gchar *to)
{
	const gchar *argv[] = { PYTHON, SCRIPTS "smtp-client.py",
				"send", addr,
				"587",	"starttls",
				user,	password,
				user,	to,
				NULL };
	g_autofree gchar *out = NULL;
	g_autoptr(JsonNode) node = NULL;

	g_assert_cmpint(exm_test_run(argv, &out, NULL), ==, 0);
	node = json_from_string(out, NULL);
	g_assert_nonnull(node);
	return json_object_get_int_member(json_node_get_object(node), "code");
}

JsonObject *
e2e_get_json(E2e *e, const gchar *path)
{
	g_autoptr(ExhTestResponse) r =
		exh_test_request(e->t, "GET", path, EXH_TEST_TOKEN_OWNER, NULL);
	g_autoptr(JsonNode) node = NULL;

	if (r->status != 200)
		return NULL;
	node = json_from_string(r->body, NULL);
	return node != NULL && JSON_NODE_HOLDS_OBJECT(node) ? json_node_dup_object(node) : NULL;
}
