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
#include <unistd.h>

#include "exh-host.h"

struct _ExhLocalNet {
	guint subnet;
	gint lock_fd;
};

static gchar *
default_lock_dir(void)
{
	const gchar *run = "/run/lock";

	if (access(run, W_OK) == 0)
		return g_build_filename(run, "exordos-paas-host", NULL);
	return g_build_filename(g_get_tmp_dir(), "exordos-paas-host", NULL);
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

static gboolean
can_bind(const gchar *addr, guint port)
{
	return try_socket(addr, port, FALSE);
}

gboolean
exh_local_net_can_connect(const gchar *addr, guint port)
{
	return try_socket(addr, port, TRUE);
}

/* The lock fd of K when it is free (locked now), else -1. */
static gint
try_subnet(const gchar *dir, guint k, guint probe_port)
{
	g_autofree gchar *name = g_strdup_printf("127.%u.lock", k);
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	g_autofree gchar *addr = g_strdup_printf("127.%u.0.1", k);
	gint fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return -1;
	}
	/* someone outside the lock protocol may still use the range */
	if (probe_port != 0 && !can_bind(addr, probe_port)) {
		close(fd);
		return -1;
	}
	return fd;
}

ExhLocalNet *
exh_local_net_lease(const gchar *lock_dir, guint subnet, guint probe_port, GError **error)
{
	g_autofree gchar *dir = lock_dir != NULL ? g_strdup(lock_dir) : default_lock_dir();
	guint span = EXH_LOCAL_SUBNET_MAX - EXH_LOCAL_SUBNET_MIN + 1;
	guint start = (guint)g_random_int_range(0, (gint32)span);

	if (g_mkdir_with_parents(dir, 0755) != 0) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "lock dir %s: %s",
			    dir,
			    g_strerror(errno));
		return NULL;
	}
	if (subnet != 0 && (subnet < EXH_LOCAL_SUBNET_MIN || subnet > EXH_LOCAL_SUBNET_MAX)) {
		g_set_error(error,
			    EXH_ERROR,
			    EXH_ERROR_CONFIG,
			    "subnet %u: not in %u..%u",
			    subnet,
			    EXH_LOCAL_SUBNET_MIN,
			    EXH_LOCAL_SUBNET_MAX);
		return NULL;
	}
	for (guint i = 0; i < (subnet != 0 ? 1 : span); i++) {
		guint k = subnet != 0 ? subnet : EXH_LOCAL_SUBNET_MIN + (start + i) % span;
		gint fd = try_subnet(dir, k, probe_port);

		if (fd >= 0) {
			ExhLocalNet *net = g_new0(ExhLocalNet, 1);

			net->subnet = k;
			net->lock_fd = fd;
			return net;
		}
	}
	g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "no free loopback subnet 127.K.0.0/16");
	return NULL;
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
