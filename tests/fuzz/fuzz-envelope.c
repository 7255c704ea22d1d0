/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzz target: exm_envelope_open, the agent protocol's ChaCha20-Poly1305
 * envelope (common/base/exm-envelope.h) as a receiver meets it: an `X-Genesis-Nonce`
 * header and a body, both from the network.
 *
 * Input: the first 16 bytes are the nonce header's text, the rest the body.
 * The key is fixed: bytes 0, 1, …, 31.  The seed corpus holds the messages
 * sealed by Python's `cryptography` (tests/fuzz/corpus/envelope/, see
 * README there) for the plaintexts below under nonces 0x01…, 0x02…, 0x03….
 *
 * Properties: a refusal is EXM_ERROR_PARSE (nonce) or EXM_ERROR_PARSE_BODY
 * (body); whatever opens is one of the sealed messages, byte for byte (the
 * mutation loop never forges one) and encrypting its plaintext again under its
 * nonce gives the body back; each of those messages with one input-chosen byte
 * of nonce or body changed never opens.
 */
#include <string.h>

#include "exm-envelope.h"
#include "exm-error.h"
#include "fuzz-common.h"

static const gchar *const plaintexts[] = { "null", "{\"hash\":\"\",\"version\":0}", "" };

typedef struct {
	guint8 nonce[EXM_ENVELOPE_NONCE_LEN];
	GBytes *wire;
} Sealed;

static guint8 key[EXM_ENVELOPE_KEY_LEN];
static Sealed sealed[G_N_ELEMENTS(plaintexts)];

static void
init_sealed(void)
{
	for (guint i = 0; i < EXM_ENVELOPE_KEY_LEN; i++)
		key[i] = (guint8)i;
	for (guint k = 0; k < G_N_ELEMENTS(plaintexts); k++) {
		g_autoptr(GError) error = NULL;

		memset(sealed[k].nonce, (int)k + 1, EXM_ENVELOPE_NONCE_LEN);
		sealed[k].wire = exm_envelope_encrypt(
			key, sealed[k].nonce, plaintexts[k], strlen(plaintexts[k]), &error);
		EXM_FUZZ_CHECK(sealed[k].wire != NULL, "cannot seal: %s", error->message);
	}
}

static gboolean
is_sealed(const guint8 *nonce, const guint8 *wire, gsize len)
{
	for (guint k = 0; k < G_N_ELEMENTS(sealed); k++) {
		gsize n = 0;
		const guint8 *w = g_bytes_get_data(sealed[k].wire, &n);

		if (memcmp(nonce, sealed[k].nonce, EXM_ENVELOPE_NONCE_LEN) == 0 && n == len &&
		    memcmp(w, wire, len) == 0)
			return TRUE;
	}
	return FALSE;
}

static void
check_opened(const gchar *nonce_b64, const guint8 *wire, gsize len, GBytes *plain)
{
	guint8 nonce[EXM_ENVELOPE_NONCE_LEN];
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) again = NULL;
	gsize plain_len = 0;
	gconstpointer p = g_bytes_get_data(plain, &plain_len);

	EXM_FUZZ_CHECK(exm_envelope_nonce_from_base64(nonce_b64, nonce, &error),
		       "opened with a nonce it cannot decode");
	EXM_FUZZ_CHECK(is_sealed(nonce, wire, len), "opened a message nobody sealed");
	again = exm_envelope_encrypt(key, nonce, p, plain_len, &error);
	EXM_FUZZ_CHECK(again != NULL && g_bytes_get_size(again) == len &&
			       memcmp(g_bytes_get_data(again, NULL), wire, len) == 0,
		       "the plaintext does not seal to the body");
}

/* exm_envelope_open_in_place() on a copy of @wire agrees with
 * exm_envelope_open() (@plain, %NULL when it refused): the same plaintext,
 * or a refusal, the copy then all zeros when it did not authenticate. */
static void
check_in_place(const gchar *nonce_b64, const guint8 *wire, gsize len, GBytes *plain)
{
	g_autofree guint8 *copy = g_malloc(len + 1);
	guint8 nonce[EXM_ENVELOPE_NONCE_LEN];
	gsize plain_len = 1;
	gboolean ok;

	memcpy(copy, wire, len);
	ok = exm_envelope_open_in_place(key, nonce_b64, copy, len, &plain_len, NULL);
	EXM_FUZZ_CHECK(ok == (plain != NULL),
		       "in place %s where a copy did not",
		       ok ? "opens" : "refuses");
	if (plain != NULL) {
		EXM_FUZZ_CHECK(plain_len == g_bytes_get_size(plain) &&
				       memcmp(copy, g_bytes_get_data(plain, NULL), plain_len) ==
					       0 &&
				       copy[plain_len] == '\0',
			       "in place, another plaintext");
		return;
	}
	EXM_FUZZ_CHECK(plain_len == 0, "a refusal with a length");
	/* a body that was decrypted (a valid nonce, a tag's length) is wiped */
	if (len < EXM_ENVELOPE_TAG_LEN || !exm_envelope_nonce_from_base64(nonce_b64, nonce, NULL))
		return;
	for (gsize i = 0; i < len; i++)
		EXM_FUZZ_CHECK(copy[i] == 0, "a refused body left unwiped at %zu", i);
}

/* One byte of sealed message @k, chosen by @data, changed: it must not open. */
static void
check_tampered(guint k, const uint8_t *data, size_t size)
{
	gsize len = 0;
	const guint8 *w = g_bytes_get_data(sealed[k].wire, &len);
	g_autofree guint8 *wire = g_memdup2(w, len);
	guint8 nonce[EXM_ENVELOPE_NONCE_LEN];
	g_autofree gchar *nonce_b64 = NULL;
	guint32 where = size >= 4 ? data[0] | data[1] << 8 | (guint32)data[2] << 16 : size;
	guint8 delta = size > 0 && data[size - 1] != 0 ? data[size - 1] : 0x80;
	g_autoptr(GBytes) plain = NULL;

	memcpy(nonce, sealed[k].nonce, sizeof nonce);
	where %= (guint32)(len + EXM_ENVELOPE_NONCE_LEN);
	if (where < len)
		wire[where] ^= delta;
	else
		nonce[where - len] ^= delta;
	nonce_b64 = exm_envelope_nonce_to_base64(nonce);
	plain = exm_envelope_open(key, nonce_b64, wire, len, NULL);
	EXM_FUZZ_CHECK(
		plain == NULL, "message %u opens with byte %u changed by 0x%02x", k, where, delta);
	check_in_place(nonce_b64, wire, len, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static gsize once = 0;
	g_autofree gchar *nonce_b64 = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) plain = NULL;
	const guint8 *wire;
	gsize len;

	exm_fuzz_begin(data, size);
	if (g_once_init_enter(&once)) {
		init_sealed();
		g_once_init_leave(&once, 1);
	}
	check_tampered(size % G_N_ELEMENTS(sealed), data, size);

	nonce_b64 = exm_fuzz_strndup(data, MIN(size, EXM_ENVELOPE_NONCE_B64_LEN));
	wire = size > EXM_ENVELOPE_NONCE_B64_LEN ? data + EXM_ENVELOPE_NONCE_B64_LEN : NULL;
	len = size > EXM_ENVELOPE_NONCE_B64_LEN ? size - EXM_ENVELOPE_NONCE_B64_LEN : 0;
	plain = exm_envelope_open(
		key, nonce_b64, wire != NULL ? (gconstpointer)wire : "", len, &error);
	check_in_place(nonce_b64, wire != NULL ? wire : (const guint8 *)"", len, plain);
	if (plain == NULL) {
		EXM_FUZZ_CHECK(g_error_matches(error, EXM_ERROR, EXM_ERROR_PARSE) ||
				       g_error_matches(error, EXM_ERROR, EXM_ERROR_PARSE_BODY),
			       "refusal of another kind: %s",
			       error->message);
		return 0;
	}
	check_opened(nonce_b64, wire != NULL ? wire : (const guint8 *)"", len, plain);
	exm_fuzz_accepted();
	return 0;
}
