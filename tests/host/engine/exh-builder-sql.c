/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The SQL helpers of a tick (exh-builder-private.h).
 */
#include "exh-builder-private.h"

#include "exh-ua-store.h"
#include "exm-cleanup.h"

PGresult *
exh_builder_sql_exec(ExhBuilderTick *t,
		     const gchar *text,
		     gint n,
		     const gchar *const *params,
		     GError **error)
{
	return exh_ua_store_exec(t->conn, text, n, params, error);
}

gboolean
exh_builder_sql_write(ExhBuilderTick *t,
		      const gchar *text,
		      gint n,
		      const gchar *const *params,
		      GError **error)
{
	g_autoptr(PGresult) res = exh_builder_sql_exec(t, text, n, params, error);

	if (res == NULL)
		return FALSE;
	t->stats->written += (guint)g_ascii_strtoull(PQcmdTuples(res), NULL, 10);
	return TRUE;
}

gboolean
exh_builder_sql_command(PGconn *conn, const gchar *text, GError **error)
{
	g_autoptr(PGresult) res = exh_ua_store_exec(conn, text, 0, NULL, error);

	return res != NULL;
}

gchar *
exh_builder_sql_kinds(const gchar *const *kinds)
{
	GString *s = g_string_new("{");

	for (guint i = 0; kinds != NULL && kinds[i] != NULL; i++)
		g_string_append_printf(s, "%s\"%s\"", i > 0 ? "," : "", kinds[i]);
	g_string_append_c(s, '}');
	return g_string_free(s, FALSE);
}
