/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host on the core backend against the fake Core (test-core-e2e-fixture.h).
 */
#include "test-core-e2e-fixture.h"

#include "exm-test.h"

void
core_e2e_free(CoreE2e *e)
{
	if (e == NULL)
		return;
	g_clear_pointer(&e->t, exh_test_free);
	g_clear_pointer(&e->core, exh_infra_backend_free);
	g_clear_pointer(&e->bridge, core_bridge_free);
	g_clear_pointer(&e->local, exh_infra_backend_free);
	if (e->state_dir != NULL) {
		g_assert_cmpuint(exm_test_count_processes(e->state_dir), ==, 0);
		exm_test_rmtree(e->state_dir);
	}
	g_clear_pointer(&e->fake, core_fake_free);
	g_free(e->state_dir);
	g_free(e->version_uri);
	if (e->em_dir != NULL)
		exm_test_rmtree(e->em_dir);
	g_free(e->em_dir);
	g_free(e);
}

static gboolean
start_local(CoreE2e *e)
{
	g_autoptr(ExhLocalConfig) config = exh_local_config_new();
	g_autoptr(GError) error = NULL;

	e->state_dir = exm_test_mkdtemp("exh-e2e-core");
	config->state_dir = g_strdup(e->state_dir);
	config->node_descriptor = exh_test_node_descriptor_path();
	config->envelope = TRUE;
	config->stop_timeout_ms = 3000;
	e->local = exh_local_backend_new(config, &error);
	g_assert_no_error(error);
	return e->local != NULL;
}

static gboolean
seed_version(CoreE2e *e)
{
	g_autoptr(ExhTestResponse) r =
		exh_test_request(e->t,
				 "POST",
				 "/v1/types/mail/versions/",
				 EXH_TEST_TOKEN_OPERATOR,
				 "{\"name\":\"exim4_1\",\"image\":\"" IMAGE "\"}");

	g_assert_cmpuint(r->status, ==, 201);
	e->version_uri = g_strdup_printf("/v1/types/mail/versions/%s",
					 exh_test_response_get_string(r, "uuid"));
	return r->status == 201;
}

/* The core-agent's files: its universal agent ini towards the fake's Orch
 * and Status APIs, and a 0600 seal key; its node gets a key row. */
static void
write_core_agent(CoreE2e *e, ExhTestOptions *options)
{
	g_autofree gchar *conf = NULL;
	g_autofree gchar *ini = NULL;
	g_autofree gchar *key = NULL;
	guint8 raw[32];
	g_autofree gchar *b64 = NULL;

	e->em_dir = exm_test_mkdtemp("exh-e2e-em");
	conf = g_build_filename(e->em_dir, "core_agent.conf", NULL);
	key = g_build_filename(e->em_dir, "em-seal.key", NULL);
	ini = g_strdup_printf("[universal_agent]\norch_endpoint = %s/orch\n"
			      "status_endpoint = %s/status\nuuid5_name = core_agent\n"
			      "node_uuid = " CORE_E2E_EM_NODE "\npayload_path = %s/payload.json\n"
			      "orch_secure_communication = false\npoll_interval = 0.5\n",
			      e->fake->endpoint,
			      e->fake->endpoint,
			      e->em_dir);
	g_assert_true(g_file_set_contents(conf, ini, -1, NULL));
	for (guint i = 0; i < sizeof(raw); i++)
		raw[i] = (guint8)g_random_int();
	b64 = g_base64_encode(raw, sizeof(raw));
	g_assert_true(g_file_set_contents_full(key, b64, -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
	core_fake_post(e->fake, "/_fake/ua/nodes", "{\"nodes\":[\"" CORE_E2E_EM_NODE "\"]}");
	options->core_agent_config = g_steal_pointer(&conf);
	options->core_agent_seal_key_file = g_steal_pointer(&key);
}

CoreE2e *
core_e2e_new(guint token_ttl)
{
	return core_e2e_new_full(token_ttl, FALSE);
}

/* The host on the core backend; the fake's nodes through a local backend. */
CoreE2e *
core_e2e_new_full(guint token_ttl, gboolean core_agent)
{
	g_autoptr(CoreE2e) e = g_new0(CoreE2e, 1);
	g_autoptr(ExhCoreConfig) config = NULL;
	g_autoptr(GError) error = NULL;
	ExhTestOptions options = { .agent_api = TRUE, .plain_agents = FALSE };
	g_autofree gchar *em_conf = NULL;
	g_autofree gchar *em_key = NULL;

	if (!exm_test_need_root_and("the fake Core's nodes' exim", "exim4"))
		return NULL;
	e->fake = core_fake_new("/api/core", token_ttl, 100, TRUE);
	if (e->fake == NULL || !start_local(e))
		return NULL;
	if (core_agent) {
		write_core_agent(e, &options);
		em_conf = (gchar *)options.core_agent_config;
		em_key = (gchar *)options.core_agent_seal_key_file;
	}
	config = core_fake_config(e->fake, 200);
	e->core = exh_core_backend_new(config, &error);
	g_assert_no_error(error);
	options.backend = e->core;
	e->t = exh_test_new(&options);
	if (e->t == NULL)
		return NULL;
	exh_local_backend_set_endpoints(
		e->local, exh_host_get_orch_url(e->t->host), exh_host_get_status_url(e->t->host));
	e->bridge = core_bridge_new(e->fake, e->local);
	if (!seed_version(e))
		return NULL;
	return g_steal_pointer(&e);
}

gchar *
core_e2e_create_instance(CoreE2e *e, const gchar *name)
{
	g_autofree gchar *body = g_strdup_printf(
		"{\"name\":\"%s\",\"project_id\":\"" TENANT "\",\"domain\":\"" E2E_DOMAIN "\","
		"\"cpu\":1,\"ram\":1024,\"disk_size\":10,\"version\":\"%s\","
		"\"auth_fail_limit\":1000}", /* logins polled: see test-e2e-fixture.c */
		name,
		e->version_uri);
	g_autoptr(ExhTestResponse) r = exh_test_request(e->t, "POST", INSTANCES, TOKEN, body);

	g_assert_cmpuint(r->status, ==, 201);
	return r->status == 201 ? g_strdup(exh_test_response_get_string(r, "uuid")) : NULL;
}

JsonObject *
core_e2e_wait_instance(CoreE2e *e, const gchar *uuid, const gchar *status)
{
	g_autofree gchar *path = g_strconcat(INSTANCES, uuid, NULL);

	for (guint i = 0; i < E2E_WAIT_S * 20; i++) {
		g_autoptr(ExhTestResponse) r = exh_test_request(e->t, "GET", path, TOKEN, NULL);

		if (r->status == 200 &&
		    g_strcmp0(exh_test_response_get_string(r, "status"), status) == 0)
			return json_object_ref(json_node_get_object(r->json));
		g_usleep(100 * 1000);
	}
	g_test_message("instance %s never became %s", uuid, status);
	return NULL;
}

guint
core_e2e_request(CoreE2e *e, const gchar *method, const gchar *path, const gchar *body)
{
	g_autoptr(ExhTestResponse) r = exh_test_request(e->t, method, path, TOKEN, body);

	if (r->status >= 300)
		g_test_message("%s %s: %u %s", method, path, r->status, r->body);
	return r->status;
}

/* The node of the instance's set, from the fake Core's nodes (local sandboxes). */
ExhLocalNodeInfo *
core_e2e_node(CoreE2e *e, const gchar *instance)
{
	g_autoptr(ExhNodeSetActual) set = exh_infra_backend_get_node_set(e->local, instance, NULL);

	if (set == NULL || set->nodes->len == 0)
		return NULL;
	return exh_local_backend_get_node_info(e->local,
					       ((ExhInfraNode *)set->nodes->pdata[0])->uuid);
}
