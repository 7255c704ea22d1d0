/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host's listening sockets and the life of every connection on them,
 * shared by the user API (exh-server.c) and the Orch/Status APIs
 * (exh-ua-server.c).  The host accepts itself and hands each connection to
 * its SoupServer with soup_server_accept_iostream(); it tracks the connection
 * until the socket is closed and closes it itself when
 *
 * - the client sent no complete request header within the header timeout
 *   (first request, or once the first byte of a later one arrived),
 * - a keep-alive connection stayed idle past the idle timeout, or a request
 *   body stalls for as long,
 * - the client closed it: while idle (libsoup 3.2 keeps such a connection
 *   forever) or while its request is still being served (a parked long poll
 *   is released within a second, see exh_listener_set_gone_func()).
 *
 * A connection over the listener's cap or its client address's cap is
 * answered `503` with `Retry-After` and closed, logged (at most once a second)
 * and counted.  Everything runs in the thread-default #GMainContext of the
 * thread that called exh_listener_new(): the server thread that owns the
 * SoupServer.
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

#define EXH_LISTENER_HEADER_TIMEOUT_MS 10000
#define EXH_LISTENER_IDLE_TIMEOUT_MS   60000
#define EXH_LISTENER_MAX_CONNECTIONS   4096
#define EXH_LISTENER_MAX_PER_ADDRESS   1024
/* Descriptors a host keeps besides its connections (database, plugins, logs). */
#define EXH_LISTENER_FD_RESERVE 256

/**
 * ExhListenerLimits:
 * @header_timeout_ms: time for a complete request header, from the accept or
 *   from the first byte of a later request (0 = %EXH_LISTENER_HEADER_TIMEOUT_MS)
 * @idle_timeout_ms: time a keep-alive connection may wait for its next
 *   request, and a request body between two reads (0 = %EXH_LISTENER_IDLE_TIMEOUT_MS)
 * @max_connections: open connections of one listener (0 = %EXH_LISTENER_MAX_CONNECTIONS)
 * @max_per_address: open connections of one client address on one listener
 *   (0 = %EXH_LISTENER_MAX_PER_ADDRESS)
 */
typedef struct {
	guint header_timeout_ms;
	guint idle_timeout_ms;
	guint max_connections;
	guint max_per_address;
} ExhListenerLimits;

typedef struct _ExhListener ExhListener;

/* Called on the server thread when the client of @msg, still being served,
 * went away; the connection is closed already. */
typedef void (*ExhListenerGoneFunc)(SoupServerMessage *msg, gpointer user_data);

/**
 * exh_listener_new:
 * @server: (transfer none): the server the connections are handed to (kept
 *   with a reference); it must not listen itself
 * @name: what the log calls it, e.g. `user API`
 * @limits: (nullable): timeouts and caps; %NULL = the defaults
 *
 * Returns: (transfer full): a listener that does not listen yet
 */
ExhListener *exh_listener_new(SoupServer *server,
			      const gchar *name,
			      const ExhListenerLimits *limits);

/**
 * exh_listener_listen:
 * @listener: a listener
 * @address: the address and port to bind (port 0 = any free one)
 * @error: return location
 *
 * Binds, listens (backlog 1024) and starts accepting.
 *
 * Returns: the bound port, 0 with @error set on failure
 */
guint exh_listener_listen(ExhListener *listener, GSocketAddress *address, GError **error);

void exh_listener_set_gone_func(ExhListener *listener,
				ExhListenerGoneFunc func,
				gpointer user_data);

/**
 * exh_listener_set_park_idle:
 * @listener: a listener
 * @park: %TRUE to park idle keep-alive connections
 *
 * A connection whose response was written in full and that holds no byte of
 * a next request is taken back from libsoup (soup_server_message_steal_connection())
 * until the next request's first byte: while it waits it is its socket in
 * the listener's epoll set and the listener's small record, no libsoup
 * object or source.  Its first byte hands the same stream to
 * soup_server_accept_iostream() again, as a new connection of libsoup's; for
 * the caps, the timeouts and the counts it stays the one connection.  Only a
 * finished response parks: a held request (a long poll) is not idle.  Off by
 * default; set before exh_listener_listen().  `EXH_LISTENER_PARK=off` in the
 * environment keeps it off (the benchmark's comparison, docs/scale.md §4).
 */
void exh_listener_set_park_idle(ExhListener *listener, gboolean park);

/* Connections parked now (exh_listener_set_park_idle()); for tests and metrics. */
guint exh_listener_get_parked(ExhListener *listener);

/* Connections open now (refused ones being answered included). */
guint exh_listener_get_open(ExhListener *listener);

/* Connections refused so far because of a cap. */
guint64 exh_listener_get_refused(ExhListener *listener);

/* Stops accepting and closes every connection. Idempotent. */
void exh_listener_close(ExhListener *listener);

void exh_listener_free(ExhListener *listener);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhListener, exh_listener_free)

/**
 * exh_listener_check_fd_limit:
 * @n_listeners: how many listeners the process runs
 * @limits: (nullable): their limits (%NULL = the defaults)
 * @error: return location
 *
 * Every listener at its cap, plus %EXH_LISTENER_FD_RESERVE, must fit under
 * RLIMIT_NOFILE: the soft limit is raised towards the hard one when needed;
 * a hard limit below it is an error naming both figures.
 *
 * Returns: %TRUE when the caps fit
 */
gboolean exh_listener_check_fd_limit(guint n_listeners,
				     const ExhListenerLimits *limits,
				     GError **error);

G_END_DECLS
