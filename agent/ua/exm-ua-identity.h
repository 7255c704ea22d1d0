/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Agent identity (docs/agent-protocol.md §2.1).
 */
#pragma once

#include "exm-ua-config.h"

#include <glib.h>
#include <json-glib/json-glib.h>

/**
 * ExmUaIdentity:
 * @node: the system (node) uuid: registered as the agent's `node`, sent as
 *   `X-Genesis-Node-UUID` and as the `node` of every actual resource
 * @agent: the agent uuid
 * @name: `Universal Agent <first 8 chars of agent>`
 */
typedef struct {
	gchar *node;
	gchar *agent;
	gchar *name;
} ExmUaIdentity;

/**
 * exm_ua_identity_read_system_uuid:
 * @root: directory holding `sys/class/dmi/id/product_uuid` (`/` on a real node)
 * @error: %EXM_UA_ERROR_CONFIG when the file is missing or holds no uuid
 *
 * Returns: (transfer full): the lower-case canonical system uuid
 */
gchar *exm_ua_identity_read_system_uuid(const gchar *root, GError **error);

/**
 * exm_ua_identity_new:
 * @config: the agent configuration
 * @error: as exm_ua_identity_read_system_uuid()
 *
 * node = `node_uuid` or the system uuid; agent = `uuid`, else
 * exm_proto_uuid_agent(node, `uuid5_name`).
 *
 * Returns: (transfer full): the identity
 */
ExmUaIdentity *exm_ua_identity_new(const ExmUaConfig *config, GError **error);

void exm_ua_identity_free(ExmUaIdentity *identity);

/**
 * exm_ua_identity_registration_body:
 * @identity: the agent's identity
 * @kinds: (nullable) (element-type utf8): its capability kinds
 * @full: the POST of §3.3 (uuid, name, description, capabilities, facts,
 *   node, status); %FALSE: the PUT of §7.3 (capabilities, facts, name)
 *
 * Returns: (transfer full): the body, as the agent sends it
 */
JsonNode *exm_ua_identity_registration_body(const ExmUaIdentity *identity,
					    GPtrArray *kinds,
					    gboolean full);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmUaIdentity, exm_ua_identity_free)
