/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Shared by every fuzz target; see fuzz-common.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-common.h"

/* One input at a time: libFuzzer and the driver both run inputs serially. */
static const uint8_t *current_data;
static size_t current_size;
static gchar *current_context;
static guint64 accepted;
static gboolean exit_on_failure;
static void (*exit_cleanup)(void);

static GLogWriterOutput
quiet_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
	/* Only what may be a bug is worth printing; the rest is the parsers'
	 * normal chatter about bad input. */
	if ((level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) == 0 &&
	    (level & G_LOG_FLAG_FATAL) == 0)
		return G_LOG_WRITER_HANDLED;
	return g_log_writer_standard_streams(level, fields, n_fields, user_data);
}

void
exm_fuzz_begin(const uint8_t *data, size_t size)
{
	static gsize once = 0;

	if (g_once_init_enter(&once)) {
		g_log_set_writer_func(quiet_writer, NULL, NULL);
		g_once_init_leave(&once, 1);
	}
	current_data = data;
	current_size = size;
}

void
exm_fuzz_accepted(void)
{
	accepted++;
}

guint64
exm_fuzz_accepted_count(void)
{
	return accepted;
}

void
exm_fuzz_set_context(const gchar *context)
{
	g_free(current_context);
	current_context = g_strdup(context);
}

void
exm_fuzz_exit_on_failure(void (*cleanup)(void))
{
	exit_on_failure = TRUE;
	exit_cleanup = cleanup;
}

void
exm_fuzz_fail(const gchar *file, int line, const gchar *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "# FUZZ FAILURE at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr,
		"\n# context: %s\n# input (%zu bytes, hex): ",
		current_context != NULL ? current_context : "-",
		current_size);
	for (size_t i = 0; i < current_size; i++)
		fprintf(stderr, "%02x", current_data[i]);
	fprintf(stderr, "\n");
	fflush(stderr);
	if (exit_on_failure) {
		fflush(stdout);
		if (exit_cleanup != NULL)
			exit_cleanup();
		_exit(1); /* no atexit handlers: the failed run's state is not to be freed */
	}
	abort();
}

gchar *
exm_fuzz_strndup(const uint8_t *data, size_t size)
{
	return g_strndup(size > 0 ? (const gchar *)data : "", size);
}

gsize
exm_fuzz_count_char(const gchar *text, gchar c)
{
	gsize n = 0;

	for (const gchar *p = text; p != NULL && *p != '\0'; p++)
		n += *p == c;
	return n;
}
