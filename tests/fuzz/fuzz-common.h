/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * What every fuzz target shares, in both builds (the TAP driver of gcc builds
 * and clang's libFuzzer): property checks that report the input that broke
 * them, and quiet logging.
 */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

/* The libFuzzer entry point every tests/fuzz/fuzz-<name>.c defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/**
 * exm_fuzz_begin:
 * @data: the input of this run
 * @size: its length
 *
 * Remembers the input for a failure report and, on the first call, routes
 * GLib logging: debug/info/message are dropped (a fuzzer calls the parsers
 * millions of times), warnings and criticals are printed (they stay fatal
 * wherever the test or G_DEBUG makes them so).
 */
void exm_fuzz_begin(const uint8_t *data, size_t size);

/* Counts an input the parser under test accepted (the driver reports how
 * many of its mutations got past the parser, a hint of how deep they reach). */
void exm_fuzz_accepted(void);
guint64 exm_fuzz_accepted_count(void);

/* Extra context (the driver's seed and iteration) printed with a failure. */
void exm_fuzz_set_context(const gchar *context);

/**
 * exm_fuzz_fail:
 *
 * Prints where a property failed, why, and the input as hex, then aborts: a
 * crash is what libFuzzer records.  After exm_fuzz_exit_on_failure() (the TAP
 * driver) it exits with status 1 instead, which meson counts as a failed test
 * (and as the expected failure of a should_fail test, which a signal is not),
 * once @cleanup ran: no atexit handler runs then, GLib's included.
 */
G_NORETURN void exm_fuzz_fail(const gchar *file, int line, const gchar *fmt, ...)
	G_GNUC_PRINTF(3, 4);

void exm_fuzz_exit_on_failure(void (*cleanup)(void));

/* Checks a property of the current input; never compiled out. */
#define EXM_FUZZ_CHECK(cond, ...)                                                                  \
	do {                                                                                       \
		if (G_UNLIKELY(!(cond)))                                                           \
			exm_fuzz_fail(                                                             \
				__FILE__, __LINE__, "property '" #cond "' failed: " __VA_ARGS__);  \
	} while (0)

/* Returns: (transfer full): @data as a NUL-terminated string (cut at a NUL byte). */
gchar *exm_fuzz_strndup(const uint8_t *data, size_t size);

/* Returns: the number of @c bytes in @text. */
gsize exm_fuzz_count_char(const gchar *text, gchar c);
