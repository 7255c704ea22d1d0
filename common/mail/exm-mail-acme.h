/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The ACME settings of an instance (issue 22 item 2, docs/tls.md §6): the
 * directory URL its node orders certificates from and the contact address of
 * the ACME account.  One check for both sides: the plugin's 400 and the
 * node, which trusts no value it is sent (docs/SECURITY.md §12).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The longest directory URL and contact, in bytes (the columns' sizes). */
#define EXM_MAIL_ACME_URL_MAX	  1024
#define EXM_MAIL_ACME_CONTACT_MAX 255
/* The most directories a version may allow its instances. */
#define EXM_MAIL_ACME_ALLOWED_MAX 16

/**
 * exm_mail_acme_check_directory_url:
 * @field: the name the message gives the value, e.g. `acme_directory_url`
 * @url: the value
 * @error: %EXM_MAIL_ERROR_INVALID naming @field
 *
 * Returns: %TRUE when @url is an absolute `https://` URL with a host, no
 *   user information and no fragment, of printable ASCII (no space, no
 *   control character), at most %EXM_MAIL_ACME_URL_MAX bytes
 */
gboolean exm_mail_acme_check_directory_url(const gchar *field, const gchar *url, GError **error);

/**
 * exm_mail_acme_check_contact:
 * @field: the name the message gives the value, e.g. `acme_contact`
 * @contact: the value
 * @error: %EXM_MAIL_ERROR_INVALID naming @field
 *
 * Returns: %TRUE when @contact is `mailto:` and one address `local@domain`
 *   (a dot-atom local part without `%` or `?`, a host name), at most
 *   %EXM_MAIL_ACME_CONTACT_MAX bytes
 */
gboolean exm_mail_acme_check_contact(const gchar *field, const gchar *contact, GError **error);

/**
 * exm_mail_acme_check_allowed:
 * @field: the name the message gives the list, e.g.
 *   `acme_allowed_directory_urls`
 * @allowed: the directory URLs
 * @error: %EXM_MAIL_ERROR_INVALID naming @field
 *
 * Returns: %TRUE when @allowed has at most %EXM_MAIL_ACME_ALLOWED_MAX
 *   members, each one passing exm_mail_acme_check_directory_url()
 */
gboolean exm_mail_acme_check_allowed(const gchar *field, const GPtrArray *allowed, GError **error);

/**
 * exm_mail_acme_directory_allowed:
 * @url: an instance's own directory URL
 * @version_url: (nullable): its version's directory URL
 * @allowed: (nullable): its version's allowed directory URLs; %NULL: any
 *
 * Whether an instance may name @url (docs/tls.md §6): always when its
 * version allows any directory (%NULL) or @url is the version's own, else
 * only when @url is one of @allowed, compared byte for byte.
 *
 * Returns: %TRUE when the instance may use @url
 */
gboolean exm_mail_acme_directory_allowed(const gchar *url,
					 const gchar *version_url,
					 const GPtrArray *allowed);

G_END_DECLS
