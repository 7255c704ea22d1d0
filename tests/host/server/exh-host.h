/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * exordos-paas-host, the reference MetaPaaS host: loads PaaS type plugins
 * through the ABI of plugin/exordos-paas-plugin.h, applies their migrations,
 * and serves the user API (`/v1/`, `/v1/types/`, `/v1/types/<slug>/…`) with
 * IAM from a token file and one PostgreSQL transaction per request on a
 * bounded worker pool.  Built as a static library (`exh`) so tests run the
 * whole host in-process; `exh-main.c` is the thin executable around it.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>

#include "exh-error.h"
#include "exh-listener.h"

G_BEGIN_DECLS

/* The limit on request bodies; larger ones get 413. */
#define EXH_DEFAULT_MAX_BODY (1024 * 1024)
/* The default worker count follows the machine: its online CPUs, within these
 * bounds (exh_host_config_default_workers(); docs/scale.md §8). */
#define EXH_DEFAULT_WORKERS_MIN 2
#define EXH_DEFAULT_WORKERS_MAX 16
/* The project the host registers its types under (the stand's dev project). */
#define EXH_DEFAULT_PROJECT "4d657461-0000-0000-0000-000000000002"

/* The Element Manager's project, upstream's versions description (§4.1). */
#define EXH_CORE_AGENT_FILTER "12345678-c625-4fee-81d5-f691897b8142"

/**
 * ExhHostConfig:
 * @listen_address: IP address of the user API listener (default `127.0.0.1`)
 * @port: its TCP port; 0 picks a free one (see exh_host_get_port())
 * @external_base_url: (nullable): the base of the absolute URLs in answers
 *   (`Location`), e.g. `https://core.example/api/metapaas`; %NULL = from each
 *   request's Host, X-Forwarded-Proto and X-Forwarded-Prefix headers
 * @conninfo: libpq conninfo of the database
 * @plugins: %NULL-terminated paths of plugin shared objects
 * @plugin_dir: (nullable): the directory type registration rows
 *   (`metapaas_paas_types.package`) name plugins in; %NULL = rows can only
 *   name the types of @plugins (docs/type-registration.md)
 * @token_file: (nullable): the IAM token file; %NULL = every request anonymous
 * @workers: size of the worker pool (= number of database connections)
 * @max_body: request body limit in bytes
 * @max_queued: requests allowed to wait for a worker before new ones get 503
 *   (0 = 64 per worker)
 * @shutdown_grace_ms: how long a stop waits for requests in flight before it
 *   closes their connections and cancels their statements (0 = 30 s)
 * @connections: timeouts and caps of every listener (exh-listener.h): the
 *   user API's and, with @agent_api, the Orch and Status APIs' each
 * @project_id: project the installed types are registered under
 * @migrate_only: apply the migrations, then stop (exordos-paas-host only)
 * @agent_api: also run the universal agent side (exh-ua.h): the Orch and
 *   Status APIs on @orch_port and @status_port of @listen_address and the
 *   builder engine (config file: `[agent_api] enabled = true`)
 * @orch_port: Orch API port (default 11011; 0 = any free port)
 * @status_port: Status API port (default 11012; 0 = any free port)
 * @plain_agents: node keys accept plain requests (agents without envelope)
 * @backend: (nullable): the infra backend the engine drives, borrowed (it
 *   must outlive the host)
 * @verbose: log info and debug records too, the access log among them
 *   (exordos-paas-host only)
 * @iam_mode: `token_file` (the default) or `core` (docs/iam.md)
 * @iam_endpoint: (nullable): Core IAM's client URL (`core` mode)
 * @iam_audience: the `aud` tokens must carry (default `GenesisCoreClientId`)
 * @iam_jwks_key_file: (nullable): 0600 file holding the 32-byte JWKS
 *   decryption key (base64url or raw)
 * @iam_timeout: seconds per call to Core IAM (default 5)
 * @iam_cache_ttl: seconds an introspection is reused (default 15; 0 = never)
 * @iam_cache_max: introspections kept at most (default 10000; 0 = none)
 * @iam_jwks_ttl: seconds the JWKS is reused (default 60)
 * @iam_jwks_refresh: shortest seconds between two JWKS fetches caused by a
 *   token the cached keys do not verify (default 5)
 * @iam_max_concurrent: introspections in flight at once (default 16)
 * @metrics: serve `GET /metrics` (`[metrics] enabled`, default false)
 * @metrics_listen: its IP address (`[metrics] listen`, default `127.0.0.1`)
 * @metrics_port: its port (`[metrics] port`, default 9464; 0 = any free port)
 * @core_agent: run the EM path's core-agent (docs/em-path.md; `[core_agent]
 *   enabled`, default false)
 * @core_agent_config: (nullable): its universal agent ini file (the
 *   `[universal_agent]` group: Core's Orch and Status endpoints, `uuid5_name =
 *   core_agent`, …; `[core_agent] agent_config`)
 * @core_agent_seal_key_file: (nullable): the 0600 file of the host's seal key
 *   (44 base64 characters; `[core_agent] seal_key_file`)
 * @core_agent_filter: the agent models' filter value, the Element Manager's
 *   project (`[core_agent] filter`, default %EXH_CORE_AGENT_FILTER)
 * @config_file: (nullable): the config file last read by
 *   exh_host_config_load_file() (exh_host_config_new_backend() reads its
 *   `[local]` group)
 *
 * How to run a host.  Filled from a config file and the command line by
 * exh_host_config_load(), or directly by tests.
 */
typedef struct {
	gchar *listen_address;
	guint port;
	gchar *external_base_url;
	gchar *conninfo;
	gchar **plugins;
	gchar *plugin_dir;
	gchar *token_file;
	guint workers;
	gsize max_body;
	guint max_queued;
	guint shutdown_grace_ms;
	ExhListenerLimits connections;
	gchar *project_id;
	gboolean migrate_only;
	gboolean verbose;
	/* the universal agent side (exh-ua.h) */
	gboolean agent_api;
	guint orch_port;
	guint status_port;
	gboolean plain_agents;
	struct _ExhInfraBackend *backend;
	/* identities (docs/iam.md) */
	gchar *iam_mode;
	gchar *iam_endpoint;
	gchar *iam_audience;
	gchar *iam_jwks_key_file;
	guint iam_timeout;
	guint iam_cache_ttl;
	guint iam_cache_max;
	guint iam_jwks_ttl;
	guint iam_jwks_refresh;
	guint iam_max_concurrent;
	/* the metrics listener (docs/metrics.md) */
	gboolean metrics;
	gchar *metrics_listen;
	guint metrics_port;
	/* the EM path (docs/em-path.md) */
	gboolean core_agent;
	gchar *core_agent_config;
	gchar *core_agent_seal_key_file;
	gchar *core_agent_filter;
	gchar *config_file;
} ExhHostConfig;

/* (transfer full): a config with every default set and no plugin */
ExhHostConfig *exh_host_config_new(void);
/* The default of `workers`: the online CPUs, EXH_DEFAULT_WORKERS_MIN..MAX. */
guint exh_host_config_default_workers(void);
void exh_host_config_free(ExhHostConfig *config);
/* After `*copy = *config`: gives @config copies of its own of every string
 * and list the config file sets (not @config_file). */
void exh_host_config_copy_fields(ExhHostConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhHostConfig, exh_host_config_free)

/**
 * exh_host_config_load_file:
 * @config: a config
 * @path: a GKeyFile: group `[host]` with `listen`, `port`, `workers`,
 *   `max_body`, `max_queued`, `plugins` (list), `plugin_dir`, `token_file`, `project_id`,
 *   `header_timeout_ms`, `idle_timeout_ms`, `max_connections`,
 *   `max_connections_per_address`; group `[db]` with `conninfo`
 * @error: %EXH_ERROR_CONFIG on failure
 *
 * Overrides @config with the values present in @path.
 *
 * Returns: %TRUE on success
 */
gboolean exh_host_config_load_file(ExhHostConfig *config, const gchar *path, GError **error);

/**
 * exh_host_config_parse_args:
 * @config: (out): receives the result
 * @argc: argument count
 * @argv: arguments (consumed)
 * @out_exit: (out): set when the process should exit with the returned status
 *   without running (`--help`, `--version`)
 * @error: %EXH_ERROR_CONFIG on failure
 *
 * The command line of exordos-paas-host: `--config FILE` is read first, then
 * every other flag overrides it.
 *
 * Returns: %TRUE on success
 */
gboolean exh_host_config_parse_args(ExhHostConfig *config,
				    gint *argc,
				    gchar ***argv,
				    gboolean *out_exit,
				    GError **error);

/**
 * exh_host_config_new_backend:
 * @config: a config filled by exh_host_config_load_file() or
 *   exh_host_config_parse_args()
 * @error: %EXH_ERROR_CONFIG on a bad `[local]` or `[core]` group, or the
 *   backend's error
 *
 * For exordos-paas-host: the infra backend the config file asks for — the
 * `local` backend when it has a `[local]` group (exh-local-backend.h), the
 * `core` backend when it has a `[core]` group (exh-core-backend.h; not both).
 * Either needs `[agent_api] enabled = true` since only the agent side drives it.
 * The caller sets it as #ExhHostConfig.backend and frees it after
 * exh_host_stop().
 *
 * Returns: (transfer full) (nullable): the backend; %NULL without @error
 * when no config file was read or it names no backend
 */
struct _ExhInfraBackend *exh_host_config_new_backend(const ExhHostConfig *config, GError **error);

/**
 * exh_host_config_parse_listen:
 * @listen_address: (nullable): a listen address from a config
 * @error: %EXH_ERROR_CONFIG when it is not a literal IP
 *
 * Returns: (transfer full): the address, or %NULL
 */
GInetAddress *exh_host_config_parse_listen(const gchar *listen_address, GError **error);

/**
 * exh_server_too_large:
 * @max_body: the configured limit
 * @error: set to %EXM_ERROR_TOO_LARGE
 *
 * The one 413 answer of both servers (user API and ua APIs).
 *
 * Returns: %FALSE
 */
gboolean exh_server_too_large(gsize max_body, GError **error);

/* Checks the values together (a conninfo, a non-zero pool, …). */
gboolean exh_host_config_validate(const ExhHostConfig *config, GError **error);

typedef struct _ExhHost ExhHost;

/**
 * exh_host_new:
 * @config: (transfer none): the configuration (copied)
 * @error: return location for a #GError
 *
 * Loads the token file and the plugins and checks their ABI.  Opens no socket
 * and no database connection yet.
 *
 * Returns: (transfer full): the host, or %NULL with @error set
 */
ExhHost *exh_host_new(const ExhHostConfig *config, GError **error);

/**
 * exh_host_migrate:
 * @host: a host
 * @error: return location for a #GError
 *
 * Applies the host's own migrations and those of every plugin that are not
 * recorded as applied in `ra_migrations`, dependencies first, each in its own
 * transaction.  Re-running is a no-op.
 *
 * Returns: %TRUE on success
 */
gboolean exh_host_migrate(ExhHost *host, GError **error);

/**
 * exh_host_rollback_migration:
 * @host: a host
 * @uuid: the migration to revert
 * @error: return location for a #GError
 *
 * Reverts @uuid (and first every applied migration that depends on it) with
 * their down SQL, in one transaction; the `ra_migrations` rows stay with
 * `applied = false`.  Meant for tests and operators.
 *
 * Returns: %TRUE on success
 */
gboolean exh_host_rollback_migration(ExhHost *host, const gchar *uuid, GError **error);

/**
 * exh_host_start:
 * @host: a host
 * @error: return location for a #GError
 *
 * Migrates, initialises the plugins, starts the worker pool and the server
 * thread (its own #GMainContext and main loop) and listens.  Returns once the
 * listener accepts connections.
 *
 * Returns: %TRUE on success
 */
gboolean exh_host_start(ExhHost *host, GError **error);

/**
 * exh_host_types_changed:
 * @host: a host
 *
 * Tells the host that `metapaas_paas_types` changed (the hook of whoever
 * writes a type registration row, e.g. the core-agent after a `$metapaas.types`
 * resource): the type reconciler runs its next pass now instead of within a
 * second.  Thread-safe; a no-op before exh_host_start() and after
 * exh_host_stop().  See docs/type-registration.md.
 */
void exh_host_types_changed(ExhHost *host);

/* The bound TCP port of the user API, 0 before exh_host_start(). */
guint exh_host_get_port(ExhHost *host);

/* (transfer none): `http://<address>:<port>` of the user API */
const gchar *exh_host_get_base_url(ExhHost *host);
/* (nullable): `http://<address>:<port>/metrics` while the metrics listener runs */
const gchar *exh_host_get_metrics_url(ExhHost *host);

/**
 * exh_host_stop:
 * @host: a host
 *
 * Clean shutdown: new requests are refused with 503, the requests in flight
 * finish and their responses are written, then the listener and client
 * connections close, the workers join, the database connections close and the
 * plugins shut down.  Callable from any thread but the server thread;
 * idempotent.
 */
void exh_host_stop(ExhHost *host);

void exh_host_free(ExhHost *host);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhHost, exh_host_free)

/**
 * exh_host_get_stats:
 * @host: a host
 * @out_served: (out) (optional): requests answered so far
 * @out_dispatched: (out) (optional): of those, requests run on the worker pool
 * @out_reconnects: (out) (optional): database reconnections so far
 *
 * Counters for tests and the benchmark.
 */
void exh_host_get_stats(ExhHost *host,
			guint64 *out_served,
			guint64 *out_dispatched,
			guint64 *out_reconnects);

/* (nullable) (transfer none): base URLs of the Orch and Status APIs, when
 * the agent API runs (#ExhHostConfig.agent_api) */
const gchar *exh_host_get_orch_url(ExhHost *host);
const gchar *exh_host_get_status_url(ExhHost *host);

/* get_payloads answered from the light-poll cache so far (docs/scale.md §4). */
guint64 exh_host_get_light_polls(ExhHost *host);

/* Requests running on the worker pool or waiting for their response to be written. */
guint exh_host_get_in_flight(ExhHost *host);

/**
 * exh_host_get_connections:
 * @host: a host
 * @out_open: (out) (optional): connections open now on every listener
 * @out_refused: (out) (optional): connections refused so far by the caps
 *   (#ExhHostConfig.connections)
 */
void exh_host_get_connections(ExhHost *host, guint *out_open, guint64 *out_refused);

G_END_DECLS
