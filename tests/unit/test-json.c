/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Strict JSON input, typed accessors, the canonical writer and XXH3 hashes.
 * Expected canonical texts were produced with Python 3's
 * json.dumps(obj, separators=(",", ":"), sort_keys=True) and hard-coded here.
 */
#include "exm-base.h"
#include "exm-test.h"

#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------- */

static JsonNode *
parse_ok(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	JsonNode *node = exm_json_parse_strict(text, strlen(text), &error);

	if (node == NULL)
		g_test_message("refused %s: %s", text, error->message);
	g_assert_no_error(error);
	g_assert_nonnull(node);
	return node;
}

static void
assert_refused_len(const gchar *text, gsize len)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) error2 = NULL;
	g_autoptr(JsonNode) node = NULL;

	if (exm_json_prescan(text, len, &error)) {
		g_autofree gchar *shown = g_strescape(text, NULL);
		g_test_message("accepted: %s", shown);
		g_test_fail();
		return;
	}
	g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE_BODY);
	/* the parser checks as it builds, and says why in the pre-scan's words */
	node = exm_json_parse_strict(text, len, &error2);
	g_assert_null(node);
	g_assert_error(error2, EXM_ERROR, EXM_ERROR_PARSE_BODY);
	g_assert_cmpstr(error2->message, ==, error->message);
}

static void
assert_refused(const gchar *text)
{
	assert_refused_len(text, strlen(text));
}

static gchar *
canonical_of(const gchar *text)
{
	g_autoptr(JsonNode) node = parse_ok(text);

	return exm_json_canonical(node);
}

/* ---- pre-scan ---------------------------------------------------------- */

static void
test_prescan_accepts(void)
{
	static const gchar *const ok[] = {
		"{}",
		"[]",
		"0",
		"-0",
		"1",
		"-1",
		"1.5",
		"1.5e3",
		"1E+2",
		"1e-2",
		"0.0",
		"-0.0",
		"1e-400", /* underflows to 0.0, as in Python: finite */
		"1.7976931348623157e308",
		"9223372036854775807",
		"-9223372036854775808",
		"true",
		"false",
		"null",
		"\"\"",
		"\"a\\/b\\\\\\\"\\b\\f\\n\\r\\t\"",
		"\"\\u0001\\u001f\\u00e9\\uFFFF\"",
		"\"\\ud83d\\ude00\"",
		"\"\\uD83D\\uDE00\"",
		"\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
		" \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } } \t\r\n",
		"{\"a\":1,\"a\":2}",
		"[[[[[]]]]]",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(ok); i++) {
		g_autoptr(GError) error = NULL;
		gboolean accepted = exm_json_prescan(ok[i], strlen(ok[i]), &error);
		g_autoptr(JsonNode) node = NULL;

		if (!accepted)
			g_test_message("%s: %s", ok[i], error->message);
		g_assert_no_error(error);
		g_assert_true(accepted);
		node = parse_ok(ok[i]);
		g_assert_nonnull(node);
	}
}

static void
test_prescan_refuses_quirks(void)
{
	/* The json-glib 1.6 quirks of docs/architecture.md §7, one by one. */
	assert_refused("\"\\u0000\"");
	assert_refused("{\"a\":\"x\\u0000y\"}");
	assert_refused("9223372036854775808");
	assert_refused("-9223372036854775809");
	assert_refused("18446744073709551616");
	assert_refused("[99999999999999999999999999]");
	assert_refused("1e400");
	assert_refused("-1e400");
	assert_refused("1e309");
	assert_refused("[1.8e308]");
	assert_refused("'a'");
	assert_refused("{'a':1}");
	assert_refused("{\"a\":'b'}");
}

static void
test_prescan_refuses_encoding(void)
{
	/* raw NUL anywhere (length given explicitly: the text goes on after it) */
	assert_refused_len("\"a\0b\"", 5);
	assert_refused_len("[1]\0", 4);
	assert_refused_len("\0", 1);
	/* invalid UTF-8, outside and inside strings */
	assert_refused("\xff");
	assert_refused("\"\xff\"");
	assert_refused("\"\xc0\xaf\"");		/* overlong '/' */
	assert_refused("\"\xed\xa0\x80\"");	/* UTF-8-encoded surrogate */
	assert_refused("\"\xe2\x82\"");		/* truncated sequence */
	assert_refused("\"\xf4\x90\x80\x80\""); /* above U+10FFFF */
	assert_refused("\xef\xbb\xbf{}");	/* byte-order mark */
	/* lone or unpaired surrogate escapes */
	assert_refused("\"\\ud83d\"");
	assert_refused("\"\\ude00\"");
	assert_refused("\"\\ud83dx\"");
	assert_refused("\"\\ud83d\\u0041\"");
	assert_refused("\"\\ud83d\\ud83d\"");
	assert_refused("\"\\ude00\\ud83d\"");
	/* control characters must be escaped */
	assert_refused("\"a\tb\"");
	assert_refused("\"a\nb\"");
	assert_refused("\"\x1f\"");
	/* bad escapes */
	assert_refused("\"\\x41\"");
	assert_refused("\"\\U0041\"");
	assert_refused("\"\\u12\"");
	assert_refused("\"\\u12g4\"");
	assert_refused("\"\\'\"");
	assert_refused("\"abc");
	assert_refused("\"abc\\");
}

static void
test_prescan_refuses_syntax(void)
{
	static const gchar *const bad[] = {
		"",	 " ",	       "\n\t",	   "/* c */ {}", "{} // c", "# c\n{}",
		"[1,]",	 "{\"a\":1,}", "[,1]",	   "[1,,2]",	 "{}x",	    "{} {}",
		"[1] ]", "{\"a\":1}}", "01",	   "-01",	 "00",	    "0123",
		"NaN",	 "-NaN",       "Infinity", "-Infinity",	 "[nan]",   "+1",
		".5",	 "1.",	       "1.e3",	   "1e",	 "1e+",	    "-",
		"0x10",	 "tru",	       "True",	   "nul",	 "nulll",   "undefined",
		"{a:1}", "{\"a\" 1}",  "{\"a\":}", "{1:2}",	 "[1 2]",   "[",
		"{",	 "{\"a\":1",   "]",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++)
		assert_refused(bad[i]);
	/* no data at all (an empty request body) */
	assert_refused_len(NULL, 0);
	assert_refused_len("{}", 0);
}

static gchar *
nested(guint depth, const gchar *open, const gchar *inner, const gchar *close)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < depth; i++)
		g_string_append(s, open);
	g_string_append(s, inner);
	for (guint i = 0; i < depth; i++)
		g_string_append(s, close);
	return g_string_free(s, FALSE);
}

static void
test_prescan_depth(void)
{
	g_autofree gchar *arr64 = nested(EXM_JSON_MAX_DEPTH, "[", "1", "]");
	g_autofree gchar *arr65 = nested(EXM_JSON_MAX_DEPTH + 1, "[", "1", "]");
	g_autofree gchar *obj64 = nested(EXM_JSON_MAX_DEPTH, "{\"a\":", "1", "}");
	g_autofree gchar *obj65 = nested(EXM_JSON_MAX_DEPTH + 1, "{\"a\":", "1", "}");
	g_autofree gchar *deep = nested(100000, "[", "", "]");
	g_autoptr(JsonNode) a = NULL;
	g_autoptr(JsonNode) o = NULL;
	g_autofree gchar *canon = NULL;

	g_assert_cmpint(EXM_JSON_MAX_DEPTH, ==, 64);
	a = parse_ok(arr64);
	o = parse_ok(obj64);
	canon = exm_json_canonical(a);
	g_assert_cmpstr(canon, ==, arr64);
	assert_refused(arr65);
	assert_refused(obj65);
	/* far too deep must fail fast, not overflow the stack */
	assert_refused(deep);
	/* depth is nesting, not the number of containers */
	{
		GString *wide = g_string_new("[");
		for (guint i = 0; i < 1000; i++)
			g_string_append(wide, i == 0 ? "[[]]" : ",[[]]");
		g_string_append(wide, "]");
		g_autoptr(JsonNode) w = parse_ok(wide->str);
		g_string_free(wide, TRUE);
		g_assert_nonnull(w);
	}
}

/* Mutations of valid documents: whatever the pre-scan accepts json-glib must
 * parse, and the canonical text of the result must itself be accepted and be
 * a fixed point.  (Offline, the same mutations were checked against Python's
 * json.loads for equal acceptance.)  Seeded by GTest, so a failure replays
 * with --seed. */
/* The parser, which checks as it builds, accepts what the pre-scan accepts
 * and refuses the rest with the pre-scan's @refused; so does the pruned
 * parse, whose pruned objects are checked without being built. */
static void
parses_as_prescan(const gchar *text, gsize len, const GError *refused)
{
	static const gchar *const prune[] = { "b", "a/*", "*", NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) pruned_error = NULL;
	g_autoptr(JsonNode) node = exm_json_parse_strict(text, len, &error);
	g_autoptr(JsonNode) pruned = exm_json_parse_pruned(text, len, prune, &pruned_error);

	if (refused == NULL) {
		g_assert_no_error(error);
		g_assert_no_error(pruned_error);
		g_assert_nonnull(pruned);
		return;
	}
	g_assert_null(node);
	g_assert_null(pruned);
	g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE_BODY);
	g_assert_error(pruned_error, EXM_ERROR, EXM_ERROR_PARSE_BODY);
	g_assert_cmpstr(error->message, ==, refused->message);
	g_assert_cmpstr(pruned_error->message, ==, refused->message);
}

static void
test_prescan_mutations(void)
{
	static const gchar *const seeds[] = {
		"{\"a\":[1,2.5,-3e2,true,false,null,\"x\\u00e9\\ud83d\\ude00\"],\"b\":{\"c\":\"d\"}"
		"}",
		"[0,-0,1.0E+2,\"\\n\\t\\\"\\\\\\/\"]",
		"\"caf\xc3\xa9\"",
		" {\"k\" : 9223372036854775807 } ",
	};
	static const gchar alphabet[] = "{}[]\",:-+.eE0123456789 \t\n\rtrufalsn\\u/abcdefABCDEF'"
					"\x7f\xc3\xa9\xff\xed\xa0\x80";
	guint iterations = g_getenv("EXM_UNDER_VALGRIND") != NULL ? 2000 : 20000;
	guint accepted = 0;

	for (guint i = 0; i < iterations; i++) {
		GString *s = g_string_new(seeds[g_test_rand_int_range(0, G_N_ELEMENTS(seeds))]);
		guint edits = (guint)g_test_rand_int_range(1, 4);
		g_autoptr(GError) error = NULL;

		for (guint k = 0; k < edits; k++) {
			gsize pos = (gsize)g_test_rand_int_range(0, (gint32)s->len + 1);
			gchar c = alphabet[g_test_rand_int_range(0, sizeof(alphabet) - 1)];
			gint32 op = g_test_rand_int_range(0, 3);
			if (op == 0 && s->len > 0)
				g_string_erase(s, (gssize)MIN(pos, s->len - 1), 1);
			else if (op == 1 || s->len == 0)
				g_string_insert_c(s, (gssize)pos, c);
			else
				s->str[MIN(pos, s->len - 1)] = c;
		}
		/* a copy of exactly its bytes, no NUL after them: parsed where it lies */
		g_autoptr(GError) take_error = NULL;
		g_autoptr(JsonNode) taken = exm_json_parse_pruned_take(
			g_memdup2(s->str, s->len), s->len, NULL, &take_error);

		if (exm_json_prescan(s->str, s->len, &error)) {
			g_autoptr(JsonNode) node = exm_json_parse_strict(s->str, s->len, &error);
			g_autofree gchar *canon = NULL;
			g_autoptr(JsonNode) again = NULL;
			g_autofree gchar *canon2 = NULL;
			g_autofree gchar *canon_taken = NULL;

			g_assert_no_error(error);
			g_assert_nonnull(node);
			canon = exm_json_canonical(node);
			again = parse_ok(canon);
			canon2 = exm_json_canonical(again);
			g_assert_cmpstr(canon, ==, canon2);
			g_assert_no_error(take_error);
			canon_taken = exm_json_canonical(taken);
			g_assert_cmpstr(canon_taken, ==, canon);
			accepted++;
		} else {
			g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE_BODY);
			g_assert_null(taken);
			g_assert_error(take_error, EXM_ERROR, EXM_ERROR_PARSE_BODY);
		}
		parses_as_prescan(s->str, s->len, error);
		g_string_free(s, TRUE);
	}
	g_test_message("%u of %u mutations accepted", accepted, iterations);
	g_assert_cmpuint(accepted, >, 0);
	g_assert_cmpuint(accepted, <, iterations);
}

/* ---- parse ------------------------------------------------------------- */

static void
test_parse_values(void)
{
	g_autoptr(JsonNode) max = parse_ok("9223372036854775807");
	g_autoptr(JsonNode) min = parse_ok("-9223372036854775808");
	g_autoptr(JsonNode) dbl = parse_ok("1.5e3");
	g_autoptr(JsonNode) emoji = parse_ok("\"\\ud83d\\ude00/\\u00e9\"");
	g_autoptr(JsonNode) slash = parse_ok("\"a\\/b\"");
	g_autoptr(JsonNode) negzero = parse_ok("-0");

	g_assert_true(exm_json_node_is_int(max));
	g_assert_cmpint(json_node_get_int(max), ==, G_MAXINT64);
	g_assert_true(exm_json_node_is_int(min));
	g_assert_cmpint(json_node_get_int(min), ==, G_MININT64);
	g_assert_false(exm_json_node_is_int(dbl));
	g_assert_cmpfloat(json_node_get_double(dbl), ==, 1500.0);
	g_assert_cmpstr(json_node_get_string(emoji), ==, "\xf0\x9f\x98\x80/\xc3\xa9");
	g_assert_cmpstr(json_node_get_string(slash), ==, "a/b");
	g_assert_true(exm_json_node_is_int(negzero));
	g_assert_cmpint(json_node_get_int(negzero), ==, 0);
}

static void
test_parse_object(void)
{
	static const gchar *const not_objects[] = { "[1,2]", "null", "\"s\"", "1", "true" };
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) obj = exm_json_parse_object("{\"a\":1}", 7, &error);

	g_assert_no_error(error);
	g_assert_nonnull(obj);
	g_assert_cmpint(json_object_get_int_member(obj, "a"), ==, 1);
	/* the tree is mutable: unpacking may take members out (a sealed object
	 * would raise a critical, fatal in tests) */
	g_assert_false(json_object_is_immutable(obj));
	json_object_remove_member(obj, "a");
	json_object_set_int_member(obj, "b", 2);
	g_assert_false(json_object_has_member(obj, "a"));

	for (gsize i = 0; i < G_N_ELEMENTS(not_objects); i++) {
		g_autoptr(GError) e = NULL;
		g_autoptr(JsonObject) o =
			exm_json_parse_object(not_objects[i], strlen(not_objects[i]), &e);
		g_assert_null(o);
		g_assert_error(e, EXM_ERROR, EXM_ERROR_PARSE_BODY);
	}
	{
		g_autoptr(GError) e = NULL;
		g_autoptr(JsonObject) o = exm_json_parse_object("{\"a\":1,}", 8, &e);
		g_assert_null(o);
		g_assert_error(e, EXM_ERROR, EXM_ERROR_PARSE_BODY);
	}
	{
		/* @len bounds the input: the text need not be NUL-terminated */
		g_autoptr(GError) e = NULL;
		g_autoptr(JsonObject) o = exm_json_parse_object("{\"a\":1}garbage", 7, &e);
		g_assert_no_error(e);
		g_assert_nonnull(o);
	}
}

/* ---- typed accessors --------------------------------------------------- */

static const gchar *const accessor_doc = "{\"s\":\"x\",\"i\":42,\"big\":-9223372036854775808,"
					 "\"d\":1.0,\"e\":1e2,\"b\":true,\"f\":false,\"n\":null,"
					 "\"o\":{\"k\":1},\"a\":[1],\"si\":\"1\",\"zero\":0,"
					 "\"one\":1,\"st\":\"true\"}";

static JsonObject *
accessor_object(void)
{
	g_autoptr(GError) error = NULL;
	JsonObject *obj = exm_json_parse_object(accessor_doc, strlen(accessor_doc), &error);

	g_assert_no_error(error);
	return obj;
}

static void
assert_type_error(gboolean ok, GError *error, const gchar *member)
{
	g_autofree gchar *quoted = g_strdup_printf("'%s'", member);

	g_assert_false(ok);
	g_assert_error(error, EXM_ERROR, EXM_ERROR_VALIDATION);
	g_assert_nonnull(strstr(error->message, quoted));
}

/* The call must run before its error is looked at: argument evaluation order
 * is unspecified, hence a statement macro. */
#define ASSERT_TYPE_ERROR(call, err, member)                                                       \
	G_STMT_START                                                                               \
	{                                                                                          \
		gboolean ok_ = (call);                                                             \
		assert_type_error(ok_, err, member);                                               \
	}                                                                                          \
	G_STMT_END

static void
test_get_string(void)
{
	g_autoptr(JsonObject) obj = accessor_object();
	static const gchar *const wrong[] = { "i", "d", "b", "o", "a", "n" };
	const gchar *out = "untouched";
	gboolean present = FALSE;
	g_autoptr(GError) error = NULL;

	g_assert_true(exm_json_get_string(obj, "s", FALSE, &out, &present, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(out, ==, "x");
	g_assert_true(present);

	out = "untouched";
	g_assert_true(exm_json_get_string(obj, "missing", FALSE, &out, &present, &error));
	g_assert_false(present);
	g_assert_cmpstr(out, ==, "untouched");
	g_assert_true(exm_json_get_string(obj, "missing", FALSE, &out, NULL, &error));

	/* null: a type error unless allowed, then NULL */
	g_assert_true(exm_json_get_string(obj, "n", TRUE, &out, &present, &error));
	g_assert_true(present);
	g_assert_null(out);

	for (gsize i = 0; i < G_N_ELEMENTS(wrong); i++) {
		g_autoptr(GError) e = NULL;
		out = "untouched";
		ASSERT_TYPE_ERROR(
			exm_json_get_string(obj, wrong[i], FALSE, &out, NULL, &e), e, wrong[i]);
		g_assert_cmpstr(out, ==, "untouched");
	}
	{
		g_autoptr(GError) e = NULL;
		ASSERT_TYPE_ERROR(exm_json_get_string(obj, "i", TRUE, &out, NULL, &e), e, "i");
	}
}

static void
test_get_int(void)
{
	g_autoptr(JsonObject) obj = accessor_object();
	/* "1" is not an integer, neither are 1.0, 1e2, true, null */
	static const gchar *const wrong[] = { "si", "d", "e", "b", "n", "o", "a", "s" };
	gint64 out = 7;
	gboolean present = FALSE;
	g_autoptr(GError) error = NULL;

	g_assert_true(exm_json_get_int(obj, "i", &out, &present, &error));
	g_assert_no_error(error);
	g_assert_cmpint(out, ==, 42);
	g_assert_true(present);
	g_assert_true(exm_json_get_int(obj, "big", &out, NULL, &error));
	g_assert_cmpint(out, ==, G_MININT64);

	out = 7;
	g_assert_true(exm_json_get_int(obj, "missing", &out, &present, &error));
	g_assert_false(present);
	g_assert_cmpint(out, ==, 7);

	for (gsize i = 0; i < G_N_ELEMENTS(wrong); i++) {
		g_autoptr(GError) e = NULL;
		out = 7;
		ASSERT_TYPE_ERROR(exm_json_get_int(obj, wrong[i], &out, &present, &e), e, wrong[i]);
		g_assert_true(present);
		g_assert_cmpint(out, ==, 7);
	}
}

static void
test_get_bool(void)
{
	g_autoptr(JsonObject) obj = accessor_object();
	/* 0/1 and "true" are not booleans */
	static const gchar *const wrong[] = { "zero", "one", "st", "n", "d", "o", "a" };
	gboolean out = FALSE;
	gboolean present = FALSE;
	g_autoptr(GError) error = NULL;

	g_assert_true(exm_json_get_bool(obj, "b", &out, &present, &error));
	g_assert_true(out);
	g_assert_true(present);
	g_assert_true(exm_json_get_bool(obj, "f", &out, &present, &error));
	g_assert_false(out);
	g_assert_no_error(error);

	out = TRUE;
	g_assert_true(exm_json_get_bool(obj, "missing", &out, &present, &error));
	g_assert_false(present);
	g_assert_true(out);

	for (gsize i = 0; i < G_N_ELEMENTS(wrong); i++) {
		g_autoptr(GError) e = NULL;
		ASSERT_TYPE_ERROR(exm_json_get_bool(obj, wrong[i], &out, NULL, &e), e, wrong[i]);
	}
}

static void
test_get_object_array_node(void)
{
	g_autoptr(JsonObject) obj = accessor_object();
	JsonObject *o = NULL;
	JsonArray *a = NULL;
	JsonNode *n = NULL;
	gboolean present = FALSE;
	g_autoptr(GError) error = NULL;

	g_assert_true(exm_json_get_object(obj, "o", &o, &present, &error));
	g_assert_true(present);
	g_assert_cmpint(json_object_get_int_member(o, "k"), ==, 1);
	g_assert_true(exm_json_get_array(obj, "a", &a, &present, &error));
	g_assert_cmpuint(json_array_get_length(a), ==, 1);
	g_assert_no_error(error);

	o = NULL;
	a = NULL;
	g_assert_true(exm_json_get_object(obj, "missing", &o, &present, &error));
	g_assert_false(present);
	g_assert_null(o);
	g_assert_true(exm_json_get_array(obj, "missing", &a, &present, &error));
	g_assert_false(present);
	g_assert_null(a);

	{
		g_autoptr(GError) e1 = NULL;
		g_autoptr(GError) e2 = NULL;
		g_autoptr(GError) e3 = NULL;
		g_autoptr(GError) e4 = NULL;
		ASSERT_TYPE_ERROR(exm_json_get_object(obj, "a", &o, NULL, &e1), e1, "a");
		ASSERT_TYPE_ERROR(exm_json_get_object(obj, "n", &o, NULL, &e2), e2, "n");
		ASSERT_TYPE_ERROR(exm_json_get_array(obj, "o", &a, NULL, &e3), e3, "o");
		ASSERT_TYPE_ERROR(exm_json_get_array(obj, "n", &a, NULL, &e4), e4, "n");
	}

	/* get_node: null is present */
	g_assert_true(exm_json_get_node(obj, "n", &n, &present, &error));
	g_assert_true(present);
	g_assert_nonnull(n);
	g_assert_true(JSON_NODE_HOLDS_NULL(n));
	n = NULL;
	g_assert_true(exm_json_get_node(obj, "missing", &n, &present, &error));
	g_assert_false(present);
	g_assert_null(n);
}

/* Same JSON, written alike: member order aside, value types count. */
/* The span of a root member is its text verbatim, the last of a repeated
 * name; a text the pre-scan refuses, a root that is not an object and a
 * missing name are errors. */
static void
test_member_span(void)
{
	static const struct {
		const gchar *text;
		const gchar *span;
	} found[] = {
		{ "{\"a\":1,\"t\":{\"x\": [1, \"}\"]},\"z\":null}", "{\"x\": [1, \"}\"]}" },
		{ " { \"t\" :\t\"s\\\"\" } ", "\"s\\\"\"" },
		{ "{\"t\":1,\"t\":[2]}", "[2]" },
		{ "{\"\\u0074\":1,\"t\":true}", "true" },
		{ "{\"t\":1,\"\\u0074\":[3]}", "[3]" },
		{ "{\"x\":{\"t\":1},\"t\":-0.5e3}", "-0.5e3" },
	};
	static const gchar *const refused[] = {
		"{\"t\":1,}", "[{\"t\":1}]", "{\"x\":{\"t\":1}}", "{}", "{\"t\":01}", "\"t\"",
	};

	for (guint i = 0; i < G_N_ELEMENTS(found); i++) {
		g_autoptr(GError) error = NULL;
		gsize off = 0, len = 0;

		g_assert_true(exm_json_member_span(
			found[i].text, strlen(found[i].text), "t", &off, &len, &error));
		g_assert_no_error(error);
		g_assert_cmpmem(found[i].text + off, len, found[i].span, strlen(found[i].span));
	}
	for (guint i = 0; i < G_N_ELEMENTS(refused); i++) {
		g_autoptr(GError) error = NULL;
		gsize off = 0, len = 0;

		g_assert_false(exm_json_member_span(
			refused[i], strlen(refused[i]), "t", &off, &len, &error));
		g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE_BODY);
	}
}

static void
test_same(void)
{
	static const gchar *const same[][2] = {
		{ "{\"a\":1,\"b\":[true,null,\"x\"]}", "{\"b\":[true,null,\"x\"],\"a\":1}" },
		{ "{}", "{}" },
		{ "[]", "[]" },
		{ "null", "null" },
		{ "1.5", "1.5" },
		{ "\"\\u00e9\"", "\"\xc3\xa9\"" },
	};
	static const gchar *const differ[][2] = {
		{ "1", "1.0" }, /* json_node_equal() takes them as equal */
		{ "1", "\"1\"" },
		{ "true", "1" },
		{ "null", "{}" },
		{ "[1,2]", "[2,1]" }, /* element order counts */
		{ "[1]", "[1,1]" },
		{ "{\"a\":1}", "{\"a\":1,\"b\":1}" },
		{ "{\"a\":1,\"b\":1}", "{\"a\":1,\"c\":1}" },
		{ "{\"a\":{\"b\":1}}", "{\"a\":{\"b\":1.0}}" },
		{ "\"x\"", "\"X\"" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(same); i++) {
		g_autoptr(JsonNode) a = parse_ok(same[i][0]);
		g_autoptr(JsonNode) b = parse_ok(same[i][1]);

		g_assert_true(exm_json_same(a, b));
		g_assert_true(exm_json_same(b, a));
	}
	for (guint i = 0; i < G_N_ELEMENTS(differ); i++) {
		g_autoptr(JsonNode) a = parse_ok(differ[i][0]);
		g_autoptr(JsonNode) b = parse_ok(differ[i][1]);

		g_test_message("%s against %s", differ[i][0], differ[i][1]);
		g_assert_false(exm_json_same(a, b));
		g_assert_false(exm_json_same(b, a));
	}
}

static void
test_node_is_int(void)
{
	g_autoptr(JsonNode) i = parse_ok("1");
	g_autoptr(JsonNode) d = parse_ok("1.0");
	g_autoptr(JsonNode) b = parse_ok("true");
	g_autoptr(JsonNode) s = parse_ok("\"1\"");
	g_autoptr(JsonNode) n = parse_ok("null");
	g_autoptr(JsonNode) a = parse_ok("[1]");

	g_assert_true(exm_json_node_is_int(i));
	g_assert_false(exm_json_node_is_int(d));
	g_assert_false(exm_json_node_is_int(b));
	g_assert_false(exm_json_node_is_int(s));
	g_assert_false(exm_json_node_is_int(n));
	g_assert_false(exm_json_node_is_int(a));
	g_assert_false(exm_json_node_is_int(NULL));
}

/* ---- canonical writer -------------------------------------------------- */

typedef struct {
	const gchar *canonical;
	const gchar *hash;
} HashVector;

/* docs/agent-protocol.md §2.3 */
static const HashVector hash_vectors[] = {
	{ "[]", "831154110e30ac6a" },
	{ "{}", "1349cde127705c16" },
	{ "{\"cores\":1,\"name\":\"vm\",\"ram\":1024,\"uuid\":\"a1b2c3d4-e5f6-7890-a1b2-"
	  "c3d4e5f67890\"}",
	  "e5ecd78270703c31" },
	{ "{\"cores\":1,\"created_at\":\"2022-01-01 00:00:00.000000\",\"name\":\"vm\",\"ram\":1024,"
	  "\"status\":\"ACTIVE\",\"uuid\":\"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890\"}",
	  "8e9ed58523af9b50" },
	{ "{\"b\":true,\"d\":{\"a\":2,\"z\":1},\"f\":1.5,\"l\":[3,\"x\"],\"n\":null,"
	  "\"name\":\"caf\\u00e9 \\ud83d\\ude00\"}",
	  "aa9124d573751bff" },
	{ "[\"e5ecd78270703c31\"]", "486e18f02c531d23" },
	{ "[\"e5ecd78270703c31\",\"8e9ed58523af9b50\"]", "37a273eaeebbb63f" },
};

static void
test_hash_vectors(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(hash_vectors); i++) {
		g_autoptr(JsonNode) node = parse_ok(hash_vectors[i].canonical);
		g_autofree gchar *canon = exm_json_canonical(node);
		g_autofree gchar *hash = exm_json_hash(node);
		g_autofree gchar *raw = exm_json_xxh3_hex(hash_vectors[i].canonical,
							  strlen(hash_vectors[i].canonical));

		g_assert_cmpstr(canon, ==, hash_vectors[i].canonical);
		g_assert_cmpstr(hash, ==, hash_vectors[i].hash);
		g_assert_cmpstr(raw, ==, hash_vectors[i].hash);
	}
}

static void
test_hash_from_unsorted(void)
{
	/* The same values written the way a client might: unsorted, spaced, raw
	 * UTF-8, escaped differently.  Hashes must not change. */
	g_autoptr(JsonNode) vm =
		parse_ok("{ \"uuid\": \"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890\", \"ram\": 1024,\n"
			 "  \"name\": \"vm\", \"cores\": 1 }");
	g_autoptr(JsonNode) mixed =
		parse_ok("{\"name\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\",\"n\":null,"
			 "\"l\":[3,\"\\u0078\"],\"f\":15e-1,"
			 "\"d\":{\"z\":1,\"a\":2},\"b\":true}");
	g_autofree gchar *h1 = exm_json_hash(vm);
	g_autofree gchar *h2 = exm_json_hash(mixed);

	g_assert_cmpstr(h1, ==, "e5ecd78270703c31");
	g_assert_cmpstr(h2, ==, "aa9124d573751bff");
}

static void
test_hash_built_tree(void)
{
	/* A payload hash list built in code rather than parsed. */
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *hash = NULL;
	g_autofree gchar *empty = exm_json_xxh3_hex("", 0);

	json_builder_begin_array(b);
	json_builder_add_string_value(b, "e5ecd78270703c31");
	json_builder_add_string_value(b, "8e9ed58523af9b50");
	json_builder_end_array(b);
	root = json_builder_get_root(b);
	hash = exm_json_hash(root);
	g_assert_cmpstr(hash, ==, "37a273eaeebbb63f");
	/* XXH3-64 of no bytes, as `xxhsum -H3` prints it */
	g_assert_cmpstr(empty, ==, "2d06800538d394c2");
}

static void
test_canonical_strings(void)
{
	g_autoptr(GString) raw = g_string_new(NULL);
	g_autoptr(JsonNode) node = json_node_new(JSON_NODE_VALUE);
	g_autofree gchar *canon = NULL;
	g_autofree gchar *bad = NULL;

	for (gchar c = 1; c < 0x20; c++)
		g_string_append_c(raw, c);
	g_string_append(raw, "\x7f\"\\/ \xc3\xa9\xef\xbf\xbf\xf4\x8f\xbf\xbf\xf0\x9f\x98\x80");
	json_node_set_string(node, raw->str);
	canon = exm_json_canonical(node);
	g_assert_cmpstr(canon,
			==,
			"\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
			"\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"
			"\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\u007f\\\"\\\\/ "
			"\\u00e9\\uffff\\udbff\\udfff\\ud83d\\ude00\"");

	/* invalid UTF-8 can only come from code; it must not leak raw bytes */
	json_node_set_string(node, "a\xffz");
	bad = exm_json_canonical(node);
	g_assert_cmpstr(bad, ==, "\"a\\ufffdz\"");
}

static void
test_canonical_keys(void)
{
	g_autofree gchar *canon = canonical_of(
		"{\"\xf0\x9f\x98\x80\":4,\"ab\":7,\"\xef\xbf\xbf\":5,\"a\":1,\"\":6,\"\xc3\xa9\":3,"
		"\"B\":2,\"nested\":{\"z\":[{\"y\":1,\"x\":2}],\"a\":null}}");

	g_assert_cmpstr(canon,
			==,
			"{\"\":6,\"B\":2,\"a\":1,\"ab\":7,\"nested\":{\"a\":null,\"z\":[{\"x\":2,"
			"\"y\":1}]},\"\\u00e9\":3,\"\\uffff\":5,\"\\ud83d\\ude00\":4}");
}

typedef struct {
	gdouble value;
	const gchar *repr;
} DoubleVector;

static void
test_canonical_doubles(void)
{
	/* Python repr() of each value */
	static const DoubleVector v[] = {
		{ 1.5, "1.5" },
		{ 2.0, "2.0" },
		{ 0.1, "0.1" },
		{ 0.3, "0.3" },
		{ 100.0, "100.0" },
		{ 1e-05, "1e-05" },
		{ 0.0001, "0.0001" },
		{ 0.00012, "0.00012" },
		{ -2.5e-7, "-2.5e-07" },
		{ 1e16, "1e+16" },
		{ 1e15, "1000000000000000.0" },
		{ 9999999999999998.0, "9999999999999998.0" },
		{ 1e22, "1e+22" },
		{ 1e100, "1e+100" },
		{ 1152921504606846976.0, "1.152921504606847e+18" },
		{ 5e-324, "5e-324" },
		{ 2.2250738585072014e-308, "2.2250738585072014e-308" },
		{ 1.7976931348623157e308, "1.7976931348623157e+308" },
		{ 1.0 / 3.0, "0.3333333333333333" },
		{ 1.0000000000000002, "1.0000000000000002" },
		{ 123456789.123, "123456789.123" },
		{ 0.0, "0.0" },
		{ -0.0, "-0.0" },
	};
	g_autoptr(JsonNode) node = json_node_new(JSON_NODE_VALUE);

	for (gsize i = 0; i < G_N_ELEMENTS(v); i++) {
		g_autofree gchar *canon = NULL;
		json_node_set_double(node, v[i].value);
		canon = exm_json_canonical(node);
		g_assert_cmpstr(canon, ==, v[i].repr);
	}
	/* json.dumps' spelling of the non-finite values (only reachable from code) */
	{
		g_autofree gchar *nan = NULL;
		g_autofree gchar *pinf = NULL;
		g_autofree gchar *ninf = NULL;
		json_node_set_double(node, NAN);
		nan = exm_json_canonical(node);
		json_node_set_double(node, INFINITY);
		pinf = exm_json_canonical(node);
		json_node_set_double(node, -INFINITY);
		ninf = exm_json_canonical(node);
		g_assert_cmpstr(nan, ==, "NaN");
		g_assert_cmpstr(pinf, ==, "Infinity");
		g_assert_cmpstr(ninf, ==, "-Infinity");
	}
}

static void
test_canonical_numbers_parsed(void)
{
	g_autofree gchar *canon =
		canonical_of("[9223372036854775807,-9223372036854775808,0,-0,-1,1.5e3,1E2,"
			     "0.1e1,1e-400,123456789012345678901234567890.0,2.50]");

	g_assert_cmpstr(canon,
			==,
			"[9223372036854775807,-9223372036854775808,0,0,-1,1500.0,100.0,1.0,0.0,"
			"1.2345678901234568e+29,2.5]");
}

static void
test_canonical_scalars(void)
{
	g_autofree gchar *t = canonical_of("true");
	g_autofree gchar *f = canonical_of("false");
	g_autofree gchar *n = canonical_of("null");
	g_autofree gchar *s = canonical_of("\"\"");
	g_autofree gchar *e = canonical_of(" [ { } , [ ] ] ");
	g_autofree gchar *null_node = exm_json_canonical(NULL);

	g_assert_cmpstr(t, ==, "true");
	g_assert_cmpstr(f, ==, "false");
	g_assert_cmpstr(n, ==, "null");
	g_assert_cmpstr(s, ==, "\"\"");
	g_assert_cmpstr(e, ==, "[{},[]]");
	g_assert_cmpstr(null_node, ==, "null");
}

/* ---- compact writer ---------------------------------------------------- */

static void
test_to_string(void)
{
	g_autoptr(JsonNode) node =
		parse_ok("{ \"z\": 1, \"a\": [true, null, 1.5, 9223372036854775807],\n"
			 "  \"\xc3\xa9\": \"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\ \\/ "
			 "\\n\\u0001\\u007f\" }");
	g_autofree gchar *text = exm_json_to_string(node);
	g_autoptr(JsonNode) back = NULL;
	g_autofree gchar *canon1 = exm_json_canonical(node);
	g_autofree gchar *canon2 = NULL;

	/* member order kept, raw UTF-8, only quote/backslash/controls escaped */
	g_assert_cmpstr(
		text,
		==,
		"{\"z\":1,\"a\":[true,null,1.5,9223372036854775807],"
		"\"\xc3\xa9\":\"caf\xc3\xa9 \xf0\x9f\x98\x80 \\\"q\\\" \\\\ / \\n\\u0001\x7f\"}");
	/* and it reads back to the same value */
	back = parse_ok(text);
	canon2 = exm_json_canonical(back);
	g_assert_cmpstr(canon1, ==, canon2);
}

/* Secret members of the root: decoded here, the input overwritten, json-glib
 * never given their text, the tree holding the decoded value. */
static void
test_parse_secret(void)
{
	const gchar *const names[] = { "password", NULL };
	struct {
		const gchar *in;
		const gchar *value; /* the root's "password" afterwards, NULL = not a string */
	} cases[] = {
		{ "{\"password\":\"s3cret\"}", "s3cret" },
		{ "{\"password\":\"a\\\"b\\\\c\\/d\\n\\t\\b\\f\\r\"}", "a\"b\\c/d\n\t\b\f\r" },
		{ "{\"password\":\"\\u00e9\\u20ac\\ud83d\\ude00x\"}",
		  "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80x" },
		{ "{\"p\\u0061ssword\":\"escaped-name\"}", "escaped-name" },
		{ "{\"password\":\"first\",\"password\":\"last\"}", "last" },
		{ "{\"password\":\"\"}", "" },
		{ "{\"password\":7}", NULL },
		{ "{\"x\":{\"password\":\"nested-stays\"},\"password\":\"top\"}", "top" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *data = g_strdup(cases[i].in);
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonNode) root = exm_json_parse_secret(data, strlen(data), names, &error);
		JsonNode *member;

		g_assert_no_error(error);
		g_assert_nonnull(root);
		member = json_object_get_member(json_node_get_object(root), "password");
		if (cases[i].value == NULL) {
			g_assert_cmpint(json_node_get_value_type(member), ==, G_TYPE_INT64);
			g_assert_cmpstr(data, ==, cases[i].in);
			continue;
		}
		g_assert_cmpstr(json_node_get_string(member), ==, cases[i].value);
		/* the input kept its shape, the secret's text is gone from it */
		g_assert_cmpuint(strlen(data), ==, strlen(cases[i].in));
		g_assert_null(strstr(data, "s3cret"));
		g_assert_null(strstr(data, "last"));
		g_assert_null(strstr(data, "top"));
		g_assert_null(strstr(data, "escaped-name"));
	}
	/* the nested member is not a root member: left as it was */
	{
		g_autofree gchar *data = g_strdup("{\"x\":{\"password\":\"nested-stays\"}}");
		g_autoptr(JsonNode) root = exm_json_parse_secret(data, strlen(data), names, NULL);

		g_assert_nonnull(strstr(data, "nested-stays"));
		g_assert_nonnull(root);
	}
	/* invalid JSON fails as exm_json_parse_strict() does */
	{
		g_autofree gchar *data = g_strdup("{\"password\":\"x\",}");
		g_autoptr(GError) error = NULL;

		g_assert_null(exm_json_parse_secret(data, strlen(data), names, &error));
		g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE_BODY);
	}
}

/* The same text through json-glib's parser, in the types it gives. */
// NOLINTBEGIN(misc-no-recursion): one level, into an array's first element
static gchar *
described(JsonNode *node)
{
	g_autoptr(GString) s = g_string_new(NULL);
	g_autofree gchar *text = exm_json_to_string(node);

	g_string_append(s, text);
	if (JSON_NODE_HOLDS_VALUE(node))
		g_string_append_printf(s, " %s", g_type_name(json_node_get_value_type(node)));
	if (JSON_NODE_HOLDS_ARRAY(node) && json_array_get_length(json_node_get_array(node)) > 0) {
		JsonNode *first = json_array_get_element(json_node_get_array(node), 0);
		g_autofree gchar *inner = described(first);

		g_assert_true(json_node_get_parent(first) == node);
		g_string_append_printf(s, " [0]=%s", inner);
	}
	return g_string_free(g_steal_pointer(&s), FALSE);
}
// NOLINTEND(misc-no-recursion)

/* The tree exm_json_parse_strict() builds is json-glib's: member order,
 * repeated names (the last wins where the first stood), value types
 * (int64 vs double), escapes and surrogate pairs, literals, nesting. */
static void
test_parse_as_json_glib(void)
{
	static const gchar *const texts[] = {
		"{}",
		"[]",
		" \t\r\n{ \"b\" : 1 , \"a\" : [ 1.5 , -0 , 2e3 , -1E-2 ] } \n",
		"{\"a\":1,\"b\":2,\"a\":3}",
		"{\"z\":{\"y\":{\"x\":[true,false,null]}},\"a\":\"\"}",
		"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"\\u00e9\\u20ac\\ud83d\\ude00\",\"é€😀\"]",
		"[9223372036854775807,-9223372036854775808,0,-1,1.0,0.1,1e308,5e-324]",
		"[12345678901234567890.5,123456789012345678901234567890e-10]",
		"\"top\"",
		"42",
		"-0.0",
		"true",
		"null",
		"[[[[[[[[[[1]]]]]]]]]]",
		"{\"k\\u0041\":\"v\",\"kA\":1}",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(texts); i++) {
		g_autoptr(JsonParser) parser = json_parser_new();
		g_autoptr(JsonNode) ours = parse_ok(texts[i]);
		g_autoptr(GError) error = NULL;
		g_autofree gchar *want = NULL;
		g_autofree gchar *got = NULL;

		g_assert_true(json_parser_load_from_data(parser, texts[i], -1, &error));
		g_assert_no_error(error);
		want = described(json_parser_get_root(parser));
		got = described(ours);
		g_assert_cmpstr(got, ==, want);
	}
}

/* exm_json_parse_pruned(): the objects at the paths are built empty, past
 * strings holding braces, quotes and escapes; the rest is the strict parse's
 * tree; a value there that is not an object is kept; the text is still
 * checked whole. */
/* What is left empty is checked all the same, and refused in the pre-scan's
 * words: its nesting counts from where it stands. */
static void
test_parse_pruned_refuses(const gchar *const *prune)
{
	static const gchar *const bad[] = {
		"{\"top\":{\"s\":\"\xc3\"}}",
		"{\"top\":{\"s\":\"\\ud800\"}}",
		"{\"top\":{\"n\":1e400}}",
		"{\"top\":{\"n\":[1,]}}",
		"{\"top\":{\"s\":\"a\tb\"}}",
		"{\"top\":{}\"x\"}",
		/* past a run of ASCII, which is checked eight bytes at a time */
		"{\"top\":{\"s\":\"abcdefghijklmnopq\xc3\"}}",
		"{\"top\":{\"s\":\"abcdefghijk\xc3\xa9lmnopqrstu\xed\xa0\x80\"}}",
		NULL,
	};
	g_autoptr(GString) deep = g_string_new("{\"top\":");

	for (guint i = 0; bad[i] != NULL; i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GError) pruned_error = NULL;
		g_autoptr(JsonNode) node = NULL;

		g_assert_false(exm_json_prescan(bad[i], strlen(bad[i]), &error));
		node = exm_json_parse_pruned(bad[i], strlen(bad[i]), prune, &pruned_error);
		g_assert_null(node);
		g_assert_error(pruned_error, EXM_ERROR, EXM_ERROR_PARSE_BODY);
		g_assert_cmpstr(pruned_error->message, ==, error->message);
	}
	for (guint depth = 2; depth <= EXM_JSON_MAX_DEPTH + 1; depth++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GError) pruned_error = NULL;
		g_autoptr(JsonNode) node = NULL;
		gboolean ok;

		g_string_truncate(deep, 0);
		g_string_append(deep, "{\"top\":");
		for (guint k = 1; k < depth; k++)
			g_string_append(deep, "{\"x\":");
		g_string_append(deep, "1");
		for (guint k = 0; k < depth; k++)
			g_string_append_c(deep, '}');
		ok = exm_json_prescan(deep->str, deep->len, &error);
		g_assert_true(ok == (depth <= EXM_JSON_MAX_DEPTH));
		node = exm_json_parse_pruned(deep->str, deep->len, prune, &pruned_error);
		g_assert_true((node != NULL) == ok);
		if (!ok)
			g_assert_cmpstr(pruned_error->message, ==, error->message);
	}
}

static void
test_parse_pruned(void)
{
	static const gchar *const prune[] = { "facts/*/resources/*/value", "top", NULL };
	static const gchar *const text = "{\"top\":{\"x\":1},\"facts\":{\"k\":{\"resources\":["
					 "{\"uuid\":\"a\",\"value\":{\"s\":\"}]\\\"{[\\\\\",\"n\":{"
					 "\"d\":[{}]}},\"hash\":\"h1\"},"
					 "{\"uuid\":\"b\",\"value\":7,\"hash\":\"h2\"}]}},"
					 "\"value\":{\"kept\":true}}";
	static const gchar *const want =
		"{\"facts\":{\"k\":{\"resources\":[{\"hash\":\"h1\",\"uuid\":\"a\",\"value\":{}},"
		"{\"hash\":\"h2\",\"uuid\":\"b\",\"value\":7}]}},\"top\":{},"
		"\"value\":{\"kept\":true}}";
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) root = exm_json_parse_pruned(text, strlen(text), prune, &error);
	g_autofree gchar *got = NULL;
	JsonNode *bad;

	g_assert_no_error(error);
	got = exm_json_canonical(root);
	g_assert_cmpstr(got, ==, want);
	{
		/* UTF-8 past a run of ASCII in what is left empty */
		static const gchar *const utf8 = "{\"top\":{\"s\":\"abcdefghijk\xc3\xa9\"}}";
		g_autoptr(JsonNode) ok = exm_json_parse_pruned(utf8, strlen(utf8), prune, &error);

		g_assert_no_error(error);
		g_assert_nonnull(ok);
	}
	bad = exm_json_parse_pruned("{\"top\":{\"x\":01}}", 14, prune, &error);
	g_assert_null(bad);
	g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE_BODY);
	g_clear_error(&error);
	test_parse_pruned_refuses(prune);
	{
		/* taken: the same tree; refused with where it stopped */
		g_autoptr(JsonNode) taken = exm_json_parse_pruned_take(
			g_memdup2(text, strlen(text)), strlen(text), prune, &error);
		g_autofree gchar *taken_text = NULL;

		g_assert_no_error(error);
		taken_text = exm_json_canonical(taken);
		g_assert_cmpstr(taken_text, ==, want);
		g_assert_null(exm_json_parse_pruned_take(
			g_strdup("{\"a\":1,\"b\":01}"), 15, prune, &error));
		g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE_BODY);
		g_assert_cmpstr(error->message, ==, "invalid json at offset 12");
		g_clear_error(&error);
		g_assert_null(exm_json_parse_pruned_take(NULL, 0, prune, &error));
		g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE_BODY);
		g_assert_cmpstr(error->message, ==, "invalid json: empty input");
	}
}

/* The text in pieces: the same bytes as exm_json_canonical() and
 * exm_json_to_string(), a raw node's text included, never in one piece for
 * a large tree; the first error stops it and is the one returned. */
static void
test_canonical_to(void)
{
	static const gchar *const rules[] = { "=raw", NULL };
	g_autoptr(GString) json = g_string_new("{\"raw\": {\"b\": 1, \"a\": [true]}, \"list\": [");
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *whole = NULL;
	g_autoptr(GError) error = NULL;
	ExmTestPieces p = { g_string_new(NULL), 0, 0, FALSE };

	for (guint i = 0; i < 20000; i++)
		g_string_append_printf(
			json, "%s{\"n\": %u, \"s\": \"\\u00e9%u\"}", i ? "," : "", i, i);
	g_string_append(json, "]}");
	root = exm_json_parse_pruned(json->str, json->len, rules, &error);
	g_assert_no_error(error);
	g_assert_true(
		exm_json_node_is_raw(json_object_get_member(json_node_get_object(root), "raw")));
	whole = exm_json_canonical(root);
	g_assert_true(exm_json_canonical_to(root, exm_test_pieces_add, &p, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(p.text->str, ==, whole);
	g_assert_cmpuint(p.pieces, >, 4);
	g_string_free(p.text, TRUE);
	g_clear_pointer(&whole, g_free);

	/* the member order kept, as exm_json_to_string() */
	p = (ExmTestPieces){ g_string_new(NULL), 0, 0, FALSE };
	whole = exm_json_to_string(root);
	g_assert_true(g_str_has_prefix(whole, "{\"raw\":"));
	g_assert_true(exm_json_to_pieces(root, exm_test_pieces_add, &p, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(p.text->str, ==, whole);
	g_assert_cmpuint(p.pieces, >, 4);
	g_string_free(p.text, TRUE);

	p = (ExmTestPieces){ g_string_new(NULL), 0, 2, FALSE };
	g_assert_false(exm_json_canonical_to(root, exm_test_pieces_add, &p, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
	g_assert_cmpuint(p.pieces, ==, 2);
	g_string_free(p.text, TRUE);
}

/* A text large enough to be given back behind the build: the member names
 * on the path to a raw or pruned object lie on pages given back before it is
 * met, and still match; a raw object repeated keeps the last one; strings
 * are whole; the copy made for exm_json_parse_pruned() is given back too. */
static void
test_parse_release(void)
{
	static const gchar *const rules[] = { "=a/b/acc", "a/b/gone", NULL };
	g_autofree gchar *pad = g_strnfill(1536 * 1024, 'x');
	g_autofree gchar *text =
		g_strdup_printf("{\"a\": {\"pad\": \"%s\", \"b\": {\"pad2\": \"%s\", "
				"\"acc\": {\"u2\": {\"h\": \"2\"}, \"u1\": {\"h\": \"1\"}}, "
				"\"acc\": {\"u3\": {\"h\": \"3\"}, \"u0\": {\"h\": \"0\"}}, "
				"\"gone\": {\"q\": 1}}}, \"tail\": [1, \"t\"]}",
				pad,
				pad);
	gsize len = strlen(text);

	for (guint taken = 0; taken < 2; taken++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonNode) root =
			taken ? exm_json_parse_pruned_take(g_strdup(text), len, rules, &error)
			      : exm_json_parse_pruned(text, len, rules, &error);
		JsonObject *a, *b;
		JsonArray *tail;

		g_assert_no_error(error);
		a = json_object_get_object_member(json_node_get_object(root), "a");
		b = json_object_get_object_member(a, "b");
		g_assert_cmpstr(json_object_get_string_member(a, "pad"), ==, pad);
		g_assert_cmpstr(json_object_get_string_member(b, "pad2"), ==, pad);
		g_assert_true(exm_json_node_is_raw(json_object_get_member(b, "acc")));
		g_assert_cmpstr(exm_json_raw_text(json_object_get_member(b, "acc")),
				==,
				"{\"u0\":{\"h\":\"0\"},\"u3\":{\"h\":\"3\"}}");
		g_assert_cmpuint(
			json_object_get_size(json_object_get_object_member(b, "gone")), ==, 0);
		tail = json_object_get_array_member(json_node_get_object(root), "tail");
		g_assert_cmpuint(json_array_get_length(tail), ==, 2);
		g_assert_cmpstr(json_array_get_string_element(tail, 1), ==, "t");
	}
}

/* `{"v": {"accounts": {...}}}` of @n accounts named in @order: "sorted"
 * (as exm_json_canonical() sorts), "jsonb" (by length first, as a
 * PostgreSQL jsonb gives them) or "reversed"; one name in seven escaped (so
 * decoded into a copy); each member followed by as much white space as its
 * canonical text, which the canonical text leaves out. */
static gchar *
accounts_text(guint n, const gchar *order)
{
	GString *s = g_string_new("{\"v\": {\"accounts\": {");
	g_autofree gchar *gap = g_strnfill(330, ' ');

	for (guint i = 0; i < n; i++) {
		guint k = g_str_equal(order, "reversed") ? n - 1 - i : i;
		const gchar *at = k % 7 == 0 ? "\\u0040" : "@";

		if (i > 0)
			g_string_append(s, ", ");
		if (g_str_equal(order, "jsonb"))
			g_string_append_printf(s, "\"u%u%sx\"", k, at);
		else
			g_string_append_printf(s, "\"u%07u%sx\"", k, at);
		g_string_append_printf(
			s, ": {\"password_hash\": \"$6$%0300u\", \"active\": true}%s", k, gap);
	}
	g_string_append(s, "}}, \"tail\": \"t\"}");
	return g_string_free(s, FALSE);
}

/* In a process of its own (a fresh heap): the build's resident peak over
 * what it started with, the text included, is well under the accounts'
 * canonical text (which it would be at least, were the text kept whole
 * while that is made); that text is exm_json_canonical()'s of the whole
 * tree, built afterwards. */
static void
release_raw_child(const gchar *order)
{
	static const gchar *const rules[] = { "=v/accounts", NULL };
	g_autofree gchar *text = accounts_text(40000, order);
	g_autofree gchar *copy = g_strdup(text);
	gsize len = strlen(text);
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(JsonNode) whole = NULL;
	g_autofree gchar *want = NULL;
	const gchar *raw;
	gint64 before, peak, raw_kb;
	int fd;

	/* the peak reset to the resident size now ("5", kernel 4.0 and later) */
	fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, "5", 1), ==, 1);
	close(fd);
	before = (gint64)exm_test_status_kb("VmRSS:");
	root = exm_json_parse_pruned_take(g_steal_pointer(&text), len, rules, &error);
	peak = (gint64)exm_test_status_kb("VmHWM:") - before;
	g_assert_no_error(error);
	raw = exm_json_raw_text(json_object_get_member(
		json_object_get_object_member(json_node_get_object(root), "v"), "accounts"));
	g_assert_nonnull(raw);
	whole = exm_json_parse_strict(copy, len, &error);
	g_assert_no_error(error);
	want = exm_json_canonical(json_object_get_member(
		json_object_get_object_member(json_node_get_object(whole), "v"), "accounts"));
	g_assert_cmpstr(raw, ==, want);
	g_assert_cmpstr(json_object_get_string_member(json_node_get_object(root), "tail"), ==, "t");
	raw_kb = (gint64)strlen(raw) / 1024;
	g_test_message("%s: text %zu kB, accounts %" G_GINT64_FORMAT " kB, peak +%" G_GINT64_FORMAT
		       " kB",
		       order,
		       len / 1024,
		       raw_kb,
		       peak);
	/* under valgrind and AddressSanitizer, resident memory holds their
	 * shadow of what was written, and freed blocks in quarantine */
#ifndef __SANITIZE_ADDRESS__
	if (g_getenv("EXM_UNDER_VALGRIND") == NULL)
		g_assert_cmpint(peak, <, raw_kb / 2);
#endif
}

/* A large raw object gives the text's pages back as its members are
 * written, whatever their order: sorted, by length (a jsonb's), reversed.
 * The names, escaped or not, straddle the pages given back. */
static void
test_parse_release_raw(gconstpointer order)
{
	if (g_test_subprocess()) {
		release_raw_child(order);
		return;
	}
	/* malloc's perturbation (meson test sets it) writes every byte of a
	 * block given and freed: the child measures what the build touches */
	g_unsetenv("MALLOC_PERTURB_");
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
	g_test_trap_assert_passed();
}

/* An object at a `=` path is kept as its canonical text: the same canonical
 * text, hash and value as the whole tree, whatever the input's member order,
 * white space, escapes, repeated names and numbers; its members readable one
 * at a time; written verbatim by both writers; never made by a string. */
static void
test_parse_raw(void)
{
	static const gchar *const raw[] = { "=facts/*/value", "=top", "gone", NULL };
	static const gchar *const text =
		"{ \"top\" : { \"zz\":[1, 2.50, -0.0, 1e3, {\"b\":1,\"a\":\"\\u00e9\\n\"}],"
		"\"a\\u0062\": true, \"dup\": 1, \"\xc3\xa9\": null, \"dup\": {\"x\": 2} },"
		"\"facts\":{\"k\":{\"value\":{\"u2\":{\"h\":\"$6$x\"},\"u1\":{\"h\":\"y\"}}}},"
		"\"gone\":{\"a\":1}, \"s\": \"\\u00ffexm-raw:{}\" }";
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) whole = exm_json_parse_strict(text, strlen(text), &error);
	g_autoptr(JsonNode) root = exm_json_parse_pruned(text, strlen(text), raw, &error);
	g_autoptr(JsonNode) taken =
		exm_json_parse_pruned_take(g_strdup(text), strlen(text), raw, &error);
	g_autofree gchar *want = NULL, *got = NULL, *got_taken = NULL, *api = NULL;
	g_autofree gchar *hash_whole = NULL, *hash_raw = NULL;
	g_autoptr(JsonNode) from_api = NULL;
	g_autoptr(GArray) members = NULL;
	JsonObject *obj;
	JsonNode *top;

	g_assert_no_error(error);
	obj = json_node_get_object(root);
	top = json_object_get_member(obj, "top");
	g_assert_true(exm_json_node_is_raw(top));
	g_assert_cmpstr(exm_json_raw_text(top),
			==,
			"{\"ab\":true,\"dup\":{\"x\":2},\"zz\":[1,2.5,-0.0,1000.0,{\"a\":"
			"\"\\u00e9\\n\",\"b\":1}],\"\\u00e9\":null}");
	g_assert_true(exm_json_node_is_raw(json_object_get_member(
		json_object_get_object_member(json_object_get_object_member(obj, "facts"), "k"),
		"value")));
	/* pruned beside raw: left empty */
	g_assert_cmpuint(json_object_get_size(json_object_get_object_member(obj, "gone")), ==, 0);
	/* a string that spells the form is a string */
	g_assert_false(exm_json_node_is_raw(json_object_get_member(obj, "s")));
	g_assert_null(exm_json_raw_text(json_object_get_member(obj, "s")));
	json_object_remove_member(json_node_get_object(whole), "gone");
	json_object_set_object_member(json_node_get_object(whole), "gone", json_object_new());
	want = exm_json_canonical(whole);
	got = exm_json_canonical(root);
	got_taken = exm_json_canonical(taken);
	g_assert_cmpstr(got, ==, want);
	g_assert_cmpstr(got_taken, ==, want);
	hash_whole = exm_json_hash(whole);
	hash_raw = exm_json_hash(root);
	g_assert_cmpstr(hash_raw, ==, hash_whole);
	g_assert_true(exm_json_same(root, whole));
	g_assert_true(exm_json_same(whole, root));
	g_assert_true(exm_json_same(top, top));
	g_assert_false(exm_json_same(top, json_object_get_member(obj, "gone")));
	api = exm_json_to_string(root);
	from_api = exm_json_parse_strict(api, strlen(api), &error);
	g_assert_no_error(error);
	g_assert_true(exm_json_same(from_api, whole));
	members = exm_json_raw_members(top);
	g_assert_cmpuint(members->len, ==, 4);
	g_assert_cmpstr(g_array_index(members, ExmJsonRawMember, 0).name, ==, "ab");
	g_assert_cmpstr(g_array_index(members, ExmJsonRawMember, 3).name, ==, "\xc3\xa9");
	g_assert_cmpmem(g_array_index(members, ExmJsonRawMember, 1).value,
			g_array_index(members, ExmJsonRawMember, 1).len,
			"{\"x\":2}",
			7);
	g_assert_null(exm_json_raw_members(json_object_get_member(obj, "s")));
	/* refused inside a raw object as the pre-scan refuses */
	test_parse_pruned_refuses(raw);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/json/prescan/accepts", test_prescan_accepts);
	g_test_add_func("/json/prescan/refuses-quirks", test_prescan_refuses_quirks);
	g_test_add_func("/json/prescan/refuses-encoding", test_prescan_refuses_encoding);
	g_test_add_func("/json/prescan/refuses-syntax", test_prescan_refuses_syntax);
	g_test_add_func("/json/prescan/depth", test_prescan_depth);
	g_test_add_func("/json/prescan/mutations", test_prescan_mutations);
	g_test_add_func("/json/parse/values", test_parse_values);
	g_test_add_func("/json/parse/object", test_parse_object);
	g_test_add_func("/json/parse/as-json-glib", test_parse_as_json_glib);
	g_test_add_func("/json/parse/pruned", test_parse_pruned);
	g_test_add_func("/json/parse/raw", test_parse_raw);
	g_test_add_func("/json/parse/release", test_parse_release);
	g_test_add_data_func("/json/parse/release-raw/sorted", "sorted", test_parse_release_raw);
	g_test_add_data_func("/json/parse/release-raw/jsonb", "jsonb", test_parse_release_raw);
	g_test_add_data_func(
		"/json/parse/release-raw/reversed", "reversed", test_parse_release_raw);
	g_test_add_func("/json/canonical/to", test_canonical_to);
	g_test_add_func("/json/get/string", test_get_string);
	g_test_add_func("/json/get/int", test_get_int);
	g_test_add_func("/json/get/bool", test_get_bool);
	g_test_add_func("/json/get/object-array-node", test_get_object_array_node);
	g_test_add_func("/json/node-is-int", test_node_is_int);
	g_test_add_func("/json/same", test_same);
	g_test_add_func("/json/member-span", test_member_span);
	g_test_add_func("/json/hash/vectors", test_hash_vectors);
	g_test_add_func("/json/hash/unsorted-input", test_hash_from_unsorted);
	g_test_add_func("/json/hash/built-tree", test_hash_built_tree);
	g_test_add_func("/json/canonical/strings", test_canonical_strings);
	g_test_add_func("/json/canonical/keys", test_canonical_keys);
	g_test_add_func("/json/canonical/doubles", test_canonical_doubles);
	g_test_add_func("/json/canonical/numbers-parsed", test_canonical_numbers_parsed);
	g_test_add_func("/json/canonical/scalars", test_canonical_scalars);
	g_test_add_func("/json/to-string", test_to_string);
	g_test_add_func("/json/parse-secret", test_parse_secret);
	return g_test_run();
}
