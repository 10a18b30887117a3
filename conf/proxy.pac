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
// untouched. It does not connect to loopback, private (RFC 1918), CGNAT,
// link-local or unique-local addresses unless proxy.allow_destinations names
// them (a web page must not reach the LAN through it), so the LAN's own hosts
// and names go DIRECT here.

var PROXY = "PROXY 127.0.0.1:8080";   // for a LAN: "PROXY 192.168.1.1:8080"

// Networks reached DIRECT: the LAN's own hosts (printers, routers, NAS) are
// usually addressed by name or IP and are not DANE sites, and daneguard
// refuses them (403) unless they are in its proxy.allow_destinations.
var DIRECT_NETS = [
    ["10.0.0.0", "255.0.0.0"],
    ["172.16.0.0", "255.240.0.0"],
    ["192.168.0.0", "255.255.0.0"],
    ["169.254.0.0", "255.255.0.0"],   // link-local
    ["100.64.0.0", "255.192.0.0"],    // carrier-grade NAT (RFC 6598)
    ["0.0.0.0", "255.0.0.0"]
];

// Local-only suffixes (RFC 6762 .local, RFC 8375 home.arpa).
var DIRECT_SUFFIXES = [".local", ".home.arpa"];

function isIPv4Literal(host) {
    return /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}

// IPv6 literals, with or without brackets: unique-local fc00::/7 and
// link-local fe80::/10 go DIRECT; a v4-mapped one is its IPv4 address.
function unbracket(host) {
    return host.toLowerCase().replace(/^\[(.*)\]$/, "$1").replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, "$1");
}

function isLocalIPv6Literal(h) {
    return h == "::" || /^f[cd][0-9a-f]{2}:/.test(h) || /^fe[89ab][0-9a-f]:/.test(h);
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
    var h = unbracket(host);
    if (isIPv4Literal(h))
        for (var j = 0; j < DIRECT_NETS.length; j++)
            if (isInNet(h, DIRECT_NETS[j][0], DIRECT_NETS[j][1]))
                return "DIRECT";
    if (isLocalIPv6Literal(h))
        return "DIRECT";

    return PROXY;
}
