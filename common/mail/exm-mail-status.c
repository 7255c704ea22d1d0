/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The instance status names.
 */
#include "exm-mail-status.h"

#include "exm-mail-error.h"

static const gchar *const status_names[] = {
	[EXM_MAIL_STATUS_NEW] = "NEW",
	[EXM_MAIL_STATUS_IN_PROGRESS] = "IN_PROGRESS",
	[EXM_MAIL_STATUS_ACTIVE] = "ACTIVE",
	[EXM_MAIL_STATUS_ERROR] = "ERROR",
};

/**
 * exm_mail_status_to_string:
 * @status: a status
 *
 * Returns: (transfer none): its API name; "ERROR" for a value outside the enum
 */
const gchar *
exm_mail_status_to_string(ExmMailStatus status)
{
	if ((guint)status >= G_N_ELEMENTS(status_names))
		return "ERROR";
	return status_names[status];
}

/**
 * exm_mail_status_from_string:
 * @text: (nullable): an API name, case-sensitive
 * @out: (out): the status
 * @error: %EXM_MAIL_ERROR_INVALID
 *
 * Returns: %TRUE when @text names a status
 */
gboolean
exm_mail_status_from_string(const gchar *text, ExmMailStatus *out, GError **error)
{
	for (guint s = 0; s < G_N_ELEMENTS(status_names); s++) {
		if (g_strcmp0(text, status_names[s]) == 0) {
			*out = (ExmMailStatus)s;
			return TRUE;
		}
	}
	g_set_error_literal(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "status: must be one of NEW, IN_PROGRESS, ACTIVE, ERROR");
	return FALSE;
}
