/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The universal agent daemon loop (docs/agent-protocol.md §7, §13.1–13.2) on a
 * GLib main loop: register, poll get_payload (or long-poll with `wait=`), apply
 * capability targets through drivers, report actual state to the Status API,
 * persist the collected payload, back off while the CP is unreachable.
 */
#pragma once

#include "exm-ua-driver.h"

#include <glib.h>

typedef struct _ExmUaAgent ExmUaAgent;

/**
 * ExmUaOutcome:
 * @EXM_UA_OUTCOME_OK: payload applied and reported (or nothing to do)
 * @EXM_UA_OUTCOME_PARTIAL: a driver call or a Status API write failed; the
 *   collected hash was not saved, so the next poll brings the full payload again
 * @EXM_UA_OUTCOME_UNREGISTERED: get_payload answered 404; the agent re-registers
 * @EXM_UA_OUTCOME_UNREACHABLE: the CP could not be reached (or answered 5xx)
 * @EXM_UA_OUTCOME_REJECTED: the CP answered an unexpected status or a malformed body,
 *   or an answer was refused (#ExmUaIteration.refused)
 */
typedef enum {
	EXM_UA_OUTCOME_OK,
	EXM_UA_OUTCOME_PARTIAL,
	EXM_UA_OUTCOME_UNREGISTERED,
	EXM_UA_OUTCOME_UNREACHABLE,
	EXM_UA_OUTCOME_REJECTED,
} ExmUaOutcome;

/**
 * ExmUaIteration:
 * @outcome: how the iteration ended
 * @registered: a registration (POST, or 409 → PUT) succeeded in this iteration
 * @light: the CP answered with a light payload
 * @idle: a light payload while nothing changed since the last full iteration,
 *   which changed nothing: no driver listed, nothing hashed, sent or saved
 * @created: driver creates
 * @updated: driver updates
 * @deleted: driver removes
 * @posted: Status API POSTs that succeeded
 * @put: Status API PUTs that succeeded
 * @removed: Status API DELETEs that succeeded (404 counts: the row is gone)
 * @sync_errors: Status API writes that failed
 * @refused: answers refused as untrustworthy: plain although a key is held,
 *   replayed, or a payload older than the one applied (docs/SECURITY.md)
 * @saved: the payload file was rewritten
 * @values_read: the targets' values were read from the payload file: the
 *   node did not hold them all (a light iteration reads them hollow first)
 * @failures: consecutive failed iterations so far (0 after a success)
 * @next_delay: seconds until the next iteration starts
 */
typedef struct {
	ExmUaOutcome outcome;
	gboolean registered;
	gboolean light;
	gboolean idle;
	guint created;
	guint updated;
	guint deleted;
	guint posted;
	guint put;
	guint removed;
	guint sync_errors;
	guint refused;
	gboolean saved;
	gboolean values_read;
	guint failures;
	gdouble next_delay;
} ExmUaIteration;

/* Called at the end of every iteration; may call exm_ua_agent_stop(). */
typedef void (*ExmUaIterationFunc)(ExmUaAgent *agent,
				   const ExmUaIteration *iteration,
				   gpointer user_data);

/**
 * exm_ua_agent_new:
 * @config_path: the ini file (re-read on SIGHUP / exm_ua_agent_reload())
 * @error: %EXM_UA_ERROR_CONFIG
 *
 * Reads the configuration and the identity; no I/O towards the CP yet.
 *
 * Returns: (transfer full): the agent
 */
ExmUaAgent *exm_ua_agent_new(const gchar *config_path, GError **error);

/**
 * exm_ua_agent_add_driver:
 * @agent: an agent that has not started
 * @driver: (transfer full): a capability driver
 * @error: %EXM_UA_ERROR_CONFIG when a kind is already served by another driver
 *
 * Returns: %TRUE on success (on failure @driver is freed)
 */
gboolean exm_ua_agent_add_driver(ExmUaAgent *agent, ExmUaDriver *driver, GError **error);

void exm_ua_agent_set_iteration_func(ExmUaAgent *agent,
				     ExmUaIterationFunc func,
				     gpointer user_data);

/**
 * exm_ua_agent_start:
 * @agent: an agent
 *
 * Loads the saved payload and schedules the first iteration on the
 * thread-default main context.
 */
void exm_ua_agent_start(ExmUaAgent *agent);

/**
 * exm_ua_agent_run:
 * @agent: an agent
 *
 * exm_ua_agent_start() and a main loop until exm_ua_agent_stop(), SIGTERM or SIGINT;
 * SIGHUP re-reads the configuration before the next iteration.
 */
void exm_ua_agent_run(ExmUaAgent *agent);

/**
 * exm_ua_agent_stop:
 * @agent: an agent
 *
 * Cancels requests in flight and the next iteration; quits exm_ua_agent_run().
 */
void exm_ua_agent_stop(ExmUaAgent *agent);

/**
 * exm_ua_agent_reload:
 * @agent: an agent
 * @error: %EXM_UA_ERROR_CONFIG; the old configuration stays in force
 *
 * Re-reads the configuration file now (call between iterations).  A changed
 * identity or endpoint makes the agent register again.
 *
 * Returns: %TRUE on success
 */
gboolean exm_ua_agent_reload(ExmUaAgent *agent, GError **error);

/* Returns: (transfer none): the agent uuid. */
const gchar *exm_ua_agent_get_uuid(ExmUaAgent *agent);
/* Returns: (transfer none): the node uuid. */
const gchar *exm_ua_agent_get_node(ExmUaAgent *agent);

void exm_ua_agent_free(ExmUaAgent *agent);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmUaAgent, exm_ua_agent_free)
