# shellcheck shell=bash
# tests/world/world.sh — the hermetic test world: a small signed DNS tree served
# by NSD on a loopback address, a validating Unbound to prove it, and daneguard
# started in front of it. Source this file; nothing here leaves 127.0.0.0/8 or ::1.
#
# The tree (all served by one NSD, every NS name resolves to that NSD):
#
#   .                      unsigned; delegates test. (so that getdns's DNSKEY
#                          query for the root gets an answer, not REFUSED;
#                          WORLD_ROOT=0 leaves it out)
#   test.                  unsigned; SOA, NS and the DS of world.test. (getdns
#                          1.6.0 asks for the anchor zone's DS: the parent must
#                          exist and answer it, see shared/design.md)
#   world.test.            signed, the trust anchor (WORLD_TA_FILE: its DS)
#     www                  A 127.0.0.80, AAAA ::1
#     alias                CNAME www
#     onlya                A 127.0.0.81 (AAAA gives NODATA)
#     big                  WORLD_BIG_COUNT TXT records, well over 1232 bytes
#     secure.   NS + DS    child signed with its own key
#     insecure. NS only    child unsigned
#     bogus.    NS + DS    child signed, www A altered after signing (bad RRSIG)
#     expired.  NS + DS    child signed with inception/expiration in 2020 (all
#                          but the DNSKEY RRset's own signature, which is valid)
#   each child:            SOA, NS, ns A, www A 127.0.0.80, www AAAA ::1
#
# Functions (all return non-zero on failure, with a message on stderr):
#   world_start [--rrl]          build, sign and serve the tree; exports WORLD_*
#   world_stop                   stop everything started, remove WORLD_DIR; idempotent
#   world_trap                   install world_stop on EXIT, INT and TERM
#   world_nsd_stop / world_nsd_start   take NSD away / bring it back on the same address
#   world_rebuild                rebuild and re-sign the zones, restart NSD
#   world_unbound_start          validating Unbound in front of NSD (WORLD_UNBOUND_*)
#   world_unbound_start --via-relay   the same in front of the relay (after world_relay_start)
#   world_daneguard_config FILE [LINE...]   write a daneguard config (DG_DNS_PORT, DG_PROXY_PORT)
#   world_daneguard_start FILE [ARGS...]    start daneguard, wait until it answers (DG_PID)
#   world_daneguard_stop
#   world_spawn NAME CMD...      start a background process, log in WORLD_DIR/NAME.log,
#                                PID registered for world_stop; sets WORLD_LAST_PID
#   world_free_port ADDR...      a port free for TCP and UDP on every ADDR
#   world_wait_dns ADDR PORT [SECONDS]  wait until ADDR#PORT answers world.test SOA
#   world_relay_start            a tampering relay (tests/world/dnsrelay.py) in front of
#                                NSD: WORLD_RELAY_ADDR/PORT, and WORLD_UPSTREAM_ADDR/PORT
#                                point at it, so world_daneguard_config uses it
#   world_relay_rules JSON       replace the relay's rules (see dnsrelay.py); live
#   world_relay_count REGEX      how many logged relay queries match REGEX
#                                ("proto qname qtype action" lines)
#
# Extending the tree (define before world_start or world_rebuild):
#   world_extra_records ZONE     a function; whatever it prints is appended to the
#                                zone file of ZONE ("world.test.", "secure.world.test.",
#                                ...) before signing. Owner names may be relative.
#                                $WORLD_NS_ADDR is set when it runs.
#   WORLD_EXTRA_CHILDREN         "label:mode ..." extra delegations under world.test.,
#                                mode one of secure, insecure, bogus, expired, shortlived
#                                (signed to expire WORLD_SHORTLIVED_SECS, default 30, after
#                                it is built; the time, in epoch seconds, is in
#                                WORLD_DIR/zones/LABEL.world.test..expires).
#   WORLD_KEEP_ANCHOR_KEY=1      world_rebuild re-signs world.test. with the key it had, so
#                                the trust anchor stays; every other zone gets a new key.
#
# Test helpers: pass NAME, fail NAME WHY, skip NAME WHY, check NAME CMD...,
# world_dig ARGS... (dig with a bounded wait), dig_rcode/dig_has_flag/dig_ede/
# dig_answer on dig's output.

WORLD_PIDS=()
WORLD_TOOLS="nsd ldns-keygen ldns-signzone ldns-key2ds dig python3"
WORLD_BIG_COUNT=${WORLD_BIG_COUNT:-24}
WORLD_EXTRA_CHILDREN=${WORLD_EXTRA_CHILDREN:-}
WORLD_CHILDREN="secure:secure insecure:insecure bogus:bogus expired:expired"

world_log() { echo "world: $*" >&2; }

# --- processes -------------------------------------------------------------

# world_spawn NAME CMD...: CMD in the background, stdout+stderr to WORLD_DIR/NAME.log.
world_spawn() {
    local name=$1
    shift
    "$@" >>"$WORLD_DIR/$name.log" 2>&1 &
    WORLD_LAST_PID=$!
    WORLD_PIDS+=("$WORLD_LAST_PID")
}

# world_kill PID: TERM, up to 5 s, then KILL; reaps it when it is our child.
world_kill() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        world_log "pid $pid ignored TERM, killing"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}

_world_forget_pid() {
    local pid=$1 p keep=()
    for p in "${WORLD_PIDS[@]}"; do
        [ "$p" = "$pid" ] || keep+=("$p")
    done
    WORLD_PIDS=("${keep[@]}")
}

world_stop() {
    local pid
    for pid in "${WORLD_PIDS[@]}"; do
        world_kill "$pid"
    done
    WORLD_PIDS=()
    if [ -n "${WORLD_DIR:-}" ] && [ -d "$WORLD_DIR" ]; then
        if [ "${KEEP_WORLD:-0}" = 1 ]; then
            world_log "kept $WORLD_DIR"
        else
            rm -rf "$WORLD_DIR"
        fi
    fi
    WORLD_DIR=
    return 0
}

world_trap() {
    trap world_stop EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# --- addresses and ports ---------------------------------------------------

# world_free_port ADDR...: print a port that is free for TCP and UDP on every ADDR.
world_free_port() {
    python3 - "$@" <<'EOF'
import socket, sys
addrs = sys.argv[1:] or ["127.0.0.1"]
def fam(a):
    return socket.AF_INET6 if ":" in a else socket.AF_INET
for _ in range(100):
    first = socket.socket(fam(addrs[0]), socket.SOCK_STREAM)
    first.bind((addrs[0], 0))
    port = first.getsockname()[1]
    held, ok = [first], True
    for a in addrs:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            if a == addrs[0] and kind == socket.SOCK_STREAM:
                continue
            s = socket.socket(fam(a), kind)
            held.append(s)
            try:
                s.bind((a, port))
            except OSError:
                ok = False
    for s in held:
        s.close()
    if ok:
        print(port)
        sys.exit(0)
sys.exit(1)
EOF
}

# A random 127.x.y.z for NSD so that parallel worlds do not meet.
_world_pick_addr() {
    echo "127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 2))"
}

# world_wait_dns ADDR PORT [SECONDS]: until ADDR#PORT answers world.test. SOA.
world_wait_dns() {
    local addr=$1 port=$2 secs=${3:-5} i out
    for ((i = 0; i < secs * 5; i++)); do
        out=$(dig @"$addr" -p "$port" +time=1 +tries=1 world.test. SOA 2>/dev/null)
        if grep -q 'status: NOERROR' <<<"$out" && grep -q 'IN[[:space:]]SOA' <<<"$out"; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# --- zones -------------------------------------------------------------------

_world_keygen() { # ZONE → prints the key's base path
    local zone=$1 base
    base=$(cd "$WORLD_DIR/keys" && ldns-keygen -a ECDSAP256SHA256 -k "$zone") || return 1
    echo "$WORLD_DIR/keys/$base"
}

_world_soa_ns() { # ZONE
    local zone=$1
    cat <<EOF
\$ORIGIN $zone
\$TTL 3600
@	IN	SOA	ns.$zone hostmaster.$zone 1 3600 900 604800 300
@	IN	NS	ns.$zone
ns	IN	A	$WORLD_NS_ADDR
EOF
}

_world_extra() { # ZONE: the hook's records, if any
    if declare -F world_extra_records >/dev/null; then
        echo "\$ORIGIN $1"
        world_extra_records "$1" || return 1
    fi
}

# _world_sign ZONE SRC OUT KEYBASE [INCEPTION EXPIRATION]
_world_sign() {
    local zone=$1 src=$2 out=$3 key=$4
    local inc=${5:-$(date -u -d '-1 hour' +%Y%m%d%H%M%S)}
    local exp=${6:-$(date -u -d '+30 days' +%Y%m%d%H%M%S)}
    ldns-signzone -o "$zone" -i "$inc" -e "$exp" -f "$out" "$src" "$key" ||
        { world_log "ldns-signzone failed for $zone"; return 1; }
}

# _world_child LABEL MODE: builds LABEL.world.test. into WORLD_DIR/zones and
# prints the records the parent needs (NS, glue, DS when signed).
_world_child() {
    local label=$1 mode=$2 zone="$1.world.test." src out key
    src="$WORLD_DIR/zones/$zone.src"
    out="$WORLD_DIR/zones/$zone.zone"
    {
        _world_soa_ns "$zone"
        printf 'www\tIN\tA\t127.0.0.80\nwww\tIN\tAAAA\t::1\n'
        _world_extra "$zone" || return 1
    } >"$src" || return 1
    case $mode in
    insecure)
        cp "$src" "$out" ;;
    secure)
        key=$(_world_keygen "$zone") && _world_sign "$zone" "$src" "$out" "$key" || return 1 ;;
    expired)
        # Every signature expired in 2020 except the one over the DNSKEY RRset:
        # the chain of trust holds and the data's signatures are what fails
        # (EDE 7 Signature Expired, not EDE 9 DNSKEY Missing).
        key=$(_world_keygen "$zone") &&
            _world_sign "$zone" "$src" "$out.valid" "$key" &&
            _world_sign "$zone" "$src" "$out.old" "$key" 20200101000000 20200201000000 || return 1
        {
            awk '$4 == "DNSKEY" || ($4 == "RRSIG" && $5 == "DNSKEY")' "$out.valid"
            awk '!($4 == "DNSKEY" || ($4 == "RRSIG" && $5 == "DNSKEY"))' "$out.old"
        } >"$out" && rm -f "$out.valid" "$out.old" || return 1 ;;
    shortlived)
        local expires=$(($(date +%s) + ${WORLD_SHORTLIVED_SECS:-30}))
        key=$(_world_keygen "$zone") &&
            _world_sign "$zone" "$src" "$out" "$key" "" "$(date -u -d "@$expires" +%Y%m%d%H%M%S)" &&
            echo "$expires" >"$WORLD_DIR/zones/$zone.expires" || return 1 ;;
    bogus)
        key=$(_world_keygen "$zone") && _world_sign "$zone" "$src" "$out" "$key" || return 1
        # Change the data after signing: the RRSIG over www A no longer verifies.
        sed -i -E "s/^(www\.$label\.world\.test\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+)127\.0\.0\.80/\\1127.0.0.66/" "$out"
        grep -q '127\.0\.0\.66' "$out" || { world_log "could not alter $zone"; return 1; } ;;
    *)
        world_log "unknown child mode $mode for $label"; return 1 ;;
    esac
    printf '%s\tIN\tNS\tns.%s\n' "$label" "$zone"
    printf 'ns.%s\tIN\tA\t%s\n' "$label" "$WORLD_NS_ADDR"
    if [ "$mode" != insecure ]; then
        ldns-key2ds -n -2 "$key.key" | awk '{ print $1 "\t" $3 "\t" $4 "\t" $5 " " $6 " " $7 " " $8 }'
    fi
}

# world_build_zones: every zone file in WORLD_DIR/zones, signed; sets WORLD_ZONES
# and WORLD_TA_FILE. Keys are made new each time.
world_build_zones() {
    local z="$WORLD_DIR/zones" key i c delegations
    if [ "${WORLD_KEEP_ANCHOR_KEY:-0}" = 1 ] && [ -f "${WORLD_ANCHOR_KEY:-}.key" ]; then
        mkdir -p "$WORLD_DIR/anchor-key" && cp "$WORLD_ANCHOR_KEY".* "$WORLD_DIR/anchor-key/" || return 1
    fi
    rm -rf "$WORLD_DIR/zones" "$WORLD_DIR/keys"
    mkdir -p "$z" "$WORLD_DIR/keys" || return 1
    WORLD_ZONES=()

    delegations=""
    for c in $WORLD_CHILDREN $WORLD_EXTRA_CHILDREN; do
        delegations+=$(_world_child "${c%%:*}" "${c#*:}") || return 1
        delegations+=$'\n'
        WORLD_ZONES+=("${c%%:*}.world.test.")
    done

    if [ "${WORLD_KEEP_ANCHOR_KEY:-0}" = 1 ] && [ -d "$WORLD_DIR/anchor-key" ]; then
        mv "$WORLD_DIR/anchor-key"/* "$WORLD_DIR/keys/" && rmdir "$WORLD_DIR/anchor-key" || return 1
        key=$WORLD_DIR/keys/${WORLD_ANCHOR_KEY##*/}
    else
        key=$(_world_keygen world.test.) || return 1
    fi
    WORLD_ANCHOR_KEY=$key
    {
        _world_soa_ns world.test.
        printf 'www\tIN\tA\t127.0.0.80\n'
        printf 'www\tIN\tAAAA\t::1\n'
        printf 'alias\tIN\tCNAME\twww\n'
        printf 'onlya\tIN\tA\t127.0.0.81\n'
        for ((i = 1; i <= WORLD_BIG_COUNT; i++)); do
            printf 'big\tIN\tTXT\t"record %02d of the big RRset, padded so that the whole set is far larger than 1232 bytes ........"\n' "$i"
        done
        printf '%s' "$delegations"
        _world_extra world.test. || return 1
    } >"$z/world.test..src" || return 1
    _world_sign world.test. "$z/world.test..src" "$z/world.test..zone" "$key" || return 1
    WORLD_ZONES+=(world.test.)

    WORLD_TA_FILE="$WORLD_DIR/world.test.ds"
    WORLD_TA_DNSKEY_FILE="$WORLD_DIR/world.test.dnskey"
    ldns-key2ds -n -2 "$key.key" >"$WORLD_TA_FILE" || return 1
    awk '/DNSKEY/ { sub(/;.*/, ""); print }' "$key.key" >"$WORLD_TA_DNSKEY_FILE"

    {
        _world_soa_ns test.
        printf 'world\tIN\tNS\tns.world.test.\n'
        printf 'ns.world\tIN\tA\t%s\n' "$WORLD_NS_ADDR"
        awk '{ print "world\tIN\tDS\t" $5 " " $6 " " $7 " " $8 }' "$WORLD_TA_FILE"
        _world_extra test. || return 1
    } >"$z/test..zone" || return 1
    WORLD_ZONES+=(test.)

    if [ "${WORLD_ROOT:-1}" = 1 ]; then
        {
            # shellcheck disable=SC2016 # $TTL is zone-file syntax
            printf '$TTL 3600\n.\tIN\tSOA\tns.test. hostmaster.test. 1 3600 900 604800 300\n'
            printf '.\tIN\tNS\tns.test.\n'
            printf 'test.\tIN\tNS\tns.test.\n'
            printf 'ns.test.\tIN\tA\t%s\n' "$WORLD_NS_ADDR"
        } >"$z/..zone" || return 1
        WORLD_ZONES+=(.)
    fi
    export WORLD_TA_FILE WORLD_TA_DNSKEY_FILE
}

_world_nsd_conf() {
    local rrl="	rrl-ratelimit: 0" zone
    [ "${WORLD_RRL:-0}" = 1 ] && rrl="	# rrl-ratelimit: NSD's default"
    cat <<EOF
server:
	ip-address: $WORLD_NS_ADDR@$WORLD_NS_PORT
	port: $WORLD_NS_PORT
	do-ip6: no
	username: ""
	chroot: ""
	zonesdir: "$WORLD_DIR/zones"
	pidfile: "$WORLD_DIR/nsd.pid"
	xfrdfile: "$WORLD_DIR/xfrd.state"
	zonelistfile: "$WORLD_DIR/zone.list"
	database: ""
	logfile: "$WORLD_DIR/nsd.log"
	server-count: 1
	verbosity: 1
	hide-version: yes
$rrl
remote-control:
	control-enable: no
EOF
    for zone in "${WORLD_ZONES[@]}"; do
        printf 'zone:\n\tname: "%s"\n\tzonefile: "%s.zone"\n' "$zone" "$zone"
    done
}

# world_nsd_start: (re)start NSD on WORLD_NS_ADDR#WORLD_NS_PORT, wait until it answers.
world_nsd_start() {
    _world_nsd_conf >"$WORLD_DIR/nsd.conf" || return 1
    nsd-checkconf "$WORLD_DIR/nsd.conf" || { world_log "bad nsd.conf"; return 1; }
    world_spawn nsd nsd -d -c "$WORLD_DIR/nsd.conf"
    WORLD_NSD_PID=$WORLD_LAST_PID
    export WORLD_NSD_PID
    if ! world_wait_dns "$WORLD_NS_ADDR" "$WORLD_NS_PORT" 5; then
        world_log "NSD does not answer on $WORLD_NS_ADDR#$WORLD_NS_PORT; its log:"
        tail -n 20 "$WORLD_DIR/nsd.log" "$WORLD_DIR/nsd.log" 2>/dev/null >&2
        return 1
    fi
}

world_nsd_stop() {
    [ -n "${WORLD_NSD_PID:-}" ] || return 0
    world_kill "$WORLD_NSD_PID"
    _world_forget_pid "$WORLD_NSD_PID"
    WORLD_NSD_PID=
}

world_rebuild() {
    world_nsd_stop && world_build_zones && world_nsd_start
}

# world_start [--rrl]
world_start() {
    local t
    WORLD_RRL=0
    [ "${1:-}" = --rrl ] && WORLD_RRL=1
    for t in $WORLD_TOOLS; do
        command -v "$t" >/dev/null || { world_log "missing tool: $t (make deps DEPS_FOR=test)"; return 1; }
    done
    WORLD_DIR=$(mktemp -d /tmp/daneguard-world.XXXXXX) || return 1
    export WORLD_DIR
    WORLD_NS_ADDR=${WORLD_NS_ADDR:-$(_world_pick_addr)}
    WORLD_NS_PORT=$(world_free_port "$WORLD_NS_ADDR") || { world_log "no free port"; return 1; }
    export WORLD_NS_ADDR WORLD_NS_PORT
    world_build_zones || return 1
    world_nsd_start || return 1
    world_log "NSD on $WORLD_NS_ADDR#$WORLD_NS_PORT, zones in $WORLD_DIR/zones"
}

# --- Unbound -----------------------------------------------------------------

world_unbound_start() {
    local up="$WORLD_NS_ADDR@$WORLD_NS_PORT"
    [ "${1:-}" = --via-relay ] && up="$WORLD_RELAY_ADDR@$WORLD_RELAY_PORT"
    WORLD_UNBOUND_ADDR=127.0.0.1
    WORLD_UNBOUND_PORT=$(world_free_port "$WORLD_UNBOUND_ADDR") || return 1
    cat >"$WORLD_DIR/unbound.conf" <<EOF
server:
	interface: $WORLD_UNBOUND_ADDR
	port: $WORLD_UNBOUND_PORT
	do-ip6: no
	username: ""
	chroot: ""
	directory: "$WORLD_DIR"
	pidfile: "$WORLD_DIR/unbound.pid"
	use-syslog: no
	logfile: "$WORLD_DIR/unbound.log"
	verbosity: 1
	val-log-level: 2
	ede: yes
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
	forward-addr: $up
EOF
    unbound-checkconf "$WORLD_DIR/unbound.conf" >/dev/null || { world_log "bad unbound.conf"; return 1; }
    world_spawn unbound unbound -d -c "$WORLD_DIR/unbound.conf"
    WORLD_UNBOUND_PID=$WORLD_LAST_PID
    export WORLD_UNBOUND_ADDR WORLD_UNBOUND_PORT WORLD_UNBOUND_PID
    if ! world_wait_dns "$WORLD_UNBOUND_ADDR" "$WORLD_UNBOUND_PORT" 5; then
        world_log "Unbound does not answer; its log:"
        tail -n 20 "$WORLD_DIR/unbound.log" >&2
        return 1
    fi
}

# --- daneguard -----------------------------------------------------------------

# world_daneguard_config FILE [LINE...]
# Writes a config for daneguard in front of the world. Each LINE either
# replaces or adds one key of a section, "resolver.KEY: VALUE" or
# "proxy.KEY: VALUE" (VALUE in YAML flow style, e.g. "resolver.allow: [10.0.0.0/8]"),
# or is appended as it is at the top level (e.g. "user: nobody").
# The proxy defaults let it reach the world's origins: allow_destinations
# [127.0.0.0/8, ::1/128] and http_ports [80, 1024-65535] (override either).
# Exports DG_DNS_PORT and DG_PROXY_PORT (kept when already set, so a rewrite
# for a reload keeps the ports).
world_daneguard_config() {
    local file=$1 line key sec k
    shift
    DG_DNS_PORT=${DG_DNS_PORT:-$(world_free_port 127.0.0.1 ::1)} || return 1
    DG_PROXY_PORT=${DG_PROXY_PORT:-$(world_free_port 127.0.0.1)} || return 1
    export DG_DNS_PORT DG_PROXY_PORT
    mkdir -p "$WORLD_DIR/ca"
    local -a r_keys=(listen_addresses upstream_recursive_servers dnssec_trust_anchors timeout allow rebind_protection)
    local -A r_val=(
        [listen_addresses]=$'\n    - "127.0.0.1@'"$DG_DNS_PORT"$'"\n    - "::1@'"$DG_DNS_PORT"'"'
        [upstream_recursive_servers]=$'\n    - address_data: '"${WORLD_UPSTREAM_ADDR:-$WORLD_NS_ADDR}"$'\n      port: '"${WORLD_UPSTREAM_PORT:-$WORLD_NS_PORT}"
        [dnssec_trust_anchors]=$'\n    - "'"$WORLD_TA_FILE"'"'
        [timeout]=2000
        [allow]=$'\n    - 127.0.0.0/8\n    - ::1/128'
        # the world's names point at 127.0.0.x and ::1, which rebinding
        # protection (on by default) removes; tests/e2e/resolver_local.sh turns it on
        [rebind_protection]=false
    )
    # The world's origins are on 127.0.0.x and ::1, on ports picked at run
    # time: the proxy must be told it may reach them (issue 8).
    local -a p_keys=(listen_addresses ca_dir allow_destinations http_ports)
    local -A p_val=(
        [listen_addresses]=$'\n    - "127.0.0.1@'"$DG_PROXY_PORT"'"'
        [ca_dir]="\"$WORLD_DIR/ca\""
        [allow_destinations]='[127.0.0.0/8, "::1/128"]'
        [http_ports]='[80, 1024-65535]'
    )
    local -a top=()
    for line in "$@"; do
        case $line in
        resolver.*:* | proxy.*:*)
            sec=${line%%.*}
            key=${line#*.}
            key=${key%%:*}
            local val=${line#*:}
            val=${val# }
            if [ "$sec" = resolver ]; then
                [ -n "${r_val[$key]+x}" ] || r_keys+=("$key")
                r_val[$key]=$val
            else
                [ -n "${p_val[$key]+x}" ] || p_keys+=("$key")
                p_val[$key]=$val
            fi ;;
        *)
            top+=("$line") ;;
        esac
    done
    {
        echo "# written by tests/world/world.sh for the world in $WORLD_DIR"
        echo "resolver:"
        for k in "${r_keys[@]}"; do
            echo "  $k: ${r_val[$k]}"
        done
        echo "proxy:"
        for k in "${p_keys[@]}"; do
            echo "  $k: ${p_val[$k]}"
        done
        for line in "${top[@]}"; do
            echo "$line"
        done
    } >"$file"
}

# world_daneguard_start FILE [ARGS...]: start daneguard -c FILE ARGS, stderr to
# WORLD_DIR/daneguard.log; waits (about 10 s at most) until it answers anything
# on 127.0.0.1#DG_DNS_PORT.
world_daneguard_start() {
    local file=$1 bin=${DANEGUARD_BIN:-$PWD/build/daneguard} i
    shift
    [ -x "$bin" ] || { world_log "no daneguard binary at $bin (make)"; return 1; }
    world_spawn daneguard "$bin" -c "$file" "$@"
    DG_PID=$WORLD_LAST_PID
    export DG_PID
    # Up means any DNS answer: a daneguard that refuses us (allow) is up too.
    for ((i = 0; i < 40; i++)); do
        if ! kill -0 "$DG_PID" 2>/dev/null; then
            world_log "daneguard exited early; its log:"
            tail -n 20 "$WORLD_DIR/daneguard.log" >&2
            return 1
        fi
        dig @127.0.0.1 -p "$DG_DNS_PORT" +time=1 +tries=1 world.test. SOA 2>/dev/null |
            grep -q 'status: ' && return 0
        sleep 0.25
    done
    world_log "daneguard does not answer on 127.0.0.1#$DG_DNS_PORT; its log:"
    tail -n 20 "$WORLD_DIR/daneguard.log" >&2
    return 1
}

world_daneguard_stop() {
    [ -n "${DG_PID:-}" ] || return 0
    world_kill "$DG_PID"
    _world_forget_pid "$DG_PID"
    DG_PID=
}

# --- the tampering relay ----------------------------------------------------

world_relay_start() {
    WORLD_RELAY_ADDR=$(_world_pick_addr)
    WORLD_RELAY_PORT=$(world_free_port "$WORLD_RELAY_ADDR") || return 1
    WORLD_RELAY_RULES=$WORLD_DIR/relay-rules.json
    WORLD_RELAY_LOG=$WORLD_DIR/relay-queries.log
    echo '[]' >"$WORLD_RELAY_RULES"
    : >"$WORLD_RELAY_LOG"
    world_spawn relay /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/dnsrelay.py" \
        "$WORLD_RELAY_ADDR" "$WORLD_RELAY_PORT" "$WORLD_NS_ADDR" "$WORLD_NS_PORT" \
        "$WORLD_RELAY_RULES" "$WORLD_RELAY_LOG"
    WORLD_RELAY_PID=$WORLD_LAST_PID
    world_wait_dns "$WORLD_RELAY_ADDR" "$WORLD_RELAY_PORT" 10 || {
        world_log "the relay does not answer"; return 1; }
    WORLD_UPSTREAM_ADDR=$WORLD_RELAY_ADDR
    WORLD_UPSTREAM_PORT=$WORLD_RELAY_PORT
    export WORLD_RELAY_ADDR WORLD_RELAY_PORT WORLD_RELAY_RULES WORLD_RELAY_LOG \
        WORLD_UPSTREAM_ADDR WORLD_UPSTREAM_PORT
}

# world_relay_rules JSON: written whole to a temporary file and renamed, so the
# relay never reads half of it.
world_relay_rules() {
    printf '%s\n' "$1" >"$WORLD_RELAY_RULES.tmp" && mv "$WORLD_RELAY_RULES.tmp" "$WORLD_RELAY_RULES"
}

world_relay_count() { grep -Ec "$1" "$WORLD_RELAY_LOG"; }

# --- test helpers -------------------------------------------------------------

WORLD_PASSED=0
WORLD_FAILED=0
pass() { echo "PASS $1"; WORLD_PASSED=$((WORLD_PASSED + 1)); }
fail() { echo "FAIL $1: ${2:-failed}"; WORLD_FAILED=$((WORLD_FAILED + 1)); }
skip() { echo "SKIP $1: ${2:-skipped}"; }

# check NAME CMD...: PASS when CMD exits 0, else FAIL with the tail of its output.
check() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        pass "$name"
    else
        fail "$name" "$(tail -n 3 <<<"$out" | tr '\n' ' ')"
    fi
}

# world_dig ARGS...: dig with a bounded wait (2 s, one try) and nothing from resolv.conf.
world_dig() { dig +time=2 +tries=1 "$@" 2>&1; }

# On dig's full output:
dig_rcode() { sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$1" | head -n 1; }
dig_flags() { sed -n 's/^;; flags: \([a-z ]*\);.*/\1/p' <<<"$1" | head -n 1; }
dig_has_flag() { [[ " $(dig_flags "$1") " == *" $2 "* ]]; }
dig_ede() { sed -n 's/^; EDE: \([0-9]*\).*/\1/p' <<<"$1" | head -n 1; }
# dig_section OUT NAME: the records of one section (ANSWER, AUTHORITY, ADDITIONAL).
dig_section() {
    awk -v s=";; $2 SECTION:" '$0 == s { on = 1; next } on && /^$/ { exit } on { print }' <<<"$1"
}
# dig_answer OUT: answer records, TTL dropped, whitespace folded, sorted.
dig_answer() {
    dig_section "$1" ANSWER | awk '{ $2 = ""; print }' | tr -s ' \t' ' ' | sort
}
# dig_count OUT SECTION TYPE: how many records of TYPE in SECTION.
dig_count() { dig_section "$1" "$2" | awk -v t="$3" '$4 == t { n++ } END { print n + 0 }'; }

# world_dns_query_hex NAME TYPE [ID [OPCODE [QDCOUNT [FLAGS]]]]: a DNS query in hex
# (FLAGS, the second header word less the opcode, defaults to RD), for
# world_dns_send, so that tests can also build malformed ones.
world_dns_query_hex() {
    python3 - "$@" <<'EOF'
import struct, sys
a = sys.argv[1:]
name, qtype = a[0], a[1]
qid = int(a[2]) if len(a) > 2 else 4660
opcode = int(a[3]) if len(a) > 3 else 0
qd = int(a[4]) if len(a) > 4 else 1
flags = int(a[5], 0) if len(a) > 5 else 0x0100
types = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "TXT": 16, "AAAA": 28, "DS": 43, "DNSKEY": 48, "TLSA": 52}
t = types[qtype] if qtype in types else int(qtype)
q = struct.pack("!HHHHHH", qid, flags | (opcode << 11), qd, 0, 0, 0)
for label in name.rstrip(".").split("."):
    if label:
        q += bytes([len(label)]) + label.encode()
q += b"\0" + struct.pack("!HH", t, 1)
print(q.hex())
EOF
}

# world_dns_send udp|tcp ADDR PORT HEX...: send each message (over TCP all of them
# in one write on one connection, pipelined) and print one line per answer:
# "id=N rcode=N opcode=N flags=0xNNNN an=N size=N", or "timeout" (3 s at most).
world_dns_send() {
    python3 - "$@" <<'EOF'
import socket, struct, sys, time
proto, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
msgs = [bytes.fromhex(h) for h in sys.argv[4:]]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
def show(m):
    if len(m) < 12:
        print("short size=%d" % len(m))
        return
    qid, fl, qd, an, ns, ar = struct.unpack("!HHHHHH", m[:12])
    print("id=%d rcode=%d opcode=%d flags=0x%04x an=%d size=%d" % (qid, fl & 15, (fl >> 11) & 15, fl, an, len(m)))
if proto == "udp":
    for m in msgs:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(3)
        s.sendto(m, (addr, port))
        try:
            show(s.recv(65535))
        except socket.timeout:
            print("timeout")
        s.close()
else:
    s = socket.create_connection((addr, port), timeout=3)
    s.sendall(b"".join(struct.pack("!H", len(m)) + m for m in msgs))
    buf, got, end = b"", 0, time.time() + 3
    while got < len(msgs) and time.time() < end:
        while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
            n = struct.unpack("!H", buf[:2])[0]
            show(buf[2:2 + n])
            buf = buf[2 + n:]
            got += 1
        if got == len(msgs):
            break
        try:
            d = s.recv(65535)
        except socket.timeout:
            break
        if not d:
            break
        buf += d
    for _ in range(len(msgs) - got):
        print("timeout")
    s.close()
EOF
}
