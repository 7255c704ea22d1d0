/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * libexm-proto: what the host and the agent of the universal agent protocol
 * must compute alike (docs/agent-protocol.md §2.1, §2.3).
 */
#pragma once

#include "exm-proto-hash.h"
#include "exm-proto-kind.h"
#include "exm-proto-uuid.h"
