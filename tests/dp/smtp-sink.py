#!/usr/bin/python3
# A tiny SMTP sink for the dp suite: accepts every message and stores it as
# OUTDIR/msg-N.eml (written to a temp name, then renamed).  Prints "ready".
#   smtp-sink.py ADDR PORT OUTDIR
import os
import sys
import warnings

warnings.simplefilter("ignore", DeprecationWarning)
import asyncore  # noqa: E402  (deprecated, still shipped with Python 3.11)
import smtpd  # noqa: E402


class Sink(smtpd.SMTPServer):
    count = 0

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        Sink.count += 1
        path = os.path.join(sys.argv[3], "msg-%d.eml" % Sink.count)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)
        return None


def main():
    Sink((sys.argv[1], int(sys.argv[2])), None, decode_data=False)
    print("ready", flush=True)
    asyncore.loop()


if __name__ == "__main__":
    main()
