/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The memory probe (exm-memprobe.c): silent unless EXM_MEMORY_PROBE is set;
 * when set, each point's figures are the process's own, and the peak it
 * prints is the peak since the point before (reset at every point).
 */
#include "exm-memprobe.h"
#include "exm-test.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define BLOCK_MB 64

typedef struct {
	gdouble rss, peak, in_use, held, cpu;
} Figures;

static GPtrArray *lines;

/* The probe's lines kept (and shown), every other record as GLib would. */
static GLogWriterOutput
keep_writer(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
	for (gsize i = 0; i < n; i++) {
		if (g_str_equal(fields[i].key, "MESSAGE") &&
		    g_str_has_prefix(fields[i].value, "memory at "))
			g_ptr_array_add(lines, g_strdup(fields[i].value));
	}
	return g_log_writer_default(level, fields, n, data);
}

static Figures
figures_of(guint i, const gchar *point)
{
	Figures f = { 0 };
	g_autofree gchar *head = g_strdup_printf("memory at %s: ", point);
	const gchar *line;

	g_assert_cmpuint(i, <, lines->len);
	line = lines->pdata[i];
	g_assert_true(g_str_has_prefix(line, head));
	g_assert_cmpint(sscanf(line + strlen(head),
			       "rss %lf MB, peak since the last point %lf MB, heap in use %lf "
			       "MB of %lf MB held, cpu since the last point %lf ms",
			       &f.rss,
			       &f.peak,
			       &f.in_use,
			       &f.held,
			       &f.cpu),
			==,
			5);
	return f;
}

/* A block of BLOCK_MB made resident, then given back to the system. */
static void
touch_block(void)
{
	gsize size = (gsize)BLOCK_MB << 20;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	g_assert_true(p != MAP_FAILED);
	memset(p, 0x5a, size);
	munmap(p, size);
}

static void
probe_on(void)
{
	Figures a, b, c;
	g_autofree gchar *held = NULL;

	g_setenv("EXM_MEMORY_PROBE", "1", TRUE);
	lines = g_ptr_array_new_with_free_func(g_free);
	g_log_set_writer_func(keep_writer, NULL, NULL);
	g_assert_true(exm_memprobe_enabled());
	exm_memprobe_point("start");
	touch_block();
	exm_memprobe_point("after the block");
	held = g_malloc(8 << 20);
	memset(held, 1, 8 << 20);
	exm_memprobe_point("a heap block held");
	a = figures_of(0, "start");
	b = figures_of(1, "after the block");
	c = figures_of(2, "a heap block held");
	g_assert_cmpuint(lines->len, ==, 3);
	/* the block's pages were resident between the points, gone at the second */
	g_assert_cmpfloat(b.peak, >=, a.rss + BLOCK_MB - 4);
	g_assert_cmpfloat(b.rss, <, b.peak - BLOCK_MB + 4);
	/* reset at the second point: the third peak does not hold the block */
	g_assert_cmpfloat(c.peak, <, b.peak - BLOCK_MB + 12);
	g_assert_cmpfloat(c.rss, >=, b.rss + 7);
#ifndef __SANITIZE_ADDRESS__
	/* AddressSanitizer's allocator has no mallinfo2(): its figures are 0 */
	g_assert_cmpfloat(c.in_use, >=, b.in_use + 7.9);
	g_assert_cmpfloat(c.held, >=, c.in_use);
#endif
	g_assert_cmpfloat(a.cpu, ==, 0.0);
	/* writing 64 MB costs CPU time */
	g_assert_cmpfloat(b.cpu, >, 0.0);
	g_ptr_array_unref(lines);
}

/* The switch unset (%NULL), empty or "0": the probe is off. */
static void
probe_off(const gchar *value)
{
	if (value == NULL)
		g_unsetenv("EXM_MEMORY_PROBE");
	else
		g_setenv("EXM_MEMORY_PROBE", value, TRUE);
	lines = g_ptr_array_new_with_free_func(g_free);
	g_log_set_writer_func(keep_writer, NULL, NULL);
	g_assert_false(exm_memprobe_enabled());
	exm_memprobe_point("nowhere");
	g_assert_cmpuint(lines->len, ==, 0);
	g_ptr_array_unref(lines);
}

/* Each case in a process of its own: the probe reads its switch once.
 * @data: the switch's value, "1" on, else off ("-" for unset). */
static void
in_subprocess(gconstpointer data)
{
	const gchar *value = data;

	if (g_test_subprocess()) {
		if (g_str_equal(value, "1"))
			probe_on();
		else
			probe_off(g_str_equal(value, "-") ? NULL : value);
		return;
	}
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
	g_test_trap_assert_passed();
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_data_func("/memprobe/on", "1", in_subprocess);
	g_test_add_data_func("/memprobe/off/unset", "-", in_subprocess);
	g_test_add_data_func("/memprobe/off/empty", "", in_subprocess);
	g_test_add_data_func("/memprobe/off/zero", "0", in_subprocess);
	return g_test_run();
}
