/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A tenant's own certificate on the node (docs/tls.md §3): checked again,
 * written with its key as one file by an atomic rename, removed to go back to
 * the self-signed certificate; and the served certificate described for the
 * instance's status and the expiry gauge (§4).
 */
#include "exm-dp-tls.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "exm-atomic.h"
#include "exm-dp-acme.h"
#include "exm-dp-error.h"
#include "exm-mail-cert.h"
#include "exm-mail-dns.h"
#include "exm-secret.h"
#include "exm-time.h"

/* What the tenant's file holds: the chain, a line break if it lacks one,
 * then the key; one buffer, to wipe. */
static gchar *
tls_pem_both(const gchar *chain, const gchar *key, gsize key_len, gsize *out_len)
{
	gsize chain_len = strlen(chain);
	gchar *both = g_malloc(chain_len + 1 + key_len + 1);

	memcpy(both, chain, chain_len);
	if (chain_len > 0 && chain[chain_len - 1] != '\n')
		both[chain_len++] = '\n';
	memcpy(both + chain_len, key, key_len);
	both[chain_len + key_len] = '\0';
	*out_len = chain_len + key_len;
	return both;
}

gboolean
exm_dp_tls_install_at(const gchar *path,
		      uid_t uid,
		      gid_t gid,
		      const gchar *domain,
		      const gchar *chain,
		      const gchar *key,
		      gsize key_len,
		      gboolean *changed,
		      GError **error)
{
	g_autofree gchar *host = exm_mail_dns_primary_hostname(domain);
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0640);
	g_autoptr(ExmSecret) both = NULL;
	gsize len = 0;

	if (!exm_mail_cert_check(
		    chain, key, key_len, host, g_get_real_time() / G_USEC_PER_SEC, NULL, error))
		return FALSE;
	opts.uid = uid;
	opts.gid = gid;
	both = tls_pem_both(chain, key, key_len, &len);
	return exm_atomic_write(path, both, len, &opts, changed, error);
}

gboolean
exm_dp_tls_install(const ExmDpConfig *config,
		   const gchar *domain,
		   const gchar *chain,
		   const gchar *key,
		   gsize key_len,
		   gboolean *changed,
		   GError **error)
{
	g_autofree gchar *path = exm_dp_config_path(config, EXM_DP_PATH_TLS_CUSTOM);
	uid_t uid = 0;
	gid_t gid = 0;

	if (!exm_dp_config_resolve(config, &uid, &gid, NULL, NULL, error))
		return FALSE;
	return exm_dp_tls_install_at(path, uid, gid, domain, chain, key, key_len, changed, error);
}

gboolean
exm_dp_tls_holds(const gchar *path, const gchar *chain, const gchar *key)
{
	g_autoptr(ExmSecret) have = NULL;
	gsize have_len = 0, chain_len, key_len;
	gsize nl; /* the line break tls_pem_both() adds after a chain lacking one */

	if (chain == NULL || key == NULL ||
	    !g_file_get_contents(path, (gchar **)&have, &have_len, NULL))
		return FALSE;
	chain_len = strlen(chain);
	key_len = strlen(key);
	nl = chain_len > 0 && chain[chain_len - 1] != '\n' ? 1 : 0;
	/* compared in place: no second copy of the key */
	return have_len == chain_len + nl + key_len && memcmp(have, chain, chain_len) == 0 &&
	       (nl == 0 || have[chain_len] == '\n') &&
	       memcmp(have + chain_len + nl, key, key_len) == 0;
}

gboolean
exm_dp_tls_remove_at(const gchar *path, gboolean *changed, GError **error)
{
	GStatBuf st;
	gboolean removed;
	gint saved;

	/* nothing to remove is no write: on a node whose tls/ directory came
	 * after the agent started, the unit leaves it read-only, and unlink()
	 * says EROFS there even for a file that does not exist */
	if (g_lstat(path, &st) != 0 && errno == ENOENT) {
		if (changed != NULL)
			*changed = FALSE;
		return TRUE;
	}
	removed = g_unlink(path) == 0;
	saved = errno;
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

/* The file exim serves now: the choice exim4.conf.in makes per handshake. */
static const gchar *
served_path(const gchar *self_signed, const gchar *custom, const gchar *acme, const gchar **source)
{
	if (g_file_test(custom, G_FILE_TEST_EXISTS)) {
		*source = EXM_DP_TLS_CUSTOM;
		return custom;
	}
	if (acme != NULL && g_file_test(acme, G_FILE_TEST_EXISTS)) {
		*source = EXM_DP_TLS_ACME;
		return acme;
	}
	*source = EXM_DP_TLS_SELF_SIGNED;
	return self_signed;
}

gboolean
exm_dp_tls_remove(const ExmDpConfig *config, gboolean *changed, GError **error)
{
	g_autofree gchar *path = exm_dp_config_path(config, EXM_DP_PATH_TLS_CUSTOM);

	return exm_dp_tls_remove_at(path, changed, error);
}

gboolean
exm_dp_tls_served(const gchar *self_signed,
		  const gchar *custom,
		  const gchar *acme,
		  const gchar **source,
		  ExmMailCertInfo *info,
		  GError **error)
{
	const gchar *path = served_path(self_signed, custom, acme, source);
	g_autofree gchar *name = g_path_get_basename(path);
	/* the tenant's and the ACME file hold their key too: wiped after the read */
	g_autoptr(ExmSecret) pem = NULL;
	g_autoptr(GError) local = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &pem, &len, &local)) {
		/* the base name only: the node's layout stays on the node */
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_FAILED,
			    "%s: %s",
			    name,
			    local->code == G_FILE_ERROR_NOENT ? "no such file" : "cannot be read");
		return FALSE;
	}
	if (exm_mail_cert_read_leaf(pem, len, info))
		return TRUE;
	g_set_error(error, EXM_DP_ERROR, EXM_DP_ERROR_FAILED, "%s: no readable certificate", name);
	return FALSE;
}

JsonNode *
exm_dp_tls_status(const gchar *self_signed,
		  const gchar *custom,
		  const gchar *acme,
		  const gchar *acme_state)
{
	g_autofree gchar *acme_error =
		acme_state != NULL ? exm_dp_acme_read_error(acme_state) : NULL;
	ExmMailCertInfo info = { 0 };
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) o = json_object_new();
	const gchar *source = NULL;
	g_autofree gchar *not_after = NULL;

	if (exm_dp_tls_served(self_signed, custom, acme, &source, &info, &error)) {
		not_after = exm_time_format(info.not_after * G_USEC_PER_SEC);
		json_object_set_string_member(o, "source", source);
		json_object_set_string_member(o, "subject", info.subject);
		json_object_set_string_member(o, "issuer", info.issuer);
		json_object_set_string_member(o, "not_after", not_after);
		/* the last ACME run failed: the served certificate (the previous
		 * one, or the self-signed until the first issuance) and why */
		if (acme_error != NULL)
			json_object_set_string_member(o, "error", acme_error);
	} else {
		json_object_set_string_member(o, "source", source);
		json_object_set_string_member(o, "error", error->message);
	}
	exm_mail_cert_info_clear(&info);
	return json_node_init_object(json_node_alloc(), o);
}
