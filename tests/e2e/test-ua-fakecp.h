/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * An in-process fake control plane for the agent tests: the Orch API and the
 * Status API of docs/agent-protocol.md §4–§6 on two SoupServers bound to
 * 127.0.0.1 (random ports), sharing one in-memory state (agents, target and
 * actual resources), with the §4.1 payload algorithm, the §6 envelope, the
 * node verifier, upstream's refusal of unknown get_payload parameters, `wait=`
 * long polls when allowed, a log of every request and a few fault knobs.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

typedef struct {
	gchar *api; /* "orch" or "status" */
	gchar *method;
	gchar *path;
	gchar *query;	     /* nullable */
	gchar *content_type; /* nullable */
	gchar *node_header;  /* nullable */
	gchar *nonce_header; /* nullable */
	JsonNode *body;	     /* nullable: decrypted when sealed */
	guint status;	     /* what the fake answered (0 while held) */
	guint seq;
} FakeRequest;

typedef struct _FakeCp FakeCp;

/* @key_b64: (nullable): node key; when set every request must be encrypted. */
FakeCp *fake_cp_new(const gchar *key_b64);
void fake_cp_free(FakeCp *cp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakeCp, fake_cp_free)

const gchar *fake_cp_orch_url(FakeCp *cp);
const gchar *fake_cp_status_url(FakeCp *cp);

/* Stops listening (connection refused) / listens again on the same ports. */
void fake_cp_go_down(FakeCp *cp);
void fake_cp_come_up(FakeCp *cp);

/* Requests seen so far (FakeRequest); fake_cp_clear_log() forgets them. */
GPtrArray *fake_cp_log(FakeCp *cp);
void fake_cp_clear_log(FakeCp *cp);
/* Number of logged requests with @method whose path starts with @prefix. */
guint fake_cp_count(FakeCp *cp, const gchar *method, const gchar *prefix);
/* Protocol violations the fake noticed (unknown fields, bad res_uuid, …). */
GPtrArray *fake_cp_violations(FakeCp *cp);

/* State. Values are parsed from JSON text. */
void fake_cp_add_agent(FakeCp *cp, const gchar *uuid, const gchar *node, const gchar *caps_json);
void fake_cp_forget_agent(FakeCp *cp, const gchar *uuid);
JsonObject *fake_cp_get_agent(FakeCp *cp, const gchar *uuid);
/* Sets (or replaces) the target of (kind, uuid) for @agent; wakes long polls. */
void fake_cp_set_target(FakeCp *cp, const gchar *agent, const gchar *kind, const gchar *value_json);
void fake_cp_remove_target(FakeCp *cp, const gchar *kind, const gchar *uuid);
/* Adds an actual row as if reported earlier (by @node). */
void fake_cp_add_actual(FakeCp *cp,
			const gchar *kind,
			const gchar *node,
			const gchar *value_json,
			const gchar *hash);
JsonObject *fake_cp_get_actual(FakeCp *cp, const gchar *kind, const gchar *uuid);
guint fake_cp_n_actuals(FakeCp *cp);

/* Answers the next @n get_payload calls with 404 / the next @n requests with @status. */
void fake_cp_fail_next(FakeCp *cp, guint n, guint status);

/* As upstream, get_payload refuses every query parameter but `hash` and
 * `version` with a 500 TypeError (`wait=` too); this makes it accept `wait=`
 * as this project's host does (its long-poll extension). */
void fake_cp_accept_wait(FakeCp *cp, gboolean accept);
/* With fake_cp_accept_wait(): `wait=` accepted but ignored, light answers at once. */
void fake_cp_ignore_wait(FakeCp *cp, gboolean ignore);
/* The node verifier (`GET /v1/node_verifiers/<node>/actions/verify`) answers 404
 * for every node; by default it answers `{"valid": true}` for the calling node. */
void fake_cp_refuse_node(FakeCp *cp, gboolean refuse);

/* Successes in plain JSON although the CP holds a key: someone on the path
 * who has no key answers in the CP's place. */
void fake_cp_answer_plain(FakeCp *cp, gboolean plain);
/* Answers without a Content-Length, in chunks of a few bytes. */
void fake_cp_answer_chunked(FakeCp *cp, gboolean chunked);
/* Records the last sealed get_payload answer sent (body and nonce, verbatim) … */
void fake_cp_record_payload(FakeCp *cp);
/* … and answers the next @n get_payload calls with it, as an eavesdropper would. */
void fake_cp_replay_payload(FakeCp *cp, guint n);

/* The hash the CP computes for @agent's payload now. */
gchar *fake_cp_payload_hash(FakeCp *cp, const gchar *agent);
