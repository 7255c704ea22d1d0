/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The data-plane file formats, one header each: exm-mail-passwd.h,
 * exm-mail-env.h, exm-mail-dkim.h, exm-mail-dns.h.  This header includes all
 * four for the callers that want every format.
 */
#pragma once

#include "exm-mail-dkim.h"
#include "exm-mail-dns.h"
#include "exm-mail-env.h"
#include "exm-mail-passwd.h"
#include "exm-mail-policy.h"
