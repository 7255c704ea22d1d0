/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The request body limit of the host's listeners (the user API and the
 * Orch/Status APIs share it): a body is counted as it arrives, whatever its
 * framing, and past the limit the rest is read and dropped instead of kept.
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/**
 * exh_server_limit_body:
 * @server: a server that has not accepted a request yet
 * @max_body: (not nullable): the limit in bytes; must outlive @server
 *
 * Counts the body of every request of @server; once it exceeds *@max_body the
 * message stops keeping its body (the connection stays in sync, memory stays
 * bounded) and exh_server_body_too_large() says so.
 */
void exh_server_limit_body(SoupServer *server, const gsize *max_body);

/**
 * exh_server_body_declared_too_large:
 * @msg: a message in an early handler
 * @max_body: the limit in bytes
 *
 * A `Content-Length` above @max_body: the message is marked as for
 * exh_server_body_too_large() and the caller answers 413 with `Connection:
 * close` (the body may stay unread).
 *
 * Returns: %TRUE when the declared body is too large
 */
gboolean exh_server_body_declared_too_large(SoupServerMessage *msg, gsize max_body);

/* Whether the body of @msg went (or was declared) over the limit. */
gboolean exh_server_body_too_large(SoupServerMessage *msg);

G_END_DECLS
