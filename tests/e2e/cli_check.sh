#!/usr/bin/env bash
# tests/e2e/cli_check.sh — `daneguard check` end to end, against the test world.
#
# Certificates are made here with the openssl CLI (a root, an intermediate and
# one leaf per case); their hashes go into TLSA records that world_extra_records
# adds before the zones are signed. Origins are `openssl s_server` on
# 127.0.0.80 (and [::1] where the host has an AAAA) on ports picked free, and a
# small python3 SMTP responder doing STARTTLS. `check` always runs with -c and
# the world's config, so its resolver asks only the world's NSD.
#
# Cases: secure + matching on both addresses, one address presenting the wrong
# chain, a mismatch, a rollover pair with a stale record, a single record, a
# 3 0 1 record, a PKIX-EE record with a certificate about to expire, no TLSA,
# an insecure zone, a bogus A RRset, expired signatures on the TLSA RRset, a
# CNAME'd host using the target's TLSA (RFC 7671 §7) and one falling back to the
# original name, SMTP STARTTLS, --help and bad usage. Prints "PASS name" /
# "FAIL name: why"; every process is killed by PID on exit (world_trap).
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
world_trap
BIN=${DANEGUARD_BIN:-$PWD/${BUILD:-build}/daneguard}
work=$(mktemp -d /tmp/daneguard-e2e-check.XXXXXX)
trap 'world_stop; rm -rf "$work"' EXIT

if [ ! -x "$BIN" ]; then
    fail check_binary "no daneguard binary at $BIN"
    exit 1
fi

# ---- runner and assertions ---------------------------------------------------

runs=0
out=
rc=
# run_check ARGS...: daneguard check ARGS, bounded; sets out, rc; stderr kept per run.
run_check() {
    runs=$((runs + 1))
    out=$(timeout -k 5 90 "$BIN" check "$@" 2>"$work/err.$runs")
    rc=$?
    [ -z "${CHECK_VERBOSE:-}" ] || printf '$ daneguard check %s  (exit %s)\n%s\n' "$*" "$rc" "$out" >&2
}

# expect NAME RC PATTERN...: the last run exited RC and every ERE matches a line
# of its output; a pattern starting with ! must match none.
expect() {
    local name=$1 want=$2 p flat
    shift 2
    flat=$(tr '\n' '|' <<<"$out")
    if [ "$rc" != "$want" ]; then
        fail "$name" "exit $rc, want $want; out: $flat; err: $(tail -n 3 "$work/err.$runs" | tr '\n' '|')"
        return
    fi
    for p in "$@"; do
        if [[ $p == '!'* ]]; then
            if grep -qE -- "${p#!}" <<<"$out"; then
                fail "$name" "unexpected /${p#!}/ in: $flat"
                return
            fi
        elif ! grep -qE -- "$p" <<<"$out"; then
            fail "$name" "no /$p/ in: $flat"
            return
        fi
    done
    pass "$name"
}

# ---- usage (no world needed) ---------------------------------------------------

run_check --help
expect check_help 0 '^usage: daneguard check HOST' '--starttls smtp'
run_check
expect check_usage_no_host 2
run_check www.example.test 1 2
expect check_usage_extra_arg 2
run_check www.example.test 99999
expect check_usage_bad_port 2
run_check --starttls imap www.example.test
expect check_usage_bad_starttls 2
run_check --bogus-option www.example.test
expect check_usage_unknown_option 2
run_check 127.0.0.80
expect check_usage_ip_literal 2
run_check -c "$work/no-such.yml" www.example.test
expect check_bad_config 2
printf 'resolver:\n  timeout: [\n' >"$work/broken.yml"
run_check -c "$work/broken.yml" www.example.test
expect check_broken_config 2

# ---- certificates --------------------------------------------------------------

PKI=$work/pki
mkdir -p "$PKI"
pki_log=$work/pki.log
pki_root() {
    (
        cd "$PKI" || exit 1
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 60 \
            -subj "/O=daneguard check tests/CN=check root" -keyout root.key -out root.pem \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" &&
            openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                -subj "/O=daneguard check tests/CN=check intermediate" -keyout inter.key \
                -out inter.csr &&
            printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >inter.ext &&
            openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -CAcreateserial \
                -days 60 -extfile inter.ext -out inter.pem
    ) >>"$pki_log" 2>&1
}
# pki_leaf NAME SAN [DAYS]: $PKI/NAME.pem and .key, signed by the intermediate.
pki_leaf() {
    local name=$1 san=$2 days=${3:-60}
    (
        cd "$PKI" || exit 1
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$san" \
            -keyout "$name.key" -out "$name.csr" &&
            printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s\n' "$san" >"$name.ext" &&
            openssl x509 -req -in "$name.csr" -CA inter.pem -CAkey inter.key -CAcreateserial \
                -days "$days" -extfile "$name.ext" -out "$name.pem"
    ) >>"$pki_log" 2>&1
}
spki() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1; }
certhash() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }

S=secure.world.test
pki_root && pki_leaf ok ok.$S && pki_leaf half half.$S && pki_leaf other other.$S &&
    pki_leaf mism mism.$S && pki_leaf roll roll.$S && pki_leaf single single.$S &&
    pki_leaf full full.$S && pki_leaf soon soon.$S 10 && pki_leaf ins www.insecure.world.test &&
    pki_leaf cn cn.world.test && pki_leaf cn2 cn2.world.test && pki_leaf mx mx.$S ||
    { fail check_pki "openssl failed: $(tail -n 5 "$pki_log" | tr '\n' ' ')"; exit 1; }
H_INTER=$(spki "$PKI/inter.pem")
for n in ok half other mism roll single full soon ins cn cn2 mx; do
    declare "H_${n^^}=$(spki "$PKI/$n.pem")"
done
C_FULL=$(certhash "$PKI/full.pem")
H_STALE=$(head -c 32 /dev/urandom | sha256sum | cut -d' ' -f1)

# ---- ports and zones -------------------------------------------------------------

ports=()
pick_port() { # a port free on 127.0.0.80 and ::1, not handed out before
    local p i
    for ((i = 0; i < 20; i++)); do
        p=$(world_free_port 127.0.0.80 ::1) || return 1
        [[ " ${ports[*]} " == *" $p "* ]] || { ports+=("$p"); PORT=$p; return 0; }
    done
    return 1
}
for v in P_OK P_HALF P_MISM P_ROLL P_SINGLE P_FULL P_SOON P_NONE P_INS P_BOG P_EXP P_CN P_CN2 P_MX P_DEAD; do
    pick_port || { fail check_ports "no free port"; exit 1; }
    declare "$v=$PORT"
done

world_extra_records() {
    case $1 in
    world.test.)
        echo "cn IN CNAME tgt.$S."
        echo "_$P_CN._tcp.cn IN TLSA 3 1 1 $H_STALE"
        echo "cn2 IN CNAME www.$S."
        echo "_$P_CN2._tcp.cn2 IN TLSA 3 1 1 $H_CN2"
        echo "_$P_CN2._tcp.cn2 IN TLSA 2 1 1 $H_INTER" ;;
    secure.world.test.)
        echo "ok IN A 127.0.0.80"
        echo "ok IN AAAA ::1"
        echo "half IN A 127.0.0.80"
        echo "half IN AAAA ::1"
        for h in mism roll single full soon none tgt mx; do echo "$h IN A 127.0.0.80"; done
        echo "_$P_OK._tcp.ok IN TLSA 3 1 1 $H_OK"
        echo "_$P_OK._tcp.ok IN TLSA 2 1 1 $H_INTER"
        echo "_$P_HALF._tcp.half IN TLSA 3 1 1 $H_HALF"
        echo "_$P_HALF._tcp.half IN TLSA 2 1 1 $H_INTER"
        echo "_$P_MISM._tcp.mism IN TLSA 3 1 1 $H_OK"
        echo "_$P_ROLL._tcp.roll IN TLSA 3 1 1 $H_STALE"
        echo "_$P_ROLL._tcp.roll IN TLSA 3 1 1 $H_ROLL"
        echo "_$P_SINGLE._tcp.single IN TLSA 3 1 1 $H_SINGLE"
        echo "_$P_FULL._tcp.full IN TLSA 3 0 1 $C_FULL"
        echo "_$P_FULL._tcp.full IN TLSA 3 1 1 $H_FULL"
        echo "_$P_SOON._tcp.soon IN TLSA 1 1 1 $H_SOON"
        echo "_$P_SOON._tcp.soon IN TLSA 2 1 1 $H_INTER"
        echo "_$P_CN._tcp.tgt IN TLSA 3 1 1 $H_CN"
        echo "_$P_CN._tcp.tgt IN TLSA 2 1 1 $H_INTER"
        echo "_$P_MX._tcp.mx IN TLSA 3 1 1 $H_MX"
        echo "_$P_MX._tcp.mx IN TLSA 2 1 1 $H_INTER"
        echo "_$P_DEAD._tcp.ok IN TLSA 3 1 1 $H_OK" ;;
    insecure.world.test.)
        echo "_$P_INS._tcp.www IN TLSA 3 1 1 $H_INS" ;;
    bogus.world.test.)
        echo "_$P_BOG._tcp.www IN TLSA 3 1 1 $H_OK" ;;
    expired.world.test.)
        echo "_$P_EXP._tcp.www IN TLSA 3 1 1 $H_OK" ;;
    esac
}

world_start || { fail check_world "world_start failed"; exit 1; }
CONF=$work/check.yml
CONF_PKIX=$work/check-pkix.yml
world_daneguard_config "$CONF" || { fail check_world "no config"; exit 1; }
world_daneguard_config "$CONF_PKIX" "proxy.trust_store: \"$PKI/root.pem\"" ||
    { fail check_world "no config"; exit 1; }

# ---- origins -------------------------------------------------------------------

wait_listen() { # PORT: up to 10 s
    local i
    for ((i = 0; i < 100; i++)); do
        ss -ltnH "sport = :$1" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    return 1
}
# origin NAME ADDR PORT LEAF: s_server with LEAF and the intermediate.
origin() {
    local acc=$2:$3
    [[ $2 == *:* ]] && acc="[$2]:$3"
    world_spawn "origin-$1" timeout 600 openssl s_server -accept "$acc" -cert "$PKI/$4.pem" \
        -key "$PKI/$4.key" -cert_chain "$PKI/inter.pem" -www -quiet
}
origin ok4 127.0.0.80 "$P_OK" ok
origin ok6 ::1 "$P_OK" ok
origin half4 127.0.0.80 "$P_HALF" half
origin half6 ::1 "$P_HALF" other
origin mism 127.0.0.80 "$P_MISM" mism
origin roll 127.0.0.80 "$P_ROLL" roll
origin single 127.0.0.80 "$P_SINGLE" single
origin full 127.0.0.80 "$P_FULL" full
origin soon 127.0.0.80 "$P_SOON" soon
origin ins4 127.0.0.80 "$P_INS" ins
origin ins6 ::1 "$P_INS" ins
origin cn 127.0.0.80 "$P_CN" cn
origin cn2a 127.0.0.80 "$P_CN2" cn2
origin cn2b ::1 "$P_CN2" cn2

# SMTP: greeting, EHLO offering STARTTLS, STARTTLS, then TLS with the mx chain.
cat >"$work/smtp.py" <<'EOF'
import os, socket, ssl, sys
addr, port, cert, key, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((addr, port))
ls.listen(4)
open(ready, "w").close()
while True:
    c, _ = ls.accept()
    c.settimeout(10)
    try:
        f = c.makefile("rb")
        c.sendall(b"220 mx.secure.world.test ESMTP test\r\n")
        if not f.readline().upper().startswith(b"EHLO"):
            c.sendall(b"503 EHLO first\r\n"); c.close(); continue
        c.sendall(b"250-mx.secure.world.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
        if f.readline().strip().upper() != b"STARTTLS":
            c.sendall(b"502 no\r\n"); c.close(); continue
        c.sendall(b"220 2.0.0 go ahead\r\n")
        t = ctx.wrap_socket(c, server_side=True)
        try:
            t.recv(1)
        except Exception:
            pass
        t.close()
    except Exception as e:
        print("smtp:", e, file=sys.stderr, flush=True)
        c.close()
EOF
cat "$PKI/mx.pem" "$PKI/inter.pem" >"$PKI/mx.chain.pem"
world_spawn smtp timeout 600 python3 "$work/smtp.py" 127.0.0.80 "$P_MX" "$PKI/mx.chain.pem" \
    "$PKI/mx.key" "$work/smtp.ready"

for p in "$P_OK" "$P_HALF" "$P_MISM" "$P_ROLL" "$P_SINGLE" "$P_FULL" "$P_SOON" "$P_INS" \
    "$P_CN" "$P_CN2" "$P_MX"; do
    wait_listen "$p" || { fail check_origins "nothing listens on port $p"; exit 1; }
done

# ---- the cases -------------------------------------------------------------------

run_check -c "$CONF" ok.$S "$P_OK"
expect check_secure_match 0 \
    "^tlsa _${P_OK}\._tcp\.ok\.secure\.world\.test\.: secure, 2 records$" \
    "^record 3 1 1 $H_OK$" "^record 2 1 1 $H_INTER$" \
    "^a ok\.secure\.world\.test\.: secure, 1 address$" \
    "^aaaa ok\.secure\.world\.test\.: secure, 1 address$" \
    "^address 127\.0\.0\.80 port $P_OK: OK [23] 1 1 depth [01]$" \
    "^address ::1 port $P_OK: OK [23] 1 1 depth [01]$" \
    "^result: OK 2 addresses verified$" '!^warning:' '!FAIL'

if [ -s "$work/err.$runs" ]; then
    fail check_stderr_quiet "stderr of a clean run: $(head -n 3 "$work/err.$runs" | tr '\n' '|')"
else
    pass check_stderr_quiet
fi

run_check -c "$CONF" ok.$S. "$P_OK"
expect check_trailing_dot 0 "^address 127\.0\.0\.80 port $P_OK: OK"

run_check -c "$CONF" half.$S "$P_HALF"
expect check_one_address_fails 1 \
    "^address 127\.0\.0\.80 port $P_HALF: OK [23] 1 1 depth [01]$" \
    "^address ::1 port $P_HALF: FAIL .+" "^result: FAIL address ::1: "

run_check -c "$CONF" mism.$S "$P_MISM"
expect check_mismatch 1 \
    "^tlsa _${P_MISM}\._tcp\.mism\.secure\.world\.test\.: secure, 1 record$" \
    "^address 127\.0\.0\.80 port $P_MISM: FAIL no TLSA record matches.*$H_MISM" \
    "^warning: record 3 1 1 ${H_OK:0:16}\.\.\. matches nothing presented" "^result: FAIL"

run_check -c "$CONF" roll.$S "$P_ROLL"
expect check_rollover_stale 0 \
    "^tlsa _${P_ROLL}\._tcp\.roll\.secure\.world\.test\.: secure, 2 records$" \
    "^address 127\.0\.0\.80 port $P_ROLL: OK 3 1 1 depth 0$" \
    "^warning: record 3 1 1 ${H_STALE:0:16}\.\.\. matches nothing presented" \
    "!warning: record 3 1 1 ${H_ROLL:0:16}" '!warning: only one'

run_check -c "$CONF" single.$S "$P_SINGLE"
expect check_single_record 0 "^address 127\.0\.0\.80 port $P_SINGLE: OK 3 1 1 depth 0$" \
    "^warning: only one TLSA record: publish the next key's record before rolling over$"

run_check -c "$CONF" full.$S "$P_FULL"
expect check_301_warning 0 "^record 3 0 1 $C_FULL$" \
    "^address 127\.0\.0\.80 port $P_FULL: OK 3 [01] 1 depth 0$" \
    "^warning: record 3 0 1 ${C_FULL:0:16}\.\.\. pins the whole certificate \(3 0 x\)" \
    '!warning: only one' '!matches nothing'

run_check -c "$CONF_PKIX" soon.$S "$P_SOON"
expect check_pkix_expiry_warning 0 "^record 1 1 1 $H_SOON$" \
    "^address 127\.0\.0\.80 port $P_SOON: OK [12] 1 1 depth [01]$" \
    "^warning: certificate soon\.secure\.world\.test \(depth 0, from 127\.0\.0\.80\) expires [0-9-]+ \(in [0-9]+ days\): usage 1 records fail"

# Without the test root in the trust store the 1 1 1 record cannot verify; the
# 2 1 1 record still does, and the warning says why the other one does not.
run_check -c "$CONF" soon.$S "$P_SOON"
expect check_pkix_untrusted_warning 0 "^address 127\.0\.0\.80 port $P_SOON: OK 2 1 1 depth 1$" \
    "^warning: record 1 1 1 ${H_SOON:0:16}\.\.\. matches a presented certificate but does not verify: "

run_check -c "$CONF" none.$S "$P_NONE"
expect check_no_tlsa 1 \
    "^tlsa _${P_NONE}\._tcp\.none\.secure\.world\.test\.: secure, 0 records \(NXDOMAIN\)$" \
    "^result: FAIL no TLSA records at _${P_NONE}\._tcp\.none\.secure\.world\.test\." '!^address '

run_check -c "$CONF" www.insecure.world.test "$P_INS"
expect check_insecure_zone 1 \
    "^tlsa _${P_INS}\._tcp\.www\.insecure\.world\.test\.: insecure, 1 record" \
    "^record 3 1 1 $H_INS$" \
    "^address 127\.0\.0\.80 port $P_INS: FAIL the TLSA RRset is insecure \(its record 3 1 1 would match at depth 0\)$" \
    "^result: FAIL the TLSA RRset .* is insecure" '!: OK '

run_check -c "$CONF" www.bogus.world.test "$P_BOG"
expect check_bogus_addresses 1 \
    "^tlsa _${P_BOG}\._tcp\.www\.bogus\.world\.test\.: secure, 1 record$" \
    "^a www\.bogus\.world\.test\.: bogus, 1 address \(.+\)$" \
    "^result: FAIL DNSSEC validation failed for the address of www\.bogus\.world\.test \(bogus\)" \
    '!127\.0\.0\.66' '!: OK '

run_check -c "$CONF" www.expired.world.test "$P_EXP"
expect check_bogus_tlsa_expired 1 \
    "^tlsa _${P_EXP}\._tcp\.www\.expired\.world\.test\.: bogus, 1 record \(.*[Ee]xpired.*\)$" \
    "^result: FAIL the TLSA RRset .* is bogus" '!: OK '

run_check -c "$CONF" cn.world.test "$P_CN"
expect check_cname_target_tlsa 0 \
    "^cname cn\.world\.test\. -> tgt\.secure\.world\.test\. \(secure\)$" \
    "^tlsa _${P_CN}\._tcp\.tgt\.secure\.world\.test\.: secure, 2 records \(the CNAME target's" \
    "!$H_STALE" "^address 127\.0\.0\.80 port $P_CN: OK [23] 1 1 depth [01]$" \
    "^result: OK 1 address verified$"

run_check -c "$CONF" cn2.world.test "$P_CN2"
expect check_cname_fallback 0 \
    "^cname cn2\.world\.test\. -> www\.secure\.world\.test\. \(secure\)$" \
    "^tlsa _${P_CN2}\._tcp\.www\.secure\.world\.test\.: secure, 0 records \(NXDOMAIN\); falling back to the original name$" \
    "^tlsa _${P_CN2}\._tcp\.cn2\.world\.test\.: secure, 2 records$" \
    "^address 127\.0\.0\.80 port $P_CN2: OK" "^address ::1 port $P_CN2: OK" \
    "^result: OK 2 addresses verified$"

for _ in $(seq 1 50); do [ -e "$work/smtp.ready" ] && break; sleep 0.1; done
run_check -c "$CONF" --starttls smtp mx.$S "$P_MX"
expect check_smtp_starttls 0 \
    "^tlsa _${P_MX}\._tcp\.mx\.secure\.world\.test\.: secure, 2 records$" \
    "^address 127\.0\.0\.80 port $P_MX: OK [23] 1 1 depth [01]$" "^result: OK 1 address verified$"

# STARTTLS against a plain TLS origin: a FAIL that says SMTP, not a hang.
run_check -c "$CONF" --starttls smtp single.$S "$P_SINGLE"
expect check_smtp_against_tls 1 "^address 127\.0\.0\.80 port $P_SINGLE: FAIL SMTP: "

# Nothing listens: a connection failure per address, exit 1.
run_check -c "$CONF" ok.$S "$P_DEAD"
expect check_connect_refused 1 "^address 127\.0\.0\.80 port $P_DEAD: FAIL cannot connect: " \
    "^address ::1 port $P_DEAD: FAIL cannot connect: " '!: OK '

# A bogus address and no TLSA at all there: the address is what is wrong
# (issue 13: it said "no TLSA records").
run_check -c "$CONF" www.bogus.world.test "$P_NONE"
expect check_bogus_address_no_tlsa 1 \
    "^a www\.bogus\.world\.test\.: bogus, 1 address \(.+\)$" \
    "^result: FAIL DNSSEC validation failed for the address of www\.bogus\.world\.test \(bogus\)" \
    '!no TLSA records' '!^address '

# tlsa --connect looks the name up through daneguard's validating resolver
# (the world's NSD and trust anchor from -c), never the system resolver: a
# name only the world knows works, a bogus address is refused, NXDOMAIN said.
# (-c first: a binary without it stops at the option, before any lookup.)
# tlsa_run NAME WANT-RC ARGS...: tlsa_out/tlsa_err/tlsa_rc set.
tlsa_run() {
    local name=$1 want=$2
    shift 2
    tlsa_out=$(timeout -k 5 60 "$BIN" tlsa "$@" 2>"$work/tlsa.err")
    tlsa_rc=$?
    tlsa_err=$(cat "$work/tlsa.err")
    [ "$tlsa_rc" = "$want" ]
}
if tlsa_run tlsa_connect_resolver 0 -c "$CONF" --connect "ok.$S:$P_OK" &&
    [ "$tlsa_out" = "_$P_OK._tcp.ok.$S. IN TLSA 3 1 1 $H_OK" ]; then
    pass tlsa_connect_via_resolver
else
    fail tlsa_connect_via_resolver "exit $tlsa_rc: $tlsa_out $tlsa_err"
fi
if tlsa_run x 1 -c "$CONF" --connect "www.bogus.world.test:$P_BOG" &&
    [[ $tlsa_err == *"DNSSEC validation failed for the address of www.bogus.world.test (bogus)"* ]] &&
    [ -z "$tlsa_out" ]; then
    pass tlsa_connect_bogus_address
else
    fail tlsa_connect_bogus_address "exit $tlsa_rc: $tlsa_out $tlsa_err"
fi
if tlsa_run x 1 --config "$CONF" --connect "nosuch.$S:$P_OK" &&
    [[ $tlsa_err == *"nosuch.$S does not exist (NXDOMAIN)"* ]]; then
    pass tlsa_connect_nxdomain
else
    fail tlsa_connect_nxdomain "exit $tlsa_rc: $tlsa_err"
fi
if tlsa_run x 2 -c "$work/no-such-config.yml" --connect "ok.$S:$P_OK" &&
    [[ $tlsa_err == *"no-such-config.yml"* ]]; then
    pass tlsa_connect_config_missing
else
    fail tlsa_connect_config_missing "exit $tlsa_rc: $tlsa_err"
fi
# An address literal needs no lookup (nor a configuration).
if tlsa_run x 0 -c "$work/no-such-config.yml" --connect "127.0.0.80:$P_OK" --host "ok.$S" &&
    [ "$tlsa_out" = "_$P_OK._tcp.ok.$S. IN TLSA 3 1 1 $H_OK" ]; then
    pass tlsa_connect_literal
else
    fail tlsa_connect_literal "exit $tlsa_rc: $tlsa_out $tlsa_err"
fi

# The nameserver gone: no answer is not "no TLSA"; the status says timeout, exit 1.
world_nsd_stop
run_check -c "$CONF" roll.$S "$P_ROLL"
expect check_resolver_timeout 1 \
    "^tlsa _${P_ROLL}\._tcp\.roll\.secure\.world\.test\.: indeterminate, 0 records \(timeout" \
    "^result: FAIL .*timeout" '!^address '

# Our own output is on stdout only; nothing from the sanitizers on stderr.
san=$(grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$work"/err.* 2>/dev/null)
if [ -n "$san" ]; then
    fail check_sanitizer_clean "$(grep -h -m1 -A6 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' $san | head -c 800 | tr '\n' '|')"
else
    pass check_sanitizer_clean
fi
[ "$WORLD_FAILED" -eq 0 ]
