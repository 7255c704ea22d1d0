/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The local infra backend on its own (tests/host/infra/local/exh-local-backend.h): a
 * NodeSet becomes a sandbox on its own loopback address, a Config is written
 * with its owner and mode and its on_change runs the real
 * exordos-mail-configure, exim4 serves 25/465/587 there and is restarted when
 * it dies, a configure failure is ERROR, scaling and delete remove nodes and
 * their processes, and nothing outlives the backend.  The subnet lock dir
 * refuses planted links, a dir another user owns or may write, and keeps other
 * users from taking a lock.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exh-backend.h"
#include "exh-host.h"
#include "exh-local-backend.h"
#include "exh-local-net.h"
#include "exh-test.h"
#include "exm-test.h"
#include "exm-uuid.h"

#define SET_UUID    "6a1c9a52-3d0e-4d7b-9f43-0c8a1e5b2d71"
#define CONFIG_UUID "0f7e5d1c-2b3a-4958-8675-a4b3c2d1e0f9"
#define EXTRA_UUID  "1e2d3c4b-5a69-4788-9766-b5c4d3e2f1a0"
#define WAIT_S	    60

typedef struct {
	gchar *state_dir;
	ExhInfraBackend *backend;
	gboolean break_keys;
} Fixture;

/* Every test needs root (exim on 25/465/587 with -C) and exim4 itself. */
static gboolean
have_peers(void)
{
	return exm_test_need_root_and("the local backend's exim", "exim4");
}

/* configure fails when its DKIM key directory is a file */
static void
break_key_dir(const gchar *node_uuid, const gchar *root, gpointer data)
{
	Fixture *fx = data;

	(void)node_uuid;
	if (fx->break_keys)
		exm_test_break_dkim_dir(root);
}

static void
fixture_setup(Fixture *fx, gconstpointer data)
{
	g_autoptr(ExhLocalConfig) config = exh_local_config_new();
	g_autoptr(GError) error = NULL;

	fx->state_dir = exm_test_mkdtemp("exh-local");
	config->state_dir = g_strdup(fx->state_dir);
	config->node_descriptor = exh_test_node_descriptor_path();
	/* @data: a port base (the non-root layout), or NULL for 25/465/587 */
	config->port_base = GPOINTER_TO_UINT(data);
	/* the agent's own tests live elsewhere; here it only has to be supervised */
	config->orch_endpoint = g_strdup("http://127.0.0.1:9");
	config->status_endpoint = g_strdup("http://127.0.0.1:9");
	config->stop_timeout_ms = 3000;
	config->pre_configure = break_key_dir;
	config->pre_configure_data = fx;
	/* run against another build's configure (debugging aid) */
	exh_local_config_set(config, "configure", g_getenv("EXH_LOCAL_CONFIGURE"));
	fx->backend = exh_local_backend_new(config, &error);
	g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *fx, gconstpointer data)
{
	(void)data;
	g_clear_pointer(&fx->backend, exh_infra_backend_free);
	g_assert_cmpuint(exm_test_count_processes(fx->state_dir), ==, 0);
	exm_test_rmtree(fx->state_dir);
	g_free(fx->state_dir);
}

static ExhNodeSetTarget *
make_set(guint replicas, gint64 data_disk)
{
	ExhNodeSetTarget *t = exh_node_set_target_new();
	ExhInfraDisk *root = g_new0(ExhInfraDisk, 1), *disk = g_new0(ExhInfraDisk, 1);

	t->uuid = g_strdup(SET_UUID);
	t->name = g_strdup("mailaas-dp-" SET_UUID);
	t->project_id = g_strdup("4d657461-0000-0000-0000-000000000002");
	t->replicas = replicas;
	t->cores = 1;
	t->ram = 1024;
	root->size = 6;
	root->label = g_strdup("root");
	root->image = g_strdup("http://repo/exordos-metapaas-mail-dp.raw");
	disk->size = data_disk;
	disk->label = g_strdup("data");
	g_ptr_array_add(t->disks, root);
	g_ptr_array_add(t->disks, disk);
	return t;
}

static ExhConfigTarget *
make_mail_env(const gchar *node, const gchar *domain)
{
	ExhConfigTarget *t = exh_config_target_new();

	t->uuid = g_strdup(CONFIG_UUID);
	t->node = g_strdup(node);
	t->path = g_strdup("/etc/exordos_metapaas/mail.env");
	t->content = g_strdup_printf("MAIL_DOMAIN=%s\n", domain);
	t->mode = 0640;
	t->on_change = g_strdup("systemctl restart exordos-metapaas-mail-configure");
	return t;
}

static ExhNodeSetActual *
get_set(Fixture *fx)
{
	g_autoptr(GError) error = NULL;
	ExhNodeSetActual *actual = exh_infra_backend_get_node_set(fx->backend, SET_UUID, &error);

	g_assert_no_error(error);
	return actual;
}

/* Waits (bounded, not a timing assertion) until the set has @status. */
static gboolean
wait_status(Fixture *fx, ExhInfraStatus status)
{
	for (guint i = 0; i < WAIT_S * 10; i++) {
		g_autoptr(ExhNodeSetActual) actual = get_set(fx);

		if (actual != NULL && actual->status == status)
			return TRUE;
		g_usleep(100 * 1000);
	}
	return FALSE;
}

static gchar *
first_node(Fixture *fx)
{
	g_autoptr(ExhNodeSetActual) actual = get_set(fx);

	g_assert_nonnull(actual);
	g_assert_cmpuint(actual->nodes->len, >=, 1);
	return g_strdup(((ExhInfraNode *)g_ptr_array_index(actual->nodes, 0))->uuid);
}

static ExhLocalNodeInfo *
node_info(Fixture *fx, const gchar *uuid)
{
	ExhLocalNodeInfo *info = exh_local_backend_get_node_info(fx->backend, uuid);

	g_assert_nonnull(info);
	return info;
}

static gboolean
listening(const ExhLocalNodeInfo *info)
{
	return exh_local_net_can_connect(info->ipv4, exh_local_node_info_port(info, "smtp")) &&
	       exh_local_net_can_connect(info->ipv4, exh_local_node_info_port(info, "smtps")) &&
	       exh_local_net_can_connect(info->ipv4, exh_local_node_info_port(info, "submission"));
}

/* The node's exim answers an SMTP greeting on @port (plain sockets: no GIO
 * proxy machinery in this binary). */
static gboolean
smtp_greets(const gchar *addr, guint port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((guint16)port) };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	gchar buf[4] = { 0 };
	gboolean ok;

	if (fd < 0)
		return FALSE;
	inet_pton(AF_INET, addr, &sa.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	     recv(fd, buf, 3, MSG_WAITALL) == 3 && memcmp(buf, "220", 3) == 0;
	close(fd);
	return ok;
}

static void
assert_file(const gchar *path, guint mode, uid_t uid, gid_t gid)
{
	struct stat st;

	g_assert_cmpint(g_stat(path, &st), ==, 0);
	g_assert_cmpuint(st.st_mode & 07777, ==, mode);
	g_assert_cmpuint(st.st_uid, ==, uid);
	g_assert_cmpuint(st.st_gid, ==, gid);
}

static void
test_json(void)
{
	const gchar *set_json =
		"{\"uuid\":\"" SET_UUID "\",\"name\":\"s\",\"replicas\":2,\"cores\":2,\"ram\":2048,"
		"\"project_id\":\"p\",\"disk_spec\":{\"kind\":\"disks\",\"disks\":[{\"size\":6,"
		"\"image\":\"img\",\"label\":\"root\"},{\"size\":10,\"label\":\"data\"}]}}";
	const gchar *cfg_json =
		"{\"uuid\":\"" CONFIG_UUID "\",\"path\":\"/etc/exordos_metapaas/mail.env\","
		"\"target\":{\"kind\":\"node\",\"node\":\"" SET_UUID "\"},"
		"\"body\":{\"kind\":\"text\",\"content\":\"MAIL_DOMAIN=a.b\\n\"},"
		"\"on_change\":{\"kind\":\"shell\",\"command\":\"systemctl restart x\"},"
		"\"mode\":\"0640\",\"owner\":\"root\",\"group\":\"root\"}";
	g_autoptr(JsonNode) set_node = json_from_string(set_json, NULL);
	g_autoptr(JsonNode) cfg_node = json_from_string(cfg_json, NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExhNodeSetTarget) set = NULL;
	g_autoptr(ExhConfigTarget) cfg = NULL;
	g_autoptr(ExhNodeSetActual) actual = exh_node_set_actual_new();
	g_autoptr(JsonNode) out = NULL;
	g_autofree gchar *text = NULL;

	set = exh_node_set_target_from_json(json_node_get_object(set_node), &error);
	EXM_TEST_OK(error);
	g_assert_cmpuint(set->replicas, ==, 2);
	g_assert_cmpuint(set->disks->len, ==, 2);
	g_assert_cmpint(((ExhInfraDisk *)g_ptr_array_index(set->disks, 1))->size, ==, 10);
	cfg = exh_config_target_from_json(json_node_get_object(cfg_node), &error);
	EXM_TEST_OK(error);
	g_assert_cmpuint(cfg->mode, ==, 0640);
	g_assert_cmpstr(cfg->on_change, ==, "systemctl restart x");
	g_assert_cmpstr(cfg->content, ==, "MAIL_DOMAIN=a.b\n");

	actual->uuid = g_strdup(SET_UUID);
	actual->target = exh_node_set_target_copy(set);
	actual->status = EXH_INFRA_STATUS_ACTIVE;
	out = exh_node_set_actual_to_json(actual);
	text = json_to_string(out, FALSE);
	g_assert_nonnull(strstr(text, "\"status\":\"ACTIVE\""));
	g_assert_nonnull(strstr(text, "\"kind\":\"disks\""));
}

static void
test_json_refused(void)
{
	const gchar *bad[] = {
		/* no root image */
		"{\"uuid\":\"" SET_UUID
		"\",\"disk_spec\":{\"kind\":\"disks\",\"disks\":[{\"size\":6}]}}",
		/* duplicate labels */
		"{\"uuid\":\"" SET_UUID
		"\",\"disk_spec\":{\"kind\":\"disks\",\"disks\":[{\"size\":6,"
		"\"image\":\"i\"},{\"size\":1,\"label\":\"d\"},{\"size\":1,\"label\":\"d\"}]}}",
		/* replicas out of range */
		"{\"uuid\":\"" SET_UUID
		"\",\"replicas\":5000,\"disk_spec\":{\"kind\":\"root_disk\","
		"\"image\":\"i\",\"size\":6}}",
		"{\"uuid\":\"nope\",\"disk_spec\":{\"kind\":\"root_disk\",\"image\":\"i\",\"size\":"
		"6}}",
	};
	const gchar *bad_cfg[] = {
		"{\"uuid\":\"" CONFIG_UUID
		"\",\"path\":\"/etc/../x\",\"target\":{\"kind\":\"node\","
		"\"node\":\"" SET_UUID "\"},\"body\":{\"kind\":\"text\",\"content\":\"\"}}",
		"{\"uuid\":\"" CONFIG_UUID
		"\",\"path\":\"/x\",\"mode\":\"0999\",\"target\":{\"kind\":"
		"\"node\",\"node\":\"" SET_UUID
		"\"},\"body\":{\"kind\":\"text\",\"content\":\"\"}}",
		"{\"uuid\":\"" CONFIG_UUID
		"\",\"path\":\"/x\",\"target\":{\"kind\":\"node\",\"node\":\"" SET_UUID
		"\"},\"body\":{\"kind\":\"template\",\"template\":\"\"}}",
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(JsonNode) node = json_from_string(bad[i], NULL);
		g_autoptr(GError) error = NULL;
		g_autoptr(ExhNodeSetTarget) t =
			exh_node_set_target_from_json(json_node_get_object(node), &error);

		g_assert_null(t);
		g_assert_error(error, EXH_ERROR, EXH_ERROR_CONFIG);
	}
	for (guint i = 0; i < G_N_ELEMENTS(bad_cfg); i++) {
		g_autoptr(JsonNode) node = json_from_string(bad_cfg[i], NULL);
		g_autoptr(GError) error = NULL;
		g_autoptr(ExhConfigTarget) t =
			exh_config_target_from_json(json_node_get_object(node), &error);

		g_assert_null(t);
		g_assert_error(error, EXH_ERROR, EXH_ERROR_CONFIG);
	}
}

static void
test_config_key_file(void)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GKeyFile) bad = g_key_file_new();
	g_autoptr(GKeyFile) none = g_key_file_new();
	g_autoptr(ExhLocalConfig) c = exh_local_config_new();
	g_autoptr(GError) error = NULL;

	g_assert_true(g_key_file_load_from_data(kf,
						"[local]\nstate_dir=/tmp/x\nsubnet=42\n"
						"port_base=2500\nenvelope=false\nagent=\n"
						"stop_timeout_ms=100\n",
						-1,
						G_KEY_FILE_NONE,
						NULL));
	g_assert_true(exh_local_config_load_key_file(c, kf, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(c->state_dir, ==, "/tmp/x");
	g_assert_cmpuint(c->subnet, ==, 42);
	g_assert_cmpuint(c->port_base, ==, 2500);
	g_assert_false(c->envelope);
	g_assert_cmpstr(exh_local_config_get(c, "agent"), ==, "");
	g_assert_cmpuint(c->stop_timeout_ms, ==, 100);

	g_assert_true(
		g_key_file_load_from_data(bad, "[local]\nsubnet=300\n", -1, G_KEY_FILE_NONE, NULL));
	g_assert_false(exh_local_config_load_key_file(c, bad, &error));
	g_assert_error(error, EXH_ERROR, EXH_ERROR_CONFIG);
	g_clear_error(&error);
	/* no [local] group: no backend, no error */
	g_assert_null(exh_local_backend_new_from_key_file(none, &error));
	g_assert_no_error(error);
}

static void
test_subnet_lease(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("exh-lock");
	g_autoptr(GError) error = NULL;
	ExhLocalNet *a = exh_local_net_lease(dir, 0, NULL, &error);
	ExhLocalNet *b = NULL, *c = NULL;
	g_autofree gchar *addr = NULL;

	g_assert_no_error(error);
	b = exh_local_net_lease(dir, 0, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(exh_local_net_get_subnet(a), !=, exh_local_net_get_subnet(b));
	/* the same K is refused while leased, free again once released */
	c = exh_local_net_lease(dir, exh_local_net_get_subnet(a), NULL, &error);
	g_assert_null(c);
	g_assert_error(error, EXH_ERROR, EXH_ERROR_CONFIG);
	g_clear_error(&error);
	addr = exh_local_net_address(a, 7);
	g_assert_true(g_str_has_prefix(addr, "127."));
	g_assert_true(g_str_has_suffix(addr, ".0.7"));
	{
		guint k = exh_local_net_get_subnet(b);

		exh_local_net_release(b);
		c = exh_local_net_lease(dir, k, NULL, &error);
		g_assert_no_error(error);
		g_assert_nonnull(c);
		exh_local_net_release(c);
	}
	exh_local_net_release(a);
	exm_test_rmtree(dir);
}

/* A node port held on a subnet's second address by a process outside the
 * lock protocol (an exim a killed test left behind): that subnet is not
 * leased, another one is. */
static void
test_subnet_port_held(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("exh-lock");
	g_autoptr(GError) error = NULL;
	g_autoptr(GArray) ports = g_array_new(FALSE, FALSE, sizeof(guint));
	guint free_port = (guint)exm_test_free_port();
	guint held_port = (guint)exm_test_free_port();
	ExhLocalNet *probe = exh_local_net_lease(dir, 0, NULL, &error);
	guint k = exh_local_net_get_subnet(probe);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((guint16)held_port) };
	g_autofree gchar *addr = g_strdup_printf("127.%u.0.2", k);
	int holder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ExhLocalNet *net;

	g_assert_no_error(error);
	exh_local_net_release(probe);
	g_array_append_val(ports, free_port);
	g_array_append_val(ports, held_port);
	g_assert_cmpint(inet_pton(AF_INET, addr, &sa.sin_addr), ==, 1);
	g_assert_cmpint(bind(holder, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	g_assert_cmpint(listen(holder, 1), ==, 0);
	net = exh_local_net_lease(dir, k, ports, &error);
	g_assert_null(net);
	g_assert_error(error, EXH_ERROR, EXH_ERROR_CONFIG);
	g_clear_error(&error);
	net = exh_local_net_lease(dir, 0, ports, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(exh_local_net_get_subnet(net), !=, k);
	exh_local_net_release(net);
	close(holder);
	/* released by its holder: leased again */
	net = exh_local_net_lease(dir, k, ports, &error);
	g_assert_no_error(error);
	exh_local_net_release(net);
	exm_test_rmtree(dir);
}

/* A lease in @dir is refused with a config error. */
static void
assert_lease_refused(const gchar *dir, guint subnet)
{
	g_autoptr(GError) error = NULL;
	ExhLocalNet *net = exh_local_net_lease(dir, subnet, NULL, &error);

	if (net != NULL)
		exh_local_net_release(net);
	g_assert_null(net);
	g_assert_error(error, EXH_ERROR, EXH_ERROR_CONFIG);
	if (error != NULL)
		g_test_message("refused: %s", error->message);
}

/* A link planted at a lock path is refused; root creates nothing through it
 * and leaves an existing target as it was. */
static void
test_lock_symlink(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("exh-lock");
	g_autofree gchar *victim = exm_test_mkdtemp("exh-victim");
	g_autofree gchar *kept = g_build_filename(victim, "kept", NULL);
	g_autofree gchar *content = NULL;
	struct stat before, after;

	g_assert_true(g_file_set_contents(kept, "keep", -1, NULL));
	g_assert_cmpint(chmod(kept, 0600), ==, 0);
	g_assert_cmpint(stat(kept, &before), ==, 0);
	for (guint k = EXH_LOCAL_SUBNET_MIN; k <= EXH_LOCAL_SUBNET_MAX; k++) {
		g_autofree gchar *name = g_strdup_printf("%s/127.%u.lock", dir, k);
		g_autofree gchar *target = g_strdup_printf("%s/created-%u", victim, k);

		g_assert_cmpint(symlink(k == EXH_LOCAL_SUBNET_MIN ? kept : target, name), ==, 0);
	}
	assert_lease_refused(dir, EXH_LOCAL_SUBNET_MIN);
	assert_lease_refused(dir, EXH_LOCAL_SUBNET_MIN + 1);
	assert_lease_refused(dir, 0);
	for (guint k = EXH_LOCAL_SUBNET_MIN + 1; k <= EXH_LOCAL_SUBNET_MAX; k++) {
		g_autofree gchar *target = g_strdup_printf("%s/created-%u", victim, k);

		g_assert_false(g_file_test(target, G_FILE_TEST_EXISTS));
	}
	g_assert_true(g_file_get_contents(kept, &content, NULL, NULL));
	g_assert_cmpstr(content, ==, "keep");
	g_assert_cmpint(stat(kept, &after), ==, 0);
	g_assert_cmpuint(after.st_mode, ==, before.st_mode);
	g_assert_cmpuint(after.st_uid, ==, before.st_uid);
	exm_test_rmtree(dir);
	exm_test_rmtree(victim);
}

/* A lock dir another user owns, that others may write, or that is a link is
 * refused, and nothing is created in it. */
static void
test_lock_dir_refused(void)
{
	g_autofree gchar *base = exm_test_mkdtemp("exh-lockdir");
	g_autofree gchar *dir = g_build_filename(base, "locks", NULL);
	g_autofree gchar *link = g_build_filename(base, "link", NULL);
	g_autofree gchar *lock = g_build_filename(dir, "127.16.lock", NULL);
	const guint modes[] = { 0770, 0777, 01777, 0722 };

	g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(modes); i++) {
		g_assert_cmpint(chmod(dir, modes[i]), ==, 0);
		assert_lease_refused(dir, 16);
		g_assert_false(g_file_test(lock, G_FILE_TEST_EXISTS));
	}
	g_assert_cmpint(chmod(dir, 0700), ==, 0);
	g_assert_cmpint(symlink(dir, link), ==, 0);
	assert_lease_refused(link, 16);
	g_assert_false(g_file_test(lock, G_FILE_TEST_EXISTS));
	if (geteuid() == 0) {
		g_assert_cmpint(chown(dir, 65534, 65534), ==, 0);
		assert_lease_refused(dir, 16);
		g_assert_false(g_file_test(lock, G_FILE_TEST_EXISTS));
	}
	exm_test_rmtree(base);
}

/* The default lock dir: no ancestor another user may write (where they could
 * create it first), and another user can neither take a released lock nor
 * create a new one, so nobody can lock the backend out. */
static void
test_lock_default_private(void)
{
	g_autofree gchar *dir = exh_local_net_default_lock_dir();
	g_autoptr(GError) error = NULL;
	ExhLocalNet *net = NULL;
	g_autofree gchar *taken = NULL;
	g_autofree gchar *fresh = NULL;

	if (!exm_test_need_root_and("another user's attempt on the lock dir", "setpriv") ||
	    !exm_test_need_root_and("another user's attempt on the lock dir", "flock"))
		return;
	for (g_autofree gchar *p = g_path_get_dirname(dir); strcmp(p, "/") != 0;) {
		struct stat st;
		gchar *up = g_path_get_dirname(p);

		g_assert_cmpint(lstat(p, &st), ==, 0);
		g_test_message("%s: mode %04o", p, (guint)(st.st_mode & 07777));
		g_assert_cmpuint(st.st_mode & (S_IWGRP | S_IWOTH), ==, 0);
		g_free(p);
		p = up;
	}
	net = exh_local_net_lease(NULL, 0, NULL, &error);
	g_assert_no_error(error);
	taken = g_strdup_printf("%s/127.%u.lock", dir, exh_local_net_get_subnet(net));
	exh_local_net_release(net);
	fresh = g_strdup_printf("%s/127.999.lock", dir);
	for (guint i = 0; i < 2; i++) {
		const gchar *argv[] = { "setpriv",
					"--reuid=65534",
					"--regid=65534",
					"--clear-groups",
					"flock",
					"-n",
					"-x",
					i == 0 ? taken : fresh,
					"true",
					NULL };

		g_assert_cmpint(exm_test_run(argv, NULL, NULL), !=, 0);
	}
	g_assert_false(g_file_test(fresh, G_FILE_TEST_EXISTS));
}

/* NodeSet → sandbox + address; Config → file + configure → exim up → ACTIVE. */
static void
bring_up(Fixture *fx, gchar **out_node)
{
	g_autoptr(ExhNodeSetTarget) set = make_set(1, 10);
	g_autoptr(ExhConfigTarget) env = NULL;
	g_autoptr(ExhNodeSetActual) actual = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *node = NULL;
	g_autofree gchar *expect = NULL;

	exh_infra_backend_apply_node_set(fx->backend, set, &error);
	EXM_TEST_OK(error);
	actual = get_set(fx);
	g_assert_nonnull(actual);
	g_assert_cmpint(actual->status, ==, EXH_INFRA_STATUS_IN_PROGRESS);
	g_assert_cmpuint(actual->nodes->len, ==, 1);
	expect = g_strdup_printf("127.%u.0.", exh_local_backend_get_subnet(fx->backend));
	g_assert_true(g_str_has_prefix(((ExhInfraNode *)actual->nodes->pdata[0])->ipv4, expect));
	g_assert_cmpuint(strlen(((ExhInfraNode *)actual->nodes->pdata[0])->private_key), ==, 44);
	node = first_node(fx);
	env = make_mail_env(node, "example.com");
	exh_infra_backend_apply_config(fx->backend, env, &error);
	EXM_TEST_OK(error);
	g_assert_true(wait_status(fx, EXH_INFRA_STATUS_ACTIVE));
	*out_node = g_steal_pointer(&node);
}

/* bring_up and the node's info; NULL (nothing to test) when a peer is missing. */
static ExhLocalNodeInfo *
bring_up_info(Fixture *fx, gchar **out_node)
{
	if (!have_peers())
		return NULL;
	bring_up(fx, out_node);
	if (*out_node == NULL)
		return NULL;
	return node_info(fx, *out_node);
}

static void
test_node_lifecycle(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *node = NULL;
	g_autoptr(ExhLocalNodeInfo) info = NULL;
	g_autoptr(ExhConfigTarget) env = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *mail_env = NULL;
	g_autofree gchar *ini = NULL;
	g_autofree gchar *ini_path = NULL;
	ExhInfraStatus status;
	struct stat st;

	(void)data;
	info = bring_up_info(fx, &node);
	if (info == NULL)
		return;
	/* the sandbox: traversable by Debian-exim, the Config with its owner and mode */
	g_assert_cmpint(g_stat(info->dir, &st), ==, 0);
	g_assert_cmpuint(st.st_mode & 0777, ==, 0755);
	mail_env = g_build_filename(info->root, "etc/exordos_metapaas/mail.env", NULL);
	assert_file(mail_env, 0640, 0, 0);
	ini_path = g_build_filename(info->dir, "node.ini", NULL);
	ini = exm_test_read_file(ini_path);
	g_assert_nonnull(strstr(ini, node));
	g_assert_nonnull(strstr(ini, "long_poll=true"));
	g_assert_true(
		exh_infra_backend_get_config_status(fx->backend, CONFIG_UUID, &status, &error));
	g_assert_cmpint(status, ==, EXH_INFRA_STATUS_ACTIVE);
	g_assert_cmpuint(info->job_runs, ==, 1);
	g_assert_cmpint(info->service_pid, >, 0);
	g_assert_true(listening(info));
	g_assert_true(smtp_greets(info->ipv4, exh_local_node_info_port(info, "smtp")));
	g_assert_true(smtp_greets(info->ipv4, exh_local_node_info_port(info, "submission")));

	/* the same Config again: nothing written, configure not run */
	env = make_mail_env(node, "example.com");
	g_assert_true(exh_infra_backend_apply_config(fx->backend, env, &error));
	g_clear_pointer(&info, exh_local_node_info_free);
	info = node_info(fx, node);
	g_assert_cmpuint(info->job_runs, ==, 1);
	g_assert_cmpuint(info->service_starts, ==, 1);

	/* delete: processes stopped, sandbox removed */
	g_assert_true(exh_infra_backend_delete_node_set(fx->backend, SET_UUID, &error));
	g_assert_no_error(error);
	g_assert_cmpint(kill(info->service_pid, 0), !=, 0);
	g_assert_false(g_file_test(info->dir, G_FILE_TEST_EXISTS));
	g_assert_null(get_set(fx));
	g_assert_cmpuint(exm_test_count_processes(fx->state_dir), ==, 0);
	g_assert_false(
		exh_infra_backend_get_config_status(fx->backend, CONFIG_UUID, &status, &error));
	g_assert_no_error(error);
}

/* Anything but the mapped systemctl commands, a path out of the root or an
 * unknown node is refused, and nothing is written. */
static void
assert_refused(Fixture *fx, const gchar *node, const gchar *root)
{
	g_autoptr(ExhConfigTarget) evil = exh_config_target_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = g_build_filename(root, "etc/evil", NULL);

	evil->uuid = g_strdup(EXTRA_UUID);
	evil->node = g_strdup(node);
	evil->path = g_strdup("/etc/evil");
	evil->content = g_strdup("x");
	evil->on_change = g_strdup("touch /tmp/pwned; systemctl restart exim4");
	g_assert_false(exh_infra_backend_apply_config(fx->backend, evil, &error));
	g_assert_error(error, EXH_ERROR, EXH_ERROR_CONFIG);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	g_clear_error(&error);
	g_free(evil->on_change);
	evil->on_change = NULL;
	g_free(evil->path);
	evil->path = g_strdup("/etc/../../escape");
	g_assert_false(exh_infra_backend_apply_config(fx->backend, evil, &error));
	g_clear_error(&error);
	g_free(evil->node);
	evil->node = g_strdup(CONFIG_UUID);
	g_assert_false(exh_infra_backend_apply_config(fx->backend, evil, &error));
	g_assert_nonnull(error);
}

/* A Config owned by another user, with an exim restart as on_change. */
static void
test_config_owner_mode(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *node = NULL;
	g_autoptr(ExhLocalNodeInfo) info = NULL;
	g_autoptr(ExhConfigTarget) extra = exh_config_target_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;
	struct passwd *pw = getpwnam("Debian-exim");
	GPid exim_pid;

	(void)data;
	info = bring_up_info(fx, &node);
	if (info == NULL)
		return;
	exim_pid = info->service_pid;
	extra->uuid = g_strdup(EXTRA_UUID);
	extra->node = g_strdup(node);
	extra->path = g_strdup("/etc/exim4/extra.conf");
	extra->content = g_strdup("x\n");
	extra->mode = 0604;
	g_free(extra->owner);
	extra->owner = g_strdup("Debian-exim");
	g_free(extra->group);
	extra->group = g_strdup("Debian-exim");
	extra->on_change = g_strdup("systemctl restart exim4");
	g_assert_true(exh_infra_backend_apply_config(fx->backend, extra, &error));
	g_assert_no_error(error);
	path = g_build_filename(info->root, "etc/exim4/extra.conf", NULL);
	g_assert_nonnull(pw);
	assert_file(path, 0604, pw->pw_uid, pw->pw_gid);

	/* exim was restarted (a new process) and serves again; configure did not run */
	for (guint i = 0; i < WAIT_S * 10; i++) {
		g_clear_pointer(&info, exh_local_node_info_free);
		info = node_info(fx, node);
		if (info->service_starts == 2 && info->status == EXH_INFRA_STATUS_ACTIVE)
			break;
		g_usleep(100 * 1000);
	}
	g_assert_cmpuint(info->service_starts, ==, 2);
	g_assert_cmpint(info->service_pid, !=, exim_pid);
	g_assert_cmpint(kill(exim_pid, 0), !=, 0);
	g_assert_cmpuint(info->job_runs, ==, 1);
	for (guint i = 0;
	     i < 100 && !smtp_greets(info->ipv4, exh_local_node_info_port(info, "smtp"));
	     i++)
		g_usleep(100 * 1000);
	g_assert_true(smtp_greets(info->ipv4, exh_local_node_info_port(info, "smtp")));

	assert_refused(fx, node, info->root);
}

static void
test_exim_restarted(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *node = NULL;
	g_autoptr(ExhLocalNodeInfo) before = NULL;
	g_autoptr(ExhLocalNodeInfo) after = NULL;

	(void)data;
	before = bring_up_info(fx, &node);
	if (before == NULL)
		return;
	g_assert_cmpint(kill(before->service_pid, SIGKILL), ==, 0);
	for (guint i = 0; i < WAIT_S * 10; i++) {
		g_clear_pointer(&after, exh_local_node_info_free);
		after = node_info(fx, node);
		if (after->service_starts >= 2 && after->status == EXH_INFRA_STATUS_ACTIVE)
			break;
		g_usleep(100 * 1000);
	}
	g_assert_cmpuint(after->service_starts, ==, 2);
	g_assert_cmpint(after->service_pid, !=, before->service_pid);
	g_assert_cmpint(after->status, ==, EXH_INFRA_STATUS_ACTIVE);
	g_assert_true(listening(after));
	/* the agent is a supervised child as well; it can be held down and resumed */
	g_assert_cmpuint(after->agent_starts, >=, 1);
	g_assert_true(exh_local_backend_set_agent_running(fx->backend, node, FALSE));
	g_clear_pointer(&after, exh_local_node_info_free);
	after = node_info(fx, node);
	for (guint i = 0; i < 50 && after->agent_pid != 0; i++) {
		g_usleep(100 * 1000);
		g_clear_pointer(&after, exh_local_node_info_free);
		after = node_info(fx, node);
	}
	g_assert_cmpint(after->agent_pid, ==, 0);
	g_assert_true(exh_local_backend_set_agent_running(fx->backend, node, TRUE));
	{
		guint starts = after->agent_starts;

		g_clear_pointer(&after, exh_local_node_info_free);
		after = node_info(fx, node);
		g_assert_cmpuint(after->agent_starts, ==, starts + 1);
	}
}

static void
test_configure_failure(Fixture *fx, gconstpointer data)
{
	g_autoptr(ExhNodeSetTarget) set = make_set(1, 10);
	g_autoptr(ExhConfigTarget) env = NULL;
	g_autoptr(ExhNodeSetActual) actual = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *node = NULL;
	ExhInfraStatus status;

	(void)data;
	if (!have_peers())
		return;
	fx->break_keys = TRUE;
	exh_infra_backend_apply_node_set(fx->backend, set, &error);
	EXM_TEST_OK(error);
	node = first_node(fx);
	env = make_mail_env(node, "example.com");
	exh_infra_backend_apply_config(fx->backend, env, &error);
	EXM_TEST_OK(error);
	g_assert_true(wait_status(fx, EXH_INFRA_STATUS_ERROR));
	actual = get_set(fx);
	g_assert_nonnull(actual->error);
	g_assert_nonnull(strstr(actual->error, "configure failed"));
	g_assert_true(
		exh_infra_backend_get_config_status(fx->backend, CONFIG_UUID, &status, &error));
	g_assert_cmpint(status, ==, EXH_INFRA_STATUS_ERROR);

	/* repaired and changed: configure runs again and the set recovers */
	fx->break_keys = FALSE;
	{
		g_autoptr(ExhLocalNodeInfo) info = node_info(fx, node);
		g_autofree gchar *dkim =
			g_build_filename(info->root, "persist/exordos_mail/dkim", NULL);

		g_unlink(dkim);
	}
	g_clear_pointer(&env, exh_config_target_free);
	env = make_mail_env(node, "example.org");
	exh_infra_backend_apply_config(fx->backend, env, &error);
	EXM_TEST_OK(error);
	g_assert_true(wait_status(fx, EXH_INFRA_STATUS_ACTIVE));
}

static void
test_scale(Fixture *fx, gconstpointer data)
{
	g_autoptr(ExhNodeSetTarget) two = make_set(2, 10);
	g_autoptr(ExhNodeSetTarget) one = make_set(1, 20);
	g_autoptr(ExhNodeSetActual) actual = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(ExhLocalNodeInfo) second = NULL;
	const gchar *ip0, *ip1;

	(void)data;
	if (!have_peers())
		return;
	g_assert_true(exh_infra_backend_apply_node_set(fx->backend, two, &error));
	EXM_TEST_OK(error);
	actual = get_set(fx);
	g_assert_cmpuint(actual->nodes->len, ==, 2);
	ip0 = ((ExhInfraNode *)actual->nodes->pdata[0])->ipv4;
	ip1 = ((ExhInfraNode *)actual->nodes->pdata[1])->ipv4;
	g_assert_cmpstr(ip0, !=, ip1);
	second = node_info(fx, ((ExhInfraNode *)actual->nodes->pdata[1])->uuid);
	g_assert_true(g_file_test(second->dir, G_FILE_TEST_IS_DIR));

	/* scale down and grow the data disk: the target reaches the actual set */
	g_assert_true(exh_infra_backend_apply_node_set(fx->backend, one, &error));
	g_clear_pointer(&actual, exh_node_set_actual_free);
	actual = get_set(fx);
	g_assert_cmpuint(actual->nodes->len, ==, 1);
	g_assert_cmpint(((ExhInfraDisk *)actual->target->disks->pdata[1])->size, ==, 20);
	for (guint i = 0; i < 100 && g_file_test(second->dir, G_FILE_TEST_EXISTS); i++)
		g_usleep(100 * 1000);
	g_assert_false(g_file_test(second->dir, G_FILE_TEST_EXISTS));
	g_assert_null(exh_local_backend_get_node_info(fx->backend, second->uuid));
	/* unknown sets: delete succeeds, get reports nothing */
	g_assert_true(exh_infra_backend_delete_node_set(fx->backend, CONFIG_UUID, &error));
	g_assert_null(exh_infra_backend_get_node_set(fx->backend, CONFIG_UUID, &error));
	g_assert_no_error(error);
}

/* With a port base exim serves base, +1 (implicit TLS), +2 and nothing on 25. */
static void
test_port_base(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *node = NULL;
	g_autoptr(ExhLocalNodeInfo) info = NULL;

	(void)data;
	info = bring_up_info(fx, &node);
	if (info == NULL)
		return;
	g_assert_cmpuint(exh_local_node_info_port(info, "smtp"), ==, 2525);
	g_assert_cmpuint(exh_local_node_info_port(info, "smtps"), ==, 2526);
	g_assert_cmpuint(exh_local_node_info_port(info, "submission"), ==, 2527);
	g_assert_true(smtp_greets(info->ipv4, 2525));
	g_assert_true(smtp_greets(info->ipv4, 2527));
	g_assert_true(exh_local_net_can_connect(info->ipv4, 2526));
	g_assert_false(exh_local_net_can_connect(info->ipv4, 25));
}

static void
own_group(gpointer data)
{
	(void)data;
	setpgid(0, 0);
}

/* Shutdown stops every child and keeps the sandbox; a new backend adopts it. */
static void
test_shutdown_adopt(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *node = NULL;
	g_autoptr(ExhLocalNodeInfo) info = NULL;
	g_autoptr(ExhLocalConfig) config = exh_local_config_new();
	g_autoptr(ExhNodeSetTarget) set = make_set(1, 10);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *key = NULL;
	g_autofree gchar *key2 = NULL;
	g_autofree gchar *key_path = NULL;
	g_autofree gchar *conf = NULL;
	GPid stale = 0;

	(void)data;
	info = bring_up_info(fx, &node);
	if (info == NULL)
		return;
	key_path = g_build_filename(info->root, "persist/exordos_mail/dkim/platform.private", NULL);
	key = exm_test_read_file(key_path);
	exh_infra_backend_shutdown(fx->backend);
	g_assert_cmpuint(exm_test_count_processes(fx->state_dir), ==, 0);
	g_assert_cmpint(kill(info->service_pid, 0), !=, 0);
	g_assert_true(g_file_test(info->root, G_FILE_TEST_IS_DIR));
	g_assert_false(exh_infra_backend_apply_node_set(fx->backend, set, &error));
	g_clear_error(&error);
	g_clear_pointer(&fx->backend, exh_infra_backend_free);

	/* an exim left behind by a host that died (it would hold the ports) */
	conf = g_build_filename(info->root, "etc/exim4/exim4.conf", NULL);
	{
		const gchar *argv[] = { "/usr/sbin/exim4", "-C", conf, "-bdf", NULL };

		/* in a group of its own, as the backend starts exim */
		g_assert_true(g_spawn_async(NULL,
					    (gchar **)argv,
					    NULL,
					    G_SPAWN_DO_NOT_REAP_CHILD,
					    own_group,
					    NULL,
					    &stale,
					    &error));
		EXM_TEST_OK(error);
		for (guint i = 0; i < 100 && !listening(info); i++)
			g_usleep(100 * 1000);
		g_assert_true(listening(info));
	}

	/* as after a host restart: the same set comes back with its keys, configured */
	config->state_dir = g_strdup(fx->state_dir);
	config->node_descriptor = exh_test_node_descriptor_path();
	exh_local_config_set(config, "agent", "");
	exh_local_config_set(config, "configure", g_getenv("EXH_LOCAL_CONFIGURE"));
	fx->backend = exh_local_backend_new(config, &error);
	EXM_TEST_OK(error);
	g_assert_true(exh_infra_backend_apply_node_set(fx->backend, set, &error));
	g_assert_true(wait_status(fx, EXH_INFRA_STATUS_ACTIVE));
	key2 = exm_test_read_file(key_path);
	g_assert_cmpstr(key, ==, key2);
	/* the stale exim was killed, the node's own one serves */
	for (guint i = 0; i < 100 && waitpid(stale, NULL, WNOHANG) == 0; i++)
		g_usleep(100 * 1000);
	g_assert_cmpint(kill(stale, 0), !=, 0);
	for (guint i = 0; i < 50 && kill(-stale, 0) == 0; i++)
		g_usleep(100 * 1000);
	g_assert_cmpint(kill(-stale, 0), !=, 0);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/local/json", test_json);
	g_test_add_func("/local/json-refused", test_json_refused);
	g_test_add_func("/local/subnet-lease", test_subnet_lease);
	g_test_add_func("/local/subnet-port-held", test_subnet_port_held);
	g_test_add_func("/local/lock-symlink", test_lock_symlink);
	g_test_add_func("/local/lock-dir-refused", test_lock_dir_refused);
	g_test_add_func("/local/lock-default-private", test_lock_default_private);
	g_test_add_func("/local/config-key-file", test_config_key_file);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("/local/node-lifecycle", test_node_lifecycle);
	ADD("/local/config-owner-mode", test_config_owner_mode);
	ADD("/local/exim-restarted", test_exim_restarted);
	ADD("/local/configure-failure", test_configure_failure);
	ADD("/local/scale", test_scale);
	ADD("/local/shutdown-adopt", test_shutdown_adopt);
	g_test_add("/local/port-base",
		   Fixture,
		   GUINT_TO_POINTER(2525),
		   fixture_setup,
		   test_port_base,
		   fixture_teardown);
#undef ADD
	return g_test_run();
}
