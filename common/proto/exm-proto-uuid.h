/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The protocol's uuid5 names (docs/agent-protocol.md §2.1, §2.3).
 */
#pragma once

#include <glib.h>

/**
 * exm_proto_uuid_resource:
 * @uuid: a resource uuid
 * @kind: its kind
 *
 * Returns: (transfer full) (nullable): uuid5(@uuid, @kind), the `res_uuid` the
 * builders join target and actual rows on; %NULL when @uuid is not a uuid
 */
gchar *exm_proto_uuid_resource(const gchar *uuid, const gchar *kind);

/**
 * exm_proto_uuid_agent:
 * @node: the node (system) uuid
 * @uuid5_name: (nullable): the agent's `uuid5_name`
 * @error: as exm_uuid_v5() when @node is not a uuid
 *
 * Returns: (transfer full) (nullable): the agent uuid: uuid5(@node,
 * @uuid5_name), or @node itself without a name
 */
gchar *exm_proto_uuid_agent(const gchar *node, const gchar *uuid5_name, GError **error);
