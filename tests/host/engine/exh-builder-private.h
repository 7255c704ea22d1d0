/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The builder engine's insides, shared by its files (not installed, not for
 * callers): the engine object, one tick's state, and the parts of a tick.
 *
 *   exh-builder.c        setup, the engine thread, wake-ups
 *   exh-builder-tick.c   one tick: the builders over their candidates (§9.3-9.6)
 *   exh-builder-view.c   the derivatives of an instance handed to build()
 *   exh-builder-sink.c   what build() hands back
 *   exh-builder-infra.c  the bridge to the infra backend (targets out, actuals in)
 *   exh-builder-sql.c    the SQL helpers of a tick
 */
#pragma once

#include "exh-builder.h"
#include "exordos-paas-builder.h"

G_BEGIN_DECLS

typedef struct {
	const ExordosPaasPluginDescriptor *desc;
	gpointer ctx;
} ExhBuilderPlugin;

struct _ExhBuilder {
	gchar *conninfo;
	ExhInfraBackend *backend; /* borrowed */
	GPtrArray *plugins;	  /* ExhBuilderPlugin* */
	gboolean plain;
	ExhBuilderChangedFunc changed;
	gpointer changed_data;
	ExhBuilderOwnPidFunc own_pid;	/* with changed_data */
	ExhBuilderListenFunc listening; /* with changed_data */
	GHashTable *applied;		/* res_uuid → hash handed to the backend; tick only */
	GHashTable *refused;		/* res_uuid → hash the backend refused; tick only */
	GHashTable *infra;		/* infra target uuid → ExhInfraEntry*; tick only */
	GHashTable *notified;  /* uuids the backend named since the last tick; engine thread */
	gboolean infra_full;   /* the next infra sync reads every target; tick only */
	gboolean full_running; /* the last tick was a full pass that goes on; tick only */

	GThread *thread;
	GMainContext *context;
	GMainLoop *loop;
	GSource *soon;
	PGconn *conn;
	gboolean conn_down; /* the last connection attempt failed (logged once) */
	PGconn *listen;
	GSource *listen_source;
	GSource *relisten; /* the next reconnection attempt of the LISTEN connection */
	guint relisten_ms; /* its backoff */
	gint ticks;	   /* atomic */
	gboolean running;
	GHashTable *cursors; /* ExordosPaasBuilder* → ExhBuilderCursor*; tick only */
	gsize largest;	     /* the largest value a tick moved; tick only */
	gint full_due;	     /* atomic: the next tick is a full pass */
	gint64 last_full;    /* monotonic time of the last full pass; tick only */
	gboolean more;	     /* the last tick left marks or batches behind; tick only */
};

/* The candidate sources of a builder (§9.3): new, updated, deleted, outdated,
 * derivatives moved, master outdated. */
#define EXH_BUILDER_SOURCES 6

/* Where each source's next batch starts: after the last uuid it handed out
 * (%NULL: from the first), so rows that cannot progress never keep the
 * others out of the batch. */
typedef struct {
	gchar *after[EXH_BUILDER_SOURCES];
	GHashTable *retry; /* uuids not built yet (not ready, failed): the next
			    * tick tries them again, this builder alone */
} ExhBuilderCursor;

void exh_builder_cursor_free(ExhBuilderCursor *cursor);

/* One tick's state. */
typedef struct {
	ExhBuilder *b;
	PGconn *conn;
	ExhBuilderStats *stats;
	gboolean full;	     /* every source's query (§9.3), else only the marks */
	gchar *marks;	     /* uuid[] literal of the marks this tick took */
	gboolean batch;	     /* a source or the marks filled a batch */
	GHashTable *touched; /* the instances the builders processed this tick */
} ExhBuilderTick;

/* What the infra bridge remembers of an infra target between ticks, so that
 * a tick looks only at the targets something happened to (docs/scale.md §6). */
typedef struct {
	gchar *kind;
	gchar *res_uuid;
	gchar *master;	  /* nullable */
	gchar *node;	  /* a config's node; NULL for a set */
	GStrv nodes;	  /* a set's nodes as last reported; nullable */
	gboolean settled; /* handed over and reported ACTIVE: nothing to poll */
} ExhInfraEntry;

void exh_builder_infra_entry_free(ExhInfraEntry *entry);

/* ---- exh-builder-sql.c */

/* A statement of the tick's transaction. */
PGresult *exh_builder_sql_exec(ExhBuilderTick *t,
			       const gchar *text,
			       gint n,
			       const gchar *const *params,
			       GError **error);
/* A statement whose affected rows count as writes. */
gboolean exh_builder_sql_write(ExhBuilderTick *t,
			       const gchar *text,
			       gint n,
			       const gchar *const *params,
			       GError **error);
/* A parameterless command (BEGIN, SAVEPOINT, …). */
gboolean exh_builder_sql_command(PGconn *conn, const gchar *text, GError **error);
/* (transfer full): `{"a","b"}`, a text[] literal of kinds (checked identifiers). */
gchar *exh_builder_sql_kinds(const gchar *const *kinds);

/* ---- exh-builder-view.c */

/* The derivatives of one instance with their actuals; strings live in @res. */
typedef struct {
	PGresult *res;
	ExordosPaasResource *targets;
	ExordosPaasResource *actuals;
	ExordosPaasResourcePair *pairs;
	const ExordosPaasResourcePair **list;
	gint n;
} ExhBuilderView;

void exh_builder_view_clear(ExhBuilderView *v);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ExhBuilderView, exh_builder_view_clear)

/* Loads the derivatives of instance @uuid (not the plugin's instance kinds). */
gboolean exh_builder_view_load(ExhBuilderTick *t,
			       const ExhBuilderPlugin *p,
			       const gchar *uuid,
			       ExhBuilderView *v,
			       GError **error);

/* The index of the derivative @kind/@uuid in @v, or -1. */
gint exh_builder_view_find(const ExhBuilderView *v, const gchar *kind, const gchar *uuid);

/* ---- exh-builder-sink.c */

/* One derivative build() wants. */
typedef struct {
	gchar *kind;
	gchar *uuid;
	gchar *res_uuid;
	gchar *value; /* canonical */
	gchar *hash;
	gchar *agent;
	gchar *node;
	gchar *status;
} ExhBuilderWant;

typedef struct {
	const ExordosPaasBuilder *builder;
	GPtrArray *wants; /* ExhBuilderWant* */
	gchar *value;
	gchar *status;
	gchar *patch;
	gchar *not_ready;
	gchar *bad;
} ExhBuilderSink;

/* Readies @s for builder @b and fills @abi, the sink build() gets. */
void exh_builder_sink_init(ExhBuilderSink *s,
			   const ExordosPaasBuilder *b,
			   ExordosPaasBuildSink *abi);
void exh_builder_sink_clear(ExhBuilderSink *s);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ExhBuilderSink, exh_builder_sink_clear)

/* The sink's not_ready(): @data is the #ExhBuilderSink. */
void exh_builder_sink_set_not_ready(gpointer data, const gchar *reason);

/* (transfer full) (nullable): canonical text of a JSON object; @out_hash its hash. */
gchar *exh_builder_sink_canonical(const gchar *text, gchar **out_hash);

/* ---- exh-builder-infra.c */

/* Hands the infra targets to the backend and writes back its actuals: every
 * target on a full pass, else only those the tick's marks, the backend's
 * notifications and (@end) the instances built name, and those not settled. */
gboolean exh_builder_infra_sync(ExhBuilderTick *t, gboolean end, GError **error);

G_END_DECLS
