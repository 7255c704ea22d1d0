/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Atomic write-if-changed.  The target path always holds either the old or the
 * new complete content, whatever fails and wherever the process dies.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

typedef enum {
	EXM_ATOMIC_STEP_OPEN,	 /* creating the same-directory temp file */
	EXM_ATOMIC_STEP_CHOWN,	 /* fchown of the temp file */
	EXM_ATOMIC_STEP_CHMOD,	 /* fchmod of the temp file */
	EXM_ATOMIC_STEP_WRITE,	 /* writing the content */
	EXM_ATOMIC_STEP_FSYNC,	 /* fsync of the temp file */
	EXM_ATOMIC_STEP_RENAME,	 /* rename over the target */
	EXM_ATOMIC_STEP_DIRSYNC, /* fsync of the directory */
	EXM_ATOMIC_STEP_LAST,
} ExmAtomicStep;

/* Return %FALSE (and set @error) to make the step fail as if the syscall had. */
typedef gboolean (*ExmAtomicFaultFunc)(ExmAtomicStep step, gpointer user_data, GError **error);

/**
 * ExmAtomicOptions:
 * @mode: file mode of the result (e.g. 0640)
 * @uid: owner, or (uid_t)-1 to keep the process's
 * @gid: group, or (gid_t)-1 to keep the process's
 * @fault: (nullable): test hook called before each step
 * @fault_data: its data
 * @writes: (nullable): incremented on every completed rename (tests count writes)
 */
typedef struct {
	mode_t mode;
	uid_t uid;
	gid_t gid;
	ExmAtomicFaultFunc fault;
	gpointer fault_data;
	guint *writes;
} ExmAtomicOptions;

#define EXM_ATOMIC_OPTIONS_INIT(m)                                                                 \
	{                                                                                          \
		.mode = (m), .uid = (uid_t)-1, .gid = (gid_t)-1                                    \
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
 * When @path already holds exactly @data with the requested mode and owner, nothing
 * is written (the mtime stays).  When only mode/owner differ they are fixed in
 * place.  Otherwise: temp file `.<basename>.<8 hex>.tmp` in the same directory
 * (`O_CREAT|O_EXCL|O_CLOEXEC`, created with the owner bits of @opts->mode only,
 * so never wider than the result whatever the umask, and locked while it is
 * written), owner and mode set before the content, write, fsync, rename, fsync
 * of the directory.  On failure the temp file is removed and @path is untouched;
 * a killed writer's temp file is removed by exm_atomic_remove_stale().
 */
gboolean exm_atomic_write(const gchar *path,
			  gconstpointer data,
			  gsize len,
			  const ExmAtomicOptions *opts,
			  gboolean *changed,
			  GError **error);

/* exm_atomic_write() of content that comes in pieces, never held whole:
 * compared with @path while it matches, written to the temp file once it
 * differs.  exm_atomic_stream_finish() completes it (the same result and
 * errors as exm_atomic_write() of everything appended); freeing it before
 * leaves @path untouched and no temp file. */
typedef struct _ExmAtomicStream ExmAtomicStream;

ExmAtomicStream *exm_atomic_stream_new(const gchar *path, const ExmAtomicOptions *opts);
gboolean exm_atomic_stream_append(ExmAtomicStream *s,
				  gconstpointer data,
				  gsize len,
				  GError **error);
/* exm_atomic_stream_append() to @stream, in the shape of a writer's piece
 * function (#ExmJsonPieceFunc, #ExmCdbSink's append): what writes a text
 * in pieces writes it to a file. */
gboolean exm_atomic_stream_piece(gconstpointer piece, gsize len, gpointer stream, GError **error);
/* A range of the content known only later (a header that says where what
 * follows lies): exm_atomic_stream_reserve() skips it, exm_atomic_stream_fill()
 * gives it, before exm_atomic_stream_finish().  One range at a time. */
gboolean exm_atomic_stream_reserve(ExmAtomicStream *s, gsize len, GError **error);
gboolean exm_atomic_stream_fill(ExmAtomicStream *s, gconstpointer data, gsize len, GError **error);
gboolean exm_atomic_stream_finish(ExmAtomicStream *s, gboolean *changed, GError **error);
void exm_atomic_stream_free(ExmAtomicStream *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmAtomicStream, exm_atomic_stream_free)

/* Whether the @len bytes of @fd from offset @at are @data (a read error or
 * a shorter file: %FALSE), read a chunk at a time: a file compared with
 * content that comes in pieces (exm_atomic_file_equals() for it whole). */
gboolean exm_atomic_fd_holds(int fd, gsize at, gconstpointer data, gsize len);

/**
 * exm_atomic_file_equals:
 * @path: a file (a symbolic link is followed)
 * @data: bytes
 * @len: their length
 * @equal: (out): whether @path holds exactly @data (%FALSE when missing)
 * @error: %EXM_ERROR_FAILED when @path exists but cannot be opened, or is
 *   not a regular file
 *
 * Compares the file a chunk at a time, never holding it whole (a cdb twin
 * of 100 000 accounts is 15 MB).
 */
gboolean exm_atomic_file_equals(const gchar *path,
				gconstpointer data,
				gsize len,
				gboolean *equal,
				GError **error);

/* @path opened to be compared with content that comes in pieces
 * (exm_atomic_fd_holds()): *@fd is -1 when it is missing (no error), else
 * the caller closes it; its size in *@size.  The errors of
 * exm_atomic_file_equals(). */
gboolean exm_atomic_file_open_compare(const gchar *path, int *fd, gsize *size, GError **error);

/**
 * exm_atomic_step_name:
 * Returns: a short lower-case name of @step, for messages
 */
const gchar *exm_atomic_step_name(ExmAtomicStep step);

/**
 * exm_atomic_remove_stale:
 * @path: a target path that exm_atomic_write() writes
 * @removed: (out) (optional): how many files were removed
 * @error: %EXM_ERROR_FAILED when the directory cannot be read
 *
 * Removes the temp files of @path that a killed writer left: regular files named
 * exactly `.<basename>.<8 hex>.tmp` beside @path that no live writer holds.
 * Programs call it at start for every path they write.  Nothing else is touched.
 */
gboolean exm_atomic_remove_stale(const gchar *path, guint *removed, GError **error);

/* A complete copy of some content under the temp-file name of a target (an open,
 * locked descriptor and its path), for a program that must check a candidate
 * before it replaces the target. */
typedef struct {
	int fd;
	gchar *path;
} ExmAtomicTemp;

/**
 * exm_atomic_temp_new:
 * @path: the target the copy stands for
 * @data: content
 * @len: its length
 * @mode: the target's mode; the copy gets its owner bits only
 * @error: %EXM_ERROR_FAILED naming the step
 *
 * Returns: (transfer full): the copy; exm_atomic_temp_free() removes it
 */
ExmAtomicTemp *exm_atomic_temp_new(const gchar *path,
				   gconstpointer data,
				   gsize len,
				   mode_t mode,
				   GError **error);

/* Removes the copy's file and closes it. */
void exm_atomic_temp_free(ExmAtomicTemp *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmAtomicTemp, exm_atomic_temp_free)
