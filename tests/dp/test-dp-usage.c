/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Usage in the node's actual value and the node's held and limit counters
 * (docs/usage.md, docs/metrics.md §5) against Debian's exim4 in the dp
 * sandbox: an account sends to a sink that delivers one recipient, answers
 * 451 to another and 550 to a third, then hits its hourly limit; the driver's
 * actual value reports those counts and outcomes, and a real Prometheus
 * scrapes the limit hit from the node's /metrics.  The agent's usage survives
 * its restart (docs/usage.md §1.1): new objects over the same state file
 * report the same counts and count new mail on top, once.
 */
#include <string.h>

#include "exm-dp-driver.h"
#include "exm-dp-fixture.h"
#include "exm-dp-metrics.h"
#include "exm-dp-usage-store.h"
#include "exm-dp-usage.h"
#include "exm-test-prometheus.h"
#include "exm-test.h"

#define UUID "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define MIA  "mia@example.com"
#define MPH  4

/* The reply's stage and code. */
static gint64
send_mail(ExmDpFixture *fx, const gchar *to, const gchar **stage)
{
	static gchar last_stage[32];
	const gchar *argv[] = { "send", fx->addr, "587", "starttls", MIA, "mia-pw", MIA, to, NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) obj = exm_dp_fixture_client(argv, &error);

	g_assert_no_error(error);
	g_strlcpy(last_stage, json_object_get_string_member(obj, "stage"), sizeof last_stage);
	*stage = last_stage;
	return json_object_get_int_member(obj, "code");
}

static JsonObject *
mia_usage(JsonNode *actual)
{
	JsonObject *usage =
		json_object_get_object_member(json_node_get_object(actual), EXM_DP_USAGE_MEMBER);
	JsonObject *accounts = json_object_get_object_member(usage, "accounts");

	return json_object_has_member(accounts, MIA) ? json_object_get_object_member(accounts, MIA)
						     : NULL;
}

static JsonNode *
get_actual(ExmDpDriver *driver)
{
	g_autoptr(GError) error = NULL;
	JsonNode *actual = exm_dp_driver_get(driver, EXM_DP_DRIVER_KIND, UUID, &error);

	g_assert_no_error(error);
	return actual;
}

/* Waits until mia's @name reaches @n (bounded), then returns the value. */
static JsonNode *
wait_count(ExmDpDriver *driver, const gchar *name, gint64 n)
{
	JsonNode *actual = NULL;

	for (guint i = 0; i < 200; i++) {
		JsonObject *mia;

		g_clear_pointer(&actual, json_node_unref);
		actual = get_actual(driver);
		mia = mia_usage(actual);
		if (mia != NULL && json_object_get_int_member(mia, name) >= n)
			break;
		g_usleep(50 * 1000);
	}
	return actual;
}

/* exim logs the outcomes right after accepting; the actual value polls the
 * log.  Counts only grow: once each has come, all have. */
static JsonNode *
wait_outcomes(ExmDpDriver *driver)
{
	json_node_unref(wait_count(driver, "delivered", 1));
	json_node_unref(wait_count(driver, "deferred", 1));
	return wait_count(driver, "bounced", 1);
}

static JsonObject *
delivery(JsonArray *list, const gchar *status)
{
	for (guint i = 0; i < json_array_get_length(list); i++) {
		JsonObject *d = json_array_get_object_element(list, i);

		if (g_str_equal(json_object_get_string_member(d, "status"), status))
			return d;
	}
	return NULL;
}

static void
assert_usage(JsonNode *actual)
{
	JsonObject *mia = mia_usage(actual);
	JsonArray *list = json_object_get_array_member(
		json_object_get_object_member(json_node_get_object(actual), EXM_DP_USAGE_MEMBER),
		"deliveries");
	JsonObject *d;

	g_assert_nonnull(mia);
	g_assert_cmpint(json_object_get_int_member(mia, "accepted"), ==, 3);
	g_assert_cmpint(json_object_get_int_member(mia, "delivered"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(mia, "deferred"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(mia, "bounced"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(mia, "held"), ==, 0);
	g_assert_true(json_object_has_member(mia, "last_login"));
	d = delivery(list, "deferred");
	g_assert_nonnull(d);
	g_assert_cmpstr(json_object_get_string_member(d, "domain"), ==, "example.net");
	g_assert_true(g_str_has_prefix(json_object_get_string_member(d, "reply"), "451 4.3.0"));
	d = delivery(list, "bounced");
	g_assert_nonnull(d);
	g_assert_true(g_str_has_prefix(json_object_get_string_member(d, "reply"), "550 5.1.1"));
	d = delivery(list, "delivered");
	g_assert_nonnull(d);
	g_assert_cmpstr(json_object_get_string_member(d, "account"), ==, MIA);
}

/* The node's endpoint, reading the log from its end like the agent's. */
static ExmDpMetrics *
start_metrics(ExmDpFixture *fx)
{
	g_autoptr(GError) error = NULL;
	ExmDpMetrics *m;

	g_free(fx->config->metrics_listen);
	fx->config->metrics_listen = g_strdup(fx->addr);
	fx->config->metrics_port = 0;
	m = exm_dp_metrics_new(fx->config, &error);
	g_assert_no_error(error);
	return m;
}

static void
assert_limit_metric(ExmDpFixture *fx, ExmDpMetrics *m)
{
	g_autoptr(ExmTestPrometheus) prom = NULL;
	g_autofree gchar *target = NULL;
	g_autofree gchar *value = NULL;
	g_autofree gchar *text = exm_dp_metrics_render(m);

	g_test_message("%s", text);
	target = g_strdup_printf("%s:%u", fx->addr, exm_dp_metrics_get_port(m));
	prom = exm_test_prometheus_start(target);
	if (prom == NULL)
		return;
	value = exm_test_prometheus_wait(
		prom,
		"exordos_node_limit_hits_total{limit=\"messages_per_hour\"}",
		"1",
		exm_dp_spin_100ms);
	g_assert_cmpstr(value, ==, "1");
}

/* exim and the sink running, and a driver; %NULL when they are missing. */
static ExmDpFixture *
start_node(ExmDpDriver **driver)
{
	g_autoptr(ExmDpFixture) fx = NULL;
	g_autoptr(GError) error = NULL;

	if (!exm_dp_have_exim_and_sink())
		return NULL;
	fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	g_assert_true(exm_dp_fixture_configure(fx, &error) &&
		      exm_dp_fixture_start_sink(fx, &error) &&
		      exm_dp_fixture_start_exim(fx, &error));
	if (error == NULL)
		*driver = exm_dp_driver_new(fx->config, &error);
	/* assertions do not stop a test here: no node, no test */
	g_assert_no_error(error);
	return error == NULL ? g_steal_pointer(&fx) : NULL;
}

static void
test_usage(void)
{
	g_autoptr(ExmDpFixture) fx = NULL;
	g_autoptr(ExmDpDriver) driver = NULL;
	g_autoptr(ExmDpMetrics) m = NULL;
	g_autoptr(ExmDpLogStats) log = NULL;
	g_autoptr(ExmDpUsage) usage = exm_dp_usage_new();
	g_autoptr(JsonNode) value = NULL;
	g_autoptr(JsonNode) actual = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *hash = exm_dp_hash("$6$", "mia-pw");
	g_autofree gchar *log_path = NULL;
	g_autofree gchar *text = NULL;
	const gchar *stage = NULL;

	fx = start_node(&driver);
	if (fx == NULL)
		return;
	log_path = g_build_filename(fx->root, EXM_DP_PATH_LOG_DIR, "mainlog", NULL);
	log = exm_dp_logstats_new(log_path, TRUE);
	exm_dp_logstats_set_observer(log, exm_dp_usage_observe, usage);
	exm_dp_logstats_set_login_observer(log, exm_dp_usage_observe_login, usage);
	exm_dp_driver_set_usage(driver, log, usage);
	value = exm_dp_node_value(UUID, (const gchar *const[]){ "mia", hash, "1", NULL });
	json_object_set_int_member(
		json_object_get_object_member(
			json_object_get_object_member(json_node_get_object(value), "accounts"),
			"mia"),
		"messages_per_hour",
		MPH - 1);
	actual = exm_dp_driver_apply(driver, value, NULL, &error);
	EXM_TEST_OK(error);
	m = start_metrics(fx);
	g_assert_cmpint(send_mail(fx, "ok@example.net", &stage), ==, 250);
	g_assert_cmpint(send_mail(fx, "defer@example.net", &stage), ==, 250);
	g_assert_cmpint(send_mail(fx, "bounce@example.net", &stage), ==, 250);
	g_assert_cmpint(send_mail(fx, "late@example.net", &stage), ==, 451);
	g_assert_cmpstr(stage, ==, "mail");
	g_clear_pointer(&actual, json_node_unref);
	actual = wait_outcomes(driver);
	text = json_to_string(actual, TRUE);
	g_test_message("%s", text);
	assert_usage(actual);
	assert_limit_metric(fx, m);
}

/* The agent's usage as the adapter sets it up: state file, reader, usage. */
typedef struct {
	ExmDpUsageStore *store;
	ExmDpLogStats *log;
	ExmDpUsage *usage;
} Agent;

static void
agent_start(Agent *a, ExmDpFixture *fx, ExmDpDriver *driver)
{
	g_autofree gchar *log_path =
		g_build_filename(fx->root, EXM_DP_PATH_LOG_DIR, "mainlog", NULL);
	g_autofree gchar *state = g_build_filename(fx->root, EXM_DP_PATH_USAGE_STATE, NULL);

	a->store = exm_dp_usage_store_new(state);
	a->log = exm_dp_logstats_new(log_path, FALSE);
	a->usage = exm_dp_usage_store_load(a->store, a->log, g_get_real_time() / G_USEC_PER_SEC);
	if (a->usage == NULL)
		a->usage = exm_dp_usage_new();
	exm_dp_logstats_set_observer(a->log, exm_dp_usage_observe, a->usage);
	exm_dp_logstats_set_login_observer(a->log, exm_dp_usage_observe_login, a->usage);
	exm_dp_driver_set_usage(driver, a->log, a->usage);
	exm_dp_driver_set_usage_store(driver, a->store);
}

static void
agent_stop(Agent *a, ExmDpDriver *driver)
{
	exm_dp_driver_set_usage(driver, NULL, NULL);
	g_clear_pointer(&a->store, exm_dp_usage_store_free);
	g_clear_pointer(&a->log, exm_dp_logstats_free);
	g_clear_pointer(&a->usage, exm_dp_usage_free);
}

static gchar *
usage_member(JsonNode *actual)
{
	return json_to_string(
		json_object_get_member(json_node_get_object(actual), EXM_DP_USAGE_MEMBER), FALSE);
}

static void
test_restart(void)
{
	g_autoptr(ExmDpFixture) fx = NULL;
	g_autoptr(ExmDpDriver) driver = NULL;
	g_autoptr(JsonNode) value = NULL;
	g_autoptr(JsonNode) actual = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *hash = exm_dp_hash("$6$", "mia-pw");
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	const gchar *stage = NULL;
	Agent a = { 0 };
	JsonObject *mia;
	guint writes;

	fx = start_node(&driver);
	if (fx == NULL)
		return;
	agent_start(&a, fx, driver);
	value = exm_dp_node_value(UUID, (const gchar *const[]){ "mia", hash, "1", NULL });
	actual = exm_dp_driver_apply(driver, value, NULL, &error); /* reads the log's end */
	EXM_TEST_OK(error);
	g_assert_cmpint(send_mail(fx, "ok@example.net", &stage), ==, 250);
	g_assert_cmpint(send_mail(fx, "defer@example.net", &stage), ==, 250);
	g_assert_cmpint(send_mail(fx, "bounce@example.net", &stage), ==, 250);
	g_clear_pointer(&actual, json_node_unref);
	actual = wait_outcomes(driver);
	assert_usage(actual);
	before = usage_member(actual);
	/* polled again: nothing counted, nothing written (what exim may still
	 * log, the bounce's report to the sender and Completed, counts nothing) */
	writes = exm_dp_usage_store_get_writes(a.store);
	g_clear_pointer(&actual, json_node_unref);
	actual = get_actual(driver);
	g_assert_cmpuint(exm_dp_usage_store_get_writes(a.store), ==, writes);

	/* the agent restarts: the same report, nothing new to write */
	agent_stop(&a, driver);
	agent_start(&a, fx, driver);
	g_clear_pointer(&actual, json_node_unref);
	actual = get_actual(driver);
	after = usage_member(actual);
	g_assert_cmpstr(after, ==, before);
	g_assert_cmpuint(exm_dp_usage_store_get_writes(a.store), ==, 0);

	/* new mail counts on top of it, and the lines read before do not count again */
	g_assert_cmpint(send_mail(fx, "ok@example.net", &stage), ==, 250);
	g_clear_pointer(&actual, json_node_unref);
	actual = wait_count(driver, "delivered", 2);
	mia = mia_usage(actual);
	g_assert_nonnull(mia);
	g_assert_cmpint(json_object_get_int_member(mia, "accepted"), ==, 4);
	g_assert_cmpint(json_object_get_int_member(mia, "delivered"), ==, 2);
	g_assert_cmpint(json_object_get_int_member(mia, "deferred"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(mia, "bounced"), ==, 1);
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(
				 json_object_get_object_member(json_node_get_object(actual),
							       EXM_DP_USAGE_MEMBER),
				 "deliveries")),
			 ==,
			 4);
	agent_stop(&a, driver);
}

int
main(int argc, char **argv)
{
	g_setenv("GSETTINGS_BACKEND", "memory", TRUE);
	g_setenv("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
	g_setenv("GIO_USE_VFS", "local", TRUE);
	exm_test_init(&argc, &argv);
	g_test_add_func("/dp/usage/exim", test_usage);
	g_test_add_func("/dp/usage/restart", test_restart);
	return g_test_run();
}
