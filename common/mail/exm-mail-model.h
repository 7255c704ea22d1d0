/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail values outside the REST models (those are declared once, in the
 * plugin), one header each: exm-mail-status.h, exm-mail-instance.h,
 * exm-mail-node.h.  This header includes all three.
 */
#pragma once

#include "exm-mail-instance.h"
#include "exm-mail-node.h"
#include "exm-mail-status.h"
