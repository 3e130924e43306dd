/* groklab: the Transformer's layers and its training and evaluation passes,
 * written once for a real type.
 *
 * Included by transformer_f32.c and transformer_f64.c with R (float |
 * double), S (f32 | f64) and GEMM (cblas_sgemm | cblas_dgemm) defined.
 * Shapes and the parameter layout: see groklab/transformer.h. Below, nr is
 * the number of examples of a chunk, T = 2 the positions, Tq the positions
 * a block computes after its keys and values (T, or 1 in the last block),
 * H heads of dh = d/H, F = the MLP width, E the mask bytes per example.
 *
 * A chunk of examples runs the whole forward and backward with its
 * activations in one thread's slot; every product is one single-threaded
 * BLAS call on the chunk. Threads work on lanes of chunks (transformer.h,
 * "Determinism"). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, S)
#define WORK CAT(gl_tf_work, S)

#ifndef GL_TF_IMPL_COMMON
#define GL_TF_IMPL_COMMON
/* Defaults of the chunking: TF_ROWS examples per chunk keep a slot's
 * activations (about 3k floats per example at d 128, one block) within a
 * 1 MiB L2; TF_LANES partial gradients (see transformer.h). */
enum { T = GL_TF_T, TF_ROWS = 64, TF_LANES = 4, TF_ALIGN = 16, TF_RED_BLOCK = 4096 };
static inline int tf_imin(int a, int b) { return a < b ? a : b; }
static inline size_t tf_round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

/* The chunks of a batch of B examples: about B / rows of them, rounded up
 * to a multiple of the lanes once there are more than lanes, so that every
 * lane gets as many; all of Rc examples but the last. Returns Rc; *nch =
 * the chunk count. */
static int tf_chunking(int B, int rows, int lanes, int *nch) {
    int c = (B + rows - 1) / rows;
    if (c > lanes) c = (c + lanes - 1) / lanes * lanes;
    int Rc = (B + c - 1) / c;
    *nch = (B + Rc - 1) / Rc;
    return Rc;
}
static size_t tf_max_chunks(int max_B, int rows, int lanes) {
    return (size_t)((max_B + rows - 1) / rows) + (size_t)lanes;
}

/* Mask offsets within one example's E bytes (transformer.h). */
static inline long tf_mask_block(const gl_tf_layout *L, int l) {
    long d = L->spec.d, H = L->spec.n_head;
    return T * d + (long)l * (H * T * T + 2 * T * d);
}
#endif

/* One block's activations in a slot. */
typedef struct FN(tf_acts) {
    R *x;            /* (nr, T, d) block input */
    R *a1;           /* (nr, T, d) LN1(x); == x without LayerNorm */
    R *mean1, *rstd1; /* (nr*T) */
    R *q;            /* (nr, Tq, d) queries */
    R *kv;           /* (nr, T, 2d) keys, then values */
    R *att;          /* (nr, H, Tq, T) softmax probabilities, before dropout */
    R *y;            /* (nr, Tq, d) attention output (heads concatenated) */
    R *xm;           /* (nr, Tq, d) after the attention residual */
    R *a2;           /* (nr, Tq, d) LN2(xm); == xm without LayerNorm */
    R *mean2, *rstd2; /* (nr*Tq) */
    R *f;            /* (nr, Tq, F) MLP pre-activation */
    R *g;            /* (nr, Tq, F) MLP activation */
} FN(tf_acts);

/* One thread's scratch for a chunk of at most `rows` examples. */
typedef struct FN(tf_slot) {
    FN(tf_acts) *blk;    /* (n_layer) */
    R *xL;               /* (nr, d) last block's output at position T-1 */
    R *xf;               /* (nr, d) LNf(xL); == xL without LayerNorm */
    R *meanf, *rstdf;    /* (nr) */
    R *logits;           /* (nr, p) logits, then dL/dlogits */
    R *dx[2];            /* (nr, T, d) gradients flowing down the blocks (ping-pong) */
    R *da, *dt, *dy, *dq; /* (nr, T, d) scratch gradients */
    R *dkv;              /* (nr, T, 2d) */
    R *dF;               /* (nr, T, F) */
    uint8_t *keep;       /* (nr, E) dropout masks, NULL without dropout */
} FN(tf_slot);

struct WORK {
    gl_tf_layout L;
    int rows, lanes, max_B;
    long E;          /* mask bytes per example */
    int dropout;     /* any dropout probability > 0 */
    size_t slot_elems, part_stride;
    R *scratch;      /* (lanes, slot_elems) */
    uint8_t *keep;   /* (lanes, rows, E), NULL without dropout */
    R *part;         /* (lanes, part_stride) partial gradients */
    double *loss_part; /* (max chunks) loss sums of the chunks */
    FN(tf_slot) *slots;  /* (lanes) */
    FN(tf_acts) *acts;   /* (lanes, n_layer) */
};

/* Carves a slot out of base (or only counts its elements when base is NULL).
 * Returns the slot's element count. Every array starts on 64 bytes. */
static R *FN(tf_take)(R *base, size_t *pos, size_t n) {
    R *p = base ? base + *pos : NULL;
    *pos += tf_round_up(n ? n : 1, TF_ALIGN);
    return p;
}
static size_t FN(tf_carve)(FN(tf_slot) *sl, FN(tf_acts) *blk, R *base, const gl_tf_layout *L,
                           int rows) {
    size_t pos = 0, nr = (size_t)rows, d = (size_t)L->spec.d, F = (size_t)L->d_ff;
    size_t H = (size_t)L->spec.n_head, p = (size_t)L->spec.p;
    int ln = L->spec.layernorm, nl = L->spec.n_layer;
#define TAKE(n) FN(tf_take)(base, &pos, (n))
    for (int l = 0; l < nl; l++) {
        size_t Tq = l == nl - 1 ? 1 : T;
        FN(tf_acts) a;
        a.x = TAKE(nr * T * d);
        a.a1 = ln ? TAKE(nr * T * d) : a.x;
        a.mean1 = ln ? TAKE(nr * T) : NULL;
        a.rstd1 = ln ? TAKE(nr * T) : NULL;
        a.q = TAKE(nr * Tq * d);
        a.kv = TAKE(nr * T * 2 * d);
        a.att = TAKE(nr * H * Tq * T);
        a.y = TAKE(nr * Tq * d);
        a.xm = TAKE(nr * Tq * d);
        a.a2 = ln ? TAKE(nr * Tq * d) : a.xm;
        a.mean2 = ln ? TAKE(nr * Tq) : NULL;
        a.rstd2 = ln ? TAKE(nr * Tq) : NULL;
        a.f = TAKE(nr * Tq * F);
        a.g = TAKE(nr * Tq * F);
        if (blk) blk[l] = a;
    }
    FN(tf_slot) s;
    s.blk = blk;
    s.xL = TAKE(nr * d);
    s.xf = ln ? TAKE(nr * d) : s.xL;
    s.meanf = ln ? TAKE(nr) : NULL;
    s.rstdf = ln ? TAKE(nr) : NULL;
    s.logits = TAKE(nr * p);
    s.dx[0] = TAKE(nr * T * d);
    s.dx[1] = TAKE(nr * T * d);
    s.da = TAKE(nr * T * d);
    s.dt = TAKE(nr * T * d);
    s.dy = TAKE(nr * T * d);
    s.dq = TAKE(nr * T * d);
    s.dkv = TAKE(nr * T * 2 * d);
    s.dF = TAKE(nr * T * F);
    s.keep = NULL;
#undef TAKE
    if (sl) *sl = s;
    return pos;
}

/* ---------------------------------------------------------------------------
 * Layers. Each is a plain function over the chunk's arrays. */

/* x (nr, T, d) = tok[m | n] + pos[t]. tok: (p, d), pos: (T, d), m, n: (nr) */
static void FN(tf_embed_forward)(R *restrict x, const int32_t *m, const int32_t *n,
                                 const R *restrict tok, const R *restrict pos, int nr, int d) {
    for (int b = 0; b < nr; b++) {
        const R *tk[T] = {tok + (size_t)m[b] * d, tok + (size_t)n[b] * d};
        for (int t = 0; t < T; t++) {
            R *xb = x + ((size_t)b * T + t) * d;
            for (int k = 0; k < d; k++) xb[k] = tk[t][k] + pos[(size_t)t * d + k];
        }
    }
}

/* dtok[m | n] += dx[b, t], dpos[t] += dx[b, t]. dx: (nr, T, d) */
static void FN(tf_embed_backward)(R *restrict dtok, R *restrict dpos, const R *restrict dx,
                                  const int32_t *m, const int32_t *n, int nr, int d) {
    for (int b = 0; b < nr; b++) {
        R *dt[T] = {dtok + (size_t)m[b] * d, dtok + (size_t)n[b] * d};
        for (int t = 0; t < T; t++) {
            const R *g = dx + ((size_t)b * T + t) * d;
            for (int k = 0; k < d; k++) {
                dt[t][k] += g[k];
                dpos[(size_t)t * d + k] += g[k];
            }
        }
    }
}

/* x (nr, len) *= keep ? scale : 0, keep: row b at keep + b*E + off. */
static void FN(tf_dropout)(R *restrict x, const uint8_t *restrict keep, long E, long off, int nr,
                           long len, R scale) {
    for (int b = 0; b < nr; b++) {
        R *xb = x + (size_t)b * len;
        const uint8_t *kb = keep + (size_t)b * E + off;
        for (long i = 0; i < len; i++) xb[i] = kb[i] ? xb[i] * scale : (R)0;
    }
}

/* Products that overwrite their result (beta 0) accumulate onto zeros
 * instead: OpenBLAS's own beta = 0 pass is slower than memset (see fused.c).
 * c: (M, N) with rows ldc apart. */
static R FN(tf_zero_for)(R *c, int ldc, int M, int N, R beta) {
    if (beta != 0) return beta;
    if (ldc == N)
        memset(c, 0, sizeof(R) * (size_t)M * N);
    else
        for (int i = 0; i < M; i++) memset(c + (size_t)i * ldc, 0, sizeof(R) * (size_t)N);
    return 1;
}

/* out (M, N) = alpha in (M, K) W^T + beta out; W: (N, K); rows of in lda
 * apart, rows of out ldo apart. */
static void FN(tf_mm)(R *out, int ldo, const R *in, int lda, const R *W, int M, int N, int K,
                      R alpha, R beta) {
    beta = FN(tf_zero_for)(out, ldo, M, N, beta);
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, alpha, in, lda, W, K, beta, out, ldo);
}
/* din (M, K) = alpha dout (M, N) W + beta din; W: (N, K) */
static void FN(tf_mm_din)(R *din, int ldi, const R *dout, int ldo, const R *W, int M, int N,
                          int K, R alpha, R beta) {
    beta = FN(tf_zero_for)(din, ldi, M, K, beta);
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N, alpha, dout, ldo, W, K, beta, din,
         ldi);
}
/* dW (N, K) += alpha dout^T in; dout: (M, N), in: (M, K) rows lda apart */
static void FN(tf_mm_dw)(R *dW, const R *dout, int ldo, const R *in, int lda, int M, int N, int K,
                         R alpha) {
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M, alpha, dout, ldo, in, lda, 1, dW, K);
}

/* Multi-head attention at the last Tq positions, no mask.
 * y (nr, Tq, d), att (nr, H, Tq, T) out; q (nr, Tq, d), kv (nr, T, 2d) in.
 * keep: attention-probability masks (row b at keep + b*E + off, (H, T, T))
 * or NULL; dscale = 1/(1 - drop_attn). */
static void FN(tf_attention_forward)(R *restrict y, R *restrict att, const R *restrict q,
                                     const R *restrict kv, const uint8_t *keep, long E, long off,
                                     R dscale, int nr, int Tq, int d, int H, R scale) {
    int dh = d / H;
    for (int b = 0; b < nr; b++)
        for (int i = 0; i < Tq; i++) {
            int t = T - Tq + i;
            const R *qi = q + ((size_t)b * Tq + i) * d;
            R *yi = y + ((size_t)b * Tq + i) * d;
            for (int h = 0; h < H; h++) {
                R *P = att + (((size_t)b * H + h) * Tq + i) * T;
                double sc[T], mx = -INFINITY, z = 0;
                for (int u = 0; u < T; u++) {
                    const R *ku = kv + ((size_t)b * T + u) * 2 * d + h * dh;
                    R dot = 0;
                    for (int k = 0; k < dh; k++) dot += qi[h * dh + k] * ku[k];
                    sc[u] = (double)(dot * scale);
                    if (sc[u] > mx) mx = sc[u];
                }
                for (int u = 0; u < T; u++) z += sc[u] = exp(sc[u] - mx);
                R Pd[T];
                for (int u = 0; u < T; u++) {
                    P[u] = (R)(sc[u] / z);
                    Pd[u] = P[u];
                    if (keep) Pd[u] = keep[(size_t)b * E + off + ((size_t)h * T + t) * T + u]
                                          ? P[u] * dscale
                                          : (R)0;
                }
                for (int k = 0; k < dh; k++) {
                    R acc = 0;
                    for (int u = 0; u < T; u++)
                        acc += Pd[u] * kv[((size_t)b * T + u) * 2 * d + d + h * dh + k];
                    yi[h * dh + k] = acc;
                }
            }
        }
}

/* Backward of tf_attention_forward: dq (nr, Tq, d) and dkv (nr, T, 2d)
 * overwritten from dy (nr, Tq, d). With P' the dropped probabilities:
 * dP' = dy v^T, dv += P'^T dy, dP = dropout(dP'), dS = P (dP - sum P dP),
 * dq = scale dS k, dk += scale dS^T q. */
static void FN(tf_attention_backward)(R *restrict dq, R *restrict dkv, const R *restrict dy,
                                      const R *restrict att, const R *restrict q,
                                      const R *restrict kv, const uint8_t *keep, long E, long off,
                                      R dscale, int nr, int Tq, int d, int H, R scale) {
    int dh = d / H;
    memset(dkv, 0, sizeof(R) * (size_t)nr * T * 2 * d);
    for (int b = 0; b < nr; b++)
        for (int i = 0; i < Tq; i++) {
            int t = T - Tq + i;
            const R *qi = q + ((size_t)b * Tq + i) * d, *gi = dy + ((size_t)b * Tq + i) * d;
            R *dqi = dq + ((size_t)b * Tq + i) * d;
            for (int h = 0; h < H; h++) {
                const R *P = att + (((size_t)b * H + h) * Tq + i) * T;
                R Pd[T], dP[T];
                double sum = 0;
                for (int u = 0; u < T; u++) {
                    const uint8_t kp =
                        keep ? keep[(size_t)b * E + off + ((size_t)h * T + t) * T + u] : 1;
                    R ds = keep ? dscale : (R)1;
                    Pd[u] = kp ? P[u] * ds : (R)0;
                    const R *vu = kv + ((size_t)b * T + u) * 2 * d + d + h * dh;
                    R *dvu = dkv + ((size_t)b * T + u) * 2 * d + d + h * dh;
                    R dot = 0;
                    for (int k = 0; k < dh; k++) {
                        dot += gi[h * dh + k] * vu[k];
                        dvu[k] += Pd[u] * gi[h * dh + k];
                    }
                    dP[u] = kp ? dot * ds : (R)0;
                    sum += (double)P[u] * dP[u];
                }
                for (int k = 0; k < dh; k++) dqi[h * dh + k] = 0;
                for (int u = 0; u < T; u++) {
                    R dS = (R)((double)P[u] * ((double)dP[u] - sum)) * scale;
                    const R *ku = kv + ((size_t)b * T + u) * 2 * d + h * dh;
                    R *dku = dkv + ((size_t)b * T + u) * 2 * d + h * dh;
                    for (int k = 0; k < dh; k++) {
                        dqi[h * dh + k] += dS * ku[k];
                        dku[k] += dS * qi[h * dh + k];
                    }
                }
            }
        }
}

/* out[i] += mu x[i] for M rows of d: rows of out ldo apart, rows of x ldx
 * apart (a strided view picks the last Tq positions of a (nr, T, d) array). */
static void FN(tf_residual)(R *restrict out, int ldo, const R *restrict x, int ldx, int M, int d,
                            R mu) {
    for (int i = 0; i < M; i++) {
        R *o = out + (size_t)i * ldo;
        const R *xi = x + (size_t)i * ldx;
        for (int k = 0; k < d; k++) o[k] += mu * xi[k];
    }
}

/* ---------------------------------------------------------------------------
 * The passes. */

/* What every chunk of one pass reads. */
typedef struct FN(tf_pass) {
    const gl_tf_layout *L;
    const R *P;                          /* params (n_params) */
    const int32_t *m, *n, *y, *id;       /* (B) */
    int B;                               /* the whole batch, for the mean loss */
    int train;                           /* dropout masks in use */
    long E;
    gl_loss loss;
    uint64_t seed;
    long step;
} FN(tf_pass);

/* Forward of examples r0..r0+nr-1 into the slot: every block's activations,
 * xL, xf and the logits (nr, p). */
static void FN(tf_forward_chunk)(const FN(tf_pass) *ps, const FN(tf_slot) *sl, int r0, int nr) {
    const gl_tf_layout *L = ps->L;
    const gl_tf_spec *sp = &L->spec;
    const R *P = ps->P;
    int d = sp->d, H = sp->n_head, F = L->d_ff, p = sp->p, nl = sp->n_layer;
    long E = ps->E;
    const uint8_t *keep = ps->train ? sl->keep : NULL;
    R mu = (R)sp->mu, ascale = (R)L->attn_scale;
    R se = (R)(1.0 / (1.0 - sp->drop_emb)), sa = (R)(1.0 / (1.0 - sp->drop_attn)),
      sr = (R)(1.0 / (1.0 - sp->drop_resid));

    if (keep)
        for (int b = 0; b < nr; b++)
            gl_tf_dropout_row(sl->keep + (size_t)b * E, L,
                              ps->id ? (uint64_t)ps->id[r0 + b] : (uint64_t)(r0 + b), ps->seed,
                              ps->step);

    FN(tf_embed_forward)(sl->blk[0].x, ps->m + r0, ps->n + r0, P + L->off_tok, P + L->off_pos, nr,
                         d);
    if (keep && sp->drop_emb > 0) FN(tf_dropout)(sl->blk[0].x, keep, E, 0, nr, (long)T * d, se);

    for (int l = 0; l < nl; l++) {
        const FN(tf_acts) *A = &sl->blk[l];
        gl_tf_block o = gl_tf_block_at(L, l);
        int Tq = l == nl - 1 ? 1 : T;
        int qoff = (T - Tq) * d, qlda = Tq == T ? d : T * d, M = nr * Tq;
        long mo = tf_mask_block(L, l);
        R *xn = l == nl - 1 ? sl->xL : sl->blk[l + 1].x;

        if (sp->layernorm)
            FN(gl_layernorm_forward)(A->a1, A->mean1, A->rstd1, A->x, P + o.ln1_w, P + o.ln1_b,
                                     nr * T, d, sp->ln_eps);
        FN(tf_mm)(A->q, d, A->a1 + qoff, qlda, P + o.qkv, M, d, d, 1, 0);
        FN(tf_mm)(A->kv, 2 * d, A->a1, d, P + o.qkv + (size_t)d * d, nr * T, 2 * d, d, 1, 0);
        FN(tf_attention_forward)(A->y, A->att, A->q, A->kv, keep && sp->drop_attn > 0 ? keep : NULL,
                                 E, mo, sa, nr, Tq, d, H, ascale);
        FN(tf_mm)(A->xm, d, A->y, d, P + o.proj, M, d, d, 1, 0);
        if (keep && sp->drop_resid > 0)
            FN(tf_dropout)(A->xm, keep, E, mo + (long)H * T * T + qoff, nr, (long)Tq * d, sr);
        FN(tf_residual)(A->xm, d, A->x + qoff, qlda, M, d, mu);

        if (sp->layernorm)
            FN(gl_layernorm_forward)(A->a2, A->mean2, A->rstd2, A->xm, P + o.ln2_w, P + o.ln2_b, M,
                                     d, sp->ln_eps);
        FN(tf_mm)(A->f, F, A->a2, d, P + o.fc, M, F, d, 1, 0);
        FN(gl_act_forward)(A->g, A->f, (long)M * F, sp->act);
        FN(tf_mm)(xn, d, A->g, F, P + o.fcproj, M, d, F, 1, 0);
        if (keep && sp->drop_resid > 0)
            FN(tf_dropout)(xn, keep, E, mo + (long)H * T * T + (long)T * d + qoff, nr,
                           (long)Tq * d, sr);
        FN(tf_residual)(xn, d, A->xm, d, M, d, mu);
    }

    if (sp->layernorm)
        FN(gl_layernorm_forward)(sl->xf, sl->meanf, sl->rstdf, sl->xL, P + L->off_lnf_w,
                                 P + L->off_lnf_b, nr, d, sp->ln_eps);
    FN(tf_mm)(sl->logits, p, sl->xf, d, P + L->off_head, nr, p, d, (R)L->out_scale, 0);
}

/* Loss and backward of the chunk just run forward; gradients accumulate into
 * G (n_params). Returns the chunk's loss sum (per-example means summed). */
static double FN(tf_backward_chunk)(const FN(tf_pass) *ps, const FN(tf_slot) *sl, int r0, int nr,
                                    R *G) {
    const gl_tf_layout *L = ps->L;
    const gl_tf_spec *sp = &L->spec;
    const R *P = ps->P;
    int d = sp->d, H = sp->n_head, F = L->d_ff, p = sp->p, nl = sp->n_layer;
    long E = ps->E;
    const uint8_t *keep = ps->train ? sl->keep : NULL;
    R mu = (R)sp->mu, ascale = (R)L->attn_scale;
    R se = (R)(1.0 / (1.0 - sp->drop_emb)), sa = (R)(1.0 / (1.0 - sp->drop_attn)),
      sr = (R)(1.0 / (1.0 - sp->drop_resid));

    /* the loss functions give the chunk's mean and its gradient; the factor
     * nr / B makes it the gradient of the whole batch's mean */
    R *dl = sl->logits;
    double mean = ps->loss == GL_LOSS_MSE ? FN(gl_mse_loss)(dl, dl, ps->y + r0, nr, p)
                                          : FN(gl_ce_loss)(dl, dl, ps->y + r0, nr, p);
    if (!isfinite(mean)) return mean;
    R alpha = (R)(L->out_scale * nr / ps->B);

    /* head and final LayerNorm */
    FN(tf_mm_dw)(G + L->off_head, dl, p, sl->xf, d, nr, p, d, alpha);
    R *dxo = sl->dx[0];
    FN(tf_mm_din)(dxo, d, dl, p, P + L->off_head, nr, p, d, alpha, 0);
    if (sp->layernorm)
        FN(gl_layernorm_backward)(dxo, G + L->off_lnf_w, G + L->off_lnf_b, dxo, sl->xL, sl->meanf,
                                  sl->rstdf, P + L->off_lnf_w, nr, d);

    for (int l = nl - 1; l >= 0; l--) {
        const FN(tf_acts) *A = &sl->blk[l];
        gl_tf_block o = gl_tf_block_at(L, l);
        int Tq = l == nl - 1 ? 1 : T;
        int qoff = (T - Tq) * d, qlda = Tq == T ? d : T * d, M = nr * Tq;
        long mo = tf_mask_block(L, l);
        R *dxi = dxo == sl->dx[0] ? sl->dx[1] : sl->dx[0];
        R *dxm = sl->da, *dt = sl->dt;

        /* MLP branch: xn = mu xm + drop(act(LN2(xm) Wfc^T) Wfcproj^T) */
        memcpy(dt, dxo, sizeof(R) * (size_t)M * d);
        if (keep && sp->drop_resid > 0)
            FN(tf_dropout)(dt, keep, E, mo + (long)H * T * T + (long)T * d + qoff, nr,
                           (long)Tq * d, sr);
        FN(tf_mm_dw)(G + o.fcproj, dt, d, A->g, F, M, d, F, 1);
        FN(tf_mm_din)(sl->dF, F, dt, d, P + o.fcproj, M, d, F, 1, 0);
        FN(gl_act_backward)(sl->dF, sl->dF, A->f, (long)M * F, sp->act);
        FN(tf_mm_dw)(G + o.fc, sl->dF, F, A->a2, d, M, F, d, 1);
        FN(tf_mm_din)(dxm, d, sl->dF, F, P + o.fc, M, F, d, 1, 0);
        if (sp->layernorm)
            FN(gl_layernorm_backward)(dxm, G + o.ln2_w, G + o.ln2_b, dxm, A->xm, A->mean2,
                                      A->rstd2, P + o.ln2_w, M, d);
        FN(tf_residual)(dxm, d, dxo, d, M, d, mu);

        /* attention branch: xm = mu x[T-Tq:] + drop(Attn(LN1(x)) Wproj^T) */
        memcpy(dt, dxm, sizeof(R) * (size_t)M * d);
        if (keep && sp->drop_resid > 0)
            FN(tf_dropout)(dt, keep, E, mo + (long)H * T * T + qoff, nr, (long)Tq * d, sr);
        FN(tf_mm_dw)(G + o.proj, dt, d, A->y, d, M, d, d, 1);
        FN(tf_mm_din)(sl->dy, d, dt, d, P + o.proj, M, d, d, 1, 0);
        FN(tf_attention_backward)(sl->dq, sl->dkv, sl->dy, A->att, A->q, A->kv,
                                  keep && sp->drop_attn > 0 ? keep : NULL, E, mo, sa, nr, Tq, d, H,
                                  ascale);
        FN(tf_mm_dw)(G + o.qkv, sl->dq, d, A->a1 + qoff, qlda, M, d, d, 1);
        FN(tf_mm_dw)(G + o.qkv + (size_t)d * d, sl->dkv, 2 * d, A->a1, d, nr * T, 2 * d, d, 1);
        FN(tf_mm_din)(dxi, d, sl->dkv, 2 * d, P + o.qkv + (size_t)d * d, nr * T, 2 * d, d, 1, 0);
        FN(tf_mm_din)(dxi + qoff, qlda, sl->dq, d, P + o.qkv, M, d, d, 1, 1);
        if (sp->layernorm)
            FN(gl_layernorm_backward)(dxi, G + o.ln1_w, G + o.ln1_b, dxi, A->x, A->mean1, A->rstd1,
                                      P + o.ln1_w, nr * T, d);
        /* the residual reaches the last Tq positions of x */
        FN(tf_residual)(dxi + qoff, qlda, dxm, d, M, d, mu);
        dxo = dxi;
    }

    if (keep && sp->drop_emb > 0) FN(tf_dropout)(dxo, keep, E, 0, nr, (long)T * d, se);
    FN(tf_embed_backward)(G + L->off_tok, G + L->off_pos, dxo, ps->m + r0, ps->n + r0, nr, d);
    return mean * nr;
}

/* ---------------------------------------------------------------------------
 * The public functions (transformer.h). */

void FN(gl_tf_init)(R *params, const gl_tf_layout *L, uint64_t seed) {
    int nt = gl_tf_tensor_count(L);
    for (int i = 0; i < nt; i++) {
        gl_tf_tensor t;
        gl_tf_tensor_at(L, i, &t);
        size_t len = (size_t)t.shape[0] * (size_t)t.shape[1];
        R *w = params + t.off;
        double std = t.init == GL_TF_INIT_LINEAR ? 1.0 / sqrt((double)t.shape[1]) : 1.0;
        for (size_t e = 0; e < len; e++) {
            switch (t.init) {
            case GL_TF_INIT_NORMAL:
            case GL_TF_INIT_LINEAR:
                w[e] = (R)(std * gl_normal(seed, GL_STREAM_INIT, e, t.id));
                break;
            case GL_TF_INIT_ONE:
                w[e] = 1;
                break;
            case GL_TF_INIT_ZERO:
                w[e] = 0;
                break;
            }
        }
    }
}

static size_t FN(tf_part_stride)(const gl_tf_layout *L) {
    return tf_round_up(L->n_params, TF_ALIGN);
}

static void *FN(tf_alloc64)(size_t bytes) {
    return aligned_alloc(64, tf_round_up(bytes ? bytes : 64, 64));
}

void FN(gl_tf_work_free)(WORK *w) {
    if (!w) return;
    free(w->scratch);
    free(w->keep);
    free(w->part);
    free(w->loss_part);
    free(w->slots);
    free(w->acts);
    free(w);
}

int FN(gl_tf_work_new)(WORK **out, const gl_tf_layout *L, int max_B, int rows, int lanes,
                       gl_error *err) {
    *out = NULL;
    if (max_B < 1) return gl_fail(err, "transformer work: batch size %d must be positive", max_B);
    if (rows <= 0) rows = TF_ROWS;
    if (lanes <= 0) lanes = TF_LANES;
    WORK *w = calloc(1, sizeof *w);
    if (!w) return gl_fail(err, "transformer work: out of memory");
    w->L = *L;
    w->rows = rows;
    w->lanes = lanes;
    w->max_B = max_B;
    w->E = gl_tf_mask_len(L);
    w->dropout = L->spec.drop_emb > 0 || L->spec.drop_attn > 0 || L->spec.drop_resid > 0;
    w->slot_elems = FN(tf_carve)(NULL, NULL, NULL, L, rows);
    w->part_stride = FN(tf_part_stride)(L);
    w->scratch = FN(tf_alloc64)(sizeof(R) * w->slot_elems * (size_t)lanes);
    w->part = FN(tf_alloc64)(sizeof(R) * w->part_stride * (size_t)lanes);
    w->loss_part = malloc(sizeof(double) * tf_max_chunks(max_B, rows, lanes));
    w->slots = malloc(sizeof *w->slots * (size_t)lanes);
    w->acts = malloc(sizeof *w->acts * (size_t)lanes * (size_t)L->spec.n_layer);
    w->keep = w->dropout ? FN(tf_alloc64)((size_t)lanes * (size_t)rows * (size_t)w->E) : NULL;
    if (!w->scratch || !w->part || !w->loss_part || !w->slots || !w->acts ||
        (w->dropout && !w->keep)) {
        FN(gl_tf_work_free)(w);
        return gl_fail(err, "transformer work: out of memory (%.0f MB)",
                       gl_tf_work_bytes(L, max_B, rows, lanes) / 1e6 * (double)sizeof(R) / 4);
    }
    for (int i = 0; i < lanes; i++) {
        FN(tf_slot) *sl = &w->slots[i];
        FN(tf_carve)(sl, w->acts + (size_t)i * L->spec.n_layer, w->scratch + (size_t)i * w->slot_elems,
                     L, rows);
        sl->keep = w->keep ? w->keep + (size_t)i * rows * (size_t)w->E : NULL;
    }
    gl_blas_init(); /* products are chunked here; the BLAS itself runs on one thread */
    *out = w;
    return 0;
}

int FN(gl_tf_loss_grad)(WORK *w, double *loss, R *G, const R *P, gl_loss loss_kind, uint64_t seed,
                        long step, const gl_batch *bt, gl_error *err) {
    const gl_tf_layout *L = &w->L;
    int B = bt->B;
    if (B < 1 || B > w->max_B)
        return gl_fail(err, "transformer: batch of %d examples (the work holds 1 to %d)", B,
                       w->max_B);
    FN(tf_pass) ps = {
        .L = L, .P = P, .m = bt->m, .n = bt->n, .y = bt->y, .id = bt->id, .B = B,
        .train = w->dropout, .E = w->E, .loss = loss_kind, .seed = seed, .step = step,
    };
    int nch, Rc = tf_chunking(B, w->rows, w->lanes, &nch);
    int lanes = w->lanes, used = tf_imin(lanes, nch);
    int nt = tf_imin(omp_get_max_threads(), used);
    size_t np = L->n_params, stride = w->part_stride;

#pragma omp parallel num_threads(nt)
    {
        const FN(tf_slot) *sl = &w->slots[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
        for (int lane = 0; lane < used; lane++) {
            R *gp = w->part + (size_t)lane * stride;
            memset(gp, 0, np * sizeof(R));
            for (int ch = lane; ch < nch; ch += lanes) {
                int r0 = ch * Rc, nr = tf_imin(Rc, B - r0);
                FN(tf_forward_chunk)(&ps, sl, r0, nr);
                w->loss_part[ch] = FN(tf_backward_chunk)(&ps, sl, r0, nr, gp);
            }
        }
        /* G = the lanes' partials, summed in lane order */
#pragma omp for schedule(static)
        for (size_t i0 = 0; i0 < np; i0 += TF_RED_BLOCK) {
            size_t len = np - i0 < TF_RED_BLOCK ? np - i0 : TF_RED_BLOCK;
            R *restrict g = G + i0;
            memcpy(g, w->part + i0, len * sizeof(R));
            for (int l = 1; l < used; l++) {
                const R *restrict q = w->part + (size_t)l * stride + i0;
                for (size_t i = 0; i < len; i++) g[i] += q[i];
            }
        }
    }
    double s = 0;
    for (int ch = 0; ch < nch; ch++) s += w->loss_part[ch];
    *loss = s / B;
    return 0;
}

void FN(gl_tf_logits)(WORK *w, R *logits, const R *P, const int32_t *m, const int32_t *n, int B) {
    const gl_tf_layout *L = &w->L;
    if (B <= 0) return;
    FN(tf_pass) ps = {.L = L, .P = P, .m = m, .n = n, .B = B, .train = 0, .E = w->E};
    int rows = w->rows, nch = (B + rows - 1) / rows, p = L->spec.p;
    int nt = tf_imin(omp_get_max_threads(), tf_imin(w->lanes, nch));
#pragma omp parallel num_threads(nt)
    {
        const FN(tf_slot) *sl = &w->slots[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
        for (int ch = 0; ch < nch; ch++) {
            int r0 = ch * rows, nr = tf_imin(rows, B - r0);
            FN(tf_forward_chunk)(&ps, sl, r0, nr);
            memcpy(logits + (size_t)r0 * p, sl->logits, sizeof(R) * (size_t)nr * p);
        }
    }
}

#undef WORK
#undef FN
#undef CAT
#undef CAT_
