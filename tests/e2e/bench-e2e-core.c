/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The `core` backend's cost and speed through the fake Exordos Core (issue
 * 12): for INSTANCES instances created one after the other, the time from
 * the API's 201 to the instance ACTIVE (NodeSet and Config through Core, the
 * node up, its agent reporting); then, with everything converged, the Core
 * calls per idle engine tick over IDLE_S seconds (target: zero writes, reads
 * only at the poll period).  Figures, no assertion.
 */
#include <string.h>

#include "exh-builder.h"
#include "exh-host-private.h"
#include "exh-ua.h"
#include "exm-test.h"
#include "test-core-e2e-fixture.h"

#define N_INSTANCES 3
#define IDLE_S	    10
#define POLL_MS	    200

static guint64
engine_ticks(CoreE2e *e)
{
	return exh_builder_get_ticks(exh_ua_get_builder(e->t->host->ua));
}

/* Reads and writes the fake recorded (token grants apart). */
static void
count_calls(CoreE2e *e, guint *reads, guint *writes)
{
	g_autoptr(JsonObject) state = core_fake_state(e->fake);
	JsonArray *calls = json_object_get_array_member(state, "calls");

	*reads = *writes = 0;
	for (guint i = 0; i < json_array_get_length(calls); i++) {
		JsonObject *call = json_array_get_object_element(calls, i);

		if (g_str_equal(json_object_get_string_member(call, "route"), "token"))
			continue;
		if (g_str_equal(json_object_get_string_member(call, "method"), "GET"))
			(*reads)++;
		else
			(*writes)++;
	}
}

static void
bench_core(void)
{
	g_autoptr(CoreE2e) e = core_e2e_new(3600);
	gdouble ms[N_INSTANCES];
	guint64 ticks;
	guint reads, writes;

	if (e == NULL)
		return;
	for (guint i = 0; i < N_INSTANCES; i++) {
		g_autofree gchar *name = g_strdup_printf("mail-bench-%u", i);
		gint64 start = g_get_monotonic_time();
		g_autofree gchar *uuid = core_e2e_create_instance(e, name);
		g_autoptr(JsonObject) json = core_e2e_wait_instance(e, uuid, "ACTIVE");

		g_assert_nonnull(json);
		if (json == NULL)
			return;
		ms[i] = (gdouble)(g_get_monotonic_time() - start) / 1000.0;
	}
	qsort(ms, N_INSTANCES, sizeof(ms[0]), exm_test_cmp_double);
	/* settle, then count an idle window */
	g_usleep(2 * G_USEC_PER_SEC);
	core_fake_post(e->fake, "/_fake/calls/reset", "{}");
	ticks = engine_ticks(e);
	g_usleep(IDLE_S * G_USEC_PER_SEC);
	ticks = engine_ticks(e) - ticks;
	count_calls(e, &reads, &writes);
	g_print("# figure: instance to ACTIVE through the fake Core: min %.0f ms, median %.0f ms, "
		"max %.0f ms over %u instances (target: a few poll periods over the node's own "
		"start)\n",
		ms[0],
		ms[N_INSTANCES / 2],
		ms[N_INSTANCES - 1],
		N_INSTANCES);
	g_print("# figure: core calls per idle engine tick: %.2f writes, %.2f reads over "
		"%" G_GUINT64_FORMAT
		" ticks in %u s (target 0 writes; reads only at the poll period: %u instances x "
		"(set + config) every %u ms = %.1f per s, measured %.1f per s)\n",
		ticks != 0 ? (gdouble)writes / (gdouble)ticks : 0.0,
		ticks != 0 ? (gdouble)reads / (gdouble)ticks : 0.0,
		ticks,
		IDLE_S,
		N_INSTANCES,
		POLL_MS,
		2.0 * N_INSTANCES * 1000.0 / POLL_MS,
		(gdouble)reads / IDLE_S);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/e2e/bench/core", bench_core);
	return g_test_run();
}
