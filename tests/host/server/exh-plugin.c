/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-plugin.h"

#include "exh-host.h"
#include "exh-log.h"
#include "exm-uuid.h"

#include <stddef.h>
#include <string.h>

/* The members of ABI minor 0 end with rest_response_clear. */
#define DESC_MIN_SIZE                                                                              \
	(offsetof(ExordosPaasPluginDescriptor, rest_response_clear) +                              \
	 sizeof(ExordosPaasRestResponseClearFunc))
/* Anything larger is not a descriptor but garbage. */
#define DESC_MAX_SIZE (64 * 1024)

/* A slug is a URL segment and a table prefix: [a-z][a-z0-9_]{0,31}. */
static gboolean
slug_is_valid(const gchar *slug)
{
	gsize len;

	if (slug == NULL || !g_ascii_islower(slug[0]))
		return FALSE;
	len = strlen(slug);
	if (len > 32)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_islower(slug[i]) && !g_ascii_isdigit(slug[i]) && slug[i] != '_')
			return FALSE;
	}
	return TRUE;
}

static gboolean
check_migrations(const ExordosPaasPluginDescriptor *desc, GError **error)
{
	if (desc->migrations == NULL)
		return TRUE;
	for (guint i = 0; desc->migrations[i] != NULL; i++) {
		const ExordosPaasMigration *m = desc->migrations[i];

		if (m->uuid == NULL || !exm_uuid_is_valid(m->uuid) || strlen(m->uuid) != 36 ||
		    m->up_sql == NULL || m->down_sql == NULL || m->depends == NULL) {
			g_set_error(error,
				    EXH_ERROR,
				    EXH_ERROR_PLUGIN,
				    "migration #%u is malformed (uuid, up/down SQL and depends "
				    "are required)",
				    i + 1);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
check_descriptor(const ExordosPaasPluginDescriptor *desc, GError **error)
{
	if (desc == NULL) {
		g_set_error_literal(error,
				    EXH_ERROR,
				    EXH_ERROR_PLUGIN,
				    "the entry point returned no descriptor");
		return FALSE;
	}
	if (desc->abi_major != EXORDOS_PAAS_PLUGIN_ABI_MAJOR) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_PLUGIN,
			    "plugin ABI %u.%u is incompatible with this host's ABI %u.%u "
			    "(the major versions differ); rebuild the plugin against this host",
			    desc->abi_major,
			    desc->abi_minor,
			    (guint)EXORDOS_PAAS_PLUGIN_ABI_MAJOR,
			    (guint)EXORDOS_PAAS_PLUGIN_ABI_MINOR);
		return FALSE;
	}
	if (desc->struct_size < DESC_MIN_SIZE || desc->struct_size > DESC_MAX_SIZE) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_PLUGIN,
			    "descriptor struct_size %" G_GSIZE_FORMAT " is implausible "
			    "(ABI %u.0 needs at least %" G_GSIZE_FORMAT ")",
			    desc->struct_size,
			    (guint)EXORDOS_PAAS_PLUGIN_ABI_MAJOR,
			    (gsize)DESC_MIN_SIZE);
		return FALSE;
	}
	if (!slug_is_valid(desc->slug)) {
		g_set_error_literal(error,
				    EXH_ERROR,
				    EXH_ERROR_PLUGIN,
				    "the slug must match [a-z][a-z0-9_]{0,31}");
		return FALSE;
	}
	if (desc->element == NULL || *desc->element == '\0' || desc->version == NULL) {
		g_set_error_literal(
			error, EXH_ERROR, EXH_ERROR_PLUGIN, "element and version are required");
		return FALSE;
	}
	if (desc->init == NULL || desc->shutdown == NULL || desc->rest_dispatch == NULL ||
	    desc->rest_response_clear == NULL) {
		g_set_error_literal(error,
				    EXH_ERROR,
				    EXH_ERROR_PLUGIN,
				    "init, shutdown, rest_dispatch and rest_response_clear "
				    "are required");
		return FALSE;
	}
	return check_migrations(desc, error);
}

ExhPlugin *
exh_plugin_load(const gchar *path, GError **error)
{
	g_autoptr(ExhPlugin) plugin = g_new0(ExhPlugin, 1);
	ExordosPaasPluginGetDescriptorFunc get_desc = NULL;

	plugin->refs = 1;
	plugin->path = g_strdup(path);
	/* local binding: two plugins may carry the same static helpers */
	plugin->module = g_module_open(path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
	if (plugin->module == NULL) {
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_PLUGIN,
			    "cannot load plugin %s: %s",
			    path,
			    g_module_error());
		return NULL;
	}
	if (!g_module_symbol(
		    plugin->module, EXORDOS_PAAS_PLUGIN_ENTRY_SYMBOL, (gpointer *)&get_desc) ||
	    get_desc == NULL) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_PLUGIN,
			    "plugin %s does not export %s: not an Exordos PaaS plugin",
			    path,
			    EXORDOS_PAAS_PLUGIN_ENTRY_SYMBOL);
		return NULL;
	}
	plugin->desc = get_desc();
	if (!check_descriptor(plugin->desc, error)) {
		g_prefix_error(error, "plugin %s refused: ", path);
		return NULL;
	}
	plugin->mount_prefix = g_strdup_printf("/v1/types/%s/", plugin->desc->slug);
	return g_steal_pointer(&plugin);
}

/* The plugin's log function: plugins are outside callers, so no WARNING (exh-log.h). */
static void
plugin_log(gpointer host_data,
	   ExordosPaasLogLevel level,
	   const gchar *request_id,
	   const gchar *message)
{
	ExhPlugin *plugin = host_data;
	GLogLevelFlags flags = level == EXORDOS_PAAS_LOG_DEBUG	? G_LOG_LEVEL_DEBUG
			       : level == EXORDOS_PAAS_LOG_INFO ? G_LOG_LEVEL_INFO
								: G_LOG_LEVEL_MESSAGE;

	exh_log(flags,
		request_id,
		"plugin %s: %s",
		plugin->desc->slug,
		message != NULL ? message : "");
}

gboolean
exh_plugin_init(ExhPlugin *plugin, const gchar *infra_project, GError **error)
{
	g_autofree gchar *message = NULL;

	if (plugin->initialised)
		return TRUE;
	g_free(plugin->infra_project);
	plugin->infra_project = g_strdup(infra_project);
	plugin->host_table = (ExordosPaasHost){
		.struct_size = sizeof(ExordosPaasHost),
		.abi_major = EXORDOS_PAAS_PLUGIN_ABI_MAJOR,
		.abi_minor = EXORDOS_PAAS_PLUGIN_ABI_MINOR,
		.host_data = plugin,
		.log = plugin_log,
		.infra_project_id = plugin->infra_project,
	};
	if (!plugin->desc->init(&plugin->host_table, &plugin->ctx, &message)) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_PLUGIN,
			    "plugin %s failed to initialise: %s",
			    plugin->desc->slug,
			    message != NULL ? message : "no reason given");
		plugin->ctx = NULL;
		return FALSE;
	}
	plugin->initialised = TRUE;
	exh_log(G_LOG_LEVEL_INFO,
		NULL,
		"plugin %s %s (ABI %u.%u) mounted at %s",
		plugin->desc->slug,
		plugin->desc->version,
		plugin->desc->abi_major,
		plugin->desc->abi_minor,
		plugin->mount_prefix);
	return TRUE;
}

void
exh_plugin_shutdown(ExhPlugin *plugin)
{
	if (!plugin->initialised)
		return;
	plugin->desc->shutdown(plugin->ctx);
	plugin->ctx = NULL;
	plugin->initialised = FALSE;
}

ExhPlugin *
exh_plugin_ref(ExhPlugin *plugin)
{
	g_atomic_int_inc(&plugin->refs);
	return plugin;
}

void
exh_plugin_free(ExhPlugin *plugin)
{
	if (plugin == NULL || !g_atomic_int_dec_and_test(&plugin->refs))
		return;
	if (plugin->desc != NULL)
		exh_plugin_shutdown(plugin);
	if (plugin->module != NULL)
		g_module_close(plugin->module);
	g_free(plugin->path);
	g_free(plugin->infra_project);
	g_free(plugin->mount_prefix);
	g_free(plugin);
}
