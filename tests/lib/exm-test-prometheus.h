/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A real Prometheus for the metrics tests (docs/metrics.md): Debian's
 * `prometheus` on a free loopback port, scraping one target every second,
 * with its data in a temp dir; it dies with the test (PR_SET_PDEATHSIG).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _ExmTestPrometheus ExmTestPrometheus;

/**
 * exm_test_prometheus_start:
 * @target: `host:port` of the `/metrics` to scrape
 *
 * Returns: (transfer full) (nullable): the running server; %NULL when
 *   `prometheus` is not installed (reported by exm_test_peer_missing())
 */
ExmTestPrometheus *exm_test_prometheus_start(const gchar *target);

/**
 * exm_test_prometheus_wait:
 * @p: the server
 * @query: an instant query
 * @want: the value awaited
 * @between: (nullable): called between two queries, for about 100 ms (e.g. to
 *   run the main context that serves @target); %NULL sleeps that long
 *
 * Queries for at most 30 s until the first result's value is @want.
 *
 * Returns: (transfer full) (nullable): the last value seen
 */
gchar *exm_test_prometheus_wait(ExmTestPrometheus *p,
				const gchar *query,
				const gchar *want,
				void (*between)(void));

/* Stops the server and removes its data. */
void exm_test_prometheus_free(ExmTestPrometheus *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmTestPrometheus, exm_test_prometheus_free)

G_END_DECLS
