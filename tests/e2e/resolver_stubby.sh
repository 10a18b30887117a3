#!/usr/bin/env bash
# tests/e2e/resolver_stubby.sh — Stubby's keys, all of them (issue 11):
#   - Debian's own /etc/stubby/stubby.yml passes `daneguard -n`, which says
#     what it ignores;
#   - a stubby.yml with every other Stubby key passes too, the trust-anchor
#     download keys with a line saying they do not apply;
#   - tls_pubkey_pinset, tls_ca_file and tls_ca_path are honoured: daneguard
#     talks DNS-over-TLS to an Unbound in front of the world's NSD whose
#     certificate comes from a test CA; the right pin answers, a wrong pin
#     does not, the test CA is trusted through tls_ca_file or tls_ca_path and
#     not without them.
# Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap
BIN=${DANEGUARD_BIN:-$PWD/build/daneguard}

# --- -n on Stubby's files -------------------------------------------------------------
sample=$(dpkg -L stubby 2>/dev/null | grep -m1 '/stubby\.yml$')
if [ -z "$sample" ] || [ ! -f "$sample" ]; then
    fail stubby_sample_check "Debian's stubby package is not installed (make deps DEPS_FOR=test)"
else
    out=$("$BIN" -n -c "$sample" 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && grep -q "configuration OK" <<<"$out"; then
        pass stubby_sample_check
    else
        fail stubby_sample_check "rc=$rc: $(head -c 400 <<<"$out")"
    fi
    missing= wrong=
    for k in $(grep -oE '^[a-z_]+' "$sample" | sort -u); do
        case $k in
        edns_client_subnet_private)
            grep -q ":[0-9]*: $k: .*does not apply" <<<"$out" || missing="$missing $k" ;;
        tls_query_padding_blocksize | round_robin_upstreams) # the forwarder applies them
            grep -q ":[0-9]*: $k: .*does not apply" <<<"$out" && wrong="$wrong $k" ;;
        esac
    done
    [ -z "$missing" ] && pass stubby_sample_says_what_it_ignores ||
        fail stubby_sample_says_what_it_ignores "no line for:$missing"
    [ -z "$wrong" ] && pass stubby_sample_padding_round_robin_apply ||
        fail stubby_sample_padding_round_robin_apply "said not to apply:$wrong"
fi

world_start || exit 1
WORLD_DIR_SAVED=$WORLD_DIR
cat >"$WORLD_DIR/all-keys.yml" <<EOF
resolution_type: GETDNS_RESOLUTION_STUB
dns_transport_list:
  - GETDNS_TRANSPORT_TLS
tls_authentication: GETDNS_AUTHENTICATION_REQUIRED
tls_query_padding_blocksize: 128
edns_client_subnet_private: 1
round_robin_upstreams: 1
idle_timeout: 10000
tls_connection_retries: 5
tls_backoff_time: 300
timeout: 1000
limit_outstanding_queries: 100
appdata_dir: "/var/cache/stubby"
trust_anchors_backoff_time: 2500
trust_anchors_url: "http://data.iana.org/root-anchors/"
trust_anchors_verify_CA: "-----BEGIN CERTIFICATE-----MIIDdzCCAl+gAwIBAgIBATANBgkqhkiG9w0BAQsFADBd-----END CERTIFICATE-----"
trust_anchors_verify_email: "dnssec@iana.org"
dnssec: GETDNS_EXTENSION_TRUE
dnssec_return_status: GETDNS_EXTENSION_TRUE
dnssec_trust_anchors:
  - "$WORLD_TA_FILE"
tls_ca_path: "/etc/ssl/certs/"
tls_ca_file: "/etc/ssl/certs/ca-certificates.crt"
tls_cipher_list: "EECDH+AESGCM:EECDH+CHACHA20"
tls_ciphersuites: "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
tls_min_version: GETDNS_TLS1_2
tls_max_version: GETDNS_TLS1_3
log_level: GETDNS_LOG_NOTICE
listen_addresses:
  - 127.0.0.1
  - 0::1
upstream_recursive_servers:
  - address_data: 145.100.185.15
    tls_auth_name: "dnsovertls.sinodun.com"
    tls_port: 853
    tls_cipher_list: "EECDH+AESGCM"
    tls_pubkey_pinset:
      - digest: "sha256"
        value: 62lKu9HsDVbyiPenApnc4sfmSYTHOVfFgL3pyB+cBL4=
EOF
out=$("$BIN" -n -c "$WORLD_DIR/all-keys.yml" 2>&1)
rc=$?
[ $rc -eq 0 ] && grep -q "configuration OK" <<<"$out" && pass stubby_every_key_accepted ||
    fail stubby_every_key_accepted "rc=$rc: $(head -c 400 <<<"$out")"
missing=
for k in trust_anchors_url trust_anchors_verify_CA trust_anchors_verify_email; do
    grep -q ": $k: does not apply to daneguard, which never downloads trust anchors" <<<"$out" ||
        missing="$missing $k"
done
[ -z "$missing" ] && pass stubby_trust_anchor_download_keys_logged ||
    fail stubby_trust_anchor_download_keys_logged "no line for:$missing"

# --- DNS-over-TLS with pins and CAs -------------------------------------------------------
WORLD_DIR=$WORLD_DIR_SAVED
pki_init && pki_leaf dot dot.world.test ec ||
    { fail pki "$(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
cat "$PKI/dot.pem" "$PKI/inter.pem" >"$PKI/dot.full.pem"
PIN=$(openssl x509 -in "$PKI/dot.pem" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)
BADPIN=$(head -c 32 /dev/urandom | base64)
mkdir -p "$PKI/cadir" && cp "$PKI/root.pem" "$PKI/cadir/" && openssl rehash "$PKI/cadir" 2>/dev/null

DOT_ADDR=127.0.0.1
DOT_PORT=$(world_free_port "$DOT_ADDR") || exit 1
cat >"$WORLD_DIR/unbound-dot.conf" <<EOF
server:
	interface: $DOT_ADDR@$DOT_PORT
	tls-port: $DOT_PORT
	tls-service-key: "$PKI/dot.key"
	tls-service-pem: "$PKI/dot.full.pem"
	do-ip6: no
	username: ""
	chroot: ""
	directory: "$WORLD_DIR"
	pidfile: "$WORLD_DIR/unbound-dot.pid"
	use-syslog: no
	logfile: "$WORLD_DIR/unbound-dot.log"
	verbosity: 1
	do-not-query-localhost: no
	trust-anchor-file: "$WORLD_TA_FILE"
	access-control: 127.0.0.0/8 allow
	local-zone: "test." nodefault
	module-config: "validator iterator"
	qname-minimisation: no
	num-threads: 1
remote-control:
	control-enable: no
forward-zone:
	name: "."
	forward-addr: $WORLD_NS_ADDR@$WORLD_NS_PORT
EOF
unbound-checkconf "$WORLD_DIR/unbound-dot.conf" >/dev/null ||
    { fail unbound_dot_config "$(unbound-checkconf "$WORLD_DIR/unbound-dot.conf" 2>&1 | tail -2)"; exit 1; }
world_spawn unbound-dot unbound -d -c "$WORLD_DIR/unbound-dot.conf"
up=0
for ((i = 0; i < 25; i++)); do
    kdig +tls +tls-ca="$PKI/root.pem" +tls-hostname=dot.world.test @"$DOT_ADDR" -p "$DOT_PORT" \
        +time=1 +retry=0 world.test SOA 2>/dev/null | grep -q 'status: NOERROR' && { up=1; break; }
    sleep 0.2
done
[ $up = 1 ] || { fail unbound_dot_up "$(tail -3 "$WORLD_DIR/unbound-dot.log")"; exit 1; }

# dot_try NAME EXPECT(answer|fail) UPSTREAM-EXTRA [TOP-LINE...]
dot_try() {
    local name=$1 expect=$2 extra=$3 out
    shift 3
    world_daneguard_config "$WORLD_DIR/dot.yml" \
        "resolver.upstream_recursive_servers: [{address_data: $DOT_ADDR, tls_port: $DOT_PORT, tls_auth_name: dot.world.test$extra}]" \
        "resolver.dns_transport_list: [GETDNS_TRANSPORT_TLS]" \
        "resolver.tls_authentication: GETDNS_AUTHENTICATION_REQUIRED" \
        "proxy.enabled: false" "$@"
    world_daneguard_start "$WORLD_DIR/dot.yml" || { fail "$name" "daneguard did not start"; return; }
    out=$(world_dig @127.0.0.1 -p "$DG_DNS_PORT" +dnssec www.secure.world.test A)
    if [ "$expect" = answer ]; then
        [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" ad && pass "$name" ||
            fail "$name" "rcode $(dig_rcode "$out"), flags $(dig_flags "$out")"
    else
        [ "$(dig_rcode "$out")" = SERVFAIL ] && pass "$name" ||
            fail "$name" "rcode $(dig_rcode "$out"): answered through an upstream it should not trust"
    fi
    world_daneguard_stop
    DG_DNS_PORT=
}

dot_try tls_ca_file_trusts_the_test_ca answer "" "resolver.tls_ca_file: \"$PKI/root.pem\""
dot_try tls_ca_path_trusts_the_test_ca answer "" "resolver.tls_ca_path: \"$PKI/cadir\""
dot_try tls_without_ca_keys_refuses_the_test_ca fail ""
dot_try tls_pinset_right_pin_answers answer \
    ", tls_pubkey_pinset: [{digest: sha256, value: \"$PIN\"}]" "resolver.tls_ca_file: \"$PKI/root.pem\""
dot_try tls_pinset_wrong_pin_refused fail \
    ", tls_pubkey_pinset: [{digest: sha256, value: \"$BADPIN\"}]" "resolver.tls_ca_file: \"$PKI/root.pem\""
dot_try tls_pinset_one_of_two_pins_answers answer \
    ", tls_pubkey_pinset: [{digest: sha256, value: \"$BADPIN\"}, {digest: sha256, value: \"$PIN\"}]" \
    "resolver.tls_ca_file: \"$PKI/root.pem\""

[ "$WORLD_FAILED" -eq 0 ]
