// conf/proxy.pac — an example proxy auto-configuration file for daneguard.
//
// daneguard serves its own at http://<proxy listen address>/proxy.pac (and
// /wpad.dat); use this one instead when the PAC file must come from elsewhere
// (a web server, a WPAD set-up, a managed browser policy) or must also keep a
// LAN's own names away from the proxy. Change PROXY and the networks below.
//
// There is deliberately no "; DIRECT" fallback after the proxy: if daneguard
// is down, pages fail instead of silently losing their DANE protection.
// daneguard itself forwards plain HTTP and tunnels HTTPS sites without TLSA
// untouched, so nothing else needs to go DIRECT.

var PROXY = "PROXY 127.0.0.1:8080";   // for a LAN: "PROXY 192.168.1.1:8080"

// Networks reached DIRECT: the LAN's own hosts (printers, routers, NAS) are
// usually addressed by name or IP and are not DANE sites. Empty the list to
// send everything but loopback through daneguard.
var DIRECT_NETS = [
    ["10.0.0.0", "255.0.0.0"],
    ["172.16.0.0", "255.240.0.0"],
    ["192.168.0.0", "255.255.0.0"]
];

// Local-only suffixes (RFC 6762 .local, RFC 8375 home.arpa).
var DIRECT_SUFFIXES = [".local", ".home.arpa"];

function isIPv4Literal(host) {
    return /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}

function FindProxyForURL(url, host) {
    // Loopback and bare names never leave the machine or the LAN.
    if (isPlainHostName(host) || host == "localhost" || dnsDomainIs(host, ".localhost") ||
        shExpMatch(host, "127.*") || host == "::1" || host == "[::1]")
        return "DIRECT";

    for (var i = 0; i < DIRECT_SUFFIXES.length; i++)
        if (dnsDomainIs(host, DIRECT_SUFFIXES[i]))
            return "DIRECT";

    // Match literal addresses only: resolving every name here (isInNet on a
    // name) would bypass daneguard's validating resolver and slow each request.
    if (isIPv4Literal(host))
        for (var j = 0; j < DIRECT_NETS.length; j++)
            if (isInNet(host, DIRECT_NETS[j][0], DIRECT_NETS[j][1]))
                return "DIRECT";

    return PROXY;
}
