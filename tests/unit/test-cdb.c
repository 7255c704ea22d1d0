/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The cdb writer and reader (common/base/exm-cdb.c) and the lsearch-to-cdb
 * conversion of the lookup files (common/mail/exm-mail-cdb.c).  exim's own
 * cdb lookup reads these files back in tests/dp/test-dp-cdb.c.
 */
#include <string.h>

#include "exm-cdb.h"
#include "exm-error.h"
#include "exm-mail-cdb.h"
#include "exm-mail-error.h"
#include "exm-test.h"

static guint8 *
build(const gchar *const *pairs, gsize *len)
{
	g_autoptr(ExmCdbWriter) w = exm_cdb_writer_new();
	g_autoptr(GError) error = NULL;
	guint8 *db;

	for (guint i = 0; pairs[i] != NULL; i += 2) {
		g_assert_true(exm_cdb_writer_add(
			w, pairs[i], strlen(pairs[i]), pairs[i + 1], strlen(pairs[i + 1]), &error));
		g_assert_no_error(error);
	}
	db = exm_cdb_writer_finish(w, len, &error);
	g_assert_no_error(error);
	g_assert_nonnull(db);
	return db;
}

/* The looked-up value as a string, %NULL when absent. */
static gchar *
find(const guint8 *db, gsize len, const gchar *key)
{
	const guint8 *data;
	gsize dlen;

	if (!exm_cdb_find(db, len, key, strlen(key), &data, &dlen))
		return NULL;
	return g_strndup((const gchar *)data, dlen);
}

/* Asserts the value of @key (%NULL: absent). */
static void
expect(const guint8 *db, gsize len, const gchar *key, const gchar *want)
{
	g_autofree gchar *got = find(db, len, key);

	g_assert_cmpstr(got, ==, want);
}

static guint32
le32(const guint8 *p)
{
	return (guint32)p[0] | ((guint32)p[1] << 8) | ((guint32)p[2] << 16) | ((guint32)p[3] << 24);
}

/* The published hash: 5381, then h = h * 33 ^ c, 32 bits. */
static void
test_hash(void)
{
	guint32 h = 5381;

	g_assert_cmpuint(exm_cdb_hash("", 0), ==, 5381);
	for (const gchar *p = "user@example.com"; *p != '\0'; p++)
		h = (h * 33) ^ (guint8)*p;
	g_assert_cmpuint(exm_cdb_hash("user@example.com", 16), ==, h);
}

/* Layout: header of 256 pairs, records from 2048 in order, then tables of
 * twice the records' slots, each slot pointing at a record of its hash. */
static void
test_layout(void)
{
	const gchar *pairs[] = { "a", "1", "bb", "22", "ccc", "", NULL };
	gsize len = 0;
	guint8 *db = build(pairs, &len);
	guint32 slots = 0;

	g_assert_cmpuint(le32(db + 2048), ==, 1);
	g_assert_cmpuint(le32(db + 2052), ==, 1);
	g_assert_cmpmem(db + 2056, 2, "a1", 2);
	g_assert_cmpuint(le32(db + 2058), ==, 2);
	for (guint t = 0; t < 256; t++) {
		guint32 pos = le32(db + 8 * t), n = le32(db + 8 * t + 4);

		g_assert_cmpuint(pos, >=, 2048 + 10 + 12 + 11);
		g_assert_cmpuint((guint64)pos + 8ull * n, <=, len);
		slots += n;
		for (guint s = 0; s < n; s++) {
			guint32 h = le32(db + pos + 8 * s), at = le32(db + pos + 8 * s + 4);
			if (at == 0)
				continue;
			g_assert_cmpuint(h % 256, ==, t);
			g_assert_cmpuint(exm_cdb_hash(db + at + 8, le32(db + at)), ==, h);
		}
	}
	g_assert_cmpuint(slots, ==, 6);
	g_assert_cmpuint(len, ==, 2048 + 10 + 12 + 11 + 6 * 8);
	exm_cdb_free(db, len);
}

static void
test_find(void)
{
	const gchar *pairs[] = { "alice@example.com",
				 "$6$x$y",
				 "Bob",
				 "b:c d",
				 "",
				 "empty-key",
				 "dup",
				 "first",
				 "dup",
				 "second",
				 NULL };
	gsize len = 0;
	guint8 *db = build(pairs, &len);
	g_autofree gchar *a = find(db, len, "alice@example.com");
	g_autofree gchar *b = find(db, len, "Bob");
	g_autofree gchar *e = find(db, len, "");
	g_autofree gchar *d = find(db, len, "dup");

	g_assert_cmpstr(a, ==, "$6$x$y");
	g_assert_cmpstr(b, ==, "b:c d");
	g_assert_cmpstr(e, ==, "empty-key");
	/* the record added first, as exim and cdbmake find it */
	g_assert_cmpstr(d, ==, "first");
	/* keys are bytes: no case folding, no prefix match */
	g_assert_null(find(db, len, "bob"));
	g_assert_null(find(db, len, "alice@example.co"));
	g_assert_null(find(db, len, "nobody"));
	exm_cdb_free(db, len);
}

/* Many keys, every one found; sizes where tables collide and wrap. */
static void
test_many(void)
{
	const guint sizes[] = { 0, 1, 2, 255, 256, 257, 20000 };

	for (guint s = 0; s < G_N_ELEMENTS(sizes); s++) {
		g_autoptr(ExmCdbWriter) w = exm_cdb_writer_new();
		g_autoptr(GError) error = NULL;
		gsize len = 0;
		guint8 *db;

		for (guint i = 0; i < sizes[s]; i++) {
			g_autofree gchar *k = g_strdup_printf("user%05u@example.com", i);
			g_autofree gchar *v = g_strdup_printf("v%u", i * 7);
			g_assert_true(exm_cdb_writer_add(w, k, strlen(k), v, strlen(v), NULL));
		}
		g_assert_cmpuint(exm_cdb_writer_count(w), ==, sizes[s]);
		db = exm_cdb_writer_finish(w, &len, &error);
		g_assert_no_error(error);
		for (guint i = 0; i < sizes[s]; i++) {
			g_autofree gchar *k = g_strdup_printf("user%05u@example.com", i);
			g_autofree gchar *want = g_strdup_printf("v%u", i * 7);
			g_autofree gchar *got = find(db, len, k);
			g_assert_cmpstr(got, ==, want);
		}
		g_assert_null(find(db, len, "user99999@example.com"));
		exm_cdb_free(db, len);
	}
}

/* Room reserved before (too much, too little, none) or between records
 * changes nothing in the file. */
static void
test_reserve(void)
{
	const gsize hints[][2] = { { 0, 0 }, { 10, 100 }, { 3000, 1u << 20 }, { 1, 1 } };
	g_autofree guint8 *want = NULL;
	gsize want_len = 0;

	for (guint h = 0; h < G_N_ELEMENTS(hints); h++) {
		g_autoptr(ExmCdbWriter) w = exm_cdb_writer_new();
		guint8 *db;
		gsize len = 0;

		exm_cdb_writer_reserve(w, (guint)hints[h][0], hints[h][1]);
		for (guint i = 0; i < 2000; i++) {
			g_autofree gchar *k = g_strdup_printf("u%05u@example.com", i);

			g_assert_true(exm_cdb_writer_add(w, k, strlen(k), "$6$x", 4, NULL));
			if (i == 1000)
				exm_cdb_writer_reserve(w, (guint)hints[h][0], hints[h][1]);
		}
		db = exm_cdb_writer_finish(w, &len, NULL);
		g_assert_nonnull(db);
		if (want == NULL) {
			want = db;
			want_len = len;
			continue;
		}
		g_assert_cmpmem(db, len, want, want_len);
		exm_cdb_free(db, len);
	}
}

/* The writer knows which keys it holds, through its index's growth, for
 * keys that differ only in their first byte or that share a cdb hash
 * * ("bC" and "cb" do), after a key is added twice and after finish. */
static void
test_contains(void)
{
	g_autoptr(ExmCdbWriter) w = exm_cdb_writer_new();
	g_autofree gchar *got = NULL;
	gsize len = 0;
	guint8 *db;

	g_assert_false(exm_cdb_writer_contains(w, "k", 1));
	g_assert_cmpuint(exm_cdb_hash("bC", 2), ==, exm_cdb_hash("cb", 2));
	g_assert_true(exm_cdb_writer_add(w, "bC", 2, "1", 1, NULL));
	g_assert_true(exm_cdb_writer_contains(w, "bC", 2));
	g_assert_false(exm_cdb_writer_contains(w, "cb", 2));
	g_assert_false(exm_cdb_writer_contains(w, "b", 1));
	g_assert_false(exm_cdb_writer_contains(w, "bCb", 3));
	g_assert_true(exm_cdb_writer_add(w, "cb", 2, "2", 1, NULL));
	g_assert_true(exm_cdb_writer_add(w, "bC", 2, "3", 1, NULL));
	g_assert_true(exm_cdb_writer_contains(w, "cb", 2));
	for (guint i = 0; i < 5000; i++) {
		g_autofree gchar *k = g_strdup_printf("%c%04u.example.com", 'a' + i % 26, i);

		g_assert_false(exm_cdb_writer_contains(w, k, strlen(k)));
		g_assert_true(exm_cdb_writer_add(w, k, strlen(k), "", 0, NULL));
	}
	for (guint i = 0; i < 5000; i++) {
		g_autofree gchar *k = g_strdup_printf("%c%04u.example.com", 'a' + i % 26, i);
		g_autofree gchar *other =
			g_strdup_printf("%c%04u.example.com", 'a' + (i + 1) % 26, i);

		g_assert_true(exm_cdb_writer_contains(w, k, strlen(k)));
		g_assert_false(exm_cdb_writer_contains(w, other, strlen(other)));
	}
	g_assert_true(exm_cdb_writer_contains(w, "bC", 2));
	g_assert_cmpuint(exm_cdb_writer_count(w), ==, 5003);
	db = exm_cdb_writer_finish(w, &len, NULL);
	g_assert_nonnull(db);
	got = find(db, len, "bC");
	g_assert_cmpstr(got, ==, "1");
	exm_cdb_free(db, len);
	g_assert_false(exm_cdb_writer_contains(w, "bC", 2));
	g_assert_true(exm_cdb_writer_add(w, "bC", 2, "4", 1, NULL));
	g_assert_true(exm_cdb_writer_contains(w, "bC", 2));
}

/* The records come back in the order they were added; a broken file is an
 * error, never a read outside it. */
static void
test_next_and_malformed(void)
{
	const gchar *pairs[] = { "k1", "v1", "k2", "", NULL };
	gsize len = 0, pos = 0, klen, dlen;
	guint8 *db = build(pairs, &len);
	const guint8 *k, *d;
	g_autoptr(GError) error = NULL;

	g_assert_true(exm_cdb_next(db, len, &pos, &k, &klen, &d, &dlen, &error));
	g_assert_cmpmem(k, klen, "k1", 2);
	g_assert_cmpmem(d, dlen, "v1", 2);
	g_assert_true(exm_cdb_next(db, len, &pos, &k, &klen, &d, &dlen, &error));
	g_assert_cmpmem(k, klen, "k2", 2);
	g_assert_cmpuint(dlen, ==, 0);
	g_assert_false(exm_cdb_next(db, len, &pos, &k, &klen, &d, &dlen, &error));
	g_assert_no_error(error);
	/* every truncation: lookups fail or succeed inside, iteration stops */
	for (gsize cut = 0; cut < len; cut++) {
		g_autoptr(GError) e = NULL;
		gsize p = 0;
		const guint8 *v;
		gsize vl;

		if (exm_cdb_find(db, cut, "k1", 2, &v, &vl))
			g_assert_cmpuint((gsize)(v - db) + vl, <=, cut);
		while (exm_cdb_next(db, cut, &p, &k, &klen, &d, &dlen, &e))
			g_assert_cmpuint((gsize)(d - db) + dlen, <=, cut);
		if (cut < 2048)
			g_assert_error(e, EXM_ERROR, EXM_ERROR_PARSE);
	}
	/* a record length pointing past the file */
	db[2048] = 0xff;
	db[2051] = 0x7f;
	pos = 0;
	g_assert_false(exm_cdb_next(db, len, &pos, &k, &klen, &d, &dlen, &error));
	g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE);
	g_assert_false(exm_cdb_find(db, len, "k1", 2, &d, &dlen));
	exm_cdb_free(db, len);
}

/* The writer is reusable after finish and an empty database is a bare header
 * of empty tables. */
static void
test_empty_and_reuse(void)
{
	g_autoptr(ExmCdbWriter) w = exm_cdb_writer_new();
	gsize len = 0;
	guint8 *db = exm_cdb_writer_finish(w, &len, NULL);
	g_autofree gchar *v = NULL;

	g_assert_cmpuint(len, ==, 2048);
	g_assert_null(find(db, len, ""));
	exm_cdb_free(db, len);
	g_assert_true(exm_cdb_writer_add(w, "k", 1, "v", 1, NULL));
	db = exm_cdb_writer_finish(w, &len, NULL);
	v = find(db, len, "k");
	g_assert_cmpstr(v, ==, "v");
	exm_cdb_free(db, len);
}

/* lsearch's reading: comments and blank lines skipped, key to ':' or white
 * space, one ':' and the white space around it skipped, trailing white space
 * dropped, keys lower-cased, the first line of a key wins. */
static void
test_from_lsearch(void)
{
	const gchar *text = "# a comment\n"
			    "\n"
			    "Alice@Example.COM:$6$salt$hash\n"
			    ".instance: mph=50 rpd=1000\n"
			    "bob@example.com : senders=*@example.com:b@example.com  \r\n"
			    "carol@example.com value after space\n"
			    "alice@example.com:later\n"
			    "dave@example.com:\n"
			    "last@example.com:no newline";
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	guint8 *db = exm_mail_cdb_from_lsearch(text, &len, &error);
	g_autofree gchar *round = NULL;

	g_assert_no_error(error);
	expect(db, len, "alice@example.com", "$6$salt$hash");
	expect(db, len, "Alice@Example.COM", NULL);
	expect(db, len, ".instance", "mph=50 rpd=1000");
	expect(db, len, "bob@example.com", "senders=*@example.com:b@example.com");
	expect(db, len, "carol@example.com", "value after space");
	expect(db, len, "dave@example.com", "");
	expect(db, len, "last@example.com", "no newline");
	round = exm_mail_cdb_to_lsearch(db, len, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(round,
			==,
			"alice@example.com:$6$salt$hash\n"
			".instance:mph=50 rpd=1000\n"
			"bob@example.com:senders=*@example.com:b@example.com\n"
			"carol@example.com:value after space\n"
			"dave@example.com:\n"
			"last@example.com:no newline\n");
	exm_cdb_free(db, len);
}

/* What the renderers never write is refused rather than guessed at. */
static void
test_from_lsearch_refuses(void)
{
	const gchar *bad[] = { "a@example.com:x\n  continued\n", "\"quoted key\": v\n" };

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		gsize len = 1;

		g_assert_null(exm_mail_cdb_from_lsearch(bad[i], &len, &error));
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_PARSE);
		g_assert_cmpuint(len, ==, 0);
	}
}

/* A record that would break an lsearch line is refused on the way back. */
static void
test_to_lsearch_refuses_breaks(void)
{
	const gchar *pairs[] = { "a@example.com", "x\nb@example.com:y", NULL };
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	guint8 *db = build(pairs, &len);

	g_assert_null(exm_mail_cdb_to_lsearch(db, len, &error));
	g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_PARSE);
	exm_cdb_free(db, len);
}

/* What a streaming writer handed on: the file put together, the pieces'
 * largest size, and a failure to inject after @fail_after pieces. */
typedef struct {
	GByteArray *file;
	gsize largest;
	guint pieces;
	guint fail_after;
	gboolean header_seen;
} Sunk;

static gboolean
sunk_append(gconstpointer bytes, gsize len, gpointer data, GError **error)
{
	Sunk *k = data;

	g_assert_false(k->header_seen);
	if (k->fail_after != 0 && k->pieces == k->fail_after) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOSPC, "injected");
		return FALSE;
	}
	k->pieces++;
	k->largest = MAX(k->largest, len);
	g_byte_array_append(k->file, bytes, (guint)len);
	return TRUE;
}

static gboolean
sunk_header(gconstpointer bytes, gsize len, gpointer data, GError **error)
{
	Sunk *k = data;

	(void)error;
	g_assert_cmpuint(len, ==, EXM_CDB_HEADER_SIZE);
	g_assert_cmpuint(k->file->len, >=, len);
	memcpy(k->file->data, bytes, len);
	k->header_seen = TRUE;
	return TRUE;
}

static const ExmCdbSink sunk_sink = { sunk_append, sunk_header };

/* @n records (every seventh key repeated), in memory and streamed, the
 * streaming writer @indexed (asked what it holds, as the one in memory) or
 * not. */
static void
streaming_matches(guint n, gboolean indexed)
{
	g_autoptr(ExmCdbWriter) mem = exm_cdb_writer_new();
	g_autoptr(ExmCdbWriter) w = NULL;
	g_autoptr(GError) error = NULL;
	Sunk k = { g_byte_array_new(), 0, 0, 0, FALSE };
	gsize len = 0, slen = 0;
	guint8 *db;

	g_byte_array_set_size(k.file, EXM_CDB_HEADER_SIZE);
	w = exm_cdb_writer_new_streaming(&sunk_sink, &k, indexed);
	exm_cdb_writer_reserve(w, n, 0);
	for (guint i = 0; i < n; i++) {
		g_autofree gchar *key =
			g_strdup_printf("user%u@example.com", i % 7 == 6 ? i - 1 : i);
		g_autofree gchar *value = g_strdup_printf("$6$salt$%u", i);

		if (indexed)
			g_assert_cmpint(exm_cdb_writer_contains(w, key, strlen(key)),
					==,
					exm_cdb_writer_contains(mem, key, strlen(key)));
		g_assert_true(
			exm_cdb_writer_add(mem, key, strlen(key), value, strlen(value), NULL));
		g_assert_true(
			exm_cdb_writer_add(w, key, strlen(key), value, strlen(value), &error));
		g_assert_no_error(error);
	}
	g_assert_cmpuint(exm_cdb_writer_count(w), ==, n);
	db = exm_cdb_writer_finish(mem, &len, &error);
	g_assert_no_error(error);
	g_assert_true(exm_cdb_writer_end(w, &slen, &error));
	g_assert_no_error(error);
	g_assert_true(k.header_seen);
	g_assert_cmpuint(slen, ==, len);
	g_assert_cmpmem(k.file->data, k.file->len, db, len);
	/* handed on a piece at a time, never the file whole */
	g_assert_cmpuint(k.largest, <, 65536 + 1024 + 16 * (gsize)n / 128 + 64);
	if (n >= 100000)
		g_assert_cmpuint(k.largest, <, len / 4);
	exm_cdb_free(db, len);
	g_byte_array_unref(k.file);
}

/* A streaming writer hands on the bytes the writer in memory builds, the
 * header last, indexed or not; an unindexed one is not asked what it holds. */
static void
test_streaming(void)
{
	Sunk k = { g_byte_array_new(), 0, 0, 0, FALSE };
	g_autoptr(ExmCdbWriter) w = exm_cdb_writer_new_streaming(&sunk_sink, &k, FALSE);

	for (guint indexed = 0; indexed < 2; indexed++) {
		streaming_matches(0, indexed);
		streaming_matches(1, indexed);
		streaming_matches(7, indexed);
		streaming_matches(100000, indexed);
	}
	if (g_test_undefined()) {
		g_test_expect_message("exm-base", G_LOG_LEVEL_CRITICAL, "*unindexed*");
		g_assert_false(exm_cdb_writer_contains(w, "k", 1));
		g_test_assert_expected_messages();
	}
	g_byte_array_unref(k.file);
}

/* A sink's error stops the writer: passed on, and nothing more taken. */
static void
test_streaming_sink_fails(void)
{
	g_autoptr(ExmCdbWriter) w = NULL;
	g_autoptr(GError) error = NULL;
	Sunk k = { g_byte_array_new(), 0, 0, 1, FALSE };
	gboolean ok = TRUE;
	gsize len = 0;
	guint i;

	g_byte_array_set_size(k.file, EXM_CDB_HEADER_SIZE);
	w = exm_cdb_writer_new_streaming(&sunk_sink, &k, FALSE);
	for (i = 0; ok && i < 100000; i++) {
		g_autofree gchar *key = g_strdup_printf("user%u@example.com", i);

		ok = exm_cdb_writer_add(w, key, strlen(key), "$6$salt$hash", 12, &error);
	}
	g_assert_false(ok);
	g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOSPC);
	g_assert_cmpuint(k.pieces, ==, 1);
	g_assert_cmpuint(i, <, 10000);
	if (g_test_undefined()) {
		g_test_expect_message("exm-base", G_LOG_LEVEL_CRITICAL, "*failed*");
		g_assert_false(exm_cdb_writer_end(w, &len, NULL));
		g_test_assert_expected_messages();
	}
	g_assert_false(k.header_seen);
	g_byte_array_unref(k.file);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/cdb/hash", test_hash);
	g_test_add_func("/cdb/layout", test_layout);
	g_test_add_func("/cdb/find", test_find);
	g_test_add_func("/cdb/many", test_many);
	g_test_add_func("/cdb/contains", test_contains);
	g_test_add_func("/cdb/reserve", test_reserve);
	g_test_add_func("/cdb/next-and-malformed", test_next_and_malformed);
	g_test_add_func("/cdb/empty-and-reuse", test_empty_and_reuse);
	g_test_add_func("/cdb/streaming", test_streaming);
	g_test_add_func("/cdb/streaming-sink-fails", test_streaming_sink_fails);
	g_test_add_func("/mail-cdb/from-lsearch", test_from_lsearch);
	g_test_add_func("/mail-cdb/from-lsearch-refuses", test_from_lsearch_refuses);
	g_test_add_func("/mail-cdb/to-lsearch-refuses-breaks", test_to_lsearch_refuses_breaks);
	return g_test_run();
}
