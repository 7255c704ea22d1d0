/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The local backend: its settings, its thread, and the backend operations.
 * Every operation runs on the backend's own thread (which owns the child
 * processes and their supervision); the public entry points marshal to it
 * and wait, so they are thread-safe and, for delete, return only once the
 * processes are gone.
 */
#include "exh-local-backend.h"

#include <errno.h>
#include <ftw.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "exh-host.h"
#include "exh-local-net.h"
#include "exh-local-node.h"
#include "exh-local-type.h"
#include "exm-config.h"
#include "exm-uuid.h"

#define MAX_NODES 254

typedef struct {
	gchar *uuid;
	gchar *dir;
	ExhNodeSetTarget *target;
	GPtrArray *nodes; /* ExhLocalNode*, index order */
	gboolean deleting;
} LocalSet;

typedef struct _Call Call;

typedef struct {
	ExhInfraBackend parent;
	ExhLocalConfig *config;
	ExhLocalEnv env;
	ExhLocalNet *net;

	GMutex lock; /* shut, in_flight */
	GCond idle;
	gboolean shut;
	guint in_flight;

	GThread *thread;
	GMainContext *context;
	GMainLoop *loop;

	/* the backend thread's */
	GHashTable *sets;     /* uuid -> LocalSet* */
	GHashTable *nodes;    /* node uuid -> ExhLocalNode* (owned by its set) */
	GHashTable *configs;  /* config uuid -> node uuid */
	GHashTable *index_of; /* node uuid -> GUINT_TO_POINTER(N) */
	gboolean used[MAX_NODES + 1];
	guint stopping; /* nodes whose children are being stopped */
	Call *shutdown_call;
} ExhLocalBackend;

/* ---- the type's binaries and ports ------------------------------------------ */

/* The override, else the build tree's, else PATH's, else the installed one. */
static gboolean
resolve_binary(const ExhLocalTypeBinary *b, const gchar *override, gchar **out, GError **error)
{
	g_autofree gchar *built = NULL;

	*out = NULL;
	if (override != NULL && (override[0] != '\0' || b->optional)) {
		*out = override[0] != '\0' ? g_strdup(override) : NULL;
		return TRUE;
	}
	if (b->build != NULL) {
		built = g_build_filename(EXM_BUILD_ROOT, b->build, NULL);
		if (g_file_test(built, G_FILE_TEST_IS_EXECUTABLE)) {
			*out = g_steal_pointer(&built);
			return TRUE;
		}
	}
	if (b->program != NULL)
		*out = g_find_program_in_path(b->program);
	if (*out == NULL && b->installed != NULL)
		*out = g_strdup(b->installed);
	if (*out == NULL)
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "%s(1) not found",
			    b->program != NULL ? b->program : b->name);
	return *out != NULL;
}

static gboolean
resolve_binaries(ExhLocalBackend *self, GError **error)
{
	ExhLocalEnv *env = &self->env;
	GPtrArray *binaries = env->type->binaries;

	for (guint i = 0; i < binaries->len; i++) {
		const ExhLocalTypeBinary *b = g_ptr_array_index(binaries, i);
		gchar *path = NULL;

		if (!resolve_binary(b, exh_local_config_get(self->config, b->name), &path, error))
			return FALSE;
		if (path != NULL)
			g_hash_table_insert(env->vars, g_strconcat("bin:", b->name, NULL), path);
	}
	return TRUE;
}

/* The job and the service must run; the agent does not when turned off. */
static gboolean
check_children(ExhLocalEnv *env, GError **error)
{
	const ExhLocalTypeChild *children = env->type->children;

	for (guint r = 0; r < EXH_LOCAL_ROLE_AGENT; r++) {
		if (!exh_local_type_has_values(children[r].argv, env->vars)) {
			g_set_error(error,
				    EXH_ERROR,
				    EXH_ERROR_CONFIG,
				    "%s: %s: a binary or setting its argv names has no value",
				    env->type->path,
				    children[r].name);
			return FALSE;
		}
	}
	env->has_agent = exh_local_type_has_values(children[EXH_LOCAL_ROLE_AGENT].argv, env->vars);
	return TRUE;
}

static gboolean
resolve_env(ExhLocalBackend *self, GError **error)
{
	ExhLocalConfig *c = self->config;
	ExhLocalEnv *env = &self->env;
	GPtrArray *ports;

	env->config = c;
	env->vars = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	env->ports = g_array_new(FALSE, TRUE, sizeof(guint));
	if ((env->type = exh_local_type_load(c->node_descriptor, error)) == NULL ||
	    !resolve_binaries(self, error))
		return FALSE;
	ports = env->type->ports;
	for (guint i = 0; i < ports->len; i++) {
		const ExhLocalTypePort *p = g_ptr_array_index(ports, i);
		guint port = c->port_base != 0 ? c->port_base + i : p->port;

		if (port > 65535) {
			g_set_error(error,
				    EXH_ERROR,
				    EXH_ERROR_CONFIG,
				    "[local] port_base %u leaves no room for port %s",
				    c->port_base,
				    p->name);
			return FALSE;
		}
		g_array_append_val(env->ports, port);
		g_hash_table_insert(env->vars,
				    g_strconcat("port:", p->name, NULL),
				    g_strdup_printf("%u", port));
	}
	for (guint i = 0; env->type->settings != NULL && env->type->settings[i] != NULL; i++) {
		const gchar *value = exh_local_config_get(c, env->type->settings[i]);

		if (value != NULL)
			g_hash_table_insert(env->vars,
					    g_strconcat("set:", env->type->settings[i], NULL),
					    g_strdup(value));
	}
	return check_children(env, error);
}

static void
env_clear(ExhLocalEnv *env)
{
	g_clear_pointer(&env->type, exh_local_type_free);
	g_clear_pointer(&env->vars, g_hash_table_unref);
	g_clear_pointer(&env->ports, g_array_unref);
}

/* ---- calls onto the backend thread ------------------------------------------ */

typedef void (*CallFunc)(ExhLocalBackend *self, Call *call);

struct _Call {
	ExhLocalBackend *self;
	CallFunc func;
	gconstpointer in;
	const gchar *uuid;
	gboolean flag;
	gpointer out;
	gboolean ok;
	GError *error;
	GMutex lock;
	GCond cond;
	gboolean done;
};

static void
call_done(Call *call, gboolean ok)
{
	g_mutex_lock(&call->lock);
	call->ok = ok;
	call->done = TRUE;
	g_cond_signal(&call->cond);
	g_mutex_unlock(&call->lock);
}

static gboolean
call_dispatch(gpointer data)
{
	Call *call = data;

	call->func(call->self, call);
	return G_SOURCE_REMOVE;
}

static gboolean
call_enter(ExhLocalBackend *self, GError **error)
{
	gboolean ok;

	g_mutex_lock(&self->lock);
	ok = !self->shut;
	if (ok)
		self->in_flight++;
	g_mutex_unlock(&self->lock);
	if (!ok)
		g_set_error(error, EXH_ERROR, EXH_ERROR_FAILED, "local backend: shut down");
	return ok;
}

static void
call_leave(ExhLocalBackend *self)
{
	g_mutex_lock(&self->lock);
	if (--self->in_flight == 0)
		g_cond_broadcast(&self->idle);
	g_mutex_unlock(&self->lock);
}

/* Runs @func on the backend thread and waits until it called call_done(). */
static void
call_run(ExhLocalBackend *self, Call *call)
{
	call->self = self;
	g_mutex_init(&call->lock);
	g_cond_init(&call->cond);
	g_main_context_invoke(self->context, call_dispatch, call);
	g_mutex_lock(&call->lock);
	while (!call->done)
		g_cond_wait(&call->cond, &call->lock);
	g_mutex_unlock(&call->lock);
	g_mutex_clear(&call->lock);
	g_cond_clear(&call->cond);
}

/* call_enter + call_run + call_leave; the error is moved to @error. */
static gboolean
call_sync(ExhLocalBackend *self, Call *call, GError **error)
{
	if (!call_enter(self, error))
		return FALSE;
	call_run(self, call);
	call_leave(self);
	if (call->error != NULL)
		g_propagate_error(error, call->error);
	return call->ok;
}

/* ---- sets -------------------------------------------------------------------- */

static void
node_changed(ExhLocalNode *node, gpointer data)
{
	ExhLocalBackend *self = data;

	exh_infra_backend_emit_changed(&self->parent, exh_local_node_get_set_uuid(node));
}

static gboolean
take_index(ExhLocalBackend *self, guint *out, GError **error)
{
	for (guint n = 1; n <= MAX_NODES; n++) {
		if (!self->used[n]) {
			self->used[n] = TRUE;
			*out = n;
			return TRUE;
		}
	}
	g_set_error(error, EXH_ERROR, EXH_ERROR_FAILED, "local backend: no free node address");
	return FALSE;
}

static gboolean
add_node(ExhLocalBackend *self, LocalSet *set, guint i, GError **error)
{
	g_autofree gchar *label = g_strdup_printf("node-%u", i);
	g_autofree gchar *uuid = exm_uuid_v5(set->uuid, label, error);
	g_autofree gchar *name = NULL;
	g_autofree gchar *ipv4 = NULL;
	ExhLocalNode *node;
	guint n = 0;

	if (uuid == NULL || !take_index(self, &n, error))
		return FALSE;
	ipv4 = exh_local_net_address(self->net, n);
	name = g_strdup_printf(
		"%s-%u", set->target->name != NULL ? set->target->name : set->uuid, i);
	node = exh_local_node_new(&self->env, set->dir, set->uuid, uuid, name, ipv4, error);
	if (node == NULL) {
		self->used[n] = FALSE;
		return FALSE;
	}
	g_ptr_array_add(set->nodes, node);
	g_hash_table_insert(self->nodes, g_strdup(uuid), node);
	g_hash_table_insert(self->index_of, g_strdup(uuid), GUINT_TO_POINTER(n));
	return TRUE;
}

/* Drops every trace of @node from the tables (configs included). */
static void
forget_node(ExhLocalBackend *self, ExhLocalNode *node)
{
	const gchar *uuid = exh_local_node_get_uuid(node);
	GHashTableIter iter;
	gpointer key, value;

	self->used[GPOINTER_TO_UINT(g_hash_table_lookup(self->index_of, uuid))] = FALSE;
	g_hash_table_iter_init(&iter, self->configs);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		if (g_str_equal(value, uuid))
			g_hash_table_iter_remove(&iter);
	}
	g_hash_table_remove(self->index_of, uuid);
	g_hash_table_remove(self->nodes, uuid);
}

/*
 * A batch of node stops: when the last node is gone, @rm_dir (the set's
 * directory) is removed and @call completed.
 */
typedef struct {
	guint pending;
	gchar *rm_dir;
	Call *call;
} Batch;

typedef struct {
	ExhLocalBackend *self;
	gboolean remove;
	Batch *batch;
} NodeStop;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP ? rmdir(path) != 0 : unlink(path) != 0)
		g_warning("remove %s: %s", path, g_strerror(errno));
	return 0;
}

/* rm -rf without following symlinks (a node may have made some). */
static void
rmtree(const gchar *path)
{
	if (g_file_test(path, G_FILE_TEST_EXISTS))
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
maybe_finish_shutdown(ExhLocalBackend *self)
{
	Call *call = self->shutdown_call;

	if (call == NULL || self->stopping > 0)
		return;
	self->shutdown_call = NULL;
	g_main_loop_quit(self->loop);
	call_done(call, TRUE);
}

static void
batch_step(Batch *batch)
{
	if (batch == NULL || --batch->pending > 0)
		return;
	if (batch->rm_dir != NULL)
		rmtree(batch->rm_dir);
	if (batch->call != NULL)
		call_done(batch->call, TRUE);
	g_free(batch->rm_dir);
	g_free(batch);
}

static void
node_stopped(ExhLocalNode *node, gpointer data)
{
	NodeStop *stop = data;
	ExhLocalBackend *self = stop->self;

	if (stop->remove)
		rmtree(exh_local_node_get_dir(node));
	exh_local_node_free(node);
	self->stopping--;
	batch_step(stop->batch);
	g_free(stop);
	maybe_finish_shutdown(self);
}

/* Stops @node (already out of the tables), then frees and maybe removes it. */
static void
stop_node(ExhLocalBackend *self, ExhLocalNode *node, gboolean remove, Batch *batch)
{
	NodeStop *stop = g_new0(NodeStop, 1);

	stop->self = self;
	stop->remove = remove;
	stop->batch = batch;
	self->stopping++;
	exh_local_node_stop(node, node_stopped, stop);
}

static void
set_free(LocalSet *set)
{
	g_free(set->uuid);
	g_free(set->dir);
	exh_node_set_target_free(set->target);
	g_ptr_array_unref(set->nodes);
	g_free(set);
}

/* Scales @set to its target's replicas: new nodes appended, extra ones removed. */
static gboolean
scale_set(ExhLocalBackend *self, LocalSet *set, GError **error)
{
	while (set->nodes->len > set->target->replicas) {
		ExhLocalNode *node = g_ptr_array_steal_index(set->nodes, set->nodes->len - 1);

		forget_node(self, node);
		stop_node(self, node, TRUE, NULL);
	}
	while (set->nodes->len < set->target->replicas) {
		if (!add_node(self, set, set->nodes->len, error))
			return FALSE;
	}
	return TRUE;
}

static void
op_apply_node_set(ExhLocalBackend *self, Call *call)
{
	const ExhNodeSetTarget *target = call->in;
	LocalSet *set = g_hash_table_lookup(self->sets, target->uuid);

	if (set != NULL && set->deleting) {
		g_set_error(&call->error,
			    EXH_ERROR,
			    EXH_ERROR_FAILED,
			    "node set %s: being deleted",
			    target->uuid);
		call_done(call, FALSE);
		return;
	}
	if (set == NULL) {
		set = g_new0(LocalSet, 1);
		set->uuid = g_strdup(target->uuid);
		set->dir = g_build_filename(self->config->state_dir, target->uuid, NULL);
		set->nodes = g_ptr_array_new();
		g_hash_table_insert(self->sets, set->uuid, set);
		g_mkdir_with_parents(set->dir, 0755);
		g_chmod(set->dir, 0755);
	}
	exh_node_set_target_free(set->target);
	set->target = exh_node_set_target_copy(target);
	call_done(call, scale_set(self, set, &call->error));
	exh_infra_backend_emit_changed(&self->parent, set->uuid);
}

static void
op_delete_node_set(ExhLocalBackend *self, Call *call)
{
	LocalSet *set = g_hash_table_lookup(self->sets, call->uuid);
	Batch *batch;

	if (set == NULL || set->deleting) {
		call_done(call, set == NULL);
		return;
	}
	set->deleting = TRUE;
	g_hash_table_steal(self->sets, set->uuid);
	batch = g_new0(Batch, 1);
	batch->pending = set->nodes->len + 1; /* held until every stop is issued */
	batch->rm_dir = g_strdup(set->dir);
	batch->call = call;
	for (guint i = 0; i < set->nodes->len; i++) {
		ExhLocalNode *node = g_ptr_array_index(set->nodes, i);

		forget_node(self, node);
		stop_node(self, node, TRUE, batch);
	}
	set_free(set);
	batch_step(batch);
}

static ExhInfraStatus
set_status(LocalSet *set, gchar **out_error)
{
	ExhInfraStatus status = EXH_INFRA_STATUS_ACTIVE;

	for (guint i = 0; i < set->nodes->len; i++) {
		ExhLocalNode *node = g_ptr_array_index(set->nodes, i);
		ExhInfraStatus s = exh_local_node_get_status(node);

		if (s == EXH_INFRA_STATUS_ERROR) {
			*out_error = g_strdup(exh_local_node_get_error(node));
			return s;
		}
		if (s != EXH_INFRA_STATUS_ACTIVE)
			status = EXH_INFRA_STATUS_IN_PROGRESS;
	}
	return status;
}

static void
op_get_node_set(ExhLocalBackend *self, Call *call)
{
	LocalSet *set = g_hash_table_lookup(self->sets, call->uuid);
	ExhNodeSetActual *actual;

	if (set == NULL) {
		call_done(call, TRUE);
		return;
	}
	actual = exh_node_set_actual_new();
	actual->uuid = g_strdup(set->uuid);
	actual->target = exh_node_set_target_copy(set->target);
	actual->status = set_status(set, &actual->error);
	for (guint i = 0; i < set->nodes->len; i++)
		g_ptr_array_add(actual->nodes,
				exh_local_node_to_infra(g_ptr_array_index(set->nodes, i)));
	call->out = actual;
	call_done(call, TRUE);
}

static void
op_apply_config(ExhLocalBackend *self, Call *call)
{
	const ExhConfigTarget *target = call->in;
	ExhLocalNode *node = g_hash_table_lookup(self->nodes, target->node);
	const gchar *old = g_hash_table_lookup(self->configs, target->uuid);
	gboolean ok;

	if (node == NULL) {
		g_set_error(&call->error,
			    EXH_ERROR,
			    EXH_ERROR_FAILED,
			    "config %s: unknown node %s",
			    target->uuid,
			    target->node);
		call_done(call, FALSE);
		return;
	}
	/* a config that moved to another node is forgotten on the old one */
	if (old != NULL && !g_str_equal(old, target->node)) {
		ExhLocalNode *prev = g_hash_table_lookup(self->nodes, old);

		if (prev != NULL)
			exh_local_node_forget_config(prev, target->uuid);
	}
	ok = exh_local_node_apply_config(node, target, &call->error);
	if (ok)
		g_hash_table_replace(self->configs, g_strdup(target->uuid), g_strdup(target->node));
	call_done(call, ok);
}

static void
op_delete_config(ExhLocalBackend *self, Call *call)
{
	const gchar *node_uuid = g_hash_table_lookup(self->configs, call->uuid);
	ExhLocalNode *node = node_uuid != NULL ? g_hash_table_lookup(self->nodes, node_uuid) : NULL;

	if (node != NULL)
		exh_local_node_forget_config(node, call->uuid);
	g_hash_table_remove(self->configs, call->uuid);
	call_done(call, TRUE);
}

static void
op_config_status(ExhLocalBackend *self, Call *call)
{
	const gchar *node_uuid = g_hash_table_lookup(self->configs, call->uuid);
	ExhLocalNode *node = node_uuid != NULL ? g_hash_table_lookup(self->nodes, node_uuid) : NULL;
	ExhInfraStatus *status = call->out;

	call_done(call, node != NULL && exh_local_node_config_status(node, call->uuid, status));
}

static void
op_shutdown(ExhLocalBackend *self, Call *call)
{
	GHashTableIter iter;
	gpointer value;

	g_hash_table_iter_init(&iter, self->sets);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		LocalSet *set = value;

		for (guint i = 0; i < set->nodes->len; i++) {
			ExhLocalNode *node = g_ptr_array_index(set->nodes, i);

			forget_node(self, node);
			stop_node(self, node, FALSE, NULL);
		}
		g_ptr_array_set_size(set->nodes, 0);
		g_hash_table_iter_steal(&iter);
		set_free(set);
	}
	self->shutdown_call = call;
	maybe_finish_shutdown(self);
}

static void
op_set_endpoints(ExhLocalBackend *self, Call *call)
{
	const gchar *const *endpoints = call->in;
	GHashTableIter iter;
	gpointer value;

	g_free(self->config->orch_endpoint);
	self->config->orch_endpoint = g_strdup(endpoints[0]);
	g_free(self->config->status_endpoint);
	self->config->status_endpoint = g_strdup(endpoints[1]);
	g_hash_table_iter_init(&iter, self->nodes);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		g_autoptr(GError) error = NULL;

		if (!exh_local_node_refresh(value, &error))
			g_warning("%s", error->message);
	}
	call_done(call, TRUE);
}

static void
op_node_info(ExhLocalBackend *self, Call *call)
{
	ExhLocalNode *node = g_hash_table_lookup(self->nodes, call->uuid);

	if (node != NULL)
		call->out = exh_local_node_info(node);
	call_done(call, node != NULL);
}

static void
op_set_agent(ExhLocalBackend *self, Call *call)
{
	ExhLocalNode *node = g_hash_table_lookup(self->nodes, call->uuid);

	if (node != NULL)
		exh_local_node_set_agent_running(node, call->flag);
	call_done(call, node != NULL);
}

/* ---- vtable -------------------------------------------------------------------- */

static gboolean
local_apply_node_set(ExhInfraBackend *backend, const ExhNodeSetTarget *target, GError **error)
{
	Call call = { .func = op_apply_node_set, .in = target };

	if (target->uuid == NULL || !exm_uuid_is_valid(target->uuid) ||
	    target->replicas > MAX_NODES) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "node set: bad uuid or replicas");
		return FALSE;
	}
	return call_sync((ExhLocalBackend *)backend, &call, error);
}

static gboolean
local_delete_node_set(ExhInfraBackend *backend, const gchar *uuid, GError **error)
{
	Call call = { .func = op_delete_node_set, .uuid = uuid };

	return call_sync((ExhLocalBackend *)backend, &call, error);
}

static ExhNodeSetActual *
local_get_node_set(ExhInfraBackend *backend, const gchar *uuid, GError **error)
{
	Call call = { .func = op_get_node_set, .uuid = uuid };

	if (!call_sync((ExhLocalBackend *)backend, &call, error))
		return NULL;
	return call.out;
}

static gboolean
local_apply_config(ExhInfraBackend *backend, const ExhConfigTarget *target, GError **error)
{
	Call call = { .func = op_apply_config, .in = target };

	if (target->uuid == NULL || target->node == NULL || target->content == NULL ||
	    target->owner == NULL || target->group == NULL) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "config: incomplete target");
		return FALSE;
	}
	/* the env is immutable once the backend runs: no call onto its thread */
	if (!exh_local_node_check_on_change(
		    &((ExhLocalBackend *)backend)->env, target->on_change, error))
		return FALSE;
	return call_sync((ExhLocalBackend *)backend, &call, error);
}

static gboolean
local_delete_config(ExhInfraBackend *backend, const gchar *uuid, GError **error)
{
	Call call = { .func = op_delete_config, .uuid = uuid };

	return call_sync((ExhLocalBackend *)backend, &call, error);
}

static gboolean
local_get_config_status(ExhInfraBackend *backend,
			const gchar *uuid,
			// NOLINTNEXTLINE(readability-non-const-parameter): the vtable's signature
			ExhInfraStatus *out_status,
			GError **error)
{
	Call call = { .func = op_config_status, .uuid = uuid, .out = out_status };

	return call_sync((ExhLocalBackend *)backend, &call, error);
}

static void
local_shutdown(ExhInfraBackend *backend)
{
	ExhLocalBackend *self = (ExhLocalBackend *)backend;
	Call call = { .func = op_shutdown };

	g_mutex_lock(&self->lock);
	if (self->shut) {
		g_mutex_unlock(&self->lock);
		return;
	}
	self->shut = TRUE;
	while (self->in_flight > 0)
		g_cond_wait(&self->idle, &self->lock);
	g_mutex_unlock(&self->lock);
	call_run(self, &call);
	g_thread_join(self->thread);
	self->thread = NULL;
}

static void
local_free(ExhInfraBackend *backend)
{
	ExhLocalBackend *self = (ExhLocalBackend *)backend;

	g_hash_table_unref(self->sets);
	g_hash_table_unref(self->nodes);
	g_hash_table_unref(self->configs);
	g_hash_table_unref(self->index_of);
	g_main_loop_unref(self->loop);
	g_main_context_unref(self->context);
	exh_local_net_release(self->net);
	env_clear(&self->env);
	exh_local_config_free(self->config);
	g_mutex_clear(&self->lock);
	g_cond_clear(&self->idle);
	g_free(self);
}

static const ExhInfraBackendVTable local_vtable = {
	.name = "local",
	.apply_node_set = local_apply_node_set,
	.delete_node_set = local_delete_node_set,
	.get_node_set = local_get_node_set,
	.apply_config = local_apply_config,
	.delete_config = local_delete_config,
	.get_config_status = local_get_config_status,
	.shutdown = local_shutdown,
	.free = local_free,
};

/* ---- construction ---------------------------------------------------------------- */

static gpointer
backend_thread(gpointer data)
{
	ExhLocalBackend *self = data;

	g_main_context_push_thread_default(self->context);
	g_main_loop_run(self->loop);
	/* drain what the last stops queued (idle/timeout sources already destroyed) */
	while (g_main_context_iteration(self->context, FALSE))
		;
	g_main_context_pop_thread_default(self->context);
	return NULL;
}

static gboolean
check_config(const ExhLocalConfig *c, GError **error)
{
	if (c->state_dir == NULL || !g_path_is_absolute(c->state_dir)) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "[local] state_dir: not an absolute path");
		return FALSE;
	}
	if (c->uuid5_name != NULL && c->uuid5_name[0] == '\0') {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "[local] uuid5_name: empty");
		return FALSE;
	}
	if (c->node_descriptor == NULL) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "[local] node_descriptor: missing");
		return FALSE;
	}
	return TRUE;
}

ExhInfraBackend *
exh_local_backend_new(const ExhLocalConfig *config, GError **error)
{
	ExhLocalBackend *self;

	if (!check_config(config, error))
		return NULL;
	self = g_new0(ExhLocalBackend, 1);
	exh_infra_backend_init(&self->parent, &local_vtable);
	self->config = exh_local_config_copy(config);
	g_mutex_init(&self->lock);
	g_cond_init(&self->idle);
	self->sets = g_hash_table_new(g_str_hash, g_str_equal);
	self->nodes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->configs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	self->index_of = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->context = g_main_context_new();
	self->loop = g_main_loop_new(self->context, FALSE);
	self->env.changed = node_changed;
	self->env.changed_data = self;
	if (!resolve_env(self, error) || g_mkdir_with_parents(config->state_dir, 0755) != 0 ||
	    (self->net = exh_local_net_lease(
		     config->lock_dir, config->subnet, self->env.ports, error)) == NULL) {
		if (error != NULL && *error == NULL)
			g_set_error(error,
				    EXH_ERROR,
				    EXH_ERROR_CONFIG,
				    "state dir %s: %s",
				    config->state_dir,
				    g_strerror(errno));
		self->shut = TRUE;
		exh_infra_backend_free(&self->parent);
		return NULL;
	}
	g_chmod(config->state_dir, 0755);
	self->thread = g_thread_new("exh-local", backend_thread, self);
	return &self->parent;
}

ExhInfraBackend *
exh_local_backend_new_from_key_file(GKeyFile *key_file, GError **error)
{
	g_autoptr(ExhLocalConfig) config = exh_local_config_new();

	if (!g_key_file_has_group(key_file, "local"))
		return NULL;
	if (!exh_local_config_load_key_file(config, key_file, error))
		return NULL;
	return exh_local_backend_new(config, error);
}

gboolean
exh_local_backend_is_local(ExhInfraBackend *backend)
{
	return backend != NULL && backend->vtable == &local_vtable;
}

guint
exh_local_backend_get_subnet(ExhInfraBackend *backend)
{
	return exh_local_net_get_subnet(((ExhLocalBackend *)backend)->net);
}

void
exh_local_backend_set_endpoints(ExhInfraBackend *backend,
				const gchar *orch_endpoint,
				const gchar *status_endpoint)
{
	const gchar *endpoints[] = { orch_endpoint, status_endpoint };
	Call call = { .func = op_set_endpoints, .in = endpoints };

	call_sync((ExhLocalBackend *)backend, &call, NULL);
}

ExhLocalNodeInfo *
exh_local_backend_get_node_info(ExhInfraBackend *backend, const gchar *node_uuid)
{
	Call call = { .func = op_node_info, .uuid = node_uuid };

	if (!call_sync((ExhLocalBackend *)backend, &call, NULL))
		return NULL;
	return call.out;
}

gboolean
exh_local_backend_set_agent_running(ExhInfraBackend *backend,
				    const gchar *node_uuid,
				    gboolean running)
{
	Call call = { .func = op_set_agent, .uuid = node_uuid, .flag = running };

	return call_sync((ExhLocalBackend *)backend, &call, NULL);
}
