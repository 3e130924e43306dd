/* groklab: the MLP's layers in single precision, and the evaluation pass. */
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "groklab/model.h"

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

void gl_mlp_eval(gl_mlp_work *w, const gl_layout *L, const float *params, const float *run_mean,
                 const float *run_var, double norm_eps, const int32_t *m, const int32_t *n, int B) {
    int N = L->N, p = L->p;
    const float *gamma = params + L->off_gamma, *beta = params + L->off_beta;
    gl_embed_forward_f32(w->h, m, n, params + L->off_u, params + L->off_v, B, N);
    gl_act_forward_f32(w->a, w->h, (long)B * N, L->act);
    if (L->norm == GL_NORM_BATCHNORM)
        gl_batchnorm_eval_f32(w->z, w->a, gamma, beta, run_mean, run_var, B, N, norm_eps);
    else if (L->norm == GL_NORM_LAYERNORM)
        gl_layernorm_forward_f32(w->z, w->mean, w->stat, w->a, gamma, beta, B, N, norm_eps);
    gl_linear_forward_f32(w->out, w->z, params + L->off_w, B, N, p);
}
