/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Resources of the universal agent protocol with their hashes
 * (docs/agent-protocol.md §2.3, §7.5).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

/**
 * ExmUaResource: (ref-counted with exm_ua_resource_ref/unref; treat as immutable)
 * @uuid: the object's uuid
 * @kind: its kind (bare, not the `/v1/kind/` URI)
 * @value: the object
 * @hash: exm_proto_hash_projection() of @value on the target's keys
 * @full_hash: exm_proto_hash_value() of the whole @value
 * @status: `value.status` when it is a string, else `ACTIVE`
 * @updated_at: the CP's `updated_at` of the row, µs since the epoch (UTC); 0 when
 *   the payload did not carry one (or a driver reported the resource)
 * @keys: (nullable): the target's member names, sorted, that @hash was
 *   projected on; %NULL unless the agent hashed @value on a target (and in a
 *   resource read back from JSON)
 * @hollow: the objects inside @value were left empty when it was read
 *   (exm_ua_state_load_hollow()), or the value is a mark's empty one
 *   (exm_ua_resource_mark()): its hashes hold, nothing else, so it is never
 *   applied (exm_ua_reconcile_kind_settled())
 */
typedef struct {
	gchar *uuid;
	gchar *kind;
	JsonObject *value;
	gchar *hash;
	gchar *full_hash;
	gchar *status;
	gint64 updated_at;
	GStrv keys;
	gboolean hollow;
} ExmUaResource;

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
 * exm_ua_resource_keys_match:
 * @r: an actual resource (or its mark)
 * @target: a target value
 *
 * Returns: %TRUE when @r's `hash` was projected on exactly @target's member
 *   names: then it is also the projection on @target, without @r's value
 */
gboolean exm_ua_resource_keys_match(const ExmUaResource *r, JsonObject *target);

/**
 * exm_ua_resource_new_listed:
 * @kind: kind
 * @value: a value a driver listed (must carry a uuid `uuid`)
 * @error: as exm_ua_resource_new_actual()
 *
 * Like exm_ua_resource_new_actual() without a target, but not hashed yet
 * (`hash` and `full_hash` %NULL): a listed value that a target matches is
 * hashed on that target's keys instead, and hashing 100 000 accounts whole
 * first was spent for nothing (docs/scale.md §3).  Call
 * exm_ua_resource_hash_listed() before it is reported.
 *
 * Returns: (transfer full): the actual resource without its hashes
 */
ExmUaResource *exm_ua_resource_new_listed(const gchar *kind, JsonObject *value, GError **error);

/* Sets the hashes of a resource of exm_ua_resource_new_listed() (once). */
void exm_ua_resource_hash_listed(ExmUaResource *r);

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
/* The same with `value` written as `{}` unless @with_value. */
JsonNode *exm_ua_resource_to_json_full(const ExmUaResource *r, gboolean with_value);
ExmUaResource *exm_ua_resource_mark(const ExmUaResource *r);

/* @r's value dropped for an empty one, @r hollow as a mark: for a listed
 * value no longer read (exm_ua_reconcile_kind_settled()). */
void exm_ua_resource_hollow_out(ExmUaResource *r);

ExmUaResource *exm_ua_resource_ref(ExmUaResource *r);
void exm_ua_resource_unref(ExmUaResource *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmUaResource, exm_ua_resource_unref)

/* Returns: (transfer container): the resources of @resources (nullable), borrowed,
 * sorted by uuid. */
GPtrArray *exm_ua_resource_sorted_by_uuid(GPtrArray *resources);

/* Returns: the order of the uuids of the resources @a and @b point to (for
 * g_ptr_array_sort()). */
gint exm_ua_resource_cmp_uuid(gconstpointer a, gconstpointer b);

/* Returns: (transfer container): uuid → resource of @resources (nullable), borrowed. */
GHashTable *exm_ua_resource_index(GPtrArray *resources);
