/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A tenant's own certificate on the node (issue 22, docs/tls.md §3), and what
 * the node serves now (§4).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "exm-dp-config.h"
#include "exm-mail-cert.h"

/* the member of the driver's actual value that describes the served
 * certificate (docs/tls.md §4); outside every target key, like usage */
#define EXM_DP_TLS_MEMBER      "tls"
#define EXM_DP_TLS_SELF_SIGNED "self_signed"
#define EXM_DP_TLS_CUSTOM      "custom"
#define EXM_DP_TLS_ACME	       "acme"

/**
 * exm_dp_tls_install:
 * @domain: the instance domain; a SAN must cover its smtp_hostname
 * @chain: the PEM chain, leaf first
 * @key: the leaf's PEM private key (@key_len bytes); copied only into memory
 *   that is wiped
 * @changed: (out) (optional): whether the served file changed
 *
 * Checks the pair again (exm_mail_cert_check(): the node trusts no sender)
 * and writes chain and key as one file, EXM_DP_PATH_TLS_CUSTOM, 0640 owner
 * root group Debian-exim like the DKIM key, by an atomic rename.  exim
 * serves it from the next handshake on (exim4.conf.in expands the path per
 * session); nothing is restarted.  A refused pair leaves the node as it was.
 */
gboolean exm_dp_tls_install(const ExmDpConfig *config,
			    const gchar *domain,
			    const gchar *chain,
			    const gchar *key,
			    gsize key_len,
			    gboolean *changed,
			    GError **error);

/* exm_dp_tls_install() at @path, owner @uid group @gid (the driver's,
 * resolved once). */
gboolean exm_dp_tls_install_at(const gchar *path,
			       uid_t uid,
			       gid_t gid,
			       const gchar *domain,
			       const gchar *chain,
			       const gchar *key,
			       gsize key_len,
			       gboolean *changed,
			       GError **error);

/**
 * exm_dp_tls_holds:
 * @path: the tenant's file (%EXM_DP_PATH_TLS_CUSTOM under the root)
 *
 * Whether @path holds exactly what exm_dp_tls_install() would write for
 * @chain and @key; its content is read into memory that is wiped.  Nothing
 * is checked: a pair installed once keeps being served as it expires (the
 * instance's readiness warns about that, docs/tls.md §4).
 */
gboolean exm_dp_tls_holds(const gchar *path, const gchar *chain, const gchar *key);

/* Removes the tenant's certificate: exim serves the self-signed one again. */
gboolean exm_dp_tls_remove(const ExmDpConfig *config, gboolean *changed, GError **error);

/* exm_dp_tls_remove() at @path; a missing file is no error. */
gboolean exm_dp_tls_remove_at(const gchar *path, gboolean *changed, GError **error);

/**
 * exm_dp_tls_served:
 * @self_signed: the self-signed certificate's path (%EXM_DP_PATH_TLS_CERT
 *   under the node's root)
 * @custom: the tenant's file's path (%EXM_DP_PATH_TLS_CUSTOM under the root)
 * @acme: (nullable): the ACME file's path (%EXM_DP_PATH_TLS_ACME under the root)
 * @source: (out): %EXM_DP_TLS_CUSTOM when @custom exists, else
 *   %EXM_DP_TLS_ACME when @acme exists, else %EXM_DP_TLS_SELF_SIGNED: the
 *   choice exim4.conf makes for each handshake
 * @info: (out caller-allocates): the served leaf's subject, issuer, notAfter
 *
 * Reads the certificate exim serves now.  The tenant's and the ACME file
 * hold their key too: the buffer they are read into is wiped.
 *
 * Returns: %FALSE when that file is missing, unreadable or holds no
 *   certificate (@source is set all the same); %EXM_DP_ERROR_FAILED names the
 *   file by its base name only
 */
gboolean exm_dp_tls_served(const gchar *self_signed,
			   const gchar *custom,
			   const gchar *acme,
			   const gchar **source,
			   ExmMailCertInfo *info,
			   GError **error);

/**
 * exm_dp_tls_status:
 *
 * Returns: (transfer full): the %EXM_DP_TLS_MEMBER member: `{"source",
 *   "subject", "issuer", "not_after"}` (RFC 3339 UTC, exm_time_format()), or
 *   `{"source", "error"}` when exm_dp_tls_served() fails; when @acme_state
 *   (exm_dp_acme_state_path(), nullable) keeps a failure of the last ACME
 *   run, the served certificate's members and that failure as `error`
 */
JsonNode *exm_dp_tls_status(const gchar *self_signed,
			    const gchar *custom,
			    const gchar *acme,
			    const gchar *acme_state);
