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

typedef struct {
	guint32 hash;
	guint32 pos;
} Slot;

struct _ExmCdbWriter {
	GByteArray *buf;
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

	/* grown (not touched) once: the pages are faulted in as they are written */
	if (want < G_MAXUINT32 / 2) {
		g_byte_array_set_size(w->buf, (guint)want);
		g_byte_array_set_size(w->buf, have);
	}
	g_array_set_size(w->entries, entries + records);
	g_array_set_size(w->entries, entries);
}

void
exm_cdb_writer_free(ExmCdbWriter *w)
{
	if (w == NULL)
		return;
	exm_secret_wipe(w->buf->data, w->buf->len);
	g_byte_array_unref(w->buf);
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

static gboolean
record_has_key(const ExmCdbWriter *w, guint32 pos, gconstpointer key, gsize klen)
{
	const guint8 *rec = w->buf->data + pos;

	return get32(rec) == klen && memcmp(rec + 8, key, klen) == 0;
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
		const Slot *e = &g_array_index(w->entries, Slot, w->index[s] - 1);

		if (e->hash == hash && record_has_key(w, e->pos, key, klen)) {
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

	if (w->index != NULL)
		index_probe(w, exm_cdb_hash(key, klen), key, klen, &found);
	return found;
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
	gboolean found;
	guint32 s;
	Slot e;

	/* the record and, at the end, its two table slots must stay addressable */
	if (klen > CDB_MAX || dlen > CDB_MAX ||
	    (guint64)w->buf->len + 8 + klen + dlen + 16ull * (w->entries->len + 1) > CDB_MAX)
		return too_large(error);
	e.hash = exm_cdb_hash(key, klen);
	e.pos = w->buf->len;
	put32(lens, (guint32)klen);
	put32(lens + 4, (guint32)dlen);
	g_byte_array_append(w->buf, lens, sizeof(lens));
	g_byte_array_append(w->buf, key, (guint)klen);
	g_byte_array_append(w->buf, data, (guint)dlen);
	index_grow(w);
	/* a later record of a key is stored, but a lookup finds the first */
	s = index_probe(w, e.hash, key, klen, &found);
	g_array_append_val(w->entries, e);
	if (!found)
		w->index[s] = w->entries->len;
	return TRUE;
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

/* Appends table @t (2 × @n slots) and records it in the header. */
static void
write_table(ExmCdbWriter *w, guint t, const Slot *mine, guint32 n, Slot *slots)
{
	guint32 nslots = 2 * n;
	guint32 pos = w->buf->len;
	guint8 pair[8];

	memset(slots, 0, sizeof(Slot) * MAX(nslots, 1));
	for (guint32 i = 0; i < n; i++) {
		guint32 s = (mine[i].hash / NTABLES) % nslots;

		while (slots[s].pos != 0)
			s = (s + 1) % nslots;
		slots[s] = mine[i];
	}
	for (guint32 s = 0; s < nslots; s++) {
		put32(pair, slots[s].hash);
		put32(pair + 4, slots[s].pos);
		g_byte_array_append(w->buf, pair, sizeof(pair));
	}
	put32(w->buf->data + 8 * t, pos);
	put32(w->buf->data + 8 * t + 4, nslots);
}

guint8 *
exm_cdb_writer_finish(ExmCdbWriter *w, gsize *len, GError **error)
{
	guint32 counts[NTABLES], starts[NTABLES], largest = 0;
	g_autofree Slot *grouped = NULL;
	g_autofree Slot *slots = NULL;
	guint8 *db;

	*len = 0;
	if ((guint64)w->buf->len + 16ull * w->entries->len > CDB_MAX) {
		too_large(error);
		return NULL;
	}
	grouped = group_by_table(w->entries, counts, starts);
	for (guint t = 0; t < NTABLES; t++)
		largest = MAX(largest, counts[t]);
	slots = g_new(Slot, MAX(2 * largest, 1));
	for (guint t = 0; t < NTABLES; t++)
		write_table(w, t, grouped + starts[t], counts[t], slots);
	g_array_set_size(w->entries, 0);
	g_clear_pointer(&w->index, g_free);
	w->index_bits = 0;
	db = g_byte_array_steal(w->buf, len);
	/* the writer starts again empty; the caller owns the file */
	g_byte_array_set_size(w->buf, HEADER);
	memset(w->buf->data, 0, HEADER);
	return db;
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
