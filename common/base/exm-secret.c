/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-secret.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exm-error.h"

/* A secret file is at most this big (keys, tokens, passwords). */
#define SECRET_FILE_MAX (1024 * 1024)

/**
 * exm_secret_wipe:
 * @buf: (nullable): memory holding a secret
 * @len: its length
 *
 * explicit_bzero() is a libc call the optimiser must keep even when @buf is
 * freed right after (a plain memset() there is a dead store it may drop).
 */
void
exm_secret_wipe(gpointer buf, gsize len)
{
	if (buf == NULL || len == 0)
		return;
	explicit_bzero(buf, len);
}

/**
 * exm_secret_free:
 * @secret: (nullable): a NUL-terminated secret string from the GLib allocator
 */
void
exm_secret_free(gchar *secret)
{
	if (secret == NULL)
		return;
	exm_secret_wipe(secret, strlen(secret));
	g_free(secret);
}

/* The open file is a regular one that nobody but its owner (and a reading
 * group) can reach. */
static gboolean
check_secret_fd(int fd, const gchar *path, struct stat *st, GError **error)
{
	if (fstat(fd, st) != 0) {
		g_set_error(error, EXM_ERROR, EXM_ERROR_FAILED, "%s: %s", path, g_strerror(errno));
		return FALSE;
	}
	if (!S_ISREG(st->st_mode) || st->st_size > SECRET_FILE_MAX) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_FAILED,
			    "%s is not a regular file of at most %d bytes",
			    path,
			    SECRET_FILE_MAX);
		return FALSE;
	}
	if ((st->st_mode & (S_IRWXO | S_IWGRP)) != 0) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_FAILED,
			    "%s is accessible to others (mode %04o); chmod 0600 it",
			    path,
			    (guint)(st->st_mode & 07777));
		return FALSE;
	}
	return TRUE;
}

static gboolean
read_all(int fd, gchar *buf, gsize size, gsize *len)
{
	*len = 0;
	while (*len < size) {
		gssize n = read(fd, buf + *len, size - *len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return FALSE;
		if (n == 0)
			break;
		*len += (gsize)n;
	}
	return TRUE;
}

/**
 * exm_secret_read_file:
 * @path: a file holding a secret
 * @error: %EXM_ERROR_FAILED naming @path
 *
 * Reads the file through one descriptor opened without following a symbolic
 * link, after checking on that descriptor (not on the name, which could be
 * swapped in between) that it is a regular file that others cannot access and
 * its group cannot write.
 *
 * Returns: (transfer full): its text (free it with exm_secret_free()), or
 *   %NULL with @error set
 */
gchar *
exm_secret_read_file(const gchar *path, GError **error)
{
	struct stat st;
	gchar *text;
	gsize len = 0;
	/* O_NONBLOCK: a FIFO put in its place must not block the open */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);

	if (fd < 0) {
		g_set_error(error, EXM_ERROR, EXM_ERROR_FAILED, "%s: %s", path, g_strerror(errno));
		return NULL;
	}
	if (!check_secret_fd(fd, path, &st, error)) {
		close(fd);
		return NULL;
	}
	text = g_malloc((gsize)st.st_size + 1);
	if (!read_all(fd, text, (gsize)st.st_size, &len)) {
		g_set_error(error, EXM_ERROR, EXM_ERROR_FAILED, "%s: %s", path, g_strerror(errno));
		exm_secret_wipe(text, (gsize)st.st_size);
		g_free(text);
		close(fd);
		return NULL;
	}
	close(fd);
	text[len] = '\0';
	return text;
}
