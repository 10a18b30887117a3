#!/usr/bin/env python3
"""tests/world/dnsrelay.py — a tampering DNS relay for the test world.

    dnsrelay.py LISTEN_ADDR LISTEN_PORT UP_ADDR UP_PORT RULES_FILE LOG_FILE

Listens on UDP and TCP, forwards every query to UP_ADDR#UP_PORT (the world's
NSD) and applies the first rule of RULES_FILE that matches the query. The rules
file is JSON, a list of objects, and is read again whenever it changes, so a
test can change the relay's lies while it runs:

    {"qname": "www.secure.world.test.",   exact (case-insensitive), or
              "*.secure.world.test.",     that name and everything below it, or
              "*"                         every name (the default)
     "qtype": "A" | "TLSA" | ... | "*"    (default "*")
     "proto": "udp" | "tcp" | "*"         (default "*")
     "times": N                           apply to the first N matching queries
                                          only, then fall through (default: always)
     "action": one of
        pass          forward unchanged
        servfail | refused | formerr | nxdomain | notimp
                      answer with that rcode, no records, without asking upstream
        garbage       random bytes (the query ID kept every other time)
        short         the upstream answer cut to "bytes" bytes (default 20)
        drop          never answer (the client times out)
        delay         forward, answer "ms" milliseconds later
        tc            an empty answer with TC set (UDP only; TCP passes)
        strip         remove every record of type "type" (e.g. "RRSIG", "DS")
                      from every section of the upstream answer
        corrupt_rrsig flip a byte in the signature of every RRSIG in the answer
                      section (a bogus answer); "section": "all" does it in
                      every section (a bogus denial: NSEC signatures too)
        append        ask upstream for "from_qname"/"from_qtype" (DO set) and add
                      its answer section (RRSIGs included) to the "section"
                      ("answer", "authority" or "additional", default "answer")
                      of the real answer; with "replace": true the section's own
                      records are removed first (a stripped answer with signed
                      data from elsewhere in its place)
        set_ttl       every record's TTL set to "ttl"
        set_rcode     the upstream answer, records kept, with its rcode set to
                      "rcode" ("servfail", "refused", "formerr", "nxdomain", ...)
        rcode         the upstream answer with its rcode set to "rcode" (a number;
                      above 15 the upper bits go in the OPT, e.g. 23 BADCOOKIE)
     "ms", "bytes", "type", "from_qname", "from_qtype", "section", "ttl",
     "rcode": as above
    }

Every query is logged to LOG_FILE as one line "proto qname qtype action", so a
test can count what reached the upstream ("pass"/"delay"/... forward; the rcode
actions do not). Loopback only; every socket has a timeout.
"""
import json
import os
import random
import socket
import socketserver
import struct
import sys
import threading
import time

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

LISTEN, LPORT, UP, UPORT, RULES, LOG = sys.argv[1:7]
LPORT, UPORT = int(LPORT), int(UPORT)
lock = threading.Lock()
rules_cache = {"mtime": None, "rules": []}
used = {}  # rule index -> times applied


def rules():
    try:
        st = os.stat(RULES)
    except OSError:
        return []
    with lock:
        if rules_cache["mtime"] != (st.st_mtime_ns, st.st_size):
            try:
                with open(RULES) as f:
                    rules_cache["rules"] = json.load(f)
                rules_cache["mtime"] = (st.st_mtime_ns, st.st_size)
                used.clear()
            except (OSError, ValueError):
                pass
        return rules_cache["rules"]


def name_matches(pattern, qname):
    pattern = pattern.lower()
    if pattern == "*":
        return True
    if not pattern.endswith("."):
        pattern += "."
    if pattern.startswith("*."):
        base = pattern[2:]
        return qname == base or qname.endswith("." + base)
    return qname == pattern


def pick_rule(qname, qtype, proto):
    for i, r in enumerate(rules()):
        if not name_matches(r.get("qname", "*"), qname):
            continue
        if r.get("qtype", "*") not in ("*", qtype):
            continue
        if r.get("proto", "*") not in ("*", proto):
            continue
        with lock:
            n = used.get(i, 0)
            if "times" in r and n >= r["times"]:
                continue
            used[i] = n + 1
        return r
    return {"action": "pass"}


def log(proto, qname, qtype, action):
    with lock:
        with open(LOG, "a") as f:
            f.write(f"{proto} {qname} {qtype} {action}\n")


def ask_upstream(wire):
    """The upstream's answer to WIRE over TCP (no truncation), or None."""
    fam = socket.AF_INET6 if ":" in UP else socket.AF_INET
    try:
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.settimeout(3)
            s.connect((UP, UPORT))
            s.sendall(struct.pack("!H", len(wire)) + wire)
            buf = b""
            while len(buf) < 2:
                chunk = s.recv(2 - len(buf))
                if not chunk:
                    return None
                buf += chunk
            want = struct.unpack("!H", buf)[0]
            body = b""
            while len(body) < want:
                chunk = s.recv(want - len(body))
                if not chunk:
                    return None
                body += chunk
            return body
    except OSError:
        return None


def empty_reply(query, rcode):
    r = dns.message.make_response(query)
    r.set_rcode(rcode)
    return r.to_wire()


def tamper(query, wire, rule, proto):
    """The bytes to send back for QUERY (parsed) / WIRE, or None for no answer."""
    action = rule.get("action", "pass")
    rcodes = {"servfail": dns.rcode.SERVFAIL, "refused": dns.rcode.REFUSED,
              "formerr": dns.rcode.FORMERR, "nxdomain": dns.rcode.NXDOMAIN,
              "notimp": dns.rcode.NOTIMP}
    if action in rcodes:
        return empty_reply(query, rcodes[action])
    if action == "drop":
        return None
    if action == "garbage":
        body = os.urandom(12 + random.randrange(290))
        return wire[:2] + body[2:] if random.randrange(2) else body
    if action == "tc" and proto == "udp":
        r = dns.message.make_response(query)
        r.flags |= dns.flags.TC
        return r.to_wire()
    if action == "delay":
        time.sleep(rule.get("ms", 1000) / 1000.0)
    answer = ask_upstream(wire)
    if answer is None:
        return None
    if action == "short":
        return answer[: rule.get("bytes", 20)]
    if action in ("pass", "delay", "tc"):
        return answer
    msg = dns.message.from_wire(answer)
    if action == "strip":
        t = dns.rdatatype.from_text(rule["type"])
        for sec in (msg.answer, msg.authority, msg.additional):
            sec[:] = [rr for rr in sec if rr.rdtype != t]
    elif action == "corrupt_rrsig":
        every = rule.get("section") == "all"
        for rrset in msg.answer + (msg.authority + msg.additional if every else []):
            if rrset.rdtype == dns.rdatatype.RRSIG:
                new = []
                for rd in rrset:
                    sig = bytearray(rd.signature)
                    sig[len(sig) // 2] ^= 0x5A
                    new.append(rd.replace(signature=bytes(sig)))
                rrset.clear()
                for rd in new:
                    rrset.add(rd)
    elif action == "append":
        extra_q = dns.message.make_query(rule["from_qname"], rule.get("from_qtype", "A"),
                                         want_dnssec=True)
        extra_wire = ask_upstream(extra_q.to_wire())
        if extra_wire is not None:
            extra = dns.message.from_wire(extra_wire)
            section = {"answer": msg.answer, "authority": msg.authority,
                       "additional": msg.additional}[rule.get("section", "answer")]
            if rule.get("replace"):
                section.clear()
            section.extend(extra.answer)
    elif action == "set_rcode":
        msg.set_rcode(dns.rcode.from_text(rule["rcode"].upper()))
    elif action == "set_ttl":
        for sec in (msg.answer, msg.authority, msg.additional):
            for rrset in sec:
                rrset.ttl = rule["ttl"]
    elif action == "rcode":
        if rule["rcode"] > 15 and msg.edns < 0:
            msg.use_edns(0)
        msg.set_rcode(rule["rcode"])
    return msg.to_wire()


def handle(wire, proto):
    try:
        query = dns.message.from_wire(wire)
        q = query.question[0]
        qname = q.name.to_text().lower()
        qtype = dns.rdatatype.to_text(q.rdtype)
    except Exception:
        return ask_upstream(wire)
    rule = pick_rule(qname, qtype, proto)
    log(proto, qname, qtype, rule.get("action", "pass"))
    try:
        return tamper(query, wire, rule, proto)
    except Exception as e:  # a broken rule must not kill the relay
        print(f"relay: {qname} {qtype}: {e}", file=sys.stderr, flush=True)
        return None


class UDPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        reply = handle(data, "udp")
        if reply is not None:
            sock.sendto(reply, self.client_address)


class TCPHandler(socketserver.StreamRequestHandler):
    timeout = 10

    def handle(self):
        try:
            while True:
                ln = self.rfile.read(2)
                if len(ln) < 2:
                    return
                data = self.rfile.read(struct.unpack("!H", ln)[0])
                reply = handle(data, "tcp")
                if reply is None:
                    return
                self.wfile.write(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return


class UDPServer(socketserver.ThreadingMixIn, socketserver.UDPServer):
    daemon_threads = True
    allow_reuse_address = True


class TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    if not (LISTEN.startswith("127.") or LISTEN == "::1"):
        sys.exit("dnsrelay: loopback addresses only")
    fam = socket.AF_INET6 if ":" in LISTEN else socket.AF_INET
    UDPServer.address_family = fam
    TCPServer.address_family = fam
    udp = UDPServer((LISTEN, LPORT), UDPHandler)
    tcp = TCPServer((LISTEN, LPORT), TCPHandler)
    threading.Thread(target=udp.serve_forever, daemon=True).start()
    print(f"relay: {LISTEN}#{LPORT} -> {UP}#{UPORT}", flush=True)
    tcp.serve_forever()


if __name__ == "__main__":
    main()
