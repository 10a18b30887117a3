#!/usr/bin/env python3
"""tests/e2e/dnsabuse.py — abusive DNS clients for the resolver's client-bounds tests.

    dnsabuse.py slowloris ADDR PORT --conns N --seconds S [--interval I] [--reconnect]
        N TCP connections that each send one byte of a query every I seconds and
        never finish it (with --reconnect, one closed by the server is replaced
        by a new one, 20,000 at most); after S seconds prints
        "connected=C closed_by_server=K".
    dnsabuse.py flood ADDR PORT --source SRC --rate R --seconds S --prefix P --zone Z
        UDP queries for unique names P<i>.Z from SRC at R per second for S
        seconds; prints "sent=N answered=A".
    dnsabuse.py probe ADDR PORT --source SRC --count N --timeout T --prefix P --zone Z
        N sequential UDP queries for unique names from SRC, one at a time; prints
        "sent=N noerror=.. servfail=.. other=.. timeouts=.. max_ms=..".

Every loop is bounded in count and time; only the given loopback addresses are used.
"""
import argparse
import select
import selectors
import socket
import struct
import sys
import time


def query(qid, name, qtype=1):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", qtype, 1)


def slowloris(a):
    msg = query(1, "www.world.test")
    framed = struct.pack(">H", len(msg)) + msg
    sel = selectors.DefaultSelector()  # epoll: select() stops at fd 1024
    live, sent = set(), {}
    stats = {"connected": 0, "closed": 0}

    def open_one():
        if stats["connected"] >= 20000:
            return
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect((a.addr, a.port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            return
        stats["connected"] += 1
        live.add(s)
        sent[s] = 0
        sel.register(s, selectors.EVENT_READ)

    def lost(s):
        stats["closed"] += 1
        live.discard(s)
        sel.unregister(s)
        s.close()
        if a.reconnect:
            open_one()

    for _ in range(a.conns):
        open_one()
    end = time.monotonic() + a.seconds
    next_tick = time.monotonic()
    while time.monotonic() < end and live:
        now = time.monotonic()
        if now >= next_tick:
            for s in list(live):
                if sent[s] >= len(framed) - 1:
                    continue
                try:
                    s.send(framed[sent[s]:sent[s] + 1])
                    sent[s] += 1
                except BlockingIOError:
                    pass
                except OSError:
                    lost(s)
            next_tick = now + a.interval
        for key, _ in sel.select(0.2):
            s = key.fileobj
            if s not in live:
                continue
            try:
                if s.recv(4096) == b"":
                    lost(s)
            except BlockingIOError:
                pass
            except OSError:
                lost(s)
    print(f"connected={stats['connected']} closed_by_server={stats['closed']}")
    for s in live:
        s.close()


def udp_socket(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.source, 0))
    return s


def flood(a):
    s = udp_socket(a)
    s.setblocking(False)
    start = time.monotonic()
    sent = answered = 0
    while True:
        now = time.monotonic()
        if now - start >= a.seconds:
            break
        due = int((now - start) * a.rate)
        while sent < due:
            try:
                s.sendto(query(sent & 0xFFFF, f"{a.prefix}{sent}.{a.zone}"), (a.addr, a.port))
            except (BlockingIOError, OSError):
                pass
            sent += 1
        try:
            while True:
                s.recv(65535)
                answered += 1
        except (BlockingIOError, OSError):
            pass
        time.sleep(0.002)
    print(f"sent={sent} answered={answered}")


def probe(a):
    s = udp_socket(a)
    counts = {"noerror": 0, "servfail": 0, "other": 0, "timeouts": 0}
    worst = 0.0
    for i in range(a.count):
        qid = (i * 7919 + 11) & 0xFFFF
        t0 = time.monotonic()
        s.sendto(query(qid, f"{a.prefix}{i}.{a.zone}"), (a.addr, a.port))
        deadline = t0 + a.timeout
        got = None
        while got is None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([s], [], [], left)
            if not r:
                break
            m = s.recv(65535)
            if len(m) >= 4 and struct.unpack(">H", m[:2])[0] == qid:
                got = m
        worst = max(worst, time.monotonic() - t0)
        if got is None:
            counts["timeouts"] += 1
        elif got[3] & 15 == 0:
            counts["noerror"] += 1
        elif got[3] & 15 == 2:
            counts["servfail"] += 1
        else:
            counts["other"] += 1
    print(f"sent={a.count} noerror={counts['noerror']} servfail={counts['servfail']} "
          f"other={counts['other']} timeouts={counts['timeouts']} max_ms={int(worst * 1000)}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["slowloris", "flood", "probe"])
    p.add_argument("addr")
    p.add_argument("port", type=int)
    p.add_argument("--conns", type=int, default=100)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--interval", type=float, default=2)
    p.add_argument("--reconnect", action="store_true")
    p.add_argument("--source", default="127.0.0.1")
    p.add_argument("--rate", type=float, default=1000)
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--timeout", type=float, default=2)
    p.add_argument("--prefix", default="n")
    p.add_argument("--zone", default="world.test")
    a = p.parse_args()
    a.seconds = min(a.seconds, 60)
    {"slowloris": slowloris, "flood": flood, "probe": probe}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
