/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Loading PaaS type plugins with GModule and checking their ABI.
 */
#pragma once

#include <gmodule.h>

#include "exordos-paas-plugin.h"

/*
 * EXH_PLUGIN_HAS:
 * Whether descriptor @d has the optional member @member, added in ABI minor
 * @minor: its minor says so and its struct_size covers the member (the
 * member itself may still be %NULL).
 */
#define EXH_PLUGIN_HAS(d, minor, member)                                                           \
	((d)->abi_minor >= (minor) &&                                                              \
	 (d)->struct_size >=                                                                       \
		 G_STRUCT_OFFSET(ExordosPaasPluginDescriptor, member) + sizeof((d)->member))

/**
 * ExhPlugin:
 * @path: where it was loaded from
 * @module: the module
 * @desc: its descriptor (constant while @module is loaded)
 * @ctx: the context returned by init, once initialised
 * @initialised: init succeeded and shutdown is due
 * @mount_prefix: `/v1/types/<slug>/`
 * @host_table: the function table handed to this plugin's init; its
 *   host_data is the plugin, so log records name their plugin
 * @refs: references (atomic): the host's route table holds one, and so does
 *   each request dispatched to the plugin, so a plugin is never unloaded
 *   while a request uses it
 */
typedef struct {
	gchar *path;
	GModule *module;
	const ExordosPaasPluginDescriptor *desc;
	gpointer ctx;
	gboolean initialised;
	gchar *mount_prefix;
	gchar *infra_project;
	ExordosPaasHost host_table;
	gint refs;
} ExhPlugin;

/**
 * exh_plugin_load:
 * @path: a shared object
 * @error: %EXH_ERROR_PLUGIN with a message saying what is wrong
 *
 * Opens @path, finds the entry symbol and validates the descriptor: the ABI
 * major must equal this host's, @struct_size must cover the members of ABI
 * minor 0, the slug must be a valid URL segment and table prefix, the
 * function pointers must be set and the migrations well-formed.
 *
 * Returns: (transfer full): the plugin, or %NULL with @error set
 */
ExhPlugin *exh_plugin_load(const gchar *path, GError **error);

/* Calls the plugin's init with its own host function table; @infra_project
 * (the host's project, nullable) becomes its `infra_project_id` (ABI minor 2). */
gboolean exh_plugin_init(ExhPlugin *plugin, const gchar *infra_project, GError **error);

/* Calls the plugin's shutdown if init succeeded; idempotent. */
void exh_plugin_shutdown(ExhPlugin *plugin);

/* (transfer full): another reference to @plugin. */
ExhPlugin *exh_plugin_ref(ExhPlugin *plugin);

/* Drops a reference; the last one shuts down (if needed) and unloads. */
void exh_plugin_free(ExhPlugin *plugin);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhPlugin, exh_plugin_free)
