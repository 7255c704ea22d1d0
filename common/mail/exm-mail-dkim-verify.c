/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * DKIM verification (RFC 6376 §3.4–§3.7, §6.1) against a key the caller
 * holds: no DNS lookup, one algorithm (rsa-sha256, the only one the node
 * signs with), both canonicalizations.
 */
#include "exm-mail-dkim-verify.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* One header field: its name and the whole field as it stands (with its
 * continuation lines, line ends normalized to CRLF, no final CRLF). */
typedef struct {
	gchar *name;
	gchar *raw;
	gboolean used; /* already signed once (h= names a field per instance) */
} Field;

typedef struct {
	GPtrArray *fields; /* Field*, in message order */
	GString *body;	   /* CRLF line ends */
} Message;

static void
field_free(gpointer p)
{
	Field *f = p;

	g_free(f->name);
	g_free(f->raw);
	g_free(f);
}

static void
message_clear(Message *m)
{
	g_clear_pointer(&m->fields, g_ptr_array_unref);
	if (m->body != NULL)
		g_string_free(m->body, TRUE);
	m->body = NULL;
}

const gchar *
exm_mail_dkim_verify_result_to_string(ExmMailDkimResult result)
{
	switch (result) {
	case EXM_MAIL_DKIM_PASS:
		return "pass";
	case EXM_MAIL_DKIM_FAIL:
		return "fail";
	case EXM_MAIL_DKIM_NONE:
	default:
		return "none";
	}
}

/* The next line of @p (up to @end), its length without the line end; *@next
 * after it.  %FALSE at the end. */
static gboolean
next_line(const gchar **p, const gchar *end, gsize *len)
{
	const gchar *nl;

	if (*p >= end)
		return FALSE;
	nl = memchr(*p, '\n', (gsize)(end - *p));
	*len = (nl != NULL ? (gsize)(nl - *p) : (gsize)(end - *p));
	return TRUE;
}

/* Splits @text into header fields and a CRLF body. */
static void
message_parse(Message *m, const gchar *text, gsize size)
{
	const gchar *p = text, *end = text + size;
	gboolean in_body = FALSE;
	gsize len;

	m->fields = g_ptr_array_new_with_free_func(field_free);
	m->body = g_string_new(NULL);
	while (next_line(&p, end, &len)) {
		gsize n = len > 0 && p[len - 1] == '\r' ? len - 1 : len;

		if (in_body) {
			g_string_append_len(m->body, p, (gssize)n);
			g_string_append(m->body, "\r\n");
		} else if (n == 0) {
			in_body = TRUE;
		} else if ((p[0] == ' ' || p[0] == '\t') && m->fields->len > 0) {
			Field *f = g_ptr_array_index(m->fields, m->fields->len - 1);
			gchar *raw = g_strdup_printf("%s\r\n%.*s", f->raw, (int)n, p);

			g_free(f->raw);
			f->raw = raw;
		} else if (memchr(p, ':', n) != NULL) {
			Field *f = g_new0(Field, 1);

			f->raw = g_strndup(p, n);
			f->name = g_strndup(p, (gsize)(strchr(f->raw, ':') - f->raw));
			g_strchomp(f->name);
			g_ptr_array_add(m->fields, f);
		}
		p += len + 1;
	}
}

/* Relaxed canonicalization of text: line breaks unfolded, runs of WSP one SP,
 * WSP at the end removed. */
static gchar *
squeeze(const gchar *s)
{
	GString *out = g_string_new(NULL);
	gboolean space = FALSE;

	for (; *s != '\0'; s++) {
		if (*s == '\r' || *s == '\n')
			continue;
		if (*s == ' ' || *s == '\t') {
			space = TRUE;
			continue;
		}
		if (space && out->len > 0)
			g_string_append_c(out, ' ');
		space = FALSE;
		g_string_append_c(out, *s);
	}
	return g_string_free(out, FALSE);
}

/* RFC 6376 §3.4.1/§3.4.2: the field as signed, without its CRLF. */
static gchar *
canon_header(const Field *f, gboolean relaxed)
{
	g_autofree gchar *name = NULL;
	g_autofree gchar *value = NULL;

	if (!relaxed)
		return g_strdup(f->raw);
	name = g_ascii_strdown(f->name, -1);
	value = squeeze(strchr(f->raw, ':') + 1);
	return g_strdup_printf("%s:%s", name, value);
}

/* RFC 6376 §3.4.3/§3.4.4, then `l=` (-1: all). */
static GString *
canon_body(const GString *body, gboolean relaxed, gint64 limit)
{
	GString *out = g_string_new(NULL);
	g_auto(GStrv) lines = g_strsplit(body->str, "\r\n", -1);
	guint n = g_strv_length(lines);

	/* the split leaves "" after the last CRLF; empty lines at the end go */
	while (n > 0 && lines[n - 1][0] == '\0')
		n--;
	for (guint i = 0; i < n; i++) {
		g_autofree gchar *line = NULL;

		if (relaxed) {
			const gchar *s = lines[i];
			GString *l = g_string_new(NULL);
			gboolean space = FALSE;

			for (; *s != '\0'; s++) {
				if (*s == ' ' || *s == '\t') {
					space = TRUE;
					continue;
				}
				if (space)
					g_string_append_c(l, ' ');
				space = FALSE;
				g_string_append_c(l, *s);
			}
			line = g_string_free(l, FALSE);
		} else {
			line = g_strdup(lines[i]);
		}
		g_string_append_printf(out, "%s\r\n", line);
	}
	if (out->len == 0 && !relaxed)
		g_string_append(out, "\r\n");
	if (limit >= 0 && (gsize)limit < out->len)
		g_string_truncate(out, (gsize)limit);
	return out;
}

/* The tags of a DKIM-Signature value: tag → value, FWS around removed. */
static GHashTable *
parse_tags(const gchar *value)
{
	GHashTable *tags = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_auto(GStrv) parts = g_strsplit(value, ";", -1);

	for (guint i = 0; parts[i] != NULL; i++) {
		gchar *eq = strchr(parts[i], '=');
		g_autofree gchar *name = NULL;

		if (eq == NULL)
			continue;
		name = g_strstrip(g_strndup(parts[i], (gsize)(eq - parts[i])));
		if (g_hash_table_contains(tags, name))
			continue; /* a tag twice: the signature is bad; b= then fails */
		g_hash_table_insert(tags, g_steal_pointer(&name), squeeze(eq + 1));
	}
	return tags;
}

/* The tag's value with every whitespace removed (b=, bh=, h=). */
static gchar *
compact(GHashTable *tags, const gchar *name)
{
	const gchar *v = g_hash_table_lookup(tags, name);
	GString *out = g_string_new(NULL);

	for (; v != NULL && *v != '\0'; v++) {
		if (!g_ascii_isspace(*v))
			g_string_append_c(out, *v);
	}
	return g_string_free(out, FALSE);
}

/* The signature field itself with the value of b= emptied (§3.7). */
static gchar *
without_b(const gchar *raw)
{
	GString *out = g_string_new(NULL);
	const gchar *p = strchr(raw, ':') + 1;

	g_string_append_len(out, raw, (gssize)(p - raw));
	while (*p != '\0') {
		const gchar *semi = strchr(p, ';');
		gsize len = semi != NULL ? (gsize)(semi - p) : strlen(p);
		g_autofree gchar *tag = g_strndup(p, len);
		gchar *eq = strchr(tag, '=');
		g_autofree gchar *name = eq != NULL ? g_strndup(tag, (gsize)(eq - tag)) : NULL;

		if (name != NULL && g_str_equal(g_strstrip(name), "b"))
			g_string_append_len(out, tag, (gssize)(eq - tag + 1));
		else
			g_string_append(out, tag);
		if (semi == NULL)
			break;
		g_string_append_c(out, ';');
		p = semi + 1;
	}
	return g_string_free(out, FALSE);
}

/* The data the signature covers: the h= fields, bottom-up per name, then the
 * signature field without b= and without its CRLF. */
static GString *
signed_headers(Message *m, const Field *sig, const gchar *h, gboolean relaxed)
{
	GString *out = g_string_new(NULL);
	g_auto(GStrv) names = g_strsplit(h, ":", -1);
	g_autofree gchar *self_raw = without_b(sig->raw);
	Field self = { sig->name, self_raw, FALSE };
	g_autofree gchar *self_canon = NULL;

	for (guint i = 0; names[i] != NULL; i++) {
		for (guint k = m->fields->len; k > 0; k--) {
			Field *f = g_ptr_array_index(m->fields, k - 1);
			g_autofree gchar *c = NULL;

			if (f->used || f == sig || g_ascii_strcasecmp(f->name, names[i]) != 0)
				continue;
			f->used = TRUE;
			c = canon_header(f, relaxed);
			g_string_append_printf(out, "%s\r\n", c);
			break;
		}
	}
	self_canon = canon_header(&self, relaxed);
	g_string_append(out, self_canon);
	return out;
}

static gboolean
rsa_sha256_ok(const gchar *key_b64, const GString *data, const gchar *b64_sig)
{
	gsize key_len = 0, sig_len = 0;
	g_autofree guchar *der = key_b64 != NULL ? g_base64_decode(key_b64, &key_len) : NULL;
	g_autofree guchar *sig = g_base64_decode(b64_sig, &sig_len);
	const guchar *p = der;
	EVP_PKEY *key = der != NULL ? d2i_PUBKEY(NULL, &p, (long)key_len) : NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	gboolean ok =
		key != NULL && ctx != NULL && sig_len > 0 &&
		EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
		EVP_DigestVerify(ctx, sig, sig_len, (const guchar *)data->str, data->len) == 1;

	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	return ok;
}

/* The first signature field of @domain and @selector, with its tags. */
static const Field *
find_signature(Message *m, const gchar *domain, const gchar *selector, GHashTable **tags)
{
	for (guint i = 0; i < m->fields->len; i++) {
		const Field *f = g_ptr_array_index(m->fields, i);
		g_autoptr(GHashTable) t = NULL;
		const gchar *d, *s;

		if (g_ascii_strcasecmp(f->name, "DKIM-Signature") != 0)
			continue;
		t = parse_tags(strchr(f->raw, ':') + 1);
		d = g_hash_table_lookup(t, "d");
		s = g_hash_table_lookup(t, "s");
		if (d != NULL && s != NULL && g_ascii_strcasecmp(d, domain) == 0 &&
		    g_ascii_strcasecmp(s, selector) == 0) {
			*tags = g_steal_pointer(&t);
			return f;
		}
	}
	return NULL;
}

static ExmMailDkimResult
fail(gchar **detail, const gchar *why)
{
	if (detail != NULL)
		*detail = g_strdup(why);
	return EXM_MAIL_DKIM_FAIL;
}

/* `c=`: header/body each simple or relaxed; %FALSE for anything else. */
static gboolean
parse_canon(const gchar *c, gboolean *header_relaxed, gboolean *body_relaxed)
{
	g_auto(GStrv) parts = g_strsplit(c != NULL ? c : "simple", "/", 2);
	const gchar *body = parts[1] != NULL ? parts[1] : "simple";

	if (!g_strv_contains((const gchar *[]){ "simple", "relaxed", NULL }, parts[0]) ||
	    !g_strv_contains((const gchar *[]){ "simple", "relaxed", NULL }, body))
		return FALSE;
	*header_relaxed = g_str_equal(parts[0], "relaxed");
	*body_relaxed = g_str_equal(body, "relaxed");
	return TRUE;
}

static ExmMailDkimResult
verify(Message *m, const Field *sig, GHashTable *tags, const gchar *key, gchar **detail)
{
	gboolean hrelaxed = FALSE, brelaxed = FALSE;
	const gchar *l = g_hash_table_lookup(tags, "l");
	gint64 limit = l != NULL ? g_ascii_strtoll(l, NULL, 10) : -1;
	g_autofree gchar *bh = compact(tags, "bh");
	g_autofree gchar *b = compact(tags, "b");
	g_autofree gchar *h = compact(tags, "h");
	g_autofree gchar *body_hash = NULL;
	g_autoptr(GString) body = NULL;
	g_autoptr(GString) headers = NULL;
	guint8 digest[32];
	gsize digest_len = sizeof digest;
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);

	if (g_strcmp0(g_hash_table_lookup(tags, "v"), "1") != 0)
		return fail(detail, "unsupported version (v= is not 1)");
	if (g_strcmp0(g_hash_table_lookup(tags, "a"), "rsa-sha256") != 0)
		return fail(detail, "unsupported algorithm (a= is not rsa-sha256)");
	if (!parse_canon(g_hash_table_lookup(tags, "c"), &hrelaxed, &brelaxed))
		return fail(detail, "unsupported canonicalization (c=)");
	if (bh[0] == '\0' || b[0] == '\0' || h[0] == '\0' || limit < -1)
		return fail(detail, "a required tag (bh=, b=, h=) is missing or bad");
	body = canon_body(m->body, brelaxed, limit);
	g_checksum_update(sum, (const guchar *)body->str, (gssize)body->len);
	g_checksum_get_digest(sum, digest, &digest_len);
	body_hash = g_base64_encode(digest, digest_len);
	if (!g_str_equal(body_hash, bh))
		return fail(detail, "body hash mismatch (the body changed after signing)");
	headers = signed_headers(m, sig, h, hrelaxed);
	if (!rsa_sha256_ok(key, headers, b))
		return fail(detail, "signature mismatch (a signed header changed, or another key)");
	if (detail != NULL)
		*detail = g_strdup_printf("d=%s s=%s",
					  (const gchar *)g_hash_table_lookup(tags, "d"),
					  (const gchar *)g_hash_table_lookup(tags, "s"));
	return EXM_MAIL_DKIM_PASS;
}

ExmMailDkimResult
exm_mail_dkim_verify_message(const gchar *message,
			     gsize len,
			     const gchar *domain,
			     const gchar *selector,
			     const gchar *public_key_b64,
			     gchar **detail)
{
	Message m = { NULL, NULL };
	g_autoptr(GHashTable) tags = NULL;
	const Field *sig;
	ExmMailDkimResult result;

	if (detail != NULL)
		*detail = NULL;
	g_return_val_if_fail(message != NULL && domain != NULL && selector != NULL,
			     EXM_MAIL_DKIM_NONE);
	message_parse(&m, message, len);
	sig = find_signature(&m, domain, selector, &tags);
	if (sig == NULL) {
		message_clear(&m);
		if (detail != NULL)
			*detail = g_strdup_printf("no signature by d=%s s=%s", domain, selector);
		return EXM_MAIL_DKIM_NONE;
	}
	result = verify(&m, sig, tags, public_key_b64, detail);
	message_clear(&m);
	return result;
}
