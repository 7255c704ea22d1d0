/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The served certificate on the instance (issue 22 item 4, docs/tls.md §4),
 * internal to the plugin: the paas builder checks the `tls` member of the
 * node's actual value (reported by the DP, so untrusted), adds it to its
 * instance patch when it differs from the instance's tls_* columns, and the
 * apply step writes those columns (without bumping updated_at: the node's
 * payload does not depend on them).  Nothing is written for an unchanged
 * report.  The readiness answer of verify_dns warns from the same columns.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>

#include "exm-plugin-builder.h"

G_BEGIN_DECLS

/* the node's member, and the patch member carrying it */
#define EXM_PLUGIN_TLS_PATCH "tls"
/* what is taken of the report at most, in bytes (the columns' sizes) */
#define EXM_PLUGIN_TLS_NAME_MAX	 1024
#define EXM_PLUGIN_TLS_ERROR_MAX 512
/* the readiness warns this long before the notAfter */
#define EXM_PLUGIN_TLS_WARN_DAYS 14

/* `tls_source`'s values: self_signed, acme, custom */
extern const gchar *const exm_plugin_tls_sources[];

/**
 * exm_plugin_tls_parse:
 * @tls: the node's `tls` member
 * @out: (out caller-allocates): the report in the columns' form (`not_after`
 *   as µs since the epoch in text; %NULL members are SQL NULL), to clear with
 *   exm_plugin_tls_status_clear(); left empty when it returns %FALSE
 *
 * `source` is one of exm_plugin_tls_sources; `issuer` and `subject` are
 * 1 to %EXM_PLUGIN_TLS_NAME_MAX bytes of UTF-8 without control characters;
 * `not_after` is a timestamp (exm_time_parse()); `error` is 1 to
 * %EXM_PLUGIN_TLS_ERROR_MAX such bytes.  `issuer` and `not_after` come
 * together, and may be left out only when `error` says why.  Other members
 * are ignored.
 *
 * Returns: %TRUE when the report is valid
 */
gboolean exm_plugin_tls_parse(JsonObject *tls, ExmPluginTlsStatus *out);

/* Frees the members of @tls (not @tls itself) and sets them to %NULL. */
void exm_plugin_tls_status_clear(ExmPluginTlsStatus *tls);

/**
 * exm_plugin_tls_patch:
 * @patch: (transfer full) (nullable): the instance patch so far
 *
 * Returns: (transfer full) (nullable): @patch with the node's report added
 *   when it is valid and differs from the stored one, else @patch
 */
gchar *exm_plugin_tls_patch(const ExmPluginBuilderInput *in,
			    const ExmPluginBuilderSeen *seen,
			    gchar *patch);

/* Writes a report the patch carried (checked again: it went through the host). */
gboolean exm_plugin_tls_store(PGconn *db,
			      const ExmPluginBuilderInput *in,
			      JsonObject *tls,
			      gchar **out_error);

/**
 * exm_plugin_tls_warnings:
 * @row: the instance row (its tls_* columns)
 * @now: µs since the epoch
 * @warnings: gets one `{"code", "message"}` object per warning:
 *   `tls_expired`, `tls_expiring` (within %EXM_PLUGIN_TLS_WARN_DAYS days) or
 *   `tls_error`
 */
void exm_plugin_tls_warnings(const ExmRestRow *row, gint64 now, JsonArray *warnings);

G_END_DECLS
