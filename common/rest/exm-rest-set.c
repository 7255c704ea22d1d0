/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Column values to write (see exm-rest-set.h).
 */
#include "exm-rest-set.h"

#include <string.h>

#include "exm-cleanup.h"

static void
set_free(ExmRestSet *set)
{
	if (set->text != NULL)
		exm_secret_wipe(set->text, strlen(set->text));
	g_free(set->text);
	g_free(set);
}

GPtrArray *
exm_rest_set_list_new(void)
{
	return g_ptr_array_new_with_free_func((GDestroyNotify)set_free);
}

ExmRestSet *
exm_rest_set_find(GPtrArray *sets, const gchar *name)
{
	for (guint i = 0; i < sets->len; i++) {
		ExmRestSet *s = g_ptr_array_index(sets, i);
		if (g_strcmp0(s->field->name, name) == 0)
			return s;
	}
	return NULL;
}

const gchar *
exm_rest_set_text(GPtrArray *sets, const gchar *name)
{
	ExmRestSet *s = exm_rest_set_find(sets, name);

	return s != NULL ? s->text : NULL;
}

/* Sets (or replaces) the value written to column @name. */
void
exm_rest_set_put(GPtrArray *sets, const ExmRestModel *model, const gchar *name, const gchar *text)
{
	ExmRestSet *s = exm_rest_set_find(sets, name);
	gchar *copy;

	if (s == NULL) {
		s = g_new0(ExmRestSet, 1);
		s->field = exm_rest_model_field(model, name);
		g_return_if_fail(s->field != NULL);
		g_ptr_array_add(sets, s);
	}
	/* @text may be s->text itself: copy before freeing. */
	copy = g_strdup(text);
	if (s->text != NULL)
		exm_secret_wipe(s->text, strlen(s->text));
	g_free(s->text);
	s->text = copy;
}
