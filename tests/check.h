/* A tiny assertion kit for chase's test programs: each test_*.c is one program, each CHECK names its line. */
#ifndef CHASE_TEST_CHECK_H
#define CHASE_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                                                  \
    do {                                                                                                             \
        check_count++;                                                                                               \
        if (!(cond)) {                                                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                                 \
            check_failures++;                                                                                        \
        }                                                                                                            \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                                        \
    do {                                                                                                             \
        double check_a_ = (a), check_b_ = (b);                                                                       \
        check_count++;                                                                                               \
        if (!(fabs(check_a_ - check_b_) <= (tol))) {                                                                 \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.9g, %s = %.9g, tolerance %g\n", __FILE__, __LINE__,   \
                    #a, check_a_, #b, check_b_, (double)(tol));                                                      \
            check_failures++;                                                                                        \
        }                                                                                                            \
    } while (0)

#define CHECK_STR(a, b)                                                                                              \
    do {                                                                                                             \
        const char *check_a_ = (a), *check_b_ = (b);                                                                 \
        check_count++;                                                                                               \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {                                             \
            fprintf(stderr, "%s:%d: CHECK_STR failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__,                       \
                    check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)");                                 \
            check_failures++;                                                                                        \
        }                                                                                                            \
    } while (0)

/* Runs one test function and reports it. */
#define RUN(fn)                                                                                                      \
    do {                                                                                                             \
        int before_ = check_failures;                                                                                \
        fn();                                                                                                        \
        fprintf(stderr, "%s %s\n", check_failures == before_ ? "ok  " : "FAIL", #fn);                                \
    } while (0)

/* Ends main: exit status 1 when a check failed. */
#define CHECK_DONE()                                                                                                 \
    do {                                                                                                             \
        fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures);                                      \
        return check_failures ? 1 : 0;                                                                               \
    } while (0)

/* Path of a file under ../shared/data, or NULL (after printing why) when the shared data is not there.
 * Tests that need it return 77 (ctest's skip code) in that case. */
static inline const char *shared_data_path(const char *rel, char *buf, size_t size)
{
    const char *root = getenv("CHASE_SHARED_DATA");
    if (!root)
        root = "../shared/data";
    snprintf(buf, size, "%s/%s", root, rel);
    FILE *f = fopen(buf, "r");
    if (!f) {
        fprintf(stderr, "SKIP: shared data %s not found (set CHASE_SHARED_DATA)\n", buf);
        return NULL;
    }
    fclose(f);
    return buf;
}

#define SKIP_TEST 77

#endif
