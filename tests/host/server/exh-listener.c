/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * One listening socket and its connections (exh-listener.h).  A connection is
 * found again from libsoup's messages by its remote address: the very object
 * handed to soup_server_accept_iostream(), which libsoup keeps for as long as
 * the connection's messages live.  Every connection's socket is in one
 * edge-triggered epoll set, the only descriptor the main context polls for
 * them while they wait to read (a write that would block still polls its
 * socket): its events drive the listener's watches and wake the line
 * stream's sources (exh_line_stream_poll_externally()).
 *
 * A listener that parks (exh_listener_set_park_idle()) takes an idle
 * keep-alive connection back from libsoup between two requests: libsoup 3.2
 * creates the next message (headers, bodies, its I/O data) and attaches its
 * sources as soon as a response is finished, and keeps them for the whole
 * wait.  Parked, the connection is its socket in the epoll set and its Conn;
 * the next request's first byte hands the listener's own stream (never the
 * stolen wrapper, so the chain of streams does not grow) to
 * soup_server_accept_iostream() again.
 */
#include "exh-listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "exh-error.h"
#include "exh-line-stream.h"
#include "exh-log.h"
#include "exm-error.h"
#include "exm-secret.h"

#define LISTEN_BACKLOG 1024
#define SWEEP_MS       250
#define ACCEPT_BATCH   64
/* a refused client gets this long to read its 503 before the socket closes */
#define REFUSE_LINGER_MS 1000
#define MAX_REFUSING	 64
#define RETRY_AFTER_S	 2
#define EMFILE_PAUSE_MS	 200
#define EPOLL_BATCH	 256

typedef enum {
	STATE_HEADER,	/* waiting for a complete request header */
	STATE_IDLE,	/* keep-alive, between two requests */
	STATE_BODY,	/* header read, body arriving */
	STATE_SERVING,	/* request read, being answered */
	STATE_REFUSING, /* over a cap: 503 written, draining */
	STATE_PARKED,	/* idle, taken back from libsoup (exh_listener_set_park_idle()) */
} State;

typedef struct {
	ExhListener *listener;
	GSocket *socket;
	GIOStream *stream;
	GSocketAddress *remote; /* the key in listener->conns */
	GSocketAddress *local;
	gchar *address;
	State state;
	gint64 deadline; /* monotonic µs, 0 = none */
	gint fd;
	/* wants the next readable event (no source of its own: the listener's
	 * epoll, edge-triggered, reports every connection's socket) */
	gboolean watching;
	SoupServerMessage *msg; /* weak */
	guint messages;		/* started on this connection */
	/* parking: the finished message, whose connection is stolen from the
	 * loop, and the bytes the line stream had handed to libsoup then */
	SoupServerMessage *finished;
	guint64 handed_at_finish;
} Conn;

struct _ExhListener {
	SoupServer *server;
	gchar *name;
	ExhListenerLimits limits;
	GMainContext *context;
	GSocket *socket;
	GSource *accept_source;
	GSource *pause_source;
	GSource *sweep_source;
	/* every connection's socket, edge-triggered; one source in the context
	 * for all of them, so an idle connection adds no descriptor to the
	 * loop's poll() and no source of the listener's (docs/scale.md §4) */
	gint epfd;
	GSource *epoll_source;
	GPtrArray *by_fd;	 /* descriptor → Conn* (NULL) */
	GArray *to_check;	 /* descriptors whose watch began with the socket maybe readable */
	GArray *to_park;	 /* descriptors whose response finished (park_idle) */
	GSocket *pair[2];	 /* keeps the server's keep-alive on (see inert_listener) */
	GHashTable *conns;	 /* GSocketAddress* → Conn* */
	GHashTable *per_address; /* address → count */
	guint refusing;
	gint n_open;  /* atomic */
	gint refused; /* atomic */
	guint unlogged;
	gint64 last_log;
	ExhListenerGoneFunc gone;
	gpointer gone_data;
	gboolean closed;
	gboolean park_idle;
	gint n_parked; /* atomic */
};

/* ------------------------------------------------------------- connections */

static void
conn_set_msg(Conn *conn, SoupServerMessage *msg)
{
	if (conn->msg != NULL)
		g_object_remove_weak_pointer(G_OBJECT(conn->msg), (gpointer *)&conn->msg);
	conn->msg = msg;
	if (msg != NULL)
		g_object_add_weak_pointer(G_OBJECT(msg), (gpointer *)&conn->msg);
}

static void
conn_unwatch(Conn *conn)
{
	conn->watching = FALSE;
}

static void
address_count(ExhListener *listener, const gchar *address, gint delta)
{
	guint n = GPOINTER_TO_UINT(g_hash_table_lookup(listener->per_address, address));

	n = (guint)((gint)n + delta);
	if (n == 0)
		g_hash_table_remove(listener->per_address, address);
	else
		g_hash_table_replace(listener->per_address, g_strdup(address), GUINT_TO_POINTER(n));
}

/* Out of the epoll set and the descriptor table; a descriptor libsoup closed
 * may be another connection's already. */
static void
conn_forget_fd(Conn *conn)
{
	ExhListener *listener = conn->listener;

	if (!g_socket_is_closed(conn->socket))
		epoll_ctl(listener->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
	if ((guint)conn->fd < listener->by_fd->len &&
	    g_ptr_array_index(listener->by_fd, conn->fd) == conn)
		g_ptr_array_index(listener->by_fd, conn->fd) = NULL;
}

/* The table's value destructor: closes the socket (if libsoup has not). */
static void
conn_free(gpointer data)
{
	Conn *conn = data;
	ExhListener *listener = conn->listener;

	conn_unwatch(conn);
	conn_set_msg(conn, NULL);
	conn_forget_fd(conn);
	g_clear_object(&conn->finished);
	if (conn->state == STATE_PARKED)
		g_atomic_int_add(&listener->n_parked, -1);
	if (conn->state == STATE_REFUSING)
		listener->refusing--;
	else
		address_count(listener, conn->address, -1);
	g_atomic_int_add(&listener->n_open, -1);
	if (!g_socket_is_closed(conn->socket))
		g_socket_shutdown(conn->socket, TRUE, TRUE, NULL);
	if (conn->stream != NULL)
		g_io_stream_close(conn->stream, NULL, NULL);
	g_socket_close(conn->socket, NULL);
	g_clear_object(&conn->stream);
	g_object_unref(conn->socket);
	g_object_unref(conn->remote);
	g_clear_object(&conn->local);
	g_free(conn->address);
	g_free(conn);
}

static void
conn_close(Conn *conn)
{
	g_hash_table_remove(conn->listener->conns, conn->remote);
}

static Conn *
conn_of(ExhListener *listener, SoupServerMessage *msg)
{
	GSocketAddress *remote = soup_server_message_get_remote_address(msg);

	return remote != NULL ? g_hash_table_lookup(listener->conns, remote) : NULL;
}

/* The client went away: close, then tell the owner of a request in progress. */
static void
conn_gone(Conn *conn)
{
	ExhListener *listener = conn->listener;
	gboolean serving = conn->state == STATE_BODY || conn->state == STATE_SERVING;
	g_autoptr(SoupServerMessage) msg = conn->msg != NULL ? g_object_ref(conn->msg) : NULL;

	conn_close(conn);
	if (serving && msg != NULL && listener->gone != NULL)
		listener->gone(msg, listener->gone_data);
}

/* One byte peeked, never waiting: >0 data, 0 end of stream, -1 nothing yet, -2 error. */
static gssize
conn_peek(Conn *conn)
{
	gchar byte;
	gssize n;

	do
		n = recv(conn->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
}

/* A refused connection: whatever the client sends is read and dropped, to
 * the end (the epoll is edge-triggered). */
static void
refusing_readable(Conn *conn)
{
	gchar buf[4096];
	g_autoptr(GError) error = NULL;
	gssize n;

	while ((n = g_socket_receive_with_blocking(
			conn->socket, buf, sizeof(buf), FALSE, NULL, &error)) > 0)
		;
	if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
		return;
	conn_close(conn);
}

static void
conn_enter(Conn *conn, State state, guint timeout_ms)
{
	conn->state = state;
	conn->deadline = timeout_ms > 0 ? g_get_monotonic_time() + (gint64)timeout_ms * 1000 : 0;
}

/* The next request's first byte: libsoup gets the listener's own stream
 * again and reads it as a new connection's (its first message is started at
 * once, request_started()).  The header timeout runs from here. */
static void
conn_unpark(Conn *conn)
{
	ExhListener *listener = conn->listener;
	g_autoptr(GError) error = NULL;

	g_atomic_int_add(&listener->n_parked, -1);
	conn->watching = FALSE;
	conn_enter(conn, STATE_HEADER, listener->limits.header_timeout_ms);
	if (!soup_server_accept_iostream(
		    listener->server, conn->stream, conn->local, conn->remote, &error)) {
		exh_log(G_LOG_LEVEL_MESSAGE, NULL, "%s: %s", listener->name, error->message);
		conn_close(conn);
	}
}

/* A parked connection's event: a request begins, or the client left (libsoup
 * holds nothing of it: closing frees all). */
static void
parked_readable(Conn *conn)
{
	gssize n = conn_peek(conn);

	if (n == -1)
		return;
	if (n > 0)
		conn_unpark(conn);
	else
		conn_close(conn);
}

/* The socket of a watched connection may be readable, or hung up. */
static void
conn_readable(Conn *conn)
{
	gssize n;

	if (!conn->watching)
		return;
	if (conn->state == STATE_REFUSING) {
		refusing_readable(conn);
		return;
	}
	if (conn->state == STATE_PARKED) {
		parked_readable(conn);
		return;
	}
	if (g_socket_is_closed(conn->socket)) {
		conn_close(conn); /* libsoup closed it */
		return;
	}
	n = conn_peek(conn);
	if (n == -1)
		return; /* nothing yet: still watching */
	conn->watching = FALSE;
	if (n == 0 || n == -2) {
		conn_gone(conn);
		return;
	}
	/* bytes (or libsoup read them first): a request begins */
	if (conn->state == STATE_IDLE) {
		conn->state = STATE_HEADER;
		conn->deadline = g_get_monotonic_time() +
				 (gint64)conn->listener->limits.header_timeout_ms * 1000;
	}
}

/*
 * Watches for the next readable event.  What came while nobody watched made
 * its edge already: a socket that may hold something is looked at from the
 * loop (never from inside libsoup's signal, which must not see its
 * connection closed), by the listener's source.
 */
static void
conn_watch(Conn *conn)
{
	if (conn->watching)
		return;
	conn->watching = TRUE;
	if (conn->stream == NULL || exh_line_stream_maybe_readable(EXH_LINE_STREAM(conn->stream)))
		g_array_append_val(conn->listener->to_check, conn->fd);
}

/* ------------------------------------------------------------- libsoup's signals */

static void
got_headers(SoupServerMessage *msg, gpointer data)
{
	Conn *conn = conn_of(data, msg);

	if (conn == NULL)
		return;
	conn_unwatch(conn);
	conn_enter(conn, STATE_BODY, conn->listener->limits.idle_timeout_ms);
	exh_line_stream_set_whole(
		EXH_LINE_STREAM(conn->stream),
		soup_message_headers_get_encoding(soup_server_message_get_request_headers(msg)) ==
			SOUP_ENCODING_CONTENT_LENGTH);
}

static void
got_chunk(SoupServerMessage *msg, GBytes *chunk, gpointer data)
{
	Conn *conn = conn_of(data, msg);

	if (conn != NULL && conn->state == STATE_BODY)
		conn_enter(conn, STATE_BODY, conn->listener->limits.idle_timeout_ms);
}

/* Answered: keep-alive until the next request's first byte (libsoup 3.2 starts
 * its next message only then) or the idle timeout; end of stream closes it. */
static void
finished(SoupServerMessage *msg, gpointer data)
{
	Conn *conn = conn_of(data, msg);

	if (conn == NULL)
		return;
	conn_enter(conn, STATE_IDLE, conn->listener->limits.idle_timeout_ms);
	/* the watch begun at got-body (or at the accept) goes on: the same
	 * readable event, which conn_readable() handles in either state */
	conn_watch(conn);
	if (conn->listener->park_idle) {
		/* parked from the loop: libsoup's connection cannot be stolen
		 * from inside its own completion (its next message is made
		 * after this signal returns) */
		g_set_object(&conn->finished, msg);
		conn->handed_at_finish = exh_line_stream_get_handed(EXH_LINE_STREAM(conn->stream));
		g_array_append_val(conn->listener->to_park, conn->fd);
	}
}

/*
 * libsoup reads a body through a buffer on its reader's stack frame, which it
 * leaves uncleared; from the main loop's own depth, once that frame is gone,
 * the stack below is cleared, so a body's `password` does not stay there
 * (docs/SECURITY.md §8).  The reader sits a few KiB below the loop.
 */
static G_GNUC_NO_INLINE gboolean
clear_dead_stack(gpointer data)
{
	guchar below[32 * 1024];

	exm_secret_wipe(below, sizeof(below));
	return G_SOURCE_REMOVE;
}

static void
clear_dead_stack_later(ExhListener *listener)
{
	g_autoptr(GSource) idle = g_idle_source_new();

	g_source_set_priority(idle, G_PRIORITY_HIGH);
	g_source_set_callback(idle, clear_dead_stack, NULL, NULL);
	g_source_attach(idle, listener->context);
}

static gboolean
request_framed_with_body(SoupServerMessage *msg)
{
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);

	switch (soup_message_headers_get_encoding(headers)) {
	case SOUP_ENCODING_NONE:
		return FALSE;
	case SOUP_ENCODING_CONTENT_LENGTH:
		return soup_message_headers_get_content_length(headers) > 0;
	default:
		return TRUE;
	}
}

/* Read in full: no deadline while it is served, but a client that leaves is seen. */
static void
got_body(SoupServerMessage *msg, gpointer data)
{
	Conn *conn = conn_of(data, msg);

	if (conn == NULL)
		return;
	conn_enter(conn, STATE_SERVING, 0);
	conn_watch(conn);
	exh_line_stream_set_whole(EXH_LINE_STREAM(conn->stream), FALSE);
	/* only a body may carry a password: a request framed without one (a
	 * GET) has nothing to clear, and 32 KiB cleared each time was 6 % of a
	 * GET's instructions.  Any framing of a body counts, read in full or not */
	if (request_framed_with_body(msg))
		clear_dead_stack_later(conn->listener);
}

static void
request_started(SoupServer *server, SoupServerMessage *msg, gpointer data)
{
	ExhListener *listener = data;
	Conn *conn = conn_of(listener, msg);

	if (conn == NULL)
		return;
	/* a later request: its first byte is here; the first one's clock runs from the accept */
	if (conn->messages++ > 0) {
		conn_unwatch(conn);
		conn_enter(conn, STATE_HEADER, listener->limits.header_timeout_ms);
	}
	conn_set_msg(conn, msg);
	g_signal_connect(msg, "got-headers", G_CALLBACK(got_headers), listener);
	g_signal_connect(msg, "got-chunk", G_CALLBACK(got_chunk), listener);
	g_signal_connect(msg, "got-body", G_CALLBACK(got_body), listener);
	g_signal_connect(msg, "finished", G_CALLBACK(finished), listener);
}

/* ------------------------------------------------------------- sweep */

static const gchar *
state_name(State state)
{
	static const gchar *const names[] = {
		[STATE_HEADER] = "no complete request header",
		[STATE_IDLE] = "idle",
		[STATE_BODY] = "request body stalled",
		[STATE_SERVING] = "serving",
		[STATE_REFUSING] = "refused",
		[STATE_PARKED] = "idle",
	};

	return names[state];
}

static gboolean
sweep(gpointer data)
{
	ExhListener *listener = data;
	gint64 now = g_get_monotonic_time();
	GHashTableIter iter;
	Conn *conn;

	g_hash_table_iter_init(&iter, listener->conns);
	while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&conn)) {
		gboolean closed = g_socket_is_closed(conn->socket);

		if (!closed && (conn->deadline == 0 || now < conn->deadline))
			continue;
		if (!closed && conn->state != STATE_REFUSING)
			exh_log(G_LOG_LEVEL_DEBUG,
				NULL,
				"%s: closing a connection of %s: %s past its timeout",
				listener->name,
				conn->address,
				state_name(conn->state));
		g_hash_table_iter_remove(&iter);
	}
	return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------- accept */

static void
log_refused(ExhListener *listener, const gchar *address)
{
	gint64 now = g_get_monotonic_time();

	listener->unlogged++;
	if (now - listener->last_log < G_USEC_PER_SEC)
		return;
	exh_log(G_LOG_LEVEL_MESSAGE,
		NULL,
		"%s: refused %u connection(s) over the caps (%u open, %u per address), the "
		"last from %s",
		listener->name,
		listener->unlogged,
		listener->limits.max_connections,
		listener->limits.max_per_address,
		address);
	listener->unlogged = 0;
	listener->last_log = now;
}

static gchar *
refusal_text(void)
{
	g_autoptr(GError) error = g_error_new_literal(
		EXM_ERROR, EXM_ERROR_UNAVAILABLE, "Too many connections, retry later.");
	g_autofree gchar *body = exm_error_body(error);

	return g_strdup_printf("HTTP/1.1 503 Service Unavailable\r\n"
			       "Content-Type: application/json\r\n"
			       "Retry-After: %d\r\n"
			       "Connection: close\r\n"
			       "Content-Length: %zu\r\n\r\n%s",
			       RETRY_AFTER_S,
			       strlen(body),
			       body);
}

static Conn *
conn_new(ExhListener *listener, GSocket *socket, GSocketAddress *remote, gchar *address)
{
	Conn *conn = g_new0(Conn, 1);
	struct epoll_event event = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET };

	conn->listener = listener;
	conn->socket = socket;
	conn->remote = remote;
	conn->address = address;
	conn->fd = g_socket_get_fd(socket);
	conn->local = g_socket_get_local_address(socket, NULL);
	g_hash_table_insert(listener->conns, remote, conn);
	g_atomic_int_inc(&listener->n_open);
	if ((guint)conn->fd >= listener->by_fd->len)
		g_ptr_array_set_size(listener->by_fd, conn->fd + 1);
	g_ptr_array_index(listener->by_fd, conn->fd) = conn;
	/* cannot fail for a new socket but for memory; added, it reports what
	 * is there already */
	event.data.fd = conn->fd;
	if (epoll_ctl(listener->epfd, EPOLL_CTL_ADD, conn->fd, &event) != 0)
		exh_log(G_LOG_LEVEL_WARNING,
			NULL,
			"%s: epoll_ctl: %s",
			listener->name,
			g_strerror(errno));
	return conn;
}

/* Over a cap: a 503 the client can read, then the socket closes. */
static void
refuse(ExhListener *listener, Conn *conn)
{
	g_autofree gchar *text = refusal_text();

	g_atomic_int_inc(&listener->refused);
	log_refused(listener, conn->address);
	listener->refusing++;
	conn_enter(conn, STATE_REFUSING, REFUSE_LINGER_MS);
	if (listener->refusing > MAX_REFUSING ||
	    g_socket_send_with_blocking(conn->socket, text, strlen(text), FALSE, NULL, NULL) < 0 ||
	    !g_socket_shutdown(conn->socket, FALSE, TRUE, NULL)) {
		conn_close(conn);
		return;
	}
	conn_watch(conn);
}

static gboolean
over_caps(ExhListener *listener, const gchar *address)
{
	guint open = g_hash_table_size(listener->conns) - listener->refusing;
	guint mine = GPOINTER_TO_UINT(g_hash_table_lookup(listener->per_address, address));

	return open >= listener->limits.max_connections || mine >= listener->limits.max_per_address;
}

static void
admit(ExhListener *listener, GSocket *socket)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocketAddress) local = g_socket_get_local_address(socket, NULL);
	GSocketAddress *remote = g_socket_get_remote_address(socket, NULL);
	gchar *address;
	Conn *conn;

	if (local == NULL || remote == NULL || !G_IS_INET_SOCKET_ADDRESS(remote)) {
		g_clear_object(&remote);
		g_socket_close(socket, NULL);
		g_object_unref(socket);
		return;
	}
	address = g_inet_address_to_string(
		g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(remote)));
	if (over_caps(listener, address)) {
		refuse(listener, conn_new(listener, socket, remote, address));
		return;
	}
	address_count(listener, address, 1);
	conn = conn_new(listener, socket, remote, address);
	g_socket_set_option(socket, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
	{
		g_autoptr(GSocketConnection) base =
			g_socket_connection_factory_create_connection(socket);

		conn->stream = exh_line_stream_new(G_IO_STREAM(base));
		exh_line_stream_poll_externally(EXH_LINE_STREAM(conn->stream));
	}
	conn_enter(conn, STATE_HEADER, listener->limits.header_timeout_ms);
	conn_watch(conn);
	if (!soup_server_accept_iostream(listener->server, conn->stream, local, remote, &error)) {
		exh_log(G_LOG_LEVEL_MESSAGE, NULL, "%s: %s", listener->name, error->message);
		conn_close(conn);
	}
}

static void accept_resume(ExhListener *listener);

static gboolean
accept_resume_cb(gpointer data)
{
	ExhListener *listener = data;

	g_clear_pointer(&listener->pause_source, g_source_unref);
	accept_resume(listener);
	return G_SOURCE_REMOVE;
}

/* Out of descriptors: the backlog waits a moment instead of spinning. */
static void
accept_pause(ExhListener *listener, const GError *error)
{
	exh_log(G_LOG_LEVEL_MESSAGE,
		NULL,
		"%s: accept failed (%s); pausing %d ms",
		listener->name,
		error->message,
		EMFILE_PAUSE_MS);
	g_source_destroy(listener->accept_source);
	g_clear_pointer(&listener->accept_source, g_source_unref);
	listener->pause_source = g_timeout_source_new(EMFILE_PAUSE_MS);
	g_source_set_callback(listener->pause_source, accept_resume_cb, listener, NULL);
	g_source_attach(listener->pause_source, listener->context);
}

static gboolean
accept_ready(GSocket *socket, GIOCondition condition, gpointer data)
{
	ExhListener *listener = data;

	for (guint i = 0; i < ACCEPT_BATCH; i++) {
		g_autoptr(GError) error = NULL;
		GSocket *client = g_socket_accept(listener->socket, NULL, &error);

		if (client != NULL) {
			admit(listener, client);
			continue;
		}
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES)) {
			accept_pause(listener, error);
			return G_SOURCE_REMOVE;
		}
		break; /* would block, or a connection reset before it was accepted */
	}
	return G_SOURCE_CONTINUE;
}

static void
accept_resume(ExhListener *listener)
{
	listener->accept_source = g_socket_create_source(listener->socket, G_IO_IN, NULL);
	g_source_set_callback(
		listener->accept_source, (GSourceFunc)(GCallback)accept_ready, listener, NULL);
	g_source_attach(listener->accept_source, listener->context);
}

/* ------------------------------------------------------------- parking */

/*
 * libsoup holds nothing of a next request: the line stream handed it no
 * byte since the response finished (libsoup's filter stream, which may read
 * ahead, read nothing: in line mode the line stream never hands out past a
 * '\n', and a body is read to its length), keeps none itself, and the socket
 * is empty, so the next byte makes an edge of the epoll set.  A socket libsoup
 * closed (no keep-alive, an error) has no connection left to steal.
 */
static gboolean
conn_may_park(Conn *conn)
{
	ExhLineStream *stream = EXH_LINE_STREAM(conn->stream);

	return conn->state == STATE_IDLE && !g_socket_is_closed(conn->socket) &&
	       exh_line_stream_get_handed(stream) == conn->handed_at_finish &&
	       !exh_line_stream_has_buffered(stream) && conn_peek(conn) == -1;
}

/* Takes the connection back from libsoup, which frees its next message, its
 * I/O data and sources and its SoupServerConnection; the stolen wrapper
 * (a SoupIOStream made not to close ours) is dropped. */
static void
conn_park(Conn *conn)
{
	g_autoptr(SoupServerMessage) finished = g_steal_pointer(&conn->finished);
	g_autoptr(GIOStream) stolen = NULL;

	if (finished == NULL || !conn_may_park(conn))
		return;
	stolen = soup_server_message_steal_connection(finished);
	if (stolen == NULL)
		return; /* libsoup had let it go: its socket is closed, the sweep frees it */
	conn_set_msg(conn, NULL);
	conn->state = STATE_PARKED; /* the idle deadline goes on */
	conn->watching = TRUE;
	g_atomic_int_inc(&conn->listener->n_parked);
}

/* The connections whose response finished since the last dispatch, from the
 * loop: by now libsoup has made the next message it would wait with. */
static void
parks_run(ExhListener *listener)
{
	guint n = listener->to_park->len;

	for (guint i = 0; i < n; i++) {
		gint fd = g_array_index(listener->to_park, gint, i);
		Conn *conn = (guint)fd < listener->by_fd->len
				     ? g_ptr_array_index(listener->by_fd, fd)
				     : NULL;

		if (conn != NULL)
			conn_park(conn);
	}
	g_array_remove_range(listener->to_park, 0, n);
}

/* ------------------------------------------------------------- the epoll source */

typedef struct {
	GSource source;
	ExhListener *listener;
	gpointer tag;
} EpollSource;

static void
fd_readable(ExhListener *listener, gint fd)
{
	Conn *conn =
		(guint)fd < listener->by_fd->len ? g_ptr_array_index(listener->by_fd, fd) : NULL;

	if (conn == NULL)
		return;
	if (conn->stream != NULL)
		exh_line_stream_readable(EXH_LINE_STREAM(conn->stream));
	conn_readable(conn);
}

static gboolean
epoll_pending(ExhListener *listener)
{
	return listener->to_check->len > 0 || listener->to_park->len > 0;
}

static gboolean
epoll_prepare(GSource *source, gint *timeout)
{
	*timeout = -1;
	return epoll_pending(((EpollSource *)source)->listener);
}

static gboolean
epoll_check(GSource *source)
{
	EpollSource *self = (EpollSource *)source;

	return epoll_pending(self->listener) ||
	       (g_source_query_unix_fd(source, self->tag) & G_IO_IN) != 0;
}

/* The watches begun on a maybe readable socket, then up to a batch of events
 * (the epoll descriptor stays readable while more are ready). */
static gboolean
epoll_dispatch(GSource *source, GSourceFunc callback, gpointer data)
{
	ExhListener *listener = ((EpollSource *)source)->listener;
	guint checks = listener->to_check->len;
	struct epoll_event events[EPOLL_BATCH];
	gint n;

	for (guint i = 0; i < checks; i++)
		fd_readable(listener, g_array_index(listener->to_check, gint, i));
	g_array_remove_range(listener->to_check, 0, checks);
	parks_run(listener);
	n = epoll_wait(listener->epfd, events, EPOLL_BATCH, 0);
	for (gint i = 0; i < n; i++)
		fd_readable(listener, events[i].data.fd);
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs epoll_funcs = {
	.prepare = epoll_prepare,
	.check = epoll_check,
	.dispatch = epoll_dispatch,
};

static gboolean
epoll_start(ExhListener *listener, GError **error)
{
	EpollSource *source;

	listener->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (listener->epfd < 0) {
		g_set_error(
			error, EXH_ERROR, EXH_ERROR_CONFIG, "epoll_create1: %s", g_strerror(errno));
		return FALSE;
	}
	listener->epoll_source = g_source_new(&epoll_funcs, sizeof(EpollSource));
	source = (EpollSource *)listener->epoll_source;
	source->listener = listener;
	source->tag = g_source_add_unix_fd(listener->epoll_source, listener->epfd, G_IO_IN);
	g_source_set_static_name(listener->epoll_source, "ExhListener epoll");
	g_source_attach(listener->epoll_source, listener->context);
	return TRUE;
}

/* ------------------------------------------------------------- public */

static guint
or_default(guint value, guint def)
{
	return value > 0 ? value : def;
}

static void
limits_resolve(ExhListenerLimits *out, const ExhListenerLimits *in)
{
	ExhListenerLimits none = { 0 };

	if (in == NULL)
		in = &none;
	out->header_timeout_ms = or_default(in->header_timeout_ms, EXH_LISTENER_HEADER_TIMEOUT_MS);
	out->idle_timeout_ms = or_default(in->idle_timeout_ms, EXH_LISTENER_IDLE_TIMEOUT_MS);
	out->max_connections = or_default(in->max_connections, EXH_LISTENER_MAX_CONNECTIONS);
	out->max_per_address = or_default(in->max_per_address, EXH_LISTENER_MAX_PER_ADDRESS);
}

ExhListener *
exh_listener_new(SoupServer *server, const gchar *name, const ExhListenerLimits *limits)
{
	ExhListener *listener = g_new0(ExhListener, 1);

	listener->server = g_object_ref(server);
	listener->name = g_strdup(name);
	limits_resolve(&listener->limits, limits);
	listener->context = g_main_context_ref_thread_default();
	listener->conns = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, conn_free);
	listener->per_address = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	listener->epfd = -1;
	listener->by_fd = g_ptr_array_new();
	listener->to_check = g_array_new(FALSE, FALSE, sizeof(gint));
	listener->to_park = g_array_new(FALSE, FALSE, sizeof(gint));
	g_signal_connect(server, "request-started", G_CALLBACK(request_started), listener);
	return listener;
}

/*
 * libsoup 3.2 keeps a connection alive after a response only while the server
 * has a listener of its own; without one every connection would close after
 * its first response, unannounced.  One end of a socket pair is such a
 * listener: it is no listening socket, so libsoup never polls or accepts on it.
 */
static gboolean
inert_listener(ExhListener *listener, GError **error)
{
	gint fds[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
		g_set_error(
			error, EXH_ERROR, EXH_ERROR_CONFIG, "socketpair: %s", g_strerror(errno));
		return FALSE;
	}
	listener->pair[0] = g_socket_new_from_fd(fds[0], error);
	if (listener->pair[0] == NULL) {
		close(fds[0]);
		close(fds[1]);
		return FALSE;
	}
	listener->pair[1] = g_socket_new_from_fd(fds[1], error);
	if (listener->pair[1] == NULL) {
		close(fds[1]);
		return FALSE;
	}
	return soup_server_listen_socket(listener->server, listener->pair[0], 0, error);
}

static gboolean
bind_socket(ExhListener *listener, GSocketAddress *address, GError **error)
{
	listener->socket = g_socket_new(g_socket_address_get_family(address),
					G_SOCKET_TYPE_STREAM,
					G_SOCKET_PROTOCOL_TCP,
					error);
	if (listener->socket == NULL)
		return FALSE;
	g_socket_set_blocking(listener->socket, FALSE);
	g_socket_set_listen_backlog(listener->socket, LISTEN_BACKLOG);
	return g_socket_bind(listener->socket, address, TRUE, error) &&
	       g_socket_listen(listener->socket, error);
}

guint
exh_listener_listen(ExhListener *listener, GSocketAddress *address, GError **error)
{
	g_autoptr(GSocketAddress) bound = NULL;

	g_return_val_if_fail(listener->socket == NULL, 0);
	if (!bind_socket(listener, address, error) || !inert_listener(listener, error) ||
	    !epoll_start(listener, error))
		return 0;
	bound = g_socket_get_local_address(listener->socket, error);
	if (bound == NULL)
		return 0;
	accept_resume(listener);
	listener->sweep_source = g_timeout_source_new(SWEEP_MS);
	g_source_set_callback(listener->sweep_source, sweep, listener, NULL);
	g_source_attach(listener->sweep_source, listener->context);
	return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}

void
exh_listener_set_gone_func(ExhListener *listener, ExhListenerGoneFunc func, gpointer user_data)
{
	listener->gone = func;
	listener->gone_data = user_data;
}

void
exh_listener_set_park_idle(ExhListener *listener, gboolean park)
{
	listener->park_idle = park && g_strcmp0(g_getenv("EXH_LISTENER_PARK"), "off") != 0;
}

guint
exh_listener_get_parked(ExhListener *listener)
{
	return (guint)g_atomic_int_get(&listener->n_parked);
}

guint
exh_listener_get_open(ExhListener *listener)
{
	return (guint)g_atomic_int_get(&listener->n_open);
}

guint64
exh_listener_get_refused(ExhListener *listener)
{
	return (guint64)(guint)g_atomic_int_get(&listener->refused);
}

static void
clear_source(GSource **source)
{
	if (*source == NULL)
		return;
	g_source_destroy(*source);
	g_clear_pointer(source, g_source_unref);
}

void
exh_listener_close(ExhListener *listener)
{
	if (listener == NULL || listener->closed)
		return;
	listener->closed = TRUE;
	clear_source(&listener->accept_source);
	clear_source(&listener->pause_source);
	clear_source(&listener->sweep_source);
	if (listener->socket != NULL)
		g_socket_close(listener->socket, NULL);
	g_hash_table_remove_all(listener->conns);
	clear_source(&listener->epoll_source);
	if (listener->epfd >= 0)
		close(listener->epfd);
	listener->epfd = -1;
	for (guint i = 0; i < G_N_ELEMENTS(listener->pair); i++) {
		if (listener->pair[i] != NULL)
			g_socket_close(listener->pair[i], NULL);
	}
}

void
exh_listener_free(ExhListener *listener)
{
	if (listener == NULL)
		return;
	exh_listener_close(listener);
	g_signal_handlers_disconnect_by_data(listener->server, listener);
	g_clear_object(&listener->server);
	g_clear_object(&listener->socket);
	for (guint i = 0; i < G_N_ELEMENTS(listener->pair); i++)
		g_clear_object(&listener->pair[i]);
	g_hash_table_unref(listener->conns);
	g_hash_table_unref(listener->per_address);
	g_ptr_array_unref(listener->by_fd);
	g_array_unref(listener->to_check);
	g_array_unref(listener->to_park);
	g_main_context_unref(listener->context);
	g_free(listener->name);
	g_free(listener);
}

gboolean
exh_listener_check_fd_limit(guint n_listeners, const ExhListenerLimits *limits, GError **error)
{
	ExhListenerLimits resolved;
	struct rlimit rl;
	rlim_t need;

	limits_resolve(&resolved, limits);
	need = (rlim_t)n_listeners * resolved.max_connections + EXH_LISTENER_FD_RESERVE;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return TRUE;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
			g_set_error(error,
				    EXH_ERROR,
				    EXH_ERROR_CONFIG,
				    "the open-file limit %llu is below the %llu the connection "
				    "caps need (%u listeners x max_connections %u + %d); raise "
				    "LimitNOFILE or lower max_connections",
				    (unsigned long long)rl.rlim_max,
				    (unsigned long long)need,
				    n_listeners,
				    resolved.max_connections,
				    EXH_LISTENER_FD_RESERVE);
			return FALSE;
		}
		rl.rlim_cur = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			g_set_error(error,
				    EXH_ERROR,
				    EXH_ERROR_CONFIG,
				    "cannot raise the open-file limit to %llu: %s",
				    (unsigned long long)need,
				    g_strerror(errno));
			return FALSE;
		}
	}
	return TRUE;
}
