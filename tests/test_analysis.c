/* The analysis module against independent computations: IPR closed forms in
 * both conventions and both bases, the incremental pruning evaluation against
 * a full forward pass of each pruned network, the analytic solution, and the
 * small statistics. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "groklab/analysis.h"
#include "groklab/metrics.h"
#include "groklab/rng.h"

/* ---- IPR ---- */

static double ipr_one(int p, gl_basis basis, gl_ipr_conv conv, const float *x) {
    gl_ipr_plan *P;
    gl_error e;
    if (gl_ipr_plan_create(&P, p, 1, basis, &e) != 0) return NAN;
    double v;
    gl_ipr_batch(P, &v, x, 1, 1, conv, 2.0);
    gl_ipr_plan_free(P);
    return v;
}

static void test_ipr(void) {
    CHECK(gl_primitive_root(97) == 5 && gl_primitive_root(11) == 2 && gl_primitive_root(7) == 3 &&
              gl_primitive_root(3) == 2,
          "smallest primitive roots of 97, 11, 7, 3 are 5, 2, 3, 2");
    CHECK(gl_primitive_root(2) < 0 && gl_primitive_root(9) < 0 && gl_primitive_root(1) < 0,
          "no discrete-log basis for p = 2, 9, 1");
    int p = 97;
    float x[2048];
    for (int i = 0; i < p; i++) x[i] = 0.7f;
    CHECK_REL(ipr_one(p, GL_BASIS_ADDITIVE, GL_IPR_RFFT, x), 1.0, 1e-6, "constant, rfft: 1");
    CHECK_REL(ipr_one(p, GL_BASIS_ADDITIVE, GL_IPR_FULL, x), 1.0, 1e-6, "constant, full DFT: 1");
    for (int i = 0; i < p; i++) x[i] = (float)cos(2 * M_PI * 11 * i / p + 1.0);
    CHECK_REL(ipr_one(p, GL_BASIS_ADDITIVE, GL_IPR_RFFT, x), 1.0, 1e-5, "cosine, rfft: 1");
    CHECK_REL(ipr_one(p, GL_BASIS_ADDITIVE, GL_IPR_FULL, x), 0.5, 1e-5, "cosine, full DFT: 1/2");
    for (int i = 0; i < p; i++) x[i] = i == 17;
    CHECK_REL(ipr_one(p, GL_BASIS_ADDITIVE, GL_IPR_RFFT, x), 1.0 / 49, 1e-6, "one-hot, rfft: 1/(p/2+1)");
    CHECK_REL(ipr_one(p, GL_BASIS_ADDITIVE, GL_IPR_FULL, x), 1.0 / 97, 1e-6, "one-hot, full DFT: 1/p");
    /* a cosine of the discrete log: x[g^j] = cos(2 pi f j / (p - 1)) */
    int g = gl_primitive_root(p);
    long r = 1;
    x[0] = 3.0f; /* residue 0 is outside the multiplicative group */
    for (int j = 0; j < p - 1; j++, r = r * g % p) x[r] = (float)cos(2 * M_PI * 7 * j / (p - 1) + 0.4);
    CHECK_REL(ipr_one(p, GL_BASIS_DLOG, GL_IPR_RFFT, x), 1.0, 1e-5, "cosine of the discrete log, dlog basis, rfft: 1");
    CHECK_REL(ipr_one(p, GL_BASIS_DLOG, GL_IPR_FULL, x), 0.5, 1e-5, "cosine of the discrete log, dlog basis, full: 1/2");
    double add = ipr_one(p, GL_BASIS_ADDITIVE, GL_IPR_RFFT, x);
    CHECK(add < 0.2, "the same vector in the additive basis looks spread out (IPR %.3f < 0.2)", add);

    /* Gaussian vectors: E|X_0|^2 = p, E|X_0|^4 = 3p^2 (DC real), E|X_j|^4 = 2p^2
     * otherwise, so sum E a^4 / (sum E a^2)^2 = 4(p+2)/(p+1)^2 (rfft, odd p)
     * and (2p+1)/p^2 (full); the mean IPR approaches it as p grows. */
    int pg = 1009, M = 300;
    gl_ipr_plan *P;
    gl_error e;
    float *xs = malloc(sizeof(float) * (size_t)pg * M);
    double *v = malloc(sizeof(double) * M);
    if (gl_ipr_plan_create(&P, pg, M, GL_BASIS_ADDITIVE, &e) == 0 && xs && v) {
        for (int i = 0; i < pg; i++)
            for (int k = 0; k < M; k++) xs[(size_t)i * M + k] = (float)gl_normal(5, 3, (uint64_t)k * pg + i, 9);
        for (int full = 0; full < 2; full++) {
            gl_ipr_batch(P, v, xs, M, 1, full ? GL_IPR_FULL : GL_IPR_RFFT, 2.0);
            double mean = 0;
            for (int k = 0; k < M; k++) mean += v[k] / M;
            double want = full ? (2.0 * pg + 1) / ((double)pg * pg) : 4.0 * (pg + 2) / ((double)(pg + 1) * (pg + 1));
            CHECK(fabs(mean / want - 1) < 0.03, "Gaussian vectors p=%d %s: mean IPR %.5f vs closed form %.5f",
                  pg, full ? "full" : "rfft", mean, want);
        }
        /* general r: r = 1 gives 1 for any vector */
        gl_ipr_batch(P, v, xs, M, 1, GL_IPR_RFFT, 1.0);
        CHECK_REL(v[0], 1.0, 1e-9, "IPR with r = 1 is 1");
        gl_ipr_plan_free(P);
    }
    free(xs);
    free(v);
}

/* ---- pruning ---- */

typedef struct {
    double acc[6], loss[2];
} ref_row;

/* metrics of the network params by a full forward pass (gl_mlp_eval) */
static void reference(ref_row *r, const gl_config *c, const gl_layout *L, const float *params,
                      const float *rm, const float *rv, const gl_dataset *d) {
    int p = L->p, E = d->n_train + d->n_test;
    gl_mlp_work w;
    gl_mlp_work_alloc(&w, L, E, 0);
    int32_t *m = malloc(sizeof(int32_t) * E), *n = malloc(sizeof(int32_t) * E);
    for (int i = 0; i < E; i++) {
        m[i] = i < d->n_train ? d->train_m[i] : d->test_m[i - d->n_train];
        n[i] = i < d->n_train ? d->train_n[i] : d->test_n[i - d->n_train];
    }
    gl_mlp_eval(&w, L, params, rm, rv, c->norm_eps, m, n, E);
    long hit[6] = {0}, cnt[6] = {0};
    double ls[2] = {0};
    for (int i = 0; i < E; i++) {
        const float *o = w.out + (size_t)i * p;
        int best = 0;
        for (int q = 1; q < p; q++)
            if (o[q] > o[best]) best = q;
        int train = i < d->n_train, corrupt = i < d->n_corrupt;
        int y = train ? d->train_y[i] : d->test_y[i - d->n_train];
        int t = train ? d->train_true[i] : y;
        double l = 0;
        if (c->loss == GL_LOSS_MSE) {
            for (int q = 0; q < p; q++) l += ((double)o[q] - (q == y)) * ((double)o[q] - (q == y)) / p;
        } else {
            double se = 0;
            for (int q = 0; q < p; q++) se += exp((double)o[q] - o[best]);
            l = o[best] + log(se) - o[y];
        }
        /* train, test, corrupted, corrupted-true, clean, all-true */
        int in[6] = {train, !train, corrupt, corrupt, train && !corrupt, 1};
        int ok[6] = {best == y, best == y, best == y, best == t, best == y, best == t};
        for (int j = 0; j < 6; j++) cnt[j] += in[j], hit[j] += in[j] && ok[j];
        ls[!train] += l;
    }
    for (int j = 0; j < 6; j++) r->acc[j] = (double)hit[j] / cnt[j];
    r->loss[0] = ls[0] / cnt[0];
    r->loss[1] = ls[1] / cnt[1];
    free(m);
    free(n);
    gl_mlp_work_free(&w);
}

static void test_prune(gl_norm norm, gl_act act, gl_loss loss) {
    gl_config c;
    gl_config_default(&c);
    c.p = 11;
    c.width = 24;
    c.frac = 0.6;
    c.noise = 0.3;
    c.norm = norm;
    c.act = act;
    c.loss = loss;
    gl_error e;
    gl_dataset d;
    gl_dataset_create(&d, &c, &e);
    gl_layout L;
    gl_layout_init(&L, c.p, c.width, act, norm);
    float *params = malloc(sizeof(float) * L.n_params), *pruned = malloc(sizeof(float) * L.n_params);
    float rm[64], rv[64];
    for (size_t i = 0; i < L.n_params; i++) params[i] = (float)(0.6 * gl_normal(3, 3, i, 77));
    for (int k = 0; k < c.width; k++) {
        if (norm != GL_NORM_NONE) params[L.off_beta + k] = (float)(0.3 * gl_normal(3, 3, k, 78));
        rm[k] = (float)(0.5 * gl_normal(3, 3, k, 79));
        rv[k] = (float)(0.2 + fabs(gl_normal(3, 3, k, 80)));
    }
    gl_prune *pr;
    if (gl_prune_create(&pr, &c, &L, params, rm, rv, &d, 1, &e) != 0) {
        CHECK(0, "gl_prune_create: %s", e.msg);
        return;
    }
    int order[64];
    double key[64];
    for (int k = 0; k < c.width; k++) key[k] = gl_normal(4, 3, k, 81);
    gl_order_by(order, key, c.width, 0);
    int worst_acc = 0;
    double worst_loss = 0;
    gl_prune_row rows[65], rows1[65];
    if (gl_prune_curve(pr, order, c.width, rows, 2) != 0) CHECK(0, "gl_prune_curve failed");
    for (int n = 0; n <= c.width; n++) {
        gl_prune_row row = rows[n];
        memcpy(pruned, params, sizeof(float) * L.n_params);
        gl_prune_apply(pruned, &L, order, n);
        ref_row ref;
        reference(&ref, &c, &L, pruned, rm, rv, &d);
        double got[6] = {row.train_acc, row.test_acc, row.corrupted_acc, row.corrupted_true_acc, row.clean_acc, row.all_true_acc};
        for (int j = 0; j < 6; j++)
            if (got[j] != ref.acc[j]) {
                printf("  %d pruned, accuracy %d: %.6f, full forward %.6f\n", n, j, got[j], ref.acc[j]);
                worst_acc++;
            }
        double gl[2] = {row.train_loss, row.test_loss};
        for (int j = 0; j < 2; j++) {
            double rel = fabs(gl[j] - ref.loss[j]) / fmax(1e-3, fabs(ref.loss[j]));
            if (!(rel <= worst_loss)) worst_loss = rel;
        }
    }
    CHECK(worst_acc == 0 && worst_loss < 1e-4,
          "pruning %s/%s/%s: incremental = full forward at all %d counts (accuracy mismatches %d, loss rel. err %.2g)",
          gl_norm_name(norm), gl_act_name(act), gl_loss_name(loss), c.width + 1, worst_acc, worst_loss);
    gl_prune_curve(pr, order, c.width, rows1, 1);
    CHECK(!memcmp(rows, rows1, sizeof(gl_prune_row) * (c.width + 1)),
          "pruning results are the same on 1 and 2 threads, and on a second pass");
    gl_prune_free(pr);
    gl_dataset_free(&d);
    free(params);
    free(pruned);
}

/* ---- analytic ---- */

/* gl_prune_prunable against its definition, by brute force over random
 * accuracy curves with dips, plateaus at the threshold and no crossing. */
static void test_prunable(void) {
    unsigned s = 12345;
    int bad = 0, dips = 0;
    for (int trial = 0; trial < 2000; trial++) {
        int n = trial % 9;
        double acc[9], thr = 0.5;
        for (int k = 0; k <= n; k++) {
            s = s * 1103515245u + 12345u;
            acc[k] = ((s >> 16) % 5) * 0.25; /* 0, .25, .5 (= thr), .75, 1 */
        }
        int last = -1, prefix = -1;
        for (int k = 0; k <= n; k++) {
            if (acc[k] >= thr) last = k;
            int all = 1;
            for (int j = 0; j <= k; j++) all &= acc[j] >= thr;
            if (all) prefix = k;
        }
        int got_last = -7, got_prefix = -7;
        gl_prune_prunable(acc, n, thr, &got_last, &got_prefix);
        bad += got_last != last || got_prefix != prefix;
        dips += prefix >= 0 && last > prefix;
    }
    CHECK(bad == 0 && dips > 100, "prunable and prunable_prefix = their definitions on 2000 curves "
                                  "(%d differ; %d with a dip after the prefix)", bad, dips);
}

static void test_analytic(void) {
    gl_config c;
    gl_config_default(&c);
    c.p = 23;
    c.width = 2048;
    gl_layout L;
    gl_layout_init(&L, c.p, c.width, GL_ACT_QUADRATIC, GL_NORM_NONE);
    float *params = calloc(L.n_params, sizeof(float));
    gl_error ae;
    CHECK(gl_analytic_weights(&L, params, 1, &ae) == 0, "analytic weights made");
    int p = c.p, E = p * p;
    gl_mlp_work w;
    gl_mlp_work_alloc(&w, &L, E, 0);
    int32_t m[23 * 23], n[23 * 23];
    for (int i = 0; i < E; i++) m[i] = i / p, n[i] = i % p;
    gl_mlp_eval(&w, &L, params, NULL, NULL, 0, m, n, E);
    int hit = 0;
    double peak = 0;
    for (int i = 0; i < E; i++) {
        const float *o = w.out + (size_t)i * p;
        int best = 0;
        for (int q = 1; q < p; q++)
            if (o[q] > o[best]) best = q;
        hit += best == (m[i] + n[i]) % p;
        peak += o[(m[i] + n[i]) % p] / E;
    }
    CHECK(hit == E, "analytic weights, p 23, N 2048: %d of %d pairs right", hit, E);
    CHECK(fabs(peak - 1) < 0.1, "analytic output at the answer is about 1 (mean %.3f)", peak);
    gl_neurons nr;
    gl_error e;
    if (gl_neurons_compute(&nr, &c, &L, params, GL_BASIS_ADDITIVE, GL_IPR_RFFT, 2.0, &e) == 0) {
        double lo = 1, hi = 0;
        for (int k = 0; k < c.width; k++) lo = fmin(lo, nr.ipr[k]), hi = fmax(hi, nr.ipr[k]);
        CHECK(lo > 1 - 1e-5 && hi < 1 + 1e-5, "analytic neurons have IPR 1 under rfft (min %.7f, max %.7f)", lo, hi);
        gl_neurons_free(&nr);
    }
    gl_mlp_work_free(&w);
    free(params);
}

/* ---- statistics ---- */

static void test_stats(void) {
    double x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {2, 4, 6, 8, 10, 13}, z[6];
    for (int i = 0; i < 6; i++) z[i] = exp(x[i]);
    /* Pearson of (x, y) from its definition */
    double mx = 3.5, my = 43.0 / 6, sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < 6; i++) sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx), syy += (y[i] - my) * (y[i] - my);
    CHECK_REL(gl_pearson(x, y, 6), sxy / sqrt(sxx * syy), 1e-12, "Pearson");
    CHECK_REL(gl_spearman(x, z, 6), 1.0, 1e-12, "Spearman of a monotone transform is 1");
    double t[4] = {1, 2, 2, 3}, u[4] = {1, 3, 2, 4}; /* ranks of t: 1, 2.5, 2.5, 4 */
    double rt[4] = {1, 2.5, 2.5, 4};
    CHECK_REL(gl_spearman(t, u, 4), gl_pearson(rt, u, 4), 1e-12, "Spearman averages tied ranks");
    CHECK(isnan(gl_pearson(x, (double[6]){1, 1, 1, 1, 1, 1}, 6)), "Pearson with a constant is NaN");
    double bi[200];
    for (int i = 0; i < 200; i++) bi[i] = i < 120 ? 0.05 + 0.0005 * i : 0.8 + 0.001 * (i - 120);
    double th = gl_otsu_threshold(bi, 200, 0, 1);
    CHECK(th > 0.12 && th < 0.8, "Otsu splits a bimodal sample between its modes (%.3f)", th);
    int order[5];
    double key[5] = {0.3, 0.1, 0.3, 0.2, 0.1};
    gl_order_by(order, key, 5, 0);
    CHECK(order[0] == 1 && order[1] == 4 && order[2] == 3 && order[3] == 0 && order[4] == 2, "ascending order, ties by index");
    gl_order_by(order, key, 5, 1);
    CHECK(order[0] == 0 && order[1] == 2 && order[2] == 3 && order[3] == 1 && order[4] == 4, "descending order, ties by index");
}

int main(void) {
    test_ipr();
    gl_norm norms[3] = {GL_NORM_NONE, GL_NORM_BATCHNORM, GL_NORM_LAYERNORM};
    for (int i = 0; i < 3; i++) {
        test_prune(norms[i], GL_ACT_QUADRATIC, GL_LOSS_MSE);
        test_prune(norms[i], GL_ACT_RELU, GL_LOSS_CE);
    }
    test_analytic();
    test_stats();
    test_prunable();
    return CHECK_DONE();
}
