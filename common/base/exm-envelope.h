/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The transport envelope of the universal agent protocol
 * (docs/agent-protocol.md §6): ChaCha20-Poly1305 (IETF, RFC 8439) with the
 * node's 32-byte key, a fresh 12-byte nonce per message sent base64-encoded in
 * the `X-Genesis-Nonce` header, no associated data, and a body that is the
 * ciphertext followed by the 16-byte tag (Python `cryptography`'s
 * ChaCha20Poly1305.encrypt()).  Keys are used as given: there is no key
 * derivation in the protocol, the stored base64 text decodes to the key itself.
 *
 * Framing notes (§6.3, §6.5): a request without a body is sent as the
 * encryption of the JSON literal `null` (what the Python client does); a 204
 * response carries the encrypted headers but an empty body and must be taken
 * as success without calling exm_envelope_open(); error responses (4xx/5xx)
 * are plain JSON, so the receiver decides by Content-Type before decrypting.
 * Keys: the text is held to exactly 44 base64 characters (plus trailing
 * whitespace); Python's non-validating b64decode would also skip stray
 * characters inside, which here is an error rather than a silently wrong key.
 *
 * Errors are in %EXM_ERROR: %EXM_ERROR_PARSE for a malformed key or nonce
 * text, %EXM_ERROR_PARSE_BODY for a body that is too short or fails
 * authentication (tampered, wrong key or nonce), %EXM_ERROR_FAILED when
 * OpenSSL itself fails.
 */
#pragma once

#include <glib.h>

#define EXM_ENVELOPE_KEY_LEN   32
#define EXM_ENVELOPE_NONCE_LEN 12
#define EXM_ENVELOPE_TAG_LEN   16
/* base64 of a 12-byte nonce: always 16 characters, never padded */
#define EXM_ENVELOPE_NONCE_B64_LEN 16

#define EXM_ENVELOPE_CONTENT_TYPE     "application/x-genesis-agent-chacha20-poly1305-encrypted"
#define EXM_ENVELOPE_HEADER_NONCE     "X-Genesis-Nonce"
#define EXM_ENVELOPE_HEADER_NODE_UUID "X-Genesis-Node-UUID"

/**
 * exm_envelope_key_from_base64:
 * @text: the key file's content or the `private_key` column: standard base64 of
 *   32 bytes (44 characters); trailing whitespace (a final newline) is ignored
 * @key: (out caller-allocates): the raw key; wipe it with exm_secret_wipe() after use
 * @error: %EXM_ERROR_PARSE when @text is not base64 of exactly 32 bytes
 *
 * Returns: %TRUE on success
 */
gboolean exm_envelope_key_from_base64(const gchar *text,
				      guint8 key[EXM_ENVELOPE_KEY_LEN],
				      GError **error);

/**
 * exm_envelope_nonce_new:
 * @nonce: (out caller-allocates): 12 fresh random bytes (OpenSSL RAND_bytes)
 * @error: %EXM_ERROR_FAILED when the random generator fails
 *
 * Returns: %TRUE on success
 */
gboolean exm_envelope_nonce_new(guint8 nonce[EXM_ENVELOPE_NONCE_LEN], GError **error);

/**
 * exm_envelope_nonce_to_base64:
 * @nonce: 12 bytes
 *
 * Returns: (transfer full): the `X-Genesis-Nonce` header value (16 characters)
 */
gchar *exm_envelope_nonce_to_base64(const guint8 nonce[EXM_ENVELOPE_NONCE_LEN]);

/**
 * exm_envelope_nonce_from_base64:
 * @text: an `X-Genesis-Nonce` header value
 * @nonce: (out caller-allocates): the 12 bytes
 * @error: %EXM_ERROR_PARSE unless @text is exactly 16 base64 characters
 *
 * Returns: %TRUE on success
 */
gboolean exm_envelope_nonce_from_base64(const gchar *text,
					guint8 nonce[EXM_ENVELOPE_NONCE_LEN],
					GError **error);

/**
 * exm_envelope_encrypt:
 * @key: 32-byte key
 * @nonce: 12-byte nonce, never reused with the same key
 * @plain: (array length=len) (nullable): plaintext (the JSON text)
 * @len: its length
 * @error: %EXM_ERROR_FAILED on an OpenSSL failure
 *
 * Returns: (transfer full): ciphertext ‖ tag, @len + 16 bytes
 */
GBytes *exm_envelope_encrypt(const guint8 key[EXM_ENVELOPE_KEY_LEN],
			     const guint8 nonce[EXM_ENVELOPE_NONCE_LEN],
			     gconstpointer plain,
			     gsize len,
			     GError **error);

/**
 * exm_envelope_decrypt:
 * @key: 32-byte key
 * @nonce: the message's 12-byte nonce
 * @wire: (array length=len): ciphertext ‖ tag
 * @len: its length
 * @error: %EXM_ERROR_PARSE_BODY when @wire is shorter than the tag or does not
 *   authenticate
 *
 * Nothing of an unauthenticated plaintext is ever returned.
 *
 * Returns: (transfer full): the plaintext (NUL-terminated beyond its size, so a
 *   JSON text can be handed on as a string)
 */
GBytes *exm_envelope_decrypt(const guint8 key[EXM_ENVELOPE_KEY_LEN],
			     const guint8 nonce[EXM_ENVELOPE_NONCE_LEN],
			     gconstpointer wire,
			     gsize len,
			     GError **error);

/**
 * exm_envelope_seal:
 * @key: 32-byte key
 * @plain: (array length=len) (nullable): plaintext
 * @len: its length
 * @nonce_b64: (out) (transfer full): the fresh nonce for the `X-Genesis-Nonce` header
 * @error: %EXM_ERROR_FAILED
 *
 * exm_envelope_nonce_new() + exm_envelope_encrypt(): what a sender does per message.
 *
 * Returns: (transfer full): the body
 */
GBytes *exm_envelope_seal(const guint8 key[EXM_ENVELOPE_KEY_LEN],
			  gconstpointer plain,
			  gsize len,
			  gchar **nonce_b64,
			  GError **error);

/**
 * exm_envelope_open:
 * @key: 32-byte key
 * @nonce_b64: the received `X-Genesis-Nonce` header value
 * @wire: (array length=len): the received body
 * @len: its length
 * @error: %EXM_ERROR_PARSE (bad nonce) or %EXM_ERROR_PARSE_BODY (bad body)
 *
 * Returns: (transfer full): the plaintext, as exm_envelope_decrypt()
 */
GBytes *exm_envelope_open(const guint8 key[EXM_ENVELOPE_KEY_LEN],
			  const gchar *nonce_b64,
			  gconstpointer wire,
			  gsize len,
			  GError **error);

/**
 * exm_envelope_open_in_place:
 * @key: 32-byte key
 * @nonce_b64: the received `X-Genesis-Nonce` header value
 * @wire: (array length=len): the received body
 * @len: its length
 * @plain_len: (out): the plaintext's length
 * @error: as exm_envelope_open()
 *
 * exm_envelope_open() without a second buffer: the plaintext is written over
 * the ciphertext (a stream cipher: byte for byte) and NUL-terminated where
 * the tag began, so an answer of 28 MB is held once, not twice.  When it
 * does not authenticate, the whole of @wire is wiped.
 *
 * Returns: %TRUE when @wire now begins with the authentic plaintext
 */
gboolean exm_envelope_open_in_place(const guint8 key[EXM_ENVELOPE_KEY_LEN],
				    const gchar *nonce_b64,
				    guint8 *wire,
				    gsize len,
				    gsize *plain_len,
				    GError **error);
