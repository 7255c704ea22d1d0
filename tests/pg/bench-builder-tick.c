/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Benchmark (meson benchmark(), never a timed test): the host's builder
 * engine (tests/host/engine) over the mail plugin's two builders at fleet
 * size (issue 18 item 3, docs/scale.md §6).  The fleet is seeded directly in
 * a throwaway database in its settled state: every instance with ten
 * accounts, its two instance targets (tracked, derivatives digest and master
 * digest up to date), its node_set and config targets and their actual rows,
 * so a tick finds nothing to do.  Printed next to the targets: the time of an
 * idle tick (client side: every statement's round trip, so an upper bound of
 * its database time) and whether it read a big table sequentially
 * (pg_stat_user_tables deltas), at 100 and at 10 000 instances; and the time
 * of the tick that builds one changed instance at both sizes, with their
 * ratio.  Those run without an infra backend; /builder/bench/infra measures
 * the bridge to one (tests/host/exh-test-backend.h, in memory) over as many
 * node sets and configs, settled: an idle tick, and a full pass (what every
 * tick did before).  EXM_BENCH_INSTANCES sets the large fleet (10 000),
 * EXM_BENCH_TICKS the idle ticks sampled (20).
 */
#include <stdlib.h>
#include <string.h>

#include "exh-builder.h"
#include "exh-test-backend.h"
#include "exh-ua-store.h"
#include "exm-cleanup.h"
#include "exm-proto.h"
#include "exm-test.h"
#include "test-plugin-fixture.h"

#define ACCOUNTS_PER_INSTANCE 10
#define SMALL		      100
/* the tables a tick must not read whole */
#define BIG_TABLES                                                                                 \
	"('mail_instances', 'mail_accounts', 'ua_target_resources', 'ua_actual_resources')"

static guint
env_count(const gchar *name, guint def)
{
	const gchar *v = g_getenv(name);

	return v != NULL && atoi(v) > 0 ? (guint)atoi(v) : def;
}

static void
exec_params(PGconn *db, const gchar *sql, gint n, const gchar *const *params)
{
	g_autoptr(PGresult) res = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		g_test_message("%s: %s", sql, PQerrorMessage(db));
	g_assert_true(PQresultStatus(res) == PGRES_COMMAND_OK ||
		      PQresultStatus(res) == PGRES_TUPLES_OK);
}

/* "{a,b,…}" of the resource uuids of @uuids for @kind. */
static gchar *
res_array(GPtrArray *uuids, const gchar *kind)
{
	GString *s = g_string_new("{");

	for (guint i = 0; i < uuids->len; i++) {
		g_autofree gchar *r = exm_proto_uuid_resource(uuids->pdata[i], kind);

		g_string_append_printf(s, "%s%s", i > 0 ? "," : "", r);
	}
	g_string_append_c(s, '}');
	return g_string_free(s, FALSE);
}

static gchar *
uuid_array(GPtrArray *uuids)
{
	g_autofree gchar *joined = NULL;

	g_ptr_array_add(uuids, NULL);
	joined = g_strjoinv(",", (gchar **)uuids->pdata);
	g_ptr_array_remove_index(uuids, uuids->len - 1);
	return g_strdup_printf("{%s}", joined);
}

/* The digest the engine keeps of an instance's derivatives (DERIVATIVES_HASH
 * in exh-builder-tick.c), for the instances of $1. */
#define SET_DIGEST                                                                                 \
	"UPDATE ua_target_resources r SET derivatives_hash = COALESCE((SELECT "                    \
	"md5(string_agg(d.kind || ':' || d.uuid || ':' || d.hash, ',' ORDER BY d.kind, d.uuid)) "  \
	"FROM ua_target_resources d WHERE d.master = r.uuid AND d.kind = ANY('{node_set,config}'"  \
	"::text[])), '') WHERE r.kind = 'mail_instance_iaas' AND r.uuid = ANY($1::uuid[])"

static void
seed_targets(PGconn *db, GPtrArray *uuids)
{
	g_autofree gchar *ids = uuid_array(uuids);
	g_autofree gchar *ns = res_array(uuids, "node_set");
	g_autofree gchar *cf = res_array(uuids, "config");
	g_autofree gchar *iaas = res_array(uuids, "mail_instance_iaas");
	g_autofree gchar *paas = res_array(uuids, "mail_instance");
	const gchar *p_infra[] = { ids, ns, cf };
	const gchar *p_inst[] = { ids, iaas, paas };
	const gchar *p_ids[] = { ids };

	exec_params(
		db,
		"WITH s AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS "
		"s(u, ns, cf)), t AS (INSERT INTO ua_target_resources (uuid, kind, res_uuid, "
		"value, status, hash, full_hash, master) SELECT u, 'node_set', ns, '{}'::jsonb, "
		"'ACTIVE', 'h' || u, 'f' || u, u FROM s UNION ALL SELECT u, 'config', cf, "
		"'{}'::jsonb, 'ACTIVE', 'h' || u, 'f' || u, u FROM s RETURNING uuid, kind, "
		"res_uuid, "
		"hash, full_hash) INSERT INTO ua_actual_resources (uuid, kind, res_uuid, "
		"value, status, hash, full_hash) SELECT uuid, kind, res_uuid, '{}', 'ACTIVE', "
		"hash, full_hash FROM t",
		3,
		p_infra);
	exec_params(db,
		    "INSERT INTO ua_target_resources (uuid, kind, res_uuid, value, status, hash, "
		    "full_hash, master, tracked_at, master_full_hash) SELECT s.u, k.kind, CASE "
		    "k.kind WHEN 'mail_instance' THEN s.paas ELSE s.iaas END, '{}', 'ACTIVE', 'h', "
		    "'h', CASE k.kind WHEN 'mail_instance' THEN s.u END, i.updated_at, CASE k.kind "
		    "WHEN 'mail_instance' THEN 'f' || s.u ELSE '' END FROM unnest($1::uuid[], "
		    "$2::uuid[], $3::uuid[]) AS s(u, iaas, paas) JOIN mail_instances i ON i.uuid = "
		    "s.u CROSS JOIN (VALUES ('mail_instance'), ('mail_instance_iaas')) AS k(kind)",
		    3,
		    p_inst);
	exec_params(db, SET_DIGEST, 1, p_ids);
}

/* @n more settled instances, each with its accounts and targets. */
static void
seed(ExmFixture *f, const gchar *version, guint n)
{
	g_autoptr(GPtrArray) uuids = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *ids = NULL;
	g_autofree gchar *per = g_strdup_printf("%d", ACCOUNTS_PER_INSTANCE);
	const gchar *p_inst[] = { NULL, exm_who_owner1.project, version };
	const gchar *p_acc[] = { NULL, exm_who_owner1.project, EXM_HASH6, per };

	for (guint i = 0; i < n; i++)
		g_ptr_array_add(uuids, g_uuid_string_random());
	ids = uuid_array(uuids);
	p_inst[0] = ids;
	p_acc[0] = ids;
	exec_params(f->db,
		    "INSERT INTO mail_instances (uuid, name, project_id, domain, status, cpu, "
		    "ram, disk_size, version, dkim_public_key, dkim_selector, created_at, "
		    "updated_at) SELECT u, 'b' || u, $2, 'd' || md5(u::text) || '.example.net', "
		    "'ACTIVE', 1, 1024, 10, $3, 'k', 'platform', now(), now() FROM "
		    "unnest($1::uuid[]) u",
		    3,
		    p_inst);
	exec_params(f->db,
		    "INSERT INTO mail_accounts (uuid, project_id, instance, username, "
		    "password_hash, created_at, updated_at) SELECT gen_random_uuid(), $2, u, "
		    "'user' || g, $3, now(), now() FROM unnest($1::uuid[]) u CROSS JOIN "
		    "generate_series(1, $4::int) g",
		    4,
		    p_acc);
	seed_targets(f->db, uuids);
	/* settled: as after the ticks that built them, nothing is marked */
	PQclear(PQexec(f->db, "DELETE FROM exh_builder_marks"));
	PQclear(PQexec(f->db, "VACUUM ANALYZE"));
}

/* Sequential scans of the big tables so far and the rows read from them (by
 * sequential scans and fetched through indexes), after flushing @conn's
 * counters. */
static void
read_stats(PGconn *conn, gint64 *seq, gint64 *rows)
{
	g_autoptr(PGresult) flush = PQexec(conn, "SELECT pg_stat_force_next_flush()");
	g_autoptr(PGresult) res =
		PQexec(conn,
		       "SELECT COALESCE(sum(seq_scan), 0), COALESCE(sum(seq_tup_read + "
		       "COALESCE(idx_tup_fetch, 0)), 0) FROM pg_stat_user_tables WHERE relname "
		       "IN " BIG_TABLES);

	g_assert_cmpint(PQresultStatus(res), ==, PGRES_TUPLES_OK);
	*seq = g_ascii_strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*rows = g_ascii_strtoll(PQgetvalue(res, 0, 1), NULL, 10);
}

typedef struct {
	gdouble ms;
	gint64 seq;
	gint64 rows;
	guint processed;
} TickFigure;

static TickFigure
timed_tick(ExhBuilder *builder, PGconn *conn)
{
	g_autoptr(GError) error = NULL;
	ExhBuilderStats stats = { 0 };
	TickFigure fig = { 0 };
	gint64 seq0;
	gint64 rows0;
	gint64 t0;

	read_stats(conn, &seq0, &rows0);
	t0 = g_get_monotonic_time();

	g_assert_true(exh_builder_tick(builder, conn, &stats, &error));
	g_assert_no_error(error);
	fig.ms = (g_get_monotonic_time() - t0) / 1000.0;
	read_stats(conn, &fig.seq, &fig.rows);
	fig.seq -= seq0;
	fig.rows -= rows0;
	fig.processed = stats.processed;
	return fig;
}

typedef struct {
	gdouble idle_p50;
	gdouble idle_max;
	gint64 idle_seq;
	gint64 idle_rows;
	gdouble change_ms;
	gint64 change_seq;
	gint64 change_rows;
	guint change_built;
	gdouble full_p50;
	gint64 full_rows;
} SizeFigures;

/* The previous design: every tick ran every source's query over whole tables
 * (now a full pass, every 10 minutes). */
static void
measure_full(ExhBuilder *builder, PGconn *conn, SizeFigures *out)
{
	gdouble ms[5];
	TickFigure fig;

	for (guint i = 0; i < G_N_ELEMENTS(ms); i++) {
		exh_builder_request_full_pass(builder);
		fig = timed_tick(builder, conn);
		g_assert_cmpuint(fig.processed, ==, 0);
		ms[i] = fig.ms;
		out->full_rows = fig.rows;
	}
	qsort(ms, G_N_ELEMENTS(ms), sizeof(ms[0]), exm_test_cmp_double);
	out->full_p50 = ms[G_N_ELEMENTS(ms) / 2];
}

static void
measure(ExmFixture *f, ExhBuilder *builder, PGconn *conn, guint total, SizeFigures *out)
{
	guint n = env_count("EXM_BENCH_TICKS", 20);
	g_autoptr(GArray) ms = g_array_new(FALSE, FALSE, sizeof(gdouble));
	TickFigure fig;

	out->idle_seq = 0;
	out->idle_rows = 0;
	for (guint i = 0; i < n; i++) {
		fig = timed_tick(builder, conn);
		g_assert_cmpuint(fig.processed, ==, 0); /* settled: nothing to build */
		g_array_append_val(ms, fig.ms);
		out->idle_seq += fig.seq;
		out->idle_rows += fig.rows;
	}
	g_array_sort(ms, exm_test_cmp_double);
	out->idle_p50 = g_array_index(ms, gdouble, n / 2);
	out->idle_max = g_array_index(ms, gdouble, n - 1);
	/* one instance changes (as an account write touches its parent) */
	PQclear(PQexec(f->db,
		       "UPDATE mail_instances SET updated_at = now() + interval '1 second' WHERE "
		       "uuid = (SELECT uuid FROM mail_instances ORDER BY uuid LIMIT 1)"));
	fig = timed_tick(builder, conn);
	out->change_ms = fig.ms;
	out->change_seq = fig.seq;
	out->change_rows = fig.rows;
	out->change_built = fig.processed;
	/* its derivatives were rebuilt: settle them for the next size */
	fig = timed_tick(builder, conn);
	measure_full(builder, conn, out);
	g_test_message("%6u instances, %7u accounts: idle tick p50 %7.2f ms (max %7.2f) over %u "
		       "ticks [target < 5 ms], a tick read %" G_GINT64_FORMAT
		       " rows of the big tables "
		       "with %.1f sequential scans [target: none]",
		       total,
		       total * ACCOUNTS_PER_INSTANCE,
		       out->idle_p50,
		       out->idle_max,
		       n,
		       out->idle_rows / n,
		       (gdouble)out->idle_seq / n);
	g_test_message("%6u instances: one changed instance built in the next tick: %7.2f ms, %u "
		       "built, %" G_GINT64_FORMAT " rows read, %" G_GINT64_FORMAT
		       " sequential scans",
		       total,
		       out->change_ms,
		       out->change_built,
		       out->change_rows,
		       out->change_seq);
	g_test_message("%6u instances: previous design (every tick a full pass): idle tick p50 "
		       "%7.2f ms, %" G_GINT64_FORMAT " rows read; now %.1fx faster",
		       total,
		       out->full_p50,
		       out->full_rows,
		       out->idle_p50 > 0 ? out->full_p50 / out->idle_p50 : 0.0);
}

static void
bench_tick(void)
{
	g_autoptr(ExmFixture) f = exm_fixture_new();
	guint large = env_count("EXM_BENCH_INSTANCES", 10000);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *version = NULL;
	g_autoptr(PGconn) conn = NULL;
	ExhBuilder *builder;
	SizeFigures small = { 0 };
	SizeFigures big = { 0 };

	if (f == NULL)
		return;
	conn = exm_fixture_connect(f);
	g_assert_true(exh_ua_store_migrate(conn, &error));
	g_assert_no_error(error);
	builder = exh_builder_new(f->conninfo, NULL);
	exh_builder_add_plugin(builder, f->desc, f->ctx);
	g_assert_true(exh_builder_prepare(builder, conn, &error));
	g_assert_no_error(error);
	version = exm_fixture_version(f, "v1");
	/* the engine's first tick is a full pass (and builds nothing here) */
	g_assert_true(exh_builder_tick(builder, conn, NULL, &error));
	g_assert_no_error(error);
	seed(f, version, SMALL);
	measure(f, builder, conn, SMALL, &small);
	seed(f, version, large - SMALL);
	measure(f, builder, conn, large, &big);
	g_test_message("idle tick at %u / at %u instances: %.2fx (target: under 5 ms at %u, %s)",
		       large,
		       SMALL,
		       big.idle_p50 / small.idle_p50,
		       large,
		       big.idle_p50 < 5.0 ? "met" : "NOT met");
	g_test_message("one changed instance at %u / at %u instances: %.2fx (target: "
		       "independent of the total, about 1x)",
		       large,
		       SMALL,
		       big.change_ms / small.change_ms);
	exh_builder_free(builder);
}

/* One tick: its time (ms) and the backend's reads during it. */
static gdouble
infra_tick(ExhBuilder *builder, PGconn *conn, ExhTestBackend *backend, guint *gets)
{
	g_autoptr(GError) error = NULL;
	guint before = exh_test_backend_count(backend, &backend->gets);
	gint64 t0 = g_get_monotonic_time();

	g_assert_true(exh_builder_tick(builder, conn, NULL, &error));
	g_assert_no_error(error);
	*gets = exh_test_backend_count(backend, &backend->gets) - before;
	return (g_get_monotonic_time() - t0) / 1000.0;
}

static gdouble
infra_p50(ExhBuilder *builder,
	  PGconn *conn,
	  ExhTestBackend *backend,
	  guint n,
	  gboolean full,
	  guint *gets)
{
	g_autoptr(GArray) ms = g_array_new(FALSE, FALSE, sizeof(gdouble));

	for (guint i = 0; i < n; i++) {
		gdouble one;

		if (full)
			exh_builder_request_full_pass(builder);
		one = infra_tick(builder, conn, backend, gets);
		g_array_append_val(ms, one);
	}
	g_array_sort(ms, exm_test_cmp_double);
	return g_array_index(ms, gdouble, n / 2);
}

/* The bridge to an infra backend at fleet size (docs/scale.md §6). */
static void
bench_infra(void)
{
	guint large = env_count("EXM_BENCH_INSTANCES", 10000);
	g_autofree gchar *conninfo = NULL;
	g_autoptr(PGconn) conn = NULL;
	ExhTestBackend *backend = exh_test_backend_new();
	ExhBuilder *builder = exh_test_backend_engine(backend, large, &conninfo, &conn);
	guint idle_gets = 0;
	guint full_gets = 0;
	gdouble first;
	gdouble idle;
	gdouble full;

	if (builder == NULL) {
		exh_infra_backend_free(&backend->base);
		return;
	}
	/* the first tick, a full pass, hands everything over */
	first = infra_tick(builder, conn, backend, &full_gets);
	g_assert_cmpuint(exh_test_backend_count(backend, &backend->set_applies), ==, large);
	/* the seeding marked every target: the engine works the backlog off (a
	 * batch a tick) before it is idle */
	for (guint i = 0; i < 2 * large / 1000 + 4; i++)
		infra_tick(builder, conn, backend, &idle_gets);
	idle = infra_p50(
		builder, conn, backend, env_count("EXM_BENCH_TICKS", 20), FALSE, &idle_gets);
	full = infra_p50(builder, conn, backend, 1, TRUE, &full_gets);
	g_test_message("infra bridge, %u node sets and %u configs settled: idle tick p50 %.2f ms, "
		       "%u backend reads a tick [target < 5 ms]; a full pass (every 10 min) %.1f "
		       "ms, %u backend reads, %.0fx an idle tick (the previous design read "
		       "everything twice a tick); the first hand-over took %.0f ms",
		       large,
		       large,
		       idle,
		       idle_gets,
		       full,
		       full_gets,
		       idle > 0 ? full / idle : 0.0,
		       first);
	exh_builder_free(builder);
	exh_infra_backend_free(&backend->base);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/builder/bench/tick", bench_tick);
	g_test_add_func("/builder/bench/infra", bench_infra);
	return g_test_run();
}
