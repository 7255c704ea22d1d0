/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Structured logging of the reference host (g_log_structured with fields).
 * Callers pass only metadata: never a request body, a token or a secret.
 *
 * Levels: trouble from outside (database down, a misbehaving plugin, a client
 * error) is G_LOG_LEVEL_MESSAGE (a journald notice), never WARNING or ERROR:
 * those abort the process under GTest and under G_DEBUG=fatal-warnings, and a
 * test that provokes the condition on purpose must not abort.
 */
#pragma once

#include <glib.h>

/**
 * exh_log:
 * @level: %G_LOG_LEVEL_WARNING, %G_LOG_LEVEL_INFO, …
 * @request_id: (nullable): the request the message belongs to
 * @fmt: printf format of the message
 *
 * One structured record with `MESSAGE`, `EXH_REQUEST_ID` (when given) and
 * `GLIB_DOMAIN`.
 */
void exh_log(GLogLevelFlags level, const gchar *request_id, const gchar *fmt, ...)
	G_GNUC_PRINTF(3, 4);

/**
 * exh_log_request:
 * @request_id: the request's id
 * @method: HTTP method
 * @path: the raw (still percent-encoded) request path
 * @status: the response status
 * @duration_us: time from the handler to the response
 *
 * The access log record: fields `EXH_REQUEST_ID`, `EXH_METHOD`, `EXH_PATH`,
 * `EXH_STATUS`, `EXH_DURATION_US`, at debug level.
 */
void exh_log_request(const gchar *request_id,
		     const gchar *method,
		     const gchar *path,
		     guint status,
		     gint64 duration_us);

/* A libpq notice processor: server notices go to the debug log, not stderr. */
void exh_log_pg_notice(void *arg, const char *message);
