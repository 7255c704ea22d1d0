/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Internals of the mail plugin shared between its source files.  Nothing here
 * is exported from the .so.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>

#include "exm-rest.h"
#include "exordos-paas-plugin.h"

G_BEGIN_DECLS

/* The plugin context from init: immutable afterwards, shared by all threads. */
typedef struct {
	const ExordosPaasHost *host;
	gchar *infra_project; /* the host's infra project (ABI minor ≥ 2), or NULL */
} ExmPlugin;

/* exm-plugin.c */
const ExordosPaasPluginDescriptor *exm_plugin_get_descriptor(void);
extern const ExmRestModel exm_plugin_version_model;
extern const ExmRestModel exm_plugin_instance_model;
extern const ExmRestModel exm_plugin_account_model;
extern const ExmRestRoute exm_plugin_versions_route;
extern const ExmRestRoute exm_plugin_instances_route;
extern const ExmRestRoute exm_plugin_accounts_route;
/* the route mounted at /v1/types/mail/ (its tree is what dispatch walks) */
extern const ExmRestRoute exm_plugin_mail_route;

/* exm-plugin-abi.c: the ABI's model tables, derived from the declarations */
const ExordosPaasModel *const *exm_plugin_abi_models(void);
const ExordosPaasField *exm_plugin_abi_field(const ExmRestField *field, ExordosPaasField *out);

/* exm-plugin-dns.c: `GET instances/<uuid>/actions/dns_records` and
 * `…/actions/verify_dns` */
void exm_plugin_dns_action(ExmRestCrud *r, const ExmRestKind *kind);
/* The scheduled DNS re-check (ABI minor 4 periodic job `dns_recheck`): one
 * due instance per step; see #ExordosPaasPeriodicRunFunc. */
gboolean exm_plugin_dns_recheck_run(gpointer ctx,
				    PGconn *db,
				    gint64 now_us,
				    gboolean *out_more,
				    gchar **out_error);
/* The DNS gauges on the host's /metrics (ABI minor 4 `metrics`): ACTIVE
 * instances by dns_status, and per instance whether it is ok. */
gboolean exm_plugin_dns_metrics(gpointer ctx,
				PGconn *db,
				const ExordosPaasMetricSink *sink,
				gchar **out_error);

/* exm-plugin-usage.c: `GET instances/<uuid>/actions/deliveries` */
void exm_plugin_usage_action(ExmRestCrud *r, const ExmRestKind *kind);

/* exm-plugin-capture.c: `GET instances/<i>/accounts/<a>/actions/captured` */
void exm_plugin_capture_action(ExmRestCrud *r, const ExmRestKind *kind);

/**
 * exm_plugin_mail_rotate:
 * @r: `POST …/accounts/<uuid>/actions/rotate/invoke`
 * @kind: the accounts' kind
 *
 * Rotation with an overlap window (docs/abuse-controls.md §5): the new
 * `password` (hashed here) or `password_hash` becomes the account's secret,
 * the one it replaces keeps logging in for `overlap_seconds` (default a day,
 * at most 30 days, 0: at once), then stops on the node without any further
 * call.  Needs `account.update`; answers 200 with the account.
 */
void exm_plugin_mail_rotate(ExmRestCrud *r, const ExmRestKind *kind);

/**
 * exm_plugin_breaker_action:
 * @r: `POST …/accounts/<uuid>/actions/release/invoke` or `…/discard/invoke`
 * @kind: the accounts' kind
 *
 * The circuit breaker's actions (docs/abuse-controls.md §7): the account's
 * held mail is delivered (release) or dropped (discard) by the node, once per
 * fresh token.  No argument; needs `account.update`; answers 200 with the
 * account, `sending` "releasing" or "discarding" until the node reports it done.
 */
void exm_plugin_breaker_action(ExmRestCrud *r, const ExmRestKind *kind);

/* exm-plugin-em.c: the EM path (manifest_apply, ABI minor 3) */
const ExordosPaasModel *exm_plugin_em_model(const gchar *em_kind);
void exm_plugin_em_apply(gpointer ctx,
			 const ExordosPaasManifestRequest *request,
			 ExordosPaasRestResponse *response);

/* exm-plugin-mail.c */
extern const ExmRestKind exm_plugin_mail_versions;
extern const ExmRestKind exm_plugin_mail_instances;
extern const ExmRestKind exm_plugin_mail_accounts;

/**
 * exm_plugin_mail_acme_allowed:
 * @url: an instance's own `acme_directory_url`
 * @version: (nullable): its version's row
 *
 * exm_mail_acme_directory_allowed() with the version's directory and list
 * (docs/tls.md §6); any directory when @version is %NULL (gone).
 *
 * Returns: %TRUE when the instance may use @url
 */
gboolean exm_plugin_mail_acme_allowed(const gchar *url, const ExmRestRow *version);

G_END_DECLS
