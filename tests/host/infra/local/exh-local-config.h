/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The settings of the `local` backend (exh-local-backend.h) and how the
 * host's `[local]` group sets them.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * ExhLocalPreConfigure:
 * @node_uuid: the node
 * @root: its DP root directory
 * @user_data: user data
 *
 * Test hook run on the backend's thread before each job run (e.g. to break
 * a directory and provoke a job failure).
 */
typedef void (*ExhLocalPreConfigure)(const gchar *node_uuid, const gchar *root, gpointer user_data);

/**
 * ExhLocalConfig:
 * @state_dir: where the sandboxes live (created 0755)
 * @lock_dir: (nullable): where the subnet lock files live, a directory of
 *   this user that nobody else may write; %NULL = exh_local_net_default_lock_dir()
 * @subnet: 0 = probe; 16..127 = use `127.<subnet>.0.0/16` (must be free)
 * @port_base: 0 = the type's ports; otherwise its first port = @port_base,
 *   the next +1, …
 * @node_descriptor: the type's node descriptor (exh-local-type.h); required
 * @settings: name -> value: the descriptor's binaries (a path; "" turns an
 *   optional one off) and settings; see exh_local_config_set()
 * @orch_endpoint: (nullable): the Orch API base URL written into node.ini;
 *   may be set later with exh_local_backend_set_endpoints()
 * @status_endpoint: (nullable): the Status API base URL
 * @uuid5_name: (nullable): agent identity name (%NULL = the descriptor's)
 * @caps_drivers: (nullable): the agent's `caps_drivers` (%NULL = the
 *   descriptor's)
 * @envelope: `orch_secure_communication` of the agents (the key file is
 *   always written, as a node key always exists, §6.1)
 * @stop_timeout_ms: SIGTERM → SIGKILL delay (default 5000)
 * @pre_configure: (nullable): test hook, see #ExhLocalPreConfigure
 * @pre_configure_data: its data
 */
typedef struct {
	gchar *state_dir;
	gchar *lock_dir;
	guint subnet;
	guint port_base;
	gchar *node_descriptor;
	GHashTable *settings;
	gchar *orch_endpoint;
	gchar *status_endpoint;
	gchar *uuid5_name;
	gchar *caps_drivers;
	gboolean envelope;
	guint stop_timeout_ms;
	ExhLocalPreConfigure pre_configure;
	gpointer pre_configure_data;
} ExhLocalConfig;

/* (transfer full): defaults; @state_dir and @node_descriptor must still be set */
ExhLocalConfig *exh_local_config_new(void);
/* (transfer full): a deep copy (the test hook is shared) */
ExhLocalConfig *exh_local_config_copy(const ExhLocalConfig *src);
void exh_local_config_free(ExhLocalConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhLocalConfig, exh_local_config_free)

/**
 * exh_local_config_set:
 * @config: settings
 * @name: a binary or setting the descriptor names (its `[local]` key)
 * @value: (nullable): its value; %NULL removes it (the descriptor's default)
 */
void exh_local_config_set(ExhLocalConfig *config, const gchar *name, const gchar *value);

/* (nullable): the value exh_local_config_set() or the key file gave @name. */
const gchar *exh_local_config_get(const ExhLocalConfig *config, const gchar *name);

/**
 * exh_local_config_load_key_file:
 * @c: settings to override
 * @kf: the host's config; group `[local]` with `state_dir`, `lock_dir`,
 *   `subnet`, `port_base`, `node_descriptor`, `uuid5_name`, `envelope`,
 *   `stop_timeout_ms`; every other key is a binary or setting of the
 *   descriptor (exh_local_config_set()); a missing group changes nothing
 * @error: %EXH_ERROR_CONFIG naming the key
 *
 * Returns: %TRUE on success
 */
gboolean exh_local_config_load_key_file(ExhLocalConfig *c, GKeyFile *kf, GError **error);

G_END_DECLS
