/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A tenant's own TLS certificate (issue 22, docs/tls.md §3): the checks a PEM
 * chain and key pass before the node serves them.
 */
#pragma once

#include <glib.h>

/* bounds of what is read at all: a chain of at most this many certificates
 * within this many bytes (a real chain is 2-4 certificates, ~6 KiB) */
#define EXM_MAIL_CERT_CHAIN_MAX	   8
#define EXM_MAIL_CERT_PEM_MAX	   65536
#define EXM_MAIL_CERT_RSA_MIN_BITS 2048
#define EXM_MAIL_CERT_RSA_MAX_BITS 8192

typedef struct {
	gchar *subject;	  /* the leaf's subject, one line */
	gchar *issuer;	  /* the leaf's issuer, one line */
	gint64 not_after; /* the leaf's notAfter, seconds since the epoch */
	gchar *key_type;  /* "RSA-2048", "EC-P-256", "EC-P-384" */
} ExmMailCertInfo;

void exm_mail_cert_info_clear(ExmMailCertInfo *info);

/**
 * exm_mail_cert_read_leaf:
 * @pem: PEM text; its first certificate is read (the leaf of a chain); the
 *   rest (more certificates, a private key) is not looked at
 * @len: its length (at most %EXM_MAIL_CERT_PEM_MAX)
 * @info: (out caller-allocates): that certificate's subject, issuer and
 *   notAfter (@key_type stays %NULL); cleared when it returns %FALSE
 *
 * Nothing is checked: what a node serves is described, not judged.
 *
 * Returns: %FALSE when @pem holds no readable certificate
 */
gboolean exm_mail_cert_read_leaf(const gchar *pem, gsize len, ExmMailCertInfo *info);

/**
 * exm_mail_cert_fingerprint:
 * @pem: PEM text whose first certificate is taken (as exm_mail_cert_read_leaf())
 * @len: its length (at most %EXM_MAIL_CERT_PEM_MAX)
 *
 * Returns: (transfer full) (nullable): the SHA-256 of that certificate's DER
 *   as 64 lower-case hex digits (what `openssl x509 -fingerprint -sha256`
 *   prints without the colons), %NULL when @pem holds no certificate
 */
gchar *exm_mail_cert_fingerprint(const gchar *pem, gsize len);

/**
 * exm_mail_cert_check:
 * @chain_pem: the certificate chain, leaf first, each certificate followed by
 *   the one that issued it; the root may be left out when it is a public CA
 *   of the system's trust store
 * @key_pem: the leaf's private key, PEM, unencrypted
 * @key_len: its length
 * @hostname: the name a SAN must cover (the instance's smtp_hostname)
 * @now: seconds since the epoch
 * @info: (out caller-allocates) (optional): the leaf's details when it passes
 *
 * The key matches the leaf; the chain is in order and complete (it ends in a
 * self-signed certificate or one the system trusts); a subjectAltName DNS
 * entry covers @hostname (wildcards as in RFC 6125; the CN is not looked at);
 * no certificate is expired or not yet valid; the key is RSA of 2048 to 8192
 * bits or EC P-256/P-384.  Nothing of the key is copied or logged.
 *
 * Returns: %TRUE when all hold; otherwise %FALSE with EXM_MAIL_ERROR_INVALID
 *   saying what is wrong and what to send instead
 */
gboolean exm_mail_cert_check(const gchar *chain_pem,
			     const gchar *key_pem,
			     gsize key_len,
			     const gchar *hostname,
			     gint64 now,
			     ExmMailCertInfo *info,
			     GError **error);
