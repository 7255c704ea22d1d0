/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The infra backend interface of the reference host: what turns the infra
 * targets the builders emit (kinds `node_set` and `config`,
 * docs/agent-protocol.md §10) into machines and files, and reports the
 * actual NodeSet back.  Two implementations: `local` (this machine: node
 * sandboxes on loopback addresses, exh-local-backend.h) and `core` (Exordos
 * Core REST: `/v1/compute/sets/`, `/v1/config/configs/` and the
 * `get_private_keys` action, core/exh-core-backend.h).
 *
 * The contract is level-based and idempotent, so the engine can simply
 * re-apply its targets on every tick:
 *
 *   - apply_node_set() with an unchanged target does nothing; with a changed
 *     one it converges the set (replicas, cores, ram, disks, image);
 *   - apply_config() with unchanged content, owner, group and mode writes
 *     nothing and runs no on_change command;
 *   - delete_*() of something unknown succeeds;
 *   - get_node_set() is a snapshot of the actual state (no side effect).
 *
 * Every entry point is thread-safe and may be called from any thread (the
 * engine ticks on a worker).  Calls do not block on slow work (image
 * builds, configure runs, daemons starting): that happens in the background
 * and shows up in the actual status.  When the actual state of a set changes
 * the backend calls the notify function (see exh_infra_backend_set_notify())
 * so the engine can tick early instead of waiting for its next period.
 *
 * Ownership: a backend is an object of its own.  The host either creates
 * one from its config or borrows one a test (or the stand) made; a borrowed
 * backend outlives exh_host_stop(), which is how the e2e tests stop the
 * control plane while the nodes keep serving.
 *
 * Code: the dispatch and the status names in exh-infra.c, the node set
 * values in exh-node-set.c, the config target in exh-config-target.c.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/**
 * ExhInfraStatus:
 * @EXH_INFRA_STATUS_NEW: known, nothing done yet
 * @EXH_INFRA_STATUS_IN_PROGRESS: being built or converging
 * @EXH_INFRA_STATUS_ACTIVE: every node is up and serving
 * @EXH_INFRA_STATUS_ERROR: a node failed (see the @error message of the set)
 *
 * Statuses of an actual `node_set` or `config` (§10).
 */
typedef enum {
	EXH_INFRA_STATUS_NEW,
	EXH_INFRA_STATUS_IN_PROGRESS,
	EXH_INFRA_STATUS_ACTIVE,
	EXH_INFRA_STATUS_ERROR,
} ExhInfraStatus;

/* (transfer none): "NEW", "IN_PROGRESS", "ACTIVE" or "ERROR" */
const gchar *exh_infra_status_to_string(ExhInfraStatus status);

/* @out = the uuid member @name of a §10 value (%EXH_ERROR_CONFIG otherwise). */
gboolean exh_infra_json_uuid(JsonObject *obj, const gchar *name, gchar **out, GError **error);

/**
 * ExhInfraDisk:
 * @size: size in GB (> 0)
 * @label: (nullable): label (required on extra disks, unique in the set)
 * @image: (nullable): image URL (required on the first disk, the root disk)
 * @mount_point: (nullable): where the node mounts it
 * @fs: (nullable): file system to create
 *
 * One item of a `disk_spec` (§10).
 */
typedef struct {
	gint64 size;
	gchar *label;
	gchar *image;
	gchar *mount_point;
	gchar *fs;
} ExhInfraDisk;

/**
 * ExhNodeSetTarget:
 * @uuid: the set's uuid (a plugin's builder: typically its resource's uuid)
 * @name: its name, e.g. `<type>-dp-<uuid>`
 * @project_id: the owning project
 * @replicas: number of nodes (0..4096)
 * @cores: cores per node (1..4096)
 * @ram: RAM per node in MB
 * @disks: (element-type ExhInfraDisk): the disks of each node; the first is the
 *   root disk and carries the image (a `root_disk` spec becomes one item)
 *
 * The target fields of a `node_set` (§10) the backend acts on.
 */
typedef struct {
	gchar *uuid;
	gchar *name;
	gchar *project_id;
	guint replicas;
	guint cores;
	guint64 ram;
	GPtrArray *disks;
} ExhNodeSetTarget;

ExhNodeSetTarget *exh_node_set_target_new(void);
ExhNodeSetTarget *exh_node_set_target_copy(const ExhNodeSetTarget *src);
void exh_node_set_target_free(ExhNodeSetTarget *target);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhNodeSetTarget, exh_node_set_target_free)

/**
 * exh_node_set_target_from_json:
 * @value: a `node_set` target value of §10 (`uuid, name, replicas, cores,
 *   ram, project_id, disk_spec`, other members ignored)
 * @error: %EXH_ERROR_CONFIG naming the bad member
 *
 * Checks the §10 rules (ranges, first disk has an image, extra disks have
 * unique labels and not both `fs` and `image`).
 *
 * Returns: (transfer full): the target, or %NULL
 */
ExhNodeSetTarget *exh_node_set_target_from_json(JsonObject *value, GError **error);

/**
 * ExhConfigTarget:
 * @uuid: the config's uuid (a builder's: e.g. uuid5(resource, `config-<node>`))
 * @node: uuid of the node it lands on (`target: {kind: node, node: …}`)
 * @path: absolute path on the node (1..255 chars, no `..`)
 * @content: file content (`body: {kind: text, content: …}`)
 * @mode: permission bits (from the octal string, default 0600)
 * @owner: owner name (default `root`)
 * @group: group name (default `root`)
 * @on_change: (nullable): the shell command of `on_change: {kind: shell}`;
 *   %NULL for `no_action`.  Backends map it; the local one accepts only
 *   commands it knows (see exh-local-backend.h) and never runs a shell.
 * @name: (nullable): the config's name (Core keeps it; local ignores it)
 * @project_id: (nullable): the owning project (the host's infra project)
 *
 * The target fields of a `config` (§10) the backend acts on.
 */
typedef struct {
	gchar *uuid;
	gchar *node;
	gchar *path;
	gchar *content;
	guint mode;
	gchar *owner;
	gchar *group;
	gchar *on_change;
	gchar *name;
	gchar *project_id;
} ExhConfigTarget;

ExhConfigTarget *exh_config_target_new(void);
void exh_config_target_free(ExhConfigTarget *target);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhConfigTarget, exh_config_target_free)

/**
 * exh_config_target_from_json:
 * @value: a `config` target value of §10
 * @error: %EXH_ERROR_CONFIG naming the bad member
 *
 * Only `body.kind = text` and `target.kind = node` are supported.
 *
 * Returns: (transfer full): the target, or %NULL
 */
ExhConfigTarget *exh_config_target_from_json(JsonObject *value, GError **error);

/**
 * ExhInfraNode:
 * @uuid: the node's uuid; the DP agent on it is uuid5(@uuid, `<element>`)
 * @name: the node's name
 * @ipv4: (nullable): its address once it has one
 * @private_key: (nullable): the node's envelope key (44 chars of base64, the
 *   content of `ua_node_encryption_keys.private_key`, §6.1), as Core's
 *   `get_private_keys` action returns it
 *
 * One node of an actual set.
 */
typedef struct {
	gchar *uuid;
	gchar *name;
	gchar *ipv4;
	gchar *private_key;
} ExhInfraNode;

/**
 * ExhNodeSetActual:
 * @uuid: the set's uuid
 * @status: the aggregated status (ACTIVE only when every node is)
 * @error: (nullable): why the set is in ERROR (for logs; no secrets)
 * @target: (transfer full): the target it was last applied with
 * @nodes: (element-type ExhInfraNode): the nodes, in index order
 *
 * A snapshot of a set's actual state.
 */
typedef struct {
	gchar *uuid;
	ExhInfraStatus status;
	gchar *error;
	ExhNodeSetTarget *target;
	GPtrArray *nodes;
} ExhNodeSetActual;

ExhNodeSetActual *exh_node_set_actual_new(void);
void exh_node_set_actual_free(ExhNodeSetActual *actual);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhNodeSetActual, exh_node_set_actual_free)

/**
 * exh_node_set_actual_to_json:
 * @actual: a snapshot
 *
 * The actual `node_set` value in the §10 shape: the target fields (`uuid,
 * name, project_id, replicas, cores, ram, node_type: "VM", set_type: "SET",
 * disk_spec` as `{kind: disks, …}`), `status`, and `nodes` as
 * `{node_uuid: {uuid, name, ipv4}}`.  Keys are not included.
 *
 * Returns: (transfer full): an object node
 */
JsonNode *exh_node_set_actual_to_json(const ExhNodeSetActual *actual);

typedef struct _ExhInfraBackend ExhInfraBackend;

/**
 * ExhInfraBackendNotify:
 * @backend: the backend
 * @node_set: uuid of the set whose actual state changed
 * @user_data: user data
 *
 * Called on the #GMainContext given to exh_infra_backend_set_notify().
 */
typedef void (*ExhInfraBackendNotify)(ExhInfraBackend *backend,
				      const gchar *node_set,
				      gpointer user_data);

/**
 * ExhInfraBackendVTable:
 * @name: `local`, `core`, …
 * @apply_node_set: see exh_infra_backend_apply_node_set()
 * @delete_node_set: see exh_infra_backend_delete_node_set()
 * @get_node_set: see exh_infra_backend_get_node_set()
 * @apply_config: see exh_infra_backend_apply_config()
 * @delete_config: see exh_infra_backend_delete_config()
 * @get_config_status: see exh_infra_backend_get_config_status()
 * @shutdown: see exh_infra_backend_shutdown()
 * @free: frees the backend (after @shutdown)
 *
 * What an implementation provides.  Implementations embed #ExhInfraBackend as
 * their first member.
 */
typedef struct {
	const gchar *name;
	gboolean (*apply_node_set)(ExhInfraBackend *backend,
				   const ExhNodeSetTarget *target,
				   GError **error);
	gboolean (*delete_node_set)(ExhInfraBackend *backend, const gchar *uuid, GError **error);
	ExhNodeSetActual *(*get_node_set)(ExhInfraBackend *backend,
					  const gchar *uuid,
					  GError **error);
	gboolean (*apply_config)(ExhInfraBackend *backend,
				 const ExhConfigTarget *target,
				 GError **error);
	gboolean (*delete_config)(ExhInfraBackend *backend, const gchar *uuid, GError **error);
	gboolean (*get_config_status)(ExhInfraBackend *backend,
				      const gchar *uuid,
				      ExhInfraStatus *out_status,
				      GError **error);
	void (*shutdown)(ExhInfraBackend *backend);
	void (*free)(ExhInfraBackend *backend);
	gpointer reserved[8];
} ExhInfraBackendVTable;

/**
 * ExhInfraBackend:
 * @vtable: the implementation
 *
 * The base of every backend.  The notify fields are private.
 */
struct _ExhInfraBackend {
	const ExhInfraBackendVTable *vtable;
	/*< private >*/
	GMutex notify_lock;
	ExhInfraBackendNotify notify;
	gpointer notify_data;
	GDestroyNotify notify_destroy;
	GMainContext *notify_context;
};

/* For implementations: fills the base. */
void exh_infra_backend_init(ExhInfraBackend *backend, const ExhInfraBackendVTable *vtable);

/*
 * For implementations: schedules the notify function for @node_set on its
 * context (no-op without one).  Callable from any thread.
 *
 * An implementation must emit whenever what it answers changes on its own:
 * a set's actual state (with the set's uuid), or a config's status (with the
 * config's uuid, or the uuid of the set whose node the config is on).  The
 * engine polls only the targets that are not settled (not ACTIVE, refused);
 * a settled one is read again on a notification, when its target changes,
 * and on the engine's full pass (docs/scale.md §6).
 */
void exh_infra_backend_emit_changed(ExhInfraBackend *backend, const gchar *node_set);

/* (transfer none): the implementation's name */
const gchar *exh_infra_backend_get_name(ExhInfraBackend *backend);

/**
 * exh_infra_backend_set_notify:
 * @backend: a backend
 * @context: (nullable): where @notify runs; %NULL = the global default context
 * @notify: (nullable): called when a set's actual state changed; %NULL unsets
 * @user_data: its data
 * @destroy: (nullable): frees @user_data when replaced or at free
 *
 * The engine's hook.  Notifications are coalesced hints: the engine still
 * reads the state with exh_infra_backend_get_node_set() and
 * exh_infra_backend_get_config_status(); it reads a settled target only on
 * one (see exh_infra_backend_emit_changed()).
 * The hook is captured when a change is emitted: a notification already
 * queued on @context may still run after the hook is replaced, so @user_data
 * must outlive the iterations of @context that follow (stop the context
 * first, then free the backend and @user_data).
 */
void exh_infra_backend_set_notify(ExhInfraBackend *backend,
				  GMainContext *context,
				  ExhInfraBackendNotify notify,
				  gpointer user_data,
				  GDestroyNotify destroy);

/**
 * exh_infra_backend_apply_node_set:
 * @backend: a backend
 * @target: the desired set
 * @error: return location for a #GError
 *
 * Creates the set or converges it to @target (scaling replicas, resizing
 * nodes and disks, replacing the image).  Returns once the request is
 * accepted; progress shows in exh_infra_backend_get_node_set().  Idempotent.
 *
 * Returns: %FALSE when the request itself is refused (invalid target,
 * backend stopped); build failures are reported as status ERROR instead
 */
gboolean exh_infra_backend_apply_node_set(ExhInfraBackend *backend,
					  const ExhNodeSetTarget *target,
					  GError **error);

/**
 * exh_infra_backend_delete_node_set:
 * @backend: a backend
 * @uuid: the set
 * @error: return location for a #GError
 *
 * Removes the set, its nodes and every config on them.  Unknown @uuid
 * succeeds.  When it returns the set is no longer reported; the local
 * backend also has stopped the node processes and removed the sandboxes.
 *
 * Returns: %TRUE on success
 */
gboolean exh_infra_backend_delete_node_set(ExhInfraBackend *backend,
					   const gchar *uuid,
					   GError **error);

/**
 * exh_infra_backend_get_node_set:
 * @backend: a backend
 * @uuid: the set
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a snapshot of the set, or %NULL
 * without @error set when the set does not exist, %NULL with @error set on
 * failure (backend unreachable)
 */
ExhNodeSetActual *exh_infra_backend_get_node_set(ExhInfraBackend *backend,
						 const gchar *uuid,
						 GError **error);

/**
 * exh_infra_backend_apply_config:
 * @backend: a backend
 * @target: the desired file; its node must belong to an applied set
 * @error: return location for a #GError
 *
 * Writes the file on its node (owner, group and mode first, content
 * atomically) and runs the mapped @on_change action when anything changed.
 * Unchanged → nothing written, nothing run.
 *
 * Returns: %FALSE when the request is refused (unknown node, bad path,
 * unsupported on_change)
 */
gboolean exh_infra_backend_apply_config(ExhInfraBackend *backend,
					const ExhConfigTarget *target,
					GError **error);

/**
 * exh_infra_backend_delete_config:
 * @backend: a backend
 * @uuid: the config
 * @error: return location for a #GError
 *
 * Forgets the config (the file stays, as with Core's render driver, until its
 * node goes away).  Unknown @uuid succeeds.
 *
 * Returns: %TRUE on success
 */
gboolean exh_infra_backend_delete_config(ExhInfraBackend *backend,
					 const gchar *uuid,
					 GError **error);

/**
 * exh_infra_backend_get_config_status:
 * @backend: a backend
 * @uuid: the config
 * @out_status: (out): ACTIVE once written and its on_change succeeded, ERROR
 *   when that failed, IN_PROGRESS while it runs
 * @error: return location for a #GError
 *
 * Returns: %TRUE when the config is known (@out_status set), %FALSE without
 * @error when it is not, %FALSE with @error on failure
 */
gboolean exh_infra_backend_get_config_status(ExhInfraBackend *backend,
					     const gchar *uuid,
					     ExhInfraStatus *out_status,
					     GError **error);

/**
 * exh_infra_backend_shutdown:
 * @backend: a backend
 *
 * Stops whatever the backend runs on this machine (the local backend: every
 * node process; their sandboxes stay so a restarted host can adopt them).
 * Afterwards every call fails.  Idempotent; called by exh_infra_backend_free().
 */
void exh_infra_backend_shutdown(ExhInfraBackend *backend);

/* Shuts down and frees; %NULL-safe. */
void exh_infra_backend_free(ExhInfraBackend *backend);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhInfraBackend, exh_infra_backend_free)

G_END_DECLS
