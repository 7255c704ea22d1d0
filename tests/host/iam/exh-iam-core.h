/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The Core IAM identity driver (docs/iam.md): a bearer token is checked
 * locally (JWT signature against Core's JWKS, `exp`, `aud`), then introspected
 * at `<endpoint>actions/introspect`, which names the user, the project and the
 * permissions.  Introspections are cached by a digest of the token for at most
 * the configured TTL and never past the token's expiry (iam-cache semantics),
 * identical concurrent introspections share one call, at most
 * @max_concurrent run at once, and a request with `X-OTP` is never served
 * from or stored in the cache.  Core IAM down, slow or answering nonsense is
 * %EXM_ERROR_UNAVAILABLE (503): never anonymous, never stale permissions.
 *
 * Not thread-safe: use it from the one thread whose thread-default main
 * context runs the user API (the callbacks run there too).
 */
#pragma once

#include "exh-identity.h"

#include <glib.h>

/**
 * ExhIamCoreConfig:
 * @endpoint: the IAM client URL, e.g.
 *   `http://core:11010/v1/iam/clients/00000000-0000-0000-0000-000000000000/`
 * @audience: the `aud` tokens must carry
 * @decryption_key: (nullable): 32 bytes decrypting the JWKS' HS256 secrets
 * @timeout_s: per call to Core IAM
 * @cache_ttl_s: introspection cache lifetime (0: no cache)
 * @jwks_ttl_s: how long the JWKS is used before it is fetched again
 * @jwks_refresh_s: the shortest time between two fetches caused by a token
 *   the cached keys do not verify (a rotated key)
 * @max_concurrent: introspections in flight at once
 * @skew_s: clock skew tolerated on `exp`
 */
typedef struct {
	const gchar *endpoint;
	const gchar *audience;
	GBytes *decryption_key;
	guint timeout_s;
	guint cache_ttl_s;
	guint cache_max;
	guint jwks_ttl_s;
	guint jwks_refresh_s;
	guint max_concurrent;
	guint skew_s;
} ExhIamCoreConfig;

typedef struct _ExhIamCore ExhIamCore;

/* (transfer full): copies @config */
ExhIamCore *exh_iam_core_new(const ExhIamCoreConfig *config);

/**
 * exh_iam_core_authenticate:
 * @core: the driver
 * @token: the bearer token (copied, wiped when done)
 * @otp: (nullable): the `X-OTP` header, forwarded verbatim
 * @callback: receives the identity or the error; may run before this returns
 * @data: for @callback
 */
void exh_iam_core_authenticate(ExhIamCore *core,
			       const gchar *token,
			       const gchar *otp,
			       ExhIdentityCallback callback,
			       gpointer data);

/**
 * ExhIamCoreStats:
 * @introspections: calls made to `actions/introspect`
 * @jwks_fetches: calls made to `actions/jwks`
 * @cache_hits: answers served from the cache
 * @coalesced: requests that joined an introspection already in flight
 * @cached: entries in the cache now
 */
typedef struct {
	guint64 introspections;
	guint64 jwks_fetches;
	guint64 cache_hits;
	guint64 coalesced;
	guint cached;
} ExhIamCoreStats;

void exh_iam_core_get_stats(ExhIamCore *core, ExhIamCoreStats *stats);

/* Drops pending work without calling back (the host is stopping). */
void exh_iam_core_free(ExhIamCore *core);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhIamCore, exh_iam_core_free)
