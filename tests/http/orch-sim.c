/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The Orch API load simulator: see orch-sim.h.
 */
#include "orch-sim.h"
#include "orch-sim-conn.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "exh-test.h"
#include "exm-envelope.h"
#include "exm-secret.h"
#include "exm-test-pg.h"
#include "exm-test.h"
#include "exm-ua-client.h"
#include "exm-ua-config.h"
#include "exm-ua-error.h"
#include "exm-ua-identity.h"
#include "exm-ua-payload.h"

/* the agents' identity name and their one capability kind */
#define SIM_UUID5_NAME "orchsim"
#define SIM_KIND       "sim_vm"
/* how often a simulator thread looks for setup steps to start; polls wake it
 * when they are due */
#define SIM_TICK_MS 2
/* key rows per INSERT */
#define SIM_KEY_BATCH 500
/* the real agent's backoff by default (backoff_initial, backoff_max), seconds */
#define SIM_BACKOFF_INITIAL 1.0
#define SIM_BACKOFF_MAX	    ((gdouble)EXM_UA_DEFAULT_BACKOFF_MAX)

/* ------------------------------------------------------------------ host */

static gchar *
host_config_text(const gint *ports,
		 const gchar *conninfo,
		 guint max,
		 guint idle_ms,
		 const gchar *extra)
{
	g_autofree gchar *idle =
		idle_ms > 0 ? g_strdup_printf("idle_timeout_ms = %u\n", idle_ms) : g_strdup("");

	return g_strdup_printf("[host]\nport = %d\nmax_connections = %u\n"
			       "max_connections_per_address = %u\n%s%s"
			       "[db]\nconninfo = %s\n"
			       "[agent_api]\nenabled = true\norch_port = %d\nstatus_port = %d\n",
			       ports[0],
			       max,
			       max,
			       idle,
			       extra != NULL ? extra : "",
			       conninfo,
			       ports[1],
			       ports[2]);
}

/* The Status API accepts connections once the host has migrated and started. */
static gboolean
host_wait_up(OrchSimHost *host, guint orch, guint status, GError **error)
{
	gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;

	while (g_get_monotonic_time() < deadline) {
		if (kill(host->pid, 0) != 0)
			break;
		if (exm_test_can_connect("127.0.0.1", orch) &&
		    exm_test_can_connect("127.0.0.1", status))
			return TRUE;
		g_usleep(50 * 1000);
	}
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "the host did not come up");
	return FALSE;
}

static gboolean
host_spawn(OrchSimHost *host, const gchar *conf, gboolean pin, GError **error)
{
	g_autofree gchar *exe = exh_test_host_path();
	g_autofree gchar *taskset = pin ? exm_test_find_program("taskset") : NULL;
	const gchar *pinned[] = { taskset, "-c", "0", exe, "--config", conf, NULL };
	const gchar *plain[] = { exe, "--config", conf, NULL };

	/* taskset execs the host: the same pid, and every thread on CPU 0 */
	host->pinned = taskset != NULL;
	host->proc = exh_test_spawn(taskset != NULL ? pinned : plain, error);
	if (host->proc == NULL)
		return FALSE;
	host->pid = (GPid)g_ascii_strtoll(g_subprocess_get_identifier(host->proc), NULL, 10);
	return TRUE;
}

OrchSimHost *
orch_sim_host_start(const gchar *dir,
		    guint max_connections,
		    guint idle_timeout_ms,
		    const gchar *host_extra,
		    gboolean pin,
		    GError **error)
{
	ExmTestPg *pg = exm_test_pg_get();
	g_autoptr(OrchSimHost) host = NULL;
	gint ports[3] = { exm_test_free_port(), exm_test_free_port(), exm_test_free_port() };
	g_autofree gchar *text = NULL;
	g_autofree gchar *conf = g_build_filename(dir, "host.conf", NULL);

	if (pg == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no PostgreSQL");
		return NULL;
	}
	host = g_new0(OrchSimHost, 1);
	host->conninfo = exm_test_pg_create_database(pg, error);
	if (host->conninfo == NULL || ports[0] < 0 || ports[1] < 0 || ports[2] < 0)
		return NULL;
	host->orch_port = (guint)ports[1];
	host->orch_url = g_strdup_printf("http://127.0.0.1:%d", ports[1]);
	host->status_url = g_strdup_printf("http://127.0.0.1:%d", ports[2]);
	text = host_config_text(
		ports, host->conninfo, max_connections, idle_timeout_ms, host_extra);
	if (!g_file_set_contents_full(
		    conf, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error) ||
	    !host_spawn(host, conf, pin, error) ||
	    !host_wait_up(host, (guint)ports[1], (guint)ports[2], error))
		return NULL;
	return g_steal_pointer(&host);
}

void
orch_sim_host_stop(OrchSimHost *host)
{
	if (host == NULL)
		return;
	exh_test_stop(&host->proc);
	g_free(host->conninfo);
	g_free(host->orch_url);
	g_free(host->status_url);
	g_free(host);
}

guint64
orch_sim_status_kib(GPid pid, const gchar *field)
{
	g_autofree gchar *path = g_strdup_printf("/proc/%d/status", (gint)pid);
	g_autofree gchar *text = NULL;
	const gchar *line;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return 0;
	line = strstr(text, field);
	return line != NULL ? g_ascii_strtoull(line + strlen(field), NULL, 10) : 0;
}

gdouble
orch_sim_cpu_seconds(GPid pid)
{
	g_autofree gchar *path = g_strdup_printf("/proc/%d/stat", (gint)pid);
	g_autofree gchar *text = NULL;
	g_auto(GStrv) fields = NULL;
	const gchar *rest;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return 0;
	/* after the command's closing parenthesis: state is field 3, utime 14, stime 15 */
	rest = strrchr(text, ')');
	if (rest == NULL)
		return 0;
	fields = g_strsplit(rest + 2, " ", 16);
	if (g_strv_length(fields) < 14)
		return 0;
	return (gdouble)(g_ascii_strtoull(fields[11], NULL, 10) +
			 g_ascii_strtoull(fields[12], NULL, 10)) /
	       (gdouble)sysconf(_SC_CLK_TCK);
}

gdouble
orch_sim_wait_seconds(GPid pid)
{
	guint64 cpu_ns, wait_ns;

	exm_test_schedstat(pid, &cpu_ns, &wait_ns);
	return (gdouble)wait_ns / 1e9;
}

/* ------------------------------------------------------------- simulator */

typedef enum {
	PHASE_REGISTER,
	PHASE_PAYLOAD,
	PHASE_POLL,
	PHASE_STOP,
} Phase;

typedef enum {
	AGENT_NEW,
	AGENT_REGISTERING,
	AGENT_REGISTERED,
	AGENT_FETCHING,
	AGENT_READY,
	AGENT_FAILED,
} AgentState;

typedef struct _SimThread SimThread;

typedef struct {
	SimThread *thread;
	guint index; /* among all agents: its phase in the period */
	gchar *node;
	gchar *uuid;
	gchar *name;
	gchar *key_path;
	ExmUaClient *client;
	OrchSimConn *conn; /* its polls' connection, once polling */
	AgentState state;
	gchar *hash; /* the collected (hash, version) a poll sends */
	gint64 version;
	gint64 due;	/* monotonic µs of its next poll */
	gint64 started; /* of the request in flight, 0 when none */
	gboolean counted;
	gboolean pending; /* a poll came due while one was in flight */
	guint failures;	  /* of its setup step in a row (the agent's backoff) */
	gint64 retry_at;  /* monotonic µs: its setup step is tried again then */
} SimAgent;

struct _SimThread {
	OrchSim *sim;
	GThread *thread;
	GMainContext *context;
	GMainLoop *loop;
	GSource *tick;	       /* ready when the thread has something to start */
	OrchSimPoller *poller; /* the polls' connections */
	gint64 next_expiry;    /* monotonic µs: look for polls past their timeout then */
	GPtrArray *agents;     /* SimAgent, in phase order */
	guint next_register;
	guint next_fetch;
	guint cursor;
	guint in_flight;
	/* figures, merged by orch_sim_stats() after the thread ended */
	GArray *latencies;
	GHashTable *errors;
	GHashTable *retries; /* setup failures the agent tried again, by kind */
	GPtrArray *waiting;  /* SimAgent backing off before its setup step again */
	GPtrArray *renew;    /* SimAgent registered, its connections to close */
	guint registered;
	guint first_full;
	guint64 light;
	guint64 full;
	guint64 requests;
	guint64 late;
};

struct _OrchSim {
	OrchSimConfig config;
	OrchSimHost *host;
	GPtrArray *threads; /* SimThread */
	gint phase;	    /* Phase, atomic */
	gint settled;	    /* agents registered or failed, then fetched or failed; atomic */
	gint64 epoch;	    /* µs: the polls' period starts here (set before PHASE_POLL) */
	gint64 window_start;
	gint64 window_end;
};

static void
agent_free(gpointer data)
{
	SimAgent *a = data;

	g_clear_pointer(&a->conn, orch_sim_conn_free);
	g_clear_pointer(&a->client, exm_ua_client_free);
	g_free(a->node);
	g_free(a->uuid);
	g_free(a->name);
	g_free(a->key_path);
	g_free(a->hash);
	g_free(a);
}

static void
count_kind(GHashTable *table, const gchar *kind)
{
	gpointer old = g_hash_table_lookup(table, kind);

	g_hash_table_replace(table, g_strdup(kind), GSIZE_TO_POINTER(GPOINTER_TO_SIZE(old) + 1));
}

static void
count_error(SimThread *t, const gchar *kind)
{
	count_kind(t->errors, kind);
}

/* The kind of a failed request: transport (by GIOErrorEnum nick), refused, protocol,
 * or the HTTP status. */
static gchar *
failure_kind(const gchar *what, const ExmUaResponse *resp, const GError *error)
{
	gchar *kind;

	if (error != NULL && error->domain == G_IO_ERROR) {
		GEnumClass *klass = g_type_class_ref(G_TYPE_IO_ERROR_ENUM);
		GEnumValue *v = g_enum_get_value(klass, error->code);

		kind = g_strdup_printf("%s: transport %s", what, v != NULL ? v->value_nick : "?");
		g_type_class_unref(klass);
	} else if (g_error_matches(error, EXM_UA_ERROR, EXM_UA_ERROR_REFUSED)) {
		kind = g_strdup_printf("%s: refused", what);
	} else if (error != NULL) {
		kind = g_strdup_printf("%s: %s", what, error->message);
	} else {
		kind = g_strdup_printf("%s: http %u", what, resp != NULL ? resp->status : 0);
	}
	return kind;
}

static void
count_failure(SimThread *t, const gchar *what, const ExmUaResponse *resp, const GError *error)
{
	g_autofree gchar *kind = failure_kind(what, resp, error);

	count_error(t, kind);
}

/*
 * A setup step that failed in a way the real agent outlives (a 503 of a full
 * queue, a transport error) is tried again after the agent's backoff
 * (agent_backoff() in agent/ua/exm-ua-agent.c: from 1 s, doubling, at most
 * 10 s, jittered to [d/2, d]); it is counted among the retries, not the
 * errors.  @state is what the agent goes back to.  Returns %FALSE for any
 * other failure, which fails the agent.
 */
static gboolean
agent_retry(SimAgent *a,
	    AgentState state,
	    const gchar *what,
	    const ExmUaResponse *resp,
	    const GError *error)
{
	g_autofree gchar *kind = NULL;
	gdouble d = SIM_BACKOFF_INITIAL;

	if (!(resp != NULL && resp->status == SOUP_STATUS_SERVICE_UNAVAILABLE) &&
	    !(error != NULL && error->domain == G_IO_ERROR))
		return FALSE;
	kind = failure_kind(what, resp, error);
	count_kind(a->thread->retries, kind);
	a->failures++;
	for (guint i = 1; i < a->failures && d < SIM_BACKOFF_MAX; i++)
		d *= 2;
	d = MIN(d, SIM_BACKOFF_MAX) * g_random_double_range(0.5, 1.0);
	a->retry_at = g_get_monotonic_time() + (gint64)(d * G_USEC_PER_SEC);
	a->state = state;
	g_ptr_array_add(a->thread->waiting, a);
	return TRUE;
}

static void
agent_settle(SimAgent *a, AgentState state)
{
	a->state = state;
	g_atomic_int_inc(&a->thread->sim->settled);
}

/* Ends a request: the answer, or %NULL with @error set (then counted). */
static ExmUaResponse *
agent_answer(SimAgent *a, GAsyncResult *res, GError **error)
{
	ExmUaResponse *resp = exm_ua_client_request_finish(a->client, res, error);

	a->thread->in_flight--;
	return resp;
}

static void
agent_request(SimAgent *a,
	      ExmUaApi api,
	      const gchar *method,
	      const gchar *path,
	      const gchar *query,
	      JsonNode *body,
	      GAsyncReadyCallback callback)
{
	a->thread->in_flight++;
	a->started = g_get_monotonic_time();
	exm_ua_client_request_async(a->client, api, method, path, query, body, NULL, callback, a);
}

/* The agent's POST body of §3.3, built by the agent library itself. */
static JsonNode *
registration_body(SimAgent *a)
{
	const ExmUaIdentity id = { a->node, a->uuid, a->name };
	g_autoptr(GPtrArray) kinds = g_ptr_array_new();

	g_ptr_array_add(kinds, (gpointer)SIM_KIND);
	return exm_ua_identity_registration_body(&id, kinds, TRUE);
}

static void
agent_posted(GObject *source, GAsyncResult *res, gpointer data)
{
	SimAgent *a = data;
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmUaResponse) resp = agent_answer(a, res, &error);

	if (resp == NULL || resp->status != SOUP_STATUS_CREATED) {
		if (agent_retry(a, AGENT_NEW, "register", resp, error))
			return;
		count_failure(a->thread, "register", resp, error);
		agent_settle(a, AGENT_FAILED);
		return;
	}
	a->failures = 0;
	a->thread->registered++;
	if (!a->thread->sim->config.keep_registrations)
		g_ptr_array_add(a->thread->renew, a);
	agent_settle(a, AGENT_REGISTERED);
}

/* The gcl_sdk fork's agent asks the node verifier first (§7.3). */
static void
agent_verified(GObject *source, GAsyncResult *res, gpointer data)
{
	SimAgent *a = data;
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmUaResponse) resp = agent_answer(a, res, &error);
	g_autoptr(JsonNode) body = NULL;

	if (resp == NULL || resp->status != SOUP_STATUS_OK) {
		if (agent_retry(a, AGENT_NEW, "verify", resp, error))
			return;
		count_failure(a->thread, "verify", resp, error);
		agent_settle(a, AGENT_FAILED);
		return;
	}
	body = registration_body(a);
	agent_request(a, EXM_UA_API_STATUS, "POST", "/v1/agents/", NULL, body, agent_posted);
}

static void
agent_register(SimAgent *a)
{
	g_autofree gchar *path = g_strdup_printf("/v1/node_verifiers/%s/actions/verify", a->node);

	a->state = AGENT_REGISTERING;
	agent_request(a, EXM_UA_API_STATUS, "GET", path, NULL, NULL, agent_verified);
}

static gchar *
agent_payload_path(SimAgent *a)
{
	return g_strdup_printf("/v1/agents/%s/actions/get_payload", a->uuid);
}

/* The agent's (hash, version), as it sends them (§4.1). */
static gchar *
agent_payload_query(SimAgent *a)
{
	g_autofree gchar *hash = g_uri_escape_string(a->hash, NULL, FALSE);

	return g_strdup_printf("hash=%s&version=%" G_GINT64_FORMAT, hash, a->version);
}

static void
agent_get_payload(SimAgent *a, GAsyncReadyCallback callback)
{
	g_autofree gchar *path = agent_payload_path(a);
	g_autofree gchar *query = agent_payload_query(a);

	agent_request(a, EXM_UA_API_ORCH, "GET", path, query, NULL, callback);
}

/* The answer to a get_payload as the agent reads it (§4.2), or %NULL (counted,
 * or, when @retried is given, maybe tried again: then *@retried is set). */
static ExmUaPayload *
agent_payload_of(SimAgent *a,
		 const gchar *what,
		 const ExmUaResponse *resp,
		 const GError *answer_error,
		 gboolean *retried)
{
	g_autoptr(GError) error = NULL;
	ExmUaPayload *payload;

	if (resp == NULL || resp->status != SOUP_STATUS_OK) {
		if (retried != NULL)
			*retried = agent_retry(a, AGENT_REGISTERED, what, resp, answer_error);
		if (retried == NULL || !*retried)
			count_failure(a->thread, what, resp, answer_error);
		return NULL;
	}
	payload = exm_ua_payload_from_json(resp->body, &error);
	if (payload == NULL)
		count_failure(a->thread, what, resp, error);
	return payload;
}

static ExmUaPayload *
agent_payload(SimAgent *a, const gchar *what, GAsyncResult *res, gboolean *retried)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmUaResponse) resp = agent_answer(a, res, &error);

	return agent_payload_of(a, what, resp, error, retried);
}

static void
agent_collect(SimAgent *a, const ExmUaPayload *payload)
{
	g_free(a->hash);
	a->hash = g_strdup(payload->hash);
	a->version = payload->version;
}

/* The first payload is full: the agent's basket with the target seeded for it. */
static void
agent_fetched(GObject *source, GAsyncResult *res, gpointer data)
{
	SimAgent *a = data;
	gboolean retried = FALSE;
	g_autoptr(ExmUaPayload) payload = agent_payload(a, "first get_payload", res, &retried);
	GPtrArray *basket;

	a->started = 0;
	if (payload == NULL) {
		if (!retried)
			agent_settle(a, AGENT_FAILED);
		return;
	}
	basket = exm_ua_payload_basket(payload, TRUE, SIM_KIND, FALSE);
	if (basket == NULL || basket->len != 1) {
		count_error(a->thread, "first get_payload: not the agent's full payload");
		agent_settle(a, AGENT_FAILED);
		return;
	}
	agent_collect(a, payload);
	a->thread->first_full++;
	agent_settle(a, AGENT_READY);
}

static void agent_poll(SimAgent *a);

/* A light answer echoes (hash, version) with empty maps (§4.1 step 4). */
static void
agent_polled(SimAgent *a, const ExmUaResponse *resp, const GError *error)
{
	SimThread *t = a->thread;
	gdouble ms = (gdouble)(g_get_monotonic_time() - a->started) / 1000.0;
	g_autoptr(ExmUaPayload) payload = agent_payload_of(a, "get_payload", resp, error, NULL);

	if (a->counted) {
		t->requests++;
		g_array_append_val(t->latencies, ms);
	}
	a->started = 0;
	if (payload != NULL && g_strcmp0(payload->hash, a->hash) == 0 &&
	    payload->version == a->version && g_hash_table_size(payload->capabilities) == 0 &&
	    g_hash_table_size(payload->facts) == 0) {
		t->light++;
	} else if (payload != NULL) {
		t->full++;
		agent_collect(a, payload);
	}
	if (a->pending && g_atomic_int_get(&t->sim->phase) == PHASE_POLL) {
		a->pending = FALSE;
		agent_poll(a);
	}
}

static gboolean
sim_window_open(OrchSim *sim)
{
	gint64 start = __atomic_load_n(&sim->window_start, __ATOMIC_ACQUIRE);

	return start != 0 && __atomic_load_n(&sim->window_end, __ATOMIC_ACQUIRE) == 0;
}

/* A poll's answer off its connection, read by the agent library as its own
 * client reads one (exm_ua_client_answer()). */
static void
agent_poll_answered(guint status,
		    SoupMessageHeaders *headers,
		    gchar *body,
		    gsize len,
		    const GError *error,
		    gpointer data)
{
	SimAgent *a = data;
	g_autoptr(GError) answer_error = NULL;
	g_autoptr(ExmUaResponse) resp = NULL;

	a->thread->in_flight--;
	if (error == NULL)
		resp = exm_ua_client_answer(
			a->client,
			status,
			soup_message_headers_get_content_type(headers, NULL),
			soup_message_headers_get_one(headers, EXM_ENVELOPE_HEADER_NONCE),
			body,
			len,
			NULL,
			&answer_error);
	agent_polled(a, resp, error != NULL ? error : answer_error);
}

/* The get_payload request as the agent's client sends it: its headers and
 * its body encoded by the agent library (exm_ua_client_encode()). */
static GBytes *
agent_poll_request(SimAgent *a, GError **error)
{
	g_auto(ExmUaClientWire) wire = { 0 };
	g_autofree gchar *path = agent_payload_path(a);
	g_autofree gchar *query = agent_payload_query(a);
	GString *req;

	if (!exm_ua_client_encode(a->client, NULL, &wire, error))
		return NULL;
	req = g_string_sized_new(640);
	g_string_append_printf(req,
			       "GET %s?%s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n%s: %s\r\n",
			       path,
			       query,
			       a->thread->sim->host->orch_port,
			       EXM_ENVELOPE_HEADER_NODE_UUID,
			       exm_ua_client_get_node_uuid(a->client));
	if (wire.nonce != NULL)
		g_string_append_printf(req, "%s: %s\r\n", EXM_ENVELOPE_HEADER_NONCE, wire.nonce);
	if (wire.body != NULL) {
		gsize size = 0;
		const gchar *bytes = g_bytes_get_data(wire.body, &size);

		g_string_append_printf(req,
				       "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
				       wire.content_type,
				       size);
		g_string_append_len(req, bytes, (gssize)size);
	} else {
		g_string_append(req, "\r\n");
	}
	return g_string_free_to_bytes(req);
}

static void
agent_polled_soup(GObject *source, GAsyncResult *res, gpointer data)
{
	SimAgent *a = data;
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmUaResponse) resp = agent_answer(a, res, &error);

	agent_polled(a, resp, error);
}

static void
agent_poll(SimAgent *a)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) request = NULL;

	a->counted = sim_window_open(a->thread->sim);
	if (a->thread->sim->config.soup_polls) {
		agent_get_payload(a, agent_polled_soup);
		return;
	}
	/* from before the encoding, as libsoup's polls count it */
	a->started = g_get_monotonic_time();
	a->thread->in_flight++;
	request = agent_poll_request(a, &error);
	if (request == NULL) {
		a->thread->in_flight--;
		agent_polled(a, NULL, error);
		return;
	}
	orch_sim_conn_send(a->conn, request);
}

/* ---------------------------------------------------------------- threads */

static void
agent_fetch(SimAgent *a)
{
	a->state = AGENT_FETCHING;
	agent_get_payload(a, agent_fetched);
}

/* The agents whose backoff ended take their setup step again, first. */
static void
thread_retry_due(SimThread *t)
{
	gint64 now = g_get_monotonic_time();

	for (guint i = 0; i < t->waiting->len && t->in_flight < t->sim->config.ramp;) {
		SimAgent *a = t->waiting->pdata[i];

		if (a->retry_at > now) {
			i++;
			continue;
		}
		g_ptr_array_remove_index_fast(t->waiting, i);
		if (a->state == AGENT_NEW)
			agent_register(a);
		else
			agent_fetch(a);
	}
}

static void
thread_register_more(SimThread *t)
{
	thread_retry_due(t);
	while (t->in_flight < t->sim->config.ramp && t->next_register < t->agents->len) {
		SimAgent *a = t->agents->pdata[t->next_register++];

		if (a->client == NULL)
			agent_settle(a, AGENT_FAILED);
		else
			agent_register(a);
	}
}

static void
thread_fetch_more(SimThread *t)
{
	thread_retry_due(t);
	while (t->in_flight < t->sim->config.ramp && t->next_fetch < t->agents->len) {
		SimAgent *a = t->agents->pdata[t->next_fetch++];

		if (a->state != AGENT_REGISTERED) {
			agent_settle(a, AGENT_FAILED);
			continue;
		}
		agent_fetch(a);
	}
}

static void agent_make_client(SimThread *t, SimAgent *a);

/* An agent's own poll connection, with a client made anew: that closes the
 * Orch connection its first payload left in libsoup and its sources, and the
 * new client, which never sends through libsoup, attaches none
 * (orch-sim-conn.h).  %FALSE when it cannot poll. */
static gboolean
agent_own_connection(SimThread *t, SimAgent *a)
{
	if (a->state != AGENT_READY || t->poller == NULL)
		return FALSE;
	g_clear_pointer(&a->client, exm_ua_client_free);
	agent_make_client(t, a);
	if (a->client == NULL)
		return FALSE;
	a->conn = orch_sim_conn_new(t->poller, t->sim->host->orch_port, agent_poll_answered, a);
	return TRUE;
}

/* The polls begin: each agent's connection made (unless they go through
 * libsoup) and each poll's time set in its phase. */
static void
thread_schedule(SimThread *t)
{
	gint64 period = (gint64)(t->sim->config.period * G_USEC_PER_SEC);

	for (guint i = 0; i < t->agents->len; i++) {
		SimAgent *a = t->agents->pdata[i];

		if (!t->sim->config.soup_polls && !agent_own_connection(t, a))
			a->state = AGENT_FAILED;
		a->due = __atomic_load_n(&t->sim->epoch, __ATOMIC_ACQUIRE) +
			 period * a->index / t->sim->config.agents;
	}
}

/* The Status connections a registration leaves (the verifier's and the
 * POST's) closed once the agent is registered, by a new client: a light poll
 * uses only the Orch API, and a real agent holds them only until the host's
 * idle timeout (60 s).  Kept, they filled the Status API's caps during the
 * setup (5 000 agents: 22 000 steps refused with 503 and tried again after
 * the backoff, 80 s, until that timeout freed them), and while polling every
 * iteration of the simulator's threads walked their sources too (about 5 000
 * more connections), which saturated its CPU (docs/scale.md §4).  Run from
 * the tick, not from inside the client's own callback. */
static void
thread_close_registrations(SimThread *t)
{
	for (guint i = 0; i < t->renew->len; i++) {
		SimAgent *a = t->renew->pdata[i];

		g_clear_pointer(&a->client, exm_ua_client_free);
		agent_make_client(t, a);
		if (a->client == NULL)
			a->state = AGENT_FAILED;
	}
	g_ptr_array_set_size(t->renew, 0);
}

/* Starts the polls that came due; the agents are in the order of their phase, so
 * the cursor goes round them. */
static void
thread_poll_due(SimThread *t)
{
	gint64 now = g_get_monotonic_time();
	gint64 period = (gint64)(t->sim->config.period * G_USEC_PER_SEC);

	if (t->cursor == G_MAXUINT) {
		thread_schedule(t);
		t->cursor = 0;
	}
	for (guint i = 0; i < t->agents->len; i++) {
		SimAgent *a = t->agents->pdata[t->cursor];

		if (a->due > now)
			break;
		a->due += period;
		t->cursor = (t->cursor + 1) % t->agents->len;
		if (a->state != AGENT_READY)
			continue;
		if (a->started != 0) {
			a->pending = TRUE;
			t->late += sim_window_open(t->sim) ? 1 : 0;
			continue;
		}
		agent_poll(a);
	}
}

/* A poll unanswered after the client's timeout fails as libsoup's would;
 * looked for once a second. */
static void
thread_expire(SimThread *t)
{
	gint64 now = g_get_monotonic_time();
	gint64 timeout = (gint64)(t->sim->config.timeout * G_USEC_PER_SEC);
	g_autoptr(GError) error = NULL;

	if (now < t->next_expiry)
		return;
	t->next_expiry = now + G_USEC_PER_SEC;
	for (guint i = 0; i < t->agents->len; i++) {
		SimAgent *a = t->agents->pdata[i];

		if (a->conn == NULL || a->started == 0 || now - a->started < timeout)
			continue;
		if (error == NULL)
			error = g_error_new_literal(
				G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no answer in time");
		orch_sim_conn_fail(a->conn, error);
	}
}

/* When the tick runs next: at the next poll's due time while polling, since
 * every iteration of the context walks every agent's connection sources (a
 * fixed 2 ms tick made 500 such walks a second per thread whatever was due);
 * every SIM_TICK_MS otherwise. */
static void
thread_tick_again(SimThread *t, gboolean polling)
{
	gint64 next = g_source_get_time(t->tick) + SIM_TICK_MS * 1000;

	if (polling && t->agents->len > 0 && t->cursor != G_MAXUINT)
		next = ((SimAgent *)t->agents->pdata[t->cursor])->due;
	g_source_set_ready_time(t->tick, next);
}

static gboolean
thread_tick(gpointer data)
{
	SimThread *t = data;
	gint phase = g_atomic_int_get(&t->sim->phase);

	thread_close_registrations(t);
	thread_expire(t);
	switch (phase) {
	case PHASE_REGISTER:
		thread_register_more(t);
		break;
	case PHASE_PAYLOAD:
		thread_fetch_more(t);
		break;
	case PHASE_POLL:
		if (t->agents->len > 0)
			thread_poll_due(t);
		break;
	default:
		if (t->in_flight == 0) {
			g_main_loop_quit(t->loop);
			return G_SOURCE_REMOVE;
		}
	}
	thread_tick_again(t, phase == PHASE_POLL);
	return G_SOURCE_CONTINUE;
}

/* A source that is only its ready time (the tick sets it each run). */
static gboolean
tick_dispatch(GSource *source, GSourceFunc callback, gpointer data)
{
	return callback(data);
}

static GSourceFuncs tick_funcs = { .dispatch = tick_dispatch };

/* The agent library's client, with the agent's key file: made on the thread
 * whose main context will run its requests. */
static void
agent_make_client(SimThread *t, SimAgent *a)
{
	OrchSim *sim = t->sim;
	ExmUaConfig config = {
		.orch_endpoint = sim->host->orch_url,
		.status_endpoint = sim->host->status_url,
		.private_key_path = a->key_path,
		.secure = TRUE,
		.http_timeout = sim->config.timeout,
	};
	g_autoptr(GError) error = NULL;

	a->client = exm_ua_client_new(&config, a->node, &error);
	if (a->client == NULL)
		count_error(t, error->message);
}

static void
thread_make_clients(SimThread *t)
{
	for (guint i = 0; i < t->agents->len; i++)
		agent_make_client(t, t->agents->pdata[i]);
}

void
orch_sim_pin_cpu1(const OrchSimHost *host, const gchar *who)
{
	cpu_set_t set;

	if (!host->pinned)
		return;
	CPU_ZERO(&set);
	CPU_SET(1, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		g_test_message("%s not pinned: %s", who, g_strerror(errno));
}

static gpointer
thread_main(gpointer data)
{
	SimThread *t = data;
	g_autoptr(GError) error = NULL;

	orch_sim_pin_cpu1(t->sim->host, "simulator");
	g_main_context_push_thread_default(t->context);
	t->poller = orch_sim_poller_new(t->context, &error);
	if (t->poller == NULL)
		count_error(t, error->message);
	thread_make_clients(t);
	t->tick = g_source_new(&tick_funcs, sizeof(GSource));
	g_source_set_callback(t->tick, thread_tick, t, NULL);
	g_source_set_ready_time(t->tick, 0);
	g_source_attach(t->tick, t->context);
	g_main_loop_run(t->loop);
	g_source_destroy(t->tick);
	g_clear_pointer(&t->tick, g_source_unref);
	/* the sessions and connections belong to this context: closed here */
	g_ptr_array_set_size(t->agents, 0);
	g_clear_pointer(&t->poller, orch_sim_poller_free);
	while (g_main_context_iteration(t->context, FALSE))
		;
	g_main_context_pop_thread_default(t->context);
	return NULL;
}

static SimThread *
thread_new(OrchSim *sim)
{
	SimThread *t = g_new0(SimThread, 1);

	t->sim = sim;
	t->context = g_main_context_new();
	t->loop = g_main_loop_new(t->context, FALSE);
	t->agents = g_ptr_array_new_with_free_func(agent_free);
	t->cursor = G_MAXUINT;
	t->latencies = g_array_new(FALSE, FALSE, sizeof(gdouble));
	t->errors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	t->retries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	t->waiting = g_ptr_array_new();
	t->renew = g_ptr_array_new();
	return t;
}

static void
thread_free(gpointer data)
{
	SimThread *t = data;

	if (t->thread != NULL)
		g_thread_join(t->thread);
	g_ptr_array_unref(t->agents);
	g_main_loop_unref(t->loop);
	g_main_context_unref(t->context);
	g_array_unref(t->latencies);
	g_hash_table_unref(t->errors);
	g_hash_table_unref(t->retries);
	g_ptr_array_unref(t->waiting);
	g_ptr_array_unref(t->renew);
	g_free(t);
}

/* ------------------------------------------------------------------ setup */

static gchar *
random_key_b64(void)
{
	guint8 key[EXM_ENVELOPE_KEY_LEN];

	for (guint i = 0; i < sizeof(key); i++)
		key[i] = (guint8)g_random_int_range(0, 256);
	return g_base64_encode(key, sizeof(key));
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SimAgent, agent_free)

/* Its node, identity (the agent library's uuid5 naming) and key file. */
static SimAgent *
agent_new(const gchar *dir, guint index, gchar **out_key, GError **error)
{
	g_autoptr(SimAgent) a = g_new0(SimAgent, 1);
	g_autofree gchar *key = random_key_b64();
	g_autofree gchar *file = g_strdup_printf("agent-%u.key", index);
	ExmUaConfig config = { .node_uuid = NULL, .uuid5_name = (gchar *)SIM_UUID5_NAME };
	g_autoptr(ExmUaIdentity) id = NULL;

	a->index = index;
	a->node = g_uuid_string_random();
	a->hash = g_strdup("");
	config.node_uuid = a->node;
	id = exm_ua_identity_new(&config, error);
	a->key_path = g_build_filename(dir, file, NULL);
	if (id == NULL ||
	    !g_file_set_contents_full(a->key_path, key, -1, G_FILE_SET_CONTENTS_NONE, 0600, error))
		return NULL;
	a->uuid = g_strdup(id->agent);
	a->name = g_strdup(id->name);
	*out_key = g_steal_pointer(&key);
	return g_steal_pointer(&a);
}

/* Key rows without encryption_disabled_until: encryption is required (§6.1). */
static gboolean
insert_keys(const gchar *conninfo, GString *values, GError **error)
{
	g_autofree gchar *sql = NULL;
	g_autofree gchar *out = NULL;

	if (values->len == 0)
		return TRUE;
	sql = g_strconcat("INSERT INTO ua_node_encryption_keys (uuid, private_key) VALUES ",
			  values->str,
			  NULL);
	g_string_truncate(values, 0);
	out = exm_test_pg_exec(conninfo, sql, error);
	return out != NULL;
}

static gboolean
sim_make_agents(OrchSim *sim, const gchar *dir, GError **error)
{
	g_autoptr(GString) values = g_string_new(NULL);

	for (guint i = 0; i < sim->config.agents; i++) {
		SimThread *t = sim->threads->pdata[i % sim->threads->len];
		g_autofree gchar *key = NULL;
		SimAgent *a = agent_new(dir, i, &key, error);

		if (a == NULL)
			return FALSE;
		a->thread = t;
		g_ptr_array_add(t->agents, a);
		g_string_append_printf(
			values, "%s('%s', '%s')", values->len > 0 ? ", " : "", a->node, key);
		exm_secret_wipe(key, strlen(key));
		if ((i + 1) % SIM_KEY_BATCH == 0 &&
		    !insert_keys(sim->host->conninfo, values, error))
			return FALSE;
	}
	return insert_keys(sim->host->conninfo, values, error);
}

/* Two connections per agent (Orch and Status) and the key files being read. */
static void
raise_fd_limit(guint agents)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= 2 * (rlim_t)agents + 256)
		return;
	rl.rlim_cur = MIN(rl.rlim_max, 2 * (rlim_t)agents + 256);
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		g_test_message("cannot raise the open-file limit: %s", g_strerror(errno));
}

static void
drop_debug(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
}

OrchSim *
orch_sim_new(OrchSimHost *host, const gchar *dir, const OrchSimConfig *config, GError **error)
{
	g_autoptr(OrchSim) sim = g_new0(OrchSim, 1);

	sim->config = *config;
	sim->config.threads = MAX(config->threads, 1);
	sim->config.ramp = MAX(config->ramp, 1);
	sim->host = host;
	/* GIO's debug lines (several per connection, which the test harness
	 * prints) would flood the log and cost the simulator CPU */
	g_log_set_handler("GLib-GIO", G_LOG_LEVEL_DEBUG, drop_debug, NULL);
	sim->threads = g_ptr_array_new_with_free_func(thread_free);
	for (guint i = 0; i < sim->config.threads; i++)
		g_ptr_array_add(sim->threads, thread_new(sim));
	raise_fd_limit(config->agents);
	if (!sim_make_agents(sim, dir, error))
		return NULL;
	return g_steal_pointer(&sim);
}

/* ------------------------------------------------------------------- run */

/* One target per agent, as a builder would route it: the first payload is a
 * full one with a resource, the polls after it carry that payload's hash. */
static gboolean
seed_targets(OrchSim *sim, GError **error)
{
	g_autofree gchar *out = exm_test_pg_exec(
		sim->host->conninfo,
		"INSERT INTO ua_target_resources (uuid, kind, res_uuid, value, hash, agent, node) "
		"SELECT u, '" SIM_KIND "', gen_random_uuid(), jsonb_build_object('uuid', u::text, "
		"'name', 'vm-' || left(u::text, 8), 'cores', 1, 'ram', 1024), "
		"left(md5(u::text), 16), a.uuid, a.node "
		"FROM (SELECT uuid, node, gen_random_uuid() AS u FROM ua_agents) a",
		error);

	return out != NULL;
}

/* Waits until every agent settled the current phase. */
static gboolean
sim_wait_settled(OrchSim *sim, gint64 deadline)
{
	while (g_atomic_int_get(&sim->settled) < (gint)sim->config.agents) {
		if (g_get_monotonic_time() > deadline)
			return FALSE;
		g_usleep(20 * 1000);
	}
	return TRUE;
}

static void
sim_enter(OrchSim *sim, Phase phase)
{
	g_atomic_int_set(&sim->settled, 0);
	g_atomic_int_set(&sim->phase, phase);
}

gboolean
orch_sim_start(OrchSim *sim, gdouble timeout, GError **error)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)(timeout * G_USEC_PER_SEC);

	for (guint i = 0; i < sim->threads->len; i++) {
		SimThread *t = sim->threads->pdata[i];

		t->thread = g_thread_new("orch-sim", thread_main, t);
	}
	if (!sim_wait_settled(sim, deadline) || !seed_targets(sim, error)) {
		if (error != NULL && *error == NULL)
			g_set_error(
				error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "registration timed out");
		return FALSE;
	}
	sim_enter(sim, PHASE_PAYLOAD);
	if (!sim_wait_settled(sim, deadline)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "first payloads timed out");
		return FALSE;
	}
	/* the threads read the epoch after they see the phase */
	__atomic_store_n(&sim->epoch, g_get_monotonic_time() + 10 * 1000, __ATOMIC_RELEASE);
	sim_enter(sim, PHASE_POLL);
	return TRUE;
}

void
orch_sim_window_open(OrchSim *sim)
{
	__atomic_store_n(&sim->window_start, g_get_monotonic_time(), __ATOMIC_RELEASE);
}

void
orch_sim_stop(OrchSim *sim)
{
	if (__atomic_load_n(&sim->window_start, __ATOMIC_ACQUIRE) != 0 &&
	    __atomic_load_n(&sim->window_end, __ATOMIC_ACQUIRE) == 0)
		__atomic_store_n(&sim->window_end, g_get_monotonic_time(), __ATOMIC_RELEASE);
	g_atomic_int_set(&sim->phase, PHASE_STOP);
	for (guint i = 0; i < sim->threads->len; i++) {
		SimThread *t = sim->threads->pdata[i];

		if (t->thread != NULL)
			g_thread_join(t->thread);
		t->thread = NULL;
	}
}

void
orch_sim_free(OrchSim *sim)
{
	if (sim == NULL)
		return;
	orch_sim_stop(sim);
	g_ptr_array_unref(sim->threads);
	g_free(sim);
}

/* ----------------------------------------------------------------- stats */

static void
merge_kinds(GHashTable *into, GHashTable *from)
{
	GHashTableIter iter;
	gpointer k, v;

	g_hash_table_iter_init(&iter, from);
	while (g_hash_table_iter_next(&iter, &k, &v)) {
		gpointer old = g_hash_table_lookup(into, k);

		g_hash_table_replace(into,
				     g_strdup(k),
				     GSIZE_TO_POINTER(GPOINTER_TO_SIZE(old) + GPOINTER_TO_SIZE(v)));
	}
}

OrchSimStats *
orch_sim_stats(OrchSim *sim)
{
	OrchSimStats *s = g_new0(OrchSimStats, 1);
	gint64 start = sim->window_start;

	s->errors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	s->retries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	s->latencies = g_array_new(FALSE, FALSE, sizeof(gdouble));
	s->window = start != 0 ? (gdouble)(sim->window_end - start) / G_USEC_PER_SEC : 0;
	for (guint i = 0; i < sim->threads->len; i++) {
		SimThread *t = sim->threads->pdata[i];

		s->registered += t->registered;
		s->first_full += t->first_full;
		s->light += t->light;
		s->full += t->full;
		s->requests += t->requests;
		s->late += t->late;
		g_array_append_vals(s->latencies, t->latencies->data, t->latencies->len);
		merge_kinds(s->errors, t->errors);
		merge_kinds(s->retries, t->retries);
	}
	g_array_sort(s->latencies, exm_test_cmp_double);
	return s;
}

void
orch_sim_stats_free(OrchSimStats *stats)
{
	if (stats == NULL)
		return;
	g_hash_table_unref(stats->errors);
	g_hash_table_unref(stats->retries);
	g_array_unref(stats->latencies);
	g_free(stats);
}

static guint64
kinds_total(GHashTable *table)
{
	GHashTableIter iter;
	gpointer v;
	guint64 n = 0;

	g_hash_table_iter_init(&iter, table);
	while (g_hash_table_iter_next(&iter, NULL, &v))
		n += GPOINTER_TO_SIZE(v);
	return n;
}

static gchar *
kinds_text(GHashTable *table)
{
	g_autoptr(GList) kinds = g_list_sort(g_hash_table_get_keys(table), (GCompareFunc)g_strcmp0);
	GString *text = g_string_new(NULL);

	for (GList *l = kinds; l != NULL; l = l->next)
		g_string_append_printf(text,
				       "%s%s=%" G_GSIZE_FORMAT,
				       text->len > 0 ? ", " : "",
				       (const gchar *)l->data,
				       GPOINTER_TO_SIZE(g_hash_table_lookup(table, l->data)));
	if (text->len == 0)
		g_string_append(text, "none");
	return g_string_free(text, FALSE);
}

guint64
orch_sim_stats_errors(const OrchSimStats *stats)
{
	return kinds_total(stats->errors);
}

gchar *
orch_sim_stats_errors_text(const OrchSimStats *stats)
{
	return kinds_text(stats->errors);
}

guint64
orch_sim_stats_retries(const OrchSimStats *stats)
{
	return kinds_total(stats->retries);
}

gchar *
orch_sim_stats_retries_text(const OrchSimStats *stats)
{
	return kinds_text(stats->retries);
}
