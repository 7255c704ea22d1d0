/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The columns a create or update writes: a list of #ExmRestSet, each value's
 * text wiped when it is replaced or freed (password hashes pass through).
 */
#pragma once

#include <glib.h>

#include "exm-rest-sql.h"

G_BEGIN_DECLS

/**
 * exm_rest_set_list_new:
 *
 * Returns: (transfer full) (element-type ExmRestSet): an empty list
 */
GPtrArray *exm_rest_set_list_new(void);

/**
 * exm_rest_set_find:
 * @sets: (element-type ExmRestSet): a list
 * @name: a field name
 *
 * Returns: (transfer none) (nullable): the value written to @name
 */
ExmRestSet *exm_rest_set_find(GPtrArray *sets, const gchar *name);

/**
 * exm_rest_set_text:
 * @sets: (element-type ExmRestSet): a list
 * @name: a field name
 *
 * Returns: (transfer none) (nullable): the text written to @name, %NULL when
 *   the request leaves it (or writes NULL)
 */
const gchar *exm_rest_set_text(GPtrArray *sets, const gchar *name);

/**
 * exm_rest_set_put:
 * @sets: (element-type ExmRestSet): a list
 * @model: the model
 * @name: one of its fields
 * @text: (nullable): the canonical text (may be the current one)
 *
 * Sets or replaces the value written to @name.
 */
void exm_rest_set_put(GPtrArray *sets,
		      const ExmRestModel *model,
		      const gchar *name,
		      const gchar *text);

G_END_DECLS
