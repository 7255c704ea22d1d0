/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-iam-core.h"

#include "exh-jwks.h"
#include "exh-jwt.h"
#include "exh-log.h"
#include "exh-metrics.h"
#include "exm-error.h"
#include "exm-json.h"
#include "exm-secret.h"
#include "exm-uuid.h"

#include <libsoup/soup.h>
#include <string.h>

/* The longest introspection or JWKS answer read (a few KiB in practice). */
#define ANSWER_MAX (256 * 1024)

/* One authentication in progress. */
typedef struct {
	ExhIamCore *core;
	gchar *token;
	gchar *otp;
	gchar *digest;
	ExhJwt *jwt;
	gboolean refetched;
	ExhIdentityCallback callback;
	gpointer data;
} Auth;

/* One call to actions/introspect, answering every Auth waiting on it. */
typedef struct {
	ExhIamCore *core;
	gchar *digest; /* NULL when not shared (X-OTP) */
	GPtrArray *waiters;
	SoupMessage *msg;
	gint64 started_us;
} Introspection;

typedef struct {
	ExhIdentity *identity;
	gint64 expires_us;
} CacheEntry;

struct _ExhIamCore {
	gint ref_count; /* the owner's, and one per call in flight */
	gchar *endpoint;
	gchar *audience;
	GBytes *decryption_key;
	ExhIamCoreConfig config;
	SoupSession *session;
	GCancellable *cancellable;
	ExhJwks *jwks;
	gint64 jwks_at_us;
	gint64 jwks_started_us;
	gboolean jwks_fetching;
	GPtrArray *jwks_waiters; /* Auth */
	GHashTable *cache;	 /* digest → CacheEntry */
	GHashTable *inflight;	 /* digest → Introspection */
	GQueue queued;		 /* Introspection */
	guint active;
	ExhIamCoreStats stats;
};

static void
auth_free(Auth *auth)
{
	if (auth->token != NULL)
		exm_secret_free(auth->token);
	g_free(auth->otp);
	g_free(auth->digest);
	g_clear_pointer(&auth->jwt, exh_jwt_free);
	g_free(auth);
}

/* GFunc: an Auth nobody will answer (the owner is gone). */
static void
auth_drop(gpointer auth, gpointer unused)
{
	auth_free(auth);
}

static void
auth_finish(Auth *auth, ExhIdentity *identity, const GError *error)
{
	auth->callback(identity, error, auth->data);
	auth_free(auth);
}

static void
auth_fail(Auth *auth, gint code, const gchar *reason)
{
	g_autoptr(GError) error = NULL;

	/* the reason is logged; the answer says what gcl_iam says (never the token) */
	exh_log(G_LOG_LEVEL_MESSAGE, NULL, "iam: token refused: %s", reason);
	if (code == EXM_ERROR_INVALID_TOKEN)
		error = g_error_new_literal(
			EXM_ERROR, code, "Auth token has expired or is invalid");
	else
		error = g_error_new(
			EXM_ERROR, code, "The identity service is unavailable: %s.", reason);
	auth_finish(auth, NULL, error);
}

static void
cache_entry_free(gpointer p)
{
	CacheEntry *entry = p;

	exh_identity_unref(entry->identity);
	g_free(entry);
}

static void
introspection_free(Introspection *in)
{
	g_clear_object(&in->msg);
	g_ptr_array_unref(in->waiters);
	g_free(in->digest);
	g_free(in);
}

static void
core_unref(ExhIamCore *core)
{
	if (!g_atomic_int_dec_and_test(&core->ref_count))
		return;
	g_hash_table_unref(core->inflight);
	g_ptr_array_unref(core->jwks_waiters);
	g_hash_table_unref(core->cache);
	g_clear_pointer(&core->jwks, exh_jwks_free);
	g_clear_object(&core->session);
	g_clear_object(&core->cancellable);
	g_clear_pointer(&core->decryption_key, g_bytes_unref);
	g_free(core->endpoint);
	g_free(core->audience);
	g_free(core);
}

ExhIamCore *
exh_iam_core_new(const ExhIamCoreConfig *config)
{
	ExhIamCore *core = g_new0(ExhIamCore, 1);

	core->ref_count = 1;
	core->config = *config;
	core->endpoint = g_str_has_suffix(config->endpoint, "/")
				 ? g_strdup(config->endpoint)
				 : g_strconcat(config->endpoint, "/", NULL);
	core->audience = g_strdup(config->audience);
	core->decryption_key =
		config->decryption_key != NULL ? g_bytes_ref(config->decryption_key) : NULL;
	core->config.endpoint = core->endpoint;
	core->config.audience = core->audience;
	core->config.decryption_key = core->decryption_key;
	core->config.max_concurrent = MAX(config->max_concurrent, 1);
	core->cancellable = g_cancellable_new();
	core->jwks_waiters = g_ptr_array_new();
	core->cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, cache_entry_free);
	core->inflight = g_hash_table_new(g_str_hash, g_str_equal);
	g_queue_init(&core->queued);
	return core;
}

void
exh_iam_core_get_stats(ExhIamCore *core, ExhIamCoreStats *stats)
{
	*stats = core->stats;
	stats->cached = g_hash_table_size(core->cache);
}

/* Created in the thread that serves, so its callbacks run there. */
static SoupSession *
session(ExhIamCore *core)
{
	if (core->session == NULL)
		core->session = soup_session_new_with_options("timeout",
							      core->config.timeout_s,
							      "idle-timeout",
							      60,
							      "max-conns-per-host",
							      core->config.max_concurrent + 2,
							      "user-agent",
							      "exordos-paas-host",
							      NULL);
	return core->session;
}

/* ------------------------------------------------------------ the cache */

static void
cache_sweep(ExhIamCore *core, gint64 now)
{
	GHashTableIter iter;
	CacheEntry *entry;

	g_hash_table_iter_init(&iter, core->cache);
	while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&entry)) {
		if (entry->expires_us <= now)
			g_hash_table_iter_remove(&iter);
	}
}

static ExhIdentity *
cache_lookup(ExhIamCore *core, const gchar *digest)
{
	CacheEntry *entry = g_hash_table_lookup(core->cache, digest);

	if (entry == NULL)
		return NULL;
	if (entry->expires_us <= g_get_real_time()) {
		g_hash_table_remove(core->cache, digest);
		return NULL;
	}
	return entry->identity;
}

/* The entry that would expire first: the one a full cache gives up. */
static void
cache_evict_soonest(ExhIamCore *core)
{
	GHashTableIter iter;
	const gchar *digest, *soonest = NULL;
	CacheEntry *entry;
	gint64 first = G_MAXINT64;

	g_hash_table_iter_init(&iter, core->cache);
	while (g_hash_table_iter_next(&iter, (gpointer *)&digest, (gpointer *)&entry)) {
		if (entry->expires_us < first) {
			first = entry->expires_us;
			soonest = digest;
		}
	}
	if (soonest != NULL)
		g_hash_table_remove(core->cache, soonest);
}

/*
 * Kept for the TTL, never past the token's own expiry, and at most cache_max
 * entries: a full cache first drops what expired, then what expires first, so
 * a flood of distinct tokens costs calls, not memory.
 */
static void
cache_store(ExhIamCore *core, const gchar *digest, gint64 exp, ExhIdentity *identity)
{
	gint64 now = g_get_real_time();
	CacheEntry *entry;

	if (core->config.cache_ttl_s == 0 || core->config.cache_max == 0 || digest == NULL)
		return;
	if (g_hash_table_size(core->cache) >= core->config.cache_max)
		cache_sweep(core, now);
	while (g_hash_table_size(core->cache) >= core->config.cache_max)
		cache_evict_soonest(core);
	entry = g_new0(CacheEntry, 1);
	entry->identity = exh_identity_ref(identity);
	entry->expires_us =
		MIN(now + (gint64)core->config.cache_ttl_s * G_USEC_PER_SEC, exp * G_USEC_PER_SEC);
	g_hash_table_replace(core->cache, g_strdup(digest), entry);
}

/* ------------------------------------------------------- introspection */

static gchar **
permissions_from(JsonArray *array)
{
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonNode *e = json_array_get_element(array, i);

		if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING)
			return NULL;
		g_ptr_array_add(out, g_strdup(json_node_get_string(e)));
	}
	g_ptr_array_add(out, NULL);
	return (gchar **)g_ptr_array_free(g_steal_pointer(&out), FALSE);
}

/* `{"user_info": {"uuid", "type", …}, "project_id": uuid|null, "permissions": […]}` */
static ExhIdentity *
identity_from_answer(GBytes *body)
{
	gsize len;
	const gchar *data = g_bytes_get_data(body, &len);
	g_autoptr(JsonObject) root = exm_json_parse_object(data, len, NULL);
	JsonObject *user_info = NULL;
	JsonArray *permissions = NULL;
	const gchar *uuid = NULL;
	const gchar *type = NULL;
	const gchar *project = NULL;
	g_auto(GStrv) grants = NULL;

	if (root == NULL || !exm_json_get_object(root, "user_info", &user_info, NULL, NULL) ||
	    user_info == NULL ||
	    !exm_json_get_string(user_info, "uuid", FALSE, &uuid, NULL, NULL) ||
	    !exm_json_get_string(user_info, "type", TRUE, &type, NULL, NULL) ||
	    !exm_json_get_string(root, "project_id", TRUE, &project, NULL, NULL) ||
	    !exm_json_get_array(root, "permissions", &permissions, NULL, NULL) ||
	    permissions == NULL)
		return NULL;
	if (g_strcmp0(type, "anon") == 0)
		return exh_identity_new(NULL, NULL, NULL);
	if (uuid == NULL || !exm_uuid_is_valid(uuid) ||
	    (project != NULL && !exm_uuid_is_valid(project)))
		return NULL;
	grants = permissions_from(permissions);
	if (grants == NULL)
		return NULL;
	return exh_identity_new(uuid, project, (const gchar *const *)grants);
}

static void introspection_start(ExhIamCore *core, Introspection *in);

static void
drop_introspection(Introspection *in)
{
	g_ptr_array_foreach(in->waiters, auth_drop, NULL);
	g_ptr_array_set_size(in->waiters, 0);
	introspection_free(in);
}

static void
introspection_answer(Introspection *in, ExhIdentity *identity, gint code, const gchar *reason)
{
	ExhIamCore *core = in->core;

	if (in->digest != NULL)
		g_hash_table_remove(core->inflight, in->digest);
	for (guint i = 0; i < in->waiters->len; i++) {
		Auth *auth = in->waiters->pdata[i];

		if (identity != NULL)
			auth_finish(auth, identity, NULL);
		else
			auth_fail(auth, code, reason);
	}
	g_ptr_array_set_size(in->waiters, 0);
	introspection_free(in);
}

static void
introspected(GObject *source, GAsyncResult *result, gpointer data)
{
	Introspection *in = data;
	ExhIamCore *core = in->core;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) body =
		soup_session_send_and_read_finish(SOUP_SESSION(source), result, &error);
	g_autoptr(ExhIdentity) identity = NULL;
	guint status = soup_message_get_status(in->msg);

	exh_metrics_observe_http_call(
		"iam", "introspect", body != NULL, status, g_get_monotonic_time() - in->started_us);
	core->active--;
	if (g_cancellable_is_cancelled(core->cancellable)) {
		/* the owner is gone: nobody to answer */
		if (in->digest != NULL)
			g_hash_table_remove(core->inflight, in->digest);
		drop_introspection(in);
		core_unref(core);
		return;
	}
	if (error != NULL) {
		g_autofree gchar *reason =
			g_strdup_printf("introspection failed: %s", error->message);
		introspection_answer(in, NULL, EXM_ERROR_UNAVAILABLE, reason);
	} else if (status == 400 || status == 401 || status == 403 || status == 404) {
		introspection_answer(
			in, NULL, EXM_ERROR_INVALID_TOKEN, "introspection refused the token");
	} else if (status != 200 || g_bytes_get_size(body) > ANSWER_MAX ||
		   (identity = identity_from_answer(body)) == NULL) {
		g_autofree gchar *reason = g_strdup_printf(
			"introspection answered %u with an unexpected body", status);
		introspection_answer(in, NULL, EXM_ERROR_UNAVAILABLE, reason);
	} else {
		Auth *first = in->waiters->pdata[0];

		if (in->digest != NULL)
			cache_store(core, in->digest, first->jwt->exp, identity);
		introspection_answer(in, identity, 0, NULL);
	}
	if (core->active < core->config.max_concurrent && !g_queue_is_empty(&core->queued))
		introspection_start(core, g_queue_pop_head(&core->queued));
	core_unref(core);
}

static void
introspection_start(ExhIamCore *core, Introspection *in)
{
	Auth *first = in->waiters->pdata[0];
	g_autofree gchar *url = g_strconcat(core->endpoint, "actions/introspect", NULL);
	g_autofree gchar *bearer = g_strconcat("Bearer ", first->token, NULL);
	SoupMessageHeaders *headers;

	in->msg = soup_message_new(SOUP_METHOD_GET, url);
	headers = soup_message_get_request_headers(in->msg);
	soup_message_headers_replace(headers, "Authorization", bearer);
	if (first->otp != NULL)
		soup_message_headers_replace(headers, "X-OTP", first->otp);
	exm_secret_wipe(bearer, strlen(bearer));
	core->active++;
	core->stats.introspections++;
	in->started_us = g_get_monotonic_time();
	g_atomic_int_inc(&core->ref_count);
	soup_session_send_and_read_async(
		session(core), in->msg, G_PRIORITY_DEFAULT, core->cancellable, introspected, in);
}

/* From the cache, joined to a call in flight, or a call of its own. */
static void
introspect(Auth *auth)
{
	ExhIamCore *core = auth->core;
	gboolean shared = auth->otp == NULL;
	ExhIdentity *cached = shared ? cache_lookup(core, auth->digest) : NULL;
	Introspection *in;

	if (cached != NULL) {
		core->stats.cache_hits++;
		auth_finish(auth, cached, NULL);
		return;
	}
	in = shared ? g_hash_table_lookup(core->inflight, auth->digest) : NULL;
	if (in != NULL) {
		core->stats.coalesced++;
		g_ptr_array_add(in->waiters, auth);
		return;
	}
	in = g_new0(Introspection, 1);
	in->core = core;
	in->waiters = g_ptr_array_new();
	g_ptr_array_add(in->waiters, auth);
	if (shared) {
		in->digest = g_strdup(auth->digest);
		g_hash_table_insert(core->inflight, in->digest, in);
	}
	if (core->active < core->config.max_concurrent)
		introspection_start(core, in);
	else
		g_queue_push_tail(&core->queued, in);
}

/* ----------------------------------------------------------------- JWKS */

static void jwks_fetch(ExhIamCore *core, Auth *auth);

/* Signature with the cached keys; one refetch when they do not verify (a
 * rotated key), at most once per jwks_refresh_s. */
static void
verify(Auth *auth)
{
	ExhIamCore *core = auth->core;
	gint64 now = g_get_monotonic_time();
	gint64 age = now - core->jwks_at_us;

	if (core->jwks == NULL || age >= (gint64)core->config.jwks_ttl_s * G_USEC_PER_SEC) {
		jwks_fetch(core, auth);
		return;
	}
	if (exh_jwks_verify(core->jwks, auth->jwt, NULL)) {
		introspect(auth);
		return;
	}
	if (!auth->refetched && age >= (gint64)core->config.jwks_refresh_s * G_USEC_PER_SEC) {
		auth->refetched = TRUE;
		jwks_fetch(core, auth);
		return;
	}
	auth_fail(auth, EXM_ERROR_INVALID_TOKEN, "the signature does not verify");
}

static void
jwks_answer(ExhIamCore *core, const gchar *reason)
{
	g_autoptr(GPtrArray) waiters = g_steal_pointer(&core->jwks_waiters);

	core->jwks_waiters = g_ptr_array_new();
	core->jwks_fetching = FALSE;
	for (guint i = 0; i < waiters->len; i++) {
		Auth *auth = waiters->pdata[i];

		auth->refetched = TRUE;
		if (reason != NULL)
			auth_fail(auth, EXM_ERROR_UNAVAILABLE, reason);
		else
			verify(auth);
	}
}

static void
jwks_fetched(GObject *source, GAsyncResult *result, gpointer data)
{
	ExhIamCore *core = data;
	g_autoptr(GError) error = NULL;
	g_autoptr(SoupMessage) msg = NULL;
	g_autoptr(GBytes) body =
		soup_session_send_and_read_finish(SOUP_SESSION(source), result, &error);
	g_autoptr(ExhJwks) jwks = NULL;
	g_autofree gchar *reason = NULL;
	gsize len = 0;

	if (g_cancellable_is_cancelled(core->cancellable)) {
		g_ptr_array_foreach(core->jwks_waiters, auth_drop, NULL);
		g_ptr_array_set_size(core->jwks_waiters, 0);
		core_unref(core);
		return;
	}
	msg = g_object_steal_data(G_OBJECT(source), "exh-jwks-msg");
	exh_metrics_observe_http_call("iam",
				      "jwks",
				      body != NULL,
				      soup_message_get_status(msg),
				      g_get_monotonic_time() - core->jwks_started_us);
	if (error != NULL)
		reason = g_strdup_printf("JWKS fetch failed: %s", error->message);
	else if (soup_message_get_status(msg) != 200 || g_bytes_get_size(body) > ANSWER_MAX)
		reason = g_strdup_printf("JWKS fetch answered %u", soup_message_get_status(msg));
	if (reason == NULL) {
		const gchar *text = g_bytes_get_data(body, &len);

		jwks = exh_jwks_parse(text, len, core->decryption_key, &error);
		if (jwks == NULL)
			reason = g_strdup_printf("JWKS unusable: %s", error->message);
	}
	if (jwks != NULL) {
		g_clear_pointer(&core->jwks, exh_jwks_free);
		core->jwks = g_steal_pointer(&jwks);
		core->jwks_at_us = g_get_monotonic_time();
	}
	jwks_answer(core, reason);
	core_unref(core);
}

static void
jwks_fetch(ExhIamCore *core, Auth *auth)
{
	g_autofree gchar *url = NULL;
	SoupMessage *msg;

	g_ptr_array_add(core->jwks_waiters, auth);
	if (core->jwks_fetching)
		return;
	core->jwks_fetching = TRUE;
	core->jwks_started_us = g_get_monotonic_time();
	core->stats.jwks_fetches++;
	g_atomic_int_inc(&core->ref_count);
	url = g_strconcat(core->endpoint, "actions/jwks", NULL);
	msg = soup_message_new(SOUP_METHOD_GET, url);
	/* one fetch at a time: the session carries its message to the callback */
	g_object_set_data_full(G_OBJECT(session(core)), "exh-jwks-msg", msg, g_object_unref);
	soup_session_send_and_read_async(
		session(core), msg, G_PRIORITY_DEFAULT, core->cancellable, jwks_fetched, core);
}

/* ---------------------------------------------------------------- entry */

void
exh_iam_core_authenticate(ExhIamCore *core,
			  const gchar *token,
			  const gchar *otp,
			  ExhIdentityCallback callback,
			  gpointer data)
{
	Auth *auth = g_new0(Auth, 1);
	g_autoptr(GError) error = NULL;

	auth->core = core;
	auth->callback = callback;
	auth->data = data;
	auth->jwt = exh_jwt_parse(token, &error);
	if (auth->jwt == NULL || !exh_jwt_check_claims(auth->jwt,
						       core->audience,
						       g_get_real_time() / G_USEC_PER_SEC,
						       core->config.skew_s,
						       &error)) {
		auth_fail(auth, EXM_ERROR_INVALID_TOKEN, error->message);
		return;
	}
	auth->token = g_strdup(token);
	auth->otp = g_strdup(otp);
	auth->digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, token, -1);
	verify(auth);
}

void
exh_iam_core_free(ExhIamCore *core)
{
	Introspection *in;

	if (core == NULL)
		return;
	g_cancellable_cancel(core->cancellable);
	/* not started yet: dropped now; in flight: when their callbacks see the
	 * cancellation (each holds a reference) */
	while ((in = g_queue_pop_head(&core->queued)) != NULL) {
		if (in->digest != NULL)
			g_hash_table_remove(core->inflight, in->digest);
		drop_introspection(in);
	}
	core_unref(core);
}
