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
 */
typedef struct {
	gboolean failed;
	guint created;
	guint updated;
	guint deleted;
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
