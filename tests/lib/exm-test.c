/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-test.h"

#include <errno.h>
#include <ftw.h>
#include <locale.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

void
exm_test_init(int *argc, char ***argv)
{
	setlocale(LC_ALL, "C.UTF-8");
	g_test_init(argc, argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
	g_test_set_nonfatal_assertions();
}

gboolean
exm_test_require_real_peers(void)
{
	return g_strcmp0(g_getenv("EXM_REQUIRE_REAL_PEERS"), "1") == 0;
}

void
exm_test_peer_missing(const gchar *fmt, ...)
{
	va_list args;
	g_autofree gchar *msg = NULL;

	va_start(args, fmt);
	msg = g_strdup_vprintf(fmt, args);
	va_end(args);
	if (exm_test_require_real_peers())
		g_test_fail_printf("real peer required (EXM_REQUIRE_REAL_PEERS=1): %s", msg);
	else
		g_test_skip_printf("peer missing: %s", msg);
}

gchar *
exm_test_find_program(const gchar *program)
{
	static const gchar *extra[] = { "/usr/sbin", "/sbin", "/usr/local/sbin", NULL };
	gchar *path = g_find_program_in_path(program);

	if (path != NULL)
		return path;
	for (guint i = 0; extra[i] != NULL; i++) {
		g_autofree gchar *cand = g_build_filename(extra[i], program, NULL);
		if (g_file_test(cand, G_FILE_TEST_IS_EXECUTABLE))
			return g_steal_pointer(&cand);
	}
	return NULL;
}

gchar *
exm_test_mkdtemp(const gchar *prefix)
{
	g_autofree gchar *tmpl = g_strdup_printf("/tmp/%s-XXXXXX", prefix);

	if (g_mkdtemp_full(tmpl, 0755) == NULL) {
		g_test_fail_printf("mkdtemp %s: %s", tmpl, g_strerror(errno));
		return NULL;
	}
	chmod(tmpl, 0755);
	return g_steal_pointer(&tmpl);
}

static int
rmtree_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	if (remove(path) != 0 && errno != ENOENT)
		g_test_message("cannot remove %s: %s", path, g_strerror(errno));
	return 0;
}

void
exm_test_rmtree(const gchar *path)
{
	if (path == NULL || !g_file_test(path, G_FILE_TEST_EXISTS))
		return;
	nftw(path, rmtree_cb, 16, FTW_DEPTH | FTW_PHYS);
}

gchar *
exm_test_read_file(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	gchar *contents = NULL;

	if (!g_file_get_contents(path, &contents, NULL, &error))
		g_test_fail_printf("read %s: %s", path, error->message);
	return contents;
}

gint
exm_test_run(const gchar *const *argv, gchar **out, gchar **err)
{
	g_autoptr(GError) error = NULL;
	gint status = 0;

	if (!g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out, err,
			  &status, &error)) {
		g_test_message("spawn %s: %s", argv[0], error->message);
		return -1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return -1;
}
