#!/usr/bin/env python3
"""tests/e2e/proxy_fault_dns.py — a misbehaving upstream "DNS server" on UDP and
TCP for tests/e2e/proxy_faults.sh.

  garbage ADDR PORT               answers every query with random bytes (UDP: a
                                  datagram of 12..300 random bytes, the first two
                                  being the query's ID every other time; TCP: a
                                  length prefix and random bytes)
  slow ADDR PORT DELAY_MS UP_ADDR UP_PORT
                                  forwards each query to UP_ADDR#UP_PORT and sends
                                  the answer back DELAY_MS later
Loopback only; every upstream socket has a timeout.
"""
import os
import socket
import struct
import sys
import threading
import time

count = 0


def garbage_for(query):
    global count
    count += 1
    body = os.urandom(12 + os.urandom(1)[0] % 290)
    if count % 2 and len(query) >= 2:
        body = query[:2] + body[2:]
    return body


def forward_udp(query, up, delay):
    time.sleep(delay)
    u = socket.socket(socket.AF_INET6 if ":" in up[0] else socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(3)
    try:
        u.sendto(query, up)
        return u.recv(65535)
    except OSError:
        return None
    finally:
        u.close()


def forward_tcp(query, up, delay):
    time.sleep(delay)
    try:
        u = socket.create_connection(up, timeout=3)
    except OSError:
        return None
    try:
        u.sendall(struct.pack("!H", len(query)) + query)
        f = u.makefile("rb")
        ln = f.read(2)
        if len(ln) < 2:
            return None
        return f.read(struct.unpack("!H", ln)[0])
    except OSError:
        return None
    finally:
        u.close()


def serve_udp(sock, answer):
    while True:
        query, peer = sock.recvfrom(65535)

        def one(query=query, peer=peer):
            a = answer(query, forward_udp)
            if a:
                sock.sendto(a, peer)

        threading.Thread(target=one, daemon=True).start()


def serve_tcp(lsock, answer):
    while True:
        c, _ = lsock.accept()

        def conn(c=c):
            c.settimeout(10)
            try:
                f = c.makefile("rb")
                while True:
                    ln = f.read(2)
                    if len(ln) < 2:
                        return
                    query = f.read(struct.unpack("!H", ln)[0])
                    a = answer(query, forward_tcp)
                    if a:
                        c.sendall(struct.pack("!H", len(a)) + a)
            except OSError:
                pass
            finally:
                c.close()

        threading.Thread(target=conn, daemon=True).start()


def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "garbage":
        def answer(q, _fwd):
            return garbage_for(q)
    elif mode == "slow":
        delay = int(sys.argv[4]) / 1000.0
        up = (sys.argv[5], int(sys.argv[6]))

        def answer(q, fwd):
            return fwd(q, up, delay)
    else:
        sys.exit("unknown mode " + mode)
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.bind((addr, port))
    t = socket.socket(fam, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((addr, port))
    t.listen(64)
    threading.Thread(target=serve_tcp, args=(t, answer), daemon=True).start()
    serve_udp(u, answer)


if __name__ == "__main__":
    main()
