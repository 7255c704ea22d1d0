/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host's metrics listener (docs/metrics.md): the exposition after known
 * traffic, checked line by line and by Prometheus' own linter (promtool), the
 * bounded route labels, and a real Prometheus scraping the host.
 */
#include "exm-config.h"

#include <stdio.h>
#include <string.h>

#include "exh-metrics.h"
#include "exh-test.h"
#include "exm-test-prometheus.h"
#include "exm-test.h"

#define VERSIONS "/v1/types/mail/versions/"

typedef struct {
	guint status;
	gchar *type;
	gchar *body;
} Scrape;

static void
scrape_free(Scrape *s)
{
	g_free(s->type);
	g_free(s->body);
	g_free(s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Scrape, scrape_free)

static Scrape *
http_get(ExhTest *t, const gchar *method, const gchar *url)
{
	g_autoptr(SoupMessage) msg = soup_message_new(method, url);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) body = soup_session_send_and_read(t->session, msg, NULL, &error);
	Scrape *s = g_new0(Scrape, 1);

	g_assert_no_error(error);
	s->status = soup_message_get_status(msg);
	s->type = g_strdup(soup_message_headers_get_one(soup_message_get_response_headers(msg),
							"Content-Type"));
	s->body = g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body));
	return s;
}

static Scrape *
scrape(ExhTest *t)
{
	return http_get(t, "GET", exh_host_get_metrics_url(t->host));
}

/* The value of the sample whose name and labels are exactly @series, or -1. */
static gdouble
sample(const gchar *text, const gchar *series)
{
	g_autofree gchar *needle = g_strdup_printf("\n%s ", series);
	const gchar *at = strstr(text, needle);

	if (at == NULL)
		return -1;
	return g_ascii_strtod(at + strlen(needle), NULL);
}

static void
promtool_check(const gchar *text)
{
	g_autofree gchar *promtool = exm_test_find_program("promtool");
	g_autoptr(GSubprocess) proc = NULL;
	g_autofree gchar *out = NULL;
	g_autoptr(GError) error = NULL;

	if (promtool == NULL) {
		exm_test_peer_missing("promtool (Debian package prometheus) is not installed");
		return;
	}
	proc = g_subprocess_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
					G_SUBPROCESS_FLAGS_STDERR_MERGE,
				&error,
				promtool,
				"check",
				"metrics",
				NULL);
	g_assert_no_error(error);
	g_subprocess_communicate_utf8(proc, text, NULL, &out, NULL, &error);
	g_assert_no_error(error);
	if (!g_subprocess_get_successful(proc))
		g_test_message("promtool: %s", out);
	g_assert_true(g_subprocess_get_successful(proc));
}

static void
traffic(ExhTest *t)
{
	for (guint i = 0; i < 3; i++) {
		g_autoptr(ExhTestResponse) r =
			exh_test_request(t, "GET", VERSIONS, EXH_TEST_TOKEN_OWNER, NULL);
		g_assert_cmpuint(r->status, ==, 200);
	}
	/* made-up paths never become label values */
	for (guint i = 0; i < 5; i++) {
		g_autofree gchar *path = g_strdup_printf("/made-up-%u/x\"y", g_random_int());
		g_autoptr(ExhTestResponse) r =
			exh_test_request(t, "GET", path, EXH_TEST_TOKEN_OWNER, NULL);
		g_assert_cmpuint(r->status, ==, 404);
	}
}

static void
test_exposition(void)
{
	ExhTestOptions options = { .workers = 3, .metrics = TRUE };
	g_autoptr(ExhTest) t = NULL;

	exh_metrics_reset();
	t = exh_test_new(&options);
	if (t == NULL)
		return;
	g_assert_nonnull(exh_host_get_metrics_url(t->host));
	traffic(t);
	{
		g_autoptr(Scrape) s = scrape(t);

		g_assert_cmpuint(s->status, ==, 200);
		g_assert_cmpstr(s->type, ==, "text/plain; version=0.0.4; charset=utf-8");
		g_assert_cmpfloat(
			sample(s->body,
			       "exordos_host_http_requests_total{api=\"user\",route=\"" VERSIONS
			       "\",method=\"GET\",status=\"200\"}"),
			==,
			3);
		g_assert_cmpfloat(sample(s->body,
					 "exordos_host_http_request_duration_seconds_count{api="
					 "\"user\",route=\"" VERSIONS "\",method=\"GET\"}"),
				  ==,
				  3);
		g_assert_cmpfloat(sample(s->body,
					 "exordos_host_http_requests_total{api=\"user\",route="
					 "\"unmatched\",method=\"GET\",status=\"404\"}"),
				  ==,
				  5);
		g_assert_null(strstr(s->body, "made-up"));
		g_assert_cmpfloat(
			sample(s->body, "exordos_host_db_pool_connections{api=\"user\"}"), ==, 3);
		g_assert_cmpfloat(
			sample(s->body, "exordos_host_db_pool_busy{api=\"user\"}"), ==, 0);
		g_assert_cmpfloat(sample(s->body, "process_resident_memory_bytes"), >, 0);
		promtool_check(s->body);
	}
}

static void
test_listener(void)
{
	ExhTestOptions options = { .metrics = TRUE };
	g_autoptr(ExhTest) t = exh_test_new(&options);
	g_autofree gchar *other = NULL;

	if (t == NULL)
		return;
	{
		g_autoptr(Scrape) post = http_get(t, "POST", exh_host_get_metrics_url(t->host));
		g_assert_cmpuint(post->status, ==, 405);
	}
	other = g_strdup(exh_host_get_metrics_url(t->host));
	strcpy(strrchr(other, '/'), "/other");
	{
		g_autoptr(Scrape) missing = http_get(t, "GET", other);
		g_assert_cmpuint(missing->status, ==, 404);
	}
	/* the user API does not serve it */
	{
		g_autoptr(ExhTestResponse) r =
			exh_test_request(t, "GET", "/metrics", EXH_TEST_TOKEN_OWNER, NULL);
		g_assert_cmpuint(r->status, ==, 404);
	}
}

/* The agent side: its pool, the agents gauge and the builders' ticks. */
static void
test_agent_side(void)
{
	ExhTestOptions options = { .agent_api = TRUE, .plain_agents = TRUE, .metrics = TRUE };
	g_autoptr(ExhTest) t = NULL;
	g_autoptr(Scrape) s = NULL;

	exh_metrics_reset();
	t = exh_test_new(&options);
	if (t == NULL)
		return;
	/* the engine ticks once a second; wait for a builder's first pass */
	for (guint i = 0; i < 100; i++) {
		g_clear_pointer(&s, scrape_free);
		s = scrape(t);
		if (strstr(s->body, "\nexordos_host_builder_ticks_total{builder=") != NULL)
			break;
		g_usleep(100 * 1000);
	}
	g_assert_nonnull(strstr(s->body, "\nexordos_host_builder_ticks_total{builder="));
	g_assert_nonnull(strstr(s->body, "\nexordos_host_db_pool_connections{api=\"agent\"} "));
	g_assert_cmpfloat(sample(s->body, "exordos_host_metrics_db_up"), ==, 1);
	promtool_check(s->body);
}

/*
 * The mail plugin's gauges (ABI minor 4 `metrics`) on the host's /metrics:
 * ACTIVE instances by dns_status, every status present, and per instance
 * whether its DNS is ok; what the plugin's row says, read at scrape time.
 */
static void
test_plugin_dns(void)
{
	ExhTestOptions options = { .metrics = TRUE };
	g_autoptr(ExhTest) t = NULL;
	g_autoptr(Scrape) s = NULL;
	g_autofree gchar *version = NULL;
	g_autofree gchar *body = NULL;
	g_autofree gchar *uuid = NULL;
	g_autofree gchar *sql = NULL;
	g_autofree gchar *one = NULL;
	g_autofree gchar *series = NULL;

	exh_metrics_reset();
	t = exh_test_new(&options);
	if (t == NULL)
		return;
	version = exh_test_create(t,
				  EXH_TEST_TOKEN_OPERATOR,
				  VERSIONS,
				  "{\"name\": \"v\", \"image\": \"http://repo.local/m.raw\"}");
	body = g_strdup_printf("{\"name\": \"m1\", \"project_id\": \"" EXH_TEST_PROJECT
			       "\", \"domain\": \"example.org\", \"cpu\": 1, \"ram\": 1024, "
			       "\"disk_size\": 10, \"version\": \"" VERSIONS "%s\"}",
			       version);
	uuid = exh_test_create(t, EXH_TEST_TOKEN_OWNER, "/v1/types/mail/instances/", body);
	sql = g_strdup_printf("UPDATE mail_instances SET status = 'ACTIVE', dns_status = 'ok' "
			      "WHERE uuid = '%s' RETURNING 1",
			      uuid);
	one = exh_test_sql(t, sql);
	g_assert_cmpstr(one, ==, "1");
	s = scrape(t);
	g_assert_cmpfloat(sample(s->body, "exordos_mail_instances_dns{dns_status=\"ok\"}"), ==, 1);
	g_assert_cmpfloat(
		sample(s->body, "exordos_mail_instances_dns{dns_status=\"failing\"}"), ==, 0);
	series = g_strdup_printf("exordos_mail_instance_dns_ok{instance=\"%s\"}", uuid);
	g_assert_cmpfloat(sample(s->body, series), ==, 1);
	promtool_check(s->body);

	/* failing now: the next scrape says so */
	g_clear_pointer(&sql, g_free);
	g_clear_pointer(&one, g_free);
	sql = g_strdup_printf("UPDATE mail_instances SET dns_status = 'failing' WHERE uuid = '%s' "
			      "RETURNING 1",
			      uuid);
	one = exh_test_sql(t, sql);
	g_clear_pointer(&s, scrape_free);
	s = scrape(t);
	g_assert_cmpfloat(sample(s->body, "exordos_mail_instances_dns{dns_status=\"ok\"}"), ==, 0);
	g_assert_cmpfloat(
		sample(s->body, "exordos_mail_instances_dns{dns_status=\"failing\"}"), ==, 1);
	g_assert_cmpfloat(sample(s->body, series), ==, 0);
}

/* A real Prometheus scrapes the host and sees the traffic's counts. */
static void
test_prometheus(void)
{
	ExhTestOptions options = { .metrics = TRUE };
	g_autoptr(ExhTest) t = NULL;
	g_autoptr(ExmTestPrometheus) prom = NULL;
	g_autofree gchar *target = NULL;
	g_autofree gchar *up = NULL;
	g_autofree gchar *count = NULL;

	exh_metrics_reset();
	t = exh_test_new(&options);
	if (t == NULL)
		return;
	traffic(t);
	target = g_strdup(exh_host_get_metrics_url(t->host) + strlen("http://"));
	*strchr(target, '/') = '\0';
	prom = exm_test_prometheus_start(target);
	if (prom == NULL)
		return;
	up = exm_test_prometheus_wait(prom, "up{job=\"target\"}", "1", NULL);
	count = exm_test_prometheus_wait(
		prom,
		"exordos_host_http_requests_total{api=\"user\",route=\"" VERSIONS
		"\",method=\"GET\",status=\"200\"}",
		"3",
		NULL);
	g_assert_cmpstr(up, ==, "1");
	g_assert_cmpstr(count, ==, "3");
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/metrics/exposition", test_exposition);
	g_test_add_func("/metrics/listener", test_listener);
	g_test_add_func("/metrics/agent-side", test_agent_side);
	g_test_add_func("/metrics/prometheus", test_prometheus);
	g_test_add_func("/metrics/plugin-dns", test_plugin_dns);
	return g_test_run();
}
