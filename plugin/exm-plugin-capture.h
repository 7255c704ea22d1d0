/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The sandbox's captured messages (issue 16 item 4, docs/sandbox.md §2–§3),
 * internal to the plugin: the paas builder checks the `captured` member of
 * the node's actual value (reported by the DP, so untrusted), adds it to its
 * instance patch when its hash differs from the stored one, and the apply
 * step replaces the instance's row of mail_instance_captures (without
 * bumping updated_at: the node's payload does not depend on it).  Nothing is
 * written for an unchanged report.  An account's `actions/captured` serves
 * its own messages from that row.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>

#include "exm-plugin-builder.h"

G_BEGIN_DECLS

/* the node's member, and the patch member carrying it */
#define EXM_PLUGIN_CAPTURE_PATCH "captured"
/* the node's bounds (docs/sandbox.md §1–§2), enforced again here */
#define EXM_PLUGIN_CAPTURE_MAX_MESSAGES 100
#define EXM_PLUGIN_CAPTURE_MAX_AGE	(7 * 24 * 3600)
#define EXM_PLUGIN_CAPTURE_MAX_RAWS	5
#define EXM_PLUGIN_CAPTURE_RAW_MAX	(64 * 1024)
#define EXM_PLUGIN_CAPTURE_TEXT_MAX	200
#define EXM_PLUGIN_CAPTURE_TO_MAX	10

/* Reads the stored report's hash into @in (none: ""). */
gboolean exm_plugin_capture_load(PGconn *db, ExmPluginBuilderInput *in, gchar **out_error);

/**
 * exm_plugin_capture_valid:
 * @captured: the node's `captured` member
 * @domain: the instance's domain: every account must be one of its addresses
 *
 * Returns: %TRUE when every member is within the bounds of docs/sandbox.md §2
 */
gboolean exm_plugin_capture_valid(JsonObject *captured, const gchar *domain);

/**
 * exm_plugin_capture_patch:
 * @ctx: (nullable): the plugin, whose host logs a refused report
 * @patch: (transfer full) (nullable): the instance patch so far
 *
 * An absent member is an empty report (the node leaves it out when it keeps
 * nothing), so messages the node deleted leave the API too.
 *
 * Returns: (transfer full) (nullable): @patch with the node's report added
 *   when it is valid and new, else @patch
 */
gchar *exm_plugin_capture_patch(gpointer ctx,
				const ExmPluginBuilderInput *in,
				const ExmPluginBuilderSeen *seen,
				gchar *patch);

/* Writes the report @patch carries, if any (checked again: it went through
 * the host). */
gboolean exm_plugin_capture_apply(PGconn *db,
				  const ExmPluginBuilderInput *in,
				  JsonObject *patch,
				  gchar **out_error);

G_END_DECLS
