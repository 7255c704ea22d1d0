/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The `[universal_agent]` section of the agent's ini file
 * (docs/agent-protocol.md §7.1) plus this project's own keys.
 */
#pragma once

#include <glib.h>

#include "exm-ini.h"

#define EXM_UA_CONFIG_GROUP	     "universal_agent"
#define EXM_UA_DEFAULT_ENDPOINT	     "http://localhost:11011"
#define EXM_UA_DEFAULT_WORK_DIR	     "/var/lib/exordos/universal_agent"
#define EXM_UA_DEFAULT_POLL_INTERVAL 3.0
#define EXM_UA_MAX_LONG_POLL_WAIT    10
/* Longest pause between attempts while the CP is unreachable: an agent sees a
 * CP that came back at most this long after (plus one request), however long
 * the outage was.  Above about 12 s the 15 s convergence bound is lost. */
#define EXM_UA_DEFAULT_BACKOFF_MAX 10

/**
 * ExmUaConfig:
 * @orch_endpoint: Orch API base URL (`orch_endpoint`)
 * @status_endpoint: Status API base URL (`status_endpoint`)
 * @uuid: (nullable): explicit agent uuid (`uuid`)
 * @uuid5_name: (nullable): agent uuid = uuid5(node, name) (`uuid5_name`)
 * @node_uuid: (nullable): identity override of the system uuid (`node_uuid`, ours)
 * @system_root: directory under which `sys/class/dmi/id/product_uuid` is read
 *   (`system_root`, ours; default `/`)
 * @payload_path: last collected payload (`payload_path`)
 * @private_key_path: (nullable): base64 ChaCha20-Poly1305 key file; the envelope of
 *   §6 is used when it is set and @secure is %TRUE (`private_key_path`)
 * @secure: `orch_secure_communication` (default %TRUE)
 * @caps_drivers: capability driver names (`caps_drivers`)
 * @verify_node: ask the Status API's node verifier before registering and
 *   register only when it knows the node (`verify_node_on_register`, as the
 *   gcl_sdk fork's agent; default %TRUE)
 * @long_poll: send `wait=` on get_payload (`long_poll`, ours)
 * @long_poll_wait: seconds of `wait=` (`long_poll_wait`, ours; 1..10, default 10)
 * @poll_interval: seconds between iteration starts (`poll_interval`, ours; default 3)
 * @http_timeout: seconds per request (`http_timeout`, ours; default 20)
 * @backoff_initial: first retry delay while the CP is unreachable (`backoff_initial`;
 *   default 1 s, lowered to @backoff_max when above it)
 * @backoff_max: cap of that delay, hence the bound on how late the agent sees a
 *   returned CP (`backoff_max`; default %EXM_UA_DEFAULT_BACKOFF_MAX s)
 */
typedef struct {
	gchar *orch_endpoint;
	gchar *status_endpoint;
	gchar *uuid;
	gchar *uuid5_name;
	gchar *node_uuid;
	gchar *system_root;
	gchar *payload_path;
	gchar *private_key_path;
	gboolean secure;
	gchar **caps_drivers;
	gboolean verify_node;
	gboolean long_poll;
	guint long_poll_wait;
	gdouble poll_interval;
	gdouble http_timeout;
	gdouble backoff_initial;
	gdouble backoff_max;
} ExmUaConfig;

/**
 * exm_ua_config_load:
 * @path: ini file
 * @error: %EXM_UA_ERROR_CONFIG naming the key on a bad value
 *
 * Returns: (transfer full): the configuration, defaults filled in
 */
ExmUaConfig *exm_ua_config_load(const gchar *path, GError **error);

/**
 * exm_ua_config_load_keyfile:
 * @kf: a parsed key file
 * @error: as exm_ua_config_load()
 *
 * Returns: (transfer full): the configuration read from the `[universal_agent]` group
 */
ExmUaConfig *exm_ua_config_load_keyfile(GKeyFile *kf, GError **error);

/* Returns: (transfer full): the daemon's options: `--config-file FILE` (-c). */
ExmIniOptions *exm_ua_config_options_new(void);

/* Returns: %TRUE when requests are wrapped in the §6 envelope. */
gboolean exm_ua_config_use_envelope(const ExmUaConfig *config);

void exm_ua_config_free(ExmUaConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmUaConfig, exm_ua_config_free)
