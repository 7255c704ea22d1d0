/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-fixture.h"

#include <crypt.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exm-config.h"
#include "exm-dp-configure.h"
#include "exm-json.h"
#include "exm-test.h"

#define SYSTEM_PYTHON "/usr/bin/python3"

/* A random 127.a.b.c (a in 128..191, b ≠ 0, so it stays clear of the local
 * backend's 127.K.0.N) whose SMTP ports and the sink's next address are free. */
static void
pick_addresses(ExmDpFixture *fx)
{
	for (guint attempt = 0; attempt < 100; attempt++) {
		guint a = g_random_int_range(128, 192), b = g_random_int_range(1, 255);
		guint c = g_random_int_range(1, 253);
		g_autofree gchar *addr = g_strdup_printf("127.%u.%u.%u", a, b, c);
		g_autofree gchar *sink = g_strdup_printf("127.%u.%u.%u", a, b, c + 1);

		if (exm_test_can_bind(addr, 25) && exm_test_can_bind(addr, 465) &&
		    exm_test_can_bind(addr, 587) && exm_test_can_bind(sink, 2525)) {
			fx->addr = g_steal_pointer(&addr);
			fx->sink_addr = g_steal_pointer(&sink);
			fx->sink_port = 2525;
			return;
		}
	}
	g_test_fail_printf("no free loopback address found");
	fx->addr = g_strdup("127.200.1.1");
	fx->sink_addr = g_strdup("127.200.1.2");
	fx->sink_port = 2525;
}

static void
write_file(const gchar *path, const gchar *content)
{
	g_autofree gchar *dir = g_path_get_dirname(path);
	g_autoptr(GError) error = NULL;

	g_mkdir_with_parents(dir, 0755);
	if (!g_file_set_contents(path, content, -1, &error))
		g_test_fail_printf("write %s: %s", path, error->message);
}

/* Runs exordos/images/@script with the node stubs first on PATH and @env added. */
static gboolean
run_image_script(const gchar *script, const gchar *const *env, GError **error)
{
	g_autofree gchar *path =
		g_build_filename(EXM_SOURCE_ROOT, "exordos", "images", script, NULL);
	g_autofree gchar *stubs = exm_dp_script("node-stubs");
	g_autofree gchar *search = g_strdup_printf("%s:%s", stubs, g_getenv("PATH"));
	g_auto(GStrv) envp = g_environ_setenv(g_get_environ(), "PATH", search, TRUE);
	const gchar *argv[] = { "bash", path, NULL };
	g_autofree gchar *err = NULL;
	gint status = 0;

	for (guint i = 0; env[i] != NULL; i += 2)
		envp = g_environ_setenv(envp, env[i], env[i + 1], TRUE);
	if (!g_spawn_sync(NULL,
			  (gchar **)argv,
			  envp,
			  G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
			  NULL,
			  NULL,
			  NULL,
			  &err,
			  &status,
			  error) ||
	    !g_spawn_check_wait_status(status, error)) {
		g_prefix_error(error, "%s: %s: ", script, err != NULL ? err : "");
		return FALSE;
	}
	return TRUE;
}

/* The sandbox as a node has it before configure first runs: dp_install.sh (its
 * package, build and systemctl steps are stubs) and then the first-boot script
 * it installed, both run for real against the sandbox root. */
static void
lay_out_node(ExmDpFixture *fx)
{
	g_autofree gchar *build = g_build_filename(fx->root, "var", "tmp", "build", NULL);
	g_autofree gchar *lib = exm_dp_script("node-stubs/lib_bootstrap.sh");
	const gchar *install_env[] = { "EXM_DESTDIR",	fx->root, "EXM_SRC_DIR", EXM_SOURCE_ROOT,
				       "EXM_BUILD_DIR", build,	  NULL };
	const gchar *boot_env[] = {
		"EXM_BOOTSTRAP_ROOT", fx->root, "EXORDOS_BOOTSTRAP_LIB", lib, NULL
	};
	g_autoptr(GError) error = NULL;

	if (!run_image_script("dp_install.sh", install_env, &error) ||
	    !run_image_script("dp_bootstrap.sh", boot_env, &error))
		g_test_fail_printf("laying out the node: %s", error->message);
}

ExmDpFixture *
exm_dp_fixture_new(const gchar *domain)
{
	ExmDpFixture *fx = g_new0(ExmDpFixture, 1);
	g_autofree gchar *exim = exm_test_find_program("exim4");

	fx->root = exm_test_mkdtemp("exm-dp");
	lay_out_node(fx);
	pick_addresses(fx);
	fx->sink_dir = g_build_filename(fx->root, "sink", NULL);
	g_mkdir_with_parents(fx->sink_dir, 0755);
	fx->restarts = g_build_filename(fx->root, "restarts.log", NULL);
	fx->config = exm_dp_config_new();
	g_free(fx->config->root);
	fx->config->root = g_strdup(fx->root);
	g_free(fx->config->listen);
	fx->config->listen = g_strdup(fx->addr);
	/* the capture listener on the fixture's own address: fixtures run side by side */
	g_free(fx->config->capture_listen);
	fx->config->capture_listen = g_strdup(fx->addr);
	g_free(fx->config->smarthost);
	fx->config->smarthost = g_strdup_printf("%s:%d", fx->sink_addr, fx->sink_port);
	g_free(fx->config->restart_command);
	fx->config->restart_command = g_strdup_printf("sh -c 'echo restart >> %s'", fx->restarts);
	if (exim != NULL) {
		g_free(fx->config->exim_binary);
		fx->config->exim_binary = g_steal_pointer(&exim);
	} else {
		fx->config->verify_config = FALSE;
	}
	if (domain != NULL) {
		g_autofree gchar *env = g_strdup_printf("MAIL_DOMAIN=%s\n", domain);
		g_autofree gchar *path = exm_dp_fixture_path(fx, EXM_DP_PATH_MAIL_ENV);
		write_file(path, env);
	}
	return fx;
}

static void
stop_child(GPid *pid, const gchar *what)
{
	int status = 0;

	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	for (guint i = 0; i < 100; i++) {
		if (waitpid(*pid, &status, WNOHANG) != 0) {
			*pid = 0;
			return;
		}
		g_usleep(50 * 1000);
	}
	g_test_message("%s did not stop on SIGTERM, killing it", what);
	kill(*pid, SIGKILL);
	waitpid(*pid, &status, 0);
	*pid = 0;
}

/*
 * exim, and every child it forked for a connection: the daemon's SIGTERM
 * does not reach them, so one could outlive the fixture and log into the
 * sandbox after it was removed (the readiness probe's connection to 465
 * did: "TLS error … non-properly terminated", a new var/log/exim4 in a
 * removed root).  They are found by the configuration's path in their
 * command line (a fork keeps it), stopped and waited for.  They stay in the
 * test's process group, which a harness's timeout kills whole.
 */
static void
stop_exim(ExmDpFixture *fx)
{
	static const int signals[] = { SIGTERM, SIGKILL };
	g_autofree gchar *conf = exm_dp_fixture_path(fx, EXM_DP_PATH_EXIM_CONF);

	stop_child(&fx->exim_pid, "exim");
	for (guint s = 0; s < G_N_ELEMENTS(signals); s++) {
		if (exm_test_signal_processes(conf, signals[s]) == 0)
			return;
		if (signals[s] == SIGKILL)
			g_test_message(
				"exim's connection processes did not stop on SIGTERM, killed");
		for (guint i = 0; i < 100 && exm_test_count_processes(conf) > 0; i++)
			g_usleep(50 * 1000);
	}
}

void
exm_dp_fixture_stop(ExmDpFixture *fx)
{
	stop_exim(fx);
	stop_child(&fx->sink_pid, "smtp sink");
	stop_child(&fx->dns_pid, "fake dns");
}

void
exm_dp_fixture_free(ExmDpFixture *fx)
{
	if (fx == NULL)
		return;
	exm_dp_fixture_stop(fx);
	if (fx->root != NULL && g_getenv("EXM_DP_KEEP_SANDBOX") == NULL)
		exm_test_rmtree(fx->root);
	g_free(fx->root);
	g_free(fx->addr);
	g_free(fx->sink_addr);
	g_free(fx->sink_dir);
	g_free(fx->restarts);
	g_free(fx->resolv_conf);
	exm_dp_config_free(fx->config);
	g_free(fx);
}

gchar *
exm_dp_fixture_path(ExmDpFixture *fx, const gchar *node_path)
{
	return exm_dp_config_path(fx->config, node_path);
}

gboolean
exm_dp_fixture_configure(ExmDpFixture *fx, GError **error)
{
	ExmDpConfigureResult result = { 0 };
	gboolean ok = exm_dp_configure_run(fx->config, &result, error);

	exm_dp_configure_result_clear(&result);
	return ok;
}

guint
exm_dp_fixture_restarts(ExmDpFixture *fx)
{
	g_autofree gchar *text = NULL;
	guint n = 0;

	if (!g_file_get_contents(fx->restarts, &text, NULL, NULL))
		return 0;
	for (const gchar *p = text; *p != '\0'; p++)
		n += *p == '\n';
	return n;
}

/* The child dies with the test binary even if teardown never runs. */
static void
child_setup(gpointer data)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean
wait_ports(ExmDpFixture *fx, GPid pid, const gint *ports, const gchar *addr, GError **error)
{
	for (guint i = 0; i < 200; i++) {
		int status;
		gboolean all = TRUE;

		if (waitpid(pid, &status, WNOHANG) == pid) {
			g_set_error(error,
				    G_SPAWN_ERROR,
				    G_SPAWN_ERROR_FAILED,
				    "process exited early (status %d)",
				    status);
			return FALSE;
		}
		for (guint p = 0; ports[p] != 0; p++)
			all = all && exm_test_can_connect(addr, (guint)ports[p]);
		if (all)
			return TRUE;
		g_usleep(50 * 1000);
	}
	g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "not listening after 10 s");
	return FALSE;
}

gboolean
exm_dp_fixture_restart_exim(ExmDpFixture *fx, GError **error)
{
	stop_exim(fx);
	return exm_dp_fixture_start_exim(fx, error);
}

gboolean
exm_dp_fixture_start_exim(ExmDpFixture *fx, GError **error)
{
	g_autofree gchar *conf = exm_dp_fixture_path(fx, EXM_DP_PATH_EXIM_CONF);
	g_autofree gchar *define =
		fx->exim_define != NULL ? g_strconcat("-D", fx->exim_define, NULL) : NULL;
	const gchar *argv[] = { fx->config->exim_binary, "-C", conf, "-bdf", define, NULL };
	const gint ports[] = { 25, 465, 587, 0 };

	if (!g_spawn_async(NULL,
			   (gchar **)argv,
			   NULL,
			   G_SPAWN_DO_NOT_REAP_CHILD,
			   child_setup,
			   NULL,
			   &fx->exim_pid,
			   error))
		return FALSE;
	if (!wait_ports(fx, fx->exim_pid, ports, fx->addr, error)) {
		fx->exim_pid = 0;
		g_prefix_error(error, "exim: ");
		return FALSE;
	}
	return TRUE;
}

gboolean
exm_dp_fixture_start_sink(ExmDpFixture *fx, GError **error)
{
	g_autofree gchar *script = exm_dp_script("smtp-sink.py");
	g_autofree gchar *port = g_strdup_printf("%d", fx->sink_port);
	const gchar *argv[] = { SYSTEM_PYTHON, script, fx->sink_addr, port, fx->sink_dir, NULL };
	const gint ports[] = { fx->sink_port, 0 };

	if (!g_spawn_async(NULL,
			   (gchar **)argv,
			   NULL,
			   G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
			   child_setup,
			   NULL,
			   &fx->sink_pid,
			   error))
		return FALSE;
	if (!wait_ports(fx, fx->sink_pid, ports, fx->sink_addr, error)) {
		fx->sink_pid = 0;
		g_prefix_error(error, "smtp sink: ");
		return FALSE;
	}
	return TRUE;
}

gboolean
exm_dp_fixture_start_dns(ExmDpFixture *fx, const gchar *const *records, GError **error)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *resolv = NULL;
	const gint ports[] = { 53, 0 };

	g_ptr_array_add(argv, g_strdup(SYSTEM_PYTHON));
	g_ptr_array_add(argv, exm_dp_script("dns-fake.py"));
	g_ptr_array_add(argv, g_strdup(fx->addr));
	g_ptr_array_add(argv, g_strdup("53"));
	for (guint i = 0; records[i] != NULL; i++)
		g_ptr_array_add(argv, g_strdup(records[i]));
	g_ptr_array_add(argv, NULL);
	g_clear_pointer(&fx->resolv_conf, g_free);
	fx->resolv_conf = g_build_filename(fx->root, "resolv.conf", NULL);
	resolv = g_strdup_printf("nameserver %s\noptions timeout:2 attempts:2\n", fx->addr);
	if (!g_file_set_contents(fx->resolv_conf, resolv, -1, error) ||
	    !g_spawn_async(NULL,
			   (gchar **)argv->pdata,
			   NULL,
			   G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
			   child_setup,
			   NULL,
			   &fx->dns_pid,
			   error))
		return FALSE;
	if (!wait_ports(fx, fx->dns_pid, ports, fx->addr, error)) {
		fx->dns_pid = 0;
		g_prefix_error(error, "fake dns: ");
		return FALSE;
	}
	return TRUE;
}

gint
exm_dp_fixture_route(ExmDpFixture *fx, const gchar *address, gchar **out)
{
	g_autofree gchar *conf = exm_dp_fixture_path(fx, EXM_DP_PATH_EXIM_CONF);
	const gchar *argv[] = { "unshare",
				"--mount",
				"--propagation",
				"private",
				"sh",
				"-c",
				"mount --bind \"$0\" /etc/resolv.conf && exec \"$@\" 2>&1",
				fx->resolv_conf,
				fx->config->exim_binary,
				"-C",
				conf,
				"-bt",
				address,
				NULL };

	g_return_val_if_fail(fx->resolv_conf != NULL, -1);
	return exm_test_run(argv, out, NULL);
}

gchar *
exm_dp_script(const gchar *name)
{
	return g_build_filename(EXM_SOURCE_ROOT, "tests", "dp", name, NULL);
}

JsonObject *
exm_dp_fixture_client(const gchar *const *args, GError **error)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autoptr(JsonNode) node = NULL;
	gint status = 0;

	g_ptr_array_add(argv, g_strdup(SYSTEM_PYTHON));
	g_ptr_array_add(argv, exm_dp_script("smtp-client.py"));
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, g_strdup(args[i]));
	g_ptr_array_add(argv, NULL);
	if (!g_spawn_sync(NULL,
			  (gchar **)argv->pdata,
			  NULL,
			  G_SPAWN_DEFAULT,
			  NULL,
			  NULL,
			  &out,
			  &err,
			  &status,
			  error))
		return NULL;
	if (!g_spawn_check_wait_status(status, error)) {
		g_prefix_error(error, "smtp-client.py %s: %s: ", args[0], err);
		return NULL;
	}
	node = exm_json_parse_strict(out, strlen(out), error);
	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error(
			error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "bad client output: %s", out);
		return NULL;
	}
	return json_object_ref(json_node_get_object(node));
}

gint
exm_dp_fixture_auth(ExmDpFixture *fx,
		    gint port,
		    const gchar *user,
		    const gchar *password,
		    const gchar *mech)
{
	g_autofree gchar *port_s = g_strdup_printf("%d", port);
	const gchar *argv[] = { "auth", fx->addr, port_s, port == 465 ? "tls" : "starttls",
				user,	password, mech,	  NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) obj = exm_dp_fixture_client(argv, &error);

	if (obj == NULL) {
		g_test_message("auth client: %s", error->message);
		return -1;
	}
	return (gint)json_object_get_int_member(obj, "code");
}

JsonNode *
exm_dp_expanded(JsonNode *node)
{
	g_autofree gchar *text = exm_json_to_string(node);
	g_autoptr(GError) error = NULL;
	JsonNode *tree = exm_json_parse_strict(text, strlen(text), &error);

	g_assert_no_error(error);
	return tree;
}

JsonNode *
exm_dp_node_value(const gchar *uuid, const gchar *const *accounts)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "uuid");
	json_builder_add_string_value(b, uuid);
	json_builder_set_member_name(b, "name");
	json_builder_add_string_value(b, "dp-test");
	json_builder_set_member_name(b, "domain");
	json_builder_add_string_value(b, EXM_DP_TEST_DOMAIN);
	json_builder_set_member_name(b, "accounts");
	json_builder_begin_object(b);
	for (guint i = 0; accounts != NULL && accounts[i] != NULL; i += 3) {
		json_builder_set_member_name(b, accounts[i]);
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "password_hash");
		json_builder_add_string_value(b, accounts[i + 1]);
		json_builder_set_member_name(b, "active");
		json_builder_add_boolean_value(b, g_str_equal(accounts[i + 2], "1"));
		json_builder_end_object(b);
	}
	json_builder_end_object(b);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

gchar *
exm_dp_hash_rounds(const gchar *password, gulong rounds)
{
	g_autofree struct crypt_data *data = g_new0(struct crypt_data, 1);
	g_autofree gchar *salt = crypt_gensalt_ra("$6$", rounds, NULL, 0);
	const char *hash;

	g_assert_nonnull(salt);
	hash = crypt_r(password, salt, data);
	g_assert_true(hash != NULL && hash[0] == '$');
	return g_strdup(hash);
}

gchar *
exm_dp_hash(const gchar *prefix, const gchar *password)
{
	g_autofree struct crypt_data *data = g_new0(struct crypt_data, 1);
	g_autofree gchar *salt = crypt_gensalt_ra(prefix, 0, NULL, 0);
	const char *hash;

	g_assert_nonnull(salt);
	hash = crypt_r(password, salt, data);
	g_assert_true(hash != NULL && hash[0] == '$');
	return g_strdup(hash);
}

gboolean
exm_dp_have(const gchar *program)
{
	g_autofree gchar *path =
		program[0] == '/' ? g_strdup(program) : exm_test_find_program(program);

	if (path != NULL && g_file_test(path, G_FILE_TEST_IS_EXECUTABLE))
		return TRUE;
	exm_test_peer_missing("%s is not installed", program);
	return FALSE;
}

gboolean
exm_dp_have_exim_and_sink(void)
{
	const gchar *py_check[] = { SYSTEM_PYTHON, "-c", "import smtpd", NULL };

	if (!exm_dp_have("exim4"))
		return FALSE;
	if (exm_test_run(py_check, NULL, NULL) != 0) {
		exm_test_peer_missing("%s with smtpd is not installed", SYSTEM_PYTHON);
		return FALSE;
	}
	return TRUE;
}

void
exm_dp_spin_100ms(void)
{
	gint64 end = g_get_monotonic_time() + 100 * 1000;

	while (g_get_monotonic_time() < end) {
		while (g_main_context_iteration(NULL, FALSE))
			;
		g_usleep(2000);
	}
}

/* The banner of a session opened by openssl s_client: the handshake is done. */
void
exm_dp_held_start(ExmDpHeld *h, const gchar *addr, gint port)
{
	g_autofree gchar *target = g_strdup_printf("%s:%d", addr, port);
	const gchar *argv[] = { "openssl", "s_client", "-quiet", "-connect", target, NULL };
	g_autoptr(GError) error = NULL;
	gchar buf[512];
	gssize n;

	g_assert_true(g_spawn_async_with_pipes(NULL,
					       (gchar **)argv,
					       NULL,
					       G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
						       G_SPAWN_STDERR_TO_DEV_NULL,
					       NULL,
					       NULL,
					       &h->pid,
					       &h->in,
					       &h->out,
					       NULL,
					       &error));
	g_assert_no_error(error);
	n = read(h->out, buf, sizeof buf - 1);
	g_assert_cmpint(n, >, 0);
	buf[n] = '\0';
	g_assert_true(g_str_has_prefix(buf, "220 "));
}

gchar *
exm_dp_held_finish(ExmDpHeld *h)
{
	static const gchar cmds[] = "NOOP\r\nQUIT\r\n";
	GString *got = g_string_new(NULL);
	gchar buf[512];
	gssize n;
	gint status = 0;

	g_assert_cmpint(write(h->in, cmds, strlen(cmds)), ==, (gssize)strlen(cmds));
	while ((n = read(h->out, buf, sizeof buf)) > 0)
		g_string_append_len(got, buf, n);
	close(h->in);
	close(h->out);
	waitpid(h->pid, &status, 0);
	g_spawn_close_pid(h->pid);
	return g_string_free(got, FALSE);
}
