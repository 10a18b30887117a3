#!/usr/bin/env bash
# tests/e2e/proxy_firefox.sh — headless Firefox ESR through daneguard, the second
# real browser beside Chromium: daneguard's CA trusted through the profile's
# NSS database (certutil), the proxy set through the profile's prefs (user.js).
# A DANE-EE match loads the origin's page over HTTP/2 (nginx says which
# protocol it served), a mismatch shows daneguard's refusal page; the
# screenshots are read back with OCR (tesseract) and kept in the test log dir
# with KEEP_WORLD=1. Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap

ff_bin=$(command -v firefox-esr || command -v firefox || true)
[ -n "$ff_bin" ] || { echo "FAIL firefox: not installed (apt-get install firefox-esr)"; exit 1; }
for t in certutil tesseract nginx; do
    command -v "$t" >/dev/null || { echo "FAIL firefox: $t missing"; exit 1; }
done

P_EE=$(world_free_port 127.0.0.80)
P_MISM=$(world_free_port 127.0.0.80)
[ "$P_EE" != "$P_MISM" ] || P_MISM=$(world_free_port 127.0.0.80)
WORLD_DIR=$(mktemp -d /tmp/daneguard-pki.XXXXXX)
pki_dir=$WORLD_DIR
pki_init && pki_leaf ee ee.secure.world.test ec && pki_leaf mism mism.secure.world.test ec ||
    { echo "FAIL pki: $(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
H_EE=$(spki_sha256 "$PKI/ee.pem")
WORLD_DIR=
world_extra_records() {
    [ "$1" = secure.world.test. ] || return 0
    echo "ee IN A 127.0.0.80"
    echo "mism IN A 127.0.0.80"
    echo "_$P_EE._tcp.ee IN TLSA 3 1 1 $H_EE"
    echo "_$P_MISM._tcp.mism IN TLSA 3 1 1 $H_EE"
}
world_start || { echo "FAIL world_start: see stderr"; exit 1; }
mv "$pki_dir/pki" "$WORLD_DIR/pki" && rm -rf "$pki_dir"
PKI=$WORLD_DIR/pki
world_daneguard_config "$WORLD_DIR/dg.yml" "proxy.allowed_ports: [443, $P_EE, $P_MISM]"
world_daneguard_start "$WORLD_DIR/dg.yml" -v || { fail daneguard_start "see stderr"; exit 1; }
DGCA=$WORLD_DIR/ca/ca.crt
out=$WORLD_DIR/out
mkdir -p "$out" "$WORLD_DIR/nginx"

# The DANE origin: nginx with HTTP/2, a page that names the protocol it was
# served with in large letters (for OCR).
n=$WORLD_DIR/nginx
cat "$PKI/ee.pem" "$PKI/inter.pem" >"$PKI/ee.full.pem" 2>/dev/null || cp "$PKI/ee.pem" "$PKI/ee.full.pem"
cat >"$n/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 1;
pid $n/nginx.pid;
error_log $n/error.log warn;
events { worker_connections 64; }
http {
    access_log $n/access.log;
    client_body_temp_path $n/body;
    proxy_temp_path $n/proxy;
    fastcgi_temp_path $n/fastcgi;
    uwsgi_temp_path $n/uwsgi;
    scgi_temp_path $n/scgi;
    log_format proto '\$request \$server_protocol \$status';
    server {
        listen 127.0.0.80:$P_EE ssl http2;
        ssl_certificate $PKI/ee.full.pem;
        ssl_certificate_key $PKI/ee.key;
        access_log $n/proto.log proto;
        default_type text/html;
        location / {
            return 200 '<html><body style="font:48px sans-serif;margin:40px"><p>DANE ORIGIN PAGE</p><p>served over \$server_protocol</p></body></html>';
        }
    }
}
EOF
world_spawn nginx timeout 900 nginx -e "$n/error.log" -p "$n" -c "$n/nginx.conf"
wait_listen "$P_EE" || { fail nginx "did not listen: $(tail -3 "$n/error.log")"; exit 1; }
origin_sserver o_mism 127.0.0.80 "$P_MISM" mism || { fail origins "did not start"; exit 1; }

# A fresh profile: daneguard's CA in its NSS db, the proxy and quiet prefs in
# user.js. Every request goes through the proxy (localhost too), DNS-over-HTTPS
# and every background service is off, so nothing leaves loopback.
profile=$WORLD_DIR/ff-profile
mkdir -p "$profile"
certutil -N --empty-password -d "sql:$profile" >"$out/certutil.log" 2>&1 &&
    certutil -A -d "sql:$profile" -t "C,," -n "daneguard CA" -i "$DGCA" >>"$out/certutil.log" 2>&1 ||
    { fail firefox_nss_db "$(tail -3 "$out/certutil.log")"; exit 1; }
cat >"$profile/user.js" <<EOF
user_pref("network.proxy.type", 1);
user_pref("network.proxy.http", "127.0.0.1");
user_pref("network.proxy.http_port", $DG_PROXY_PORT);
user_pref("network.proxy.ssl", "127.0.0.1");
user_pref("network.proxy.ssl_port", $DG_PROXY_PORT);
user_pref("network.proxy.share_proxy_settings", true);
user_pref("network.proxy.no_proxies_on", "");
user_pref("network.proxy.allow_hijacking_localhost", true);
user_pref("network.trr.mode", 5);
user_pref("network.dns.disablePrefetch", true);
user_pref("network.prefetch-next", false);
user_pref("network.http.speculative-parallel-limit", 0);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("browser.safebrowsing.provider.google4.updateURL", "");
user_pref("browser.safebrowsing.provider.mozilla.updateURL", "");
user_pref("app.update.enabled", false);
user_pref("app.update.auto", false);
user_pref("app.normandy.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("extensions.blocklist.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("browser.region.network.url", "");
user_pref("browser.search.update", false);
user_pref("browser.newtabpage.enabled", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("security.OCSP.enabled", 0);
user_pref("security.remote_settings.crlite_filters.enabled", false);
user_pref("services.settings.server", "http://127.0.0.1:1/");
user_pref("network.cookie.cookieBehavior", 0);
EOF

# firefox_shot NAME URL: a 1280x900 screenshot in $out/NAME.png, its OCR text in
# $out/NAME.txt. One Firefox at a time on the profile, bounded by timeout.
firefox_shot() {
    local name=$1 url=$2
    rm -f "$out/$name.png"
    HOME=$WORLD_DIR MOZ_HEADLESS=1 timeout -k 5 90 "$ff_bin" --headless --no-remote \
        --profile "$profile" --window-size 1280,900 --screenshot "$out/$name.png" "$url" \
        >"$out/$name.log" 2>&1 &
    WORLD_PIDS+=("$!")
    wait $!
    if [ -s "$out/$name.png" ]; then
        tesseract "$out/$name.png" - 2>/dev/null >"$out/$name.txt"
    else
        : >"$out/$name.txt"
    fi
}
ocr_has() { # NAME TEXT... (case-insensitive, white space squeezed)
    local f=$out/$1.txt t
    shift
    for t in "$@"; do tr -s ' \n' ' ' <"$f" | grep -qiF -- "$t" || return 1; done
}
why() { echo "OCR: $(tr -s ' \n' ' ' <"$out/$1.txt" | head -c 300) LOG: $(tail -3 "$out/$1.log" | tr '\n' ' ' | head -c 300)"; }

firefox_shot match "https://ee.secure.world.test:$P_EE/"
ocr_has match "DANE ORIGIN PAGE" && pass firefox_dane_match ||
    fail firefox_dane_match "$(why match)"
ocr_has match "HTTP/2" && grep -q 'HTTP/2.0 200' "$n/proto.log" && pass firefox_http2 ||
    fail firefox_http2 "$(why match) nginx: $(tail -2 "$n/proto.log" | tr '\n' ' ')"

firefox_shot mism "https://mism.secure.world.test:$P_MISM/"
ocr_has mism "daneguard refused" "DANE mismatch" "no TLSA record matches" && ! ocr_has mism "Ciphers supported" &&
    pass firefox_dane_mismatch_page || fail firefox_dane_mismatch_page "$(why mism)"

[ "${KEEP_WORLD:-0}" = 1 ] && echo "screenshots: $out/match.png $out/mism.png"
dg_alive daneguard_survived
dg_stop_checked no_sanitizer_reports
proxy_finish
