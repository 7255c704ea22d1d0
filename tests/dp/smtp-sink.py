#!/usr/bin/python3
# A tiny SMTP sink for the dp suite: accepts every message and stores it as
# OUTDIR/msg-N.eml (written to a temp name, then renamed).  Prints "ready".
# A message to a recipient whose local part starts with "defer" is answered
# 451 (exim defers it), with "bounce" 550 (exim bounces it); neither is stored.
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
        locals_ = [r.split("@")[0].lower() for r in rcpttos]
        if any(x.startswith("defer") for x in locals_):
            return "451 4.3.0 sink defers this recipient"
        if any(x.startswith("bounce") for x in locals_):
            return "550 5.1.1 sink bounces this recipient"
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
