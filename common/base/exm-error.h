/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The error domain of libexm-base.  Its codes carry the restalchemy / gcl_iam
 * error `type` names the REST API answers with (docs/rest-conventions.md §3),
 * so any layer can fail with a GError and the HTTP edge turns it into the
 * right status and body without a second mapping table.
 */
#pragma once

#include <glib.h>

#define EXM_ERROR (exm_error_quark())
GQuark exm_error_quark(void);

/**
 * ExmErrorCode:
 * @EXM_ERROR_FAILED: generic failure (I/O, system); HTTP 500
 * @EXM_ERROR_PARSE_BODY: body is not parseable JSON; 400 `ParseBodyError`
 * @EXM_ERROR_PARSE: a value cannot be converted (UUID, URI, id in URL, filter value,
 *   page marker/limit); 400 `ParseError`
 * @EXM_ERROR_VALIDATION: value of the wrong type or out of range; 400 `ValidationError`
 * @EXM_ERROR_TYPE: wrong type/range at create; 400 `TypeError`
 * @EXM_ERROR_PROPERTY_INCOMPATIBLE: unknown keys in a body; 400
 *   `ValidationPropertyIncompatibleError`
 * @EXM_ERROR_PROPERTY_REQUIRED: required property missing or null; 400 `PropertyRequired`
 * @EXM_ERROR_READ_ONLY: model read-only property changed; 400 `ReadOnlyProperty`
 * @EXM_ERROR_FILTER_INCOMPATIBLE: unknown filter key; 400 `ValidationFilterIncompatibleError`
 * @EXM_ERROR_SORT_DIR: bad sort direction; 400 `ValidationSortInvalidDirValueError`
 * @EXM_ERROR_SORT_COUNT: sort key/dir counts differ; 400 `ValidationSortIncompatibleDirCountError`
 * @EXM_ERROR_SORT_NUMBER: more than one sort key; 400 `ValidationSortNumberError`
 * @EXM_ERROR_NOT_EQUAL_UUID: body uuid differs from URL; 400 `NotEqualUuidException`
 * @EXM_ERROR_FIELD_PERMISSION: writing a RO/hidden field; 403 `FieldPermissionError`
 * @EXM_ERROR_POLICY_NOT_AUTHORIZED: IAM denied; 403 `PolicyNotAuthorized` (code 10000001)
 * @EXM_ERROR_FORBIDDEN: project mismatch; 403 `Forbidden` (code 10000001)
 * @EXM_ERROR_NOT_FOUND: row not found; 404 `RecordNotFound`
 * @EXM_ERROR_LOCATOR_NOT_FOUND: relationship URI unknown; 404 `LocatorNotFound`
 * @EXM_ERROR_METHOD_NOT_ALLOWED: 405 `UnsupportedHttpMethod`
 * @EXM_ERROR_CONFLICT: unique/FK clash or a referenced row; 409 `ConflictRecords`
 * @EXM_ERROR_TOO_LARGE: body over the limit; 413 `RequestEntityTooLarge`
 * @EXM_ERROR_INVALID_TOKEN: bad bearer token; 401 OAuth body `invalid_token`
 * @EXM_ERROR_NOT_IMPLEMENTED: 501 `NotImplementedError`
 * @EXM_ERROR_UNAVAILABLE: backend (database) unreachable; 503 `ServiceUnavailable`
 * @EXM_ERROR_MODEL_TYPE: wrong type/range at update; 400 `ModelTypeError`
 * @EXM_ERROR_INCORRECT_ROUTE: a route has no child or action of that name;
 *   404 `IncorrectRouteAttribute`
 * @EXM_ERROR_RESOURCE_NOT_FOUND: a nested route reached without its parent;
 *   404 `ResourceNotFoundError`
 * @EXM_ERROR_COLLECTION_NOT_FOUND: a collection child after a resource that is
 *   not nested; 404 `CollectionNotFoundError`
 * @EXM_ERROR_PATH_NOT_FOUND: an empty segment inside a path; 404 `NotFoundError`
 * @EXM_ERROR_UNSUPPORTED_METHOD: anything but `invoke` after an action; 404
 *   `UnsupportedMethod`
 * @EXM_ERROR_INCORRECT_ACTION: an action called with the wrong verb or form;
 *   404 `IncorrectActionCall`
 */
typedef enum {
	EXM_ERROR_FAILED,
	EXM_ERROR_PARSE_BODY,
	EXM_ERROR_PARSE,
	EXM_ERROR_VALIDATION,
	EXM_ERROR_TYPE,
	EXM_ERROR_PROPERTY_INCOMPATIBLE,
	EXM_ERROR_PROPERTY_REQUIRED,
	EXM_ERROR_READ_ONLY,
	EXM_ERROR_FILTER_INCOMPATIBLE,
	EXM_ERROR_SORT_DIR,
	EXM_ERROR_SORT_COUNT,
	EXM_ERROR_SORT_NUMBER,
	EXM_ERROR_NOT_EQUAL_UUID,
	EXM_ERROR_FIELD_PERMISSION,
	EXM_ERROR_POLICY_NOT_AUTHORIZED,
	EXM_ERROR_FORBIDDEN,
	EXM_ERROR_NOT_FOUND,
	EXM_ERROR_LOCATOR_NOT_FOUND,
	EXM_ERROR_METHOD_NOT_ALLOWED,
	EXM_ERROR_CONFLICT,
	EXM_ERROR_TOO_LARGE,
	EXM_ERROR_INVALID_TOKEN,
	EXM_ERROR_NOT_IMPLEMENTED,
	EXM_ERROR_UNAVAILABLE,
	EXM_ERROR_MODEL_TYPE,
	EXM_ERROR_INCORRECT_ROUTE,
	EXM_ERROR_RESOURCE_NOT_FOUND,
	EXM_ERROR_COLLECTION_NOT_FOUND,
	EXM_ERROR_PATH_NOT_FOUND,
	EXM_ERROR_UNSUPPORTED_METHOD,
	EXM_ERROR_INCORRECT_ACTION,
	EXM_ERROR_LAST /*< skip >*/
} ExmErrorCode;

/* restalchemy's `code` for exceptions that carry none (gcl_iam, plain Python). */
#define EXM_ERROR_CODE_GENERIC 10000001

/**
 * ExmErrorConversion:
 * @code: an error code of the registered domain
 * @status: the HTTP status it answers
 * @body_code: the body's restalchemy `code`
 * @type: the body's restalchemy `type` (`ValidationError`, …)
 *
 * One row of a per-code conversion table (exm_error_register()).
 */
typedef struct {
	gint code;
	guint status;
	gint body_code;
	const gchar *type;
} ExmErrorConversion;

/**
 * exm_error_http_status:
 * @error: (nullable): any GError
 *
 * Returns: the HTTP status for @error: the table above for %EXM_ERROR, the
 * registered conversion of (domain, code) for other domains (exm_error_register()),
 * 500 for anything else, 200 for %NULL.
 */
guint exm_error_http_status(const GError *error);

/**
 * exm_error_type_name:
 * @error: a GError
 *
 * Returns: the restalchemy `type` string (`FieldPermissionError`, …); for other
 * domains the registered conversion of its code, else `InternalError`.
 */
const gchar *exm_error_type_name(const GError *error);

/**
 * exm_error_body:
 * @error: a GError
 *
 * Serialises @error the way the REST API answers: `{"type":…,"code":…,"message":…}`
 * with keys in that order and non-ASCII escaped as `\uXXXX`, or the OAuth shape
 * `{"error":"invalid_token","error_description":…}` for %EXM_ERROR_INVALID_TOKEN.
 * Errors of unknown domains (500) never expose their message: it reads
 * `internal server error`.
 *
 * Returns: (transfer full): the JSON body
 */
gchar *exm_error_body(const GError *error);

/**
 * exm_error_register:
 * @domain: an error domain of another library
 * @table: (array length=n_entries): its per-code conversions; static storage
 * @n_entries: their number
 *
 * Declares how errors of @domain answer over HTTP, code by code; a code not in
 * @table is a 500 `InternalError` whose message is never shown.  Registering
 * a domain again replaces its table.  Thread-safe.
 */
void exm_error_register(GQuark domain, const ExmErrorConversion *table, gsize n_entries);
