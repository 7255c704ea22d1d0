/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * One node of the local backend (see exh-local-backend.h for the layout and
 * the lifecycle): its sandbox, node.ini and key, the Configs written into
 * it, and the three children its type's descriptor names (job, service,
 * agent; exh-local-type.h).  Lives on the backend's thread only.
 */
#pragma once

#include "exh-local-backend.h"
#include "exh-local-type.h"

typedef struct _ExhLocalNode ExhLocalNode;

/**
 * ExhLocalEnv:
 * @config: the backend's settings
 * @type: the node descriptor
 * @vars: the placeholders every node shares: `bin:N` (an optional binary
 *   turned off has none), `port:N`, `set:N`
 * @ports: the resolved ports, in @type's order
 * @has_agent: %FALSE when the agent's binary is turned off
 * @changed: called when a node's status changed
 * @changed_data: its data
 *
 * What every node of a backend shares.
 */
typedef struct {
	const ExhLocalConfig *config;
	ExhLocalType *type;
	GHashTable *vars;
	GArray *ports; /* guint */
	gboolean has_agent;
	void (*changed)(ExhLocalNode *node, gpointer data);
	gpointer changed_data;
} ExhLocalEnv;

/**
 * exh_local_node_new:
 * @env: (transfer none): shared settings, outliving the node
 * @set_dir: the set's directory
 * @set_uuid: the set
 * @uuid: the node
 * @name: its name
 * @ipv4: its address
 * @error: return location for a #GError
 *
 * Creates (or adopts) the sandbox, the key and node.ini, starts the agent
 * and, when the type's `job_if_exists` is already there, the job.
 *
 * Returns: (transfer full): the node, or %NULL
 */
ExhLocalNode *exh_local_node_new(const ExhLocalEnv *env,
				 const gchar *set_dir,
				 const gchar *set_uuid,
				 const gchar *uuid,
				 const gchar *name,
				 const gchar *ipv4,
				 GError **error);

/* Rewrites node.ini (new endpoints) and restarts the agent when it changed. */
gboolean exh_local_node_refresh(ExhLocalNode *node, GError **error);

/**
 * exh_local_node_apply_config:
 * @node: a node
 * @target: the Config (its on_change must be one the backend maps)
 * @error: return location for a #GError
 *
 * Returns: %TRUE when the file is in place (the action may still run)
 */
gboolean exh_local_node_apply_config(ExhLocalNode *node,
				     const ExhConfigTarget *target,
				     GError **error);

/* Forgets a Config (the file stays). */
void exh_local_node_forget_config(ExhLocalNode *node, const gchar *uuid);

/* %TRUE when the node holds @uuid; @out_status is its status. */
gboolean exh_local_node_config_status(ExhLocalNode *node,
				      const gchar *uuid,
				      ExhInfraStatus *out_status);

/* Checks that @command is an on_change the node's type maps. */
gboolean exh_local_node_check_on_change(const ExhLocalEnv *env,
					const gchar *command,
					GError **error);

ExhInfraStatus exh_local_node_get_status(ExhLocalNode *node);
/* (nullable): why the node is in ERROR */
const gchar *exh_local_node_get_error(ExhLocalNode *node);

/* (transfer full): the node as an actual #ExhInfraNode */
ExhInfraNode *exh_local_node_to_infra(ExhLocalNode *node);
/* (transfer full): a snapshot for tests */
ExhLocalNodeInfo *exh_local_node_info(ExhLocalNode *node);

const gchar *exh_local_node_get_uuid(ExhLocalNode *node);
const gchar *exh_local_node_get_set_uuid(ExhLocalNode *node);
const gchar *exh_local_node_get_ipv4(ExhLocalNode *node);
const gchar *exh_local_node_get_dir(ExhLocalNode *node);

/* Stops or restarts the agent and keeps it so (tests). */
void exh_local_node_set_agent_running(ExhLocalNode *node, gboolean running);

/**
 * exh_local_node_stop:
 * @node: a node
 * @done: called once every child of the node is gone
 * @data: its data
 *
 * SIGTERM, then SIGKILL after the configured timeout, to every child.
 */
void exh_local_node_stop(ExhLocalNode *node,
			 void (*done)(ExhLocalNode *node, gpointer data),
			 gpointer data);

/* Frees a stopped node; its sandbox stays. */
void exh_local_node_free(ExhLocalNode *node);
