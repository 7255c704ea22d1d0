/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Secret wiping and the foreign-type cleanups of exm-cleanup.h.
 */
#include "exm-base.h"
#include "exm-test.h"

#include <string.h>

static void
test_wipe(void)
{
	guint8 buf[64];
	guint8 zero[64] = { 0 };

	memset(buf, 0x5a, sizeof(buf));
	exm_secret_wipe(buf, 10);
	g_assert_cmpmem(buf, 10, zero, 10);
	g_assert_cmpuint(buf[10], ==, 0x5a); /* only the given length */
	exm_secret_wipe(buf, sizeof(buf));
	g_assert_cmpmem(buf, sizeof(buf), zero, sizeof(zero));
	/* NULL and empty are no-ops */
	exm_secret_wipe(NULL, 10);
	exm_secret_wipe(buf, 0);
}

static void
test_secret_free(void)
{
	exm_secret_free(NULL);
	exm_secret_free(g_strdup("hunter2"));
	exm_secret_free(g_strdup(""));
	{
		g_autoptr(ExmSecret) pw = g_strdup("correct horse battery staple");
		g_assert_cmpstr(pw, ==, "correct horse battery staple");
	}
	{
		/* g_steal_pointer out of the guard hands ownership on, unwiped */
		g_autoptr(ExmSecret) pw = g_strdup("kept");
		gchar *kept = g_steal_pointer(&pw);
		g_assert_cmpstr(kept, ==, "kept");
		exm_secret_free(kept);
	}
}

static void
test_foreign_autoptrs(void)
{
	/* The declared cleanups free what they hold (valgrind sees a leak otherwise). */
	g_autoptr(EVP_CIPHER_CTX) cctx = EVP_CIPHER_CTX_new();
	g_autoptr(EVP_MD_CTX) mctx = EVP_MD_CTX_new();
	g_autoptr(BIGNUM) bn = BN_new();
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	g_autoptr(X509) cert = X509_new();
	g_autoptr(X509_NAME) name = X509_NAME_new();
	g_autoptr(EVP_PKEY) pkey = EVP_PKEY_new();
	g_autoptr(EVP_PKEY_CTX) pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);

	g_assert_nonnull(cctx);
	g_assert_nonnull(mctx);
	g_assert_nonnull(bn);
	g_assert_nonnull(bio);
	g_assert_nonnull(cert);
	g_assert_nonnull(name);
	g_assert_nonnull(pkey);
	g_assert_nonnull(pctx);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/cleanup/wipe", test_wipe);
	g_test_add_func("/cleanup/secret-free", test_secret_free);
	g_test_add_func("/cleanup/foreign-autoptrs", test_foreign_autoptrs);
	return g_test_run();
}
