/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * What a node of a PaaS type runs under the `local` backend, read from a
 * descriptor file shipped with the type ([local] node_descriptor).  The
 * backend itself knows no type: the programs, their units, argv, ports and
 * the agent's identity all come from here.  A GKeyFile:
 *
 *   [node]
 *   uuid5_name = <name>          the agent's uuid5 name (required)
 *   caps_drivers = <drivers>     the agent's capability drivers (required)
 *   ports = a:1;b:2              name:port the service listens on; ACTIVE
 *                                needs every one; [local] port_base moves
 *                                them to base, base+1, … in this order
 *   settings = x;y               (optional) [local] keys copied as {set:x}
 *   restart_flag = <file>        (optional) a file in the node directory;
 *                                when the job exits having created it, the
 *                                service is restarted ({flag} is its path)
 *   job_if_exists = /<path>      (optional) the job runs at node start when
 *                                this sandbox path exists (adoption)
 *
 *   [binary.<name>]              a program, {bin:<name>}; a [local] key of
 *   build = <rel path>           that name overrides it; else the build
 *   program = <name>             tree's, else PATH's, else `installed`
 *   installed = /<path>
 *   optional = true              [local] <name> = "" runs no such child
 *
 *   [job] [service] [agent]      the node's three children, each with
 *   name = <name>                its log name,
 *   units = u1;u2                the systemd units an on_change
 *                                `systemctl restart <unit>` maps to it,
 *   argv = <template>            and its command (shell words, no shell)
 *   pid_file = /<path>           (service, optional) with stale_match: a
 *   stale_match = <template>     leftover process whose command line
 *                                holds stale_match is killed at start
 *
 *   [ini.<group>]                extra node.ini groups; a key whose
 *   <key> = <template>           template names an unset setting is left out
 *
 * Templates: `{root}` (the sandbox), `{dir}` (the node directory), `{ini}`
 * (node.ini), `{address}`, `{flag}`, `{bin:N}`, `{port:N}`, `{set:N}`;
 * `{shell:X}` is X shell-quoted.  Unknown groups, keys and placeholders are
 * refused with the file, group and key in the message.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
	EXH_LOCAL_ROLE_JOB,
	EXH_LOCAL_ROLE_SERVICE,
	EXH_LOCAL_ROLE_AGENT,
	EXH_LOCAL_N_ROLES,
} ExhLocalRole;

typedef struct {
	gchar *name;
	gchar **units;
	gchar **argv; /* template words */
} ExhLocalTypeChild;

typedef struct {
	gchar *name;
	guint port;
} ExhLocalTypePort;

typedef struct {
	gchar *name;
	gchar *build;
	gchar *program;
	gchar *installed;
	gboolean optional;
} ExhLocalTypeBinary;

/* One key of an [ini.<group>] group. */
typedef struct {
	gchar *group;
	gchar *key;
	gchar *value; /* template */
} ExhLocalTypeIniKey;

typedef struct {
	gchar *path;
	gchar *uuid5_name;
	gchar *caps_drivers;
	GPtrArray *ports;    /* ExhLocalTypePort*, in file order */
	GPtrArray *binaries; /* ExhLocalTypeBinary* */
	gchar **settings;
	gchar *restart_flag;
	gchar *job_if_exists;
	gchar *pid_file;
	gchar *stale_match;
	ExhLocalTypeChild children[EXH_LOCAL_N_ROLES];
	GPtrArray *ini; /* ExhLocalTypeIniKey*, in file order */
} ExhLocalType;

/**
 * exh_local_type_load:
 * @path: the descriptor
 * @error: %EXH_ERROR_CONFIG naming the file, group and key
 *
 * Returns: (transfer full): the descriptor, or %NULL
 */
ExhLocalType *exh_local_type_load(const gchar *path, GError **error);

/* As exh_local_type_load(), from text (@path only names it in errors). */
ExhLocalType *exh_local_type_load_data(const gchar *path, const gchar *text, GError **error);

void exh_local_type_free(ExhLocalType *type);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhLocalType, exh_local_type_free)

/* The role whose units hold @unit (`x` or `x.service`), or EXH_LOCAL_N_ROLES. */
ExhLocalRole exh_local_type_role_of_unit(const ExhLocalType *type, const gchar *unit);

/* (transfer full): "a, b and c": every unit an on_change may name. */
gchar *exh_local_type_describe_units(const ExhLocalType *type);

/**
 * exh_local_type_expand:
 * @template: a checked template
 * @vars: placeholder (without braces) -> value
 *
 * Returns: (transfer full) (nullable): the text; %NULL when a placeholder
 *   has no value in @vars
 */
gchar *exh_local_type_expand(const gchar *template, GHashTable *vars);

/**
 * exh_local_type_expand_argv:
 * @words: template words
 * @vars: as for exh_local_type_expand() (a missing value expands to "")
 *
 * Returns: (transfer full): the argv
 */
gchar **exh_local_type_expand_argv(gchar **words, GHashTable *vars);

/*
 * %TRUE when every `{bin:…}`, `{port:…}` and `{set:…}` placeholder of @words
 * has a value in @vars (the node's own placeholders always have one).
 */
gboolean exh_local_type_has_values(gchar **words, GHashTable *vars);

G_END_DECLS
