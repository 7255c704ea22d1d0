/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The password_hash grammar against real hashes made with libcrypt for every
 * accepted family, against near-misses, and against libxcrypt itself where the
 * grammar claims to know better than crypt_checksalt(); hashing round trips and
 * the plaintext rules; interoperability with `openssl passwd`.
 */
#include <crypt.h>
#include <string.h>

#include "exm-error.h"
#include "exm-mail.h"
#include "exm-test.h"

#define B64	   "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define BCRYPT_B64 "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
/* 43 checksum characters ending canonically ('D' is index 15) */
#define CANON43 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopD"

/* A fresh real hash of @prefix at cost @count (0: libxcrypt's default). */
static gchar *
real_hash(const gchar *prefix, gulong count, const gchar *password)
{
	gchar *setting = crypt_gensalt_ra(prefix, count, NULL, 0);
	gchar *hash;

	if (setting == NULL)
		g_error("crypt_gensalt_ra(%s, %lu) failed", prefix, count);
	hash = exm_test_crypt(password, setting);
	free(setting);
	g_assert_nonnull(hash);
	return hash;
}

static void
assert_hash_ok(const gchar *hash)
{
	g_autoptr(GError) error = NULL;

	if (!exm_mail_validate_password_hash(hash, &error))
		g_error("real hash '%s' refused: %s", hash, error->message);
}

/* Refused with a message naming the field and both ways out. */
static void
assert_hash_refused(const gchar *hash)
{
	g_autoptr(GError) error = NULL;

	if (exm_mail_validate_password_hash(hash, &error))
		g_error("bad hash '%s' accepted", hash);
	g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
	g_assert_true(g_str_has_prefix(error->message, "password_hash: "));
}

static void
assert_hash_refused_hint(const gchar *hash)
{
	g_autoptr(GError) error = NULL;

	g_assert_false(exm_mail_validate_password_hash(hash, &error));
	g_assert_nonnull(error);
	if (strstr(error->message, "openssl passwd -6") == NULL ||
	    strstr(error->message, "`password` field") == NULL)
		g_error("message lacks the hint: %s", error->message);
}

typedef struct {
	const gchar *prefix;
	gulong count;
	gsize checksum_len;
} FamilyCase;

/* Cheap costs so the suite stays fast under valgrind. */
static const FamilyCase families[] = {
	{ "$y$", 1, 43 },    { "$y$", 0, 43 },	{ "$gy$", 1, 43 },   { "$7$", 6, 43 },
	{ "$2b$", 4, 31 },   { "$2y$", 4, 31 }, { "$6$", 0, 86 },    { "$6$", 1000, 86 },
	{ "$6$", 5000, 86 }, { "$5$", 0, 43 },	{ "$5$", 1000, 43 },
};

static void
test_real_hashes(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(families); i++) {
		g_autofree gchar *hash = real_hash(families[i].prefix, families[i].count, "s3cret");
		g_autofree gchar *sha512 = g_strconcat("{SHA512-CRYPT}", hash, NULL);
		g_autofree gchar *any = g_strconcat("{CRYPT}", hash, NULL);

		g_test_message("%s", hash);
		assert_hash_ok(hash);
		assert_hash_ok(any);
		if (g_str_equal(families[i].prefix, "$6$"))
			assert_hash_ok(sha512);
		else
			assert_hash_refused(sha512);
		g_assert_true(exm_mail_crypt_verify("s3cret", hash));
		g_assert_true(exm_mail_crypt_verify("s3cret", any));
		g_assert_false(exm_mail_crypt_verify("s3cret ", hash));
		g_assert_false(exm_mail_crypt_verify("", hash));
	}
}

/* $6$ with an explicit rounds= field, as passlib writes it (rounds=656000). */
static void
test_real_rounds(void)
{
	const gchar *settings[] = { "$6$rounds=1000$abcdefgh",
				    "$6$rounds=5000$abc",
				    "$5$rounds=1000$0123456789abcdef",
				    "$6$rounds=999999999$x" };

	for (gsize i = 0; i < 3; i++) {
		g_autofree gchar *hash = exm_test_crypt("pw", settings[i]);

		g_assert_nonnull(hash);
		assert_hash_ok(hash);
		g_assert_true(exm_mail_crypt_verify("pw", hash));
	}
	/* too slow to compute; a syntactically perfect one is built by hand */
	{
		g_autofree gchar *hash = g_strconcat(settings[3],
						     "$",
						     "abcdefghijklmnopqrstuvwxyz"
						     "abcdefghijklmnopqrstuvwxyz"
						     "abcdefghijklmnopqrstuvwxyz"
						     "0123456.",
						     NULL);

		assert_hash_ok(hash);
	}
}

/* Every way to get one character wrong, on a real hash of each family. */
static void
test_near_misses(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(families); i++) {
		g_autofree gchar *hash = real_hash(families[i].prefix, families[i].count, "pw");
		gsize len = strlen(hash);
		g_autofree gchar *shorter = g_strndup(hash, len - 1);
		g_autofree gchar *longer = g_strconcat(hash, ".", NULL);
		g_autofree gchar *bang = g_strdup(hash);
		g_autofree gchar *no_salt = NULL;
		g_autofree gchar *bad_prefix = g_strconcat("{SHA256-CRYPT}", hash, NULL);
		const gchar *last_dollar = strrchr(hash, '$');

		bang[len - 5] = '!';
		assert_hash_refused(shorter);
		assert_hash_refused(longer);
		assert_hash_refused(bang);
		if (!g_str_equal(families[i].prefix, "$5$"))
			assert_hash_refused(bad_prefix);
		/* the checksum alone, salt dropped: "$id$<checksum>" */
		no_salt = g_strconcat(families[i].prefix, last_dollar + 1, NULL);
		assert_hash_refused(no_salt);
		g_assert_cmpuint(strlen(last_dollar + 1),
				 ==,
				 families[i].prefix[1] == '2' ? 53 : families[i].checksum_len);
	}
}

/*
 * The last checksum character carries only a few bits; crypt(3) re-encodes the
 * checksum, so any other character could never match.  Exactly the characters
 * below the limit are accepted.
 */
static void
test_checksum_last_char(void)
{
	struct {
		const gchar *prefix;
		gulong count;
		gint limit;
		const gchar *alphabet;
	} cases[] = {
		{ "$6$", 0, 4, B64 },	{ "$5$", 0, 16, B64 }, { "$y$", 1, 16, B64 },
		{ "$gy$", 1, 16, B64 }, { "$7$", 6, 16, B64 }, { "$2b$", 4, 16, NULL },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *hash = real_hash(cases[i].prefix, cases[i].count, "pw");
		gsize len = strlen(hash);

		for (gint c = 0; c < 64; c++) {
			g_autofree gchar *h = g_strdup(hash);

			if (cases[i].alphabet == NULL) {
				/* bcrypt: 184 bits in 31 characters, last index % 4 == 0 */
				h[len - 1] = BCRYPT_B64[c];
				g_assert_cmpint(
					exm_mail_validate_password_hash(h, NULL), ==, c % 4 == 0);
				continue;
			}
			h[len - 1] = cases[i].alphabet[c];
			g_assert_cmpint(
				exm_mail_validate_password_hash(h, NULL), ==, c < cases[i].limit);
		}
	}
}

/* bcrypt's salt: crypt(3) re-encodes it, so only a canonical last character round-trips. */
static void
test_bcrypt_salt_agrees_with_libxcrypt(void)
{
	for (gint c = 0; c < 64; c++) {
		g_autofree gchar *setting =
			g_strdup_printf("$2b$04$abcdefghijklmnopqrstu%c", BCRYPT_B64[c]);
		g_autofree gchar *out = exm_test_crypt("pw", setting);
		g_autofree gchar *claimed = NULL;
		gboolean roundtrips;

		g_assert_nonnull(out);
		roundtrips = strncmp(out, setting, strlen(setting)) == 0;
		g_assert_cmpint(roundtrips, ==, c % 16 == 0);
		/* the same salt with the real checksum: accepted iff it round-trips */
		claimed = g_strconcat(setting, out + strlen(setting), NULL);
		g_assert_cmpint(exm_mail_validate_password_hash(claimed, NULL), ==, roundtrips);
	}
}

/* yescrypt's salt: libxcrypt refuses non-canonical ones; so does the grammar. */
static void
test_yescrypt_salt_agrees_with_libxcrypt(void)
{
	/* final groups of 2 and 3 characters, and full groups */
	const gchar *stems[] = { "$y$j75$abcda", "$y$j75$abcdab", "$y$j75$abc", "$gy$j75$ab" };

	/* the fake checksum below is well-formed: only the salt decides */
	assert_hash_ok("$y$j75$abcd$" CANON43);

	for (gsize s = 0; s < G_N_ELEMENTS(stems); s++) {
		for (gint c = 0; c < 64; c++) {
			g_autofree gchar *setting = g_strdup_printf("%s%c", stems[s], B64[c]);
			g_autofree gchar *out = exm_test_crypt("pw", setting);

			if (out == NULL) {
				/* any syntactically complete hash with this salt is refused */
				g_autofree gchar *fake = g_strconcat(setting, "$" CANON43, NULL);

				g_assert_false(exm_mail_validate_password_hash(fake, NULL));
			} else {
				assert_hash_ok(out);
			}
		}
	}
}

/* Salt length limits measured against libxcrypt. */
static void
test_salt_lengths(void)
{
	g_autoptr(GString) s = g_string_new(NULL);
	const gsize ok_len[] = { 86, 325 };
	const gchar *stem[] = { "$y$j75$", "$7$0/..../...." };

	for (gsize i = 0; i < G_N_ELEMENTS(stem); i++) {
		for (gsize extra = 0; extra < 3; extra++) {
			g_autofree gchar *setting = NULL;
			g_autofree gchar *out = NULL;
			gsize len = ok_len[i] + extra;

			g_string_assign(s, stem[i]);
			for (gsize k = 0; k + 1 < len; k++)
				g_string_append_c(s, 'a');
			g_string_append_c(s, '.');
			setting = g_strdup(s->str);
			out = exm_test_crypt("pw", setting);
			if (extra == 0) {
				g_assert_nonnull(out);
				assert_hash_ok(out);
			} else {
				g_autofree gchar *fake = g_strconcat(setting, "$" CANON43, NULL);

				g_assert_null(out);
				assert_hash_refused(fake);
			}
		}
	}
}

static void
test_hand_made(void)
{
	/* 86 and 43 characters ending canonically: syntax alone */
	const gchar *c86 = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopq"
			   "rstuvwxyz0123456.";
	const gchar *c43 = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopD";
	/* check-source: table */
	struct {
		const gchar *hash;
		gboolean ok;
	} cases[] = {
		{ "$6$a$%86", TRUE },
		{ "$6$abcdefghijklmnop$%86", TRUE },
		{ "$6$abcdefghijklmnopq$%86", FALSE }, /* salt of 17 */
		{ "$6$$%86", FALSE },		       /* empty salt */
		{ "$6$a_b$%86", FALSE },
		{ "$6$rounds=1000$a$%86", TRUE },
		{ "$6$rounds=999$a$%86", FALSE },
		{ "$6$rounds=01000$a$%86", FALSE },
		{ "$6$rounds=1000000000$a$%86", FALSE },
		{ "$6$rounds=$a$%86", FALSE },
		{ "$6$rounds=1e3$a$%86", FALSE },
		{ "$6$ROUNDS=1000$a$%86", FALSE }, /* a salt of 11 then junk */
		{ "$5$a$%43", TRUE },
		{ "$5$rounds=1000$a$%43", TRUE },
		{ "$5$a$%86", FALSE },
		{ "$6$a$%43", FALSE },
		{ "$y$j9T$abcd$%43", TRUE },
		{ "$y$j9T$ab$%43", FALSE }, /* 'b' carries stray bits */
		{ "$y$j9T$a.$%43", TRUE },
		{ "$y$j9T$a$%43", FALSE },
		{ "$y$j9T$$%43", FALSE }, /* empty salt: policy */
		{ "$y$j9T%43", FALSE },
		{ "$y$jATF.$abcd$%43", TRUE },	 /* optional parameters (t), an ignored bit */
		{ "$y$.9T$abcd$%43", TRUE },	 /* flavor 0: classic scrypt */
		{ "$y$/9T$abcd$%43", TRUE },	 /* flavor 1: WORM */
		{ "$y$/9T/.$abcd$%43", TRUE },	 /* WORM with t */
		{ "$y$.9T/.$abcd$%43", FALSE },	 /* classic scrypt takes no t */
		{ "$y$i9T$abcd$%43", FALSE },	 /* a flavor libxcrypt does not implement */
		{ "$y$j9T4.$abcd$%43", FALSE },	 /* hash upgrades (g) */
		{ "$y$j9T8..$abcd$%43", FALSE }, /* a ROM (NROM) */
		{ "$y$j/T$abcd$%43", TRUE },	 /* N = 4 */
		{ "$y$j.T$abcd$%43", FALSE },	 /* N = 2 */
		{ "$y$jS.$abcd$%43", TRUE },	 /* N = 2^31 */
		{ "$y$jT.$abcd$%43", FALSE },	 /* N = 2^32 */
		{ "$y$j9T$a1$%43", TRUE },	 /* 2-character group: last < 4 */
		{ "$y$j9T$a2$%43", FALSE },
		{ "$y$j9T$abcA$%43", TRUE },
		{ "$7$TU..../....abcd$%43", TRUE },  /* N = 2^31 */
		{ "$7$UU..../....abcd$%43", FALSE }, /* N = 2^32 */
		{ "$y$j9$abcd$%43", FALSE },
		{ "$y$j$abcd$%43", FALSE },
		{ "$y$j9T!$abcd$%43", FALSE },
		{ "$y$j9Tzzzzzzzzz$abcd$%43", FALSE },
		{ "$gy$j9T$abcd$%43", TRUE },
		{ "$7$CU..../....abcd$%43", TRUE },
		{ "$7$CU..../....$%43", FALSE },     /* empty salt */
		{ "$7$/U..../....abcd$%43", FALSE }, /* N = 2 */
		{ "$7$0U..../....abcd$%43", TRUE },
		{ "$7$CU.........abcd$%43", FALSE }, /* p = 0 */
		{ "$7$C.........abcd$%43", FALSE },
		{ "$7$CU..../...abcd$%43", FALSE }, /* 'a' read into p: r * p >= 2^30 */
		{ "$7$CU..../....ab!d$%43", FALSE },
		{ "$2b$04$abcdefghijklmnopqrstuu%31b", TRUE },
		{ "$2b$03$abcdefghijklmnopqrstuu%31b", FALSE },
		{ "$2b$32$abcdefghijklmnopqrstuu%31b", FALSE },
		{ "$2b$4$abcdefghijklmnopqrstuu%31b", FALSE },
		{ "$2b$31$abcdefghijklmnopqrstuu%31b", TRUE },
		{ "$2b$04$abcdefghijklmnopqrstuv%31b", FALSE },
		{ "$2a$04$abcdefghijklmnopqrstuu%31b", FALSE },
		{ "$2x$04$abcdefghijklmnopqrstuu%31b", FALSE },
		{ "$2$04$abcdefghijklmnopqrstuu%31b", FALSE },
		{ "{BLF-CRYPT}$2y$04$abcdefghijklmnopqrstuu%31b", TRUE },
		{ "{blf-crypt}$2y$04$abcdefghijklmnopqrstuu%31b", TRUE },
		{ "{SHA512-CRYPT}$6$a$%86", TRUE },
		{ "{SHA256-CRYPT}$5$a$%43", TRUE },
		{ "{SHA256-CRYPT}$6$a$%86", FALSE },
		{ "{SHA512-CRYPT}$5$a$%43", FALSE },
		{ "{BLF-CRYPT}$6$a$%86", FALSE },
		{ "{CRYPT}$y$j9T$abcd$%43", TRUE },
		{ "{MD5-CRYPT}$6$a$%86", FALSE },
		{ "{PLAIN}$6$a$%86", FALSE },
		{ "{}$6$a$%86", FALSE },
		{ "{SHA512-CRYPT$6$a$%86", FALSE },
		{ "{CRYPT}{CRYPT}$6$a$%86", FALSE },
		{ " $6$a$%86", FALSE },
		{ "$6$a$%86 ", FALSE },
		{ "$6$a$%86\n", FALSE },
		{ "$6$a$%86\nbob@example.com:$6$a$%86", FALSE },
		{ "$6$a$%86:", FALSE },
		{ "$6$a$\xc3\xa9%86", FALSE },
	};
	/* check-source: end */

	g_assert_cmpuint(strlen(c86), ==, 86);
	g_assert_cmpuint(strlen(c43), ==, 43);
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *h1 = NULL;
		g_autofree gchar *h2 = NULL;
		g_autofree gchar *hash = NULL;
		g_auto(GStrv) p86 = g_strsplit(cases[i].hash, "%86", -1);

		h1 = g_strjoinv(c86, p86);
		{
			g_auto(GStrv) p43 = g_strsplit(h1, "%43", -1);

			h2 = g_strjoinv(c43, p43);
		}
		{
			/* bcrypt: 22 salt chars are in the case, the hash is 31 characters */
			g_auto(GStrv) p31 = g_strsplit(h2, "%31b", -1);

			hash = g_strjoinv("abcdefghijklmnopqrstuvwxyz01236", p31);
		}
		if (exm_mail_validate_password_hash(hash, NULL) != cases[i].ok)
			g_error("'%s' should be %s", hash, cases[i].ok ? "accepted" : "refused");
	}
}

/* The message for a non-canonical last character says which ones would do. */
static void
test_canonical_message(void)
{
	g_autoptr(GString) fake = g_string_new("$6$saltsalt$");
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < 86; i++)
		g_string_append_c(fake, 'a');
	g_assert_false(exm_mail_validate_password_hash(fake->str, &error));
	g_assert_nonnull(strstr(error->message, "must be one of './01'"));
	/* whole: the reason is written into a buffer of its own */
	g_assert_nonnull(strstr(error->message, "any other value can never match)"));
	g_clear_error(&error);
	fake->str[fake->len - 1] = '.';
	g_assert_true(exm_mail_validate_password_hash(fake->str, &error));
	g_assert_no_error(error);
}

static void
test_refused_with_hint(void)
{
	g_autofree gchar *md5 = real_hash("$1$", 0, "pw");
	g_autofree gchar *des = real_hash("", 0, "pw");
	g_autofree gchar *bsdi = real_hash("_", 0, "pw");
	g_autofree gchar *bcrypt_a = real_hash("$2a$", 4, "pw");
	g_autofree gchar *md5_prefixed = g_strconcat("{MD5-CRYPT}", md5, NULL);
	const gchar *fakes[] = {
		"$6$salt$hash",
		"$6$abc",
		"$6$ha",
		"$6$hb",
		"$6$",
		"$",
		"password",
		"s3cret",
		"*",
		"!",
		"!!",
		"x",
		"$y$",
		"$y$j9T$abcd$",
		"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$aGFzaA",
		"$sha1$40000$abc$def",
		"$md5$abc$def",
		"$3$$8846f7eaee8fb117ad06bdd830b7586c",
		"{SHA512-CRYPT}$6$abc",
		"{CRYPT}password",
		"{PLAIN}secret",
	};

	g_assert_true(g_str_has_prefix(md5, "$1$"));
	g_assert_cmpuint(strlen(des), ==, 13);
	assert_hash_refused_hint(md5);
	assert_hash_refused_hint(des);
	assert_hash_refused_hint(bsdi);
	assert_hash_refused_hint(bcrypt_a);
	assert_hash_refused(md5_prefixed);
	for (gsize i = 0; i < G_N_ELEMENTS(fakes); i++)
		assert_hash_refused_hint(fakes[i]);
	/* crypt_checksalt() alone would have taken the classic fake */
	g_assert_cmpint(crypt_checksalt("$6$salt$hash"), ==, CRYPT_SALT_OK);
}

/* Work factors a request can afford; the dear ones are valid but never computed. */
static void
test_hash_cost(void)
{
	const gchar *c43 = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopD";
	const gchar *bf31 = "abcdefghijklmnopqrstuvwxyz01236";
	const gchar *c86 = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopq"
			   "rstuvwxyz0123456.";
	const struct {
		const gchar *setting;
		const gchar *checksum;
		gboolean affordable;
	} cases[] = {
		{ "$2b$04$abcdefghijklmnopqrstuu", NULL, TRUE },
		{ "$2b$14$abcdefghijklmnopqrstuu", NULL, TRUE },
		{ "$2b$15$abcdefghijklmnopqrstuu", NULL, FALSE },
		{ "{BLF-CRYPT}$2y$31$abcdefghijklmnopqrstuu", NULL, FALSE },
		{ "$6$a$", "86", TRUE },
		{ "$6$rounds=1000000$a$", "86", TRUE },
		{ "$6$rounds=1000001$a$", "86", FALSE },
		{ "$5$rounds=999999999$a$", "43", FALSE },
		{ "$y$j9T$abcd$", "43", TRUE },	 /* libxcrypt's default: 16 MiB */
		{ "$y$jDT$abcd$", "43", TRUE },	 /* 256 MiB */
		{ "$y$jET$abcd$", "43", FALSE }, /* 512 MiB */
		{ "$y$jFT$abcd$", "43", FALSE }, /* gensalt count 11: 1 GiB */
		{ "$gy$j9T$abcd$", "43", TRUE },
		{ "$y$j9T/.$abcd$", "43", TRUE },	/* t = 1 */
		{ "$y$j9T/0$abcd$", "43", TRUE },	/* t = 3 */
		{ "$y$j9T/1$abcd$", "43", FALSE },	/* t = 4 */
		{ "$y$j9T.0$abcd$", "43", TRUE },	/* p = 4 */
		{ "$y$j9T.1$abcd$", "43", FALSE },	/* p = 5 */
		{ "$y$j9T0..$abcd$", "43", TRUE },	/* p = 2, t = 1 */
		{ "$y$j9T0./$abcd$", "43", FALSE },	/* p = 2, t = 2 */
		{ "$7$CU..../....abcd$", "43", TRUE },	/* 64 MiB */
		{ "$7$GU..../....abcd$", "43", FALSE }, /* 1 GiB */
		{ "$7$CU....1....abcd$", "43", TRUE },	/* p = 3 */
		{ "$7$CU....3....abcd$", "43", FALSE }, /* p = 5 */
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		const gchar *tail = cases[i].checksum == NULL		   ? bf31
				    : g_str_equal(cases[i].checksum, "86") ? c86
									   : c43;
		g_autofree gchar *hash = g_strconcat(cases[i].setting, tail, NULL);
		g_autoptr(GError) error = NULL;
		gboolean ok = exm_mail_validate_hash_cost(hash, &error);

		assert_hash_ok(hash);
		if (ok != cases[i].affordable)
			g_error("'%s': affordable should be %d", hash, cases[i].affordable);
		if (!ok) {
			g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
			g_assert_nonnull(strstr(error->message, "work factor"));
			/* returns at once instead of computing for hours */
			g_assert_false(exm_mail_crypt_verify("pw", hash));
		}
	}
	g_assert_false(exm_mail_validate_hash_cost("$6$salt$hash", NULL));
	g_assert_false(exm_mail_validate_hash_cost(NULL, NULL));
}

static void
test_hostile(void)
{
	g_autofree gchar *valid = real_hash("$6$", 0, "pw");
	g_autoptr(GString) big = g_string_new("$7$CU..../....");
	g_autoptr(GError) error = NULL;
	const gchar *inject[] = { "\n", "\r", ":", " ", "\t", "\x01", "\x7f", "\xc3\xa9", "\xff" };

	for (gsize i = 0; i < G_N_ELEMENTS(inject); i++) {
		g_autofree gchar *front = g_strconcat(inject[i], valid, NULL);
		g_autofree gchar *back = g_strconcat(valid, inject[i], NULL);
		g_autofree gchar *mid = g_strdup_printf("%.20s%s%s", valid, inject[i], valid + 20);

		assert_hash_refused(front);
		assert_hash_refused(back);
		assert_hash_refused(mid);
	}
	assert_hash_refused(NULL);
	assert_hash_refused("");
	/* 1024 bytes: judged on its format; 1025: too long before anything else */
	while (big->len < EXM_MAIL_HASH_MAX)
		g_string_append_c(big, 'a');
	g_assert_false(exm_mail_validate_password_hash(big->str, &error));
	g_assert_nonnull(strstr(error->message, "malformed"));
	g_clear_error(&error);
	g_string_append_c(big, 'a');
	g_assert_false(exm_mail_validate_password_hash(big->str, &error));
	g_assert_nonnull(strstr(error->message, "at most 1024"));
}

static void
test_hash_password(void)
{
	struct {
		ExmMailHashMethod method;
		const gchar *prefix;
	} cases[] = { { EXM_MAIL_HASH_YESCRYPT, "$y$" }, { EXM_MAIL_HASH_SHA512, "$6$" } };

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *h1 = exm_mail_crypt_hash("s3cret", cases[i].method, &error);
		g_autofree gchar *h2 = exm_mail_crypt_hash("s3cret", cases[i].method, NULL);
		g_autofree gchar *prefixed = NULL;

		g_assert_no_error(error);
		g_assert_true(g_str_has_prefix(h1, cases[i].prefix));
		g_assert_cmpstr(h1, !=, h2); /* fresh salt each time */
		assert_hash_ok(h1);
		g_assert_true(exm_mail_crypt_verify("s3cret", h1));
		g_assert_true(exm_mail_crypt_verify("s3cret", h2));
		g_assert_false(exm_mail_crypt_verify("S3cret", h1));
		g_assert_false(exm_mail_crypt_verify("s3cre", h1));
		prefixed = g_strconcat("{CRYPT}", h1, NULL);
		g_assert_true(exm_mail_crypt_verify("s3cret", prefixed));
	}
}

/* Like `openssl passwd -6`: plain "$6$<16 salt>$", 5000 rounds implied. */
static void
test_sha512_like_openssl(void)
{
	g_autofree gchar *hash = exm_mail_crypt_hash("pw", EXM_MAIL_HASH_SHA512, NULL);
	g_auto(GStrv) parts = g_strsplit(hash, "$", -1);
	g_autofree gchar *setting = NULL;
	g_autofree gchar *again = NULL;

	g_assert_cmpuint(g_strv_length(parts), ==, 4);
	g_assert_cmpuint(strlen(parts[2]), ==, 16);
	g_assert_null(strstr(hash, "rounds="));
	/* the same salt with an explicit rounds=5000 yields the same checksum */
	setting = g_strdup_printf("$6$rounds=5000$%s", parts[2]);
	again = exm_test_crypt("pw", setting);
	g_assert_cmpstr(strrchr(again, '$'), ==, strrchr(hash, '$'));
}

static void
test_plaintext_rules(void)
{
	/* libxcrypt's limit: CRYPT_MAX_PASSPHRASE_SIZE - 1 bytes */
	g_autofree gchar *max = g_malloc(CRYPT_MAX_PASSPHRASE_SIZE);
	g_autofree gchar *over = g_malloc(CRYPT_MAX_PASSPHRASE_SIZE + 1);
	const gchar *bad[] = { "", "a\nb", "ab\r", "\n" };

	g_assert_cmpint(CRYPT_MAX_PASSPHRASE_SIZE, ==, 512);
	memset(max, 'p', 511);
	max[511] = '\0';
	memset(over, 'p', 512);
	over[512] = '\0';
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *h = exm_mail_crypt_hash(bad[i], EXM_MAIL_HASH_SHA512, &error);

		g_assert_null(h);
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
		g_assert_true(g_str_has_prefix(error->message, "password: "));
	}
	{
		g_autoptr(GError) error = NULL;
		g_autofree gchar *h = exm_mail_crypt_hash(NULL, EXM_MAIL_HASH_YESCRYPT, &error);

		g_assert_null(h);
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
	}
	{
		g_autoptr(GError) error = NULL;
		g_autofree gchar *h = exm_mail_crypt_hash(over, EXM_MAIL_HASH_SHA512, &error);

		g_assert_null(h);
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
		g_assert_nonnull(strstr(error->message, "at most 511"));
	}
	{
		g_autofree gchar *h = exm_mail_crypt_hash(max, EXM_MAIL_HASH_SHA512, NULL);
		g_autofree gchar *u =
			exm_mail_crypt_hash("p\xc3\xa4ss w:rd #1", EXM_MAIL_HASH_YESCRYPT, NULL);

		g_assert_true(exm_mail_crypt_verify(max, h));
		g_assert_true(exm_mail_crypt_verify("p\xc3\xa4ss w:rd #1", u));
		/* 511 bytes hash and verify; exactly those, not a prefix */
		max[510] = 'q';
		g_assert_false(exm_mail_crypt_verify(max, h));
	}
}

static void
test_verify_refuses(void)
{
	g_autofree gchar *md5 = real_hash("$1$", 0, "pw");
	g_autofree gchar *good = real_hash("$6$", 0, "pw");

	g_autofree gchar *md5_again = exm_test_crypt("pw", md5);

	/* a correct password against a refused family never verifies */
	g_assert_cmpstr(md5_again, ==, md5);
	g_assert_false(exm_mail_crypt_verify("pw", md5));
	g_assert_false(exm_mail_crypt_verify(NULL, good));
	g_assert_false(exm_mail_crypt_verify("pw", NULL));
	g_assert_false(exm_mail_crypt_verify("pw", ""));
	g_assert_false(exm_mail_crypt_verify("pw", "$6$salt$hash"));
	g_assert_true(exm_mail_crypt_verify("pw", good));
}

static void
test_strip_scheme(void)
{
	g_assert_cmpstr(exm_mail_crypt_strip_scheme("{SHA512-CRYPT}$6$abc"), ==, "$6$abc");
	g_assert_cmpstr(exm_mail_crypt_strip_scheme("{MD5}$1$abc"), ==, "$1$abc");
	g_assert_cmpstr(exm_mail_crypt_strip_scheme("$6$abc"), ==, "$6$abc");
	g_assert_cmpstr(exm_mail_crypt_strip_scheme(""), ==, "");
	g_assert_cmpstr(exm_mail_crypt_strip_scheme("{A}{B}x"), ==, "{B}x");
	g_assert_cmpstr(exm_mail_crypt_strip_scheme("{open"), ==, "{open");
	g_assert_cmpstr(exm_mail_crypt_strip_scheme("x{A}y"), ==, "x{A}y");
	g_assert_null(exm_mail_crypt_strip_scheme(NULL));
}

/* exim's expansion of crypteq{password}{\{crypt\}hash}: "yes" or "no". */
static gchar *
exim_crypteq(const gchar *exim, const gchar *conf, const gchar *password, const gchar *hash)
{
	g_autoptr(GString) expr = g_string_new("${if crypteq{");
	const gchar *argv[] = { exim, "-C", conf, "-be", NULL, NULL };
	gchar *out = NULL;

	g_string_append_printf(expr, "%s}{\\{crypt\\}", password);
	for (const gchar *p = hash; *p != '\0'; p++) {
		if (*p == '$' || *p == '\\' || *p == '{' || *p == '}')
			g_string_append_c(expr, '\\');
		g_string_append_c(expr, *p);
	}
	g_string_append(expr, "}{yes}{no}}");
	argv[4] = expr->str;
	if (exm_test_run(argv, &out, NULL) != 0)
		return g_strdup("exim failed");
	return g_strstrip(out);
}

/* The real verifier on the data plane: exim's crypteq (system crypt(3)) takes
 * every family the grammar accepts, and a non-canonical variant never matches. */
static void
test_exim_crypteq(void)
{
	g_autofree gchar *exim = exm_test_find_program("exim4");
	g_autofree gchar *dir = NULL;
	g_autofree gchar *conf = NULL;

	if (exim == NULL) {
		exm_test_peer_missing("exim4 is not installed");
		return;
	}
	dir = exm_test_mkdtemp("exm-crypteq");
	conf = g_build_filename(dir, "exim4.conf", NULL);
	g_assert_true(g_file_set_contents(conf, "keep_environment =\n", -1, NULL));
	for (gsize i = 0; i < G_N_ELEMENTS(families); i++) {
		g_autofree gchar *hash = real_hash(families[i].prefix, families[i].count, "s3cret");
		g_autofree gchar *yes = exim_crypteq(exim, conf, "s3cret", hash);
		g_autofree gchar *no = exim_crypteq(exim, conf, "s3cret!", hash);

		g_assert_cmpstr(yes, ==, "yes");
		g_assert_cmpstr(no, ==, "no");
	}
	{
		/* bcrypt keeps 4 spare bits in the last salt character: a variant with them
		 * set decodes to the same salt, so its checksum is right, yet crypt(3)
		 * re-encodes the salt canonically and the comparison never succeeds */
		g_autofree gchar *hash = real_hash("$2b$", 4, "s3cret");
		g_autofree gchar *bent = g_strdup(hash);
		g_autofree gchar *yes = exim_crypteq(exim, conf, "s3cret", hash);
		g_autofree gchar *no = NULL;
		gchar *c = bent + strlen("$2b$04$") + 21;

		*c = BCRYPT_B64[strchr(BCRYPT_B64, *c) - BCRYPT_B64 + 1];
		no = exim_crypteq(exim, conf, "s3cret", bent);
		g_assert_cmpstr(yes, ==, "yes");
		g_assert_cmpstr(no, ==, "no");
		g_assert_false(exm_mail_validate_password_hash(bent, NULL));
	}
	exm_test_rmtree(dir);
}

/* exim's `${lc:${substr_0_16:${sha256:<hash>}}}`, the node's expansion at each login. */
static gchar *
exim_fingerprint(const gchar *exim, const gchar *conf, const gchar *hash)
{
	g_autoptr(GString) expr = g_string_new("${lc:${substr_0_16:${sha256:");
	const gchar *argv[] = { exim, "-C", conf, "-be", NULL, NULL };
	gchar *out = NULL;

	for (const gchar *p = hash; *p != '\0'; p++) {
		if (*p == '$' || *p == '\\' || *p == '{' || *p == '}')
			g_string_append_c(expr, '\\');
		g_string_append_c(expr, *p);
	}
	g_string_append(expr, "}}}");
	argv[4] = expr->str;
	if (exm_test_run(argv, &out, NULL) != 0)
		return g_strdup("exim failed");
	return g_strstrip(out);
}

/* A secret's fingerprint is the one exim logs for it (docs/usage.md §1): the
 * scheme stripped, every family, 16 lower-case hex digits, distinct secrets
 * apart. */
static void
test_fingerprint(void)
{
	g_autofree gchar *exim = exm_test_find_program("exim4");
	g_autofree gchar *dir = NULL;
	g_autofree gchar *conf = NULL;
	g_autofree gchar *a = exm_mail_crypt_fingerprint("{SHA512-CRYPT}$6$abc");
	g_autofree gchar *b = exm_mail_crypt_fingerprint("$6$abc");
	g_autofree gchar *c = exm_mail_crypt_fingerprint("$6$abd");

	g_assert_cmpstr(a, ==, "6e8bf5d6fc2321f5"); /* python3 hashlib, by hand */
	g_assert_cmpstr(a, ==, b);
	g_assert_cmpstr(a, !=, c);
	if (exim == NULL) {
		exm_test_peer_missing("exim4 is not installed");
		return;
	}
	dir = exm_test_mkdtemp("exm-fingerprint");
	conf = g_build_filename(dir, "exim4.conf", NULL);
	g_assert_true(g_file_set_contents(conf, "keep_environment =\n", -1, NULL));
	for (gsize i = 0; i < G_N_ELEMENTS(families); i++) {
		g_autofree gchar *hash = real_hash(families[i].prefix, families[i].count, "s3cret");
		g_autofree gchar *ours = exm_mail_crypt_fingerprint(hash);
		g_autofree gchar *theirs = exim_fingerprint(exim, conf, hash);

		g_assert_cmpuint(strlen(ours), ==, EXM_MAIL_CRYPT_FINGERPRINT_LEN);
		g_assert_cmpstr(ours, ==, theirs);
	}
	exm_test_rmtree(dir);
}

/* Hashes printed by the real `openssl passwd` are accepted ($6$, $5$) or refused ($1$). */
static void
test_openssl_interop(void)
{
	g_autofree gchar *openssl = exm_test_find_program("openssl");
	struct {
		const gchar *flag;
		gboolean ok;
	} cases[] = { { "-6", TRUE }, { "-5", TRUE }, { "-1", FALSE } };

	if (openssl == NULL) {
		exm_test_peer_missing("openssl is not installed");
		return;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		const gchar *argv[] = { openssl, "passwd", cases[i].flag, "s3cret", NULL };
		g_autofree gchar *out = NULL;

		g_assert_cmpint(exm_test_run(argv, &out, NULL), ==, 0);
		g_strchomp(out);
		g_assert_cmpint(exm_mail_validate_password_hash(out, NULL), ==, cases[i].ok);
		g_assert_cmpint(exm_mail_crypt_verify("s3cret", out), ==, cases[i].ok);
	}
}

/* Errors convert by code: a broken rule is the client's (400), a libcrypt
 * failure is the server's (500, message hidden). */
static void
test_error_conversion(void)
{
	g_autoptr(GError) invalid =
		g_error_new_literal(EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID, "password: too long");
	g_autoptr(GError) crypt =
		g_error_new_literal(EXM_MAIL_ERROR, EXM_MAIL_ERROR_CRYPT, "crypt_r: no entropy");
	g_autofree gchar *body = NULL;

	g_assert_cmpuint(exm_error_http_status(invalid), ==, 400);
	g_assert_cmpstr(exm_error_type_name(invalid), ==, "ValidationError");
	g_assert_cmpuint(exm_error_http_status(crypt), ==, 500);
	g_assert_cmpstr(exm_error_type_name(crypt), ==, "InternalError");
	body = exm_error_body(crypt);
	g_assert_null(strstr(body, "entropy"));
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/mail/crypt/real-hashes", test_real_hashes);
	g_test_add_func("/mail/crypt/fingerprint", test_fingerprint);
	g_test_add_func("/mail/crypt/real-rounds", test_real_rounds);
	g_test_add_func("/mail/crypt/near-misses", test_near_misses);
	g_test_add_func("/mail/crypt/checksum-last-char", test_checksum_last_char);
	g_test_add_func("/mail/crypt/bcrypt-salt-agrees-with-libxcrypt",
			test_bcrypt_salt_agrees_with_libxcrypt);
	g_test_add_func("/mail/crypt/yescrypt-salt-agrees-with-libxcrypt",
			test_yescrypt_salt_agrees_with_libxcrypt);
	g_test_add_func("/mail/crypt/salt-lengths", test_salt_lengths);
	g_test_add_func("/mail/crypt/hand-made", test_hand_made);
	g_test_add_func("/mail/crypt/canonical-message", test_canonical_message);
	g_test_add_func("/mail/crypt/refused-with-hint", test_refused_with_hint);
	g_test_add_func("/mail/crypt/hash-cost", test_hash_cost);
	g_test_add_func("/mail/crypt/hostile", test_hostile);
	g_test_add_func("/mail/crypt/hash-password", test_hash_password);
	g_test_add_func("/mail/crypt/sha512-like-openssl", test_sha512_like_openssl);
	g_test_add_func("/mail/crypt/plaintext-rules", test_plaintext_rules);
	g_test_add_func("/mail/crypt/verify-refuses", test_verify_refuses);
	g_test_add_func("/mail/crypt/strip-scheme", test_strip_scheme);
	g_test_add_func("/mail/crypt/openssl-interop", test_openssl_interop);
	g_test_add_func("/mail/crypt/exim-crypteq", test_exim_crypteq);
	g_test_add_func("/mail/crypt/error-conversion", test_error_conversion);
	return g_test_run();
}
