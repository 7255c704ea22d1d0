/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Threads that run by the time their start returns (see exh-thread.h).
 */
#include "exh-thread.h"

/* On the starting thread's stack: valid until it saw @running. */
typedef struct {
	GThreadFunc func;
	gpointer data;
	GMutex lock;
	GCond cond;
	gboolean running;
} Start;

static gpointer
thread_started(gpointer data)
{
	Start *start = data;
	GThreadFunc func = start->func;
	gpointer func_data = start->data;

	g_mutex_lock(&start->lock);
	start->running = TRUE;
	g_cond_signal(&start->cond);
	g_mutex_unlock(&start->lock);
	return func(func_data);
}

GThread *
exh_thread_new_running(const gchar *name, GThreadFunc func, gpointer data)
{
	Start start = { func, data, { 0 }, { 0 }, FALSE };
	GThread *thread;

	g_mutex_init(&start.lock);
	g_cond_init(&start.cond);
	thread = g_thread_new(name, thread_started, &start);
	g_mutex_lock(&start.lock);
	while (!start.running)
		g_cond_wait(&start.cond, &start.lock);
	g_mutex_unlock(&start.lock);
	g_mutex_clear(&start.lock);
	g_cond_clear(&start.cond);
	return thread;
}
