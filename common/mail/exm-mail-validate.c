/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Field rules of the mail models.  Every message starts with the field name and
 * says what would be accepted, because it reaches the user verbatim in a 400.
 */
#include "exm-mail-validate.h"

#include <string.h>

#include "exm-mail-error.h"

#define DESCRIPTION_MAX 4096
#define LABEL_MAX	63

static gboolean invalid(GError **error, const gchar *format, ...) G_GNUC_PRINTF(2, 3);

static gboolean
invalid(GError **error, const gchar *format, ...)
{
	va_list ap;

	va_start(ap, format);
	if (error != NULL) {
		g_autofree gchar *msg = g_strdup_vprintf(format, ap);

		g_set_error_literal(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID, msg);
	}
	va_end(ap);
	return FALSE;
}

/**
 * exm_mail_validate_name:
 * @name: (nullable): a display name
 * @error: %EXM_MAIL_ERROR_INVALID
 *
 * 1..255 UTF-8 characters without control characters.
 *
 * Returns: %TRUE when valid
 */
gboolean
exm_mail_validate_name(const gchar *name, GError **error)
{
	glong chars;

	if (name == NULL || *name == '\0')
		return invalid(
			error, "name: must not be empty (1 to %d characters)", EXM_MAIL_NAME_MAX);
	if (!g_utf8_validate(name, -1, NULL))
		return invalid(error, "name: is not valid UTF-8");
	chars = g_utf8_strlen(name, -1);
	if (chars > EXM_MAIL_NAME_MAX)
		return invalid(error,
			       "name: is %ld characters long, at most %d are allowed",
			       chars,
			       EXM_MAIL_NAME_MAX);
	for (const gchar *p = name; *p != '\0'; p = g_utf8_next_char(p)) {
		if (g_unichar_iscntrl(g_utf8_get_char(p)))
			return invalid(error,
				       "name: must not contain control characters (line breaks, "
				       "tabs, ...)");
	}
	return TRUE;
}

/**
 * exm_mail_validate_description:
 * @text: (nullable): free text; %NULL counts as empty
 * @error: %EXM_MAIL_ERROR_INVALID
 *
 * Returns: %TRUE when @text is UTF-8 of at most 4096 bytes
 */
gboolean
exm_mail_validate_description(const gchar *text, GError **error)
{
	gsize len;

	if (text == NULL)
		return TRUE;
	if (!g_utf8_validate(text, -1, NULL))
		return invalid(error, "description: is not valid UTF-8");
	len = strlen(text);
	if (len > DESCRIPTION_MAX)
		return invalid(error,
			       "description: is %zu bytes long, at most %d are allowed",
			       len,
			       DESCRIPTION_MAX);
	return TRUE;
}

static gboolean
is_ldh(gchar c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* One DNS label of a host name (RFC 1035 §2.3.1, digits first allowed by RFC 1123). */
static gboolean
check_label(const gchar *field, const gchar *label, GError **error)
{
	gsize len = strlen(label);

	if (len == 0)
		return invalid(error,
			       "%s: has an empty label (two dots in a row, or a leading dot)",
			       field);
	if (len > LABEL_MAX)
		return invalid(error,
			       "%s: label '%.16s...' is %zu characters long, at most %d are "
			       "allowed",
			       field,
			       label,
			       len,
			       LABEL_MAX);
	for (gsize i = 0; i < len; i++) {
		if (!is_ldh(label[i]))
			return invalid(
				error,
				"%s: label '%s' has a character that is not allowed; use only "
				"letters a-z, digits 0-9 and '-'",
				field,
				label);
	}
	if (label[0] == '-' || label[len - 1] == '-')
		return invalid(
			error, "%s: label '%s' must not start or end with '-'", field, label);
	return TRUE;
}

static gboolean
is_printable_ascii(const gchar *s)
{
	for (; *s != '\0'; s++) {
		if ((guchar)*s < 0x21 || (guchar)*s > 0x7e)
			return FALSE;
	}
	return TRUE;
}

static gboolean
check_domain_text(const gchar *domain, GError **error)
{
	gsize len;

	if (domain == NULL || *domain == '\0')
		return invalid(error, "domain: must not be empty, e.g. 'example.com'");
	if (!is_printable_ascii(domain))
		return invalid(error,
			       "domain: must be plain ASCII without spaces or control "
			       "characters; write an internationalised name in its "
			       "'xn--' form");
	len = strlen(domain);
	if (len > EXM_MAIL_DOMAIN_MAX)
		return invalid(error,
			       "domain: is %zu characters long, at most %d are allowed",
			       len,
			       EXM_MAIL_DOMAIN_MAX);
	if (domain[len - 1] == '.')
		return invalid(error,
			       "domain: must not end with a dot; write 'example.com', not "
			       "'example.com.'");
	return TRUE;
}

/**
 * exm_mail_validate_normalize_domain:
 * @domain: (nullable): user input
 * @error: %EXM_MAIL_ERROR_INVALID
 *
 * RFC 1035 host name: ≤253 chars, ≥2 labels of 1–63 `[a-z0-9-]` not starting or
 * ending with `-`, no trailing dot; upper case is folded.  The last label must not be
 * all digits, so an IPv4 address is never taken for a domain.
 *
 * Returns: (transfer full) (nullable): the lower-cased domain
 */
gchar *
exm_mail_validate_normalize_domain(const gchar *domain, GError **error)
{
	g_autofree gchar *lower = NULL;
	g_auto(GStrv) labels = NULL;
	guint n;

	if (!check_domain_text(domain, error))
		return NULL;
	lower = g_ascii_strdown(domain, -1);
	labels = g_strsplit(lower, ".", -1);
	n = g_strv_length(labels);
	for (guint i = 0; i < n; i++) {
		if (!check_label("domain", labels[i], error))
			return NULL;
	}
	if (n < 2) {
		invalid(error,
			"domain: needs at least two labels, e.g. 'example.com', not '%s'",
			lower);
		return NULL;
	}
	if (strspn(labels[n - 1], "0123456789") == strlen(labels[n - 1])) {
		invalid(error,
			"domain: the last label '%s' is all digits; an IP address is not "
			"a mail domain",
			labels[n - 1]);
		return NULL;
	}
	return g_steal_pointer(&lower);
}

static gboolean
is_username_char(gchar c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == '+' || c == '-';
}

/* The rule of exm_mail_validate_normalize_username() @name breaks, in the
 * order they are checked; *@at is the position of a character not allowed.
 * @fold: characters compared lower-cased (the input), else as they are (a
 * stored username, already lower case). */
typedef enum {
	USERNAME_OK,
	USERNAME_EMPTY,
	USERNAME_LONG,
	USERNAME_CHAR,
	USERNAME_DOT,
} UsernameProblem;

static UsernameProblem
username_problem(const gchar *name, gboolean fold, gsize *len, gsize *at)
{
	*len = name != NULL ? strlen(name) : 0;
	if (*len == 0)
		return USERNAME_EMPTY;
	if (*len > EXM_MAIL_USERNAME_MAX)
		return USERNAME_LONG;
	for (*at = 0; *at < *len; (*at)++) {
		gchar c = name[*at];

		if (!is_username_char(c) && !(fold && c >= 'A' && c <= 'Z'))
			return USERNAME_CHAR;
	}
	return name[0] == '.' ? USERNAME_DOT : USERNAME_OK;
}

/**
 * exm_mail_validate_normalize_username:
 * @username: (nullable): user input
 * @error: %EXM_MAIL_ERROR_INVALID
 *
 * Lower-cased, 1–64 of `[a-z0-9._+-]`, not starting with `.`.  exim's lsearch
 * ignores case, so the stored form is always lower case.
 *
 * Returns: (transfer full) (nullable): the lower-cased username
 */
gchar *
exm_mail_validate_normalize_username(const gchar *username, GError **error)
{
	gsize len = 0;
	gsize at = 0;

	switch (username_problem(username, TRUE, &len, &at)) {
	case USERNAME_OK:
		return g_ascii_strdown(username, -1);
	case USERNAME_EMPTY:
		invalid(error,
			"username: must not be empty (1 to %d characters of a-z, 0-9, "
			"'.', '_', '+', '-')",
			EXM_MAIL_USERNAME_MAX);
		return NULL;
	case USERNAME_LONG:
		invalid(error,
			"username: is %zu characters long, at most %d are allowed",
			len,
			EXM_MAIL_USERNAME_MAX);
		return NULL;
	case USERNAME_CHAR:
		invalid(error,
			"username: character %zu is not allowed; use only letters "
			"a-z, digits 0-9 and '.', '_', '+', '-' (the domain is "
			"added by the server, do not include '@')",
			at + 1);
		return NULL;
	case USERNAME_DOT:
	default:
		invalid(error, "username: must not start with '.'");
		return NULL;
	}
}

/**
 * exm_mail_validate_username_is_canonical:
 * @username: (nullable): a username
 *
 * See exm-mail-validate.h.
 *
 * Returns: %TRUE when exm_mail_validate_normalize_username() gives @username
 */
gboolean
exm_mail_validate_username_is_canonical(const gchar *username)
{
	gsize len = 0;
	gsize at = 0;

	return username_problem(username, FALSE, &len, &at) == USERNAME_OK;
}

/**
 * exm_mail_validate_ipv4:
 * @ip: (nullable): text
 * @error: %EXM_MAIL_ERROR_INVALID
 *
 * A dotted quad `a.b.c.d` of decimal 0..255 without leading zeros (which some
 * parsers read as octal).
 *
 * Returns: %TRUE when valid
 */
gboolean
exm_mail_validate_ipv4(const gchar *ip, GError **error)
{
	const gchar *p = ip;

	if (ip == NULL || strlen(ip) > 15)
		return invalid(error, "ipv4: must be a dotted quad like '192.0.2.10'");
	for (guint part = 0; part < 4; part++) {
		guint value = 0;
		gsize digits = 0;

		if (part > 0 && *p++ != '.')
			return invalid(error, "ipv4: must be a dotted quad like '192.0.2.10'");
		for (; g_ascii_isdigit(*p) && digits < 4; p++, digits++)
			value = value * 10 + (guint)(*p - '0');
		if (digits == 0 || digits > 3 || value > 255 ||
		    (digits > 1 && p[-(gssize)digits] == '0'))
			return invalid(error,
				       "ipv4: each of the four parts must be a number 0-255 "
				       "without leading zeros, like '192.0.2.10'");
	}
	if (*p != '\0')
		return invalid(error, "ipv4: must be a dotted quad like '192.0.2.10'");
	return TRUE;
}

/**
 * exm_mail_validate_selector:
 * @selector: (nullable): a DKIM selector
 * @error: %EXM_MAIL_ERROR_INVALID
 *
 * Returns: %TRUE when @selector is one DNS label of `[a-z0-9-]`
 */
gboolean
exm_mail_validate_selector(const gchar *selector, GError **error)
{
	if (selector == NULL || *selector == '\0')
		return invalid(error,
			       "dkim_selector: must not be empty, e.g. '%s'",
			       EXM_MAIL_DEFAULT_SELECTOR);
	if (strchr(selector, '.') != NULL)
		return invalid(error, "dkim_selector: must be a single DNS label (no '.')");
	return check_label("dkim_selector", selector, error);
}

/**
 * exm_mail_validate_limit:
 * @field: the field name
 * @value: the value
 * @min: the smallest accepted value
 * @max: the largest accepted value
 * @error: %EXM_MAIL_ERROR_INVALID
 *
 * Returns: %TRUE when @value is within [@min, @max]
 */
gboolean
exm_mail_validate_limit(const gchar *field, gint64 value, gint64 min, gint64 max, GError **error)
{
	if (value >= min && value <= max)
		return TRUE;
	return invalid(error,
		       "%s: must be an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT
		       ", or null for the default",
		       field,
		       min,
		       max);
}

/* @domain is @parent or ends with ".@parent". */
static gboolean
is_within_domain(const gchar *domain, const gchar *parent)
{
	gsize dl = strlen(domain), pl = strlen(parent);

	if (g_str_equal(domain, parent))
		return TRUE;
	return dl > pl && domain[dl - pl - 1] == '.' && g_str_equal(domain + dl - pl, parent);
}

/**
 * exm_mail_validate_normalize_sender:
 * @pattern: (nullable): the pattern
 * @domain: (nullable): the instance domain
 * @error: %EXM_MAIL_ERROR_INVALID
 *
 * See exm-mail-validate.h.
 *
 * Returns: (transfer full) (nullable): the lower-cased pattern
 */
gchar *
exm_mail_validate_normalize_sender(const gchar *pattern, const gchar *domain, GError **error)
{
	const gchar *at = pattern != NULL ? strchr(pattern, '@') : NULL;
	g_autofree gchar *local = NULL;
	g_autofree gchar *dom = NULL;

	if (at == NULL || at == pattern) {
		invalid(error,
			"senders: '%.64s' must be 'local@domain' or '*@domain'",
			pattern != NULL ? pattern : "");
		return NULL;
	}
	local = g_strndup(pattern, (gsize)(at - pattern));
	if (!g_str_equal(local, "*")) {
		g_autofree gchar *norm = exm_mail_validate_normalize_username(local, NULL);
		/* a leading '+' would name an exim list */
		if (norm == NULL || norm[0] == '+') {
			invalid(error,
				"senders: the local part of '%.64s' must be '*' or 1 to %d of "
				"a-z, 0-9, '.', '_', '+', '-' (not starting with '.' or '+')",
				pattern,
				EXM_MAIL_USERNAME_MAX);
			return NULL;
		}
		g_free(local);
		local = g_steal_pointer(&norm);
	}
	dom = exm_mail_validate_normalize_domain(at + 1, NULL);
	if (dom == NULL || (domain != NULL && !is_within_domain(dom, domain))) {
		invalid(error,
			"senders: the domain of '%.64s' must be %s%s",
			pattern,
			domain != NULL ? "the instance domain or a subdomain of " : "a host name",
			domain != NULL ? domain : "");
		return NULL;
	}
	return g_strdup_printf("%s@%s", local, dom);
}

/* ------------------------------------------------------------------------------------
 * password_hash grammar.  Each family is checked the way libxcrypt parses it, plus the
 * canonical-encoding rules of its base-64 fields: crypt(3) re-encodes salt and checksum
 * when it verifies, so a hash with stray bits in a last character could never match
 * and is refused here instead of failing every login.
 */

#define HASH_HINT                                                                                  \
	"; accepted are crypt(3) hashes $y$, $gy$, $7$, $2b$, $2y$, $6$ and $5$ - send the "       \
	"output of `openssl passwd -6` (or `mkpasswd -m yescrypt`), or send the plaintext in "     \
	"the write-only `password` field instead"

#define ITOA64 "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/* Each character's place in crypt's "./0-9A-Za-z" alphabet, -1 for any
 * other: a table, as every character of 100 000 hashes is looked up in a
 * node's validation (a chain of comparisons was a fifth of it). */
static const gint8 *
itoa64_table(void)
{
	static gint8 table[256];
	static gsize ready = 0;

	if (g_once_init_enter(&ready)) {
		memset(table, -1, sizeof(table));
		for (guint i = 0; i < 64; i++)
			table[(guchar)ITOA64[i]] = (gint8)i;
		g_once_init_leave(&ready, 1);
	}
	return table;
}

/* crypt's "./0-9A-Za-z" alphabet; -1 for anything else. */
static gint
itoa64_index(gchar c)
{
	return itoa64_table()[(guchar)c];
}

/* bcrypt's own order "./A-Za-z0-9". */
static gint
bcrypt_index(gchar c)
{
	if (c == '.' || c == '/')
		return c == '.' ? 0 : 1;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 2;
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 28;
	if (c >= '0' && c <= '9')
		return c - '0' + 54;
	return -1;
}

/* Why a hash was refused: fixed words and numbers, never the hash, on the
 * stack (a GString for each check was a tenth of reading 100 000
 * accounts). */
typedef struct {
	gchar str[256];
} HashWhy;

#define why_printf(why, ...) g_snprintf((why)->str, sizeof((why)->str), __VA_ARGS__)

/* @len characters of itoa64, the last one below @last_limit (unused trailing bits). */
static gboolean
check_b64(const gchar *s, gsize len, gint last_limit, const gchar *what, HashWhy *why)
{
	const gint8 *table = itoa64_table();

	for (gsize i = 0; i < len; i++) {
		if (table[(guchar)s[i]] < 0) {
			why_printf(why, "the %s has a character outside [./0-9A-Za-z]", what);
			return FALSE;
		}
	}
	if (len > 0 && itoa64_index(s[len - 1]) >= last_limit) {
		/* the first @last_limit characters of the alphabet, in order */
		why_printf(why,
			   "the last character of the %s must be one of '%.*s' (it carries "
			   "only the final bits; any other value can never match)",
			   what,
			   last_limit,
			   ITOA64);
		return FALSE;
	}
	return TRUE;
}

/* The checksum is what follows the last field: exactly @len base-64 characters. */
static gboolean
check_checksum(const gchar *s, gsize len, gint last_limit, HashWhy *why)
{
	gsize have = strlen(s);

	if (have != len) {
		why_printf(why, "the checksum must be %zu characters, got %zu", len, have);
		return FALSE;
	}
	return check_b64(s, len, last_limit, "checksum", why);
}

/* `rounds=N$` of SHA-crypt: decimal without leading zero, 1000..999999999. */
static gboolean
check_sha_rounds(const gchar **p, HashWhy *why)
{
	const gchar *s = *p + strlen("rounds=");
	gsize digits = strspn(s, "0123456789");
	guint64 rounds;

	if (digits == 0 || digits > 9 || s[digits] != '$' || s[0] == '0') {
		why_printf(why, "rounds= must be a decimal number followed by '$'");
		return FALSE;
	}
	rounds = g_ascii_strtoull(s, NULL, 10);
	if (rounds < 1000) {
		why_printf(why, "rounds= must be between 1000 and 999999999");
		return FALSE;
	}
	*p = s + digits + 1;
	return TRUE;
}

/* $6$ / $5$: [rounds=N$] salt(1..16) $ checksum. */
static gboolean
check_sha_crypt(const gchar *body, gsize checksum_len, gint last_limit, HashWhy *why)
{
	const gchar *p = body;
	const gchar *dollar;

	if (g_str_has_prefix(p, "rounds=") && !check_sha_rounds(&p, why))
		return FALSE;
	dollar = strchr(p, '$');
	if (dollar == NULL) {
		why_printf(why, "it has no '$' between salt and checksum");
		return FALSE;
	}
	if (dollar == p || dollar - p > 16) {
		why_printf(why, "the salt must be 1 to 16 characters");
		return FALSE;
	}
	if (!check_b64(p, (gsize)(dollar - p), 64, "salt", why))
		return FALSE;
	return check_checksum(dollar + 1, checksum_len, last_limit, why);
}

static gboolean
check_sha512(const gchar *body, HashWhy *why)
{
	return check_sha_crypt(body, 86, 4, why);
}

static gboolean
check_sha256(const gchar *body, HashWhy *why)
{
	return check_sha_crypt(body, 43, 16, why);
}

/* bcrypt: two-digit cost 04..31, '$', 22 salt + 31 hash characters. */
static gboolean
check_bcrypt(const gchar *body, HashWhy *why)
{
	gint cost;

	if (!g_ascii_isdigit(body[0]) || !g_ascii_isdigit(body[1]) || body[2] != '$') {
		why_printf(why, "the cost must be two digits followed by '$'");
		return FALSE;
	}
	cost = (body[0] - '0') * 10 + (body[1] - '0');
	if (cost < 4 || cost > 31) {
		why_printf(why, "the cost must be between 04 and 31");
		return FALSE;
	}
	body += 3;
	if (strlen(body) != 53) {
		why_printf(why, "salt and hash must be 53 characters, got %zu", strlen(body));
		return FALSE;
	}
	for (gsize i = 0; i < 53; i++) {
		if (bcrypt_index(body[i]) < 0) {
			why_printf(why, "salt or hash has a character outside [./A-Za-z0-9]");
			return FALSE;
		}
	}
	/* 22 chars carry 128 bits of salt, 31 chars carry 184 bits of hash. */
	if (bcrypt_index(body[21]) % 16 != 0 || bcrypt_index(body[52]) % 4 != 0) {
		why_printf(why, "the salt or hash does not end in a canonical character");
		return FALSE;
	}
	return TRUE;
}

/*
 * yescrypt's variable-length integer: the first character's range says how many
 * characters follow (0-47: none, 48-55: one, 56-59: two, 60-61: three, 62: four,
 * 63: five).  Returns the position after it, or %NULL.
 */
static const gchar *
ys_decode_uint(const gchar *s, guint64 min, guint64 *out)
{
	guint64 start = 0, end = 47, bits = 0, chars = 1;
	gint c = itoa64_index(*s++);

	if (c < 0)
		return NULL;
	*out = min;
	while ((guint64)c > end) {
		*out += (end + 1 - start) << bits;
		start = end + 1;
		end = start + (62 - end) / 2;
		chars++;
		bits += 6;
	}
	*out += ((guint64)c - start) << bits;
	while (--chars) {
		c = itoa64_index(*s++);
		if (c < 0)
			return NULL;
		bits -= 6;
		*out += (guint64)c << bits;
	}
	return s;
}

/* The KDF parameters of a yescrypt or scrypt setting. */
typedef struct {
	guint64 flavor;
	guint64 n_log2;
	guint64 r;
	guint64 p;
	guint64 t;
} KdfParams;

/* The optional parameters after flavor, N and r: a bit set, then p, t, g, NROM. */
static const gchar *
ys_optional_params(const gchar *p, KdfParams *kp)
{
	guint64 have;

	if (*p == '$')
		return p;
	p = ys_decode_uint(p, 1, &have);
	/* crypt(3) has no ROM and the KDF refuses hash upgrades (g); bits above NROM's
	 * are ignored by libxcrypt's parser */
	if (p == NULL || (have & (4 | 8)) != 0)
		return NULL;
	if ((have & 1) != 0)
		p = ys_decode_uint(p, 2, &kp->p);
	if (p != NULL && (have & 2) != 0)
		p = ys_decode_uint(p, 1, &kp->t);
	return p;
}

/* What yescrypt's KDF accepts: flavors 0 (scrypt), 1 (WORM) and the one yescrypt
 * flavor libxcrypt implements (47, 'j'); 4 <= N <= 2^31; r * p < 2^30. */
static gboolean
ys_params_usable(const KdfParams *kp)
{
	if (kp->flavor != 0 && kp->flavor != 1 && kp->flavor != 47)
		return FALSE;
	if (kp->n_log2 < 2 || kp->n_log2 > 31 || kp->p > (1u << 30) || kp->r * kp->p >= (1u << 30))
		return FALSE;
	if (kp->flavor == 0 && kp->t != 0)
		return FALSE;
	/* the RW flavor needs N / p >= 4 */
	return kp->flavor != 47 || ((G_GUINT64_CONSTANT(1) << kp->n_log2) / kp->p) >= 4;
}

/* flavor, N_log2, r[, have, ...]; returns the position of the '$' after them. */
static const gchar *
ys_decode_params(const gchar *p, KdfParams *kp)
{
	*kp = (KdfParams){ .p = 1 };
	p = ys_decode_uint(p, 0, &kp->flavor);
	if (p != NULL)
		p = ys_decode_uint(p, 1, &kp->n_log2);
	if (p != NULL)
		p = ys_decode_uint(p, 1, &kp->r);
	if (p != NULL)
		p = ys_optional_params(p, kp);
	if (p == NULL || *p != '$' || kp->r > (1u << 30) || !ys_params_usable(kp))
		return NULL;
	return p;
}

/* The parameters followed by '$'; returns the salt position. */
static const gchar *
ys_params(const gchar *p, HashWhy *why)
{
	KdfParams kp;

	p = ys_decode_params(p, &kp);
	if (p == NULL) {
		why_printf(why, "the parameters are malformed or not followed by '$'");
		return NULL;
	}
	return p + 1;
}

/* yescrypt's base-64 salt: decodes to 1..64 whole bytes with no stray bits. */
static gboolean
ys_salt(const gchar *s, gsize len, HashWhy *why)
{
	gsize bytes = len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);

	if (len == 0 || len % 4 == 1 || bytes > 64) {
		why_printf(why, "the salt must encode 1 to 64 bytes");
		return FALSE;
	}
	/* a final group of 2 characters holds 8 bits (last one < 4), of 3 holds 16
	 * (last one < 16) */
	return check_b64(s, len, len % 4 == 0 ? 64 : len % 4 == 2 ? 4 : 16, "salt", why);
}

/* $y$ and $gy$: params $ salt $ checksum(43). */
static gboolean
check_yescrypt(const gchar *body, HashWhy *why)
{
	const gchar *salt = ys_params(body, why);
	const gchar *dollar;

	if (salt == NULL)
		return FALSE;
	dollar = strchr(salt, '$');
	if (dollar == NULL) {
		why_printf(why, "it has no '$' between salt and checksum");
		return FALSE;
	}
	if (!ys_salt(salt, (gsize)(dollar - salt), why))
		return FALSE;
	return check_checksum(dollar + 1, 43, 16, why);
}

/* 30-bit little-endian field of five characters (scrypt r and p). */
static guint32
scrypt_field(const gchar *s)
{
	guint32 v = 0;

	for (guint i = 0; i < 5; i++)
		v |= (guint32)itoa64_index(s[i]) << (6 * i);
	return v;
}

/* $7$: N_log2(1) r(5) p(5) salt $ checksum(43); the salt is used as text. */
static gboolean
check_scrypt(const gchar *body, HashWhy *why)
{
	const gchar *dollar = strchr(body, '$');
	gsize setting_len = dollar != NULL ? (gsize)(dollar - body) : 0;
	guint64 r, p;

	/* CRYPT_OUTPUT_SIZE (384) bounds "$7$" + setting + "$" + 43 + NUL. */
	if (dollar == NULL || setting_len < 12 || setting_len > 384 - 3 - 1 - 43 - 1) {
		why_printf(why, "N, r, p and a salt of 1 to 325 characters must precede '$'");
		return FALSE;
	}
	if (!check_b64(body, setting_len, 64, "parameters or salt", why))
		return FALSE;
	r = scrypt_field(body + 1);
	p = scrypt_field(body + 6);
	/* N = 2^N_log2 with 2 <= N_log2 <= 31; r, p >= 1 with r * p < 2^30 */
	if (itoa64_index(body[0]) < 2 || itoa64_index(body[0]) > 31 || r == 0 || p == 0 ||
	    r * p >= (1u << 30)) {
		why_printf(why, "the N, r or p parameter is out of range");
		return FALSE;
	}
	return check_checksum(dollar + 1, 43, 16, why);
}

typedef gboolean (*HashCheckFunc)(const gchar *body, HashWhy *why);

typedef struct {
	const gchar *prefix;
	HashCheckFunc check;
} HashFamily;

static const HashFamily hash_families[] = {
	{ "$y$", check_yescrypt }, { "$gy$", check_yescrypt }, { "$7$", check_scrypt },
	{ "$2b$", check_bcrypt },  { "$2y$", check_bcrypt },   { "$6$", check_sha512 },
	{ "$5$", check_sha256 },
};

typedef struct {
	const gchar *scheme;   /* with braces */
	const gchar *prefixes; /* space-separated family prefixes, NULL: any */
} HashScheme;

static const HashScheme hash_schemes[] = {
	{ "{SHA512-CRYPT}", "$6$" },
	{ "{SHA256-CRYPT}", "$5$" },
	{ "{BLF-CRYPT}", "$2b$ $2y$" },
	{ "{CRYPT}", NULL },
};

static const HashFamily *
find_family(const gchar *hash)
{
	for (gsize i = 0; i < G_N_ELEMENTS(hash_families); i++) {
		if (g_str_has_prefix(hash, hash_families[i].prefix))
			return &hash_families[i];
	}
	return NULL;
}

/* Names well-known families we refuse, so the message says why. */
static const gchar *
refused_family(const gchar *hash)
{
	if (g_str_has_prefix(hash, "$1$"))
		return "MD5-crypt ($1$) is too weak and not accepted";
	if (g_str_has_prefix(hash, "$2a$") || g_str_has_prefix(hash, "$2x$"))
		return "old bcrypt variants ($2a$, $2x$) are not accepted; use $2b$ or $2y$";
	if (hash[0] == '_' || (strlen(hash) == 13 && hash[0] != '$'))
		return "DES crypt is too weak and not accepted";
	if (hash[0] != '$')
		return "it is not a crypt(3) hash (it must start with '$')";
	return "its crypt(3) family is not accepted";
}

/* Splits a `{SCHEME}` prefix off; %NULL when the scheme is unknown. */
static const gchar *
strip_checked_scheme(const gchar *hash, const HashScheme **scheme, GError **error)
{
	const gchar *close = strchr(hash, '}');

	*scheme = NULL;
	if (hash[0] != '{')
		return hash;
	for (gsize i = 0; close != NULL && i < G_N_ELEMENTS(hash_schemes); i++) {
		gsize len = strlen(hash_schemes[i].scheme);

		if ((gsize)(close - hash + 1) == len &&
		    g_ascii_strncasecmp(hash, hash_schemes[i].scheme, len) == 0) {
			*scheme = &hash_schemes[i];
			return close + 1;
		}
	}
	invalid(error,
		"password_hash: unknown scheme prefix; use {SHA512-CRYPT} with $6$, "
		"{SHA256-CRYPT} with $5$, {BLF-CRYPT} with $2b$/$2y$, {CRYPT} with any "
		"accepted family, or no prefix" HASH_HINT);
	return NULL;
}

static gboolean
scheme_allows(const HashScheme *scheme, const HashFamily *family)
{
	g_auto(GStrv) allowed = NULL;

	if (scheme == NULL || scheme->prefixes == NULL)
		return TRUE;
	allowed = g_strsplit(scheme->prefixes, " ", -1);
	return g_strv_contains((const gchar *const *)allowed, family->prefix);
}

static gboolean
check_hash_bytes(const gchar *hash, GError **error)
{
	gsize len;

	if (hash == NULL || *hash == '\0')
		return invalid(error, "password_hash: must not be empty" HASH_HINT);
	len = strlen(hash);
	if (len > EXM_MAIL_HASH_MAX)
		return invalid(error,
			       "password_hash: is %zu bytes long, at most %d are allowed",
			       len,
			       EXM_MAIL_HASH_MAX);
	/* a hash is printable ASCII; ':' and line breaks would break passwd lines */
	if (!is_printable_ascii(hash) || strchr(hash, ':') != NULL)
		return invalid(error,
			       "password_hash: must not contain whitespace, ':', control "
			       "or non-ASCII characters" HASH_HINT);
	return TRUE;
}

/**
 * exm_mail_validate_password_hash:
 * @hash: (nullable): a crypt(3) hash, optionally with a Dovecot `{SCHEME}` prefix
 * @error: %EXM_MAIL_ERROR_INVALID naming `openssl passwd -6` and the `password` field
 *
 * See exm-mail-validate.h.  Only the format is checked (libxcrypt's parser and the
 * canonical base-64 of each field); the KDF cost parameters are not limited beyond
 * what that parser accepts.
 *
 * Returns: %TRUE when valid
 */
gboolean
exm_mail_validate_password_hash(const gchar *hash, GError **error)
{
	HashWhy why[1] = { { "" } };
	const HashScheme *scheme = NULL;
	const HashFamily *family;
	const gchar *bare;

	if (!check_hash_bytes(hash, error))
		return FALSE;
	bare = strip_checked_scheme(hash, &scheme, error);
	if (bare == NULL)
		return FALSE;
	family = find_family(bare);
	if (family == NULL)
		return invalid(error, "password_hash: %s" HASH_HINT, refused_family(bare));
	if (!scheme_allows(scheme, family))
		return invalid(error,
			       "password_hash: the scheme %s does not match a %s hash; use "
			       "{CRYPT} or no prefix",
			       scheme->scheme,
			       family->prefix);
	if (!family->check(bare + strlen(family->prefix), why))
		return invalid(error,
			       "password_hash: malformed %s hash: %s" HASH_HINT,
			       family->prefix,
			       why->str);
	return TRUE;
}

/* ---- work factors ------------------------------------------------------------------ */

/* 128·r·N bytes of memory; p lanes and t extra passes multiply the time. */
static gboolean
kdf_affordable(const gchar *family, const KdfParams *kp, HashWhy *why)
{
	if (kp->n_log2 > 28 || kp->r > (1u << 20) ||
	    ((guint64)128 * kp->r << kp->n_log2) > EXM_MAIL_KDF_MEMORY_MAX) {
		why_printf(why,
			   "%s N=2^%" G_GUINT64_FORMAT ", r=%" G_GUINT64_FORMAT
			   " needs 128*r*N bytes of memory, above the ceiling of %d MiB",
			   family,
			   kp->n_log2,
			   kp->r,
			   (gint)(EXM_MAIL_KDF_MEMORY_MAX >> 20));
		return FALSE;
	}
	if (kp->p > EXM_MAIL_KDF_LANES_MAX || kp->t >= EXM_MAIL_KDF_LANES_MAX ||
	    kp->p * (kp->t + 1) > EXM_MAIL_KDF_LANES_MAX) {
		why_printf(why,
			   "%s p=%" G_GUINT64_FORMAT ", t=%" G_GUINT64_FORMAT
			   " gives p*(t+1) above the ceiling of %d",
			   family,
			   kp->p,
			   kp->t,
			   EXM_MAIL_KDF_LANES_MAX);
		return FALSE;
	}
	return TRUE;
}

static gboolean
sha_rounds_affordable(const gchar *family, const gchar *body, HashWhy *why)
{
	guint64 rounds;

	if (!g_str_has_prefix(body, "rounds="))
		return TRUE; /* the default, 5000 */
	rounds = g_ascii_strtoull(body + strlen("rounds="), NULL, 10);
	if (rounds <= EXM_MAIL_SHA_ROUNDS_MAX)
		return TRUE;
	why_printf(why,
		   "%s rounds=%" G_GUINT64_FORMAT " is above the ceiling of %d rounds",
		   family,
		   rounds,
		   EXM_MAIL_SHA_ROUNDS_MAX);
	return FALSE;
}

static gboolean
bcrypt_affordable(const gchar *bare, HashWhy *why)
{
	gint cost = (bare[4] - '0') * 10 + (bare[5] - '0');

	if (cost <= EXM_MAIL_BCRYPT_COST_MAX)
		return TRUE;
	why_printf(
		why, "bcrypt cost %d is above the ceiling of %d", cost, EXM_MAIL_BCRYPT_COST_MAX);
	return FALSE;
}

/* @bare passed the grammar, so every field below is present and well-formed. */
static gboolean
hash_cost_affordable(const gchar *bare, HashWhy *why)
{
	KdfParams kp = { .p = 1 };

	if (g_str_has_prefix(bare, "$2"))
		return bcrypt_affordable(bare, why);
	if (g_str_has_prefix(bare, "$6$") || g_str_has_prefix(bare, "$5$"))
		return sha_rounds_affordable(
			bare[1] == '6' ? "SHA512-crypt" : "SHA256-crypt", bare + 3, why);
	if (g_str_has_prefix(bare, "$7$")) {
		kp.n_log2 = (guint64)itoa64_index(bare[3]);
		kp.r = scrypt_field(bare + 4);
		kp.p = scrypt_field(bare + 9);
		return kdf_affordable("scrypt", &kp, why);
	}
	bare = strchr(bare + 1, '$') + 1; /* after "$y$" or "$gy$" */
	if (ys_decode_params(bare, &kp) == NULL) {
		why_printf(why, "its yescrypt parameters are malformed");
		return FALSE;
	}
	return kdf_affordable("yescrypt", &kp, why);
}

/**
 * exm_mail_validate_hash_cost:
 * @hash: (nullable): a hash, `{SCHEME}` prefix allowed
 * @error: %EXM_MAIL_ERROR_INVALID naming the ceiling that was passed
 *
 * Whether checking a password against @hash is affordable: a valid hash whose
 * work factor is at most bcrypt cost %EXM_MAIL_BCRYPT_COST_MAX,
 * %EXM_MAIL_SHA_ROUNDS_MAX SHA-crypt rounds, or %EXM_MAIL_KDF_MEMORY_MAX of
 * yescrypt/scrypt memory with p·(t+1) ≤ %EXM_MAIL_KDF_LANES_MAX.  The grammar
 * accepts dearer hashes; every write of a hash (the API, the node value the
 * builder and the agent handle) and exm_mail_crypt_verify() refuse them.
 *
 * Returns: %TRUE when affordable
 */
gboolean
exm_mail_validate_hash_cost(const gchar *hash, GError **error)
{
	HashWhy why[1] = { { "" } };
	const gchar *bare;

	if (!exm_mail_validate_password_hash(hash, error))
		return FALSE;
	bare = hash[0] == '{' ? strchr(hash, '}') + 1 : hash;
	if (!hash_cost_affordable(bare, why))
		return invalid(error,
			       "password_hash: its work factor is too high: %s; every login "
			       "would cost that much - use the defaults of `openssl passwd -6` "
			       "or `mkpasswd -m yescrypt`",
			       why->str);
	return TRUE;
}
