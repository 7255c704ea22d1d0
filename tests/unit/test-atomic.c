/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Atomic write-if-changed: unchanged content keeps the file (and its mtime),
 * a fault at any step leaves the old file intact and no temp file behind,
 * mode and owner are applied before the content exists.
 */
#include "exm-base.h"
#include "exm-test.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOBODY 65534

typedef struct {
	gchar *dir;
	gchar *path;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	f->dir = exm_test_mkdtemp("exm-atomic");
	f->path = g_build_filename(f->dir, "passwd", NULL);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	exm_test_rmtree(f->dir);
	g_free(f->dir);
	g_free(f->path);
}

/* Names in the directory other than the target: leftovers of temp files. */
static guint
count_strays(const Fixture *f)
{
	g_autoptr(GDir) dir = g_dir_open(f->dir, 0, NULL);
	const gchar *name;
	guint n = 0;

	g_assert_nonnull(dir);
	while ((name = g_dir_read_name(dir)) != NULL) {
		if (g_strcmp0(name, "passwd") != 0) {
			g_test_message("stray file %s", name);
			n++;
		}
	}
	return n;
}

static void
write_ok(const gchar *path,
	 const gchar *content,
	 const ExmAtomicOptions *opts,
	 gboolean expect_changed)
{
	g_autoptr(GError) error = NULL;
	gboolean changed = !expect_changed;
	gboolean ok = exm_atomic_write(path, content, strlen(content), opts, &changed, &error);

	g_assert_no_error(error);
	g_assert_true(ok);
	g_assert_cmpint(changed, ==, expect_changed);
}

static void
assert_file(const gchar *path, const gchar *content, mode_t mode, uid_t uid, gid_t gid)
{
	g_autofree gchar *got = exm_test_read_file(path);
	struct stat st;

	g_assert_cmpstr(got, ==, content);
	g_assert_cmpint(lstat(path, &st), ==, 0);
	g_assert_true(S_ISREG(st.st_mode));
	g_assert_cmpint(st.st_mode & 07777, ==, mode);
	g_assert_cmpint(st.st_uid, ==, uid);
	g_assert_cmpint(st.st_gid, ==, gid);
}

static void
set_old_mtime(const gchar *path)
{
	struct timespec ts[2] = { { 946684800, 0 }, { 946684800, 0 } }; /* 2000-01-01 */

	g_assert_cmpint(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), ==, 0);
}

static void
test_create(Fixture *f, gconstpointer data)
{
	guint writes = 0;
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0640);
	mode_t old_umask = umask(0077);

	opts.writes = &writes;
	write_ok(f->path, "alice@example.com:$y$hash\n", &opts, TRUE);
	umask(old_umask);
	/* the mode is exact, whatever the umask */
	assert_file(f->path, "alice@example.com:$y$hash\n", 0640, geteuid(), getegid());
	g_assert_cmpuint(writes, ==, 1);
	g_assert_cmpuint(count_strays(f), ==, 0);
}

static void
test_unchanged_keeps_mtime(Fixture *f, gconstpointer data)
{
	guint writes = 0;
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0640);
	struct stat before;
	struct stat after;

	opts.writes = &writes;
	write_ok(f->path, "same\n", &opts, TRUE);
	set_old_mtime(f->path);
	g_assert_cmpint(stat(f->path, &before), ==, 0);

	write_ok(f->path, "same\n", &opts, FALSE);
	g_assert_cmpint(stat(f->path, &after), ==, 0);
	g_assert_cmpint(after.st_mtim.tv_sec, ==, 946684800);
	g_assert_cmpint(after.st_ino, ==, before.st_ino);
	g_assert_cmpuint(writes, ==, 1);

	/* one byte more, one byte less, one byte different: all rewrites */
	write_ok(f->path, "same\n\n", &opts, TRUE);
	write_ok(f->path, "same", &opts, TRUE);
	write_ok(f->path, "sane", &opts, TRUE);
	g_assert_cmpuint(writes, ==, 4);
	g_assert_cmpuint(count_strays(f), ==, 0);
}

static void
test_content_change_replaces(Fixture *f, gconstpointer data)
{
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0600);
	struct stat before;
	struct stat after;
	int fd;
	gchar buf[8] = { 0 };

	write_ok(f->path, "old\n", &opts, TRUE);
	g_assert_cmpint(stat(f->path, &before), ==, 0);
	/* a reader holding the old file keeps reading the old, complete content */
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	g_assert_cmpint(fd, >=, 0);
	write_ok(f->path, "new\n", &opts, TRUE);
	g_assert_cmpint(stat(f->path, &after), ==, 0);
	g_assert_cmpint(after.st_ino, !=, before.st_ino);
	g_assert_cmpint(read(fd, buf, sizeof(buf) - 1), ==, 4);
	g_assert_cmpstr(buf, ==, "old\n");
	close(fd);
	assert_file(f->path, "new\n", 0600, geteuid(), getegid());
}

static void
test_empty_and_large(Fixture *f, gconstpointer data)
{
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0644);
	gsize big_len = 3 * 1024 * 1024 + 17;
	g_autofree gchar *big = g_malloc(big_len);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *got = NULL;
	gsize got_len = 0;
	gboolean changed = FALSE;

	for (gsize i = 0; i < big_len; i++)
		big[i] = (gchar)(i * 131 % 251);
	g_assert_true(exm_atomic_write(f->path, big, big_len, &opts, &changed, &error));
	g_assert_no_error(error);
	g_assert_true(changed);
	g_assert_true(g_file_get_contents(f->path, &got, &got_len, NULL));
	g_assert_cmpmem(got, got_len, big, big_len);
	g_assert_true(exm_atomic_write(f->path, big, big_len, &opts, &changed, &error));
	g_assert_false(changed);

	/* empty content, with and without a data pointer */
	g_assert_true(exm_atomic_write(f->path, "", 0, &opts, &changed, &error));
	g_assert_true(changed);
	assert_file(f->path, "", 0644, geteuid(), getegid());
	g_assert_true(exm_atomic_write(f->path, NULL, 0, &opts, &changed, &error));
	g_assert_false(changed);
	g_assert_true(exm_atomic_write(f->path, NULL, 0, &opts, NULL, &error));
	g_assert_no_error(error);
}

static void
test_mode_only_fixed_in_place(Fixture *f, gconstpointer data)
{
	guint writes = 0;
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0644);
	struct stat before;
	struct stat after;

	opts.writes = &writes;
	write_ok(f->path, "x\n", &opts, TRUE);
	set_old_mtime(f->path);
	g_assert_cmpint(stat(f->path, &before), ==, 0);

	opts.mode = 0640;
	write_ok(f->path, "x\n", &opts, TRUE);
	g_assert_cmpint(stat(f->path, &after), ==, 0);
	g_assert_cmpint(after.st_ino, ==, before.st_ino);
	g_assert_cmpint(after.st_mtim.tv_sec, ==, 946684800);
	g_assert_cmpuint(writes, ==, 1); /* renames only */
	assert_file(f->path, "x\n", 0640, geteuid(), getegid());
	write_ok(f->path, "x\n", &opts, FALSE);
}

static gboolean
require_root(void)
{
	if (geteuid() != 0) {
		g_test_skip("changing owners needs root");
		return FALSE;
	}
	return TRUE;
}

static void
test_owner(Fixture *f, gconstpointer data)
{
	guint writes = 0;
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0640);
	ExmAtomicOptions keep = EXM_ATOMIC_OPTIONS_INIT(0640);
	struct stat before;
	struct stat after;

	if (!require_root())
		return;
	opts.uid = NOBODY;
	opts.gid = NOBODY;
	opts.writes = &writes;

	/* applied on create */
	write_ok(f->path, "a\n", &opts, TRUE);
	assert_file(f->path, "a\n", 0640, NOBODY, NOBODY);
	/* kept across a content rewrite */
	write_ok(f->path, "b\n", &opts, TRUE);
	assert_file(f->path, "b\n", 0640, NOBODY, NOBODY);
	g_assert_cmpuint(writes, ==, 2);

	/* owner differs only: fixed in place */
	g_assert_cmpint(chown(f->path, 0, 0), ==, 0);
	g_assert_cmpint(stat(f->path, &before), ==, 0);
	write_ok(f->path, "b\n", &opts, TRUE);
	g_assert_cmpint(stat(f->path, &after), ==, 0);
	g_assert_cmpint(after.st_ino, ==, before.st_ino);
	assert_file(f->path, "b\n", 0640, NOBODY, NOBODY);
	g_assert_cmpuint(writes, ==, 2);

	/* group only */
	opts.gid = 0;
	write_ok(f->path, "b\n", &opts, TRUE);
	assert_file(f->path, "b\n", 0640, NOBODY, 0);

	/* -1 means no requirement: an existing owner is not a reason to rewrite */
	write_ok(f->path, "b\n", &keep, FALSE);
	assert_file(f->path, "b\n", 0640, NOBODY, 0);
	/* and a rewrite with -1 gives the process's owner */
	write_ok(f->path, "c\n", &keep, TRUE);
	assert_file(f->path, "c\n", 0640, geteuid(), getegid());
}

static void
test_setgid_mode_after_chown(Fixture *f, gconstpointer data)
{
	/* chown clears set-id bits, so the mode must be applied after it */
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(02750);

	if (!require_root())
		return;
	opts.uid = NOBODY;
	opts.gid = NOBODY;
	write_ok(f->path, "#!/bin/sh\n", &opts, TRUE);
	assert_file(f->path, "#!/bin/sh\n", 02750, NOBODY, NOBODY);
}

/* ---- fault injection ---------------------------------------------------- */

typedef struct {
	const Fixture *f;
	ExmAtomicStep fail_at;
	GArray *seen;
	guint checks;
	gboolean in_place; /* metadata fix of the target: there is no temp file */
} FaultCtx;

/* The temp file during a step, for checking what is set before what. */
static gchar *
find_temp(const Fixture *f)
{
	g_autoptr(GDir) dir = g_dir_open(f->dir, 0, NULL);
	const gchar *name;

	while ((name = g_dir_read_name(dir)) != NULL) {
		if (g_strcmp0(name, "passwd") != 0)
			return g_build_filename(f->dir, name, NULL);
	}
	return NULL;
}

static void
check_temp_during(FaultCtx *ctx, ExmAtomicStep step)
{
	g_autofree gchar *tmp = find_temp(ctx->f);
	struct stat st;

	if (step == EXM_ATOMIC_STEP_OPEN || step == EXM_ATOMIC_STEP_DIRSYNC) {
		g_assert_null(tmp);
		return;
	}
	if (step == EXM_ATOMIC_STEP_RENAME) {
		g_assert_nonnull(tmp);
		return;
	}
	g_assert_nonnull(tmp);
	g_assert_cmpint(lstat(tmp, &st), ==, 0);
	if (step == EXM_ATOMIC_STEP_CHOWN) {
		/* created private, empty */
		g_assert_cmpint(st.st_mode & 07777, ==, 0600);
		g_assert_cmpint(st.st_size, ==, 0);
	} else if (step == EXM_ATOMIC_STEP_WRITE) {
		/* owner and mode are in place before any content */
		g_assert_cmpint(st.st_mode & 07777, ==, 0640);
		g_assert_cmpint(st.st_uid, ==, NOBODY);
		g_assert_cmpint(st.st_gid, ==, NOBODY);
		g_assert_cmpint(st.st_size, ==, 0);
	}
	ctx->checks++;
}

static gboolean
fault_hook(ExmAtomicStep step, gpointer user_data, GError **error)
{
	FaultCtx *ctx = user_data;

	g_array_append_val(ctx->seen, step);
	if (!ctx->in_place)
		check_temp_during(ctx, step);
	if (step != ctx->fail_at)
		return TRUE;
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "injected failure");
	return FALSE;
}

static void
assert_steps(GArray *seen, const ExmAtomicStep *expected, guint n)
{
	g_assert_cmpuint(seen->len, ==, n);
	for (guint i = 0; i < MIN(n, seen->len); i++)
		g_assert_cmpstr(exm_atomic_step_name(g_array_index(seen, ExmAtomicStep, i)),
				==,
				exm_atomic_step_name(expected[i]));
}

static void
test_fault_each_step(Fixture *f, gconstpointer data)
{
	static const ExmAtomicStep all[] = {
		EXM_ATOMIC_STEP_OPEN,	 EXM_ATOMIC_STEP_CHOWN, EXM_ATOMIC_STEP_CHMOD,
		EXM_ATOMIC_STEP_WRITE,	 EXM_ATOMIC_STEP_FSYNC, EXM_ATOMIC_STEP_RENAME,
		EXM_ATOMIC_STEP_DIRSYNC,
	};

	if (!require_root())
		return;
	for (ExmAtomicStep step = EXM_ATOMIC_STEP_OPEN; step < EXM_ATOMIC_STEP_DIRSYNC; step++) {
		guint writes = 0;
		ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0640);
		FaultCtx ctx = {
			f, EXM_ATOMIC_STEP_LAST, g_array_new(FALSE, FALSE, sizeof(ExmAtomicStep)), 0
		};
		g_autoptr(GError) error = NULL;
		gboolean changed = TRUE;
		struct stat before;
		struct stat after;

		opts.uid = NOBODY;
		opts.gid = NOBODY;
		opts.writes = &writes;
		write_ok(f->path, "old content\n", &opts, TRUE);
		g_assert_cmpint(stat(f->path, &before), ==, 0);

		opts.fault = fault_hook;
		opts.fault_data = &ctx;
		ctx.fail_at = step;
		g_assert_false(
			exm_atomic_write(f->path, "new content\n", 12, &opts, &changed, &error));
		g_assert_error(error, EXM_ERROR, EXM_ERROR_FAILED);
		g_test_message("%s: %s", exm_atomic_step_name(step), error->message);
		g_assert_true(g_str_has_prefix(error->message, exm_atomic_step_name(step)));
		g_assert_nonnull(strstr(error->message, "injected failure"));
		g_assert_false(changed);
		g_assert_cmpuint(writes, ==, 1);
		assert_steps(ctx.seen, all, (guint)step + 1);

		/* the old file, intact and untouched; nothing left behind */
		assert_file(f->path, "old content\n", 0640, NOBODY, NOBODY);
		g_assert_cmpint(stat(f->path, &after), ==, 0);
		g_assert_cmpint(after.st_ino, ==, before.st_ino);
		g_assert_cmpuint(count_strays(f), ==, 0);
		g_array_unref(ctx.seen);
		g_assert_cmpint(unlink(f->path), ==, 0);
	}
}

static void
test_fault_new_file(Fixture *f, gconstpointer data)
{
	if (!require_root())
		return;
	for (ExmAtomicStep step = EXM_ATOMIC_STEP_OPEN; step < EXM_ATOMIC_STEP_DIRSYNC; step++) {
		ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0640);
		FaultCtx ctx = { f, step, g_array_new(FALSE, FALSE, sizeof(ExmAtomicStep)), 0 };
		g_autoptr(GError) error = NULL;

		opts.uid = NOBODY;
		opts.gid = NOBODY;
		opts.fault = fault_hook;
		opts.fault_data = &ctx;
		g_assert_false(exm_atomic_write(f->path, "new\n", 4, &opts, NULL, &error));
		g_assert_error(error, EXM_ERROR, EXM_ERROR_FAILED);
		g_assert_false(g_file_test(f->path, G_FILE_TEST_EXISTS));
		g_assert_cmpuint(count_strays(f), ==, 0);
		g_array_unref(ctx.seen);
	}
}

static void
test_fault_dirsync(Fixture *f, gconstpointer data)
{
	/* The directory fsync comes after the rename: the new content is complete
	 * at the target, yet the caller learns durability was not confirmed. */
	static const ExmAtomicStep all[] = {
		EXM_ATOMIC_STEP_OPEN,	 EXM_ATOMIC_STEP_CHOWN, EXM_ATOMIC_STEP_CHMOD,
		EXM_ATOMIC_STEP_WRITE,	 EXM_ATOMIC_STEP_FSYNC, EXM_ATOMIC_STEP_RENAME,
		EXM_ATOMIC_STEP_DIRSYNC,
	};
	guint writes = 0;
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0640);
	FaultCtx ctx = {
		f, EXM_ATOMIC_STEP_DIRSYNC, g_array_new(FALSE, FALSE, sizeof(ExmAtomicStep)), 0
	};
	g_autoptr(GError) error = NULL;
	gboolean changed = FALSE;

	if (!require_root()) {
		g_array_unref(ctx.seen);
		return;
	}
	opts.uid = NOBODY;
	opts.gid = NOBODY;
	opts.writes = &writes;
	write_ok(f->path, "old\n", &opts, TRUE);
	opts.fault = fault_hook;
	opts.fault_data = &ctx;
	g_assert_false(exm_atomic_write(f->path, "new\n", 4, &opts, &changed, &error));
	g_assert_error(error, EXM_ERROR, EXM_ERROR_FAILED);
	g_assert_true(g_str_has_prefix(error->message, "dirsync"));
	g_assert_true(changed);
	g_assert_cmpuint(writes, ==, 2);
	assert_steps(ctx.seen, all, G_N_ELEMENTS(all));
	g_assert_cmpuint(ctx.checks, ==, 4); /* chown, chmod, write, fsync looked at */
	assert_file(f->path, "new\n", 0640, NOBODY, NOBODY);
	g_assert_cmpuint(count_strays(f), ==, 0);
	g_array_unref(ctx.seen);
}

static void
test_fault_hook_paths(Fixture *f, gconstpointer data)
{
	/* unchanged: no step runs at all; metadata only: chown + chmod on the
	 * file itself, and a failure there leaves the content alone */
	static const ExmAtomicStep meta[] = { EXM_ATOMIC_STEP_CHOWN, EXM_ATOMIC_STEP_CHMOD };
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0644);
	FaultCtx ctx = {
		f, EXM_ATOMIC_STEP_LAST, g_array_new(FALSE, FALSE, sizeof(ExmAtomicStep)), 0
	};
	g_autoptr(GError) error = NULL;
	gboolean changed = TRUE;

	write_ok(f->path, "x\n", &opts, TRUE);
	opts.fault = fault_hook;
	opts.fault_data = &ctx;
	ctx.in_place = TRUE;
	write_ok(f->path, "x\n", &opts, FALSE);
	g_assert_cmpuint(ctx.seen->len, ==, 0);

	opts.mode = 0600;
	ctx.fail_at = EXM_ATOMIC_STEP_CHMOD;
	g_assert_false(exm_atomic_write(f->path, "x\n", 2, &opts, &changed, &error));
	g_assert_error(error, EXM_ERROR, EXM_ERROR_FAILED);
	g_assert_true(g_str_has_prefix(error->message, "chmod "));
	g_assert_false(changed);
	assert_steps(ctx.seen, meta, G_N_ELEMENTS(meta));
	assert_file(f->path, "x\n", 0644, geteuid(), getegid());
	g_assert_cmpuint(count_strays(f), ==, 0);

	ctx.fail_at = EXM_ATOMIC_STEP_LAST;
	write_ok(f->path, "x\n", &opts, TRUE);
	assert_file(f->path, "x\n", 0600, geteuid(), getegid());
	g_array_unref(ctx.seen);
}

static void
test_errors(Fixture *f, gconstpointer data)
{
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0644);
	g_autofree gchar *missing = g_build_filename(f->dir, "no-such-dir", "file", NULL);
	g_autofree gchar *subdir = g_build_filename(f->dir, "passwd", NULL);
	g_autoptr(GError) e1 = NULL;
	g_autoptr(GError) e2 = NULL;
	gboolean changed = TRUE;

	/* the directory does not exist: fails at open */
	g_assert_false(exm_atomic_write(missing, "x", 1, &opts, &changed, &e1));
	g_assert_error(e1, EXM_ERROR, EXM_ERROR_FAILED);
	g_assert_true(g_str_has_prefix(e1->message, "open "));
	g_assert_false(changed);

	/* the target is a directory: rename fails, the temp file is removed */
	g_assert_cmpint(mkdir(subdir, 0755), ==, 0);
	g_assert_false(exm_atomic_write(subdir, "x", 1, &opts, &changed, &e2));
	g_assert_error(e2, EXM_ERROR, EXM_ERROR_FAILED);
	g_assert_true(g_str_has_prefix(e2->message, "rename "));
	g_assert_true(g_file_test(subdir, G_FILE_TEST_IS_DIR));
	g_assert_cmpuint(count_strays(f), ==, 0);
}

static void
test_symlink_replaced(Fixture *f, gconstpointer data)
{
	/* A symlink at the target is replaced, never written through, even when
	 * the file it points to already holds the content. */
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0644);
	g_autofree gchar *victim = g_build_filename(f->dir, "victim", NULL);
	g_autofree gchar *victim_content = NULL;
	struct stat st;

	g_assert_true(g_file_set_contents(victim, "same\n", -1, NULL));
	g_assert_cmpint(chmod(victim, 0644), ==, 0);
	g_assert_cmpint(symlink(victim, f->path), ==, 0);
	write_ok(f->path, "same\n", &opts, TRUE);
	g_assert_cmpint(lstat(f->path, &st), ==, 0);
	g_assert_true(S_ISREG(st.st_mode));
	write_ok(f->path, "other\n", &opts, TRUE);
	victim_content = exm_test_read_file(victim);
	g_assert_cmpstr(victim_content, ==, "same\n");
	g_assert_cmpint(unlink(victim), ==, 0);
}

static void
test_step_names(void)
{
	static const gchar *const names[] = { "open",  "chown",	 "chmod",  "write",
					      "fsync", "rename", "dirsync" };

	for (guint i = 0; i < EXM_ATOMIC_STEP_LAST; i++)
		g_assert_cmpstr(exm_atomic_step_name((ExmAtomicStep)i), ==, names[i]);
	g_assert_cmpstr(exm_atomic_step_name(EXM_ATOMIC_STEP_LAST), ==, "unknown");
	g_assert_cmpstr(exm_atomic_step_name((ExmAtomicStep)-1), ==, "unknown");
}

/* ---- temp files: never wider than the result; stale ones swept ---------- */

typedef struct {
	const gchar *dir;
	mode_t final;
	mode_t extra; /* bits a temp file had beyond the final mode */
	guint seen;
} ModeWatch;

/* At every step, the mode of each temp file in the directory right now. */
static gboolean
watch_modes(ExmAtomicStep step, gpointer data, GError **error)
{
	ModeWatch *w = data;
	g_autoptr(GDir) dir = g_dir_open(w->dir, 0, NULL);
	const gchar *name;

	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = g_build_filename(w->dir, name, NULL);
		struct stat st;

		if (!g_str_has_prefix(name, ".passwd.") || lstat(path, &st) != 0)
			continue;
		w->seen++;
		w->extra |= (st.st_mode & 07777) & ~w->final;
	}
	return TRUE;
}

/* With umask 0 (the widest creation), a temp file is never observed with a bit
 * that the final file does not have, whatever that mode. */
static void
test_temp_never_wider(Fixture *f, gconstpointer data)
{
	static const mode_t modes[] = { 0400, 0440, 0444, 0600, 0604, 0640, 0644, 0660 };
	mode_t old_umask = umask(0);

	for (guint i = 0; i < G_N_ELEMENTS(modes); i++) {
		ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(modes[i]);
		ModeWatch w = { .dir = f->dir, .final = modes[i] };
		g_autofree gchar *content = g_strdup_printf("mode %04o\n", modes[i]);

		opts.fault = watch_modes;
		opts.fault_data = &w;
		write_ok(f->path, content, &opts, TRUE);
		g_test_message("final %04o: temp file seen %u times, extra bits %04o",
			       modes[i],
			       w.seen,
			       w.extra);
		g_assert_cmpuint(w.seen, >, 0);
		g_assert_cmpint(w.extra, ==, 0);
		assert_file(f->path, content, modes[i], geteuid(), getegid());
		g_assert_cmpint(chmod(f->path, 0600), ==, 0);
	}
	umask(old_umask);
}

static void
plant(const Fixture *f, const gchar *name)
{
	g_autofree gchar *path = g_build_filename(f->dir, name, NULL);

	g_assert_true(g_file_set_contents(path, "x:$6$secret\n", -1, NULL));
}

static gboolean
present(const Fixture *f, const gchar *name)
{
	g_autofree gchar *path = g_build_filename(f->dir, name, NULL);
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Only `.passwd.<8 hex>.tmp` regular files that no live writer holds go. */
static void
test_remove_stale(Fixture *f, gconstpointer data)
{
	static const gchar *const stale[] = { ".passwd.0123abcd.tmp", ".passwd.ffffffff.tmp" };
	static const gchar *const decoys[] = {
		"passwd",
		".passwd.0123abcd.tmp~",
		".passwd.0123ABCD.tmp",
		".passwd.0123abc.tmp",
		".passwd.0123abcde.tmp",
		"passwd.0123abcd.tmp",
		".passwd2.0123abcd.tmp",
		".other.0123abcd.tmp",
		".passwd.0123abcd.tmp.x",
		".passwd..tmp",
		"x.passwd.0123abcd.tmp",
	};
	g_autofree gchar *outside = g_build_filename(f->dir, "outside", NULL);
	g_autofree gchar *link = g_build_filename(f->dir, ".passwd.11111111.tmp", NULL);
	g_autofree gchar *subdir = g_build_filename(f->dir, ".passwd.22222222.tmp", NULL);
	g_autoptr(ExmAtomicTemp) live = NULL;
	g_autoptr(GError) error = NULL;
	guint n = 99;

	for (guint i = 0; i < G_N_ELEMENTS(stale); i++)
		plant(f, stale[i]);
	for (guint i = 0; i < G_N_ELEMENTS(decoys); i++)
		plant(f, decoys[i]);
	plant(f, "outside");
	g_assert_cmpint(symlink(outside, link), ==, 0);
	g_assert_cmpint(mkdir(subdir, 0700), ==, 0);
	live = exm_atomic_temp_new(f->path, "live\n", 5, 0640, &error);
	g_assert_no_error(error);

	g_assert_true(exm_atomic_remove_stale(f->path, &n, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(n, ==, G_N_ELEMENTS(stale));
	for (guint i = 0; i < G_N_ELEMENTS(stale); i++)
		g_assert_false(present(f, stale[i]));
	for (guint i = 0; i < G_N_ELEMENTS(decoys); i++)
		g_assert_true(present(f, decoys[i]));
	g_assert_true(present(f, "outside"));
	g_assert_true(present(f, ".passwd.11111111.tmp"));
	g_assert_true(g_file_test(subdir, G_FILE_TEST_IS_DIR));
	g_assert_true(g_file_test(live->path, G_FILE_TEST_IS_REGULAR));

	/* a missing directory is not an error */
	g_assert_true(exm_atomic_remove_stale("/nonexistent/dir/passwd", &n, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(n, ==, 0);
}

/* The checked copy: the temp-file name, the owner bits of the mode, removed
 * by its free; a copy whose holder died is stale. */
static void
test_temp_copy(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	ExmAtomicTemp *t;
	g_autofree gchar *base = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *got = NULL;
	struct stat st;
	mode_t old_umask = umask(0);

	t = exm_atomic_temp_new(f->path, "copy\n", 5, 0644, &error);
	umask(old_umask);
	g_assert_no_error(error);
	base = g_path_get_basename(t->path);
	g_assert_true(g_str_has_prefix(base, ".passwd.") && g_str_has_suffix(base, ".tmp"));
	g_assert_cmpuint(strlen(base), ==, strlen(".passwd.01234567.tmp"));
	g_assert_cmpint(lstat(t->path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0600);
	got = exm_test_read_file(t->path);
	g_assert_cmpstr(got, ==, "copy\n");
	path = g_strdup(t->path);
	exm_atomic_temp_free(t);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	g_assert_cmpuint(count_strays(f), ==, 0);
}

/* Equal only to exactly its bytes, compared past a chunk (64 KiB) too; a
 * missing file is no error, a directory is; a symbolic link is followed. */
static void
test_file_equals(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *link = g_build_filename(f->dir, "link", NULL);
	gsize len = 3 * 65536 + 17;
	g_autofree gchar *big = g_malloc(len);
	gboolean equal = TRUE;

	for (gsize i = 0; i < len; i++)
		big[i] = (gchar)('a' + i % 26);
	g_assert_true(exm_atomic_file_equals(f->path, big, len, &equal, &error));
	g_assert_no_error(error);
	g_assert_false(equal);
	g_assert_true(g_file_set_contents(f->path, big, (gssize)len, NULL));
	g_assert_true(exm_atomic_file_equals(f->path, big, len, &equal, &error));
	g_assert_true(equal);
	g_assert_true(exm_atomic_file_equals(f->path, big, len - 1, &equal, &error));
	g_assert_false(equal);
	big[len - 2] = 'A';
	g_assert_true(exm_atomic_file_equals(f->path, big, len, &equal, &error));
	g_assert_false(equal);
	big[len - 2] = (gchar)('a' + (len - 2) % 26);
	g_assert_cmpint(symlink(f->path, link), ==, 0);
	g_assert_true(exm_atomic_file_equals(link, big, len, &equal, &error));
	g_assert_true(equal);
	g_assert_false(exm_atomic_file_equals(f->dir, big, len, &equal, &error));
	g_assert_error(error, EXM_ERROR, EXM_ERROR_FAILED);
	g_assert_false(equal);
}

static gboolean
stream_fault_hook(ExmAtomicStep step, gpointer user_data, GError **error)
{
	if (step != (ExmAtomicStep)GPOINTER_TO_INT(user_data))
		return TRUE;
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "injected failure");
	return FALSE;
}

/* @content[@from, @len) appended in pieces of @piece bytes. */
static gboolean
append_pieces(ExmAtomicStream *s,
	      const gchar *content,
	      gsize from,
	      gsize len,
	      gsize piece,
	      GError **error)
{
	for (gsize at = from; at < len; at += piece) {
		if (!exm_atomic_stream_append(s, content + at, MIN(piece, len - at), error))
			return FALSE;
	}
	return TRUE;
}

/* @content streamed in pieces of @piece bytes; the result and the flag
 * exm_atomic_write() gives. */
static gboolean
stream_pieces(const gchar *path,
	      const gchar *content,
	      gsize len,
	      gsize piece,
	      const ExmAtomicOptions *opts,
	      gboolean *changed,
	      GError **error)
{
	g_autoptr(ExmAtomicStream) s = exm_atomic_stream_new(path, opts);

	*changed = FALSE;
	return append_pieces(s, content, 0, len, piece, error) &&
	       exm_atomic_stream_finish(s, changed, error);
}

/* After a stream of @want: the file, and a write (a new inode) unless the
 * target held @want already (@same). */
static void
assert_streamed(Fixture *f,
		const gchar *want,
		gboolean same,
		gboolean changed,
		guint writes,
		const struct stat *before)
{
	struct stat after;

	assert_file(f->path, want, 0640, geteuid(), getegid());
	g_assert_cmpint(changed, ==, !same);
	g_assert_cmpuint(writes, ==, same ? 0 : 1);
	g_assert_cmpint(stat(f->path, &after), ==, 0);
	g_assert_cmpint(after.st_ino == before->st_ino, ==, same);
	g_assert_cmpuint(count_strays(f), ==, 0);
}

static gchar *
letters(gsize len)
{
	gchar *out = g_malloc(len + 1);

	for (gsize i = 0; i < len; i++)
		out[i] = (gchar)('a' + i % 26);
	out[len] = '\0';
	return out;
}

/* Every pair of old and new contents (missing, empty, equal, differing in
 * the first, a middle or the last piece, one a prefix of the other, more
 * than one read chunk), streamed in pieces of several sizes: the file holds
 * the new content, replaced (a new inode, one rename) exactly when it
 * differed, and nothing is left beside it. */
static void
test_stream_pieces(Fixture *f, gconstpointer data)
{
	gsize big = 3 * 65536 + 17;
	g_autofree gchar *base = letters(big);
	g_autofree gchar *mid = g_strdup(base);
	g_autofree gchar *last = g_strdup(base);
	g_autofree gchar *first = g_strdup(base);
	const gchar *olds[] = { NULL, "", base, "abc" };
	const gchar *news[] = { "", base, mid, last, first, "abc", "ab", "abcd" };
	const gsize pieces[] = { 1, 7, 4096, 65536 + 3, big + 1 };

	mid[big / 2] = 'Z';
	last[big - 1] = 'Z';
	first[0] = 'Z';
	for (guint o = 0; o < G_N_ELEMENTS(olds); o++) {
		for (guint n = 0; n < G_N_ELEMENTS(news); n++) {
			for (guint p = 0; p < G_N_ELEMENTS(pieces); p++) {
				g_autoptr(GError) error = NULL;
				ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0640);
				guint writes = 0;
				gboolean changed = FALSE;
				gboolean same = olds[o] != NULL && g_str_equal(olds[o], news[n]);
				struct stat before = { 0 };

				if (pieces[p] < 4096 && strlen(news[n]) > 4096)
					continue; /* a byte at a time through 200 KB: slow, no news
						   */
				unlink(f->path);
				if (olds[o] != NULL) {
					write_ok(f->path, olds[o], &opts, TRUE);
					g_assert_cmpint(stat(f->path, &before), ==, 0);
				}
				opts.writes = &writes;
				g_assert_true(stream_pieces(f->path,
							    news[n],
							    strlen(news[n]),
							    pieces[p],
							    &opts,
							    &changed,
							    &error));
				g_assert_no_error(error);
				assert_streamed(f, news[n], same, changed, writes, &before);
			}
		}
	}
}

/* A stream freed before its finish, after it had started to write: the old
 * file stays and no temp file is left; a mode that differs alone is fixed
 * in place. */
static void
test_stream_abandoned(Fixture *f, gconstpointer data)
{
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0640);
	g_autoptr(GError) error = NULL;
	ExmAtomicStream *s;
	gboolean changed = FALSE;
	struct stat before, after;

	write_ok(f->path, "one\ntwo\n", &opts, TRUE);
	s = exm_atomic_stream_new(f->path, &opts);
	g_assert_true(exm_atomic_stream_append(s, "one\n", 4, &error));
	g_assert_true(exm_atomic_stream_append(s, "TWO\n", 4, &error));
	g_assert_cmpuint(count_strays(f), ==, 1);
	exm_atomic_stream_free(s);
	assert_file(f->path, "one\ntwo\n", 0640, geteuid(), getegid());
	g_assert_cmpuint(count_strays(f), ==, 0);

	g_assert_cmpint(chmod(f->path, 0600), ==, 0);
	g_assert_cmpint(stat(f->path, &before), ==, 0);
	g_assert_true(stream_pieces(f->path, "one\ntwo\n", 8, 3, &opts, &changed, &error));
	g_assert_no_error(error);
	g_assert_true(changed);
	assert_file(f->path, "one\ntwo\n", 0640, geteuid(), getegid());
	g_assert_cmpint(stat(f->path, &after), ==, 0);
	g_assert_cmpint(after.st_ino, ==, before.st_ino);
}

/* A fault at each step of a stream that differs after a matching start:
 * the step is named, the old file stays, no temp file is left. */
static void
test_stream_fault(Fixture *f, gconstpointer data)
{
	static const ExmAtomicStep steps[] = {
		EXM_ATOMIC_STEP_OPEN,  EXM_ATOMIC_STEP_CHOWN, EXM_ATOMIC_STEP_CHMOD,
		EXM_ATOMIC_STEP_WRITE, EXM_ATOMIC_STEP_FSYNC, EXM_ATOMIC_STEP_RENAME,
	};

	for (guint i = 0; i < G_N_ELEMENTS(steps); i++) {
		ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0640);
		g_autoptr(GError) error = NULL;
		g_autofree gchar *want = NULL;
		gboolean changed = TRUE;

		write_ok(f->path, "one\ntwo\n", &opts, i == 0);
		opts.fault = stream_fault_hook;
		opts.fault_data = GINT_TO_POINTER(steps[i]);
		g_assert_false(stream_pieces(
			f->path, "one\nTWO\nthree\n", 14, 4, &opts, &changed, &error));
		g_assert_error(error, EXM_ERROR, EXM_ERROR_FAILED);
		want = g_strdup_printf("%s ", exm_atomic_step_name(steps[i]));
		g_assert_true(g_str_has_prefix(error->message, want));
		g_assert_false(changed);
		assert_file(f->path, "one\ntwo\n", 0640, geteuid(), getegid());
		g_assert_cmpuint(count_strays(f), ==, 0);
	}
}

/* @content streamed with its first @head bytes reserved first and filled
 * last (a cdb file's header), the rest in pieces of @piece bytes. */
static gboolean
stream_reserved(const gchar *path,
		const gchar *content,
		gsize head,
		gsize piece,
		const ExmAtomicOptions *opts,
		gboolean *changed,
		GError **error)
{
	g_autoptr(ExmAtomicStream) s = exm_atomic_stream_new(path, opts);
	gsize len = strlen(content);

	*changed = FALSE;
	return exm_atomic_stream_reserve(s, head, error) &&
	       append_pieces(s, content, head, len, piece, error) &&
	       exm_atomic_stream_fill(s, content, head, error) &&
	       exm_atomic_stream_finish(s, changed, error);
}

/* A range reserved and filled last gives the file exm_atomic_write() of the
 * whole content gives: nothing written when the target holds it already,
 * whichever part differs otherwise (the reserved range alone, the rest
 * alone, a shorter or a longer target, or none). */
static void
test_stream_reserved(Fixture *f, gconstpointer data)
{
	gsize big = 2 * 65536 + 5;
	g_autofree gchar *base = letters(big);
	g_autofree gchar *head = g_strdup(base);
	g_autofree gchar *tail = g_strdup(base);
	g_autofree gchar *longer = g_strconcat(base, "z", NULL);
	const gchar *olds[] = { NULL, "", "ab", base, head, tail, longer };
	const gsize heads[] = { 1, 2048, 65536 + 1 };

	head[3] = 'Z';
	tail[big - 2] = 'Z';
	for (guint o = 0; o < G_N_ELEMENTS(olds); o++) {
		for (guint h = 0; h < G_N_ELEMENTS(heads); h++) {
			g_autoptr(GError) error = NULL;
			ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0640);
			gboolean same = olds[o] == base;
			gboolean changed = FALSE;
			struct stat before = { 0 };
			guint writes = 0;

			unlink(f->path);
			if (olds[o] != NULL) {
				write_ok(f->path, olds[o], &opts, TRUE);
				g_assert_cmpint(stat(f->path, &before), ==, 0);
			}
			opts.writes = &writes;
			g_assert_true(stream_reserved(
				f->path, base, heads[h], 4096, &opts, &changed, &error));
			g_assert_no_error(error);
			assert_streamed(f, base, same, changed, writes, &before);
		}
	}
}

/* A failure where the filled range is the first difference (the temp file
 * is opened then): the target untouched, no temp file left. */
static void
test_stream_reserved_fault(Fixture *f, gconstpointer data)
{
	static const ExmAtomicStep steps[] = {
		EXM_ATOMIC_STEP_OPEN,
		EXM_ATOMIC_STEP_WRITE,
		EXM_ATOMIC_STEP_RENAME,
	};

	for (guint i = 0; i < G_N_ELEMENTS(steps); i++) {
		ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0640);
		g_autoptr(GError) error = NULL;
		gboolean changed = TRUE;

		write_ok(f->path, "HEAD one\ntwo\n", &opts, i == 0);
		opts.fault = stream_fault_hook;
		opts.fault_data = GINT_TO_POINTER(steps[i]);
		g_assert_false(
			stream_reserved(f->path, "head one\ntwo\n", 4, 3, &opts, &changed, &error));
		g_assert_error(error, EXM_ERROR, EXM_ERROR_FAILED);
		g_assert_false(changed);
		assert_file(f->path, "HEAD one\ntwo\n", 0640, geteuid(), getegid());
		g_assert_cmpuint(count_strays(f), ==, 0);
	}
}

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	ADD("/atomic/create", test_create);
	ADD("/atomic/unchanged-keeps-mtime", test_unchanged_keeps_mtime);
	ADD("/atomic/content-change-replaces", test_content_change_replaces);
	ADD("/atomic/empty-and-large", test_empty_and_large);
	ADD("/atomic/mode-only-in-place", test_mode_only_fixed_in_place);
	ADD("/atomic/owner", test_owner);
	ADD("/atomic/setgid-after-chown", test_setgid_mode_after_chown);
	ADD("/atomic/fault/each-step", test_fault_each_step);
	ADD("/atomic/fault/new-file", test_fault_new_file);
	ADD("/atomic/fault/dirsync", test_fault_dirsync);
	ADD("/atomic/fault/hook-paths", test_fault_hook_paths);
	ADD("/atomic/errors", test_errors);
	ADD("/atomic/symlink-replaced", test_symlink_replaced);
	ADD("/atomic/temp/never-wider-than-final", test_temp_never_wider);
	ADD("/atomic/temp/remove-stale-own-pattern-only", test_remove_stale);
	ADD("/atomic/temp/checked-copy", test_temp_copy);
	ADD("/atomic/file-equals", test_file_equals);
	ADD("/atomic/stream/pieces", test_stream_pieces);
	ADD("/atomic/stream/abandoned", test_stream_abandoned);
	ADD("/atomic/stream/fault", test_stream_fault);
	ADD("/atomic/stream/reserved", test_stream_reserved);
	ADD("/atomic/stream/reserved-fault", test_stream_reserved_fault);
	g_test_add_func("/atomic/step-names", test_step_names);
	return g_test_run();
}
