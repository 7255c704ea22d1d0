/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Planning the Status API writes that make the CP's actual rows equal to what
 * was collected (docs/agent-protocol.md §7.4), and their request bodies.
 */
#pragma once

#include "exm-ua-payload.h"

#include <glib.h>
#include <json-glib/json-glib.h>

typedef enum {
	EXM_UA_SYNC_POST,
	EXM_UA_SYNC_PUT,
	EXM_UA_SYNC_DELETE,
} ExmUaSyncVerb;

/**
 * ExmUaSyncOp:
 * @verb: what to send
 * @kind: the kind
 * @uuid: the resource uuid
 * @resource: (nullable): the collected resource (%NULL for a delete)
 * @retried: already turned from POST into PUT (409) or back (404) once
 */
typedef struct {
	ExmUaSyncVerb verb;
	gchar *kind;
	gchar *uuid;
	ExmUaResource *resource;
	gboolean retried;
} ExmUaSyncOp;

void exm_ua_sync_op_free(ExmUaSyncOp *op);

/**
 * exm_ua_sync_plan:
 * @collected: the collected payload (its facts are what the DP has)
 * @known: the facts the CP has (the target payload's facts)
 * @kinds: kind → GINT_TO_POINTER(failed) for every kind processed this iteration
 *
 * Per processed kind, by uuid: only collected → POST; only known → DELETE (never
 * for a failed kind); both, with a different `full_hash`, `hash` or `status` → PUT.
 * Kinds not in @kinds are left alone.
 *
 * Returns: (transfer full): #ExmUaSyncOp list, kinds and uuids in sorted order
 */
GPtrArray *exm_ua_sync_plan(ExmUaPayload *collected, ExmUaPayload *known, GHashTable *kinds);

/**
 * exm_ua_sync_body:
 * @op: a POST or PUT
 * @node: the node uuid (POST only)
 *
 * Returns: (transfer full): the exact body of §5.1 (POST) or §5.2 (PUT)
 */
JsonNode *exm_ua_sync_body(const ExmUaSyncOp *op, const gchar *node);
