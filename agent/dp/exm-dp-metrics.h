/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The node's `/metrics` (docs/metrics.md §5), served by the mail agent on
 * `[dataplane] metrics_listen`: exim's main log counted incrementally
 * (exm-dp-logstats.h), the queue (messages in the spool and the age of the
 * oldest) and the agent process.  On the thread-default main context.
 */
#pragma once

#include <glib.h>

#include "exm-dp-breaker.h"
#include "exm-dp-config.h"

G_BEGIN_DECLS

typedef struct _ExmDpMetrics ExmDpMetrics;

/**
 * exm_dp_metrics_new:
 * @config: the data plane settings (root, metrics_listen, metrics_port)
 * @error: %EXM_DP_ERROR_CONFIG for a bad address, or the bind's error
 *
 * Returns: (transfer full) (nullable): the listening endpoint
 */
ExmDpMetrics *exm_dp_metrics_new(const ExmDpConfig *config, GError **error);
guint exm_dp_metrics_get_port(ExmDpMetrics *metrics);
/* The exposition text now (what a scrape answers). */
gchar *exm_dp_metrics_render(ExmDpMetrics *metrics);
/* @breaker: (nullable): borrowed; its held accounts and trips are served too */
void exm_dp_metrics_set_breaker(ExmDpMetrics *metrics, ExmDpBreaker *breaker);
void exm_dp_metrics_free(ExmDpMetrics *metrics);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmDpMetrics, exm_dp_metrics_free)

G_END_DECLS
