/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The served certificate on the instance (issue 22 item 4, docs/tls.md §4)
 * through the plugin's ABI on the throwaway cluster: the paas builder, given
 * a view whose node reports a `tls` member, copies it onto the instance's
 * tls_* columns (read-only fields of the API), writes nothing when the report
 * is unchanged, does not bump updated_at for it, and takes no report that
 * breaks the bounds (the DP is untrusted); verify_dns's readiness warns
 * when the certificate expires within 14 days, has expired, or the node
 * reports an error.
 */
#include <string.h>

#include "exm-test.h"
#include "test-plugin-fixture.h"

#define SELF_DN	  "CN = mail.example.com"
#define CA_DN	  "C = US, O = Let's Encrypt, CN = R11"
#define NOT_AFTER "2036-12-02T01:49:49.000000Z"

/* ------------------------------------------------------------------ the builder */

static const ExordosPaasBuilder *
paas_builder(ExmFixture *f)
{
	const ExordosPaasBuilder *b = f->desc->builders->builders[1];

	g_assert_cmpstr(b->kind, ==, "mail_instance");
	return b;
}

/* One pass of the paas builder, the node reporting @tls as its `tls` member
 * (%NULL: none).  Returns the patch (%NULL: none). */
static gchar *
tick(ExmFixture *f, const gchar *instance, const gchar *tls)
{
	return exm_fixture_paas_tick(f, instance, "tls", tls, NULL);
}

/* The instance's @expr (SQL over its columns). */
static gchar *
column(ExmFixture *f, const gchar *instance, const gchar *expr)
{
	g_autofree gchar *sql = g_strdup_printf(
		"SELECT COALESCE((%s)::text, '<null>') FROM mail_instances WHERE uuid = '%s'",
		expr,
		instance);

	return exm_fixture_scalar(f, sql);
}

static gchar *
tls_columns(ExmFixture *f, const gchar *instance)
{
	return column(f,
		      instance,
		      "concat_ws(' | ', COALESCE(tls_source, '-'), COALESCE(tls_issuer, '-'), "
		      "COALESCE(to_char(tls_not_after, 'YYYY-MM-DD HH24:MI:SS'), '-'), "
		      "COALESCE(tls_error, '-'))");
}

static gchar *
row_version(ExmFixture *f, const gchar *instance)
{
	return column(f, instance, "xmin::text || ' ' || updated_at::text");
}

static gchar *
report(const gchar *source, const gchar *issuer, const gchar *not_after)
{
	return g_strdup_printf("{\"source\": \"%s\", \"subject\": \"" SELF_DN "\", \"issuer\": "
			       "\"%s\", \"not_after\": \"%s\"}",
			       source,
			       issuer,
			       not_after);
}

static gchar *
new_instance(ExmFixture *f)
{
	g_autofree gchar *version = exm_fixture_version(f, "v1");

	return exm_fixture_instance(f, &exm_who_owner1, NULL, version, "mail-tls");
}

/* The report is copied, shown read-only by the API, and an idle pass writes
 * nothing; a changed report is copied without bumping updated_at (the
 * node's payload does not depend on it); an error report empties the rest. */
static void
test_builder_copies(void)
{
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_autofree gchar *instance = NULL;
	g_autofree gchar *self = NULL;
	g_autofree gchar *custom = NULL;
	g_autofree gchar *patch = NULL;
	g_autofree gchar *cols = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *body = NULL;
	g_autoptr(ExmReply) r = NULL;

	if (f == NULL)
		return;
	instance = new_instance(f);
	path = g_strdup_printf("instances/%s", instance);
	self = report("self_signed", SELF_DN, NOT_AFTER);
	patch = tick(f, instance, self);
	g_assert_nonnull(patch);
	cols = tls_columns(f, instance);
	g_assert_cmpstr(cols, ==, "self_signed | " SELF_DN " | 2036-12-02 01:49:49 | -");
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", path, NULL, NULL);
	exm_assert_status(r, 200);
	g_assert_cmpstr(exm_reply_str(r, "tls_source"), ==, "self_signed");
	g_assert_cmpstr(exm_reply_str(r, "tls_issuer"), ==, SELF_DN);
	g_assert_cmpstr(exm_reply_str(r, "tls_not_after"), ==, NOT_AFTER);
	g_assert_false(exm_reply_has(r, "tls_error"));
	g_clear_pointer(&r, exm_reply_free);
	/* read-only: a client cannot set them */
	r = exm_fixture_call(
		f, NULL, &exm_who_owner1, "PATCH", path, NULL, "{\"tls_source\": \"custom\"}");
	g_assert_cmpuint(r->status, >=, 400);
	g_clear_pointer(&r, exm_reply_free);

	/* idle: the same report again writes nothing */
	before = row_version(f, instance);
	g_clear_pointer(&patch, g_free);
	patch = tick(f, instance, self);
	g_assert_null(patch);
	after = row_version(f, instance);
	g_assert_cmpstr(after, ==, before);

	/* the tenant's certificate: only the tls member, updated_at kept */
	custom = report("custom", CA_DN, "2027-03-01T12:00:00.000000Z");
	patch = tick(f, instance, custom);
	g_assert_nonnull(patch);
	g_assert_null(strstr(patch, "\"status\""));
	g_clear_pointer(&cols, g_free);
	cols = tls_columns(f, instance);
	g_assert_cmpstr(cols, ==, "custom | " CA_DN " | 2027-03-01 12:00:00 | -");
	g_clear_pointer(&after, g_free);
	after = row_version(f, instance);
	g_assert_cmpstr(after, !=, before);
	g_assert_cmpstr(strchr(after, ' '), ==, strchr(before, ' '));

	/* a file the node cannot read: the error, no issuer or date */
	g_clear_pointer(&patch, g_free);
	body = g_strdup("{\"source\": \"custom\", \"error\": \"custom.pem: no readable "
			"certificate\"}");
	patch = tick(f, instance, body);
	g_assert_nonnull(patch);
	g_clear_pointer(&cols, g_free);
	cols = tls_columns(f, instance);
	g_assert_cmpstr(cols, ==, "custom | - | - | custom.pem: no readable certificate");
	g_clear_pointer(&patch, g_free);
	patch = tick(f, instance, body);
	g_assert_null(patch);
}

/* The DP is untrusted: a report out of bounds is not taken (no patch, the
 * columns as they were), nor is one that reached apply some other way. */
static void
test_builder_refuses(void)
{
	g_autofree gchar *long_name = g_strnfill(1025, 'a');
	g_autofree gchar *long_error = g_strnfill(513, 'e');
	g_autofree gchar *max_name = g_strnfill(1024, 'a');
	/* check-source: table */
	const gchar *bad[] = {
		"\"self_signed\"",
		"{\"issuer\": \"" CA_DN "\", \"not_after\": \"" NOT_AFTER "\"}",
		"{\"source\": \"letsencrypt\", \"issuer\": \"x\", \"not_after\": \"" NOT_AFTER
		"\"}",
		"{\"source\": 1, \"issuer\": \"x\", \"not_after\": \"" NOT_AFTER "\"}",
		"{\"source\": \"custom\", \"issuer\": \"a\\nb\", \"not_after\": \"" NOT_AFTER "\"}",
		"{\"source\": \"custom\", \"issuer\": \"a\\u2028b\", \"not_after\": \"" NOT_AFTER
		"\"}",
		"{\"source\": \"custom\", \"issuer\": \"\", \"not_after\": \"" NOT_AFTER "\"}",
		"{\"source\": \"custom\", \"issuer\": 7, \"not_after\": \"" NOT_AFTER "\"}",
		"{\"source\": \"custom\", \"issuer\": \"x\", \"not_after\": \"tomorrow\"}",
		"{\"source\": \"custom\", \"issuer\": \"x\", \"not_after\": \"2036-12-02\"}",
		"{\"source\": \"custom\", \"issuer\": \"x\"}",
		"{\"source\": \"custom\", \"not_after\": \"" NOT_AFTER "\"}",
		"{\"source\": \"custom\"}",
		"{\"source\": \"custom\", \"error\": \"\"}",
		"{\"source\": \"custom\", \"error\": \"a\\u0007b\"}",
		"{\"source\": \"custom\", \"subject\": \"a\\rb\", \"issuer\": \"x\", "
		"\"not_after\": "
		"\"" NOT_AFTER "\"}",
	};
	/* check-source: end */
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_autofree gchar *instance = NULL;
	g_autofree gchar *good = NULL;
	g_autofree gchar *longest = NULL;
	g_autofree gchar *patch = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *length = NULL;
	gchar *error = NULL;
	gpointer input = NULL;
	const ExordosPaasBuilder *b;

	if (f == NULL)
		return;
	instance = new_instance(f);
	good = report("self_signed", SELF_DN, NOT_AFTER);
	patch = tick(f, instance, good);
	g_assert_nonnull(patch);
	before = tls_columns(f, instance);
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree gchar *p = tick(f, instance, bad[i]);
		g_autofree gchar *now = tls_columns(f, instance);

		g_test_message("report %u: %s", i, bad[i]);
		g_assert_null(p);
		g_assert_cmpstr(now, ==, before);
	}
	{
		g_autofree gchar *too_long = report("custom", long_name, NOT_AFTER);
		g_autofree gchar *err_long =
			g_strdup_printf("{\"source\": \"custom\", \"error\": \"%s\"}", long_error);
		g_autofree gchar *p1 = tick(f, instance, too_long);
		g_autofree gchar *p2 = tick(f, instance, err_long);

		g_assert_null(p1);
		g_assert_null(p2);
	}
	/* the bound itself is taken */
	longest = report("acme", max_name, NOT_AFTER);
	g_clear_pointer(&patch, g_free);
	patch = tick(f, instance, longest);
	g_assert_nonnull(patch);
	length = column(f, instance, "length(tls_issuer)");
	g_assert_cmpstr(length, ==, "1024");

	/* apply checks again what reached it through the host */
	b = paas_builder(f);
	g_assert_true(b->load(f->ctx, f->db, instance, &input, &error));
	g_assert_false(b->apply(f->ctx,
				f->db,
				input,
				"{\"tls\": {\"source\": \"bogus\", \"error\": \"x\"}}",
				&error));
	g_assert_cmpstr(error, ==, "malformed tls report");
	g_free(error);
	b->input_free(input);
}

/* ------------------------------------------------------------------ readiness */

static JsonObject *
readiness(ExmFixture *f, const gchar *instance, ExmReply **keep)
{
	g_autofree gchar *path = g_strdup_printf("instances/%s/actions/verify_dns", instance);

	*keep = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", path, NULL, NULL);
	exm_assert_status(*keep, 200);
	return json_object_get_object_member(json_node_get_object((*keep)->json), "readiness");
}

/* The codes of the readiness warnings, space-separated. */
static gchar *
warning_codes(ExmFixture *f, const gchar *instance, gboolean *ready)
{
	g_autoptr(ExmReply) r = NULL;
	JsonObject *ready_obj = readiness(f, instance, &r);
	JsonArray *w = json_object_get_array_member(ready_obj, "warnings");
	g_autoptr(GString) codes = g_string_new(NULL);

	*ready = json_object_get_boolean_member(ready_obj, "ready_to_send");
	for (guint i = 0; i < json_array_get_length(w); i++) {
		JsonObject *o = json_array_get_object_element(w, i);

		g_test_message("warning: %s", json_object_get_string_member(o, "message"));
		g_string_append_printf(
			codes, "%s%s", i > 0 ? " " : "", json_object_get_string_member(o, "code"));
	}
	return g_string_free(g_steal_pointer(&codes), FALSE);
}

static void
set_tls(ExmFixture *f, const gchar *instance, const gchar *not_after, const gchar *error)
{
	g_autofree gchar *sql = g_strdup_printf(
		"UPDATE mail_instances SET tls_source = 'custom', tls_issuer = 'CN = x', "
		"tls_not_after = %s, tls_error = %s WHERE uuid = '%s' RETURNING 1",
		not_after,
		error,
		instance);
	g_autofree gchar *one = exm_fixture_scalar(f, sql);
}

/* Within 14 days, past, or an error reported: verify_dns's readiness says
 * so; ready_to_send stays the DNS and status condition. */
static void
test_readiness_warns(void)
{
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_autofree gchar *instance = NULL;
	g_autofree gchar *sql = NULL;
	g_autofree gchar *one = NULL;
	gboolean ready = FALSE;
	/* check-source: table */
	static const struct {
		const gchar *not_after;
		const gchar *error;
		const gchar *codes;
	} cases[] = {
		{ "NULL", "NULL", "" },
		{ "(now() AT TIME ZONE 'UTC') + INTERVAL '30 days'", "NULL", "" },
		{ "(now() AT TIME ZONE 'UTC') + INTERVAL '15 days'", "NULL", "" },
		{ "(now() AT TIME ZONE 'UTC') + INTERVAL '13 days'", "NULL", "tls_expiring" },
		{ "(now() AT TIME ZONE 'UTC') + INTERVAL '1 hour'", "NULL", "tls_expiring" },
		{ "(now() AT TIME ZONE 'UTC') - INTERVAL '1 day'", "NULL", "tls_expired" },
		{ "(now() AT TIME ZONE 'UTC') + INTERVAL '30 days'",
		  "'renewal failed: 403'",
		  "tls_error" },
		{ "NULL", "'custom.pem: no readable certificate'", "tls_error" },
		{ "(now() AT TIME ZONE 'UTC') + INTERVAL '2 days'",
		  "'renewal failed'",
		  "tls_error tls_expiring" },
	};
	/* check-source: end */

	if (f == NULL)
		return;
	instance = new_instance(f);
	/* ACTIVE with an ok DNS answer cached: no resolver is asked */
	g_setenv("EXM_DNS_CACHE_SECONDS", "3600", TRUE);
	sql = g_strdup_printf(
		"WITH u AS (UPDATE mail_instances SET status = 'ACTIVE' WHERE uuid = '%s' "
		"RETURNING uuid) INSERT INTO mail_instance_dns (instance, checked_at, result) "
		"SELECT uuid, now() AT TIME ZONE 'UTC', '{\"domain\": \"example.com\", "
		"\"status\": \"ok\", \"checks\": []}' FROM u RETURNING 1",
		instance);
	one = exm_fixture_scalar(f, sql);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *codes = NULL;

		set_tls(f, instance, cases[i].not_after, cases[i].error);
		codes = warning_codes(f, instance, &ready);
		g_test_message("case %u: %s", i, codes);
		g_assert_cmpstr(codes, ==, cases[i].codes);
		g_assert_true(ready);
	}
	g_unsetenv("EXM_DNS_CACHE_SECONDS");
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/plugin/tls/builder-copies", test_builder_copies);
	g_test_add_func("/plugin/tls/builder-refuses", test_builder_refuses);
	g_test_add_func("/plugin/tls/readiness-warns", test_readiness_warns);
	return g_test_run();
}
