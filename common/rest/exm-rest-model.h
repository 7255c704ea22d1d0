/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Model declarations: fields with their types, flags and per-method access
 * (docs/rest-conventions.md §5, §7), the model-naming error messages and
 * the packing of an answer.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include "exm-rest-method.h"

G_BEGIN_DECLS

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
 * @EXM_REST_TYPE_UUID: a UUID string (a `uuid` column)
 * @EXM_REST_TYPE_STRING: a string (a `text` or `varchar` column: selected as
 *   it is, its output being its text; a `char(n)` column's would be padded)
 * @EXM_REST_TYPE_INTEGER: a JSON integer (int64; an integer column)
 * @EXM_REST_TYPE_BOOLEAN: `true`/`false`
 * @EXM_REST_TYPE_TIMESTAMP: `YYYY-MM-DDTHH:MM:SS.ffffffZ`
 * @EXM_REST_TYPE_STRING_LIST: an array of strings
 * @EXM_REST_TYPE_RELATIONSHIP: the path URI of another resource
 * @EXM_REST_TYPE_ENUM: a string from a fixed set the model's hooks keep
 *   (handled as %EXM_REST_TYPE_STRING here)
 * @EXM_REST_TYPE_OBJECT: a JSON object in a `jsonb` column, shown as stored;
 *   read-only (only the model's own SQL writes it: the body never converts
 *   one), and neither a filter nor a sort key (no equality on a document)
 */
typedef enum {
	EXM_REST_TYPE_UUID,
	EXM_REST_TYPE_STRING,
	EXM_REST_TYPE_INTEGER,
	EXM_REST_TYPE_BOOLEAN,
	EXM_REST_TYPE_TIMESTAMP,
	EXM_REST_TYPE_STRING_LIST,
	EXM_REST_TYPE_RELATIONSHIP,
	EXM_REST_TYPE_ENUM,
	EXM_REST_TYPE_OBJECT,
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
 * @EXM_REST_FIELD_REQUIRED_BY_MODEL: required, but checked by the model's
 *   own rules (another field may stand in), not by the toolkit
 */
typedef enum {
	EXM_REST_FIELD_REQUIRED = 1 << 0,
	EXM_REST_FIELD_NULLABLE = 1 << 1,
	EXM_REST_FIELD_READ_ONLY = 1 << 2,
	EXM_REST_FIELD_NO_COLUMN = 1 << 3,
	EXM_REST_FIELD_SECRET = 1 << 4,
	EXM_REST_FIELD_REQUIRED_BY_MODEL = 1 << 5,
} ExmRestFieldFlags;

/**
 * ExmRestLimit:
 * @EXM_REST_LIMIT_MIN: #ExmRestFieldSchema.minimum applies
 * @EXM_REST_LIMIT_MAX: #ExmRestFieldSchema.maximum applies
 * @EXM_REST_LIMIT_MIN_LENGTH: #ExmRestFieldSchema.min_length applies
 * @EXM_REST_LIMIT_MAX_LENGTH: #ExmRestFieldSchema.max_length applies
 *
 * Which limits of a #ExmRestFieldSchema are set.
 */
typedef enum {
	EXM_REST_LIMIT_MIN = 1 << 0,
	EXM_REST_LIMIT_MAX = 1 << 1,
	EXM_REST_LIMIT_MIN_LENGTH = 1 << 2,
	EXM_REST_LIMIT_MAX_LENGTH = 1 << 3,
} ExmRestLimit;

/**
 * ExmRestFieldSchema:
 * @limits: #ExmRestLimit mask of the limits set
 * @minimum: smallest integer value
 * @maximum: largest integer value
 * @min_length: fewest characters of a string
 * @max_length: most characters of a string
 * @values: (nullable): %NULL-terminated values of an enum
 * @format: (nullable): an OpenAPI `format` finer than the type's own
 *   (`hostname`, …)
 * @description: (nullable): one sentence for the OpenAPI document
 *
 * What a model's rules (its #ExmRestKind hooks) enforce beyond the type, for
 * the OpenAPI document (exm-rest-openapi.h).  The hooks remain the checks;
 * this only describes them, next to the field so the two are read together.
 */
typedef struct {
	guint limits;
	gint64 minimum;
	gint64 maximum;
	gint64 min_length;
	gint64 max_length;
	const gchar *const *values;
	const gchar *format;
	const gchar *description;
} ExmRestFieldSchema;

/**
 * ExmRestField:
 * @name: API name = column name
 * @type: value type
 * @flags: #ExmRestFieldFlags
 * @create: access for CREATE
 * @read: access for GET and FILTER
 * @update: access for UPDATE
 * @related: for a relationship, the collection path below the mount of the
 *   target, e.g. `things/`
 * @schema: (nullable): the limits the model's rules enforce, for the OpenAPI
 *   document
 */
typedef struct {
	const gchar *name;
	ExmRestType type;
	guint flags;
	ExmRestAccess create;
	ExmRestAccess read;
	ExmRestAccess update;
	const gchar *related;
	const ExmRestFieldSchema *schema;
} ExmRestField;

/**
 * ExmRestModel:
 * @name: the model's name in messages (`Thing`)
 * @class_path: its Python class path in messages
 *   (`pkg.dm.models.Thing`)
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
 * exm_rest_model_field_access:
 * @field: a field
 * @method: the method of the request
 *
 * Returns: the field's access for @method: create for CREATE, update for
 *   UPDATE, read for everything else
 */
ExmRestAccess exm_rest_model_field_access(const ExmRestField *field, ExmRestMethod method);

/**
 * exm_rest_model_error_read_only:
 * @error: return location
 * @model: the model
 * @field: the field whose value the request tried to change
 *
 * Sets 400 `ReadOnlyProperty` "Property '<field>' of model <class '<path>'> is
 * read only.".
 */
void exm_rest_model_error_read_only(GError **error, const ExmRestModel *model, const gchar *field);
/**
 * exm_rest_model_error_required:
 * @error: return location
 * @model: the model
 * @field: the missing field
 *
 * Sets 400 `PropertyRequired` naming @field and @model as restalchemy does.
 */
void exm_rest_model_error_required(GError **error, const ExmRestModel *model, const gchar *field);
/**
 * exm_rest_model_error_not_found:
 * @error: return location
 * @model: the model
 * @id: the id looked up
 * @project_id: (nullable): the project scope of the lookup
 *
 * Sets 404 `RecordNotFound` naming @model and the lookup's filters in
 * restalchemy's Python-repr style.
 */
void exm_rest_model_error_not_found(GError **error,
				    const ExmRestModel *model,
				    const gchar *id,
				    const gchar *project_id);

/**
 * exm_rest_model_pack:
 * @object: a resource as JSON (nulls already omitted)
 * @model: its model
 * @method: the method whose read permission applies (%EXM_REST_CREATE uses the
 *   create access, etc.)
 * @fields: (nullable): sparse fieldset (API names)
 *
 * Removes members that are hidden for @method, members not in @fields and
 * null members, in place.
 */
void exm_rest_model_pack(JsonObject *object,
			 const ExmRestModel *model,
			 ExmRestMethod method,
			 GPtrArray *fields);

/**
 * exm_rest_model_parse_relationship:
 * @uri: a relationship value: `<mount><related><uuid>`
 * @mount_prefix: e.g. `/v1/types/<slug>/`
 * @related: the target's collection below the mount, e.g. `things/`
 * @error: 404 `LocatorNotFound` for anything else
 *
 * Returns: (transfer full): the target's canonical UUID
 */
gchar *exm_rest_model_parse_relationship(const gchar *uri,
					 const gchar *mount_prefix,
					 const gchar *related,
					 GError **error);

G_END_DECLS
