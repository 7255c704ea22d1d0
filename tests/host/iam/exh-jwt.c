/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-jwt.h"

#include "exh-error.h"
#include "exm-json.h"
#include "exm-secret.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <string.h>

static gint
b64url_value(gchar c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

GBytes *
exh_jwt_base64url_decode(const gchar *text, gsize len, GError **error)
{
	g_autoptr(GByteArray) out = g_byte_array_sized_new(len * 3 / 4 + 1);
	guint32 acc = 0;
	guint bits = 0;

	/* a length of 1 mod 4 cannot come from any byte string */
	if (len % 4 == 1)
		goto bad;
	for (gsize i = 0; i < len; i++) {
		gint v = b64url_value(text[i]);

		if (v < 0)
			goto bad;
		acc = (acc << 6) | (guint32)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			guint8 byte = (guint8)(acc >> bits);
			g_byte_array_append(out, &byte, 1);
		}
	}
	/* the unused low bits of the last character must be zero (canonical) */
	if ((acc & ((1u << bits) - 1)) != 0)
		goto bad;
	return g_byte_array_free_to_bytes(g_steal_pointer(&out));
bad:
	g_set_error_literal(error, EXH_ERROR, EXH_ERROR_IAM, "not base64url");
	return NULL;
}

static JsonObject *
decode_part(const gchar *text, gsize len, const gchar *what, GError **error)
{
	g_autoptr(GBytes) raw = exh_jwt_base64url_decode(text, len, NULL);
	g_autoptr(GError) local = NULL;
	JsonObject *obj;
	gsize n;
	const gchar *data;

	if (raw == NULL) {
		g_set_error(
			error, EXH_ERROR, EXH_ERROR_IAM, "the token's %s is not base64url", what);
		return NULL;
	}
	data = g_bytes_get_data(raw, &n);
	obj = exm_json_parse_object(data, n, &local);
	if (obj == NULL)
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_IAM,
			    "the token's %s is not a JSON object",
			    what);
	return obj;
}

static gboolean
parse_header(ExhJwt *jwt, JsonObject *header, GError **error)
{
	const gchar *alg = NULL;
	const gchar *kid = NULL;

	if (!exm_json_get_string(header, "alg", FALSE, &alg, NULL, NULL) || alg == NULL ||
	    (!g_str_equal(alg, "HS256") && !g_str_equal(alg, "RS256"))) {
		g_set_error_literal(error,
				    EXH_ERROR,
				    EXH_ERROR_IAM,
				    "the token's algorithm is not HS256 or RS256");
		return FALSE;
	}
	if (!exm_json_get_string(header, "kid", TRUE, &kid, NULL, NULL)) {
		g_set_error_literal(
			error, EXH_ERROR, EXH_ERROR_IAM, "the token's kid is not a string");
		return FALSE;
	}
	jwt->alg = g_strdup(alg);
	jwt->kid = g_strdup(kid);
	return TRUE;
}

static gchar **
parse_audience(JsonObject *claims)
{
	JsonNode *node = json_object_get_member(claims, "aud");
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
	JsonArray *array;

	if (node == NULL)
		return NULL;
	if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING) {
		g_ptr_array_add(out, g_strdup(json_node_get_string(node)));
	} else if (JSON_NODE_HOLDS_ARRAY(node)) {
		array = json_node_get_array(node);
		for (guint i = 0; i < json_array_get_length(array); i++) {
			JsonNode *e = json_array_get_element(array, i);

			if (!JSON_NODE_HOLDS_VALUE(e) ||
			    json_node_get_value_type(e) != G_TYPE_STRING)
				return NULL;
			g_ptr_array_add(out, g_strdup(json_node_get_string(e)));
		}
	} else {
		return NULL;
	}
	g_ptr_array_add(out, NULL);
	return (gchar **)g_ptr_array_free(g_steal_pointer(&out), FALSE);
}

static gboolean
parse_claims(ExhJwt *jwt, JsonObject *claims, GError **error)
{
	const gchar *sub = NULL;
	const gchar *jti = NULL;
	gboolean has_exp = FALSE;

	if (!exm_json_get_int(claims, "exp", &jwt->exp, &has_exp, NULL) || !has_exp) {
		g_set_error_literal(
			error, EXH_ERROR, EXH_ERROR_IAM, "the token has no integer exp");
		return FALSE;
	}
	jwt->aud = parse_audience(claims);
	if (jwt->aud == NULL) {
		g_set_error_literal(error, EXH_ERROR, EXH_ERROR_IAM, "the token has no audience");
		return FALSE;
	}
	if (!exm_json_get_string(claims, "sub", TRUE, &sub, NULL, NULL) ||
	    !exm_json_get_string(claims, "jti", TRUE, &jti, NULL, NULL) ||
	    !exm_json_get_bool(claims, "otp", &jwt->otp, NULL, NULL)) {
		g_set_error_literal(
			error, EXH_ERROR, EXH_ERROR_IAM, "the token has a mistyped claim");
		return FALSE;
	}
	jwt->sub = g_strdup(sub);
	jwt->jti = g_strdup(jti);
	return TRUE;
}

ExhJwt *
exh_jwt_parse(const gchar *token, GError **error)
{
	g_autoptr(ExhJwt) jwt = g_new0(ExhJwt, 1);
	g_autoptr(JsonObject) header = NULL;
	g_autoptr(JsonObject) claims = NULL;
	const gchar *dot1;
	const gchar *dot2;
	gsize len = strnlen(token, EXH_JWT_MAX_LEN + 1);

	dot1 = len <= EXH_JWT_MAX_LEN ? strchr(token, '.') : NULL;
	dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
	if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL) {
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
		g_set_error_literal(error, EXH_ERROR, EXH_ERROR_IAM, "the token is not a JWT");
		return NULL;
	}
	header = decode_part(token, dot1 - token, "header", error);
	if (header == NULL || !parse_header(jwt, header, error))
		return NULL;
	claims = decode_part(dot1 + 1, dot2 - dot1 - 1, "claims", error);
	if (claims == NULL || !parse_claims(jwt, claims, error))
		return NULL;
	jwt->signature = exh_jwt_base64url_decode(dot2 + 1, len - (dot2 + 1 - token), NULL);
	if (jwt->signature == NULL || g_bytes_get_size(jwt->signature) == 0) {
		g_set_error_literal(
			error, EXH_ERROR, EXH_ERROR_IAM, "the token's signature is not base64url");
		return NULL;
	}
	jwt->signing_input = g_strndup(token, dot2 - token);
	return g_steal_pointer(&jwt);
}

gboolean
exh_jwt_verify_hs256(const ExhJwt *jwt, GBytes *key)
{
	guint8 mac[EVP_MAX_MD_SIZE];
	guint mac_len = 0;
	gsize key_len;
	gconstpointer key_data = g_bytes_get_data(key, &key_len);
	gboolean ok;

	if (!g_str_equal(jwt->alg, "HS256") || key_len == 0)
		return FALSE;
	if (HMAC(EVP_sha256(),
		 key_data,
		 (int)key_len,
		 (const guint8 *)jwt->signing_input,
		 strlen(jwt->signing_input),
		 mac,
		 &mac_len) == NULL)
		return FALSE;
	ok = mac_len == g_bytes_get_size(jwt->signature) &&
	     CRYPTO_memcmp(mac, g_bytes_get_data(jwt->signature, NULL), mac_len) == 0;
	exm_secret_wipe(mac, sizeof(mac));
	return ok;
}

static EVP_PKEY *
rsa_key(GBytes *n, GBytes *e)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *pkey = NULL;
	BIGNUM *bn_n = BN_bin2bn(g_bytes_get_data(n, NULL), (int)g_bytes_get_size(n), NULL);
	BIGNUM *bn_e = BN_bin2bn(g_bytes_get_data(e, NULL), (int)g_bytes_get_size(e), NULL);

	if (bld != NULL && ctx != NULL && bn_n != NULL && bn_e != NULL &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
		params = OSSL_PARAM_BLD_to_param(bld);
	if (params != NULL && EVP_PKEY_fromdata_init(ctx) > 0)
		EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(bn_n);
	BN_free(bn_e);
	return pkey;
}

gboolean
exh_jwt_verify_rs256(const ExhJwt *jwt, GBytes *n, GBytes *e)
{
	EVP_PKEY *pkey;
	EVP_MD_CTX *md;
	gboolean ok = FALSE;

	if (!g_str_equal(jwt->alg, "RS256"))
		return FALSE;
	pkey = rsa_key(n, e);
	md = EVP_MD_CTX_new();
	if (pkey != NULL && md != NULL &&
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) > 0)
		ok = EVP_DigestVerify(md,
				      g_bytes_get_data(jwt->signature, NULL),
				      g_bytes_get_size(jwt->signature),
				      (const guint8 *)jwt->signing_input,
				      strlen(jwt->signing_input)) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	return ok;
}

gboolean
exh_jwt_check_claims(const ExhJwt *jwt,
		     const gchar *audience,
		     gint64 now,
		     gint64 skew,
		     GError **error)
{
	if (jwt->exp + skew <= now) {
		g_set_error_literal(error, EXH_ERROR, EXH_ERROR_IAM, "the token has expired");
		return FALSE;
	}
	if (!g_strv_contains((const gchar *const *)jwt->aud, audience)) {
		g_set_error_literal(
			error, EXH_ERROR, EXH_ERROR_IAM, "the token is for another audience");
		return FALSE;
	}
	return TRUE;
}

void
exh_jwt_free(ExhJwt *jwt)
{
	if (jwt == NULL)
		return;
	g_free(jwt->alg);
	g_free(jwt->kid);
	g_free(jwt->sub);
	g_free(jwt->jti);
	g_strfreev(jwt->aud);
	g_free(jwt->signing_input);
	g_clear_pointer(&jwt->signature, g_bytes_unref);
	g_free(jwt);
}
