/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host's core-agent driver (docs/em-path.md): a driver of the project's
 * universal agent (agent/ua) whose kinds are the plugin's Element Manager
 * kinds.  Every target goes through the plugin's manifest_apply (ABI minor 3)
 * in its own transaction; the actual state is read back through it.  The
 * read-hidden fields of a value (a plaintext `password`) are sealed with the
 * host key: the plugin stores the seal, the driver opens it to leave out what
 * did not change (nothing is re-hashed) and to report those fields back.  A
 * value the plugin refuses is reported as a resource in status `ERROR` whose
 * `error` member is the plugin's error body.
 */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

#include "exh-seal.h"
#include "exm-ua-driver.h"
#include "exordos-paas-plugin.h"

G_BEGIN_DECLS

#define EXH_CORE_AGENT_DRIVER "CoreAgentEmDriver"

/**
 * exh_core_agent_driver_new:
 * @desc: the plugin (abi_minor ≥ 3 with a manifest_apply)
 * @plugin_ctx: its context from init
 * @db: (transfer full): a connection the driver alone uses
 * @filter: the value of the agent models' filter field (the Element
 *   Manager's project id): the driver lists, hence may delete, only those
 * @key: (transfer full): the host's seal key
 * @error: a plugin without manifest_apply
 *
 * Returns: (transfer full): the driver, freed with exm_ua_driver_free()
 */
ExmUaDriver *exh_core_agent_driver_new(const ExordosPaasPluginDescriptor *desc,
				       gpointer plugin_ctx,
				       PGconn *db,
				       const gchar *filter,
				       ExhSealKey *key,
				       GError **error);

G_END_DECLS
