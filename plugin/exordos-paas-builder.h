/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

G_BEGIN_DECLS

/**
 * SECTION:exordos-paas-builder
 * @title: Exordos PaaS builders
 * @short_description: how a plugin turns its instances into universal-agent targets
 *
 * Added in ABI minor 1: #ExordosPaasPluginDescriptor.builders.
 *
 * A builder is the plugin half of a universal builder (docs/agent-protocol.md
 * §9).  The host's builder engine owns the resource tables
 * (`ua_target_resources`, `ua_actual_resources`, `ua_agents`,
 * `ua_node_encryption_keys`), the selection of new / updated / deleted /
 * outdated instances, the derivative diff, the target statuses and
 * `tracked_at`.  The plugin only:
 *
 * 1. loads the inputs of one instance from its own tables (@load),
 * 2. computes, with a pure function and no database access (@build), the
 *    instance's own target value, its derivative targets (with the agent of
 *    each), whether it is ready, and a patch of the instance row,
 * 3. applies that patch to its own tables (@apply), which the engine calls
 *    only when @build returned a non-%NULL patch.
 *
 * The engine runs each instance in its own SQL savepoint: a failing instance
 * rolls back alone and is retried on a later tick.  A tick in which nothing
 * changed writes no row; @build must therefore return a patch only when the
 * patch differs from what @load read.
 *
 * The engine moves the instance target's `tracked_at` to the row's
 * `updated_at` only after the whole instance succeeded (targets written,
 * patch applied); a builder that is not ready writes nothing and is asked
 * again on the next tick.  Derivatives with no agent whose kind is
 * `node_set` or `config` (docs/agent-protocol.md §10) are handed to the
 * host's infra backend, which reports their actual state back.
 *
 * Threading: the engine calls @load, @build and @apply from its own thread,
 * one instance at a time, while #ExordosPaasPluginDescriptor.rest_dispatch
 * may run on other threads; the usual rule applies (state only behind the
 * context, no mutable globals).
 *
 * JSON crosses the boundary as UTF-8 text (any valid JSON; the engine
 * canonicalises it before hashing).  Every string is borrowed for the
 * duration of the call.
 */

/**
 * ExordosPaasResource:
 * @kind: resource kind, e.g. `node_set`
 * @uuid: resource uuid (lower-case canonical)
 * @value: the value as JSON text
 * @status: the resource's status (`NEW`, `IN_PROGRESS`, `ACTIVE`, `ERROR`, …)
 * @hash: hash of the target fields (docs/agent-protocol.md §2.3)
 * @full_hash: hash of the whole value (`""` for a target not yet processed)
 * @agent: (nullable): for a target, the agent it is routed to, else %NULL
 * @reserved: for later use (%NULL)
 *
 * A target or an actual resource as the engine shows it to @build.
 */
typedef struct {
	const gchar *kind;
	const gchar *uuid;
	const gchar *value;
	const gchar *status;
	const gchar *hash;
	const gchar *full_hash;
	const gchar *agent;
	gpointer reserved[4];
} ExordosPaasResource;

/**
 * ExordosPaasResourcePair:
 * @target: (nullable): the target resource, %NULL when there is none
 * @actual: (nullable): the actual resource with the same `res_uuid`, %NULL
 *   when no agent (or backend) has reported it yet
 * @reserved: for later use (%NULL)
 *
 * One derivative as the engine sees it: what is wanted and what is there.
 */
typedef struct {
	const ExordosPaasResource *target;
	const ExordosPaasResource *actual;
	gpointer reserved[2];
} ExordosPaasResourcePair;

/**
 * ExordosPaasBuildView:
 * @struct_size: `sizeof (ExordosPaasBuildView)` as the host was compiled
 * @instance_uuid: the instance
 * @pairs: %NULL-terminated pairs of every derivative target whose `master` is
 *   the instance, of every builder of the plugin (so a layer can see the
 *   other's progress), ordered by kind then uuid
 * @reserved: for later use (%NULL)
 *
 * What the engine knows about one instance's resources.
 */
typedef struct {
	gsize struct_size;
	const gchar *instance_uuid;
	const ExordosPaasResourcePair *const *pairs;
	gpointer reserved[4];
} ExordosPaasBuildView;

/**
 * ExordosPaasBuildAddTargetFunc:
 * @sink: #ExordosPaasBuildSink.sink
 * @kind: derivative kind; one of #ExordosPaasBuilder.derivative_kinds
 * @uuid: derivative uuid; its `res_uuid` is uuid5(@uuid, @kind)
 * @value: (not nullable): the target value (= its target-field projection),
 *   JSON object text
 * @agent: (nullable): the agent the target is routed to (its row must exist
 *   in `ua_agents`; until it does the engine treats the instance as not
 *   ready), or %NULL for kinds the host's infra backend makes real
 * @status: (nullable): the status of a new or changed target (default `NEW`)
 *
 * Declares one wanted derivative.
 */
typedef void (*ExordosPaasBuildAddTargetFunc)(gpointer sink,
					      const gchar *kind,
					      const gchar *uuid,
					      const gchar *value,
					      const gchar *agent,
					      const gchar *status);

/**
 * ExordosPaasBuildSetInstanceFunc:
 * @sink: #ExordosPaasBuildSink.sink
 * @value: (not nullable): the instance target's value (its target fields),
 *   JSON object text
 * @status: (not nullable): the instance target's status (the instance's status)
 *
 * Declares the instance's own target (kind #ExordosPaasBuilder.kind).  A
 * build that does not call it keeps the previous value (`{}` for a new one).
 */
typedef void (*ExordosPaasBuildSetInstanceFunc)(gpointer sink,
						const gchar *value,
						const gchar *status);

/**
 * ExordosPaasBuildSetPatchFunc:
 * @sink: #ExordosPaasBuildSink.sink
 * @patch: (not nullable): JSON object text handed back to
 *   #ExordosPaasBuilder.apply unchanged (the plugin defines its members)
 *
 * Asks the engine to apply a change to the instance row after the targets
 * were written.  Call it only when something differs from the loaded input.
 */
typedef void (*ExordosPaasBuildSetPatchFunc)(gpointer sink, const gchar *patch);

/**
 * ExordosPaasBuildSetNotReadyFunc:
 * @sink: #ExordosPaasBuildSink.sink
 * @reason: (not nullable): why, for the debug log
 *
 * The instance's dependencies are not there yet: the engine writes nothing
 * for it, keeps `tracked_at`, and builds it again on a later tick.
 */
typedef void (*ExordosPaasBuildSetNotReadyFunc)(gpointer sink, const gchar *reason);

/**
 * ExordosPaasBuildSink:
 * @struct_size: `sizeof (ExordosPaasBuildSink)` as the host was compiled
 * @sink: opaque pointer passed back to every function
 * @add_target: see #ExordosPaasBuildAddTargetFunc
 * @set_instance: see #ExordosPaasBuildSetInstanceFunc
 * @set_patch: see #ExordosPaasBuildSetPatchFunc
 * @set_not_ready: see #ExordosPaasBuildSetNotReadyFunc
 * @reserved: for functions added later (%NULL)
 *
 * Where @build writes its result; the host copies every argument.
 */
typedef struct {
	gsize struct_size;
	gpointer sink;
	ExordosPaasBuildAddTargetFunc add_target;
	ExordosPaasBuildSetInstanceFunc set_instance;
	ExordosPaasBuildSetPatchFunc set_patch;
	ExordosPaasBuildSetNotReadyFunc set_not_ready;
	gpointer reserved[8];
} ExordosPaasBuildSink;

/**
 * ExordosPaasBuilderLoadFunc:
 * @ctx: the plugin context from init
 * @db: (transfer none): a connection inside the engine's transaction, at the
 *   instance's savepoint
 * @uuid: the instance
 * @out_input: (out) (transfer full): the plugin's input for @build, freed
 *   with #ExordosPaasBuilder.input_free; %NULL when the row does not exist
 * @out_error: (out) (transfer full): on failure, a lower-case message (g_free())
 *
 * Loads what @build needs from the plugin's own tables (and locks the row).
 *
 * Returns: %TRUE on success (also when the row is gone)
 */
typedef gboolean (*ExordosPaasBuilderLoadFunc)(gpointer ctx,
					       PGconn *db,
					       const gchar *uuid,
					       gpointer *out_input,
					       gchar **out_error);

/**
 * ExordosPaasBuilderBuildFunc:
 * @ctx: the plugin context
 * @input: what @load returned
 * @view: (transfer none): the instance's derivatives, targets and actuals
 * @sink: (transfer none): where to put the result
 * @out_error: (out) (transfer full): on failure, a lower-case message
 *
 * A pure function: no database, no I/O, the same output for the same input.
 *
 * Returns: %TRUE on success
 */
typedef gboolean (*ExordosPaasBuilderBuildFunc)(gpointer ctx,
						gconstpointer input,
						const ExordosPaasBuildView *view,
						const ExordosPaasBuildSink *sink,
						gchar **out_error);

/**
 * ExordosPaasBuilderApplyFunc:
 * @ctx: the plugin context
 * @db: (transfer none): the connection, at the instance's savepoint
 * @input: what @load returned
 * @patch: the JSON text @build gave to #ExordosPaasBuildSink.set_patch
 * @out_error: (out) (transfer full): on failure, a lower-case message
 *
 * Writes the patch to the instance row (bumping its `updated_at`, so the
 * other builders of the instance see the change).
 *
 * Returns: %TRUE on success
 */
typedef gboolean (*ExordosPaasBuilderApplyFunc)(gpointer ctx,
						PGconn *db,
						gconstpointer input,
						const gchar *patch,
						gchar **out_error);

/**
 * ExordosPaasBuilder:
 * @struct_size: `sizeof (ExordosPaasBuilder)` as the plugin was compiled
 * @kind: the kind of the instance's own target, e.g. `mail_instance_iaas`;
 *   two builders of one table use two kinds and so track independently
 * @table: the plugin table of the instances; it has columns `uuid` and
 *   `updated_at` (the engine reads nothing else)
 * @derivative_kinds: %NULL-terminated kinds this builder owns (the derivative
 *   diff touches only these)
 * @master_kind: (nullable): a derivative kind (of any builder) whose target
 *   with the instance's uuid is this builder's master: when that target's
 *   `full_hash` moves, the instance is rebuilt (docs/agent-protocol.md §9.3, outdated
 *   master full hash)
 * @load: see #ExordosPaasBuilderLoadFunc
 * @input_free: frees what @load returned
 * @build: see #ExordosPaasBuilderBuildFunc
 * @apply: see #ExordosPaasBuilderApplyFunc
 * @reserved: for later use (%NULL)
 *
 * One builder.  The engine runs the builders of a plugin in array order, each
 * over its new, deleted, updated (`updated_at` ≠ `tracked_at`), outdated
 * (a derivative's actual `full_hash` ≠ its target's) and master-outdated
 * instances.
 */
typedef struct {
	gsize struct_size;
	const gchar *kind;
	const gchar *table;
	const gchar *const *derivative_kinds;
	const gchar *master_kind;
	ExordosPaasBuilderLoadFunc load;
	GDestroyNotify input_free;
	ExordosPaasBuilderBuildFunc build;
	ExordosPaasBuilderApplyFunc apply;
	gpointer reserved[8];
} ExordosPaasBuilder;

/**
 * ExordosPaasBuilders:
 * @struct_size: `sizeof (ExordosPaasBuilders)` as the plugin was compiled
 * @builders: %NULL-terminated builders, in the order the engine runs them
 * @reserved: for later use (%NULL)
 *
 * #ExordosPaasPluginDescriptor.builders (ABI minor ≥ 1).  The host wakes
 * its engine early when a builder's @table changes (a statement trigger it
 * installs sends a PostgreSQL NOTIFY), so plugins need no notification code.
 */
typedef struct {
	gsize struct_size;
	const ExordosPaasBuilder *const *builders;
	gpointer reserved[4];
} ExordosPaasBuilders;

G_END_DECLS
