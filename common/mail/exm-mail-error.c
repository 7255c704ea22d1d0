/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-mail-error.h"

#include "exm-error.h"

/**
 * exm_mail_error_quark:
 *
 * The error domain of libexm-mail.  On first use it is registered with libexm-base
 * as a client-error (400) domain, so the REST edge needs no mail knowledge.
 *
 * The base registry is per domain, so %EXM_MAIL_ERROR_CRYPT (libcrypt could not
 * hash: no entropy, out of memory) maps to 400 as well.  It only comes from
 * exm_mail_hash_password(); callers that answer HTTP turn it into
 * %EXM_ERROR_FAILED (500) themselves, as the plugin does.
 *
 * Returns: the quark
 */
GQuark
exm_mail_error_quark(void)
{
	static gsize quark = 0;

	if (g_once_init_enter(&quark)) {
		GQuark q = g_quark_from_static_string("exm-mail-error-quark");

		exm_error_register_400(q);
		g_once_init_leave(&quark, q);
	}
	return (GQuark)quark;
}
