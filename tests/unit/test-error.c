/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The error domain: status, restalchemy type names, and the exact bodies of
 * docs/rest-conventions.md §3.
 */
#include "exm-base.h"
#include "exm-test.h"

typedef struct {
	ExmErrorCode code;
	guint status;
	const gchar *type;
	gint body_code;
} ErrorRow;

static const ErrorRow rows[] = {
	{ EXM_ERROR_FAILED, 500, "InternalError", 10000001 },
	{ EXM_ERROR_PARSE_BODY, 400, "ParseBodyError", 400 },
	{ EXM_ERROR_PARSE, 400, "ParseError", 400 },
	{ EXM_ERROR_VALIDATION, 400, "ValidationError", 400 },
	{ EXM_ERROR_TYPE, 400, "TypeError", 400 },
	{ EXM_ERROR_PROPERTY_INCOMPATIBLE, 400, "ValidationPropertyIncompatibleError", 400 },
	{ EXM_ERROR_PROPERTY_REQUIRED, 400, "PropertyRequired", 400 },
	{ EXM_ERROR_READ_ONLY, 400, "ReadOnlyProperty", 400 },
	{ EXM_ERROR_FILTER_INCOMPATIBLE, 400, "ValidationFilterIncompatibleError", 400 },
	{ EXM_ERROR_SORT_DIR, 400, "ValidationSortInvalidDirValueError", 400 },
	{ EXM_ERROR_SORT_COUNT, 400, "ValidationSortIncompatibleDirCountError", 400 },
	{ EXM_ERROR_SORT_NUMBER, 400, "ValidationSortNumberError", 400 },
	{ EXM_ERROR_NOT_EQUAL_UUID, 400, "NotEqualUuidException", 400 },
	{ EXM_ERROR_FIELD_PERMISSION, 403, "FieldPermissionError", 403 },
	{ EXM_ERROR_POLICY_NOT_AUTHORIZED, 403, "PolicyNotAuthorized", 10000001 },
	{ EXM_ERROR_FORBIDDEN, 403, "Forbidden", 10000001 },
	{ EXM_ERROR_NOT_FOUND, 404, "RecordNotFound", 404 },
	{ EXM_ERROR_LOCATOR_NOT_FOUND, 404, "LocatorNotFound", 404 },
	{ EXM_ERROR_METHOD_NOT_ALLOWED, 405, "UnsupportedHttpMethod", 405 },
	{ EXM_ERROR_CONFLICT, 409, "ConflictRecords", 409 },
	{ EXM_ERROR_TOO_LARGE, 413, "RequestEntityTooLarge", 413 },
	{ EXM_ERROR_INVALID_TOKEN, 401, "invalid_token", 401 },
	{ EXM_ERROR_NOT_IMPLEMENTED, 501, "NotImplementedError", 501 },
	{ EXM_ERROR_UNAVAILABLE, 503, "ServiceUnavailable", 503 },
	{ EXM_ERROR_MODEL_TYPE, 400, "ModelTypeError", 400 },
	{ EXM_ERROR_INCORRECT_ROUTE, 404, "IncorrectRouteAttribute", 404 },
	{ EXM_ERROR_RESOURCE_NOT_FOUND, 404, "ResourceNotFoundError", 404 },
	{ EXM_ERROR_COLLECTION_NOT_FOUND, 404, "CollectionNotFoundError", 404 },
	{ EXM_ERROR_PATH_NOT_FOUND, 404, "NotFoundError", 404 },
	{ EXM_ERROR_UNSUPPORTED_METHOD, 404, "UnsupportedMethod", 404 },
	{ EXM_ERROR_INCORRECT_ACTION, 404, "IncorrectActionCall", 404 },
};
G_STATIC_ASSERT(G_N_ELEMENTS(rows) == EXM_ERROR_LAST);

static void
test_table(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_autoptr(GError) error = g_error_new_literal(EXM_ERROR, rows[i].code, "msg");
		g_autofree gchar *body = exm_error_body(error);
		g_autofree gchar *expected = NULL;

		g_assert_cmpint(rows[i].code, ==, i);
		g_assert_cmpuint(exm_error_http_status(error), ==, rows[i].status);
		g_assert_cmpstr(exm_error_type_name(error), ==, rows[i].type);
		if (rows[i].code == EXM_ERROR_INVALID_TOKEN)
			continue; /* OAuth shape, below */
		expected = g_strdup_printf("{\"type\":\"%s\",\"code\":%d,\"message\":\"%s\"}",
					   rows[i].type,
					   rows[i].body_code,
					   rows[i].status == 500 ? "internal server error" : "msg");
		g_assert_cmpstr(body, ==, expected);
	}
	g_assert_cmpuint(exm_error_http_status(NULL), ==, 200);
	g_assert_cmpint(EXM_ERROR_CODE_GENERIC, ==, 10000001);
}

static void
test_body_examples(void)
{
	/* The verified examples of docs/rest-conventions.md §3.2 */
	g_autoptr(GError) perm = g_error_new_literal(
		EXM_ERROR, EXM_ERROR_FIELD_PERMISSION, "Permission denied for field status.");
	g_autoptr(GError) policy =
		g_error_new_literal(EXM_ERROR,
				    EXM_ERROR_POLICY_NOT_AUTHORIZED,
				    "Policy rule exordos_mail.mail_instance.read is disallowed.");
	g_autoptr(GError) conflict = g_error_new_literal(
		EXM_ERROR,
		EXM_ERROR_CONFLICT,
		"Duplicate parameters for '<MailVersion 9d01d6a2-...>'. Original message: "
		"duplicate "
		"key value violates unique constraint \"mail_versions_name_key\"\nDETAIL:  Key "
		"(name)=(v1) already exists.");
	g_autofree gchar *b1 = exm_error_body(perm);
	g_autofree gchar *b2 = exm_error_body(policy);
	g_autofree gchar *b3 = exm_error_body(conflict);

	g_assert_cmpstr(b1,
			==,
			"{\"type\":\"FieldPermissionError\",\"code\":403,\"message\":\"Permission "
			"denied for "
			"field status.\"}");
	g_assert_cmpstr(b2,
			==,
			"{\"type\":\"PolicyNotAuthorized\",\"code\":10000001,\"message\":\"Policy "
			"rule exordos_mail.mail_instance.read is disallowed.\"}");
	g_assert_cmpstr(
		b3,
		==,
		"{\"type\":\"ConflictRecords\",\"code\":409,\"message\":\"Duplicate parameters for "
		"'<MailVersion 9d01d6a2-...>'. Original message: duplicate key value violates "
		"unique "
		"constraint \\\"mail_versions_name_key\\\"\\nDETAIL:  Key (name)=(v1) already "
		"exists.\"}");
}

static void
test_body_escapes(void)
{
	g_autoptr(GError) e =
		g_error_new_literal(EXM_ERROR,
				    EXM_ERROR_VALIDATION,
				    "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" \\ \t\x01 / </x>");
	g_autoptr(GError) bad_utf8 = g_error_new_literal(EXM_ERROR,
							 EXM_ERROR_PARSE,
							 "value a\xff"
							 "b");
	g_autofree gchar *body = exm_error_body(e);
	g_autofree gchar *body2 = exm_error_body(bad_utf8);

	/* json.dumps default: ASCII only, lower-case hex, surrogate pairs */
	g_assert_cmpstr(body,
			==,
			"{\"type\":\"ValidationError\",\"code\":400,\"message\":\"caf\\u00e9 "
			"\\ud83d\\ude00 \\\"q\\\" \\\\ \\t\\u0001 / </x>\"}");
	g_assert_cmpstr(body2,
			==,
			"{\"type\":\"ParseError\",\"code\":400,\"message\":\"value a\\ufffdb\"}");
}

static void
test_invalid_token(void)
{
	/* The OAuth shape, whatever the error's own message says */
	g_autoptr(GError) e = g_error_new_literal(
		EXM_ERROR, EXM_ERROR_INVALID_TOKEN, "audience mismatch: secret");
	g_autofree gchar *body = exm_error_body(e);

	g_assert_cmpuint(exm_error_http_status(e), ==, 401);
	g_assert_cmpstr(
		body,
		==,
		"{\"error\":\"invalid_token\",\"error_description\":\"Auth token has expired "
		"or is invalid\"}");
}

static void
test_foreign_domains(void)
{
	/* Unknown domains are 500s that never show their message */
	g_autoptr(GError) io = g_error_new_literal(
		G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "/etc/secret/path: no such file");
	g_autoptr(GError) file =
		g_error_new_literal(G_FILE_ERROR, G_FILE_ERROR_ACCES, "open /root/key: denied");
	g_autoptr(GError) out_of_range = g_error_new_literal(EXM_ERROR, EXM_ERROR_LAST, "x");
	g_autoptr(GError) negative = g_error_new_literal(EXM_ERROR, -1, "x");
	g_autofree gchar *b1 = exm_error_body(io);
	g_autofree gchar *b2 = exm_error_body(file);
	g_autofree gchar *b3 = exm_error_body(out_of_range);
	const gchar *internal = "{\"type\":\"InternalError\",\"code\":10000001,\"message\":"
				"\"internal server error\"}";

	g_assert_cmpuint(exm_error_http_status(io), ==, 500);
	g_assert_cmpstr(exm_error_type_name(io), ==, "InternalError");
	g_assert_cmpstr(b1, ==, internal);
	g_assert_cmpstr(b2, ==, internal);
	g_assert_cmpuint(exm_error_http_status(out_of_range), ==, 500);
	g_assert_cmpstr(b3, ==, internal);
	g_assert_cmpuint(exm_error_http_status(negative), ==, 500);
	g_assert_cmpstr(exm_error_type_name(negative), ==, "InternalError");
}

static GQuark
test_domain_a(void)
{
	return g_quark_from_static_string("exm-test-error-a");
}

static GQuark
test_domain_b(void)
{
	return g_quark_from_static_string("exm-test-error-b");
}

static void
test_register_400(void)
{
	g_autoptr(GError) a = g_error_new_literal(test_domain_a(), 7, "username is too long");
	g_autoptr(GError) b = g_error_new_literal(test_domain_b(), 1, "hidden");
	g_autofree gchar *body_a = NULL;
	g_autofree gchar *body_b = NULL;

	static const ExmErrorConversion table[] = { { 7, 400, 400, "ValidationError" } };

	g_assert_cmpuint(exm_error_http_status(a), ==, 500);
	exm_error_register(test_domain_a(), table, G_N_ELEMENTS(table));
	exm_error_register(test_domain_a(), table, G_N_ELEMENTS(table)); /* idempotent */
	g_assert_cmpuint(exm_error_http_status(a), ==, 400);
	g_assert_cmpstr(exm_error_type_name(a), ==, "ValidationError");
	body_a = exm_error_body(a);
	g_assert_cmpstr(body_a,
			==,
			"{\"type\":\"ValidationError\",\"code\":400,\"message\":\"username is too "
			"long\"}");
	/* registering one domain does not affect another */
	g_assert_cmpuint(exm_error_http_status(b), ==, 500);
	body_b = exm_error_body(b);
	g_assert_null(g_strstr_len(body_b, -1, "hidden"));
}

static gpointer
register_thread(gpointer data)
{
	static const ExmErrorConversion table[] = { { 0, 400, 400, "ValidationError" } };
	guint base = GPOINTER_TO_UINT(data);

	for (guint i = 0; i < 200; i++) {
		g_autofree gchar *name = g_strdup_printf("exm-test-thread-%u", (base + i) % 50);
		GQuark q = g_quark_from_string(name);
		g_autoptr(GError) e = g_error_new_literal(q, 0, "m");

		exm_error_register(q, table, G_N_ELEMENTS(table));
		if (exm_error_http_status(e) != 400)
			return GUINT_TO_POINTER(1);
	}
	return NULL;
}

static void
test_register_threads(void)
{
	GThread *threads[8];

	for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
		threads[i] = g_thread_new("reg", register_thread, GUINT_TO_POINTER(i * 7));
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
		g_assert_null(g_thread_join(threads[i]));
}

static void
test_prefix_chain(void)
{
	/* g_prefix_error keeps domain and code: the HTTP mapping survives chaining */
	g_autoptr(GError) e = g_error_new_literal(EXM_ERROR, EXM_ERROR_NOT_FOUND, "no such row");
	g_autofree gchar *body = NULL;

	g_prefix_error(&e, "mail account: ");
	body = exm_error_body(e);
	g_assert_cmpuint(exm_error_http_status(e), ==, 404);
	g_assert_cmpstr(body,
			==,
			"{\"type\":\"RecordNotFound\",\"code\":404,\"message\":\"mail account: no "
			"such row\"}");
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/error/table", test_table);
	g_test_add_func("/error/body/examples", test_body_examples);
	g_test_add_func("/error/body/escapes", test_body_escapes);
	g_test_add_func("/error/body/invalid-token", test_invalid_token);
	g_test_add_func("/error/foreign-domains", test_foreign_domains);
	g_test_add_func("/error/register-400", test_register_400);
	g_test_add_func("/error/register-400-threads", test_register_threads);
	g_test_add_func("/error/prefix-chain", test_prefix_chain);
	return g_test_run();
}
