/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The Done-when check of the plugin/host issue: the seed README's "Create
 * Instance" and "Create SMTP Account" curl requests, verbatim
 * (tests/http/seed-readme-requests.sh), against the reference host running
 * in-process with the real mail plugin, a token from the token file and the
 * dev project 4d657461-0000-0000-0000-000000000002; then the README's field
 * permission table through the API with the same token.
 */
#include "exh-test.h"
#include "exm-test.h"
#include "exm-uuid.h"

#include <string.h>

static gboolean
run_readme_script(ExhTest *t, const gchar *version_uuid, const gchar *out)
{
	g_autofree gchar *script =
		g_test_build_filename(G_TEST_DIST, "http", "seed-readme-requests.sh", NULL);
	const gchar *argv[] = { "/bin/bash", script, NULL };
	g_auto(GStrv) env = g_get_environ();
	g_autofree gchar *err = NULL;
	g_autoptr(GError) error = NULL;
	gint status = 0;

	env = g_environ_setenv(env, "BASE", t->base_url, TRUE);
	env = g_environ_setenv(env, "TOKEN", EXH_TEST_TOKEN_OWNER, TRUE);
	env = g_environ_setenv(env, "VERSION_UUID", version_uuid, TRUE);
	env = g_environ_setenv(env, "OUT", out, TRUE);
	if (!g_spawn_sync(NULL,
			  (gchar **)argv,
			  env,
			  G_SPAWN_DEFAULT,
			  NULL,
			  NULL,
			  NULL,
			  &err,
			  &status,
			  &error)) {
		g_test_fail_printf("spawn %s: %s", script, error->message);
		return FALSE;
	}
	if (!g_spawn_check_wait_status(status, &error)) {
		g_test_fail_printf("%s: %s\n%s", script, error->message, err);
		return FALSE;
	}
	return TRUE;
}

static JsonNode *
load_json(const gchar *dir, const gchar *name)
{
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	g_autofree gchar *text = exm_test_read_file(path);
	g_autoptr(JsonParser) parser = json_parser_new();

	g_test_message("%s: %s", name, text);
	if (text == NULL || !json_parser_load_from_data(parser, text, -1, NULL))
		return NULL;
	return json_node_ref(json_parser_get_root(parser));
}

static void
check_instance(JsonObject *o, const gchar *version_uri)
{
	g_assert_true(exm_uuid_is_valid(json_object_get_string_member(o, "uuid")));
	g_assert_cmpstr(json_object_get_string_member(o, "name"), ==, "mail-prod");
	g_assert_cmpstr(json_object_get_string_member(o, "project_id"), ==, EXH_TEST_PROJECT);
	g_assert_cmpstr(json_object_get_string_member(o, "domain"), ==, "example.com");
	g_assert_cmpint(json_object_get_int_member(o, "cpu"), ==, 2);
	g_assert_cmpint(json_object_get_int_member(o, "ram"), ==, 2048);
	g_assert_cmpint(json_object_get_int_member(o, "disk_size"), ==, 20);
	g_assert_cmpstr(json_object_get_string_member(o, "version"), ==, version_uri);
	g_assert_cmpstr(json_object_get_string_member(o, "status"), ==, "NEW");
	/* the read-only fields of the README's table are there, not yet filled */
	g_assert_true(json_object_has_member(o, "ipsv4"));
	g_assert_true(json_object_has_member(o, "dkim_public_key"));
	g_assert_true(json_object_has_member(o, "dkim_selector"));
	g_assert_true(json_object_has_member(o, "created_at"));
}

static void
check_account(JsonObject *o, const gchar *instance_uri)
{
	g_assert_true(exm_uuid_is_valid(json_object_get_string_member(o, "uuid")));
	g_assert_cmpstr(json_object_get_string_member(o, "username"), ==, "alice");
	g_assert_cmpstr(json_object_get_string_member(o, "project_id"), ==, EXH_TEST_PROJECT);
	g_assert_cmpstr(json_object_get_string_member(o, "instance"), ==, instance_uri);
	g_assert_true(json_object_get_boolean_member(o, "active"));
	/* password_hash is hidden on read: never in a response */
	g_assert_false(json_object_has_member(o, "password_hash"));
	g_assert_false(json_object_has_member(o, "password"));
}

static void
expect_status(ExhTest *t,
	      const gchar *method,
	      const gchar *path,
	      const gchar *body,
	      guint status,
	      const gchar *type)
{
	g_autoptr(ExhTestResponse) r =
		exh_test_request(t, method, path, EXH_TEST_TOKEN_OWNER, body);

	if (r->status != status)
		g_test_message("%s %s %s -> %u %s", method, path, body, r->status, r->body);
	g_assert_cmpuint(r->status, ==, status);
	if (type != NULL)
		g_assert_cmpstr(exh_test_response_get_string(r, "type"), ==, type);
	if (r->json != NULL && JSON_NODE_HOLDS_OBJECT(r->json))
		g_assert_false(
			json_object_has_member(exh_test_response_object(r), "password_hash"));
}

/* The README's field permission table, for the same owner token. */
static void
check_permissions(ExhTest *t, const gchar *instance_path, const gchar *account_path)
{
	g_autofree gchar *accounts = g_strconcat(instance_path, "/accounts/", NULL);
	g_autofree gchar *hash = NULL;
	g_autofree gchar *stored = NULL;
	g_autoptr(ExhTestResponse) list = NULL;
	g_autoptr(ExhTestResponse) off = NULL;

	/* domain RW at create, RO on update; status, ipsv4, dkim_* RO */
	expect_status(t,
		      "PATCH",
		      instance_path,
		      "{\"domain\":\"other.com\"}",
		      403,
		      "FieldPermissionError");
	expect_status(
		t, "PATCH", instance_path, "{\"status\":\"ACTIVE\"}", 403, "FieldPermissionError");
	expect_status(t,
		      "PATCH",
		      instance_path,
		      "{\"ipsv4\":[\"10.0.0.1\"]}",
		      403,
		      "FieldPermissionError");
	expect_status(t,
		      "PATCH",
		      instance_path,
		      "{\"dkim_public_key\":\"x\"}",
		      403,
		      "FieldPermissionError");
	expect_status(t,
		      "PATCH",
		      instance_path,
		      "{\"dkim_selector\":\"x\"}",
		      403,
		      "FieldPermissionError");
	/* the README's PATCH: cpu/ram/disk_size */
	expect_status(
		t, "PATCH", instance_path, "{\"cpu\":4,\"ram\":4096,\"disk_size\":30}", 200, NULL);
	/* username RO on update; active RW; password_hash RW on update but hidden */
	expect_status(
		t, "PATCH", account_path, "{\"username\":\"bob\"}", 403, "FieldPermissionError");
	off = exh_test_request(
		t, "PATCH", account_path, EXH_TEST_TOKEN_OWNER, "{\"active\":false}");
	g_assert_cmpuint(off->status, ==, 200);
	g_assert_false(json_object_get_boolean_member(exh_test_response_object(off), "active"));
	g_assert_false(json_object_has_member(exh_test_response_object(off), "password_hash"));
	{
		const gchar *argv[] = { "openssl",  "passwd",  "-6", "-salt",
					"saltsalt", "newpass", NULL };
		g_autofree gchar *line = NULL;

		g_assert_cmpint(exm_test_run(argv, &line, NULL), ==, 0);
		hash = g_strdup_printf("{\"password_hash\":\"%s\"}", g_strstrip(line));
	}
	expect_status(t, "PATCH", account_path, hash, 200, NULL);
	stored =
		exh_test_sql(t, "SELECT password_hash FROM mail_accounts WHERE username = 'alice'");
	g_assert_true(g_str_has_prefix(stored, "$6$saltsalt$"));
	/* the list hides it too */
	list = exh_test_request(t, "GET", accounts, EXH_TEST_TOKEN_OWNER, NULL);
	g_assert_cmpuint(list->status, ==, 200);
	g_assert_null(strstr(list->body, "password_hash"));
	g_assert_null(strstr(list->body, "$6$"));
	/* status cannot be written at create either ("—" in the table) */
	expect_status(t,
		      "POST",
		      "/v1/types/mail/instances/",
		      "{\"name\":\"m2\",\"domain\":\"example.org\",\"cpu\":1,\"ram\":1024,"
		      "\"disk_size\":10,\"status\":\"ACTIVE\"}",
		      403,
		      "FieldPermissionError");
}

static void
test_seed_readme(void)
{
	g_autoptr(ExhTest) t = NULL;
	g_autoptr(ExhTestResponse) version = NULL;
	g_autoptr(JsonNode) instance = NULL;
	g_autoptr(JsonNode) account = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *version_uri = NULL;
	g_autofree gchar *instance_path = NULL;
	g_autofree gchar *account_path = NULL;
	g_autofree gchar *stored = NULL;
	const gchar *tools[] = { "curl", "jq", "openssl" };

	for (guint i = 0; i < G_N_ELEMENTS(tools); i++) {
		g_autofree gchar *path = exm_test_find_program(tools[i]);
		if (path == NULL) {
			exm_test_peer_missing("%s is not installed", tools[i]);
			return;
		}
	}
	t = exh_test_new(NULL);
	if (t == NULL)
		return;
	/* versions are created by operators (docs/mail.md §6); the stand seeds exim4_1 so */
	version = exh_test_request(t,
				   "POST",
				   "/v1/types/mail/versions/",
				   EXH_TEST_TOKEN_OPERATOR,
				   "{\"name\":\"exim4_1\",\"image\":\"exordos-metapaas-mail-dp\"}");
	g_assert_cmpuint(version->status, ==, 201);
	if (version->status != 201)
		return;
	version_uri = g_strconcat(
		"/v1/types/mail/versions/", exh_test_response_get_string(version, "uuid"), NULL);

	out = exm_test_mkdtemp("exh-readme");
	if (!run_readme_script(t, exh_test_response_get_string(version, "uuid"), out)) {
		exm_test_rmtree(out);
		return;
	}
	instance = load_json(out, "instance.json");
	account = load_json(out, "account.json");
	exm_test_rmtree(out);
	g_assert_nonnull(instance);
	g_assert_nonnull(account);
	if (instance == NULL || account == NULL)
		return;
	check_instance(json_node_get_object(instance), version_uri);
	instance_path =
		g_strconcat("/v1/types/mail/instances/",
			    json_object_get_string_member(json_node_get_object(instance), "uuid"),
			    NULL);
	check_account(json_node_get_object(account), instance_path);
	account_path =
		g_strconcat(instance_path,
			    "/accounts/",
			    json_object_get_string_member(json_node_get_object(account), "uuid"),
			    NULL);
	/* the hash from `openssl passwd -6` is stored as sent */
	stored =
		exh_test_sql(t, "SELECT password_hash FROM mail_accounts WHERE username = 'alice'");
	g_assert_true(g_str_has_prefix(stored, "$6$"));
	{
		g_autoptr(ExhTestResponse) get =
			exh_test_request(t, "GET", instance_path, EXH_TEST_TOKEN_OWNER, NULL);
		g_autoptr(ExhTestResponse) acc =
			exh_test_request(t, "GET", account_path, EXH_TEST_TOKEN_OWNER, NULL);
		g_assert_cmpuint(get->status, ==, 200);
		check_instance(exh_test_response_object(get), version_uri);
		g_assert_cmpuint(acc->status, ==, 200);
		check_account(exh_test_response_object(acc), instance_path);
	}
	check_permissions(t, instance_path, account_path);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/http/seed-readme/quick-start", test_seed_readme);
	return g_test_run();
}
