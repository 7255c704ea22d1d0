/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzz target: a tenant's certificate chain and key (common/mail/exm-mail-cert.h,
 * docs/tls.md §3), the input being the chain, a NUL byte, then the key.
 *
 * Properties: every refusal is EXM_MAIL_ERROR_INVALID with a message that
 * never carries key material (no "PRIVATE KEY" and none of the key's base64
 * lines); an accepted pair names its issuer and subject, a key type of the
 * accepted set and a notAfter after "now"; exm_mail_cert_read_leaf() agrees
 * with the check on the leaf.
 */
#include <string.h>

#include "exm-mail-cert.h"
#include "exm-mail-error.h"
#include "fuzz-common.h"

#define HOST "mail.example.com"
/* 2027-01-01: inside the seeds' validity (tests/unit/tls/make-certs.sh) */
#define NOW ((gint64)1798761600)

static void
check_refusal(const GError *error, const gchar *key)
{
	g_auto(GStrv) lines = g_strsplit(key, "\n", -1);

	EXM_FUZZ_CHECK(g_error_matches(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID),
		       "refusal of another kind: %s",
		       error->message);
	EXM_FUZZ_CHECK(strstr(error->message, "PRIVATE KEY") == NULL, "key header in a message");
	for (guint k = 0; lines[k] != NULL; k++)
		EXM_FUZZ_CHECK(strlen(lines[k]) < 16 || strstr(error->message, lines[k]) == NULL,
			       "key line %u in a message",
			       k);
}

static void
check_accepted(const ExmMailCertInfo *info, const gchar *chain)
{
	ExmMailCertInfo leaf = { 0 };
	gboolean same;

	exm_fuzz_accepted();
	EXM_FUZZ_CHECK(info->subject != NULL && info->issuer != NULL, "no subject or issuer");
	EXM_FUZZ_CHECK(g_str_has_prefix(info->key_type, "RSA-") ||
			       g_str_equal(info->key_type, "EC-P-256") ||
			       g_str_equal(info->key_type, "EC-P-384"),
		       "key type %s",
		       info->key_type);
	EXM_FUZZ_CHECK(info->not_after > NOW, "accepted an expired certificate");
	same = exm_mail_cert_read_leaf(chain, strlen(chain), &leaf) &&
	       leaf.not_after == info->not_after && g_str_equal(leaf.subject, info->subject) &&
	       g_str_equal(leaf.issuer, info->issuer);
	exm_mail_cert_info_clear(&leaf);
	EXM_FUZZ_CHECK(same, "the leaf is read differently");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	gsize chain_len = nul != NULL ? (gsize)(nul - data) : size;
	g_autofree gchar *chain = exm_fuzz_strndup(data, chain_len);
	g_autofree gchar *key =
		nul != NULL ? exm_fuzz_strndup(nul + 1, size - chain_len - 1) : g_strdup("");
	g_autoptr(GError) error = NULL;
	ExmMailCertInfo info = { 0 };

	exm_fuzz_begin(data, size);
	if (exm_mail_cert_check(chain, key, strlen(key), HOST, NOW, &info, &error))
		check_accepted(&info, chain);
	else
		check_refusal(error, key);
	exm_mail_cert_info_clear(&info);
	return 0;
}
