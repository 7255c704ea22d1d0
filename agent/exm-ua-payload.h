/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Resources and payloads of the universal agent protocol with their hashes
 * (reference/ua-protocol.md §2.3, §3, §7.5).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#define EXM_UA_KIND_MAX 64

/**
 * ExmUaResource: (ref-counted with exm_ua_resource_ref/unref; treat as immutable)
 * @uuid: the object's uuid
 * @kind: its kind (bare, not the `/v1/kind/` URI)
 * @value: the object
 * @hash: hash of the projection of @value on the target's keys
 * @full_hash: hash of the whole @value
 * @status: `value.status` when it is a string, else `ACTIVE`
 */
typedef struct {
	gchar *uuid;
	gchar *kind;
	JsonObject *value;
	gchar *hash;
	gchar *full_hash;
	gchar *status;
} ExmUaResource;

/* Returns: %TRUE when @kind is 1..64 characters of [A-Za-z0-9_.-] (safe in a URL path). */
gboolean exm_ua_kind_is_valid(const gchar *kind);

/**
 * exm_ua_hash_value:
 * @value: an object
 *
 * Returns: (transfer full): the protocol's `calculate_hash` of @value
 */
gchar *exm_ua_hash_value(JsonObject *value);

/**
 * exm_ua_hash_projection:
 * @value: an actual value
 * @keys: (nullable): the target value whose keys select the members of @value
 *
 * Returns: (transfer full): the hash of `{k: value[k] for k in keys(target)}`
 * (keys absent from @value are left out), or of the whole @value without @keys
 */
gchar *exm_ua_hash_projection(JsonObject *value, JsonObject *keys);

/**
 * exm_ua_resource_new_actual:
 * @kind: kind
 * @value: the value a driver reported (must carry a uuid `uuid`)
 * @target: (nullable): the target value of the same identity
 * @error: %EXM_UA_ERROR_DRIVER when @value has no valid `uuid` or `status`
 *
 * Returns: (transfer full): the actual resource with its hashes and status
 */
ExmUaResource *exm_ua_resource_new_actual(const gchar *kind,
					  JsonObject *value,
					  JsonObject *target,
					  GError **error);

/**
 * exm_ua_resource_from_json:
 * @kind: the kind the resource is listed under
 * @obj: a resource as a payload carries it
 * @error: %EXM_UA_ERROR_PROTOCOL when a member is missing or of the wrong type
 *
 * Returns: (transfer full): the resource
 */
ExmUaResource *exm_ua_resource_from_json(const gchar *kind, JsonObject *obj, GError **error);

/**
 * exm_ua_resource_to_json:
 * @r: a resource
 *
 * Returns: (transfer full): `{uuid, kind, res_uuid, value, hash, full_hash, status}`
 */
JsonNode *exm_ua_resource_to_json(const ExmUaResource *r);

ExmUaResource *exm_ua_resource_ref(ExmUaResource *r);
void exm_ua_resource_unref(ExmUaResource *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmUaResource, exm_ua_resource_unref)

/**
 * ExmUaPayload:
 * @capabilities: kind → #GPtrArray of #ExmUaResource
 * @facts: kind → #GPtrArray of #ExmUaResource
 * @hash: the payload hash
 * @version: the payload version (always 0 today)
 */
typedef struct {
	GHashTable *capabilities;
	GHashTable *facts;
	gchar *hash;
	gint64 version;
} ExmUaPayload;

/* Returns: (transfer full): an empty payload with hash "" and version 0. */
ExmUaPayload *exm_ua_payload_new(void);
void exm_ua_payload_free(ExmUaPayload *payload);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmUaPayload, exm_ua_payload_free)

/**
 * exm_ua_payload_from_json:
 * @root: `{capabilities, facts, hash, version}`
 * @error: %EXM_UA_ERROR_PROTOCOL on a malformed payload
 *
 * Returns: (transfer full): the payload
 */
ExmUaPayload *exm_ua_payload_from_json(JsonNode *root, GError **error);

/* Returns: (transfer full): the payload as JSON, kinds and resources sorted. */
JsonNode *exm_ua_payload_to_json(const ExmUaPayload *payload);

/**
 * exm_ua_payload_basket:
 * @payload: a payload
 * @capability: %TRUE for capabilities, %FALSE for facts
 * @kind: a kind
 * @create: add an empty basket when @kind has none
 *
 * Returns: (transfer none) (nullable): the resources of @kind
 */
GPtrArray *exm_ua_payload_basket(ExmUaPayload *payload,
				 gboolean capability,
				 const gchar *kind,
				 gboolean create);

/**
 * exm_ua_payload_compute_hash:
 * @payload: a payload
 *
 * Returns: (transfer full): XXH3 of the canonical JSON of the sorted capability
 * `hash`es followed by the sorted fact `full_hash`es
 */
gchar *exm_ua_payload_compute_hash(const ExmUaPayload *payload);

/* Returns: (transfer container): the resources of @resources (nullable), borrowed,
 * sorted by uuid. */
GPtrArray *exm_ua_sorted_by_uuid(GPtrArray *resources);

/* Returns: (transfer container): the string keys of @table, sorted. */
GPtrArray *exm_ua_sorted_keys(GHashTable *table);

/* Returns: %TRUE when (hash, version) of @a and @b are equal (§3.4). */
gboolean exm_ua_payload_same(const ExmUaPayload *a, const ExmUaPayload *b);
