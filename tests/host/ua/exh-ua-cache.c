/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-ua-cache.h"

#include "exm-secret.h"

/* pointer-sized, so 64 bits where it matters: never wraps in practice */
static gsize generation;

struct _ExhUaCache {
	GHashTable *entries; /* agent uuid → ExhUaCacheEntry, all of table_gen */
	guint64 table_gen;
	gint listening; /* atomic */
};

void
exh_ua_cache_invalidate(void)
{
	(void)g_atomic_pointer_add(&generation, 1);
}

guint64
exh_ua_cache_generation(void)
{
	return (guint64)g_atomic_pointer_get(&generation);
}

ExhUaCacheEntry *
exh_ua_cache_entry_new(const gchar *node,
		       const gchar *hash,
		       const ExhUaNodeKey *key,
		       guint64 generation_at_start)
{
	ExhUaCacheEntry *entry = g_new0(ExhUaCacheEntry, 1);

	entry->node = g_strdup(node);
	entry->hash = g_strdup(hash);
	entry->key = *key;
	entry->generation = generation_at_start;
	return entry;
}

void
exh_ua_cache_entry_free(ExhUaCacheEntry *entry)
{
	if (entry == NULL)
		return;
	exm_secret_wipe(&entry->key, sizeof(entry->key));
	g_free(entry->node);
	g_free(entry->hash);
	g_free(entry);
}

ExhUaCache *
exh_ua_cache_new(void)
{
	ExhUaCache *cache = g_new0(ExhUaCache, 1);

	cache->entries = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)exh_ua_cache_entry_free);
	cache->table_gen = exh_ua_cache_generation();
	return cache;
}

void
exh_ua_cache_free(ExhUaCache *cache)
{
	if (cache == NULL)
		return;
	g_hash_table_unref(cache->entries);
	g_free(cache);
}

/* Off: stop serving first, then forget.  On: forget first (what was read
 * while nobody listened), then serve. */
void
exh_ua_cache_set_listening(ExhUaCache *cache, gboolean listening)
{
	if (!listening)
		g_atomic_int_set(&cache->listening, 0);
	exh_ua_cache_invalidate();
	if (listening)
		g_atomic_int_set(&cache->listening, 1);
}

/* Whether the cache may serve; drops the entries of an older generation
 * (their keys with them). */
static gboolean
cache_current(ExhUaCache *cache)
{
	guint64 now = exh_ua_cache_generation();

	if (cache->table_gen != now) {
		g_hash_table_remove_all(cache->entries);
		cache->table_gen = now;
	}
	return g_atomic_int_get(&cache->listening) != 0;
}

void
exh_ua_cache_put(ExhUaCache *cache, const gchar *agent, ExhUaCacheEntry *entry)
{
	g_autoptr(ExhUaCacheEntry) owned = entry;

	if (!cache_current(cache) || owned->generation != cache->table_gen)
		return;
	g_hash_table_replace(cache->entries, g_strdup(agent), g_steal_pointer(&owned));
}

gboolean
exh_ua_cache_lookup(ExhUaCache *cache,
		    const gchar *agent,
		    const gchar *node,
		    const gchar *hash,
		    ExhUaNodeKey *out)
{
	const ExhUaCacheEntry *entry;

	if (!cache_current(cache))
		return FALSE;
	entry = g_hash_table_lookup(cache->entries, agent);
	if (entry == NULL || g_strcmp0(entry->node, node) != 0 || g_strcmp0(entry->hash, hash) != 0)
		return FALSE;
	*out = entry->key;
	return TRUE;
}

guint
exh_ua_cache_size(ExhUaCache *cache)
{
	return g_hash_table_size(cache->entries);
}
