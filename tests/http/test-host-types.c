/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Type registration (docs/type-registration.md, issue 14 #2): a host started
 * without the mail plugin loads it from its plugin directory when a
 * `metapaas_paas_types` row names it, and serves /v1/types/mail/ without a
 * restart; a row it cannot honour turns ERROR with the reason and changes
 * nothing else; requests in flight while a type is mounted are unharmed.
 */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "exh-plugin.h"
#include "exh-test.h"
#include "exm-test.h"
#include "exm-uuid.h"

#define MAIL_SO "libexordos_paas_mail.so"

/* A host with @plugins and a plugin directory holding a copy of the mail plugin. */
typedef struct {
	gchar *root;
	gchar *plugin_dir;
	gchar *mail_version; /* the descriptor's, read from the plugin itself */
	ExhTest *t;
} Types;

static void
types_free(Types *ty)
{
	g_clear_pointer(&ty->t, exh_test_free);
	if (ty->root != NULL)
		exm_test_rmtree(ty->root);
	g_free(ty->root);
	g_free(ty->plugin_dir);
	g_free(ty->mail_version);
	g_free(ty);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Types, types_free)

static void
copy_file(const gchar *from, const gchar *to)
{
	g_autofree gchar *data = NULL;
	gsize len = 0;
	g_autoptr(GError) error = NULL;

	g_assert_true(g_file_get_contents(from, &data, &len, &error));
	g_assert_no_error(error);
	g_assert_true(g_file_set_contents(to, data, (gssize)len, &error));
	g_assert_cmpint(g_chmod(to, 0644), ==, 0);
}

static gchar *
descriptor_version(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ExhPlugin) plugin = exh_plugin_load(path, &error);

	g_assert_no_error(error);
	return g_strdup(plugin->desc->version);
}

static Types *
types_new(const gchar *const *plugins, gboolean agent_api)
{
	g_autoptr(Types) ty = g_new0(Types, 1);
	g_autofree gchar *mail = exh_test_plugin_path();
	g_autofree gchar *copy = NULL;
	ExhTestOptions options = { .plugins = plugins, .agent_api = agent_api };

	ty->root = exm_test_mkdtemp("exh-types");
	ty->plugin_dir = g_build_filename(ty->root, "plugins", NULL);
	g_assert_cmpint(g_mkdir(ty->plugin_dir, 0755), ==, 0);
	g_assert_cmpint(g_chmod(ty->plugin_dir, 0755), ==, 0);
	copy = g_build_filename(ty->plugin_dir, MAIL_SO, NULL);
	copy_file(mail, copy);
	ty->mail_version = descriptor_version(copy);
	options.plugin_dir = ty->plugin_dir;
	ty->t = exh_test_new(&options);
	if (ty->t == NULL)
		return NULL;
	return g_steal_pointer(&ty);
}

/* A registration row as the core-agent writes it; returns its uuid. */
static gchar *
insert_row_of(Types *ty,
	      const gchar *name,
	      const gchar *element,
	      const gchar *package,
	      const gchar *version)
{
	g_autofree gchar *uuid = exm_uuid_v4();
	g_autofree gchar *sql = g_strdup_printf(
		"INSERT INTO metapaas_paas_types (uuid, name, project_id, element_name, package, "
		"version, created_at, updated_at) VALUES ('%s', '%s', '%s', '%s', '%s', '%s', "
		"now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc') RETURNING uuid",
		uuid,
		name,
		EXH_TEST_PROJECT,
		element,
		package,
		version);
	g_autofree gchar *back = exh_test_sql(ty->t, sql);

	g_assert_cmpstr(back, ==, uuid);
	exh_host_types_changed(ty->t->host);
	return g_steal_pointer(&uuid);
}

static gchar *
insert_row(Types *ty, const gchar *name, const gchar *package, const gchar *version)
{
	return insert_row_of(ty, name, "mailaas", package, version);
}

static gchar *
row_value(Types *ty, const gchar *uuid, const gchar *column)
{
	g_autofree gchar *sql = g_strdup_printf(
		"SELECT %s FROM metapaas_paas_types WHERE uuid = '%s'", column, uuid);

	return exh_test_sql(ty->t, sql);
}

/* The row's status once the reconciler has decided (bounded wait, not timed). */
static gchar *
wait_decided(Types *ty, const gchar *uuid)
{
	gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
	gchar *status = NULL;

	do {
		g_free(status);
		status = row_value(ty, uuid, "status");
		if (!g_str_equal(status, "NEW"))
			return status;
		g_usleep(10 * 1000);
	} while (g_get_monotonic_time() < deadline);
	return status;
}

static gchar *
reason(Types *ty, const gchar *uuid)
{
	g_autofree gchar *sql =
		g_strdup_printf("SELECT reason FROM exh_paas_type_errors WHERE uuid = '%s'", uuid);

	return exh_test_sql(ty->t, sql);
}

/* What a refused row must not touch: the tracked migrations and the tables. */
static gchar *
schema_state(Types *ty)
{
	return exh_test_sql(ty->t,
			    "SELECT (SELECT count(*) FROM ra_migrations) || '/' || "
			    "(SELECT count(*) FROM pg_tables WHERE schemaname = 'public')");
}

/* No subtree for @slug: the segment is a type id, as upstream's TypeRoute reads it. */
static void
assert_not_served(Types *ty, const gchar *slug)
{
	g_autofree gchar *path = g_strdup_printf("/v1/types/%s/versions/", slug);
	g_autofree gchar *message = g_strdup_printf("Can't parse value: uuid=%s.", slug);
	g_autoptr(ExhTestResponse) r =
		exh_test_request(ty->t, "GET", path, EXH_TEST_TOKEN_OWNER, NULL);

	exh_test_assert_error(r, 400, "ParseError", message);
}

static ExhTestResponse *
create_version(Types *ty)
{
	return exh_test_request(ty->t,
				"POST",
				"/v1/types/mail/versions/",
				EXH_TEST_TOKEN_OPERATOR,
				"{\"name\":\"exim4_1\",\"image\":\"exordos-metapaas-mail-dp\"}");
}

static gchar *
create_instance(Types *ty)
{
	g_autoptr(ExhTestResponse) v = create_version(ty);
	g_autofree gchar *body = NULL;
	g_autoptr(ExhTestResponse) i = NULL;

	g_assert_cmpuint(v->status, ==, 201);
	body = g_strdup_printf("{\"name\":\"m1\",\"domain\":\"example.org\",\"cpu\":1,"
			       "\"ram\":1024,\"disk_size\":10,"
			       "\"version\":\"/v1/types/mail/versions/%s\"}",
			       exh_test_response_get_string(v, "uuid"));
	i = exh_test_request(
		ty->t, "POST", "/v1/types/mail/instances/", EXH_TEST_TOKEN_OWNER, body);
	g_assert_cmpuint(i->status, ==, 201);
	return g_strdup(exh_test_response_get_string(i, "uuid"));
}

/* The builder engine picked the type up: the instance leaves NEW. */
static void
wait_built(Types *ty, const gchar *instance)
{
	g_autofree gchar *sql =
		g_strdup_printf("SELECT status FROM mail_instances WHERE uuid = '%s'", instance);
	gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
	g_autofree gchar *status = NULL;

	do {
		g_free(status);
		status = exh_test_sql(ty->t, sql);
		if (!g_str_equal(status, "NEW"))
			break;
		g_usleep(20 * 1000);
	} while (g_get_monotonic_time() < deadline);
	g_test_message("instance %s: %s", instance, status);
	g_assert_cmpstr(status, !=, "NEW");
}

/* A fresh host without the mail plugin: a row makes it load, migrate, mount
 * and build the type without a restart; a second row is idempotent. */
static void
test_register(void)
{
	const gchar *none[] = { NULL };
	g_autoptr(Types) ty = types_new(none, TRUE);
	g_autofree gchar *uuid = NULL;
	g_autofree gchar *status = NULL;
	g_autofree gchar *instance = NULL;
	g_autofree gchar *schema = NULL;
	g_autofree gchar *again = NULL;
	g_autofree gchar *status2 = NULL;
	g_autofree gchar *updated = NULL;
	g_autofree gchar *one_path = NULL;
	g_autoptr(ExhTestResponse) list = NULL;
	g_autoptr(ExhTestResponse) one = NULL;

	if (ty == NULL)
		return;
	assert_not_served(ty, "mail");
	uuid = insert_row(ty, "mail", MAIL_SO, ty->mail_version);
	status = wait_decided(ty, uuid);
	g_assert_cmpstr(status, ==, "ACTIVE");
	instance = create_instance(ty);
	wait_built(ty, instance);

	/* /v1/types/ lists the row as upstream's TypeRoute does */
	list = exh_test_request(ty->t, "GET", "/v1/types/", EXH_TEST_TOKEN_OWNER, NULL);
	g_assert_cmpuint(list->status, ==, 200);
	g_assert_cmpuint(json_array_get_length(json_node_get_array(list->json)), ==, 1);
	one_path = g_strconcat("/v1/types/", uuid, NULL);
	one = exh_test_request(ty->t, "GET", one_path, EXH_TEST_TOKEN_OWNER, NULL);
	g_assert_cmpuint(one->status, ==, 200);
	g_assert_cmpstr(exh_test_response_get_string(one, "status"), ==, "ACTIVE");
	g_assert_cmpstr(exh_test_response_get_string(one, "package"), ==, MAIL_SO);
	g_assert_cmpstr(exh_test_response_get_string(one, "version"), ==, ty->mail_version);

	/* a second row for the loaded slug: ACTIVE, nothing loaded or migrated again */
	schema = schema_state(ty);
	updated = row_value(ty, uuid, "updated_at");
	again = insert_row(ty, "mail", MAIL_SO, "");
	status2 = wait_decided(ty, again);
	g_assert_cmpstr(status2, ==, "ACTIVE");
	{
		g_autofree gchar *schema2 = schema_state(ty);
		g_autofree gchar *updated2 = row_value(ty, uuid, "updated_at");
		g_autoptr(ExhTestResponse) v = exh_test_request(
			ty->t, "GET", "/v1/types/mail/versions/", EXH_TEST_TOKEN_OWNER, NULL);

		g_assert_cmpstr(schema2, ==, schema);
		g_assert_cmpstr(updated2, ==, updated);
		g_assert_cmpuint(v->status, ==, 200);
	}
}

/* Rows the host cannot honour: ERROR with the reason, and nothing else. */
static void
test_refused(void)
{
	const gchar *none[] = { NULL };
	g_autoptr(Types) ty = types_new(none, FALSE);
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	struct {
		const gchar *name;
		const gchar *element;
		const gchar *package;
		const gchar *version;
		const gchar *why;
	} rows[] = {
		{ "nothere", "mailaas", "libnothere.so", "", "no plugin libnothere.so in" },
		{ "mail",
		  "mailaas",
		  MAIL_SO,
		  "0.0.0-not-this-one",
		  "the row asks for 0.0.0-not-this-one" },
		{ "other", "mailaas", MAIL_SO, "", "has slug mail, the row names other" },
		{ "mail", "s3aas", MAIL_SO, "", "is of element mailaas, the row names s3aas" },
		{ "mail",
		  "mailaas",
		  "../plugins/" MAIL_SO,
		  "",
		  "is not a file name of the plugin directory" },
	};
	g_autofree gchar *first = NULL;
	g_autofree gchar *first_updated = NULL;

	if (ty == NULL)
		return;
	before = schema_state(ty);
	for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_autofree gchar *uuid = insert_row_of(
			ty, rows[i].name, rows[i].element, rows[i].package, rows[i].version);
		g_autofree gchar *status = wait_decided(ty, uuid);
		g_autofree gchar *why = reason(ty, uuid);

		g_test_message("%s: %s", rows[i].package, why);
		g_assert_cmpstr(status, ==, "ERROR");
		g_assert_nonnull(strstr(why, rows[i].why));
		if (i == 0) {
			first = g_strdup(uuid);
			first_updated = row_value(ty, uuid, "updated_at");
		}
	}
	after = schema_state(ty);
	g_assert_cmpstr(after, ==, before);
	assert_not_served(ty, "mail");
	assert_not_served(ty, "other");
	{
		/* later passes leave a refused row alone */
		g_autofree gchar *updated = row_value(ty, first, "updated_at");

		g_assert_cmpstr(updated, ==, first_updated);
	}
}

/* The plugin directory is trusted only when nobody else can write it. */
static void
test_trust(void)
{
	const gchar *none[] = { NULL };
	g_autoptr(Types) ty = types_new(none, FALSE);
	g_autofree gchar *link = NULL;
	g_autofree gchar *uuid = NULL;
	g_autofree gchar *status = NULL;
	g_autofree gchar *why = NULL;
	g_autofree gchar *linked = NULL;
	g_autofree gchar *sql = NULL;
	g_autofree gchar *fixed = NULL;
	g_autofree gchar *copy = NULL;

	if (ty == NULL)
		return;
	copy = g_build_filename(ty->plugin_dir, MAIL_SO, NULL);
	link = g_build_filename(ty->plugin_dir, "liblink.so", NULL);
	g_assert_cmpint(symlink(copy, link), ==, 0);
	linked = insert_row(ty, "mail", "liblink.so", "");
	g_free(status);
	status = wait_decided(ty, linked);
	g_assert_cmpstr(status, ==, "ERROR");
	why = reason(ty, linked);
	g_assert_nonnull(strstr(why, "is not a regular file"));

	g_assert_cmpint(g_chmod(ty->plugin_dir, 0775), ==, 0);
	uuid = insert_row(ty, "mail", MAIL_SO, "");
	g_free(status);
	status = wait_decided(ty, uuid);
	g_assert_cmpstr(status, ==, "ERROR");
	g_free(why);
	why = reason(ty, uuid);
	g_assert_nonnull(strstr(why, "writable by its group or others"));
	assert_not_served(ty, "mail");

	/* fixed, and asked again (status NEW): served */
	g_assert_cmpint(g_chmod(ty->plugin_dir, 0755), ==, 0);
	sql = g_strdup_printf("UPDATE metapaas_paas_types SET status = 'NEW' WHERE uuid = '%s' "
			      "RETURNING status",
			      uuid);
	g_free(exh_test_sql(ty->t, sql));
	exh_host_types_changed(ty->t->host);
	fixed = wait_decided(ty, uuid);
	g_assert_cmpstr(fixed, ==, "ACTIVE");
	{
		g_autofree gchar *gone = reason(ty, uuid);
		g_autoptr(ExhTestResponse) v = create_version(ty);

		g_assert_cmpstr(gone, ==, "");
		g_assert_cmpuint(v->status, ==, 201);
	}
}

typedef struct {
	const gchar *base_url;
	const gchar *path;
	guint n;
	gint ok;       /* 200 (atomic: the test thread waits for the first) */
	guint not_yet; /* 400: the type is not mounted yet */
	guint other;   /* anything else */
	gint *stop;
} Client;

static gpointer
client_thread(gpointer data)
{
	Client *c = data;
	g_autoptr(SoupSession) session = soup_session_new_with_options("timeout", 120, NULL);
	g_autofree gchar *url = g_strconcat(c->base_url, c->path, NULL);

	while (!g_atomic_int_get(c->stop)) {
		g_autoptr(SoupMessage) msg = soup_message_new("GET", url);
		g_autoptr(GBytes) reply = NULL;
		guint status;

		soup_message_headers_append(soup_message_get_request_headers(msg),
					    "Authorization",
					    "Bearer " EXH_TEST_TOKEN_OPERATOR);
		reply = soup_session_send_and_read(session, msg, NULL, NULL);
		status = reply != NULL ? soup_message_get_status(msg) : 0;
		c->n++;
		if (status == 200)
			g_atomic_int_inc(&c->ok);
		else if (status == 400)
			c->not_yet++;
		else
			c->other++;
	}
	return NULL;
}

/* Until the client of the new type has been served @n times (bounded wait). */
static void
wait_served(Client *c, gint n)
{
	gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;

	while (g_atomic_int_get(&c->ok) < n && g_get_monotonic_time() < deadline)
		g_usleep(5 * 1000);
}

/* Requests to a served type, to the one being mounted and to the list, while
 * it is mounted (and its builders join the running engine). */
static void
test_in_flight(void)
{
	g_autofree gchar *fake = exh_test_fake_plugin_path("");
	const gchar *plugins[] = { fake, NULL };
	g_autoptr(Types) ty = types_new(plugins, TRUE);
	const gchar *paths[] = { "/v1/types/fake/echo",
				 "/v1/types/mail/versions/",
				 "/v1/types/",
				 "/v1/types/fake/echo" };
	Client clients[G_N_ELEMENTS(paths)];
	GThread *threads[G_N_ELEMENTS(paths)];
	gint stop = 0;
	g_autofree gchar *uuid = NULL;
	g_autofree gchar *status = NULL;

	if (ty == NULL)
		return;
	for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
		clients[i] = (Client){ ty->t->base_url, paths[i], 0, 0, 0, 0, &stop };
		threads[i] = g_thread_new("client", client_thread, &clients[i]);
	}
	uuid = insert_row(ty, "mail", MAIL_SO, ty->mail_version);
	status = wait_decided(ty, uuid);
	wait_served(&clients[1], 20);
	g_atomic_int_set(&stop, 1);
	for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
		g_thread_join(threads[i]);
		g_test_message("%s: %u requests, %d 200, %u 400, %u other",
			       paths[i],
			       clients[i].n,
			       clients[i].ok,
			       clients[i].not_yet,
			       clients[i].other);
		g_assert_cmpuint(clients[i].other, ==, 0);
		/* a served type never answers "not mounted" */
		if (i != 1)
			g_assert_cmpuint((guint)clients[i].ok, ==, clients[i].n);
	}
	g_assert_cmpstr(status, ==, "ACTIVE");
	/* the new type answered once mounted: first 400, then only 200 */
	g_assert_cmpint(clients[1].ok, >=, 20);
	g_assert_cmpuint(clients[1].not_yet + (guint)clients[1].ok, ==, clients[1].n);
}

/* A restarted host serves the types registered before, from its first request. */
static void
test_restart(void)
{
	const gchar *none[] = { NULL };
	g_autoptr(Types) ty = types_new(none, FALSE);
	g_autofree gchar *uuid = NULL;
	g_autofree gchar *status = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(ExhTestResponse) v = NULL;

	if (ty == NULL)
		return;
	uuid = insert_row(ty, "mail", MAIL_SO, ty->mail_version);
	status = wait_decided(ty, uuid);
	g_assert_cmpstr(status, ==, "ACTIVE");
	g_clear_pointer(&ty->t->host, exh_host_free);
	ty->t->host = exh_host_new(ty->t->config, &error);
	g_assert_no_error(error);
	g_assert_true(exh_host_start(ty->t->host, &error));
	g_assert_no_error(error);
	g_free(ty->t->base_url);
	ty->t->base_url = g_strdup(exh_host_get_base_url(ty->t->host));
	v = exh_test_request(ty->t, "GET", "/v1/types/mail/versions/", EXH_TEST_TOKEN_OWNER, NULL);
	g_assert_cmpuint(v->status, ==, 200);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/http/types/register", test_register);
	g_test_add_func("/http/types/refused", test_refused);
	g_test_add_func("/http/types/trust", test_trust);
	g_test_add_func("/http/types/in-flight", test_in_flight);
	g_test_add_func("/http/types/restart", test_restart);
	return g_test_run();
}
