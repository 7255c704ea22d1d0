/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The engine object: setup, the engine thread and its wake-ups (the tick
 * itself: exh-builder-tick.c).
 */
#include "exh-builder-private.h"

#include <glib-unix.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>

#include "exh-log.h"
#include "exh-pool.h"
#include "exh-thread.h"
#include "exh-ua-cache.h"
#include "exh-ua-store.h"
#include "exm-cleanup.h"
#include "exm-error.h"
#include "exm-uuid.h"

#define TICK_PERIOD_MS	1000
#define TICK_SOON_MS	10
#define RELISTEN_MIN_MS 50
#define RELISTEN_MAX_MS 1000
/* A full pass (every source's query over whole tables) this often, besides
 * the first tick and the one after LISTEN came back: a safety net under the
 * marks (docs/scale.md §6). */
#define FULL_PASS_US (600 * G_USEC_PER_SEC)
/* A tick that moved a value this large renews its connection (note_sizes()). */
#define RENEW_BYTES (1024 * 1024)
/* Its notifications wake the agents, not the engine (listen_cb). */
#define TARGETS_TABLE "ua_target_resources"
/* Its notifications only invalidate the light-poll cache (listen_cb). */
#define KEYS_TABLE "ua_node_encryption_keys"

/*
 * The tables a payload is read from besides the targets (the agent rows, the
 * actual rows the Status API writes): a write to one by another process may
 * change a parked poll's payload without any target moving.
 */
static gboolean
payload_table(const gchar *table)
{
	return g_strcmp0(table, TARGETS_TABLE) == 0 ||
	       g_strcmp0(table, "ua_actual_resources") == 0 || g_strcmp0(table, "ua_agents") == 0;
}

/* Payload tables and the node keys (what a request is opened and sealed
 * with): a write to one, by anyone, makes the light-poll cache forget. */
static gboolean
cache_table(const gchar *table)
{
	return payload_table(table) || g_strcmp0(table, KEYS_TABLE) == 0;
}

static gboolean
name_is_identifier(const gchar *name)
{
	gsize len = name != NULL ? strlen(name) : 0;

	return len > 0 && len <= 63 && !g_ascii_isdigit(name[0]) &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == len;
}

/* ------------------------------------------------------------- setup */

ExhBuilder *
exh_builder_new(const gchar *conninfo, ExhInfraBackend *backend)
{
	ExhBuilder *builder = g_new0(ExhBuilder, 1);

	builder->conninfo = g_strdup(conninfo);
	builder->backend = backend;
	builder->plugins = g_ptr_array_new_with_free_func(g_free);
	builder->applied = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	builder->refused = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	builder->infra = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)exh_builder_infra_entry_free);
	builder->notified = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	builder->infra_full = TRUE;
	builder->cursors = g_hash_table_new_full(
		g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)exh_builder_cursor_free);
	builder->full_due = 1;
	return builder;
}

void
exh_builder_request_full_pass(ExhBuilder *builder)
{
	g_atomic_int_set(&builder->full_due, 1);
}

void
exh_builder_cursor_free(ExhBuilderCursor *cursor)
{
	for (guint i = 0; i < EXH_BUILDER_SOURCES; i++)
		g_free(cursor->after[i]);
	g_clear_pointer(&cursor->retry, g_hash_table_unref);
	g_free(cursor);
}

void
exh_builder_add_plugin(ExhBuilder *builder, const ExordosPaasPluginDescriptor *desc, gpointer ctx)
{
	ExhBuilderPlugin *p;

	g_return_if_fail(desc->abi_minor >= 1 && desc->builders != NULL);
	p = g_new0(ExhBuilderPlugin, 1);
	p->desc = desc;
	p->ctx = ctx;
	g_ptr_array_add(builder->plugins, p);
}

void
exh_builder_set_plain_agents(ExhBuilder *builder, gboolean plain)
{
	builder->plain = plain;
}

void
exh_builder_set_changed_func(ExhBuilder *builder, ExhBuilderChangedFunc func, gpointer data)
{
	builder->changed = func;
	builder->changed_data = data;
}

void
exh_builder_set_own_pid_func(ExhBuilder *builder, ExhBuilderOwnPidFunc func)
{
	builder->own_pid = func;
}

void
exh_builder_set_listen_func(ExhBuilder *builder, ExhBuilderListenFunc func)
{
	builder->listening = func;
}

static void
tell_listening(ExhBuilder *builder, gboolean listening)
{
	if (builder->listening != NULL)
		builder->listening(listening, builder->changed_data);
}

static gboolean
check_builder(const ExordosPaasBuilder *b, GError **error)
{
	gboolean ok = b->struct_size >= G_STRUCT_OFFSET(ExordosPaasBuilder, reserved) &&
		      name_is_identifier(b->kind) && name_is_identifier(b->table) &&
		      b->derivative_kinds != NULL && b->load != NULL && b->build != NULL &&
		      b->apply != NULL && b->input_free != NULL &&
		      (b->master_kind == NULL || name_is_identifier(b->master_kind));

	for (guint i = 0; ok && b->derivative_kinds[i] != NULL; i++)
		ok = name_is_identifier(b->derivative_kinds[i]);
	if (!ok)
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_FAILED,
			    "builder %s: incomplete or with invalid names",
			    b->kind != NULL ? b->kind : "(null)");
	return ok;
}

/* Trigger @name runs exh_builder_notify() (or with @mark exh_builder_mark()) on
 * @table for each @each. */
static gboolean
install_trigger(PGconn *conn,
		const gchar *name,
		const gchar *table,
		const gchar *each,
		gboolean mark,
		GError **error)
{
	g_autofree gchar *quoted = PQescapeIdentifier(conn, table, strlen(table));
	g_autofree gchar *text = g_strdup_printf(
		"CREATE OR REPLACE TRIGGER %s AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH "
		"%s EXECUTE FUNCTION %s()",
		name,
		quoted,
		each,
		mark ? "exh_builder_mark" : "exh_builder_notify");

	return exh_builder_sql_command(conn, text, error);
}

static gboolean
prepare_plugin(const ExordosPaasPluginDescriptor *desc, PGconn *conn, GError **error)
{
	for (guint j = 0; desc->builders->builders[j] != NULL; j++) {
		const ExordosPaasBuilder *b = desc->builders->builders[j];

		/* the statement wakes the engine, each row marks its instance */
		if (!check_builder(b, error) ||
		    !install_trigger(
			    conn, "exh_builder_notify", b->table, "STATEMENT", FALSE, error) ||
		    !install_trigger(conn, "exh_builder_mark", b->table, "ROW", TRUE, error))
			return FALSE;
	}
	return TRUE;
}

gboolean
exh_builder_prepare(ExhBuilder *builder, PGconn *conn, GError **error)
{
	for (guint i = 0; i < builder->plugins->len; i++) {
		const ExhBuilderPlugin *p = builder->plugins->pdata[i];

		if (!prepare_plugin(p->desc, conn, error))
			return FALSE;
	}
	/* per row: a statement that changed nothing (an idle tick's) notifies nobody;
	 * PostgreSQL folds a transaction's equal notifications into one */
	return install_trigger(
		conn, "exh_builder_targets_notify", TARGETS_TABLE, "ROW", FALSE, error);
}

/* ------------------------------------------------------------- thread */

static PGconn *
connect_db(const gchar *conninfo, GError **error)
{
	PGconn *conn = exh_pool_connect(conninfo, error);

	if (conn == NULL) {
		g_prefix_error(error, "builder database: ");
		return NULL;
	}
	PQsetNoticeProcessor(conn, exh_log_pg_notice, NULL);
	return conn;
}

static gboolean relisten_now(ExhBuilder *builder);
static gboolean schedule_soon(gpointer data);

/*
 * A build of a large payload takes tens of MB for a moment (the accounts, the
 * JSON trees, the text); glibc keeps what is freed for the next allocation,
 * in the engine thread's own arena, and the host's RSS would stay at its
 * peak for good.  Hand the free pages back after a tick that built anything
 * (cheap when nothing large was freed).
 */
static void
give_back(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* The tick's connection, (re)connected; the outage and the recovery are
 * logged once each, not once a tick. */
static gboolean
ensure_conn(ExhBuilder *builder)
{
	g_autoptr(GError) error = NULL;

	if (builder->conn != NULL && PQstatus(builder->conn) == CONNECTION_OK)
		return TRUE;
	g_clear_pointer(&builder->conn, PQfinish);
	builder->conn = connect_db(builder->conninfo, &error);
	if (builder->conn == NULL) {
		if (!builder->conn_down)
			exh_log(G_LOG_LEVEL_MESSAGE, NULL, "builder: %s", error->message);
		builder->conn_down = TRUE;
		return FALSE;
	}
	if (builder->conn_down)
		exh_log(G_LOG_LEVEL_MESSAGE, NULL, "builder: database connection re-established");
	builder->conn_down = FALSE;
	/* the database is back: so may be LISTEN, whatever its backoff says */
	if (builder->relisten != NULL)
		relisten_now(builder);
	return TRUE;
}

static void
run_tick(ExhBuilder *builder)
{
	g_autoptr(GError) error = NULL;
	ExhBuilderStats stats = { 0 };

	if (!ensure_conn(builder))
		return;
	if (g_get_monotonic_time() - builder->last_full >= FULL_PASS_US)
		exh_builder_request_full_pass(builder);
	g_atomic_int_inc(&builder->ticks);
	if (!exh_builder_tick(builder, builder->conn, &stats, &error))
		exh_log(G_LOG_LEVEL_MESSAGE, NULL, "builder tick: %s", error->message);
	else if (stats.written > 0 || stats.failed > 0)
		exh_log(G_LOG_LEVEL_DEBUG,
			NULL,
			"builder tick: %u built, %u failed, %u waiting, %u rows",
			stats.processed,
			stats.failed,
			stats.not_ready,
			stats.written);
	if (builder->largest >= RENEW_BYTES)
		g_clear_pointer(&builder->conn, PQfinish); /* the next tick connects again */
	builder->largest = 0;
	if (stats.processed + stats.failed + stats.not_ready > 0)
		give_back();
	/* marks or whole batches were left behind: go on soon, not in a second */
	if (builder->more)
		schedule_soon(builder);
}

static gboolean
tick_soon_cb(gpointer data)
{
	ExhBuilder *builder = data;

	g_clear_pointer(&builder->soon, g_source_unref);
	run_tick(builder);
	return G_SOURCE_REMOVE;
}

static gboolean
schedule_soon(gpointer data)
{
	ExhBuilder *builder = data;

	if (builder->soon != NULL || !builder->running)
		return G_SOURCE_REMOVE;
	builder->soon = g_timeout_source_new(TICK_SOON_MS);
	g_source_set_callback(builder->soon, tick_soon_cb, builder, NULL);
	g_source_attach(builder->soon, builder->context);
	return G_SOURCE_REMOVE;
}

static gboolean
periodic_cb(gpointer data)
{
	run_tick(data);
	return G_SOURCE_CONTINUE;
}

static void
drop_source(GSource **source)
{
	if (*source == NULL)
		return;
	g_source_destroy(*source);
	g_clear_pointer(source, g_source_unref);
}

/* ------------------------------------------------------------- LISTEN */

static void listen_lost(ExhBuilder *builder);

/*
 * A notification of a payload table from another connection is another
 * host's engine or API (or an agent's cascade): our own agents may have a new
 * payload, and only a wake tells them.  The engine's own writes wake them
 * after its tick; this host's own API writes woke them already (the owner's
 * own-pid hook tells them apart, else they are woken twice, which is only
 * work).  Any other table wakes the engine.
 */
static gboolean
listen_cb(gint fd, GIOCondition condition, gpointer data)
{
	ExhBuilder *builder = data;
	gint own = builder->conn != NULL ? PQbackendPID(builder->conn) : 0;
	gboolean tables = FALSE;
	gboolean targets = FALSE;
	gboolean cached = FALSE;
	PGnotify *notify;

	if (!PQconsumeInput(builder->listen) || PQstatus(builder->listen) != CONNECTION_OK) {
		listen_lost(builder);
		return G_SOURCE_REMOVE;
	}
	while ((notify = PQnotifies(builder->listen)) != NULL) {
		if (g_strcmp0(notify->extra, TARGETS_TABLE) != 0 &&
		    g_strcmp0(notify->extra, KEYS_TABLE) != 0)
			tables = TRUE;
		/* whoever wrote it, own writes included: forgetting is cheap */
		if (cache_table(notify->extra))
			cached = TRUE;
		if (payload_table(notify->extra) && notify->be_pid != own &&
		    (builder->own_pid == NULL ||
		     !builder->own_pid(notify->be_pid, builder->changed_data)))
			targets = TRUE;
		PQfreemem(notify);
	}
	if (cached)
		exh_ua_cache_invalidate();
	if (tables)
		schedule_soon(builder);
	if (targets && builder->changed != NULL)
		builder->changed(builder->changed_data);
	return G_SOURCE_CONTINUE;
}

static PGconn *
listen_connect(const gchar *conninfo, GError **error)
{
	g_autoptr(PGconn) conn = connect_db(conninfo, error);

	if (conn == NULL || !exh_builder_sql_command(conn, "LISTEN " EXH_UA_NOTIFY_CHANNEL, error))
		return NULL;
	return g_steal_pointer(&conn);
}

static void
listen_attach(ExhBuilder *builder)
{
	builder->listen_source =
		g_unix_fd_source_new(PQsocket(builder->listen), G_IO_IN | G_IO_HUP | G_IO_ERR);
	g_source_set_callback(builder->listen_source, G_SOURCE_FUNC(listen_cb), builder, NULL);
	g_source_attach(builder->listen_source, builder->context);
}

static gboolean
relisten_cb(gpointer data)
{
	ExhBuilder *builder = data;
	g_autoptr(GError) error = NULL;
	guint next;

	g_clear_pointer(&builder->relisten, g_source_unref);
	builder->listen = listen_connect(builder->conninfo, &error);
	if (builder->listen != NULL) {
		listen_attach(builder);
		tell_listening(builder, TRUE);
		exh_log(G_LOG_LEVEL_MESSAGE, NULL, "builder: LISTEN connection re-established");
		/* the marks were kept, but a full pass costs little once in a while */
		exh_builder_request_full_pass(builder);
		schedule_soon(builder);
		return G_SOURCE_REMOVE;
	}
	exh_log(G_LOG_LEVEL_DEBUG, NULL, "builder: LISTEN again: %s", error->message);
	/* jittered, so hosts sharing a database do not knock in step */
	next = builder->relisten_ms +
	       (guint)g_random_int_range(0, (gint32)(builder->relisten_ms / 4 + 1));
	builder->relisten = g_timeout_source_new(next);
	g_source_set_callback(builder->relisten, relisten_cb, builder, NULL);
	g_source_attach(builder->relisten, builder->context);
	builder->relisten_ms = MIN(builder->relisten_ms * 2, RELISTEN_MAX_MS);
	return G_SOURCE_REMOVE;
}

static gboolean
relisten_now(ExhBuilder *builder)
{
	drop_source(&builder->relisten);
	return relisten_cb(builder);
}

static void
listen_lost(ExhBuilder *builder)
{
	exh_log(G_LOG_LEVEL_MESSAGE,
		NULL,
		"builder: LISTEN connection lost; polling every tick until it is back");
	tell_listening(builder, FALSE);
	g_clear_pointer(&builder->listen_source, g_source_unref);
	g_clear_pointer(&builder->listen, PQfinish);
	builder->relisten_ms = RELISTEN_MIN_MS;
	builder->relisten = g_timeout_source_new(RELISTEN_MIN_MS);
	g_source_set_callback(builder->relisten, relisten_cb, builder, NULL);
	g_source_attach(builder->relisten, builder->context);
}

static void
backend_changed(ExhInfraBackend *backend, const gchar *node_set, gpointer data)
{
	ExhBuilder *builder = data;

	/* the next tick's infra sync looks at it (and a set's configs) */
	if (exm_uuid_is_valid(node_set))
		g_hash_table_add(builder->notified, g_strdup(node_set));
	schedule_soon(data);
}

static gboolean
stop_cb(gpointer data)
{
	ExhBuilder *builder = data;

	builder->running = FALSE;
	g_main_loop_quit(builder->loop);
	return G_SOURCE_REMOVE;
}

static gpointer
builder_thread(gpointer data)
{
	ExhBuilder *builder = data;
	g_autoptr(GSource) periodic = g_timeout_source_new(TICK_PERIOD_MS);

	g_main_context_push_thread_default(builder->context);
	g_source_set_callback(periodic, periodic_cb, builder, NULL);
	g_source_attach(periodic, builder->context);
	listen_attach(builder);
	run_tick(builder);
	g_main_loop_run(builder->loop);
	g_source_destroy(periodic);
	drop_source(&builder->listen_source);
	drop_source(&builder->relisten);
	drop_source(&builder->soon);
	g_main_context_pop_thread_default(builder->context);
	return NULL;
}

gboolean
exh_builder_start(ExhBuilder *builder, GError **error)
{
	g_return_val_if_fail(builder->thread == NULL, FALSE);
	builder->listen = listen_connect(builder->conninfo, error);
	if (builder->listen == NULL)
		return FALSE;
	builder->context = g_main_context_new();
	builder->loop = g_main_loop_new(builder->context, FALSE);
	builder->running = TRUE;
	if (builder->backend != NULL)
		exh_infra_backend_set_notify(
			builder->backend, builder->context, backend_changed, builder, NULL);
	/* before the thread: a loss it reports can only come after this */
	tell_listening(builder, TRUE);
	builder->thread = exh_thread_new_running("exh-builder", builder_thread, builder);
	return TRUE;
}

typedef struct {
	ExhBuilder *builder;
	ExhBuilderPlugin *plugin;
} LiveAdd;

static void
live_add_free(gpointer data)
{
	LiveAdd *add = data;

	g_free(add->plugin);
	g_free(add);
}

/* The engine's thread, between two ticks (or the stopping thread, after it). */
static gboolean
live_add_cb(gpointer data)
{
	LiveAdd *add = data;

	g_ptr_array_add(add->builder->plugins, g_steal_pointer(&add->plugin));
	schedule_soon(add->builder);
	return G_SOURCE_REMOVE;
}

gboolean
exh_builder_add_plugin_live(ExhBuilder *builder,
			    PGconn *conn,
			    const ExordosPaasPluginDescriptor *desc,
			    gpointer ctx,
			    GError **error)
{
	g_autoptr(GSource) source = NULL;
	LiveAdd *add;

	g_return_val_if_fail(desc->abi_minor >= 1 && desc->builders != NULL, FALSE);
	if (!prepare_plugin(desc, conn, error))
		return FALSE;
	if (builder->context == NULL) {
		exh_builder_add_plugin(builder, desc, ctx);
		return TRUE;
	}
	add = g_new0(LiveAdd, 1);
	add->builder = builder;
	add->plugin = g_new0(ExhBuilderPlugin, 1);
	add->plugin->desc = desc;
	add->plugin->ctx = ctx;
	/* a source, not g_main_context_invoke(): never run on the calling thread */
	source = g_idle_source_new();
	g_source_set_callback(source, live_add_cb, add, live_add_free);
	g_source_attach(source, builder->context);
	return TRUE;
}

void
exh_builder_wake(ExhBuilder *builder)
{
	if (builder->context != NULL)
		g_main_context_invoke(builder->context, schedule_soon, builder);
}

guint64
exh_builder_get_ticks(ExhBuilder *builder)
{
	return (guint64)g_atomic_int_get(&builder->ticks);
}

void
exh_builder_stop(ExhBuilder *builder)
{
	if (builder->thread == NULL)
		return;
	tell_listening(builder, FALSE);
	if (builder->backend != NULL)
		exh_infra_backend_set_notify(builder->backend, NULL, NULL, NULL, NULL);
	g_main_context_invoke(builder->context, stop_cb, builder);
	g_thread_join(g_steal_pointer(&builder->thread));
	/* again: a reconnection may have said "up" while it stopped */
	tell_listening(builder, FALSE);
	/* notifications the backend queued before the hook was unset */
	while (g_main_context_iteration(builder->context, FALSE))
		;
	g_clear_pointer(&builder->conn, PQfinish);
	g_clear_pointer(&builder->listen, PQfinish);
}

void
exh_builder_free(ExhBuilder *builder)
{
	if (builder == NULL)
		return;
	exh_builder_stop(builder);
	g_clear_pointer(&builder->loop, g_main_loop_unref);
	g_clear_pointer(&builder->context, g_main_context_unref);
	g_ptr_array_unref(builder->plugins);
	g_hash_table_unref(builder->applied);
	g_hash_table_unref(builder->refused);
	g_hash_table_unref(builder->infra);
	g_hash_table_unref(builder->notified);
	g_hash_table_unref(builder->cursors);
	g_free(builder->conninfo);
	g_free(builder);
}
