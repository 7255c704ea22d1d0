/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The data-plane file formats.  Renderers re-check what they put on a line even
 * though the models were validated: a line break or ':' smuggled into passwd or
 * mail.env would grant a login or change the domain, so nothing unchecked is
 * ever written.
 */
#include "exm-mail-files.h"

#include <string.h>

#include "exm-mail-crypt.h"
#include "exm-mail-error.h"
#include "exm-mail-validate.h"

#define DNS_TTL	      3600
#define TXT_CHUNK_MAX 255
#define SPF_TAIL      "a mx ~all"
#define DMARC_DATA    "v=DMARC1; p=none; pct=100; adkim=s; aspf=s"
#define MX_PREFERENCE 10
#define MAIL_ENV_KEY  "MAIL_DOMAIN"

/* ---- /etc/exim4/passwd ------------------------------------------------------------- */

/* A hash that cannot break the `address:hash` line format of lsearch. */
static gboolean
is_line_safe_hash(const gchar *hash)
{
	if (hash == NULL || *hash == '\0')
		return FALSE;
	for (const gchar *p = hash; *p != '\0'; p++) {
		if ((guchar)*p < 0x21 || (guchar)*p > 0x7e || *p == ':')
			return FALSE;
	}
	return TRUE;
}

static gboolean
is_canonical_username(const gchar *username)
{
	g_autofree gchar *norm = exm_mail_normalize_username(username, NULL);

	return norm != NULL && g_strcmp0(norm, username) == 0;
}

static gint
compare_node_accounts(gconstpointer a, gconstpointer b)
{
	const ExmMailNodeAccount *x = *(const ExmMailNodeAccount *const *)a;
	const ExmMailNodeAccount *y = *(const ExmMailNodeAccount *const *)b;

	return g_strcmp0(x->username, y->username);
}

/* One passwd line, or %NULL (with a warning) when the account cannot be written safely. */
static gchar *
passwd_line(const ExmMailNodeAccount *a, const gchar *domain)
{
	const gchar *hash = exm_mail_strip_scheme(a->password_hash);

	if (!is_canonical_username(a->username) || !is_line_safe_hash(hash)) {
		g_warning("passwd: skipping an account whose username or hash cannot be "
			  "written safely");
		return NULL;
	}
	return g_strdup_printf("%s@%s:%s\n", a->username, domain, hash);
}

/**
 * exm_mail_passwd_render:
 * @node: the value
 *
 * See exm-mail-files.h.  Accounts that could not be written safely (an invalid
 * username, a hash with `:` or whitespace, an invalid domain) are left out with a
 * warning; exm_mail_node_add_account() never lets one in.
 *
 * Returns: (transfer full): the file content
 */
gchar *
exm_mail_passwd_render(const ExmMailNode *node)
{
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(GPtrArray) sorted = NULL;
	g_autofree gchar *domain = NULL;

	g_return_val_if_fail(node != NULL, g_strdup(""));
	domain = exm_mail_normalize_domain(node->domain, NULL);
	if (domain == NULL || g_strcmp0(domain, node->domain) != 0) {
		g_warning("passwd: the node has no valid lower-case domain; no line is written");
		return g_strdup("");
	}
	/* a shallow copy: it must not free the accounts it borrows */
	sorted = g_ptr_array_copy(node->accounts, NULL, NULL);
	g_ptr_array_set_free_func(sorted, NULL);
	g_ptr_array_sort(sorted, compare_node_accounts);
	for (guint k = 0; k < sorted->len; k++) {
		const ExmMailNodeAccount *a = g_ptr_array_index(sorted, k);
		g_autofree gchar *line = NULL;

		if (!a->active)
			continue;
		line = passwd_line(a, domain);
		if (line != NULL)
			g_string_append(out, line);
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/**
 * exm_mail_passwd_entry_free:
 * @e: (nullable): an entry
 *
 * Frees @e and its strings.
 */
void
exm_mail_passwd_entry_free(ExmMailPasswdEntry *e)
{
	if (e == NULL)
		return;
	g_free(e->address);
	g_free(e->local);
	g_free(e->hash);
	g_free(e);
}

/* `address:hash` with '@' in the address, else %NULL (the line is skipped). */
static ExmMailPasswdEntry *
passwd_parse_line(const gchar *line)
{
	const gchar *colon = strchr(line, ':');
	g_autofree gchar *address = NULL;
	ExmMailPasswdEntry *e;
	const gchar *at;

	if (colon == NULL)
		return NULL;
	address = g_ascii_strdown(line, colon - line);
	at = strchr(address, '@');
	if (at == NULL)
		return NULL;
	e = g_new0(ExmMailPasswdEntry, 1);
	e->local = g_strndup(address, (gsize)(at - address));
	e->address = g_steal_pointer(&address);
	e->hash = g_strdup(colon + 1);
	return e;
}

/**
 * exm_mail_passwd_parse:
 * @content: file content
 * @error: %EXM_MAIL_ERROR_PARSE on invalid UTF-8
 *
 * Like upstream restore_from_dp: each line is trimmed; blank and `#` lines, lines
 * without `:` and keys without `@` are skipped.  `\r\n` line ends are accepted.
 *
 * Returns: (transfer full) (element-type ExmMailPasswdEntry): entries in file order
 */
GPtrArray *
exm_mail_passwd_parse(const gchar *content, GError **error)
{
	g_autoptr(GPtrArray) entries =
		g_ptr_array_new_with_free_func((GDestroyNotify)exm_mail_passwd_entry_free);
	g_auto(GStrv) lines = NULL;

	if (content == NULL)
		return g_steal_pointer(&entries);
	if (!g_utf8_validate(content, -1, NULL)) {
		g_set_error_literal(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_PARSE,
				    "passwd: the file is not valid UTF-8");
		return NULL;
	}
	lines = g_strsplit(content, "\n", -1);
	for (guint k = 0; lines[k] != NULL; k++) {
		gchar *line = g_strstrip(lines[k]);
		ExmMailPasswdEntry *e;

		if (*line == '\0' || *line == '#')
			continue;
		e = passwd_parse_line(line);
		if (e != NULL)
			g_ptr_array_add(entries, e);
	}
	return g_steal_pointer(&entries);
}

/* ---- mail.env ------------------------------------------------------------------------- */

/**
 * exm_mail_env_render:
 * @domain: the instance domain (validated again)
 * @error: %EXM_MAIL_ERROR_INVALID
 *
 * Returns: (transfer full) (nullable): `MAIL_DOMAIN=<domain>\n`
 */
gchar *
exm_mail_env_render(const gchar *domain, GError **error)
{
	g_autofree gchar *norm = exm_mail_normalize_domain(domain, error);

	if (norm == NULL)
		return NULL;
	return g_strdup_printf(MAIL_ENV_KEY "=%s\n", norm);
}

static gboolean
env_fail(GError **error, guint line, const gchar *what)
{
	if (line > 0)
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_PARSE,
			    "mail.env: line %u: %s",
			    line,
			    what);
	else
		g_set_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_PARSE, "mail.env: %s", what);
	return FALSE;
}

/* Strips one pair of matching quotes; quotes inside are refused. */
static gboolean
env_unquote(gchar *value, guint line, GError **error)
{
	gsize len = strlen(value);

	if (len >= 2 && (value[0] == '"' || value[0] == '\'') && value[len - 1] == value[0]) {
		memmove(value, value + 1, len - 2);
		value[len - 2] = '\0';
	}
	if (strpbrk(value, "\"'") != NULL)
		return env_fail(error, line, "unbalanced or nested quotes");
	return TRUE;
}

/* One `KEY=value` line; sets *@domain (refusing a second one). */
static gboolean
env_parse_line(gchar *line, guint lineno, gchar **domain, GError **error)
{
	gchar *eq = strchr(line, '=');
	g_autoptr(GError) local = NULL;
	gchar *value;

	if (eq == NULL)
		return env_fail(error, lineno, "expected KEY=value");
	*eq = '\0';
	if (strcmp(line, MAIL_ENV_KEY) != 0)
		return env_fail(error, lineno, "unknown key; only " MAIL_ENV_KEY " is allowed");
	if (*domain != NULL)
		return env_fail(error, lineno, MAIL_ENV_KEY " is set twice");
	value = eq + 1;
	if (!env_unquote(value, lineno, error))
		return FALSE;
	*domain = exm_mail_normalize_domain(value, &local);
	if (*domain == NULL)
		return env_fail(error, lineno, local->message);
	return TRUE;
}

/**
 * exm_mail_env_parse:
 * @content: (nullable): mail.env content
 * @error: %EXM_MAIL_ERROR_PARSE
 *
 * Shell `KEY=value` lines, blank lines and `#` comments; one pair of single or
 * double quotes around the value.  A carriage return anywhere is refused (a shell
 * sourcing the file would keep it in the value).
 *
 * Returns: (transfer full) (nullable): the lower-cased domain
 */
gchar *
exm_mail_env_parse(const gchar *content, GError **error)
{
	g_autofree gchar *domain = NULL;
	g_auto(GStrv) lines = NULL;

	if (content == NULL || !g_utf8_validate(content, -1, NULL)) {
		env_fail(error, 0, "the file is missing or not valid UTF-8");
		return NULL;
	}
	if (strchr(content, '\r') != NULL) {
		env_fail(error, 0, "carriage return found; use LF line endings");
		return NULL;
	}
	lines = g_strsplit(content, "\n", -1);
	for (guint k = 0; lines[k] != NULL; k++) {
		gchar *line = g_strstrip(lines[k]);

		if (*line == '\0' || *line == '#')
			continue;
		if (!env_parse_line(line, k + 1, &domain, error))
			return NULL;
	}
	if (domain == NULL) {
		env_fail(error, 0, MAIL_ENV_KEY " is missing");
		return NULL;
	}
	return g_steal_pointer(&domain);
}

/* ---- DKIM ------------------------------------------------------------------------------ */

/**
 * exm_mail_dkim_record_data:
 * @public_key_b64: (nullable): base64 of the DER SubjectPublicKeyInfo
 *
 * Returns: (transfer full): `v=DKIM1; h=sha256; k=rsa; p=<key>`
 */
gchar *
exm_mail_dkim_record_data(const gchar *public_key_b64)
{
	return g_strdup_printf("v=DKIM1; h=sha256; k=rsa; p=%s",
			       public_key_b64 != NULL ? public_key_b64 : "");
}

/**
 * exm_mail_dkim_split:
 * @data: (nullable): TXT data
 *
 * Returns: (transfer full): @data cut into strings of at most 255 bytes (one empty
 *   string for empty data: a TXT record always has at least one)
 */
GStrv
exm_mail_dkim_split(const gchar *data)
{
	g_autoptr(GStrvBuilder) b = g_strv_builder_new();
	gsize len = data != NULL ? strlen(data) : 0;

	if (len == 0)
		g_strv_builder_add(b, "");
	for (gsize off = 0; off < len; off += TXT_CHUNK_MAX) {
		g_autofree gchar *chunk = g_strndup(data + off, TXT_CHUNK_MAX);

		g_strv_builder_add(b, chunk);
	}
	return g_strv_builder_end(b);
}

/* A zone-file character-string: quotes and backslashes escaped, others as \DDD. */
static void
append_quoted(GString *out, const gchar *chunk)
{
	g_string_append_c(out, '"');
	for (const guchar *p = (const guchar *)chunk; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_printf(out, "\\%c", *p);
		else if (*p < 0x20 || *p > 0x7e)
			g_string_append_printf(out, "\\%03u", *p);
		else
			g_string_append_c(out, (gchar)*p);
	}
	g_string_append_c(out, '"');
}

/* The 255-byte chunks of @data, quoted, joined with @sep. */
static gchar *
quoted_chunks(const gchar *data, const gchar *sep)
{
	g_auto(GStrv) chunks = exm_mail_dkim_split(data);
	GString *out = g_string_new(NULL);

	for (guint k = 0; chunks[k] != NULL; k++) {
		if (k > 0)
			g_string_append(out, sep);
		append_quoted(out, chunks[k]);
	}
	return g_string_free(out, FALSE);
}

/**
 * exm_mail_dkim_txt_render:
 * @selector: the DKIM selector
 * @domain: the instance domain (only in the trailing comment)
 * @data: the TXT data
 *
 * Returns: (transfer full): the BIND-style record, as opendkim-genkey writes it
 */
gchar *
exm_mail_dkim_txt_render(const gchar *selector, const gchar *domain, const gchar *data)
{
	g_autofree gchar *chunks = quoted_chunks(data, "\n\t  ");
	const gchar *sel =
		exm_mail_validate_selector(selector, NULL) ? selector : EXM_MAIL_DEFAULT_SELECTOR;
	g_autofree gchar *dom = exm_mail_normalize_domain(domain, NULL);

	return g_strdup_printf("%s._domainkey\tIN\tTXT\t( %s )  ; ----- DKIM key %s for %s\n",
			       sel,
			       chunks,
			       sel,
			       dom != NULL ? dom : "?");
}

/**
 * exm_mail_dkim_txt_parse:
 * @content: (nullable): a BIND-style TXT record or a quoted string
 *
 * Returns: (transfer full): every double-quoted chunk concatenated, then trimmed;
 *   "" when there is none
 */
gchar *
exm_mail_dkim_txt_parse(const gchar *content)
{
	g_autoptr(GString) out = g_string_new(NULL);
	const gchar *p = content;

	while (p != NULL && (p = strchr(p, '"')) != NULL) {
		const gchar *end = strchr(p + 1, '"');

		if (end == NULL)
			break;
		g_string_append_len(out, p + 1, end - (p + 1));
		p = end + 1;
	}
	return g_strstrip(g_string_free(g_steal_pointer(&out), FALSE));
}

/* ---- DNS guidance ---------------------------------------------------------------------- */

typedef struct {
	gchar *name; /* relative to the domain ("@"), or absolute with a trailing dot */
	const gchar *type;
	gchar *data; /* TXT: the unquoted text; others: RDATA as in a zone file */
	gchar *fqdn; /* without trailing dot */
} DnsRecord;

static void
dns_record_free(DnsRecord *r)
{
	g_free(r->name);
	g_free(r->data);
	g_free(r->fqdn);
	g_free(r);
}

static void
add_record(GPtrArray *records, const gchar *name, const gchar *type, gchar *data, gchar *fqdn)
{
	DnsRecord *r = g_new0(DnsRecord, 1);

	r->name = g_strdup(name);
	r->type = type;
	r->data = data;
	r->fqdn = fqdn;
	g_ptr_array_add(records, r);
}

static gchar *
spf_data(const gchar *const *ipsv4)
{
	GString *spf = g_string_new("v=spf1 ");

	for (guint k = 0; ipsv4 != NULL && ipsv4[k] != NULL; k++) {
		if (exm_mail_validate_ipv4(ipsv4[k], NULL))
			g_string_append_printf(spf, "ip4:%s/32 ", ipsv4[k]);
	}
	g_string_append(spf, SPF_TAIL);
	return g_string_free(spf, FALSE);
}

static gchar *
ptr_name(const gchar *ip)
{
	g_auto(GStrv) o = g_strsplit(ip, ".", 4);

	return g_strdup_printf("%s.%s.%s.%s.in-addr.arpa", o[3], o[2], o[1], o[0]);
}

/* The DKIM record when both selector and data are usable. */
static void
add_dkim_record(GPtrArray *records,
		const gchar *domain,
		const gchar *selector,
		const gchar *dkim_data)
{
	g_autofree gchar *name = NULL;

	if (selector == NULL || *selector == '\0' || dkim_data == NULL || *dkim_data == '\0' ||
	    !exm_mail_validate_selector(selector, NULL))
		return;
	name = g_strdup_printf("%s._domainkey", selector);
	add_record(
		records, name, "TXT", g_strdup(dkim_data), g_strdup_printf("%s.%s", name, domain));
}

/* The records of the seed README, in its order: DKIM, SPF, DMARC, PTR, MX. */
static GPtrArray *
dns_record_list(const gchar *domain,
		const gchar *const *ipsv4,
		const gchar *selector,
		const gchar *dkim_data)
{
	GPtrArray *records = g_ptr_array_new_with_free_func((GDestroyNotify)dns_record_free);

	add_dkim_record(records, domain, selector, dkim_data);
	add_record(records, "@", "TXT", spf_data(ipsv4), g_strdup(domain));
	add_record(records,
		   "_dmarc",
		   "TXT",
		   g_strdup(DMARC_DATA),
		   g_strdup_printf("_dmarc.%s", domain));
	for (guint k = 0; ipsv4 != NULL && ipsv4[k] != NULL; k++) {
		g_autofree gchar *rev = NULL;
		g_autofree gchar *abs = NULL;

		if (!exm_mail_validate_ipv4(ipsv4[k], NULL))
			continue;
		rev = ptr_name(ipsv4[k]);
		abs = g_strconcat(rev, ".", NULL);
		add_record(records, abs, "PTR", g_strdup_printf("%s.", domain), g_strdup(rev));
	}
	add_record(records,
		   "@",
		   "MX",
		   g_strdup_printf("%d %s.", MX_PREFERENCE, domain),
		   g_strdup(domain));
	return records;
}

/* PTR records live in the reverse zone of whoever owns the address, so they are
 * written as comments: the text stays loadable as the domain's own zone. */
static gchar *
zone_text(const gchar *domain, GPtrArray *records)
{
	GString *z = g_string_new(NULL);
	gboolean ptr_noted = FALSE;

	g_string_append_printf(z, "; mail DNS records for %s\n$ORIGIN %s.\n", domain, domain);
	for (guint k = 0; k < records->len; k++) {
		const DnsRecord *r = g_ptr_array_index(records, k);
		gboolean ptr = g_str_equal(r->type, "PTR");
		g_autofree gchar *rdata = NULL;

		if (ptr && !ptr_noted) {
			g_string_append(z,
					"; PTR records belong to the reverse zone of the IP "
					"address owner:\n");
			ptr_noted = TRUE;
		}
		rdata = g_str_equal(r->type, "TXT") ? quoted_chunks(r->data, " ")
						    : g_strdup(r->data);
		g_string_append_printf(z,
				       "%s%s\t%d\tIN\t%s\t%s\n",
				       ptr ? "; " : "",
				       r->name,
				       DNS_TTL,
				       r->type,
				       rdata);
	}
	return g_string_free(z, FALSE);
}

/**
 * exm_mail_dns_zone:
 * @domain: the instance domain
 * @ipsv4: (nullable): %NULL-terminated IPv4 list
 * @selector: (nullable): DKIM selector
 * @dkim_data: (nullable): the TXT data
 *
 * Invalid IPs and an invalid selector are left out; an invalid domain yields "".
 * The PTR lines are comments (they belong to another zone), so the text loads as
 * the domain's zone.
 *
 * Returns: (transfer full): zone-file text
 */
gchar *
exm_mail_dns_zone(const gchar *domain,
		  const gchar *const *ipsv4,
		  const gchar *selector,
		  const gchar *dkim_data)
{
	g_autofree gchar *dom = exm_mail_normalize_domain(domain, NULL);
	g_autoptr(GPtrArray) records = NULL;

	if (dom == NULL)
		return g_strdup("");
	records = dns_record_list(dom, ipsv4, selector, dkim_data);
	return zone_text(dom, records);
}

static void
build_record(JsonBuilder *b, const DnsRecord *r)
{
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "name");
	json_builder_add_string_value(b, r->name);
	json_builder_set_member_name(b, "type");
	json_builder_add_string_value(b, r->type);
	json_builder_set_member_name(b, "ttl");
	json_builder_add_int_value(b, DNS_TTL);
	json_builder_set_member_name(b, "data");
	json_builder_add_string_value(b, r->data);
	json_builder_set_member_name(b, "fqdn");
	json_builder_add_string_value(b, r->fqdn);
	json_builder_end_object(b);
}

/**
 * exm_mail_dns_records:
 * @domain: the instance domain
 * @ipsv4: (nullable): %NULL-terminated IPv4 list
 * @selector: (nullable): DKIM selector ("" or %NULL: no DKIM record yet)
 * @dkim_data: (nullable): the TXT data
 *
 * TXT `data` is the unquoted text; MX and PTR `data` are as in a zone file
 * (`10 example.com.`, `example.com.`).  An invalid domain yields no records.
 *
 * Returns: (transfer full): `{"domain","records":[{name,type,ttl,data,fqdn}…],"zone"}`
 */
JsonNode *
exm_mail_dns_records(const gchar *domain,
		     const gchar *const *ipsv4,
		     const gchar *selector,
		     const gchar *dkim_data)
{
	g_autofree gchar *dom = exm_mail_normalize_domain(domain, NULL);
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(GPtrArray) records = NULL;
	g_autofree gchar *zone = NULL;

	records =
		dom != NULL ? dns_record_list(dom, ipsv4, selector, dkim_data) : g_ptr_array_new();
	zone = dom != NULL ? zone_text(dom, records) : g_strdup("");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "domain");
	json_builder_add_string_value(b, dom != NULL ? dom : "");
	json_builder_set_member_name(b, "records");
	json_builder_begin_array(b);
	for (guint k = 0; k < records->len; k++)
		build_record(b, g_ptr_array_index(records, k));
	json_builder_end_array(b);
	json_builder_set_member_name(b, "zone");
	json_builder_add_string_value(b, zone);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}
