#!/usr/bin/env python3
"""tests/e2e/dotmitm.py — a man in the middle on the DNS-over-TLS path: a TLS
server with a certificate chain of the test's choosing that relays each DNS
query to a plain DNS-over-TCP server and passes its answer back.

    dotmitm.py LISTEN_ADDR LISTEN_PORT UP_ADDR UP_PORT CHAIN_PEM KEY_PEM LOG [MODE]

CHAIN_PEM is sent as it is (the leaf, then whatever follows it in the file:
e.g. the genuine server's certificate, copied from any handshake with it, after
the attacker's own leaf). LOG gets "conn" per accepted TLS connection and
"query" per relayed query. Loopback only; runs until killed (tests stop it by
PID); every socket has a timeout.

MODE (default "relay") makes a hostile server of it:
    zero        a 0-length message before each answer
    huge        a length prefix of 65535 and 100 bytes, then nothing
    otherq      the answer to another question (www.world.test TXT) under
                the query's ID first, then the real answer (a duplicate ID)
    unsolicited an answer with an ID never sent, then the real answer
    dribble     the answer one byte every 200 ms
    closehs     close right after the handshake
"""
import socket
import ssl
import struct
import sys
import threading
import time

LISTEN, LPORT, UP, UPORT, CHAIN, KEY, LOG = sys.argv[1:8]
MODE = sys.argv[8] if len(sys.argv) > 8 else "relay"
LPORT, UPORT = int(LPORT), int(UPORT)
lock = threading.Lock()


def log(line):
    with lock:
        with open(LOG, "a") as f:
            f.write(line + "\n")


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def ask(wire):
    with socket.create_connection((UP, UPORT), timeout=3) as u:
        u.sendall(struct.pack("!H", len(wire)) + wire)
        hdr = recv_exact(u, 2)
        if hdr is None:
            return None
        return recv_exact(u, struct.unpack("!H", hdr)[0])


def serve(conn):
    try:
        conn.settimeout(10)
        while True:
            hdr = recv_exact(conn, 2)
            if hdr is None:
                return
            q = recv_exact(conn, struct.unpack("!H", hdr)[0])
            if q is None:
                return
            log("query")
            a = ask(q)
            if a is None:
                return
            frame = struct.pack("!H", len(a)) + a
            if MODE == "zero":
                conn.sendall(b"\x00\x00")
            elif MODE == "huge":
                conn.sendall(b"\xff\xff" + a[:100])
                time.sleep(8)
                return
            elif MODE == "otherq":
                # www.world.test TXT, recursion desired, under q's ID
                other = q[:2] + bytes.fromhex("01000001000000000000") + \
                    b"\x03www\x05world\x04test\x00\x00\x10\x00\x01"
                o = ask(other)
                if o:
                    conn.sendall(struct.pack("!H", len(o)) + o)
            elif MODE == "unsolicited":
                bad = bytes([a[0] ^ 0x5a, a[1] ^ 0xa5]) + a[2:]
                conn.sendall(struct.pack("!H", len(bad)) + bad)
            elif MODE == "dribble":
                for i in range(len(frame)):
                    conn.sendall(frame[i:i + 1])
                    time.sleep(0.2)
                continue
            conn.sendall(frame)
    except (OSError, ssl.SSLError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CHAIN, KEY)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((LISTEN, LPORT))
    ls.listen(16)
    while True:
        raw, _ = ls.accept()
        raw.settimeout(10)
        try:
            conn = ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            continue
        log("conn")
        if MODE == "closehs":
            conn.close()
            continue
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
