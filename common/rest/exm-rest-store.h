/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Running the SQL of exm-rest-sql.h on a connection: parameters only
 * (PQexecParams, or the same text prepared on the connection once it
 * repeats: exm-rest-prepared.h), PostgreSQL errors mapped to the REST error
 * codes, and the row operations the CRUD controllers and model hooks need.
 */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

#include "exm-cleanup.h"
#include "exm-rest-row.h"
#include "exm-rest-sql.h"

G_BEGIN_DECLS

/**
 * ExmRestStoreLogFunc:
 * @data: #ExmRestStore.log_data
 * @message: what went wrong (an unexpected SQL error)
 */
typedef void (*ExmRestStoreLogFunc)(gpointer data, const gchar *message);

/**
 * ExmRestStore:
 * @db: the connection (one transaction per request, the host's)
 * @log: (nullable): where unexpected SQL errors are logged
 * @log_data: for @log
 */
typedef struct {
	PGconn *db;
	ExmRestStoreLogFunc log;
	gpointer log_data;
} ExmRestStore;

/**
 * exm_rest_store_exec:
 * @store: the store
 * @model: the model the statement is about (for conflict messages)
 * @sql: the statement
 * @params: (nullable) (element-type utf8): its parameters
 * @error: 409 `ConflictRecords` (unique, foreign key, serialisation), 400
 *   `ValidationError` (data errors), 503 (connection lost), 500 (also for a
 *   connection whose DateStyle is not ISO: rows read timestamps in it)
 *
 * Returns: (transfer full): the result, or %NULL with @error set
 */
PGresult *exm_rest_store_exec(const ExmRestStore *store,
			      const ExmRestModel *model,
			      const gchar *sql,
			      GPtrArray *params,
			      GError **error);

/**
 * exm_rest_store_one:
 * @store: the store
 * @model: the model
 * @sql: a statement returning at most one row of @model's columns
 * @params: (nullable): its parameters
 * @out: (out) (transfer full) (nullable): the row, %NULL when there is none
 * @error: as exm_rest_store_exec()
 *
 * Returns: %FALSE with @error set when the statement failed
 */
gboolean exm_rest_store_one(const ExmRestStore *store,
			    const ExmRestModel *model,
			    const gchar *sql,
			    GPtrArray *params,
			    ExmRestRow **out,
			    GError **error);

/**
 * exm_rest_store_lock:
 * @store: the store
 * @model: the model
 * @id: a row's uuid
 * @error: 404 `RecordNotFound` when it is gone, or as exm_rest_store_exec()
 *
 * Locks the row for the rest of the transaction.
 *
 * Returns: %TRUE when the row exists and is locked
 */
gboolean exm_rest_store_lock(const ExmRestStore *store,
			     const ExmRestModel *model,
			     const gchar *id,
			     GError **error);

/**
 * exm_rest_store_touch:
 * @store: the store
 * @model: the model
 * @id: a row's uuid
 * @now: µs since the epoch
 * @error: as exm_rest_store_exec()
 *
 * Moves the row's `updated_at` to @now, strictly forward.
 *
 * Returns: %FALSE with @error set on failure
 */
gboolean exm_rest_store_touch(const ExmRestStore *store,
			      const ExmRestModel *model,
			      const gchar *id,
			      gint64 now,
			      GError **error);

/**
 * exm_rest_store_delete_where:
 * @store: the store
 * @model: the model
 * @field: a uuid column
 * @value: the uuid
 * @error: as exm_rest_store_exec()
 *
 * Deletes every row whose @field is @value (a cascade).
 *
 * Returns: %FALSE with @error set on failure
 */
gboolean exm_rest_store_delete_where(const ExmRestStore *store,
				     const ExmRestModel *model,
				     const gchar *field,
				     const gchar *value,
				     GError **error);

G_END_DECLS
