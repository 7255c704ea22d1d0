/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Benchmark (meson benchmark(), never a timed test): the plugin's dispatch
 * cost through the ABI, without HTTP, each call in its own transaction on
 * the throwaway PostgreSQL.  Prints calls/s and p50/p99 for the host
 * benchmark's three requests, so a regression can be placed on the plugin or
 * the host side.  EXM_BENCH_CALLS sets the calls per scenario (default 500).
 */
#include <stdlib.h>
#include <string.h>

#include "exm-test.h"
#include "test-plugin-fixture.h"

static void
run(ExmFixture *f, const gchar *label, const gchar *method, const gchar *path, gboolean account)
{
	const gchar *env = g_getenv("EXM_BENCH_CALLS");
	guint n = env != NULL && atoi(env) > 0 ? (guint)atoi(env) : 500;
	g_autoptr(GArray) ms = g_array_sized_new(FALSE, FALSE, sizeof(gdouble), n);
	gint64 start = g_get_monotonic_time();
	gdouble total;

	for (guint i = 0; i < n; i++) {
		g_autofree gchar *body =
			account ? g_strdup_printf("{\"username\":\"b%u\",\"password_hash\":\"%s\"}",
						  i,
						  EXM_HASH6)
				: NULL;
		gint64 t0 = g_get_monotonic_time();
		g_autoptr(ExmReply) r =
			exm_fixture_call(f, NULL, &exm_who_owner1, method, path, NULL, body);
		gdouble d = (g_get_monotonic_time() - t0) / 1000.0;

		g_assert_cmpuint(r->status, <, 300);
		g_array_append_val(ms, d);
	}
	total = (g_get_monotonic_time() - start) / 1e6;
	g_array_sort(ms, exm_test_cmp_double);
	g_test_message("%-44s %5u calls %8.1f calls/s  p50 %7.2f ms  p99 %7.2f ms",
		       label,
		       n,
		       n / total,
		       g_array_index(ms, gdouble, n / 2),
		       g_array_index(ms, gdouble, (n * 99) / 100));
}

static void
bench_dispatch(void)
{
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_autofree gchar *v1 = NULL;
	g_autofree gchar *i1 = NULL;
	g_autofree gchar *one = NULL;
	g_autofree gchar *accounts = NULL;

	if (f == NULL)
		return;
	v1 = exm_fixture_version(f, "exim4_1");
	for (guint i = 0; i < 100; i++) {
		g_autofree gchar *name = g_strdup_printf("m%03u", i);
		g_free(i1);
		i1 = exm_fixture_instance(f, &exm_who_owner1, NULL, v1, name);
	}
	one = g_strdup_printf("instances/%s", i1);
	accounts = g_strdup_printf("instances/%s/accounts/", i1);
	run(f, "GET instances/ (100 rows)", "GET", "instances/", FALSE);
	run(f, "GET instances/<uuid>", "GET", one, FALSE);
	run(f, "POST instances/<uuid>/accounts/", "POST", accounts, TRUE);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/plugin/bench/dispatch", bench_dispatch);
	return g_test_run();
}
