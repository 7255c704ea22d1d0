/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-template.h"

#include <string.h>

#include "exm-dp-error.h"

/* Length of the variable name starting at @p (after an `@`), 0 if none. */
static gsize
var_name_len(const gchar *p)
{
	gsize n = 0;

	while (g_ascii_isupper(p[n]) || p[n] == '_')
		n++;
	return (n > 0 && p[n] == '@') ? n : 0;
}

static gboolean
value_is_safe(const gchar *name, const gchar *value)
{
	if (g_str_has_suffix(name, "_MACROS"))
		return strpbrk(value, "$\\{}") == NULL;
	return strpbrk(value, "\n\r$\\{}") == NULL;
}

gchar *
exm_dp_template_render(const gchar *text, GHashTable *vars, GError **error)
{
	g_autoptr(GString) out = g_string_sized_new(strlen(text) + 1024);
	const gchar *p = text;

	while (*p != '\0') {
		const gchar *at = strchr(p, '@');
		g_autofree gchar *name = NULL;
		const gchar *value;
		gsize len;

		if (at == NULL) {
			g_string_append(out, p);
			break;
		}
		g_string_append_len(out, p, at - p);
		len = var_name_len(at + 1);
		if (len == 0) {
			g_string_append_c(out, '@');
			p = at + 1;
			continue;
		}
		name = g_strndup(at + 1, len);
		value = g_hash_table_lookup(vars, name);
		if (value == NULL || !value_is_safe(name, value)) {
			g_set_error(error,
				    EXM_DP_ERROR,
				    EXM_DP_ERROR_CONFIG,
				    value == NULL ? "template: unknown variable @%s@"
						  : "template: unsafe value for @%s@",
				    name);
			return NULL;
		}
		g_string_append(out, value);
		p = at + len + 2;
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}
