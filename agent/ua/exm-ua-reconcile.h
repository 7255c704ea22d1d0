/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Actualizing a kind through its driver (docs/agent-protocol.md §7.4): the
 * first of one iteration's decisions (the second is exm-ua-sync.h).
 */
#pragma once

#include "exm-ua-driver.h"
#include "exm-ua-payload.h"

#include <glib.h>

/**
 * ExmUaKindResult:
 * @failed: a driver call failed for this kind (the kind's actual rows must not be
 *   deleted in the Status API and the collected hash must not be saved)
 * @created: successful create calls
 * @updated: successful update calls
 * @deleted: successful remove calls
 * @need_values: the targets are hollow (#ExmUaResource) and the node does
 *   not hold them all: nothing was done, the caller reconciles again with
 *   their values
 */
typedef struct {
	gboolean failed;
	guint created;
	guint updated;
	guint deleted;
	gboolean need_values;
} ExmUaKindResult;

/**
 * exm_ua_reconcile_kind:
 * @driver: the driver of @kind
 * @kind: a capability kind
 * @targets: (nullable): the target resources of @kind (#ExmUaResource)
 * @collected: receives the resulting actual resources (#ExmUaResource)
 * @result: (out caller-allocates): what happened
 *
 * Lists the data plane, creates missing targets, removes extra objects and
 * updates objects whose projected hash differs from the target's.  Failures are
 * logged and recorded in @result; an object that could not be updated or removed
 * is reported as it is.
 */
void exm_ua_reconcile_kind(ExmUaDriver *driver,
			   const gchar *kind,
			   GPtrArray *targets,
			   GPtrArray *collected,
			   ExmUaKindResult *result);

/**
 * exm_ua_reconcile_kind_settled:
 * @marks: (nullable): the resources (or their marks, exm_ua_resource_mark())
 *   the last settled iteration collected for @kind, when the driver says the
 *   data plane is unchanged since the listing they came from
 *
 * exm_ua_reconcile_kind(), but when @marks alone tell every target apart
 * (each one is new, or its mark was hashed on the same keys and differs) the
 * kind is not listed: the targets are created and updated as a listing would
 * have had them, and the listing of 100 000 accounts is not read back only to
 * learn that it differs (docs/scale.md §3).  Anything else (a target that may
 * have converged, a resource to remove) lists as exm_ua_reconcile_kind() does.
 *
 * Hollow targets are never applied: when the listing shows every one of them
 * converged and nothing to remove, they are collected as usual; otherwise
 * nothing is done and @result says it needs their values.
 */
void exm_ua_reconcile_kind_settled(ExmUaDriver *driver,
				   const gchar *kind,
				   GPtrArray *targets,
				   GPtrArray *marks,
				   GPtrArray *collected,
				   ExmUaKindResult *result);
