/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Strict typed body unpacking in restalchemy's order of checks
 * (docs/rest-conventions.md §6).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include "exm-rest-model.h"

G_BEGIN_DECLS

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
 * @mount_prefix: e.g. `/v1/types/<slug>/`, for relationship URIs
 * @error: 400 `ParseBodyError` (not strict JSON, or not an object), 403
 *   `FieldPermissionError`, 400 `ParseError`/`TypeError`/`PropertyRequired`, 404
 *   `LocatorNotFound`, 400 `ValidationPropertyIncompatibleError` (unknown keys)
 *
 * Checks the body in restalchemy's order: for each field in model order that is
 * present: permission for @method, then conversion; then leftover keys.  A
 * required field sent as `null` is a `PropertyRequired`; a missing one is the
 * caller's check (after its policy checks, as upstream).  @data is parsed from
 * a copy that is wiped, and the secret fields' strings never reach json-glib's
 * scanner (exm_json_parse_secret()); they are wiped in the parsed tree and when
 * the body is freed (docs/SECURITY.md §8).  @data itself is the caller's.
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
 * exm_rest_body_values:
 * @body: an unpacked body
 *
 * Returns: (transfer none) (element-type ExmRestValue): the values the body
 *   carried, each field once, in the model's order
 */
const GPtrArray *exm_rest_body_values(const ExmRestBody *body);

/**
 * exm_rest_body_free:
 * @body: (nullable): a body
 *
 * Frees @body, wiping the strings of secret fields first.
 */
void exm_rest_body_free(ExmRestBody *body);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmRestBody, exm_rest_body_free)

/**
 * exm_rest_body_range_error:
 * @error: return location
 * @model: the model
 * @field: a field of @model
 * @method: %EXM_REST_CREATE or %EXM_REST_UPDATE
 * @value: the refused value as Python's str() prints it (the text of a string
 *   or an integer)
 *
 * Sets restalchemy's answer to a value its type refuses by range or length
 * (`Integer(min_value, max_value)`, `String(max_length)`), a check the
 * toolkit's types leave to the plugin: 400 `TypeError` on create,
 * `ModelTypeError` on update, worded as upstream.
 *
 * Returns: %FALSE
 */
gboolean exm_rest_body_range_error(GError **error,
				   const ExmRestModel *model,
				   const gchar *field,
				   ExmRestMethod method,
				   const gchar *value);

/**
 * exm_rest_body_value_text:
 * @value: a converted body value
 *
 * Returns: (transfer full) (nullable): its canonical SQL text (timestamps as
 *   µs since the epoch, lists as JSON), %NULL for JSON `null`
 */
gchar *exm_rest_body_value_text(const ExmRestValue *value);

G_END_DECLS
