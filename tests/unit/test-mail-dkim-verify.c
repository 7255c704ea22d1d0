/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The DKIM verifier of the sandbox (common/mail/exm-mail-dkim-verify.c,
 * docs/sandbox.md §1) against an independent signer, python3-dkim: both
 * canonicalizations, `l=`, LF or CRLF line ends pass; a changed body, a
 * changed signed header, another key, an unsupported algorithm fail, each
 * saying why; a message without a signature of the domain and selector is
 * `none`.  The signature exim itself makes is checked in
 * tests/dp/test-dp-capture.c.
 */
#include <string.h>

#include "exm-config.h"
#include "exm-mail-dkim-verify.h"
#include "exm-test.h"

#define PYTHON "/usr/bin/python3"
#define SIGNER EXM_SOURCE_ROOT "/tests/unit/dkim-sign.py"
#define DOMAIN "example.com"

#define MESSAGE                                                                                    \
	"From: Stage <stage@example.com>\r\n"                                                      \
	"To: someone@example.net\r\n"                                                              \
	"Subject:   Hello\t  there \r\n"                                                           \
	"  folded\r\n"                                                                             \
	"Date: Sat, 05 Dec 2026 10:00:00 +0000\r\n"                                                \
	"\r\n"                                                                                     \
	"Hello  from the\tsandbox.  \r\n"                                                          \
	"\r\n"                                                                                     \
	" second line\r\n"                                                                         \
	"\r\n"                                                                                     \
	"\r\n"

typedef struct {
	gchar *dir;
	gchar *key;	   /* PEM private key */
	gchar *public_b64; /* p= */
	gchar *other_b64;  /* another key's p= */
} Keys;

static gchar *
public_b64(const gchar *dir, const gchar *pem)
{
	g_autofree gchar *der = g_build_filename(dir, "pub.der", NULL);
	const gchar *argv[] = { "openssl",  "pkey", "-in",  pem, "-pubout",
				"-outform", "DER",  "-out", der, NULL };
	g_autofree gchar *bytes = NULL;
	gsize len = 0;

	g_assert_cmpint(exm_test_run(argv, NULL, NULL), ==, 0);
	g_assert_true(g_file_get_contents(der, &bytes, &len, NULL));
	return g_base64_encode((const guchar *)bytes, len);
}

static gchar *
new_key(const gchar *dir, const gchar *name)
{
	gchar *pem = g_build_filename(dir, name, NULL);
	const gchar *argv[] = { "openssl", "genpkey",  "-algorithm",
				"RSA",	   "-pkeyopt", "rsa_keygen_bits:2048",
				"-out",	   pem,	       NULL };

	g_assert_cmpint(exm_test_run(argv, NULL, NULL), ==, 0);
	return pem;
}

static gboolean
keys_init(Keys *k)
{
	g_autofree gchar *other = NULL;
	const gchar *probe[] = { PYTHON, "-c", "import dkim", NULL };

	if (exm_test_run(probe, NULL, NULL) != 0) {
		exm_test_peer_missing("python3-dkim is not installed");
		return FALSE;
	}
	k->dir = exm_test_mkdtemp("exm-dkim");
	k->key = new_key(k->dir, "key.pem");
	k->public_b64 = public_b64(k->dir, k->key);
	other = new_key(k->dir, "other.pem");
	k->other_b64 = public_b64(k->dir, other);
	return TRUE;
}

static void
keys_clear(Keys *k)
{
	exm_test_rmtree(k->dir);
	g_free(k->dir);
	g_free(k->key);
	g_free(k->public_b64);
	g_free(k->other_b64);
}

/* The message signed by python3-dkim for @domain, selector "platform". */
static gchar *
sign(Keys *k, const gchar *text, const gchar *domain, const gchar *hc, const gchar *bc, gboolean l)
{
	g_autofree gchar *path = g_build_filename(k->dir, "msg.eml", NULL);
	const gchar *argv[] = { PYTHON,	    SIGNER, path, k->key,	 domain,
				"platform", hc,	    bc,	  l ? "1" : "0", NULL };
	gchar *out = NULL;

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_assert_cmpint(exm_test_run(argv, &out, NULL), ==, 0);
	return out;
}

static ExmMailDkimResult
check(const gchar *text, const gchar *key, gchar **detail)
{
	return exm_mail_dkim_verify_message(text, strlen(text), DOMAIN, "platform", key, detail);
}

/* Every canonicalization pair, with and without l=, CRLF and LF: pass. */
static void
test_pass(void)
{
	static const gchar *const canon[] = { "relaxed", "simple" };
	Keys k = { 0 };

	if (!keys_init(&k))
		return;
	for (guint h = 0; h < 2; h++) {
		for (guint b = 0; b < 2; b++) {
			for (guint l = 0; l < 2; l++) {
				g_autofree gchar *signed_text =
					sign(&k, MESSAGE, DOMAIN, canon[h], canon[b], l);
				g_autoptr(GString) lf = g_string_new(signed_text);
				g_autofree gchar *detail = NULL;
				g_autofree gchar *detail_lf = NULL;

				g_test_message("c=%s/%s l=%u", canon[h], canon[b], l);
				g_string_replace(lf, "\r\n", "\n", 0);
				g_assert_cmpint(check(signed_text, k.public_b64, &detail),
						==,
						EXM_MAIL_DKIM_PASS);
				g_assert_cmpstr(detail, ==, "d=example.com s=platform");
				g_assert_cmpint(check(lf->str, k.public_b64, &detail_lf),
						==,
						EXM_MAIL_DKIM_PASS);
			}
		}
	}
	keys_clear(&k);
}

static void
expect_fail(const gchar *text, const gchar *key, const gchar *why)
{
	g_autofree gchar *detail = NULL;

	g_assert_cmpint(check(text, key, &detail), ==, EXM_MAIL_DKIM_FAIL);
	g_test_message("%s", detail);
	g_assert_true(g_str_has_prefix(detail, why));
}

/* What a receiver would refuse is refused, each with its reason. */
static void
test_fail(void)
{
	Keys k = { 0 };
	g_autofree gchar *relaxed = NULL;
	g_autoptr(GString) body = NULL;
	g_autoptr(GString) subject = NULL;
	g_autoptr(GString) algorithm = NULL;
	g_autoptr(GString) spaced = NULL;

	if (!keys_init(&k))
		return;
	relaxed = sign(&k, MESSAGE, DOMAIN, "relaxed", "relaxed", FALSE);
	body = g_string_new(relaxed);
	g_string_replace(body, "second line", "second lime", 1);
	expect_fail(body->str, k.public_b64, "body hash mismatch");
	subject = g_string_new(relaxed);
	g_string_replace(subject, "Hello\t", "Hallo\t", 1);
	expect_fail(subject->str, k.public_b64, "signature mismatch");
	expect_fail(relaxed, k.other_b64, "signature mismatch");
	expect_fail(relaxed, "bm90IGEga2V5", "signature mismatch");
	expect_fail(relaxed, NULL, "signature mismatch");
	algorithm = g_string_new(relaxed);
	g_string_replace(algorithm, "a=rsa-sha256", "a=rsa-sha1", 1);
	expect_fail(algorithm->str, k.public_b64, "unsupported algorithm");
	/* tags a verifier must refuse, each for what it says */
	{
		static const struct {
			const gchar *from, *to, *why;
		} edits[] = {
			{ "v=1", "v=2", "unsupported version" },
			{ "c=relaxed/relaxed", "c=relaxed/bogus", "unsupported canonicalization" },
			{ "c=relaxed/relaxed", "c=bogus", "unsupported canonicalization" },
			{ "bh=", "xh=", "a required tag" },
			{ "h=", "x=", "a required tag" },
		};

		for (guint i = 0; i < G_N_ELEMENTS(edits); i++) {
			g_autoptr(GString) t = g_string_new(relaxed);

			g_assert_cmpuint(g_string_replace(t, edits[i].from, edits[i].to, 1), ==, 1);
			expect_fail(t->str, k.public_b64, edits[i].why);
		}
	}
	/* whitespace a relaxed signature ignores is ignored */
	spaced = g_string_new(relaxed);
	g_string_replace(spaced, "Subject:   Hello", "Subject: Hello   ", 1);
	g_string_replace(spaced, "the\tsandbox.  ", "the sandbox.", 1);
	g_assert_cmpint(check(spaced->str, k.public_b64, NULL), ==, EXM_MAIL_DKIM_PASS);
	keys_clear(&k);
}

/* No signature of the domain and selector: none (another domain's is not ours). */
static void
test_none(void)
{
	Keys k = { 0 };
	g_autofree gchar *other = NULL;
	g_autofree gchar *detail = NULL;

	g_assert_cmpint(check(MESSAGE, "x", &detail), ==, EXM_MAIL_DKIM_NONE);
	g_assert_cmpstr(detail, ==, "no signature by d=example.com s=platform");
	g_assert_cmpint(check("", NULL, NULL), ==, EXM_MAIL_DKIM_NONE);
	g_assert_cmpint(check("no header at all", NULL, NULL), ==, EXM_MAIL_DKIM_NONE);
	g_assert_cmpstr(exm_mail_dkim_verify_result_to_string(EXM_MAIL_DKIM_NONE), ==, "none");
	if (!keys_init(&k))
		return;
	other = sign(&k, MESSAGE, "example.org", "relaxed", "relaxed", FALSE);
	g_assert_cmpint(check(other, k.public_b64, NULL), ==, EXM_MAIL_DKIM_NONE);
	keys_clear(&k);
}

/* Odd shapes: a continuation line before any field and a line without a
 * colon are ignored; a signature without d= or of another selector is not
 * ours; an empty body signs and verifies in both canonicalizations; a
 * negative l= is refused. */
static void
test_odd_shapes(void)
{
	static const gchar *const canon[] = { "relaxed", "simple" };
	Keys k = { 0 };
	g_autofree gchar *relaxed = NULL;
	g_autoptr(GString) odd = NULL;
	g_autoptr(GString) no_d = NULL;
	g_autoptr(GString) other_s = NULL;
	g_autoptr(GString) negative = NULL;

	if (!keys_init(&k))
		return;
	relaxed = sign(&k, MESSAGE, DOMAIN, "relaxed", "relaxed", TRUE);
	odd = g_string_new(" stray continuation\r\nno colon on this line\r\n");
	g_string_append(odd, relaxed);
	g_assert_cmpint(check(odd->str, k.public_b64, NULL), ==, EXM_MAIL_DKIM_PASS);
	no_d = g_string_new(relaxed);
	g_assert_cmpuint(g_string_replace(no_d, "d=example.com", "x=example.com", 1), ==, 1);
	g_assert_cmpint(check(no_d->str, k.public_b64, NULL), ==, EXM_MAIL_DKIM_NONE);
	other_s = g_string_new(relaxed);
	g_assert_cmpuint(g_string_replace(other_s, "s=platform", "s=other", 1), ==, 1);
	g_assert_cmpint(check(other_s->str, k.public_b64, NULL), ==, EXM_MAIL_DKIM_NONE);
	negative = g_string_new(relaxed);
	g_assert_cmpuint(g_string_replace(negative, " l=", " l=-5", 1), ==, 1);
	expect_fail(negative->str, k.public_b64, "a required tag");
	for (guint h = 0; h < 2; h++) {
		g_autofree gchar *empty = sign(&k,
					       "From: a@example.com\r\nSubject: empty\r\n\r\n",
					       DOMAIN,
					       canon[h],
					       canon[h],
					       FALSE);

		g_assert_cmpint(check(empty, k.public_b64, NULL), ==, EXM_MAIL_DKIM_PASS);
	}
	keys_clear(&k);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/mail/dkim-verify/pass", test_pass);
	g_test_add_func("/mail/dkim-verify/fail", test_fail);
	g_test_add_func("/mail/dkim-verify/none", test_none);
	g_test_add_func("/mail/dkim-verify/odd-shapes", test_odd_shapes);
	return g_test_run();
}
