/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

#include "exordos-paas-builder.h"

G_BEGIN_DECLS

/**
 * SECTION:exordos-paas-plugin
 * @title: Exordos PaaS plugin ABI
 * @short_description: the contract between a MetaPaaS host and a PaaS type plugin
 *
 * A plugin is a shared object that exports exactly one symbol,
 * exordos_paas_plugin_get_descriptor() (its name is
 * %EXORDOS_PAAS_PLUGIN_ENTRY_SYMBOL).  It returns a constant
 * #ExordosPaasPluginDescriptor that tells the host everything about the PaaS type:
 * its slug and element, its SQL migrations, its models, the agent model/filter
 * map, its IAM permission names and one REST dispatch function serving the
 * subtree `/v1/types/<slug>/`.
 *
 * Compatibility rules:
 *
 * - A host refuses a descriptor whose @abi_major differs from the
 *   %EXORDOS_PAAS_PLUGIN_ABI_MAJOR it was built with, and one whose
 *   @struct_size is smaller than the size of the descriptor of the
 *   @abi_minor it needs.
 * - New members are only ever appended, taken from a `reserved` array so the
 *   size of every struct stays the same; each addition bumps @abi_minor.
 *   Reserved slots are %NULL; a host reads an appended member only when the
 *   plugin's @abi_minor says it is there.
 * - Arrays are %NULL-terminated arrays of pointers, so an element struct can
 *   grow the same way without changing the array stride.
 * - Only plain C types cross the boundary (GLib's basic typedefs and a borrowed
 *   libpq `PGconn`); strings are NUL-terminated UTF-8.
 *
 * Threading: a host calls @init once before anything else and @shutdown once
 * after the last dispatch has returned.  In between it may call @rest_dispatch
 * from several worker threads at the same time, each with its own `PGconn`.  A
 * plugin keeps all its state behind the context returned by @init (no mutable
 * globals) and never aborts, exits or crashes the host on bad input.
 */

/**
 * EXORDOS_PAAS_PLUGIN_ABI_MAJOR:
 *
 * Incompatible changes bump this; a host refuses any other major.
 */
#define EXORDOS_PAAS_PLUGIN_ABI_MAJOR 1

/**
 * EXORDOS_PAAS_PLUGIN_ABI_MINOR:
 *
 * Compatible additions (members appended from reserved space) bump this.
 */
#define EXORDOS_PAAS_PLUGIN_ABI_MINOR 5

/**
 * EXORDOS_PAAS_PLUGIN_EXPORT:
 *
 * Marks the entry point as exported even when the plugin is compiled with
 * `-fvisibility=hidden`.
 */
#define EXORDOS_PAAS_PLUGIN_EXPORT __attribute__((visibility("default")))

/**
 * EXORDOS_PAAS_PLUGIN_ENTRY_SYMBOL:
 *
 * The name of the only symbol a plugin exports, for g_module_symbol()/dlsym().
 */
#define EXORDOS_PAAS_PLUGIN_ENTRY_SYMBOL "exordos_paas_plugin_get_descriptor"

/**
 * ExordosPaasLogLevel:
 * @EXORDOS_PAAS_LOG_ERROR: something failed and a request or task was aborted
 * @EXORDOS_PAAS_LOG_WARNING: unexpected but handled
 * @EXORDOS_PAAS_LOG_INFO: a state change worth keeping
 * @EXORDOS_PAAS_LOG_DEBUG: developer detail
 *
 * Severity of a message passed to #ExordosPaasHost.log.
 */
typedef enum {
	EXORDOS_PAAS_LOG_ERROR = 0,
	EXORDOS_PAAS_LOG_WARNING = 1,
	EXORDOS_PAAS_LOG_INFO = 2,
	EXORDOS_PAAS_LOG_DEBUG = 3,
} ExordosPaasLogLevel;

/**
 * ExordosPaasHostLogFunc:
 * @host_data: #ExordosPaasHost.host_data
 * @level: severity
 * @request_id: (nullable): the #ExordosPaasRestRequest.request_id the message
 *   belongs to, or %NULL outside a request
 * @message: one line of UTF-8, no trailing newline; it never contains a secret
 *
 * Writes a structured log record on behalf of the plugin.  Thread-safe.
 */
typedef void (*ExordosPaasHostLogFunc)(gpointer host_data,
				       ExordosPaasLogLevel level,
				       const gchar *request_id,
				       const gchar *message);

/**
 * ExordosPaasHost:
 * @struct_size: `sizeof (ExordosPaasHost)` as the host was compiled
 * @abi_major: the host's %EXORDOS_PAAS_PLUGIN_ABI_MAJOR
 * @abi_minor: the host's %EXORDOS_PAAS_PLUGIN_ABI_MINOR
 * @host_data: opaque pointer passed back to every host function
 * @log: (not nullable): log function
 * @infra_project_id: (nullable): ABI minor ≥ 2: the project the host's
 *   infrastructure lives in (upstream: the MetaPaaS project).  Infra targets
 *   (`node_set`, `config`) carry it as their `project_id`, because the
 *   platform's compute refuses any other project for the host's credentials;
 *   tenant resources keep their own project.  %NULL (or an older host): the
 *   plugin falls back to the tenant's project.
 * @reserved: for functions added later (%NULL)
 *
 * The host function table passed to #ExordosPaasPluginDescriptor.init.  It
 * stays valid until #ExordosPaasPluginDescriptor.shutdown returns, so a plugin
 * may keep the pointer in its context.  A plugin reads an appended member
 * only when @abi_minor says the host set it.
 */
typedef struct {
	gsize struct_size;
	guint32 abi_major;
	guint32 abi_minor;
	gpointer host_data;
	ExordosPaasHostLogFunc log;
	const gchar *infra_project_id;
	gpointer reserved[15];
} ExordosPaasHost;

/**
 * ExordosPaasMigration:
 * @uuid: the migration's identity: a lower-case canonical UUID, the primary key
 *   of `ra_migrations(uuid CHAR(36) PRIMARY KEY, applied BOOLEAN)`
 * @name: a human name, e.g. `0000-init-mail`
 * @depends: %NULL-terminated list of the uuids this migration needs applied
 *   first (may be empty, never %NULL)
 * @up_sql: SQL applying the migration (may hold several statements; the host runs
 *   it with `PQexec` inside one transaction together with its `ra_migrations` row)
 * @down_sql: SQL reverting it, same rules
 * @reserved: for later use (%NULL)
 *
 * One schema migration.  The host applies a migration only when it is not
 * recorded as applied, dependencies first, each in its own transaction, so
 * re-running is a no-op.
 */
typedef struct {
	const gchar *uuid;
	const gchar *name;
	const gchar *const *depends;
	const gchar *up_sql;
	const gchar *down_sql;
	gpointer reserved[4];
} ExordosPaasMigration;

/**
 * ExordosPaasFieldType:
 * @EXORDOS_PAAS_FIELD_UUID: UUID, canonical lower-case string in JSON
 * @EXORDOS_PAAS_FIELD_STRING: string
 * @EXORDOS_PAAS_FIELD_INTEGER: 64-bit integer
 * @EXORDOS_PAAS_FIELD_BOOLEAN: boolean
 * @EXORDOS_PAAS_FIELD_TIMESTAMP: UTC timestamp, `YYYY-MM-DDTHH:MM:SS.ffffffZ` in JSON
 * @EXORDOS_PAAS_FIELD_ENUM: one of a fixed set of strings
 * @EXORDOS_PAAS_FIELD_STRING_LIST: array of strings
 * @EXORDOS_PAAS_FIELD_RELATIONSHIP: a uuid column holding another model's row;
 *   in JSON the path URI of that row, e.g. `/v1/types/mail/versions/<uuid>`
 *
 * The type of a model field, in the database and in JSON.
 */
typedef enum {
	EXORDOS_PAAS_FIELD_UUID = 0,
	EXORDOS_PAAS_FIELD_STRING = 1,
	EXORDOS_PAAS_FIELD_INTEGER = 2,
	EXORDOS_PAAS_FIELD_BOOLEAN = 3,
	EXORDOS_PAAS_FIELD_TIMESTAMP = 4,
	EXORDOS_PAAS_FIELD_ENUM = 5,
	EXORDOS_PAAS_FIELD_STRING_LIST = 6,
	EXORDOS_PAAS_FIELD_RELATIONSHIP = 7,
} ExordosPaasFieldType;

/**
 * ExordosPaasFieldAccess:
 * @EXORDOS_PAAS_ACCESS_HIDDEN: never shown, writing it is a 403 `FieldPermissionError`
 * @EXORDOS_PAAS_ACCESS_RO: shown, writing it is a 403 `FieldPermissionError`
 * @EXORDOS_PAAS_ACCESS_RW: shown and writable
 *
 * The field permission levels of restalchemy (HIDDEN < RO < RW), per method.
 */
typedef enum {
	EXORDOS_PAAS_ACCESS_HIDDEN = 1,
	EXORDOS_PAAS_ACCESS_RO = 2,
	EXORDOS_PAAS_ACCESS_RW = 3,
} ExordosPaasFieldAccess;

/**
 * ExordosPaasFieldFlags:
 * @EXORDOS_PAAS_FIELD_FLAG_NONE: no flag
 * @EXORDOS_PAAS_FIELD_FLAG_REQUIRED: must be given at create (or has a default)
 * @EXORDOS_PAAS_FIELD_FLAG_READ_ONLY: fixed after create
 * @EXORDOS_PAAS_FIELD_FLAG_PRIMARY_KEY: the row's id (`uuid`)
 * @EXORDOS_PAAS_FIELD_FLAG_WRITE_ONLY: accepted in requests, never stored as
 *   such nor returned (e.g. a plaintext password that is hashed on arrival)
 *
 * Properties of a model field.
 */
typedef enum {
	EXORDOS_PAAS_FIELD_FLAG_NONE = 0,
	EXORDOS_PAAS_FIELD_FLAG_REQUIRED = 1 << 0,
	EXORDOS_PAAS_FIELD_FLAG_READ_ONLY = 1 << 1,
	EXORDOS_PAAS_FIELD_FLAG_PRIMARY_KEY = 1 << 2,
	EXORDOS_PAAS_FIELD_FLAG_WRITE_ONLY = 1 << 3,
} ExordosPaasFieldFlags;

/**
 * ExordosPaasField:
 * @name: API name = column name (write-only fields have no column)
 * @type: value type
 * @flags: #ExordosPaasFieldFlags
 * @access_create: permission for create (POST)
 * @access_read: permission for get/list
 * @access_update: permission for update (PUT/PATCH)
 * @related_kind: (nullable): for %EXORDOS_PAAS_FIELD_RELATIONSHIP the
 *   #ExordosPaasModel.kind it points to, else %NULL
 * @reserved: for later use (%NULL)
 *
 * One field of a model, in API order.
 */
typedef struct {
	const gchar *name;
	ExordosPaasFieldType type;
	guint32 flags;
	ExordosPaasFieldAccess access_create;
	ExordosPaasFieldAccess access_read;
	ExordosPaasFieldAccess access_update;
	const gchar *related_kind;
	gpointer reserved[4];
} ExordosPaasField;

/**
 * ExordosPaasModel:
 * @kind: the model's kind, e.g. `mail_instance`
 * @table: its database table, always prefixed `<slug>_`, e.g. `mail_instances`
 * @path: its collection path below the mount, e.g. `instances/` or
 *   `instances/{instance}/accounts/` for a nested model
 * @parent_kind: (nullable): the kind of the parent model for a nested
 *   collection, else %NULL
 * @fields: %NULL-terminated array of its fields in API order
 * @reserved: for later use (%NULL)
 *
 * A model the plugin stores and serves.
 */
typedef struct {
	const gchar *kind;
	const gchar *table;
	const gchar *path;
	const gchar *parent_kind;
	const ExordosPaasField *const *fields;
	gpointer reserved[8];
} ExordosPaasModel;

/**
 * ExordosPaasAgentModel:
 * @subpath: the subpath below the type, dotted for nested collections
 *   (`versions`, `instances`, `instances.accounts`); the host derives the Element
 *   Manager kind `em_<element>_types_<slug>_<subpath with '.' replaced by '_'>`,
 *   e.g. `em_mailaas_types_mail_instances_accounts`
 * @model_kind: the #ExordosPaasModel.kind resources of that kind are stored as
 * @filter_field: the field the agent filters on; the host renders the filter as
 *   `<filter_field>:<project id>`
 * @reserved: for later use (%NULL)
 *
 * One entry of the agent model/filter map (upstream `get_agent_models()` and
 * `get_agent_filters()`).
 */
typedef struct {
	const gchar *subpath;
	const gchar *model_kind;
	const gchar *filter_field;
	gpointer reserved[4];
} ExordosPaasAgentModel;

/**
 * ExordosPaasQueryParam:
 * @key: decoded parameter name
 * @value: decoded value (`""` for `?key` and `?key=`)
 *
 * One query-string parameter.  Repeated keys appear once per occurrence, in
 * request order.
 */
typedef struct {
	const gchar *key;
	const gchar *value;
} ExordosPaasQueryParam;

/**
 * ExordosPaasIdentity:
 * @anonymous: %TRUE when the request carried no bearer token; then @user_uuid
 *   and @project_id are %NULL and @permissions is empty
 * @user_uuid: (nullable): the authenticated user
 * @project_id: (nullable): the project the token is scoped to; %NULL means no
 *   project scope (an operator acting across projects, if permitted)
 * @permissions: (not nullable): %NULL-terminated gcl_iam permission strings
 *   (`svc.resource.action`, `*` wildcards allowed)
 * @reserved: for later use (%NULL)
 *
 * Who is asking.  The host has already verified the token (a bad token never
 * reaches the plugin: the host answers 401 itself); the plugin decides what the
 * identity may do.
 */
typedef struct {
	gboolean anonymous;
	const gchar *user_uuid;
	const gchar *project_id;
	const gchar *const *permissions;
	gpointer reserved[4];
} ExordosPaasIdentity;

/**
 * ExordosPaasRestRequest:
 * @struct_size: `sizeof (ExordosPaasRestRequest)` as the host was compiled
 * @method: HTTP method, upper case (`GET`, `POST`, `PUT`, `PATCH`, `DELETE`,
 *   `HEAD`, …)
 * @path: the decoded request path below the mount prefix, without query, e.g.
 *   `""` for the type's index, `instances/`, `instances/<uuid>`,
 *   `instances/<uuid>/accounts/`
 * @query: (array length=n_query): query parameters in request order
 * @n_query: number of @query elements
 * @content_type: (nullable): the request's `Content-Type` header, or %NULL
 * @body: (array length=body_len) (nullable): the request body, not
 *   NUL-terminated; %NULL when empty
 * @body_len: its length; the host has already refused oversize bodies (413)
 * @base_url: scheme and authority for absolute `Location` headers, without a
 *   trailing slash, e.g. `http://127.0.0.1:8080`
 * @mount_prefix: the mount path with leading and trailing slash, e.g.
 *   `/v1/types/mail/`; relationship URIs and `Location` paths start with it
 * @identity: (not nullable): the caller
 * @db: (transfer none): a connection inside a transaction the host opened;
 *   the host COMMITs when the response status is 2xx and ROLLBACKs otherwise,
 *   so a plugin never issues COMMIT/ROLLBACK itself.  Except for a request
 *   that #ExordosPaasPluginDescriptor.rest_route_flags declared
 *   %EXORDOS_PAAS_ROUTE_FLAG_READ_ONLY (ABI minor ≥ 5): then no transaction
 *   is open, each statement runs as its own read-only transaction and a
 *   write fails (SQLSTATE 25006)
 * @request_id: (nullable): the host's id of this request, for #ExordosPaasHost.log
 * @reserved: for later use (%NULL)
 *
 * A REST request routed to a plugin's subtree.  Everything is borrowed for the
 * duration of the dispatch call.
 */
typedef struct {
	gsize struct_size;
	const gchar *method;
	const gchar *path;
	const ExordosPaasQueryParam *query;
	gsize n_query;
	const gchar *content_type;
	const gchar *body;
	gsize body_len;
	const gchar *base_url;
	const gchar *mount_prefix;
	const ExordosPaasIdentity *identity;
	PGconn *db;
	const gchar *request_id;
	gpointer reserved[8];
} ExordosPaasRestRequest;

/**
 * ExordosPaasHeader:
 * @name: header name, e.g. `Location`, `X-Pagination-Limit`, `X-Pagination-Marker`
 * @value: header value
 *
 * One response header, owned by the response.
 */
typedef struct {
	gchar *name;
	gchar *value;
} ExordosPaasHeader;

/**
 * ExordosPaasRestResponse:
 * @status: HTTP status (200, 201, 204, 4xx, 5xx)
 * @body: (nullable): the body, NUL-terminated; `application/json` whenever it is
 *   not %NULL; %NULL for 204
 * @body_len: the body's length in bytes (without the NUL)
 * @headers: (array length=n_headers) (nullable): extra response headers
 * @n_headers: number of @headers
 * @reserved: for later use (%NULL)
 *
 * The plugin's answer.  The host zero-fills it before dispatch; the plugin owns
 * every pointer in it until the host hands it back to
 * #ExordosPaasPluginDescriptor.rest_response_clear.
 */
typedef struct {
	guint status;
	gchar *body;
	gsize body_len;
	ExordosPaasHeader *headers;
	gsize n_headers;
	gpointer reserved[4];
} ExordosPaasRestResponse;

/**
 * ExordosPaasPluginInitFunc:
 * @host: (transfer none): the host function table, valid until shutdown
 * @out_ctx: (out): the plugin's context, passed to every later call
 * @out_error: (out) (transfer full): on failure, a lower-case message to be
 *   freed with g_free()
 *
 * Prepares the plugin.  Called once, before any other function.
 *
 * Returns: %TRUE on success
 */
typedef gboolean (*ExordosPaasPluginInitFunc)(const ExordosPaasHost *host,
					      gpointer *out_ctx,
					      gchar **out_error);

/**
 * ExordosPaasPluginShutdownFunc:
 * @ctx: (transfer full) (nullable): the context from init
 *
 * Frees everything init created.  Called once, after the last dispatch returned.
 */
typedef void (*ExordosPaasPluginShutdownFunc)(gpointer ctx);

/**
 * ExordosPaasRestDispatchFunc:
 * @ctx: the context from init
 * @request: (transfer none): the request
 * @response: (out caller-allocates): a zero-filled response to fill
 *
 * Serves one request of the subtree with restalchemy semantics: routing,
 * field permissions, IAM decisions, filters, pagination and error bodies.  It
 * always fills @response (errors become a JSON error body with a 4xx/5xx
 * status) and runs its SQL on @request->db only.  Synchronous and thread-safe.
 */
typedef void (*ExordosPaasRestDispatchFunc)(gpointer ctx,
					    const ExordosPaasRestRequest *request,
					    ExordosPaasRestResponse *response);

/**
 * ExordosPaasRestResponseClearFunc:
 * @ctx: the context from init
 * @response: a response filled by dispatch
 *
 * Frees what dispatch put into @response and zero-fills it.
 */
typedef void (*ExordosPaasRestResponseClearFunc)(gpointer ctx, ExordosPaasRestResponse *response);

/**
 * ExordosPaasOpenapiFunc:
 * @ctx: the context from init
 * @openapi_version: `3.0.3` or `3.1.0` (upstream's `/specifications/` list)
 * @mount_prefix: the mount path with leading and trailing slash, e.g.
 *   `/v1/types/mail/`; the document's paths start with it
 * @out_error: (out) (transfer full): on failure (a version the plugin does
 *   not generate), a lower-case message to be freed with g_free()
 *
 * The OpenAPI document of the plugin's subtree, generated from the same
 * model and route tables that @rest_dispatch serves: every path and method,
 * every field with its type, limits and create/read/update access, the list
 * filters, the pagination headers and the error bodies.  It has no `servers`:
 * the host, which knows its external URL, adds them and merges its own
 * paths.  Thread-safe; no database access.
 *
 * Returns: (transfer full) (nullable): the document as UTF-8 JSON text, to be
 *   freed with g_free(), or %NULL with @out_error set
 */
typedef gchar *(*ExordosPaasOpenapiFunc)(gpointer ctx,
					 const gchar *openapi_version,
					 const gchar *mount_prefix,
					 gchar **out_error);

/**
 * ExordosPaasManifestOp:
 * @EXORDOS_PAAS_MANIFEST_CREATE: converge the resource to the value: created
 *   when absent, else updated (an element manifest re-sends creates)
 * @EXORDOS_PAAS_MANIFEST_UPDATE: the same as @EXORDOS_PAAS_MANIFEST_CREATE
 * @EXORDOS_PAAS_MANIFEST_DELETE: delete it; absent is a 404
 * @EXORDOS_PAAS_MANIFEST_GET: read its actual state, writing nothing
 * @EXORDOS_PAAS_MANIFEST_LIST: the uuids of the kind's resources whose
 *   #ExordosPaasAgentModel.filter_field equals @value (given as plain text,
 *   e.g. the Element Manager's project id), a JSON array of strings; what a
 *   core-agent lists as the kind's actual resources
 *
 * What #ExordosPaasPluginDescriptor.manifest_apply does (ABI minor ≥ 3).
 */
typedef enum {
	EXORDOS_PAAS_MANIFEST_CREATE = 0,
	EXORDOS_PAAS_MANIFEST_UPDATE = 1,
	EXORDOS_PAAS_MANIFEST_DELETE = 2,
	EXORDOS_PAAS_MANIFEST_GET = 3,
	EXORDOS_PAAS_MANIFEST_LIST = 4,
} ExordosPaasManifestOp;

/**
 * EXORDOS_PAAS_MANIFEST_SEAL_HEADER:
 *
 * The response header of #ExordosPaasPluginDescriptor.manifest_apply that
 * carries the seal stored with the resource (see #ExordosPaasManifestRequest).
 */
#define EXORDOS_PAAS_MANIFEST_SEAL_HEADER "X-Exordos-Seal"

/**
 * ExordosPaasManifestRequest:
 * @struct_size: `sizeof (ExordosPaasManifestRequest)` as the host was compiled
 * @op: what to do
 * @kind: the Element Manager kind, `em_<element>_types_<slug>_<subpath>`
 *   (#ExordosPaasAgentModel.subpath with '.' replaced by '_')
 * @uuid: (nullable): the resource's uuid (canonical); %NULL for list
 * @value: (nullable): for create/update the resource's value, a JSON object in
 *   the REST API's form (relationships as path URIs; a bare uuid is taken
 *   too); for list the filter value as plain text; %NULL for delete and get
 * @seal: (nullable): an opaque printable string (at most 4096 bytes) the host
 *   made from the value's read-hidden fields (e.g. a sealed copy of a
 *   plaintext `password`).  The plugin stores it with the resource whenever a
 *   write of this call set one of those fields, and answers it in the
 *   %EXORDOS_PAAS_MANIFEST_SEAL_HEADER header of every later call on the
 *   resource until a write by any other path changes such a field.  The
 *   plugin never reads it; the host uses it to leave out read-hidden fields
 *   that did not change (so nothing is re-hashed) and to report them back.
 * @db: (transfer none): a connection inside a transaction the host opened;
 *   COMMIT on 2xx, ROLLBACK otherwise, as for #ExordosPaasRestRequest.db
 *   (always: #ExordosPaasPluginDescriptor.rest_route_flags does not apply)
 * @request_id: (nullable): for #ExordosPaasHost.log
 * @reserved: for later use (%NULL)
 *
 * One element-manifest resource handed to the plugin (ABI minor ≥ 3).  Every
 * write goes through the same code as the REST API: validation,
 * normalisation, hashing, the parent's touch and the error bodies; it acts
 * with every permission and no project scope (the host has authenticated the
 * platform's Core), but field permissions hold as on the REST API.
 */
typedef struct {
	gsize struct_size;
	ExordosPaasManifestOp op;
	const gchar *kind;
	const gchar *uuid;
	const gchar *value;
	const gchar *seal;
	PGconn *db;
	const gchar *request_id;
	gpointer reserved[8];
} ExordosPaasManifestRequest;

/**
 * ExordosPaasManifestApplyFunc:
 * @ctx: the context from init
 * @request: (transfer none): the manifest resource
 * @response: (out caller-allocates): a zero-filled response to fill; freed
 *   with #ExordosPaasPluginDescriptor.rest_response_clear
 *
 * Applies or reads one element-manifest resource.  Answers 201 with the
 * resource (REST representation) when it was created, 200 with it when it
 * was updated, already equal (then nothing is written: only the fields whose
 * value differs from the stored one are written) or read, 200 with an array
 * of uuids for list, 204 when deleted,
 * and a JSON error body (`type`, `code`, `message`, as the REST API answers)
 * with a 4xx/5xx status when the plugin refuses the value, the kind is not
 * one of #ExordosPaasPluginDescriptor.agent_models (404) or the resource is
 * absent on get/delete (404).  Synchronous and thread-safe.
 */
typedef void (*ExordosPaasManifestApplyFunc)(gpointer ctx,
					     const ExordosPaasManifestRequest *request,
					     ExordosPaasRestResponse *response);

/**
 * ExordosPaasPeriodicRunFunc:
 * @ctx: the context from init
 * @db: a connection of the host's in autocommit (no transaction open): each
 *   statement commits on its own, so a step holds no lock across slow work
 *   (a DNS query); a step that needs several statements to be atomic opens
 *   and ends its own transaction
 * @now_us: the host's wall clock, microseconds since the Unix epoch
 * @out_more: (out): %TRUE when due work is left, so the host calls again
 *   soon instead of after the job's interval
 * @out_error: (out) (transfer full): on failure, a lower-case message to be
 *   freed with g_free()
 *
 * One bounded step of a plugin's background job (ABI minor ≥ 4), e.g. one
 * instance's scheduled re-check.  The host runs the steps of all jobs one
 * after another on its own thread, while
 * #ExordosPaasPluginDescriptor.rest_dispatch and the builders run on others.
 * Several hosts may share the database, so a step claims its rows (e.g. a
 * lease written by one statement with `FOR UPDATE SKIP LOCKED`) rather than
 * assuming it is alone, and never keeps a row locked while it waits on the
 * network: the builders and the API write the same rows.
 *
 * Returns: %TRUE on success (also when nothing was due)
 */
typedef gboolean (*ExordosPaasPeriodicRunFunc)(gpointer ctx,
					       PGconn *db,
					       gint64 now_us,
					       gboolean *out_more,
					       gchar **out_error);

/**
 * ExordosPaasPeriodicJob:
 * @struct_size: `sizeof (ExordosPaasPeriodicJob)` as the plugin was compiled
 * @name: the job's name, for logs and metrics (e.g. `dns_recheck`)
 * @interval_ms: how long the host waits after a step that left nothing due
 *   (at least 100)
 * @run: (not nullable): see #ExordosPaasPeriodicRunFunc
 * @reserved: for later use (%NULL)
 *
 * A background job of the plugin: the host calls @run every @interval_ms,
 * and again at once while it reports more due work.
 */
typedef struct {
	gsize struct_size;
	const gchar *name;
	guint interval_ms;
	ExordosPaasPeriodicRunFunc run;
	gpointer reserved[4];
} ExordosPaasPeriodicJob;

/**
 * ExordosPaasMetricAddFunc:
 * @sink: #ExordosPaasMetricSink.sink
 * @name: the family, `exordos_<slug>_…` in `[a-z0-9_]` (others are dropped)
 * @help: its help text
 * @type: `gauge` or `counter`
 * @label: (nullable): the name of the sample's one label, `[a-z_]`
 * @value: (nullable): its value
 * @sample: the sample
 *
 * Adds one sample to the host's `/metrics` (ABI minor ≥ 4).  The host bounds
 * the series of each family (as its own) and escapes label values.
 */
typedef void (*ExordosPaasMetricAddFunc)(gpointer sink,
					 const gchar *name,
					 const gchar *help,
					 const gchar *type,
					 const gchar *label,
					 const gchar *value,
					 gdouble sample);

/**
 * ExordosPaasMetricSink:
 * @struct_size: `sizeof (ExordosPaasMetricSink)` as the host was compiled
 * @sink: opaque, passed back to @add
 * @add: (not nullable): see #ExordosPaasMetricAddFunc
 * @reserved: for functions added later (%NULL)
 */
typedef struct {
	gsize struct_size;
	gpointer sink;
	ExordosPaasMetricAddFunc add;
	gpointer reserved[4];
} ExordosPaasMetricSink;

/**
 * ExordosPaasMetricsFunc:
 * @ctx: the context from init
 * @db: a connection outside any transaction, with a short statement timeout;
 *   the plugin only reads
 * @sink: (transfer none): where the samples go
 * @out_error: (out) (transfer full): on failure, a lower-case message to be
 *   freed with g_free()
 *
 * The plugin's gauges, read at scrape time (ABI minor ≥ 4), from the host's
 * metrics thread.  Should be cheap: one or two aggregate queries.
 *
 * Returns: %TRUE on success
 */
typedef gboolean (*ExordosPaasMetricsFunc)(gpointer ctx,
					   PGconn *db,
					   const ExordosPaasMetricSink *sink,
					   gchar **out_error);

/**
 * ExordosPaasRouteFlags:
 * @EXORDOS_PAAS_ROUTE_FLAG_NONE: today's contract: the request runs in a
 *   transaction the host opened (#ExordosPaasRestRequest.db)
 * @EXORDOS_PAAS_ROUTE_FLAG_READ_ONLY: the request only reads.  The host runs
 *   it without `BEGIN`/`COMMIT` (two round trips fewer): each statement is its
 *   own transaction with `transaction_read_only` on, so a write by mistake
 *   fails (SQLSTATE 25006) instead of committing, and two statements do not
 *   share a snapshot (under the default READ COMMITTED they do not inside one
 *   transaction either).  Nothing stays locked past a statement (`FOR UPDATE`
 *   fails too).  A host may run such a request twice when its connection
 *   broke during the first run
 *
 * What #ExordosPaasPluginDescriptor.rest_route_flags answers for a request
 * (ABI minor ≥ 5).  A host ignores bits it does not know; a plugin answers
 * %EXORDOS_PAAS_ROUTE_FLAG_NONE for anything it is unsure of.
 */
typedef enum {
	EXORDOS_PAAS_ROUTE_FLAG_NONE = 0,
	EXORDOS_PAAS_ROUTE_FLAG_READ_ONLY = 1 << 0,
} ExordosPaasRouteFlags;

/**
 * ExordosPaasRestRouteFlagsFunc:
 * @ctx: the context from init
 * @method: the request's #ExordosPaasRestRequest.method
 * @path: its #ExordosPaasRestRequest.path
 *
 * How the host is to run the request @method @path before it dispatches it
 * (ABI minor ≥ 5), e.g. %EXORDOS_PAAS_ROUTE_FLAG_READ_ONLY for a GET of a
 * resource or a list that writes nothing.  Called on the host's server
 * thread for every request of the subtree: thread-safe, no database access,
 * cheap (a walk of the route table).
 *
 * Returns: #ExordosPaasRouteFlags bits
 */
typedef guint32 (*ExordosPaasRestRouteFlagsFunc)(gpointer ctx,
						 const gchar *method,
						 const gchar *path);

/**
 * ExordosPaasPluginDescriptor:
 * @abi_major: %EXORDOS_PAAS_PLUGIN_ABI_MAJOR the plugin was built with
 * @abi_minor: %EXORDOS_PAAS_PLUGIN_ABI_MINOR the plugin was built with
 * @struct_size: `sizeof (ExordosPaasPluginDescriptor)` as the plugin was compiled
 * @slug: the type's slug, mounted at `/v1/types/<slug>/` (e.g. `mail`)
 * @element: the element name (e.g. `mailaas`)
 * @version: the plugin's version string
 * @migrations: %NULL-terminated migrations in application order
 * @models: %NULL-terminated models
 * @agent_models: %NULL-terminated agent model/filter map
 * @permissions: %NULL-terminated IAM permission names the type uses
 *   (`exordos_mail.mail_instance.create`, …)
 * @init: (not nullable): see #ExordosPaasPluginInitFunc
 * @shutdown: (not nullable): see #ExordosPaasPluginShutdownFunc
 * @rest_dispatch: (not nullable): see #ExordosPaasRestDispatchFunc
 * @rest_response_clear: (not nullable): see #ExordosPaasRestResponseClearFunc
 * @builders: (nullable): the plugin's builders (ABI minor ≥ 1); see
 *   exordos-paas-builder.h
 * @manifest_apply: (nullable): ABI minor ≥ 3: applies and reads the
 *   element-manifest resources of the @agent_models kinds (the EM path, the
 *   platform's core-agent); see #ExordosPaasManifestApplyFunc.  %NULL: the
 *   plugin takes no manifest resources
 * @openapi: (nullable): ABI minor ≥ 3: see #ExordosPaasOpenapiFunc; a host
 *   reads it only when @abi_minor ≥ 3
 * @periodic: (nullable): ABI minor ≥ 4: %NULL-terminated background jobs;
 *   see #ExordosPaasPeriodicJob
 * @metrics: (nullable): ABI minor ≥ 4: see #ExordosPaasMetricsFunc
 * @rest_route_flags: (nullable): ABI minor ≥ 5: see
 *   #ExordosPaasRestRouteFlagsFunc; %NULL (or an older plugin): every
 *   request runs in a transaction
 * @reserved: appended members come from here (%NULL)
 *
 * Everything a host needs to know about a PaaS type plugin.  Constant for the
 * lifetime of the loaded module.
 */
typedef struct {
	guint32 abi_major;
	guint32 abi_minor;
	gsize struct_size;
	const gchar *slug;
	const gchar *element;
	const gchar *version;
	const ExordosPaasMigration *const *migrations;
	const ExordosPaasModel *const *models;
	const ExordosPaasAgentModel *const *agent_models;
	const gchar *const *permissions;
	ExordosPaasPluginInitFunc init;
	ExordosPaasPluginShutdownFunc shutdown;
	ExordosPaasRestDispatchFunc rest_dispatch;
	ExordosPaasRestResponseClearFunc rest_response_clear;
	const ExordosPaasBuilders *builders;
	/* ABI minor 3 */
	ExordosPaasManifestApplyFunc manifest_apply;
	ExordosPaasOpenapiFunc openapi;
	/* ABI minor 4 */
	const ExordosPaasPeriodicJob *const *periodic;
	ExordosPaasMetricsFunc metrics;
	/* ABI minor 5 */
	ExordosPaasRestRouteFlagsFunc rest_route_flags;
	gpointer reserved[10];
} ExordosPaasPluginDescriptor;

/**
 * ExordosPaasPluginGetDescriptorFunc:
 *
 * The type of exordos_paas_plugin_get_descriptor(), for g_module_symbol().
 *
 * Returns: (transfer none): the descriptor
 */
typedef const ExordosPaasPluginDescriptor *(*ExordosPaasPluginGetDescriptorFunc)(void);

/**
 * exordos_paas_plugin_get_descriptor:
 *
 * The plugin's only exported symbol.  Safe to call any number of times from
 * any thread; it has no side effect.
 *
 * Returns: (transfer none): the plugin's constant descriptor
 */
EXORDOS_PAAS_PLUGIN_EXPORT const ExordosPaasPluginDescriptor *exordos_paas_plugin_get_descriptor(
	void);

G_END_DECLS
