#!/usr/bin/env bash
# tests/bench/proxy.sh — the proxy benchmark: daneguard intercepting (DANE)
# against Privoxy +https-inspection, mitmdump (with and without
# stream_large_bodies), a plain tunnel (daneguard, insecure zone) and a direct
# connection, one after another in the same run, on loopback.
#
# Origin: nginx on 127.0.0.80:PORT with a P-256 certificate made here, serving
# /big (BIG_MIB MiB) and /tiny (13 bytes); the name origin.secure.world.test has
# TLSA 3 1 1 for it (daneguard intercepts), origin.insecure.world.test is
# unsigned (daneguard tunnels). Privoxy and mitmdump are given 127.0.0.80:PORT
# (they would ask /etc/resolv.conf for a name). Proxies run on
# BENCH_SERVER_CPU; curl, connbench and nginx on BENCH_CLIENT_CPU.
#
#   bulk:   curl through each proxy, MiB/s; ciphers of both legs (curl -v for
#           the client leg, nginx's access log $ssl_cipher for the upstream leg)
#   rate:   connbench rate, 50 concurrent clients, CONNECT + TLS + GET /tiny +
#           close, DNS and certificate caches warm, session resumption off and
#           on (client leg); connections/s and proxy CPU ms per connection
#           (utime+stime delta / connections)
#   memory: connbench hold, 1,000 idle intercepted keep-alive connections;
#           VmRSS of the proxy before and after, KiB per connection
#
# Prints a markdown table and the ratios on stdout; progress on stderr.
# BENCH_QUICK=1: 64 MiB file, 5 s rate runs, 300 held connections.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/world/world.sh
. tests/world/world.sh
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh

if [ "$BENCH_QUICK" = 1 ]; then
    BIG_MIB=64 RATE_S=5 HOLD_N=300 SAMPLES=2
else
    BIG_MIB=256 RATE_S=15 HOLD_N=1000 SAMPLES=3
fi
CONC=50
CEILING_MIB=166   # issue 4: mbedTLS ChaCha20-Poly1305 on both legs, one core
FLOOR_MS=4.3      # issue 4: full handshake on both legs with P-256, CPU
PROXIES=${BENCH_PROXIES:-"daneguard privoxy mitmdump"}

for t in nginx curl openssl taskset gcc; do
    command -v "$t" >/dev/null || { bench_note "missing tool: $t (make deps DEPS_FOR=bench)"; exit 1; }
done
ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"

ORIGIN_ADDR=127.0.0.80
ORIGIN_PORT=$(world_free_port "$ORIGIN_ADDR") || exit 1
SECURE_HOST=origin.secure.world.test
TUNNEL_HOST=origin.insecure.world.test

world_trap
# The world's directory is made by world_start; the origin's key must exist
# before it (its TLSA record is signed into the zone), so it lives here first.
PRE=$(mktemp -d /tmp/daneguard-bench.XXXXXX) || exit 1
trap 'world_stop; rm -rf "$PRE"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=$SECURE_HOST" \
    -addext "subjectAltName=DNS:$SECURE_HOST,DNS:$TUNNEL_HOST,IP:$ORIGIN_ADDR" \
    -keyout "$PRE/origin.key" -out "$PRE/origin.crt" 2>/dev/null || exit 1
SPKI=$(openssl x509 -in "$PRE/origin.crt" -noout -pubkey | openssl pkey -pubin -outform DER |
    openssl dgst -sha256 -r | cut -d' ' -f1)

world_extra_records() {
    case $1 in
    secure.world.test.)
        printf 'origin\tIN\tA\t%s\n' "$ORIGIN_ADDR"
        printf '_%s._tcp.origin\tIN\tTLSA\t3 1 1 %s\n' "$ORIGIN_PORT" "$SPKI" ;;
    insecure.world.test.)
        printf 'origin\tIN\tA\t%s\n' "$ORIGIN_ADDR" ;;
    esac
}
world_start || exit 1
B=$WORLD_DIR/bench
mkdir -p "$B/www" "$B/nginx"
cp "$PRE/origin.key" "$PRE/origin.crt" "$B/"
gcc -O2 -std=c11 -D_GNU_SOURCE -o "$B/connbench" tests/bench/connbench.c -lssl -lcrypto -lpthread ||
    { bench_note "cannot build connbench (libssl-dev)"; exit 1; }

# --- origin --------------------------------------------------------------------
head -c $((BIG_MIB * 1024 * 1024)) /dev/urandom >"$B/www/big"
head -c $((32 * 1024 * 1024)) "$B/www/big" >"$B/www/mid" # for mitmdump without streaming
printf 'hello, bench\n' >"$B/www/tiny"
cat >"$B/nginx.conf" <<EOF
user root;
worker_processes 1;
daemon off;
pid $B/nginx.pid;
error_log $B/nginx-error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
    log_format bench '\$ssl_protocol \$ssl_cipher \$ssl_session_reused \$request_uri \$status \$body_bytes_sent';
    access_log $B/nginx-access.log bench;
    client_body_temp_path $B/nginx/body;
    proxy_temp_path $B/nginx/proxy;
    fastcgi_temp_path $B/nginx/fastcgi;
    uwsgi_temp_path $B/nginx/uwsgi;
    scgi_temp_path $B/nginx/scgi;
    default_type application/octet-stream;
    keepalive_timeout 600s;
    keepalive_requests 1000000;
    server {
        listen $ORIGIN_ADDR:$ORIGIN_PORT ssl;
        ssl_certificate $B/origin.crt;
        ssl_certificate_key $B/origin.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:bench:4m;
        ssl_session_tickets on;
        root $B/www;
    }
}
EOF
world_spawn nginx taskset -c "$BENCH_CLIENT_CPU" nginx -c "$B/nginx.conf"
NGINX_PID=$WORLD_LAST_PID
for ((i = 0; i < 50; i++)); do
    curl -sk --max-time 2 -o /dev/null "https://$ORIGIN_ADDR:$ORIGIN_PORT/tiny" && break
    sleep 0.1
done
curl -sk --max-time 2 -o /dev/null "https://$ORIGIN_ADDR:$ORIGIN_PORT/tiny" ||
    { bench_note "nginx does not answer"; tail -n 5 "$B/nginx-error.log" >&2; exit 1; }

# --- proxies --------------------------------------------------------------------
# Each start_X sets PX_PORT and PX_PID, and PX_TARGET_SECURE (what to CONNECT to
# for an intercepted connection) — or returns non-zero.

printf '#!/bin/sh\nexec taskset -c %s %s "$@"\n' "$BENCH_SERVER_CPU" "$PWD/build/daneguard" >"$B/daneguard-pinned"
chmod +x "$B/daneguard-pinned"
start_daneguard() {
    world_daneguard_config "$B/daneguard.yml" \
        "proxy.allowed_ports: [$ORIGIN_PORT]" 'proxy.max_connections: 4096' \
        'proxy.max_connections_per_client: 4096' || return 1
    DANEGUARD_BIN=$B/daneguard-pinned world_daneguard_start "$B/daneguard.yml" -v || return 1
    PX_PID=$DG_PID PX_PORT=$DG_PROXY_PORT PX_TARGET_SECURE=$SECURE_HOST:$ORIGIN_PORT
    # warm DNS (A, AAAA, TLSA) and the minted certificate
    curl -sk --max-time 10 -o /dev/null --proxy "http://127.0.0.1:$PX_PORT" "https://$SECURE_HOST:$ORIGIN_PORT/tiny"
}

start_privoxy() {
    command -v privoxy >/dev/null || return 1
    local d=$B/privoxy
    mkdir -p "$d/ca" "$d/certs"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bench privoxy CA" \
        -keyout "$d/ca/ca.key" -out "$d/ca/ca.crt" 2>/dev/null || return 1
    cp "$B/origin.crt" "$d/trusted.pem"
    printf '{+https-inspection +ignore-certificate-errors}\n/\n' >"$d/bench.action"
    PX_PORT=$(world_free_port 127.0.0.1) || return 1
    cat >"$d/config" <<EOF
confdir $d
logdir $d
logfile privoxy.log
actionsfile bench.action
listen-address 127.0.0.1:$PX_PORT
toggle 1
enable-remote-toggle 0
enable-edit-actions 0
buffer-limit 4096
keep-alive-timeout 600
socket-timeout 600
max-client-connections 4096
connection-sharing 0
ca-directory $d/ca
ca-cert-file ca.crt
ca-key-file ca.key
certificate-directory $d/certs
trusted-cas-file $d/trusted.pem
EOF
    world_spawn privoxy taskset -c "$BENCH_SERVER_CPU" privoxy --no-daemon "$d/config"
    PX_PID=$WORLD_LAST_PID PX_TARGET_SECURE=$ORIGIN_ADDR:$ORIGIN_PORT
    wait_proxy || return 1
    curl -sk --max-time 10 -o /dev/null --proxy "http://127.0.0.1:$PX_PORT" "https://$PX_TARGET_SECURE/tiny"
}

# start_mitmdump [EXTRA ARGS]
start_mitmdump() {
    command -v mitmdump >/dev/null || return 1
    PX_PORT=$(world_free_port 127.0.0.1) || return 1
    mkdir -p "$B/mitm"
    world_spawn mitmdump taskset -c "$BENCH_SERVER_CPU" mitmdump -q --listen-host 127.0.0.1 \
        -p "$PX_PORT" --ssl-insecure --set confdir="$B/mitm" "$@"
    PX_PID=$WORLD_LAST_PID PX_TARGET_SECURE=$ORIGIN_ADDR:$ORIGIN_PORT
    wait_proxy 30 || return 1
    curl -sk --max-time 10 -o /dev/null --proxy "http://127.0.0.1:$PX_PORT" "https://$PX_TARGET_SECURE/tiny"
}

wait_proxy() { # [SECONDS]: until PX_PORT accepts
    local i
    for ((i = 0; i < ${1:-10} * 10; i++)); do
        kill -0 "$PX_PID" 2>/dev/null || return 1
        (exec 3<>"/dev/tcp/127.0.0.1/$PX_PORT") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

stop_proxy() {
    world_kill "$PX_PID"
    _world_forget_pid "$PX_PID"
}

declare -A R

# bulk NAME URL [PROXYPORT]: MiB/s of one download of URL (/big or /mid), and the ciphers
bulk() {
    local name=$1 url=$2 port=${3:-} n0 out speed size want=$((BIG_MIB * 1024 * 1024))
    [[ $url == */mid ]] && want=$((32 * 1024 * 1024))
    local -a px=()
    [ -n "$port" ] && px=(--proxy "http://127.0.0.1:$port")
    # the client leg's cipher, on a small request
    out=$(curl -skv --max-time 10 -o /dev/null "${px[@]}" "${url%/*}/tiny" 2>&1)
    R[$name.client_cipher]=$(sed -n 's/^\* SSL connection using \(.*\)$/\1/p' <<<"$out" | head -n 1 | tr -d '\r')
    n0=$(wc -l <"$B/nginx-access.log")
    # SAMPLES downloads; the best is reported (the machine is shared: noise
    # only slows a run down), and the proxy's CPU per MiB over all of them
    local k t0 t1 best= ok=0 pid=${PX_PID:-} bytes=0
    [ -n "$port" ] || pid=
    t0=$([ -n "$pid" ] && bench_cpu_ticks "$pid" || echo 0)
    for ((k = 0; k < SAMPLES; k++)); do
        out=$(taskset -c "$BENCH_CLIENT_CPU" curl -sSk --max-time 300 -o /dev/null "${px[@]}" \
            -w '%{speed_download} %{size_download} %{http_code}\n' "$url" 2>&1 | tail -n 1)
        read -r speed size code <<<"$out"
        if [ "${code:-}" = 200 ] && [ "${size:-0}" = "$want" ]; then
            ok=$((ok + 1)) bytes=$((bytes + size))
            best=$(awk -v s="$speed" -v b="${best:-0}" 'BEGIN { s /= 1048576; printf "%.0f", (s > b ? s : b) }')
        else
            R[$name.bulk_err]="curl: $out"
            bench_note "$name bulk download failed: $out"
            break
        fi
        [[ $url == */mid ]] && break # one sample of the slow buffered case
    done
    t1=$([ -n "$pid" ] && bench_cpu_ticks "$pid" || echo 0)
    R[$name.up_cipher]=$(tail -n +$((n0 + 1)) "$B/nginx-access.log" | awk -v p="/${url##*/}" '$4 == p { print $1, $2; exit }')
    R[$name.mibs]=$best
    R[$name.samples]=$ok
    if [ -n "$pid" ] && [ $((t1 - t0)) -gt 0 ]; then
        R[$name.mib_cpu]=$(awk -v b="$bytes" -v t=$((t1 - t0)) -v h="$BENCH_CLK_TCK" \
            'BEGIN { printf "%.0f", b / 1048576 / (t / h) }')
    fi
    bench_note "$name: bulk ${R[$name.mibs]:-failed} MiB/s; client ${R[$name.client_cipher]:-?}; upstream ${R[$name.up_cipher]:-?}"
}

# rate NAME RESUME: connections/s and CPU ms per connection
rate() {
    local name=$1 res=$2 t0 t1 out conns
    t0=$(bench_cpu_ticks "$PX_PID")
    out=$(timeout -k 5 $((RATE_S + 60)) taskset -c "$BENCH_CLIENT_CPU" "$B/connbench" rate 127.0.0.1 "$PX_PORT" \
        "$PX_TARGET_SECURE" "${PX_TARGET_SECURE%:*}" "$CONC" "$RATE_S" "$res" /tiny 2>"$B/rate-$name-$res.err" | tail -n 1)
    [ -s "$B/rate-$name-$res.err" ] && R[$name.rate_err$res]=$(head -n 2 "$B/rate-$name-$res.err" | tr '\n' ' ')
    t1=$(bench_cpu_ticks "$PX_PID")
    conns=$(sed -n 's/.*connections=\([0-9]*\).*/\1/p' <<<"$out")
    R[$name.rate$res]=$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$out" | awk '{ printf "%.0f", $1 }')
    R[$name.err$res]=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$out")
    R[$name.resumed$res]=$(sed -n 's/.*resumed=\([0-9]*\).*/\1/p' <<<"$out")
    R[$name.conns$res]=$conns
    R[$name.cpums$res]=$(awk -v t=$((t1 - t0)) -v h="$BENCH_CLK_TCK" -v c="${conns:-0}" \
        'BEGIN { if (c > 0) printf "%.2f", t * 1000 / h / c }')
    bench_note "$name: rate (resume=$res) $out; cpu ms/conn ${R[$name.cpums$res]:-?}"
}

# hold NAME: KiB per idle intercepted connection
hold() {
    local name=$1 r0 r1 pid i line
    r0=$(bench_rss_kib "$PX_PID")
    taskset -c "$BENCH_CLIENT_CPU" "$B/connbench" hold 127.0.0.1 "$PX_PORT" "$PX_TARGET_SECURE" \
        "${PX_TARGET_SECURE%:*}" "$HOLD_N" /tiny 300 >"$B/hold-$name.out" 2>&1 &
    pid=$!
    for ((i = 0; i < 1300; i++)); do
        line=$(grep '^ready' "$B/hold-$name.out" 2>/dev/null)
        [ -n "$line" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    sleep 1
    r1=$(bench_rss_kib "$PX_PID")
    # how many of them the proxy still keeps open (client side established)
    R[$name.open]=$(ss -Htn state established "( dport = :$PX_PORT )" 2>/dev/null | wc -l)
    local est
    est=$(sed -n 's/.*established=\([0-9]*\).*/\1/p' <<<"$line")
    R[$name.hold_est]=${est:-0}
    R[$name.hold_line]=$line
    R[$name.rss0]=$r0 R[$name.rss1]=$r1
    R[$name.threads]=$(awk '/^Threads:/ { print $2 }' "/proc/$PX_PID/status" 2>/dev/null)
    R[$name.kib]=$(awk -v a="$r0" -v b="$r1" -v n="${est:-0}" 'BEGIN { if (n > 0) printf "%.1f", (b - a) / n }')
    world_kill "$pid"
    bench_note "$name: hold ${line:-no ready line} rss $r0 -> $r1 KiB, ${R[$name.kib]:-?} KiB/conn, threads ${R[$name.threads]:-?}"
}

alive() { # NAME: notes a proxy that died
    kill -0 "$PX_PID" 2>/dev/null && return 0
    R[$1.status]="exited (see its log)"
    bench_note "$1 exited:"; tail -n 10 "$WORLD_DIR/$2.log" >&2
    return 1
}

bulk direct "https://$ORIGIN_ADDR:$ORIGIN_PORT/big"

for p in $PROXIES; do
    case $p in
    daneguard)
        bench_note "proxy: daneguard"
        if start_daneguard; then
            R[daneguard.status]=ok
            bulk daneguard "https://$SECURE_HOST:$ORIGIN_PORT/big" "$PX_PORT"
            R[daneguard.dg_log]=$(grep -m1 'intercepted:' "$WORLD_DIR/daneguard.log" | sed 's/.*intercepted: //')
            bulk tunnel "https://$TUNNEL_HOST:$ORIGIN_PORT/big" "$PX_PORT"
            alive daneguard daneguard && rate daneguard 0
            alive daneguard daneguard && rate daneguard 1
            alive daneguard daneguard && hold daneguard
            alive daneguard daneguard
            R[daneguard.rss_end]=$(bench_rss_kib "$PX_PID")
            stop_proxy
        else
            R[daneguard.status]="did not start"
        fi ;;
    privoxy)
        bench_note "proxy: privoxy"
        if start_privoxy; then
            R[privoxy.status]=ok
            bulk privoxy "https://$ORIGIN_ADDR:$ORIGIN_PORT/big" "$PX_PORT"
            alive privoxy privoxy && rate privoxy 0
            alive privoxy privoxy && rate privoxy 1
            alive privoxy privoxy && hold privoxy
            alive privoxy privoxy
            stop_proxy
        else
            R[privoxy.status]="did not start"
        fi ;;
    mitmdump)
        bench_note "proxy: mitmdump"
        if start_mitmdump; then
            R[mitmdump.status]=ok
            # it buffers whole bodies (a few MiB/s): the 32 MiB file keeps the run short
            bulk mitmdump "https://$ORIGIN_ADDR:$ORIGIN_PORT/mid" "$PX_PORT"
            alive mitmdump mitmdump && rate mitmdump 0
            alive mitmdump mitmdump && rate mitmdump 1
            stop_proxy
        else
            R[mitmdump.status]="did not start"
        fi
        if start_mitmdump --set stream_large_bodies=1; then
            R[mitmstream.status]=ok
            bulk mitmstream "https://$ORIGIN_ADDR:$ORIGIN_PORT/big" "$PX_PORT"
            stop_proxy
        else
            R[mitmstream.status]="did not start"
        fi ;;
    esac
done

# --- report -------------------------------------------------------------------
v() { local x=${R[$1]:-}; echo "${x:--}"; }
echo "### Proxy (loopback, nginx origin, each proxy pinned to CPU $BENCH_SERVER_CPU; curl, connbench and nginx on CPU $BENCH_CLIENT_CPU)"
echo
echo "Bulk: one curl download of a $BIG_MIB MiB file. Rate: $CONC concurrent clients for $RATE_S s, each connection CONNECT + TLS + GET /tiny + close, DNS and certificate caches warm. Memory: $HOLD_N idle intercepted keep-alive connections."
echo
echo "| leg | bulk MiB/s (best of $SAMPLES) | MiB per proxy CPU-second | client leg cipher | upstream leg cipher (nginx) |"
echo "|---|---:|---:|---|---|"
for n in daneguard:"daneguard, intercepting (DANE)" privoxy:"Privoxy +https-inspection" \
    mitmdump:"mitmdump (buffers bodies; 32 MiB file)" mitmstream:"mitmdump stream_large_bodies=1" tunnel:"daneguard, tunnel (insecure zone)" \
    direct:"direct (curl → nginx)"; do
    k=${n%%:*}
    [ -n "${R[$k.mibs]+x}" ] || continue
    echo "| ${n#*:} | $(v "$k.mibs") | $(v "$k.mib_cpu") | $(v "$k.client_cipher") | $(v "$k.up_cipher") |"
done
echo
echo "| proxy | new conn/s, no resumption | CPU ms/conn | new conn/s, client resumes | CPU ms/conn | resumed | errors | RSS KiB before → with $HOLD_N idle conns | KiB per conn | threads |"
echo "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|"
for k in daneguard privoxy mitmdump; do
    [ -n "${R[$k.status]+x}" ] || continue
    hold_cell="-"
    [ -n "${R[$k.rss1]:-}" ] && hold_cell="${R[$k.rss0]} → ${R[$k.rss1]} (${R[$k.hold_est]} made, ${R[$k.open]:-?} still open)"
    # a proxy that closed the idle connections has no per-connection figure
    [ "${R[$k.open]:-0}" -lt $((${R[$k.hold_est]:-0} / 2)) ] && R[$k.kib]="n/a (closed them)"
    echo "| $k | $(v "$k.rate0") | $(v "$k.cpums0") | $(v "$k.rate1") | $(v "$k.cpums1") | $(v "$k.resumed1")/$(v "$k.conns1") | $(v "$k.err0")+$(v "$k.err1") | $hold_cell | $(v "$k.kib") | $(v "$k.threads") |"
done
echo
echo "| ratio | value | goal (issue 4) |"
echo "|---|---:|---|"
echo "| daneguard bulk / mbedTLS ceiling ($CEILING_MIB MiB/s) | $(bench_ratio "${R[daneguard.mibs]:-}" $CEILING_MIB) | ≥ 0.90 |"
echo "| daneguard MiB per CPU-second / mbedTLS ceiling | $(bench_ratio "${R[daneguard.mib_cpu]:-}" $CEILING_MIB) | (the same, free of the other tenants' load) |"
echo "| daneguard MiB per CPU-second / Privoxy's | $(bench_ratio "${R[daneguard.mib_cpu]:-}" "${R[privoxy.mib_cpu]:-}") | |"
echo "| daneguard bulk / Privoxy bulk | $(bench_ratio "${R[daneguard.mibs]:-}" "${R[privoxy.mibs]:-}") | ≥ 1.3 |"
echo "| daneguard bulk / mitmdump (stream) bulk | $(bench_ratio "${R[daneguard.mibs]:-}" "${R[mitmstream.mibs]:-}") | |"
echo "| daneguard tunnel / direct | $(bench_ratio "${R[tunnel.mibs]:-}" "${R[direct.mibs]:-}") | |"
echo "| daneguard new conn/s / Privoxy's (no resumption) | $(bench_ratio "${R[daneguard.rate0]:-}" "${R[privoxy.rate0]:-}") | ≥ 3 |"
echo "| daneguard CPU per conn / crypto floor ($FLOOR_MS ms) | $(bench_ratio "${R[daneguard.cpums0]:-}" $FLOOR_MS) | ≤ 1.3 |"
echo "| daneguard CPU per conn, resumed / full | $(bench_ratio "${R[daneguard.cpums1]:-}" "${R[daneguard.cpums0]:-}") | far less than 1 |"
echo "| daneguard KiB per idle intercepted conn | $(v daneguard.kib) | < 100 |"
echo
echo "daneguard's own log of the first interception: \`$(v daneguard.dg_log)\`"
for k in daneguard privoxy mitmdump mitmstream tunnel direct; do
    [ -n "${R[$k.bulk_err]:-}" ] && echo "- $k bulk download failed: ${R[$k.bulk_err]}"
    [ -n "${R[$k.rate_err0]:-}" ] && echo "- $k rate, no resumption: ${R[$k.rate_err0]}"
    [ -n "${R[$k.rate_err1]:-}" ] && echo "- $k rate, resumption: ${R[$k.rate_err1]}"
    [ -n "${R[$k.status]:-}" ] && [ "${R[$k.status]}" != ok ] && echo "- $k: ${R[$k.status]}"
done
exit 0
