/* groklab: the fused training pass of the float MLP (every norm; BatchNorm
 * for batches of one chunk, whose statistics are then the chunk's).
 *
 * The layered pass (gl_mlp_loss_grad) runs each layer over the whole batch, so
 * several (B, N) arrays (9.4 MB each at the default B 4704, N 500) stream
 * through memory between the layers, and the step is bound by memory rather
 * than by its three products. Here the batch is cut into chunks of at most
 * `rows` rows, and each chunk runs the whole step while its (rows, N) arrays
 * stay in the core's cache:
 *
 *   h = Ut[m] + Vt[n], dropout, a = phi(h), z = norm(a) (or z = a),
 *   out = z W^T, loss and dout = dL/dout, dW += dout^T z, dz = dout W,
 *   norm backward, dh = dz phi'(h), dropout, dUt[m] += dh, dVt[n] += dh.
 *
 * h is not stored: the backward gathers it again (the same float sums).
 * BatchNorm's statistics are over the whole batch, so it takes batches of one
 * chunk only (the minibatches of Figures 3(c) and 5), with the layered
 * pass's BatchNorm functions over the chunk; larger batches keep the layered
 * pass.
 *
 * Determinism: chunk i belongs to lane i % lanes; a lane runs its chunks in
 * increasing order and accumulates into its own partial gradient; afterwards
 * the partials are summed in lane order 0..lanes-1, and the loss sums of the
 * chunks (double) in chunk order. The chunking depends only on B, rows and
 * lanes; lanes are spread over however many threads there are, and the BLAS
 * is single-threaded. So results are bit-identical for any thread count. They
 * equal the layered pass's up to float rounding: sums over examples run in
 * another order. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "groklab/model.h"
#include "model/hidden_row.h"
#include "model/norm_rows.h"
#include "model/ops.h"

/* Measured on a 2-core Zen3 (512 KiB L2 per core) at B 4704, N 500, p 97:
 * rows 192..320 are equally good, and each lane costs a memset and a read
 * of n_params floats per step, so 4 lanes beat 8 and 16 (at the price of
 * using at most 4 threads for one model). Changing either changes results
 * (in the last bits), as the sums over examples are grouped differently. */
enum { FUSED_ROWS = 256, FUSED_LANES = 4 };
/* Very wide models get fewer rows per chunk: a (rows, N) array stays under
 * 64 MiB (and at least 16 rows). */
enum { MAX_CHUNK_FLOATS = 1 << 24, MIN_ROWS = 16 };

static void pick_shape(const gl_layout *L, int *rows, int *lanes) {
    if (*rows <= 0) {
        *rows = FUSED_ROWS;
        if ((long)*rows * L->N > MAX_CHUNK_FLOATS)
            *rows = MAX_CHUNK_FLOATS / L->N > MIN_ROWS ? MAX_CHUNK_FLOATS / L->N : MIN_ROWS;
    }
    if (*lanes <= 0) *lanes = FUSED_LANES;
}

/* One thread's scratch for a chunk of at most `rows` rows. */
typedef struct slot {
    float *a;       /* (rows, N) activation */
    float *z;       /* (rows, N) normalized activation (== a without LayerNorm), then dL/dz */
    float *out;     /* (rows, p) output, then dL/dout */
    float *mean;    /* (rows) LayerNorm statistics */
    float *rstd;    /* (rows) */
    double *e;      /* (p) cross-entropy: exp(out - max) of one row */
    uint8_t *keep;  /* (rows, N) dropout mask, NULL without dropout */
} slot;

/* Floats of one slot: a, z (with LayerNorm), out, mean, rstd, e (as doubles),
 * each starting at a multiple of 64 bytes. */
static size_t slot_floats(const gl_layout *L, int rows) {
    size_t rn = gl_round_up((size_t)rows * L->N, GL_ALIGN);
    size_t rp = gl_round_up((size_t)rows * L->p, GL_ALIGN);
    size_t rr = gl_round_up((size_t)rows, GL_ALIGN);
    size_t pe = gl_round_up(2 * (size_t)L->p, GL_ALIGN);
    return rn * (L->norm != GL_NORM_NONE ? 2 : 1) + rp + 2 * rr + pe;
}

static slot slot_of(const gl_fused_work *f, const gl_layout *L, int t, int dropout) {
    size_t rn = gl_round_up((size_t)f->rows * L->N, GL_ALIGN);
    size_t rp = gl_round_up((size_t)f->rows * L->p, GL_ALIGN);
    size_t rr = gl_round_up((size_t)f->rows, GL_ALIGN);
    slot s;
    s.a = f->scratch + (size_t)t * f->slot_floats;
    s.z = L->norm != GL_NORM_NONE ? s.a + rn : s.a;
    s.out = s.z + rn;
    s.mean = s.out + rp;
    s.rstd = s.mean + rr;
    s.e = (double *)(s.rstd + rr);
    s.keep = dropout ? f->keep + (size_t)t * f->rows * L->N : NULL;
    return s;
}

static size_t part_stride(const gl_layout *L) { return gl_round_up(L->n_params, GL_ALIGN); }

int gl_fused_rows(const gl_layout *L) {
    int rows = 0, lanes = 0;
    pick_shape(L, &rows, &lanes);
    return rows;
}

double gl_fused_work_bytes(const gl_layout *L, int max_B, int dropout) {
    int rows = 0, lanes = 0;
    pick_shape(L, &rows, &lanes);
    return (double)lanes * (4.0 * (double)slot_floats(L, rows) + 4.0 * (double)part_stride(L) +
                            (dropout ? (double)rows * L->N : 0.0)) +
           8.0 * (double)gl_max_chunks(max_B, rows, lanes) +
           (L->norm == GL_NORM_BATCHNORM ? 8.0 * L->N : 0.0);
}

static void *alloc64(size_t bytes) {
    return aligned_alloc(64, gl_round_up(bytes ? bytes : 64, 64));
}

int gl_fused_work_alloc(gl_fused_work *f, const gl_layout *L, int max_B, int dropout, int rows,
                        int lanes) {
    memset(f, 0, sizeof *f);
    pick_shape(L, &rows, &lanes);
    int bn = L->norm == GL_NORM_BATCHNORM;
    if (bn && max_B > rows) return -1; /* the statistics of a batch of several chunks */
    f->rows = rows;
    f->lanes = lanes;
    f->max_B = max_B;
    f->slot_floats = slot_floats(L, rows);
    f->scratch = alloc64(sizeof(float) * f->slot_floats * (size_t)lanes);
    f->part = alloc64(sizeof(float) * part_stride(L) * (size_t)lanes);
    f->loss_part = malloc(sizeof(double) * gl_max_chunks(max_B, rows, lanes));
    f->keep = dropout ? alloc64((size_t)lanes * (size_t)rows * (size_t)L->N) : NULL;
    f->bn_mean = bn ? malloc(sizeof(float) * (size_t)L->N) : NULL;
    f->bn_var = bn ? malloc(sizeof(float) * (size_t)L->N) : NULL;
    if (!f->scratch || !f->part || !f->loss_part || (dropout && !f->keep) ||
        (bn && (!f->bn_mean || !f->bn_var))) {
        gl_fused_work_free(f);
        return -1;
    }
    return 0;
}

void gl_fused_work_free(gl_fused_work *f) {
    free(f->scratch);
    free(f->part);
    free(f->loss_part);
    free(f->keep);
    free(f->bn_mean);
    free(f->bn_var);
    memset(f, 0, sizeof *f);
}

/* What every chunk of one pass reads. */
typedef struct pass {
    const gl_layout *L;
    const float *Ut, *Vt, *W, *gamma, *beta; /* (p, N) x 3, (N) x 2 */
    const gl_batch *bt;
    int N, p, B;
    gl_act act;
    int layernorm;
    float *bn_mean, *bn_var; /* BatchNorm (one chunk): the batch's statistics, else NULL */
    gl_loss loss;
    double eps, drop;
    float scale; /* 1 / (1 - drop) */
    uint64_t seed;
    long step;
} pass;

/* Backward of one row from g = dL/da to the scatter-add: with h =
 * dropout(u + v) gathered again, dh = dropout'(g phi'(h)); du += dh, dv += dh.
 * g, u, v, du, dv: (N); keep: (N) or NULL. */
static inline void backward_row(float *restrict du, float *restrict dv, const float *restrict g,
                                const float *restrict u, const float *restrict v,
                                const uint8_t *restrict keep, float scale, int N, gl_act act) {
#define BACKWARD(A)                                                                                \
    GL_HIDDEN_LOOP({                                                                               \
        float d = gl_act_back_f32(g[k], x, A);                                                     \
        if (keep) d = gl_drop_f32(d, keep[k], scale);                                              \
        du[k] += d;                                                                                \
        dv[k] += d;                                                                                \
    })
    GL_ACT_SWITCH(act, BACKWARD)
#undef BACKWARD
}

/* Loss sum of rows r0.. r0+R-1 (double, rows in order); out: (R, p) becomes
 * dL/dout of the mean loss over the whole batch of ps->B rows. e: (p) scratch. */
static double loss_rows(const pass *ps, float *out, double *restrict e, int r0, int R) {
    int p = ps->p, B = ps->B;
    const int32_t *y = ps->bt->y + r0;
    float g = (float)gl_mse_scale(B, p);
    double s = 0;
    for (int i = 0; i < R; i++) {
        float *o = out + (size_t)i * p;
        s += ps->loss == GL_LOSS_MSE ? gl_mse_row8_f32(o, y[i], p, g)
                                     : gl_ce_row_f32(o, o, y[i], p, B, e);
    }
    return s;
}

/* One chunk, rows r0..r0+R-1, into the lane's partial gradient gp (n_params
 * layout), with this thread's scratch sl. Returns the chunk's loss sum. */
static double run_chunk(const pass *ps, int r0, int R, const slot *sl, float *gp) {
    int N = ps->N, p = ps->p;
    const int32_t *m = ps->bt->m + r0, *n = ps->bt->n + r0;
    float *a = sl->a, *z = sl->z, *out = sl->out, *mean = sl->mean, *rstd = sl->rstd;
    uint8_t *keep = sl->keep;

    /* forward: gather, dropout, activation, LayerNorm */
    for (int i = 0; i < R; i++) {
        float *ai = a + (size_t)i * N;
        uint8_t *ki = keep ? keep + (size_t)i * N : NULL;
        if (ki) {
            const int32_t *id = ps->bt->id;
            gl_dropout_row(ki, id ? (uint64_t)id[r0 + i] : (uint64_t)(r0 + i), N, ps->drop,
                           ps->seed, ps->step);
        }
        gl_hidden_row_f32(ai, ps->Ut + (size_t)m[i] * N, ps->Vt + (size_t)n[i] * N, ki, ps->scale,
                          N, ps->act);
    }
    if (ps->layernorm) gl_ln_rows_f32(z, mean, rstd, a, ps->gamma, ps->beta, R, N, ps->eps);
    if (ps->bn_mean)
        gl_batchnorm_forward_f32(z, ps->bn_mean, ps->bn_var, a, ps->gamma, ps->beta, R, N,
                                 ps->eps);
    /* output layer, loss, and its backward. The products that overwrite
     * their result accumulate onto zeros instead (beta = 1): OpenBLAS's own
     * beta = 0 pass is much slower than memset. */
    memset(out, 0, sizeof(float) * (size_t)R * p);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, p, N, 1.0f, z, N, ps->W, N, 1.0f, out,
                p);
    double s = loss_rows(ps, out, sl->e, r0, R);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p, N, R, 1.0f, out, p, z, N, 1.0f,
                gp + ps->L->off_w, N);
    float *dz = z; /* z is no longer needed */
    memset(dz, 0, sizeof(float) * (size_t)R * N);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, N, p, 1.0f, out, p, ps->W, N, 1.0f,
                dz, N);
    /* norm and activation backward, scatter-add */
    float *dUt = gp + ps->L->off_u, *dVt = gp + ps->L->off_v;
    if (ps->layernorm) {
        for (int i = 0; i < R; i++)
            gl_ln_param_row_f32(gp + ps->L->off_gamma, gp + ps->L->off_beta, dz + (size_t)i * N,
                                a + (size_t)i * N, mean[i], rstd[i], N);
        gl_ln_back_rows_f32(dz, dz, a, mean, rstd, ps->gamma, R, N);
    }
    if (ps->bn_mean)
        gl_batchnorm_backward_f32(dz, gp + ps->L->off_gamma, gp + ps->L->off_beta, dz, a,
                                  ps->bn_mean, ps->bn_var, ps->gamma, R, N, ps->eps);
    for (int i = 0; i < R; i++) {
        float *g = dz + (size_t)i * N;
        backward_row(dUt + (size_t)m[i] * N, dVt + (size_t)n[i] * N, g,
                     ps->Ut + (size_t)m[i] * N, ps->Vt + (size_t)n[i] * N,
                     keep ? keep + (size_t)i * N : NULL, ps->scale, N, ps->act);
    }
    return s;
}

int gl_fused_loss_grad(gl_fused_work *f, double *loss, float *grads, const gl_layout *L,
                       const float *params, const gl_config *c, long step, const gl_batch *bt) {
    int B = bt->B, bn = L->norm == GL_NORM_BATCHNORM;
    if (B < 1 || B > f->max_B || (c->dropout > 0 && !f->keep) || (bn && !f->bn_mean))
        return -1;
    pass ps = {
        .L = L, .Ut = params + L->off_u, .Vt = params + L->off_v, .W = params + L->off_w,
        .gamma = params + L->off_gamma, .beta = params + L->off_beta, .bt = bt,
        .N = L->N, .p = L->p, .B = B, .act = L->act, .layernorm = L->norm == GL_NORM_LAYERNORM,
        .bn_mean = bn ? f->bn_mean : NULL, .bn_var = bn ? f->bn_var : NULL,
        .loss = c->loss, .eps = c->norm_eps, .drop = c->dropout,
        .scale = (float)gl_dropout_scale(c->dropout), .seed = c->seed, .step = step,
    };
    int nch, R = gl_chunking(B, f->rows, f->lanes, &nch);
    int lanes = f->lanes, used = gl_imin(lanes, nch);
    int nt = gl_imin(omp_get_max_threads(), used);
    size_t np = L->n_params, stride = part_stride(L);

    if (used == 1) {
        /* a batch of one chunk: its lane accumulates into grads itself (the
         * lanes' sum would only copy it), on this thread */
        slot sl = slot_of(f, L, 0, c->dropout > 0);
        memset(grads, 0, np * sizeof(float));
        f->loss_part[0] = run_chunk(&ps, 0, B, &sl, grads);
    } else {
#pragma omp parallel num_threads(nt)
        {
            slot sl = slot_of(f, L, omp_get_thread_num(), c->dropout > 0);
#pragma omp for schedule(dynamic, 1)
            for (int lane = 0; lane < used; lane++) {
                float *gp = f->part + (size_t)lane * stride;
                memset(gp, 0, np * sizeof(float));
                for (int ch = lane; ch < nch; ch += lanes)
                    f->loss_part[ch] = run_chunk(&ps, ch * R, gl_imin(R, B - ch * R), &sl, gp);
            }
            /* grads = the lanes' partials, summed in lane order */
#pragma omp for schedule(static)
            for (size_t i0 = 0; i0 < np; i0 += GL_RED_BLOCK)
                gl_lanes_sum_f32(grads + i0, f->part + i0, stride, used,
                                 np - i0 < GL_RED_BLOCK ? np - i0 : GL_RED_BLOCK);
        }
    }
    double s = 0;
    for (int ch = 0; ch < nch; ch++) s += f->loss_part[ch];
    *loss = c->loss == GL_LOSS_MSE ? s / ((double)B * L->p) : s / B;
    return 0;
}
