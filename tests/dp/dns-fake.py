#!/usr/bin/python3
# A fake DNS server for the dp suite, on a loopback address only: answers the
# records given on the command line (authoritative), NOERROR without answers
# for other types of a known name, NXDOMAIN for unknown names.  Serves UDP and
# TCP on ADDR:PORT; prints "ready" once both are bound.
#   dns-fake.py ADDR PORT NAME TYPE VALUE [NAME TYPE VALUE ...]
import socket
import sys
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset


def load(args):
    zone = {}
    for i in range(0, len(args) - 2, 3):
        name = dns.name.from_text(args[i])
        rtype = dns.rdatatype.from_text(args[i + 1])
        zone.setdefault(name, {}).setdefault(rtype, []).append(args[i + 2])
    return zone


def answer(zone, wire):
    query = dns.message.from_wire(wire)
    resp = dns.message.make_response(query)
    resp.flags |= dns.flags.AA
    for q in query.question:
        records = zone.get(q.name)
        if records is None:
            resp.set_rcode(dns.rcode.NXDOMAIN)
        elif q.rdtype in records:
            resp.answer.append(
                dns.rrset.from_text_list(q.name, 60, "IN", q.rdtype, records[q.rdtype]))
    return resp.to_wire()


def serve_udp(sock, zone):
    while True:
        data, peer = sock.recvfrom(4096)
        try:
            sock.sendto(answer(zone, data), peer)
        except Exception as e:  # a malformed query must not stop the server
            print("dns-fake: %s" % e, file=sys.stderr, flush=True)


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError("short read")
        data += chunk
    return data


def serve_tcp(sock, zone):
    while True:
        conn, _ = sock.accept()
        with conn:
            try:
                size = int.from_bytes(recv_exact(conn, 2), "big")
                out = answer(zone, recv_exact(conn, size))
                conn.sendall(len(out).to_bytes(2, "big") + out)
            except Exception:  # a probe that connects and closes
                pass


def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    if not addr.startswith("127."):
        sys.exit("dns-fake: loopback addresses only")
    zone = load(sys.argv[3:])
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((addr, port))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((addr, port))
    tcp.listen(16)
    threading.Thread(target=serve_udp, args=(udp, zone), daemon=True).start()
    print("ready", flush=True)
    serve_tcp(tcp, zone)


if __name__ == "__main__":
    main()
