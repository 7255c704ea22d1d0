/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Atomic write-if-changed: compare first (so an unchanged file keeps its mtime
 * and readers see no churn), else a same-directory temp file that gets its owner
 * and mode before any content, is synced, and is renamed over the target.
 */
#include "exm-atomic.h"

#include "exm-error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXM_ATOMIC_TEMP_TRIES 16
#define EXM_ATOMIC_CHUNK      65536
/* ".<base>.<8 hex>.tmp": the one shape of every temp file made here. */
#define EXM_ATOMIC_TEMP_HEX    8
#define EXM_ATOMIC_TEMP_SUFFIX ".tmp"

static const gchar *const exm_atomic_step_names[] = {
	[EXM_ATOMIC_STEP_OPEN] = "open",       [EXM_ATOMIC_STEP_CHOWN] = "chown",
	[EXM_ATOMIC_STEP_CHMOD] = "chmod",     [EXM_ATOMIC_STEP_WRITE] = "write",
	[EXM_ATOMIC_STEP_FSYNC] = "fsync",     [EXM_ATOMIC_STEP_RENAME] = "rename",
	[EXM_ATOMIC_STEP_DIRSYNC] = "dirsync",
};
G_STATIC_ASSERT(G_N_ELEMENTS(exm_atomic_step_names) == EXM_ATOMIC_STEP_LAST);

/**
 * exm_atomic_step_name:
 * @step: a step
 *
 * Returns: a short lower-case name of @step, for messages
 */
const gchar *
exm_atomic_step_name(ExmAtomicStep step)
{
	if ((guint)step >= EXM_ATOMIC_STEP_LAST)
		return "unknown";
	return exm_atomic_step_names[step];
}

/* The one shape of every step's error: the step, the path, then why. */
static gboolean
step_failed(ExmAtomicStep step, const gchar *path, const gchar *why, GError **error)
{
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_FAILED,
		    "%s %s: %s",
		    exm_atomic_step_name(step),
		    path,
		    why);
	return FALSE;
}

/* Runs the test hook, then reports a failed syscall (@rc < 0) in one place so
 * every step's message names the step, the path and errno. */
static gboolean
atomic_fault(const ExmAtomicOptions *opts, ExmAtomicStep step, const gchar *path, GError **error)
{
	g_autoptr(GError) local = NULL;

	if (opts->fault == NULL || opts->fault(step, opts->fault_data, &local))
		return TRUE;
	return step_failed(step, path, local != NULL ? local->message : "injected fault", error);
}

static gboolean
syscall_failed(ExmAtomicStep step, const gchar *path, int saved_errno, GError **error)
{
	return step_failed(step, path, g_strerror(saved_errno), error);
}

static gboolean
read_equals(int fd, const guint8 *data, gsize len)
{
	guint8 buf[EXM_ATOMIC_CHUNK];
	gsize done = 0;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return FALSE;
		if (n == 0)
			return done == len;
		if ((gsize)n > len - done || memcmp(buf, data + done, (gsize)n) != 0)
			return FALSE;
		done += (gsize)n;
	}
}

gboolean
exm_atomic_file_equals(const gchar *path,
		       gconstpointer data,
		       gsize len,
		       gboolean *equal,
		       GError **error)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	*equal = FALSE;
	if (fd < 0) {
		if (errno == ENOENT)
			return TRUE;
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_FAILED,
			    "cannot open %s: %s",
			    path,
			    g_strerror(errno));
		return FALSE;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_FAILED,
			    "cannot read %s: not a regular file",
			    path);
		return FALSE;
	}
	/* a read error reads as "differs": the caller writes the file again */
	*equal = (gsize)st.st_size == len && read_equals(fd, data, len);
	close(fd);
	return TRUE;
}

static gboolean
owner_ok(const struct stat *st, const ExmAtomicOptions *opts)
{
	/* (uid_t)-1 / (gid_t)-1 mean "no requirement": a rewrite leaves the
	 * process's owner, and an existing owner is not a reason to rewrite. */
	if (opts->uid != (uid_t)-1 && st->st_uid != opts->uid)
		return FALSE;
	if (opts->gid != (gid_t)-1 && st->st_gid != opts->gid)
		return FALSE;
	return TRUE;
}

static gboolean
fix_metadata(int fd, const gchar *path, const ExmAtomicOptions *opts, GError **error)
{
	/* chown before chmod: chown may clear set-id bits that the mode asks for. */
	if (!atomic_fault(opts, EXM_ATOMIC_STEP_CHOWN, path, error))
		return FALSE;
	if (fchown(fd, opts->uid, opts->gid) < 0)
		return syscall_failed(EXM_ATOMIC_STEP_CHOWN, path, errno, error);
	if (!atomic_fault(opts, EXM_ATOMIC_STEP_CHMOD, path, error))
		return FALSE;
	if (fchmod(fd, opts->mode & 07777) < 0)
		return syscall_failed(EXM_ATOMIC_STEP_CHMOD, path, errno, error);
	return TRUE;
}

typedef enum {
	EXM_ATOMIC_DIFFERS,
	EXM_ATOMIC_SAME,
	EXM_ATOMIC_SAME_CONTENT,
} ExmAtomicCompare;

/* Compares the current target.  Any problem reading it simply means "rewrite":
 * the rename replaces whatever is there.  O_NOFOLLOW: a symlink at @path is
 * replaced by the rename, so its target's content must not count as "same". */
static ExmAtomicCompare
atomic_compare(const gchar *path,
	       gconstpointer data,
	       gsize len,
	       const ExmAtomicOptions *opts,
	       int *fd_out)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return EXM_ATOMIC_DIFFERS;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (gsize)st.st_size != len ||
	    !read_equals(fd, data, len)) {
		close(fd);
		return EXM_ATOMIC_DIFFERS;
	}
	if ((st.st_mode & 07777) == (opts->mode & 07777) && owner_ok(&st, opts)) {
		close(fd);
		return EXM_ATOMIC_SAME;
	}
	*fd_out = fd;
	return EXM_ATOMIC_SAME_CONTENT;
}

/* Created with the owner bits of the final mode only (never wider than the
 * final file, whatever the umask), and locked for as long as the writer holds
 * it, so exm_atomic_remove_stale() of another process never takes it. */
static int
open_temp(const gchar *path, mode_t mode, gchar **tmp_out)
{
	g_autofree gchar *dir = g_path_get_dirname(path);
	g_autofree gchar *base = g_path_get_basename(path);

	for (guint i = 0; i < EXM_ATOMIC_TEMP_TRIES; i++) {
		g_autofree gchar *name = g_strdup_printf(".%s.%0*x" EXM_ATOMIC_TEMP_SUFFIX,
							 base,
							 EXM_ATOMIC_TEMP_HEX,
							 g_random_int());
		g_autofree gchar *tmp = g_build_filename(dir, name, NULL);
		int fd = open(
			tmp, O_CREAT | O_EXCL | O_CLOEXEC | O_WRONLY | O_NOFOLLOW, mode & S_IRWXU);
		if (fd >= 0) {
			/* A fresh file: nobody else can hold a lock on it yet. */
			(void)flock(fd, LOCK_EX | LOCK_NB);
			*tmp_out = g_steal_pointer(&tmp);
			return fd;
		}
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

static gboolean
write_all(int fd, const guint8 *data, gsize len)
{
	gsize done = 0;

	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return FALSE;
		if (n == 0) {
			errno = EIO;
			return FALSE;
		}
		done += (gsize)n;
	}
	return TRUE;
}

/* Owner, mode, content, fsync and close of the fresh temp file @fd. */
static gboolean
fill_temp(int fd,
	  const gchar *tmp,
	  gconstpointer data,
	  gsize len,
	  const ExmAtomicOptions *opts,
	  GError **error)
{
	if (!fix_metadata(fd, tmp, opts, error))
		return FALSE;
	if (!atomic_fault(opts, EXM_ATOMIC_STEP_WRITE, tmp, error))
		return FALSE;
	if (!write_all(fd, data, len))
		return syscall_failed(EXM_ATOMIC_STEP_WRITE, tmp, errno, error);
	if (!atomic_fault(opts, EXM_ATOMIC_STEP_FSYNC, tmp, error))
		return FALSE;
	if (fsync(fd) < 0)
		return syscall_failed(EXM_ATOMIC_STEP_FSYNC, tmp, errno, error);
	return TRUE;
}

static gboolean
sync_dir(const gchar *path, const ExmAtomicOptions *opts, GError **error)
{
	g_autofree gchar *dir = g_path_get_dirname(path);
	int fd;
	int rc;
	int saved;

	if (!atomic_fault(opts, EXM_ATOMIC_STEP_DIRSYNC, dir, error))
		return FALSE;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return syscall_failed(EXM_ATOMIC_STEP_DIRSYNC, dir, errno, error);
	rc = fsync(fd);
	saved = errno;
	close(fd);
	if (rc < 0)
		return syscall_failed(EXM_ATOMIC_STEP_DIRSYNC, dir, saved, error);
	return TRUE;
}

/* The temp-file path: everything up to and including the rename; on failure
 * the temp file is gone and @path untouched. */
static gboolean
replace(const gchar *path,
	gconstpointer data,
	gsize len,
	const ExmAtomicOptions *opts,
	GError **error)
{
	g_autofree gchar *tmp = NULL;
	int fd;
	int rc;

	if (!atomic_fault(opts, EXM_ATOMIC_STEP_OPEN, path, error))
		return FALSE;
	fd = open_temp(path, opts->mode, &tmp);
	if (fd < 0)
		return syscall_failed(EXM_ATOMIC_STEP_OPEN, path, errno, error);
	if (!fill_temp(fd, tmp, data, len, opts, error)) {
		close(fd);
		unlink(tmp);
		return FALSE;
	}
	/* close() after fsync can still report a deferred write error (NFS). */
	rc = close(fd);
	if (rc < 0) {
		int saved = errno;
		unlink(tmp);
		return syscall_failed(EXM_ATOMIC_STEP_FSYNC, tmp, saved, error);
	}
	if (!atomic_fault(opts, EXM_ATOMIC_STEP_RENAME, path, error)) {
		unlink(tmp);
		return FALSE;
	}
	if (rename(tmp, path) < 0) {
		int saved = errno;
		unlink(tmp);
		return syscall_failed(EXM_ATOMIC_STEP_RENAME, path, saved, error);
	}
	if (opts->writes != NULL)
		(*opts->writes)++;
	return TRUE;
}

/**
 * exm_atomic_write:
 * @path: target path
 * @data: content
 * @len: its length
 * @opts: mode/owner/hooks
 * @changed: (out) (optional): %TRUE when the file was (re)written
 * @error: %EXM_ERROR_FAILED naming the step and path
 *
 * Decisions beyond the header:
 * - content equal but mode/owner differ: fixed in place (fchown then fchmod on
 *   the existing file), *@changed = %TRUE (the file's state did change), the
 *   @writes counter is not incremented (it counts renames only).
 * - a uid/gid of -1 is not compared against an existing file.
 * - a failure of the final directory fsync happens after the rename: @path
 *   already holds the complete new content, *@changed is %TRUE and the error
 *   is still returned because durability is not guaranteed.
 *
 * Returns: %TRUE on success
 */
gboolean
exm_atomic_write(const gchar *path,
		 gconstpointer data,
		 gsize len,
		 const ExmAtomicOptions *opts,
		 gboolean *changed,
		 GError **error)
{
	int fd = -1;
	gboolean ok;

	g_return_val_if_fail(path != NULL && *path != '\0', FALSE);
	g_return_val_if_fail(data != NULL || len == 0, FALSE);
	g_return_val_if_fail(opts != NULL, FALSE);
	if (changed != NULL)
		*changed = FALSE;
	if (data == NULL)
		data = "";

	switch (atomic_compare(path, data, len, opts, &fd)) {
	case EXM_ATOMIC_SAME:
		return TRUE;
	case EXM_ATOMIC_SAME_CONTENT:
		ok = fix_metadata(fd, path, opts, error);
		close(fd);
		if (ok && changed != NULL)
			*changed = TRUE;
		return ok;
	case EXM_ATOMIC_DIFFERS:
	default:
		break;
	}
	if (!replace(path, data, len, opts, error))
		return FALSE;
	if (changed != NULL)
		*changed = TRUE;
	return sync_dir(path, opts, error);
}

/* Whether @name is ".<@base>.<8 lower-case hex>.tmp". */
static gboolean
is_temp_name(const gchar *name, const gchar *base)
{
	gsize blen = strlen(base);
	const gchar *hex;

	if (name[0] != '.' || strncmp(name + 1, base, blen) != 0 || name[1 + blen] != '.')
		return FALSE;
	hex = name + blen + 2;
	for (guint i = 0; i < EXM_ATOMIC_TEMP_HEX; i++)
		if (!g_ascii_isxdigit(hex[i]) || g_ascii_isupper(hex[i]))
			return FALSE;
	return strcmp(hex + EXM_ATOMIC_TEMP_HEX, EXM_ATOMIC_TEMP_SUFFIX) == 0;
}

/* Removes one candidate if it is a regular file that no live writer holds
 * (its lock is free) and the name still names the file that was checked. */
static gboolean
remove_if_stale(int dfd, const gchar *name)
{
	struct stat st, again;
	gboolean removed = FALSE;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return FALSE;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
	    fstatat(dfd, name, &again, AT_SYMLINK_NOFOLLOW) == 0 && again.st_dev == st.st_dev &&
	    again.st_ino == st.st_ino)
		removed = unlinkat(dfd, name, 0) == 0;
	close(fd);
	return removed;
}

/**
 * exm_atomic_remove_stale:
 * @path: a target path that exm_atomic_write() writes
 * @removed: (out) (optional): how many files were removed
 * @error: %EXM_ERROR_FAILED when the directory cannot be read (a missing one is
 *   not an error)
 *
 * Removes the temp files that a writer of @path killed before its rename left
 * behind: regular files named exactly `.<basename>.<8 hex digits>.tmp` in the
 * directory of @path, and only those that no live writer holds (a writer keeps
 * its temp file locked).  Nothing else is touched: other names, symlinks,
 * directories and @path itself stay.
 *
 * Returns: %TRUE unless the directory could not be read
 */
gboolean
exm_atomic_remove_stale(const gchar *path, guint *removed, GError **error)
{
	g_autofree gchar *dir = g_path_get_dirname(path);
	g_autofree gchar *base = g_path_get_basename(path);
	struct dirent *e;
	DIR *d;
	guint n = 0;

	if (removed != NULL)
		*removed = 0;
	d = opendir(dir);
	if (d == NULL && errno == ENOENT)
		return TRUE;
	if (d == NULL)
		return step_failed(EXM_ATOMIC_STEP_OPEN, dir, g_strerror(errno), error);
	while ((e = readdir(d)) != NULL)
		if (is_temp_name(e->d_name, base) && remove_if_stale(dirfd(d), e->d_name))
			n++;
	closedir(d);
	if (removed != NULL)
		*removed = n;
	return TRUE;
}

/**
 * exm_atomic_temp_new:
 * @path: the target path the copy stands for (its directory and name)
 * @data: content
 * @len: its length
 * @mode: the final mode; the copy gets its owner bits only
 * @error: %EXM_ERROR_FAILED naming the step
 *
 * A complete, locked copy of @data under the temp-file name of @path, for a
 * program that must run a checker on a candidate before it replaces @path.  A
 * killed caller leaves a file that exm_atomic_remove_stale() of @path removes.
 *
 * Returns: (transfer full): the copy; exm_atomic_temp_free() removes it
 */
ExmAtomicTemp *
exm_atomic_temp_new(const gchar *path, gconstpointer data, gsize len, mode_t mode, GError **error)
{
	g_autoptr(ExmAtomicTemp) t = g_new0(ExmAtomicTemp, 1);

	t->fd = open_temp(path, mode, &t->path);
	if (t->fd < 0) {
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
		syscall_failed(EXM_ATOMIC_STEP_OPEN, path, errno, error);
		return NULL;
	}
	if (!write_all(t->fd, data, len)) {
		syscall_failed(EXM_ATOMIC_STEP_WRITE, t->path, errno, error);
		return NULL;
	}
	return g_steal_pointer(&t);
}

/**
 * exm_atomic_temp_free:
 * @t: (nullable): a copy from exm_atomic_temp_new()
 *
 * Removes the file and releases it.
 */
void
exm_atomic_temp_free(ExmAtomicTemp *t)
{
	if (t == NULL)
		return;
	if (t->path != NULL)
		unlink(t->path);
	if (t->fd >= 0)
		close(t->fd);
	g_free(t->path);
	g_free(t);
}
