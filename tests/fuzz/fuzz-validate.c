/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzz target: the field rules of the mail API (common/mail/exm-mail-validate.h)
 * that normalise or check a user's text: domain, username, IPv4, DKIM
 * selector, name and description.
 *
 * Properties: every refusal is EXM_MAIL_ERROR_INVALID; a normalised domain or
 * username is in its documented alphabet and length, lower-case, and
 * normalises to itself; an accepted IPv4 is what inet_pton(3) reads and
 * inet_ntop(3) writes back verbatim; an accepted selector is a 1–63 character
 * DNS label of [a-z0-9-]; an accepted name is 1..255 UTF-8 characters without
 * control characters.
 */
#include <arpa/inet.h>
#include <string.h>

#include "exm-mail.h"
#include "fuzz-common.h"

static void
check_refusal(const GError *error, const gchar *what)
{
	EXM_FUZZ_CHECK(g_error_matches(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID),
		       "%s refusal of another kind: %s",
		       what,
		       error->message);
}

static gboolean
in_alphabet(const gchar *text, const gchar *extra)
{
	for (const gchar *p = text; *p != '\0'; p++)
		if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p) && strchr(extra, *p) == NULL)
			return FALSE;
	return TRUE;
}

static void
check_domain(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *domain = exm_mail_validate_normalize_domain(text, &error);
	g_autofree gchar *again = NULL;
	g_auto(GStrv) labels = NULL;

	if (domain == NULL) {
		check_refusal(error, "domain");
		return;
	}
	exm_fuzz_accepted();
	labels = g_strsplit(domain, ".", -1);
	EXM_FUZZ_CHECK(strlen(domain) <= EXM_MAIL_DOMAIN_MAX && in_alphabet(domain, "-.") &&
			       g_strv_length(labels) >= 2,
		       "domain %s",
		       domain);
	for (guint k = 0; labels[k] != NULL; k++) {
		gsize n = strlen(labels[k]);

		EXM_FUZZ_CHECK(n >= 1 && n <= 63 && labels[k][0] != '-' && labels[k][n - 1] != '-',
			       "label '%s' of %s",
			       labels[k],
			       domain);
	}
	again = exm_mail_validate_normalize_domain(domain, NULL);
	EXM_FUZZ_CHECK(g_strcmp0(again, domain) == 0, "%s is not normal", domain);
}

static void
check_username(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *user = exm_mail_validate_normalize_username(text, &error);
	g_autofree gchar *again = NULL;
	gsize n;

	if (user == NULL) {
		check_refusal(error, "username");
		return;
	}
	n = strlen(user);
	EXM_FUZZ_CHECK(n >= 1 && n <= EXM_MAIL_USERNAME_MAX && in_alphabet(user, "._+-") &&
			       user[0] != '.',
		       "username %s",
		       user);
	again = exm_mail_validate_normalize_username(user, NULL);
	EXM_FUZZ_CHECK(g_strcmp0(again, user) == 0, "%s is not normal", user);
}

static void
check_ipv4(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	struct in_addr addr;
	gchar back[INET_ADDRSTRLEN];

	if (!exm_mail_validate_ipv4(text, &error)) {
		check_refusal(error, "ipv4");
		return;
	}
	EXM_FUZZ_CHECK(inet_pton(AF_INET, text, &addr) == 1, "inet_pton refuses %s", text);
	EXM_FUZZ_CHECK(inet_ntop(AF_INET, &addr, back, sizeof back) != NULL &&
			       g_str_equal(back, text),
		       "%s is not canonical (%s)",
		       text,
		       back);
}

static void
check_selector_and_name(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	gsize n = strlen(text);

	if (exm_mail_validate_selector(text, &error))
		EXM_FUZZ_CHECK(n >= 1 && n <= 63 && in_alphabet(text, "-"), "selector %s", text);
	else
		check_refusal(error, "selector");
	g_clear_error(&error);
	if (exm_mail_validate_name(text, &error)) {
		EXM_FUZZ_CHECK(g_utf8_validate(text, -1, NULL) && g_utf8_strlen(text, -1) >= 1 &&
				       g_utf8_strlen(text, -1) <= EXM_MAIL_NAME_MAX,
			       "name of %zu bytes",
			       n);
		for (const gchar *p = text; *p != '\0'; p = g_utf8_next_char(p))
			EXM_FUZZ_CHECK(!g_unichar_iscntrl(g_utf8_get_char(p)),
				       "control character in a name");
	} else {
		check_refusal(error, "name");
	}
	g_clear_error(&error);
	if (!exm_mail_validate_description(text, &error))
		check_refusal(error, "description");
	else
		EXM_FUZZ_CHECK(g_utf8_validate(text, -1, NULL) && n <= 4096,
			       "description of %zu bytes",
			       n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree gchar *text = exm_fuzz_strndup(data, size);

	exm_fuzz_begin(data, size);
	check_domain(text);
	check_username(text);
	check_ipv4(text);
	check_selector_and_name(text);
	return 0;
}
