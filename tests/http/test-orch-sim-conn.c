/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The Orch load simulator's poll connections (orch-sim-conn.h) against a
 * scripted loopback server: answers kept alive, read in pieces, a request
 * sent again when the host closed a kept-alive connection as it arrived
 * (once, and never after a byte of the answer), answers it cannot use,
 * a refused connect, a stalled answer ended by the caller.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exm-test.h"
#include "orch-sim-conn.h"

typedef enum {
	ACT_REPLY,	 /* write the text, keep the connection */
	ACT_REPLY_SLOW,	 /* the same, a byte at a time */
	ACT_REPLY_CLOSE, /* write the text, then close */
	ACT_CLOSE,	 /* close without a byte */
	ACT_STALL,	 /* answer nothing until the client closes */
} Act;

typedef struct {
	Act act;
	const gchar *text;
} Step;

typedef struct {
	gint fd; /* listening */
	guint port;
	const Step *steps;
	guint n_steps;
	guint next;    /* the step for the next request */
	gint accepted; /* atomic */
	gint requests; /* atomic */
	GThread *thread;
} Server;

#define OK_ANSWER "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"

/* One request's head (and its Content-Length body) off @fd; %FALSE at the
 * end of the connection. */
static gboolean
server_read_request(gint fd)
{
	gchar buf[4096];
	gsize len = 0;

	while (len < sizeof(buf) - 1) {
		gssize n = recv(fd, buf + len, 1, 0);

		if (n <= 0)
			return FALSE;
		len += (gsize)n;
		buf[len] = '\0';
		if (g_str_has_suffix(buf, "\r\n\r\n"))
			return TRUE;
	}
	return FALSE;
}

static void
server_write(gint fd, const gchar *text, gboolean slow)
{
	gsize len = strlen(text);

	for (gsize off = 0; off < len;) {
		gssize n = send(fd, text + off, slow ? 1 : len - off, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		off += (gsize)n;
		if (slow)
			g_usleep(200);
	}
}

/* Serves one connection by the script; %FALSE when it closed it. */
static gboolean
server_step(Server *s, gint fd)
{
	const Step *step;
	gchar byte;

	if (!server_read_request(fd))
		return FALSE;
	g_atomic_int_inc(&s->requests);
	g_assert_cmpuint(s->next, <, s->n_steps);
	if (s->next >= s->n_steps)
		return FALSE;
	step = &s->steps[s->next++];
	switch (step->act) {
	case ACT_REPLY:
	case ACT_REPLY_SLOW:
		server_write(fd, step->text, step->act == ACT_REPLY_SLOW);
		return TRUE;
	case ACT_REPLY_CLOSE:
		server_write(fd, step->text, FALSE);
		return FALSE;
	case ACT_CLOSE:
		return FALSE;
	case ACT_STALL:
		while (recv(fd, &byte, 1, 0) > 0)
			;
		return FALSE;
	}
	return FALSE;
}

static gpointer
server_main(gpointer data)
{
	Server *s = data;

	for (;;) {
		gint fd = accept(s->fd, NULL, NULL);

		if (fd < 0)
			return NULL;
		g_atomic_int_inc(&s->accepted);
		while (server_step(s, fd))
			;
		close(fd);
		if (s->next == s->n_steps)
			return NULL;
	}
}

static Server *
server_start(const Step *steps, guint n_steps)
{
	Server *s = g_new0(Server, 1);
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);

	s->steps = steps;
	s->n_steps = n_steps;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(s->fd, >=, 0);
	g_assert_cmpint(bind(s->fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
	g_assert_cmpint(listen(s->fd, 8), ==, 0);
	g_assert_cmpint(getsockname(s->fd, (struct sockaddr *)&addr, &len), ==, 0);
	s->port = ntohs(addr.sin_port);
	s->thread = g_thread_new("conn-server", server_main, s);
	return s;
}

/* Joins the server: at the end of its script, or at once when a failed
 * assertion (not fatal here) left it waiting for a connection. */
static void
server_stop(Server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	g_thread_join(s->thread);
	close(s->fd);
	g_free(s);
}

typedef struct {
	guint calls;
	guint status;
	gchar *body;
	GError *error;
	gboolean answered;
} Result;

static void
result_clear(Result *r)
{
	g_clear_pointer(&r->body, g_free);
	g_clear_error(&r->error);
	r->answered = FALSE;
	r->status = 0;
}

static void
on_done(guint status,
	SoupMessageHeaders *headers,
	gchar *body,
	gsize len,
	const GError *error,
	gpointer data)
{
	Result *r = data;

	r->calls++;
	r->answered = TRUE;
	r->status = status;
	g_free(r->body);
	r->body = body;
	if (error != NULL)
		r->error = g_error_copy(error);
	else
		g_assert_cmpuint(strlen(body), ==, len);
	g_assert_true((headers != NULL) == (error == NULL));
}

/* Runs the context until @r's request ended (at most 10 s). */
static void
wait_done(GMainContext *context, Result *r)
{
	gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

	while (!r->answered && g_get_monotonic_time() < deadline)
		g_main_context_iteration(context, FALSE);
	g_assert_true(r->answered);
}

/* Sends one request and waits for its end. */
static void
exchange(GMainContext *context, OrchSimConn *conn, Result *r)
{
	g_autoptr(GBytes) req = g_bytes_new_static("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);

	result_clear(r);
	orch_sim_conn_send(conn, req);
	wait_done(context, r);
}

typedef struct {
	GMainContext *context;
	OrchSimPoller *poller;
	Result result;
	OrchSimConn *conn;
	Server *server;
} Fixture;

static void
fixture_start(Fixture *f, const Step *steps, guint n_steps)
{
	g_autoptr(GError) error = NULL;

	f->context = g_main_context_new();
	g_main_context_push_thread_default(f->context);
	f->poller = orch_sim_poller_new(f->context, &error);
	g_assert_no_error(error);
	f->server = steps != NULL ? server_start(steps, n_steps) : NULL;
	f->conn = orch_sim_conn_new(
		f->poller, f->server != NULL ? f->server->port : 0, on_done, &f->result);
}

static void
fixture_stop(Fixture *f)
{
	orch_sim_conn_free(f->conn);
	if (f->server != NULL)
		server_stop(f->server);
	orch_sim_poller_free(f->poller);
	while (g_main_context_iteration(f->context, FALSE))
		;
	g_main_context_pop_thread_default(f->context);
	g_main_context_unref(f->context);
	result_clear(&f->result);
}

static void
test_keep_alive(void)
{
	const Step steps[] = {
		{ ACT_REPLY, OK_ANSWER },
		{ ACT_REPLY_SLOW, OK_ANSWER },
		{ ACT_REPLY_CLOSE,
		  "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno" },
	};
	Fixture f = { 0 };

	fixture_start(&f, steps, G_N_ELEMENTS(steps));
	exchange(f.context, f.conn, &f.result);
	g_assert_no_error(f.result.error);
	g_assert_cmpuint(f.result.status, ==, 200);
	g_assert_cmpstr(f.result.body, ==, "hello");
	g_assert_true(orch_sim_conn_is_open(f.conn));
	/* a byte at a time, on the same connection */
	exchange(f.context, f.conn, &f.result);
	g_assert_no_error(f.result.error);
	g_assert_cmpstr(f.result.body, ==, "hello");
	exchange(f.context, f.conn, &f.result);
	g_assert_no_error(f.result.error);
	g_assert_cmpuint(f.result.status, ==, 404);
	g_assert_cmpstr(f.result.body, ==, "no");
	g_assert_false(orch_sim_conn_is_open(f.conn));
	g_assert_cmpuint(f.result.calls, ==, 3);
	fixture_stop(&f);
	g_assert_cmpuint(f.result.calls, ==, 3);
}

/* The host closed a kept-alive connection as the request arrived: sent again
 * on a new one; a second such close in a row fails the request. */
static void
test_resend(void)
{
	const Step steps[] = {
		{ ACT_REPLY, OK_ANSWER }, { ACT_CLOSE, NULL }, { ACT_REPLY, OK_ANSWER },
		{ ACT_CLOSE, NULL },	  { ACT_CLOSE, NULL },
	};
	Fixture f = { 0 };

	fixture_start(&f, steps, G_N_ELEMENTS(steps));
	exchange(f.context, f.conn, &f.result);
	g_assert_no_error(f.result.error);
	exchange(f.context, f.conn, &f.result);
	g_assert_no_error(f.result.error);
	g_assert_cmpstr(f.result.body, ==, "hello");
	g_assert_cmpuint(f.result.calls, ==, 2);
	exchange(f.context, f.conn, &f.result);
	g_assert_error(f.result.error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT);
	g_assert_cmpuint(f.result.calls, ==, 3);
	g_assert_false(orch_sim_conn_is_open(f.conn));
	/* the first connection, the second after its close, the third for
	 * the request sent again */
	g_assert_cmpint(g_atomic_int_get(&f.server->accepted), ==, 3);
	g_assert_cmpint(g_atomic_int_get(&f.server->requests), ==, 5);
	fixture_stop(&f);
}

/* Bytes of the answer came before the close: no second try. */
static void
test_cut_answer(void)
{
	const Step steps[] = {
		{ ACT_REPLY, OK_ANSWER },
		{ ACT_REPLY_CLOSE, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nhal" },
	};
	Fixture f = { 0 };

	fixture_start(&f, steps, G_N_ELEMENTS(steps));
	exchange(f.context, f.conn, &f.result);
	g_assert_no_error(f.result.error);
	exchange(f.context, f.conn, &f.result);
	g_assert_error(f.result.error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT);
	g_assert_null(f.result.body);
	fixture_stop(&f);
	g_assert_cmpuint(f.result.calls, ==, 2);
}

/* Answers the simulator cannot use are errors, and the connection is closed. */
static void
test_unusable(void)
{
	const Step steps[] = {
		{ ACT_REPLY,
		  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" },
		{ ACT_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhello" },
		{ ACT_REPLY, "SMTP/1.0 banner\r\n\r\n" },
	};
	Fixture f = { 0 };

	fixture_start(&f, steps, G_N_ELEMENTS(steps));
	for (guint i = 0; i < G_N_ELEMENTS(steps); i++) {
		exchange(f.context, f.conn, &f.result);
		g_assert_error(f.result.error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
		g_assert_false(orch_sim_conn_is_open(f.conn));
	}
	fixture_stop(&f);
	g_assert_cmpuint(f.result.calls, ==, 3);
}

/* A loopback port nobody listens on (bound, then closed). */
static guint
closed_port(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	gint fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&addr, &len), ==, 0);
	close(fd);
	return ntohs(addr.sin_port);
}

static void
test_refused(void)
{
	Fixture f = { 0 };

	fixture_start(&f, NULL, 0);
	orch_sim_conn_free(f.conn);
	f.conn = orch_sim_conn_new(f.poller, closed_port(), on_done, &f.result);
	exchange(f.context, f.conn, &f.result);
	g_assert_error(f.result.error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
	g_assert_false(orch_sim_conn_is_open(f.conn));
	fixture_stop(&f);
}

/* A stalled answer ends when the caller says so (its timeout), once. */
static void
test_stall(void)
{
	const Step steps[] = {
		{ ACT_STALL, NULL },
	};
	Fixture f = { 0 };
	g_autoptr(GBytes) req = g_bytes_new_static("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
	g_autoptr(GError) timeout = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "late");
	gint64 until;

	fixture_start(&f, steps, G_N_ELEMENTS(steps));
	orch_sim_conn_send(f.conn, req);
	until = g_get_monotonic_time() + 100 * 1000;
	while (g_get_monotonic_time() < until)
		g_main_context_iteration(f.context, FALSE);
	g_assert_false(f.result.answered);
	orch_sim_conn_fail(f.conn, timeout);
	g_assert_error(f.result.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
	g_assert_false(orch_sim_conn_is_open(f.conn));
	orch_sim_conn_fail(f.conn, timeout);
	g_assert_cmpuint(f.result.calls, ==, 1);
	fixture_stop(&f);
	g_assert_cmpuint(f.result.calls, ==, 1);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/orch-sim/conn/keep-alive", test_keep_alive);
	g_test_add_func("/orch-sim/conn/resend", test_resend);
	g_test_add_func("/orch-sim/conn/cut-answer", test_cut_answer);
	g_test_add_func("/orch-sim/conn/unusable", test_unusable);
	g_test_add_func("/orch-sim/conn/refused", test_refused);
	g_test_add_func("/orch-sim/conn/stall", test_stall);
	return g_test_run();
}
