/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "test-faults-fixture.h"

#include <stdio.h>
#include <string.h>

#include "exm-test.h"

void
faults_figure(const gchar *target, const gchar *fmt, ...)
{
	g_autofree gchar *what = NULL;
	va_list args;

	va_start(args, fmt);
	what = g_strdup_vprintf(fmt, args);
	va_end(args);
	g_print("# figure: %s (target %s)\n", what, target);
	fflush(stdout);
}

ExhLocalNodeInfo *
faults_active_instance(E2e *e, const gchar *name, gchar **out_uuid)
{
	g_autofree gchar *uuid = e2e_create_instance(e, name, E2E_DOMAIN);
	g_autoptr(JsonObject) json = NULL;
	ExhLocalNodeInfo *node;

	if (uuid == NULL)
		return NULL;
	json = e2e_wait_instance(e, uuid, "ACTIVE");
	g_assert_nonnull(json);
	node = json != NULL ? e2e_node(e, uuid) : NULL;
	g_assert_nonnull(node);
	if (node != NULL)
		*out_uuid = g_steal_pointer(&uuid);
	return node;
}

gchar *
faults_passwd_path(const ExhLocalNodeInfo *node)
{
	return g_build_filename(node->root, "etc", "exim4", "passwd", NULL);
}

gboolean
faults_passwd_has(const ExhLocalNodeInfo *node, const gchar *local)
{
	g_autofree gchar *path = faults_passwd_path(node);
	g_autofree gchar *text = NULL;
	g_autofree gchar *line = g_strdup_printf("\n%s@%s:", local, E2E_DOMAIN);

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return FALSE;
	/* a line's start: the file's or after a newline */
	return strstr(text, line) != NULL || g_str_has_prefix(text, line + 1);
}

gint64
faults_wait_passwd(const ExhLocalNodeInfo *node,
		   const gchar *local,
		   gboolean present,
		   gint64 max_us)
{
	gint64 start = g_get_monotonic_time();

	do {
		if (faults_passwd_has(node, local) == present)
			return g_get_monotonic_time() - start;
		g_usleep(2 * 1000);
	} while (g_get_monotonic_time() - start < max_us);
	return -1;
}

gboolean
faults_try_create_account(ExhTest *t,
			  const gchar *instance,
			  const gchar *local,
			  const gchar *password)
{
	g_autofree gchar *path = g_strdup_printf("/v1/types/mail/instances/%s/accounts/", instance);
	g_autofree gchar *body =
		g_strdup_printf("{\"username\":\"%s\",\"password\":\"%s\",\"project_id\":\"%s\"}",
				local,
				password,
				EXH_TEST_PROJECT);
	g_autoptr(ExhTestResponse) r =
		exh_test_request(t, "POST", path, EXH_TEST_TOKEN_OWNER, body);

	if (r->status != 201)
		g_test_message("create %s: %u %s", local, r->status, r->body);
	return r->status == 201;
}

GPtrArray *
faults_list_accounts(ExhTest *t, const gchar *instance)
{
	g_autofree gchar *path = g_strdup_printf("/v1/types/mail/instances/%s/accounts/", instance);
	g_autoptr(ExhTestResponse) r = exh_test_request(t, "GET", path, EXH_TEST_TOKEN_OWNER, NULL);
	GPtrArray *names;
	JsonArray *rows;

	if (r->status != 200 || r->json == NULL || !JSON_NODE_HOLDS_ARRAY(r->json)) {
		g_test_fail_printf("list accounts: %u %s", r->status, r->body);
		return NULL;
	}
	rows = json_node_get_array(r->json);
	names = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < json_array_get_length(rows); i++) {
		JsonObject *row = json_array_get_object_element(rows, i);

		g_ptr_array_add(names, g_strdup(json_object_get_string_member(row, "username")));
	}
	return names;
}
