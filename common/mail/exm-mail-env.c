/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * mail.env: the domain the data plane serves.
 * Renderers re-check what they put on a line even though the models were
 * validated: a line break or ':' smuggled into a file would grant a login or
 * change the domain, so nothing unchecked is ever written.
 */
#include "exm-mail-env.h"

#include <string.h>

#include "exm-mail-error.h"
#include "exm-mail-validate.h"

#define MAIL_ENV_KEY "MAIL_DOMAIN"

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
	g_autofree gchar *norm = exm_mail_validate_normalize_domain(domain, error);

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
	*domain = exm_mail_validate_normalize_domain(value, &local);
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
