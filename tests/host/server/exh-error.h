/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host's error domain (every part of the exh library uses it).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define EXH_ERROR (exh_error_quark())
GQuark exh_error_quark(void);

/**
 * ExhError:
 * @EXH_ERROR_FAILED: generic failure
 * @EXH_ERROR_CONFIG: bad configuration or command line
 * @EXH_ERROR_PLUGIN: a plugin cannot be loaded or is incompatible
 * @EXH_ERROR_MIGRATION: a migration failed or the migration graph is invalid
 * @EXH_ERROR_DB: the database is unreachable or a statement failed
 * @EXH_ERROR_IAM: the token file is unreadable or invalid
 */
typedef enum {
	EXH_ERROR_FAILED,
	EXH_ERROR_CONFIG,
	EXH_ERROR_PLUGIN,
	EXH_ERROR_MIGRATION,
	EXH_ERROR_DB,
	EXH_ERROR_IAM,
} ExhError;

G_END_DECLS
