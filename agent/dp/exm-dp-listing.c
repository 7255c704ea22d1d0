/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-listing.h"

#include <string.h>

#include "exm-atomic.h"
#include "exm-dp-error.h"
#include "exm-json.h"
#include "exm-secret.h"

struct _ExmDpListing {
	ExmStamp *stamp;
	gchar *usage;
	gchar *capture;
	/* the file holding the values as one array, and its stamp after the write */
	gchar *path;
	ExmStamp *file;
	guint n_values;
	GStrv names;
	gboolean plain;
};

/* The values as one array, member order kept (a listing parsed back is the
 * one read), written to @path as the text is made: a value may carry the
 * tenant's TLS key (every piece is wiped), and at 100 000 accounts the text
 * is 14 MB, which was held beside the values (docs/scale.md §3). */
static gboolean
values_write(const gchar *path, GPtrArray *values, GError **error)
{
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0600);
	g_autoptr(ExmAtomicStream) stream = exm_atomic_stream_new(path, &opts);

	if (!exm_atomic_stream_append(stream, "[", 1, error))
		return FALSE;
	for (guint i = 0; i < values->len; i++) {
		if ((i > 0 && !exm_atomic_stream_append(stream, ",", 1, error)) ||
		    !exm_json_to_pieces(values->pdata[i], exm_atomic_stream_piece, stream, error))
			return FALSE;
	}
	return exm_atomic_stream_append(stream, "]", 1, error) &&
	       exm_atomic_stream_finish(stream, NULL, error);
}

ExmDpListing *
exm_dp_listing_new(const gchar *path,
		   ExmStamp *stamp,
		   const gchar *usage,
		   const gchar *capture,
		   GPtrArray *values,
		   const gchar *const *names,
		   gboolean plain,
		   GError **error)
{
	const gchar *paths[] = { path, NULL };
	ExmDpListing *l;

	/* written before the listing is made, so a failure has only @stamp to free */
	if (!values_write(path, values, error)) {
		exm_stamp_free(stamp);
		return NULL;
	}
	l = g_new0(ExmDpListing, 1);
	l->stamp = stamp;
	l->usage = g_strdup(usage);
	l->capture = g_strdup(capture);
	l->path = g_strdup(path);
	l->n_values = values->len;
	l->names = g_strdupv((gchar **)names);
	l->plain = plain;
	l->file = exm_stamp_take(paths);
	return l;
}

gboolean
exm_dp_listing_files_fresh(const ExmDpListing *listing, const ExmStamp *now)
{
	return listing != NULL && exm_stamp_equal(now, listing->stamp);
}

gboolean
exm_dp_listing_fresh(const ExmDpListing *listing,
		     const ExmStamp *now,
		     const gchar *usage,
		     const gchar *capture)
{
	return exm_dp_listing_files_fresh(listing, now) && g_strcmp0(usage, listing->usage) == 0 &&
	       g_strcmp0(capture, listing->capture) == 0;
}

/* Each value's `accounts` is read as its raw text (docs/scale.md §3). */
static const gchar *const listing_raw[] = { "=*/accounts", NULL };

/* The file's values, when it is the one written and holds them all. */
static JsonArray *
values_read(const ExmDpListing *listing, JsonNode **root, GError **error)
{
	const gchar *paths[] = { listing->path, NULL };
	g_autoptr(ExmStamp) now = exm_stamp_take(paths);
	g_autoptr(ExmSecret) text = NULL;
	gsize len = 0;

	if (!exm_stamp_equal(now, listing->file)) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_FAILED,
			    "%s changed since it was written",
			    listing->path);
		return NULL;
	}
	if (!g_file_get_contents(listing->path, &text, &len, error))
		return NULL;
	/* parsed where it lies (and wiped), without a copy beside the tree */
	*root = exm_json_parse_pruned_take(g_steal_pointer(&text), len, listing_raw, error);
	if (*root == NULL)
		return NULL;
	if (!JSON_NODE_HOLDS_ARRAY(*root) ||
	    json_array_get_length(json_node_get_array(*root)) != listing->n_values) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_FAILED,
			    "%s: not the values",
			    listing->path);
		return NULL;
	}
	return json_node_get_array(*root);
}

GPtrArray *
exm_dp_listing_values(const ExmDpListing *listing, GError **error)
{
	g_autoptr(JsonNode) root = NULL;
	JsonArray *arr = values_read(listing, &root, error);
	g_autoptr(GPtrArray) out = NULL;

	if (arr == NULL)
		return NULL;
	out = g_ptr_array_new_full(listing->n_values, (GDestroyNotify)json_node_unref);
	for (guint i = 0; i < listing->n_values; i++)
		g_ptr_array_add(out, json_array_dup_element(arr, i));
	return g_steal_pointer(&out);
}

gboolean
exm_dp_listing_holds(const ExmDpListing *listing, const gchar *uuid)
{
	return g_strv_contains((const gchar *const *)listing->names, uuid);
}

gboolean
exm_dp_listing_holds_only(const ExmDpListing *listing, const gchar *uuid)
{
	guint n = g_strv_length(listing->names);

	return listing->plain && (n == 0 || (n == 1 && exm_dp_listing_holds(listing, uuid)));
}

void
exm_dp_listing_free(ExmDpListing *listing)
{
	if (listing == NULL)
		return;
	exm_stamp_free(listing->stamp);
	g_free(listing->usage);
	g_free(listing->capture);
	g_free(listing->path);
	exm_stamp_free(listing->file);
	g_strfreev(listing->names);
	g_free(listing);
}
