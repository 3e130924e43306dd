/* groklab: the MLP's layers, written once for a real type.
 *
 * Included by mlp_f32.c and mlp_f64.c with R (float | double), S (f32 | f64)
 * and GEMM (cblas_sgemm | cblas_dgemm) defined. Every loop that reduces over
 * examples runs in a fixed order over fixed blocks, and every product is cut
 * into fixed chunks before it reaches the (single-threaded) BLAS, so results
 * are the same for any number of threads. Shapes: see model.h. */
#include <math.h>
#include <string.h>

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, S)

#ifndef GL_MLP_IMPL_COMMON
#define GL_MLP_IMPL_COMMON
enum { ROW_CHUNK = 256, COL_CHUNK = 128, COL_BLOCK = 64 };
static inline int imin(int a, int b) { return a < b ? a : b; }
#endif

void FN(gl_embed_forward)(R *h, const int32_t *m, const int32_t *n, const R *Ut, const R *Vt, int B,
                          int N) {
#pragma omp parallel for schedule(static) if ((long)B * N > 32768)
    for (int b = 0; b < B; b++) {
        const R *u = Ut + (size_t)m[b] * N, *v = Vt + (size_t)n[b] * N;
        R *hb = h + (size_t)b * N;
        for (int k = 0; k < N; k++) hb[k] = u[k] + v[k];
    }
}

void FN(gl_embed_backward)(R *dUt, R *dVt, const R *dh, const int32_t *m, const int32_t *n, int B,
                           int N) {
    /* blocks of columns: each thread owns some columns of dUt and dVt */
#pragma omp parallel for schedule(static) if ((long)B * N > 32768)
    for (int k0 = 0; k0 < N; k0 += COL_BLOCK) {
        int k1 = imin(N, k0 + COL_BLOCK);
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

void FN(gl_dropout_apply)(R *x, const uint8_t *keep, double prob, long len) {
    R scale = (R)(1.0 / (1.0 - prob));
#pragma omp parallel for schedule(static) if (len > 32768)
    for (long i = 0; i < len; i++) x[i] = keep[i] ? x[i] * scale : (R)0;
}

static inline R FN(gelu)(R x) { return (R)0.5 * x * ((R)1 + (R)erf((double)x * M_SQRT1_2)); }
static inline R FN(gelu_grad)(R x) {
    double cdf = 0.5 * (1.0 + erf((double)x * M_SQRT1_2));
    double pdf = exp(-0.5 * (double)x * (double)x) / sqrt(2.0 * M_PI);
    return (R)(cdf + (double)x * pdf);
}

void FN(gl_act_forward)(R *a, const R *h, long len, gl_act act) {
    switch (act) {
    case GL_ACT_QUADRATIC:
#pragma omp parallel for schedule(static) if (len > 32768)
        for (long i = 0; i < len; i++) a[i] = h[i] * h[i];
        break;
    case GL_ACT_RELU:
#pragma omp parallel for schedule(static) if (len > 32768)
        for (long i = 0; i < len; i++) a[i] = h[i] > 0 ? h[i] : (R)0;
        break;
    case GL_ACT_GELU:
#pragma omp parallel for schedule(static) if (len > 32768)
        for (long i = 0; i < len; i++) a[i] = FN(gelu)(h[i]);
        break;
    case GL_ACT_IDENTITY:
    case GL_ACT_AUTO: /* resolved before any layer runs (gl_config_resolve) */
        if (a != h) memcpy(a, h, sizeof(R) * (size_t)len);
        break;
    }
}

void FN(gl_act_backward)(R *dh, const R *da, const R *h, long len, gl_act act) {
    switch (act) {
    case GL_ACT_QUADRATIC:
#pragma omp parallel for schedule(static) if (len > 32768)
        for (long i = 0; i < len; i++) dh[i] = da[i] * (R)2 * h[i];
        break;
    case GL_ACT_RELU:
#pragma omp parallel for schedule(static) if (len > 32768)
        for (long i = 0; i < len; i++) dh[i] = h[i] > 0 ? da[i] : (R)0;
        break;
    case GL_ACT_GELU:
#pragma omp parallel for schedule(static) if (len > 32768)
        for (long i = 0; i < len; i++) dh[i] = da[i] * FN(gelu_grad)(h[i]);
        break;
    case GL_ACT_IDENTITY:
    case GL_ACT_AUTO: /* resolved before any layer runs (gl_config_resolve) */
        if (dh != da) memcpy(dh, da, sizeof(R) * (size_t)len);
        break;
    }
}

/* Column sums over rows for a column block, in row order (double accumulators). */
void FN(gl_batchnorm_forward)(R *z, R *mean, R *var, const R *a, const R *gamma, const R *beta,
                              int B, int N, double eps) {
#pragma omp parallel for schedule(static) if ((long)B * N > 32768)
    for (int k0 = 0; k0 < N; k0 += COL_BLOCK) {
        int k1 = imin(N, k0 + COL_BLOCK);
        double s[COL_BLOCK] = {0}, q[COL_BLOCK] = {0};
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
            q[k - k0] = 1.0 / sqrt(q[k - k0] / B + eps); /* now rstd */
        }
        for (int b = 0; b < B; b++) {
            const R *ab = a + (size_t)b * N;
            R *zb = z + (size_t)b * N;
            for (int k = k0; k < k1; k++)
                zb[k] = (R)((ab[k] - s[k - k0]) * q[k - k0] * gamma[k] + beta[k]);
        }
    }
}

void FN(gl_batchnorm_eval)(R *z, const R *a, const R *gamma, const R *beta, const R *run_mean,
                           const R *run_var, int B, int N, double eps) {
#pragma omp parallel for schedule(static) if ((long)B * N > 32768)
    for (int b = 0; b < B; b++) {
        const R *ab = a + (size_t)b * N;
        R *zb = z + (size_t)b * N;
        for (int k = 0; k < N; k++)
            zb[k] = (R)((ab[k] - run_mean[k]) / sqrt((double)run_var[k] + eps) * gamma[k] + beta[k]);
    }
}

void FN(gl_batchnorm_backward)(R *da, R *dgamma, R *dbeta, const R *dz, const R *a, const R *mean,
                               const R *var, const R *gamma, int B, int N, double eps) {
#pragma omp parallel for schedule(static) if ((long)B * N > 32768)
    for (int k0 = 0; k0 < N; k0 += COL_BLOCK) {
        int k1 = imin(N, k0 + COL_BLOCK);
        double sg[COL_BLOCK] = {0}, sgx[COL_BLOCK] = {0}, rstd[COL_BLOCK];
        for (int k = k0; k < k1; k++) rstd[k - k0] = 1.0 / sqrt((double)var[k] + eps);
        for (int b = 0; b < B; b++) {
            const R *ab = a + (size_t)b * N, *gb = dz + (size_t)b * N;
            for (int k = k0; k < k1; k++) {
                double xhat = (ab[k] - mean[k]) * rstd[k - k0];
                sg[k - k0] += gb[k];
                sgx[k - k0] += gb[k] * xhat;
            }
        }
        for (int k = k0; k < k1; k++) {
            dgamma[k] += (R)sgx[k - k0];
            dbeta[k] += (R)sg[k - k0];
        }
        /* da = gamma*rstd/B * (B*g - sum g - xhat * sum g*xhat) */
        for (int b = 0; b < B; b++) {
            const R *ab = a + (size_t)b * N, *gb = dz + (size_t)b * N;
            R *db = da + (size_t)b * N;
            for (int k = k0; k < k1; k++) {
                double xhat = (ab[k] - mean[k]) * rstd[k - k0];
                db[k] = (R)(gamma[k] * rstd[k - k0] / B *
                            ((double)B * gb[k] - sg[k - k0] - xhat * sgx[k - k0]));
            }
        }
    }
}

void FN(gl_layernorm_forward)(R *z, R *mean, R *rstd, const R *a, const R *gamma, const R *beta,
                              int B, int N, double eps) {
#pragma omp parallel for schedule(static) if ((long)B * N > 32768)
    for (int b = 0; b < B; b++) {
        const R *ab = a + (size_t)b * N;
        R *zb = z + (size_t)b * N;
        double s = 0, q = 0;
        for (int k = 0; k < N; k++) s += ab[k];
        s /= N;
        for (int k = 0; k < N; k++) q += (ab[k] - s) * (ab[k] - s);
        double r = 1.0 / sqrt(q / N + eps);
        mean[b] = (R)s;
        rstd[b] = (R)r;
        for (int k = 0; k < N; k++) zb[k] = (R)((ab[k] - s) * r * gamma[k] + beta[k]);
    }
}

void FN(gl_layernorm_backward)(R *da, R *dgamma, R *dbeta, const R *dz, const R *a, const R *mean,
                               const R *rstd, const R *gamma, int B, int N) {
    /* parameter gradients: column blocks, rows in order */
#pragma omp parallel for schedule(static) if ((long)B * N > 32768)
    for (int k0 = 0; k0 < N; k0 += COL_BLOCK) {
        int k1 = imin(N, k0 + COL_BLOCK);
        for (int b = 0; b < B; b++) {
            const R *ab = a + (size_t)b * N, *gb = dz + (size_t)b * N;
            for (int k = k0; k < k1; k++) {
                dgamma[k] += gb[k] * (R)((ab[k] - mean[b]) * rstd[b]);
                dbeta[k] += gb[k];
            }
        }
    }
    /* input gradient: rows independent */
#pragma omp parallel for schedule(static) if ((long)B * N > 32768)
    for (int b = 0; b < B; b++) {
        const R *ab = a + (size_t)b * N, *gb = dz + (size_t)b * N;
        R *db = da + (size_t)b * N;
        double sg = 0, sgx = 0, r = rstd[b];
        for (int k = 0; k < N; k++) {
            double g = (double)gb[k] * gamma[k];
            sg += g;
            sgx += g * (ab[k] - mean[b]) * r;
        }
        for (int k = 0; k < N; k++) {
            double g = (double)gb[k] * gamma[k], xhat = (ab[k] - mean[b]) * r;
            db[k] = (R)(r / N * ((double)N * g - sg - xhat * sgx));
        }
    }
}

void FN(gl_linear_forward)(R *out, const R *z, const R *W, int B, int N, int p) {
#pragma omp parallel for schedule(dynamic) if ((long)B * N * p > 32768)
    for (int r = 0; r < B; r += ROW_CHUNK) {
        int rows = imin(ROW_CHUNK, B - r);
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, rows, p, N, 1, z + (size_t)r * N, N, W, N, 0,
             out + (size_t)r * p, p);
    }
}

void FN(gl_linear_backward)(R *dz, R *dW, const R *dout, const R *z, const R *W, int B, int N,
                            int p) {
#pragma omp parallel for schedule(dynamic) if ((long)B * N * p > 32768)
    for (int c = 0; c < N; c += COL_CHUNK) {
        int cols = imin(COL_CHUNK, N - c);
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, p, cols, B, 1, dout, p, z + c, N, 1, dW + c, N);
    }
#pragma omp parallel for schedule(dynamic) if ((long)B * N * p > 32768)
    for (int r = 0; r < B; r += ROW_CHUNK) {
        int rows = imin(ROW_CHUNK, B - r);
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, N, p, 1, dout + (size_t)r * p, p, W, N,
             0, dz + (size_t)r * N, N);
    }
}

/* Losses sum per fixed chunk of rows, then the chunks in order. */
#ifndef LOSS_CHUNKS
#define LOSS_CHUNKS 1024
static inline int loss_chunks(int B, int *nch) {
    int chunk = (B + LOSS_CHUNKS - 1) / LOSS_CHUNKS;
    if (chunk < 64) chunk = 64;
    *nch = (B + chunk - 1) / chunk;
    return chunk;
}
#endif
double FN(gl_mse_loss)(R *dout, const R *out, const int32_t *y, int B, int p) {
    double part[LOSS_CHUNKS];
    int nch, chunk = loss_chunks(B, &nch);
    R g = (R)(2.0 / ((double)B * p));
#pragma omp parallel for schedule(static) if ((long)B * p > 32768)
    for (int c = 0; c < nch; c++) {
        double s = 0;
        for (int b = c * chunk; b < imin(B, (c + 1) * chunk); b++) {
            const R *o = out + (size_t)b * p;
            for (int j = 0; j < p; j++) {
                R d = o[j] - (j == y[b] ? (R)1 : (R)0);
                s += (double)d * d;
                if (dout) dout[(size_t)b * p + j] = g * d;
            }
        }
        part[c] = s;
    }
    double s = 0;
    for (int c = 0; c < nch; c++) s += part[c];
    return s / ((double)B * p);
}

double FN(gl_ce_loss)(R *dout, const R *out, const int32_t *y, int B, int p) {
    double part[LOSS_CHUNKS];
    int nch, chunk = loss_chunks(B, &nch);
#pragma omp parallel for schedule(static) if ((long)B * p > 32768)
    for (int c = 0; c < nch; c++) {
        double s = 0;
        for (int b = c * chunk; b < imin(B, (c + 1) * chunk); b++) {
            const R *o = out + (size_t)b * p;
            double mx = o[0];
            for (int j = 1; j < p; j++)
                if (o[j] > mx) mx = o[j];
            double z = 0;
            for (int j = 0; j < p; j++) z += exp((double)o[j] - mx);
            double lse = mx + log(z);
            s += lse - o[y[b]];
            if (dout)
                for (int j = 0; j < p; j++)
                    dout[(size_t)b * p + j] =
                        (R)((exp((double)o[j] - lse) - (j == y[b] ? 1.0 : 0.0)) / B);
        }
        part[c] = s;
    }
    double s = 0;
    for (int c = 0; c < nch; c++) s += part[c];
    return s / B;
}

#undef FN
#undef CAT
#undef CAT_
