/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The checks shared by the node's reports (exm-plugin-report.h).
 */
#include "exm-plugin-report.h"

#include <string.h>

#include "exm-json.h"
#include "exm-mail-validate.h"
#include "exm-time.h"

gboolean
exm_plugin_report_printable(const gchar *s, gsize max, const gchar *also_bad)
{
	if (strlen(s) > max)
		return FALSE;
	for (const gchar *p = s; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e || strchr(also_bad, *p) != NULL)
			return FALSE;
	}
	return TRUE;
}

/* An address of the instance: a valid username at its domain. */
gboolean
exm_plugin_report_address_ok(const gchar *address, const gchar *domain)
{
	const gchar *at = strrchr(address, '@');
	g_autofree gchar *local = NULL;
	g_autofree gchar *norm = NULL;

	if (at == NULL || strlen(address) > EXM_PLUGIN_REPORT_ADDRESS_MAX ||
	    g_ascii_strcasecmp(at + 1, domain) != 0)
		return FALSE;
	local = g_strndup(address, (gsize)(at - address));
	norm = exm_mail_validate_normalize_username(local, NULL);
	return norm != NULL && g_str_equal(norm, local);
}

gboolean
exm_plugin_report_time_ok(JsonObject *o, const gchar *name, gboolean required)
{
	const gchar *text = NULL;
	gint64 t = 0;

	if (!exm_json_get_string(o, name, FALSE, &text, NULL, NULL))
		return FALSE;
	if (text == NULL)
		return !required;
	return exm_time_parse(text, &t);
}
