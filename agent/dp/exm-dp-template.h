/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * `@NAME@` substitution for the exim configuration template.
 */
#pragma once

#include <glib.h>

/**
 * exm_dp_template_render:
 * @text: the template; `@` followed by `[A-Z_]+` and `@` is a variable, any other
 *   `@` is copied as is (exim itself uses `@` in expansions)
 * @vars: (element-type utf8 utf8): variable name → value
 * @error: %EXM_DP_ERROR_CONFIG naming an unknown variable or a value holding a
 *   character that could change the configuration's structure
 *
 * Values must not contain a newline, `$`, `\` or `{}` unless the variable name ends
 * in `_MACROS` (lines composed by the caller from validated parts).
 *
 * Returns: (transfer full): the rendered text, or %NULL
 */
gchar *exm_dp_template_render(const gchar *text, GHashTable *vars, GError **error);
