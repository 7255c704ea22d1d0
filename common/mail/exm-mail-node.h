/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The `mail_instance_node` value (docs/mail.md §1).  Strings
 * are owned.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

/* One account inside the `mail_instance_node` value. */
typedef struct {
	gchar *username;
	gchar *password_hash; /* as stored, `{SCHEME}` prefix kept */
	gboolean active;
} ExmMailNodeAccount;

/**
 * ExmMailNode:
 *
 * The `mail_instance_node` value: `{uuid, name, domain, accounts: {username:
 * {password_hash, active}}}`.  @accounts is sorted by username.
 */
typedef struct {
	gchar *uuid;
	gchar *name;
	gchar *domain;
	GPtrArray *accounts; /* ExmMailNodeAccount*, sorted by username */
} ExmMailNode;

ExmMailNode *exm_mail_node_new(void);
void exm_mail_node_free(ExmMailNode *node);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmMailNode, exm_mail_node_free)

/* Adds (copies) an account, keeping @accounts sorted; a duplicate username fails. */
gboolean exm_mail_node_add_account(ExmMailNode *node,
				   const gchar *username,
				   const gchar *password_hash,
				   gboolean active,
				   GError **error);

/**
 * exm_mail_node_from_json:
 * @node: a JSON object as the agent payload carries it
 * @error: %EXM_MAIL_ERROR_INVALID naming the bad member
 *
 * Validates uuid, name (1..255), domain, every username and password hash and the
 * `active` flag (boolean).  Unknown members (status, dkim_*) are ignored.
 *
 * Returns: (transfer full): the value
 */
ExmMailNode *exm_mail_node_from_json(JsonNode *node, GError **error);

/**
 * exm_mail_node_to_json:
 * Returns: (transfer full): `{uuid, name, domain, accounts}` exactly, no other key
 */
JsonNode *exm_mail_node_to_json(const ExmMailNode *node);
