/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The Status API (docs/agent-protocol.md §5) of the reference host; served
 * by the universal agent listener of exh-ua-server.h (default port 11012).
 */
#pragma once

#include "exh-ua-route.h"

G_BEGIN_DECLS

#define EXH_STATUS_DEFAULT_PORT 11012

G_END_DECLS
