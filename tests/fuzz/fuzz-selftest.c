/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The harness's own test (meson: should_fail): a property that its ASCII seed
 * corpus meets and that a few mutations break (no byte above 0x7f).  It passes
 * only if the corpus replay runs, the mutation loop reaches a breaking input,
 * and a broken property fails the test, so a driver that silently stopped
 * mutating or checking would show here.
 */
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	exm_fuzz_begin(data, size);
	for (size_t i = 0; i < size; i++)
		EXM_FUZZ_CHECK(
			data[i] < 0x80, "(expected: this target exists to fail) byte %zu", i);
	exm_fuzz_accepted();
	return 0;
}
