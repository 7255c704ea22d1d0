/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host's metrics registry (tests/host/metrics/exh-metrics.c) without a
 * host: route templates, label escaping, histogram buckets, the series cap
 * and the collector's one-family-once rule.
 */
#include "exm-config.h"

#include <string.h>

#include "exh-metrics.h"
#include "exm-prom.h"
#include "exm-test.h"

static gchar *
line_of(const gchar *text, const gchar *series)
{
	g_autofree gchar *needle = g_strdup_printf("\n%s ", series);
	const gchar *at = strstr(text, needle);
	const gchar *end;

	if (at == NULL)
		return NULL;
	at += strlen(needle);
	end = strchr(at, '\n');
	return g_strndup(at, (gsize)(end - at));
}

static void
test_template(void)
{
	static const gchar *const cases[][2] = {
		{ "/v1/types/mail/instances/8c5a2c1e-3b6f-4f7e-9d0a-1b2c3d4e5f60",
		  "/v1/types/mail/instances/{uuid}" },
		{ "/v1/types/mail/instances/8C5A2C1E3B6F4F7E9D0A1B2C3D4E5F60/accounts/",
		  "/v1/types/mail/instances/{uuid}/accounts/" },
		{ "/v1/agents/8c5a2c1e-3b6f-4f7e-9d0a-1b2c3d4e5f60/actions/get_payload",
		  "/v1/agents/{uuid}/actions/get_payload" },
		{ "/v1/kind/demo_vm/resources/", "/v1/kind/demo_vm/resources/" },
		/* the lenient forms; 31 hex digits are not a uuid */
		{ "/x/{urn:uuid:8c5a2c1e-3b6f-4f7e-9d0a-1b2c3d4e5f60}", "/x/{uuid}" },
		{ "/x/8c5a2c1e3b6f4f7e9d0a1b2c3d4e5f6/", "/x/8c5a2c1e3b6f4f7e9d0a1b2c3d4e5f6/" },
		{ "/", "/" },
		{ "", "" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *t = exh_metrics_route_template(cases[i][0]);
		g_assert_cmpstr(t, ==, cases[i][1]);
	}
}

static void
test_escape(void)
{
	g_autoptr(GString) out = g_string_new(NULL);

	exm_prom_escape_label(out, "a\\b\"c\nd");
	g_assert_cmpstr(out->str, ==, "a\\\\b\\\"c\\nd");
}

static void
test_requests(void)
{
	g_autofree gchar *text = NULL;
	g_autofree gchar *ok = NULL;
	g_autofree gchar *le5ms = NULL;
	g_autofree gchar *le1s = NULL;
	g_autofree gchar *inf = NULL;

	exh_metrics_reset();
	exh_metrics_observe_request("user", "GET", "/v1/x/", 200, 3000);   /* 3 ms */
	exh_metrics_observe_request("user", "GET", "/v1/x/", 200, 700000); /* 0.7 s */
	exh_metrics_observe_request("user", "BREW", "/v1/x/", 200, 1000);
	/* unknown routes fold; once a route answered, its 404s keep the template */
	exh_metrics_observe_request("user", "GET", "/nope\"\n", 404, 1000);
	exh_metrics_observe_request("user", "GET", "/v1/x/", 404, 1000);
	text = exh_metrics_render();
	ok = line_of(text,
		     "exordos_host_http_requests_total{api=\"user\",route=\"/v1/x/\","
		     "method=\"GET\",status=\"200\"}");
	g_assert_cmpstr(ok, ==, "2");
	le5ms = line_of(text,
			"exordos_host_http_request_duration_seconds_bucket{api=\"user\","
			"route=\"/v1/x/\",method=\"GET\",le=\"0.005\"}");
	/* 3 ms and the 1 ms 404 below (same route and method) */
	g_assert_cmpstr(le5ms, ==, "2");
	le1s = line_of(text,
		       "exordos_host_http_request_duration_seconds_bucket{api=\"user\","
		       "route=\"/v1/x/\",method=\"GET\",le=\"1\"}");
	/* the 404 on the known route is a third observation of it */
	g_assert_cmpstr(le1s, ==, "3");
	inf = line_of(text,
		      "exordos_host_http_request_duration_seconds_bucket{api=\"user\","
		      "route=\"/v1/x/\",method=\"GET\",le=\"+Inf\"}");
	g_assert_cmpstr(inf, ==, "3");
	g_assert_nonnull(strstr(text, "method=\"other\""));
	g_assert_nonnull(strstr(text, "route=\"unmatched\",method=\"GET\",status=\"404\"} 1"));
	g_assert_nonnull(strstr(text, "route=\"/v1/x/\",method=\"GET\",status=\"404\"} 1"));
	g_assert_null(strstr(text, "nope"));
}

static void
test_cap(void)
{
	g_autofree gchar *text = NULL;
	g_autofree gchar *dropped = NULL;
	guint series = 0;

	exh_metrics_reset();
	for (guint i = 0; i < EXH_METRICS_MAX_SERIES + 10; i++) {
		g_autofree gchar *kind = g_strdup_printf("kind_%u", i);
		exh_metrics_observe_tick(kind, 10, 1, 0);
	}
	text = exh_metrics_render();
	for (const gchar *p = text; (p = strstr(p, "\nexordos_host_builder_ticks_total{")) != NULL;
	     p++)
		series++;
	g_assert_cmpuint(series, ==, EXH_METRICS_MAX_SERIES);
	dropped = line_of(text, "exordos_host_metrics_dropped_series_total");
	/* four families per tick, each refusing the ten extra builders */
	g_assert_cmpstr(dropped, ==, "40");
}

static void
two_sources(ExhMetricsCollector *c, gpointer data)
{
	exh_metrics_collect(c, "t_gauge", "A test gauge.", "gauge", "src", data, 1);
}

static void
test_sources(void)
{
	guint a = exh_metrics_add_source(two_sources, "a");
	guint b = exh_metrics_add_source(two_sources, "b");
	g_autofree gchar *text = exh_metrics_render();
	g_autofree gchar *after = NULL;
	const gchar *first = strstr(text, "# TYPE t_gauge gauge\n");

	g_assert_nonnull(first);
	g_assert_null(strstr(first + 1, "# TYPE t_gauge gauge\n"));
	g_assert_nonnull(strstr(text, "\nt_gauge{src=\"a\"} 1\n"));
	g_assert_nonnull(strstr(text, "\nt_gauge{src=\"b\"} 1\n"));
	exh_metrics_remove_source(a);
	exh_metrics_remove_source(b);
	after = exh_metrics_render();
	g_assert_null(strstr(after, "t_gauge"));
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/host-metrics/template", test_template);
	g_test_add_func("/host-metrics/escape", test_escape);
	g_test_add_func("/host-metrics/requests", test_requests);
	g_test_add_func("/host-metrics/cap", test_cap);
	g_test_add_func("/host-metrics/sources", test_sources);
	return g_test_run();
}
