/* tests/fuzz/fuzz_scrub.c — libFuzzer harness for scrub_for_validator()
 * (resolver/scrub.c), which cuts an upstream answer in place before getdns
 * validates it (resolver/forwarder.c req_deliver()).
 *
 * Input: a DNS message as an upstream would send it. When the cut happens
 * (returns 1), the result must be a well-formed message that is the input's
 * header and answer section byte for byte, with no authority records and at
 * most one additional record, an OPT whose owner is the root label itself
 * (one zero byte, not a pointer), the input's OPT rdata unchanged; every
 * record must read. Otherwise the message must be left exactly as it was.
 *
 * The same input also goes through localzone_rebind_filter() (rebinding
 * protection, resolver/localzone.c: A, AAAA and the hints of HTTPS/SVCB), for
 * memory safety: it may only shorten the message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "localzone.h"
#include "scrub.h"
#include "wire.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_scrub: check failed at line %d: %s\n", __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *msg;
    size_t len = size, answer_end = 0;
    struct dns_rr_iter it;
    struct dns_rr rr, opt_in;
    int rc, have_opt = 0;

    if (size > 65535)
        return 0;
    msg = malloc(size ? size : 1);
    if (!msg)
        return 0;
    memcpy(msg, data, size);
    {
        char first[64];
        int n = localzone_rebind_filter(msg, &len, first, sizeof first);
        CHECK(n >= 0 ? len <= size : n == WIRE_EFORMERR);
        len = size;
        memcpy(msg, data, size);
    }
    /* the input as the iterator reads it: where the answer section ends, its OPT */
    if (dns_rr_iter_init(&it, data, size) == 0) {
        while (dns_rr_iter_next(&it, &rr) == 1) {
            if (rr.section == DNS_SECTION_ANSWER)
                answer_end = rr.rdata_offset + rr.rdlen;
            if (rr.section == DNS_SECTION_ADDITIONAL && rr.type == DNS_TYPE_OPT && !have_opt) {
                opt_in = rr;
                have_opt = 1;
            }
        }
    }
    rc = scrub_for_validator(msg, &len);
    CHECK(rc == 1 || rc == 0 || rc == SCRUB_EFORMERR);
    if (rc != 1) {
        CHECK(len == size && memcmp(msg, data, size) == 0);
        free(msg);
        return 0;
    }
    CHECK(len <= size && len >= answer_end && answer_end > 0);
    CHECK(memcmp(msg + 2, data + 2, 6) == 0);                       /* flags, QD, AN */
    CHECK(memcmp(msg + 12, data + 12, answer_end - 12) == 0);       /* question, answers */
    CHECK(rd16(msg + 8) == 0 && rd16(msg + 10) == (have_opt ? 1 : 0));
    CHECK(dns_rr_iter_init(&it, msg, len) == 0);
    unsigned n_add = 0;
    while ((rc = dns_rr_iter_next(&it, &rr)) == 1) {
        CHECK(rr.section != DNS_SECTION_AUTHORITY);
        if (rr.section == DNS_SECTION_ADDITIONAL) {
            n_add++;
            CHECK(rr.type == DNS_TYPE_OPT);
            CHECK(rr.rdata_offset == answer_end + 11 && msg[answer_end] == 0); /* root owner */
            CHECK(have_opt && rr.rdlen == opt_in.rdlen && rr.ttl == opt_in.ttl &&
                  rr.rrclass == opt_in.rrclass &&
                  memcmp(rr.rdata, opt_in.rdata, rr.rdlen) == 0);
        }
    }
    CHECK(rc == 0);
    CHECK(n_add == (have_opt ? 1u : 0u));
    CHECK(len == (have_opt ? answer_end + 11 + opt_in.rdlen : answer_end));
    free(msg);
    return 0;
}
