/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ua-error.h"

G_DEFINE_QUARK(exm - ua - error - quark, exm_ua_error)
