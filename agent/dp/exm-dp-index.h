/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The indexed twins of the lsearch files the driver writes: `<file>.cdb`
 * beside passwd and policy, with the same records (common/mail/exm-mail-cdb.h),
 * which exim looks up (data/exim4/exim4.conf.in) in constant time.
 */
#pragma once

#include <glib.h>

#include "exm-atomic.h"

/* Returns: (transfer full): the index path beside @path (`<path>.cdb`) */
gchar *exm_dp_index_path(const gchar *path);

/**
 * exm_dp_index_render:
 * @path: the index's path (named in an error)
 * @text: the lsearch content it indexes
 * @len: (out): the cdb file's length
 * @error: %EXM_DP_ERROR_FAILED on a line the index does not take
 *
 * Returns: (transfer full): the cdb file, to free with exm_cdb_free()
 */
guint8 *exm_dp_index_render(const gchar *path, const gchar *text, gsize *len, GError **error);

/**
 * exm_dp_index_write_db:
 * @path: the index's path
 * @db: (transfer full): the cdb file (exm_dp_index_render()), freed with
 *   exm_cdb_free() here
 * @len: its length
 * @opts: owner, mode and hooks, as for the lsearch file
 * @changed: (out) (optional): %TRUE when the index was rewritten
 * @error: %EXM_DP_ERROR_FAILED
 *
 * Writes atomically and only when the content changed.
 */
gboolean exm_dp_index_write_db(const gchar *path,
			       guint8 *db,
			       gsize len,
			       const ExmAtomicOptions *opts,
			       gboolean *changed,
			       GError **error);

/**
 * exm_dp_index_matches:
 * @path: the index's path
 * @text: the lsearch content it should index
 * @error: %EXM_DP_ERROR_FAILED when it cannot be read (missing is no error)
 * @matches: (out): %TRUE when the index is exactly what @text renders to
 */
gboolean exm_dp_index_matches(const gchar *path,
			      const gchar *text,
			      gboolean *matches,
			      GError **error);

/**
 * exm_dp_index_read:
 * @path: the index's path
 * @error: %EXM_DP_ERROR_FAILED when it cannot be read
 *
 * What exim finds in the index, as lsearch lines; "" when it is missing or
 * malformed (then exim finds nothing either).
 *
 * Returns: (transfer full): the text
 */
gchar *exm_dp_index_read(const gchar *path, GError **error);
