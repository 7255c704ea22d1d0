/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail plugin's descriptor and entry points: the one declaration of each
 * model (its fields; the ABI tables the host reads are derived from it in
 * exm-plugin-abi.c, and data/migrations must agree, which tests/pg checks),
 * the route tree of the `/v1/types/mail/` subtree, and the REST dispatch that
 * adapts an ExordosPaasRestRequest to the REST toolkit's CRUD request.
 *
 * Deliberate differences from upstream restalchemy (the contract is status,
 * error `type` and `code`; docs/rest-conventions.md, docs/mail.md §6):
 *  - a body that is JSON but no object, or of another Content-Type, is a 400
 *    ParseBodyError (upstream: 500 with Python internals);
 *  - types are strict: booleans must be true/false (upstream coerces by
 *    truthiness), and a type error at update is `TypeError` too (upstream:
 *    `ModelTypeError`; libexm-base has no such code);
 *  - an unknown sort key is a 400 (upstream: 500 KeyError);
 *  - deleting a referenced version is a 409 ConflictRecords (upstream: 500);
 *  - password_hash and password never appear in any answer, not even the 201
 *    or 200 of the write that set them, and neither can be a filter or sort
 *    key;
 *  - versions are written by operators only (mail_version.{create,update,
 *    delete}); the `?fields=` rule for request bodies is not enforced.
 */
#include "exm-config.h"

#include <stddef.h>
#include <string.h>

#include "exm-error.h"
#include "exm-json.h"
#include "exm-mail-acme.h"
#include "exm-mail-validate.h"
#include "exm-plugin-builder.h"
#include "exm-plugin-certificate.h"
#include "exm-plugin-private.h"
#include "exm-plugin-sql.h"
#include "exm-plugin-tls.h"
#include "exm-uuid.h"

/* ------------------------------------------------------------------ models */

#define EXM_PLUGIN_CLASS(name) "exordos_mail.controlplane.dm.models." name
#define RW		       EXM_REST_RW
#define RO		       EXM_REST_RO
#define HIDDEN		       EXM_REST_HIDDEN
#define F_REQ		       EXM_REST_FIELD_REQUIRED
#define F_NULL		       EXM_REST_FIELD_NULLABLE
#define F_RO		       EXM_REST_FIELD_READ_ONLY
#define F_SECRET	       EXM_REST_FIELD_SECRET
#define F_NOCOL		       EXM_REST_FIELD_NO_COLUMN
#define F_REQ_MODEL	       EXM_REST_FIELD_REQUIRED_BY_MODEL

/* The limits the mail rules (exm-plugin-mail.c, libexm-mail) enforce, for the
 * OpenAPI document; the rules stay the checks. */
#define LEN(lo, hi) EXM_REST_LIMIT_MIN_LENGTH | EXM_REST_LIMIT_MAX_LENGTH, 0, 0, (lo), (hi)
#define INT(lo, hi) EXM_REST_LIMIT_MIN | EXM_REST_LIMIT_MAX, (lo), (hi), 0, 0
static const ExmRestFieldSchema exm_plugin_s_name = { LEN(0, EXM_MAIL_NAME_MAX) };
static const ExmRestFieldSchema exm_plugin_s_instance_name = { LEN(1, EXM_MAIL_NAME_MAX),
							       NULL,
							       NULL,
							       "letters, digits, '-' and '_'" };
static const ExmRestFieldSchema exm_plugin_s_image = { LEN(0, EXM_MAIL_IMAGE_MAX) };
static const ExmRestFieldSchema exm_plugin_s_domain = { LEN(1, EXM_MAIL_DOMAIN_MAX),
							NULL,
							"hostname",
							"stored lower-case" };
/* the abuse controls' bounds (docs/abuse-controls.md), as the rules check them */
static const ExmRestFieldSchema exm_plugin_s_per_hour = { INT(1, EXM_MAIL_MESSAGES_PER_HOUR_MAX) };
static const ExmRestFieldSchema exm_plugin_s_per_day = { INT(1, EXM_MAIL_RECIPIENTS_PER_DAY_MAX) };
static const ExmRestFieldSchema exm_plugin_s_fail_limit = { INT(1, EXM_MAIL_AUTH_FAIL_LIMIT_MAX) };
static const ExmRestFieldSchema exm_plugin_s_fail_window = { INT(EXM_MAIL_AUTH_FAIL_WINDOW_MIN,
								 EXM_MAIL_AUTH_FAIL_WINDOW_MAX) };
/* the circuit breaker (docs/abuse-controls.md §7); null: the default */
static const ExmRestFieldSchema exm_plugin_s_breaker_new = {
	INT(1, EXM_MAIL_BREAKER_NEW_RECIPIENTS_MAX),
	NULL,
	NULL,
	"first-time recipients a day an account may reach before it is held; null: 200"
};
static const ExmRestFieldSchema exm_plugin_s_breaker_percent = {
	INT(1, 100),
	NULL,
	NULL,
	"share of an account's recipients of the day that may bounce before it is held; "
	"null: 20"
};
static const ExmRestFieldSchema exm_plugin_s_breaker_min = {
	INT(1, EXM_MAIL_BREAKER_BOUNCE_MIN_MAX),
	NULL,
	NULL,
	"recipients of the day before the bounce share counts; null: 50"
};
static const gchar *const exm_plugin_sendings[] = { "normal",
						    "held",
						    "releasing",
						    "discarding",
						    NULL };
static const ExmRestFieldSchema exm_plugin_s_sending = {
	0,    0,
	0,    0,
	0,    exm_plugin_sendings,
	NULL, "held: new mail is accepted and kept on the node until released or discarded"
};
static const gchar *const exm_plugin_held_reasons[] = { "new_recipients", "bounces", NULL };
static const ExmRestFieldSchema exm_plugin_s_held_reason = {
	0, 0, 0, 0, 0, exm_plugin_held_reasons, NULL, "the threshold crossed; null: not held"
};
static const ExmRestFieldSchema exm_plugin_s_held_counts = {
	0,
	0,
	0,
	0,
	0,
	NULL,
	NULL,
	"new_recipients, recipients, bounces and held_messages as the node reported them; "
	"null: not held"
};
static const ExmRestFieldSchema exm_plugin_s_cpu = { INT(EXM_MAIL_CPU_MIN, EXM_MAIL_CPU_MAX) };
static const ExmRestFieldSchema exm_plugin_s_ram = { INT(EXM_MAIL_RAM_MIN, EXM_MAIL_RAM_MAX),
						     NULL,
						     NULL,
						     "MiB" };
static const ExmRestFieldSchema exm_plugin_s_disk = { INT(EXM_MAIL_DISK_MIN, EXM_MAIL_DISK_MAX),
						      NULL,
						      NULL,
						      "GB; it can only grow" };
static const gchar *const exm_plugin_statuses[] = { "NEW", "IN_PROGRESS", "ACTIVE", "ERROR", NULL };
static const ExmRestFieldSchema exm_plugin_s_status = { 0, 0, 0, 0, 0, exm_plugin_statuses };
static const ExmRestFieldSchema exm_plugin_s_tls_source = {
	0, 0, 0, 0, 0, exm_plugin_tls_sources, NULL, "the certificate the node serves"
};
static const ExmRestFieldSchema exm_plugin_s_tls_issuer = {
	EXM_REST_LIMIT_MAX_LENGTH, 0,	 0,    0,
	EXM_PLUGIN_TLS_NAME_MAX,   NULL, NULL, "its issuer, one line"
};
static const ExmRestFieldSchema exm_plugin_s_tls_error = {
	EXM_REST_LIMIT_MAX_LENGTH,
	0,
	0,
	0,
	EXM_PLUGIN_TLS_ERROR_MAX,
	NULL,
	NULL,
	"why the node cannot serve (or renew) its certificate; null: no error"
};
static const ExmRestFieldSchema exm_plugin_s_username = { LEN(1, EXM_MAIL_USERNAME_MAX),
							  NULL,
							  NULL,
							  "the local part; stored lower-case" };
static const ExmRestFieldSchema exm_plugin_s_hash = {
	LEN(1, EXM_MAIL_HASH_MAX),
	NULL,
	NULL,
	"a crypt(3) hash; never echoed; or send password"
};
static const ExmRestFieldSchema exm_plugin_s_password = {
	EXM_REST_LIMIT_MIN_LENGTH,
	0,
	0,
	1,
	0,
	NULL,
	"password",
	"write-only: hashed on arrival; not with password_hash"
};
/* ACME (migration 0012, docs/tls.md §6) */
static const ExmRestFieldSchema exm_plugin_s_acme_url = {
	LEN(1, EXM_MAIL_ACME_URL_MAX),
	NULL,
	"uri",
	"the ACME directory (RFC 8555) the nodes get their certificate from; null: no ACME"
};
#define ACME_ALLOWED_MAX G_STRINGIFY(EXM_MAIL_ACME_ALLOWED_MAX)
static const ExmRestFieldSchema exm_plugin_s_acme_allowed = {
	.description = "the directories an instance may name as its own acme_directory_url "
		       "besides this version's, at most " ACME_ALLOWED_MAX " https URLs; "
		       "null: any; empty: this version's only",
};
#undef ACME_ALLOWED_MAX
static const ExmRestFieldSchema exm_plugin_s_acme_contact = {
	LEN(1, EXM_MAIL_ACME_CONTACT_MAX),
	NULL,
	NULL,
	"the ACME account's contact, mailto:<address>; null: none"
};
static const ExmRestFieldSchema exm_plugin_s_acme_url_override = {
	LEN(1, EXM_MAIL_ACME_URL_MAX),
	NULL,
	"uri",
	"the ACME directory for this instance's node; null: the version's"
};
static const ExmRestFieldSchema exm_plugin_s_acme_contact_override = {
	LEN(1, EXM_MAIL_ACME_CONTACT_MAX),
	NULL,
	NULL,
	"the ACME account's contact for this instance, mailto:<address>; null: the version's"
};
#undef LEN
#undef INT

/* Model property order of restalchemy (docs/rest-conventions.md §5.2); access per
 * create/read/update from the seed's field-permission table (+ docs/mail.md §6). */
static const ExmRestField exm_plugin_version_fields[] = {
	{ "uuid", EXM_REST_TYPE_UUID, F_RO, RW, RO, RW, NULL },
	{ "name", EXM_REST_TYPE_STRING, 0, RW, RW, RW, NULL, &exm_plugin_s_name },
	{ "description", EXM_REST_TYPE_STRING, F_NULL, RW, RW, RW, NULL },
	{ "created_at", EXM_REST_TYPE_TIMESTAMP, F_RO, RW, RO, RW, NULL },
	{ "updated_at", EXM_REST_TYPE_TIMESTAMP, F_RO, RW, RO, RW, NULL },
	{ "image", EXM_REST_TYPE_STRING, F_NULL, RW, RW, RW, NULL, &exm_plugin_s_image },
	/* ACME, migration 0012 (docs/tls.md §6): its instances' defaults */
	{ "acme_directory_url",
	  EXM_REST_TYPE_STRING,
	  F_NULL,
	  RW,
	  RW,
	  RW,
	  NULL,
	  &exm_plugin_s_acme_url },
	{ "acme_contact",
	  EXM_REST_TYPE_STRING,
	  F_NULL,
	  RW,
	  RW,
	  RW,
	  NULL,
	  &exm_plugin_s_acme_contact },
	/* migration 0014 (docs/tls.md §6): what its instances may override with */
	{ "acme_allowed_directory_urls",
	  EXM_REST_TYPE_STRING_LIST,
	  F_NULL,
	  RW,
	  RW,
	  RW,
	  NULL,
	  &exm_plugin_s_acme_allowed },
	{ NULL },
};

static const ExmRestField exm_plugin_instance_fields[] = {
	{ "uuid", EXM_REST_TYPE_UUID, F_RO, RW, RO, RW, NULL },
	{ "name", EXM_REST_TYPE_STRING, F_REQ, RW, RW, RW, NULL, &exm_plugin_s_instance_name },
	{ "description", EXM_REST_TYPE_STRING, F_NULL, RW, RW, RW, NULL },
	{ "project_id", EXM_REST_TYPE_UUID, F_REQ | F_RO, RW, RO, RW, NULL },
	{ "created_at", EXM_REST_TYPE_TIMESTAMP, F_RO, RW, RO, RW, NULL },
	{ "updated_at", EXM_REST_TYPE_TIMESTAMP, F_RO, RW, RO, RW, NULL },
	{ "domain", EXM_REST_TYPE_STRING, F_REQ | F_RO, RW, RO, RO, NULL, &exm_plugin_s_domain },
	{ "status", EXM_REST_TYPE_ENUM, 0, RO, RO, RO, NULL, &exm_plugin_s_status },
	{ "ipsv4", EXM_REST_TYPE_STRING_LIST, 0, RO, RO, RO, NULL },
	{ "cpu", EXM_REST_TYPE_INTEGER, F_REQ, RW, RW, RW, NULL, &exm_plugin_s_cpu },
	{ "ram", EXM_REST_TYPE_INTEGER, F_REQ, RW, RW, RW, NULL, &exm_plugin_s_ram },
	{ "disk_size", EXM_REST_TYPE_INTEGER, F_REQ, RW, RW, RW, NULL, &exm_plugin_s_disk },
	/* no field permission on update: upstream's model read_only answers there */
	{ "version", EXM_REST_TYPE_RELATIONSHIP, F_REQ | F_RO, RW, RO, RW, "versions/" },
	{ "dkim_public_key", EXM_REST_TYPE_STRING, 0, RO, RO, RO, NULL },
	{ "dkim_selector", EXM_REST_TYPE_STRING, 0, RO, RO, RO, NULL },
	/* abuse controls, migration 0003 (docs/abuse-controls.md); null: default */
	{ "default_messages_per_hour",
	  EXM_REST_TYPE_INTEGER,
	  F_NULL,
	  RW,
	  RW,
	  RW,
	  NULL,
	  &exm_plugin_s_per_hour },
	{ "default_recipients_per_day",
	  EXM_REST_TYPE_INTEGER,
	  F_NULL,
	  RW,
	  RW,
	  RW,
	  NULL,
	  &exm_plugin_s_per_day },
	{ "messages_per_hour_ceiling",
	  EXM_REST_TYPE_INTEGER,
	  F_NULL,
	  RW,
	  RW,
	  RW,
	  NULL,
	  &exm_plugin_s_per_day },
	{ "auth_fail_limit",
	  EXM_REST_TYPE_INTEGER,
	  F_NULL,
	  RW,
	  RW,
	  RW,
	  NULL,
	  &exm_plugin_s_fail_limit },
	{ "auth_fail_window",
	  EXM_REST_TYPE_INTEGER,
	  F_NULL,
	  RW,
	  RW,
	  RW,
	  NULL,
	  &exm_plugin_s_fail_window },
	/* the live DNS check (migration 0002, docs/dns-verification.md) */
	{ "dns_status", EXM_REST_TYPE_ENUM, 0, RO, RO, RO, NULL },
	{ "dns_checked_at", EXM_REST_TYPE_TIMESTAMP, F_NULL, RO, RO, RO, NULL },
	/* when the scheduled re-check looks next (migration 0008); null: due now */
	{ "dns_next_check_at", EXM_REST_TYPE_TIMESTAMP, F_NULL, RO, RO, RO, NULL },
	/* issue 22, migration 0006 (docs/tls.md): the node's one name */
	{ "smtp_hostname", EXM_REST_TYPE_STRING, F_NULL, RO, RO, RO, NULL },
	/* migration 0007 (docs/tls.md §4): the certificate the node serves, as
	 * it last reported it; null until it has */
	{ "tls_source", EXM_REST_TYPE_ENUM, F_NULL, RO, RO, RO, NULL, &exm_plugin_s_tls_source },
	{ "tls_issuer", EXM_REST_TYPE_STRING, F_NULL, RO, RO, RO, NULL, &exm_plugin_s_tls_issuer },
	{ "tls_not_after", EXM_REST_TYPE_TIMESTAMP, F_NULL, RO, RO, RO, NULL },
	{ "tls_error", EXM_REST_TYPE_STRING, F_NULL, RO, RO, RO, NULL, &exm_plugin_s_tls_error },
	/* usage of the last 24 hours as the node reported it (migration 0005,
	 * docs/usage.md) */
	{ "usage_accepted_24h", EXM_REST_TYPE_INTEGER, 0, RO, RO, RO, NULL },
	{ "usage_delivered_24h", EXM_REST_TYPE_INTEGER, 0, RO, RO, RO, NULL },
	{ "usage_deferred_24h", EXM_REST_TYPE_INTEGER, 0, RO, RO, RO, NULL },
	{ "usage_bounced_24h", EXM_REST_TYPE_INTEGER, 0, RO, RO, RO, NULL },
	{ "usage_held_24h", EXM_REST_TYPE_INTEGER, 0, RO, RO, RO, NULL },
	{ "last_login_at", EXM_REST_TYPE_TIMESTAMP, F_NULL, RO, RO, RO, NULL },
	{ "usage_reported_at", EXM_REST_TYPE_TIMESTAMP, F_NULL, RO, RO, RO, NULL },
	/* the circuit breaker's thresholds (migration 0010); null: default */
	{ "breaker_new_recipients_per_day",
	  EXM_REST_TYPE_INTEGER,
	  F_NULL,
	  RW,
	  RW,
	  RW,
	  NULL,
	  &exm_plugin_s_breaker_new },
	{ "breaker_bounce_percent",
	  EXM_REST_TYPE_INTEGER,
	  F_NULL,
	  RW,
	  RW,
	  RW,
	  NULL,
	  &exm_plugin_s_breaker_percent },
	{ "breaker_bounce_min",
	  EXM_REST_TYPE_INTEGER,
	  F_NULL,
	  RW,
	  RW,
	  RW,
	  NULL,
	  &exm_plugin_s_breaker_min },
	/* ACME, migration 0012 (docs/tls.md §6); null: the version's */
	{ "acme_directory_url",
	  EXM_REST_TYPE_STRING,
	  F_NULL,
	  RW,
	  RW,
	  RW,
	  NULL,
	  &exm_plugin_s_acme_url_override },
	{ "acme_contact",
	  EXM_REST_TYPE_STRING,
	  F_NULL,
	  RW,
	  RW,
	  RW,
	  NULL,
	  &exm_plugin_s_acme_contact_override },
	{ NULL },
};

static const ExmRestField exm_plugin_account_fields[] = {
	{ "uuid", EXM_REST_TYPE_UUID, F_RO, RW, RO, RW, NULL },
	{ "name", EXM_REST_TYPE_STRING, F_NULL, RW, RW, RW, NULL, &exm_plugin_s_name },
	{ "description", EXM_REST_TYPE_STRING, F_NULL, RW, RW, RW, NULL },
	{ "created_at", EXM_REST_TYPE_TIMESTAMP, F_RO, RW, RO, RW, NULL },
	{ "updated_at", EXM_REST_TYPE_TIMESTAMP, F_RO, RW, RO, RW, NULL },
	{ "project_id", EXM_REST_TYPE_UUID, F_REQ | F_RO, RW, RO, RW, NULL },
	{ "instance", EXM_REST_TYPE_RELATIONSHIP, F_REQ | F_RO, RW, RO, RO, "instances/" },
	{ "username",
	  EXM_REST_TYPE_STRING,
	  F_REQ | F_RO,
	  RW,
	  RO,
	  RO,
	  NULL,
	  &exm_plugin_s_username },
	/* Required, but checked by the account rules: `password` may stand in. */
	{ "password_hash",
	  EXM_REST_TYPE_STRING,
	  F_SECRET | F_REQ_MODEL,
	  RW,
	  HIDDEN,
	  RW,
	  NULL,
	  &exm_plugin_s_hash },
	{ "active", EXM_REST_TYPE_BOOLEAN, 0, RW, RW, RW, NULL },
	{ "password",
	  EXM_REST_TYPE_STRING,
	  F_SECRET | F_NOCOL,
	  RW,
	  HIDDEN,
	  RW,
	  NULL,
	  &exm_plugin_s_password },
	/* abuse controls, migration 0003; null: the instance's default / any sender */
	{ "messages_per_hour",
	  EXM_REST_TYPE_INTEGER,
	  F_NULL,
	  RW,
	  RW,
	  RW,
	  NULL,
	  &exm_plugin_s_per_hour },
	{ "recipients_per_day",
	  EXM_REST_TYPE_INTEGER,
	  F_NULL,
	  RW,
	  RW,
	  RW,
	  NULL,
	  &exm_plugin_s_per_day },
	{ "senders", EXM_REST_TYPE_STRING_LIST, F_NULL, RW, RW, RW, NULL },
	/* rotation and expiry, migration 0004 (docs/abuse-controls.md §5): the
	 * secret a rotation replaced logs in until previous_password_valid_until;
	 * only the rotate action writes the two */
	{ "previous_password_hash", EXM_REST_TYPE_STRING, F_SECRET | F_NULL, RO, HIDDEN, RO, NULL },
	{ "previous_password_valid_until", EXM_REST_TYPE_TIMESTAMP, F_NULL, RO, RO, RO, NULL },
	{ "expires_at", EXM_REST_TYPE_TIMESTAMP, F_NULL, RW, RW, RW, NULL },
	/* the sandbox, migration 0011 (docs/sandbox.md): mail kept on the node,
	 * never delivered */
	{ "sandbox", EXM_REST_TYPE_BOOLEAN, 0, RW, RW, RW, NULL },
	/* usage of the last 24 hours as the node reported it (migration 0005,
	 * docs/usage.md) */
	{ "usage_accepted_24h", EXM_REST_TYPE_INTEGER, 0, RO, RO, RO, NULL },
	{ "usage_delivered_24h", EXM_REST_TYPE_INTEGER, 0, RO, RO, RO, NULL },
	{ "usage_deferred_24h", EXM_REST_TYPE_INTEGER, 0, RO, RO, RO, NULL },
	{ "usage_bounced_24h", EXM_REST_TYPE_INTEGER, 0, RO, RO, RO, NULL },
	{ "usage_held_24h", EXM_REST_TYPE_INTEGER, 0, RO, RO, RO, NULL },
	{ "last_login_at", EXM_REST_TYPE_TIMESTAMP, F_NULL, RO, RO, RO, NULL },
	/* when each live secret last logged in, as the node saw it (migration
	 * 0009, docs/abuse-controls.md §5) */
	{ "password_last_login_at", EXM_REST_TYPE_TIMESTAMP, F_NULL, RO, RO, RO, NULL },
	{ "previous_password_last_login_at", EXM_REST_TYPE_TIMESTAMP, F_NULL, RO, RO, RO, NULL },
	/* the circuit breaker as the node last reported it (migration 0010,
	 * docs/abuse-controls.md §7); only the release/discard actions and the
	 * builder write them */
	{ "sending", EXM_REST_TYPE_ENUM, 0, RO, RO, RO, NULL, &exm_plugin_s_sending },
	{ "held_reason", EXM_REST_TYPE_ENUM, F_NULL, RO, RO, RO, NULL, &exm_plugin_s_held_reason },
	{ "held_since", EXM_REST_TYPE_TIMESTAMP, F_NULL, RO, RO, RO, NULL },
	{ "held_counts",
	  EXM_REST_TYPE_OBJECT,
	  F_NULL,
	  RO,
	  RO,
	  RO,
	  NULL,
	  &exm_plugin_s_held_counts },
	/* the pending action and its token until the node reports it done:
	 * plumbing, no filter (secret) and never shown */
	{ "breaker_op", EXM_REST_TYPE_STRING, F_SECRET | F_NULL, RO, HIDDEN, RO, NULL },
	{ "breaker_token", EXM_REST_TYPE_UUID, F_SECRET | F_NULL, RO, HIDDEN, RO, NULL },
	{ NULL },
};

const ExmRestModel exm_plugin_version_model = {
	"MailVersion",
	EXM_PLUGIN_CLASS("MailVersion"),
	"mail_versions",
	exm_plugin_version_fields,
};
const ExmRestModel exm_plugin_instance_model = {
	"MailInstance",
	EXM_PLUGIN_CLASS("MailInstance"),
	"mail_instances",
	exm_plugin_instance_fields,
};
const ExmRestModel exm_plugin_account_model = {
	"MailAccount",
	EXM_PLUGIN_CLASS("MailAccount"),
	"mail_accounts",
	exm_plugin_account_fields,
};

/* ------------------------------------------------------------------ routes */

#define EXM_PLUGIN_ROUTES "exordos_mail.controlplane.api.routes."

/* Invoke actions of an account (exm-plugin-mail.c, exm-plugin-breaker.c). */
static const gchar *const exm_plugin_account_invoke_actions[] = { "rotate",
								  "release",
								  "discard",
								  NULL };
/* Read-only actions of an account (exm-plugin-capture.c). */
static const gchar *const exm_plugin_account_actions[] = { "captured", NULL };

const ExmRestRoute exm_plugin_accounts_route = {
	"accounts",
	EXM_PLUGIN_ROUTES "MailAccountRoute",
	"MailAccountController",
	TRUE,
	TRUE,
	EXM_REST_CRUD,
	NULL,
	exm_plugin_account_actions,
	0,
	exm_plugin_account_invoke_actions,
};
static const ExmRestRoute *const exm_plugin_instance_children[] = {
	&exm_plugin_accounts_route,
	NULL,
};
/* Read-only actions of an instance (exm-plugin-dns.c). */
static const gchar *const exm_plugin_instance_actions[] = { "dns_records",
							    "verify_dns",
							    "deliveries",
							    NULL };
/* Invoke actions of an instance (exm-plugin-certificate.c). */
static const gchar *const exm_plugin_instance_invoke_actions[] = { "certificate",
								   "certificate_remove",
								   NULL };
const ExmRestRoute exm_plugin_instances_route = {
	"instances",
	EXM_PLUGIN_ROUTES "MailInstanceRoute",
	"MailInstanceController",
	FALSE,
	TRUE,
	EXM_REST_CRUD,
	exm_plugin_instance_children,
	exm_plugin_instance_actions,
	0,
	exm_plugin_instance_invoke_actions,
};
const ExmRestRoute exm_plugin_versions_route = {
	"versions",
	EXM_PLUGIN_ROUTES "MailVersionRoute",
	"MailVersionController",
	FALSE,
	TRUE,
	EXM_REST_CRUD,
	NULL,
	NULL,
	0,
};
static const ExmRestRoute *const exm_plugin_mail_children[] = {
	&exm_plugin_instances_route,
	&exm_plugin_versions_route,
	NULL,
};
const ExmRestRoute exm_plugin_mail_route = {
	"mail",
	EXM_PLUGIN_ROUTES "MailRoute",
	"MailController",
	FALSE,
	FALSE,
	EXM_REST_FILTER,
	exm_plugin_mail_children,
	NULL,
	0,
};

/* ------------------------------------------------------------------ helpers */

/* The mount's kinds: relationship targets resolve through them. */
static const ExmRestKind *const exm_plugin_kinds[] = {
	&exm_plugin_mail_versions,
	&exm_plugin_mail_instances,
	&exm_plugin_mail_accounts,
	NULL,
};

/* Where the toolkit's store logs an unexpected SQL error: the host's log,
 * with the request's id. */
typedef struct {
	const ExmPlugin *plugin;
	const ExordosPaasRestRequest *req;
} ExmPluginLogTarget;

static void
log_sql(gpointer data, const gchar *message)
{
	const ExmPluginLogTarget *t = data;
	const ExordosPaasHost *host = t->plugin->host;

	if (host != NULL && host->log != NULL)
		host->log(host->host_data, EXORDOS_PAAS_LOG_ERROR, t->req->request_id, message);
}

/* ------------------------------------------------------------------ ABI */

static gboolean
request_ok(const ExordosPaasRestRequest *req, GError **error)
{
	if (req == NULL || req->struct_size < offsetof(ExordosPaasRestRequest, reserved) ||
	    req->method == NULL || req->path == NULL || req->mount_prefix == NULL ||
	    req->base_url == NULL || req->identity == NULL || req->db == NULL ||
	    (req->n_query > 0 && req->query == NULL) || (req->body_len > 0 && req->body == NULL)) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_FAILED,
				    "the host passed an incomplete request");
		return FALSE;
	}
	if (req->identity->project_id != NULL && !exm_uuid_is_valid(req->identity->project_id)) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_FAILED,
				    "the host passed an invalid project id");
		return FALSE;
	}
	return TRUE;
}

static void
response_export(ExmRestResponse *resp, ExordosPaasRestResponse *out)
{
	gsize n = resp->headers->len / 2;

	memset(out, 0, sizeof(*out));
	out->status = resp->status;
	out->body = g_steal_pointer(&resp->body);
	out->body_len = out->body != NULL ? strlen(out->body) : 0;
	if (n == 0)
		return;
	out->headers = g_new0(ExordosPaasHeader, n);
	out->n_headers = n;
	for (gsize i = 0; i < n; i++) {
		out->headers[i].name = g_strdup(g_ptr_array_index(resp->headers, 2 * i));
		out->headers[i].value = g_strdup(g_ptr_array_index(resp->headers, 2 * i + 1));
	}
}

/* The query as the toolkit takes it (same layout, no copies of strings). */
static ExmRestParam *
plugin_query(const ExordosPaasRestRequest *req)
{
	ExmRestParam *params = g_new0(ExmRestParam, req->n_query + 1);

	for (gsize i = 0; i < req->n_query; i++) {
		params[i].key = req->query[i].key;
		params[i].value = req->query[i].value;
	}
	return params;
}

static void
request_init(ExmRestCrud *r,
	     const ExordosPaasRestRequest *request,
	     const ExmPluginLogTarget *log,
	     const ExmRestParam *query)
{
	r->store.db = request->db;
	r->store.log = log_sql;
	r->store.log_data = (gpointer)log;
	r->query = query;
	r->n_query = request->n_query;
	r->body = request->body;
	r->body_len = request->body_len;
	r->content_type = request->content_type;
	r->base_url = request->base_url;
	r->mount = request->mount_prefix;
	r->kinds = exm_plugin_kinds;
	r->enforcer = exm_rest_enforcer_new(
		request->identity->anonymous ? NULL : request->identity->permissions);
	r->now = g_get_real_time();
}

/* The actions: an account's rotation (exm-plugin-mail.c), release and
 * discard (exm-plugin-breaker.c), an instance's certificate and
 * certificate_remove (exm-plugin-certificate.c), usage's own (exm-plugin-usage.c), the
 * sandbox's (exm-plugin-capture.c), else the DNS ones. */
static void
plugin_action(ExmRestCrud *r, const ExmRestKind *kind)
{
	if (r->match->invoke && g_strcmp0(r->match->action, "rotate") == 0)
		exm_plugin_mail_rotate(r, kind);
	else if (r->match->invoke && (g_strcmp0(r->match->action, "release") == 0 ||
				      g_strcmp0(r->match->action, "discard") == 0))
		exm_plugin_breaker_action(r, kind);
	else if (r->match->invoke && g_str_has_prefix(r->match->action, "certificate"))
		exm_plugin_certificate_action(r, kind);
	else if (g_strcmp0(r->match->action, "deliveries") == 0)
		exm_plugin_usage_action(r, kind);
	else if (g_strcmp0(r->match->action, "captured") == 0)
		exm_plugin_capture_action(r, kind);
	else
		exm_plugin_dns_action(r, kind);
}

static void
plugin_rest_dispatch(gpointer ctx,
		     const ExordosPaasRestRequest *request,
		     ExordosPaasRestResponse *response)
{
	g_autoptr(ExmRestResponse) resp = exm_rest_response_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *project = NULL;
	g_autofree ExmRestParam *query = NULL;
	ExmPluginLogTarget log = { ctx, request };
	ExmRestCrud r = { 0 };

	if (response == NULL)
		return;
	if (ctx == NULL || !request_ok(request, &error)) {
		if (error == NULL)
			g_set_error_literal(
				&error, EXM_ERROR, EXM_ERROR_FAILED, "plugin not initialised");
		exm_rest_response_set_error(resp, error);
		response_export(resp, response);
		return;
	}
	query = plugin_query(request);
	request_init(&r, request, &log, query);
	/* Canonical (lower-case) so it compares with canonical body values. */
	project = request->identity->anonymous || request->identity->project_id == NULL
			  ? NULL
			  : exm_uuid_parse(request->identity->project_id, NULL);
	r.project = project;
	r.resp = resp;
	exm_rest_crud_serve(
		&r, &exm_plugin_mail_route, request->method, request->path, plugin_action);
	exm_rest_route_match_free(r.match);
	exm_rest_row_free(r.parent);
	exm_rest_enforcer_free(r.enforcer);
	response_export(resp, response);
}

/*
 * ABI minor 5: a GET of a resource or a list, and the type's index, only
 * read, so the host runs them without a transaction.  A GET action is not:
 * verify_dns stores its answer (/http/mail/get-writes), and the others keep
 * the transaction they were written for.  A path that does not walk is
 * answered before any statement.  No database: the walk loads nothing.
 */
static guint32
plugin_rest_route_flags(gpointer ctx, const gchar *method, const gchar *path)
{
	g_autoptr(ExmRestMatch) match = NULL;

	if (method == NULL || path == NULL || strcmp(method, "GET") != 0)
		return EXORDOS_PAAS_ROUTE_FLAG_NONE;
	match = exm_rest_route_walk(&exm_plugin_mail_route, method, path, NULL, NULL, NULL);
	if (match != NULL && match->method != EXM_REST_FILTER && match->method != EXM_REST_GET)
		return EXORDOS_PAAS_ROUTE_FLAG_NONE;
	return EXORDOS_PAAS_ROUTE_FLAG_READ_ONLY;
}

static void
plugin_rest_response_clear(gpointer ctx, ExordosPaasRestResponse *response)
{
	if (response == NULL)
		return;
	g_free(response->body);
	for (gsize i = 0; i < response->n_headers; i++) {
		g_free(response->headers[i].name);
		g_free(response->headers[i].value);
	}
	g_free(response->headers);
	memset(response, 0, sizeof(*response));
}

/* The OpenAPI document of the subtree, from the tables rest_dispatch serves. */
static gchar *
plugin_openapi(gpointer ctx, const gchar *version, const gchar *mount, gchar **out_error)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) doc = NULL;
	g_autoptr(JsonNode) node = NULL;
	ExmRestOpenapiSpec spec = {
		"exordos_mail", EXM_VERSION, mount, &exm_plugin_mail_route, exm_plugin_kinds,
	};

	if (mount == NULL || !g_str_has_prefix(mount, "/") || !g_str_has_suffix(mount, "/")) {
		if (out_error != NULL)
			*out_error =
				g_strdup("mail plugin: the mount prefix must start and end with /");
		return NULL;
	}
	doc = exm_rest_openapi_build(&spec, version, &error);
	if (doc == NULL) {
		if (out_error != NULL)
			*out_error = g_strdup_printf("mail plugin: %s", error->message);
		return NULL;
	}
	node = json_node_init_object(json_node_alloc(), doc);
	return exm_json_to_string(node);
}

static gboolean
plugin_init(const ExordosPaasHost *host, gpointer *out_ctx, gchar **out_error)
{
	ExmPlugin *plugin;

	if (out_ctx == NULL)
		return FALSE;
	if (host == NULL || host->struct_size < offsetof(ExordosPaasHost, reserved) ||
	    host->abi_major != EXORDOS_PAAS_PLUGIN_ABI_MAJOR || host->log == NULL) {
		if (out_error != NULL)
			*out_error = g_strdup_printf(
				"mail plugin: host ABI %u is not %u or its function table is "
				"incomplete",
				host != NULL ? host->abi_major : 0,
				(guint)EXORDOS_PAAS_PLUGIN_ABI_MAJOR);
		return FALSE;
	}
	plugin = g_new0(ExmPlugin, 1);
	plugin->host = host;
	if (host->abi_minor >= 2 &&
	    host->struct_size >= offsetof(ExordosPaasHost, infra_project_id) + sizeof(gpointer))
		plugin->infra_project = g_strdup(host->infra_project_id);
	*out_ctx = plugin;
	return TRUE;
}

static void
plugin_shutdown(gpointer ctx)
{
	ExmPlugin *plugin = ctx;

	if (plugin == NULL)
		return;
	g_free(plugin->infra_project);
	g_free(plugin);
}

/* ------------------------------------------------------------------ descriptor */

static const gchar *const exm_plugin_no_depends[] = { NULL };

static const ExordosPaasMigration exm_plugin_migration_init = {
	"b2c3d4e5-f6a7-8901-bcde-f12345678901",
	"0000-init-mail",
	exm_plugin_no_depends,
	exm_plugin_sql_0000_init_mail_up,
	exm_plugin_sql_0000_init_mail_down,
	{ NULL },
};

static const gchar *const exm_plugin_depends_init[] = {
	"b2c3d4e5-f6a7-8901-bcde-f12345678901",
	NULL,
};

static const ExordosPaasMigration exm_plugin_migration_em_seals = {
	"aa0c8c05-986d-4d9b-b602-65fce206e2d3",
	"0001-em-seals",
	exm_plugin_depends_init,
	exm_plugin_sql_0001_em_seals_up,
	exm_plugin_sql_0001_em_seals_down,
	{ NULL },
};

/* Issue 15's abuse controls: nullable columns, so old rows keep every default. */
static const ExordosPaasMigration exm_plugin_migration_abuse = {
	"d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70",
	"0003-abuse-controls",
	exm_plugin_depends_init,
	exm_plugin_sql_0003_abuse_controls_up,
	exm_plugin_sql_0003_abuse_controls_down,
	{ NULL },
};

static const ExordosPaasMigration exm_plugin_migration_dns = {
	"d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70",
	"0002-dns-verification",
	exm_plugin_depends_init,
	exm_plugin_sql_0002_dns_verification_up,
	exm_plugin_sql_0002_dns_verification_down,
	{ NULL },
};

/* Issue 16's usage: read-only counts with defaults, a table of its own. */
static const ExordosPaasMigration exm_plugin_migration_usage = {
	"e5f6a7b8-c9d0-4e1f-8a2b-3c4d5e6f7081",
	"0005-usage-sandbox",
	exm_plugin_depends_init,
	exm_plugin_sql_0005_usage_sandbox_up,
	exm_plugin_sql_0005_usage_sandbox_down,
	{ NULL },
};

/* Issue 22's TLS: the node's name and certificate status on the instance. */
static const ExordosPaasMigration exm_plugin_migration_tls = {
	"6e2b7c1a-9d4f-4e0a-b5c8-3f1d2a6e9b07",
	"0006-tls",
	exm_plugin_depends_init,
	exm_plugin_sql_0006_tls_up,
	exm_plugin_sql_0006_tls_down,
	{ NULL },
};

/* Issue 22 item 4: the served certificate as the node reports it. */
static const gchar *const exm_plugin_depends_tls[] = {
	"6e2b7c1a-9d4f-4e0a-b5c8-3f1d2a6e9b07",
	NULL,
};

static const ExordosPaasMigration exm_plugin_migration_tls_status = {
	"e14d8404-55aa-4af5-aa77-26805dd12888",
	"0007-tls-status",
	exm_plugin_depends_tls,
	exm_plugin_sql_0007_tls_status_up,
	exm_plugin_sql_0007_tls_status_down,
	{ NULL },
};

/* Issue 17's schedule: when each instance's DNS is checked next. */
static const gchar *const exm_plugin_depends_dns[] = {
	"d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70",
	NULL,
};

static const ExordosPaasMigration exm_plugin_migration_dns_schedule = {
	"5c1e0f4a-7d2b-4e88-9a61-3f0b8d2c4e15",
	"0008-dns-schedule",
	exm_plugin_depends_dns,
	exm_plugin_sql_0008_dns_schedule_up,
	exm_plugin_sql_0008_dns_schedule_down,
	{ NULL },
};

/* Issue 15's rotation with an overlap window and account expiry. */
static const ExordosPaasMigration exm_plugin_migration_rotation = {
	"9b3f6d2e-41a7-4c85-b0e9-7d2c5a8f1e64",
	"0004-rotation",
	exm_plugin_depends_init,
	exm_plugin_sql_0004_rotation_up,
	exm_plugin_sql_0004_rotation_down,
	{ NULL },
};

/* Issue 15 item 5's last login per secret: builds on 0004's previous secret
 * and 0005's usage report. */
static const gchar *const exm_plugin_depends_login_secrets[] = {
	"9b3f6d2e-41a7-4c85-b0e9-7d2c5a8f1e64",
	"e5f6a7b8-c9d0-4e1f-8a2b-3c4d5e6f7081",
	NULL,
};

static const ExordosPaasMigration exm_plugin_migration_login_secrets = {
	"382a51b1-05eb-4a62-9b3f-69f023e54f8d", "0009-login-secrets",
	exm_plugin_depends_login_secrets,	exm_plugin_sql_0009_login_secrets_up,
	exm_plugin_sql_0009_login_secrets_down, { NULL },
};

/* Issue 15 item 4's circuit breaker: thresholds, the account's reported state
 * and its pending release/discard (docs/abuse-controls.md §7). */
static const ExordosPaasMigration exm_plugin_migration_breaker = {
	"871c9357-1e94-44f7-8244-db9ad1d90f2b",
	"0010-breaker",
	exm_plugin_depends_init,
	exm_plugin_sql_0010_breaker_up,
	exm_plugin_sql_0010_breaker_down,
	{ NULL },
};

/* Issue 16 item 4's sandbox: an account flag and the node's captured
 * messages, beside 0005's usage report. */
static const gchar *const exm_plugin_depends_usage[] = {
	"e5f6a7b8-c9d0-4e1f-8a2b-3c4d5e6f7081",
	NULL,
};

static const ExordosPaasMigration exm_plugin_migration_sandbox = {
	"b605b719-ffc3-42ba-8b26-eafd5ba28936",
	"0011-sandbox",
	exm_plugin_depends_usage,
	exm_plugin_sql_0011_sandbox_up,
	exm_plugin_sql_0011_sandbox_down,
	{ NULL },
};

/* Issue 22 item 2's ACME settings on the version and the instance. */
static const ExordosPaasMigration exm_plugin_migration_acme = {
	"30fabbb3-cf43-4445-bf2d-52aedb2fdcc9",
	"0012-acme",
	exm_plugin_depends_init,
	exm_plugin_sql_0012_acme_up,
	exm_plugin_sql_0012_acme_down,
	{ NULL },
};

/* Issue 22 item 3: a tenant's own certificate, its key write-only
 * (docs/tls.md §3). */
static const ExordosPaasMigration exm_plugin_migration_tls_custom = {
	"efc4d935-826f-47ee-885e-ee6dbb2bcc5f",
	"0013-tls-custom",
	exm_plugin_depends_tls,
	exm_plugin_sql_0013_tls_custom_up,
	exm_plugin_sql_0013_tls_custom_down,
	{ NULL },
};

static const gchar *const exm_plugin_depends_acme[] = {
	"30fabbb3-cf43-4445-bf2d-52aedb2fdcc9",
	NULL,
};

/* The directories a version lets its instances name (docs/tls.md §6). */
static const ExordosPaasMigration exm_plugin_migration_acme_allowed = {
	"15d8ac1a-7e31-4cbf-9354-5c1b9b51ddfa",
	"0014-acme-allowed",
	exm_plugin_depends_acme,
	exm_plugin_sql_0014_acme_allowed_up,
	exm_plugin_sql_0014_acme_allowed_down,
	{ NULL },
};

/* In application order (each after what it depends on), one a line so that
 * a new migration adds one line. */
/* clang-format off */
static const ExordosPaasMigration *const exm_plugin_migrations[] = {
	&exm_plugin_migration_init,
	&exm_plugin_migration_em_seals,
	&exm_plugin_migration_dns,
	&exm_plugin_migration_abuse,
	&exm_plugin_migration_usage,
	&exm_plugin_migration_tls,
	&exm_plugin_migration_dns_schedule,
	&exm_plugin_migration_rotation,
	&exm_plugin_migration_tls_status,
	&exm_plugin_migration_login_secrets,
	&exm_plugin_migration_breaker,
	&exm_plugin_migration_sandbox,
	&exm_plugin_migration_acme,
	&exm_plugin_migration_tls_custom,
	&exm_plugin_migration_acme_allowed,
	NULL,
};
/* clang-format on */

/* Upstream get_agent_models()/get_agent_filters() (docs/plugin-abi.md §5). */
static const ExordosPaasAgentModel exm_plugin_agent_versions = {
	"versions",
	"mail_version",
	"description",
	{ NULL },
};
static const ExordosPaasAgentModel exm_plugin_agent_instances = {
	"instances",
	"mail_instance",
	"project_id",
	{ NULL },
};
static const ExordosPaasAgentModel exm_plugin_agent_accounts = {
	"instances.accounts",
	"mail_account",
	"project_id",
	{ NULL },
};
static const ExordosPaasAgentModel *const exm_plugin_agent_models[] = {
	&exm_plugin_agent_versions,
	&exm_plugin_agent_instances,
	&exm_plugin_agent_accounts,
	NULL,
};

static const gchar *const exm_plugin_permissions[] = {
	"exordos_mail.mail_instance.create",
	"exordos_mail.mail_instance.read",
	"exordos_mail.mail_instance.update",
	"exordos_mail.mail_instance.delete",
	"exordos_mail.account.create",
	"exordos_mail.account.read",
	"exordos_mail.account.update",
	"exordos_mail.account.delete",
	"exordos_mail.mail_version.read",
	"exordos_mail.mail_version.create",
	"exordos_mail.mail_version.update",
	"exordos_mail.mail_version.delete",
	NULL,
};

/* The scheduled DNS re-check (docs/dns-verification.md §Schedule): the host
 * asks every second while nothing is due, at once while instances are. */
static const ExordosPaasPeriodicJob exm_plugin_job_dns = {
	.struct_size = sizeof(ExordosPaasPeriodicJob),
	.name = "dns_recheck",
	.interval_ms = 1000,
	.run = exm_plugin_dns_recheck_run,
};

static const ExordosPaasPeriodicJob *const exm_plugin_periodic[] = {
	&exm_plugin_job_dns,
	NULL,
};

static ExordosPaasPluginDescriptor exm_plugin_descriptor = {
	.abi_major = EXORDOS_PAAS_PLUGIN_ABI_MAJOR,
	.abi_minor = EXORDOS_PAAS_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(ExordosPaasPluginDescriptor),
	.slug = "mail",
	.element = "mailaas",
	.version = EXM_VERSION,
	.migrations = exm_plugin_migrations,
	.models = NULL, /* exm_plugin_abi_models(), set by exm_plugin_get_descriptor() */
	.agent_models = exm_plugin_agent_models,
	.permissions = exm_plugin_permissions,
	.init = plugin_init,
	.shutdown = plugin_shutdown,
	.rest_dispatch = plugin_rest_dispatch,
	.rest_response_clear = plugin_rest_response_clear,
	.builders = &exm_plugin_builders,
	.manifest_apply = exm_plugin_em_apply,
	.openapi = plugin_openapi,
	.periodic = exm_plugin_periodic,
	.metrics = exm_plugin_dns_metrics,
	.rest_route_flags = plugin_rest_route_flags,
};

/* The ABI model tables are derived from the model declarations on first use. */
const ExordosPaasPluginDescriptor *
exm_plugin_get_descriptor(void)
{
	static gsize done = 0;

	if (g_once_init_enter(&done)) {
		exm_plugin_descriptor.models = exm_plugin_abi_models();
		g_once_init_leave(&done, 1);
	}
	return &exm_plugin_descriptor;
}
