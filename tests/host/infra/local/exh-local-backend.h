/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The `local` infra backend (docs/architecture.md §2 step 3): every node of a NodeSet is
 * a sandbox directory on this machine with a loopback address of its own, in
 * which the real data-plane programs run as supervised children of the host.
 * What those programs are comes from the type's node descriptor
 * (exh-local-type.h, `[local] node_descriptor`): the backend knows no type.
 *
 * Layout under @state_dir (every directory 0755 so that children that drop
 * their privileges can still traverse to their files):
 *
 *   <state_dir>/<set uuid>/<node uuid>/root/   the node's `/` (the DP root)
 *                                      node.ini   agent ini: [universal_agent]
 *                                                 + the type's [ini.*] groups
 *                                      log/<child name>.log
 *                                      <restart_flag>  trigger (see below)
 *
 * Addresses: the backend leases a subnet `127.K.0.0/16` for its lifetime (K
 * in 16..127, probed from a random start: a `flock`ed file
 * `<lock_dir>/127.K.lock` plus a bind test of the first port), and node N of
 * the backend gets `127.K.0.N` (N = 1..254, the lowest free), reported as
 * its ipv4.  Its service listens there on the type's ports, or on
 * @port_base, +1, … when @port_base is set.
 *
 * Sizes: cores, ram and the disks of the target are recorded and reported in
 * the actual set (so a disk grow "reaches" it); a local node has no limits
 * and its disks are plain directories.  The image is not used: the node runs
 * this machine's programs and the configured binaries.
 *
 * Node lifecycle: a new node gets its sandbox, its key and node.ini, and its
 * agent is started (the type's [agent] argv; node.ini has `node_uuid` = the
 * node's uuid, `long_poll = true`).  A Config is written under `root/` with
 * its owner, group and mode (exm_atomic_write(): unchanged → no write), and
 * when it changed its `on_change` runs: `systemctl restart|try-restart|
 * reload-or-restart|reload <unit>` of a unit the type maps to
 *
 *   the job      → the job's argv runs (once; a run requested while one runs
 *                  follows it)
 *   the service  → the service is stopped and started (not SIGHUP: a daemon
 *                  that dropped its privileges could not bind its ports
 *                  again), once a job run succeeded
 *   the agent    → the agent is restarted
 *
 * anything else is refused (no shell ever runs).  When the job exits and the
 * type's restart_flag file exists (the job's restart command touches it),
 * the backend consumes it and restarts the service; after the first
 * successful job the service is started.  The service and the agent are
 * restarted with a doubling backoff (100 ms … 5 s) when they die.  A node
 * whose sandbox already holds the type's `job_if_exists` runs the job at
 * start, as its unit does at boot (adoption after a host restart).
 *
 * Status of a node: ERROR when its last job run failed; ACTIVE once a job
 * run succeeded and the service accepts connections on every port;
 * IN_PROGRESS otherwise (NEW before any Config).  The set is ACTIVE when all
 * its nodes are, ERROR when one is.  So a builder must emit the Configs as
 * soon as the actual set has nodes, not only once it is ACTIVE.
 *
 * Delete stops the set's children (SIGTERM to each process group, SIGKILL
 * after @stop_timeout) and removes its sandboxes before it returns; shutdown
 * stops every child and keeps the sandboxes.  Children also get
 * PR_SET_PDEATHSIG where the kernel keeps it.
 */
#pragma once

#include "exh-backend.h"
#include "exh-local-config.h"

G_BEGIN_DECLS

/**
 * exh_local_backend_new:
 * @config: (transfer none): settings (copied)
 * @error: return location for a #GError
 *
 * Leases a subnet, creates @state_dir and starts the backend's thread.
 * Starts no node.
 *
 * Returns: (transfer full): the backend, or %NULL
 */
ExhInfraBackend *exh_local_backend_new(const ExhLocalConfig *config, GError **error);

/**
 * exh_local_backend_new_from_key_file:
 * @key_file: the host's config file
 * @error: return location for a #GError
 *
 * For exordos-paas-host and the stand: a local backend configured by the
 * `[local]` group (see exh_local_config_load_key_file(); `state_dir` is
 * required there).  The host borrows it (#ExhHostConfig.backend), so free it
 * after exh_host_stop().
 *
 * Returns: (transfer full) (nullable): the backend; %NULL without @error when
 * the key file has no `[local]` group, %NULL with @error on failure
 */
ExhInfraBackend *exh_local_backend_new_from_key_file(GKeyFile *key_file, GError **error);

/* %TRUE when @backend is a local backend. */
gboolean exh_local_backend_is_local(ExhInfraBackend *backend);

/* The leased K of `127.K.0.0/16`. */
guint exh_local_backend_get_subnet(ExhInfraBackend *backend);

/**
 * exh_local_backend_set_endpoints:
 * @backend: a local backend
 * @orch_endpoint: Orch API base URL
 * @status_endpoint: Status API base URL
 *
 * For a host that learns its ports only when it listens.  Nodes created
 * afterwards get them; running agents are rewritten and restarted when they
 * differ.
 */
void exh_local_backend_set_endpoints(ExhInfraBackend *backend,
				     const gchar *orch_endpoint,
				     const gchar *status_endpoint);

/**
 * ExhLocalNodeInfo:
 * @uuid: node uuid
 * @set_uuid: its set
 * @dir: the node directory (node.ini, log/)
 * @root: its DP root
 * @ipv4: its address
 * @port_names: the type's port names
 * @ports: their resolved numbers (see exh_local_node_info_port())
 * @n_ports: how many
 * @status: the node's status
 * @service_pid: the service's pid, 0 when not running
 * @agent_pid: the agent's pid, 0 when not running
 * @service_starts: how often the service was started
 * @agent_starts: how often the agent was started
 * @job_runs: how often the job ran
 *
 * What tests and the stand need to know about a node.
 */
typedef struct {
	gchar *uuid;
	gchar *set_uuid;
	gchar *dir;
	gchar *root;
	gchar *ipv4;
	gchar **port_names;
	guint *ports;
	guint n_ports;
	ExhInfraStatus status;
	GPid service_pid;
	GPid agent_pid;
	guint service_starts;
	guint agent_starts;
	guint job_runs;
} ExhLocalNodeInfo;

/* The port the type names @name, 0 when it names none. */
guint exh_local_node_info_port(const ExhLocalNodeInfo *info, const gchar *name);

void exh_local_node_info_free(ExhLocalNodeInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhLocalNodeInfo, exh_local_node_info_free)

/**
 * exh_local_backend_get_node_info:
 * @backend: a local backend
 * @node_uuid: a node
 *
 * Returns: (transfer full) (nullable): a snapshot, %NULL for an unknown node
 */
ExhLocalNodeInfo *exh_local_backend_get_node_info(ExhInfraBackend *backend, const gchar *node_uuid);

/**
 * exh_local_backend_set_agent_running:
 * @backend: a local backend
 * @node_uuid: a node
 * @running: %FALSE stops the node's agent and keeps it stopped (no restart);
 *   %TRUE starts it again
 *
 * For tests of an agent that is down for a while.
 *
 * Returns: %TRUE when the node exists
 */
gboolean exh_local_backend_set_agent_running(ExhInfraBackend *backend,
					     const gchar *node_uuid,
					     gboolean running);

G_END_DECLS
