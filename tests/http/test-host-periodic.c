/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host runs its plugins' background jobs (ABI minor 4,
 * tests/host/engine/exh-periodic.c) with no request: the mail plugin's
 * `dns_recheck` checks an ACTIVE instance on its own and stores what it
 * found; a step that fails stores nothing, is logged, and is tried again when
 * its lease ends, then succeeds once the cause is gone; and no row stays
 * locked while a check waits on DNS.
 */
#include "exh-host-private.h"
#include "exh-periodic.h"
#include "exh-test.h"
#include "exh-ua.h"

#define WAIT_US (20 * G_USEC_PER_SEC)

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

/* The instance as a deployed one: ACTIVE with a node address and a key. */
static void
make_active(ExhTest *t, const gchar *uuid)
{
	g_autofree gchar *sql = g_strdup_printf(
		"UPDATE mail_instances SET status = 'ACTIVE', ipsv4 = '{192.0.2.10}', "
		"dkim_selector = 'platform', dkim_public_key = 'v=DKIM1; p=QUJD' WHERE uuid = "
		"'%s' RETURNING 1",
		uuid);
	g_autofree gchar *one = exh_test_sql(t, sql);

	g_assert_cmpstr(one, ==, "1");
}

/* Waits until the instance has been checked; FALSE after WAIT_US. */
static gboolean
wait_checked(ExhTest *t, const gchar *uuid)
{
	g_autofree gchar *sql = g_strdup_printf(
		"SELECT dns_checked_at IS NOT NULL FROM mail_instances WHERE uuid = '%s'", uuid);
	gint64 start = g_get_monotonic_time();

	while (g_get_monotonic_time() - start < WAIT_US) {
		g_autofree gchar *v = exh_test_sql(t, sql);

		if (g_strcmp0(v, "t") == 0)
			return TRUE;
		g_usleep(50 * 1000);
	}
	return FALSE;
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

/* Waits until the job has claimed the instance and is checking it. */
static gboolean
wait_claimed(ExhTest *t, const gchar *uuid)
{
	g_autofree gchar *sql = g_strdup_printf(
		"SELECT dns_next_check_at IS NOT NULL AND dns_checked_at IS NULL FROM "
		"mail_instances WHERE uuid = '%s'",
		uuid);
	gint64 start = g_get_monotonic_time();

	while (g_get_monotonic_time() - start < WAIT_US) {
		g_autofree gchar *v = exh_test_sql(t, sql);

		if (g_strcmp0(v, "t") == 0)
			return TRUE;
		g_usleep(20 * 1000);
	}
	return FALSE;
}

/*
 * While a check waits on DNS (a resolver that swallows every query), the
 * instance row is not locked: the builders and the API update it at once
 * (FOR UPDATE NOWAIT fails on a locked row, whatever the machine's speed).
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
	sql = g_strdup_printf("SELECT 1 FROM mail_instances WHERE uuid = '%s' FOR UPDATE NOWAIT",
			      uuid);
	one = exh_test_sql(t, sql);
	g_assert_cmpstr(one, ==, "1");
	/* the check ends (unverified: nothing answered) and is stored */
	g_assert_true(wait_checked(t, uuid));
	g_unsetenv("EXM_DNS_RESOLVER");
	g_unsetenv("EXM_DNS_TIMEOUT_MS");
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/host/periodic/dns-recheck", test_dns_recheck_runs);
	g_test_add_func("/host/periodic/no-lock-during-check", test_no_lock_during_check);
	return g_test_run();
}
