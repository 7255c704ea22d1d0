/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-test.h"
#include "exh-test-iam.h"

#include "exm-config.h"
#include "exm-test.h"

#include <signal.h>
#include <string.h>
#include <sys/stat.h>

void
exh_test_init(int *argc, char ***argv)
{
	/* as libsoup's own tests: nothing from the machine's GIO setup leaks in */
	g_setenv("GSETTINGS_BACKEND", "memory", TRUE);
	g_setenv("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
	g_setenv("GIO_USE_VFS", "local", TRUE);
	exm_test_init(argc, argv);
}

/* @dir/@name under the build tree ($EXM_BUILD_ROOT when the test runner sets it). */
static gchar *
build_tree_path(const gchar *dir, const gchar *name)
{
	const gchar *root = g_getenv("EXM_BUILD_ROOT");

	return g_build_filename(root != NULL ? root : EXM_BUILD_ROOT, dir, name, NULL);
}

gchar *
exh_test_plugin_path(void)
{
	return build_tree_path("plugin", "libexordos_paas_mail.so");
}

gchar *
exh_test_node_descriptor_path(void)
{
	return g_build_filename(
		EXM_SOURCE_ROOT, "data", "exordos_metapaas", "local-node.ini", NULL);
}

gchar *
exh_test_fake_plugin_path(const gchar *variant)
{
	g_autofree gchar *name = g_strdup_printf("libexh-fake%s.so", variant);

	return build_tree_path("tests/host", name);
}

gchar *
exh_test_host_path(void)
{
	return build_tree_path("tests/host", "exordos-paas-host");
}

GSubprocess *
exh_test_spawn_with(GSubprocessLauncher *launcher, const gchar *const *argv, GError **error)
{
	g_subprocess_launcher_set_child_setup(
		launcher, exm_test_die_with_parent, GINT_TO_POINTER(SIGKILL), NULL);
	return g_subprocess_launcher_spawnv(launcher, argv, error);
}

GSubprocess *
exh_test_spawn(const gchar *const *argv, GError **error)
{
	g_autoptr(GSubprocessLauncher) launcher =
		g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);

	return exh_test_spawn_with(launcher, argv, error);
}

void
exh_test_stop(GSubprocess **proc)
{
	if (*proc == NULL)
		return;
	g_subprocess_send_signal(*proc, SIGTERM);
	g_subprocess_wait(*proc, NULL, NULL);
	g_clear_object(proc);
}

static const gchar token_file_text[] =
	"# tokens of the in-process test fixture (tests/host/exh-test.h)\n"
	"[" EXH_TEST_TOKEN_OWNER "]\n"
	"user = " EXH_TEST_USER_OWNER "\n"
	"project = " EXH_TEST_PROJECT "\n"
	"permissions = exordos_mail.mail_instance.*;exordos_mail.account.*;"
	"exordos_mail.mail_version.read;exordos_metapaas.paas_type.read\n"
	"\n"
	"[" EXH_TEST_TOKEN_OTHER "]\n"
	"user = 7c0e1f2a-3b4c-4d5e-8f60-718293a4b5c6\n"
	"project = " EXH_TEST_OTHER_PROJECT "\n"
	"permissions = exordos_mail.mail_instance.*;exordos_mail.account.*;"
	"exordos_mail.mail_version.read;exordos_metapaas.paas_type.read\n"
	"\n"
	"[" EXH_TEST_TOKEN_OPERATOR "]\n"
	"user = 00000000-0000-0000-0000-00000000000a\n"
	"permissions = *.*.*\n"
	"\n"
	"[" EXH_TEST_TOKEN_NOPERM "]\n"
	"user = 00000000-0000-0000-0000-00000000000b\n"
	"project = " EXH_TEST_PROJECT "\n"
	"permissions = exordos_s3.*.*\n"
	"\n"
	"[" EXH_TEST_TOKEN_WILDCARD "]\n"
	"user = 00000000-0000-0000-0000-00000000000c\n"
	"project = " EXH_TEST_PROJECT "\n"
	"permissions = exordos_mail.*.*\n";

gchar *
exh_test_write_token_file(const gchar *dir)
{
	g_autofree gchar *path = g_build_filename(dir, "tokens.conf", NULL);
	g_autoptr(GError) error = NULL;

	if (!g_file_set_contents_full(
		    path, token_file_text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error)) {
		g_test_fail_printf("token file: %s", error->message);
		return NULL;
	}
	return g_steal_pointer(&path);
}

/* The non-zero fields of @in over the config's defaults. */
static void
set_connections(ExhListenerLimits *out, const ExhListenerLimits *in)
{
	if (in->header_timeout_ms > 0)
		out->header_timeout_ms = in->header_timeout_ms;
	if (in->idle_timeout_ms > 0)
		out->idle_timeout_ms = in->idle_timeout_ms;
	if (in->max_connections > 0)
		out->max_connections = in->max_connections;
	if (in->max_per_address > 0)
		out->max_per_address = in->max_per_address;
}

static ExhHostConfig *
fixture_config(ExhTest *t, const ExhTestOptions *options)
{
	ExhHostConfig *config = exh_host_config_new();
	GPtrArray *plugins = g_ptr_array_new();

	g_free(config->conninfo);
	config->conninfo = g_strdup(t->conninfo);
	config->port = 0;
	config->token_file = g_strdup(t->token_file);
	if (t->iam != NULL)
		exh_test_iam_configure(t->iam, config);
	if (options != NULL && options->workers > 0)
		config->workers = options->workers;
	if (options != NULL && options->max_body > 0)
		config->max_body = options->max_body;
	if (options != NULL && options->max_queued > 0)
		config->max_queued = options->max_queued;
	if (options != NULL && options->shutdown_grace_ms > 0)
		config->shutdown_grace_ms = options->shutdown_grace_ms;
	if (options != NULL)
		set_connections(&config->connections, &options->connections);
	config->orch_port = 0;
	config->status_port = 0;
	if (options != NULL) {
		config->agent_api = options->agent_api;
		config->plain_agents = options->plain_agents;
		config->metrics = options->metrics;
		config->metrics_port = 0;
		config->backend = options->backend;
		config->external_base_url = g_strdup(options->external_base_url);
		config->plugin_dir = g_strdup(options->plugin_dir);
		config->core_agent = options->core_agent_config != NULL;
		config->core_agent_config = g_strdup(options->core_agent_config);
		config->core_agent_seal_key_file = g_strdup(options->core_agent_seal_key_file);
	}
	if (options == NULL || options->plugins == NULL)
		g_ptr_array_add(plugins, exh_test_plugin_path());
	for (guint i = 0;
	     options != NULL && options->plugins != NULL && options->plugins[i] != NULL;
	     i++)
		g_ptr_array_add(plugins, g_strdup(options->plugins[i]));
	g_ptr_array_add(plugins, NULL);
	g_strfreev(config->plugins);
	config->plugins = (gchar **)g_ptr_array_free(plugins, FALSE);
	return config;
}

static gboolean
fixture_prepare(ExhTest *t, GError **error)
{
	t->conninfo = exm_test_pg_create_database(t->pg, error);
	if (t->conninfo == NULL)
		return FALSE;
	t->dir = exm_test_mkdtemp("exh-test");
	if (t->dir == NULL)
		return FALSE;
	t->token_file = exh_test_write_token_file(t->dir);
	if (t->token_file == NULL)
		return FALSE;
	if (exh_test_iam_core_mode()) {
		t->iam = exh_test_iam_new(t->dir, token_file_text, error);
		return t->iam != NULL;
	}
	return TRUE;
}

ExhTest *
exh_test_new(const ExhTestOptions *options)
{
	g_autoptr(ExhTest) t = g_new0(ExhTest, 1);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *plugin = exh_test_plugin_path();

	t->pg = exm_test_pg_get();
	if (t->pg == NULL)
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
		return NULL;
	if ((options == NULL || options->plugins == NULL) &&
	    !g_file_test(plugin, G_FILE_TEST_EXISTS)) {
		g_test_fail_printf("the mail plugin is not built: %s", plugin);
		return NULL;
	}
	if (!fixture_prepare(t, &error)) {
		g_test_fail_printf("fixture: %s", error != NULL ? error->message : "temp dir");
		return NULL;
	}
	t->config = fixture_config(t, options);
	t->host = exh_host_new(t->config, &error);
	if (t->host == NULL || !exh_host_start(t->host, &error)) {
		g_test_fail_printf("host: %s", error->message);
		return NULL;
	}
	t->base_url = g_strdup(exh_host_get_base_url(t->host));
	t->session = soup_session_new_with_options("timeout", 120, "idle-timeout", 120, NULL);
	return g_steal_pointer(&t);
}

/* The host.conf of exh_test_spawn_peer(): @peer's ports, @t's database and plugins. */
static gchar *
peer_config(ExhTest *t, ExhTest *peer, gint port, gint status_port)
{
	g_autofree gchar *plugins = g_strjoinv(";", t->config->plugins);
	g_autofree gchar *text =
		g_strdup_printf("[host]\ntoken_file = %s\nport = %d\nplugins = %s\n"
				"[db]\nconninfo = %s\n[agent_api]\nenabled = true\n"
				"orch_port = %d\nstatus_port = %d\nplain_agents = %s\n",
				peer->token_file,
				port,
				plugins,
				t->conninfo,
				exm_test_free_port(),
				status_port,
				t->config->plain_agents ? "true" : "false");
	g_autofree gchar *path = g_build_filename(peer->dir, "host.conf", NULL);

	if (!g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL))
		return NULL;
	return g_steal_pointer(&path);
}

/* Waits (bounded, a hang guard) until @port and @status_port accept. */
static gboolean
peer_wait_up(gint port, gint status_port)
{
	for (guint i = 0; i < 600; i++) {
		if (exm_test_can_connect("127.0.0.1", (guint)port) &&
		    exm_test_can_connect("127.0.0.1", (guint)status_port))
			return TRUE;
		g_usleep(50 * 1000);
	}
	return FALSE;
}

/* Spawns @peer's process from @t; fills @peer's URLs and client once it is up. */
static gboolean
peer_start(ExhTest *t, ExhTest *peer, GError **error)
{
	g_autofree gchar *exe = exh_test_host_path();
	g_autofree gchar *conf = NULL;
	gint port = exm_test_free_port(), status_port = exm_test_free_port();
	const gchar *argv[] = { exe, "--config", NULL, NULL };

	peer->dir = exm_test_mkdtemp("exh-peer-host");
	peer->token_file = peer->dir != NULL ? exh_test_write_token_file(peer->dir) : NULL;
	conf = peer->token_file != NULL ? peer_config(t, peer, port, status_port) : NULL;
	if (conf == NULL) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "peer host: no config");
		return FALSE;
	}
	argv[2] = conf;
	peer->proc = exh_test_spawn(argv, error);
	if (peer->proc == NULL)
		return FALSE;
	if (!peer_wait_up(port, status_port)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "peer host: not up");
		return FALSE;
	}
	peer->conninfo = g_strdup(t->conninfo);
	peer->base_url = g_strdup_printf("http://127.0.0.1:%d", port);
	peer->status_url = g_strdup_printf("http://127.0.0.1:%d", status_port);
	peer->session = soup_session_new_with_options("timeout", 120, NULL);
	return TRUE;
}

ExhTest *
exh_test_spawn_peer(ExhTest *t, GError **error)
{
	g_autoptr(ExhTest) peer = g_new0(ExhTest, 1);

	/* a failed start is stopped by exh_test_free(), whatever it got to */
	if (!peer_start(t, peer, error))
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
		return NULL;
	return g_steal_pointer(&peer);
}

void
exh_test_free(ExhTest *t)
{
	if (t == NULL)
		return;
	/* client first: its keep-alive connections must not hold the server up */
	if (t->session != NULL)
		soup_session_abort(t->session);
	g_clear_object(&t->session);
	exh_test_stop(&t->proc);
	g_clear_pointer(&t->host, exh_host_free);
	g_clear_pointer(&t->config, exh_host_config_free);
	g_clear_pointer(&t->iam, exh_test_iam_free);
	if (t->dir != NULL)
		exm_test_rmtree(t->dir);
	g_free(t->dir);
	g_free(t->token_file);
	g_free(t->conninfo);
	g_free(t->base_url);
	g_free(t->status_url);
	g_free(t);
}

void
exh_test_response_free(ExhTestResponse *r)
{
	if (r == NULL)
		return;
	g_clear_pointer(&r->headers, soup_message_headers_unref);
	g_free(r->body);
	g_clear_pointer(&r->json, json_node_unref);
	g_free(r);
}

static void
parse_json_body(ExhTestResponse *r)
{
	g_autoptr(JsonParser) parser = json_parser_new();

	if (r->len == 0 || !json_parser_load_from_data(parser, r->body, (gssize)r->len, NULL))
		return;
	r->json = json_node_ref(json_parser_get_root(parser));
}

/* In Core IAM mode a fixture token becomes its JWT (any case of "Bearer"). */
static gchar *
translate_header(ExhTest *t, const gchar *name, const gchar *value)
{
	if (t->iam == NULL || g_ascii_strcasecmp(name, "Authorization") != 0 ||
	    g_ascii_strncasecmp(value, "bearer ", 7) != 0)
		return g_strdup(value);
	return g_strdup_printf("%.7s%s", value, exh_test_iam_translate(t->iam, value + 7));
}

ExhTestResponse *
exh_test_request_full(ExhTest *t,
		      const gchar *method,
		      const gchar *path,
		      const gchar *const *headers,
		      const gchar *body,
		      gsize len)
{
	g_autofree gchar *url = g_strconcat(t->base_url, path, NULL);
	g_autoptr(SoupMessage) msg = soup_message_new(method, url);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) reply = NULL;
	ExhTestResponse *r = g_new0(ExhTestResponse, 1);
	SoupMessageHeaders *req_headers;

	if (msg == NULL) {
		g_test_fail_printf("bad request URL %s", url);
		r->body = g_strdup("");
		return r;
	}
	req_headers = soup_message_get_request_headers(msg);
	for (guint i = 0; headers != NULL && headers[i] != NULL && headers[i + 1] != NULL; i += 2) {
		g_autofree gchar *value = translate_header(t, headers[i], headers[i + 1]);

		soup_message_headers_replace(req_headers, headers[i], value);
	}
	if (body != NULL) {
		g_autoptr(GBytes) bytes = g_bytes_new(body, len);
		soup_message_set_request_body_from_bytes(
			msg, soup_message_headers_get_content_type(req_headers, NULL), bytes);
	}
	reply = soup_session_send_and_read(t->session, msg, NULL, &error);
	if (reply == NULL) {
		g_test_message("%s %s: %s", method, path, error->message);
		r->body = g_strdup("");
		return r;
	}
	r->status = soup_message_get_status(msg);
	r->headers = soup_message_headers_ref(soup_message_get_response_headers(msg));
	r->body = g_strndup(g_bytes_get_data(reply, &r->len), g_bytes_get_size(reply));
	parse_json_body(r);
	return r;
}

static void
parse_raw_response(ExhTestResponse *r, const gchar *data, gsize len)
{
	const gchar *end = g_strstr_len(data, (gssize)len, "\r\n\r\n");
	g_autofree gchar *head = end != NULL ? g_strndup(data, end - data + 2) : NULL;
	guint status = 0;

	r->headers = soup_message_headers_new(SOUP_MESSAGE_HEADERS_RESPONSE);
	/* the parser reads numbers with strtol: give it a NUL-terminated copy */
	if (head == NULL || !soup_headers_parse_response(
				    head, (int)strlen(head), r->headers, NULL, &status, NULL)) {
		r->body = g_strdup("");
		return;
	}
	r->status = status;
	r->len = len - (gsize)(end + 4 - data);
	r->body = g_strndup(end + 4, r->len);
	parse_json_body(r);
}

ExhTestResponse *
exh_test_raw_request(ExhTest *t, const gchar *raw, gsize len)
{
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketConnection) conn = NULL;
	g_autoptr(GByteArray) data = g_byte_array_new();
	g_autoptr(GError) error = NULL;
	ExhTestResponse *r = g_new0(ExhTestResponse, 1);
	guint8 buf[4096];
	gssize n;

	g_socket_client_set_timeout(client, 60);
	conn = g_socket_client_connect_to_host(
		client, "127.0.0.1", exh_host_get_port(t->host), NULL, &error);
	if (conn == NULL ||
	    !g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(conn)),
				       raw,
				       len,
				       NULL,
				       NULL,
				       &error)) {
		g_test_message("raw request: %s", error->message);
		r->body = g_strdup("");
		return r;
	}
	while ((n = g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(conn)),
					buf,
					sizeof(buf),
					NULL,
					NULL)) > 0)
		g_byte_array_append(data, buf, (guint)n);
	parse_raw_response(r, (const gchar *)data->data, data->len);
	return r;
}

ExhTestResponse *
exh_test_request(ExhTest *t,
		 const gchar *method,
		 const gchar *path,
		 const gchar *token,
		 const gchar *body)
{
	g_autofree gchar *auth = token != NULL ? g_strconcat("Bearer ", token, NULL) : NULL;
	const gchar *headers[5] = { NULL };
	guint n = 0;

	if (body != NULL) {
		headers[n++] = "Content-Type";
		headers[n++] = "application/json";
	}
	if (auth != NULL) {
		headers[n++] = "Authorization";
		headers[n++] = auth;
	}
	return exh_test_request_full(
		t, method, path, headers, body, body != NULL ? strlen(body) : 0);
}

const gchar *
exh_test_response_get_string(ExhTestResponse *r, const gchar *name)
{
	JsonObject *obj;
	JsonNode *member;

	if (r->json == NULL || !JSON_NODE_HOLDS_OBJECT(r->json))
		return NULL;
	obj = json_node_get_object(r->json);
	member = json_object_get_member(obj, name);
	if (member == NULL || !JSON_NODE_HOLDS_VALUE(member) ||
	    json_node_get_value_type(member) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(member);
}

gboolean
exh_test_response_has_member(ExhTestResponse *r, const gchar *name)
{
	return r->json != NULL && JSON_NODE_HOLDS_OBJECT(r->json) &&
	       json_object_has_member(json_node_get_object(r->json), name);
}

gchar *
exh_test_create(ExhTest *t, const gchar *token, const gchar *path, const gchar *body)
{
	g_autoptr(ExhTestResponse) r = exh_test_request(t, "POST", path, token, body);

	if (r->status != 201)
		g_test_message("POST %s %s -> %u %s", path, body, r->status, r->body);
	g_assert_cmpuint(r->status, ==, 201);
	if (r->status != 201)
		return NULL;
	return g_strdup(exh_test_response_get_string(r, "uuid"));
}

JsonObject *
exh_test_response_object(ExhTestResponse *r)
{
	g_assert_nonnull(r->json);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(r->json));
	return json_node_get_object(r->json);
}

void
exh_test_assert_error(ExhTestResponse *r, guint status, const gchar *type, const gchar *message)
{
	if (r->status != status || r->json == NULL)
		g_test_message("unexpected %u: %s", r->status, r->body);
	g_assert_cmpuint(r->status, ==, status);
	g_assert_nonnull(r->json);
	g_assert_cmpstr(exh_test_response_get_string(r, "type"), ==, type);
	if (message != NULL)
		g_assert_cmpstr(exh_test_response_get_string(r, "message"), ==, message);
	g_assert_cmpstr(
		soup_message_headers_get_content_type(r->headers, NULL), ==, "application/json");
}

gchar *
exh_test_sql(ExhTest *t, const gchar *sql)
{
	g_autoptr(GError) error = NULL;
	gchar *value = exm_test_pg_exec(t->conninfo, sql, &error);

	if (value == NULL)
		g_test_fail_printf("sql %s: %s", sql, error->message);
	return value;
}
