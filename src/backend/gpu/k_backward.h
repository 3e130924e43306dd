/* groklab GPU backend, kernels: the backward pass through the norms, the
 * activation and dropout, and the embedding (gathered by operand, in example
 * order; the activation's and dropout's backward are folded into it).
 * Included by src/backend/gpu/kernels.h (types, conventions, the kernel list). The
 * numerics are the CPU's own functions (model/ops.h). */
#ifndef GROKLAB_GPU_K_BACKWARD_H
#define GROKLAB_GPU_K_BACKWARD_H

/* over (M, N): BatchNorm's sums over the batch of dz and dz*xhat into s3, s4
 * (they are dbeta and dgamma), and the column's 1/std into rstd, computed
 * once here for every element of the column */
GL_HD void gl_k_bn_back_sums(long i, long k, const gl_gview *v) {
    long N = v->N, t = i * N + k;
    const gl_gmember *g = &v->mem[i];
    const float *a = v->a + i * v->R * N + k, *dz = v->z + i * v->R * N + k;
    double rstd = gl_rstd((double)v->s2[t], g->norm_eps), sg = 0, sgx = 0;
    for (int b = 0; b < g->rows; b++) {
        double xhat = gl_xhat_f32(a[(long)b * N], v->s1[t], rstd);
        sg += dz[(long)b * N];
        sgx += dz[(long)b * N] * xhat;
    }
    v->s3[t] = sg;
    v->s4[t] = sgx;
    v->rstd[t] = rstd;
    float *G = v->G + i * v->np;
    G[v->off_g + k] = (float)sgx;
    G[v->off_b + k] = (float)sg;
}

/* over (M, R): LayerNorm's sums over the row of g = dz*gamma and g*xhat */
GL_HD void gl_k_ln_back_rows(long i, long b, const gl_gview *v) {
    long N = v->N, t = i * v->R + b;
    if (b >= v->mem[i].rows) return;
    const float *gam = v->P + i * v->np + v->off_g;
    gl_ln_back_sums_f32(v->s3 + t, v->s4 + t, v->z + t * N, v->a + t * N, v->s1[t], v->s2[t], gam,
                        N);
}

/* over (M, N): LayerNorm's dgamma, dbeta (rows in order) */
GL_HD void gl_k_ln_back_cols(long i, long k, const gl_gview *v) {
    long N = v->N;
    const float *a = v->a + i * v->R * N + k, *dz = v->z + i * v->R * N + k;
    const float *s1 = v->s1 + i * v->R, *s2 = v->s2 + i * v->R;
    float dg = 0, db = 0;
    for (int b = 0; b < v->mem[i].rows; b++) {
        dg += gl_ln_dgamma_f32(dz[(long)b * N], a[(long)b * N], s1[b], s2[b]);
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
    float gam = v->P[i * v->np + v->off_g + k], a = v->a[t], dz = v->z[t];
    if (v->norm == GK_NORM_BATCHNORM) {
        long c = i * N + k;
        v->z[t] = gl_bn_back_f32(dz, gam, a, v->s1[c], v->rstd[c], g->rows, v->s3[c], v->s4[c]);
    } else {
        long r = i * v->R + b;
        v->z[t] = gl_ln_back_f32(dz, gam, a, v->s1[r], v->s2[r], N, v->s3[r], v->s4[r]);
    }
}

/* dh of row b of member i, column k: da (in z) times phi'(h), through the
 * dropout mask, with h recomputed as gl_k_hidden computed it (the same float
 * operations: the same value) */
GL_HD float gl_k_dh(long i, long b, long k, const gl_gview *v) {
    const gl_gmember *g = &v->mem[i];
    long r = i * v->R + b, t = r * v->N + k;
    float h = gl_k_pre(i, r, k, v);
    if (g->dropout > 0) h = gl_k_drop(h, v->keep[t], g->dropout);
    float d = gl_act_back_f32(v->z[t], h, v->act);
    if (g->dropout > 0) d = gl_k_drop(d, v->keep[t], g->dropout);
    return d;
}

/* over (2Mp, N): dUt[r] = sum of dh over rows with bm == r (dVt: bn), in row
 * order; dh from da (in z) as it is summed, never stored */
GL_HD void gl_k_embed_back(long row, long k, const gl_gview *v) {
    long p = v->p, ic = row / p, i = ic >> 1, c = ic & 1, r = row % p;
    const int32_t *off = v->csr_off + (i * 2 + c) * (p + 1), *idx = v->csr_idx + (i * 2 + c) * v->R;
    float s = 0;
    for (int j = off[r]; j < off[r + 1]; j++) s += gl_k_dh(i, idx[j], k, v);
    v->G[i * v->np + (c ? v->off_v : v->off_u) + r * v->N + k] = s;
}

#endif
