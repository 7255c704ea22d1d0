/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail REST API over HTTP: the real plugin in the reference host,
 * in-process, on a throwaway PostgreSQL.  What only HTTP shows: status lines,
 * headers (Location, Content-Type, X-Pagination-*), tokens, raw hostile bytes
 * and that a failed request leaves nothing behind.
 */
#include <string.h>

#include "exh-test-iam.h"
#include "exh-test.h"

#define MAIL "/v1/types/mail/"

static gchar *
seed_version(ExhTest *t)
{
	return exh_test_create(t,
			       EXH_TEST_TOKEN_OPERATOR,
			       MAIL "versions/",
			       "{\"name\":\"exim4_1\",\"image\":\"http://img/exim4_1.raw.zst\"}");
}

static gchar *
seed_instance(ExhTest *t, const gchar *token, const gchar *version, const gchar *name)
{
	g_autofree gchar *body = g_strdup_printf(
		"{\"name\":\"%s\",\"domain\":\"example.com\",\"cpu\":2,\"ram\":2048,"
		"\"disk_size\":20,\"version\":\"/v1/types/mail/versions/%s\"}",
		name,
		version);

	return exh_test_create(t, token, MAIL "instances/", body);
}

/* an operator's version: 201 with a JSON body and its Location */
static gchar *
crud_version(ExhTest *t)
{
	g_autoptr(ExhTestResponse) r = NULL;
	g_autofree gchar *loc = NULL;
	gchar *v1;

	r = exh_test_request(t,
			     "POST",
			     MAIL "versions/",
			     EXH_TEST_TOKEN_OPERATOR,
			     "{\"name\":\"exim4_1\",\"image\":\"img\"}");
	g_assert_cmpuint(r->status, ==, 201);
	g_assert_cmpstr(
		soup_message_headers_get_content_type(r->headers, NULL), ==, "application/json");
	v1 = g_strdup(exh_test_response_get_string(r, "uuid"));
	loc = g_strdup_printf("%s/v1/types/mail/versions/%s", t->base_url, v1);
	g_assert_cmpstr(soup_message_headers_get_one(r->headers, "Location"), ==, loc);
	return v1;
}

/* the route index, pages and multi-value filters over three instances;
 * returns the last instance */
static gchar *
crud_lists(ExhTest *t, const gchar *v1)
{
	g_autoptr(ExhTestResponse) r = NULL;
	gchar *i1 = NULL;

	/* the route index, anonymous */
	r = exh_test_request(t, "GET", MAIL, NULL, NULL);
	g_assert_cmpuint(r->status, ==, 200);
	g_assert_cmpstr(r->body, ==, "[\"instances\",\"versions\"]");
	g_clear_pointer(&r, exh_test_response_free);

	for (guint i = 0; i < 3; i++) {
		g_autofree gchar *name = g_strdup_printf("m%u", i);
		g_free(i1);
		i1 = seed_instance(t, EXH_TEST_TOKEN_OWNER, v1, name);
	}
	r = exh_test_request(t, "GET", MAIL "instances/?page_limit=2", EXH_TEST_TOKEN_OWNER, NULL);
	g_assert_cmpuint(r->status, ==, 200);
	g_assert_cmpuint(json_array_get_length(json_node_get_array(r->json)), ==, 2);
	g_assert_cmpstr(soup_message_headers_get_one(r->headers, "X-Pagination-Limit"), ==, "2");
	g_assert_nonnull(soup_message_headers_get_one(r->headers, "X-Pagination-Marker"));
	g_clear_pointer(&r, exh_test_response_free);
	r = exh_test_request(
		t, "GET", MAIL "instances/?name=m1&name=m2", EXH_TEST_TOKEN_OWNER, NULL);
	g_assert_cmpuint(r->status, ==, 200);
	g_assert_cmpuint(json_array_get_length(json_node_get_array(r->json)), ==, 2);
	g_clear_pointer(&r, exh_test_response_free);

	return i1;
}

static void
test_http_crud(void)
{
	g_autoptr(ExhTest) t = exh_test_new(NULL);
	g_autoptr(ExhTestResponse) r = NULL;
	g_autofree gchar *v1 = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *i1 = NULL;
	g_autofree gchar *url = NULL;

	if (t == NULL)
		return;
	v1 = crud_version(t);
	i1 = crud_lists(t, v1);
	path = g_strdup_printf(MAIL "instances/%s", i1);
	r = exh_test_request(t, "PATCH", path, EXH_TEST_TOKEN_OWNER, "{\"ram\":4096}");
	g_assert_cmpuint(r->status, ==, 200);
	g_assert_cmpint(json_object_get_int_member(exh_test_response_object(r), "ram"), ==, 4096);
	g_assert_null(soup_message_headers_get_one(r->headers, "Location"));
	g_clear_pointer(&r, exh_test_response_free);
	r = exh_test_request(t, "PUT", path, EXH_TEST_TOKEN_OWNER, "{\"domain\":\"x.example\"}");
	exh_test_assert_error(r, 403, "FieldPermissionError", NULL);
	g_clear_pointer(&r, exh_test_response_free);

	{
		g_autofree gchar *accounts = g_strdup_printf(MAIL "instances/%s/accounts/", i1);
		g_autofree gchar *acc =
			exh_test_create(t,
					EXH_TEST_TOKEN_OWNER,
					accounts,
					"{\"username\":\"Bob\",\"password\":\"pw-over-http\"}");
		url = g_strdup_printf("%s%s", accounts, acc);
		r = exh_test_request(t, "GET", url, EXH_TEST_TOKEN_OWNER, NULL);
		g_assert_cmpuint(r->status, ==, 200);
		g_assert_cmpstr(exh_test_response_get_string(r, "username"), ==, "bob");
		g_assert_null(strstr(r->body, "password"));
		g_clear_pointer(&r, exh_test_response_free);
	}

	r = exh_test_request(t, "DELETE", path, EXH_TEST_TOKEN_OWNER, NULL);
	g_assert_cmpuint(r->status, ==, 204);
	g_assert_cmpuint(r->len, ==, 0);
	g_assert_null(soup_message_headers_get_content_type(r->headers, NULL));
	g_clear_pointer(&r, exh_test_response_free);
	r = exh_test_request(t, "GET", url, EXH_TEST_TOKEN_OWNER, NULL);
	exh_test_assert_error(r, 404, "RecordNotFound", NULL);
	g_clear_pointer(&r, exh_test_response_free);
	{
		g_autofree gchar *n = exh_test_sql(t, "SELECT count(*) FROM mail_accounts");
		g_assert_cmpstr(n, ==, "0");
	}
}

/* A GET that writes, through the host: verify_dns stores its answer and the
 * instance's dns_status, so the host must run a GET in a transaction it
 * commits, on a connection that may write (docs/scale.md §8).  The resolver
 * is a closed port: the check fails fast, and its answer is stored all the
 * same. */
static void
test_http_get_writes(void)
{
	g_autoptr(ExhTest) t = exh_test_new(NULL);
	g_autoptr(ExhTestResponse) r = NULL;
	g_autofree gchar *v1 = NULL;
	g_autofree gchar *i1 = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *stored = NULL;
	g_autofree gchar *answers = NULL;
	g_autofree gchar *sql = NULL;
	const gchar *status;

	if (t == NULL)
		return;
	v1 = seed_version(t);
	i1 = seed_instance(t, EXH_TEST_TOKEN_OWNER, v1, "dns");
	path = g_strdup_printf(MAIL "instances/%s/actions/verify_dns", i1);
	r = exh_test_request(t, "GET", path, EXH_TEST_TOKEN_OWNER, NULL);
	g_assert_cmpuint(r->status, ==, 200);
	g_assert_false(json_object_get_boolean_member(exh_test_response_object(r), "cached"));
	status = exh_test_response_get_string(r, "status");
	g_assert_nonnull(status);
	sql = g_strdup_printf("SELECT dns_status || ',' || (dns_checked_at IS NOT NULL) FROM "
			      "mail_instances WHERE uuid = '%s'",
			      i1);
	stored = exh_test_sql(t, sql);
	{
		g_autofree gchar *want = g_strdup_printf("%s,true", status);

		g_assert_cmpstr(stored, ==, want);
	}
	answers = exh_test_sql(t, "SELECT count(*) FROM mail_instance_dns");
	g_assert_cmpstr(answers, ==, "1");
	g_clear_pointer(&r, exh_test_response_free);
	/* the stored answer is what the next GET serves */
	r = exh_test_request(t, "GET", path, EXH_TEST_TOKEN_OWNER, NULL);
	g_assert_cmpuint(r->status, ==, 200);
	g_assert_true(json_object_get_boolean_member(exh_test_response_object(r), "cached"));
}

static void
test_http_iam(void)
{
	g_autoptr(ExhTest) t = exh_test_new(NULL);
	g_autoptr(ExhTestResponse) r = NULL;
	g_autofree gchar *v1 = NULL;
	g_autofree gchar *i1 = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *body = NULL;

	if (t == NULL)
		return;
	v1 = seed_version(t);
	i1 = seed_instance(t, EXH_TEST_TOKEN_OWNER, v1, "m1");
	path = g_strdup_printf(MAIL "instances/%s", i1);

	r = exh_test_request(t, "GET", path, EXH_TEST_TOKEN_OTHER, NULL);
	exh_test_assert_error(r, 404, "RecordNotFound", NULL);
	g_clear_pointer(&r, exh_test_response_free);
	r = exh_test_request(t, "GET", MAIL "instances/", EXH_TEST_TOKEN_OTHER, NULL);
	g_assert_cmpuint(r->status, ==, 200);
	g_assert_cmpstr(r->body, ==, "[]");
	g_clear_pointer(&r, exh_test_response_free);
	r = exh_test_request(t, "GET", path, EXH_TEST_TOKEN_NOPERM, NULL);
	exh_test_assert_error(r, 403, "PolicyNotAuthorized", NULL);
	g_clear_pointer(&r, exh_test_response_free);
	r = exh_test_request(t, "GET", path, NULL, NULL);
	exh_test_assert_error(r, 403, "PolicyNotAuthorized", NULL);
	g_clear_pointer(&r, exh_test_response_free);
	r = exh_test_request(t, "GET", path, "not-a-known-token", NULL);
	g_assert_cmpuint(r->status, ==, 401);
	g_assert_cmpstr(exh_test_response_get_string(r, "error"), ==, "invalid_token");
	g_clear_pointer(&r, exh_test_response_free);
	r = exh_test_request(t, "PUT", path, EXH_TEST_TOKEN_WILDCARD, "{\"cpu\":3}");
	g_assert_cmpuint(r->status, ==, 200);
	g_clear_pointer(&r, exh_test_response_free);
	r = exh_test_request(t, "GET", path, EXH_TEST_TOKEN_OPERATOR, NULL);
	g_assert_cmpuint(r->status, ==, 200);
	g_clear_pointer(&r, exh_test_response_free);

	/* a foreign project in a body; an owner creating versions */
	body = g_strdup_printf("{\"name\":\"m2\",\"project_id\":\"%s\",\"domain\":\"example.com\","
			       "\"cpu\":1,\"ram\":512,\"disk_size\":8,\"version\":"
			       "\"/v1/types/mail/versions/%s\"}",
			       EXH_TEST_OTHER_PROJECT,
			       v1);
	r = exh_test_request(t, "POST", MAIL "instances/", EXH_TEST_TOKEN_OWNER, body);
	exh_test_assert_error(r, 403, "Forbidden", NULL);
	g_clear_pointer(&r, exh_test_response_free);
	r = exh_test_request(t, "POST", MAIL "versions/", EXH_TEST_TOKEN_OWNER, "{\"name\":\"x\"}");
	exh_test_assert_error(r, 403, "PolicyNotAuthorized", NULL);
	g_clear_pointer(&r, exh_test_response_free);
	{
		g_autofree gchar *n = exh_test_sql(t, "SELECT count(*) FROM mail_instances");
		g_autofree gchar *m = exh_test_sql(t, "SELECT count(*) FROM mail_versions");
		g_assert_cmpstr(n, ==, "1");
		g_assert_cmpstr(m, ==, "1");
	}
}

typedef struct {
	const gchar *method;
	const gchar *path;
	guint status;
	const gchar *type;
} RouteCase;

static void
test_http_routes(void)
{
	g_autoptr(ExhTest) t = exh_test_new(NULL);
	g_autofree gchar *v1 = NULL;
	g_autofree gchar *i1 = NULL;

	if (t == NULL)
		return;
	v1 = seed_version(t);
	i1 = seed_instance(t, EXH_TEST_TOKEN_OWNER, v1, "m1");
	{
		g_autofree gchar *acc_noslash = g_strdup_printf(MAIL "instances/%s/accounts", i1);
		g_autofree gchar *bogus = g_strdup_printf(MAIL "instances/%s/bogus/", i1);
		g_autofree gchar *slash = g_strdup_printf(MAIL "versions/%s/", v1);
		const RouteCase cases[] = {
			{ "GET", MAIL "versions", 405, "UnsupportedHttpMethod" },
			{ "POST", MAIL, 405, "UnsupportedHttpMethod" },
			{ "GET", MAIL "instances/nope", 400, "ParseError" },
			{ "GET", acc_noslash, 400, "ParseError" },
			{ "GET", bogus, 404, "IncorrectRouteAttribute" },
			{ "GET", slash, 404, "IncorrectRouteAttribute" },
			{ "GET", MAIL "nothere/", 501, "NotImplementedError" },
			{ "OPTIONS", MAIL "instances/", 405, "UnsupportedHttpMethod" },
			{ "PUT", MAIL "instances/", 405, "UnsupportedHttpMethod" },
		};
		for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
			g_autoptr(ExhTestResponse) r = exh_test_request(
				t, cases[i].method, cases[i].path, EXH_TEST_TOKEN_OWNER, NULL);
			g_test_message("%s %s", cases[i].method, cases[i].path);
			exh_test_assert_error(r, cases[i].status, cases[i].type, NULL);
		}
	}
}

static void
test_http_hostile(void)
{
	g_autoptr(ExhTest) t = exh_test_new(NULL);
	g_autofree gchar *v1 = NULL;
	g_autofree gchar *i1 = NULL;
	g_autofree gchar *accounts = NULL;
	g_autofree gchar *auth = g_strdup("Bearer " EXH_TEST_TOKEN_OWNER);
	g_autofree gchar *before = NULL;
	const gchar *const bodies[] = {
		"{",
		"[]",
		"\"x\"",
		"{\"username\":\"a\\u0000\",\"password\":\"x\"}",
		"{\"username\":\"a\",\"password\":\"x\",\"n\":1e400}",
		"{\"username\":\"a\",\"password\":\"x\",\"n\":123456789012345678901234567890}",
	};

	if (t == NULL)
		return;
	v1 = seed_version(t);
	i1 = seed_instance(t, EXH_TEST_TOKEN_OWNER, v1, "m1");
	accounts = g_strdup_printf(MAIL "instances/%s/accounts/", i1);
	{
		g_autofree gchar *sql =
			g_strdup_printf("SELECT updated_at::text FROM mail_instances");
		before = exh_test_sql(t, sql);
	}
	for (guint i = 0; i < G_N_ELEMENTS(bodies); i++) {
		g_autoptr(ExhTestResponse) r =
			exh_test_request(t, "POST", accounts, EXH_TEST_TOKEN_OWNER, bodies[i]);
		g_test_message("%s", bodies[i]);
		exh_test_assert_error(r, 400, "ParseBodyError", NULL);
	}
	{
		/* raw non-UTF-8 and NUL bytes, and a non-JSON content type */
		const gchar bad[] = "{\"username\":\"\xc3\x28\",\"password\":\"x\"}";
		const gchar nul[] = "{\"username\":\"a\0b\",\"password\":\"x\"}";
		const gchar *const json_hdr[] = {
			"Authorization", auth, "Content-Type", "application/json", NULL
		};
		const gchar *const text_hdr[] = {
			"Authorization", auth, "Content-Type", "text/plain", NULL
		};
		g_autoptr(ExhTestResponse) r1 =
			exh_test_request_full(t, "POST", accounts, json_hdr, bad, sizeof(bad) - 1);
		g_autoptr(ExhTestResponse) r2 =
			exh_test_request_full(t, "POST", accounts, json_hdr, nul, sizeof(nul) - 1);
		g_autoptr(ExhTestResponse) r3 = exh_test_request_full(
			t, "POST", accounts, text_hdr, "{\"username\":\"a\"}", 16);
		exh_test_assert_error(r1, 400, "ParseBodyError", NULL);
		exh_test_assert_error(r2, 400, "ParseBodyError", NULL);
		exh_test_assert_error(r3, 400, "ParseBodyError", NULL);
	}
	{
		g_autoptr(ExhTestResponse) r =
			exh_test_request(t,
					 "POST",
					 accounts,
					 EXH_TEST_TOKEN_OWNER,
					 "{\"username\":\"a\",\"password\":7}");
		exh_test_assert_error(r, 400, "TypeError", NULL);
		g_assert_null(strstr(r->body, "7"));
	}
	{
		g_autofree gchar *n = exh_test_sql(t, "SELECT count(*) FROM mail_accounts");
		g_autofree gchar *after =
			exh_test_sql(t, "SELECT updated_at::text FROM mail_instances");
		g_assert_cmpstr(n, ==, "0");
		g_assert_cmpstr(after, ==, before);
	}
}

/* Core IAM mode only: tokens Core would not honour, Core's key rotation and
 * a revoked token, through the whole host (tests/fakes/fake_core/iam.py). */
static guint
status_with(ExhTest *t, const gchar *path, const gchar *jwt)
{
	g_autofree gchar *auth = g_strconcat("Bearer ", jwt, NULL);
	const gchar *headers[] = { "Authorization", auth, NULL };
	g_autoptr(ExhTestResponse) r = exh_test_request_full(t, "GET", path, headers, NULL, 0);

	if (r->status == 401)
		g_assert_cmpstr(exh_test_response_get_string(r, "error"), ==, "invalid_token");
	return r->status;
}

#define OWNER_SPEC                                                                                 \
	"\"sub\":\"" EXH_TEST_USER_OWNER "\",\"project_id\":\"" EXH_TEST_PROJECT "\","             \
	"\"permissions\":[\"exordos_mail.*.*\"]"

static void
test_http_iam_jwt(void)
{
	g_autoptr(ExhTest) t = exh_test_new(NULL);
	g_autofree gchar *v1 = NULL;
	g_autofree gchar *i1 = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *expired = NULL;
	g_autofree gchar *foreign = NULL;
	g_autofree gchar *forged = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *revoke = NULL;
	g_autoptr(JsonObject) a = NULL;
	g_autoptr(JsonObject) b = NULL;

	if (t == NULL)
		return;
	g_assert_nonnull(t->iam);
	v1 = seed_version(t);
	i1 = seed_instance(t, EXH_TEST_TOKEN_OWNER, v1, "m1");
	path = g_strdup_printf(MAIL "instances/%s", i1);
	expired = exh_test_iam_mint(t->iam, "{" OWNER_SPEC ",\"ttl\":-60}");
	foreign = exh_test_iam_mint(t->iam, "{" OWNER_SPEC ",\"aud\":\"AnotherClient\"}");
	forged = exh_test_iam_mint(t->iam, "{" OWNER_SPEC ",\"key\":\"unknown\"}");
	g_assert_cmpuint(status_with(t, path, expired), ==, 401);
	g_assert_cmpuint(status_with(t, path, foreign), ==, 401);
	g_assert_cmpuint(status_with(t, path, forged), ==, 401);

	/* Core rotates: new tokens and those of the previous key both pass */
	before = exh_test_iam_mint(t->iam, "{" OWNER_SPEC "}");
	g_assert_cmpuint(status_with(t, path, before), ==, 200);
	a = exh_test_iam_control(t->iam, "/_fake/iam/rotate", "{}");
	g_usleep(1100 * 1000); /* the fixture refetches the JWKS at most once a second */
	after = exh_test_iam_mint(t->iam, "{" OWNER_SPEC "}");
	g_assert_cmpuint(status_with(t, path, after), ==, 200);
	g_assert_cmpuint(status_with(t, path, before), ==, 200);

	/* revoked: refused once the cached introspection (1 s here) is gone */
	revoke = g_strdup_printf("{\"token\":\"%s\"}", after);
	b = exh_test_iam_control(t->iam, "/_fake/iam/revoke", revoke);
	g_usleep(1100 * 1000);
	g_assert_cmpuint(status_with(t, path, after), ==, 401);
}

/* Behind the platform's load balancer (its /api/metapaas/ route): the
 * Location of a create names the URL the client used. */
static void
test_http_location_forwarded(void)
{
	g_autoptr(ExhTest) t = exh_test_new(NULL);
	const gchar *headers[] = { "Authorization",
				   "Bearer " EXH_TEST_TOKEN_OPERATOR,
				   "Content-Type",
				   "application/json",
				   "Host",
				   "core.example",
				   "X-Forwarded-Proto",
				   "https",
				   "X-Forwarded-Prefix",
				   "/api/metapaas",
				   NULL };
	const gchar *body = "{\"name\":\"exim4_1\",\"image\":\"img\"}";
	g_autoptr(ExhTestResponse) r = NULL;
	g_autofree gchar *loc = NULL;

	if (t == NULL)
		return;
	r = exh_test_request_full(t, "POST", MAIL "versions/", headers, body, strlen(body));
	g_assert_cmpuint(r->status, ==, 201);
	loc = g_strdup_printf("https://core.example/api/metapaas/v1/types/mail/versions/%s",
			      exh_test_response_get_string(r, "uuid"));
	g_assert_cmpstr(soup_message_headers_get_one(r->headers, "Location"), ==, loc);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/http/mail/crud", test_http_crud);
	g_test_add_func("/http/mail/iam", test_http_iam);
	g_test_add_func("/http/mail/get-writes", test_http_get_writes);
	/* Core IAM mode (the -iam-core variant): the IAM tests only */
	if (exh_test_iam_core_mode()) {
		g_test_add_func("/http/mail/iam-jwt", test_http_iam_jwt);
		return g_test_run();
	}
	g_test_add_func("/http/mail/routes", test_http_routes);
	g_test_add_func("/http/mail/location-forwarded", test_http_location_forwarded);
	g_test_add_func("/http/mail/hostile", test_http_hostile);
	return g_test_run();
}
