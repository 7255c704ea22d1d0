/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The memory of payload building (issue 21 #9): the reference host
 * in-process with the mail plugin and its builder engine builds a few
 * ~15 MB node payloads (100 000 accounts per instance, the largest the host
 * must build); afterwards the process's resident set must settle within
 * 64 MB of where it was before the burst.  The test plays the infra backend
 * and the agents' registration in SQL, as tests/http/test-ua-mail.c does.
 */
#include "exm-config.h"

#include <string.h>

#include "exh-test.h"
#include "exm-test.h"
#include "exm-uuid.h"

#define INSTANCES 3
#define ACCOUNTS  100000
#define SETTLE_MB 64

/* Under valgrind or AddressSanitizer the RSS is the tool's (its quarantine
 * keeps what was freed): the burst is built, smaller, and nothing asserted. */
static gboolean
rss_is_ours(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return FALSE;
#else
	return g_getenv("EXM_UNDER_VALGRIND") == NULL;
#endif
}

static gint
accounts(void)
{
	return rss_is_ours() ? ACCOUNTS : 2000;
}

static void
sql(ExhTest *t, const gchar *text)
{
	g_autofree gchar *got = exh_test_sql(t, text);

	g_assert_nonnull(got);
}

/* Polls @query every 100 ms until it answers @want (at most @seconds). */
static void
wait_for(ExhTest *t, const gchar *query, const gchar *want, guint seconds)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;
	g_autofree gchar *got = NULL;

	while (g_get_monotonic_time() < deadline) {
		g_free(got);
		got = exh_test_sql(t, query);
		if (g_strcmp0(got, want) == 0)
			return;
		g_usleep(100 * 1000);
	}
	g_assert_cmpstr(got, ==, want);
}

static gchar *
create_instance(ExhTest *t, const gchar *version, guint i)
{
	g_autofree gchar *body = g_strdup_printf(
		"{\"name\": \"m%u\", \"project_id\": \"" EXH_TEST_PROJECT "\", \"domain\": "
		"\"m%u.example.org\", \"cpu\": 1, \"ram\": 1024, \"disk_size\": 10, \"version\": "
		"\"/v1/types/mail/versions/%s\"}",
		i,
		i,
		version);

	return exh_test_create(t, EXH_TEST_TOKEN_OWNER, "/v1/types/mail/instances/", body);
}

/* 100 000 accounts with sha512-crypt-shaped hashes, written behind the API's back. */
static void
add_accounts(ExhTest *t, const gchar *instance)
{
	g_autofree gchar *text = g_strdup_printf(
		"INSERT INTO mail_accounts (uuid, project_id, instance, username, password_hash, "
		"created_at, updated_at) SELECT gen_random_uuid(), '" EXH_TEST_PROJECT "', '%s', "
		"'user' || lpad(g::text, 6, '0'), '$6$' || substr(md5(g::text), 1, 16) || '$' || "
		"substr(md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text), 1, 85) || '0', "
		"now(), "
		"now() FROM generate_series(1, %d) g",
		instance,
		accounts());

	sql(t, text);
}

/* The backend's part: the set is up with one node; the node's agent registered. */
static void
node_up(ExhTest *t, const gchar *instance, guint i)
{
	g_autofree gchar *node = g_strdup_printf("5eed0000-1111-4222-8333-%012u", i);
	g_autofree gchar *agent = exm_uuid_v5(node, "mailaas", NULL);
	g_autofree gchar *reg = g_strdup_printf(
		"INSERT INTO ua_agents (uuid, node) VALUES ('%s', '%s')", agent, node);
	g_autofree gchar *text = g_strdup_printf(
		"INSERT INTO ua_actual_resources (uuid, kind, res_uuid, value, hash, full_hash, "
		"status) SELECT uuid, kind, res_uuid, value || '{\"status\": \"ACTIVE\", "
		"\"nodes\": "
		"{\"%s\": {\"uuid\": \"%s\", \"name\": \"n0\", \"ipv4\": \"127.9.0.%u\"}}}', hash, "
		"'ns-%u', 'ACTIVE' FROM ua_target_resources WHERE kind = 'node_set' AND uuid = "
		"'%s'",
		node,
		node,
		i + 1,
		i,
		instance);

	sql(t, reg);
	sql(t, text);
}

static guint64
settled_kb(guint64 base, guint seconds)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;
	guint64 rss = exm_test_status_kb("VmRSS:");

	while (rss > base + SETTLE_MB * 1024 && g_get_monotonic_time() < deadline) {
		g_usleep(200 * 1000);
		rss = exm_test_status_kb("VmRSS:");
	}
	return rss;
}

static void
test_payload_memory(void)
{
	ExhTestOptions options = { .agent_api = TRUE, .plain_agents = TRUE };
	g_autoptr(ExhTest) t = exh_test_new(&options);
	g_autofree gchar *version = NULL;
	g_autoptr(GPtrArray) instances = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *want = g_strdup_printf("%d", INSTANCES * accounts());
	g_autofree gchar *size = NULL;
	guint64 base, peak, after, settled;
	gint64 start;

	if (t == NULL)
		return;
	version = exh_test_create(t,
				  EXH_TEST_TOKEN_OPERATOR,
				  "/v1/types/mail/versions/",
				  "{\"name\": \"exim4_1\", \"description\": \"\", \"image\": "
				  "\"http://repo.local/mail.raw.zst\"}");
	for (guint i = 0; i < INSTANCES; i++)
		g_ptr_array_add(instances, create_instance(t, version, i));
	wait_for(t,
		 "SELECT count(*) FROM ua_target_resources WHERE kind = 'node_set'",
		 G_STRINGIFY(INSTANCES),
		 60);
	base = exm_test_status_kb("VmRSS:");
	start = g_get_monotonic_time();
	for (guint i = 0; i < INSTANCES; i++) {
		add_accounts(t, instances->pdata[i]);
		node_up(t, instances->pdata[i], i);
	}
	/* (polled without opening the payloads: that is the database's work) */
	wait_for(t,
		 "SELECT count(*) FROM ua_target_resources WHERE kind = 'mail_instance_node'",
		 G_STRINGIFY(INSTANCES),
		 120);
	g_test_message("built in %.1f s", (g_get_monotonic_time() - start) / 1e6);
	after = exm_test_status_kb("VmRSS:");
	peak = exm_test_status_kb("VmHWM:");
	settled = settled_kb(base, rss_is_ours() ? 60 : 0);
	size = exh_test_sql(t,
			    "SELECT max(octet_length(value::text)) FROM ua_target_resources "
			    "WHERE kind = 'mail_instance_node'");
	wait_for(t,
		 "SELECT count(*) FROM ua_target_resources t, "
		 "jsonb_object_keys(t.value->'accounts') "
		 "WHERE t.kind = 'mail_instance_node'",
		 want,
		 10);
	g_test_message("%d payloads of %s bytes: RSS %" G_GUINT64_FORMAT
		       " MB before, %" G_GUINT64_FORMAT " MB when built (peak %" G_GUINT64_FORMAT
		       " MB), %" G_GUINT64_FORMAT " MB settled (target: within %d MB of before)",
		       INSTANCES,
		       size,
		       base / 1024,
		       after / 1024,
		       peak / 1024,
		       settled / 1024,
		       SETTLE_MB);
	if (rss_is_ours())
		g_assert_cmpuint(settled, <=, base + SETTLE_MB * 1024);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/builder/payload-memory", test_payload_memory);
	return g_test_run();
}
