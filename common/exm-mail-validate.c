/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-mail-validate.h"

#include "exm-mail-error.h"

/* Minimal placeholder: filled in by the libexm-mail helper. */
static gboolean
stub_fail(const gchar *field, GError **error)
{
	g_set_error(
		error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID, "%s: not implemented yet", field);
	return FALSE;
}

gboolean
exm_mail_validate_name(const gchar *name, GError **error)
{
	return name != NULL && *name != '\0' ? TRUE : stub_fail("name", error);
}

gboolean
exm_mail_validate_description(const gchar *text, GError **error)
{
	return text != NULL ? TRUE : stub_fail("description", error);
}

gchar *
exm_mail_normalize_domain(const gchar *domain, GError **error)
{
	if (domain == NULL || *domain == '\0') {
		stub_fail("domain", error);
		return NULL;
	}
	return g_ascii_strdown(domain, -1);
}

gboolean
exm_mail_validate_cpu(gint64 cpu, GError **error)
{
	return cpu >= EXM_MAIL_CPU_MIN && cpu <= EXM_MAIL_CPU_MAX ? TRUE : stub_fail("cpu", error);
}

gboolean
exm_mail_validate_ram(gint64 ram, GError **error)
{
	return ram >= EXM_MAIL_RAM_MIN && ram <= EXM_MAIL_RAM_MAX ? TRUE : stub_fail("ram", error);
}

gboolean
exm_mail_validate_disk_size(gint64 disk_size, GError **error)
{
	return disk_size >= EXM_MAIL_DISK_MIN && disk_size <= EXM_MAIL_DISK_MAX
		       ? TRUE
		       : stub_fail("disk_size", error);
}

gchar *
exm_mail_normalize_username(const gchar *username, GError **error)
{
	if (username == NULL || *username == '\0') {
		stub_fail("username", error);
		return NULL;
	}
	return g_ascii_strdown(username, -1);
}

gboolean
exm_mail_validate_password_hash(const gchar *hash, GError **error)
{
	return hash != NULL && hash[0] == '$' ? TRUE : stub_fail("password_hash", error);
}

gboolean
exm_mail_validate_ipv4(const gchar *ip, GError **error)
{
	return ip != NULL ? TRUE : stub_fail("ipv4", error);
}

gboolean
exm_mail_validate_selector(const gchar *selector, GError **error)
{
	return selector != NULL && *selector != '\0' ? TRUE : stub_fail("dkim_selector", error);
}
