/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The capability driver interface of the agent (docs/agent-protocol.md §8.1,
 * reduced to what the agent core needs).  A driver owns one or more kinds and
 * works on plain JSON values: the agent core computes hashes, statuses and
 * res_uuids, and decides what to create, update and delete (§7.4).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

typedef struct _ExmUaDriver ExmUaDriver;

/**
 * ExmUaDriver:
 * @name: driver name for logs and `caps_drivers`
 * @kinds: the capability kinds the driver manages (%NULL-terminated)
 * @list: the actual values of @kind on the data plane (each an object with a
 *   `uuid`); must read the real state, since the agent compares it with the
 *   targets every iteration. (transfer full) #GPtrArray of #JsonObject
 * @create: make @value (a target value) real; returns the resulting actual
 *   value (transfer full)
 * @update: bring the object of @value's uuid to @value; returns the resulting
 *   actual value (transfer full)
 * @remove: delete the object of @value's uuid (@value is its actual value);
 *   an object that is already gone is a success
 * @unchanged: (nullable): %TRUE when a @list of @kind now would return exactly
 *   the values the last @list returned (nothing was written or touched since),
 *   or values whose difference the driver reports later by design (a
 *   counter it holds a while: docs/agent-protocol.md §8.1); must cost little
 *   whatever the number of values.  The agent then skips an
 *   idle iteration without calling the driver, and updates a value a new
 *   target changed without listing first (docs/scale.md); %NULL: never
 * @keys_unchanged: (nullable): %TRUE when a @list of @kind now would return
 *   the values the last @list returned, but for members outside every
 *   target's keys (live members such as a driver's counters): the last
 *   listing's hashes on the targets' keys still hold; or, after a @create or
 *   @update, the values they answered (a driver that reads its result back
 *   as a listing would, and nothing touched since).  The agent then
 *   updates values a new target changed without listing first, whose results
 *   carry those members as they are now; %NULL: @unchanged decides
 * @start: (nullable): called once per iteration before any other call
 * @finish: (nullable): called once per iteration after the last call, also when
 *   one failed
 * @destroy: (nullable): frees @self
 * @self: the driver's data
 *
 * Every call that can fail sets a #GError and returns %NULL / %FALSE; the agent
 * then never deletes the kind's actual rows in the Status API in this iteration.
 * Values are shared, not copied: neither side modifies a value after handing it
 * over.  @destroy frees the whole driver, the #ExmUaDriver struct included.
 */
struct _ExmUaDriver {
	const gchar *name;
	const gchar *const *(*kinds)(ExmUaDriver *driver);
	GPtrArray *(*list)(ExmUaDriver *driver, const gchar *kind, GError **error);
	JsonObject *(*create)(ExmUaDriver *driver,
			      const gchar *kind,
			      JsonObject *value,
			      GError **error);
	JsonObject *(*update)(ExmUaDriver *driver,
			      const gchar *kind,
			      JsonObject *value,
			      GError **error);
	gboolean (*remove)(ExmUaDriver *driver,
			   const gchar *kind,
			   JsonObject *value,
			   GError **error);
	gboolean (*unchanged)(ExmUaDriver *driver, const gchar *kind);
	gboolean (*keys_unchanged)(ExmUaDriver *driver, const gchar *kind);
	void (*start)(ExmUaDriver *driver);
	void (*finish)(ExmUaDriver *driver);
	void (*destroy)(ExmUaDriver *driver);
	gpointer self;
};

/* Calls @destroy (if any), which frees the driver. */
void exm_ua_driver_free(ExmUaDriver *driver);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmUaDriver, exm_ua_driver_free)

/**
 * ExmUaDriverFactory:
 * @config_path: the agent's ini file (a driver reads its own group there)
 * @error: failure
 *
 * Returns: (transfer full): a new driver
 */
typedef ExmUaDriver *(*ExmUaDriverFactory)(const gchar *config_path, GError **error);
