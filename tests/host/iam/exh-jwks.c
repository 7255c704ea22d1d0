/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-jwks.h"

#include "exh-error.h"
#include "exm-json.h"
#include "exm-secret.h"

#include <openssl/evp.h>
#include <string.h>

#define GCM_NONCE_LEN 12
#define GCM_TAG_LEN   16
#define AES_KEY_LEN   32

typedef struct {
	gchar *kid;
	GBytes *secret; /* HS256 */
	GBytes *n;	/* RS256 */
	GBytes *e;
} JwksKey;

struct _ExhJwks {
	gboolean rs256;
	GPtrArray *keys; /* JwksKey, current first */
};

typedef struct {
	gpointer data;
	gsize len;
} SecretBuf;

static void
secret_buf_free(gpointer p)
{
	SecretBuf *buf = p;

	exm_secret_wipe(buf->data, buf->len);
	g_free(buf->data);
	g_free(buf);
}

/* Bytes that are wiped when the last reference goes; takes @data. */
static GBytes *
secret_bytes_take(gpointer data, gsize len)
{
	SecretBuf *buf = g_new(SecretBuf, 1);

	buf->data = data;
	buf->len = len;
	return g_bytes_new_with_free_func(data, len, secret_buf_free, buf);
}

static GBytes *
secret_bytes_copy(GBytes *bytes)
{
	gsize len;
	gconstpointer data = g_bytes_get_data(bytes, &len);

	return secret_bytes_take(g_memdup2(data, len), len);
}

static void
key_free(gpointer p)
{
	JwksKey *key = p;

	g_free(key->kid);
	g_clear_pointer(&key->secret, g_bytes_unref);
	g_clear_pointer(&key->n, g_bytes_unref);
	g_clear_pointer(&key->e, g_bytes_unref);
	g_free(key);
}

GBytes *
exh_jwks_decryption_key(const gchar *text, GError **error)
{
	g_autoptr(GBytes) decoded = NULL;

	if (text != NULL)
		decoded = exh_jwt_base64url_decode(text, strlen(text), NULL);
	if (decoded != NULL && g_bytes_get_size(decoded) == AES_KEY_LEN)
		return secret_bytes_copy(decoded);
	if (text != NULL && strlen(text) == AES_KEY_LEN)
		return secret_bytes_take(g_strdup(text), AES_KEY_LEN);
	g_set_error_literal(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "the JWKS decryption key must be 32 bytes (base64url or raw)");
	return NULL;
}

static gboolean
gcm_open(GBytes *key, GBytes *nonce, GBytes *sealed, guint8 *out, gint *out_len)
{
	gsize len = g_bytes_get_size(sealed);
	const guint8 *data = g_bytes_get_data(sealed, NULL);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	gint n = 0;
	gint fin = 0;
	gboolean ok;

	ok = ctx != NULL && len > GCM_TAG_LEN && g_bytes_get_size(nonce) == GCM_NONCE_LEN &&
	     EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) > 0 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE_LEN, NULL) > 0 &&
	     EVP_DecryptInit_ex(
		     ctx, NULL, NULL, g_bytes_get_data(key, NULL), g_bytes_get_data(nonce, NULL)) >
		     0 &&
	     EVP_DecryptUpdate(ctx, out, &n, data, (gint)(len - GCM_TAG_LEN)) > 0 &&
	     EVP_CIPHER_CTX_ctrl(
		     ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN, (gpointer)(data + len - GCM_TAG_LEN)) >
		     0 &&
	     EVP_DecryptFinal_ex(ctx, out + n, &fin) > 0;
	EVP_CIPHER_CTX_free(ctx);
	*out_len = n + fin;
	return ok;
}

/* "aesgcm:<b64url nonce>.<b64url ciphertext+tag>" → the HMAC secret. */
static GBytes *
decrypt_secret(const gchar *k, GBytes *key, GError **error)
{
	const gchar *body = g_str_has_prefix(k, "aesgcm:") ? k + strlen("aesgcm:") : NULL;
	const gchar *dot = body != NULL ? strchr(body, '.') : NULL;
	g_autoptr(GBytes) nonce = NULL;
	g_autoptr(GBytes) sealed = NULL;
	guint8 *out;
	gint out_len = 0;

	if (dot != NULL) {
		nonce = exh_jwt_base64url_decode(body, dot - body, NULL);
		sealed = exh_jwt_base64url_decode(dot + 1, strlen(dot + 1), NULL);
	}
	if (nonce == NULL || sealed == NULL || key == NULL) {
		g_set_error_literal(
			error, EXH_ERROR, EXH_ERROR_IAM, "an HS256 key is not an aesgcm: secret");
		return NULL;
	}
	out = g_malloc0(g_bytes_get_size(sealed));
	if (!gcm_open(key, nonce, sealed, out, &out_len) || out_len == 0) {
		exm_secret_wipe(out, g_bytes_get_size(sealed));
		g_free(out);
		g_set_error_literal(error,
				    EXH_ERROR,
				    EXH_ERROR_IAM,
				    "an HS256 key does not decrypt with the JWKS decryption key");
		return NULL;
	}
	return secret_bytes_take(out, (gsize)out_len);
}

static GBytes *
b64url_member(JsonObject *obj, const gchar *name)
{
	const gchar *text = NULL;

	if (!exm_json_get_string(obj, name, FALSE, &text, NULL, NULL) || text == NULL)
		return NULL;
	return exh_jwt_base64url_decode(text, strlen(text), NULL);
}

static JwksKey *
parse_key(JsonObject *obj, gboolean rs256, GBytes *dec, GError **error)
{
	JwksKey *key = g_new0(JwksKey, 1);
	const gchar *kid = NULL;
	const gchar *k = NULL;

	if (exm_json_get_string(obj, "kid", TRUE, &kid, NULL, NULL))
		key->kid = g_strdup(kid);
	if (rs256) {
		key->n = b64url_member(obj, "n");
		key->e = b64url_member(obj, "e");
		if (key->n != NULL && key->e != NULL)
			return key;
		g_set_error_literal(error, EXH_ERROR, EXH_ERROR_IAM, "an RS256 key lacks n or e");
	} else if (exm_json_get_string(obj, "k", FALSE, &k, NULL, NULL) && k != NULL) {
		key->secret = decrypt_secret(k, dec, error);
		if (key->secret != NULL)
			return key;
	} else {
		g_set_error_literal(error, EXH_ERROR, EXH_ERROR_IAM, "an HS256 key lacks k");
	}
	key_free(key);
	return NULL;
}

static gboolean
parse_algorithm(ExhJwks *jwks, JsonObject *root, GError **error)
{
	const gchar *alg = NULL;

	if (!exm_json_get_string(root, "algorithm", FALSE, &alg, NULL, NULL) || alg == NULL ||
	    (!g_str_equal(alg, "HS256") && !g_str_equal(alg, "RS256"))) {
		g_set_error_literal(error,
				    EXH_ERROR,
				    EXH_ERROR_IAM,
				    "the JWKS algorithm is not HS256 or RS256");
		return FALSE;
	}
	jwks->rs256 = g_str_equal(alg, "RS256");
	return TRUE;
}

ExhJwks *
exh_jwks_parse(const gchar *data, gsize len, GBytes *decryption_key, GError **error)
{
	g_autoptr(ExhJwks) jwks = g_new0(ExhJwks, 1);
	g_autoptr(JsonObject) root = exm_json_parse_object(data, len, NULL);
	JsonArray *keys = NULL;

	jwks->keys = g_ptr_array_new_with_free_func(key_free);
	if (root == NULL) {
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
		g_set_error_literal(
			error, EXH_ERROR, EXH_ERROR_IAM, "the JWKS is not a JSON object");
		return NULL;
	}
	if (!parse_algorithm(jwks, root, error))
		return NULL;
	if (!exm_json_get_array(root, "keys", &keys, NULL, NULL) || keys == NULL ||
	    json_array_get_length(keys) == 0) {
		g_set_error_literal(error, EXH_ERROR, EXH_ERROR_IAM, "the JWKS has no keys");
		return NULL;
	}
	for (guint i = 0; i < json_array_get_length(keys); i++) {
		JsonNode *node = json_array_get_element(keys, i);
		JwksKey *key;

		if (!JSON_NODE_HOLDS_OBJECT(node)) {
			g_set_error_literal(
				error, EXH_ERROR, EXH_ERROR_IAM, "a JWKS key is not an object");
			return NULL;
		}
		key = parse_key(json_node_get_object(node), jwks->rs256, decryption_key, error);
		if (key == NULL)
			return NULL;
		g_ptr_array_add(jwks->keys, key);
	}
	return g_steal_pointer(&jwks);
}

guint
exh_jwks_get_n_keys(const ExhJwks *jwks)
{
	return jwks->keys->len;
}

static gboolean
key_verifies(const JwksKey *key, const ExhJwt *jwt)
{
	if (key->secret != NULL)
		return exh_jwt_verify_hs256(jwt, key->secret);
	return exh_jwt_verify_rs256(jwt, key->n, key->e);
}

gboolean
exh_jwks_verify(const ExhJwks *jwks, const ExhJwt *jwt, gboolean *unknown_kid)
{
	gboolean named = FALSE;

	if (unknown_kid != NULL)
		*unknown_kid = FALSE;
	for (guint i = 0; jwt->kid != NULL && i < jwks->keys->len; i++) {
		const JwksKey *key = jwks->keys->pdata[i];

		if (g_strcmp0(key->kid, jwt->kid) == 0) {
			named = TRUE;
			if (key_verifies(key, jwt))
				return TRUE;
		}
	}
	if (unknown_kid != NULL)
		*unknown_kid = jwt->kid != NULL && !named;
	if (named)
		return FALSE;
	/* Core's keys carry no kid: the current one, then the previous one */
	for (guint i = 0; i < jwks->keys->len; i++) {
		if (key_verifies(jwks->keys->pdata[i], jwt))
			return TRUE;
	}
	return FALSE;
}

void
exh_jwks_free(ExhJwks *jwks)
{
	if (jwks == NULL)
		return;
	g_clear_pointer(&jwks->keys, g_ptr_array_unref);
	g_free(jwks);
}
