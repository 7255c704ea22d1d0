/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Internals of libexm-rest shared between its files.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* exm-rest-repr.c: Python's repr() of @node; with @top a bare string renders
 * as str() (no quotes), as `%s` does. */
gchar *exm_rest_repr(JsonNode *node, gboolean top);

G_END_DECLS
