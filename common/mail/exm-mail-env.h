/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * mail.env of the data plane.
 */
#pragma once

#include <glib.h>

/**
 * exm_mail_env_render:
 * @domain: the instance domain (validated again)
 *
 * Returns: (transfer full): `MAIL_DOMAIN=<domain>\n`, or %NULL with an error
 */
gchar *exm_mail_env_render(const gchar *domain, GError **error);

/**
 * exm_mail_env_parse:
 * @content: mail.env content (shell `KEY=value` lines, `#` comments, optional
 *   single or double quotes around the value)
 * @error: %EXM_MAIL_ERROR_PARSE when MAIL_DOMAIN is missing, repeated, or not a
 *   valid domain; unknown keys are refused too
 *
 * Returns: (transfer full): the lower-cased domain
 */
gchar *exm_mail_env_parse(const gchar *content, GError **error);
