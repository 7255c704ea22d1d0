/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The Orch load simulator's poll connections: keep-alive HTTP/1.1 client
 * connections to the host's loopback Orch port, every connection of a
 * simulator thread in one epoll set that is that thread's only source for
 * them (docs/scale.md §4).
 *
 * Why not libsoup: a libsoup session that sent keeps a source in its main
 * context for the rest of its life, and each of its connections another, so a simulator
 * thread's every iteration walked two sources per agent it runs (1 250 at
 * 5 000 agents over eight threads), and the simulator filled its CPU with
 * that walk: its own queueing was most of the latency tail it measured.  What
 * a poll says stays the agent library's (exm_ua_client_encode() and
 * exm_ua_client_answer(): the envelope, its nonces, the refusals); this only
 * carries the bytes.  A request is written whole, the answer read to its
 * Content-Length; a request sent on a kept-alive connection that the host
 * closed before answering a byte is sent once more on a new one, as libsoup
 * does.
 */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

typedef struct _OrchSimPoller OrchSimPoller;
typedef struct _OrchSimConn OrchSimConn;

/*
 * OrchSimConnDone:
 * @status: the answer's HTTP status (0 with @error)
 * @headers: (nullable): its headers
 * @body: (nullable) (transfer full): its body, @len bytes and a NUL
 * @error: (nullable): why there is no answer (a %G_IO_ERROR)
 *
 * Called from the poller's source once per request.
 */
typedef void (*OrchSimConnDone)(guint status,
				SoupMessageHeaders *headers,
				gchar *body,
				gsize len,
				const GError *error,
				gpointer data);

/* An epoll set attached to @context (the thread's). */
OrchSimPoller *orch_sim_poller_new(GMainContext *context, GError **error);
/* Every connection must be freed before. */
void orch_sim_poller_free(OrchSimPoller *poller);

/* A connection to 127.0.0.1:@port, opened by its first request. */
OrchSimConn *orch_sim_conn_new(OrchSimPoller *poller,
			       guint port,
			       OrchSimConnDone done,
			       gpointer data);
/* Closes it; a request in flight is dropped, its @done not called. */
void orch_sim_conn_free(OrchSimConn *conn);

/* Sends @request (a whole HTTP/1.1 request); one at a time. */
void orch_sim_conn_send(OrchSimConn *conn, GBytes *request);
/* Ends the request in flight with @error (@done is called) and closes the
 * connection; nothing when none is in flight. */
void orch_sim_conn_fail(OrchSimConn *conn, const GError *error);
/* Whether its socket is open (a kept-alive connection between requests). */
gboolean orch_sim_conn_is_open(const OrchSimConn *conn);
