/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-test.h"

#include "exm-config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>

#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <ftw.h>
#include <locale.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where a test process tells its subprocesses its user dirs. */
#define EXM_TEST_DIRS_ENV "EXM_TEST_DIRS"
/* The dirs' prefix in TMPDIR, and the file in them naming the process
 * that made them (exm_test_sweep_dirs()). */
#define EXM_TEST_DIRS_PREFIX "exm-test-dirs-"
#define EXM_TEST_DIRS_OWNER  "owner.pid"

/* The user dirs GLib hands this process (exm_test_init()), removed at its
 * exit by the process that made them (not by a fork()ed child's, nor by a
 * test's subprocess, which finds them in EXM_TEST_DIRS_ENV). */
static gchar *isolated_root;
static pid_t isolated_owner;

static const gchar *const user_dir_vars[] = {
	"HOME",		  "XDG_CACHE_HOME",  "XDG_CONFIG_HOME", "XDG_DATA_HOME",
	"XDG_STATE_HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_DIRS", "XDG_DATA_DIRS",
};

/* GLib reads each variable once, on the first call of its getter, and keeps
 * the answer: the variables are set for those calls only, so the programs a
 * test starts still see the real HOME and XDG dirs (pyenv shims, psql and
 * the like need them). */
static void
cache_user_dirs(void)
{
	gchar *old[G_N_ELEMENTS(user_dir_vars)];

	for (guint i = 0; i < G_N_ELEMENTS(user_dir_vars); i++) {
		g_autofree gchar *path = g_build_filename(isolated_root, user_dir_vars[i], NULL);

		old[i] = g_strdup(g_getenv(user_dir_vars[i]));
		if (g_mkdir_with_parents(path, 0700) != 0)
			g_printerr("exm-test: cannot make %s: %s\n", path, g_strerror(errno));
		g_setenv(user_dir_vars[i], path, TRUE);
	}
	(void)g_get_home_dir();
	(void)g_get_user_cache_dir();
	(void)g_get_user_config_dir();
	(void)g_get_user_data_dir();
	(void)g_get_user_state_dir();
	(void)g_get_user_runtime_dir();
	(void)g_get_system_config_dirs();
	(void)g_get_system_data_dirs();
	for (guint i = 0; i < G_N_ELEMENTS(user_dir_vars); i++) {
		if (old[i] != NULL)
			g_setenv(user_dir_vars[i], old[i], TRUE);
		else
			g_unsetenv(user_dir_vars[i]);
		g_free(old[i]);
	}
}

void
exm_test_remove_dirs(void)
{
	if (isolated_owner != getpid())
		return;
	exm_test_rmtree(isolated_root);
	g_clear_pointer(&isolated_root, g_free);
}

/* Whether the process @pid named in @dir's owner file is gone; %FALSE when
 * there is no such file (being made, or not ours). */
static gboolean
dirs_owner_gone(const gchar *dir)
{
	g_autofree gchar *path = g_build_filename(dir, EXM_TEST_DIRS_OWNER, NULL);
	g_autofree gchar *text = NULL;
	gint64 pid;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return FALSE;
	pid = g_ascii_strtoll(text, NULL, 10);
	if (pid <= 0 || pid > G_MAXINT)
		return FALSE;
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

guint
exm_test_sweep_dirs(const gchar *tmp)
{
	g_autoptr(GDir) dir = g_dir_open(tmp, 0, NULL);
	const gchar *name;
	guint swept = 0;

	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = NULL;

		if (!g_str_has_prefix(name, EXM_TEST_DIRS_PREFIX))
			continue;
		path = g_build_filename(tmp, name, NULL);
		if (!g_file_test(path, G_FILE_TEST_IS_DIR) || !dirs_owner_gone(path))
			continue;
		exm_test_rmtree(path);
		swept++;
	}
	return swept;
}

guint64
exm_test_status_kb(const gchar *field)
{
	g_autofree gchar *text = NULL;
	const gchar *at;

	g_assert_true(g_file_get_contents("/proc/self/status", &text, NULL, NULL));
	at = text != NULL ? strstr(text, field) : NULL;
	g_assert_nonnull(at);
	return at != NULL ? g_ascii_strtoull(at + strlen(field), NULL, 10) : 0;
}

/* The owner file of the dirs just made. */
static void
dirs_own(void)
{
	g_autofree gchar *path = g_build_filename(isolated_root, EXM_TEST_DIRS_OWNER, NULL);
	g_autofree gchar *pid = g_strdup_printf("%d\n", (int)getpid());
	g_autoptr(GError) error = NULL;

	if (!g_file_set_contents(path, pid, -1, &error))
		g_printerr("exm-test: %s\n", error->message);
}

/* One set of user dirs for the whole process, in place of GLib's
 * G_TEST_OPTION_ISOLATE_DIRS: that option gives every test case dirs of its
 * own and leaks the previous case's strings (GLib keeps them, as callers may
 * hold them).  Suppressing that leak under LeakSanitizer needed full
 * unwinding at every malloc (glib has no frame pointers), which made the
 * malloc-heavy tests 25 to 50 times slower in the sanitizer build. */
static void
isolate_dirs(void)
{
	const gchar *parent = g_getenv(EXM_TEST_DIRS_ENV);
	g_autoptr(GError) error = NULL;

	/* a test's subprocess (g_test_trap_subprocess()), which may be killed by
	 * design, uses its parent's dirs: the parent removes them */
	if (parent != NULL && g_file_test(parent, G_FILE_TEST_IS_DIR)) {
		isolated_root = g_strdup(parent);
		cache_user_dirs();
		return;
	}
	/* what a test killed or aborted left (no atexit() ran) */
	(void)exm_test_sweep_dirs(g_get_tmp_dir());
	isolated_root = g_dir_make_tmp(EXM_TEST_DIRS_PREFIX "XXXXXX", &error);
	if (isolated_root == NULL) {
		g_printerr("exm-test: %s\n", error->message);
		return;
	}
	isolated_owner = getpid();
	dirs_own();
	g_setenv(EXM_TEST_DIRS_ENV, isolated_root, TRUE);
	cache_user_dirs();
	atexit(exm_test_remove_dirs);
}

void
exm_test_init(int *argc, char ***argv)
{
	setlocale(LC_ALL, "C.UTF-8");
	isolate_dirs();
	g_test_init(argc, argv, NULL);
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
exm_test_make_certs(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("exm-certs");
	g_autofree gchar *err = NULL;
	const gchar *argv[] = {
		"bash", EXM_SOURCE_ROOT "/tests/unit/tls/make-certs.sh", dir, NULL
	};

	if (dir == NULL)
		return NULL;
	if (exm_test_run(argv, NULL, &err) != 0) {
		g_test_fail_printf("make-certs.sh %s: %s", dir, err != NULL ? err : "");
		exm_test_rmtree(dir);
		return NULL;
	}
	return g_steal_pointer(&dir);
}

gboolean
exm_test_pieces_add(gconstpointer piece, gsize len, gpointer data, GError **error)
{
	const gchar *bytes = piece;
	ExmTestPieces *p = data;

	g_assert_cmpuint(len, >, 0);
	if (p->lines)
		g_assert_cmpint(bytes[len - 1], ==, '\n');
	p->pieces++;
	if (p->pieces == p->refuse_at) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "piece %u refused", p->pieces);
		return FALSE;
	}
	g_string_append_len(p->text, bytes, (gssize)len);
	return TRUE;
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
	g_autofree gchar *unwanted = NULL;
	gint status = 0;

	/* stdout is the test's TAP stream: an uncaptured child's goes to stderr */
	if (!g_spawn_sync(NULL,
			  (gchar **)argv,
			  NULL,
			  G_SPAWN_SEARCH_PATH,
			  NULL,
			  NULL,
			  out != NULL ? out : &unwanted,
			  err,
			  &status,
			  &error)) {
		g_test_message("spawn %s: %s", argv[0], error->message);
		return -1;
	}
	if (unwanted != NULL && *unwanted != '\0')
		g_printerr("%s", unwanted);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return -1;
}

/* A TCP socket to @addr:@port, bound or connected as @do_connect says. */
static gboolean
try_socket(const gchar *addr, guint port, gboolean do_connect)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((guint16)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	gboolean ok;

	if (fd < 0)
		return FALSE;
	inet_pton(AF_INET, addr, &sa.sin_addr);
	if (do_connect)
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	else
		ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

gboolean
exm_test_can_bind(const gchar *addr, guint port)
{
	return try_socket(addr, port, FALSE);
}

gboolean
exm_test_can_connect(const gchar *addr, guint port)
{
	return try_socket(addr, port, TRUE);
}

guint
exm_test_signal_processes(const gchar *needle, int sig)
{
	g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
	const gchar *name;
	guint n = 0;

	while (proc != NULL && (name = g_dir_read_name(proc)) != NULL) {
		g_autofree gchar *path = g_build_filename("/proc", name, "cmdline", NULL);
		g_autofree gchar *cmd = NULL;
		gsize len = 0;

		if (!g_ascii_isdigit(name[0]) || !g_file_get_contents(path, &cmd, &len, NULL))
			continue;
		for (gsize i = 0; i + 1 < len; i++) {
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		}
		if (strstr(cmd, needle) == NULL || atoi(name) == getpid())
			continue;
		if (sig != 0)
			kill(atoi(name), sig);
		n++;
	}
	return n;
}

guint
exm_test_count_processes(const gchar *needle)
{
	return exm_test_signal_processes(needle, 0);
}

gint
exm_test_cmp_double(gconstpointer a, gconstpointer b)
{
	gdouble x = *(const gdouble *)a, y = *(const gdouble *)b;

	return x < y ? -1 : x > y;
}

gdouble
exm_test_percentile(const gdouble *sorted, guint n, guint p)
{
	guint rank = (p * n + 99) / 100;

	return sorted[MIN(MAX(rank, 1), n) - 1];
}

gint
exm_test_count_fds(GPid pid)
{
	g_autofree gchar *path = g_strdup_printf("/proc/%d/fd", (int)pid);
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	gint n = 0;

	if (dir == NULL)
		return -1;
	while (g_dir_read_name(dir) != NULL)
		n++;
	/* reading our own table holds one more descriptor: the directory's */
	return pid == getpid() ? n - 1 : n;
}

void
exm_test_schedstat(GPid pid, guint64 *cpu_ns, guint64 *wait_ns)
{
	g_autofree gchar *dir = g_strdup_printf("/proc/%d/task", (int)pid);
	g_autoptr(GDir) tasks = g_dir_open(dir, 0, NULL);
	const gchar *tid;

	*cpu_ns = *wait_ns = 0;
	while (tasks != NULL && (tid = g_dir_read_name(tasks)) != NULL) {
		g_autofree gchar *path = g_build_filename(dir, tid, "schedstat", NULL);
		g_autofree gchar *text = NULL;
		gchar *end = NULL;

		/* run time, run delay (waiting for a CPU), time slices */
		if (!g_file_get_contents(path, &text, NULL, NULL))
			continue;
		*cpu_ns += g_ascii_strtoull(text, &end, 10);
		*wait_ns += g_ascii_strtoull(end, NULL, 10);
	}
}

gchar *
exm_test_crypt(const gchar *password, const gchar *setting)
{
	/* crypt_data is ~32 KiB: on the heap, not the stack */
	struct crypt_data *data = g_new0(struct crypt_data, 1);
	const gchar *out = crypt_rn(password, setting, data, (int)sizeof(*data));
	gchar *result = (out != NULL && out[0] != '*') ? g_strdup(out) : NULL;

	g_free(data);
	return result;
}

gboolean
exm_test_need_root_and(const gchar *who, const gchar *program)
{
	g_autofree gchar *path = exm_test_find_program(program);

	if (geteuid() != 0) {
		exm_test_peer_missing("%s needs root", who);
		return FALSE;
	}
	if (path == NULL) {
		exm_test_peer_missing("%s is not installed", program);
		return FALSE;
	}
	return TRUE;
}

void
exm_test_break_dkim_dir(const gchar *root)
{
	g_autofree gchar *dir = g_build_filename(root, "persist/exordos_mail", NULL);
	g_autofree gchar *dkim = g_build_filename(dir, "dkim", NULL);

	g_mkdir_with_parents(dir, 0755);
	g_file_set_contents(dkim, "not a directory\n", -1, NULL);
}

gint
exm_test_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	gint port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

void
exm_test_die_with_parent(gpointer sig)
{
	prctl(PR_SET_PDEATHSIG, GPOINTER_TO_INT(sig));
}
