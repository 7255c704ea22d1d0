/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-mail-crypt.h"

#include "exm-mail-error.h"

#include <string.h>

gchar *
exm_mail_hash_password(const gchar *plaintext, ExmMailHashMethod method, GError **error)
{
	g_set_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_CRYPT, "password: not implemented yet");
	return NULL;
}

gboolean
exm_mail_verify_password(const gchar *plaintext, const gchar *hash)
{
	return FALSE;
}

const gchar *
exm_mail_strip_scheme(const gchar *hash)
{
	const gchar *end;

	if (hash == NULL || hash[0] != '{')
		return hash;
	end = strchr(hash, '}');
	return end != NULL ? end + 1 : hash;
}
