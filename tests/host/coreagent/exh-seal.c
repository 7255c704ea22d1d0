/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * AES-256-GCM seals of the EM path (OpenSSL EVP): a fresh 12-byte nonce per
 * seal, the resource as associated data, a 16-byte tag.
 */
#include "exh-seal.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "exm-error.h"
#include "exm-secret.h"

#define SEAL_KEY_LEN   32
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN   16
#define SEAL_PREFIX    "v1."

struct _ExhSealKey {
	guint8 key[SEAL_KEY_LEN];
};

G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)

ExhSealKey *
exh_seal_key_new_from_bytes(const guint8 *key)
{
	ExhSealKey *k = g_new0(ExhSealKey, 1);

	memcpy(k->key, key, SEAL_KEY_LEN);
	return k;
}

ExhSealKey *
exh_seal_key_load(const gchar *path, GError **error)
{
	g_autoptr(ExmSecret) text = exm_secret_read_file(path, error);
	guchar *raw = NULL;
	gsize len = 0;
	ExhSealKey *key = NULL;

	if (text == NULL)
		return NULL;
	g_strstrip(text);
	if (strlen(text) == 44)
		raw = g_base64_decode(text, &len);
	if (len == SEAL_KEY_LEN)
		key = exh_seal_key_new_from_bytes(raw);
	else
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_FAILED,
			    "%s: the seal key must be 44 base64 characters (32 bytes)",
			    path);
	exm_secret_wipe(raw, len);
	g_free(raw);
	return key;
}

void
exh_seal_key_free(ExhSealKey *key)
{
	if (key == NULL)
		return;
	exm_secret_wipe(key, sizeof(*key));
	g_free(key);
}

static EVP_CIPHER_CTX *
seal_ctx(const ExhSealKey *key, const guint8 *nonce, const gchar *bound, gboolean enc)
{
	g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new();
	int n = 0;

	if (ctx == NULL ||
	    EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc ? 1 : 0) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key->key, nonce, enc ? 1 : 0) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &n, (const guint8 *)bound, (int)strlen(bound)) != 1)
		return NULL;
	return g_steal_pointer(&ctx);
}

gchar *
exh_seal_close(const ExhSealKey *key, const gchar *bound, const gchar *plain)
{
	gsize len = strlen(plain);
	gsize total = SEAL_NONCE_LEN + len + SEAL_TAG_LEN;
	g_autofree guint8 *buf = g_malloc0(total);
	g_autoptr(EVP_CIPHER_CTX) ctx = NULL;
	g_autofree gchar *b64 = NULL;
	int n = 0;
	int fin = 0;

	if (RAND_bytes(buf, SEAL_NONCE_LEN) != 1)
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autofree frees buf
		return NULL;
	ctx = seal_ctx(key, buf, bound, TRUE);
	if (ctx == NULL ||
	    (len > 0 &&
	     EVP_EncryptUpdate(ctx, buf + SEAL_NONCE_LEN, &n, (const guint8 *)plain, (int)len) !=
		     1) ||
	    EVP_EncryptFinal_ex(ctx, buf + SEAL_NONCE_LEN + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(
		    ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, buf + SEAL_NONCE_LEN + len) != 1)
		return NULL;
	b64 = g_base64_encode(buf, total);
	return g_strconcat(SEAL_PREFIX, b64, NULL);
}

static gchar *
seal_refuse(GError **error)
{
	g_set_error_literal(
		error, EXM_ERROR, EXM_ERROR_FAILED, "the seal does not open with this key here");
	return NULL;
}

gchar *
exh_seal_open(const ExhSealKey *key, const gchar *bound, const gchar *sealed, GError **error)
{
	g_autofree guint8 *buf = NULL;
	g_autoptr(EVP_CIPHER_CTX) ctx = NULL;
	gsize total = 0;
	gsize len;
	gchar *plain;
	int n = 0;
	int fin = 0;

	if (sealed == NULL || !g_str_has_prefix(sealed, SEAL_PREFIX))
		return seal_refuse(error);
	buf = g_base64_decode(sealed + strlen(SEAL_PREFIX), &total);
	if (total < SEAL_NONCE_LEN + SEAL_TAG_LEN)
		return seal_refuse(error);
	len = total - SEAL_NONCE_LEN - SEAL_TAG_LEN;
	plain = g_malloc0(len + 1);
	ctx = seal_ctx(key, buf, bound, FALSE);
	if (ctx == NULL ||
	    (len > 0 &&
	     EVP_DecryptUpdate(ctx, (guint8 *)plain, &n, buf + SEAL_NONCE_LEN, (int)len) != 1) ||
	    EVP_CIPHER_CTX_ctrl(
		    ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, buf + SEAL_NONCE_LEN + len) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (guint8 *)plain + n, &fin) != 1 ||
	    memchr(plain, '\0', len) != NULL) {
		exm_secret_wipe(plain, len);
		g_free(plain);
		return seal_refuse(error);
	}
	return plain;
}
