/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-types.h"

#include "exh-host-private.h"
#include "exh-log.h"
#include "exh-thread.h"
#include "exm-cleanup.h"
#include "exm-time.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PASS_PERIOD_US G_USEC_PER_SEC

struct _ExhTypes {
	ExhHost *host; /* borrowed */
	GThread *thread;
	GMutex lock;
	GCond cond;
	gboolean stop;	   /* under lock */
	gboolean wake;	   /* under lock */
	JsonNode *rows;	   /* under lock: the array of the last pass */
	PGconn *conn;	   /* the passes' own connection */
	gchar *last_error; /* the last pass failure logged, so it is logged once */
};

/* One row of metapaas_paas_types, as the columns of ROWS_SQL. */
enum {
	COL_UUID,
	COL_NAME,
	COL_DESCRIPTION,
	COL_PROJECT,
	COL_ELEMENT,
	COL_PACKAGE,
	COL_VERSION,
	COL_INDEX_URL,
	COL_STATUS,
	COL_CREATED,
	COL_UPDATED,
	COL_ATTEMPT,
	N_COLS
};

#define ROWS_SQL                                                                                   \
	"SELECT t.uuid, t.name, t.description, t.project_id, t.element_name, t.package, "          \
	"t.version, t.index_url, t.status, "                                                       \
	"(extract(epoch FROM t.created_at) * 1000000)::bigint, "                                   \
	"(extract(epoch FROM t.updated_at) * 1000000)::bigint, e.attempt "                         \
	"FROM metapaas_paas_types t LEFT JOIN exh_paas_type_errors e USING (uuid) "                \
	"ORDER BY t.created_at, t.uuid"

typedef struct {
	const gchar *col[N_COLS];
	gchar *attempt; /* what this pass tries: name, element, package, version */
} Row;

ExhTypes *
exh_types_new(ExhHost *host)
{
	ExhTypes *types = g_new0(ExhTypes, 1);

	types->host = host;
	g_mutex_init(&types->lock);
	g_cond_init(&types->cond);
	return types;
}

/* ------------------------------------------------------------- trust */

static gboolean
owner_is_trusted(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

static gboolean
check_stat(const gchar *path, const struct stat *st, gboolean want_dir, GError **error)
{
	const gchar *what = want_dir ? "plugin directory" : "plugin";

	if (want_dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode)) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_PLUGIN,
			    "%s %s is not a %s (links are refused)",
			    what,
			    path,
			    want_dir ? "directory" : "regular file");
		return FALSE;
	}
	if (!owner_is_trusted(st->st_uid)) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_PLUGIN,
			    "%s %s is owned by uid %u, neither root nor the host's user",
			    what,
			    path,
			    (guint)st->st_uid);
		return FALSE;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_PLUGIN,
			    "%s %s is writable by its group or others (mode %04o)",
			    what,
			    path,
			    (guint)(st->st_mode & 07777));
		return FALSE;
	}
	return TRUE;
}

/* A file name of the plugin directory: no path, no hidden file. */
static gboolean
name_is_plain(const gchar *name)
{
	gsize len = strlen(name);

	return len > 0 && len <= 255 && name[0] != '.' &&
	       strspn(name,
		      "abcdefghijklmnopqrstuvwxyz"
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-") == len;
}

gchar *
exh_types_check_file(const gchar *dir, const gchar *name, GError **error)
{
	g_autofree gchar *path = NULL;
	struct stat st;

	if (!name_is_plain(name)) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_PLUGIN,
			    "package %s is not a file name of the plugin directory",
			    name);
		return NULL;
	}
	if (lstat(dir, &st) != 0) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_PLUGIN,
			    "plugin directory %s: %s",
			    dir,
			    g_strerror(errno));
		return NULL;
	}
	if (!check_stat(dir, &st, TRUE, error))
		return NULL;
	path = g_build_filename(dir, name, NULL);
	if (lstat(path, &st) != 0) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_PLUGIN,
			    "no plugin %s in %s: %s",
			    name,
			    dir,
			    g_strerror(errno));
		return NULL;
	}
	if (!check_stat(path, &st, FALSE, error))
		return NULL;
	return g_steal_pointer(&path);
}

/* ------------------------------------------------------------- a row */

/* Why @plugin cannot serve @row, or %NULL when it can. */
static gchar *
mismatch(const ExhPlugin *plugin, const Row *row)
{
	const ExordosPaasPluginDescriptor *desc = plugin->desc;
	g_autofree gchar *file = g_path_get_basename(plugin->path);

	if (g_strcmp0(desc->slug, row->col[COL_NAME]) != 0)
		return g_strdup_printf("plugin %s has slug %s, the row names %s",
				       file,
				       desc->slug,
				       row->col[COL_NAME]);
	if (g_strcmp0(file, row->col[COL_PACKAGE]) != 0)
		return g_strdup_printf("type %s is served by %s, the row names %s",
				       desc->slug,
				       file,
				       row->col[COL_PACKAGE]);
	if (g_strcmp0(desc->element, row->col[COL_ELEMENT]) != 0)
		return g_strdup_printf("plugin %s is of element %s, the row names %s",
				       file,
				       desc->element,
				       row->col[COL_ELEMENT]);
	/* an empty version pins nothing (upstream's default) */
	if (*row->col[COL_VERSION] != '\0' && g_strcmp0(desc->version, row->col[COL_VERSION]) != 0)
		return g_strdup_printf("plugin %s is version %s, the row asks for %s",
				       file,
				       desc->version,
				       row->col[COL_VERSION]);
	return NULL;
}

/* Migrations, init, builders, mount: the plugin goes live. */
static gboolean
go_live(ExhTypes *types, ExhPlugin *plugin, GError **error)
{
	ExhHost *host = types->host;

	if (!exh_host_migrate_plugin(host, types->conn, plugin, error) ||
	    !exh_plugin_init(plugin, host->config->project_id, error))
		return FALSE;
	if (host->ua != NULL &&
	    !exh_ua_add_plugin_live(host->ua, types->conn, plugin->desc, plugin->ctx, error))
		return FALSE;
	exh_host_mount_plugin(host, plugin);
	return TRUE;
}

/* The row's plugin loaded and mounted; %FALSE with the reason in @error. */
static gboolean
install(ExhTypes *types, const Row *row, GError **error)
{
	const gchar *dir = types->host->config->plugin_dir;
	g_autofree gchar *path = NULL;
	g_autofree gchar *reason = NULL;
	g_autoptr(ExhPlugin) plugin = NULL;

	if (dir == NULL) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_PLUGIN,
			    "no plugin %s is loaded and no plugin directory is configured "
			    "([host] plugin_dir)",
			    row->col[COL_PACKAGE]);
		return FALSE;
	}
	path = exh_types_check_file(dir, row->col[COL_PACKAGE], error);
	if (path == NULL)
		return FALSE;
	plugin = exh_plugin_load(path, error);
	if (plugin == NULL)
		return FALSE;
	reason = mismatch(plugin, row);
	if (reason != NULL) {
		g_set_error_literal(error, EXH_ERROR, EXH_ERROR_PLUGIN, reason);
		return FALSE;
	}
	return go_live(types, plugin, error);
}

static PGresult *
exec_params(PGconn *conn, const gchar *sql, gint n, const gchar *const *values, GError **error)
{
	g_autoptr(PGresult) res = PQexecParams(conn, sql, n, NULL, values, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		g_autofree gchar *why = g_strstrip(g_strdup(PQresultErrorMessage(res)));
		g_set_error(error, EXH_ERROR, EXH_ERROR_DB, "type registry: %s", why);
		return NULL;
	}
	return g_steal_pointer(&res);
}

static gboolean
mark_active(ExhTypes *types, const Row *row, GError **error)
{
	const gchar *values[] = { row->col[COL_UUID] };
	g_autoptr(PGresult) res = NULL;

	if (g_str_equal(row->col[COL_STATUS], "ACTIVE") && row->col[COL_ATTEMPT] == NULL)
		return TRUE;
	res = exec_params(types->conn,
			  "WITH e AS (DELETE FROM exh_paas_type_errors WHERE uuid = $1) "
			  "UPDATE metapaas_paas_types SET status = 'ACTIVE', "
			  "updated_at = now() AT TIME ZONE 'utc' "
			  "WHERE uuid = $1 AND status <> 'ACTIVE'",
			  1,
			  values,
			  error);
	if (res != NULL)
		exh_log(G_LOG_LEVEL_INFO,
			NULL,
			"type %s (%s): ACTIVE",
			row->col[COL_NAME],
			row->col[COL_UUID]);
	return res != NULL;
}

static gboolean
mark_error(ExhTypes *types, const Row *row, const gchar *reason, GError **error)
{
	const gchar *values[] = { row->col[COL_UUID], reason, row->attempt };
	g_autoptr(PGresult) res = exec_params(
		types->conn,
		"WITH e AS (INSERT INTO exh_paas_type_errors (uuid, reason, attempt) "
		"VALUES ($1, $2, $3) ON CONFLICT (uuid) DO UPDATE SET reason = EXCLUDED.reason, "
		"attempt = EXCLUDED.attempt) "
		"UPDATE metapaas_paas_types SET status = 'ERROR', "
		"updated_at = now() AT TIME ZONE 'utc' WHERE uuid = $1",
		3,
		values,
		error);

	if (res != NULL)
		exh_log(G_LOG_LEVEL_MESSAGE,
			NULL,
			"type %s (%s): ERROR: %s",
			row->col[COL_NAME],
			row->col[COL_UUID],
			reason);
	return res != NULL;
}

/*
 * One row.  A row already refused for what it asks now is left alone (a new
 * pass would only refuse it again; writing the row, or setting its status to
 * NEW, asks again).
 */
static gboolean
reconcile_row(ExhTypes *types, Row *row, gboolean *wrote, GError **error)
{
	g_autoptr(ExhPlugin) served = NULL;
	g_autoptr(GError) refused = NULL;
	g_autofree gchar *reason = NULL;

	if (g_str_equal(row->col[COL_STATUS], "ERROR") &&
	    g_strcmp0(row->col[COL_ATTEMPT], row->attempt) == 0)
		return TRUE;
	served = exh_host_find_plugin(types->host, row->col[COL_NAME]);
	if (served != NULL)
		reason = mismatch(served, row);
	else if (!install(types, row, &refused))
		reason = g_strdup(refused->message);
	if (reason != NULL) {
		*wrote = TRUE;
		return mark_error(types, row, reason, error);
	}
	*wrote = *wrote || !g_str_equal(row->col[COL_STATUS], "ACTIVE") ||
		 row->col[COL_ATTEMPT] != NULL;
	return mark_active(types, row, error);
}

/* ------------------------------------------------------------- the rows */

static void
add_member(JsonBuilder *b, const gchar *name, const gchar *value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_string_value(b, value);
}

static void
add_time(JsonBuilder *b, const gchar *name, const gchar *usec)
{
	g_autofree gchar *text = exm_time_format(g_ascii_strtoll(usec, NULL, 10));

	add_member(b, name, text);
}

/* Upstream's PaaSType resource. */
static void
add_row_json(JsonBuilder *b, const Row *row)
{
	json_builder_begin_object(b);
	add_member(b, "uuid", row->col[COL_UUID]);
	add_member(b, "name", row->col[COL_NAME]);
	add_member(b, "description", row->col[COL_DESCRIPTION]);
	add_member(b, "project_id", row->col[COL_PROJECT]);
	add_time(b, "created_at", row->col[COL_CREATED]);
	add_time(b, "updated_at", row->col[COL_UPDATED]);
	add_member(b, "element_name", row->col[COL_ELEMENT]);
	add_member(b, "package", row->col[COL_PACKAGE]);
	add_member(b, "version", row->col[COL_VERSION]);
	add_member(b, "index_url", row->col[COL_INDEX_URL]);
	add_member(b, "status", row->col[COL_STATUS]);
	json_builder_end_object(b);
}

static void
row_fill(Row *row, PGresult *res, gint i)
{
	for (gint c = 0; c < N_COLS; c++)
		row->col[c] = PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
	row->attempt = g_strjoin("\n",
				 row->col[COL_NAME],
				 row->col[COL_ELEMENT],
				 row->col[COL_PACKAGE],
				 row->col[COL_VERSION],
				 NULL);
}

static void
store_rows(ExhTypes *types, PGresult *res)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_array(b);
	for (gint i = 0; i < PQntuples(res); i++) {
		Row row = { 0 };

		row_fill(&row, res, i);
		add_row_json(b, &row);
		g_free(row.attempt);
	}
	json_builder_end_array(b);
	g_mutex_lock(&types->lock);
	g_clear_pointer(&types->rows, json_node_unref);
	types->rows = json_builder_get_root(b);
	g_mutex_unlock(&types->lock);
}

static gboolean
pass(ExhTypes *types, GError **error)
{
	g_autoptr(PGresult) res = exec_params(types->conn, ROWS_SQL, 0, NULL, error);
	gboolean wrote = FALSE;

	if (res == NULL)
		return FALSE;
	for (gint i = 0; i < PQntuples(res); i++) {
		Row row = { 0 };
		gboolean ok;

		row_fill(&row, res, i);
		ok = reconcile_row(types, &row, &wrote, error);
		g_free(row.attempt);
		if (!ok)
			return FALSE;
	}
	if (wrote) {
		g_clear_pointer(&res, PQclear);
		res = exec_params(types->conn, ROWS_SQL, 0, NULL, error);
		if (res == NULL)
			return FALSE;
	}
	store_rows(types, res);
	return TRUE;
}

gboolean
exh_types_reconcile(ExhTypes *types, GError **error)
{
	if (types->conn != NULL && PQstatus(types->conn) != CONNECTION_OK)
		g_clear_pointer(&types->conn, PQfinish);
	if (types->conn == NULL) {
		types->conn = exh_pool_connect(types->host->config->conninfo, error);
		if (types->conn == NULL)
			return FALSE;
		PQsetNoticeProcessor(types->conn, exh_log_pg_notice, NULL);
	}
	return pass(types, error);
}

/* ------------------------------------------------------------- thread */

static void
run_pass(ExhTypes *types)
{
	g_autoptr(GError) error = NULL;
	const gchar *why;

	if (exh_types_reconcile(types, &error)) {
		if (types->last_error != NULL)
			exh_log(G_LOG_LEVEL_MESSAGE, NULL, "type registry: reconciling again");
		g_clear_pointer(&types->last_error, g_free);
		return;
	}
	/* one line per distinct failure, not one a second */
	why = error != NULL ? error->message : "failed";
	if (g_strcmp0(types->last_error, why) != 0)
		exh_log(G_LOG_LEVEL_MESSAGE, NULL, "type registry: %s", why);
	g_free(types->last_error);
	types->last_error = g_strdup(why);
}

static gpointer
types_thread(gpointer data)
{
	ExhTypes *types = data;

	g_mutex_lock(&types->lock);
	while (!types->stop) {
		gint64 until;

		types->wake = FALSE;
		g_mutex_unlock(&types->lock);
		run_pass(types);
		g_mutex_lock(&types->lock);
		until = g_get_monotonic_time() + PASS_PERIOD_US;
		while (!types->stop && !types->wake)
			if (!g_cond_wait_until(&types->cond, &types->lock, until))
				break;
	}
	g_mutex_unlock(&types->lock);
	return NULL;
}

void
exh_types_start(ExhTypes *types)
{
	g_return_if_fail(types->thread == NULL);
	types->stop = FALSE;
	types->thread = exh_thread_new_running("exh-types", types_thread, types);
}

void
exh_types_wake(ExhTypes *types)
{
	g_mutex_lock(&types->lock);
	types->wake = TRUE;
	g_cond_signal(&types->cond);
	g_mutex_unlock(&types->lock);
}

void
exh_types_stop(ExhTypes *types)
{
	if (types->thread == NULL)
		return;
	g_mutex_lock(&types->lock);
	types->stop = TRUE;
	g_cond_signal(&types->cond);
	g_mutex_unlock(&types->lock);
	g_thread_join(g_steal_pointer(&types->thread));
	g_clear_pointer(&types->conn, PQfinish);
}

void
exh_types_free(ExhTypes *types)
{
	if (types == NULL)
		return;
	exh_types_stop(types);
	g_clear_pointer(&types->conn, PQfinish);
	g_clear_pointer(&types->rows, json_node_unref);
	g_free(types->last_error);
	g_mutex_clear(&types->lock);
	g_cond_clear(&types->cond);
	g_free(types);
}

static gboolean
row_matches(JsonObject *row, const gchar *project, const gchar *uuid)
{
	return (project == NULL ||
		g_strcmp0(json_object_get_string_member(row, "project_id"), project) == 0) &&
	       (uuid == NULL || g_strcmp0(json_object_get_string_member(row, "uuid"), uuid) == 0);
}

JsonNode *
exh_types_json(ExhTypes *types, const gchar *project, const gchar *uuid)
{
	g_autoptr(JsonNode) list = json_node_new(JSON_NODE_ARRAY);
	JsonArray *out = json_array_new();
	g_autoptr(JsonNode) one = NULL;

	json_node_take_array(list, out);
	g_mutex_lock(&types->lock);
	for (guint i = 0;
	     types->rows != NULL && i < json_array_get_length(json_node_get_array(types->rows));
	     i++) {
		JsonNode *node = json_array_get_element(json_node_get_array(types->rows), i);

		if (!row_matches(json_node_get_object(node), project, uuid))
			continue;
		if (uuid != NULL) {
			one = json_node_copy(node);
			break;
		}
		json_array_add_element(out, json_node_copy(node));
	}
	g_mutex_unlock(&types->lock);
	return uuid != NULL ? g_steal_pointer(&one) : g_steal_pointer(&list);
}
