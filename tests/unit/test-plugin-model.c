/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The API JSON of the mail models byte for byte against
 * docs/rest-conventions.md §5/§11, as the plugin answers it: the model
 * declarations of exm-plugin.c written by the toolkit's exm_rest_row_write()
 * from rows of canonical text (moved here from test-mail-model.c, whose
 * parallel model is gone).
 */
#include <string.h>

#include "exm-plugin-private.h"
#include "exm-test.h"

#define UUID_I "84fe6e92-5b3c-4a1b-a124-de76b7b6c788"
#define UUID_V "1eb7fe59-2c45-478c-992a-d44f0e7a0dc2"
#define UUID_P "11111111-2222-3333-4444-555555555555"
#define UUID_A "587717c1-0000-4000-8000-000000000001"
#define HASH_A                                                                                     \
	"$6$xNAW4QpoaCGQBXdf$6eKv4cyfwyXPWpgVWmTN7gVBU.8PXwV7cUi6UFBOR7N7.FrYwzPnd3mVtwdiESqe0U"   \
	"KjcDj3NcZ9z/HcLokwH0"

static gchar *
usec_text(const gchar *iso)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(iso, NULL);

	g_assert_nonnull(dt);
	return g_strdup_printf("%" G_GINT64_FORMAT,
			       g_date_time_to_unix(dt) * G_USEC_PER_SEC +
				       g_date_time_get_microsecond(dt));
}

/* A row of @model from name/value pairs (%NULL-terminated); timestamps are
 * given as ISO text and stored as µs, as the SELECT list yields them. */
static ExmRestRow *
row_new(const ExmRestModel *model, const gchar *const *pairs)
{
	ExmRestRow *row = g_new0(ExmRestRow, 1);
	guint i = 0;

	row->model = model;
	for (const ExmRestField *f = model->fields; f->name != NULL; f++)
		row->n_fields++;
	row->raw = g_new0(gchar *, row->n_fields + 1);
	for (const ExmRestField *f = model->fields; f->name != NULL; f++, i++) {
		for (guint k = 0; pairs[k] != NULL; k += 2) {
			if (!g_str_equal(pairs[k], f->name) || pairs[k + 1] == NULL)
				continue;
			row->raw[i] = f->type == EXM_REST_TYPE_TIMESTAMP ? usec_text(pairs[k + 1])
									 : g_strdup(pairs[k + 1]);
		}
	}
	return row;
}

static gchar *
answer(const ExmRestRow *row, const gchar *mount)
{
	GString *out = g_string_new(NULL);

	exm_rest_row_write(out, row, mount, NULL);
	return g_string_free(out, FALSE);
}

/* docs/rest-conventions.md §11, the POST /versions/ response body */
static void
test_version_json(void)
{
	const gchar *const full[] = { "uuid",	     "06c4431d-b6f7-4e1a-9858-866d2ee1caa0",
				      "name",	     "v1",
				      "description", "",
				      "created_at",  "2026-11-25T12:33:14.510407Z",
				      "updated_at",  "2026-11-25T12:33:14.510413Z",
				      "image",	     "img",
				      NULL };
	const gchar *const nulls[] = { "uuid",	     "06c4431d-b6f7-4e1a-9858-866d2ee1caa0",
				       "name",	     "v1",
				       "created_at", "2026-11-25T12:33:14.510407Z",
				       "updated_at", "2026-11-25T12:33:14.510413Z",
				       NULL };
	g_autoptr(ExmRestRow) v = row_new(&exm_plugin_version_model, full);
	g_autoptr(ExmRestRow) v2 = row_new(&exm_plugin_version_model, nulls);
	g_autofree gchar *text = answer(v, "/v1/types/mail/");
	g_autofree gchar *t2 = answer(v2, "/v1/types/mail/");

	g_assert_cmpstr(text,
			==,
			"{\"uuid\":\"06c4431d-b6f7-4e1a-9858-866d2ee1caa0\",\"name\":\"v1\","
			"\"description\":\"\",\"created_at\":\"2026-11-25T12:33:14.510407Z\","
			"\"updated_at\":\"2026-11-25T12:33:14.510413Z\",\"image\":\"img\"}");
	/* null members are omitted, not rendered as null */
	g_assert_null(strstr(t2, "image"));
	g_assert_null(strstr(t2, "description"));
	g_assert_null(strstr(t2, "null"));
}

/* docs/rest-conventions.md §5.4, the example instance object */
static void
test_instance_json(void)
{
	const gchar *const pairs[] = { "uuid",
				       UUID_I,
				       "name",
				       "m1",
				       "description",
				       "",
				       "project_id",
				       UUID_P,
				       "created_at",
				       "2026-11-25T12:33:49.706099Z",
				       "updated_at",
				       "2026-11-25T12:33:49.722003Z",
				       "domain",
				       "ex.com",
				       "status",
				       "NEW",
				       "ipsv4",
				       "[]",
				       "cpu",
				       "4",
				       "ram",
				       "1024",
				       "disk_size",
				       "10",
				       "version",
				       UUID_V,
				       "dkim_public_key",
				       "",
				       "dkim_selector",
				       "",
				       NULL };
	const gchar *expect =
		"{\"uuid\":\"" UUID_I "\",\"name\":\"m1\",\"description\":\"\",\"project_id\":"
		"\"" UUID_P "\",\"created_at\":\"2026-11-25T12:33:49.706099Z\",\"updated_at\":"
		"\"2026-11-25T12:33:49.722003Z\",\"domain\":\"ex.com\",\"status\":\"NEW\","
		"\"ipsv4\":[],\"cpu\":4,\"ram\":1024,\"disk_size\":10,\"version\":"
		"\"/v1/types/mail/versions/" UUID_V "\",\"dkim_public_key\":\"\","
		"\"dkim_selector\":\"\"}";
	g_autoptr(ExmRestRow) i = row_new(&exm_plugin_instance_model, pairs);
	g_autofree gchar *text = answer(i, "/v1/types/mail/");
	g_autofree gchar *t3 = NULL;

	g_assert_cmpstr(text, ==, expect);
	g_free(i->raw[7]);
	i->raw[7] = g_strdup("ACTIVE");
	g_free(i->raw[8]);
	i->raw[8] = g_strdup("[\"192.0.2.10\"]");
	t3 = answer(i, "/api/");
	g_assert_nonnull(strstr(t3, "\"status\":\"ACTIVE\",\"ipsv4\":[\"192.0.2.10\"]"));
	g_assert_nonnull(strstr(t3, "\"version\":\"/api/versions/" UUID_V "\""));
}

/* docs/rest-conventions.md §11, the account object of GET (never password_hash) */
static void
test_account_json(void)
{
	const gchar *const pairs[] = { "uuid",
				       UUID_A,
				       "name",
				       "",
				       "description",
				       "",
				       "created_at",
				       "2026-11-25T12:34:00.000001Z",
				       "updated_at",
				       "2026-11-25T12:34:00.000002Z",
				       "project_id",
				       UUID_P,
				       "instance",
				       UUID_I,
				       "username",
				       "bob",
				       "password_hash",
				       HASH_A,
				       "active",
				       "true",
				       NULL };
	g_autoptr(ExmRestRow) a = row_new(&exm_plugin_account_model, pairs);
	g_autofree gchar *text = answer(a, "/v1/types/mail/");

	g_assert_cmpstr(text,
			==,
			"{\"uuid\":\"" UUID_A "\",\"name\":\"\",\"description\":\"\","
			"\"created_at\":\"2026-11-25T12:34:00.000001Z\",\"updated_at\":"
			"\"2026-11-25T12:34:00.000002Z\",\"project_id\":\"" UUID_P "\","
			"\"instance\":\"/v1/types/mail/instances/" UUID_I "\",\"username\":\"bob\","
			"\"active\":true}");
	g_assert_null(strstr(text, "password"));
	g_assert_null(strstr(text, "$6$"));
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/plugin/model/version-json", test_version_json);
	g_test_add_func("/plugin/model/instance-json", test_instance_json);
	g_test_add_func("/plugin/model/account-json", test_account_json);
	return g_test_run();
}
