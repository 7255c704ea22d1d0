/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * exm_mail_cert_check() (docs/tls.md §3) against real certificates made by
 * openssl (tests/unit/tls/make-certs.sh): a root, an intermediate and leaves
 * of each key type.  "now" is the test's own, an instant inside the
 * fixtures' validity, so expiry is checked without waiting and the answers
 * do not change with the day the test runs.
 */
#include <string.h>

#include "exm-mail-cert.h"
#include "exm-mail-error.h"
#include "exm-test.h"

#define HOST "mail.example.com"

static gchar *
fixture(const gchar *name)
{
	g_autofree gchar *path = g_test_build_filename(G_TEST_DIST, "unit", "tls", name, NULL);
	gchar *text = NULL;

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	return text;
}

/* The PEM files @names (NULL-ended) joined in order. */
static gchar *
chain_of(const gchar *const *names)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; names[i] != NULL; i++) {
		g_autofree gchar *text = fixture(names[i]);
		g_string_append(s, text);
	}
	return g_string_free(s, FALSE);
}

/* The check's error message for @chain and key file @key ("" when it passes). */
static gchar *
check(const gchar *const *chain, const gchar *key, const gchar *host, gint64 now)
{
	g_autofree gchar *pem = chain_of(chain);
	g_autofree gchar *key_pem = key != NULL ? fixture(key) : NULL;
	g_autoptr(GError) error = NULL;
	gboolean ok = exm_mail_cert_check(
		pem, key_pem, key_pem != NULL ? strlen(key_pem) : 0, host, now, NULL, &error);

	if (ok) {
		g_assert_no_error(error);
		return g_strdup("");
	}
	g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
	return g_strdup(error->message);
}

#define YEAR ((gint64)365 * 86400)

/* The notAfter of the committed leaf rsa.pem.  The checks are made at
 * instants taken from it, not from the clock: the fixtures were made once
 * (make-certs.sh: valid ten years from that day), and a check "two days ago"
 * stopped being before their notBefore two days after they were made. */
static gint64
leaf_not_after(void)
{
	g_autofree gchar *pem = fixture("rsa.pem");
	ExmMailCertInfo leaf = { 0 };
	gint64 t;

	g_assert_true(exm_mail_cert_read_leaf(pem, strlen(pem), &leaf));
	t = leaf.not_after;
	exm_mail_cert_info_clear(&leaf);
	/* 2030-01-01: a date read wrong would make the cases below vacuous */
	g_assert_cmpint(t, >, 1893456000);
	return t;
}

/* An instant inside every fixture's validity (the middle of its ten years). */
static gint64
now(void)
{
	return leaf_not_after() - 5 * YEAR;
}

#define CHAIN(...) ((const gchar *const[]){ __VA_ARGS__, NULL })

static void
test_good_chains(void)
{
	g_autofree gchar *pem = chain_of(CHAIN("rsa.pem", "inter.pem", "root.pem"));
	g_autofree gchar *key = fixture("rsa.key");
	ExmMailCertInfo info = { 0 };
	g_autoptr(GError) error = NULL;
	g_autofree gchar *ec = NULL;

	g_assert_true(exm_mail_cert_check(pem, key, strlen(key), HOST, now(), &info, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(info.key_type, ==, "RSA-2048");
	g_assert_nonnull(strstr(info.subject, HOST));
	g_assert_nonnull(strstr(info.issuer, "Test Intermediate"));
	g_assert_cmpint(info.not_after, >, now());
	{
		ExmMailCertInfo leaf = { 0 };

		/* the first certificate of a chain is the one read */
		g_assert_true(exm_mail_cert_read_leaf(pem, strlen(pem), &leaf));
		g_assert_cmpint(leaf.not_after, ==, info.not_after);
		g_assert_cmpstr(leaf.subject, ==, info.subject);
		g_assert_cmpstr(leaf.issuer, ==, info.issuer);
		g_assert_null(leaf.key_type);
		exm_mail_cert_info_clear(&leaf);
		/* a key alone is no certificate: nothing is left filled */
		g_assert_false(exm_mail_cert_read_leaf(key, strlen(key), &leaf));
		g_assert_null(leaf.subject);
		g_assert_null(leaf.issuer);
		g_assert_cmpint(leaf.not_after, ==, 0);
	}
	exm_mail_cert_info_clear(&info);
	/* EC P-384 with a wildcard SAN */
	ec = check(CHAIN("ec384.pem", "inter.pem", "root.pem"), "ec384.key", HOST, now());
	g_assert_cmpstr(ec, ==, "");
}

static void
assert_refused(const gchar *message, const gchar *want)
{
	g_test_message("%s", message);
	g_assert_nonnull(strstr(message, want));
}

static void
test_refused(void)
{
	const gchar *const *full = CHAIN("rsa.pem", "inter.pem", "root.pem");
	gint64 later = leaf_not_after() + 86400;
	gint64 before = leaf_not_after() - 11 * YEAR;
	struct {
		gchar *message;
		const gchar *want;
	} cases[] = {
		{ check(full, "stranger.key", HOST, now()), "does not match" },
		{ check(full, "rsa.key", "mail.example.org", now()), "no subjectAltName covers" },
		{ check(CHAIN("nosan.pem", "inter.pem", "root.pem"), "nosan.key", HOST, now()),
		  "no subjectAltName" },
		{ check(CHAIN("other.pem", "inter.pem", "root.pem"), "other.key", HOST, now()),
		  "no subjectAltName" },
		{ check(full, "rsa.key", HOST, later), "has expired" },
		{ check(full, "rsa.key", HOST, before), "not valid yet" },
		{ check(CHAIN("rsa.pem", "root.pem", "inter.pem"), "rsa.key", HOST, now()),
		  "out of order" },
		{ check(CHAIN("rsa.pem", "root.pem"), "rsa.key", HOST, now()), "incomplete" },
		{ check(CHAIN("rsa.pem", "inter.pem"), "rsa.key", HOST, now()), "incomplete" },
		{ check(CHAIN("rsa1024.pem", "inter.pem", "root.pem"), "rsa1024.key", HOST, now()),
		  "RSA of 1024 bits" },
		{ check(CHAIN("ed25519.pem", "inter.pem", "root.pem"), "ed25519.key", HOST, now()),
		  "is not accepted" },
		{ check(full, NULL, HOST, now()), "key:" },
		{ check(full, "rsa.pem", HOST, now()), "not an unencrypted PEM private key" },
		{ check(CHAIN("stranger.key"), "rsa.key", HOST, now()), "no PEM certificate" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		assert_refused(cases[i].message, cases[i].want);
		g_free(cases[i].message);
	}
}

/* The message never carries the key's text. */
static void
test_key_not_echoed(void)
{
	g_autofree gchar *pem = chain_of(CHAIN("other.pem", "inter.pem", "root.pem"));
	g_autofree gchar *key = fixture("rsa.key");
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) lines = g_strsplit(key, "\n", -1);

	g_assert_false(exm_mail_cert_check(pem, key, strlen(key), HOST, now(), NULL, &error));
	for (guint i = 1; lines[i] != NULL && lines[i + 1] != NULL; i++)
		g_assert_null(strstr(error->message, lines[i]));
}

static void
test_too_long(void)
{
	g_autofree gchar *big = g_strnfill(EXM_MAIL_CERT_PEM_MAX + 1, 'A');
	g_autoptr(GError) error = NULL;

	g_assert_false(exm_mail_cert_check(big, "k", 1, HOST, now(), NULL, &error));
	g_assert_nonnull(strstr(error->message, "bytes"));
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/mail/cert/good-chains", test_good_chains);
	g_test_add_func("/mail/cert/refused", test_refused);
	g_test_add_func("/mail/cert/key-not-echoed", test_key_not_echoed);
	g_test_add_func("/mail/cert/too-long", test_too_long);
	return g_test_run();
}
