#!/usr/bin/python3
# SMTP client for the dp suite (Python smtplib as a real SMTP client).
# Prints one JSON object on stdout.
#   ehlo HOST PORT MODE                       -> {"features": [...], "auth": "..."}
#   auth HOST PORT MODE USER PASSWORD [MECH]   -> {"code": N, "message": "..."}
#   send HOST PORT MODE USER PASSWORD FROM TO  -> {"stage": "...", "code": N, ...}
#   bench HOST PORT MODE USER PASSWORD COUNT   -> {"ms": [..]}
#   sendbench HOST PORT MODE USER PASSWORD FROM TO COUNT -> {"seconds": S}
# MODE: plain (no TLS), starttls, tls (implicit, port 465).  USER "-" = no AUTH.
import json
import os
import re
import smtplib
import ssl
import sys
import time

TIMEOUT = 20


def context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def text(msg):
    # a reply exim wrapped onto several lines, as one line: the enhanced status
    # code that starts each continuation line is dropped
    lines = msg.decode(errors="replace").split("\n")
    rest = [re.sub(r"^[245]\.[0-9]{1,3}\.[0-9]{1,3} ", "", ln) for ln in lines[1:]]
    return " ".join([lines[0]] + rest)


def source():
    # EXM_SMTP_SOURCE: the client address to connect from (the login defence
    # counts per client address)
    addr = os.environ.get("EXM_SMTP_SOURCE")
    return (addr, 0) if addr else None


def connect(host, port, mode):
    if mode == "tls":
        s = smtplib.SMTP_SSL(host, int(port), timeout=TIMEOUT, context=context(),
                             source_address=source())
        s.ehlo("client.test")
        return s
    s = smtplib.SMTP(host, int(port), timeout=TIMEOUT, source_address=source())
    s.ehlo("client.test")
    if mode == "starttls":
        s.starttls(context=context())
        s.ehlo("client.test")
    return s


def do_auth(s, user, password, mech):
    if mech:
        s.user, s.password = user, password
        name = "auth_" + mech.lower().replace("-", "_")
        return s.auth(mech, getattr(s, name), initial_response_ok=(mech == "PLAIN"))
    return s.login(user, password)


def cmd_ehlo(host, port, mode):
    s = connect(host, port, mode)
    out = {"features": sorted(s.esmtp_features.keys()),
           "auth": s.esmtp_features.get("auth", "").strip()}
    s.quit()
    return out


def cmd_auth(host, port, mode, user, password, mech=None):
    s = connect(host, port, mode)
    t0 = time.perf_counter()
    try:
        code, msg = do_auth(s, user, password, mech)
    except smtplib.SMTPAuthenticationError as e:
        code, msg = e.smtp_code, e.smtp_error
    except smtplib.SMTPNotSupportedError as e:
        code, msg = 0, str(e).encode()
    ms = (time.perf_counter() - t0) * 1000.0
    s.quit()
    return {"code": code, "message": text(msg), "ms": ms}


def cmd_send(host, port, mode, user, password, sender, rcpt):
    s = connect(host, port, mode)
    if user != "-":
        try:
            do_auth(s, user, password, None)
        except smtplib.SMTPAuthenticationError as e:
            return {"stage": "auth", "code": e.smtp_code}
    body = ("From: %s\r\nTo: %s\r\nSubject: dp test\r\n"
            "Message-ID: <%d@client.test>\r\n\r\nHello from the dp suite.\r\n"
            % (sender, rcpt, time.time_ns()))
    try:
        refused = s.sendmail(sender, [rcpt], body)
        out = {"stage": "done", "code": 250, "refused": {k: v[0] for k, v in refused.items()}}
    except smtplib.SMTPSenderRefused as e:
        out = {"stage": "mail", "code": e.smtp_code,
               "message": text(e.smtp_error)}
    except smtplib.SMTPRecipientsRefused as e:
        code, msg = list(e.recipients.values())[0]
        out = {"stage": "rcpt", "code": code, "message": text(msg)}
    except smtplib.SMTPDataError as e:
        out = {"stage": "data", "code": e.smtp_code}
    try:
        s.quit()
    except smtplib.SMTPException:
        pass
    return out


def cmd_bench(host, port, mode, user, password, count):
    ms = []
    for _ in range(int(count)):
        s = connect(host, port, mode)
        t0 = time.perf_counter()
        code, _ = do_auth(s, user, password, "PLAIN")
        ms.append((time.perf_counter() - t0) * 1000.0)
        if code != 235:
            raise SystemExit("auth failed: %d" % code)
        s.quit()
    return {"ms": ms}


def cmd_sendbench(host, port, mode, user, password, sender, rcpt, count):
    # COUNT submissions, each its own session (connect, AUTH, one message,
    # QUIT): the wall time of all of them
    t0 = time.perf_counter()
    for i in range(int(count)):
        out = cmd_send(host, port, mode, user, password, sender, rcpt)
        if out["code"] != 250:
            raise SystemExit("message %d refused: %s" % (i, json.dumps(out)))
    return {"seconds": time.perf_counter() - t0}


def main():
    cmds = {"ehlo": cmd_ehlo, "auth": cmd_auth, "send": cmd_send, "bench": cmd_bench,
            "sendbench": cmd_sendbench}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        raise SystemExit("usage: smtp-client.py ehlo|auth|send|bench|sendbench ...")
    print(json.dumps(cmds[sys.argv[1]](*sys.argv[2:])))


if __name__ == "__main__":
    main()
