/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-error.h"

G_DEFINE_QUARK(exm - dp - error - quark, exm_dp_error)
