/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A child process of the local backend: spawned in a process group of its
 * own with its output appended to a log file, optionally supervised
 * (restarted with a doubling backoff when it dies), and stopped with SIGTERM
 * to its group, then SIGKILL after a timeout.  Everything runs on the
 * #GMainContext that is thread-default where the child was created.
 */
#pragma once

#include <gio/gio.h>

typedef struct _ExhLocalChild ExhLocalChild;

/**
 * ExhLocalChildExited:
 * @child: the child
 * @wait_status: its wait status (see g_spawn_check_wait_status())
 * @user_data: user data
 *
 * Called on every exit of the process, before any restart is scheduled.
 */
typedef void (*ExhLocalChildExited)(ExhLocalChild *child, gint wait_status, gpointer user_data);

/* Called once the process stopped by exh_local_child_stop() is gone. */
typedef void (*ExhLocalChildStopped)(ExhLocalChild *child, gpointer user_data);

/**
 * exh_local_child_new:
 * @name: for logs (the type's child name, e.g. `agent`)
 * @argv: the command (copied); no shell
 * @log_path: output of both stdout and stderr, appended
 * @supervised: restart it when it dies (unless stopped)
 *
 * Returns: (transfer full): a child, not started
 */
ExhLocalChild *exh_local_child_new(const gchar *name,
				   const gchar *const *argv,
				   const gchar *log_path,
				   gboolean supervised);

void exh_local_child_set_exited(ExhLocalChild *child, ExhLocalChildExited exited, gpointer data);

/* Replaces the command for the next start. */
void exh_local_child_set_argv(ExhLocalChild *child, const gchar *const *argv);

/* Spawns the process (a no-op when it runs); re-enables supervision. */
gboolean exh_local_child_start(ExhLocalChild *child, GError **error);

/**
 * exh_local_child_stop:
 * @child: a child
 * @timeout_ms: SIGTERM → SIGKILL delay
 * @stopped: (nullable): called once the process is gone (at once, from an
 *   idle, when it is not running)
 * @data: its data
 *
 * Stops the process and its group and disables supervision until the next
 * exh_local_child_start().
 */
void exh_local_child_stop(ExhLocalChild *child,
			  guint timeout_ms,
			  ExhLocalChildStopped stopped,
			  gpointer data);

/* Sends @sig to the process (not its group); %FALSE when it is not running. */
gboolean exh_local_child_signal(ExhLocalChild *child, gint sig);

gboolean exh_local_child_is_running(ExhLocalChild *child);
GPid exh_local_child_get_pid(ExhLocalChild *child);
guint exh_local_child_get_starts(ExhLocalChild *child);
const gchar *exh_local_child_get_name(ExhLocalChild *child);

/* Frees a child that is not running and has no stop pending. */
void exh_local_child_free(ExhLocalChild *child);
