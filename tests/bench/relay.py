#!/usr/bin/env python3
"""tests/bench/relay.py — a counting DNS relay for the benchmarks.

    relay.py LISTEN_ADDR LISTEN_PORT UPSTREAM_ADDR UPSTREAM_PORT COUNT_FILE

Sits between one resolver and NSD, on UDP and TCP, and forwards every DNS
message unchanged. It counts the queries it forwards (UDP datagrams and TCP
length-prefixed messages) and writes "udp tcp" to COUNT_FILE twice a second
and on exit, so a benchmark can read how many upstream queries a resolver sent.
Loopback only; it exits on SIGTERM.
"""
import asyncio
import os
import signal
import socket
import struct
import sys
import time

LADDR, LPORT, UADDR, UPORT, COUNT_FILE = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
counts = {"udp": 0, "tcp": 0}


def flush():
    tmp = COUNT_FILE + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d %d\n" % (counts["udp"], counts["tcp"]))
    os.replace(tmp, COUNT_FILE)


class Upstream(asyncio.DatagramProtocol):
    """One upstream socket per client address and port, so answers find their
    way back; closed once every query sent on it is answered, or after
    IDLE_S without traffic (resolvers ask each new query from a new port: kept
    open, these sockets would use up the ephemeral ports)."""

    def __init__(self, front, client):
        self.front, self.client, self.transport = front, client, None
        self.waiting, self.last = 0, time.monotonic()

    def connection_made(self, transport):
        self.transport = transport

    def send(self, data):
        self.waiting += 1
        self.last = time.monotonic()
        self.transport.sendto(data)

    def datagram_received(self, data, addr):
        self.front.transport.sendto(data, self.client)
        self.waiting -= 1
        self.last = time.monotonic()
        if self.waiting <= 0:
            self.front.drop(self)


IDLE_S = 3.0


class Front(asyncio.DatagramProtocol):
    def __init__(self):
        self.transport, self.ups = None, {}

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        counts["udp"] += 1
        up = self.ups.get(addr)
        if up is None or up.transport is None:
            loop = asyncio.get_running_loop()
            if up is None:
                up = Upstream(self, addr)
                up.queued = []
                self.ups[addr] = up
                loop.create_task(self._open(up))
            up.queued.append(data)
            return
        up.send(data)

    async def _open(self, up):
        loop = asyncio.get_running_loop()
        try:
            await loop.create_datagram_endpoint(lambda: up, remote_addr=(UADDR, UPORT))
        except OSError:
            self.ups.pop(up.client, None)
            return
        for data in up.queued:
            up.send(data)
        up.queued = []

    def drop(self, up):
        if self.ups.get(up.client) is up:
            del self.ups[up.client]
        if up.transport is not None:
            up.transport.close()

    def sweep(self):
        now = time.monotonic()
        for up in [u for u in self.ups.values() if u.transport is not None and now - u.last > IDLE_S]:
            self.drop(up)


async def tcp_pipe(reader, writer, count):
    try:
        while True:
            head = await reader.readexactly(2)
            (n,) = struct.unpack("!H", head)
            body = await reader.readexactly(n)
            if count:
                counts["tcp"] += 1
            writer.write(head + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def tcp_client(creader, cwriter):
    try:
        ureader, uwriter = await asyncio.wait_for(asyncio.open_connection(UADDR, UPORT), 5)
    except (OSError, asyncio.TimeoutError):
        cwriter.close()
        return
    await asyncio.gather(tcp_pipe(creader, uwriter, True), tcp_pipe(ureader, cwriter, False))


async def main():
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, lambda: stop.done() or stop.set_result(None))
    _, front = await loop.create_datagram_endpoint(Front, local_addr=(LADDR, LPORT))
    server = await asyncio.start_server(tcp_client, LADDR, LPORT, reuse_address=True)
    flush()
    while not stop.done():
        await asyncio.wait([stop], timeout=0.5)
        front.sweep()
        flush()
    server.close()
    flush()


asyncio.run(main())
