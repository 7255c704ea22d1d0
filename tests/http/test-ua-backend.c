/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The builder engine driving an infra backend (tests/host/infra/exh-backend.h):
 * an in-memory backend stands in for `local`/`core`.  The mail plugin's
 * NodeSet and Config targets reach it once per version (level-based, no
 * re-apply while nothing changes), its actual set comes back as the actual
 * `node_set` resource with the node key in `ua_node_encryption_keys`
 * (encryption required), the Config's status as the actual `config`, and
 * deleting the instance deletes the set and its keys.
 */
#include "exm-config.h"

#include <string.h>

#include "exh-backend.h"
#include "exh-test.h"
#include "exm-json.h"
#include "exm-test.h"
#include "exm-uuid.h"

#define NODE	"7a7a0000-1111-4222-8333-444455556666"
#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

typedef struct {
	ExhInfraBackend base;
	GMutex lock;
	GHashTable *sets;    /* uuid → ExhNodeSetTarget */
	GHashTable *configs; /* uuid → ExhConfigTarget */
	guint set_applies;
	guint config_applies;
	guint set_deletes;
	gboolean failed; /* the set reports ERROR */
} FakeBackend;

static gboolean
fake_apply_node_set(ExhInfraBackend *b, const ExhNodeSetTarget *target, GError **error)
{
	FakeBackend *f = (FakeBackend *)b;

	g_mutex_lock(&f->lock);
	g_hash_table_replace(f->sets, g_strdup(target->uuid), exh_node_set_target_copy(target));
	f->set_applies++;
	g_mutex_unlock(&f->lock);
	exh_infra_backend_emit_changed(b, target->uuid);
	return TRUE;
}

static gboolean
fake_delete_node_set(ExhInfraBackend *b, const gchar *uuid, GError **error)
{
	FakeBackend *f = (FakeBackend *)b;

	g_mutex_lock(&f->lock);
	f->set_deletes += g_hash_table_remove(f->sets, uuid);
	g_mutex_unlock(&f->lock);
	return TRUE;
}

static ExhNodeSetActual *
fake_get_node_set(ExhInfraBackend *b, const gchar *uuid, GError **error)
{
	FakeBackend *f = (FakeBackend *)b;
	ExhNodeSetActual *actual = NULL;
	ExhNodeSetTarget *target;
	ExhInfraNode *node;

	g_mutex_lock(&f->lock);
	target = g_hash_table_lookup(f->sets, uuid);
	if (target != NULL) {
		actual = exh_node_set_actual_new();
		actual->uuid = g_strdup(uuid);
		actual->status = f->failed ? EXH_INFRA_STATUS_ERROR : EXH_INFRA_STATUS_ACTIVE;
		actual->target = exh_node_set_target_copy(target);
		node = g_new0(ExhInfraNode, 1);
		node->uuid = g_strdup(NODE);
		node->name = g_strdup("n0");
		node->ipv4 = g_strdup("127.9.0.7");
		node->private_key = g_strdup(KEY_B64);
		g_ptr_array_add(actual->nodes, node);
	}
	g_mutex_unlock(&f->lock);
	return actual;
}

static gboolean
fake_apply_config(ExhInfraBackend *b, const ExhConfigTarget *target, GError **error)
{
	FakeBackend *f = (FakeBackend *)b;
	ExhConfigTarget *copy = exh_config_target_new();

	copy->uuid = g_strdup(target->uuid);
	copy->node = g_strdup(target->node);
	copy->path = g_strdup(target->path);
	copy->content = g_strdup(target->content);
	copy->mode = target->mode;
	copy->on_change = g_strdup(target->on_change);
	g_mutex_lock(&f->lock);
	g_hash_table_replace(f->configs, g_strdup(target->uuid), copy);
	f->config_applies++;
	g_mutex_unlock(&f->lock);
	return TRUE;
}

static gboolean
fake_delete_config(ExhInfraBackend *b, const gchar *uuid, GError **error)
{
	FakeBackend *f = (FakeBackend *)b;

	g_mutex_lock(&f->lock);
	g_hash_table_remove(f->configs, uuid);
	g_mutex_unlock(&f->lock);
	return TRUE;
}

static gboolean
fake_get_config_status(ExhInfraBackend *b,
		       const gchar *uuid,
		       ExhInfraStatus *out_status,
		       GError **error)
{
	FakeBackend *f = (FakeBackend *)b;
	gboolean known;

	g_mutex_lock(&f->lock);
	known = g_hash_table_contains(f->configs, uuid);
	g_mutex_unlock(&f->lock);
	*out_status = EXH_INFRA_STATUS_ACTIVE;
	return known;
}

static void
fake_shutdown(ExhInfraBackend *b)
{
}

static void
fake_free(ExhInfraBackend *b)
{
	FakeBackend *f = (FakeBackend *)b;

	g_hash_table_unref(f->sets);
	g_hash_table_unref(f->configs);
	g_mutex_clear(&f->lock);
	g_free(f);
}

static const ExhInfraBackendVTable fake_vtable = {
	.name = "fake",
	.apply_node_set = fake_apply_node_set,
	.delete_node_set = fake_delete_node_set,
	.get_node_set = fake_get_node_set,
	.apply_config = fake_apply_config,
	.delete_config = fake_delete_config,
	.get_config_status = fake_get_config_status,
	.shutdown = fake_shutdown,
	.free = fake_free,
};

static FakeBackend *
fake_new(void)
{
	FakeBackend *f = g_new0(FakeBackend, 1);

	exh_infra_backend_init(&f->base, &fake_vtable);
	g_mutex_init(&f->lock);
	f->sets = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)exh_node_set_target_free);
	f->configs = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)exh_config_target_free);
	return f;
}

static guint
fake_count(FakeBackend *f, guint *counter)
{
	guint n;

	g_mutex_lock(&f->lock);
	n = *counter;
	g_mutex_unlock(&f->lock);
	return n;
}

/* ------------------------------------------------------------------ test */

static void
wait_sql(ExhTest *t, const gchar *sql, const gchar *want)
{
	gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
	g_autofree gchar *got = NULL;

	while (g_get_monotonic_time() < deadline) {
		g_free(got);
		got = exh_test_sql(t, sql);
		if (g_strcmp0(got, want) == 0)
			return;
		g_usleep(20000);
	}
	g_test_message("%s", sql);
	g_assert_cmpstr(got, ==, want);
}

static gchar *
create_instance(ExhTest *t)
{
	g_autofree gchar *version = exh_test_create(
		t,
		EXH_TEST_TOKEN_OPERATOR,
		"/v1/types/mail/versions/",
		"{\"name\": \"exim4_1\", \"image\": \"http://repo.local/mail.raw.zst\"}");
	g_autofree gchar *body =
		g_strdup_printf("{\"name\": \"m1\", \"project_id\": \"" EXH_TEST_PROJECT
				"\", \"domain\": \"example.org\", \"cpu\": 2, \"ram\": 2048, "
				"\"disk_size\": 10, \"version\": \"/v1/types/mail/versions/%s\"}",
				version);

	return exh_test_create(t, EXH_TEST_TOKEN_OWNER, "/v1/types/mail/instances/", body);
}

static void
check_applied(FakeBackend *f, const gchar *instance, gint64 data_disk)
{
	g_autofree gchar *name = g_strconcat("mailaas-dp-", instance, NULL);
	g_autofree gchar *config_name = g_strconcat("config-", NODE, NULL);
	g_autofree gchar *config = exm_uuid_v5(instance, config_name, NULL);
	ExhNodeSetTarget *set;
	ExhConfigTarget *cfg;
	ExhInfraDisk *root;
	ExhInfraDisk *data;

	g_mutex_lock(&f->lock);
	set = g_hash_table_lookup(f->sets, instance);
	g_assert_nonnull(set);
	g_assert_cmpstr(set->name, ==, name);
	g_assert_cmpuint(set->replicas, ==, 1);
	g_assert_cmpuint(set->cores, ==, 2);
	g_assert_cmpuint(set->ram, ==, 2048);
	g_assert_cmpuint(set->disks->len, ==, 2);
	root = set->disks->pdata[0];
	data = set->disks->pdata[1];
	g_assert_cmpint(root->size, ==, 6);
	g_assert_cmpstr(root->image, ==, "http://repo.local/mail.raw.zst");
	g_assert_cmpstr(root->label, ==, "root");
	g_assert_cmpint(data->size, ==, data_disk);
	g_assert_cmpstr(data->label, ==, "data");
	cfg = g_hash_table_lookup(f->configs, config);
	g_assert_nonnull(cfg);
	g_assert_cmpstr(cfg->node, ==, NODE);
	g_assert_cmpstr(cfg->path, ==, "/etc/exordos_metapaas/mail.env");
	g_assert_cmpstr(cfg->content, ==, "MAIL_DOMAIN=example.org\n");
	g_assert_cmpuint(cfg->mode, ==, 0640);
	g_assert_cmpstr(cfg->on_change, ==, "systemctl restart exordos-metapaas-mail-configure");
	g_mutex_unlock(&f->lock);
}

static void
test_backend(void)
{
	FakeBackend *f = fake_new();
	ExhTestOptions options = { .agent_api = TRUE, .backend = &f->base };
	g_autoptr(ExhTest) t = exh_test_new(&options);
	g_autofree gchar *instance = NULL;
	g_autofree gchar *sql = NULL;
	g_autofree gchar *path = NULL;
	guint applies;

	if (t == NULL) {
		exh_infra_backend_free(&f->base);
		return;
	}
	instance = create_instance(t);
	/* the actual set and config come back; the node key is stored */
	sql = g_strdup_printf("SELECT status || ' ' || (value->'nodes'->'" NODE "'->>'ipv4') FROM "
			      "ua_actual_resources WHERE kind = 'node_set' AND uuid = '%s'",
			      instance);
	wait_sql(t, sql, "ACTIVE 127.9.0.7");
	wait_sql(t, "SELECT status FROM ua_actual_resources WHERE kind = 'config'", "ACTIVE");
	wait_sql(t,
		 "SELECT private_key || ' ' || (encryption_disabled_until <= now() AT TIME ZONE "
		 "'utc')::text FROM ua_node_encryption_keys WHERE uuid = '" NODE "'",
		 KEY_B64 " true");
	g_free(sql);
	sql = g_strdup_printf("SELECT array_to_string(ipsv4, ',') || ' ' || status FROM "
			      "mail_instances WHERE uuid = '%s'",
			      instance);
	wait_sql(t, sql, "127.9.0.7 IN_PROGRESS");
	check_applied(f, instance, 10);
	/* nothing changes: nothing is applied again */
	applies = fake_count(f, &f->set_applies) + fake_count(f, &f->config_applies);
	g_usleep(2500 * 1000);
	g_assert_cmpuint(
		fake_count(f, &f->set_applies) + fake_count(f, &f->config_applies), ==, applies);
	/* disk grow: the set is applied again with the new data disk */
	path = g_strdup_printf("/v1/types/mail/instances/%s", instance);
	g_autoptr(ExhTestResponse) u =
		exh_test_request(t, "PUT", path, EXH_TEST_TOKEN_OWNER, "{\"disk_size\": 30}");
	g_assert_cmpuint(u->status, ==, 200);
	g_free(sql);
	sql = g_strdup_printf("SELECT value->'disk_spec'->'disks'->1->>'size' FROM "
			      "ua_actual_resources WHERE kind = 'node_set' AND uuid = '%s'",
			      instance);
	wait_sql(t, sql, "30");
	check_applied(f, instance, 30);
	/* the backend reports the set failed: the instance is in ERROR */
	g_mutex_lock(&f->lock);
	f->failed = TRUE;
	g_mutex_unlock(&f->lock);
	g_free(sql);
	sql = g_strdup_printf("SELECT status FROM mail_instances WHERE uuid = '%s'", instance);
	wait_sql(t, sql, "ERROR");
	g_mutex_lock(&f->lock);
	f->failed = FALSE;
	g_mutex_unlock(&f->lock);
	wait_sql(t, sql, "IN_PROGRESS");
	/* delete: the backend deletes the set, the key and the actual rows go */
	g_autoptr(ExhTestResponse) d =
		exh_test_request(t, "DELETE", path, EXH_TEST_TOKEN_OWNER, NULL);
	g_assert_cmpuint(d->status, ==, 204);
	wait_sql(t, "SELECT count(*) FROM ua_actual_resources", "0");
	wait_sql(t, "SELECT count(*) FROM ua_node_encryption_keys", "0");
	g_assert_cmpuint(fake_count(f, &f->set_deletes), ==, 1);
	g_clear_pointer(&t, exh_test_free);
	exh_infra_backend_free(&f->base);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/ua/backend/engine", test_backend);
	return g_test_run();
}
