/* groklab: LayerNorm over blocks of rows on the CPU, written once for a real
 * type (included by mlp_impl.h, so R, S and FN are defined).
 *
 * A row's statistics are sums over its N features in order, in double
 * (gl_ln_stats, gl_ln_back_sums: the GPU runs the same, one thread per row).
 * One row's sum is a chain of dependent additions, each waiting for the
 * last, so a row at a time runs at one addition per add latency. Here
 * GL_LN_GROUP rows are summed side by side: at every k, each row's sum takes
 * its element k. Each row still adds its elements in order, with the same
 * operations, so every sum, and every number after it, is gl_ln_row's and
 * gl_ln_back_row's to the bit; only the independent chains now overlap. In
 * float with AVX-512 the group's sums hold one row per double lane and read
 * 8 x 8 blocks transposed (norm_rows.h); elsewhere plain loops over the
 * rows. The loops that apply the statistics run along the features, for the
 * widest vectors (GL_WIDE). */

/* mu[j], q[j]: row j's mean (its sum in order, over N) and its sum of
 * (a - mean)^2 in order, as gl_ln_stats; the group's rows a (row stride N) */
static inline void FN(ln_group_stats)(double *mu, double *q, const R *a, long N) {
    enum { G = GL_LN_GROUP };
    long k0 = 0; /* features summed in the AVX-512 blocks */
    for (int j = 0; j < G; j++) mu[j] = q[j] = 0;
#ifdef GL_LN_AVX512
    if (sizeof(R) == sizeof(float)) k0 = gl_ln_sum8_f32(mu, (const float *)a, N);
#endif
    for (long k = k0; k < N; k++)
        for (int j = 0; j < G; j++) mu[j] += a[j * N + k];
    for (int j = 0; j < G; j++) mu[j] /= N;
#ifdef GL_LN_AVX512
    if (sizeof(R) == sizeof(float)) gl_ln_sq8_f32(q, (const float *)a, mu, N);
#endif
    for (long k = k0; k < N; k++)
        for (int j = 0; j < G; j++) q[j] += (a[j * N + k] - mu[j]) * (a[j * N + k] - mu[j]);
}

/* gl_ln_rows_f32, gl_ln_rows_f64: gl_ln_row of rows 0..nrows-1 of a (row
 * stride N) into z, mean, rstd; groups of GL_LN_GROUP side by side */
GL_WIDE void FN(gl_ln_rows)(R *GL_RESTRICT z, R *mean, R *rstd, const R *GL_RESTRICT a,
                            const R *GL_RESTRICT gamma, const R *GL_RESTRICT beta, int nrows,
                            long N, double eps) {
    enum { G = GL_LN_GROUP };
    int i = 0;
    for (; i + G <= nrows; i += G) {
        const R *ai = a + i * N;
        double mu[G], q[G], r[G];
        FN(ln_group_stats)(mu, q, ai, N);
        for (int j = 0; j < G; j++) {
            r[j] = gl_rstd(q[j] / N, eps);
            mean[i + j] = (R)mu[j];
            rstd[i + j] = (R)r[j];
        }
        for (int j = 0; j < G; j++) {
            R *zj = z + (i + j) * N;
            const R *aj = ai + j * N;
            for (long k = 0; k < N; k++)
                zj[k] = (R)gl_norm_apply(aj[k], mu[j], r[j], gamma[k], beta[k]);
        }
    }
    for (; i < nrows; i++) FN(gl_ln_row)(z + i * N, mean + i, rstd + i, a + i * N, gamma, beta, N, eps);
}

/* sg[j], sgx[j]: gl_ln_back_sums of the group's row j, side by side */
static inline void FN(ln_group_back_sums)(double *sg, double *sgx, const R *dz, const R *a,
                                          const R *mu, const double *r, const R *gamma, long N) {
    enum { G = GL_LN_GROUP };
    long k0 = 0; /* features summed in the AVX-512 blocks */
    for (int j = 0; j < G; j++) sg[j] = sgx[j] = 0;
#ifdef GL_LN_AVX512
    if (sizeof(R) == sizeof(float))
        k0 = gl_ln_back_sums8_f32(sg, sgx, (const float *)dz, (const float *)a, (const float *)mu, r,
                                  (const float *)gamma, N);
#endif
    for (long k = k0; k < N; k++)
        for (int j = 0; j < G; j++) {
            double g = (double)dz[j * N + k] * gamma[k];
            sg[j] += g;
            sgx[j] += g * (a[j * N + k] - mu[j]) * r[j];
        }
}

/* gl_ln_back_rows_f32, gl_ln_back_rows_f64: gl_ln_back_row of rows
 * 0..nrows-1 (da may be dz) */
GL_WIDE void FN(gl_ln_back_rows)(R *da, const R *dz, const R *GL_RESTRICT a, const R *mean,
                                 const R *rstd, const R *GL_RESTRICT gamma, int nrows, long N) {
    enum { G = GL_LN_GROUP };
    int i = 0;
    for (; i + G <= nrows; i += G) {
        double sg[G], sgx[G], r[G], c[G];
        R mu[G];
        for (int j = 0; j < G; j++) {
            r[j] = rstd[i + j];
            c[j] = r[j] / (double)N; /* gl_ln_back's c, once per row */
            mu[j] = mean[i + j];
        }
        FN(ln_group_back_sums)(sg, sgx, dz + i * N, a + i * N, mu, r, gamma, N);
        for (int j = 0; j < G; j++) {
            const R *dzj = dz + (i + j) * N, *aj = a + (i + j) * N;
            R *daj = da + (i + j) * N;
            for (long k = 0; k < N; k++)
                daj[k] = FN(gl_ln_back_c)(dzj[k], gamma[k], aj[k], mu[j], r[j], c[j], N, sg[j],
                                          sgx[j]);
        }
    }
    for (; i < nrows; i++)
        FN(gl_ln_back_row)(da + i * N, dz + i * N, a + i * N, mean[i], rstd[i], gamma, N);
}

/* gl_bn_eval_rows_f32, gl_bn_eval_rows_f64: BatchNorm in evaluation mode of
 * rows 0..nrows-1 of a (row stride N) into z, each element gl_bn_eval's
 * number, with gl_bn_sd once per column of a block of columns */
GL_WIDE void FN(gl_bn_eval_rows)(R *GL_RESTRICT z, const R *GL_RESTRICT a, const R *gamma,
                                 const R *beta, const R *run_mean, const R *run_var, int nrows,
                                 long N, double eps) {
    for (long k0 = 0; k0 < N; k0 += GL_COL_BLOCK) {
        long w = N - k0 < GL_COL_BLOCK ? N - k0 : GL_COL_BLOCK;
        double sd[GL_COL_BLOCK];
        for (long k = 0; k < w; k++) sd[k] = FN(gl_bn_sd)(run_var[k0 + k], eps);
        for (int b = 0; b < nrows; b++) {
            const R *ab = a + b * N + k0;
            R *zb = z + b * N + k0;
            for (long k = 0; k < w; k++)
                zb[k] = FN(gl_bn_eval_sd)(ab[k], run_mean[k0 + k], sd[k], gamma[k0 + k],
                                          beta[k0 + k]);
        }
    }
}
