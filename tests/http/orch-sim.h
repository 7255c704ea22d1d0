/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The Orch API load simulator (issue 18 item 4, docs/scale.md §4): many
 * simulated agents against the reference host running as its own process.
 *
 * Each agent has its own node, its own 32-byte key row (encryption required)
 * and its own ExmUaClient, the agent library's client (agent/ua): the same
 * headers, envelope and answer checks as the real agent.  It registers as the
 * agent does (§7.3: node verifier, POST /v1/agents/), asks for its first full
 * payload, then polls get_payload with the collected (hash, version) every
 * period, so the answers are light.  A few threads, each with its own
 * GMainContext, run all agents asynchronously; the polls of an agent start at
 * a fixed rate, spread evenly over the period.  The setup's requests go
 * through the client's libsoup session; the polls through a connection of the
 * agent's own (orch-sim-conn.h) carrying what the same client encodes and
 * reading the answer as it does (exm_ua_client_encode(),
 * exm_ua_client_answer()), so that the simulator's threads do not spend
 * their CPU walking libsoup's sources (docs/scale.md §4).
 */
#pragma once

#include <gio/gio.h>

/* ------------------------------------------------------------------ host */

typedef struct {
	GSubprocess *proc;
	GPid pid;
	gchar *conninfo;
	gchar *orch_url;
	guint orch_port;
	gchar *status_url;
	gboolean pinned; /* started under taskset on CPU 0 */
} OrchSimHost;

/**
 * orch_sim_host_start:
 * @dir: a directory for its config
 * @max_connections: the host's max_connections and max_connections_per_address
 *   (every simulated agent comes from 127.0.0.1 and holds one connection to each API)
 * @idle_timeout_ms: the host's idle_timeout_ms (0: its default)
 * @host_extra: (nullable): more lines of its `[host]` group ("workers = 1\n")
 * @pin: run it on CPU 0 alone (`taskset -c 0`) when the machine has more than one
 * @error: the reason when it does not come up
 *
 * Starts `exordos-paas-host` with the agent API on a fresh database of the
 * binary's throwaway PostgreSQL and waits until its Status API answers.
 *
 * Returns: (transfer full): the host, or %NULL
 */
OrchSimHost *orch_sim_host_start(const gchar *dir,
				 guint max_connections,
				 guint idle_timeout_ms,
				 const gchar *host_extra,
				 gboolean pin,
				 GError **error);
/* SIGTERM, waits for the process to end; nothing when @host is %NULL. */
void orch_sim_host_stop(OrchSimHost *host);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OrchSimHost, orch_sim_host_stop)

/* A field of /proc/<pid>/status in KiB (`VmRSS:`, `VmHWM:`), 0 when unreadable. */
guint64 orch_sim_status_kib(GPid pid, const gchar *field);
/* User + system CPU time of every thread of @pid so far, in seconds. */
gdouble orch_sim_cpu_seconds(GPid pid);
/* Time every thread of @pid has waited runnable for a CPU so far, in seconds
 * (run_delay of /proc/<pid>/task/<tid>/schedstat; 0 when unreadable). */
gdouble orch_sim_wait_seconds(GPid pid);
/* The calling thread on CPU 1 when @host is pinned on CPU 0, so the two do
 * not share a core (a test message names @who when it cannot be). */
void orch_sim_pin_cpu1(const OrchSimHost *host, const gchar *who);

/* ------------------------------------------------------------- simulator */

typedef struct {
	guint agents;
	gdouble period;	 /* seconds between two polls of one agent */
	guint threads;	 /* simulator threads, each with its own main context */
	guint ramp;	 /* registrations in flight at once, per thread */
	gdouble timeout; /* seconds per request (the client's http_timeout) */
	/* keep each registration's Status connections open, as a real agent
	 * does until the host's idle timeout closes them (60 s); by default
	 * they are closed once the agent is registered */
	gboolean keep_registrations;
	/* poll through each agent's libsoup session, as the simulator did
	 * before its own connections (the comparison of docs/scale.md §4) */
	gboolean soup_polls;
} OrchSimConfig;

/**
 * OrchSimStats:
 * @registered: agents whose registration (verify + POST 201) succeeded
 * @first_full: agents that received their first, full payload
 * @light: light answers (hash and version echoed, no resources)
 * @full: full answers to a poll that carried the current hash (should be 0)
 * @errors: error kind ("transport: …", "http 503", "refused", …) → count
 * @retries: setup failures the agent outlived and tried again after its
 *   backoff (a 503, a transport error), by kind as @errors
 * @latencies: (element-type gdouble): ms of every poll started in the window
 * @requests: polls started in the window and answered (any answer)
 * @late: polls started after their due time because the previous was in flight
 * @window: seconds the window lasted
 */
typedef struct {
	guint registered;
	guint first_full;
	guint64 light;
	guint64 full;
	GHashTable *errors;
	GHashTable *retries;
	GArray *latencies;
	guint64 requests;
	guint64 late;
	gdouble window;
} OrchSimStats;

void orch_sim_stats_free(OrchSimStats *stats);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OrchSimStats, orch_sim_stats_free)
/* Sum of all error counts. */
guint64 orch_sim_stats_errors(const OrchSimStats *stats);
/* "kind=count, …" sorted by kind, "none" when there is none. */
gchar *orch_sim_stats_errors_text(const OrchSimStats *stats);
/* The same two for the retries. */
guint64 orch_sim_stats_retries(const OrchSimStats *stats);
gchar *orch_sim_stats_retries_text(const OrchSimStats *stats);

typedef struct _OrchSim OrchSim;

/**
 * orch_sim_new:
 * @host: the host to load
 * @dir: where the agents' key files go (mode 0600)
 * @config: size and pace
 * @error: when the key rows cannot be written
 *
 * Makes the agents: a node uuid, a key and its row in
 * `ua_node_encryption_keys` (encryption required) and a client each.
 *
 * Returns: (transfer full): the simulator, not started
 */
OrchSim *orch_sim_new(OrchSimHost *host,
		      const gchar *dir,
		      const OrchSimConfig *config,
		      GError **error);
void orch_sim_free(OrchSim *sim);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OrchSim, orch_sim_free)

/**
 * orch_sim_start:
 * @sim: a simulator
 * @timeout: seconds for the agents to register and fetch their first payload
 * @error: when they did not all make it (the figures say why)
 *
 * Starts the threads: every agent registers, then a target is seeded for each
 * (one row in ua_target_resources, as a builder routes it), every agent
 * fetches its first, full payload, and the polls begin.
 *
 * Returns: %TRUE when every agent got there
 */
gboolean orch_sim_start(OrchSim *sim, gdouble timeout, GError **error);
/* Opens the measurement window: polls started from now on are counted. */
void orch_sim_window_open(OrchSim *sim);
/* Closes it, stops polling, waits for the answers in flight and joins the
 * threads (at most the request timeout). */
void orch_sim_stop(OrchSim *sim);
/* Returns: (transfer full): the figures (call after orch_sim_stop()). */
OrchSimStats *orch_sim_stats(OrchSim *sim);
