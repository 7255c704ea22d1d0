/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-metrics.h"

#include "exm-prom.h"
#include "exm-uuid.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef enum {
	KIND_COUNTER,
	KIND_HISTOGRAM,
} Kind;

typedef struct {
	const gchar *name;
	const gchar *help;
	Kind kind;
	const gchar *labels[5]; /* NULL-terminated */
} Family;

enum {
	F_REQUESTS,
	F_REQUEST_SECONDS,
	F_TICKS,
	F_TICK_SECONDS,
	F_BUILT,
	F_BUILD_ERRORS,
	F_CALLS,
	F_CALL_SECONDS,
	N_FAMILIES
};

/* clang-format off */
static const Family families[N_FAMILIES] = {
	[F_REQUESTS] = { "exordos_host_http_requests_total",
		"Requests answered, by API, route template, method and status.",
		KIND_COUNTER, { "api", "route", "method", "status" } },
	[F_REQUEST_SECONDS] = { "exordos_host_http_request_duration_seconds",
		"Time from a request's arrival to its answer.",
		KIND_HISTOGRAM, { "api", "route", "method" } },
	[F_TICKS] = { "exordos_host_builder_ticks_total",
		"Builder ticks run.", KIND_COUNTER, { "builder" } },
	[F_TICK_SECONDS] = { "exordos_host_builder_tick_duration_seconds",
		"Duration of a builder tick.", KIND_HISTOGRAM, { "builder" } },
	[F_BUILT] = { "exordos_host_builder_instances_built_total",
		"Instances a builder tick handled.", KIND_COUNTER, { "builder" } },
	[F_BUILD_ERRORS] = { "exordos_host_builder_errors_total",
		"Instances whose build failed in a tick.", KIND_COUNTER, { "builder" } },
	[F_CALLS] = { "exordos_host_peer_calls_total",
		"Calls to Exordos Core and Core IAM, by peer, call and outcome.",
		KIND_COUNTER, { "peer", "call", "outcome" } },
	[F_CALL_SECONDS] = { "exordos_host_peer_call_duration_seconds",
		"Duration of a call to Exordos Core or Core IAM.",
		KIND_HISTOGRAM, { "peer", "call" } },
};
/* clang-format on */

static const gdouble buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				   0.25,  0.5,	  1.0,	 2.5,  5.0,   10.0 };
#define N_BUCKETS G_N_ELEMENTS(buckets)

typedef struct {
	gchar **values;
	gdouble value; /* counters */
	guint64 counts[N_BUCKETS];
	guint64 count;
	gdouble sum;
} Series;

typedef struct {
	ExhMetricsSourceFunc func;
	gpointer user_data;
	guint id;
} Source;

typedef struct {
	GMutex lock;
	GMutex source_lock; /* held while sources run, so a removed one is not running */
	GHashTable *series[N_FAMILIES]; /* joined label values → Series */
	GHashTable *routes;		/* "api\x1froute" answered by a route */
	GHashTable *polls;		/* node → gint64 monotonic usec */
	guint64 dropped;
	GArray *sources; /* Source */
	guint next_source;
	gint64 started; /* real time, usec */
} Registry;

static void
series_free(gpointer data)
{
	Series *s = data;

	g_strfreev(s->values);
	g_free(s);
}

static Registry *
registry(void)
{
	static Registry r;
	static gsize once = 0;

	if (g_once_init_enter(&once)) {
		g_mutex_init(&r.lock);
		g_mutex_init(&r.source_lock);
		for (guint i = 0; i < N_FAMILIES; i++)
			r.series[i] =
				g_hash_table_new_full(g_str_hash, g_str_equal, g_free, series_free);
		r.routes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
		r.polls = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
		r.sources = g_array_new(FALSE, TRUE, sizeof(Source));
		r.started = g_get_real_time();
		g_once_init_leave(&once, 1);
	}
	return &r;
}

/* The series of @values in family @f, created on first use; NULL (and
 * counted) once the family holds EXH_METRICS_MAX_SERIES.  Lock held. */
static Series *
series_get(Registry *r, guint f, const gchar *const *values)
{
	g_autofree gchar *key = g_strjoinv("\x1f", (gchar **)values);
	Series *s = g_hash_table_lookup(r->series[f], key);

	if (s != NULL)
		return s;
	if (g_hash_table_size(r->series[f]) >= EXH_METRICS_MAX_SERIES) {
		r->dropped++;
		return NULL;
	}
	s = g_new0(Series, 1);
	s->values = g_strdupv((gchar **)values);
	g_hash_table_insert(r->series[f], g_steal_pointer(&key), s);
	return s;
}

static void
counter_add(Registry *r, guint f, const gchar *const *values, gdouble n)
{
	Series *s = series_get(r, f, values);

	if (s != NULL)
		s->value += n;
}

static void
histogram_observe(Registry *r, guint f, const gchar *const *values, gdouble seconds)
{
	Series *s = series_get(r, f, values);

	if (s == NULL)
		return;
	for (guint i = 0; i < N_BUCKETS; i++) {
		if (seconds <= buckets[i])
			s->counts[i]++;
	}
	s->count++;
	s->sum += seconds;
}

static const gchar *
bounded_method(const gchar *method)
{
	static const gchar *const known[] = { "GET",   "POST", "PUT",	  "DELETE",
					      "PATCH", "HEAD", "OPTIONS", NULL };

	for (guint i = 0; known[i] != NULL; i++) {
		if (g_strcmp0(method, known[i]) == 0)
			return known[i];
	}
	return "other";
}

/**
 * exh_metrics_route_template:
 * @path: a request's path
 *
 * Returns: (transfer full): @path with every uuid segment as `{uuid}`
 */
gchar *
exh_metrics_route_template(const gchar *path)
{
	const gchar *seg = path != NULL ? path : "";
	GString *out = g_string_sized_new(strlen(seg) + 8);

	/* one pass over the segments, without splitting and joining the path
	 * on every request (docs/scale.md §8) */
	for (;;) {
		const gchar *slash = strchr(seg, '/');
		gsize len = slash != NULL ? (gsize)(slash - seg) : strlen(seg);
		g_autofree gchar *id = NULL;

		/* every form a uuid takes has its 32 hex digits: a shorter
		 * segment (`v1`, `types`, a collection) is not parsed at all,
		 * a fifth of the host's own work for a request */
		if (len >= 32) {
			g_autofree gchar *text = g_strndup(seg, len);

			id = exm_uuid_parse_lenient(text, "uuid", NULL);
		}
		if (id != NULL)
			g_string_append(out, "{uuid}");
		else
			g_string_append_len(out, seg, (gssize)len);
		if (slash == NULL)
			break;
		g_string_append_c(out, '/');
		seg = slash + 1;
	}
	return g_string_free(out, FALSE);
}

/* A template becomes a label once something other than "no such route"
 * (400, 404, 405) answered it; until then it is `unmatched`, so a client
 * cannot mint label values with made-up paths.  Lock held. */
static const gchar *
route_label(Registry *r, const gchar *api, const gchar *tmpl, guint status)
{
	g_autofree gchar *key = g_strconcat(api, "\x1f", tmpl, NULL);
	gboolean known = g_hash_table_contains(r->routes, key);

	if (known)
		return tmpl;
	if (status == 400 || status == 404 || status == 405)
		return "unmatched";
	if (g_hash_table_size(r->routes) >= EXH_METRICS_MAX_SERIES) {
		r->dropped++;
		return "other";
	}
	g_hash_table_add(r->routes, g_steal_pointer(&key));
	return tmpl;
}

void
exh_metrics_observe_request(const gchar *api,
			    const gchar *method,
			    const gchar *path,
			    guint status,
			    gint64 usec)
{
	Registry *r = registry();
	g_autofree gchar *tmpl = exh_metrics_route_template(path);
	g_autofree gchar *code = g_strdup_printf("%u", status);
	const gchar *m = bounded_method(method);

	g_mutex_lock(&r->lock);
	{
		const gchar *route = route_label(r, api, tmpl, status);
		const gchar *count_values[] = { api, route, m, code, NULL };
		const gchar *time_values[] = { api, route, m, NULL };

		counter_add(r, F_REQUESTS, count_values, 1);
		histogram_observe(r, F_REQUEST_SECONDS, time_values, (gdouble)usec / 1e6);
	}
	g_mutex_unlock(&r->lock);
}

void
exh_metrics_observe_tick(const gchar *builder, gint64 usec, guint built, guint errors)
{
	Registry *r = registry();
	const gchar *values[] = { builder, NULL };

	g_mutex_lock(&r->lock);
	counter_add(r, F_TICKS, values, 1);
	histogram_observe(r, F_TICK_SECONDS, values, (gdouble)usec / 1e6);
	counter_add(r, F_BUILT, values, built);
	counter_add(r, F_BUILD_ERRORS, values, errors);
	g_mutex_unlock(&r->lock);
}

void
exh_metrics_observe_call(const gchar *peer, const gchar *call, const gchar *outcome, gint64 usec)
{
	Registry *r = registry();
	const gchar *count_values[] = { peer, call, outcome, NULL };
	const gchar *time_values[] = { peer, call, NULL };

	g_mutex_lock(&r->lock);
	counter_add(r, F_CALLS, count_values, 1);
	histogram_observe(r, F_CALL_SECONDS, time_values, (gdouble)usec / 1e6);
	g_mutex_unlock(&r->lock);
}

/* An HTTP call to a peer: outcome `2xx`…`5xx` by status, `unreachable` when
 * no answer came. */
void
exh_metrics_observe_http_call(const gchar *peer,
			      const gchar *call,
			      gboolean answered,
			      guint status,
			      gint64 usec)
{
	static const gchar *const classes[] = { "1xx", "2xx", "3xx", "4xx", "5xx" };
	const gchar *outcome = "unreachable";

	if (answered && status >= 100 && status <= 599)
		outcome = classes[status / 100 - 1];
	exh_metrics_observe_call(peer, call, outcome, usec);
}

void
exh_metrics_agent_polled(const gchar *node)
{
	Registry *r = registry();
	gint64 now = g_get_monotonic_time();

	if (node == NULL)
		return;
	g_mutex_lock(&r->lock);
	if (g_hash_table_contains(r->polls, node) ||
	    g_hash_table_size(r->polls) < EXH_METRICS_MAX_NODES)
		g_hash_table_insert(r->polls, g_strdup(node), g_memdup2(&now, sizeof now));
	else
		r->dropped++;
	g_mutex_unlock(&r->lock);
}

guint
exh_metrics_add_source(ExhMetricsSourceFunc func, gpointer user_data)
{
	Registry *r = registry();
	Source s = { func, user_data, 0 };

	g_mutex_lock(&r->source_lock);
	s.id = ++r->next_source;
	g_array_append_val(r->sources, s);
	g_mutex_unlock(&r->source_lock);
	return s.id;
}

void
exh_metrics_remove_source(guint id)
{
	Registry *r = registry();

	g_mutex_lock(&r->source_lock);
	for (guint i = 0; i < r->sources->len; i++) {
		if (g_array_index(r->sources, Source, i).id == id) {
			g_array_remove_index(r->sources, i);
			break;
		}
	}
	g_mutex_unlock(&r->source_lock);
}

static void
append_double(GString *out, gdouble v)
{
	gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

	g_string_append(out, g_ascii_formatd(buf, sizeof buf, "%.15g", v));
}

/* `{a="x",b="y"` plus @extra (e.g. `le="0.5"`) and `}`. */
static void
append_labels(GString *out, const Family *fam, gchar **values, const gchar *extra)
{
	const gchar *sep = "";

	g_string_append_c(out, '{');
	for (guint i = 0; fam->labels[i] != NULL; i++) {
		g_string_append_printf(out, "%s%s=\"", sep, fam->labels[i]);
		exm_prom_escape_label(out, values[i]);
		g_string_append_c(out, '"');
		sep = ",";
	}
	if (extra != NULL)
		g_string_append_printf(out, "%s%s", sep, extra);
	g_string_append(out, "} ");
}

static void
render_histogram(GString *out, const Family *fam, const Series *s)
{
	gchar le[G_ASCII_DTOSTR_BUF_SIZE + 8];
	gchar num[G_ASCII_DTOSTR_BUF_SIZE];

	for (guint i = 0; i < N_BUCKETS; i++) {
		g_snprintf(le,
			   sizeof le,
			   "le=\"%s\"",
			   g_ascii_formatd(num, sizeof num, "%g", buckets[i]));
		g_string_append_printf(out, "%s_bucket", fam->name);
		append_labels(out, fam, s->values, le);
		g_string_append_printf(out, "%" G_GUINT64_FORMAT "\n", s->counts[i]);
	}
	g_string_append_printf(out, "%s_bucket", fam->name);
	append_labels(out, fam, s->values, "le=\"+Inf\"");
	g_string_append_printf(out, "%" G_GUINT64_FORMAT "\n", s->count);
	g_string_append_printf(out, "%s_sum", fam->name);
	append_labels(out, fam, s->values, NULL);
	append_double(out, s->sum);
	g_string_append_printf(out, "\n%s_count", fam->name);
	append_labels(out, fam, s->values, NULL);
	g_string_append_printf(out, "%" G_GUINT64_FORMAT "\n", s->count);
}

/* One family, its series in label order so two scrapes diff cleanly. */
static void
render_family(GString *out, guint f, GHashTable *table)
{
	const Family *fam = &families[f];
	guint n = 0;
	g_autofree gpointer *keys = exm_prom_sorted_keys(table, &n);

	g_string_append_printf(out,
			       "# HELP %s %s\n# TYPE %s %s\n",
			       fam->name,
			       fam->help,
			       fam->name,
			       fam->kind == KIND_COUNTER ? "counter" : "histogram");
	for (guint i = 0; i < n; i++) {
		const Series *s = g_hash_table_lookup(table, keys[i]);

		if (fam->kind == KIND_HISTOGRAM) {
			render_histogram(out, fam, s);
			continue;
		}
		g_string_append(out, fam->name);
		append_labels(out, fam, s->values, NULL);
		append_double(out, s->value);
		g_string_append_c(out, '\n');
	}
}

static void
render_polls(GString *out, Registry *r)
{
	guint n = 0;
	g_autofree gpointer *keys = exm_prom_sorted_keys(r->polls, &n);
	gint64 now = g_get_monotonic_time();

	g_string_append(out,
			"# HELP exordos_host_agent_last_poll_seconds Seconds since this host last "
			"answered the node's get_payload.\n"
			"# TYPE exordos_host_agent_last_poll_seconds gauge\n");
	for (guint i = 0; i < n; i++) {
		const gint64 *at = g_hash_table_lookup(r->polls, keys[i]);

		g_string_append(out, "exordos_host_agent_last_poll_seconds{node=\"");
		exm_prom_escape_label(out, keys[i]);
		g_string_append(out, "\"} ");
		append_double(out, (gdouble)(now - *at) / 1e6);
		g_string_append_c(out, '\n');
	}
}

static guint
count_open_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	guint n = 0;

	if (dir == NULL)
		return 0;
	while (readdir(dir) != NULL)
		n++;
	closedir(dir);
	return n > 3 ? n - 3 : 0; /* ".", ".." and the directory's own fd */
}

static void
render_process(GString *out, Registry *r)
{
	struct rusage ru;
	g_autofree gchar *statm = NULL;
	guint64 pages = 0;

	getrusage(RUSAGE_SELF, &ru);
	/* statm: size resident shared …, in pages */
	if (g_file_get_contents("/proc/self/statm", &statm, NULL, NULL)) {
		const gchar *resident = strchr(statm, ' ');

		pages = resident != NULL ? g_ascii_strtoull(resident + 1, NULL, 10) : 0;
	}
	g_string_append_printf(
		out,
		"# HELP process_cpu_seconds_total User and system CPU time.\n"
		"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.6f\n"
		"# HELP process_resident_memory_bytes Resident memory.\n"
		"# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes "
		"%" G_GUINT64_FORMAT "\n"
		"# HELP process_open_fds Open file descriptors.\n"
		"# TYPE process_open_fds gauge\nprocess_open_fds %u\n"
		"# HELP process_start_time_seconds Start of the metrics registry (unix time).\n"
		"# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.3f\n",
		(gdouble)ru.ru_utime.tv_sec + (gdouble)ru.ru_utime.tv_usec / 1e6 +
			(gdouble)ru.ru_stime.tv_sec + (gdouble)ru.ru_stime.tv_usec / 1e6,
		pages * (guint64)sysconf(_SC_PAGESIZE),
		count_open_fds(),
		(gdouble)r->started / 1e6);
}

struct _ExhMetricsCollector {
	GHashTable *families; /* name → GString: `# HELP`, `# TYPE`, then samples */
};

void
exh_metrics_collect(ExhMetricsCollector *collector,
		    const gchar *name,
		    const gchar *help,
		    const gchar *type,
		    const gchar *label,
		    const gchar *value,
		    gdouble sample)
{
	GString *text = g_hash_table_lookup(collector->families, name);

	if (text == NULL) {
		text = g_string_new(NULL);
		g_string_append_printf(
			text, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
		g_hash_table_insert(collector->families, g_strdup(name), text);
	}
	g_string_append(text, name);
	if (label != NULL && value != NULL) {
		g_string_append_printf(text, "{%s=\"", label);
		exm_prom_escape_label(text, value);
		g_string_append(text, "\"}");
	}
	g_string_append_c(text, ' ');
	append_double(text, sample);
	g_string_append_c(text, '\n');
}

static void
string_free(gpointer data)
{
	g_string_free(data, TRUE);
}

/* Every source's samples, each family once, in name order.  Source lock held. */
static void
render_sources(GString *out, Registry *r)
{
	ExhMetricsCollector collector = { g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, string_free) };
	g_autofree gpointer *names = NULL;
	guint n = 0;

	for (guint i = 0; i < r->sources->len; i++) {
		const Source *s = &g_array_index(r->sources, Source, i);

		s->func(&collector, s->user_data);
	}
	names = exm_prom_sorted_keys(collector.families, &n);
	for (guint i = 0; i < n; i++)
		g_string_append(
			out, ((GString *)g_hash_table_lookup(collector.families, names[i]))->str);
	g_hash_table_unref(collector.families);
}

/**
 * exh_metrics_render:
 *
 * Returns: (transfer full): every family in the text exposition format
 */
gchar *
exh_metrics_render(void)
{
	Registry *r = registry();
	GString *out = g_string_sized_new(4096);

	g_mutex_lock(&r->source_lock);
	g_mutex_lock(&r->lock);
	for (guint f = 0; f < N_FAMILIES; f++)
		render_family(out, f, r->series[f]);
	render_polls(out, r);
	g_string_append_printf(out,
			       "# HELP exordos_host_metrics_dropped_series_total Observations "
			       "not recorded because a family reached its series limit.\n"
			       "# TYPE exordos_host_metrics_dropped_series_total counter\n"
			       "exordos_host_metrics_dropped_series_total %" G_GUINT64_FORMAT "\n",
			       r->dropped);
	render_process(out, r);
	g_mutex_unlock(&r->lock);
	render_sources(out, r);
	g_mutex_unlock(&r->source_lock);
	return g_string_free(out, FALSE);
}

/* Forgets every observation (unit tests; sources stay). */
void
exh_metrics_reset(void)
{
	Registry *r = registry();

	g_mutex_lock(&r->lock);
	for (guint f = 0; f < N_FAMILIES; f++)
		g_hash_table_remove_all(r->series[f]);
	g_hash_table_remove_all(r->routes);
	g_hash_table_remove_all(r->polls);
	r->dropped = 0;
	g_mutex_unlock(&r->lock);
}
