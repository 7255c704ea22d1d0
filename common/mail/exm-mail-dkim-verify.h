/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Verifying a message's DKIM signature (RFC 6376) against a known key: what
 * the sandbox reports for each captured message (docs/sandbox.md §1).
 */
#pragma once

#include <glib.h>

typedef enum {
	EXM_MAIL_DKIM_NONE, /* no signature by the domain and selector */
	EXM_MAIL_DKIM_PASS,
	EXM_MAIL_DKIM_FAIL,
} ExmMailDkimResult;

/* "none", "pass", "fail" */
const gchar *exm_mail_dkim_verify_result_to_string(ExmMailDkimResult result);

/**
 * exm_mail_dkim_verify_message:
 * @message: the whole message, header and body, LF or CRLF line ends
 * @len: its length
 * @domain: the signing domain (`d=`) to look for
 * @selector: the selector (`s=`) to look for
 * @public_key_b64: the key, as a DKIM record's `p=` (base64 of the DER
 *   SubjectPublicKeyInfo); %NULL or invalid: every signature fails
 * @detail: (out) (optional): why, for a failure; `d=… s=…` for a pass
 *
 * The first DKIM-Signature of @domain and @selector is checked: version 1,
 * rsa-sha256, header and body canonicalization `simple` or `relaxed`, the
 * optional body length `l=`; the body hash, then the signature over the
 * signed header fields.  A message with no such signature is
 * %EXM_MAIL_DKIM_NONE.
 *
 * Returns: the result
 */
ExmMailDkimResult exm_mail_dkim_verify_message(const gchar *message,
					       gsize len,
					       const gchar *domain,
					       const gchar *selector,
					       const gchar *public_key_b64,
					       gchar **detail);
