/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Responses (see exm-rest-response.h).
 */
#include "exm-rest-response.h"

#include "exm-error.h"
#include "exm-json.h"

ExmRestResponse *
exm_rest_response_new(void)
{
	ExmRestResponse *r = g_new0(ExmRestResponse, 1);

	r->status = 500;
	r->headers = g_ptr_array_new_with_free_func(g_free);
	return r;
}

void
exm_rest_response_free(ExmRestResponse *response)
{
	if (response == NULL)
		return;
	g_free(response->body);
	g_ptr_array_unref(response->headers);
	g_free(response);
}

void
exm_rest_response_set_json(ExmRestResponse *response, guint status, JsonNode *node)
{
	response->status = status;
	g_clear_pointer(&response->body, g_free);
	if (node != NULL)
		response->body = exm_json_to_string(node);
}

void
exm_rest_response_set_error(ExmRestResponse *response, const GError *error)
{
	response->status = exm_error_http_status(error);
	g_free(response->body);
	response->body = exm_error_body(error);
	g_ptr_array_set_size(response->headers, 0);
}

void
exm_rest_response_add_header(ExmRestResponse *response, const gchar *name, const gchar *value)
{
	g_ptr_array_add(response->headers, g_strdup(name));
	g_ptr_array_add(response->headers, g_strdup(value));
}

void
exm_rest_response_paginate(ExmRestResponse *response,
			   const ExmRestListQuery *query,
			   guint n_items,
			   const gchar *last_id)
{
	g_autofree gchar *limit = NULL;

	if (query->limit == 0)
		return;
	limit = g_strdup_printf("%" G_GUINT64_FORMAT, query->limit);
	exm_rest_response_add_header(response, "X-Pagination-Limit", limit);
	if (n_items == query->limit && last_id != NULL)
		exm_rest_response_add_header(response, "X-Pagination-Marker", last_id);
}
