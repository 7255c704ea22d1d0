/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The fixture's Core IAM mode (EXH_TEST_IAM=core in the environment): the
 * fake Core (tests/fakes/fake_core) runs as a child of the test, mints one
 * real JWT for each token of the fixture's token file (same user, project
 * and permissions), and the host is configured with `[iam] mode = core`
 * against it.  Requests made with a token constant of exh-test.h carry that
 * token's JWT instead, so a test of the IAM matrix runs unchanged in both
 * modes.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "exh-host.h"

typedef struct _ExhTestIam ExhTestIam;

/* TRUE when the fixture runs in Core IAM mode. */
gboolean exh_test_iam_core_mode(void);

/**
 * exh_test_iam_new:
 * @dir: a private temp dir (the key and password files go there)
 * @token_file_text: (nullable): the fixture's token file, minted as JWTs
 * @error: on failure
 *
 * Starts the fake Core and mints the JWTs.
 */
ExhTestIam *exh_test_iam_new(const gchar *dir, const gchar *token_file_text, GError **error);

/* Points @config at the fake Core's IAM. */
void exh_test_iam_configure(ExhTestIam *iam, ExhHostConfig *config);

/* (transfer full): the fake's IAM client URL (Core IAM's `endpoint`) */
gchar *exh_test_iam_endpoint(ExhTestIam *iam);

/* The 32-byte key the fake seals the JWKS' HS256 secrets with. */
GBytes *exh_test_iam_jwks_key(void);

/* The JWT standing for @token, or @token itself when it is no fixture token. */
const gchar *exh_test_iam_translate(ExhTestIam *iam, const gchar *token);

/* POST @json to @path of the fake's control endpoint; the answer's object. */
JsonObject *exh_test_iam_control(ExhTestIam *iam, const gchar *path, const gchar *json);

/* (transfer full): a JWT minted from @spec (see tests/fakes/fake_core/iam.py) */
gchar *exh_test_iam_mint(ExhTestIam *iam, const gchar *spec);

void exh_test_iam_free(ExhTestIam *iam);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhTestIam, exh_test_iam_free)
