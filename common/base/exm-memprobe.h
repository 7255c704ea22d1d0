/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A developer's probe of the process's memory at named points (docs/scale.md
 * §3).  Off unless EXM_MEMORY_PROBE is set (to anything but "" or "0") in the
 * environment when the first point is reached; then each point logs, as a
 * message of the exm-base domain:
 *   - the resident size now (VmRSS);
 *   - the resident peak since the point before (VmHWM, which the probe then
 *     resets through /proc/self/clear_refs: a process-wide peak, so anything
 *     else reading VmHWM sees the probe's resets);
 *   - what malloc holds in use and in all (mallinfo2());
 *   - the process's CPU time since the point before.
 * It costs a read of /proc/self/status and a write of clear_refs a point, so
 * it is for measuring, never for production.
 */
#pragma once

#include <glib.h>

/* Returns: whether the probe is on (EXM_MEMORY_PROBE, read once) */
gboolean exm_memprobe_enabled(void);

/* Logs the figures at @point when the probe is on; nothing otherwise. */
void exm_memprobe_point(const gchar *point);
