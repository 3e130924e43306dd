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

/* Absolute: |a - b| <= tol. */
#define CHECK_ABS(a, b, tol, what)                                                        \
    do {                                                                                  \
        double a_ = (a), b_ = (b), e_ = fabs(a_ - b_);                                    \
        CHECK(e_ <= (tol), "%s: %.17g vs %.17g (abs err %.3g, tol %.1g)", what, a_, b_, e_, \
              (double)(tol));                                                             \
    } while (0)

/* Relative: |a - b| <= tol * |b|; b must not be zero (use CHECK_ABS there). */
#define CHECK_REL(a, b, tol, what)                                                        \
    do {                                                                                  \
        double a_ = (a), b_ = (b), e_ = fabs(a_ - b_) / fabs(b_);                         \
        CHECK(b_ != 0 && e_ <= (tol), "%s: %.17g vs %.17g (rel err %.3g, tol %.1g)", what, \
              a_, b_, e_, (double)(tol));                                                 \
    } while (0)

/* The larger of two errors, NaN if either is NaN: fmax drops a NaN, so an
 * error accumulated with it would pass a check when the code under test
 * returns NaN. */
static inline double check_worse(double e, double d) { return isnan(e) || isnan(d) ? NAN : fmax(e, d); }

#define CHECK_DONE() (printf("%d failed\n", check_failures), check_failures ? 1 : 0)

#endif
