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
        question      the upstream's answer to another question, "from_qname"/
                      "from_qtype" (DO set), under the query's ID (a reply
                      that does not match the query)
        resign        the upstream answer with the RRSIGs of its answer section
                      replaced by new ones over each RRset, made with the
                      ECDSA P-256 key "key" (the path of an ldns-keygen key,
                      without .key/.private) under the signer name "signer"
                      (default: the key's zone); "inception"/"expiration" in
                      epoch seconds (default: an hour ago / a day ahead);
                      "labels" overrides the RRSIG labels field and "covered"
                      its type covered (after signing: a signature over
                      another type, or a claimed wildcard expansion)
     "ms", "bytes", "type", "from_qname", "from_qtype", "section", "ttl",
     "rcode", "key", "signer", "inception", "expiration", "labels",
     "covered": as above
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
    if action == "question":
        other = dns.message.make_query(rule["from_qname"], rule.get("from_qtype", "A"),
                                       want_dnssec=True)
        reply = ask_upstream(other.to_wire())
        return None if reply is None else wire[:2] + reply[2:]
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
    elif action == "resign":
        resign(msg, rule)
    return msg.to_wire()


def load_key(base):
    """The DNSKEY (owner, rdata) and the private key of an ldns-keygen key."""
    import base64
    import dns.rdata
    import dns.rdataclass
    from cryptography.hazmat.primitives.asymmetric import ec
    with open(base + ".key") as f:
        fields = [ln.split(";")[0].split() for ln in f if "DNSKEY" in ln.split(";")[0]][0]
    i = fields.index("DNSKEY")
    owner = dns.name.from_text(fields[0])
    dnskey = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DNSKEY, " ".join(fields[i + 1:]))
    priv = None
    with open(base + ".private") as f:
        for ln in f:
            if ln.startswith("PrivateKey:"):
                d = int.from_bytes(base64.b64decode(ln.split(":", 1)[1].strip()), "big")
                priv = ec.derive_private_key(d, ec.SECP256R1())
    return owner, dnskey, priv


def resign(msg, rule):
    import dns.dnssec
    import dns.rrset
    owner, dnskey, priv = load_key(rule["key"])
    signer = dns.name.from_text(rule["signer"]) if "signer" in rule else owner
    now = int(time.time())
    inception = rule.get("inception", now - 3600)
    expiration = rule.get("expiration", now + 86400)
    data = [r for r in msg.answer if r.rdtype != dns.rdatatype.RRSIG]
    msg.answer[:] = list(data)
    for rrset in data:
        sig = dns.dnssec.sign(rrset, priv, signer, dnskey, inception=inception,
                              expiration=expiration)
        if "labels" in rule:
            sig = sig.replace(labels=rule["labels"])
        if "covered" in rule:
            sig = sig.replace(type_covered=dns.rdatatype.from_text(rule["covered"]))
        rs = dns.rrset.RRset(rrset.name, rrset.rdclass, dns.rdatatype.RRSIG, sig.type_covered)
        rs.update_ttl(rrset.ttl)
        rs.add(sig)
        msg.answer.append(rs)


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
    """Pipelined queries are answered concurrently, each as soon as it is ready
    (out of order, RFC 7766 §6.2.1.1), as a recursive resolver does: a delayed
    answer does not hold up the ones behind it."""
    timeout = 10

    def handle(self):
        wlock = threading.Lock()
        workers = []

        def work(data):
            reply = handle(data, "tcp")
            with wlock:
                try:
                    if reply is None:  # drop: no answer, and the connection ends
                        self.connection.shutdown(socket.SHUT_RDWR)
                    else:
                        self.wfile.write(struct.pack("!H", len(reply)) + reply)
                except OSError:
                    pass

        try:
            while True:
                ln = self.rfile.read(2)
                if len(ln) < 2:
                    break
                data = self.rfile.read(struct.unpack("!H", ln)[0])
                t = threading.Thread(target=work, args=(data,), daemon=True)
                t.start()
                workers.append(t)
        except OSError:
            pass
        for t in workers:
            t.join(15)


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
