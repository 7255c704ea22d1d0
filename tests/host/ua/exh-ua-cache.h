/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The light-poll cache of the Orch API (docs/scale.md §4): per agent, the
 * payload hash a get_payload computed and its node's key, so an unchanged
 * poll is answered on the listener's thread without the worker hop and
 * without database round trips.
 *
 * Soundness rests on one process-wide generation: every signal that already
 * wakes parked long polls bumps it (this process's API writes, the builder
 * tick's writes, another connection's NOTIFY of a payload table or of the
 * node keys), and an entry is kept only when nothing was bumped between the
 * start of the transaction that read it and its storing.  A cache serves
 * only while its owner says the NOTIFY connection is up
 * (exh_ua_cache_set_listening()): without it another process's writes
 * would go unseen.
 */
#pragma once

#include <glib.h>

#include "exh-ua-store.h"

G_BEGIN_DECLS

/* Forgets every entry of every cache of the process.  Any thread. */
void exh_ua_cache_invalidate(void);

/* The generation to capture before reading what an entry will hold.  Any thread. */
guint64 exh_ua_cache_generation(void);

/**
 * ExhUaCacheEntry:
 * @node: the node the agent belongs to
 * @hash: the payload hash of the agent
 * @key: the node's key (encryption required: nothing else is kept)
 * @generation: exh_ua_cache_generation() before the reads began
 */
typedef struct {
	gchar *node;
	gchar *hash;
	ExhUaNodeKey key;
	guint64 generation;
} ExhUaCacheEntry;

ExhUaCacheEntry *exh_ua_cache_entry_new(const gchar *node,
					const gchar *hash,
					const ExhUaNodeKey *key,
					guint64 generation);
/* Wipes the key and frees. */
void exh_ua_cache_entry_free(ExhUaCacheEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhUaCacheEntry, exh_ua_cache_entry_free)

/* A cache, used by one thread (its owner) but for set_listening(). */
typedef struct _ExhUaCache ExhUaCache;

ExhUaCache *exh_ua_cache_new(void);
void exh_ua_cache_free(ExhUaCache *cache);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhUaCache, exh_ua_cache_free)

/* Whether the NOTIFY connection that invalidates is up (off at first).  Any thread. */
void exh_ua_cache_set_listening(ExhUaCache *cache, gboolean listening);

/* Stores @entry (transfer full) for @agent, or drops it when it is stale. */
void exh_ua_cache_put(ExhUaCache *cache, const gchar *agent, ExhUaCacheEntry *entry);

/**
 * exh_ua_cache_lookup:
 * @cache: the cache
 * @agent: the agent of the request
 * @node: the calling node
 * @hash: the hash the agent holds
 * @out: (out): the node's key, on a hit
 *
 * Returns: %TRUE when @agent is @node's and its payload hash is still @hash
 */
gboolean exh_ua_cache_lookup(ExhUaCache *cache,
			     const gchar *agent,
			     const gchar *node,
			     const gchar *hash,
			     ExhUaNodeKey *out);

/* Entries held (for tests and the figures). */
guint exh_ua_cache_size(ExhUaCache *cache);

G_END_DECLS
