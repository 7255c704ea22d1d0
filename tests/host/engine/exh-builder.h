/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The generic builder engine of the reference host (docs/agent-protocol.md
 * §9, docs/architecture.md §2): it runs the plugins' builders (plugin/exordos-paas-builder.h)
 * over their new, updated (`updated_at` ≠ `tracked_at`), deleted, outdated
 * (a derivative's actual `full_hash` ≠ its target's) and master-outdated
 * instances, one SQL savepoint per instance, diffs the derivatives (§9.5),
 * applies the status rule (§9.6), moves `tracked_at` only after success, and
 * hands the infra targets (`node_set`, `config`, no agent) to an infra
 * backend (exh-backend.h), whose actual state it writes back as actual
 * resources together with the node keys.
 *
 * Wake-ups: a tick runs at least every second, and early (coalesced) when
 * PostgreSQL notifies channel %EXH_UA_NOTIFY_CHANNEL (a statement trigger
 * the engine installs on every builder table, and the ones on
 * `ua_actual_resources`/`ua_agents`), when the backend reports a change, or
 * when exh_builder_wake() is called.  A tick in which nothing changed writes
 * no row.
 */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

#include "exh-backend.h"
#include "exordos-paas-plugin.h"

G_BEGIN_DECLS

typedef struct _ExhBuilder ExhBuilder;

/**
 * ExhBuilderStats:
 * @processed: instances built this tick
 * @failed: instances whose savepoint was rolled back
 * @not_ready: instances skipped as not ready
 * @written: rows written (targets, actuals, keys, instance patches)
 */
typedef struct {
	guint processed;
	guint failed;
	guint not_ready;
	guint written;
} ExhBuilderStats;

/* Called (on the engine's thread) after a tick that wrote something. */
typedef void (*ExhBuilderChangedFunc)(gpointer user_data);

/* TRUE when database backend @pid is one of the owner's own connections (its
 * writes woke the agents already); gets the changed func's @user_data. */
typedef gboolean (*ExhBuilderOwnPidFunc)(gint pid, gpointer user_data);

/* @listening: whether the LISTEN connection is up (so other connections'
 * writes are seen); gets the changed func's @user_data.  Any thread. */
typedef void (*ExhBuilderListenFunc)(gboolean listening, gpointer user_data);

/**
 * exh_builder_new:
 * @conninfo: libpq conninfo
 * @backend: (nullable) (transfer none): the infra backend; %NULL leaves infra
 *   targets alone (tests that play the backend themselves)
 *
 * Returns: (transfer full): an engine with no plugin
 */
ExhBuilder *exh_builder_new(const gchar *conninfo, ExhInfraBackend *backend);

/**
 * exh_builder_add_plugin:
 * @builder: an engine
 * @desc: (transfer none): a descriptor whose @builders is not %NULL (ABI
 *   minor ≥ 1); it must outlive the engine
 * @ctx: the plugin context from init
 */
void exh_builder_add_plugin(ExhBuilder *builder,
			    const ExordosPaasPluginDescriptor *desc,
			    gpointer ctx);

/**
 * exh_builder_add_plugin_live:
 * @builder: an engine, running or not
 * @conn: a connection outside a transaction
 * @desc: (transfer none): as for exh_builder_add_plugin()
 * @ctx: the plugin context from init
 * @error: return location
 *
 * Adds a plugin to an engine that may be running (type registration,
 * docs/type-registration.md): checks its builders and installs their notify
 * triggers on @conn, then hands the plugin to the engine's thread, which
 * takes it between two ticks and ticks soon.  Thread-safe.
 *
 * Returns: %FALSE (and adds nothing) when a builder is malformed or a
 *   trigger cannot be installed
 */
gboolean exh_builder_add_plugin_live(ExhBuilder *builder,
				     PGconn *conn,
				     const ExordosPaasPluginDescriptor *desc,
				     gpointer ctx,
				     GError **error);

/* Node keys of new nodes are written with encryption not required (plain agents). */
void exh_builder_set_plain_agents(ExhBuilder *builder, gboolean plain);

/* @func runs after each tick that wrote something (e.g. exh_ua_server_wake),
 * and when another connection writes a table payloads are read from
 * (ua_target_resources, ua_actual_resources, ua_agents: another host's engine
 * or agent API on the same database, docs/scale.md §7). */
void exh_builder_set_changed_func(ExhBuilder *builder, ExhBuilderChangedFunc func, gpointer data);

/* Set before exh_builder_start(): the notifications of the connections @func
 * owns do not call the changed func. */
void exh_builder_set_own_pid_func(ExhBuilder *builder, ExhBuilderOwnPidFunc func);

/* Set before exh_builder_start(): @func learns when LISTEN is up (after the
 * start and each reconnection) and down (lost, stopped); the light-poll
 * cache of the agent API serves only while it is up (exh-ua-cache.h). */
void exh_builder_set_listen_func(ExhBuilder *builder, ExhBuilderListenFunc func);

/**
 * exh_builder_prepare:
 * @builder: an engine
 * @conn: a connection outside a transaction
 * @error: return location
 *
 * Checks the builder tables and installs their notify triggers (idempotent).
 *
 * Returns: %TRUE on success
 */
gboolean exh_builder_prepare(ExhBuilder *builder, PGconn *conn, GError **error);

/*
 * The next tick runs every candidate source's query over whole tables (§9.3,
 * what every tick did before the marks) instead of only the marked
 * instances; it goes on while a source hands out whole batches.  The first
 * tick of an engine is one, and one runs every 10 minutes.  Thread-safe.
 */
void exh_builder_request_full_pass(ExhBuilder *builder);

/**
 * exh_builder_tick:
 * @builder: an engine
 * @conn: a connection outside a transaction (the engine opens and commits one)
 * @stats: (out) (optional): what the tick did
 * @error: return location
 *
 * One tick, synchronously (tests call it directly; the engine's thread calls
 * it on its own connection).
 *
 * Returns: %FALSE when the tick could not run (database down)
 */
gboolean exh_builder_tick(ExhBuilder *builder,
			  PGconn *conn,
			  ExhBuilderStats *stats,
			  GError **error);

/* Starts the engine's thread (its own connections, LISTEN, 1 s period). */
gboolean exh_builder_start(ExhBuilder *builder, GError **error);

/* Asks for an early tick.  Thread-safe. */
void exh_builder_wake(ExhBuilder *builder);

/* Ticks run by the thread so far. */
guint64 exh_builder_get_ticks(ExhBuilder *builder);

/* Stops the thread after the running tick; idempotent. */
void exh_builder_stop(ExhBuilder *builder);

void exh_builder_free(ExhBuilder *builder);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhBuilder, exh_builder_free)

G_END_DECLS
