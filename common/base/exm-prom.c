/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The exposition format's shared pieces (exm-prom.h).
 */
#include "exm-prom.h"

#include <stdlib.h>

void
exm_prom_escape_label(GString *out, const gchar *value)
{
	for (const gchar *p = value; *p != '\0'; p++) {
		if (*p == '\\')
			g_string_append(out, "\\\\");
		else if (*p == '"')
			g_string_append(out, "\\\"");
		else if (*p == '\n')
			g_string_append(out, "\\n");
		else
			g_string_append_c(out, *p);
	}
}

static gint
compare_keys(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar *const *)a, *(const gchar *const *)b);
}

gpointer *
exm_prom_sorted_keys(GHashTable *table, guint *n)
{
	gpointer *keys = g_hash_table_get_keys_as_array(table, n);

	qsort(keys, *n, sizeof(gpointer), compare_keys);
	return keys;
}
