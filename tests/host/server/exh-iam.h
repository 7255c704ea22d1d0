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

#include "exh-iam-core.h"
#include "exh-identity.h"
#include "exm-rest.h"

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

/**
 * exh_iam_use_core:
 * @iam: an IAM
 * @core: (transfer full): the Core IAM driver
 *
 * Bearer tokens are from now on checked and introspected by Core IAM
 * (docs/iam.md) instead of the token file.  Call before serving.
 */
void exh_iam_use_core(ExhIam *iam, ExhIamCore *core);

/**
 * exh_iam_authenticate_async:
 * @iam: an IAM
 * @authorization: (nullable): the `Authorization` header
 * @otp: (nullable): the `X-OTP` header (Core IAM mode forwards it)
 * @callback: receives the identity or the error (%EXM_ERROR_INVALID_TOKEN,
 *   %EXM_ERROR_UNAVAILABLE); in token-file mode, or from Core IAM's cache,
 *   before this returns
 * @data: for @callback
 *
 * Call from the thread that serves the user API.
 */
void exh_iam_authenticate_async(ExhIam *iam,
				const gchar *authorization,
				const gchar *otp,
				ExhIdentityCallback callback,
				gpointer data);

/**
 * exh_iam_read_secret_file:
 * @path: a file holding a secret
 * @error: %EXH_ERROR_IAM when it is unreadable or open to others
 *
 * Returns: (transfer full): its text; wipe it with exm_secret_free()
 */
gchar *exh_iam_read_secret_file(const gchar *path, GError **error);

/* Number of known tokens. */
guint exh_iam_get_n_tokens(ExhIam *iam);

void exh_iam_free(ExhIam *iam);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhIam, exh_iam_free)
