/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-secret.h"

#include <string.h>

/**
 * exm_secret_wipe:
 * @buf: (nullable): memory holding a secret
 * @len: its length
 *
 * explicit_bzero() is a libc call the optimiser must keep even when @buf is
 * freed right after (a plain memset() there is a dead store it may drop).
 */
void
exm_secret_wipe(gpointer buf, gsize len)
{
	if (buf == NULL || len == 0)
		return;
	explicit_bzero(buf, len);
}

/**
 * exm_secret_free:
 * @secret: (nullable): a NUL-terminated secret string from the GLib allocator
 */
void
exm_secret_free(gchar *secret)
{
	if (secret == NULL)
		return;
	exm_secret_wipe(secret, strlen(secret));
	g_free(secret);
}
