/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail values: defaults and statuses (docs/mail.md §5.2) and
 * the strict `mail_instance_node` codec the agent relies on.  The API JSON of
 * the REST models is tested on the code that writes it (test-plugin-model.c).
 */
#include <string.h>

#include "exm-json.h"
#include "exm-mail.h"
#include "exm-test.h"

#define UUID_I "84fe6e92-5b3c-4a1b-a124-de76b7b6c788"
/* A real `$6$` hash of "hunter2" made with libxcrypt. */
#define HASH_A                                                                                     \
	"$6$xNAW4QpoaCGQBXdf$6eKv4cyfwyXPWpgVWmTN7gVBU.8PXwV7cUi6UFBOR7N7.FrYwzPnd3mVtwdiESqe0U"   \
	"KjcDj3NcZ9z/HcLokwH0"

static gchar *
to_text(JsonNode *node)
{
	return exm_json_to_string(node);
}

static JsonNode *
parse(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	JsonNode *n = exm_json_parse_strict(text, strlen(text), &error);

	g_assert_no_error(error);
	return n;
}

/* ---- statuses and defaults (upstream test_models.py) ------------------------------- */

static void
test_status(void)
{
	const gchar *names[] = { "NEW", "IN_PROGRESS", "ACTIVE", "ERROR" };
	const gchar *bad[] = { "new", "", "DONE", "ACTIVE ", NULL };

	for (guint s = 0; s < G_N_ELEMENTS(names); s++) {
		ExmMailStatus st = EXM_MAIL_STATUS_ERROR;

		g_assert_cmpstr(exm_mail_status_to_string((ExmMailStatus)s), ==, names[s]);
		g_assert_true(exm_mail_status_from_string(names[s], &st, NULL));
		g_assert_cmpint(st, ==, (ExmMailStatus)s);
	}
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		ExmMailStatus st = EXM_MAIL_STATUS_ACTIVE;

		g_assert_false(exm_mail_status_from_string(bad[i], &st, &error));
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
		g_assert_cmpint(st, ==, EXM_MAIL_STATUS_ACTIVE);
	}
	g_assert_cmpstr(exm_mail_status_to_string((ExmMailStatus)42), ==, "ERROR");
}

static void
test_defaults(void)
{
	g_autoptr(ExmMailInstance) i = exm_mail_instance_new();
	g_autoptr(ExmMailNode) n = exm_mail_node_new();

	g_assert_cmpint(i->status, ==, EXM_MAIL_STATUS_NEW);
	g_assert_cmpuint(i->ipsv4->len, ==, 0);
	g_assert_cmpstr(i->dkim_public_key, ==, "");
	g_assert_cmpstr(i->dkim_selector, ==, "");
	g_assert_cmpuint(n->accounts->len, ==, 0);
	/* free functions take NULL */
	exm_mail_instance_free(NULL);
	exm_mail_node_free(NULL);
}

/* §5.2 cases 5-7 for V6 semantics: plaintext becomes a $6$ hash that verifies,
 * a crypt hash is kept verbatim, re-sending the same password keeps the hash. */
static void
test_password_derivation(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *hash = exm_mail_crypt_hash("s3cret", EXM_MAIL_HASH_SHA512, &error);
	g_autoptr(ExmMailNode) n = exm_mail_node_new();
	const ExmMailNodeAccount *a;

	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(hash, "$6$"));
	g_assert_true(exm_mail_crypt_verify("s3cret", hash));
	g_assert_true(exm_mail_node_add_account(n, "smtp", "{SHA512-CRYPT}" HASH_A, TRUE, NULL));
	a = g_ptr_array_index(n->accounts, 0);
	g_assert_cmpstr(a->password_hash, ==, "{SHA512-CRYPT}" HASH_A);
	g_assert_true(exm_mail_crypt_verify("hunter2", a->password_hash));
	g_assert_false(exm_mail_crypt_verify("hunter3", a->password_hash));
}

/* ---- mail_instance_node ----------------------------------------------------------------- */

#define NODE_JSON                                                                                  \
	"{\"uuid\":\"" UUID_I "\",\"name\":\"m1\",\"domain\":\"Ex.com\",\"status\":\"ACTIVE\","    \
	"\"dkim_public_key\":\"v=DKIM1; p=AB\",\"dkim_selector\":\"platform\",\"accounts\":{"      \
	"\"zed\":{\"password_hash\":\"" HASH_A "\",\"active\":false},"                             \
	"\"Alice\":{\"password_hash\":\"{SHA512-CRYPT}" HASH_A "\",\"active\":true,\"x\":1},"      \
	"\"bob\":{\"password_hash\":\"" HASH_A "\"}}}"

static void
test_node_from_json(void)
{
	g_autoptr(JsonNode) json = parse(NODE_JSON);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmMailNode) n = exm_mail_node_from_json(json, &error);
	const ExmMailNodeAccount *a;

	g_assert_no_error(error);
	g_assert_cmpstr(n->uuid, ==, UUID_I);
	g_assert_cmpstr(n->name, ==, "m1");
	g_assert_cmpstr(n->domain, ==, "ex.com");
	g_assert_cmpuint(n->accounts->len, ==, 3);
	a = g_ptr_array_index(n->accounts, 0);
	g_assert_cmpstr(a->username, ==, "alice");
	g_assert_cmpstr(a->password_hash, ==, "{SHA512-CRYPT}" HASH_A);
	g_assert_true(a->active);
	a = g_ptr_array_index(n->accounts, 1);
	g_assert_cmpstr(a->username, ==, "bob");
	g_assert_true(a->active); /* absent: the model default */
	a = g_ptr_array_index(n->accounts, 2);
	g_assert_cmpstr(a->username, ==, "zed");
	g_assert_false(a->active);
}

static void
test_node_to_json_exact(void)
{
	g_autoptr(JsonNode) json = parse(NODE_JSON);
	g_autoptr(ExmMailNode) n = exm_mail_node_from_json(json, NULL);
	g_autoptr(JsonNode) out = exm_mail_node_to_json(n);
	g_autofree gchar *text = to_text(out);
	g_autoptr(ExmMailNode) again = NULL;
	g_autoptr(JsonNode) out2 = NULL;
	g_autofree gchar *text2 = NULL;

	g_assert_cmpstr(text,
			==,
			"{\"uuid\":\"" UUID_I "\",\"name\":\"m1\",\"domain\":\"ex.com\","
			"\"accounts\":{"
			"\"alice\":{\"password_hash\":\"{SHA512-CRYPT}" HASH_A
			"\",\"active\":true},"
			"\"bob\":{\"password_hash\":\"" HASH_A "\",\"active\":true},"
			"\"zed\":{\"password_hash\":\"" HASH_A "\",\"active\":false}}}");
	/* a fixed point: decoding what we encode gives the same value */
	again = exm_mail_node_from_json(out, NULL);
	out2 = exm_mail_node_to_json(again);
	text2 = to_text(out2);
	g_assert_cmpstr(text2, ==, text);
}

/* The accounts a value was read from are shared only when they are what
 * exm_mail_node_to_json() writes (members in any order, as jsonb keeps
 * them); the JSON is the same either way. */
static void
test_node_accounts_like(void)
{
	static const gchar *const unlike[] = {
		/* a member the node drops */
		"\"bob\":{\"password_hash\":\"" HASH_A "\",\"active\":true,\"x\":1}",
		/* a default the node leaves out */
		"\"bob\":{\"password_hash\":\"" HASH_A "\"}",
		/* senders the node sorts */
		"\"bob\":{\"password_hash\":\"" HASH_A "\",\"active\":true,"
		"\"senders\":[\"b@ex.com\",\"a@ex.com\"]}",
		/* a key the node folds */
		"\"Bob\":{\"password_hash\":\"" HASH_A "\",\"active\":true}",
	};
	g_autoptr(JsonNode) like = parse(
		"{\"uuid\":\"" UUID_I "\",\"name\":\"m1\",\"domain\":\"ex.com\",\"accounts\":{"
		"\"bob\":{\"active\":true,\"messages_per_hour\":5,\"password_hash\":\"" HASH_A
		"\"},\"al\":{\"active\":false,\"password_hash\":\"" HASH_A "\"}}}");
	g_autoptr(ExmMailNode) n = exm_mail_node_from_json(like, NULL);
	JsonNode *accounts = json_object_get_member(json_node_get_object(like), "accounts");
	JsonNode *shared = exm_mail_node_accounts_like(n, like);
	g_autoptr(JsonNode) with = exm_mail_node_to_json_with(n, shared);
	g_autoptr(JsonNode) made = exm_mail_node_to_json(n);
	g_autofree gchar *with_text = exm_json_canonical(with);
	g_autofree gchar *made_text = exm_json_canonical(made);

	g_assert_true(shared == accounts);
	g_assert_true(json_object_get_member(json_node_get_object(with), "accounts") == accounts);
	g_assert_cmpstr(with_text, ==, made_text);
	g_assert_null(exm_mail_node_accounts_like(n, NULL));
	/* a value's own JSON always is */
	g_assert_true(exm_mail_node_accounts_like(n, made) ==
		      json_object_get_member(json_node_get_object(made), "accounts"));
	for (guint i = 0; i < G_N_ELEMENTS(unlike); i++) {
		g_autofree gchar *text = g_strdup_printf("{\"uuid\":\"" UUID_I
							 "\",\"name\":\"m1\",\"domain\":\"ex.com\","
							 "\"accounts\":{%s}}",
							 unlike[i]);
		g_autoptr(JsonNode) other = parse(text);
		g_autoptr(ExmMailNode) m = exm_mail_node_from_json(other, NULL);

		g_test_message("%s", unlike[i]);
		g_assert_nonnull(m);
		g_assert_null(exm_mail_node_accounts_like(m, other));
	}
	/* fewer accounts than the node holds, or no object */
	{
		g_autoptr(JsonNode) fewer =
			parse("{\"accounts\":{\"al\":{\"password_hash\":\"" HASH_A
			      "\",\"active\":false}}}");
		g_autoptr(JsonNode) array = parse("[]");

		g_assert_null(exm_mail_node_accounts_like(n, fewer));
		g_assert_null(exm_mail_node_accounts_like(n, array));
	}
}

/* A value's accounts kept raw (exm_json_node_is_raw()): the node read from
 * them is the node read from their tree, in any order of the text; they are
 * like the node when exm_mail_node_accounts_raw() writes the same text, and
 * the node's raw accounts hold the text of its JSON's. */
static void
test_node_accounts_raw(void)
{
	static const gchar *const raw_paths[] = { "=accounts", NULL };
	static const gchar *const text =
		"{\"uuid\":\"" UUID_I "\",\"name\":\"m1\",\"domain\":\"ex.com\",\"accounts\":{"
		"\"bob\":{\"active\":true,\"messages_per_hour\":5,\"senders\":[\"b@ex.com\"],"
		"\"password_hash\":\"" HASH_A
		"\"},\"al\":{\"active\":false,\"password_hash\":\"" HASH_A "\",\"sandbox\":true}}}";
	static const gchar *const unlike[] = {
		"\"bob\":{\"password_hash\":\"" HASH_A "\",\"active\":true,\"x\":1}",
		"\"bob\":{\"password_hash\":\"" HASH_A "\"}",
		"\"Bob\":{\"password_hash\":\"" HASH_A "\",\"active\":true}",
		"\"bob\":{\"password_hash\":\"" HASH_A "\",\"active\":true,"
		"\"senders\":[\"b@ex.com\",\"a@ex.com\"]}",
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) tree = parse(text);
	g_autoptr(JsonNode) kept = exm_json_parse_pruned(text, strlen(text), raw_paths, &error);
	g_autoptr(ExmMailNode) from_tree = exm_mail_node_from_json(tree, NULL);
	g_autoptr(ExmMailNode) from_raw = NULL;
	g_autoptr(JsonNode) made = NULL;
	g_autoptr(JsonNode) raw = NULL;
	g_autoptr(JsonNode) with = NULL;
	g_autofree gchar *made_text = NULL;
	g_autofree gchar *with_text = NULL;
	g_autofree gchar *raw_made = NULL;
	JsonNode *accounts;

	g_assert_no_error(error);
	accounts = json_object_get_member(json_node_get_object(kept), "accounts");
	g_assert_true(exm_json_node_is_raw(accounts));
	from_raw = exm_mail_node_from_json(kept, &error);
	g_assert_no_error(error);
	made = exm_mail_node_to_json(from_raw);
	made_text = exm_json_canonical(made);
	{
		g_autoptr(JsonNode) want = exm_mail_node_to_json(from_tree);
		g_autofree gchar *want_text = exm_json_canonical(want);

		g_assert_cmpstr(made_text, ==, want_text);
	}
	g_assert_true(exm_mail_node_accounts_like(from_raw, kept) == accounts);
	raw = exm_mail_node_accounts_raw(from_raw);
	raw_made =
		exm_json_canonical(json_object_get_member(json_node_get_object(made), "accounts"));
	g_assert_cmpstr(exm_json_raw_text(raw), ==, raw_made);
	g_assert_cmpstr(exm_json_raw_text(raw), ==, exm_json_raw_text(accounts));
	with = exm_mail_node_to_json_with(from_raw, raw);
	with_text = exm_json_canonical(with);
	g_assert_cmpstr(with_text, ==, made_text);
	for (guint i = 0; i < G_N_ELEMENTS(unlike); i++) {
		g_autofree gchar *other_text = g_strdup_printf(
			"{\"uuid\":\"" UUID_I "\",\"name\":\"m1\",\"domain\":\"ex.com\","
			"\"accounts\":{%s}}",
			unlike[i]);
		g_autoptr(JsonNode) other =
			exm_json_parse_pruned(other_text, strlen(other_text), raw_paths, NULL);
		g_autoptr(ExmMailNode) m = exm_mail_node_from_json(other, NULL);

		g_test_message("%s", unlike[i]);
		g_assert_nonnull(m);
		g_assert_null(exm_mail_node_accounts_like(m, other));
	}
	/* a bad account in raw text is refused as in a tree, naming it */
	{
		static const gchar *const bad =
			"{\"uuid\":\"" UUID_I "\",\"name\":\"m1\",\"domain\":\"ex.com\","
			"\"accounts\":{\"bob\":{\"password_hash\":\"x\\ny\"}}}";
		g_autoptr(JsonNode) b = exm_json_parse_pruned(bad, strlen(bad), raw_paths, NULL);
		g_autoptr(JsonNode) bt = parse(bad);
		g_autoptr(GError) raw_error = NULL;
		g_autoptr(GError) tree_error = NULL;

		g_assert_null(exm_mail_node_from_json(b, &raw_error));
		g_assert_null(exm_mail_node_from_json(bt, &tree_error));
		g_assert_cmpstr(raw_error->message, ==, tree_error->message);
	}
}

/* A value's raw accounts whose names' byte order is not their folded order
 * ("Bob" < "al" < "bob"): read in the folded order, and of two bad accounts
 * the one that order meets first is named, as from a tree. */
static void
test_node_accounts_raw_fold_order(void)
{
	static const gchar *const raw_paths[] = { "=accounts", NULL };
	static const gchar *const cases[] = {
		"\"Bob\":{\"password_hash\":\"" HASH_A "\"},"
		"\"al\":{\"password_hash\":\"" HASH_A "\"}",
		"\"Bob\":{\"password_hash\":\"x\"},\"al\":{\"password_hash\":\"y\\ny\"}",
		"\"Bob\":{\"password_hash\":\"x\"},\"al\":{\"password_hash\":\"" HASH_A
		"\"},\"bob\":{\"password_hash\":\"" HASH_A "\"}",
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *t = g_strdup_printf("{\"uuid\":\"" UUID_I
						      "\",\"name\":\"m1\",\"domain\":\"ex.com\","
						      "\"accounts\":{%s}}",
						      cases[i]);
		g_autoptr(JsonNode) r = exm_json_parse_pruned(t, strlen(t), raw_paths, NULL);
		g_autoptr(JsonNode) rt = parse(t);
		g_autoptr(GError) raw_error = NULL;
		g_autoptr(GError) tree_error = NULL;
		g_autoptr(ExmMailNode) rn = exm_mail_node_from_json(r, &raw_error);
		g_autoptr(ExmMailNode) tn = exm_mail_node_from_json(rt, &tree_error);

		g_test_message("%s", cases[i]);
		g_assert_true(exm_json_node_is_raw(
			json_object_get_member(json_node_get_object(r), "accounts")));
		g_assert_cmpint(rn == NULL, ==, tn == NULL);
		if (tn == NULL) {
			g_assert_cmpstr(raw_error->message, ==, tree_error->message);
			continue;
		}
		g_assert_cmpuint(rn->accounts->len, ==, 2);
		for (guint k = 0; k < 2; k++)
			g_assert_cmpstr(((ExmMailNodeAccount *)g_ptr_array_index(rn->accounts, k))
						->username,
					==,
					((ExmMailNodeAccount *)g_ptr_array_index(tn->accounts, k))
						->username);
	}
}

/* Upstream G6: MailInstanceNode.name was 1..64 while instances allow 255. */
static void
test_node_long_name(void)
{
	g_autofree gchar *n255 = g_strnfill(255, 'n');
	g_autofree gchar *text = g_strdup_printf(
		"{\"uuid\":\"" UUID_I "\",\"name\":\"%s\",\"domain\":\"ex.com\",\"accounts\":{}}",
		n255);
	g_autoptr(JsonNode) json = parse(text);
	g_autoptr(ExmMailNode) n = exm_mail_node_from_json(json, NULL);

	g_assert_nonnull(n);
	g_assert_cmpuint(strlen(n->name), ==, 255);
}

/* A node value of accounts u0..u<n-1> in the order of @order (an index per
 * position), account @dup (if >= 0) repeated upper-cased at the end. */
static gchar *
node_of_order(const guint *order, guint n, gint dup)
{
	g_autoptr(GString) v = g_string_new("{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":"
					    "\"ex.com\",\"accounts\":{");

	for (guint i = 0; i < n; i++)
		g_string_append_printf(v,
				       "%s\"u%03u\":{\"password_hash\":\"" HASH_A
				       "\",\"messages_per_hour\":%u}",
				       i == 0 ? "" : ",",
				       order[i],
				       order[i] + 1);
	if (dup >= 0)
		g_string_append_printf(v, ",\"U%03d\":{\"password_hash\":\"" HASH_A "\"}", dup);
	g_string_append(v, "}}");
	return g_string_free(g_steal_pointer(&v), FALSE);
}

/* The accounts are taken in the order of their folded names however they
 * come (sorted: no sort at all), and a folded duplicate is refused wherever
 * it sits (docs/scale.md §3). */
static void
test_node_account_order(void)
{
	enum { N = 50 };
	guint sorted[N], reversed[N], shuffled[N], last_late[N], first_late[N];
	const guint *orders[] = { sorted, reversed, shuffled, last_late, first_late };
	g_autofree gchar *want = NULL;

	for (guint i = 0; i < N; i++) {
		sorted[i] = i;
		reversed[i] = N - 1 - i;
		shuffled[i] = (i * 17) % N; /* 17 is prime to 50: a permutation */
		/* nearly sorted: one account after the others (u017), or one
		 * before them (u042) */
		last_late[i] = i == N - 1 ? 17 : i < 17 ? i : i + 1;
		first_late[i] = i == 0 ? 42 : i <= 42 ? i - 1 : i;
	}
	for (guint k = 0; k < G_N_ELEMENTS(orders); k++) {
		const guint *order = orders[k];
		g_autofree gchar *text = node_of_order(order, N, -1);
		g_autoptr(JsonNode) json = parse(text);
		g_autoptr(GError) error = NULL;
		g_autoptr(ExmMailNode) n = exm_mail_node_from_json(json, &error);
		g_autoptr(JsonNode) out = NULL;
		g_autofree gchar *got = NULL;

		g_assert_no_error(error);
		out = exm_mail_node_to_json(n);
		got = to_text(out);
		if (want == NULL)
			want = g_strdup(got);
		g_assert_cmpstr(got, ==, want);
		for (guint i = 0; i < N; i++) {
			const ExmMailNodeAccount *a = g_ptr_array_index(n->accounts, i);
			g_autofree gchar *user = g_strdup_printf("u%03u", i);

			g_assert_cmpstr(a->username, ==, user);
			g_assert_cmpint(a->messages_per_hour, ==, i + 1);
		}
		for (gint dup = 0; dup < N; dup += dup == 0 ? 17 : N - 1 - 17) {
			g_autofree gchar *dtext = node_of_order(order, N, dup);
			g_autoptr(JsonNode) djson = parse(dtext);
			g_autoptr(GError) derror = NULL;
			g_autoptr(ExmMailNode) dn = exm_mail_node_from_json(djson, &derror);
			g_autofree gchar *named = g_strdup_printf("'u%03d' appears twice", dup);

			g_assert_null(dn);
			g_assert_error(derror, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
			g_assert_nonnull(strstr(derror->message, named));
		}
	}
}

/* The paths in the messages (made only for an error now) name the member. */
static void
test_node_error_paths(void)
{
	static const struct {
		const gchar *member;
		const gchar *message;
	} cases[] = {
		{ "\"accounts\":{\"bob\":{\"password_hash\":\"" HASH_A
		  "\",\"messages_per_hour\":0}}",
		  "accounts.bob.messages_per_hour: must be a positive integer or null" },
		{ "\"accounts\":{\"bob\":{\"password_hash\":\"" HASH_A "\",\"expires_at\":\"x\"}}",
		  "accounts.bob.expires_at: must be a positive integer or null" },
		{ "\"accounts\":{\"bob\":{\"password_hash\":\"" HASH_A
		  "\",\"previous_password_hash\":1}}",
		  "accounts.bob.previous_password_hash: must be a string or null" },
		{ "\"accounts\":{\"bob\":{\"active\":true}}",
		  "accounts.bob.password_hash: is required" },
		{ "\"accounts\":{\"bob\":{\"password_hash\":7}}",
		  "accounts.bob.password_hash: must be a string" },
		{ "\"accounts\":{},\"limits\":{\"auth_fail_limit\":true}",
		  "limits.auth_fail_limit: must be a positive integer or null" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *text = g_strdup_printf(
			"{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",%s}",
			cases[i].member);
		g_autoptr(JsonNode) json = parse(text);
		g_autoptr(GError) error = NULL;
		g_autoptr(ExmMailNode) n = exm_mail_node_from_json(json, &error);

		g_assert_null(n);
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
		g_assert_cmpstr(error->message, ==, cases[i].message);
	}
}

static void
test_node_from_json_refuses(void)
{
	const struct {
		const gchar *json;
		const gchar *prefix;
	} cases[] = {
		{ "[]", "mail_instance_node: " },
		{ "\"x\"", "mail_instance_node: " },
		{ "{\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":{}}", "uuid: " },
		{ "{\"uuid\":\"nope\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":{}}",
		  "uuid: " },
		{ "{\"uuid\":1,\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":{}}", "uuid: " },
		{ "{\"uuid\":\"" UUID_I "\",\"domain\":\"ex.com\",\"accounts\":{}}", "name: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"\",\"domain\":\"ex.com\",\"accounts\":{}}",
		  "name: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":null,\"domain\":\"ex.com\",\"accounts\":{}}",
		  "name: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"accounts\":{}}", "domain: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com.\",\"accounts\":{}}",
		  "domain: " },
		{ "{\"uuid\":\"" UUID_I
		  "\",\"name\":\"m\",\"domain\":\"ex.com\\nX=1\",\"accounts\":{}}",
		  "domain: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\"}", "accounts: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":[]}",
		  "accounts: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a\":1}}",
		  "accounts.a: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a\":{}}}",
		  "accounts.a.password_hash: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a\":{\"password_hash\":5}}}",
		  "accounts.a.password_hash: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a\":{\"password_hash\":\"$6$salt$hash\"}}}",
		  "accounts.a.password_hash: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a\":{\"password_hash\":\"" HASH_A "\\nroot@ex.com:" HASH_A "\"}}}",
		  "accounts.a.password_hash: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a\":{\"password_hash\":\"" HASH_A "\",\"active\":1}}}",
		  "accounts.a.active: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a\":{\"password_hash\":\"" HASH_A "\",\"active\":\"true\"}}}",
		  "accounts.a.active: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a\":{\"password_hash\":\"" HASH_A "\",\"active\":null}}}",
		  "accounts.a.active: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a b\":{\"password_hash\":\"" HASH_A "\"}}}",
		  "accounts: username: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a\\nroot\":{\"password_hash\":\"" HASH_A "\"}}}",
		  "accounts: username: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"alice\":{\"password_hash\":\"" HASH_A "\"},"
		  "\"ALICE\":{\"password_hash\":\"" HASH_A "\"}}}",
		  "accounts: " },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(JsonNode) json = parse(cases[i].json);
		g_autoptr(GError) error = NULL;
		g_autoptr(ExmMailNode) n = exm_mail_node_from_json(json, &error);

		if (n != NULL)
			g_error("accepted: %s", cases[i].json);
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
		if (!g_str_has_prefix(error->message, cases[i].prefix))
			g_error("'%s' does not start with '%s'", error->message, cases[i].prefix);
	}
	{
		g_autoptr(GError) error = NULL;

		g_assert_null(exm_mail_node_from_json(NULL, &error));
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
	}
}

static void
test_node_add_account(void)
{
	g_autoptr(ExmMailNode) n = exm_mail_node_new();
	const gchar *order[] = { "m", "a", "z", "b.c", "b", "0" };
	const gchar *sorted[] = { "0", "a", "b", "b.c", "m", "z" };
	g_autoptr(GError) error = NULL;

	for (gsize i = 0; i < G_N_ELEMENTS(order); i++)
		g_assert_true(exm_mail_node_add_account(n, order[i], HASH_A, TRUE, NULL));
	for (gsize i = 0; i < G_N_ELEMENTS(sorted); i++)
		g_assert_cmpstr(
			((ExmMailNodeAccount *)n->accounts->pdata[i])->username, ==, sorted[i]);
	g_assert_false(exm_mail_node_add_account(n, "M", HASH_A, FALSE, &error));
	g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
	g_assert_cmpuint(n->accounts->len, ==, G_N_ELEMENTS(order));
}

/* Every value that reaches passwd (the builder's node, the agent's payload)
 * refuses a hash whose work factor would stall exim's AUTH, naming the ceiling. */
static void
test_node_dear_hash(void)
{
	static const struct {
		const gchar *hash;
		const gchar *ceiling;
	} dear[] = {
		{ "$2b$31$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01236", "ceiling of 14" },
		{ "$5$rounds=999999999$a$abcdefghijklmnopqrstuvwxyzabcdefghijklmnopD",
		  "ceiling of 1000000 rounds" },
		{ "{CRYPT}$y$jFT$abcd$abcdefghijklmnopqrstuvwxyzabcdefghijklmnopD",
		  "ceiling of 256 MiB" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(dear); i++) {
		g_autoptr(ExmMailNode) n = exm_mail_node_new();
		g_autoptr(GError) error = NULL;
		g_autoptr(GError) json_error = NULL;
		g_autofree gchar *text = g_strdup_printf(
			"{\"uuid\":\"" UUID_I "\",\"name\":\"n\",\"domain\":\"example.com\","
			"\"accounts\":{\"ok\":{\"password_hash\":\"%s\"},\"mallory\":"
			"{\"password_hash\":\"%s\"}}}",
			HASH_A,
			dear[i].hash);
		g_autoptr(JsonNode) json = parse(text);
		g_autoptr(ExmMailNode) parsed = exm_mail_node_from_json(json, &json_error);

		g_assert_false(exm_mail_node_add_account(n, "mallory", dear[i].hash, TRUE, &error));
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
		g_assert_nonnull(strstr(error->message, "accounts.mallory.password_hash"));
		g_assert_nonnull(strstr(error->message, dear[i].ceiling));
		g_assert_cmpuint(n->accounts->len, ==, 0);
		g_assert_null(parsed);
		g_assert_error(json_error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
		g_assert_nonnull(strstr(json_error->message, dear[i].ceiling));
	}
}

/* ---- API JSON -------------------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/mail/model/status", test_status);
	g_test_add_func("/mail/model/defaults", test_defaults);
	g_test_add_func("/mail/model/password-derivation", test_password_derivation);
	g_test_add_func("/mail/model/node-from-json", test_node_from_json);
	g_test_add_func("/mail/model/node-to-json-exact", test_node_to_json_exact);
	g_test_add_func("/mail/model/node-accounts-like", test_node_accounts_like);
	g_test_add_func("/mail/model/node-accounts-raw", test_node_accounts_raw);
	g_test_add_func("/mail/model/node-accounts-raw-fold-order",
			test_node_accounts_raw_fold_order);
	g_test_add_func("/mail/model/node-long-name", test_node_long_name);
	g_test_add_func("/mail/model/node-from-json-refuses", test_node_from_json_refuses);
	g_test_add_func("/mail/model/node-account-order", test_node_account_order);
	g_test_add_func("/mail/model/node-error-paths", test_node_error_paths);
	g_test_add_func("/mail/model/node-add-account", test_node_add_account);
	g_test_add_func("/mail/model/node-dear-hash", test_node_dear_hash);
	return g_test_run();
}
