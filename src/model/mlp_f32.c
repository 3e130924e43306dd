/* groklab: the MLP's layers in single precision, the evaluation pass, and
 * the layered training pass (the reference for the fused one, and the path
 * of BatchNorm over batches of several chunks, whose statistics need the
 * whole batch). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "groklab/model.h"
#include "groklab/rng.h"
#include "model/ops.h"
#include "model/hidden_row.h"

#define R float
#define S f32
#define GEMM cblas_sgemm
#include "mlp_impl.h"

void gl_layout_init(gl_layout *L, int p, int N, gl_act act, gl_norm norm) {
    size_t pn = (size_t)p * N;
    L->p = p;
    L->N = N;
    L->act = act;
    L->norm = norm;
    L->off_u = 0;
    L->off_v = pn;
    L->off_w = 2 * pn;
    L->off_gamma = 3 * pn;
    L->off_beta = 3 * pn + (norm != GL_NORM_NONE ? (size_t)N : 0);
    L->n_params = 3 * pn + (norm != GL_NORM_NONE ? 2 * (size_t)N : 0);
}

int gl_mlp_work_alloc(gl_mlp_work *w, const gl_layout *L, int B, int dropout) {
    memset(w, 0, sizeof *w);
    gl_blas_init(); /* products are chunked by the passes; the BLAS runs on one thread, so sums do not depend on the cores */
    size_t bn = (size_t)B * L->N;
    size_t nstat = (size_t)(B > L->N ? B : L->N);
    w->B = B;
    w->h = malloc(sizeof(float) * bn);
    w->a = malloc(sizeof(float) * bn);
    w->z = L->norm != GL_NORM_NONE ? malloc(sizeof(float) * bn) : w->a;
    w->dz = malloc(sizeof(float) * bn);
    w->out = malloc(sizeof(float) * (size_t)B * L->p);
    w->mean = malloc(sizeof(float) * nstat);
    w->stat = malloc(sizeof(float) * nstat);
    w->keep = dropout ? malloc(bn) : NULL;
    if (!w->h || !w->a || !w->z || !w->dz || !w->out || !w->mean || !w->stat ||
        (dropout && !w->keep)) {
        gl_mlp_work_free(w);
        return -1;
    }
    return 0;
}

void gl_mlp_work_free(gl_mlp_work *w) {
    if (w->z != w->a) free(w->z);
    free(w->h);
    free(w->a);
    free(w->dz);
    free(w->out);
    free(w->mean);
    free(w->stat);
    free(w->keep);
    memset(w, 0, sizeof *w);
}

/* In chunks of GL_ROW_CHUNK rows, each run from the gather to its product
 * while its (rows, N) arrays stay in the core's cache, as the fused training
 * pass runs its forward; the chunks over the threads. Each row's numbers are
 * the layered layers' (gl_embed_forward .. gl_linear_forward): the same
 * element and row functions, the same product per row. */
void gl_mlp_eval(gl_mlp_work *w, const gl_layout *L, const float *params, const float *run_mean,
                 const float *run_var, double norm_eps, const int32_t *m, const int32_t *n, int B) {
    int N = L->N, p = L->p, nch = (B + GL_ROW_CHUNK - 1) / GL_ROW_CHUNK;
    const float *Ut = params + L->off_u, *Vt = params + L->off_v, *W = params + L->off_w;
    const float *gamma = params + L->off_gamma, *beta = params + L->off_beta;
#pragma omp parallel for schedule(dynamic) if ((long)B * N * p > 32768)
    for (int c = 0; c < nch; c++) {
        int r0 = c * GL_ROW_CHUNK, rows = gl_imin(GL_ROW_CHUNK, B - r0);
        for (int b = r0; b < r0 + rows; b++)
            gl_hidden_row_f32(w->a + (size_t)b * N, Ut + (size_t)m[b] * N, Vt + (size_t)n[b] * N,
                              NULL, 1.0f, N, L->act);
        if (L->norm == GL_NORM_BATCHNORM)
            gl_bn_eval_rows_f32(w->z + (size_t)r0 * N, w->a + (size_t)r0 * N, gamma, beta, run_mean,
                                run_var, rows, N, norm_eps);
        else if (L->norm == GL_NORM_LAYERNORM)
            gl_ln_rows_f32(w->z + (size_t)r0 * N, w->mean + r0, w->stat + r0, w->a + (size_t)r0 * N,
                           gamma, beta, rows, N, norm_eps);
        /* onto zeros (beta 1): OpenBLAS's beta 0 pass is slower than memset */
        float *out = w->out + (size_t)r0 * p;
        memset(out, 0, sizeof(float) * (size_t)rows * p);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, p, N, 1.0f, w->z + (size_t)r0 * N, N, W, N,
                    1.0f, out, p);
    }
}

/* keep: (B, N), the masks of the batch's examples */
static void dropout_mask(uint8_t *keep, const int32_t *id, int B, int N, double prob,
                         uint64_t seed, long step) {
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++)
        gl_dropout_row(keep + (size_t)b * N, id ? (uint64_t)id[b] : (uint64_t)b, N, prob, seed,
                       step);
}

double gl_mlp_loss_grad(gl_mlp_work *w, float *G, const gl_layout *L, const float *P,
                        const gl_config *c, long step, const gl_batch *bt) {
    int N = L->N, p = L->p, B = bt->B;
    const int32_t *m = bt->m, *n = bt->n, *y = bt->y;
    long BN = (long)B * N;

    /* forward */
    gl_embed_forward_f32(w->h, m, n, P + L->off_u, P + L->off_v, B, N);
    if (c->dropout > 0) {
        dropout_mask(w->keep, bt->id, B, N, c->dropout, c->seed, step);
        gl_dropout_apply_f32(w->h, w->keep, c->dropout, BN);
    }
    gl_act_forward_f32(w->a, w->h, BN, L->act);
    if (L->norm == GL_NORM_BATCHNORM)
        gl_batchnorm_forward_f32(w->z, w->mean, w->stat, w->a, P + L->off_gamma, P + L->off_beta, B,
                                 N, c->norm_eps);
    else if (L->norm == GL_NORM_LAYERNORM)
        gl_layernorm_forward_f32(w->z, w->mean, w->stat, w->a, P + L->off_gamma, P + L->off_beta, B,
                                 N, c->norm_eps);
    gl_linear_forward_f32(w->out, w->z, P + L->off_w, B, N, p);
    double loss = c->loss == GL_LOSS_MSE ? gl_mse_loss_f32(w->out, w->out, y, B, p)
                                         : gl_ce_loss_f32(w->out, w->out, y, B, p);
    if (!isfinite(loss)) return loss;

    /* backward (w->out now holds dL/dout) */
    memset(G, 0, L->n_params * sizeof(float));
    gl_linear_backward_f32(w->dz, G + L->off_w, w->out, w->z, P + L->off_w, B, N, p);
    if (L->norm == GL_NORM_BATCHNORM)
        gl_batchnorm_backward_f32(w->dz, G + L->off_gamma, G + L->off_beta, w->dz, w->a, w->mean,
                                  w->stat, P + L->off_gamma, B, N, c->norm_eps);
    else if (L->norm == GL_NORM_LAYERNORM)
        gl_layernorm_backward_f32(w->dz, G + L->off_gamma, G + L->off_beta, w->dz, w->a, w->mean,
                                  w->stat, P + L->off_gamma, B, N);
    gl_act_backward_f32(w->dz, w->dz, w->h, BN, L->act);
    if (c->dropout > 0) gl_dropout_apply_f32(w->dz, w->keep, c->dropout, BN);
    gl_embed_backward_f32(G + L->off_u, G + L->off_v, w->dz, m, n, B, N);
    return loss;
}
