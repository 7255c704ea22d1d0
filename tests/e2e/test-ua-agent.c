/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The agent (exm_ua_agent_*) against protocol transcripts: an in-process fake
 * CP (test-ua-fakecp.c, loopback only) serving the Orch and Status APIs of
 * docs/agent-protocol.md §4–§6, and a fake capability driver recording every
 * call.  Request bodies are compared with the spec's examples (§3.3, §5.1, §5.2,
 * §7.3) and hashes with its vectors (§2.3).
 */
#include "exm-dp-error.h"
#include "exm-dp-driver.h"
#include "exm-json.h"
#include "exm-proto.h"
#include "exm-test.h"
#include "exm-ua-agent.h"
#include "exm-ua-error.h"
#include "exm-dp-adapter.h"
#include "exm-ua-payload.h"
#include "exm-ua-reconcile.h"
#include "exm-ua-state.h"
#include "test-ua-fakecp.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#define VM_UUID	   "a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890"
#define VM2_UUID   "b1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890"
#define NODE_UUID  "11111111-2222-3333-4444-555555555555"
#define OTHER_NODE "99999999-2222-3333-4444-555555555555"
#define AGENT_UUID "239bb923-73ae-5e7f-a9be-30e0a13dff80"
#define VM_TARGET  "{\"uuid\":\"" VM_UUID "\",\"name\":\"vm\",\"cores\":1,\"ram\":1024}"
#define VM_TARGET2 "{\"uuid\":\"" VM_UUID "\",\"name\":\"vm\",\"cores\":1,\"ram\":2048}"
#define VM_ACTUAL                                                                                  \
	"{\"uuid\":\"" VM_UUID                                                                     \
	"\",\"name\":\"vm\",\"cores\":1,\"ram\":1024,\"status\":\"ACTIVE\","                       \
	"\"created_at\":\"2022-01-01 00:00:00.000000\"}"
#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

/* §3.3 without the optional timestamps. */
static const gchar *expected_registration =
	"{\"uuid\":\"" AGENT_UUID "\",\"name\":\"Universal Agent 239bb923\",\"description\":\"\","
	"\"capabilities\":{\"capabilities\":[\"demo_vm\"]},\"facts\":{\"facts\":[]},"
	"\"node\":\"" NODE_UUID "\",\"status\":\"ACTIVE\"}";

/* §7.3: the PUT after a 409 carries capabilities, facts and name only. */
static const gchar *expected_registration_put =
	"{\"capabilities\":{\"capabilities\":[\"demo_vm\"]},\"facts\":{\"facts\":[]},"
	"\"name\":\"Universal Agent 239bb923\"}";

/* §5.1 without the optional timestamps. */
static const gchar *expected_post =
	"{\"uuid\":\"" VM_UUID "\",\"kind\":\"/v1/kind/demo_vm\","
	"\"res_uuid\":\"bce5d269-12be-52b0-90df-0191f1a39ace\","
	"\"value\":" VM_ACTUAL ",\"hash\":\"e5ecd78270703c31\",\"full_hash\":\"8e9ed58523af9b50\","
	"\"status\":\"ACTIVE\",\"node\":\"" NODE_UUID "\"}";

/* ---- the fake driver ------------------------------------------------------ */

typedef struct {
	ExmUaDriver base; /* first: the agent hands us &base */
	GHashTable *dp;	  /* uuid → actual value */
	GPtrArray *calls; /* "list demo_vm", "create <uuid>", … */
	gboolean fail_list;
	gboolean fail_create;
	gboolean fail_update;
	gboolean fail_remove;
	/* scale: `unchanged` answers from a version of the DP the test bumps on
	 * drift; off unless a test sets it */
	gboolean offer_unchanged;
	guint version;
	guint listed_version; /* the version the last list saw, 0 after a write */
	/* `keys_unchanged` also after a create or update, whose result is what
	 * a list would give (as the mail driver's put), until the DP moves */
	gboolean keys_after_write;
	guint written_version; /* the version the last create or update saw */
	/* a live member (`live`, no target key, like the mail driver's usage)
	 * that moves without a write, and the value the last list saw */
	guint live;
	guint listed_live;
	const gchar *unlink_on_list; /* a file a list removes (borrowed) */
} FakeDriver;

static const gchar *const fake_kinds[] = { "demo_vm", NULL };

static const gchar *const *
fake_driver_kinds(ExmUaDriver *d)
{
	return fake_kinds;
}

static gboolean
fake_driver_check(FakeDriver *fd, gboolean fail, const gchar *what, GError **error)
{
	if (!fail)
		return TRUE;
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "injected %s failure", what);
	return FALSE;
}

static GPtrArray *
fake_driver_list(ExmUaDriver *d, const gchar *kind, GError **error)
{
	FakeDriver *fd = (FakeDriver *)d;
	GPtrArray *out;
	GHashTableIter iter;
	gpointer v;

	g_ptr_array_add(fd->calls, g_strdup_printf("list %s", kind));
	if (!fake_driver_check(fd, fd->fail_list, "list", error))
		return NULL;
	fd->listed_version = fd->version;
	fd->listed_live = fd->live;
	if (fd->unlink_on_list != NULL)
		g_assert_cmpint(g_unlink(fd->unlink_on_list), ==, 0);
	out = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
	g_hash_table_iter_init(&iter, fd->dp);
	while (g_hash_table_iter_next(&iter, NULL, &v)) {
		if (fd->live > 0)
			json_object_set_int_member(v, "live", fd->live);
		g_ptr_array_add(out, json_object_ref(v));
	}
	return out;
}

/* The DP object: the target plus DP-only fields (§4.1 example). */
static JsonObject *
fake_driver_store(FakeDriver *fd, JsonObject *value)
{
	JsonObject *actual = json_object_new();
	g_autoptr(GList) members = json_object_get_members(value);

	for (GList *l = members; l != NULL; l = l->next)
		json_object_set_member(
			actual, l->data, json_node_copy(json_object_get_member(value, l->data)));
	json_object_set_string_member(actual, "status", "ACTIVE");
	json_object_set_string_member(actual, "created_at", "2022-01-01 00:00:00.000000");
	if (fd->live > 0)
		json_object_set_int_member(actual, "live", fd->live);
	g_hash_table_insert(fd->dp,
			    g_strdup(json_object_get_string_member(value, "uuid")),
			    json_object_ref(actual));
	fd->listed_version = 0;
	fd->written_version = fd->version;
	return actual;
}

static JsonObject *
fake_driver_create(ExmUaDriver *d, const gchar *kind, JsonObject *value, GError **error)
{
	FakeDriver *fd = (FakeDriver *)d;

	g_ptr_array_add(fd->calls,
			g_strdup_printf("create %s", json_object_get_string_member(value, "uuid")));
	if (!fake_driver_check(fd, fd->fail_create, "create", error))
		return NULL;
	return fake_driver_store(fd, value);
}

static JsonObject *
fake_driver_update(ExmUaDriver *d, const gchar *kind, JsonObject *value, GError **error)
{
	FakeDriver *fd = (FakeDriver *)d;

	g_ptr_array_add(fd->calls,
			g_strdup_printf("update %s", json_object_get_string_member(value, "uuid")));
	if (!fake_driver_check(fd, fd->fail_update, "update", error))
		return NULL;
	return fake_driver_store(fd, value);
}

static gboolean
fake_driver_remove(ExmUaDriver *d, const gchar *kind, JsonObject *value, GError **error)
{
	FakeDriver *fd = (FakeDriver *)d;
	const gchar *uuid = json_object_get_string_member(value, "uuid");

	g_ptr_array_add(fd->calls, g_strdup_printf("delete %s", uuid));
	if (!fake_driver_check(fd, fd->fail_remove, "delete", error))
		return FALSE;
	g_hash_table_remove(fd->dp, uuid);
	fd->listed_version = 0;
	fd->written_version = 0;
	return TRUE;
}

static gboolean
fake_driver_unchanged(ExmUaDriver *d, const gchar *kind)
{
	FakeDriver *fd = (FakeDriver *)d;

	g_ptr_array_add(fd->calls, g_strdup_printf("unchanged %s", kind));
	return fd->offer_unchanged && fd->listed_version == fd->version &&
	       fd->listed_live == fd->live;
}

static gboolean
fake_driver_keys_unchanged(ExmUaDriver *d, const gchar *kind)
{
	FakeDriver *fd = (FakeDriver *)d;

	g_ptr_array_add(fd->calls, g_strdup_printf("unchanged %s keys", kind));
	return fd->offer_unchanged &&
	       (fd->listed_version == fd->version ||
		(fd->keys_after_write && fd->written_version == fd->version));
}

static void
fake_driver_destroy(ExmUaDriver *d)
{
	FakeDriver *fd = (FakeDriver *)d;

	g_hash_table_unref(fd->dp);
	g_ptr_array_unref(fd->calls);
	g_free(fd);
}

/* @dp: the data plane, shared so that it outlives a restarted agent */
static FakeDriver *
fake_driver_new(GHashTable *dp)
{
	FakeDriver *fd = g_new0(FakeDriver, 1);

	fd->base.name = "FakeDriver";
	fd->base.kinds = fake_driver_kinds;
	fd->base.list = fake_driver_list;
	fd->base.create = fake_driver_create;
	fd->base.update = fake_driver_update;
	fd->base.remove = fake_driver_remove;
	fd->base.unchanged = fake_driver_unchanged;
	fd->base.keys_unchanged = fake_driver_keys_unchanged;
	fd->base.destroy = fake_driver_destroy;
	fd->version = 1;
	fd->dp = g_hash_table_ref(dp);
	fd->calls = g_ptr_array_new_with_free_func(g_free);
	return fd;
}

/* Calls that change the data plane (everything but list and unchanged). */
static guint
fake_driver_mutations(FakeDriver *fd)
{
	guint n = 0;

	for (guint i = 0; i < fd->calls->len; i++)
		n += !g_str_has_prefix(fd->calls->pdata[i], "list ") &&
		     !g_str_has_prefix(fd->calls->pdata[i], "unchanged ");
	return n;
}

static gboolean
fake_driver_called(FakeDriver *fd, const gchar *call)
{
	for (guint i = 0; i < fd->calls->len; i++) {
		if (g_str_equal(fd->calls->pdata[i], call))
			return TRUE;
	}
	return FALSE;
}

/* ---- fixture --------------------------------------------------------------- */

typedef struct {
	gchar *dir;
	gchar *conf;
	gchar *payload_path;
	FakeCp *cp;
	FakeDriver *drv; /* owned by the agent */
	GHashTable *dp;	 /* uuid → value: what the fake driver manages */
	ExmUaAgent *agent;
	GMainLoop *loop;
	guint iterations;
	guint target;
	GArray *history; /* ExmUaIteration */
	gboolean timed_out;
} Fx;

static void
on_iteration(ExmUaAgent *agent, const ExmUaIteration *it, gpointer data)
{
	Fx *fx = data;

	g_array_append_val(fx->history, *it);
	fx->iterations++;
	if (fx->iterations >= fx->target)
		g_main_loop_quit(fx->loop);
}

static const ExmUaIteration *
last_it(Fx *fx)
{
	g_assert_cmpuint(fx->history->len, >, 0);
	return &g_array_index(fx->history, ExmUaIteration, fx->history->len - 1);
}

static gboolean
on_guard(gpointer data)
{
	Fx *fx = data;

	fx->timed_out = TRUE;
	g_main_loop_quit(fx->loop);
	return G_SOURCE_REMOVE;
}

/* Runs the main loop until @n more iterations ended (30 s safety net). */
static void
run_iterations(Fx *fx, guint n)
{
	guint guard = g_timeout_add_seconds(30, on_guard, fx);

	fx->target = fx->iterations + n;
	g_main_loop_run(fx->loop);
	if (!fx->timed_out)
		g_source_remove(guard);
	g_assert_false(fx->timed_out);
}

static void
write_file(const gchar *path, const gchar *text, mode_t mode)
{
	g_autoptr(GError) error = NULL;

	g_file_set_contents(path, text, -1, &error);
	g_assert_no_error(error);
	g_assert_cmpint(chmod(path, mode), ==, 0);
}

/* (Re)writes the agent's ini file; @extra is appended to [universal_agent]. */
static void
fx_write_config(Fx *fx, const gchar *extra)
{
	g_autofree gchar *text = g_strdup_printf("[universal_agent]\n"
						 "orch_endpoint = %s\n"
						 "status_endpoint = %s\n"
						 "uuid5_name = s3aas\n"
						 "system_root = %s\n"
						 "payload_path = %s\n"
						 "caps_drivers = FakeDriver\n"
						 "poll_interval = 0.05\n"
						 "http_timeout = 5\n"
						 "backoff_initial = 0.05\n"
						 "backoff_max = 0.2\n"
						 "%s",
						 fake_cp_orch_url(fx->cp),
						 fake_cp_status_url(fx->cp),
						 fx->dir,
						 fx->payload_path,
						 extra != NULL ? extra : "");

	write_file(fx->conf, text, 0600);
}

static void
fx_start_agent(Fx *fx)
{
	g_autoptr(GError) error = NULL;

	fx->agent = exm_ua_agent_new(fx->conf, &error);
	g_assert_no_error(error);
	g_assert_nonnull(fx->agent);
	fx->drv = fake_driver_new(fx->dp);
	g_assert_true(exm_ua_agent_add_driver(fx->agent, &fx->drv->base, &error));
	g_assert_no_error(error);
	exm_ua_agent_set_iteration_func(fx->agent, on_iteration, fx);
	exm_ua_agent_start(fx->agent);
}

/* @key: (nullable): the envelope key of both sides; @extra: more config. */
static void
fx_init(Fx *fx, const gchar *key, const gchar *extra)
{
	g_autofree gchar *dmi = NULL;
	g_autofree gchar *more = NULL;

	fx->dir = exm_test_mkdtemp("ua-agent");
	fx->conf = g_build_filename(fx->dir, "agent.conf", NULL);
	fx->payload_path = g_build_filename(fx->dir, "state", "payload.json", NULL);
	fx->history = g_array_new(FALSE, TRUE, sizeof(ExmUaIteration));
	fx->dp = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)json_object_unref);
	fx->loop = g_main_loop_new(NULL, FALSE);
	dmi = g_build_filename(fx->dir, "sys/class/dmi/id", NULL);
	g_assert_cmpint(g_mkdir_with_parents(dmi, 0755), ==, 0);
	g_free(dmi);
	dmi = g_build_filename(fx->dir, "sys/class/dmi/id/product_uuid", NULL);
	/* the kernel prints it upper case with a newline */
	write_file(dmi, "11111111-2222-3333-4444-555555555555\n", 0444);
	fx->cp = fake_cp_new(key);
	if (key != NULL) {
		g_autofree gchar *kp = g_build_filename(fx->dir, "private_key", NULL);
		write_file(kp, KEY_B64 "\n", 0600);
		more = g_strdup_printf("private_key_path = %s\n%s", kp, extra != NULL ? extra : "");
	}
	fx_write_config(fx, more != NULL ? more : extra);
	fx_start_agent(fx);
}

static gboolean
on_drained(gpointer data)
{
	*(gboolean *)data = TRUE;
	return G_SOURCE_REMOVE;
}

static void
drain_main_context(guint ms)
{
	gboolean done = FALSE;

	g_timeout_add(ms, on_drained, &done);
	while (!done)
		g_main_context_iteration(NULL, TRUE);
}

static void
fx_clear(Fx *fx)
{
	g_clear_pointer(&fx->agent, exm_ua_agent_free);
	/* let cancelled requests finish and the server see the closed connections
	 * before it goes away, so that nothing of either side is left behind */
	drain_main_context(200);
	g_clear_pointer(&fx->cp, fake_cp_free);
	drain_main_context(50);
	g_clear_pointer(&fx->loop, g_main_loop_unref);
	g_clear_pointer(&fx->history, g_array_unref);
	g_clear_pointer(&fx->dp, g_hash_table_unref);
	if (fx->dir != NULL)
		exm_test_rmtree(fx->dir);
	g_free(fx->dir);
	g_free(fx->conf);
	g_free(fx->payload_path);
}

static void
assert_no_violations(Fx *fx)
{
	GPtrArray *v = fake_cp_violations(fx->cp);

	for (guint i = 0; i < v->len; i++)
		g_test_message("violation: %s", (const gchar *)v->pdata[i]);
	g_assert_cmpuint(v->len, ==, 0);
}

static FakeRequest *
req_at(Fx *fx, guint i)
{
	GPtrArray *log = fake_cp_log(fx->cp);

	g_assert_cmpuint(i, <, log->len);
	return i < log->len ? log->pdata[i] : NULL;
}

static void
assert_body(FakeRequest *r, const gchar *expected)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) want = exm_json_parse_strict(expected, strlen(expected), &error);

	g_assert_no_error(error);
	g_assert_nonnull(r->body);
	if (r->body == NULL || !json_node_equal(r->body, want)) {
		g_autofree gchar *got = r->body != NULL ? exm_json_to_string(r->body) : NULL;
		g_test_fail_printf(
			"%s %s body\n  got:  %s\n  want: %s", r->method, r->path, got, expected);
	}
}

static gchar *
saved_hash(Fx *fx)
{
	g_autoptr(ExmUaPayload) last = NULL;
	g_autoptr(ExmUaPayload) targets = NULL;

	exm_ua_state_load(fx->payload_path, &last, &targets);
	return g_strdup(last->hash);
}

/* Registers, converges on the §4.1 example, checks the first transcript. */
static void
fx_converge(Fx *fx)
{
	fake_cp_set_target(fx->cp, AGENT_UUID, "demo_vm", VM_TARGET);
	run_iterations(fx, 1);
	g_assert_cmpint(last_it(fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_nonnull(fake_cp_get_actual(fx->cp, "demo_vm", VM_UUID));
}

/* ---- tests ----------------------------------------------------------------- */

/* §3.3 → §4.1 → §5.1, then the light payload of §4.2: registration POST with the
 * exact body, get_payload with `hash=` and no Content-Type, driver create, actual
 * POST with the exact body, the converged hash 37a273eaeebbb63f saved 0600, and a
 * light answer on the next poll with no driver mutation and no write at all. */
static void
test_transcript_converge(void)
{
	Fx fx = { 0 };
	FakeRequest *r;
	struct stat st;
	g_autofree gchar *hash = NULL;
	g_autofree gchar *cp_hash = NULL;
	guint n;

	fx_init(&fx, NULL, NULL);
	fx_converge(&fx);
	g_assert_cmpuint(fake_cp_log(fx.cp)->len, ==, 4);
	/* the gcl_sdk fork's verify_node_on_register (default true): the node first */
	r = req_at(&fx, 0);
	g_assert_cmpstr(r->api, ==, "status");
	g_assert_cmpstr(r->method, ==, "GET");
	g_assert_cmpstr(r->path, ==, "/v1/node_verifiers/" NODE_UUID "/actions/verify");
	g_assert_null(r->query);
	g_assert_null(r->body);
	g_assert_cmpstr(r->node_header, ==, NODE_UUID);
	g_assert_cmpuint(r->status, ==, 200);
	r = req_at(&fx, 1);
	g_assert_cmpstr(r->api, ==, "status");
	g_assert_cmpstr(r->method, ==, "POST");
	g_assert_cmpstr(r->path, ==, "/v1/agents/");
	g_assert_cmpstr(r->content_type, ==, "application/json");
	g_assert_cmpstr(r->node_header, ==, NODE_UUID);
	g_assert_null(r->nonce_header);
	assert_body(r, expected_registration);
	r = req_at(&fx, 2);
	g_assert_cmpstr(r->api, ==, "orch");
	g_assert_cmpstr(r->method, ==, "GET");
	g_assert_cmpstr(r->path, ==, "/v1/agents/" AGENT_UUID "/actions/get_payload");
	g_assert_cmpstr(r->query, ==, "hash=&version=0");
	g_assert_null(r->content_type);
	g_assert_null(r->body);
	g_assert_cmpstr(r->node_header, ==, NODE_UUID);
	r = req_at(&fx, 3);
	g_assert_cmpstr(r->api, ==, "status");
	g_assert_cmpstr(r->method, ==, "POST");
	g_assert_cmpstr(r->path, ==, "/v1/kind/demo_vm/resources/");
	g_assert_cmpuint(r->status, ==, 201);
	assert_body(r, expected_post);
	g_assert_true(fake_driver_called(fx.drv, "create " VM_UUID));
	g_assert_cmpuint(fake_driver_mutations(fx.drv), ==, 1);
	g_assert_true(last_it(&fx)->registered);
	g_assert_cmpuint(last_it(&fx)->created, ==, 1);
	g_assert_cmpuint(last_it(&fx)->posted, ==, 1);
	g_assert_true(last_it(&fx)->saved);

	hash = saved_hash(&fx);
	g_assert_cmpstr(hash, ==, "37a273eaeebbb63f");
	cp_hash = fake_cp_payload_hash(fx.cp, AGENT_UUID);
	g_assert_cmpstr(cp_hash, ==, "37a273eaeebbb63f");
	g_assert_cmpint(stat(fx.payload_path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0600);

	/* light payload: same (hash, version) → cached targets, nothing to do */
	fake_cp_clear_log(fx.cp);
	g_ptr_array_set_size(fx.drv->calls, 0);
	run_iterations(&fx, 2);
	n = fake_cp_log(fx.cp)->len;
	g_assert_cmpuint(n, ==, 2);
	for (guint i = 0; i < n; i++) {
		r = req_at(&fx, i);
		g_assert_cmpstr(r->method, ==, "GET");
		g_assert_cmpstr(r->query, ==, "hash=37a273eaeebbb63f&version=0");
	}
	g_assert_true(last_it(&fx)->light);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_false(last_it(&fx)->saved);
	/* the node holds the targets: their values are not read (docs/scale.md §3) */
	g_assert_false(last_it(&fx)->values_read);
	g_assert_cmpuint(fake_driver_mutations(fx.drv), ==, 0);
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* §7.3: an agent the CP already knows gets 409 on POST and is updated by PUT. */
static void
test_register_conflict(void)
{
	Fx fx = { 0 };
	FakeRequest *r;
	JsonObject *agent;

	fx_init(&fx, NULL, NULL);
	fake_cp_add_agent(fx.cp, AGENT_UUID, NODE_UUID, "[]");
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_true(last_it(&fx)->registered);
	r = req_at(&fx, 1);
	g_assert_cmpstr(r->method, ==, "POST");
	g_assert_cmpuint(r->status, ==, 409);
	r = req_at(&fx, 2);
	g_assert_cmpstr(r->api, ==, "status");
	g_assert_cmpstr(r->method, ==, "PUT");
	g_assert_cmpstr(r->path, ==, "/v1/agents/" AGENT_UUID);
	g_assert_cmpuint(r->status, ==, 200);
	assert_body(r, expected_registration_put);
	r = req_at(&fx, 3);
	g_assert_cmpstr(r->path, ==, "/v1/agents/" AGENT_UUID "/actions/get_payload");
	agent = fake_cp_get_agent(fx.cp, AGENT_UUID);
	g_assert_cmpstr(
		json_object_get_string_member(agent, "name"), ==, "Universal Agent 239bb923");
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* A 404 from get_payload (the CP lost the agent) → register again, nothing saved. */
static void
test_reregister_on_404(void)
{
	Fx fx = { 0 };
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;

	fx_init(&fx, NULL, NULL);
	fx_converge(&fx);
	before = saved_hash(&fx);
	fake_cp_forget_agent(fx.cp, AGENT_UUID);
	fake_cp_clear_log(fx.cp);
	g_ptr_array_set_size(fx.drv->calls, 0);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_UNREGISTERED);
	g_assert_cmpuint(fx.drv->calls->len, ==, 0);
	g_assert_cmpuint(fake_cp_log(fx.cp)->len, ==, 1);
	g_assert_cmpuint(req_at(&fx, 0)->status, ==, 404);
	after = saved_hash(&fx);
	g_assert_cmpstr(before, ==, after);

	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_true(last_it(&fx)->registered);
	g_assert_cmpstr(
		req_at(&fx, 1)->path, ==, "/v1/node_verifiers/" NODE_UUID "/actions/verify");
	g_assert_cmpstr(req_at(&fx, 2)->method, ==, "POST");
	g_assert_cmpstr(req_at(&fx, 2)->path, ==, "/v1/agents/");
	assert_body(req_at(&fx, 2), expected_registration);
	g_assert_cmpstr(req_at(&fx, 3)->path, ==, "/v1/agents/" AGENT_UUID "/actions/get_payload");
	g_assert_nonnull(fake_cp_get_agent(fx.cp, AGENT_UUID));
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* A changed target → driver update → PUT with exactly §5.2's members; a removed
 * target and an unknown DP object → driver deletes → DELETE of the reported row. */
static void
test_update_and_delete(void)
{
	Fx fx = { 0 };
	FakeRequest *r = NULL;
	JsonObject *row;
	g_autoptr(JsonObject) target2 = NULL;
	g_autofree gchar *hash2 = NULL;
	g_autoptr(GError) error = NULL;
	JsonObject *extra;

	fx_init(&fx, NULL, NULL);
	fx_converge(&fx);
	fake_cp_clear_log(fx.cp);
	fake_cp_set_target(fx.cp, AGENT_UUID, "demo_vm", VM_TARGET2);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_true(fake_driver_called(fx.drv, "update " VM_UUID));
	g_assert_cmpuint(last_it(&fx)->updated, ==, 1);
	g_assert_cmpuint(last_it(&fx)->put, ==, 1);
	g_assert_cmpuint(fake_cp_count(fx.cp, "PUT", "/v1/kind/demo_vm/resources/" VM_UUID), ==, 1);
	for (guint i = 0; i < fake_cp_log(fx.cp)->len; i++) {
		if (g_str_equal(req_at(&fx, i)->method, "PUT"))
			r = req_at(&fx, i);
	}
	g_assert_nonnull(r);
	g_assert_cmpuint(json_object_get_size(json_node_get_object(r->body)), ==, 4);
	target2 = exm_json_parse_object(VM_TARGET2, strlen(VM_TARGET2), &error);
	g_assert_no_error(error);
	hash2 = exm_proto_hash_value(target2);
	row = fake_cp_get_actual(fx.cp, "demo_vm", VM_UUID);
	g_assert_cmpstr(json_object_get_string_member(row, "hash"), ==, hash2);
	g_assert_cmpint(
		json_object_get_int_member(json_object_get_object_member(row, "value"), "ram"),
		==,
		2048);

	/* an object the CP never asked for, and the target removed */
	extra = json_object_new();
	json_object_set_string_member(extra, "uuid", VM2_UUID);
	g_hash_table_insert(fx.drv->dp, g_strdup(VM2_UUID), extra);
	fake_cp_remove_target(fx.cp, "demo_vm", VM_UUID);
	fake_cp_clear_log(fx.cp);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_true(fake_driver_called(fx.drv, "delete " VM_UUID));
	g_assert_true(fake_driver_called(fx.drv, "delete " VM2_UUID));
	g_assert_cmpuint(g_hash_table_size(fx.drv->dp), ==, 0);
	g_assert_cmpuint(
		fake_cp_count(fx.cp, "DELETE", "/v1/kind/demo_vm/resources/" VM_UUID), ==, 1);
	g_assert_cmpuint(fake_cp_count(fx.cp, "DELETE", "/v1/kind/"), ==, 1);
	g_assert_cmpuint(fake_cp_n_actuals(fx.cp), ==, 0);
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* A row that exists but is not in the agent's facts (reported under another node)
 * → POST answers 409 → the agent PUTs it (§13.2). */
static void
test_status_post_conflict(void)
{
	Fx fx = { 0 };
	JsonObject *row;

	fx_init(&fx, NULL, NULL);
	fake_cp_add_actual(fx.cp, "demo_vm", OTHER_NODE, VM_TARGET, "stale");
	fake_cp_set_target(fx.cp, AGENT_UUID, "demo_vm", VM_TARGET);
	run_iterations(&fx, 1);
	g_assert_cmpuint(fake_cp_count(fx.cp, "POST", "/v1/kind/demo_vm/resources/"), ==, 1);
	g_assert_cmpuint(fake_cp_count(fx.cp, "PUT", "/v1/kind/demo_vm/resources/" VM_UUID), ==, 1);
	g_assert_cmpuint(last_it(&fx)->put, ==, 1);
	g_assert_cmpuint(last_it(&fx)->posted, ==, 0);
	g_assert_cmpuint(last_it(&fx)->sync_errors, ==, 0);
	row = fake_cp_get_actual(fx.cp, "demo_vm", VM_UUID);
	g_assert_cmpstr(json_object_get_string_member(row, "hash"), ==, "e5ecd78270703c31");
	g_assert_cmpstr(json_object_get_string_member(row, "full_hash"), ==, "8e9ed58523af9b50");
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* A kind whose driver failed keeps its actual rows (no DELETE) and the collected
 * hash is not saved, so the CP keeps sending the full payload until it works. */
static void
test_driver_failure_keeps_rows(void)
{
	Fx fx = { 0 };
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *healed = NULL;

	fx_init(&fx, NULL, NULL);
	fx_converge(&fx);
	before = saved_hash(&fx);

	/* list fails: nothing is known about the DP */
	fx.drv->fail_list = TRUE;
	fake_cp_set_target(fx.cp, AGENT_UUID, "demo_vm", VM_TARGET2);
	fake_cp_clear_log(fx.cp);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_PARTIAL);
	g_assert_cmpuint(fake_cp_count(fx.cp, "DELETE", "/"), ==, 0);
	g_assert_cmpuint(fake_cp_count(fx.cp, "POST", "/v1/kind/"), ==, 0);
	g_assert_nonnull(fake_cp_get_actual(fx.cp, "demo_vm", VM_UUID));
	after = saved_hash(&fx);
	g_assert_cmpstr(before, ==, after);

	/* update fails: the old object is still reported as it is, never
	 * deleted; listed again (the listed value is not held through the
	 * write, docs/scale.md §3) */
	fx.drv->fail_list = FALSE;
	fx.drv->fail_update = TRUE;
	fake_cp_clear_log(fx.cp);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_PARTIAL);
	g_assert_true(fake_driver_called(fx.drv, "update " VM_UUID));
	g_assert_cmpstr(fx.drv->calls->pdata[fx.drv->calls->len - 1], ==, "list demo_vm");
	g_assert_cmpuint(fake_cp_count(fx.cp, "DELETE", "/"), ==, 0);
	g_assert_nonnull(fake_cp_get_actual(fx.cp, "demo_vm", VM_UUID));
	g_free(after);
	after = saved_hash(&fx);
	g_assert_cmpstr(before, ==, after);

	/* remove fails for a removed target: no DELETE of its row either */
	fx.drv->fail_update = FALSE;
	fx.drv->fail_remove = TRUE;
	fake_cp_remove_target(fx.cp, "demo_vm", VM_UUID);
	fake_cp_clear_log(fx.cp);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_PARTIAL);
	g_assert_cmpuint(fake_cp_count(fx.cp, "DELETE", "/"), ==, 0);
	g_assert_nonnull(fake_cp_get_actual(fx.cp, "demo_vm", VM_UUID));
	/* the listed object left over is reported hashed whole (it is listed
	 * unhashed: the hashes are taken before it is reported) */
	{
		JsonObject *row = fake_cp_get_actual(fx.cp, "demo_vm", VM_UUID);
		const gchar *hash = json_object_get_string_member_with_default(row, "hash", "");
		const gchar *full =
			json_object_get_string_member_with_default(row, "full_hash", "");

		g_assert_cmpuint(strlen(hash), ==, 16);
		g_assert_cmpstr(hash, ==, full);
	}

	/* healed: the target comes back, the update goes through and is reported */
	fx.drv->fail_remove = FALSE;
	fake_cp_set_target(fx.cp, AGENT_UUID, "demo_vm", VM_TARGET2);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	healed = saved_hash(&fx);
	g_assert_cmpstr(healed, !=, before);
	g_free(after);
	after = fake_cp_payload_hash(fx.cp, AGENT_UUID);
	g_assert_cmpstr(healed, ==, after);
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* §6: with a key file every request (GET included) is sealed with a fresh nonce,
 * responses are opened, and the agent converges exactly as in plain mode. */
static void
test_envelope(void)
{
	Fx fx = { 0 };
	GPtrArray *log;
	g_autoptr(GHashTable) nonces = g_hash_table_new(g_str_hash, g_str_equal);
	g_autofree gchar *hash = NULL;

	fx_init(&fx, KEY_B64, NULL);
	fx_converge(&fx);
	run_iterations(&fx, 1);
	g_assert_true(last_it(&fx)->light);
	log = fake_cp_log(fx.cp);
	g_assert_cmpuint(log->len, ==, 5);
	for (guint i = 0; i < log->len; i++) {
		FakeRequest *r = log->pdata[i];
		g_assert_cmpstr(r->content_type,
				==,
				"application/x-genesis-agent-chacha20-poly1305-encrypted");
		g_assert_cmpstr(r->node_header, ==, NODE_UUID);
		g_assert_nonnull(r->nonce_header);
		g_assert_cmpuint(strlen(r->nonce_header), ==, 16);
		g_assert_false(g_hash_table_contains(nonces, r->nonce_header));
		g_hash_table_add(nonces, r->nonce_header);
		g_assert_cmpuint(r->status / 100, ==, 2);
	}
	/* bodiless requests carry the sealed JSON literal null */
	g_assert_nonnull(req_at(&fx, 0)->body);
	g_assert_true(JSON_NODE_HOLDS_NULL(req_at(&fx, 0)->body));
	g_assert_nonnull(req_at(&fx, 2)->body);
	g_assert_true(JSON_NODE_HOLDS_NULL(req_at(&fx, 2)->body));
	assert_body(req_at(&fx, 1), expected_registration);
	assert_body(req_at(&fx, 3), expected_post);
	hash = saved_hash(&fx);
	g_assert_cmpstr(hash, ==, "37a273eaeebbb63f");
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* The driver's applied state: the `ram` of the demo VM, 0 when there is none. */
static gint64
dp_ram(Fx *fx)
{
	JsonObject *vm = g_hash_table_lookup(fx->dp, VM_UUID);

	return vm != NULL ? json_object_get_int_member(vm, "ram") : 0;
}

/* Refused @n times in a row: counted, nothing applied, backoff. */
static void
assert_refused(Fx *fx, guint n, gint64 ram)
{
	for (guint i = 0; i < n; i++) {
		const ExmUaIteration *it =
			&g_array_index(fx->history, ExmUaIteration, fx->history->len - n + i);
		g_assert_cmpint(it->outcome, ==, EXM_UA_OUTCOME_REJECTED);
		g_assert_cmpuint(it->refused, ==, 1);
		g_assert_cmpuint(it->failures, >=, i + 1);
	}
	g_assert_cmpuint(fake_driver_mutations(fx->drv), ==, 0);
	g_assert_cmpint(dp_ram(fx), ==, ram);
}

/* Someone on the CP↔DP path without the key answers get_payload in plain JSON:
 * an agent that holds a key refuses it (never applies it) and backs off; the
 * sealed CP is followed again once it answers. */
static void
test_envelope_plain_answer_refused(void)
{
	Fx fx = { 0 };

	fx_init(&fx, KEY_B64, NULL);
	fx_converge(&fx);
	g_assert_cmpint(dp_ram(&fx), ==, 1024);
	g_ptr_array_set_size(fx.drv->calls, 0);
	fake_cp_answer_plain(fx.cp, TRUE);
	fake_cp_set_target(fx.cp, AGENT_UUID, "demo_vm", VM_TARGET2);
	fake_cp_clear_log(fx.cp);
	run_iterations(&fx, 2);
	assert_refused(&fx, 2, 1024);
	g_assert_cmpuint(fake_cp_count(fx.cp, "PUT", "/v1/kind/"), ==, 0);

	fake_cp_answer_plain(fx.cp, FALSE);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_cmpint(dp_ram(&fx), ==, 2048);
	fx_clear(&fx);
}

/* Answers without a length, plain and sealed, in chunks of a few bytes: the
 * agent reads each whole (its buffer grows from one byte) and converges. */
static void
test_answer_chunked(void)
{
	for (guint sealed = 0; sealed < 2; sealed++) {
		Fx fx = { 0 };

		fx_init(&fx, sealed ? KEY_B64 : NULL, NULL);
		fake_cp_answer_chunked(fx.cp, TRUE);
		fx_converge(&fx);
		g_assert_cmpint(dp_ram(&fx), ==, 1024);
		fake_cp_set_target(fx.cp, AGENT_UUID, "demo_vm", VM_TARGET2);
		run_iterations(&fx, 1);
		g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
		g_assert_cmpint(dp_ram(&fx), ==, 2048);
		assert_no_violations(&fx);
		fx_clear(&fx);
	}
}

/* A recorded sealed answer (authentic: sealed with the node key) replayed to
 * undo a change: refused while the agent runs (the answer was seen before) and
 * after a restart (its target is older than the one applied). */
static void
test_replay_old_payload(void)
{
	Fx fx = { 0 };

	fx_init(&fx, KEY_B64, NULL);
	fx_converge(&fx);
	fake_cp_record_payload(fx.cp);
	fake_cp_set_target(fx.cp, AGENT_UUID, "demo_vm", VM_TARGET2);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_cmpint(dp_ram(&fx), ==, 2048);

	g_ptr_array_set_size(fx.drv->calls, 0);
	fake_cp_replay_payload(fx.cp, 2);
	run_iterations(&fx, 2);
	assert_refused(&fx, 2, 2048);

	g_clear_pointer(&fx.agent, exm_ua_agent_free);
	fx_start_agent(&fx);
	fake_cp_replay_payload(fx.cp, 2);
	run_iterations(&fx, 2);
	assert_refused(&fx, 2, 2048);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_cmpint(dp_ram(&fx), ==, 2048);
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* The same replay to an agent that offloaded its payloads (every driver
 * answers `unchanged`): the full answer that changes the target is applied
 * without reloading the saved state, and after a restart the targets' marks
 * it keeps while idle still refuse the recorded, older one (docs/scale.md §2). */
static void
test_replay_old_payload_offloaded(void)
{
	Fx fx = { 0 };

	fx_init(&fx, KEY_B64, NULL);
	fx.drv->offer_unchanged = TRUE;
	fx_converge(&fx);
	fake_cp_record_payload(fx.cp);
	run_iterations(&fx, 2);
	g_assert_true(last_it(&fx)->idle);
	fake_cp_set_target(fx.cp, AGENT_UUID, "demo_vm", VM_TARGET2);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_cmpint(dp_ram(&fx), ==, 2048);
	/* restarted (the answers seen before are forgotten), then idle */
	g_clear_pointer(&fx.agent, exm_ua_agent_free);
	fx_start_agent(&fx);
	fx.drv->offer_unchanged = TRUE;
	run_iterations(&fx, 3);
	g_assert_true(last_it(&fx)->idle);

	g_ptr_array_set_size(fx.drv->calls, 0);
	fake_cp_replay_payload(fx.cp, 2);
	run_iterations(&fx, 2);
	assert_refused(&fx, 2, 2048);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_cmpint(dp_ram(&fx), ==, 2048);
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* A recorded light answer replayed to freeze the agent (a change never arrives):
 * refused, so the freeze is as visible as a CP that is down. */
static void
test_replay_light_answer(void)
{
	Fx fx = { 0 };

	fx_init(&fx, KEY_B64, NULL);
	fx_converge(&fx);
	run_iterations(&fx, 1);
	g_assert_true(last_it(&fx)->light);
	fake_cp_record_payload(fx.cp);
	fake_cp_set_target(fx.cp, AGENT_UUID, "demo_vm", VM_TARGET2);
	g_ptr_array_set_size(fx.drv->calls, 0);
	fake_cp_replay_payload(fx.cp, 2);
	run_iterations(&fx, 2);
	assert_refused(&fx, 2, 1024);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_cmpint(dp_ram(&fx), ==, 2048);
	fx_clear(&fx);
}

/* A CP that requires the envelope answers a plain agent 400: rejected, backoff. */
static void
test_envelope_required(void)
{
	Fx fx = { 0 };

	fx_init(&fx, NULL, NULL);
	fake_cp_free(fx.cp);
	fx.cp = fake_cp_new(KEY_B64);
	fx_write_config(&fx, NULL);
	g_clear_pointer(&fx.agent, exm_ua_agent_free);
	fx_start_agent(&fx);
	run_iterations(&fx, 2);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_REJECTED);
	g_assert_cmpuint(last_it(&fx)->failures, ==, 2);
	g_assert_cmpuint(req_at(&fx, 0)->status, ==, 400);
	g_assert_cmpuint(fx.drv->calls->len, ==, 0);
	fx_clear(&fx);
}

/* CP down → UNREACHABLE with growing, jittered, capped delays and no driver
 * mutation; CP back → the agent recovers without a restart. */
static void
test_backoff_and_recovery(void)
{
	Fx fx = { 0 };
	const gdouble initial = 0.05, max = 0.2;

	fx_init(&fx, NULL, NULL);
	fx_converge(&fx);
	g_ptr_array_set_size(fx.drv->calls, 0);
	fake_cp_go_down(fx.cp);
	run_iterations(&fx, 4);
	for (guint i = 1; i <= 4; i++) {
		const ExmUaIteration *it =
			&g_array_index(fx.history, ExmUaIteration, fx.history->len - 5 + i);
		gdouble cap = MIN(initial * (1u << (i - 1)), max);
		g_assert_cmpint(it->outcome, ==, EXM_UA_OUTCOME_UNREACHABLE);
		g_assert_cmpuint(it->failures, ==, i);
		g_assert_cmpfloat(it->next_delay, >=, cap / 2 - 1e-9);
		g_assert_cmpfloat(it->next_delay, <=, cap + 1e-9);
	}
	g_assert_cmpuint(fx.drv->calls->len, ==, 0);

	/* an error status is a failure too, and counts on */
	fake_cp_come_up(fx.cp);
	fake_cp_fail_next(fx.cp, 1, 503);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_UNREACHABLE);
	g_assert_cmpuint(last_it(&fx)->failures, ==, 5);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_cmpuint(last_it(&fx)->failures, ==, 0);
	g_assert_true(last_it(&fx)->light);
	g_assert_cmpuint(fake_driver_mutations(fx.drv), ==, 0);
	assert_no_violations(&fx);
	fx_clear(&fx);
}

static gboolean
change_target_later(gpointer data)
{
	Fx *fx = data;

	fake_cp_set_target(fx->cp, AGENT_UUID, "demo_vm", VM_TARGET2);
	return G_SOURCE_REMOVE;
}

/* long_poll = true sends `wait=`; the CP holds the request and a change made
 * meanwhile is applied by that very request. */
static void
test_long_poll(void)
{
	Fx fx = { 0 };
	FakeRequest *r;
	guint n;

	fx_init(&fx, NULL, "long_poll = true\nlong_poll_wait = 5\n");
	fake_cp_accept_wait(fx.cp, TRUE); /* this project's host */
	fx_converge(&fx);
	g_assert_cmpstr(req_at(&fx, 2)->query, ==, "hash=&version=0&wait=5");
	fake_cp_clear_log(fx.cp);
	g_ptr_array_set_size(fx.drv->calls, 0);
	g_timeout_add(300, change_target_later, &fx);
	run_iterations(&fx, 1);
	r = req_at(&fx, 0);
	g_assert_cmpstr(r->path, ==, "/v1/agents/" AGENT_UUID "/actions/get_payload");
	g_assert_cmpstr(r->query, ==, "hash=37a273eaeebbb63f&version=0&wait=5");
	g_assert_cmpuint(r->status, ==, 200);
	g_assert_false(last_it(&fx)->light);
	g_assert_true(fake_driver_called(fx.drv, "update " VM_UUID));
	g_assert_cmpuint(last_it(&fx)->put, ==, 1);
	n = fake_cp_count(fx.cp, "GET", "/v1/agents/");
	g_assert_cmpuint(n, ==, 1);
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* Against a CP that ignores `wait=` the agent does not spin: quick light answers
 * fall back to the normal poll period. */
static void
test_long_poll_ignored(void)
{
	Fx fx = { 0 };

	fx_init(&fx, NULL, "long_poll = true\nlong_poll_wait = 10\npoll_interval = 5\n");
	fake_cp_accept_wait(fx.cp, TRUE);
	fake_cp_ignore_wait(fx.cp, TRUE);
	fx_converge(&fx);
	/* the converging (full) answer is re-polled at once */
	g_assert_cmpfloat(last_it(&fx)->next_delay, <, 1);
	run_iterations(&fx, 1);
	g_assert_true(last_it(&fx)->light);
	/* the period minus the iteration's own duration, whatever the machine's speed */
	g_assert_cmpfloat(last_it(&fx)->next_delay, >, 1);
	g_assert_cmpfloat(last_it(&fx)->next_delay, <=, 5);
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* Log lines the tests look for, counted by a default handler (every domain). */
static gint logged_verify_failed;
static gint logged_wait_dropped;

static void
count_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
	if (strstr(message, "node verification failed") != NULL)
		g_atomic_int_inc(&logged_verify_failed);
	if (strstr(message, "polling without wait=") != NULL)
		g_atomic_int_inc(&logged_wait_dropped);
	g_log_default_handler(domain, level, message, data);
}

/* verify_node_on_register (default true, as the gcl_sdk fork's agent): a node
 * the CP's verifier answers 404 for is not registered, and is asked again
 * after the backoff; once it is known the agent registers. */
static void
test_verify_node_refused(void)
{
	Fx fx = { 0 };

	fx_init(&fx, NULL, NULL);
	fake_cp_refuse_node(fx.cp, TRUE);
	g_atomic_int_set(&logged_verify_failed, 0);
	run_iterations(&fx, 2);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_REJECTED);
	g_assert_cmpuint(last_it(&fx)->failures, ==, 2);
	g_assert_false(last_it(&fx)->registered);
	g_assert_cmpfloat(last_it(&fx)->next_delay, >, 0);
	g_assert_cmpuint(fake_cp_count(fx.cp, "GET", "/v1/node_verifiers/" NODE_UUID), ==, 2);
	g_assert_cmpuint(fake_cp_count(fx.cp, "POST", "/v1/agents/"), ==, 0);
	g_assert_cmpuint(fake_cp_count(fx.cp, "GET", "/v1/agents/"), ==, 0);
	g_assert_null(fake_cp_get_agent(fx.cp, AGENT_UUID));
	g_assert_cmpint(g_atomic_int_get(&logged_verify_failed), ==, 2);
	fake_cp_refuse_node(fx.cp, FALSE);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_true(last_it(&fx)->registered);
	g_assert_nonnull(fake_cp_get_agent(fx.cp, AGENT_UUID));
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* verify_node_on_register = false: straight to the registration POST. */
static void
test_verify_node_off(void)
{
	Fx fx = { 0 };

	fx_init(&fx, NULL, "verify_node_on_register = false\n");
	fake_cp_refuse_node(fx.cp, TRUE);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_cmpuint(fake_cp_count(fx.cp, "GET", "/v1/node_verifiers/"), ==, 0);
	g_assert_cmpstr(req_at(&fx, 0)->path, ==, "/v1/agents/");
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* long_poll = true against an upstream CP: its get_payload refuses `wait` (500
 * TypeError); the agent polls without it from then on, logged once, and
 * converges instead of backing off forever. */
static void
test_long_poll_refused_by_cp(void)
{
	Fx fx = { 0 };
	GPtrArray *log;
	guint refused = 0;

	fx_init(&fx, NULL, "long_poll = true\nlong_poll_wait = 5\n");
	g_atomic_int_set(&logged_wait_dropped, 0);
	fake_cp_set_target(fx.cp, AGENT_UUID, "demo_vm", VM_TARGET);
	run_iterations(&fx, 3);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_cmpuint(last_it(&fx)->failures, ==, 0);
	g_assert_nonnull(fake_cp_get_actual(fx.cp, "demo_vm", VM_UUID));
	log = fake_cp_log(fx.cp);
	for (guint i = 0; i < log->len; i++) {
		FakeRequest *r = log->pdata[i];

		if (!g_str_has_suffix(r->path, "/actions/get_payload"))
			continue;
		if (r->query != NULL && strstr(r->query, "wait=") != NULL) {
			g_assert_cmpuint(r->status, ==, 500);
			refused++;
		} else {
			g_assert_cmpuint(r->status, ==, 200);
		}
	}
	g_assert_cmpuint(refused, ==, 1);
	g_assert_cmpint(g_atomic_int_get(&logged_wait_dropped), ==, 1);
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* A CP that is down (5xx to the `wait=` poll and to the retry without it, as
 * our host's 503 while its database restarts) is an outage, not a refusal of
 * `wait=`: the long poll is kept. */
static void
test_long_poll_kept_after_outage(void)
{
	Fx fx = { 0 };
	GPtrArray *log;

	fx_init(&fx, NULL, "long_poll = true\nlong_poll_wait = 1\n");
	fake_cp_accept_wait(fx.cp, TRUE);
	g_atomic_int_set(&logged_wait_dropped, 0);
	fx_converge(&fx);
	fake_cp_clear_log(fx.cp);
	fake_cp_fail_next(fx.cp, 2, 503);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_UNREACHABLE);
	log = fake_cp_log(fx.cp);
	g_assert_cmpuint(log->len, ==, 2);
	g_assert_nonnull(strstr(req_at(&fx, 0)->query, "&wait=1"));
	g_assert_null(strstr(req_at(&fx, 1)->query, "wait="));
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_nonnull(strstr(req_at(&fx, 2)->query, "&wait=1"));
	g_assert_cmpint(g_atomic_int_get(&logged_wait_dropped), ==, 0);
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* Someone edits the DP behind the agent's back (a new object: values the
 * agent was handed are never modified in place); the logs start afresh. */
static void
fx_drift(Fx *fx)
{
	JsonObject *v = json_object_new();

	json_object_set_string_member(v, "uuid", VM_UUID);
	json_object_set_string_member(v, "name", "vm");
	json_object_set_int_member(v, "cores", 1);
	json_object_set_int_member(v, "ram", 1);
	g_hash_table_insert(fx->drv->dp, g_strdup(VM_UUID), v);
	g_ptr_array_set_size(fx->drv->calls, 0);
	fake_cp_clear_log(fx->cp);
}

/* Drift on the DP under a light payload is repaired from the cached targets. */
static void
test_light_payload_repairs_drift(void)
{
	Fx fx = { 0 };

	fx_init(&fx, NULL, NULL);
	fx_converge(&fx);
	fx_drift(&fx);
	run_iterations(&fx, 1);
	g_assert_true(last_it(&fx)->light);
	/* the targets, read hollow, did not do: their values were read */
	g_assert_true(last_it(&fx)->values_read);
	g_assert_true(fake_driver_called(fx.drv, "update " VM_UUID));
	g_assert_cmpint(json_object_get_int_member(g_hash_table_lookup(fx.drv->dp, VM_UUID), "ram"),
			==,
			1024);
	/* repaired to what was reported: nothing to send */
	g_assert_cmpuint(fake_cp_log(fx.cp)->len, ==, 1);
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* The DP drifts, and the payload file is gone by the time the agent needs
 * the values of the targets it read hollow from it: nothing is applied from
 * the hollow values, the iteration is partial, and the next poll sends no
 * hash, so the CP answers with the full payload and the drift is repaired
 * from it. */
static void
test_light_payload_targets_gone(void)
{
	Fx fx = { 0 };
	FakeRequest *r;

	fx_init(&fx, NULL, NULL);
	fx_converge(&fx);
	fx.drv->unlink_on_list = fx.payload_path;
	fx_drift(&fx);
	run_iterations(&fx, 1);
	g_assert_true(last_it(&fx)->light);
	g_assert_true(last_it(&fx)->values_read);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_PARTIAL);
	g_assert_cmpuint(fake_driver_mutations(fx.drv), ==, 0);
	g_assert_false(g_file_test(fx.payload_path, G_FILE_TEST_EXISTS));
	fx.drv->unlink_on_list = NULL;
	fake_cp_clear_log(fx.cp);
	run_iterations(&fx, 1);
	r = req_at(&fx, 0);
	g_assert_cmpstr(r->path, ==, "/v1/agents/" AGENT_UUID "/actions/get_payload");
	g_assert_cmpstr(r->query, ==, "hash=&version=0");
	g_assert_false(last_it(&fx)->light);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_true(fake_driver_called(fx.drv, "update " VM_UUID));
	g_assert_cmpint(dp_ram(&fx), ==, 1024);
	g_assert_true(last_it(&fx)->saved);
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* gcl_sdk fork's fixed loop: a light payload (no capabilities in the answer) is
 * "skipped, not failed", so what the iteration collected is still saved.  Here
 * the DP's own field changes under a light answer: the agent reports it (PUT)
 * and saves the new snapshot in that very iteration, so the next poll carries
 * the CP's new hash and is light again (no stale hash, no full resend). */
static void
test_light_payload_saves_snapshot(void)
{
	Fx fx = { 0 };
	JsonObject *old;
	JsonObject *v;
	GList *members;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *cp_hash = NULL;

	fx_init(&fx, NULL, NULL);
	fx_converge(&fx);
	before = saved_hash(&fx);
	/* a new object (values handed to the agent are never modified in place) */
	old = g_hash_table_lookup(fx.drv->dp, VM_UUID);
	members = json_object_get_members(old);
	v = json_object_new();
	for (GList *l = members; l != NULL; l = l->next)
		json_object_set_member(
			v, l->data, json_node_copy(json_object_get_member(old, l->data)));
	json_object_set_string_member(v, "created_at", "2023-01-01 00:00:00.000000");
	g_clear_pointer(&members, g_list_free);
	g_hash_table_insert(fx.drv->dp, g_strdup(VM_UUID), v);
	fake_cp_clear_log(fx.cp);
	run_iterations(&fx, 1);
	g_assert_true(last_it(&fx)->light);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_cmpuint(last_it(&fx)->put, ==, 1);
	g_assert_true(last_it(&fx)->saved);
	after = saved_hash(&fx);
	cp_hash = fake_cp_payload_hash(fx.cp, AGENT_UUID);
	g_assert_cmpstr(after, !=, before);
	g_assert_cmpstr(after, ==, cp_hash);
	run_iterations(&fx, 1);
	g_assert_true(last_it(&fx)->light);
	g_assert_false(last_it(&fx)->saved);
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* Scale (docs/scale.md §2): once a full iteration changed nothing, light
 * answers with the driver unchanged are idle: no list, no Status API call, no
 * save.  Drift (the driver's version moves) makes the next one full again and
 * repairs it; a driver without `unchanged` is never idle. */
static void
test_idle_iterations(void)
{
	Fx fx = { 0 };
	JsonObject *v;
	struct stat before, after;

	fx_init(&fx, NULL, NULL);
	fx.drv->offer_unchanged = TRUE;
	fx_converge(&fx);
	/* the create: not settled yet, so the next one is a full iteration */
	run_iterations(&fx, 1);
	g_assert_true(last_it(&fx)->light);
	g_assert_false(last_it(&fx)->idle);
	g_assert_true(fake_driver_called(fx.drv, "list demo_vm"));
	g_assert_cmpint(stat(fx.payload_path, &before), ==, 0);
	g_ptr_array_set_size(fx.drv->calls, 0);
	fake_cp_clear_log(fx.cp);
	run_iterations(&fx, 3);
	for (guint i = fx.history->len - 3; i < fx.history->len; i++) {
		const ExmUaIteration *it = &g_array_index(fx.history, ExmUaIteration, i);
		g_assert_true(it->idle);
		g_assert_cmpint(it->outcome, ==, EXM_UA_OUTCOME_OK);
		g_assert_false(it->saved);
	}
	g_assert_false(fake_driver_called(fx.drv, "list demo_vm"));
	g_assert_cmpuint(fake_driver_mutations(fx.drv), ==, 0);
	g_assert_cmpuint(fake_cp_count(fx.cp, "GET", "/v1/agents/"), ==, 3);
	g_assert_cmpuint(fake_cp_log(fx.cp)->len, ==, 3);
	g_assert_cmpint(stat(fx.payload_path, &after), ==, 0);
	g_assert_cmpuint(before.st_ino, ==, after.st_ino);
	g_assert_cmpint(before.st_mtim.tv_nsec, ==, after.st_mtim.tv_nsec);
	/* drift behind the agent's back */
	v = json_object_new();
	json_object_set_string_member(v, "uuid", VM_UUID);
	json_object_set_string_member(v, "name", "vm");
	json_object_set_int_member(v, "cores", 1);
	json_object_set_int_member(v, "ram", 1);
	g_hash_table_insert(fx.drv->dp, g_strdup(VM_UUID), v);
	fx.drv->version++;
	run_iterations(&fx, 1);
	g_assert_false(last_it(&fx)->idle);
	g_assert_true(fake_driver_called(fx.drv, "update " VM_UUID));
	/* a full check after the repair, then idle again */
	run_iterations(&fx, 2);
	g_assert_true(last_it(&fx)->idle);
	/* without `unchanged`, every iteration lists */
	fx.drv->offer_unchanged = FALSE;
	g_ptr_array_set_size(fx.drv->calls, 0);
	run_iterations(&fx, 2);
	g_assert_false(last_it(&fx)->idle);
	g_assert_true(fake_driver_called(fx.drv, "list demo_vm"));
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* An agent whose driver answers `unchanged`, converged and idle. */
static void
fx_init_settled(Fx *fx)
{
	fx_init(fx, NULL, NULL);
	fx->drv->offer_unchanged = TRUE;
	fx_converge(fx);
	run_iterations(fx, 3);
	g_assert_true(last_it(fx)->idle);
}

/* A new target for the settled VM: updated without a listing. */
static void
assert_change_from_marks(Fx *fx)
{
	g_ptr_array_set_size(fx->drv->calls, 0);
	fake_cp_set_target(fx->cp, AGENT_UUID, "demo_vm", VM_TARGET2);
	run_iterations(fx, 1);
	g_assert_cmpint(last_it(fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_cmpuint(last_it(fx)->updated, ==, 1);
	g_assert_false(fake_driver_called(fx->drv, "list demo_vm"));
	g_assert_cmpint(dp_ram(fx), ==, 2048);
}

/* Scale (docs/scale.md §3): a full answer to a settled agent whose driver is
 * unchanged is told apart from the marks it kept (the hash on the target's
 * keys differs): updated without a listing.  A failed update lists to report
 * what the DP holds; a DP that moved lists first. */
static void
test_change_from_marks(void)
{
	Fx fx = { 0 };

	fx_init_settled(&fx);
	assert_change_from_marks(&fx);
	/* the update failed: the DP as listed is reported, nothing saved */
	run_iterations(&fx, 3);
	g_assert_true(last_it(&fx)->idle);
	fx.drv->fail_update = TRUE;
	g_ptr_array_set_size(fx.drv->calls, 0);
	fake_cp_set_target(fx.cp, AGENT_UUID, "demo_vm", VM_TARGET);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_PARTIAL);
	g_assert_cmpstr(fx.drv->calls->pdata[fx.drv->calls->len - 1], ==, "list demo_vm");
	g_assert_cmpint(dp_ram(&fx), ==, 2048);
	fx.drv->fail_update = FALSE;
	run_iterations(&fx, 1);
	g_assert_cmpint(dp_ram(&fx), ==, 1024);
	/* the DP moved since the settled listing: listed before the update */
	run_iterations(&fx, 3);
	g_assert_true(last_it(&fx)->idle);
	fx.drv->version++;
	g_ptr_array_set_size(fx.drv->calls, 0);
	fake_cp_set_target(fx.cp, AGENT_UUID, "demo_vm", VM_TARGET2);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_true(fake_driver_called(fx.drv, "list demo_vm"));
	g_assert_cmpint(dp_ram(&fx), ==, 2048);
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* A change right after another, before an iteration confirmed the first by
 * a listing: decided from the marks of the saved iteration that wrote, when
 * the driver says its write left the keys as it answered; listed first when
 * it does not, or when the DP moved since.  A failed iteration's marks
 * decide nothing.  The confirming iteration still lists (docs/scale.md §3). */
static void
test_change_after_change(void)
{
	Fx fx = { 0 };

	fx_init_settled(&fx);
	fx.drv->keys_after_write = TRUE;
	assert_change_from_marks(&fx);
	g_assert_false(last_it(&fx)->idle);
	/* the next change before any listing */
	g_ptr_array_set_size(fx.drv->calls, 0);
	fake_cp_set_target(fx.cp, AGENT_UUID, "demo_vm", VM_TARGET);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_cmpuint(last_it(&fx)->updated, ==, 1);
	g_assert_false(fake_driver_called(fx.drv, "list demo_vm"));
	g_assert_cmpint(dp_ram(&fx), ==, 1024);
	/* no change: the write is confirmed by a listing, then idle */
	g_ptr_array_set_size(fx.drv->calls, 0);
	run_iterations(&fx, 1);
	g_assert_true(fake_driver_called(fx.drv, "list demo_vm"));
	g_assert_cmpuint(fake_driver_mutations(fx.drv), ==, 0);
	run_iterations(&fx, 2);
	g_assert_true(last_it(&fx)->idle);
	/* a write, then the DP moves: listed before the next change */
	assert_change_from_marks(&fx);
	fx.drv->version++;
	g_ptr_array_set_size(fx.drv->calls, 0);
	fake_cp_set_target(fx.cp, AGENT_UUID, "demo_vm", VM_TARGET);
	run_iterations(&fx, 1);
	g_assert_true(fake_driver_called(fx.drv, "list demo_vm"));
	g_assert_cmpint(dp_ram(&fx), ==, 1024);
	/* a failed update: the next change lists */
	fx.drv->fail_update = TRUE;
	fake_cp_set_target(fx.cp, AGENT_UUID, "demo_vm", VM_TARGET2);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_PARTIAL);
	fx.drv->fail_update = FALSE;
	g_ptr_array_set_size(fx.drv->calls, 0);
	run_iterations(&fx, 1);
	g_assert_true(fake_driver_called(fx.drv, "list demo_vm"));
	g_assert_cmpint(dp_ram(&fx), ==, 2048);
	/* a driver that forgets on writes: the change right after lists */
	fx.drv->keys_after_write = FALSE;
	g_ptr_array_set_size(fx.drv->calls, 0);
	fake_cp_set_target(fx.cp, AGENT_UUID, "demo_vm", VM_TARGET);
	run_iterations(&fx, 1);
	g_assert_cmpuint(last_it(&fx)->updated, ==, 1);
	g_assert_true(fake_driver_called(fx.drv, "list demo_vm"));
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* The `live` member of the actual row the CP holds for the VM (0: none). */
static gint64
reported_live(Fx *fx)
{
	JsonObject *row = fake_cp_get_actual(fx->cp, "demo_vm", VM_UUID);
	JsonObject *value = row != NULL ? json_object_get_object_member(row, "value") : NULL;

	return value != NULL && json_object_has_member(value, "live")
		       ? json_object_get_int_member(value, "live")
		       : 0;
}

/* A live member (no target key) moved since the settled listing: a change
 * is still written without listing first, and the write's result reports
 * the member as it is now (a node whose mail moves does not list every
 * account before every change, docs/scale.md §3); with no change to write,
 * the kind is listed, so the member is not kept from the CP. */
static void
test_change_while_live_moves(void)
{
	Fx fx = { 0 };

	fx_init_settled(&fx);
	fx.drv->live = 1;
	assert_change_from_marks(&fx);
	g_assert_cmpint(reported_live(&fx), ==, 1);
	/* settled again; the member moves with no change to write */
	run_iterations(&fx, 3);
	g_assert_true(last_it(&fx)->idle);
	fx.drv->live = 2;
	g_ptr_array_set_size(fx.drv->calls, 0);
	run_iterations(&fx, 1);
	g_assert_false(last_it(&fx)->idle);
	g_assert_true(fake_driver_called(fx.drv, "list demo_vm"));
	g_assert_cmpuint(fake_driver_mutations(fx.drv), ==, 0);
	g_assert_cmpint(reported_live(&fx), ==, 2);
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* The first resource of @payload's @group basket of demo_vm. */
static JsonObject *
saved_resource(JsonObject *payload, const gchar *group)
{
	JsonObject *basket = json_object_get_object_member(
		json_object_get_object_member(payload, group), "demo_vm");

	return json_array_get_object_element(json_object_get_array_member(basket, "resources"), 0);
}

/* Marks handed to a reconcile as targets (a light iteration racing a file
 * change between its two idle checks) are never applied: a drifted object is
 * not updated to an empty value, a missing one not created, nothing
 * removed; the reconcile asks for the values instead. */
static void
test_reconcile_never_applies_marks(void)
{
	g_autoptr(GHashTable) dp = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)json_object_unref);
	FakeDriver *fd = fake_driver_new(dp);
	g_autoptr(JsonObject) target = exm_json_parse_object(VM_TARGET, strlen(VM_TARGET), NULL);
	g_autoptr(ExmUaResource) t = exm_ua_resource_new_actual("demo_vm", target, NULL, NULL);
	g_autoptr(ExmUaResource) mark = exm_ua_resource_mark(t);
	g_autoptr(GPtrArray) targets = g_ptr_array_new();
	JsonObject *drifted = json_object_new();

	g_assert_true(mark->hollow);
	g_ptr_array_add(targets, mark);
	json_object_set_string_member(drifted, "uuid", VM_UUID);
	json_object_set_int_member(drifted, "ram", 1);
	for (guint round = 0; round < 2; round++) {
		g_autoptr(GPtrArray) collected =
			g_ptr_array_new_with_free_func((GDestroyNotify)exm_ua_resource_unref);
		ExmUaKindResult r;

		/* round 0: nothing on the DP (a create); round 1: drifted (an update) */
		if (round == 1)
			g_hash_table_insert(dp, g_strdup(VM_UUID), json_object_ref(drifted));
		exm_ua_reconcile_kind(&fd->base, "demo_vm", targets, collected, &r);
		g_assert_true(r.need_values);
		g_assert_false(r.failed);
		g_assert_cmpuint(r.created + r.updated + r.deleted, ==, 0);
		g_assert_cmpuint(collected->len, ==, 0);
		g_assert_cmpuint(fake_driver_mutations(fd), ==, 0);
	}
	json_object_unref(drifted);
	fake_driver_destroy(&fd->base);
}

/* An update decided from a listing that fails: the listed value was let go
 * before the write (docs/scale.md §3), so the DP is listed again and what
 * it holds is collected, hashed on the target, as it stands. */
static void
test_reconcile_failed_update_reports_dp(void)
{
	g_autoptr(GHashTable) dp = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)json_object_unref);
	FakeDriver *fd = fake_driver_new(dp);
	g_autoptr(JsonObject) target = exm_json_parse_object(VM_TARGET, strlen(VM_TARGET), NULL);
	g_autoptr(ExmUaResource) t = exm_ua_resource_new_actual("demo_vm", target, NULL, NULL);
	g_autoptr(GPtrArray) targets = g_ptr_array_new();
	g_autoptr(GPtrArray) collected =
		g_ptr_array_new_with_free_func((GDestroyNotify)exm_ua_resource_unref);
	JsonObject *drifted = json_object_new();
	ExmUaResource *got;
	ExmUaKindResult r;
	guint lists = 0;

	g_ptr_array_add(targets, t);
	json_object_set_string_member(drifted, "uuid", VM_UUID);
	json_object_set_int_member(drifted, "ram", 1);
	g_hash_table_insert(dp, g_strdup(VM_UUID), drifted);
	fd->fail_update = TRUE;
	exm_ua_reconcile_kind(&fd->base, "demo_vm", targets, collected, &r);
	g_assert_true(r.failed);
	g_assert_cmpuint(r.updated, ==, 0);
	for (guint i = 0; i < fd->calls->len; i++)
		lists += g_str_equal(fd->calls->pdata[i], "list demo_vm");
	g_assert_cmpuint(lists, ==, 2);
	g_assert_cmpuint(collected->len, ==, 1);
	got = collected->pdata[0];
	g_assert_false(got->hollow);
	g_assert_cmpint(json_object_get_int_member(got->value, "ram"), ==, 1);
	g_assert_cmpstr(got->hash, !=, t->hash);
	fake_driver_destroy(&fd->base);
}

/* Scale (docs/scale.md §3): of the CP's facts the agent keeps the hashes, not
 * the values (left empty when the answer is parsed), and plans its Status
 * API writes from them as before. */
static void
test_facts_values_not_kept(void)
{
	Fx fx = { 0 };
	g_autofree gchar *text = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) root = NULL;
	JsonObject *targets, *fact, *target;

	fx_init(&fx, NULL, NULL);
	fx_converge(&fx);
	fake_cp_set_target(fx.cp, AGENT_UUID, "demo_vm", VM_TARGET2);
	run_iterations(&fx, 2);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_cmpint(dp_ram(&fx), ==, 2048);
	g_file_get_contents(fx.payload_path, &text, NULL, &error);
	g_assert_no_error(error);
	root = exm_json_parse_strict(text, strlen(text), &error);
	g_assert_no_error(error);
	targets = json_object_get_object_member(json_node_get_object(root), "targets");
	fact = saved_resource(targets, "facts");
	target = saved_resource(targets, "capabilities");
	g_assert_cmpuint(json_object_get_size(json_object_get_object_member(fact, "value")), ==, 0);
	g_assert_cmpstr(json_object_get_string_member(fact, "full_hash"), !=, "");
	g_assert_cmpint(
		json_object_get_int_member(json_object_get_object_member(target, "value"), "ram"),
		==,
		2048);
	/* converged: the facts' hashes alone tell the CP holds what the DP has */
	run_iterations(&fx, 1);
	g_assert_true(last_it(&fx)->light);
	g_assert_cmpuint(last_it(&fx)->put + last_it(&fx)->posted, ==, 0);
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* Re-reading the configuration with another identity registers the new agent. */
static void
test_reload_identity(void)
{
	Fx fx = { 0 };
	g_autoptr(GError) error = NULL;
	const gchar *uuid;

	fx_init(&fx, NULL, NULL);
	fx_converge(&fx);
	fx_write_config(&fx, "node_uuid = " OTHER_NODE "\n");
	g_assert_true(exm_ua_agent_reload(fx.agent, &error));
	g_assert_no_error(error);
	uuid = exm_ua_agent_get_uuid(fx.agent);
	g_assert_cmpstr(exm_ua_agent_get_node(fx.agent), ==, OTHER_NODE);
	g_assert_cmpstr(uuid, !=, AGENT_UUID);
	fake_cp_clear_log(fx.cp);
	run_iterations(&fx, 1);
	g_assert_cmpstr(
		req_at(&fx, 0)->path, ==, "/v1/node_verifiers/" OTHER_NODE "/actions/verify");
	g_assert_cmpstr(req_at(&fx, 1)->path, ==, "/v1/agents/");
	g_assert_cmpstr(req_at(&fx, 1)->node_header, ==, OTHER_NODE);
	g_assert_nonnull(fake_cp_get_agent(fx.cp, uuid));

	/* a broken file keeps the running configuration */
	write_file(fx.conf, "[universal_agent]\nuuid = broken\n", 0600);
	g_assert_false(exm_ua_agent_reload(fx.agent, &error));
	g_assert_error(error, EXM_UA_ERROR, EXM_UA_ERROR_CONFIG);
	g_assert_cmpstr(exm_ua_agent_get_uuid(fx.agent), ==, uuid);
	fx_clear(&fx);
}

/* A restarted agent resumes from its saved payload: the CP already knows it
 * (409 → PUT), the saved hash brings a light answer and nothing is rewritten;
 * a change made while it was down is applied once it is back. */
static void
test_restart_resumes(void)
{
	Fx fx = { 0 };
	struct stat before, after;

	fx_init(&fx, NULL, NULL);
	fx_converge(&fx);
	g_assert_cmpint(stat(fx.payload_path, &before), ==, 0);
	g_clear_pointer(&fx.agent, exm_ua_agent_free);
	fake_cp_clear_log(fx.cp);
	fx_start_agent(&fx);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_true(last_it(&fx)->light);
	g_assert_false(last_it(&fx)->saved);
	g_assert_cmpuint(fake_cp_log(fx.cp)->len, ==, 4); /* verify, POST 409, PUT, GET */
	g_assert_cmpuint(req_at(&fx, 1)->status, ==, 409);
	g_assert_cmpstr(req_at(&fx, 3)->query, ==, "hash=37a273eaeebbb63f&version=0");
	g_assert_cmpuint(fake_driver_mutations(fx.drv), ==, 0);
	g_assert_cmpint(stat(fx.payload_path, &after), ==, 0);
	g_assert_cmpint(before.st_mtim.tv_nsec, ==, after.st_mtim.tv_nsec);
	g_assert_cmpint(before.st_ino, ==, after.st_ino);

	/* changed while down */
	g_clear_pointer(&fx.agent, exm_ua_agent_free);
	fake_cp_set_target(fx.cp, AGENT_UUID, "demo_vm", VM_TARGET2);
	fx_start_agent(&fx);
	run_iterations(&fx, 1);
	g_assert_cmpint(last_it(&fx)->outcome, ==, EXM_UA_OUTCOME_OK);
	g_assert_false(last_it(&fx)->light);
	g_assert_true(last_it(&fx)->saved);
	assert_no_violations(&fx);
	fx_clear(&fx);
}

/* Stopping while a long poll is held cancels it; nothing runs afterwards. */
static void
test_stop_in_flight(void)
{
	Fx fx = { 0 };

	fx_init(&fx, NULL, "long_poll = true\nlong_poll_wait = 10\n");
	fake_cp_accept_wait(fx.cp, TRUE);
	fx_converge(&fx);
	fake_cp_clear_log(fx.cp);
	/* let the next long poll reach the CP, then stop */
	while (fake_cp_log(fx.cp)->len == 0)
		g_main_context_iteration(NULL, TRUE);
	exm_ua_agent_stop(fx.agent);
	for (guint i = 0; i < 20; i++)
		g_main_context_iteration(NULL, FALSE);
	g_assert_cmpuint(fx.history->len, ==, 1);
	fx_clear(&fx);
}

/* The real mail driver refuses a delete whose value has no string uuid, with an
 * error and without a json-glib critical (fatal in tests). */
static void
test_mail_driver_remove_bad_uuid(void)
{
	const gchar *values[] = {
		"{}", "{\"uuid\": null}", "{\"uuid\": 5}", "{\"uuid\": {}}", "{\"uuid\": []}"
	};
	g_autofree gchar *dir = exm_test_mkdtemp("ua-mail-driver");
	g_autofree gchar *ini = g_build_filename(dir, "agent.conf", NULL);
	g_autofree gchar *text = g_strdup_printf("[dataplane]\nroot = %s\n", dir);
	g_autoptr(GError) error = NULL;
	ExmUaDriver *d;

	g_assert_true(g_file_set_contents(ini, text, -1, NULL));
	d = exm_dp_adapter_new(ini, &error);
	g_assert_no_error(error);
	for (guint i = 0; d != NULL && i < G_N_ELEMENTS(values); i++) {
		g_autoptr(JsonObject) value =
			exm_json_parse_object(values[i], strlen(values[i]), NULL);
		g_autoptr(GError) local = NULL;

		g_test_message("value %s", values[i]);
		g_assert_false(d->remove(d, EXM_DP_DRIVER_KIND, value, &local));
		g_assert_error(local, EXM_DP_ERROR, EXM_DP_ERROR_INVALID);
	}
	if (d != NULL)
		d->destroy(d);
	exm_test_rmtree(dir);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	/* The agent logs CP outages and injected failures as warnings by design;
	 * criticals stay fatal (G_DEBUG=fatal-criticals). */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	g_log_set_default_handler(count_log, NULL);
	g_test_add_func("/ua/agent/transcript-converge-then-light", test_transcript_converge);
	g_test_add_func("/ua/agent/register-409-put", test_register_conflict);
	g_test_add_func("/ua/agent/reregister-on-404", test_reregister_on_404);
	g_test_add_func("/ua/agent/update-and-delete", test_update_and_delete);
	g_test_add_func("/ua/agent/status-post-409-put", test_status_post_conflict);
	g_test_add_func("/ua/agent/driver-failure-keeps-rows", test_driver_failure_keeps_rows);
	g_test_add_func("/ua/agent/envelope", test_envelope);
	g_test_add_func("/ua/agent/envelope-required", test_envelope_required);
	g_test_add_func("/ua/agent/envelope-plain-answer-refused",
			test_envelope_plain_answer_refused);
	g_test_add_func("/ua/agent/answer-chunked", test_answer_chunked);
	g_test_add_func("/ua/agent/replay-old-payload", test_replay_old_payload);
	g_test_add_func("/ua/agent/replay-old-payload-offloaded",
			test_replay_old_payload_offloaded);
	g_test_add_func("/ua/agent/replay-light-answer", test_replay_light_answer);
	g_test_add_func("/ua/agent/backoff-and-recovery", test_backoff_and_recovery);
	g_test_add_func("/ua/agent/long-poll", test_long_poll);
	g_test_add_func("/ua/agent/long-poll-ignored-by-cp", test_long_poll_ignored);
	g_test_add_func("/ua/agent/long-poll-refused-by-cp", test_long_poll_refused_by_cp);
	g_test_add_func("/ua/agent/long-poll-kept-after-outage", test_long_poll_kept_after_outage);
	g_test_add_func("/ua/agent/verify-node-refused", test_verify_node_refused);
	g_test_add_func("/ua/agent/verify-node-off", test_verify_node_off);
	g_test_add_func("/ua/agent/light-payload-targets-gone", test_light_payload_targets_gone);
	g_test_add_func("/ua/agent/light-payload-repairs-drift", test_light_payload_repairs_drift);
	g_test_add_func("/ua/agent/light-payload-saves-snapshot",
			test_light_payload_saves_snapshot);
	g_test_add_func("/ua/agent/idle-iterations", test_idle_iterations);
	g_test_add_func("/ua/agent/change-from-marks", test_change_from_marks);
	g_test_add_func("/ua/agent/change-after-change", test_change_after_change);
	g_test_add_func("/ua/agent/change-while-live-moves", test_change_while_live_moves);
	g_test_add_func("/ua/agent/reconcile-failed-update-reports-dp",
			test_reconcile_failed_update_reports_dp);
	g_test_add_func("/ua/agent/reconcile-never-applies-marks",
			test_reconcile_never_applies_marks);
	g_test_add_func("/ua/agent/facts-values-not-kept", test_facts_values_not_kept);
	g_test_add_func("/ua/agent/reload-identity", test_reload_identity);
	g_test_add_func("/ua/agent/restart-resumes", test_restart_resumes);
	g_test_add_func("/ua/agent/stop-in-flight", test_stop_in_flight);
	g_test_add_func("/ua/agent/mail-driver-remove-bad-uuid", test_mail_driver_remove_bad_uuid);
	return g_test_run();
}
