/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The REST toolkit of libexm-base against docs/rest-conventions.md.
 */
#include <string.h>

#include "exm-error.h"
#include "exm-json.h"
#include "exm-rest.h"
#include "exm-time.h"
#include "exm-uuid.h"
#include "exm-test.h"

/* A tree shaped like the mail service (§1.1). */
static const ExmRestRoute children_route = {
	"accounts",
	"pkg.routes.ChildRoute",
	"ChildController",
	TRUE,
	TRUE,
	EXM_REST_CRUD,
	NULL,
	NULL,
	3,
};
static const ExmRestRoute *const parent_children[] = { &children_route, NULL };
static const gchar *const parent_actions[] = { "info", NULL };
static const gchar *const parent_invoke[] = { "restart", NULL };
static const ExmRestRoute parents_route = {
	"instances",   "pkg.routes.ParentRoute", "ParentController", FALSE, TRUE,
	EXM_REST_CRUD, parent_children,		 parent_actions,     2,	    parent_invoke,
};
static const ExmRestRoute readonly_route = {
	"access_keys",
	"pkg.routes.KeysRoute",
	"KeysController",
	FALSE,
	TRUE,
	EXM_REST_FILTER | EXM_REST_GET,
	NULL,
	NULL,
	4,
};
static const ExmRestRoute *const mount_children[] = { &readonly_route, &parents_route, NULL };
static const ExmRestRoute mount_route = {
	"mail", "pkg.routes.MailRoute", "MailController", FALSE,
	FALSE,	EXM_REST_FILTER,	mount_children,	  NULL,
	1,
};

#define U1 "84fe6e92-5b3c-4a1b-a124-de76b7b6c788"
#define U2 "587717c1-0000-4000-8000-000000000001"

typedef struct {
	GPtrArray *loads;
	const gchar *deny;
} LoadLog;

static gboolean
record_load(const ExmRestRoute *route,
	    const gchar *id,
	    GPtrArray *parents,
	    gpointer user_data,
	    GError **error)
{
	LoadLog *log = user_data;

	g_ptr_array_add(log->loads, g_strdup_printf("%s:%s", route->name, id));
	if (g_strcmp0(log->deny, id) == 0) {
		g_set_error(error, EXM_ERROR, EXM_ERROR_NOT_FOUND, "no such row");
		return FALSE;
	}
	return TRUE;
}

static ExmRestMatch *
walk(const gchar *method, const gchar *path, LoadLog *log, GError **error)
{
	return exm_rest_route_walk(&mount_route, method, path, record_load, log, error);
}

static void
test_walk_collections(void)
{
	LoadLog log = { g_ptr_array_new_with_free_func(g_free), NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmRestMatch) m = NULL;

	m = walk("GET", "", &log, &error);
	g_assert_no_error(error);
	g_assert_true(m->route == &mount_route);
	g_assert_cmpint(m->method, ==, EXM_REST_FILTER);
	g_clear_pointer(&m, exm_rest_route_match_free);

	m = walk("GET", "instances/", &log, &error);
	g_assert_no_error(error);
	g_assert_true(m->route == &parents_route);
	g_assert_cmpint(m->method, ==, EXM_REST_FILTER);
	g_assert_null(m->id);
	g_clear_pointer(&m, exm_rest_route_match_free);

	m = walk("POST", "instances/", &log, &error);
	g_assert_no_error(error);
	g_assert_cmpint(m->method, ==, EXM_REST_CREATE);
	g_clear_pointer(&m, exm_rest_route_match_free);

	/* `-` in a segment finds the `_` attribute */
	m = walk("GET", "access-keys/", &log, &error);
	g_assert_no_error(error);
	g_assert_true(m->route == &readonly_route);
	g_clear_pointer(&m, exm_rest_route_match_free);

	/* nested: parent loaded on the way */
	m = walk("POST", "instances/" U1 "/accounts/", &log, &error);
	g_assert_no_error(error);
	g_assert_true(m->route == &children_route);
	g_assert_cmpint(m->method, ==, EXM_REST_CREATE);
	g_assert_cmpuint(m->parents->len, ==, 1);
	g_assert_cmpstr(((ExmRestRef *)g_ptr_array_index(m->parents, 0))->id, ==, U1);
	g_assert_cmpuint(log.loads->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(log.loads, 0), ==, "instances:" U1);
	g_ptr_array_unref(log.loads);
}

static void
test_walk_resources(void)
{
	LoadLog log = { g_ptr_array_new_with_free_func(g_free), NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmRestMatch) m = NULL;
	const struct {
		const gchar *method;
		ExmRestMethod expect;
	} methods[] = {
		{ "GET", EXM_REST_GET },
		{ "PUT", EXM_REST_UPDATE },
		{ "PATCH", EXM_REST_UPDATE },
		{ "DELETE", EXM_REST_DELETE },
	};

	for (guint i = 0; i < G_N_ELEMENTS(methods); i++) {
		m = walk(methods[i].method, "instances/" U1, &log, &error);
		g_assert_no_error(error);
		g_assert_cmpint(m->method, ==, methods[i].expect);
		g_assert_cmpstr(m->id, ==, U1);
		g_clear_pointer(&m, exm_rest_route_match_free);
	}
	/* the final resource is not loaded by the walk */
	g_assert_cmpuint(log.loads->len, ==, 0);

	/* Python uuid leniency, canonical output */
	m = walk("GET", "instances/{84FE6E925B3C4A1BA124DE76B7B6C788}", &log, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(m->id, ==, U1);
	g_clear_pointer(&m, exm_rest_route_match_free);
	m = walk("GET", "instances/urn:uuid:" U1, &log, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(m->id, ==, U1);
	g_clear_pointer(&m, exm_rest_route_match_free);

	m = walk("GET", "instances/" U1 "/accounts/" U2, &log, &error);
	g_assert_no_error(error);
	g_assert_true(m->route == &children_route);
	g_assert_cmpstr(m->id, ==, U2);
	g_clear_pointer(&m, exm_rest_route_match_free);

	m = walk("GET", "instances/" U1 "/actions/info", &log, &error);
	g_assert_no_error(error);
	g_assert_cmpint(m->method, ==, EXM_REST_ACTION);
	g_assert_cmpstr(m->action, ==, "info");
	g_assert_cmpstr(m->id, ==, U1);
	g_assert_false(m->invoke);
	g_clear_pointer(&m, exm_rest_route_match_free);

	/* an invoke action: POST on `/invoke`, its resource loaded on the way */
	g_ptr_array_set_size(log.loads, 0);
	m = walk("POST", "instances/" U1 "/actions/restart/invoke", &log, &error);
	g_assert_no_error(error);
	g_assert_cmpint(m->method, ==, EXM_REST_ACTION);
	g_assert_cmpstr(m->action, ==, "restart");
	g_assert_true(m->invoke);
	g_assert_cmpstr(m->id, ==, U1);
	g_assert_cmpuint(log.loads->len, ==, 1);
	g_assert_cmpstr(log.loads->pdata[0], ==, "instances:" U1);
	g_ptr_array_unref(log.loads);
}

typedef struct {
	const gchar *method;
	const gchar *path;
	gint code;
	const gchar *message;
} WalkError;

static void
test_walk_errors(void)
{
	/* check-source: table */
	const WalkError cases[] = {
		{ "POST",
		  "",
		  EXM_ERROR_METHOD_NOT_ALLOWED,
		  "HTTP method 'CREATE' is not supported." },
		{ "GET",
		  "instances",
		  EXM_ERROR_METHOD_NOT_ALLOWED,
		  "HTTP method 'GET' is not supported." },
		{ "PUT",
		  "instances/",
		  EXM_ERROR_METHOD_NOT_ALLOWED,
		  "HTTP method 'PUT' is not supported." },
		{ "HEAD",
		  "instances/",
		  EXM_ERROR_METHOD_NOT_ALLOWED,
		  "HTTP method 'HEAD' is not supported." },
		{ "POST",
		  "instances/" U1,
		  EXM_ERROR_METHOD_NOT_ALLOWED,
		  "HTTP method 'POST' is not supported." },
		{ "POST",
		  "access_keys/",
		  EXM_ERROR_METHOD_NOT_ALLOWED,
		  "HTTP method 'CREATE' is not supported." },
		{ "DELETE",
		  "access_keys/" U1,
		  EXM_ERROR_METHOD_NOT_ALLOWED,
		  "HTTP method 'DELETE' is not supported." },
		{ "GET", "instances/nope", EXM_ERROR_PARSE, "Can't parse value: uuid=nope." },
		{ "GET",
		  "instances/" U1 "/accounts",
		  EXM_ERROR_PARSE,
		  "Can't parse value: uuid=None." },
		{ "GET",
		  "instances/" U1 "/bogus/",
		  EXM_ERROR_INCORRECT_ROUTE,
		  "Route <class 'pkg.routes.ParentRoute'> doesn't have method bogus." },
		{ "GET",
		  "instances/" U1 "/",
		  EXM_ERROR_INCORRECT_ROUTE,
		  "Route <class 'pkg.routes.ParentRoute'> doesn't have method ." },
		{ "GET",
		  "accounts/x",
		  EXM_ERROR_NOT_IMPLEMENTED,
		  "Not implemented ('method get in MailController')." },
		{ "GET",
		  "nothere/",
		  EXM_ERROR_NOT_IMPLEMENTED,
		  "Not implemented ('method get in MailController')." },
		{ "GET",
		  "instances/accounts/",
		  EXM_ERROR_RESOURCE_NOT_FOUND,
		  "Resource 'accounts' is not found on path: /instances/accounts/." },
		{ "GET",
		  "instances/" U1 "/actions/nope",
		  EXM_ERROR_INCORRECT_ROUTE,
		  "Route <class 'pkg.routes.ParentRoute'> doesn't have method nope." },
		{ "GET",
		  "instances/" U1 "/actions/info/",
		  EXM_ERROR_UNSUPPORTED_METHOD,
		  "Method '' is not supported for info." },
		{ "POST",
		  "instances/" U1 "/actions/info",
		  EXM_ERROR_INCORRECT_ACTION,
		  "Action info is incorrectly called with HTTP method POST." },
		/* invoke actions (§1.4): the verb against the form */
		{ "GET",
		  "instances/" U1 "/actions/restart/invoke",
		  EXM_ERROR_NOT_IMPLEMENTED,
		  "Not implemented." },
		{ "PUT",
		  "instances/" U1 "/actions/restart/invoke",
		  EXM_ERROR_NOT_IMPLEMENTED,
		  "Not implemented." },
		{ "DELETE",
		  "instances/" U1 "/actions/restart/invoke",
		  EXM_ERROR_INCORRECT_ACTION,
		  "Action restart is incorrectly called with HTTP method DELETE." },
		{ "POST",
		  "instances/" U1 "/actions/restart",
		  EXM_ERROR_INCORRECT_ACTION,
		  "Action restart is incorrectly called with HTTP method POST." },
		{ "GET",
		  "instances/" U1 "/actions/restart",
		  EXM_ERROR_INCORRECT_ACTION,
		  "Action restart is incorrectly called with HTTP method GET." },
		{ "GET",
		  "instances/" U1 "/actions/info/invoke",
		  EXM_ERROR_INCORRECT_ACTION,
		  "Action info is incorrectly called with HTTP method GET." },
		{ "POST",
		  "instances/" U1 "/actions/info/invoke",
		  EXM_ERROR_INCORRECT_ACTION,
		  "Action info is incorrectly called with HTTP method POST." },
		{ "POST",
		  "instances/" U1 "/actions/restart/invoke/",
		  EXM_ERROR_UNSUPPORTED_METHOD,
		  "Method 'invoke/' is not supported for restart." },
		{ "POST",
		  "instances/" U1 "/actions/restart/run",
		  EXM_ERROR_UNSUPPORTED_METHOD,
		  "Method 'run' is not supported for restart." },
		{ "POST",
		  "instances/" U1 "/actions/reboot/invoke",
		  EXM_ERROR_INCORRECT_ROUTE,
		  "Route <class 'pkg.routes.ParentRoute'> doesn't have method reboot." },
		{ "GET", "instances/\xff", EXM_ERROR_NOT_FOUND, "path is not valid utf-8" },
	};
	/* check-source: end */

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		LoadLog log = { g_ptr_array_new_with_free_func(g_free), NULL };
		g_autoptr(GError) error = NULL;
		g_autoptr(ExmRestMatch) m = walk(cases[i].method, cases[i].path, &log, &error);
		g_test_message("%s %s", cases[i].method, cases[i].path);
		g_assert_null(m);
		g_assert_error(error, EXM_ERROR, cases[i].code);
		g_assert_cmpstr(error->message, ==, cases[i].message);
		g_ptr_array_unref(log.loads);
	}
}

/* An action's keyword arguments from a request with @ct, @body and @query. */
static JsonObject *
kwargs(const gchar *ct, const gchar *body, const ExmRestParam *query, gsize n, GError **error)
{
	static const gchar *const secrets[] = { "key", NULL };
	ExmRestCrud r = { 0 };

	r.content_type = ct;
	r.body = body;
	r.body_len = body != NULL ? strlen(body) : 0;
	r.query = query;
	r.n_query = n;
	return exm_rest_crud_action_kwargs(&r, secrets, error);
}

static gchar *
kwargs_text(JsonObject *o)
{
	g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);

	json_node_set_object(node, o);
	return json_to_string(node, FALSE);
}

/* upstream's rule (§1.4): the JSON object only for exactly application/json
 * with a body; else the query string, then an urlencoded form */
static void
test_action_kwargs(void)
{
	static const ExmRestParam query[] = { { (gchar *)"force", (gchar *)"true" },
					      { (gchar *)"n", (gchar *)"1" } };
	g_autoptr(GError) error = NULL;
	JsonObject *o;
	gchar *text;

	o = kwargs("application/json", "{\"key\": \"s3cret\", \"n\": 2}", query, 2, &error);
	g_assert_no_error(error);
	text = kwargs_text(o);
	g_assert_cmpstr(text, ==, "{\"key\":\"s3cret\",\"n\":2}");
	g_free(text);
	json_object_unref(o);

	/* not exactly application/json: the body is not read as JSON */
	o = kwargs("application/json; charset=utf-8", "{\"n\": 2}", query, 2, &error);
	g_assert_no_error(error);
	text = kwargs_text(o);
	g_assert_cmpstr(text, ==, "{\"force\":\"true\",\"n\":\"1\"}");
	g_free(text);
	json_object_unref(o);

	/* an empty JSON body: the query string */
	o = kwargs("application/json", "", query, 1, &error);
	g_assert_no_error(error);
	text = kwargs_text(o);
	g_assert_cmpstr(text, ==, "{\"force\":\"true\"}");
	g_free(text);
	json_object_unref(o);

	/* a form: its fields after the query's, all strings */
	o = kwargs("application/x-www-form-urlencoded", "n=3&key=a%2Bb+c", query, 2, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(json_object_get_string_member(o, "n"), ==, "3");
	g_assert_cmpstr(json_object_get_string_member(o, "key"), ==, "a+b c");
	g_assert_cmpstr(json_object_get_string_member(o, "force"), ==, "true");
	json_object_unref(o);

	/* JSON that is not an object, or not JSON: a 400 */
	g_assert_null(kwargs("application/json", "[1]", NULL, 0, &error));
	g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE_BODY);
	g_clear_error(&error);
	g_assert_null(kwargs("application/json", "{\"key\": ", NULL, 0, &error));
	g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE_BODY);
	g_clear_error(&error);
	g_assert_null(kwargs("application/x-www-form-urlencoded", "a=%zz", NULL, 0, &error));
	g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE_BODY);
}

static void
test_walk_load_order(void)
{
	LoadLog log = { g_ptr_array_new_with_free_func(g_free), U1 };
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmRestMatch) m = NULL;

	/* the parent's 404 wins over a bad route after it (§1.2 table) */
	m = walk("GET", "instances/" U1 "/bogus/", &log, &error);
	g_assert_null(m);
	g_assert_error(error, EXM_ERROR, EXM_ERROR_NOT_FOUND);
	g_assert_cmpstr(error->message, ==, "no such row");
	g_clear_error(&error);
	/* but a bad id is a 400 before any load */
	m = walk("GET", "instances/xyz/accounts/", &log, &error);
	g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE);
	g_assert_cmpuint(log.loads->len, ==, 1);
	g_ptr_array_unref(log.loads);
}

static void
test_route_list(void)
{
	g_autoptr(JsonNode) n = exm_rest_route_list_json(&mount_route);
	g_autofree gchar *s = exm_json_to_string(n);

	g_assert_cmpstr(s, ==, "[\"access_keys\",\"instances\"]");
}

/* ------------------------------------------------------------------ bodies */

static const ExmRestField thing_fields[] = {
	{ "uuid",
	  EXM_REST_TYPE_UUID,
	  EXM_REST_FIELD_READ_ONLY,
	  EXM_REST_RW,
	  EXM_REST_RO,
	  EXM_REST_RW,
	  NULL },
	{ "name",
	  EXM_REST_TYPE_STRING,
	  EXM_REST_FIELD_REQUIRED,
	  EXM_REST_RW,
	  EXM_REST_RW,
	  EXM_REST_RW,
	  NULL },
	{ "note",
	  EXM_REST_TYPE_STRING,
	  EXM_REST_FIELD_NULLABLE,
	  EXM_REST_RW,
	  EXM_REST_RW,
	  EXM_REST_RW,
	  NULL },
	{ "domain", EXM_REST_TYPE_STRING, 0, EXM_REST_RW, EXM_REST_RO, EXM_REST_RO, NULL },
	{ "status", EXM_REST_TYPE_STRING, 0, EXM_REST_RO, EXM_REST_RO, EXM_REST_RO, NULL },
	{ "cpu", EXM_REST_TYPE_INTEGER, 0, EXM_REST_RW, EXM_REST_RW, EXM_REST_RW, NULL },
	{ "active", EXM_REST_TYPE_BOOLEAN, 0, EXM_REST_RW, EXM_REST_RW, EXM_REST_RW, NULL },
	{ "ips", EXM_REST_TYPE_STRING_LIST, 0, EXM_REST_RW, EXM_REST_RW, EXM_REST_RW, NULL },
	{ "created_at", EXM_REST_TYPE_TIMESTAMP, 0, EXM_REST_RW, EXM_REST_RO, EXM_REST_RW, NULL },
	{ "version",
	  EXM_REST_TYPE_RELATIONSHIP,
	  0,
	  EXM_REST_RW,
	  EXM_REST_RO,
	  EXM_REST_RO,
	  "versions/" },
	{ "secret",
	  EXM_REST_TYPE_STRING,
	  EXM_REST_FIELD_SECRET,
	  EXM_REST_RW,
	  EXM_REST_HIDDEN,
	  EXM_REST_RW,
	  NULL },
	{ NULL },
};
static const ExmRestModel thing_model = { "Thing", "pkg.models.Thing", "things", thing_fields };

#define MOUNT "/v1/types/mail/"

static ExmRestBody *
unpack(ExmRestMethod method, const gchar *json, GError **error)
{
	return exm_rest_body_unpack(&thing_model, method, json, strlen(json), MOUNT, error);
}

static void
test_body_values(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmRestBody) b =
		unpack(EXM_REST_CREATE,
		       "{\"name\":\"x\",\"note\":null,\"cpu\":4,\"active\":false,"
		       "\"ips\":[\"1.2.3.4\"],\"created_at\":\"2024-01-02T03:04:05.5Z\","
		       "\"version\":\"/v1/types/mail/versions/" U1 "\",\"uuid\":\"" U1
		       "\",\"domain\":\"a.b\"}",
		       &error);
	const ExmRestValue *v;

	g_assert_no_error(error);
	g_assert_cmpstr(exm_rest_body_get(b, "name")->str, ==, "x");
	g_assert_true(exm_rest_body_get(b, "note")->is_null);
	g_assert_cmpint(exm_rest_body_get(b, "cpu")->num, ==, 4);
	g_assert_cmpint(exm_rest_body_get(b, "active")->num, ==, 0);
	v = exm_rest_body_get(b, "ips");
	g_assert_cmpuint(v->list->len, ==, 1);
	g_assert_cmpint(exm_rest_body_get(b, "created_at")->num, ==, 1704164645500000);
	g_assert_cmpstr(exm_rest_body_get(b, "version")->str, ==, U1);
	g_assert_cmpstr(exm_rest_body_get(b, "uuid")->str, ==, U1);
	g_assert_null(exm_rest_body_get(b, "status"));
}

typedef struct {
	ExmRestMethod method;
	const gchar *body;
	gint code;
	const gchar *message;
} BodyError;

static void
test_body_errors(void)
{
	const BodyError cases[] = {
		{ EXM_REST_CREATE,
		  "",
		  EXM_ERROR_PARSE_BODY,
		  "Can't parse body with specified content-type." },
		{ EXM_REST_CREATE, "[1]", EXM_ERROR_PARSE_BODY, NULL },
		{ EXM_REST_CREATE, "{\"a\":1e999}", EXM_ERROR_PARSE_BODY, NULL },
		{ EXM_REST_CREATE, "{\"name\":\"a\\u0000\"}", EXM_ERROR_PARSE_BODY, NULL },
		{ EXM_REST_CREATE,
		  "{\"status\":\"ACTIVE\"}",
		  EXM_ERROR_FIELD_PERMISSION,
		  "Permission denied for field status." },
		{ EXM_REST_UPDATE,
		  "{\"domain\":\"x\"}",
		  EXM_ERROR_FIELD_PERMISSION,
		  "Permission denied for field domain." },
		{ EXM_REST_CREATE,
		  "{\"bogus\":1,\"name\":\"x\",\"other\":\"it's\"}",
		  EXM_ERROR_PROPERTY_INCOMPATIBLE,
		  "{'bogus': 1, 'other': \"it's\"} is not compatible with model Thing" },
		{ EXM_REST_CREATE,
		  "{\"cpu\":\"4\"}",
		  EXM_ERROR_TYPE,
		  "Invalid type value '4' for 'Integer'." },
		{ EXM_REST_UPDATE,
		  "{\"cpu\":\"4\"}",
		  EXM_ERROR_MODEL_TYPE,
		  "Invalid type value '4'(<class 'str'>) for 'Thing.cpu'(Integer)." },
		{ EXM_REST_CREATE, "{\"cpu\":4.0}", EXM_ERROR_TYPE, NULL },
		{ EXM_REST_CREATE, "{\"active\":\"no\"}", EXM_ERROR_TYPE, NULL },
		{ EXM_REST_CREATE, "{\"ips\":[1]}", EXM_ERROR_TYPE, NULL },
		{ EXM_REST_CREATE, "{\"name\":null}", EXM_ERROR_PROPERTY_REQUIRED, NULL },
		{ EXM_REST_CREATE, "{\"cpu\":null}", EXM_ERROR_TYPE, NULL },
		{ EXM_REST_CREATE,
		  "{\"uuid\":\"x\"}",
		  EXM_ERROR_PARSE,
		  "Can't parse value: uuid=x." },
		{ EXM_REST_CREATE, "{\"uuid\":5}", EXM_ERROR_PARSE, "Can't parse value: uuid=5." },
		{ EXM_REST_CREATE,
		  "{\"created_at\":\"2024-01-02T03:04:05+03:00\"}",
		  EXM_ERROR_PARSE,
		  NULL },
		{ EXM_REST_CREATE,
		  "{\"version\":\"" U1 "\"}",
		  EXM_ERROR_LOCATOR_NOT_FOUND,
		  "Locator is not found for URI " U1 ". Thus resource could not be found." },
		{ EXM_REST_CREATE,
		  "{\"version\":\"/v1/types/mail/instances/" U1 "\"}",
		  EXM_ERROR_LOCATOR_NOT_FOUND,
		  NULL },
		{ EXM_REST_CREATE,
		  "{\"version\":\"/v1/types/mail/versions/" U1 "/x\"}",
		  EXM_ERROR_LOCATOR_NOT_FOUND,
		  NULL },
		{ EXM_REST_CREATE,
		  "{\"secret\":42}",
		  EXM_ERROR_TYPE,
		  "Invalid type value '<hidden>' for 'String'." },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(ExmRestBody) b = unpack(cases[i].method, cases[i].body, &error);
		g_test_message("%s", cases[i].body);
		g_assert_null(b);
		g_assert_error(error, EXM_ERROR, cases[i].code);
		if (cases[i].message != NULL)
			g_assert_cmpstr(error->message, ==, cases[i].message);
	}
}

/* Checks run field by field in model order (name before status), each field's
 * permission before its conversion; leftover keys last. */
static void
test_body_order(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmRestBody) b =
		unpack(EXM_REST_CREATE, "{\"bogus\":1,\"status\":\"A\",\"name\":5}", &error);

	g_assert_error(error, EXM_ERROR, EXM_ERROR_TYPE);
	g_clear_error(&error);
	b = unpack(EXM_REST_CREATE, "{\"bogus\":1,\"cpu\":\"x\",\"status\":\"A\"}", &error);
	g_assert_error(error, EXM_ERROR, EXM_ERROR_FIELD_PERMISSION);
	g_clear_error(&error);
	b = unpack(EXM_REST_CREATE, "{\"bogus\":1,\"cpu\":\"x\"}", &error);
	g_assert_error(error, EXM_ERROR, EXM_ERROR_TYPE);
	g_clear_error(&error);
	b = unpack(EXM_REST_CREATE, "{\"bogus\":1,\"cpu\":1}", &error);
	g_assert_error(error, EXM_ERROR, EXM_ERROR_PROPERTY_INCOMPATIBLE);
}

/* ------------------------------------------------------------------ lists */

static ExmRestListQuery *
query(const gchar *const *kv, GError **error)
{
	ExmRestParam p[16];
	gsize n = 0;

	for (; kv[2 * n] != NULL; n++) {
		p[n].key = kv[2 * n];
		p[n].value = kv[2 * n + 1];
	}
	return exm_rest_list_query_parse(&thing_model, p, n, MOUNT, error);
}

static void
test_list_query(void)
{
	const gchar *kv[] = { "name",	    "a",    "name",	   "b",
			      "cpu",	    "4",    "active",	   "YES",
			      "page_limit", "2",    "page_marker", U1,
			      "sort_key",   "name", "sort_dir",	   "DESC",
			      "fields",	    "name", "version",	   "/v1/types/mail/versions/" U2,
			      NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmRestListQuery) q = query(kv, &error);
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *sql = NULL;
	ExmRestFilter *f;

	g_assert_no_error(error);
	f = exm_rest_list_query_get_filter(q, "name");
	g_assert_cmpuint(f->values->len, ==, 2);
	g_assert_cmpstr(exm_rest_list_query_get_filter(q, "active")->values->pdata[0], ==, "true");
	g_assert_cmpstr(exm_rest_list_query_get_filter(q, "version")->values->pdata[0], ==, U2);
	g_assert_cmpuint(q->limit, ==, 2);
	g_assert_cmpstr(q->marker, ==, U1);
	g_assert_cmpstr(q->sort_key->name, ==, "name");
	g_assert_true(q->sort_desc);
	g_assert_cmpuint(q->fields->len, ==, 1);
	exm_rest_list_query_add_filter(q, &thing_model, "uuid", U2);

	sql = exm_rest_sql_list(q, &thing_model, "\"uuid\"::text", params);
	g_assert_cmpstr(
		sql,
		==,
		"SELECT \"uuid\"::text FROM \"things\" WHERE TRUE AND (\"name\" = $1::text OR "
		"\"name\" = $2::text) AND (\"cpu\" = $3::bigint) AND (\"active\" = "
		"$4::boolean) AND (\"version\" = $5::uuid) AND (\"uuid\" = $6::uuid) AND "
		"((\"name\" < (SELECT \"name\" FROM \"things\" WHERE \"uuid\" = $7::uuid) OR "
		"(\"name\" IS NOT NULL AND (SELECT \"name\" FROM \"things\" WHERE \"uuid\" = "
		"$7::uuid) IS NULL)) OR (\"name\" IS NOT DISTINCT FROM (SELECT \"name\" FROM "
		"\"things\" WHERE \"uuid\" = $7::uuid) AND \"uuid\" > $7::uuid)) ORDER BY "
		"\"name\" DESC NULLS FIRST, \"uuid\" ASC LIMIT 2");
	g_assert_cmpuint(params->len, ==, 7);
	g_assert_cmpstr(params->pdata[0], ==, "a");
	g_assert_cmpstr(params->pdata[6], ==, U1);

	g_clear_pointer(&sql, g_free);
	g_ptr_array_set_size(params, 0);
	sql = exm_rest_sql_marker_check(q, &thing_model, params);
	g_assert_cmpstr(
		sql,
		==,
		"SELECT 1 FROM \"things\" WHERE TRUE AND (\"name\" = $1::text OR \"name\" = "
		"$2::text) AND (\"cpu\" = $3::bigint) AND (\"active\" = $4::boolean) AND "
		"(\"version\" = $5::uuid) AND (\"uuid\" = $6::uuid) AND \"uuid\" = $7::uuid");
	g_assert_cmpuint(params->len, ==, 7);
}

static void
test_list_query_plain(void)
{
	const gchar *kv[] = { "ips", "1.2.3.4", "page_marker", U1, NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmRestListQuery) q = query(kv, &error);
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *sql = NULL;

	g_assert_no_error(error);
	sql = exm_rest_sql_list(q, &thing_model, "*", params);
	g_assert_cmpstr(
		sql,
		==,
		"SELECT * FROM \"things\" WHERE TRUE AND (\"ips\"::text[] = ARRAY[$1::text]) "
		"AND \"uuid\" > $2::uuid ORDER BY \"uuid\" ASC");
	g_assert_null(exm_rest_sql_marker_check(q, &thing_model, params));
}

typedef struct {
	const gchar *kv[7];
	gint code;
	const gchar *message;
} QueryError;

static void
test_list_query_errors(void)
{
	const QueryError cases[] = {
		{ { "bogus", "1", NULL },
		  EXM_ERROR_FILTER_INCOMPATIBLE,
		  "Filter 'bogus' is not supported" },
		{ { "cpu", "x", NULL }, EXM_ERROR_PARSE, "Can't parse value: cpu=x." },
		{ { "uuid", "x", NULL }, EXM_ERROR_PARSE, "Can't parse value: uuid=x." },
		{ { "version", U1, NULL }, EXM_ERROR_LOCATOR_NOT_FOUND, NULL },
		{ { "page_limit", "-1", NULL }, EXM_ERROR_PARSE, "Can't parse value: -1." },
		{ { "page_limit", "abc", NULL }, EXM_ERROR_PARSE, NULL },
		{ { "page_marker", "zz", NULL }, EXM_ERROR_PARSE, "Can't parse value: uuid=zz." },
		{ { "sort_key", "name", "sort_dir", "up", NULL },
		  EXM_ERROR_SORT_DIR,
		  "Direction up is not valid for sorting." },
		{ { "sort_key", "name", "sort_key", "cpu", NULL }, EXM_ERROR_SORT_NUMBER, NULL },
		{ { "sort_key", "name", "sort_dir", "asc", "sort_dir", "desc", NULL },
		  EXM_ERROR_SORT_COUNT,
		  NULL },
		{ { "sort_key", "bogus", NULL }, EXM_ERROR_VALIDATION, NULL },
		{ { "sort_key", "secret", NULL }, EXM_ERROR_VALIDATION, NULL },
		{ { "secret", "x", NULL }, EXM_ERROR_FILTER_INCOMPATIBLE, NULL },
		{ { "name", "\xff", NULL }, EXM_ERROR_PARSE, NULL },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(ExmRestListQuery) q = query(cases[i].kv, &error);
		g_test_message("case %u", i);
		g_assert_null(q);
		g_assert_error(error, EXM_ERROR, cases[i].code);
		if (cases[i].message != NULL)
			g_assert_cmpstr(error->message, ==, cases[i].message);
	}
}

/* ------------------------------------------------------------------ output */

static void
test_pack(void)
{
	g_autoptr(JsonNode) n =
		json_from_string("{\"uuid\":\"" U1 "\",\"name\":\"x\",\"note\":null,"
				 "\"secret\":\"h\",\"cpu\":1,\"extra\":1}",
				 NULL);
	g_autofree gchar *s = NULL;
	g_autoptr(GPtrArray) fields = g_ptr_array_new();

	exm_rest_model_pack(json_node_get_object(n), &thing_model, EXM_REST_GET, NULL);
	s = exm_json_to_string(n);
	g_assert_cmpstr(s, ==, "{\"uuid\":\"" U1 "\",\"name\":\"x\",\"cpu\":1}");
	g_clear_pointer(&s, g_free);
	g_ptr_array_add(fields, "cpu");
	exm_rest_model_pack(json_node_get_object(n), &thing_model, EXM_REST_FILTER, fields);
	s = exm_json_to_string(n);
	g_assert_cmpstr(s, ==, "{\"cpu\":1}");
}

/* ------------------------------------------------------------------ IAM */

static gboolean
allows(const gchar *const *perms, const gchar *rule)
{
	g_autoptr(ExmRestEnforcer) e = exm_rest_enforcer_new(perms);

	return exm_rest_enforcer_allows(e, rule);
}

static void
test_enforcer(void)
{
	const gchar *const all[] = { "*.*.*", NULL };
	const gchar *const svc[] = { "exordos_mail.*.*", NULL };
	const gchar *const one[] = { "exordos_mail.account.read", NULL };
	const gchar *const shadow1[] = { "svc.bar.update", "svc.*.read", NULL };
	const gchar *const shadow2[] = { "*.foo.read", "svc.bar.read", NULL };
	const gchar *const junk[] = { "nonsense", "a.b", "a.b.c.d", NULL };
	g_autoptr(ExmRestEnforcer) e = exm_rest_enforcer_new(one);
	g_autoptr(GError) error = NULL;

	g_assert_true(allows(all, "exordos_mail.mail_instance.create"));
	g_assert_true(allows(svc, "exordos_mail.account.delete"));
	g_assert_false(allows(svc, "exordos_s3.bucket.read"));
	g_assert_true(allows(one, "exordos_mail.account.read"));
	g_assert_false(allows(one, "exordos_mail.account.update"));
	g_assert_false(allows(one, "exordos_mail.mail_instance.read"));
	g_assert_false(allows(shadow1, "svc.bar.update"));
	g_assert_true(allows(shadow1, "svc.bar.read"));
	g_assert_true(allows(shadow2, "svc.bar.read"));
	g_assert_false(allows(junk, "a.b.c"));
	g_assert_false(allows(NULL, "a.b.c"));
	g_assert_false(exm_rest_enforcer_check(e, "exordos_mail.account.update", &error));
	g_assert_error(error, EXM_ERROR, EXM_ERROR_POLICY_NOT_AUTHORIZED);
	g_assert_cmpstr(
		error->message, ==, "Policy rule exordos_mail.account.update is disallowed.");
}

/*
 * gcl_iam's enforcer as it was built before (three hash-table levels, each a
 * `*` key shadowing the rest once it exists), kept here as the oracle the
 * walked grants of exm-rest-enforcer.c must answer like.
 */
static GHashTable *
oracle_level(GHashTable *level, const gchar *key, GDestroyNotify value_free)
{
	const gchar *k = g_hash_table_contains(level, "*") ? "*" : key;
	GHashTable *child = g_hash_table_lookup(level, k);

	if (child == NULL) {
		child = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, value_free);
		g_hash_table_insert(level, g_strdup(k), child);
	}
	return child;
}

static GHashTable *
oracle_lookup(GHashTable *level, const gchar *key)
{
	return g_hash_table_lookup(level, g_hash_table_contains(level, "*") ? "*" : key);
}

static gboolean
oracle_allows(const gchar *const *perms, const gchar *rule)
{
	g_autoptr(GHashTable) services = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_unref);
	g_auto(GStrv) want = g_strsplit(rule, ".", -1);
	GHashTable *resources;
	GHashTable *actions;

	for (guint i = 0; perms != NULL && perms[i] != NULL; i++) {
		g_auto(GStrv) parts = g_strsplit(perms[i], ".", -1);
		if (g_strv_length(parts) != 3)
			continue;
		resources = oracle_level(services, parts[0], (GDestroyNotify)g_hash_table_unref);
		actions = oracle_level(resources, parts[1], NULL);
		g_hash_table_add(actions, g_strdup(parts[2]));
	}
	if (g_strv_length(want) != 3 || (resources = oracle_lookup(services, want[0])) == NULL ||
	    (actions = oracle_lookup(resources, want[1])) == NULL)
		return FALSE;
	return g_hash_table_contains(actions, want[2]) || g_hash_table_contains(actions, "*");
}

/* Random grant lists over a small alphabet (wildcards and malformed grants
 * included), every rule over it: the enforcer answers as the oracle. */
static void
test_enforcer_oracle(void)
{
	static const gchar *const names[] = { "a", "b", "*", "" };
	static const gchar *const junk[] = { "a.x", "a.x.r.s", "", ".", "a..r", "..", "*.*" };
	g_autoptr(GPtrArray) rules = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < 64; i++)
		g_ptr_array_add(
			rules,
			g_strjoin(".", names[i % 4], names[(i / 4) % 4], names[i / 16], NULL));
	for (guint i = 0; i < G_N_ELEMENTS(junk); i++)
		g_ptr_array_add(rules, g_strdup(junk[i]));
	for (guint round = 0; round < 3000; round++) {
		g_autoptr(GPtrArray) perms = g_ptr_array_new_with_free_func(g_free);
		guint n = (guint)g_test_rand_int_range(0, 7);
		g_autoptr(ExmRestEnforcer) e = NULL;

		for (guint i = 0; i < n; i++) {
			guint pick = (guint)g_test_rand_int_range(0, 64 + G_N_ELEMENTS(junk));
			g_ptr_array_add(perms, g_strdup(g_ptr_array_index(rules, pick)));
		}
		g_ptr_array_add(perms, NULL);
		e = exm_rest_enforcer_new((const gchar *const *)perms->pdata);
		for (guint r = 0; r < rules->len; r++) {
			const gchar *rule = g_ptr_array_index(rules, r);
			gboolean want = oracle_allows((const gchar *const *)perms->pdata, rule);
			if (exm_rest_enforcer_allows(e, rule) != want)
				g_test_fail_printf(
					"round %u: rule %s: expected %d", round, rule, want);
		}
	}
}

/* A parent loaded for a create that named what it reads: only those columns
 * are selected, and reading another field of the row is a critical, not a
 * silent NULL (ExmRestKind.create_reads_parent). */
static void
test_partial_row(void)
{
	static const gchar *const only[] = { "uuid", "created_at", "nosuch", NULL };
	const gchar *columns = exm_rest_sql_columns_of(&thing_model, only);
	ExmRestRow *row = g_new0(ExmRestRow, 1);
	g_autoptr(GString) out = g_string_new(NULL);

	/* a timestamp bare: exm_rest_row_new() reads its ISO text */
	g_assert_cmpstr(columns, ==, "\"uuid\", \"created_at\"");
	g_assert_true(exm_rest_sql_columns_of(&thing_model, only) == columns); /* built once */
	row->model = &thing_model;
	for (const ExmRestField *f = thing_model.fields; f->name != NULL; f++)
		row->n_fields++;
	row->raw = g_new0(gchar *, row->n_fields + 1);
	row->raw[0] = g_strdup(U1);
	row->only = only;
	g_assert_cmpstr(exm_rest_row_get(row, "uuid"), ==, U1);
	g_test_expect_message("exm-rest", G_LOG_LEVEL_CRITICAL, "field name of a partial Thing*");
	g_assert_null(exm_rest_row_get(row, "name"));
	g_test_assert_expected_messages();
	g_test_expect_message("exm-rest", G_LOG_LEVEL_CRITICAL, "a partial Thing row is never*");
	exm_rest_row_write(out, row, MOUNT, NULL);
	g_test_assert_expected_messages();
	exm_rest_row_free(row);
}

/* A one-row result with @names' columns holding @values (NULL: SQL NULL),
 * as PostgreSQL would send it: the row needs no server. */
static PGresult *
fake_result(const gchar *const *names, const gchar *const *values, guint n)
{
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	g_autofree PGresAttDesc *attrs = g_new0(PGresAttDesc, n);

	for (guint i = 0; i < n; i++) {
		attrs[i].name = (char *)names[i];
		attrs[i].typlen = -1;
	}
	g_assert_true(PQsetResultAttrs(res, (int)n, attrs));
	for (guint i = 0; i < n; i++)
		g_assert_true(PQsetvalue(res,
					 0,
					 (int)i,
					 (char *)values[i],
					 values[i] != NULL ? (int)strlen(values[i]) : -1));
	return res;
}

/* The canonical text a row makes of what a bare SELECT list reads: a
 * boolean's t/f, a timestamp's ISO text, a text[]'s `{…}` as the JSON list
 * a body's list gives (so that a list re-sent unchanged compares equal). */
static void
test_row_canonical(void)
{
	static const gchar *const names[] = { "active", "ips", "created_at" };
	const struct {
		const gchar *active, *ips, *created, *want_active, *want_ips, *want_created;
	} cases[] = {
		{ "t", "{}", "2026-01-02 03:04:05", "true", "[]", "1767323045000000" },
		{ "f",
		  "{192.0.2.1,198.51.100.2}",
		  "1969-12-31 23:59:59.5",
		  "false",
		  "[\"192.0.2.1\",\"198.51.100.2\"]",
		  "-500000" },
		{ "t",
		  "{\"a b\",\"c\\\"d\",\"e\\\\f\",NULL,\"NULL\",\"\",\xc3\xa9,\"{x}\"}",
		  NULL,
		  "true",
		  "[\"a b\",\"c\\\"d\",\"e\\\\f\",null,\"NULL\",\"\",\"\xc3\xa9\",\"{x}\"]",
		  NULL },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		const gchar *values[] = { cases[i].active, cases[i].ips, cases[i].created };
		PGresult *res = fake_result(names, values, 3);
		g_autoptr(ExmRestRow) row = exm_rest_row_new(&thing_model, res, 0);

		g_assert_cmpstr(exm_rest_row_get(row, "active"), ==, cases[i].want_active);
		g_assert_cmpstr(exm_rest_row_get(row, "ips"), ==, cases[i].want_ips);
		g_assert_cmpstr(exm_rest_row_get(row, "created_at"), ==, cases[i].want_created);
		PQclear(res);
	}
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(ExmRestBody) b =
			unpack(EXM_REST_CREATE,
			       "{\"name\":\"n\",\"ips\":[\"a "
			       "b\",\"c\\\"d\",\"e\\\\f\",\"\xc3\xa9\",\"\\u0001\"]}",
			       &error);
		const gchar *values[] = { "t",
					  "{\"a b\",\"c\\\"d\",\"e\\\\f\",\xc3\xa9,\"\x01\"}",
					  NULL };
		PGresult *res = fake_result(names, values, 3);
		g_autoptr(ExmRestRow) row = exm_rest_row_new(&thing_model, res, 0);
		g_autofree gchar *sent = NULL;

		g_assert_no_error(error);
		sent = exm_rest_body_value_text(exm_rest_body_get(b, "ips"));
		g_assert_cmpstr(exm_rest_row_get(row, "ips"), ==, sent);
		PQclear(res);
	}
}

/* What only a hand-made row holds (a nested or re-based array, a broken
 * one, a timestamp the API never writes) is logged and read as absent. */
static void
test_row_refused(void)
{
	static const gchar *const names[] = { "ips", "created_at" };
	static const gchar *const lists[] = { "{{a},{b}}", "[0:1]={a,b}", "{a,}", "{,a}",
					      "{\"a\"x}",  "{a",	  "{\"a", "{a}x",
					      "{a\"b}",	   "{a\\b}",	  "" };
	static const gchar *const times[] = { "infinity",
					      "-infinity",
					      "2026-01-02 03:04:05 BC",
					      "12026-01-02 03:04:05",
					      "Fri Jan 02 03:04:05 2026" };

	for (guint i = 0; i < G_N_ELEMENTS(lists) + G_N_ELEMENTS(times); i++) {
		gboolean list = i < G_N_ELEMENTS(lists);
		const gchar *values[] = { list ? lists[i] : "{}",
					  list ? "2026-01-02 03:04:05"
					       : times[i - G_N_ELEMENTS(lists)] };
		PGresult *res = fake_result(names, values, 2);
		g_autoptr(ExmRestRow) row = NULL;

		g_test_expect_message(
			"exm-rest", G_LOG_LEVEL_WARNING, list ? "*ips*" : "*created_at*");
		row = exm_rest_row_new(&thing_model, res, 0);
		g_test_assert_expected_messages();
		g_assert_null(exm_rest_row_get(row, list ? "ips" : "created_at"));
		g_assert_nonnull(exm_rest_row_get(row, list ? "created_at" : "ips"));
		PQclear(res);
	}
}

/* ------------------------------------------------------------------ responses */

static void
test_responses(void)
{
	g_autoptr(ExmRestResponse) r = exm_rest_response_new();
	g_autoptr(GError) error = NULL;
	const gchar *kv[] = { "page_limit", "2", NULL };
	g_autoptr(ExmRestListQuery) q = query(kv, NULL);

	exm_rest_response_paginate(r, q, 2, U1);
	g_assert_cmpuint(r->headers->len, ==, 4);
	g_assert_cmpstr(r->headers->pdata[0], ==, "X-Pagination-Limit");
	g_assert_cmpstr(r->headers->pdata[1], ==, "2");
	g_assert_cmpstr(r->headers->pdata[2], ==, "X-Pagination-Marker");
	g_assert_cmpstr(r->headers->pdata[3], ==, U1);
	g_ptr_array_set_size(r->headers, 0);
	exm_rest_response_paginate(r, q, 1, U1);
	g_assert_cmpuint(r->headers->len, ==, 2);

	g_set_error(
		&error, EXM_ERROR, EXM_ERROR_FIELD_PERMISSION, "Permission denied for field x.");
	exm_rest_response_set_error(r, error);
	g_assert_cmpuint(r->status, ==, 403);
	g_assert_cmpuint(r->headers->len, ==, 0);
	g_assert_cmpstr(r->body,
			==,
			"{\"type\":\"FieldPermissionError\",\"code\":403,\"message\":\"Permission "
			"denied for field x.\"}");
	exm_rest_response_set_json(r, 204, NULL);
	g_assert_null(r->body);
}

/* ------------------------------------------------------------------ random input */

/* JSON-ish fragments, so random texts reach deep into the unpacker. */
static const gchar *const fragments[] = {
	"{",
	"}",
	"[",
	"]",
	",",
	":",
	"\"name\"",
	"\"cpu\"",
	"\"status\"",
	"\"ips\"",
	"\"version\"",
	"\"secret\"",
	"\"uuid\"",
	"\"created_at\"",
	"\"x\"",
	"1",
	"-0",
	"1e3",
	"true",
	"null",
	"\"\\u0000\"",
	"\"\xff\"",
	"\"/v1/types/mail/versions/" U1 "\"",
	" ",
};
static const gchar *const segments[] = {
	"", "/", "instances", "accounts", "actions", "info", "invoke", U1, "x", "access-keys", "//",
};

static const gchar *const keys[] = {
	"\"name\"",	  "\"note\"",	 "\"cpu\"",    "\"active\"", "\"ips\"",	  "\"uuid\"",
	"\"created_at\"", "\"version\"", "\"secret\"", "\"status\"", "\"bogus\"",
};
static const gchar *const values[] = {
	"\"x\"",
	"1",
	"true",
	"null",
	"[\"a\"]",
	"\"" U1 "\"",
	"\"2024-01-02T03:04:05.5Z\"",
	"\"/v1/types/mail/versions/" U1 "\"",
	"{}",
	"1.5",
};

static gchar *
random_text(GRand *rand, const gchar *const *parts, guint n_parts, const gchar *sep)
{
	GString *s = g_string_new(NULL);
	guint n = g_rand_int_range(rand, 0, 12);

	for (guint i = 0; i < n; i++) {
		if (i > 0 && sep != NULL)
			g_string_append(s, sep);
		g_string_append(s, parts[g_rand_int_range(rand, 0, (gint32)n_parts)]);
	}
	return g_string_free(s, FALSE);
}

/* Half token soup, half well-formed objects of known and unknown members. */
static gchar *
random_body(GRand *rand)
{
	GString *s;
	guint n;

	if (g_rand_boolean(rand))
		return random_text(rand, fragments, G_N_ELEMENTS(fragments), NULL);
	s = g_string_new("{");
	n = g_rand_int_range(rand, 0, 4);
	for (guint i = 0; i < n; i++)
		g_string_append_printf(s,
				       "%s%s:%s",
				       i > 0 ? "," : "",
				       keys[g_rand_int_range(rand, 0, G_N_ELEMENTS(keys))],
				       values[g_rand_int_range(rand, 0, G_N_ELEMENTS(values))]);
	g_string_append_c(s, '}');
	return g_string_free(s, FALSE);
}

/* Whatever comes in, every call either succeeds or fails with an EXM_ERROR,
 * never both, never neither (and, under ASan/valgrind, never touches bad
 * memory). */
static void
test_random_input(void)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(20261125);
	const gchar *methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" };
	guint ok[3] = { 0 };
	guint failed[3] = { 0 };

	for (guint i = 0; i < 3000; i++) {
		g_autofree gchar *body = random_body(rand);
		g_autofree gchar *path = random_text(rand, segments, G_N_ELEMENTS(segments), "/");
		g_autoptr(GError) e1 = NULL;
		g_autoptr(GError) e2 = NULL;
		g_autoptr(GError) e3 = NULL;
		g_autoptr(ExmRestBody) b =
			unpack(i % 2 ? EXM_REST_CREATE : EXM_REST_UPDATE, body, &e1);
		const gchar *kv[] = { "name", body,	    NULL,   "cpu",	body,
				      NULL,   "sort_key",   "name", "sort_dir", body,
				      NULL,   "page_limit", body,   NULL };
		const guint starts[] = { 0, 3, 6, 11 };
		g_autoptr(ExmRestListQuery) q = query(kv + starts[i % 4], &e2);
		LoadLog log = { g_ptr_array_new_with_free_func(g_free), i % 3 ? NULL : U1 };
		g_autoptr(ExmRestMatch) m =
			walk(methods[i % G_N_ELEMENTS(methods)], path, &log, &e3);

		g_assert_true((b == NULL) == (e1 != NULL));
		g_assert_true((q == NULL) == (e2 != NULL));
		g_assert_true((m == NULL) == (e3 != NULL));
		g_assert_true(e1 == NULL || e1->domain == EXM_ERROR);
		g_assert_true(e2 == NULL || e2->domain == EXM_ERROR);
		g_assert_true(e3 == NULL || e3->domain == EXM_ERROR);
		g_ptr_array_unref(log.loads);
		b != NULL ? ok[0]++ : failed[0]++;
		q != NULL ? ok[1]++ : failed[1]++;
		m != NULL ? ok[2]++ : failed[2]++;
	}
	/* the generator reaches both outcomes of every entry point */
	for (guint k = 0; k < 3; k++) {
		g_test_message("entry %u: %u accepted, %u refused", k, ok[k], failed[k]);
		g_assert_cmpuint(ok[k], >, 0);
		g_assert_cmpuint(failed[k], >, 0);
	}
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/rest/walk/collections", test_walk_collections);
	g_test_add_func("/rest/walk/resources", test_walk_resources);
	g_test_add_func("/rest/walk/errors", test_walk_errors);
	g_test_add_func("/rest/walk/load-order", test_walk_load_order);
	g_test_add_func("/rest/action-kwargs", test_action_kwargs);
	g_test_add_func("/rest/route-list", test_route_list);
	g_test_add_func("/rest/body/values", test_body_values);
	g_test_add_func("/rest/body/errors", test_body_errors);
	g_test_add_func("/rest/body/order", test_body_order);
	g_test_add_func("/rest/list/query", test_list_query);
	g_test_add_func("/rest/list/query-plain", test_list_query_plain);
	g_test_add_func("/rest/list/errors", test_list_query_errors);
	g_test_add_func("/rest/pack", test_pack);
	g_test_add_func("/rest/enforcer", test_enforcer);
	g_test_add_func("/rest/enforcer/oracle", test_enforcer_oracle);
	g_test_add_func("/rest/partial-row", test_partial_row);
	g_test_add_func("/rest/row/canonical", test_row_canonical);
	g_test_add_func("/rest/row/refused", test_row_refused);
	g_test_add_func("/rest/responses", test_responses);
	g_test_add_func("/rest/random-input", test_random_input);
	return g_test_run();
}
