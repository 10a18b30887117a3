#!/usr/bin/env bash
# shellcheck disable=SC2119 # world_start [--rrl]: called without arguments
# tests/e2e/resolver_large.sh — a 60 KB answer must not block the event loop
# (issue 9, item 5). The zone holds a signed PTR RRset of 240 names of about
# 230 bytes, each of a hundred one-letter labels that differ only near the root:
# the worst case for label-by-label name compression, which took most of a
# second per rendering, once per waiting query. Eight clients ask for it over
# TCP at once while a ninth asks a cached, unrelated question every 20 ms: each
# of those must be answered within PROBE_MAX_MS, and the eight must get the
# whole RRset, compressed.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/world/world.sh
source tests/world/world.sh

PTR_COUNT=240
PROBE_MAX_MS=${PROBE_MAX_MS:-500}

# The records: PTR_COUNT targets of 100 one-letter labels (a pattern that
# shifts with the index), then hI.x. — absolute, outside the zone, about 230 bytes.
world_extra_records() {
    [ "$1" = world.test. ] || return 0
    /usr/bin/python3 - "$PTR_COUNT" <<'PY2'
import sys
for i in range(int(sys.argv[1])):
    labels = "".join(chr(97 + (k * 7 + i) % 3) + "." for k in range(100))
    print("bigptr\tIN\tPTR\t%sh%d.x." % (labels, i))
PY2
}

world_trap
world_start || { fail world_start "the test world did not come up"; exit 1; }
CFG=$WORLD_DIR/daneguard.yml
world_daneguard_config "$CFG" 'resolver.timeout: 10000'
world_daneguard_start "$CFG" || { fail daneguard_start "daneguard did not come up"; exit 1; }

# The unrelated question is in the cache before the big one is asked.
out=$(world_dig @127.0.0.1 -p "$DG_DNS_PORT" www.world.test. A)
[ "$(dig_rcode "$out")" = NOERROR ] || { fail probe_cached "www.world.test A: $(dig_rcode "$out")"; exit 1; }

# Eight TCP clients at once for bigptr PTR (DO set, so the RRSIG comes too),
# and a UDP probe for the cached name every 20 ms until the eight are done.
result=$(/usr/bin/python3 - 127.0.0.1 "$DG_DNS_PORT" <<'PY'
import socket, struct, sys, threading, time
import dns.message

addr, port = sys.argv[1], int(sys.argv[2])
results, done = [], threading.Event()

def tcp_query(i):
    q = dns.message.make_query("bigptr.world.test.", "PTR", want_dnssec=True)
    q.id = 1000 + i
    wire = q.to_wire()
    try:
        with socket.create_connection((addr, port), timeout=20) as s:
            s.sendall(struct.pack("!H", len(wire)) + wire)
            buf = b""
            while len(buf) < 2:
                c = s.recv(2 - len(buf))
                if not c:
                    raise OSError("closed")
                buf += c
            want = struct.unpack("!H", buf)[0]
            body = b""
            while len(body) < want:
                c = s.recv(want - len(body))
                if not c:
                    raise OSError("closed")
                body += c
        # the header only: parsing 50 KB in Python here would hold the GIL
        # and delay the probe thread, measuring ourselves instead of daneguard
        rid, flags, qd, an = struct.unpack("!HHHH", body[:8])
        results.append((rid == q.id, flags & 15, an, len(body)))
    except Exception as e:
        results.append((False, -1, 0, str(e)))

probe_ms = []
def probe():
    q = dns.message.make_query("www.world.test.", "A")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    while not done.is_set():
        t = time.monotonic()
        s.sendto(q.to_wire(), (addr, port))
        try:
            s.recv(4096)
            probe_ms.append((time.monotonic() - t) * 1000)
        except socket.timeout:
            probe_ms.append(5000.0)
        time.sleep(0.02)

p = threading.Thread(target=probe)
p.start()
time.sleep(0.1)
start = time.monotonic()
ts = [threading.Thread(target=tcp_query, args=(i,)) for i in range(8)]
for t in ts:
    t.start()
for t in ts:
    t.join(30)
elapsed = (time.monotonic() - start) * 1000
time.sleep(0.1)
done.set()
p.join(10)
ok = sum(1 for r in results if r[0] and r[1] == 0)
print("answers=%d ancounts=%s sizes=%s probes=%d probe_max_ms=%.0f elapsed_ms=%.0f" % (
    ok, ",".join(str(r[2]) for r in results), ",".join(str(r[3]) for r in results),
    len(probe_ms), max(probe_ms) if probe_ms else -1, elapsed))
PY
)
echo "# $result"
answers=$(sed -n 's/.*answers=\([0-9]*\).*/\1/p' <<<"$result")
ancounts=$(sed -n 's/.*ancounts=\([0-9,]*\).*/\1/p' <<<"$result")
sizes=$(sed -n 's/.*sizes=\([0-9,]*\).*/\1/p' <<<"$result")
probe_max=$(sed -n 's/.*probe_max_ms=\([0-9-]*\).*/\1/p' <<<"$result")
probes=$(sed -n 's/.* probes=\([0-9]*\).*/\1/p' <<<"$result")

verdict() { if [ -z "$2" ]; then pass "$1"; else fail "$1" "$2"; fi; }
verdict large_eight_tcp_answers "$([ "$answers" = 8 ] || echo "$answers of 8 NOERROR answers: $result")"
why=""
for n in ${ancounts//,/ }; do [ "$n" = $((PTR_COUNT + 1)) ] || why="answer counts $ancounts, not $PTR_COUNT PTR and their RRSIG each"; done
verdict large_whole_rrset "$why"
out=$(world_dig @127.0.0.1 -p "$DG_DNS_PORT" +tcp +dnssec bigptr.world.test. PTR)
why=""
[ "$(dig_count "$out" ANSWER PTR)" = "$PTR_COUNT" ] || why+="$(dig_count "$out" ANSWER PTR) PTR records; "
dig_has_flag "$out" ad || why+="no AD; "
dig_section "$out" ANSWER | grep -q 'PTR.*a\.b\.c\.a\.b\.c.*\.h0\.x\.$\|h0\.x\.$' || why+="no h0.x. target; "
verdict large_rrset_reads_back "$why"
# NSD's own answer is the reference for the size: ours must be no larger
ns_size=$(world_dns_send tcp "$WORLD_NS_ADDR" "$WORLD_NS_PORT" "$(world_dns_query_hex bigptr.world.test 12 7 0 1 0)" | sed -n 's/.*size=\([0-9]*\).*/\1/p')
why=""
for n in ${sizes//,/ }; do
    [[ $n =~ ^[0-9]+$ ]] && [ "$n" -lt 65535 ] || why="sizes $sizes"
done
verdict large_answer_fits "$why"
verdict large_cached_query_not_blocked "$([ -n "$probe_max" ] && [ "$probes" -ge 3 ] && [ "$probe_max" -lt "$PROBE_MAX_MS" ] || echo "a cached query took up to $probe_max ms ($probes probes) while the big answers were rendered (limit $PROBE_MAX_MS)")"
out=$(world_dig @127.0.0.1 -p "$DG_DNS_PORT" +tcp +nodnssec bigptr.world.test. PTR)
n=$(dig_count "$out" ANSWER PTR)
verdict large_cached_variant_without_do "$([ "$n" = "$PTR_COUNT" ] || echo "$n PTR records")"
size=$(world_dns_send tcp 127.0.0.1 "$DG_DNS_PORT" "$(world_dns_query_hex bigptr.world.test 12 8 0 1 0)" | sed -n 's/.*size=\([0-9]*\).*/\1/p')
verdict large_compressed_like_nsd "$([ -n "$size" ] && [ -n "$ns_size" ] && [ "$size" -le $((ns_size + 64)) ] || echo "ours $size bytes, NSD's $ns_size")"
verdict large_daemon_alive "$(kill -0 "$DG_PID" 2>/dev/null || echo "daneguard died")"

[ "$WORLD_FAILED" -eq 0 ]
