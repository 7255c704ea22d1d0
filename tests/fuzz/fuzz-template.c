/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzz target: exm_dp_template_render, which puts instance values into the
 * exim configuration (agent/dp/exm-dp-template.h).
 *
 * Input: up to the first newline, the value of @VALUE@ (and, with `;` turned
 * into newlines, of @EXTRA_MACROS@); the rest is the template.  @DOMAIN@ and
 * @HOSTNAME@ are fixed.
 *
 * Properties: a refusal is EXM_DP_ERROR_CONFIG; an accepted rendering never
 * carried a newline, `$`, `\` or a brace in through a plain variable nor `$`,
 * `\` or a brace through a `_MACROS` one, so the configuration has exactly the
 * template's lines plus the macro lines; it equals a reference rendering
 * written from the header's contract (a refusal happens exactly when the
 * reference meets an unknown variable or an unsafe value).
 */
#include <string.h>

#include "exm-dp-error.h"
#include "exm-dp-template.h"
#include "fuzz-common.h"

static gsize
name_len(const gchar *p)
{
	gsize n = 0;

	while (g_ascii_isupper(p[n]) || p[n] == '_')
		n++;
	return (n > 0 && p[n] == '@') ? n : 0;
}

static gboolean
safe(const gchar *name, const gchar *value)
{
	return strpbrk(value, g_str_has_suffix(name, "_MACROS") ? "$\\{}" : "\n\r$\\{}") == NULL;
}

/* Returns: the rendering, or %NULL where the contract demands a refusal. */
static gchar *
reference_render(const gchar *text, GHashTable *vars, gsize *n_macros)
{
	g_autoptr(GString) out = g_string_new(NULL);

	*n_macros = 0;
	for (const gchar *p = text; *p != '\0';) {
		gsize len = *p == '@' ? name_len(p + 1) : 0;
		g_autofree gchar *name = NULL;
		const gchar *value;

		if (len == 0) {
			g_string_append_c(out, *p++);
			continue;
		}
		name = g_strndup(p + 1, len);
		value = g_hash_table_lookup(vars, name);
		if (value == NULL || !safe(name, value))
			return NULL;
		*n_macros += g_str_has_suffix(name, "_MACROS");
		g_string_append(out, value);
		p += len + 2;
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree gchar *input = exm_fuzz_strndup(data, size);
	g_autoptr(GHashTable) vars = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *want = NULL;
	gchar *newline = strchr(input, '\n');
	const gchar *text = newline != NULL ? newline + 1 : "";
	gchar *macros;
	gsize n_macros = 0;

	exm_fuzz_begin(data, size);
	if (newline != NULL)
		*newline = '\0';
	macros = g_strdelimit(g_strdup(input), ";", '\n');
	g_hash_table_insert(vars, "DOMAIN", g_strdup("example.com"));
	g_hash_table_insert(vars, "HOSTNAME", g_strdup("mx.example.com"));
	g_hash_table_insert(vars, "VALUE", g_strdup(input));
	g_hash_table_insert(vars, "EXTRA_MACROS", macros);

	out = exm_dp_template_render(text, vars, &error);
	want = reference_render(text, vars, &n_macros);
	if (out == NULL) {
		EXM_FUZZ_CHECK(g_error_matches(error, EXM_DP_ERROR, EXM_DP_ERROR_CONFIG),
			       "refusal of another kind: %s",
			       error->message);
		EXM_FUZZ_CHECK(
			want == NULL, "refused a template the contract allows: %s", error->message);
		return 0;
	}
	EXM_FUZZ_CHECK(want != NULL, "rendered a template the contract refuses: %s", out);
	EXM_FUZZ_CHECK(g_str_equal(out, want), "rendering differs from the reference");
	EXM_FUZZ_CHECK(exm_fuzz_count_char(out, '\n') ==
			       exm_fuzz_count_char(text, '\n') +
				       n_macros * exm_fuzz_count_char(macros, '\n'),
		       "a value added lines");
	exm_fuzz_accepted();
	return 0;
}
