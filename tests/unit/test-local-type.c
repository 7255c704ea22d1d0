/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The local backend's node descriptor loader (exh-local-type.h): the shipped
 * descriptor, a minimal one, and one refused file per bad key.
 */
#include <string.h>

#include "exh-host.h"
#include "exh-local-type.h"
#include "exm-config.h"
#include "exm-test.h"

#define GOOD_NODE                                                                                  \
	"[node]\nuuid5_name = t\ncaps_drivers = D\nports = a:1;b:2\nsettings = s\n"                \
	"restart_flag = f\njob_if_exists = /x\n"
#define GOOD_BINARY "[binary.x]\nprogram = true\n"
#define GOOD_CHILDREN                                                                              \
	"[job]\nname = j\nunits = j1\nargv = {bin:x} {ini}\n"                                      \
	"[service]\nname = s\nunits = s1;s2\nargv = {bin:x} -r {root}\n"                           \
	"[agent]\nname = a\nunits = a1\nargv = {bin:x} {shell:dir}\n"
#define GOOD_INI "[ini.extra]\nport = {port:a}\nopt = {set:s}\nflag = {shell:flag}\n"
#define GOOD	 GOOD_NODE GOOD_BINARY GOOD_CHILDREN GOOD_INI

static ExhLocalType *
load(const gchar *text, GError **error)
{
	return exh_local_type_load_data("/d/t.ini", text, error);
}

static void
test_shipped(void)
{
	g_autofree gchar *path = g_build_filename(
		EXM_SOURCE_ROOT, "data", "exordos_metapaas", "local-node.ini", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExhLocalType) t = exh_local_type_load(path, &error);
	g_autofree gchar *units = NULL;

	g_assert_no_error(error);
	g_assert_cmpuint(t->ports->len, ==, 4); /* smtp, smtps, submission, capture */
	g_assert_cmpuint(t->children[EXH_LOCAL_ROLE_AGENT].units[0] != NULL, ==, TRUE);
	units = exh_local_type_describe_units(t);
	g_assert_nonnull(units);
	g_assert_nonnull(t->job_if_exists);
	g_assert_nonnull(t->restart_flag);
}

static void
test_good(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ExhLocalType) t = load(GOOD, &error);
	g_autoptr(GHashTable) vars = g_hash_table_new(g_str_hash, g_str_equal);
	g_autofree gchar *units = NULL;
	g_autofree gchar *flag = NULL;
	g_auto(GStrv) argv = NULL;
	const ExhLocalTypePort *b;

	g_assert_no_error(error);
	g_assert_cmpstr(t->uuid5_name, ==, "t");
	g_assert_cmpstr(t->caps_drivers, ==, "D");
	g_assert_cmpuint(t->ports->len, ==, 2);
	b = g_ptr_array_index(t->ports, 1);
	g_assert_cmpstr(b->name, ==, "b");
	g_assert_cmpuint(b->port, ==, 2);
	g_assert_cmpuint(t->binaries->len, ==, 1);
	g_assert_cmpuint(t->ini->len, ==, 3);
	g_assert_cmpint(exh_local_type_role_of_unit(t, "s2.service"), ==, EXH_LOCAL_ROLE_SERVICE);
	g_assert_cmpint(exh_local_type_role_of_unit(t, "a1"), ==, EXH_LOCAL_ROLE_AGENT);
	g_assert_cmpint(exh_local_type_role_of_unit(t, "s2x"), ==, EXH_LOCAL_N_ROLES);
	units = exh_local_type_describe_units(t);
	g_assert_cmpstr(units, ==, "j1, s1, s2 and a1");

	g_hash_table_insert(vars, "bin:x", "/bin/x");
	g_hash_table_insert(vars, "dir", "/n o");
	g_hash_table_insert(vars, "flag", "/n/f");
	argv = exh_local_type_expand_argv(t->children[EXH_LOCAL_ROLE_AGENT].argv, vars);
	g_assert_cmpstr(argv[0], ==, "/bin/x");
	g_assert_cmpstr(argv[1], ==, "'/n o'");
	flag = exh_local_type_expand("x {shell:flag}", vars);
	g_assert_cmpstr(flag, ==, "x '/n/f'");
	/* an unset setting: the value is left out */
	g_assert_null(exh_local_type_expand("{set:s}", vars));
	g_assert_true(exh_local_type_has_values(t->children[EXH_LOCAL_ROLE_JOB].argv, vars));
	g_hash_table_remove(vars, "bin:x");
	g_assert_false(exh_local_type_has_values(t->children[EXH_LOCAL_ROLE_JOB].argv, vars));
}

/* @text is GOOD with @from replaced by @to; the error names @where. */
static void
refused(const gchar *from, const gchar *to, const gchar *where)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) text = g_string_new(GOOD);
	g_autoptr(ExhLocalType) t = NULL;

	g_assert_cmpuint(g_string_replace(text, from, to, 1), ==, 1);
	t = load(text->str, &error);
	g_assert_null(t);
	g_assert_error(error, EXH_ERROR, EXH_ERROR_CONFIG);
	g_test_message("%s -> %s", to, error->message);
	g_assert_true(g_str_has_prefix(error->message, "/d/t.ini: "));
	g_assert_nonnull(strstr(error->message, where));
}

static void
test_bad(void)
{
	refused("[node]\n", "[nodes]\n", "[nodes]: unknown group");
	refused("uuid5_name = t\n", "", "[node] uuid5_name: missing");
	refused("uuid5_name = t\n", "uuid5_name =\n", "[node] uuid5_name: empty");
	refused("caps_drivers = D\n", "", "[node] caps_drivers: missing");
	refused("ports = a:1;b:2\n", "", "[node] ports: missing");
	refused("ports = a:1;b:2\n", "ports = a:1;b\n", "[node] ports: 'b' is not name:port");
	refused("ports = a:1;b:2\n", "ports = a:1;b:70000\n", "[node] ports: 'b:70000'");
	refused("ports = a:1;b:2\n", "ports = a:1;;b:2\n", "[node] ports: empty item");
	refused("restart_flag = f\n", "restart_flag = a/f\n", "[node] restart_flag:");
	refused("job_if_exists = /x\n", "job_if_exists = x\n", "[node] job_if_exists:");
	refused("settings = s\n", "settings = s\nsmarthost = 1\n", "[node] smarthost: unknown key");
	refused("[binary.x]\nprogram = true\n", "[binary.x]\n", "[binary.x]: needs build");
	refused("program = true\n", "program = true\ninstalled = rel\n", "[binary.x] installed:");
	refused("program = true\n", "program = true\noptional = maybe\n", "[binary.x] optional:");
	refused("program = true\n", "program = true\nfoo = 1\n", "[binary.x] foo: unknown key");
	refused("[job]\nname = j\n", "[jobs]\nname = j\n", "[jobs]: unknown group");
	refused("[job]\nname = j\n", "[job]\n", "[job] name: missing");
	refused("units = j1\n", "units =\n", "[job] units: empty");
	refused("argv = {bin:x} {ini}\n", "", "[job] argv: missing");
	refused("argv = {bin:x} {ini}\n",
		"argv = {bin:y} {ini}\n",
		"[job] argv: unknown placeholder {bin:y}");
	refused("argv = {bin:x} {ini}\n", "argv = {bin:x} {ini\n", "[job] argv: unclosed");
	refused("argv = {bin:x} {ini}\n", "argv = 'x\n", "[job] argv: not a command line");
	refused("argv = {bin:x} {ini}\n",
		"argv = {bin:x}\npid_file = /p\n",
		"[job] pid_file: unknown key");
	refused("-r {root}\n",
		"-r {root}\npid_file = /p\n",
		"[service] pid_file: needs stale_match");
	refused("-r {root}\n",
		"-r {root}\npid_file = p\nstale_match = {root}\n",
		"[service] pid_file:");
	refused("-r {root}\n",
		"-r {root}\npid_file = /p\nstale_match = {x}\n",
		"[service] stale_match: unknown placeholder {x}");
	refused("argv = {bin:x} {shell:dir}\n",
		"argv = {bin:x} {port:c}\n",
		"[agent] argv: unknown placeholder {port:c}");
	refused("opt = {set:s}\n",
		"opt = {set:t}\n",
		"[ini.extra] opt: unknown placeholder {set:t}");
	refused("[ini.extra]\n", "[ini.universal_agent]\n", "[ini.universal_agent]:");
	refused("[ini.extra]\n", "[ini.]\n", "[ini.]:");
}

static void
test_no_file(void)
{
	g_autoptr(GError) error = NULL;

	g_assert_null(exh_local_type_load("/nonexistent/t.ini", &error));
	g_assert_error(error, EXH_ERROR, EXH_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "/nonexistent/t.ini"));
	g_clear_error(&error);
	g_assert_null(load("not a key file", &error));
	g_assert_error(error, EXH_ERROR, EXH_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "/d/t.ini"));
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/local-type/shipped", test_shipped);
	g_test_add_func("/local-type/good", test_good);
	g_test_add_func("/local-type/bad", test_bad);
	g_test_add_func("/local-type/no-file", test_no_file);
	return g_test_run();
}
