/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A mail instance row as the plugin's builders read it.  Strings are owned.
 */
#pragma once

#include <glib.h>

#include "exm-mail-node.h"
#include "exm-mail-status.h"

/* A mail instance row as the plugin's builders read it (their input). */
typedef struct {
	gchar *uuid;
	gchar *name;
	gchar *description;
	gchar *project_id;
	gchar *domain;
	ExmMailStatus status;
	GPtrArray *ipsv4; /* gchar* */
	gint64 cpu;
	gint64 ram;
	gint64 disk_size;
	gchar *version; /* uuid of the MailVersion */
	gchar *dkim_public_key;
	gchar *dkim_selector;
	gint64 created_at;
	gint64 updated_at;
	ExmMailLimits limits; /* abuse controls; 0: the default */
} ExmMailInstance;

ExmMailInstance *exm_mail_instance_new(void); /* defaults: NEW, ipsv4 [], "" keys */
void exm_mail_instance_free(ExmMailInstance *i);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmMailInstance, exm_mail_instance_free)
