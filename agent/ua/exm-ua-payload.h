/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Payloads of the universal agent protocol: resources by kind with the payload hash
 * (docs/agent-protocol.md §2.3, §3, §7.5).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "exm-stamp.h"
#include "exm-ua-resource.h"

/**
 * ExmUaSaved:
 * @file: (nullable): the state file's stamp (exm-stamp.h) when it was read or
 *   written; %NULL when where the payload lies is not known
 * @offset: where the saved targets' text starts in the state file
 * @length: its length
 *
 * Where a state file holds a payload as its saved targets: while the file
 * keeps that stamp, a hollow save copies the text from there without reading
 * the file's targets again to check them (exm_ua_state_save()).
 */
typedef struct {
	ExmStamp *file;
	gsize offset, length;
} ExmUaSaved;

/**
 * ExmUaPayload:
 * @capabilities: kind → #GPtrArray of #ExmUaResource
 * @facts: kind → #GPtrArray of #ExmUaResource
 * @hash: the payload hash
 * @version: the payload version (always 0 today)
 * @hollow: every capability resource is hollow (#ExmUaResource): the saved
 *   targets read without their values' objects (exm_ua_state_load_hollow()),
 *   or marks (exm_ua_payload_marks())
 * @saved: where the state file holds these targets' text (exm-ua-state.c)
 */
typedef struct {
	GHashTable *capabilities;
	GHashTable *facts;
	gchar *hash;
	gint64 version;
	gboolean hollow;
	ExmUaSaved saved;
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

/* The one member of a value that grows with the tenant, its `accounts`
 * (about 88 MB as a tree at 100 000 accounts, 14 MB as text), kept raw
 * where a payload is parsed (exm_json_node_is_raw(), docs/scale.md §3);
 * a driver that reads it reads it as such. */
#define EXM_UA_PAYLOAD_RAW_ACCOUNTS "=capabilities/*/resources/*/value/accounts"

/* Returns: (transfer none): the paths of a payload's unread objects (the
 * facts' values) and of its raw ones (EXM_UA_PAYLOAD_RAW_ACCOUNTS), for
 * exm_json_parse_pruned() */
const gchar *const *exm_ua_payload_unused(void);

/* Returns: (transfer full): the payload as JSON, kinds and resources sorted. */
JsonNode *exm_ua_payload_to_json(const ExmUaPayload *payload);
/* The same with the facts' values written as `{}`, and the capabilities'
 * unless @capability_values: what a reader that prunes them reads back. */
JsonNode *exm_ua_payload_to_json_pruned(const ExmUaPayload *payload, gboolean capability_values);

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
 * Returns: (transfer full): exm_proto_hash_payload() of the capability `hash`es
 * and the fact `full_hash`es
 */
gchar *exm_ua_payload_compute_hash(const ExmUaPayload *payload);

/* Returns: (transfer container): the string keys (kinds) of @table, borrowed, sorted;
 * output and hashing must not depend on hash-table order. */
GPtrArray *exm_ua_payload_sorted_kinds(GHashTable *table);

/* Returns: %TRUE when (hash, version) of @a and @b are equal (§3.4). */
gboolean exm_ua_payload_same(const ExmUaPayload *a, const ExmUaPayload *b);

/* Returns: (transfer none) (nullable): a row of @payload whose `updated_at` is
 * older than the same row's in @applied (a replayed payload), else %NULL. */
ExmUaPayload *exm_ua_payload_marks(const ExmUaPayload *payload);
const ExmUaResource *exm_ua_payload_find_older(const ExmUaPayload *payload,
					       const ExmUaPayload *applied);
