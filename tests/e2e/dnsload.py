#!/usr/bin/env python3
"""tests/e2e/dnsload.py — a bounded DNS load client for the resolver's load tests.

    dnsload.py ADDR PORT --queries N --inflight K [--tcp-clients C] [--names FILE]
               [--timeout S] [--deadline S]

UDP mode keeps K queries in flight until N were sent. TCP mode opens C
connections at once, each pipelining its share of the N queries. Names are
cycled from FILE (one "name type" per line). Prints one line of counts:
"sent=N answered=A timeouts=T noerror=.. nxdomain=.. servfail=.. other=..".
"""
import argparse
import asyncio
import random
import socket
import struct
import sys
import time

TYPES = {"A": 1, "AAAA": 28, "TXT": 16, "DS": 43, "DNSKEY": 48, "TLSA": 52, "SOA": 6}


def query(qid, name, qtype):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack(">HH", TYPES.get(qtype, 1), 1)
    q += b"\x00" + struct.pack(">HHIH", 41, 1232, 0x8000, 0)  # OPT with DO
    return q


class Stats:
    def __init__(self):
        self.sent = self.answered = self.timeouts = 0
        self.rcodes = {}

    def answer(self, msg):
        self.answered += 1
        rcode = msg[3] & 0x0F if len(msg) >= 4 else -1
        self.rcodes[rcode] = self.rcodes.get(rcode, 0) + 1

    def line(self):
        r = self.rcodes
        other = sum(v for k, v in r.items() if k not in (0, 2, 3))
        return (f"sent={self.sent} answered={self.answered} timeouts={self.timeouts} "
                f"noerror={r.get(0, 0)} nxdomain={r.get(3, 0)} servfail={r.get(2, 0)} "
                f"other={other}")


async def udp_load(args, names, st):
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    waiting = {}

    class Proto(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            if len(data) >= 2:
                fut = waiting.pop(struct.unpack(">H", data[:2])[0], None)
                if fut and not fut.done():
                    fut.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(
        Proto, remote_addr=(args.addr, args.port), family=family)
    sem = asyncio.Semaphore(args.inflight)
    ids = iter(random.sample(range(65536), 65536))

    async def one(i):
        async with sem:
            qid = next(ids)
            fut = loop.create_future()
            waiting[qid] = fut
            name, qtype = names[i % len(names)]
            transport.sendto(query(qid, name, qtype))
            st.sent += 1
            try:
                st.answer(await asyncio.wait_for(fut, args.timeout))
            except asyncio.TimeoutError:
                waiting.pop(qid, None)
                st.timeouts += 1

    # ids are reused after 65536 queries; the runs here stay far below that
    await asyncio.gather(*(one(i) for i in range(args.queries)))
    transport.close()


async def tcp_client(args, names, st, start, count):
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(args.addr, args.port), args.timeout)
    except (OSError, asyncio.TimeoutError):
        st.timeouts += count
        return
    for i in range(count):
        name, qtype = names[(start + i) % len(names)]
        q = query(i, name, qtype)
        writer.write(struct.pack(">H", len(q)) + q)
        st.sent += 1
    await writer.drain()
    got = 0
    try:
        for _ in range(count):
            hdr = await asyncio.wait_for(reader.readexactly(2), args.timeout)
            msg = await asyncio.wait_for(reader.readexactly(struct.unpack(">H", hdr)[0]),
                                         args.timeout)
            st.answer(msg)
            got += 1
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
        st.timeouts += count - got
    writer.close()


async def tcp_load(args, names, st):
    per = max(1, args.queries // args.tcp_clients)
    await asyncio.gather(*(tcp_client(args, names, st, c * per, per)
                           for c in range(args.tcp_clients)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("addr")
    p.add_argument("port", type=int)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--inflight", type=int, default=20)
    p.add_argument("--tcp-clients", type=int, default=0)
    p.add_argument("--names")
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--deadline", type=float, default=120.0)
    args = p.parse_args()
    names = [("www.world.test", "A")]
    if args.names:
        with open(args.names) as f:
            names = [tuple(l.split()[:2]) for l in f if l.strip()]
    st = Stats()
    coro = tcp_load(args, names, st) if args.tcp_clients else udp_load(args, names, st)
    t0 = time.monotonic()
    try:
        asyncio.run(asyncio.wait_for(coro, args.deadline))
    except asyncio.TimeoutError:
        print("deadline reached", file=sys.stderr)
    print(st.line() + f" seconds={time.monotonic() - t0:.1f}")


if __name__ == "__main__":
    main()
