/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The data-plane driver of kind `mail_instance_node` (docs/mail.md
 * §3.4, docs/architecture.md §2 step 5): applies a value to /etc/exim4/passwd and reads the
 * actual state back.  The universal agent and the operator CLI both call it.
 *
 * The last applied value of each resource is kept in
 * /var/lib/exordos/universal_agent/mail_meta.json, upstream's layout:
 * `{"mail_instance_node": {"resources": {"<uuid>": {uuid, name, domain, accounts}}}}`.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "exm-atomic.h"
#include "exm-dp-acme.h"
#include "exm-dp-breaker.h"
#include "exm-dp-config.h"
#include "exm-dp-logstats.h"
#include "exm-dp-usage-store.h"
#include "exm-dp-usage.h"

#define EXM_DP_DRIVER_KIND "mail_instance_node"
/* the last listing (docs/scale.md §3), beside the meta file */
#define EXM_DP_DRIVER_LISTING_FILE "mail_listing.json"
/* the breaker's counting is saved at most this often (a trip or an action at once) */
#define EXM_DP_DRIVER_BREAKER_SAVE_SECONDS 60

typedef struct _ExmDpDriver ExmDpDriver;

/**
 * exm_dp_driver_new:
 * @config: validated settings (copied what is needed; may be freed after)
 * @error: %EXM_DP_ERROR_CONFIG when the owner or group does not exist
 *
 * Returns: (transfer full): the driver
 */
ExmDpDriver *exm_dp_driver_new(const ExmDpConfig *config, GError **error);
/* Frees @self (NULL is fine); the files stay as they are. */
void exm_dp_driver_free(ExmDpDriver *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmDpDriver, exm_dp_driver_free)

/**
 * exm_dp_driver_set_hooks:
 * @fault: (nullable): called before each step of the passwd write (tests)
 * @writes: (nullable): incremented on every completed passwd write
 */
void exm_dp_driver_set_hooks(ExmDpDriver *self,
			     ExmAtomicFaultFunc fault,
			     gpointer fault_data,
			     guint *writes);

/* Returns: the kinds this driver handles (%NULL-terminated) */
const gchar *const *exm_dp_driver_kinds(void);

/**
 * exm_dp_driver_create:
 * @kind: %EXM_DP_DRIVER_KIND
 * @value: the target value `{uuid, name, domain, accounts}` (unknown members ignored)
 * @error: %EXM_DP_ERROR_INVALID, %EXM_DP_ERROR_EXISTS (this resource exists, or
 *   the node already serves another one), %EXM_DP_ERROR_KIND, %EXM_DP_ERROR_FAILED
 *
 * Returns: (transfer full): the actual value after the write, or %NULL
 */
JsonNode *exm_dp_driver_create(ExmDpDriver *self,
			       const gchar *kind,
			       JsonNode *value,
			       GError **error);

/* As create, for an existing resource (%EXM_DP_ERROR_NOT_FOUND otherwise). */
JsonNode *exm_dp_driver_update(ExmDpDriver *self,
			       const gchar *kind,
			       JsonNode *value,
			       GError **error);

/**
 * exm_dp_driver_delete:
 *
 * Forgets the resource and empties passwd, so no account of a deleted instance
 * can log in (upstream left the file alone because the VM goes away too).
 */
gboolean exm_dp_driver_delete(ExmDpDriver *self,
			      const gchar *kind,
			      const gchar *uuid,
			      GError **error);

/**
 * exm_dp_driver_list:
 *
 * Returns: (transfer full) (element-type JsonNode): the actual value of every
 * resource: `{uuid, name, domain, accounts, dkim_public_key, dkim_selector,
 * tls}` (`tls`: exm_dp_tls_status() of the certificate exim serves), plus
 * `usage` when set (exm_dp_driver_set_usage()), and `breaker` when a breaker
 * is set and holds an account or reports an action done
 * (exm_dp_driver_set_breaker())
 */
GPtrArray *exm_dp_driver_list(ExmDpDriver *self, const gchar *kind, GError **error);

/**
 * exm_dp_driver_unchanged:
 * @kind: a kind
 *
 * Whether a list() of @kind now would return what the last one did: %TRUE only
 * when no write came after it and no file it read was touched since (their
 * stamps, exm-stamp.h), and the live members (usage, breaker, captures) are
 * as listed, or only the usage moved and the hold is not over
 * (exm_dp_driver_set_usage_hold()).  Costs a few stat() calls and the live
 * members' text whatever the number of accounts.
 *
 * Returns: %TRUE when nothing changed that is to be reported now
 */
gboolean exm_dp_driver_unchanged(ExmDpDriver *self, const gchar *kind);

/**
 * exm_dp_driver_keys_unchanged:
 * @kind: a kind
 *
 * exm_dp_driver_unchanged() without the live members: %TRUE when no write
 * came after the last list() and no file it read was touched since, whatever
 * the usage, the breaker or the captures did (they are no target's keys);
 * or when the last write was a put whose result was kept as the listing
 * (the meta file serves that value alone) and no file was touched since.
 *
 * Returns: %TRUE when the files are as listed or as the last put left them
 */
gboolean exm_dp_driver_keys_unchanged(ExmDpDriver *self, const gchar *kind);

/* The actual value of one resource, %EXM_DP_ERROR_NOT_FOUND when unknown. */
JsonNode *exm_dp_driver_get(ExmDpDriver *self,
			    const gchar *kind,
			    const gchar *uuid,
			    GError **error);

/**
 * exm_dp_driver_apply:
 * @changed: (out) (optional): %TRUE when passwd was rewritten
 *
 * Create or update, whichever applies (the operator CLI).
 *
 * Returns: (transfer full): the actual value, or %NULL
 */
JsonNode *exm_dp_driver_apply(ExmDpDriver *self,
			      JsonNode *value,
			      gboolean *changed,
			      GError **error);

/**
 * exm_dp_driver_set_usage:
 * @log: (nullable): the main log reader feeding @usage (polled before each
 *   actual value is read)
 * @usage: (nullable): when set, every actual value carries its summary as the
 *   member %EXM_DP_USAGE_MEMBER (docs/usage.md)
 *
 * Both are borrowed: the caller keeps them alive as long as the driver.
 */
void exm_dp_driver_set_usage(ExmDpDriver *self, ExmDpLogStats *log, ExmDpUsage *usage);

/**
 * exm_dp_driver_set_usage_hold:
 * @seconds: how long after a listing a change of the usage member alone
 *   leaves exm_dp_driver_unchanged() %TRUE (0: never; the driver starts with
 *   the configuration's `usage_report_interval`)
 *
 * The usage travels in the node's value with every account, and the
 * protocol reports a value whole: without a hold, a node whose mail moves
 * reports all its accounts at every iteration.  A change of the files, of
 * the breaker's member or of the captures is never held; nor is the first
 * change of the usage after a quiet spell (docs/usage.md §3).
 */
void exm_dp_driver_set_usage_hold(ExmDpDriver *self, guint seconds);

/**
 * exm_dp_driver_set_usage_store:
 * @store: (nullable): borrowed; after each poll of the usage log the usage
 *   is saved there when the log's position moved (exm-dp-usage-store.h)
 *
 * Call after exm_dp_driver_set_usage(), which forgets the store.
 */
void exm_dp_driver_set_usage_store(ExmDpDriver *self, ExmDpUsageStore *store);

/**
 * exm_dp_driver_set_breaker:
 * @breaker: (nullable): borrowed, fed by the usage reader (set the usage
 *   first); every actual value carries its report as %EXM_DP_BREAKER_MEMBER
 *   when it has one, the policy holds its tripped accounts, and a node value's
 *   `breaker_action` is performed once per token
 * @path: (nullable): where its state is kept (breaker.json)
 *
 * The breaker set before is saved first (the agent's stop calls this with
 * %NULL), so a clean restart loses no counting.
 */
void exm_dp_driver_set_breaker(ExmDpDriver *self, ExmDpBreaker *breaker, const gchar *path);

/**
 * exm_dp_driver_breaker_tick:
 *
 * Reads what the log gained and holds the accounts that tripped: the agent
 * calls it every second, so a trip does not wait for the agent's next
 * iteration (a long poll may take 25 s).
 */
void exm_dp_driver_breaker_tick(ExmDpDriver *self);

/**
 * exm_dp_driver_set_acme:
 * @acme: (nullable): borrowed; every apply passes the node value's `acme`
 *   member to exm_dp_acme_set_target() (docs/tls.md §5)
 */
void exm_dp_driver_set_acme(ExmDpDriver *self, ExmDpAcme *acme);
