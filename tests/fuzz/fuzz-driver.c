/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The plain-main driver linked with every fuzz target in every build (a clang
 * build also links each target with libFuzzer, as a separate binary
 * libfuzzer-<name>).  As a GTest/TAP test of suite `fuzz` it replays the
 * target's committed seed corpus (tests/fuzz/corpus/<name>/), then runs a
 * bounded, deterministic mutation loop over it: bit flips, byte sets,
 * interesting bytes and numbers, inserts, deletes, duplications, splices
 * between seeds and accepted mutants (kept as further bases), and the tokens of
 * tests/fuzz/<name>.dict (libFuzzer's format, so a clang build uses the same file with -dict=).
 *
 * The target's name is the executable's name without `fuzz-`.  Knobs:
 * EXM_FUZZ_SEED (default 20261125) and EXM_FUZZ_ITERATIONS override the seed
 * and the number of mutations.  Without the latter it is the `--iterations=N`
 * argument meson gives each target (sized for about a second), or 100000,
 * divided by 50 under EXM_UNDER_VALGRIND=1 (which the valgrind test setup sets)
 * and by 25 in an AddressSanitizer build.  EXM_FUZZ_CORPUS replays another
 * corpus directory, e.g. one that libFuzzer grew.  A failed property aborts
 * with the input in hex and the seed and mutation number that made it.
 */
#include <stdlib.h>
#include <string.h>

#include "exm-config.h"
#include "exm-test.h"
#include "fuzz-common.h"

#define DEFAULT_SEED	 20261125u
#define FUZZ_MAX_INPUT	 8192
#define VALGRIND_DIVISOR 50
/* ASan with the project's fast_unwind_on_malloc=0 costs ~50x per input */
#define SANITIZER_DIVISOR 25

#if defined(__SANITIZE_ADDRESS__)
#define EXM_FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EXM_FUZZ_ASAN 1
#endif
#endif
/* accepted mutants kept as bases for further mutation */
#define POOL_EXTRA 512

typedef struct {
	gchar *name;
	GPtrArray *seeds;  /* GBytes */
	GPtrArray *pool;   /* GBytes: the seeds, then mutants the parser accepted */
	GPtrArray *tokens; /* GBytes */
} Fuzz;

static Fuzz fuzz;
static guint64 arg_iterations = 100000;

/* Runs one input from a buffer of exactly its size, so that ASan and valgrind
 * see any read past its end. */
static void
run_input(const guint8 *data, gsize len)
{
	guint8 *copy = g_malloc(MAX(len, 1));

	if (len > 0)
		memcpy(copy, data, len);
	LLVMFuzzerTestOneInput(copy, len);
	g_free(copy);
}

static gchar *
corpus_dir(void)
{
	const gchar *dir = g_getenv("EXM_FUZZ_CORPUS");

	if (dir != NULL && *dir != '\0')
		return g_strdup(dir);
	return g_build_filename(EXM_SOURCE_ROOT, "tests", "fuzz", "corpus", fuzz.name, NULL);
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar *const *)a, *(const gchar *const *)b);
}

/* Sorted, so that the mutation loop is deterministic whatever readdir says. */
static GPtrArray *
list_corpus(const gchar *dir, GError **error)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, error);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const gchar *entry;

	if (d == NULL)
		return NULL;
	while ((entry = g_dir_read_name(d)) != NULL)
		g_ptr_array_add(names, g_build_filename(dir, entry, NULL));
	g_ptr_array_sort(names, compare_names);
	return g_steal_pointer(&names);
}

static void
load_seeds(void)
{
	g_autofree gchar *dir = corpus_dir();
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) files = list_corpus(dir, &error);

	g_assert_no_error(error);
	for (guint i = 0; i < files->len; i++) {
		gchar *contents = NULL;
		gsize len = 0;

		g_assert_true(g_file_get_contents(files->pdata[i], &contents, &len, &error));
		g_assert_no_error(error);
		g_ptr_array_add(fuzz.seeds, g_bytes_new_take(contents, len));
	}
}

static gint
hex_value(gchar c)
{
	return g_ascii_isxdigit(c) ? g_ascii_xdigit_value(c) : -1;
}

/* One dictionary line: `name="text"` or `"text"` with \\, \" and \xNN escapes. */
static GBytes *
parse_token(const gchar *line)
{
	const gchar *open = strchr(line, '"');
	const gchar *close = strrchr(line, '"');
	g_autoptr(GByteArray) out = g_byte_array_new();

	if (open == NULL || close == open)
		return NULL;
	for (const gchar *p = open + 1; p < close; p++) {
		guint8 b = (guint8)*p;

		if (*p == '\\' && p + 1 < close && p[1] == 'x' && p + 3 < close &&
		    hex_value(p[2]) >= 0 && hex_value(p[3]) >= 0) {
			b = (guint8)(hex_value(p[2]) * 16 + hex_value(p[3]));
			p += 3;
		} else if (*p == '\\' && p + 1 < close) {
			b = (guint8) * ++p;
		}
		g_byte_array_append(out, &b, 1);
	}
	return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

static void
load_tokens(void)
{
	g_autofree gchar *name = g_strconcat(fuzz.name, ".dict", NULL);
	g_autofree gchar *path = g_build_filename(EXM_SOURCE_ROOT, "tests", "fuzz", name, NULL);
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return; /* a dictionary is optional */
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		const gchar *line = g_strchug(lines[i]);
		GBytes *token;

		if (*line == '#' || *line == '\0')
			continue;
		token = parse_token(line);
		if (token != NULL)
			g_ptr_array_add(fuzz.tokens, token);
	}
}

static void
test_corpus(void)
{
	g_assert_cmpuint(fuzz.seeds->len, >, 0);
	for (guint i = 0; i < fuzz.seeds->len; i++) {
		gsize len = 0;
		const guint8 *data = g_bytes_get_data(fuzz.seeds->pdata[i], &len);
		g_autofree gchar *context = g_strdup_printf("seed #%u of %s", i, fuzz.name);

		exm_fuzz_set_context(context);
		run_input(data, len);
	}
	g_test_message("%u seeds, %u dictionary tokens", fuzz.seeds->len, fuzz.tokens->len);
}

/* ------------------------------------------------------------------ mutations */

static const guint8 interesting_bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xff, 0xc0, 0xed, 0xf4,
					    '"',  '\\', '\n', '\r', '\t', ' ',	':',  '@',
					    '$',  '{',	'}',  '[',  ']',  ',',	'.',  '-',
					    '/',  '=',	'\'', '#',  '0',  '9',	'u',  'x' };
static const gchar *const interesting_text[] = {
	"0",
	"-1",
	"1e308",
	"-0",
	"1e999",
	"0.1",
	"2147483648",
	"4294967296",
	"9223372036854775807",
	"9223372036854775808",
	"-9223372036854775809",
	"\\u0000",
	"\\ud800",
	"\\udc00",
	"\\ud83d\\ude00",
	"\xc3\xa9",
	"\xf0\x9f\x98\x80",
	"\xed\xa0\x80",
	"\xc0\xaf",
	"null",
	"true",
	"%00",
	"..",
	"//",
};

typedef struct {
	GRand *rand;
	GByteArray *buf;
} Mutator;

static guint
pick(Mutator *m, guint n)
{
	return n == 0 ? 0 : (guint)g_rand_int_range(m->rand, 0, (gint32)n);
}

static void
insert_bytes(Mutator *m, const guint8 *bytes, gsize len)
{
	guint at = pick(m, m->buf->len + 1);

	if (m->buf->len + len > FUZZ_MAX_INPUT)
		return;
	g_byte_array_set_size(m->buf, m->buf->len + (guint)len);
	memmove(m->buf->data + at + len, m->buf->data + at, m->buf->len - len - at);
	memcpy(m->buf->data + at, bytes, len);
}

static void
overwrite_bytes(Mutator *m, const guint8 *bytes, gsize len)
{
	if (m->buf->len < len) {
		insert_bytes(m, bytes, len);
		return;
	}
	memcpy(m->buf->data + pick(m, m->buf->len - (guint)len + 1), bytes, len);
}

static void
mutate_delete(Mutator *m)
{
	guint at, len;

	if (m->buf->len == 0)
		return;
	at = pick(m, m->buf->len);
	len = 1 + pick(m, MIN(m->buf->len - at, 16u));
	g_byte_array_remove_range(m->buf, at, len);
}

/* A seed's tail replaces ours from a random point: grammar-shaped crossovers. */
static void
mutate_splice(Mutator *m)
{
	gsize len = 0;
	const guint8 *other = g_bytes_get_data(fuzz.pool->pdata[pick(m, fuzz.pool->len)], &len);
	guint at = pick(m, m->buf->len + 1);
	guint from = pick(m, (guint)len + 1);

	g_byte_array_set_size(m->buf, at);
	if (len > from) /* an empty seed's data is NULL: no pointer arithmetic on it */
		g_byte_array_append(
			m->buf, other + from, (guint)MIN(len - from, (gsize)FUZZ_MAX_INPUT - at));
}

static void
mutate_duplicate(Mutator *m)
{
	g_autofree guint8 *chunk = NULL;
	guint at, len;

	if (m->buf->len == 0)
		return;
	at = pick(m, m->buf->len);
	len = 1 + pick(m, MIN(m->buf->len - at, 32u));
	chunk = g_memdup2(m->buf->data + at, len);
	insert_bytes(m, chunk, len);
}

static void
mutate_token(Mutator *m)
{
	gsize len = 0;
	const guint8 *token;
	const gchar *text;

	if (fuzz.tokens->len > 0 && g_rand_boolean(m->rand)) {
		token = g_bytes_get_data(fuzz.tokens->pdata[pick(m, fuzz.tokens->len)], &len);
	} else {
		text = interesting_text[pick(m, G_N_ELEMENTS(interesting_text))];
		token = (const guint8 *)text;
		len = strlen(text);
	}
	if (g_rand_boolean(m->rand))
		insert_bytes(m, token, len);
	else
		overwrite_bytes(m, token, len);
}

static void
mutate_once(Mutator *m)
{
	guint8 b;

	switch (pick(m, 8)) {
	case 0:
		if (m->buf->len > 0)
			m->buf->data[pick(m, m->buf->len)] ^= (guint8)(1u << pick(m, 8));
		break;
	case 1:
		if (m->buf->len > 0)
			m->buf->data[pick(m, m->buf->len)] = (guint8)pick(m, 256);
		break;
	case 2:
		b = interesting_bytes[pick(m, G_N_ELEMENTS(interesting_bytes))];
		if (g_rand_boolean(m->rand))
			insert_bytes(m, &b, 1);
		else
			overwrite_bytes(m, &b, 1);
		break;
	case 3:
		mutate_delete(m);
		break;
	case 4:
		mutate_splice(m);
		break;
	case 5:
		mutate_duplicate(m);
		break;
	default:
		mutate_token(m);
		break;
	}
}

/* An accepted mutant becomes a base: mutations of it reach further into the
 * parser than mutations of the seeds alone (a poor man's coverage feedback). */
static void
keep_mutant(Mutator *m, GByteArray *buf)
{
	GBytes *copy = g_bytes_new(buf->data, buf->len);
	gpointer *slot;

	if (fuzz.pool->len < fuzz.seeds->len + POOL_EXTRA) {
		g_ptr_array_add(fuzz.pool, copy);
		return;
	}
	/* full: replace a random mutant, never a seed */
	slot = &g_ptr_array_index(fuzz.pool, fuzz.seeds->len + pick(m, POOL_EXTRA));
	g_bytes_unref(*slot);
	*slot = copy;
}

static guint64
env_number(const gchar *name, guint64 fallback)
{
	const gchar *text = g_getenv(name);
	guint64 value = 0;

	if (text == NULL || *text == '\0')
		return fallback;
	if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT32, &value, NULL))
		g_error("%s: not a number: %s", name, text); /* a test setup mistake */
	return value;
}

static guint64
default_iterations(void)
{
	guint64 n = arg_iterations;

	if (g_strcmp0(g_getenv("EXM_UNDER_VALGRIND"), "1") == 0)
		n = MAX(n / VALGRIND_DIVISOR, 100);
#ifdef EXM_FUZZ_ASAN
	n = MAX(n / SANITIZER_DIVISOR, 100);
#endif
	return n;
}

static void
test_mutations(void)
{
	guint64 seed = env_number("EXM_FUZZ_SEED", DEFAULT_SEED);
	guint64 iterations = env_number("EXM_FUZZ_ITERATIONS", default_iterations());
	g_autoptr(GRand) rand = g_rand_new_with_seed((guint32)seed);
	g_autoptr(GByteArray) buf = g_byte_array_new();
	Mutator m = { rand, buf };
	gint64 start = g_get_monotonic_time();
	guint64 accepted_before = exm_fuzz_accepted_count();

	g_assert_cmpuint(fuzz.seeds->len, >, 0);
	g_ptr_array_set_size(fuzz.pool, 0);
	for (guint k = 0; k < fuzz.seeds->len; k++)
		g_ptr_array_add(fuzz.pool, g_bytes_ref(fuzz.seeds->pdata[k]));
	for (guint64 i = 0; i < iterations; i++) {
		gsize len = 0;
		const guint8 *data =
			g_bytes_get_data(fuzz.pool->pdata[pick(&m, fuzz.pool->len)], &len);
		guint64 accepted = exm_fuzz_accepted_count();
		/* Mostly few mutations (near-valid inputs reach deep), sometimes many. */
		guint rounds = 1 + pick(&m, pick(&m, 2) == 0 ? 16 : 3);
		g_autofree gchar *context = NULL;

		g_byte_array_set_size(buf, 0);
		g_byte_array_append(buf, data, (guint)len);
		for (guint r = 0; r < rounds; r++)
			mutate_once(&m);
		context = g_strdup_printf("%s mutation %" G_GUINT64_FORMAT
					  " (EXM_FUZZ_SEED=%" G_GUINT64_FORMAT ")",
					  fuzz.name,
					  i,
					  seed);
		exm_fuzz_set_context(context);
		run_input(buf->data, buf->len);
		if (exm_fuzz_accepted_count() > accepted)
			keep_mutant(&m, buf);
	}
	g_test_message("%" G_GUINT64_FORMAT " mutations (%" G_GUINT64_FORMAT
		       " accepted), seed %" G_GUINT64_FORMAT ", %.1f s",
		       iterations,
		       exm_fuzz_accepted_count() - accepted_before,
		       seed,
		       (gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC);
}

/* Takes `--iterations=N` out of argv before GTest sees it. */
static void
take_iterations_arg(int *argc, char **argv)
{
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		if (g_str_has_prefix(argv[i], "--iterations=")) {
			if (!g_ascii_string_to_unsigned(
				    argv[i] + 13, 10, 1, G_MAXUINT32, &arg_iterations, NULL))
				g_error("bad argument: %s", argv[i]); /* a meson.build mistake */
			continue;
		}
		argv[out++] = argv[i];
	}
	*argc = out;
	argv[out] = NULL;
}

int
main(int argc, char **argv)
{
	g_autofree gchar *base = g_path_get_basename(argv[0]);
	gchar *path;
	int rc;

	take_iterations_arg(&argc, argv);
	exm_test_init(&argc, &argv);
	/* a failed property's _exit() skips atexit(): the test's dirs go first */
	exm_fuzz_exit_on_failure(exm_test_remove_dirs);
	fuzz.name = g_strdup(g_str_has_prefix(base, "fuzz-") ? base + 5 : base);
	fuzz.seeds = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	fuzz.pool = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	fuzz.tokens = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	load_seeds();
	load_tokens();

	path = g_strdup_printf("/fuzz/%s/corpus", fuzz.name);
	g_test_add_func(path, test_corpus);
	g_free(path);
	path = g_strdup_printf("/fuzz/%s/mutations", fuzz.name);
	g_test_add_func(path, test_mutations);
	g_free(path);
	rc = g_test_run();

	exm_fuzz_set_context(NULL);
	g_ptr_array_unref(fuzz.tokens);
	g_ptr_array_unref(fuzz.pool);
	g_ptr_array_unref(fuzz.seeds);
	g_free(fuzz.name);
	return rc;
}
