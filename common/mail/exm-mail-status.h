/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The status of a mail instance (docs/mail.md §1).
 */
#pragma once

#include <glib.h>

typedef enum {
	EXM_MAIL_STATUS_NEW,
	EXM_MAIL_STATUS_IN_PROGRESS,
	EXM_MAIL_STATUS_ACTIVE,
	EXM_MAIL_STATUS_ERROR,
} ExmMailStatus;

const gchar *exm_mail_status_to_string(ExmMailStatus status);
/* %FALSE with %EXM_MAIL_ERROR_INVALID for an unknown name */
gboolean exm_mail_status_from_string(const gchar *text, ExmMailStatus *out, GError **error);
