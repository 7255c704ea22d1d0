/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Field rules of the mail models (docs/mail.md §1, docs/mail.md §6).
 * Every failure is %EXM_MAIL_ERROR_INVALID with a message a user can act on,
 * starting with the field name (e.g. "domain: label 'a_b' has a character ...").
 */
#pragma once

#include <glib.h>

#define EXM_MAIL_NAME_MAX	  255
#define EXM_MAIL_DOMAIN_MAX	  253
#define EXM_MAIL_CPU_MIN	  1
#define EXM_MAIL_CPU_MAX	  128
#define EXM_MAIL_RAM_MIN	  512
#define EXM_MAIL_RAM_MAX	  1073741824
#define EXM_MAIL_DISK_MIN	  8
#define EXM_MAIL_DISK_MAX	  1073741824
#define EXM_MAIL_USERNAME_MAX	  64
#define EXM_MAIL_HASH_MAX	  1024
#define EXM_MAIL_DKIM_KEY_MAX	  4096
#define EXM_MAIL_SELECTOR_MAX	  255
#define EXM_MAIL_IMAGE_MAX	  2048
#define EXM_MAIL_DEFAULT_SELECTOR "platform"

/* name: 1..255 UTF-8 characters, no control characters. */
gboolean exm_mail_validate_name(const gchar *name, GError **error);
/* description: any UTF-8 without NUL, at most 4096 bytes. */
gboolean exm_mail_validate_description(const gchar *text, GError **error);

/**
 * exm_mail_validate_normalize_domain:
 * @domain: user input
 * @error: %EXM_MAIL_ERROR_INVALID
 *
 * RFC 1035 host name: ≤253 chars, ≥2 labels of 1–63 `[a-z0-9-]` not starting or
 * ending with `-`, no trailing dot; upper case is folded.
 *
 * Returns: (transfer full): the lower-cased domain
 */
gchar *exm_mail_validate_normalize_domain(const gchar *domain, GError **error);

/**
 * exm_mail_validate_normalize_username:
 *
 * Lower-cased, 1–64 of `[a-z0-9._+-]`, not starting with `.`.
 *
 * Returns: (transfer full): the lower-cased username
 */
gchar *exm_mail_validate_normalize_username(const gchar *username, GError **error);

/* Whether exm_mail_validate_normalize_username() accepts @username
 * (nullable) and gives it back as it is (already lower case), without a
 * copy: the check of every line a lookup file is rendered from. */
gboolean exm_mail_validate_username_is_canonical(const gchar *username);

/**
 * exm_mail_validate_password_hash:
 * @hash: a crypt(3) hash, optionally with a Dovecot `{SCHEME}` prefix
 * @error: %EXM_MAIL_ERROR_INVALID naming `openssl passwd -6` and the `password` field
 *
 * Accepts `$y$`, `$gy$`, `$7$`, `$2b$`/`$2y$`, `$6$`, `$5$` hashes by an explicit
 * per-family grammar (prefix, cost/rounds syntax, salt and checksum alphabet and
 * length), optionally prefixed by a scheme matching the family (`{SHA512-CRYPT}`
 * + `$6$`, `{SHA256-CRYPT}` + `$5$`, `{BLF-CRYPT}` + `$2?$`, `{CRYPT}` + any).
 * At most %EXM_MAIL_HASH_MAX bytes.
 */
gboolean exm_mail_validate_password_hash(const gchar *hash, GError **error);

/* Work-factor ceilings of a stored hash: one login must stay affordable. */
#define EXM_MAIL_BCRYPT_COST_MAX 14
#define EXM_MAIL_SHA_ROUNDS_MAX	 1000000
/* yescrypt/scrypt: 128·r·N bytes (N = 2^18 at r = 8), and p·(t+1) lanes/passes */
#define EXM_MAIL_KDF_MEMORY_MAX (G_GUINT64_CONSTANT(256) << 20)
#define EXM_MAIL_KDF_LANES_MAX	4

/**
 * exm_mail_validate_hash_cost:
 * @hash: a hash
 * @error: %EXM_MAIL_ERROR_INVALID naming the ceiling that was passed
 *
 * exm_mail_validate_password_hash() plus the work-factor ceilings: bcrypt cost ≤
 * %EXM_MAIL_BCRYPT_COST_MAX, SHA-crypt rounds ≤ %EXM_MAIL_SHA_ROUNDS_MAX,
 * yescrypt/scrypt memory 128·r·N ≤ %EXM_MAIL_KDF_MEMORY_MAX with p·(t+1) ≤
 * %EXM_MAIL_KDF_LANES_MAX.  Every write of a hash checks it (the API, the node
 * value of the builder and of the agent), and exm_mail_crypt_verify() never
 * computes a dearer hash, so a `$2b$31$` can neither be stored nor stall a
 * request or exim's AUTH.
 */
gboolean exm_mail_validate_hash_cost(const gchar *hash, GError **error);

/* ipv4 dotted quad (≤15 chars), as stored in ipsv4. */
gboolean exm_mail_validate_ipv4(const gchar *ip, GError **error);
/* DKIM selector: 1..63 of [a-z0-9-] (DNS label). */
gboolean exm_mail_validate_selector(const gchar *selector, GError **error);

/* Abuse-control bounds (docs/abuse-controls.md); 0 never appears in a value: an
 * absent or null field means the default. */
#define EXM_MAIL_MESSAGES_PER_HOUR_MAX	    1000000
#define EXM_MAIL_RECIPIENTS_PER_DAY_MAX	    10000000
#define EXM_MAIL_AUTH_FAIL_LIMIT_MAX	    1000
#define EXM_MAIL_AUTH_FAIL_WINDOW_MIN	    60
#define EXM_MAIL_AUTH_FAIL_WINDOW_MAX	    86400
#define EXM_MAIL_SENDERS_MAX		    100
#define EXM_MAIL_DEFAULT_MESSAGES_PER_HOUR  100
#define EXM_MAIL_DEFAULT_RECIPIENTS_PER_DAY 1000
#define EXM_MAIL_DEFAULT_CEILING	    1000
#define EXM_MAIL_DEFAULT_AUTH_FAIL_LIMIT    10
#define EXM_MAIL_DEFAULT_AUTH_FAIL_WINDOW   900
/* the circuit breaker (docs/abuse-controls.md §7) */
#define EXM_MAIL_BREAKER_NEW_RECIPIENTS_MAX	1000000
#define EXM_MAIL_BREAKER_BOUNCE_MIN_MAX		1000000
#define EXM_MAIL_DEFAULT_BREAKER_NEW_RECIPIENTS 200
#define EXM_MAIL_DEFAULT_BREAKER_BOUNCE_PERCENT 20
#define EXM_MAIL_DEFAULT_BREAKER_BOUNCE_MIN	50

/**
 * exm_mail_validate_limit:
 * @field: the field name the message starts with
 * @value: the value
 * @error: %EXM_MAIL_ERROR_INVALID naming @field and the range
 *
 * Returns: %TRUE when @min <= @value <= @max
 */
gboolean exm_mail_validate_limit(const gchar *field,
				 gint64 value,
				 gint64 min,
				 gint64 max,
				 GError **error);

/**
 * exm_mail_validate_normalize_sender:
 * @pattern: (nullable): `local@domain` or `*@domain`
 * @domain: (nullable): the instance domain; when set, the pattern's domain must
 *   be it or one of its subdomains
 * @error: %EXM_MAIL_ERROR_INVALID starting with `senders:`
 *
 * The local part is `*` or 1-64 of `[a-z0-9._+-]` not starting with `.` or `+`; the
 * domain is a host name (exm_mail_validate_normalize_domain()).  Nothing else
 * (no `^`, `!`, `+`, `@@`, `:` or space) can pass, so a pattern is a plain exim
 * address-list item.
 *
 * Returns: (transfer full) (nullable): the lower-cased pattern
 */
gchar *exm_mail_validate_normalize_sender(const gchar *pattern,
					  const gchar *domain,
					  GError **error);
