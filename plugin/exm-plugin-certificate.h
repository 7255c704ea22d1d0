/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A tenant's own certificate (issue 22 item 3, docs/tls.md §3), internal to
 * the plugin: the instance's `certificate` and `certificate_remove` invoke
 * actions (IAM `exordos_mail.mail_instance.update`, project-scoped), the row of
 * mail_instance_certificates they write (migration 0013), and what the paas
 * builder reads of it for the node value's `tls_custom` member.  The key is
 * write-only: no answer, log line or model field carries it.
 */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

#include "exm-plugin-builder.h"

G_BEGIN_DECLS

/* the two invoke actions of an instance */
#define EXM_PLUGIN_CERTIFICATE	      "certificate"
#define EXM_PLUGIN_CERTIFICATE_REMOVE "certificate_remove"

/* Serves either action; the answer is the certificate's public facts. */
void exm_plugin_certificate_action(ExmRestCrud *r, const ExmRestKind *kind);

/**
 * exm_plugin_certificate_load:
 * @in: the paas builder's input; gets @tls_custom_chain and @tls_custom_key
 *   (the key to free with exm_secret_free()), both %NULL without a row
 *
 * Returns: %FALSE with @out_error (no key material) when the read fails
 */
gboolean exm_plugin_certificate_load(PGconn *db, ExmPluginBuilderInput *in, gchar **out_error);

G_END_DECLS
