/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-mail.h"
#include "exm-test.h"

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	return g_test_run();
}
