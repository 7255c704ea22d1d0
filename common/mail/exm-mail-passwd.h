/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * /etc/exim4/passwd of the data plane.
 */
#pragma once

#include <glib.h>

#include "exm-cdb.h"

#include "exm-mail-node.h"

/**
 * exm_mail_passwd_render:
 * @node: the value
 *
 * One line per ACTIVE account, `username@domain:hash` with any `{SCHEME}` prefix
 * stripped, sorted, `\n` after each line; "" when there is none.
 *
 * Returns: (transfer full): the file content
 */
gchar *exm_mail_passwd_render(const ExmMailNode *node);

/* A piece of passwd's text (@len bytes, not NUL-terminated, wiped after
 * the call); %FALSE, with @error set, stops the render.  The shape of
 * #ExmCdbSink's @append: one function serves a file and its twin. */
typedef gboolean (*ExmMailPasswdPieceFunc)(gconstpointer piece,
					   gsize len,
					   gpointer data,
					   GError **error);

/**
 * exm_mail_passwd_render_pieces:
 * @node: the value
 * @func: called with each piece of exm_mail_passwd_render()'s text, in order
 * @data: its data
 * @error: @func's error
 *
 * exm_mail_passwd_render() a piece of about 64 KiB at a time, whole lines
 * each: the text (13 MB at 100 000 accounts) is never held whole.
 *
 * Returns: %FALSE when @func refused a piece
 */
gboolean exm_mail_passwd_render_pieces(const ExmMailNode *node,
				       ExmMailPasswdPieceFunc func,
				       gpointer data,
				       GError **error);

/**
 * exm_mail_passwd_render_cdb_to:
 * @node: the value
 * @sink: where the file goes (exm_cdb_writer_new_streaming())
 * @sink_data: its data
 * @len: (out): the file's length
 * @error: %EXM_MAIL_ERROR_PARSE as exm_mail_cdb_from_lsearch(), or the
 *   sink's error
 *
 * exm_mail_cdb_from_lsearch() of exm_mail_passwd_render(), byte for byte,
 * built a line at a time and handed to @sink as it is built: neither
 * passwd's text (13 MB at 100 000 accounts) nor the file (15 MB) is held,
 * only the index and a copy of the keys (docs/scale.md §3).
 *
 * Returns: %TRUE once @sink has had the whole file
 */
gboolean exm_mail_passwd_render_cdb_to(const ExmMailNode *node,
				       const ExmCdbSink *sink,
				       gpointer sink_data,
				       gsize *len,
				       GError **error);

/**
 * ExmMailPasswdEntry:
 * @address: `local@domain` as found (lower-cased)
 * @local: the part before `@`
 * @hash: text after the first `:`
 */
typedef struct {
	gchar *address;
	gchar *local;
	gchar *hash;
} ExmMailPasswdEntry;

void exm_mail_passwd_entry_free(ExmMailPasswdEntry *e);

/**
 * exm_mail_passwd_parse:
 * @content: file content
 * @error: %EXM_MAIL_ERROR_PARSE on a NUL byte or invalid UTF-8
 *
 * Skips blank and `#` lines and lines without `:` or `@` in the key (upstream
 * restore_from_dp).
 *
 * Returns: (transfer full) (element-type ExmMailPasswdEntry): entries in file order
 */
GPtrArray *exm_mail_passwd_parse(const gchar *content, GError **error);
