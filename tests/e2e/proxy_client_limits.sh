#!/usr/bin/env bash
# tests/e2e/proxy_client_limits.sh — issue 8, hardening: one client (source
# address) cannot take every connection or every DNS lookup of the proxy.
#
# max_connections 16, so max_connections_per_client is 4 by default:
#   busy       127.0.0.2 opens 16 CONNECT tunnels to an origin that waits: 4 are
#              established, the other 12 closed at once, one log line for it;
#              meanwhile 127.0.0.3 still gets its page (before the limit it got
#              503: 127.0.0.2 held every slot)
#   idle       127.0.0.2 opens 20 connections that send nothing: it keeps 4 (its
#              longest-waiting ones make room), 127.0.0.3 still gets its page
#   explicit   max_connections_per_client: 2 after a reload: 2 of 5 tunnels
#   lookups    max_lookups_per_client: 6, and the DNS relay never answers for
#              *.slow.world.test: of 4 CONNECTs from 127.0.0.2 (3 lookups each)
#              2 wait for DNS and 2 are answered 503 naming the key at once;
#              127.0.0.3's CONNECT to such a name is not refused (its own count)
# A sanitizer report in daneguard's log is a FAIL. Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap

world_start || { echo "FAIL world_start: see stderr"; exit 1; }
world_relay_start || { echo "FAIL relay_start: see stderr"; exit 1; }
P=$(world_free_port 127.0.0.80) || { echo "FAIL port: none free"; exit 1; }
world_spawn origin timeout 900 python3 tests/e2e/proxy_local.py server 127.0.0.80 "$P" \
    "$WORLD_DIR/origin-accepts.log"
wait_listen "$P" || { fail origin "did not listen on $P"; exit 1; }

CFG=$WORLD_DIR/dg.yml
base_cfg=("proxy.allowed_ports: [443, $P]" "proxy.max_connections: 16"
    "proxy.handshake_timeout: 5000" "proxy.idle_timeout: 60000" "resolver.timeout: 4000")
world_daneguard_config "$CFG" "${base_cfg[@]}"
world_daneguard_start "$CFG" -v || { fail daneguard_start "see stderr"; exit 1; }

L=tests/e2e/proxy_local.py
served_from_3() { # NAME: 127.0.0.3 gets the origin's page by plain HTTP
    local r
    r=$(timeout 20 python3 "$L" request "$DG_PROXY_PORT" 127.0.0.3 "http://127.0.0.80:$P/")
    [[ $r == "200 local secret"* ]] && pass "$1" || fail "$1" "127.0.0.3 got: $r"
}
# wait_line FILE: up to 10 s for the first line of a helper's output
wait_line() {
    local i
    for ((i = 0; i < 100; i++)); do
        [ -s "$1" ] && grep -q . "$1" && return 0
        sleep 0.1
    done
    return 1
}
open_conns() {
    curl -sS --max-time 5 "http://127.0.0.1:$DG_PROXY_PORT/status.json" 2>/dev/null |
        grep -o '"connections_open": *[0-9]*' | grep -o '[0-9]*$'
}

# --- busy connections: 4 per client ----------------------------------------------------
world_spawn busy timeout 60 python3 "$L" busy "$DG_PROXY_PORT" 127.0.0.2 "127.0.0.80:$P" 16 6
BUSY_PID=$WORLD_LAST_PID
if wait_line "$WORLD_DIR/busy.log"; then
    r=$(head -n 1 "$WORLD_DIR/busy.log")
    [ "$r" = "established 4 closed 12 other 0" ] && pass busy_client_capped_at_4 ||
        fail busy_client_capped_at_4 "$r"
    served_from_3 other_client_served_while_busy
    n=$(grep -c 'client 127.0.0.2 reached max_connections_per_client (4)' "$WORLD_DIR/daneguard.log")
    [ "$n" -ge 1 ] && [ "$n" -le 2 ] && pass limit_logged_once_per_interval ||
        fail limit_logged_once_per_interval "$n lines"
else
    fail busy_client_capped_at_4 "no result: $(tail -n 3 "$WORLD_DIR/busy.log")"
fi
world_kill "$BUSY_PID"

# --- idle connections: the client's own oldest make room --------------------------------
for ((i = 0; i < 50; i++)); do # the tunnels closed (the status request is one)
    open_n=$(open_conns)
    [ "${open_n:-99}" -le 1 ] && break
    sleep 0.1
done
world_spawn idle timeout 60 python3 "$L" idle "$DG_PROXY_PORT" 127.0.0.2 20
IDLE_PID=$WORLD_LAST_PID
sleep 1.5
served_from_3 other_client_served_while_idle_flood
open_n=$(open_conns)
[ "${open_n:-99}" -le 5 ] && pass idle_client_holds_at_most_4 ||
    fail idle_client_holds_at_most_4 "connections_open=$open_n"
if wait_line "$WORLD_DIR/idle.log"; then
    r=$(head -n 1 "$WORLD_DIR/idle.log")
    [ "$r" = "open 4 closed 16" ] && pass idle_oldest_make_room || fail idle_oldest_make_room "$r"
else
    fail idle_oldest_make_room "no result"
fi
world_kill "$IDLE_PID"

# --- the key, set explicitly -------------------------------------------------------------
if reload_to reload_per_client "proxy.max_connections_per_client: 2"; then
    : >"$WORLD_DIR/busy2.log"
    world_spawn busy2 timeout 60 python3 "$L" busy "$DG_PROXY_PORT" 127.0.0.2 "127.0.0.80:$P" 5 1
    if wait_line "$WORLD_DIR/busy2.log"; then
        r=$(head -n 1 "$WORLD_DIR/busy2.log")
        [ "$r" = "established 2 closed 3 other 0" ] && pass explicit_per_client_2 ||
            fail explicit_per_client_2 "$r"
    else
        fail explicit_per_client_2 "no result"
    fi
    world_kill "$WORLD_LAST_PID"
fi

# --- lookups in flight per client -----------------------------------------------------------
world_relay_rules '[{"qname":"*.slow.world.test.","action":"drop"}]'
if reload_to reload_lookups "proxy.max_lookups_per_client: 6"; then
    world_spawn lookups2 timeout 60 python3 "$L" lookups "$DG_PROXY_PORT" 127.0.0.2 a.slow.world.test 4
    L2=$WORLD_LAST_PID
    sleep 0.5
    r3=$(timeout 20 python3 "$L" lookups "$DG_PROXY_PORT" 127.0.0.3 b.slow.world.test 1)
    if wait_line "$WORLD_DIR/lookups2.log"; then
        r=$(head -n 1 "$WORLD_DIR/lookups2.log")
        [ "$r" = "answered503 2 pending 2 other 0" ] && pass lookups_per_client_503 ||
            fail lookups_per_client_503 "$r"
    else
        fail lookups_per_client_503 "no result"
    fi
    [ "$r3" = "answered503 0 pending 1 other 0" ] && pass lookups_other_client_not_refused ||
        fail lookups_other_client_not_refused "$r3"
    world_kill "$L2"
fi
world_relay_rules '[]'

dg_alive daneguard_survived
dg_stop_checked no_sanitizer_reports
proxy_finish
