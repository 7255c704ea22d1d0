/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The iteration is a chain of asynchronous steps on one main context:
 *
 *   [register: GET node verifier (404: stop), POST agent, 409 → PUT]
 *   → GET get_payload (a 5xx to `wait=`: again without it; answered: drop `wait=`)
 *   → drivers (synchronous)
 *   → Status API writes, one at a time → save → schedule the next iteration
 *
 * Every request callback first checks the iteration's cancellable, so a stopped
 * (or freed) agent is never touched by a late completion.
 */
#include "exm-atomic.h"
#include "exm-memprobe.h"
#include "exm-proto.h"
#include "exm-ua-agent.h"

#include "exm-ua-client.h"
#include "exm-ua-config.h"
#include "exm-ua-error.h"
#include "exm-ua-identity.h"
#include "exm-ua-payload.h"
#include "exm-ua-reconcile.h"
#include "exm-ua-sync.h"
#include "exm-ua-state.h"

#include <glib-unix.h>
#include <libsoup/soup.h>
#include <malloc.h>
#include <signal.h>
#include <string.h>

/* gcl_looper's pause between iterations (§7.2). */
#define EXM_UA_ITER_PAUSE 0.1
/* Quick full answers to long polls in a row before falling back to the period. */
#define EXM_UA_MAX_QUICK_FULL 3

struct _ExmUaAgent {
	gchar *config_path;
	ExmUaConfig *config;
	ExmUaIdentity *identity;
	ExmUaClient *client;
	GPtrArray *drivers;
	GCancellable *cancellable;
	GMainLoop *loop;
	GSource *timer; /* the next iteration, on the thread-default context */
	gboolean started;
	gboolean registered;
	gboolean probe;	  /* a `wait=` poll got a 5xx: this poll goes without `wait=` */
	gboolean no_wait; /* … and the CP answered it: plain polls from now on */
	gboolean reload_pending;
	guint failures;
	guint quick_full;
	gint64 outage_since; /* monotonic µs of the first failed attempt, 0 when up */
	guint outage_attempts;
	ExmUaIterationFunc func;
	gpointer func_data;

	ExmUaPayload *last; /* last collected payload (saved) */
	/* last full payload of the CP; once saved, hollow or marked: its
	 * values are read from the state file only when the node does not hold
	 * them (agent_read_targets()) */
	ExmUaPayload *targets;
	/* the last iteration read every driver, changed nothing and was saved:
	 * a light answer with every driver unchanged needs no work (scale) */
	gboolean settled;
	/* the last iteration reconciled every kind and was saved (settled or
	 * not): what it collected is what the drivers hold or wrote, whose marks
	 * may decide a change (agent_saved_marks()) */
	gboolean saved;
	GHashTable *saved_kinds; /* the kinds that saved iteration reconciled */
	/* settled with drivers that can tell `unchanged`: the payloads' contents
	 * live only in the state file (hash and version stay), reloaded when an
	 * iteration needs them, so an idle agent holds no copy of its accounts */
	gboolean offloaded;
	/* @targets holds only the marks of the saved targets (identity and
	 * `updated_at`, for the replay check): a light iteration reloads them */
	gboolean targets_marked;

	/* the iteration in progress */
	gint64 started_at;
	ExmUaIteration it;
	ExmUaPayload *collected;
	ExmUaPayload *known; /* borrowed: whose facts the CP holds */
	gchar *target_hash;
	GHashTable *kinds;
	gboolean driver_failed;
	GPtrArray *ops;
	guint op_index;
};

/* What a request callback needs to know whether it may touch the agent. */
typedef struct {
	ExmUaAgent *agent;
	GCancellable *cancellable;
} ExmUaCall;

static void agent_iterate(ExmUaAgent *agent);
static void agent_poll(ExmUaAgent *agent);
static void agent_sync_next(ExmUaAgent *agent);
static void agent_finish(ExmUaAgent *agent, ExmUaOutcome outcome);
static void agent_reachable(ExmUaAgent *agent);

static ExmUaCall *
call_new(ExmUaAgent *agent)
{
	ExmUaCall *call = g_new0(ExmUaCall, 1);

	call->agent = agent;
	call->cancellable = g_object_ref(agent->cancellable);
	return call;
}

/* Finishes a request; returns %NULL (and frees @call) when the agent was stopped. */
static ExmUaResponse *
call_finish(ExmUaCall *call, GAsyncResult *res, ExmUaAgent **agent, GError **error)
{
	g_autoptr(GCancellable) cancellable = call->cancellable;
	ExmUaResponse *resp = g_task_propagate_pointer(G_TASK(res), error);

	*agent = call->agent;
	g_free(call);
	if (g_cancellable_is_cancelled(cancellable)) {
		g_clear_pointer(&resp, exm_ua_client_response_free);
		g_clear_error(error);
		*agent = NULL;
	} else if (resp != NULL && resp->status < 500) {
		agent_reachable(*agent);
	}
	return resp;
}

static void
agent_request(ExmUaAgent *agent,
	      ExmUaApi api,
	      const gchar *method,
	      const gchar *path,
	      const gchar *query,
	      JsonNode *body,
	      GAsyncReadyCallback cb)
{
	exm_ua_client_request_async(agent->client,
				    api,
				    method,
				    path,
				    query,
				    body,
				    agent->cancellable,
				    cb,
				    call_new(agent));
}

static GPtrArray *
agent_capabilities(ExmUaAgent *agent)
{
	GPtrArray *kinds = g_ptr_array_new();

	for (guint d = 0; d < agent->drivers->len; d++) {
		ExmUaDriver *driver = agent->drivers->pdata[d];
		const gchar *const *k = driver->kinds(driver);
		for (guint i = 0; k != NULL && k[i] != NULL; i++)
			g_ptr_array_add(kinds, (gpointer)k[i]);
	}
	return kinds;
}

/* §3.3 for POST; the PUT of §7.3 carries only capabilities, facts and name. */
static JsonNode *
agent_registration_body(ExmUaAgent *agent, gboolean full)
{
	g_autoptr(GPtrArray) caps = agent_capabilities(agent);

	return exm_ua_identity_registration_body(agent->identity, caps, full);
}

/* Network errors and 5xx: the CP is (temporarily) not there. */
static ExmUaOutcome
outcome_for(const ExmUaResponse *resp)
{
	if (resp == NULL || resp->status >= 500)
		return EXM_UA_OUTCOME_UNREACHABLE;
	return EXM_UA_OUTCOME_REJECTED;
}

/* The CP is not there (network error or 5xx): logged once per outage, each
 * further attempt only at debug level, so a long outage is one line. */
static void
agent_unreachable(ExmUaAgent *agent, const gchar *what, const gchar *why)
{
	if (agent->outage_since == 0) {
		agent->outage_since = g_get_monotonic_time();
		agent->outage_attempts = 0;
		g_warning("control plane unreachable (%s: %s): retrying every %g s at most, "
			  "quietly until it answers",
			  what,
			  why,
			  agent->config->backoff_max);
	} else {
		g_debug("%s: still unreachable: %s", what, why);
	}
	agent->outage_attempts++;
}

/* Any answer that is not a 5xx ends an outage: said once, with its length,
 * before the answer is acted on. */
static void
agent_reachable(ExmUaAgent *agent)
{
	gdouble secs;

	if (agent->outage_since == 0)
		return;
	secs = (gdouble)(g_get_monotonic_time() - agent->outage_since) / G_USEC_PER_SEC;
	g_message("control plane reachable again after %.1f s (%u failed attempts)",
		  secs,
		  agent->outage_attempts);
	agent->outage_since = 0;
	agent->outage_attempts = 0;
}

/* A failed request: an outage (logged once) or a refusal (logged each time). */
static void
agent_failed(ExmUaAgent *agent, const gchar *what, const ExmUaResponse *resp, const GError *error)
{
	const gchar *why = error != NULL ? error->message : soup_status_get_phrase(resp->status);
	ExmUaOutcome outcome = outcome_for(resp);

	if (outcome == EXM_UA_OUTCOME_UNREACHABLE)
		agent_unreachable(agent, what, why);
	else
		g_warning("%s failed: %s", what, why);
	agent_finish(agent, outcome);
}

/* Nothing of an untrusted answer is applied; it counts as a failure (backoff).
 * The message names what was wrong, never the body. */
static void
agent_refuse(ExmUaAgent *agent, const gchar *what, const gchar *why)
{
	g_warning("%s: refused: %s", what, why);
	agent->it.refused++;
	agent_finish(agent, EXM_UA_OUTCOME_REJECTED);
}

/* Returns: %TRUE when the client refused the answer (then the iteration ended). */
static gboolean
agent_refused(ExmUaAgent *agent, const gchar *what, const GError *error)
{
	if (!g_error_matches(error, EXM_UA_ERROR, EXM_UA_ERROR_REFUSED))
		return FALSE;
	agent_refuse(agent, what, error->message);
	return TRUE;
}

static void
agent_registered_put(GObject *source, GAsyncResult *res, gpointer data)
{
	g_autoptr(GError) error = NULL;
	ExmUaAgent *agent;
	g_autoptr(ExmUaResponse) resp = call_finish(data, res, &agent, &error);

	if (agent == NULL || agent_refused(agent, "agent update", error))
		return;
	if (resp == NULL || !SOUP_STATUS_IS_SUCCESSFUL(resp->status)) {
		agent_failed(agent, "agent update", resp, error);
		return;
	}
	agent->registered = TRUE;
	agent->it.registered = TRUE;
	agent_poll(agent);
}

static void
agent_registered_post(GObject *source, GAsyncResult *res, gpointer data)
{
	g_autoptr(GError) error = NULL;
	ExmUaAgent *agent;
	g_autoptr(ExmUaResponse) resp = call_finish(data, res, &agent, &error);
	g_autoptr(JsonNode) body = NULL;
	g_autofree gchar *path = NULL;

	if (agent == NULL || agent_refused(agent, "agent registration", error))
		return;
	if (resp != NULL && resp->status == SOUP_STATUS_CONFLICT) {
		/* Already known: PUT propagates changed capabilities (§7.3). */
		body = agent_registration_body(agent, FALSE);
		path = g_strdup_printf("/v1/agents/%s", agent->identity->agent);
		agent_request(
			agent, EXM_UA_API_STATUS, "PUT", path, NULL, body, agent_registered_put);
		return;
	}
	if (resp == NULL || !SOUP_STATUS_IS_SUCCESSFUL(resp->status)) {
		agent_failed(agent, "agent registration", resp, error);
		return;
	}
	g_message("registered agent %s (node %s)", agent->identity->agent, agent->identity->node);
	agent->registered = TRUE;
	agent->it.registered = TRUE;
	agent_poll(agent);
}

static void
agent_register_post(ExmUaAgent *agent)
{
	g_autoptr(JsonNode) body = agent_registration_body(agent, TRUE);

	agent_request(
		agent, EXM_UA_API_STATUS, "POST", "/v1/agents/", NULL, body, agent_registered_post);
}

/* The gcl_sdk fork's agent: a node the CP does not verify (404) is not
 * registered; it is asked again after the backoff. */
static void
agent_verified(GObject *source, GAsyncResult *res, gpointer data)
{
	g_autoptr(GError) error = NULL;
	ExmUaAgent *agent;
	g_autoptr(ExmUaResponse) resp = call_finish(data, res, &agent, &error);

	if (agent == NULL || agent_refused(agent, "node verification", error))
		return;
	if (resp != NULL && resp->status == SOUP_STATUS_NOT_FOUND) {
		g_warning("node verification failed: the control plane does not know node %s; "
			  "not registering",
			  agent->identity->node);
		agent_finish(agent, EXM_UA_OUTCOME_REJECTED);
		return;
	}
	if (resp == NULL || !SOUP_STATUS_IS_SUCCESSFUL(resp->status)) {
		agent_failed(agent, "node verification", resp, error);
		return;
	}
	agent_register_post(agent);
}

static void
agent_register(ExmUaAgent *agent)
{
	g_autofree gchar *path = NULL;

	if (!agent->config->verify_node) {
		agent_register_post(agent);
		return;
	}
	path = g_strdup_printf("/v1/node_verifiers/%s/actions/verify", agent->identity->node);
	agent_request(agent, EXM_UA_API_STATUS, "GET", path, NULL, NULL, agent_verified);
}

/* Long polls while the CP has not refused `wait=`. */
static gboolean
agent_long_poll(ExmUaAgent *agent)
{
	return agent->config->long_poll && !agent->no_wait && !agent->probe;
}

/*
 * An upstream CP refuses the unknown kwarg `wait` (500 TypeError) on every
 * poll.  A 5xx to a `wait=` poll is therefore tried again at once without it;
 * only when the CP answers that one is `wait=` dropped for the rest of the run
 * (a CP that is down, e.g. our host's 503 while its database restarts, fails
 * both and keeps the long poll).  Returns %TRUE when the retry was sent.
 */
static gboolean
agent_probe_without_wait(ExmUaAgent *agent, const ExmUaResponse *resp, gboolean probed)
{
	if (probed && resp != NULL && resp->status == SOUP_STATUS_OK) {
		g_message("get_payload with wait= answered a 5xx, without it 200: polling "
			  "without wait= from now on");
		agent->no_wait = TRUE;
		return FALSE;
	}
	if (probed || resp == NULL || resp->status < 500 || !agent_long_poll(agent))
		return FALSE;
	g_debug("get_payload with wait= answered %u: asking again without it", resp->status);
	agent->probe = TRUE;
	agent_poll(agent);
	return TRUE;
}

static void
agent_reset_iteration(ExmUaAgent *agent)
{
	g_clear_pointer(&agent->collected, exm_ua_payload_free);
	g_clear_pointer(&agent->kinds, g_hash_table_unref);
	g_clear_pointer(&agent->ops, g_ptr_array_unref);
	g_clear_pointer(&agent->target_hash, g_free);
	agent->known = NULL;
	agent->driver_failed = FALSE;
	agent->op_index = 0;
}

/* What the last saved iteration collected for @kind (or its marks,
 * offloaded), while the driver says nothing on the targets' keys changed
 * since the listing or the writes it came from; %NULL otherwise.  A change
 * right after another is decided so too, not only one after a settled
 * iteration: a burst of changes lists nothing (docs/scale.md §3).  Live members that moved since do
 * not matter: the marks spare a listing only when every target is to be
 * written (exm_ua_reconcile_kind_settled()), and the writes' results carry
 * those members as they are now; a driver whose counters move would
 * otherwise list every value before every change (docs/scale.md §3). */
static GPtrArray *
agent_saved_marks(ExmUaAgent *agent, ExmUaDriver *driver, const gchar *kind, gboolean saved)
{
	gboolean (*same)(ExmUaDriver *, const gchar *) =
		driver->keys_unchanged != NULL ? driver->keys_unchanged : driver->unchanged;

	if (!saved || agent->saved_kinds == NULL ||
	    !g_hash_table_contains(agent->saved_kinds, kind) || same == NULL || !same(driver, kind))
		return NULL;
	return exm_ua_payload_basket(agent->last, TRUE, kind, FALSE);
}

/* The values of hollow targets (the node does not hold them all), read
 * from the state file.  A file that no longer holds those targets is
 * forgotten: the next poll sends no hash, and the CP answers in full. */
static gboolean
agent_read_targets(ExmUaAgent *agent)
{
	g_autoptr(ExmUaPayload) last = NULL;
	g_autoptr(ExmUaPayload) targets = NULL;

	agent->it.values_read = TRUE;
	exm_ua_state_load(agent->config->payload_path, &last, &targets);
	if (targets == NULL || agent->targets == NULL ||
	    !exm_ua_payload_same(targets, agent->targets)) {
		g_warning("the saved targets are gone: asking the control plane for them again");
		g_free(agent->last->hash);
		agent->last->hash = g_strdup("");
		return FALSE;
	}
	exm_ua_payload_free(agent->targets);
	agent->targets = g_steal_pointer(&targets);
	/* whole again: kept as marks after the save */
	agent->targets_marked = FALSE;
	return TRUE;
}

/* Reconciles @kind of @targets into @caps; hollow targets that do not do
 * are read (agent_read_targets()) and the kind reconciled again with their
 * values.  Returns: the targets from then on. */
static ExmUaPayload *
agent_reconcile(ExmUaAgent *agent,
		ExmUaDriver *driver,
		const gchar *kind,
		ExmUaPayload *targets,
		gboolean saved,
		GPtrArray *caps,
		ExmUaKindResult *r)
{
	for (;;) {
		exm_ua_reconcile_kind_settled(driver,
					      kind,
					      exm_ua_payload_basket(targets, TRUE, kind, FALSE),
					      agent_saved_marks(agent, driver, kind, saved),
					      caps,
					      r);
		if (!r->need_values || !targets->hollow)
			return targets;
		if (!agent_read_targets(agent)) {
			r->failed = TRUE;
			return targets;
		}
		targets = agent->targets;
	}
}

/* Runs every driver over the kinds the targets carry (§7.4); @saved: the
 * last iteration was saved, so what it collected may spare a listing.
 * @targets may be agent->targets, hollow: replaced by their values when
 * needed. */
static void
agent_apply(ExmUaAgent *agent, ExmUaPayload *targets, gboolean saved)
{
	agent->collected = exm_ua_payload_new();
	agent->kinds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (guint d = 0; d < agent->drivers->len; d++) {
		ExmUaDriver *driver = agent->drivers->pdata[d];
		const gchar *const *kinds = driver->kinds(driver);

		if (driver->start != NULL)
			driver->start(driver);
		for (guint i = 0; kinds != NULL && kinds[i] != NULL; i++) {
			const gchar *kind = kinds[i];
			GPtrArray *caps, *facts;
			ExmUaKindResult r;

			if (!g_hash_table_contains(targets->capabilities, kind))
				continue;
			caps = exm_ua_payload_basket(agent->collected, TRUE, kind, TRUE);
			targets = agent_reconcile(agent, driver, kind, targets, saved, caps, &r);
			/* Capability resources are reported as facts too (§13.1 item 7). */
			facts = exm_ua_payload_basket(agent->collected, FALSE, kind, TRUE);
			for (guint j = 0; j < caps->len; j++)
				g_ptr_array_add(facts, exm_ua_resource_ref(caps->pdata[j]));
			g_hash_table_insert(
				agent->kinds, g_strdup(kind), GINT_TO_POINTER(r.failed));
			agent->driver_failed |= r.failed;
			agent->it.created += r.created;
			agent->it.updated += r.updated;
			agent->it.deleted += r.deleted;
		}
		if (driver->finish != NULL)
			driver->finish(driver);
	}
	g_free(agent->collected->hash);
	agent->collected->hash = exm_ua_payload_compute_hash(agent->collected);
}

/* Is this light iteration idle: settled, and no driver's state changed since? */
static gboolean
agent_idle(ExmUaAgent *agent)
{
	if (!agent->settled || agent->saved_kinds == NULL)
		return FALSE;
	for (guint d = 0; d < agent->drivers->len; d++) {
		ExmUaDriver *driver = agent->drivers->pdata[d];
		const gchar *const *kinds = driver->kinds(driver);

		for (guint i = 0; kinds != NULL && kinds[i] != NULL; i++) {
			if (!g_hash_table_contains(agent->saved_kinds, kinds[i]))
				continue;
			if (driver->unchanged == NULL || !driver->unchanged(driver, kinds[i]))
				return FALSE;
		}
	}
	return TRUE;
}

/* Can iterations be idle at all (every driver answers `unchanged`)? */
static gboolean
agent_can_idle(ExmUaAgent *agent)
{
	for (guint d = 0; d < agent->drivers->len; d++) {
		ExmUaDriver *driver = agent->drivers->pdata[d];
		if (driver->unchanged == NULL)
			return FALSE;
	}
	return agent->drivers->len > 0;
}

/* Keeps only the marks of what was saved (its hash and version, and what a
 * change is told apart with) and of the targets, and gives the memory of the
 * rest back to the system.  Hollow targets (read from the state, or marks
 * already) hold no account and are what a reload would read again: kept as
 * they are, so a light iteration after a settled one (a node whose actual
 * state moves) does not find them in the state file anew. */
static void
agent_offload(ExmUaAgent *agent)
{
	ExmUaPayload *last = exm_ua_payload_marks(agent->last);

	g_clear_pointer(&agent->last, exm_ua_payload_free);
	agent->last = last;
	agent->offloaded = TRUE;
	if (agent->targets != NULL && !agent->targets->hollow) {
		ExmUaPayload *marks = exm_ua_payload_marks(agent->targets);

		exm_ua_payload_free(agent->targets);
		agent->targets = marks;
		agent->targets_marked = TRUE;
	}
	malloc_trim(0);
}

/* The saved payloads back in memory, for a light iteration that is not idle:
 * only what is offloaded (a full payload since then replaced the targets),
 * the targets hollow (their values only if the node does not hold them,
 * agent_read_targets()). */
static void
agent_reload_state(ExmUaAgent *agent)
{
	g_autoptr(ExmUaPayload) last = NULL;
	g_autoptr(ExmUaPayload) targets = NULL;

	if (!agent->offloaded && !agent->targets_marked)
		return;
	exm_ua_state_load_hollow(
		agent->config->payload_path, &last, agent->targets_marked ? &targets : NULL);
	if (agent->offloaded) {
		exm_ua_payload_free(agent->last);
		agent->last = g_steal_pointer(&last);
	}
	if (agent->targets_marked) {
		exm_ua_payload_free(agent->targets);
		agent->targets = g_steal_pointer(&targets);
	}
	agent->offloaded = FALSE;
	agent->targets_marked = FALSE;
}

/* §4.2: a light answer means "nothing changed": targets come from the cached full
 * payload (not from the collected one, §8.2 quirk) and the CP's actual rows are
 * what we reported last. */
static void
agent_got_payload(ExmUaAgent *agent, ExmUaPayload *resp)
{
	ExmUaPayload *targets;
	gboolean saved = agent->saved;

	agent->it.light = exm_ua_payload_same(resp, agent->last);
	if (agent->it.light && agent_idle(agent)) {
		/* what a full iteration would list, hash, plan and save is what the
		 * last one did: nothing is read, sent or written */
		exm_ua_payload_free(resp);
		agent->it.idle = TRUE;
		agent_finish(agent, EXM_UA_OUTCOME_OK);
		return;
	}
	agent->settled = FALSE;
	agent->saved = FALSE;
	if (agent->it.light) {
		targets = agent->targets != NULL ? agent->targets : agent->last;
		agent->known = agent->last;
		agent->target_hash = g_strdup(agent->last->hash);
		exm_ua_payload_free(resp);
	} else {
		g_clear_pointer(&agent->targets, exm_ua_payload_free);
		agent->targets = resp;
		agent->targets_marked = FALSE;
		targets = resp;
		/* the answer's text and the text its accounts were made in (45
		 * MB at 100 000 accounts) are freed: given back before the
		 * drivers build the node beside their pages */
		malloc_trim(0);
		exm_memprobe_point("answer trimmed");
		agent->known = resp;
		agent->target_hash = g_strdup(resp->hash);
	}
	agent_apply(agent, targets, saved);
	exm_memprobe_point("applied");
	/* what the drivers freed (a node of every account, 25 MB at 100 000)
	 * is given back before the report is made: its small blocks cannot
	 * hold the report's text, which would take fresh pages beside them */
	malloc_trim(0);
	exm_memprobe_point("apply trimmed");
	if (g_strcmp0(agent->collected->hash, agent->target_hash) != 0)
		agent->ops = exm_ua_sync_plan(agent->collected, agent->known, agent->kinds);
	else
		agent->ops = g_ptr_array_new();
	agent_sync_next(agent);
}

/* A full payload older than the one applied is a recorded one replayed. */
static gboolean
agent_payload_is_stale(ExmUaAgent *agent, ExmUaPayload *payload)
{
	const ExmUaResource *r;
	g_autofree gchar *why = NULL;

	if (exm_ua_payload_same(payload, agent->last))
		return FALSE;
	r = exm_ua_payload_find_older(payload, agent->targets);
	if (r == NULL)
		return FALSE;
	why = g_strdup_printf(
		"%s %s is older than the one applied: a replayed payload", r->kind, r->uuid);
	agent_refuse(agent, "get_payload", why);
	return TRUE;
}

static void
agent_polled(GObject *source, GAsyncResult *res, gpointer data)
{
	g_autoptr(GError) error = NULL;
	ExmUaAgent *agent;
	g_autoptr(ExmUaResponse) resp = call_finish(data, res, &agent, &error);
	ExmUaPayload *payload;
	gboolean probed;

	if (agent == NULL)
		return;
	probed = agent->probe;
	agent->probe = FALSE;
	if (agent_refused(agent, "get_payload", error) ||
	    agent_probe_without_wait(agent, resp, probed))
		return;
	if (resp != NULL && resp->status == SOUP_STATUS_NOT_FOUND) {
		g_message("the CP does not know agent %s: registering again",
			  agent->identity->agent);
		agent->registered = FALSE;
		agent_finish(agent, EXM_UA_OUTCOME_UNREGISTERED);
		return;
	}
	if (resp == NULL || resp->status != SOUP_STATUS_OK) {
		agent_failed(agent, "get_payload", resp, error);
		return;
	}
	payload = exm_ua_payload_from_json(resp->body, &error);
	if (payload == NULL) {
		g_warning("get_payload: %s", error->message);
		agent_finish(agent, EXM_UA_OUTCOME_REJECTED);
		return;
	}
	/* a full payload needs nothing of the saved contents but the targets'
	 * marks (the replay check): it is applied against the node itself and
	 * the state is saved anew; parsing the saved payloads took about a
	 * second at 100 000 accounts (docs/scale.md §3) */
	if (exm_ua_payload_same(payload, agent->last) && !agent_idle(agent))
		agent_reload_state(agent);
	if (agent_payload_is_stale(agent, payload)) {
		exm_ua_payload_free(payload);
		return;
	}
	agent_got_payload(agent, payload);
}

static void
agent_poll(ExmUaAgent *agent)
{
	g_autofree gchar *path =
		g_strdup_printf("/v1/agents/%s/actions/get_payload", agent->identity->agent);
	g_autofree gchar *hash = g_uri_escape_string(agent->last->hash, NULL, FALSE);
	g_autofree gchar *query = NULL;

	if (agent_long_poll(agent))
		query = g_strdup_printf("hash=%s&version=%" G_GINT64_FORMAT "&wait=%u",
					hash,
					agent->last->version,
					agent->config->long_poll_wait);
	else
		query = g_strdup_printf(
			"hash=%s&version=%" G_GINT64_FORMAT, hash, agent->last->version);
	/* only the facts' hashes are kept: their values are not even built */
	exm_ua_client_request_pruned_async(agent->client,
					   EXM_UA_API_ORCH,
					   "GET",
					   path,
					   query,
					   NULL,
					   exm_ua_payload_unused(),
					   agent->cancellable,
					   agent_polled,
					   call_new(agent));
}

static gchar *
sync_path(const ExmUaSyncOp *op)
{
	if (op->verb == EXM_UA_SYNC_POST)
		return g_strdup_printf("/v1/kind/%s/resources/", op->kind);
	return g_strdup_printf("/v1/kind/%s/resources/%s", op->kind, op->uuid);
}

static const gchar *
sync_method(ExmUaSyncVerb verb)
{
	switch (verb) {
	case EXM_UA_SYNC_POST:
		return "POST";
	case EXM_UA_SYNC_PUT:
		return "PUT";
	case EXM_UA_SYNC_DELETE:
	default:
		return "DELETE";
	}
}

static void
agent_synced(GObject *source, GAsyncResult *res, gpointer data)
{
	g_autoptr(GError) error = NULL;
	ExmUaAgent *agent;
	g_autoptr(ExmUaResponse) resp = call_finish(data, res, &agent, &error);
	ExmUaSyncOp *op;

	if (agent == NULL)
		return;
	op = agent->ops->pdata[agent->op_index];
	if (agent_refused(agent, "status api", error))
		return;
	if (resp == NULL) {
		/* The CP went away: the rest would fail the same way. */
		agent_unreachable(agent, "status api", error->message);
		agent->it.sync_errors++;
		agent_finish(agent, EXM_UA_OUTCOME_UNREACHABLE);
		return;
	}
	if (!op->retried && op->verb == EXM_UA_SYNC_POST && resp->status == SOUP_STATUS_CONFLICT) {
		op->verb = EXM_UA_SYNC_PUT; /* the row exists: update it (§13.2) */
		op->retried = TRUE;
	} else if (!op->retried && op->verb == EXM_UA_SYNC_PUT &&
		   resp->status == SOUP_STATUS_NOT_FOUND) {
		op->verb = EXM_UA_SYNC_POST; /* the row is gone: create it */
		op->retried = TRUE;
	} else {
		if (SOUP_STATUS_IS_SUCCESSFUL(resp->status) ||
		    (op->verb == EXM_UA_SYNC_DELETE && resp->status == SOUP_STATUS_NOT_FOUND)) {
			agent->it.posted += op->verb == EXM_UA_SYNC_POST;
			agent->it.put += op->verb == EXM_UA_SYNC_PUT;
			agent->it.removed += op->verb == EXM_UA_SYNC_DELETE;
		} else {
			g_warning("status api: %s %s/%s answered %u",
				  sync_method(op->verb),
				  op->kind,
				  op->uuid,
				  resp->status);
			agent->it.sync_errors++;
		}
		agent->op_index++;
	}
	agent_sync_next(agent);
}

/* The collected payload becomes the last one.  While the targets are held,
 * its values are never read again: they stand in for the targets only
 * without them, and the saved state does not even hold them
 * (exm_ua_state_save()).  So only its marks are kept, not a second tree of
 * every account beside the targets' (docs/scale.md §3). */
static void
agent_keep_collected(ExmUaAgent *agent)
{
	g_clear_pointer(&agent->last, exm_ua_payload_free);
	if (agent->targets != NULL && !agent->targets_marked) {
		agent->last = exm_ua_payload_marks(agent->collected);
		g_clear_pointer(&agent->collected, exm_ua_payload_free);
	} else {
		agent->last = g_steal_pointer(&agent->collected);
	}
}

/* Saved, the targets are kept as their marks: the next light iteration reads
 * them hollow, and their values only if the node does not hold them; not a
 * tree of every account held from one iteration to the next.  Hollow ones
 * are small: kept as they are. */
static void
agent_keep_targets(ExmUaAgent *agent)
{
	ExmUaPayload *marks;

	if (agent->targets == NULL || agent->targets_marked || agent->targets->hollow)
		return;
	marks = exm_ua_payload_marks(agent->targets);
	exm_ua_payload_free(agent->targets);
	agent->targets = marks;
	agent->targets_marked = TRUE;
}

static void
agent_save(ExmUaAgent *agent)
{
	g_autoptr(GError) error = NULL;

	agent->collected->version = 0;
	exm_memprobe_point("synced");
	if (!exm_ua_state_save(agent->config->payload_path,
			       agent->collected,
			       agent->targets,
			       &agent->it.saved,
			       &error)) {
		g_warning("%s", error->message);
		agent_finish(agent, EXM_UA_OUTCOME_PARTIAL);
		return;
	}
	exm_memprobe_point("state saved");
	agent_keep_collected(agent);
	agent_keep_targets(agent);
	agent->offloaded = FALSE;
	agent->settled = agent->it.created + agent->it.updated + agent->it.deleted == 0;
	agent->saved = TRUE;
	g_clear_pointer(&agent->saved_kinds, g_hash_table_unref);
	agent->saved_kinds = g_hash_table_ref(agent->kinds);
	if (agent->settled && agent_can_idle(agent))
		agent_offload(agent);
	agent_finish(agent, EXM_UA_OUTCOME_OK);
}

/* The member of a Status API answer agent_synced() never reads. */
static const gchar *const sync_unused[] = { "value", NULL };

static void
agent_sync_next(ExmUaAgent *agent)
{
	ExmUaSyncOp *op;
	g_autoptr(JsonNode) body = NULL;
	g_autofree gchar *path = NULL;

	if (agent->op_index >= agent->ops->len) {
		/* A failed kind or write must not be marked as collected: the next poll
		 * then carries the old hash and the CP resends the full payload. */
		if (agent->driver_failed || agent->it.sync_errors > 0)
			agent_finish(agent, EXM_UA_OUTCOME_PARTIAL);
		else
			agent_save(agent);
		return;
	}
	op = agent->ops->pdata[agent->op_index];
	path = sync_path(op);
	if (op->verb != EXM_UA_SYNC_DELETE)
		body = exm_ua_sync_body(op, agent->identity->node);
	/* only the status of the answer is read: the resource it echoes is not
	 * built (at 100 000 accounts a tree of 88 MB, docs/scale.md §3) */
	exm_ua_client_request_pruned_async(agent->client,
					   EXM_UA_API_STATUS,
					   sync_method(op->verb),
					   path,
					   NULL,
					   body,
					   sync_unused,
					   agent->cancellable,
					   agent_synced,
					   call_new(agent));
}

static gboolean
agent_timeout_cb(gpointer data)
{
	ExmUaAgent *agent = data;

	g_clear_pointer(&agent->timer, g_source_unref);
	agent_iterate(agent);
	return G_SOURCE_REMOVE;
}

/* The next iteration in @ms, on the thread-default main context the agent
 * runs on (the global default for the agent program; its own for a host's
 * core-agent thread). */
static void
agent_schedule(ExmUaAgent *agent, guint ms)
{
	g_autoptr(GMainContext) context = g_main_context_ref_thread_default();

	if (agent->timer != NULL) {
		g_source_destroy(agent->timer);
		g_clear_pointer(&agent->timer, g_source_unref);
	}
	agent->timer = g_timeout_source_new(ms);
	g_source_set_callback(agent->timer, agent_timeout_cb, agent, NULL);
	g_source_attach(agent->timer, context);
}

/* Exponential backoff with jitter in [d/2, d], so a fleet of agents does not
 * hit a recovering CP in lockstep.  The cap (`backoff_max`, default 10 s) is
 * also the bound on how late an agent notices that the CP is back, whatever
 * the length of the outage (docs/agent-protocol.md §7.2). */
static gdouble
agent_backoff(ExmUaAgent *agent)
{
	gdouble d = agent->config->backoff_initial;

	for (guint i = 1; i < agent->failures && d < agent->config->backoff_max; i++)
		d *= 2;
	d = MIN(d, agent->config->backoff_max);
	return d * g_random_double_range(0.5, 1.0);
}

static gdouble
agent_next_delay(ExmUaAgent *agent, ExmUaOutcome outcome)
{
	gdouble elapsed = (gdouble)(g_get_monotonic_time() - agent->started_at) / G_USEC_PER_SEC;
	gdouble period = agent->config->poll_interval;

	if (outcome == EXM_UA_OUTCOME_UNREGISTERED && agent->failures <= 1)
		return 0; /* register right away, once */
	if (outcome != EXM_UA_OUTCOME_OK && outcome != EXM_UA_OUTCOME_PARTIAL)
		return agent_backoff(agent);
	if (!agent_long_poll(agent) || outcome != EXM_UA_OUTCOME_OK)
		return MAX(period - elapsed, EXM_UA_ITER_PAUSE);
	/* A long poll that came back early was a change (full payload) or a CP that
	 * ignores `wait` (light payload).  Re-poll at once after a change, but not
	 * forever: a CP whose hash never matches ours would be polled in a loop. */
	if (elapsed >= agent->config->long_poll_wait / 2.0) {
		agent->quick_full = 0;
		return EXM_UA_ITER_PAUSE;
	}
	/* An early full payload that made the driver apply something is a real
	 * target change, not a CP that never matches: it resets the count.  Our
	 * own Status API writes change the facts (hence the hash) too, so each
	 * change costs a second early answer that does count; without the reset,
	 * steady account changes pinned the agent to the normal period for good. */
	if (agent->it.created + agent->it.updated + agent->it.deleted > 0)
		agent->quick_full = 0;
	if (agent->it.light || ++agent->quick_full > EXM_UA_MAX_QUICK_FULL)
		return MAX(period - elapsed, EXM_UA_ITER_PAUSE);
	return EXM_UA_ITER_PAUSE;
}

static void
agent_finish(ExmUaAgent *agent, ExmUaOutcome outcome)
{
	gdouble delay;

	if (outcome != EXM_UA_OUTCOME_OK) {
		agent->settled = FALSE;
		agent->saved = FALSE;
	}
	if (outcome == EXM_UA_OUTCOME_OK)
		agent->failures = 0;
	else if (outcome != EXM_UA_OUTCOME_PARTIAL)
		agent->failures++;
	delay = agent_next_delay(agent, outcome);
	agent->it.outcome = outcome;
	agent->it.failures = agent->failures;
	agent->it.next_delay = delay;
	agent_reset_iteration(agent);
	/* the iteration's memory given back while the agent waits (an idle
	 * one used none) */
	if (!agent->it.idle) {
		malloc_trim(0);
		exm_memprobe_point("iteration trimmed");
	}
	if (agent->func != NULL)
		agent->func(agent, &agent->it, agent->func_data);
	if (!agent->started)
		return;
	agent_schedule(agent, (guint)(delay * 1000));
}

static void
agent_iterate(ExmUaAgent *agent)
{
	g_autoptr(GError) error = NULL;

	if (agent->reload_pending) {
		agent->reload_pending = FALSE;
		if (!exm_ua_agent_reload(agent, &error))
			g_warning("keeping the old configuration: %s", error->message);
	}
	memset(&agent->it, 0, sizeof(agent->it));
	agent->started_at = g_get_monotonic_time();
	if (!agent->registered)
		agent_register(agent);
	else
		agent_poll(agent);
}

/* Config, identity and client as one unit, so a reload is all-or-nothing. */
static gboolean
agent_load(const gchar *path,
	   ExmUaConfig **config,
	   ExmUaIdentity **identity,
	   ExmUaClient **client,
	   GError **error)
{
	g_autoptr(ExmUaConfig) c = exm_ua_config_load(path, error);
	g_autoptr(ExmUaIdentity) id = NULL;
	g_autoptr(ExmUaClient) cl = NULL;

	if (c == NULL)
		return FALSE;
	id = exm_ua_identity_new(c, error);
	if (id == NULL)
		return FALSE;
	cl = exm_ua_client_new(c, id->node, error);
	if (cl == NULL)
		return FALSE;
	*config = g_steal_pointer(&c);
	*identity = g_steal_pointer(&id);
	*client = g_steal_pointer(&cl);
	return TRUE;
}

/**
 * exm_ua_agent_new:
 * @config_path: the ini file (re-read on SIGHUP / exm_ua_agent_reload())
 * @error: %EXM_UA_ERROR_CONFIG
 *
 * Returns: (transfer full): the agent
 */
ExmUaAgent *
exm_ua_agent_new(const gchar *config_path, GError **error)
{
	g_autoptr(ExmUaAgent) agent = g_new0(ExmUaAgent, 1);

	agent->config_path = g_strdup(config_path);
	agent->drivers = g_ptr_array_new_with_free_func((GDestroyNotify)exm_ua_driver_free);
	agent->cancellable = g_cancellable_new();
	if (!agent_load(config_path, &agent->config, &agent->identity, &agent->client, error))
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
		return NULL;
	g_message("agent %s on node %s, orch %s, status %s, %s",
		  agent->identity->agent,
		  agent->identity->node,
		  agent->config->orch_endpoint,
		  agent->config->status_endpoint,
		  exm_ua_client_is_sealed(agent->client) ? "encrypted" : "plain");
	return g_steal_pointer(&agent);
}

/**
 * exm_ua_agent_add_driver:
 * @agent: an agent that has not started
 * @driver: (transfer full): a capability driver
 * @error: %EXM_UA_ERROR_CONFIG when a kind is already served by another driver
 *
 * Returns: %TRUE on success (on failure @driver is freed)
 */
gboolean
exm_ua_agent_add_driver(ExmUaAgent *agent, ExmUaDriver *driver, GError **error)
{
	g_autoptr(ExmUaDriver) owned = driver;
	g_autoptr(GPtrArray) known = agent_capabilities(agent);
	const gchar *const *kinds = driver->kinds(driver);

	for (guint i = 0; kinds != NULL && kinds[i] != NULL; i++) {
		gboolean dup = FALSE;
		for (guint j = 0; j < known->len && !dup; j++)
			dup = strcmp(known->pdata[j], kinds[i]) == 0;
		if (dup || !exm_proto_kind_is_valid(kinds[i])) {
			g_set_error(error,
				    EXM_UA_ERROR,
				    EXM_UA_ERROR_CONFIG,
				    "driver %s: kind %s is invalid or already served",
				    driver->name,
				    kinds[i]);
			return FALSE;
		}
	}
	g_ptr_array_add(agent->drivers, g_steal_pointer(&owned));
	return TRUE;
}

/**
 * exm_ua_agent_set_iteration_func:
 * @agent: an agent
 * @func: (nullable): called at the end of every iteration (tests, metrics)
 * @user_data: its data
 */
void
exm_ua_agent_set_iteration_func(ExmUaAgent *agent, ExmUaIterationFunc func, gpointer user_data)
{
	agent->func = func;
	agent->func_data = user_data;
}

/**
 * exm_ua_agent_start:
 * @agent: an agent
 *
 * Removes the stale temp files of the saved payload, loads it and schedules
 * the first iteration on the thread-default main context.
 */
static void
agent_remove_stale(ExmUaAgent *agent)
{
	g_autoptr(GError) error = NULL;
	const gchar *path = agent->config->payload_path;
	guint n = 0;

	if (!exm_atomic_remove_stale(path, &n, &error))
		g_warning("stale temporary files of %s: %s", path, error->message);
	else if (n > 0)
		g_message("removed %u stale temporary file%s of %s", n, n == 1 ? "" : "s", path);
}

void
exm_ua_agent_start(ExmUaAgent *agent)
{
	if (agent->started)
		return;
	/* A saver killed before its rename left its temp file behind. */
	agent_remove_stale(agent);
	g_clear_pointer(&agent->last, exm_ua_payload_free);
	g_clear_pointer(&agent->targets, exm_ua_payload_free);
	exm_ua_state_load_hollow(agent->config->payload_path, &agent->last, &agent->targets);
	agent->settled = FALSE;
	agent->saved = FALSE;
	agent->offloaded = FALSE;
	agent->targets_marked = FALSE;
	if (g_cancellable_is_cancelled(agent->cancellable)) {
		g_object_unref(agent->cancellable);
		agent->cancellable = g_cancellable_new();
	}
	agent->started = TRUE;
	agent->failures = 0;
	agent_schedule(agent, 0);
}

/**
 * exm_ua_agent_stop:
 * @agent: an agent
 *
 * Cancels requests in flight and the next iteration; quits exm_ua_agent_run().
 */
void
exm_ua_agent_stop(ExmUaAgent *agent)
{
	agent->started = FALSE;
	g_cancellable_cancel(agent->cancellable);
	if (agent->timer != NULL) {
		g_source_destroy(agent->timer);
		g_clear_pointer(&agent->timer, g_source_unref);
	}
	agent_reset_iteration(agent);
	if (agent->loop != NULL)
		g_main_loop_quit(agent->loop);
}

static gboolean
agent_on_stop_signal(gpointer data)
{
	g_message("stopping");
	exm_ua_agent_stop(data);
	return G_SOURCE_CONTINUE;
}

static gboolean
agent_on_hup(gpointer data)
{
	ExmUaAgent *agent = data;

	g_message("configuration reload requested");
	agent->reload_pending = TRUE;
	return G_SOURCE_CONTINUE;
}

/**
 * exm_ua_agent_run:
 * @agent: an agent
 *
 * exm_ua_agent_start() and a main loop until exm_ua_agent_stop(), SIGTERM or SIGINT;
 * SIGHUP re-reads the configuration before the next iteration.
 */
void
exm_ua_agent_run(ExmUaAgent *agent)
{
	guint term = g_unix_signal_add(SIGTERM, agent_on_stop_signal, agent);
	guint intr = g_unix_signal_add(SIGINT, agent_on_stop_signal, agent);
	guint hup = g_unix_signal_add(SIGHUP, agent_on_hup, agent);

	agent->loop = g_main_loop_new(g_main_context_get_thread_default(), FALSE);
	exm_ua_agent_start(agent);
	if (agent->started)
		g_main_loop_run(agent->loop);
	g_clear_pointer(&agent->loop, g_main_loop_unref);
	g_source_remove(term);
	g_source_remove(intr);
	g_source_remove(hup);
}

static gboolean
agent_identity_changed(ExmUaAgent *agent, ExmUaConfig *c, ExmUaIdentity *id)
{
	return g_strcmp0(id->agent, agent->identity->agent) != 0 ||
	       g_strcmp0(id->node, agent->identity->node) != 0 ||
	       g_strcmp0(c->status_endpoint, agent->config->status_endpoint) != 0 ||
	       g_strcmp0(c->orch_endpoint, agent->config->orch_endpoint) != 0;
}

/**
 * exm_ua_agent_reload:
 * @agent: an agent
 * @error: %EXM_UA_ERROR_CONFIG; the old configuration stays in force
 *
 * Re-reads the configuration file now (call between iterations).
 *
 * Returns: %TRUE on success
 */
gboolean
exm_ua_agent_reload(ExmUaAgent *agent, GError **error)
{
	g_autoptr(ExmUaConfig) c = NULL;
	g_autoptr(ExmUaIdentity) id = NULL;
	g_autoptr(ExmUaClient) cl = NULL;

	if (!agent_load(agent->config_path, &c, &id, &cl, error))
		return FALSE;
	if (agent_identity_changed(agent, c, id))
		agent->registered = FALSE;
	if (g_strcmp0(c->payload_path, agent->config->payload_path) != 0) {
		g_clear_pointer(&agent->last, exm_ua_payload_free);
		g_clear_pointer(&agent->targets, exm_ua_payload_free);
		g_clear_pointer(&agent->last, exm_ua_payload_free);
		g_clear_pointer(&agent->targets, exm_ua_payload_free);
		exm_ua_state_load_hollow(c->payload_path, &agent->last, &agent->targets);
		agent->settled = FALSE;
		agent->saved = FALSE;
		agent->offloaded = FALSE;
		agent->targets_marked = FALSE;
	}
	if (!g_strv_equal((const gchar *const *)c->caps_drivers,
			  (const gchar *const *)agent->config->caps_drivers))
		g_warning("caps_drivers changed: takes effect after a restart");
	exm_ua_config_free(agent->config);
	agent->config = g_steal_pointer(&c);
	exm_ua_identity_free(agent->identity);
	agent->identity = g_steal_pointer(&id);
	exm_ua_client_free(agent->client);
	agent->client = g_steal_pointer(&cl);
	g_message("configuration reloaded");
	return TRUE;
}

/**
 * exm_ua_agent_get_uuid:
 * @agent: an agent
 *
 * Returns: (transfer none): the agent uuid
 */
const gchar *
exm_ua_agent_get_uuid(ExmUaAgent *agent)
{
	return agent->identity->agent;
}

/**
 * exm_ua_agent_get_node:
 * @agent: an agent
 *
 * Returns: (transfer none): the node uuid
 */
const gchar *
exm_ua_agent_get_node(ExmUaAgent *agent)
{
	return agent->identity->node;
}

/**
 * exm_ua_agent_free:
 * @agent: (nullable): an agent
 *
 * Stops @agent (cancelling requests in flight) and frees it with its drivers.
 */
void
exm_ua_agent_free(ExmUaAgent *agent)
{
	if (agent == NULL)
		return;
	exm_ua_agent_stop(agent);
	g_clear_object(&agent->cancellable);
	g_clear_pointer(&agent->drivers, g_ptr_array_unref);
	g_clear_pointer(&agent->last, exm_ua_payload_free);
	g_clear_pointer(&agent->targets, exm_ua_payload_free);
	g_clear_pointer(&agent->saved_kinds, g_hash_table_unref);
	exm_ua_client_free(agent->client);
	exm_ua_identity_free(agent->identity);
	exm_ua_config_free(agent->config);
	g_free(agent->config_path);
	g_free(agent);
}
