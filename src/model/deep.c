/* groklab: the deep MLP's parts that do not depend on the precision: the
 * layout, the initialization scale, the work's carving and size, the dropout
 * masks. */
#include <math.h>
#include <string.h>

#include "groklab/deep.h"
#include "groklab/rng.h"
#include "model/deep_work.h"

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
    gl_deep_carve c;
    gl_deep_carve_init(&c, L, max_B);
    double keep = dropout ? (double)(L->depth - 1) * max_B * (double)L->N : 0.0;
    return sizeof(float) * (double)c.total + keep;
}

void gl_deep_carve_init(gl_deep_carve *c, const gl_deep_layout *L, int max_B) {
    size_t Hn = (size_t)L->depth - 1, BN = (size_t)max_B * (size_t)L->N;
    size_t layers = Hn * BN, pos = 0;
    int norm = L->norm != GL_NORM_NONE;
    c->stat_stride = (size_t)(max_B > L->N ? max_B : L->N);
    c->h = pos;
    pos += layers;
    c->a = pos;
    pos += layers;
    c->z = norm ? pos : c->a;
    pos += norm ? layers : 0;
    c->mean = pos;
    pos += norm ? Hn * c->stat_stride : 0;
    c->stat = pos;
    pos += norm ? Hn * c->stat_stride : 0;
    c->out = pos;
    pos += (size_t)max_B * (size_t)L->p;
    c->g[0] = pos;
    pos += BN;
    c->g[1] = pos;
    pos += BN;
    c->total = pos;
}

/* Dropout masks of the B examples of a batch for every hidden layer (deep.h,
 * "Dropout masks"), stored per layer: the mask of layer l for example b at
 * keep + ((l-1) * B + b) * N, so that a layer's (B, N) mask is contiguous.
 * Example b is id[b] (b when id is NULL). Defined in deep_f32.c. */
void gl_deep_dropout_masks(uint8_t *keep, const gl_deep_layout *L, const int32_t *id, int B,
                           double prob, uint64_t seed, long step);

void gl_deep_dropout_masks(uint8_t *keep, const gl_deep_layout *L, const int32_t *id, int B,
                           double prob, uint64_t seed, long step) {
    int N = L->N, Hn = L->depth - 1;
    uint64_t E = (uint64_t)Hn * (uint64_t)N;
#pragma omp parallel for schedule(static) if ((long)B * Hn * N > 32768)
    for (int b = 0; b < B; b++) {
        uint64_t ex = id ? (uint64_t)id[b] : (uint64_t)b;
        for (int l = 0; l < Hn; l++)
            gl_dropout_range(keep + ((size_t)l * B + (size_t)b) * N, GL_STREAM_DEEP_DROPOUT, ex, E,
                             (uint64_t)l * N, (uint64_t)(l + 1) * N, prob, seed, step);
    }
}
