/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The universal agent tables of docs/agent-protocol.md §11 (host
 * migrations) and the SQL behind the Orch and Status APIs: agents, actual
 * resources, node keys and the payload of §4.1.  Every function runs on the
 * connection it is given (inside the caller's transaction) and reports
 * %EXM_ERROR codes that map to the HTTP status of §5.3.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>

#include "exm-envelope.h"
#include "exh-migrate.h"

G_BEGIN_DECLS

/* The NOTIFY channel of the builder engine (tables changed, wake up). */
#define EXH_UA_NOTIFY_CHANNEL "exh_builder"

/**
 * exh_ua_store_migrations:
 * @out_n: (out): number of migrations
 *
 * The ua tables, views and the notify trigger function, as host migrations
 * (they depend on nothing and are tracked in `ra_migrations`).
 *
 * Returns: (transfer none): the migrations
 */
const ExhMigration *exh_ua_store_migrations(guint *out_n);

/* Applies exh_ua_store_migrations() that are not applied yet. */
gboolean exh_ua_store_migrate(PGconn *conn, GError **error);

/**
 * ExhUaNodeKey:
 * @key: the node's ChaCha20-Poly1305 key
 * @required: encryption is required now (`now >= encryption_disabled_until`)
 */
typedef struct {
	guint8 key[EXM_ENVELOPE_KEY_LEN];
	gboolean required;
} ExhUaNodeKey;

/**
 * exh_ua_store_node_key:
 * @conn: a connection
 * @node: the `X-Genesis-Node-UUID`
 * @out: (out): the key
 * @error: 404 %EXM_ERROR_NOT_FOUND when there is no key row, 500 otherwise
 *
 * Returns: %TRUE when the node has a key row
 */
gboolean exh_ua_store_node_key(PGconn *conn, const gchar *node, ExhUaNodeKey *out, GError **error);

/**
 * exh_ua_store_node_key_put:
 * @conn: a connection
 * @node: node uuid
 * @key_b64: base64 of 32 bytes
 * @encryption_disabled_for: seconds from now during which plain requests
 *   are accepted (0: encryption required at once; G_MAXINT: never)
 * @error: return location
 *
 * Upserts a key row, writing only when something differs.
 *
 * Returns: %TRUE on success
 */
gboolean exh_ua_store_node_key_put(PGconn *conn,
				   const gchar *node,
				   const gchar *key_b64,
				   gint encryption_disabled_for,
				   GError **error);

/* Deletes the key row of @node (a no-op when there is none). */
gboolean exh_ua_store_node_key_delete(PGconn *conn, const gchar *node, GError **error);

/**
 * exh_ua_store_node_verify:
 * @conn: a connection
 * @node: the calling node (`X-Genesis-Node-UUID`)
 * @uuid: the node uuid from the URL
 * @error: the 404 of a missing node, also when @uuid is another node (that
 *   attempt is logged): a node verifies only itself
 *
 * `GET /v1/node_verifiers/<uuid>/actions/verify` (gcl_sdk migration 0006).
 *
 * Returns: (transfer full): `{"valid": true}`, or %NULL
 */
JsonNode *exh_ua_store_node_verify(PGconn *conn,
				   const gchar *node,
				   const gchar *uuid,
				   GError **error);

/**
 * exh_ua_store_agent_of_node:
 * @conn: a connection
 * @node: the calling node (`X-Genesis-Node-UUID`)
 * @uuid: an agent uuid from the URL
 * @error: the 404 of a missing agent, also when it is another node's (that
 *   attempt is logged)
 *
 * Returns: %TRUE when agent @uuid exists and belongs to @node
 */
gboolean exh_ua_store_agent_of_node(PGconn *conn,
				    const gchar *node,
				    const gchar *uuid,
				    GError **error);

/* `GET /v1/agents/<uuid>`: the agent, or 404. */
JsonNode *exh_ua_store_agent_get(PGconn *conn, const gchar *uuid, GError **error);

/* `POST /v1/agents/` of @node: creates from @body (unknown fields 400, a
 * `node` other than @node 400, existing 409). */
JsonNode *exh_ua_store_agent_create(PGconn *conn,
				    const gchar *node,
				    JsonObject *body,
				    GError **error);

/* `PUT /v1/agents/<uuid>` of @node: updates name, description, capabilities,
 * facts, status; a `node` other than @node is a 400 (an agent keeps its node). */
JsonNode *exh_ua_store_agent_update(PGconn *conn,
				    const gchar *node,
				    const gchar *uuid,
				    JsonObject *body,
				    GError **error);

/* `DELETE /v1/agents/<uuid>` (cascades to its target resources). */
gboolean exh_ua_store_agent_delete(PGconn *conn, const gchar *uuid, GError **error);

/* `GET /v1/kind/`: the kinds of @node's rows in `ua_actual_resources`. */
JsonNode *exh_ua_store_kinds(PGconn *conn, const gchar *node, GError **error);

/* `POST /v1/kind/<kind>/resources/` of @node: the row's node is @node (a body
 * naming another is a 400). */
JsonNode *exh_ua_store_resource_create(PGconn *conn,
				       const gchar *node,
				       const gchar *kind,
				       JsonObject *body,
				       GError **error);

/* As exh_ua_store_agent_of_node(), for actual resource @uuid of @kind. */
gboolean exh_ua_store_resource_of_node(PGconn *conn,
				       const gchar *node,
				       const gchar *kind,
				       const gchar *uuid,
				       GError **error);

/* `GET /v1/kind/<kind>/resources/<uuid>` */
JsonNode *exh_ua_store_resource_get(PGconn *conn,
				    const gchar *kind,
				    const gchar *uuid,
				    GError **error);

/* `PUT /v1/kind/<kind>/resources/<uuid>` of @node: value, hash, full_hash,
 * status; a `node` other than @node is a 400 (a resource keeps its node). */
JsonNode *exh_ua_store_resource_update(PGconn *conn,
				       const gchar *node,
				       const gchar *kind,
				       const gchar *uuid,
				       JsonObject *body,
				       GError **error);

/* `DELETE /v1/kind/<kind>/resources/<uuid>` */
gboolean exh_ua_store_resource_delete(PGconn *conn,
				      const gchar *kind,
				      const gchar *uuid,
				      GError **error);

/**
 * exh_ua_store_payload:
 * @conn: a connection
 * @agent: the agent uuid
 * @version: the request's version (echoed)
 * @out_hash: (out) (transfer full): the payload hash of §2.3
 * @error: 404 when the agent does not exist
 *
 * The full payload of §4.1 (with the empty baskets of step 5).
 *
 * Returns: (transfer full): the payload
 */
JsonNode *exh_ua_store_payload(PGconn *conn,
			       const gchar *agent,
			       gint64 version,
			       gchar **out_hash,
			       GError **error);

/* The light payload of §4.1 step 4. */
JsonNode *exh_ua_store_light_payload(const gchar *hash, gint64 version);

/* Runs @sql with @n text parameters; NULL with %EXH_ERROR_DB-like 500 on failure. */
PGresult *exh_ua_store_exec(PGconn *conn,
			    const gchar *sql,
			    gint n,
			    const gchar *const *params,
			    GError **error);

/* `YYYY-MM-DD HH24:MI:SS.US` of a timestamp column, as SQL. */
#define EXH_UA_TS_SIMPLE(col) "to_char(" col ", 'YYYY-MM-DD HH24:MI:SS.US')"
/* `YYYY-MM-DDTHH24:MI:SS.USZ` (restalchemy dump_value), as SQL. */
#define EXH_UA_TS_REST(col) "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
/* now() as the naive UTC timestamp restalchemy stores. */
#define EXH_UA_NOW "(now() AT TIME ZONE 'utc')"
/* "Never" for `encryption_disabled_until`: a finite time, since upstream's
 * Python cannot read PostgreSQL's 'infinity' (a 500 on every request). */
#define EXH_UA_FAR_FUTURE "'9999-12-31 00:00:00'::timestamp"

G_END_DECLS
