/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Propagation benchmark (issue 5 item 8): for 20 accounts created one after
 * the other on one ACTIVE instance, the time from the account's 201 to its
 * first successful SMTP AUTH on the node's 587 (STARTTLS).  Prints min, p50,
 * p95 and max; the target (≤ 1 s) is for the reader, not an assertion.
 */
#include <string.h>

#include "exm-test.h"
#include "test-e2e-fixture.h"

#define ACCOUNTS 20
/* bound of one wait (a hang guard) */
#define MAX_WAIT_US (30 * G_USEC_PER_SEC)

static void
bench_propagation(void)
{
	/* EXM_E2E_ENVELOPE=0 measures plain agents */
	g_autoptr(E2e) e = e2e_new(g_strcmp0(g_getenv("EXM_E2E_ENVELOPE"), "0") != 0);
	g_autofree gchar *instance = NULL;
	g_autoptr(JsonObject) json = NULL;
	g_autoptr(ExhLocalNodeInfo) node = NULL;
	gdouble ms[ACCOUNTS];

	if (e == NULL)
		return;
	instance = e2e_create_instance(e, "mail-bench", E2E_DOMAIN);
	if (instance == NULL)
		return;
	json = e2e_wait_instance(e, instance, "ACTIVE");
	g_assert_nonnull(json);
	node = json != NULL ? e2e_node(e, instance) : NULL;
	if (node == NULL)
		return;
	for (guint i = 0; i < ACCOUNTS; i++) {
		g_autofree gchar *name = g_strdup_printf("user%02u", i);
		g_autofree gchar *login = g_strdup_printf("%s@%s", name, E2E_DOMAIN);
		g_autofree gchar *password = g_strdup_printf("secret-%u-%d", i, g_random_int());
		g_autofree gchar *account = e2e_create_account(e, instance, name, password);
		gint64 us;

		/* the clock starts once the 201 is in our hands */
		if (account == NULL)
			return;
		us = e2e_time_to_login(e, node, login, password, MAX_WAIT_US);
		g_assert_cmpint(us, >=, 0);
		if (us < 0)
			return;
		ms[i] = (gdouble)us / 1000.0;
	}
	qsort(ms, ACCOUNTS, sizeof(ms[0]), exm_test_cmp_double);
	g_test_message("propagation 201 -> first SMTP login over %u accounts: min %.0f ms, "
		       "p50 %.0f ms, p95 %.0f ms, max %.0f ms (target p95 <= 1000 ms)",
		       ACCOUNTS,
		       ms[0],
		       exm_test_percentile(ms, ACCOUNTS, 50),
		       exm_test_percentile(ms, ACCOUNTS, 95),
		       ms[ACCOUNTS - 1]);
	g_print("# propagation p50 %.0f ms p95 %.0f ms (%u accounts)\n",
		exm_test_percentile(ms, ACCOUNTS, 50),
		exm_test_percentile(ms, ACCOUNTS, 95),
		ACCOUNTS);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/e2e/bench/propagation", bench_propagation);
	return g_test_run();
}
