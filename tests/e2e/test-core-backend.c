/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The `core` infra backend (tests/host/infra/core) against the fake Exordos
 * Core: the NodeSet and Config bodies as Core receives them (field by field,
 * docs/architecture.md "The core backend"), writes only on a real change, reads only at
 * the poll period, the node keys, delete, and Core failing (5xx, dropped
 * connections, malformed answers, revoked tokens, a set in ERROR).
 */
#include <glib/gstdio.h>
#include <string.h>

#include "exh-core-backend.h"
#include "exh-error.h"
#include "exm-json.h"
#include "exh-test.h"
#include "exm-test.h"
#include "test-core-fixture.h"

#define SET	"6f1c3b1e-2a4d-4c5e-9f60-7a8b9c0d1e2f"
#define CONFIG	"7f1c3b1e-2a4d-4c5e-9f60-7a8b9c0d1e2f"
#define OTHER	"00000000-0000-0000-0000-0000000000aa"
#define POLL_MS 100

static ExhNodeSetTarget *
set_target(guint cores)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *json = g_strdup_printf(
		"{\"uuid\":\"" SET "\",\"name\":\"mailaas-dp-" SET "\",\"replicas\":1,"
		"\"cores\":%u,\"ram\":1024,\"node_type\":\"VM\",\"set_type\":\"SET\","
		"\"project_id\":\"" CORE_FAKE_PROJECT "\",\"disk_spec\":{\"kind\":\"disks\","
		"\"disks\":[{\"size\":6,\"label\":\"root\",\"image\":\"mail-image\"},"
		"{\"size\":20,\"label\":\"data\"}]}}",
		cores);
	g_autoptr(JsonObject) obj = exm_json_parse_object(json, strlen(json), NULL);
	ExhNodeSetTarget *target = exh_node_set_target_from_json(obj, &error);

	g_assert_no_error(error);
	return target;
}

static ExhConfigTarget *
config_target(const gchar *node, const gchar *project)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *json = g_strdup_printf(
		"{\"uuid\":\"" CONFIG "\",\"name\":\"%s\",\"project_id\":\"%s\","
		"\"path\":\"/etc/exordos_metapaas/mail.env\",\"target\":{\"kind\":\"node\","
		"\"node\":\"%s\"},\"body\":{\"kind\":\"text\",\"content\":\"MAIL_DOMAIN=x\\n\"},"
		"\"on_change\":{\"kind\":\"shell\",\"command\":\"systemctl restart "
		"exordos-metapaas-mail-configure\"},\"mode\":\"0640\",\"owner\":\"root\","
		"\"group\":\"root\"}",
		node,
		project,
		node);
	g_autoptr(JsonObject) obj = exm_json_parse_object(json, strlen(json), NULL);
	ExhConfigTarget *target = exh_config_target_from_json(obj, &error);

	g_assert_no_error(error);
	return target;
}

/* Waits (bounded) until the set has @status and @cores (0: any) and its
 * nodes their keys; the snapshot, or NULL. */
static ExhNodeSetActual *
wait_set_cores(ExhInfraBackend *b, ExhInfraStatus status, guint cores)
{
	/* a hang guard, not a target: 30 s, since under valgrind the backend's
	 * back-off after a run of dropped connections alone took most of 15 s
	 * (ci1, test_failures) */
	for (gint i = 0; i < 600; i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(ExhNodeSetActual) actual = exh_infra_backend_get_node_set(b, SET, &error);

		g_assert_no_error(error);
		if (actual != NULL && actual->status == status && actual->nodes->len > 0 &&
		    ((ExhInfraNode *)actual->nodes->pdata[0])->private_key != NULL &&
		    (cores == 0 || actual->target->cores == cores))
			return g_steal_pointer(&actual);
		g_usleep(50000);
	}
	return NULL;
}

static ExhNodeSetActual *
wait_set(ExhInfraBackend *b, ExhInfraStatus status)
{
	return wait_set_cores(b, status, 0);
}

/* Waits (bounded) until the fake recorded @n token grants. */
static JsonObject *
wait_grants(CoreFake *fake, guint n)
{
	for (gint i = 0; i < 300; i++) {
		JsonObject *state = core_fake_state(fake);

		if (json_array_get_length(json_object_get_array_member(state, "grants")) >= n)
			return state;
		json_object_unref(state);
		g_usleep(50000);
	}
	return NULL;
}

static gboolean
wait_config(ExhInfraBackend *b, ExhInfraStatus want)
{
	for (gint i = 0; i < 300; i++) {
		ExhInfraStatus status = EXH_INFRA_STATUS_NEW;

		if (exh_infra_backend_get_config_status(b, CONFIG, &status, NULL) && status == want)
			return TRUE;
		g_usleep(50000);
	}
	return FALSE;
}

static void
assert_member(JsonObject *obj, const gchar *name, const gchar *json)
{
	g_autoptr(JsonNode) want = exm_json_parse_strict(json, strlen(json), NULL);

	g_assert_nonnull(want);
	g_assert_true(json_object_has_member(obj, name));
	if (!json_node_equal(json_object_get_member(obj, name), want)) {
		g_autofree gchar *got = exm_json_to_string(json_object_get_member(obj, name));

		g_error("%s: got %s, want %s", name, got, json);
	}
}

/* §2.2: the NodeSet exactly as upstream's builder makes it. */
static void
assert_set_body(JsonObject *s)
{
	assert_member(s, "uuid", "\"" SET "\"");
	assert_member(s, "name", "\"mailaas-dp-" SET "\"");
	assert_member(s, "replicas", "1");
	assert_member(s, "cores", "1");
	assert_member(s, "ram", "1024");
	assert_member(s, "node_type", "\"VM\"");
	assert_member(s, "set_type", "\"SET\"");
	assert_member(s, "project_id", "\"" CORE_FAKE_PROJECT "\"");
	assert_member(s,
		      "disk_spec",
		      "{\"kind\":\"disks\",\"disks\":[{\"size\":6,\"image\":\"mail-image\","
		      "\"label\":\"root\"},{\"size\":20,\"label\":\"data\"}]}");
}

/* §2.3: the Config, on_change verbatim, mode a 4-digit octal string. */
static void
assert_config_body(JsonObject *c, const gchar *node)
{
	g_autofree gchar *name = g_strdup_printf("\"%s\"", node);
	g_autofree gchar *target = g_strdup_printf("{\"kind\":\"node\",\"node\":\"%s\"}", node);

	assert_member(c, "uuid", "\"" CONFIG "\"");
	assert_member(c, "name", name);
	assert_member(c, "project_id", "\"" CORE_FAKE_PROJECT "\"");
	assert_member(c, "path", "\"/etc/exordos_metapaas/mail.env\"");
	assert_member(c, "target", target);
	assert_member(c, "body", "{\"kind\":\"text\",\"content\":\"MAIL_DOMAIN=x\\n\"}");
	assert_member(c,
		      "on_change",
		      "{\"kind\":\"shell\",\"command\":\"systemctl restart "
		      "exordos-metapaas-mail-configure\"}");
	assert_member(c, "mode", "\"0640\"");
	assert_member(c, "owner", "\"root\"");
	assert_member(c, "group", "\"root\"");
}

static ExhInfraBackend *
backend_new(CoreFake *fake)
{
	g_autoptr(ExhCoreConfig) config = core_fake_config(fake, POLL_MS);
	g_autoptr(GError) error = NULL;
	ExhInfraBackend *b = exh_core_backend_new(config, &error);

	g_assert_no_error(error);
	g_assert_true(exh_core_backend_is_core(b));
	return b;
}

/* Idle: the same targets again cost no write, reads only at the poll period. */
static void
check_idle(CoreFake *fake, ExhInfraBackend *b, ExhNodeSetTarget *target, ExhConfigTarget *config)
{
	ExhCoreStats before = exh_core_backend_get_stats(b), after;

	for (gint i = 0; i < 5; i++) {
		g_assert_true(exh_infra_backend_apply_node_set(b, target, NULL));
		g_assert_true(exh_infra_backend_apply_config(b, config, NULL));
		g_usleep(POLL_MS * 1000);
	}
	after = exh_core_backend_get_stats(b);
	g_assert_cmpuint(after.writes, ==, before.writes);
	g_assert_cmpuint(after.grants, ==, before.grants);
	/* 2 GETs (set, config) a poll: ~5 polls, never one per call */
	g_assert_cmpuint(after.reads - before.reads, >=, 4);
	g_assert_cmpuint(after.reads - before.reads, <=, 16);
	g_assert_cmpuint(core_fake_count(fake, "PUT", NULL), ==, 0);
}

/* Create, converge, idle, change, delete. */
static void
test_cycle(void)
{
	g_autoptr(CoreFake) fake = core_fake_new("/api/core", 3600, 50, FALSE);
	g_autoptr(ExhInfraBackend) b = NULL;
	g_autoptr(ExhNodeSetTarget) target = NULL;
	g_autoptr(ExhNodeSetActual) actual = NULL;
	g_autoptr(ExhConfigTarget) config = NULL;
	g_autoptr(ExhConfigTarget) foreign = NULL;
	g_autoptr(JsonObject) state = NULL;
	g_autoptr(GError) error = NULL;
	ExhInfraNode *node;

	if (fake == NULL)
		return;
	b = backend_new(fake);
	target = set_target(1);
	g_assert_true(exh_infra_backend_apply_node_set(b, target, &error));
	actual = wait_set(b, EXH_INFRA_STATUS_ACTIVE);
	g_assert_nonnull(actual);
	g_assert_cmpuint(actual->nodes->len, ==, 1);
	node = actual->nodes->pdata[0];
	g_assert_true(g_str_has_prefix(node->ipv4, "127."));
	g_assert_cmpuint(strlen(node->private_key), ==, 44);
	state = core_fake_state(fake);
	assert_set_body(core_fake_object(state, "sets", SET));
	g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(state, "keys"),
						      node->uuid),
			==,
			node->private_key);
	/* a Config of another project is refused, as Core would */
	foreign = config_target(node->uuid, OTHER);
	g_assert_false(exh_infra_backend_apply_config(b, foreign, &error));
	g_assert_error(error, EXH_ERROR, EXH_ERROR_CONFIG);
	g_clear_error(&error);
	config = config_target(node->uuid, CORE_FAKE_PROJECT);
	g_assert_true(exh_infra_backend_apply_config(b, config, &error));
	g_assert_true(wait_config(b, EXH_INFRA_STATUS_ACTIVE));
	g_clear_pointer(&state, json_object_unref);
	state = core_fake_state(fake);
	assert_config_body(core_fake_object(state, "configs", CONFIG), node->uuid);
	g_assert_cmpuint(core_fake_count(fake, "POST", "sets"), ==, 1);
	g_assert_cmpuint(core_fake_count(fake, "POST", "configs"), ==, 1);

	check_idle(fake, b, target, config);

	/* a change of cores is one PUT, and only the set's */
	g_clear_pointer(&target, exh_node_set_target_free);
	target = set_target(2);
	g_assert_true(exh_infra_backend_apply_node_set(b, target, NULL));
	g_clear_pointer(&actual, exh_node_set_actual_free);
	actual = wait_set_cores(b, EXH_INFRA_STATUS_ACTIVE, 2);
	g_assert_nonnull(actual);
	g_usleep(3 * POLL_MS * 1000);
	g_assert_cmpuint(core_fake_count(fake, "PUT", "set"), ==, 1);
	g_assert_cmpuint(core_fake_count(fake, "PUT", "config"), ==, 0);
	g_assert_cmpuint(actual->target->cores, ==, 2);

	/* delete: gone from the backend at once, from Core soon; keys with it */
	g_assert_true(exh_infra_backend_delete_config(b, CONFIG, NULL));
	g_assert_true(exh_infra_backend_delete_node_set(b, SET, NULL));
	g_assert_null(exh_infra_backend_get_node_set(b, SET, NULL));
	for (gint i = 0; i < 200 && core_fake_count(fake, "DELETE", "set") == 0; i++)
		g_usleep(20000);
	g_clear_pointer(&state, json_object_unref);
	state = core_fake_state(fake);
	g_assert_cmpuint(json_object_get_size(json_object_get_object_member(state, "sets")), ==, 0);
	g_assert_cmpuint(
		json_object_get_size(json_object_get_object_member(state, "configs")), ==, 0);
	g_assert_cmpuint(json_object_get_size(json_object_get_object_member(state, "keys")), ==, 0);
	/* deleting again is fine (404 counts as done) */
	g_assert_true(exh_infra_backend_delete_node_set(b, SET, NULL));
}

/* Core down, malformed, tokens revoked, a set in ERROR: no crash, the target
 * kept and converged afterwards, the snapshot never half-written. */
static void
test_failures(void)
{
	g_autoptr(CoreFake) fake = core_fake_new(NULL, 3600, 50, FALSE);
	g_autoptr(ExhInfraBackend) b = NULL;
	g_autoptr(ExhNodeSetTarget) target = set_target(1);
	g_autoptr(ExhNodeSetActual) actual = NULL;
	g_autoptr(ExhNodeSetActual) still = NULL;
	g_autoptr(JsonObject) state = NULL;
	JsonArray *grants;

	if (fake == NULL)
		return;
	b = backend_new(fake);
	/* Core drops every connection for a while: the apply is still accepted */
	core_fake_control(fake, "{\"fail\":\"drop\"}");
	g_assert_true(exh_infra_backend_apply_node_set(b, target, NULL));
	g_usleep(800 * 1000);
	g_assert_null(exh_infra_backend_get_node_set(b, SET, NULL));
	core_fake_control(fake, "{\"fail\":\"503\",\"fail_count\":3}");
	actual = wait_set(b, EXH_INFRA_STATUS_ACTIVE);
	g_assert_nonnull(actual);
	g_assert_cmpuint(core_fake_count(fake, "POST", "sets"), ==, 1);

	/* malformed answers: logged, the last good snapshot stays */
	core_fake_control(fake, "{\"malformed\":\"shape\"}");
	g_usleep(4 * POLL_MS * 1000);
	still = exh_infra_backend_get_node_set(b, SET, NULL);
	g_assert_nonnull(still);
	g_assert_cmpint(still->status, ==, EXH_INFRA_STATUS_ACTIVE);
	g_assert_cmpstr(((ExhInfraNode *)still->nodes->pdata[0])->private_key,
			==,
			((ExhInfraNode *)actual->nodes->pdata[0])->private_key);
	core_fake_control(fake, "{\"malformed\":\"garbage\"}");
	g_usleep(4 * POLL_MS * 1000);
	core_fake_control(fake, "{\"malformed\":null}");

	/* answers slower than the 2 s timeout: a change waits, then lands */
	core_fake_control(fake, "{\"slow_ms\":2500}");
	g_clear_pointer(&target, exh_node_set_target_free);
	target = set_target(2);
	g_assert_true(exh_infra_backend_apply_node_set(b, target, NULL));
	g_usleep(3 * G_USEC_PER_SEC);
	g_assert_cmpuint(core_fake_count(fake, "PUT", "set"), ==, 0);
	core_fake_control(fake, "{\"slow_ms\":0}");
	g_clear_pointer(&still, exh_node_set_actual_free);
	still = wait_set_cores(b, EXH_INFRA_STATUS_ACTIVE, 2);
	g_assert_nonnull(still);

	/* every token revoked: one 401, a new token (the refresh grant), no loss */
	core_fake_control(fake, "{\"expire_tokens\":true}");
	state = wait_grants(fake, 2);
	g_assert_nonnull(state);
	grants = json_object_get_array_member(state, "grants");
	g_assert_cmpuint(json_array_get_length(grants), >=, 2);
	g_assert_cmpstr(json_array_get_string_element(grants, 0), ==, "password");
	g_assert_cmpstr(json_array_get_string_element(grants, 1), ==, "refresh_token");
	g_assert_cmpuint(core_fake_count(fake, "GET", "set"), >, 0);

	/* Core puts the set in ERROR: reported, with a reason */
	core_fake_control(fake, "{\"error_set\":\"" SET "\",\"reason\":\"no capacity\"}");
	g_clear_pointer(&actual, exh_node_set_actual_free);
	actual = wait_set(b, EXH_INFRA_STATUS_ERROR);
	g_assert_nonnull(actual);
	g_assert_nonnull(actual->error);
}

/* Tokens that expire after 2 s are renewed before they do: refresh grants,
 * never a call refused with 401. */
static void
test_token_renewal(void)
{
	g_autoptr(CoreFake) fake = core_fake_new(NULL, 2, 50, FALSE);
	g_autoptr(ExhInfraBackend) b = NULL;
	g_autoptr(ExhNodeSetTarget) target = set_target(1);
	g_autoptr(ExhNodeSetActual) actual = NULL;
	g_autoptr(JsonObject) state = NULL;
	JsonArray *calls;

	if (fake == NULL)
		return;
	b = backend_new(fake);
	g_assert_true(exh_infra_backend_apply_node_set(b, target, NULL));
	actual = wait_set(b, EXH_INFRA_STATUS_ACTIVE);
	g_assert_nonnull(actual);
	g_usleep(5 * G_USEC_PER_SEC);
	state = core_fake_state(fake);
	g_assert_cmpuint(
		json_array_get_length(json_object_get_array_member(state, "grants")), >=, 3);
	g_assert_cmpstr(
		json_array_get_string_element(json_object_get_array_member(state, "grants"), 1),
		==,
		"refresh_token");
	calls = json_object_get_array_member(state, "calls");
	for (guint i = 0; i < json_array_get_length(calls); i++)
		g_assert_cmpint(json_object_get_int_member(json_array_get_object_element(calls, i),
							   "status"),
				!=,
				401);
}

/* The host's [core] group: required keys, the password file's mode. */
static void
test_config(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("core-config");
	g_autofree gchar *pw = g_build_filename(dir, "pw", NULL);
	g_autofree gchar *text =
		g_strdup_printf("[core]\nendpoint = http://127.0.0.1:1/api/core/\nproject = %s\n"
				"password_file = %s\npoll_ms = 250\n",
				CORE_FAKE_PROJECT,
				pw);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GKeyFile) none = g_key_file_new();
	g_autoptr(ExhCoreConfig) config = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(g_file_set_contents(pw, "sekrit\nignored\n", -1, NULL));
	g_assert_true(g_key_file_load_from_data(kf, text, -1, G_KEY_FILE_NONE, NULL));
	g_assert_cmpint(g_chmod(pw, 0644), ==, 0);
	g_assert_null(exh_core_config_load_key_file(kf, &error));
	g_assert_nonnull(strstr(error->message, "chmod 0600"));
	g_assert_null(strstr(error->message, "sekrit"));
	g_clear_error(&error);
	g_assert_cmpint(g_chmod(pw, 0600), ==, 0);
	config = exh_core_config_load_key_file(kf, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(config->endpoint, ==, "http://127.0.0.1:1/api/core");
	g_assert_cmpstr(config->password, ==, "sekrit");
	g_assert_cmpuint(config->poll_ms, ==, 250);
	g_assert_cmpstr(config->client_id, ==, "GenesisCoreClientId");
	g_assert_null(exh_core_config_load_key_file(none, &error));
	g_assert_no_error(error);
	g_key_file_remove_key(kf, "core", "project", NULL);
	g_assert_null(exh_core_config_load_key_file(kf, &error));
	g_assert_error(error, EXH_ERROR, EXH_ERROR_CONFIG);
	exm_test_rmtree(dir);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/core/backend/config", test_config);
	g_test_add_func("/core/backend/cycle", test_cycle);
	g_test_add_func("/core/backend/failures", test_failures);
	g_test_add_func("/core/backend/token-renewal", test_token_renewal);
	return g_test_run();
}
