/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The indexed twin of an lsearch file (passwd, policy): the same records as
 * a cdb file (common/base/exm-cdb.h), which exim looks up in constant time
 * where lsearch scans the whole file on every lookup.  Only the container
 * changes: each record's value is the lsearch value byte for byte, so a
 * change to what a line holds needs no change here.
 */
#pragma once

#include <glib.h>

#include "exm-cdb.h"

/**
 * exm_mail_cdb_from_lsearch:
 * @text: lsearch content as the renderers write it
 * @len: (out): the cdb file's length
 * @error: %EXM_MAIL_ERROR_PARSE on a line this conversion does not take
 *
 * Follows lsearch's reading: blank and `#` lines are skipped; the key runs to
 * the first `:` or white space; white space, one `:` and white space after it
 * are skipped; the value is the rest of the line without trailing white
 * space.  lsearch compares keys without regard to case and cdb byte for byte,
 * so keys are written lower-case (the exim configuration lower-cases the
 * lookup key); lsearch returns the first line of a key, so a later line of
 * the same key is left out.  Continuation lines (leading white space) and
 * quoted keys, which the renderers never write, are refused.
 *
 * Returns: (transfer full): the file, to free with exm_cdb_free()
 */
guint8 *exm_mail_cdb_from_lsearch(const gchar *text, gsize *len, GError **error);

/**
 * ExmMailCdbLines:
 *
 * exm_mail_cdb_from_lsearch() a line at a time, for a renderer that writes
 * the index without the lsearch text whole (exm_mail_passwd_render_cdb_to()):
 * the same file for the same lines.
 */
typedef struct _ExmMailCdbLines ExmMailCdbLines;

ExmMailCdbLines *exm_mail_cdb_lines_new(void);

/* exm_mail_cdb_lines_new() handing the file to @sink as it is built
 * (exm_cdb_writer_new_streaming(), unindexed), ended by
 * exm_mail_cdb_lines_end().  A line is told apart only from the line
 * before: lines of equal keys must come next to each other (passwd's,
 * sorted by username), and then the file is exm_mail_cdb_lines_new()'s. */
ExmMailCdbLines *exm_mail_cdb_lines_new_streaming(const ExmCdbSink *sink, gpointer sink_data);
void exm_mail_cdb_lines_free(ExmMailCdbLines *l);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmMailCdbLines, exm_mail_cdb_lines_free)

/* Room for about @lines lines of @bytes in all (exm_cdb_writer_reserve()). */
void exm_mail_cdb_lines_reserve(ExmMailCdbLines *l, guint lines, gsize bytes);

/* One lsearch line, @len bytes without its newline; %EXM_MAIL_ERROR_PARSE
 * as exm_mail_cdb_from_lsearch() (lines are counted from 1). */
gboolean exm_mail_cdb_lines_add(ExmMailCdbLines *l, const gchar *line, gsize len, GError **error);

/* Returns: (transfer full): the file, to free with exm_cdb_free(); @l may
 * not be used again. */
guint8 *exm_mail_cdb_lines_finish(ExmMailCdbLines *l, gsize *len, GError **error);

/* exm_cdb_writer_end() of a streaming @l: the sink has had the whole file
 * of *@len bytes; the sink's errors are passed on as they are. */
gboolean exm_mail_cdb_lines_end(ExmMailCdbLines *l, gsize *len, GError **error);

/**
 * exm_mail_cdb_to_lsearch:
 * @db: a cdb file
 * @len: its length
 * @error: %EXM_MAIL_ERROR_PARSE when @db is malformed
 *
 * The records as lsearch lines `key:value\n` in file order, for reading back
 * what exim sees with the lsearch parsers.  A record whose key or value holds
 * a line break or NUL is refused.
 *
 * Returns: (transfer full): the text
 */
gchar *exm_mail_cdb_to_lsearch(const guint8 *db, gsize len, GError **error);
