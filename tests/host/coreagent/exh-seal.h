/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host's seal (docs/em-path.md, docs/SECURITY.md): AES-256-GCM under a
 * host key read from a 0600 file, bound to one resource by its associated
 * data, so a seal the plugin stores tells only the host what the EM path set
 * (a plaintext password) and cannot be moved to another resource.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _ExhSealKey ExhSealKey;

/**
 * exh_seal_key_load:
 * @path: a file of 44 base64 characters (32 bytes), mode 0600 (others and the
 *   group's write shut out, no link)
 * @error: naming @path
 *
 * Returns: (transfer full): the key, wiped when freed
 */
ExhSealKey *exh_seal_key_load(const gchar *path, GError **error);

/**
 * exh_seal_key_new_from_bytes:
 * @key: 32 bytes
 *
 * Returns: (transfer full): the key (tests)
 */
ExhSealKey *exh_seal_key_new_from_bytes(const guint8 *key);

void exh_seal_key_free(ExhSealKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhSealKey, exh_seal_key_free)

/**
 * exh_seal_close:
 * @key: the host key
 * @bound: what the seal is bound to (kind and uuid), authenticated, not secret
 * @plain: the secret text
 *
 * Returns: (transfer full): `v1.` and the base64 of nonce, ciphertext and tag
 */
gchar *exh_seal_close(const ExhSealKey *key, const gchar *bound, const gchar *plain);

/**
 * exh_seal_open:
 * @key: the host key
 * @bound: as given to exh_seal_close()
 * @sealed: a seal
 * @error: a seal of another key or resource, or a damaged one
 *
 * Returns: (transfer full): the secret text, to free with exm_secret_free()
 */
gchar *exh_seal_open(const ExhSealKey *key,
		     const gchar *bound,
		     const gchar *sealed,
		     GError **error);

G_END_DECLS
