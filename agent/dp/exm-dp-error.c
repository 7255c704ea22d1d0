/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-error.h"

/* Written out rather than G_DEFINE_QUARK(): clang-format puts spaces into the
 * hyphenated name the macro stringifies ("exm - dp - error - quark"). */
GQuark
exm_dp_error_quark(void)
{
	return g_quark_from_static_string("exm-dp-error-quark");
}
