/* groklab: the Transformer's layers, written once for a real type: plain
 * functions over a chunk's arrays. Part of transformer_impl.h, which
 * includes it with R, S, GEMM and FN defined (and undefines them); every
 * name below ends in _f32 or _f64. Shapes: as in transformer_impl.h. */

/* tf_embed_forward_f32, tf_embed_forward_f64: x (nr, T, d) = tok[m | n] +
 * pos[t]. tok: (p, d), pos: (T, d), m, n: (nr) */
static void FN(tf_embed_forward)(R *restrict x, const int32_t *m, const int32_t *n,
                                 const R *restrict tok, const R *restrict pos, int nr, int d) {
    for (int b = 0; b < nr; b++) {
        const R *tk[GL_TF_T] = {tok + (size_t)m[b] * d, tok + (size_t)n[b] * d};
        for (int t = 0; t < GL_TF_T; t++) {
            R *xb = x + ((size_t)b * GL_TF_T + t) * d;
            for (int k = 0; k < d; k++) xb[k] = tk[t][k] + pos[(size_t)t * d + k];
        }
    }
}

/* tf_embed_backward_f32, tf_embed_backward_f64: dtok[m | n] += dx[b, t],
 * dpos[t] += dx[b, t]. dx: (nr, T, d) */
static void FN(tf_embed_backward)(R *restrict dtok, R *restrict dpos, const R *restrict dx,
                                  const int32_t *m, const int32_t *n, int nr, int d) {
    for (int b = 0; b < nr; b++) {
        R *dt[GL_TF_T] = {dtok + (size_t)m[b] * d, dtok + (size_t)n[b] * d};
        for (int t = 0; t < GL_TF_T; t++) {
            const R *g = dx + ((size_t)b * GL_TF_T + t) * d;
            for (int k = 0; k < d; k++) {
                dt[t][k] += g[k];
                dpos[(size_t)t * d + k] += g[k];
            }
        }
    }
}

/* tf_dropout_f32, tf_dropout_f64: x (nr, len) *= keep ? scale : 0, keep:
 * row b at keep + b*E + off. */
static void FN(tf_dropout)(R *restrict x, const uint8_t *restrict keep, long E, long off, int nr,
                           long len, R scale) {
    for (int b = 0; b < nr; b++) {
        R *xb = x + (size_t)b * len;
        const uint8_t *kb = keep + (size_t)b * E + off;
        for (long i = 0; i < len; i++) xb[i] = FN(gl_drop)(xb[i], kb[i], scale);
    }
}

/* tf_zero_for_f32, tf_zero_for_f64: products that overwrite their result (beta
 * 0) accumulate onto zeros instead: OpenBLAS's own beta = 0 pass is slower than
 * memset (see fused.c). c: (M, N) with rows ldc apart. */
static R FN(tf_zero_for)(R *c, int ldc, int M, int N, R beta) {
    if (beta != 0) return beta;
    if (ldc == N)
        memset(c, 0, sizeof(R) * (size_t)M * N);
    else
        for (int i = 0; i < M; i++) memset(c + (size_t)i * ldc, 0, sizeof(R) * (size_t)N);
    return 1;
}

/* tf_mm_f32, tf_mm_f64: out (M, N) = alpha in (M, K) W^T + beta out; W: (N, K);
 * rows of in lda apart, rows of out ldo apart. */
static void FN(tf_mm)(R *out, int ldo, const R *in, int lda, const R *W, int M, int N, int K,
                      R alpha, R beta) {
    beta = FN(tf_zero_for)(out, ldo, M, N, beta);
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, alpha, in, lda, W, K, beta, out, ldo);
}
/* tf_mm_din_f32, tf_mm_din_f64: din (M, K) = alpha dout (M, N) W + beta din; W:
 * (N, K) */
static void FN(tf_mm_din)(R *din, int ldi, const R *dout, int ldo, const R *W, int M, int N,
                          int K, R alpha, R beta) {
    beta = FN(tf_zero_for)(din, ldi, M, K, beta);
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N, alpha, dout, ldo, W, K, beta, din,
         ldi);
}
/* tf_mm_dw_f32, tf_mm_dw_f64: dW (N, K) += alpha dout^T in; dout: (M, N),
 * in: (M, K) rows lda apart */
static void FN(tf_mm_dw)(R *dW, const R *dout, int ldo, const R *in, int lda, int M, int N, int K,
                         R alpha) {
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M, alpha, dout, ldo, in, lda, 1, dW, K);
}

/* tf_attention_forward_f32, tf_attention_forward_f64: multi-head attention
 * at the last Tq positions, no mask.
 * y (nr, Tq, d), att (nr, H, Tq, T) out; q (nr, Tq, d), kv (nr, T, 2d) in.
 * keep: attention-probability masks (row b at keep + b*E + off, (H, T, T))
 * or NULL; dscale = 1/(1 - drop_attn). */
static void FN(tf_attention_forward)(R *restrict y, R *restrict att, const R *restrict q,
                                     const R *restrict kv, const uint8_t *keep, long E, long off,
                                     R dscale, int nr, int Tq, int d, int H, R scale) {
    int dh = d / H;
    for (int b = 0; b < nr; b++)
        for (int i = 0; i < Tq; i++) {
            int t = GL_TF_T - Tq + i;
            const R *qi = q + ((size_t)b * Tq + i) * d;
            R *yi = y + ((size_t)b * Tq + i) * d;
            for (int h = 0; h < H; h++) {
                R *P = att + (((size_t)b * H + h) * Tq + i) * GL_TF_T;
                double sc[GL_TF_T], mx = -INFINITY, z = 0;
                for (int u = 0; u < GL_TF_T; u++) {
                    const R *ku = kv + ((size_t)b * GL_TF_T + u) * 2 * d + h * dh;
                    R dot = 0;
                    for (int k = 0; k < dh; k++) dot += qi[h * dh + k] * ku[k];
                    sc[u] = (double)(dot * scale);
                    if (sc[u] > mx) mx = sc[u];
                }
                for (int u = 0; u < GL_TF_T; u++) z += sc[u] = exp(sc[u] - mx);
                R Pd[GL_TF_T];
                for (int u = 0; u < GL_TF_T; u++) {
                    P[u] = (R)(sc[u] / z);
                    Pd[u] = keep ? FN(gl_drop)(P[u],
                                               keep[(size_t)b * E + off +
                                                    ((size_t)h * GL_TF_T + t) * GL_TF_T + u],
                                               dscale)
                                 : P[u];
                }
                for (int k = 0; k < dh; k++) {
                    R acc = 0;
                    for (int u = 0; u < GL_TF_T; u++)
                        acc += Pd[u] * kv[((size_t)b * GL_TF_T + u) * 2 * d + d + h * dh + k];
                    yi[h * dh + k] = acc;
                }
            }
        }
}

/* tf_attention_backward_f32, tf_attention_backward_f64: the backward of
 * tf_attention_forward: dq (nr, Tq, d) and dkv (nr, T, 2d)
 * overwritten from dy (nr, Tq, d). With P' the dropped probabilities:
 * dP' = dy v^T, dv += P'^T dy, dP = dropout(dP'), dS = P (dP - sum P dP),
 * dq = scale dS k, dk += scale dS^T q. */
static void FN(tf_attention_backward)(R *restrict dq, R *restrict dkv, const R *restrict dy,
                                      const R *restrict att, const R *restrict q,
                                      const R *restrict kv, const uint8_t *keep, long E, long off,
                                      R dscale, int nr, int Tq, int d, int H, R scale) {
    int dh = d / H;
    memset(dkv, 0, sizeof(R) * (size_t)nr * GL_TF_T * 2 * d);
    for (int b = 0; b < nr; b++)
        for (int i = 0; i < Tq; i++) {
            int t = GL_TF_T - Tq + i;
            const R *qi = q + ((size_t)b * Tq + i) * d, *gi = dy + ((size_t)b * Tq + i) * d;
            R *dqi = dq + ((size_t)b * Tq + i) * d;
            for (int h = 0; h < H; h++) {
                const R *P = att + (((size_t)b * H + h) * Tq + i) * GL_TF_T;
                R Pd[GL_TF_T], dP[GL_TF_T];
                double sum = 0;
                for (int u = 0; u < GL_TF_T; u++) {
                    const uint8_t kp =
                        keep ? keep[(size_t)b * E + off + ((size_t)h * GL_TF_T + t) * GL_TF_T + u]
                             : 1;
                    R ds = keep ? dscale : (R)1;
                    Pd[u] = FN(gl_drop)(P[u], kp, ds);
                    const R *vu = kv + ((size_t)b * GL_TF_T + u) * 2 * d + d + h * dh;
                    R *dvu = dkv + ((size_t)b * GL_TF_T + u) * 2 * d + d + h * dh;
                    R dot = 0;
                    for (int k = 0; k < dh; k++) {
                        dot += gi[h * dh + k] * vu[k];
                        dvu[k] += Pd[u] * gi[h * dh + k];
                    }
                    dP[u] = FN(gl_drop)(dot, kp, ds);
                    sum += (double)P[u] * dP[u];
                }
                for (int k = 0; k < dh; k++) dqi[h * dh + k] = 0;
                for (int u = 0; u < GL_TF_T; u++) {
                    R dS = (R)((double)P[u] * ((double)dP[u] - sum)) * scale;
                    const R *ku = kv + ((size_t)b * GL_TF_T + u) * 2 * d + h * dh;
                    R *dku = dkv + ((size_t)b * GL_TF_T + u) * 2 * d + h * dh;
                    for (int k = 0; k < dh; k++) {
                        dqi[h * dh + k] += dS * ku[k];
                        dku[k] += dS * qi[h * dh + k];
                    }
                }
            }
        }
}

/* tf_residual_f32, tf_residual_f64: out[i] += mu x[i] for M rows of d: rows
 * of out ldo apart, rows of x ldx apart (a strided view picks the last Tq
 * positions of a (nr, T, d) array). */
static void FN(tf_residual)(R *restrict out, int ldo, const R *restrict x, int ldx, int M, int d,
                            R mu) {
    for (int i = 0; i < M; i++) {
        R *o = out + (size_t)i * ldo;
        const R *xi = x + (size_t)i * ldx;
        for (int k = 0; k < d; k++) o[k] += mu * xi[k];
    }
}
