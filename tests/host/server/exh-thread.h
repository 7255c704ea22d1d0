/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Threads that run by the time their start returns.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * exh_thread_new_running:
 * @name: the thread's name
 * @func: what it runs
 * @data: for @func
 *
 * g_thread_new(), returning once the thread runs @func: GLib names a thread
 * from inside it, so a thread just made may not be scheduled, nor named, for
 * a while on a loaded machine.  The host's first answer says that its
 * threads run (tests/host/README.md); a start that returned before its
 * thread ran would make that untrue for as long as the scheduler wanted.
 *
 * Returns: (transfer full): the thread
 */
GThread *exh_thread_new_running(const gchar *name, GThreadFunc func, gpointer data);

G_END_DECLS
