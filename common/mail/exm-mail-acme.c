/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The ACME settings' checks (exm-mail-acme.h).
 */
#include "exm-mail-acme.h"

#include <string.h>

#include "exm-mail-error.h"
#include "exm-mail-validate.h"

#define HTTPS	  "https://"
#define MAILTO	  "mailto:"
#define LOCAL_MAX 64

static gboolean invalid(GError **error, const gchar *field, const gchar *format, ...)
	G_GNUC_PRINTF(3, 4);

static gboolean
invalid(GError **error, const gchar *field, const gchar *format, ...)
{
	va_list ap;

	va_start(ap, format);
	if (error != NULL) {
		g_autofree gchar *msg = g_strdup_vprintf(format, ap);

		g_set_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID, "%s: %s", field, msg);
	}
	va_end(ap);
	return FALSE;
}

/* Printable ASCII only: no space, no control character, no other byte.  The
 * value goes to an ACME client's argument list and its log on the node. */
static gboolean
printable(const gchar *text)
{
	for (const guchar *p = (const guchar *)text; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return FALSE;
	return TRUE;
}

gboolean
exm_mail_acme_check_directory_url(const gchar *field, const gchar *url, GError **error)
{
	g_autoptr(GUri) uri = NULL;
	gsize len = url != NULL ? strlen(url) : 0;

	if (len == 0)
		return invalid(error, field, "must be an https URL, or null for no ACME");
	if (len > EXM_MAIL_ACME_URL_MAX)
		return invalid(
			error, field, "is %zu bytes long, at most %d", len, EXM_MAIL_ACME_URL_MAX);
	if (!printable(url))
		return invalid(error, field, "must be printable ASCII without spaces");
	if (g_ascii_strncasecmp(url, HTTPS, strlen(HTTPS)) != 0)
		return invalid(error, field, "must start with https:// (RFC 8555 §6.1)");
	uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
	if (uri == NULL || g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0')
		return invalid(error, field, "is not an https URL with a host");
	if (g_uri_get_userinfo(uri) != NULL || g_uri_get_fragment(uri) != NULL)
		return invalid(error, field, "must carry no user information and no fragment");
	return TRUE;
}

gboolean
exm_mail_acme_check_allowed(const gchar *field, const GPtrArray *allowed, GError **error)
{
	if (allowed->len > EXM_MAIL_ACME_ALLOWED_MAX)
		return invalid(error,
			       field,
			       "at most %d directories are allowed, got %u",
			       EXM_MAIL_ACME_ALLOWED_MAX,
			       allowed->len);
	for (guint i = 0; i < allowed->len; i++) {
		if (!exm_mail_acme_check_directory_url(field, allowed->pdata[i], error))
			return FALSE;
	}
	return TRUE;
}

gboolean
exm_mail_acme_directory_allowed(const gchar *url,
				const gchar *version_url,
				const GPtrArray *allowed)
{
	if (allowed == NULL || g_strcmp0(url, version_url) == 0)
		return TRUE;
	for (guint i = 0; i < allowed->len; i++) {
		if (g_strcmp0(url, allowed->pdata[i]) == 0)
			return TRUE;
	}
	return FALSE;
}

/* RFC 5322 atext, less `%` (a mailto escape) and `?` (mailto header fields). */
static gboolean
is_atext(gchar c)
{
	return g_ascii_isalnum(c) || strchr("!#$&'*+-/=^_`{|}~", c) != NULL;
}

/* A dot-atom: atext runs separated by single dots. */
static gboolean
check_local(const gchar *local, gsize len)
{
	if (len == 0 || len > LOCAL_MAX || local[0] == '.' || local[len - 1] == '.')
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (local[i] == '.' ? local[i + 1] == '.' : !is_atext(local[i]))
			return FALSE;
	}
	return TRUE;
}

gboolean
exm_mail_acme_check_contact(const gchar *field, const gchar *contact, GError **error)
{
	gsize len = contact != NULL ? strlen(contact) : 0;
	const gchar *address, *at;
	g_autofree gchar *domain = NULL;

	if (len > EXM_MAIL_ACME_CONTACT_MAX)
		return invalid(error,
			       field,
			       "is %zu bytes long, at most %d",
			       len,
			       EXM_MAIL_ACME_CONTACT_MAX);
	if (len == 0 || !printable(contact) ||
	    g_ascii_strncasecmp(contact, MAILTO, strlen(MAILTO)) != 0)
		return invalid(
			error, field, "must be mailto:<address>, e.g. mailto:ops@example.com");
	address = contact + strlen(MAILTO);
	at = strrchr(address, '@');
	if (at == NULL || !check_local(address, (gsize)(at - address)))
		return invalid(error,
			       field,
			       "must be mailto: and one address local@domain; the local part "
			       "is 1 to %d characters of letters, digits and !#$&'*+-/=^_`{|}~ "
			       "with single inner dots",
			       LOCAL_MAX);
	domain = exm_mail_validate_normalize_domain(at + 1, NULL);
	if (domain == NULL)
		return invalid(error, field, "the address's domain is not a host name");
	return TRUE;
}
