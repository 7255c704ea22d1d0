/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Strict JSON input (an RFC 8259 pre-scan in front of json-glib, whose parser
 * accepts things we must refuse: docs/architecture.md §7), typed accessors that refuse a
 * wrong JSON type instead of coercing, and the canonical JSON writer + XXH3
 * hash of the universal agent protocol (docs/agent-protocol.md §2.2–2.3).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#define EXM_JSON_MAX_DEPTH 64

/**
 * exm_json_prescan:
 * @data: bytes (not necessarily NUL-terminated)
 * @len: their length
 * @error: return location, %EXM_ERROR_PARSE_BODY on failure
 *
 * Checks that @data is exactly one RFC 8259 JSON text: valid UTF-8, no `\u0000`
 * escape (nor a raw NUL), lone surrogate escapes refused, integers within int64,
 * numbers finite, only double-quoted strings, no trailing garbage other than
 * whitespace, nesting at most %EXM_JSON_MAX_DEPTH.
 */
gboolean exm_json_prescan(const gchar *data, gsize len, GError **error);

/**
 * exm_json_member_span:
 * @data: bytes
 * @len: their length
 * @name: a member name (the text's names compared with their escapes decoded)
 * @offset: (out): where the member's value starts in @data
 * @length: (out): the value's length
 * @error: %EXM_ERROR_PARSE_BODY when @data is not strict JSON (as
 *   exm_json_prescan()), its root not an object, or @name not a member of it
 *
 * Finds the text of a member of the root object without building anything
 * (the last one of a repeated name, as a parse keeps): a caller may copy it
 * into a new text verbatim.
 *
 * Returns: %TRUE when found
 */
gboolean exm_json_member_span(const gchar *data,
			      gsize len,
			      const gchar *name,
			      gsize *offset,
			      gsize *length,
			      GError **error);

/**
 * exm_json_parse_strict:
 * @data: bytes
 * @len: their length
 * @error: %EXM_ERROR_PARSE_BODY on failure
 *
 * The tree json-glib's parser would build, of a text exm_json_prescan()
 * accepts; its checks are made while the tree is built (one walk of the
 * text), and a text it refuses is refused with its error.
 *
 * Returns: (transfer full): the root node
 */
JsonNode *exm_json_parse_strict(const gchar *data, gsize len, GError **error);

/**
 * exm_json_parse_pruned:
 * @data: bytes
 * @len: their length
 * @prune: %NULL-terminated paths of objects to leave empty: member names
 *   separated by `/`, `*` for any name or array element
 *   (`facts/x/resources/x/value` with `*` for each x)
 * @error: %EXM_ERROR_PARSE_BODY on failure
 *
 * exm_json_parse_strict(), the whole text checked alike, but an object at a
 * path of @prune is built empty: its members are never allocated (a payload's
 * values that only their hashes are kept of, docs/scale.md §3).  A value
 * there that is not an object is built as usual.
 *
 * Returns: (transfer full): the root node
 */
JsonNode *exm_json_parse_pruned(const gchar *data,
				gsize len,
				const gchar *const *prune,
				GError **error);

/**
 * exm_json_parse_pruned_take:
 * @data: (transfer full) (nullable): g_malloc()ed bytes
 * @len: their length
 * @prune: as exm_json_parse_pruned()
 * @error: %EXM_ERROR_PARSE_BODY on failure
 *
 * exm_json_parse_pruned() on @data itself, not on a copy: the tree is built
 * where the text lies (its strings decoded over it), which is then wiped and
 * freed, before this returns.  For a large text the caller has no use for
 * afterwards (an agent's answer of 28 MB at 100 000 accounts).  A text it
 * refuses is refused with the offset where building stopped, without the
 * pre-scan's words: the text is gone.
 *
 * Returns: (transfer full): the root node
 */
JsonNode *exm_json_parse_pruned_take(gchar *data,
				     gsize len,
				     const gchar *const *prune,
				     GError **error);

/**
 * exm_json_parse_secret:
 * @data: bytes, overwritten where they hold a secret
 * @len: their length
 * @names: %NULL-terminated names of secret members of the root object
 * @error: %EXM_ERROR_PARSE_BODY on failure
 *
 * Like exm_json_parse_strict(), but the string values of the root object's
 * members named in @names never reach json-glib, whose scanner frees its
 * copies of strings without clearing them: they are decoded here, their bytes
 * in @data overwritten with `*` before json-glib parses it, and put back into
 * the tree as the only copies (the decoded ones are wiped).  The caller wipes
 * those members' strings before it frees the tree (exm_secret_wipe() on
 * json_node_get_string()), and @data once it is done with it.
 *
 * Returns: (transfer full): the root node
 */
JsonNode *exm_json_parse_secret(gchar *data, gsize len, const gchar *const *names, GError **error);

/**
 * exm_json_parse_secret_copy:
 *
 * exm_json_parse_secret() on a copy of @data that is wiped and freed before
 * it returns, for callers whose @data is not theirs to overwrite.
 *
 * Returns: (transfer full): the root node
 */
JsonNode *exm_json_parse_secret_copy(const gchar *data,
				     gsize len,
				     const gchar *const *names,
				     GError **error);

/**
 * exm_json_wipe_members:
 * @obj: (nullable): an object exm_json_parse_secret() made
 * @names: %NULL-terminated member names
 *
 * Wipes the string values of the members named in @names, their only copies,
 * before the caller frees the tree.
 */
void exm_json_wipe_members(JsonObject *obj, const gchar *const *names);

/**
 * exm_json_parse_object:
 *
 * Like exm_json_parse_strict() but the root must be an object
 * (%EXM_ERROR_PARSE_BODY otherwise).
 *
 * Returns: (transfer full): the root object
 */
JsonObject *exm_json_parse_object(const gchar *data, gsize len, GError **error);

/*
 * Typed accessors.  Each returns %TRUE and sets @out when @name is present with the
 * right JSON type; %TRUE with @out left untouched and *@present = %FALSE when absent
 * (@present may be %NULL); %FALSE with %EXM_ERROR_VALIDATION naming the member and
 * the expected type when present with another type.  JSON `null` counts as present
 * for exm_json_get_node() only; for the others it is a type error unless
 * @allow_null is set, in which case @out is set to %NULL / 0 / %FALSE.
 * Integers must be JSON integers (no fraction/exponent) within int64; booleans
 * must be `true`/`false` (no 0/1 or strings).
 */
gboolean exm_json_get_node(JsonObject *obj,
			   const gchar *name,
			   JsonNode **out,
			   gboolean *present,
			   GError **error);
gboolean exm_json_get_string(JsonObject *obj,
			     const gchar *name,
			     gboolean allow_null,
			     const gchar **out,
			     gboolean *present,
			     GError **error);
gboolean exm_json_get_int(JsonObject *obj,
			  const gchar *name,
			  gint64 *out,
			  gboolean *present,
			  GError **error);
gboolean exm_json_get_bool(JsonObject *obj,
			   const gchar *name,
			   gboolean *out,
			   gboolean *present,
			   GError **error);
gboolean exm_json_get_object(JsonObject *obj,
			     const gchar *name,
			     JsonObject **out,
			     gboolean *present,
			     GError **error);
gboolean exm_json_get_array(JsonObject *obj,
			    const gchar *name,
			    JsonArray **out,
			    gboolean *present,
			    GError **error);

/**
 * exm_json_node_is_int:
 * @node: a node
 *
 * Returns: %TRUE if @node is a JSON integer value (not a double, not a bool).
 */
gboolean exm_json_node_is_int(JsonNode *node);

/**
 * exm_json_same:
 * @a: a node
 * @b: another
 *
 * Whether @a and @b are the same JSON, so that every writer writes them
 * alike but for object member order: json_node_equal() with value types
 * compared too (it takes the double 4.0 for the integer 4, which
 * exm_json_canonical() writes apart).
 *
 * Returns: %TRUE when they are
 */
gboolean exm_json_same(JsonNode *a, JsonNode *b);

/**
 * exm_json_canonical:
 * @node: a JSON tree
 *
 * Writes @node exactly as Python's `json.dumps(obj, separators=(",", ":"),
 * sort_keys=True)`: keys sorted by code point, no whitespace, ASCII only with
 * lower-case `\uXXXX` (surrogate pairs above the BMP), int64 exact, doubles in
 * Python `repr` form.
 *
 * Returns: (transfer full): the canonical text
 */
gchar *exm_json_canonical(JsonNode *node);

/* A piece of a text written in pieces (@len bytes, not NUL-terminated, wiped
 * after the call); %FALSE, with @error set, stops the writing.
 * exm_atomic_stream_piece() writes the pieces to a file. */
typedef gboolean (*ExmJsonPieceFunc)(gconstpointer piece, gsize len, gpointer data, GError **error);

/**
 * exm_json_canonical_to:
 * @node: a JSON tree
 * @func: given the text in order, in pieces of about
 *   64 KiB, a raw node's text in one piece as it lies
 * @data: its data
 * @error: @func's error
 *
 * exm_json_canonical()'s text, never held whole (a large tree's text
 * beside the tree doubles its memory, docs/scale.md §3).  After an error
 * @func is not called again.
 *
 * Returns: %FALSE when @func failed
 */
gboolean exm_json_canonical_to(JsonNode *node,
			       ExmJsonPieceFunc func,
			       gpointer data,
			       GError **error);

/* exm_json_to_string()'s text in pieces, as exm_json_canonical_to(). */
gboolean exm_json_to_pieces(JsonNode *node, ExmJsonPieceFunc func, gpointer data, GError **error);

/**
 * exm_json_to_string:
 * @node: a JSON tree
 *
 * Compact JSON as the API answers (object member order kept, UTF-8 raw).
 *
 * Returns: (transfer full): the text
 */
gchar *exm_json_to_string(JsonNode *node);

/* Appends exm_json_to_string()'s text of @node to @out. */
void exm_json_append(GString *out, JsonNode *node);

/**
 * exm_json_append_string:
 * @out: where to append
 * @s: (nullable): UTF-8 text (%NULL as empty)
 *
 * @s as a JSON string, escaped as exm_json_to_string() escapes strings.
 */
void exm_json_append_string(GString *out, const gchar *s);

/**
 * exm_json_xxh3_hex:
 * @data: bytes
 * @len: their length
 *
 * Returns: (transfer full): XXH3-64 (seed 0) of @data as 16 lower-case hex digits
 */
gchar *exm_json_xxh3_hex(gconstpointer data, gsize len);

/**
 * exm_json_hash:
 * @node: a JSON tree
 *
 * Returns: (transfer full): exm_json_xxh3_hex() of exm_json_canonical() of @node — the
 * protocol's `calculate_hash`.
 */
gchar *exm_json_hash(JsonNode *node);

/**
 * exm_json_hash_members:
 * @obj: an object
 * @keys: (nullable): an object whose member names select members of @obj
 *
 * Returns: (transfer full): exm_json_hash() of the object of @obj's members
 * named in @keys (all of them when %NULL), written without copying them
 */
gchar *exm_json_hash_members(JsonObject *obj, JsonObject *keys);

/*
 * Raw values (docs/scale.md §3): a JSON object held as its canonical text
 * (exm_json_canonical()) inside a tree, where a tree of it would cost six
 * times its text (a node's 100 000 accounts).  A raw node is a string node
 * of a form no parse can make; the writers write its text as it is (the
 * compact writer too: canonical text is valid compact JSON), the hashes hash
 * it, exm_json_same() compares it with a tree by text.  The parsers make one
 * for an object at a path of their @prune list written with a leading `=`
 * (`=capabilities/ * /resources/ * /value/accounts`).  Anything else that
 * reads the object must ask exm_json_node_is_raw() first.
 */
typedef struct {
	gchar *name;	    /* decoded */
	const gchar *value; /* its value's text, inside the raw node's */
	gsize len;
} ExmJsonRawMember;

/* Whether @node (nullable) is a raw node. */
gboolean exm_json_node_is_raw(JsonNode *node);

/* The canonical text @node stands for; %NULL when it is not raw. */
const gchar *exm_json_raw_text(JsonNode *node);

/* Returns: (transfer full) (nullable): the members of the raw @node, in
 * its (canonical) order, as #ExmJsonRawMember */
GArray *exm_json_raw_members(JsonNode *node);

/* Called by exm_json_raw_object_foreach() with a member's name (@nlen
 * bytes, decoded, not NUL-terminated) and its value's canonical text;
 * %FALSE stops the walk. */
typedef gboolean (*ExmJsonRawMemberFunc)(const gchar *name,
					 gsize nlen,
					 const gchar *value,
					 gsize vlen,
					 gpointer data);

/* Walks the members of the canonical object text @text (a raw node's, or a
 * member's value inside it), without copying them; %FALSE when @text is not
 * an object or @func stopped. */
gboolean exm_json_raw_object_foreach(const gchar *text, ExmJsonRawMemberFunc func, gpointer data);

/* A raw node from text a caller writes: exm_json_raw_begin() gives the
 * string to append the canonical text of an object to (members sorted by
 * name, as exm_json_append_canonical() writes values), room made for about
 * @size bytes of it; exm_json_raw_end() takes it and makes the node. */
GString *exm_json_raw_begin(gsize size);
JsonNode *exm_json_raw_end(GString *text);

/* exm_json_canonical()'s text of @node / of the string @s, appended to @out. */
void exm_json_append_canonical(GString *out, JsonNode *node);
void exm_json_append_canonical_string(GString *out, const gchar *s);
