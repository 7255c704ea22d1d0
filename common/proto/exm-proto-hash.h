/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The protocol's hashes (docs/agent-protocol.md §2.3): XXH3 of the
 * canonical JSON of a value, of its projection on a target's keys, and of a
 * payload's resource hashes.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

/**
 * exm_proto_hash_value:
 * @value: an object
 *
 * Returns: (transfer full): the protocol's `calculate_hash` of @value (the
 * `full_hash` of an actual resource, the `hash` of a target)
 */
gchar *exm_proto_hash_value(JsonObject *value);

/**
 * exm_proto_hash_projection:
 * @value: an actual value
 * @keys: (nullable): the target value whose keys select the members of @value
 *
 * Returns: (transfer full): the hash of `{k: value[k] for k in keys(target)}`
 * (keys absent from @value are left out), or of the whole @value without @keys;
 * the `hash` of an actual resource
 */
gchar *exm_proto_hash_projection(JsonObject *value, JsonObject *keys);

/**
 * exm_proto_hash_payload:
 * @hashes: the `hash` of every capability resource (sorted in place)
 * @full_hashes: the `full_hash` of every fact resource (sorted in place)
 *
 * Returns: (transfer full): the payload hash: XXH3 of the canonical JSON array
 * of the sorted @hashes followed by the sorted @full_hashes
 */
gchar *exm_proto_hash_payload(GPtrArray *hashes, GPtrArray *full_hashes);
