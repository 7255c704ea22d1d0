/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-local-node.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "exh-host.h"
#include "exh-local-child.h"
#include "exh-local-net.h"
#include "exm-atomic.h"

#define NODE_KEY_LEN 32
#define PROBE_MS     100

/* Node paths the backend itself creates or reads (relative to the root). */
#define NODE_PAYLOAD "/var/lib/exordos/exordos_metapaas/payload.json"
#define NODE_KEY     "/var/lib/exordos/universal_agent/private_key"

/* What an on_change does: a role of exh-local-type.h, or none. */
typedef ExhLocalRole Action;
#define ACTION_NONE    EXH_LOCAL_N_ROLES
#define ACTION_JOB     EXH_LOCAL_ROLE_JOB
#define ACTION_SERVICE EXH_LOCAL_ROLE_SERVICE
#define ACTION_AGENT   EXH_LOCAL_ROLE_AGENT

struct _ExhLocalNode {
	const ExhLocalEnv *env;
	gchar *uuid;
	gchar *set_uuid;
	gchar *name;
	gchar *ipv4;
	gchar *dir;
	gchar *root;
	gchar *ini;
	gchar *trigger; /* (nullable): the type's restart_flag in dir */
	gchar *log_dir;
	gchar *key;	     /* base64, wiped at free */
	GHashTable *configs; /* config uuid -> GINT_TO_POINTER(Action) */
	GHashTable *vars;    /* the env's placeholders + this node's */

	ExhLocalChild *job;
	ExhLocalChild *service;
	ExhLocalChild *agent;
	gboolean agent_wanted;
	gboolean job_pending;
	gboolean job_failed;
	gboolean configured; /* a job run succeeded: the service may run */
	gboolean service_ready;
	gchar *error;
	guint job_runs;
	GSource *probe;
	ExhInfraStatus last_status;

	void (*stop_done)(ExhLocalNode *node, gpointer data);
	gpointer stop_data;
	guint stops_pending;
};

static void notify_if_changed(ExhLocalNode *node);

/* ---- on_change mapping -------------------------------------------------- */

/* The role a `systemctl <verb> <unit>` command acts on, or ACTION_NONE. */
static Action
classify_argv(const ExhLocalType *type, const gchar *const *argv)
{
	const gchar *verbs[] = { "restart", "try-restart", "reload-or-restart", "reload", NULL };

	if (g_strv_length((gchar **)argv) != 3 || !g_str_equal(argv[0], "systemctl") ||
	    !g_strv_contains(verbs, argv[1]))
		return ACTION_NONE;
	return exh_local_type_role_of_unit(type, argv[2]);
}

static gboolean
classify(const ExhLocalType *type, const gchar *command, Action *out, GError **error)
{
	g_auto(GStrv) argv = NULL;
	g_autofree gchar *units = NULL;

	*out = ACTION_NONE;
	if (command == NULL)
		return TRUE;
	if (g_shell_parse_argv(command, NULL, &argv, NULL))
		*out = classify_argv(type, (const gchar *const *)argv);
	if (*out != ACTION_NONE)
		return TRUE;
	units = exh_local_type_describe_units(type);
	g_set_error(error,
		    EXH_ERROR,
		    EXH_ERROR_CONFIG,
		    "on_change: unsupported command (the local backend maps only "
		    "'systemctl restart' of %s)",
		    units);
	return FALSE;
}

gboolean
exh_local_node_check_on_change(const ExhLocalEnv *env, const gchar *command, GError **error)
{
	Action action;

	return classify(env->type, command, &action, error);
}

/* ---- files ----------------------------------------------------------------- */

static gchar *
node_path(ExhLocalNode *node, const gchar *path)
{
	return g_build_filename(node->root, path, NULL);
}

/* mkdir -p with every created level at @mode (no umask surprise). */
static gboolean
make_dirs(const gchar *path, guint mode, GError **error)
{
	if (g_mkdir_with_parents(path, (gint)mode) != 0 || g_chmod(path, (gint)mode) != 0) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_FAILED,
			    "mkdir %s: %s",
			    path,
			    g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

static gboolean
write_text(const gchar *path, const gchar *text, guint mode, gboolean *changed, GError **error)
{
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(mode);

	return exm_atomic_write(path, text, strlen(text), &opts, changed, error);
}

/* The node's envelope key: generated once, kept across restarts (§6.1). */
static gboolean
ensure_key(ExhLocalNode *node, GError **error)
{
	g_autofree gchar *path = node_path(node, NODE_KEY);
	g_autofree gchar *dir = g_path_get_dirname(path);
	guint8 raw[NODE_KEY_LEN];
	gchar *text = NULL;

	if (g_file_get_contents(path, &text, NULL, NULL)) {
		node->key = g_strstrip(text);
		return TRUE;
	}
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_FAILED, "getrandom: %s", g_strerror(errno));
		return FALSE;
	}
	node->key = g_base64_encode(raw, sizeof(raw));
	explicit_bzero(raw, sizeof(raw));
	return make_dirs(dir, 0755, error) && write_text(path, node->key, 0600, NULL, error);
}

static void
render_agent_group(ExhLocalNode *node, GKeyFile *kf)
{
	const ExhLocalConfig *c = node->env->config;
	const ExhLocalType *t = node->env->type;
	g_autofree gchar *payload = node_path(node, NODE_PAYLOAD);
	g_autofree gchar *key = node_path(node, NODE_KEY);
	const gchar *ua = "universal_agent";

	g_key_file_set_string(
		kf, ua, "orch_endpoint", c->orch_endpoint != NULL ? c->orch_endpoint : "");
	g_key_file_set_string(
		kf, ua, "status_endpoint", c->status_endpoint != NULL ? c->status_endpoint : "");
	g_key_file_set_string(
		kf, ua, "uuid5_name", c->uuid5_name != NULL ? c->uuid5_name : t->uuid5_name);
	g_key_file_set_string(kf, ua, "node_uuid", node->uuid);
	g_key_file_set_string(kf, ua, "system_root", node->root);
	g_key_file_set_string(kf, ua, "payload_path", payload);
	g_key_file_set_string(kf,
			      ua,
			      "caps_drivers",
			      c->caps_drivers != NULL ? c->caps_drivers : t->caps_drivers);
	g_key_file_set_boolean(kf, ua, "orch_secure_communication", c->envelope);
	g_key_file_set_string(kf, ua, "private_key_path", key);
	g_key_file_set_boolean(kf, ua, "long_poll", TRUE);
}

/* [universal_agent], then the type's [ini.*] groups. */
static gchar *
render_ini(ExhLocalNode *node)
{
	GPtrArray *keys = node->env->type->ini;
	g_autoptr(GKeyFile) kf = g_key_file_new();

	render_agent_group(node, kf);
	for (guint i = 0; i < keys->len; i++) {
		const ExhLocalTypeIniKey *k = g_ptr_array_index(keys, i);
		g_autofree gchar *value = exh_local_type_expand(k->value, node->vars);

		if (value != NULL)
			g_key_file_set_string(kf, k->group, k->key, value);
	}
	return g_key_file_to_data(kf, NULL, NULL);
}

static gboolean
write_ini(ExhLocalNode *node, gboolean *changed, GError **error)
{
	g_autofree gchar *text = render_ini(node);

	return write_text(node->ini, text, 0644, changed, error);
}

/* ---- children -------------------------------------------------------------- */

static gchar *
log_path(ExhLocalNode *node, const gchar *what)
{
	g_autofree gchar *name = g_strconcat(what, ".log", NULL);

	return g_build_filename(node->log_dir, name, NULL);
}

static gboolean
endpoints_known(ExhLocalNode *node)
{
	const ExhLocalConfig *c = node->env->config;

	return c->orch_endpoint != NULL && c->status_endpoint != NULL;
}

static void
start_agent(ExhLocalNode *node)
{
	g_autoptr(GError) error = NULL;

	if (node->agent == NULL || !node->agent_wanted || !endpoints_known(node))
		return;
	if (!exh_local_child_start(node->agent, &error))
		g_warning("node %s: %s", node->uuid, error->message);
}

static gboolean
probe_due(gpointer data)
{
	ExhLocalNode *node = data;
	GArray *ports = node->env->ports;

	if (!exh_local_child_is_running(node->service))
		return G_SOURCE_CONTINUE;
	for (guint i = 0; i < ports->len; i++) {
		if (!exh_local_net_can_connect(node->ipv4, g_array_index(ports, guint, i)))
			return G_SOURCE_CONTINUE;
	}
	node->service_ready = TRUE;
	notify_if_changed(node);
	g_source_unref(node->probe);
	node->probe = NULL;
	return G_SOURCE_REMOVE;
}

static void
clear_probe(ExhLocalNode *node)
{
	if (node->probe == NULL)
		return;
	g_source_destroy(node->probe);
	g_source_unref(node->probe);
	node->probe = NULL;
}

static void
start_probe(ExhLocalNode *node)
{
	if (node->probe != NULL)
		return;
	node->probe = g_timeout_source_new(PROBE_MS);
	g_source_set_callback(node->probe, probe_due, node, NULL);
	g_source_attach(node->probe, g_main_context_get_thread_default());
}

static void
service_exited(ExhLocalChild *child, gint status, gpointer data)
{
	ExhLocalNode *node = data;

	(void)child;
	(void)status;
	node->service_ready = FALSE;
	notify_if_changed(node);
	if (node->stops_pending == 0)
		start_probe(node);
}

static void
start_service(ExhLocalNode *node)
{
	g_autoptr(GError) error = NULL;

	if (!exh_local_child_start(node->service, &error)) {
		g_free(node->error);
		node->error = g_strdup(error->message);
		node->job_failed = TRUE;
		notify_if_changed(node);
		return;
	}
	start_probe(node);
}

static void
service_stopped_for_restart(ExhLocalChild *child, gpointer data)
{
	(void)child;
	start_service(data);
}

/*
 * After a successful job: start the service, or restart it.  A restart is a
 * stop and a start, as `systemctl restart`: a daemon that dropped its
 * privileges once it had bound its ports could not bind them again on a
 * SIGHUP re-exec.
 */
static void
kick_service(ExhLocalNode *node, gboolean restart)
{
	if (!exh_local_child_is_running(node->service)) {
		start_service(node);
		return;
	}
	if (restart)
		exh_local_child_stop(node->service,
				     node->env->config->stop_timeout_ms,
				     service_stopped_for_restart,
				     node);
}

static void run_job(ExhLocalNode *node);

static void
job_exited(ExhLocalChild *child, gint status, gpointer data)
{
	ExhLocalNode *node = data;
	g_autoptr(GError) error = NULL;
	const gchar *name = exh_local_child_get_name(node->job);
	g_autofree gchar *log = log_path(node, name);
	gboolean restart;

	(void)child;
	if (node->stops_pending > 0)
		return;
	if (node->job_pending) {
		node->job_pending = FALSE;
		run_job(node);
		return;
	}
	g_clear_pointer(&node->error, g_free);
	if (!g_spawn_check_wait_status(status, &error)) {
		node->job_failed = TRUE;
		node->error = g_strdup_printf("%s failed: %s (see %s)", name, error->message, log);
		g_message("node %s: %s", node->uuid, node->error);
		notify_if_changed(node);
		return;
	}
	node->job_failed = FALSE;
	node->configured = TRUE;
	restart = node->trigger != NULL && g_unlink(node->trigger) == 0;
	kick_service(node, restart);
	notify_if_changed(node);
}

static void
run_job(ExhLocalNode *node)
{
	const ExhLocalConfig *c = node->env->config;
	g_autoptr(GError) error = NULL;

	if (exh_local_child_is_running(node->job)) {
		node->job_pending = TRUE;
		return;
	}
	if (c->pre_configure != NULL)
		c->pre_configure(node->uuid, node->root, c->pre_configure_data);
	node->job_runs++;
	if (!exh_local_child_start(node->job, &error)) {
		node->job_failed = TRUE;
		g_free(node->error);
		node->error = g_strdup(error->message);
	}
	notify_if_changed(node);
}

static ExhLocalChild *
make_child(ExhLocalNode *node, ExhLocalRole role, gboolean supervised)
{
	const ExhLocalTypeChild *c = &node->env->type->children[role];
	g_autofree gchar *log = log_path(node, c->name);
	g_auto(GStrv) argv = exh_local_type_expand_argv(c->argv, node->vars);

	return exh_local_child_new(c->name, (const gchar *const *)argv, log, supervised);
}

static void
make_children(ExhLocalNode *node)
{
	node->job = make_child(node, EXH_LOCAL_ROLE_JOB, FALSE);
	exh_local_child_set_exited(node->job, job_exited, node);
	node->service = make_child(node, EXH_LOCAL_ROLE_SERVICE, TRUE);
	exh_local_child_set_exited(node->service, service_exited, node);
	if (node->env->has_agent)
		node->agent = make_child(node, EXH_LOCAL_ROLE_AGENT, TRUE);
}

/* ---- lifecycle ------------------------------------------------------------- */

/* The pid in the sandbox's @pid_file when its command line holds @match. */
static gint64
stale_pid(const gchar *pid_file, const gchar *match)
{
	g_autofree gchar *text = NULL;
	g_autofree gchar *cmdline_path = NULL;
	g_autofree gchar *cmdline = NULL;
	gsize len = 0;
	gint64 pid;

	if (!g_file_get_contents(pid_file, &text, NULL, NULL))
		return 0;
	pid = g_ascii_strtoll(g_strstrip(text), NULL, 10);
	if (pid <= 1 || pid == getpid())
		return 0;
	cmdline_path = g_strdup_printf("/proc/%" G_GINT64_FORMAT "/cmdline", pid);
	if (!g_file_get_contents(cmdline_path, &cmdline, &len, NULL))
		return 0;
	for (gsize i = 0; i + 1 < len; i++) {
		if (cmdline[i] == '\0')
			cmdline[i] = ' ';
	}
	return strstr(cmdline, match) != NULL ? pid : 0;
}

/*
 * A service left over from a host that died without stopping it (a daemon
 * that changes its user loses PR_SET_PDEATHSIG): its pid file is in the
 * sandbox (the type's pid_file), and it is only killed when its command
 * line holds the type's stale_match, so a recycled pid is never hit.
 */
static void
reap_stale_service(ExhLocalNode *node)
{
	const ExhLocalType *t = node->env->type;
	g_autofree gchar *pid_file = NULL;
	g_autofree gchar *match = NULL;
	gint64 pid;

	if (t->pid_file == NULL)
		return;
	pid_file = node_path(node, t->pid_file);
	match = exh_local_type_expand(t->stale_match, node->vars);
	if (match == NULL || (pid = stale_pid(pid_file, match)) == 0)
		return;
	g_message("node %s: killing a stale %s (pid %" G_GINT64_FORMAT ")",
		  node->uuid,
		  t->children[EXH_LOCAL_ROLE_SERVICE].name,
		  pid);
	kill(-(pid_t)pid, SIGKILL);
	kill((pid_t)pid, SIGKILL);
	/* its ports must be free before the node's own service binds them */
	for (guint i = 0; i < 200 && kill(-(pid_t)pid, 0) == 0; i++)
		g_usleep(5 * 1000);
}

/* The env's placeholders plus the node's own (exh-local-type.h). */
static GHashTable *
make_vars(ExhLocalNode *node)
{
	GHashTable *vars = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	GHashTableIter iter;
	gpointer key, value;

	g_hash_table_iter_init(&iter, node->env->vars);
	while (g_hash_table_iter_next(&iter, &key, &value))
		g_hash_table_insert(vars, g_strdup(key), g_strdup(value));
	g_hash_table_insert(vars, g_strdup("root"), g_strdup(node->root));
	g_hash_table_insert(vars, g_strdup("dir"), g_strdup(node->dir));
	g_hash_table_insert(vars, g_strdup("ini"), g_strdup(node->ini));
	g_hash_table_insert(vars, g_strdup("address"), g_strdup(node->ipv4));
	if (node->trigger != NULL)
		g_hash_table_insert(vars, g_strdup("flag"), g_strdup(node->trigger));
	return vars;
}

static gboolean
make_sandbox(ExhLocalNode *node, GError **error)
{
	g_autofree gchar *payload = node_path(node, NODE_PAYLOAD);
	g_autofree gchar *payload_dir = g_path_get_dirname(payload);

	return make_dirs(node->dir, 0755, error) && make_dirs(node->root, 0755, error) &&
	       make_dirs(node->log_dir, 0755, error) && make_dirs(payload_dir, 0755, error) &&
	       ensure_key(node, error) && write_ini(node, NULL, error);
}

ExhLocalNode *
exh_local_node_new(const ExhLocalEnv *env,
		   const gchar *set_dir,
		   const gchar *set_uuid,
		   const gchar *uuid,
		   const gchar *name,
		   const gchar *ipv4,
		   GError **error)
{
	ExhLocalNode *node = g_new0(ExhLocalNode, 1);
	const ExhLocalType *t = env->type;
	g_autofree gchar *boot_if = NULL;

	node->env = env;
	node->uuid = g_strdup(uuid);
	node->set_uuid = g_strdup(set_uuid);
	node->name = g_strdup(name);
	node->ipv4 = g_strdup(ipv4);
	node->dir = g_build_filename(set_dir, uuid, NULL);
	node->root = g_build_filename(node->dir, "root", NULL);
	node->ini = g_build_filename(node->dir, "node.ini", NULL);
	if (t->restart_flag != NULL)
		node->trigger = g_build_filename(node->dir, t->restart_flag, NULL);
	node->log_dir = g_build_filename(node->dir, "log", NULL);
	node->configs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	node->vars = make_vars(node);
	node->agent_wanted = TRUE;
	node->last_status = EXH_INFRA_STATUS_IN_PROGRESS;
	if (!make_sandbox(node, error)) {
		g_prefix_error(error, "node %s: ", uuid);
		exh_local_node_free(node);
		return NULL;
	}
	reap_stale_service(node);
	make_children(node);
	start_agent(node);
	/* as the job's unit at boot: ConditionPathExists=<job_if_exists> */
	boot_if = t->job_if_exists != NULL ? node_path(node, t->job_if_exists) : NULL;
	if (boot_if != NULL && g_file_test(boot_if, G_FILE_TEST_EXISTS))
		run_job(node);
	return node;
}

static void
agent_restarted(ExhLocalChild *child, gpointer data)
{
	(void)child;
	start_agent(data);
}

static void
restart_agent(ExhLocalNode *node)
{
	if (node->agent == NULL)
		return;
	if (exh_local_child_is_running(node->agent))
		exh_local_child_stop(
			node->agent, node->env->config->stop_timeout_ms, agent_restarted, node);
	else
		start_agent(node);
}

gboolean
exh_local_node_refresh(ExhLocalNode *node, GError **error)
{
	gboolean changed = FALSE;

	if (!write_ini(node, &changed, error))
		return FALSE;
	if (changed)
		restart_agent(node);
	else
		start_agent(node);
	return TRUE;
}

static gboolean
resolve_owner(const ExhConfigTarget *t, uid_t *uid, gid_t *gid, GError **error)
{
	/* the reentrant forms: the workers apply config targets concurrently */
	struct passwd pw_entry;
	struct group gr_entry;
	struct passwd *pw = NULL;
	struct group *gr = NULL;
	gchar pw_text[4096];
	gchar gr_text[16384];

	if (getpwnam_r(t->owner, &pw_entry, pw_text, sizeof pw_text, &pw) != 0)
		pw = NULL;
	if (getgrnam_r(t->group, &gr_entry, gr_text, sizeof gr_text, &gr) != 0)
		gr = NULL;
	if (pw == NULL || gr == NULL) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "config: unknown %s '%s'",
			    pw == NULL ? "owner" : "group",
			    pw == NULL ? t->owner : t->group);
		return FALSE;
	}
	*uid = pw->pw_uid;
	*gid = gr->gr_gid;
	return TRUE;
}

static void
run_action(ExhLocalNode *node, Action action)
{
	switch (action) {
	case ACTION_JOB:
		run_job(node);
		break;
	case ACTION_SERVICE:
		if (node->configured)
			kick_service(node, TRUE);
		break;
	case ACTION_AGENT:
		restart_agent(node);
		break;
	case ACTION_NONE:
		break;
	}
}

gboolean
exh_local_node_apply_config(ExhLocalNode *node, const ExhConfigTarget *target, GError **error)
{
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(target->mode & 07777);
	g_autofree gchar *path = NULL;
	g_autofree gchar *dir = NULL;
	gboolean changed = FALSE;
	Action action;

	if (!classify(node->env->type, target->on_change, &action, error) ||
	    !resolve_owner(target, &opts.uid, &opts.gid, error))
		return FALSE;
	if (target->path == NULL || target->path[0] != '/' || strstr(target->path, "/..") != NULL) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "config: bad path");
		return FALSE;
	}
	path = node_path(node, target->path);
	dir = g_path_get_dirname(path);
	if (g_mkdir_with_parents(dir, 0755) != 0) {
		g_set_error(
			error, EXH_ERROR, EXH_ERROR_FAILED, "mkdir %s: %s", dir, g_strerror(errno));
		return FALSE;
	}
	if (!exm_atomic_write(
		    path, target->content, strlen(target->content), &opts, &changed, error))
		return FALSE;
	g_hash_table_replace(node->configs, g_strdup(target->uuid), GINT_TO_POINTER(action));
	if (changed)
		run_action(node, action);
	return TRUE;
}

void
exh_local_node_forget_config(ExhLocalNode *node, const gchar *uuid)
{
	g_hash_table_remove(node->configs, uuid);
}

gboolean
exh_local_node_config_status(ExhLocalNode *node, const gchar *uuid, ExhInfraStatus *out_status)
{
	gpointer value;

	if (!g_hash_table_lookup_extended(node->configs, uuid, NULL, &value))
		return FALSE;
	if (GPOINTER_TO_INT(value) != ACTION_JOB)
		*out_status = EXH_INFRA_STATUS_ACTIVE;
	else if (exh_local_child_is_running(node->job) || node->job_pending)
		*out_status = EXH_INFRA_STATUS_IN_PROGRESS;
	else if (node->job_failed)
		*out_status = EXH_INFRA_STATUS_ERROR;
	else
		*out_status =
			node->configured ? EXH_INFRA_STATUS_ACTIVE : EXH_INFRA_STATUS_IN_PROGRESS;
	return TRUE;
}

ExhInfraStatus
exh_local_node_get_status(ExhLocalNode *node)
{
	if (node->job_failed)
		return EXH_INFRA_STATUS_ERROR;
	if (node->configured && node->service_ready)
		return EXH_INFRA_STATUS_ACTIVE;
	return EXH_INFRA_STATUS_IN_PROGRESS;
}

const gchar *
exh_local_node_get_error(ExhLocalNode *node)
{
	return node->error;
}

static void
notify_if_changed(ExhLocalNode *node)
{
	ExhInfraStatus status = exh_local_node_get_status(node);

	if (status == node->last_status && status != EXH_INFRA_STATUS_ERROR)
		return;
	node->last_status = status;
	if (node->env->changed != NULL)
		node->env->changed(node, node->env->changed_data);
}

ExhInfraNode *
exh_local_node_to_infra(ExhLocalNode *node)
{
	ExhInfraNode *out = g_new0(ExhInfraNode, 1);

	out->uuid = g_strdup(node->uuid);
	out->name = g_strdup(node->name);
	out->ipv4 = g_strdup(node->ipv4);
	out->private_key = g_strdup(node->key);
	return out;
}

ExhLocalNodeInfo *
exh_local_node_info(ExhLocalNode *node)
{
	ExhLocalNodeInfo *info = g_new0(ExhLocalNodeInfo, 1);
	GArray *ports = node->env->ports;

	info->uuid = g_strdup(node->uuid);
	info->set_uuid = g_strdup(node->set_uuid);
	info->dir = g_strdup(node->dir);
	info->root = g_strdup(node->root);
	info->ipv4 = g_strdup(node->ipv4);
	info->n_ports = ports->len;
	info->ports = g_new0(guint, ports->len + 1);
	info->port_names = g_new0(gchar *, ports->len + 1);
	for (guint i = 0; i < ports->len; i++) {
		const ExhLocalTypePort *p = g_ptr_array_index(node->env->type->ports, i);

		info->ports[i] = g_array_index(ports, guint, i);
		info->port_names[i] = g_strdup(p->name);
	}
	info->status = exh_local_node_get_status(node);
	info->service_pid = exh_local_child_get_pid(node->service);
	info->service_starts = exh_local_child_get_starts(node->service);
	if (node->agent != NULL) {
		info->agent_pid = exh_local_child_get_pid(node->agent);
		info->agent_starts = exh_local_child_get_starts(node->agent);
	}
	info->job_runs = node->job_runs;
	return info;
}

void
exh_local_node_info_free(ExhLocalNodeInfo *info)
{
	if (info == NULL)
		return;
	g_free(info->uuid);
	g_free(info->set_uuid);
	g_free(info->dir);
	g_free(info->root);
	g_free(info->ipv4);
	g_free(info->ports);
	g_strfreev(info->port_names);
	g_free(info);
}

guint
exh_local_node_info_port(const ExhLocalNodeInfo *info, const gchar *name)
{
	for (guint i = 0; i < info->n_ports; i++) {
		if (g_str_equal(info->port_names[i], name))
			return info->ports[i];
	}
	return 0;
}

const gchar *
exh_local_node_get_uuid(ExhLocalNode *node)
{
	return node->uuid;
}

const gchar *
exh_local_node_get_set_uuid(ExhLocalNode *node)
{
	return node->set_uuid;
}

const gchar *
exh_local_node_get_ipv4(ExhLocalNode *node)
{
	return node->ipv4;
}

const gchar *
exh_local_node_get_dir(ExhLocalNode *node)
{
	return node->dir;
}

void
exh_local_node_set_agent_running(ExhLocalNode *node, gboolean running)
{
	node->agent_wanted = running;
	if (node->agent == NULL)
		return;
	if (running)
		start_agent(node);
	else
		exh_local_child_stop(node->agent, node->env->config->stop_timeout_ms, NULL, NULL);
}

static void
child_stopped(ExhLocalChild *child, gpointer data)
{
	ExhLocalNode *node = data;

	(void)child;
	if (--node->stops_pending == 0 && node->stop_done != NULL)
		node->stop_done(node, node->stop_data);
}

void
exh_local_node_stop(ExhLocalNode *node,
		    void (*done)(ExhLocalNode *node, gpointer data),
		    gpointer data)
{
	ExhLocalChild *children[] = { node->job, node->service, node->agent };
	guint timeout = node->env->config->stop_timeout_ms;

	clear_probe(node);
	node->stop_done = done;
	node->stop_data = data;
	node->stops_pending = 1; /* held until every stop is issued */
	for (guint i = 0; i < G_N_ELEMENTS(children); i++) {
		if (children[i] == NULL)
			continue;
		node->stops_pending++;
		exh_local_child_stop(children[i], timeout, child_stopped, node);
	}
	child_stopped(NULL, node);
}

void
exh_local_node_free(ExhLocalNode *node)
{
	if (node == NULL)
		return;
	clear_probe(node);
	exh_local_child_free(node->job);
	exh_local_child_free(node->service);
	exh_local_child_free(node->agent);
	g_hash_table_unref(node->configs);
	g_clear_pointer(&node->vars, g_hash_table_unref);
	if (node->key != NULL)
		explicit_bzero(node->key, strlen(node->key));
	g_free(node->key);
	g_free(node->error);
	g_free(node->uuid);
	g_free(node->set_uuid);
	g_free(node->name);
	g_free(node->ipv4);
	g_free(node->dir);
	g_free(node->root);
	g_free(node->ini);
	g_free(node->trigger);
	g_free(node->log_dir);
	g_free(node);
}
