/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host's core-agent (docs/em-path.md): the project's universal agent
 * (agent/ua) on a thread of its own, talking to Core's Orch and Status APIs
 * as `uuid5_name = core_agent`, with one exh-core-agent-driver.h driver per plugin
 * that takes manifest resources.
 */
#pragma once

#include <glib.h>

#include "exordos-paas-plugin.h"

G_BEGIN_DECLS

typedef struct _ExhCoreAgent ExhCoreAgent;

/**
 * exh_core_agent_new:
 * @agent_config: the universal agent ini file (`[universal_agent]`)
 * @conninfo: the host's database
 * @filter: the agent models' filter value (the Element Manager's project)
 * @seal_key_file: the host's seal key file (0600)
 * @error: a bad agent config or key file
 *
 * Returns: (transfer full): the agent, not running yet
 */
ExhCoreAgent *exh_core_agent_new(const gchar *agent_config,
				 const gchar *conninfo,
				 const gchar *filter,
				 const gchar *seal_key_file,
				 GError **error);

/**
 * exh_core_agent_add_plugin:
 * @agent: an agent not started
 * @desc: a plugin; one without manifest_apply (ABI minor < 3) is skipped
 * @plugin_ctx: its context
 * @error: the database or the key failed
 *
 * Returns: %TRUE when added or skipped
 */
gboolean exh_core_agent_add_plugin(ExhCoreAgent *agent,
				   const ExordosPaasPluginDescriptor *desc,
				   gpointer plugin_ctx,
				   GError **error);

/* Starts its thread. */
void exh_core_agent_start(ExhCoreAgent *agent);

/* Stops the agent (requests in flight cancelled), joins its thread, frees. */
void exh_core_agent_free(ExhCoreAgent *agent);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhCoreAgent, exh_core_agent_free)

G_END_DECLS
