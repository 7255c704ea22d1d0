/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Hashing for the write-only `password` field and verification, on libxcrypt's
 * reentrant API.  struct crypt_data holds intermediate state derived from the
 * password, so it lives on the heap and is wiped before it is freed.
 */
#include "exm-mail-crypt.h"

#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "exm-cleanup.h"
#include "exm-mail-error.h"
#include "exm-mail-validate.h"

/* libxcrypt refuses phrases of CRYPT_MAX_PASSPHRASE_SIZE bytes and more. */
#define PASSWORD_MAX (CRYPT_MAX_PASSPHRASE_SIZE - 1)
/* `openssl passwd -6` uses SHA-crypt's default of 5000 rounds (no rounds= field). */
#define SHA512_ROUNDS 5000

typedef struct crypt_data CryptData;

static void
crypt_data_free(CryptData *data)
{
	exm_secret_wipe(data, sizeof(*data));
	g_free(data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CryptData, crypt_data_free)

static gboolean
check_plaintext(const gchar *plaintext, GError **error)
{
	gsize len = plaintext != NULL ? strlen(plaintext) : 0;

	if (len == 0) {
		g_set_error_literal(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_INVALID,
				    "password: must not be empty");
		return FALSE;
	}
	if (len > PASSWORD_MAX) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "password: is %zu bytes long, at most %d are allowed",
			    len,
			    PASSWORD_MAX);
		return FALSE;
	}
	if (strpbrk(plaintext, "\r\n") != NULL) {
		g_set_error_literal(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_INVALID,
				    "password: must not contain a line break");
		return FALSE;
	}
	return TRUE;
}

static gchar *
make_setting(ExmMailHashMethod method, GError **error)
{
	const gchar *prefix;
	gulong count;
	gchar *setting;
	gchar *copy;

	switch (method) {
	case EXM_MAIL_HASH_SHA512:
		prefix = "$6$";
		count = SHA512_ROUNDS;
		break;
	case EXM_MAIL_HASH_YESCRYPT:
	default:
		prefix = crypt_preferred_method();
		count = 0; /* libxcrypt's default cost */
		break;
	}
	/* NULL random bytes: libxcrypt reads them from the kernel */
	setting = crypt_gensalt_ra(prefix, count, NULL, 0);
	if (setting == NULL) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_CRYPT,
			    "password: cannot make a %s salt: %s",
			    prefix,
			    g_strerror(errno));
		return NULL;
	}
	/* crypt_gensalt_ra() allocates with malloc(); hand out GLib memory */
	copy = g_strdup(setting);
	free(setting);
	return copy;
}

/* crypt_rn() signals failure with NULL or a "*"-prefixed token, never a hash. */
static gboolean
crypt_ok(const gchar *result)
{
	return result != NULL && result[0] != '*';
}

/**
 * exm_mail_crypt_hash:
 * @plaintext: the password (1..511 bytes, no NUL, no line break)
 * @method: hash family
 * @error: %EXM_MAIL_ERROR_INVALID for a bad password, %EXM_MAIL_ERROR_CRYPT
 *
 * Returns: (transfer full): the hash
 */
gchar *
exm_mail_crypt_hash(const gchar *plaintext, ExmMailHashMethod method, GError **error)
{
	g_autoptr(CryptData) data = NULL;
	g_autofree gchar *setting = NULL;
	const gchar *result;

	if (!check_plaintext(plaintext, error))
		return NULL;
	setting = make_setting(method, error);
	if (setting == NULL)
		return NULL;
	data = g_new0(CryptData, 1);
	result = crypt_rn(plaintext, setting, data, (int)sizeof(*data));
	if (!crypt_ok(result)) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_CRYPT,
			    "password: hashing failed: %s",
			    g_strerror(errno));
		return NULL;
	}
	return g_strdup(result);
}

/**
 * exm_mail_crypt_verify:
 * @plaintext: (nullable): a candidate password
 * @hash: (nullable): a stored hash, `{SCHEME}` prefix allowed
 *
 * Only hashes that pass exm_mail_validate_password_hash() and
 * exm_mail_validate_hash_cost() can match.  The result of crypt_rn() is compared in
 * constant time.
 *
 * Returns: %TRUE when @plaintext matches @hash
 */
gboolean
exm_mail_crypt_verify(const gchar *plaintext, const gchar *hash)
{
	g_autoptr(CryptData) data = NULL;
	const gchar *bare;
	const gchar *result;
	gsize len;

	/* a valid but very dear hash ($2b$31$) would stall the caller for hours */
	if (plaintext == NULL || hash == NULL || !exm_mail_validate_hash_cost(hash, NULL))
		return FALSE;
	bare = exm_mail_crypt_strip_scheme(hash);
	data = g_new0(CryptData, 1);
	result = crypt_rn(plaintext, bare, data, (int)sizeof(*data));
	if (!crypt_ok(result))
		return FALSE;
	len = strlen(bare);
	return strlen(result) == len && CRYPTO_memcmp(result, bare, len) == 0;
}

/**
 * exm_mail_crypt_strip_scheme:
 * @hash: (nullable): a hash
 *
 * Upstream `_strip_dovecot_prefix`.
 *
 * Returns: (transfer none): what follows the first `}` when @hash starts with `{`
 *   and contains one, else @hash
 */
const gchar *
exm_mail_crypt_strip_scheme(const gchar *hash)
{
	const gchar *end;

	if (hash == NULL || hash[0] != '{')
		return hash;
	end = strchr(hash, '}');
	return end != NULL ? end + 1 : hash;
}

/**
 * exm_mail_crypt_fingerprint:
 * @hash: a hash, with or without its `{SCHEME}` prefix
 *
 * The name a secret goes by in the node's log and the usage report (docs/usage.md
 * §1): the first %EXM_MAIL_CRYPT_FINGERPRINT_LEN lower-case hex digits of the
 * SHA-256 of the hash as the node's files hold it (scheme stripped), which exim
 * computes the same way at each login.  It names a secret without revealing
 * the hash: 64 bits of a digest of a salted hash.
 *
 * Returns: (transfer full): the fingerprint
 */
gchar *
exm_mail_crypt_fingerprint(const gchar *hash)
{
	g_autofree gchar *hex = g_compute_checksum_for_string(
		G_CHECKSUM_SHA256, exm_mail_crypt_strip_scheme(hash), -1);

	hex[EXM_MAIL_CRYPT_FINGERPRINT_LEN] = '\0';
	return g_steal_pointer(&hex);
}
