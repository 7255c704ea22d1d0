/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The agent's persisted state (`payload_path`): the last collected payload,
 * whose hash the next get_payload sends, and the last full target payload the
 * CP sent, used as targets while the CP answers with light payloads (§4.2, §8.2
 * quirk).  The layout is internal; only the hash is observable by the CP.
 */
#pragma once

#include "exm-ua-payload.h"

#include <glib.h>

/**
 * exm_ua_state_save:
 * @path: the payload file
 * @collected: the collected payload
 * @targets: (nullable): the last full payload of the CP; hollow ones
 *   (exm_ua_state_load_hollow()) are written as the file holds them, and
 *   remember where the written file holds them (@targets->saved)
 * @changed: (out) (optional): %TRUE when the file was rewritten
 * @error: %EXM_UA_ERROR_FAILED on I/O errors, or when @targets are hollow
 *   and the file no longer holds them
 *
 * Writes atomically with mode 0600, and only when the content changed.
 * Hollow targets are checked against the file (its targets' hash and
 * version) unless the file is still the one they were read from or last
 * written to (ExmUaSaved): then their text is copied from where it was.
 */
gboolean exm_ua_state_save(const gchar *path,
			   const ExmUaPayload *collected,
			   ExmUaPayload *targets,
			   gboolean *changed,
			   GError **error);

/**
 * exm_ua_state_load:
 * @path: the payload file
 * @collected: (out) (transfer full): the collected payload (empty when none)
 * @targets: (out) (transfer full) (nullable): the cached targets, %NULL when none
 *
 * A missing, unreadable or corrupt file yields an empty state (logged): the CP
 * then answers with the full payload.
 */
void exm_ua_state_load(const gchar *path, ExmUaPayload **collected, ExmUaPayload **targets);

/**
 * exm_ua_state_load_hollow:
 * @path: the payload file
 * @collected: (out) (transfer full): the collected payload (empty when none)
 * @targets: (out) (transfer full) (nullable) (optional): the cached targets,
 *   hollow (#ExmUaPayload.hollow), %NULL when none; they remember where the
 *   file holds them (#ExmUaSaved)
 *
 * exm_ua_state_load() without building the objects inside the targets'
 * values (at 100 000 accounts, a tree of every account): enough to tell
 * whether the node still holds them (exm_ua_reconcile_kind_settled()) and
 * to save the state again (exm_ua_state_save() copies their text).
 */
void exm_ua_state_load_hollow(const gchar *path, ExmUaPayload **collected, ExmUaPayload **targets);
