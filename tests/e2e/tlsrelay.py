#!/usr/bin/env python3
"""tests/e2e/tlsrelay.py — a TCP relay in front of a DNS-over-TLS server that
looks at the TLS records without decrypting them.

    tlsrelay.py LISTEN_ADDR LISTEN_PORT UP_ADDR UP_PORT LOG CTL [plain|tls [DELAY_MS]]

LOG gets one line per event, flushed at once:
    conn N                      connection N accepted
    rec N c2s TYPE LENGTH       a TLS record from the client (type 23 is data)
    reset N                     connection N reset on purpose
When the file CTL exists as a client's application-data record arrives, the
relay deletes CTL and resets that connection (both sides, RST) without
passing the record on: a DoT server that dies with a query in flight.
With "plain" the bytes pass as they are (DNS over TCP: connections counted).
DELAY_MS holds every chunk that long each way (a delay line, not a queue:
chunks keep their spacing), so a round trip costs 2 * DELAY_MS more.
Loopback only; it runs until killed (tests stop it by PID).
"""
import os
import socket
import struct
import sys
import threading
import time
import queue

lock = threading.Lock()
conn_count = 0


def log(f, line):
    with lock:
        f.write(line + "\n")
        f.flush()


def rst(s):
    s = getattr(s, "sock", s)  # a Delayed wrapper: its socket
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    except OSError:
        pass


class Delayed:
    """sendall() after a fixed delay, from a thread of its own, in order."""

    def __init__(self, sock, delay):
        self.sock, self.delay, self.q = sock, delay, queue.Queue()
        threading.Thread(target=self.run, daemon=True).start()

    def sendall(self, data):
        self.q.put((time.monotonic() + self.delay, data))

    def shutdown(self, how):
        self.q.put((time.monotonic() + self.delay, None))

    def run(self):
        while True:
            due, data = self.q.get()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                if data is None:
                    self.sock.shutdown(socket.SHUT_WR)
                    return
                self.sock.sendall(data)
            except OSError:
                return


def pump_up(n, cli, up, f, ctl, plain):
    buf = b""
    try:
        while True:
            data = cli.recv(65536)
            if not data:
                up.shutdown(socket.SHUT_WR)
                return
            if plain:
                up.sendall(data)
                continue
            buf += data
            out = b""
            while len(buf) >= 5:
                rtype = buf[0]
                rlen = buf[3] << 8 | buf[4]
                if len(buf) < 5 + rlen:
                    break
                rec, buf = buf[:5 + rlen], buf[5 + rlen:]
                log(f, "rec %d c2s %d %d" % (n, rtype, rlen))
                if rtype == 23 and os.path.exists(ctl):
                    try:
                        os.unlink(ctl)
                    except OSError:
                        pass
                    if out:
                        up.sendall(out)
                    log(f, "reset %d" % n)
                    rst(cli)
                    rst(up)
                    return
                out += rec
            if out:
                up.sendall(out)
    except OSError:
        rst(up)


def pump_down(cli, up):
    try:
        while True:
            data = up.recv(65536)
            if not data:
                cli.shutdown(socket.SHUT_WR)
                return
            cli.sendall(data)
    except OSError:
        rst(cli)


def main():
    laddr, lport, uaddr, uport, logpath, ctl = sys.argv[1:7]
    plain = len(sys.argv) > 7 and sys.argv[7] == "plain"
    delay = float(sys.argv[8]) / 1000 if len(sys.argv) > 8 else 0
    f = open(logpath, "a")
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((laddr, int(lport)))
    ls.listen(64)
    global conn_count
    while True:
        cli, _ = ls.accept()
        conn_count += 1
        n = conn_count
        log(f, "conn %d" % n)
        try:
            up = socket.create_connection((uaddr, int(uport)), timeout=5)
            up.settimeout(None)
        except OSError:
            rst(cli)
            continue
        up_out = Delayed(up, delay) if delay else up
        cli_out = Delayed(cli, delay) if delay else cli
        threading.Thread(target=pump_up, args=(n, cli, up_out, f, ctl, plain), daemon=True).start()
        threading.Thread(target=pump_down, args=(cli_out, up), daemon=True).start()


if __name__ == "__main__":
    main()
