/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * What a set of files looked like (device, inode, size, mode, owner, mtime
 * and ctime to the nanosecond, or the stat error): two equal stamps mean no
 * file was replaced, written, truncated, re-owned or re-moded in between,
 * which the data-plane driver and the agent's state use to skip re-reading
 * what nothing touched.  (A write in place that keeps the size within one
 * tick of the kernel's file clock would go unseen; nothing writes these files
 * but their owner.)
 */
#pragma once

#include <glib.h>

typedef struct _ExmStamp ExmStamp;

/* Returns: (transfer full): the stamp of @paths (%NULL-terminated), taken now */
ExmStamp *exm_stamp_take(const gchar *const *paths);

/* Returns: %TRUE when @a and @b are stamps of the same paths with equal files */
gboolean exm_stamp_equal(const ExmStamp *a, const ExmStamp *b);

void exm_stamp_free(ExmStamp *stamp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmStamp, exm_stamp_free)

/* Returns: (transfer full): a copy of @stamp */
ExmStamp *exm_stamp_copy(const ExmStamp *stamp);
