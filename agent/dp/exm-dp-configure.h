/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * exordos-mail-configure: mail.env → keys, certificate, DKIM record and a running
 * exim (docs/mail.md §4.5, docs/mail.md §6).
 */
#pragma once

#include <glib.h>

#include "exm-dp-config.h"

/**
 * ExmDpConfigureResult:
 * @domain: the domain read from mail.env
 * @changed: something on the node was created or rewritten
 * @dkim_generated: a new DKIM key was made
 * @tls_generated: a new TLS key was made
 * @cert_generated: a new certificate was made
 * @config_written: exim4.conf was (re)written
 * @restarted: the restart command ran
 */
typedef struct {
	gchar *domain;
	gboolean changed;
	gboolean dkim_generated;
	gboolean tls_generated;
	gboolean cert_generated;
	gboolean config_written;
	gboolean restarted;
} ExmDpConfigureResult;

void exm_dp_configure_result_clear(ExmDpConfigureResult *result);

/**
 * exm_dp_configure_run:
 * @config: validated settings
 * @result: (out caller-allocates): what happened
 * @error: %EXM_DP_ERROR_CONFIG for a missing or invalid mail.env or template,
 *   %EXM_DP_ERROR_FAILED when a step on the node fails
 *
 * Reads mail.env, renders and checks the exim configuration, then (only after
 * everything was validated) creates the directories, generates the DKIM key, the
 * TLS key and certificate when absent, writes platform.txt, an empty passwd when
 * absent and exim4.conf, each only when its content changes, and runs the restart
 * command when anything changed (or when the last restart failed: a marker file
 * remembers it).  Running it again changes nothing.
 *
 * Returns: %TRUE on success
 */
gboolean exm_dp_configure_run(const ExmDpConfig *config,
			      ExmDpConfigureResult *result,
			      GError **error);

/**
 * exm_dp_configure_render:
 * @domain: a validated domain
 *
 * Returns: (transfer full): the exim configuration for @domain under @config
 */
gchar *exm_dp_configure_render(const ExmDpConfig *config, const gchar *domain, GError **error);

/**
 * exm_dp_configure_restart:
 *
 * Runs the restart command (parsed into argv, never through a shell); a non-zero
 * exit is an error.  An empty command does nothing.
 */
gboolean exm_dp_configure_restart(const ExmDpConfig *config, GError **error);
