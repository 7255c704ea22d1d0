/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The agent transport envelope (docs/agent-protocol.md §6).  Vectors: the two
 * of §6.2, plus more computed with Python `cryptography`'s ChaCha20Poly1305.
 */
#include "exm-envelope.h"

#include "exm-base.h"
#include "exm-test.h"

#include <string.h>

static const gchar *const key_b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
static const gchar *const nonce_b64 = "AAECAwQFBgcICQoL";

typedef struct {
	const gchar *plain;
	const gchar *wire_hex;
} Vector;

static const Vector vectors[] = {
	/* §6.2 */
	{ "null", "e78e646c4d29c6ea743585f92471db1b75115743" },
	{ "{\"a\":1}", "f2d969221326d89c01e7f85857d0383a344085b9aec3bb" },
	/* Python cryptography, same key and nonce */
	{ "", "295a498b8841a1c5f55d4d606f731159" },
	{ "{\"name\":\"caf\xc3\xa9\",\"quota_bytes\":9223372036854775807,\"pad\":\""
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxx\"}",
	  "f2d966614472877a95e05e955bb42c4feb01c7882515f2db9fe34ab657fa9f0edeb31fc4d42e82ae0f0742"
	  "ef52a1b71349a88b049c4c9aa130c0a17fe837e6ae0100c4b59d6c5491bc6e35c46004a489a2a63f4a1712"
	  "8846762f8876a0057ac735a6148b8fa15f8cc9238bcfdae9cff891172e40f125388037154ca70147c73ed9"
	  "1ebbc5d14ba714316b070254441342cc09ff0a7317b4264a99df49dc39dda8a56b7f0ea408228247a79617"
	  "3cae20" },
};

static gchar *
hex_of(GBytes *bytes)
{
	gsize len = 0;
	const guint8 *p = g_bytes_get_data(bytes, &len);
	GString *s = g_string_new(NULL);

	for (gsize i = 0; i < len; i++)
		g_string_append_printf(s, "%02x", p[i]);
	return g_string_free(s, FALSE);
}

static GBytes *
bytes_of_hex(const gchar *hex)
{
	gsize n = strlen(hex) / 2;
	guint8 *out = g_malloc(n + 1);

	for (gsize i = 0; i < n; i++)
		out[i] = (guint8)(g_ascii_xdigit_value(hex[2 * i]) * 16 +
				  g_ascii_xdigit_value(hex[2 * i + 1]));
	return g_bytes_new_take(out, n);
}

static void
load_key_nonce(guint8 key[EXM_ENVELOPE_KEY_LEN], guint8 nonce[EXM_ENVELOPE_NONCE_LEN])
{
	g_autoptr(GError) error = NULL;

	g_assert_true(exm_envelope_key_from_base64(key_b64, key, &error));
	g_assert_true(exm_envelope_nonce_from_base64(nonce_b64, nonce, &error));
	g_assert_no_error(error);
}

static void
test_key_from_base64(void)
{
	static const gchar *const ok[] = {
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", /* key files end in a newline */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= \n",
	};
	static const gchar *const bad[] = {
		"",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",	    /* padding missing */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==",    /* too long */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",	    /* 31 bytes */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==", /* 34 bytes */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd*h8=",	    /* not base64 */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd-h8=",	    /* URL-safe alphabet */
		"AAECAwQFBgcICQoLDA0ODxAREh\nMUFRYXGBkaGxwdHh8=",   /* embedded newline */
		" AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",    /* leading space */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH=8=",	    /* '=' inside */
	};
	guint8 key[EXM_ENVELOPE_KEY_LEN];

	for (gsize i = 0; i < G_N_ELEMENTS(ok); i++) {
		g_autoptr(GError) error = NULL;
		memset(key, 0xaa, sizeof(key));
		g_assert_true(exm_envelope_key_from_base64(ok[i], key, &error));
		g_assert_no_error(error);
		for (guint j = 0; j < EXM_ENVELOPE_KEY_LEN; j++)
			g_assert_cmpuint(key[j], ==, j);
	}
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_assert_false(exm_envelope_key_from_base64(bad[i], key, &error));
		g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE);
	}
	{
		g_autoptr(GError) error = NULL;
		g_assert_false(exm_envelope_key_from_base64(NULL, key, &error));
		g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE);
	}
	exm_secret_wipe(key, sizeof(key));
}

static void
test_nonce_base64(void)
{
	static const gchar *const bad[] = {
		"",
		"AAECAwQFBgcICQo",   /* 15 */
		"AAECAwQFBgcICQoLA", /* 17 */
		"AAECAwQFBgcICQo=",  /* padded: 11 bytes */
		"AAECAwQFBgcICQo*",
		"AAECAwQFBgcICQo\n",
		"AAECAwQFBgcICQoL\n",
	};
	guint8 nonce[EXM_ENVELOPE_NONCE_LEN];
	guint8 other[EXM_ENVELOPE_NONCE_LEN];
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *ff = NULL;

	g_assert_true(exm_envelope_nonce_from_base64(nonce_b64, nonce, &error));
	g_assert_no_error(error);
	for (guint j = 0; j < EXM_ENVELOPE_NONCE_LEN; j++)
		g_assert_cmpuint(nonce[j], ==, j);
	text = exm_envelope_nonce_to_base64(nonce);
	g_assert_cmpstr(text, ==, nonce_b64);
	memset(other, 0xff, sizeof(other));
	ff = exm_envelope_nonce_to_base64(other);
	g_assert_cmpstr(ff, ==, "////////////////");
	g_assert_cmpuint(strlen(ff), ==, EXM_ENVELOPE_NONCE_B64_LEN);

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) e = NULL;
		g_assert_false(exm_envelope_nonce_from_base64(bad[i], nonce, &e));
		g_assert_error(e, EXM_ERROR, EXM_ERROR_PARSE);
	}
	{
		g_autoptr(GError) e = NULL;
		g_assert_false(exm_envelope_nonce_from_base64(NULL, nonce, &e));
		g_assert_error(e, EXM_ERROR, EXM_ERROR_PARSE);
	}
}

static void
test_nonce_new(void)
{
	guint8 a[EXM_ENVELOPE_NONCE_LEN];
	guint8 b[EXM_ENVELOPE_NONCE_LEN];
	g_autoptr(GError) error = NULL;

	g_assert_true(exm_envelope_nonce_new(a, &error));
	g_assert_true(exm_envelope_nonce_new(b, &error));
	g_assert_no_error(error);
	g_assert_true(memcmp(a, b, sizeof(a)) != 0);
}

static void
test_vectors(void)
{
	guint8 key[EXM_ENVELOPE_KEY_LEN];
	guint8 nonce[EXM_ENVELOPE_NONCE_LEN];

	load_key_nonce(key, nonce);
	for (gsize i = 0; i < G_N_ELEMENTS(vectors); i++) {
		g_autoptr(GError) error = NULL;
		gsize plen = strlen(vectors[i].plain);
		g_autoptr(GBytes) wire =
			exm_envelope_encrypt(key, nonce, vectors[i].plain, plen, &error);
		g_autofree gchar *hex = NULL;
		g_autoptr(GBytes) expected = bytes_of_hex(vectors[i].wire_hex);
		g_autoptr(GBytes) plain = NULL;

		g_assert_no_error(error);
		g_assert_nonnull(wire);
		g_assert_cmpuint(g_bytes_get_size(wire), ==, plen + EXM_ENVELOPE_TAG_LEN);
		hex = hex_of(wire);
		g_assert_cmpstr(hex, ==, vectors[i].wire_hex);

		plain = exm_envelope_decrypt(key,
					     nonce,
					     g_bytes_get_data(expected, NULL),
					     g_bytes_get_size(expected),
					     &error);
		g_assert_no_error(error);
		g_assert_nonnull(plain);
		g_assert_cmpmem(g_bytes_get_data(plain, NULL),
				g_bytes_get_size(plain),
				vectors[i].plain,
				plen);
		/* NUL-terminated beyond its size, so it can be used as a string */
		g_assert_cmpstr(g_bytes_get_data(plain, NULL), ==, vectors[i].plain);
	}
	exm_secret_wipe(key, sizeof(key));
}

static void
test_other_key(void)
{
	g_autoptr(GError) error = NULL;
	guint8 key[EXM_ENVELOPE_KEY_LEN];
	guint8 nonce[EXM_ENVELOPE_NONCE_LEN];
	g_autoptr(GBytes) wire = NULL;
	g_autofree gchar *hex = NULL;

	g_assert_true(exm_envelope_key_from_base64(
		"//79/Pv6+fj39vX08/Lx8O/u7ezr6uno5+bl5OPi4eA=", key, &error));
	g_assert_true(exm_envelope_nonce_from_base64("////////////////", nonce, &error));
	wire = exm_envelope_encrypt(key, nonce, "[]", 2, &error);
	g_assert_no_error(error);
	hex = hex_of(wire);
	g_assert_cmpstr(hex, ==, "692ca18928d36ef7a8d3cc8776365967ad63");
}

static void
assert_refused(const guint8 *key, const guint8 *nonce, const guint8 *wire, gsize len)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) plain = exm_envelope_decrypt(key, nonce, wire, len, &error);

	g_assert_null(plain);
	g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE_BODY);
}

static void
test_tamper(void)
{
	guint8 key[EXM_ENVELOPE_KEY_LEN];
	guint8 nonce[EXM_ENVELOPE_NONCE_LEN];
	g_autoptr(GBytes) good = bytes_of_hex(vectors[1].wire_hex);
	gsize len = g_bytes_get_size(good);
	g_autofree guint8 *buf = g_memdup2(g_bytes_get_data(good, NULL), len + 1);

	load_key_nonce(key, nonce);
	/* every bit of ciphertext and tag is authenticated */
	for (gsize i = 0; i < len; i++) {
		for (guint bit = 0; bit < 8; bit++) {
			buf[i] ^= (guint8)(1u << bit);
			assert_refused(key, nonce, buf, len);
			buf[i] ^= (guint8)(1u << bit);
		}
	}
	/* truncated, extended, shorter than a tag, empty */
	assert_refused(key, nonce, buf, len - 1);
	buf[len] = 0;
	assert_refused(key, nonce, buf, len + 1);
	assert_refused(key, nonce, buf, EXM_ENVELOPE_TAG_LEN - 1);
	assert_refused(key, nonce, buf, 0);
	assert_refused(key, nonce, NULL, 0);
	/* wrong nonce, wrong key */
	nonce[0] ^= 1;
	assert_refused(key, nonce, buf, len);
	nonce[0] ^= 1;
	key[31] ^= 0x80;
	assert_refused(key, nonce, buf, len);
	key[31] ^= 0x80;
	/* and the untouched body still opens */
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) plain = exm_envelope_decrypt(key, nonce, buf, len, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(g_bytes_get_data(plain, NULL), ==, "{\"a\":1}");
	}
	exm_secret_wipe(key, sizeof(key));
}

static void
test_seal_open(void)
{
	guint8 key[EXM_ENVELOPE_KEY_LEN];
	guint8 nonce[EXM_ENVELOPE_NONCE_LEN];
	const gchar *msg = "{\"uuid\":\"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890\",\"hash\":\"\"}";
	g_autoptr(GError) error = NULL;
	g_autofree gchar *n1 = NULL;
	g_autofree gchar *n2 = NULL;
	g_autoptr(GBytes) w1 = NULL;
	g_autoptr(GBytes) w2 = NULL;
	g_autoptr(GBytes) p1 = NULL;
	g_autoptr(GBytes) empty = NULL;
	g_autoptr(GBytes) empty_plain = NULL;
	g_autofree gchar *n3 = NULL;

	load_key_nonce(key, nonce);
	w1 = exm_envelope_seal(key, msg, strlen(msg), &n1, &error);
	w2 = exm_envelope_seal(key, msg, strlen(msg), &n2, &error);
	g_assert_no_error(error);
	/* fresh nonce per message, so equal plaintexts never look equal */
	g_assert_cmpuint(strlen(n1), ==, EXM_ENVELOPE_NONCE_B64_LEN);
	g_assert_cmpstr(n1, !=, n2);
	g_assert_false(g_bytes_equal(w1, w2));

	p1 = exm_envelope_open(key, n1, g_bytes_get_data(w1, NULL), g_bytes_get_size(w1), &error);
	g_assert_no_error(error);
	g_assert_cmpstr(g_bytes_get_data(p1, NULL), ==, msg);
	{
		/* crossing nonces fails */
		g_autoptr(GError) e = NULL;
		g_autoptr(GBytes) p = exm_envelope_open(
			key, n2, g_bytes_get_data(w1, NULL), g_bytes_get_size(w1), &e);
		g_assert_null(p);
		g_assert_error(e, EXM_ERROR, EXM_ERROR_PARSE_BODY);
	}
	{
		/* a malformed nonce header is a parse error, before any decryption */
		g_autoptr(GError) e = NULL;
		g_autoptr(GBytes) p = exm_envelope_open(
			key, "not a nonce", g_bytes_get_data(w1, NULL), g_bytes_get_size(w1), &e);
		g_assert_null(p);
		g_assert_error(e, EXM_ERROR, EXM_ERROR_PARSE);
	}
	/* an empty plaintext round-trips too (bodiless requests may send nothing) */
	empty = exm_envelope_seal(key, NULL, 0, &n3, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(empty), ==, EXM_ENVELOPE_TAG_LEN);
	empty_plain = exm_envelope_open(
		key, n3, g_bytes_get_data(empty, NULL), g_bytes_get_size(empty), &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(empty_plain), ==, 0);
	exm_secret_wipe(key, sizeof(key));
}

/* Opened where it lies: the plaintext over the ciphertext, NUL-terminated,
 * for every length around the cipher's 64-byte block; a tampered body, a
 * crossed nonce and a short body are refused, the buffer then all zeros. */
static void
test_open_in_place(void)
{
	guint8 key[EXM_ENVELOPE_KEY_LEN];
	guint8 nonce[EXM_ENVELOPE_NONCE_LEN];
	const gsize lens[] = { 0, 1, 63, 64, 65, 1000, 70000 };

	load_key_nonce(key, nonce);
	for (guint i = 0; i < G_N_ELEMENTS(lens); i++) {
		g_autofree gchar *msg = g_malloc(lens[i] + 1);
		g_autofree gchar *n1 = NULL;
		g_autofree gchar *n2 = NULL;
		g_autoptr(GBytes) w1 = NULL;
		g_autoptr(GBytes) w2 = NULL;
		g_autoptr(GError) error = NULL;
		gsize len = 0;
		gsize plain_len = 1;
		guint8 *buf;

		for (gsize k = 0; k < lens[i]; k++)
			msg[k] = (gchar)('a' + k % 26);
		msg[lens[i]] = '\0';
		w1 = exm_envelope_seal(key, msg, lens[i], &n1, &error);
		w2 = exm_envelope_seal(key, msg, lens[i], &n2, &error);
		g_assert_no_error(error);
		buf = g_bytes_unref_to_data(g_bytes_ref(w1), &len);
		g_assert_true(exm_envelope_open_in_place(key, n1, buf, len, &plain_len, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(plain_len, ==, lens[i]);
		g_assert_cmpmem(buf, plain_len, msg, lens[i]);
		g_assert_cmpint(buf[plain_len], ==, '\0');
		g_free(buf);
		for (guint bad = 0; bad < 3; bad++) {
			g_autoptr(GError) e = NULL;
			const gchar *with = bad == 1 ? n2 : n1;

			buf = g_bytes_unref_to_data(g_bytes_ref(w1), &len);
			if (bad == 0)
				buf[len - 1] ^= 1;
			if (bad == 2)
				len = EXM_ENVELOPE_TAG_LEN - 1;
			g_assert_false(
				exm_envelope_open_in_place(key, with, buf, len, &plain_len, &e));
			g_assert_error(e, EXM_ERROR, EXM_ERROR_PARSE_BODY);
			g_assert_cmpuint(plain_len, ==, 0);
			for (gsize k = 0; bad < 2 && k < len; k++)
				g_assert_cmpint(buf[k], ==, 0);
			g_free(buf);
		}
	}
	exm_secret_wipe(key, sizeof(key));
}

static void
test_constants(void)
{
	g_assert_cmpstr(EXM_ENVELOPE_CONTENT_TYPE,
			==,
			"application/x-genesis-agent-chacha20-poly1305-encrypted");
	g_assert_cmpstr(EXM_ENVELOPE_HEADER_NONCE, ==, "X-Genesis-Nonce");
	g_assert_cmpstr(EXM_ENVELOPE_HEADER_NODE_UUID, ==, "X-Genesis-Node-UUID");
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/envelope/key-from-base64", test_key_from_base64);
	g_test_add_func("/envelope/nonce-base64", test_nonce_base64);
	g_test_add_func("/envelope/nonce-new", test_nonce_new);
	g_test_add_func("/envelope/vectors", test_vectors);
	g_test_add_func("/envelope/other-key", test_other_key);
	g_test_add_func("/envelope/tamper", test_tamper);
	g_test_add_func("/envelope/seal-open", test_seal_open);
	g_test_add_func("/envelope/open-in-place", test_open_in_place);
	g_test_add_func("/envelope/constants", test_constants);
	return g_test_run();
}
