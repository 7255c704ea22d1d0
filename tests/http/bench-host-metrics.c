/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host's /metrics scrape time (issue 16, "Done when"; docs/metrics.md §4):
 * the registry filled as a busy host fills it (30 route templates, about
 * twice the mail API's, each with 4 methods and 3 statuses; 1 000 nodes
 * polled; builder ticks), then scraped over HTTP from
 * the metrics listener.  Prints the rendering and scrape times with their
 * targets; asserts nothing about time.
 */
#include <libsoup/soup.h>

#include "exh-metrics-server.h"
#include "exh-metrics.h"
#include "exm-test.h"

#define NODES	  1000
#define ROUTES	  30
#define SCRAPES	  50
#define TARGET_MS 100.0 /* a scrape every 15 s should cost well under 1 % */

static void
fill_registry(void)
{
	static const gchar *const methods[] = { "GET", "POST", "PUT", "DELETE" };
	static const guint statuses[] = { 200, 201, 404 };

	for (guint r = 0; r < ROUTES; r++) {
		g_autofree gchar *path = g_strdup_printf(
			"/v1/types/mail/route%u/00000000-0000-0000-0000-%012u", r, r);

		for (guint m = 0; m < G_N_ELEMENTS(methods); m++)
			for (guint s = 0; s < G_N_ELEMENTS(statuses); s++)
				exh_metrics_observe_request(
					"user", methods[m], path, statuses[s], 1000 * (r % 50));
	}
	for (guint n = 0; n < NODES; n++) {
		g_autofree gchar *node = g_strdup_printf("11111111-2222-3333-4444-%012u", n);

		exh_metrics_agent_polled(node);
	}
	for (guint t = 0; t < 100; t++)
		exh_metrics_observe_tick("mail_instance", 2000 * t, 1, 0);
}

static gdouble
ms_since(gint64 start)
{
	return (gdouble)(g_get_monotonic_time() - start) / 1000.0;
}

static void
bench_scrape(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ExhMetricsServer) server = NULL;
	g_autoptr(SoupSession) session = soup_session_new();
	gdouble render[SCRAPES];
	gdouble scrape[SCRAPES];
	gsize bytes = 0;

	fill_registry();
	server = exh_metrics_server_new("127.0.0.1", 0, NULL, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < SCRAPES; i++) {
		gint64 start = g_get_monotonic_time();
		g_autofree gchar *text = exh_metrics_render();
		g_autoptr(SoupMessage) msg = NULL;
		g_autoptr(GBytes) body = NULL;

		render[i] = ms_since(start);
		bytes = strlen(text);
		msg = soup_message_new("GET", exh_metrics_server_get_url(server));
		start = g_get_monotonic_time();
		body = soup_session_send_and_read(session, msg, NULL, &error);
		scrape[i] = ms_since(start);
		g_assert_no_error(error);
		g_assert_cmpuint(soup_message_get_status(msg), ==, 200);
	}
	qsort(render, SCRAPES, sizeof(gdouble), exm_test_cmp_double);
	qsort(scrape, SCRAPES, sizeof(gdouble), exm_test_cmp_double);
	g_test_message(
		"host /metrics: %zu bytes (%u nodes, %u route templates)", bytes, NODES, ROUTES);
	g_test_message("render p50 %.2f ms, p99 %.2f ms; HTTP scrape p50 %.2f ms, p99 %.2f ms "
		       "(target: p99 < %.0f ms)",
		       exm_test_percentile(render, SCRAPES, 50),
		       exm_test_percentile(render, SCRAPES, 99),
		       exm_test_percentile(scrape, SCRAPES, 50),
		       exm_test_percentile(scrape, SCRAPES, 99),
		       TARGET_MS);
}

int
main(int argc, char **argv)
{
	g_setenv("GSETTINGS_BACKEND", "memory", TRUE);
	g_setenv("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
	g_setenv("GIO_USE_VFS", "local", TRUE);
	exm_test_init(&argc, &argv);
	g_test_add_func("/bench/host/metrics-scrape", bench_scrape);
	return g_test_run();
}
