/* groklab: the MLP's layers over whole batches, written once for a real
 * type; the deep MLP and the Transformer are made of them too.
 *
 * Included by mlp_f32.c and mlp_f64.c after model/ops.h (the numerics of
 * every element and row), with R (float | double), S (f32 | f64) and GEMM
 * (cblas_sgemm | cblas_dgemm) defined; every name below ends in _f32 or
 * _f64, and all of these macros are undefined at the end. Every loop that
 * reduces over examples runs in a fixed order over fixed blocks, and every
 * product is cut into fixed chunks before it reaches the (single-threaded)
 * BLAS, so results are the same for any number of threads. Shapes: see
 * model.h. */
#include <math.h>
#include <string.h>

#include "model/template.h"
#include "model/norm_rows.h"
#include "model/norm_rows_impl.h"

/* gl_embed_forward_f32, gl_embed_forward_f64 */
void FN(gl_embed_forward)(R *h, const int32_t *m, const int32_t *n, const R *Ut, const R *Vt, int B,
                          int N) {
#pragma omp parallel for schedule(static) if ((long)B * N > 32768)
    for (int b = 0; b < B; b++) {
        const R *u = Ut + (size_t)m[b] * N, *v = Vt + (size_t)n[b] * N;
        R *hb = h + (size_t)b * N;
        for (int k = 0; k < N; k++) hb[k] = u[k] + v[k];
    }
}

/* gl_embed_backward_f32, gl_embed_backward_f64 */
void FN(gl_embed_backward)(R *dUt, R *dVt, const R *dh, const int32_t *m, const int32_t *n, int B,
                           int N) {
    /* blocks of columns: each thread owns some columns of dUt and dVt */
#pragma omp parallel for schedule(static) if ((long)B * N > 32768)
    for (int k0 = 0; k0 < N; k0 += GL_COL_BLOCK) {
        int k1 = gl_imin(N, k0 + GL_COL_BLOCK);
        for (int b = 0; b < B; b++) {
            const R *g = dh + (size_t)b * N;
            R *du = dUt + (size_t)m[b] * N, *dv = dVt + (size_t)n[b] * N;
            for (int k = k0; k < k1; k++) {
                du[k] += g[k];
                dv[k] += g[k];
            }
        }
    }
}

/* gl_dropout_apply_f32, gl_dropout_apply_f64 */
void FN(gl_dropout_apply)(R *x, const uint8_t *keep, double prob, long len) {
    R scale = (R)gl_dropout_scale(prob);
#pragma omp parallel for schedule(static) if (len > 32768)
    for (long i = 0; i < len; i++) x[i] = FN(gl_drop)(x[i], keep[i], scale);
}

/* gl_act_forward_f32, gl_act_forward_f64 */
void FN(gl_act_forward)(R *a, const R *h, long len, gl_act act) {
#define FORWARD(A)                                                                                 \
    _Pragma("omp parallel for schedule(static) if (len > 32768)")                                  \
    for (long i = 0; i < len; i++) a[i] = FN(gl_act)(h[i], A)
    GL_ACT_SWITCH(act, FORWARD)
#undef FORWARD
}

/* gl_act_backward_f32, gl_act_backward_f64 */
void FN(gl_act_backward)(R *dh, const R *da, const R *h, long len, gl_act act) {
#define BACKWARD(A)                                                                                \
    _Pragma("omp parallel for schedule(static) if (len > 32768)")                                  \
    for (long i = 0; i < len; i++) dh[i] = FN(gl_act_back)(da[i], h[i], A)
    GL_ACT_SWITCH(act, BACKWARD)
#undef BACKWARD
}

/* gl_batchnorm_forward_f32, gl_batchnorm_forward_f64: column sums over the
 * rows for a block of columns, rows in order (double accumulators) */
GL_WIDE void FN(gl_batchnorm_forward)(R *z, R *mean, R *var, const R *a, const R *gamma, const R *beta,
                              int B, int N, double eps) {
#pragma omp parallel for schedule(static) if ((long)B * N > 32768)
    for (int k0 = 0; k0 < N; k0 += GL_COL_BLOCK) {
        int k1 = gl_imin(N, k0 + GL_COL_BLOCK);
        double s[GL_COL_BLOCK] = {0}, q[GL_COL_BLOCK] = {0};
        for (int b = 0; b < B; b++) {
            const R *ab = a + (size_t)b * N;
            for (int k = k0; k < k1; k++) s[k - k0] += ab[k];
        }
        for (int k = k0; k < k1; k++) s[k - k0] /= B;
        for (int b = 0; b < B; b++) {
            const R *ab = a + (size_t)b * N;
            for (int k = k0; k < k1; k++) {
                double d = ab[k] - s[k - k0];
                q[k - k0] += d * d;
            }
        }
        for (int k = k0; k < k1; k++) {
            mean[k] = (R)s[k - k0];
            var[k] = (R)(q[k - k0] / B);
            q[k - k0] = gl_rstd(q[k - k0] / B, eps); /* now rstd */
        }
        for (int b = 0; b < B; b++) {
            const R *ab = a + (size_t)b * N;
            R *zb = z + (size_t)b * N;
            for (int k = k0; k < k1; k++)
                zb[k] = (R)gl_norm_apply(ab[k], s[k - k0], q[k - k0], gamma[k], beta[k]);
        }
    }
}

/* gl_batchnorm_eval_f32, gl_batchnorm_eval_f64 */
void FN(gl_batchnorm_eval)(R *z, const R *a, const R *gamma, const R *beta, const R *run_mean,
                           const R *run_var, int B, int N, double eps) {
#pragma omp parallel for schedule(static) if ((long)B * N > 32768)
    for (int b = 0; b < B; b += GL_ROW_CHUNK)
        FN(gl_bn_eval_rows)(z + (size_t)b * N, a + (size_t)b * N, gamma, beta, run_mean, run_var,
                            gl_imin(GL_ROW_CHUNK, B - b), N, eps);
}

/* gl_batchnorm_backward_f32, gl_batchnorm_backward_f64 */
GL_WIDE void FN(gl_batchnorm_backward)(R *da, R *dgamma, R *dbeta, const R *dz, const R *a, const R *mean,
                               const R *var, const R *gamma, int B, int N, double eps) {
#pragma omp parallel for schedule(static) if ((long)B * N > 32768)
    for (int k0 = 0; k0 < N; k0 += GL_COL_BLOCK) {
        int k1 = gl_imin(N, k0 + GL_COL_BLOCK);
        double sg[GL_COL_BLOCK] = {0}, sgx[GL_COL_BLOCK] = {0}, rstd[GL_COL_BLOCK], c[GL_COL_BLOCK];
        for (int k = k0; k < k1; k++) {
            rstd[k - k0] = gl_rstd((double)var[k], eps);
            c[k - k0] = (double)gamma[k] * rstd[k - k0] / B; /* gl_bn_back's scale / n, once per column */
        }
        for (int b = 0; b < B; b++) {
            const R *ab = a + (size_t)b * N, *gb = dz + (size_t)b * N;
            for (int k = k0; k < k1; k++) {
                double xhat = FN(gl_xhat)(ab[k], mean[k], rstd[k - k0]);
                sg[k - k0] += gb[k];
                sgx[k - k0] += gb[k] * xhat;
            }
        }
        for (int k = k0; k < k1; k++) {
            dgamma[k] += (R)sgx[k - k0];
            dbeta[k] += (R)sg[k - k0];
        }
        for (int b = 0; b < B; b++) {
            const R *ab = a + (size_t)b * N, *gb = dz + (size_t)b * N;
            R *db = da + (size_t)b * N;
            for (int k = k0; k < k1; k++)
                db[k] = FN(gl_bn_back_c)(gb[k], c[k - k0], ab[k], mean[k], rstd[k - k0], B, sg[k - k0],
                                         sgx[k - k0]);
        }
    }
}

/* gl_layernorm_forward_f32, gl_layernorm_forward_f64 */
void FN(gl_layernorm_forward)(R *z, R *mean, R *rstd, const R *a, const R *gamma, const R *beta,
                              int B, int N, double eps) {
#pragma omp parallel for schedule(static) if ((long)B * N > 32768)
    for (int b = 0; b < B; b += GL_LN_GROUP)
        FN(gl_ln_rows)(z + (size_t)b * N, mean + b, rstd + b, a + (size_t)b * N, gamma, beta,
                       gl_imin(GL_LN_GROUP, B - b), N, eps);
}

/* gl_layernorm_backward_f32, gl_layernorm_backward_f64 */
void FN(gl_layernorm_backward)(R *da, R *dgamma, R *dbeta, const R *dz, const R *a, const R *mean,
                               const R *rstd, const R *gamma, int B, int N) {
    /* parameter gradients: column blocks, rows in order */
#pragma omp parallel for schedule(static) if ((long)B * N > 32768)
    for (int k0 = 0; k0 < N; k0 += GL_COL_BLOCK) {
        int k1 = gl_imin(N, k0 + GL_COL_BLOCK);
        for (int b = 0; b < B; b++)
            FN(gl_ln_param_row)(dgamma + k0, dbeta + k0, dz + (size_t)b * N + k0,
                                a + (size_t)b * N + k0, mean[b], rstd[b], k1 - k0);
    }
    /* input gradient: rows independent */
#pragma omp parallel for schedule(static) if ((long)B * N > 32768)
    for (int b = 0; b < B; b += GL_LN_GROUP)
        FN(gl_ln_back_rows)(da + (size_t)b * N, dz + (size_t)b * N, a + (size_t)b * N, mean + b,
                            rstd + b, gamma, gl_imin(GL_LN_GROUP, B - b), N);
}

/* gl_linear_forward_f32, gl_linear_forward_f64 */
void FN(gl_linear_forward)(R *out, const R *z, const R *W, int B, int N, int p) {
#pragma omp parallel for schedule(dynamic) if ((long)B * N * p > 32768)
    for (int r = 0; r < B; r += GL_ROW_CHUNK) {
        int rows = gl_imin(GL_ROW_CHUNK, B - r);
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, rows, p, N, 1, z + (size_t)r * N, N, W, N, 0,
             out + (size_t)r * p, p);
    }
}

/* gl_linear_backward_f32, gl_linear_backward_f64 */
void FN(gl_linear_backward)(R *dz, R *dW, const R *dout, const R *z, const R *W, int B, int N,
                            int p) {
#pragma omp parallel for schedule(dynamic) if ((long)B * N * p > 32768)
    for (int c = 0; c < N; c += GL_COL_CHUNK) {
        int cols = gl_imin(GL_COL_CHUNK, N - c);
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, p, cols, B, 1, dout, p, z + c, N, 1, dW + c,
             N);
    }
#pragma omp parallel for schedule(dynamic) if ((long)B * N * p > 32768)
    for (int r = 0; r < B; r += GL_ROW_CHUNK) {
        int rows = gl_imin(GL_ROW_CHUNK, B - r);
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, N, p, 1, dout + (size_t)r * p, p, W,
             N, 0, dz + (size_t)r * N, N);
    }
}

enum { LOSS_CHAINS = 8 };

/* mse_chains_f32, mse_chains_f64: the MSE sums of the LOSS_CHAINS chunks of
 * `chunk` rows from row r0 on (no gradient: an evaluation), into part. Each
 * chunk's sum is one running sum of its rows' squares in order, as
 * gl_mse_row_* adds them; the chunks' sums advance side by side, so that
 * their additions overlap instead of waiting on one another: the same
 * numbers, several times faster. */
static void FN(mse_chains)(double *part, const R *out, const int32_t *y, int r0, int chunk, int p) {
    double s[LOSS_CHAINS] = {0};
    for (int b = 0; b < chunk; b++) {
        const R *o[LOSS_CHAINS];
        int yc[LOSS_CHAINS];
        for (int c = 0; c < LOSS_CHAINS; c++) {
            o[c] = out + (size_t)(r0 + c * chunk + b) * p;
            yc[c] = y[r0 + c * chunk + b];
        }
        for (int j = 0; j < p; j++)
            for (int c = 0; c < LOSS_CHAINS; c++) {
                R d = FN(gl_mse_diff)(o[c][j], j == yc[c]);
                s[c] += (double)d * d;
            }
    }
    for (int c = 0; c < LOSS_CHAINS; c++) part[c] = s[c];
}

/* loss_sum_f32, loss_sum_f64: the loss sum of a batch (MSE or
 * cross-entropy): per fixed chunk of rows
 * (gl_loss_chunks), then the chunks in order. dout as the rows'. Without
 * dout, MSE runs full chunks LOSS_CHAINS at a time (mse_chains). */
static double FN(loss_sum)(R *dout, const R *out, const int32_t *y, int B, int p, gl_loss loss) {
    double part[GL_LOSS_CHUNKS];
    int nch, chunk = gl_loss_chunks(B, &nch);
    R g = (R)gl_mse_scale(B, p);
    int grouped = !dout && loss == GL_LOSS_MSE ? B / (chunk * LOSS_CHAINS) : 0; /* groups of full chunks */
#pragma omp parallel for schedule(static) if ((long)B * p > 32768)
    for (int k = 0; k < grouped; k++)
        FN(mse_chains)(part + k * LOSS_CHAINS, out, y, k * LOSS_CHAINS * chunk, chunk, p);
#pragma omp parallel for schedule(static) if ((long)B * p > 32768)
    for (int c = grouped * LOSS_CHAINS; c < nch; c++) {
        double s = 0;
        for (int b = c * chunk; b < gl_imin(B, (c + 1) * chunk); b++) {
            R *db = dout ? dout + (size_t)b * p : NULL;
            const R *o = out + (size_t)b * p;
            if (loss == GL_LOSS_MSE)
                s = FN(gl_mse_row)(s, db, o, y[b], p, g);
            else
                s += FN(gl_ce_row)(db, o, y[b], p, B, NULL);
        }
        part[c] = s;
    }
    double s = 0;
    for (int c = 0; c < nch; c++) s += part[c];
    return s;
}

/* gl_mse_loss_f32, gl_mse_loss_f64 */
double FN(gl_mse_loss)(R *dout, const R *out, const int32_t *y, int B, int p) {
    return FN(loss_sum)(dout, out, y, B, p, GL_LOSS_MSE) / ((double)B * p);
}

/* gl_ce_loss_f32, gl_ce_loss_f64 */
double FN(gl_ce_loss)(R *dout, const R *out, const int32_t *y, int B, int p) {
    return FN(loss_sum)(dout, out, y, B, p, GL_LOSS_CE) / B;
}

/* gl_init_normal_f32, gl_init_normal_f64: the paper's (out, in) order:
 * element i = r * cols + q of a (rows, cols) tensor is
 * std * gl_normal(seed, GL_STREAM_INIT, a = i, b = id), stored at dst[i], or
 * with transposed at dst[q * rows + r] (a (cols, rows) array) */
void FN(gl_init_normal)(R *dst, int rows, int cols, int transposed, double std, uint64_t seed,
                        uint32_t id) {
#pragma omp parallel for schedule(static) if ((long)rows * cols > 32768)
    for (int r = 0; r < rows; r++)
        for (int q = 0; q < cols; q++) {
            uint64_t i = (uint64_t)r * (uint64_t)cols + (uint64_t)q;
            R v = (R)(std * gl_normal(seed, GL_STREAM_INIT, i, id));
            if (transposed)
                dst[(size_t)q * rows + r] = v;
            else
                dst[i] = v;
        }
}

#undef GEMM
#include "model/template_end.h"
