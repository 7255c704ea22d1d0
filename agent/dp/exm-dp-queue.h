/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * exim's queue commands on messages the agent names (the circuit breaker,
 * docs/abuse-controls.md §7): freeze, thaw, deliver, remove.  Run with an
 * argv (no shell), against the node's own configuration (`-C`), every id
 * checked against exim's message id grammar first.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* ids per exim command line */
#define EXM_DP_QUEUE_BATCH 100

typedef enum {
	EXM_DP_QUEUE_FREEZE,  /* -Mf */
	EXM_DP_QUEUE_THAW,    /* -Mt */
	EXM_DP_QUEUE_DELIVER, /* -M, in the background: a delivery may take long */
	EXM_DP_QUEUE_REMOVE,  /* -Mrm */
} ExmDpQueueOp;

/**
 * exm_dp_queue_run:
 * @exim: the exim binary
 * @conf: its configuration
 * @ids: (element-type utf8): message ids; one that is not exim's is skipped
 *
 * Runs @op on @ids in batches of %EXM_DP_QUEUE_BATCH.  exim refusing an id
 * (a message delivered meanwhile) is no failure: it is logged.
 *
 * Returns: %FALSE with @error when exim could not be started
 */
gboolean exm_dp_queue_run(const gchar *exim,
			  const gchar *conf,
			  ExmDpQueueOp op,
			  GPtrArray *ids,
			  GError **error);

G_END_DECLS
