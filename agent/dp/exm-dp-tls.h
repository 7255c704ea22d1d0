/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A tenant's own certificate on the node (issue 22, docs/tls.md §3).
 */
#pragma once

#include <glib.h>

#include "exm-dp-config.h"

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

/* Removes the tenant's certificate: exim serves the self-signed one again. */
gboolean exm_dp_tls_remove(const ExmDpConfig *config, gboolean *changed, GError **error);
