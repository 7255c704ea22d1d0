/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * An in-memory infra backend (tests/host/infra/exh-backend.h) for the
 * engine's tests and benchmarks: it keeps what it is given, answers every
 * set ACTIVE (ERROR while @failed) with one node, every config it holds
 * ACTIVE, and counts the calls.  It emits a change when a set is applied;
 * a test that changes @failed emits one itself, as a real backend must.
 */
#pragma once

#include <libpq-fe.h>

#include "exh-backend.h"
#include "exh-builder.h"

G_BEGIN_DECLS

/* the node of every set, and its envelope key */
#define EXH_TEST_BACKEND_NODE "7a7a0000-1111-4222-8333-444455556666"
#define EXH_TEST_BACKEND_KEY  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

typedef struct {
	ExhInfraBackend base;
	GMutex lock;
	GHashTable *sets;    /* uuid → ExhNodeSetTarget */
	GHashTable *configs; /* uuid → ExhConfigTarget */
	guint set_applies;
	guint config_applies;
	guint set_deletes;
	guint gets;	 /* get_node_set and get_config_status calls */
	gboolean failed; /* the set reports ERROR */
} ExhTestBackend;

/* (transfer full): free with exh_infra_backend_free(&b->base) */
ExhTestBackend *exh_test_backend_new(void);

/* Inserts @n node_set targets and a config on each (on
 * %EXH_TEST_BACKEND_NODE), without agent or master, as infra targets a
 * builder would route; set i (from 1) is
 * 00000000-0000-4000-8000-<i in 12 digits>, its config the same with 9000. */
void exh_test_backend_seed(PGconn *db, guint n);

/* A fresh database of the throwaway cluster with the host's agent tables,
 * @n sets and configs seeded (exh_test_backend_seed()) and an engine (not
 * started, no plugin) on @backend; %NULL when PostgreSQL is missing (the
 * test skips, or fails under EXM_REQUIRE_REAL_PEERS).  @conn is the test's
 * own connection. */
ExhBuilder *exh_test_backend_engine(ExhTestBackend *backend,
				    guint n,
				    gchar **conninfo,
				    PGconn **conn);

/* A counter of @f read under its lock. */
guint exh_test_backend_count(ExhTestBackend *f, const guint *counter);

G_END_DECLS
