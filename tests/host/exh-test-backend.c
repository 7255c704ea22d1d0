/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-test-backend.h"

#include "exh-ua-store.h"
#include "exm-test-pg.h"

static gboolean
tb_apply_node_set(ExhInfraBackend *b, const ExhNodeSetTarget *target, GError **error)
{
	ExhTestBackend *f = (ExhTestBackend *)b;

	g_mutex_lock(&f->lock);
	g_hash_table_replace(f->sets, g_strdup(target->uuid), exh_node_set_target_copy(target));
	f->set_applies++;
	g_mutex_unlock(&f->lock);
	exh_infra_backend_emit_changed(b, target->uuid);
	return TRUE;
}

static gboolean
tb_delete_node_set(ExhInfraBackend *b, const gchar *uuid, GError **error)
{
	ExhTestBackend *f = (ExhTestBackend *)b;

	g_mutex_lock(&f->lock);
	f->set_deletes += g_hash_table_remove(f->sets, uuid);
	g_mutex_unlock(&f->lock);
	return TRUE;
}

static ExhNodeSetActual *
tb_get_node_set(ExhInfraBackend *b, const gchar *uuid, GError **error)
{
	ExhTestBackend *f = (ExhTestBackend *)b;
	ExhNodeSetActual *actual = NULL;
	ExhNodeSetTarget *target;
	ExhInfraNode *node;

	g_mutex_lock(&f->lock);
	f->gets++;
	target = g_hash_table_lookup(f->sets, uuid);
	if (target != NULL) {
		actual = exh_node_set_actual_new();
		actual->uuid = g_strdup(uuid);
		actual->status = f->failed ? EXH_INFRA_STATUS_ERROR : EXH_INFRA_STATUS_ACTIVE;
		actual->target = exh_node_set_target_copy(target);
		node = g_new0(ExhInfraNode, 1);
		node->uuid = g_strdup(EXH_TEST_BACKEND_NODE);
		node->name = g_strdup("n0");
		node->ipv4 = g_strdup("127.9.0.7");
		node->private_key = g_strdup(EXH_TEST_BACKEND_KEY);
		g_ptr_array_add(actual->nodes, node);
	}
	g_mutex_unlock(&f->lock);
	return actual;
}

static gboolean
tb_apply_config(ExhInfraBackend *b, const ExhConfigTarget *target, GError **error)
{
	ExhTestBackend *f = (ExhTestBackend *)b;
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
tb_delete_config(ExhInfraBackend *b, const gchar *uuid, GError **error)
{
	ExhTestBackend *f = (ExhTestBackend *)b;

	g_mutex_lock(&f->lock);
	g_hash_table_remove(f->configs, uuid);
	g_mutex_unlock(&f->lock);
	return TRUE;
}

static gboolean
tb_get_config_status(ExhInfraBackend *b,
		     const gchar *uuid,
		     ExhInfraStatus *out_status,
		     GError **error)
{
	ExhTestBackend *f = (ExhTestBackend *)b;
	gboolean known;

	g_mutex_lock(&f->lock);
	f->gets++;
	known = g_hash_table_contains(f->configs, uuid);
	g_mutex_unlock(&f->lock);
	*out_status = EXH_INFRA_STATUS_ACTIVE;
	return known;
}

static void
tb_shutdown(ExhInfraBackend *b)
{
}

static void
tb_free(ExhInfraBackend *b)
{
	ExhTestBackend *f = (ExhTestBackend *)b;

	g_hash_table_unref(f->sets);
	g_hash_table_unref(f->configs);
	g_mutex_clear(&f->lock);
	g_free(f);
}

static const ExhInfraBackendVTable test_backend_vtable = {
	.name = "test",
	.apply_node_set = tb_apply_node_set,
	.delete_node_set = tb_delete_node_set,
	.get_node_set = tb_get_node_set,
	.apply_config = tb_apply_config,
	.delete_config = tb_delete_config,
	.get_config_status = tb_get_config_status,
	.shutdown = tb_shutdown,
	.free = tb_free,
};

ExhTestBackend *
exh_test_backend_new(void)
{
	ExhTestBackend *f = g_new0(ExhTestBackend, 1);

	exh_infra_backend_init(&f->base, &test_backend_vtable);
	g_mutex_init(&f->lock);
	f->sets = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)exh_node_set_target_free);
	f->configs = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)exh_config_target_free);
	return f;
}

guint
exh_test_backend_count(ExhTestBackend *f, guint *counter)
{
	guint n;

	g_mutex_lock(&f->lock);
	n = *counter;
	g_mutex_unlock(&f->lock);
	return n;
}

void
exh_test_backend_seed(PGconn *db, guint n)
{
	g_autofree gchar *count = g_strdup_printf("%u", n);
	const gchar *params[] = { count };
	PGresult *res = PQexecParams(
		db,
		"WITH s AS (SELECT i, ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid "
		"AS u, ('00000000-0000-4000-9000-' || lpad(i::text, 12, '0'))::uuid AS c FROM "
		"generate_series(1, $1::int) i) INSERT INTO ua_target_resources (uuid, kind, "
		"res_uuid, value, hash) SELECT u, 'node_set', gen_random_uuid(), "
		"jsonb_build_object('uuid', u, 'name', 'set-' || i, 'cores', 1, 'ram', 512, "
		"'disk_spec', jsonb_build_object('kind', 'disks', 'disks', "
		"jsonb_build_array(jsonb_build_object('size', 5, 'label', 'root', 'image', "
		"'http://img/root.raw')))), 'h' || i FROM s UNION ALL SELECT c, 'config', "
		"gen_random_uuid(), jsonb_build_object('uuid', c, 'path', '/etc/c', 'target', "
		"jsonb_build_object('kind', 'node', 'node', '" EXH_TEST_BACKEND_NODE "'), "
		"'body', jsonb_build_object('kind', 'text', 'content', 'v1')), 'h' || i FROM s",
		1,
		NULL,
		params,
		NULL,
		NULL,
		0);

	g_assert_cmpint(PQresultStatus(res), ==, PGRES_COMMAND_OK);
	PQclear(res);
}

ExhBuilder *
exh_test_backend_engine(ExhTestBackend *backend, guint n, gchar **conninfo, PGconn **conn)
{
	ExmTestPg *pg = exm_test_pg_get();
	g_autoptr(GError) error = NULL;
	ExhBuilder *builder;

	if (pg == NULL)
		return NULL;
	*conninfo = exm_test_pg_create_database(pg, &error);
	g_assert_no_error(error);
	*conn = PQconnectdb(*conninfo);
	g_assert_true(exh_ua_store_migrate(*conn, &error));
	g_assert_no_error(error);
	builder = exh_builder_new(*conninfo, &backend->base);
	g_assert_true(exh_builder_prepare(builder, *conn, &error));
	g_assert_no_error(error);
	exh_test_backend_seed(*conn, n);
	return builder;
}
