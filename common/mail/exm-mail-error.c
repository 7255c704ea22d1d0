/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-mail-error.h"

#include "exm-error.h"

/* How each code answers over HTTP: a broken rule or a malformed file is the
 * client's (400 `ValidationError`); a libcrypt failure (no entropy, out of
 * memory) is not in the table, so it is a 500 whose message is never shown. */
static const ExmErrorConversion exm_mail_error_conversions[] = {
	{ EXM_MAIL_ERROR_INVALID, 400, 400, "ValidationError" },
	{ EXM_MAIL_ERROR_PARSE, 400, 400, "ValidationError" },
};

/**
 * exm_mail_error_quark:
 *
 * The error domain of libexm-mail.  On first use its per-code conversion
 * table is registered with libexm-base, so the REST edge needs no mail
 * knowledge.
 *
 * Returns: the quark
 */
GQuark
exm_mail_error_quark(void)
{
	static gsize quark = 0;

	if (g_once_init_enter(&quark)) {
		GQuark q = g_quark_from_static_string("exm-mail-error-quark");

		exm_error_register(
			q, exm_mail_error_conversions, G_N_ELEMENTS(exm_mail_error_conversions));
		g_once_init_leave(&quark, q);
	}
	return (GQuark)quark;
}
