/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The error domain of the data-plane library (agent/): configure and the driver.
 */
#pragma once

#include <glib.h>

#define EXM_DP_ERROR (exm_dp_error_quark())
GQuark exm_dp_error_quark(void);

/**
 * ExmDpError:
 * @EXM_DP_ERROR_FAILED: an operation on the node failed (file, key, command)
 * @EXM_DP_ERROR_CONFIG: the data-plane configuration or mail.env is invalid
 * @EXM_DP_ERROR_INVALID: an applied value is invalid
 * @EXM_DP_ERROR_NOT_FOUND: no such resource
 * @EXM_DP_ERROR_EXISTS: the resource exists already (or the node serves another one)
 * @EXM_DP_ERROR_KIND: the driver does not handle this kind
 */
typedef enum {
	EXM_DP_ERROR_FAILED,
	EXM_DP_ERROR_CONFIG,
	EXM_DP_ERROR_INVALID,
	EXM_DP_ERROR_NOT_FOUND,
	EXM_DP_ERROR_EXISTS,
	EXM_DP_ERROR_KIND,
} ExmDpError;
