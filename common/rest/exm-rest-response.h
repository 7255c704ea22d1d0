/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Responses with the standard error bodies (docs/rest-conventions.md §3).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include "exm-rest-list-query.h"

G_BEGIN_DECLS

/**
 * ExmRestResponse:
 * @status: HTTP status
 * @body: (nullable): JSON text; %NULL for 204
 * @headers: (element-type utf8): name, value, name, value, …
 */
typedef struct {
	guint status;
	gchar *body;
	GPtrArray *headers;
} ExmRestResponse;

/**
 * exm_rest_response_new:
 *
 * Returns: (transfer full): an empty response (status 500 until set)
 */
ExmRestResponse *exm_rest_response_new(void);

/**
 * exm_rest_response_free:
 * @response: (nullable): a response
 *
 * Frees @response.
 */
void exm_rest_response_free(ExmRestResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmRestResponse, exm_rest_response_free)
/**
 * exm_rest_response_set_json:
 * @response: a response
 * @status: HTTP status
 * @node: (nullable): the body; %NULL for none (204)
 *
 * Sets @status and the compact JSON of @node.
 */
void exm_rest_response_set_json(ExmRestResponse *response, guint status, JsonNode *node);

/**
 * exm_rest_response_set_error:
 * @response: a response
 * @error: the failure
 *
 * Sets exm_error_http_status() and exm_error_body() of @error and drops any
 * header set so far.
 */
void exm_rest_response_set_error(ExmRestResponse *response, const GError *error);

/**
 * exm_rest_response_add_header:
 * @response: a response
 * @name: header name
 * @value: header value
 *
 * Adds one header (copies both strings).
 */
void exm_rest_response_add_header(ExmRestResponse *response, const gchar *name, const gchar *value);

/**
 * exm_rest_response_paginate:
 * @response: a list response
 * @query: its query
 * @n_items: how many items the page holds
 * @last_id: (nullable): the id of the last item
 *
 * `X-Pagination-Limit` when a limit was asked for, and `X-Pagination-Marker`
 * when the page is full.
 */
void exm_rest_response_paginate(ExmRestResponse *response,
				const ExmRestListQuery *query,
				guint n_items,
				const gchar *last_id);

G_END_DECLS
