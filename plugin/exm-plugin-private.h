/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Internals of the mail plugin shared between its source files.  Nothing here
 * is exported from the .so.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>

#include "exm-rest.h"
#include "exordos-paas-plugin.h"

G_BEGIN_DECLS

/* Route tags: which kind serves a route. */
typedef enum {
	EXM_PLUGIN_ROUTE_INDEX,
	EXM_PLUGIN_ROUTE_VERSIONS,
	EXM_PLUGIN_ROUTE_INSTANCES,
	EXM_PLUGIN_ROUTE_ACCOUNTS,
} ExmPluginRouteTag;

typedef struct _ExmPluginRequest ExmPluginRequest;
typedef struct _ExmPluginKind ExmPluginKind;

/* A column value to write: @text is its canonical SQL text, %NULL for NULL. */
typedef struct {
	const ExmRestField *field;
	gchar *text;
} ExmPluginSet;

/* A loaded row: canonical text per field index (%NULL for SQL NULL or for a
 * field without a column). */
typedef struct {
	const ExmRestModel *model;
	gchar **raw;
	guint n_fields;
} ExmPluginRow;

/**
 * ExmPluginKind:
 * @model: fields, table, names
 * @route: the route serving it
 * @policy: IAM prefix, e.g. `exordos_mail.mail_instance`
 * @scoped: rows carry `project_id` and a scoped identity sees its own only
 * @parent_field: for a nested kind, the column holding the parent's uuid
 * @prepare: model rules on create (@row %NULL) and update: validates and
 *   normalises @sets, may add to it; runs after the policy checks
 * @before_write: called before any row of the kind is written (locks)
 * @before_delete: called before the row is deleted (cascades)
 * @after_write: called after a row was created, changed or deleted
 */
struct _ExmPluginKind {
	const ExmRestModel *model;
	ExmPluginRouteTag tag;
	const gchar *policy;
	gboolean scoped;
	const gchar *parent_field;
	gboolean (*prepare)(ExmPluginRequest *r,
			    const ExmRestBody *body,
			    const ExmPluginRow *row,
			    GPtrArray *sets,
			    GError **error);
	gboolean (*before_write)(ExmPluginRequest *r, GError **error);
	gboolean (*before_delete)(ExmPluginRequest *r, const ExmPluginRow *row, GError **error);
	gboolean (*after_write)(ExmPluginRequest *r, GError **error);
};

/* The plugin context from init: immutable afterwards, shared by all threads. */
typedef struct {
	const ExordosPaasHost *host;
	gchar *columns[4];     /* SELECT lists per ExmPluginRouteTag, for answers */
	gchar *all_columns[4]; /* the same with hidden-on-read columns, for updates */
} ExmPlugin;

/* One dispatch: everything a handler needs, owned by the dispatching thread. */
struct _ExmPluginRequest {
	ExmPlugin *plugin;
	const ExordosPaasRestRequest *req;
	PGconn *db;
	const gchar *mount;
	const gchar *project; /* identity's project scope, or NULL */
	ExmRestEnforcer *enforcer;
	ExmRestResponse *resp;
	ExmRestMatch *match;
	ExmPluginRow *parent; /* the instance of a nested account route */
	gint64 now;	      /* µs since the epoch, one clock reading per request */
};

/* exm-plugin.c */
const ExordosPaasPluginDescriptor *exm_plugin_get_descriptor(void);
extern const ExmRestModel exm_plugin_version_model;
extern const ExmRestModel exm_plugin_instance_model;
extern const ExmRestModel exm_plugin_account_model;
const ExmPluginKind *exm_plugin_kind_for_tag(ExmPluginRouteTag tag);
void exm_plugin_log(ExmPluginRequest *r, ExordosPaasLogLevel level, const gchar *fmt, ...)
	G_GNUC_PRINTF(3, 4);
gboolean exm_plugin_enforce(ExmPluginRequest *r,
			    const gchar *policy,
			    const gchar *action,
			    GError **error);

/* exm-plugin-store.c */
gchar *exm_plugin_store_columns(const ExmRestModel *model, gboolean with_hidden);
PGresult *exm_plugin_store_exec(ExmPluginRequest *r,
				const ExmRestModel *model,
				const gchar *sql,
				GPtrArray *params,
				GError **error);
ExmPluginRow *exm_plugin_store_row_new(const ExmRestModel *model,
				       PGresult *res,
				       gint row,
				       gboolean with_hidden);
void exm_plugin_store_row_free(ExmPluginRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmPluginRow, exm_plugin_store_row_free)
const gchar *exm_plugin_store_row_get(const ExmPluginRow *row, const gchar *name);
void exm_plugin_store_row_write(GString *out,
				const ExmPluginRow *row,
				const gchar *mount,
				GPtrArray *fields);
gchar *exm_plugin_store_value_text(const ExmRestValue *value);
void exm_plugin_store_append_write_expr(GString *sql, ExmRestType type, guint n);
ExmPluginSet *exm_plugin_store_sets_find(GPtrArray *sets, const gchar *name);
void exm_plugin_store_sets_put(GPtrArray *sets,
			       const ExmRestModel *model,
			       const gchar *name,
			       const gchar *text);
GPtrArray *exm_plugin_store_sets_new(void);
void exm_plugin_store_parse_text_list(const gchar *json, GPtrArray *out);

/* exm-plugin-crud.c */
void exm_plugin_crud_dispatch(ExmPluginRequest *r, const ExmPluginKind *kind);
ExmPluginRow *exm_plugin_crud_load(ExmPluginRequest *r,
				   const ExmPluginKind *kind,
				   const gchar *id,
				   gboolean for_update,
				   GError **error);

/* exm-plugin-mail.c */
extern const ExmPluginKind exm_plugin_mail_versions;
extern const ExmPluginKind exm_plugin_mail_instances;
extern const ExmPluginKind exm_plugin_mail_accounts;
gboolean exm_plugin_mail_load_parent(ExmPluginRequest *r, const gchar *id, GError **error);

G_END_DECLS
