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
 * place.  Otherwise: temp file in the same directory (`O_CREAT|O_EXCL|O_CLOEXEC`),
 * owner and mode set before the content, write, fsync, rename, fsync of the
 * directory.  On failure the temp file is removed and @path is untouched.
 */
gboolean exm_atomic_write(const gchar *path,
			  gconstpointer data,
			  gsize len,
			  const ExmAtomicOptions *opts,
			  gboolean *changed,
			  GError **error);

/**
 * exm_atomic_step_name:
 * Returns: a short lower-case name of @step, for messages
 */
const gchar *exm_atomic_step_name(ExmAtomicStep step);
