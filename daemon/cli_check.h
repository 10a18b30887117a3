/* daemon/cli_check.h — what daneguard check's two files share (private):
 * cli_check_dns.c does the lookups through the in-process resolver and words
 * their answers; cli_check.c connects, verifies and prints the verdicts.
 */
#ifndef DANEGUARD_CLI_CHECK_H
#define DANEGUARD_CLI_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "dane.h"
#include "lookup.h"
#include "resolver.h"
#include "wire.h"

#define CHECK_MAX_TLSA 32
#define CHECK_MAX_ADDRS 32

/* What one lookup found. */
struct rrset {
    int started, done;
    int timed_out;
    int rcode;
    enum dns_security security;
    size_t count; /* records of the asked type in the answer */
    char why[160];
    char cname[DNS_MAX_NAME + 2]; /* final CNAME target, "" when none */
};

struct check;

struct check_lookup {
    struct check *c;
    struct lookup *l; /* NULL once the callback ran */
    struct rrset *out;
    uint16_t qtype;
};

struct check {
    uv_loop_t loop;
    uv_timer_t watchdog;
    int expired;
    int pending;
    struct resolver *resolver;
    uint16_t port;
    char host[DNS_MAX_NAME + 1]; /* as given, without the trailing dot */
    struct rrset a, aaaa, tlsa, tlsa_alias;
    struct check_lookup la, laaaa, ltlsa, lalias;
    struct dane_tlsa tlsa_recs[CHECK_MAX_TLSA], alias_recs[CHECK_MAX_TLSA];
    size_t n_tlsa, n_alias;
    struct sockaddr_storage addrs[CHECK_MAX_ADDRS];
    size_t n_addrs;
};

/* Start looking up name/qtype for c into out (A and AAAA add the addresses
 * they return to c->addrs, TLSA the records to c's lists). 0, or -1 when the
 * lookup cannot start. */
int cli_check_dns_start(struct check *c, struct check_lookup *cl, const char *name, uint16_t qtype,
                        struct rrset *out);

/* Run c's loop until every lookup started so far has answered, or a watchdog
 * (a margin over timeout_ms, the resolver's own deadline) fires; the lookups
 * left are cancelled and count as timed out. */
void cli_check_dns_wait(struct check *c, uint32_t timeout_ms);

/* The status word an operator reads ("secure", "insecure", "bogus",
 * "indeterminate": a timeout is neither secure nor bogus), and whether the
 * answer is there and secure. */
const char *cli_check_dns_status(const struct rrset *s);
int cli_check_dns_ok(const struct rrset *s);

/* One line on stdout: "LABEL NAME: STATUS, N UNITs (WHY)TAIL". tail may be NULL. */
void cli_check_dns_print(const char *label, const char *name, const struct rrset *s,
                         const char *unit, const char *tail);

#endif
