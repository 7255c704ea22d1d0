/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-test-pg.h"

#include "exm-test.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG_START_TIMEOUT_US (60 * G_USEC_PER_SEC)
#define PG_STOP_TIMEOUT_US  (30 * G_USEC_PER_SEC)

struct _ExmTestPg {
	gchar *bindir;
	gchar *dir; /* socket, log and data live below */
	gchar *datadir;
	gchar *logfile;
	gchar *conninfo;
	gboolean drop_to_postgres; /* we are root: run the server as `postgres` */
	GPid pid;		   /* postmaster; 0 while stopped */
	GPid watchdog;
	gint watchdog_fd; /* write end of the watchdog's stdin; only we hold it */
	guint db_counter;
	GPid owner; /* the process that started it; a forked child never stops it */
};

/* Written out rather than G_DEFINE_QUARK(): clang-format puts spaces into the
 * hyphenated name the macro stringifies ("exm - test - pg - error - quark"). */
GQuark
exm_test_pg_error_quark(void)
{
	return g_quark_from_static_string("exm-test-pg-error-quark");
}

/*
 * Runs in the background with its stdin on a pipe that only the test process
 * holds open.  EOF means the test process is gone (or freed the cluster):
 * stop whatever postmaster is left, then remove the directory.  It ignores the
 * signals a harness sends to the process group, so a timeout kill of the test
 * cannot take the clean-up with it.
 */
static const gchar watchdog_script[] =
	"trap '' HUP INT TERM QUIT PIPE\n"
	"while read -r _; do :; done\n"
	"alive() { kill -0 \"$1\" 2>/dev/null &&"
	" [ \"$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null)\" != Z ]; }\n"
	"pid=$(sed -n 1p \"$1/postmaster.pid\" 2>/dev/null)\n"
	"case \"$pid\" in ''|*[!0-9]*) pid= ;; esac\n"
	"if [ -n \"$pid\" ] && kill -QUIT \"$pid\" 2>/dev/null; then\n"
	"  i=0; while [ $i -lt 100 ] && alive \"$pid\"; do sleep 0.1; i=$((i+1)); done\n"
	"  alive \"$pid\" && kill -KILL \"$pid\" 2>/dev/null\n"
	"fi\n"
	"rm -rf -- \"$2\"\n";

static gchar *
find_bindir(void)
{
	const gchar *argv[] = { "pg_config", "--bindir", NULL };
	g_autofree gchar *out = NULL;
	g_autoptr(GDir) dir = NULL;
	g_autofree gchar *best = NULL;
	guint64 best_major = 0;
	const gchar *name;

	if (exm_test_run(argv, &out, NULL) == 0 && out != NULL) {
		g_autofree gchar *initdb = g_build_filename(g_strstrip(out), "initdb", NULL);
		if (g_file_test(initdb, G_FILE_TEST_IS_EXECUTABLE))
			return g_strdup(out);
	}
	/* pg_config may belong to libpq-dev only: look for an installed server. */
	dir = g_dir_open("/usr/lib/postgresql", 0, NULL);
	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *cand = g_build_filename("/usr/lib/postgresql", name, "bin", NULL);
		g_autofree gchar *initdb = g_build_filename(cand, "initdb", NULL);
		guint64 major = g_ascii_strtoull(name, NULL, 10);

		if (!g_file_test(initdb, G_FILE_TEST_IS_EXECUTABLE) || major < best_major)
			continue;
		best_major = major;
		g_free(best);
		best = g_steal_pointer(&cand);
	}
	return g_steal_pointer(&best);
}

/* argv that runs @prog (in the cluster's bindir) as `postgres` when we are root. */
static GPtrArray *
pg_argv(ExmTestPg *pg, const gchar *prog)
{
	GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);

	if (pg->drop_to_postgres) {
		g_ptr_array_add(argv, g_strdup("setpriv"));
		g_ptr_array_add(argv, g_strdup("--reuid=postgres"));
		g_ptr_array_add(argv, g_strdup("--regid=postgres"));
		g_ptr_array_add(argv, g_strdup("--init-groups"));
	}
	g_ptr_array_add(argv, g_build_filename(pg->bindir, prog, NULL));
	return argv;
}

static gboolean
run_sync(ExmTestPg *pg, GPtrArray *argv, GError **error)
{
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	gint status = 0;

	g_ptr_array_add(argv, NULL);
	if (!g_spawn_sync(pg->dir,
			  (gchar **)argv->pdata,
			  NULL,
			  G_SPAWN_SEARCH_PATH,
			  NULL,
			  NULL,
			  &out,
			  &err,
			  &status,
			  error))
		return FALSE;
	if (!g_spawn_check_wait_status(status, error)) {
		g_prefix_error(error, "%s: %s: ", (const gchar *)argv->pdata[0], err);
		return FALSE;
	}
	return TRUE;
}

static gboolean
prepare_dir(ExmTestPg *pg, GError **error)
{
	struct passwd *pw;

	pg->dir = g_strdup("/tmp/exm-pg-XXXXXX");
	if (g_mkdtemp_full(pg->dir, 0755) == NULL) {
		g_set_error(error,
			    EXM_TEST_PG_ERROR,
			    EXM_TEST_PG_ERROR_FAILED,
			    "mkdtemp: %s",
			    g_strerror(errno));
		g_clear_pointer(&pg->dir, g_free);
		return FALSE;
	}
	pg->datadir = g_build_filename(pg->dir, "data", NULL);
	pg->logfile = g_build_filename(pg->dir, "postgres.log", NULL);
	pg->conninfo = g_strdup_printf("host=%s port=5432 user=postgres dbname=postgres", pg->dir);
	if (!pg->drop_to_postgres)
		return TRUE;
	pw = getpwnam("postgres");
	if (pw == NULL || chown(pg->dir, pw->pw_uid, pw->pw_gid) != 0) {
		g_set_error(error,
			    EXM_TEST_PG_ERROR,
			    EXM_TEST_PG_ERROR_FAILED,
			    "cannot hand %s to postgres: %s",
			    pg->dir,
			    g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

static void
watchdog_setup(gpointer data)
{
	setsid();
}

static gboolean
start_watchdog(ExmTestPg *pg, GError **error)
{
	const gchar *argv[] = {
		"/bin/sh", "-c", watchdog_script, "exm-test-pg-watchdog", pg->datadir, pg->dir, NULL
	};
	gint fds[2];
	gboolean ok;

	if (!g_unix_open_pipe(fds, FD_CLOEXEC, error))
		return FALSE;
	ok = g_spawn_async_with_pipes_and_fds(
		"/",
		argv,
		NULL,
		G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
		watchdog_setup,
		NULL,
		fds[0],
		-1,
		-1,
		NULL,
		NULL,
		0,
		&pg->watchdog,
		NULL,
		NULL,
		NULL,
		error);
	close(fds[0]);
	if (!ok) {
		close(fds[1]);
		return FALSE;
	}
	pg->watchdog_fd = fds[1];
	return TRUE;
}

static gboolean
initdb(ExmTestPg *pg, GError **error)
{
	g_autoptr(GPtrArray) argv = pg_argv(pg, "initdb");

	g_ptr_array_add(argv, g_strdup("-D"));
	g_ptr_array_add(argv, g_strdup(pg->datadir));
	g_ptr_array_add(argv, g_strdup("-A"));
	g_ptr_array_add(argv, g_strdup("trust"));
	g_ptr_array_add(argv, g_strdup("-U"));
	g_ptr_array_add(argv, g_strdup("postgres"));
	g_ptr_array_add(argv, g_strdup("-E"));
	g_ptr_array_add(argv, g_strdup("UTF8"));
	g_ptr_array_add(argv, g_strdup("--locale=C"));
	g_ptr_array_add(argv, g_strdup("--no-sync"));
	g_ptr_array_add(argv, g_strdup("--no-instructions"));
	return run_sync(pg, argv, error);
}

static gchar *
log_tail(ExmTestPg *pg)
{
	g_autofree gchar *log = NULL;
	gsize len = 0;

	if (!g_file_get_contents(pg->logfile, &log, &len, NULL))
		return g_strdup("(no log)");
	return g_strdup(len > 2000 ? log + len - 2000 : log);
}

/* Polls until the server answers or its process exits. */
static gboolean
wait_ready(ExmTestPg *pg, GError **error)
{
	gint64 deadline = g_get_monotonic_time() + PG_START_TIMEOUT_US;
	gint status = 0;

	while (g_get_monotonic_time() < deadline) {
		if (waitpid(pg->pid, &status, WNOHANG) == pg->pid) {
			g_autofree gchar *tail = log_tail(pg);
			pg->pid = 0;
			g_set_error(error,
				    EXM_TEST_PG_ERROR,
				    EXM_TEST_PG_ERROR_FAILED,
				    "postgres exited during start-up: %s",
				    tail);
			return FALSE;
		}
		if (PQping(pg->conninfo) == PQPING_OK)
			return TRUE;
		g_usleep(20 * 1000);
	}
	g_set_error(error,
		    EXM_TEST_PG_ERROR,
		    EXM_TEST_PG_ERROR_FAILED,
		    "postgres not ready after %d s",
		    (gint)(PG_START_TIMEOUT_US / G_USEC_PER_SEC));
	return FALSE;
}

static void
add_setting(GPtrArray *argv, const gchar *setting)
{
	g_ptr_array_add(argv, g_strdup("-c"));
	g_ptr_array_add(argv, g_strdup(setting));
}

gboolean
exm_test_pg_start(ExmTestPg *pg, GError **error)
{
	g_autoptr(GPtrArray) argv = NULL;
	gint logfd;
	gboolean ok;

	g_return_val_if_fail(pg != NULL, FALSE);
	if (pg->pid != 0)
		return TRUE;
	argv = pg_argv(pg, "postgres");
	g_ptr_array_add(argv, g_strdup("-D"));
	g_ptr_array_add(argv, g_strdup(pg->datadir));
	g_ptr_array_add(argv, g_strdup("-k"));
	g_ptr_array_add(argv, g_strdup(pg->dir));
	add_setting(argv, "listen_addresses=");
	add_setting(argv, "fsync=off");
	add_setting(argv, "synchronous_commit=off");
	add_setting(argv, "full_page_writes=off");
	add_setting(argv, "max_connections=150");
	add_setting(argv, "log_min_messages=warning");
	g_ptr_array_add(argv, NULL);

	logfd = open(pg->logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0) {
		g_set_error(error,
			    EXM_TEST_PG_ERROR,
			    EXM_TEST_PG_ERROR_FAILED,
			    "open %s: %s",
			    pg->logfile,
			    g_strerror(errno));
		return FALSE;
	}
	ok = g_spawn_async_with_pipes_and_fds(pg->dir,
					      (const gchar *const *)argv->pdata,
					      NULL,
					      G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
					      NULL,
					      NULL,
					      -1,
					      logfd,
					      logfd,
					      NULL,
					      NULL,
					      0,
					      &pg->pid,
					      NULL,
					      NULL,
					      NULL,
					      error);
	close(logfd);
	if (!ok)
		return FALSE;
	return wait_ready(pg, error);
}

/* Signals the postmaster and reaps it; SIGKILL if it does not go in time. */
static gboolean
stop_with(ExmTestPg *pg, gint sig, GError **error)
{
	gint64 deadline = g_get_monotonic_time() + PG_STOP_TIMEOUT_US;
	gint status = 0;

	if (pg->pid == 0)
		return TRUE;
	kill(pg->pid, sig);
	while (waitpid(pg->pid, &status, WNOHANG) == 0) {
		if (g_get_monotonic_time() > deadline) {
			kill(pg->pid, SIGKILL);
			waitpid(pg->pid, &status, 0);
			pg->pid = 0;
			g_set_error(error,
				    EXM_TEST_PG_ERROR,
				    EXM_TEST_PG_ERROR_FAILED,
				    "postgres did not stop; killed");
			return FALSE;
		}
		g_usleep(10 * 1000);
	}
	pg->pid = 0;
	return TRUE;
}

gboolean
exm_test_pg_stop(ExmTestPg *pg, GError **error)
{
	g_return_val_if_fail(pg != NULL, FALSE);
	/* SIGINT = fast shutdown: clients are disconnected, as after a real restart. */
	return stop_with(pg, SIGINT, error);
}

static gboolean
check_peer(ExmTestPg *pg, GError **error)
{
	g_autofree gchar *setpriv = NULL;

	pg->drop_to_postgres = geteuid() == 0;
	pg->bindir = find_bindir();
	if (pg->bindir == NULL) {
		g_set_error(error,
			    EXM_TEST_PG_ERROR,
			    EXM_TEST_PG_ERROR_MISSING,
			    "PostgreSQL server binaries (initdb, postgres) not found");
		return FALSE;
	}
	if (!pg->drop_to_postgres)
		return TRUE;
	setpriv = exm_test_find_program("setpriv");
	if (setpriv == NULL || getpwnam("postgres") == NULL) {
		g_set_error(error,
			    EXM_TEST_PG_ERROR,
			    EXM_TEST_PG_ERROR_MISSING,
			    "running as root needs setpriv and a `postgres` user");
		return FALSE;
	}
	return TRUE;
}

ExmTestPg *
exm_test_pg_new(GError **error)
{
	g_autoptr(ExmTestPg) pg = g_new0(ExmTestPg, 1);

	pg->watchdog_fd = -1;
	pg->owner = getpid();
	if (!check_peer(pg, error))
		return NULL;
	if (!prepare_dir(pg, error) || !start_watchdog(pg, error))
		return NULL;
	if (!initdb(pg, error) || !exm_test_pg_start(pg, error)) {
		g_prefix_error(error, "throwaway postgres in %s: ", pg->dir);
		return NULL;
	}
	return g_steal_pointer(&pg);
}

void
exm_test_pg_free(ExmTestPg *pg)
{
	gint status = 0;

	if (pg == NULL)
		return;
	if (pg->owner != getpid()) {
		/* a fork()ed child exiting: the server and the watchdog are its parent's */
		return;
	}
	stop_with(pg, SIGQUIT, NULL);
	if (pg->dir != NULL)
		exm_test_rmtree(pg->dir);
	if (pg->watchdog_fd >= 0)
		close(pg->watchdog_fd);
	if (pg->watchdog != 0)
		waitpid(pg->watchdog, &status, 0);
	g_free(pg->bindir);
	g_free(pg->dir);
	g_free(pg->datadir);
	g_free(pg->logfile);
	g_free(pg->conninfo);
	g_free(pg);
}

static ExmTestPg *shared_pg;
static gboolean shared_tried;
static GError *shared_error;

static void
shared_cleanup(void)
{
	g_clear_pointer(&shared_pg, exm_test_pg_free);
	g_clear_error(&shared_error);
}

ExmTestPg *
exm_test_pg_get(void)
{
	if (!shared_tried) {
		shared_tried = TRUE;
		shared_pg = exm_test_pg_new(&shared_error);
		atexit(shared_cleanup);
	}
	if (shared_pg != NULL)
		return shared_pg;
	if (g_error_matches(shared_error, EXM_TEST_PG_ERROR, EXM_TEST_PG_ERROR_MISSING))
		exm_test_peer_missing("%s", shared_error->message);
	else
		g_test_fail_printf("%s", shared_error->message);
	return NULL;
}

const gchar *
exm_test_pg_get_conninfo(ExmTestPg *pg)
{
	return pg->conninfo;
}

const gchar *
exm_test_pg_get_socket_dir(ExmTestPg *pg)
{
	return pg->dir;
}

GPid
exm_test_pg_get_pid(ExmTestPg *pg)
{
	return pg->pid;
}

static PGconn *
connect_db(const gchar *conninfo, GError **error)
{
	PGconn *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK) {
		g_set_error(error,
			    EXM_TEST_PG_ERROR,
			    EXM_TEST_PG_ERROR_FAILED,
			    "connect: %s",
			    PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

gchar *
exm_test_pg_exec(const gchar *conninfo, const gchar *sql, GError **error)
{
	PGconn *conn = connect_db(conninfo, error);
	PGresult *res;
	gchar *value = NULL;

	if (conn == NULL)
		return NULL;
	res = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK) {
		gboolean has = PQntuples(res) > 0 && PQnfields(res) > 0;
		value = g_strdup(has ? PQgetvalue(res, 0, 0) : "");
	} else {
		g_set_error(error,
			    EXM_TEST_PG_ERROR,
			    EXM_TEST_PG_ERROR_FAILED,
			    "%s: %s",
			    sql,
			    PQresultErrorMessage(res));
	}
	PQclear(res);
	PQfinish(conn);
	return value;
}

gchar *
exm_test_pg_create_database(ExmTestPg *pg, GError **error)
{
	g_autofree gchar *name = NULL;
	g_autofree gchar *sql = NULL;
	g_autofree gchar *ok = NULL;

	g_return_val_if_fail(pg != NULL, NULL);
	/* The name is ours (pid + counter), never user data. */
	name = g_strdup_printf("exm_test_%d_%u", (gint)getpid(), ++pg->db_counter);
	sql = g_strdup_printf("CREATE DATABASE %s", name);
	ok = exm_test_pg_exec(pg->conninfo, sql, error);
	if (ok == NULL)
		return NULL;
	return g_strdup_printf("host=%s port=5432 user=postgres dbname=%s", pg->dir, name);
}
