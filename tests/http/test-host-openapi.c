/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * `/specifications/` of the reference host with the mail plugin
 * (docs/rest-conventions.md §13): both documents pass a real OpenAPI
 * validator (@seriousme/openapi-schema-validator, installed by
 * tests/setup.sh; a missing one is a skip, or a failure under
 * EXM_REQUIRE_REAL_PEERS=1), and the running host answers every documented
 * path and method with something other than 404/405 for its documented
 * inputs, and any other method on a documented path with 405 (404
 * IncorrectActionCall on an action, 501 for GET or PUT on an invoke action's
 * `/invoke`, as restalchemy).
 */
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "exh-test.h"
#include "exm-json.h"
#include "exm-test.h"

#define VALIDATOR_DEFAULT "/opt/exm-openapi/node_modules/.bin/validate-api"

static const gchar *const all_methods[] = { "get", "post", "put", "patch", "delete", NULL };

static JsonObject *
fetch_document(ExhTest *t, const gchar *version, const gchar *prefix, ExhTestResponse **out)
{
	g_autofree gchar *path = g_strconcat("/specifications/", version, NULL);
	const gchar *headers[] = { "X-Forwarded-Prefix", prefix, NULL };

	*out = exh_test_request_full(t, "GET", path, prefix != NULL ? headers : NULL, NULL, 0);
	g_assert_cmpuint((*out)->status, ==, 200);
	return exh_test_response_object(*out);
}

static const gchar *
validator_path(void)
{
	const gchar *env = g_getenv("EXM_OPENAPI_VALIDATOR");

	return env != NULL && *env != '\0' ? env : VALIDATOR_DEFAULT;
}

/* Runs the validator on @text, expecting @valid; returns FALSE (test
 * skipped/failed) when there is no validator. */
static gboolean
validate(const gchar *text, const gchar *version, gboolean valid)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *file = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	gint fd = g_file_open_tmp("exm-openapi-XXXXXX.json", &file, &error);
	gint status = -1;
	const gchar *argv[] = { validator_path(), NULL, NULL };

	if (!g_file_test(argv[0], G_FILE_TEST_IS_EXECUTABLE)) {
		if (fd >= 0)
			close(fd);
		if (file != NULL)
			g_unlink(file);
		exm_test_peer_missing("no OpenAPI validator at %s (tests/setup.sh installs it)",
				      argv[0]);
		return FALSE;
	}
	g_assert_no_error(error);
	close(fd);
	g_assert_true(g_file_set_contents(file, text, -1, &error));
	argv[1] = file;
	g_spawn_sync(NULL,
		     (gchar **)argv,
		     NULL,
		     G_SPAWN_DEFAULT,
		     NULL,
		     NULL,
		     &out,
		     &err,
		     &status,
		     &error);
	g_unlink(file);
	g_assert_no_error(error);
	g_test_message("validator on %s: %s%s", version, out, err);
	g_assert_cmpint(g_spawn_check_wait_status(status, NULL), ==, valid);
	g_assert_cmpint(strstr(out, "\"valid\": true") != NULL, ==, valid);
	return TRUE;
}

/* A copy of @doc whose `/` GET answers 401 with an empty response object. */
static gchar *
break_document(JsonNode *doc)
{
	g_autoptr(JsonNode) copy = json_node_copy(doc);
	JsonObject *paths = json_object_get_object_member(json_node_get_object(copy), "paths");
	JsonObject *get =
		json_object_get_object_member(json_object_get_object_member(paths, "/"), "get");

	json_object_set_object_member(
		json_object_get_object_member(get, "responses"), "401", json_object_new());
	return exm_json_to_string(copy);
}

/* The list, both documents valid, servers honouring X-Forwarded-Prefix,
 * 3.1's nullable as a type array, and an unknown version's 404. */
static void
test_validate(void)
{
	g_autoptr(ExhTest) t = exh_test_new(NULL);
	g_autoptr(ExhTestResponse) list = NULL;
	g_autoptr(ExhTestResponse) root = NULL;
	g_autoptr(ExhTestResponse) bad = NULL;
	JsonArray *versions;

	if (t == NULL)
		return;
	list = exh_test_request(t, "GET", "/specifications/", NULL, NULL);
	g_assert_cmpuint(list->status, ==, 200);
	versions = json_node_get_array(list->json);
	g_assert_cmpuint(json_array_get_length(versions), ==, 2);
	g_assert_cmpstr(json_array_get_string_element(versions, 0), ==, "3.0.3");
	g_assert_cmpstr(json_array_get_string_element(versions, 1), ==, "3.1.0");
	root = exh_test_request(t, "GET", "/", NULL, NULL);
	g_assert_cmpstr(json_array_get_string_element(json_node_get_array(root->json), 0),
			==,
			"specifications");
	for (guint i = 0; i < 2; i++) {
		const gchar *v = json_array_get_string_element(versions, i);
		g_autoptr(ExhTestResponse) r = NULL;
		JsonObject *doc = fetch_document(t, v, "/api/metapaas", &r);
		JsonObject *server = json_array_get_object_element(
			json_object_get_array_member(doc, "servers"), 0);
		JsonObject *desc = json_object_get_object_member(
			json_object_get_object_member(
				json_object_get_object_member(
					json_object_get_object_member(
						json_object_get_object_member(doc, "components"),
						"schemas"),
					"MailVersion"),
				"properties"),
			"description");
		g_autofree gchar *want = g_strconcat(t->base_url, "/api/metapaas", NULL);
		g_autofree gchar *broken = NULL;

		g_assert_cmpstr(json_object_get_string_member(doc, "openapi"), ==, v);
		g_assert_cmpstr(json_object_get_string_member(server, "url"), ==, want);
		if (i == 1)
			g_assert_true(JSON_NODE_HOLDS_ARRAY(json_object_get_member(desc, "type")));
		else
			g_assert_true(json_object_get_boolean_member(desc, "nullable"));
		if (!validate(r->body, v, TRUE))
			return;
		/* no rubber stamp: a response without a description is refused */
		broken = break_document(r->json);
		g_assert_true(validate(broken, v, FALSE));
	}
	bad = exh_test_request(t, "GET", "/specifications/2.0", NULL, NULL);
	exh_test_assert_error(bad, 404, "NotFoundError", NULL);
}

/* ------------------------------------------------------------------ routes */

typedef struct {
	ExhTest *t;
	GHashTable *values; /* placeholder → value */
} Routes;

static gchar *
fill(Routes *rt, const gchar *path)
{
	GString *s = g_string_new(NULL);

	for (const gchar *p = path; *p != '\0'; p++) {
		const gchar *end = *p == '{' ? strchr(p, '}') : NULL;
		g_autofree gchar *name = end != NULL ? g_strndup(p + 1, end - p - 1) : NULL;
		const gchar *value = name != NULL ? g_hash_table_lookup(rt->values, name) : NULL;
		if (end == NULL) {
			g_string_append_c(s, *p);
			continue;
		}
		if (value == NULL)
			g_error("no value for the placeholder %s of %s", name, path);
		g_string_append(s, value);
		p = end;
	}
	return g_string_free(s, FALSE);
}

static ExhTestResponse *
send(Routes *rt, const gchar *method, const gchar *path)
{
	g_autofree gchar *upper = g_ascii_strup(method, -1);
	g_autofree gchar *url = fill(rt, path);
	gboolean body = g_str_equal(method, "post") || g_str_equal(method, "put") ||
			g_str_equal(method, "patch");

	return exh_test_request(rt->t, upper, url, EXH_TEST_TOKEN_OPERATOR, body ? "{}" : NULL);
}

static void
check_documented(Routes *rt, const gchar *path, const gchar *method)
{
	g_autoptr(ExhTestResponse) r = send(rt, method, path);

	g_test_message("%s %s → %u", method, path, r->status);
	if (r->status == 404 || r->status == 405)
		g_error("documented %s %s answered %u: %s", method, path, r->status, r->body);
}

static void
check_undocumented(Routes *rt, const gchar *path, const gchar *method)
{
	g_autoptr(ExhTestResponse) r = send(rt, method, path);

	if (g_str_has_suffix(path, "/invoke") &&
	    (g_str_equal(method, "get") || g_str_equal(method, "put")))
		/* the right form, a verb the invoke action has no handler for */
		exh_test_assert_error(r, 501, "NotImplementedError", NULL);
	else if (strstr(path, "/actions/") != NULL)
		exh_test_assert_error(r, 404, "IncorrectActionCall", NULL);
	else
		exh_test_assert_error(r, 405, "UnsupportedHttpMethod", NULL);
}

static gint
by_length_desc(gconstpointer a, gconstpointer b)
{
	return (gint)strlen(*(const gchar *const *)b) - (gint)strlen(*(const gchar *const *)a);
}

static void
routes_seed(Routes *rt)
{
	g_autoptr(ExhTestResponse) types = NULL;
	gchar *v = exh_test_create(rt->t,
				   EXH_TEST_TOKEN_OPERATOR,
				   "/v1/types/mail/versions/",
				   "{\"name\":\"v1\",\"image\":\"img\"}");
	g_autofree gchar *ibody = g_strdup_printf(
		"{\"name\":\"m1\",\"domain\":\"example.com\",\"cpu\":2,\"ram\":2048,"
		"\"disk_size\":20,\"version\":\"/v1/types/mail/versions/%s\"}",
		v);
	gchar *i = exh_test_create(rt->t, EXH_TEST_TOKEN_OWNER, "/v1/types/mail/instances/", ibody);
	g_autofree gchar *apath = g_strdup_printf("/v1/types/mail/instances/%s/accounts/", i);
	gchar *a = exh_test_create(rt->t,
				   EXH_TEST_TOKEN_OWNER,
				   apath,
				   "{\"username\":\"bob\",\"password\":\"secret-1\"}");

	types = exh_test_request(rt->t, "GET", "/v1/types/", EXH_TEST_TOKEN_OPERATOR, NULL);
	g_assert_cmpuint(types->status, ==, 200);
	g_hash_table_insert(rt->values, g_strdup("MailVersionUuid"), v);
	g_hash_table_insert(rt->values, g_strdup("MailInstanceUuid"), i);
	g_hash_table_insert(rt->values, g_strdup("MailAccountUuid"), a);
	g_hash_table_insert(
		rt->values,
		g_strdup("PaaSTypeUuid"),
		g_strdup(json_object_get_string_member(
			json_array_get_object_element(json_node_get_array(types->json), 0),
			"uuid")));
	g_hash_table_insert(rt->values, g_strdup("version"), g_strdup("3.0.3"));
}

/* Every documented path+method is served, every other method refused;
 * deletes last, innermost first. */
static void
test_routes(void)
{
	g_autoptr(ExhTest) t = exh_test_new(NULL);
	g_autoptr(ExhTestResponse) r = NULL;
	g_autoptr(GHashTable) values =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_autoptr(GPtrArray) deletes = g_ptr_array_new();
	g_autoptr(GList) paths = NULL;
	Routes rt = { t, values };
	JsonObject *doc;
	guint n = 0;

	if (t == NULL)
		return;
	routes_seed(&rt);
	doc = fetch_document(t, "3.1.0", NULL, &r);
	paths = json_object_get_members(json_object_get_object_member(doc, "paths"));
	for (GList *l = paths; l != NULL; l = l->next) {
		JsonObject *item = json_object_get_object_member(
			json_object_get_object_member(doc, "paths"), l->data);
		for (guint m = 0; all_methods[m] != NULL; m++) {
			if (!json_object_has_member(item, all_methods[m]))
				check_undocumented(&rt, l->data, all_methods[m]);
			else if (g_str_equal(all_methods[m], "delete"))
				g_ptr_array_add(deletes, l->data);
			else
				check_documented(&rt, l->data, all_methods[m]);
			n++;
		}
	}
	g_ptr_array_sort(deletes, by_length_desc);
	for (guint i = 0; i < deletes->len; i++)
		check_documented(&rt, deletes->pdata[i], "delete");
	g_test_message(
		"%u paths, %u method checks, %u deletes", g_list_length(paths), n, deletes->len);
}

/* A plugin of ABI minor 2 (its unused slot poisoned) and one of minor 3
 * without a document are left out; the mail plugin's paths are there; the
 * configured external base is the server, over any X-Forwarded-Prefix. */
static void
test_older_plugins(void)
{
	g_autofree gchar *mail = exh_test_plugin_path();
	g_autofree gchar *minor2 = exh_test_fake_plugin_path("-minor2");
	g_autofree gchar *other = exh_test_fake_plugin_path("-other");
	const gchar *plugins[] = { mail, minor2, other, NULL };
	ExhTestOptions options = {
		.plugins = plugins,
		.external_base_url = "https://mail.example.test/metapaas",
	};
	g_autoptr(ExhTest) t = exh_test_new(&options);
	g_autoptr(ExhTestResponse) r = NULL;
	JsonObject *paths;
	JsonObject *doc;

	if (t == NULL)
		return;
	doc = fetch_document(t, "3.0.3", "/api/other", &r);
	g_assert_cmpstr(json_object_get_string_member(
				json_array_get_object_element(
					json_object_get_array_member(doc, "servers"), 0),
				"url"),
			==,
			options.external_base_url);
	paths = json_object_get_object_member(doc, "paths");
	g_assert_true(json_object_has_member(paths, "/v1/types/mail/instances/"));
	g_assert_true(json_object_has_member(paths, "/specifications/{version}"));
	for (GList *l = json_object_get_members(paths); l != NULL; l = g_list_delete_link(l, l))
		g_assert_false(g_str_has_prefix(l->data, "/v1/types/fake/") ||
			       g_str_has_prefix(l->data, "/v1/types/other/"));
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/openapi/validate", test_validate);
	g_test_add_func("/openapi/routes", test_routes);
	g_test_add_func("/openapi/older-plugins", test_older_plugins);
	return g_test_run();
}
