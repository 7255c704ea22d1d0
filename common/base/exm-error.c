/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * One table maps every EXM_ERROR code to its HTTP status, restalchemy `type` and
 * body `code`, so the HTTP edge never needs its own mapping.
 */
#include "exm-error.h"

#include "exm-json.h"

/* Written out rather than G_DEFINE_QUARK(): clang-format would put spaces into
 * the hyphenated quark name the macro stringifies. */
GQuark
exm_error_quark(void)
{
	return g_quark_from_static_string("exm-error-quark");
}

typedef struct {
	guint status;
	gint code; /* the body's `code` */
	const gchar *type;
} ExmErrorInfo;

/* Indexed by ExmErrorCode; the static assertion below keeps it in step. */
static const ExmErrorInfo exm_error_table[] = {
	[EXM_ERROR_FAILED] = { 500, EXM_ERROR_CODE_GENERIC, "InternalError" },
	[EXM_ERROR_PARSE_BODY] = { 400, 400, "ParseBodyError" },
	[EXM_ERROR_PARSE] = { 400, 400, "ParseError" },
	[EXM_ERROR_VALIDATION] = { 400, 400, "ValidationError" },
	[EXM_ERROR_TYPE] = { 400, 400, "TypeError" },
	[EXM_ERROR_PROPERTY_INCOMPATIBLE] = { 400, 400, "ValidationPropertyIncompatibleError" },
	[EXM_ERROR_PROPERTY_REQUIRED] = { 400, 400, "PropertyRequired" },
	[EXM_ERROR_READ_ONLY] = { 400, 400, "ReadOnlyProperty" },
	[EXM_ERROR_FILTER_INCOMPATIBLE] = { 400, 400, "ValidationFilterIncompatibleError" },
	[EXM_ERROR_SORT_DIR] = { 400, 400, "ValidationSortInvalidDirValueError" },
	[EXM_ERROR_SORT_COUNT] = { 400, 400, "ValidationSortIncompatibleDirCountError" },
	[EXM_ERROR_SORT_NUMBER] = { 400, 400, "ValidationSortNumberError" },
	[EXM_ERROR_NOT_EQUAL_UUID] = { 400, 400, "NotEqualUuidException" },
	[EXM_ERROR_FIELD_PERMISSION] = { 403, 403, "FieldPermissionError" },
	[EXM_ERROR_POLICY_NOT_AUTHORIZED] = { 403, EXM_ERROR_CODE_GENERIC, "PolicyNotAuthorized" },
	[EXM_ERROR_FORBIDDEN] = { 403, EXM_ERROR_CODE_GENERIC, "Forbidden" },
	[EXM_ERROR_NOT_FOUND] = { 404, 404, "RecordNotFound" },
	[EXM_ERROR_LOCATOR_NOT_FOUND] = { 404, 404, "LocatorNotFound" },
	[EXM_ERROR_METHOD_NOT_ALLOWED] = { 405, 405, "UnsupportedHttpMethod" },
	[EXM_ERROR_CONFLICT] = { 409, 409, "ConflictRecords" },
	[EXM_ERROR_TOO_LARGE] = { 413, 413, "RequestEntityTooLarge" },
	[EXM_ERROR_INVALID_TOKEN] = { 401, 401, "invalid_token" },
	[EXM_ERROR_NOT_IMPLEMENTED] = { 501, 501, "NotImplementedError" },
	[EXM_ERROR_UNAVAILABLE] = { 503, 503, "ServiceUnavailable" },
	[EXM_ERROR_MODEL_TYPE] = { 400, 400, "ModelTypeError" },
	[EXM_ERROR_INCORRECT_ROUTE] = { 404, 404, "IncorrectRouteAttribute" },
	[EXM_ERROR_RESOURCE_NOT_FOUND] = { 404, 404, "ResourceNotFoundError" },
	[EXM_ERROR_COLLECTION_NOT_FOUND] = { 404, 404, "CollectionNotFoundError" },
	[EXM_ERROR_PATH_NOT_FOUND] = { 404, 404, "NotFoundError" },
	[EXM_ERROR_UNSUPPORTED_METHOD] = { 404, 404, "UnsupportedMethod" },
	[EXM_ERROR_INCORRECT_ACTION] = { 404, 404, "IncorrectActionCall" },
};
G_STATIC_ASSERT(G_N_ELEMENTS(exm_error_table) == EXM_ERROR_LAST);

static const ExmErrorInfo exm_error_internal = { 500, EXM_ERROR_CODE_GENERIC, "InternalError" };
/* Other libraries' domains with their per-code tables.  Few and registered
 * once at start-up, so a locked GArray is plenty. */
typedef struct {
	GQuark domain;
	const ExmErrorConversion *table;
	gsize n_entries;
} ExmErrorDomain;

static GMutex exm_error_registry_lock;
static GArray *exm_error_registry;

/**
 * exm_error_register:
 * @domain: an error domain of another library
 * @table: (array length=n_entries): its per-code conversions; static storage
 * @n_entries: their number
 *
 * Declares how errors of @domain answer over HTTP, code by code.
 */
void
exm_error_register(GQuark domain, const ExmErrorConversion *table, gsize n_entries)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&exm_error_registry_lock);
	ExmErrorDomain entry = { domain, table, n_entries };

	g_return_if_fail(domain != 0 && domain != EXM_ERROR);
	g_return_if_fail(table != NULL || n_entries == 0);
	if (exm_error_registry == NULL)
		exm_error_registry = g_array_new(FALSE, FALSE, sizeof(ExmErrorDomain));
	for (guint i = 0; i < exm_error_registry->len; i++) {
		if (g_array_index(exm_error_registry, ExmErrorDomain, i).domain == domain) {
			g_array_index(exm_error_registry, ExmErrorDomain, i) = entry;
			return;
		}
	}
	g_array_append_val(exm_error_registry, entry);
}

/* The registered conversion of (@domain, @code); %FALSE when there is none. */
static gboolean
error_lookup(GQuark domain, gint code, ExmErrorInfo *out)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&exm_error_registry_lock);

	for (guint i = 0; exm_error_registry != NULL && i < exm_error_registry->len; i++) {
		const ExmErrorDomain *d = &g_array_index(exm_error_registry, ExmErrorDomain, i);
		if (d->domain != domain)
			continue;
		for (gsize k = 0; k < d->n_entries; k++) {
			if (d->table[k].code != code)
				continue;
			out->status = d->table[k].status;
			out->code = d->table[k].body_code;
			out->type = d->table[k].type;
			return TRUE;
		}
		return FALSE;
	}
	return FALSE;
}

static ExmErrorInfo
error_info(const GError *error)
{
	ExmErrorInfo info = exm_error_internal;

	if (error->domain == EXM_ERROR) {
		if (error->code >= 0 && error->code < EXM_ERROR_LAST)
			info = exm_error_table[error->code];
		return info;
	}
	if (!error_lookup(error->domain, error->code, &info))
		info = exm_error_internal;
	return info;
}

/**
 * exm_error_http_status:
 * @error: (nullable): any GError
 *
 * Returns: the HTTP status for @error, 200 for %NULL
 */
guint
exm_error_http_status(const GError *error)
{
	if (error == NULL)
		return 200;
	return error_info(error).status;
}

/**
 * exm_error_type_name:
 * @error: a GError
 *
 * Returns: the restalchemy `type` string
 */
const gchar *
exm_error_type_name(const GError *error)
{
	g_return_val_if_fail(error != NULL, "InternalError");
	return error_info(error).type;
}

/* A JSON string literal escaped like Python's json.dumps (ensure_ascii). */
static gchar *
error_json_string(const gchar *text)
{
	g_autofree gchar *valid = g_utf8_make_valid(text != NULL ? text : "", -1);
	g_autoptr(JsonNode) node = json_node_new(JSON_NODE_VALUE);

	json_node_set_string(node, valid);
	return exm_json_canonical(node);
}

/**
 * exm_error_body:
 * @error: a GError
 *
 * Serialises @error the way the REST API answers.  Every 500 (unknown domains
 * and %EXM_ERROR_FAILED alike) reads `internal server error` with type
 * `InternalError` and code 10000001: such messages come from system calls and
 * libraries and may name paths or internals a client must not see.
 *
 * Returns: (transfer full): the JSON body
 */
gchar *
exm_error_body(const GError *error)
{
	ExmErrorInfo info;
	const gchar *message;
	g_autofree gchar *type = NULL;
	g_autofree gchar *msg = NULL;

	g_return_val_if_fail(error != NULL, NULL);
	if (error->domain == EXM_ERROR && error->code == EXM_ERROR_INVALID_TOKEN)
		return g_strdup("{\"error\":\"invalid_token\","
				"\"error_description\":\"Auth token has expired or is invalid\"}");
	info = error_info(error);
	message = info.status == 500 ? "internal server error" : error->message;
	type = error_json_string(info.type);
	msg = error_json_string(message);
	return g_strdup_printf("{\"type\":%s,\"code\":%d,\"message\":%s}", type, info.code, msg);
}
