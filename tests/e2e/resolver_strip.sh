#!/usr/bin/env bash
# tests/e2e/resolver_strip.sh — upstreams that strip DNSSEC (issue 11).
# Relays (tests/world/dnsrelay.py) in front of NSD play the broken upstreams:
# "strip" removes every RRSIG, "drop" never answers DS queries.
#   a stripping upstream beside a good one → marked, logged once in plain words,
#     on the status page; answers validated through the good one, and the
#     stripper gets no client queries once probed (counted at its relay)
#   only stripping upstreams → SERVFAIL with an Extended DNS Error (RFC 8914)
#     whose text says why, and a log line that says what to do
#   DNS-over-TLS upstreams (REQUIRED, [TLS]): a DoT Unbound (validation off)
#     forwarding to the stripping relay beside one forwarding to the good
#     relay: the probe asks over the forwarder's TLS connections, the stripper
#     is marked, logged and on the status page, and gets no client queries
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
. tests/e2e/lib_proxy.sh
world_trap
N=20
world_extra_records() {
    [ "$1" = secure.world.test. ] || return 0
    for ((i = 1; i <= N; i++)); do echo "c$i IN A 127.0.0.1"; done
}
world_start || exit 1

# relay NAME RULES: a relay in front of NSD; sets R_ADDR, R_PORT, R_LOG.
relay() {
    R_ADDR=$(_world_pick_addr)
    R_PORT=$(world_free_port "$R_ADDR") || return 1
    R_LOG=$WORLD_DIR/$1-queries.log
    printf '%s\n' "$2" >"$WORLD_DIR/$1-rules.json"
    : >"$R_LOG"
    world_spawn "$1" /usr/bin/python3 tests/world/dnsrelay.py "$R_ADDR" "$R_PORT" \
        "$WORLD_NS_ADDR" "$WORLD_NS_PORT" "$WORLD_DIR/$1-rules.json" "$R_LOG"
    world_wait_dns "$R_ADDR" "$R_PORT" 10 || { world_log "relay $1 does not answer"; return 1; }
}
relay good '[]' || exit 1
GOOD_ADDR=$R_ADDR GOOD_PORT=$R_PORT
relay stripper '[{"qtype": "*", "action": "strip", "type": "RRSIG"}]' || exit 1
STRIP_ADDR=$R_ADDR STRIP_PORT=$R_PORT STRIP_LOG=$R_LOG
relay nods '[{"qtype": "DS", "action": "drop"}]' || exit 1
NODS_ADDR=$R_ADDR NODS_PORT=$R_PORT

q() { world_dig @127.0.0.1 -p "$DG_DNS_PORT" +time=5 +tries=1 +dnssec "$@"; }
brief() { echo "$(dig_rcode "$1") flags: $(dig_flags "$1") ede: $(dig_ede "$1")"; }
# wait_log REGEX: up to 10 s for a line of daneguard's log
wait_log() {
    local i
    for ((i = 0; i < 50; i++)); do
        grep -qE "$1" "$WORLD_DIR/daneguard.log" && return 0
        sleep 0.2
    done
    return 1
}
# client queries that reached a relay (the probe's own are under daneguard-probe
# or ask for the anchor's DNSKEY, which the good upstream is asked for too)
client_queries() { grep -vcE 'daneguard-probe|^[a-z]+ world\.test\. DNSKEY ' "$1"; }
status_notes() {
    curl -sS --max-time 5 "http://127.0.0.1:$DG_PROXY_PORT/status.json" |
        python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin).get("resolver_notes", [])))'
}

# --- one stripping upstream beside a good one ----------------------------------
world_daneguard_config "$WORLD_DIR/dg.yml" \
    "resolver.upstream_recursive_servers: [{address_data: $STRIP_ADDR, port: $STRIP_PORT}, {address_data: $GOOD_ADDR, port: $GOOD_PORT}]"
world_daneguard_start "$WORLD_DIR/dg.yml" || exit 1
if wait_log "$STRIP_ADDR port $STRIP_PORT removes DNSSEC signatures; daneguard cannot validate through it"; then
    pass stripper_logged
else
    fail stripper_logged "no log line: $(grep -i upstream "$WORLD_DIR/daneguard.log" | tail -n 3)"
fi
n=$(grep -c "removes DNSSEC signatures" "$WORLD_DIR/daneguard.log")
[ "$n" -eq 1 ] && pass stripper_logged_once || fail stripper_logged_once "$n lines"
if grep -qE "$GOOD_ADDR port $GOOD_PORT (removes|does not answer)" "$WORLD_DIR/daneguard.log"; then
    fail good_not_blamed "$(grep "$GOOD_ADDR" "$WORLD_DIR/daneguard.log" | head -n 2)"
else
    pass good_not_blamed
fi
if status_notes | grep -q "$STRIP_ADDR port $STRIP_PORT removes DNSSEC signatures"; then
    pass stripper_on_status_page
else
    fail stripper_on_status_page "$(status_notes | head -c 300)"
fi
before=$(client_queries "$STRIP_LOG")
ok=0
for ((i = 1; i <= N; i++)); do
    out=$(q "c$i.secure.world.test" A)
    [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" ad && ok=$((ok + 1))
done
after=$(client_queries "$STRIP_LOG")
echo "validated $ok of $N; client queries at the stripper: $before before, $after after"
[ "$ok" -eq "$N" ] && pass validated_through_good_upstream ||
    fail validated_through_good_upstream "$ok of $N answers with AD"
[ "$after" -eq "$before" ] && pass stripper_gets_no_client_queries ||
    fail stripper_gets_no_client_queries "$((after - before)) queries reached it after the probe"
# A reload probes again (a new resolver, a new probe): said once more.
n=$(grep -c 'reloaded ' "$WORLD_DIR/daneguard.log")
kill -HUP "$DG_PID"
for ((i = 0; i < 50; i++)); do
    [ "$(grep -c 'reloaded ' "$WORLD_DIR/daneguard.log")" -gt "$n" ] &&
        [ "$(grep -c "removes DNSSEC signatures" "$WORLD_DIR/daneguard.log")" -ge 2 ] && break
    sleep 0.2
done
if [ "$(grep -c "removes DNSSEC signatures" "$WORLD_DIR/daneguard.log")" -eq 2 ]; then
    pass probed_again_after_reload
else
    fail probed_again_after_reload "$(grep -cE "reloaded |removes DNSSEC" "$WORLD_DIR/daneguard.log") reload/strip lines"
fi
out=$(q c1.secure.world.test A)
dig_has_flag "$out" ad && pass validated_after_reload || fail validated_after_reload "$(brief "$out")"
world_daneguard_stop

# --- only stripping upstreams: SERVFAIL that says why ------------------------------
world_daneguard_config "$WORLD_DIR/dg.yml" \
    "resolver.upstream_recursive_servers: [{address_data: $STRIP_ADDR, port: $STRIP_PORT}, {address_data: $NODS_ADDR, port: $NODS_PORT}]"
world_daneguard_start "$WORLD_DIR/dg.yml" || exit 1
if wait_log "$NODS_ADDR port $NODS_PORT does not answer DS queries.*daneguard cannot validate through it"; then
    pass ds_dropper_logged
else
    fail ds_dropper_logged "no log line: $(grep -i upstream "$WORLD_DIR/daneguard.log" | tail -n 3)"
fi
if wait_log "no upstream passes DNSSEC.*upstream_recursive_servers"; then
    pass no_capable_upstream_logged_with_advice
else
    fail no_capable_upstream_logged_with_advice "$(grep -i upstream "$WORLD_DIR/daneguard.log" | tail -n 3)"
fi
out=$(q www.secure.world.test A)
ede_line=$(grep -m1 '^; EDE:' <<<"$out")
echo "dig: $ede_line"
if [ "$(dig_rcode "$out")" = SERVFAIL ] && [ -n "$(dig_ede "$out")" ] &&
    grep -q "removes DNSSEC signatures" <<<"$ede_line" && grep -q "does not answer DS" <<<"$ede_line"; then
    pass servfail_with_ede_why
else
    fail servfail_with_ede_why "$(brief "$out") $ede_line"
fi
if command -v kdig >/dev/null; then
    kout=$(timeout 10 kdig @127.0.0.1 -p "$DG_DNS_PORT" +dnssec +time=5 +retry=0 www.secure.world.test A 2>&1)
    if grep -q "SERVFAIL" <<<"$kout" && grep -qi "EDE: 10" <<<"$kout" &&
        grep -q "removes DNSSEC signatures" <<<"$kout"; then
        pass kdig_sees_ede
    else
        fail kdig_sees_ede "$(grep -iE 'status|EDE' <<<"$kout" | head -n 3)"
    fi
fi
# daneguard -n builds a resolver to check the trust anchors, but must send
# nothing: no probe reaches either relay.
before=$(cat "$STRIP_LOG" "$WORLD_DIR/nods-queries.log" | wc -l)
"${DANEGUARD_BIN:-$PWD/build/daneguard}" -n -c "$WORLD_DIR/dg.yml" >"$WORLD_DIR/n.out" 2>&1
sleep 1
after=$(cat "$STRIP_LOG" "$WORLD_DIR/nods-queries.log" | wc -l)
if grep -q "configuration OK" "$WORLD_DIR/n.out" && [ "$after" -eq "$before" ]; then
    pass config_check_sends_no_probe
else
    fail config_check_sends_no_probe "$((after - before)) queries at the relays; $(head -c 200 "$WORLD_DIR/n.out")"
fi
world_daneguard_stop

# --- DNS-over-TLS upstreams: probed over their TLS connections ------------------------
# dot_unbound NAME ADDR TLS-PORT FORWARD-ADDR FORWARD-PORT: a DoT Unbound (test
# PKI certificate for dot.world.test, no validation) forwarding to a relay.
dot_unbound() {
    cat >"$WORLD_DIR/$1.conf" <<EOF
server:
	interface: $2@$3
	tls-port: $3
	tls-service-key: "$PKI/dot.key"
	tls-service-pem: "$PKI/dot.full.pem"
	do-ip6: no
	username: ""
	chroot: ""
	directory: "$WORLD_DIR"
	pidfile: "$WORLD_DIR/$1.pid"
	use-syslog: no
	logfile: "$WORLD_DIR/$1.log"
	verbosity: 1
	do-not-query-localhost: no
	access-control: 127.0.0.0/8 allow
	local-zone: "test." nodefault
	module-config: "iterator"
	qname-minimisation: no
	num-threads: 1
remote-control:
	control-enable: no
forward-zone:
	name: "."
	forward-addr: $4@$5
EOF
    unbound-checkconf "$WORLD_DIR/$1.conf" >/dev/null || return 1
    world_spawn "$1" unbound -d -c "$WORLD_DIR/$1.conf"
    wait_listen "$3" "$2"
}
if pki_init && pki_leaf dot dot.world.test; then
    cat "$PKI/dot.pem" "$PKI/inter.pem" >"$PKI/dot.full.pem"
    DS_ADDR=$(_world_pick_addr) DS_PORT=$(world_free_port "$DS_ADDR")
    dot_unbound dotstrip "$DS_ADDR" "$DS_PORT" "$STRIP_ADDR" "$STRIP_PORT" || fail dot_servers "dotstrip"
    DOK_ADDR=$(_world_pick_addr) DOK_PORT=$(world_free_port "$DOK_ADDR")
    dot_unbound dotgood "$DOK_ADDR" "$DOK_PORT" "$GOOD_ADDR" "$GOOD_PORT" || fail dot_servers "dotgood"
    world_daneguard_config "$WORLD_DIR/dg.yml" \
        "resolver.upstream_recursive_servers: [{address_data: $DS_ADDR, tls_port: $DS_PORT, tls_auth_name: dot.world.test}, {address_data: $DOK_ADDR, tls_port: $DOK_PORT, tls_auth_name: dot.world.test}]" \
        "resolver.dns_transport_list: [TLS]" \
        "resolver.tls_authentication: GETDNS_AUTHENTICATION_REQUIRED" \
        "resolver.tls_ca_file: \"$PKI/root.pem\""
    world_daneguard_start "$WORLD_DIR/dg.yml" || exit 1
    if wait_log "$DS_ADDR port $DS_PORT \(DNS-over-TLS\) removes DNSSEC signatures; daneguard cannot validate through it"; then
        pass dot_stripper_logged
    else
        fail dot_stripper_logged "no log line: $(grep -i upstream "$WORLD_DIR/daneguard.log" | tail -n 3)"
    fi
    if grep -qE "$DOK_ADDR port $DOK_PORT .*(removes|does not answer)" "$WORLD_DIR/daneguard.log"; then
        fail dot_good_not_blamed "$(grep "$DOK_ADDR" "$WORLD_DIR/daneguard.log" | head -n 2)"
    else
        pass dot_good_not_blamed
    fi
    if status_notes | grep -qF "$DS_ADDR port $DS_PORT (DNS-over-TLS) removes DNSSEC signatures"; then
        pass dot_stripper_on_status_page
    else
        fail dot_stripper_on_status_page "$(status_notes | head -c 300)"
    fi
    before=$(client_queries "$STRIP_LOG")
    ok=0
    for ((i = 1; i <= N; i++)); do
        out=$(q "c$i.secure.world.test" A)
        [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" ad && ok=$((ok + 1))
    done
    after=$(client_queries "$STRIP_LOG")
    echo "DoT: validated $ok of $N; client queries behind the DoT stripper: $before before, $after after"
    [ "$ok" -eq "$N" ] && pass dot_validated_through_good_upstream ||
        fail dot_validated_through_good_upstream "$ok of $N answers with AD"
    [ "$after" -eq "$before" ] && pass dot_stripper_gets_no_client_queries ||
        fail dot_stripper_gets_no_client_queries "$((after - before)) queries reached it after the probe"
else
    fail dot_pki "cannot make the test PKI"
fi
# every run of daneguard appended to its log: no sanitizer report in any
world_daneguard_stop
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$WORLD_DIR/daneguard.log"; then
    fail no_sanitizer_report "$(grep -m1 -A4 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$WORLD_DIR/daneguard.log" | tr '\n' ' ' | head -c 600)"
else
    pass no_sanitizer_report
fi
[ "$WORLD_FAILED" -eq 0 ]
