/* groklab GPU backend, kernels: the forward pass: the gathered first layer
 * with dropout and the activation, BatchNorm and LayerNorm statistics and the
 * norm. Included by src/gpu/kernels.h (types, conventions, the kernel list). */
#ifndef GROKLAB_GPU_K_FORWARD_H
#define GROKLAB_GPU_K_FORWARD_H

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

/* Dropout of a kept (keep != 0) or dropped value: x / (1 - prob) or 0, in
 * float, the same in the forward and the backward (and as the CPU's
 * gl_dropout_apply) */
GL_HD float gl_k_drop(float x, int keep, double prob) {
    return keep ? x * (float)(1.0 / (1.0 - prob)) : 0.0f;
}

/* The first layer's pre-activation Ut[m] + Vt[n] of row r (member i), column k */
GL_HD float gl_k_pre(long i, long r, long k, const gl_gview *v) {
    const float *P = v->P + i * v->np;
    return P[v->off_u + (long)v->bm[r] * v->N + k] + P[v->off_v + (long)v->bn[r] * v->N + k];
}

/* over (M*R, N): h = Ut[m] + Vt[n], dropout (training: the mask into keep),
 * a = phi(h). h is not stored: the backward recomputes it (gl_k_dh). */
GL_HD void gl_k_hidden(long row, long k, const gl_gview *v) {
    long N = v->N, i = row / v->R, b = row % v->R, t = row * N + k;
    const gl_gmember *g = &v->mem[i];
    if (b >= g->rows) {
        if (v->pad_zero) v->a[t] = 0.0f;
        return;
    }
    long r = i * v->R + b;
    float x = gl_k_pre(i, r, k, v);
    if (v->training && g->dropout > 0) {
        /* the CPU's gl_dropout_row: word k % 4 of counter ex*ceil(N/4) + k/4 */
        uint32_t w[4];
        uint64_t groups = (uint64_t)(N + 3) / 4;
        gl_philox_words(g->seed, 4 /* GL_STREAM_DROPOUT */, (uint64_t)v->bid[r] * groups + k / 4,
                        (uint32_t)v->step, w);
        float u = (float)(w[k % 4] >> 8) * (1.0f / 16777216.0f);
        uint8_t keep = u >= (float)g->dropout;
        v->keep[t] = keep;
        x = gl_k_drop(x, keep, g->dropout);
    }
    v->a[t] = gl_k_act(x, v->act);
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

#endif
