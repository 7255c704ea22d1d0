/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The REST toolkit: restalchemy conventions (reference/rest-conventions.md) as
 * plain C building blocks, with no knowledge of any model.  Route walking below a
 * mount point (§1.2), field permissions per method (§7), strict typed body
 * unpacking (§6), list queries with filters, sorting and marker pagination (§4),
 * the gcl_iam enforcer (§8.3) and responses with the standard error bodies (§3).
 * Everything here is reentrant; nothing keeps global state.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/**
 * ExmRestMethod:
 * @EXM_REST_FILTER: list a collection (`GET coll/`)
 * @EXM_REST_CREATE: create (`POST coll/`)
 * @EXM_REST_GET: read one (`GET coll/<id>`)
 * @EXM_REST_UPDATE: partial update (`PUT`/`PATCH coll/<id>`)
 * @EXM_REST_DELETE: delete (`DELETE coll/<id>`)
 * @EXM_REST_ACTION: a plain GET action (`GET coll/<id>/actions/<name>`)
 *
 * restalchemy's RA methods, usable as a bit mask.
 */
typedef enum {
	EXM_REST_FILTER = 1 << 0,
	EXM_REST_CREATE = 1 << 1,
	EXM_REST_GET = 1 << 2,
	EXM_REST_UPDATE = 1 << 3,
	EXM_REST_DELETE = 1 << 4,
	EXM_REST_ACTION = 1 << 5,
} ExmRestMethod;

#define EXM_REST_CRUD                                                                              \
	(EXM_REST_FILTER | EXM_REST_CREATE | EXM_REST_GET | EXM_REST_UPDATE | EXM_REST_DELETE)

/**
 * exm_rest_method_name:
 * @method: one method
 *
 * Returns: (transfer none): its restalchemy name: `FILTER`, `CREATE`, `GET`,
 *   `UPDATE`, `DELETE` or `ACTION` (as 405 messages print it)
 */
const gchar *exm_rest_method_name(ExmRestMethod method);

/* ------------------------------------------------------------------ routes */

typedef struct _ExmRestRoute ExmRestRoute;

/**
 * ExmRestRoute:
 * @name: the segment (attribute name; a `-` in a request segment matches `_`)
 * @class_name: the route's class for error messages (`pkg.routes.MailVersionRoute`)
 * @controller: the controller's name for 501 messages (`MailController`)
 * @nested: reachable only below a resource of its parent (`instances/<id>/accounts/`)
 * @has_resources: its members are resources with UUID ids; %FALSE for a route
 *   that only lists its children (a 501 when something tries to load a member)
 * @allow: #ExmRestMethod mask of allowed methods
 * @children: (nullable): %NULL-terminated child routes
 * @actions: (nullable): %NULL-terminated names of plain GET actions
 * @tag: free for the user (e.g. which handler serves the route)
 */
struct _ExmRestRoute {
	const gchar *name;
	const gchar *class_name;
	const gchar *controller;
	gboolean nested;
	gboolean has_resources;
	guint allow;
	const ExmRestRoute *const *children;
	const gchar *const *actions;
	gint tag;
};

/**
 * ExmRestRef:
 * @route: a route
 * @id: canonical lower-case UUID of a resource in it
 */
typedef struct {
	const ExmRestRoute *route;
	gchar *id;
} ExmRestRef;

/**
 * ExmRestMatch:
 * @route: the route the call lands on
 * @method: what to do
 * @id: (nullable): the resource's canonical UUID for GET/UPDATE/DELETE/ACTION
 * @parents: #ExmRestRef of the resources walked through, outermost first
 * @action: (nullable): the action name for %EXM_REST_ACTION
 */
typedef struct {
	const ExmRestRoute *route;
	ExmRestMethod method;
	gchar *id;
	GPtrArray *parents;
	gchar *action;
} ExmRestMatch;

/**
 * ExmRestLoadFunc:
 * @route: the route whose resource must be loaded
 * @id: the resource's canonical UUID
 * @parents: the resources walked through before it (outermost first)
 * @user_data: as given to exm_rest_route_walk()
 * @error: a 403/404 when the caller may not see the resource
 *
 * Loads a resource the walk passes through (a parent of a nested collection or
 * the target of an action), at the point where restalchemy loads it, so that
 * error precedence matches upstream.
 */
typedef gboolean (*ExmRestLoadFunc)(const ExmRestRoute *route,
				    const gchar *id,
				    GPtrArray *parents,
				    gpointer user_data,
				    GError **error);

/**
 * exm_rest_route_walk:
 * @mount: the route mounted at the prefix
 * @http_method: the HTTP method (`HEAD` is refused like any unmapped method)
 * @path: the decoded path below the mount, e.g. `instances/<id>/accounts/`
 * @load: (nullable): called for each resource the walk passes through
 * @user_data: for @load
 * @error: 400 `ParseError` (bad id), 404 (unknown route), 405, 501, or what
 *   @load set
 *
 * Walks @path segment by segment with restalchemy's algorithm, quirks included:
 * a collection ends with `/`, a resource does not; `PATCH` maps to UPDATE.
 *
 * Returns: (transfer full): the match, or %NULL with @error set
 */
ExmRestMatch *exm_rest_route_walk(const ExmRestRoute *mount,
				  const gchar *http_method,
				  const gchar *path,
				  ExmRestLoadFunc load,
				  gpointer user_data,
				  GError **error);
/**
 * exm_rest_match_free:
 * @match: (nullable): a match
 *
 * Frees @match and its parents.
 */
void exm_rest_match_free(ExmRestMatch *match);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmRestMatch, exm_rest_match_free)

/**
 * exm_rest_route_list_json:
 * @route: a route
 *
 * The route index: the names of its non-nested children, sorted.
 *
 * Returns: (transfer full): a JSON array of strings
 */
JsonNode *exm_rest_route_list_json(const ExmRestRoute *route);

/* ------------------------------------------------------------------ fields */

/**
 * ExmRestAccess:
 * @EXM_REST_HIDDEN: never shown; writing it is a 403
 * @EXM_REST_RO: shown; writing it is a 403
 * @EXM_REST_RW: shown and writable
 */
typedef enum {
	EXM_REST_HIDDEN = 1,
	EXM_REST_RO = 2,
	EXM_REST_RW = 3,
} ExmRestAccess;

/**
 * ExmRestType:
 * @EXM_REST_TYPE_UUID: a UUID string
 * @EXM_REST_TYPE_STRING: a string
 * @EXM_REST_TYPE_INTEGER: a JSON integer (int64)
 * @EXM_REST_TYPE_BOOLEAN: `true`/`false`
 * @EXM_REST_TYPE_TIMESTAMP: `YYYY-MM-DDTHH:MM:SS.ffffffZ`
 * @EXM_REST_TYPE_STRING_LIST: an array of strings
 * @EXM_REST_TYPE_RELATIONSHIP: the path URI of another resource
 */
typedef enum {
	EXM_REST_TYPE_UUID,
	EXM_REST_TYPE_STRING,
	EXM_REST_TYPE_INTEGER,
	EXM_REST_TYPE_BOOLEAN,
	EXM_REST_TYPE_TIMESTAMP,
	EXM_REST_TYPE_STRING_LIST,
	EXM_REST_TYPE_RELATIONSHIP,
} ExmRestType;

/**
 * ExmRestFieldFlags:
 * @EXM_REST_FIELD_REQUIRED: must be given (non-null) at create
 * @EXM_REST_FIELD_NULLABLE: JSON `null` is accepted
 * @EXM_REST_FIELD_READ_ONLY: model read-only: changing it on update is a 400
 *   `ReadOnlyProperty` (re-sending the same value is fine)
 * @EXM_REST_FIELD_NO_COLUMN: write-only input with no column (not filterable or
 *   sortable)
 * @EXM_REST_FIELD_SECRET: its value never appears in an error message, and it
 *   can be neither a filter nor a sort key (no oracle on its values)
 */
typedef enum {
	EXM_REST_FIELD_REQUIRED = 1 << 0,
	EXM_REST_FIELD_NULLABLE = 1 << 1,
	EXM_REST_FIELD_READ_ONLY = 1 << 2,
	EXM_REST_FIELD_NO_COLUMN = 1 << 3,
	EXM_REST_FIELD_SECRET = 1 << 4,
} ExmRestFieldFlags;

/**
 * ExmRestField:
 * @name: API name = column name
 * @type: value type
 * @flags: #ExmRestFieldFlags
 * @create: access for CREATE
 * @read: access for GET and FILTER
 * @update: access for UPDATE
 * @related: for a relationship, the collection path below the mount of the
 *   target, e.g. `versions/`
 */
typedef struct {
	const gchar *name;
	ExmRestType type;
	guint flags;
	ExmRestAccess create;
	ExmRestAccess read;
	ExmRestAccess update;
	const gchar *related;
} ExmRestField;

/**
 * ExmRestModel:
 * @name: the model's name in messages (`MailInstance`)
 * @class_path: its Python class path in messages
 *   (`exordos_mail.controlplane.dm.models.MailInstance`)
 * @table: its SQL table
 * @fields: its fields in API order, terminated by an entry with a %NULL name
 */
typedef struct {
	const gchar *name;
	const gchar *class_path;
	const gchar *table;
	const ExmRestField *fields;
} ExmRestModel;

/**
 * exm_rest_model_field:
 * @model: a model
 * @name: an API name
 *
 * Returns: (transfer none) (nullable): the field called @name
 */
const ExmRestField *exm_rest_model_field(const ExmRestModel *model, const gchar *name);

/**
 * exm_rest_field_access:
 * @field: a field
 * @method: the method of the request
 *
 * Returns: the field's access for @method: create for CREATE, update for
 *   UPDATE, read for everything else
 */
ExmRestAccess exm_rest_field_access(const ExmRestField *field, ExmRestMethod method);

/* ------------------------------------------------------------------ bodies */

/**
 * ExmRestValue:
 * @field: the field
 * @is_null: JSON `null` was sent (only for nullable fields)
 * @str: UUID (canonical), STRING, RELATIONSHIP (the target's canonical UUID)
 * @num: INTEGER, BOOLEAN (0/1), TIMESTAMP (µs since the epoch, UTC)
 * @list: STRING_LIST elements (gchar*)
 *
 * A converted body value.
 */
typedef struct {
	const ExmRestField *field;
	gboolean is_null;
	gchar *str;
	gint64 num;
	GPtrArray *list;
} ExmRestValue;

typedef struct _ExmRestBody ExmRestBody;

/**
 * exm_rest_body_unpack:
 * @model: the model
 * @method: %EXM_REST_CREATE or %EXM_REST_UPDATE
 * @data: (nullable): the body bytes
 * @len: their length
 * @mount_prefix: e.g. `/v1/types/mail/`, for relationship URIs
 * @error: 400 `ParseBodyError` (not strict JSON, or not an object), 403
 *   `FieldPermissionError`, 400 `ParseError`/`TypeError`/`PropertyRequired`, 404
 *   `LocatorNotFound`, 400 `ValidationPropertyIncompatibleError` (unknown keys)
 *
 * Checks the body in restalchemy's order: for each field in model order that is
 * present: permission for @method, then conversion; then leftover keys.  A
 * required field sent as `null` is a `PropertyRequired`; a missing one is the
 * caller's check (after its policy checks, as upstream).  Strings of secret
 * fields are wiped in the parsed tree and when the body is freed.
 *
 * Returns: (transfer full): the body, or %NULL with @error set
 */
ExmRestBody *exm_rest_body_unpack(const ExmRestModel *model,
				  ExmRestMethod method,
				  const gchar *data,
				  gsize len,
				  const gchar *mount_prefix,
				  GError **error);
/**
 * exm_rest_body_get:
 * @body: an unpacked body
 * @name: a field name
 *
 * Returns: (nullable) (transfer none): the value sent for @name, %NULL when the
 *   body did not carry it
 */
const ExmRestValue *exm_rest_body_get(const ExmRestBody *body, const gchar *name);

/**
 * exm_rest_body_free:
 * @body: (nullable): a body
 *
 * Frees @body, wiping the strings of secret fields first.
 */
void exm_rest_body_free(ExmRestBody *body);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmRestBody, exm_rest_body_free)

/**
 * exm_rest_set_read_only_error:
 * @error: return location
 * @model: the model
 * @field: the field whose value the request tried to change
 *
 * Sets 400 `ReadOnlyProperty` "Property '<field>' of model <class '<path>'> is
 * read only.".
 */
void exm_rest_set_read_only_error(GError **error, const ExmRestModel *model, const gchar *field);
/**
 * exm_rest_set_required_error:
 * @error: return location
 * @model: the model
 * @field: the missing field
 *
 * Sets 400 `PropertyRequired` naming @field and @model as restalchemy does.
 */
void exm_rest_set_required_error(GError **error, const ExmRestModel *model, const gchar *field);
/**
 * exm_rest_set_not_found_error:
 * @error: return location
 * @model: the model
 * @id: the id looked up
 * @project_id: (nullable): the project scope of the lookup
 *
 * Sets 404 `RecordNotFound` naming @model and the lookup's filters in
 * restalchemy's Python-repr style.
 */
void exm_rest_set_not_found_error(GError **error,
				  const ExmRestModel *model,
				  const gchar *id,
				  const gchar *project_id);

/* ------------------------------------------------------------------ lists */

/**
 * ExmRestParam:
 * @key: decoded name
 * @value: decoded value
 *
 * One query-string parameter; repeated keys appear once per occurrence.
 */
typedef struct {
	const gchar *key;
	const gchar *value;
} ExmRestParam;

/**
 * ExmRestFilter:
 * @field: the filtered field
 * @values: accepted values as SQL text parameters (any of them matches)
 */
typedef struct {
	const ExmRestField *field;
	GPtrArray *values;
} ExmRestFilter;

/**
 * ExmRestListQuery:
 * @filters: #ExmRestFilter, ANDed
 * @limit: `page_limit`, 0 = unlimited
 * @marker: (nullable): `page_marker`, canonical UUID
 * @sort_key: (nullable): the `sort_key` field
 * @sort_desc: `sort_dir=desc`
 * @fields: (nullable): `fields` (sparse fieldset, API names), %NULL = all
 */
typedef struct {
	GPtrArray *filters;
	guint64 limit;
	gchar *marker;
	const ExmRestField *sort_key;
	gboolean sort_desc;
	GPtrArray *fields;
} ExmRestListQuery;

/**
 * exm_rest_list_query_parse:
 * @model: the listed model
 * @params: (array length=n_params): the query
 * @n_params: their number
 * @mount_prefix: for relationship filters given by URI
 * @error: 400 `ValidationFilterIncompatibleError` (unknown filter), 400
 *   `ParseError` (bad value, limit or marker), 404 `LocatorNotFound` (a
 *   relationship filter that is not a URI), 400 sort errors
 *
 * Returns: (transfer full): the query, or %NULL with @error set
 */
ExmRestListQuery *exm_rest_list_query_parse(const ExmRestModel *model,
					    const ExmRestParam *params,
					    gsize n_params,
					    const gchar *mount_prefix,
					    GError **error);
/**
 * exm_rest_list_query_free:
 * @query: (nullable): a query
 *
 * Frees @query.
 */
void exm_rest_list_query_free(ExmRestListQuery *query);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmRestListQuery, exm_rest_list_query_free)

/**
 * exm_rest_list_query_get_filter:
 * @query: a query
 * @name: a field name
 *
 * Returns: (nullable) (transfer none): the first filter on @name
 */
ExmRestFilter *exm_rest_list_query_get_filter(ExmRestListQuery *query, const gchar *name);

/**
 * exm_rest_list_query_add_filter:
 * @query: a query
 * @model: its model
 * @name: a field of @model
 * @value: the value as SQL text
 *
 * Adds a server-side `@name = @value` filter (project scope, parent id),
 * ANDed with every other filter, never merged into a client one.
 */
void exm_rest_list_query_add_filter(ExmRestListQuery *query,
				    const ExmRestModel *model,
				    const gchar *name,
				    const gchar *value);

/**
 * exm_rest_list_query_sql:
 * @query: a parsed query
 * @model: its model
 * @columns: the SELECT list, e.g. `"uuid", "name"`
 * @params: (element-type utf8): receives the parameters ($1…), owned strings
 *
 * `SELECT <columns> FROM "<table>" WHERE <filters> [AND <marker>] ORDER BY
 * [<sort_key> <dir>,] "uuid" ASC [LIMIT n]`; values only as parameters.
 *
 * Returns: (transfer full): the SQL
 */
gchar *exm_rest_list_query_sql(const ExmRestListQuery *query,
			       const ExmRestModel *model,
			       const gchar *columns,
			       GPtrArray *params);

/**
 * exm_rest_list_query_marker_sql:
 * @query: a parsed query
 * @model: its model
 * @params: (element-type utf8): receives the parameters
 *
 * With a sort key other than `uuid`, the marker's sort value is looked up, so
 * the marker must name a row of the listed set (same filters); otherwise
 * upstream answers 404 (rest-conventions §4.4).  This is that check.
 *
 * Returns: (transfer full) (nullable): `SELECT 1 FROM "<table>" WHERE
 *   <filters> AND "uuid" = <marker>`, or %NULL when no check is needed
 */
gchar *exm_rest_list_query_marker_sql(const ExmRestListQuery *query,
				      const ExmRestModel *model,
				      GPtrArray *params);

/* ------------------------------------------------------------------ output */

/**
 * exm_rest_pack:
 * @object: a resource as JSON (nulls already omitted)
 * @model: its model
 * @method: the method whose read permission applies (%EXM_REST_CREATE uses the
 *   create access, etc.)
 * @fields: (nullable): sparse fieldset (API names)
 *
 * Removes members that are hidden for @method, members not in @fields and
 * null members, in place.
 */
void exm_rest_pack(JsonObject *object,
		   const ExmRestModel *model,
		   ExmRestMethod method,
		   GPtrArray *fields);

/* ------------------------------------------------------------------ IAM */

typedef struct _ExmRestEnforcer ExmRestEnforcer;

/**
 * exm_rest_enforcer_new:
 * @permissions: (nullable): %NULL-terminated `svc.res.action` grants
 *
 * gcl_iam's enforcer, wildcard shadowing quirk included: at the service and
 * resource levels, once a `*` key exists every lookup and later grant goes to it.
 * Malformed grants (not three dot-separated parts) are ignored.
 *
 * Returns: (transfer full): the enforcer
 */
ExmRestEnforcer *exm_rest_enforcer_new(const gchar *const *permissions);
/**
 * exm_rest_enforcer_allows:
 * @enforcer: an enforcer
 * @rule: `service.resource.action`
 *
 * Returns: %TRUE when the grants allow @rule
 */
gboolean exm_rest_enforcer_allows(const ExmRestEnforcer *enforcer, const gchar *rule);

/**
 * exm_rest_enforcer_check:
 * @enforcer: an enforcer
 * @rule: `service.resource.action`
 * @error: 403 `PolicyNotAuthorized` "Policy rule <rule> is disallowed."
 *
 * Returns: %TRUE when the grants allow @rule
 */
gboolean exm_rest_enforcer_check(const ExmRestEnforcer *enforcer,
				 const gchar *rule,
				 GError **error);
/**
 * exm_rest_enforcer_free:
 * @enforcer: (nullable): an enforcer
 *
 * Frees @enforcer.
 */
void exm_rest_enforcer_free(ExmRestEnforcer *enforcer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmRestEnforcer, exm_rest_enforcer_free)

/* ------------------------------------------------------------------ responses */

/**
 * ExmRestResponse:
 * @status: HTTP status
 * @body: (nullable): JSON text; %NULL for 204
 * @headers: (element-type utf8): name, value, name, value, …
 */
typedef struct {
	guint status;
	gchar *body;
	GPtrArray *headers;
} ExmRestResponse;

/**
 * exm_rest_response_new:
 *
 * Returns: (transfer full): an empty response (status 500 until set)
 */
ExmRestResponse *exm_rest_response_new(void);

/**
 * exm_rest_response_free:
 * @response: (nullable): a response
 *
 * Frees @response.
 */
void exm_rest_response_free(ExmRestResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmRestResponse, exm_rest_response_free)
/**
 * exm_rest_response_set_json:
 * @response: a response
 * @status: HTTP status
 * @node: (nullable): the body; %NULL for none (204)
 *
 * Sets @status and the compact JSON of @node.
 */
void exm_rest_response_set_json(ExmRestResponse *response, guint status, JsonNode *node);

/**
 * exm_rest_response_set_error:
 * @response: a response
 * @error: the failure
 *
 * Sets exm_error_http_status() and exm_error_body() of @error and drops any
 * header set so far.
 */
void exm_rest_response_set_error(ExmRestResponse *response, const GError *error);

/**
 * exm_rest_response_add_header:
 * @response: a response
 * @name: header name
 * @value: header value
 *
 * Adds one header (copies both strings).
 */
void exm_rest_response_add_header(ExmRestResponse *response, const gchar *name, const gchar *value);

/**
 * exm_rest_response_paginate:
 * @response: a list response
 * @query: its query
 * @n_items: how many items the page holds
 * @last_id: (nullable): the id of the last item
 *
 * `X-Pagination-Limit` when a limit was asked for, and `X-Pagination-Marker`
 * when the page is full.
 */
void exm_rest_response_paginate(ExmRestResponse *response,
				const ExmRestListQuery *query,
				guint n_items,
				const gchar *last_id);

G_END_DECLS
