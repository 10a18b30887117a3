#!/usr/bin/env bash
# tests/e2e/proxy_metrics.sh — /metrics on the proxy listener (issue 13).
#
# One world and one daneguard whose proxy.allow is 127.0.0.1/32 only. Cases:
# /metrics answers 200 in the text exposition format and `promtool check
# metrics` (Debian's prometheus package) finds nothing wrong; HELP and TYPE
# lines for every family and only daneguard_ names; the world's NSD shows up
# as an upstream that is up with a round-trip time; a DNS query moves
# daneguard_dns_queries_total and a refused CONNECT moves
# daneguard_proxy_requests_total{outcome="refused"}; proxy.exceptions shows
# in daneguard_proxy_exceptions; a client outside proxy.allow (127.0.0.2) gets
# 403 for /metrics as for /status. And the log lines of refusals name the
# client: a DANE refusal, a forbidden port, a client not in proxy.allow, a
# name that does not exist.
# Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap

P=$(pick_port); ports+=("$P")
H_WRONG=$(head -c 32 /dev/urandom | sha256sum | cut -d' ' -f1)
world_extra_records() {
    case $1 in
    secure.world.test.)
        echo "m IN A 127.0.0.80"
        echo "_$P._tcp.m IN TLSA 3 1 1 $H_WRONG"
        ;;
    esac
}
world_start || { echo "FAIL world_start: see stderr"; exit 1; }
CFG=$WORLD_DIR/dg.yml
world_daneguard_config "$CFG" "proxy.allowed_ports: [443, $P]" "proxy.allow: [127.0.0.1/32]" \
    "proxy.exceptions: [a.example.org, \"*.b.example.org\"]"
world_daneguard_start "$CFG" || { fail daneguard_start "see stderr"; exit 1; }
pki_init && pki_leaf m m.secure.world.test ec || { fail pki "$(tail -3 "$WORLD_DIR/pki.log")"; exit 1; }
origin_sserver o_m 127.0.0.80 "$P" m || { fail origin "did not start"; exit 1; }
out=$WORLD_DIR/out
mkdir -p "$out"
URL="http://127.0.0.1:$DG_PROXY_PORT/metrics"

# value FILE SERIES: the sample's value ("" when absent).
value() { awk -v s="$2" '$1 == s { print $2 }' "$1"; }

code=$(curl -sS --max-time 10 -o "$out/m1" -D "$out/m1.head" -w '%{http_code}' "$URL" 2>"$out/m1.err")
[ "$code" = 200 ] && grep -qi '^content-type: text/plain; version=0.0.4' "$out/m1.head" &&
    pass metrics_200_text_format || fail metrics_200_text_format "code=$code $(cat "$out/m1.head" "$out/m1.err" | head -c 300)"

if command -v promtool >/dev/null; then
    if promtool check metrics <"$out/m1" >"$out/promtool.out" 2>&1; then
        pass promtool_check_metrics
    else
        fail promtool_check_metrics "$(head -c 600 "$out/promtool.out")"
    fi
else
    fail promtool_check_metrics "promtool not installed (make deps DEPS_FOR=test: Debian's prometheus)"
fi

# Every sample's family has HELP and TYPE, and every name is daneguard_'s.
bad=$(awk '/^#/ { if ($2 == "HELP") h[$3] = 1; if ($2 == "TYPE") t[$3] = 1; next }
           NF { n = $1; sub(/\{.*/, "", n); if (!(n in h) || !(n in t) || n !~ /^daneguard_/) print n }' "$out/m1" | sort -u)
[ -z "$bad" ] && pass help_type_prefix || fail help_type_prefix "$bad"

grep -q "^daneguard_upstream_info{upstream=\"$WORLD_NS_ADDR:$WORLD_NS_PORT\",transport=\"udp,tcp\"} 1$" "$out/m1" &&
    pass upstream_listed || fail upstream_listed "$(grep upstream_info "$out/m1")"
grep -q '^daneguard_upstream_up{.*} 1$' "$out/m1" && grep -q '^daneguard_upstream_rtt_seconds{.*} [0-9.]*$' "$out/m1" &&
    pass upstream_up_with_rtt || fail upstream_up_with_rtt "$(grep -E 'upstream_(up|rtt)' "$out/m1")"
[ "$(value "$out/m1" daneguard_proxy_exceptions)" = 2 ] && pass exceptions_gauge ||
    fail exceptions_gauge "$(grep proxy_exceptions "$out/m1")"
for s in daneguard_dns_cache_hit_ratio daneguard_dns_cache_entries daneguard_dns_cache_bytes \
    daneguard_proxy_connections_open 'daneguard_proxy_requests_total{outcome="tunnelled"}'; do
    [ -n "$(value "$out/m1" "$s")" ] || { fail "series_present" "no $s"; s=; break; }
done
[ -n "$s" ] && pass series_present

# Values move: a DNS query, a refused CONNECT.
q1=$(value "$out/m1" daneguard_dns_queries_total)
r1=$(value "$out/m1" 'daneguard_proxy_requests_total{outcome="refused"}')
world_dig @127.0.0.1 -p "$DG_DNS_PORT" www.secure.world.test A >/dev/null
pcurl -k -o /dev/null "https://m.secure.world.test:$P/" 2>/dev/null
curl -sS --max-time 10 -o "$out/m2" "$URL"
q2=$(value "$out/m2" daneguard_dns_queries_total)
r2=$(value "$out/m2" 'daneguard_proxy_requests_total{outcome="refused"}')
[ -n "$q1" ] && [ -n "$q2" ] && [ "$q2" -gt "$q1" ] && pass dns_queries_counter_moves ||
    fail dns_queries_counter_moves "before $q1 after $q2"
[ -n "$r1" ] && [ -n "$r2" ] && [ "$r2" -eq $((r1 + 1)) ] && pass refused_counter_moves ||
    fail refused_counter_moves "before $r1 after $r2"
hits=$(value "$out/m2" daneguard_dns_cache_hits_total)
miss=$(value "$out/m2" daneguard_dns_cache_misses_total)
ratio=$(value "$out/m2" daneguard_dns_cache_hit_ratio)
python3 -c "import sys; h, m, r = map(float, sys.argv[1:]); sys.exit(abs(h / (h + m) - r) > 1e-5)" \
    "$hits" "$miss" "$ratio" && pass hit_ratio_consistent || fail hit_ratio_consistent "$hits $miss $ratio"

# Not in proxy.allow: 403, as for /status.
code=$(curl -sS --max-time 10 --interface 127.0.0.2 -o "$out/m3" -w '%{http_code}' "$URL" 2>"$out/m3.err")
scode=$(curl -sS --max-time 10 --interface 127.0.0.2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$DG_PROXY_PORT/status" 2>/dev/null)
[ "$code" = 403 ] && [ "$scode" = 403 ] && ! grep -q daneguard_ "$out/m3" &&
    pass not_allowed_403 || fail not_allowed_403 "metrics $code, status $scode"

# Refusal log lines name the client (issue 13).
LOG=$WORLD_DIR/daneguard.log
pcurl -k -o /dev/null "https://m.secure.world.test:9/" 2>/dev/null
grep -q "m.secure.world.test:$P: refused: .*(client 127.0.0.1)$" "$LOG" &&
    pass log_refusal_names_client || fail log_refusal_names_client "$(grep -F "m.secure.world.test:$P" "$LOG" | tail -1)"
grep -q "m.secure.world.test:9: forbidden port (not in proxy.allowed_ports) (client 127.0.0.1)$" "$LOG" &&
    pass log_forbidden_port_names_client || fail log_forbidden_port_names_client "$(grep -F 'forbidden port' "$LOG" | tail -1)"
grep -q "client 127.0.0.2 is not in proxy.allow: answering 403" "$LOG" &&
    pass log_not_allowed_names_client || fail log_not_allowed_names_client "$(grep -F 127.0.0.2 "$LOG" | tail -1)"
pcurl -k -o /dev/null "https://nosuchhost.world.test:$P/" 2>/dev/null
grep -q "nosuchhost.world.test:$P: failed: .*(client 127.0.0.1)$" "$LOG" &&
    pass log_failed_names_client || fail log_failed_names_client "$(grep -F nosuchhost "$LOG" | tail -1)"

dg_stop_checked sanitizer_clean

# An upstream that never answers: after a query's tries go unanswered it is
# shown down, with its losses counted (nothing listens on DEAD_PORT).
DEAD_PORT=$(world_free_port 127.0.0.1)
WORLD_UPSTREAM_ADDR=127.0.0.1 WORLD_UPSTREAM_PORT=$DEAD_PORT world_daneguard_config "$CFG"
world_daneguard_start "$CFG" || { fail daneguard_restart "see stderr"; exit 1; }
world_dig @127.0.0.1 -p "$DG_DNS_PORT" +time=5 nothing.world.test A >/dev/null
sleep 1
curl -sS --max-time 10 -o "$out/m4" "$URL"
grep -q "^daneguard_upstream_up{upstream=\"127.0.0.1:$DEAD_PORT\",transport=\"udp,tcp\"} 0$" "$out/m4" &&
    pass dead_upstream_down || fail dead_upstream_down "$(grep -E '^daneguard_upstream_(up|lost|queries)' "$out/m4")"
lost=$(awk '/^daneguard_upstream_lost_total/ { print $2 }' "$out/m4")
answers=$(awk '/^daneguard_upstream_answers_total/ { print $2 }' "$out/m4")
[ "${lost:-0}" -ge 3 ] && [ "$answers" = 0 ] && ! grep -q '^daneguard_upstream_rtt_seconds{' "$out/m4" &&
    pass dead_upstream_losses_counted || fail dead_upstream_losses_counted "lost=$lost answers=$answers"
promtool check metrics <"$out/m4" >/dev/null 2>&1 && pass promtool_dead_upstream ||
    fail promtool_dead_upstream "$(promtool check metrics <"$out/m4" 2>&1 | head -3)"
dg_stop_checked sanitizer_clean_dead_upstream
proxy_finish
