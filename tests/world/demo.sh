#!/usr/bin/env bash
# shellcheck disable=SC2119 # world_start [--rrl]: called without arguments
# tests/world/demo.sh — `make demo`: the hermetic test world with daneguard in
# front of it, for someone with no internet or no signed zone of their own.
# Prints commands to try, then runs until Ctrl-C (or DEMO_SECONDS, default a day).
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/world/world.sh
source tests/world/world.sh

world_trap
# A TLS origin for the proxy: one certificate for www and bad.secure.world.test.
# www publishes its TLSA record (DANE-EE), bad publishes one that matches nothing.
DEMO_PKI=$(mktemp -d /tmp/daneguard-demo-pki.XXXXXX)
trap 'rm -rf "$DEMO_PKI"; world_stop' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=www.secure.world.test -keyout "$DEMO_PKI/key.pem" -out "$DEMO_PKI/cert.pem" \
    -addext "subjectAltName=DNS:www.secure.world.test,DNS:bad.secure.world.test" 2>/dev/null ||
    exit 1
DEMO_HASH=$(openssl x509 -in "$DEMO_PKI/cert.pem" -pubkey -noout |
    openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
# Stable between runs, so that a browser set up once keeps working: the CA
# (DEMO_STATE/ca) and the ports (DNS 5300, proxy 8480, origin 8443), unless a
# port is taken, in which case a free one is used and said.
DEMO_STATE=${DEMO_STATE:-/var/tmp/daneguard-demo}
mkdir -p "$DEMO_STATE/ca" && chmod 0700 "$DEMO_STATE" || exit 1
port_free() { # PORT ADDR...: is PORT free for TCP and UDP on every ADDR?
    /usr/bin/python3 - "$@" <<'PY'
import socket, sys
port = int(sys.argv[1])
for a in sys.argv[2:]:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, kind)
        try:
            s.bind((a, port))
        except OSError:
            sys.exit(1)
        finally:
            s.close()
PY
}
stable_port() { # WANTED ADDR...
    local want=$1
    shift
    if port_free "$want" "$@"; then
        echo "$want"
    else
        world_log "port $want is taken on $*; using another one this time"
        world_free_port "$@"
    fi
}
DEMO_PORT=$(stable_port "${DEMO_ORIGIN_PORT:-8443}" 127.0.0.80 ::1) || exit 1
DG_DNS_PORT=$(stable_port "${DEMO_DNS_PORT:-5300}" 127.0.0.1 ::1) || exit 1
DG_PROXY_PORT=$(stable_port "${DEMO_PROXY_PORT:-8480}" 127.0.0.1) || exit 1
export DG_DNS_PORT DG_PROXY_PORT
world_extra_records() {
    [ "$1" = secure.world.test. ] || return 0
    echo "_$DEMO_PORT._tcp.www IN TLSA 3 1 1 $DEMO_HASH"
    echo "bad IN A 127.0.0.80"
    echo "_$DEMO_PORT._tcp.bad IN TLSA 3 1 1 $(echo stale | sha256sum | cut -d' ' -f1)"
}
world_start || exit 1
world_spawn origin openssl s_server -accept "127.0.0.80:$DEMO_PORT" -cert "$DEMO_PKI/cert.pem" \
    -key "$DEMO_PKI/key.pem" -www -quiet
world_spawn origin6 openssl s_server -accept "[::1]:$DEMO_PORT" -cert "$DEMO_PKI/cert.pem" \
    -key "$DEMO_PKI/key.pem" -www -quiet
world_unbound_start || world_log "no Unbound to compare with"
CFG=$WORLD_DIR/daneguard.yml
world_daneguard_config "$CFG" "proxy.allowed_ports: [443, 8443, $DEMO_PORT]" \
    "proxy.ca_dir: \"$DEMO_STATE/ca\""
world_daneguard_start "$CFG" -v || { world_log "daneguard did not start (make all?)"; exit 1; }

D="dig @127.0.0.1 -p $DG_DNS_PORT"
cat <<TXT

daneguard is answering DNS on 127.0.0.1 and ::1 port $DG_DNS_PORT, in front of
NSD on $WORLD_NS_ADDR port $WORLD_NS_PORT serving a small signed tree; its trust
anchor is the key of world.test. ($WORLD_TA_FILE).
Config: $CFG    log: $WORLD_DIR/daneguard.log

A signed name, validated (flags show "ad"):
  $D +dnssec www.secure.world.test A
An unsigned delegation (answer, no "ad"):
  $D +dnssec www.insecure.world.test A
A record altered after signing (SERVFAIL, "EDE: 6 (DNSSEC Bogus)"):
  $D +dnssec www.bogus.world.test A
...and the same with checking disabled (the altered data, 127.0.0.66):
  $D +dnssec +cd www.bogus.world.test A
Signatures that expired in 2020 (SERVFAIL, "EDE: 7 (Signature Expired)"):
  $D +dnssec www.expired.world.test A
A name that does not exist, with its NSEC proof:
  $D +dnssec nx.world.test A
Too big for UDP (TC), then over TCP:
  $D +ignore +notcp big.world.test TXT
  $D +tcp big.world.test TXT
TXT
if [ -n "${WORLD_UNBOUND_PORT:-}" ]; then
    echo "Compare with a validating Unbound on the same world:"
    echo "  dig @127.0.0.1 -p $WORLD_UNBOUND_PORT +dnssec www.bogus.world.test A"
fi
cat <<TXT

The HTTPS proxy listens on 127.0.0.1 port $DG_PROXY_PORT; its local CA is
$DEMO_STATE/ca/ca.crt (kept between runs, as are the ports, so a browser set
up once keeps working). An openssl s_server origin on 127.0.0.80:$DEMO_PORT.
Each command shows the status line, the certificate's issuer and subject:
  P() { curl -sv -o /dev/null -x http://127.0.0.1:$DG_PROXY_PORT --cacert $DEMO_STATE/ca/ca.crt "\$@" 2>&1 | grep -E '^< HTTP|issuer:|subject:'; }
A site whose TLSA record matches (intercepted, DANE checked: issuer is daneguard's CA, 200):
  P https://www.secure.world.test:$DEMO_PORT/
A site whose TLSA record matches nothing (502 and daneguard's page saying why):
  P https://bad.secure.world.test:$DEMO_PORT/
  curl -s -x http://127.0.0.1:$DG_PROXY_PORT --cacert $DEMO_STATE/ca/ca.crt https://bad.secure.world.test:$DEMO_PORT/ | grep -o '<p class="reason">[^<]*' | sed 's/.*>//'
An unsigned zone (tunnelled untouched: curl sees the origin's own certificate):
  P -k https://www.insecure.world.test:$DEMO_PORT/
daneguard's own pages (onboarding, CA, PAC, status):
  curl http://127.0.0.1:$DG_PROXY_PORT/proxy.pac
  curl http://127.0.0.1:$DG_PROXY_PORT/status.json
The operator's check of the same names:
  build/daneguard check www.secure.world.test $DEMO_PORT -c $CFG
  build/daneguard check bad.secure.world.test $DEMO_PORT -c $CFG

Ctrl-C stops everything and removes $WORLD_DIR (KEEP_WORLD=1 keeps it);
the CA in $DEMO_STATE stays (remove it to start afresh).
TXT
trap 'exit 0' INT TERM # a stop asked for is a clean end; the EXIT trap cleans up

end=$((SECONDS + ${DEMO_SECONDS:-86400}))
while [ "$SECONDS" -lt "$end" ]; do
    kill -0 "$DG_PID" 2>/dev/null || { world_log "daneguard exited; its log is above"; tail -n 20 "$WORLD_DIR/daneguard.log" >&2; exit 1; }
    sleep 1
done
