/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The circuit breaker (docs/abuse-controls.md §7) against Debian's exim4 in
 * the dp sandbox, with the driver, the log reader, the usage and the breaker
 * set up as the agent's adapter sets them up: an account that sends to more
 * new recipients than its instance allows (or whose mail bounces) trips; its
 * later mail is accepted (250) but frozen in the queue with the
 * X-Exordos-Held header, not at the sink; the actual value shows it held with
 * the reason and counts; a release delivers the held mail to the sink, a
 * discard removes it; the state survives the agent's restart, a hostile
 * state file is refused, and a quiet node's actual value does not move.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "exm-dp-adapter.h"
#include "exm-dp-breaker.h"
#include "exm-dp-driver.h"
#include "exm-dp-fixture.h"
#include "exm-dp-metrics.h"
#include "exm-dp-usage-store.h"
#include "exm-dp-usage.h"
#include "exm-test.h"

#define UUID  "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define MIA   "mia@example.com"
#define TOKEN "7b0e6a4c-1d2e-4f3a-8b5c-6d7e8f9a0b1c"

/* The agent's objects, as exm-dp-adapter.c makes them. */
typedef struct {
	ExmDpUsageStore *store;
	ExmDpLogStats *log;
	ExmDpUsage *usage;
	ExmDpBreaker *breaker;
	gchar *breaker_path;
} Agent;

static void
agent_start(Agent *a, ExmDpFixture *fx, ExmDpDriver *driver)
{
	g_autofree gchar *log_path =
		g_build_filename(fx->root, EXM_DP_PATH_LOG_DIR, "mainlog", NULL);
	g_autofree gchar *state = g_build_filename(fx->root, EXM_DP_PATH_USAGE_STATE, NULL);
	g_autoptr(GError) error = NULL;

	a->breaker_path = g_build_filename(fx->root, EXM_DP_PATH_BREAKER_STATE, NULL);
	a->store = exm_dp_usage_store_new(state);
	a->log = exm_dp_logstats_new(log_path, FALSE);
	a->usage = exm_dp_usage_store_load(a->store, a->log, g_get_real_time() / G_USEC_PER_SEC);
	if (a->usage == NULL)
		a->usage = exm_dp_usage_new();
	a->breaker = exm_dp_breaker_load(a->breaker_path, &error);
	if (a->breaker == NULL) {
		g_test_message("breaker state: %s", error->message);
		a->breaker = exm_dp_breaker_new();
	}
	exm_dp_breaker_set_next(a->breaker, exm_dp_usage_observe, a->usage);
	exm_dp_logstats_set_observer(a->log, exm_dp_breaker_observe, a->breaker);
	exm_dp_driver_set_usage(driver, a->log, a->usage);
	exm_dp_driver_set_usage_store(driver, a->store);
	exm_dp_driver_set_breaker(driver, a->breaker, a->breaker_path);
}

static void
agent_stop(Agent *a, ExmDpDriver *driver)
{
	exm_dp_driver_set_breaker(driver, NULL, NULL);
	exm_dp_driver_set_usage(driver, NULL, NULL);
	g_clear_pointer(&a->store, exm_dp_usage_store_free);
	g_clear_pointer(&a->log, exm_dp_logstats_free);
	g_clear_pointer(&a->usage, exm_dp_usage_free);
	g_clear_pointer(&a->breaker, exm_dp_breaker_free);
	g_clear_pointer(&a->breaker_path, g_free);
}

static gint64
send_to(ExmDpFixture *fx, const gchar *to)
{
	const gchar *argv[] = { "send", fx->addr, "587", "starttls", MIA, "mia-pw", MIA, to, NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) obj = exm_dp_fixture_client(argv, &error);

	g_assert_no_error(error);
	return obj != NULL ? json_object_get_int_member(obj, "code") : -1;
}

static guint
sink_count(ExmDpFixture *fx)
{
	g_autoptr(GDir) d = g_dir_open(fx->sink_dir, 0, NULL);
	const gchar *name;
	guint n = 0;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		if (g_str_has_suffix(name, ".eml"))
			n++;
	}
	return n;
}

/* Messages at the sink that carry @needle. */
static guint
sink_with(ExmDpFixture *fx, const gchar *needle)
{
	g_autoptr(GDir) d = g_dir_open(fx->sink_dir, 0, NULL);
	const gchar *name;
	guint n = 0;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *path = g_build_filename(fx->sink_dir, name, NULL);
		g_autofree gchar *text = NULL;

		if (g_str_has_suffix(name, ".eml") &&
		    g_file_get_contents(path, &text, NULL, NULL) && strstr(text, needle) != NULL)
			n++;
	}
	return n;
}

/* Messages in the spool whose header file carries @needle. */
static guint
spool_count(ExmDpFixture *fx, const gchar *needle)
{
	g_autofree gchar *input = g_build_filename(fx->root, EXM_DP_PATH_SPOOL, "input", NULL);
	g_autoptr(GDir) d = g_dir_open(input, 0, NULL);
	const gchar *name;
	guint n = 0;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *path = g_build_filename(input, name, NULL);
		g_autofree gchar *text = NULL;

		if (g_str_has_suffix(name, "-H") && g_file_get_contents(path, &text, NULL, NULL) &&
		    strstr(text, needle) != NULL)
			n++;
	}
	return n;
}

static JsonNode *
get_actual(ExmDpDriver *driver)
{
	g_autoptr(GError) error = NULL;
	JsonNode *actual = exm_dp_driver_get(driver, EXM_DP_DRIVER_KIND, UUID, &error);

	g_assert_no_error(error);
	return actual;
}

/* breaker.accounts[MIA] of an actual value, %NULL when not held */
static JsonObject *
held_of(JsonNode *actual)
{
	JsonObject *obj = json_node_get_object(actual);
	JsonObject *breaker;
	JsonObject *accounts;

	if (!json_object_has_member(obj, EXM_DP_BREAKER_MEMBER))
		return NULL;
	breaker = json_object_get_object_member(obj, EXM_DP_BREAKER_MEMBER);
	accounts = json_object_get_object_member(breaker, "accounts");
	return json_object_has_member(accounts, MIA) ? json_object_get_object_member(accounts, MIA)
						     : NULL;
}

static const gchar *
done_of(JsonNode *actual)
{
	JsonObject *obj = json_node_get_object(actual);
	JsonObject *done;

	if (!json_object_has_member(obj, EXM_DP_BREAKER_MEMBER))
		return NULL;
	done = json_object_get_object_member(
		json_object_get_object_member(obj, EXM_DP_BREAKER_MEMBER), "done");
	return json_object_has_member(done, MIA) ? json_object_get_string_member(done, MIA) : NULL;
}

/* Polls @cond up to about 20 s; the seconds it took, or -1. */
static gdouble
wait_for(gboolean (*cond)(gpointer), gpointer data)
{
	gint64 start = g_get_monotonic_time();

	for (guint i = 0; i < 400; i++) {
		if (cond(data))
			return (gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
		g_usleep(50 * 1000);
	}
	return -1;
}

typedef struct {
	ExmDpFixture *fx;
	ExmDpDriver *driver;
	guint n;
} Node;

/* The agent's one-second tick, then: does the policy hold mia? */
static gboolean
policy_holds(gpointer data)
{
	Node *node = data;
	g_autofree gchar *path = exm_dp_fixture_path(node->fx, EXM_DP_PATH_POLICY);
	g_autofree gchar *text = NULL;

	exm_dp_driver_breaker_tick(node->driver);
	return g_file_get_contents(path, &text, NULL, NULL) && strstr(text, MIA ": held=1") != NULL;
}

static gboolean
sink_has(gpointer data)
{
	Node *node = data;

	return sink_count(node->fx) >= node->n;
}

static gboolean
spool_frozen(gpointer data)
{
	Node *node = data;

	return spool_count(node->fx, "X-Exordos-Held: " MIA) >= node->n;
}

static gboolean
spool_empty(gpointer data)
{
	Node *node = data;

	return spool_count(node->fx, MIA) == 0;
}

/* exim and the sink running, a driver, mia with @limits applied. */
static ExmDpFixture *
start_node(ExmDpDriver **driver, Agent *agent, const gchar *limits)
{
	g_autoptr(ExmDpFixture) fx = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) value = NULL;
	g_autoptr(JsonNode) actual = NULL;
	g_autofree gchar *hash = exm_dp_hash("$6$", "mia-pw");

	if (!exm_dp_have_exim_and_sink())
		return NULL;
	fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	g_assert_true(exm_dp_fixture_configure(fx, &error) &&
		      exm_dp_fixture_start_sink(fx, &error) &&
		      exm_dp_fixture_start_exim(fx, &error));
	if (error == NULL)
		*driver = exm_dp_driver_new(fx->config, &error);
	g_assert_no_error(error);
	if (error != NULL)
		return NULL;
	agent_start(agent, fx, *driver);
	value = exm_dp_node_value(UUID, (const gchar *const[]){ "mia", hash, "1", NULL });
	json_object_set_member(
		json_node_get_object(value), "limits", json_from_string(limits, NULL));
	actual = exm_dp_driver_apply(*driver, value, NULL, &error);
	g_assert_no_error(error);
	return error == NULL ? g_steal_pointer(&fx) : NULL;
}

/* The node value again, with mia's breaker_action. */
static void
apply_action(ExmDpDriver *driver, const gchar *limits, const gchar *op)
{
	g_autofree gchar *hash = exm_dp_hash("$6$", "mia-pw");
	g_autoptr(JsonNode) value =
		exm_dp_node_value(UUID, (const gchar *const[]){ "mia", hash, "1", NULL });
	g_autoptr(JsonNode) actual = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *action =
		g_strdup_printf("{\"op\": \"%s\", \"token\": \"" TOKEN "\"}", op);
	JsonObject *accounts =
		json_object_get_object_member(json_node_get_object(value), "accounts");

	json_object_set_member(
		json_node_get_object(value), "limits", json_from_string(limits, NULL));
	json_object_set_member(json_object_get_object_member(accounts, "mia"),
			       "breaker_action",
			       json_from_string(action, NULL));
	actual = exm_dp_driver_apply(driver, value, NULL, &error);
	g_assert_no_error(error);
}

#define NEW_LIMITS "{\"breaker_new_recipients_per_day\": 3}"

/* Four new recipients trip mia; a fifth message is held.  Returns the sink's count. */
static guint
trip_by_new_recipients(ExmDpFixture *fx, ExmDpDriver *driver)
{
	Node node = { fx, driver, 0 };
	gdouble took;

	for (guint i = 1; i <= 4; i++) {
		g_autofree gchar *to = g_strdup_printf("new%u@example.net", i);

		g_assert_cmpint(send_to(fx, to), ==, 250);
	}
	took = wait_for(policy_holds, &node);
	g_assert_cmpfloat(took, >=, 0);
	g_test_message("figure: the fourth new recipient's message to mia held: %.2f s", took);
	node.n = 4;
	g_assert_cmpfloat(wait_for(sink_has, &node), >=, 0);
	/* accepted, not refused; frozen in the queue, marked, not at the sink */
	g_assert_cmpint(send_to(fx, "new1@example.net"), ==, 250);
	g_assert_cmpint(send_to(fx, "later@example.net"), ==, 250);
	node.n = 2;
	g_assert_cmpfloat(wait_for(spool_frozen, &node), >=, 0);
	g_assert_cmpuint(spool_count(fx, "-frozen "), ==, 2);
	g_usleep(500 * 1000);
	g_assert_cmpuint(sink_count(fx), ==, 4);
	return 4;
}

/* exim, the sink and a driver, mia tripped by new recipients; %NULL when
 * the node cannot run here. */
static ExmDpFixture *
start_tripped(ExmDpDriver **driver, Agent *agent, Node *node)
{
	ExmDpFixture *fx = start_node(driver, agent, NEW_LIMITS);

	if (fx == NULL)
		return NULL;
	node->fx = fx;
	node->driver = *driver;
	trip_by_new_recipients(fx, *driver);
	return fx;
}

static void
assert_held(ExmDpDriver *driver, const gchar *reason, gint64 new_rcpt, gint64 messages)
{
	g_autoptr(JsonNode) actual = get_actual(driver);
	g_autofree gchar *text = json_to_string(actual, TRUE);
	JsonObject *held = held_of(actual);

	g_test_message("%s", text);
	g_assert_nonnull(held);
	if (held == NULL)
		return;
	g_assert_cmpstr(json_object_get_string_member(held, "sending"), ==, "held");
	g_assert_cmpstr(json_object_get_string_member(held, "reason"), ==, reason);
	g_assert_true(g_str_has_suffix(json_object_get_string_member(held, "since"), "Z"));
	g_assert_cmpint(json_object_get_int_member(held, "new_recipients"), ==, new_rcpt);
	g_assert_cmpint(json_object_get_int_member(held, "held_messages"), ==, messages);
}

/* The node's /metrics as the agent serves it, with the breaker's two series. */
static ExmDpMetrics *
start_metrics(ExmDpFixture *fx, ExmDpBreaker *breaker)
{
	g_autoptr(GError) error = NULL;
	ExmDpMetrics *m;

	g_free(fx->config->metrics_listen);
	fx->config->metrics_listen = g_strdup(fx->addr);
	fx->config->metrics_port = 0;
	m = exm_dp_metrics_new(fx->config, &error);
	g_assert_no_error(error);
	if (m != NULL)
		exm_dp_metrics_set_breaker(m, breaker);
	return m;
}

static void
assert_metrics(ExmDpMetrics *m, const gchar *held, const gchar *trips)
{
	g_autofree gchar *text = m != NULL ? exm_dp_metrics_render(m) : NULL;

	g_assert_nonnull(text);
	if (text == NULL)
		return;
	g_assert_nonnull(strstr(text, held));
	g_assert_nonnull(strstr(text, trips));
}

/* What exim logged about mia's held mail (for the reader of the test log). */
static void
show_log(ExmDpFixture *fx)
{
	g_autofree gchar *path = g_build_filename(fx->root, EXM_DP_PATH_LOG_DIR, "mainlog", NULL);
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return;
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (strstr(lines[i], "held") != NULL || strstr(lines[i], "rozen") != NULL ||
		    strstr(lines[i], "thawed") != NULL || strstr(lines[i], "removed") != NULL)
			g_test_message("mainlog: %s", lines[i]);
	}
}

static void
test_release(void)
{
	g_autoptr(ExmDpFixture) fx = NULL;
	g_autoptr(ExmDpDriver) driver = NULL;
	g_autoptr(JsonNode) actual = NULL;
	g_autofree gchar *policy = NULL;
	g_autofree gchar *policy_path = NULL;
	g_autoptr(ExmDpMetrics) m = NULL;
	Agent agent = { 0 };
	Node node = { 0 };

	fx = start_node(&driver, &agent, NEW_LIMITS);
	if (fx == NULL)
		return;
	node.fx = fx;
	node.driver = driver;
	m = start_metrics(fx, agent.breaker);
	assert_metrics(m,
		       "exordos_node_breaker_held_accounts 0\n",
		       "exordos_node_breaker_trips_total 0\n");
	trip_by_new_recipients(fx, driver);
	assert_held(driver, "new_recipients", 4, 2);
	assert_metrics(m,
		       "exordos_node_breaker_held_accounts 1\n",
		       "exordos_node_breaker_trips_total 1\n");

	apply_action(driver, NEW_LIMITS, "release");
	node.n = 6;
	g_assert_cmpfloat(wait_for(sink_has, &node), >=, 0);
	g_assert_cmpfloat(wait_for(spool_empty, &node), >=, 0);
	/* the mark stays on the node: the released mail arrives without it */
	g_assert_cmpuint(sink_with(fx, "X-Exordos-Held"), ==, 0);
	policy_path = exm_dp_fixture_path(fx, EXM_DP_PATH_POLICY);
	policy = exm_test_read_file(policy_path);
	g_assert_null(strstr(policy, "held=1"));
	actual = get_actual(driver);
	g_assert_null(held_of(actual));
	g_assert_cmpstr(done_of(actual), ==, TOKEN);
	assert_metrics(m,
		       "exordos_node_breaker_held_accounts 0\n",
		       "exordos_node_breaker_trips_total 1\n");
	/* sends normally again: the same recipients are no longer new */
	g_assert_cmpint(send_to(fx, "new2@example.net"), ==, 250);
	node.n = 7;
	g_assert_cmpfloat(wait_for(sink_has, &node), >=, 0);
	/* the same token again does nothing */
	apply_action(driver, NEW_LIMITS, "release");
	g_clear_pointer(&actual, json_node_unref);
	actual = get_actual(driver);
	g_assert_null(held_of(actual));
	show_log(fx);
	agent_stop(&agent, driver);
}

static void
test_discard(void)
{
	g_autoptr(ExmDpFixture) fx = NULL;
	g_autoptr(ExmDpDriver) driver = NULL;
	g_autoptr(JsonNode) actual = NULL;
	Agent agent = { 0 };
	Node node = { 0 };

	fx = start_tripped(&driver, &agent, &node);
	if (fx == NULL)
		return;
	apply_action(driver, NEW_LIMITS, "discard");
	g_assert_cmpfloat(wait_for(spool_empty, &node), >=, 0);
	g_usleep(500 * 1000);
	g_assert_cmpuint(sink_count(fx), ==, 4);
	actual = get_actual(driver);
	g_assert_null(held_of(actual));
	g_assert_cmpstr(done_of(actual), ==, TOKEN);
	agent_stop(&agent, driver);
}

#define BOUNCE_LIMITS                                                                              \
	"{\"breaker_bounce_percent\": 60, \"breaker_bounce_min\": 2, "                             \
	"\"breaker_new_recipients_per_day\": 100}"

static gboolean
holds_bounces(gpointer data)
{
	Node *node = data;
	g_autoptr(JsonNode) actual = get_actual(node->driver);
	JsonObject *held = held_of(actual);

	return held != NULL &&
	       g_str_equal(json_object_get_string_member(held, "reason"), "bounces");
}

/* A second list() gives byte-identical text: a quiet node sends nothing. */
static void
assert_same_list(ExmDpDriver *driver, GPtrArray *first)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) second = exm_dp_driver_list(driver, EXM_DP_DRIVER_KIND, &error);

	g_assert_no_error(error);
	g_assert_true(second != NULL && second->len == first->len);
	for (guint i = 0; second != NULL && i < MIN(first->len, second->len); i++) {
		g_autofree gchar *a = json_to_string(first->pdata[i], FALSE);
		g_autofree gchar *b = json_to_string(second->pdata[i], FALSE);

		g_assert_cmpstr(a, ==, b);
		g_assert_nonnull(strstr(a, "\"breaker\":{\"accounts\":{\"" MIA "\""));
	}
}

/* The trip came with the last bounce: every message leaves the queue (its
 * Completed line may follow the hold by a moment, as in ci2). */
static void
wait_queue_left(ExmDpDriver *driver)
{
	for (guint i = 0; i < 200; i++) {
		g_autoptr(JsonNode) actual = get_actual(driver);
		JsonObject *held = held_of(actual);

		if (held != NULL && json_object_get_int_member(held, "held_messages") == 0)
			return;
		g_usleep(50 * 1000);
	}
}

/* A bounce trip, the state across a restart, a hostile state file, a quiet node. */
static void
test_bounces_restart(void)
{
	g_autoptr(ExmDpFixture) fx = NULL;
	g_autoptr(ExmDpDriver) driver = NULL;
	g_autoptr(GPtrArray) list = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *saved = NULL;
	g_autofree gchar *again = NULL;
	g_autofree gchar *agent_path = NULL;
	Agent agent = { 0 };
	Node node = { 0 };

	fx = start_node(&driver, &agent, BOUNCE_LIMITS);
	if (fx == NULL)
		return;
	node.fx = fx;
	node.driver = driver;
	g_assert_cmpint(send_to(fx, "ok@example.net"), ==, 250);
	g_assert_cmpint(send_to(fx, "bounce1@example.net"), ==, 250);
	g_assert_cmpint(send_to(fx, "bounce2@example.net"), ==, 250);
	g_assert_cmpfloat(wait_for(holds_bounces, &node), >=, 0);
	wait_queue_left(driver);
	{
		g_autoptr(JsonNode) actual = get_actual(driver);
		JsonObject *held = held_of(actual);

		g_assert_nonnull(held);
		g_assert_cmpint(json_object_get_int_member(held, "held_messages"), ==, 0);
		g_assert_cmpint(json_object_get_int_member(held, "bounces"), ==, 2);
		g_assert_cmpint(json_object_get_int_member(held, "recipients"), ==, 3);
		before = json_to_string(
			json_object_get_member(json_node_get_object(actual), EXM_DP_BREAKER_MEMBER),
			FALSE);
	}

	/* the agent restarts: the same report from breaker.json */
	agent_stop(&agent, driver);
	agent_start(&agent, fx, driver);
	{
		g_autoptr(JsonNode) actual = get_actual(driver);

		after = json_to_string(
			json_object_get_member(json_node_get_object(actual), EXM_DP_BREAKER_MEMBER),
			FALSE);
	}
	g_assert_cmpstr(after, ==, before);

	/* quiet: the listed text stays, unchanged() holds, nothing is written */
	list = exm_dp_driver_list(driver, EXM_DP_DRIVER_KIND, &error);
	EXM_TEST_OK(error);
	saved = exm_test_read_file(agent.breaker_path);
	g_usleep(1100 * 1000);
	exm_dp_driver_breaker_tick(driver);
	g_assert_true(exm_dp_driver_unchanged(driver, EXM_DP_DRIVER_KIND));
	again = exm_test_read_file(agent.breaker_path);
	g_assert_cmpstr(again, ==, saved);
	assert_same_list(driver, list);

	/* a hostile state file is refused whole; the breaker starts empty */
	agent_path = g_strdup(agent.breaker_path);
	agent_stop(&agent, driver);
	g_assert_true(g_file_set_contents(agent_path,
					  "{\"version\":1,\"accounts\":{\"" MIA "\":{\"day\":1,"
					  "\"counts\":[0,0,0],\"held\":[9,1,0,0,0],\"seen\":[]}},"
					  "\"done\":{}}",
					  -1,
					  NULL));
	agent_start(&agent, fx, driver);
	{
		g_autoptr(JsonNode) actual = get_actual(driver);

		g_assert_null(held_of(actual));
	}
	agent_stop(&agent, driver);
}

/* The agent's own adapter: it logs and ignores a hostile breaker.json, and
 * its one-second tick, run by the main loop alone (no list, no iteration of
 * the agent), holds a tripped account. */
static void
test_agent_tick(void)
{
	g_autoptr(ExmDpFixture) fx = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) value = NULL;
	g_autoptr(JsonObject) actual = NULL;
	g_autoptr(ExmDpBreaker) saved = NULL;
	g_autofree gchar *hash = exm_dp_hash("$6$", "mia-pw");
	g_autofree gchar *ini = NULL;
	g_autofree gchar *state = NULL;
	g_autofree gchar *state_dir = NULL;
	g_autofree gchar *text = NULL;
	ExmUaDriver *d = NULL;
	Node node = { 0 };
	gint64 start;
	gboolean held = FALSE;

	if (!exm_dp_have_exim_and_sink())
		return;
	fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	g_assert_true(exm_dp_fixture_configure(fx, &error) &&
		      exm_dp_fixture_start_sink(fx, &error) &&
		      exm_dp_fixture_start_exim(fx, &error));
	EXM_TEST_OK(error);
	state = exm_dp_fixture_path(fx, EXM_DP_PATH_BREAKER_STATE);
	state_dir = g_path_get_dirname(state);
	g_assert_cmpint(g_mkdir_with_parents(state_dir, 0700), ==, 0);
	g_assert_true(g_file_set_contents(state, "{\"version\": 1, \"accounts\": 7}", -1, NULL));
	ini = g_build_filename(fx->root, "agent.conf", NULL);
	text = g_strdup_printf(
		"[dataplane]\nroot = %s\nexim_binary = %s\n", fx->root, fx->config->exim_binary);
	g_assert_true(g_file_set_contents(ini, text, -1, NULL));
	g_test_expect_message("exm-dp", G_LOG_LEVEL_WARNING, "breaker state * ignored: *");
	d = exm_dp_adapter_new(ini, &error);
	g_test_assert_expected_messages();
	EXM_TEST_OK(error);
	{
		g_autoptr(JsonNode) n =
			exm_dp_node_value(UUID, (const gchar *const[]){ "mia", hash, "1", NULL });

		json_object_set_member(
			json_node_get_object(n), "limits", json_from_string(NEW_LIMITS, NULL));
		value = json_node_dup_object(n);
	}
	actual = d->create(d, EXM_DP_DRIVER_KIND, value, &error);
	g_assert_no_error(error);
	for (guint i = 1; i <= 4; i++) {
		g_autofree gchar *to = g_strdup_printf("new%u@example.net", i);

		g_assert_cmpint(send_to(fx, to), ==, 250);
	}
	node.fx = fx;
	start = g_get_monotonic_time();
	while (!held && g_get_monotonic_time() - start < 10 * G_USEC_PER_SEC) {
		g_autofree gchar *policy_path = exm_dp_fixture_path(fx, EXM_DP_PATH_POLICY);
		g_autofree gchar *policy = NULL;

		while (g_main_context_iteration(NULL, FALSE))
			;
		held = g_file_get_contents(policy_path, &policy, NULL, NULL) &&
		       strstr(policy, MIA ": held=1") != NULL;
		if (!held)
			g_usleep(20 * 1000);
	}
	g_assert_true(held);
	g_test_message("figure: from the fourth message's 250 to the hold, by the agent's tick "
		       "alone: %.2f s",
		       (gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC);
	g_assert_cmpint(send_to(fx, "later@example.net"), ==, 250);
	node.n = 1;
	g_assert_cmpfloat(wait_for(spool_frozen, &node), >=, 0);
	/* the agent's stop saves the breaker: a valid state holding mia */
	d->destroy(d);
	saved = exm_dp_breaker_load(state, &error);
	g_assert_no_error(error);
	g_assert_true(saved != NULL && exm_dp_breaker_is_held(saved, MIA));
}

/* Would the agent report the node now (docs/usage.md §3)? */
static gboolean
reported(gpointer data)
{
	Node *node = data;

	return !exm_dp_driver_unchanged(node->driver, EXM_DP_DRIVER_KIND);
}

/*
 * The usage hold never delays the breaker's report: another message of held
 * mia, frozen, moves the breaker's member (and the usage) but no file, and
 * the driver asks for a report at once, an hour's hold notwithstanding.
 */
static void
test_report_not_held(void)
{
	g_autoptr(ExmDpFixture) fx = NULL;
	g_autoptr(ExmDpDriver) driver = NULL;
	g_autoptr(GPtrArray) list = NULL;
	g_autoptr(GError) error = NULL;
	Agent agent = { 0 };
	Node node = { 0 };

	fx = start_tripped(&driver, &agent, &node);
	if (fx == NULL)
		return;
	assert_held(driver, "new_recipients", 4, 2);
	exm_dp_driver_set_usage_hold(driver, 3600);
	list = exm_dp_driver_list(driver, EXM_DP_DRIVER_KIND, &error);
	EXM_TEST_OK(error);
	g_assert_false(reported(&node));
	g_assert_cmpint(send_to(fx, "third@example.net"), ==, 250);
	node.n = 3;
	g_assert_cmpfloat(wait_for(spool_frozen, &node), >=, 0);
	g_assert_cmpfloat(wait_for(reported, &node), >=, 0);
	assert_held(driver, "new_recipients", 4, 3);
	agent_stop(&agent, driver);
}

int
main(int argc, char **argv)
{
	g_setenv("GSETTINGS_BACKEND", "memory", TRUE);
	g_setenv("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
	g_setenv("GIO_USE_VFS", "local", TRUE);
	exm_test_init(&argc, &argv);
	g_test_add_func("/dp/breaker/release", test_release);
	g_test_add_func("/dp/breaker/discard", test_discard);
	g_test_add_func("/dp/breaker/bounces-restart", test_bounces_restart);
	g_test_add_func("/dp/breaker/agent-tick", test_agent_tick);
	g_test_add_func("/dp/breaker/report-not-held", test_report_not_held);
	return g_test_run();
}
