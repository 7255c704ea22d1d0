/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The REST toolkit: restalchemy conventions (docs/rest-conventions.md) as
 * plain C building blocks, with no knowledge of any model, one header a
 * concept:
 *  - exm-rest-method.h      the RA methods;
 *  - exm-rest-route.h       route walking below a mount point (§1.2);
 *  - exm-rest-model.h       model declarations: fields, access per method (§5, §7);
 *  - exm-rest-body.h        strict typed body unpacking (§6);
 *  - exm-rest-list-query.h  filters, sorting, marker pagination (§4);
 *  - exm-rest-sql.h         all SQL text, from the model declarations;
 *  - exm-rest-row.h, exm-rest-set.h  rows read and columns written;
 *  - exm-rest-store.h       running it on the request's connection;
 *  - exm-rest-enforcer.h    the gcl_iam enforcer (§8.3);
 *  - exm-rest-response.h    responses with the standard error bodies (§3);
 *  - exm-rest-crud.h        the resource controllers over all of the above;
 *  - exm-rest-openapi.h     the OpenAPI document of a mount (§13).
 * Everything here is reentrant; nothing keeps global state.
 */
#pragma once

#include "exm-rest-body.h"
#include "exm-rest-crud.h"
#include "exm-rest-enforcer.h"
#include "exm-rest-list-query.h"
#include "exm-rest-method.h"
#include "exm-rest-model.h"
#include "exm-rest-openapi.h"
#include "exm-rest-response.h"
#include "exm-rest-route.h"
#include "exm-rest-row.h"
#include "exm-rest-set.h"
#include "exm-rest-sql.h"
#include "exm-rest-store.h"
