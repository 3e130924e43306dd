/* What the deep-MLP tests share: a dataset of every pair, and a plain
 * reference of the whole network (loops in double, no library layer, dropout
 * masks drawn here from gl_philox as deep.h specifies). Functions are static
 * inline so that a test that does not use one does not warn. */
#ifndef GROKLAB_TEST_DEEP_REF_H
#define GROKLAB_TEST_DEEP_REF_H

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "groklab/deep.h"
#include "groklab/model.h"
#include "groklab/rng.h"


enum { P = 7, NW = 6, B = 9, MAXB = 4096 };

static int32_t m_[MAXB], n_[MAXB], y_[MAXB], id_[MAXB];

static inline void make_data(int nb, int p) {
    for (int b = 0; b < nb; b++) {
        m_[b] = (int32_t)gl_uniform_int(1, 1, (uint64_t)b, 0, (uint32_t)p);
        n_[b] = (int32_t)gl_uniform_int(1, 1, (uint64_t)b, 1, (uint32_t)p);
        y_[b] = (int32_t)gl_uniform_int(1, 1, (uint64_t)b, 2, (uint32_t)p);
        id_[b] = 1000 + 7 * b;
    }
    m_[1] = m_[0]; /* a repeated operand exercises the scatter-add */
    n_[2] = m_[0];
}

static inline const char *act_name(gl_act a) {
    return a == GL_ACT_RELU        ? "relu"
           : a == GL_ACT_GELU      ? "gelu"
           : a == GL_ACT_QUADRATIC ? "quadratic"
                                   : "identity";
}
static inline const char *norm_name(gl_norm n) {
    return n == GL_NORM_BATCHNORM ? "batchnorm" : n == GL_NORM_LAYERNORM ? "layernorm" : "none";
}

/* ---------------------------------------------------------------------------
 * The reference: one plain loop per formula of deep.h, in double. */

typedef struct ref_opts {
    int train;              /* batch statistics and dropout */
    double dropout, eps;
    uint64_t seed;
    long step;
    const int32_t *id;      /* dropout keys (NULL: the row) */
    const double *run_mean, *run_var; /* (depth-1, N), evaluation with BatchNorm */
} ref_opts;

static inline double ref_act(double x, gl_act a) {
    switch (a) {
    case GL_ACT_QUADRATIC: return x * x;
    case GL_ACT_RELU: return x > 0 ? x : 0;
    case GL_ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    default: return x;
    }
}

/* Whether element e of example `ex`'s mask keeps its value (deep.h). */
static inline int ref_keep(const gl_deep_layout *L, uint64_t ex, long e, double prob, uint64_t seed,
                    long step) {
    long E = (long)(L->depth - 1) * L->N;
    uint32_t r[4];
    gl_philox(seed, GL_STREAM_DEEP_DROPOUT, ex * (uint64_t)((E + 3) / 4) + (uint64_t)(e / 4),
              (uint32_t)step, r);
    return gl_u01(r[e % 4]) >= (float)prob;
}

/* out (B, p) of the network with parameters P (the layout of deep.h).
 * bmean, bvar ((depth-1, N), may be NULL): the batch mean and biased
 * variance of each hidden layer's norm input. pos ((depth-1, B, N), may be
 * NULL): whether each pre-activation is positive (ReLU's side of its kink). */
static inline void ref_forward(double *out, const gl_deep_layout *L, const double *P, const int32_t *m,
                        const int32_t *n, int nb, const ref_opts *o, double *bmean, double *bvar,
                        uint8_t *pos) {
    int p = L->p, N = L->N, Hn = L->depth - 1;
    double *h = malloc(sizeof(double) * (size_t)nb * N);
    double *a = malloc(sizeof(double) * (size_t)nb * N);
    for (int b = 0; b < nb; b++)
        for (int k = 0; k < N; k++) /* U[k][m] + V[k][n], U stored as Ut[m][k] */
            h[b * N + k] = P[L->off_u + (size_t)m[b] * N + k] + P[L->off_v + (size_t)n[b] * N + k];
    for (int l = 1; l <= Hn; l++) {
        for (int i = 0; i < nb * N; i++) {
            if (pos) pos[(size_t)(l - 1) * nb * N + i] = h[i] > 0;
            a[i] = ref_act(h[i], L->act);
        }
        if (o->train && o->dropout > 0)
            for (int b = 0; b < nb; b++)
                for (int k = 0; k < N; k++) {
                    uint64_t ex = o->id ? (uint64_t)o->id[b] : (uint64_t)b;
                    int kp = ref_keep(L, ex, (long)(l - 1) * N + k, o->dropout, o->seed, o->step);
                    a[b * N + k] = kp ? a[b * N + k] / (1 - o->dropout) : 0;
                }
        const double *g = P + L->off_gamma + (size_t)(l - 1) * N;
        const double *be = P + L->off_beta + (size_t)(l - 1) * N;
        if (L->norm == GL_NORM_BATCHNORM)
            for (int k = 0; k < N; k++) {
                double mu, var;
                if (o->train) {
                    mu = 0, var = 0;
                    for (int b = 0; b < nb; b++) mu += a[b * N + k] / nb;
                    for (int b = 0; b < nb; b++)
                        var += (a[b * N + k] - mu) * (a[b * N + k] - mu) / nb;
                    if (bmean) bmean[(l - 1) * N + k] = mu;
                    if (bvar) bvar[(l - 1) * N + k] = var;
                } else {
                    mu = o->run_mean[(l - 1) * N + k];
                    var = o->run_var[(l - 1) * N + k];
                }
                for (int b = 0; b < nb; b++)
                    a[b * N + k] = (a[b * N + k] - mu) / sqrt(var + o->eps) * g[k] + be[k];
            }
        if (L->norm == GL_NORM_LAYERNORM)
            for (int b = 0; b < nb; b++) {
                double mu = 0, var = 0;
                for (int k = 0; k < N; k++) mu += a[b * N + k] / N;
                for (int k = 0; k < N; k++) var += (a[b * N + k] - mu) * (a[b * N + k] - mu) / N;
                for (int k = 0; k < N; k++)
                    a[b * N + k] = (a[b * N + k] - mu) / sqrt(var + o->eps) * g[k] + be[k];
            }
        /* a is z_l now: the next pre-activation, or the output */
        const double *Wt = l < Hn ? P + L->off_hidden + (size_t)(l - 1) * N * N : P + L->off_w;
        int rows = l < Hn ? N : p;
        double *dst = l < Hn ? h : out;
        for (int b = 0; b < nb; b++)
            for (int i = 0; i < rows; i++) {
                double s = 0;
                for (int k = 0; k < N; k++) s += Wt[(size_t)i * N + k] * a[b * N + k];
                dst[b * rows + i] = s;
            }
    }
    free(h);
    free(a);
}

static inline double ref_loss(const double *out, const int32_t *y, int nb, int p, gl_loss loss) {
    double s = 0;
    for (int b = 0; b < nb; b++) {
        const double *o = out + (size_t)b * p;
        if (loss == GL_LOSS_MSE) {
            for (int j = 0; j < p; j++) s += (o[j] - (j == y[b])) * (o[j] - (j == y[b]));
        } else {
            double mx = o[0], z = 0;
            for (int j = 1; j < p; j++) mx = fmax(mx, o[j]);
            for (int j = 0; j < p; j++) z += exp(o[j] - mx);
            s += mx + log(z) - o[y[b]];
        }
    }
    return loss == GL_LOSS_MSE ? s / ((double)nb * p) : s / nb;
}

/* The model's own initialization, gains and shifts moved off 1 and 0. */
static inline double *test_params(const gl_deep_layout *L, uint64_t seed) {
    double *w = malloc(L->n_params * sizeof(double));
    gl_deep_init_f64(w, L, seed);
    for (size_t i = L->off_gamma; i < L->n_params; i++) w[i] += 0.3 * gl_normal(9, 9, i, 0);
    return w;
}

#endif
