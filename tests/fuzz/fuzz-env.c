/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzz target: exm_mail_env_parse, which reads mail.env back from a data plane.
 *
 * Properties: a refusal is EXM_MAIL_ERROR_PARSE; an accepted domain is its own
 * exm_mail_validate_normalize_domain(), and exm_mail_env_render() of it parses back to it.
 */
#include "exm-mail.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree gchar *content = exm_fuzz_strndup(data, size);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *domain = NULL;
	g_autofree gchar *norm = NULL;
	g_autofree gchar *rendered = NULL;
	g_autofree gchar *back = NULL;

	exm_fuzz_begin(data, size);
	domain = exm_mail_env_parse(content, &error);
	if (domain == NULL) {
		EXM_FUZZ_CHECK(g_error_matches(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_PARSE),
			       "refusal of another kind: %s",
			       error->message);
		return 0;
	}
	norm = exm_mail_validate_normalize_domain(domain, &error);
	EXM_FUZZ_CHECK(norm != NULL, "accepted domain '%s' is invalid: %s", domain, error->message);
	EXM_FUZZ_CHECK(g_str_equal(norm, domain),
		       "accepted domain '%s' is not normal ('%s')",
		       domain,
		       norm);
	rendered = exm_mail_env_render(domain, &error);
	EXM_FUZZ_CHECK(rendered != NULL, "cannot render '%s': %s", domain, error->message);
	back = exm_mail_env_parse(rendered, &error);
	EXM_FUZZ_CHECK(back != NULL && g_str_equal(back, domain),
		       "render/parse of '%s' gives '%s'",
		       domain,
		       back != NULL ? back : error->message);
	exm_fuzz_accepted();
	return 0;
}
