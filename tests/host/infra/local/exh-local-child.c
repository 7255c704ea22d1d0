/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-local-child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "exh-host.h"

#define BACKOFF_INITIAL_MS 100
#define BACKOFF_MAX_MS	   5000
/* A process that ran this long was healthy: its next crash restarts fast. */
#define HEALTHY_US (10 * G_USEC_PER_SEC)

struct _ExhLocalChild {
	gchar *name;
	gchar **argv;
	gchar *log_path;
	gboolean supervised;
	gboolean wanted;	   /* supervision on (started and not stopped) */
	gboolean stopping;	   /* a stop waits for the process to go */
	gboolean start_after_stop; /* started again while a stop was pending */
	GSubprocess *proc;
	GPid pid;
	gint64 started_at;
	guint starts;
	guint backoff_ms;
	GSource *restart_source;
	GSource *kill_source;
	ExhLocalChildExited exited;
	gpointer exited_data;
	ExhLocalChildStopped stopped;
	gpointer stopped_data;
};

ExhLocalChild *
exh_local_child_new(const gchar *name,
		    const gchar *const *argv,
		    const gchar *log_path,
		    gboolean supervised)
{
	ExhLocalChild *child = g_new0(ExhLocalChild, 1);

	child->name = g_strdup(name);
	child->argv = g_strdupv((gchar **)argv);
	child->log_path = g_strdup(log_path);
	child->supervised = supervised;
	child->backoff_ms = BACKOFF_INITIAL_MS;
	return child;
}

void
exh_local_child_set_exited(ExhLocalChild *child, ExhLocalChildExited exited, gpointer data)
{
	child->exited = exited;
	child->exited_data = data;
}

void
exh_local_child_set_argv(ExhLocalChild *child, const gchar *const *argv)
{
	g_strfreev(child->argv);
	child->argv = g_strdupv((gchar **)argv);
}

static void
clear_source(GSource **source)
{
	if (*source == NULL)
		return;
	g_source_destroy(*source);
	g_source_unref(*source);
	*source = NULL;
}

/*
 * In the child: a process group of its own (so a stop reaches whatever it
 * forks) and death with the spawning thread where the kernel keeps that
 * (setuid binaries that change their user drop it).
 */
static void
child_setup(gpointer data)
{
	(void)data;
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static GSubprocessLauncher *
make_launcher(ExhLocalChild *child, GError **error)
{
	g_autoptr(GSubprocessLauncher) launcher =
		g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
	gint fd = open(child->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	gint fd2;

	if (fd < 0 || (fd2 = dup(fd)) < 0) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_FAILED,
			    "%s log %s: %s",
			    child->name,
			    child->log_path,
			    g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	g_subprocess_launcher_take_stdout_fd(launcher, fd);
	g_subprocess_launcher_take_stderr_fd(launcher, fd2);
	g_subprocess_launcher_set_child_setup(launcher, child_setup, NULL, NULL);
	return g_steal_pointer(&launcher);
}

static void child_waited(GObject *source, GAsyncResult *result, gpointer data);

/*
 * SIGKILL to the group of a leader that is gone, then a short wait until the
 * group is empty (its members are init's children now, so only polling tells),
 * so "stopped" means no process of it is left.
 */
static void
reap_group(GPid pgid)
{
	if (kill(-pgid, SIGKILL) != 0)
		return;
	for (guint i = 0; i < 200 && kill(-pgid, 0) == 0; i++)
		g_usleep(5 * 1000);
}

static gboolean
spawn(ExhLocalChild *child, GError **error)
{
	g_autoptr(GSubprocessLauncher) launcher = make_launcher(child, error);
	const gchar *id;

	if (launcher == NULL)
		return FALSE;
	child->proc =
		g_subprocess_launcher_spawnv(launcher, (const gchar *const *)child->argv, error);
	if (child->proc == NULL) {
		g_prefix_error(error, "%s: ", child->name);
		return FALSE;
	}
	id = g_subprocess_get_identifier(child->proc);
	child->pid = id != NULL ? (GPid)g_ascii_strtoll(id, NULL, 10) : 0;
	child->started_at = g_get_monotonic_time();
	child->starts++;
	g_debug("%s started (pid %d)", child->name, (int)child->pid);
	g_subprocess_wait_async(child->proc, NULL, child_waited, child);
	return TRUE;
}

/* Starts @child again (no caller waits for it), or says why it could not. */
static void
respawn(ExhLocalChild *child)
{
	g_autoptr(GError) error = NULL;

	if (!spawn(child, &error))
		// NOLINTNEXTLINE(clang-analyzer-core.NullDereference): spawn() set it
		g_warning("%s", error->message);
}

gboolean
exh_local_child_start(ExhLocalChild *child, GError **error)
{
	child->wanted = TRUE;
	clear_source(&child->restart_source);
	if (child->stopping && child->proc != NULL) {
		/* the old process is still going: start anew once it is gone */
		child->start_after_stop = TRUE;
		return TRUE;
	}
	if (child->proc != NULL)
		return TRUE;
	return spawn(child, error);
}

static gboolean
restart_due(gpointer data)
{
	ExhLocalChild *child = data;

	g_source_unref(child->restart_source);
	child->restart_source = NULL;
	if (child->wanted && child->proc == NULL)
		respawn(child);
	return G_SOURCE_REMOVE;
}

static void
schedule_restart(ExhLocalChild *child)
{
	if (g_get_monotonic_time() - child->started_at >= HEALTHY_US)
		child->backoff_ms = BACKOFF_INITIAL_MS;
	child->restart_source = g_timeout_source_new(child->backoff_ms);
	g_source_set_callback(child->restart_source, restart_due, child, NULL);
	g_source_attach(child->restart_source, g_main_context_get_thread_default());
	child->backoff_ms = MIN(child->backoff_ms * 2, BACKOFF_MAX_MS);
}

static void
finish_stop(ExhLocalChild *child)
{
	ExhLocalChildStopped stopped = child->stopped;

	clear_source(&child->kill_source);
	child->stopping = FALSE;
	child->stopped = NULL;
	if (stopped != NULL)
		stopped(child, child->stopped_data);
}

static void
child_waited(GObject *source, GAsyncResult *result, gpointer data)
{
	ExhLocalChild *child = data;
	g_autoptr(GSubprocess) proc = g_steal_pointer(&child->proc);
	gint status;

	g_subprocess_wait_finish(proc, result, NULL);
	status = g_subprocess_get_status(proc);
	/* whatever the process left behind in its group goes with it */
	if (child->pid > 0)
		reap_group(child->pid);
	child->pid = 0;
	if (child->exited != NULL)
		child->exited(child, status, child->exited_data);
	if (child->stopping) {
		gboolean again = child->start_after_stop;

		/* a stop issued after that start (e.g. the node's) cleared the flag,
		 * so when it is set the stopped callback cannot free the child */
		child->start_after_stop = FALSE;
		finish_stop(child);
		if (again && child->proc == NULL) {
			child->wanted = TRUE;
			respawn(child);
		}
		return;
	}
	if (child->supervised && child->wanted) {
		g_message("%s exited (status %d), restarting in %u ms",
			  child->name,
			  status,
			  child->backoff_ms);
		schedule_restart(child);
	}
}

static gboolean
kill_due(gpointer data)
{
	ExhLocalChild *child = data;

	if (child->pid > 0) {
		g_message("%s did not stop on SIGTERM, killing it", child->name);
		kill(-child->pid, SIGKILL);
		kill(child->pid, SIGKILL);
	}
	return G_SOURCE_CONTINUE;
}

static gboolean
stopped_idle(gpointer data)
{
	finish_stop(data);
	return G_SOURCE_REMOVE;
}

void
exh_local_child_stop(ExhLocalChild *child,
		     guint timeout_ms,
		     ExhLocalChildStopped stopped,
		     gpointer data)
{
	child->wanted = FALSE;
	child->start_after_stop = FALSE;
	clear_source(&child->restart_source);
	child->stopping = TRUE;
	child->stopped = stopped;
	child->stopped_data = data;
	clear_source(&child->kill_source);
	if (child->proc == NULL) {
		child->kill_source = g_idle_source_new();
		g_source_set_callback(child->kill_source, stopped_idle, child, NULL);
	} else {
		kill(-child->pid, SIGTERM);
		kill(child->pid, SIGTERM);
		child->kill_source = g_timeout_source_new(timeout_ms);
		g_source_set_callback(child->kill_source, kill_due, child, NULL);
	}
	g_source_attach(child->kill_source, g_main_context_get_thread_default());
}

gboolean
exh_local_child_signal(ExhLocalChild *child, gint sig)
{
	if (child->proc == NULL || child->pid <= 0)
		return FALSE;
	return kill(child->pid, sig) == 0;
}

gboolean
exh_local_child_is_running(ExhLocalChild *child)
{
	return child->proc != NULL;
}

GPid
exh_local_child_get_pid(ExhLocalChild *child)
{
	return child->pid;
}

guint
exh_local_child_get_starts(ExhLocalChild *child)
{
	return child->starts;
}

const gchar *
exh_local_child_get_name(ExhLocalChild *child)
{
	return child->name;
}

void
exh_local_child_free(ExhLocalChild *child)
{
	if (child == NULL)
		return;
	g_return_if_fail(child->proc == NULL);
	clear_source(&child->restart_source);
	clear_source(&child->kill_source);
	g_free(child->name);
	g_strfreev(child->argv);
	g_free(child->log_path);
	g_free(child);
}
