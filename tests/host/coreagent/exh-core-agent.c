/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The core-agent's thread: agent/ua's loop on a main context of its own.
 */
#include "exh-core-agent.h"

#include <libpq-fe.h>

#include "exh-core-agent-driver.h"
#include "exh-pool.h"
#include "exh-seal.h"
#include "exh-thread.h"
#include "exm-error.h"
#include "exm-ua-agent.h"

struct _ExhCoreAgent {
	ExmUaAgent *agent;
	gchar *conninfo;
	gchar *filter;
	gchar *key_file;
	GMainContext *context;
	GMainLoop *loop;
	GThread *thread;
};

ExhCoreAgent *
exh_core_agent_new(const gchar *agent_config,
		   const gchar *conninfo,
		   const gchar *filter,
		   const gchar *seal_key_file,
		   GError **error)
{
	g_autoptr(ExhSealKey) probe = NULL;
	ExhCoreAgent *a;

	if (agent_config == NULL || seal_key_file == NULL) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_FAILED,
				    "[core_agent] needs agent_config and seal_key_file");
		return NULL;
	}
	probe = exh_seal_key_load(seal_key_file, error);
	if (probe == NULL)
		return NULL;
	a = g_new0(ExhCoreAgent, 1);
	a->conninfo = g_strdup(conninfo);
	a->filter = g_strdup(filter);
	a->key_file = g_strdup(seal_key_file);
	a->context = g_main_context_new();
	a->loop = g_main_loop_new(a->context, FALSE);
	/* its HTTP session belongs to the context it is made on: the thread's */
	g_main_context_push_thread_default(a->context);
	a->agent = exm_ua_agent_new(agent_config, error);
	g_main_context_pop_thread_default(a->context);
	if (a->agent == NULL) {
		exh_core_agent_free(a);
		return NULL;
	}
	return a;
}

gboolean
exh_core_agent_add_plugin(ExhCoreAgent *agent,
			  const ExordosPaasPluginDescriptor *desc,
			  gpointer plugin_ctx,
			  GError **error)
{
	ExhSealKey *key;
	PGconn *db;
	ExmUaDriver *driver;

	if (desc->abi_minor < 3 || desc->manifest_apply == NULL)
		return TRUE;
	key = exh_seal_key_load(agent->key_file, error);
	if (key == NULL)
		return FALSE;
	db = exh_pool_connect(agent->conninfo, error);
	if (db == NULL) {
		g_prefix_error(error, "core-agent: ");
		exh_seal_key_free(key);
		return FALSE;
	}
	driver = exh_core_agent_driver_new(desc, plugin_ctx, db, agent->filter, key, error);
	return driver != NULL && exm_ua_agent_add_driver(agent->agent, driver, error);
}

static gpointer
core_agent_thread(gpointer data)
{
	ExhCoreAgent *a = data;

	g_main_context_push_thread_default(a->context);
	exm_ua_agent_start(a->agent);
	g_main_loop_run(a->loop);
	/* the agent's sources and requests belong to this context */
	g_clear_pointer(&a->agent, exm_ua_agent_free);
	while (g_main_context_iteration(a->context, FALSE))
		;
	g_main_context_pop_thread_default(a->context);
	return NULL;
}

void
exh_core_agent_start(ExhCoreAgent *agent)
{
	agent->thread = exh_thread_new_running("core-agent", core_agent_thread, agent);
}

static gboolean
core_agent_quit(gpointer data)
{
	ExhCoreAgent *a = data;

	exm_ua_agent_stop(a->agent);
	g_main_loop_quit(a->loop);
	return G_SOURCE_REMOVE;
}

void
exh_core_agent_free(ExhCoreAgent *agent)
{
	if (agent == NULL)
		return;
	if (agent->thread != NULL) {
		g_main_context_invoke(agent->context, core_agent_quit, agent);
		g_thread_join(agent->thread);
	}
	if (agent->agent != NULL) {
		g_main_context_push_thread_default(agent->context);
		g_clear_pointer(&agent->agent, exm_ua_agent_free);
		g_main_context_pop_thread_default(agent->context);
	}
	g_main_loop_unref(agent->loop);
	g_main_context_unref(agent->context);
	g_free(agent->conninfo);
	g_free(agent->filter);
	g_free(agent->key_file);
	g_free(agent);
}
