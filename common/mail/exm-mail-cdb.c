/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-mail-cdb.h"

#include <string.h>

#include "exm-cdb.h"
#include "exm-mail-error.h"
#include "exm-secret.h"

static gboolean
is_space(gchar c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static gboolean
refuse(GError **error, guint lineno, const gchar *why)
{
	g_set_error(error,
		    EXM_MAIL_ERROR,
		    EXM_MAIL_ERROR_PARSE,
		    "lsearch line %u: %s; not indexed",
		    lineno,
		    why);
	return FALSE;
}

struct _ExmMailCdbLines {
	ExmCdbWriter *w;
	guint lineno;
	/* streaming: the key of the line before (once @any was added), the
	 * only one a line is told apart from (equal keys come next to each
	 * other) */
	GString *last;
	gboolean any;
};

/* Whether @key is one a line before had (lsearch finds a key's first
 * line); kept as the last one when streaming. */
static gboolean
key_seen(ExmMailCdbLines *l, const gchar *key)
{
	if (l->last == NULL)
		return exm_cdb_writer_contains(l->w, key, strlen(key));
	if (l->any && g_str_equal(l->last->str, key))
		return TRUE;
	g_string_assign(l->last, key);
	l->any = TRUE;
	return FALSE;
}

/* One line [@p, @end) into @l's file unless its key is there already;
 * blank and `#` lines add nothing. */
static gboolean
add_line(ExmMailCdbLines *l, const gchar *p, const gchar *end, GError **error)
{
	const gchar *k = p, *v;
	g_autofree gchar *key = NULL;

	while (end > p && is_space(end[-1]))
		end--;
	if (p == end || *p == '#')
		return TRUE;
	if (is_space(*p))
		return refuse(error, l->lineno, "a continuation line");
	if (*p == '"')
		return refuse(error, l->lineno, "a quoted key");
	while (p < end && *p != ':' && !is_space(*p))
		p++;
	key = g_ascii_strdown(k, p - k);
	for (v = p; v < end && is_space(*v); v++)
		;
	if (v < end && *v == ':')
		for (v++; v < end && is_space(*v); v++)
			;
	if (key_seen(l, key))
		return TRUE;
	return exm_cdb_writer_add(l->w, key, strlen(key), v, (gsize)(end - v), error);
}

ExmMailCdbLines *
exm_mail_cdb_lines_new(void)
{
	ExmMailCdbLines *l = g_new0(ExmMailCdbLines, 1);

	l->w = exm_cdb_writer_new();
	return l;
}

ExmMailCdbLines *
exm_mail_cdb_lines_new_streaming(const ExmCdbSink *sink, gpointer sink_data)
{
	ExmMailCdbLines *l = g_new0(ExmMailCdbLines, 1);

	l->w = exm_cdb_writer_new_streaming(sink, sink_data, FALSE);
	l->last = g_string_new(NULL);
	return l;
}

void
exm_mail_cdb_lines_reserve(ExmMailCdbLines *l, guint lines, gsize bytes)
{
	exm_cdb_writer_reserve(l->w, lines, bytes);
}

void
exm_mail_cdb_lines_free(ExmMailCdbLines *l)
{
	if (l == NULL)
		return;
	exm_cdb_writer_free(l->w);
	if (l->last != NULL)
		g_string_free(l->last, TRUE);
	g_free(l);
}

gboolean
exm_mail_cdb_lines_add(ExmMailCdbLines *l, const gchar *line, gsize len, GError **error)
{
	l->lineno++;
	return add_line(l, line, line + len, error);
}

guint8 *
exm_mail_cdb_lines_finish(ExmMailCdbLines *l, gsize *len, GError **error)
{
	return exm_cdb_writer_finish(l->w, len, error);
}

gboolean
exm_mail_cdb_lines_end(ExmMailCdbLines *l, gsize *len, GError **error)
{
	return exm_cdb_writer_end(l->w, len, error);
}

guint8 *
exm_mail_cdb_from_lsearch(const gchar *text, gsize *len, GError **error)
{
	g_autoptr(ExmMailCdbLines) l = exm_mail_cdb_lines_new();
	const gchar *p = text != NULL ? text : "";

	*len = 0;
	while (*p != '\0') {
		const gchar *nl = strchr(p, '\n');
		const gchar *end = nl != NULL ? nl : p + strlen(p);

		if (!exm_mail_cdb_lines_add(l, p, (gsize)(end - p), error))
			return NULL;
		p = nl != NULL ? nl + 1 : end;
	}
	// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
	return exm_mail_cdb_lines_finish(l, len, error);
}

static gboolean
has_break(const guint8 *s, gsize n)
{
	return memchr(s, '\n', n) != NULL || memchr(s, '\0', n) != NULL ||
	       memchr(s, '\r', n) != NULL;
}

gchar *
exm_mail_cdb_to_lsearch(const guint8 *db, gsize len, GError **error)
{
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(GError) local = NULL;
	const guint8 *key, *data;
	gsize pos = 0, klen, dlen;

	while (exm_cdb_next(db, len, &pos, &key, &klen, &data, &dlen, &local)) {
		if (has_break(key, klen) || has_break(data, dlen)) {
			exm_secret_wipe(out->str, out->len);
			g_set_error_literal(error,
					    EXM_MAIL_ERROR,
					    EXM_MAIL_ERROR_PARSE,
					    "cdb: a record with a line break or NUL");
			return NULL;
		}
		g_string_append_len(out, (const gchar *)key, (gssize)klen);
		g_string_append_c(out, ':');
		g_string_append_len(out, (const gchar *)data, (gssize)dlen);
		g_string_append_c(out, '\n');
	}
	if (local != NULL) {
		exm_secret_wipe(out->str, out->len);
		g_set_error_literal(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_PARSE, local->message);
		return NULL;
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}
