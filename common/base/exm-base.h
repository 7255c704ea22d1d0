/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#pragma once

#include "exm-atomic.h"
#include "exm-cleanup.h"
#include "exm-envelope.h"
#include "exm-error.h"
#include "exm-ini.h"
#include "exm-json.h"
#include "exm-secret.h"
#include "exm-time.h"
#include "exm-uuid.h"
