/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A minimal SMTP AUTH client for the e2e tests and the propagation benchmark:
 * in-process (OpenSSL), so a login attempt costs milliseconds, not a Python
 * start-up.  Certificates are not verified (the node's is self-signed).
 */
#pragma once

#include <glib.h>

/**
 * E2eSmtpTls:
 * @E2E_SMTP_STARTTLS: plain connection upgraded with STARTTLS (25, 587)
 * @E2E_SMTP_IMPLICIT: TLS from the first byte (465)
 */
typedef enum {
	E2E_SMTP_STARTTLS,
	E2E_SMTP_IMPLICIT,
} E2eSmtpTls;

/**
 * e2e_smtp_auth:
 * @addr: IPv4 address
 * @port: port
 * @tls: how TLS starts
 * @user: login name
 * @password: password
 * @error: set when the dialogue could not be completed
 *
 * Greeting, EHLO, TLS, EHLO, `AUTH PLAIN`, QUIT.
 *
 * Returns: the SMTP code of the AUTH answer (235 = success, 535 = refused),
 * or -1 with @error set
 */
gint e2e_smtp_auth(const gchar *addr,
		   guint port,
		   E2eSmtpTls tls,
		   const gchar *user,
		   const gchar *password,
		   GError **error);
