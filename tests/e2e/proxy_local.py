#!/usr/bin/env python3
"""tests/e2e/proxy_local.py — a local service the proxy must not reach, and raw
proxy clients from a chosen source address, for proxy_destinations.sh and
proxy_client_limits.sh (issue 8).

  server ADDRS PORT LOG
      A "loopback-only" HTTP service on each of ADDRS (comma-separated) at PORT:
      logs "accept LOCAL_ADDR PEER_ADDR" to LOG for every connection, answers
      any request "200 local secret". Runs until killed (bounded by the caller).
  request PROXY_PORT SRC TARGET
      One request through the proxy at 127.0.0.1:PROXY_PORT from address SRC:
      "GET TARGET" when TARGET starts with http://, else "CONNECT TARGET" and,
      when the answer is 200, "GET /" through the tunnel. Prints one line:
      "STATUS BODY" with BODY's newlines shown as \\n (for CONNECT 200, the
      tunnelled answer's status and body), or "CLOSED" / "TIMEOUT".
  busy PROXY_PORT SRC TARGET N HOLD_S
      N connections from SRC, each "CONNECT TARGET" (an origin that waits for
      a request: the tunnels stay open). Prints "established E closed C other O"
      after at most 3 s, keeps them open for HOLD_S seconds, then exits.
  idle PROXY_PORT SRC N
      N connections from SRC that send nothing; after 3 s prints
      "open K closed C" (C: closed by the proxy).
  lookups PROXY_PORT SRC NAME N
      N connections from SRC, each "CONNECT NAME:443", 0.1 s apart; after 1.5 s
      prints "answered503 A pending P other O".
Loopback only; every socket has a timeout.
"""
import socket
import sys
import threading
import time


def fam(a):
    return socket.AF_INET6 if ":" in a else socket.AF_INET


def connect_from(src, port, timeout=5):
    s = socket.socket(fam(src), socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("::1" if fam(src) == socket.AF_INET6 else "127.0.0.1", int(port)))
    return s


def read_response(s, deadline):
    """(status, body) of one HTTP response, or None on EOF/timeout."""
    data = b""
    while b"\r\n\r\n" not in data:
        if time.time() > deadline:
            return "TIMEOUT", None
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return "TIMEOUT", None
        except OSError:
            return "CLOSED", None
        if not chunk:
            return "CLOSED", None
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "?"
    length = None
    for l in lines[1:]:
        k, _, v = l.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip())
    if status == "200" and lines[0].startswith("HTTP/1.1 200 Connection established"):
        return status, body
    while length is not None and len(body) < length and time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        body += chunk
    return status, body


def server(addrs, port, log):
    lock = threading.Lock()

    def handle(c, local):
        try:
            peer = c.getpeername()[0]
            with lock, open(log, "a") as f:
                f.write("accept %s %s\n" % (local, peer))
            c.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = c.recv(4096)
                if not chunk:
                    return
                data += chunk
            body = b"local secret\n"
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                      b"Connection: close\r\n\r\n%s" % (len(body), body))
        except OSError:
            pass
        finally:
            c.close()

    def serve(sock, local):
        while True:
            c, _ = sock.accept()
            threading.Thread(target=handle, args=(c, local), daemon=True).start()

    threads = []
    for a in addrs.split(","):
        s = socket.socket(fam(a), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam(a) == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((a, int(port)))
        s.listen(64)
        t = threading.Thread(target=serve, args=(s, a), daemon=True)
        t.start()
        threads.append(t)
    while True:
        time.sleep(1)


def request(port, src, target):
    s = connect_from(src, port)
    deadline = time.time() + 10
    if target.startswith("http://"):
        host = target.split("/")[2]
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (target, host)).encode())
        status, body = read_response(s, deadline)
    else:
        s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
        status, body = read_response(s, deadline)
        if status == "200":
            s.sendall(b"GET / HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n")
            status, body = read_response(s, deadline)
    s.close()
    if body is None:
        print(status)
    else:
        print("%s %s" % (status, body.decode("latin-1").replace("\n", "\\n")))


def busy(port, src, target, n, hold):
    socks, est, closed, other = [], 0, 0, 0
    for _ in range(int(n)):
        try:
            s = connect_from(src, port)
            s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
            socks.append(s)
        except OSError:
            closed += 1
    deadline = time.time() + 3
    for s in socks:
        status, _ = read_response(s, deadline)
        if status == "200":
            est += 1
        elif status == "CLOSED":
            closed += 1
        else:
            other += 1
    print("established %d closed %d other %d" % (est, closed, other), flush=True)
    time.sleep(min(float(hold), 60))
    for s in socks:
        s.close()


def idle(port, src, n):
    socks = []
    for _ in range(int(n)):
        socks.append(connect_from(src, port))
        time.sleep(0.01)
    time.sleep(3)
    openk, closed = 0, 0
    for s in socks:
        s.setblocking(False)
        try:
            data = s.recv(1)
            closed += 1 if not data else 0
            openk += 1 if data else 0
        except BlockingIOError:
            openk += 1
        except OSError:
            closed += 1
        s.close()
    print("open %d closed %d" % (openk, closed))


def lookups(port, src, name, n):
    socks = []
    for _ in range(int(n)):
        s = connect_from(src, port)
        s.sendall(("CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n" % (name, name)).encode())
        socks.append(s)
        time.sleep(0.1)
    time.sleep(1.5)  # answered at once, or waiting for DNS
    a503, pending, other = 0, 0, 0
    for s in socks:
        s.settimeout(0.3)
        status, body = read_response(s, time.time() + 0.3)
        if status == "503" and body and b"max_lookups_per_client" in body:
            a503 += 1
        elif status == "TIMEOUT":
            pending += 1
        else:
            other += 1
    for s in socks:
        s.close()
    print("answered503 %d pending %d other %d" % (a503, pending, other))


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    {"server": server, "request": request, "busy": busy, "idle": idle,
     "lookups": lookups}[mode](*args)
