/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The e2e fixture: the in-process host (tests/host/exh-test.h) with the agent
 * API and the builder engine, driving a `local` infra backend whose nodes run
 * the real exordos-mail-configure, exim4 and mail agent; the version
 * `exim4_1` seeded through the operator API.  Everything goes through the
 * public API; the backend is only asked where a node lives (its address,
 * sandbox and pids) to check processes and files.
 */
#pragma once

#include "exh-local-backend.h"
#include "exh-test.h"
#include "test-e2e-smtp.h"

#define E2E_DOMAIN "example.com"
/* Bounded waits (a hang guard, not a timing assertion). */
#define E2E_WAIT_S 30

typedef struct {
	gchar *state_dir;
	ExhInfraBackend *backend;
	ExhTest *t;
	gchar *version_uri;
	gboolean envelope;
	gboolean break_keys; /* configure's key dir is broken before each run */
	gchar *smarthost;    /* `IP:PORT` every node delivers to, or %NULL */
} E2e;

/*
 * Starts everything; %NULL when a peer is missing (skipped or failed per
 * EXM_REQUIRE_REAL_PEERS) or on failure (already reported).
 */
E2e *e2e_new(gboolean envelope);
/* As e2e_new(), the nodes delivering every message to @smarthost (`IP:PORT`). */
E2e *e2e_new_with_smarthost(gboolean envelope, const gchar *smarthost);
/* Stops the host, then every node process; removes the sandboxes. */
void e2e_free(E2e *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(E2e, e2e_free)

/* POST an instance in @domain; returns its uuid (NULL on failure, reported). */
gchar *e2e_create_instance(E2e *e, const gchar *name, const gchar *domain);

/* Waits until the instance has @status; returns its JSON (NULL on timeout). */
JsonObject *e2e_wait_instance(E2e *e, const gchar *uuid, const gchar *status);

/* POST an account with a plaintext password; returns its uuid. */
gchar *e2e_create_account(E2e *e, const gchar *instance, const gchar *user, const gchar *password);
/* The same through @host's API: a second host (e2e_start_peer_host(), exh_test_spawn_peer()). */
gchar *e2e_create_account_on(ExhTest *host,
			     const gchar *instance,
			     const gchar *user,
			     const gchar *password);

/* PUT @body on the account; returns the HTTP status. */
guint e2e_update_account(E2e *e, const gchar *instance, const gchar *account, const gchar *body);

/* DELETE a path below /v1/types/mail/; returns the HTTP status. */
guint e2e_delete(E2e *e, const gchar *path);

/* (transfer full): the node of the instance's set (its first), NULL if none */
ExhLocalNodeInfo *e2e_node(E2e *e, const gchar *instance);

/* One AUTH attempt of `user@domain` on the instance's node; the SMTP code. */
gint e2e_login(E2e *e,
	       const ExhLocalNodeInfo *node,
	       gboolean implicit_tls,
	       const gchar *user,
	       const gchar *password);

/* Retries e2e_login() until it answers @code (bounded); %TRUE when it did. */
gboolean e2e_wait_login(E2e *e,
			const ExhLocalNodeInfo *node,
			gboolean implicit_tls,
			const gchar *user,
			const gchar *password,
			gint code);

/*
 * Microseconds from now until a login of `user` on 587 succeeds, polling
 * every 5 ms; -1 when it did not within @max_us.
 */
gint64 e2e_time_to_login(E2e *e,
			 const ExhLocalNodeInfo *node,
			 const gchar *user,
			 const gchar *password,
			 gint64 max_us);

/*
 * The dp sink (tests/dp/smtp-sink.py) on a free port of 127.0.0.1, writing
 * what it takes into a directory of its own: what a node relays to when
 * its smarthost is @smarthost.  e2e_sink_clear() kills it (it dies with the
 * test too) and removes the directory.
 */
typedef struct {
	gchar *smarthost;
	gchar *dir;
	GPid pid;
} E2eSink;

void e2e_sink_start(E2eSink *sink);
void e2e_sink_clear(E2eSink *sink);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(E2eSink, e2e_sink_clear)

/* One message of @user to @to through submission (587, STARTTLS) on @addr;
 * the SMTP code of its last stage. */
gint64 e2e_send_mail(const gchar *addr, const gchar *user, const gchar *password, const gchar *to);

/* GET @path as the project's owner: its JSON object, %NULL unless 200. */
JsonObject *e2e_get_json(E2e *e, const gchar *path);

/* Stops the host (API, agent API, engine); the nodes keep running. */
void e2e_stop_host(E2e *e);
/* Starts a new host on the same database and ports. */
gboolean e2e_start_host(E2e *e);

/*
 * A second host on the same database, plugin and backend, on ports of its
 * own, with a client of its own (the fields of #ExhTest it does not own are
 * copies).  Starting it points the backend's agents at it (see
 * exh_local_backend_set_endpoints()).  Free it before @e: it borrows the
 * backend.  %NULL on failure (reported).
 */
ExhTest *e2e_start_peer_host(E2e *e);
