/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Type registration (docs/type-registration.md): the reconciler of the
 * runtime-owned table `metapaas_paas_types`, the C counterpart of upstream's
 * PluginReconciler.  Each pass reads every row; a row whose type this host
 * does not serve yet names a plugin in the configured plugin directory, which
 * is checked (owner and mode of the directory and the file), loaded, compared
 * with the row (slug, element, version), migrated, initialised, given to the
 * builder engine and mounted under `/v1/types/<slug>/` without a restart;
 * the row becomes ACTIVE.  Anything refused marks the row ERROR, with the
 * reason in the host's `exh_paas_type_errors`, and changes nothing else.
 * The rows are also what `/v1/types/` lists.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libpq-fe.h>

#include "exh-host.h"

G_BEGIN_DECLS

typedef struct _ExhTypes ExhTypes;

/* (transfer full): a reconciler of @host's types (borrowed; it outlives it) */
ExhTypes *exh_types_new(ExhHost *host);

/**
 * exh_types_reconcile:
 * @types: the reconciler
 * @error: return location
 *
 * One pass, on the calling thread (exh_host_start() runs the first one
 * before it serves, so a restarted host serves its registered types at once).
 *
 * Returns: %FALSE when the database could not be read or written (a refused
 *   plugin is no failure: its row says ERROR)
 */
gboolean exh_types_reconcile(ExhTypes *types, GError **error);

/* Starts the reconciler's thread: a pass every second and on each wake. */
void exh_types_start(ExhTypes *types);

/* Asks for a pass now.  Thread-safe. */
void exh_types_wake(ExhTypes *types);

/* Stops the thread after its running pass; idempotent. */
void exh_types_stop(ExhTypes *types);

void exh_types_free(ExhTypes *types);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhTypes, exh_types_free)

/**
 * exh_types_json:
 * @types: the reconciler
 * @project: (nullable): only the rows of this project (%NULL: every row)
 * @uuid: (nullable): that row only
 *
 * The rows as the last pass read them, as upstream's PaaSType resources.
 *
 * Returns: (transfer full) (nullable): an array, or the one row (%NULL when
 *   no row has @uuid)
 */
JsonNode *exh_types_json(ExhTypes *types, const gchar *project, const gchar *uuid);

/**
 * exh_types_check_file:
 * @dir: the plugin directory
 * @name: a file name in it (no slash)
 * @error: %EXH_ERROR_PLUGIN saying what is wrong
 *
 * The trust check before a plugin is loaded (docs/SECURITY.md): @dir is a
 * directory, not a link, and @name a regular file, not a link; each is owned
 * by root or the host's user and writable by neither its group nor others.
 *
 * Returns: (transfer full) (nullable): the file's path
 */
gchar *exh_types_check_file(const gchar *dir, const gchar *name, GError **error);

G_END_DECLS
