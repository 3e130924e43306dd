/* groklab: LayerNorm over blocks of rows on the CPU (norm_rows_impl.h):
 * the numbers of gl_ln_row and gl_ln_back_row (model/ops.h) row by row, with
 * GL_LN_GROUP rows' in-order sums run side by side. Single-threaded: the
 * callers spread blocks of rows over their threads. */
#ifndef GROKLAB_MODEL_NORM_ROWS_H
#define GROKLAB_MODEL_NORM_ROWS_H

#define GL_LN_GROUP 8 /* rows whose statistics are summed side by side */

/* gcc vectorizes with 256-bit registers unless told otherwise; the loops in
 * double of the norms run faster with 512-bit ones where there are any */
#if defined(__GNUC__) && !defined(__clang__) && defined(__AVX512F__)
#define GL_WIDE __attribute__((target("prefer-vector-width=512")))
#else
#define GL_WIDE
#endif

#if defined(__AVX512F__) && defined(__FMA__) && GL_LN_GROUP == 8
#include <immintrin.h>
#define GL_LN_AVX512 1

/* x[c] = column c of the 8 x 8 block whose rows are x[0..7] */
static inline void gl_transpose8_f32(__m256 x[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(x[i], x[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(x[i], x[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        x[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        x[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* x[c] = (a[0][k + c], ..., a[7][k + c]) for 8 rows of stride N */
static inline void gl_load8_t_f32(__m256 x[8], const float *a, long N, long k) {
    for (int j = 0; j < 8; j++) x[j] = _mm256_loadu_ps(a + j * N + k);
    gl_transpose8_f32(x);
}

/* The features k < N / 8 * 8 of 8 rows of stride N, in 8 x 8 blocks, one
 * row per double lane, each row in order, onto the sums already in the
 * arrays; each returns N / 8 * 8, where the caller's loop over the rest of
 * the features (norm_rows_impl.h) takes over. */

/* s[j] += a[j][k] */
static inline long gl_ln_sum8_f32(double *s, const float *a, long N) {
    __m512d sv = _mm512_loadu_pd(s);
    __m256 x[8];
    long n8 = N / 8 * 8;
    for (long k = 0; k < n8; k += 8) {
        gl_load8_t_f32(x, a, N, k);
        for (int c = 0; c < 8; c++) sv = _mm512_add_pd(sv, _mm512_cvtps_pd(x[c]));
    }
    _mm512_storeu_pd(s, sv);
    return n8;
}

/* q[j] += (a[j][k] - mu[j])^2 */
static inline long gl_ln_sq8_f32(double *q, const float *a, const double *mu, long N) {
    __m512d qv = _mm512_loadu_pd(q), m = _mm512_loadu_pd(mu);
    __m256 x[8];
    long n8 = N / 8 * 8;
    for (long k = 0; k < n8; k += 8) {
        gl_load8_t_f32(x, a, N, k);
        for (int c = 0; c < 8; c++) {
            __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(x[c]), m);
            qv = _mm512_fmadd_pd(d, d, qv);
        }
    }
    _mm512_storeu_pd(q, qv);
    return n8;
}

/* with g = dz[j][k] * gamma[k]: sg[j] += g, sgx[j] += g * (a[j][k] - mu[j]) * r[j] */
static inline long gl_ln_back_sums8_f32(double *sg, double *sgx, const float *dz, const float *a,
                                        const float *mu, const double *r, const float *gamma,
                                        long N) {
    __m512d s = _mm512_loadu_pd(sg), sx = _mm512_loadu_pd(sgx), rv = _mm512_loadu_pd(r);
    __m256 mv = _mm256_loadu_ps(mu), x[8], d[8];
    long n8 = N / 8 * 8;
    for (long k = 0; k < n8; k += 8) {
        gl_load8_t_f32(d, dz, N, k);
        gl_load8_t_f32(x, a, N, k);
        for (int c = 0; c < 8; c++) {
            __m512d g = _mm512_mul_pd(_mm512_cvtps_pd(d[c]), _mm512_set1_pd(gamma[k + c]));
            s = _mm512_add_pd(s, g);
            __m512d t = _mm512_mul_pd(g, _mm512_cvtps_pd(_mm256_sub_ps(x[c], mv)));
            sx = _mm512_fmadd_pd(t, rv, sx);
        }
    }
    _mm512_storeu_pd(sg, s);
    _mm512_storeu_pd(sgx, sx);
    return n8;
}
#endif

#define GL_DECLARE_NORM_ROWS(R, S)                                                                 \
    /* z, mean, rstd of rows a (nrows, N), each as gl_ln_row */                                    \
    void gl_ln_rows_##S(R *z, R *mean, R *rstd, const R *a, const R *gamma, const R *beta,         \
                        int nrows, long N, double eps);                                            \
    /* da of rows, each as gl_ln_back_row; da may be dz */                                         \
    void gl_ln_back_rows_##S(R *da, const R *dz, const R *a, const R *mean, const R *rstd,         \
                             const R *gamma, int nrows, long N);                                   \
    /* z of rows a in evaluation mode, each element as gl_bn_eval */                               \
    void gl_bn_eval_rows_##S(R *z, const R *a, const R *gamma, const R *beta, const R *run_mean,  \
                             const R *run_var, int nrows, long N, double eps);

GL_DECLARE_NORM_ROWS(float, f32)
GL_DECLARE_NORM_ROWS(double, f64)

#endif
