/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-builder.h"

#include <glib-unix.h>
#include <string.h>

#include "exh-log.h"
#include "exh-ua-store.h"
#include "exm-cleanup.h"
#include "exm-error.h"
#include "exm-json.h"
#include "exm-uuid.h"

#define TICK_PERIOD_MS 1000
#define TICK_SOON_MS   10
#define BATCH	       "100"

/*
 * A digest of the derivatives of instance @m of the kinds in text[] @k, kept
 * in the instance target: when rows vanish behind the builder's back (an
 * agent deleted, its targets cascaded) the digest moves and the instance is
 * built again.
 */
#define DERIVATIVES_HASH(m, k)                                                                     \
	"COALESCE((SELECT md5(string_agg(d.kind || ':' || d.uuid || ':' || d.hash, ',' ORDER BY "  \
	"d.kind, d.uuid)) FROM ua_target_resources d WHERE d.master = " m " AND d.kind = ANY(" k   \
	"::text[])), '')"

typedef struct {
	const ExordosPaasPluginDescriptor *desc;
	gpointer ctx;
} Plugin;

struct _ExhBuilder {
	gchar *conninfo;
	ExhInfraBackend *backend; /* borrowed */
	GPtrArray *plugins;	  /* Plugin* */
	gboolean plain;
	ExhBuilderChangedFunc changed;
	gpointer changed_data;
	GHashTable *applied; /* res_uuid → hash handed to the backend; tick only */
	GHashTable *refused; /* res_uuid → hash the backend refused; tick only */

	GThread *thread;
	GMainContext *context;
	GMainLoop *loop;
	GSource *soon;
	PGconn *conn;
	PGconn *listen;
	gint ticks; /* atomic */
	gboolean running;
};

/* One tick's state. */
typedef struct {
	ExhBuilder *b;
	PGconn *conn;
	ExhBuilderStats *stats;
} Tick;

/* ------------------------------------------------------------- SQL helpers */

static PGresult *
sql(Tick *t, const gchar *text, gint n, const gchar *const *params, GError **error)
{
	return exh_ua_store_exec(t->conn, text, n, params, error);
}

/* A statement whose affected rows count as writes. */
static gboolean
sql_write(Tick *t, const gchar *text, gint n, const gchar *const *params, GError **error)
{
	g_autoptr(PGresult) res = sql(t, text, n, params, error);

	if (res == NULL)
		return FALSE;
	t->stats->written += (guint)g_ascii_strtoull(PQcmdTuples(res), NULL, 10);
	return TRUE;
}

static gboolean
sql_command(PGconn *conn, const gchar *text, GError **error)
{
	g_autoptr(PGresult) res = exh_ua_store_exec(conn, text, 0, NULL, error);

	return res != NULL;
}

/* `{"a","b"}`: a text[] literal of kinds (plain identifiers, checked at prepare). */
static gchar *
kinds_array(const gchar *const *kinds)
{
	GString *s = g_string_new("{");

	for (guint i = 0; kinds != NULL && kinds[i] != NULL; i++)
		g_string_append_printf(s, "%s\"%s\"", i > 0 ? "," : "", kinds[i]);
	g_string_append_c(s, '}');
	return g_string_free(s, FALSE);
}

/* Every builder kind of a plugin: these are instance targets, never derivatives. */
static gchar *
instance_kinds_array(const Plugin *p)
{
	g_autoptr(GPtrArray) kinds = g_ptr_array_new();

	for (guint i = 0; p->desc->builders->builders[i] != NULL; i++)
		g_ptr_array_add(kinds, (gpointer)p->desc->builders->builders[i]->kind);
	g_ptr_array_add(kinds, NULL);
	return kinds_array((const gchar *const *)kinds->pdata);
}

static gboolean
name_is_identifier(const gchar *name)
{
	gsize len = name != NULL ? strlen(name) : 0;

	return len > 0 && len <= 63 && !g_ascii_isdigit(name[0]) &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == len;
}

/* ------------------------------------------------------------- the view */

/* The derivatives of one instance with their actuals; strings live in @res. */
typedef struct {
	PGresult *res;
	ExordosPaasResource *targets;
	ExordosPaasResource *actuals;
	ExordosPaasResourcePair *pairs;
	const ExordosPaasResourcePair **list;
	gint n;
} View;

static void
view_clear(View *v)
{
	g_clear_pointer(&v->res, PQclear);
	g_free(v->targets);
	g_free(v->actuals);
	g_free(v->pairs);
	g_free(v->list);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(View, view_clear)

static const gchar *
col(PGresult *res, gint row, gint column)
{
	return PQgetisnull(res, row, column) ? NULL : PQgetvalue(res, row, column);
}

static gboolean
view_load(Tick *t, const Plugin *p, const gchar *uuid, View *v, GError **error)
{
	g_autofree gchar *instance_kinds = instance_kinds_array(p);
	const gchar *params[] = { uuid, instance_kinds };

	v->res = sql(t,
		     "SELECT t.kind, t.uuid, t.value::text, t.status, t.hash, t.full_hash, "
		     "t.agent, t.res_uuid, a.value::text, a.status, a.hash, a.full_hash, "
		     "a.res_uuid FROM ua_target_resources t LEFT JOIN ua_actual_resources a ON "
		     "a.res_uuid = t.res_uuid WHERE t.master = $1 AND t.kind <> ALL($2::text[]) "
		     "ORDER BY t.kind, t.uuid",
		     2,
		     params,
		     error);
	if (v->res == NULL)
		return FALSE;
	v->n = PQntuples(v->res);
	v->targets = g_new0(ExordosPaasResource, v->n);
	v->actuals = g_new0(ExordosPaasResource, v->n);
	v->pairs = g_new0(ExordosPaasResourcePair, v->n);
	v->list = g_new0(const ExordosPaasResourcePair *, v->n + 1);
	for (gint i = 0; i < v->n; i++) {
		v->targets[i] = (ExordosPaasResource){ col(v->res, i, 0), col(v->res, i, 1),
						       col(v->res, i, 2), col(v->res, i, 3),
						       col(v->res, i, 4), col(v->res, i, 5),
						       col(v->res, i, 6), { NULL } };
		v->pairs[i].target = &v->targets[i];
		if (col(v->res, i, 12) != NULL) {
			v->actuals[i] = (ExordosPaasResource){ col(v->res, i, 0),
							       col(v->res, i, 1),
							       col(v->res, i, 8),
							       col(v->res, i, 9),
							       col(v->res, i, 10),
							       col(v->res, i, 11),
							       NULL,
							       { NULL } };
			v->pairs[i].actual = &v->actuals[i];
		}
		v->list[i] = &v->pairs[i];
	}
	return TRUE;
}

/* ------------------------------------------------------------- the sink */

typedef struct {
	gchar *kind;
	gchar *uuid;
	gchar *res_uuid;
	gchar *value; /* canonical */
	gchar *hash;
	gchar *agent;
	gchar *node;
	gchar *status;
} Want;

static void
want_free(Want *w)
{
	g_free(w->kind);
	g_free(w->uuid);
	g_free(w->res_uuid);
	g_free(w->value);
	g_free(w->hash);
	g_free(w->agent);
	g_free(w->node);
	g_free(w->status);
	g_free(w);
}

typedef struct {
	const ExordosPaasBuilder *builder;
	GPtrArray *wants; /* Want* */
	gchar *value;
	gchar *status;
	gchar *patch;
	gchar *not_ready;
	gchar *bad;
} Sink;

static void
sink_clear(Sink *s)
{
	g_clear_pointer(&s->wants, g_ptr_array_unref);
	g_free(s->value);
	g_free(s->status);
	g_free(s->patch);
	g_free(s->not_ready);
	g_free(s->bad);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Sink, sink_clear)

static void
sink_bad(Sink *s, const gchar *what)
{
	if (s->bad == NULL)
		s->bad = g_strdup(what);
}

/* Canonical text of a JSON object, or NULL. */
static gchar *
canonical_object(const gchar *text, gchar **out_hash)
{
	g_autoptr(JsonNode) node = NULL;

	if (text == NULL)
		return NULL;
	node = exm_json_parse_strict(text, strlen(text), NULL);
	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node))
		return NULL;
	if (out_hash != NULL)
		*out_hash = exm_json_hash(node);
	return exm_json_canonical(node);
}

static gboolean
status_is_valid(const gchar *status)
{
	return status != NULL && *status != '\0' && strlen(status) <= 32;
}

static void
sink_add_target(gpointer data,
		const gchar *kind,
		const gchar *uuid,
		const gchar *value,
		const gchar *agent,
		const gchar *status)
{
	Sink *s = data;
	g_autoptr(GError) error = NULL;
	Want *w;

	if (kind == NULL || !g_strv_contains(s->builder->derivative_kinds, kind)) {
		sink_bad(s, "a target of a kind the builder does not own");
		return;
	}
	w = g_new0(Want, 1);
	w->kind = g_strdup(kind);
	w->uuid = uuid != NULL ? exm_uuid_parse(uuid, NULL) : NULL;
	w->agent = agent != NULL ? exm_uuid_parse(agent, NULL) : NULL;
	w->value = canonical_object(value, &w->hash);
	w->status = g_strdup(status != NULL ? status : "NEW");
	if (w->uuid == NULL || w->value == NULL || (agent != NULL && w->agent == NULL) ||
	    !status_is_valid(w->status)) {
		sink_bad(s, "a target with a bad uuid, agent, status or value");
		want_free(w);
		return;
	}
	w->res_uuid = exm_uuid5(w->uuid, kind, &error);
	g_ptr_array_add(s->wants, w);
}

static void
sink_set_instance(gpointer data, const gchar *value, const gchar *status)
{
	Sink *s = data;

	g_free(s->value);
	g_free(s->status);
	s->value = canonical_object(value, NULL);
	s->status = status_is_valid(status) ? g_strdup(status) : NULL;
	if (s->value == NULL || s->status == NULL)
		sink_bad(s, "an instance target with a bad value or status");
}

static void
sink_set_patch(gpointer data, const gchar *patch)
{
	Sink *s = data;

	g_free(s->patch);
	s->patch = g_strdup(patch);
	if (patch == NULL)
		sink_bad(s, "a NULL patch");
}

static void
sink_set_not_ready(gpointer data, const gchar *reason)
{
	Sink *s = data;

	g_free(s->not_ready);
	s->not_ready = g_strdup(reason != NULL ? reason : "not ready");
}

/* ------------------------------------------------------------- one instance */

static gboolean
plugin_error(const gchar *what, gchar *message, GError **error)
{
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_FAILED,
		    "%s: %s",
		    what,
		    message != NULL ? message : "failed");
	g_free(message);
	return FALSE;
}

/* Deleted instance: its derivative targets and its own target go. */
static gboolean
delete_instance(Tick *t, const ExordosPaasBuilder *b, const gchar *uuid, GError **error)
{
	g_autofree gchar *kinds = kinds_array(b->derivative_kinds);
	const gchar *p1[] = { uuid, kinds };
	const gchar *p2[] = { uuid, b->kind };

	return sql_write(t,
			 "DELETE FROM ua_target_resources WHERE master = $1 AND kind = "
			 "ANY($2::text[])",
			 2,
			 p1,
			 error) &&
	       sql_write(t,
			 "DELETE FROM ua_target_resources WHERE uuid = $1 AND kind = $2",
			 2,
			 p2,
			 error);
}

/* Routing needs the agent rows (FK); an absent agent means "not ready yet". */
static gboolean
resolve_agents(Tick *t, Sink *s, GError **error)
{
	for (guint i = 0; i < s->wants->len; i++) {
		Want *w = s->wants->pdata[i];
		const gchar *params[] = { w->agent };
		g_autoptr(PGresult) res = NULL;

		if (w->agent == NULL)
			continue;
		res = sql(t, "SELECT node FROM ua_agents WHERE uuid = $1", 1, params, error);
		if (res == NULL)
			return FALSE;
		if (PQntuples(res) == 0) {
			sink_set_not_ready(s, "its agent has not registered yet");
			return TRUE;
		}
		w->node = g_strdup(PQgetvalue(res, 0, 0));
	}
	return TRUE;
}

static gint
view_find(const View *v, const gchar *kind, const gchar *uuid)
{
	for (gint i = 0; i < v->n; i++) {
		if (g_str_equal(v->targets[i].kind, kind) && g_str_equal(v->targets[i].uuid, uuid))
			return i;
	}
	return -1;
}

/* §9.6 on the row as it will be: full_hash from the actual, status by the rule. */
static void
status_rule(const ExordosPaasResource *actual,
	    const gchar *hash,
	    const gchar **status,
	    const gchar **full_hash)
{
	if (actual == NULL)
		return;
	*full_hash = actual->full_hash;
	if (g_str_equal(actual->status, "ACTIVE") && g_str_equal(hash, actual->hash))
		*status = "ACTIVE";
	else if (!g_str_equal(actual->status, "ACTIVE") && !g_str_equal(actual->status, *status))
		*status = actual->status;
}

static gboolean
insert_target(Tick *t, const gchar *master, const Want *w, GError **error)
{
	const gchar *params[] = { w->uuid,   w->kind,  w->res_uuid, w->value, w->hash,
				  w->status, w->agent, w->node,	    master };

	return sql_write(t,
			 "INSERT INTO ua_target_resources (uuid, kind, res_uuid, value, hash, "
			 "full_hash, status, agent, node, master, tracked_at) VALUES ($1, $2, $3, "
			 "$4::jsonb, $5, '', $6, $7, $8, $9, " EXH_UA_NOW ")",
			 9,
			 params,
			 error);
}

/* §9.5 for one wanted derivative that exists: copy value, hash, status when
 * the hash moved; then §9.6 against its actual.  Writes only on a change. */
static gboolean
update_target(Tick *t, const View *v, gint i, const Want *w, GError **error)
{
	const ExordosPaasResource *cur = &v->targets[i];
	gboolean moved = !g_str_equal(cur->hash, w->hash);
	const gchar *status = moved ? w->status : cur->status;
	const gchar *full_hash = cur->full_hash;
	const gchar *params[8];

	/* only an outdated pair (§9.4): an actual already taken in says nothing new */
	if (v->pairs[i].actual != NULL &&
	    !g_str_equal(v->pairs[i].actual->full_hash, cur->full_hash))
		status_rule(v->pairs[i].actual, w->hash, &status, &full_hash);
	if (!moved && g_str_equal(status, cur->status) && g_str_equal(full_hash, cur->full_hash) &&
	    g_strcmp0(w->agent, cur->agent) == 0)
		return TRUE;
	params[0] = w->res_uuid;
	params[1] = w->value;
	params[2] = w->hash;
	params[3] = status;
	params[4] = full_hash;
	params[5] = w->agent;
	params[6] = w->node;
	params[7] = moved ? "t" : "f";
	return sql_write(t,
			 "UPDATE ua_target_resources SET value = CASE WHEN $8::boolean THEN "
			 "$2::jsonb ELSE value END, hash = $3, status = $4, full_hash = $5, "
			 "agent = $6, node = $7, updated_at = " EXH_UA_NOW " WHERE res_uuid = $1",
			 8,
			 params,
			 error);
}

/* §9.5 over the kinds the builder owns. */
static gboolean
diff_derivatives(Tick *t,
		 const ExordosPaasBuilder *b,
		 const gchar *master,
		 const View *v,
		 Sink *s,
		 GError **error)
{
	g_autofree gboolean *kept = g_new0(gboolean, v->n + 1);

	for (guint j = 0; j < s->wants->len; j++) {
		Want *w = s->wants->pdata[j];
		gint i = view_find(v, w->kind, w->uuid);
		gboolean ok = i < 0 ? insert_target(t, master, w, error)
				    : update_target(t, v, i, w, error);

		if (!ok)
			return FALSE;
		if (i >= 0)
			kept[i] = TRUE;
	}
	for (gint i = 0; i < v->n; i++) {
		const gchar *params[] = { v->targets[i].kind, v->targets[i].uuid };

		if (kept[i] || !g_strv_contains(b->derivative_kinds, v->targets[i].kind))
			continue;
		if (!sql_write(t,
			       "DELETE FROM ua_target_resources WHERE kind = $1 AND uuid = $2",
			       2,
			       params,
			       error))
			return FALSE;
	}
	return TRUE;
}

/* The instance's own target, `tracked_at := updated_at` of the row as it is now
 * (after the patch), master_full_hash := the master's full_hash; no write when
 * all of it is already so. */
static gboolean
upsert_instance_target(Tick *t,
		       const ExordosPaasBuilder *b,
		       const gchar *uuid,
		       const Sink *s,
		       GError **error)
{
	g_autofree gchar *res_uuid = exm_uuid5(uuid, b->kind, NULL);
	g_autofree gchar *table = PQescapeIdentifier(t->conn, b->table, strlen(b->table));
	g_autofree gchar *hash = NULL;
	g_autofree gchar *value = canonical_object(s->value != NULL ? s->value : "{}", &hash);
	g_autofree gchar *kinds = kinds_array(b->derivative_kinds);
	g_autofree gchar *text = NULL;
	const gchar *params[] = { uuid,
				  b->kind,
				  res_uuid,
				  value,
				  hash,
				  s->status,
				  s->value != NULL ? "t" : "f",
				  b->master_kind,
				  kinds };

	text = g_strdup_printf(
		"INSERT INTO ua_target_resources AS r (uuid, kind, res_uuid, value, hash, "
		"status, master, tracked_at, master_full_hash, derivatives_hash) SELECT $1, $2, "
		"$3, $4::jsonb, $5, COALESCE($6, 'NEW'), CASE WHEN $8::text IS NULL THEN NULL "
		"ELSE $1::uuid END, i.updated_at, COALESCE((SELECT m.full_hash FROM "
		"ua_target_resources m WHERE m.uuid = $1 AND m.kind = $8), ''), " DERIVATIVES_HASH(
			"$1::uuid",
			"$9") " FROM %s i WHERE i.uuid = $1 "
			      "ON CONFLICT (res_uuid) DO UPDATE SET "
			      "value = CASE WHEN $7::boolean THEN EXCLUDED.value ELSE r.value END, "
			      "hash = CASE WHEN $7::boolean THEN EXCLUDED.hash ELSE r.hash END, "
			      "status = COALESCE($6, r.status), master = EXCLUDED.master, "
			      "tracked_at = EXCLUDED.tracked_at, master_full_hash = "
			      "EXCLUDED.master_full_hash, "
			      "derivatives_hash = EXCLUDED.derivatives_hash, "
			      "updated_at = " EXH_UA_NOW
			      " WHERE (r.value, r.hash, r.status, r.master, "
			      "r.tracked_at, r.master_full_hash, r.derivatives_hash) IS DISTINCT "
			      "FROM (CASE WHEN "
			      "$7::boolean THEN EXCLUDED.value ELSE r.value END, CASE WHEN "
			      "$7::boolean THEN "
			      "EXCLUDED.hash ELSE r.hash END, COALESCE($6, r.status), "
			      "EXCLUDED.master, "
			      "EXCLUDED.tracked_at, EXCLUDED.master_full_hash, "
			      "EXCLUDED.derivatives_hash)",
		table);
	return sql_write(t, text, 9, params, error);
}

static gboolean
build_instance(Tick *t,
	       const Plugin *p,
	       const ExordosPaasBuilder *b,
	       const gchar *uuid,
	       gconstpointer input,
	       GError **error)
{
	g_auto(View) v = { 0 };
	g_auto(Sink) s = { .builder = b,
			   .wants = g_ptr_array_new_with_free_func((GDestroyNotify)want_free) };
	ExordosPaasBuildView view = { sizeof(view), uuid, NULL, { NULL } };
	ExordosPaasBuildSink sink = { sizeof(sink),    &s,
				      sink_add_target, sink_set_instance,
				      sink_set_patch,  sink_set_not_ready,
				      { NULL } };
	gchar *message = NULL;
	gboolean ok;

	if (!view_load(t, p, uuid, &v, error))
		return FALSE;
	view.pairs = v.list;
	if (!b->build(p->ctx, input, &view, &sink, &message)) {
		plugin_error("build", message, error);
		return FALSE;
	}
	if (s.bad != NULL) {
		g_set_error(error, EXM_ERROR, EXM_ERROR_FAILED, "build returned %s", s.bad);
		return FALSE;
	}
	if (s.not_ready == NULL && !resolve_agents(t, &s, error))
		return FALSE;
	if (s.not_ready != NULL) {
		exh_log(G_LOG_LEVEL_DEBUG, NULL, "%s %s not ready: %s", b->kind, uuid, s.not_ready);
		t->stats->not_ready++;
		return TRUE;
	}
	if (!diff_derivatives(t, b, uuid, &v, &s, error))
		return FALSE;
	if (s.patch != NULL && !b->apply(p->ctx, t->conn, input, s.patch, &message)) {
		plugin_error("apply", message, error);
		return FALSE;
	}
	if (s.patch != NULL)
		t->stats->written++;
	ok = upsert_instance_target(t, b, uuid, &s, error);
	t->stats->processed += ok;
	return ok;
}

static gboolean
process_instance(Tick *t,
		 const Plugin *p,
		 const ExordosPaasBuilder *b,
		 const gchar *uuid,
		 GError **error)
{
	gpointer input = NULL;
	gchar *message = NULL;
	gboolean ok;

	if (!b->load(p->ctx, t->conn, uuid, &input, &message))
		return plugin_error("load", message, error);
	if (input == NULL)
		return delete_instance(t, b, uuid, error);
	ok = build_instance(t, p, b, uuid, input, error);
	b->input_free(input);
	return ok;
}

/* @sql_template with every `@T@` replaced by the quoted table name. */
static gchar *
with_table(const gchar *sql_template, const gchar *table)
{
	g_auto(GStrv) parts = g_strsplit(sql_template, "@T@", -1);

	return g_strjoinv(table, parts);
}

/* The instances this builder must look at (§9.3), at most a batch of each. */
static PGresult *
select_candidates(Tick *t, const ExordosPaasBuilder *b, GError **error)
{
	g_autofree gchar *table = PQescapeIdentifier(t->conn, b->table, strlen(b->table));
	g_autofree gchar *kinds = kinds_array(b->derivative_kinds);
	g_autofree gchar *text = NULL;
	const gchar *params[] = { b->kind, kinds, b->master_kind };

	text = with_table(
		"SELECT uuid FROM ("
		"(SELECT i.uuid FROM @T@ i WHERE NOT EXISTS (SELECT 1 FROM ua_target_resources r "
		"WHERE r.uuid = i.uuid AND r.kind = $1) ORDER BY i.uuid LIMIT " BATCH ") UNION "
		"(SELECT i.uuid FROM @T@ i JOIN ua_target_resources r ON r.uuid = i.uuid AND "
		"r.kind = $1 WHERE r.tracked_at IS DISTINCT FROM i.updated_at LIMIT " BATCH
		") UNION "
		"(SELECT r.uuid FROM ua_target_resources r WHERE r.kind = $1 AND NOT EXISTS "
		"(SELECT 1 FROM @T@ i WHERE i.uuid = r.uuid) LIMIT " BATCH ") UNION "
		"(SELECT r.master FROM ua_target_resources r JOIN ua_actual_resources a ON "
		"a.res_uuid = r.res_uuid WHERE r.kind = ANY($2::text[]) AND r.master IS NOT NULL "
		"AND r.full_hash <> a.full_hash LIMIT " BATCH ") UNION "
		"(SELECT r.uuid FROM ua_target_resources r WHERE r.kind = $1 AND "
		"r.derivatives_hash <> " DERIVATIVES_HASH(
			"r.uuid", "$2") " LIMIT " BATCH ") UNION "
					"(SELECT r.uuid FROM ua_target_resources r JOIN "
					"ua_target_resources m ON "
					"m.uuid = r.uuid AND m.kind = $3 WHERE r.kind = $1 AND "
					"r.master_full_hash <> "
					"m.full_hash LIMIT " BATCH ")) c ORDER BY uuid",
		table);
	return sql(t, text, 3, params, error);
}

static gboolean
savepoint(Tick *t, const gchar *command)
{
	g_autoptr(GError) error = NULL;

	if (sql_command(t->conn, command, &error))
		return TRUE;
	exh_log(G_LOG_LEVEL_MESSAGE, NULL, "builder: %s: %s", command, error->message);
	return FALSE;
}

static gboolean
run_builder(Tick *t, const Plugin *p, const ExordosPaasBuilder *b, GError **error)
{
	g_autoptr(PGresult) uuids = select_candidates(t, b, error);

	if (uuids == NULL)
		return FALSE;
	for (gint i = 0; i < PQntuples(uuids); i++) {
		const gchar *uuid = PQgetvalue(uuids, i, 0);
		g_autoptr(GError) local = NULL;
		ExhBuilderStats before = *t->stats;

		if (!savepoint(t, "SAVEPOINT exh_instance"))
			return FALSE;
		if (process_instance(t, p, b, uuid, &local)) {
			if (!savepoint(t, "RELEASE SAVEPOINT exh_instance"))
				return FALSE;
			continue;
		}
		/* this instance alone rolls back; tracked_at stays, it is retried */
		exh_log(G_LOG_LEVEL_MESSAGE, NULL, "%s %s: %s", b->kind, uuid, local->message);
		*t->stats = before;
		t->stats->failed++;
		if (!savepoint(t, "ROLLBACK TO SAVEPOINT exh_instance") ||
		    !savepoint(t, "RELEASE SAVEPOINT exh_instance"))
			return FALSE;
	}
	return TRUE;
}

/* ------------------------------------------------------------- infra backend */

/* hash of @actual projected on the keys of @target (§2.3). */
static gchar *
projection_hash(JsonObject *target, JsonObject *actual)
{
	g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
	JsonObject *proj = json_object_new();
	g_autoptr(GList) keys = json_object_get_members(target);

	for (GList *l = keys; l != NULL; l = l->next) {
		JsonNode *member = json_object_get_member(actual, l->data);

		if (member != NULL)
			json_object_set_member(proj, l->data, json_node_copy(member));
	}
	json_node_take_object(node, proj);
	return exm_json_hash(node);
}

/* Writes an infra actual row when its full_hash moved (no no-op statement: the
 * table's trigger would wake the engine for nothing). */
static gboolean
put_actual(Tick *t,
	   const gchar *kind,
	   const gchar *uuid,
	   const gchar *res_uuid,
	   JsonObject *target,
	   JsonNode *value,
	   const gchar *status,
	   GError **error)
{
	g_autofree gchar *full_hash = exm_json_hash(value);
	g_autofree gchar *hash = projection_hash(target, json_node_get_object(value));
	g_autofree gchar *text = exm_json_canonical(value);
	const gchar *p1[] = { res_uuid };
	const gchar *p2[] = { uuid, kind, res_uuid, text, hash, full_hash, status };
	g_autoptr(PGresult) cur =
		sql(t,
		    "SELECT full_hash, status FROM ua_actual_resources WHERE res_uuid = $1",
		    1,
		    p1,
		    error);

	if (cur == NULL)
		return FALSE;
	if (PQntuples(cur) == 1 && g_str_equal(PQgetvalue(cur, 0, 0), full_hash) &&
	    g_str_equal(PQgetvalue(cur, 0, 1), status))
		return TRUE;
	return sql_write(
		t,
		"INSERT INTO ua_actual_resources (uuid, kind, res_uuid, value, hash, "
		"full_hash, status) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7) ON CONFLICT "
		"(res_uuid) DO UPDATE SET value = EXCLUDED.value, hash = EXCLUDED.hash, "
		"full_hash = EXCLUDED.full_hash, status = EXCLUDED.status, updated_at = "
		" " EXH_UA_NOW,
		7,
		p2,
		error);
}

static gboolean
put_node_keys(Tick *t, const ExhNodeSetActual *actual, GError **error)
{
	for (guint i = 0; actual->nodes != NULL && i < actual->nodes->len; i++) {
		const ExhInfraNode *node = actual->nodes->pdata[i];
		const gchar *params[] = { node->uuid, node->private_key };
		g_autoptr(PGresult) cur = NULL;

		if (node->private_key == NULL)
			continue;
		cur = sql(t,
			  "SELECT 1 FROM ua_node_encryption_keys WHERE uuid = $1 AND "
			  "private_key = $2",
			  2,
			  params,
			  error);
		if (cur == NULL)
			return FALSE;
		if (PQntuples(cur) == 1)
			continue;
		if (!exh_ua_store_node_key_put(t->conn,
					       node->uuid,
					       node->private_key,
					       t->b->plain ? G_MAXINT : 0,
					       error))
			return FALSE;
		t->stats->written++;
	}
	return TRUE;
}

/* Hands a changed infra target to the backend (level-based, once per hash). */
static void
apply_infra(Tick *t, const gchar *kind, const gchar *res_uuid, const gchar *hash, JsonObject *value)
{
	g_autoptr(GError) error = NULL;
	gboolean ok;

	if (g_strcmp0(g_hash_table_lookup(t->b->applied, res_uuid), hash) == 0)
		return;
	if (g_str_equal(kind, "node_set")) {
		g_autoptr(ExhNodeSetTarget) target = exh_node_set_target_from_json(value, &error);
		ok = target != NULL &&
		     exh_infra_backend_apply_node_set(t->b->backend, target, &error);
	} else {
		g_autoptr(ExhConfigTarget) target = exh_config_target_from_json(value, &error);
		ok = target != NULL &&
		     exh_infra_backend_apply_config(t->b->backend, target, &error);
	}
	if (ok) {
		g_hash_table_replace(t->b->applied, g_strdup(res_uuid), g_strdup(hash));
		g_hash_table_remove(t->b->refused, res_uuid);
		return;
	}
	/* retried every tick (a node may appear), logged once per target version */
	if (g_strcmp0(g_hash_table_lookup(t->b->refused, res_uuid), hash) != 0)
		exh_log(G_LOG_LEVEL_MESSAGE,
			NULL,
			"backend refused %s %s: %s",
			kind,
			res_uuid,
			error->message);
	g_hash_table_replace(t->b->refused, g_strdup(res_uuid), g_strdup(hash));
}

static gboolean
report_node_set(Tick *t,
		const gchar *uuid,
		const gchar *res_uuid,
		JsonObject *target,
		GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autoptr(ExhNodeSetActual) actual =
		exh_infra_backend_get_node_set(t->b->backend, uuid, &local);
	g_autoptr(JsonNode) value = NULL;

	if (actual == NULL) {
		if (local != NULL)
			exh_log(G_LOG_LEVEL_MESSAGE, NULL, "node_set %s: %s", uuid, local->message);
		return TRUE;
	}
	value = exh_node_set_actual_to_json(actual);
	return put_node_keys(t, actual, error) &&
	       put_actual(t,
			  "node_set",
			  uuid,
			  res_uuid,
			  target,
			  value,
			  exh_infra_status_to_string(actual->status),
			  error);
}

/* A new object with the members of @obj (they are never modified). */
static JsonNode *
object_copy(JsonObject *obj)
{
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);
	JsonObject *copy = json_object_new();
	g_autoptr(GList) keys = json_object_get_members(obj);

	for (GList *l = keys; l != NULL; l = l->next)
		json_object_set_member(
			copy, l->data, json_node_copy(json_object_get_member(obj, l->data)));
	json_node_take_object(node, copy);
	return node;
}

static gboolean
report_config(Tick *t, const gchar *uuid, const gchar *res_uuid, JsonObject *target, GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autoptr(JsonNode) value = NULL;
	ExhInfraStatus status = EXH_INFRA_STATUS_NEW;
	const gchar *name;

	if (!exh_infra_backend_get_config_status(t->b->backend, uuid, &status, &local)) {
		if (local != NULL)
			exh_log(G_LOG_LEVEL_MESSAGE, NULL, "config %s: %s", uuid, local->message);
		return TRUE;
	}
	/* the file is the target (the backend wrote it) plus its status */
	name = exh_infra_status_to_string(status);
	value = object_copy(target);
	json_object_set_string_member(json_node_get_object(value), "status", name);
	return put_actual(t, "config", uuid, res_uuid, target, value, name, error);
}

/* Infra actuals whose target is gone: the backend deletes, keys and row go. */
static gboolean
delete_orphans(Tick *t, GError **error)
{
	g_autoptr(PGresult) res =
		sql(t,
		    "SELECT a.kind, a.uuid, a.res_uuid, a.value::text FROM "
		    "ua_actual_resources a WHERE a.kind IN ('node_set', 'config') "
		    "AND a.node IS NULL AND NOT EXISTS (SELECT 1 FROM "
		    "ua_target_resources r WHERE r.res_uuid = a.res_uuid)",
		    0,
		    NULL,
		    error);

	if (res == NULL)
		return FALSE;
	for (gint i = 0; i < PQntuples(res); i++) {
		const gchar *kind = PQgetvalue(res, i, 0);
		const gchar *uuid = PQgetvalue(res, i, 1);
		const gchar *params[] = { PQgetvalue(res, i, 2), PQgetvalue(res, i, 3) };
		g_autoptr(GError) local = NULL;
		gboolean ok =
			g_str_equal(kind, "node_set")
				? exh_infra_backend_delete_node_set(t->b->backend, uuid, &local)
				: exh_infra_backend_delete_config(t->b->backend, uuid, &local);

		if (!ok) {
			exh_log(G_LOG_LEVEL_MESSAGE,
				NULL,
				"deleting %s %s: %s",
				kind,
				uuid,
				local->message);
			continue;
		}
		g_hash_table_remove(t->b->applied, params[0]);
		if (!sql_write(t,
			       "DELETE FROM ua_node_encryption_keys WHERE uuid::text IN (SELECT "
			       "jsonb_object_keys($1::jsonb->'nodes') WHERE "
			       "jsonb_typeof($1::jsonb->'nodes') = 'object')",
			       1,
			       &params[1],
			       error) ||
		    !sql_write(t,
			       "DELETE FROM ua_actual_resources WHERE res_uuid = $1",
			       1,
			       params,
			       error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
sync_infra(Tick *t, GError **error)
{
	g_autoptr(PGresult) res = NULL;

	if (t->b->backend == NULL)
		return TRUE;
	/* node sets before configs: a config needs its node */
	res = sql(t,
		  "SELECT kind, uuid, res_uuid, value::text, hash FROM ua_target_resources WHERE "
		  "agent IS NULL AND kind IN ('node_set', 'config') ORDER BY kind DESC, uuid",
		  0,
		  NULL,
		  error);
	if (res == NULL)
		return FALSE;
	for (gint i = 0; i < PQntuples(res); i++) {
		const gchar *kind = PQgetvalue(res, i, 0);
		const gchar *text = PQgetvalue(res, i, 3);
		g_autoptr(JsonNode) node = exm_json_parse_strict(text, strlen(text), NULL);
		JsonObject *value;
		gboolean ok;

		if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node))
			continue;
		value = json_node_get_object(node);
		apply_infra(t, kind, PQgetvalue(res, i, 2), PQgetvalue(res, i, 4), value);
		ok = g_str_equal(kind, "node_set") ? report_node_set(t,
								     PQgetvalue(res, i, 1),
								     PQgetvalue(res, i, 2),
								     value,
								     error)
						   : report_config(t,
								   PQgetvalue(res, i, 1),
								   PQgetvalue(res, i, 2),
								   value,
								   error);
		if (!ok)
			return FALSE;
	}
	return delete_orphans(t, error);
}

/* ------------------------------------------------------------- tick */

static gboolean
tick_body(Tick *t, GError **error)
{
	if (!sync_infra(t, error))
		return FALSE;
	for (guint i = 0; i < t->b->plugins->len; i++) {
		const Plugin *p = t->b->plugins->pdata[i];

		for (guint j = 0; p->desc->builders->builders[j] != NULL; j++) {
			if (!run_builder(t, p, p->desc->builders->builders[j], error))
				return FALSE;
		}
	}
	return sync_infra(t, error);
}

gboolean
exh_builder_tick(ExhBuilder *builder, PGconn *conn, ExhBuilderStats *stats, GError **error)
{
	ExhBuilderStats local = { 0 };
	Tick t = { builder, conn, stats != NULL ? stats : &local };
	g_autoptr(GError) rollback_error = NULL;

	memset(t.stats, 0, sizeof(*t.stats));
	if (!sql_command(conn, "BEGIN", error))
		return FALSE;
	if (!tick_body(&t, error)) {
		sql_command(conn, "ROLLBACK", &rollback_error);
		return FALSE;
	}
	if (!sql_command(conn, "COMMIT", error))
		return FALSE;
	if (t.stats->written > 0 && builder->changed != NULL)
		builder->changed(builder->changed_data);
	return TRUE;
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
	Plugin *p;

	g_return_if_fail(desc->abi_minor >= 1 && desc->builders != NULL);
	p = g_new0(Plugin, 1);
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
		const Plugin *p = builder->plugins->pdata[i];

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
			if (!sql_command(conn, text, error))
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
	if (!sql_command(conn, "SET TIME ZONE 'UTC'", error))
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
	    !sql_command(builder->listen, "LISTEN " EXH_UA_NOTIFY_CHANNEL, error)) {
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
