#!/usr/bin/env python3
"""tests/e2e/proxy_fault_origin.py — misbehaving origins and a relay origin for
tests/e2e/proxy_faults.sh and proxy_load.sh.

  reset-handshake ADDR PORT       accepts, reads the ClientHello, then resets the
                                  connection (SO_LINGER 0 and close)
  silent ADDR PORT                accepts and never sends a byte (holds each
                                  connection up to 120 s)
  reset-transfer ADDR PORT CERT KEY CHAIN
                                  TLS (http/1.1): answers any request with a head
                                  announcing 8 MiB, sends 256 KiB, then resets
  relay ADDR PORT CERT KEY CHAIN DIR
                                  TLS (http/1.1), keep-alive: GET /NAME serves
                                  DIR/NAME; PUT or POST answers "N SHA256\\n" of
                                  the body it received (Content-Length or chunked)
Loopback only; every socket has a timeout; every process is bounded by the
caller (timeout(1)).
"""
import hashlib
import os
import socket
import ssl
import struct
import sys
import threading
import time


def listener(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(128)
    return s


def rst_close(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def reset_handshake(addr, port):
    s = listener(addr, port)
    while True:
        c, _ = s.accept()
        c.settimeout(10)
        try:
            got = b""
            # the whole first record: 5-byte header, then its length
            while len(got) < 5 or len(got) < 5 + (got[3] << 8 | got[4]):
                part = c.recv(65536)
                if not part:
                    break
                got += part
            sys.stderr.write("reset after a %d-byte ClientHello\n" % len(got))
        except OSError:
            pass
        rst_close(c)


def silent(addr, port):
    s = listener(addr, port)
    held = []
    while True:
        c, _ = s.accept()
        now = time.time()
        held = [(t, k) for (t, k) in held if now - t < 120 or k.close()]
        held.append((now, c))


def tls_context(cert, key, chain):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    path = cert
    if chain and os.path.getsize(chain) > 0:
        path = cert + ".full.pem"
        with open(cert) as a, open(chain) as b, open(path, "w") as o:
            o.write(a.read() + b.read())
    ctx.load_cert_chain(path, key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def read_head(f):
    lines = []
    while True:
        line = f.readline(65536)
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            return lines
        lines.append(line.decode("latin-1").rstrip("\r\n"))


def reset_transfer_conn(tc, raw):
    try:
        f = tc.makefile("rwb", buffering=0)
        if read_head(f) is None:
            return
        tc.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                   b"Content-Length: %d\r\n\r\n" % (8 << 20))
        tc.sendall(b"x" * (256 << 10))
        time.sleep(0.3)
    except (OSError, ssl.SSLError):
        pass
    rst_close(raw)


def relay_conn(tc, raw, root):
    try:
        f = tc.makefile("rwb", buffering=0)
        while True:
            head = read_head(f)
            if not head:
                return
            method, path = head[0].split(" ")[:2]
            hdrs = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip()
                    for l in head[1:] if ":" in l}
            if method in ("PUT", "POST"):
                h, n = hashlib.sha256(), 0
                if hdrs.get("transfer-encoding", "").lower() == "chunked":
                    while True:
                        size = int(f.readline(1024).split(b";")[0].strip(), 16)
                        if size == 0:
                            while f.readline(1024).strip():
                                pass
                            break
                        left = size
                        while left:
                            d = f.read(min(left, 1 << 16))
                            if not d:
                                return
                            h.update(d)
                            n += len(d)
                            left -= len(d)
                        f.readline(1024)
                else:
                    left = int(hdrs.get("content-length", "0"))
                    while left:
                        d = f.read(min(left, 1 << 16))
                        if not d:
                            return
                        h.update(d)
                        n += len(d)
                        left -= len(d)
                body = ("%d %s\n" % (n, h.hexdigest())).encode()
                tc.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                continue
            name = os.path.basename(path)
            full = os.path.join(root, name)
            if not name or not os.path.isfile(full):
                tc.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                continue
            size = os.path.getsize(full)
            tc.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                       b"Content-Length: %d\r\n\r\n" % size)
            with open(full, "rb") as src:
                while True:
                    d = src.read(1 << 18)
                    if not d:
                        break
                    tc.sendall(d)
            if hdrs.get("connection", "").lower() == "close":
                return
    except (OSError, ssl.SSLError, ValueError, IndexError):
        pass
    finally:
        try:
            raw.close()
        except OSError:
            pass


def tls_server(addr, port, cert, key, chain, handler, *extra):
    ctx = tls_context(cert, key, chain)
    s = listener(addr, port)
    while True:
        c, _ = s.accept()

        def run(c=c):
            try:
                c.settimeout(60)
                tc = ctx.wrap_socket(c, server_side=True)
            except (OSError, ssl.SSLError):
                c.close()
                return
            handler(tc, c, *extra)

        threading.Thread(target=run, daemon=True).start()


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "reset-handshake":
        reset_handshake(*args[:2])
    elif mode == "silent":
        silent(*args[:2])
    elif mode == "reset-transfer":
        tls_server(*args[:5], reset_transfer_conn)
    elif mode == "relay":
        tls_server(*args[:5], relay_conn, args[5])
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
