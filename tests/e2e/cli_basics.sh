#!/usr/bin/env bash
# tests/e2e/cli_basics.sh — what a person meets first at the command line:
# --version, a mistyped subcommand, out-of-range options, missing files.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/world/world.sh
source tests/world/world.sh
BIN=${DANEGUARD_BIN:-$PWD/build/daneguard}
work=$(mktemp -d /tmp/daneguard-cli.XXXXXX)
trap 'rm -rf "$work"' EXIT

out=$("$BIN" --version 2>&1); rc=$?
if [ "$rc" = 0 ] && [[ $out =~ ^daneguard\ [0-9]+\.[0-9]+\.[0-9]+$ ]]; then pass version
else fail version "rc=$rc: $out"; fi

out=$("$BIN" verfy 2>&1); rc=$?
if [ "$rc" = 2 ] && [[ $out == *"did you mean 'verify'?"* ]]; then pass typo_suggests
else fail typo_suggests "rc=$rc: $out"; fi

out=$("$BIN" frobnicate 2>&1); rc=$?
if [ "$rc" = 2 ] && [[ $out == *"'frobnicate' is not a subcommand"* ]] && [[ $out != *"did you mean"* ]]; then
    pass unknown_subcommand
else fail unknown_subcommand "rc=$rc: $out"; fi

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=t \
    -keyout "$work/k.pem" -out "$work/c.pem" 2>/dev/null
out=$("$BIN" tlsa --usage 4 --cert "$work/c.pem" 2>&1); rc=$?
if [ "$rc" = 2 ] && [[ $out == *"--usage '4'"* ]]; then pass tlsa_usage_out_of_range
else fail tlsa_usage_out_of_range "rc=$rc: $out"; fi

out=$("$BIN" tlsa --usage 3 --cert "$work/c.pem" 2>&1); rc=$?
if [ "$rc" = 0 ] && [[ $out == *"IN TLSA 3 1 1 "* ]]; then pass tlsa_usage_3_ok
else fail tlsa_usage_3_ok "rc=$rc: $out"; fi

out=$("$BIN" tlsa --cert "$work/nonexistent.pem" 2>&1); rc=$?
if [ "$rc" = 2 ] && [[ $out == *"$work/nonexistent.pem: No such file or directory"* ]]; then
    pass tlsa_missing_cert_file
else fail tlsa_missing_cert_file "rc=$rc: $out"; fi

out=$("$BIN" tlsa --key "$work/nonexistent.pem" 2>&1); rc=$?
if [ "$rc" != 0 ] && [[ $out == *"$work/nonexistent.pem: No such file or directory"* ]]; then
    pass tlsa_missing_key_file
else fail tlsa_missing_key_file "rc=$rc: $out"; fi

# The CLI negotiates as the proxy does (one TLS engine): an origin that offers
# only static-RSA key exchange, which the proxy does not speak, fails for
# `tlsa --connect` too, and an ECDHE origin works.
port=$(world_free_port 127.0.0.1) || exit 1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rsa.test \
    -keyout "$work/rk.pem" -out "$work/rc.pem" 2>/dev/null
openssl s_server -accept "127.0.0.1:$port" -cert "$work/rc.pem" -key "$work/rk.pem" \
    -tls1_2 -cipher AES128-GCM-SHA256 -www -quiet >"$work/s1.log" 2>&1 &
s1=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
out=$(timeout 20 "$BIN" tlsa --connect "127.0.0.1:$port" --sni rsa.test 2>&1); rc=$?
kill "$s1" 2>/dev/null; wait "$s1" 2>/dev/null
if [ "$rc" != 0 ] && [[ $out == *"TLS with 127.0.0.1:$port failed"* ]]; then pass tlsa_connect_negotiates_as_proxy
else fail tlsa_connect_negotiates_as_proxy "rc=$rc: $out"; fi

port=$(world_free_port 127.0.0.1) || exit 1
openssl s_server -accept "127.0.0.1:$port" -cert "$work/c.pem" -key "$work/k.pem" \
    -www -quiet >"$work/s2.log" 2>&1 &
s2=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
out=$(timeout 20 "$BIN" tlsa --connect "127.0.0.1:$port" --sni t 2>&1); rc=$?
want=$("$BIN" tlsa --cert "$work/c.pem" 2>&1 | awk '{print $NF}')
kill "$s2" 2>/dev/null; wait "$s2" 2>/dev/null
if [ "$rc" = 0 ] && [[ $out == *"$want"* ]]; then pass tlsa_connect_ecdhe
else fail tlsa_connect_ecdhe "rc=$rc: $out"; fi

# bash completion: subcommands, then each subcommand's options.
comp() { # WORDS...: what completing the last word offers
    bash -c 'source conf/daneguard.bash-completion; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _daneguard; echo "${COMPREPLY[*]}"' _ "$@"
}
c1=$(comp daneguard ve) c2=$(comp daneguard tlsa --se) c3=$(comp daneguard tlsa --usage "")
if [ "$c1" = verify ] && [ "$c2" = --selector ] && [ "$c3" = "0 1 2 3" ]; then pass bash_completion
else fail bash_completion "'$c1' '$c2' '$c3'"; fi
