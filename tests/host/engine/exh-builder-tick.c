/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * One tick of the engine: the infra bridge, then every builder over its
 * candidates (§9.3), one savepoint per instance (§9.5 diff, §9.6 status
 * rule), then the infra bridge again; all in one transaction.
 */
#include "exh-builder-private.h"

#include <string.h>

#include "exh-log.h"
#include "exh-metrics.h"
#include "exh-ua-store.h"
#include "exm-cleanup.h"
#include "exm-error.h"
#include "exm-proto.h"
#include "exm-uuid.h"

#define BATCH	"100"
#define BATCH_N 100
/* the marks one tick takes (the rest wait for the next, which comes soon) */
#define MARKS	"1000"
#define MARKS_N 1000

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
delete_instance(ExhBuilderTick *t, const ExordosPaasBuilder *b, const gchar *uuid, GError **error)
{
	g_autofree gchar *kinds = exh_builder_sql_kinds(b->derivative_kinds);
	const gchar *p1[] = { uuid, kinds };
	const gchar *p2[] = { uuid, b->kind };

	return exh_builder_sql_write(t,
				     "DELETE FROM ua_target_resources WHERE master = $1 AND kind = "
				     "ANY($2::text[])",
				     2,
				     p1,
				     error) &&
	       exh_builder_sql_write(
		       t,
		       "DELETE FROM ua_target_resources WHERE uuid = $1 AND kind = $2",
		       2,
		       p2,
		       error);
}

/* Routing needs the agent rows (FK); an absent agent means "not ready yet". */
static gboolean
resolve_agents(ExhBuilderTick *t, ExhBuilderSink *s, GError **error)
{
	for (guint i = 0; i < s->wants->len; i++) {
		ExhBuilderWant *w = s->wants->pdata[i];
		const gchar *params[] = { w->agent };
		g_autoptr(PGresult) res = NULL;

		if (w->agent == NULL)
			continue;
		res = exh_builder_sql_exec(
			t, "SELECT node FROM ua_agents WHERE uuid = $1", 1, params, error);
		if (res == NULL)
			return FALSE;
		if (PQntuples(res) == 0) {
			exh_builder_sink_set_not_ready(s, "its agent has not registered yet");
			return TRUE;
		}
		w->node = g_strdup(PQgetvalue(res, 0, 0));
	}
	return TRUE;
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
insert_target(ExhBuilderTick *t, const gchar *master, const ExhBuilderWant *w, GError **error)
{
	const gchar *params[] = { w->uuid,   w->kind,  w->res_uuid, w->value, w->hash,
				  w->status, w->agent, w->node,	    master };

	return exh_builder_sql_write(
		t,
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
update_target(ExhBuilderTick *t,
	      const ExhBuilderView *v,
	      gint i,
	      const ExhBuilderWant *w,
	      GError **error)
{
	const ExordosPaasResource *cur = &v->targets[i];
	gboolean moved = !g_str_equal(cur->hash, w->hash);
	const gchar *status = moved ? w->status : cur->status;
	const gchar *full_hash = cur->full_hash;
	const ExordosPaasResource *actual = v->pairs[i].actual;
	const gchar *params[8];

	/* only an outdated pair (§9.4, with gcl_sdk migration 0008: also equal hashes
	 * but another status): an actual already taken in says nothing new */
	if (actual != NULL &&
	    (!g_str_equal(actual->full_hash, cur->full_hash) ||
	     (g_str_equal(actual->hash, cur->hash) && !g_str_equal(actual->status, cur->status))))
		status_rule(actual, w->hash, &status, &full_hash);
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
	return exh_builder_sql_write(
		t,
		"UPDATE ua_target_resources SET value = CASE WHEN $8::boolean THEN "
		"$2::jsonb ELSE value END, hash = $3, status = $4, full_hash = $5, "
		"agent = $6, node = $7, updated_at = " EXH_UA_NOW " WHERE res_uuid = $1",
		8,
		params,
		error);
}

/* §9.5 over the kinds the builder owns. */
static gboolean
diff_derivatives(ExhBuilderTick *t,
		 const ExordosPaasBuilder *b,
		 const gchar *master,
		 const ExhBuilderView *v,
		 ExhBuilderSink *s,
		 GError **error)
{
	g_autofree gboolean *kept = g_new0(gboolean, v->n + 1);

	for (guint j = 0; j < s->wants->len; j++) {
		ExhBuilderWant *w = s->wants->pdata[j];
		gint i = exh_builder_view_find(v, w->kind, w->uuid);
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
		if (!exh_builder_sql_write(
			    t,
			    "DELETE FROM ua_target_resources WHERE kind = $1 AND uuid = $2",
			    2,
			    params,
			    error))
			return FALSE;
	}
	// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autofree frees it
	return TRUE;
}

/* The instance's own target, `tracked_at := updated_at` of the row as it is now
 * (after the patch), master_full_hash := the master's full_hash; no write when
 * all of it is already so. */
static gboolean
upsert_instance_target(ExhBuilderTick *t,
		       const ExordosPaasBuilder *b,
		       const gchar *uuid,
		       const ExhBuilderSink *s,
		       GError **error)
{
	g_autofree gchar *res_uuid = exm_proto_uuid_resource(uuid, b->kind);
	g_autofree gchar *table = PQescapeIdentifier(t->conn, b->table, strlen(b->table));
	g_autofree gchar *hash = NULL;
	g_autofree gchar *value =
		exh_builder_sink_canonical(s->value != NULL ? s->value : "{}", &hash);
	g_autofree gchar *kinds = exh_builder_sql_kinds(b->derivative_kinds);
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
	return exh_builder_sql_write(t, text, 9, params, error);
}

/* The engine thread renews its connection after a tick that moved a large
 * value: libpq keeps its buffers at their largest for the connection's life. */
static void
note_sizes(ExhBuilder *builder, const ExhBuilderView *v, const ExhBuilderSink *s)
{
	for (gint i = 0; i < PQntuples(v->res); i++)
		builder->largest =
			MAX(builder->largest,
			    (gsize)MAX(PQgetlength(v->res, i, 2), PQgetlength(v->res, i, 8)));
	for (guint i = 0; i < s->wants->len; i++) {
		const ExhBuilderWant *w = s->wants->pdata[i];

		builder->largest = MAX(builder->largest, strlen(w->value));
	}
}

static gboolean
build_instance(ExhBuilderTick *t,
	       const ExhBuilderPlugin *p,
	       const ExordosPaasBuilder *b,
	       const gchar *uuid,
	       gconstpointer input,
	       GError **error)
{
	g_auto(ExhBuilderView) v = { 0 };
	g_auto(ExhBuilderSink) s = { 0 };
	ExordosPaasBuildView view = { sizeof(view), uuid, NULL, { NULL } };
	ExordosPaasBuildSink sink;
	gchar *message = NULL;
	gboolean ok;

	exh_builder_sink_init(&s, b, &sink);
	if (!exh_builder_view_load(t, p, uuid, &v, error))
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
	note_sizes(t->b, &v, &s);
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
process_instance(ExhBuilderTick *t,
		 const ExhBuilderPlugin *p,
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

/*
 * The instances this builder must look at (§9.3), at most a batch from each
 * source, as rows (uuid, source).  Each source starts after its cursor and
 * wraps around: rows that cannot progress (not ready, failing) stay
 * candidates, but no longer hide the ones behind them.
 */
static PGresult *
select_candidates(ExhBuilderTick *t,
		  const ExordosPaasBuilder *b,
		  const ExhBuilderCursor *c,
		  GError **error)
{
	g_autofree gchar *table = PQescapeIdentifier(t->conn, b->table, strlen(b->table));
	g_autofree gchar *kinds = exh_builder_sql_kinds(b->derivative_kinds);
	g_autofree gchar *text = NULL;
	const gchar *params[3 + EXH_BUILDER_SOURCES] = { b->kind, kinds, b->master_kind };

	for (guint i = 0; i < EXH_BUILDER_SOURCES; i++)
		params[3 + i] = c->after[i];
		/* ROTATE(x, n): after cursor $n first, then from the start */
#define ROTATE(x, n) " ORDER BY (" x " <= $" n "::uuid), " x " LIMIT " BATCH
	text = with_table(
		"SELECT uuid, k FROM ("
		"(SELECT i.uuid, 0 AS k FROM @T@ i WHERE NOT EXISTS (SELECT 1 FROM "
		"ua_target_resources r WHERE r.uuid = i.uuid AND r.kind = $1)" ROTATE(
			"i.uuid",
			"4") ") UNION ALL (SELECT i.uuid, 1 FROM @T@ i JOIN ua_target_resources r "
			     "ON r.uuid = "
			     "i.uuid AND r.kind = $1 WHERE r.tracked_at IS DISTINCT FROM "
			     "i.updated_at" ROTATE(
				     "i.uuid",
				     "5") ") UNION ALL "
					  "(SELECT r.uuid, 2 FROM ua_target_resources r WHERE "
					  "r.kind = $1 AND NOT EXISTS "
					  "(SELECT 1 FROM @T@ i WHERE i.uuid = r.uuid)" ROTATE(
						  "r.uuid",
						  "6") ") UNION ALL "
						       "(SELECT r.master, 3 FROM "
						       "ua_target_resources r JOIN "
						       "ua_actual_resources a ON "
						       "a.res_uuid = r.res_uuid WHERE r.kind = "
						       "ANY($2::text[]) AND r.master IS NOT NULL "
						       "AND (r.full_hash <> a.full_hash OR (r.hash "
						       "= a.hash AND "
						       "r.status <> a.status))" ROTATE(
							       "r.master",
							       "7") ") UNION ALL "
								    "(SELECT r.uuid, 4 FROM "
								    "ua_target_resources r WHERE "
								    "r.kind = $1 AND "
								    "r.derivatives_hash "
								    "<> " DERIVATIVES_HASH("r.uuid", "$2") ROTATE(
									    "r.uuid",
									    "8") ") UNION ALL "
										 "(SELECT r.uuid, "
										 "5 FROM "
										 "ua_target_"
										 "resources r JOIN "
										 "ua_target_"
										 "resources m ON "
										 "m.uuid = r.uuid "
										 "AND m.kind = $3 "
										 "WHERE r.kind = "
										 "$1 AND "
										 "r.master_full_"
										 "hash <> "
										 "m.full_"
										 "hash" ROTATE(
											 "r.uuid",
											 "9") ")) "
											      "c "
											      "ORDE"
											      "R "
											      "BY "
											      "uuid"
											      ", k",
		table);
#undef ROTATE
	return exh_builder_sql_exec(t, text, 3 + EXH_BUILDER_SOURCES, params, error);
}

/*
 * Moves each source's cursor to the last row it handed out in its rotated
 * order (the greatest one not after the old cursor, else the greatest); a
 * source that had less than a batch was seen whole and starts over.
 */
static gboolean
advance_cursor(ExhBuilderCursor *c, PGresult *res)
{
	gboolean full = FALSE;

	const gchar *wrapped[EXH_BUILDER_SOURCES] = { NULL };
	const gchar *ahead[EXH_BUILDER_SOURCES] = { NULL };
	guint count[EXH_BUILDER_SOURCES] = { 0 };

	for (gint i = 0; i < PQntuples(res); i++) {
		const gchar *uuid = PQgetvalue(res, i, 0);
		guint k = (guint)g_ascii_strtoull(PQgetvalue(res, i, 1), NULL, 10);

		if (k >= EXH_BUILDER_SOURCES)
			continue;
		count[k]++;
		if (c->after[k] != NULL && strcmp(uuid, c->after[k]) <= 0)
			wrapped[k] = uuid; /* rows come sorted: the last one is the greatest */
		else
			ahead[k] = uuid;
	}
	for (guint k = 0; k < EXH_BUILDER_SOURCES; k++) {
		const gchar *last = wrapped[k] != NULL ? wrapped[k] : ahead[k];

		g_free(c->after[k]);
		c->after[k] = count[k] >= BATCH_N ? g_strdup(last) : NULL;
		full = full || count[k] >= BATCH_N;
	}
	return full;
}

/* A savepoint command; its failure (the connection lost) fails the tick. */
static gboolean
savepoint(ExhBuilderTick *t, const gchar *command, GError **error)
{
	if (exh_builder_sql_command(t->conn, command, error))
		return TRUE;
	g_prefix_error(error, "%s: ", command);
	return FALSE;
}

static ExhBuilderCursor *
builder_cursor(ExhBuilder *builder, const ExordosPaasBuilder *b)
{
	ExhBuilderCursor *c = g_hash_table_lookup(builder->cursors, b);

	if (c == NULL) {
		c = g_new0(ExhBuilderCursor, 1);
		c->retry = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
		g_hash_table_insert(builder->cursors, (gpointer)b, c);
	}
	return c;
}

/*
 * The marked instances this builder owns: a row in its table or a target of
 * its kind (a deleted instance's), as rows (uuid, 0) in order; index lookups
 * only.
 */
static PGresult *
select_marked(ExhBuilderTick *t, const ExordosPaasBuilder *b, const gchar *marks, GError **error)
{
	g_autofree gchar *table = PQescapeIdentifier(t->conn, b->table, strlen(b->table));
	g_autofree gchar *text = with_table(
		"SELECT m.uuid, 0 FROM unnest($2::uuid[]) AS m(uuid) WHERE EXISTS (SELECT 1 FROM "
		"@T@ i WHERE i.uuid = m.uuid) OR EXISTS (SELECT 1 FROM ua_target_resources r "
		"WHERE r.uuid = m.uuid AND r.kind = $1) ORDER BY 1",
		table);
	const gchar *params[] = { b->kind, marks };

	return exh_builder_sql_exec(t, text, 2, params, error);
}

/* The tick's marks and @c's retries, as a uuid[] literal ("{}": none); the
 * retries are handed out (those still not built come back). */
static gchar *
marks_and_retries(const ExhBuilderTick *t, ExhBuilderCursor *c)
{
	GString *s = g_string_new(t->marks);
	GHashTableIter iter;
	gpointer uuid;

	g_string_truncate(s, s->len - 1); /* the closing brace */
	g_hash_table_iter_init(&iter, c->retry);
	while (g_hash_table_iter_next(&iter, &uuid, NULL))
		g_string_append_printf(s, "%s%s", s->len > 1 ? "," : "", (const gchar *)uuid);
	g_string_append_c(s, '}');
	g_hash_table_remove_all(c->retry);
	return g_string_free(s, FALSE);
}

static PGresult *
candidates(ExhBuilderTick *t, const ExordosPaasBuilder *b, GError **error)
{
	ExhBuilderCursor *c = builder_cursor(t->b, b);
	g_autofree gchar *marks = NULL;
	PGresult *res;

	if (!t->full) {
		marks = marks_and_retries(t, c);
		/* nothing marked: an idle tick asks nothing more */
		return g_str_equal(marks, "{}") ? PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK)
						: select_marked(t, b, marks, error);
	}
	g_hash_table_remove_all(c->retry);
	res = select_candidates(t, b, c, error);
	if (res != NULL && advance_cursor(c, res))
		t->batch = TRUE;
	return res;
}

/* An instance this builder did not build yet (not ready, failed): the next
 * tick tries it again, as its condition kept it a candidate before. */
static void
retry_later(ExhBuilderTick *t, const ExordosPaasBuilder *b, const gchar *uuid)
{
	g_hash_table_add(builder_cursor(t->b, b)->retry, g_strdup(uuid));
}

static gboolean
run_builder(ExhBuilderTick *t,
	    const ExhBuilderPlugin *p,
	    const ExordosPaasBuilder *b,
	    GError **error)
{
	g_autoptr(PGresult) uuids = candidates(t, b, error);

	if (uuids == NULL)
		return FALSE;
	for (gint i = 0; i < PQntuples(uuids); i++) {
		const gchar *uuid = PQgetvalue(uuids, i, 0);
		g_autoptr(GError) local = NULL;
		ExhBuilderStats before = *t->stats;

		/* one instance from several sources is processed once */
		if (i > 0 && g_str_equal(uuid, PQgetvalue(uuids, i - 1, 0)))
			continue;
		/* the infra sync at the tick's end looks at its infra targets */
		g_hash_table_add(t->touched, g_strdup(uuid));

		if (!savepoint(t, "SAVEPOINT exh_instance", error))
			return FALSE;
		if (process_instance(t, p, b, uuid, &local)) {
			if (!savepoint(t, "RELEASE SAVEPOINT exh_instance", error))
				return FALSE;
			if (t->stats->not_ready > before.not_ready)
				retry_later(t, b, uuid);
			continue;
		}
		/* this instance alone rolls back; tracked_at stays, it is retried */
		exh_log(G_LOG_LEVEL_MESSAGE, NULL, "%s %s: %s", b->kind, uuid, local->message);
		*t->stats = before;
		t->stats->failed++;
		retry_later(t, b, uuid);
		if (!savepoint(t, "ROLLBACK TO SAVEPOINT exh_instance", error) ||
		    !savepoint(t, "RELEASE SAVEPOINT exh_instance", error))
			return FALSE;
	}
	return TRUE;
}

/* One builder's pass, observed for the metrics (docs/metrics.md). */
static gboolean
run_builder_timed(ExhBuilderTick *t,
		  const ExhBuilderPlugin *p,
		  const ExordosPaasBuilder *b,
		  GError **error)
{
	ExhBuilderStats before = *t->stats;
	gint64 start = g_get_monotonic_time();
	gboolean ok = run_builder(t, p, b, error);

	exh_metrics_observe_tick(b->kind,
				 g_get_monotonic_time() - start,
				 t->stats->processed - before.processed,
				 t->stats->failed - before.failed + (ok ? 0 : 1));
	return ok;
}

/*
 * Takes (deletes) a batch of marks, in a statement of its own before the
 * tick's transaction; another engine on the database takes others (SKIP
 * LOCKED).  Not inside the tick: a write that locks an instance row and then
 * marks it (an account POST) would wait for the tick's uncommitted delete of
 * that mark while the tick waits for the row, a deadlock (409 to the client).
 * A tick that fails puts its marks back (put_back_marks()); a host that dies
 * in between loses them to the full pass at its next start.  A mark made
 * while this tick runs is a new row, left for the next tick.
 */
static gboolean
take_marks(ExhBuilderTick *t, GError **error)
{
	g_autoptr(PGresult) res = exh_builder_sql_exec(
		t,
		"WITH m AS (DELETE FROM exh_builder_marks WHERE uuid IN (SELECT uuid FROM "
		"exh_builder_marks ORDER BY uuid LIMIT " MARKS " FOR UPDATE SKIP LOCKED) RETURNING "
		"uuid) SELECT COALESCE(array_agg(uuid ORDER BY uuid)::text, '{}'), count(*) FROM m",
		0,
		NULL,
		error);

	if (res == NULL)
		return FALSE;
	g_free(t->marks);
	t->marks = g_strdup(PQgetvalue(res, 0, 0));
	t->batch = t->batch || g_ascii_strtoll(PQgetvalue(res, 0, 1), NULL, 10) >= MARKS_N;
	return TRUE;
}

/* After a failed tick: its marks are owed to the next one (or a full pass). */
static void
put_back_marks(ExhBuilderTick *t)
{
	const gchar *params[] = { t->marks };
	g_autoptr(GError) error = NULL;
	g_autoptr(PGresult) res = NULL;

	if (t->marks == NULL || g_strcmp0(t->marks, "{}") == 0)
		return;
	res = exh_builder_sql_exec(t,
				   "INSERT INTO exh_builder_marks (uuid) SELECT unnest($1::uuid[]) "
				   "ON CONFLICT DO NOTHING",
				   1,
				   params,
				   &error);
	if (res != NULL)
		return;
	/* the connection is gone, most likely: the next tick, on a new one, is a
	 * full pass, which builds whatever the marks said */
	g_debug("builder: marks not put back, a full pass follows: %s", error->message);
	exh_builder_request_full_pass(t->b);
}

/* @body in a transaction of its own, whose writes mark nothing of their own
 * (exh_builder_own_tick()). */
static gboolean
in_transaction(ExhBuilderTick *t, gboolean (*body)(ExhBuilderTick *, GError **), GError **error)
{
	g_autoptr(GError) rollback_error = NULL;

	if (!exh_builder_sql_command(t->conn, "BEGIN", error))
		return FALSE;
	if (!exh_builder_sql_command(
		    t->conn, "SELECT set_config('exh.builder_tick', 'on', true)", error) ||
	    !body(t, error)) {
		exh_builder_sql_command(t->conn, "ROLLBACK", &rollback_error);
		return FALSE;
	}
	return exh_builder_sql_command(t->conn, "COMMIT", error);
}

/*
 * The backend's news first, committed before any builder locks an instance:
 * an infra actual it writes marks the actual's instance (a row of
 * exh_builder_marks), and an account write that holds that instance's lock
 * and marks it too would wait for that uncommitted row while a builder of
 * the same transaction waited for the instance: a deadlock.
 */
static gboolean
infra_first(ExhBuilderTick *t, GError **error)
{
	return exh_builder_infra_sync(t, FALSE, error);
}

static gboolean
tick_body(ExhBuilderTick *t, GError **error)
{
	for (guint i = 0; i < t->b->plugins->len; i++) {
		const ExhBuilderPlugin *p = t->b->plugins->pdata[i];

		for (guint j = 0; p->desc->builders->builders[j] != NULL; j++) {
			if (!run_builder_timed(t, p, p->desc->builders->builders[j], error))
				return FALSE;
		}
	}
	return exh_builder_infra_sync(t, TRUE, error);
}

gboolean
exh_builder_tick(ExhBuilder *builder, PGconn *conn, ExhBuilderStats *stats, GError **error)
{
	ExhBuilderStats local = { 0 };
	ExhBuilderTick t = { builder, conn, stats != NULL ? stats : &local };
	g_autoptr(GHashTable) touched =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	gboolean ok;

	memset(t.stats, 0, sizeof(*t.stats));
	t.touched = touched;
	t.full = g_atomic_int_get(&builder->full_due) != 0;
	/* a full pass starting: the infra bridge reads every target once (its
	 * later ticks, while batches or a backlog of marks keep it going, not) */
	if (t.full && !builder->full_running)
		builder->infra_full = TRUE;
	/* a full pass takes the marks too: it sees whatever they say */
	if (!take_marks(&t, error))
		return FALSE;
	ok = (builder->backend == NULL || in_transaction(&t, infra_first, error)) &&
	     in_transaction(&t, tick_body, error);
	if (!ok) {
		put_back_marks(&t);
		/* what the bridge remembers may be ahead of the rolled-back rows */
		builder->infra_full = TRUE;
	}
	g_clear_pointer(&t.marks, g_free);
	if (!ok)
		return FALSE;
	/* a full pass goes on while a source hands out whole batches */
	if (t.full && !t.batch) {
		g_atomic_int_set(&builder->full_due, 0);
		builder->last_full = g_get_monotonic_time();
	}
	builder->more = t.batch;
	builder->full_running = t.full && t.batch;
	if (t.stats->written > 0 && builder->changed != NULL)
		builder->changed(builder->changed_data);
	return TRUE;
}
