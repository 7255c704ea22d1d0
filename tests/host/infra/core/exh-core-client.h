/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The HTTP side of the `core` backend: one SoupSession (used by the
 * backend's worker thread only), the IAM token (password grant, cached,
 * renewed before it expires, re-acquired once on a 401 with the refresh
 * token first) and JSON calls that turn every non-documented answer into a
 * GError.  Tokens and passwords never reach a log line or an error message.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "exh-core-backend.h"

G_BEGIN_DECLS

typedef struct _ExhCoreClient ExhCoreClient;

/* (transfer full): a client for @config (borrowed: it must outlive the client) */
ExhCoreClient *exh_core_client_new(const ExhCoreConfig *config);
void exh_core_client_free(ExhCoreClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhCoreClient, exh_core_client_free)

/**
 * exh_core_client_call:
 * @client: a client
 * @method: `GET`, `POST`, `PUT`, `DELETE`
 * @path: below the endpoint, e.g. `/v1/compute/sets/<uuid>`
 * @body: (nullable): a JSON body
 * @out_status: (out): the HTTP status
 * @out_json: (out) (optional) (transfer full): the parsed body of a 2xx
 *   answer that has one
 * @error: %EXH_ERROR_FAILED saying what went wrong (transport, timeout,
 *   5xx, 4xx other than 404 with Core's type and message, a body that is
 *   not JSON)
 *
 * Returns: %TRUE for a 2xx or a 404 (the caller decides what absent means)
 */
gboolean exh_core_client_call(ExhCoreClient *client,
			      const gchar *method,
			      const gchar *path,
			      JsonNode *body,
			      guint *out_status,
			      JsonNode **out_json,
			      GError **error);

/* A snapshot of the counters. */
ExhCoreStats exh_core_client_get_stats(ExhCoreClient *client);

G_END_DECLS
