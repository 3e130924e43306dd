/* groklab: the deep MLP's training and evaluation passes, written once for a
 * real type.
 *
 * Included by deep_f32.c and deep_f64.c after model/ops.h and deep_work.h
 * (the carving of the work and the dropout masks, which do not depend on
 * the precision), with R (float | double) and S (f32 | f64) defined; every
 * name below ends in _f32 or _f64, and all of these macros are undefined at
 * the end. The passes run layer by layer over whole-batch arrays and every
 * step is one of the two-layer MLP's layers (model.h), so the results do not
 * depend on the thread count (mlp_impl.h says why). Shapes and the parameter
 * layout: see groklab/deep.h. Below, Hn = depth - 1 is the number of hidden
 * layers, l = 1..Hn a hidden layer, and a (B, N) array of layer l lives at
 * offset (l-1) * max_B * N of its buffer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/template.h"
#define WORK CAT(gl_deep_work, S)

/* gl_deep_work_f32, gl_deep_work_f64 */
struct WORK {
    gl_deep_layout L;
    int max_B;
    gl_deep_carve c;
    R *buf;        /* c.total reals */
    uint8_t *keep; /* (Hn, max_B, N) dropout masks, NULL without dropout */
};

/* ---------------------------------------------------------------------------
 * The forward pass, shared by training and evaluation. */

/* deep_forward_f32, deep_forward_f64: forward over B <= max_B examples (m, n:
 * (B)) into out (B, p). Training (train = 1): dropout with w->keep when prob
 * > 0, BatchNorm with the batch statistics (kept in the work for the backward
 * pass). Evaluation: no dropout, BatchNorm with run_mean/run_var ((Hn, N)
 * each). Every layer's h, a and z stay in the work. */
static void FN(deep_forward)(WORK *w, R *out, const R *P, const int32_t *m, const int32_t *n,
                             int B, int train, double prob, const R *run_mean, const R *run_var,
                             double eps) {
    const gl_deep_layout *L = &w->L;
    const gl_deep_carve *c = &w->c;
    int N = L->N, Hn = L->depth - 1;
    long BN = (long)B * N;
    size_t lstride = (size_t)w->max_B * N;

    FN(gl_embed_forward)(w->buf + c->h, m, n, P + L->off_u, P + L->off_v, B, N);
    for (int l = 1; l <= Hn; l++) {
        size_t lo = (size_t)(l - 1) * lstride, so = (size_t)(l - 1) * c->stat_stride;
        R *h = w->buf + c->h + lo, *a = w->buf + c->a + lo, *z = w->buf + c->z + lo;
        R *mean = w->buf + c->mean + so, *stat = w->buf + c->stat + so;
        const R *gamma = P + L->off_gamma + (size_t)(l - 1) * N;
        const R *beta = P + L->off_beta + (size_t)(l - 1) * N;

        FN(gl_act_forward)(a, h, BN, L->act);
        if (train && prob > 0)
            FN(gl_dropout_apply)(a, w->keep + (size_t)(l - 1) * BN, prob, BN);
        if (L->norm == GL_NORM_BATCHNORM) {
            if (train)
                FN(gl_batchnorm_forward)(z, mean, stat, a, gamma, beta, B, N, eps);
            else
                FN(gl_batchnorm_eval)(z, a, gamma, beta, run_mean + (size_t)(l - 1) * N,
                                      run_var + (size_t)(l - 1) * N, B, N, eps);
        } else if (L->norm == GL_NORM_LAYERNORM) {
            FN(gl_layernorm_forward)(z, mean, stat, a, gamma, beta, B, N, eps);
        }
        if (l < Hn)
            FN(gl_linear_forward)(h + lstride, z, P + L->off_hidden + (size_t)(l - 1) * N * N, B,
                                  N, N);
        else
            FN(gl_linear_forward)(out, z, P + L->off_w, B, N, L->p);
    }
}

/* ---------------------------------------------------------------------------
 * The public functions (deep.h). */

/* gl_deep_init_f32, gl_deep_init_f64 */
void FN(gl_deep_init)(R *params, const gl_deep_layout *L, uint64_t seed) {
    int p = L->p, N = L->N, depth = L->depth;
    /* tensor t: its offset, its (out, in) shape, whether stored transposed,
     * its id */
    for (int t = 0; t < depth + 1; t++) {
        size_t off;
        int rows, cols, transposed = 0, layer;
        uint32_t id;
        if (t < 2) { /* U, V: (N, p), stored as (p, N) */
            off = t == 0 ? L->off_u : L->off_v;
            rows = N;
            cols = p;
            transposed = 1;
            layer = 1;
            id = (uint32_t)t;
        } else if (t == depth) { /* W: (p, N) */
            off = L->off_w;
            rows = p;
            cols = N;
            layer = depth;
            id = 2;
        } else { /* H_l, l = t - 1: (N, N) */
            off = L->off_hidden + (size_t)(t - 2) * N * N;
            rows = N;
            cols = N;
            layer = t;
            id = 48 + (uint32_t)(t - 1);
        }
        FN(gl_init_normal)(params + off, rows, cols, transposed, gl_deep_init_std(L, layer), seed,
                           id);
    }
    size_t Hn = (size_t)depth - 1;
    if (L->norm != GL_NORM_NONE) {
        for (size_t k = 0; k < Hn * N; k++) params[L->off_gamma + k] = 1;
        memset(params + L->off_beta, 0, sizeof(R) * Hn * N);
    }
}

/* gl_deep_work_free_f32, gl_deep_work_free_f64 */
void FN(gl_deep_work_free)(WORK *w) {
    if (!w) return;
    free(w->buf);
    free(w->keep);
    free(w);
}

/* gl_deep_work_new_f32, gl_deep_work_new_f64 */
int FN(gl_deep_work_new)(WORK **out, const gl_deep_layout *L, int max_B, int dropout,
                         gl_error *err) {
    *out = NULL;
    if (max_B < 1) return gl_fail(err, "deep mlp work: batch size %d must be positive", max_B);
    WORK *w = calloc(1, sizeof *w);
    if (!w) return gl_fail(err, "deep mlp work: out of memory");
    w->L = *L;
    w->max_B = max_B;
    gl_deep_carve_init(&w->c, L, max_B);
    w->buf = malloc(sizeof(R) * w->c.total);
    if (dropout) w->keep = malloc((size_t)(L->depth - 1) * (size_t)max_B * (size_t)L->N);
    if (!w->buf || (dropout && !w->keep)) {
        FN(gl_deep_work_free)(w);
        return gl_fail(err, "deep mlp work: out of memory (%.0f MB)",
                       gl_deep_work_bytes(L, max_B, dropout) / 1e6 * (double)sizeof(R) / 4);
    }
    gl_blas_init(); /* products are chunked by the layers; the BLAS runs on one thread */
    *out = w;
    return 0;
}

/* gl_deep_loss_grad_f32, gl_deep_loss_grad_f64 */
int FN(gl_deep_loss_grad)(WORK *w, double *loss, R *G, const R *P, const gl_deep_opts *o,
                          const gl_batch *bt, R *run_mean, R *run_var, gl_error *err) {
    const gl_deep_layout *L = &w->L;
    const gl_deep_carve *c = &w->c;
    int B = bt->B, N = L->N, p = L->p, Hn = L->depth - 1;
    if (B < 1 || B > w->max_B)
        return gl_fail(err, "deep mlp: batch of %d examples (the work holds 1 to %d)", B,
                       w->max_B);
    if (!(o->dropout >= 0 && o->dropout < 1))
        return gl_fail(err, "deep mlp: dropout %g must be in [0, 1)", o->dropout);
    if (o->dropout > 0 && !w->keep)
        return gl_fail(err, "deep mlp: dropout %g, but the work was made without masks",
                       o->dropout);
    long BN = (long)B * N;
    size_t lstride = (size_t)w->max_B * N;

    /* forward, the loss, and dL/dout in place of the outputs */
    if (o->dropout > 0)
        gl_deep_dropout_masks(w->keep, L, bt->id, B, o->dropout, o->seed, o->step);
    R *out = w->buf + c->out;
    FN(deep_forward)(w, out, P, bt->m, bt->n, B, 1, o->dropout, NULL, NULL, o->norm_eps);
    *loss = o->loss == GL_LOSS_MSE ? FN(gl_mse_loss)(out, out, bt->y, B, p)
                                   : FN(gl_ce_loss)(out, out, bt->y, B, p);
    if (!isfinite(*loss)) return 0;

    /* running statistics as torch.nn.BatchNorm1d (as the two-layer MLP's
     * trainer) */
    if (L->norm == GL_NORM_BATCHNORM && run_mean && run_var) {
        for (int l = 0; l < Hn; l++) {
            const R *mean = w->buf + c->mean + (size_t)l * c->stat_stride;
            const R *var = w->buf + c->stat + (size_t)l * c->stat_stride;
            R *rm = run_mean + (size_t)l * N, *rv = run_var + (size_t)l * N;
            for (int k = 0; k < N; k++)
                FN(gl_bn_running)(rm + k, rv + k, mean[k], var[k], B, o->bn_momentum);
        }
    }

    /* backward: dz is dL/dz_l on entry to layer l, and becomes dL/dh_l */
    memset(G, 0, sizeof(R) * L->n_params);
    R *dz = w->buf + c->g[0], *dprev = w->buf + c->g[1];
    FN(gl_linear_backward)(dz, G + L->off_w, out, w->buf + c->z + (size_t)(Hn - 1) * lstride,
                           P + L->off_w, B, N, p);
    for (int l = Hn; l >= 1; l--) {
        size_t lo = (size_t)(l - 1) * lstride, so = (size_t)(l - 1) * c->stat_stride;
        size_t no = (size_t)(l - 1) * N;
        const R *h = w->buf + c->h + lo, *a = w->buf + c->a + lo;
        const R *mean = w->buf + c->mean + so, *stat = w->buf + c->stat + so;
        if (L->norm == GL_NORM_BATCHNORM)
            FN(gl_batchnorm_backward)(dz, G + L->off_gamma + no, G + L->off_beta + no, dz, a, mean,
                                      stat, P + L->off_gamma + no, B, N, o->norm_eps);
        else if (L->norm == GL_NORM_LAYERNORM)
            FN(gl_layernorm_backward)(dz, G + L->off_gamma + no, G + L->off_beta + no, dz, a, mean,
                                      stat, P + L->off_gamma + no, B, N);
        if (o->dropout > 0)
            FN(gl_dropout_apply)(dz, w->keep + (size_t)(l - 1) * BN, o->dropout, BN);
        FN(gl_act_backward)(dz, dz, h, BN, L->act);
        if (l >= 2) { /* h_l = z_{l-1} H_{l-1}^T */
            size_t ho = L->off_hidden + (size_t)(l - 2) * N * N;
            FN(gl_linear_backward)(dprev, G + ho, dz, w->buf + c->z + lo - lstride, P + ho, B, N,
                                   N);
            R *t = dz;
            dz = dprev;
            dprev = t;
        } else {
            FN(gl_embed_backward)(G + L->off_u, G + L->off_v, dz, bt->m, bt->n, B, N);
        }
    }
    return 0;
}

/* gl_deep_logits_f32, gl_deep_logits_f64 */
void FN(gl_deep_logits)(WORK *w, R *out, const R *P, const R *run_mean, const R *run_var,
                        double norm_eps, const int32_t *m, const int32_t *n, int B) {
    int p = w->L.p;
    for (int r0 = 0; r0 < B; r0 += w->max_B) {
        int nr = B - r0 < w->max_B ? B - r0 : w->max_B;
        FN(deep_forward)(w, out + (size_t)r0 * p, P, m + r0, n + r0, nr, 0, 0, run_mean, run_var,
                         norm_eps);
    }
}

#undef WORK
#include "model/template_end.h"
