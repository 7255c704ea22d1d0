/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-memprobe.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* the last point's CPU time, guarded: points may be reached from threads */
static G_LOCK_DEFINE(last);
static gint64 last_cpu_ns = -1;

gboolean
exm_memprobe_enabled(void)
{
	static gsize once = 0;
	static gboolean on = FALSE;

	if (g_once_init_enter(&once)) {
		const gchar *v = g_getenv("EXM_MEMORY_PROBE");

		on = v != NULL && *v != '\0' && g_strcmp0(v, "0") != 0;
		g_once_init_leave(&once, 1);
	}
	return on;
}

/* The kB figure of @key ("VmRSS:") in /proc/self/status' @text; -1 when absent. */
static gint64
status_kb(const gchar *text, const gchar *key)
{
	const gchar *at = strstr(text, key);

	return at != NULL ? g_ascii_strtoll(at + strlen(key), NULL, 10) : -1;
}

/* The peak is reset to the resident size now ("5": kernel 4.0 and later). */
static void
peak_reset(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, "5", 1) != 1)
		g_debug("memory probe: cannot reset the peak");
	close(fd);
}

static gint64
cpu_since_last(void)
{
	struct timespec ts;
	gint64 now, since;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	now = (gint64)ts.tv_sec * G_GINT64_CONSTANT(1000000000) + ts.tv_nsec;
	G_LOCK(last);
	since = last_cpu_ns < 0 ? 0 : now - last_cpu_ns;
	last_cpu_ns = now;
	G_UNLOCK(last);
	return since;
}

void
exm_memprobe_point(const gchar *point)
{
	g_autofree gchar *status = NULL;
	struct mallinfo2 mi;
	gint64 cpu_ns;

	if (!exm_memprobe_enabled())
		return;
	if (!g_file_get_contents("/proc/self/status", &status, NULL, NULL))
		return;
	mi = mallinfo2();
	cpu_ns = cpu_since_last();
	g_message("memory at %s: rss %.1f MB, peak since the last point %.1f MB, "
		  "heap in use %.1f MB of %.1f MB held, cpu since the last point %.1f ms",
		  point,
		  (gdouble)status_kb(status, "VmRSS:") / 1024.0,
		  (gdouble)status_kb(status, "VmHWM:") / 1024.0,
		  (gdouble)(mi.uordblks + mi.hblkhd) / (1024.0 * 1024.0),
		  (gdouble)(mi.arena + mi.hblkhd) / (1024.0 * 1024.0),
		  (gdouble)cpu_ns / 1e6);
	peak_reset();
}
