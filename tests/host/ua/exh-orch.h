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

G_END_DECLS
