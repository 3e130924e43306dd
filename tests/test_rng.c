/* Philox streams: known-answer vectors of Random123, and the distributions
 * built on it. */
#include <stdlib.h>

#include "check.h"
#include "groklab/rng.h"
#include <Random123/philox.h>

int main(void) {
    /* Random123's kat_vectors for philox4x32-10 */
    philox4x32_ctr_t c0 = {{0, 0, 0, 0}};
    philox4x32_key_t k0 = {{0, 0}};
    philox4x32_ctr_t r0 = philox4x32_R(10, c0, k0);
    CHECK(r0.v[0] == 0x6627e8d5u && r0.v[1] == 0xe169c58du && r0.v[2] == 0xbc57ac4cu &&
              r0.v[3] == 0x9b00dbd8u,
          "philox4x32-10 known answer (zero counter, zero key)");
    philox4x32_ctr_t c1 = {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}};
    philox4x32_key_t k1 = {{0xa4093822u, 0x299f31d0u}};
    philox4x32_ctr_t r1 = philox4x32_R(10, c1, k1);
    CHECK(r1.v[0] == 0xd16cfe09u && r1.v[1] == 0x94fdccebu && r1.v[2] == 0x5001e420u &&
              r1.v[3] == 0x24126ea1u,
          "philox4x32-10 known answer (pi digits)");
    /* gl_philox lays out counter {a_lo, a_hi, b, stream} and key {seed_lo, seed_hi} */
    uint32_t o[4];
    gl_philox(0x299f31d0a4093822ull, 0x03707344u, 0x85a308d3243f6a88ull, 0x13198a2eu, o);
    CHECK(o[0] == 0xd16cfe09u && o[3] == 0x24126ea1u, "gl_philox counter/key layout");

    /* gl_philox_run equals gl_philox word for word, across a carry into a_hi */
    uint32_t run[4 * 37];
    int run_same = 1;
    const uint64_t starts[] = {0, 12345, 0xffffffffull - 17, 0x1234567890ull};
    for (int s0 = 0; s0 < 4; s0++) {
        gl_philox_run(0x0123456789abcdefull, 4, starts[s0], 77, 37, run);
        for (int i = 0; i < 37; i++) {
            gl_philox(0x0123456789abcdefull, 4, starts[s0] + (uint64_t)i, 77, o);
            for (int j = 0; j < 4; j++) run_same = run_same && run[4 * i + j] == o[j];
        }
    }
    CHECK(run_same, "gl_philox_run equals gl_philox on 4 x 37 consecutive counters");

    /* normals: mean 0, variance 1 within 4 standard errors */
    int n = 200000;
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) {
        double x = gl_normal(7, 3, (uint64_t)i, 0);
        s += x;
        q += x * x;
    }
    double mean = s / n, var = q / n - mean * mean;
    CHECK(fabs(mean) < 4 / sqrt(n), "normal mean %.5f", mean);
    CHECK(fabs(var - 1) < 4 * sqrt(2.0 / n), "normal variance %.5f", var);

    /* uniform integers: in range, each value about n/10 times */
    int counts[10] = {0}, bad = 0;
    for (int i = 0; i < n; i++) {
        uint32_t v = gl_uniform_int(3, 2, (uint64_t)i, 0, 10);
        if (v >= 10) bad++;
        else counts[v]++;
    }
    double chi2 = 0;
    for (int j = 0; j < 10; j++) chi2 += (counts[j] - n / 10.0) * (counts[j] - n / 10.0) / (n / 10.0);
    CHECK(bad == 0 && chi2 < 27.9, "uniform_int in range, chi2 %.2f (9 dof, p=0.001 at 27.9)", chi2);

    /* shuffle: a permutation, and a different one for another b */
    int32_t p1[1000], p2[1000], seen[1000] = {0};
    for (int i = 0; i < 1000; i++) p1[i] = p2[i] = i;
    gl_shuffle(p1, 1000, 5, 5, 0);
    gl_shuffle(p2, 1000, 5, 5, 1);
    int perm = 1, same = 0;
    for (int i = 0; i < 1000; i++) {
        if (seen[p1[i]]++) perm = 0;
        same += p1[i] == p2[i];
    }
    CHECK(perm, "shuffle is a permutation");
    CHECK(same < 20, "epochs give different orders (%d fixed points in common)", same);
    return CHECK_DONE();
}
