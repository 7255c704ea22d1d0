/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzz target: the REST toolkit's handling of a request (common/rest/exm-rest.h):
 * route walking of the path, unpacking of the body for CREATE and UPDATE, the
 * list query and its SQL, on a route tree and a model shaped like the mail
 * service's.
 *
 * Input: byte 0 picks the HTTP method; then `path \n query \n body`, the query
 * being `key=value` pairs joined by `&` (already decoded, as libsoup hands them).
 *
 * Properties: every call either succeeds or fails with an EXM_ERROR whose HTTP
 * status is 400..499 (the walk may also answer 501 NOT_IMPLEMENTED, documented
 * for a member of a route without resources); a match carries the method the
 * HTTP method maps to and canonical UUIDs only; an unpacked value is of a field
 * the method may write, UUIDs canonical; a list's SQL holds no literal (values
 * only as $n parameters, each numbered within the parameter list).  The path
 * and query lines also go through exm_uuid_parse_lenient (a 400 `ParseError` or
 * a canonical UUID that parses to itself) and exm_time_parse (an
 * accepted time formats and parses back to the same microsecond).
 */
#include <string.h>

#include "exm-error.h"
#include "exm-rest.h"
#include "exm-time.h"
#include "exm-uuid.h"
#include "fuzz-common.h"

#define MOUNT "/v1/types/mail/"

static const ExmRestRoute accounts_route = {
	"accounts", "fuzz.AccountRoute", "AccountController", TRUE, TRUE, EXM_REST_CRUD, NULL, NULL,
	3,
};
static const ExmRestRoute *const instance_children[] = { &accounts_route, NULL };
static const gchar *const instance_actions[] = { "dns", "info", NULL };
static const ExmRestRoute instances_route = {
	"instances",   "fuzz.InstanceRoute", "InstanceController", FALSE, TRUE,
	EXM_REST_CRUD, instance_children,    instance_actions,	   2,
};
static const ExmRestRoute versions_route = {
	"versions",
	"fuzz.VersionRoute",
	"VersionController",
	FALSE,
	TRUE,
	EXM_REST_FILTER | EXM_REST_GET,
	NULL,
	NULL,
	1,
};
static const ExmRestRoute *const mount_children[] = { &versions_route, &instances_route, NULL };
static const ExmRestRoute mount_route = {
	"mail", "fuzz.MailRoute", "MailController", FALSE,
	FALSE,	EXM_REST_FILTER,  mount_children,   NULL,
	0,
};

static const ExmRestField instance_fields[] = {
	{ "uuid",
	  EXM_REST_TYPE_UUID,
	  EXM_REST_FIELD_READ_ONLY,
	  EXM_REST_RW,
	  EXM_REST_RO,
	  EXM_REST_RO,
	  NULL },
	{ "name",
	  EXM_REST_TYPE_STRING,
	  EXM_REST_FIELD_REQUIRED,
	  EXM_REST_RW,
	  EXM_REST_RW,
	  EXM_REST_RW,
	  NULL },
	{ "description",
	  EXM_REST_TYPE_STRING,
	  EXM_REST_FIELD_NULLABLE,
	  EXM_REST_RW,
	  EXM_REST_RW,
	  EXM_REST_RW,
	  NULL },
	{ "project_id",
	  EXM_REST_TYPE_UUID,
	  EXM_REST_FIELD_REQUIRED,
	  EXM_REST_RW,
	  EXM_REST_RO,
	  EXM_REST_RO,
	  NULL },
	{ "domain", EXM_REST_TYPE_STRING, 0, EXM_REST_RW, EXM_REST_RO, EXM_REST_RO, NULL },
	{ "status", EXM_REST_TYPE_STRING, 0, EXM_REST_RO, EXM_REST_RO, EXM_REST_RO, NULL },
	{ "ipsv4", EXM_REST_TYPE_STRING_LIST, 0, EXM_REST_RO, EXM_REST_RO, EXM_REST_RO, NULL },
	{ "cpu", EXM_REST_TYPE_INTEGER, 0, EXM_REST_RW, EXM_REST_RO, EXM_REST_RW, NULL },
	{ "active", EXM_REST_TYPE_BOOLEAN, 0, EXM_REST_RW, EXM_REST_RW, EXM_REST_RW, NULL },
	{ "version",
	  EXM_REST_TYPE_RELATIONSHIP,
	  0,
	  EXM_REST_RW,
	  EXM_REST_RO,
	  EXM_REST_RW,
	  "versions/" },
	{ "password",
	  EXM_REST_TYPE_STRING,
	  EXM_REST_FIELD_SECRET | EXM_REST_FIELD_NO_COLUMN,
	  EXM_REST_RW,
	  EXM_REST_HIDDEN,
	  EXM_REST_RW,
	  NULL },
	{ "created_at", EXM_REST_TYPE_TIMESTAMP, 0, EXM_REST_RO, EXM_REST_RO, EXM_REST_RO, NULL },
	{ "expires_at",
	  EXM_REST_TYPE_TIMESTAMP,
	  EXM_REST_FIELD_NULLABLE,
	  EXM_REST_RW,
	  EXM_REST_RW,
	  EXM_REST_RW,
	  NULL },
	{ NULL },
};
static const ExmRestModel instance_model = {
	"MailInstance",
	"fuzz.models.MailInstance",
	"mail_instances",
	instance_fields,
};

static const gchar *const http_methods[] = { "GET",    "POST", "PUT",	  "PATCH",
					     "DELETE", "HEAD", "OPTIONS", "get" };

static void
check_error(const GError *error, gboolean may_be_501, const gchar *what)
{
	guint status;

	EXM_FUZZ_CHECK(
		error != NULL && error->domain == EXM_ERROR, "%s: failure without EXM_ERROR", what);
	status = exm_error_http_status(error);
	EXM_FUZZ_CHECK((status >= 400 && status <= 499) ||
			       (may_be_501 && error->code == EXM_ERROR_NOT_IMPLEMENTED),
		       "%s: status %u: %s",
		       what,
		       status,
		       error->message);
}

static void
check_canonical_uuid(const gchar *id)
{
	g_autofree gchar *lower = g_ascii_strdown(id, -1);

	EXM_FUZZ_CHECK(exm_uuid_is_valid(id) && strlen(id) == 36 && g_str_equal(lower, id),
		       "not a canonical UUID: %s",
		       id);
}

static gboolean
load_any(const ExmRestRoute *route,
	 const gchar *id,
	 GPtrArray *parents,
	 gpointer user_data,
	 GError **error)
{
	check_canonical_uuid(id);
	return TRUE;
}

static gboolean
method_fits(const gchar *http, ExmRestMethod method)
{
	if (g_str_equal(http, "GET"))
		return method == EXM_REST_FILTER || method == EXM_REST_GET ||
		       method == EXM_REST_ACTION;
	if (g_str_equal(http, "POST"))
		return method == EXM_REST_CREATE;
	if (g_str_equal(http, "PUT") || g_str_equal(http, "PATCH"))
		return method == EXM_REST_UPDATE;
	return g_str_equal(http, "DELETE") && method == EXM_REST_DELETE;
}

static void
fuzz_walk(const gchar *http, const gchar *path)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmRestMatch) match =
		exm_rest_route_walk(&mount_route, http, path, load_any, NULL, &error);

	if (match == NULL) {
		check_error(error, TRUE, "walk");
		return;
	}
	EXM_FUZZ_CHECK(match->route != NULL && method_fits(http, match->method),
		       "%s %s matched method %d",
		       http,
		       path,
		       match->method);
	/* actions are listed apart from the CRUD mask */
	EXM_FUZZ_CHECK(match->method == EXM_REST_ACTION ||
			       (match->route->allow & match->method) != 0,
		       "a method the route does not allow");
	EXM_FUZZ_CHECK((match->method == EXM_REST_ACTION) == (match->action != NULL) &&
			       (match->action == NULL ||
				g_strv_contains(match->route->actions, match->action)),
		       "action %s",
		       match->action != NULL ? match->action : "(none)");
	if (match->id != NULL)
		check_canonical_uuid(match->id);
	for (guint k = 0; match->parents != NULL && k < match->parents->len; k++)
		check_canonical_uuid(((ExmRestRef *)g_ptr_array_index(match->parents, k))->id);
}

static void
fuzz_body(ExmRestMethod method, const gchar *body, gsize len)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmRestBody) unpacked =
		exm_rest_body_unpack(&instance_model, method, body, len, MOUNT, &error);

	if (unpacked == NULL) {
		check_error(error, FALSE, "body");
		return;
	}
	exm_fuzz_accepted();
	for (const ExmRestField *f = instance_fields; f->name != NULL; f++) {
		const ExmRestValue *v = exm_rest_body_get(unpacked, f->name);

		if (v == NULL)
			continue;
		EXM_FUZZ_CHECK(v->field == f &&
				       exm_rest_model_field_access(f, method) == EXM_REST_RW,
			       "unpacked %s which method %d may not write",
			       f->name,
			       method);
		EXM_FUZZ_CHECK(!v->is_null || (f->flags & EXM_REST_FIELD_NULLABLE) != 0,
			       "null for non-nullable %s",
			       f->name);
		if (!v->is_null &&
		    (f->type == EXM_REST_TYPE_UUID || f->type == EXM_REST_TYPE_RELATIONSHIP))
			check_canonical_uuid(v->str);
		if (!v->is_null && f->type == EXM_REST_TYPE_STRING_LIST)
			EXM_FUZZ_CHECK(v->list != NULL, "no list for %s", f->name);
	}
}

static void
check_sql(const gchar *sql, GPtrArray *params)
{
	EXM_FUZZ_CHECK(strchr(sql, '\'') == NULL && strchr(sql, ';') == NULL &&
			       strstr(sql, "--") == NULL,
		       "a literal in the SQL: %s",
		       sql);
	for (const gchar *p = strchr(sql, '$'); p != NULL; p = strchr(p + 1, '$')) {
		guint64 n = g_ascii_strtoull(p + 1, NULL, 10);

		EXM_FUZZ_CHECK(n >= 1 && n <= params->len,
			       "$%" G_GUINT64_FORMAT " of %u params: %s",
			       n,
			       params->len,
			       sql);
	}
}

static void
fuzz_query(const gchar *query_text)
{
	g_auto(GStrv) pairs = g_strsplit(query_text, "&", 64);
	g_autoptr(GArray) params = g_array_new(FALSE, FALSE, sizeof(ExmRestParam));
	g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmRestListQuery) query = NULL;
	g_autoptr(GPtrArray) sql_params = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) marker_params = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *sql = NULL;
	g_autofree gchar *marker_sql = NULL;

	for (guint k = 0; pairs[k] != NULL; k++) {
		gchar **kv = g_strsplit(pairs[k], "=", 2);
		ExmRestParam p = { kv[0] != NULL ? kv[0] : "",
				   kv[0] != NULL && kv[1] != NULL ? kv[1] : "" };

		g_ptr_array_add(owned, kv);
		if (*pairs[k] != '\0')
			g_array_append_val(params, p);
	}
	query = exm_rest_list_query_parse(&instance_model,
					  (const ExmRestParam *)(gpointer)params->data,
					  params->len,
					  MOUNT,
					  &error);
	if (query == NULL) {
		check_error(error, FALSE, "query");
		return;
	}
	sql = exm_rest_sql_list(query, &instance_model, "\"uuid\", \"name\"", sql_params);
	check_sql(sql, sql_params);
	marker_sql = exm_rest_sql_marker_check(query, &instance_model, marker_params);
	if (marker_sql != NULL)
		check_sql(marker_sql, marker_params);
}

static void
fuzz_scalars(const gchar *uuid_text, const gchar *time_text)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *uuid = exm_uuid_parse_lenient(uuid_text, "uuid", &error);
	gint64 usec = 0, again = 0;

	if (uuid == NULL) {
		EXM_FUZZ_CHECK(g_error_matches(error, EXM_ERROR, EXM_ERROR_PARSE) &&
				       exm_error_http_status(error) == 400,
			       "uuid refusal: %s",
			       error->message);
	} else {
		g_autofree gchar *uuid_again = exm_uuid_parse_lenient(uuid, "uuid", NULL);

		check_canonical_uuid(uuid);
		EXM_FUZZ_CHECK(
			g_strcmp0(uuid, uuid_again) == 0, "%s does not parse to itself", uuid);
	}
	if (exm_time_parse(time_text, &usec)) {
		g_autofree gchar *text = exm_time_format(usec);

		EXM_FUZZ_CHECK(strlen(text) == 27 && exm_time_parse(text, &again) && again == usec,
			       "%s -> %" G_GINT64_FORMAT " -> %s",
			       time_text,
			       usec,
			       text);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const gchar *http;
	g_autofree gchar *rest = NULL;
	g_auto(GStrv) parts = NULL;
	const gchar *body;

	exm_fuzz_begin(data, size);
	if (size == 0)
		return 0;
	http = http_methods[data[0] % G_N_ELEMENTS(http_methods)];
	rest = exm_fuzz_strndup(data + 1, size - 1);
	parts = g_strsplit(rest, "\n", 3);
	if (parts[0] == NULL || parts[1] == NULL)
		return 0;
	fuzz_walk(http, parts[0]);
	fuzz_query(parts[1]);
	fuzz_scalars(parts[0], parts[1]);
	/* The body as bytes, NULs included: only the path and query are strings. */
	body = parts[2] != NULL ? (const gchar *)data + 1 + strlen(parts[0]) + strlen(parts[1]) + 2
				: "";
	fuzz_body(EXM_REST_CREATE,
		  body,
		  parts[2] != NULL ? size - (gsize)(body - (const gchar *)data) : 0);
	fuzz_body(EXM_REST_UPDATE,
		  body,
		  parts[2] != NULL ? size - (gsize)(body - (const gchar *)data) : 0);
	return 0;
}
