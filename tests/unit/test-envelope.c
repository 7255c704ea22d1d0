/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-envelope.h"
#include "exm-test.h"

static void
test_placeholder(void)
{
	guint8 nonce[EXM_ENVELOPE_NONCE_LEN] = { 0 };
	g_autofree gchar *b64 = exm_envelope_nonce_to_base64(nonce);
	g_assert_cmpstr(b64, ==, "AAAAAAAAAAAAAAAA");
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/envelope/placeholder", test_placeholder);
	return g_test_run();
}
