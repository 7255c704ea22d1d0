/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The descriptor's model tables (ExordosPaasModel, ExordosPaasField) derived
 * from the one declaration of each model (its ExmRestModel in exm-plugin.c
 * and its kind in exm-plugin-mail.c), so a field is declared once.
 */
#include "exm-plugin-private.h"

#include <string.h>

#define EXM_PLUGIN_ABI_MAX_FIELDS 48

/* The ABI kind name of each model; the order is the descriptor's. */
static const struct {
	const gchar *name;
	const ExmRestKind *kind;
} exm_plugin_abi_kinds[] = {
	{ "mail_version", &exm_plugin_mail_versions },
	{ "mail_instance", &exm_plugin_mail_instances },
	{ "mail_account", &exm_plugin_mail_accounts },
};
#define EXM_PLUGIN_ABI_N G_N_ELEMENTS(exm_plugin_abi_kinds)

static ExordosPaasField exm_plugin_abi_fields[EXM_PLUGIN_ABI_N][EXM_PLUGIN_ABI_MAX_FIELDS];
static const ExordosPaasField
	*exm_plugin_abi_field_ptrs[EXM_PLUGIN_ABI_N][EXM_PLUGIN_ABI_MAX_FIELDS + 1];
static gchar exm_plugin_abi_paths[EXM_PLUGIN_ABI_N][128];
static ExordosPaasModel exm_plugin_abi_table[EXM_PLUGIN_ABI_N];
static const ExordosPaasModel *exm_plugin_abi_list[EXM_PLUGIN_ABI_N + 1];

static const gchar *
abi_kind_name(const ExmRestKind *kind)
{
	for (gsize i = 0; i < EXM_PLUGIN_ABI_N; i++) {
		if (exm_plugin_abi_kinds[i].kind == kind)
			return exm_plugin_abi_kinds[i].name;
	}
	return NULL;
}

/* The kind served at a relationship's collection (`versions/`). */
static const gchar *
abi_related(const gchar *related)
{
	for (gsize i = 0; related != NULL && i < EXM_PLUGIN_ABI_N; i++) {
		const ExmRestKind *k = exm_plugin_abi_kinds[i].kind;
		gsize n = strlen(k->route->name);
		if (k->parent == NULL && strncmp(related, k->route->name, n) == 0 &&
		    g_str_equal(related + n, "/"))
			return exm_plugin_abi_kinds[i].name;
	}
	return NULL;
}

static ExordosPaasFieldType
abi_type(ExmRestType type)
{
	switch (type) {
	case EXM_REST_TYPE_UUID:
		return EXORDOS_PAAS_FIELD_UUID;
	case EXM_REST_TYPE_INTEGER:
		return EXORDOS_PAAS_FIELD_INTEGER;
	case EXM_REST_TYPE_BOOLEAN:
		return EXORDOS_PAAS_FIELD_BOOLEAN;
	case EXM_REST_TYPE_TIMESTAMP:
		return EXORDOS_PAAS_FIELD_TIMESTAMP;
	case EXM_REST_TYPE_ENUM:
		return EXORDOS_PAAS_FIELD_ENUM;
	case EXM_REST_TYPE_STRING_LIST:
		return EXORDOS_PAAS_FIELD_STRING_LIST;
	case EXM_REST_TYPE_RELATIONSHIP:
		return EXORDOS_PAAS_FIELD_RELATIONSHIP;
	/* the ABI has no object type: a read-only JSON document is text to
	 * the host, which only copies it */
	case EXM_REST_TYPE_OBJECT:
	default:
		return EXORDOS_PAAS_FIELD_STRING;
	}
}

/**
 * exm_plugin_abi_field:
 * @field: a declared field
 * @out: receives its ABI form
 *
 * `uuid` is the primary key; required (by the toolkit or by the model's
 * rules) is REQUIRED, model read-only is READ_ONLY, a field without a column
 * is WRITE_ONLY; the access levels have the same values.
 *
 * Returns: (transfer none): @out
 */
const ExordosPaasField *
exm_plugin_abi_field(const ExmRestField *field, ExordosPaasField *out)
{
	guint32 flags = EXORDOS_PAAS_FIELD_FLAG_NONE;

	if ((field->flags & (EXM_REST_FIELD_REQUIRED | EXM_REST_FIELD_REQUIRED_BY_MODEL)) != 0)
		flags |= EXORDOS_PAAS_FIELD_FLAG_REQUIRED;
	if ((field->flags & EXM_REST_FIELD_READ_ONLY) != 0)
		flags |= EXORDOS_PAAS_FIELD_FLAG_READ_ONLY;
	if (g_str_equal(field->name, "uuid"))
		flags |= EXORDOS_PAAS_FIELD_FLAG_PRIMARY_KEY;
	if ((field->flags & EXM_REST_FIELD_NO_COLUMN) != 0)
		flags |= EXORDOS_PAAS_FIELD_FLAG_WRITE_ONLY;
	memset(out, 0, sizeof(*out));
	out->name = field->name;
	out->type = abi_type(field->type);
	out->flags = flags;
	out->access_create = (ExordosPaasFieldAccess)field->create;
	out->access_read = (ExordosPaasFieldAccess)field->read;
	out->access_update = (ExordosPaasFieldAccess)field->update;
	out->related_kind = abi_related(field->related);
	return out;
}

static void
abi_model(gsize i)
{
	const ExmRestKind *kind = exm_plugin_abi_kinds[i].kind;
	ExordosPaasModel *m = &exm_plugin_abi_table[i];
	gsize n = 0;

	for (const ExmRestField *f = kind->model->fields; f->name != NULL; f++, n++) {
		if (n >= EXM_PLUGIN_ABI_MAX_FIELDS)
			break; /* the unit test keeps every model below the bound */
		exm_plugin_abi_field_ptrs[i][n] =
			exm_plugin_abi_field(f, &exm_plugin_abi_fields[i][n]);
	}
	if (kind->parent != NULL)
		g_snprintf(exm_plugin_abi_paths[i],
			   sizeof(exm_plugin_abi_paths[i]),
			   "%s/{%s}/%s/",
			   kind->parent->route->name,
			   kind->parent_field,
			   kind->route->name);
	else
		g_snprintf(exm_plugin_abi_paths[i],
			   sizeof(exm_plugin_abi_paths[i]),
			   "%s/",
			   kind->route->name);
	m->kind = exm_plugin_abi_kinds[i].name;
	m->table = kind->model->table;
	m->path = exm_plugin_abi_paths[i];
	m->parent_kind = kind->parent != NULL ? abi_kind_name(kind->parent) : NULL;
	m->fields = exm_plugin_abi_field_ptrs[i];
	exm_plugin_abi_list[i] = m;
}

/**
 * exm_plugin_abi_models:
 *
 * Builds the tables on first use (thread-safe); they live as long as the
 * module.
 *
 * Returns: (transfer none): the %NULL-terminated models of the descriptor
 */
const ExordosPaasModel *const *
exm_plugin_abi_models(void)
{
	static gsize done = 0;

	if (g_once_init_enter(&done)) {
		for (gsize i = 0; i < EXM_PLUGIN_ABI_N; i++)
			abi_model(i);
		g_once_init_leave(&done, 1);
	}
	return exm_plugin_abi_list;
}
