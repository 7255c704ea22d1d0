/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-identity.h"

ExhIdentity *
exh_identity_new(const gchar *user, const gchar *project, const gchar *const *permissions)
{
	ExhIdentity *identity = g_new0(ExhIdentity, 1);

	identity->ref_count = 1;
	identity->anonymous = user == NULL;
	identity->user = g_strdup(user);
	identity->project = g_strdup(project);
	identity->permissions =
		permissions != NULL ? g_strdupv((gchar **)permissions) : g_new0(gchar *, 1);
	identity->enforcer = exm_rest_enforcer_new((const gchar *const *)identity->permissions);
	return identity;
}

ExhIdentity *
exh_identity_ref(ExhIdentity *identity)
{
	g_atomic_int_inc(&identity->ref_count);
	return identity;
}

void
exh_identity_unref(ExhIdentity *identity)
{
	if (identity == NULL || !g_atomic_int_dec_and_test(&identity->ref_count))
		return;
	g_free(identity->user);
	g_free(identity->project);
	g_strfreev(identity->permissions);
	g_clear_pointer(&identity->enforcer, exm_rest_enforcer_free);
	g_free(identity);
}
