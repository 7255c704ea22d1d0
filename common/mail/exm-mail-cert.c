/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A tenant's own TLS certificate (docs/tls.md §3), checked with OpenSSL before
 * it goes anywhere: the key matches, the chain is ordered and complete, a SAN
 * covers the node's name, nothing is expired, the key is strong enough.
 */
#include "exm-mail-cert.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "exm-cleanup.h"
#include "exm-mail-error.h"

typedef STACK_OF(X509) CertStack;

static void
cert_stack_free(CertStack *s)
{
	sk_X509_pop_free(s, X509_free);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CertStack, cert_stack_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_STORE, X509_STORE_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_STORE_CTX, X509_STORE_CTX_free)

void
exm_mail_cert_info_clear(ExmMailCertInfo *info)
{
	g_clear_pointer(&info->subject, g_free);
	g_clear_pointer(&info->issuer, g_free);
	g_clear_pointer(&info->key_type, g_free);
	info->not_after = 0;
}

static gboolean invalid(GError **error, const gchar *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean
invalid(GError **error, const gchar *fmt, ...)
{
	va_list ap;
	g_autofree gchar *msg = NULL;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID, msg);
	return FALSE;
}

static gchar *
name_line(const X509_NAME *name)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;

	X509_NAME_print_ex(bio, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
	len = BIO_get_mem_data(bio, &data);
	return g_strndup(data, len > 0 ? (gsize)len : 0);
}

/* Every CERTIFICATE block of @pem, in order; other blocks are an error. */
static CertStack *
read_chain(const gchar *pem, GError **error)
{
	gsize len = strlen(pem);
	g_autoptr(BIO) bio = NULL;
	g_autoptr(CertStack) chain = sk_X509_new_null();
	X509 *cert;

	if (len == 0 || len > EXM_MAIL_CERT_PEM_MAX) {
		invalid(error,
			"certificate: send the PEM chain (1 to %d bytes)",
			EXM_MAIL_CERT_PEM_MAX);
		return NULL;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_num(chain) == EXM_MAIL_CERT_CHAIN_MAX) {
			X509_free(cert);
			invalid(error,
				"certificate: more than %d certificates in the chain",
				EXM_MAIL_CERT_CHAIN_MAX);
			return NULL;
		}
		sk_X509_push(chain, cert);
	}
	if (sk_X509_num(chain) == 0) {
		invalid(error, "certificate: no PEM certificate found");
		return NULL;
	}
	return g_steal_pointer(&chain);
}

/* An unencrypted key only: a passphrase prompt would block (the callback
 * refuses). */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

static EVP_PKEY *
read_key(const gchar *pem, gsize len, GError **error)
{
	g_autoptr(BIO) bio = NULL;
	EVP_PKEY *key;

	if (len == 0 || len > EXM_MAIL_CERT_PEM_MAX) {
		invalid(error,
			"key: send the PEM private key (1 to %d bytes)",
			EXM_MAIL_CERT_PEM_MAX);
		return NULL;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (key == NULL)
		invalid(error, "key: not an unencrypted PEM private key");
	return key;
}

/* RSA 2048..8192 or EC P-256/P-384; the type in @out. */
static gboolean
check_key_type(EVP_PKEY *key, gchar **out, GError **error)
{
	gchar curve[64] = "";
	gint bits = EVP_PKEY_get_bits(key);

	if (EVP_PKEY_is_a(key, "RSA")) {
		if (bits < EXM_MAIL_CERT_RSA_MIN_BITS || bits > EXM_MAIL_CERT_RSA_MAX_BITS)
			return invalid(error,
				       "key: RSA of %d bits; send %d to %d bits",
				       bits,
				       EXM_MAIL_CERT_RSA_MIN_BITS,
				       EXM_MAIL_CERT_RSA_MAX_BITS);
		*out = g_strdup_printf("RSA-%d", bits);
		return TRUE;
	}
	if (EVP_PKEY_is_a(key, "EC") &&
	    EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof curve, NULL) == 1 &&
	    (g_str_equal(curve, "prime256v1") || g_str_equal(curve, "secp384r1"))) {
		*out = g_strdup(g_str_equal(curve, "prime256v1") ? "EC-P-256" : "EC-P-384");
		return TRUE;
	}
	return invalid(error,
		       "key: type %s is not accepted; send RSA (2048 bits or more) or EC "
		       "P-256/P-384",
		       EVP_PKEY_get0_type_name(key) != NULL ? EVP_PKEY_get0_type_name(key)
							    : "unknown");
}

/* Each certificate is within its validity at @now. */
static gboolean
check_dates(CertStack *chain, gint64 now, GError **error)
{
	time_t t = (time_t)now;

	for (gint i = 0; i < sk_X509_num(chain); i++) {
		X509 *c = sk_X509_value(chain, i);
		g_autofree gchar *subject = name_line(X509_get_subject_name(c));

		if (X509_cmp_time(X509_get0_notAfter(c), &t) <= 0)
			return invalid(error,
				       "certificate %d (%s) has expired; send a renewed one",
				       i + 1,
				       subject);
		if (X509_cmp_time(X509_get0_notBefore(c), &t) > 0)
			return invalid(
				error, "certificate %d (%s) is not valid yet", i + 1, subject);
	}
	return TRUE;
}

/* Certificate i+1 issued certificate i; a missing issuer and a misplaced one
 * get different messages. */
static gboolean
check_order(CertStack *chain, GError **error)
{
	gint n = sk_X509_num(chain);

	for (gint i = 0; i + 1 < n; i++) {
		X509 *c = sk_X509_value(chain, i);
		X509 *next = sk_X509_value(chain, i + 1);
		g_autofree gchar *subject = name_line(X509_get_subject_name(c));
		gboolean elsewhere = FALSE;

		if (X509_check_issued(next, c) == X509_V_OK &&
		    X509_verify(c, X509_get0_pubkey(next)) == 1)
			continue;
		for (gint k = 0; k < n; k++)
			elsewhere = elsewhere ||
				    (k != i &&
				     X509_check_issued(sk_X509_value(chain, k), c) == X509_V_OK);
		if (elsewhere)
			return invalid(
				error,
				"certificate chain out of order: certificate %d (%s) must be "
				"followed by its issuer",
				i + 1,
				subject);
		return invalid(error,
			       "certificate chain incomplete: the issuer of certificate %d (%s) "
			       "is missing; append the intermediate certificates",
			       i + 1,
			       subject);
	}
	return TRUE;
}

/* The chain ends in a self-signed certificate or verifies against the system's
 * trust store. */
static gboolean
check_complete(CertStack *chain, gint64 now, GError **error)
{
	X509 *last = sk_X509_value(chain, sk_X509_num(chain) - 1);
	g_autoptr(X509_STORE) store = X509_STORE_new();
	g_autoptr(X509_STORE_CTX) ctx = X509_STORE_CTX_new();
	g_autofree gchar *issuer = NULL;

	if (X509_check_issued(last, last) == X509_V_OK &&
	    X509_verify(last, X509_get0_pubkey(last)) == 1)
		return TRUE;
	X509_STORE_set_default_paths(store);
	if (X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0), chain) == 1) {
		X509_STORE_CTX_set_time(ctx, 0, (time_t)now);
		if (X509_verify_cert(ctx) == 1)
			return TRUE;
	}
	issuer = name_line(X509_get_issuer_name(last));
	return invalid(error,
		       "certificate chain incomplete: no trusted issuer (%s) for the last "
		       "certificate; append the intermediate certificates up to a public CA",
		       issuer);
}

/* %FALSE when the notAfter cannot be read (then @info is half filled). */
static gboolean
fill_info(X509 *leaf, gchar *key_type, ExmMailCertInfo *info)
{
	struct tm tm = { 0 };

	info->subject = name_line(X509_get_subject_name(leaf));
	info->issuer = name_line(X509_get_issuer_name(leaf));
	info->key_type = key_type;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) != 1)
		return FALSE;
	info->not_after = (gint64)timegm(&tm);
	return TRUE;
}

gboolean
exm_mail_cert_read_leaf(const gchar *pem, gsize len, ExmMailCertInfo *info)
{
	g_autoptr(BIO) bio = NULL;
	g_autoptr(X509) cert = NULL;

	if (pem == NULL || len == 0 || len > EXM_MAIL_CERT_PEM_MAX)
		return FALSE;
	bio = BIO_new_mem_buf(pem, (int)len);
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (cert == NULL || !fill_info(cert, NULL, info)) {
		exm_mail_cert_info_clear(info);
		return FALSE;
	}
	return TRUE;
}

gchar *
exm_mail_cert_fingerprint(const gchar *pem, gsize len)
{
	g_autoptr(BIO) bio = NULL;
	g_autoptr(X509) cert = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	GString *hex;

	if (pem == NULL || len == 0 || len > EXM_MAIL_CERT_PEM_MAX)
		return NULL;
	bio = BIO_new_mem_buf(pem, (int)len);
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (cert == NULL || X509_digest(cert, EVP_sha256(), md, &n) != 1)
		return NULL;
	hex = g_string_sized_new(2 * n);
	for (unsigned int i = 0; i < n; i++)
		g_string_append_printf(hex, "%02x", md[i]);
	return g_string_free(hex, FALSE);
}

gboolean
exm_mail_cert_check(const gchar *chain_pem,
		    const gchar *key_pem,
		    gsize key_len,
		    const gchar *hostname,
		    gint64 now,
		    ExmMailCertInfo *info,
		    GError **error)
{
	g_autoptr(CertStack) chain = read_chain(chain_pem != NULL ? chain_pem : "", error);
	g_autoptr(EVP_PKEY) key = NULL;
	g_autofree gchar *key_type = NULL;
	X509 *leaf;

	if (chain == NULL)
		return FALSE;
	key = read_key(key_pem != NULL ? key_pem : "", key_pem != NULL ? key_len : 0, error);
	if (key == NULL || !check_key_type(key, &key_type, error))
		return FALSE;
	leaf = sk_X509_value(chain, 0);
	if (EVP_PKEY_eq(X509_get0_pubkey(leaf), key) != 1)
		return invalid(error,
			       "key does not match the first certificate (the leaf); send the "
			       "leaf first and its own key");
	if (X509_check_host(leaf, hostname, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL) != 1)
		return invalid(error,
			       "certificate: no subjectAltName covers %s; send a certificate for "
			       "that name",
			       hostname);
	if (!check_dates(chain, now, error) || !check_order(chain, error) ||
	    !check_complete(chain, now, error))
		return FALSE;
	/* check_dates() read the leaf's notAfter already: this cannot fail */
	if (info != NULL)
		fill_info(leaf, g_steal_pointer(&key_type), info);
	return TRUE;
}
