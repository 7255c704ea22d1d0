/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-keys.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "exm-cleanup.h"
#include "exm-dp-error.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(ASN1_INTEGER, ASN1_INTEGER_free)

/* Sets @error from OpenSSL's error queue (and clears it). */
static gboolean
ssl_fail(GError **error, const gchar *what)
{
	unsigned long code = ERR_get_error();
	gchar buf[256] = "unknown error";

	if (code != 0)
		ERR_error_string_n(code, buf, sizeof(buf));
	ERR_clear_error();
	g_set_error(error, EXM_DP_ERROR, EXM_DP_ERROR_FAILED, "%s: %s", what, buf);
	return FALSE;
}

EVP_PKEY *
exm_dp_keys_generate_rsa(guint bits, GError **error)
{
	EVP_PKEY *key = EVP_RSA_gen(bits);

	if (key == NULL)
		ssl_fail(error, "rsa key generation");
	return key;
}

EVP_PKEY *
exm_dp_keys_load_rsa(const gchar *pem, gsize len, GError **error)
{
	g_autoptr(BIO) bio = BIO_new_mem_buf(pem, (int)len);
	g_autoptr(EVP_PKEY) key = NULL;

	if (bio == NULL || len > G_MAXINT) {
		ssl_fail(error, "key buffer");
		return NULL;
	}
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (key == NULL) {
		ssl_fail(error, "not a PEM private key");
		return NULL;
	}
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key) < 2048) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_FAILED,
			    "not an RSA key of at least 2048 bits");
		return NULL;
	}
	return g_steal_pointer(&key);
}

/* Copies a memory BIO's content; the BIO is a secure-heap one for secrets. */
static gchar *
bio_dup(BIO *bio, gsize *len)
{
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	gchar *copy = g_malloc(n + 1);

	memcpy(copy, data, n);
	copy[n] = '\0';
	if (len != NULL)
		*len = n;
	return copy;
}

gchar *
exm_dp_keys_private_pem(EVP_PKEY *key, gsize *len, GError **error)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_secmem());

	if (bio == NULL ||
	    !PEM_write_bio_PrivateKey_traditional(bio, key, NULL, NULL, 0, NULL, NULL)) {
		ssl_fail(error, "private key encoding");
		return NULL;
	}
	return bio_dup(bio, len);
}

gchar *
exm_dp_keys_public_b64(EVP_PKEY *key, GError **error)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(key, &der);
	gchar *b64;

	if (n <= 0) {
		ssl_fail(error, "public key encoding");
		return NULL;
	}
	b64 = g_base64_encode(der, n);
	OPENSSL_free(der);
	return b64;
}

static gboolean
add_ext(X509 *cert, int nid, const gchar *value, GError **error)
{
	X509V3_CTX ctx;
	g_autoptr(X509_EXTENSION) ext = NULL;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL || !X509_add_ext(cert, ext, -1))
		return ssl_fail(error, "certificate extension");
	return TRUE;
}

static gboolean
set_serial(X509 *cert, GError **error)
{
	g_autoptr(BIGNUM) bn = BN_new();

	if (bn == NULL || !BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL)
		return ssl_fail(error, "certificate serial");
	return TRUE;
}

static gboolean
set_names(X509 *cert, const gchar *host, GError **error)
{
	X509_NAME *name = X509_get_subject_name(cert);

	if (!X509_NAME_add_entry_by_txt(
		    name, "CN", MBSTRING_ASC, (const unsigned char *)host, -1, -1, 0) ||
	    !X509_set_issuer_name(cert, name))
		return ssl_fail(error, "certificate name");
	return TRUE;
}

X509 *
exm_dp_keys_self_signed(EVP_PKEY *key,
			const gchar *host,
			const gchar *alt,
			guint days,
			GError **error)
{
	g_autoptr(X509) cert = X509_new();
	g_autofree gchar *san = alt != NULL ? g_strdup_printf("DNS:%s,DNS:%s", host, alt)
					    : g_strdup_printf("DNS:%s", host);

	if (cert == NULL || !X509_set_version(cert, 2) || !set_serial(cert, error) ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400) == NULL ||
	    !X509_set_pubkey(cert, key)) {
		if (error == NULL || *error == NULL)
			ssl_fail(error, "certificate");
		return NULL;
	}
	if (!set_names(cert, host, error) ||
	    !add_ext(cert, NID_basic_constraints, "critical,CA:FALSE", error) ||
	    !add_ext(cert, NID_key_usage, "critical,digitalSignature,keyEncipherment", error) ||
	    !add_ext(cert, NID_ext_key_usage, "serverAuth", error) ||
	    !add_ext(cert, NID_subject_key_identifier, "hash", error) ||
	    !add_ext(cert, NID_subject_alt_name, san, error))
		return NULL;
	if (X509_sign(cert, key, EVP_sha256()) <= 0) {
		ssl_fail(error, "certificate signature");
		return NULL;
	}
	return g_steal_pointer(&cert);
}

gchar *
exm_dp_keys_cert_pem(X509 *cert, gsize *len, GError **error)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());

	if (bio == NULL || !PEM_write_bio_X509(bio, cert)) {
		ssl_fail(error, "certificate encoding");
		return NULL;
	}
	return bio_dup(bio, len);
}

gboolean
exm_dp_keys_cert_matches(const gchar *pem, gsize len, EVP_PKEY *key, const gchar *host)
{
	g_autoptr(BIO) bio = NULL;
	g_autoptr(X509) cert = NULL;
	gboolean ok;

	if (len > G_MAXINT)
		return FALSE;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio != NULL)
		cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	ok = cert != NULL && X509_check_private_key(cert, key) == 1 &&
	     X509_check_host(cert, host, 0, 0, NULL) == 1;
	ERR_clear_error();
	return ok;
}
