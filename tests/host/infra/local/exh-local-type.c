/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The node descriptor of the local backend (see exh-local-type.h).
 */
#include "exh-local-type.h"

#include <string.h>

#include "exh-host.h"

static const gchar *const role_groups[EXH_LOCAL_N_ROLES] = { "job", "service", "agent" };

typedef struct {
	const gchar *path;
	GKeyFile *kf;
	GHashTable *known; /* placeholders a template may name */
	ExhLocalType *type;
} Loader;

static gboolean
fail(GError **error, const Loader *l, const gchar *group, const gchar *key, const gchar *what)
{
	if (key != NULL)
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "%s: [%s] %s: %s",
			    l->path,
			    group,
			    key,
			    what);
	else
		g_set_error(
			error, EXH_ERROR, EXH_ERROR_CONFIG, "%s: [%s]: %s", l->path, group, what);
	return FALSE;
}

/* Every key of @group is one of @allowed. */
static gboolean
check_keys(const Loader *l, const gchar *group, const gchar *const *allowed, GError **error)
{
	g_auto(GStrv) keys = g_key_file_get_keys(l->kf, group, NULL, NULL);

	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		if (!g_strv_contains(allowed, keys[i]))
			return fail(error, l, group, keys[i], "unknown key");
	}
	return TRUE;
}

/* @out = the non-empty value of @key; absent is fine unless @required. */
static gboolean
get_str(const Loader *l,
	const gchar *group,
	const gchar *key,
	gboolean required,
	gchar **out,
	GError **error)
{
	g_autofree gchar *value = g_key_file_get_string(l->kf, group, key, NULL);

	if (value == NULL && !required)
		return TRUE;
	if (value == NULL)
		return fail(error, l, group, key, "missing");
	g_strstrip(value);
	if (value[0] == '\0')
		return fail(error, l, group, key, "empty");
	*out = g_steal_pointer(&value);
	return TRUE;
}

static gboolean
get_list(const Loader *l,
	 const gchar *group,
	 const gchar *key,
	 gboolean required,
	 gchar ***out,
	 GError **error)
{
	g_autofree gchar *value = NULL;
	g_auto(GStrv) items = NULL;

	if (!get_str(l, group, key, required, &value, error))
		return FALSE;
	if (value == NULL)
		return TRUE;
	/* a trailing ';' is fine (GKeyFile lists end with one) */
	if (g_str_has_suffix(value, ";"))
		value[strlen(value) - 1] = '\0';
	items = g_strsplit(value, ";", -1);
	for (guint i = 0; items[i] != NULL; i++) {
		if (g_strstrip(items[i])[0] == '\0')
			return fail(error, l, group, key, "empty item");
	}
	*out = g_steal_pointer(&items);
	return TRUE;
}

/* Every `{…}` of @value names a known placeholder. */
static gboolean
check_template(const Loader *l,
	       const gchar *group,
	       const gchar *key,
	       const gchar *value,
	       GError **error)
{
	const gchar *p = value;

	while ((p = strchr(p, '{')) != NULL) {
		const gchar *end = strchr(p, '}');
		g_autofree gchar *name = NULL;
		g_autofree gchar *what = NULL;

		if (end == NULL)
			return fail(error, l, group, key, "unclosed '{'");
		name = g_strndup(p + 1, (gsize)(end - p - 1));
		if (!g_hash_table_contains(l->known,
					   g_str_has_prefix(name, "shell:") ? name + 6 : name)) {
			what = g_strdup_printf("unknown placeholder {%s}", name);
			return fail(error, l, group, key, what);
		}
		p = end + 1;
	}
	return TRUE;
}

static void
port_free(gpointer data)
{
	ExhLocalTypePort *port = data;

	g_free(port->name);
	g_free(port);
}

static gboolean
parse_port(const Loader *l, const gchar *item, GError **error)
{
	const gchar *colon = strchr(item, ':');
	ExhLocalTypePort *port;
	guint64 number = 0;

	if (colon == NULL || colon == item ||
	    !g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &number, NULL)) {
		g_autofree gchar *what = g_strdup_printf("'%s' is not name:port", item);

		return fail(error, l, "node", "ports", what);
	}
	port = g_new0(ExhLocalTypePort, 1);
	port->name = g_strndup(item, (gsize)(colon - item));
	port->port = (guint)number;
	g_ptr_array_add(l->type->ports, port);
	g_hash_table_add(l->known, g_strconcat("port:", port->name, NULL));
	return TRUE;
}

static gboolean
load_node(Loader *l, GError **error)
{
	static const gchar *const keys[] = { "uuid5_name",   "caps_drivers",  "ports", "settings",
					     "restart_flag", "job_if_exists", NULL };
	ExhLocalType *t = l->type;
	g_auto(GStrv) ports = NULL;

	if (!g_key_file_has_group(l->kf, "node"))
		return fail(error, l, "node", NULL, "missing");
	if (!check_keys(l, "node", keys, error) ||
	    !get_str(l, "node", "uuid5_name", TRUE, &t->uuid5_name, error) ||
	    !get_str(l, "node", "caps_drivers", TRUE, &t->caps_drivers, error) ||
	    !get_list(l, "node", "ports", TRUE, &ports, error) ||
	    !get_list(l, "node", "settings", FALSE, &t->settings, error) ||
	    !get_str(l, "node", "restart_flag", FALSE, &t->restart_flag, error) ||
	    !get_str(l, "node", "job_if_exists", FALSE, &t->job_if_exists, error))
		return FALSE;
	if (ports[0] == NULL)
		return fail(error, l, "node", "ports", "empty");
	for (guint i = 0; ports[i] != NULL; i++) {
		if (!parse_port(l, ports[i], error))
			return FALSE;
	}
	if (t->restart_flag != NULL && strchr(t->restart_flag, '/') != NULL)
		return fail(error, l, "node", "restart_flag", "not a plain file name");
	if (t->job_if_exists != NULL && t->job_if_exists[0] != '/')
		return fail(error, l, "node", "job_if_exists", "not an absolute path");
	if (t->restart_flag != NULL)
		g_hash_table_add(l->known, g_strdup("flag"));
	for (guint i = 0; t->settings != NULL && t->settings[i] != NULL; i++)
		g_hash_table_add(l->known, g_strconcat("set:", t->settings[i], NULL));
	return TRUE;
}

static void
binary_free(gpointer data)
{
	ExhLocalTypeBinary *b = data;

	g_free(b->name);
	g_free(b->build);
	g_free(b->program);
	g_free(b->installed);
	g_free(b);
}

static gboolean
load_binary(Loader *l, const gchar *group, GError **error)
{
	static const gchar *const keys[] = { "build", "program", "installed", "optional", NULL };
	ExhLocalTypeBinary *b = g_new0(ExhLocalTypeBinary, 1);
	g_autoptr(GError) local = NULL;

	b->name = g_strdup(group + strlen("binary."));
	g_ptr_array_add(l->type->binaries, b);
	g_hash_table_add(l->known, g_strconcat("bin:", b->name, NULL));
	if (b->name[0] == '\0')
		return fail(error, l, group, NULL, "no binary name");
	if (!check_keys(l, group, keys, error) ||
	    !get_str(l, group, "build", FALSE, &b->build, error) ||
	    !get_str(l, group, "program", FALSE, &b->program, error) ||
	    !get_str(l, group, "installed", FALSE, &b->installed, error))
		return FALSE;
	if (b->build == NULL && b->program == NULL && b->installed == NULL)
		return fail(error, l, group, NULL, "needs build, program or installed");
	if (b->installed != NULL && b->installed[0] != '/')
		return fail(error, l, group, "installed", "not an absolute path");
	if (g_key_file_has_key(l->kf, group, "optional", NULL)) {
		b->optional = g_key_file_get_boolean(l->kf, group, "optional", &local);
		if (local != NULL)
			return fail(error, l, group, "optional", "not a boolean");
	}
	return TRUE;
}

static gboolean
load_child(Loader *l, ExhLocalRole role, GError **error)
{
	static const gchar *const keys[] = { "name", "units", "argv", NULL };
	static const gchar *const service_keys[] = { "name",	 "units",	"argv",
						     "pid_file", "stale_match", NULL };
	const gchar *group = role_groups[role];
	ExhLocalTypeChild *c = &l->type->children[role];
	g_autofree gchar *argv = NULL;
	g_autoptr(GError) local = NULL;

	if (!g_key_file_has_group(l->kf, group))
		return fail(error, l, group, NULL, "missing");
	if (!check_keys(l, group, role == EXH_LOCAL_ROLE_SERVICE ? service_keys : keys, error) ||
	    !get_str(l, group, "name", TRUE, &c->name, error) ||
	    !get_list(l, group, "units", TRUE, &c->units, error) ||
	    !get_str(l, group, "argv", TRUE, &argv, error))
		return FALSE;
	if (c->units[0] == NULL)
		return fail(error, l, group, "units", "empty");
	if (!g_shell_parse_argv(argv, NULL, &c->argv, &local))
		return fail(error, l, group, "argv", "not a command line");
	for (guint i = 0; c->argv[i] != NULL; i++) {
		if (!check_template(l, group, "argv", c->argv[i], error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
load_service_extra(Loader *l, GError **error)
{
	ExhLocalType *t = l->type;

	if (!get_str(l, "service", "pid_file", FALSE, &t->pid_file, error) ||
	    !get_str(l, "service", "stale_match", FALSE, &t->stale_match, error))
		return FALSE;
	if ((t->pid_file == NULL) != (t->stale_match == NULL))
		return fail(error, l, "service", "pid_file", "needs stale_match (and the reverse)");
	if (t->pid_file != NULL && t->pid_file[0] != '/')
		return fail(error, l, "service", "pid_file", "not an absolute path");
	return t->stale_match == NULL ||
	       check_template(l, "service", "stale_match", t->stale_match, error);
}

static void
ini_key_free(gpointer data)
{
	ExhLocalTypeIniKey *k = data;

	g_free(k->group);
	g_free(k->key);
	g_free(k->value);
	g_free(k);
}

static gboolean
load_ini(Loader *l, const gchar *group, GError **error)
{
	const gchar *name = group + strlen("ini.");
	g_auto(GStrv) keys = g_key_file_get_keys(l->kf, group, NULL, NULL);

	if (name[0] == '\0' || g_str_equal(name, "universal_agent"))
		return fail(error, l, group, NULL, "not a node.ini group the type may add");
	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		ExhLocalTypeIniKey *k = g_new0(ExhLocalTypeIniKey, 1);

		k->group = g_strdup(name);
		k->key = g_strdup(keys[i]);
		k->value = g_key_file_get_string(l->kf, group, keys[i], NULL);
		g_ptr_array_add(l->type->ini, k);
		if (k->value == NULL)
			return fail(error, l, group, keys[i], "not a string");
		if (!check_template(l, group, keys[i], k->value, error))
			return FALSE;
	}
	return TRUE;
}

/* The binaries first: every template may name them. */
static gboolean
load_groups(Loader *l, GError **error)
{
	g_auto(GStrv) groups = g_key_file_get_groups(l->kf, NULL);

	for (guint i = 0; groups[i] != NULL; i++) {
		const gchar *g = groups[i];

		if (g_str_has_prefix(g, "binary.")) {
			if (!load_binary(l, g, error))
				return FALSE;
		} else if (!g_str_equal(g, "node") && !g_strv_contains(role_groups, g) &&
			   !g_str_has_prefix(g, "ini.")) {
			return fail(error, l, g, NULL, "unknown group");
		}
	}
	if (!load_node(l, error))
		return FALSE;
	for (guint r = 0; r < EXH_LOCAL_N_ROLES; r++) {
		if (!load_child(l, (ExhLocalRole)r, error))
			return FALSE;
	}
	if (!load_service_extra(l, error))
		return FALSE;
	for (guint i = 0; groups[i] != NULL; i++) {
		if (g_str_has_prefix(groups[i], "ini.") && !load_ini(l, groups[i], error))
			return FALSE;
	}
	return TRUE;
}

ExhLocalType *
exh_local_type_load_data(const gchar *path, const gchar *text, GError **error)
{
	static const gchar *const fixed[] = { "root", "dir", "ini", "address", NULL };
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GHashTable) known = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(ExhLocalType) type = g_new0(ExhLocalType, 1);
	g_autoptr(GError) local = NULL;
	Loader l = { .path = path, .kf = kf, .known = known, .type = type };

	type->path = g_strdup(path);
	type->ports = g_ptr_array_new_with_free_func(port_free);
	type->binaries = g_ptr_array_new_with_free_func(binary_free);
	type->ini = g_ptr_array_new_with_free_func(ini_key_free);
	for (guint i = 0; fixed[i] != NULL; i++)
		g_hash_table_add(known, g_strdup(fixed[i]));
	if (!g_key_file_load_from_data(kf, text, (gsize)-1, G_KEY_FILE_NONE, &local)) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "%s: %s", path, local->message);
		return NULL;
	}
	if (!load_groups(&l, error))
		return NULL;
	return g_steal_pointer(&type);
}

ExhLocalType *
exh_local_type_load(const gchar *path, GError **error)
{
	g_autofree gchar *text = NULL;
	g_autoptr(GError) local = NULL;

	if (!g_file_get_contents(path, &text, NULL, &local)) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "node descriptor %s: %s",
			    path,
			    local->message);
		return NULL;
	}
	return exh_local_type_load_data(path, text, error);
}

void
exh_local_type_free(ExhLocalType *type)
{
	if (type == NULL)
		return;
	g_free(type->path);
	g_free(type->uuid5_name);
	g_free(type->caps_drivers);
	g_clear_pointer(&type->ports, g_ptr_array_unref);
	g_clear_pointer(&type->binaries, g_ptr_array_unref);
	g_strfreev(type->settings);
	g_free(type->restart_flag);
	g_free(type->job_if_exists);
	g_free(type->pid_file);
	g_free(type->stale_match);
	for (guint r = 0; r < EXH_LOCAL_N_ROLES; r++) {
		g_free(type->children[r].name);
		g_strfreev(type->children[r].units);
		g_strfreev(type->children[r].argv);
	}
	g_clear_pointer(&type->ini, g_ptr_array_unref);
	g_free(type);
}

static gboolean
unit_is(const gchar *unit, const gchar *name)
{
	gsize n = strlen(name);

	return strncmp(unit, name, n) == 0 &&
	       (unit[n] == '\0' || g_str_equal(unit + n, ".service"));
}

ExhLocalRole
exh_local_type_role_of_unit(const ExhLocalType *type, const gchar *unit)
{
	for (guint r = 0; r < EXH_LOCAL_N_ROLES; r++) {
		gchar **units = type->children[r].units;

		for (guint i = 0; units != NULL && units[i] != NULL; i++) {
			if (unit_is(unit, units[i]))
				return (ExhLocalRole)r;
		}
	}
	return EXH_LOCAL_N_ROLES;
}

gchar *
exh_local_type_describe_units(const ExhLocalType *type)
{
	g_autoptr(GPtrArray) all = g_ptr_array_new();
	GString *out = g_string_new(NULL);

	for (guint r = 0; r < EXH_LOCAL_N_ROLES; r++) {
		for (guint i = 0; type->children[r].units[i] != NULL; i++)
			g_ptr_array_add(all, type->children[r].units[i]);
	}
	for (guint i = 0; i < all->len; i++) {
		if (i > 0)
			g_string_append(out, i + 1 == all->len ? " and " : ", ");
		g_string_append(out, g_ptr_array_index(all, i));
	}
	return g_string_free(out, FALSE);
}

gchar *
exh_local_type_expand(const gchar *template, GHashTable *vars)
{
	g_autoptr(GString) out = g_string_new(NULL);
	const gchar *p = template;
	const gchar *open;

	while ((open = strchr(p, '{')) != NULL) {
		const gchar *close = strchr(open, '}');
		g_autofree gchar *name = NULL;
		gboolean quote;
		const gchar *value;

		if (close == NULL)
			break;
		g_string_append_len(out, p, open - p);
		name = g_strndup(open + 1, (gsize)(close - open - 1));
		quote = g_str_has_prefix(name, "shell:");
		value = g_hash_table_lookup(vars, quote ? name + 6 : name);
		if (value == NULL)
			return NULL;
		if (quote) {
			g_autofree gchar *quoted = g_shell_quote(value);

			g_string_append(out, quoted);
		} else {
			g_string_append(out, value);
		}
		p = close + 1;
	}
	g_string_append(out, p);
	return g_string_free(g_steal_pointer(&out), FALSE);
}

gchar **
exh_local_type_expand_argv(gchar **words, GHashTable *vars)
{
	GPtrArray *argv = g_ptr_array_new();

	for (guint i = 0; words[i] != NULL; i++) {
		gchar *word = exh_local_type_expand(words[i], vars);

		g_ptr_array_add(argv, word != NULL ? word : g_strdup(""));
	}
	g_ptr_array_add(argv, NULL);
	return (gchar **)g_ptr_array_free(argv, FALSE);
}

gboolean
exh_local_type_has_values(gchar **words, GHashTable *vars)
{
	for (guint i = 0; words[i] != NULL; i++) {
		const gchar *p = words[i];
		const gchar *open;

		while ((open = strchr(p, '{')) != NULL && strchr(open, '}') != NULL) {
			const gchar *close = strchr(open, '}');
			g_autofree gchar *name = g_strndup(open + 1, (gsize)(close - open - 1));
			const gchar *bare = g_str_has_prefix(name, "shell:") ? name + 6 : name;

			if (strchr(bare, ':') != NULL && !g_hash_table_contains(vars, bare))
				return FALSE;
			p = close + 1;
		}
	}
	return TRUE;
}
