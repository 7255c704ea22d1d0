/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail REST API through the plugin ABI, on a real PostgreSQL: accounts
 * nested below their instance (docs/rest-conventions.md, docs/mail.md §6).
 */
#include <string.h>

#include "exm-test.h"
#include "test-plugin-fixture.h"

/* ------------------------------------------------------------------ accounts */

static gchar *
instance_updated_at(ExmFixture *f, const gchar *id)
{
	g_autofree gchar *sql = g_strdup_printf(
		"SELECT updated_at::text FROM mail_instances WHERE uuid = '%s'", id);
	return exm_fixture_scalar(f, sql);
}

/* Re-sending the same plaintext keeps the stored hash (no new salt, no
 * change, no bump); another password replaces it. */
static void
test_accounts_password_update(ExmFixture *f, const gchar *coll)
{
	const gchar *sql = "SELECT password_hash || ' ' || updated_at::text FROM mail_accounts "
			   "WHERE username = 'carol'";
	g_autofree gchar *id = exm_fixture_scalar(
		f, "SELECT uuid::text FROM mail_accounts WHERE username = 'carol'");
	g_autofree gchar *path = g_strconcat(coll, id, NULL);
	g_autofree gchar *before = exm_fixture_scalar(f, sql);
	g_autofree gchar *same = NULL;
	g_autofree gchar *changed = NULL;
	g_autoptr(ExmReply) r = NULL;

	r = exm_fixture_call(
		f, NULL, &exm_who_owner1, "PUT", path, NULL, "{\"password\":\"s3cret-plain\"}");
	exm_assert_status(r, 200);
	g_clear_pointer(&r, exm_reply_free);
	same = exm_fixture_scalar(f, sql);
	g_assert_cmpstr(same, ==, before);
	r = exm_fixture_call(
		f, NULL, &exm_who_owner1, "PUT", path, NULL, "{\"password\":\"an0ther-plain\"}");
	exm_assert_status(r, 200);
	g_assert_null(strstr(r->body, "an0ther"));
	changed = exm_fixture_scalar(f, sql);
	g_assert_cmpstr(changed, !=, before);
	g_assert_true(g_str_has_prefix(changed, "$y$"));
	g_assert_true(exm_fixture_logs_lack(f, "an0ther"));
}

/* Per-test state of the account tests: two instances of project P1. */
typedef struct {
	ExmFixture *f;
	gchar *i1;
	gchar *i2;
	gchar *coll; /* accounts of i1 */
	gchar *iuri; /* URI of i1 */
	gchar *acc;  /* alice on i1, once seeded */
	gchar *apath;
} AccountsFixture;

static void
accounts_fixture_setup(AccountsFixture *a, gconstpointer data)
{
	g_autofree gchar *v1 = NULL;

	a->f = exm_fixture_new();
	if (a->f == NULL)
		return;
	v1 = exm_fixture_version(a->f, "exim4_1");
	a->i1 = exm_fixture_instance(a->f, &exm_who_owner1, NULL, v1, "m1");
	a->i2 = exm_fixture_instance(a->f, &exm_who_owner1, NULL, v1, "m2");
	a->coll = exm_fixture_accounts_path(a->i1);
	a->iuri = g_strdup_printf("/v1/types/mail/instances/%s", a->i1);
}

static void
accounts_fixture_teardown(AccountsFixture *a, gconstpointer data)
{
	if (a->f != NULL)
		g_assert_true(exm_fixture_logs_lack(a->f, "$6$"));
	exm_fixture_free(a->f);
	g_free(a->i1);
	g_free(a->i2);
	g_free(a->coll);
	g_free(a->iuri);
	g_free(a->acc);
	g_free(a->apath);
}

/* The seed README's request, verbatim: alice on i1. */
static ExmReply *
accounts_seed(AccountsFixture *a)
{
	g_autofree gchar *body =
		g_strdup_printf("{\n    \"username\": \"alice\",\n    \"password_hash\": \"%s\",\n"
				"    \"project_id\": \"4d657461-0000-0000-0000-000000000002\",\n"
				"    \"instance\": \"/v1/types/mail/instances/%s\"\n  }",
				EXM_HASH6,
				a->i1);
	ExmReply *r = exm_fixture_call(a->f, NULL, &exm_who_owner1, "POST", a->coll, NULL, body);

	exm_assert_status(r, 201);
	a->acc = g_strdup(exm_reply_str(r, "uuid"));
	a->apath = g_strdup_printf("instances/%s/accounts/%s", a->i1, a->acc);
	return r;
}

static void
test_accounts_create(AccountsFixture *a, gconstpointer data)
{
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *loc = NULL;
	g_autoptr(ExmReply) r = NULL;

	if (a->f == NULL)
		return;
	before = instance_updated_at(a->f, a->i1);
	r = accounts_seed(a);
	loc = g_strdup_printf("http://127.0.0.1:8080/v1/types/mail/%s", a->apath);
	g_assert_cmpstr(exm_reply_header(r, "Location"), ==, loc);
	g_assert_cmpstr(exm_reply_str(r, "username"), ==, "alice");
	g_assert_cmpstr(exm_reply_str(r, "instance"), ==, a->iuri);
	g_assert_cmpstr(exm_reply_str(r, "project_id"), ==, EXM_P1);
	g_assert_true(json_object_get_boolean_member(json_node_get_object(r->json), "active"));
	g_assert_false(exm_reply_has(r, "password_hash"));
	g_assert_false(exm_reply_has(r, "password"));
	g_assert_null(strstr(r->body, "$6$"));
	after = instance_updated_at(a->f, a->i1);
	g_assert_cmpstr(after, >, before);
}

/* Usernames are case-insensitive per instance, and only per instance. */
static void
test_accounts_case(AccountsFixture *a, gconstpointer data)
{
	g_autofree gchar *body =
		g_strdup_printf("{\"username\":\"Alice\",\"password_hash\":\"%s\"}", EXM_HASH6);
	g_autofree gchar *coll2 = NULL;
	g_autoptr(ExmReply) r = NULL;
	g_autoptr(ExmReply) r2 = NULL;

	if (a->f == NULL)
		return;
	exm_reply_free(accounts_seed(a));
	r = exm_fixture_call(a->f, NULL, &exm_who_owner1, "POST", a->coll, NULL, body);
	exm_assert_error(r, 409, "ConflictRecords");
	coll2 = exm_fixture_accounts_path(a->i2);
	r2 = exm_fixture_call(a->f, NULL, &exm_who_owner1, "POST", coll2, NULL, body);
	exm_assert_status(r2, 201);
	g_assert_cmpstr(exm_reply_str(r2, "username"), ==, "alice");
	g_assert_cmpint(exm_fixture_count(a->f, "mail_accounts"), ==, 2);
}

typedef struct {
	const ExmWho *who;
	const gchar *body; /* @HASH@ = EXM_HASH6, @OTHER@ = the other instance */
	guint status;
	const gchar *type;
} AccountReject;

static void
test_accounts_rejects(AccountsFixture *a, gconstpointer data)
{
	const AccountReject cases[] = {
		/* the instance of the URL wins: another one in the body is a 400 */
		{ &exm_who_owner1,
		  "{\"username\":\"bob\",\"password_hash\":\"@HASH@\",\"instance\":"
		  "\"/v1/types/mail/instances/@OTHER@\"}",
		  400,
		  "ValidationError" },
		/* project of the instance only (an operator could name another) */
		{ &exm_who_admin,
		  "{\"username\":\"bob\",\"password_hash\":\"@HASH@\",\"project_id\":\"" EXM_P2
		  "\"}",
		  400,
		  "ValidationError" },
		/* both secrets, neither, a bad hash, a bad username */
		{ &exm_who_owner1,
		  "{\"username\":\"bob\",\"password_hash\":\"@HASH@\",\"password\":\"pw\"}",
		  400,
		  "ValidationError" },
		{ &exm_who_owner1, "{\"username\":\"bob\"}", 400, "PropertyRequired" },
		{ &exm_who_owner1,
		  "{\"username\":\"bob\",\"password_hash\":\"x\"}",
		  400,
		  "ValidationError" },
		{ &exm_who_owner1,
		  "{\"username\":\"bad name\",\"password\":\"s3cret-plain\"}",
		  400,
		  "ValidationError" },
	};

	if (a->f == NULL)
		return;
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *body = NULL;
		g_autoptr(ExmReply) r = NULL;
		GString *b = g_string_new(cases[i].body);

		g_string_replace(b, "@HASH@", EXM_HASH6, 0);
		g_string_replace(b, "@OTHER@", a->i2, 0);
		body = g_string_free(b, FALSE);
		r = exm_fixture_call(a->f, NULL, cases[i].who, "POST", a->coll, NULL, body);
		exm_assert_error(r, cases[i].status, cases[i].type);
	}
	g_assert_cmpint(exm_fixture_count(a->f, "mail_accounts"), ==, 0);
	g_assert_true(exm_fixture_logs_lack(a->f, "s3cret"));
}

/* Hashes the grammar takes but whose work factor would make every AUTH cost
 * minutes: refused on create and update with a 400 naming the ceiling. */
#define BF_TAIL	 "abcdefghijklmnopqrstuvwxyz01236"
#define C43_TAIL "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopD"
#define SHA_TAIL                                                                                   \
	"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456."

static void
test_accounts_dear_hash(AccountsFixture *a, gconstpointer data)
{
	static const struct {
		const gchar *hash;
		const gchar *ceiling;
	} dear[] = {
		{ "$2b$31$abcdefghijklmnopqrstuu" BF_TAIL, "ceiling of 14" },
		{ "{BLF-CRYPT}$2y$15$abcdefghijklmnopqrstuu" BF_TAIL, "ceiling of 14" },
		{ "$6$rounds=999999999$a$" SHA_TAIL, "ceiling of 1000000 rounds" },
		{ "$5$rounds=1000001$a$" C43_TAIL, "ceiling of 1000000 rounds" },
		{ "$y$jFT$abcd$" C43_TAIL, "ceiling of 256 MiB" },
		{ "$y$j9T.1$abcd$" C43_TAIL, "ceiling of 4" },
		{ "$7$GU..../....abcd$" C43_TAIL, "ceiling of 256 MiB" },
	};
	g_autofree gchar *path = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autoptr(ExmReply) ok = NULL;

	if (a->f == NULL)
		return;
	for (guint i = 0; i < G_N_ELEMENTS(dear); i++) {
		g_autofree gchar *body = g_strdup_printf(
			"{\"username\":\"bob\",\"password_hash\":\"%s\"}", dear[i].hash);
		g_autoptr(ExmReply) r =
			exm_fixture_call(a->f, NULL, &exm_who_owner1, "POST", a->coll, NULL, body);

		exm_assert_error(r, 400, "ValidationError");
		if (strstr(exm_reply_str(r, "message"), dear[i].ceiling) == NULL)
			g_error("%s: %s", dear[i].hash, exm_reply_str(r, "message"));
	}
	g_assert_cmpint(exm_fixture_count(a->f, "mail_accounts"), ==, 0);
	/* at the ceiling is fine */
	ok = exm_fixture_call(
		a->f,
		NULL,
		&exm_who_owner1,
		"POST",
		a->coll,
		NULL,
		"{\"username\":\"bob\",\"password_hash\":\"$2b$14$abcdefghijklmnopqrstuu" BF_TAIL
		"\"}");
	exm_assert_status(ok, 201);
	path = g_strconcat(a->coll, exm_reply_str(ok, "uuid"), NULL);
	before = exm_fixture_scalar(a->f, "SELECT password_hash FROM mail_accounts");
	for (guint i = 0; i < G_N_ELEMENTS(dear); i++) {
		g_autofree gchar *body =
			g_strdup_printf("{\"password_hash\":\"%s\"}", dear[i].hash);
		g_autoptr(ExmReply) r =
			exm_fixture_call(a->f, NULL, &exm_who_owner1, "PUT", path, NULL, body);

		exm_assert_error(r, 400, "ValidationError");
		g_assert_nonnull(strstr(exm_reply_str(r, "message"), dear[i].ceiling));
	}
	after = exm_fixture_scalar(a->f, "SELECT password_hash FROM mail_accounts");
	g_assert_cmpstr(after, ==, before);
}

/* The write-only password is hashed (yescrypt), never stored or echoed; a
 * hash is no filter and no sort key. */
static void
test_accounts_password(AccountsFixture *a, gconstpointer data)
{
	g_autofree gchar *q = g_strdup_printf("password_hash=%s", EXM_HASH6);
	g_autofree gchar *h = NULL;
	g_autoptr(ExmReply) r = NULL;
	g_autoptr(ExmReply) f1 = NULL;
	g_autoptr(ExmReply) f2 = NULL;

	if (a->f == NULL)
		return;
	r = exm_fixture_call(a->f,
			     NULL,
			     &exm_who_owner1,
			     "POST",
			     a->coll,
			     NULL,
			     "{\"username\":\"carol\",\"password\":\"s3cret-plain\"}");
	exm_assert_status(r, 201);
	g_assert_null(strstr(r->body, "s3cret"));
	g_assert_false(exm_reply_has(r, "password_hash"));
	h = exm_fixture_scalar(a->f,
			       "SELECT password_hash FROM mail_accounts WHERE username = 'carol'");
	g_assert_true(g_str_has_prefix(h, "$y$"));
	test_accounts_password_update(a->f, a->coll);
	g_assert_true(exm_fixture_logs_lack(a->f, "s3cret"));

	f1 = exm_fixture_call(a->f, NULL, &exm_who_owner1, "GET", a->coll, q, NULL);
	exm_assert_error(f1, 400, "ValidationFilterIncompatibleError");
	f2 = exm_fixture_call(
		a->f, NULL, &exm_who_owner1, "GET", a->coll, "sort_key=password_hash", NULL);
	exm_assert_error(f2, 400, "ValidationError");
}

/* List and get never show the hash; another instance's URL finds nothing. */
static void
test_accounts_read(AccountsFixture *a, gconstpointer data)
{
	g_autofree gchar *wrong = NULL;
	g_autoptr(ExmReply) list = NULL;
	g_autoptr(ExmReply) one = NULL;
	g_autoptr(ExmReply) other = NULL;

	if (a->f == NULL)
		return;
	exm_reply_free(accounts_seed(a));
	list = exm_fixture_call(a->f, NULL, &exm_who_owner1, "GET", a->coll, NULL, NULL);
	exm_assert_status(list, 200);
	g_assert_cmpuint(exm_reply_len(list), ==, 1);
	g_assert_null(strstr(list->body, "password"));
	one = exm_fixture_call(a->f, NULL, &exm_who_owner1, "GET", a->apath, NULL, NULL);
	exm_assert_status(one, 200);
	g_assert_null(strstr(one->body, "password"));
	wrong = g_strdup_printf("instances/%s/accounts/%s", a->i2, a->acc);
	other = exm_fixture_call(a->f, NULL, &exm_who_owner1, "GET", wrong, NULL, NULL);
	exm_assert_error(other, 404, "RecordNotFound");
}

/* active and the hash change (and bump the instance); username and instance
 * are fixed. */
static void
test_accounts_update(AccountsFixture *a, gconstpointer data)
{
	g_autofree gchar *body =
		g_strdup_printf("{\"active\":false,\"password_hash\":\"%s\"}", EXM_HASH6B);
	g_autofree gchar *fixed = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autoptr(ExmReply) r = NULL;
	g_autoptr(ExmReply) r1 = NULL;
	g_autoptr(ExmReply) r2 = NULL;
	g_autoptr(ExmReply) r3 = NULL;

	if (a->f == NULL)
		return;
	exm_reply_free(accounts_seed(a));
	before = instance_updated_at(a->f, a->i1);
	r = exm_fixture_call(a->f, NULL, &exm_who_owner1, "PATCH", a->apath, NULL, body);
	exm_assert_status(r, 200);
	g_assert_false(json_object_get_boolean_member(json_node_get_object(r->json), "active"));
	g_assert_false(exm_reply_has(r, "password_hash"));
	after = instance_updated_at(a->f, a->i1);
	g_assert_cmpstr(after, >, before);
	r1 = exm_fixture_call(
		a->f, NULL, &exm_who_owner1, "PUT", a->apath, NULL, "{\"username\":\"x\"}");
	exm_assert_error(r1, 403, "FieldPermissionError");
	fixed = g_strdup_printf("{\"instance\":\"%s\"}", a->iuri);
	r2 = exm_fixture_call(a->f, NULL, &exm_who_owner1, "PUT", a->apath, NULL, fixed);
	exm_assert_error(r2, 403, "FieldPermissionError");
	r3 = exm_fixture_call(
		a->f, NULL, &exm_who_owner1, "PUT", a->apath, NULL, "{\"active\":\"no\"}");
	exm_assert_error(r3, 400, "ModelTypeError");
}

static void
test_accounts_delete(AccountsFixture *a, gconstpointer data)
{
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autoptr(ExmReply) r = NULL;
	g_autoptr(ExmReply) again = NULL;

	if (a->f == NULL)
		return;
	exm_reply_free(accounts_seed(a));
	before = instance_updated_at(a->f, a->i1);
	r = exm_fixture_call(a->f, NULL, &exm_who_owner1, "DELETE", a->apath, NULL, NULL);
	exm_assert_status(r, 204);
	after = instance_updated_at(a->f, a->i1);
	g_assert_cmpstr(after, >, before);
	again = exm_fixture_call(a->f, NULL, &exm_who_owner1, "DELETE", a->apath, NULL, NULL);
	exm_assert_error(again, 404, "RecordNotFound");
	g_assert_cmpint(exm_fixture_count(a->f, "mail_accounts"), ==, 0);
}

/* Abuse controls (docs/abuse-controls.md): limits and senders round-trip,
 * normalised; every bad value is a 400 naming its field, and nothing is written. */
static void
test_accounts_abuse(AccountsFixture *a, gconstpointer data)
{
	static const struct {
		const gchar *body;
		const gchar *field;
	} bad[] = {
		{ "\"messages_per_hour\":0", "messages_per_hour:" },
		{ "\"messages_per_hour\":1000001", "messages_per_hour:" },
		{ "\"recipients_per_day\":-5", "recipients_per_day:" },
		{ "\"senders\":[\"bob@evil.example\"]", "senders:" },
		{ "\"senders\":[\"bob@notexample.com\"]", "senders:" },
		{ "\"senders\":[\"^.*@example.com\"]", "senders:" },
		{ "\"senders\":[\"a b@example.com\"]", "senders:" },
		{ "\"senders\":[\"x@example.com\\n.instance: mph=1\"]", "senders:" },
		{ "\"senders\":[\"$auth1@example.com\"]", "senders:" },
	};
	g_autoptr(ExmReply) ok = NULL;
	JsonArray *senders;

	if (a->f == NULL)
		return;
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree gchar *body =
			g_strdup_printf("{\"username\":\"bob\",\"password_hash\":\"%s\",%s}",
					EXM_HASH6,
					bad[i].body);
		g_autoptr(ExmReply) r =
			exm_fixture_call(a->f, NULL, &exm_who_owner1, "POST", a->coll, NULL, body);

		exm_assert_error(r, 400, "ValidationError");
		if (!g_str_has_prefix(exm_reply_str(r, "message"), bad[i].field))
			g_error("%s: %s", bad[i].body, exm_reply_str(r, "message"));
	}
	g_assert_cmpint(exm_fixture_count(a->f, "mail_accounts"), ==, 0);
	{
		g_autofree gchar *body = g_strdup_printf(
			"{\"username\":\"bob\",\"password_hash\":\"%s\",\"messages_per_hour\":20,"
			"\"senders\":[\"*@News.Example.com\",\"Bob@example.com\",\"bob@example."
			"com\"]}",
			EXM_HASH6);
		ok = exm_fixture_call(a->f, NULL, &exm_who_owner1, "POST", a->coll, NULL, body);
	}
	exm_assert_status(ok, 201);
	g_assert_cmpint(
		json_object_get_int_member(json_node_get_object(ok->json), "messages_per_hour"),
		==,
		20);
	g_assert_true(
		!exm_reply_has(ok, "recipients_per_day") ||
		json_object_get_null_member(json_node_get_object(ok->json), "recipients_per_day"));
	senders = json_object_get_array_member(json_node_get_object(ok->json), "senders");
	g_assert_cmpuint(json_array_get_length(senders), ==, 2);
	g_assert_cmpstr(json_array_get_string_element(senders, 0), ==, "*@news.example.com");
	g_assert_cmpstr(json_array_get_string_element(senders, 1), ==, "bob@example.com");
	{
		/* null is stored as null, not as the empty list (the list writer
		 * made ARRAY() of no elements of it) */
		g_autofree gchar *path =
			g_strdup_printf("%s%s", a->coll, exm_reply_str(ok, "uuid"));
		g_autoptr(ExmReply) cleared = exm_fixture_call(
			a->f, NULL, &exm_who_owner1, "PATCH", path, NULL, "{\"senders\":null}");
		g_autofree gchar *stored =
			exm_fixture_scalar(a->f, "SELECT senders IS NULL FROM mail_accounts");

		exm_assert_status(cleared, 200);
		g_assert_false(exm_reply_has(cleared, "senders"));
		g_assert_cmpstr(stored, ==, "t");
	}
}

/* Instance limits: bounded, null is the default. */
static void
test_instances_abuse(AccountsFixture *a, gconstpointer data)
{
	static const gchar *const bad[] = {
		"{\"auth_fail_limit\":0}",
		"{\"auth_fail_window\":59}",
		"{\"messages_per_hour_ceiling\":0}",
		"{\"default_messages_per_hour\":2000000}",
		"{\"default_recipients_per_day\":0}",
	};
	g_autofree gchar *path = g_strdup_printf("instances/%s", a->i1);
	g_autoptr(ExmReply) ok = NULL;

	if (a->f == NULL)
		return;
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(ExmReply) r =
			exm_fixture_call(a->f, NULL, &exm_who_owner1, "PUT", path, NULL, bad[i]);
		g_autofree gchar *field = g_strndup(bad[i] + 2, strcspn(bad[i] + 2, "\""));

		exm_assert_error(r, 400, "ValidationError");
		g_assert_true(g_str_has_prefix(exm_reply_str(r, "message"), field));
	}
	ok = exm_fixture_call(a->f,
			      NULL,
			      &exm_who_owner1,
			      "PUT",
			      path,
			      NULL,
			      "{\"auth_fail_limit\":5,\"auth_fail_window\":600}");
	exm_assert_status(ok, 200);
	g_assert_cmpint(
		json_object_get_int_member(json_node_get_object(ok->json), "auth_fail_limit"),
		==,
		5);
}

/* ------------------------------------------------------------------ rotation */

/* POST …/actions/rotate/invoke with @body as @type (JSON when %NULL). */
static ExmReply *
rotate_as(AccountsFixture *a,
	  const ExmWho *who,
	  const gchar *query,
	  const gchar *body,
	  const gchar *type)
{
	g_autofree gchar *path = g_strdup_printf("%s/actions/rotate/invoke", a->apath);

	return exm_fixture_call_len(a->f,
				    NULL,
				    who,
				    "POST",
				    path,
				    query,
				    body,
				    body != NULL ? strlen(body) : 0,
				    type != NULL ? type : "application/json");
}

static ExmReply *
rotate(AccountsFixture *a, const ExmWho *who, const gchar *query, const gchar *body)
{
	return rotate_as(a, who, query, body, NULL);
}

static gchar *
account_secrets(AccountsFixture *a)
{
	g_autofree gchar *sql = g_strdup_printf(
		"SELECT left(password_hash, 3) || ' ' || coalesce(previous_password_hash, '-') || "
		"' ' || coalesce(round(EXTRACT(EPOCH FROM previous_password_valid_until - "
		"updated_at))::text, '-') FROM mail_accounts WHERE uuid = '%s'",
		a->acc);
	return exm_fixture_scalar(a->f, sql);
}

/* A rotation keeps the replaced secret for its window, answers the account
 * without any secret, moves the instance (so the builder runs) and leaves
 * nothing of the password in the logs. */
static void
test_accounts_rotate(AccountsFixture *a, gconstpointer data)
{
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *want = NULL;
	g_autofree gchar *secrets = NULL;
	g_autoptr(ExmReply) r = NULL;
	g_autoptr(ExmReply) again = NULL;
	g_autoptr(ExmReply) cut = NULL;
	g_autoptr(ExmReply) q = NULL;
	g_autoptr(ExmReply) url = NULL;

	if (a->f == NULL)
		return;
	exm_reply_free(accounts_seed(a));
	before = instance_updated_at(a->f, a->i1);
	r = rotate(a,
		   &exm_who_owner1,
		   NULL,
		   "{\"password\": \"n3w-rotated-secret\", \"overlap_seconds\": 3600}");
	exm_assert_status(r, 200);
	g_assert_cmpstr(exm_reply_str(r, "uuid"), ==, a->acc);
	g_assert_null(strstr(r->body, "password_hash"));
	g_assert_null(strstr(r->body, "n3w-rotated"));
	g_assert_nonnull(exm_reply_str(r, "previous_password_valid_until"));
	want = g_strdup_printf("$y$ %s 3600", EXM_HASH6);
	secrets = account_secrets(a);
	g_assert_cmpstr(secrets, ==, want);
	after = instance_updated_at(a->f, a->i1);
	g_assert_cmpstr(after, >, before);
	g_assert_true(exm_fixture_logs_lack(a->f, "n3w-rotated"));

	/* the current secret again is no rotation */
	again = rotate(a, &exm_who_owner1, NULL, "{\"password\": \"n3w-rotated-secret\"}");
	exm_assert_error(again, 400, "ValidationError");
	g_assert_true(
		g_str_has_prefix(exm_reply_str(again, "message"), "password: is the current"));

	/* a hash and no overlap: the replaced secret stops at once */
	{
		g_autofree gchar *body = g_strdup_printf(
			"{\"password_hash\": \"%s\", \"overlap_seconds\": 0}", EXM_HASH6B);
		cut = rotate(a, &exm_who_owner1, NULL, body);
	}
	exm_assert_status(cut, 200);
	g_free(secrets);
	secrets = account_secrets(a);
	g_assert_cmpstr(secrets, ==, "$6$ - -");
	g_assert_true(!exm_reply_has(cut, "previous_password_valid_until") ||
		      json_object_get_null_member(json_node_get_object(cut->json),
						  "previous_password_valid_until"));

	/* a secret in the URL is refused (it would reach access logs) */
	url = rotate(a, &exm_who_owner1, "password=url-secret", NULL);
	exm_assert_error(url, 400, "ValidationError");
	g_assert_true(g_str_has_prefix(exm_reply_str(url, "message"), "password: send it"));
	/* a form body carries the arguments as text; the default window is a day */
	q = rotate_as(a,
		      &exm_who_owner1,
		      NULL,
		      "password=qu3ry-secret",
		      "application/x-www-form-urlencoded");
	exm_assert_status(q, 200);
	g_free(secrets);
	secrets = account_secrets(a);
	g_free(want);
	want = g_strdup_printf("$y$ %s 86400", EXM_HASH6B);
	g_assert_cmpstr(secrets, ==, want);
	g_assert_true(exm_fixture_logs_lack(a->f, "qu3ry-secret"));
}

/* The fingerprint the node logs for @hash (exm_mail_crypt_fingerprint(),
 * written again here: the scheme stripped, 16 hex digits of the SHA-256). */
static gchar *
fingerprint(const gchar *hash)
{
	const gchar *end = hash[0] == '{' ? strchr(hash, '}') : NULL;
	gchar *hex =
		g_compute_checksum_for_string(G_CHECKSUM_SHA256, end != NULL ? end + 1 : hash, -1);

	hex[16] = '\0';
	return hex;
}

/* The account's hash (@previous: the replaced one) as stored. */
static gchar *
stored_hash(AccountsFixture *a, gboolean previous)
{
	g_autofree gchar *sql =
		g_strdup_printf("SELECT %s FROM mail_accounts WHERE uuid = '%s'",
				previous ? "previous_password_hash" : "password_hash",
				a->acc);
	return exm_fixture_scalar(a->f, sql);
}

/* The node's report: alice logged in with the secrets @fp1 at @t1 and @fp2 at @t2. */
static void
report_logins(AccountsFixture *a,
	      const gchar *fp1,
	      const gchar *t1,
	      const gchar *fp2,
	      const gchar *t2)
{
	g_autofree gchar *usage = g_strdup_printf(
		"{\"accounts\": {\"alice@example.com\": {\"accepted\": 0, "
		"\"delivered\": 0, \"deferred\": 0, \"bounced\": 0, \"held\": 0, "
		"\"last_login\": \"%s\", \"secrets\": {\"%s\": \"%s\"%s%s%s%s%s}}}, "
		"\"deliveries\": []}",
		t2 != NULL ? t2 : t1,
		fp1,
		t1,
		fp2 != NULL ? ", \"" : "",
		fp2 != NULL ? fp2 : "",
		fp2 != NULL ? "\": \"" : "",
		fp2 != NULL ? t2 : "",
		fp2 != NULL ? "\"" : "");
	g_autofree gchar *patch = exm_fixture_paas_tick(a->f, a->i1, "usage", usage, NULL);

	g_assert_nonnull(patch);
}

/* `password_last_login_at` and `previous_password_last_login_at` as the API
 * shows them, `-` for null. */
static gchar *
login_times(AccountsFixture *a)
{
	g_autoptr(ExmReply) r =
		exm_fixture_call(a->f, NULL, &exm_who_owner1, "GET", a->apath, NULL, NULL);
	const gchar *cur, *prev;

	exm_assert_status(r, 200);
	cur = exm_reply_str(r, "password_last_login_at");
	prev = exm_reply_str(r, "previous_password_last_login_at");
	return g_strdup_printf("%s %s", cur != NULL ? cur : "-", prev != NULL ? prev : "-");
}

/* When each live secret last logged in (docs/abuse-controls.md §5): the node
 * reports times by fingerprint, the builder finds each of the account's two
 * hashes (the SQL fingerprint equals the node's), a rotation moves the
 * current secret's time to the previous one and starts the new one unseen,
 * and a plain password change forgets both. */
static void
test_accounts_login_secrets(AccountsFixture *a, gconstpointer data)
{
	g_autofree gchar *h1 = NULL, *h2 = NULL, *fp1 = NULL, *fp2 = NULL, *t = NULL;

	if (a->f == NULL)
		return;
	exm_reply_free(accounts_seed(a));
	t = login_times(a);
	g_assert_cmpstr(t, ==, "- -");
	h1 = stored_hash(a, FALSE);
	fp1 = fingerprint(h1);
	report_logins(a, fp1, "2026-12-05T10:00:00.000000Z", NULL, NULL);
	g_free(t);
	t = login_times(a);
	g_assert_cmpstr(t, ==, "2026-12-05T10:00:00.000000Z -");

	exm_reply_free(rotate(a, &exm_who_owner1, NULL, "{\"password\": \"n3w-secret-2\"}"));
	g_free(t);
	t = login_times(a);
	g_assert_cmpstr(t, ==, "- 2026-12-05T10:00:00.000000Z");
	h2 = stored_hash(a, FALSE);
	fp2 = fingerprint(h2);
	g_assert_cmpstr(fp1, !=, fp2);
	/* both secrets in use; then only the new one (the old one's time stays) */
	report_logins(a, fp1, "2026-12-05T10:05:00.000000Z", fp2, "2026-12-05T10:06:00.000000Z");
	g_free(t);
	t = login_times(a);
	g_assert_cmpstr(t, ==, "2026-12-05T10:06:00.000000Z 2026-12-05T10:05:00.000000Z");
	report_logins(a, fp2, "2026-12-05T10:09:00.000000Z", NULL, NULL);
	g_free(t);
	t = login_times(a);
	g_assert_cmpstr(t, ==, "2026-12-05T10:09:00.000000Z 2026-12-05T10:05:00.000000Z");

	/* a plain change (no window) forgets both */
	exm_reply_free(rotate(a,
			      &exm_who_owner1,
			      NULL,
			      "{\"password\": \"n3w-secret-3\", \"overlap_seconds\": 0}"));
	g_free(t);
	t = login_times(a);
	g_assert_cmpstr(t, ==, "- -");
}

/* Bad arguments name what is wrong and change nothing; the action needs
 * `update` and the caller's project; the verb and the form are upstream's. */
static void
test_accounts_rotate_rejects(AccountsFixture *a, gconstpointer data)
{
	static const struct {
		const gchar *body;
		const gchar *type;
		const gchar *message;
	} bad[] = {
		{ "{}", "ValidationError", "password, password_hash: send one" },
		{ "{\"password\": \"x1\", \"password_hash\": \"" EXM_HASH6B "\"}",
		  "ValidationError",
		  "password, password_hash: send one" },
		{ "{\"password\": \"\"}", "ValidationError", "password: must be a non-empty" },
		{ "{\"password\": 5}", "ValidationError", "password: must be a non-empty" },
		{ "{\"password_hash\": \"nothash\"}", "ValidationError", "password_hash:" },
		{ "{\"password_hash\": \"$6$rounds=999999999$a$abc\"}",
		  "ValidationError",
		  "password_hash:" },
		{ "{\"password\": \"x1\", \"overlap_seconds\": -1}",
		  "ValidationError",
		  "overlap_seconds: must be an integer from 0" },
		{ "{\"password\": \"x1\", \"overlap_seconds\": 2592001}",
		  "ValidationError",
		  "overlap_seconds:" },
		{ "{\"password\": \"x1\", \"overlap_seconds\": 1.5}",
		  "ValidationError",
		  "overlap_seconds:" },
		{ "{\"password\": \"x1\", \"overlap_seconds\": \"12a\"}",
		  "ValidationError",
		  "overlap_seconds:" },
		{ "{\"password\": \"x1\", \"overlap\": 60}",
		  "ValidationError",
		  "rotate: unknown argument 'overlap'" },
		{ "[1]", "ParseBodyError", "the body is not a JSON object" },
	};
	g_autofree gchar *start = NULL;
	g_autofree gchar *end = NULL;
	g_autofree gchar *get_path = NULL;
	g_autofree gchar *post_plain = NULL;
	g_autoptr(ExmReply) ro = NULL;
	g_autoptr(ExmReply) other = NULL;
	g_autoptr(ExmReply) get = NULL;
	g_autoptr(ExmReply) plain = NULL;

	if (a->f == NULL)
		return;
	exm_reply_free(accounts_seed(a));
	start = account_secrets(a);
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(ExmReply) r = rotate(a, &exm_who_owner1, NULL, bad[i].body);
		g_autofree gchar *now = NULL;

		g_test_message("%s", bad[i].body);
		exm_assert_error(r, 400, bad[i].type);
		if (!g_str_has_prefix(exm_reply_str(r, "message"), bad[i].message))
			g_error("%s: %s", bad[i].body, exm_reply_str(r, "message"));
		now = account_secrets(a);
		g_assert_cmpstr(now, ==, start);
	}
	ro = rotate(a, &exm_who_readonly1, NULL, "{\"password\": \"x1\"}");
	exm_assert_error(ro, 403, "PolicyNotAuthorized");
	other = rotate(a, &exm_who_owner2, NULL, "{\"password\": \"x1\"}");
	g_assert_cmpuint(other->status, ==, 404);
	get_path = g_strdup_printf("%s/actions/rotate/invoke", a->apath);
	get = exm_fixture_call(a->f, NULL, &exm_who_owner1, "GET", get_path, NULL, NULL);
	exm_assert_error(get, 501, "NotImplementedError");
	post_plain = g_strdup_printf("%s/actions/rotate", a->apath);
	plain = exm_fixture_call(
		a->f, NULL, &exm_who_owner1, "POST", post_plain, NULL, "{\"password\": \"x1\"}");
	g_assert_cmpuint(plain->status, ==, 404);
	end = account_secrets(a);
	g_assert_cmpstr(end, ==, start);
}

/* expires_at: a timestamp or null, on create and update. */
static void
test_accounts_expiry(AccountsFixture *a, gconstpointer data)
{
	g_autoptr(ExmReply) set = NULL;
	g_autoptr(ExmReply) bad = NULL;
	g_autoptr(ExmReply) cleared = NULL;

	if (a->f == NULL)
		return;
	exm_reply_free(accounts_seed(a));
	set = exm_fixture_call(a->f,
			       NULL,
			       &exm_who_owner1,
			       "PUT",
			       a->apath,
			       NULL,
			       "{\"expires_at\": \"2031-02-03T04:05:06.000000Z\"}");
	exm_assert_status(set, 200);
	g_assert_cmpstr(exm_reply_str(set, "expires_at"), ==, "2031-02-03T04:05:06.000000Z");
	bad = exm_fixture_call(
		a->f, NULL, &exm_who_owner1, "PUT", a->apath, NULL, "{\"expires_at\": \"soon\"}");
	g_assert_cmpuint(bad->status, ==, 400);
	g_assert_nonnull(strstr(bad->body, "expires_at"));
	cleared = exm_fixture_call(
		a->f, NULL, &exm_who_owner1, "PUT", a->apath, NULL, "{\"expires_at\": null}");
	exm_assert_status(cleared, 200);
	g_assert_true(
		!exm_reply_has(cleared, "expires_at") ||
		json_object_get_null_member(json_node_get_object(cleared->json), "expires_at"));
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
#define ACCOUNTS_TEST(path, fn)                                                                    \
	g_test_add(path,                                                                           \
		   AccountsFixture,                                                                \
		   NULL,                                                                           \
		   accounts_fixture_setup,                                                         \
		   fn,                                                                             \
		   accounts_fixture_teardown)
	ACCOUNTS_TEST("/plugin/accounts/create", test_accounts_create);
	ACCOUNTS_TEST("/plugin/accounts/case", test_accounts_case);
	ACCOUNTS_TEST("/plugin/accounts/rejects", test_accounts_rejects);
	ACCOUNTS_TEST("/plugin/accounts/dear-hash", test_accounts_dear_hash);
	ACCOUNTS_TEST("/plugin/accounts/password", test_accounts_password);
	ACCOUNTS_TEST("/plugin/accounts/read", test_accounts_read);
	ACCOUNTS_TEST("/plugin/accounts/update", test_accounts_update);
	ACCOUNTS_TEST("/plugin/accounts/delete", test_accounts_delete);
	ACCOUNTS_TEST("/plugin/accounts/abuse-controls", test_accounts_abuse);
	ACCOUNTS_TEST("/plugin/instances/abuse-controls", test_instances_abuse);
	ACCOUNTS_TEST("/plugin/accounts/rotate", test_accounts_rotate);
	ACCOUNTS_TEST("/plugin/accounts/rotate-rejects", test_accounts_rotate_rejects);
	ACCOUNTS_TEST("/plugin/accounts/login-secrets", test_accounts_login_secrets);
	ACCOUNTS_TEST("/plugin/accounts/expiry", test_accounts_expiry);
	return g_test_run();
}
