/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * One table-driven GKeyFile loader for every configuration of the project.
 * A program describes its settings once, as a table of #ExmIniKey rows over its
 * own configuration struct; the table gives the defaults, the file loader with
 * its validation, and the command-line options (flags override the file).
 *
 *   static const ExmIniKey keys[] = {
 *           { .group = "host", .key = "port", .type = EXM_INI_UINT,
 *             .offset = G_STRUCT_OFFSET(Config, port), .def = "8080", .max = 65535,
 *             .option = "port", .short_name = 'p', .arg = "PORT", .help = "TCP port" },
 *   };
 *   static const ExmIniSchema schema = EXM_INI_SCHEMA(keys, my_error_quark, MY_ERROR_CONFIG);
 *
 * Errors are raised in the schema's domain and code, in lower case, naming the
 * source (file name or option) and the key: `host.conf: [host] port: expected an
 * integer in [0, 65535]`.
 */
#pragma once

#include <glib.h>

/**
 * ExmIniType:
 * @EXM_INI_STRING: `gchar *`, surrounding white space stripped
 * @EXM_INI_UUID: `gchar *`, a uuid normalised to lower case (exm_uuid_parse())
 * @EXM_INI_INT: `gint` in [@min, @max]
 * @EXM_INI_UINT: `guint` in [@min, @max]
 * @EXM_INI_SIZE: `gsize` in [@min, @max]
 * @EXM_INI_DOUBLE: `gdouble`, finite, in (@min, @max]
 * @EXM_INI_BOOL: `gboolean`: `true`/`false` (or `1`/`0`)
 * @EXM_INI_STRV: `gchar **` split on @separator (`;` when 0), items stripped,
 *   empty items dropped; never %NULL once set
 * @EXM_INI_CUSTOM: @set parses the text
 *
 * The type of a setting and of the field at #ExmIniKey.offset.
 */
typedef enum {
	EXM_INI_STRING,
	EXM_INI_UUID,
	EXM_INI_INT,
	EXM_INI_UINT,
	EXM_INI_SIZE,
	EXM_INI_DOUBLE,
	EXM_INI_BOOL,
	EXM_INI_STRV,
	EXM_INI_CUSTOM,
} ExmIniType;

/**
 * ExmIniFlags:
 * @EXM_INI_REQUIRED: a file that lacks the key is an error
 * @EXM_INI_EMPTY_IS_DEFAULT: an empty value means the default (strings)
 * @EXM_INI_FILENAME: the option takes a file name (%G_OPTION_ARG_FILENAME)
 * @EXM_INI_INVERT: a boolean option sets %FALSE (`--no-verify`)
 */
typedef enum {
	EXM_INI_REQUIRED = 1 << 0,
	EXM_INI_EMPTY_IS_DEFAULT = 1 << 1,
	EXM_INI_FILENAME = 1 << 2,
	EXM_INI_INVERT = 1 << 3,
} ExmIniFlags;

/**
 * ExmIniSetFunc:
 * @field: the field at #ExmIniKey.offset of the configuration
 * @text: (nullable): the value; %NULL unsets (default without a text)
 *
 * Returns: %NULL when @text was stored, else the lower-case reason it was not
 */
typedef const gchar *(*ExmIniSetFunc)(gpointer field, const gchar *text);

/**
 * ExmIniCheckFunc:
 * @field: the field just stored (a `gchar *` for the string types)
 *
 * Returns: %NULL when the value is acceptable, else the lower-case reason
 */
typedef const gchar *(*ExmIniCheckFunc)(gconstpointer field);

/**
 * ExmIniKey:
 * @group: the ini group
 * @key: the ini key
 * @type: the value type
 * @offset: the field's offset in the configuration struct
 * @def: (nullable): the default as text, parsed like a file value; %NULL = %NULL/0
 * @min: smallest value (numbers); exclusive for %EXM_INI_DOUBLE
 * @max: largest value (numbers); @min = @max = 0 means the type's range
 * @separator: list separator of %EXM_INI_STRV (0 = `;`)
 * @flags: #ExmIniFlags
 * @set: parser of %EXM_INI_CUSTOM
 * @check: (nullable): extra validation of a stored value
 * @option: (nullable): long command-line option; %NULL = file only
 * @short_name: its short name, or 0
 * @arg: the option's argument in --help
 * @help: the option's --help text
 */
typedef struct {
	const gchar *group;
	const gchar *key;
	ExmIniType type;
	gsize offset;
	const gchar *def;
	gdouble min;
	gdouble max;
	gchar separator;
	guint flags;
	ExmIniSetFunc set;
	ExmIniCheckFunc check;
	const gchar *option;
	gchar short_name;
	const gchar *arg;
	const gchar *help;
} ExmIniKey;

/**
 * ExmIniSchema:
 * @keys: the settings
 * @n_keys: their number
 * @domain: the error domain errors are raised in
 * @code: the error code
 */
typedef struct {
	const ExmIniKey *keys;
	gsize n_keys;
	GQuark (*domain)(void);
	gint code;
} ExmIniSchema;

#define EXM_INI_SCHEMA(keys, domain, code)                                                         \
	{                                                                                          \
		(keys), G_N_ELEMENTS(keys), (domain), (code)                                       \
	}

/**
 * exm_ini_defaults:
 * @schema: the settings
 * @config: a zero-filled configuration
 *
 * Stores every default.
 */
void exm_ini_defaults(const ExmIniSchema *schema, gpointer config);

/**
 * exm_ini_clear:
 * @schema: the settings
 * @config: a configuration
 *
 * Frees the strings and lists of @config and sets them to %NULL.
 */
void exm_ini_clear(const ExmIniSchema *schema, gpointer config);

/**
 * exm_ini_copy_fields:
 * @schema: the settings
 * @config: a shallow copy of a configuration (`*copy = *original`)
 *
 * Replaces every string and list of @schema's keys in @config by a copy of
 * its own, so that @config and the original can be cleared independently.
 */
void exm_ini_copy_fields(const ExmIniSchema *schema, gpointer config);

/**
 * exm_ini_load_key_file:
 * @schema: the settings
 * @config: a configuration (usually holding the defaults)
 * @key_file: a parsed ini
 * @source: the file name errors name
 * @error: the schema's domain and code
 *
 * Stores the keys @key_file holds; other keys keep their values, other groups
 * and keys are ignored.
 *
 * Returns: %TRUE on success
 */
gboolean exm_ini_load_key_file(const ExmIniSchema *schema,
			       gpointer config,
			       GKeyFile *key_file,
			       const gchar *source,
			       GError **error);

/**
 * exm_ini_load_file:
 * @schema: the settings
 * @config: a configuration
 * @path: an ini file
 * @error: the schema's domain and code, also when @path cannot be read
 *
 * exm_ini_load_key_file() of @path.
 *
 * Returns: %TRUE on success
 */
gboolean exm_ini_load_file(const ExmIniSchema *schema,
			   gpointer config,
			   const gchar *path,
			   GError **error);

/**
 * exm_ini_read_key_file:
 * @schema: the settings (for the error domain)
 * @path: an ini file
 * @error: the schema's domain and code
 *
 * Returns: (transfer full) (nullable): @path parsed
 */
GKeyFile *exm_ini_read_key_file(const ExmIniSchema *schema, const gchar *path, GError **error);

typedef struct _ExmIniOptions ExmIniOptions;

/**
 * exm_ini_options_new:
 * @schema: the settings whose #ExmIniKey.option is set become options
 * @config_option: (nullable): long name of an option naming the config file
 * @config_short: its short name, or 0
 * @config_help: its --help text
 *
 * Returns: (transfer full): empty option values
 */
ExmIniOptions *exm_ini_options_new(const ExmIniSchema *schema,
				   const gchar *config_option,
				   gchar config_short,
				   const gchar *config_help);

/**
 * exm_ini_options_entries:
 * @options: the option values
 *
 * Returns: (transfer none) (array zero-terminated=1): entries for
 * g_option_context_add_main_entries() that store into @options
 */
const GOptionEntry *exm_ini_options_entries(ExmIniOptions *options);

/* Returns: (transfer none) (nullable): the config file given on the command line. */
const gchar *exm_ini_options_config_file(ExmIniOptions *options);

/**
 * exm_ini_options_apply:
 * @options: parsed option values
 * @config: a configuration (defaults, then the file)
 * @error: the schema's domain and code, naming the option
 *
 * Stores the options that were given, validated like file values.
 *
 * Returns: %TRUE on success
 */
gboolean exm_ini_options_apply(ExmIniOptions *options, gpointer config, GError **error);

void exm_ini_options_free(ExmIniOptions *options);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmIniOptions, exm_ini_options_free)
