/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Statements prepared per connection: the toolkit's SQL texts are few and
 * repeat (one per model and operation), and PostgreSQL parses and plans an
 * unnamed statement anew on every execution; for a row's 40 column names
 * that was most of a GET's database time (docs/scale.md §8).  Values stay
 * parameters either way: a prepared statement is the same text with the
 * same `$n` placeholders, bound at execution (docs/SECURITY.md §3).
 */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

G_BEGIN_DECLS

/* A text is prepared on its second execution on a connection, so one-off
 * texts (an unusual filter combination) cost no extra round trip; at most
 * this many per connection are prepared (past that, texts run unnamed, as
 * before), and at most EXM_REST_PREPARED_SEEN distinct texts are remembered
 * (a full table forgets those that ran only once). */
#define EXM_REST_PREPARED_MAX  64
#define EXM_REST_PREPARED_SEEN 256

/**
 * exm_rest_prepared_exec:
 * @db: the connection
 * @sql: the statement, its values as `$n` placeholders
 * @n: how many values
 * @values: (array length=n) (nullable): the values as text, %NULL for SQL NULL
 *
 * Runs @sql as PQexecParams() would, through a statement prepared on @db
 * when @sql ran on it before.  The connection's statements are forgotten
 * when libpq resets it (the server's session, and its statements, are new)
 * and when the server says one is gone (SQLSTATE 26000: a `DEALLOCATE ALL`
 * or `DISCARD ALL` behind the cache's back); one statement is forgotten
 * when it no longer fits its table (0A000: a column's type changed).
 * Outside a transaction block the statement then runs again unnamed and
 * answers; inside one, which the error aborted, the error is the result.
 * Later executions prepare again.
 *
 * Returns: (transfer full): the result (never %NULL short of memory)
 */
PGresult *exm_rest_prepared_exec(PGconn *db, const gchar *sql, int n, const gchar *const *values);

/**
 * exm_rest_prepared_count:
 * @db: the connection
 *
 * Returns: how many statements are prepared on @db now
 */
guint exm_rest_prepared_count(PGconn *db);

G_END_DECLS
