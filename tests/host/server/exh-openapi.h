/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host's `/specifications/` (upstream's OpenApiSpecificationRoute): the
 * OpenAPI document of every plugin that generates one (ABI minor ≥ 3) merged
 * with the host's own paths, built once per version and cached.
 */
#pragma once

#include <glib.h>

#include "exh-plugin.h"

G_BEGIN_DECLS

typedef struct _ExhOpenapi ExhOpenapi;

/* An empty cache. */
ExhOpenapi *exh_openapi_new(void);
void exh_openapi_free(ExhOpenapi *openapi);
/* Forgets the cached documents (a type was mounted). Thread-safe. */
void exh_openapi_invalidate(ExhOpenapi *openapi);

/*
 * The document of @version as JSON text with `servers` set to @base_url (the
 * request's external base: configured base or X-Forwarded-Prefix), built from
 * @plugins (ExhPlugin*) on first use; @rebuild drops the cached one first
 * (upstream's PUT).  An unknown version is a 404 `NotFoundError`; a plugin that
 * fails to generate its part, a 500.
 */
gchar *exh_openapi_document(ExhOpenapi *openapi,
			    GPtrArray *plugins,
			    const gchar *version,
			    const gchar *base_url,
			    gboolean rebuild,
			    GError **error);

G_END_DECLS
