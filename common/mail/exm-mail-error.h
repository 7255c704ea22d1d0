/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#pragma once

#include <glib.h>

#define EXM_MAIL_ERROR (exm_mail_error_quark())
GQuark exm_mail_error_quark(void);

/**
 * ExmMailError:
 * @EXM_MAIL_ERROR_INVALID: a value breaks a rule; the message says which and how to
 *   fix it (mapped to HTTP 400 `ValidationError`)
 * @EXM_MAIL_ERROR_CRYPT: libcrypt failed to hash
 * @EXM_MAIL_ERROR_PARSE: a file (passwd, mail.env, DKIM TXT) is malformed
 */
typedef enum {
	EXM_MAIL_ERROR_INVALID,
	EXM_MAIL_ERROR_CRYPT,
	EXM_MAIL_ERROR_PARSE,
} ExmMailError;
