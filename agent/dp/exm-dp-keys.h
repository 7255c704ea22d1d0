/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Key material of a node, made with OpenSSL EVP: the DKIM RSA key and the TLS key
 * with its self-signed certificate.
 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define EXM_DP_KEYS_RSA_BITS  2048
#define EXM_DP_KEYS_CERT_DAYS 3650

/* A fresh RSA key of @bits bits. */
EVP_PKEY *exm_dp_keys_generate_rsa(guint bits, GError **error);

/**
 * exm_dp_keys_load_rsa:
 * @pem: a PEM private key (PKCS#1 or PKCS#8, unencrypted)
 *
 * Returns: (transfer full): the key; %NULL when it does not parse or is not RSA of
 * at least 2048 bits
 */
EVP_PKEY *exm_dp_keys_load_rsa(const gchar *pem, gsize len, GError **error);

/**
 * exm_dp_keys_private_pem:
 * @len: (out): its length
 *
 * Returns: (transfer full): PEM of the private key in the traditional
 * `RSA PRIVATE KEY` form (what opendkim-genkey writes); free with exm_secret_free
 */
gchar *exm_dp_keys_private_pem(EVP_PKEY *key, gsize *len, GError **error);

/* Returns: (transfer full): base64 of the DER SubjectPublicKeyInfo, no whitespace */
gchar *exm_dp_keys_public_b64(EVP_PKEY *key, GError **error);

/**
 * exm_dp_keys_self_signed:
 * @host: the subject CN, also a subjectAltName
 * @alt: (nullable): a second subjectAltName DNS name
 *
 * Returns: (transfer full): an X.509 v3 certificate signed with SHA-256 by @key
 */
X509 *exm_dp_keys_self_signed(EVP_PKEY *key,
			      const gchar *host,
			      const gchar *alt,
			      guint days,
			      GError **error);

/* Returns: (transfer full): PEM of @cert */
gchar *exm_dp_keys_cert_pem(X509 *cert, gsize *len, GError **error);

/* %TRUE when @pem is a certificate for @key that names @host. */
gboolean exm_dp_keys_cert_matches(const gchar *pem, gsize len, EVP_PKEY *key, const gchar *host);
