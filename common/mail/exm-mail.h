/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#pragma once

#include "exm-mail-crypt.h"
#include "exm-mail-error.h"
#include "exm-mail-files.h"
#include "exm-mail-model.h"
#include "exm-mail-validate.h"
