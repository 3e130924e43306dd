/* groklab GPU backend, kernels: the forward pass: the gathered first layer
 * with dropout and the activation, BatchNorm and LayerNorm statistics and the
 * norm. Included by src/backend/gpu/kernels.h (types, conventions, the kernel list).
 * The numerics are the CPU's own functions (model/ops.h). */
#ifndef GROKLAB_GPU_K_FORWARD_H
#define GROKLAB_GPU_K_FORWARD_H

/* Dropout of a kept (keep != 0) or dropped value, the same in the forward
 * and the backward */
GL_HD float gl_k_drop(float x, uint8_t keep, double prob) {
    return gl_drop_f32(x, keep, (float)gl_dropout_scale(prob));
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
        /* the CPU's gl_dropout_row, one element: word k % 4 of its counter */
        uint32_t w[4];
        gl_philox_words(g->seed, GL_STREAM_DROPOUT,
                        gl_dropout_ctr0((uint64_t)v->bid[r], (uint64_t)N) + (uint64_t)k / 4,
                        (uint32_t)g->step, w);
        uint8_t keep = gl_dropout_kept(w[k % 4], (float)g->dropout);
        v->keep[t] = keep;
        x = gl_k_drop(x, keep, g->dropout);
    }
    v->a[t] = gl_act_f32(x, v->act);
}

/* over (M, N): BatchNorm batch mean and biased variance of a (s1, s2; s3, s4
 * the mean and 1/std unrounded, for gl_k_norm), and (training) the running
 * statistics as torch.nn.BatchNorm1d */
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
    v->s3[t] = s;
    v->s4[t] = gl_rstd(q / B, g->norm_eps);
    if (!g->alive) return; /* stopped: its state stays as at the failed step */
    gl_bn_running_f32(v->run_mean + t, v->run_var + t, mean, var, B, g->bn_momentum);
}

/* over (M, R): LayerNorm mean and 1/std of each row (s1, s2; s3, s4
 * unrounded, for gl_k_norm) */
GL_HD void gl_k_ln_stats(long i, long b, const gl_gview *v) {
    long N = v->N, t = i * v->R + b;
    if (b >= v->mem[i].rows) return;
    double mean, rstd;
    gl_ln_stats_f32(&mean, &rstd, v->a + t * N, N, v->mem[i].norm_eps);
    v->s1[t] = (float)mean;
    v->s2[t] = (float)rstd;
    v->s3[t] = mean;
    v->s4[t] = rstd;
}

/* over (M*R, N): z = norm(a). BatchNorm: batch statistics (training) or running
 * ones (evaluation); LayerNorm: the row's. As the CPU, with the statistics
 * unrounded. */
GL_HD void gl_k_norm(long row, long k, const gl_gview *v) {
    long N = v->N, i = row / v->R, b = row % v->R, t = row * N + k;
    const gl_gmember *g = &v->mem[i];
    if (b >= g->rows) {
        if (v->pad_zero) v->z[t] = 0.0f;
        return;
    }
    const float *P = v->P + i * v->np;
    float gam = P[v->off_g + k], bet = P[v->off_b + k], a = v->a[t];
    if (v->norm == GK_NORM_LAYERNORM || v->training) {
        long s = v->norm == GK_NORM_LAYERNORM ? i * v->R + b : i * N + k; /* the statistics' */
        v->z[t] = (float)gl_norm_apply(a, v->s3[s], v->s4[s], gam, bet);
    } else {
        long c = i * N + k;
        v->z[t] = gl_bn_eval_f32(a, v->run_mean[c], v->run_var[c], g->norm_eps, gam, bet);
    }
}

#endif
