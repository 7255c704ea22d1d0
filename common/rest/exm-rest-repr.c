/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Python's repr() of JSON values, as restalchemy's messages print them.
 */
#include "exm-rest-private.h"

#include <string.h>

/* Python's repr() of a str, close enough for messages: quote choice and the
 * common escapes.  Non-ASCII stays raw; exm_error_body() escapes it. */
static void
repr_string(GString *out, const gchar *s)
{
	gchar quote = (strchr(s, '\'') != NULL && strchr(s, '"') == NULL) ? '"' : '\'';

	g_string_append_c(out, quote);
	for (const gchar *p = s; *p != '\0'; p++) {
		guchar c = (guchar)*p;
		if (c == '\\' || c == (guchar)quote)
			g_string_append_printf(out, "\\%c", c);
		else if (c == '\n')
			g_string_append(out, "\\n");
		else if (c == '\r')
			g_string_append(out, "\\r");
		else if (c == '\t')
			g_string_append(out, "\\t");
		else if (c < 0x20 || c == 0x7f)
			g_string_append_printf(out, "\\x%02x", c);
		else
			g_string_append_c(out, (gchar)c);
	}
	g_string_append_c(out, quote);
}

static void repr_node(GString *out, JsonNode *node, gboolean top);

static void
repr_value(GString *out, JsonNode *node, gboolean top)
{
	GType t = json_node_get_value_type(node);

	if (t == G_TYPE_BOOLEAN)
		g_string_append(out, json_node_get_boolean(node) ? "True" : "False");
	else if (t == G_TYPE_INT64)
		g_string_append_printf(out, "%" G_GINT64_FORMAT, json_node_get_int(node));
	else if (t == G_TYPE_DOUBLE) {
		gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
		g_string_append(out, g_ascii_dtostr(buf, sizeof(buf), json_node_get_double(node)));
	} else if (top)
		g_string_append(out, json_node_get_string(node));
	else
		repr_string(out, json_node_get_string(node));
}

/* @top: a bare string renders as Python str() (no quotes), as `%s` does. */
// NOLINTBEGIN(misc-no-recursion): a json-glib tree's depth: its parser recursed as deep first
static void
repr_node(GString *out, JsonNode *node, gboolean top)
{
	switch (JSON_NODE_TYPE(node)) {
	case JSON_NODE_NULL:
		g_string_append(out, "None");
		break;
	case JSON_NODE_VALUE:
		repr_value(out, node, top);
		break;
	case JSON_NODE_ARRAY: {
		JsonArray *a = json_node_get_array(node);
		g_string_append_c(out, '[');
		for (guint i = 0; i < json_array_get_length(a); i++) {
			if (i > 0)
				g_string_append(out, ", ");
			repr_node(out, json_array_get_element(a, i), FALSE);
		}
		g_string_append_c(out, ']');
		break;
	}
	case JSON_NODE_OBJECT: {
		JsonObjectIter it;
		const gchar *k;
		JsonNode *v;
		gboolean first = TRUE;
		json_object_iter_init(&it, json_node_get_object(node));
		g_string_append_c(out, '{');
		while (json_object_iter_next(&it, &k, &v)) {
			if (!first)
				g_string_append(out, ", ");
			first = FALSE;
			repr_string(out, k);
			g_string_append(out, ": ");
			repr_node(out, v, FALSE);
		}
		g_string_append_c(out, '}');
		break;
	}
	}
}
// NOLINTEND(misc-no-recursion)

gchar *
exm_rest_repr(JsonNode *node, gboolean top)
{
	GString *out = g_string_new(NULL);
	repr_node(out, node, top);
	return g_string_free(out, FALSE);
}
