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

/* What the tenant asked to do with an account's held mail. */
typedef enum {
	EXM_MAIL_BREAKER_NONE = 0,
	EXM_MAIL_BREAKER_RELEASE, /* deliver it and reset the breaker */
	EXM_MAIL_BREAKER_DISCARD, /* drop it and reset the breaker */
} ExmMailBreakerOp;

/* "release", "discard"; %NULL for NONE. */
const gchar *exm_mail_node_breaker_op_to_string(ExmMailBreakerOp op);

/* One account inside the `mail_instance_node` value.  Its username and
 * hash lie in the account's own block (exm_mail_node_account_new()): one
 * allocation an account instead of three, and the members ordered without
 * padding (at 100 000 accounts the node was 25 MB; docs/scale.md §3). */
typedef struct {
	const gchar *username;
	const gchar *password_hash; /* as stored, `{SCHEME}` prefix kept */
	/* abuse controls (docs/abuse-controls.md): %NULL is the instance default */
	GStrv senders; /* lower-cased patterns, sorted, no duplicate */
	/* rotation (docs/abuse-controls.md §5): the secret a rotation replaced,
	 * which logs in until @previous_until; %NULL: none */
	gchar *previous_hash;
	/* the circuit breaker's pending action (docs/abuse-controls.md §7): a
	 * UUID with an op, %NULL without */
	gchar *breaker_token;
	/* abuse controls: 0 is the instance default */
	gint64 messages_per_hour;
	gint64 recipients_per_day;
	/* rotation and expiry, seconds since the epoch: no login after
	 * @expires_at; 0: none */
	gint64 previous_until;
	gint64 expires_at;
	/* NONE, or RELEASE/DISCARD the account's held mail once per @breaker_token */
	ExmMailBreakerOp breaker_op;
	gboolean active;
	/* the sandbox (docs/sandbox.md): the account's mail is DKIM-signed and
	 * captured on the node instead of delivered */
	gboolean sandbox;
} ExmMailNodeAccount;

/* Returns: (transfer full): an account of @username and @password_hash
 * (copied, unchecked: exm_mail_node_add_account() checks them), nothing else
 * set; it is freed with the node that holds it */
ExmMailNodeAccount *exm_mail_node_account_new(const gchar *username,
					      const gchar *password_hash,
					      gboolean active);

/* The latest time the secrets' deadlines may name (9999-12-31T23:59:59Z). */
#define EXM_MAIL_EPOCH_MAX G_GINT64_CONSTANT(253402300799)

/**
 * ExmMailLimits:
 *
 * The instance's abuse-control settings; 0 means the built-in default
 * (EXM_MAIL_DEFAULT_* in exm-mail-validate.h).
 */
typedef struct {
	gint64 messages_per_hour;  /* default of its accounts */
	gint64 recipients_per_day; /* default of its accounts */
	gint64 messages_per_hour_ceiling;
	gint64 auth_fail_limit;
	gint64 auth_fail_window; /* seconds */
	/* the circuit breaker (docs/abuse-controls.md §7): an account trips
	 * past this many first-time recipients a day, or past this share of
	 * bounced recipients in a day once it had this many */
	gint64 breaker_new_recipients_per_day;
	gint64 breaker_bounce_percent;
	gint64 breaker_bounce_min;
} ExmMailLimits;

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
	ExmMailLimits limits;
	/* ACME (issue 22 item 2, docs/tls.md §6): the directory the node gets its
	 * certificate from and the account's contact; %NULL: no ACME / none */
	gchar *acme_directory_url;
	gchar *acme_contact;
	/* a tenant's own certificate (docs/tls.md §3): both or neither; the
	 * key is a secret, wiped when the value is freed */
	gchar *tls_custom_chain;
	gchar *tls_custom_key;
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
 * exm_mail_node_set_account_policy:
 * @username: an account added before
 * @messages_per_hour: 0 (default) or 1..%EXM_MAIL_MESSAGES_PER_HOUR_MAX
 * @recipients_per_day: 0 (default) or 1..%EXM_MAIL_RECIPIENTS_PER_DAY_MAX
 * @senders: (nullable): patterns (exm_mail_validate_normalize_sender(), inside
 *   @node's domain when it is set), at most %EXM_MAIL_SENDERS_MAX; %NULL: any
 *   address of the domain
 * @error: %EXM_MAIL_ERROR_INVALID naming `accounts.<username>.<field>`
 *
 * Returns: %TRUE when set
 */
gboolean exm_mail_node_set_account_policy(ExmMailNode *node,
					  const gchar *username,
					  gint64 messages_per_hour,
					  gint64 recipients_per_day,
					  const gchar *const *senders,
					  GError **error);

/**
 * exm_mail_node_set_account_secrets:
 * @username: an account added before
 * @previous_hash: (nullable): the secret a rotation replaced, a valid hash
 *   within the work-factor ceilings like the current one
 * @previous_until: when @previous_hash stops logging in (1..EXM_MAIL_EPOCH_MAX
 *   with a hash, 0 without)
 * @expires_at: 0, or when every login of the account stops
 *   (1..EXM_MAIL_EPOCH_MAX)
 * @error: %EXM_MAIL_ERROR_INVALID naming `accounts.<username>.<field>`
 *
 * Returns: %TRUE when set
 */
gboolean exm_mail_node_set_account_secrets(ExmMailNode *node,
					   const gchar *username,
					   const gchar *previous_hash,
					   gint64 previous_until,
					   gint64 expires_at,
					   GError **error);

/**
 * exm_mail_node_set_account_breaker:
 * @username: an account added before
 * @op: what to do with the account's held mail
 * @token: (nullable): a UUID naming this request (required with an op, %NULL
 *   without); the node does it once per token
 * @error: %EXM_MAIL_ERROR_INVALID naming `accounts.<username>.breaker_action`
 *
 * Returns: %TRUE when set
 */
gboolean exm_mail_node_set_account_breaker(ExmMailNode *node,
					   const gchar *username,
					   ExmMailBreakerOp op,
					   const gchar *token,
					   GError **error);

/* Sets whether the account's mail is captured instead of delivered. */
gboolean exm_mail_node_set_account_sandbox(ExmMailNode *node,
					   const gchar *username,
					   gboolean sandbox,
					   GError **error);

/* Validates each member (0 or within its bounds) and sets @node's limits. */
gboolean exm_mail_node_set_limits(ExmMailNode *node, const ExmMailLimits *limits, GError **error);

/**
 * exm_mail_node_set_tls_custom:
 * @chain: (nullable): the tenant's PEM chain, 1..%EXM_MAIL_CERT_PEM_MAX bytes
 * @key: (nullable): its PEM private key, the same bounds; copied
 * @error: %EXM_MAIL_ERROR_INVALID naming `tls_custom.<member>` (never its
 *   content)
 *
 * Sets (both) or clears (neither) the certificate the node serves instead
 * of its own.  Only the sizes are checked here: the node checks the pair
 * itself (exm_mail_cert_check()) before it installs it.
 *
 * Returns: %TRUE when set
 */
gboolean exm_mail_node_set_tls_custom(ExmMailNode *node,
				      const gchar *chain,
				      const gchar *key,
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
 * Returns: (transfer full): `{uuid, name, domain, accounts}`, plus `limits` and
 *   the accounts' `messages_per_hour`, `recipients_per_day`, `senders`,
 *   `previous_password_hash` with `previous_until`, `expires_at` and
 *   `breaker_action` `{op, token}` and `sandbox: true` only when they are set,
 *   and `acme` `{directory_url, contact?}` with a directory, and
 *   `tls_custom` `{chain, key}` while a certificate is set
 */
JsonNode *exm_mail_node_to_json(const ExmMailNode *node);
JsonNode *exm_mail_node_accounts_like(const ExmMailNode *node, JsonNode *like);
JsonNode *exm_mail_node_accounts_raw(const ExmMailNode *node);
JsonNode *exm_mail_node_to_json_with(const ExmMailNode *node, JsonNode *accounts);

/**
 * exm_mail_node_acme_set:
 * @directory_url: (nullable): an https URL (exm_mail_acme_check_directory_url());
 *   %NULL: no ACME
 * @contact: (nullable): `mailto:<address>` (exm_mail_acme_check_contact()),
 *   only with a directory; %NULL: none
 * @error: %EXM_MAIL_ERROR_INVALID naming `acme.directory_url` or `acme.contact`
 *
 * Returns: %TRUE when set (copies)
 */
gboolean exm_mail_node_acme_set(ExmMailNode *node,
				const gchar *directory_url,
				const gchar *contact,
				GError **error);

/*
 * The value's member `acme` (exm-mail-node-acme.c): absent or null is no
 * ACME, else `{directory_url, contact?}`, checked as untrusted input;
 * members it does not know are ignored (a newer control plane's).
 */
gboolean exm_mail_node_acme_from_json(ExmMailNode *node, JsonObject *obj, GError **error);

/* Adds the member `acme` to the object @b is building, only with a directory. */
void exm_mail_node_acme_to_json(JsonBuilder *b, const ExmMailNode *node);
