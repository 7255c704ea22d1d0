/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A tenant's own certificate on the node (docs/tls.md §3): checked again,
 * written with its key as one file by an atomic rename, removed to go back to
 * the self-signed certificate.
 */
#include "exm-dp-tls.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "exm-atomic.h"
#include "exm-dp-error.h"
#include "exm-mail-cert.h"
#include "exm-mail-dns.h"
#include "exm-secret.h"

gboolean
exm_dp_tls_install(const ExmDpConfig *config,
		   const gchar *domain,
		   const gchar *chain,
		   const gchar *key,
		   gsize key_len,
		   gboolean *changed,
		   GError **error)
{
	g_autofree gchar *host = exm_mail_dns_primary_hostname(domain);
	g_autofree gchar *path = exm_dp_config_path(config, EXM_DP_PATH_TLS_CUSTOM);
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0640);
	g_autoptr(ExmSecret) both = NULL;
	gsize chain_len;

	if (!exm_mail_cert_check(
		    chain, key, key_len, host, g_get_real_time() / G_USEC_PER_SEC, NULL, error) ||
	    !exm_dp_config_resolve(config, &opts.uid, &opts.gid, NULL, NULL, error))
		return FALSE;
	/* chain, a line break if it lacks one, then the key: one buffer, wiped */
	chain_len = strlen(chain);
	both = g_malloc(chain_len + 1 + key_len + 1);
	memcpy(both, chain, chain_len);
	if (chain_len > 0 && chain[chain_len - 1] != '\n')
		both[chain_len++] = '\n';
	memcpy(both + chain_len, key, key_len);
	both[chain_len + key_len] = '\0';
	return exm_atomic_write(path, both, chain_len + key_len, &opts, changed, error);
}

gboolean
exm_dp_tls_remove(const ExmDpConfig *config, gboolean *changed, GError **error)
{
	g_autofree gchar *path = exm_dp_config_path(config, EXM_DP_PATH_TLS_CUSTOM);
	gboolean removed = g_unlink(path) == 0;
	gint saved = errno;

	if (!removed && saved != ENOENT) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_FAILED,
			    "remove %s: %s",
			    path,
			    g_strerror(saved));
		return FALSE;
	}
	if (changed != NULL)
		*changed = removed;
	return TRUE;
}
