/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * restalchemy's method names (see exm-rest-method.h).
 */
#include "exm-rest-method.h"

const gchar *
exm_rest_method_name(ExmRestMethod method)
{
	switch (method) {
	case EXM_REST_FILTER:
		return "FILTER";
	case EXM_REST_CREATE:
		return "CREATE";
	case EXM_REST_GET:
		return "GET";
	case EXM_REST_UPDATE:
		return "UPDATE";
	case EXM_REST_DELETE:
		return "DELETE";
	case EXM_REST_ACTION:
		return "ACTION";
	default:
		return "UNKNOWN";
	}
}
