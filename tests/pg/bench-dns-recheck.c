/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Benchmark (meson benchmark(), never a timed test): the scheduled DNS
 * re-check (docs/dns-verification.md §Schedule) at fleet size.  10 000 ACTIVE
 * instances on the throwaway PostgreSQL, a real knotd serving every
 * instance's published guidance (a simulated zone, `d<N>.bench.example.net`), and
 * the plugin's `dns_recheck` job run step by step as the host runs it.
 * Prints the time of one step (one instance checked and stored), the queries
 * one check makes, and the queries per hour the schedule spends on the whole
 * fleet next to the configured budget, for the default budget and for a
 * tight one that must stretch the period.  EXM_BENCH_STEPS sets the sampled
 * steps per budget (default 300); EXM_BENCH_INSTANCES the fleet (10 000).
 */
#include <stdlib.h>
#include <string.h>

#include "exm-test-knot.h"
#include "exm-test.h"
#include "test-plugin-fixture.h"

/* not under test.: libunbound answers that TLD itself (RFC 6761) */
#define ZONE "bench.example.net"
/* instance dN has the address 10.0.N/250.N%250+1 (never a .0), so every
 * check can be ok */
#define REVZONE "10.in-addr.arpa"
#define KEY	"v=DKIM1; h=sha256; k=rsa; p=QUJDREVGRw=="
#define PERIOD	3600

static guint
env_count(const gchar *name, guint def)
{
	const gchar *v = g_getenv(name);

	return v != NULL && atoi(v) > 0 ? (guint)atoi(v) : def;
}

/* The fleet: @n ACTIVE instances d1 … d@n, each its own address, copied in
 * one statement. */
static void
seed(ExmFixture *f, guint n)
{
	g_autofree gchar *version = exm_fixture_version(f, "v1");
	g_autofree gchar *sql = g_strdup_printf(
		"WITH s AS (INSERT INTO mail_instances (uuid, name, project_id, domain, status, "
		"cpu, ram, disk_size, version, ipsv4, dkim_public_key, dkim_selector, "
		"created_at, updated_at) SELECT gen_random_uuid(), 'b' || g, '%s', 'd' || g || "
		"'." ZONE "', 'ACTIVE', 1, 1024, 10, '%s', ARRAY['10.0.' || g / 250 || '.' || "
		"g %% 250 + 1], '" KEY "', 'platform', now(), now() FROM generate_series(1, %u) g "
		"RETURNING 1) SELECT count(*) FROM s",
		exm_who_owner1.project,
		version,
		n);
	g_autofree gchar *count = exm_fixture_scalar(f, sql);

	g_assert_cmpuint(atoi(count), ==, n);
	/* as autovacuum would soon: planner statistics for the due query */
	PQclear(PQexec(f->db, "ANALYZE mail_instances"));
}

/* The guidance of instance d1 as zone lines (PTR apart), from dns_records. */
static gchar *
guidance(ExmFixture *f, gboolean ptr)
{
	g_autofree gchar *uuid = exm_fixture_scalar(
		f, "SELECT uuid FROM mail_instances WHERE domain = 'd1." ZONE "'");
	g_autofree gchar *path = g_strdup_printf("instances/%s/actions/dns_records", uuid);
	g_autoptr(ExmReply) r = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", path, NULL, NULL);

	exm_assert_status(r, 200);
	return exm_fixture_zone_lines(r, ptr);
}

static gchar *
replace(const gchar *text, const gchar *from, const gchar *to)
{
	g_auto(GStrv) parts = g_strsplit(text, from, -1);

	return g_strjoinv(to, parts);
}

/* Every instance's guidance: d1's (address 10.0.0.2) with the domain and the
 * address (forward and reverse) replaced. */
static gchar *
fleet_zone(const gchar *one, guint n)
{
	GString *z = g_string_new("");

	for (guint i = 1; i <= n; i++) {
		g_autofree gchar *domain = g_strdup_printf("d%u." ZONE, i);
		g_autofree gchar *ip = g_strdup_printf("10.0.%u.%u", i / 250, i % 250 + 1);
		g_autofree gchar *rev = g_strdup_printf("%u.%u.0.10.in-addr", i % 250 + 1, i / 250);
		g_autofree gchar *a = replace(one, "d1." ZONE, domain);
		g_autofree gchar *b = replace(a, "2.0.0.10.in-addr", rev);
		g_autofree gchar *c = replace(b, "10.0.0.2", ip);

		g_string_append(z, c);
	}
	return g_string_free(z, FALSE);
}

/* One step of the job as the host runs it; its time in ms. */
static gdouble
step(ExmFixture *f, const ExordosPaasPeriodicJob *job)
{
	g_autofree gchar *message = NULL;
	gboolean more = FALSE;
	gint64 t0 = g_get_monotonic_time();

	g_assert_true(job->run(f->ctx, f->db, g_get_real_time(), &more, &message));
	g_assert_true(more);
	return (g_get_monotonic_time() - t0) / 1000.0;
}

/* Mean queries per check and the fleet's queries per hour at the periods the
 * checked instances got (each instance's queries over its period). */
static void
schedule_figures(ExmFixture *f, guint n, gdouble *q, gdouble *per_hour, gdouble *period)
{
	g_autofree gchar *sql = g_strdup_printf(
		"SELECT avg((d.result::json->>'queries')::float) || ' ' || %u * avg(3600 * "
		"(d.result::json->>'queries')::float / extract(epoch FROM i.dns_next_check_at - "
		"i.dns_checked_at)) || ' ' || avg(extract(epoch FROM i.dns_next_check_at - "
		"i.dns_checked_at)) FROM mail_instance_dns d JOIN mail_instances i ON i.uuid = "
		"d.instance",
		n);
	g_autofree gchar *v = exm_fixture_scalar(f, sql);
	g_auto(GStrv) parts = g_strsplit(v, " ", 3);

	g_assert_cmpuint(g_strv_length(parts), ==, 3);
	*q = g_ascii_strtod(parts[0], NULL);
	*per_hour = g_ascii_strtod(parts[1], NULL);
	*period = g_ascii_strtod(parts[2], NULL);
}

static void
run_budget(ExmFixture *f, guint n, guint steps, guint budget)
{
	const ExordosPaasPeriodicJob *job = f->desc->periodic[0];
	g_autoptr(GArray) ms = g_array_sized_new(FALSE, FALSE, sizeof(gdouble), steps);
	g_autofree gchar *text = g_strdup_printf("%u", budget);
	g_autofree gchar *ok = NULL;
	gdouble q, per_hour, period;

	g_free(exm_fixture_scalar(
		f, "WITH d AS (DELETE FROM mail_instance_dns RETURNING 1) SELECT count(*) FROM d"));
	g_free(exm_fixture_scalar(f,
				  "WITH u AS (UPDATE mail_instances SET dns_checked_at = NULL, "
				  "dns_next_check_at = NULL RETURNING 1) SELECT count(*) FROM u"));
	g_setenv("EXM_DNS_QUERY_BUDGET", text, TRUE);
	for (guint i = 0; i < steps; i++) {
		gdouble d = step(f, job);

		g_array_append_val(ms, d);
	}
	g_array_sort(ms, exm_test_cmp_double);
	schedule_figures(f, n, &q, &per_hour, &period);
	ok = exm_fixture_scalar(
		f, "SELECT count(*) FROM mail_instance_dns WHERE result::json->>'status' = 'ok'");

	g_test_message("figure: budget %u queries/h, %u instances: one step p50 %.2f ms, p95 "
		       "%.2f ms; %.1f queries per check (%s of %u sampled checks ok)",
		       budget,
		       n,
		       g_array_index(ms, gdouble, steps / 2),
		       g_array_index(ms, gdouble, (steps * 95) / 100),
		       q,
		       ok,
		       steps);
	g_test_message("figure: budget %u queries/h: the schedule spends %.0f queries/h on "
		       "%u instances (target <= %u), mean period %.0f s (configured %u s)",
		       budget,
		       per_hour,
		       n,
		       budget,
		       period,
		       PERIOD);
}

static void
bench_recheck(void)
{
	const gchar *zones[] = { ZONE, REVZONE, NULL };
	guint n = env_count("EXM_BENCH_INSTANCES", 10000);
	guint steps = MIN(env_count("EXM_BENCH_STEPS", 300), n - 1);
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_autoptr(ExmTestKnot) knot = NULL;
	g_autofree gchar *one = NULL;
	g_autofree gchar *all = NULL;
	g_autofree gchar *ptr = NULL;

	if (f == NULL || (knot = exm_test_knot_new(zones)) == NULL)
		return;
	seed(f, n);
	one = guidance(f, FALSE);
	ptr = guidance(f, TRUE);
	all = fleet_zone(one, n);
	g_free(one);
	one = fleet_zone(ptr, n);
	exm_test_knot_write_zone(knot, ZONE, all);
	exm_test_knot_write_zone(knot, REVZONE, one);
	if (!exm_test_knot_start(knot))
		return;
	g_setenv("EXM_DNS_RESOLVER", exm_test_knot_server(knot), TRUE);
	g_setenv("EXM_DNS_RECHECK_SECONDS", G_STRINGIFY(PERIOD), TRUE);
	/* the default budget holds the fleet at the configured period; a tight
	 * one stretches it */
	run_budget(f, n, steps, 100000);
	run_budget(f, n, steps, 20000);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/bench/dns-recheck", bench_recheck);
	return g_test_run();
}
