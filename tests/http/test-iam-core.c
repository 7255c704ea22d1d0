/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The Core IAM driver (tests/host/iam/exh-iam-core.c) against the fake Core's
 * IAM (tests/fakes/fake_core/iam.py, a separate process on loopback): real
 * JWTs, the sealed JWKS and its rotation, introspection and its cache,
 * coalescing, X-OTP, revocation, and Core IAM down, slow or talking nonsense.
 */
#include "exh-iam-core.h"
#include "exh-test-iam.h"
#include "exh-test.h"
#include "exm-test.h"
#include "exm-config.h"
#include "exm-error.h"

#include <string.h>

#define PROJECT "4d657461-0000-0000-0000-000000000002"
#define USER	"4d657461-0000-0000-0000-000000000001"
#define AUD	"GenesisCoreClientId"
#define PERMS	"[\"exordos_mail.*.*\",\"exordos_metapaas.paas_type.read\"]"

typedef struct {
	gchar *dir;
	ExhTestIam *iam;
} Fake;

static gboolean
fake_start(Fake *f)
{
	g_autoptr(GError) error = NULL;

	f->dir = exm_test_mkdtemp("iam-core");
	f->iam = exh_test_iam_new(f->dir, NULL, &error);
	if (f->iam == NULL) {
		exm_test_peer_missing("cannot start the fake Core: %s", error->message);
		return FALSE;
	}
	return TRUE;
}

static void
fake_stop(Fake *f)
{
	g_clear_pointer(&f->iam, exh_test_iam_free);
	if (f->dir != NULL)
		exm_test_rmtree(f->dir);
	g_free(f->dir);
}

static JsonObject *
control(Fake *f, const gchar *path, const gchar *json)
{
	return exh_test_iam_control(f->iam, path, json);
}

static gchar *
mint(Fake *f, const gchar *spec)
{
	return exh_test_iam_mint(f->iam, spec);
}

static gchar *
mint_user(Fake *f)
{
	return mint(f,
		    "{\"sub\":\"" USER "\",\"project_id\":\"" PROJECT "\",\"permissions\":" PERMS
		    "}");
}

static ExhIamCore *
core_new_max(Fake *f, guint ttl, guint timeout, guint max)
{
	g_autofree gchar *endpoint = exh_test_iam_endpoint(f->iam);
	g_autoptr(GBytes) key = exh_test_iam_jwks_key();
	ExhIamCoreConfig c = { .endpoint = endpoint,
			       .audience = AUD,
			       .decryption_key = key,
			       .timeout_s = timeout,
			       .cache_ttl_s = ttl,
			       .cache_max = max,
			       .jwks_ttl_s = 60,
			       .jwks_refresh_s = 0,
			       .max_concurrent = 4,
			       .skew_s = 30 };

	return exh_iam_core_new(&c);
}

static ExhIamCore *
core_new(Fake *f, guint ttl, guint timeout)
{
	return core_new_max(f, ttl, timeout, 10000);
}

typedef struct {
	gboolean done;
	ExhIdentity *identity;
	GError *error;
} Result;

static void
got(ExhIdentity *identity, const GError *error, gpointer data)
{
	Result *r = data;

	r->done = TRUE;
	if (identity != NULL)
		r->identity = exh_identity_ref(identity);
	if (error != NULL)
		r->error = g_error_copy(error);
}

static void
result_clear(Result *r)
{
	g_clear_pointer(&r->identity, exh_identity_unref);
	g_clear_error(&r->error);
	r->done = FALSE;
}

static void
auth(ExhIamCore *core, const gchar *token, const gchar *otp, Result *r)
{
	result_clear(r);
	exh_iam_core_authenticate(core, token, otp, got, r);
	while (!r->done)
		g_main_context_iteration(NULL, TRUE);
}

static ExhIamCoreStats
stats(ExhIamCore *core)
{
	ExhIamCoreStats s;

	exh_iam_core_get_stats(core, &s);
	return s;
}

/* A flood of distinct valid tokens: the cache keeps at most cache_max of
 * them; the one that expires first is dropped and must be introspected again. */
static void
test_cache_bounded(void)
{
	Fake f = { 0 };
	g_autoptr(ExhIamCore) core = NULL;
	gchar *tokens[3];
	Result r = { 0 };

	if (!fake_start(&f))
		return;
	core = core_new_max(&f, 600, 5, 2);
	for (guint i = 0; i < G_N_ELEMENTS(tokens); i++) {
		tokens[i] = mint_user(&f);
		auth(core, tokens[i], NULL, &r);
		g_assert_no_error(r.error);
		g_assert_cmpuint(stats(core).cached, <=, 2);
		/* later tokens expire later: the first one is the one dropped */
		g_usleep(1100 * 1000);
	}
	g_assert_cmpuint(stats(core).introspections, ==, 3);
	auth(core, tokens[2], NULL, &r);
	g_assert_cmpuint(stats(core).introspections, ==, 3);
	auth(core, tokens[0], NULL, &r);
	g_assert_no_error(r.error);
	g_assert_cmpuint(stats(core).introspections, ==, 4);
	g_assert_cmpuint(stats(core).cached, ==, 2);
	result_clear(&r);
	for (guint i = 0; i < G_N_ELEMENTS(tokens); i++)
		g_free(tokens[i]);
	fake_stop(&f);
}

/* A user's token: identity mapped, then served from the cache. */
static void
test_introspect_and_cache(void)
{
	Fake f = { 0 };
	g_autoptr(ExhIamCore) core = NULL;
	g_autofree gchar *token = NULL;
	Result r = { 0 };

	if (!fake_start(&f))
		return;
	core = core_new(&f, 15, 5);
	token = mint_user(&f);
	auth(core, token, NULL, &r);
	g_assert_no_error(r.error);
	g_assert_false(r.identity->anonymous);
	g_assert_cmpstr(r.identity->user, ==, USER);
	g_assert_cmpstr(r.identity->project, ==, PROJECT);
	g_assert_cmpuint(g_strv_length(r.identity->permissions), ==, 2);
	g_assert_true(
		exm_rest_enforcer_allows(r.identity->enforcer, "exordos_mail.account.create"));
	for (guint i = 0; i < 5; i++)
		auth(core, token, NULL, &r);
	g_assert_no_error(r.error);
	g_assert_cmpuint(stats(core).introspections, ==, 1);
	g_assert_cmpuint(stats(core).cache_hits, ==, 5);
	g_assert_cmpuint(stats(core).jwks_fetches, ==, 1);
	result_clear(&r);
	fake_stop(&f);
}

static void
assert_refused(ExhIamCore *core, const gchar *token, gint code)
{
	Result r = { 0 };

	auth(core, token, NULL, &r);
	g_assert_null(r.identity);
	g_assert_error(r.error, EXM_ERROR, code);
	/* the answer never carries the token */
	g_assert_null(strstr(r.error->message, token));
	result_clear(&r);
}

/* Refused locally, before any introspection: expired, foreign audience,
 * signed with a key Core never had, not a JWT. */
static void
test_refused_locally(void)
{
	Fake f = { 0 };
	g_autoptr(ExhIamCore) core = NULL;
	const gchar *specs[] = {
		"{\"sub\":\"" USER "\",\"ttl\":-60}",
		"{\"sub\":\"" USER "\",\"aud\":\"SomeOtherClient\"}",
		"{\"sub\":\"" USER "\",\"key\":\"unknown\"}",
	};

	if (!fake_start(&f))
		return;
	core = core_new(&f, 15, 5);
	for (guint i = 0; i < G_N_ELEMENTS(specs); i++) {
		g_autofree gchar *token = mint(&f, specs[i]);

		assert_refused(core, token, EXM_ERROR_INVALID_TOKEN);
	}
	assert_refused(core, "not-a-jwt", EXM_ERROR_INVALID_TOKEN);
	g_assert_cmpuint(stats(core).introspections, ==, 0);
	fake_stop(&f);
}

/* Twenty requests with one new token at once: one introspection. */
static void
test_coalesced(void)
{
	Fake f = { 0 };
	g_autoptr(ExhIamCore) core = NULL;
	g_autofree gchar *token = NULL;
	g_autofree gchar *warm = NULL;
	Result r[20] = { 0 };
	Result w = { 0 };
	guint done = 0;

	if (!fake_start(&f))
		return;
	core = core_new(&f, 15, 5);
	warm = mint_user(&f);
	auth(core, warm, NULL, &w); /* the JWKS is fetched once, first */
	token = mint_user(&f);
	for (guint i = 0; i < G_N_ELEMENTS(r); i++)
		exh_iam_core_authenticate(core, token, NULL, got, &r[i]);
	while (done < G_N_ELEMENTS(r)) {
		g_main_context_iteration(NULL, TRUE);
		done = 0;
		for (guint i = 0; i < G_N_ELEMENTS(r); i++)
			done += r[i].done;
	}
	for (guint i = 0; i < G_N_ELEMENTS(r); i++) {
		g_assert_no_error(r[i].error);
		g_assert_cmpstr(r[i].identity->user, ==, USER);
		result_clear(&r[i]);
	}
	g_assert_cmpuint(stats(core).introspections, ==, 2);
	g_assert_cmpuint(stats(core).coalesced, ==, G_N_ELEMENTS(r) - 1);
	result_clear(&w);
	fake_stop(&f);
}

/* Core rotates its key: a token signed with the new key makes the host fetch
 * the JWKS again; tokens of the previous key still pass; after a second
 * rotation the oldest key is gone. */
static void
test_rotation(void)
{
	Fake f = { 0 };
	g_autoptr(ExhIamCore) core = NULL;
	g_autofree gchar *first = NULL;
	g_autofree gchar *second = NULL;
	g_autoptr(JsonObject) a = NULL;
	g_autoptr(JsonObject) b = NULL;
	Result r = { 0 };

	if (!fake_start(&f))
		return;
	core = core_new(&f, 0, 5);
	first = mint_user(&f);
	auth(core, first, NULL, &r);
	g_assert_no_error(r.error);
	a = control(&f, "/_fake/iam/rotate", "{}");
	second = mint_user(&f);
	auth(core, second, NULL, &r);
	g_assert_no_error(r.error);
	g_assert_cmpuint(stats(core).jwks_fetches, ==, 2);
	auth(core, first, NULL, &r);
	g_assert_no_error(r.error);
	b = control(&f, "/_fake/iam/rotate", "{}");
	assert_refused(core, first, EXM_ERROR_INVALID_TOKEN);
	result_clear(&r);
	fake_stop(&f);
}

/* A revoked token keeps its cached identity for the TTL at most, then
 * introspection refuses it. */
static void
test_revoked_after_ttl(void)
{
	Fake f = { 0 };
	g_autoptr(ExhIamCore) core = NULL;
	g_autofree gchar *token = NULL;
	g_autofree gchar *spec = NULL;
	g_autoptr(JsonObject) answer = NULL;
	Result r = { 0 };

	if (!fake_start(&f))
		return;
	core = core_new(&f, 1, 5);
	token = mint_user(&f);
	auth(core, token, NULL, &r);
	g_assert_no_error(r.error);
	spec = g_strdup_printf("{\"token\":\"%s\"}", token);
	answer = control(&f, "/_fake/iam/revoke", spec);
	auth(core, token, NULL, &r);
	g_assert_no_error(r.error); /* within the TTL */
	g_usleep(1100 * 1000);
	assert_refused(core, token, EXM_ERROR_INVALID_TOKEN);
	g_assert_cmpuint(stats(core).introspections, ==, 2);
	result_clear(&r);
	fake_stop(&f);
}

/* X-OTP is forwarded and never answered from, nor stored in, the cache. */
static void
test_otp_not_cached(void)
{
	Fake f = { 0 };
	g_autoptr(ExhIamCore) core = NULL;
	g_autofree gchar *token = NULL;
	Result r = { 0 };

	if (!fake_start(&f))
		return;
	core = core_new(&f, 15, 5);
	token = mint(&f, "{\"sub\":\"" USER "\",\"otp\":\"123456\",\"permissions\":" PERMS "}");
	auth(core, token, "123456", &r);
	g_assert_no_error(r.error);
	auth(core, token, "123456", &r);
	g_assert_no_error(r.error);
	g_assert_cmpuint(stats(core).introspections, ==, 2);
	g_assert_cmpuint(stats(core).cached, ==, 0);
	auth(core, token, NULL, &r);
	auth(core, token, NULL, &r);
	g_assert_cmpuint(stats(core).introspections, ==, 3);
	result_clear(&r);
	fake_stop(&f);
}

/* Core IAM down, slow or answering nonsense: 503, never an identity. */
static void
test_iam_unavailable(void)
{
	Fake f = { 0 };
	g_autoptr(ExhIamCore) core = NULL;
	const gchar *modes[] = {
		"{\"fail\":\"503\"}",
		"{\"fail\":\"drop\"}",
		"{\"fail\":null,\"slow_ms\":2500}",
		"{\"slow_ms\":0,\"malformed\":\"garbage\"}",
		"{\"malformed\":\"shape\"}",
	};

	if (!fake_start(&f))
		return;
	core = core_new(&f, 0, 1);
	for (guint i = 0; i < G_N_ELEMENTS(modes); i++) {
		g_autofree gchar *token = mint_user(&f);
		g_autoptr(JsonObject) answer = control(&f, "/_fake/control", modes[i]);

		g_test_message("mode %s", modes[i]);
		assert_refused(core, token, EXM_ERROR_UNAVAILABLE);
	}
	fake_stop(&f);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/iam/core/introspect-and-cache", test_introspect_and_cache);
	g_test_add_func("/iam/core/cache-bounded", test_cache_bounded);
	g_test_add_func("/iam/core/refused-locally", test_refused_locally);
	g_test_add_func("/iam/core/coalesced", test_coalesced);
	g_test_add_func("/iam/core/rotation", test_rotation);
	g_test_add_func("/iam/core/revoked-after-ttl", test_revoked_after_ttl);
	g_test_add_func("/iam/core/otp-not-cached", test_otp_not_cached);
	g_test_add_func("/iam/core/iam-unavailable", test_iam_unavailable);
	return g_test_run();
}
