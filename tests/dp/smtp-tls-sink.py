#!/usr/bin/python3
# An SMTP sink that offers STARTTLS with its own certificate, for the DANE
# test (tests/dp/test-dp-dane.c): it stands for a receiving MX.  Every message
# is stored as OUTDIR/msg-N.eml (a temp name, then renamed), preceded by one
# line `X-Sink-TLS: <version> <cipher>` ("none" in clear) so the test sees
# how it arrived.  Prints "ready".  No PIPELINING, no CHUNKING: the client
# speaks one command at a time.  CERT and KEY "-": no STARTTLS is offered (a
# receiver whose STARTTLS someone on the path strips).
#   smtp-tls-sink.py ADDR PORT CERT KEY OUTDIR
import os
import socketserver
import ssl
import sys
import threading

COUNT_LOCK = threading.Lock()
COUNT = [0]


def store(outdir, tls, data):
    with COUNT_LOCK:
        COUNT[0] += 1
        n = COUNT[0]
    path = os.path.join(outdir, "msg-%d.eml" % n)
    with open(path + ".tmp", "wb") as f:
        f.write(("X-Sink-TLS: %s\r\n" % tls).encode())
        f.write(data)
    os.rename(path + ".tmp", path)


class Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def reply(self, text):
        self.wfile.write((text + "\r\n").encode())
        self.wfile.flush()

    def starttls(self):
        self.reply("220 2.0.0 ready to start TLS")
        self.wfile.flush()
        conn = self.server.ctx.wrap_socket(self.connection, server_side=True)
        self.connection = conn
        self.rfile = conn.makefile("rb")
        self.wfile = conn.makefile("wb")
        return "%s %s" % (conn.version(), conn.cipher()[0])

    def close_tls(self):
        # a TLS close_notify before the TCP close, as an MTA sends it
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.unwrap()
            except (OSError, ssl.SSLError):
                pass

    def data(self):
        self.reply("354 go ahead")
        lines = []
        while True:
            line = self.rfile.readline()
            if not line or line in (b".\r\n", b".\n"):
                break
            lines.append(line[1:] if line.startswith(b".") else line)
        return b"".join(lines)

    def handle(self):
        try:
            self.session()
        except (OSError, ssl.SSLError) as e:
            # a client that refuses our certificate (DANE) ends here
            print("smtp-tls-sink: %s" % e, file=sys.stderr, flush=True)

    def session(self):
        tls = "none"
        self.reply("220 sink.test ESMTP")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode(errors="replace").strip()
            verb = cmd.split(" ")[0].upper()
            if verb == "EHLO":
                offer = tls == "none" and self.server.ctx is not None
                extra = "250-STARTTLS\r\n" if offer else ""
                self.wfile.write(("250-sink.test\r\n%s250 8BITMIME\r\n" % extra).encode())
                self.wfile.flush()
            elif verb == "STARTTLS" and tls == "none" and self.server.ctx is not None:
                tls = self.starttls()
            elif verb == "DATA":
                store(self.server.outdir, tls, self.data())
                self.reply("250 2.0.0 stored")
            elif verb == "QUIT":
                self.reply("221 2.0.0 bye")
                self.close_tls()
                return
            elif verb in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
                self.reply("250 2.0.0 ok")
            else:
                self.reply("500 5.5.1 unknown command")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    addr, port, cert, key, outdir = sys.argv[1:6]
    server = Server((addr, int(port)), Handler)
    server.ctx = None
    if cert != "-":
        server.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.ctx.load_cert_chain(cert, key)
    server.outdir = outdir
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
