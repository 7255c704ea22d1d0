/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#pragma once

#include <glib.h>

typedef enum {
	EXM_MAIL_HASH_YESCRYPT, /* $y$, libxcrypt's preferred method */
	EXM_MAIL_HASH_SHA512,	/* $6$, 5000 rounds like `openssl passwd -6` */
} ExmMailHashMethod;

/**
 * exm_mail_crypt_hash:
 * @plaintext: the password (1..511 bytes: libxcrypt's CRYPT_MAX_PASSPHRASE_SIZE - 1;
 *   no NUL, no newline)
 * @method: hash family
 * @error: %EXM_MAIL_ERROR_INVALID for a bad password, %EXM_MAIL_ERROR_CRYPT
 *
 * crypt_gensalt_ra() + crypt_rn(); the crypt_data scratch area is wiped.
 * The caller wipes @plaintext.
 *
 * Returns: (transfer full): the hash
 */
gchar *exm_mail_crypt_hash(const gchar *plaintext, ExmMailHashMethod method, GError **error);

/**
 * exm_mail_crypt_verify:
 * Returns: %TRUE when @plaintext matches @hash (a `{SCHEME}` prefix is ignored)
 */
gboolean exm_mail_crypt_verify(const gchar *plaintext, const gchar *hash);

/**
 * exm_mail_crypt_strip_scheme:
 * @hash: a hash
 *
 * Upstream `_strip_dovecot_prefix`: when @hash starts with `{` and contains `}`,
 * what follows the first `}`; else @hash itself.
 *
 * Returns: (transfer none): a pointer into @hash
 */
const gchar *exm_mail_crypt_strip_scheme(const gchar *hash);

/* A secret's fingerprint: 16 hex digits of the SHA-256 of the stripped hash. */
#define EXM_MAIL_CRYPT_FINGERPRINT_LEN 16
gchar *exm_mail_crypt_fingerprint(const gchar *hash);
