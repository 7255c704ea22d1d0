/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Written from the published description of the cdb format (see exm-cdb.h);
 * no code of another implementation is used.
 */
#include "exm-cdb.h"

#include <string.h>

#include "exm-error.h"
#include "exm-secret.h"

#define HEADER	 2048u
#define NTABLES	 256u
#define CDB_MAX	 G_MAXUINT32
#define HASH_SET 5381u
/* a streaming writer hands its bytes on once it holds this many */
#define OUT_PIECE 65536u

G_STATIC_ASSERT(HEADER == EXM_CDB_HEADER_SIZE);

typedef struct {
	guint32 hash;
	guint32 pos;
} Slot;

struct _ExmCdbWriter {
	/* the whole file so far; a streaming writer's: what it has not handed
	 * to the sink yet (from offset @size - @buf->len) */
	GByteArray *buf;
	gsize size; /* the file's length so far, the header's 2048 bytes included */
	guint8 header[HEADER];
	/* streaming: where the bytes go, and unless @unindexed each key (32-bit
	 * length, bytes) at @keyat[entry] in @keys, for exm_cdb_writer_contains() */
	const ExmCdbSink *sink;
	gpointer sink_data;
	gboolean unindexed;
	GByteArray *keys;
	GArray *keyat;
	gboolean failed;
	GArray *entries; /* Slot, in the order the records were added */
	/* open-addressed index of each key's first record (entry number + 1; 0:
	 * empty), 2^@index_bits slots, at most half full: what
	 * exm_cdb_writer_contains() asks costs 4 bytes a slot instead of a
	 * caller's table of copied keys */
	guint32 *index;
	guint index_bits;
};

static void
put32(guint8 *p, guint32 v)
{
	p[0] = (guint8)(v & 0xff);
	p[1] = (guint8)((v >> 8) & 0xff);
	p[2] = (guint8)((v >> 16) & 0xff);
	p[3] = (guint8)((v >> 24) & 0xff);
}

static guint32
get32(const guint8 *p)
{
	return (guint32)p[0] | ((guint32)p[1] << 8) | ((guint32)p[2] << 16) | ((guint32)p[3] << 24);
}

guint32
exm_cdb_hash(gconstpointer key, gsize klen)
{
	const guint8 *k = key;
	guint32 h = HASH_SET;

	for (gsize i = 0; i < klen; i++)
		h = ((h << 5) + h) ^ k[i];
	return h;
}

ExmCdbWriter *
exm_cdb_writer_new(void)
{
	ExmCdbWriter *w = g_new0(ExmCdbWriter, 1);

	w->buf = g_byte_array_sized_new(HEADER);
	g_byte_array_set_size(w->buf, HEADER);
	memset(w->buf->data, 0, HEADER);
	w->size = HEADER;
	w->entries = g_array_new(FALSE, FALSE, sizeof(Slot));
	return w;
}

/**
 * exm_cdb_writer_new_streaming:
 * @sink: where the file goes (must outlive the writer)
 * @sink_data: its data
 *
 * See exm-cdb.h.
 *
 * Returns: (transfer full): an empty database
 */
ExmCdbWriter *
exm_cdb_writer_new_streaming(const ExmCdbSink *sink, gpointer sink_data, gboolean indexed)
{
	ExmCdbWriter *w = g_new0(ExmCdbWriter, 1);

	g_return_val_if_fail(sink != NULL && sink->append != NULL && sink->header != NULL, NULL);
	w->buf = g_byte_array_sized_new(OUT_PIECE + 1024);
	w->size = HEADER;
	w->sink = sink;
	w->sink_data = sink_data;
	w->unindexed = !indexed;
	if (indexed) {
		w->keys = g_byte_array_new();
		w->keyat = g_array_new(FALSE, FALSE, sizeof(guint32));
	}
	w->entries = g_array_new(FALSE, FALSE, sizeof(Slot));
	return w;
}

/**
 * exm_cdb_writer_reserve:
 * @w: a writer
 * @records: about how many records will be added
 * @bytes: about how many bytes they take (keys and data)
 *
 * See exm-cdb.h.
 */
void
exm_cdb_writer_reserve(ExmCdbWriter *w, guint records, gsize bytes)
{
	guint have = w->buf->len;
	guint entries = w->entries->len;
	gsize want = (gsize)have + 8 * (gsize)records + bytes;

	/* grown (not touched) once: the pages are faulted in as they are
	 * written; a streaming writer holds a piece of the file, not all of it */
	if (w->sink == NULL && want < G_MAXUINT32 / 2) {
		g_byte_array_set_size(w->buf, (guint)want);
		g_byte_array_set_size(w->buf, have);
	}
	g_array_set_size(w->entries, entries + records);
	g_array_set_size(w->entries, entries);
	if (w->keyat != NULL) {
		g_array_set_size(w->keyat, entries + records);
		g_array_set_size(w->keyat, entries);
	}
}

void
exm_cdb_writer_free(ExmCdbWriter *w)
{
	if (w == NULL)
		return;
	exm_secret_wipe(w->buf->data, w->buf->len);
	g_byte_array_unref(w->buf);
	if (w->keys != NULL) {
		exm_secret_wipe(w->keys->data, w->keys->len);
		g_byte_array_unref(w->keys);
		g_array_unref(w->keyat);
	}
	g_array_unref(w->entries);
	g_free(w->index);
	g_free(w);
}

guint
exm_cdb_writer_count(const ExmCdbWriter *w)
{
	return w->entries->len;
}

static gboolean
too_large(GError **error)
{
	g_set_error_literal(
		error, EXM_ERROR, EXM_ERROR_FAILED, "cdb: the database would pass 4 GiB");
	return FALSE;
}

/* The index slot @hash starts probing at: the multiplication spreads the
 * hash's bits, so keys that differ only in their first bytes do not pile
 * up in the low slots. */
static guint32
index_start(guint32 hash, guint bits)
{
	return (guint32)((hash * 0x9E3779B1u) >> (32 - bits));
}

/* Whether entry @i's key is @key: read from the record in memory, or from
 * the streaming writer's copy of the keys. */
static gboolean
entry_has_key(const ExmCdbWriter *w, guint32 i, gconstpointer key, gsize klen)
{
	const guint8 *k;
	gsize skip;

	if (w->keys != NULL) {
		k = w->keys->data + g_array_index(w->keyat, guint32, i);
		skip = 4;
	} else {
		k = w->buf->data + g_array_index(w->entries, Slot, i).pos;
		skip = 8; /* the record's key and data lengths */
	}
	return get32(k) == klen && memcmp(k + skip, key, klen) == 0;
}

/* The slot of the first record of @key, or the empty slot where it belongs
 * (*@found says which).  The index must exist. */
static guint32
index_probe(const ExmCdbWriter *w, guint32 hash, gconstpointer key, gsize klen, gboolean *found)
{
	guint32 mask = (1u << w->index_bits) - 1;
	guint32 s = index_start(hash, w->index_bits);

	*found = FALSE;
	for (; w->index[s] != 0; s = (s + 1) & mask) {
		guint32 i = w->index[s] - 1;

		if (g_array_index(w->entries, Slot, i).hash == hash &&
		    entry_has_key(w, i, key, klen)) {
			*found = TRUE;
			break;
		}
	}
	return s;
}

/* Makes room for one more key: the index doubles once half full. */
static void
index_grow(ExmCdbWriter *w)
{
	guint bits = MAX(w->index_bits + 1, 10u);
	guint32 mask = (1u << bits) - 1;
	guint32 *index;

	if (w->index != NULL && 2ull * (w->entries->len + 1) <= (1ull << w->index_bits))
		return;
	index = g_new0(guint32, (gsize)1 << bits);
	for (guint32 s = 0; w->index != NULL && s < (1u << w->index_bits); s++) {
		guint32 at;

		if (w->index[s] == 0)
			continue;
		at = index_start(g_array_index(w->entries, Slot, w->index[s] - 1).hash, bits);
		while (index[at] != 0)
			at = (at + 1) & mask;
		index[at] = w->index[s];
	}
	g_free(w->index);
	w->index = index;
	w->index_bits = bits;
}

gboolean
exm_cdb_writer_contains(const ExmCdbWriter *w, gconstpointer key, gsize klen)
{
	gboolean found = FALSE;

	g_return_val_if_fail(!w->unindexed, FALSE);
	if (w->index != NULL)
		index_probe(w, exm_cdb_hash(key, klen), key, klen, &found);
	return found;
}

/* Hands the bytes held on to the sink (streaming), wiped after. */
static gboolean
flush(ExmCdbWriter *w, GError **error)
{
	gboolean ok;

	if (w->buf->len == 0)
		return TRUE;
	ok = w->sink->append(w->buf->data, w->buf->len, w->sink_data, error);
	exm_secret_wipe(w->buf->data, w->buf->len);
	g_byte_array_set_size(w->buf, 0);
	w->failed = !ok;
	return ok;
}

/* The next @len bytes of the file. */
static gboolean
emit(ExmCdbWriter *w, gconstpointer data, gsize len, GError **error)
{
	g_byte_array_append(w->buf, data, (guint)len);
	w->size += len;
	return w->sink == NULL || w->buf->len < OUT_PIECE || flush(w, error);
}

/* A streaming writer's copy of a key, for entry_has_key(). */
static void
key_keep(ExmCdbWriter *w, gconstpointer key, gsize klen)
{
	guint32 at = w->keys->len;
	guint8 len[4];

	put32(len, (guint32)klen);
	g_byte_array_append(w->keys, len, sizeof(len));
	g_byte_array_append(w->keys, key, (guint)klen);
	g_array_append_val(w->keyat, at);
}

/* @e added, and indexed unless the writer is not: a later record of a key
 * is stored, but a lookup finds the first. */
static void
entry_add(ExmCdbWriter *w, Slot e, gconstpointer key, gsize klen)
{
	gboolean found;
	guint32 s;

	if (w->unindexed) {
		g_array_append_val(w->entries, e);
		return;
	}
	if (w->keys != NULL)
		key_keep(w, key, klen);
	index_grow(w);
	g_array_append_val(w->entries, e);
	s = index_probe(w, e.hash, key, klen, &found);
	if (!found)
		w->index[s] = w->entries->len;
}

gboolean
exm_cdb_writer_add(ExmCdbWriter *w,
		   gconstpointer key,
		   gsize klen,
		   gconstpointer data,
		   gsize dlen,
		   GError **error)
{
	guint8 lens[8];
	Slot e;

	g_return_val_if_fail(!w->failed, FALSE);
	/* the record and, at the end, its two table slots must stay addressable */
	if (klen > CDB_MAX || dlen > CDB_MAX ||
	    (guint64)w->size + 8 + klen + dlen + 16ull * (w->entries->len + 1) > CDB_MAX ||
	    (w->keys != NULL && (guint64)w->keys->len + 4 + klen > CDB_MAX))
		return too_large(error);
	e.hash = exm_cdb_hash(key, klen);
	e.pos = (guint32)w->size;
	put32(lens, (guint32)klen);
	put32(lens + 4, (guint32)dlen);
	entry_add(w, e, key, klen);
	return emit(w, lens, sizeof(lens), error) && emit(w, key, klen, error) &&
	       emit(w, data, dlen, error);
}

/* The entries grouped by table (a counting sort that keeps the order of
 * addition within a table, so the first record of a key is found first). */
static Slot *
group_by_table(GArray *entries, guint32 counts[NTABLES], guint32 starts[NTABLES])
{
	Slot *grouped = g_new(Slot, MAX(entries->len, 1));
	guint32 fill[NTABLES];
	guint32 at = 0;

	memset(counts, 0, NTABLES * sizeof(guint32));
	for (guint i = 0; i < entries->len; i++)
		counts[g_array_index(entries, Slot, i).hash % NTABLES]++;
	for (guint t = 0; t < NTABLES; t++) {
		starts[t] = at;
		fill[t] = at;
		at += counts[t];
	}
	for (guint i = 0; i < entries->len; i++) {
		Slot e = g_array_index(entries, Slot, i);
		grouped[fill[e.hash % NTABLES]++] = e;
	}
	return grouped;
}

/* Appends table @t (2 × @n slots, laid out in @slots, written from
 * @bytes) and records it in the header. */
static gboolean
write_table(ExmCdbWriter *w,
	    guint t,
	    const Slot *mine,
	    guint32 n,
	    Slot *slots,
	    guint8 *bytes,
	    GError **error)
{
	guint32 nslots = 2 * n;

	memset(slots, 0, sizeof(Slot) * MAX(nslots, 1));
	for (guint32 i = 0; i < n; i++) {
		guint32 s = (mine[i].hash / NTABLES) % nslots;

		while (slots[s].pos != 0)
			s = (s + 1) % nslots;
		slots[s] = mine[i];
	}
	for (guint32 s = 0; s < nslots; s++) {
		put32(bytes + 8 * (gsize)s, slots[s].hash);
		put32(bytes + 8 * (gsize)s + 4, slots[s].pos);
	}
	put32(w->header + 8 * t, (guint32)w->size);
	put32(w->header + 8 * t + 4, nslots);
	return emit(w, bytes, 8 * (gsize)nslots, error);
}

/* The 256 tables after the records, and the header that points at them. */
static gboolean
write_tables(ExmCdbWriter *w, GError **error)
{
	guint32 counts[NTABLES], starts[NTABLES], largest = 0;
	g_autofree Slot *grouped = NULL;
	g_autofree Slot *slots = NULL;
	g_autofree guint8 *bytes = NULL;

	if ((guint64)w->size + 16ull * w->entries->len > CDB_MAX)
		return too_large(error);
	grouped = group_by_table(w->entries, counts, starts);
	for (guint t = 0; t < NTABLES; t++)
		largest = MAX(largest, counts[t]);
	slots = g_new(Slot, MAX(2 * (gsize)largest, 1));
	bytes = g_new(guint8, MAX(16 * (gsize)largest, 1));
	for (guint t = 0; t < NTABLES; t++)
		if (!write_table(w, t, grouped + starts[t], counts[t], slots, bytes, error))
			return FALSE;
	return TRUE;
}

guint8 *
exm_cdb_writer_finish(ExmCdbWriter *w, gsize *len, GError **error)
{
	guint8 *db;

	*len = 0;
	g_return_val_if_fail(w->sink == NULL, NULL);
	if (!write_tables(w, error))
		return NULL;
	memcpy(w->buf->data, w->header, HEADER);
	g_array_set_size(w->entries, 0);
	g_clear_pointer(&w->index, g_free);
	w->index_bits = 0;
	db = g_byte_array_steal(w->buf, len);
	/* the writer starts again empty; the caller owns the file */
	g_byte_array_set_size(w->buf, HEADER);
	memset(w->buf->data, 0, HEADER);
	memset(w->header, 0, HEADER);
	w->size = HEADER;
	return db;
}

/**
 * exm_cdb_writer_end:
 * @w: a streaming writer; it takes nothing more
 * @len: (out): the file's length
 * @error: %EXM_ERROR_FAILED when the tables would pass 4 GiB, or the
 *   sink's error
 *
 * See exm-cdb.h.
 *
 * Returns: %TRUE once the sink has had the whole file
 */
gboolean
exm_cdb_writer_end(ExmCdbWriter *w, gsize *len, GError **error)
{
	*len = 0;
	g_return_val_if_fail(w->sink != NULL && !w->failed, FALSE);
	w->failed = TRUE; /* nothing more is taken */
	if (!write_tables(w, error) || !flush(w, error) ||
	    !w->sink->header(w->header, HEADER, w->sink_data, error))
		return FALSE;
	*len = w->size;
	return TRUE;
}

void
exm_cdb_free(guint8 *db, gsize len)
{
	if (db == NULL)
		return;
	exm_secret_wipe(db, len);
	g_free(db);
}

/* Is the record at @pos whole inside @len and keyed @key? */
static gboolean
record_is(const guint8 *db, gsize len, guint32 pos, gconstpointer key, gsize klen, gsize *dlen)
{
	guint32 kl, dl;

	if ((guint64)pos + 8 > len)
		return FALSE;
	kl = get32(db + pos);
	dl = get32(db + pos + 4);
	if ((guint64)pos + 8 + kl + dl > len || kl != klen)
		return FALSE;
	if (memcmp(db + pos + 8, key, klen) != 0)
		return FALSE;
	*dlen = dl;
	return TRUE;
}

gboolean
exm_cdb_find(const guint8 *db,
	     gsize len,
	     gconstpointer key,
	     gsize klen,
	     const guint8 **data,
	     gsize *dlen)
{
	guint32 h = exm_cdb_hash(key, klen);
	guint32 tpos, nslots, s;

	*data = NULL;
	*dlen = 0;
	if (db == NULL || len < HEADER)
		return FALSE;
	tpos = get32(db + 8 * (h % NTABLES));
	nslots = get32(db + 8 * (h % NTABLES) + 4);
	if (nslots == 0 || (guint64)tpos + 8ull * nslots > len)
		return FALSE;
	s = (h / NTABLES) % nslots;
	for (guint32 i = 0; i < nslots; i++) {
		const guint8 *slot = db + tpos + 8ull * s;
		guint32 pos = get32(slot + 4);

		if (pos == 0)
			return FALSE;
		if (get32(slot) == h && record_is(db, len, pos, key, klen, dlen)) {
			*data = db + pos + 8 + klen;
			return TRUE;
		}
		s = (s + 1) % nslots;
	}
	return FALSE;
}

/* Where the records end: the first table. */
static guint32
records_end(const guint8 *db)
{
	guint32 end = G_MAXUINT32;

	for (guint t = 0; t < NTABLES; t++)
		end = MIN(end, get32(db + 8 * t));
	return end;
}

static gboolean
malformed(GError **error, const gchar *what)
{
	g_set_error(error, EXM_ERROR, EXM_ERROR_PARSE, "cdb: malformed file (%s)", what);
	return FALSE;
}

gboolean
exm_cdb_next(const guint8 *db,
	     gsize len,
	     gsize *pos,
	     const guint8 **key,
	     gsize *klen,
	     const guint8 **data,
	     gsize *dlen,
	     GError **error)
{
	guint32 end, kl, dl;

	if (db == NULL || len < HEADER)
		return malformed(error, "shorter than its header");
	end = records_end(db);
	if (end < HEADER || end > len)
		return malformed(error, "a table outside the file");
	if (*pos < HEADER)
		*pos = HEADER;
	if (*pos >= end)
		return FALSE;
	if ((guint64)*pos + 8 > end)
		return malformed(error, "a truncated record");
	kl = get32(db + *pos);
	dl = get32(db + *pos + 4);
	if ((guint64)*pos + 8 + kl + dl > end)
		return malformed(error, "a truncated record");
	*key = db + *pos + 8;
	*klen = kl;
	*data = *key + kl;
	*dlen = dl;
	*pos += 8ull + kl + dl;
	return TRUE;
}
