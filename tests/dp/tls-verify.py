#!/usr/bin/python3
# A client that verifies the node's certificate (tests/dp/test-dp-tls.c):
# Python's ssl with verification ON, trusting CAFILE, checking NAME while
# connecting to HOST (an address: the test has no DNS for NAME).
#   tls-verify.py HOST PORT MODE NAME CAFILE
# MODE: tls (implicit, 465) or starttls (25, 587).  Prints one JSON object:
# {"ok": true, "banner": "...", "ehlo": "...", "version": "TLSv1.3", "cipher": "...",
#  "serial": "<hex>"}
# or {"ok": false, "error": "..."}.
import json
import smtplib
import ssl
import sys

TIMEOUT = 20


def session(host, port, mode, name, ctx):
    s = smtplib.SMTP_SSL(context=ctx, timeout=TIMEOUT) if mode == "tls" else \
        smtplib.SMTP(timeout=TIMEOUT)
    # smtplib verifies against _host (set only by the constructor's host)
    s._host = name
    _, banner = s.connect(host, int(port))
    if mode == "starttls":
        s.starttls(context=ctx)
    _, ehlo = s.ehlo("client.test")
    out = {
        "ok": True,
        "banner": banner.decode(errors="replace"),
        "ehlo": ehlo.decode(errors="replace").split("\n")[0],
        "version": s.sock.version(),
        "cipher": s.sock.cipher()[0],
        # the served leaf's serial (hex), to tell two certificates apart
        "serial": s.sock.getpeercert().get("serialNumber", ""),
    }
    s.quit()
    return out


def main():
    host, port, mode, name, cafile = sys.argv[1:6]
    ctx = ssl.create_default_context(cafile=cafile)
    try:
        out = session(host, port, mode, name, ctx)
    except (OSError, smtplib.SMTPException) as e:
        out = {"ok": False, "error": str(e)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
