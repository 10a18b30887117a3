/* tests/unit/unit.h — a tiny unit-test harness shared by every tests/unit/test_*.c.
 *
 * A test is a void function; main() calls UNIT_RUN(fn) for each and returns
 * UNIT_END(). Every test prints one line, "PASS name" or "FAIL name", which
 * tests/run.sh counts. Failed checks print both operands, as libuv's asserts do.
 */
#ifndef UNIT_H
#define UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int unit_failed_checks; /* checks failed in the running test */
static int unit_failed_tests;  /* tests failed in this program */

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);            \
            unit_failed_checks++;                                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                                         \
    do {                                                                                           \
        long long unit_a_ = (long long)(a), unit_b_ = (long long)(b);                              \
        if (unit_a_ != unit_b_) {                                                                  \
            fprintf(stderr, "  %s:%d: %s == %s: %lld != %lld\n", __FILE__, __LINE__, #a, #b,       \
                    unit_a_, unit_b_);                                                             \
            unit_failed_checks++;                                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                                         \
    do {                                                                                           \
        const char *unit_a_ = (a), *unit_b_ = (b);                                                 \
        if (!unit_a_ || !unit_b_ || strcmp(unit_a_, unit_b_) != 0) {                               \
            fprintf(stderr, "  %s:%d: %s == %s: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, #b,   \
                    unit_a_ ? unit_a_ : "(null)", unit_b_ ? unit_b_ : "(null)");                   \
            unit_failed_checks++;                                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_MEM_EQ(a, b, n)                                                                      \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0) {                                                          \
            fprintf(stderr, "  %s:%d: %s and %s differ in their first %zu bytes\n", __FILE__,      \
                    __LINE__, #a, #b, (size_t)(n));                                                \
            unit_failed_checks++;                                                                  \
        }                                                                                          \
    } while (0)

#define UNIT_RUN(fn)                                                                               \
    do {                                                                                           \
        unit_failed_checks = 0;                                                                    \
        fn();                                                                                      \
        printf("%s %s\n", unit_failed_checks ? "FAIL" : "PASS", #fn);                              \
        fflush(stdout);                                                                            \
        if (unit_failed_checks)                                                                    \
            unit_failed_tests++;                                                                   \
    } while (0)

#define UNIT_END() (unit_failed_tests ? 1 : 0)

#endif
