/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The driver's last listing (docs/scale.md §3): the values it returned, kept
 * as their compact text (exm_json_to_string(), member order kept) in a file
 * of the agent's state beside the meta file, not in the agent's memory (an
 * idle agent holds no copy of its accounts, §2), with what they were read
 * from (the stamp of every input file, the usage and captured members as
 * text).  While all of those are as they stood, a listing now would return
 * exactly those values: the driver parses the text back instead of reading,
 * validating and rendering 100 000 accounts again.  The file is trusted only
 * while it keeps the stamp its write left.  Also what a put needs of the meta
 * file: the resources it held and whether it held nothing else.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "exm-stamp.h"

typedef struct _ExmDpListing ExmDpListing;

/**
 * exm_dp_listing_new:
 * @path: the file the values are kept in (mode 0600: hashes, a TLS key)
 * @stamp: (transfer full): the inputs' stamp, taken before they were read
 * @usage: (nullable): the usage and breaker members as text
 * @capture: (nullable): the captured member as text
 * @values: #JsonNode values as the listing returned them
 * @names: the meta file's resources (%NULL-terminated)
 * @plain: %TRUE when the meta file held nothing but `resources`
 * @error: the file could not be written
 *
 * Returns: (transfer full): the listing, %NULL on failure (@stamp freed)
 */
ExmDpListing *exm_dp_listing_new(const gchar *path,
				 ExmStamp *stamp,
				 const gchar *usage,
				 const gchar *capture,
				 GPtrArray *values,
				 const gchar *const *names,
				 gboolean plain,
				 GError **error);

/* Returns: %TRUE when @now, @usage and @capture are what @listing was read from */
gboolean exm_dp_listing_fresh(const ExmDpListing *listing,
			      const ExmStamp *now,
			      const gchar *usage,
			      const gchar *capture);

/* Returns: %TRUE when no input file changed since @listing was read */
gboolean exm_dp_listing_files_fresh(const ExmDpListing *listing, const ExmStamp *now);

/**
 * exm_dp_listing_values:
 * @listing: a listing
 * @error: the file is gone, was touched since its write, or does not parse
 *
 * Returns: (transfer full): new #JsonNode trees of the values
 */
GPtrArray *exm_dp_listing_values(const ExmDpListing *listing, GError **error);

/* Returns: %TRUE when the meta file was plain and held no resource but @uuid */
gboolean exm_dp_listing_holds_only(const ExmDpListing *listing, const gchar *uuid);

/* Returns: %TRUE when the meta file held resource @uuid */
gboolean exm_dp_listing_holds(const ExmDpListing *listing, const gchar *uuid);

void exm_dp_listing_free(ExmDpListing *listing);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmDpListing, exm_dp_listing_free)
