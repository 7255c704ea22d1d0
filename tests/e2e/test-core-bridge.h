/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Real nodes for the fake Exordos Core (started with --external-nodes): a
 * thread that reads the fake's state every 50 ms and, through a `local`
 * backend, boots each set's nodes as local sandboxes, reports their uuids,
 * addresses, keys and status back to the fake (which hands them out as
 * Core does), and — standing in for the node's base agent — renders each
 * Config into its node and runs its on_change, reporting the render.  Sets
 * gone from Core are deleted locally.
 */
#pragma once

#include "exh-local-backend.h"
#include "test-core-fixture.h"

typedef struct _CoreBridge CoreBridge;

/* Starts the thread; @fake and @local are borrowed and must outlive it. */
CoreBridge *core_bridge_new(CoreFake *fake, ExhInfraBackend *local);
/* Stops the thread (the local backend's nodes are left to their owner). */
void core_bridge_free(CoreBridge *bridge);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CoreBridge, core_bridge_free)
