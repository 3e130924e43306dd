/* groklab tests: tiny assertion helpers. Each check prints OK or NOT OK with
 * the numbers, so a failure says where it is; main returns the failure count. */
#ifndef GROKLAB_TEST_CHECK_H
#define GROKLAB_TEST_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_failures = 0;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            printf("OK      ");                                            \
        } else {                                                           \
            printf("NOT OK  ");                                            \
            check_failures++;                                              \
        }                                                                  \
        printf(__VA_ARGS__);                                               \
        printf("\n");                                                      \
    } while (0)

/* |a - b| <= tol * max(1, |b|) */
#define CHECK_CLOSE(a, b, tol, what)                                                      \
    do {                                                                                  \
        double a_ = (a), b_ = (b);                                                        \
        double e_ = fabs(a_ - b_) / fmax(1.0, fabs(b_));                                  \
        CHECK(e_ <= (tol), "%s: %.10g vs %.10g (err %.3g, tol %.1g)", what, a_, b_, e_,   \
              (double)(tol));                                                             \
    } while (0)

#define CHECK_DONE() (printf("%d failed\n", check_failures), check_failures ? 1 : 0)

#endif
