/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * IAM of the reference host: identities from a token file instead of the
 * Exordos Core introspection of a production host.
 *
 * The token file is a GKeyFile with one group per token; the group name is
 * the bearer token itself:
 *
 *   [dev-owner-token-0123456789]
 *   user = 4d657461-0000-0000-0000-000000000001
 *   project = 4d657461-0000-0000-0000-000000000002   # optional
 *   permissions = <service>.*.*;exordos_metapaas.paas_type.read
 *
 * The file must not be accessible to "other" nor writable by the group.
 * Only SHA-256 digests of the tokens are kept in memory.
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
 * Who is asking; immutable and owned by the #ExhIam, which outlives requests.
 */
typedef struct {
	gboolean anonymous;
	gchar *user;
	gchar *project;
	gchar **permissions;
	ExmRestEnforcer *enforcer;
} ExhIdentity;

typedef struct _ExhIam ExhIam;

/* (transfer full): an IAM without tokens: every bearer token is invalid */
ExhIam *exh_iam_new(void);

/**
 * exh_iam_load_file:
 * @iam: an IAM
 * @path: the token file
 * @error: %EXH_ERROR_IAM on failure (unreadable, unsafe mode, bad entry)
 *
 * Replaces the known tokens with those of @path.  Not thread-safe: call before
 * serving.
 *
 * Returns: %TRUE on success
 */
gboolean exh_iam_load_file(ExhIam *iam, const gchar *path, GError **error);

/**
 * exh_iam_authenticate:
 * @iam: an IAM
 * @authorization: (nullable): the `Authorization` header
 * @error: %EXM_ERROR_INVALID_TOKEN for an unknown bearer token
 *
 * gcl_iam's rule: no header or a non-Bearer scheme is the anonymous identity;
 * a Bearer token must be known.  Thread-safe.
 *
 * Returns: (transfer none): the identity, or %NULL with @error set
 */
const ExhIdentity *exh_iam_authenticate(ExhIam *iam, const gchar *authorization, GError **error);

/* Number of known tokens. */
guint exh_iam_get_n_tokens(ExhIam *iam);

void exh_iam_free(ExhIam *iam);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhIam, exh_iam_free)
