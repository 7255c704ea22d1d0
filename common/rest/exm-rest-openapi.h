/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The OpenAPI document of a mount, generated from its route tree and the
 * models of its kinds (docs/rest-conventions.md §13): every path and method
 * the walk serves, every field with its type, limits and per-method access,
 * the list filters, the pagination headers and the error bodies.  OpenAPI
 * 3.0.3 and 3.1.0, as upstream's `/specifications/` serves.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "exm-rest-crud.h"

G_BEGIN_DECLS

/**
 * ExmRestOpenapiSpec:
 * @title: `info.title`
 * @version: `info.version` (the plugin's version)
 * @mount: the mount prefix, e.g. `/v1/types/<slug>/`
 * @root: the route mounted there
 * @kinds: %NULL-terminated kinds served below it
 */
typedef struct {
	const gchar *title;
	const gchar *version;
	const gchar *mount;
	const ExmRestRoute *root;
	const ExmRestKind *const *kinds;
} ExmRestOpenapiSpec;

/**
 * exm_rest_openapi_versions:
 *
 * Returns: (transfer none): the %NULL-terminated OpenAPI versions served,
 *   `3.0.3` and `3.1.0`
 */
const gchar *const *exm_rest_openapi_versions(void);

/**
 * exm_rest_openapi_skeleton:
 * @oas_version: one of exm_rest_openapi_versions()
 * @title: `info.title`
 * @version: `info.version`
 * @error: 404 `NotFoundError` for a version not served
 *
 * A document without paths: `openapi`, `info`, and the components every
 * operation refers to (error bodies, responses, pagination headers).
 *
 * Returns: (transfer full): the document, or %NULL with @error set
 */
JsonObject *exm_rest_openapi_skeleton(const gchar *oas_version,
				      const gchar *title,
				      const gchar *version,
				      GError **error);

/**
 * exm_rest_openapi_build:
 * @spec: the mount
 * @oas_version: one of exm_rest_openapi_versions()
 * @error: 404 `NotFoundError` for a version not served
 *
 * Returns: (transfer full): the document, or %NULL with @error set
 */
JsonObject *exm_rest_openapi_build(const ExmRestOpenapiSpec *spec,
				   const gchar *oas_version,
				   GError **error);

/**
 * exm_rest_openapi_operation:
 * @doc: a document from exm_rest_openapi_skeleton()
 * @path: an OpenAPI path, e.g. `/v1/types/{PaaSTypeUuid}`
 * @method: lower-case HTTP method
 * @summary: one line
 * @ok: the success status
 * @ok_schema: (transfer full) (nullable): the success body's schema
 * @errors: 0-terminated error statuses it can answer
 *
 * Adds an operation whose `{…}` path parameters are strings; its
 * operationId is built from @method and @path as upstream does.
 *
 * Returns: (transfer none): the operation object, to add to
 */
JsonObject *exm_rest_openapi_operation(JsonObject *doc,
				       const gchar *path,
				       const gchar *method,
				       const gchar *summary,
				       guint ok,
				       JsonNode *ok_schema,
				       const guint *errors);

/**
 * exm_rest_openapi_merge:
 * @doc: a document
 * @other: another one of the same version
 *
 * Adds the paths and component schemas of @other that @doc lacks.
 */
void exm_rest_openapi_merge(JsonObject *doc, JsonObject *other);

G_END_DECLS
