/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * UUID parsing and generation.  The uuid5 vectors are docs/agent-protocol.md
 * §2.1 plus a few more computed with Python's uuid.uuid5().
 */
#include "exm-base.h"
#include "exm-test.h"

#include <string.h>

static void
test_parse_valid(void)
{
	static const gchar *const ok[][2] = {
		{ "a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890", "a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890" },
		{ "A1B2C3D4-E5F6-7890-A1B2-C3D4E5F67890", "a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890" },
		{ "a1B2c3D4-e5F6-7890-A1b2-c3d4E5f67890", "a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890" },
		{ "00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000" },
		{ "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", "ffffffff-ffff-ffff-ffff-ffffffffffff" },
		{ "4d657461-0000-0000-0000-000000000002", "4d657461-0000-0000-0000-000000000002" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(ok); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *out = exm_uuid_parse(ok[i][0], &error);
		g_assert_no_error(error);
		g_assert_cmpstr(out, ==, ok[i][1]);
		g_assert_true(exm_uuid_is_valid(ok[i][0]));
	}
}

static void
test_parse_invalid(void)
{
	static const gchar *const bad[] = {
		"",
		"a1b2c3d4e5f67890a1b2c3d4e5f67890",	  /* no hyphens */
		"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f6789",	  /* one digit short */
		"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f678900",  /* one digit long */
		"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890\n", /* trailing newline */
		"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890x",  /* trailing garbage */
		" a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890",  /* leading space */
		"{a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890}", /* braces (Python accepts) */
		"urn:uuid:a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890",
		"a1b2c3d4-e5f6-7890-a1b2c-3d4e5f67890",	       /* hyphen moved */
		"a1b2c3d4-e5f6-7890-a1b2_c3d4e5f67890",	       /* wrong separator */
		"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f6789g",	       /* not hex */
		"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f6789\xc3\xa9", /* non-ASCII */
		"-a1b2c3d-e5f6-7890-a1b2-c3d4e5f67890",
		"not-a-uuid",
		"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f6789 ",
		"+1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890",
		"0x1b2c3d-e5f6-7890-a1b2-c3d4e5f67890",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *out = exm_uuid_parse(bad[i], &error);
		g_assert_null(out);
		g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE);
		g_assert_false(exm_uuid_is_valid(bad[i]));
	}
	g_assert_false(exm_uuid_is_valid(NULL));
	{
		g_autoptr(GError) error = NULL;
		g_autofree gchar *out = exm_uuid_parse(NULL, &error);
		g_assert_null(out);
		g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE);
	}
}

static void
test_uuid4(void)
{
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (guint i = 0; i < 1000; i++) {
		gchar *u = exm_uuid_v4();
		g_autofree gchar *again = NULL;

		g_assert_true(exm_uuid_is_valid(u));
		again = exm_uuid_parse(u, NULL);
		g_assert_cmpstr(again, ==, u);		 /* already lower case and canonical */
		g_assert_cmpint(u[14], ==, '4');	 /* version */
		g_assert_nonnull(strchr("89ab", u[19])); /* RFC 4122 variant */
		g_assert_false(g_hash_table_contains(seen, u));
		g_hash_table_add(seen, u);
	}
}

static void
test_uuid5_vectors(void)
{
	static const gchar *const v[][3] = {
		/* docs/agent-protocol.md §2.1 */
		{ "a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890",
		  "demo_vm",
		  "bce5d269-12be-52b0-90df-0191f1a39ace" },
		{ "a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890",
		  "node",
		  "af977524-ff5b-53a4-a4a0-1fdbba284796" },
		{ "11111111-2222-3333-4444-555555555555",
		  "s3aas",
		  "239bb923-73ae-5e7f-a9be-30e0a13dff80" },
		/* Python uuid.uuid5(): UTF-8 names, empty name, NAMESPACE_DNS */
		{ "a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890",
		  "caf\xc3\xa9 \xf0\x9f\x98\x80",
		  "d301f674-4010-5882-9fe3-74a03161f613" },
		{ "a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890",
		  "",
		  "644c1083-9335-5307-866d-78c7a1ef9185" },
		{ "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
		  "python.org",
		  "886313e1-3b8a-5372-9b90-0c9aee199e5d" },
		/* the namespace may be upper case */
		{ "A1B2C3D4-E5F6-7890-A1B2-C3D4E5F67890",
		  "node",
		  "af977524-ff5b-53a4-a4a0-1fdbba284796" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(v); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *out = exm_uuid_v5(v[i][0], v[i][1], &error);
		g_assert_no_error(error);
		g_assert_cmpstr(out, ==, v[i][2]);
	}
}

static void
test_uuid5_bad_namespace(void)
{
	static const gchar *const bad[] = { "", "node", "a1b2c3d4-e5f6-7890-a1b2-c3d4e5f6789" };

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *out = exm_uuid_v5(bad[i], "x", &error);
		g_assert_null(out);
		g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE);
	}
	{
		g_autoptr(GError) error = NULL;
		g_autofree gchar *out = exm_uuid_v5(NULL, "x", &error);
		g_assert_null(out);
		g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE);
	}
}

/* The lenient mode the REST API uses (moved from test-rest.c). */
#define U1 "84fe6e92-5b3c-4a1b-a124-de76b7b6c788"

static void
test_parse_lenient(void)
{
	const gchar *ok[] = { U1,
			      "84FE6E92-5B3C-4A1B-A124-DE76B7B6C788",
			      "84fe6e925b3c4a1ba124de76b7b6c788",
			      "{84fe6e92-5b3c-4a1b-a124-de76b7b6c788}",
			      "urn:uuid:84fe6e92-5b3c-4a1b-a124-de76b7b6c788" };
	const gchar *bad[] = { "",     "84fe6e92", U1 "0", "84fe6e92-5b3c-4a1b-a124-de76b7b6c78g",
			       " " U1, "\xc3\xa9" };

	for (guint i = 0; i < G_N_ELEMENTS(ok); i++) {
		g_autofree gchar *u = exm_uuid_parse_lenient(ok[i], "uuid", NULL);
		g_assert_cmpstr(u, ==, U1);
	}
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *u = exm_uuid_parse_lenient(bad[i], "uuid", &error);
		g_assert_null(u);
		g_assert_error(error, EXM_ERROR, EXM_ERROR_PARSE);
	}
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/uuid/parse/valid", test_parse_valid);
	g_test_add_func("/uuid/parse/invalid", test_parse_invalid);
	g_test_add_func("/uuid/parse/lenient", test_parse_lenient);
	g_test_add_func("/uuid/uuid4", test_uuid4);
	g_test_add_func("/uuid/uuid5/vectors", test_uuid5_vectors);
	g_test_add_func("/uuid/uuid5/bad-namespace", test_uuid5_bad_namespace);
	return g_test_run();
}
