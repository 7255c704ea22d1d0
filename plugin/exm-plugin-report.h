/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The small checks every report of a node's actual value is held to before
 * the plugin stores any of it (docs/SECURITY.md §11): the DP is not trusted
 * with other tenants' data, so the usage report (exm-plugin-usage.c) and the
 * sandbox's captured messages (exm-plugin-capture.c) check their texts,
 * addresses and times with the same rules.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* an address at most this long (RFC 5321's path) */
#define EXM_PLUGIN_REPORT_ADDRESS_MAX 320

/* @s is printable ASCII of at most @max bytes, none of them in @also_bad. */
gboolean exm_plugin_report_printable(const gchar *s, gsize max, const gchar *also_bad);

/* @address is a valid (normalised) username at @domain. */
gboolean exm_plugin_report_address_ok(const gchar *address, const gchar *domain);

/* Member @name of @o is a timestamp (absent or null: %TRUE unless @required). */
gboolean exm_plugin_report_time_ok(JsonObject *o, const gchar *name, gboolean required);

G_END_DECLS
