/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The signing keys Core IAM publishes at `<iam endpoint>/actions/jwks`
 * (docs/iam.md): `{"algorithm": "HS256"|"RS256", "keys": [current, previous]}`.
 * HS256 secrets arrive as `k = "aesgcm:<b64url nonce>.<b64url ciphertext+tag>"`,
 * AES-256-GCM under the host's JWKS decryption key; RS256 keys as JWK `n`/`e`.
 * Decrypted secrets are wiped when the key set is freed.
 */
#pragma once

#include "exh-jwt.h"

#include <glib.h>

typedef struct _ExhJwks ExhJwks;

/**
 * exh_jwks_decryption_key:
 * @text: the configured key: 32 bytes as base64url, or 32 raw characters
 * @error: %EXH_ERROR_CONFIG when it is neither
 *
 * Returns: (transfer full): the 32-byte key (wiped when freed)
 */
GBytes *exh_jwks_decryption_key(const gchar *text, GError **error);

/**
 * exh_jwks_parse:
 * @data: the JWKS answer
 * @len: its length
 * @decryption_key: (nullable): the 32-byte key for HS256 secrets
 * @error: %EXH_ERROR_IAM naming what is wrong (never a key)
 *
 * Returns: (transfer full): the keys, current first
 */
ExhJwks *exh_jwks_parse(const gchar *data, gsize len, GBytes *decryption_key, GError **error);

/* Number of keys. */
guint exh_jwks_get_n_keys(const ExhJwks *jwks);

/**
 * exh_jwks_verify:
 * @jwks: keys
 * @jwt: a parsed token
 * @unknown_kid: (out) (optional): %TRUE when @jwt names a kid none of the keys has
 *
 * Tries the key @jwt names (when it names one), else each key in order.
 *
 * Returns: %TRUE when one of the keys verifies the signature
 */
gboolean exh_jwks_verify(const ExhJwks *jwks, const ExhJwt *jwt, gboolean *unknown_kid);

void exh_jwks_free(ExhJwks *jwks);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhJwks, exh_jwks_free)
