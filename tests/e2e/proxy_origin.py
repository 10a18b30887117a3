#!/usr/bin/env python3
"""tests/e2e/proxy_origin.py — small origins and one client for the proxy's e2e tests.

  http ADDR PORT                      plain HTTP/1.1 origin (keep-alive):
                                        GET /a, /b  short bodies; GET /chunked  a chunked body;
                                        POST /echo  answers the request body's SHA-256
  tls ADDR PORT CERT KEY [CHAIN]      TLS origin (http/1.1):
                                        GET /slow  a chunked body, one chunk every 0.5 s for 5 s;
                                        GET with "Upgrade: websocket"  101, then echoes each
                                        line back, upper-cased, until EOF
  upgrade-client PROXY_PORT HOST PORT CAFILE
                                      CONNECT through the proxy, TLS trusting CAFILE, the
                                      upgrade, then 5 lines a second apart, each echoed;
                                      prints "OK <seconds>" or "ERR <why>"
Loopback only. Every socket has a timeout.
"""
import hashlib
import http.server
import socket
import socketserver
import ssl
import sys
import threading
import time


class PlainHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        sys.stderr.write("%s\n" % (self.requestline,))

    def _send(self, code, body, ctype="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        if self.path.endswith("/a"):
            self._send(200, b"alpha from the origin\n")
        elif self.path.endswith("/b"):
            self._send(200, b"bravo from the origin\n")
        elif self.path.endswith("/chunked"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(5):
                part = ("chunk %d\n" % i).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._send(404, b"not here\n")

    def do_POST(self):
        h = hashlib.sha256()
        n = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    break
                data = self.rfile.read(size)
                h.update(data)
                n += len(data)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                data = self.rfile.read(min(left, 65536))
                if not data:
                    break
                h.update(data)
                n += len(data)
                left -= len(data)
        self._send(200, ("%d %s\n" % (n, h.hexdigest())).encode())


class Threaded(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve_http(addr, port):
    Threaded((addr, int(port)), PlainHandler).serve_forever()


def read_head(f):
    lines = []
    while True:
        line = f.readline(65536)
        if not line or line in (b"\r\n", b"\n"):
            return lines
        lines.append(line.decode("latin-1").rstrip("\r\n"))


def tls_conn(conn):
    conn.settimeout(60)
    try:
        f = conn.makefile("rwb", buffering=0)
        head = read_head(f)
        if not head:
            return
        hdrs = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip()
                for l in head[1:] if ":" in l}
        path = head[0].split(" ")[1]
        if hdrs.get("upgrade", "").lower() == "websocket":
            f.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\n\r\n")
            while True:
                line = f.readline(65536)
                if not line:
                    break
                f.write(line.upper())
        elif path == "/slow":
            f.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            for i in range(10):
                part = ("tick %d\n" % i).encode()
                f.write(b"%x\r\n%s\r\n" % (len(part), part))
                time.sleep(0.5)
            f.write(b"0\r\n\r\n")
        else:
            body = b"tls origin\n"
            f.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                    % (len(body), body))
    except (OSError, ValueError, IndexError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def serve_tls(addr, port, cert, key, chain=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if chain:
        # the leaf then the intermediate, in one file
        import tempfile
        with open(cert) as a, open(chain) as b:
            both = a.read() + b.read()
        t = tempfile.NamedTemporaryFile("w", delete=False, suffix=".pem")
        t.write(both)
        t.close()
        cert = t.name
    ctx.load_cert_chain(cert, key)
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(64)
    while True:
        c, _ = s.accept()
        try:
            c.settimeout(10)
            tc = ctx.wrap_socket(c, server_side=True)
        except (OSError, ssl.SSLError):
            c.close()
            continue
        threading.Thread(target=tls_conn, args=(tc,), daemon=True).start()


def upgrade_client(proxy_port, host, port, cafile):
    t0 = time.time()
    s = socket.create_connection(("127.0.0.1", int(proxy_port)), timeout=15)
    s.sendall(("CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\n\r\n" % (host, port, host, port)).encode())
    f = s.makefile("rb", buffering=0)
    head = read_head(f)
    if not head or " 200" not in head[0]:
        return "ERR CONNECT answered %r" % (head[:1],)
    ctx = ssl.create_default_context(cafile=cafile)
    ts = ctx.wrap_socket(s, server_hostname=host)
    tf = ts.makefile("rwb", buffering=0)
    tf.write(("GET /chat HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
              % host).encode())
    head = read_head(tf)
    if not head or " 101" not in head[0]:
        return "ERR upgrade answered %r" % (head[:1],)
    for i in range(5):
        msg = ("message %d after %.1f s\n" % (i, time.time() - t0)).encode()
        tf.write(msg)
        back = tf.readline(65536)
        if back != msg.upper():
            return "ERR message %d came back as %r" % (i, back)
        time.sleep(1)
    ts.close()
    return "OK %.1f" % (time.time() - t0)


def main():
    mode = sys.argv[1]
    if mode == "http":
        serve_http(*sys.argv[2:4])
    elif mode == "tls":
        serve_tls(*sys.argv[2:7])
    elif mode == "upgrade-client":
        try:
            print(upgrade_client(*sys.argv[2:6]))
        except (OSError, ssl.SSLError) as e:
            print("ERR %s" % e)
    else:
        sys.exit("unknown mode")


if __name__ == "__main__":
    main()
