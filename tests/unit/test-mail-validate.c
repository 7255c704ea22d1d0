/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Field rules of libexm-mail: every rule on both sides of its boundary, and that
 * messages name the field.  The password_hash grammar is in test-mail-crypt.c,
 * where real hashes are made with libcrypt.
 */
#include <string.h>

#include "exm-error.h"
#include "exm-mail.h"
#include "exm-test.h"

typedef struct {
	const gchar *input;
	const gchar *expect; /* normalised form, NULL: must be refused */
} NormCase;

static gchar *
repeat(gchar c, gsize n)
{
	gchar *s = g_malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* A refusal is EXM_MAIL_ERROR_INVALID whose message starts with "<field>: ". */
static void
assert_refused(GError *error, const gchar *field, const gchar *input)
{
	g_autofree gchar *prefix = g_strdup_printf("%s: ", field);

	if (error == NULL)
		g_error("%s: '%s' was accepted", field, input);
	g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
	if (!g_str_has_prefix(error->message, prefix))
		g_error("message '%s' does not start with '%s'", error->message, prefix);
}

static void
run_norm_cases(const NormCase *cases,
	       gsize n,
	       const gchar *field,
	       gchar *(*fn)(const gchar *, GError **))
{
	for (gsize i = 0; i < n; i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *out = fn(cases[i].input, &error);

		if (cases[i].expect != NULL) {
			g_assert_no_error(error);
			g_assert_cmpstr(out, ==, cases[i].expect);
		} else {
			g_assert_null(out);
			assert_refused(error, field, cases[i].input);
		}
	}
}

static void
test_error_domain_is_400(void)
{
	g_autoptr(GError) e1 = g_error_new_literal(EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID, "x");
	g_autoptr(GError) e2 = g_error_new_literal(EXM_MAIL_ERROR, EXM_MAIL_ERROR_PARSE, "x");

	g_assert_cmpuint(exm_error_http_status(e1), ==, 400);
	g_assert_cmpuint(exm_error_http_status(e2), ==, 400);
	g_assert_cmpstr(exm_error_type_name(e1), ==, "ValidationError");
	g_assert_cmpuint(EXM_MAIL_ERROR, !=, 0);
	g_assert_cmpuint(EXM_MAIL_ERROR, ==, exm_mail_error_quark());
}

static void
test_name(void)
{
	g_autofree gchar *max = repeat('n', 255);
	g_autofree gchar *over = repeat('n', 256);
	/* 255 two-byte characters: the limit counts characters, not bytes */
	g_autoptr(GString) wide = g_string_new(NULL);
	const gchar *bad[] = { "", "a\nb", "tab\there", "nul\x01", "\xff\xfe", "a\x7f" };

	for (guint i = 0; i < 255; i++)
		g_string_append(wide, "\xc3\xa9");
	g_assert_true(exm_mail_validate_name("m", NULL));
	g_assert_true(exm_mail_validate_name(max, NULL));
	g_assert_true(exm_mail_validate_name(wide->str, NULL));
	g_assert_true(exm_mail_validate_name("mail server \xe2\x9c\x89", NULL));
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;

		g_assert_false(exm_mail_validate_name(bad[i], &error));
		assert_refused(error, "name", bad[i]);
	}
	{
		g_autoptr(GError) error = NULL;

		g_assert_false(exm_mail_validate_name(over, &error));
		assert_refused(error, "name", "256 chars");
		g_clear_error(&error);
		g_string_append(wide, "\xc3\xa9");
		g_assert_false(exm_mail_validate_name(wide->str, &error));
		assert_refused(error, "name", "256 wide chars");
		g_clear_error(&error);
		g_assert_false(exm_mail_validate_name(NULL, &error));
		assert_refused(error, "name", "NULL");
	}
}

static void
test_description(void)
{
	g_autofree gchar *max = repeat('d', 4096);
	g_autofree gchar *over = repeat('d', 4097);
	g_autoptr(GError) error = NULL;

	g_assert_true(exm_mail_validate_description(NULL, NULL));
	g_assert_true(exm_mail_validate_description("", NULL));
	g_assert_true(exm_mail_validate_description("multi\nline\ttext", NULL));
	g_assert_true(exm_mail_validate_description(max, NULL));
	g_assert_false(exm_mail_validate_description(over, &error));
	assert_refused(error, "description", "4097 bytes");
	g_clear_error(&error);
	g_assert_false(exm_mail_validate_description("bad \xc3\x28", &error));
	assert_refused(error, "description", "invalid utf-8");
}

static void
test_domain(void)
{
	g_autofree gchar *l63 = repeat('a', 63);
	g_autofree gchar *l64 = repeat('a', 64);
	g_autofree gchar *at63 = g_strconcat(l63, ".com", NULL);
	g_autofree gchar *at64 = g_strconcat(l64, ".com", NULL);
	/* 4 labels of 63 + 3 dots = 255; trim to exactly 253 and 254 */
	g_autofree gchar *long4 = g_strjoin(".", l63, l63, l63, l63, NULL);
	g_autofree gchar *d253 = g_strndup(long4, 253);
	g_autofree gchar *d254 = g_strndup(long4, 254);
	const NormCase cases[] = {
		{ "example.com", "example.com" },
		{ "Example.COM", "example.com" },
		{ "a.b", "a.b" },
		{ "mail-1.sub.example.co.uk", "mail-1.sub.example.co.uk" },
		{ "1example.com", "1example.com" },
		{ "xn--bcher-kva.example", "xn--bcher-kva.example" },
		{ "example.c0m", "example.c0m" },
		{ at63, at63 }, /* a 63-character label and 253 characters pass */
		{ at64, NULL },
		{ d253, d253 },
		{ d254, NULL },
		{ "", NULL },
		{ "localhost", NULL },
		{ "example.com.", NULL },
		{ ".example.com", NULL },
		{ "example..com", NULL },
		{ "-example.com", NULL },
		{ "example-.com", NULL },
		{ "exa_mple.com", NULL },
		{ "exa mple.com", NULL },
		{ "example.com\n", NULL },
		{ "example.com\nMAIL_DOMAIN=evil.com", NULL },
		{ "b\xc3\xbc"
		  "cher.example",
		  NULL },
		{ "\xff.com", NULL },
		{ "user@example.com", NULL },
		{ "example.com:25", NULL },
		{ "192.0.2.1", NULL },
		{ "*.example.com", NULL },
		{ "example.com/x", NULL },
	};

	g_assert_cmpuint(strlen(d253), ==, 253);
	g_assert_cmpint(d253[252], !=, '.');
	g_assert_cmpint(d254[253], ==, 'a');
	run_norm_cases(cases, G_N_ELEMENTS(cases), "domain", exm_mail_validate_normalize_domain);
	{
		g_autoptr(GError) error = NULL;

		g_assert_null(exm_mail_validate_normalize_domain(NULL, &error));
		assert_refused(error, "domain", "NULL");
	}
}

static void
test_domain_messages(void)
{
	struct {
		const gchar *input;
		const gchar *needle;
	} cases[] = {
		{ "a_b.com", "label 'a_b'" },
		{ "example.com.", "must not end with a dot" },
		{ "localhost", "at least two labels" },
		{ "-a.com", "must not start or end with '-'" },
		{ "a..com", "empty label" },
		{ "b\xc3\xbc"
		  "cher.de",
		  "xn--" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *out = exm_mail_validate_normalize_domain(cases[i].input, &error);

		g_assert_null(out);
		g_assert_nonnull(error);
		if (strstr(error->message, cases[i].needle) == NULL)
			g_error("'%s' not in '%s'", cases[i].needle, error->message);
	}
}

static void
test_username(void)
{
	g_autofree gchar *u64 = repeat('u', 64);
	g_autofree gchar *u65 = repeat('u', 65);
	const NormCase cases[] = {
		{ "alice", "alice" },
		{ "Alice", "alice" },
		{ "ALICE.Smith+tag_1-x", "alice.smith+tag_1-x" },
		{ "a", "a" },
		{ "0", "0" },
		{ "-x", "-x" },
		{ "a.", "a." },
		{ u64, u64 },
		{ u65, NULL },
		{ "", NULL },
		{ ".alice", NULL },
		{ "alice@example.com", NULL },
		{ "ali ce", NULL },
		{ "alice:x", NULL },
		{ "alice\n", NULL },
		{ "alice\nbob@example.com:$6$x", NULL },
		{ "al#ice", NULL },
		{ "al/ice", NULL },
		{ "\xc3\xa9t\xc3\xa9", NULL },
		{ "\xff", NULL },
		{ "al\"ice", NULL },
		{ "al*ice", NULL },
	};

	run_norm_cases(
		cases, G_N_ELEMENTS(cases), "username", exm_mail_validate_normalize_username);
	/* canonical exactly when the normal form is the input itself */
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_test_message("canonical? %s", cases[i].input);
		g_assert_cmpint(exm_mail_validate_username_is_canonical(cases[i].input),
				==,
				g_strcmp0(cases[i].input, cases[i].expect) == 0);
	}
	g_assert_false(exm_mail_validate_username_is_canonical(NULL));
	{
		g_autoptr(GError) error = NULL;

		g_assert_null(exm_mail_validate_normalize_username(NULL, &error));
		assert_refused(error, "username", "NULL");
	}
}

static void
test_ipv4(void)
{
	const gchar *good[] = {
		"0.0.0.0", "192.0.2.10", "255.255.255.255", "127.1.0.2", "10.0.0.1"
	};
	const gchar *bad[] = { "",	     "256.0.0.1",	"1.2.3",      "1.2.3.4.5",
			       "01.2.3.4",   "1.2.3.04",	"1.2.3.4 ",   " 1.2.3.4",
			       "1.2.3.4\n",  "1..3.4",		"a.b.c.d",    "1.2.3.-4",
			       "1.2.3.4/32", "0x1.2.3.4",	"1234.1.1.1", "::1",
			       "1.2.3.1000", "192.168.100.1000" };

	for (gsize i = 0; i < G_N_ELEMENTS(good); i++)
		g_assert_true(exm_mail_validate_ipv4(good[i], NULL));
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;

		if (exm_mail_validate_ipv4(bad[i], &error))
			g_error("ipv4 '%s' accepted", bad[i]);
		assert_refused(error, "ipv4", bad[i]);
	}
	g_assert_false(exm_mail_validate_ipv4(NULL, NULL));
}

static void
test_selector(void)
{
	g_autofree gchar *s63 = repeat('s', 63);
	g_autofree gchar *s64 = repeat('s', 64);
	const gchar *good[] = { "platform", "s1", "2026-11", "a", s63 };
	const gchar *bad[] = { "", s64, "Platform", "a.b", "-a", "a-", "a_b", "a b", "a\n", "a;b" };

	for (gsize i = 0; i < G_N_ELEMENTS(good); i++)
		g_assert_true(exm_mail_validate_selector(good[i], NULL));
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;

		if (exm_mail_validate_selector(bad[i], &error))
			g_error("selector '%s' accepted", bad[i]);
		assert_refused(error, "dkim_selector", bad[i]);
	}
	g_assert_false(exm_mail_validate_selector(NULL, NULL));
	g_assert_true(exm_mail_validate_selector(EXM_MAIL_DEFAULT_SELECTOR, NULL));
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/mail/validate/error-domain-is-400", test_error_domain_is_400);
	g_test_add_func("/mail/validate/name", test_name);
	g_test_add_func("/mail/validate/description", test_description);
	g_test_add_func("/mail/validate/domain", test_domain);
	g_test_add_func("/mail/validate/domain-messages", test_domain_messages);
	g_test_add_func("/mail/validate/username", test_username);
	g_test_add_func("/mail/validate/ipv4", test_ipv4);
	g_test_add_func("/mail/validate/selector", test_selector);
	return g_test_run();
}
