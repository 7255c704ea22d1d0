/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ua-error.h"

/* Written out rather than G_DEFINE_QUARK(): clang-format puts spaces into the
 * hyphenated name the macro stringifies ("exm - ua - error - quark"). */
GQuark
exm_ua_error_quark(void)
{
	return g_quark_from_static_string("exm-ua-error-quark");
}
