/* groklab: the deep MLP in single precision (training and evaluation), and
 * what does not depend on the precision: the layout, the initialization
 * scale, the work's size, the dropout masks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/deep.h"
#include "groklab/rng.h"
#include "groklab/model.h"

#define R float
#define S f32
#include "deep_impl.h"

int gl_deep_layout_init(gl_deep_layout *L, int p, int N, int depth, gl_act act, gl_norm norm,
                        gl_param param, gl_error *err) {
    memset(L, 0, sizeof *L);
    if (p < 2) return gl_fail(err, "deep mlp: p = %d must be at least 2", p);
    if (N < 1) return gl_fail(err, "deep mlp: width N = %d must be positive", N);
    if (depth < 2 || depth > GL_DEEP_MAX_DEPTH)
        return gl_fail(err, "deep mlp: depth = %d must be in [2, %d] weight layers", depth,
                       GL_DEEP_MAX_DEPTH);
    if ((int)act < GL_ACT_QUADRATIC || (int)act > GL_ACT_IDENTITY)
        return gl_fail(err, "deep mlp: unknown activation %d (resolve auto first)", (int)act);
    if ((int)norm < GL_NORM_NONE || (int)norm > GL_NORM_LAYERNORM)
        return gl_fail(err, "deep mlp: unknown norm %d", (int)norm);
    if ((int)param < GL_PARAM_STANDARD || (int)param > GL_PARAM_LAZY)
        return gl_fail(err, "deep mlp: unknown parametrization %d", (int)param);
    /* 2^36 parameters are 256 GB in float: far beyond any machine we run on,
     * and small enough that no size below overflows */
    double total = 3.0 * p * N + (depth - 2.0) * N * (double)N + 2.0 * (depth - 1) * N;
    if (total > 68719476736.0)
        return gl_fail(err, "deep mlp: p %d, width %d, depth %d make %.3g parameters (too many)",
                       p, N, depth, total);

    size_t pn = (size_t)p * (size_t)N, nn = (size_t)N * (size_t)N;
    size_t hn = (size_t)(depth - 1) * (size_t)N, with = norm != GL_NORM_NONE;
    L->p = p;
    L->N = N;
    L->depth = depth;
    L->act = act;
    L->norm = norm;
    L->param = param;
    L->off_u = 0;
    L->off_v = pn;
    L->off_hidden = 2 * pn;
    L->off_w = L->off_hidden + (size_t)(depth - 2) * nn;
    L->off_gamma = L->off_w + pn;
    L->off_beta = L->off_gamma + with * hn;
    L->n_params = L->off_beta + with * hn;
    return 0;
}

double gl_deep_init_std(const gl_deep_layout *L, int layer) {
    if (L->param == GL_PARAM_LAZY) return sqrt(2.0 / pow((double)L->N, 2.0 / 3.0));
    double fan_in = layer == 1 ? 2.0 * L->p : (double)L->N;
    return sqrt(2.0 / fan_in);
}

double gl_deep_work_bytes(const gl_deep_layout *L, int max_B, int dropout) {
    deep_carve c;
    deep_carve_init(&c, L, max_B);
    double keep = dropout ? (double)(L->depth - 1) * max_B * (double)L->N : 0.0;
    return sizeof(float) * (double)c.total + keep;
}

void gl_deep_dropout_masks(uint8_t *keep, const gl_deep_layout *L, const int32_t *id, int B,
                           double prob, uint64_t seed, long step) {
    enum { RUN = 64 }; /* counters per gl_philox_run */
    int N = L->N, Hn = L->depth - 1;
    uint64_t E = (uint64_t)Hn * (uint64_t)N, per_ex = (E + 3) / 4;
    float thr = (float)prob;
#pragma omp parallel for schedule(static) if ((long)B * Hn * N > 32768)
    for (int b = 0; b < B; b++) {
        uint64_t ctr0 = (id ? (uint64_t)id[b] : (uint64_t)b) * per_ex;
        uint32_t r[4 * RUN];
        for (int l = 0; l < Hn; l++) {
            /* elements e0..e1-1 of the example's row; a counter that straddles
             * two layers is drawn for each (the same words) */
            uint8_t *dst = keep + ((size_t)l * B + (size_t)b) * N;
            uint64_t e0 = (uint64_t)l * N, e1 = e0 + (uint64_t)N, g1 = (e1 + 3) / 4;
            for (uint64_t g0 = e0 / 4; g0 < g1; g0 += RUN) {
                int ng = g1 - g0 < RUN ? (int)(g1 - g0) : RUN;
                gl_philox_run(seed, GL_STREAM_DEEP_DROPOUT, ctr0 + g0, (uint32_t)step, ng, r);
                for (int j = 0; j < 4 * ng; j++) {
                    uint64_t e = 4 * g0 + (uint64_t)j;
                    if (e >= e0 && e < e1) dst[e - e0] = gl_u01(r[j]) >= thr;
                }
            }
        }
    }
}
