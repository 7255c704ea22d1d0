/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * /etc/exim4/policy of the data plane: the abuse controls exim reads
 * (docs/abuse-controls.md).
 */
#pragma once

#include <glib.h>

#include "exm-mail-node.h"

/**
 * exm_mail_policy_render:
 * @node: the value
 *
 * A comment, then `.instance: mph=N rpd=N ceiling=N authfail=N authwindow=N`
 * (the effective values, defaults filled in), then one line per ACTIVE account
 * with a setting of its own, sorted: `user@domain: [mph=N] [rpd=N]
 * [senders=p1:p2...] [prev=<hash> prevuntil=S] [expires=S]` (S: seconds since
 * the epoch; the hash without its `{SCHEME}` prefix, one word with no quote,
 * backslash, `:` or space).  Every value is re-checked here: only integers within
 * their bounds and patterns of exm_mail_validate_normalize_sender() inside the
 * node's domain are written (a pattern that fails is left out, which narrows the
 * list; it never widens it), so no byte of a value can end a line, start a key or
 * carry an exim list or expansion operator.
 *
 * Returns: (transfer full): the file content
 */
gchar *exm_mail_policy_render(const ExmMailNode *node);

/**
 * exm_mail_policy_render_held:
 * @held: (nullable): a set of full addresses (`user@domain`) the circuit
 *   breaker holds (docs/abuse-controls.md §7)
 *
 * As exm_mail_policy_render(), with ` held=1` first on the line of each
 * active account of the node that @held names (a line of its own when the
 * account has no other setting).  Only the node's own accounts are written:
 * an address of @held that is none of them writes nothing.
 *
 * Returns: (transfer full): the file content
 */
gchar *exm_mail_policy_render_held(const ExmMailNode *node, GHashTable *held);
