/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Shared helpers of the test suites.
 */
#pragma once

#include <glib.h>

/* Assertions are non-fatal in this project's tests (g_test_set_nonfatal_assertions):
 * stop the test at the first unexpected error instead of reusing a set GError. */
#define EXM_TEST_OK(err)                                                                           \
	G_STMT_START                                                                               \
	{                                                                                          \
		g_assert_no_error(err);                                                            \
		if ((err) != NULL)                                                                 \
			return;                                                                    \
	}                                                                                          \
	G_STMT_END

/* g_test_init() with TAP output and the project's defaults; GLib's user dirs
 * (home, XDG) are made for the process in TMPDIR and removed at exit. */
void exm_test_init(int *argc, char ***argv);

/* Removes the user dirs of exm_test_init() now (for an exit that skips
 * atexit(), such as _exit()); safe to call twice. */
void exm_test_remove_dirs(void);

/* Removes the user dirs in @tmp that a test process left when it was killed
 * or aborted (its owner is gone); exm_test_init() calls it on TMPDIR.
 * Returns: how many were removed */
guint exm_test_sweep_dirs(const gchar *tmp);

/* The kB figure of @field ("VmRSS:", "VmHWM:") in /proc/self/status (asserted). */
guint64 exm_test_status_kb(const gchar *field);

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

/* A fresh set of the certificate fixtures (tests/unit/tls/make-certs.sh),
 * valid from now, in a new directory (the caller removes it); %NULL, the
 * test failed, when openssl did. */
gchar *exm_test_make_certs(void);

/* Reads a whole file, failing the test if it cannot. */
gchar *exm_test_read_file(const gchar *path);

/* A text handed out in pieces (the shape of every piece writer:
 * ExmJsonPieceFunc, the passwd render, a cdb sink's append), collected by
 * exm_test_pieces_add(): each piece is non-empty (and whole lines with
 * @lines), appended to @text and counted; the piece numbered @refuse_at
 * (from 1; 0: none) is refused with %G_IO_ERROR_NO_SPACE. */
typedef struct {
	GString *text;
	guint pieces;
	guint refuse_at;
	gboolean lines;
} ExmTestPieces;

gboolean exm_test_pieces_add(gconstpointer piece, gsize len, gpointer data, GError **error);

/* Runs argv synchronously; returns the exit status (or -1), stdout/stderr optional. */
gint exm_test_run(const gchar *const *argv, gchar **out, gchar **err);

/* %TRUE when a TCP socket can bind @addr:@port (nobody else listens there). */
gboolean exm_test_can_bind(const gchar *addr, guint port);

/* %TRUE when a TCP connect to @addr:@port succeeds (somebody listens there). */
gboolean exm_test_can_connect(const gchar *addr, guint port);

/**
 * exm_test_count_processes:
 * @needle: a string to look for
 *
 * Counts the processes other than this one whose command line (arguments
 * joined by spaces) contains @needle, e.g. a test's own state directory, to
 * prove that everything a test started has gone.
 *
 * Returns: the number of such processes
 */
guint exm_test_count_processes(const gchar *needle);

/**
 * exm_test_signal_processes:
 * @needle: a string to look for, as exm_test_count_processes()
 * @sig: the signal to send them, 0 for none
 *
 * Sends @sig to every process other than this one whose command line
 * contains @needle: what a test's daemon forked and its signal does not
 * reach (exim's connection processes).
 *
 * Returns: the number of such processes
 */
guint exm_test_signal_processes(const gchar *needle, int sig);

/* A GCompareFunc (g_array_sort, qsort) for gdouble values, ascending. */
gint exm_test_cmp_double(gconstpointer a, gconstpointer b);

/* Nearest-rank percentile @p (0..100) of the @n ascending values @sorted (n > 0). */
gdouble exm_test_percentile(const gdouble *sorted, guint n, guint p);

/**
 * exm_test_count_fds:
 * @pid: a process (this one or another this user may inspect)
 *
 * Counts the open file descriptors of @pid (the entries of
 * `/proc/<pid>/fd`), to prove that a process gives back what a test made
 * it open.
 *
 * Returns: the count, or -1 when the process cannot be inspected
 */
gint exm_test_count_fds(GPid pid);

/**
 * exm_test_schedstat:
 * @pid: a process
 * @cpu_ns: (out): its threads' time on a CPU, in ns
 * @wait_ns: (out): their time runnable and waiting for a CPU, in ns
 *
 * Sums `/proc/<pid>/task/<tid>/schedstat` over the threads alive now (one
 * that exited took its time away): what a benchmark prints beside its
 * latencies, the machine's share of them.  Both are 0 when @pid is gone.
 */
void exm_test_schedstat(GPid pid, guint64 *cpu_ns, guint64 *wait_ns);

/**
 * exm_test_crypt:
 * @password: the password
 * @setting: a crypt(3) setting or a whole hash
 *
 * libxcrypt's crypt_rn() on its own, as the independent oracle that hashes
 * made or accepted by the project's code are checked against.
 *
 * Returns: (transfer full) (nullable): the hash, or %NULL when libxcrypt
 *   refuses @setting
 */
gchar *exm_test_crypt(const gchar *password, const gchar *setting);

/**
 * exm_test_need_root_and:
 * @who: what needs root, for the message (e.g. "the local backend's exim")
 * @program: a program that must be installed
 *
 * Calls exm_test_peer_missing() when the test does not run as root or
 * @program is not installed.
 *
 * Returns: %TRUE when both are there; on %FALSE the caller returns
 */
gboolean exm_test_need_root_and(const gchar *who, const gchar *program);

/**
 * exm_test_break_dkim_dir:
 * @root: a node's sandbox root
 *
 * Puts a plain file where the node keeps its DKIM keys
 * (`persist/exordos_mail/dkim`), so that exordos-mail-configure fails on it.
 */
void exm_test_break_dkim_dir(const gchar *root);

/* A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick), or -1. */
gint exm_test_free_port(void);

/*
 * A child setup function (GSpawnChildSetupFunc) for a peer a test starts: the
 * kernel sends the child @sig, GINT_TO_POINTER(SIGTERM or SIGKILL), when
 * the test dies first, so a crashed test never leaves it running.
 */
void exm_test_die_with_parent(gpointer sig);
