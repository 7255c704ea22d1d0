#!/usr/bin/python3
# Verifies the DKIM signature of a message with python3-dkim, answering the
# key lookup from a BIND-style platform.txt instead of DNS.
#   dkim-verify.py MESSAGE PLATFORM_TXT  -> prints "ok <d> <s>" or "fail ..."; exit 0/1
import re
import sys

import dkim


def main():
    msg = open(sys.argv[1], "rb").read()
    txt = open(sys.argv[2], "r").read()
    record = "".join(re.findall(r'"([^"]*)"', txt)).strip().encode()

    def dnsfunc(name, timeout=5):
        return record if name.startswith(b"platform._domainkey.") else None

    sig = re.search(rb"^DKIM-Signature:.*?\bd=\s*([^;\s]+).*?\bs=\s*([^;\s]+)", msg,
                    re.S | re.M | re.I)
    ok = dkim.verify(msg, dnsfunc=dnsfunc)
    if ok and sig:
        print("ok %s %s" % (sig.group(1).decode(), sig.group(2).decode()))
        return 0
    print("fail")
    return 1


if __name__ == "__main__":
    sys.exit(main())
