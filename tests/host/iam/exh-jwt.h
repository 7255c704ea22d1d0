/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Exordos IAM access tokens (JWT, RFC 7519) as the host checks them before it
 * asks Core IAM who the token belongs to (docs/iam.md): a strict parse of the
 * three base64url parts, the HS256 / RS256 signature, `exp` and `aud`.  The
 * token itself is never kept or logged; errors name the failed step only.
 */
#pragma once

#include <glib.h>

/* Longest token accepted (an Authorization header of a sane size). */
#define EXH_JWT_MAX_LEN 8192

/**
 * ExhJwt:
 * @alg: the header's `alg` ("HS256" or "RS256"; others are refused at parse)
 * @kid: (nullable): the header's `kid`
 * @sub: (nullable): the subject (user uuid)
 * @jti: (nullable): the token's id
 * @aud: %NULL-terminated audiences (`aud` as a string or an array)
 * @exp: expiry, seconds since the epoch
 * @otp: the `otp` claim (OTP enabled for the user)
 *
 * A parsed, not yet verified token.
 */
typedef struct {
	gchar *alg;
	gchar *kid;
	gchar *sub;
	gchar *jti;
	gchar **aud;
	gint64 exp;
	gboolean otp;
	/*< private >*/
	gchar *signing_input;
	GBytes *signature;
} ExhJwt;

/**
 * exh_jwt_base64url_decode:
 * @text: unpadded base64url (RFC 4648 §5) text
 * @len: its length
 * @error: %EXH_ERROR_IAM when @text holds anything else
 *
 * Returns: (transfer full): the decoded bytes
 */
GBytes *exh_jwt_base64url_decode(const gchar *text, gsize len, GError **error);

/**
 * exh_jwt_parse:
 * @token: the bearer token
 * @error: %EXH_ERROR_IAM naming the step that failed
 *
 * Splits and decodes the token; the header must be a JSON object with `alg`
 * HS256 or RS256, the claims a JSON object with an integer `exp` and an `aud`.
 *
 * Returns: (transfer full): the token, not verified
 */
ExhJwt *exh_jwt_parse(const gchar *token, GError **error);

/* %TRUE when the HMAC-SHA256 of the signing input under @key is the signature. */
gboolean exh_jwt_verify_hs256(const ExhJwt *jwt, GBytes *key);

/* %TRUE when the RS256 signature verifies under the RSA key (@n, @e big-endian). */
gboolean exh_jwt_verify_rs256(const ExhJwt *jwt, GBytes *n, GBytes *e);

/**
 * exh_jwt_check_claims:
 * @jwt: a token
 * @audience: the audience this host serves
 * @now: seconds since the epoch
 * @skew: seconds of clock skew tolerated on `exp`
 * @error: %EXH_ERROR_IAM ("expired", "wrong audience")
 */
gboolean exh_jwt_check_claims(const ExhJwt *jwt,
			      const gchar *audience,
			      gint64 now,
			      gint64 skew,
			      GError **error);

void exh_jwt_free(ExhJwt *jwt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhJwt, exh_jwt_free)
