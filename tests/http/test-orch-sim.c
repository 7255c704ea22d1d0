/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The Orch API load simulator (orch-sim.h) at a small size, for correctness
 * only: 50 sealed agents with their own nodes and keys against the host
 * executable register, get their full payload, then every poll is answered
 * light, nothing fails, and every process the test started is gone at the
 * end.  The figures at the size are bench-orch-agents' business.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "exh-test.h"
#include "exm-test-pg.h"
#include "exm-test.h"
#include "orch-sim.h"

#define AGENTS 50

/* A host (@host_extra: more lines of its [host] group) and AGENTS agents,
 * polling every second, through their setup: registered and served their
 * first payload.  %NULL, the test failed, when it could not start. */
static OrchSim *
fleet_start(const gchar *dir, const gchar *host_extra, gboolean soup_polls, OrchSimHost **host)
{
	OrchSimConfig config = {
		.soup_polls = soup_polls,
		.agents = AGENTS,
		.period = 1.0,
		.threads = 2,
		.ramp = 8,
		.timeout = 60,
	};
	g_autoptr(OrchSim) sim = NULL;
	g_autoptr(GError) error = NULL;

	*host = orch_sim_host_start(dir, 4096, 0, host_extra, FALSE, &error);
	g_assert_no_error(error);
	if (*host == NULL)
		return NULL;
	sim = orch_sim_new(*host, dir, &config, &error);
	g_assert_no_error(error);
	if (sim == NULL)
		return NULL;
	g_assert_true(orch_sim_start(sim, 120, &error));
	g_assert_no_error(error);
	return g_steal_pointer(&sim);
}

/* @data: polls through libsoup (the simulator's former model) */
static void
test_small_fleet(gconstpointer data)
{
	g_autofree gchar *dir = NULL;
	g_autoptr(OrchSimHost) host = NULL;
	g_autoptr(OrchSim) sim = NULL;
	g_autoptr(OrchSimStats) stats = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *errors = NULL;
	g_autofree gchar *rows = NULL;
	GPid pid;
	gint fds;

	if (exm_test_pg_get() == NULL)
		return;
	dir = exm_test_mkdtemp("orch-sim");
	sim = fleet_start(dir, NULL, GPOINTER_TO_INT(data), &host);
	if (sim == NULL)
		goto out;
	orch_sim_window_open(sim);
	/* three periods: every agent polls about three times */
	g_usleep(3 * G_USEC_PER_SEC);
	/* polling, each agent holds its Orch connection only: the two Status
	 * connections of its registration were closed (before, 3 per agent) */
	fds = exm_test_count_fds(host->pid);
	g_test_message("host descriptors while polling: %d", fds);
	g_assert_cmpint(fds, >=, AGENTS);
	g_assert_cmpint(fds, <, 2 * AGENTS);
	orch_sim_stop(sim);
	stats = orch_sim_stats(sim);
	errors = orch_sim_stats_errors_text(stats);
	g_test_message("light %" G_GUINT64_FORMAT ", full %" G_GUINT64_FORMAT ", errors %s",
		       stats->light,
		       stats->full,
		       errors);
	g_assert_cmpuint(stats->registered, ==, AGENTS);
	g_assert_cmpuint(stats->first_full, ==, AGENTS);
	g_assert_cmpstr(errors, ==, "none");
	g_assert_cmpuint(stats->full, ==, 0);
	/* every poll of the window was answered, and light */
	g_assert_cmpuint(stats->requests, >, 0);
	g_assert_cmpuint(stats->latencies->len, ==, stats->requests);
	g_assert_cmpuint(stats->light, >=, stats->requests);
	/* the host holds what they registered: one agent and one key row per node */
	rows = exm_test_pg_exec(host->conninfo,
				"SELECT count(DISTINCT a.node) FROM ua_agents a JOIN "
				"ua_node_encryption_keys k ON k.uuid = a.node",
				&error);
	g_assert_no_error(error);
	g_assert_cmpstr(rows, ==, G_STRINGIFY(AGENTS));
out:
	g_clear_pointer(&sim, orch_sim_free);
	pid = host != NULL ? host->pid : 0;
	g_clear_pointer(&host, orch_sim_host_stop);
	/* stopped and reaped */
	if (pid != 0)
		g_assert_true(kill(pid, 0) != 0 && errno == ESRCH);
	exm_test_rmtree(dir);
}

/*
 * A host that can hold one request for its one worker refuses most of a
 * ramp of 16 with 503, in the Status API (the host's `max_queued` holds for
 * the agent API too); the agents take the refused step again after the
 * agent's backoff, as a real fleet does, until all are registered and have
 * their first payload, with no error left.
 */
static void
test_backoff(void)
{
	g_autofree gchar *dir = NULL;
	g_autoptr(OrchSimHost) host = NULL;
	g_autoptr(OrchSim) sim = NULL;
	g_autoptr(OrchSimStats) stats = NULL;
	g_autofree gchar *errors = NULL;
	g_autofree gchar *retries = NULL;

	if (exm_test_pg_get() == NULL)
		return;
	dir = exm_test_mkdtemp("orch-sim");
	sim = fleet_start(dir, "workers = 1\nmax_queued = 1\n", FALSE, &host);
	if (sim == NULL)
		goto out;
	orch_sim_stop(sim);
	stats = orch_sim_stats(sim);
	errors = orch_sim_stats_errors_text(stats);
	retries = orch_sim_stats_retries_text(stats);
	g_test_message("retries %s; errors %s", retries, errors);
	g_assert_cmpuint(stats->registered, ==, AGENTS);
	g_assert_cmpuint(stats->first_full, ==, AGENTS);
	g_assert_cmpstr(errors, ==, "none");
	g_assert_cmpuint(orch_sim_stats_retries(stats), >, 0);
	g_assert_nonnull(strstr(retries, "http 503"));
out:
	g_clear_pointer(&sim, orch_sim_free);
	g_clear_pointer(&host, orch_sim_host_stop);
	exm_test_rmtree(dir);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_data_func("/orch-sim/small-fleet", GINT_TO_POINTER(FALSE), test_small_fleet);
	g_test_add_data_func("/orch-sim/small-fleet-soup", GINT_TO_POINTER(TRUE), test_small_fleet);
	g_test_add_func("/orch-sim/backoff", test_backoff);
	return g_test_run();
}
