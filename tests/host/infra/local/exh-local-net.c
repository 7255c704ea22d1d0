/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-local-net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <unistd.h>

#include "exh-host.h"

struct _ExhLocalNet {
	guint subnet;
	gint lock_fd;
};

/* Never below a world-writable directory such as /run/lock or /tmp, where
 * another user could create the directory first and plant links in it or hold
 * every lock: root uses a directory of its own in /run, anyone else their
 * runtime directory. */
gchar *
exh_local_net_default_lock_dir(void)
{
	if (geteuid() == 0)
		return g_strdup("/run/exordos-paas-host");
	return g_build_filename(g_get_user_runtime_dir(), "exordos-paas-host", NULL);
}

/* A TCP socket to @addr:@port, bound or connected as @do_connect says. */
static gboolean
try_socket(const gchar *addr, guint port, gboolean do_connect)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((guint16)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	gboolean ok;

	if (fd < 0)
		return FALSE;
	inet_pton(AF_INET, addr, &sa.sin_addr);
	if (do_connect)
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	else
		ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* Addresses of a subnet whose ports are bind-tested: the nodes a host or a
 * test makes first.  A process outside the lock protocol (a node's daemon left
 * behind by a killed test) may hold any of their ports. */
#define PROBE_ADDRESSES 4

/* Every port of @ports bindable on the first addresses of subnet @k. */
static gboolean
subnet_ports_free(guint k, const GArray *ports)
{
	for (guint a = 1; ports != NULL && a <= PROBE_ADDRESSES; a++) {
		g_autofree gchar *addr = g_strdup_printf("127.%u.0.%u", k, a);

		for (guint i = 0; i < ports->len; i++) {
			if (!try_socket(addr, g_array_index(ports, guint, i), FALSE))
				return FALSE;
		}
	}
	return TRUE;
}

gboolean
exh_local_net_can_connect(const gchar *addr, guint port)
{
	return try_socket(addr, port, TRUE);
}

static gboolean
lock_file_error(const gchar *dir, const gchar *name, const gchar *what, GError **error)
{
	g_set_error(error,
		    EXH_ERROR,
		    EXH_ERROR_CONFIG,
		    "lock file %s/%s %s; remove it",
		    dir,
		    name,
		    what);
	return FALSE;
}

/* Opens K's lock file in @dir_fd without following a link; *@fd is the locked
 * fd when K is free, -1 when it is taken.  %FALSE: the file is not a plain
 * file of ours, which only someone tampering with the directory can cause. */
static gboolean
try_subnet(gint dir_fd,
	   const gchar *dir,
	   guint k,
	   const GArray *probe_ports,
	   gint *fd,
	   GError **error)
{
	g_autofree gchar *name = g_strdup_printf("127.%u.lock", k);
	struct stat st;

	*fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (*fd < 0 && errno == ELOOP)
		return lock_file_error(dir, name, "is a symbolic link", error);
	if (*fd < 0)
		return TRUE;
	if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		close(*fd);
		*fd = -1;
		return lock_file_error(dir, name, "is not a regular file of this user", error);
	}
	/* someone outside the lock protocol may still use the range */
	if (flock(*fd, LOCK_EX | LOCK_NB) != 0 || !subnet_ports_free(k, probe_ports)) {
		close(*fd);
		*fd = -1;
	}
	return TRUE;
}

static gint lock_dir_error(const gchar *dir, GError **error, const gchar *fmt, ...)
	G_GNUC_PRINTF(3, 4);

static gint
lock_dir_error(const gchar *dir, GError **error, const gchar *fmt, ...)
{
	g_autofree gchar *what = NULL;
	va_list ap;

	va_start(ap, fmt);
	what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "lock dir %s %s", dir, what);
	return -1;
}

/* Creates @dir (0700) when missing and opens it; it must be a directory, not a
 * link, owned by this user and writable by nobody else, or another user could
 * plant links in it or hold the locks. */
static gint
open_lock_dir(const gchar *dir, GError **error)
{
	g_autofree gchar *parent = g_path_get_dirname(dir);
	struct stat st = { 0 };
	gint fd;

	if (g_mkdir_with_parents(parent, 0755) != 0 || (g_mkdir(dir, 0700) != 0 && errno != EEXIST))
		return lock_dir_error(dir, error, "cannot be created: %s", g_strerror(errno));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return lock_dir_error(dir,
				      error,
				      "cannot be opened (%s); it must be a directory, not a link",
				      g_strerror(errno));
	if (fstat(fd, &st) != 0) {
		gint saved = errno;

		close(fd);
		return lock_dir_error(dir, error, "cannot be examined: %s", g_strerror(saved));
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		return lock_dir_error(dir,
				      error,
				      "is owned by uid %u, not %u; remove it",
				      (guint)st.st_uid,
				      (guint)geteuid());
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		close(fd);
		return lock_dir_error(dir,
				      error,
				      "is writable by group or others (mode %04o); chmod 0700 it",
				      (guint)(st.st_mode & 07777));
	}
	return fd;
}

static gint
lease_fd(const gchar *dir, guint subnet, const GArray *probe_ports, guint *leased, GError **error)
{
	guint span = EXH_LOCAL_SUBNET_MAX - EXH_LOCAL_SUBNET_MIN + 1;
	guint start = (guint)g_random_int_range(0, (gint32)span);
	gint dir_fd = open_lock_dir(dir, error);
	gint fd = -1;
	gboolean refused = FALSE;

	if (dir_fd < 0)
		return -1;
	for (guint i = 0; i < (subnet != 0 ? 1 : span) && fd < 0 && !refused; i++) {
		guint k = subnet != 0 ? subnet : EXH_LOCAL_SUBNET_MIN + (start + i) % span;

		refused = !try_subnet(dir_fd, dir, k, probe_ports, &fd, error);
		*leased = k;
	}
	close(dir_fd);
	if (fd < 0 && !refused)
		g_set_error(
			error, EXH_ERROR, EXH_ERROR_CONFIG, "no free loopback subnet 127.K.0.0/16");
	return fd;
}

ExhLocalNet *
exh_local_net_lease(const gchar *lock_dir, guint subnet, const GArray *probe_ports, GError **error)
{
	g_autofree gchar *dir =
		lock_dir != NULL ? g_strdup(lock_dir) : exh_local_net_default_lock_dir();
	ExhLocalNet *net;
	guint k = 0;
	gint fd;

	if (subnet != 0 && (subnet < EXH_LOCAL_SUBNET_MIN || subnet > EXH_LOCAL_SUBNET_MAX)) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "subnet %u: not in %u..%u",
			    subnet,
			    (guint)EXH_LOCAL_SUBNET_MIN,
			    (guint)EXH_LOCAL_SUBNET_MAX);
		return NULL;
	}
	fd = lease_fd(dir, subnet, probe_ports, &k, error);
	if (fd < 0)
		return NULL;
	net = g_new0(ExhLocalNet, 1);
	net->subnet = k;
	net->lock_fd = fd;
	return net;
}

guint
exh_local_net_get_subnet(ExhLocalNet *net)
{
	return net->subnet;
}

gchar *
exh_local_net_address(ExhLocalNet *net, guint index)
{
	return g_strdup_printf("127.%u.0.%u", net->subnet, index);
}

void
exh_local_net_release(ExhLocalNet *net)
{
	if (net == NULL)
		return;
	if (net->lock_fd >= 0)
		close(net->lock_fd);
	g_free(net);
}
