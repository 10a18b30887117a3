#!/usr/bin/env bash
# tests/e2e/resolver_dot.sh — the forwarder speaks DNS-over-TLS (and TCP) to the
# upstreams itself (issue 12): a DoT server in the test world (Unbound with
# tls-service-key/pem, a certificate from the test PKI, forwarding to NSD), a
# relay in front of it that counts connections, reads TLS record lengths
# (decrypt-free) and can reset a connection with a query in flight.
#   - REQUIRED with tls_auth_name and a matching pin: validated answers;
#   - many queries, sequential and parallel, on one TLS connection;
#   - every query's TLS record shows 128-byte EDNS(0) padding;
#   - a reset mid-stream: the query is answered on a new, resumed session;
#   - pin mismatch and auth-name mismatch with REQUIRED: SERVFAIL and a clear
#     log line; auth-name mismatch opportunistic: answered;
#   - [TLS, TCP] with REQUIRED never falls back to TCP; opportunistic does;
#   - TCP first: one kept-open TCP connection;
#   - /metrics counts the connections, auth failures and back-offs.
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
. tests/e2e/lib_proxy.sh
world_trap
N=40
world_extra_records() {
    case $1 in world.test. | secure.world.test.) ;; *) return 0 ;; esac
    for ((i = 1; i <= N + 20; i++)); do echo "c$i IN A 127.0.0.1"; done
}
world_start || exit 1
pki_init || { fail pki "cannot make the test PKI"; exit 1; }
pki_leaf dot dot.world.test || { fail pki "cannot make the DoT certificate"; exit 1; }
cat "$PKI/dot.pem" "$PKI/inter.pem" >"$PKI/dot.full.pem"

DOT_ADDR=127.0.0.1
read -r TLS_PORT PLAIN_PORT RELAY_PORT TCPRELAY_PORT CLOSED_PORT < <(
    for i in 1 2 3 4 5; do world_free_port "$DOT_ADDR"; done | sort -u | tr '\n' ' ')
[ -n "${CLOSED_PORT:-}" ] || { fail ports "no free ports"; exit 1; }
cat >"$WORLD_DIR/dot.conf" <<EOF
server:
	interface: $DOT_ADDR@$PLAIN_PORT
	interface: $DOT_ADDR@$TLS_PORT
	tls-port: $TLS_PORT
	tls-service-key: "$PKI/dot.key"
	tls-service-pem: "$PKI/dot.full.pem"
	do-ip6: no
	username: ""
	chroot: ""
	directory: "$WORLD_DIR"
	pidfile: "$WORLD_DIR/dot.pid"
	use-syslog: no
	logfile: "$WORLD_DIR/dot.log"
	verbosity: 1
	do-not-query-localhost: no
	access-control: 127.0.0.0/8 allow
	local-zone: "test." nodefault
	module-config: "iterator"
	qname-minimisation: no
	num-threads: 1
	edns-tcp-keepalive: yes
	tcp-idle-timeout: 30000
remote-control:
	control-enable: no
forward-zone:
	name: "."
	forward-addr: $WORLD_NS_ADDR@$WORLD_NS_PORT
EOF
unbound-checkconf "$WORLD_DIR/dot.conf" >/dev/null || { fail dot_server "bad unbound config"; exit 1; }
world_spawn dot unbound -d -c "$WORLD_DIR/dot.conf"
world_wait_dns "$DOT_ADDR" "$PLAIN_PORT" 10 || { fail dot_server "Unbound does not answer"; exit 1; }
RELAY_LOG=$WORLD_DIR/relay.log
RELAY_CTL=$WORLD_DIR/relay.reset
: >"$RELAY_LOG"
world_spawn tlsrelay python3 tests/e2e/tlsrelay.py "$DOT_ADDR" "$RELAY_PORT" "$DOT_ADDR" "$TLS_PORT" \
    "$RELAY_LOG" "$RELAY_CTL"
TCP_LOG=$WORLD_DIR/tcprelay.log
: >"$TCP_LOG"
world_spawn tcprelay python3 tests/e2e/tlsrelay.py "$DOT_ADDR" "$TCPRELAY_PORT" "$DOT_ADDR" \
    "$PLAIN_PORT" "$TCP_LOG" "$WORLD_DIR/never" plain
wait_listen "$RELAY_PORT" "$DOT_ADDR" && wait_listen "$TCPRELAY_PORT" "$DOT_ADDR" ||
    { fail relay "the relays do not listen"; exit 1; }

PIN=$(openssl x509 -in "$PKI/dot.pem" -noout -pubkey | openssl pkey -pubin -outform DER |
    openssl dgst -sha256 -binary | base64)
BADPIN=$(head -c 32 /dev/zero | base64)

# dg_start NAME UPSTREAM-EXTRA TRANSPORTS AUTH: daneguard with one upstream
# (its port, tls_port... in UPSTREAM-EXTRA).
dg_start() {
    local extra=$1 transports=$2 auth=$3
    world_daneguard_stop
    cat "$WORLD_DIR/daneguard.log" >>"$WORLD_DIR/daneguard.all.log" 2>/dev/null
    : >"$WORLD_DIR/daneguard.log"
    world_daneguard_config "$WORLD_DIR/dg.yml" \
        "resolver.upstream_recursive_servers: [{address_data: $DOT_ADDR$extra}]" \
        "resolver.dns_transport_list: $transports" \
        "resolver.tls_authentication: $auth" \
        "resolver.tls_ca_file: \"$PKI/root.pem\""
    world_daneguard_start "$WORLD_DIR/dg.yml" -v
}
conns() { grep -c '^conn ' "$1"; }
# metric NAME ADDR:PORT: that upstream's value on /metrics (empty when none)
metric() {
    curl -sS --max-time 5 "http://127.0.0.1:$DG_PROXY_PORT/metrics" 2>/dev/null |
        awk -v p="$1{upstream=\"$2\"," 'index($0, p) == 1 { print $2; exit }'
}
q() { world_dig @127.0.0.1 -p "$DG_DNS_PORT" +dnssec "$@"; }

# --- REQUIRED, name and pin match -----------------------------------------------
dg_start ", tls_port: $RELAY_PORT, tls_auth_name: dot.world.test, tls_pubkey_pinset: [{digest: sha256, value: \"$PIN\"}]" \
    "[TLS]" GETDNS_AUTHENTICATION_REQUIRED || exit 1
out=$(q www.world.test A)
if [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" ad && [ "$(conns "$RELAY_LOG")" -ge 1 ]; then
    pass dot_required_pin_and_name_answers
else
    fail dot_required_pin_and_name_answers "rcode $(dig_rcode "$out"), flags $(dig_flags "$out"), $(conns "$RELAY_LOG") TLS connections; log: $(tail -n 3 "$WORLD_DIR/daneguard.log")"
fi
before=$(conns "$RELAY_LOG")
ok=0
for ((i = 1; i <= N / 2; i++)); do
    out=$(q "c$i.world.test" A)
    dig_has_flag "$out" ad && ok=$((ok + 1))
done
pids=()
for ((i = N / 2 + 1; i <= N; i++)); do
    q "c$i.world.test" A >"$WORLD_DIR/par.$i" &
    pids+=($!)
done
wait "${pids[@]}"
for ((i = N / 2 + 1; i <= N; i++)); do
    dig_has_flag "$(cat "$WORLD_DIR/par.$i")" ad && ok=$((ok + 1))
done
after=$(conns "$RELAY_LOG")
echo "$N new names ($((N / 2)) of them in parallel): $ok validated, TLS connections $before -> $after"
check dot_many_queries_validated [ "$ok" -eq "$N" ]
if [ "$after" -eq "$before" ] && [ "$after" -eq 1 ]; then
    pass dot_one_connection_many_queries
else
    fail dot_one_connection_many_queries "TLS connections $before -> $after"
fi
# /metrics: the forwarder's counters for a DNS-over-TLS upstream
m_conns=$(metric daneguard_upstream_connections_total "$DOT_ADDR:$RELAY_PORT")
m_sent=$(metric daneguard_upstream_queries_total "$DOT_ADDR:$RELAY_PORT")
m_up=$(metric daneguard_upstream_up "$DOT_ADDR:$RELAY_PORT")
m_rtt=$(metric daneguard_upstream_rtt_seconds "$DOT_ADDR:$RELAY_PORT")
if [ "$m_conns" = 1 ] && [ "${m_sent:-0}" -ge "$N" ] && [ "$m_up" = 1 ] && [ -n "$m_rtt" ]; then
    pass dot_metrics_counted
else
    fail dot_metrics_counted "connections '$m_conns', queries '$m_sent', up '$m_up', rtt '$m_rtt'"
fi

# Padding (RFC 7830, RFC 8467 §4.1): a query's record carries 2 + 128k bytes
# of plaintext; TLS 1.2 adds 16 (ChaCha20-Poly1305) or 24 (AES-GCM) bytes.
read -r data padded16 padded24 < <(awk '$1 == "rec" && $4 == 23 {
        n++; if (($5 - 18) % 128 == 0) a++; if (($5 - 26) % 128 == 0) b++ }
    END { print n + 0, a + 0, b + 0 }' "$RELAY_LOG")
echo "TLS data records from daneguard: $data; lengths 128k+18: $padded16, 128k+26: $padded24"
if [ "$data" -ge "$N" ] && { [ "$padded16" -eq "$data" ] || [ "$padded24" -eq "$data" ]; }; then
    pass dot_queries_padded_to_128
else
    fail dot_queries_padded_to_128 "$data records, $padded16/$padded24 of padded length; lengths: $(awk '$1 == "rec" && $4 == 23 { print $5 }' "$RELAY_LOG" | sort -n | uniq -c | head -n 5 | tr '\n' ' ')"
fi

# A reset with a query in flight: asked again on a new, resumed TLS session.
touch "$RELAY_CTL"
out=$(q c$((N + 1)).world.test A)
resets=$(grep -c '^reset ' "$RELAY_LOG")
if [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" ad && [ "$resets" -eq 1 ] &&
    [ "$(conns "$RELAY_LOG")" -eq $((after + 1)) ]; then
    pass dot_reset_mid_stream_recovers
else
    fail dot_reset_mid_stream_recovers "rcode $(dig_rcode "$out"), $resets resets, $(conns "$RELAY_LOG") connections"
fi
if grep -q 'TLS up (.*resumed)' "$WORLD_DIR/daneguard.log"; then
    pass dot_session_resumed_on_reconnect
else
    fail dot_session_resumed_on_reconnect "no resumed TLS session in the log"
fi

# --- REQUIRED, pin mismatch -------------------------------------------------------
dg_start ", tls_port: $RELAY_PORT, tls_auth_name: dot.world.test, tls_pubkey_pinset: [{digest: sha256, value: \"$BADPIN\"}]" \
    "[TLS]" GETDNS_AUTHENTICATION_REQUIRED || exit 1
out=$(q c$((N + 2)).world.test A)
if [ "$(dig_rcode "$out")" = SERVFAIL ] &&
    grep -q 'authentication failed: no certificate matches tls_pubkey_pinset; not used' "$WORLD_DIR/daneguard.log"; then
    pass dot_pin_mismatch_required_servfail
else
    fail dot_pin_mismatch_required_servfail "rcode $(dig_rcode "$out"); log: $(grep -m1 'DNS-over-TLS' "$WORLD_DIR/daneguard.log")"
fi
# While that upstream is backed off, queries get SERVFAIL without a new
# connection (and without a log line each).
c0=$(conns "$RELAY_LOG")
sf=0
for ((i = 1; i <= 5; i++)); do
    [ "$(dig_rcode "$(q "c$i.secure.world.test" A)")" = SERVFAIL ] && sf=$((sf + 1))
done
c1=$(conns "$RELAY_LOG")
if [ "$sf" -eq 5 ] && [ $((c1 - c0)) -le 1 ]; then
    pass dot_auth_failure_backed_off
else
    fail dot_auth_failure_backed_off "$sf of 5 SERVFAIL, TLS connections $c0 -> $c1"
fi
m_af=$(metric daneguard_upstream_tls_auth_failures_total "$DOT_ADDR:$RELAY_PORT")
m_conns=$(metric daneguard_upstream_connections_total "$DOT_ADDR:$RELAY_PORT")
if [ "${m_af:-0}" -ge 1 ] && [ "$m_conns" = 0 ]; then
    pass dot_metrics_auth_failures
else
    fail dot_metrics_auth_failures "auth failures '$m_af', connections '$m_conns'"
fi

# --- REQUIRED, auth-name mismatch --------------------------------------------------
dg_start ", tls_port: $RELAY_PORT, tls_auth_name: wrong.world.test" "[TLS]" \
    GETDNS_AUTHENTICATION_REQUIRED || exit 1
out=$(q c$((N + 3)).world.test A)
if [ "$(dig_rcode "$out")" = SERVFAIL ] &&
    grep -q 'authentication failed: certificate does not validate for tls_auth_name wrong.world.test' "$WORLD_DIR/daneguard.log"; then
    pass dot_name_mismatch_required_servfail
else
    fail dot_name_mismatch_required_servfail "rcode $(dig_rcode "$out"); log: $(grep -m1 'DNS-over-TLS' "$WORLD_DIR/daneguard.log")"
fi

# --- REQUIRED with [TLS, TCP]: no fallback in clear ----------------------------------
before=$(conns "$TCP_LOG")
dg_start ", port: $TCPRELAY_PORT, tls_port: $RELAY_PORT, tls_auth_name: wrong.world.test" \
    "[TLS, TCP]" GETDNS_AUTHENTICATION_REQUIRED || exit 1
out=$(q c$((N + 4)).world.test A)
if [ "$(dig_rcode "$out")" = SERVFAIL ] && [ "$(conns "$TCP_LOG")" -eq "$before" ]; then
    pass dot_required_never_downgrades
else
    fail dot_required_never_downgrades "rcode $(dig_rcode "$out"), TCP connections $before -> $(conns "$TCP_LOG")"
fi

# --- opportunistic, auth-name mismatch: answered ---------------------------------------
c0=$(conns "$RELAY_LOG")
dg_start ", tls_port: $RELAY_PORT, tls_auth_name: wrong.world.test" "[TLS]" \
    GETDNS_AUTHENTICATION_NONE || exit 1
out=$(q c$((N + 5)).world.test A)
if [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" ad &&
    [ "$(conns "$RELAY_LOG")" -gt "$c0" ] &&
    grep -q 'not authenticated (.*); used all the same' "$WORLD_DIR/daneguard.log"; then
    pass dot_name_mismatch_opportunistic_answers
else
    fail dot_name_mismatch_opportunistic_answers "rcode $(dig_rcode "$out"); log: $(grep -m1 'DNS-over-TLS' "$WORLD_DIR/daneguard.log")"
fi

# --- opportunistic [TLS, TCP], TLS port closed: falls back to TCP ----------------------
before=$(conns "$TCP_LOG")
dg_start ", port: $TCPRELAY_PORT, tls_port: $CLOSED_PORT" "[TLS, TCP]" GETDNS_AUTHENTICATION_NONE ||
    exit 1
out=$(q c$((N + 6)).world.test A)
if [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" ad && [ "$(conns "$TCP_LOG")" -gt "$before" ]; then
    pass dot_opportunistic_falls_back_to_tcp
else
    fail dot_opportunistic_falls_back_to_tcp "rcode $(dig_rcode "$out"), TCP connections $before -> $(conns "$TCP_LOG")"
fi

# --- two upstreams, one dead: failover with back-off --------------------------------
# DEAD_RELAY accepts and resets at once (nothing behind it): the forwarder
# backs that upstream's TLS off and asks the other, without asking the dead
# one for every query.
DEAD_LOG=$WORLD_DIR/dead-conns.log
: >"$DEAD_LOG"
world_spawn deadrelay python3 tests/e2e/tlsrelay.py 127.0.0.2 "$RELAY_PORT" "$DOT_ADDR" "$CLOSED_PORT" \
    "$DEAD_LOG" "$WORLD_DIR/never"
for ((i = 0; i < 100; i++)); do
    ss -ltnH "src 127.0.0.2 and sport = :$RELAY_PORT" 2>/dev/null | grep -q . && break
    sleep 0.1
done
[ "$i" -lt 100 ] || fail dead_relay "the dead relay does not listen"
world_daneguard_stop
cat "$WORLD_DIR/daneguard.log" >>"$WORLD_DIR/daneguard.all.log"
: >"$WORLD_DIR/daneguard.log"
world_daneguard_config "$WORLD_DIR/dg.yml" \
    "resolver.upstream_recursive_servers: [{address_data: 127.0.0.2, tls_port: $RELAY_PORT, tls_auth_name: dot.world.test}, {address_data: $DOT_ADDR, tls_port: $RELAY_PORT, tls_auth_name: dot.world.test}]" \
    "resolver.dns_transport_list: [TLS]" "resolver.tls_authentication: GETDNS_AUTHENTICATION_REQUIRED" \
    "resolver.round_robin_upstreams: 1" "resolver.tls_ca_file: \"$PKI/root.pem\""
world_daneguard_start "$WORLD_DIR/dg.yml" -v || exit 1
ok=0
start=$(date +%s%N)
for ((i = N + 7; i <= N + 20; i++)); do
    dig_has_flag "$(q "c$i.secure.world.test" A)" ad && ok=$((ok + 1))
done
ms=$((($(date +%s%N) - start) / 1000000))
dead=$(conns "$DEAD_LOG")
echo "one upstream dead: $ok of 14 names validated in $ms ms; connections tried to the dead one: $dead"
if [ "$ok" -eq 14 ] && [ "$dead" -ge 1 ] && [ "$dead" -le 5 ]; then
    pass failover_dead_upstream_backed_off
else
    fail failover_dead_upstream_backed_off "$ok of 14 validated, $dead connections to the dead upstream"
fi
m_bo=$(metric daneguard_upstream_backoff_seconds "127.0.0.2:$RELAY_PORT")
m_live=$(metric daneguard_upstream_backoff_seconds "$DOT_ADDR:$RELAY_PORT")
if awk -v d="${m_bo:-0}" -v l="${m_live:-x}" 'BEGIN { exit !(d > 0 && l == "0.000") }'; then
    pass failover_metrics_backoff
else
    fail failover_metrics_backoff "back-off of the dead upstream '$m_bo', of the live one '$m_live'"
fi

# --- TCP first: one kept-open connection ----------------------------------------------
dg_start ", port: $TCPRELAY_PORT" "[TCP]" GETDNS_AUTHENTICATION_NONE || exit 1
before=$(conns "$TCP_LOG")
ok=0
for ((i = N + 7; i <= N + 20; i++)); do
    dig_has_flag "$(q "c$i.world.test" A)" ad && ok=$((ok + 1))
done
after=$(conns "$TCP_LOG")
echo "TCP first: $ok of 14 validated, TCP connections $before -> $after"
if [ "$ok" -eq 14 ] && [ "$after" -eq "$before" ] && [ "$before" -ge 1 ]; then
    pass tcp_first_one_connection
else
    fail tcp_first_one_connection "$ok validated, TCP connections $before -> $after"
fi
# Every daneguard of the test, stopped (a sanitizer's leak report comes at exit).
world_daneguard_stop
sleep 0.5
cat "$WORLD_DIR/daneguard.log" >>"$WORLD_DIR/daneguard.all.log"
mv "$WORLD_DIR/daneguard.all.log" "$WORLD_DIR/daneguard.log"
dg_log_clean dot_log_clean
[ "$WORLD_FAILED" -eq 0 ]
