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
