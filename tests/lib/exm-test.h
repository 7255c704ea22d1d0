/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Shared helpers of the test suites.
 */
#pragma once

#include <glib.h>

/* g_test_init() with TAP output and the project's defaults. */
void exm_test_init(int *argc, char ***argv);

/* %TRUE when EXM_REQUIRE_REAL_PEERS=1: a missing peer is a failure, not a skip. */
gboolean exm_test_require_real_peers(void);

/**
 * exm_test_peer_missing:
 * @fmt: what is missing and why
 *
 * Marks the current test as skipped, or as failed when real peers are required.
 * The caller returns right after.
 */
void exm_test_peer_missing(const gchar *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Absolute path of @program on PATH or in /usr/sbin:/usr/lib/postgresql/…, or NULL. */
gchar *exm_test_find_program(const gchar *program);

/**
 * exm_test_mkdtemp:
 * @prefix: name prefix
 *
 * A fresh directory under /tmp with mode 0755, so that unprivileged daemons
 * (postgres, Debian-exim) can traverse it.
 *
 * Returns: (transfer full): its path
 */
gchar *exm_test_mkdtemp(const gchar *prefix);

/* rm -rf without spawning; errors are reported as test messages. */
void exm_test_rmtree(const gchar *path);

/* Reads a whole file, failing the test if it cannot. */
gchar *exm_test_read_file(const gchar *path);

/* Runs argv synchronously; returns the exit status (or -1), stdout/stderr optional. */
gint exm_test_run(const gchar *const *argv, gchar **out, gchar **err);
