/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The error domain of the universal agent library (exm_ua_lib).
 */
#pragma once

#include <glib.h>

#define EXM_UA_ERROR (exm_ua_error_quark())
GQuark exm_ua_error_quark(void);

/**
 * ExmUaErrorCode:
 * @EXM_UA_ERROR_FAILED: generic failure (I/O, system)
 * @EXM_UA_ERROR_CONFIG: the configuration is unusable
 * @EXM_UA_ERROR_PROTOCOL: the control plane answered something the protocol does not allow
 * @EXM_UA_ERROR_HTTP: the control plane answered with an unexpected HTTP status
 * @EXM_UA_ERROR_NOT_FOUND: the control plane answered 404 (unknown agent/resource)
 * @EXM_UA_ERROR_CONFLICT: the control plane answered 409
 * @EXM_UA_ERROR_DRIVER: a capability driver failed
 * @EXM_UA_ERROR_CANCELLED: the agent was stopped
 * @EXM_UA_ERROR_REFUSED: an answer the agent must not trust: a plain 2xx body
 *   although it holds a key, or a sealed one it has already received
 */
typedef enum {
	EXM_UA_ERROR_FAILED,
	EXM_UA_ERROR_CONFIG,
	EXM_UA_ERROR_PROTOCOL,
	EXM_UA_ERROR_HTTP,
	EXM_UA_ERROR_NOT_FOUND,
	EXM_UA_ERROR_CONFLICT,
	EXM_UA_ERROR_DRIVER,
	EXM_UA_ERROR_CANCELLED,
	EXM_UA_ERROR_REFUSED,
} ExmUaErrorCode;
