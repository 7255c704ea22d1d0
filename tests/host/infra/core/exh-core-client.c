/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The `core` backend's HTTP client and IAM token (exh-core-client.h).
 */
#include "exh-core-client.h"

#include <libsoup/soup.h>
#include <string.h>

#include "exh-error.h"
#include "exh-metrics.h"
#include "exm-json.h"
#include "exm-secret.h"

/* Renew this long (at most a quarter of its life) before Core's expiry. */
#define RENEW_MARGIN_US (10 * G_USEC_PER_SEC)
#define MAX_ANSWER	(16 * 1024 * 1024)

struct _ExhCoreClient {
	const ExhCoreConfig *config;
	SoupSession *session;
	gchar *access;	/* secret */
	gchar *refresh; /* secret */
	gint64 expires; /* monotonic us */
	GMutex stats_lock;
	ExhCoreStats stats;
};

ExhCoreClient *
exh_core_client_new(const ExhCoreConfig *config)
{
	ExhCoreClient *client = g_new0(ExhCoreClient, 1);
	guint timeout = MAX(1u, (config->timeout_ms + 999) / 1000);

	client->config = config;
	client->session = soup_session_new_with_options(
		"timeout", timeout, "idle-timeout", 60, "proxy-resolver", NULL, NULL);
	g_mutex_init(&client->stats_lock);
	return client;
}

static void
forget_token(ExhCoreClient *client)
{
	exm_secret_free(client->access);
	client->access = NULL;
	client->expires = 0;
}

void
exh_core_client_free(ExhCoreClient *client)
{
	if (client == NULL)
		return;
	forget_token(client);
	exm_secret_free(client->refresh);
	g_object_unref(client->session);
	g_mutex_clear(&client->stats_lock);
	g_free(client);
}

ExhCoreStats
exh_core_client_get_stats(ExhCoreClient *client)
{
	ExhCoreStats stats;

	g_mutex_lock(&client->stats_lock);
	stats = client->stats;
	g_mutex_unlock(&client->stats_lock);
	return stats;
}

static void
count(ExhCoreClient *client, guint64 *counter)
{
	g_mutex_lock(&client->stats_lock);
	(*counter)++;
	g_mutex_unlock(&client->stats_lock);
}

/* Core's restalchemy error body, for the message: "<type>: <message>". */
static gchar *
describe_error(GBytes *answer)
{
	gsize len = 0;
	const gchar *data = answer != NULL ? g_bytes_get_data(answer, &len) : NULL;
	g_autoptr(JsonObject) obj = data != NULL ? exm_json_parse_object(data, len, NULL) : NULL;
	const gchar *type = NULL, *message = NULL;

	if (obj == NULL || !exm_json_get_string(obj, "type", FALSE, &type, NULL, NULL) ||
	    !exm_json_get_string(obj, "message", FALSE, &message, NULL, NULL) || type == NULL)
		return g_strdup("no restalchemy error body");
	return g_strdup_printf("%s: %s", type, message != NULL ? message : "");
}

/* One exchange; the answer is NULL on a transport failure (error set). */
static GBytes *
send(ExhCoreClient *client, SoupMessage *msg, GError **error)
{
	g_autoptr(GError) local = NULL;
	gint64 start = g_get_monotonic_time();
	GBytes *answer = soup_session_send_and_read(client->session, msg, NULL, &local);
	g_autofree gchar *call = g_strconcat(
		soup_message_get_method(msg), " ", g_uri_get_path(soup_message_get_uri(msg)), NULL);
	g_autofree gchar *tmpl = exh_metrics_route_template(call);

	exh_metrics_observe_http_call("core",
				      tmpl,
				      answer != NULL,
				      soup_message_get_status(msg),
				      g_get_monotonic_time() - start);

	if (answer == NULL) {
		g_set_error(
			error, EXH_ERROR, EXH_ERROR_FAILED, "core unreachable: %s", local->message);
		return NULL;
	}
	if (g_bytes_get_size(answer) > MAX_ANSWER) {
		g_bytes_unref(answer);
		g_set_error(error, EXH_ERROR, EXH_ERROR_FAILED, "core answer too large");
		return NULL;
	}
	return answer;
}

static void
wipe_free(gpointer data)
{
	exm_secret_free(data);
}

/* Frees an answer that held a secret: its bytes are wiped first. */
static void
answer_wipe(GBytes *answer)
{
	gsize len = 0;
	gpointer data;

	if (answer == NULL)
		return;
	data = g_bytes_unref_to_data(answer, &len);
	exm_secret_wipe(data, len);
	g_free(data);
}

static void
form_add(GString *form, const gchar *key, const gchar *value)
{
	g_autofree gchar *escaped = g_uri_escape_string(value, NULL, FALSE);

	if (form->len > 0)
		g_string_append_c(form, '&');
	g_string_append_printf(form, "%s=%s", key, escaped);
	exm_secret_wipe(escaped, strlen(escaped));
}

/* The grant's form body (a secret), as bytes that wipe themselves. */
static GBytes *
grant_form(ExhCoreClient *client, gboolean use_refresh)
{
	const ExhCoreConfig *c = client->config;
	GString *form = g_string_sized_new(256);
	g_autofree gchar *scope = g_strconcat("project:", c->project, NULL);
	g_autofree gchar *ttl = g_strdup_printf("%u", c->token_ttl);
	gchar *data;
	gsize len;

	if (use_refresh) {
		form_add(form, "grant_type", "refresh_token");
		form_add(form, "refresh_token", client->refresh);
	} else {
		form_add(form, "grant_type", "password");
		form_add(form, "username", c->user);
		form_add(form, "password", c->password);
	}
	form_add(form, "client_id", c->client_id);
	form_add(form, "client_secret", c->client_secret);
	form_add(form, "scope", scope);
	form_add(form, "ttl", ttl);
	len = form->len;
	data = g_string_free(form, FALSE);
	return g_bytes_new_with_free_func(data, len, wipe_free, data);
}

static gboolean
take_token(ExhCoreClient *client, GBytes *answer, GError **error)
{
	gsize len = 0;
	const gchar *data = g_bytes_get_data(answer, &len);
	g_autoptr(JsonObject) obj = exm_json_parse_object(data, len, NULL);
	const gchar *access = NULL, *refresh = NULL;
	gint64 expires_in = 0;

	if (obj == NULL || !exm_json_get_string(obj, "access_token", FALSE, &access, NULL, NULL) ||
	    access == NULL || *access == '\0' ||
	    !exm_json_get_string(obj, "refresh_token", TRUE, &refresh, NULL, NULL) ||
	    !exm_json_get_int(obj, "expires_in", &expires_in, NULL, NULL) || expires_in <= 0) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_FAILED,
			    "core token answer is not {access_token, expires_in, …}");
		return FALSE;
	}
	forget_token(client);
	client->access = g_strdup(access);
	client->expires = g_get_monotonic_time() + expires_in * G_USEC_PER_SEC -
			  MIN(RENEW_MARGIN_US, expires_in * G_USEC_PER_SEC / 4);
	exm_secret_free(client->refresh);
	client->refresh = g_strdup(refresh);
	return TRUE;
}

static gboolean
grant(ExhCoreClient *client, gboolean use_refresh, GError **error)
{
	const ExhCoreConfig *c = client->config;
	g_autofree gchar *url = g_strdup_printf(
		"%s/v1/iam/clients/%s/actions/get_token/invoke", c->endpoint, c->client_uuid);
	g_autoptr(SoupMessage) msg = soup_message_new("POST", url);
	g_autoptr(GBytes) form = NULL;
	GBytes *answer;
	guint status;
	gboolean ok;

	if (msg == NULL) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "core endpoint %s: bad url",
			    c->endpoint);
		return FALSE;
	}
	form = grant_form(client, use_refresh);
	soup_message_set_request_body_from_bytes(msg, "application/x-www-form-urlencoded", form);
	count(client, &client->stats.grants);
	answer = send(client, msg, error);
	if (answer == NULL)
		return FALSE;
	status = soup_message_get_status(msg);
	if (status != 200) {
		g_autofree gchar *why = describe_error(answer);

		answer_wipe(answer);
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_FAILED,
			    "core refused the %s grant (%u %s)",
			    use_refresh ? "refresh token" : "password",
			    status,
			    why);
		return FALSE;
	}
	ok = take_token(client, answer, error);
	answer_wipe(answer);
	return ok;
}

/* A valid token: the cached one, else refresh (when Core gave one), else password. */
static gboolean
ensure_token(ExhCoreClient *client, gboolean force, GError **error)
{
	if (!force && client->access != NULL && g_get_monotonic_time() < client->expires)
		return TRUE;
	forget_token(client);
	if (client->refresh != NULL && grant(client, TRUE, NULL))
		return TRUE;
	exm_secret_free(client->refresh);
	client->refresh = NULL;
	return grant(client, FALSE, error);
}

static SoupMessage *
request_new(ExhCoreClient *client, const gchar *method, const gchar *path, JsonNode *body)
{
	g_autofree gchar *url = g_strconcat(client->config->endpoint, path, NULL);
	g_autofree gchar *bearer = g_strconcat("Bearer ", client->access, NULL);
	SoupMessage *msg = soup_message_new(method, url);

	if (msg == NULL)
		return NULL;
	soup_message_headers_replace(
		soup_message_get_request_headers(msg), "Authorization", bearer);
	exm_secret_wipe(bearer, strlen(bearer));
	if (body != NULL) {
		gchar *text = exm_json_to_string(body);
		gsize len = strlen(text);
		g_autoptr(GBytes) bytes = g_bytes_new_take(text, len);

		soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
	}
	return msg;
}

/* A 2xx body must be JSON; 204 and an empty body give NULL. */
static gboolean
parse_answer(GBytes *answer, guint status, JsonNode **out_json, GError **error)
{
	gsize len = 0;
	const gchar *data = g_bytes_get_data(answer, &len);
	g_autoptr(GError) local = NULL;
	JsonNode *node;

	if (out_json == NULL || status == 204 || len == 0)
		return TRUE;
	node = exm_json_parse_strict(data, len, &local);
	if (node == NULL) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_FAILED,
			    "core answered %u with a body that is not json: %s",
			    status,
			    local != NULL ? local->message : "empty");
		return FALSE;
	}
	*out_json = node;
	return TRUE;
}

static GBytes *
exchange(ExhCoreClient *client,
	 const gchar *method,
	 const gchar *path,
	 JsonNode *body,
	 guint *out_status,
	 GError **error)
{
	g_autoptr(SoupMessage) msg = NULL;
	GBytes *answer;

	if (!ensure_token(client, FALSE, error))
		return NULL;
	msg = request_new(client, method, path, body);
	if (msg == NULL) {
		g_set_error(
			error, EXH_ERROR, EXH_ERROR_FAILED, "core %s %s: bad url", method, path);
		return NULL;
	}
	count(client, g_str_equal(method, "GET") ? &client->stats.reads : &client->stats.writes);
	answer = send(client, msg, error);
	*out_status = answer != NULL ? soup_message_get_status(msg) : 0;
	return answer;
}

gboolean
exh_core_client_call(ExhCoreClient *client,
		     const gchar *method,
		     const gchar *path,
		     JsonNode *body,
		     guint *out_status,
		     JsonNode **out_json,
		     GError **error)
{
	g_autoptr(GBytes) answer = NULL;
	g_autofree gchar *why = NULL;

	if (out_json != NULL)
		*out_json = NULL;
	answer = exchange(client, method, path, body, out_status, error);
	if (answer != NULL && *out_status == 401) {
		/* stale or revoked: one new token, one retry */
		g_clear_pointer(&answer, g_bytes_unref);
		if (!ensure_token(client, TRUE, error))
			goto failed;
		answer = exchange(client, method, path, body, out_status, error);
	}
	if (answer == NULL)
		goto failed;
	if (*out_status == 404)
		return TRUE;
	if (SOUP_STATUS_IS_SUCCESSFUL(*out_status)) {
		if (parse_answer(answer, *out_status, out_json, error))
			return TRUE;
		goto failed;
	}
	why = describe_error(answer);
	g_set_error(error, EXH_ERROR, EXH_ERROR_FAILED, "answered %u (%s)", *out_status, why);
failed:
	g_prefix_error(error, "core %s %s: ", method, path);
	return FALSE;
}
