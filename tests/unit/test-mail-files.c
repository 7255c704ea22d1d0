/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The data-plane file formats: the upstream driver cases (docs/mail.md
 * §5.1, all twelve), passwd and mail.env round trips and injection attempts, DKIM
 * TXT splitting with a real RSA-2048 key (checked by python3-dkim), and the DNS
 * guidance of the seed README.
 */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string.h>

#include "exm-cdb.h"
#include "exm-cleanup.h"
#include "exm-json.h"
#include "exm-mail.h"
#include "exm-mail-cdb.h"
#include "exm-test.h"

/* A real `$6$` hash of "hunter2" made with libxcrypt. */
#define HASH_A                                                                                     \
	"$6$xNAW4QpoaCGQBXdf$6eKv4cyfwyXPWpgVWmTN7gVBU.8PXwV7cUi6UFBOR7N7.FrYwzPnd3mVtwdiESqe0U"   \
	"KjcDj3NcZ9z/HcLokwH0"

/* A node built field by field, bypassing exm_mail_node_add_account(): the upstream
 * cases use fake hashes such as `$6$abc` that the API would refuse. */
static ExmMailNode *
raw_node(const gchar *domain)
{
	ExmMailNode *n = exm_mail_node_new();

	n->uuid = g_strdup("11111111-2222-3333-4444-555555555555");
	n->name = g_strdup("m1");
	n->domain = g_strdup(domain);
	return n;
}

static void
raw_add(ExmMailNode *n, const gchar *user, const gchar *hash, gboolean active)
{
	g_ptr_array_add(n->accounts, exm_mail_node_account_new(user, hash, active));
}

/* ---- upstream tests/unit/test_driver.py ------------------------------------------- */

static void
test_upstream_strip_prefix(void)
{
	g_assert_cmpstr(exm_mail_crypt_strip_scheme("{SHA512-CRYPT}$6$abc"), ==, "$6$abc"); /* 1 */
	g_assert_cmpstr(exm_mail_crypt_strip_scheme("{MD5}$1$abc"), ==, "$1$abc");	    /* 2 */
	g_assert_cmpstr(exm_mail_crypt_strip_scheme("$6$abc"), ==, "$6$abc");		    /* 3 */
	g_assert_cmpstr(exm_mail_crypt_strip_scheme(""), ==, "");			    /* 4 */
}

static void
test_upstream_passwd(void)
{
	{ /* 5: no accounts -> exactly "" */
		g_autoptr(ExmMailNode) n = raw_node("example.com");
		g_autofree gchar *out = exm_mail_passwd_render(n);

		g_assert_cmpstr(out, ==, "");
	}
	{ /* 6: prefix stripped */
		g_autoptr(ExmMailNode) n = raw_node("example.com");
		g_autofree gchar *out = NULL;

		raw_add(n, "alice", "{SHA512-CRYPT}$6$abc", TRUE);
		out = exm_mail_passwd_render(n);
		g_assert_nonnull(strstr(out, "alice@example.com:$6$abc"));
		g_assert_null(strstr(out, "{SHA512-CRYPT}"));
	}
	{ /* 7: raw hash kept */
		g_autoptr(ExmMailNode) n = raw_node("example.com");
		g_autofree gchar *out = NULL;

		raw_add(n, "bob", "$6$salt$hash", TRUE);
		out = exm_mail_passwd_render(n);
		g_assert_nonnull(strstr(out, "bob@example.com:$6$salt$hash"));
	}
	{ /* 8: inactive left out */
		g_autoptr(ExmMailNode) n = raw_node("example.com");
		g_autofree gchar *out = NULL;

		raw_add(n, "carol", "$6$abc", FALSE);
		out = exm_mail_passwd_render(n);
		g_assert_null(strstr(out, "carol@example.com"));
	}
	{ /* 9: both lines, prefix stripped */
		g_autoptr(ExmMailNode) n = raw_node("example.com");
		g_autofree gchar *out = NULL;

		raw_add(n, "alice", "{SHA512-CRYPT}$6$ha", TRUE);
		raw_add(n, "bob", "$6$hb", TRUE);
		out = exm_mail_passwd_render(n);
		g_assert_nonnull(strstr(out, "alice@example.com:$6$ha"));
		g_assert_nonnull(strstr(out, "bob@example.com:$6$hb"));
		g_assert_null(strstr(out, "{SHA512-CRYPT}"));
	}
}

/* The pieces, in order, are exm_mail_passwd_render()'s text, whole lines
 * each and about 64 KiB: none for no line, one for a few, several for 3 000
 * accounts; a refused piece stops the render with its error. */
static void
test_passwd_render_pieces(void)
{
	const guint sizes[] = { 0, 3, 3000 };

	for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
		g_autoptr(ExmMailNode) n = raw_node("example.com");
		g_autoptr(GString) text = g_string_new(NULL);
		g_autoptr(GError) error = NULL;
		g_autofree gchar *whole = NULL;
		ExmTestPieces p = { text, 0, 0, TRUE };

		for (guint k = 0; k < sizes[i]; k++) {
			g_autofree gchar *user = g_strdup_printf("user%05u", k);

			raw_add(n, user, HASH_A, k % 7 != 3);
		}
		whole = exm_mail_passwd_render(n);
		g_assert_true(exm_mail_passwd_render_pieces(n, exm_test_pieces_add, &p, &error));
		g_assert_no_error(error);
		g_assert_cmpstr(text->str, ==, whole);
		g_assert_cmpuint(p.pieces, ==, (strlen(whole) + 65535) / 65536);
		if (p.pieces < 2)
			continue;
		g_string_truncate(text, 0);
		p.pieces = 0;
		p.refuse_at = 2;
		g_assert_false(exm_mail_passwd_render_pieces(n, exm_test_pieces_add, &p, &error));
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
		g_assert_cmpuint(p.pieces, ==, 2);
	}
}

/* passwd is in the order of the usernames: accounts in that order (as
 * exm_mail_node_add_account() keeps them) are written as they are, others
 * sorted first, without reordering the node. */
static void
test_passwd_render_order(void)
{
	const gchar *want = "alice@example.com:$6$ha\nbob@example.com:$6$hb\n"
			    "carol@example.com:$6$hc\n";
	g_autoptr(ExmMailNode) hand = raw_node("example.com");
	g_autoptr(ExmMailNode) sorted = raw_node("example.com");
	g_autofree gchar *from_hand = NULL;
	g_autofree gchar *from_sorted = NULL;

	raw_add(hand, "carol", "$6$hc", TRUE);
	raw_add(hand, "alice", "$6$ha", TRUE);
	raw_add(hand, "bob", "$6$hb", TRUE);
	from_hand = exm_mail_passwd_render(hand);
	g_assert_cmpstr(from_hand, ==, want);
	/* the render does not reorder the node it borrows */
	g_assert_cmpstr(((ExmMailNodeAccount *)g_ptr_array_index(hand->accounts, 0))->username,
			==,
			"carol");
	raw_add(sorted, "alice", "$6$ha", TRUE);
	raw_add(sorted, "bob", "$6$hb", TRUE);
	raw_add(sorted, "carol", "$6$hc", TRUE);
	from_sorted = exm_mail_passwd_render(sorted);
	g_assert_cmpstr(from_sorted, ==, want);
}

static void
test_upstream_dkim_txt(void)
{
	/* 10: BIND style as opendkim-genkey writes it */
	g_autofree gchar *bind = exm_mail_dkim_txt_parse(
		"platform._domainkey\tIN\tTXT\t( \"v=DKIM1; h=sha256; k=rsa; \"\n"
		"\t  \"p=MIGfMA0GCSqAB\" )  ; ----- DKIM key platform for example.com");
	g_autofree gchar *single = exm_mail_dkim_txt_parse("\"v=DKIM1; p=ABC\""); /* 11 */
	g_autofree gchar *empty = exm_mail_dkim_txt_parse("");			  /* 12 */

	g_assert_cmpstr(bind, ==, "v=DKIM1; h=sha256; k=rsa; p=MIGfMA0GCSqAB");
	g_assert_cmpstr(single, ==, "v=DKIM1; p=ABC");
	g_assert_cmpstr(empty, ==, "");
}

/* ---- passwd ----------------------------------------------------------------------- */

static void
test_passwd_render_exact(void)
{
	g_autoptr(ExmMailNode) n = exm_mail_node_new();
	g_autofree gchar *out = NULL;
	g_autofree gchar *expect = NULL;

	n->uuid = g_strdup("11111111-2222-3333-4444-555555555555");
	n->name = g_strdup("m1");
	n->domain = g_strdup("example.com");
	/* added out of order; inactive ones never appear */
	g_assert_true(exm_mail_node_add_account(n, "zed", HASH_A, TRUE, NULL));
	g_assert_true(exm_mail_node_add_account(n, "Alice", "{SHA512-CRYPT}" HASH_A, TRUE, NULL));
	g_assert_true(exm_mail_node_add_account(n, "mallory", HASH_A, FALSE, NULL));
	g_assert_true(exm_mail_node_add_account(n, "a.b", "{CRYPT}" HASH_A, TRUE, NULL));
	out = exm_mail_passwd_render(n);
	expect = g_strdup_printf("a.b@example.com:%s\nalice@example.com:%s\nzed@example.com:%s\n",
				 HASH_A,
				 HASH_A,
				 HASH_A);
	g_assert_cmpstr(out, ==, expect);
}

static void
test_passwd_render_all_inactive(void)
{
	g_autoptr(ExmMailNode) n = raw_node("example.com");
	g_autofree gchar *out = NULL;

	raw_add(n, "a", HASH_A, FALSE);
	raw_add(n, "b", HASH_A, FALSE);
	out = exm_mail_passwd_render(n);
	g_assert_cmpstr(out, ==, "");
}

/* Lines that would inject a second login are never written, even from a raw node. */
static void
test_passwd_render_defensive(void)
{
	const struct {
		const gchar *user;
		const gchar *hash;
	} bad[] = {
		{ "eve\nroot@example.com", HASH_A },
		{ "eve", HASH_A "\nroot@example.com:" HASH_A },
		{ "eve", "$6$x:y" },
		{ "eve", "$6$x y" },
		{ "eve", "" },
		{ "eve", "{SHA512-CRYPT}" },
		{ "Eve", HASH_A },
		{ "eve@evil.com", HASH_A },
		{ ".eve", HASH_A },
		{ "eve\r", HASH_A },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(ExmMailNode) n = raw_node("example.com");
		g_autofree gchar *out = NULL;

		raw_add(n, "good", HASH_A, TRUE);
		raw_add(n, bad[i].user, bad[i].hash, TRUE);
		g_test_expect_message("exm-mail", G_LOG_LEVEL_WARNING, "passwd: skipping*");
		out = exm_mail_passwd_render(n);
		g_test_assert_expected_messages();
		g_assert_cmpstr(out, ==, "good@example.com:" HASH_A "\n");
	}
	{
		const gchar *domains[] = {
			"example.com\nroot@x.com:" HASH_A, "Example.com", NULL, "localhost"
		};

		for (gsize i = 0; i < G_N_ELEMENTS(domains); i++) {
			g_autoptr(ExmMailNode) n = raw_node(domains[i]);
			g_autofree gchar *out = NULL;

			raw_add(n, "good", HASH_A, TRUE);
			g_test_expect_message(
				"exm-mail", G_LOG_LEVEL_WARNING, "passwd: the node has no valid*");
			out = exm_mail_passwd_render(n);
			g_test_assert_expected_messages();
			g_assert_cmpstr(out, ==, "");
		}
	}
}

static gboolean
collect_append(gconstpointer bytes, gsize len, gpointer data, GError **error)
{
	(void)error;
	g_byte_array_append(data, bytes, (guint)len);
	return TRUE;
}

static gboolean
collect_header(gconstpointer bytes, gsize len, gpointer data, GError **error)
{
	GByteArray *file = data;

	(void)error;
	g_assert_cmpuint(file->len, >=, len);
	memcpy(file->data, bytes, len);
	return TRUE;
}

/* exm_mail_passwd_render_cdb_to() put together. */
static guint8 *
render_cdb_streamed(const ExmMailNode *n, gsize *len)
{
	static const ExmCdbSink sink = { collect_append, collect_header };
	GByteArray *file = g_byte_array_new();
	g_autoptr(GError) error = NULL;
	gsize told = 0;
	guint8 *db;

	g_byte_array_set_size(file, EXM_CDB_HEADER_SIZE);
	g_assert_true(exm_mail_passwd_render_cdb_to(n, &sink, file, &told, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(told, ==, file->len);
	db = g_byte_array_steal(file, len);
	g_byte_array_unref(file);
	return db;
}

/* The index built a line at a time and streamed is byte for byte the index
 * of the text: order, inactive and refused accounts, schemes, a repeated
 * username (the first line wins), no line at all, a domain that writes
 * none. */
static void
assert_cdb_of_render(const ExmMailNode *n, guint warnings)
{
	g_autofree guint8 *streamed = NULL;
	gsize streamed_len = 0;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	gsize want_len = 0;
	guint8 *want = NULL;

	for (guint i = 0; i < warnings; i++)
		g_test_expect_message("exm-mail", G_LOG_LEVEL_WARNING, "passwd: *");
	text = exm_mail_passwd_render(n);
	want = exm_mail_cdb_from_lsearch(text, &want_len, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < warnings; i++)
		g_test_expect_message("exm-mail", G_LOG_LEVEL_WARNING, "passwd: *");
	streamed = render_cdb_streamed(n, &streamed_len);
	g_test_assert_expected_messages();
	g_assert_cmpmem(streamed, streamed_len, want, want_len);
	exm_cdb_free(want, want_len);
}

static void
test_passwd_render_cdb(void)
{
	g_autoptr(ExmMailNode) empty = raw_node("example.com");
	g_autoptr(ExmMailNode) mixed = raw_node("example.com");
	g_autoptr(ExmMailNode) bad_domain = raw_node("Example.com");

	assert_cdb_of_render(empty, 0);
	raw_add(mixed, "carol", "{SHA512-CRYPT}" HASH_A, TRUE);
	raw_add(mixed, "alice", "$6$ha", TRUE);
	raw_add(mixed, "mallory", "$6$hm", FALSE);
	raw_add(mixed, "eve", "$6$x:y", TRUE);
	raw_add(mixed, "bob", "$6$first", TRUE);
	raw_add(mixed, "bob", "$6$second", TRUE);
	/* sorted apart from "bob" and written as its key, it would be a
	 * repeated key the streamed index (which compares a line with the line
	 * before only) kept: it is no canonical username, so no line */
	raw_add(mixed, "Bob", "$6$third", TRUE);
	assert_cdb_of_render(mixed, 2);
	raw_add(bad_domain, "good", HASH_A, TRUE);
	assert_cdb_of_render(bad_domain, 1);
}

/* The safe way in refuses what the raw node above had to be built around. */
static void
test_passwd_add_account_refuses_injection(void)
{
	const struct {
		const gchar *user;
		const gchar *hash;
	} bad[] = {
		{ "eve\nroot", HASH_A },   { "eve", HASH_A "\nroot@example.com:" HASH_A },
		{ "eve", "$6$salt$hash" }, { "eve:x", HASH_A },
		{ "eve", HASH_A ":" },	   { "", HASH_A },
		{ "eve", NULL },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(ExmMailNode) n = exm_mail_node_new();
		g_autoptr(GError) error = NULL;

		g_assert_false(
			exm_mail_node_add_account(n, bad[i].user, bad[i].hash, TRUE, &error));
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
		g_assert_cmpuint(n->accounts->len, ==, 0);
	}
}

static void
test_passwd_parse(void)
{
	const gchar *content = "# managed by exordos\n"
			       "\n"
			       "alice@example.com:$6$a$b\n"
			       "  Bob@Example.COM:{SHA512-CRYPT}$6$x:y  \r\n"
			       "nocolon@example.com\n"
			       "noat:$6$z\n"
			       "   # indented comment\n"
			       "carol@other.org:\n"
			       "dave@example.com:$y$j9T$s$h";
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) e = exm_mail_passwd_parse(content, &error);
	const struct {
		const gchar *address, *local, *hash;
	} expect[] = {
		{ "alice@example.com", "alice", "$6$a$b" },
		{ "bob@example.com", "bob", "{SHA512-CRYPT}$6$x:y" },
		{ "carol@other.org", "carol", "" },
		{ "dave@example.com", "dave", "$y$j9T$s$h" },
	};

	g_assert_no_error(error);
	g_assert_cmpuint(e->len, ==, G_N_ELEMENTS(expect));
	for (guint i = 0; i < e->len && i < G_N_ELEMENTS(expect); i++) {
		const ExmMailPasswdEntry *x = g_ptr_array_index(e, i);

		g_assert_cmpstr(x->address, ==, expect[i].address);
		g_assert_cmpstr(x->local, ==, expect[i].local);
		g_assert_cmpstr(x->hash, ==, expect[i].hash);
	}
}

static void
test_passwd_parse_edge(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) empty = exm_mail_passwd_parse("", &error);
	g_autoptr(GPtrArray) none = exm_mail_passwd_parse(NULL, &error);
	g_autoptr(GPtrArray) bad = NULL;

	g_assert_no_error(error);
	g_assert_cmpuint(empty->len, ==, 0);
	g_assert_cmpuint(none->len, ==, 0);
	bad = exm_mail_passwd_parse("alice@example.com:\xff\xfe\n", &error);
	g_assert_null(bad);
	g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_PARSE);
}

/* What the agent writes it reads back as the same accounts (docs/architecture.md §2 step 5). */
static void
test_passwd_round_trip(void)
{
	g_autoptr(ExmMailNode) n = exm_mail_node_new();
	g_autofree gchar *text = NULL;
	g_autoptr(GPtrArray) e = NULL;
	g_autofree gchar *h1 = exm_mail_crypt_hash("one", EXM_MAIL_HASH_YESCRYPT, NULL);
	g_autofree gchar *h2 = exm_mail_crypt_hash("two", EXM_MAIL_HASH_SHA512, NULL);
	g_autofree gchar *h2p = g_strconcat("{SHA512-CRYPT}", h2, NULL);

	n->domain = g_strdup("mail.example.org");
	g_assert_true(exm_mail_node_add_account(n, "u1", h1, TRUE, NULL));
	g_assert_true(exm_mail_node_add_account(n, "u2+tag", h2p, TRUE, NULL));
	g_assert_true(exm_mail_node_add_account(n, "u3", h1, FALSE, NULL));
	text = exm_mail_passwd_render(n);
	e = exm_mail_passwd_parse(text, NULL);
	g_assert_cmpuint(e->len, ==, 2);
	g_assert_cmpstr(((ExmMailPasswdEntry *)e->pdata[0])->local, ==, "u1");
	g_assert_cmpstr(((ExmMailPasswdEntry *)e->pdata[0])->hash, ==, h1);
	g_assert_cmpstr(
		((ExmMailPasswdEntry *)e->pdata[1])->address, ==, "u2+tag@mail.example.org");
	g_assert_cmpstr(((ExmMailPasswdEntry *)e->pdata[1])->hash, ==, h2);
	/* the hash read back still verifies: nothing was lost on the way */
	g_assert_true(exm_mail_crypt_verify("two", ((ExmMailPasswdEntry *)e->pdata[1])->hash));
}

/* ---- mail.env --------------------------------------------------------------------- */

static void
test_env_render(void)
{
	const gchar *bad[] = { "example.com\nMAIL_DOMAIN=evil.com",
			       "example.com\n",
			       "",
			       "exa mple.com",
			       "$(reboot).com",
			       "`id`.com",
			       "a;b.com",
			       "\"example.com\"",
			       NULL };
	g_autofree gchar *ok = exm_mail_env_render("Example.COM", NULL);

	g_assert_cmpstr(ok, ==, "MAIL_DOMAIN=example.com\n");
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *out = exm_mail_env_render(bad[i], &error);

		g_assert_null(out);
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
	}
}

static void
test_env_parse(void)
{
	const struct {
		const gchar *content;
		const gchar *expect;
	} cases[] = {
		{ "MAIL_DOMAIN=example.com\n", "example.com" },
		{ "MAIL_DOMAIN=example.com", "example.com" },
		{ "MAIL_DOMAIN=\"example.com\"\n", "example.com" },
		{ "MAIL_DOMAIN='example.com'\n", "example.com" },
		{ "# comment\n\n  MAIL_DOMAIN=Example.COM  \n# end\n", "example.com" },
		{ "\tMAIL_DOMAIN=a.b\n", "a.b" },
		{ "", NULL },
		{ "# only a comment\n", NULL },
		{ "MAIL_DOMAIN=\n", NULL },
		{ "MAIL_DOMAIN=\"\"\n", NULL },
		{ "MAIL_DOMAIN=example.com\nMAIL_DOMAIN=evil.com\n", NULL },
		{ "MAIL_DOMAIN=example.com\nOTHER=1\n", NULL },
		{ "MAIL_ROOT_PASSWORD=x\nMAIL_DOMAIN=example.com\n", NULL },
		{ "mail_domain=example.com\n", NULL },
		{ "export MAIL_DOMAIN=example.com\n", NULL },
		{ "MAIL_DOMAIN example.com\n", NULL },
		{ "MAIL_DOMAIN =example.com\n", NULL },
		{ "MAIL_DOMAIN=example.com # note\n", NULL },
		{ "MAIL_DOMAIN=example.com\r\n", NULL },
		{ "MAIL_DOMAIN=\"example.com\n", NULL },
		{ "MAIL_DOMAIN=\"example.com'\n", NULL },
		{ "MAIL_DOMAIN=\"exa\"mple.com\"\n", NULL },
		{ "MAIL_DOMAIN=$(id).com\n", NULL },
		{ "MAIL_DOMAIN=example.com;reboot\n", NULL },
		{ "MAIL_DOMAIN=example.com.\n", NULL },
		{ "MAIL_DOMAIN=localhost\n", NULL },
		{ "MAIL_DOMAIN=\xff.com\n", NULL },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *out = exm_mail_env_parse(cases[i].content, &error);

		if (cases[i].expect != NULL) {
			g_assert_no_error(error);
			g_assert_cmpstr(out, ==, cases[i].expect);
			continue;
		}
		if (out != NULL)
			g_error("mail.env '%s' accepted as '%s'", cases[i].content, out);
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_PARSE);
		g_assert_true(g_str_has_prefix(error->message, "mail.env: "));
	}
	g_assert_null(exm_mail_env_parse(NULL, NULL));
}

static void
test_env_round_trip(void)
{
	const gchar *domains[] = {
		"example.com", "Mail.Example.Org", "xn--bcher-kva.example", "a-b.c-d.e"
	};

	for (gsize i = 0; i < G_N_ELEMENTS(domains); i++) {
		g_autofree gchar *text = exm_mail_env_render(domains[i], NULL);
		g_autofree gchar *back = exm_mail_env_parse(text, NULL);
		g_autofree gchar *lower = g_ascii_strdown(domains[i], -1);

		g_assert_cmpstr(back, ==, lower);
	}
}

static void
test_env_messages(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *out =
		exm_mail_env_parse("# x\nMAIL_DOMAIN=ok.com\nMAIL_DOMAIN=ok.com\n", &error);

	g_assert_null(out);
	g_assert_nonnull(strstr(error->message, "line 3"));
	g_assert_nonnull(strstr(error->message, "twice"));
	g_clear_error(&error);
	g_assert_null(exm_mail_env_parse("MAIL_DOMAIN=a_b.com\n", &error));
	g_assert_nonnull(strstr(error->message, "domain: "));
	g_clear_error(&error);
	g_assert_null(exm_mail_env_parse("\n", &error));
	g_assert_nonnull(strstr(error->message, "missing"));
}

/* ---- DKIM ------------------------------------------------------------------------- */

static void
test_dkim_record_data(void)
{
	g_autofree gchar *d = exm_mail_dkim_record_data("MIIBIjAN");
	g_autofree gchar *e = exm_mail_dkim_record_data(NULL);

	g_assert_cmpstr(d, ==, "v=DKIM1; h=sha256; k=rsa; p=MIIBIjAN");
	g_assert_cmpstr(e, ==, "v=DKIM1; h=sha256; k=rsa; p=");
}

static void
test_dkim_split(void)
{
	const gsize lens[] = { 0, 1, 254, 255, 256, 510, 511, 1000 };

	for (gsize i = 0; i < G_N_ELEMENTS(lens); i++) {
		g_autofree gchar *data = g_malloc(lens[i] + 1);
		g_auto(GStrv) chunks = NULL;
		g_autofree gchar *joined = NULL;
		guint expect = lens[i] == 0 ? 1 : (guint)((lens[i] + 254) / 255);

		for (gsize k = 0; k < lens[i]; k++)
			data[k] = (gchar)('a' + k % 26);
		data[lens[i]] = '\0';
		chunks = exm_mail_dkim_split(data);
		g_assert_cmpuint(g_strv_length(chunks), ==, expect);
		for (guint k = 0; chunks[k] != NULL; k++) {
			g_assert_cmpuint(strlen(chunks[k]), <=, 255);
			if (chunks[k + 1] != NULL)
				g_assert_cmpuint(strlen(chunks[k]), ==, 255);
		}
		joined = g_strjoinv("", chunks);
		g_assert_cmpstr(joined, ==, data);
	}
	{
		g_auto(GStrv) none = exm_mail_dkim_split(NULL);

		g_assert_cmpuint(g_strv_length(none), ==, 1);
		g_assert_cmpstr(none[0], ==, "");
	}
}

static void
test_dkim_txt_render_exact(void)
{
	g_autofree gchar *txt =
		exm_mail_dkim_txt_render("platform", "example.com", "v=DKIM1; p=AB");

	g_assert_cmpstr(txt,
			==,
			"platform._domainkey\tIN\tTXT\t( \"v=DKIM1; p=AB\" )  ; ----- DKIM key "
			"platform for example.com\n");
}

/* base64 of the DER SubjectPublicKeyInfo of a real RSA-2048 key (made with
 * `openssl genpkey`; generating one per run is slow under valgrind). */
static const gchar dkim_key_b64[] =
	"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAmjH3i2UeuV9TjxorQAtmo6M5/Zn7FBCH"
	"OjQySr8W9lRqanfrzDWTQF4alwvmSfpmY8M1a/wP6UMTLetOVake5UDQaZgUvwsGF1JLyrG8dxzT"
	"Xndp9tc30Q/h2qrTHTxgxmUXyeDgh/oVJhOWkP5MM7uNUKaXhl6uakOFU1bHdiN6c99Xz9RQv9ZG"
	"hqM1iBpUNcVkyvF6mdm7VUqeB79d2WZZHTxdCkFGxOo4KD/afCxfP3N2oZqvM4BiAziRYRvf+4x0"
	"B48T5kkA+TQXIRimGHmDpYn8shmKYRPkiZoMrhnyHDR/+ZyPztCcXtEiCYQhvEfqIZvcA85WlSh1"
	"y3w/5QIDAQAB";

static gchar *
real_dkim_key(void)
{
	g_autofree guchar *der = NULL;
	gsize len = 0;
	const guchar *p;
	g_autoptr(EVP_PKEY) key = NULL;

	/* it is a 2048-bit RSA public key, as configure makes them */
	der = g_base64_decode(dkim_key_b64, &len);
	p = der;
	key = d2i_PUBKEY(NULL, &p, (long)len);
	g_assert_nonnull(key);
	g_assert_cmpint(EVP_PKEY_get_bits(key), ==, 2048);
	return g_strdup(dkim_key_b64);
}

/* Renders a real key, reads it back, and checks every quoted string is ≤255 bytes. */
static void
test_dkim_txt_round_trip(void)
{
	g_autofree gchar *key = real_dkim_key();
	g_autofree gchar *data = exm_mail_dkim_record_data(key);
	g_autofree gchar *txt = exm_mail_dkim_txt_render("platform", "example.com", data);
	g_autofree gchar *back = exm_mail_dkim_txt_parse(txt);
	const gchar *p = txt;
	guint strings = 0;

	g_assert_cmpuint(strlen(data), >, 255);
	g_assert_cmpstr(back, ==, data);
	g_assert_true(g_str_has_prefix(txt, "platform._domainkey\tIN\tTXT\t( \""));
	g_assert_true(g_str_has_suffix(txt, " )  ; ----- DKIM key platform for example.com\n"));
	while ((p = strchr(p, '"')) != NULL) {
		const gchar *end = strchr(p + 1, '"');

		g_assert_nonnull(end);
		g_assert_cmpint(end - p - 1, <=, 255);
		strings++;
		p = end + 1;
	}
	g_assert_cmpuint(strings, ==, (strlen(data) + 254) / 255);
}

/* python3-dkim reads the key back out of our record data. */
static void
test_dkim_python_reads_key(void)
{
	const gchar *script = "import sys, base64\n"
			      "from dkim.util import parse_tag_value\n"
			      "from dkim.crypto import parse_public_key\n"
			      "txt = open(sys.argv[1], 'rb').read()\n"
			      "tags = parse_tag_value(txt)\n"
			      "assert tags[b'v'] == b'DKIM1' and tags[b'k'] == b'rsa'\n"
			      "key = parse_public_key(base64.b64decode(tags[b'p']))\n"
			      "print(key['modulus'].bit_length())\n";
	g_autofree gchar *python = g_file_test("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE)
					   ? g_strdup("/usr/bin/python3")
					   : NULL;
	g_autofree gchar *key = real_dkim_key();
	g_autofree gchar *data = exm_mail_dkim_record_data(key);
	g_autofree gchar *txt = exm_mail_dkim_txt_render("platform", "example.com", data);
	g_autofree gchar *parsed = exm_mail_dkim_txt_parse(txt);
	g_autofree gchar *dir = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *out = NULL;
	const gchar *check[] = { python, "-c", "import dkim", NULL };

	if (python == NULL || exm_test_run(check, NULL, NULL) != 0) {
		exm_test_peer_missing("/usr/bin/python3 with python3-dkim");
		return;
	}
	dir = exm_test_mkdtemp("exm-dkim");
	path = g_build_filename(dir, "data.txt", NULL);
	g_assert_true(g_file_set_contents(path, parsed, -1, NULL));
	{
		const gchar *argv[] = { python, "-c", script, path, NULL };

		g_assert_cmpint(exm_test_run(argv, &out, NULL), ==, 0);
	}
	g_assert_cmpstr(g_strstrip(out), ==, "2048");
	exm_test_rmtree(dir);
}

static void
test_dkim_txt_parse_edge(void)
{
	const struct {
		const gchar *in;
		const gchar *out;
	} cases[] = {
		{ NULL, "" },
		{ "no quotes at all", "" },
		{ "\"unterminated", "" },
		{ "\"a\" \"b\" \"c\"", "abc" },
		{ "\"  padded  \"", "padded" },
		{ "\"a\"\n\"b\"\"c\"", "abc" },
		{ "\"\"", "" },
		{ "x \"one\" y \"two", "one" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *out = exm_mail_dkim_txt_parse(cases[i].in);

		g_assert_cmpstr(out, ==, cases[i].out);
	}
}

/* ---- DNS guidance ----------------------------------------------------------------- */

static JsonObject *
record_at(JsonArray *records, guint i)
{
	return json_array_get_object_element(records, i);
}

static void
assert_record(JsonObject *r,
	      const gchar *name,
	      const gchar *type,
	      const gchar *data,
	      const gchar *fqdn)
{
	g_assert_cmpstr(json_object_get_string_member(r, "name"), ==, name);
	g_assert_cmpstr(json_object_get_string_member(r, "type"), ==, type);
	g_assert_cmpint(json_object_get_int_member(r, "ttl"), ==, 3600);
	g_assert_cmpstr(json_object_get_string_member(r, "data"), ==, data);
	g_assert_cmpstr(json_object_get_string_member(r, "fqdn"), ==, fqdn);
	/* only the MX carries a note (issue 22: publish it only where none exists) */
	if (g_str_equal(type, "MX")) {
		g_assert_nonnull(strstr(json_object_get_string_member(r, "note"), "no MX record"));
		g_assert_cmpuint(json_object_get_size(r), ==, 6);
	} else {
		g_assert_cmpuint(json_object_get_size(r), ==, 5);
	}
}

static void
test_dns_records(void)
{
	const gchar *ips[] = { "192.0.2.10", "198.51.100.7", NULL };
	g_autoptr(JsonNode) root =
		exm_mail_dns_records("Example.com", ips, "platform", "v=DKIM1; p=AB");
	JsonObject *obj = json_node_get_object(root);
	JsonArray *records = json_object_get_array_member(obj, "records");
	g_autofree gchar *zone = exm_mail_dns_zone("example.com", ips, "platform", "v=DKIM1; p=AB");

	g_assert_cmpstr(json_object_get_string_member(obj, "domain"), ==, "example.com");
	g_assert_cmpstr(
		json_object_get_string_member(obj, "smtp_hostname"), ==, "mail.example.com");
	g_assert_cmpuint(json_array_get_length(records), ==, 8);
	assert_record(record_at(records, 0),
		      "platform._domainkey",
		      "TXT",
		      "v=DKIM1; p=AB",
		      "platform._domainkey.example.com");
	assert_record(record_at(records, 1),
		      "@",
		      "TXT",
		      "v=spf1 ip4:192.0.2.10/32 ip4:198.51.100.7/32 a mx ~all",
		      "example.com");
	assert_record(record_at(records, 2),
		      "_dmarc",
		      "TXT",
		      "v=DMARC1; p=none; pct=100; adkim=s; aspf=s",
		      "_dmarc.example.com");
	assert_record(record_at(records, 3),
		      "10.2.0.192.in-addr.arpa.",
		      "PTR",
		      "mail.example.com.",
		      "10.2.0.192.in-addr.arpa");
	assert_record(record_at(records, 4),
		      "7.100.51.198.in-addr.arpa.",
		      "PTR",
		      "mail.example.com.",
		      "7.100.51.198.in-addr.arpa");
	/* the PTRs name exim's primary_hostname, whose A records lead back */
	assert_record(record_at(records, 5), "mail", "A", "192.0.2.10", "mail.example.com");
	assert_record(record_at(records, 6), "mail", "A", "198.51.100.7", "mail.example.com");
	assert_record(record_at(records, 7), "@", "MX", "10 example.com.", "example.com");
	g_assert_cmpstr(json_object_get_string_member(obj, "zone"), ==, zone);
}

static void
test_dns_zone_exact(void)
{
	const gchar *ips[] = { "192.0.2.10", NULL };
	g_autofree gchar *zone = exm_mail_dns_zone("example.com", ips, "platform", "v=DKIM1; p=AB");

	g_assert_cmpstr(zone,
			==,
			"; mail DNS records for example.com\n"
			"$ORIGIN example.com.\n"
			"platform._domainkey\t3600\tIN\tTXT\t\"v=DKIM1; p=AB\"\n"
			"@\t3600\tIN\tTXT\t\"v=spf1 ip4:192.0.2.10/32 a mx ~all\"\n"
			"_dmarc\t3600\tIN\tTXT\t\"v=DMARC1; p=none; pct=100; adkim=s; aspf=s\"\n"
			"; PTR records belong to the reverse zone of the IP address owner:\n"
			"; 10.2.0.192.in-addr.arpa.\t3600\tIN\tPTR\tmail.example.com.\n"
			"mail\t3600\tIN\tA\t192.0.2.10\n"
			"; MX only if the domain has no MX record yet; never add it next to an "
			"existing MX:\n"
			"@\t3600\tIN\tMX\t10 example.com.\n");
}

static void
test_dns_without_dkim_or_ips(void)
{
	const gchar *sel[] = { NULL, "", "Bad.Selector", "platform" };
	const gchar *data[] = { "v=DKIM1; p=AB", "v=DKIM1; p=AB", "v=DKIM1; p=AB", "" };

	for (gsize i = 0; i < G_N_ELEMENTS(sel); i++) {
		g_autoptr(JsonNode) root =
			exm_mail_dns_records("example.com", NULL, sel[i], data[i]);
		JsonArray *records =
			json_object_get_array_member(json_node_get_object(root), "records");

		g_assert_cmpuint(json_array_get_length(records), ==, 3);
		assert_record(record_at(records, 0), "@", "TXT", "v=spf1 a mx ~all", "example.com");
	}
}

/* A real 2048-bit key: the zone splits it into ≤255-byte strings on one line. */
static void
test_dns_zone_long_key(void)
{
	g_autofree gchar *key = real_dkim_key();
	g_autofree gchar *data = exm_mail_dkim_record_data(key);
	g_autofree gchar *zone = exm_mail_dns_zone("example.com", NULL, "platform", data);
	g_auto(GStrv) lines = g_strsplit(zone, "\n", -1);
	const gchar *line = lines[2];
	g_autofree gchar *back = NULL;

	g_assert_true(g_str_has_prefix(line, "platform._domainkey\t3600\tIN\tTXT\t\""));
	back = exm_mail_dkim_txt_parse(line);
	g_assert_cmpstr(back, ==, data);
	g_assert_nonnull(strstr(line, "\" \""));
	for (const gchar *p = strchr(line, '"'); p != NULL; p = strchr(p, '"')) {
		const gchar *end = strchr(p + 1, '"');

		g_assert_cmpint(end - p - 1, <=, 255);
		p = end + 1;
	}
}

static const gchar dns_check_script[] =
	"import sys, json, dns.zone, dns.rdatatype\n"
	"z = dns.zone.from_text(open(sys.argv[1]).read(), origin=sys.argv[2],\n"
	"                       relativize=False, check_origin=False)\n"
	"out = []\n"
	"for name, ttl, rd in z.iterate_rdatas():\n"
	"    t = dns.rdatatype.to_text(rd.rdtype)\n"
	"    if t == 'TXT':\n"
	"        assert max(len(s) for s in rd.strings) <= 255\n"
	"        data = b''.join(rd.strings).decode('latin-1')\n"
	"    else:\n"
	"        data = rd.to_text()\n"
	"    out.append('%s %s %d %s' % (name.to_text(omit_final_dot=True), t, ttl, data))\n"
	"print(json.dumps(sorted(out)))\n";

static gint
compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const gchar *const *)a, *(const gchar *const *)b);
}

/* "<fqdn> <type> <ttl> <data>" of every record outside the reverse zone, sorted. */
static GPtrArray *
expected_rrs(JsonNode *root)
{
	JsonArray *records = json_object_get_array_member(json_node_get_object(root), "records");
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < json_array_get_length(records); i++) {
		JsonObject *r = json_array_get_object_element(records, i);

		if (g_str_equal(json_object_get_string_member(r, "type"), "PTR"))
			continue;
		g_ptr_array_add(out,
				g_strdup_printf("%s %s %" G_GINT64_FORMAT " %s",
						json_object_get_string_member(r, "fqdn"),
						json_object_get_string_member(r, "type"),
						json_object_get_int_member(r, "ttl"),
						json_object_get_string_member(r, "data")));
	}
	g_ptr_array_sort(out, compare_strings);
	return out;
}

/* dnspython loads the zone text and finds exactly the JSON records in it. */
static void
test_dns_zone_loads_in_dnspython(void)
{
	const gchar *python = "/usr/bin/python3";
	const gchar *probe[] = { python, "-c", "import dns.zone", NULL };
	const gchar *ips[] = { "192.0.2.10", "198.51.100.7", NULL };
	const gchar *datas[] = { NULL, "v=DKIM1; p=A\"B\\C\nD" };
	g_autofree gchar *dir = NULL;

	if (!g_file_test(python, G_FILE_TEST_IS_EXECUTABLE) ||
	    exm_test_run(probe, NULL, NULL) != 0) {
		exm_test_peer_missing("/usr/bin/python3 with python3-dnspython");
		return;
	}
	dir = exm_test_mkdtemp("exm-zone");
	for (gsize k = 0; k < G_N_ELEMENTS(datas); k++) {
		g_autofree gchar *key = real_dkim_key();
		g_autofree gchar *data =
			datas[k] != NULL ? g_strdup(datas[k]) : exm_mail_dkim_record_data(key);
		g_autoptr(JsonNode) root =
			exm_mail_dns_records("example.com", ips, "platform", data);
		const gchar *zone =
			json_object_get_string_member(json_node_get_object(root), "zone");
		g_autofree gchar *path = g_build_filename(dir, "zone.txt", NULL);
		const gchar *argv[] = {
			python, "-c", dns_check_script, path, "example.com.", NULL
		};
		g_autofree gchar *out = NULL;
		g_autoptr(GPtrArray) want = expected_rrs(root);
		g_autoptr(JsonNode) got = NULL;
		JsonArray *arr;

		g_assert_true(g_file_set_contents(path, zone, -1, NULL));
		g_assert_cmpint(exm_test_run(argv, &out, NULL), ==, 0);
		got = exm_json_parse_strict(out, strlen(out), NULL);
		g_assert_nonnull(got);
		arr = json_node_get_array(got);
		g_assert_cmpuint(json_array_get_length(arr), ==, want->len);
		for (guint i = 0; i < want->len && i < json_array_get_length(arr); i++)
			g_assert_cmpstr(json_array_get_string_element(arr, i),
					==,
					g_ptr_array_index(want, i));
	}
	exm_test_rmtree(dir);
}

static void
test_dns_hostile(void)
{
	const gchar *ips[] = { "192.0.2.10\n@ IN A 6.6.6.6", "999.1.1.1", "192.0.2.11", NULL };
	g_autofree gchar *zone =
		exm_mail_dns_zone("example.com", ips, "platform", "v=DKIM1; p=A\"B\\C\nD");
	g_autofree gchar *bad_domain =
		exm_mail_dns_zone("example.com\n@ IN A 6.6.6.6", NULL, NULL, NULL);
	g_autoptr(JsonNode) none = exm_mail_dns_records("not a domain", ips, NULL, NULL);

	/* invalid IPs dropped; quotes, backslashes and control characters escaped */
	g_assert_null(strstr(zone, "6.6.6.6"));
	g_assert_null(strstr(zone, "999.1.1.1"));
	g_assert_nonnull(strstr(zone, "ip4:192.0.2.11/32 a mx"));
	g_assert_nonnull(strstr(zone, "\"v=DKIM1; p=A\\\"B\\\\C\\010D\""));
	g_assert_cmpstr(bad_domain, ==, "");
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(
				 json_node_get_object(none), "records")),
			 ==,
			 0);
	g_assert_true(json_object_get_null_member(json_node_get_object(none), "smtp_hostname"));
}

/* The policy file: effective instance values, one line per active account with
 * a setting of its own, patterns lower-cased and sorted. */
static void
test_policy_render_exact(void)
{
	g_autoptr(ExmMailNode) n = exm_mail_node_new();
	const gchar *senders[] = {
		"Zed@Example.com", "*@news.example.com", "zed@example.com", NULL
	};
	const ExmMailLimits limits = { .messages_per_hour = 50, .auth_fail_limit = 5 };
	g_autofree gchar *out = NULL;

	n->domain = g_strdup("example.com");
	g_assert_true(exm_mail_node_add_account(n, "zed", HASH_A, TRUE, NULL));
	g_assert_true(exm_mail_node_add_account(n, "amy", HASH_A, TRUE, NULL));
	g_assert_true(exm_mail_node_add_account(n, "off", HASH_A, FALSE, NULL));
	g_assert_true(exm_mail_node_set_account_policy(n, "zed", 20, 0, senders, NULL));
	g_assert_true(exm_mail_node_set_account_policy(n, "off", 1, 1, NULL, NULL));
	g_assert_true(exm_mail_node_set_limits(n, &limits, NULL));
	out = exm_mail_policy_render(n);
	g_assert_cmpstr(out,
			==,
			"# exordos_mail abuse controls, written by the mail agent "
			"(docs/abuse-controls.md)\n"
			".instance: mph=50 rpd=1000 ceiling=1000 authfail=5 authwindow=900\n"
			"zed@example.com: mph=20 senders=*@news.example.com:zed@example.com\n");
}

/* The breaker's holds (docs/abuse-controls.md §7): `held=1` first on the line
 * of a held active account, a line of its own without other settings; an
 * inactive account, another domain's address or a hostile text writes nothing. */
static void
test_policy_held(void)
{
	g_autoptr(ExmMailNode) n = exm_mail_node_new();
	g_autoptr(GHashTable) held = g_hash_table_new(g_str_hash, g_str_equal);
	g_autofree gchar *out = NULL;

	n->domain = g_strdup("example.com");
	g_assert_true(exm_mail_node_add_account(n, "zed", HASH_A, TRUE, NULL));
	g_assert_true(exm_mail_node_add_account(n, "amy", HASH_A, TRUE, NULL));
	g_assert_true(exm_mail_node_add_account(n, "off", HASH_A, FALSE, NULL));
	g_assert_true(exm_mail_node_set_account_policy(n, "zed", 20, 0, NULL, NULL));
	g_hash_table_add(held, "zed@example.com");
	g_hash_table_add(held, "amy@example.com");
	g_hash_table_add(held, "off@example.com");
	g_hash_table_add(held, "eve@example.net");
	g_hash_table_add(held, "x@example.com\n.instance: mph=1");
	out = exm_mail_policy_render_held(n, held);
	g_assert_cmpstr(out,
			==,
			"# exordos_mail abuse controls, written by the mail agent "
			"(docs/abuse-controls.md)\n"
			".instance: mph=100 rpd=1000 ceiling=1000 authfail=10 authwindow=900\n"
			"amy@example.com: held=1\n"
			"zed@example.com: held=1 mph=20\n");
}

/* Nothing a tenant sends can become exim syntax: every hostile value is refused
 * with an error naming its field, and the node value round-trips. */
static void
test_policy_refuses_injection(void)
{
	static const gchar *const bad_senders[] = {
		"a@example.com\n.instance: authfail=1000",
		"^.*@example.com",
		"!a@example.com",
		"a@example.com:b@evil.example",
		"${run{/bin/sh}}@example.com",
		"a b@example.com",
		"@@lsearch;/etc/passwd",
		"a@evil.example",
		"a@example.com.evil.example",
		"*@*.example.com",
		"+list@example.com",
	};
	g_autoptr(ExmMailNode) n = exm_mail_node_new();
	const ExmMailLimits bad_limits[] = { { .messages_per_hour = -1 },
					     { .auth_fail_window = 59 },
					     { .messages_per_hour_ceiling = 10000001 } };

	n->domain = g_strdup("example.com");
	g_assert_true(exm_mail_node_add_account(n, "bob", HASH_A, TRUE, NULL));
	for (guint i = 0; i < G_N_ELEMENTS(bad_senders); i++) {
		const gchar *one[] = { bad_senders[i], NULL };
		g_autoptr(GError) error = NULL;

		g_assert_false(exm_mail_node_set_account_policy(n, "bob", 0, 0, one, &error));
		g_assert_true(g_str_has_prefix(error->message, "accounts.bob.senders:"));
	}
	for (guint i = 0; i < G_N_ELEMENTS(bad_limits); i++) {
		g_autoptr(GError) error = NULL;

		g_assert_false(exm_mail_node_set_limits(n, &bad_limits[i], &error));
		g_assert_true(g_str_has_prefix(error->message, "limits."));
	}
	{
		g_autoptr(GError) error = NULL;

		g_assert_false(
			exm_mail_node_set_account_policy(n, "bob", 0, 10000001, NULL, &error));
		g_assert_true(g_str_has_prefix(error->message, "accounts.bob.recipients_per_day:"));
	}
}

static void
test_policy_json_round_trip(void)
{
	const gchar *text =
		"{\"uuid\":\"0b7e2f5c-3d4a-4e5f-8a6b-7c8d9e0f1a2b\",\"name\":\"n\","
		"\"domain\":\"example.com\",\"accounts\":{\"bob\":{\"password_hash\":\"" HASH_A
		"\",\"active\":true,\"messages_per_hour\":7,\"senders\":[\"bob@example.com\"]}},"
		"\"limits\":{\"auth_fail_window\":120}}";
	g_autoptr(JsonNode) in = json_from_string(text, NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmMailNode) n = exm_mail_node_from_json(in, &error);
	g_autoptr(JsonNode) out = NULL;
	g_autofree gchar *a = NULL;
	g_autofree gchar *b = NULL;
	g_autoptr(JsonNode) bad = NULL;
	g_autoptr(ExmMailNode) none = NULL;

	g_assert_no_error(error);
	out = exm_mail_node_to_json(n);
	a = exm_json_canonical(in);
	b = exm_json_canonical(out);
	g_assert_cmpstr(a, ==, b);
	bad = json_from_string("{\"uuid\":\"0b7e2f5c-3d4a-4e5f-8a6b-7c8d9e0f1a2b\",\"name\":"
			       "\"n\",\"domain\":\"example.com\",\"accounts\":{},\"limits\":"
			       "{\"auth_fail_limit\":\"10\"}}",
			       NULL);
	none = exm_mail_node_from_json(bad, &error);
	g_assert_null(none);
	g_assert_true(g_str_has_prefix(error->message, "limits.auth_fail_limit:"));
}

/* A SHA-crypt hash with its rounds: an `=` inside the word. */
#define HASH_ROUNDS                                                                                \
	"$6$rounds=6000$xNAW4QpoaCGQBXdf$6eKv4cyfwyXPWpgVWmTN7gVBU.8PXwV7cUi6UFBOR7N7."            \
	"FrYwzPnd3mVt"                                                                             \
	"wdiESqe0UKjcDj3NcZ9z/HcLokwH0"

/* Rotation and expiry on the policy line: the previous hash without its
 * scheme, its deadline and the expiry, in seconds; inactive accounts none. */
static void
test_policy_secrets(void)
{
	g_autoptr(ExmMailNode) n = exm_mail_node_new();
	g_autofree gchar *out = NULL;

	n->domain = g_strdup("example.com");
	g_assert_true(exm_mail_node_add_account(n, "rot", HASH_A, TRUE, NULL));
	g_assert_true(exm_mail_node_add_account(n, "exp", HASH_A, TRUE, NULL));
	g_assert_true(exm_mail_node_add_account(n, "off", HASH_A, FALSE, NULL));
	g_assert_true(exm_mail_node_set_account_secrets(
		n, "rot", "{SHA512-CRYPT}" HASH_A, 1800000000, 0, NULL));
	g_assert_true(exm_mail_node_set_account_secrets(n, "exp", NULL, 0, 1900000000, NULL));
	g_assert_true(exm_mail_node_add_account(n, "rnd", HASH_A, TRUE, NULL));
	g_assert_true(
		exm_mail_node_set_account_secrets(n, "rnd", HASH_ROUNDS, 1800000001, 0, NULL));
	g_assert_true(exm_mail_node_set_account_secrets(n, "off", HASH_A, 1800000000, 5, NULL));
	out = exm_mail_policy_render(n);
	g_assert_cmpstr(out,
			==,
			"# exordos_mail abuse controls, written by the mail agent "
			"(docs/abuse-controls.md)\n"
			".instance: mph=100 rpd=1000 ceiling=1000 authfail=10 authwindow=900\n"
			"exp@example.com: expires=1900000000\n"
			"rnd@example.com: prev=" HASH_ROUNDS " prevuntil=1800000001\n"
			"rot@example.com: prev=" HASH_A " prevuntil=1800000000\n");
}

/* Every bad rotation value is refused, naming its field; nothing is set. */
static void
test_policy_secrets_refused(void)
{
	static const struct {
		const gchar *hash;
		gint64 until, expires;
		const gchar *message;
	} bad[] = {
		{ HASH_A, 0, 0, "accounts.bob.previous_password_hash, previous_until: set both" },
		{ NULL, 1800000000, 0, "accounts.bob.previous_password_hash, previous_until" },
		{ "$6$x$a b\n.instance: authfail=1000",
		  1800000000,
		  0,
		  "accounts.bob.previous_password_hash:" },
		{ "prev=x", 1800000000, 0, "accounts.bob.previous_password_hash:" },
		{ "\"" HASH_A, 1800000000, 0, "accounts.bob.previous_password_hash:" },
		{ "$6$rounds=999999999$a$abc",
		  1800000000,
		  0,
		  "accounts.bob.previous_password_hash:" },
		{ HASH_A, -5, 0, "accounts.bob.previous_until:" },
		{ HASH_A, EXM_MAIL_EPOCH_MAX + 1, 0, "accounts.bob.previous_until:" },
		{ NULL, 0, -1, "accounts.bob.expires_at:" },
	};
	g_autoptr(ExmMailNode) n = exm_mail_node_new();
	const ExmMailNodeAccount *a;

	n->domain = g_strdup("example.com");
	g_assert_true(exm_mail_node_add_account(n, "bob", HASH_A, TRUE, NULL));
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;

		g_assert_false(exm_mail_node_set_account_secrets(
			n, "bob", bad[i].hash, bad[i].until, bad[i].expires, &error));
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
		if (!g_str_has_prefix(error->message, bad[i].message))
			g_error("%u: %s", i, error->message);
	}
	a = g_ptr_array_index(n->accounts, 0);
	g_assert_null(a->previous_hash);
	g_assert_cmpint(a->previous_until, ==, 0);
	g_assert_cmpint(a->expires_at, ==, 0);
}

/* The payload members round-trip; a bad one names its path. */
static void
test_policy_secrets_json(void)
{
	const gchar *text =
		"{\"uuid\":\"0b7e2f5c-3d4a-4e5f-8a6b-7c8d9e0f1a2b\",\"name\":\"n\","
		"\"domain\":\"example.com\",\"accounts\":{\"bob\":{\"password_hash\":\"" HASH_A
		"\",\"active\":true,\"previous_password_hash\":\"" HASH_A
		"\",\"previous_until\":1800000000,\"expires_at\":1900000000}}}";
	g_autoptr(JsonNode) in = json_from_string(text, NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmMailNode) n = exm_mail_node_from_json(in, &error);
	g_autoptr(JsonNode) out = NULL;
	g_autoptr(JsonNode) bad = NULL;
	g_autoptr(ExmMailNode) none = NULL;
	g_autofree gchar *a = NULL;
	g_autofree gchar *b = NULL;

	g_assert_no_error(error);
	out = exm_mail_node_to_json(n);
	a = exm_json_canonical(in);
	b = exm_json_canonical(out);
	g_assert_cmpstr(a, ==, b);
	bad = json_from_string("{\"uuid\":\"0b7e2f5c-3d4a-4e5f-8a6b-7c8d9e0f1a2b\",\"name\":"
			       "\"n\",\"domain\":\"example.com\",\"accounts\":{\"bob\":{"
			       "\"password_hash\":\"" HASH_A "\",\"previous_password_hash\":7}}}",
			       NULL);
	none = exm_mail_node_from_json(bad, &error);
	g_assert_null(none);
	g_assert_true(g_str_has_prefix(error->message, "accounts.bob.previous_password_hash:"));
}

/* A tenant's certificate (docs/tls.md §3): `tls_custom` {chain, key}
 * round-trips; a malformed one names its path and never its content; the
 * sizes are bounded; chain and key come together. */
static void
test_tls_custom_json(void)
{
	static const struct {
		const gchar *member, *prefix;
	} bad[] = {
		{ "\"x\"", "tls_custom: must be an object" },
		{ "{\"chain\":\"C\"}", "tls_custom: must be an object" },
		{ "{\"chain\":\"C\",\"key\":\"SECRETK\",\"x\":1}",
		  "tls_custom: must be an object" },
		{ "{\"chain\":1,\"key\":\"SECRETK\"}", "tls_custom.chain: must be a string" },
		{ "{\"chain\":\"C\",\"x\":\"SECRETK\"}", "tls_custom.key: is required" },
		{ "{\"chain\":\"\",\"key\":\"SECRETK\"}", "tls_custom.chain: must be 1 to" },
		{ "{\"chain\":\"C\",\"key\":\"\"}", "tls_custom.key: must be 1 to" },
	};
	const gchar *head = "{\"uuid\":\"0b7e2f5c-3d4a-4e5f-8a6b-7c8d9e0f1a2b\",\"name\":\"n\","
			    "\"domain\":\"example.com\",\"accounts\":{},\"tls_custom\":";
	g_autofree gchar *good = g_strconcat(head, "{\"chain\":\"C\\n\",\"key\":\"K\\n\"}}", NULL);
	g_autoptr(JsonNode) in = json_from_string(good, NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmMailNode) n = exm_mail_node_from_json(in, &error);
	g_autoptr(JsonNode) out = NULL;
	g_autofree gchar *a = NULL;
	g_autofree gchar *b = NULL;
	g_autofree gchar *huge = g_strnfill(65537, 'A');

	g_assert_no_error(error);
	g_assert_cmpstr(n->tls_custom_chain, ==, "C\n");
	g_assert_cmpstr(n->tls_custom_key, ==, "K\n");
	out = exm_mail_node_to_json(n);
	a = exm_json_canonical(in);
	b = exm_json_canonical(out);
	g_assert_cmpstr(a, ==, b);
	g_assert_false(exm_mail_node_set_tls_custom(n, "C", NULL, &error));
	g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
	g_clear_error(&error);
	g_assert_false(exm_mail_node_set_tls_custom(n, huge, "K", &error));
	g_assert_true(g_str_has_prefix(error->message, "tls_custom.chain: must be 1 to"));
	g_clear_error(&error);
	g_assert_true(exm_mail_node_set_tls_custom(n, NULL, NULL, &error));
	g_assert_null(n->tls_custom_key);
	g_clear_pointer(&out, json_node_unref);
	out = exm_mail_node_to_json(n);
	g_assert_false(json_object_has_member(json_node_get_object(out), "tls_custom"));
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree gchar *t = g_strconcat(head, bad[i].member, "}", NULL);
		g_autoptr(JsonNode) j = json_from_string(t, NULL);
		g_autoptr(GError) e = NULL;
		g_autoptr(ExmMailNode) none = exm_mail_node_from_json(j, &e);

		g_assert_null(none);
		g_test_message("%s -> %s", t, e->message);
		g_assert_true(g_str_has_prefix(e->message, bad[i].prefix));
		g_assert_null(strstr(e->message, "SECRETK"));
	}
}

/* Every malformed action or out-of-range threshold names its path. */
static void
breaker_json_refused(void)
{
	static const struct {
		const gchar *acc, *limits, *prefix;
	} bad[] = {
		{ ",\"breaker_action\":{\"op\":\"freeze\",\"token\":\"9e1b7c3a-5d2f-4e8b-a6c4-"
		  "1f0e9d8c7b6a\"}",
		  "",
		  "accounts.bob.breaker_action:" },
		{ ",\"breaker_action\":{\"op\":\"release\"}", "", "accounts.bob.breaker_action:" },
		{ ",\"breaker_action\":{\"op\":\"release\",\"token\":\"x\"}",
		  "",
		  "accounts.bob.breaker_action:" },
		{ ",\"breaker_action\":{\"op\":\"release\",\"token\":\"9e1b7c3a-5d2f-4e8b-a6c4-"
		  "1f0e9d8c7b6a\",\"x\":1}",
		  "",
		  "accounts.bob.breaker_action:" },
		{ ",\"breaker_action\":\"release\"", "", "accounts.bob.breaker_action:" },
		{ "",
		  ",\"limits\":{\"breaker_bounce_percent\":101}",
		  "limits.breaker_bounce_percent:" },
		{ "",
		  ",\"limits\":{\"breaker_new_recipients_per_day\":1000001}",
		  "limits.breaker_new_recipients_per_day:" },
		{ "", ",\"limits\":{\"breaker_bounce_min\":-1}", "limits.breaker_bounce_min:" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree gchar *t =
			g_strconcat("{\"uuid\":\"0b7e2f5c-3d4a-4e5f-8a6b-7c8d9e0f1a2b\","
				    "\"name\":\"n\",\"domain\":\"example.com\","
				    "\"accounts\":{\"bob\":{\"password_hash\":\"" HASH_A "\"",
				    bad[i].acc,
				    "}}",
				    bad[i].limits,
				    "}",
				    NULL);
		g_autoptr(JsonNode) j = json_from_string(t, NULL);
		g_autoptr(GError) e = NULL;
		g_autoptr(ExmMailNode) none = NULL;

		g_assert_nonnull(j);
		none = exm_mail_node_from_json(j, &e);
		g_assert_null(none);
		g_assert_nonnull(e);
		g_test_message("%s -> %s", t, e->message);
		g_assert_true(g_str_has_prefix(e->message, bad[i].prefix));
	}
}

/* The breaker's thresholds and pending action round-trip. */
static void
test_breaker_json(void)
{
	const gchar *text =
		"{\"uuid\":\"0b7e2f5c-3d4a-4e5f-8a6b-7c8d9e0f1a2b\",\"name\":\"n\",\"domain\":"
		"\"example.com\",\"accounts\":{\"bob\":{\"password_hash\":\"" HASH_A
		"\",\"active\":true,\"breaker_action\":{\"op\":\"discard\",\"token\":"
		"\"9e1b7c3a-5d2f-4e8b-a6c4-1f0e9d8c7b6a\"}}},\"limits\":{"
		"\"breaker_new_recipients_per_day\":3,\"breaker_bounce_percent\":100,"
		"\"breaker_bounce_min\":1}}";
	g_autoptr(JsonNode) in = json_from_string(text, NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmMailNode) n = exm_mail_node_from_json(in, &error);
	g_autoptr(JsonNode) out = NULL;
	g_autofree gchar *a = NULL;
	g_autofree gchar *b = NULL;
	const ExmMailNodeAccount *acc;

	g_assert_no_error(error);
	acc = g_ptr_array_index(n->accounts, 0);
	g_assert_cmpint(acc->breaker_op, ==, EXM_MAIL_BREAKER_DISCARD);
	g_assert_cmpstr(acc->breaker_token, ==, "9e1b7c3a-5d2f-4e8b-a6c4-1f0e9d8c7b6a");
	g_assert_cmpint(n->limits.breaker_new_recipients_per_day, ==, 3);
	g_assert_cmpint(n->limits.breaker_bounce_percent, ==, 100);
	g_assert_cmpint(n->limits.breaker_bounce_min, ==, 1);
	out = exm_mail_node_to_json(n);
	a = exm_json_canonical(in);
	b = exm_json_canonical(out);
	g_assert_cmpstr(a, ==, b);
	breaker_json_refused();
	/* no action: no member, so an idle node's value is unchanged */
	g_assert_false(exm_mail_node_set_account_breaker(
		n, "bob", EXM_MAIL_BREAKER_NONE, "9e1b7c3a-5d2f-4e8b-a6c4-1f0e9d8c7b6a", &error));
	g_clear_error(&error);
	g_assert_true(
		exm_mail_node_set_account_breaker(n, "bob", EXM_MAIL_BREAKER_NONE, NULL, &error));
	g_assert_null(acc->breaker_token);
	json_node_unref(out);
	out = exm_mail_node_to_json(n);
	g_assert_false(json_object_has_member(
		json_object_get_object_member(
			json_object_get_object_member(json_node_get_object(out), "accounts"),
			"bob"),
		"breaker_action"));
}

/* `sandbox: true` round-trips; false is left out; a non-boolean names its path. */
static void
test_sandbox_json(void)
{
	const gchar *text =
		"{\"uuid\":\"0b7e2f5c-3d4a-4e5f-8a6b-7c8d9e0f1a2b\",\"name\":\"n\",\"domain\":"
		"\"example.com\",\"accounts\":{\"bob\":{\"password_hash\":\"" HASH_A
		"\",\"active\":true,\"sandbox\":true},\"eve\":{\"password_hash\":\"" HASH_A
		"\",\"active\":true}}}";
	g_autoptr(JsonNode) in = json_from_string(text, NULL);
	g_autoptr(JsonNode) bad = json_from_string(
		"{\"uuid\":\"0b7e2f5c-3d4a-4e5f-8a6b-7c8d9e0f1a2b\",\"name\":\"n\",\"domain\":"
		"\"example.com\",\"accounts\":{\"bob\":{\"password_hash\":\"" HASH_A
		"\",\"sandbox\":\"yes\"}}}",
		NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmMailNode) n = exm_mail_node_from_json(in, &error);
	g_autoptr(ExmMailNode) none = NULL;
	g_autoptr(JsonNode) out = NULL;
	g_autofree gchar *a = NULL;
	g_autofree gchar *b = NULL;

	g_assert_no_error(error);
	g_assert_true(((ExmMailNodeAccount *)g_ptr_array_index(n->accounts, 0))->sandbox);
	g_assert_false(((ExmMailNodeAccount *)g_ptr_array_index(n->accounts, 1))->sandbox);
	out = exm_mail_node_to_json(n);
	a = exm_json_canonical(in);
	b = exm_json_canonical(out);
	g_assert_cmpstr(a, ==, b);
	none = exm_mail_node_from_json(bad, &error);
	g_assert_null(none);
	g_assert_cmpstr(error->message, ==, "accounts.bob.sandbox: must be true or false");
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/mail/files/upstream/strip-prefix", test_upstream_strip_prefix);
	g_test_add_func("/mail/files/upstream/passwd", test_upstream_passwd);
	g_test_add_func("/mail/files/passwd/render-order", test_passwd_render_order);
	g_test_add_func("/mail/files/upstream/dkim-txt", test_upstream_dkim_txt);
	g_test_add_func("/mail/files/passwd/render-exact", test_passwd_render_exact);
	g_test_add_func("/mail/files/passwd/render-all-inactive", test_passwd_render_all_inactive);
	g_test_add_func("/mail/files/passwd/render-defensive", test_passwd_render_defensive);
	g_test_add_func("/mail/files/passwd/render-cdb", test_passwd_render_cdb);
	g_test_add_func("/mail/files/passwd/render-pieces", test_passwd_render_pieces);
	g_test_add_func("/mail/files/passwd/add-account-refuses-injection",
			test_passwd_add_account_refuses_injection);
	g_test_add_func("/mail/files/passwd/parse", test_passwd_parse);
	g_test_add_func("/mail/files/passwd/parse-edge", test_passwd_parse_edge);
	g_test_add_func("/mail/files/passwd/round-trip", test_passwd_round_trip);
	g_test_add_func("/mail/files/policy/render-exact", test_policy_render_exact);
	g_test_add_func("/mail/files/policy/refuses-injection", test_policy_refuses_injection);
	g_test_add_func("/mail/files/policy/json-round-trip", test_policy_json_round_trip);
	g_test_add_func("/mail/files/policy/secrets", test_policy_secrets);
	g_test_add_func("/mail/files/policy/secrets-refused", test_policy_secrets_refused);
	g_test_add_func("/mail/files/policy/secrets-json", test_policy_secrets_json);
	g_test_add_func("/mail/files/policy/breaker-json", test_breaker_json);
	g_test_add_func("/mail/files/policy/held", test_policy_held);
	g_test_add_func("/mail/files/policy/sandbox-json", test_sandbox_json);
	g_test_add_func("/mail/files/env/render", test_env_render);
	g_test_add_func("/mail/files/env/parse", test_env_parse);
	g_test_add_func("/mail/files/env/round-trip", test_env_round_trip);
	g_test_add_func("/mail/files/env/messages", test_env_messages);
	g_test_add_func("/mail/files/dkim/record-data", test_dkim_record_data);
	g_test_add_func("/mail/files/dkim/split", test_dkim_split);
	g_test_add_func("/mail/files/dkim/txt-render-exact", test_dkim_txt_render_exact);
	g_test_add_func("/mail/files/dkim/txt-round-trip", test_dkim_txt_round_trip);
	g_test_add_func("/mail/files/dkim/python-reads-key", test_dkim_python_reads_key);
	g_test_add_func("/mail/files/dkim/txt-parse-edge", test_dkim_txt_parse_edge);
	g_test_add_func("/mail/files/dns/records", test_dns_records);
	g_test_add_func("/mail/files/dns/zone-exact", test_dns_zone_exact);
	g_test_add_func("/mail/files/dns/without-dkim-or-ips", test_dns_without_dkim_or_ips);
	g_test_add_func("/mail/files/dns/zone-long-key", test_dns_zone_long_key);
	g_test_add_func("/mail/files/dns/zone-loads-in-dnspython",
			test_dns_zone_loads_in_dnspython);
	g_test_add_func("/mail/files/dns/hostile", test_dns_hostile);
	g_test_add_func("/mail/files/node/tls-custom", test_tls_custom_json);
	return g_test_run();
}
