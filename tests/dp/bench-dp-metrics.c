/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * What the node's /metrics costs (docs/metrics.md §5): CPU per 1 000 messages
 * of exim main log processed incrementally, and the time of one scrape's
 * rendering with many accounts, and the same log read by the agent's usage
 * reader with and without the circuit breaker in front of the usage
 * (docs/abuse-controls.md §7).  Figures are printed, never asserted.
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "exm-config.h"
#include "exm-dp-breaker.h"
#include "exm-dp-logstats.h"
#include "exm-dp-usage.h"
#include "exm-test.h"

#define MESSAGES 100000
#define ACCOUNTS 1000

static gdouble
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (gdouble)ru.ru_utime.tv_sec + (gdouble)ru.ru_utime.tv_usec / 1e6 +
	       (gdouble)ru.ru_stime.tv_sec + (gdouble)ru.ru_stime.tv_usec / 1e6;
}

/* One message's lines as exim writes them: received, delivered, completed. */
static void
write_log(const gchar *path)
{
	FILE *f = fopen(path, "w");

	g_assert_nonnull(f);
	for (guint i = 0; i < MESSAGES; i++) {
		guint a = i % ACCOUNTS;

		fprintf(f,
			"2026-12-04 10:00:00 1t%04X-%06X-AB <= u%u@example.com H=(c.test) "
			"[127.0.0.1] I=[127.0.0.5]:587 P=esmtpsa X=TLS1.3:ECDHE_X25519:256 CV=no "
			"A=plain_server:u%u@example.com S=2048 id=%u@c.test T=\"report %u\" for "
			"r%u@remote.test\n"
			"2026-12-04 10:00:01 1t%04X-%06X-AB => r%u@remote.test R=dnslookup "
			"T=remote_smtp H=mx.remote.test [192.0.2.1] X=TLS1.3:x:256 CV=no "
			"C=\"250 OK\"\n"
			"2026-12-04 10:00:01 1t%04X-%06X-AB Completed\n",
			i >> 16,
			i & 0xffff,
			a,
			a,
			i,
			i,
			i,
			i >> 16,
			i & 0xffff,
			i,
			i >> 16,
			i & 0xffff);
	}
	fclose(f);
}

/* CPU per 1 000 messages of a fresh reader of @path with @observer. */
static gdouble
observed_cpu(const gchar *path, ExmDpLogObserver observer, gpointer data)
{
	g_autoptr(ExmDpLogStats) stats = exm_dp_logstats_new(path, TRUE);
	gdouble cpu;

	exm_dp_logstats_set_observer(stats, observer, data);
	cpu = cpu_seconds();
	while (exm_dp_logstats_poll(stats) > 0)
		;
	return (cpu_seconds() - cpu) * 1e3 / (MESSAGES / 1000.0);
}

/* The agent's reader as it runs: usage only (breaker off), or the breaker
 * counting every line before the usage (on; every recipient new to its
 * account, its worst case: a hash set insert each). */
static void
breaker_figures(const gchar *path)
{
	g_autoptr(ExmDpUsage) usage_off = exm_dp_usage_new();
	g_autoptr(ExmDpUsage) usage_on = exm_dp_usage_new();
	g_autoptr(ExmDpBreaker) breaker = exm_dp_breaker_new();
	gdouble off;
	gdouble on;

	off = observed_cpu(path, exm_dp_usage_observe, usage_off);
	exm_dp_breaker_set_next(breaker, exm_dp_usage_observe, usage_on);
	on = observed_cpu(path, exm_dp_breaker_observe, breaker);
	printf("  agent reader (usage): %.2f ms CPU per 1 000 messages with the breaker off, "
	       "%.2f ms on (%+.0f %%; %u accounts held, %" G_GUINT64_FORMAT " recipients kept)\n",
	       off,
	       on,
	       off > 0 ? (on - off) * 100 / off : 0,
	       exm_dp_breaker_get_held_count(breaker),
	       exm_dp_breaker_get_seen_total(breaker));
}

int
main(int argc, char **argv)
{
	g_autofree gchar *dir = exm_test_mkdtemp("exm-bench-metrics");
	g_autofree gchar *path = g_build_filename(dir, "mainlog", NULL);
	g_autoptr(ExmDpLogStats) stats = exm_dp_logstats_new(path, TRUE);
	g_autoptr(GString) out = g_string_new(NULL);
	gdouble cpu;
	gsize bytes = 0;
	gsize n;
	gint64 start;

	write_log(path);
	cpu = cpu_seconds();
	while ((n = exm_dp_logstats_poll(stats)) > 0)
		bytes += n;
	cpu = cpu_seconds() - cpu;
	start = g_get_monotonic_time();
	exm_dp_logstats_render(stats, out);
	printf("node metrics: %u messages (%zu bytes of main log), %u accounts\n",
	       MESSAGES,
	       bytes,
	       ACCOUNTS);
	printf("  log processing: %.2f ms CPU per 1 000 messages (target: none set; an idle "
	       "agent iteration may cost 5 ms)\n",
	       cpu * 1e3 / (MESSAGES / 1000.0));
	printf("  scrape rendering: %.2f ms for %zu bytes of exposition\n",
	       (gdouble)(g_get_monotonic_time() - start) / 1e3,
	       out->len);
	start = g_get_monotonic_time();
	g_assert_cmpuint(exm_dp_logstats_poll(stats), ==, 0);
	printf("  a scrape with nothing new: %.3f ms reading the log\n",
	       (gdouble)(g_get_monotonic_time() - start) / 1e3);
	breaker_figures(path);
	exm_test_rmtree(dir);
	return 0;
}
