/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Drives libexordos_paas_mail.so through its ABI without HTTP: loads it with
 * GModule, runs its migrations on a fresh database of the throwaway cluster,
 * and wraps each dispatch in the transaction a host would (COMMIT on 2xx,
 * ROLLBACK otherwise).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>

#include "exordos-paas-plugin.h"

#define EXM_P1 "4d657461-0000-0000-0000-000000000002"
#define EXM_P2 "11111111-2222-3333-4444-555555555555"
/* `openssl passwd -6 -salt abcdefgh mypassword` */
#define EXM_HASH6                                                                                  \
	"$6$abcdefgh$oLS1rGK4lgcGC1pX.2W993IA8lR78HDKGKVffSLo1vsBwBx7BMfusZG93xlucBJAgJ91sTe/"     \
	"823AJaAf79KjO0"
/* `openssl passwd -6 -salt abcdefgh otherpass` */
#define EXM_HASH6B                                                                                 \
	"$6$abcdefgh$"                                                                             \
	"5sgtdyAXDBW3l9133tOySODCyLiP1jjQD6YgtBc0tQifCWhL8eWcVPQNjmoMdmLoWuVC1tgS95ug72O2KKhP60"

typedef struct {
	const gchar *project;
	const gchar *const *perms;
	gboolean anonymous;
} ExmWho;

extern const ExmWho exm_who_admin;     /* no project, *.*.* */
extern const ExmWho exm_who_owner1;    /* project P1, the owner's 9 permissions */
extern const ExmWho exm_who_owner2;    /* project P2, the owner's 9 permissions */
extern const ExmWho exm_who_wild1;     /* project P1, exordos_mail.*.* */
extern const ExmWho exm_who_anon;      /* anonymous */
extern const ExmWho exm_who_readonly1; /* project P1, *.*.read only */

typedef struct {
	guint status;
	gchar *body;
	JsonNode *json;
	GHashTable *headers;
} ExmReply;

void exm_reply_free(ExmReply *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmReply, exm_reply_free)

typedef struct {
	GModule *module;
	const ExordosPaasPluginDescriptor *desc;
	gpointer ctx;
	ExordosPaasHost host;
	gchar *conninfo;
	PGconn *db;
	GMutex log_lock;
	GPtrArray *logs;
} ExmFixture;

/* NULL when the current test was skipped (no PostgreSQL). */
ExmFixture *exm_fixture_new(void);
void exm_fixture_free(ExmFixture *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmFixture, exm_fixture_free)

/* Loads the plugin module only (no database). */
const ExordosPaasPluginDescriptor *exm_fixture_load_descriptor(GModule **module);

/* A new connection to the fixture's database. */
PGconn *exm_fixture_connect(ExmFixture *f);

/**
 * exm_fixture_call:
 * @db: (nullable): connection to use, the fixture's when %NULL
 * @query: (nullable): raw query string `a=b&c=d` (percent-decoded here)
 * @body: (nullable): request body, NUL-terminated
 *
 * One dispatch in a transaction.  Asserts the response's shape: JSON body for
 * every status but 204, the restalchemy error body for 4xx/5xx.
 */
ExmReply *exm_fixture_call(ExmFixture *f,
			   PGconn *db,
			   const ExmWho *who,
			   const gchar *method,
			   const gchar *path,
			   const gchar *query,
			   const gchar *body);
ExmReply *exm_fixture_call_len(ExmFixture *f,
			       PGconn *db,
			       const ExmWho *who,
			       const gchar *method,
			       const gchar *path,
			       const gchar *query,
			       const gchar *body,
			       gsize body_len,
			       const gchar *content_type);

/* Asserts an error reply: @status and the body's `type`. */
void exm_assert_error(ExmReply *reply, guint status, const gchar *type);
#define exm_assert_status(reply, st)                                                               \
	G_STMT_START                                                                               \
	{                                                                                          \
		if ((reply)->status != (st))                                                       \
			g_test_message("unexpected reply %u: %s", (reply)->status, (reply)->body); \
		g_assert_cmpuint((reply)->status, ==, (st));                                       \
	}                                                                                          \
	G_STMT_END

const gchar *exm_reply_str(ExmReply *reply, const gchar *member);
gint64 exm_reply_int(ExmReply *reply, const gchar *member);
gboolean exm_reply_has(ExmReply *reply, const gchar *member);
guint exm_reply_len(ExmReply *reply);
const gchar *exm_reply_header(ExmReply *reply, const gchar *name);

/* SELECT count(*) of @sql_from (e.g. "mail_accounts"). */
/* One element-manifest resource through manifest_apply, in a transaction. */
ExmReply *exm_fixture_manifest(ExmFixture *f,
			       ExordosPaasManifestOp op,
			       const gchar *kind,
			       const gchar *uuid,
			       const gchar *value,
			       const gchar *seal);

gint64 exm_fixture_count(ExmFixture *f, const gchar *table);
/* The first value of a test-only query. */
gchar *exm_fixture_scalar(ExmFixture *f, const gchar *sql);

/* The zone-file lines of a dns_records answer, the PTRs (@ptr) or the others:
 * `<fqdn>. 3600 IN <type> <data>`, TXT data quoted as one string. */
gchar *exm_fixture_zone_lines(ExmReply *records, gboolean ptr);

/* Seeds: a version (operator), an instance of @who's project (or @project). */
gchar *exm_fixture_version(ExmFixture *f, const gchar *name);
gchar *exm_fixture_instance(ExmFixture *f,
			    const ExmWho *who,
			    const gchar *project,
			    const gchar *version,
			    const gchar *name);
gchar *exm_fixture_account(ExmFixture *f,
			   const ExmWho *who,
			   const gchar *instance,
			   const gchar *username);

/**
 * exm_fixture_paas_tick:
 * @instance: the instance the engine rebuilds
 * @name: a member of the node's actual value (`tls`, `breaker`)
 * @member: (nullable): its JSON text; %NULL: the node reports none
 * @node: (out) (optional): the `mail_instance_node` target's value
 *
 * One pass of the paas builder as the host's engine makes it (load, build,
 * apply the patch if there is one, in one transaction) over a view whose
 * NodeSet is ACTIVE and whose node reports its DKIM key and @member.
 *
 * Returns: (transfer full) (nullable): the patch; %NULL: none
 */
gchar *exm_fixture_paas_tick(ExmFixture *f,
			     const gchar *instance,
			     const gchar *name,
			     const gchar *member,
			     gchar **node);

/* TRUE when no log line contains @needle. */
gboolean exm_fixture_logs_lack(ExmFixture *f, const gchar *needle);

/* Shared by the test-plugin-* files. */
gchar *exm_fixture_accounts_path(const gchar *instance);
/* A call without a query that must be refused with @status and @type. */
void exm_fixture_assert_call_error(ExmFixture *f,
				   const ExmWho *who,
				   const gchar *method,
				   const gchar *path,
				   const gchar *body,
				   guint status,
				   const gchar *type);
/* GET instances/ with @query as owner1: 200 with @len items. */
void exm_fixture_assert_list_len(ExmFixture *f, const gchar *query, guint len);
/* GET instances/ with @query as owner1: refused with @status and @type. */
void exm_fixture_assert_list_error(ExmFixture *f,
				   const gchar *query,
				   guint status,
				   const gchar *type);
