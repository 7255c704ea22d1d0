/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * json-glib 1.6 accepts input we must refuse (docs/architecture.md §7: "\u0000" truncates
 * strings, out-of-range integers wrap, 1e400 becomes inf, single quotes and
 * comments pass), so json-glib's parser never sees an untrusted text: the
 * tree is built here, by a walk of the text that makes every check of the
 * strict RFC 8259 pre-scan on the way, and a text it refuses is refused with
 * the pre-scan's words.
 */
#include "exm-json.h"

#include "exm-error.h"
#include "exm-secret.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

static gboolean raw_same(JsonNode *a, JsonNode *b);

/* ---- strict pre-scan -------------------------------------------------- */

typedef struct {
	const guchar *p;
	const guchar *end;
	const guchar *start;
	guint depth;
	GError **error;
	GArray *spans;	    /* of SecretSpan: the root's string members, when wanted */
	gboolean any_value; /* with @spans: every root member, its whole value */
} ExmJsonScan;

/* A string member of the root object: its name's and its value's bytes
 * between the quotes (any member, for exm_json_member_span(): its value's
 * whole text). */
typedef struct {
	const guchar *name;
	const guchar *name_end;
	const guchar *value;
	const guchar *value_end;
} SecretSpan;

static gboolean scan_value(ExmJsonScan *s);

static gboolean
scan_fail(ExmJsonScan *s, const gchar *what)
{
	g_set_error(s->error,
		    EXM_ERROR,
		    EXM_ERROR_PARSE_BODY,
		    "invalid json at offset %" G_GSIZE_FORMAT ": %s",
		    (gsize)(s->p - s->start),
		    what);
	return FALSE;
}

static void
scan_ws(ExmJsonScan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static gboolean
scan_literal(ExmJsonScan *s, const gchar *word)
{
	gsize n = strlen(word);

	if ((gsize)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return scan_fail(s, "unexpected character");
	s->p += n;
	return TRUE;
}

/* Four hex digits at @p, -1 when one is not (a NUL is not). */
static gint
hex4(const guchar *p)
{
	gint v = 0;

	for (guint i = 0; i < 4; i++) {
		gint d = g_ascii_xdigit_value((gchar)p[i]);

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Four hex digits after "\u"; -1 when malformed. */
static gint
scan_hex4(ExmJsonScan *s)
{
	gint v = s->end - s->p < 4 ? -1 : hex4(s->p);

	if (v >= 0)
		s->p += 4;
	return v;
}

/* Called with s->p after "\u".  Refuses U+0000 (json-glib truncates there) and
 * surrogates that do not form a high+low pair. */
static gboolean
scan_unicode(ExmJsonScan *s)
{
	gint cp = scan_hex4(s);
	gint lo;

	if (cp < 0)
		return scan_fail(s, "bad \\u escape");
	if (cp == 0)
		return scan_fail(s, "\\u0000 is not allowed");
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return scan_fail(s, "lone low surrogate escape");
	if (cp < 0xD800 || cp > 0xDBFF)
		return TRUE;
	if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
		return scan_fail(s, "lone high surrogate escape");
	s->p += 2;
	lo = scan_hex4(s);
	if (lo < 0xDC00 || lo > 0xDFFF)
		return scan_fail(s, "high surrogate escape not followed by a low one");
	return TRUE;
}

/* The escapes that are one character after the backslash. */
static gboolean
escape_is_short(guchar c)
{
	return c != '\0' && strchr("\"\\/bfnrt", c) != NULL;
}

static gboolean
scan_escape(ExmJsonScan *s)
{
	if (s->p >= s->end)
		return scan_fail(s, "unterminated string");
	if (escape_is_short(*s->p)) {
		s->p++;
		return TRUE;
	}
	if (*s->p != 'u')
		return scan_fail(s, "bad escape");
	s->p++;
	return scan_unicode(s);
}

/* The whole input is already known to be valid UTF-8 without NUL, so only
 * ASCII structure matters here: multi-byte sequences are >= 0x80. */
static gboolean
scan_string(ExmJsonScan *s)
{
	s->p++; /* opening quote */
	while (s->p < s->end) {
		guchar c = *s->p;
		if (c == '"') {
			s->p++;
			return TRUE;
		}
		if (c < 0x20)
			return scan_fail(s, "unescaped control character in string");
		s->p++;
		if (c == '\\' && !scan_escape(s))
			return FALSE;
	}
	return scan_fail(s, "unterminated string");
}

static gboolean
scan_digits(ExmJsonScan *s)
{
	const guchar *from = s->p;

	while (s->p < s->end && g_ascii_isdigit(*s->p))
		s->p++;
	if (s->p == from)
		return scan_fail(s, "digit expected");
	return TRUE;
}

/* Range checks on the literal itself: integers must fit int64 (json-glib would
 * wrap them), every number must be finite as a double (json-glib would make
 * 1e400 an inf that no JSON writer can emit). */
static gboolean
scan_number_range(ExmJsonScan *s, const guchar *from, gboolean is_int)
{
	g_autofree gchar *text = g_strndup((const gchar *)from, (gsize)(s->p - from));
	gchar *end = NULL;

	errno = 0;
	if (is_int) {
		(void)g_ascii_strtoll(text, &end, 10);
		if (errno == ERANGE)
			return scan_fail(s, "integer out of int64 range");
		return TRUE;
	}
	if (!isfinite(g_ascii_strtod(text, &end)))
		return scan_fail(s, "number out of range");
	return TRUE;
}

static gboolean
scan_number(ExmJsonScan *s)
{
	const guchar *from = s->p;
	gboolean is_int = TRUE;

	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0') {
		s->p++;
		if (s->p < s->end && g_ascii_isdigit(*s->p))
			return scan_fail(s, "leading zero");
	} else if (!scan_digits(s)) {
		return FALSE;
	}
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		is_int = FALSE;
		if (!scan_digits(s))
			return FALSE;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		is_int = FALSE;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!scan_digits(s))
			return FALSE;
	}
	return scan_number_range(s, from, is_int);
}

/* Shared by objects and arrays: "<open> ws [ item (ws , ws item)* ] ws <close>". */
static gboolean
scan_container(ExmJsonScan *s, guchar close, gboolean (*item)(ExmJsonScan *))
{
	if (++s->depth > EXM_JSON_MAX_DEPTH)
		return scan_fail(s, "nesting too deep");
	s->p++;
	scan_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		return TRUE;
	}
	for (;;) {
		if (!item(s))
			return FALSE;
		scan_ws(s);
		if (s->p >= s->end)
			return scan_fail(s, "unexpected end of input");
		if (*s->p == close) {
			s->p++;
			s->depth--;
			return TRUE;
		}
		if (*s->p != ',')
			return scan_fail(s, "',' expected");
		s->p++;
		scan_ws(s);
	}
}

static gboolean
scan_member(ExmJsonScan *s)
{
	SecretSpan span = { 0 };

	if (s->p >= s->end || *s->p != '"')
		return scan_fail(s, "member name expected");
	span.name = s->p + 1;
	if (!scan_string(s))
		return FALSE;
	span.name_end = s->p - 1;
	scan_ws(s);
	if (s->p >= s->end || *s->p != ':')
		return scan_fail(s, "':' expected");
	s->p++;
	scan_ws(s);
	if (s->spans != NULL && s->depth == 1 && s->any_value) {
		span.value = s->p;
		if (!scan_value(s))
			return FALSE;
		span.value_end = s->p;
		g_array_append_val(s->spans, span);
		return TRUE;
	}
	if (s->spans == NULL || s->depth != 1 || s->p >= s->end || *s->p != '"')
		return scan_value(s);
	span.value = s->p + 1;
	if (!scan_string(s))
		return FALSE;
	span.value_end = s->p - 1;
	g_array_append_val(s->spans, span);
	return TRUE;
}

static gboolean
scan_value(ExmJsonScan *s)
{
	if (s->p >= s->end)
		return scan_fail(s, "value expected");
	switch (*s->p) {
	case '{':
		return scan_container(s, '}', scan_member);
	case '[':
		return scan_container(s, ']', scan_value);
	case '"':
		return scan_string(s);
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	default:
		if (*s->p == '-' || g_ascii_isdigit(*s->p))
			return scan_number(s);
		return scan_fail(s, "unexpected character");
	}
}

/* The pre-scan; with @spans, the root object's string members are recorded
 * (with @any_value, every member: its value's whole text). */
static gboolean
prescan(const gchar *data, gsize len, GArray *spans, gboolean any_value, GError **error)
{
	ExmJsonScan s = { .spans = spans, .any_value = any_value };

	/* Before any pointer arithmetic: NULL + 0 is undefined behaviour. */
	if (data == NULL || len == 0) {
		g_set_error_literal(
			error, EXM_ERROR, EXM_ERROR_PARSE_BODY, "invalid json: empty input");
		return FALSE;
	}
	/* g_utf8_validate_len() also refuses NUL bytes, which covers raw NULs
	 * inside strings and anywhere else. */
	if (!g_utf8_validate_len(data, len, NULL)) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_PARSE_BODY,
				    "invalid json: not valid utf-8 (or contains a nul byte)");
		return FALSE;
	}
	s.start = s.p = (const guchar *)data;
	s.end = s.p + len;
	s.error = error;
	scan_ws(&s);
	if (s.p == s.end)
		return scan_fail(&s, "empty input");
	if (!scan_value(&s))
		return FALSE;
	scan_ws(&s);
	if (s.p != s.end)
		return scan_fail(&s, "trailing data after the json value");
	return TRUE;
}

/**
 * exm_json_prescan:
 * @data: bytes (not necessarily NUL-terminated)
 * @len: their length
 * @error: return location, %EXM_ERROR_PARSE_BODY on failure
 *
 * Checks that @data is exactly one strict RFC 8259 JSON text.  Also refused:
 * a byte-order mark, comments, single quotes, trailing commas, bare
 * NaN/Infinity, leading zeros (none of them is JSON).  Duplicate member names
 * are allowed (the last one wins, as in Python).
 *
 * Returns: %TRUE if @data is acceptable
 */
gboolean
exm_json_prescan(const gchar *data, gsize len, GError **error)
{
	return prescan(data, len, NULL, FALSE, error);
}

static JsonNode *build_root(const gchar *data, gsize len, const gchar *const *prune);

/**
 * exm_json_parse_strict:
 * @data: bytes
 * @len: their length
 * @error: %EXM_ERROR_PARSE_BODY on failure
 *
 * Returns: (transfer full): the root node
 */
JsonNode *
exm_json_parse_strict(const gchar *data, gsize len, GError **error)
{
	/* A mutable tree (callers may take members out of a body as they unpack
	 * it), built by our own walk of the text: json-glib's parser after the
	 * pre-scan took 320 ms for a payload of 100 000 accounts, the pre-scan
	 * and this builder 136 ms, the builder checking as it goes less
	 * (docs/scale.md §3) */
	return exm_json_parse_pruned(data, len, NULL, error);
}

/* Why build_root() refused @data: the pre-scan's words for it. */
static void
build_refused(const gchar *data, gsize len, GError **error)
{
	if (prescan(data, len, NULL, FALSE, error))
		g_set_error_literal(error, EXM_ERROR, EXM_ERROR_PARSE_BODY, "invalid json");
}

JsonNode *
exm_json_parse_pruned(const gchar *data, gsize len, const gchar *const *prune, GError **error)
{
	JsonNode *root = build_root(data, len, prune);

	if (root == NULL)
		build_refused(data, len, error);
	return root;
}

/* ---- secret members ---------------------------------------------------- */

/*
 * The text of a string the pre-scan accepted (its bytes between the quotes),
 * escapes decoded, written at @out, which may be @p itself: decoding never
 * grows, so every byte is read before it is written over.  Returns the end
 * of what was written.
 */
static gchar *
unescape_to(const guchar *p, const guchar *end, gchar *out)
{
	gchar *o = out;

	while (p < end) {
		gunichar cp;

		if (*p != '\\') {
			*o++ = (gchar)*p++;
			continue;
		}
		p++;
		switch (*p++) {
		case 'b':
			*o++ = '\b';
			continue;
		case 'f':
			*o++ = '\f';
			continue;
		case 'n':
			*o++ = '\n';
			continue;
		case 'r':
			*o++ = '\r';
			continue;
		case 't':
			*o++ = '\t';
			continue;
		case 'u':
			break;
		default:
			*o++ = (gchar)p[-1];
			continue;
		}
		cp = hex4(p);
		p += 4;
		if (cp >= 0xD800 && cp <= 0xDBFF) { /* a high surrogate: "\uDC00" follows */
			cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(p + 2) - 0xDC00);
			p += 6;
		}
		o += g_unichar_to_utf8(cp, o);
	}
	return o;
}

/* unescape_to() in a buffer of the input's size. */
static gchar *
unescape(const guchar *p, const guchar *end)
{
	gchar *out = g_malloc((gsize)(end - p) + 1);

	*unescape_to(p, end, out) = '\0';
	return out;
}

/* ---- the tree, checked as it is built --------------------------------- */

/* What json-glib's parser would build, made in one walk of the text that
 * makes every check of the pre-scan on the way (the pre-scan then the build
 * walked 28 MB twice in the agent's change window, docs/scale.md §3).  It
 * only tells accepted from refused: for a refused text the pre-scan runs to
 * say why, so every error is the pre-scan's, word for word.  It works on a
 * NUL-terminated copy of the text, whose strings are decoded in place and
 * given to json-glib from there; the NUL is refused wherever it is met
 * (a raw NUL inside the text too), so no loop runs past the end. */
typedef struct {
	guchar *p;
	const guchar *start;
	const guchar *end;
	guint nest; /* containers open, the pre-scan's depth */
	/* exm_json_parse_pruned(): the paths of the objects left empty, split,
	 * and the member names down to the value being built (%NULL for an
	 * array's element) */
	GPtrArray *prune;
	/* the paths of the objects kept as their canonical text (exm_json_raw_*) */
	GPtrArray *raw;
	const gchar *path[EXM_JSON_MAX_DEPTH + 1];
	guint depth;
	/* a text of 2 MiB or more: its pages behind the build are given back
	 * as it goes (build_release()); [released_from, released) is what
	 * was, and the member names on the path are copies (in names[]),
	 * since their text may be among them.  %NULL for a smaller text. */
	guchar *released_from;
	guchar *released;
	GString *names[EXM_JSON_MAX_DEPTH + 1];
	/* RawPending: the raw nodes whose text is set once the text is freed
	 * (build_resolve()); %NULL until the first */
	GArray *pending;
} ExmJsonBuild;

typedef struct {
	JsonNode *node;
	GString *text;
} RawPending;

/* Pages of the text behind the build are given back once at least this
 * much of it lies between the last release and the build: one madvise()
 * per MiB or more, at a member or element boundary. */
#define BUILD_RELEASE_STEP ((gsize)1 << 20)

/* Gives the text's whole pages before b->p back to the system (they read as
 * zeros afterwards, which the build never reads again: every pointer it
 * keeps into the text is at or after b->p, or a copy).  The text is the
 * caller's g_malloc()ed block, anonymous memory whose pages are the
 * process's own, so its contents are gone, not merely unmapped. */
static void
build_release_at(ExmJsonBuild *b, const guchar *at, gsize step)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	guchar *to = (guchar *)((uintptr_t)at & ~(page - 1));

	if (b->released == NULL || to <= b->released || (gsize)(to - b->released) < step)
		return;
	if (madvise(b->released, (gsize)(to - b->released), MADV_DONTNEED) == 0)
		b->released = to;
}

static void
build_release(ExmJsonBuild *b)
{
	build_release_at(b, b->p, BUILD_RELEASE_STEP);
}

/* The name a member's value is built under: the text's own, or its copy
 * when the text behind may be given back before the member is set. */
static const gchar *
build_keep_name(ExmJsonBuild *b, const gchar *name)
{
	if (b->released == NULL)
		return name;
	if (b->names[b->depth] == NULL)
		b->names[b->depth] = g_string_new(NULL);
	return g_string_assign(b->names[b->depth], name)->str;
}

/* Whether the value at b->path[0..b->depth] is an object named by one of
 * @paths (split). */
static gboolean
build_at(const ExmJsonBuild *b, GPtrArray *paths)
{
	if (paths == NULL || *b->p != '{')
		return FALSE;
	for (guint i = 0; i < paths->len; i++) {
		const gchar *const *segs = paths->pdata[i];
		guint n = 0;

		while (n <= b->depth && segs[n] != NULL &&
		       (g_str_equal(segs[n], "*") ||
			(b->path[n] != NULL && g_str_equal(segs[n], b->path[n]))))
			n++;
		if (n == b->depth + 1 && segs[n] == NULL)
			return TRUE;
	}
	return FALSE;
}

/* Whether @p[@len], which the scanner accepted (so holds no NUL), is UTF-8:
 * eight bytes at a time while they are ASCII, as nearly all of a payload is
 * (GLib's check takes a byte at a time: 9 ms for the 14 MB of an answer's
 * facts). */
static gboolean
scanned_is_utf8(const guchar *p, gsize len)
{
	gsize i = 0;

	for (; i + sizeof(guint64) <= len; i += sizeof(guint64)) {
		guint64 word;

		memcpy(&word, p + i, sizeof(word));
		if ((word & G_GUINT64_CONSTANT(0x8080808080808080)) != 0)
			break;
	}
	/* from a character's start: every byte before it is ASCII */
	return g_utf8_validate_len((const gchar *)p + i, len - i, NULL);
}

/* An object left empty: checked by the pre-scan's own scanner (its strings'
 * UTF-8 included), not built. */
static JsonNode *
build_skipped(ExmJsonBuild *b)
{
	ExmJsonScan s = { .p = b->p, .end = b->end, .start = b->start, .depth = b->nest };
	g_autoptr(JsonObject) empty = NULL;

	if (!scan_value(&s) || !scanned_is_utf8(b->p, (gsize)(s.p - b->p)))
		return NULL;
	b->p += s.p - b->p;
	empty = json_object_new();
	return json_node_init_object(json_node_alloc(), empty);
}

static void
build_ws(ExmJsonBuild *b)
{
	while (*b->p == ' ' || *b->p == '\t' || *b->p == '\n' || *b->p == '\r')
		b->p++;
}

/* With b->p on the 'u' of "\u", left on the escape's last digit: the
 * pre-scan's scan_unicode(). */
static gboolean
build_unicode(ExmJsonBuild *b)
{
	gint cp = hex4(b->p + 1);
	gint lo;

	if (cp <= 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
		return FALSE;
	b->p += 4;
	if (cp < 0xD800 || cp > 0xDBFF)
		return TRUE;
	if (b->p[1] != '\\' || b->p[2] != 'u')
		return FALSE;
	lo = hex4(b->p + 3);
	if (lo < 0xDC00 || lo > 0xDFFF)
		return FALSE;
	b->p += 6;
	return TRUE;
}

/* With b->p on a backslash, left on the escape's last byte. */
static gboolean
build_escape(ExmJsonBuild *b)
{
	b->p++;
	if (escape_is_short(*b->p))
		return TRUE;
	return *b->p == 'u' && build_unicode(b);
}

/* A string's text, with b->p on its opening quote: decoded in place and
 * ended by a NUL over its closing quote (decoding never grows), %NULL when
 * refused.  Only a string may hold a byte above 0x7f: its bytes are checked
 * as UTF-8 when it does, which is the pre-scan's check of the whole text. */
static const gchar *
build_string(ExmJsonBuild *b)
{
	guchar *from = ++b->p;
	gboolean escaped = FALSE;
	gboolean high = FALSE;
	gchar *end;

	for (; *b->p != '"'; b->p++) {
		if (*b->p < 0x20)
			return NULL; /* a control character, or the NUL at the end */
		if (*b->p >= 0x80)
			high = TRUE;
		else if (*b->p == '\\' && !(escaped = build_escape(b)))
			return NULL;
	}
	if (high && !g_utf8_validate_len((const gchar *)from, (gsize)(b->p - from), NULL))
		return NULL;
	end = escaped ? unescape_to(from, b->p, (gchar *)from) : (gchar *)b->p;
	*end = '\0';
	b->p++;
	return (const gchar *)from;
}

static gboolean
build_digits(ExmJsonBuild *b)
{
	const guchar *from = b->p;

	while (g_ascii_isdigit(*b->p))
		b->p++;
	return b->p != from;
}

/* An int64 or a double, as json-glib types them, within the pre-scan's
 * grammar and ranges.  strtoll() and strtod() stop where the grammar did:
 * what follows a number is never a digit, a point or an exponent. */
static JsonNode *
number_node(const gchar *from, gboolean is_int)
{
	gdouble d;

	errno = 0;
	if (is_int) {
		gint64 i = g_ascii_strtoll(from, NULL, 10);

		return errno == ERANGE ? NULL : json_node_init_int(json_node_alloc(), i);
	}
	d = g_ascii_strtod(from, NULL);
	return isfinite(d) ? json_node_init_double(json_node_alloc(), d) : NULL;
}

/* The pre-scan's scan_number(). */
static JsonNode *
build_number(ExmJsonBuild *b)
{
	const gchar *from = (const gchar *)b->p;
	gboolean is_int;

	if (*b->p == '-')
		b->p++;
	if (*b->p == '0' ? g_ascii_isdigit(*++b->p) : !build_digits(b))
		return NULL;
	is_int = *b->p != '.' && *b->p != 'e' && *b->p != 'E';
	if (*b->p == '.' && (b->p++, !build_digits(b)))
		return NULL;
	if (*b->p == 'e' || *b->p == 'E') {
		b->p++;
		if (*b->p == '+' || *b->p == '-')
			b->p++;
		if (!build_digits(b))
			return NULL;
	}
	return number_node(from, is_int);
}

/* true, false, null: the NUL at the end never matches. */
static JsonNode *
build_word(ExmJsonBuild *b, const gchar *word, JsonNode *node)
{
	for (const gchar *w = word; *w != '\0'; w++, b->p++) {
		if (*b->p != (guchar)*w) {
			json_node_unref(node);
			return NULL;
		}
	}
	return node;
}

static JsonNode *build_value(ExmJsonBuild *b);
static JsonNode *build_raw(ExmJsonBuild *b);

// NOLINTBEGIN(misc-no-recursion): at most EXM_JSON_MAX_DEPTH containers deep
/* The value of the member or element b->path[b->depth] names. */
static JsonNode *
build_child(ExmJsonBuild *b)
{
	JsonNode *value;

	if (build_at(b, b->prune))
		return build_skipped(b);
	if (build_at(b, b->raw))
		return build_raw(b);
	b->depth++;
	value = build_value(b);
	b->depth--;
	return value;
}

/* A member of the object of @node: the name, from the text, is copied by
 * json-glib only. */
static gboolean
build_member(ExmJsonBuild *b, JsonNode *node, JsonObject *obj)
{
	const gchar *name;
	JsonNode *value;

	if (*b->p != '"' || (name = build_string(b)) == NULL)
		return FALSE;
	build_ws(b);
	if (*b->p != ':')
		return FALSE;
	b->p++;
	build_ws(b);
	name = build_keep_name(b, name);
	b->path[b->depth] = name;
	value = build_child(b);
	if (value == NULL)
		return FALSE;
	json_node_set_parent(value, node);
	/* a repeated name: the last one wins, where the first one stood */
	json_object_set_member(obj, name, value);
	return TRUE;
}

/* An element of the array of @node. */
static gboolean
build_element(ExmJsonBuild *b, JsonNode *node, JsonArray *arr)
{
	JsonNode *value;

	b->path[b->depth] = NULL;
	value = build_child(b);
	if (value == NULL)
		return FALSE;
	json_node_set_parent(value, node);
	json_array_add_element(arr, value);
	return TRUE;
}

/* "<open> ws [ item (ws , ws item)* ] ws <close>", as scan_container(). */
static gboolean
build_items(ExmJsonBuild *b, guchar close, JsonNode *node)
{
	if (++b->nest > EXM_JSON_MAX_DEPTH)
		return FALSE;
	b->p++;
	build_ws(b);
	if (*b->p != close) {
		for (;;) {
			if (!(close == '}' ? build_member(b, node, json_node_get_object(node))
					   : build_element(b, node, json_node_get_array(node))))
				return FALSE;
			build_ws(b);
			build_release(b);
			if (*b->p == close)
				break;
			if (*b->p != ',')
				return FALSE;
			b->p++;
			build_ws(b);
		}
	}
	b->p++;
	b->nest--;
	return TRUE;
}

static JsonNode *
build_container(ExmJsonBuild *b)
{
	g_autoptr(JsonNode) node = json_node_alloc();

	if (*b->p == '{') {
		g_autoptr(JsonObject) obj = json_object_new();

		json_node_init_object(node, obj);
	} else {
		g_autoptr(JsonArray) arr = json_array_new();

		json_node_init_array(node, arr);
	}
	if (!build_items(b, *b->p == '{' ? '}' : ']', node))
		return NULL;
	return g_steal_pointer(&node);
}

static JsonNode *
build_value(ExmJsonBuild *b)
{
	const gchar *text;

	switch (*b->p) {
	case '{':
	case '[':
		return build_container(b);
	case '"':
		text = build_string(b);
		return text != NULL ? json_node_init_string(json_node_alloc(), text) : NULL;
	case 't':
		return build_word(b, "true", json_node_init_boolean(json_node_alloc(), TRUE));
	case 'f':
		return build_word(b, "false", json_node_init_boolean(json_node_alloc(), FALSE));
	case 'n':
		return build_word(b, "null", json_node_init_null(json_node_alloc()));
	default:
		if (*b->p == '-' || g_ascii_isdigit(*b->p))
			return build_number(b);
		return NULL;
	}
}
// NOLINTEND(misc-no-recursion)

/* The prune and raw paths of @prune, split, into @b. */
static void
build_rules(ExmJsonBuild *b, const gchar *const *prune)
{
	for (guint i = 0; prune != NULL && prune[i] != NULL; i++) {
		gboolean raw = prune[i][0] == '=';
		GPtrArray **list = raw ? &b->raw : &b->prune;

		if (*list == NULL)
			*list = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
		g_ptr_array_add(*list, g_strsplit(prune[i] + (raw ? 1 : 0), "/", -1));
	}
}

/* The text wiped (a text may hold a secret: the meta file's TLS key, an
 * answer's hashes) but for the pages given back, which hold nothing any
 * more, then freed, with what the build kept. */
static void
build_free_text(ExmJsonBuild *b, guchar *text, gsize len)
{
	if (b->released_from != NULL && b->released > b->released_from) {
		exm_secret_wipe(text, (gsize)(b->released_from - text));
		exm_secret_wipe(b->released, len - (gsize)(b->released - text));
	} else {
		exm_secret_wipe(text, len);
	}
	g_free(text);
	g_clear_pointer(&b->prune, g_ptr_array_unref);
	g_clear_pointer(&b->raw, g_ptr_array_unref);
	for (guint i = 0; i < G_N_ELEMENTS(b->names); i++) {
		if (b->names[i] != NULL)
			g_string_free(b->names[i], TRUE);
	}
}

/* The raw nodes' texts set (@built) or dropped with the tree. */
static void
build_resolve(ExmJsonBuild *b, gboolean built)
{
	if (b->pending == NULL)
		return;
	for (guint i = 0; i < b->pending->len; i++) {
		RawPending *r = &g_array_index(b->pending, RawPending, i);

		if (built)
			json_node_set_string(r->node, r->text->str);
		json_node_unref(r->node);
		g_string_free(r->text, TRUE);
	}
	g_array_unref(b->pending);
}

/* The tree of @text[@len], which is NUL-terminated and decoded over as it
 * is built; %NULL when the pre-scan would refuse it, with *@stopped where
 * the building stopped.  @text is g_malloc()ed and taken: its pages are
 * given back behind the build, then it is wiped and freed, and only then
 * are the raw nodes' texts copied into them (json-glib copies a string): a
 * 28 MB answer, the 17 MB its accounts' text is made in and the 14 MB of
 * their copy are never held at once (docs/scale.md §3). */
static JsonNode *
build_text(guchar *text, gsize len, const gchar *const *prune, gsize *stopped)
{
	ExmJsonBuild b = { 0 };
	JsonNode *root;

	b.p = text;
	b.start = text;
	b.end = text + len;
	if (len >= 2 * BUILD_RELEASE_STEP) {
		uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);

		b.released_from = (guchar *)(((uintptr_t)text + page - 1) & ~(page - 1));
		b.released = b.released_from;
	}
	build_rules(&b, prune);
	build_ws(&b);
	root = build_value(&b);
	if (root != NULL) {
		build_ws(&b);
		if (b.p != b.end)
			g_clear_pointer(&root, json_node_unref);
	}
	*stopped = (gsize)(b.p - text);
	build_free_text(&b, text, len);
	build_resolve(&b, root != NULL);
	return root;
}

/* The tree of @data[@len], %NULL when the pre-scan would refuse it; built
 * on a copy (build_text()). */
static JsonNode *
build_root(const gchar *data, gsize len, const gchar *const *prune)
{
	guchar *text;
	gsize stopped = 0;

	if (data == NULL || len == 0)
		return NULL;
	text = g_malloc(len + 1);
	memcpy(text, data, len);
	text[len] = '\0';
	return build_text(text, len, prune, &stopped);
}

JsonNode *
exm_json_parse_pruned_take(gchar *data, gsize len, const gchar *const *prune, GError **error)
{
	JsonNode *root = NULL;
	gsize stopped = 0;

	if (data != NULL && len > 0) {
		/* room for the NUL the builder ends on: a realloc of one byte
		 * stays in place, or moves pages, not the text */
		data = g_realloc(data, len + 1);
		data[len] = '\0';
		root = build_text((guchar *)data, len, prune, &stopped);
	} else {
		g_free(data);
	}
	/* the text was decoded over: only where it was refused is known */
	if (root == NULL && len == 0)
		g_set_error_literal(
			error, EXM_ERROR, EXM_ERROR_PARSE_BODY, "invalid json: empty input");
	else if (root == NULL)
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_PARSE_BODY,
			    "invalid json at offset %" G_GSIZE_FORMAT,
			    stopped);
	return root;
}

static gboolean
span_named(const SecretSpan *span, const gchar *const *names)
{
	gchar *name = unescape(span->name, span->name_end);
	gboolean named = g_strv_contains(names, name);

	g_free(name);
	return named;
}

gboolean
exm_json_member_span(const gchar *data,
		     gsize len,
		     const gchar *name,
		     gsize *offset,
		     gsize *length,
		     GError **error)
{
	g_autoptr(GArray) spans = g_array_new(FALSE, FALSE, sizeof(SecretSpan));
	const gchar *names[] = { name, NULL };
	const SecretSpan *found = NULL;

	if (!prescan(data, len, spans, TRUE, error))
		return FALSE;
	/* a repeated name: the last one wins, as when parsed */
	for (guint i = 0; i < spans->len; i++) {
		if (span_named(&g_array_index(spans, SecretSpan, i), names))
			found = &g_array_index(spans, SecretSpan, i);
	}
	if (found == NULL) {
		g_set_error(error, EXM_ERROR, EXM_ERROR_PARSE_BODY, "no member %s", name);
		return FALSE;
	}
	*offset = (gsize)(found->value - (const guchar *)data);
	*length = (gsize)(found->value_end - found->value);
	return TRUE;
}

/* Puts @value in the root's string member @span names, wiping the text it replaces. */
static void
restore_secret(JsonNode *root, const SecretSpan *span, const gchar *value)
{
	gchar *name = unescape(span->name, span->name_end);
	JsonNode *member = json_object_get_member(json_node_get_object(root), name);
	gchar *old;

	g_free(name);
	if (member == NULL || json_node_get_value_type(member) != G_TYPE_STRING)
		return;
	old = (gchar *)json_node_get_string(member);
	exm_secret_wipe(old, strlen(old));
	json_node_set_string(member, value);
}

/**
 * exm_json_parse_secret:
 * @data: bytes, overwritten where they hold a secret
 * @len: their length
 * @names: %NULL-terminated names of secret members of the root object
 * @error: %EXM_ERROR_PARSE_BODY on failure
 *
 * Returns: (transfer full): the root node, as exm_json_parse_strict()
 */
JsonNode *
exm_json_parse_secret(gchar *data, gsize len, const gchar *const *names, GError **error)
{
	g_autoptr(GArray) spans = g_array_new(FALSE, FALSE, sizeof(SecretSpan));
	g_autoptr(GPtrArray) values =
		g_ptr_array_new_with_free_func((GDestroyNotify)exm_secret_free);
	g_autoptr(JsonNode) root = NULL;

	if (!prescan(data, len, spans, FALSE, error))
		return NULL;
	for (guint i = 0; i < spans->len; i++) {
		SecretSpan *span = &g_array_index(spans, SecretSpan, i);

		if (!span_named(span, names)) {
			span->value = NULL;
			continue;
		}
		g_ptr_array_add(values, unescape(span->value, span->value_end));
		memset((guchar *)span->value, '*', (gsize)(span->value_end - span->value));
	}
	/* the masked text is still the strict JSON the pre-scan accepted (a
	 * string's bytes became '*'): built at once, not scanned again */
	root = build_root(data, len, NULL);
	if (root == NULL)
		build_refused(data, len, error);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root))
		return g_steal_pointer(&root);
	for (guint i = 0, v = 0; i < spans->len; i++) {
		const SecretSpan *span = &g_array_index(spans, SecretSpan, i);

		if (span->value != NULL)
			restore_secret(root, span, values->pdata[v++]);
	}
	return g_steal_pointer(&root);
}

/**
 * exm_json_parse_object:
 * @data: bytes
 * @len: their length
 * @error: %EXM_ERROR_PARSE_BODY on failure
 *
 * Returns: (transfer full): the root object
 */
JsonObject *
exm_json_parse_object(const gchar *data, gsize len, GError **error)
{
	g_autoptr(JsonNode) root = exm_json_parse_strict(data, len, error);

	if (root == NULL)
		return NULL;
	if (!JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_PARSE_BODY,
				    "invalid json: the body must be an object");
		return NULL;
	}
	return json_object_ref(json_node_get_object(root));
}

/* ---- typed accessors -------------------------------------------------- */

/**
 * exm_json_node_is_int:
 * @node: a node
 *
 * Returns: %TRUE if @node is a JSON integer value (not a double, not a bool)
 */
gboolean
exm_json_node_is_int(JsonNode *node)
{
	return node != NULL && JSON_NODE_HOLDS_VALUE(node) &&
	       json_node_get_value_type(node) == G_TYPE_INT64;
}

// NOLINTBEGIN(misc-no-recursion): a json-glib tree's depth: its parser recursed as deep first
static gboolean
objects_same(JsonObject *a, JsonObject *b)
{
	JsonObjectIter iter;
	const gchar *name;
	JsonNode *value;

	if (json_object_get_size(a) != json_object_get_size(b))
		return FALSE;
	json_object_iter_init(&iter, a);
	while (json_object_iter_next(&iter, &name, &value)) {
		JsonNode *other = json_object_get_member(b, name);

		if (other == NULL || !exm_json_same(value, other))
			return FALSE;
	}
	return TRUE;
}

static gboolean
arrays_same(JsonArray *a, JsonArray *b)
{
	guint n = json_array_get_length(a);

	if (json_array_get_length(b) != n)
		return FALSE;
	for (guint i = 0; i < n; i++) {
		if (!exm_json_same(json_array_get_element(a, i), json_array_get_element(b, i)))
			return FALSE;
	}
	return TRUE;
}

gboolean
exm_json_same(JsonNode *a, JsonNode *b)
{
	if (exm_json_node_is_raw(a) || exm_json_node_is_raw(b))
		return raw_same(a, b);
	if (JSON_NODE_TYPE(a) != JSON_NODE_TYPE(b))
		return FALSE;
	switch (JSON_NODE_TYPE(a)) {
	case JSON_NODE_OBJECT:
		return objects_same(json_node_get_object(a), json_node_get_object(b));
	case JSON_NODE_ARRAY:
		return arrays_same(json_node_get_array(a), json_node_get_array(b));
	case JSON_NODE_VALUE:
		return json_node_get_value_type(a) == json_node_get_value_type(b) &&
		       json_node_equal(a, b);
	case JSON_NODE_NULL:
	default:
		return TRUE;
	}
}
// NOLINTEND(misc-no-recursion)

static gboolean
type_error(const gchar *name, const gchar *expected, GError **error)
{
	g_set_error(
		error, EXM_ERROR, EXM_ERROR_VALIDATION, "member '%s' must be %s", name, expected);
	return FALSE;
}

/* Common prologue: the member, or NULL with *present = FALSE. */
static JsonNode *
json_member(JsonObject *obj, const gchar *name, gboolean *present)
{
	JsonNode *node = json_object_get_member(obj, name);

	if (present != NULL)
		*present = (node != NULL);
	return node;
}

/**
 * exm_json_get_node:
 * @obj: an object
 * @name: member name
 * @out: (out) (transfer none): the member, JSON null included
 * @present: (out) (optional): whether the member exists
 * @error: never set (kept for symmetry with the typed accessors)
 *
 * Returns: %TRUE
 */
gboolean
exm_json_get_node(JsonObject *obj,
		  const gchar *name,
		  JsonNode **out,
		  gboolean *present,
		  GError **error)
{
	JsonNode *node = json_member(obj, name, present);

	if (node != NULL)
		*out = node;
	return TRUE;
}

/**
 * exm_json_get_string:
 * @obj: an object
 * @name: member name
 * @allow_null: whether JSON null is accepted (sets *@out to %NULL)
 * @out: (out) (transfer none): the string
 * @present: (out) (optional): whether the member exists
 * @error: %EXM_ERROR_VALIDATION on a wrong type
 *
 * Returns: %FALSE on a wrong type
 */
gboolean
exm_json_get_string(JsonObject *obj,
		    const gchar *name,
		    gboolean allow_null,
		    const gchar **out,
		    gboolean *present,
		    GError **error)
{
	JsonNode *node = json_member(obj, name, present);

	if (node == NULL)
		return TRUE;
	if (allow_null && JSON_NODE_HOLDS_NULL(node)) {
		*out = NULL;
		return TRUE;
	}
	if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
		return type_error(name, allow_null ? "a string or null" : "a string", error);
	*out = json_node_get_string(node);
	return TRUE;
}

/**
 * exm_json_get_int:
 * @obj: an object
 * @name: member name
 * @out: (out): the integer
 * @present: (out) (optional): whether the member exists
 * @error: %EXM_ERROR_VALIDATION on a wrong type
 *
 * Returns: %FALSE on a wrong type (strings, doubles such as 1.0, booleans)
 */
gboolean
exm_json_get_int(JsonObject *obj, const gchar *name, gint64 *out, gboolean *present, GError **error)
{
	JsonNode *node = json_member(obj, name, present);

	if (node == NULL)
		return TRUE;
	if (!exm_json_node_is_int(node))
		return type_error(name, "an integer", error);
	*out = json_node_get_int(node);
	return TRUE;
}

/**
 * exm_json_get_bool:
 * @obj: an object
 * @name: member name
 * @out: (out): the boolean
 * @present: (out) (optional): whether the member exists
 * @error: %EXM_ERROR_VALIDATION on a wrong type
 *
 * Returns: %FALSE on a wrong type (0/1 and strings are not booleans)
 */
gboolean
exm_json_get_bool(JsonObject *obj,
		  const gchar *name,
		  gboolean *out,
		  gboolean *present,
		  GError **error)
{
	JsonNode *node = json_member(obj, name, present);

	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_BOOLEAN)
		return type_error(name, "a boolean", error);
	*out = json_node_get_boolean(node);
	return TRUE;
}

/**
 * exm_json_get_object:
 * @obj: an object
 * @name: member name
 * @out: (out) (transfer none): the object
 * @present: (out) (optional): whether the member exists
 * @error: %EXM_ERROR_VALIDATION on a wrong type
 *
 * Returns: %FALSE on a wrong type
 */
gboolean
exm_json_get_object(JsonObject *obj,
		    const gchar *name,
		    JsonObject **out,
		    gboolean *present,
		    GError **error)
{
	JsonNode *node = json_member(obj, name, present);

	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_OBJECT(node))
		return type_error(name, "an object", error);
	*out = json_node_get_object(node);
	return TRUE;
}

/**
 * exm_json_get_array:
 * @obj: an object
 * @name: member name
 * @out: (out) (transfer none): the array
 * @present: (out) (optional): whether the member exists
 * @error: %EXM_ERROR_VALIDATION on a wrong type
 *
 * Returns: %FALSE on a wrong type
 */
gboolean
exm_json_get_array(JsonObject *obj,
		   const gchar *name,
		   JsonArray **out,
		   gboolean *present,
		   GError **error)
{
	JsonNode *node = json_member(obj, name, present);

	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_ARRAY(node))
		return type_error(name, "an array", error);
	*out = json_node_get_array(node);
	return TRUE;
}

/* ---- writers ---------------------------------------------------------- */

typedef struct {
	GString *out;
	gboolean canonical; /* sorted keys + ASCII only, else member order + raw UTF-8 */
	/* (nullable): a hash fed as the text is written, @out flushed into it in
	 * pieces: hashing a node's 100 000 accounts needs no 15 MB string */
	XXH3_state_t *hash;
	/* (nullable): where @out goes instead, in pieces as for @hash, each
	 * wiped once given; the first error it returns, after which nothing
	 * more is given */
	ExmJsonPieceFunc piece;
	gpointer piece_data;
	GError *piece_error;
} ExmJsonWriter;

/* @text[@len] to @w's piece function, unless it failed before. */
static void
writer_give(ExmJsonWriter *w, const gchar *text, gsize len)
{
	if (w->piece_error == NULL)
		(void)w->piece(text, len, w->piece_data, &w->piece_error);
}

#define EXM_JSON_HASH_CHUNK 65536

/* Feeds @w's text so far to its hash (at member and element boundaries). */
static void
writer_flush(ExmJsonWriter *w, gsize above)
{
	if ((w->hash == NULL && w->piece == NULL) || w->out->len <= above)
		return;
	if (w->hash != NULL) {
		XXH3_64bits_update(w->hash, w->out->str, w->out->len);
	} else {
		writer_give(w, w->out->str, w->out->len);
		exm_secret_wipe(w->out->str, w->out->len);
	}
	g_string_truncate(w->out, 0);
}

static void write_node(ExmJsonWriter *w, JsonNode *node);

static void
write_u16(GString *out, gunichar u)
{
	g_string_append_printf(out, "\\u%04x", u);
}

static void
write_nonascii(ExmJsonWriter *w, gunichar c)
{
	if (c < 0x10000) {
		write_u16(w->out, c);
		return;
	}
	c -= 0x10000;
	write_u16(w->out, 0xD800 + (c >> 10));
	write_u16(w->out, 0xDC00 + (c & 0x3FF));
}

static const gchar *
short_escape(guchar b)
{
	switch (b) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	default:
		return NULL;
	}
}

/* The bytes from @s, at most @len, written as they are in both modes
 * (printable ASCII but `"` and `\\`): appended in one go, not byte by byte.
 * A NUL ends the run, so a NUL-terminated @s may pass G_MAXSIZE. */
static gsize
plain_run_len(const gchar *s, gsize len)
{
	const guchar *q = (const guchar *)s;
	gsize n = 0;

	while (n < len && q[n] >= 0x20 && q[n] < 0x7F && q[n] != '"' && q[n] != '\\')
		n++;
	return n;
}

/* Python json.dumps escaping: the short escapes, \uXXXX for the remaining
 * controls, and in canonical mode also for 0x7F and everything non-ASCII
 * (compact mode writes those raw, as orjson does for success bodies).  Invalid UTF-8, only possible
 * in trees built in code, is written as U+FFFD. */
static void
write_string(ExmJsonWriter *w, const gchar *s)
{
	const gchar *p = s != NULL ? s : "";

	g_string_append_c(w->out, '"');
	while (*p != '\0') {
		gsize run = plain_run_len(p, G_MAXSIZE);
		guchar b = (guchar)*p;
		const gchar *esc = short_escape(b);
		gunichar c;

		if (run > 0) {
			g_string_append_len(w->out, p, (gssize)run);
			p += run;
			continue;
		}
		if (esc != NULL || b < 0x80) {
			if (esc != NULL)
				g_string_append(w->out, esc);
			else if (b < 0x20 || (b == 0x7F && w->canonical))
				write_u16(w->out, b);
			else
				g_string_append_c(w->out, (gchar)b);
			p++;
			continue;
		}
		c = g_utf8_get_char_validated(p, -1);
		if (c == (gunichar)-1 || c == (gunichar)-2) {
			c = 0xFFFD;
			p++;
		} else {
			p = g_utf8_next_char(p);
		}
		if (w->canonical)
			write_nonascii(w, c);
		else
			g_string_append_unichar(w->out, c);
	}
	g_string_append_c(w->out, '"');
}

void
exm_json_append_string(GString *out, const gchar *s)
{
	ExmJsonWriter w = { out, FALSE, NULL };

	write_string(&w, s);
}

/* The correctly rounded @p-digit decimal of @x as an integer mantissa and the
 * power of ten of its last digit: x ≈ m × 10^exp10. */
static guint64
round_digits(gdouble x, gint p, gint *exp10)
{
	gchar buf[64];
	const gchar *e;
	guint64 m = 0;

	g_snprintf(buf, sizeof(buf), "%.*e", p - 1, x);
	e = strchr(buf, 'e');
	*exp10 = (gint)g_ascii_strtoll(e + 1, NULL, 10) - (p - 1);
	for (const gchar *q = buf; q < e; q++) {
		if (g_ascii_isdigit(*q))
			m = m * 10 + (guint64)(*q - '0');
	}
	return m;
}

/* Writes @m without trailing zeros into @digits and returns the decimal
 * exponent of its first digit. */
static gint
store_digits(guint64 m, gint exp10, gchar digits[32])
{
	gsize n = (gsize)g_snprintf(digits, 32, "%" G_GUINT64_FORMAT, m);
	gint first = exp10 + (gint)n - 1;

	while (n > 1 && digits[n - 1] == '0')
		digits[--n] = '\0';
	return first;
}

static gboolean
round_trips(gdouble x, guint64 m, gint exp10)
{
	gchar txt[64];

	if (m == 0)
		return FALSE;
	g_snprintf(txt, sizeof(txt), "%" G_GUINT64_FORMAT "e%d", m, exp10);
	return g_ascii_strtod(txt, NULL) == x;
}

/* Shortest decimal digits that strtod() maps back to @x (> 0, finite):
 * @digits gets them without trailing zeros, the return value is the decimal
 * exponent of the first digit (x = d.ddd × 10^exp).  The correctly rounded
 * p-digit value is tried first, then its neighbours: at a power of two the
 * rounding interval is lopsided and only a neighbour may round-trip (David
 * Gay's algorithm, which Python uses, finds those too).  17 significant
 * digits always round-trip, hence no check at the end. */
static gint
shortest(gdouble x, gchar digits[32])
{
	gint exp10 = 0;
	guint64 m;

	for (gint p = 1; p < 17; p++) {
		m = round_digits(x, p, &exp10);
		if (round_trips(x, m, exp10))
			return store_digits(m, exp10, digits);
		if (round_trips(x, m + 1, exp10))
			return store_digits(m + 1, exp10, digits);
		if (round_trips(x, m - 1, exp10))
			return store_digits(m - 1, exp10, digits);
	}
	m = round_digits(x, 17, &exp10);
	return store_digits(m, exp10, digits);
}

/* Python float.__repr__: fixed notation for 1e-4 <= |x| < 1e16 (always with a
 * fractional part, "2.0"), else "d.ddde±XX" with at least two exponent digits;
 * json.dumps writes the non-finite values as NaN / Infinity / -Infinity. */
static void
write_double(GString *out, gdouble x)
{
	gchar digits[32];
	gint exp10;
	gint n;

	if (isnan(x)) {
		g_string_append(out, "NaN");
		return;
	}
	if (isinf(x)) {
		g_string_append(out, x < 0 ? "-Infinity" : "Infinity");
		return;
	}
	if (signbit(x))
		g_string_append_c(out, '-');
	x = fabs(x);
	if (x == 0.0) {
		g_string_append(out, "0.0");
		return;
	}
	exp10 = shortest(x, digits);
	n = (gint)strlen(digits);
	if (exp10 < -4 || exp10 >= 16) {
		g_string_append_c(out, digits[0]);
		if (n > 1)
			g_string_append_printf(out, ".%s", digits + 1);
		g_string_append_printf(out, "e%c%02d", exp10 < 0 ? '-' : '+', ABS(exp10));
	} else if (exp10 < 0) {
		g_string_append(out, "0.");
		for (gint i = 0; i < -exp10 - 1; i++)
			g_string_append_c(out, '0');
		g_string_append(out, digits);
	} else {
		for (gint i = 0; i <= exp10; i++)
			g_string_append_c(out, i < n ? digits[i] : '0');
		g_string_append_c(out, '.');
		g_string_append(out, exp10 + 1 < n ? digits + exp10 + 1 : "0");
	}
}

typedef struct {
	const gchar *key;
	JsonNode *value;
} ExmJsonMember;

static gint
member_cmp(gconstpointer a, gconstpointer b)
{
	/* Byte order of UTF-8 equals code-point order, which is Python's. */
	return strcmp(((const ExmJsonMember *)a)->key, ((const ExmJsonMember *)b)->key);
}

// NOLINTBEGIN(misc-no-recursion): a json-glib tree's depth: its parser recursed as deep first
/* Members in insertion order (sorted by key in canonical mode), without a
 * list or a lookup per member: a node's 100 000 small account objects made
 * those the writer's main cost.  @keys: (nullable): only the members it names
 * (a projection, written without copying the members). */
static void
write_object(ExmJsonWriter *w, JsonObject *obj, JsonObject *keys)
{
	guint n = json_object_get_size(obj), i = 0;
	ExmJsonMember small[16];
	g_autofree ExmJsonMember *big = n > G_N_ELEMENTS(small) ? g_new(ExmJsonMember, n) : NULL;
	ExmJsonMember *m = big != NULL ? big : small;
	JsonObjectIter iter;

	json_object_iter_init_ordered(&iter, obj);
	while (i < n && json_object_iter_next_ordered(&iter, &m[i].key, &m[i].value)) {
		if (keys == NULL || json_object_has_member(keys, m[i].key))
			i++;
	}
	if (w->canonical)
		qsort(m, i, sizeof(*m), member_cmp);
	g_string_append_c(w->out, '{');
	for (guint k = 0; k < i; k++) {
		if (k > 0)
			g_string_append_c(w->out, ',');
		write_string(w, m[k].key);
		g_string_append_c(w->out, ':');
		write_node(w, m[k].value);
		writer_flush(w, EXM_JSON_HASH_CHUNK);
	}
	g_string_append_c(w->out, '}');
}
// NOLINTEND(misc-no-recursion)

// NOLINTBEGIN(misc-no-recursion): a json-glib tree's depth: its parser recursed as deep first
static void
write_array(ExmJsonWriter *w, JsonArray *arr)
{
	guint n = json_array_get_length(arr);

	g_string_append_c(w->out, '[');
	for (guint i = 0; i < n; i++) {
		if (i > 0)
			g_string_append_c(w->out, ',');
		write_node(w, json_array_get_element(arr, i));
		writer_flush(w, EXM_JSON_HASH_CHUNK);
	}
	g_string_append_c(w->out, ']');
}
// NOLINTEND(misc-no-recursion)

/* A raw node's canonical text, as it is: fed to the hash directly, without
 * a copy in @w->out. */
static void
write_raw(ExmJsonWriter *w, const gchar *text)
{
	if (w->hash == NULL && w->piece == NULL) {
		g_string_append(w->out, text);
		return;
	}
	writer_flush(w, 0);
	if (w->hash != NULL)
		XXH3_64bits_update(w->hash, text, strlen(text));
	else
		writer_give(w, text, strlen(text));
}

static void
write_value(ExmJsonWriter *w, JsonNode *node)
{
	switch (json_node_get_value_type(node)) {
	case G_TYPE_INT64:
		g_string_append_printf(w->out, "%" G_GINT64_FORMAT, json_node_get_int(node));
		break;
	case G_TYPE_DOUBLE:
		write_double(w->out, json_node_get_double(node));
		break;
	case G_TYPE_BOOLEAN:
		g_string_append(w->out, json_node_get_boolean(node) ? "true" : "false");
		break;
	case G_TYPE_STRING:
		if (exm_json_node_is_raw(node))
			write_raw(w, exm_json_raw_text(node));
		else
			write_string(w, json_node_get_string(node));
		break;
	default:
		/* json-glib only stores the four types above in a value node. */
		g_string_append(w->out, "null");
		break;
	}
}

// NOLINTBEGIN(misc-no-recursion): a json-glib tree's depth: its parser recursed as deep first
static void
write_node(ExmJsonWriter *w, JsonNode *node)
{
	if (node == NULL) {
		g_string_append(w->out, "null");
		return;
	}
	switch (json_node_get_node_type(node)) {
	case JSON_NODE_OBJECT:
		write_object(w, json_node_get_object(node), NULL);
		break;
	case JSON_NODE_ARRAY:
		write_array(w, json_node_get_array(node));
		break;
	case JSON_NODE_VALUE:
		write_value(w, node);
		break;
	case JSON_NODE_NULL:
	default:
		g_string_append(w->out, "null");
		break;
	}
}
// NOLINTEND(misc-no-recursion)

/**
 * exm_json_canonical:
 * @node: a JSON tree
 *
 * Python's `json.dumps(obj, separators=(",", ":"), sort_keys=True)`.
 *
 * Returns: (transfer full): the canonical text
 */
gchar *
exm_json_canonical(JsonNode *node)
{
	ExmJsonWriter w = { g_string_new(NULL), TRUE };

	write_node(&w, node);
	return g_string_free(w.out, FALSE);
}

static gboolean
write_to(JsonNode *node, gboolean canonical, ExmJsonPieceFunc func, gpointer data, GError **error)
{
	ExmJsonWriter w = { g_string_new(NULL), canonical, NULL, func, data, NULL };

	write_node(&w, node);
	writer_flush(&w, 0);
	g_string_free(w.out, TRUE);
	if (w.piece_error != NULL) {
		g_propagate_error(error, w.piece_error);
		return FALSE;
	}
	return TRUE;
}

gboolean
exm_json_canonical_to(JsonNode *node, ExmJsonPieceFunc func, gpointer data, GError **error)
{
	return write_to(node, TRUE, func, data, error);
}

gboolean
exm_json_to_pieces(JsonNode *node, ExmJsonPieceFunc func, gpointer data, GError **error)
{
	return write_to(node, FALSE, func, data, error);
}

/**
 * exm_json_to_string:
 * @node: a JSON tree
 *
 * Compact JSON as the API answers: member order kept, UTF-8 raw, only `"`, `\`
 * and control characters escaped; numbers as in exm_json_canonical().
 *
 * Returns: (transfer full): the text
 */
gchar *
exm_json_to_string(JsonNode *node)
{
	GString *out = g_string_new(NULL);

	exm_json_append(out, node);
	return g_string_free(out, FALSE);
}

/**
 * exm_json_append:
 * @out: where to append
 * @node: a JSON tree
 *
 * Appends what exm_json_to_string() returns, without a text of its own: a
 * writer of several values needs one buffer, not one more per value.
 */
void
exm_json_append(GString *out, JsonNode *node)
{
	ExmJsonWriter w = { out, FALSE };

	write_node(&w, node);
}

/* The protocol's form of a hash: 16 lower-case hex digits. */
static gchar *
hash_hex(XXH64_hash_t h)
{
	return g_strdup_printf("%016" G_GINT64_MODIFIER "x", (guint64)h);
}

/**
 * exm_json_xxh3_hex:
 * @data: bytes
 * @len: their length
 *
 * Returns: (transfer full): XXH3-64 (seed 0) of @data as 16 lower-case hex digits
 */
gchar *
exm_json_xxh3_hex(gconstpointer data, gsize len)
{
	return hash_hex(XXH3_64bits(data, len));
}

/**
 * exm_json_hash:
 * @node: a JSON tree
 *
 * Returns: (transfer full): the protocol's `calculate_hash` of @node
 */
/* A canonical writer feeding XXH3 as it goes (without a state, out of
 * memory, the text is hashed whole at the end: the same hash). */
static ExmJsonWriter
hash_writer(void)
{
	ExmJsonWriter w = { g_string_new(NULL), TRUE, XXH3_createState() };

	if (w.hash != NULL)
		XXH3_64bits_reset(w.hash);
	return w;
}

static gchar *
hash_written(ExmJsonWriter *w)
{
	XXH64_hash_t h;

	if (w->hash != NULL) {
		writer_flush(w, 0);
		h = XXH3_64bits_digest(w->hash);
		XXH3_freeState(w->hash);
	} else {
		h = XXH3_64bits(w->out->str, w->out->len);
	}
	g_string_free(w->out, TRUE);
	return hash_hex(h);
}

gchar *
exm_json_hash(JsonNode *node)
{
	ExmJsonWriter w = hash_writer();

	write_node(&w, node);
	return hash_written(&w);
}

gchar *
exm_json_hash_members(JsonObject *obj, JsonObject *keys)
{
	ExmJsonWriter w = hash_writer();

	write_object(&w, obj, keys);
	return hash_written(&w);
}

JsonNode *
exm_json_parse_secret_copy(const gchar *data, gsize len, const gchar *const *names, GError **error)
{
	gchar *copy = g_memdup2(data, len);
	JsonNode *root = exm_json_parse_secret(copy, len, names, error);

	exm_secret_wipe(copy, len);
	g_free(copy);
	return root;
}

void
exm_json_wipe_members(JsonObject *obj, const gchar *const *names)
{
	for (guint i = 0; obj != NULL && names != NULL && names[i] != NULL; i++) {
		JsonNode *n = json_object_get_member(obj, names[i]);

		if (n != NULL && JSON_NODE_HOLDS_VALUE(n) &&
		    json_node_get_value_type(n) == G_TYPE_STRING) {
			gchar *v = (gchar *)json_node_get_string(n);
			exm_secret_wipe(v, strlen(v));
		}
	}
}

/* ---- raw values ------------------------------------------------------- */

/*
 * A raw node stands for a JSON object by its canonical text: a string node
 * whose text is RAW_PREFIX then exm_json_canonical()'s text of the object.
 * 0xFF never occurs in UTF-8, and every string a parse makes is checked as
 * UTF-8, so no input can make one.  At 100 000 accounts the tree of a
 * value's accounts is about 88 MB, their canonical text 14 MB
 * (docs/scale.md §3).
 */
#define RAW_PREFIX                                                                                 \
	"\xff"                                                                                     \
	"exm-raw:"

gboolean
exm_json_node_is_raw(JsonNode *node)
{
	const gchar *s;

	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
	    json_node_get_value_type(node) != G_TYPE_STRING)
		return FALSE;
	s = json_node_get_string(node);
	return s != NULL && g_str_has_prefix(s, RAW_PREFIX);
}

const gchar *
exm_json_raw_text(JsonNode *node)
{
	return exm_json_node_is_raw(node) ? json_node_get_string(node) + strlen(RAW_PREFIX) : NULL;
}

GString *
exm_json_raw_begin(gsize size)
{
	/* sized once: a text of 14 MB grown by doubling took about twice its
	 * size in fresh pages, each faulted in and copied (docs/scale.md §3) */
	GString *text = g_string_sized_new(strlen(RAW_PREFIX) + size + 1);

	g_string_append(text, RAW_PREFIX);
	return text;
}

JsonNode *
exm_json_raw_end(GString *text)
{
	JsonNode *node = json_node_init_string(json_node_alloc(), text->str);

	g_string_free(text, TRUE);
	return node;
}

void
exm_json_append_canonical(GString *out, JsonNode *node)
{
	ExmJsonWriter w = { out, TRUE, NULL };

	write_node(&w, node);
}

void
exm_json_append_canonical_string(GString *out, const gchar *s)
{
	ExmJsonWriter w = { out, TRUE, NULL };

	write_string(&w, s);
}

static gboolean
raw_same(JsonNode *a, JsonNode *b)
{
	g_autofree gchar *ca = exm_json_node_is_raw(a) ? NULL : exm_json_canonical(a);
	g_autofree gchar *cb = exm_json_node_is_raw(b) ? NULL : exm_json_canonical(b);

	return g_str_equal(ca != NULL ? ca : exm_json_raw_text(a),
			   cb != NULL ? cb : exm_json_raw_text(b));
}

static void
raw_member_clear(gpointer p)
{
	g_free(((ExmJsonRawMember *)p)->name);
}

static const gchar *canon_string_text(const guchar **pp, gsize *len, gchar **owned);
static void canon_skip(const guchar **pp);
static void canon_value(GString *out, const guchar **pp);

gboolean
exm_json_raw_object_foreach(const gchar *text, ExmJsonRawMemberFunc func, gpointer data)
{
	const guchar *p = (const guchar *)text;

	/* canonical text, made by this file or by a caller of
	 * exm_json_raw_begin() that promised it: walked, not checked again (the
	 * pre-scan of 14 MB was a tenth of a full iteration) */
	if (text == NULL || *p != '{')
		return FALSE;
	for (p++; *p != '}';) {
		gchar *owned = NULL;
		gsize nlen = 0;
		const gchar *name = canon_string_text(&p, &nlen, &owned);
		const gchar *value = (const gchar *)++p; /* past the : */
		gboolean more;

		canon_skip(&p);
		more = func(name, nlen, value, (gsize)((const gchar *)p - value), data);
		g_free(owned);
		if (!more)
			return FALSE;
		if (*p == ',')
			p++;
	}
	return TRUE;
}

static gboolean
raw_member_add(const gchar *name, gsize nlen, const gchar *value, gsize vlen, gpointer data)
{
	ExmJsonRawMember m = { g_strndup(name, nlen), value, vlen };

	g_array_append_val((GArray *)data, m);
	return TRUE;
}

GArray *
exm_json_raw_members(JsonNode *node)
{
	GArray *out = g_array_new(FALSE, FALSE, sizeof(ExmJsonRawMember));

	g_array_set_clear_func(out, raw_member_clear);
	if (!exm_json_raw_object_foreach(exm_json_raw_text(node), raw_member_add, out))
		g_clear_pointer(&out, g_array_unref);
	return out;
}

/* ---- canonical text from text, without a tree ---- */

/* A member met while an object is made canonical: where it starts (its
 * name's quote), its name (the text's bytes when it has no escape, else a
 * decoded copy, @owned) and where its value starts. */
typedef struct {
	const guchar *at;
	const gchar *name;
	const guchar *value;
	guint32 nlen;
	gboolean owned;
} CanonMember;

/* The pages of a large text's raw object given back as its members are
 * written, in whatever order they are written (sorted, or in the order a
 * PostgreSQL jsonb gives: by length first): each page counts the members
 * whose text lies on it and goes back once all of them are written; pages
 * freed one after another go back together (docs/scale.md §3). */
typedef struct {
	guchar *first; /* the page the object starts on */
	gsize page;
	guint npages;  /* the pages wholly before the object's end */
	guint32 *left; /* by page: its members not written yet */
	guchar *run;   /* freed, not given back yet: [run, run_end) */
	guchar *run_end;
} CanonRelease;

static gint
canon_member_cmp(gconstpointer a, gconstpointer b)
{
	const CanonMember *x = a, *y = b;
	gint c = memcmp(x->name, y->name, MIN(x->nlen, y->nlen));

	if (c == 0)
		c = x->nlen < y->nlen ? -1 : x->nlen > y->nlen;
	/* equal names: the later one last (a parse keeps the last one) */
	return c != 0 ? c : (x->value < y->value ? -1 : x->value > y->value);
}

static void
canon_ws(const guchar **pp)
{
	while (**pp == ' ' || **pp == '\t' || **pp == '\n' || **pp == '\r')
		(*pp)++;
}

/* Past the string at *@pp (its opening quote), escapes and all: from one
 * quote to the next (strchr() looks at many bytes at a time; a byte at a
 * time was a tenth of a change's CPU), the first one after an even run of
 * backslashes closing it.  The scanner saw the closing quote, so there is
 * one before the text's NUL. */
static void
canon_skip_string(const guchar **pp)
{
	const guchar *q = *pp;

	for (;;) {
		gsize backslashes = 0;

		/* a loop, not strchr(): a sanitizer's strict string checks would
		 * measure the rest of a 28 MB text at every string */
		do
			q++;
		while (*q != '"');
		/* the opening quote stops the count: it is no backslash */
		while (q[-1 - (gssize)backslashes] == '\\')
			backslashes++;
		if (backslashes % 2 == 0)
			break;
	}
	*pp = q + 1;
}

/* Past the value at *@pp, which the scanner accepted: a container by its
 * depth, nothing decoded or collected. */
static void
canon_skip(const guchar **pp)
{
	guint depth = 0;

	if (**pp != '{' && **pp != '[' && **pp != '"') {
		while (**pp != '\0' && strchr(",}] \t\n\r", **pp) == NULL)
			(*pp)++;
		return;
	}
	do {
		if (**pp == '"') {
			canon_skip_string(pp);
			continue;
		}
		if (**pp == '{' || **pp == '[')
			depth++;
		else if (**pp == '}' || **pp == ']')
			depth--;
		(*pp)++;
	} while (depth > 0);
}

/* The string at *@pp (its opening quote), *@pp left past it: its bytes
 * when it has no escape, else decoded into *@owned. */
static const gchar *
canon_string_text(const guchar **pp, gsize *len, gchar **owned)
{
	const guchar *from = *pp + 1;
	const guchar *end;
	gboolean escaped;

	canon_skip_string(pp);
	end = *pp - 1;
	escaped = memchr(from, '\\', (gsize)(end - from)) != NULL;
	*owned = escaped ? unescape(from, end) : NULL;
	*len = escaped ? strlen(*owned) : (gsize)(end - from);
	return escaped ? *owned : (const gchar *)from;
}

/* @s[@len] as exm_json_canonical() writes a string: printable ASCII
 * without `"` and `\\` as it is, anything else through write_string(). */
static void
canon_write_string(GString *out, const gchar *s, gsize len)
{
	ExmJsonWriter w = { out, TRUE, NULL };
	g_autofree gchar *copy = NULL;

	if (plain_run_len(s, len) == len) {
		g_string_append_c(out, '"');
		g_string_append_len(out, s, (gssize)len);
		g_string_append_c(out, '"');
		return;
	}
	copy = g_strndup(s, len);
	write_string(&w, copy);
}

/* A number at *@pp as build_number() types it and write_value() writes it. */
static void
canon_number(GString *out, const guchar **pp)
{
	const gchar *from = (const gchar *)*pp;
	gboolean is_int = TRUE;

	for (; **pp != '\0' && (g_ascii_isdigit(**pp) || strchr("-+.eE", **pp) != NULL); (*pp)++) {
		if (**pp == '.' || **pp == 'e' || **pp == 'E')
			is_int = FALSE;
	}
	if (is_int)
		g_string_append_printf(
			out, "%" G_GINT64_FORMAT, (gint64)g_ascii_strtoll(from, NULL, 10));
	else
		write_double(out, g_ascii_strtod(from, NULL));
}

/* The pages of @r the member text [@at, @end) lies on (those before the
 * object's last page), by index. */
static void
canon_release_pages(const CanonRelease *r,
		    const guchar *at,
		    const guchar *end,
		    guint *lo,
		    guint *hi)
{
	*lo = at > r->first ? (guint)((gsize)(at - r->first) / r->page) : 0;
	*hi = end > at && end > r->first ? (guint)((gsize)(end - 1 - r->first) / r->page) + 1 : *lo;
	*hi = MIN(*hi, r->npages);
}

static void
canon_release_flush(CanonRelease *r)
{
	if (r->run != r->run_end)
		(void)madvise(r->run, (gsize)(r->run_end - r->run), MADV_DONTNEED);
	r->run = r->run_end = NULL;
}

/* The member text [@at, @end) is written: its pages without another
 * member left go back, by runs of up to BUILD_RELEASE_STEP. */
static void
canon_release_member(CanonRelease *r, const guchar *at, const guchar *end)
{
	guint lo, hi;

	if (r == NULL)
		return;
	canon_release_pages(r, at, end, &lo, &hi);
	for (guint i = lo; i < hi; i++) {
		guchar *page = r->first + (gsize)i * r->page;

		if (--r->left[i] > 0)
			continue;
		if (page != r->run_end)
			canon_release_flush(r);
		if (r->run == NULL)
			r->run = page;
		r->run_end = page + r->page;
		if ((gsize)(r->run_end - r->run) >= BUILD_RELEASE_STEP)
			canon_release_flush(r);
	}
}

/* Past the white space and the comma after a member's value at *@pp: where
 * the next member starts, or the object's `}`. */
static void
canon_member_end(const guchar **pp)
{
	canon_ws(pp);
	if (**pp == ',') {
		(*pp)++;
		canon_ws(pp);
	}
}

/* The members of the object at *@pp (its `{`), *@pp left past it; in
 * @small while they fit, else in a new array (*@big); counted on their
 * pages in @r when set. */
static CanonMember *
canon_members(const guchar **pp,
	      CanonMember *small,
	      guint n_small,
	      GArray **big,
	      guint *n,
	      CanonRelease *r)
{
	*n = 0;
	*big = NULL;
	(*pp)++;
	canon_ws(pp);
	while (**pp != '}') {
		CanonMember m = { 0 };
		gchar *owned = NULL;
		gsize nlen;
		guint lo, hi;

		m.at = *pp;
		m.name = canon_string_text(pp, &nlen, &owned);
		m.nlen = (guint32)nlen;
		m.owned = owned != NULL;
		canon_ws(pp);
		(*pp)++; /* : */
		canon_ws(pp);
		m.value = *pp;
		canon_skip(pp);
		if (*n == n_small) {
			*big = g_array_sized_new(FALSE, FALSE, sizeof(CanonMember), 2 * n_small);
			g_array_append_vals(*big, small, n_small);
		}
		if (*big != NULL)
			g_array_append_val(*big, m);
		else
			small[*n] = m;
		(*n)++;
		canon_member_end(pp);
		if (r == NULL)
			continue;
		canon_release_pages(r, m.at, *pp, &lo, &hi);
		for (guint i = lo; i < hi; i++)
			r->left[i]++;
	}
	(*pp)++;
	return *big != NULL ? (CanonMember *)(gpointer)(*big)->data : small;
}

/* The object at *@pp, members sorted by name (the last of a name kept),
 * each value made canonical in turn; members already in order (a value
 * the agent wrote) are not sorted again (a jsonb's, by length first, are).  With
 * @release (a raw object of a large text being built), the text's pages go
 * back as their members are written: a 14 MB object of accounts and its
 * canonical text are not both held whole (docs/scale.md §3). */
// NOLINTBEGIN(misc-no-recursion): the scanner bounded the text's depth
static void
canon_object(GString *out, const guchar **pp, CanonRelease *release)
{
	CanonMember small[16];
	g_autoptr(GArray) big = NULL;
	guint n = 0;
	CanonMember *m = canon_members(pp, small, G_N_ELEMENTS(small), &big, &n, release);
	gboolean sorted = TRUE, first = TRUE;

	for (guint i = 1; i < n && sorted; i++)
		sorted = canon_member_cmp(&m[i - 1], &m[i]) < 0;
	if (!sorted)
		qsort(m, n, sizeof(*m), canon_member_cmp);
	g_string_append_c(out, '{');
	for (guint i = 0; i < n; i++) {
		const guchar *v = m[i].value;

		if (i + 1 < n && m[i].nlen == m[i + 1].nlen &&
		    memcmp(m[i].name, m[i + 1].name, m[i].nlen) == 0) {
			canon_skip(&v);
		} else {
			if (!first)
				g_string_append_c(out, ',');
			first = FALSE;
			canon_write_string(out, m[i].name, m[i].nlen);
			g_string_append_c(out, ':');
			canon_value(out, &v);
		}
		canon_member_end(&v);
		canon_release_member(release, m[i].at, v);
	}
	g_string_append_c(out, '}');
	for (guint i = 0; i < n; i++) {
		if (m[i].owned)
			g_free((gchar *)m[i].name);
	}
}

static void
canon_array(GString *out, const guchar **pp)
{
	gboolean first = TRUE;

	(*pp)++;
	canon_ws(pp);
	g_string_append_c(out, '[');
	while (**pp != ']') {
		if (!first)
			g_string_append_c(out, ',');
		first = FALSE;
		canon_value(out, pp);
		canon_ws(pp);
		if (**pp == ',') {
			(*pp)++;
			canon_ws(pp);
		}
	}
	(*pp)++;
	g_string_append_c(out, ']');
}

/* The value at *@pp, which the scanner accepted, written as
 * exm_json_canonical() writes its tree; *@pp is left past it. */
static void
canon_value(GString *out, const guchar **pp)
{
	const gchar *text;
	gchar *owned = NULL;
	gsize len;

	switch (**pp) {
	case '{':
		canon_object(out, pp, NULL);
		return;
	case '[':
		canon_array(out, pp);
		return;
	case '"':
		text = canon_string_text(pp, &len, &owned);
		canon_write_string(out, text, len);
		g_free(owned);
		return;
	case 't':
	case 'f':
	case 'n':
		len = **pp == 'f' ? 5 : 4;
		g_string_append_len(out, (const gchar *)*pp, (gssize)len);
		*pp += len;
		return;
	default:
		canon_number(out, pp);
		return;
	}
}
// NOLINTEND(misc-no-recursion)

/* The raw node of the object text at @data, which the scanner accepted
 * (and which is followed by a byte that ends a number, as in a whole text):
 * exm_json_canonical()'s text of its tree, made from the text itself; the
 * pages behind it given back as it goes when @b's text is large. */
static GString *
raw_text_from(ExmJsonBuild *b, const gchar *data, gsize len)
{
	GString *out = exm_json_raw_begin(len);
	const guchar *p = (const guchar *)data;
	const guchar *end = p + len;
	CanonRelease r = { 0 };

	if (b->released == NULL) {
		canon_object(out, &p, NULL);
		return out;
	}
	/* what lies before the object is behind the build: given back now, so
	 * the pages given back stay one range (build_free_text()) */
	build_release_at(b, p, 0);
	r.page = (gsize)sysconf(_SC_PAGESIZE);
	/* never before what may be given back (not malloc's header) */
	r.first = MAX((guchar *)((uintptr_t)p & ~(uintptr_t)(r.page - 1)), b->released);
	r.npages = end > r.first ? (guint)((gsize)(end - r.first) / r.page) : 0;
	r.left = g_new0(guint32, r.npages + 1);
	canon_object(out, &p, &r);
	canon_release_flush(&r);
	g_free(r.left);
	/* every page of the object before its last is given back (again: a
	 * page no member lies on, or those freed already, cost nothing) */
	build_release_at(b, end, 0);
	return out;
}

/* An object kept raw: checked by the pre-scan's scanner as build_skipped()
 * does, then made canonical from its text (left as it is: not decoded over). */
static JsonNode *
build_raw(ExmJsonBuild *b)
{
	ExmJsonScan s = { .p = b->p, .end = b->end, .start = b->start, .depth = b->nest };
	const guchar *from = b->p;
	RawPending pending;

	if (!scan_value(&s) || !scanned_is_utf8(b->p, (gsize)(s.p - b->p)))
		return NULL;
	b->p += s.p - b->p;
	pending.text = raw_text_from(b, (const gchar *)from, (gsize)(b->p - from));
	/* a string node for now, its text set once the text is freed
	 * (build_resolve()) */
	pending.node = json_node_init_string(json_node_alloc(), NULL);
	/* held: a repeated name drops the node from the tree */
	json_node_ref(pending.node);
	if (b->pending == NULL)
		b->pending = g_array_new(FALSE, FALSE, sizeof(RawPending));
	g_array_append_val(b->pending, pending);
	return pending.node;
}
