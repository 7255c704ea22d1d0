/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The circuit breaker in the plugin (docs/abuse-controls.md §7), internal to
 * it: the paas builder checks the `breaker` member of the node's actual value
 * (reported by the DP, so untrusted), adds it to its instance patch when its
 * hash differs from the last one stored, and the apply step copies each
 * account's state (held or not, why, since when, the counts) and clears a
 * pending release/discard the node reports done.  Nothing is written for an
 * unchanged report.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>

#include "exm-plugin-builder.h"

G_BEGIN_DECLS

/* the patch member carrying the report */
#define EXM_PLUGIN_BREAKER_PATCH "breaker"

/* Reads the stored report's hash into @in (none: ""). */
gboolean exm_plugin_breaker_load(PGconn *db, ExmPluginBuilderInput *in, gchar **out_error);

/**
 * exm_plugin_breaker_valid:
 * @breaker: the node's `breaker` member
 * @domain: the instance's domain: every account must be one of its addresses
 *
 * Returns: %TRUE when `accounts` and `done` are objects within the bounds of
 *   docs/abuse-controls.md §7 (either may be absent)
 */
gboolean exm_plugin_breaker_valid(JsonObject *breaker, const gchar *domain);

/**
 * exm_plugin_breaker_patch:
 * @ctx: (nullable): the plugin, for its host's log
 * @patch: (transfer full) (nullable): the instance patch so far
 *
 * An absent member is the empty report (nothing held, nothing done); an
 * invalid one is logged and ignored as a whole.
 *
 * Returns: (transfer full) (nullable): @patch with the node's report added
 *   when it is valid and new, else @patch
 */
gchar *exm_plugin_breaker_patch(gpointer ctx,
				const ExmPluginBuilderInput *in,
				const ExmPluginBuilderSeen *seen,
				gchar *patch);

/* Writes a report the patch carried (checked again: it went through the host). */
gboolean exm_plugin_breaker_store(PGconn *db,
				  const ExmPluginBuilderInput *in,
				  JsonObject *breaker,
				  gchar **out_error);

G_END_DECLS
