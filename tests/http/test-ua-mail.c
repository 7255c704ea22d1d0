/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail builders end to end, in-process, without the local backend: the
 * reference host with the mail plugin, its Orch/Status APIs and builder
 * engine; the test plays the infra backend (it writes the actual NodeSet)
 * and runs the real agent library (agent/exm-ua-*, envelope on, long poll)
 * with an in-memory `mail_instance_node` driver that reports a DKIM key.
 * Checks the NodeSet/Config targets, ipsv4, the node target's exact value,
 * statuses NEW → IN_PROGRESS → ACTIVE → ERROR, DKIM sync, account and disk
 * changes flowing through, dns_records, that a converged system writes no
 * row, and deletion.
 */
#include "exm-config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "exh-test.h"
#include "exm-json.h"
#include "exm-test.h"
#include "exm-ua-agent.h"
#include "exm-ua-driver.h"
#include "exm-uuid.h"

#define NODE	"5eed0000-1111-4222-8333-444455556666"
#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define DKIM	"v=DKIM1; h=sha256; k=rsa; p=QUJDREVGRw=="

/* ------------------------------------------------------------------ DP driver */

typedef struct {
	ExmUaDriver base;
	GHashTable *dp; /* uuid → JsonObject */
	gboolean fail;	/* report status ERROR */
} MailDriver;

static const gchar *const mail_kinds[] = { "mail_instance_node", NULL };

static const gchar *const *
mail_driver_kinds(ExmUaDriver *d)
{
	return mail_kinds;
}

static GPtrArray *
mail_driver_list(ExmUaDriver *d, const gchar *kind, GError **error)
{
	MailDriver *md = (MailDriver *)d;
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
	GHashTableIter iter;
	gpointer v;

	g_hash_table_iter_init(&iter, md->dp);
	while (g_hash_table_iter_next(&iter, NULL, &v)) {
		json_object_set_string_member(v, "status", md->fail ? "ERROR" : "ACTIVE");
		g_ptr_array_add(out, json_object_ref(v));
	}
	return out;
}

/* The DP object: the target plus what the node reports (status, DKIM). */
static JsonObject *
mail_driver_store(ExmUaDriver *d, const gchar *kind, JsonObject *value, GError **error)
{
	MailDriver *md = (MailDriver *)d;
	JsonObject *actual = json_object_new();
	g_autoptr(GList) members = json_object_get_members(value);

	for (GList *l = members; l != NULL; l = l->next)
		json_object_set_member(
			actual, l->data, json_node_copy(json_object_get_member(value, l->data)));
	json_object_set_string_member(actual, "status", md->fail ? "ERROR" : "ACTIVE");
	json_object_set_string_member(actual, "dkim_public_key", DKIM);
	json_object_set_string_member(actual, "dkim_selector", "platform");
	g_hash_table_insert(md->dp,
			    g_strdup(json_object_get_string_member(value, "uuid")),
			    json_object_ref(actual));
	return actual;
}

static gboolean
mail_driver_remove(ExmUaDriver *d, const gchar *kind, JsonObject *value, GError **error)
{
	g_hash_table_remove(((MailDriver *)d)->dp, json_object_get_string_member(value, "uuid"));
	return TRUE;
}

static void
mail_driver_destroy(ExmUaDriver *d)
{
	g_hash_table_unref(((MailDriver *)d)->dp);
	g_free(d);
}

static MailDriver *
mail_driver_new(void)
{
	MailDriver *md = g_new0(MailDriver, 1);

	md->base.name = "FakeMail";
	md->base.kinds = mail_driver_kinds;
	md->base.list = mail_driver_list;
	md->base.create = mail_driver_store;
	md->base.update = mail_driver_store;
	md->base.remove = mail_driver_remove;
	md->base.destroy = mail_driver_destroy;
	md->dp = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)json_object_unref);
	return md;
}

/* ------------------------------------------------------------------ helpers */

typedef struct {
	ExhTest *t;
	gchar *dir;
	ExmUaAgent *agent;
	MailDriver *driver; /* owned by the agent */
	gchar *instance;
	gboolean envelope;
} Fx;

/* Runs the agent (test thread's context) until @sql answers @want. */
static void
wait_for(Fx *fx, const gchar *sql, const gchar *want)
{
	gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
	g_autofree gchar *got = NULL;

	while (g_get_monotonic_time() < deadline) {
		g_free(got);
		got = exh_test_sql(fx->t, sql);
		if (g_strcmp0(got, want) == 0)
			return;
		for (guint i = 0; i < 5; i++) {
			while (g_main_context_iteration(NULL, FALSE))
				;
			g_usleep(10000);
		}
	}
	g_test_message("%s: got '%s', want '%s'", sql, got, want);
	g_assert_cmpstr(got, ==, want);
}

/* Runs the main context for @ms without checking anything. */
static void
run_for(guint ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

	while (g_get_monotonic_time() < end) {
		while (g_main_context_iteration(NULL, FALSE))
			;
		g_usleep(10000);
	}
}

static gchar *
instance_sql(Fx *fx, const gchar *fmt)
{
	g_auto(GStrv) parts = g_strsplit(fmt, "@I@", -1);

	return g_strjoinv(fx->instance, parts);
}

static void
wait_instance(Fx *fx, const gchar *fmt, const gchar *want)
{
	g_autofree gchar *sql = instance_sql(fx, fmt);

	wait_for(fx, sql, want);
}

static gchar *
q_instance(Fx *fx, const gchar *fmt)
{
	g_autofree gchar *sql = instance_sql(fx, fmt);

	return exh_test_sql(fx->t, sql);
}

static void
create_instance(Fx *fx)
{
	g_autofree gchar *version =
		exh_test_create(fx->t,
				EXH_TEST_TOKEN_OPERATOR,
				"/v1/types/mail/versions/",
				"{\"name\": \"exim4_1\", \"description\": \"\", \"image\": "
				"\"http://repo.local/mail.raw.zst\"}");
	g_autofree gchar *body = NULL;

	body = g_strdup_printf("{\"name\": \"m1\", \"project_id\": \"" EXH_TEST_PROJECT
			       "\", \"domain\": \"example.org\", \"cpu\": 1, \"ram\": 1024, "
			       "\"disk_size\": 10, \"version\": \"/v1/types/mail/versions/%s\"}",
			       version);
	g_autoptr(ExhTestResponse) i = exh_test_request(
		fx->t, "POST", "/v1/types/mail/instances/", EXH_TEST_TOKEN_OWNER, body);
	g_assert_cmpuint(i->status, ==, 201);
	g_assert_cmpstr(exh_test_response_get_string(i, "status"), ==, "NEW");
	fx->instance = g_strdup(exh_test_response_get_string(i, "uuid"));
}

/* The test plays the infra backend: the set is up with one node. */
static void
report_node_set(Fx *fx)
{
	g_autofree gchar *sql = instance_sql(
		fx,
		"INSERT INTO ua_actual_resources (uuid, kind, res_uuid, value, hash, full_hash, "
		"status) SELECT uuid, kind, res_uuid, value || '{\"status\": \"ACTIVE\", "
		"\"nodes\": "
		"{\"" NODE "\": {\"uuid\": \"" NODE "\", \"name\": \"n0\", \"ipv4\": "
		"\"127.9.0.1\"}}}', hash, 'ns-1', 'ACTIVE' FROM ua_target_resources WHERE kind = "
		"'node_set' AND uuid = '@I@'");

	g_free(exh_test_sql(fx->t, sql));
	/* the node key the backend would report: encryption required, or not yet */
	g_free(exh_test_sql(fx->t,
			    fx->envelope
				    ? "INSERT INTO ua_node_encryption_keys (uuid, private_key) "
				      "VALUES ('" NODE "', '" KEY_B64 "')"
				    : "INSERT INTO ua_node_encryption_keys (uuid, private_key, "
				      "encryption_disabled_until) VALUES ('" NODE "', '" KEY_B64
				      "', 'infinity')"));
}

static void
start_agent(Fx *fx)
{
	g_autofree gchar *conf = g_build_filename(fx->dir, "agent.conf", NULL);
	g_autofree gchar *key = g_build_filename(fx->dir, "private_key", NULL);
	g_autofree gchar *text = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(g_file_set_contents(key, KEY_B64 "\n", -1, &error));
	text = g_strdup_printf("[universal_agent]\norch_endpoint = %s\nstatus_endpoint = %s\n"
			       "uuid5_name = mailaas\nnode_uuid = " NODE "\nsystem_root = %s\n"
			       "payload_path = %s/payload.json\nprivate_key_path = %s\n"
			       "caps_drivers = FakeMail\nlong_poll = true\nlong_poll_wait = 2\n"
			       "poll_interval = 0.1\nhttp_timeout = 5\nbackoff_initial = 0.05\n"
			       "backoff_max = 0.2\norch_secure_communication = %s\n",
			       exh_host_get_orch_url(fx->t->host),
			       exh_host_get_status_url(fx->t->host),
			       fx->dir,
			       fx->dir,
			       key,
			       fx->envelope ? "true" : "false");
	g_assert_true(g_file_set_contents(conf, text, -1, &error));
	g_assert_cmpint(g_chmod(conf, 0600), ==, 0);
	g_assert_cmpint(g_chmod(key, 0600), ==, 0);
	fx->agent = exm_ua_agent_new(conf, &error);
	g_assert_no_error(error);
	fx->driver = mail_driver_new();
	g_assert_true(exm_ua_agent_add_driver(fx->agent, &fx->driver->base, &error));
	g_assert_no_error(error);
	exm_ua_agent_start(fx->agent);
}

static gchar *
snapshot(Fx *fx)
{
	return exh_test_sql(
		fx->t,
		"SELECT coalesce(string_agg(x, ',' ORDER BY x), '') FROM ("
		"SELECT xmin::text || ctid::text AS x FROM ua_target_resources UNION ALL "
		"SELECT xmin::text || ctid::text FROM ua_actual_resources UNION ALL "
		"SELECT xmin::text || ctid::text FROM ua_agents UNION ALL "
		"SELECT xmin::text || ctid::text FROM mail_instances) s");
}

/* ------------------------------------------------------------------ steps */

static void
check_infra_targets(Fx *fx)
{
	g_autofree gchar *ns = NULL;
	g_autofree gchar *want = NULL;

	wait_instance(
		fx,
		"SELECT count(*) FROM ua_target_resources WHERE kind = 'node_set' AND uuid = '@I@'",
		"1");
	wait_instance(fx, "SELECT status FROM mail_instances WHERE uuid = '@I@'", "IN_PROGRESS");
	ns = q_instance(fx,
			"SELECT (value - 'project_id')::text FROM ua_target_resources WHERE "
			"kind = 'node_set' AND uuid = '@I@'");
	want = instance_sql(fx,
			    "{\"ram\": 1024, \"name\": \"mailaas-dp-@I@\", \"uuid\": \"@I@\", "
			    "\"cores\": 1, \"replicas\": 1, \"set_type\": \"SET\", "
			    "\"disk_spec\": {\"kind\": \"disks\", \"disks\": [{\"size\": 6, "
			    "\"image\": \"http://repo.local/mail.raw.zst\", \"label\": "
			    "\"root\"}, {\"size\": 10, \"label\": \"data\"}]}, \"node_type\": "
			    "\"VM\"}");
	g_assert_cmpstr(ns, ==, want);
}

static void
check_configs(Fx *fx)
{
	g_autofree gchar *name = g_strconcat("config-", NODE, NULL);
	g_autofree gchar *uuid = exm_uuid_v5(fx->instance, name, NULL);
	g_autofree gchar *got = NULL;
	g_autofree gchar *want = NULL;

	wait_instance(fx,
		      "SELECT array_to_string(ipsv4, ',') FROM mail_instances WHERE uuid = '@I@'",
		      "127.9.0.1");
	got = q_instance(fx,
			 "SELECT uuid::text || '|' || (value->'body'->>'content') || '|' || "
			 "(value->>'path') || '|' || (value->>'mode') || '|' || "
			 "(value->'on_change'->>'command') || '|' || (value->'target'->>'node') "
			 "FROM ua_target_resources WHERE kind = 'config' AND master = '@I@'");
	want = g_strdup_printf("%s|MAIL_DOMAIN=example.org\n|/etc/exordos_metapaas/mail.env|0640|"
			       "systemctl restart exordos-metapaas-mail-configure|" NODE,
			       uuid);
	g_assert_cmpstr(got, ==, want);
}

static void
check_node_target(Fx *fx)
{
	g_autofree gchar *agent = exm_uuid_v5(NODE, "mailaas", NULL);
	g_autofree gchar *got = NULL;
	g_autofree gchar *want = NULL;

	got = exh_test_sql(fx->t,
			   "SELECT agent::text || ' ' || (value - 'accounts')::text || ' ' "
			   "|| (value->'accounts')::text FROM ua_target_resources WHERE "
			   "kind = 'mail_instance_node'");
	want = g_strdup_printf("%s {\"name\": \"m1\", \"uuid\": \"%s\", \"domain\": "
			       "\"example.org\"} {}",
			       agent,
			       agent);
	g_assert_cmpstr(got, ==, want);
}

static void
check_dns_records(Fx *fx)
{
	g_autofree gchar *path =
		g_strdup_printf("/v1/types/mail/instances/%s/actions/dns_records", fx->instance);
	g_autoptr(ExhTestResponse) ok =
		exh_test_request(fx->t, "GET", path, EXH_TEST_TOKEN_OWNER, NULL);
	g_autoptr(ExhTestResponse) other =
		exh_test_request(fx->t, "GET", path, EXH_TEST_TOKEN_OTHER, NULL);
	g_autoptr(ExhTestResponse) noperm =
		exh_test_request(fx->t, "GET", path, EXH_TEST_TOKEN_NOPERM, NULL);
	const gchar *zone;

	g_assert_cmpuint(ok->status, ==, 200);
	zone = exh_test_response_get_string(ok, "zone");
	g_assert_nonnull(zone);
	g_assert_nonnull(strstr(zone, "platform._domainkey"));
	g_assert_nonnull(strstr(zone, "ip4:127.9.0.1"));
	g_assert_nonnull(strstr(zone, "_dmarc"));
	g_assert_true(exh_test_response_has_member(ok, "records"));
	g_assert_cmpuint(other->status, ==, 404);
	g_assert_cmpuint(noperm->status, ==, 403);
}

/* converged: nothing is written while the agent keeps polling.  Converged
 * means a second without a write (a loaded machine, valgrind, may still be
 * finishing the last report), then 2.5 s more must write nothing. */
static void
check_quiet(Fx *fx)
{
	g_autofree gchar *before = snapshot(fx);
	g_autofree gchar *after = NULL;

	for (guint i = 0; i < 30; i++) {
		g_autofree gchar *later = NULL;

		run_for(1000);
		later = snapshot(fx);
		if (g_strcmp0(before, later) == 0)
			break;
		g_free(before);
		before = g_steal_pointer(&later);
	}
	run_for(2500);
	after = snapshot(fx);
	g_assert_cmpstr(before, ==, after);
}

/* an account, a resize, a failure and the delete, each reaching the node */
static void
check_changes(Fx *fx)
{
	g_autofree gchar *path = NULL;

	/* an account reaches the data plane (inactive ones too) */
	path = g_strdup_printf("/v1/types/mail/instances/%s/accounts/", fx->instance);
	g_autofree gchar *acc = g_strdup_printf(
		"{\"username\": \"Alice\", \"password\": \"correct horse battery\", \"active\": "
		"false, \"project_id\": \"" EXH_TEST_PROJECT "\"}");
	g_autoptr(ExhTestResponse) a =
		exh_test_request(fx->t, "POST", path, EXH_TEST_TOKEN_OWNER, acc);
	g_assert_cmpuint(a->status, ==, 201);
	wait_for(fx,
		 "SELECT (value->'accounts'->'alice'->>'active') FROM ua_actual_resources WHERE "
		 "kind = 'mail_instance_node'",
		 "false");
	wait_instance(fx, "SELECT status FROM mail_instances WHERE uuid = '@I@'", "ACTIVE");
	/* disk grow flows into the NodeSet target */
	g_free(path);
	path = g_strdup_printf("/v1/types/mail/instances/%s", fx->instance);
	g_autoptr(ExhTestResponse) u =
		exh_test_request(fx->t, "PUT", path, EXH_TEST_TOKEN_OWNER, "{\"disk_size\": 20}");
	g_assert_cmpuint(u->status, ==, 200);
	wait_instance(fx,
		      "SELECT value->'disk_spec'->'disks'->1->>'size' FROM ua_target_resources "
		      "WHERE kind = 'node_set' AND uuid = '@I@'",
		      "20");
	/* the node reports a failure: ERROR; recovered: ACTIVE */
	fx->driver->fail = TRUE;
	wait_instance(fx, "SELECT status FROM mail_instances WHERE uuid = '@I@'", "ERROR");
	fx->driver->fail = FALSE;
	wait_instance(fx, "SELECT status FROM mail_instances WHERE uuid = '@I@'", "ACTIVE");
	/* delete: every target of the instance goes */
	g_autoptr(ExhTestResponse) d =
		exh_test_request(fx->t, "DELETE", path, EXH_TEST_TOKEN_OWNER, NULL);
	g_assert_cmpuint(d->status, ==, 204);
	wait_instance(
		fx,
		"SELECT count(*) FROM ua_target_resources WHERE uuid = '@I@' OR master = '@I@'",
		"0");
}

static void
test_mail_flow(gconstpointer data)
{
	ExhTestOptions options = { .agent_api = TRUE };
	Fx fx = { .envelope = GPOINTER_TO_INT(data) };

	fx.t = exh_test_new(&options);
	if (fx.t == NULL)
		return;
	fx.dir = exm_test_mkdtemp("ua-mail");
	create_instance(&fx);
	check_infra_targets(&fx);
	report_node_set(&fx);
	check_configs(&fx);
	/* the agent registers; its target appears; it converges and reports DKIM */
	start_agent(&fx);
	wait_instance(
		&fx,
		"SELECT status || ' ' || dkim_selector FROM mail_instances WHERE uuid = '@I@'",
		"ACTIVE platform");
	wait_instance(&fx, "SELECT dkim_public_key FROM mail_instances WHERE uuid = '@I@'", DKIM);
	check_node_target(&fx);
	check_dns_records(&fx);
	/* the agent row goes (its targets cascade): the agent gets 404, registers
	 * again, and its target is rebuilt */
	g_free(exh_test_sql(fx.t, "DELETE FROM ua_agents"));
	wait_for(&fx,
		 "SELECT count(*) FROM ua_target_resources WHERE kind = 'mail_instance_node' AND "
		 "agent IS NOT NULL",
		 "1");
	wait_instance(&fx, "SELECT status FROM mail_instances WHERE uuid = '@I@'", "ACTIVE");
	/* converged once the agent reported the rebuilt target again (its actual
	 * went with the agent row) */
	wait_for(&fx,
		 "SELECT count(*) FROM ua_actual_resources WHERE kind = 'mail_instance_node'",
		 "1");
	/* the host's scheduled DNS check (docs/dns-verification.md §7) writes
	 * the row once soon after ACTIVE and after each key or address change,
	 * then not for its period: the quiet window starts after it */
	wait_instance(&fx,
		      "SELECT dns_checked_at IS NOT NULL AND dns_next_check_at IS NOT NULL "
		      "FROM mail_instances WHERE uuid = '@I@'",
		      "t");
	check_quiet(&fx);
	check_changes(&fx);
	exm_ua_agent_stop(fx.agent);
	run_for(100);
	g_clear_pointer(&fx.agent, exm_ua_agent_free);
	g_clear_pointer(&fx.t, exh_test_free);
	exm_test_rmtree(fx.dir);
	g_free(fx.dir);
	g_free(fx.instance);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_data_func("/ua/mail/flow-envelope", GINT_TO_POINTER(TRUE), test_mail_flow);
	g_test_add_data_func("/ua/mail/flow-plain", GINT_TO_POINTER(FALSE), test_mail_flow);
	return g_test_run();
}
