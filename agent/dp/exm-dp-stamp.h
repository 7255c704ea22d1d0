/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * What a set of files looked like (device, inode, size, mode, owner, mtime
 * and ctime to the nanosecond, or the stat error): two equal stamps mean no
 * file was replaced, written, truncated, re-owned or re-moded in between,
 * which the driver uses to skip re-reading state nothing touched.  (A write
 * in place that keeps the size within one tick of the kernel's file clock
 * would go unseen; nothing on the node writes these files but the driver.)
 */
#pragma once

#include <glib.h>

typedef struct _ExmDpStamp ExmDpStamp;

/* Returns: (transfer full): the stamp of @paths (%NULL-terminated), taken now */
ExmDpStamp *exm_dp_stamp_take(const gchar *const *paths);

/* Returns: %TRUE when @a and @b are stamps of the same paths with equal files */
gboolean exm_dp_stamp_equal(const ExmDpStamp *a, const ExmDpStamp *b);

void exm_dp_stamp_free(ExmDpStamp *stamp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmDpStamp, exm_dp_stamp_free)

/* Returns: (transfer full): a copy of @stamp */
ExmDpStamp *exm_dp_stamp_copy(const ExmDpStamp *stamp);
