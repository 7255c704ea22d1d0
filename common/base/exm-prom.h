/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * What the writers of Prometheus' text exposition format share: the host's
 * /metrics (tests/host/metrics) and the node's (agent/dp), docs/metrics.md.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * exm_prom_escape_label:
 * @out: where the escaped value goes
 * @value: a label value
 *
 * Appends @value as the exposition format asks inside a label's quotes:
 * `\` as `\\`, `"` as `\"`, a line feed as `\n`, every other byte as is.
 */
void exm_prom_escape_label(GString *out, const gchar *value);

/**
 * exm_prom_sorted_keys:
 * @table: a hash table whose keys are strings
 * @n: (out): how many keys
 *
 * The keys in byte order, so that two scrapes of the same state are the
 * same text and diff cleanly.
 *
 * Returns: (transfer container): the keys, borrowed from @table
 */
gpointer *exm_prom_sorted_keys(GHashTable *table, guint *n);

G_END_DECLS
