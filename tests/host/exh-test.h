/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * In-process test fixture for the `pg` and `http` suites: a fresh database on
 * the binary's throwaway PostgreSQL, a token file, and the reference host
 * with the real plugin from the build tree, listening on a random loopback
 * port; plus a small synchronous HTTP client.
 *
 *   exh_test_init(&argc, &argv);           // in main()
 *   …
 *   g_autoptr(ExhTest) t = exh_test_new(NULL);
 *   if (t == NULL)
 *           return;   // skipped (no PostgreSQL) or failed, already reported
 *   g_autoptr(ExhTestResponse) r =
 *           exh_test_request(t, "GET", "/v1/types/mail/instances/", EXH_TEST_TOKEN_OWNER, NULL);
 *   g_assert_cmpuint(r->status, ==, 200);
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "exh-host.h"
#include "exm-test-pg.h"

/* The dev project of the stand and the seed README. */
#define EXH_TEST_PROJECT "4d657461-0000-0000-0000-000000000002"
/* Another tenant's project. */
#define EXH_TEST_OTHER_PROJECT "0be5a6ab-7c1d-4f3e-9a61-2b8f8d0e7c11"

/*
 * Tokens of the fixture's token file.
 * OWNER: user of EXH_TEST_PROJECT, scoped to it, with the mail permissions of
 *   a tenant: mail_instance.*, account.*, mail_version.read, paas_type.read.
 * OTHER: the same permissions, scoped to EXH_TEST_OTHER_PROJECT.
 * OPERATOR: no project, `*.*.*`.
 * NOPERM: scoped to EXH_TEST_PROJECT with permissions of another service only.
 * WILDCARD: scoped to EXH_TEST_PROJECT with `exordos_mail.*.*`.
 */
#define EXH_TEST_TOKEN_OWNER	"exh-test-owner-5c0f8a1e9d2b4c37"
#define EXH_TEST_TOKEN_OTHER	"exh-test-other-8e41b7d2a6c9f053"
#define EXH_TEST_TOKEN_OPERATOR "exh-test-operator-27d9e0c4b1a8f6e3"
#define EXH_TEST_TOKEN_NOPERM	"exh-test-noperm-a93c5e7f0b2d8146"
#define EXH_TEST_TOKEN_WILDCARD "exh-test-wildcard-4b6d8f0a2c4e6a8c"
#define EXH_TEST_USER_OWNER	"4d657461-0000-0000-0000-000000000001"

/**
 * ExhTestOptions:
 * @workers: worker pool size (0 = the host's default)
 * @max_body: body limit (0 = the host's default)
 * @max_queued: queue bound of the worker pool (0 = the host's default)
 * @shutdown_grace_ms: the host's shutdown grace (0 = the host's default)
 * @plugins: (nullable): %NULL-terminated plugin paths to load instead of the
 *   mail plugin (an empty array loads none); %NULL = the mail plugin
 * @agent_api: also run the Orch/Status APIs (random loopback ports) and the
 *   builder engine (exh_host_get_orch_url(), exh_host_get_status_url())
 * @plain_agents: node keys written by the engine accept plain requests
 * @backend: (nullable): the infra backend the engine drives (borrowed)
 * @connections: timeouts and caps of the listeners (0 fields = the host's defaults)
 * @external_base_url: (nullable): the host's `external_base_url`
 * @metrics: also serve `/metrics` on a random loopback port
 *   (exh_host_get_metrics_url())
 * @plugin_dir: (nullable): the host's `plugin_dir` (type registration)
 * @core_agent_config: (nullable): runs the EM path's core-agent with this
 *   universal agent ini (`[core_agent] agent_config`; docs/em-path.md)
 * @core_agent_seal_key_file: (nullable): its `[core_agent] seal_key_file`
 */
typedef struct {
	guint workers;
	gsize max_body;
	guint max_queued;
	guint shutdown_grace_ms;
	const gchar *const *plugins;
	gboolean agent_api;
	gboolean plain_agents;
	struct _ExhInfraBackend *backend;
	ExhListenerLimits connections;
	const gchar *external_base_url;
	gboolean metrics;
	const gchar *plugin_dir;
	const gchar *core_agent_config;
	const gchar *core_agent_seal_key_file;
} ExhTestOptions;

/**
 * ExhTest:
 * @pg: (transfer none): the binary's shared cluster
 * @conninfo: the test's own fresh database
 * @dir: a temp dir (token file), removed at free
 * @token_file: path of the token file
 * @config: the host's config (tests may read it)
 * @host: the running host
 * @base_url: `http://127.0.0.1:<port>`
 * @session: the client session (used from the test thread only)
 */
typedef struct {
	ExmTestPg *pg;
	gchar *conninfo;
	gchar *dir;
	gchar *token_file;
	ExhHostConfig *config;
	ExhHost *host;
	gchar *base_url;
	SoupSession *session;
	struct _ExhTestIam *iam; /* Core IAM mode (exh-test-iam.h), else NULL */
	GSubprocess *proc;	 /* a host process (exh_test_spawn_peer()), else NULL */
	gchar *status_url;	 /* its Status API */
} ExhTest;

/*
 * exm_test_init() plus a hermetic GIO for libsoup (memory GSettings, no proxy
 * resolver, local VFS).  Call it first in main() of tests using this fixture.
 */
void exh_test_init(int *argc, char ***argv);

/* Path of the mail plugin in the build tree. */
gchar *exh_test_plugin_path(void);

/* Path of the mail type's node descriptor for the local backend ([local]
 * node_descriptor, tests/host/infra/local/exh-local-type.h) in the source tree. */
gchar *exh_test_node_descriptor_path(void);

/* Path of a fake plugin of the host's tests: "" (slug fake), "-abi2", "-broken",
 * "-nosym", "-other" (slug other), "-clash" (slug clash, fake's migration uuids). */
gchar *exh_test_fake_plugin_path(const gchar *variant);

/* Path of the exordos-paas-host executable in the build tree. */
gchar *exh_test_host_path(void);

/**
 * exh_test_spawn:
 * @argv: %NULL-terminated command line
 * @error: return location for a #GError
 *
 * Starts a daemon for a test (e.g. the exordos-paas-host executable) that the
 * kernel kills (SIGKILL) if the test process dies first, so a crashed test
 * never leaves it running.  Stop it yourself otherwise.
 *
 * Returns: (transfer full): the process, or %NULL with @error set
 */
GSubprocess *exh_test_spawn(const gchar *const *argv, GError **error);
/* The same with @launcher's settings (cwd, environment). */
GSubprocess *exh_test_spawn_with(GSubprocessLauncher *launcher,
				 const gchar *const *argv,
				 GError **error);

/* Stops a daemon exh_test_spawn() started (SIGTERM, then waits) and clears
 * *@proc; nothing when it is %NULL. */
void exh_test_stop(GSubprocess **proc);

/* Writes the fixture's token file into @dir; returns its path. */
gchar *exh_test_write_token_file(const gchar *dir);

/**
 * exh_test_new:
 * @options: (nullable): options
 *
 * Starts PostgreSQL (once per binary), creates a database and starts a host on
 * it.  On a missing peer the test is skipped (or failed under
 * EXM_REQUIRE_REAL_PEERS=1), on any other problem it is failed; either way
 * %NULL is returned and the caller returns.
 *
 * Returns: (transfer full) (nullable): the fixture
 */
ExhTest *exh_test_new(const ExhTestOptions *options);

/*
 * exordos-paas-host as a process of its own on @t's database, with @t's
 * plugins, the fixture's tokens and the agent API (its builder engine, no
 * infra backend) on free loopback ports: a second host behind a load
 * balancer.  The answer's host is %NULL: its requests go to the process
 * (base_url), whose Status API is status_url; exh_test_free() stops the
 * process.  Up once its listeners accept; %NULL on failure (@error).
 */
ExhTest *exh_test_spawn_peer(ExhTest *t, GError **error);

/* Stops the host (cleanly), drops nothing, removes the temp dir. */
void exh_test_free(ExhTest *test);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhTest, exh_test_free)

/**
 * ExhTestResponse:
 * @status: HTTP status (0 when the request could not be sent)
 * @headers: response headers
 * @body: the body, NUL-terminated
 * @len: its length
 * @json: (nullable): the body parsed as JSON when it is JSON
 */
typedef struct {
	guint status;
	SoupMessageHeaders *headers;
	gchar *body;
	gsize len;
	JsonNode *json;
} ExhTestResponse;

void exh_test_response_free(ExhTestResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhTestResponse, exh_test_response_free)

/**
 * exh_test_request:
 * @test: the fixture
 * @method: HTTP method
 * @path: path and query, e.g. `/v1/types/mail/instances/?name=a` (sent as is)
 * @token: (nullable): bearer token; %NULL sends no Authorization header
 * @body: (nullable): a JSON body, sent with `Content-Type: application/json`
 *
 * Returns: (transfer full): the response
 */
ExhTestResponse *exh_test_request(ExhTest *test,
				  const gchar *method,
				  const gchar *path,
				  const gchar *token,
				  const gchar *body);

/**
 * exh_test_request_full:
 * @test: the fixture
 * @method: HTTP method
 * @path: path and query
 * @headers: (nullable): %NULL-terminated name, value, name, value, … sent as is
 * @body: (nullable) (array length=len): raw body bytes
 * @len: their length
 *
 * Like exh_test_request() with full control over headers and body.
 *
 * Returns: (transfer full): the response
 */
ExhTestResponse *exh_test_request_full(ExhTest *test,
				       const gchar *method,
				       const gchar *path,
				       const gchar *const *headers,
				       const gchar *body,
				       gsize len);

/**
 * exh_test_raw_request:
 * @test: the fixture
 * @raw: (array length=len): bytes sent as they are on a new connection, e.g.
 *   "GET /v1/?x=%zz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
 * @len: their length
 *
 * For hostile input a client library refuses to send (bad escapes, raw bytes).
 * Reads until the server closes, so ask for `Connection: close`.
 *
 * Returns: (transfer full): the response (status 0 when unparsable)
 */
ExhTestResponse *exh_test_raw_request(ExhTest *test, const gchar *raw, gsize len);

/* (nullable) (transfer none): member @name of the response's JSON object */
const gchar *exh_test_response_get_string(ExhTestResponse *response, const gchar *name);
gboolean exh_test_response_has_member(ExhTestResponse *response, const gchar *name);

/**
 * exh_test_create:
 * @test: the fixture
 * @token: (nullable): bearer token
 * @path: a collection, e.g. `/v1/types/mail/versions/`
 * @body: the JSON body
 *
 * POSTs @body and asserts a 201 (logging the answer when it is not one).
 *
 * Returns: (transfer full) (nullable): the new resource's `uuid`
 */
gchar *exh_test_create(ExhTest *test, const gchar *token, const gchar *path, const gchar *body);

/* (transfer none): the response's JSON object; the test fails when it is none */
JsonObject *exh_test_response_object(ExhTestResponse *response);

/**
 * exh_test_assert_error:
 * @response: the response
 * @status: the expected HTTP status
 * @type: the expected error `type`
 * @message: (nullable): the expected `message`; %NULL does not check it
 *
 * Asserts an error response: status, a JSON body of that `type` (and
 * `message`), served as `application/json`.
 */
void exh_test_assert_error(ExhTestResponse *response,
			   guint status,
			   const gchar *type,
			   const gchar *message);

/* Query on the test's database, first column of the first row ("" when none). */
gchar *exh_test_sql(ExhTest *test, const gchar *sql);
