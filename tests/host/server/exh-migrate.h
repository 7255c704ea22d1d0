/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The migration runner: restalchemy's engine (docs/rest-conventions.md
 * §10) over SQL migrations.  Migrations are tracked by uuid in
 * `ra_migrations(uuid CHAR(36) PRIMARY KEY, applied BOOLEAN)`, applied
 * dependencies first, each in its own transaction under an advisory lock (two
 * hosts starting at once do not race), so re-running is a no-op.
 */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

/**
 * ExhMigration:
 * @uuid: identity (lower-case canonical UUID)
 * @name: human name for logs
 * @owner: who brings it (`host`, a plugin slug), for logs
 * @depends: %NULL-terminated uuids applied before it
 * @up_sql: applies it (may hold several statements)
 * @down_sql: reverts it
 *
 * One migration; all strings are borrowed from their owner.
 */
typedef struct {
	const gchar *uuid;
	const gchar *name;
	const gchar *owner;
	const gchar *const *depends;
	const gchar *up_sql;
	const gchar *down_sql;
} ExhMigration;

/**
 * exh_migrate_apply:
 * @conn: a connection outside any transaction
 * @migrations: (element-type ExhMigration): every known migration
 * @out_applied: (out) (optional): how many were applied now
 * @error: %EXH_ERROR_MIGRATION (graph: duplicate, unknown dependency, cycle;
 *   or the SQL that failed)
 *
 * Applies every migration not yet applied.
 *
 * Returns: %TRUE on success
 */
gboolean exh_migrate_apply(PGconn *conn, GPtrArray *migrations, guint *out_applied, GError **error);

/**
 * exh_migrate_rollback:
 * @conn: a connection outside any transaction
 * @migrations: (element-type ExhMigration): every known migration
 * @uuid: the migration to revert
 * @error: %EXH_ERROR_MIGRATION on failure
 *
 * Reverts @uuid, first reverting every applied migration that depends on it,
 * all in one transaction; their rows stay with `applied = false`.  A
 * migration that is not applied is left alone.
 *
 * Returns: %TRUE on success
 */
gboolean exh_migrate_rollback(PGconn *conn,
			      GPtrArray *migrations,
			      const gchar *uuid,
			      GError **error);

/**
 * exh_migrate_is_applied:
 * @conn: a connection
 * @uuid: a migration
 * @error: %EXH_ERROR_DB on failure
 *
 * Returns: 1 if applied, 0 if not (or the table does not exist), -1 on error
 */
gint exh_migrate_is_applied(PGconn *conn, const gchar *uuid, GError **error);
