/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-log.h"

#include <stdarg.h>

void
exh_log(GLogLevelFlags level, const gchar *request_id, const gchar *fmt, ...)
{
	g_autofree gchar *message = NULL;
	va_list args;
	GLogField fields[] = {
		{ "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
		{ "MESSAGE", NULL, -1 },
		{ "EXH_REQUEST_ID", request_id, -1 },
	};

	va_start(args, fmt);
	message = g_strdup_vprintf(fmt, args);
	va_end(args);
	fields[1].value = message;
	g_log_structured_array(level, fields, request_id != NULL ? 3 : 2);
}

void
exh_log_request(const gchar *request_id,
		const gchar *method,
		const gchar *path,
		guint status,
		gint64 duration_us)
{
	g_autofree gchar *message = NULL;
	gchar status_str[16];
	gchar duration_str[32];
	GLogField fields[] = {
		{ "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
		{ "MESSAGE", NULL, -1 },
		{ "EXH_REQUEST_ID", request_id, -1 },
		{ "EXH_METHOD", method, -1 },
		{ "EXH_PATH", path, -1 },
		{ "EXH_STATUS", status_str, -1 },
		{ "EXH_DURATION_US", duration_str, -1 },
	};

	g_snprintf(status_str, sizeof(status_str), "%u", status);
	g_snprintf(duration_str, sizeof(duration_str), "%" G_GINT64_FORMAT, duration_us);
	/* the numbers already written: concatenated, not printed again (one
	 * line per request, docs/scale.md §8) */
	message = g_strconcat(
		method, " ", path, " -> ", status_str, " (", duration_str, " us)", NULL);
	fields[1].value = message;
	g_log_structured_array(G_LOG_LEVEL_DEBUG, fields, G_N_ELEMENTS(fields));
}

void
exh_log_pg_notice(void *arg, const char *message)
{
	g_autofree gchar *line = g_strstrip(g_strdup(message));

	exh_log(G_LOG_LEVEL_DEBUG, NULL, "postgres: %s", line);
}
