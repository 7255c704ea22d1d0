/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The node's /metrics (agent/dp/exm-dp-metrics.c, docs/metrics.md §5) against
 * Debian's exim4 in the dp sandbox: mail sent through the relay to the local
 * sink and a failed login show up per account in the exposition, and a real
 * Prometheus scrapes the endpoint and answers the same values.
 */
#include <libsoup/soup.h>
#include <string.h>

#include "exm-config.h"
#include "exm-dp-driver.h"
#include "exm-dp-fixture.h"
#include "exm-dp-metrics.h"
#include "exm-test-prometheus.h"
#include "exm-test.h"

#define UUID "0b7e2f5c-3d4a-4e5f-8a6b-7c8d9e0f1a2c"
#define MIA  "mia@example.com"

static void
send_mail(ExmDpFixture *fx, const gchar *to)
{
	const gchar *argv[] = { "send", fx->addr, "587", "starttls", MIA, "mia-pw", MIA, to, NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) obj = exm_dp_fixture_client(argv, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(json_object_get_string_member(obj, "stage"), ==, "done");
}

static gdouble
sample(const gchar *text, const gchar *series)
{
	g_autofree gchar *needle = g_strdup_printf("\n%s ", series);
	const gchar *at = strstr(text, needle);

	return at != NULL ? g_ascii_strtod(at + strlen(needle), NULL) : -1;
}

/* Issue 22: the gauge agrees with openssl's own reading of the served
 * certificate: it does not expire within (days - 1) days, it does within
 * (days + 1). */
static void
check_expiry_days(ExmDpFixture *fx, gdouble days)
{
	g_autofree gchar *cert = exm_dp_fixture_path(fx, EXM_DP_PATH_TLS_CERT);
	g_autofree gchar *before = g_strdup_printf("%.0f", (days - 1) * 86400);
	g_autofree gchar *after = g_strdup_printf("%.0f", (days + 1) * 86400);
	const gchar *alive[] = {
		"openssl", "x509", "-noout", "-in", cert, "-checkend", before, NULL
	};
	const gchar *dead[] = {
		"openssl", "x509", "-noout", "-in", cert, "-checkend", after, NULL
	};

	g_assert_cmpfloat(days, >, 1);
	g_assert_cmpint(exm_test_run(alive, NULL, NULL), ==, 0);
	g_assert_cmpint(exm_test_run(dead, NULL, NULL), ==, 1);
}

/* exim writes the delivery lines right after the message is accepted. */
static gchar *
wait_delivered(ExmDpMetrics *m, gdouble want)
{
	gchar *text = NULL;

	for (guint i = 0; i < 200; i++) {
		g_free(text);
		text = exm_dp_metrics_render(m);
		if (sample(text,
			   "exordos_node_messages_total{account=\"" MIA
			   "\",outcome=\"delivered\"}") >= want)
			break;
		g_usleep(50 * 1000);
	}
	return text;
}

/* Prometheus scrapes the node endpoint and answers what the node counted. */
static void
scrape_with_prometheus(ExmDpMetrics *m, const gchar *addr)
{
	g_autofree gchar *target = g_strdup_printf("%s:%u", addr, exm_dp_metrics_get_port(m));
	g_autoptr(ExmTestPrometheus) prom = exm_test_prometheus_start(target);
	g_autofree gchar *value = NULL;

	if (prom == NULL)
		return;
	/* the endpoint is served by this thread's main context: run it meanwhile */
	value = exm_test_prometheus_wait(prom,
					 "exordos_node_messages_total{account=\"" MIA
					 "\",outcome=\"received\"}",
					 "2",
					 exm_dp_spin_100ms);
	g_assert_cmpstr(value, ==, "2");
}

static void
test_node_metrics(void)
{
	g_autoptr(ExmDpFixture) fx = NULL;
	g_autoptr(ExmDpDriver) driver = NULL;
	g_autoptr(ExmDpMetrics) m = NULL;
	g_autoptr(JsonNode) value = NULL;
	g_autoptr(JsonNode) actual = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *hash = exm_dp_hash("$6$", "mia-pw");
	g_autofree gchar *text = NULL;

	if (!exm_dp_have_exim_and_sink())
		return;
	fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	g_assert_true(exm_dp_fixture_configure(fx, &error) &&
		      exm_dp_fixture_start_sink(fx, &error) &&
		      exm_dp_fixture_start_exim(fx, &error));
	EXM_TEST_OK(error);
	driver = exm_dp_driver_new(fx->config, &error);
	EXM_TEST_OK(error);
	value = exm_dp_node_value(UUID, (const gchar *const[]){ "mia", hash, "1", NULL });
	actual = exm_dp_driver_apply(driver, value, NULL, &error);
	EXM_TEST_OK(error);
	g_free(fx->config->metrics_listen);
	fx->config->metrics_listen = g_strdup(fx->addr);
	fx->config->metrics_port = 0;
	m = exm_dp_metrics_new(fx->config, &error);
	EXM_TEST_OK(error);
	g_assert_cmpint(exm_dp_fixture_auth(fx, 587, MIA, "wrong", "PLAIN"), ==, 535);
	send_mail(fx, MIA);
	send_mail(fx, "someone@example.net");
	text = wait_delivered(m, 2);
	g_test_message("%s", text);
	g_assert_cmpfloat(sample(text,
				 "exordos_node_messages_total{account=\"" MIA
				 "\",outcome=\"received\"}"),
			  ==,
			  2);
	g_assert_cmpfloat(sample(text,
				 "exordos_node_messages_total{account=\"" MIA
				 "\",outcome=\"delivered\"}"),
			  ==,
			  2);
	g_assert_cmpfloat(sample(text, "exordos_node_auth_failures_total"), ==, 1);
	/* each message was a session of its own: two logins with the current secret */
	g_assert_cmpfloat(
		sample(text, "exordos_node_auth_logins_total{secret=\"current\"}"), ==, 2);
	g_assert_cmpfloat(
		sample(text, "exordos_node_auth_logins_total{secret=\"previous\"}"), ==, 0);
	g_assert_cmpfloat(
		sample(text, "exordos_node_tls_submissions_total{version=\"TLS1.3\"}"), ==, 2);
	g_assert_cmpfloat(sample(text, "exordos_node_queue_messages"), ==, 0);
	check_expiry_days(fx, sample(text, "exordos_node_tls_certificate_expiry_days"));
	scrape_with_prometheus(m, fx->addr);
}

int
main(int argc, char **argv)
{
	/* a hermetic GIO for libsoup's client: no GSettings, no proxy lookups */
	g_setenv("GSETTINGS_BACKEND", "memory", TRUE);
	g_setenv("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
	g_setenv("GIO_USE_VFS", "local", TRUE);
	exm_test_init(&argc, &argv);
	g_test_add_func("/dp/metrics/node", test_node_metrics);
	return g_test_run();
}
