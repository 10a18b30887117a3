#!/usr/bin/env python3
"""tests/e2e/proxy_fault_client.py — misbehaving proxy clients for
tests/e2e/proxy_load.sh. Each prints one result line and exits.

  idle PROXY_PORT N LIMIT_S
      N connections that send nothing; prints "closed K/N max=S" with S the
      seconds until the last one the proxy closed was closed (waits LIMIT_S)
  slowloris PROXY_PORT TARGET LIMIT_S [keepalive]
      a CONNECT TARGET request head, one byte a second; with "keepalive" first a
      complete GET / to the proxy itself on the same connection (then the slow
      head is the connection's second request). Prints "closed after S sent=B"
      or "open after S sent=B"
  flood PROXY_PORT N HOLD_S STATUS_FILE
      N connections at once (non-blocking), held open and silent for HOLD_S or
      until STATUS_FILE.stop exists. Writes "connected C" to STATUS_FILE once the
      connects have settled, and at the end prints
      "attempted N connected C closed_by_proxy K got_503 R still_open O"
Loopback only; bounded waits everywhere.
"""
import os
import resource
import selectors
import socket
import sys
import time


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, n))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def idle(port, n, limit):
    n, limit = int(n), float(limit)
    raise_nofile(n + 64)
    t0 = time.time()
    socks = [socket.create_connection(("127.0.0.1", int(port)), timeout=5) for _ in range(n)]
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    closed, last = 0, 0.0
    while closed < n and time.time() - t0 < limit:
        for key, _ in sel.select(timeout=0.2):
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                closed += 1
                last = time.time() - t0
    print("closed %d/%d max=%.1f" % (closed, n, last))


def slowloris(port, target, limit, keepalive=None):
    limit = float(limit)
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
    if keepalive:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\n" % port.encode())
        got = b""
        while b"\r\n\r\n" not in got:
            part = s.recv(65536)
            if not part:
                print("closed after 0.0 sent=0 (the first request got no answer)")
                return
            got += part
        head = got.split(b"\r\n\r\n")[0].decode("latin-1").lower()
        length = 0
        for line in head.split("\r\n"):
            if line.startswith("content-length:"):
                length = int(line.split(":")[1])
        body = got.split(b"\r\n\r\n", 1)[1]
        while len(body) < length:
            part = s.recv(65536)
            if not part:
                break
            body += part
    req = ("CONNECT %s HTTP/1.1\r\nHost: %s\r\nX-Slow: %s\r\n\r\n"
           % (target, target, "z" * 200)).encode()
    s.settimeout(1.0)
    t0 = time.time()
    sent = 0
    while time.time() - t0 < limit and sent < len(req):
        try:
            s.send(req[sent:sent + 1])
            sent += 1
        except OSError:
            print("closed after %.1f sent=%d" % (time.time() - t0, sent))
            return
        try:
            data = s.recv(4096)
            if not data:
                print("closed after %.1f sent=%d" % (time.time() - t0, sent))
                return
            # an error response (408 etc.) then close also counts as closed
        except socket.timeout:
            pass
        except OSError:
            print("closed after %.1f sent=%d" % (time.time() - t0, sent))
            return
    print("open after %.1f sent=%d" % (time.time() - t0, sent))


def flood(port, n, hold, status):
    n, hold = int(n), float(hold)
    raise_nofile(n + 256)
    sel = selectors.DefaultSelector()
    pending = {}
    attempted = connected = closed = got503 = failed = 0
    t0 = time.time()
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect_ex(("127.0.0.1", int(port)))
        except OSError:
            s.close()
            failed += 1
            continue
        attempted += 1
        pending[s] = "connecting"
        sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ)
    wrote_status = False
    stop = status + ".stop"
    while time.time() - t0 < hold and not os.path.exists(stop):
        if not wrote_status and (time.time() - t0 > 8 or
                                 all(v != "connecting" for v in pending.values())):
            with open(status + ".tmp", "w") as f:
                f.write("connected %d\n" % connected)
            os.rename(status + ".tmp", status)
            wrote_status = True
        for key, ev in sel.select(timeout=0.2):
            s = key.fileobj
            if pending.get(s) == "connecting":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    sel.unregister(s)
                    s.close()
                    del pending[s]
                    failed += 1
                    continue
                pending[s] = "open"
                connected += 1
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data.startswith(b"HTTP/1.1 503"):
                got503 += 1
            if not data or data.startswith(b"HTTP/"):
                sel.unregister(s)
                s.close()
                del pending[s]
                closed += 1
    # what the proxy closed that the loop above had not got to yet
    for s in list(pending):
        try:
            data = s.recv(4096, socket.MSG_DONTWAIT)
        except BlockingIOError:
            continue
        except OSError:
            data = b""
        if data.startswith(b"HTTP/1.1 503"):
            got503 += 1
        if not data or data.startswith(b"HTTP/"):
            s.close()
            del pending[s]
            closed += 1
    if not wrote_status:
        with open(status, "w") as f:
            f.write("connected %d\n" % connected)
    print("attempted %d connected %d closed_by_proxy %d got_503 %d still_open %d failed %d"
          % (attempted, connected, closed, got503, len(pending), failed))


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "idle":
        idle(*args[:3])
    elif mode == "slowloris":
        slowloris(*args[:4])
    elif mode == "flood":
        flood(*args[:4])
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
