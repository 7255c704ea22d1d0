/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ini.h"

#include "exm-uuid.h"

#include <math.h>
#include <string.h>

struct _ExmIniOptions {
	const ExmIniSchema *schema;
	GOptionEntry *entries; /* one a key with an option, the config file, the end */
	gpointer *values;      /* key index → gchar * or gchar ** the parser stored */
	gboolean *flags;       /* key index → a boolean option was given */
	gchar *config_file;
};

static gpointer
field_of(const ExmIniKey *key, gpointer config)
{
	return (guint8 *)config + key->offset;
}

static void
clear_field(const ExmIniKey *key, gpointer field)
{
	switch (key->type) {
	case EXM_INI_STRING:
	case EXM_INI_UUID:
		g_clear_pointer((gchar **)field, g_free);
		break;
	case EXM_INI_STRV:
		g_clear_pointer((gchar ***)field, g_strfreev);
		break;
	default:
		break;
	}
}

static gchar *
parse_signed(const ExmIniKey *key, const gchar *text, gint64 lo, gint64 hi, gint64 *out)
{
	if (key->min != 0 || key->max != 0) {
		lo = (gint64)key->min;
		hi = (gint64)key->max;
	}
	if (!g_ascii_string_to_signed(text, 10, lo, hi, out, NULL))
		return g_strdup_printf("expected an integer in [%" G_GINT64_FORMAT
				       ", %" G_GINT64_FORMAT "]",
				       lo,
				       hi);
	return NULL;
}

static gchar *
parse_unsigned(const ExmIniKey *key, const gchar *text, guint64 hi, guint64 *out)
{
	guint64 lo = 0;

	if (key->min != 0 || key->max != 0) {
		lo = (guint64)key->min;
		hi = (guint64)key->max;
	}
	if (!g_ascii_string_to_unsigned(text, 10, lo, hi, out, NULL))
		return g_strdup_printf("expected an integer in [%" G_GUINT64_FORMAT
				       ", %" G_GUINT64_FORMAT "]",
				       lo,
				       hi);
	return NULL;
}

static gchar *
parse_double(const ExmIniKey *key, const gchar *text, gdouble *out)
{
	gchar *end = NULL;
	gdouble value = g_ascii_strtod(text, &end);

	if (text[0] == '\0' || end == NULL || *end != '\0' || !isfinite(value) ||
	    value <= key->min || value > key->max)
		return g_strdup_printf("expected a number in (%g, %g]", key->min, key->max);
	*out = value;
	return NULL;
}

static gchar *
parse_bool(const gchar *text, gboolean *out)
{
	if (g_ascii_strcasecmp(text, "true") == 0 || g_str_equal(text, "1"))
		*out = TRUE;
	else if (g_ascii_strcasecmp(text, "false") == 0 || g_str_equal(text, "0"))
		*out = FALSE;
	else
		return g_strdup("expected a boolean (true/false)");
	return NULL;
}

static gchar **
parse_list(const ExmIniKey *key, const gchar *text)
{
	gchar sep[2] = { key->separator, '\0' };
	g_auto(GStrv) parts = NULL;
	g_autoptr(GStrvBuilder) out = g_strv_builder_new();

	if (sep[0] == '\0')
		sep[0] = ';';
	parts = g_strsplit(text, sep, -1);
	for (guint i = 0; parts[i] != NULL; i++) {
		g_strstrip(parts[i]);
		if (parts[i][0] != '\0')
			g_strv_builder_add(out, parts[i]);
	}
	return g_strv_builder_end(out);
}

static gchar *store(const ExmIniKey *key, gpointer field, const gchar *text);

/* The string types: stripped, normalised (uuid), empty → default when asked. */
// NOLINTBEGIN(misc-no-recursion): a default re-enters store() once: the depth is 2
static gchar *
store_string(const ExmIniKey *key, gpointer field, const gchar *text)
{
	g_autofree gchar *value = g_strstrip(g_strdup(text));
	gchar *uuid;

	if (value[0] == '\0' && (key->flags & EXM_INI_EMPTY_IS_DEFAULT) != 0)
		return key->def != NULL && key->def[0] != '\0' ? store(key, field, key->def)
							       : store(key, field, NULL);
	if (key->type == EXM_INI_UUID) {
		uuid = exm_uuid_parse(value, NULL);
		if (uuid == NULL)
			return g_strdup("not a uuid");
		g_free(value);
		value = uuid;
	}
	g_free(*(gchar **)field);
	*(gchar **)field = g_steal_pointer(&value);
	return NULL;
}
// NOLINTEND(misc-no-recursion)

static gchar *
store_number(const ExmIniKey *key, gpointer field, const gchar *text)
{
	g_autofree gchar *value = g_strstrip(g_strdup(text));
	gchar *reason = NULL;
	gint64 s = 0;
	guint64 u = 0;

	switch (key->type) {
	case EXM_INI_INT:
		if ((reason = parse_signed(key, value, G_MININT, G_MAXINT, &s)) == NULL)
			*(gint *)field = (gint)s;
		break;
	case EXM_INI_UINT:
		if ((reason = parse_unsigned(key, value, G_MAXUINT, &u)) == NULL)
			*(guint *)field = (guint)u;
		break;
	case EXM_INI_SIZE:
		if ((reason = parse_unsigned(key, value, G_MAXSIZE, &u)) == NULL)
			*(gsize *)field = (gsize)u;
		break;
	case EXM_INI_DOUBLE:
		reason = parse_double(key, value, (gdouble *)field);
		break;
	default:
		reason = parse_bool(value, (gboolean *)field);
		break;
	}
	return reason;
}

/* Stores @text (nullable: unset) in @field; the reason it could not, or %NULL. */
// NOLINTBEGIN(misc-no-recursion): a default re-enters store() once: the depth is 2
static gchar *
store(const ExmIniKey *key, gpointer field, const gchar *text)
{
	const gchar *reason = NULL;

	if (key->type == EXM_INI_CUSTOM) {
		reason = key->set(field, text);
	} else if (text == NULL) {
		clear_field(key, field);
		if (key->type == EXM_INI_STRV)
			*(gchar ***)field = g_new0(gchar *, 1);
		return NULL;
	} else if (key->type == EXM_INI_STRING || key->type == EXM_INI_UUID) {
		gchar *r = store_string(key, field, text);
		if (r != NULL)
			return r;
	} else if (key->type == EXM_INI_STRV) {
		clear_field(key, field);
		*(gchar ***)field = parse_list(key, text);
	} else {
		gchar *r = store_number(key, field, text);
		if (r != NULL)
			return r;
	}
	if (reason == NULL && text != NULL && key->check != NULL)
		reason = key->check(field);
	return g_strdup(reason);
}
// NOLINTEND(misc-no-recursion)

void
exm_ini_defaults(const ExmIniSchema *schema, gpointer config)
{
	for (gsize i = 0; i < schema->n_keys; i++) {
		const ExmIniKey *key = &schema->keys[i];
		g_autofree gchar *reason = store(key, field_of(key, config), key->def);

		if (reason != NULL)
			g_critical("default of [%s] %s: %s", key->group, key->key, reason);
	}
}

void
exm_ini_clear(const ExmIniSchema *schema, gpointer config)
{
	if (config == NULL)
		return;
	for (gsize i = 0; i < schema->n_keys; i++)
		clear_field(&schema->keys[i], field_of(&schema->keys[i], config));
}

void
exm_ini_copy_fields(const ExmIniSchema *schema, gpointer config)
{
	for (gsize i = 0; i < schema->n_keys; i++) {
		gpointer field = field_of(&schema->keys[i], config);

		switch (schema->keys[i].type) {
		case EXM_INI_STRING:
		case EXM_INI_UUID:
			*(gchar **)field = g_strdup(*(gchar **)field);
			break;
		case EXM_INI_STRV:
			*(gchar ***)field = g_strdupv(*(gchar ***)field);
			break;
		default:
			break;
		}
	}
}

gboolean
exm_ini_load_key_file(const ExmIniSchema *schema,
		      gpointer config,
		      GKeyFile *key_file,
		      const gchar *source,
		      GError **error)
{
	for (gsize i = 0; i < schema->n_keys; i++) {
		const ExmIniKey *key = &schema->keys[i];
		g_autofree gchar *text = NULL;
		g_autofree gchar *reason = NULL;

		if (!g_key_file_has_key(key_file, key->group, key->key, NULL)) {
			if ((key->flags & EXM_INI_REQUIRED) == 0)
				continue;
			reason = g_strdup("missing");
		} else if ((text = g_key_file_get_string(key_file, key->group, key->key, NULL)) ==
			   NULL) {
			reason = g_strdup("not a valid string (bad escape or encoding)");
		} else {
			reason = store(key, field_of(key, config), text);
		}
		if (reason != NULL) {
			g_set_error(error,
				    schema->domain(),
				    schema->code,
				    "%s: [%s] %s: %s",
				    source,
				    key->group,
				    key->key,
				    reason);
			return FALSE;
		}
	}
	return TRUE;
}

GKeyFile *
exm_ini_read_key_file(const ExmIniSchema *schema, const gchar *path, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) local = NULL;

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local)) {
		g_set_error(error,
			    schema->domain(),
			    schema->code,
			    "cannot read %s: %s",
			    path,
			    local->message);
		return NULL;
	}
	return g_steal_pointer(&kf);
}

gboolean
exm_ini_load_file(const ExmIniSchema *schema, gpointer config, const gchar *path, GError **error)
{
	g_autoptr(GKeyFile) kf = exm_ini_read_key_file(schema, path, error);

	return kf != NULL && exm_ini_load_key_file(schema, config, kf, path, error);
}

static GOptionEntry
option_entry(const ExmIniKey *key, ExmIniOptions *o, gsize i)
{
	gboolean filename = (key->flags & EXM_INI_FILENAME) != 0;
	GOptionEntry e = { key->option,	  key->short_name, 0,	    G_OPTION_ARG_STRING,
			   &o->values[i], key->help,	   key->arg };

	if (key->type == EXM_INI_BOOL) {
		e.arg = G_OPTION_ARG_NONE;
		e.arg_data = &o->flags[i];
	} else if (key->type == EXM_INI_STRV) {
		e.arg = filename ? G_OPTION_ARG_FILENAME_ARRAY : G_OPTION_ARG_STRING_ARRAY;
	} else if (filename) {
		e.arg = G_OPTION_ARG_FILENAME;
	}
	return e;
}

ExmIniOptions *
exm_ini_options_new(const ExmIniSchema *schema,
		    const gchar *config_option,
		    gchar config_short,
		    const gchar *config_help)
{
	ExmIniOptions *o = g_new0(ExmIniOptions, 1);
	guint n = 0;

	o->schema = schema;
	o->entries = g_new0(GOptionEntry, schema->n_keys + 2);
	o->values = g_new0(gpointer, schema->n_keys);
	o->flags = g_new0(gboolean, schema->n_keys);
	if (config_option != NULL) {
		GOptionEntry e = { config_option,   config_short, 0,	 G_OPTION_ARG_FILENAME,
				   &o->config_file, config_help,  "FILE" };
		o->entries[n++] = e;
	}
	for (gsize i = 0; i < schema->n_keys; i++) {
		if (schema->keys[i].option != NULL)
			o->entries[n++] = option_entry(&schema->keys[i], o, i);
	}
	return o;
}

const GOptionEntry *
exm_ini_options_entries(ExmIniOptions *options)
{
	return options->entries;
}

const gchar *
exm_ini_options_config_file(ExmIniOptions *options)
{
	return options->config_file;
}

/* The text of a given option for store(), or %NULL when it was not given. */
static gchar *
option_text(const ExmIniKey *key, ExmIniOptions *o, gsize i)
{
	if (key->type == EXM_INI_BOOL)
		return o->flags[i] ? g_strdup((key->flags & EXM_INI_INVERT) != 0 ? "false" : "true")
				   : NULL;
	if (o->values[i] == NULL)
		return NULL;
	if (key->type == EXM_INI_STRV) {
		gchar sep[2] = { key->separator, '\0' };

		if (sep[0] == '\0')
			sep[0] = ';';
		return g_strjoinv(sep, o->values[i]);
	}
	return g_strdup(o->values[i]);
}

gboolean
exm_ini_options_apply(ExmIniOptions *options, gpointer config, GError **error)
{
	const ExmIniSchema *schema = options->schema;

	for (gsize i = 0; i < schema->n_keys; i++) {
		const ExmIniKey *key = &schema->keys[i];
		g_autofree gchar *text = key->option != NULL ? option_text(key, options, i) : NULL;
		g_autofree gchar *reason = NULL;

		if (text == NULL)
			continue;
		reason = store(key, field_of(key, config), text);
		if (reason != NULL) {
			g_set_error(error,
				    schema->domain(),
				    schema->code,
				    "--%s: %s",
				    key->option,
				    reason);
			return FALSE;
		}
	}
	return TRUE;
}

void
exm_ini_options_free(ExmIniOptions *options)
{
	if (options == NULL)
		return;
	for (gsize i = 0; i < options->schema->n_keys; i++) {
		if (options->schema->keys[i].type == EXM_INI_STRV)
			g_strfreev(options->values[i]);
		else
			g_free(options->values[i]);
	}
	g_free(options->values);
	g_free(options->flags);
	g_free(options->entries);
	g_free(options->config_file);
	g_free(options);
}
