/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The gcl_iam enforcer (docs/rest-conventions.md §8.3).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _ExmRestEnforcer ExmRestEnforcer;

/**
 * exm_rest_enforcer_new:
 * @permissions: (nullable): %NULL-terminated `svc.res.action` grants
 *
 * gcl_iam's enforcer, wildcard shadowing quirk included: at the service and
 * resource levels, once a `*` key exists every lookup and later grant goes to it.
 * Malformed grants (not three dot-separated parts) are ignored.
 *
 * Returns: (transfer full): the enforcer
 */
ExmRestEnforcer *exm_rest_enforcer_new(const gchar *const *permissions);
/**
 * exm_rest_enforcer_allows:
 * @enforcer: an enforcer
 * @rule: `service.resource.action`
 *
 * Returns: %TRUE when the grants allow @rule
 */
gboolean exm_rest_enforcer_allows(const ExmRestEnforcer *enforcer, const gchar *rule);

/**
 * exm_rest_enforcer_check:
 * @enforcer: an enforcer
 * @rule: `service.resource.action`
 * @error: 403 `PolicyNotAuthorized` "Policy rule <rule> is disallowed."
 *
 * Returns: %TRUE when the grants allow @rule
 */
gboolean exm_rest_enforcer_check(const ExmRestEnforcer *enforcer,
				 const gchar *rule,
				 GError **error);
/**
 * exm_rest_enforcer_free:
 * @enforcer: (nullable): an enforcer
 *
 * Frees @enforcer.
 */
void exm_rest_enforcer_free(ExmRestEnforcer *enforcer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmRestEnforcer, exm_rest_enforcer_free)

G_END_DECLS
