/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host's JWT and JWKS checks (tests/host/iam): tokens are made here the
 * way Core IAM makes them (HS256 with a secret the JWKS carries AES-GCM
 * encrypted, RS256 with a JWK), then broken one property at a time.
 */
#include "exh-error.h"
#include "exh-jwks.h"
#include "exh-jwt.h"
#include "exm-test.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <string.h>

#define AUD	 "GenesisCoreClientId"
#define DEC_KEY	 "0123456789abcdef0123456789abcdef"
#define SECRET	 "current-hs256-secret-of-core-iam"
#define PREVIOUS "previous-hs256-secret-of-core-iam"
#define NOW	 G_GINT64_CONSTANT(1800000000)

static gchar *
b64url(gconstpointer data, gsize len)
{
	g_autofree gchar *b64 = g_base64_encode(data, len);
	gchar *end = strchr(b64, '=');

	if (end != NULL)
		*end = '\0';
	g_strdelimit(b64, "+", '-');
	g_strdelimit(b64, "/", '_');
	return g_strdup(b64);
}

static gchar *
b64url_str(const gchar *s)
{
	return b64url(s, strlen(s));
}

static gchar *
signing_input(const gchar *alg, const gchar *claims)
{
	g_autofree gchar *header = g_strdup_printf("{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
	g_autofree gchar *h = b64url_str(header);
	g_autofree gchar *c = b64url_str(claims);

	return g_strconcat(h, ".", c, NULL);
}

static gchar *
hs256_token(const gchar *claims, const gchar *secret)
{
	g_autofree gchar *input = signing_input("HS256", claims);
	guint8 mac[32];
	guint len = 0;
	g_autofree gchar *sig = NULL;

	HMAC(EVP_sha256(), secret, (int)strlen(secret), (guint8 *)input, strlen(input), mac, &len);
	sig = b64url(mac, len);
	return g_strconcat(input, ".", sig, NULL);
}

static gchar *
claims_for(gint64 exp, const gchar *aud)
{
	return g_strdup_printf("{\"sub\":\"4d657461-0000-0000-0000-000000000001\","
			       "\"jti\":\"0b1f6e9a-1111-4222-8333-944455556666\","
			       "\"exp\":%" G_GINT64_FORMAT ",\"aud\":%s,\"otp\":false}",
			       exp,
			       aud);
}

/* "aesgcm:<nonce>.<ciphertext+tag>" as gcl_iam encrypts an HS256 secret. */
static gchar *
aesgcm(const gchar *secret, const gchar *key)
{
	guint8 nonce[12];
	guint8 out[256];
	gint n = 0;
	gint fin = 0;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	g_autofree gchar *nb = NULL;
	g_autofree gchar *cb = NULL;

	g_assert_cmpint(RAND_bytes(nonce, sizeof(nonce)), ==, 1);
	g_assert_cmpint(
		EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, (guint8 *)key, nonce), >, 0);
	g_assert_cmpint(
		EVP_EncryptUpdate(ctx, out, &n, (guint8 *)secret, (int)strlen(secret)), >, 0);
	g_assert_cmpint(EVP_EncryptFinal_ex(ctx, out + n, &fin), >, 0);
	g_assert_cmpint(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out + n + fin), >, 0);
	EVP_CIPHER_CTX_free(ctx);
	nb = b64url(nonce, sizeof(nonce));
	cb = b64url(out, n + fin + 16);
	return g_strdup_printf("aesgcm:%s.%s", nb, cb);
}

static ExhJwks *
hs256_jwks(const gchar *const *secrets, const gchar *dec_key)
{
	g_autoptr(GString) json = g_string_new("{\"algorithm\":\"HS256\",\"keys\":[");
	g_autoptr(GBytes) key = exh_jwks_decryption_key(dec_key, NULL);
	g_autoptr(GError) error = NULL;
	ExhJwks *jwks;

	for (guint i = 0; secrets[i] != NULL; i++) {
		g_autofree gchar *k = aesgcm(secrets[i], DEC_KEY);

		g_string_append_printf(json,
				       "%s{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"%s\"}",
				       i > 0 ? "," : "",
				       k);
	}
	g_string_append(json, "]}");
	jwks = exh_jwks_parse(json->str, json->len, key, &error);
	g_assert_no_error(error);
	return jwks;
}

static gboolean
accepted(const ExhJwks *jwks, const gchar *token, GError **error)
{
	g_autoptr(ExhJwt) jwt = exh_jwt_parse(token, error);

	if (jwt == NULL)
		return FALSE;
	if (!exh_jwks_verify(jwks, jwt, NULL)) {
		g_set_error_literal(error, EXH_ERROR, EXH_ERROR_IAM, "bad signature");
		return FALSE;
	}
	return exh_jwt_check_claims(jwt, AUD, NOW, 30, error);
}

static void
test_hs256(void)
{
	const gchar *both[] = { SECRET, PREVIOUS, NULL };
	const gchar *only_new[] = { "a-third-secret-after-two-rotations", SECRET, NULL };
	g_autoptr(ExhJwks) jwks = hs256_jwks(both, DEC_KEY);
	g_autoptr(ExhJwks) rotated = hs256_jwks(only_new, DEC_KEY);
	g_autofree gchar *claims = claims_for(NOW + 600, "\"" AUD "\"");
	g_autofree gchar *current = hs256_token(claims, SECRET);
	g_autofree gchar *previous = hs256_token(claims, PREVIOUS);
	g_autofree gchar *forged = hs256_token(claims, "guessed");
	g_autoptr(GError) error = NULL;

	g_assert_cmpuint(exh_jwks_get_n_keys(jwks), ==, 2);
	g_assert_true(accepted(jwks, current, NULL));
	g_assert_true(accepted(jwks, previous, NULL));
	g_assert_false(accepted(jwks, forged, &error));
	g_assert_error(error, EXH_ERROR, EXH_ERROR_IAM);
	/* two rotations later the oldest secret is gone */
	g_assert_true(accepted(rotated, current, NULL));
	g_assert_false(accepted(rotated, previous, NULL));
}

static void
test_claims(void)
{
	const gchar *keys[] = { SECRET, NULL };
	g_autoptr(ExhJwks) jwks = hs256_jwks(keys, DEC_KEY);
	struct {
		gint64 exp;
		const gchar *aud;
		gboolean ok;
	} cases[] = {
		{ NOW + 1, "\"" AUD "\"", TRUE },
		{ NOW - 10, "\"" AUD "\"", TRUE }, /* within the 30 s skew */
		{ NOW - 31, "\"" AUD "\"", FALSE },
		{ NOW + 600, "\"OtherClient\"", FALSE },
		{ NOW + 600, "[\"OtherClient\",\"" AUD "\"]", TRUE },
		{ NOW + 600, "[]", FALSE },
		{ NOW + 600, "7", FALSE },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *claims = claims_for(cases[i].exp, cases[i].aud);
		g_autofree gchar *token = hs256_token(claims, SECRET);

		g_test_message("case %u: exp %+" G_GINT64_FORMAT " aud %s",
			       i,
			       cases[i].exp - NOW,
			       cases[i].aud);
		g_assert_cmpint(accepted(jwks, token, NULL), ==, cases[i].ok);
	}
}

static void
test_malformed(void)
{
	const gchar *keys[] = { SECRET, NULL };
	g_autoptr(ExhJwks) jwks = hs256_jwks(keys, DEC_KEY);
	g_autofree gchar *claims = claims_for(NOW + 600, "\"" AUD "\"");
	g_autofree gchar *good = hs256_token(claims, SECRET);
	g_autofree gchar *none_input = signing_input("none", claims);
	g_autofree gchar *none = g_strconcat(none_input, ".", NULL);
	g_autofree gchar *padded = g_strconcat(good, "=", NULL);
	g_autofree gchar *four = g_strconcat(good, ".x", NULL);
	g_autofree gchar *no_exp = hs256_token("{\"aud\":\"" AUD "\"}", SECRET);
	g_autofree gchar *float_exp = hs256_token("{\"aud\":\"" AUD "\",\"exp\":1e12}", SECRET);
	g_autofree gchar *not_json = hs256_token("not json", SECRET);
	g_autofree gchar *huge = g_strnfill(EXH_JWT_MAX_LEN + 1, 'a');
	const gchar *bad[] = { "",     "abc",	  "a.b",    none, padded,      four,
			       no_exp, float_exp, not_json, huge, "e30.e30.AA" };

	g_assert_true(accepted(jwks, good, NULL));
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;

		g_test_message("bad token %u", i);
		g_assert_false(accepted(jwks, bad[i], &error));
		g_assert_error(error, EXH_ERROR, EXH_ERROR_IAM);
	}
}

static void
test_base64url(void)
{
	g_autoptr(GBytes) ok = exh_jwt_base64url_decode("aGk", 3, NULL);
	const gchar *bad[] = { "a", "aGk=", "aG+k", "aG/k", "aGl", "a b" };

	g_assert_nonnull(ok);
	g_assert_cmpmem(g_bytes_get_data(ok, NULL), g_bytes_get_size(ok), "hi", 2);
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		g_assert_null(exh_jwt_base64url_decode(bad[i], strlen(bad[i]), NULL));
}

static void
test_jwks_decryption(void)
{
	g_autofree gchar *k = aesgcm(SECRET, DEC_KEY);
	g_autofree gchar *json = g_strdup_printf("{\"algorithm\":\"HS256\",\"keys\":[{\"kty\":"
						 "\"oct\",\"alg\":\"HS256\",\"k\":\"%s\"}]}",
						 k);
	g_autofree gchar *key_b64 = b64url(DEC_KEY, 32);
	g_autoptr(GBytes) raw = exh_jwks_decryption_key(DEC_KEY, NULL);
	g_autoptr(GBytes) from_b64 = exh_jwks_decryption_key(key_b64, NULL);
	g_autoptr(GBytes) wrong = exh_jwks_decryption_key("ffffffffffffffffffffffffffffffff", NULL);
	g_autoptr(ExhJwks) with_b64 = exh_jwks_parse(json, strlen(json), from_b64, NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExhJwks) with_wrong = exh_jwks_parse(json, strlen(json), wrong, &error);
	const gchar *bad[] = {
		"[]",
		"{\"algorithm\":\"none\",\"keys\":[{}]}",
		"{\"algorithm\":\"HS256\",\"keys\":[]}",
		"{\"algorithm\":\"HS256\",\"keys\":[{\"k\":\"plain-secret\"}]}",
		"{\"algorithm\":\"HS256\",\"keys\":[7]}",
		"{\"algorithm\":\"RS256\",\"keys\":[{\"n\":\"AQAB\"}]}",
	};

	g_assert_nonnull(raw);
	g_assert_true(g_bytes_equal(raw, from_b64));
	g_assert_null(exh_jwks_decryption_key("short", NULL));
	g_assert_nonnull(with_b64);
	g_assert_null(with_wrong);
	g_assert_error(error, EXH_ERROR, EXH_ERROR_IAM);
	g_assert_null(strstr(error->message, SECRET));
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		g_assert_null(exh_jwks_parse(bad[i], strlen(bad[i]), raw, NULL));
}

static gchar *
bn_b64url(EVP_PKEY *pkey, const gchar *name)
{
	BIGNUM *bn = NULL;
	guint8 buf[1024];
	gint len;

	g_assert_cmpint(EVP_PKEY_get_bn_param(pkey, name, &bn), ==, 1);
	len = BN_bn2bin(bn, buf);
	BN_free(bn);
	return b64url(buf, len);
}

static gchar *
rs256_token(EVP_PKEY *pkey, const gchar *claims)
{
	g_autofree gchar *input = signing_input("RS256", claims);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	guint8 sig[1024];
	gsize sig_len = sizeof(sig);
	g_autofree gchar *s = NULL;

	g_assert_cmpint(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey), >, 0);
	g_assert_cmpint(EVP_DigestSign(md, sig, &sig_len, (guint8 *)input, strlen(input)), >, 0);
	EVP_MD_CTX_free(md);
	s = b64url(sig, sig_len);
	return g_strconcat(input, ".", s, NULL);
}

/* A 2048-bit key made by the openssl program, not in-process: under
 * valgrind, generating two in the test took most of its 45 s. */
static EVP_PKEY *
rsa_key(void)
{
	const gchar *argv[] = { "openssl", "genpkey",  "-algorithm",
				"RSA",	   "-pkeyopt", "rsa_keygen_bits:2048",
				NULL };
	g_autofree gchar *pem = NULL;
	g_autofree gchar *progress = NULL;
	EVP_PKEY *key = NULL;
	BIO *bio;

	g_assert_cmpint(exm_test_run(argv, &pem, &progress), ==, 0);
	if (pem == NULL)
		return NULL;
	bio = BIO_new_mem_buf(pem, -1);
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	g_assert_nonnull(key);
	return key;
}

static void
test_rs256(void)
{
	EVP_PKEY *current = rsa_key();
	EVP_PKEY *other = rsa_key();
	g_autofree gchar *n = bn_b64url(current, OSSL_PKEY_PARAM_RSA_N);
	g_autofree gchar *e = bn_b64url(current, OSSL_PKEY_PARAM_RSA_E);
	g_autofree gchar *json = g_strdup_printf("{\"algorithm\":\"RS256\",\"keys\":[{\"kty\":"
						 "\"RSA\",\"alg\":\"RS256\",\"n\":\"%s\","
						 "\"e\":\"%s\"}]}",
						 n,
						 e);
	g_autoptr(ExhJwks) jwks = exh_jwks_parse(json, strlen(json), NULL, NULL);
	g_autofree gchar *claims = claims_for(NOW + 600, "\"" AUD "\"");
	g_autofree gchar *good = rs256_token(current, claims);
	g_autofree gchar *forged = rs256_token(other, claims);
	g_autofree gchar *hs = hs256_token(claims, n); /* alg confusion: the public key as secret */

	g_assert_nonnull(jwks);
	g_assert_true(accepted(jwks, good, NULL));
	g_assert_false(accepted(jwks, forged, NULL));
	g_assert_false(accepted(jwks, hs, NULL));
	EVP_PKEY_free(current);
	EVP_PKEY_free(other);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/iam/jwt/hs256-current-and-previous", test_hs256);
	g_test_add_func("/iam/jwt/claims", test_claims);
	g_test_add_func("/iam/jwt/malformed", test_malformed);
	g_test_add_func("/iam/jwt/base64url", test_base64url);
	g_test_add_func("/iam/jwks/decryption", test_jwks_decryption);
	g_test_add_func("/iam/jwt/rs256", test_rs256);
	return g_test_run();
}
