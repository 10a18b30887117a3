#!/usr/bin/env python3
"""tests/fuzz/make_seeds.py — write the seed corpora of the fuzz harnesses.

    python3 tests/fuzz/make_seeds.py            # rewrites tests/fuzz/corpus/*/

DNS and HTTP seeds are built here byte by byte; the DANE seeds take a small EC
chain made with the openssl CLI (so they change on every run: commit the result,
rerun only to refresh); the config seeds are small YAML files plus the sample
configuration. Input layouts are described at the top of each fuzz_*.c.
"""
import hashlib
import os
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- DNS --------------------------------------------------------------------

T = dict(A=1, NS=2, CNAME=5, SOA=6, PTR=12, MX=15, TXT=16, AAAA=28, SRV=33, DNAME=39,
         OPT=41, DS=43, RRSIG=46, NSEC=47, DNSKEY=48, NSEC3=50, TLSA=52, ANY=255)


class Msg:
    """A DNS message with RFC 1035 compression of owner and rdata names."""

    def __init__(self, ident, flags, compress=True):
        self.ident, self.flags, self.compress = ident, flags, compress
        self.body = bytearray()
        self.counts = [0, 0, 0, 0]
        self.names = {}

    def name(self, text, compress=None):
        compress = self.compress if compress is None else compress
        labels = [l for l in text.strip(".").split(".") if l]
        out = bytearray()
        for i in range(len(labels)):
            suffix = ".".join(labels[i:]).lower()
            if compress and suffix in self.names:
                out += struct.pack(">H", 0xC000 | self.names[suffix])
                return bytes(out)
            pos = 12 + len(self.body) + len(out)
            if pos < 0x4000:
                self.names.setdefault(suffix, pos)
            out += bytes([len(labels[i])]) + labels[i].encode()
        return bytes(out + b"\0")

    def question(self, name, qtype, qclass=1):
        self.body += self.name(name, compress=False)
        self.body += struct.pack(">HH", qtype, qclass)
        self.counts[0] += 1

    def rr(self, section, owner, rtype, ttl, rdata_parts, rclass=1):
        self.body += self.name(owner)
        self.body += struct.pack(">HHI", rtype, rclass, ttl)
        at = len(self.body)
        self.body += b"\0\0"
        for p in rdata_parts:
            # a str is a name (compressible here), bytes are copied
            self.body += self.name(p) if isinstance(p, str) else p
        struct.pack_into(">H", self.body, at, len(self.body) - at - 2)
        self.counts[section] += 1

    def opt(self, size=1232, do=True, options=b"", ext_rcode=0, version=0):
        self.body += b"\0" + struct.pack(">HHBBH", T["OPT"], size, ext_rcode, version,
                                         0x8000 if do else 0)
        self.body += struct.pack(">H", len(options)) + options
        self.counts[3] += 1

    def wire(self):
        return struct.pack(">HHHHHH", self.ident, self.flags, *self.counts) + bytes(self.body)


def query(name, qtype, edns=True, do=True, flags=0x0100, ident=0x1234):
    m = Msg(ident, flags)
    m.question(name, qtype)
    if edns:
        m.opt(do=do)
    return m.wire()


def rrsig(covered, signer, expiration, inception):
    return [struct.pack(">HBBIIIH", covered, 13, 2, 3600, expiration, inception, 12345), signer,
            b"\x01" * 64]


def dns_seeds():
    now = 1700000000  # FUZZ_NOW in fuzz_wire.c
    # control byte: bits 0-1 security, 2 DO, 3 EDNS, 4 CD, 5 AD, 6 RD
    secure_do = bytes([0x0C | 0x40])  # DNS_SECURE, DO, EDNS, RD
    plain = bytes([0x01 | 0x40])      # DNS_INSECURE, no EDNS
    bogus = bytes([0x02 | 0x0C])
    bogus_cd = bytes([0x02 | 0x0C | 0x10])

    qs = {
        "q_a": query("www.example.com", T["A"]),
        "q_a_noedns": query("www.example.com", T["A"], edns=False),
        "q_tlsa": query("_443._tcp.www.example.com", T["TLSA"]),
        "q_aaaa_nodo": query("Example.ORG", T["AAAA"], do=False),
        "q_root_ns": query(".", T["NS"]),
        "q_ede_cookie": None,
    }
    m = Msg(7, 0x0100)
    m.question("example.com", T["A"])
    m.opt(options=struct.pack(">HH", 10, 8) + b"\x11" * 8)  # a client cookie
    qs["q_ede_cookie"] = m.wire()
    m = Msg(8, 0x0100)
    m.question("example.com", T["A"])
    m.opt(version=1)
    qs["q_badvers"] = m.wire()
    m = Msg(9, 0x2800)  # opcode UPDATE
    m.question("example.com", T["SOA"])
    qs["q_update"] = m.wire()
    for name, wire in qs.items():
        write("wire", name, plain + wire)

    # upstream answers
    m = Msg(1, 0x8180)
    m.question("www.example.com", T["A"])
    m.rr(1, "www.example.com", T["A"], 300, [bytes([192, 0, 2, 1])])
    m.rr(1, "www.example.com", T["A"], 300, [bytes([192, 0, 2, 2])])
    m.rr(1, "www.example.com", T["RRSIG"], 300, rrsig(T["A"], "example.com", now + 86400, now - 86400))
    m.rr(2, "example.com", T["NS"], 3600, ["ns1.example.com"])
    m.rr(3, "ns1.example.com", T["A"], 3600, [bytes([192, 0, 2, 53])])
    m.opt()
    up_a = m.wire()
    write("wire", "a_secure", secure_do + up_a)
    write("wire", "a_plain", plain + up_a)
    write("wire", "a_bogus", bogus + up_a)
    write("wire", "a_bogus_cd", bogus_cd + up_a)

    m = Msg(2, 0x8180)
    m.question("www.example.net", T["AAAA"])
    m.rr(1, "www.example.net", T["CNAME"], 60, ["edge.cdn.example.org"])
    m.rr(1, "edge.cdn.example.org", T["CNAME"], 60, ["a.cdn.example.org"])
    m.rr(1, "a.cdn.example.org", T["AAAA"], 60, [bytes(15) + b"\x01"])
    write("wire", "cname_chain", secure_do + m.wire())

    m = Msg(3, 0x8183)  # NXDOMAIN
    m.question("nope.example.com", T["A"])
    m.rr(2, "example.com", T["SOA"], 3600,
         ["ns1.example.com", "hostmaster.example.com", struct.pack(">IIIII", 1, 7200, 900, 1209600, 300)])
    m.rr(2, "example.com", T["RRSIG"], 3600, rrsig(T["SOA"], "example.com", now + 100, now - 100))
    m.rr(2, "a.example.com", T["NSEC"], 3600, ["z.example.com", b"\x00\x06\x40\x01\x00\x00\x00\x03"])
    m.rr(2, "a.example.com", T["RRSIG"], 3600, rrsig(T["NSEC"], "example.com", now - 10, now - 1000))
    m.opt()
    nx = m.wire()
    write("wire", "nxdomain_nsec", secure_do + nx)
    write("wire", "nxdomain_nodo", bytes([0x08]) + nx)
    write("wire", "nxdomain_expired_bogus", bogus + nx)

    m = Msg(4, 0x8180)
    m.question("example.com", T["MX"])
    m.rr(1, "example.com", T["MX"], 300, [struct.pack(">H", 10), "mail.example.com"])
    m.rr(1, "example.com", T["MX"], 300, [struct.pack(">H", 20), "mx2.Example.COM"])
    m.rr(3, "mail.example.com", T["A"], 300, [bytes([192, 0, 2, 25])])
    write("wire", "mx", secure_do + m.wire())

    m = Msg(5, 0x8180)
    m.question("_443._tcp.www.example.com", T["TLSA"])
    m.rr(1, "_443._tcp.www.example.com", T["TLSA"], 300, [bytes([3, 1, 1]) + hashlib.sha256(b"k").digest()])
    m.rr(1, "_443._tcp.www.example.com", T["TLSA"], 300, [bytes([2, 0, 2]) + hashlib.sha512(b"k").digest()])
    m.rr(1, "_443._tcp.www.example.com", T["RRSIG"], 300,
         rrsig(T["TLSA"], "example.com", now + 1000, now + 500))  # not yet valid
    m.opt()
    tlsa = m.wire()
    write("wire", "tlsa", secure_do + tlsa)
    write("wire", "tlsa_bogus", bogus + tlsa)

    m = Msg(6, 0x8180)
    m.question("_sip._tcp.example.com", T["SRV"])
    m.rr(1, "_sip._tcp.example.com", T["SRV"], 300, [struct.pack(">HHH", 0, 5, 5060), "sip.example.com"])
    m.rr(1, "example.com", T["DNAME"], 300, ["example.net"])
    m.rr(1, "1.2.0.192.in-addr.arpa", T["PTR"], 300, ["host.example.com"])
    m.rr(1, "example.com", T["TXT"], 300, [b"\x05hello\x05world"])
    m.rr(1, "example.com", T["DNSKEY"], 300, [struct.pack(">HBB", 257, 3, 13) + b"\x02" * 64])
    m.rr(1, "example.com", T["DS"], 300, [struct.pack(">HBB", 12345, 13, 2) + b"\x03" * 32])
    m.rr(2, "abc.example.com", T["NSEC3"], 300, [b"\x01\x00\x00\x0a\x00\x14" + b"\x04" * 20 + b"\x00\x01\x40"])
    m.opt(options=struct.pack(">HHH", 15, 2, 6))  # upstream's EDE 6
    write("wire", "many_types", secure_do + m.wire())

    m = Msg(10, 0x8182)  # SERVFAIL, no records
    m.question("broken.example", T["A"])
    write("wire", "servfail", plain + m.wire())

    # a long name, compressed against the question's suffixes
    long = ".".join(["l%02d" % i for i in range(40)]) + ".example.com"
    m = Msg(11, 0x8180)
    m.question(long, T["A"])
    for i in range(20):
        m.rr(1, long, T["A"], 5, [bytes([10, 0, 0, i])])
    m.rr(3, "example.com", T["A"], 5, [bytes([10, 0, 0, 99])] )
    write("wire", "big_compressed", bytes([0x0C]) + m.wire())

    # hostile shapes
    m = Msg(12, 0x8180)
    m.question("x.example", T["A"])
    hdr = m.wire()
    write("wire", "ptr_loop", plain + hdr[:7] + b"\x01" + hdr[8:] + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x05\x00\x00")
    write("wire", "ptr_forward", plain + hdr[:7] + b"\x01" + hdr[8:] + b"\xc0\x30\x00\x01\x00\x01\x00\x00\x00\x05\x00\x00")
    write("wire", "truncated_rr", plain + up_a[:-20])
    write("wire", "header_only", plain + struct.pack(">HHHHHH", 1, 0x8180, 0, 0, 0, 0))


# ---- HTTP -------------------------------------------------------------------

def http_seeds():
    # byte 0: bit 0 response, bits 1-2 method (GET, HEAD, CONNECT, POST), bit 3 small limits
    # byte 1: split
    req = {
        "connect": b"CONNECT www.example.com:443 HTTP/1.1\r\nHost: www.example.com:443\r\n"
                   b"User-Agent: curl/7.88\r\nProxy-Connection: keep-alive\r\n\r\n\x16\x03\x01",
        "connect_v6": b"CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n",
        "absolute_get": b"GET http://Example.COM:8080/a/b?q=1#frag HTTP/1.1\r\nHost: example.com\r\n"
                        b"Connection: keep-alive, X-Foo\r\nX-Foo: drop\r\nAccept: */*\r\n\r\n"
                        b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
        "absolute_post": b"POST http://192.0.2.1/form HTTP/1.1\r\nHost: 192.0.2.1\r\n"
                         b"Content-Length: 11\r\nExpect: 100-continue\r\n\r\nhello=world",
        "chunked_post": b"POST http://example.com/up HTTP/1.1\r\nHost: example.com\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
        "origin_pac": b"GET /proxy.pac HTTP/1.0\r\nHost: 127.0.0.1:8080\r\n\r\n",
        "websocket": b"GET http://example.com/ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 13\r\n\r\n\x81\x05hello",
        "options_star": b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "smuggle_cl_te": b"POST http://example.com/ HTTP/1.1\r\nHost: example.com\r\nContent-Length: 4\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "bad_host": b"CONNECT exa_mple..com:99999 HTTP/1.1\r\n\r\n",
        "http09": b"GET /\r\n\r\n",
    }
    for i, (name, data) in enumerate(req.items()):
        write("http", "req_" + name, bytes([0, (i * 37) % 256]) + data)
    write("http", "req_small_limits", bytes([0x08, 10]) + req["absolute_get"])
    resp = {
        "length": (0, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n"
                      b"Keep-Alive: timeout=5\r\n\r\nhello"),
        "chunked": (0, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"4\r\nwiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n"),
        "close": (0, b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil close"),
        "head": (1, b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"),
        "connect_ok": (2, b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03"),
        "continue": (3, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
        "switching": (0, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\n\r\n\x81\x00"),
        "not_modified": (0, b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"
                            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
    }
    for i, (name, (method, data)) in enumerate(resp.items()):
        write("http", "resp_" + name, bytes([1 | method << 1, (i * 53) % 256]) + data)


# ---- DANE -------------------------------------------------------------------

def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def dane_seeds():
    with tempfile.TemporaryDirectory() as d:
        def key(name):
            openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name + ".key", cwd=d)

        key("ca")
        openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=Fuzz Root", "-days", "36500",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign,cRLSign",
                "-out", "ca.pem", cwd=d)
        key("ica")
        openssl("req", "-new", "-key", "ica.key", "-subj", "/CN=Fuzz Intermediate", "-out", "ica.csr", cwd=d)
        with open(os.path.join(d, "ica.ext"), "w") as f:
            f.write("basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n")
        openssl("x509", "-req", "-in", "ica.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "2",
                "-days", "36500", "-extfile", "ica.ext", "-out", "ica.pem", cwd=d)
        key("leaf")
        openssl("req", "-new", "-key", "leaf.key", "-subj", "/CN=www.example.com", "-out", "leaf.csr", cwd=d)
        with open(os.path.join(d, "leaf.ext"), "w") as f:
            f.write("subjectAltName=DNS:www.example.com,DNS:*.example.org\nbasicConstraints=CA:FALSE\n")
        openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ica.pem", "-CAkey", "ica.key", "-set_serial", "3",
                "-days", "36500", "-extfile", "leaf.ext", "-out", "leaf.pem", cwd=d)
        der, spki = {}, {}
        for n in ("ca", "ica", "leaf"):
            openssl("x509", "-in", n + ".pem", "-outform", "DER", "-out", n + ".der", cwd=d)
            openssl("pkey", "-in", n + ".key", "-pubout", "-outform", "DER", "-out", n + ".spki", cwd=d)
            der[n] = open(os.path.join(d, n + ".der"), "rb").read()
            spki[n] = open(os.path.join(d, n + ".spki"), "rb").read()

    now = int(time.time()) + 86400

    def certs(lst):
        return bytes([len(lst)]) + b"".join(struct.pack(">H", len(c)) + c for c in lst)

    def seed(flags, host, chain, trust, records):
        out = bytes([flags]) + struct.pack(">I", now) + bytes([len(host)]) + host
        out += certs(chain) + certs(trust)
        if flags & 1:
            return out + b"\n".join(records)
        return out + b"".join(struct.pack(">H", len(r)) + r for r in records)

    chain = [der["leaf"], der["ica"]]
    host = b"www.example.com"
    sha256, sha512 = (lambda b: hashlib.sha256(b).digest()), (lambda b: hashlib.sha512(b).digest())
    write("dane", "ee_spki_sha256", seed(0, host, chain, [], [bytes([3, 1, 1]) + sha256(spki["leaf"])]))
    write("dane", "ee_cert_full", seed(0, host, chain, [], [bytes([3, 0, 0]) + der["leaf"]]))
    write("dane", "ta_ica_sha512", seed(0, host, chain, [], [bytes([2, 0, 2]) + sha512(der["ica"])]))
    write("dane", "ta_root_bare_key", seed(0, host, chain, [], [bytes([2, 1, 0]) + spki["ca"]]))
    write("dane", "ta_wrong_host", seed(0, b"mail.example.net", chain, [],
                                        [bytes([2, 1, 1]) + sha256(spki["ica"])]))
    write("dane", "pkix_ta", seed(0, host, chain, [der["ca"]], [bytes([0, 0, 1]) + sha256(der["ca"])]))
    write("dane", "pkix_ee", seed(0, b"a.example.org", chain, [der["ca"]],
                                  [bytes([1, 1, 1]) + sha256(spki["leaf"])]))
    write("dane", "agility", seed(0, host, chain, [], [bytes([3, 1, 1]) + b"\0" * 32,
                                                      bytes([3, 1, 2]) + sha512(spki["leaf"])]))
    write("dane", "unusable", seed(0, host, chain, [], [bytes([4, 1, 1]) + b"\0" * 32, bytes([3, 2, 1]),
                                                       bytes([3, 1, 1]) + b"\0" * 31, b"\x03"]))
    write("dane", "text_records", seed(1, host, chain, [der["ca"]], [
        b"3 1 1 " + sha256(spki["leaf"]).hex().encode(),
        b"DANE-TA Cert SHA2-512 " + sha512(der["ica"]).hex()[:64].encode() + b" " + sha512(der["ica"]).hex()[64:].upper().encode(),
        b"PKIX-EE SPKI SHA2-256 00",
        b"255 255 255 ab",
        b"3 1 1 abc",
        b"1 x 1 00"]))
    write("dane", "no_host_no_trust", seed(6, b"", chain, [], [bytes([1, 1, 1]) + sha256(spki["leaf"])]))
    write("dane", "self_signed_leaf", seed(0, b"Fuzz Root", [der["ca"]], [der["ca"]],
                                           [bytes([2, 0, 0]) + der["ca"]]))
    write("dane", "garbage_der", seed(0, host, [der["leaf"][:100], b"\x30\x82\xff\xff"], [],
                                      [bytes([3, 1, 1]) + sha256(spki["leaf"])]))
    dane_unparsable_seeds()


def dane_unparsable_seeds():
    """Certificates mbedTLS 2.28 cannot parse (issue 14): an "anonymous, never
    valid" self-signed leaf (empty subject and issuer, notAfter 2020 before
    notBefore 2030) and a leaf whose issuer name is empty, made with `openssl
    ca`; and a self-signed leaf under DANE-TA records."""
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca = a\n[a]\ndir = .\ndatabase = ./index.txt\n"
                    "new_certs_dir = .\nrand_serial = yes\ndefault_md = sha256\npolicy = any\n"
                    "unique_subject = no\n[any]\ncommonName = optional\n[req]\n"
                    "distinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n")
        open(os.path.join(d, "index.txt"), "w").close()

        def odd(name, subj, issuer, start, end):
            openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name + ".key", cwd=d)
            openssl("req", "-new", "-config", "ca.cnf", "-key", name + ".key", "-subj", subj,
                    "-out", name + ".csr", cwd=d)
            iss = ["-selfsign", "-keyfile", name + ".key"] if issuer is None else \
                ["-cert", issuer + ".pem", "-keyfile", issuer + ".key"]
            openssl("ca", "-batch", "-config", "ca.cnf", "-notext", "-in", name + ".csr", "-out",
                    name + ".pem", "-subj", subj, "-startdate", start, "-enddate", end, *iss, cwd=d)
            openssl("x509", "-in", name + ".pem", "-outform", "DER", "-out", name + ".der", cwd=d)
            openssl("pkey", "-in", name + ".key", "-pubout", "-outform", "DER", "-out", name + ".spki",
                    cwd=d)
            return (open(os.path.join(d, name + ".der"), "rb").read(),
                    open(os.path.join(d, name + ".spki"), "rb").read())

        never, never_spki = odd("never", "/", None, "20300101000000Z", "20200101000000Z")
        anon_ca, anon_ca_spki = odd("anonca", "/", None, "20200101000000Z", "20400101000000Z")
        leaf, leaf_spki = odd("leaf", "/CN=www.example.com", "anonca", "20200101000000Z",
                              "20400101000000Z")
        self_der, self_spki = odd("self", "/CN=self.example.com", None, "20200101000000Z",
                                  "20400101000000Z")

    def certs(lst):
        return bytes([len(lst)]) + b"".join(struct.pack(">H", len(c)) + c for c in lst)

    def seed(host, chain, records):
        out = bytes([0]) + struct.pack(">I", 1893456000) + bytes([len(host)]) + host  # 2030
        return out + certs(chain) + certs([]) + b"".join(struct.pack(">H", len(r)) + r
                                                          for r in records)

    sha256 = lambda b: hashlib.sha256(b).digest()
    host = b"www.example.com"
    write("dane", "ee_unparsable_anon_never", seed(host, [never], [bytes([3, 1, 1]) + sha256(never_spki)]))
    write("dane", "ee_unparsable_mismatch", seed(host, [never], [bytes([3, 0, 1]) + sha256(leaf)]))
    write("dane", "ee_unparsable_chain", seed(host, [leaf, anon_ca],
                                              [bytes([3, 0, 0]) + leaf, bytes([2, 1, 1]) + sha256(anon_ca_spki)]))
    write("dane", "ta_self_signed_leaf_211", seed(b"self.example.com", [self_der],
                                                  [bytes([2, 1, 1]) + sha256(self_spki)]))
    write("dane", "ta_self_signed_leaf_210", seed(b"self.example.com", [self_der, self_der],
                                                  [bytes([2, 1, 0]) + self_spki]))


# ---- config -----------------------------------------------------------------

def config_seeds():
    sample = os.path.join(HERE, "..", "..", "conf", "daneguard.yml")
    if os.path.exists(sample):
        with open(sample, "rb") as f:
            write("config", "sample", f.read())
    seeds = {
        "empty": b"",
        "minimal": b"resolver:\n  listen_addresses: [127.0.0.1@53, '::1@53']\n",
        "stubby": b"""resolution_type: GETDNS_RESOLUTION_STUB
dns_transport_list:
  - GETDNS_TRANSPORT_TLS
tls_authentication: GETDNS_AUTHENTICATION_REQUIRED
upstream_recursive_servers:
  - address_data: 9.9.9.9
    tls_auth_name: "dns.quad9.net"
  - address_data: 2620:fe::fe
    tls_port: 853
    tls_auth_name: "dns.quad9.net"
""",
        "full": b"""user: daneguard
resolver:
  listen_addresses:
    - 127.0.0.53@53
    - fe80::1%lo#5353
  upstream_recursive_servers:
    - address_data: 192.0.2.53
      port: 5353
  dns_transport_list: [GETDNS_TRANSPORT_UDP, GETDNS_TRANSPORT_TCP]
  dnssec_trust_anchors: [/usr/share/dns/root.key]
  timeout: 3000
  idle_timeout: 10000
  allow: [127.0.0.0/8, "::1/128", 192.168.0.0/16]
  cache_size: 64m
  bogus_ttl: 30
  resolv_conf: /etc/resolv.conf
proxy:
  listen_addresses: ["[::1]:3128", 127.0.0.1@8080]
  allow: [10.0.0.0/8]
  intercept: all
  ca_dir: /var/lib/daneguard
  trust_store: /etc/ssl/certs/ca-certificates.crt
  allowed_ports: [443, 8443]
  max_connections: 512
  buffer_size: 32k
  handshake_timeout: 5000
  idle_timeout: 60000
  cert_cache_entries: 100
""",
        "proxy_off": b"proxy: no\n",
        "anchors_aliases": b"base: &b {timeout: 100}\nresolver: *b\n",
        "two_docs": b"user: a\n---\nuser: b\n",
        "bad_types": b"resolver:\n  timeout: [1, 2]\n  allow: 999.1.1.1/40\nproxy:\n  allowed_ports: [0, 70000]\n",
        "flow_tags": b"%YAML 1.1\n---\n!!map { ? user : !!str \"x\\ty\", proxy: {intercept: dane} }\n",
    }
    for name, data in seeds.items():
        write("config", name, data)


def main():
    only = set(sys.argv[1:])
    for name, fn in (("wire", dns_seeds), ("http", http_seeds), ("dane", dane_seeds),
                     ("config", config_seeds)):
        if not only or name in only:
            fn()


if __name__ == "__main__":
    main()
