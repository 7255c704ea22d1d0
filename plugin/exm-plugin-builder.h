/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail plugin's builders (plugin/exordos-paas-builder.h), internal to the
 * plugin.  Two builders over `mail_instances`, as upstream
 * (docs/mail.md §3):
 *
 * - infra (`mail_instance_iaas`): one NodeSet `mailaas-dp-<uuid>` and, per
 *   node of the actual set, the Config `/etc/exordos_metapaas/mail.env`;
 * - paas (`mail_instance`, master `node_set`): once the NodeSet is ACTIVE,
 *   one `mail_instance_node` for agent uuid5(node, `mailaas`).
 *
 * Both compute the instance patch with the same pure function
 * (exm_plugin_builder_desired()), so whichever runs first applies it and the
 * other finds nothing to change: `ipsv4` from the actual NodeSet, the DKIM
 * key and selector from the node's actual value, and the status of
 * docs/architecture.md §2 step 6.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "exm-mail-model.h"
#include "exm-plugin-private.h"

G_BEGIN_DECLS

#define EXM_PLUGIN_KIND_IAAS	 "mail_instance_iaas"
#define EXM_PLUGIN_KIND_PAAS	 "mail_instance"
#define EXM_PLUGIN_KIND_NODE_SET "node_set"
#define EXM_PLUGIN_KIND_CONFIG	 "config"
#define EXM_PLUGIN_KIND_NODE	 "mail_instance_node"
#define EXM_PLUGIN_ELEMENT	 "mailaas"
#define EXM_PLUGIN_ROOT_DISK_GB	 6
#define EXM_PLUGIN_ENV_PATH	 "/etc/exordos_metapaas/mail.env"
#define EXM_PLUGIN_ENV_ON_CHANGE "systemctl restart exordos-metapaas-mail-configure"

/* The served certificate as the instance stores it (docs/tls.md §4), each
 * member a column's text (%NULL: SQL NULL); `not_after` in µs since the epoch. */
typedef struct {
	gchar *source;
	gchar *issuer;
	gchar *not_after;
	gchar *error;
} ExmPluginTlsStatus;

/* What load() reads: the instance row, its version's image, its accounts;
 * plus the host's infra project (NULL: the tenant's, an older host). */
typedef struct {
	ExmMailInstance *instance;
	gchar *image;
	gchar *infra_project;
	ExmMailNode *accounts;	/* only @accounts is filled; %NULL for the infra builder */
	gchar *usage_hash;	/* the stored usage report's hash (paas only; else %NULL) */
	gchar *breaker_hash;	/* the stored breaker report's hash (paas only; else %NULL) */
	gchar *capture_hash;	/* the stored captured report's (paas only; else %NULL) */
	ExmPluginTlsStatus tls; /* the instance's tls_* columns */
	/* ACME in effect (docs/tls.md §6): the instance's override, else its
	 * version's; %NULL: none */
	gchar *acme_directory_url;
	gchar *acme_contact;
	/* the tenant's own certificate (paas only; both %NULL without one);
	 * the key is wiped when freed */
	gchar *tls_custom_chain;
	gchar *tls_custom_key;
} ExmPluginBuilderInput;

void exm_plugin_builder_input_free(gpointer input);

/* What the engine's view says about the instance's derivatives. */
typedef struct {
	JsonNode *ns_target;	/* node_set target value, or NULL */
	JsonNode *ns_actual;	/* node_set actual value, or NULL */
	const gchar *ns_status; /* its actual status */
	const gchar *node_target_hash;
	JsonNode *node_actual; /* mail_instance_node actual value, or NULL */
	const gchar *node_status;
	const gchar *node_hash;
	GPtrArray *nodes; /* node uuids of the actual set, sorted */
	GPtrArray *ips;	  /* their valid ipv4s, same order */
} ExmPluginBuilderSeen;

ExmPluginBuilderSeen *exm_plugin_builder_seen_new(const ExordosPaasBuildView *view);
void exm_plugin_builder_seen_free(ExmPluginBuilderSeen *seen);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmPluginBuilderSeen, exm_plugin_builder_seen_free)

/**
 * exm_plugin_builder_desired:
 * @in: the loaded input
 * @seen: the view
 * @infra_requested: the NodeSet target exists or is being emitted now
 * @node_hash: (nullable): the hash of the node target being emitted now, or
 *   %NULL to use the one in the view
 *
 * Returns: (transfer full) (nullable): the patch JSON text
 *   (`{status, ipsv4, dkim_public_key, dkim_selector}`) when it differs from
 *   @in, else %NULL; *@out_status gets the status either way
 */
gchar *exm_plugin_builder_desired(const ExmPluginBuilderInput *in,
				  const ExmPluginBuilderSeen *seen,
				  gboolean infra_requested,
				  const gchar *node_hash,
				  const gchar **out_status);

/**
 * exm_plugin_builder_patch_add:
 * @patch: (transfer full) (nullable): the instance patch so far
 * @name: a member the patch carries beside the instance's own (a node report)
 * @value: (transfer full): its value
 *
 * Returns: (transfer full) (nullable): @patch (or a new one) with @name set;
 *   %NULL when @patch is not a JSON object
 */
gchar *exm_plugin_builder_patch_add(gchar *patch, const gchar *name, JsonNode *value);

/* Value of the instance's own target: its target fields as JSON text. */
gchar *exm_plugin_builder_instance_value(const ExmPluginBuilderInput *in, gboolean iaas);

/* exm-plugin-builder-infra.c / -paas.c */
gboolean exm_plugin_builder_infra_build(gpointer ctx,
					gconstpointer input,
					const ExordosPaasBuildView *view,
					const ExordosPaasBuildSink *sink,
					gchar **out_error);
gboolean exm_plugin_builder_paas_build(gpointer ctx,
				       gconstpointer input,
				       const ExordosPaasBuildView *view,
				       const ExordosPaasBuildSink *sink,
				       gchar **out_error);

/* exm-plugin-builder.c: the descriptor member */
extern const ExordosPaasBuilders exm_plugin_builders;

G_END_DECLS
