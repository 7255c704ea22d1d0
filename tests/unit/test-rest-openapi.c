/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * exm_rest_openapi_build() on a tree the mail plugin does not have: a route
 * with resources but no kind, a collection child below a resource route, a
 * nullable enum, a field no method may see or write, and the merge of two
 * documents (docs/rest-conventions.md §13).
 */
#include <string.h>

#include "exm-error.h"
#include "exm-rest.h"
#include "exm-test.h"

#define MOUNT "/v1/types/toy/"

static const gchar *const colours[] = { "red", "blue", NULL };
static const ExmRestFieldSchema colour_schema = { 0, 0, 0, 0, 0, colours, NULL, NULL };
static const ExmRestField toy_fields[] = {
	{ "uuid",
	  EXM_REST_TYPE_UUID,
	  EXM_REST_FIELD_READ_ONLY,
	  EXM_REST_RW,
	  EXM_REST_RO,
	  EXM_REST_RW },
	{ "colour",
	  EXM_REST_TYPE_ENUM,
	  EXM_REST_FIELD_NULLABLE,
	  EXM_REST_RW,
	  EXM_REST_RW,
	  EXM_REST_RW,
	  NULL,
	  &colour_schema },
	{ "internal", EXM_REST_TYPE_STRING, 0, EXM_REST_HIDDEN, EXM_REST_HIDDEN, EXM_REST_HIDDEN },
	{ NULL },
};
static const ExmRestModel toy_model = { "Toy", "pkg.Toy", "toys", toy_fields };

/* A collection child of a resource route (reached as `toys/parts/`), served
 * by no kind. */
static const ExmRestRoute parts_route = {
	"parts", "pkg.PartRoute", "PartController", FALSE, TRUE, EXM_REST_FILTER | EXM_REST_GET,
};
static const ExmRestRoute *const toy_children[] = { &parts_route, NULL };
static const ExmRestRoute toys_route = {
	"toys", "pkg.ToyRoute", "ToyController", FALSE, TRUE, EXM_REST_CRUD, toy_children,
};
static const ExmRestRoute *const root_children[] = { &toys_route, NULL };
static const ExmRestRoute root_route = {
	"toy", "pkg.Root", "RootController", FALSE, FALSE, EXM_REST_FILTER, root_children,
};
static const ExmRestKind toy_kind = { .model = &toy_model, .route = &toys_route };
static const ExmRestKind *const kinds[] = { &toy_kind, NULL };

static JsonObject *
build(const gchar *version)
{
	ExmRestOpenapiSpec spec = { "toy", "1", MOUNT, &root_route, kinds };
	g_autoptr(GError) error = NULL;
	JsonObject *doc = exm_rest_openapi_build(&spec, version, &error);

	g_assert_no_error(error);
	return doc;
}

static JsonObject *
schema_property(JsonObject *doc, const gchar *name)
{
	JsonObject *schemas = json_object_get_object_member(
		json_object_get_object_member(doc, "components"), "schemas");
	JsonObject *props = json_object_get_object_member(
		json_object_get_object_member(schemas, "Toy"), "properties");

	return json_object_has_member(props, name) ? json_object_get_object_member(props, name)
						   : NULL;
}

static void
test_tree(void)
{
	g_autoptr(JsonObject) doc30 = build("3.0.3");
	g_autoptr(JsonObject) doc31 = build("3.1.0");
	JsonObject *paths = json_object_get_object_member(doc31, "paths");
	JsonObject *colour30 = schema_property(doc30, "colour");
	JsonObject *colour31 = schema_property(doc31, "colour");
	JsonArray *enum31 = json_object_get_array_member(colour31, "enum");

	g_assert_true(json_object_has_member(paths, MOUNT));
	g_assert_true(json_object_has_member(paths, MOUNT "toys/parts/"));
	g_assert_true(json_object_has_member(paths, MOUNT "toys/parts/{ResourceUuid}"));
	g_assert_false(json_object_has_member(
		json_object_get_object_member(paths, MOUNT "toys/parts/"), "post"));
	g_assert_null(schema_property(doc31, "internal"));
	g_assert_true(json_object_get_boolean_member(colour30, "nullable"));
	g_assert_cmpuint(
		json_array_get_length(json_object_get_array_member(colour30, "enum")), ==, 2);
	g_assert_cmpuint(json_array_get_length(enum31), ==, 3);
	g_assert_true(json_array_get_null_element(enum31, 2));
	g_assert_true(JSON_NODE_HOLDS_ARRAY(json_object_get_member(colour31, "type")));
}

static void
test_merge(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) doc = exm_rest_openapi_skeleton("3.1.0", "host", "1", &error);
	g_autoptr(JsonObject) toy = build("3.1.0");
	static const guint errors[] = { 401, 0 };
	JsonObject *paths;

	g_assert_no_error(error);
	exm_rest_openapi_operation(doc, MOUNT, "get", "the host's own", 200, NULL, errors);
	exm_rest_openapi_merge(doc, toy);
	paths = json_object_get_object_member(doc, "paths");
	/* what the document had stays; what it lacked comes in */
	g_assert_cmpstr(json_object_get_string_member(
				json_object_get_object_member(
					json_object_get_object_member(paths, MOUNT), "get"),
				"summary"),
			==,
			"the host's own");
	g_assert_true(json_object_has_member(paths, MOUNT "toys/{ToyUuid}"));
	g_assert_nonnull(json_object_get_object_member(
		json_object_get_object_member(json_object_get_object_member(doc, "components"),
					      "schemas"),
		"ToyCreate"));
	g_assert_null(exm_rest_openapi_skeleton(NULL, "x", "1", &error));
	g_assert_error(error, EXM_ERROR, EXM_ERROR_PATH_NOT_FOUND);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/rest-openapi/tree", test_tree);
	g_test_add_func("/rest-openapi/merge", test_merge);
	return g_test_run();
}
