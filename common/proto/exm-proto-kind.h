/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Resource kinds of the universal agent protocol: bare names that appear in
 * URL paths (`/v1/kind/<kind>/...`).
 */
#pragma once

#include <glib.h>

#define EXM_PROTO_KIND_MAX 64

/* Returns: %TRUE when @kind (nullable) is 1..64 characters of [A-Za-z0-9_.-]
 * (safe in a URL path). */
gboolean exm_proto_kind_is_valid(const gchar *kind);
