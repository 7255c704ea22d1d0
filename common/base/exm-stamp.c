/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-stamp.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
	gint err; /* errno of stat(), 0 when it succeeded */
	dev_t dev;
	ino_t ino;
	off_t size;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	struct timespec mtime;
	struct timespec ctime;
} FileStamp;

struct _ExmStamp {
	GStrv paths;
	GArray *files; /* FileStamp, one per path */
};

static FileStamp
stamp_file(const gchar *path)
{
	FileStamp f;
	struct stat st;

	memset(&f, 0, sizeof(f));
	if (stat(path, &st) != 0) {
		f.err = errno;
		return f;
	}
	f.dev = st.st_dev;
	f.ino = st.st_ino;
	f.size = st.st_size;
	f.mode = st.st_mode;
	f.uid = st.st_uid;
	f.gid = st.st_gid;
	f.mtime = st.st_mtim;
	f.ctime = st.st_ctim;
	return f;
}

ExmStamp *
exm_stamp_take(const gchar *const *paths)
{
	ExmStamp *s = g_new0(ExmStamp, 1);

	s->paths = g_strdupv((gchar **)paths);
	s->files = g_array_new(FALSE, FALSE, sizeof(FileStamp));
	for (guint i = 0; paths[i] != NULL; i++) {
		FileStamp f = stamp_file(paths[i]);
		g_array_append_val(s->files, f);
	}
	return s;
}

static gboolean
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Field by field: padding bytes are not copied reliably with the struct. */
static gboolean
same_file(const FileStamp *a, const FileStamp *b)
{
	return a->err == b->err && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mode == b->mode && a->uid == b->uid && a->gid == b->gid &&
	       same_time(&a->mtime, &b->mtime) && same_time(&a->ctime, &b->ctime);
}

gboolean
exm_stamp_equal(const ExmStamp *a, const ExmStamp *b)
{
	if (a == NULL || b == NULL || a->files->len != b->files->len)
		return FALSE;
	if (!g_strv_equal((const gchar *const *)a->paths, (const gchar *const *)b->paths))
		return FALSE;
	for (guint i = 0; i < a->files->len; i++) {
		if (!same_file(&g_array_index(a->files, FileStamp, i),
			       &g_array_index(b->files, FileStamp, i)))
			return FALSE;
	}
	return TRUE;
}

ExmStamp *
exm_stamp_copy(const ExmStamp *stamp)
{
	ExmStamp *s = g_new0(ExmStamp, 1);

	s->paths = g_strdupv(stamp->paths);
	s->files = g_array_copy(stamp->files);
	return s;
}

void
exm_stamp_free(ExmStamp *stamp)
{
	if (stamp == NULL)
		return;
	g_strfreev(stamp->paths);
	g_array_unref(stamp->files);
	g_free(stamp);
}
