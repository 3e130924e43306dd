/* The numerics of src/model/ops.h, which the CPU passes and the GPU kernels
 * share, against independent computations: the activations' derivatives
 * against finite differences, the LayerNorm row's backward against finite
 * differences, the losses against their definitions (and the fused pass's
 * MSE row and the cross-entropy row with and without its scratch against
 * the layered pass's, to the bit where they must agree), the dropout masks
 * against one Philox call per element (the GPU's form), the dropout bit
 * mask against the select it replaces, the running statistics against
 * torch.nn.BatchNorm1d's formula, the chunking's cover of a batch, and the
 * norms over blocks of rows (src/model/norm_rows_impl.h: LayerNorm's
 * groups of rows summed side by side, BatchNorm's evaluation with its
 * square roots once per column) against the row and element functions, to
 * the bit. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "groklab/model.h"
#include "groklab/rng.h"
#include "model/ops.h"
#include "model/norm_rows.h"


/* uniform in [0, 1) */
static double uniform(uint64_t i, uint32_t b) {
    return gl_uniform_int(1, 99, i, b, 1u << 24) / 16777216.0;
}

static void test_activations(void) {
    const char *names[] = {"quadratic", "relu", "gelu", "identity"};
    for (int act = GL_ACT_QUADRATIC; act <= GL_ACT_IDENTITY; act++) {
        double worst = 0;
        for (int i = 0; i < 200; i++) {
            double x = 6 * uniform((uint64_t)i, 1) - 3, g = 2 * uniform((uint64_t)i, 2) - 1,
                   h = 1e-6;
            if (act == GL_ACT_RELU && fabs(x) < 1e-3) continue; /* the kink */
            double fd = g * (gl_act_f64(x + h, act) - gl_act_f64(x - h, act)) / (2 * h);
            worst = check_worse(worst, fabs(gl_act_back_f64(g, x, act) - fd));
        }
        CHECK(worst < 1e-8, "%s: g phi'(x) against finite differences (max err %.3g)", names[act],
              worst);
    }
    double worst = 0;
    for (int i = 0; i < 200; i++) {
        double x = 8 * uniform((uint64_t)i, 3) - 4;
        worst = check_worse(worst, fabs(gl_gelu_f64(x) - x * 0.5 * erfc(-x / sqrt(2.0))));
    }
    CHECK(worst < 1e-15, "gelu: x Phi(x) with Phi from erfc (max err %.3g)", worst);
}

/* LayerNorm of one row: z against the definition, and dL/da for L = sum w z
 * against finite differences */
static void test_layernorm_row(void) {
    enum { N = 37 };
    double a[N], gam[N], bet[N], z[N], w[N], da[N], zp[N], zm[N], mean, rstd;
    for (int k = 0; k < N; k++) {
        a[k] = 3 * uniform((uint64_t)k, 4) - 1;
        gam[k] = 0.5 + uniform((uint64_t)k, 5);
        bet[k] = uniform((uint64_t)k, 6) - 0.5;
        w[k] = 2 * uniform((uint64_t)k, 7) - 1;
    }
    gl_ln_row_f64(z, &mean, &rstd, a, gam, bet, N, 1e-5);
    double mu = 0, var = 0, zerr = 0;
    for (int k = 0; k < N; k++) mu += a[k] / N;
    for (int k = 0; k < N; k++) var += (a[k] - mu) * (a[k] - mu) / N;
    for (int k = 0; k < N; k++)
        zerr = check_worse(zerr, fabs(z[k] - ((a[k] - mu) / sqrt(var + 1e-5) * gam[k] + bet[k])));
    CHECK(zerr < 1e-13, "layernorm row: z against (a - mean) / sqrt(var + eps) gamma + beta (%.3g)",
          zerr);
    gl_ln_back_row_f64(da, w, a, mean, rstd, gam, N);
    double worst = 0;
    for (int k = 0; k < N; k++) {
        double h = 1e-6, keep = a[k], lp = 0, lm = 0, mp, rp;
        a[k] = keep + h;
        gl_ln_row_f64(zp, &mp, &rp, a, gam, bet, N, 1e-5);
        a[k] = keep - h;
        gl_ln_row_f64(zm, &mp, &rp, a, gam, bet, N, 1e-5);
        a[k] = keep;
        for (int j = 0; j < N; j++) lp += w[j] * zp[j], lm += w[j] * zm[j];
        worst = check_worse(worst, fabs(da[k] - (lp - lm) / (2 * h)));
    }
    CHECK(worst < 1e-7, "layernorm row: dL/da against finite differences (max err %.3g)", worst);
}

static void test_losses(void) {
    enum { P = 29, B = 7 };
    float o[P], g1[P], g2[P], o8[P];
    int y = 11;
    for (int j = 0; j < P; j++) o[j] = (float)(4 * uniform((uint64_t)j, 8) - 2);

    /* cross-entropy: with and without the scratch the same bytes, and the
     * definition */
    double e[P];
    double l1 = gl_ce_row_f32(g1, o, y, P, B, e), l2 = gl_ce_row_f32(g2, o, y, P, B, NULL);
    CHECK(l1 == l2 && !memcmp(g1, g2, sizeof g1),
          "ce row: the same bytes with and without scratch");
    long double zs = 0, gerr = 0;
    for (int j = 0; j < P; j++) zs += expl((long double)o[j]);
    for (int j = 0; j < P; j++)
        gerr = check_worse(gerr, fabsl(g1[j] - (expl((long double)o[j]) / zs - (j == y)) / B));
    CHECK_REL(l1, (double)(logl(zs) - o[y]), 1e-14, "ce row: loss = log sum exp(o) - o[y]");
    CHECK(gerr < 1e-8, "ce row: gradient (softmax - onehot) / B (max err %.3Lg)", gerr);

    /* MSE: the fused pass's row (8 partial sums) against the layered one's */
    float g = (float)gl_mse_scale(B, P);
    double s1 = gl_mse_row_f32(0.0, g1, o, y, P, g);
    memcpy(o8, o, sizeof o);
    double s8 = gl_mse_row8_f32(o8, y, P, g);
    long double ref = 0;
    for (int j = 0; j < P; j++)
        ref += ((long double)o[j] - (j == y)) * ((long double)o[j] - (j == y));
    CHECK(!memcmp(g1, o8, sizeof g1), "mse rows: the same gradient bytes in order and in 8 sums");
    CHECK_REL(s1, (double)ref, 1e-14, "mse row: sum of (o - onehot)^2");
    CHECK_REL(s8, (double)ref, 1e-14, "mse row8: sum of (o - onehot)^2");
}

static void test_dropout(void) {
    /* ranges that start and end inside counters, and ones that do not */
    const uint64_t E = 301, ranges[][2] = {{0, 301}, {1, 7}, {4, 8}, {5, 263}, {300, 301}, {2, 3}};
    const double prob = 0.3;
    int bad = 0;
    uint8_t keep[301];
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        uint64_t e0 = ranges[r][0], e1 = ranges[r][1];
        gl_dropout_range(keep, GL_STREAM_DEEP_DROPOUT, 17, E, e0, e1, prob, 5, 3);
        for (uint64_t e = e0; e < e1; e++) {
            uint32_t w[4];
            gl_philox(5, GL_STREAM_DEEP_DROPOUT, 17 * ((E + 3) / 4) + e / 4, 3, w);
            bad += keep[e - e0] != (gl_u01(w[e % 4]) >= (float)prob);
            bad += keep[e - e0] != gl_dropout_kept(w[e % 4], (float)prob);
        }
    }
    CHECK(!bad, "dropout ranges: one Philox word per element, as the GPU draws them (%d wrong)",
          bad);
    gl_dropout_range(keep, GL_STREAM_DROPOUT, 3, E, 0, E, 0.0, 5, 3);
    int all = 1;
    for (uint64_t e = 0; e < E; e++) all &= keep[e] == 1;
    CHECK(all, "dropout with probability 0 keeps everything");

    const float xs[] = {1.5f, -2.25f, 0.0f, -0.0f, INFINITY, -INFINITY, 3e-39f, 1e30f};
    int same = 1;
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++)
        for (uint8_t k = 0; k <= 1; k++) {
            float a = gl_drop_f32(xs[i], k, 1.25f), b = k ? xs[i] * 1.25f : 0.0f;
            same &= !memcmp(&a, &b, sizeof a);
        }
    CHECK(same, "gl_drop: the bit mask gives keep ? x * scale : +0 to the bit");
}

static void test_running_stats(void) {
    float rm = 0.25f, rv = 2.0f;
    gl_bn_running_f32(&rm, &rv, 1.5f, 0.5f, 8, 0.1);
    CHECK_REL(rm, 0.9 * 0.25 + 0.1 * 1.5, 1e-7, "bn running mean: (1 - m) r + m mean");
    CHECK_REL(rv, 0.9 * 2.0 + 0.1 * 0.5 * 8 / 7, 1e-7, "bn running var: unbiased, B / (B - 1)");
}

static void test_chunking(void) {
    int bad = 0;
    for (int B = 1; B <= 3000; B += 7)
        for (int lanes = 1; lanes <= 5; lanes += 2) {
            int nch, Rc = gl_chunking(B, 64, lanes, &nch);
            bad += Rc < 1 || (long)Rc * nch < B || (long)Rc * (nch - 1) >= B;
            bad += (size_t)nch > gl_max_chunks(B, 64, lanes);
        }
    CHECK(!bad, "chunking: chunks of Rc rows cover each batch, the last one short (%d wrong)", bad);
}

/* The block-of-rows norms against the row and element functions:
 * gl_ln_rows / gl_ln_back_rows (every group size and tail, with and without
 * the 8 x 8 blocks of the AVX-512 path, da == dz as the passes call it) and
 * gl_bn_eval_rows. In float to the bit, as training needs. In double within
 * 1e-14: there gcc's fused multiply-adds in the backward's element formula
 * differ between a loop's vector body and its scalar iterations, so even
 * gl_ln_back_row_f64 called on two rows of one array can round differently. */
/* 0 if x and y (n) are equal to the bit (tol 0) or within tol relative */
static int differ(const void *x, const void *y, size_t n, size_t size, double tol) {
    if (tol == 0) return memcmp(x, y, n * size) != 0;
    for (size_t i = 0; i < n; i++) {
        double u = size == sizeof(float) ? ((const float *)x)[i] : ((const double *)x)[i];
        double v = size == sizeof(float) ? ((const float *)y)[i] : ((const double *)y)[i];
        if (fabs(u - v) > tol * fmax(fabs(v), 1e-300)) return 1;
    }
    return 0;
}

#define NORM_ROWS_TEST(R, S, TOL)                                                                   \
    static int norm_rows_##S(int rows, long N) {                                                   \
        size_t n = (size_t)rows * N;                                                               \
        R *a = malloc(n * sizeof(R)), *dz = malloc(n * sizeof(R)), *z1 = malloc(n * sizeof(R));    \
        R *z2 = malloc(n * sizeof(R)), *g = malloc(N * sizeof(R)), *be = malloc(N * sizeof(R));    \
        R *rm = malloc(N * sizeof(R)), *rv = malloc(N * sizeof(R));                                \
        R *mu1 = malloc(rows * sizeof(R)), *mu2 = malloc(rows * sizeof(R));                        \
        R *rs1 = malloc(rows * sizeof(R)), *rs2 = malloc(rows * sizeof(R));                        \
        for (size_t i = 0; i < n; i++) {                                                           \
            a[i] = (R)(4 * uniform(i, 11) - 1.5);                                                  \
            dz[i] = (R)(2 * uniform(i, 12) - 1);                                                   \
        }                                                                                          \
        for (long k = 0; k < N; k++) {                                                             \
            g[k] = (R)(0.5 + uniform((uint64_t)k, 13));                                            \
            be[k] = (R)(uniform((uint64_t)k, 14) - 0.5);                                           \
            rm[k] = (R)(uniform((uint64_t)k, 15) - 0.5);                                           \
            rv[k] = (R)(0.1 + 3 * uniform((uint64_t)k, 16));                                       \
        }                                                                                          \
        int bad = 0;                                                                               \
        for (int i = 0; i < rows; i++)                                                             \
            gl_ln_row_##S(z1 + i * N, mu1 + i, rs1 + i, a + i * N, g, be, N, 1e-5);                \
        gl_ln_rows_##S(z2, mu2, rs2, a, g, be, rows, N, 1e-5);                                     \
        bad += differ(z1, z2, n, sizeof(R), TOL) || differ(mu1, mu2, rows, sizeof(R), TOL) ||      \
               differ(rs1, rs2, rows, sizeof(R), TOL);                                             \
        for (int i = 0; i < rows; i++)                                                             \
            gl_ln_back_row_##S(z1 + i * N, dz + i * N, a + i * N, mu1[i], rs1[i], g, N);           \
        memcpy(z2, dz, n * sizeof(R));                                                             \
        gl_ln_back_rows_##S(z2, z2, a, mu1, rs1, g, rows, N);                                      \
        bad += 2 * differ(z1, z2, n, sizeof(R), TOL);                                              \
        for (size_t i = 0; i < n; i++)                                                             \
            z1[i] = gl_bn_eval_##S(a[i], rm[i % N], rv[i % N], 1e-5, g[i % N], be[i % N]);         \
        gl_bn_eval_rows_##S(z2, a, g, be, rm, rv, rows, N, 1e-5);                                  \
        bad += 4 * differ(z1, z2, n, sizeof(R), TOL);                                              \
        free(a), free(dz), free(z1), free(z2), free(g), free(be), free(rm), free(rv);              \
        free(mu1), free(mu2), free(rs1), free(rs2);                                                \
        return bad;                                                                                \
    }
NORM_ROWS_TEST(float, f32, 0)
NORM_ROWS_TEST(double, f64, 1e-14)

static void test_norm_rows(void) {
    const int rows[] = {1, 7, 8, 9, 16, 23};
    const long cols[] = {1, 5, 8, 13, 64, 500, 1031};
    for (int r = 0; r < 6; r++)
        for (int c = 0; c < 7; c++) {
            int b32 = norm_rows_f32(rows[r], cols[c]), b64 = norm_rows_f64(rows[r], cols[c]);
            CHECK(!b32 && !b64,
                  "norm rows %d x %ld: forward, backward, BatchNorm eval as the row functions, "
                  "float to the bit (wrong: f32 %d, f64 %d; 1 forward, 2 backward, 4 eval)",
                  rows[r], cols[c], b32, b64);
        }
}

int main(void) {
    test_activations();
    test_layernorm_row();
    test_losses();
    test_dropout();
    test_running_stats();
    test_chunking();
    test_norm_rows();
    return CHECK_DONE();
}
