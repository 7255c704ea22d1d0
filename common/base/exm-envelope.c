/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * ChaCha20-Poly1305 envelope of the agent protocol (docs/agent-protocol.md §6) on
 * OpenSSL's EVP interface.
 */
#include "exm-envelope.h"

#include "exm-cleanup.h"
#include "exm-error.h"

#include <limits.h>
#include <openssl/rand.h>
#include <string.h>

#define EXM_ENVELOPE_KEY_B64_LEN 44

/* Standard alphabet only, exact length: g_base64_decode() skips anything it
 * does not know, which would let a damaged key file decode to a wrong key. */
static gboolean
b64_ok(const gchar *text, gsize len, gsize pad)
{
	for (gsize i = 0; i < len; i++) {
		gchar c = text[i];
		if (i >= len - pad) {
			if (c != '=')
				return FALSE;
		} else if (!g_ascii_isalnum(c) && c != '+' && c != '/') {
			return FALSE;
		}
	}
	return TRUE;
}

/* Decodes exactly @out_len bytes from @text[0..len) or fails. */
static gboolean
b64_decode(const gchar *text, gsize len, gsize pad, guint8 *out, gsize out_len)
{
	gchar buf[64];
	gint state = 0;
	guint save = 0;
	guint8 tmp[48];
	gsize n;

	if (len >= sizeof(buf) || !b64_ok(text, len, pad))
		return FALSE;
	memcpy(buf, text, len);
	buf[len] = '\0';
	n = g_base64_decode_step(buf, len, tmp, &state, &save);
	exm_secret_wipe(buf, sizeof(buf));
	if (n != out_len) {
		exm_secret_wipe(tmp, sizeof(tmp));
		return FALSE;
	}
	memcpy(out, tmp, out_len);
	exm_secret_wipe(tmp, sizeof(tmp));
	return TRUE;
}

/**
 * exm_envelope_key_from_base64:
 * @text: standard base64 of 32 bytes, trailing whitespace ignored
 * @key: (out caller-allocates): the raw key
 * @error: %EXM_ERROR_PARSE
 *
 * Returns: %TRUE on success
 */
gboolean
exm_envelope_key_from_base64(const gchar *text, guint8 key[EXM_ENVELOPE_KEY_LEN], GError **error)
{
	gsize len = text != NULL ? strlen(text) : 0;

	while (len > 0 && g_ascii_isspace(text[len - 1]))
		len--;
	if (len != EXM_ENVELOPE_KEY_B64_LEN ||
	    !b64_decode(text, len, 1, key, EXM_ENVELOPE_KEY_LEN)) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_PARSE,
				    "encryption key is not base64 of 32 bytes (44 characters)");
		return FALSE;
	}
	return TRUE;
}

/**
 * exm_envelope_nonce_new:
 * @nonce: (out caller-allocates): 12 fresh random bytes
 * @error: %EXM_ERROR_FAILED
 *
 * Returns: %TRUE on success
 */
gboolean
exm_envelope_nonce_new(guint8 nonce[EXM_ENVELOPE_NONCE_LEN], GError **error)
{
	if (RAND_bytes(nonce, EXM_ENVELOPE_NONCE_LEN) != 1) {
		g_set_error_literal(
			error, EXM_ERROR, EXM_ERROR_FAILED, "random nonce: rand_bytes failed");
		return FALSE;
	}
	return TRUE;
}

/**
 * exm_envelope_nonce_to_base64:
 * @nonce: 12 bytes
 *
 * Returns: (transfer full): 16 base64 characters
 */
gchar *
exm_envelope_nonce_to_base64(const guint8 nonce[EXM_ENVELOPE_NONCE_LEN])
{
	return g_base64_encode(nonce, EXM_ENVELOPE_NONCE_LEN);
}

/**
 * exm_envelope_nonce_from_base64:
 * @text: 16 base64 characters
 * @nonce: (out caller-allocates): 12 bytes
 * @error: %EXM_ERROR_PARSE
 *
 * Returns: %TRUE on success
 */
gboolean
exm_envelope_nonce_from_base64(const gchar *text,
			       guint8 nonce[EXM_ENVELOPE_NONCE_LEN],
			       GError **error)
{
	if (text == NULL || strlen(text) != EXM_ENVELOPE_NONCE_B64_LEN ||
	    !b64_decode(text, EXM_ENVELOPE_NONCE_B64_LEN, 0, nonce, EXM_ENVELOPE_NONCE_LEN)) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_PARSE,
				    "nonce is not base64 of 12 bytes (16 characters)");
		return FALSE;
	}
	return TRUE;
}

static gboolean
ssl_failed(const gchar *what, GError **error)
{
	g_set_error(error, EXM_ERROR, EXM_ERROR_FAILED, "chacha20-poly1305: %s failed", what);
	return FALSE;
}

static EVP_CIPHER_CTX *
envelope_ctx(const guint8 *key, const guint8 *nonce, gboolean enc, GError **error)
{
	g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new();

	if (ctx == NULL ||
	    EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, EXM_ENVELOPE_NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1) {
		ssl_failed("init", error);
		return NULL;
	}
	return g_steal_pointer(&ctx);
}

/**
 * exm_envelope_encrypt:
 * @key: 32-byte key
 * @nonce: 12-byte nonce
 * @plain: (nullable): plaintext
 * @len: its length
 * @error: %EXM_ERROR_FAILED
 *
 * Returns: (transfer full): ciphertext ‖ tag
 */
GBytes *
exm_envelope_encrypt(const guint8 key[EXM_ENVELOPE_KEY_LEN],
		     const guint8 nonce[EXM_ENVELOPE_NONCE_LEN],
		     gconstpointer plain,
		     gsize len,
		     GError **error)
{
	g_autoptr(EVP_CIPHER_CTX) ctx = NULL;
	g_autofree guint8 *out = NULL;
	int n = 0;
	int fin = 0;

	g_return_val_if_fail(plain != NULL || len == 0, NULL);
	if (len > INT_MAX - EXM_ENVELOPE_TAG_LEN) {
		g_set_error_literal(
			error, EXM_ERROR, EXM_ERROR_FAILED, "chacha20-poly1305: message too large");
		return NULL;
	}
	ctx = envelope_ctx(key, nonce, 1, error);
	if (ctx == NULL)
		return NULL;
	out = g_malloc(len + EXM_ENVELOPE_TAG_LEN);
	if ((len > 0 && EVP_EncryptUpdate(ctx, out, &n, plain, (int)len) != 1) ||
	    EVP_EncryptFinal_ex(ctx, out + n, &fin) != 1 || (gsize)n + (gsize)fin != len ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, EXM_ENVELOPE_TAG_LEN, out + len) != 1) {
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autofree frees it
		ssl_failed("encrypt", error);
		return NULL;
	}
	return g_bytes_new_take(g_steal_pointer(&out), len + EXM_ENVELOPE_TAG_LEN);
}

/* Decrypts ciphertext ‖ tag (@in[@len], at least a tag long) into @out
 * (@in itself or room for @len - tag bytes); %FALSE when it does not
 * authenticate, @out then holding unauthenticated bytes to wipe. */
static gboolean
envelope_decrypt_into(const guint8 key[EXM_ENVELOPE_KEY_LEN],
		      const guint8 nonce[EXM_ENVELOPE_NONCE_LEN],
		      const guint8 *in,
		      gsize len,
		      guint8 *out,
		      GError **error)
{
	g_autoptr(EVP_CIPHER_CTX) ctx = NULL;
	guint8 tag[EXM_ENVELOPE_TAG_LEN];
	gsize clen = len - EXM_ENVELOPE_TAG_LEN;
	int n = 0;
	int fin = 0;

	ctx = envelope_ctx(key, nonce, 0, error);
	if (ctx == NULL)
		return FALSE;
	/* the tag first: an in-place decryption writes over nothing past clen,
	 * but the tag is read after it */
	memcpy(tag, in + clen, EXM_ENVELOPE_TAG_LEN);
	if ((clen > 0 && EVP_DecryptUpdate(ctx, out, &n, in, (int)clen) != 1) ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, EXM_ENVELOPE_TAG_LEN, tag) != 1 ||
	    EVP_DecryptFinal_ex(ctx, out + n, &fin) != 1 || (gsize)n + (gsize)fin != clen) {
		g_set_error_literal(
			error,
			EXM_ERROR,
			EXM_ERROR_PARSE_BODY,
			"encrypted body does not authenticate (wrong key, nonce or tampered)");
		return FALSE;
	}
	return TRUE;
}

static gboolean
envelope_long_enough(gconstpointer wire, gsize len, GError **error)
{
	if (wire != NULL && len >= EXM_ENVELOPE_TAG_LEN && len <= INT_MAX)
		return TRUE;
	g_set_error_literal(
		error, EXM_ERROR, EXM_ERROR_PARSE_BODY, "encrypted body is shorter than its tag");
	return FALSE;
}

/**
 * exm_envelope_decrypt:
 * @key: 32-byte key
 * @nonce: 12-byte nonce
 * @wire: ciphertext ‖ tag
 * @len: its length
 * @error: %EXM_ERROR_PARSE_BODY or %EXM_ERROR_FAILED
 *
 * Returns: (transfer full): the plaintext
 */
GBytes *
exm_envelope_decrypt(const guint8 key[EXM_ENVELOPE_KEY_LEN],
		     const guint8 nonce[EXM_ENVELOPE_NONCE_LEN],
		     gconstpointer wire,
		     gsize len,
		     GError **error)
{
	gsize clen;
	guint8 *out;

	if (!envelope_long_enough(wire, len, error))
		return NULL;
	clen = len - EXM_ENVELOPE_TAG_LEN;
	out = g_malloc(clen + 1);
	if (!envelope_decrypt_into(key, nonce, wire, len, out, error)) {
		/* Unauthenticated plaintext must not survive in freed memory either. */
		exm_secret_wipe(out, clen + 1);
		g_free(out);
		return NULL;
	}
	out[clen] = '\0';
	return g_bytes_new_take(out, clen);
}

/**
 * exm_envelope_seal:
 * @key: 32-byte key
 * @plain: (nullable): plaintext
 * @len: its length
 * @nonce_b64: (out) (transfer full): the fresh nonce, base64
 * @error: %EXM_ERROR_FAILED
 *
 * Returns: (transfer full): the body
 */
GBytes *
exm_envelope_seal(const guint8 key[EXM_ENVELOPE_KEY_LEN],
		  gconstpointer plain,
		  gsize len,
		  gchar **nonce_b64,
		  GError **error)
{
	guint8 nonce[EXM_ENVELOPE_NONCE_LEN];
	GBytes *body;

	g_return_val_if_fail(nonce_b64 != NULL, NULL);
	if (!exm_envelope_nonce_new(nonce, error))
		return NULL;
	body = exm_envelope_encrypt(key, nonce, plain, len, error);
	if (body != NULL)
		*nonce_b64 = exm_envelope_nonce_to_base64(nonce);
	return body;
}

/**
 * exm_envelope_open:
 * @key: 32-byte key
 * @nonce_b64: the received nonce header
 * @wire: the received body
 * @len: its length
 * @error: %EXM_ERROR_PARSE or %EXM_ERROR_PARSE_BODY
 *
 * Returns: (transfer full): the plaintext
 */
GBytes *
exm_envelope_open(const guint8 key[EXM_ENVELOPE_KEY_LEN],
		  const gchar *nonce_b64,
		  gconstpointer wire,
		  gsize len,
		  GError **error)
{
	guint8 nonce[EXM_ENVELOPE_NONCE_LEN];

	if (!exm_envelope_nonce_from_base64(nonce_b64, nonce, error))
		return NULL;
	return exm_envelope_decrypt(key, nonce, wire, len, error);
}

/**
 * exm_envelope_open_in_place:
 * @key: 32-byte key
 * @nonce_b64: the received `X-Genesis-Nonce` header value
 * @wire: (array length=len): the received body, decrypted where it lies
 * @len: its length
 * @plain_len: (out): the plaintext's length
 * @error: as exm_envelope_open()
 *
 * See exm-envelope.h.
 *
 * Returns: %TRUE when @wire now begins with the authentic plaintext
 */
gboolean
exm_envelope_open_in_place(const guint8 key[EXM_ENVELOPE_KEY_LEN],
			   const gchar *nonce_b64,
			   guint8 *wire,
			   gsize len,
			   gsize *plain_len,
			   GError **error)
{
	guint8 nonce[EXM_ENVELOPE_NONCE_LEN];

	*plain_len = 0;
	if (!exm_envelope_nonce_from_base64(nonce_b64, nonce, error) ||
	    !envelope_long_enough(wire, len, error))
		return FALSE;
	if (!envelope_decrypt_into(key, nonce, wire, len, wire, error)) {
		/* neither the unauthenticated plaintext nor the rest is kept */
		exm_secret_wipe(wire, len);
		return FALSE;
	}
	*plain_len = len - EXM_ENVELOPE_TAG_LEN;
	wire[*plain_len] = '\0';
	return TRUE;
}
