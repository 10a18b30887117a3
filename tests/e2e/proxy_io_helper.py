#!/usr/bin/env python3
"""tests/e2e/proxy_io_helper.py — origins and clients for tests/e2e/proxy_io.sh.

  echo ADDR PORT                 a TCP echo server (what a tunnel carries)
  raw-origin ADDR PORT           an HTTP/1.1 origin written by hand, keep-alive:
                                   HEAD /head-only    200, Content-Length: 100, no body
                                   HEAD /head-append  the same, then 100 bytes that read as
                                                      another response ("EVIL")
                                   GET /b             "bravo from the origin\\n"
                                   GET /204           204, no body
                                   GET /interim       100 Continue, then 200 "final\\n"
                                   GET /split         a 200 whose head comes in two writes
  tunnel PROXY_PORT HOST PORT SYNC_DIR MODE
                                 CONNECT, a short echo round trip, touch SYNC_DIR/ready,
                                 wait for SYNC_DIR/go; then MODE:
                                   data    send 2 MiB of random bytes, read them back:
                                           "OK <sha256>" or "ERR why"
                                   closed  wait up to 5 s for the proxy to close the
                                           tunnel: "CLOSED" or "OPEN"
  pipeline-head PROXY_PORT ORIGIN   "HEAD ORIGIN/head-append" and "GET ORIGIN/b" in one
                                 write; prints the second response's body, or "ERR why"
  refused-body PROXY_PORT HOSTFMT PORT N   (HOSTFMT: a name with {} for the number)
                                 N times: POST http://HOSTFMT:PORT/ with a 64 MiB
                                 Content-Length, the body streamed while daneguard refuses;
                                 prints the status codes seen ("502 502 ...")
Loopback only; every socket has a timeout.
"""
import hashlib
import os
import socket
import socketserver
import sys
import threading
import time


def log(*a):
    sys.stderr.write(" ".join(str(x) for x in a) + "\n")


# --- servers -------------------------------------------------------------------------

class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(60)
        try:
            while True:
                d = self.request.recv(65536)
                if not d:
                    break
                self.request.sendall(d)
        except OSError:
            pass


FAKE_BODY = b"EVIL: bytes the origin appended after a HEAD response\n"
FAKE = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(FAKE_BODY) + FAKE_BODY
FAKE = FAKE + b"x" * (100 - len(FAKE)) if len(FAKE) < 100 else FAKE[:100]


class RawOrigin(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        s.settimeout(30)
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = s.recv(65536)
                    if not d:
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                line = head.split(b"\r\n", 1)[0].decode("latin-1")
                log("origin:", line)
                method, path = line.split(" ")[:2]
                if method == "HEAD" and path.endswith("/head-append"):
                    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                              b"Content-Length: 100\r\n\r\n" + FAKE)
                elif method == "HEAD":
                    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                              b"Content-Length: 100\r\n\r\n")
                elif path.endswith("/b"):
                    body = b"bravo from the origin\n"
                    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                elif path.endswith("/204"):
                    s.sendall(b"HTTP/1.1 204 No Content\r\nX-Test: yes\r\n\r\n")
                elif path.endswith("/interim"):
                    s.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                    time.sleep(0.2)
                    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nfinal\n")
                elif path.endswith("/split"):
                    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Ty")
                    time.sleep(0.3)
                    s.sendall(b"pe: text/plain\r\nContent-Length: 6\r\n\r\nsplit\n")
                else:
                    s.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        except OSError:
            pass


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(handler, addr, port):
    srv = Server((addr, int(port)), handler)
    srv.serve_forever()


# --- clients -------------------------------------------------------------------------

def connect_tunnel(proxy_port, host, port):
    s = socket.create_connection(("127.0.0.1", int(proxy_port)), timeout=10)
    s.sendall(("CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\n\r\n" % (host, port, host, port)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        if not d:
            raise OSError("closed before the CONNECT answer")
        head += d
    if b" 200 " not in head.split(b"\r\n")[0]:
        raise OSError("CONNECT answered %r" % head.split(b"\r\n")[0])
    return s


def wait_file(path, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


def tunnel(proxy_port, host, port, sync, mode):
    try:
        s = connect_tunnel(proxy_port, host, port)
        s.sendall(b"ping" * 64)
        got = b""
        while len(got) < 256:
            d = s.recv(4096)
            if not d:
                raise OSError("tunnel closed in the first round trip")
            got += d
    except OSError as e:
        print("ERR %s" % e)
        return
    open(os.path.join(sync, "ready"), "w").close()
    if not wait_file(os.path.join(sync, "go"), 30):
        print("ERR no go")
        return
    if mode == "closed":
        s.settimeout(5)
        try:
            d = s.recv(4096)
            print("CLOSED" if not d else "OPEN (got %d bytes)" % len(d))
        except socket.timeout:
            print("OPEN")
        except OSError:
            print("CLOSED")
        return
    data = os.urandom(2 << 20)
    want = hashlib.sha256(data).hexdigest()
    result = {}

    def reader():
        h, n = hashlib.sha256(), 0
        try:
            while n < len(data):
                d = s.recv(1 << 20)
                if not d:
                    break
                h.update(d)
                n += len(d)
        except OSError as e:
            result["err"] = str(e)
        result["n"], result["sha"] = n, h.hexdigest()

    t = threading.Thread(target=reader)
    t.start()
    try:
        s.settimeout(30)
        s.sendall(data)
    except OSError as e:
        result["werr"] = str(e)
    t.join(40)
    if result.get("sha") == want:
        print("OK %s" % want)
    else:
        print("ERR got %s bytes, sha %s, want %s (%s %s)" % (
            result.get("n"), result.get("sha"), want, result.get("err", ""), result.get("werr", "")))


def read_response(s, buf, head_only):
    """One response from s (buf: bytes already read). Returns (status, body, rest)."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise OSError("closed inside a head: %r" % buf[:200])
        buf += d
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    if head_only or status in (204, 304) or 100 <= status < 200:
        length = 0
    while len(buf) < length:
        d = s.recv(65536)
        if not d:
            raise OSError("closed inside a body")
        buf += d
    return status, buf[:length], buf[length:]


def pipeline_head(proxy_port, origin):
    host = origin.split("//")[1]
    s = socket.create_connection(("127.0.0.1", int(proxy_port)), timeout=8)
    s.sendall(("HEAD %s/head-append HTTP/1.1\r\nHost: %s\r\n\r\n"
               "GET %s/b HTTP/1.1\r\nHost: %s\r\n\r\n" % (origin, host, origin, host)).encode())
    try:
        st1, _, rest = read_response(s, b"", True)
        st2, body, _ = read_response(s, rest, False)
        print("%d %d %s" % (st1, st2, body.decode("latin-1").strip()))
    except (OSError, ValueError, IndexError) as e:
        print("ERR %s" % e)


def refused_body(proxy_port, hostfmt, port, n):
    codes = []
    for i in range(int(n)):
        host = hostfmt.replace("{}", str(i))
        s = socket.create_connection(("127.0.0.1", int(proxy_port)), timeout=5)
        s.sendall(("POST http://%s:%s/upload HTTP/1.1\r\nHost: %s:%s\r\n"
                   "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
                   % (host, port, host, port, 64 << 20)).encode())
        s.setblocking(False)
        chunk = os.urandom(1400)
        got, end = b"", time.time() + 5
        while time.time() < end and b"\r\n" not in got:
            try:
                s.send(chunk)
            except BlockingIOError:
                pass
            except OSError:
                break
            try:
                d = s.recv(65536)
                if not d:
                    break
                got += d
            except BlockingIOError:
                pass
            except OSError:
                break
            time.sleep(0.0005)
        s.setblocking(True)
        s.settimeout(2)
        try:
            while b"\r\n" not in got:
                d = s.recv(65536)
                if not d:
                    break
                got += d
        except OSError:
            pass
        s.close()
        codes.append(got.split(b" ")[1].decode() if got.startswith(b"HTTP/1.") else "none")
    print(" ".join(codes))


def main():
    cmd = sys.argv[1]
    a = sys.argv[2:]
    if cmd == "echo":
        serve(Echo, a[0], a[1])
    elif cmd == "raw-origin":
        serve(RawOrigin, a[0], a[1])
    elif cmd == "tunnel":
        tunnel(*a)
    elif cmd == "pipeline-head":
        pipeline_head(*a)
    elif cmd == "refused-body":
        refused_body(*a)
    else:
        sys.exit("unknown command %s" % cmd)


if __name__ == "__main__":
    main()
