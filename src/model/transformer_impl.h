/* groklab: the Transformer's training and evaluation passes, written once
 * for a real type.
 *
 * Included by transformer_f32.c and transformer_f64.c after model/ops.h and
 * transformer_parts.h (what does not depend on the precision), with R
 * (float | double), S (f32 | f64) and GEMM (cblas_sgemm | cblas_dgemm)
 * defined; its layers are in transformer_layers.h, included here. Every
 * name below ends in _f32 or _f64, and all of these macros are undefined at
 * the end. Shapes and the parameter layout: see groklab/transformer.h.
 * Below, nr is the number of examples of a chunk, T = GL_TF_T = 2 the
 * positions, Tq the positions a block computes after its keys and values
 * (T, or 1 in the last block), H heads of dh = d/H, F = the MLP width, E
 * the mask bytes per example.
 *
 * A chunk of examples runs the whole forward and backward with its
 * activations in one thread's slot; every product is one single-threaded
 * BLAS call on the chunk. Threads work on lanes of chunks (transformer.h,
 * "Determinism"; the chunking and the lanes' sum: model/ops.h). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "model/template.h"
#define WORK CAT(gl_tf_work, S)

#include "transformer_layers.h"

/* tf_acts_f32, tf_acts_f64: one block's activations in a slot. */
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

/* tf_slot_f32, tf_slot_f64: one thread's scratch for a chunk of at most `rows`
 * examples. */
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

/* gl_tf_work_f32, gl_tf_work_f64 */
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

/* tf_take_f32, tf_take_f64, tf_carve_f32, tf_carve_f64: carve a slot out
 * of base (or only count its elements when base is NULL). Returns the
 * slot's element count. Every array starts on a multiple of GL_ALIGN
 * elements. */
static R *FN(tf_take)(R *base, size_t *pos, size_t n) {
    R *p = base ? base + *pos : NULL;
    *pos += gl_round_up(n ? n : 1, GL_ALIGN);
    return p;
}
static size_t FN(tf_carve)(FN(tf_slot) *sl, FN(tf_acts) *blk, R *base, const gl_tf_layout *L,
                           int rows) {
    size_t pos = 0, nr = (size_t)rows, d = (size_t)L->spec.d, F = (size_t)L->d_ff;
    size_t H = (size_t)L->spec.n_head, p = (size_t)L->spec.p;
    int ln = L->spec.layernorm, nl = L->spec.n_layer;
#define TAKE(n) FN(tf_take)(base, &pos, (n))
    for (int l = 0; l < nl; l++) {
        size_t Tq = l == nl - 1 ? 1 : GL_TF_T;
        FN(tf_acts) a;
        a.x = TAKE(nr * GL_TF_T * d);
        a.a1 = ln ? TAKE(nr * GL_TF_T * d) : a.x;
        a.mean1 = ln ? TAKE(nr * GL_TF_T) : NULL;
        a.rstd1 = ln ? TAKE(nr * GL_TF_T) : NULL;
        a.q = TAKE(nr * Tq * d);
        a.kv = TAKE(nr * GL_TF_T * 2 * d);
        a.att = TAKE(nr * H * Tq * GL_TF_T);
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
    s.dx[0] = TAKE(nr * GL_TF_T * d);
    s.dx[1] = TAKE(nr * GL_TF_T * d);
    s.da = TAKE(nr * GL_TF_T * d);
    s.dt = TAKE(nr * GL_TF_T * d);
    s.dy = TAKE(nr * GL_TF_T * d);
    s.dq = TAKE(nr * GL_TF_T * d);
    s.dkv = TAKE(nr * GL_TF_T * 2 * d);
    s.dF = TAKE(nr * GL_TF_T * F);
    s.keep = NULL;
#undef TAKE
    if (sl) *sl = s;
    return pos;
}
/* ---------------------------------------------------------------------------
 * The passes. */

/* tf_pass_f32, tf_pass_f64: what every chunk of one pass reads. */
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

/* tf_forward_chunk_f32, tf_forward_chunk_f64: forward of examples
 * r0..r0+nr-1 into the slot: every block's activations,
 * xL, xf and the logits (nr, p). */
static void FN(tf_forward_chunk)(const FN(tf_pass) *ps, const FN(tf_slot) *sl, int r0, int nr) {
    const gl_tf_layout *L = ps->L;
    const gl_tf_spec *sp = &L->spec;
    const R *P = ps->P;
    int d = sp->d, H = sp->n_head, F = L->d_ff, p = sp->p, nl = sp->n_layer;
    long E = ps->E;
    const uint8_t *keep = ps->train ? sl->keep : NULL;
    R mu = (R)sp->mu, ascale = (R)L->attn_scale;
    R se = (R)gl_dropout_scale(sp->drop_emb), sa = (R)gl_dropout_scale(sp->drop_attn),
      sr = (R)gl_dropout_scale(sp->drop_resid);

    if (keep)
        for (int b = 0; b < nr; b++)
            gl_tf_dropout_row(sl->keep + (size_t)b * E, L,
                              ps->id ? (uint64_t)ps->id[r0 + b] : (uint64_t)(r0 + b), ps->seed,
                              ps->step);

    FN(tf_embed_forward)(sl->blk[0].x, ps->m + r0, ps->n + r0, P + L->off_tok, P + L->off_pos, nr,
                         d);
    if (keep && sp->drop_emb > 0)
        FN(tf_dropout)(sl->blk[0].x, keep, E, 0, nr, (long)GL_TF_T * d, se);

    for (int l = 0; l < nl; l++) {
        const FN(tf_acts) *A = &sl->blk[l];
        gl_tf_block o = gl_tf_block_at(L, l);
        int Tq = l == nl - 1 ? 1 : GL_TF_T;
        int qoff = (GL_TF_T - Tq) * d, qlda = Tq == GL_TF_T ? d : GL_TF_T * d, M = nr * Tq;
        long mo = gl_tf_mask_block(L, l);
        R *xn = l == nl - 1 ? sl->xL : sl->blk[l + 1].x;

        if (sp->layernorm)
            FN(gl_layernorm_forward)(A->a1, A->mean1, A->rstd1, A->x, P + o.ln1_w, P + o.ln1_b,
                                     nr * GL_TF_T, d, sp->ln_eps);
        FN(tf_mm)(A->q, d, A->a1 + qoff, qlda, P + o.qkv, M, d, d, 1, 0);
        FN(tf_mm)(A->kv, 2 * d, A->a1, d, P + o.qkv + (size_t)d * d, nr * GL_TF_T, 2 * d, d, 1, 0);
        FN(tf_attention_forward)(A->y, A->att, A->q, A->kv, keep && sp->drop_attn > 0 ? keep : NULL,
                                 E, mo, sa, nr, Tq, d, H, ascale);
        FN(tf_mm)(A->xm, d, A->y, d, P + o.proj, M, d, d, 1, 0);
        if (keep && sp->drop_resid > 0)
            FN(tf_dropout)
            (A->xm, keep, E, mo + (long)H * GL_TF_T * GL_TF_T + qoff, nr, (long)Tq * d, sr);
        FN(tf_residual)(A->xm, d, A->x + qoff, qlda, M, d, mu);

        if (sp->layernorm)
            FN(gl_layernorm_forward)(A->a2, A->mean2, A->rstd2, A->xm, P + o.ln2_w, P + o.ln2_b, M,
                                     d, sp->ln_eps);
        FN(tf_mm)(A->f, F, A->a2, d, P + o.fc, M, F, d, 1, 0);
        FN(gl_act_forward)(A->g, A->f, (long)M * F, sp->act);
        FN(tf_mm)(xn, d, A->g, F, P + o.fcproj, M, d, F, 1, 0);
        if (keep && sp->drop_resid > 0)
            FN(tf_dropout)
            (xn, keep, E, mo + (long)H * GL_TF_T * GL_TF_T + (long)GL_TF_T * d + qoff, nr,
             (long)Tq * d, sr);
        FN(tf_residual)(xn, d, A->xm, d, M, d, mu);
    }

    if (sp->layernorm)
        FN(gl_layernorm_forward)(sl->xf, sl->meanf, sl->rstdf, sl->xL, P + L->off_lnf_w,
                                 P + L->off_lnf_b, nr, d, sp->ln_eps);
    FN(tf_mm)(sl->logits, p, sl->xf, d, P + L->off_head, nr, p, d, (R)L->out_scale, 0);
}

/* tf_backward_chunk_f32, tf_backward_chunk_f64: loss and backward of the
 * chunk just run forward; gradients accumulate into
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
    R se = (R)gl_dropout_scale(sp->drop_emb), sa = (R)gl_dropout_scale(sp->drop_attn),
      sr = (R)gl_dropout_scale(sp->drop_resid);

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
        int Tq = l == nl - 1 ? 1 : GL_TF_T;
        int qoff = (GL_TF_T - Tq) * d, qlda = Tq == GL_TF_T ? d : GL_TF_T * d, M = nr * Tq;
        long mo = gl_tf_mask_block(L, l);
        R *dxi = dxo == sl->dx[0] ? sl->dx[1] : sl->dx[0];
        R *dxm = sl->da, *dt = sl->dt;

        /* MLP branch: xn = mu xm + drop(act(LN2(xm) Wfc^T) Wfcproj^T) */
        memcpy(dt, dxo, sizeof(R) * (size_t)M * d);
        if (keep && sp->drop_resid > 0)
            FN(tf_dropout)
            (dt, keep, E, mo + (long)H * GL_TF_T * GL_TF_T + (long)GL_TF_T * d + qoff, nr,
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
            FN(tf_dropout)
            (dt, keep, E, mo + (long)H * GL_TF_T * GL_TF_T + qoff, nr, (long)Tq * d, sr);
        FN(tf_mm_dw)(G + o.proj, dt, d, A->y, d, M, d, d, 1);
        FN(tf_mm_din)(sl->dy, d, dt, d, P + o.proj, M, d, d, 1, 0);
        FN(tf_attention_backward)(sl->dq, sl->dkv, sl->dy, A->att, A->q, A->kv,
                                  keep && sp->drop_attn > 0 ? keep : NULL, E, mo, sa, nr, Tq, d, H,
                                  ascale);
        FN(tf_mm_dw)(G + o.qkv, sl->dq, d, A->a1 + qoff, qlda, M, d, d, 1);
        FN(tf_mm_dw)
        (G + o.qkv + (size_t)d * d, sl->dkv, 2 * d, A->a1, d, nr * GL_TF_T, 2 * d, d, 1);
        FN(tf_mm_din)
        (dxi, d, sl->dkv, 2 * d, P + o.qkv + (size_t)d * d, nr * GL_TF_T, 2 * d, d, 1, 0);
        FN(tf_mm_din)(dxi + qoff, qlda, sl->dq, d, P + o.qkv, M, d, d, 1, 1);
        if (sp->layernorm)
            FN(gl_layernorm_backward)(dxi, G + o.ln1_w, G + o.ln1_b, dxi, A->x, A->mean1, A->rstd1,
                                      P + o.ln1_w, nr * GL_TF_T, d);
        /* the residual reaches the last Tq positions of x */
        FN(tf_residual)(dxi + qoff, qlda, dxm, d, M, d, mu);
        dxo = dxi;
    }

    if (keep && sp->drop_emb > 0) FN(tf_dropout)(dxo, keep, E, 0, nr, (long)GL_TF_T * d, se);
    FN(tf_embed_backward)(G + L->off_tok, G + L->off_pos, dxo, ps->m + r0, ps->n + r0, nr, d);
    return mean * nr;
}

/* ---------------------------------------------------------------------------
 * The public functions (transformer.h). */

/* gl_tf_init_f32, gl_tf_init_f64 */
void FN(gl_tf_init)(R *params, const gl_tf_layout *L, uint64_t seed) {
    int nt = gl_tf_tensor_count(L);
    for (int i = 0; i < nt; i++) {
        gl_tf_tensor t;
        gl_tf_tensor_at(L, i, &t);
        size_t len = (size_t)t.shape[0] * (size_t)t.shape[1];
        R *w = params + t.off;
        double std = t.init == GL_TF_INIT_LINEAR ? 1.0 / sqrt((double)t.shape[1]) : 1.0;
        if (t.init == GL_TF_INIT_NORMAL || t.init == GL_TF_INIT_LINEAR)
            FN(gl_init_normal)(w, (int)t.shape[0], (int)t.shape[1], 0, std, seed, t.id);
        else
            for (size_t e = 0; e < len; e++) w[e] = t.init == GL_TF_INIT_ONE ? 1 : 0;
    }
}

/* gl_tf_work_free_f32, gl_tf_work_free_f64 */
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

/* gl_tf_work_new_f32, gl_tf_work_new_f64 */
int FN(gl_tf_work_new)(WORK **out, const gl_tf_layout *L, int max_B, int rows, int lanes,
                       gl_error *err) {
    *out = NULL;
    if (max_B < 1) return gl_fail(err, "transformer work: batch size %d must be positive", max_B);
    gl_tf_pick_shape(&rows, &lanes);
    WORK *w = calloc(1, sizeof *w);
    if (!w) return gl_fail(err, "transformer work: out of memory");
    w->L = *L;
    w->rows = rows;
    w->lanes = lanes;
    w->max_B = max_B;
    w->E = gl_tf_mask_len(L);
    w->dropout = L->spec.drop_emb > 0 || L->spec.drop_attn > 0 || L->spec.drop_resid > 0;
    w->slot_elems = FN(tf_carve)(NULL, NULL, NULL, L, rows);
    w->part_stride = gl_round_up(L->n_params, GL_ALIGN);
    w->scratch = gl_tf_alloc64(sizeof(R) * w->slot_elems * (size_t)lanes);
    w->part = gl_tf_alloc64(sizeof(R) * w->part_stride * (size_t)lanes);
    w->loss_part = malloc(sizeof(double) * gl_max_chunks(max_B, rows, lanes));
    w->slots = malloc(sizeof *w->slots * (size_t)lanes);
    w->acts = malloc(sizeof *w->acts * (size_t)lanes * (size_t)L->spec.n_layer);
    w->keep = w->dropout ? gl_tf_alloc64((size_t)lanes * (size_t)rows * (size_t)w->E) : NULL;
    if (!w->scratch || !w->part || !w->loss_part || !w->slots || !w->acts ||
        (w->dropout && !w->keep)) {
        FN(gl_tf_work_free)(w);
        return gl_fail(err, "transformer work: out of memory (%.0f MB)",
                       gl_tf_work_bytes(L, max_B, rows, lanes) / 1e6 * (double)sizeof(R) / 4);
    }
    for (int i = 0; i < lanes; i++) {
        FN(tf_slot) *sl = &w->slots[i];
        FN(tf_carve)
        (sl, w->acts + (size_t)i * L->spec.n_layer, w->scratch + (size_t)i * w->slot_elems, L,
         rows);
        sl->keep = w->keep ? w->keep + (size_t)i * rows * (size_t)w->E : NULL;
    }
    gl_blas_init(); /* products are chunked here; the BLAS itself runs on one thread */
    *out = w;
    return 0;
}

/* gl_tf_loss_grad_f32, gl_tf_loss_grad_f64 */
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
    int nch, Rc = gl_chunking(B, w->rows, w->lanes, &nch);
    int lanes = w->lanes, used = gl_imin(lanes, nch);
    int nt = gl_imin(omp_get_max_threads(), used);
    size_t np = L->n_params, stride = w->part_stride;

#pragma omp parallel num_threads(nt)
    {
        const FN(tf_slot) *sl = &w->slots[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
        for (int lane = 0; lane < used; lane++) {
            R *gp = w->part + (size_t)lane * stride;
            memset(gp, 0, np * sizeof(R));
            for (int ch = lane; ch < nch; ch += lanes) {
                int r0 = ch * Rc, nr = gl_imin(Rc, B - r0);
                FN(tf_forward_chunk)(&ps, sl, r0, nr);
                w->loss_part[ch] = FN(tf_backward_chunk)(&ps, sl, r0, nr, gp);
            }
        }
        /* G = the lanes' partials, summed in lane order */
#pragma omp for schedule(static)
        for (size_t i0 = 0; i0 < np; i0 += GL_RED_BLOCK)
            FN(gl_lanes_sum)(G + i0, w->part + i0, stride, used,
                             np - i0 < GL_RED_BLOCK ? np - i0 : GL_RED_BLOCK);
    }
    double s = 0;
    for (int ch = 0; ch < nch; ch++) s += w->loss_part[ch];
    *loss = s / B;
    return 0;
}

/* gl_tf_logits_f32, gl_tf_logits_f64 */
void FN(gl_tf_logits)(WORK *w, R *logits, const R *P, const int32_t *m, const int32_t *n, int B) {
    const gl_tf_layout *L = &w->L;
    if (B <= 0) return;
    FN(tf_pass) ps = {.L = L, .P = P, .m = m, .n = n, .B = B, .train = 0, .E = w->E};
    int rows = w->rows, nch = (B + rows - 1) / rows, p = L->spec.p;
    int nt = gl_imin(omp_get_max_threads(), gl_imin(w->lanes, nch));
#pragma omp parallel num_threads(nt)
    {
        const FN(tf_slot) *sl = &w->slots[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
        for (int ch = 0; ch < nch; ch++) {
            int r0 = ch * rows, nr = gl_imin(rows, B - r0);
            FN(tf_forward_chunk)(&ps, sl, r0, nr);
            memcpy(logits + (size_t)r0 * p, sl->logits, sizeof(R) * (size_t)nr * p);
        }
    }
}

#undef WORK
#undef GEMM
#include "model/template_end.h"
