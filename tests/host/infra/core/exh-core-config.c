/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The settings of the `core` backend and the host's `[core]` group
 * (exh-core-backend.h).
 */
#include "exh-core-backend.h"

#include <string.h>

#include "exh-error.h"
#include "exm-secret.h"
#include "exm-uuid.h"

#define GROUP "core"

ExhCoreConfig *
exh_core_config_new(void)
{
	ExhCoreConfig *config = g_new0(ExhCoreConfig, 1);

	config->user = g_strdup("metapaas");
	config->client_id = g_strdup("GenesisCoreClientId");
	config->client_secret = g_strdup("GenesisCoreSecret");
	config->client_uuid = g_strdup("00000000-0000-0000-0000-000000000000");
	config->timeout_ms = 10000;
	config->poll_ms = 3000;
	config->token_ttl = 86400;
	return config;
}

void
exh_core_config_free(ExhCoreConfig *config)
{
	if (config == NULL)
		return;
	g_free(config->endpoint);
	g_free(config->user);
	exm_secret_free(config->password);
	g_free(config->client_id);
	exm_secret_free(config->client_secret);
	g_free(config->client_uuid);
	g_free(config->project);
	g_free(config);
}

/* The password file: a secret file (exm_secret_read_file()), first line only. */
static gchar *
read_password(const gchar *path, GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autoptr(ExmSecret) text = exm_secret_read_file(path, &local);

	if (text == NULL) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "password file %s", local->message);
		return NULL;
	}
	text[strcspn(text, "\r\n")] = '\0';
	if (text[0] == '\0') {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "password file %s is empty", path);
		return NULL;
	}
	return g_strdup(text);
}

static gboolean
load_string(GKeyFile *kf, const gchar *key, gboolean secret, gchar **out)
{
	gchar *value = g_key_file_get_string(kf, GROUP, key, NULL);

	if (value == NULL)
		return FALSE;
	if (secret)
		exm_secret_free(*out);
	else
		g_free(*out);
	*out = value;
	return TRUE;
}

static gboolean
load_uint(GKeyFile *kf, const gchar *key, guint min, guint *out, GError **error)
{
	g_autoptr(GError) local = NULL;
	gint value;

	if (!g_key_file_has_key(kf, GROUP, key, NULL))
		return TRUE;
	value = g_key_file_get_integer(kf, GROUP, key, &local);
	if (local != NULL || value < (gint)min) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "[core] %s: not >= %u", key, min);
		return FALSE;
	}
	*out = (guint)value;
	return TRUE;
}

static gboolean
check_required(const ExhCoreConfig *c, GError **error)
{
	if (c->endpoint == NULL || (!g_str_has_prefix(c->endpoint, "http://") &&
				    !g_str_has_prefix(c->endpoint, "https://"))) {
		g_set_error(
			error, EXH_ERROR, EXH_ERROR_CONFIG, "[core] endpoint: not an http(s) url");
		return FALSE;
	}
	if (c->project == NULL || !exm_uuid_is_valid(c->project)) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "[core] project: not a uuid");
		return FALSE;
	}
	return TRUE;
}

ExhCoreConfig *
exh_core_config_load_key_file(GKeyFile *kf, GError **error)
{
	g_autoptr(ExhCoreConfig) c = NULL;
	g_autofree gchar *password_file = NULL;

	if (!g_key_file_has_group(kf, GROUP))
		return NULL;
	c = exh_core_config_new();
	load_string(kf, "endpoint", FALSE, &c->endpoint);
	load_string(kf, "user", FALSE, &c->user);
	load_string(kf, "client_id", FALSE, &c->client_id);
	load_string(kf, "client_secret", TRUE, &c->client_secret);
	load_string(kf, "client_uuid", FALSE, &c->client_uuid);
	load_string(kf, "project", FALSE, &c->project);
	password_file = g_key_file_get_string(kf, GROUP, "password_file", NULL);
	if (!check_required(c, error) || !load_uint(kf, "timeout_ms", 100, &c->timeout_ms, error) ||
	    !load_uint(kf, "poll_ms", 10, &c->poll_ms, error) ||
	    !load_uint(kf, "token_ttl", 1, &c->token_ttl, error))
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees c
		return NULL;
	if (password_file == NULL) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "[core] password_file: required");
		return NULL;
	}
	c->password = read_password(password_file, error);
	if (c->password == NULL)
		return NULL;
	while (g_str_has_suffix(c->endpoint, "/"))
		c->endpoint[strlen(c->endpoint) - 1] = '\0';
	return g_steal_pointer(&c);
}
