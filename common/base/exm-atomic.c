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

/**
 * exm_atomic_fd_holds:
 * @fd: a file open for reading
 * @at: an offset in it
 * @data: bytes
 * @len: their length
 *
 * See exm-atomic.h.
 *
 * Returns: %TRUE when the @len bytes of @fd from @at are @data
 */
gboolean
exm_atomic_fd_holds(int fd, gsize at, gconstpointer data, gsize len)
{
	guint8 buf[EXM_ATOMIC_CHUNK];
	gsize done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf, MIN(sizeof(buf), len - done), (off_t)(at + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || memcmp(buf, (const guint8 *)data + done, (gsize)n) != 0)
			return FALSE;
		done += (gsize)n;
	}
	return TRUE;
}

gboolean
exm_atomic_file_open_compare(const gchar *path, int *fd, gsize *size, GError **error)
{
	struct stat st;

	*size = 0;
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (*fd < 0) {
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
	if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_FAILED,
			    "cannot read %s: not a regular file",
			    path);
		return FALSE;
	}
	*size = (gsize)st.st_size;
	return TRUE;
}

gboolean
exm_atomic_file_equals(const gchar *path,
		       gconstpointer data,
		       gsize len,
		       gboolean *equal,
		       GError **error)
{
	gsize size;
	int fd;

	*equal = FALSE;
	if (!exm_atomic_file_open_compare(path, &fd, &size, error))
		return FALSE;
	if (fd < 0)
		return TRUE;
	/* a read error reads as "differs": the caller writes the file again */
	*equal = size == len && exm_atomic_fd_holds(fd, 0, data, len);
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

/* A write-if-changed of content that comes in pieces: compared with the
 * target while it matches, then written to the temp file, which first gets
 * the target's matching start copied from the target itself.  The content is
 * never held whole (a lookup file of 100 000 lines is 12 MB, docs/scale.md §3). */
struct _ExmAtomicStream {
	gchar *path;
	ExmAtomicOptions opts;
	/* the target while everything appended matches its start, else -1 */
	int old_fd;
	struct stat old_st;
	gsize matched;
	/* the temp file once the content differs, else -1 */
	int fd;
	gchar *tmp;
	gboolean failed;
	/* the content's length so far; a reserved range not filled yet */
	gsize size;
	gsize hole_at;
	gsize hole_len;
	gboolean hole_open;
};

static void
stream_forget_old(ExmAtomicStream *s)
{
	if (s->old_fd >= 0)
		close(s->old_fd);
	s->old_fd = -1;
}

/* Whether the target holds @data[@len] at s->matched.  Any problem reading
 * it means "differs": the rename replaces whatever is there. */
static gboolean
stream_compare(ExmAtomicStream *s, const guint8 *data, gsize len)
{
	return s->matched + len <= (gsize)s->old_st.st_size &&
	       exm_atomic_fd_holds(s->old_fd, s->matched, data, len);
}

/* The first s->matched bytes of the target (equal to what was appended)
 * into the temp file. */
static gboolean
stream_copy_matched(ExmAtomicStream *s)
{
	guint8 buf[EXM_ATOMIC_CHUNK];
	gsize done = 0;

	while (done < s->matched) {
		ssize_t n = pread(s->old_fd, buf, MIN(sizeof(buf), s->matched - done), (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EIO; /* the target shrank under us */
		if (n <= 0 || !write_all(s->fd, buf, (gsize)n))
			return FALSE;
		done += (gsize)n;
	}
	return TRUE;
}

/* The temp file, its owner and mode set before any content, then the
 * target's matching start: from here on everything goes to it. */
static gboolean
stream_open_temp(ExmAtomicStream *s, GError **error)
{
	gboolean ok;

	if (!atomic_fault(&s->opts, EXM_ATOMIC_STEP_OPEN, s->path, error))
		return FALSE;
	s->fd = open_temp(s->path, s->opts.mode, &s->tmp);
	if (s->fd < 0)
		return syscall_failed(EXM_ATOMIC_STEP_OPEN, s->path, errno, error);
	if (!fix_metadata(s->fd, s->tmp, &s->opts, error) ||
	    !atomic_fault(&s->opts, EXM_ATOMIC_STEP_WRITE, s->tmp, error))
		return FALSE;
	ok = s->matched == 0 || stream_copy_matched(s);
	if (!ok)
		syscall_failed(EXM_ATOMIC_STEP_WRITE, s->tmp, errno, error);
	stream_forget_old(s);
	return ok;
}

/* @len more bytes taken as matching the target. */
static gboolean
stream_matched(ExmAtomicStream *s, gsize len)
{
	s->matched += len;
	s->size += len;
	return TRUE;
}

/* The temp file, opened now if the content matched the target so far. */
static gboolean
stream_to_temp(ExmAtomicStream *s, GError **error)
{
	if (s->fd >= 0 || stream_open_temp(s, error))
		return TRUE;
	s->failed = TRUE;
	return FALSE;
}

/**
 * exm_atomic_stream_new:
 * @path: target path
 * @opts: mode/owner/hooks, copied (its pointers must outlive the stream)
 *
 * Returns: (transfer full): a stream; exm_atomic_stream_finish() completes
 *   it, exm_atomic_stream_free() alone leaves @path untouched
 */
ExmAtomicStream *
exm_atomic_stream_new(const gchar *path, const ExmAtomicOptions *opts)
{
	ExmAtomicStream *s = g_new0(ExmAtomicStream, 1);

	s->path = g_strdup(path);
	s->opts = *opts;
	s->fd = -1;
	/* O_NOFOLLOW: a symlink at @path is replaced by the rename, so its
	 * target's content must not count as "same" */
	s->old_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (s->old_fd >= 0 && (fstat(s->old_fd, &s->old_st) < 0 || !S_ISREG(s->old_st.st_mode)))
		stream_forget_old(s);
	return s;
}

/**
 * exm_atomic_stream_append:
 * @s: a stream
 * @data: the next piece of the content
 * @len: its length
 * @error: %EXM_ERROR_FAILED naming the step and path
 *
 * Returns: %TRUE on success; after a failure the stream only takes
 *   exm_atomic_stream_free()
 */
gboolean
exm_atomic_stream_append(ExmAtomicStream *s, gconstpointer data, gsize len, GError **error)
{
	g_return_val_if_fail(s != NULL && !s->failed, FALSE);
	g_return_val_if_fail(data != NULL || len == 0, FALSE);
	if (s->fd < 0 && s->old_fd >= 0 && stream_compare(s, data, len))
		return stream_matched(s, len);
	if (!stream_to_temp(s, error))
		return FALSE;
	if (!write_all(s->fd, data, len)) {
		s->failed = TRUE;
		return syscall_failed(EXM_ATOMIC_STEP_WRITE, s->tmp, errno, error);
	}
	s->size += len;
	return TRUE;
}

gboolean
exm_atomic_stream_piece(gconstpointer piece, gsize len, gpointer stream, GError **error)
{
	return exm_atomic_stream_append(stream, piece, len, error);
}

/* @len zero bytes into the temp file. */
static gboolean
write_zeros(int fd, gsize len)
{
	static const guint8 zeros[4096];

	for (gsize n; len > 0; len -= n) {
		n = MIN(len, sizeof(zeros));
		if (!write_all(fd, zeros, n))
			return FALSE;
	}
	return TRUE;
}

/**
 * exm_atomic_stream_reserve:
 * @s: a stream without a reserved range open
 * @len: how many bytes
 * @error: %EXM_ERROR_FAILED naming the step and path
 *
 * The next @len bytes of the content, given later by
 * exm_atomic_stream_fill().  While the content matches the target, they are
 * taken as matching until then.
 *
 * Returns: %TRUE on success; after a failure the stream only takes
 *   exm_atomic_stream_free()
 */
gboolean
exm_atomic_stream_reserve(ExmAtomicStream *s, gsize len, GError **error)
{
	g_return_val_if_fail(s != NULL && !s->failed && !s->hole_open, FALSE);
	s->hole_at = s->size;
	s->hole_len = len;
	s->hole_open = TRUE;
	if (s->fd < 0 && s->old_fd >= 0 && s->matched + len <= (gsize)s->old_st.st_size)
		return stream_matched(s, len);
	if (!stream_to_temp(s, error))
		return FALSE;
	if (!write_zeros(s->fd, len)) {
		s->failed = TRUE;
		return syscall_failed(EXM_ATOMIC_STEP_WRITE, s->tmp, errno, error);
	}
	s->size += len;
	return TRUE;
}

static gboolean
pwrite_all(int fd, const guint8 *data, gsize len, gsize at)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, data, len, (off_t)at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n < 0 ? errno : EIO;
			return FALSE;
		}
		data += n;
		len -= (gsize)n;
		at += (gsize)n;
	}
	return TRUE;
}

/**
 * exm_atomic_stream_fill:
 * @s: a stream with a reserved range open
 * @data: the range's content
 * @len: its length, the range's
 * @error: %EXM_ERROR_FAILED naming the step and path
 *
 * Gives the bytes exm_atomic_stream_reserve() left out: compared with the
 * target while everything matches it, else written at their place.
 *
 * Returns: %TRUE on success; after a failure the stream only takes
 *   exm_atomic_stream_free()
 */
gboolean
exm_atomic_stream_fill(ExmAtomicStream *s, gconstpointer data, gsize len, GError **error)
{
	g_return_val_if_fail(s != NULL && !s->failed && s->hole_open, FALSE);
	g_return_val_if_fail(len == s->hole_len && (data != NULL || len == 0), FALSE);
	s->hole_open = FALSE;
	if (s->fd < 0 && s->old_fd >= 0 && exm_atomic_fd_holds(s->old_fd, s->hole_at, data, len))
		return TRUE;
	if (!stream_to_temp(s, error))
		return FALSE;
	if (!pwrite_all(s->fd, data, len, s->hole_at)) {
		s->failed = TRUE;
		return syscall_failed(EXM_ATOMIC_STEP_WRITE, s->tmp, errno, error);
	}
	return TRUE;
}

/* The target holds the content already: its mode and owner fixed in place
 * when they differ. */
static gboolean
stream_same(ExmAtomicStream *s, gboolean *changed, GError **error)
{
	gboolean ok = TRUE;

	if ((s->old_st.st_mode & 07777) != (s->opts.mode & 07777) ||
	    !owner_ok(&s->old_st, &s->opts)) {
		ok = fix_metadata(s->old_fd, s->path, &s->opts, error);
		if (ok && changed != NULL)
			*changed = TRUE;
	}
	stream_forget_old(s);
	return ok;
}

/* fsync and close of the temp file, then the rename: on failure the temp
 * file is gone and the target untouched. */
static gboolean
stream_rename(ExmAtomicStream *s, GError **error)
{
	int fd = s->fd;

	s->fd = -1;
	if (!atomic_fault(&s->opts, EXM_ATOMIC_STEP_FSYNC, s->tmp, error)) {
		close(fd);
		return FALSE;
	}
	if (fsync(fd) < 0) {
		int saved = errno;
		close(fd);
		return syscall_failed(EXM_ATOMIC_STEP_FSYNC, s->tmp, saved, error);
	}
	/* close() after fsync can still report a deferred write error (NFS). */
	if (close(fd) < 0)
		return syscall_failed(EXM_ATOMIC_STEP_FSYNC, s->tmp, errno, error);
	if (!atomic_fault(&s->opts, EXM_ATOMIC_STEP_RENAME, s->path, error))
		return FALSE;
	if (rename(s->tmp, s->path) < 0)
		return syscall_failed(EXM_ATOMIC_STEP_RENAME, s->path, errno, error);
	g_clear_pointer(&s->tmp, g_free);
	if (s->opts.writes != NULL)
		(*s->opts.writes)++;
	return TRUE;
}

/**
 * exm_atomic_stream_finish:
 * @s: a stream
 * @changed: (out) (optional): %TRUE when the file was (re)written or its
 *   mode or owner fixed
 * @error: %EXM_ERROR_FAILED naming the step and path
 *
 * Completes @s as exm_atomic_write() completes a write of everything
 * appended.  @s is then only freed.
 *
 * Returns: %TRUE on success
 */
gboolean
exm_atomic_stream_finish(ExmAtomicStream *s, gboolean *changed, GError **error)
{
	g_return_val_if_fail(s != NULL && !s->failed && !s->hole_open, FALSE);
	if (changed != NULL)
		*changed = FALSE;
	s->failed = TRUE; /* nothing more is taken */
	if (s->fd < 0 && s->old_fd >= 0 && s->matched == (gsize)s->old_st.st_size)
		return stream_same(s, changed, error);
	if (s->fd < 0 && !stream_open_temp(s, error))
		return FALSE;
	if (!stream_rename(s, error))
		return FALSE;
	if (changed != NULL)
		*changed = TRUE;
	return sync_dir(s->path, &s->opts, error);
}

/**
 * exm_atomic_stream_free:
 * @s: (nullable): a stream
 *
 * Releases @s; a temp file it still has is removed.
 */
void
exm_atomic_stream_free(ExmAtomicStream *s)
{
	if (s == NULL)
		return;
	stream_forget_old(s);
	if (s->fd >= 0)
		close(s->fd);
	if (s->tmp != NULL)
		unlink(s->tmp);
	g_free(s->tmp);
	g_free(s->path);
	g_free(s);
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
	ExmAtomicStream *s;
	gboolean ok;

	g_return_val_if_fail(path != NULL && *path != '\0', FALSE);
	g_return_val_if_fail(data != NULL || len == 0, FALSE);
	g_return_val_if_fail(opts != NULL, FALSE);
	if (changed != NULL)
		*changed = FALSE;
	s = exm_atomic_stream_new(path, opts);
	/* a target of another size differs: not read at all */
	if (s->old_fd >= 0 && (gsize)s->old_st.st_size != len)
		stream_forget_old(s);
	ok = (len == 0 || exm_atomic_stream_append(s, data, len, error)) &&
	     exm_atomic_stream_finish(s, changed, error);
	exm_atomic_stream_free(s);
	return ok;
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
