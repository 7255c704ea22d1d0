/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host's connections (tests/host/server/exh-listener.h) on the user API
 * and the Orch/Status APIs, with raw sockets as curl would use them: every
 * connection a client closes leaves the host's descriptors where they were,
 * idle keep-alive ones included; a client that sends nothing or half a
 * header is closed after the header timeout, an idle keep-alive connection
 * after the idle timeout; the per-address and per-listener caps answer 503
 * with Retry-After; a parked long poll is freed within a second of its client
 * leaving.  The host runs in-process: /proc/self/fd counts its descriptors
 * (the test's own sockets are closed before each count).
 */
#include "exm-config.h"

#include <string.h>
#include <sys/socket.h>

#include "exh-line-stream.h"
#include "exh-listener.h"
#include "exh-test.h"
#include "exm-test.h"

#define NODE	   "11111111-2222-3333-4444-555555555555"
#define AGENT	   "239bb923-73ae-5e7f-a9be-30e0a13dff80"
#define KEY_B64	   "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define HASH_EMPTY "831154110e30ac6a"
#define AGENT_BODY                                                                                 \
	"{\"uuid\": \"" AGENT                                                                      \
	"\", \"name\": \"a\", \"capabilities\": {\"capabilities\": [\"demo_vm\"]}, "               \
	"\"facts\": {\"facts\": []}, \"node\": \"" NODE "\", \"status\": \"ACTIVE\"}"

/* A client connection: the socket and a line reader over it. */
typedef struct {
	GSocketConnection *conn;
	GDataInputStream *in;
} Client;

static void
client_free(Client *c)
{
	if (c == NULL)
		return;
	g_clear_object(&c->in);
	if (c->conn != NULL)
		g_io_stream_close(G_IO_STREAM(c->conn), NULL, NULL);
	g_clear_object(&c->conn);
	g_free(c);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Client, client_free)

/* A connection from @from (an address of 127/8), or any. */
static Client *
client_open_from(guint port, const gchar *from)
{
	g_autoptr(GSocketClient) sc = g_socket_client_new();
	g_autoptr(GError) error = NULL;
	Client *c = g_new0(Client, 1);

	if (from != NULL) {
		g_autoptr(GInetAddress) ip = g_inet_address_new_from_string(from);
		g_autoptr(GSocketAddress) local = g_inet_socket_address_new(ip, 0);

		g_socket_client_set_local_address(sc, local);
	}
	c->conn = g_socket_client_connect_to_host(sc, "127.0.0.1", (guint16)port, NULL, &error);
	g_assert_no_error(error);
	/* a host that never answers fails the test instead of hanging it */
	g_socket_set_timeout(g_socket_connection_get_socket(c->conn), 10);
	c->in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(c->conn)));
	return c;
}

static Client *
client_open(guint port)
{
	return client_open_from(port, NULL);
}

static gboolean
client_send(Client *c, const gchar *text)
{
	return g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(c->conn)),
					 text,
					 strlen(text),
					 NULL,
					 NULL,
					 NULL);
}

/* Reads one response (headers, then a Content-Length body); its status, 0 on EOF. */
static guint
client_read(Client *c, gchar **out_retry_after)
{
	g_autofree gchar *status = g_data_input_stream_read_line(c->in, NULL, NULL, NULL);
	guint64 length = 0;

	if (status == NULL || !g_str_has_prefix(status, "HTTP/1.1 "))
		return 0;
	for (;;) {
		g_autofree gchar *line = g_data_input_stream_read_line(c->in, NULL, NULL, NULL);

		g_assert_nonnull(line);
		g_strchomp(line);
		if (*line == '\0')
			break;
		if (g_ascii_strncasecmp(line, "Content-Length:", 15) == 0)
			length = g_ascii_strtoull(line + 15, NULL, 10);
		if (out_retry_after != NULL && g_ascii_strncasecmp(line, "Retry-After:", 12) == 0)
			*out_retry_after = g_strdup(g_strstrip(line + 12));
	}
	if (length > 0)
		g_assert_true(g_input_stream_skip(G_INPUT_STREAM(c->in), length, NULL, NULL) ==
			      (gssize)length);
	return (guint)g_ascii_strtoull(status + 9, NULL, 10);
}

/* Seconds from @start until the host closes @c (a read returns end of
 * stream), -1 if it does not. */
static gdouble
seconds_to_close(Client *c, gint64 start)
{
	gchar buf[256];
	gssize n;

	while ((n = g_input_stream_read(G_INPUT_STREAM(c->in), buf, sizeof(buf), NULL, NULL)) > 0)
		;
	if (n < 0)
		return -1; /* the 10 s socket timeout */
	return (gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
}

static guint
fd_count(void)
{
	g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
	guint n = 0;

	g_assert_nonnull(dir);
	while (g_dir_read_name(dir) != NULL)
		n++;
	return n;
}

/* Waits up to @timeout_s for the count to come back to @baseline; the seconds it took. */
static gdouble
wait_fds(guint baseline, gdouble timeout_s, guint *out_now)
{
	gint64 start = g_get_monotonic_time();
	gdouble elapsed = 0;

	while ((*out_now = fd_count()) > baseline && elapsed < timeout_s) {
		g_usleep(20000);
		elapsed = (gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
	}
	return elapsed;
}

static guint
port_of(const gchar *url)
{
	const gchar *colon = strrchr(url, ':');

	return (guint)g_ascii_strtoull(colon + 1, NULL, 10);
}

/* ------------------------------------------------------------------ descriptors */

static const gchar *const user_requests[] = {
	"GET /v1/ HTTP/1.1\r\nHost: a\r\n\r\n",	      /* 200 */
	"GET /v1/types/ HTTP/1.1\r\nHost: a\r\n\r\n", /* 401 */
	"GET /nope HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " EXH_TEST_TOKEN_OWNER
	"\r\n\r\n", /* 404 */
};
static const gchar ua_request[] = "GET /v1/agents/" AGENT " HTTP/1.1\r\nHost: a\r\n"
				  "X-Genesis-Node-UUID: " NODE "\r\n\r\n";

/* @n requests on their own connections, each closed by the client after its
 * answer, then @n answered keep-alive connections held open together and closed. */
static void
exercise(guint port, const gchar *const *requests, guint n_requests, guint n)
{
	g_autoptr(GPtrArray) idle = g_ptr_array_new_with_free_func((GDestroyNotify)client_free);

	for (guint i = 0; i < n; i++) {
		g_autoptr(Client) c = client_open(port);

		g_assert_true(client_send(c, requests[i % n_requests]));
		g_assert_cmpuint(client_read(c, NULL), >=, 200);
	}
	for (guint i = 0; i < n; i++) {
		Client *c = client_open(port);

		g_ptr_array_add(idle, c);
		g_assert_true(client_send(c, requests[i % n_requests]));
		g_assert_cmpuint(client_read(c, NULL), >=, 200);
	}
}

static void
test_fds_return(void)
{
	ExhTestOptions options = { .agent_api = TRUE, .plain_agents = TRUE };
	/* freed after the host: its connection is parked when the host stops */
	g_autoptr(Client) kept = NULL;
	g_autoptr(ExhTest) t = exh_test_new(&options);
	const guint n = 25;
	guint ports[3];
	guint baseline;
	guint now;
	guint open = 0;
	gdouble took;

	if (t == NULL)
		return;
	ports[0] = exh_host_get_port(t->host);
	ports[1] = port_of(exh_host_get_orch_url(t->host));
	ports[2] = port_of(exh_host_get_status_url(t->host));
	/* one round first: whatever the host opens once (its database connections) */
	exercise(ports[0], user_requests, G_N_ELEMENTS(user_requests), 3);
	exercise(ports[1], (const gchar *const[]){ ua_request }, 1, 1);
	exercise(ports[2], (const gchar *const[]){ ua_request }, 1, 1);
	wait_fds(0, 1.0, &baseline);
	baseline = fd_count();
	exercise(ports[0], user_requests, G_N_ELEMENTS(user_requests), n);
	exercise(ports[1], (const gchar *const[]){ ua_request }, 1, n);
	exercise(ports[2], (const gchar *const[]){ ua_request }, 1, n);
	took = wait_fds(baseline, 5.0, &now);
	exh_host_get_connections(t->host, &open, NULL);
	g_test_message("%u connections a listener closed by their clients: fds %u -> %u after "
		       "%.2f s (target: back to %u); host reports %u open",
		       2 * n,
		       baseline,
		       now,
		       took,
		       baseline,
		       open);
	g_assert_cmpuint(now, <=, baseline);
	/* an idle Orch connection left open as the host stops (the Orch API
	 * parks it): nothing leaks (valgrind) */
	kept = client_open(ports[1]);
	g_assert_true(client_send(kept, ua_request));
	g_assert_cmpuint(client_read(kept, NULL), >=, 200);
	g_usleep(100000);
}

/* ------------------------------------------------------------------ timeouts */

static ExhTest *
start_short(gboolean agent_api)
{
	ExhTestOptions options = {
		.agent_api = agent_api,
		.connections = { .header_timeout_ms = 500, .idle_timeout_ms = 1500 },
	};

	return exh_test_new(&options);
}

static void
assert_closed_after(Client *c, gint64 start, const gchar *what, gdouble min_s)
{
	gdouble s = seconds_to_close(c, start);

	g_test_message(
		"%s: closed by the host after %.2f s (target: %.1f s, bound 6 s)", what, s, min_s);
	g_assert_cmpfloat(s, >=, min_s * 0.8);
	g_assert_cmpfloat(s, <, 6.0);
}

static void
test_header_timeout(void)
{
	g_autoptr(ExhTest) t = start_short(TRUE);
	guint ports[2];

	if (t == NULL)
		return;
	ports[0] = exh_host_get_port(t->host);
	ports[1] = port_of(exh_host_get_orch_url(t->host));
	for (guint i = 0; i < G_N_ELEMENTS(ports); i++) {
		gint64 start = g_get_monotonic_time();
		g_autoptr(Client) silent = client_open(ports[i]);
		g_autoptr(Client) partial = client_open(ports[i]);

		g_assert_true(client_send(partial, "GET /v1/ HTTP/1.1\r\nHost: a\r\n"));
		assert_closed_after(silent,
				    start,
				    i == 0 ? "user API, nothing sent" : "Orch API, nothing sent",
				    0.5);
		assert_closed_after(partial,
				    start,
				    i == 0 ? "user API, half a header" : "Orch API, half a header",
				    0.5);
	}
}

static void
test_idle_timeout(void)
{
	g_autoptr(ExhTest) t = start_short(FALSE);
	g_autoptr(Client) c = NULL;

	if (t == NULL)
		return;
	c = client_open(exh_host_get_port(t->host));
	/* keep-alive works: two requests on one connection */
	g_assert_true(client_send(c, user_requests[0]));
	g_assert_cmpuint(client_read(c, NULL), ==, 200);
	g_usleep(300000);
	g_assert_true(client_send(c, user_requests[0]));
	g_assert_cmpuint(client_read(c, NULL), ==, 200);
	assert_closed_after(c, g_get_monotonic_time(), "user API, idle keep-alive", 1.5);
}

/* ------------------------------------------------------------------ caps */

/* One more connection, from @from: answered 503 with a Retry-After. */
static void
assert_refused(guint port, const gchar *from, const gchar *what)
{
	g_autoptr(Client) extra = client_open_from(port, from);
	g_autofree gchar *retry = NULL;

	client_send(extra, user_requests[0]);
	g_assert_cmpuint(client_read(extra, &retry), ==, 503);
	g_assert_cmpstr(retry, !=, NULL);
	g_test_message("%s: 503, Retry-After %s", what, retry);
}

static void
test_caps(void)
{
	ExhTestOptions options = { .connections = { .max_per_address = 3, .max_connections = 5 } };
	g_autoptr(ExhTest) t = exh_test_new(&options);
	g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func((GDestroyNotify)client_free);
	guint64 refused = 0;
	guint port;

	if (t == NULL)
		return;
	port = exh_host_get_port(t->host);
	for (guint i = 0; i < 3; i++)
		g_ptr_array_add(held, client_open_from(port, "127.0.0.1"));
	g_usleep(100000);
	assert_refused(port, "127.0.0.1", "4th connection of one address (cap 3)");
	for (guint i = 0; i < 2; i++)
		g_ptr_array_add(held, client_open_from(port, "127.0.0.2"));
	g_usleep(100000);
	assert_refused(port, "127.0.0.3", "6th connection of the listener (cap 5)");
	exh_host_get_connections(t->host, NULL, &refused);
	g_assert_cmpuint(refused, ==, 2);
	/* once they are gone the address is served again */
	g_ptr_array_set_size(held, 0);
	g_usleep(600000);
	{
		g_autoptr(Client) again = client_open(port);

		g_assert_true(client_send(again, user_requests[0]));
		g_assert_cmpuint(client_read(again, NULL), ==, 200);
	}
}

/* ------------------------------------------------------------------ long poll */

static void
sql(ExhTest *t, const gchar *text)
{
	g_free(exh_test_sql(t, text));
}

static void
test_long_poll_gone(void)
{
	/* one worker: its one database connection is open before the count */
	ExhTestOptions options = { .agent_api = TRUE, .workers = 1 };
	g_autoptr(ExhTest) t = exh_test_new(&options);
	static const gchar *const json_headers[] = {
		"X-Genesis-Node-UUID", NODE, "Content-Type", "application/json", NULL,
	};
	g_autoptr(Client) c = NULL;
	g_autoptr(ExhTestResponse) r = NULL;
	gchar *saved;
	guint baseline;
	guint now;
	gdouble took;

	if (t == NULL)
		return;
	sql(t,
	    "INSERT INTO ua_node_encryption_keys (uuid, private_key, encryption_disabled_until) "
	    "VALUES ('" NODE "', '" KEY_B64 "', 'infinity')");
	saved = t->base_url;
	t->base_url = (gchar *)exh_host_get_status_url(t->host);
	r = exh_test_request_full(
		t, "POST", "/v1/agents/", json_headers, AGENT_BODY, strlen(AGENT_BODY));
	t->base_url = saved;
	g_assert_cmpuint(r->status, ==, 201);
	baseline = fd_count();
	c = client_open(port_of(exh_host_get_orch_url(t->host)));
	g_assert_true(client_send(c,
				  "GET /v1/agents/" AGENT "/actions/get_payload?hash=" HASH_EMPTY
				  "&wait=10 HTTP/1.1\r\nHost: a\r\nX-Genesis-Node-UUID: " NODE
				  "\r\n\r\n"));
	/* parked: no answer yet */
	g_assert_false(g_socket_condition_timed_wait(
		g_socket_connection_get_socket(c->conn), G_IO_IN, 700000, NULL, NULL));
	g_clear_pointer(&c, client_free);
	took = wait_fds(baseline, 5.0, &now);
	g_test_message("parked get_payload whose client left: socket closed after %.2f s "
		       "(target: 1 s, bound 3 s); fds %u -> %u",
		       took,
		       baseline,
		       now);
	g_assert_cmpuint(now, <=, baseline);
	g_assert_cmpfloat(took, <, 3.0);
}

/* ------------------------------------------------------------------ vanishing */

static void
reset_on_close(Client *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	g_assert_cmpint(setsockopt(g_socket_get_fd(g_socket_connection_get_socket(c->conn)),
				   SOL_SOCKET,
				   SO_LINGER,
				   &lg,
				   sizeof(lg)),
			==,
			0);
}

/* Clients that connect and vanish (at once, after half a header, or with a
 * reset) and slow ones that never finish their header: the host's
 * descriptors come back to where they were, and a normal client is served
 * all along. */
static void
test_vanishing(void)
{
	ExhTestOptions options = { .connections = { .header_timeout_ms = 500 } };
	g_autoptr(ExhTest) t = exh_test_new(&options);
	g_autoptr(GPtrArray) slow = g_ptr_array_new_with_free_func((GDestroyNotify)client_free);
	guint port;
	guint baseline;
	guint now;
	gdouble took;

	if (t == NULL)
		return;
	port = exh_host_get_port(t->host);
	exercise(port, user_requests, 1, 1);
	baseline = fd_count();
	for (guint i = 0; i < 50; i++) {
		Client *c = client_open(port);

		g_assert_true(client_send(c, "GET /v1/ HTTP/1.1\r\nHost"));
		g_ptr_array_add(slow, c);
	}
	for (guint i = 0; i < 300; i++) {
		g_autoptr(Client) c = client_open(port);

		if (i % 3 == 1)
			client_send(c, "GET /v1/ HTTP/1.1\r\n");
		if (i % 3 == 2) /* linger 0: the close is a reset */
			reset_on_close(c);
		if (i % 50 == 0)
			exercise(port, user_requests, 1, 1);
	}
	/* the slow ones are closed by the host; the test's ends are closed here */
	for (guint i = 0; i < slow->len; i++)
		g_assert_cmpfloat(seconds_to_close(slow->pdata[i], g_get_monotonic_time()), >=, 0);
	g_ptr_array_set_size(slow, 0);
	took = wait_fds(baseline, 5.0, &now);
	g_test_message("300 vanishing and 50 slow clients: fds %u -> %u after %.2f s (target: "
		       "back to %u)",
		       baseline,
		       now,
		       took,
		       baseline);
	g_assert_cmpuint(now, <=, baseline);
}

/* ------------------------------------------------------------------ config */

static void
test_config(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("exh-conn-config");
	g_autofree gchar *path = g_build_filename(dir, "host.conf", NULL);
	g_autoptr(ExhHostConfig) config = exh_host_config_new();
	g_autoptr(GError) error = NULL;
	ExhListenerLimits huge = { .max_connections = 1000000 };

	g_assert_cmpuint(config->connections.header_timeout_ms, ==, 10000);
	g_assert_cmpuint(config->connections.idle_timeout_ms, ==, 60000);
	g_assert_cmpuint(config->connections.max_connections, ==, 4096);
	g_assert_cmpuint(config->connections.max_per_address, ==, 1024);
	g_assert_true(
		g_file_set_contents(path,
				    "[host]\nheader_timeout_ms = 1500\nidle_timeout_ms = 2500\n"
				    "max_connections = 300\nmax_connections_per_address = 30\n",
				    -1,
				    NULL));
	g_assert_true(exh_host_config_load_file(config, path, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(config->connections.header_timeout_ms, ==, 1500);
	g_assert_cmpuint(config->connections.idle_timeout_ms, ==, 2500);
	g_assert_cmpuint(config->connections.max_connections, ==, 300);
	g_assert_cmpuint(config->connections.max_per_address, ==, 30);
	/* the defaults fit under the open-file limit; a cap that cannot is refused */
	g_assert_true(exh_listener_check_fd_limit(3, NULL, &error));
	g_assert_no_error(error);
	g_assert_false(exh_listener_check_fd_limit(3, &huge, &error));
	g_assert_error(error, EXH_ERROR, EXH_ERROR_CONFIG);
	g_test_message("%s", error->message);
	exm_test_rmtree(dir);
}

/* ------------------------------------------------------------------ the listener alone
 *
 * Its SoupServer in this thread's main context and blocking clients in
 * another thread: an idle keep-alive connection holds no descriptor in the
 * context (one epoll set reports them all, docs/scale.md §4), so the loop
 * polls as many descriptors with 64 idle connections as with one; every idle
 * connection is still served its next request.
 */

#define N_IDLE	     64
#define IDLE_REQUEST "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"
#define MAX_FDS	     64

typedef struct {
	GMainContext *context;
	guint port;
	GPtrArray *conns; /* GSocketConnection */
	guint from;	  /* the round's connections: conns[from..] */
	gboolean until_eof;
	guint ok; /* answered 200, or closed by the host */
	gint done;
} Round;

static void
ok_handler(SoupServer *server,
	   SoupServerMessage *msg,
	   const char *path,
	   GHashTable *query,
	   gpointer data)
{
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_server_message_set_response(msg, "text/plain", SOUP_MEMORY_STATIC, "ok", 2);
}

/* Reads a response to the end of its 2-byte body; %TRUE on a 200. */
static gboolean
read_answer(GSocketConnection *conn)
{
	GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
	g_autoptr(GString) text = g_string_new(NULL);
	gchar byte;

	while (!g_str_has_suffix(text->str, "\r\n\r\nok")) {
		if (g_input_stream_read(in, &byte, 1, NULL, NULL) != 1)
			return FALSE;
		g_string_append_c(text, byte);
	}
	return g_str_has_prefix(text->str, "HTTP/1.1 200 ");
}

static gboolean
read_eof(GSocketConnection *conn)
{
	gchar buf[64];

	return g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(conn)),
				   buf,
				   sizeof(buf),
				   NULL,
				   NULL) == 0;
}

static gboolean
ask(GSocketConnection *conn)
{
	return g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(conn)),
					 IDLE_REQUEST,
					 strlen(IDLE_REQUEST),
					 NULL,
					 NULL,
					 NULL) &&
	       read_answer(conn);
}

static gpointer
client_round(gpointer data)
{
	Round *round = data;

	for (guint i = round->from; i < round->conns->len; i++) {
		GSocketConnection *conn = g_ptr_array_index(round->conns, i);

		if (round->until_eof ? read_eof(conn) : ask(conn))
			round->ok++;
	}
	g_atomic_int_set(&round->done, 1);
	g_main_context_wakeup(round->context);
	return NULL;
}

/* Opens connections up to @total, then runs the round's clients while the
 * loop serves them. */
static guint
run_round(Round *round, guint total, gboolean until_eof)
{
	g_autoptr(GSocketClient) client = g_socket_client_new();
	GThread *thread;

	round->from = until_eof ? 0 : round->conns->len;
	if (round->from == total)
		round->from = 0; /* the same connections again */
	while (round->conns->len < total) {
		g_autoptr(GError) error = NULL;
		GSocketConnection *conn = g_socket_client_connect_to_host(
			client, "127.0.0.1", (guint16)round->port, NULL, &error);

		g_assert_no_error(error);
		/* a host that never answers fails the test instead of hanging it */
		g_socket_set_timeout(g_socket_connection_get_socket(conn), 10);
		g_ptr_array_add(round->conns, conn);
	}
	round->until_eof = until_eof;
	round->ok = 0;
	g_atomic_int_set(&round->done, 0);
	thread = g_thread_new("client", client_round, round);
	while (!g_atomic_int_get(&round->done))
		g_main_context_iteration(round->context, TRUE);
	g_thread_join(thread);
	return round->ok;
}

/* The descriptors the context polls, at every priority. */
static gint
loop_fds(GMainContext *context)
{
	GPollFD fds[MAX_FDS];
	gint priority;
	gint timeout;
	gint n;

	g_assert_true(g_main_context_acquire(context));
	g_main_context_prepare(context, &priority);
	n = g_main_context_query(context, G_MAXINT, &timeout, fds, MAX_FDS);
	g_main_context_check(context, G_MAXINT, fds, MIN(n, MAX_FDS));
	g_main_context_dispatch(context);
	g_main_context_release(context);
	return n;
}

static void
test_idle_epoll(void)
{
	g_autoptr(GMainContext) context = g_main_context_new();
	g_autoptr(SoupServer) server = NULL;
	g_autoptr(ExhListener) listener = NULL;
	g_autoptr(GSocketAddress) address = g_inet_socket_address_new_from_string("127.0.0.1", 0);
	g_autoptr(GPtrArray) conns = g_ptr_array_new_with_free_func(g_object_unref);
	g_autoptr(GError) error = NULL;
	Round round = { .context = context, .conns = conns };
	gint one;

	g_main_context_push_thread_default(context);
	server = soup_server_new(NULL, NULL);
	soup_server_add_handler(server, NULL, ok_handler, NULL, NULL);
	listener = exh_listener_new(server, "test", NULL);
	round.port = exh_listener_listen(listener, address, &error);
	g_assert_no_error(error);

	g_assert_cmpuint(run_round(&round, 1, FALSE), ==, 1);
	one = loop_fds(context);
	g_assert_cmpuint(run_round(&round, 1 + N_IDLE, FALSE), ==, N_IDLE);
	g_assert_cmpuint(exh_listener_get_open(listener), ==, 1 + N_IDLE);
	/* before the epoll set, each idle connection polled its socket twice
	 * (libsoup's source for the next request and the listener's watch) */
	g_assert_cmpint(loop_fds(context), ==, one);

	/* every idle connection is served its next request */
	g_assert_cmpuint(run_round(&round, 1 + N_IDLE, FALSE), ==, 1 + N_IDLE);
	/* and closed with the listener (the idle timeout: /conn/idle-timeout) */
	exh_listener_close(listener);
	g_assert_cmpuint(exh_listener_get_open(listener), ==, 0);
	g_assert_cmpuint(run_round(&round, 1 + N_IDLE, TRUE), ==, 1 + N_IDLE);
	g_main_context_pop_thread_default(context);
}

/* ------------------------------------------------------------------ parking
 *
 * A listener that parks (exh_listener_set_park_idle()) takes an idle
 * keep-alive connection back from libsoup until its next request: nothing of
 * libsoup's waits on it (no line stream waiter), the next request is answered
 * on the same connection, cycle after cycle; a client leaving while parked,
 * the idle timeout and the listener's close free it; pipelined requests are
 * both answered; the caps count parked connections.
 */

#define PARK_CYCLES 40

/* Iterates @context until @listener has @parked parked and @open open
 * connections (bounded: a listener that never gets there fails). */
static gboolean
wait_listener(GMainContext *context, ExhListener *listener, guint parked, guint open)
{
	for (guint i = 0; i < 5000; i++) {
		if (exh_listener_get_parked(listener) == parked &&
		    exh_listener_get_open(listener) == open)
			return TRUE;
		if (!g_main_context_iteration(context, FALSE))
			g_usleep(1000);
	}
	g_test_message("listener: %u parked, %u open (waited for %u and %u)",
		       exh_listener_get_parked(listener),
		       exh_listener_get_open(listener),
		       parked,
		       open);
	return FALSE;
}

typedef struct {
	GMainContext *context;
	SoupServer *server;
	ExhListener *listener;
	Round round;
	GPtrArray *conns;
} Parking;

static void
parking_start(Parking *p, const ExhListenerLimits *limits)
{
	g_autoptr(GSocketAddress) address = g_inet_socket_address_new_from_string("127.0.0.1", 0);
	g_autoptr(GError) error = NULL;

	p->context = g_main_context_new();
	g_main_context_push_thread_default(p->context);
	p->server = soup_server_new(NULL, NULL);
	soup_server_add_handler(p->server, NULL, ok_handler, NULL, NULL);
	p->listener = exh_listener_new(p->server, "test", limits);
	exh_listener_set_park_idle(p->listener, TRUE);
	p->conns = g_ptr_array_new_with_free_func(g_object_unref);
	p->round = (Round){ .context = p->context, .conns = p->conns };
	p->round.port = exh_listener_listen(p->listener, address, &error);
	g_assert_no_error(error);
}

static void
parking_stop(Parking *p)
{
	exh_listener_close(p->listener);
	g_assert_cmpuint(exh_listener_get_open(p->listener), ==, 0);
	g_assert_cmpuint(exh_listener_get_parked(p->listener), ==, 0);
	g_clear_pointer(&p->listener, exh_listener_free);
	g_clear_pointer(&p->conns, g_ptr_array_unref);
	g_clear_object(&p->server);
	/* what libsoup left to run once its connections went */
	while (g_main_context_iteration(p->context, FALSE))
		;
	g_main_context_pop_thread_default(p->context);
	g_clear_pointer(&p->context, g_main_context_unref);
}

/* A client's steps in another thread while the loop serves: its result. */
typedef struct {
	GThreadFunc func;
	gpointer data;
	gpointer result;
	GMainContext *context;
	gint done;
} Job;

static gpointer
job_run(gpointer data)
{
	Job *job = data;

	job->result = job->func(job->data);
	g_atomic_int_set(&job->done, 1);
	g_main_context_wakeup(job->context);
	return NULL;
}

static gboolean
serve_while(GMainContext *context, GThreadFunc func, gpointer data)
{
	Job job = { .func = func, .data = data, .context = context };
	GThread *thread = g_thread_new("client", job_run, &job);

	while (!g_atomic_int_get(&job.done))
		g_main_context_iteration(context, TRUE);
	g_thread_join(thread);
	return GPOINTER_TO_INT(job.result);
}

/* Two requests in one write on @conn: both answered. */
static gpointer
pipelined(gpointer data)
{
	GSocketConnection *conn = data;
	gboolean ok = g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(conn)),
						IDLE_REQUEST IDLE_REQUEST,
						2 * strlen(IDLE_REQUEST),
						NULL,
						NULL,
						NULL) &&
		      read_answer(conn) && read_answer(conn);

	return GINT_TO_POINTER(ok);
}

/* A request and the first bytes of the next one in one write, the rest of
 * it later: those bytes wait (in the line stream, or in libsoup once it has
 * read them, which must then keep the connection) while the loop parks; none
 * is lost, both requests are answered. */
static gpointer
split(gpointer data)
{
	GSocketConnection *conn = data;
	GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
	gsize half = 9; /* "GET /x HT" */
	gboolean ok = g_output_stream_write_all(out,
						IDLE_REQUEST IDLE_REQUEST,
						strlen(IDLE_REQUEST) + half,
						NULL,
						NULL,
						NULL) &&
		      read_answer(conn);

	g_usleep(200000); /* the loop has run its parking by now */
	ok = ok &&
	     g_output_stream_write_all(
		     out, IDLE_REQUEST + half, strlen(IDLE_REQUEST) - half, NULL, NULL, NULL) &&
	     read_answer(conn);
	return GINT_TO_POINTER(ok);
}

static gpointer
answered_eof(gpointer data)
{
	return GINT_TO_POINTER(read_eof(data));
}

static gpointer
asked(gpointer data)
{
	return GINT_TO_POINTER(ask(data));
}

static GSocketConnection *
park_connect(Parking *p)
{
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GError) error = NULL;
	GSocketConnection *conn = g_socket_client_connect_to_host(
		client, "127.0.0.1", (guint16)p->round.port, NULL, &error);

	g_assert_no_error(error);
	g_socket_set_timeout(g_socket_connection_get_socket(conn), 10);
	g_ptr_array_add(p->conns, conn);
	return conn;
}

static void
test_park_cycles(void)
{
	Parking p = { 0 };
	guint waiters = exh_line_stream_count_waiters();

	parking_start(&p, NULL);
	for (guint i = 0; i < PARK_CYCLES; i++) {
		g_assert_cmpuint(run_round(&p.round, 1, FALSE), ==, 1);
		g_assert_true(wait_listener(p.context, p.listener, 1, 1));
		/* nothing of libsoup's waits on it (its next message would) */
		g_assert_cmpuint(exh_line_stream_count_waiters(), ==, waiters);
	}
	/* one connection all along: the round reuses its one socket */
	g_assert_cmpuint(p.conns->len, ==, 1);

	/* many idle connections parked at once, every one served again */
	g_assert_cmpuint(run_round(&p.round, 1 + N_IDLE, FALSE), ==, N_IDLE);
	g_assert_true(wait_listener(p.context, p.listener, 1 + N_IDLE, 1 + N_IDLE));
	g_assert_cmpuint(exh_line_stream_count_waiters(), ==, waiters);
	g_assert_cmpuint(run_round(&p.round, 1 + N_IDLE, FALSE), ==, 1 + N_IDLE);
	g_assert_true(wait_listener(p.context, p.listener, 1 + N_IDLE, 1 + N_IDLE));
	/* closed with the listener while parked; every client sees the close */
	parking_stop(&p);
	g_assert_cmpuint(exh_line_stream_count_waiters(), ==, waiters);
}

static void
test_park_pipelined(void)
{
	Parking p = { 0 };
	GSocketConnection *conn;

	parking_start(&p, NULL);
	conn = park_connect(&p);
	/* on a new connection, then on a parked one, twice */
	for (guint i = 0; i < 3; i++) {
		g_assert_true(serve_while(p.context, pipelined, conn));
		g_assert_true(wait_listener(p.context, p.listener, 1, 1));
	}
	g_assert_true(serve_while(p.context, split, conn));
	g_assert_true(wait_listener(p.context, p.listener, 1, 1));
	g_assert_true(serve_while(p.context, asked, conn));
	parking_stop(&p);
}

/* Clients leaving while parked: their connections are freed, descriptors
 * and all. */
static void
test_park_gone(void)
{
	Parking p = { 0 };
	guint baseline;

	parking_start(&p, NULL);
	baseline = fd_count();
	for (guint i = 0; i < 3; i++)
		g_assert_true(serve_while(p.context, asked, park_connect(&p)));
	g_assert_true(wait_listener(p.context, p.listener, 3, 3));
	g_ptr_array_set_size(p.conns, 0); /* closes the client ends */
	g_assert_true(wait_listener(p.context, p.listener, 0, 0));
	g_assert_cmpuint(fd_count(), ==, baseline);
	parking_stop(&p);
}

/* A parked connection is closed after the idle timeout. */
static void
test_park_timeout(void)
{
	ExhListenerLimits limits = { .idle_timeout_ms = 1000 };
	Parking p = { 0 };
	GSocketConnection *conn;
	gint64 start;
	gdouble took;

	parking_start(&p, &limits);
	conn = park_connect(&p);
	g_assert_true(serve_while(p.context, asked, conn));
	g_assert_true(wait_listener(p.context, p.listener, 1, 1));
	start = g_get_monotonic_time();
	g_assert_true(serve_while(p.context, answered_eof, conn));
	took = (gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
	g_test_message("parked connection closed after %.2f s (idle timeout 1 s)", took);
	g_assert_cmpfloat(took, >=, 0.5);
	g_assert_true(wait_listener(p.context, p.listener, 0, 0));
	parking_stop(&p);
}

/* Parked connections count for the caps: one over them is refused. */
static void
test_park_caps(void)
{
	ExhListenerLimits limits = { .max_connections = 2 };
	Parking p = { 0 };
	GSocketConnection *extra;
	gchar status[13] = { 0 };

	parking_start(&p, &limits);
	for (guint i = 0; i < 2; i++)
		g_assert_true(serve_while(p.context, asked, park_connect(&p)));
	g_assert_true(wait_listener(p.context, p.listener, 2, 2));
	extra = park_connect(&p);
	while (exh_listener_get_refused(p.listener) == 0)
		g_main_context_iteration(p.context, TRUE);
	/* the refusal is written at the accept */
	g_assert_true(g_input_stream_read_all(g_io_stream_get_input_stream(G_IO_STREAM(extra)),
					      status,
					      sizeof(status) - 1,
					      NULL,
					      NULL,
					      NULL));
	g_assert_cmpstr(status, ==, "HTTP/1.1 503");
	/* the two parked ones are still served */
	for (guint i = 0; i < 2; i++)
		g_assert_true(serve_while(p.context, asked, g_ptr_array_index(p.conns, i)));
	parking_stop(&p);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/conn/fds-return", test_fds_return);
	g_test_add_func("/conn/header-timeout", test_header_timeout);
	g_test_add_func("/conn/idle-timeout", test_idle_timeout);
	g_test_add_func("/conn/caps", test_caps);
	g_test_add_func("/conn/long-poll-gone", test_long_poll_gone);
	g_test_add_func("/conn/vanishing", test_vanishing);
	g_test_add_func("/conn/config", test_config);
	g_test_add_func("/conn/idle-epoll", test_idle_epoll);
	g_test_add_func("/conn/park-cycles", test_park_cycles);
	g_test_add_func("/conn/park-pipelined", test_park_pipelined);
	g_test_add_func("/conn/park-gone", test_park_gone);
	g_test_add_func("/conn/park-timeout", test_park_timeout);
	g_test_add_func("/conn/park-caps", test_park_caps);
	return g_test_run();
}
