/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * End to end through Exordos Core (issue 12 #4): the in-process host with
 * the mail plugin drives the `core` backend against the fake Core, whose
 * nodes are real local sandboxes (test-core-bridge.h).  A tenant of another
 * project creates an instance through the API; the NodeSet and the Config
 * appear in Core in the host's (MetaPaaS) project, bodies asserted field by
 * field against docs/architecture.md "The core backend"; the instance gets ACTIVE with
 * ipsv4 and DKIM; an account logs in on 587 and 465 (the node's agent,
 * sealing with the key Core handed out, registered with the host); a cpu
 * change is one PUT; Core down for a while, every token revoked, a set in
 * ERROR; delete removes set, config and keys.
 */
#include <string.h>

#include "exh-core-backend.h"
#include "exm-json.h"
#include "exm-test.h"
#include "exm-uuid.h"
#include "test-core-e2e-fixture.h"

#define USER	 "alice@" E2E_DOMAIN
#define PASSWORD "correct horse battery"

static void
assert_member(JsonObject *obj, const gchar *name, const gchar *json)
{
	g_autoptr(JsonNode) want = exm_json_parse_strict(json, strlen(json), NULL);
	g_autofree gchar *got = NULL;

	g_assert_nonnull(want);
	g_assert_true(json_object_has_member(obj, name));
	got = exm_json_to_string(json_object_get_member(obj, name));
	if (!json_node_equal(json_object_get_member(obj, name), want))
		g_assert_cmpstr(got, ==, json);
}

/* §2.2: the NodeSet upstream's mail builder makes, in the MetaPaaS project. */
static void
assert_set_body(JsonObject *s, const gchar *uuid, guint cores)
{
	g_autofree gchar *quoted = g_strdup_printf("\"%s\"", uuid);
	g_autofree gchar *name = g_strdup_printf("\"mailaas-dp-%s\"", uuid);
	g_autofree gchar *cores_json = g_strdup_printf("%u", cores);

	g_assert_nonnull(s);
	assert_member(s, "uuid", quoted);
	assert_member(s, "name", name);
	assert_member(s, "replicas", "1");
	assert_member(s, "cores", cores_json);
	assert_member(s, "ram", "1024");
	assert_member(s, "node_type", "\"VM\"");
	assert_member(s, "set_type", "\"SET\"");
	assert_member(s, "project_id", "\"" CORE_FAKE_PROJECT "\"");
	assert_member(s,
		      "disk_spec",
		      "{\"kind\":\"disks\",\"disks\":[{\"size\":6,\"image\":\"" IMAGE
		      "\",\"label\":\"root\"},{\"size\":10,\"label\":\"data\"}]}");
}

/* §2.3: uuid5(instance, config-<node>), on_change verbatim, mode "0640". */
static void
assert_config_body(JsonObject *state, const gchar *instance, const gchar *node)
{
	g_autofree gchar *name = g_strconcat("config-", node, NULL);
	g_autofree gchar *uuid = exm_uuid_v5(instance, name, NULL);
	JsonObject *c = core_fake_object(state, "configs", uuid);
	g_autofree gchar *quoted = g_strdup_printf("\"%s\"", node);
	g_autofree gchar *target = g_strdup_printf("{\"kind\":\"node\",\"node\":\"%s\"}", node);
	g_autofree gchar *quoted_uuid = g_strdup_printf("\"%s\"", uuid);
	JsonObject *body;

	g_assert_nonnull(c);
	assert_member(c, "uuid", quoted_uuid);
	assert_member(c, "name", quoted);
	assert_member(c, "project_id", "\"" CORE_FAKE_PROJECT "\"");
	assert_member(c, "path", "\"/etc/exordos_metapaas/mail.env\"");
	assert_member(c, "target", target);
	assert_member(c,
		      "on_change",
		      "{\"kind\":\"shell\",\"command\":\"systemctl restart "
		      "exordos-metapaas-mail-configure\"}");
	assert_member(c, "mode", "\"0640\"");
	assert_member(c, "owner", "\"root\"");
	assert_member(c, "group", "\"root\"");
	body = json_object_get_object_member(c, "body");
	g_assert_cmpstr(json_object_get_string_member(body, "kind"), ==, "text");
	g_assert_nonnull(strstr(json_object_get_string_member(body, "content"),
				"MAIL_DOMAIN=" E2E_DOMAIN "\n"));
}

static guint
wait_count(CoreFake *fake, const gchar *method, const gchar *route, guint n)
{
	guint got = 0;

	for (guint i = 0; i < E2E_WAIT_S * 20 && (got = core_fake_count(fake, method, route)) < n;
	     i++)
		g_usleep(50 * 1000);
	return got;
}

static guint
collection_size(CoreFake *fake, const gchar *collection)
{
	g_autoptr(JsonObject) state = core_fake_state(fake);

	return json_object_get_size(json_object_get_object_member(state, collection));
}

/* The instance up through Core; the bodies Core received checked. */
static ExhLocalNodeInfo *
bring_up(CoreE2e *e, const gchar *uuid)
{
	g_autoptr(JsonObject) json = core_e2e_wait_instance(e, uuid, "ACTIVE");
	g_autoptr(JsonObject) state = core_fake_state(e->fake);
	ExhLocalNodeInfo *node;
	JsonArray *ips;

	g_assert_nonnull(json);
	if (json == NULL)
		return NULL;
	assert_set_body(core_fake_object(state, "sets", uuid), uuid, 1);
	/* the tenant's instance keeps its own project */
	g_assert_cmpstr(json_object_get_string_member(json, "project_id"), ==, TENANT);
	ips = json_object_get_array_member(json, "ipsv4");
	g_assert_cmpuint(json_array_get_length(ips), ==, 1);
	g_assert_cmpuint(strlen(json_object_get_string_member(json, "dkim_public_key")), >, 100);
	node = core_e2e_node(e, uuid);
	g_assert_nonnull(node);
	if (node == NULL)
		return NULL;
	g_assert_cmpstr(json_array_get_string_element(ips, 0), ==, node->ipv4);
	assert_config_body(state, uuid, node->uuid);
	return node;
}

static gchar *
host_key(CoreE2e *e, const gchar *node)
{
	g_autofree gchar *sql = g_strdup_printf(
		"SELECT private_key FROM ua_node_encryption_keys WHERE uuid::text = '%s'", node);

	return exh_test_sql(e->t, sql);
}

/* Core down for a while: the API keeps working, the change waits; back with
 * every token revoked: a new token, then the change lands. */
static void
core_down_and_back(CoreE2e *e, const gchar *uuid, const ExhLocalNodeInfo *node)
{
	g_autofree gchar *path = g_strconcat(INSTANCES, uuid, NULL);
	g_autofree gchar *accounts = g_strdup_printf(INSTANCES "%s/accounts/", uuid);
	g_autoptr(JsonObject) state = NULL;
	g_autoptr(JsonObject) active = NULL;

	core_fake_control(e->fake, "{\"fail\":\"drop\"}");
	g_assert_cmpuint(core_e2e_request(e, "PUT", path, "{\"cpu\":3}"), ==, 200);
	g_assert_cmpuint(core_e2e_request(e,
					  "POST",
					  accounts,
					  "{\"username\":\"bob\",\"password\":\"" PASSWORD
					  "\",\"project_id\":\"" TENANT "\"}"),
			 ==,
			 201);
	g_assert_true(e2e_wait_login(NULL, node, FALSE, "bob@" E2E_DOMAIN, PASSWORD, 235));
	g_usleep(1500 * 1000);
	g_assert_cmpuint(core_fake_count(e->fake, "PUT", NULL), ==, 1);
	/* back, with every token revoked: a new token, then the change lands */
	core_fake_control(e->fake, "{\"fail\":null,\"expire_tokens\":true}");
	g_assert_cmpuint(wait_count(e->fake, "PUT", "set", 2), ==, 2);
	state = core_fake_state(e->fake);
	assert_set_body(core_fake_object(state, "sets", uuid), uuid, 3);
	g_assert_cmpuint(
		json_array_get_length(json_object_get_array_member(state, "grants")), >=, 2);
	active = core_e2e_wait_instance(e, uuid, "ACTIVE");
	g_assert_nonnull(active);
	g_assert_cmpint(e2e_login(NULL, node, TRUE, USER, PASSWORD), ==, 235);
}

/* Delete: set, config and keys gone from Core; the host's key row too. */
static void
delete_everything(CoreE2e *e, const gchar *uuid, const ExhLocalNodeInfo *node)
{
	g_autofree gchar *path = g_strconcat(INSTANCES, uuid, NULL);
	g_autofree gchar *key = NULL;

	g_assert_cmpuint(core_e2e_request(e, "DELETE", path, NULL), ==, 204);
	for (guint i = 0; i < E2E_WAIT_S * 20 && collection_size(e->fake, "sets") > 0; i++)
		g_usleep(50 * 1000);
	g_assert_cmpuint(collection_size(e->fake, "sets"), ==, 0);
	g_assert_cmpuint(collection_size(e->fake, "configs"), ==, 0);
	g_assert_cmpuint(collection_size(e->fake, "keys"), ==, 0);
	for (guint i = 0; i < E2E_WAIT_S * 20; i++) {
		g_autofree gchar *left = host_key(e, node->uuid);

		if (*left == '\0')
			break;
		g_usleep(50 * 1000);
	}
	key = host_key(e, node->uuid);
	g_assert_cmpstr(key, ==, "");
}

/* Create → Core → ACTIVE → login on 587 and 465 → cpu change is one PUT →
 * Core down, tokens revoked → still converges → delete removes everything. */
static void
test_chain(void)
{
	/* 5 s tokens: renewed (refresh grant) several times during the chain */
	g_autoptr(CoreE2e) e = core_e2e_new(5);
	g_autoptr(ExhLocalNodeInfo) node = NULL;
	g_autoptr(JsonObject) state = NULL;
	g_autofree gchar *uuid = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *accounts = NULL;
	g_autofree gchar *key = NULL;
	guint puts;

	if (e == NULL)
		return;
	uuid = core_e2e_create_instance(e, "mail-core");
	node = bring_up(e, uuid);
	if (node == NULL)
		return;
	/* the host holds the key Core handed out; the node's agent sealed with it */
	state = core_fake_state(e->fake);
	key = host_key(e, node->uuid);
	g_assert_cmpstr(key,
			==,
			json_object_get_string_member(json_object_get_object_member(state, "keys"),
						      node->uuid));
	accounts = g_strdup_printf(INSTANCES "%s/accounts/", uuid);
	g_assert_cmpuint(core_e2e_request(e,
					  "POST",
					  accounts,
					  "{\"username\":\"alice\",\"password\":\"" PASSWORD
					  "\",\"project_id\":\"" TENANT "\"}"),
			 ==,
			 201);
	g_assert_true(e2e_wait_login(NULL, node, FALSE, USER, PASSWORD, 235));
	g_assert_cmpint(e2e_login(NULL, node, TRUE, USER, PASSWORD), ==, 235);

	/* cpu change: one PUT on the set, none on the config */
	puts = core_fake_count(e->fake, "PUT", NULL);
	g_assert_cmpuint(puts, ==, 0);
	path = g_strconcat(INSTANCES, uuid, NULL);
	g_assert_cmpuint(core_e2e_request(e, "PUT", path, "{\"cpu\":2}"), ==, 200);
	g_assert_cmpuint(wait_count(e->fake, "PUT", "set", 1), ==, 1);
	g_clear_pointer(&state, json_object_unref);
	g_usleep(1000 * 1000);
	g_assert_cmpuint(core_fake_count(e->fake, "PUT", NULL), ==, 1);
	state = core_fake_state(e->fake);
	assert_set_body(core_fake_object(state, "sets", uuid), uuid, 2);
	g_clear_pointer(&state, json_object_unref);

	core_down_and_back(e, uuid, node);
	delete_everything(e, uuid, node);
}

/* Core answers ERROR for the set: the instance goes ERROR. */
static void
test_set_error(void)
{
	g_autoptr(CoreE2e) e = core_e2e_new(3600);
	g_autoptr(JsonObject) json = NULL;
	g_autofree gchar *uuid = NULL;
	g_autofree gchar *control = NULL;

	if (e == NULL)
		return;
	uuid = core_e2e_create_instance(e, "mail-error");
	control = g_strdup_printf("{\"error_set\":\"%s\",\"reason\":\"no capacity\"}", uuid);
	core_fake_control(e->fake, control);
	json = core_e2e_wait_instance(e, uuid, "ERROR");
	g_assert_nonnull(json);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/e2e/core/chain", test_chain);
	g_test_add_func("/e2e/core/set-error", test_set_error);
	return g_test_run();
}
