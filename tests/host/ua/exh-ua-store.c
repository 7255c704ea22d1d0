/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-ua-store.h"

#include "exh-log.h"
#include "exh-ua-cache.h"
#include "exm-cleanup.h"
#include "exm-error.h"
#include "exm-json.h"
#include "exm-proto.h"
#include "exm-time.h"
#include "exm-uuid.h"

#include <stdlib.h>
#include <string.h>

static const gchar *const no_depends[] = { NULL };

/*
 * gcl_sdk migrations 0001, 0003, 0004 and 0005 folded into one step (the
 * schema of docs/agent-protocol.md §11), plus the statement trigger that wakes the
 * builder engine when an agent reports or registers.
 */
static const gchar ua_up_sql[] =
	"CREATE TYPE enum_agent_status AS ENUM ('NEW', 'ACTIVE', 'ERROR', 'DISABLED');"
	"CREATE TABLE ua_agents ("
	" uuid UUID PRIMARY KEY,"
	" name VARCHAR(255) NOT NULL DEFAULT '',"
	" description VARCHAR(255) NOT NULL DEFAULT '',"
	" capabilities JSONB NOT NULL DEFAULT '{\"capabilities\": []}',"
	" facts JSONB NOT NULL DEFAULT '{\"facts\": []}',"
	" node UUID NOT NULL,"
	" status enum_agent_status NOT NULL DEFAULT 'NEW',"
	" created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),"
	" updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'));"
	"CREATE INDEX ua_agents_node_idx ON ua_agents (node);"
	"CREATE TABLE ua_actual_resources ("
	" uuid UUID NOT NULL,"
	" kind VARCHAR(64) NOT NULL,"
	" res_uuid UUID PRIMARY KEY,"
	" value JSONB NOT NULL DEFAULT '{}',"
	" status VARCHAR(32) NOT NULL DEFAULT 'ACTIVE',"
	" node UUID NULL,"
	" hash VARCHAR(256) NOT NULL DEFAULT '',"
	" full_hash VARCHAR(256) NOT NULL DEFAULT '',"
	" created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),"
	" updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),"
	" UNIQUE (uuid, kind));"
	"CREATE INDEX ua_actual_resources_kind_idx ON ua_actual_resources (kind);"
	"CREATE INDEX ua_actual_resources_node_idx ON ua_actual_resources (node);"
	"CREATE INDEX ua_actual_resources_full_hash_idx ON ua_actual_resources (full_hash);"
	"CREATE TABLE ua_target_resources ("
	" uuid UUID NOT NULL,"
	" kind VARCHAR(64) NOT NULL,"
	" res_uuid UUID PRIMARY KEY,"
	" value JSONB NOT NULL DEFAULT '{}',"
	" status VARCHAR(32) NOT NULL DEFAULT 'ACTIVE',"
	" hash VARCHAR(256) NOT NULL DEFAULT '',"
	" full_hash VARCHAR(256) NOT NULL DEFAULT '',"
	" node UUID NULL,"
	" agent UUID NULL REFERENCES ua_agents (uuid) ON DELETE CASCADE,"
	" master UUID NULL,"
	" tracked_at TIMESTAMP NULL,"
	" master_hash VARCHAR(256) NOT NULL DEFAULT '',"
	" master_full_hash VARCHAR(256) NOT NULL DEFAULT '',"
	" created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),"
	" updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),"
	" UNIQUE (uuid, kind));"
	"CREATE INDEX ua_target_resources_kind_idx ON ua_target_resources (kind);"
	"CREATE INDEX ua_target_resources_agent_idx ON ua_target_resources (agent);"
	"CREATE INDEX ua_target_resources_master_idx ON ua_target_resources (master);"
	"CREATE INDEX ua_target_resources_hash_idx ON ua_target_resources (hash);"
	"CREATE INDEX ua_target_resources_full_hash_idx ON ua_target_resources (full_hash);"
	"CREATE TABLE ua_tracked_resources ("
	" uuid UUID PRIMARY KEY,"
	" watcher UUID NOT NULL REFERENCES ua_target_resources (res_uuid) ON DELETE CASCADE,"
	" target UUID NOT NULL REFERENCES ua_target_resources (res_uuid) ON DELETE CASCADE,"
	" watcher_kind VARCHAR(64) NOT NULL,"
	" target_kind VARCHAR(64) NOT NULL,"
	" tracked_at TIMESTAMP NOT NULL,"
	" created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),"
	" updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),"
	" UNIQUE (watcher, target));"
	"CREATE VIEW ua_resource_pair_view AS"
	" SELECT t.uuid, t.kind, t.res_uuid, t.res_uuid AS target_resource,"
	" a.res_uuid AS actual_resource"
	" FROM ua_target_resources t LEFT JOIN ua_actual_resources a ON a.res_uuid = t.res_uuid;"
	"CREATE VIEW ua_outdated_resources_view AS"
	" SELECT t.uuid, t.kind, t.res_uuid AS target_resource, a.res_uuid AS actual_resource"
	" FROM ua_target_resources t JOIN ua_actual_resources a ON a.res_uuid = t.res_uuid"
	" WHERE t.full_hash <> a.full_hash;"
	"CREATE VIEW ua_outdated_master_hash_resources_view AS"
	" SELECT t.uuid, t.kind, t.res_uuid AS target_resource, t.master"
	" FROM ua_target_resources t JOIN ua_target_resources m"
	" ON m.uuid = t.master AND m.res_uuid <> t.res_uuid WHERE t.master_hash <> m.hash;"
	"CREATE VIEW ua_outdated_master_full_hash_resources_view AS"
	" SELECT t.uuid, t.kind, t.res_uuid AS target_resource, t.master"
	" FROM ua_target_resources t JOIN ua_target_resources m"
	" ON m.uuid = t.master AND m.res_uuid <> t.res_uuid"
	" WHERE t.master_full_hash <> m.full_hash;"
	"CREATE VIEW ua_outdated_tracked_resources_view AS"
	" SELECT r.uuid, r.uuid AS tracked_resource, r.watcher_kind, r.tracked_at,"
	" t.updated_at AS target_updated_at"
	" FROM ua_tracked_resources r JOIN ua_target_resources t ON t.res_uuid = r.target"
	" WHERE r.tracked_at <> t.updated_at;"
	"CREATE TABLE ua_node_encryption_keys ("
	" uuid UUID PRIMARY KEY,"
	" private_key CHAR(44) NOT NULL,"
	" encryption_disabled_until TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),"
	" created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),"
	" updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'));"
	"CREATE FUNCTION exh_builder_notify() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN PERFORM pg_notify('" EXH_UA_NOTIFY_CHANNEL "', TG_TABLE_NAME); RETURN NULL; END"
	" $$;"
	"CREATE TRIGGER ua_actual_resources_notify AFTER INSERT OR UPDATE OR DELETE"
	" ON ua_actual_resources FOR EACH STATEMENT EXECUTE FUNCTION exh_builder_notify();"
	"CREATE TRIGGER ua_agents_notify AFTER INSERT OR UPDATE OR DELETE"
	" ON ua_agents FOR EACH STATEMENT EXECUTE FUNCTION exh_builder_notify();";

static const gchar ua_down_sql[] =
	"DROP TABLE IF EXISTS ua_node_encryption_keys;"
	"DROP VIEW IF EXISTS ua_outdated_tracked_resources_view;"
	"DROP VIEW IF EXISTS ua_outdated_master_full_hash_resources_view;"
	"DROP VIEW IF EXISTS ua_outdated_master_hash_resources_view;"
	"DROP VIEW IF EXISTS ua_outdated_resources_view;"
	"DROP VIEW IF EXISTS ua_resource_pair_view;"
	"DROP TABLE IF EXISTS ua_tracked_resources;"
	"DROP TABLE IF EXISTS ua_target_resources;"
	"DROP TABLE IF EXISTS ua_actual_resources;"
	"DROP TABLE IF EXISTS ua_agents;"
	"DROP FUNCTION IF EXISTS exh_builder_notify();"
	"DROP TYPE IF EXISTS enum_agent_status;";

static const gchar *const ua_0002_depends[] = { "75610000-0000-4000-8000-000000000001", NULL };

/* The host engine's own bookkeeping: a digest of each instance's derivatives
 * (exh-builder.c), so rows deleted behind its back get rebuilt. */
static const gchar ua_0002_up_sql[] =
	"ALTER TABLE ua_target_resources ADD COLUMN derivatives_hash VARCHAR(256) NOT NULL "
	"DEFAULT '';";
static const gchar ua_0002_down_sql[] =
	"ALTER TABLE ua_target_resources DROP COLUMN IF EXISTS derivatives_hash;";

static const gchar *const ua_0003_depends[] = { "75610000-0000-4000-8000-000000000002", NULL };

/*
 * gcl_sdk migrations 0006 (`ua_node_verifiers_view`, behind the Status API's
 * node verifier) and 0008 (the outdated view also lists pairs whose hashes
 * match but whose statuses differ, or builders never actualize the status).
 */
static const gchar ua_0003_up_sql[] =
	"CREATE OR REPLACE VIEW ua_node_verifiers_view AS"
	" SELECT uuid FROM ua_node_encryption_keys;"
	"CREATE OR REPLACE VIEW ua_outdated_resources_view AS"
	" SELECT t.uuid, t.kind, t.res_uuid AS target_resource, a.res_uuid AS actual_resource"
	" FROM ua_target_resources t JOIN ua_actual_resources a ON a.res_uuid = t.res_uuid"
	" WHERE t.full_hash <> a.full_hash OR (t.hash = a.hash AND t.status <> a.status);"
	"UPDATE ua_node_encryption_keys SET encryption_disabled_until = " EXH_UA_FAR_FUTURE
	" WHERE encryption_disabled_until = 'infinity';";
static const gchar ua_0003_down_sql[] =
	"DROP VIEW IF EXISTS ua_node_verifiers_view;"
	"CREATE OR REPLACE VIEW ua_outdated_resources_view AS"
	" SELECT t.uuid, t.kind, t.res_uuid AS target_resource, a.res_uuid AS actual_resource"
	" FROM ua_target_resources t JOIN ua_actual_resources a ON a.res_uuid = t.res_uuid"
	" WHERE t.full_hash <> a.full_hash;";

static const gchar *const ua_0004_depends[] = { "75610000-0000-4000-8000-000000000003", NULL };

/*
 * The engine's marks (docs/scale.md §6): the instances a tick must look at,
 * so an idle tick reads no table whole.  A row of a builder table (trigger
 * exh_builder_mark, installed by exh_builder_prepare()) marks its instance; a
 * target marks its master and itself (rows changed or deleted behind the
 * engine's back); an actual marks the master of its target.  The engine's
 * own writes of targets and of builder tables (its tick sets
 * exh.builder_tick) mark nothing: it has just built that instance; but a
 * target it inserts whose actual is already there (an agent that reported
 * before its target was rebuilt) marks its master, so the next tick compares
 * them (§9.4), as the outdated source did.
 */
static const gchar ua_0004_up_sql[] =
	"CREATE TABLE exh_builder_marks (uuid UUID PRIMARY KEY);"
	"CREATE FUNCTION exh_builder_mark_add(u UUID) RETURNS void LANGUAGE sql AS $$"
	" INSERT INTO exh_builder_marks (uuid) SELECT u WHERE u IS NOT NULL"
	" ON CONFLICT DO NOTHING $$;"
	"CREATE FUNCTION exh_builder_own_tick() RETURNS boolean LANGUAGE sql STABLE AS $$"
	" SELECT COALESCE(current_setting('exh.builder_tick', true), '') = 'on' $$;"
	"CREATE FUNCTION exh_builder_mark() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN IF exh_builder_own_tick() OR (TG_OP = 'UPDATE' AND NEW.uuid = OLD.uuid AND"
	" NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at) THEN RETURN NULL; END IF;"
	" IF TG_OP <> 'DELETE' THEN PERFORM exh_builder_mark_add(NEW.uuid); END IF;"
	" IF TG_OP <> 'INSERT' THEN PERFORM exh_builder_mark_add(OLD.uuid); END IF;"
	" RETURN NULL; END $$;"
	"CREATE FUNCTION exh_builder_mark_target() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN IF exh_builder_own_tick() THEN"
	" IF TG_OP = 'INSERT' AND EXISTS (SELECT 1 FROM ua_actual_resources a"
	" WHERE a.res_uuid = NEW.res_uuid) THEN PERFORM exh_builder_mark_add(NEW.master); END IF;"
	" RETURN NULL; END IF;"
	" IF TG_OP <> 'DELETE' THEN PERFORM exh_builder_mark_add(NEW.master);"
	" PERFORM exh_builder_mark_add(NEW.uuid); END IF;"
	" IF TG_OP <> 'INSERT' THEN PERFORM exh_builder_mark_add(OLD.master);"
	" PERFORM exh_builder_mark_add(OLD.uuid); END IF;"
	" RETURN NULL; END $$;"
	"CREATE FUNCTION exh_builder_mark_actual() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN INSERT INTO exh_builder_marks (uuid) SELECT t.master FROM ua_target_resources t"
	" WHERE t.res_uuid = CASE WHEN TG_OP = 'DELETE' THEN OLD.res_uuid ELSE NEW.res_uuid END"
	" AND t.master IS NOT NULL ON CONFLICT DO NOTHING; RETURN NULL; END $$;"
	"CREATE TRIGGER ua_target_resources_mark AFTER INSERT OR UPDATE OR DELETE"
	" ON ua_target_resources FOR EACH ROW EXECUTE FUNCTION exh_builder_mark_target();"
	"CREATE TRIGGER ua_actual_resources_mark AFTER INSERT OR UPDATE OR DELETE"
	" ON ua_actual_resources FOR EACH ROW EXECUTE FUNCTION exh_builder_mark_actual();";
static const gchar ua_0004_down_sql[] =
	"DROP TRIGGER IF EXISTS ua_actual_resources_mark ON ua_actual_resources;"
	"DROP TRIGGER IF EXISTS ua_target_resources_mark ON ua_target_resources;"
	"DROP FUNCTION IF EXISTS exh_builder_mark_actual();"
	"DROP FUNCTION IF EXISTS exh_builder_mark_target();"
	"DROP FUNCTION IF EXISTS exh_builder_mark() CASCADE;"
	"DROP FUNCTION IF EXISTS exh_builder_own_tick();"
	"DROP FUNCTION IF EXISTS exh_builder_mark_add(UUID);"
	"DROP TABLE IF EXISTS exh_builder_marks;";

static const gchar *const ua_0005_depends[] = { "75610000-0000-4000-8000-000000000004", NULL };

/*
 * The light-poll cache of the Orch API (docs/scale.md §4) holds node keys:
 * a key written or removed by another connection must reach it as the
 * payload tables' writes do (a row trigger: an upsert that changes nothing
 * notifies nobody).  A TRUNCATE of any of those tables notifies too.
 */
static const gchar ua_0005_up_sql[] =
	"CREATE TRIGGER ua_node_encryption_keys_notify AFTER INSERT OR UPDATE OR DELETE"
	" ON ua_node_encryption_keys FOR EACH ROW EXECUTE FUNCTION exh_builder_notify();"
	"CREATE TRIGGER ua_node_encryption_keys_truncate AFTER TRUNCATE"
	" ON ua_node_encryption_keys FOR EACH STATEMENT EXECUTE FUNCTION exh_builder_notify();"
	"CREATE TRIGGER ua_agents_truncate AFTER TRUNCATE"
	" ON ua_agents FOR EACH STATEMENT EXECUTE FUNCTION exh_builder_notify();"
	"CREATE TRIGGER ua_actual_resources_truncate AFTER TRUNCATE"
	" ON ua_actual_resources FOR EACH STATEMENT EXECUTE FUNCTION exh_builder_notify();"
	"CREATE TRIGGER ua_target_resources_truncate AFTER TRUNCATE"
	" ON ua_target_resources FOR EACH STATEMENT EXECUTE FUNCTION exh_builder_notify();";
static const gchar ua_0005_down_sql[] =
	"DROP TRIGGER IF EXISTS ua_target_resources_truncate ON ua_target_resources;"
	"DROP TRIGGER IF EXISTS ua_actual_resources_truncate ON ua_actual_resources;"
	"DROP TRIGGER IF EXISTS ua_agents_truncate ON ua_agents;"
	"DROP TRIGGER IF EXISTS ua_node_encryption_keys_truncate ON ua_node_encryption_keys;"
	"DROP TRIGGER IF EXISTS ua_node_encryption_keys_notify ON ua_node_encryption_keys;";

static const ExhMigration ua_migrations[] = {
	{
		.uuid = "75610000-0000-4000-8000-000000000001",
		.name = "0001-universal-agent",
		.owner = "host",
		.depends = no_depends,
		.up_sql = ua_up_sql,
		.down_sql = ua_down_sql,
	},
	{
		.uuid = "75610000-0000-4000-8000-000000000002",
		.name = "0002-derivatives-hash",
		.owner = "host",
		.depends = ua_0002_depends,
		.up_sql = ua_0002_up_sql,
		.down_sql = ua_0002_down_sql,
	},
	{
		.uuid = "75610000-0000-4000-8000-000000000003",
		.name = "0003-node-verifiers-outdated-status",
		.owner = "host",
		.depends = ua_0003_depends,
		.up_sql = ua_0003_up_sql,
		.down_sql = ua_0003_down_sql,
	},
	{
		.uuid = "75610000-0000-4000-8000-000000000004",
		.name = "0004-builder-marks",
		.owner = "host",
		.depends = ua_0004_depends,
		.up_sql = ua_0004_up_sql,
		.down_sql = ua_0004_down_sql,
	},
	{
		.uuid = "75610000-0000-4000-8000-000000000005",
		.name = "0005-node-keys-notify",
		.owner = "host",
		.depends = ua_0005_depends,
		.up_sql = ua_0005_up_sql,
		.down_sql = ua_0005_down_sql,
	},
};

const ExhMigration *
exh_ua_store_migrations(guint *out_n)
{
	*out_n = G_N_ELEMENTS(ua_migrations);
	return ua_migrations;
}

gboolean
exh_ua_store_migrate(PGconn *conn, GError **error)
{
	g_autoptr(GPtrArray) list = g_ptr_array_new();

	for (guint i = 0; i < G_N_ELEMENTS(ua_migrations); i++)
		g_ptr_array_add(list, (gpointer)&ua_migrations[i]);
	return exh_migrate_apply(conn, list, NULL, error);
}

/* ------------------------------------------------------------- helpers */

PGresult *
exh_ua_store_exec(PGconn *conn,
		  const gchar *sql,
		  gint n,
		  const gchar *const *params,
		  GError **error)
{
	g_autoptr(PGresult) res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	const gchar *state;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return g_steal_pointer(&res);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (g_strcmp0(state, "23505") == 0) {
		g_set_error_literal(error, EXM_ERROR, EXM_ERROR_CONFLICT, "Duplicate record.");
	} else {
		g_autofree gchar *why = g_strstrip(g_strdup(PQresultErrorMessage(res)));
		g_set_error(error, EXM_ERROR, EXM_ERROR_FAILED, "database: %s", why);
	}
	return NULL;
}

static void
set_not_found(GError **error, const gchar *model, const gchar *uuid)
{
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_NOT_FOUND,
		    "Can't found record in storage for model (%s) and filters ({'uuid': <EQ "
		    "(UUID('%s'))>}).",
		    model,
		    uuid);
}

/* The one row a statement keyed by @uuid returns as @row_json shows it, or
 * restalchemy's not-found error when there is none. */
static JsonNode *
one_row(PGresult *res,
	JsonNode *(*row_json)(PGresult *, gint),
	const gchar *model,
	const gchar *uuid,
	GError **error)
{
	if (res == NULL)
		return NULL;
	if (PQntuples(res) == 0) {
		set_not_found(error, model, uuid);
		return NULL;
	}
	return row_json(res, 0);
}

/* Whether a DELETE keyed by @uuid removed a row; restalchemy's not-found error
 * when it did not. */
static gboolean
deleted_one(PGresult *res, const gchar *model, const gchar *uuid, GError **error)
{
	if (res == NULL)
		return FALSE;
	if (g_str_equal(PQcmdTuples(res), "0")) {
		set_not_found(error, model, uuid);
		return FALSE;
	}
	return TRUE;
}

/*
 * Whether the record of @res (one boolean: its node is the caller's) belongs to
 * @node.  Another node's record is logged and then answered with the very
 * error of a missing one, so a node learns nothing about other nodes' uuids.
 */
static gboolean
owned(PGresult *res,
      const gchar *node,
      const gchar *what,
      const gchar *model,
      const gchar *uuid,
      GError **error)
{
	if (res == NULL)
		return FALSE;
	if (PQntuples(res) == 1 && g_str_equal(PQgetvalue(res, 0, 0), "t"))
		return TRUE;
	if (PQntuples(res) == 1)
		exh_log(G_LOG_LEVEL_MESSAGE,
			NULL,
			"node %s named %s %s of another node; answered as missing",
			node,
			what,
			uuid);
	set_not_found(error, model, uuid);
	return FALSE;
}

/* A body's `node` must be the calling node (%NULL: absent, allowed). */
static gboolean
check_body_node(const gchar *body_node, const gchar *node, GError **error)
{
	if (body_node == NULL || g_str_equal(body_node, node))
		return TRUE;
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_VALIDATION,
		    "invalid value for field 'node': %s is not the calling node",
		    body_node);
	return FALSE;
}

static gboolean
check_known(JsonObject *body, const gchar *const *allowed, GError **error)
{
	g_autoptr(GList) names = json_object_get_members(body);

	for (GList *l = names; l != NULL; l = l->next) {
		if (!g_strv_contains(allowed, l->data)) {
			g_set_error(error,
				    EXM_ERROR,
				    EXM_ERROR_VALIDATION,
				    "Unknown field '%s'.",
				    (const gchar *)l->data);
			return FALSE;
		}
	}
	return TRUE;
}

/* A string member of at most @max bytes (NULL when absent). */
static gboolean
get_string(JsonObject *body, const gchar *name, gsize max, const gchar **out, GError **error)
{
	gboolean present = FALSE;

	*out = NULL;
	if (!exm_json_get_string(body, name, FALSE, out, &present, error))
		return FALSE;
	if (present && strlen(*out) > max) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_VALIDATION,
			    "Invalid value for field '%s': longer than %" G_GSIZE_FORMAT ".",
			    name,
			    max);
		return FALSE;
	}
	return TRUE;
}

static gboolean
get_uuid(JsonObject *body, const gchar *name, gboolean allow_null, gchar **out, GError **error)
{
	const gchar *text = NULL;
	gboolean present = FALSE;

	*out = NULL;
	if (!exm_json_get_string(body, name, allow_null, &text, &present, error))
		return FALSE;
	if (text == NULL)
		return TRUE;
	*out = exm_uuid_parse(text, NULL);
	if (*out == NULL) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_VALIDATION,
			    "Invalid value for field '%s': not a UUID.",
			    name);
		return FALSE;
	}
	return TRUE;
}

/* An object member as JSON text (NULL when absent). */
static gboolean
get_object_text(JsonObject *body, const gchar *name, gchar **out, GError **error)
{
	JsonObject *obj = NULL;
	gboolean present = FALSE;

	*out = NULL;
	if (!exm_json_get_object(body, name, &obj, &present, error))
		return FALSE;
	if (present)
		*out = exm_json_to_string(json_object_get_member(body, name));
	return TRUE;
}

/* `{"<member>": ["kind", …]}` with kinds of 1..64 chars. */
static gboolean
check_kind_list(JsonObject *body, const gchar *name, GError **error)
{
	JsonObject *obj = NULL;
	JsonArray *list = NULL;
	gboolean present = FALSE;

	if (!exm_json_get_object(body, name, &obj, &present, error) || !present)
		return !present || obj != NULL;
	if (!exm_json_get_array(obj, name, &list, &present, error))
		return FALSE;
	for (guint i = 0; list != NULL && i < json_array_get_length(list); i++) {
		JsonNode *item = json_array_get_element(list, i);
		const gchar *kind = JSON_NODE_HOLDS_VALUE(item) &&
						    json_node_get_value_type(item) == G_TYPE_STRING
					    ? json_node_get_string(item)
					    : NULL;

		if (kind == NULL || *kind == '\0' || strlen(kind) > 64) {
			g_set_error(error,
				    EXM_ERROR,
				    EXM_ERROR_VALIDATION,
				    "Invalid value for field '%s': a list of kinds is expected.",
				    name);
			return FALSE;
		}
	}
	if (!present || json_object_get_size(obj) != 1) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_VALIDATION,
			    "Invalid value for field '%s': {\"%s\": [...]} is expected.",
			    name,
			    name);
		return FALSE;
	}
	return TRUE;
}

/* A timestamp member (either rendering of §3), as text PostgreSQL reads; NULL
 * when absent.  Upstream stores what a create sends (the server's now() is
 * only the default). */
static gboolean
get_timestamp(JsonObject *body, const gchar *name, const gchar **out, GError **error)
{
	gint64 usec = 0;

	if (!get_string(body, name, 64, out, error))
		return FALSE;
	if (*out == NULL || exm_time_parse(*out, &usec))
		return TRUE;
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_VALIDATION,
		    "Invalid value for field '%s': not a timestamp.",
		    name);
	return FALSE;
}

/* `created_at` and `updated_at` are read-only on update (the server moves
 * `updated_at` itself): sending either is restalchemy's ReadOnlyProperty. */
static gboolean
check_no_timestamps(JsonObject *body, const gchar *model, GError **error)
{
	static const gchar *const names[] = { "created_at", "updated_at" };

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		if (!json_object_has_member(body, names[i]))
			continue;
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_READ_ONLY,
			    "Property '%s' of model %s is read only.",
			    names[i],
			    model);
		return FALSE;
	}
	return TRUE;
}

static gboolean
check_status(const gchar *status, GError **error)
{
	static const gchar *const statuses[] = { "NEW", "ACTIVE", "ERROR", "DISABLED", NULL };

	if (status == NULL || g_strv_contains(statuses, status))
		return TRUE;
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_VALIDATION,
		    "Invalid value for field 'status': %s.",
		    status);
	return FALSE;
}

static JsonNode *
parse_json_column(const gchar *text)
{
	JsonNode *node = exm_json_parse_strict(text, strlen(text), NULL);

	return node != NULL ? node : json_node_new(JSON_NODE_NULL);
}

/* ------------------------------------------------------------- node keys */

gboolean
exh_ua_store_node_key(PGconn *conn, const gchar *node, ExhUaNodeKey *out, GError **error)
{
	g_autoptr(GError) local = NULL;
	gchar *text;
	gboolean ok;
	const gchar *params[] = { node };
	g_autoptr(PGresult) res = exh_ua_store_exec(
		conn,
		"SELECT private_key, " EXH_UA_NOW
		" >= encryption_disabled_until FROM ua_node_encryption_keys WHERE uuid = $1",
		1,
		params,
		error);

	if (res == NULL)
		return FALSE;
	if (PQntuples(res) == 0) {
		set_not_found(error,
			      "<class 'gcl_sdk.agents.universal.dm.models.NodeEncryptionKey'>",
			      node);
		return FALSE;
	}
	out->required = g_str_equal(PQgetvalue(res, 0, 1), "t");
	text = g_strstrip(PQgetvalue(res, 0, 0));
	ok = exm_envelope_key_from_base64(text, out->key, &local);
	/* the base64 text is the key too: wipe it before libpq frees it */
	exm_secret_wipe(text, strlen(text));
	if (!ok) {
		/* a bad row is the server's fault: 500, never the parse error's 400 */
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_FAILED,
			    "node key of %s: %s",
			    node,
			    local->message);
		return FALSE;
	}
	return TRUE;
}

gboolean
exh_ua_store_node_key_put(PGconn *conn,
			  const gchar *node,
			  const gchar *key_b64,
			  gint encryption_disabled_for,
			  GError **error)
{
	g_autofree gchar *seconds = g_strdup_printf("%d", encryption_disabled_for);
	const gchar *params[] = { node, key_b64, seconds };
	g_autoptr(PGresult) res = exh_ua_store_exec(
		conn,
		"INSERT INTO ua_node_encryption_keys (uuid, private_key, "
		"encryption_disabled_until) "
		"VALUES ($1, $2, CASE WHEN $3::int >= 2147483647 THEN " EXH_UA_FAR_FUTURE " "
		"ELSE " EXH_UA_NOW " + make_interval(secs => $3::int) END) "
		"ON CONFLICT (uuid) DO UPDATE SET private_key = EXCLUDED.private_key, "
		"encryption_disabled_until = EXCLUDED.encryption_disabled_until, "
		"updated_at = " EXH_UA_NOW " WHERE ua_node_encryption_keys.private_key <> "
		"EXCLUDED.private_key",
		3,
		params,
		error);

	/* at once, besides the trigger's NOTIFY: no cached key outlives its row */
	exh_ua_cache_invalidate();
	return res != NULL;
}

gboolean
exh_ua_store_node_key_delete(PGconn *conn, const gchar *node, GError **error)
{
	const gchar *params[] = { node };
	g_autoptr(PGresult) res = exh_ua_store_exec(
		conn, "DELETE FROM ua_node_encryption_keys WHERE uuid = $1", 1, params, error);

	exh_ua_cache_invalidate();
	return res != NULL;
}

JsonNode *
exh_ua_store_node_verify(PGconn *conn, const gchar *node, const gchar *uuid, GError **error)
{
	static const gchar *const model =
		"<class 'gcl_sdk.agents.universal.dm.models.NodeVerifier'>";
	const gchar *params[] = { uuid, node };
	g_autoptr(PGresult) res = exh_ua_store_exec(
		conn,
		"SELECT uuid = $2::uuid FROM ua_node_verifiers_view WHERE uuid = $1",
		2,
		params,
		error);
	JsonNode *out;

	if (!owned(res, node, "node verifier", model, uuid, error))
		return NULL;
	out = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(out, json_object_new());
	json_object_set_boolean_member(json_node_get_object(out), "valid", TRUE);
	return out;
}

/* Row @row as an object of @names (one a column, in order); the columns in
 * the @json_columns bit mask hold JSON text, the others plain strings. */
static JsonNode *
row_json(PGresult *res, gint row, const gchar *const *names, guint n, guint json_columns)
{
	JsonObject *obj = json_object_new();
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);

	for (guint i = 0; i < n; i++) {
		const gchar *text = PQgetvalue(res, row, (gint)i);

		if ((json_columns & (1u << i)) != 0)
			json_object_set_member(obj, names[i], parse_json_column(text));
		else
			json_object_set_string_member(obj, names[i], text);
	}
	json_node_take_object(node, obj);
	return node;
}

/* ------------------------------------------------------------- agents */

#define AGENT_COLUMNS                                                                              \
	"uuid, name, description, capabilities::text, facts::text, node, status, "                 \
	" " EXH_UA_TS_REST("created_at") ", " EXH_UA_TS_REST("updated_at")

static JsonNode *
agent_row_json(PGresult *res, gint row)
{
	static const gchar *const names[] = { "uuid",	      "name",	    "description",
					      "capabilities", "facts",	    "node",
					      "status",	      "created_at", "updated_at" };

	return row_json(res, row, names, G_N_ELEMENTS(names), 1u << 3 | 1u << 4);
}

static const gchar *const agent_model =
	"<class 'gcl_sdk.agents.universal.dm.models.UniversalAgent'>";

JsonNode *
exh_ua_store_agent_get(PGconn *conn, const gchar *uuid, GError **error)
{
	const gchar *params[] = { uuid };
	g_autoptr(PGresult) res = exh_ua_store_exec(
		conn, "SELECT " AGENT_COLUMNS " FROM ua_agents WHERE uuid = $1", 1, params, error);

	return one_row(res, agent_row_json, agent_model, uuid, error);
}

gboolean
exh_ua_store_agent_of_node(PGconn *conn, const gchar *node, const gchar *uuid, GError **error)
{
	const gchar *params[] = { uuid, node };
	g_autoptr(PGresult) res = exh_ua_store_exec(
		conn, "SELECT node = $2::uuid FROM ua_agents WHERE uuid = $1", 2, params, error);

	return owned(res, node, "agent", agent_model, uuid, error);
}

/* The fields of an agent body; absent ones stay NULL. */
typedef struct {
	gchar *uuid;
	const gchar *name;
	const gchar *description;
	gchar *capabilities;
	gchar *facts;
	gchar *node;
	const gchar *status;
	const gchar *created_at;
	const gchar *updated_at;
} AgentBody;

static void
agent_body_clear(AgentBody *b)
{
	g_free(b->uuid);
	g_free(b->capabilities);
	g_free(b->facts);
	g_free(b->node);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(AgentBody, agent_body_clear)

static gboolean
agent_body_parse(JsonObject *body, AgentBody *b, GError **error)
{
	static const gchar *const allowed[] = {
		"uuid", "name",	  "description", "capabilities", "facts",
		"node", "status", "created_at",	 "updated_at",	 NULL,
	};

	return check_known(body, allowed, error) &&
	       get_uuid(body, "uuid", FALSE, &b->uuid, error) &&
	       get_string(body, "name", 255, &b->name, error) &&
	       get_string(body, "description", 255, &b->description, error) &&
	       check_kind_list(body, "capabilities", error) &&
	       check_kind_list(body, "facts", error) &&
	       get_object_text(body, "capabilities", &b->capabilities, error) &&
	       get_object_text(body, "facts", &b->facts, error) &&
	       get_uuid(body, "node", FALSE, &b->node, error) &&
	       get_string(body, "status", 32, &b->status, error) &&
	       check_status(b->status, error) &&
	       get_timestamp(body, "created_at", &b->created_at, error) &&
	       get_timestamp(body, "updated_at", &b->updated_at, error);
}

JsonNode *
exh_ua_store_agent_create(PGconn *conn, const gchar *node, JsonObject *body, GError **error)
{
	g_auto(AgentBody) b = { 0 };
	g_autofree gchar *name = NULL;
	g_autoptr(PGresult) res = NULL;

	if (!agent_body_parse(body, &b, error))
		return NULL;
	if (b.node == NULL) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_PROPERTY_REQUIRED,
				    "Property 'node' is required.");
		return NULL;
	}
	if (!check_body_node(b.node, node, error))
		return NULL;
	if (b.uuid == NULL)
		b.uuid = exm_uuid_v4();
	name = b.name != NULL ? g_strdup(b.name) : g_strdup_printf("Universal Agent %.8s", b.uuid);
	{
		const gchar *params[] = { b.uuid,
					  name,
					  b.description != NULL ? b.description : "",
					  b.capabilities != NULL ? b.capabilities
								 : "{\"capabilities\": []}",
					  b.facts != NULL ? b.facts : "{\"facts\": []}",
					  b.node,
					  b.status != NULL ? b.status : "NEW",
					  b.created_at,
					  b.updated_at };

		res = exh_ua_store_exec(
			conn,
			"INSERT INTO ua_agents (uuid, name, description, capabilities, facts, "
			"node, status, created_at, updated_at) VALUES ($1, $2, $3, $4::jsonb, "
			"$5::jsonb, $6, $7::enum_agent_status, COALESCE($8::timestamp, " EXH_UA_NOW
			"), COALESCE($9::timestamp, " EXH_UA_NOW
			")) ON CONFLICT DO NOTHING RETURNING " AGENT_COLUMNS,
			9,
			params,
			error);
	}
	if (res == NULL)
		return NULL;
	if (PQntuples(res) == 0) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_CONFLICT,
			    "Duplicate agent: uuid %s already exists.",
			    b.uuid);
		return NULL;
	}
	return agent_row_json(res, 0);
}

JsonNode *
exh_ua_store_agent_update(PGconn *conn,
			  const gchar *node,
			  const gchar *uuid,
			  JsonObject *body,
			  GError **error)
{
	g_auto(AgentBody) b = { 0 };
	g_autoptr(PGresult) res = NULL;

	/* an agent never changes its node */
	if (!check_no_timestamps(body, agent_model, error) || !agent_body_parse(body, &b, error) ||
	    !check_body_node(b.node, node, error))
		return NULL;
	if (b.uuid != NULL && !g_str_equal(b.uuid, uuid)) {
		g_set_error_literal(
			error, EXM_ERROR, EXM_ERROR_NOT_EQUAL_UUID, "UUID in the body differs.");
		return NULL;
	}
	{
		/* only what differs is written: a repeated registration is no write */
		const gchar *params[] = { uuid,	   b.name, b.description, b.capabilities,
					  b.facts, b.node, b.status };

		res = exh_ua_store_exec(
			conn,
			"WITH n AS (SELECT COALESCE($2, name) AS name, "
			"COALESCE($3, description) AS description, "
			"COALESCE($4::jsonb, capabilities) AS capabilities, "
			"COALESCE($5::jsonb, facts) AS facts, COALESCE($6::uuid, node) AS node, "
			"COALESCE($7::enum_agent_status, status) AS status "
			"FROM ua_agents WHERE uuid = $1), "
			"u AS (UPDATE ua_agents a SET name = n.name, description = n.description, "
			"capabilities = n.capabilities, facts = n.facts, node = n.node, "
			"status = n.status, updated_at = " EXH_UA_NOW " FROM n WHERE a.uuid = $1 "
			"AND (a.name, a.description, a.capabilities, a.facts, a.node, a.status) "
			"IS DISTINCT FROM (n.name, n.description, n.capabilities, n.facts, n.node, "
			"n.status) RETURNING a.uuid) "
			"SELECT (SELECT count(*) FROM n), (SELECT count(*) FROM u)",
			7,
			params,
			error);
	}
	if (res == NULL)
		return NULL;
	if (g_str_equal(PQgetvalue(res, 0, 0), "0")) {
		set_not_found(error, agent_model, uuid);
		return NULL;
	}
	return exh_ua_store_agent_get(conn, uuid, error);
}

gboolean
exh_ua_store_agent_delete(PGconn *conn, const gchar *uuid, GError **error)
{
	const gchar *params[] = { uuid };
	g_autoptr(PGresult) res =
		exh_ua_store_exec(conn, "DELETE FROM ua_agents WHERE uuid = $1", 1, params, error);

	return deleted_one(res, agent_model, uuid, error);
}

/* ------------------------------------------------------------- actual resources */

#define RESOURCE_COLUMNS                                                                           \
	"uuid, kind, res_uuid, value::text, hash, full_hash, status, node, "                       \
	" " EXH_UA_TS_REST("created_at") ", " EXH_UA_TS_REST("updated_at")

static const gchar *const resource_model = "<class 'gcl_sdk.agents.universal.dm.models.Resource'>";

/* The REST view: `kind` as its URI, a null `node` omitted. */
static JsonNode *
resource_row_json(PGresult *res, gint row)
{
	static const gchar *const names[] = { "uuid",	    "kind",	 "res_uuid", "value",
					      "hash",	    "full_hash", "status",   "node",
					      "created_at", "updated_at" };
	JsonObject *obj = json_object_new();
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		const gchar *text = PQgetvalue(res, row, (gint)i);

		if (i == 1) {
			g_autofree gchar *uri = g_strconcat("/v1/kind/", text, NULL);
			json_object_set_string_member(obj, names[i], uri);
		} else if (i == 3) {
			json_object_set_member(obj, names[i], parse_json_column(text));
		} else if (i == 7 && PQgetisnull(res, row, (gint)i)) {
			continue;
		} else {
			json_object_set_string_member(obj, names[i], text);
		}
	}
	json_node_take_object(node, obj);
	return node;
}

JsonNode *
exh_ua_store_kinds(PGconn *conn, const gchar *node, GError **error)
{
	const gchar *params[] = { node };
	g_autoptr(PGresult) res = exh_ua_store_exec(conn,
						    "SELECT DISTINCT kind FROM ua_actual_resources "
						    "WHERE node = $1 ORDER BY kind",
						    1,
						    params,
						    error);
	JsonArray *array;
	JsonNode *out;

	if (res == NULL)
		return NULL;
	array = json_array_new();
	for (gint i = 0; i < PQntuples(res); i++)
		json_array_add_string_element(array, PQgetvalue(res, i, 0));
	out = json_node_new(JSON_NODE_ARRAY);
	json_node_take_array(out, array);
	return out;
}

typedef struct {
	gchar *uuid;
	gchar *res_uuid;
	gchar *value;
	const gchar *hash;
	const gchar *full_hash;
	const gchar *status;
	gchar *node;
	gboolean node_present;
	const gchar *created_at;
	const gchar *updated_at;
} ResourceBody;

static void
resource_body_clear(ResourceBody *b)
{
	g_free(b->uuid);
	g_free(b->res_uuid);
	g_free(b->value);
	g_free(b->node);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ResourceBody, resource_body_clear)

/* `kind` in a body is the URI of the URL's kind (a restalchemy relationship).
 * Upstream resolves it through restalchemy's resource map: a value that is not
 * a kind URI (e.g. the bare kind) has no locator, a 404 `LocatorNotFound`. */
static gboolean
check_kind_uri(JsonObject *body, const gchar *kind, GError **error)
{
	const gchar *uri = NULL;
	g_autofree gchar *want = g_strconcat("/v1/kind/", kind, NULL);

	if (!get_string(body, "kind", 512, &uri, error))
		return FALSE;
	if (uri == NULL || g_str_equal(uri, want))
		return TRUE;
	if (!g_str_has_prefix(uri, "/v1/kind/") || uri[9] == '\0' || strchr(uri + 9, '/') != NULL) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_LOCATOR_NOT_FOUND,
			    "Locator is not found for URI %s. Thus resource could not be found.",
			    uri);
		return FALSE;
	}
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_VALIDATION,
		    "Invalid value for field 'kind': %s is not %s.",
		    uri,
		    want);
	return FALSE;
}

static gboolean
resource_body_parse(JsonObject *body, const gchar *kind, ResourceBody *b, GError **error)
{
	static const gchar *const allowed[] = {
		"uuid",	  "kind", "res_uuid",	"value",      "hash", "full_hash",
		"status", "node", "created_at", "updated_at", NULL,
	};

	if (!check_known(body, allowed, error) || !check_kind_uri(body, kind, error) ||
	    !get_uuid(body, "uuid", FALSE, &b->uuid, error) ||
	    !get_uuid(body, "res_uuid", FALSE, &b->res_uuid, error) ||
	    !get_object_text(body, "value", &b->value, error) ||
	    !get_string(body, "hash", 256, &b->hash, error) ||
	    !get_string(body, "full_hash", 256, &b->full_hash, error) ||
	    !get_string(body, "status", 32, &b->status, error) ||
	    !get_timestamp(body, "created_at", &b->created_at, error) ||
	    !get_timestamp(body, "updated_at", &b->updated_at, error))
		return FALSE;
	b->node_present = json_object_has_member(body, "node");
	return get_uuid(body, "node", TRUE, &b->node, error);
}

JsonNode *
exh_ua_store_resource_create(PGconn *conn,
			     const gchar *node,
			     const gchar *kind,
			     JsonObject *body,
			     GError **error)
{
	g_auto(ResourceBody) b = { 0 };
	g_autoptr(PGresult) res = NULL;

	if (!resource_body_parse(body, kind, &b, error) || !check_body_node(b.node, node, error))
		return NULL;
	if (b.uuid == NULL) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_PROPERTY_REQUIRED,
				    "Property 'uuid' is required.");
		return NULL;
	}
	/* upstream would default to a random uuid4, which breaks the builder join */
	if (b.res_uuid == NULL)
		b.res_uuid = exm_proto_uuid_resource(b.uuid, kind);
	{
		const gchar *params[] = {
			b.uuid,
			kind,
			b.res_uuid,
			b.value != NULL ? b.value : "{}",
			b.hash != NULL ? b.hash : "",
			b.full_hash != NULL ? b.full_hash : "",
			b.status != NULL ? b.status : "ACTIVE",
			node /* the reporting node, also when the body omits it */,
			b.created_at,
			b.updated_at
		};

		res = exh_ua_store_exec(
			conn,
			"INSERT INTO ua_actual_resources (uuid, kind, res_uuid, value, hash, "
			"full_hash, status, node, created_at, updated_at) VALUES ($1, $2, $3, "
			"$4::jsonb, $5, $6, $7, $8, COALESCE($9::timestamp, " EXH_UA_NOW
			"), COALESCE($10::timestamp, " EXH_UA_NOW
			")) ON CONFLICT DO NOTHING RETURNING " RESOURCE_COLUMNS,
			10,
			params,
			error);
	}
	if (res == NULL)
		return NULL;
	if (PQntuples(res) == 0) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_CONFLICT,
			    "Duplicate resource: %s of kind %s already exists.",
			    b.uuid,
			    kind);
		return NULL;
	}
	return resource_row_json(res, 0);
}

gboolean
exh_ua_store_resource_of_node(PGconn *conn,
			      const gchar *node,
			      const gchar *kind,
			      const gchar *uuid,
			      GError **error)
{
	const gchar *params[] = { kind, uuid, node };
	g_autoptr(PGresult) res =
		exh_ua_store_exec(conn,
				  "SELECT node IS NOT DISTINCT FROM $3::uuid FROM "
				  "ua_actual_resources WHERE kind = $1 AND uuid = $2",
				  3,
				  params,
				  error);

	return owned(res, node, kind, resource_model, uuid, error);
}

JsonNode *
exh_ua_store_resource_get(PGconn *conn, const gchar *kind, const gchar *uuid, GError **error)
{
	const gchar *params[] = { kind, uuid };
	g_autoptr(PGresult) res = exh_ua_store_exec(conn,
						    "SELECT " RESOURCE_COLUMNS
						    " FROM ua_actual_resources WHERE kind = $1 AND "
						    "uuid = $2",
						    2,
						    params,
						    error);

	return one_row(res, resource_row_json, resource_model, uuid, error);
}

JsonNode *
exh_ua_store_resource_update(PGconn *conn,
			     const gchar *node,
			     const gchar *kind,
			     const gchar *uuid,
			     JsonObject *body,
			     GError **error)
{
	g_auto(ResourceBody) b = { 0 };
	g_autoptr(PGresult) res = NULL;

	if (!check_no_timestamps(body, resource_model, error) ||
	    !resource_body_parse(body, kind, &b, error))
		return NULL;
	/* a resource stays with the node that reported it */
	if (b.node_present && !check_body_node(b.node != NULL ? b.node : "null", node, error))
		return NULL;
	if ((b.uuid != NULL && !g_str_equal(b.uuid, uuid)) || b.res_uuid != NULL) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_NOT_EQUAL_UUID,
				    "UUID in the body differs from the URL or is read-only.");
		return NULL;
	}
	{
		const gchar *params[] = {
			kind, uuid, b.value, b.hash, b.full_hash, b.status, node
		};

		res = exh_ua_store_exec(
			conn,
			"UPDATE ua_actual_resources SET value = COALESCE($3::jsonb, value), "
			"hash = COALESCE($4, hash), full_hash = COALESCE($5, full_hash), "
			"status = COALESCE($6, status), updated_at = " EXH_UA_NOW
			" WHERE kind = $1 AND uuid = $2 AND node = $7 RETURNING " RESOURCE_COLUMNS,
			7,
			params,
			error);
	}
	return one_row(res, resource_row_json, resource_model, uuid, error);
}

gboolean
exh_ua_store_resource_delete(PGconn *conn, const gchar *kind, const gchar *uuid, GError **error)
{
	const gchar *params[] = { kind, uuid };
	g_autoptr(PGresult) res =
		exh_ua_store_exec(conn,
				  "DELETE FROM ua_actual_resources WHERE kind = $1 AND uuid = $2",
				  2,
				  params,
				  error);

	return deleted_one(res, resource_model, uuid, error);
}

/* ------------------------------------------------------------- payload */

/* The payload view of a resource row (bare kind, no agent/master/node/tracked_at). */
static JsonNode *
payload_resource_json(PGresult *res, gint row)
{
	static const gchar *const names[] = { "uuid",	"kind",	      "res_uuid",
					      "value",	"hash",	      "full_hash",
					      "status", "created_at", "updated_at" };

	return row_json(res, row, names, G_N_ELEMENTS(names), 1u << 3);
}

/* Adds every row to `<kind>: {resources: […]}` of @basket; collects column @hash_col. */
static void
payload_add_rows(JsonObject *basket, PGresult *res, guint hash_col, GPtrArray *hashes)
{
	for (gint i = 0; i < PQntuples(res); i++) {
		const gchar *kind = PQgetvalue(res, i, 1);
		JsonObject *entry;

		if (!json_object_has_member(basket, kind)) {
			entry = json_object_new();
			json_object_set_array_member(entry, "resources", json_array_new());
			json_object_set_object_member(basket, kind, entry);
		}
		entry = json_object_get_object_member(basket, kind);
		json_array_add_element(json_object_get_array_member(entry, "resources"),
				       payload_resource_json(res, i));
		g_ptr_array_add(hashes, g_strdup(PQgetvalue(res, i, (gint)hash_col)));
	}
}

/* Step 5: every capability kind in both baskets, every fact kind in facts. */
static void
payload_add_empty_baskets(JsonObject *basket, JsonArray *kinds)
{
	for (guint i = 0; kinds != NULL && i < json_array_get_length(kinds); i++) {
		const gchar *kind = json_array_get_string_element(kinds, i);
		JsonObject *entry;

		if (kind == NULL || json_object_has_member(basket, kind))
			continue;
		entry = json_object_new();
		json_object_set_array_member(entry, "resources", json_array_new());
		json_object_set_object_member(basket, kind, entry);
	}
}

#define PAYLOAD_COLUMNS                                                                            \
	"r.uuid, r.kind, r.res_uuid, r.value::text, r.hash, r.full_hash, r.status, "               \
	" " EXH_UA_TS_SIMPLE("r.created_at") ", " EXH_UA_TS_SIMPLE("r.updated_at")

/* §4.1 steps 1–2: the agent's capability targets and the facts of its node. */
static gboolean
payload_rows(PGconn *conn, const gchar *agent, PGresult **caps, PGresult **facts, GError **error)
{
	const gchar *params[] = { agent };

	*caps = exh_ua_store_exec(conn,
				  "SELECT " PAYLOAD_COLUMNS
				  " FROM ua_target_resources r JOIN ua_agents a ON "
				  "a.uuid = r.agent WHERE a.uuid = $1 AND r.kind IN (SELECT "
				  "jsonb_array_elements_text(a.capabilities->'capabilities')) "
				  "ORDER BY r.kind, r.uuid",
				  1,
				  params,
				  error);
	if (*caps == NULL)
		return FALSE;
	*facts = exh_ua_store_exec(
		conn,
		"SELECT " PAYLOAD_COLUMNS " FROM ua_actual_resources r JOIN ua_agents a ON "
		"a.node = r.node WHERE a.uuid = $1 AND r.kind IN (SELECT "
		"jsonb_array_elements_text(a.capabilities->'capabilities') UNION SELECT "
		"jsonb_array_elements_text(a.facts->'facts')) ORDER BY r.kind, r.uuid",
		1,
		params,
		error);
	return *facts != NULL;
}

/* Step 5 for the kinds of the agent row (@ag: capabilities, facts). */
static void
payload_baskets(JsonObject *payload, PGresult *ag)
{
	g_autoptr(JsonNode) cap_kinds = parse_json_column(PQgetvalue(ag, 0, 0));
	g_autoptr(JsonNode) fact_kinds = parse_json_column(PQgetvalue(ag, 0, 1));
	JsonObject *caps = json_object_get_object_member(payload, "capabilities");
	JsonObject *facts = json_object_get_object_member(payload, "facts");

	if (JSON_NODE_HOLDS_ARRAY(cap_kinds)) {
		payload_add_empty_baskets(caps, json_node_get_array(cap_kinds));
		payload_add_empty_baskets(facts, json_node_get_array(cap_kinds));
	}
	if (JSON_NODE_HOLDS_ARRAY(fact_kinds))
		payload_add_empty_baskets(facts, json_node_get_array(fact_kinds));
}

JsonNode *
exh_ua_store_payload(PGconn *conn,
		     const gchar *agent,
		     gint64 version,
		     gchar **out_hash,
		     GError **error)
{
	const gchar *params[] = { agent };
	g_autoptr(PGresult) ag = exh_ua_store_exec(conn,
						   "SELECT capabilities->'capabilities', "
						   "facts->'facts' FROM ua_agents WHERE uuid = $1",
						   1,
						   params,
						   error);
	g_autoptr(PGresult) caps = NULL;
	g_autoptr(PGresult) facts = NULL;
	g_autoptr(GPtrArray) cap_hashes = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) fact_hashes = g_ptr_array_new_with_free_func(g_free);
	JsonObject *payload;
	JsonNode *node;

	if (ag == NULL)
		return NULL;
	if (PQntuples(ag) == 0) {
		set_not_found(error, agent_model, agent);
		return NULL;
	}
	if (!payload_rows(conn, agent, &caps, &facts, error))
		return NULL;
	payload = json_object_new();
	json_object_set_object_member(payload, "capabilities", json_object_new());
	json_object_set_object_member(payload, "facts", json_object_new());
	payload_add_rows(
		json_object_get_object_member(payload, "capabilities"), caps, 4, cap_hashes);
	payload_add_rows(json_object_get_object_member(payload, "facts"), facts, 5, fact_hashes);
	*out_hash = exm_proto_hash_payload(cap_hashes, fact_hashes);
	payload_baskets(payload, ag);
	json_object_set_string_member(payload, "hash", *out_hash);
	json_object_set_int_member(payload, "version", version);
	node = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(node, payload);
	return node;
}

JsonNode *
exh_ua_store_light_payload(const gchar *hash, gint64 version)
{
	JsonObject *payload = json_object_new();
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);

	json_object_set_object_member(payload, "capabilities", json_object_new());
	json_object_set_object_member(payload, "facts", json_object_new());
	json_object_set_string_member(payload, "hash", hash);
	json_object_set_int_member(payload, "version", version);
	json_node_take_object(node, payload);
	return node;
}
