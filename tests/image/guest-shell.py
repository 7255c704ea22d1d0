#!/usr/bin/python3
# Runs one shell command in the guest of the `image` suite through the serial
# console ttyS1 (a root shell, the test's own channel into the VM; qemu
# serves it on a unix socket) and prints its output; exits with its status.
#   guest-shell.py SOCKET TIMEOUT COMMAND
# Waits (up to TIMEOUT seconds) for the shell to answer, so it also serves to
# wait for the login prompt after a boot.
import os
import re
import socket
import sys
import time


def main():
    path, timeout, command = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    end = time.monotonic() + timeout
    tag = "%d%d" % (os.getpid(), int(time.time() * 1000))
    begin, done = "__B%s__" % tag, re.compile(r"__E%s_(\d+)__" % tag)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(2)
    # The markers are built by the guest's printf, so the echoed command line
    # never contains them.
    line = ("stty -echo 2>/dev/null; printf '__B%%s__\\n' %s; ( %s ) 2>&1; "
            "printf '__E%%s_%%d__\\n' %s $?\n") % (tag, command, tag)
    buf = ""
    last_send = 0.0
    while time.monotonic() < end:
        if begin not in buf and time.monotonic() - last_send > 5:
            s.sendall(b"\x03\n" if last_send else b"\n")
            time.sleep(0.5)
            s.sendall(line.encode())
            last_send = time.monotonic()
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        if not data:
            break
        buf += data.decode("utf-8", "replace")
        if begin in buf:
            out = buf[buf.rindex(begin) + len(begin):]
            m = done.search(out)
            if m:
                sys.stdout.write(out[:m.start()].lstrip("\r\n").replace("\r", ""))
                return int(m.group(1))
    sys.stderr.write("guest-shell: no answer within %.0fs\n" % timeout)
    return 124


if __name__ == "__main__":
    sys.exit(main())
