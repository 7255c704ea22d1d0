/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The `core` infra backend: NodeSets and Configs on Exordos Core over REST
 * (`/v1/compute/sets/`, `/v1/config/configs/`, the `get_private_keys` GET
 * action), authenticated with the IAM password grant.
 *
 * Level-based like every backend (exh-backend.h), but Core is remote and
 * has no push, so the entry points never talk to Core themselves: they
 * record the desired state and return, and one worker thread converges it.
 *
 *   - apply_*(): a target that differs from the last one accepted is marked
 *     dirty; the worker GETs it, POSTs on 404 and PUTs only when a target
 *     field differs from what Core echoes (a PUT sends Core back to
 *     IN_PROGRESS / NEW).  An unchanged target costs nothing.
 *   - get_node_set() / get_config_status(): the snapshot of the last poll.
 *     The worker polls every desired set and config every @poll_ms (the
 *     only reads of an idle host) and asks for the node keys only when a
 *     node without one appears; a change wakes the engine (notify).
 *   - delete_*(): forgotten at once and queued; the worker DELETEs until
 *     Core answers 204 or 404.
 *
 * Any Core error, timeout or answer that is not the documented shape keeps
 * the desired state as it is, logs one line (once per distinct failure) and
 * is retried with a doubling backoff (500 ms … 30 s).  The access token is
 * cached, renewed before it expires and re-acquired once on a 401 (with the
 * refresh token when Core gave one); it, the password and the client secret
 * are never logged and are wiped when freed.
 *
 * Infra targets must carry the configured @project (the host's infra
 * project, ABI minor 2): a target of another project is refused, as Core
 * would refuse it for these credentials.
 */
#pragma once

#include "exh-backend.h"

G_BEGIN_DECLS

/**
 * ExhCoreConfig:
 * @endpoint: Core's base URL, with an optional path prefix
 *   (`http://127.0.0.1:11010`, `http://10.20.0.2/api/core`)
 * @user: IAM user (`metapaas`)
 * @password: its password (a secret: wiped when freed)
 * @client_id: IAM client id (`GenesisCoreClientId`)
 * @client_secret: its secret (wiped when freed)
 * @client_uuid: the IAM client of the token URL (the zero uuid)
 * @project: the infra project the token is scoped to
 * @timeout_ms: per request (connect + answer)
 * @poll_ms: how often the actual state is read
 * @token_ttl: the `ttl` asked for (s)
 */
typedef struct {
	gchar *endpoint;
	gchar *user;
	gchar *password;
	gchar *client_id;
	gchar *client_secret;
	gchar *client_uuid;
	gchar *project;
	guint timeout_ms;
	guint poll_ms;
	guint token_ttl;
} ExhCoreConfig;

/* (transfer full): the defaults; endpoint, password and project still unset */
ExhCoreConfig *exh_core_config_new(void);
void exh_core_config_free(ExhCoreConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhCoreConfig, exh_core_config_free)

/**
 * exh_core_config_load_key_file:
 * @kf: the host's config file
 * @error: %EXH_ERROR_CONFIG naming the bad key
 *
 * The `[core]` group: `endpoint`, `project` and `password_file` (a file of
 * this user that others cannot read: mode 0600 or stricter) are required;
 * `user`, `client_id`, `client_secret`, `client_uuid`, `timeout_ms`,
 * `poll_ms`, `token_ttl` have the defaults of exh_core_config_new().
 *
 * Returns: (transfer full) (nullable): the settings; %NULL without @error
 * when there is no `[core]` group
 */
ExhCoreConfig *exh_core_config_load_key_file(GKeyFile *kf, GError **error);

/**
 * exh_core_backend_new:
 * @config: (transfer none): settings (copied)
 * @error: return location for a #GError
 *
 * Starts the worker.  Makes no request until a target is applied.
 *
 * Returns: (transfer full): the backend, or %NULL
 */
ExhInfraBackend *exh_core_backend_new(const ExhCoreConfig *config, GError **error);

/* The backend of a `[core]` group; %NULL without @error when there is none. */
ExhInfraBackend *exh_core_backend_new_from_key_file(GKeyFile *key_file, GError **error);

/* %TRUE when @backend is a core backend. */
gboolean exh_core_backend_is_core(ExhInfraBackend *backend);

/**
 * ExhCoreStats:
 * @reads: GETs sent to Core (token grants excluded)
 * @writes: POST/PUT/DELETE sent (token grants excluded)
 * @grants: token requests sent
 *
 * What the backend cost Core so far, for the benchmark and the tests.
 */
typedef struct {
	guint64 reads;
	guint64 writes;
	guint64 grants;
} ExhCoreStats;

/* A snapshot of the counters of a core backend. */
ExhCoreStats exh_core_backend_get_stats(ExhInfraBackend *backend);

G_END_DECLS
