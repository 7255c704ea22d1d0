/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-index.h"

#include "exm-cdb.h"
#include "exm-dp-error.h"
#include "exm-mail-cdb.h"

gchar *
exm_dp_index_path(const gchar *path)
{
	return g_strconcat(path, ".cdb", NULL);
}

guint8 *
exm_dp_index_render(const gchar *path, const gchar *text, gsize *len, GError **error)
{
	g_autoptr(GError) local = NULL;
	guint8 *db = exm_mail_cdb_from_lsearch(text, len, &local);

	if (db == NULL)
		g_set_error(
			error, EXM_DP_ERROR, EXM_DP_ERROR_FAILED, "%s: %s", path, local->message);
	return db;
}

gboolean
exm_dp_index_write_db(const gchar *path,
		      guint8 *db,
		      gsize len,
		      const ExmAtomicOptions *opts,
		      gboolean *changed,
		      GError **error)
{
	gboolean ok = exm_atomic_write(path, db, len, opts, changed, error);

	exm_cdb_free(db, len);
	return ok;
}

/* The file's content, %NULL with @missing set when there is none. */
static gchar *
read_file(const gchar *path, gsize *len, gboolean *missing, GError **error)
{
	g_autoptr(GError) local = NULL;
	gchar *content = NULL;

	*missing = FALSE;
	if (g_file_get_contents(path, &content, len, &local))
		return content;
	if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
		*missing = TRUE;
	else
		g_set_error(error, EXM_DP_ERROR, EXM_DP_ERROR_FAILED, "%s", local->message);
	return NULL;
}

/* Whether the index at @path is exactly @db (taken, freed here). */
static gboolean
index_matches_db(const gchar *path, guint8 *db, gsize len, gboolean *matches, GError **error)
{
	g_autoptr(GError) local = NULL;
	gboolean ok = exm_atomic_file_equals(path, db, len, matches, &local);

	exm_cdb_free(db, len);
	if (!ok)
		g_set_error(error, EXM_DP_ERROR, EXM_DP_ERROR_FAILED, "%s", local->message);
	return ok;
}

/* The file is compared a chunk at a time, not read whole beside the render
 * (15 MB each at 100 000 accounts, docs/scale.md §3). */
gboolean
exm_dp_index_matches(const gchar *path, const gchar *text, gboolean *matches, GError **error)
{
	gsize want_len = 0;
	guint8 *want;

	*matches = FALSE;
	if (!g_file_test(path, G_FILE_TEST_EXISTS))
		return TRUE;
	want = exm_dp_index_render(path, text, &want_len, error);
	return want != NULL && index_matches_db(path, want, want_len, matches, error);
}

gchar *
exm_dp_index_read(const gchar *path, GError **error)
{
	g_autoptr(GError) local = NULL;
	gsize len = 0;
	gboolean missing;
	g_autofree gchar *db = read_file(path, &len, &missing, error);
	gchar *text;

	if (db == NULL)
		return missing ? g_strdup("") : NULL;
	text = exm_mail_cdb_to_lsearch((const guint8 *)db, len, &local);
	if (text == NULL) {
		g_warning("%s: %s; exim finds no record in it", path, local->message);
		return g_strdup("");
	}
	return text;
}
