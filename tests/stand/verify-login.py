#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Python's ssl logs in by name with verification on (issue 22).

Connects to HOST (the instance's smtp_hostname, resolved by the system
resolver: run it under `stand.sh with-dns`) on 587 with STARTTLS and on 465
with implicit TLS, trusting only CAFILE, checking the certificate's name
against HOST, and logs in with AUTH.  Then the same client trusting only the
system's store must be refused: verification is really on, and CAFILE is
what made it pass.

Usage: verify-login.py HOST CAFILE USER PASSWORD
"""
import smtplib
import ssl
import sys


def context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    if cafile is None:
        ctx = ssl.create_default_context()
    # create_default_context: CERT_REQUIRED and check_hostname
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    return ctx


def login(host, port, ctx, user, password):
    if port == 465:
        smtp = smtplib.SMTP_SSL(host, port, context=ctx, timeout=20)
    else:
        smtp = smtplib.SMTP(host, port, timeout=20)
        smtp.starttls(context=ctx)
    try:
        peer = smtp.sock.getpeercert()
        subject = dict(x[0] for x in peer["subject"]).get("commonName", "")
        issuer = dict(x[0] for x in peer["issuer"]).get("commonName", "")
        smtp.login(user, password)
        print(f"python ssl: {host}:{port} {smtp.sock.version()} verified "
              f"(CN {subject}, issuer {issuer}), AUTH ok")
    finally:
        smtp.quit()


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    host, cafile, user, password = sys.argv[1:]
    for port in (587, 465):
        login(host, port, context(cafile), user, password)
    for port in (587, 465):
        try:
            login(host, port, context(None), user, password)
        except ssl.SSLCertVerificationError as e:
            print(f"python ssl: {host}:{port} without the root: refused ({e.verify_message})")
            continue
        sys.exit(f"python ssl: {host}:{port} verified without the root: verification is off")


if __name__ == "__main__":
    main()
