/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The fake Exordos Core (tests/fakes/fake_core) as a child of a test: started
 * with --die-with-parent, so a test that aborts leaves nothing behind, and
 * stopped (SIGTERM, then waited for) by core_fake_free().  The control
 * endpoint switches its failure modes and reads its state.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "exh-core-backend.h"

#define CORE_FAKE_PROJECT  "4d657461-0000-0000-0000-000000000002"
#define CORE_FAKE_PASSWORD "core-fake-password"

typedef struct {
	GSubprocess *proc;
	gchar *dir;	 /* holds the 0600 password file */
	gchar *root;	 /* http://127.0.0.1:<port> (the control endpoint's base) */
	gchar *endpoint; /* root + prefix: Core's base URL */
	gchar *password_file;
} CoreFake;

/* Starts the fake; %NULL (and the test skipped) when python3 is missing. */
CoreFake *core_fake_new(const gchar *prefix, guint token_ttl, guint tick_ms, gboolean external);
void core_fake_free(CoreFake *fake);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CoreFake, core_fake_free)

/* A backend config pointing at the fake (poll_ms as given). */
ExhCoreConfig *core_fake_config(CoreFake *fake, guint poll_ms);

/* POST /_fake/control with @json (a JSON object text). */
void core_fake_control(CoreFake *fake, const gchar *json);

/* POST @path (below the root) with @json; asserts a 200. */
void core_fake_post(CoreFake *fake, const gchar *path, const gchar *json);
/* A node's report: FALSE when the set or config was deleted meanwhile (404),
 * which the nodes' side races against; any other failure fails the test. */
gboolean core_fake_report(CoreFake *fake, const gchar *path, const gchar *json);

/* (transfer full): GET /_fake/state */
JsonObject *core_fake_state(CoreFake *fake);

/* (transfer full): GET of a control path (e.g. `/_fake/ua/state`), an object. */
JsonObject *core_fake_get(CoreFake *fake, const gchar *path);

/* How many recorded calls have @method (NULL = any) on @route (NULL = any). */
guint core_fake_count(CoreFake *fake, const gchar *method, const gchar *route);

/* The last request body the fake stored for a set or config, or NULL. */
JsonObject *core_fake_object(JsonObject *state, const gchar *collection, const gchar *uuid);
