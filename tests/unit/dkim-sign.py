#!/usr/bin/python3
# Signs a message with python3-dkim, the independent signer the C verifier
# (common/mail/exm-mail-dkim-verify.c) is checked against.
#   dkim-sign.py MESSAGE KEY_PEM DOMAIN SELECTOR HEADER_CANON BODY_CANON LENGTH(0|1)
# prints the DKIM-Signature field followed by the message (CRLF line ends).
import sys

import dkim


def main():
    msg = open(sys.argv[1], "rb").read()
    key = open(sys.argv[2], "rb").read()
    sig = dkim.sign(msg, sys.argv[4].encode(), sys.argv[3].encode(), key,
                    canonicalize=(sys.argv[5].encode(), sys.argv[6].encode()),
                    include_headers=[b"from", b"to", b"subject", b"date"],
                    length=sys.argv[7] == "1")
    sys.stdout.buffer.write(sig + msg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
