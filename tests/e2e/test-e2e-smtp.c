/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "test-e2e-smtp.h"

#include <arpa/inet.h>
#include <gio/gio.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TIMEOUT_S 10

typedef struct {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	GString *buf; /* received, not yet consumed */
} Conn;

static void
fail(GError **error, const gchar *what)
{
	if (error != NULL && *error == NULL)
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "smtp: %s", what);
}

static gssize
conn_read(Conn *c, gchar *out, gsize len)
{
	if (c->ssl != NULL)
		return SSL_read(c->ssl, out, (int)len);
	return recv(c->fd, out, len, 0);
}

static gboolean
conn_write(Conn *c, const gchar *text)
{
	gsize len = strlen(text);

	if (c->ssl != NULL)
		return SSL_write(c->ssl, text, (int)len) == (int)len;
	return send(c->fd, text, len, MSG_NOSIGNAL) == (gssize)len;
}

/* Reads one (possibly multi-line) reply; returns its code or -1. */
static gint
read_reply(Conn *c, GError **error)
{
	for (;;) {
		gchar *nl;
		gchar chunk[1024];
		gssize n;

		while ((nl = strstr(c->buf->str, "\r\n")) != NULL) {
			gsize line_len = (gsize)(nl - c->buf->str);
			gboolean last = line_len >= 4 && c->buf->str[3] == ' ';
			gint code = line_len >= 3 ? atoi(c->buf->str) : -1;

			if (line_len == 3)
				last = TRUE;
			g_string_erase(c->buf, 0, (gssize)line_len + 2);
			if (last)
				return code;
		}
		n = conn_read(c, chunk, sizeof(chunk));
		if (n <= 0) {
			fail(error, "connection closed");
			return -1;
		}
		g_string_append_len(c->buf, chunk, n);
	}
}

static gint
command(Conn *c, const gchar *line, GError **error)
{
	if (!conn_write(c, line)) {
		fail(error, "write failed");
		return -1;
	}
	return read_reply(c, error);
}

static gboolean
connect_tcp(Conn *c, const gchar *addr, guint port, GError **error)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((guint16)port) };
	struct timeval tv = { .tv_sec = TIMEOUT_S };

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fail(error, "socket");
		return FALSE;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fail(error, "connect refused");
		return FALSE;
	}
	return TRUE;
}

static gboolean
start_tls(Conn *c, GError **error)
{
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL || (c->ssl = SSL_new(c->ctx)) == NULL) {
		fail(error, "openssl");
		return FALSE;
	}
	SSL_set_fd(c->ssl, c->fd);
	if (SSL_connect(c->ssl) != 1) {
		ERR_clear_error();
		fail(error, "tls handshake failed");
		return FALSE;
	}
	return TRUE;
}

static void
conn_close(Conn *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	g_string_free(c->buf, TRUE);
	ERR_clear_error();
}

static gint
dialogue(Conn *c, E2eSmtpTls tls, const gchar *user, const gchar *password, GError **error)
{
	g_autofree gchar *plain = NULL;
	g_autofree gchar *b64 = NULL;
	g_autofree gchar *auth = NULL;
	gsize ulen = strlen(user), plen = strlen(password);
	gint code;

	if (tls == E2E_SMTP_IMPLICIT && !start_tls(c, error))
		return -1;
	if (read_reply(c, error) != 220 || command(c, "EHLO e2e.test\r\n", error) != 250)
		return -1;
	if (tls == E2E_SMTP_STARTTLS) {
		if (command(c, "STARTTLS\r\n", error) != 220 || !start_tls(c, error) ||
		    command(c, "EHLO e2e.test\r\n", error) != 250)
			return -1;
	}
	plain = g_malloc0(ulen + plen + 2);
	memcpy(plain + 1, user, ulen);
	memcpy(plain + 2 + ulen, password, plen);
	b64 = g_base64_encode((const guchar *)plain, ulen + plen + 2);
	auth = g_strdup_printf("AUTH PLAIN %s\r\n", b64);
	code = command(c, auth, error);
	if (code > 0)
		command(c, "QUIT\r\n", NULL);
	return code;
}

gint
e2e_smtp_auth(const gchar *addr,
	      guint port,
	      E2eSmtpTls tls,
	      const gchar *user,
	      const gchar *password,
	      GError **error)
{
	Conn c = { .fd = -1, .buf = g_string_new(NULL) };
	gint code = -1;

	if (connect_tcp(&c, addr, port, error))
		code = dialogue(&c, tls, user, password, error);
	conn_close(&c);
	if (code < 0)
		fail(error, "dialogue failed");
	return code;
}
