/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The engine object: setup, the engine thread and its wake-ups (the tick
 * itself: exh-builder-tick.c).
 */
#include "exh-builder-private.h"

#include <glib-unix.h>
#include <string.h>

#include "exh-log.h"
#include "exh-ua-store.h"
#include "exm-cleanup.h"
#include "exm-error.h"

#define TICK_PERIOD_MS 1000
#define TICK_SOON_MS   10

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
	return builder;
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

gboolean
exh_builder_prepare(ExhBuilder *builder, PGconn *conn, GError **error)
{
	for (guint i = 0; i < builder->plugins->len; i++) {
		const ExhBuilderPlugin *p = builder->plugins->pdata[i];

		for (guint j = 0; p->desc->builders->builders[j] != NULL; j++) {
			const ExordosPaasBuilder *b = p->desc->builders->builders[j];
			g_autofree gchar *table = NULL;
			g_autofree gchar *text = NULL;

			if (!check_builder(b, error))
				return FALSE;
			table = PQescapeIdentifier(conn, b->table, strlen(b->table));
			text = g_strdup_printf(
				"CREATE OR REPLACE TRIGGER exh_builder_notify AFTER "
				"INSERT OR UPDATE OR DELETE ON %s FOR EACH STATEMENT "
				"EXECUTE FUNCTION exh_builder_notify()",
				table);
			if (!exh_builder_sql_command(conn, text, error))
				return FALSE;
		}
	}
	return TRUE;
}

/* ------------------------------------------------------------- thread */

static PGconn *
connect_db(const gchar *conninfo, GError **error)
{
	g_autoptr(PGconn) conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK) {
		g_autofree gchar *why = g_strstrip(g_strdup(PQerrorMessage(conn)));
		g_set_error(error, EXM_ERROR, EXM_ERROR_UNAVAILABLE, "builder database: %s", why);
		return NULL;
	}
	PQsetNoticeProcessor(conn, exh_log_pg_notice, NULL);
	if (!exh_builder_sql_command(conn, "SET TIME ZONE 'UTC'", error))
		return NULL;
	return g_steal_pointer(&conn);
}

static void
run_tick(ExhBuilder *builder)
{
	g_autoptr(GError) error = NULL;
	ExhBuilderStats stats = { 0 };

	if (builder->conn == NULL || PQstatus(builder->conn) != CONNECTION_OK) {
		g_clear_pointer(&builder->conn, PQfinish);
		builder->conn = connect_db(builder->conninfo, &error);
		if (builder->conn == NULL) {
			exh_log(G_LOG_LEVEL_MESSAGE, NULL, "builder: %s", error->message);
			return;
		}
	}
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

static gboolean
listen_cb(gint fd, GIOCondition condition, gpointer data)
{
	ExhBuilder *builder = data;
	PGnotify *notify;
	gboolean any = FALSE;

	if (!PQconsumeInput(builder->listen)) {
		exh_log(G_LOG_LEVEL_MESSAGE, NULL, "builder: LISTEN connection lost; polling only");
		return G_SOURCE_REMOVE;
	}
	while ((notify = PQnotifies(builder->listen)) != NULL) {
		any = TRUE;
		PQfreemem(notify);
	}
	if (any)
		schedule_soon(builder);
	return G_SOURCE_CONTINUE;
}

static void
backend_changed(ExhInfraBackend *backend, const gchar *node_set, gpointer data)
{
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
	g_autoptr(GSource) listen = NULL;

	g_main_context_push_thread_default(builder->context);
	g_source_set_callback(periodic, periodic_cb, builder, NULL);
	g_source_attach(periodic, builder->context);
	if (builder->listen != NULL) {
		listen = g_unix_fd_source_new(PQsocket(builder->listen), G_IO_IN);
		g_source_set_callback(listen, G_SOURCE_FUNC(listen_cb), builder, NULL);
		g_source_attach(listen, builder->context);
	}
	run_tick(builder);
	g_main_loop_run(builder->loop);
	g_source_destroy(periodic);
	if (listen != NULL)
		g_source_destroy(listen);
	if (builder->soon != NULL) {
		g_source_destroy(builder->soon);
		g_clear_pointer(&builder->soon, g_source_unref);
	}
	g_main_context_pop_thread_default(builder->context);
	return NULL;
}

gboolean
exh_builder_start(ExhBuilder *builder, GError **error)
{
	g_return_val_if_fail(builder->thread == NULL, FALSE);
	builder->listen = connect_db(builder->conninfo, error);
	if (builder->listen == NULL ||
	    !exh_builder_sql_command(builder->listen, "LISTEN " EXH_UA_NOTIFY_CHANNEL, error)) {
		g_clear_pointer(&builder->listen, PQfinish);
		return FALSE;
	}
	builder->context = g_main_context_new();
	builder->loop = g_main_loop_new(builder->context, FALSE);
	builder->running = TRUE;
	if (builder->backend != NULL)
		exh_infra_backend_set_notify(
			builder->backend, builder->context, backend_changed, builder, NULL);
	builder->thread = g_thread_new("exh-builder", builder_thread, builder);
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
	if (builder->backend != NULL)
		exh_infra_backend_set_notify(builder->backend, NULL, NULL, NULL, NULL);
	g_main_context_invoke(builder->context, stop_cb, builder);
	g_thread_join(g_steal_pointer(&builder->thread));
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
	g_free(builder->conninfo);
	g_free(builder);
}
