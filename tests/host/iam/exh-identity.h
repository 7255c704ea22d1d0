/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Who is asking: the identity a request runs as, from the token file or
 * from Core IAM's introspection (docs/iam.md).  Reference counted, because
 * an introspected identity leaves the cache while requests still use it.
 */
#pragma once

#include <glib.h>

#include "exm-rest.h"

/**
 * ExhIdentity:
 * @anonymous: no bearer token was sent
 * @user: (nullable): the user's UUID
 * @project: (nullable): the project the token is scoped to
 * @permissions: %NULL-terminated grants (empty for anonymous)
 * @enforcer: the gcl_iam enforcer over @permissions
 *
 * Immutable once made.
 */
typedef struct {
	gboolean anonymous;
	gchar *user;
	gchar *project;
	gchar **permissions;
	ExmRestEnforcer *enforcer;
	/*< private >*/
	gint ref_count;
} ExhIdentity;

/**
 * exh_identity_new:
 * @user: (nullable): the user's UUID (%NULL: anonymous)
 * @project: (nullable): the project scope
 * @permissions: (nullable): the grants (copied)
 *
 * Returns: (transfer full): a new identity
 */
ExhIdentity *exh_identity_new(const gchar *user,
			      const gchar *project,
			      const gchar *const *permissions);
ExhIdentity *exh_identity_ref(ExhIdentity *identity);
void exh_identity_unref(ExhIdentity *identity);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhIdentity, exh_identity_unref)

/**
 * ExhIdentityCallback:
 * @identity: (nullable) (transfer none): who is asking; take a reference to
 *   keep it past the call
 * @error: (nullable): why there is no identity (%EXM_ERROR_INVALID_TOKEN,
 *   %EXM_ERROR_UNAVAILABLE)
 * @data: the caller's data
 */
typedef void (*ExhIdentityCallback)(ExhIdentity *identity, const GError *error, gpointer data);
