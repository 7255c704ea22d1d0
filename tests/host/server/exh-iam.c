/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-iam.h"

#include "exh-host.h"
#include "exh-iam-core.h"
#include "exm-secret.h"
#include "exm-cleanup.h"
#include "exm-error.h"
#include "exm-uuid.h"

#include <string.h>

struct _ExhIam {
	GHashTable *by_digest; /* SHA-256 hex of the token → ExhIdentity */
	ExhIdentity *anonymous;
	ExhIamCore *core; /* NULL: the token file */
};

ExhIam *
exh_iam_new(void)
{
	ExhIam *iam = g_new0(ExhIam, 1);

	iam->by_digest = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)exh_identity_unref);
	iam->anonymous = exh_identity_new(NULL, NULL, NULL);
	return iam;
}

void
exh_iam_free(ExhIam *iam)
{
	if (iam == NULL)
		return;
	g_hash_table_unref(iam->by_digest);
	exh_identity_unref(iam->anonymous);
	g_clear_pointer(&iam->core, exh_iam_core_free);
	g_free(iam);
}

guint
exh_iam_get_n_tokens(ExhIam *iam)
{
	return g_hash_table_size(iam->by_digest);
}

static gchar *
token_digest(const gchar *token)
{
	return g_compute_checksum_for_string(G_CHECKSUM_SHA256, token, -1);
}

/* Printable ASCII without spaces: what fits in an Authorization header. */
static gboolean
token_is_valid(const gchar *token)
{
	if (*token == '\0' || strlen(token) > 4096)
		return FALSE;
	for (const gchar *p = token; *p != '\0'; p++) {
		if (*p <= 0x20 || *p >= 0x7f)
			return FALSE;
	}
	return TRUE;
}

static ExhIdentity *
identity_from_group(GKeyFile *kf, const gchar *group, GError **error)
{
	g_autofree gchar *user = g_key_file_get_string(kf, group, "user", NULL);
	g_autofree gchar *project = g_key_file_get_string(kf, group, "project", NULL);
	g_autofree gchar *user_uuid = NULL;
	g_autofree gchar *project_uuid = NULL;
	g_auto(GStrv) permissions =
		g_key_file_get_string_list(kf, group, "permissions", NULL, NULL);

	if (user == NULL || !exm_uuid_is_valid(user)) {
		g_set_error_literal(
			error, EXH_ERROR, EXH_ERROR_IAM, "the key `user` must hold a UUID");
		return NULL;
	}
	user_uuid = exm_uuid_parse(user, NULL);
	if (project != NULL && *project != '\0') {
		if (!exm_uuid_is_valid(project)) {
			g_set_error_literal(error,
					    EXH_ERROR,
					    EXH_ERROR_IAM,
					    "the key `project` must hold a UUID");
			return NULL;
		}
		project_uuid = exm_uuid_parse(project, NULL);
	}
	for (guint i = 0; permissions != NULL && permissions[i] != NULL; i++)
		g_strstrip(permissions[i]);
	return exh_identity_new(user_uuid, project_uuid, (const gchar *const *)permissions);
}

gchar *
exh_iam_read_secret_file(const gchar *path, GError **error)
{
	g_autoptr(GError) local = NULL;
	gchar *text = exm_secret_read_file(path, &local);

	if (text == NULL)
		g_set_error_literal(error, EXH_ERROR, EXH_ERROR_IAM, local->message);
	return text;
}

gboolean
exh_iam_load_file(ExhIam *iam, const gchar *path, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GHashTable) table = NULL;
	g_auto(GStrv) groups = NULL;
	g_autoptr(GError) local = NULL;
	g_autoptr(ExmSecret) text = exh_iam_read_secret_file(path, error);

	if (text == NULL)
		return FALSE;
	if (!g_key_file_load_from_data(kf, text, (gsize)-1, G_KEY_FILE_NONE, &local)) {
		/* GKeyFile quotes the offending line, which may hold a token */
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_IAM,
			    "token file %s: %s",
			    path,
			    local->domain == G_KEY_FILE_ERROR ? "not a valid key file"
							      : local->message);
		return FALSE;
	}
	table = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)exh_identity_unref);
	groups = g_key_file_get_groups(kf, NULL);
	for (guint i = 0; groups[i] != NULL; i++) {
		ExhIdentity *identity;

		/* the position, not the group name: that is the secret */
		if (!token_is_valid(groups[i])) {
			g_set_error(error,
				    EXH_ERROR,
				    EXH_ERROR_IAM,
				    "token file %s: token #%u has characters a header cannot carry",
				    path,
				    i + 1);
			return FALSE;
		}
		identity = identity_from_group(kf, groups[i], error);
		if (identity == NULL) {
			g_prefix_error(error, "token file %s: token #%u: ", path, i + 1);
			return FALSE;
		}
		g_hash_table_replace(table, token_digest(groups[i]), identity);
		exm_secret_wipe(groups[i], strlen(groups[i]));
	}
	g_hash_table_unref(iam->by_digest);
	iam->by_digest = g_steal_pointer(&table);
	return TRUE;
}

const ExhIdentity *
exh_iam_authenticate(ExhIam *iam, const gchar *authorization, GError **error)
{
	g_autofree gchar *digest = NULL;
	g_autofree gchar *token = NULL;
	const ExhIdentity *identity;

	/* gcl_iam: anything but a Bearer credential is anonymous, not an error */
	if (authorization == NULL || g_ascii_strncasecmp(authorization, "bearer ", 7) != 0)
		return iam->anonymous;
	token = g_strstrip(g_strdup(authorization + 7));
	digest = token_digest(token);
	exm_secret_wipe(token, strlen(token));
	identity = g_hash_table_lookup(iam->by_digest, digest);
	if (identity == NULL) {
		g_set_error_literal(error,
				    EXM_ERROR,
				    EXM_ERROR_INVALID_TOKEN,
				    "Auth token has expired or is invalid");
		return NULL;
	}
	return identity;
}

void
exh_iam_use_core(ExhIam *iam, ExhIamCore *core)
{
	g_clear_pointer(&iam->core, exh_iam_core_free);
	iam->core = core;
}

void
exh_iam_authenticate_async(ExhIam *iam,
			   const gchar *authorization,
			   const gchar *otp,
			   ExhIdentityCallback callback,
			   gpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *token = NULL;

	if (iam->core == NULL || authorization == NULL ||
	    g_ascii_strncasecmp(authorization, "bearer ", 7) != 0) {
		const ExhIdentity *identity = exh_iam_authenticate(iam, authorization, &error);
		callback((ExhIdentity *)identity, error, data);
		return;
	}
	token = g_strstrip(g_strdup(authorization + 7));
	exh_iam_core_authenticate(iam->core, token, otp, callback, data);
	exm_secret_wipe(token, strlen(token));
}
