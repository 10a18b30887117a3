/* include/cli_resolve.h — what the operator subcommands share to reach a
 * server the way the daemon would: the configuration (whose resolver: section
 * gives the upstreams and the trust anchors), a host's addresses through
 * daneguard's own validating resolver (in process: never the system
 * resolver), and a bounded TCP connection.
 */
#ifndef DANEGUARD_CLI_RESOLVE_H
#define DANEGUARD_CLI_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"

/* The configuration the daemon reads by default. */
#define CLI_DEFAULT_CONFIG "/etc/daneguard/daneguard.yml"

/* Load path into *cfg and fill its upstreams from resolv_conf when it lists
 * none, as the daemon does. 0, or -1 after "WHO: FILE:LINE: ..." on stderr. */
int cli_config_load(const char *who, const char *path, struct config *cfg);

/* The addresses of host (a name, not a literal) with port, from A and AAAA
 * lookups through a resolver made from cfg->resolver on a loop of its own,
 * at most max into out (IPv4 first). Only addresses from answers that
 * validate (secure, or insecure: no chain of trust) count, as for the proxy.
 * verbosity > 0 lets the resolver log on stderr.
 * Returns the number of addresses (> 0), or -1 with why in err: "DNSSEC
 * validation failed for the address of HOST (bogus): ..." when an address
 * answer is bogus, and otherwise a timeout, NXDOMAIN, SERVFAIL or "no address". */
int cli_resolve_addresses(const struct config *cfg, const char *host, uint16_t port,
                          struct sockaddr_storage *out, size_t max, char *err, size_t errlen);

/* A blocking TCP connection to ss, within timeout_ms; later sends and
 * receives are bounded by it too. The socket, or -1 with "cannot connect:
 * <strerror>" in err. */
int cli_connect_bounded(const struct sockaddr_storage *ss, int timeout_ms, char *err,
                        size_t errlen);

#endif
