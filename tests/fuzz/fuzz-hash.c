/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzz target: exm_mail_validate_password_hash, the gate between a user's
 * `password_hash` and a line of /etc/exim4/passwd, and exm_mail_validate_hash_cost.
 *
 * Properties: a refusal is EXM_MAIL_ERROR_INVALID; an accepted hash is at most
 * EXM_MAIL_HASH_MAX bytes with no `:`, whitespace or control character, and
 * libxcrypt's crypt_checksalt() does not call it (scheme stripped)
 * CRYPT_SALT_INVALID; a hash accepted by the cost check is accepted by the
 * grammar too; for the cheap ones (SHA-crypt with rounds=1000..2000, bcrypt
 * cost 4 or 5) libxcrypt's crypt() computes a hash with exactly the same
 * setting and length, i.e. exim's crypteq can verify it.
 */
#include <crypt.h>
#include <string.h>

#include "exm-mail.h"
#include "fuzz-common.h"

/* Returns: %TRUE when @bare is a family and cost that crypt() computes in about
 * a millisecond (a fuzzer calls it thousands of times, valgrind too). */
static gboolean
is_cheap(const gchar *bare)
{
	guint rounds = 0;
	gsize k = 10;

	if (g_str_has_prefix(bare, "$5$rounds=") || g_str_has_prefix(bare, "$6$rounds=")) {
		for (; k < 14 && g_ascii_isdigit(bare[k]); k++)
			rounds = rounds * 10 + (guint)(bare[k] - '0');
		return bare[k] == '$' && rounds >= 1000 && rounds <= 2000;
	}
	return (g_str_has_prefix(bare, "$2b$0") || g_str_has_prefix(bare, "$2y$0")) &&
	       (bare[5] == '4' || bare[5] == '5') && bare[6] == '$';
}

/* crypt() calls per process: a seed whose mutants are mostly cheap hashes
 * must not turn the run into minutes (under valgrind, a bcrypt costs ~0.1 s). */
static gboolean
crypt_budget_left(void)
{
	static gsize budget = G_MAXSIZE;

	if (budget == G_MAXSIZE)
		budget = g_strcmp0(g_getenv("EXM_UNDER_VALGRIND"), "1") == 0 ? 20 : 1000;
	if (budget == 0)
		return FALSE;
	budget--;
	return TRUE;
}

static void
check_crypt(const gchar *bare)
{
	struct crypt_data *cd = g_new0(struct crypt_data, 1);
	const gchar *out = crypt_r("fuzz", bare, cd);
	const gchar *last = strrchr(bare, '$');
	gsize setting = (gsize)(last - bare) + 1;

	EXM_FUZZ_CHECK(out != NULL && out[0] != '*' && strlen(out) == strlen(bare) &&
			       strncmp(out, bare, g_str_has_prefix(bare, "$2") ? 29 : setting) == 0,
		       "crypt(\"fuzz\", %s) = %s",
		       bare,
		       out != NULL ? out : "(null)");
	g_free(cd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree gchar *hash = exm_fuzz_strndup(data, size);
	g_autoptr(GError) error = NULL;
	gboolean valid;
	gboolean affordable;
	const gchar *bare;

	exm_fuzz_begin(data, size);
	valid = exm_mail_validate_password_hash(hash, &error);
	if (!valid)
		EXM_FUZZ_CHECK(g_error_matches(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID),
			       "refusal of another kind: %s",
			       error->message);
	g_clear_error(&error);
	affordable = exm_mail_validate_hash_cost(hash, &error);
	EXM_FUZZ_CHECK(!affordable || valid, "cost check accepts a hash the grammar refuses");
	if (!affordable)
		EXM_FUZZ_CHECK(g_error_matches(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID),
			       "cost refusal of another kind: %s",
			       error->message);
	if (!valid)
		return 0;

	EXM_FUZZ_CHECK(strlen(hash) <= EXM_MAIL_HASH_MAX, "%zu bytes", strlen(hash));
	for (const gchar *p = hash; *p != '\0'; p++)
		EXM_FUZZ_CHECK(*p != ':' && !g_ascii_isspace(*p) && !g_ascii_iscntrl(*p) &&
				       (guchar)*p < 0x80,
			       "byte 0x%02x in an accepted hash",
			       (guchar)*p);
	bare = exm_mail_crypt_strip_scheme(hash);
	EXM_FUZZ_CHECK(crypt_checksalt(bare) != CRYPT_SALT_INVALID,
		       "libxcrypt calls it invalid: %s",
		       bare);
	if (affordable && is_cheap(bare) && crypt_budget_left())
		check_crypt(bare);
	exm_fuzz_accepted();
	return 0;
}
