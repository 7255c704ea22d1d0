/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-proto-uuid.h"

#include "exm-uuid.h"

gchar *
exm_proto_uuid_resource(const gchar *uuid, const gchar *kind)
{
	return exm_uuid_v5(uuid, kind, NULL);
}

gchar *
exm_proto_uuid_agent(const gchar *node, const gchar *uuid5_name, GError **error)
{
	if (uuid5_name == NULL)
		return g_strdup(node);
	return exm_uuid_v5(node, uuid5_name, error);
}
