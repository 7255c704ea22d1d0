/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-base.h"
#include "exm-test.h"

static void
test_placeholder(void)
{
	g_assert_true(exm_uuid_is_valid("a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890"));
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/uuid/placeholder", test_placeholder);
	return g_test_run();
}
