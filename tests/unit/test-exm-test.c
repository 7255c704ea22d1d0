/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The test library's user dirs (tests/lib/exm-test.c): GLib's home and XDG
 * dirs are one set per test process, made in TMPDIR and removed at its exit;
 * the programs a test starts keep the real variables; a test's subprocess
 * (g_test_trap_subprocess()), which may die by design, uses its parent's set
 * instead of leaving one of its own behind.
 */
#include <glib/gstdio.h>
#include <stdlib.h>

#include "exm-test.h"

/* EXM_TEST_DIRS, as exm_test_init() exports it to its children. */
static const gchar *
dirs_root(void)
{
	const gchar *root = g_getenv("EXM_TEST_DIRS");

	g_assert_nonnull(root);
	return root != NULL ? root : "";
}

static void
test_isolated(void)
{
	g_autofree gchar *prefix = g_strconcat(dirs_root(), G_DIR_SEPARATOR_S, NULL);
	const gchar *const *config = g_get_system_config_dirs();

	g_assert_true(g_file_test(dirs_root(), G_FILE_TEST_IS_DIR));
	g_assert_true(g_str_has_prefix(g_get_home_dir(), prefix));
	g_assert_true(g_str_has_prefix(g_get_user_cache_dir(), prefix));
	g_assert_true(g_str_has_prefix(g_get_user_config_dir(), prefix));
	g_assert_true(g_str_has_prefix(g_get_user_data_dir(), prefix));
	g_assert_true(g_str_has_prefix(g_get_user_state_dir(), prefix));
	g_assert_true(g_str_has_prefix(g_get_user_runtime_dir(), prefix));
	g_assert_true(g_file_test(g_get_user_runtime_dir(), G_FILE_TEST_IS_DIR));
	g_assert_nonnull(config[0]);
	g_assert_true(g_str_has_prefix(config[0], prefix));
	/* the variables themselves are what the process was started with */
	g_assert_cmpstr(g_getenv("HOME"), !=, g_get_home_dir());
	g_assert_cmpstr(g_getenv("XDG_RUNTIME_DIR"), !=, g_get_user_runtime_dir());
}

/* The file (in the parent's dirs) a subprocess writes its home dir to. */
static gchar *
child_home(void)
{
	g_autofree gchar *out = g_build_filename(dirs_root(), "child-home", NULL);

	g_setenv("EXM_TEST_LIB_OUT", out, TRUE);
	(void)g_remove(out);
	return g_steal_pointer(&out);
}

static void
write_home(void)
{
	g_assert_true(
		g_file_set_contents(g_getenv("EXM_TEST_LIB_OUT"), g_get_home_dir(), -1, NULL));
}

/* The child dies as a killed process would: its dirs are the parent's. */
static void
test_child_shares(void)
{
	g_autofree gchar *prefix = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *home = NULL;

	if (g_test_subprocess()) {
		write_home();
		abort();
	}
	prefix = g_strconcat(dirs_root(), G_DIR_SEPARATOR_S, NULL);
	out = child_home();
	g_test_trap_subprocess(NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_failed();
	home = exm_test_read_file(out);
	g_assert_nonnull(home);
	if (home == NULL)
		return;
	g_assert_true(g_str_has_prefix(home, prefix));
	g_assert_true(g_file_test(home, G_FILE_TEST_IS_DIR));
}

/* Runs this test in a process of its own (no EXM_TEST_DIRS inherited),
 * which passes or fails as @passes says; returns the HOME it wrote, or
 * %NULL (asserted) when it wrote none. */
static gchar *
own_dirs_child_home(gboolean passes)
{
	g_autofree gchar *parent = g_strdup(dirs_root());
	g_autofree gchar *out = child_home();
	gchar *home;

	g_unsetenv("EXM_TEST_DIRS");
	g_test_trap_subprocess(NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
	g_setenv("EXM_TEST_DIRS", parent, TRUE);
	if (passes)
		g_test_trap_assert_passed();
	else
		g_test_trap_assert_failed();
	home = exm_test_read_file(out);
	g_assert_nonnull(home);
	if (home != NULL)
		g_assert_false(g_str_has_prefix(home, parent));
	return home;
}

/* A process of its own makes its set and removes it when it exits. */
static void
test_removed_at_exit(void)
{
	g_autofree gchar *home = NULL;
	g_autofree gchar *root = NULL;

	if (g_test_subprocess()) {
		write_home();
		return;
	}
	home = own_dirs_child_home(TRUE);
	if (home == NULL)
		return;
	root = g_path_get_dirname(home);
	g_assert_true(g_str_has_prefix(root, g_get_tmp_dir()));
	g_assert_false(g_file_test(root, G_FILE_TEST_EXISTS));
}

/* A process of its own that aborts (no atexit() runs) leaves its set; the
 * next sweep removes it, and not the set of a process still running. */
static void
test_stale_swept(void)
{
	g_autofree gchar *home = NULL;
	g_autofree gchar *root = NULL;

	if (g_test_subprocess()) {
		write_home();
		abort();
	}
	home = own_dirs_child_home(FALSE);
	if (home == NULL)
		return;
	root = g_path_get_dirname(home);
	g_assert_true(g_file_test(root, G_FILE_TEST_IS_DIR));
	g_assert_cmpuint(exm_test_sweep_dirs(g_get_tmp_dir()), >=, 1);
	g_assert_false(g_file_test(root, G_FILE_TEST_EXISTS));
	/* this process's own set, which it is still using */
	g_assert_true(g_file_test(g_get_home_dir(), G_FILE_TEST_IS_DIR));
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/test-lib/dirs/isolated", test_isolated);
	g_test_add_func("/test-lib/dirs/child-shares", test_child_shares);
	g_test_add_func("/test-lib/dirs/removed-at-exit", test_removed_at_exit);
	g_test_add_func("/test-lib/dirs/stale-swept", test_stale_swept);
	return g_test_run();
}
