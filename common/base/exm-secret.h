/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Wiping secrets (passwords, keys) from memory before it is freed.
 */
#pragma once

#include <glib.h>

/**
 * exm_secret_wipe:
 * @buf: (nullable): memory holding a secret
 * @len: its length
 *
 * Overwrites @buf with zeros in a way the compiler may not elide.
 */
void exm_secret_wipe(gpointer buf, gsize len);

/**
 * exm_secret_free:
 * @secret: (nullable): a NUL-terminated secret string from the GLib allocator
 *
 * Wipes then frees @secret.
 */
void exm_secret_free(gchar *secret);

/**
 * exm_secret_read_file:
 * @path: a file holding a secret (a key, a token file, a password)
 * @error: %EXM_ERROR_FAILED naming @path
 *
 * Reads a secret file, refusing a symbolic link, anything but a regular file
 * of at most 1 MiB, and a file others can access or its group can write (the
 * checks are made on the open descriptor).
 *
 * Returns: (transfer full): its text, to free with exm_secret_free()
 */
gchar *exm_secret_read_file(const gchar *path, GError **error);

/* `g_autoptr(ExmSecret) pw = g_strdup (...)` wipes the string on scope exit. */
typedef gchar ExmSecret;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmSecret, exm_secret_free)
