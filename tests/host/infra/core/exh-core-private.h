/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Internals of the `core` backend shared by its files: the desired and
 * polled state (exh-core-backend.c) and the worker that converges Core to
 * it (exh-core-sync.c).
 */
#pragma once

#include "exh-core-backend.h"
#include "exh-core-client.h"

G_BEGIN_DECLS

/* One desired resource (a set or a config): the body Core should hold. */
typedef struct {
	gchar *uuid;
	JsonNode *body;		  /* the POST value; PUT sends it minus uuid/project */
	guint64 gen;		  /* bumped by every accepted change of @body */
	guint64 synced_gen;	  /* the gen Core holds; != gen → GET/POST/PUT */
	gboolean polled;	  /* the poll saw it at least once */
	ExhInfraStatus status;	  /* Core's status at the last poll */
	ExhNodeSetActual *actual; /* sets: the last poll's snapshot, or NULL */
} ExhCoreItem;

typedef struct {
	ExhInfraBackend base;
	ExhCoreConfig *config;
	ExhCoreClient *client;
	GMutex lock;
	GCond cond;
	GThread *worker;
	gboolean stopping;
	gboolean wake;
	GHashTable *sets;	    /* uuid -> ExhCoreItem */
	GHashTable *configs;	    /* uuid -> ExhCoreItem */
	GHashTable *doomed_sets;    /* uuids to DELETE */
	GHashTable *doomed_configs; /* uuids to DELETE */
	GHashTable *keys;	    /* node uuid -> key (secret), of living sets */
	gchar *last_error;	    /* logged once until it changes */
	guint backoff_ms;
	gint64 next_poll;
} ExhCoreBackend;

/* exh-core-backend.c */
void exh_core_backend_wake(ExhCoreBackend *self);

/* exh-core-sync.c: the worker thread */
gpointer exh_core_sync_worker(gpointer data);

G_END_DECLS
