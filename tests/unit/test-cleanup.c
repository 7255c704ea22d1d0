/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Secret wiping and the foreign-type cleanups of exm-cleanup.h.
 */
#include "exm-base.h"
#include "exm-test.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* A secret file: read through one descriptor opened without following a
 * link, refused when others can reach it or it is not a regular file. */
static void
test_secret_read_file(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("exm-secret");
	g_autofree gchar *path = g_build_filename(dir, "key", NULL);
	g_autofree gchar *link = g_build_filename(dir, "link", NULL);
	g_autofree gchar *fifo = g_build_filename(dir, "fifo", NULL);
	const struct {
		guint mode;
		gboolean ok;
	} modes[] = { { 0600, TRUE },  { 0400, TRUE },	{ 0640, TRUE },
		      { 0644, FALSE }, { 0620, FALSE }, { 0604, FALSE } };

	g_assert_true(g_file_set_contents(path, "s3cret\n", -1, NULL));
	for (guint i = 0; i < G_N_ELEMENTS(modes); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(ExmSecret) text = NULL;

		g_assert_cmpint(g_chmod(path, (gint)modes[i].mode), ==, 0);
		text = exm_secret_read_file(path, &error);
		if (modes[i].ok) {
			g_assert_no_error(error);
			g_assert_cmpstr(text, ==, "s3cret\n");
			continue;
		}
		g_assert_null(text);
		g_assert_error(error, EXM_ERROR, EXM_ERROR_FAILED);
		g_assert_nonnull(strstr(error->message, "chmod 0600"));
	}
	g_assert_cmpint(g_chmod(path, 0600), ==, 0);
	g_assert_cmpint(symlink(path, link), ==, 0);
	g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
	{
		/* a link to a good file, a FIFO (the open must not block), a directory, none */
		const gchar *bad[] = { link, fifo, dir, "/nonexistent/exm-secret" };

		for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
			g_autoptr(GError) error = NULL;

			g_assert_null(exm_secret_read_file(bad[i], &error));
			g_assert_error(error, EXM_ERROR, EXM_ERROR_FAILED);
			g_assert_nonnull(strstr(error->message, bad[i]));
		}
	}
	exm_test_rmtree(dir);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/cleanup/wipe", test_wipe);
	g_test_add_func("/cleanup/secret-free", test_secret_free);
	g_test_add_func("/cleanup/secret-read-file", test_secret_read_file);
	g_test_add_func("/cleanup/foreign-autoptrs", test_foreign_autoptrs);
	return g_test_run();
}
