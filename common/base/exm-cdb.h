/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The constant database format of D. J. Bernstein's cdb (which many programs
 * read with a built-in lookup): a 2048-byte header of 256 (position, slot
 * count) pairs, the records (`klen`, `dlen`, key, data), then 256 open-addressed
 * hash tables of (hash, record position) slots, twice as many slots as records
 * in each.  Every integer is 32-bit little-endian; the hash is
 * h = ((h << 5) + h) ^ byte from 5381; table h % 256, first slot (h >> 8) % n.
 * A lookup costs one or two reads whatever the number of records.
 *
 * The writer builds the whole file in memory (callers write it with
 * exm_atomic_write()), or hands it on as it is built to a sink, holding only
 * its index and a copy of the keys (a sink writes an ExmAtomicStream: a
 * file of 100 000 records is 15 MB, docs/scale.md §3).  The
 * reader works on a complete file in memory and
 * checks every offset against its length, so a truncated or hostile file
 * makes a lookup fail, never read out of bounds.
 */
#pragma once

#include <glib.h>

typedef struct _ExmCdbWriter ExmCdbWriter;

/* The header's size: the first byte of the first record is at this offset. */
#define EXM_CDB_HEADER_SIZE 2048u

/**
 * ExmCdbSink:
 * @append: the file's next bytes, in order from offset %EXM_CDB_HEADER_SIZE
 *   on (the records, then the tables)
 * @header: the header, last (it says where the tables are): the file's
 *   first %EXM_CDB_HEADER_SIZE bytes
 *
 * Where a streaming writer's file goes.  Either returns %FALSE with @error
 * set to stop the writer; the bytes are only valid during the call.
 */
typedef struct {
	gboolean (*append)(gconstpointer data, gsize len, gpointer sink_data, GError **error);
	gboolean (*header)(gconstpointer data, gsize len, gpointer sink_data, GError **error);
} ExmCdbSink;

/* Returns: (transfer full): an empty database */
ExmCdbWriter *exm_cdb_writer_new(void);

/* Returns: (transfer full): an empty database handed to @sink as it is
 * built (pieces of 64 KiB), to end with exm_cdb_writer_end(); it takes
 * everything but exm_cdb_writer_finish(), and exm_cdb_writer_contains()
 * only when @indexed: a copy of every key and an index of them kept (about
 * 5 MB at 100 000 records of 19-byte keys; docs/scale.md §3) */
ExmCdbWriter *exm_cdb_writer_new_streaming(const ExmCdbSink *sink,
					   gpointer sink_data,
					   gboolean indexed);

/* Room for about @records more records of @bytes of keys and data in all,
 * made once: a file of 15 MB grown by doubling was copied on the way and took
 * about twice its size in fresh pages (docs/scale.md §3).  Only a hint. */
void exm_cdb_writer_reserve(ExmCdbWriter *w, guint records, gsize bytes);

/* Wipes the content built so far (it may hold secrets) and frees @w. */
void exm_cdb_writer_free(ExmCdbWriter *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmCdbWriter, exm_cdb_writer_free)

/**
 * exm_cdb_writer_add:
 * @w: a writer not yet finished
 * @key: the key bytes
 * @klen: their length
 * @data: the data bytes
 * @dlen: their length
 * @error: %EXM_ERROR_FAILED when the file would pass the format's 4 GiB
 *
 * Adds a record.  A key may be added more than once; a lookup finds the
 * record added first (as cdbmake and its readers do).
 *
 * Returns: %TRUE on success
 */
gboolean exm_cdb_writer_add(ExmCdbWriter *w,
			    gconstpointer key,
			    gsize klen,
			    gconstpointer data,
			    gsize dlen,
			    GError **error);

/* Whether a record of @key was added since @w was made or last finished
 * (one probe of the writer's own index, whatever the number of records). */
gboolean exm_cdb_writer_contains(const ExmCdbWriter *w, gconstpointer key, gsize klen);

/* Records added so far. */
guint exm_cdb_writer_count(const ExmCdbWriter *w);

/**
 * exm_cdb_writer_finish:
 * @w: a writer built in memory; it is empty afterwards
 * @len: (out): the file's length
 * @error: %EXM_ERROR_FAILED when the tables would pass 4 GiB
 *
 * Returns: (transfer full): the complete file (free with exm_cdb_free())
 */
guint8 *exm_cdb_writer_finish(ExmCdbWriter *w, gsize *len, GError **error);

/* The tables and the header of a streaming writer to its sink: afterwards
 * the sink has had the whole file, of *@len bytes.  The writer takes
 * nothing more (free it); after a sink's error it takes nothing either. */
gboolean exm_cdb_writer_end(ExmCdbWriter *w, gsize *len, GError **error);

/* Wipes and frees a file from exm_cdb_writer_finish(). */
void exm_cdb_free(guint8 *db, gsize len);

/* The cdb hash of @key. */
guint32 exm_cdb_hash(gconstpointer key, gsize klen);

/**
 * exm_cdb_find:
 * @db: a complete file
 * @len: its length
 * @key: the key (compared byte for byte: cdb keys are case-sensitive)
 * @klen: its length
 * @data: (out) (transfer none): the data of the first record of @key, inside @db
 * @dlen: (out): its length
 *
 * Returns: %TRUE when found; %FALSE when absent or @db is malformed there
 */
gboolean exm_cdb_find(const guint8 *db,
		      gsize len,
		      gconstpointer key,
		      gsize klen,
		      const guint8 **data,
		      gsize *dlen);

/**
 * exm_cdb_next:
 * @db: a complete file
 * @len: its length
 * @pos: (inout): 0 to start; the cursor
 * @key: (out) (transfer none): the record's key inside @db
 * @klen: (out): its length
 * @data: (out) (transfer none): the record's data inside @db
 * @dlen: (out): its length
 * @error: %EXM_ERROR_PARSE when @db is not a well-formed cdb file
 *
 * The records in file order (the order they were added).
 *
 * Returns: %TRUE with a record; %FALSE at the end (@error unset) or on error
 */
gboolean exm_cdb_next(const guint8 *db,
		      gsize len,
		      gsize *pos,
		      const guint8 **key,
		      gsize *klen,
		      const guint8 **data,
		      gsize *dlen,
		      GError **error);
