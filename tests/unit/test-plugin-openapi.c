/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail plugin's OpenAPI document (descriptor member `openapi`, ABI minor
 * 3; docs/rest-conventions.md §13) against the tables it is made from and
 * the walk that serves them: every documented path and method walks to the
 * RA method it documents through exm_rest_route_walk() on the plugin's route
 * tree, every other method is refused there; the routes the tree declares
 * are exactly the documented ones; every field carries its access, limits
 * and nullability; filters are the filterable fields.
 */
#include <string.h>

#include "exm-error.h"
#include "exm-plugin-private.h"
#include "exm-test.h"

#define MOUNT "/v1/types/mail/"
#define ID    "84fe6e92-5b3c-4a1b-a124-de76b7b6c788"

static const gchar *const methods[] = { "get", "post", "put", "patch", "delete", NULL };
static const gchar *const versions[] = { "3.0.3", "3.1.0", NULL };
static const ExmRestKind *const kinds[] = {
	&exm_plugin_mail_versions,
	&exm_plugin_mail_instances,
	&exm_plugin_mail_accounts,
	NULL,
};

static JsonObject *
document(const gchar *version, JsonNode **keep)
{
	const ExordosPaasPluginDescriptor *d = exm_plugin_get_descriptor();
	g_autofree gchar *text = NULL;
	g_autofree gchar *message = NULL;

	g_assert_cmpuint(d->abi_minor, >=, 3);
	g_assert_nonnull(d->openapi);
	text = d->openapi(NULL, version, MOUNT, &message);
	g_assert_null(message);
	g_assert_nonnull(text);
	*keep = json_from_string(text, NULL);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(*keep));
	return json_node_get_object(*keep);
}

static JsonObject *
member_object(JsonObject *o, const gchar *a, const gchar *b)
{
	return json_object_get_object_member(json_object_get_object_member(o, a), b);
}

/* The path below the mount with every `{…}` replaced by ID. */
static gchar *
walk_path(const gchar *path)
{
	GString *s = g_string_new(NULL);

	g_assert_true(g_str_has_prefix(path, MOUNT));
	for (const gchar *p = path + strlen(MOUNT); *p != '\0'; p++) {
		if (*p == '{') {
			g_string_append(s, ID);
			p = strchr(p, '}');
		} else {
			g_string_append_c(s, *p);
		}
	}
	return g_string_free(s, FALSE);
}

static ExmRestMethod
expected_method(const gchar *path, const gchar *method)
{
	if (strstr(path, "/actions/") != NULL)
		return EXM_REST_ACTION;
	if (g_str_has_suffix(path, "/"))
		return g_str_equal(method, "get") ? EXM_REST_FILTER : EXM_REST_CREATE;
	if (g_str_equal(method, "get"))
		return EXM_REST_GET;
	return g_str_equal(method, "delete") ? EXM_REST_DELETE : EXM_REST_UPDATE;
}

static void
walk_one(const gchar *path, const gchar *method, gboolean documented)
{
	g_autofree gchar *rest = walk_path(path);
	g_autofree gchar *upper = g_ascii_strup(method, -1);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmRestMatch) match =
		exm_rest_route_walk(&exm_plugin_mail_route, upper, rest, NULL, NULL, &error);

	if (documented) {
		g_assert_no_error(error);
		g_assert_cmpint(match->method, ==, expected_method(path, method));
	} else if (g_str_has_suffix(path, "/invoke") &&
		   (g_str_equal(method, "get") || g_str_equal(method, "put"))) {
		/* the right form for a verb the action has no handler for */
		g_assert_error(error, EXM_ERROR, EXM_ERROR_NOT_IMPLEMENTED);
	} else if (strstr(path, "/actions/") != NULL) {
		g_assert_error(error, EXM_ERROR, EXM_ERROR_INCORRECT_ACTION);
	} else {
		g_assert_error(error, EXM_ERROR, EXM_ERROR_METHOD_NOT_ALLOWED);
	}
}

/* Documented → walked to its RA method; anything else (HEAD, OPTIONS too) → refused. */
static void
test_walk(void)
{
	static const gchar *const extra[] = { "head", "options", NULL };

	for (guint v = 0; versions[v] != NULL; v++) {
		g_autoptr(JsonNode) keep = NULL;
		JsonObject *paths =
			json_object_get_object_member(document(versions[v], &keep), "paths");
		g_autoptr(GList) names = json_object_get_members(paths);

		for (GList *l = names; l != NULL; l = l->next) {
			JsonObject *item = json_object_get_object_member(paths, l->data);
			for (guint m = 0; methods[m] != NULL; m++)
				walk_one(l->data,
					 methods[m],
					 json_object_has_member(item, methods[m]));
			for (guint m = 0; extra[m] != NULL; m++) {
				g_assert_false(json_object_has_member(item, extra[m]));
				walk_one(l->data, extra[m], FALSE);
			}
		}
	}
}

static const ExmRestKind *
kind_of(const ExmRestRoute *route)
{
	for (guint i = 0; kinds[i] != NULL; i++)
		if (kinds[i]->route == route)
			return kinds[i];
	return NULL;
}

/* "method path" of every operation the route tree declares. */
// NOLINTBEGIN(misc-no-recursion): the depth of the plugin's constant route tree
static void
expect_route(GHashTable *want, const ExmRestRoute *route, const gchar *coll)
{
	static const struct {
		guint bit;
		const gchar *method;
		gboolean resource;
	} ops[] = {
		{ EXM_REST_FILTER, "get", FALSE },  { EXM_REST_CREATE, "post", FALSE },
		{ EXM_REST_GET, "get", TRUE },	    { EXM_REST_UPDATE, "put", TRUE },
		{ EXM_REST_UPDATE, "patch", TRUE }, { EXM_REST_DELETE, "delete", TRUE },
	};
	const ExmRestKind *kind = kind_of(route);
	g_autofree gchar *res = NULL;

	if (!route->has_resources) {
		g_hash_table_add(want, g_strconcat("get ", coll, NULL));
	} else {
		g_assert_nonnull(kind);
		res = g_strdup_printf("%s{%sUuid}", coll, kind->model->name);
		for (guint i = 0; i < G_N_ELEMENTS(ops); i++)
			if ((route->allow & ops[i].bit) != 0)
				g_hash_table_add(want,
						 g_strdup_printf("%s %s",
								 ops[i].method,
								 ops[i].resource ? res : coll));
		for (guint i = 0; route->actions != NULL && route->actions[i] != NULL; i++)
			g_hash_table_add(
				want, g_strdup_printf("get %s/actions/%s", res, route->actions[i]));
		for (guint i = 0; route->invoke_actions != NULL && route->invoke_actions[i] != NULL;
		     i++)
			g_hash_table_add(want,
					 g_strdup_printf("post %s/actions/%s/invoke",
							 res,
							 route->invoke_actions[i]));
	}
	for (guint i = 0; route->children != NULL && route->children[i] != NULL; i++) {
		const ExmRestRoute *c = route->children[i];
		g_autofree gchar *sub = g_strdup_printf(
			"%s%s%s/", c->nested ? res : coll, c->nested ? "/" : "", c->name);
		expect_route(want, c, sub);
	}
}
// NOLINTEND(misc-no-recursion)

/* The route tree's operations are exactly the document's. */
static void
test_table(void)
{
	g_autoptr(GHashTable) want = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(JsonNode) keep = NULL;
	JsonObject *paths = json_object_get_object_member(document("3.0.3", &keep), "paths");
	g_autoptr(GList) names = json_object_get_members(paths);
	guint documented = 0;

	expect_route(want, &exm_plugin_mail_route, MOUNT);
	for (GList *l = names; l != NULL; l = l->next) {
		JsonObject *item = json_object_get_object_member(paths, l->data);
		for (guint m = 0; methods[m] != NULL; m++) {
			g_autofree gchar *key =
				g_strdup_printf("%s %s", methods[m], (gchar *)l->data);
			if (!json_object_has_member(item, methods[m]))
				continue;
			documented++;
			if (!g_hash_table_contains(want, key))
				g_error("documented but not in the route table: %s", key);
		}
	}
	g_test_message(
		"%u operations in the table, %u documented", g_hash_table_size(want), documented);
	g_assert_cmpuint(documented, ==, g_hash_table_size(want));
}

static const gchar *
access_name(ExmRestAccess a)
{
	return a == EXM_REST_RW ? "RW" : a == EXM_REST_RO ? "RO" : "HIDDEN";
}

static void
check_limits(JsonObject *p, const ExmRestField *f)
{
	const ExmRestFieldSchema *s = f->schema;

	if (s == NULL)
		return;
	if ((s->limits & EXM_REST_LIMIT_MIN) != 0)
		g_assert_cmpint(json_object_get_int_member(p, "minimum"), ==, s->minimum);
	if ((s->limits & EXM_REST_LIMIT_MAX) != 0)
		g_assert_cmpint(json_object_get_int_member(p, "maximum"), ==, s->maximum);
	if ((s->limits & EXM_REST_LIMIT_MAX_LENGTH) != 0)
		g_assert_cmpint(json_object_get_int_member(p, "maxLength"), ==, s->max_length);
	if (s->values != NULL)
		g_assert_cmpuint(json_array_get_length(json_object_get_array_member(p, "enum")),
				 >=,
				 g_strv_length((gchar **)s->values));
}

static void
check_nullable(JsonObject *p, const ExmRestField *f, gboolean v31)
{
	gboolean nullable = (f->flags & EXM_REST_FIELD_NULLABLE) != 0;

	if (v31)
		g_assert_cmpint(
			JSON_NODE_HOLDS_ARRAY(json_object_get_member(p, "type")), ==, nullable);
	else
		g_assert_cmpint(json_object_get_boolean_member_with_default(p, "nullable", FALSE),
				==,
				nullable);
}

static void
check_field(JsonObject *schemas, const ExmRestModel *m, const ExmRestField *f, gboolean v31)
{
	g_autofree gchar *cname = g_strconcat(m->name, "Create", NULL);
	g_autofree gchar *uname = g_strconcat(m->name, "Update", NULL);
	JsonObject *props = member_object(schemas, m->name, "properties");
	gboolean writable = f->create == EXM_REST_RW || f->update == EXM_REST_RW;
	JsonObject *p, *access;

	/* a column no client reads or writes (previous_password_hash) is not API */
	if (!writable && f->read == EXM_REST_HIDDEN) {
		g_assert_false(json_object_has_member(props, f->name));
		return;
	}
	p = json_object_get_object_member(props, f->name);
	access = json_object_get_object_member(p, "x-exordos-access");

	g_assert_cmpstr(
		json_object_get_string_member(access, "create"), ==, access_name(f->create));
	g_assert_cmpstr(json_object_get_string_member(access, "read"), ==, access_name(f->read));
	g_assert_cmpstr(
		json_object_get_string_member(access, "update"), ==, access_name(f->update));
	g_assert_cmpint(
		json_object_get_boolean_member_with_default(p, "readOnly", FALSE), ==, !writable);
	g_assert_cmpint(json_object_get_boolean_member_with_default(p, "writeOnly", FALSE),
			==,
			f->read == EXM_REST_HIDDEN);
	g_assert_cmpint(
		json_object_has_member(member_object(schemas, cname, "properties"), f->name),
		==,
		f->create == EXM_REST_RW);
	g_assert_cmpint(
		json_object_has_member(member_object(schemas, uname, "properties"), f->name),
		==,
		f->update == EXM_REST_RW);
	check_limits(p, f);
	check_nullable(p, f, v31);
	/* a JSON document (held_counts) is an object, not a string */
	if (!v31 && f->type == EXM_REST_TYPE_OBJECT)
		g_assert_cmpstr(json_object_get_string_member(p, "type"), ==, "object");
}

/* Every field of every model, in both versions. */
static void
test_fields(void)
{
	for (guint v = 0; versions[v] != NULL; v++) {
		g_autoptr(JsonNode) keep = NULL;
		JsonObject *schemas =
			member_object(document(versions[v], &keep), "components", "schemas");
		for (guint k = 0; kinds[k] != NULL; k++)
			for (const ExmRestField *f = kinds[k]->model->fields; f->name != NULL; f++)
				check_field(schemas, kinds[k]->model, f, v == 1);
	}
}

static gboolean
has_param(JsonArray *params, const gchar *name)
{
	for (guint i = 0; i < json_array_get_length(params); i++)
		if (g_str_equal(json_object_get_string_member(
					json_array_get_object_element(params, i), "name"),
				name))
			return TRUE;
	return FALSE;
}

/* Filters: the filterable fields; pagination headers; error bodies. */
static void
test_lists(void)
{
	g_autoptr(JsonNode) keep = NULL;
	JsonObject *doc = document("3.1.0", &keep);
	JsonObject *get = member_object(
		json_object_get_object_member(doc, "paths"), MOUNT "instances/", "get");
	JsonArray *params = json_object_get_array_member(get, "parameters");
	JsonObject *ok = member_object(get, "responses", "200");
	JsonObject *post = member_object(
		json_object_get_object_member(doc, "paths"), MOUNT "instances/", "post");
	JsonArray *aparams = json_object_get_array_member(
		member_object(json_object_get_object_member(doc, "paths"),
			      MOUNT "instances/{MailInstanceUuid}/accounts/",
			      "get"),
		"parameters");

	for (const ExmRestField *f = exm_plugin_instance_model.fields; f->name != NULL; f++)
		g_assert_cmpint(has_param(params, f->name),
				==,
				f->type != EXM_REST_TYPE_STRING_LIST &&
					f->type != EXM_REST_TYPE_OBJECT &&
					(f->flags &
					 (EXM_REST_FIELD_SECRET | EXM_REST_FIELD_NO_COLUMN)) == 0);
	for (const ExmRestField *f = exm_plugin_account_model.fields; f->name != NULL; f++)
		g_assert_cmpint(has_param(aparams, f->name),
				==,
				f->type != EXM_REST_TYPE_STRING_LIST &&
					f->type != EXM_REST_TYPE_OBJECT &&
					(f->flags &
					 (EXM_REST_FIELD_SECRET | EXM_REST_FIELD_NO_COLUMN)) == 0);
	g_assert_true(has_param(params, "page_limit"));
	g_assert_true(has_param(params, "page_marker"));
	g_assert_true(json_object_has_member(json_object_get_object_member(ok, "headers"),
					     "X-Pagination-Marker"));
	g_assert_true(
		json_object_has_member(json_object_get_object_member(post, "responses"), "409"));
	g_assert_nonnull(member_object(doc, "components", "schemas"));
	g_assert_true(json_object_has_member(member_object(doc, "components", "schemas"), "Error"));
}

static void
test_unknown_version(void)
{
	const ExordosPaasPluginDescriptor *d = exm_plugin_get_descriptor();
	g_autofree gchar *message = NULL;
	g_autofree gchar *text = d->openapi(NULL, "2.0", MOUNT, &message);

	g_assert_null(text);
	g_assert_nonnull(message);
	g_test_message("%s", message);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/plugin-openapi/walk", test_walk);
	g_test_add_func("/plugin-openapi/table", test_table);
	g_test_add_func("/plugin-openapi/fields", test_fields);
	g_test_add_func("/plugin-openapi/lists", test_lists);
	g_test_add_func("/plugin-openapi/unknown-version", test_unknown_version);
	return g_test_run();
}
