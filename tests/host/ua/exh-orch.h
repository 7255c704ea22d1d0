/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The Orch API (docs/agent-protocol.md §4) of the reference host; served by
 * the universal agent listener of exh-ua-server.h (default port 11011).
 */
#pragma once

#include "exh-ua-route.h"

G_BEGIN_DECLS

#define EXH_ORCH_DEFAULT_PORT 11011
/* The longest `wait=` a get_payload may ask for, in seconds. */
#define EXH_ORCH_MAX_WAIT 10

/**
 * exh_orch_light_request:
 * @call: a request (no body opened: the caller checked it has none)
 * @agent: (out) (transfer full): the agent uuid, canonical
 * @hash: (out) (transfer none): the hash the agent holds, never empty
 * @version: (out): the version to echo
 * @wait: (out): the seconds it may be parked
 *
 * Whether @call is a get_payload that the light-poll cache may answer: a
 * well-formed GET with its arguments in the query.  Anything else (an
 * error to answer included) is %FALSE, for the worker to serve.
 *
 * Returns: %TRUE when it is
 */
gboolean exh_orch_light_request(const ExhUaCall *call,
				gchar **agent,
				const gchar **hash,
				gint64 *version,
				guint *wait);

G_END_DECLS
