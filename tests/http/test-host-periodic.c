/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host runs its plugins' background jobs (ABI minor 4,
 * tests/host/engine/exh-periodic.c) with no request: the mail plugin's
 * `dns_recheck` checks an ACTIVE instance on its own and stores what it
 * found; a step that fails stores nothing, is logged, and is tried again when
 * its lease ends, then succeeds once the cause is gone; and no row stays
 * locked while a check waits on DNS.  A job that keeps failing (its own
 * error, or the database away) is backed off and logged sparingly, and its
 * interval comes back with the first success.
 */
#include <string.h>

#include "exh-host-private.h"
#include "exh-periodic.h"
#include "exh-test.h"
#include "exh-ua.h"

#define WAIT_US (20 * G_USEC_PER_SEC)

/* The lines the runner logs about the test's own jobs (slug `exhtest`). */
static GMutex log_lock;
static GPtrArray *log_lines;

static GLogWriterOutput
capture_writer(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
	for (gsize i = 0; i < n; i++) {
		if (g_str_equal(fields[i].key, "MESSAGE") && fields[i].length < 0 &&
		    strstr(fields[i].value, "plugin exhtest: ") != NULL) {
			g_mutex_lock(&log_lock);
			g_ptr_array_add(log_lines, g_strdup(fields[i].value));
			g_mutex_unlock(&log_lock);
		}
	}
	return g_log_writer_default(level, fields, n, data);
}

static guint
count_lines(const gchar *needle)
{
	guint n = 0;

	g_mutex_lock(&log_lock);
	for (guint i = 0; i < log_lines->len; i++)
		n += strstr(log_lines->pdata[i], needle) != NULL ? 1 : 0;
	g_mutex_unlock(&log_lock);
	return n;
}

static gchar *
create_instance(ExhTest *t)
{
	g_autofree gchar *version =
		exh_test_create(t,
				EXH_TEST_TOKEN_OPERATOR,
				"/v1/types/mail/versions/",
				"{\"name\": \"exim4_1\", \"description\": \"\", \"image\": "
				"\"http://repo.local/mail.raw.zst\"}");
	g_autofree gchar *body =
		g_strdup_printf("{\"name\": \"m1\", \"project_id\": \"" EXH_TEST_PROJECT
				"\", \"domain\": \"example.org\", \"cpu\": 1, \"ram\": 1024, "
				"\"disk_size\": 10, \"version\": \"/v1/types/mail/versions/%s\"}",
				version);

	return exh_test_create(t, EXH_TEST_TOKEN_OWNER, "/v1/types/mail/instances/", body);
}

/* Waits until @sql answers "t"; FALSE after WAIT_US. */
static gboolean
wait_true(ExhTest *t, const gchar *sql)
{
	gint64 start = g_get_monotonic_time();

	while (g_get_monotonic_time() - start < WAIT_US) {
		g_autofree gchar *v = exh_test_sql(t, sql);

		if (g_strcmp0(v, "t") == 0)
			return TRUE;
		g_usleep(20 * 1000);
	}
	return FALSE;
}

/* Waits until a builder tick that starts after this call has ended. */
static gboolean
wait_tick_ended(ExhTest *t)
{
	ExhBuilder *builder = exh_ua_get_builder(t->host->ua);
	guint64 ticks = exh_builder_get_ticks(builder);
	gint64 start = g_get_monotonic_time();

	/* the counter moves as a tick starts: +2 means one started and ended */
	while (exh_builder_get_ticks(builder) < ticks + 2) {
		if (g_get_monotonic_time() - start > WAIT_US)
			return FALSE;
		g_usleep(20 * 1000);
	}
	return TRUE;
}

/*
 * The instance as a deployed one: ACTIVE with a node address and a key.
 * Every pass of the builder over it writes IN_PROGRESS (no NodeSet here),
 * which the DNS job never claims, so the update comes after the last pass
 * the builder owes it.  That may be two: a full pass (the host's first
 * tick) can build it before the tick after it takes the POST's mark and
 * builds it again (seen in ci2 and in the run of 3085859 as a check that
 * never started).  So: built (not NEW), its mark taken, and the tick that
 * took it ended.  The race is made on every run: a mark put back after the
 * first pass owes the builder a second one (without the waits, every test
 * here fails as ci2 did).
 */
static void
make_active(ExhTest *t, const gchar *uuid)
{
	g_autofree gchar *first = g_strdup_printf(
		"SELECT status <> 'NEW' FROM mail_instances WHERE uuid = '%s'", uuid);
	g_autofree gchar *mark = g_strdup_printf(
		"WITH m AS (INSERT INTO exh_builder_marks (uuid) VALUES ('%s') ON CONFLICT "
		"DO NOTHING) SELECT 1",
		uuid);
	g_autofree gchar *built = g_strdup_printf(
		"SELECT status <> 'NEW' AND NOT EXISTS (SELECT 1 FROM exh_builder_marks WHERE "
		"uuid = '%s') FROM mail_instances WHERE uuid = '%s'",
		uuid,
		uuid);
	g_autofree gchar *sql = g_strdup_printf(
		"UPDATE mail_instances SET status = 'ACTIVE', ipsv4 = '{192.0.2.10}', "
		"dkim_selector = 'platform', dkim_public_key = 'v=DKIM1; p=QUJD' WHERE uuid = "
		"'%s' RETURNING 1",
		uuid);
	g_autofree gchar *one = NULL;
	g_autofree gchar *marked = NULL;

	g_assert_true(wait_true(t, first));
	marked = exh_test_sql(t, mark);
	g_assert_cmpstr(marked, ==, "1");
	g_assert_true(wait_true(t, built));
	g_assert_true(wait_tick_ended(t));
	one = exh_test_sql(t, sql);
	g_assert_cmpstr(one, ==, "1");
}

/* Waits until the instance has been checked; FALSE after WAIT_US. */
static gboolean
wait_checked(ExhTest *t, const gchar *uuid)
{
	g_autofree gchar *sql = g_strdup_printf(
		"SELECT dns_checked_at IS NOT NULL FROM mail_instances WHERE uuid = '%s'", uuid);

	return wait_true(t, sql);
}

/* Waits until a step of a job has failed; FALSE after WAIT_US. */
static gboolean
wait_failed(ExhTest *t)
{
	gint64 start = g_get_monotonic_time();
	ExhPeriodicStats stats;

	while (g_get_monotonic_time() - start < WAIT_US) {
		exh_periodic_get_stats(exh_ua_get_periodic(t->host->ua), &stats);
		if (stats.failed > 0)
			return TRUE;
		g_usleep(50 * 1000);
	}
	return FALSE;
}

static void
test_dns_recheck_runs(void)
{
	ExhTestOptions options = { .agent_api = TRUE };
	g_autoptr(ExhTest) t = NULL;
	g_autofree gchar *uuid = NULL;
	g_autofree gchar *back = NULL;
	g_autofree gchar *status = NULL;
	g_autofree gchar *sql = NULL;

	/* nothing answers on the discard port: every check is unverified, fast */
	g_setenv("EXM_DNS_RESOLVER", "127.0.0.1@9", TRUE);
	g_setenv("EXM_DNS_TIMEOUT_MS", "200", TRUE);
	t = exh_test_new(&options);
	if (t == NULL)
		return;
	uuid = create_instance(t);

	/* a step that cannot store its answer fails: nothing stored, retried */
	g_free(exh_test_sql(t,
			    "ALTER TABLE mail_instance_dns ADD CONSTRAINT exh_test_refuse CHECK "
			    "(false) NOT VALID"));
	make_active(t, uuid);
	g_assert_true(wait_failed(t));
	sql = g_strdup_printf("SELECT dns_checked_at IS NULL FROM mail_instances WHERE uuid = '%s'",
			      uuid);
	status = exh_test_sql(t, sql);
	g_assert_cmpstr(status, ==, "t");

	/* the cause gone: the next step commits the check */
	back = exh_test_sql(t, "ALTER TABLE mail_instance_dns DROP CONSTRAINT exh_test_refuse");
	g_assert_true(wait_checked(t, uuid));
	g_clear_pointer(&status, g_free);
	status = exh_test_sql(t, "SELECT count(*) FROM mail_instance_dns");
	g_assert_cmpstr(status, ==, "1");
	g_unsetenv("EXM_DNS_RESOLVER");
	g_unsetenv("EXM_DNS_TIMEOUT_MS");
}

/* Every connection the host opens is in its session (UTC, the ISO
 * DateStyle) whatever libpq's environment says: the periodic jobs' one was
 * not, so on a server or a client set to another DateStyle the scheduled
 * check was refused on every step. */
static void
test_dns_recheck_session(void)
{
	ExhTestOptions options = { .agent_api = TRUE };
	g_autoptr(ExhTest) t = NULL;
	g_autofree gchar *uuid = NULL;

	g_setenv("PGOPTIONS", "-c DateStyle=SQL -c TimeZone=America/New_York", TRUE);
	g_setenv("EXM_DNS_RESOLVER", "127.0.0.1@9", TRUE);
	g_setenv("EXM_DNS_TIMEOUT_MS", "200", TRUE);
	t = exh_test_new(&options);
	if (t != NULL) {
		uuid = create_instance(t);
		make_active(t, uuid);
		g_assert_true(wait_checked(t, uuid));
	}
	g_unsetenv("PGOPTIONS");
	g_unsetenv("EXM_DNS_RESOLVER");
	g_unsetenv("EXM_DNS_TIMEOUT_MS");
}

/* Waits until the job has claimed the instance and is checking it. */
static gboolean
wait_claimed(ExhTest *t, const gchar *uuid)
{
	g_autofree gchar *sql = g_strdup_printf(
		"SELECT dns_next_check_at IS NOT NULL AND dns_checked_at IS NULL FROM "
		"mail_instances WHERE uuid = '%s'",
		uuid);
	ExhPeriodicStats stats;
	g_autofree gchar *row = NULL;
	g_autofree gchar *sessions = NULL;
	g_autofree gchar *show = g_strdup_printf(
		"SELECT status || ' next ' || coalesce(dns_next_check_at::text, '-') || ' checked "
		"' "
		"|| coalesce(dns_checked_at::text, '-') || ' now ' || now()::text FROM "
		"mail_instances WHERE uuid = '%s'",
		uuid);

	if (wait_true(t, sql))
		return TRUE;
	/* what the runner and the row looked like, for a failure seen once in CI */
	exh_periodic_get_stats(exh_ua_get_periodic(t->host->ua), &stats);
	row = exh_test_sql(t, show);
	sessions =
		exh_test_sql(t,
			     "SELECT coalesce(string_agg(state || ' ' || coalesce(wait_event, '-') "
			     "|| ' ' || left(query, 80), ' | '), '-') FROM pg_stat_activity WHERE "
			     "datname = current_database() AND pid <> pg_backend_pid()");
	g_test_message("not claimed: %s; runner steps %" G_GUINT64_FORMAT
		       " failed %" G_GUINT64_FORMAT "; other sessions: %s",
		       row,
		       (guint64)stats.steps,
		       (guint64)stats.failed,
		       sessions);
	return FALSE;
}

/*
 * While a check waits on DNS (a resolver that swallows every query), the
 * instance row is not locked: the builders and the API update it at once
 * (FOR UPDATE NOWAIT fails on a locked row, whatever the machine's speed;
 * tried a few times within the check, since a builder tick may hold the
 * row for a moment, which is not the check's lock).
 */
static void
test_no_lock_during_check(void)
{
	ExhTestOptions options = { .agent_api = TRUE };
	g_autoptr(ExhTest) t = NULL;
	g_autoptr(GSocket) hole = NULL;
	g_autoptr(GSocketAddress) addr = g_inet_socket_address_new_from_string("127.0.0.1", 0);
	g_autoptr(GSocketAddress) bound = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *server = NULL;
	g_autofree gchar *uuid = NULL;
	g_autofree gchar *sql = NULL;
	g_autofree gchar *one = NULL;

	hole = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, 0, &error);
	g_assert_no_error(error);
	g_socket_bind(hole, addr, FALSE, &error);
	g_assert_no_error(error);
	bound = g_socket_get_local_address(hole, &error);
	g_assert_no_error(error);
	server = g_strdup_printf("127.0.0.1@%u",
				 g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound)));
	g_setenv("EXM_DNS_RESOLVER", server, TRUE);
	g_setenv("EXM_DNS_TIMEOUT_MS", "4000", TRUE);
	t = exh_test_new(&options);
	if (t == NULL)
		return;
	uuid = create_instance(t);
	make_active(t, uuid);
	g_assert_true(wait_claimed(t, uuid));
	/* the builder may hold the row for a moment of its own tick: a few tries,
	 * each one while the check is still waiting on DNS (4 s) */
	sql = g_strdup_printf("SELECT dns_checked_at IS NULL FROM mail_instances WHERE uuid = "
			      "'%s' FOR UPDATE NOWAIT",
			      uuid);
	for (guint i = 0; i < 20 && one == NULL; i++) {
		g_autoptr(GError) locked = NULL;

		one = exm_test_pg_exec(t->conninfo, sql, &locked);
		if (one == NULL) {
			g_test_message("try %u: %s", i, locked->message);
			g_usleep(50 * 1000);
		}
	}
	g_assert_cmpstr(one, ==, "t");
	/* the check ends (unverified: nothing answered) and is stored */
	g_assert_true(wait_checked(t, uuid));
	g_unsetenv("EXM_DNS_RESOLVER");
	g_unsetenv("EXM_DNS_TIMEOUT_MS");
}

/* The backoff schedule itself: doubling from the second failure, capped at
 * ten intervals or five minutes, never below the interval. */
static void
test_delay(void)
{
	const guint64 second[] = { 1000, 1000, 2000, 4000, 8000, 10000, 10000 };

	for (guint i = 0; i < G_N_ELEMENTS(second); i++)
		g_assert_cmpuint(exh_periodic_delay_ms(1000, i), ==, second[i]);
	g_assert_cmpuint(exh_periodic_delay_ms(0, 0), ==, 100); /* the floor */
	g_assert_cmpuint(exh_periodic_delay_ms(0, 50), ==, 1000);
	g_assert_cmpuint(exh_periodic_delay_ms(60000, 3), ==, 240000);
	g_assert_cmpuint(exh_periodic_delay_ms(60000, 50), ==, EXH_PERIODIC_BACKOFF_MAX_MS);
	/* a job slower than the cap is never run sooner than its interval */
	g_assert_cmpuint(exh_periodic_delay_ms(600000, G_MAXUINT), ==, 600000);
}

#define FLAKY_INTERVAL_MS 100
#define FLAKY_FAILS	  11
#define FLAKY_CALLS	  (FLAKY_FAILS + 3)

/* A job that fails FLAKY_FAILS times, then works; it notes when it ran. */
typedef struct {
	GMutex lock;
	guint calls;
	gint64 at_us[FLAKY_CALLS + 8];
} Flaky;

static gboolean
flaky_run(gpointer ctx, PGconn *db, gint64 now_us, gboolean *more, gchar **error)
{
	Flaky *f = ctx;
	guint call;

	g_mutex_lock(&f->lock);
	call = f->calls++;
	if (call < G_N_ELEMENTS(f->at_us))
		f->at_us[call] = g_get_monotonic_time();
	g_mutex_unlock(&f->lock);
	if (call < FLAKY_FAILS) {
		*error = g_strdup_printf("refused (try %u)", call + 1);
		return FALSE;
	}
	return TRUE;
}

static const ExordosPaasPeriodicJob flaky_job = {
	.struct_size = sizeof(ExordosPaasPeriodicJob),
	.name = "flaky",
	.interval_ms = FLAKY_INTERVAL_MS,
	.run = flaky_run,
};
static const ExordosPaasPeriodicJob *const flaky_jobs[] = { &flaky_job, NULL };
static const ExordosPaasPluginDescriptor flaky_plugin = {
	.abi_major = EXORDOS_PAAS_PLUGIN_ABI_MAJOR,
	.abi_minor = 4,
	.struct_size = sizeof(ExordosPaasPluginDescriptor),
	.slug = "exhtest",
	.periodic = flaky_jobs,
};

static guint
flaky_calls(Flaky *f)
{
	guint n;

	g_mutex_lock(&f->lock);
	n = f->calls;
	g_mutex_unlock(&f->lock);
	return n;
}

/* Waits (bounded) until @f ran @n times or the runner took @steps steps. */
static void
wait_runs(ExhPeriodic *p, Flaky *f, guint n, guint64 steps)
{
	gint64 start = g_get_monotonic_time();
	ExhPeriodicStats stats = { 0 };

	while (g_get_monotonic_time() - start < 6 * WAIT_US) {
		exh_periodic_get_stats(p, &stats);
		if ((n > 0 && flaky_calls(f) >= n) || (steps > 0 && stats.steps >= steps))
			return;
		g_usleep(20 * 1000);
	}
}

/* Fails eleven times, then works: the failed steps are spaced out as the
 * schedule says (lower bounds only: a loaded machine is only ever later),
 * the runner comes back to the interval, and three lines were logged (the
 * first failure, the tenth, the recovery), not eleven. */
static void
test_backoff(void)
{
	/* a database is all it needs: no plugin loaded */
	const gchar *const no_plugins[] = { NULL };
	ExhTestOptions options = { .plugins = no_plugins };
	g_autoptr(ExhTest) t = exh_test_new(&options);
	g_autoptr(ExhPeriodic) p = NULL;
	Flaky f = { 0 };
	ExhPeriodicStats stats = { 0 };

	if (t == NULL)
		return;
	g_mutex_init(&f.lock);
	p = exh_periodic_new(t->conninfo);
	g_assert_cmpuint(exh_periodic_add_plugin(p, &flaky_plugin, &f), ==, 1);
	exh_periodic_start(p);
	wait_runs(p, &f, FLAKY_CALLS, 0);
	exh_periodic_stop(p);
	exh_periodic_get_stats(p, &stats);

	g_assert_cmpuint(f.calls, >=, FLAKY_CALLS);
	for (guint i = 1; i < FLAKY_FAILS; i++) {
		gint64 gap = f.at_us[i] - f.at_us[i - 1];

		g_assert_cmpint(
			gap, >=, (gint64)exh_periodic_delay_ms(FLAKY_INTERVAL_MS, i) * 1000);
	}
	/* the last failed step waited ten intervals, not one */
	g_assert_cmpint(f.at_us[FLAKY_FAILS] - f.at_us[FLAKY_FAILS - 1],
			>=,
			(gint64)FLAKY_INTERVAL_MS * EXH_PERIODIC_BACKOFF_FACTOR * 1000);
	/* back to the interval: what the runner chose after its last (good) step */
	g_assert_cmpuint(stats.failing, ==, 0);
	g_assert_cmpuint(stats.last_delay_ms, ==, FLAKY_INTERVAL_MS);
	g_assert_cmpuint(stats.failed, ==, FLAKY_FAILS);
	g_assert_cmpuint(stats.logged, ==, 3);
	g_assert_cmpuint(
		count_lines("periodic job flaky failed (1 in a row): refused (try 1)"), ==, 1);
	g_assert_cmpuint(
		count_lines("periodic job flaky failed (10 in a row): refused (try 10)"), ==, 1);
	g_assert_cmpuint(
		count_lines("periodic job flaky works again after 11 failed steps"), ==, 1);
	g_assert_cmpuint(count_lines("periodic job flaky"), ==, 3);
	g_mutex_clear(&f.lock);
}

/* The database away: every step fails before the job runs, backed off and
 * logged once (no PostgreSQL needed: the socket directory does not exist). */
static void
test_database_down(void)
{
	g_autoptr(ExhPeriodic) p = exh_periodic_new(
		"host=/nonexistent/exh-periodic-test dbname=none connect_timeout=2");
	Flaky f = { 0 };
	ExhPeriodicStats stats = { 0 };

	g_mutex_init(&f.lock);
	g_mutex_lock(&log_lock);
	g_ptr_array_set_size(log_lines, 0);
	g_mutex_unlock(&log_lock);
	g_assert_cmpuint(exh_periodic_add_plugin(p, &flaky_plugin, &f), ==, 1);
	exh_periodic_start(p);
	wait_runs(p, &f, 0, 6);
	exh_periodic_stop(p);
	exh_periodic_get_stats(p, &stats);
	g_assert_cmpuint(f.calls, ==, 0);
	g_assert_cmpuint(stats.steps, >=, 6);
	g_assert_cmpuint(stats.failed, ==, stats.steps);
	g_assert_cmpuint(stats.failing, ==, 1);
	g_assert_cmpuint(stats.last_delay_ms,
			 ==,
			 exh_periodic_delay_ms(FLAKY_INTERVAL_MS, (guint)stats.steps));
	g_assert_cmpuint(stats.logged, ==, 1 + stats.steps / EXH_PERIODIC_LOG_EVERY);
	g_assert_cmpuint(count_lines("cannot connect to the database"), ==, stats.logged);
	g_mutex_clear(&f.lock);
}

int
main(int argc, char **argv)
{
	log_lines = g_ptr_array_new_with_free_func(g_free);
	g_log_set_writer_func(capture_writer, NULL, NULL);
	exh_test_init(&argc, &argv);
	g_test_add_func("/host/periodic/delay", test_delay);
	g_test_add_func("/host/periodic/backoff", test_backoff);
	g_test_add_func("/host/periodic/database-down", test_database_down);
	g_test_add_func("/host/periodic/dns-recheck", test_dns_recheck_runs);
	g_test_add_func("/host/periodic/dns-recheck-session", test_dns_recheck_session);
	g_test_add_func("/host/periodic/no-lock-during-check", test_no_lock_during_check);
	return g_test_run();
}
