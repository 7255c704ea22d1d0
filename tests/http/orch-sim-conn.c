/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The Orch load simulator's poll connections: see orch-sim-conn.h.
 */
#include "orch-sim-conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* an answer's status line and headers at most */
#define CONN_HEAD_MAX (64 * 1024)
/* an answer at most (a light poll's is under 1 KiB) */
#define CONN_BODY_MAX (16 * 1024 * 1024)
#define CONN_READ     4096

struct _OrchSimPoller {
	GSource source; /* first: the poller is its source */
	gint epfd;
};

struct _OrchSimConn {
	OrchSimPoller *poller;
	guint port;
	OrchSimConnDone done;
	gpointer data;
	gint fd; /* -1: closed */
	gboolean connecting;
	gboolean used;	 /* it carried an answer: kept alive since */
	gboolean resent; /* the request in flight is on its second connection */
	GBytes *request; /* in flight; %NULL when none */
	gsize written;
	/* the answer read so far */
	guint8 *buf;
	gsize len;
	gsize cap;
	gssize head_end; /* offset of its blank line, -1 until it came */
	gsize body_len;
	guint status;
	SoupMessageHeaders *headers;
};

static void conn_event(OrchSimConn *conn, guint32 events);
static void conn_broken(OrchSimConn *conn, gint code, const gchar *message);

/* ---------------------------------------------------------------- poller */

static gboolean
poller_dispatch(GSource *source, GSourceFunc callback, gpointer data)
{
	OrchSimPoller *poller = (OrchSimPoller *)source;
	struct epoll_event events[64];
	gint n;

	do {
		n = epoll_wait(poller->epfd, events, G_N_ELEMENTS(events), 0);
		for (gint i = 0; i < n; i++)
			conn_event(events[i].data.ptr, events[i].events);
	} while (n == (gint)G_N_ELEMENTS(events));
	return G_SOURCE_CONTINUE;
}

static void
poller_finalize(GSource *source)
{
	OrchSimPoller *poller = (OrchSimPoller *)source;

	if (poller->epfd >= 0)
		close(poller->epfd);
}

static GSourceFuncs poller_funcs = {
	.dispatch = poller_dispatch,
	.finalize = poller_finalize,
};

OrchSimPoller *
orch_sim_poller_new(GMainContext *context, GError **error)
{
	gint epfd = epoll_create1(EPOLL_CLOEXEC);
	OrchSimPoller *poller;

	if (epfd < 0) {
		gint saved = errno;

		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(saved),
			    "epoll_create1: %s",
			    g_strerror(saved));
		return NULL;
	}
	poller = (OrchSimPoller *)g_source_new(&poller_funcs, sizeof(OrchSimPoller));
	poller->epfd = epfd;
	g_source_set_static_name(&poller->source, "orch-sim poller");
	g_source_add_unix_fd(&poller->source, epfd, G_IO_IN);
	g_source_attach(&poller->source, context);
	return poller;
}

void
orch_sim_poller_free(OrchSimPoller *poller)
{
	if (poller == NULL)
		return;
	g_source_destroy(&poller->source);
	g_source_unref(&poller->source);
}

/* ------------------------------------------------------------ connection */

OrchSimConn *
orch_sim_conn_new(OrchSimPoller *poller, guint port, OrchSimConnDone done, gpointer data)
{
	OrchSimConn *conn = g_new0(OrchSimConn, 1);

	conn->poller = poller;
	conn->port = port;
	conn->done = done;
	conn->data = data;
	conn->fd = -1;
	conn->head_end = -1;
	return conn;
}

/* Forgets the answer read so far. */
static void
conn_reset_answer(OrchSimConn *conn)
{
	g_clear_pointer(&conn->buf, g_free);
	conn->len = conn->cap = 0;
	conn->head_end = -1;
	conn->body_len = 0;
	conn->status = 0;
	g_clear_pointer(&conn->headers, soup_message_headers_unref);
}

static void
conn_close(OrchSimConn *conn)
{
	if (conn->fd >= 0) {
		epoll_ctl(conn->poller->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
		close(conn->fd);
	}
	conn->fd = -1;
	conn->connecting = FALSE;
	conn->used = FALSE;
	conn_reset_answer(conn);
}

void
orch_sim_conn_free(OrchSimConn *conn)
{
	if (conn == NULL)
		return;
	conn_close(conn);
	g_clear_pointer(&conn->request, g_bytes_unref);
	g_free(conn);
}

gboolean
orch_sim_conn_is_open(const OrchSimConn *conn)
{
	return conn->fd >= 0;
}

/* Ends the request in flight with @error: the connection is closed first, so
 * @done may send the next request. */
void
orch_sim_conn_fail(OrchSimConn *conn, const GError *error)
{
	if (conn->request == NULL)
		return;
	g_clear_pointer(&conn->request, g_bytes_unref);
	conn_close(conn);
	conn->done(0, NULL, NULL, 0, error, conn->data);
}

static void
conn_fail(OrchSimConn *conn, gint code, const gchar *message)
{
	g_autoptr(GError) error = g_error_new_literal(G_IO_ERROR, code, message);

	orch_sim_conn_fail(conn, error);
}

static void
conn_fail_errno(OrchSimConn *conn, gint saved)
{
	conn_fail(conn, g_io_error_from_errno(saved), g_strerror(saved));
}

static void
conn_want(OrchSimConn *conn, gboolean out)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0),
		.data.ptr = conn,
	};

	epoll_ctl(conn->poller->epfd, EPOLL_CTL_MOD, conn->fd, &ev);
}

/* A non-blocking connect to the loopback port; %FALSE with errno set. */
static gboolean
conn_open(OrchSimConn *conn)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons((guint16)conn->port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP,
		.data.ptr = conn,
	};

	conn->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (conn->fd < 0)
		return FALSE;
	conn->connecting = TRUE;
	if ((connect(conn->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 &&
	     errno != EINPROGRESS) ||
	    epoll_ctl(conn->poller->epfd, EPOLL_CTL_ADD, conn->fd, &ev) != 0) {
		gint saved = errno;

		conn_close(conn);
		errno = saved;
		return FALSE;
	}
	return TRUE;
}

static void
conn_write(OrchSimConn *conn)
{
	gsize size = 0;
	const guint8 *bytes = g_bytes_get_data(conn->request, &size);

	while (conn->written < size) {
		gssize n =
			send(conn->fd, bytes + conn->written, size - conn->written, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			conn_want(conn, TRUE);
			return;
		}
		if (n < 0) {
			gint saved = errno;

			conn_broken(conn, g_io_error_from_errno(saved), g_strerror(saved));
			return;
		}
		conn->written += (gsize)n;
	}
	conn_want(conn, FALSE);
}

/* (Re)starts the request in flight from its first byte. */
static void
conn_start(OrchSimConn *conn)
{
	conn->written = 0;
	conn_reset_answer(conn);
	if (conn->fd < 0 && !conn_open(conn)) {
		conn_fail_errno(conn, errno);
		return;
	}
	if (!conn->connecting)
		conn_write(conn);
}

void
orch_sim_conn_send(OrchSimConn *conn, GBytes *request)
{
	g_return_if_fail(conn->request == NULL);
	conn->request = g_bytes_ref(request);
	conn->resent = FALSE;
	conn_start(conn);
}

/*
 * The connection broke (@code, @message) with a request in flight.  On a
 * kept-alive connection that gave no byte of the answer the host may have
 * closed it as idle while the request travelled: sent once more on a new
 * connection, as libsoup does; otherwise the request fails.
 */
static void
conn_broken(OrchSimConn *conn, gint code, const gchar *message)
{
	if (conn->request != NULL && conn->used && conn->len == 0 && !conn->resent) {
		conn_close(conn);
		conn->resent = TRUE;
		conn_start(conn);
		return;
	}
	conn_fail(conn, code, message);
}

/* The status line and headers, once their blank line came. */
static gboolean
conn_parse_head(OrchSimConn *conn)
{
	const guint8 *end = memmem(conn->buf, conn->len, "\r\n\r\n", 4);

	if (end == NULL) {
		if (conn->len > CONN_HEAD_MAX)
			conn_fail(conn, G_IO_ERROR_INVALID_DATA, "answer headers too long");
		return FALSE;
	}
	conn->head_end = end - conn->buf;
	/* libsoup's own reader hands the parser the head up to the last
	 * header's line end, NUL-terminated */
	conn->buf[conn->head_end + 2] = '\0';
	conn->headers = soup_message_headers_new(SOUP_MESSAGE_HEADERS_RESPONSE);
	if (!soup_headers_parse_response((const gchar *)conn->buf,
					 (gint)conn->head_end + 2,
					 conn->headers,
					 NULL,
					 &conn->status,
					 NULL)) {
		conn_fail(conn, G_IO_ERROR_INVALID_DATA, "answer headers do not parse");
		return FALSE;
	}
	if (soup_message_headers_get_encoding(conn->headers) != SOUP_ENCODING_CONTENT_LENGTH ||
	    soup_message_headers_get_content_length(conn->headers) > CONN_BODY_MAX) {
		conn_fail(conn, G_IO_ERROR_INVALID_DATA, "answer without a usable Content-Length");
		return FALSE;
	}
	conn->body_len = (gsize)soup_message_headers_get_content_length(conn->headers);
	return TRUE;
}

/* The whole answer came: handed to @done, the connection kept for the next
 * request unless the host closes it. */
static void
conn_deliver(OrchSimConn *conn)
{
	gsize start = (gsize)conn->head_end + 4;
	g_autoptr(SoupMessageHeaders) headers = g_steal_pointer(&conn->headers);
	gchar *body = g_malloc(conn->body_len + 1);
	guint status = conn->status;
	gsize len = conn->body_len;

	memcpy(body, conn->buf + start, len);
	body[len] = '\0';
	g_clear_pointer(&conn->request, g_bytes_unref);
	conn_reset_answer(conn);
	conn->used = TRUE;
	if (soup_message_headers_header_contains(headers, "Connection", "close"))
		conn_close(conn);
	conn->done(status, headers, body, len, NULL, conn->data);
}

/* What was read so far, looked at: %FALSE once the request ended. */
static gboolean
conn_parse(OrchSimConn *conn)
{
	gsize have;

	if (conn->head_end < 0 && !conn_parse_head(conn))
		return FALSE;
	have = conn->len - (gsize)conn->head_end - 4;
	if (have < conn->body_len)
		return TRUE;
	if (have > conn->body_len) {
		conn_fail(conn, G_IO_ERROR_INVALID_DATA, "bytes after the answer");
		return FALSE;
	}
	conn_deliver(conn);
	return FALSE;
}

/* Reads what the socket holds; an idle connection the host closed is
 * closed here too. */
static void
conn_read(OrchSimConn *conn)
{
	for (;;) {
		gssize n;

		if (conn->cap - conn->len < CONN_READ) {
			conn->cap = MAX(conn->cap * 2, conn->len + CONN_READ + 1);
			conn->buf = g_realloc(conn->buf, conn->cap);
		}
		n = recv(conn->fd, conn->buf + conn->len, conn->cap - conn->len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0 && conn->request == NULL) {
			conn_close(conn);
			return;
		}
		if (n == 0) {
			conn_broken(conn,
				    G_IO_ERROR_PARTIAL_INPUT,
				    "connection terminated unexpectedly");
			return;
		}
		if (n < 0) {
			gint saved = errno;

			conn_broken(conn, g_io_error_from_errno(saved), g_strerror(saved));
			return;
		}
		if (conn->request == NULL) {
			/* nothing is owed while idle */
			conn_close(conn);
			return;
		}
		conn->len += (gsize)n;
		if (!conn_parse(conn))
			return;
	}
}

static void
conn_connected(OrchSimConn *conn)
{
	gint err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err != 0) {
		conn_fail_errno(conn, err);
		return;
	}
	conn->connecting = FALSE;
	if (conn->request != NULL)
		conn_write(conn);
}

static void
conn_event(OrchSimConn *conn, guint32 events)
{
	if (conn->fd < 0)
		return;
	if (conn->connecting) {
		conn_connected(conn);
		return;
	}
	if ((events & EPOLLOUT) && conn->request != NULL) {
		conn_write(conn);
		if (conn->fd < 0)
			return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		conn_read(conn);
}
