/* groklab GPU backend: the kernels of a population step, one body per thread.
 *
 * Each kernel is a function gl_k_NAME(row, col, v) of one cell of a rows x
 * cols grid (the "over (rows, cols)" of its comment: e.g. (M*R, N), a batch
 * row and a neuron) and the population's view v (device pointers and
 * sizes). The grid's shape spares the kernels 64-bit divisions per element.
 * The bodies are plain C that nvcc compiles as __host__ __device__:
 * src/gpu/dev_cuda.cu launches them over a CUDA grid, src/gpu/dev_host.c
 * runs them in loops (the emulator the tests use on machines without a GPU). The math is the CPU's
 * (src/model/mlp_impl.h, src/train/optim_impl.h): sums over examples run in
 * example order with double accumulators, as there.
 *
 * A population is M members of one shape (p, N, activation, norm, loss,
 * optimizer, batch size) that may differ in their data (alpha, xi, split and
 * noise seeds), model seed, lr, wd, betas, dropout and norm settings. Member
 * i's rows are [i*R, i*R + rows_i): batches are padded to R rows. Full
 * batch GEMMs cover each member's rows only (pop.c groups members by rows),
 * so padding is never read and not written; with minibatches (pad_zero) the
 * GEMMs span R rows and the padding is zero in every gradient. Shapes (per member, stacked over M):
 *
 *   P, G, M1, M2 : (np)     parameters Ut | Vt | W | gamma | beta (model.h)
 *   run_mean/var : (N)      BatchNorm running statistics
 *   bm, bn, by, by2, bid : (R)  the current rows: operands, label, true
 *                           label (evaluation), example id (dropout)
 *   h, a, z      : (R, N)   pre-activation (after dropout), activation,
 *                           normalized activation; backward reuses z for dz
 *                           and h for dh
 *   keep         : (R, N)   dropout masks
 *   out          : (R, p)   output, then dL/dout in place
 *   s1, s2       : BatchNorm (N) batch mean and biased variance; LayerNorm
 *                  (R) row mean and 1/std.  s3, s4: the same shapes, in
 *                  double, the backward's sums
 *   rowloss      : (R) double  loss of each row (evaluation);  rowhit: (R) flags
 *   csr_off      : (2, p+1)  rows grouped by operand: the rows b with
 *   csr_idx      : (2, R)    bm[b] == r are csr_idx[0][csr_off[0][r] ..
 *                            csr_off[0][r+1]), in increasing b (bn likewise) */
#ifndef GROKLAB_GPU_KERNELS_H
#define GROKLAB_GPU_KERNELS_H

#include <math.h>
#include <stdint.h>

#include "core/philox.h"

#ifndef GL_K_PI
#define GL_K_PI 3.14159265358979323846
#endif

/* Per-member settings and state. */
typedef struct gl_gmember {
    double lr, wd, beta1, beta2, eps, momentum, dropout, bn_momentum, norm_eps;
    uint64_t seed;
    int n_train, n_test, n_corrupt;
    int rows;           /* rows of the current batch (or evaluation chunk) */
    int alive;          /* 0 once a loss was not finite */
    long diverged_at;   /* the step whose loss was not finite, or -1 */
    float step_size, bc2_sqrt, decay; /* this step's optimizer constants */
} gl_gmember;

/* Evaluation accumulators per member: GL_ACC doubles. */
enum {
    GL_ACC_TRAIN_LOSS, GL_ACC_TRAIN_HIT, GL_ACC_LO_HIT, GL_ACC_LO_HIT2, GL_ACC_HI_HIT,
    GL_ACC_TEST_LOSS, GL_ACC_TEST_HIT, GL_ACC_SQ_U, GL_ACC_SQ_V, GL_ACC_SQ_W, GL_ACC_IPR,
    GL_ACC
};

/* Enum values as in groklab/config.h (kept as ints: this header is also CUDA). */
enum { GK_ACT_QUADRATIC, GK_ACT_RELU, GK_ACT_GELU, GK_ACT_IDENTITY };
enum { GK_NORM_NONE, GK_NORM_BATCHNORM, GK_NORM_LAYERNORM };
enum { GK_LOSS_MSE, GK_LOSS_CE };
enum { GK_OPT_ADAMW, GK_OPT_ADAM, GK_OPT_SGD };
enum { GK_SET_TRAIN, GK_SET_TEST };

typedef struct gl_gview {
    int M, R, N, p;
    long np, off_u, off_v, off_w, off_g, off_b;
    int act, norm, loss, optim;
    int batch;          /* examples per step; 0: full batch */
    int T, S;           /* train and test rows per member in tr_*, te_* */
    int n_ipr, nb;      /* IPR transform length and one-sided bins */
    int ipr_full;       /* full-DFT convention (bins counted twice) */
    /* per launch */
    long step;          /* the trainer's step (0-based): dropout masks, batch */
    int training;       /* training mode (dropout, batch statistics) */
    int pad_zero;       /* zero the padding rows (GEMMs read them: minibatches) */
    int set;            /* evaluation: GK_SET_TRAIN | GK_SET_TEST */
    int start;          /* evaluation: first row of this chunk */
    gl_gmember *mem;
    float *P, *G, *M1, *M2, *run_mean, *run_var;
    int32_t *tr_m, *tr_n, *tr_y, *tr_true, *te_m, *te_n, *te_y, *perm;
    int32_t *bm, *bn, *by, *by2, *bid;
    int32_t *csr_off, *csr_idx;
    float *h, *a, *z, *out, *s1, *s2;
    double *s3, *s4;
    uint8_t *keep;
    double *rowloss;
    int32_t *rowhit;
    double *acc;        /* (M, GL_ACC) */
    float *spec;        /* (M, 3, 2*nb, N) DFT of Ut, Vt, W (column-major (N, 2nb) each) */
    double *part;       /* (M, 3, p) norm partial sums; (M, N) per-neuron IPR */
} gl_gview;

GL_HD long gl_k_min(long a, long b) { return a < b ? a : b; }

/* --- batches ------------------------------------------------------------ */

/* over (M, 1): this step's row count. Minibatch: epoch e = step / nb uses the
 * permutation in perm (uploaded by the host), slice step % nb. */
GL_HD void gl_k_batch_rows(long i, long unused, const gl_gview *v) {
    (void)unused;
    gl_gmember *g = &v->mem[i];
    if (v->training) {
        long n = g->n_train;
        if (v->batch <= 0 || v->batch >= n) {
            g->rows = (int)n;
        } else {
            long nb = (n + v->batch - 1) / v->batch, start = (v->step % nb) * v->batch;
            g->rows = (int)gl_k_min(v->batch, n - start);
        }
    } else {
        long count = v->set == GK_SET_TRAIN ? g->n_train : g->n_test;
        long left = count - v->start;
        g->rows = (int)(left <= 0 ? 0 : gl_k_min(v->R, left));
    }
}

/* over (M, R): the rows of the batch (training) or evaluation chunk */
GL_HD void gl_k_gather(long i, long b, const gl_gview *v) {
    const gl_gmember *g = &v->mem[i];
    long o = i * v->R + b;
    if (b >= g->rows) {
        v->bm[o] = v->bn[o] = v->by[o] = v->by2[o] = v->bid[o] = 0;
        return;
    }
    long src;
    const int32_t *m, *n, *y, *y2;
    if (v->training || v->set == GK_SET_TRAIN) {
        m = v->tr_m + i * v->T;
        n = v->tr_n + i * v->T;
        y = v->tr_y + i * v->T;
        y2 = v->tr_true + i * v->T;
        if (!v->training) {
            src = v->start + b;
        } else if (v->batch <= 0 || v->batch >= g->n_train) {
            src = b;
        } else {
            long nb = (g->n_train + v->batch - 1) / v->batch;
            src = v->perm[i * v->T + (v->step % nb) * v->batch + b];
        }
    } else {
        m = v->te_m + i * v->S;
        n = v->te_n + i * v->S;
        y = v->te_y + i * v->S;
        y2 = y;
        src = v->start + b;
    }
    v->bm[o] = m[src];
    v->bn[o] = n[src];
    v->by[o] = y[src];
    v->by2[o] = y2[src];
    v->bid[o] = (int32_t)src;
}

/* over (2M, p): rows per operand value r (c = 0: bm, 1: bn), into csr_off[r+1] */
GL_HD void gl_k_csr_count(long row, long r, const gl_gview *v) {
    long p = v->p, i = row >> 1, c = row & 1;
    const int32_t *x = (c ? v->bn : v->bm) + i * v->R;
    int rows = v->mem[i].rows, cnt = 0;
    for (int b = 0; b < rows; b++) cnt += x[b] == r;
    v->csr_off[(i * 2 + c) * (p + 1) + r + 1] = cnt;
}

/* over (2M, 1): prefix sums of the counts */
GL_HD void gl_k_csr_scan(long t, long unused, const gl_gview *v) {
    (void)unused;
    int32_t *off = v->csr_off + t * (v->p + 1);
    off[0] = 0;
    for (int r = 0; r < v->p; r++) off[r + 1] += off[r];
}

/* over (2M, p): the rows of value r in increasing order */
GL_HD void gl_k_csr_fill(long row, long r, const gl_gview *v) {
    long p = v->p, i = row >> 1, c = row & 1;
    const int32_t *x = (c ? v->bn : v->bm) + i * v->R;
    int32_t *idx = v->csr_idx + (i * 2 + c) * v->R;
    int rows = v->mem[i].rows, j = v->csr_off[(i * 2 + c) * (p + 1) + r];
    for (int b = 0; b < rows; b++)
        if (x[b] == r) idx[j++] = b;
}

/* --- forward ------------------------------------------------------------- */

GL_HD double gl_k_gelu(double x) { return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440)); }
GL_HD double gl_k_gelu_grad(double x) {
    double cdf = 0.5 * (1.0 + erf(x * 0.70710678118654752440));
    double pdf = exp(-0.5 * x * x) / sqrt(2.0 * GL_K_PI);
    return cdf + x * pdf;
}

GL_HD float gl_k_act(float x, int act) {
    switch (act) {
    case GK_ACT_QUADRATIC: return x * x;
    case GK_ACT_RELU: return x > 0 ? x : 0.0f;
    case GK_ACT_GELU: return (float)gl_k_gelu((double)x);
    default: return x;
    }
}

/* over (M*R, N): h = Ut[m] + Vt[n], dropout (training), a = phi(h) */
GL_HD void gl_k_hidden(long row, long k, const gl_gview *v) {
    long N = v->N, i = row / v->R, b = row % v->R, t = row * N + k;
    const gl_gmember *g = &v->mem[i];
    long o = t;
    if (b >= g->rows) {
        if (v->pad_zero) v->h[o] = v->a[o] = 0.0f;
        return;
    }
    const float *P = v->P + i * v->np;
    long r = i * v->R + b;
    float x = P[v->off_u + (long)v->bm[r] * N + k] + P[v->off_v + (long)v->bn[r] * N + k];
    if (v->training && g->dropout > 0) {
        /* the CPU's gl_dropout_row: word k % 4 of counter ex*ceil(N/4) + k/4 */
        uint32_t w[4];
        uint64_t groups = (uint64_t)(N + 3) / 4;
        gl_philox_words(g->seed, 4 /* GL_STREAM_DROPOUT */, (uint64_t)v->bid[r] * groups + k / 4,
                        (uint32_t)v->step, w);
        float u = (float)(w[k % 4] >> 8) * (1.0f / 16777216.0f);
        uint8_t keep = u >= (float)g->dropout;
        v->keep[o] = keep;
        x = keep ? x * (float)(1.0 / (1.0 - g->dropout)) : 0.0f;
    }
    v->h[o] = x;
    v->a[o] = gl_k_act(x, v->act);
}

/* over (M, N): BatchNorm batch mean and biased variance of a, and (training)
 * the running statistics as torch.nn.BatchNorm1d (unbiased variance) */
GL_HD void gl_k_bn_stats(long i, long k, const gl_gview *v) {
    long N = v->N, t = i * N + k;
    gl_gmember *g = &v->mem[i];
    int B = g->rows;
    const float *a = v->a + i * v->R * N + k;
    double s = 0, q = 0;
    for (int b = 0; b < B; b++) s += a[(long)b * N];
    s /= B;
    for (int b = 0; b < B; b++) {
        double d = a[(long)b * N] - s;
        q += d * d;
    }
    float mean = (float)s, var = (float)(q / B);
    v->s1[t] = mean;
    v->s2[t] = var;
    if (!g->alive) return; /* stopped: its state stays as at the failed step */
    float mom = (float)g->bn_momentum, keepm = (float)(1.0 - g->bn_momentum);
    double unb = B > 1 ? (double)B / (B - 1) : 1.0;
    v->run_mean[t] = keepm * v->run_mean[t] + mom * mean;
    v->run_var[t] = keepm * v->run_var[t] + mom * (float)(var * unb);
}

/* over (M, R): LayerNorm mean and 1/std of each row */
GL_HD void gl_k_ln_stats(long i, long b, const gl_gview *v) {
    long N = v->N, t = i * v->R + b;
    if (b >= v->mem[i].rows) return;
    const float *a = v->a + t * N;
    double s = 0, q = 0;
    for (long k = 0; k < N; k++) s += a[k];
    s /= N;
    for (long k = 0; k < N; k++) q += (a[k] - s) * (a[k] - s);
    v->s1[t] = (float)s;
    v->s2[t] = (float)(1.0 / sqrt(q / N + v->mem[i].norm_eps));
}

/* over (M*R, N): z = norm(a). BatchNorm: batch statistics (training) or running
 * ones (evaluation); LayerNorm: the row's. */
GL_HD void gl_k_norm(long row, long k, const gl_gview *v) {
    long N = v->N, i = row / v->R, b = row % v->R, t = row * N + k;
    const gl_gmember *g = &v->mem[i];
    if (b >= g->rows) {
        if (v->pad_zero) v->z[t] = 0.0f;
        return;
    }
    const float *P = v->P + i * v->np;
    double gam = P[v->off_g + k], bet = P[v->off_b + k], a = v->a[t];
    if (v->norm == GK_NORM_LAYERNORM) {
        long r = i * v->R + b;
        v->z[t] = (float)((a - v->s1[r]) * v->s2[r] * gam + bet);
    } else if (v->training) {
        long c = i * N + k;
        double rstd = 1.0 / sqrt((double)v->s2[c] + g->norm_eps);
        v->z[t] = (float)((a - v->s1[c]) * rstd * gam + bet);
    } else {
        long c = i * N + k;
        v->z[t] = (float)((a - v->run_mean[c]) / sqrt((double)v->run_var[c] + g->norm_eps) * gam + bet);
    }
}

/* A member whose loss is not finite stops at this step (alive = 0): its
 * weights stay as they were, as the CPU stops a run whose loss is not
 * finite. The loss is a sum of squares or of log-sum-exps of the outputs, so
 * it is not finite exactly when some row's is. Every thread that sees it
 * writes the same two values. */
GL_HD void gl_k_stop(gl_gmember *g, long step) {
    if (g->alive) {
        g->alive = 0;
        g->diverged_at = step;
    }
}

/* over (M*R, p), training with MSE: dL/dout = 2 (out - onehot(y)) / (B p), in
 * place, element by element */
GL_HD void gl_k_mse_grad(long r, long j, const gl_gview *v) {
    long p = v->p, i = r / v->R, b = r % v->R, t = r * p + j;
    gl_gmember *g = &v->mem[i];
    if (b >= g->rows) {
        if (v->pad_zero) v->out[t] = 0.0f;
        return;
    }
    float d = v->out[t] - (j == v->by[r] ? 1.0f : 0.0f);
    if (!isfinite(d)) gl_k_stop(g, v->step);
    v->out[t] = (float)(2.0 / ((double)g->rows * p)) * d;
}

/* over (M, R): one row's loss. Training (cross-entropy): dL/dout in place of
 * out; evaluation (either loss): rowloss, and rowhit = argmax hits (bit 0:
 * label, bit 1: true label) */
GL_HD void gl_k_loss_rows(long i, long b, const gl_gview *v) {
    long p = v->p, t = i * v->R + b;
    gl_gmember *g = &v->mem[i];
    float *o = v->out + t * p;
    if (b >= g->rows) {
        if (v->training && v->pad_zero)
            for (long j = 0; j < p; j++) o[j] = 0.0f;
        return;
    }
    int y = v->by[t], B = g->rows;
    double s = 0;
    if (!v->training) {
        int best = 0;
        for (long j = 1; j < p; j++)
            if (o[j] > o[best]) best = (int)j;
        v->rowhit[t] = (best == y) | (best == v->by2[t]) << 1;
    }
    if (v->loss == GK_LOSS_MSE) {
        for (long j = 0; j < p; j++) {
            float d = o[j] - (j == y ? 1.0f : 0.0f);
            s += (double)d * d;
        }
    } else {
        double mx = o[0], z = 0;
        for (long j = 1; j < p; j++)
            if (o[j] > mx) mx = o[j];
        for (long j = 0; j < p; j++) z += exp((double)o[j] - mx);
        double lse = mx + log(z);
        s = lse - o[y];
        if (v->training) {
            if (!isfinite(s)) gl_k_stop(g, v->step);
            for (long j = 0; j < p; j++)
                o[j] = (float)((exp((double)o[j] - lse) - (j == y ? 1.0 : 0.0)) / B);
        }
    }
    v->rowloss[t] = s;
}

/* --- backward ------------------------------------------------------------- */

/* over (M, N): BatchNorm's sums over the batch of dz and dz*xhat into s3, s4;
 * they are dbeta and dgamma */
GL_HD void gl_k_bn_back_sums(long i, long k, const gl_gview *v) {
    long N = v->N, t = i * N + k;
    const gl_gmember *g = &v->mem[i];
    const float *a = v->a + i * v->R * N + k, *dz = v->z + i * v->R * N + k;
    double rstd = 1.0 / sqrt((double)v->s2[t] + g->norm_eps), sg = 0, sgx = 0;
    for (int b = 0; b < g->rows; b++) {
        double xhat = (a[(long)b * N] - v->s1[t]) * rstd;
        sg += dz[(long)b * N];
        sgx += dz[(long)b * N] * xhat;
    }
    v->s3[t] = sg;
    v->s4[t] = sgx;
    float *G = v->G + i * v->np;
    G[v->off_g + k] = (float)sgx;
    G[v->off_b + k] = (float)sg;
}

/* over (M, R): LayerNorm's sums over the row of g = dz*gamma and g*xhat */
GL_HD void gl_k_ln_back_rows(long i, long b, const gl_gview *v) {
    long N = v->N, t = i * v->R + b;
    if (b >= v->mem[i].rows) return;
    const float *a = v->a + t * N, *dz = v->z + t * N, *gam = v->P + i * v->np + v->off_g;
    double sg = 0, sgx = 0, mean = v->s1[t], r = v->s2[t];
    for (long k = 0; k < N; k++) {
        double gk = (double)dz[k] * gam[k];
        sg += gk;
        sgx += gk * (a[k] - mean) * r;
    }
    v->s3[t] = sg;
    v->s4[t] = sgx;
}

/* over (M, N): LayerNorm's dgamma, dbeta (rows in order) */
GL_HD void gl_k_ln_back_cols(long i, long k, const gl_gview *v) {
    long N = v->N;
    const float *a = v->a + i * v->R * N + k, *dz = v->z + i * v->R * N + k;
    const float *s1 = v->s1 + i * v->R, *s2 = v->s2 + i * v->R;
    float dg = 0, db = 0;
    for (int b = 0; b < v->mem[i].rows; b++) {
        dg += dz[(long)b * N] * (float)((a[(long)b * N] - s1[b]) * s2[b]);
        db += dz[(long)b * N];
    }
    float *G = v->G + i * v->np;
    G[v->off_g + k] = dg;
    G[v->off_b + k] = db;
}

/* over (M*R, N): da from dz, in place in z */
GL_HD void gl_k_norm_back(long row, long k, const gl_gview *v) {
    long N = v->N, i = row / v->R, b = row % v->R, t = row * N + k;
    const gl_gmember *g = &v->mem[i];
    if (b >= g->rows) {
        if (v->pad_zero) v->z[t] = 0.0f;
        return;
    }
    double gam = v->P[i * v->np + v->off_g + k], a = v->a[t], dz = v->z[t];
    if (v->norm == GK_NORM_BATCHNORM) {
        long c = i * N + k;
        int B = g->rows;
        double rstd = 1.0 / sqrt((double)v->s2[c] + g->norm_eps);
        double xhat = (a - v->s1[c]) * rstd;
        v->z[t] = (float)(gam * rstd / B * ((double)B * dz - v->s3[c] - xhat * v->s4[c]));
    } else {
        long r = i * v->R + b;
        double rs = v->s2[r], xhat = (a - v->s1[r]) * rs, gk = dz * gam;
        v->z[t] = (float)(rs / N * ((double)N * gk - v->s3[r] - xhat * v->s4[r]));
    }
}

/* over (M*R, N): dh = da * phi'(h), through the dropout mask; in place in h */
GL_HD void gl_k_act_back(long row, long k, const gl_gview *v) {
    long N = v->N, i = row / v->R, b = row % v->R, t = row * N + k;
    const gl_gmember *g = &v->mem[i];
    if (b >= g->rows) {
        if (v->pad_zero) v->h[t] = 0.0f;
        return;
    }
    float da = v->z[t], h = v->h[t], d;
    switch (v->act) {
    case GK_ACT_QUADRATIC: d = da * 2.0f * h; break;
    case GK_ACT_RELU: d = h > 0 ? da : 0.0f; break;
    case GK_ACT_GELU: d = da * (float)gl_k_gelu_grad((double)h); break;
    default: d = da; break;
    }
    if (g->dropout > 0) d = v->keep[t] ? d * (float)(1.0 / (1.0 - g->dropout)) : 0.0f;
    v->h[t] = d;
}

/* over (2Mp, N): dUt[r] = sum of dh over rows with bm == r (dVt: bn), in row order */
GL_HD void gl_k_embed_back(long row, long k, const gl_gview *v) {
    long N = v->N, p = v->p, ic = row / p, i = ic >> 1, c = ic & 1, r = row % p;
    const int32_t *off = v->csr_off + (i * 2 + c) * (p + 1), *idx = v->csr_idx + (i * 2 + c) * v->R;
    const float *dh = v->h + i * v->R * N + k;
    float s = 0;
    for (int j = off[r]; j < off[r + 1]; j++) s += dh[(long)idx[j] * N];
    v->G[i * v->np + (c ? v->off_v : v->off_u) + r * N + k] = s;
}

/* --- optimizer (PyTorch's torch.optim formulas, groklab/optim.h) ---------- */

/* over (M, 1): this step's constants (t = step + 1) */
GL_HD void gl_k_optim_prep(long i, long unused, const gl_gview *v) {
    (void)unused;
    gl_gmember *g = &v->mem[i];
    double t = (double)(v->step + 1);
    g->decay = (float)(1.0 - g->lr * g->wd);
    g->step_size = (float)(g->lr / (1.0 - pow(g->beta1, t)));
    g->bc2_sqrt = (float)sqrt(1.0 - pow(g->beta2, t));
}

/* over (M, np) */
GL_HD void gl_k_optim(long i, long j, const gl_gview *v) {
    long t = i * v->np + j;
    const gl_gmember *g = &v->mem[i];
    if (!g->alive) return;
    float *p = v->P + t, *m1 = v->M1 + t, *m2 = v->M2 + t, gi = v->G[t];
    float lr = (float)g->lr, wd = (float)g->wd;
    if (v->optim == GK_OPT_SGD) {
        float mom = (float)g->momentum;
        if (g->wd != 0) gi = gi + wd * *p;
        if (g->momentum != 0) {
            *m1 = v->step == 0 ? gi : mom * *m1 + gi;
            gi = *m1;
        }
        *p = *p - lr * gi;
        return;
    }
    float b1 = (float)g->beta1, b2 = (float)g->beta2, eps = (float)g->eps;
    float one_b1 = (float)(1.0 - g->beta1), one_b2 = (float)(1.0 - g->beta2);
    if (v->optim == GK_OPT_ADAMW) {
        if (g->wd != 0) *p = *p * g->decay;
    } else if (g->wd != 0) {
        gi = gi + wd * *p;
    }
    *m1 = *m1 * b1 + gi * one_b1;
    *m2 = *m2 * b2 + one_b2 * gi * gi;
    float denom = (float)sqrt((double)*m2) / g->bc2_sqrt + eps;
    *p = *p - g->step_size * (*m1 / denom);
}

/* --- metrics ------------------------------------------------------------- */

/* over (M, 1): adds the chunk's rows (in order) to the member's accumulators */
GL_HD void gl_k_eval_acc(long i, long unused, const gl_gview *v) {
    (void)unused;
    const gl_gmember *g = &v->mem[i];
    const double *rl = v->rowloss + i * v->R;
    const int32_t *hit = v->rowhit + i * v->R;
    double *acc = v->acc + i * GL_ACC;
    for (int b = 0; b < g->rows; b++) {
        int h = hit[b] & 1;
        if (v->set == GK_SET_TEST) {
            acc[GL_ACC_TEST_LOSS] += rl[b];
            acc[GL_ACC_TEST_HIT] += h;
            continue;
        }
        acc[GL_ACC_TRAIN_LOSS] += rl[b];
        acc[GL_ACC_TRAIN_HIT] += h;
        if (v->start + b < g->n_corrupt) {
            acc[GL_ACC_LO_HIT] += h;
            acc[GL_ACC_LO_HIT2] += (hit[b] >> 1) & 1;
        } else {
            acc[GL_ACC_HI_HIT] += h;
        }
    }
}

/* over (3M, p): sum of squares of row r of Ut, Vt or W */
GL_HD void gl_k_norm_rows(long row, long r, const gl_gview *v) {
    long p = v->p, N = v->N, i = row / 3, c = row % 3, t = row * p + r;
    long off = c == 0 ? v->off_u : c == 1 ? v->off_v : v->off_w;
    const float *x = v->P + i * v->np + off + r * N;
    double s = 0;
    for (long k = 0; k < N; k++) s += (double)x[k] * x[k];
    v->part[t] = s;
}

/* over (3M, 1): the sums of squares of Ut, Vt, W */
GL_HD void gl_k_norm_sum(long t, long unused, const gl_gview *v) {
    long p = v->p, i = t / 3, c = t % 3;
    (void)unused;
    double s = 0;
    for (long r = 0; r < p; r++) s += v->part[t * p + r];
    v->acc[i * GL_ACC + GL_ACC_SQ_U + c] = s;
}

/* over (M, N): neuron k's IPR (r = 2), the mean of those of Ut[:, k], Vt[:, k],
 * W[:, k], from the DFT in spec (metrics.h: gl_ipr_of_power) */
GL_HD void gl_k_ipr(long i, long k, const gl_gview *v) {
    long N = v->N, nb = v->nb, t = i * N + k;
    double mean = 0;
    for (int c = 0; c < 3; c++) {
        const float *s = v->spec + (i * 3 + c) * 2 * nb * N + k;
        double s2 = 0, s4 = 0;
        for (long j = 0; j < nb; j++) {
            double re = s[j * N], im = s[(nb + j) * N], a2 = re * re + im * im;
            double w = (v->ipr_full && j != 0 && 2 * j != v->n_ipr) ? 2.0 : 1.0;
            s2 += w * a2;
            s4 += w * a2 * a2;
        }
        mean += s2 > 0 ? s4 / (s2 * s2) : 0.0;
    }
    v->part[t] = mean / 3.0;
}

/* over (M, 1): the mean over neurons */
GL_HD void gl_k_ipr_mean(long i, long unused, const gl_gview *v) {
    (void)unused;
    double s = 0;
    for (long k = 0; k < v->N; k++) s += v->part[i * v->N + k];
    v->acc[i * GL_ACC + GL_ACC_IPR] = s / v->N;
}

/* The kernel list, for the launchers: X(name) for every gl_k_name above. */
#define GL_GPU_KERNELS(X)                                                                          \
    X(batch_rows) X(gather) X(csr_count) X(csr_scan) X(csr_fill) X(hidden) X(bn_stats)            \
    X(ln_stats) X(norm) X(mse_grad) X(loss_rows) X(bn_back_sums) X(ln_back_rows)                  \
    X(ln_back_cols) X(norm_back) X(act_back) X(embed_back) X(optim_prep) X(optim) X(eval_acc)     \
    X(norm_rows) X(norm_sum) X(ipr) X(ipr_mean)

#define GL_K_ENUM(name) GL_K_##name,
typedef enum { GL_GPU_KERNELS(GL_K_ENUM) GL_K_COUNT } gl_kernel;
#undef GL_K_ENUM

#endif
