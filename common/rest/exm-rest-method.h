/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * restalchemy's RA methods (docs/rest-conventions.md §1.2).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * ExmRestMethod:
 * @EXM_REST_FILTER: list a collection (`GET coll/`)
 * @EXM_REST_CREATE: create (`POST coll/`)
 * @EXM_REST_GET: read one (`GET coll/<id>`)
 * @EXM_REST_UPDATE: partial update (`PUT`/`PATCH coll/<id>`)
 * @EXM_REST_DELETE: delete (`DELETE coll/<id>`)
 * @EXM_REST_ACTION: an action: plain (`GET coll/<id>/actions/<name>`) or
 *   invoke (`POST coll/<id>/actions/<name>/invoke`)
 *
 * restalchemy's RA methods, usable as a bit mask.
 */
typedef enum {
	EXM_REST_FILTER = 1 << 0,
	EXM_REST_CREATE = 1 << 1,
	EXM_REST_GET = 1 << 2,
	EXM_REST_UPDATE = 1 << 3,
	EXM_REST_DELETE = 1 << 4,
	EXM_REST_ACTION = 1 << 5,
} ExmRestMethod;

#define EXM_REST_CRUD                                                                              \
	(EXM_REST_FILTER | EXM_REST_CREATE | EXM_REST_GET | EXM_REST_UPDATE | EXM_REST_DELETE)

/**
 * exm_rest_method_name:
 * @method: one method
 *
 * Returns: (transfer none): its restalchemy name: `FILTER`, `CREATE`, `GET`,
 *   `UPDATE`, `DELETE` or `ACTION` (as 405 messages print it)
 */
const gchar *exm_rest_method_name(ExmRestMethod method);

G_END_DECLS
