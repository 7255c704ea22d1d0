/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The table-driven configuration loader (exm-ini.h): every type, defaults,
 * required keys, bad values with their messages, and options over the file.
 */
#include "exm-error.h"
#include "exm-ini.h"
#include "exm-test.h"

#include <string.h>

typedef struct {
	gchar *name;
	gchar *id;
	gint level;
	guint port;
	gsize limit;
	gdouble seconds;
	gboolean on;
	gchar **list;
	gchar **paths;
	gint twice;
	gchar *url;
	gchar *must;
} Conf;

static const gchar *
set_twice(gpointer field, const gchar *text)
{
	gint64 v = 0;

	if (text != NULL && !g_ascii_string_to_signed(text, 10, 0, 100, &v, NULL))
		return "expected 0..100";
	*(gint *)field = (gint)v * 2;
	return NULL;
}

static const gchar *
check_url(gconstpointer field)
{
	const gchar *url = *(gchar *const *)field;

	return url == NULL || g_str_has_prefix(url, "http") ? NULL : "not an http url";
}

static GQuark
domain(void)
{
	return EXM_ERROR;
}

/* clang-format off */
static const ExmIniKey keys[] = {
	{ .group = "a", .key = "name", .type = EXM_INI_STRING, .offset = G_STRUCT_OFFSET(Conf, name),
	  .def = "anon", .flags = EXM_INI_EMPTY_IS_DEFAULT, .option = "name", .short_name = 'n',
	  .arg = "NAME", .help = "the name" },
	{ .group = "a", .key = "id", .type = EXM_INI_UUID, .offset = G_STRUCT_OFFSET(Conf, id),
	  .flags = EXM_INI_EMPTY_IS_DEFAULT },
	{ .group = "a", .key = "level", .type = EXM_INI_INT, .offset = G_STRUCT_OFFSET(Conf, level),
	  .def = "-3", .min = -5, .max = 5, .option = "level", .arg = "N", .help = "the level" },
	{ .group = "a", .key = "port", .type = EXM_INI_UINT, .offset = G_STRUCT_OFFSET(Conf, port),
	  .def = "8080", .max = 65535, .option = "port", .short_name = 'p', .arg = "PORT",
	  .help = "the port" },
	{ .group = "a", .key = "limit", .type = EXM_INI_SIZE, .offset = G_STRUCT_OFFSET(Conf, limit),
	  .def = "1024", .min = 1, .max = G_MAXUINT32 },
	{ .group = "b", .key = "seconds", .type = EXM_INI_DOUBLE,
	  .offset = G_STRUCT_OFFSET(Conf, seconds), .def = "2.5", .min = 0, .max = 60 },
	{ .group = "b", .key = "on", .type = EXM_INI_BOOL, .offset = G_STRUCT_OFFSET(Conf, on),
	  .def = "true", .flags = EXM_INI_INVERT, .option = "off", .help = "switch it off" },
	{ .group = "b", .key = "list", .type = EXM_INI_STRV, .offset = G_STRUCT_OFFSET(Conf, list),
	  .separator = ',' },
	{ .group = "b", .key = "paths", .type = EXM_INI_STRV, .offset = G_STRUCT_OFFSET(Conf, paths),
	  .flags = EXM_INI_FILENAME, .option = "path", .arg = "FILE", .help = "a path" },
	{ .group = "b", .key = "twice", .type = EXM_INI_CUSTOM, .offset = G_STRUCT_OFFSET(Conf, twice),
	  .def = "1", .set = set_twice },
	{ .group = "b", .key = "url", .type = EXM_INI_STRING, .offset = G_STRUCT_OFFSET(Conf, url),
	  .def = "http://x", .check = check_url },
};
static const ExmIniKey required_keys[] = {
	{ .group = "c", .key = "must", .type = EXM_INI_STRING, .offset = G_STRUCT_OFFSET(Conf, must),
	  .flags = EXM_INI_REQUIRED },
};
/* clang-format on */
static const ExmIniSchema schema = EXM_INI_SCHEMA(keys, domain, EXM_ERROR_VALIDATION);
static const ExmIniSchema required = EXM_INI_SCHEMA(required_keys, domain, EXM_ERROR_VALIDATION);

static void
conf_free(Conf *c)
{
	exm_ini_clear(&schema, c);
	exm_ini_clear(&required, c);
	g_free(c);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Conf, conf_free)

static Conf *
conf_new(void)
{
	Conf *c = g_new0(Conf, 1);

	exm_ini_defaults(&schema, c);
	return c;
}

static gboolean
load_text(Conf *c, const ExmIniSchema *s, const gchar *text, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();

	g_assert_true(g_key_file_load_from_data(kf, text, -1, G_KEY_FILE_NONE, NULL));
	return exm_ini_load_key_file(s, c, kf, "t.conf", error);
}

static void
test_defaults(void)
{
	g_autoptr(Conf) c = conf_new();

	g_assert_cmpstr(c->name, ==, "anon");
	g_assert_null(c->id);
	g_assert_cmpint(c->level, ==, -3);
	g_assert_cmpuint(c->port, ==, 8080);
	g_assert_cmpuint(c->limit, ==, 1024);
	g_assert_cmpfloat(c->seconds, ==, 2.5);
	g_assert_true(c->on);
	g_assert_nonnull(c->list);
	g_assert_cmpuint(g_strv_length(c->list), ==, 0);
	g_assert_cmpint(c->twice, ==, 2);
	g_assert_cmpstr(c->url, ==, "http://x");
}

static void
test_types(void)
{
	g_autoptr(Conf) c = conf_new();
	g_autoptr(GError) error = NULL;

	g_assert_true(load_text(c,
				&schema,
				"[a]\nname =  bob  \nid = 11111111-2222-3333-4444-55555555555A\n"
				"level = 5\nport = 0\nlimit = 4294967295\n"
				"[b]\nseconds = 60\non = false\nlist = x, y,,z ,\npaths = /a;/b;\n"
				"twice = 21\nurl = https://y\n[other]\nname = ignored\n",
				&error));
	g_assert_no_error(error);
	g_assert_cmpstr(c->name, ==, "bob");
	g_assert_cmpstr(c->id, ==, "11111111-2222-3333-4444-55555555555a");
	g_assert_cmpint(c->level, ==, 5);
	g_assert_cmpuint(c->port, ==, 0);
	g_assert_cmpuint(c->limit, ==, G_MAXUINT32);
	g_assert_cmpfloat(c->seconds, ==, 60);
	g_assert_false(c->on);
	g_assert_cmpuint(g_strv_length(c->list), ==, 3);
	g_assert_cmpstr(c->list[2], ==, "z");
	g_assert_cmpuint(g_strv_length(c->paths), ==, 2);
	g_assert_cmpint(c->twice, ==, 42);
	g_assert_cmpstr(c->url, ==, "https://y");

	/* an empty value means the default where the key says so; absent keys stay */
	g_assert_true(load_text(c, &schema, "[a]\nname =\nid =\n", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(c->name, ==, "anon");
	g_assert_null(c->id);
	g_assert_cmpint(c->level, ==, 5);
}

static void
test_bad_values(void)
{
	static const struct {
		const gchar *text;
		const gchar *message;
	} bad[] = {
		{ "[a]\nid = nope\n", "t.conf: [a] id: not a uuid" },
		{ "[a]\nlevel = 6\n", "t.conf: [a] level: expected an integer in [-5, 5]" },
		{ "[a]\nlevel = x\n", "t.conf: [a] level: expected an integer in [-5, 5]" },
		{ "[a]\nport = 65536\n", "t.conf: [a] port: expected an integer in [0, 65535]" },
		{ "[a]\nport = -1\n", "t.conf: [a] port: expected an integer in [0, 65535]" },
		{ "[a]\nlimit = 0\n", "t.conf: [a] limit: expected an integer in [1, 4294967295]" },
		{ "[b]\nseconds = 0\n", "t.conf: [b] seconds: expected a number in (0, 60]" },
		{ "[b]\nseconds = nan\n", "t.conf: [b] seconds: expected a number in (0, 60]" },
		{ "[b]\nseconds = 61\n", "t.conf: [b] seconds: expected a number in (0, 60]" },
		{ "[b]\non = maybe\n", "t.conf: [b] on: expected a boolean (true/false)" },
		{ "[b]\ntwice = 101\n", "t.conf: [b] twice: expected 0..100" },
		{ "[b]\nurl = ftp://z\n", "t.conf: [b] url: not an http url" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(Conf) c = conf_new();
		g_autoptr(GError) error = NULL;

		g_assert_false(load_text(c, &schema, bad[i].text, &error));
		g_assert_error(error, EXM_ERROR, EXM_ERROR_VALIDATION);
		g_assert_cmpstr(error->message, ==, bad[i].message);
	}
}

static void
test_required_and_files(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("ini");
	g_autofree gchar *path = g_build_filename(dir, "r.conf", NULL);
	g_autofree gchar *missing = g_build_filename(dir, "none.conf", NULL);
	g_autoptr(Conf) c = g_new0(Conf, 1);
	g_autoptr(GError) error = NULL;

	g_assert_false(load_text(c, &required, "[c]\nother = 1\n", &error));
	g_assert_error(error, EXM_ERROR, EXM_ERROR_VALIDATION);
	g_assert_cmpstr(error->message, ==, "t.conf: [c] must: missing");
	g_clear_error(&error);

	g_assert_true(g_file_set_contents(path, "[c]\nmust = yes\n", -1, NULL));
	g_assert_true(exm_ini_load_file(&required, c, path, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(c->must, ==, "yes");
	g_assert_false(exm_ini_load_file(&required, c, missing, &error));
	g_assert_error(error, EXM_ERROR, EXM_ERROR_VALIDATION);
	g_assert_true(g_str_has_prefix(error->message, "cannot read "));
	exm_test_rmtree(dir);
}

static gboolean
parse(ExmIniOptions *o, gchar **args, GError **error)
{
	g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
	gint argc = (gint)g_strv_length(args);
	gchar **argv = args;

	g_option_context_add_main_entries(ctx, exm_ini_options_entries(o), NULL);
	return g_option_context_parse(ctx, &argc, &argv, error);
}

/* Defaults, then the file, then the options that were given. */
static void
test_options_override(void)
{
	g_autoptr(Conf) c = conf_new();
	g_autoptr(ExmIniOptions) o = exm_ini_options_new(&schema, "config", 'c', "the file");
	g_autoptr(GError) error = NULL;
	gchar *args[] = { "prog",   "-c",  "x.conf", "--port", "9099", "--off",
			  "--path", "/p1", "--path", "/p2",    NULL };
	const GOptionEntry *e = exm_ini_options_entries(o);
	guint n = 0;

	while (e[n].long_name != NULL)
		n++;
	g_assert_cmpuint(n, ==, 6); /* config, name, level, port, off, path */
	g_assert_true(parse(o, args, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(exm_ini_options_config_file(o), ==, "x.conf");
	g_assert_true(load_text(c, &schema, "[a]\nname = file\nport = 1\nlevel = 2\n", &error));
	g_assert_true(exm_ini_options_apply(o, c, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(c->name, ==, "file"); /* not given: the file's value stays */
	g_assert_cmpint(c->level, ==, 2);
	g_assert_cmpuint(c->port, ==, 9099);
	g_assert_false(c->on);
	g_assert_cmpuint(g_strv_length(c->paths), ==, 2);
	g_assert_cmpstr(c->paths[1], ==, "/p2");
}

static void
test_options_bad(void)
{
	g_autoptr(Conf) c = conf_new();
	g_autoptr(ExmIniOptions) o = exm_ini_options_new(&schema, NULL, 0, NULL);
	g_autoptr(GError) error = NULL;
	gchar *args[] = { "prog", "--level", "9", NULL };

	g_assert_true(parse(o, args, &error));
	g_assert_null(exm_ini_options_config_file(o));
	g_assert_false(exm_ini_options_apply(o, c, &error));
	g_assert_error(error, EXM_ERROR, EXM_ERROR_VALIDATION);
	g_assert_cmpstr(error->message, ==, "--level: expected an integer in [-5, 5]");
	g_assert_cmpint(c->level, ==, -3);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/ini/defaults", test_defaults);
	g_test_add_func("/ini/types", test_types);
	g_test_add_func("/ini/bad-values", test_bad_values);
	g_test_add_func("/ini/required-and-files", test_required_and_files);
	g_test_add_func("/ini/options-override", test_options_override);
	g_test_add_func("/ini/options-bad", test_options_bad);
	return g_test_run();
}
