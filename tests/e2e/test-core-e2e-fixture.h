/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host on the `core` backend against the fake Exordos Core, whose nodes
 * are local sandboxes (test-core-bridge.h), for test-e2e-core and
 * bench-e2e-core.  Instances belong to a tenant of another project than the
 * host's, so the infra project shows in what Core receives.
 */
#pragma once

#include "exh-core-backend.h"
#include "test-core-bridge.h"
#include "test-e2e-fixture.h"

#define TENANT	  EXH_TEST_OTHER_PROJECT
#define TOKEN	  EXH_TEST_TOKEN_OTHER
#define INSTANCES "/v1/types/mail/instances/"
#define IMAGE	  "http://repo/exordos-metapaas-mail-dp.raw"

typedef struct {
	CoreFake *fake;
	gchar *state_dir;
	ExhInfraBackend *local; /* the fake Core's nodes */
	ExhInfraBackend *core;	/* what the host drives */
	ExhTest *t;
	CoreBridge *bridge;
	gchar *version_uri;
	gchar *em_dir; /* the core-agent's config, seal key and payload */
} CoreE2e;

/* The EM path's core-agent node and Element Manager project (docs/em-path.md). */
#define CORE_E2E_EM_NODE    "e4e4e4e4-0000-4000-8000-00000000c0de"
#define CORE_E2E_EM_PROJECT "12345678-c625-4fee-81d5-f691897b8142"

/* The fake Core (tokens living @token_ttl s), its nodes, the host; NULL when a
 * peer is missing (skipped) or it did not start (failed). */
CoreE2e *core_e2e_new(guint token_ttl);
/* The same, with the host's core-agent on the fake Core's Orch/Status APIs
 * when @core_agent (its node known to the fake). */
CoreE2e *core_e2e_new_full(guint token_ttl, gboolean core_agent);
/* Stops the host, the backends (nodes included) and the fake. */
void core_e2e_free(CoreE2e *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CoreE2e, core_e2e_free)

/* POST an instance of the tenant; its uuid. */
gchar *core_e2e_create_instance(CoreE2e *e, const gchar *name);

/* Waits (bounded) until the instance has @status; its JSON, or NULL. */
JsonObject *core_e2e_wait_instance(CoreE2e *e, const gchar *uuid, const gchar *status);

/* A request as the tenant; the HTTP status. */
guint core_e2e_request(CoreE2e *e, const gchar *method, const gchar *path, const gchar *body);

/* (transfer full): the first node of the instance's set, or NULL. */
ExhLocalNodeInfo *core_e2e_node(CoreE2e *e, const gchar *instance);
