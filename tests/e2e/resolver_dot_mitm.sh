#!/usr/bin/env bash
# tests/e2e/resolver_dot_mitm.sh — a man in the middle on the DNS-over-TLS path
# (tests/e2e/dotmitm.py: a TLS server with a chain of its choosing, relaying to
# the world's NSD) against tls_authentication: GETDNS_AUTHENTICATION_REQUIRED.
#
# A certificate in the chain a server sends proves nothing unless it is linked
# to the leaf, whose key the handshake proved: anyone can copy the genuine
# server's certificate (or its CA's) from a handshake and send it after a leaf
# of their own. A pin (RFC 7858 §4.2) must match a certificate of the chain
# that the leaf is linked to, not any certificate sent; pins are what stands
# when a trusted CA issues a certificate for the name to someone else.
#   - pin of the genuine leaf; the attacker's leaf for the name from a trusted
#     CA + a copy of the genuine leaf: SERVFAIL, the MITM gets no query;
#   - pin of the genuine intermediate; the attacker's leaf from another trusted
#     root + a copy of the genuine intermediate: the same;
#   - a leaf for another name from the trusted CA, with tls_auth_name: SERVFAIL;
#   - a self-signed leaf with the right name, with tls_auth_name: SERVFAIL;
#   - control: the genuine leaf and key behind the pin: validated answers;
#   - the genuine server turned hostile (dotmitm.py's modes): a 0-length
#     message, a length prefix past what follows, the answer to another
#     question under the query's ID, an ID never sent, an answer dribbled a
#     byte at a time, a close after the handshake: no wrong answer, no crash.
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
. tests/e2e/lib_proxy.sh
# k1..k9.world.test: names of the plain shape that the key cache answers
world_extra_records() {
    [ "$1" = world.test. ] || return 0
    local i
    for i in 1 2 3 4 5 6 7 8 9; do printf 'k%d\tIN\tA\t127.0.2.%d\n' "$i" "$i"; done
}
world_trap
world_start || exit 1
pki_init || { fail pki "cannot make the test PKI"; exit 1; }
pki_leaf dot dot.world.test || { fail pki "cannot make the DoT certificate"; exit 1; }
pki_leaf other other.world.test || { fail pki "cannot make the other certificate"; exit 1; }
pki_leaf mis dot.world.test || { fail pki "cannot make the mis-issued certificate"; exit 1; }
pki_selfsigned evil dot.world.test || { fail pki "cannot make the attacker's certificate"; exit 1; }
# a second trusted root that issued a leaf for the name directly
(cd "$PKI" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/O=daneguard tests/CN=second root" -keyout root2.key -out root2.pem \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
    openssl x509 -req -in mis.csr -CA root2.pem -CAkey root2.key -CAcreateserial -days 30 \
        -extfile mis.ext -out mis2.pem && cat root.pem root2.pem >roots.pem) \
    >>"$WORLD_DIR/pki.log" 2>&1 || { fail pki "cannot make the second root"; exit 1; }

ADDR=127.0.0.1
PORT=$(world_free_port "$ADDR") || { fail ports "no free port"; exit 1; }
spki_b64() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER |
    openssl dgst -sha256 -binary | base64; }
LEAF_PIN=$(spki_b64 "$PKI/dot.pem")
INTER_PIN=$(spki_b64 "$PKI/inter.pem")
MITM_LOG=$WORLD_DIR/mitm.log
MITM_PID=

# mitm CHAIN KEY [MODE]: (re)start the TLS server on ADDR#PORT with that chain
mitm() {
    [ -n "$MITM_PID" ] && kill "$MITM_PID" 2>/dev/null && wait "$MITM_PID" 2>/dev/null
    : >"$MITM_LOG"
    world_spawn mitm python3 tests/e2e/dotmitm.py "$ADDR" "$PORT" "$WORLD_NS_ADDR" "$WORLD_NS_PORT" \
        "$1" "$2" "$MITM_LOG" "${3:-relay}"
    MITM_PID=$WORLD_LAST_PID
    wait_listen "$PORT" "$ADDR" || { fail mitm "the MITM does not listen"; exit 1; }
}
# dg UPSTREAM-EXTRA: daneguard, DNS-over-TLS only, REQUIRED, the test root trusted
dg() {
    world_daneguard_stop
    cat "$WORLD_DIR/daneguard.log" >>"$WORLD_DIR/daneguard.all.log" 2>/dev/null
    : >"$WORLD_DIR/daneguard.log"
    world_daneguard_config "$WORLD_DIR/dg.yml" 'proxy.enabled: false' \
        "resolver.upstream_recursive_servers: [{address_data: $ADDR, tls_port: $PORT$1}]" \
        "resolver.dns_transport_list: [GETDNS_TRANSPORT_TLS]" \
        "resolver.tls_authentication: GETDNS_AUTHENTICATION_REQUIRED" \
        "resolver.tls_ca_file: \"$PKI/roots.pem\"" || exit 1
    world_daneguard_start "$WORLD_DIR/dg.yml" -v || { fail daneguard "does not start"; exit 1; }
}
q() { world_dig @127.0.0.1 -p "$DG_DNS_PORT" +time=5 +tries=1 +dnssec "$@"; }
queries() { grep -c '^query' "$MITM_LOG"; }
# refused TEST: www.world.test is not answered and the MITM saw no query
refused() {
    local out
    out=$(q www.world.test A)
    if [ "$(dig_rcode "$out")" != NOERROR ] && [ "$(queries)" -eq 0 ]; then
        pass "$1"
    else
        fail "$1" "rcode $(dig_rcode "$out"), flags $(dig_flags "$out"), $(queries) queries reached the MITM; log: $(grep -m1 'DNS-over-TLS' "$WORLD_DIR/daneguard.log")"
    fi
}

# control: the genuine certificate and key
cat "$PKI/dot.pem" "$PKI/inter.pem" >"$PKI/dot.full.pem"
mitm "$PKI/dot.full.pem" "$PKI/dot.key"
dg ", tls_auth_name: dot.world.test, tls_pubkey_pinset: [{digest: sha256, value: \"$LEAF_PIN\"}]"
out=$(q www.world.test A)
if [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" ad; then
    pass dot_mitm_control_genuine_pin_answers
else
    fail dot_mitm_control_genuine_pin_answers "rcode $(dig_rcode "$out"), flags $(dig_flags "$out")"
fi

# control: the genuine chain with its intermediate pinned
dg ", tls_auth_name: dot.world.test, tls_pubkey_pinset: [{digest: sha256, value: \"$INTER_PIN\"}]"
out=$(q www.world.test A)
if [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" ad; then
    pass dot_mitm_control_intermediate_pin_answers
else
    fail dot_mitm_control_intermediate_pin_answers "rcode $(dig_rcode "$out"), flags $(dig_flags "$out")"
fi

# control: the mis-issued leaf alone fails the pin
cat "$PKI/mis.pem" "$PKI/inter.pem" >"$PKI/mis.full.pem"
mitm "$PKI/mis.full.pem" "$PKI/mis.key"
dg ", tls_auth_name: dot.world.test, tls_pubkey_pinset: [{digest: sha256, value: \"$LEAF_PIN\"}]"
refused dot_mitm_misissued_leaf_pin_refused

# the mis-issued leaf, its intermediate, then a copy of the genuine leaf
cat "$PKI/mis.pem" "$PKI/inter.pem" "$PKI/dot.pem" >"$PKI/mis+dot.pem"
mitm "$PKI/mis+dot.pem" "$PKI/mis.key"
dg ", tls_auth_name: dot.world.test, tls_pubkey_pinset: [{digest: sha256, value: \"$LEAF_PIN\"}]"
refused dot_mitm_copied_pinned_leaf_refused

# a leaf from the second root, then a copy of the genuine intermediate (pinned)
cat "$PKI/mis2.pem" "$PKI/inter.pem" >"$PKI/mis2+inter.pem"
mitm "$PKI/mis2+inter.pem" "$PKI/mis.key"
dg ", tls_auth_name: dot.world.test, tls_pubkey_pinset: [{digest: sha256, value: \"$INTER_PIN\"}]"
refused dot_mitm_copied_pinned_intermediate_refused

# a leaf for another name from the trusted CA
cat "$PKI/other.pem" "$PKI/inter.pem" >"$PKI/other.full.pem"
mitm "$PKI/other.full.pem" "$PKI/other.key"
dg ", tls_auth_name: dot.world.test"
refused dot_mitm_other_name_refused

# a self-signed leaf with the right name, the genuine intermediate after it
cat "$PKI/evil.pem" "$PKI/inter.pem" >"$PKI/evil+inter.pem"
mitm "$PKI/evil+inter.pem" "$PKI/evil.key"
dg ", tls_auth_name: dot.world.test"
refused dot_mitm_selfsigned_right_name_refused

# the genuine server, hostile (it holds the key: these are protocol attacks)
H=0
for mode in zero huge otherq unsolicited dribble closehs; do
    H=$((H + 1))
    mitm "$PKI/dot.full.pem" "$PKI/dot.key" "$mode"
    dg ", tls_auth_name: dot.world.test, tls_pubkey_pinset: [{digest: sha256, value: \"$LEAF_PIN\"}]"
    t0=$(date +%s)
    out=$(q "n$H.world.test" A)
    t1=$(date +%s)
    if kill -0 "$DG_PID" 2>/dev/null && ! grep -q 'TXT' <<<"$(dig_answer "$out")" &&
        { [ "$(dig_rcode "$out")" != NOERROR ] || ! dig_has_flag "$out" ad ||
            [ "$mode" = unsolicited ]; } && [ $((t1 - t0)) -le 8 ] &&
        { [ "$mode" != unsolicited ] || dig_has_flag "$out" ad; }; then
        pass "dot_hostile_server_$mode"
    else
        fail "dot_hostile_server_$mode" "rcode $(dig_rcode "$out"), flags $(dig_flags "$out"), $((t1 - t0)) s, answer: $(dig_answer "$out" | tr '\n' ';')"
    fi
    echo "hostile $mode: rcode $(dig_rcode "$out"), flags $(dig_flags "$out"), $((t1 - t0)) s"
done
# and the server is good again: answered
mitm "$PKI/dot.full.pem" "$PKI/dot.key"
sleep 1
out=$(q www.world.test AAAA)
if [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" ad; then
    pass dot_recovers_after_hostile_server
else
    fail dot_recovers_after_hostile_server "rcode $(dig_rcode "$out"), flags $(dig_flags "$out")"
fi

# The upstream turns into a man in the middle while daneguard runs, after the
# key cache has learnt world.test: the new names that follow take the key
# cache's path, whose in-process query to the forwarder finds the upstream
# backed off for failed authentication. Each gets SERVFAIL, promptly, and
# the daemon survives (that failure once ran the lookup's callback inside
# the call and left a freed handle, which ASan shows as a use after free).
mitm "$PKI/dot.full.pem" "$PKI/dot.key"
dg ", tls_auth_name: dot.world.test"
out=$(q k1.world.test A)
out2=$(q k2.world.test A)
if dig_has_flag "$out" ad && dig_has_flag "$out2" ad; then
    pass dot_midrun_mitm_control_learnt
else
    fail dot_midrun_mitm_control_learnt "rcode $(dig_rcode "$out")/$(dig_rcode "$out2"), flags $(dig_flags "$out")/$(dig_flags "$out2")"
fi
mitm "$PKI/evil+inter.pem" "$PKI/evil.key"
bad=0 slow=0
for i in 3 4 5 6 7 8; do
    t0=$(date +%s)
    out=$(q "k$i.world.test" A)
    t1=$(date +%s)
    [ "$(dig_rcode "$out")" = SERVFAIL ] || bad=$((bad + 1))
    [ $((t1 - t0)) -le 4 ] || slow=$((slow + 1))
done
if [ "$bad" -eq 0 ] && [ "$slow" -eq 0 ] && kill -0 "$DG_PID" 2>/dev/null; then
    pass dot_midrun_mitm_servfail_promptly
else
    fail dot_midrun_mitm_servfail_promptly "$bad of 6 not SERVFAIL, $slow slower than 4 s, daemon $(kill -0 "$DG_PID" 2>/dev/null && echo alive || echo gone)"
fi
mitm "$PKI/dot.full.pem" "$PKI/dot.key"
ok=0
for _ in $(seq 1 10); do
    out=$(q k9.world.test A)
    if dig_has_flag "$out" ad; then ok=1; break; fi
    sleep 1
done
if [ "$ok" = 1 ]; then
    pass dot_midrun_mitm_recovers
else
    fail dot_midrun_mitm_recovers "rcode $(dig_rcode "$out"), flags $(dig_flags "$out")"
fi

# REQUIRED with UDP listed first: the forwarder uses TLS alone, and nothing
# else may ask the upstream in clear either (the DNSSEC probe, for one: its
# queries, and a verdict an on-path attacker could forge). The upstream's
# port 53 is the tampering relay, which logs what reaches it.
world_relay_start || { fail relay "the relay does not start"; exit 1; }
RPORT=$(world_free_port "$WORLD_RELAY_ADDR") || { fail ports "no free port"; exit 1; }
world_spawn mitm2 python3 tests/e2e/dotmitm.py "$WORLD_RELAY_ADDR" "$RPORT" "$WORLD_NS_ADDR" \
    "$WORLD_NS_PORT" "$PKI/dot.full.pem" "$PKI/dot.key" "$WORLD_DIR/mitm2.log"
wait_listen "$RPORT" "$WORLD_RELAY_ADDR" || { fail mitm "the second DoT server does not listen"; exit 1; }
world_daneguard_stop
cat "$WORLD_DIR/daneguard.log" >>"$WORLD_DIR/daneguard.all.log" 2>/dev/null
: >"$WORLD_DIR/daneguard.log"
: >"$WORLD_RELAY_LOG" # (world_relay_start's own check asked it world.test SOA)
world_daneguard_config "$WORLD_DIR/dg.yml" 'proxy.enabled: false' \
    "resolver.upstream_recursive_servers: [{address_data: $WORLD_RELAY_ADDR, port: $WORLD_RELAY_PORT, tls_port: $RPORT, tls_auth_name: dot.world.test}]" \
    "resolver.dns_transport_list: [GETDNS_TRANSPORT_UDP, GETDNS_TRANSPORT_TLS]" \
    "resolver.tls_authentication: GETDNS_AUTHENTICATION_REQUIRED" \
    "resolver.tls_ca_file: \"$PKI/roots.pem\"" || exit 1
world_daneguard_start "$WORLD_DIR/dg.yml" -v || { fail daneguard "does not start"; exit 1; }
out=$(q onlya.world.test A)
sleep 2
clear=$(world_relay_count '^(udp|tcp) ')
if [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" ad && [ "$clear" -eq 0 ]; then
    pass dot_required_udp_listed_nothing_in_clear
else
    fail dot_required_udp_listed_nothing_in_clear "rcode $(dig_rcode "$out"), flags $(dig_flags "$out"); $clear queries in clear reached the upstream: $(sort "$WORLD_RELAY_LOG" | uniq -c | head -n 4 | tr '\n' ';')"
fi

if kill -0 "$DG_PID" 2>/dev/null; then pass daemon_alive; else fail daemon_alive "daneguard exited"; fi
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORLD_DIR/daneguard.log" \
    "$WORLD_DIR/daneguard.all.log" 2>/dev/null; then
    fail no_sanitizer_reports "$(grep -hm3 -E 'Sanitizer|runtime error' "$WORLD_DIR"/daneguard*.log)"
else
    pass no_sanitizer_reports
fi
[ "$WORLD_FAILED" -eq 0 ]
