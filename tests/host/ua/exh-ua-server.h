/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The universal agent listeners of the reference host: the Orch API
 * (default 127.0.0.1:11011) and the Status API (default 127.0.0.1:11012),
 * each on its own SoupServer, both owned by one thread with its own
 * GMainContext (libsoup objects never leave it).  Database work runs on a
 * worker pool (exh-pool.h), one transaction per request, exactly like the
 * user API.  Every request passes the SDK middleware of
 * docs/agent-protocol.md §6.4/§6.5: `X-Genesis-Node-UUID` required (500),
 * a key row required even in plain mode (404), plain bodies refused while
 * encryption is required (400), encrypted bodies opened with the request
 * nonce, successful responses sealed with a fresh nonce; error bodies are
 * always plain JSON.
 *
 * A get_payload with `wait=<s>` whose hash is unchanged is parked (paused,
 * no thread blocked) until exh_ua_server_wake() is called or the time is up;
 * Status API writes wake the parked requests themselves.
 */
#pragma once

#include <glib.h>

#include "exh-listener.h"
#include "exh-pool.h"

G_BEGIN_DECLS

/**
 * ExhUaServerConfig:
 * @listen_address: IP address of both listeners (loopback by default)
 * @orch_port: Orch API port, 0 = any free port
 * @status_port: Status API port, 0 = any free port
 * @conninfo: libpq conninfo
 * @workers: database connections / worker threads
 * @max_queued: requests waiting for a worker before new ones get 503 (0 = 64
 *   per worker)
 * @max_body: request body limit of the Orch API (413 above)
 * @connections: timeouts and caps of each listener (exh-listener.h)
 */
typedef struct {
	gchar *listen_address;
	guint orch_port;
	guint status_port;
	gchar *conninfo;
	guint workers;
	guint max_queued;
	gsize max_body;
	ExhListenerLimits connections;
} ExhUaServerConfig;

/*
 * The largest answer the Orch API builds: what an agent accepts
 * (`EXM_UA_RESPONSE_MAX` in agent/ua/exm-ua-client.c).  A larger one is
 * refused (500, logged) rather than sent to an agent that would drop it.
 */
#define EXH_UA_MAX_PAYLOAD (64 * 1024 * 1024)
/* Room for the envelope and the record around a resource's value. */
#define EXH_UA_BODY_SLACK (64 * 1024)

typedef struct _ExhUaServer ExhUaServer;

/**
 * exh_ua_server_status_max_body:
 * @max_body: the configured body limit (the Orch API's)
 *
 * The Status API's body limit, derived from the largest payload the host
 * builds: an agent reports a resource's actual value, which is at most the
 * target value it got in a payload, so the limit is %EXH_UA_MAX_PAYLOAD plus
 * %EXH_UA_BODY_SLACK (never below @max_body).  Larger bodies are refused with
 * 413 before they are read (`Content-Length`) or as soon as they pass it
 * (chunked), without being kept.
 *
 * Returns: the limit in bytes
 */
gsize exh_ua_server_status_max_body(gsize max_body);

/**
 * exh_ua_server_new:
 * @config: (transfer none): copied
 * @error: return location
 *
 * Returns: (transfer full): a server that is not listening yet
 */
ExhUaServer *exh_ua_server_new(const ExhUaServerConfig *config, GError **error);

/* Starts the thread, the pool and both listeners; returns once they accept. */
gboolean exh_ua_server_start(ExhUaServer *server, GError **error);

/* Bound ports and base URLs (`http://<address>:<port>`), valid after start. */
guint exh_ua_server_get_orch_port(ExhUaServer *server);
guint exh_ua_server_get_status_port(ExhUaServer *server);
const gchar *exh_ua_server_get_orch_url(ExhUaServer *server);
const gchar *exh_ua_server_get_status_url(ExhUaServer *server);

/**
 * exh_ua_server_wake:
 * @server: a server
 *
 * Something agents may see changed (targets written): every parked
 * get_payload is computed again.  Callable from any thread.
 */
void exh_ua_server_wake(ExhUaServer *server);

/**
 * exh_ua_server_set_listening:
 * @server: the server
 * @listening: whether the NOTIFY connection of the builder engine is up
 *
 * The light-poll cache serves only while another process's writes reach
 * this one (exh-ua-cache.h); off at first.  Any thread.
 */
void exh_ua_server_set_listening(ExhUaServer *server, gboolean listening);

/* get_payloads answered from the light-poll cache so far. */
guint64 exh_ua_server_get_light_served(ExhUaServer *server);

/* Connections open on both listeners now, and refused by their caps so far. */
void exh_ua_server_get_connections(ExhUaServer *server, guint *out_open, guint64 *out_refused);

/* (transfer none) (nullable): the database pool of the Orch and Status APIs
 * (%NULL before exh_ua_server_start()) */
ExhPool *exh_ua_server_get_pool(ExhUaServer *server);

/* Requests answered so far (both listeners). */
guint64 exh_ua_server_get_served(ExhUaServer *server);

/* Answers the parked requests, lets the running ones finish, closes. Idempotent. */
void exh_ua_server_stop(ExhUaServer *server);

void exh_ua_server_free(ExhUaServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhUaServer, exh_ua_server_free)

G_END_DECLS
