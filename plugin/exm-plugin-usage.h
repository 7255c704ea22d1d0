/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Usage per account and instance (docs/usage.md §4), internal to the plugin:
 * the paas builder checks the `usage` member of the node's actual value
 * (reported by the DP, so untrusted), adds it to its instance patch when its
 * hash differs from the last one stored, and the apply step writes the
 * counts to the accounts and the instance and the outcomes to
 * mail_instance_usage.  Nothing is written for an unchanged report.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>

#include "exm-plugin-builder.h"

G_BEGIN_DECLS

/* the patch member carrying the report */
#define EXM_PLUGIN_USAGE_PATCH "usage"

/* Reads the stored report's hash into @in (none: ""). */
gboolean exm_plugin_usage_load(PGconn *db, ExmPluginBuilderInput *in, gchar **out_error);

/**
 * exm_plugin_usage_valid:
 * @usage: the node's `usage` member
 * @domain: the instance's domain: every account must be one of its addresses
 *
 * Returns: %TRUE when every member is within the bounds of docs/usage.md §4
 */
gboolean exm_plugin_usage_valid(JsonObject *usage, const gchar *domain);

/**
 * exm_plugin_usage_patch:
 * @patch: (transfer full) (nullable): the instance patch so far
 *
 * Returns: (transfer full) (nullable): @patch with the node's report added
 *   when it is valid and new, else @patch
 */
gchar *exm_plugin_usage_patch(const ExmPluginBuilderInput *in,
			      const ExmPluginBuilderSeen *seen,
			      gchar *patch);

/* Writes a report the patch carried (checked again: it went through the host). */
gboolean exm_plugin_usage_store(PGconn *db,
				const ExmPluginBuilderInput *in,
				JsonObject *usage,
				gchar **out_error);

G_END_DECLS
