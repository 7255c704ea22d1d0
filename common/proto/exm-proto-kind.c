/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-proto-kind.h"

#include <string.h>

gboolean
exm_proto_kind_is_valid(const gchar *kind)
{
	gsize len;

	if (kind == NULL)
		return FALSE;
	len = strlen(kind);
	if (len == 0 || len > EXM_PROTO_KIND_MAX)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(kind[i]) && strchr("_.-", kind[i]) == NULL)
			return FALSE;
	}
	return TRUE;
}
