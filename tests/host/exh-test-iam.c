/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-test-iam.h"

#include "exh-test.h"
#include "exm-config.h"
#include "exm-test.h"

#include <libsoup/soup.h>
#include <string.h>

/* The 32-byte JWKS encryption key the fake seals with (raw, and base64url). */
#define JWKS_KEY_RAW "exh-test-jwks-encryption-key-32b"

struct _ExhTestIam {
	GSubprocess *proc;
	gchar *base;
	gchar *key_file;
	SoupSession *session;
	GHashTable *jwts; /* fixture token → JWT */
};

gboolean
exh_test_iam_core_mode(void)
{
	return g_strcmp0(g_getenv("EXH_TEST_IAM"), "core") == 0;
}

static gchar *
wait_port(const gchar *path, GSubprocess *proc)
{
	for (guint i = 0; i < 400; i++) {
		gchar *text = NULL;

		if (g_file_get_contents(path, &text, NULL, NULL))
			return g_strstrip(text);
		if (g_subprocess_get_identifier(proc) == NULL)
			return NULL;
		g_usleep(25 * 1000);
	}
	return NULL;
}

static gboolean
spawn(ExhTestIam *iam, const gchar *dir, GError **error)
{
	g_autofree gchar *cwd = g_build_filename(EXM_SOURCE_ROOT, "tests", "fakes", NULL);
	g_autofree gchar *pw = g_build_filename(dir, "core-password", NULL);
	g_autofree gchar *pf = g_build_filename(dir, "core-port", NULL);
	g_autofree gchar *key64 = g_base64_encode((const guchar *)JWKS_KEY_RAW, 32);
	g_autofree gchar *port = NULL;
	const gchar *argv[] = { "/usr/bin/python3",
				"-m",
				"fake_core",
				"--project",
				EXH_TEST_PROJECT,
				"--password-file",
				pw,
				"--port-file",
				pf,
				"--die-with-parent",
				NULL };
	g_autoptr(GSubprocessLauncher) l =
		g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE);

	/* base64url, unpadded, as the fake reads it */
	g_strdelimit(key64, "+", '-');
	g_strdelimit(key64, "/", '_');
	g_strdelimit(key64, "=", '\0');
	if (!g_file_set_contents_full(
		    pw, "unused\n", -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
		return FALSE;
	g_subprocess_launcher_set_cwd(l, cwd);
	g_subprocess_launcher_setenv(l, "FAKE_CORE_IAM_JWKS_KEY", key64, TRUE);
	iam->proc = exh_test_spawn_with(l, argv, error);
	if (iam->proc == NULL)
		return FALSE;
	port = wait_port(pf, iam->proc);
	if (port == NULL) {
		g_set_error_literal(
			error, G_IO_ERROR, G_IO_ERROR_FAILED, "the fake Core did not start");
		return FALSE;
	}
	iam->base = g_strdup_printf("http://127.0.0.1:%s", port);
	return TRUE;
}

JsonObject *
exh_test_iam_control(ExhTestIam *iam, const gchar *path, const gchar *json)
{
	g_autofree gchar *url = g_strconcat(iam->base, path, NULL);
	g_autoptr(SoupMessage) msg = soup_message_new("POST", url);
	g_autoptr(GBytes) req = g_bytes_new(json, strlen(json));
	g_autoptr(GBytes) body = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) node = NULL;

	soup_message_set_request_body_from_bytes(msg, "application/json", req);
	body = soup_session_send_and_read(iam->session, msg, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(soup_message_get_status(msg), ==, 200);
	node = json_from_string(g_bytes_get_data(body, NULL), NULL);
	g_assert_nonnull(node);
	return json_node_dup_object(node);
}

gchar *
exh_test_iam_mint(ExhTestIam *iam, const gchar *spec)
{
	g_autoptr(JsonObject) answer = exh_test_iam_control(iam, "/_fake/iam/tokens", spec);

	return g_strdup(json_object_get_string_member(answer, "token"));
}

/* One JWT per group of the token file, with the group's identity. */
static gboolean
mint_fixture_tokens(ExhTestIam *iam, const gchar *text, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_auto(GStrv) groups = NULL;

	if (text == NULL)
		return TRUE;
	if (!g_key_file_load_from_data(kf, text, -1, G_KEY_FILE_NONE, error))
		return FALSE;
	groups = g_key_file_get_groups(kf, NULL);
	for (guint i = 0; groups[i] != NULL; i++) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		g_autofree gchar *user = g_key_file_get_string(kf, groups[i], "user", NULL);
		g_autofree gchar *project = g_key_file_get_string(kf, groups[i], "project", NULL);
		g_auto(GStrv) perms =
			g_key_file_get_string_list(kf, groups[i], "permissions", NULL, NULL);
		g_autoptr(JsonNode) root = NULL;
		g_autofree gchar *spec = NULL;

		json_builder_begin_object(b);
		json_builder_set_member_name(b, "sub");
		json_builder_add_string_value(b, user);
		json_builder_set_member_name(b, "project_id");
		if (project != NULL)
			json_builder_add_string_value(b, project);
		else
			json_builder_add_null_value(b);
		json_builder_set_member_name(b, "permissions");
		json_builder_begin_array(b);
		for (guint j = 0; perms != NULL && perms[j] != NULL; j++)
			json_builder_add_string_value(b, g_strstrip(perms[j]));
		json_builder_end_array(b);
		json_builder_end_object(b);
		root = json_builder_get_root(b);
		spec = json_to_string(root, FALSE);
		g_hash_table_insert(iam->jwts, g_strdup(groups[i]), exh_test_iam_mint(iam, spec));
	}
	return TRUE;
}

ExhTestIam *
exh_test_iam_new(const gchar *dir, const gchar *token_file_text, GError **error)
{
	g_autoptr(ExhTestIam) iam = g_new0(ExhTestIam, 1);

	iam->jwts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	iam->session = soup_session_new();
	iam->key_file = g_build_filename(dir, "jwks.key", NULL);
	if (!g_file_set_contents_full(iam->key_file,
				      JWKS_KEY_RAW "\n",
				      -1,
				      G_FILE_SET_CONTENTS_CONSISTENT,
				      0600,
				      error) ||
	    !spawn(iam, dir, error) || !mint_fixture_tokens(iam, token_file_text, error))
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
		return NULL;
	return g_steal_pointer(&iam);
}

void
exh_test_iam_configure(ExhTestIam *iam, ExhHostConfig *config)
{
	g_free(config->iam_mode);
	config->iam_mode = g_strdup("core");
	g_free(config->iam_endpoint);
	config->iam_endpoint = g_strconcat(
		iam->base, "/v1/iam/clients/00000000-0000-0000-0000-000000000000", NULL);
	g_free(config->iam_jwks_key_file);
	config->iam_jwks_key_file = g_strdup(iam->key_file);
	/* short, so a revoked token is refused within a test */
	config->iam_cache_ttl = 1;
	config->iam_jwks_refresh = 1;
}

gchar *
exh_test_iam_endpoint(ExhTestIam *iam)
{
	return g_strconcat(iam->base, "/v1/iam/clients/00000000-0000-0000-0000-000000000000", NULL);
}

GBytes *
exh_test_iam_jwks_key(void)
{
	return g_bytes_new_static(JWKS_KEY_RAW, 32);
}

const gchar *
exh_test_iam_translate(ExhTestIam *iam, const gchar *token)
{
	const gchar *jwt = iam != NULL ? g_hash_table_lookup(iam->jwts, token) : NULL;

	return jwt != NULL ? jwt : token;
}

void
exh_test_iam_free(ExhTestIam *iam)
{
	if (iam == NULL)
		return;
	if (iam->proc != NULL) {
		g_subprocess_force_exit(iam->proc);
		g_subprocess_wait(iam->proc, NULL, NULL);
	}
	g_clear_object(&iam->proc);
	g_clear_object(&iam->session);
	g_clear_pointer(&iam->jwts, g_hash_table_unref);
	g_free(iam->base);
	g_free(iam->key_file);
	g_free(iam);
}
