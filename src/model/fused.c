/* groklab: the fused training pass of the float MLP (every norm but BatchNorm).
 *
 * The layered pass (gl_mlp_loss_grad) runs each layer over the whole batch, so
 * several (B, N) arrays (9.4 MB each at the default B 4704, N 500) stream
 * through memory between the layers, and the step is bound by memory rather
 * than by its three products. Here the batch is cut into chunks of at most
 * `rows` rows, and each chunk runs the whole step while its (rows, N) arrays
 * stay in the core's cache:
 *
 *   h = Ut[m] + Vt[n], dropout, a = phi(h), z = LayerNorm(a) (or z = a),
 *   out = z W^T, loss and dout = dL/dout, dW += dout^T z, dz = dout W,
 *   LayerNorm backward, dh = dz phi'(h), dropout, dUt[m] += dh, dVt[n] += dh.
 *
 * h is not stored: the backward gathers it again (the same float sums).
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

/* Measured on a 2-core Zen3 (512 KiB L2 per core) at B 4704, N 500, p 97:
 * rows 192..320 are equally good, and each lane costs a memset and a read
 * of n_params floats per step, so 4 lanes beat 8 and 16 (at the price of
 * using at most 4 threads for one model). Changing either changes results
 * (in the last bits), as the sums over examples are grouped differently. */
enum { FUSED_ROWS = 256, FUSED_LANES = 4, RED_BLOCK = 4096, ALIGN_FLOATS = 16 };
/* Very wide models get fewer rows per chunk: a (rows, N) array stays under
 * 64 MiB (and at least 16 rows). */
enum { MAX_CHUNK_FLOATS = 1 << 24, MIN_ROWS = 16 };

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

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
    size_t rn = round_up((size_t)rows * L->N, ALIGN_FLOATS);
    size_t rp = round_up((size_t)rows * L->p, ALIGN_FLOATS);
    size_t rr = round_up((size_t)rows, ALIGN_FLOATS);
    size_t pe = round_up(2 * (size_t)L->p, ALIGN_FLOATS);
    return rn * (L->norm == GL_NORM_LAYERNORM ? 2 : 1) + rp + 2 * rr + pe;
}

static slot slot_of(const gl_fused_work *f, const gl_layout *L, int t, int dropout) {
    size_t rn = round_up((size_t)f->rows * L->N, ALIGN_FLOATS);
    size_t rp = round_up((size_t)f->rows * L->p, ALIGN_FLOATS);
    size_t rr = round_up((size_t)f->rows, ALIGN_FLOATS);
    slot s;
    s.a = f->scratch + (size_t)t * f->slot_floats;
    s.z = L->norm == GL_NORM_LAYERNORM ? s.a + rn : s.a;
    s.out = s.z + rn;
    s.mean = s.out + rp;
    s.rstd = s.mean + rr;
    s.e = (double *)(s.rstd + rr);
    s.keep = dropout ? f->keep + (size_t)t * f->rows * L->N : NULL;
    return s;
}

static size_t part_stride(const gl_layout *L) { return round_up(L->n_params, ALIGN_FLOATS); }

/* At most this many chunks for a batch of at most max_B rows (see chunking). */
static size_t max_chunks(int max_B, int rows, int lanes) {
    return (size_t)((max_B + rows - 1) / rows) + (size_t)lanes;
}

double gl_fused_work_bytes(const gl_layout *L, int max_B, int dropout) {
    int rows = 0, lanes = 0;
    pick_shape(L, &rows, &lanes);
    return (double)lanes * (4.0 * (double)slot_floats(L, rows) + 4.0 * (double)part_stride(L) +
                            (dropout ? (double)rows * L->N : 0.0)) +
           8.0 * (double)max_chunks(max_B, rows, lanes);
}

static void *alloc64(size_t bytes) { return aligned_alloc(64, round_up(bytes ? bytes : 64, 64)); }

int gl_fused_work_alloc(gl_fused_work *f, const gl_layout *L, int max_B, int dropout, int rows,
                        int lanes) {
    memset(f, 0, sizeof *f);
    pick_shape(L, &rows, &lanes);
    f->rows = rows;
    f->lanes = lanes;
    f->max_B = max_B;
    f->slot_floats = slot_floats(L, rows);
    f->scratch = alloc64(sizeof(float) * f->slot_floats * (size_t)lanes);
    f->part = alloc64(sizeof(float) * part_stride(L) * (size_t)lanes);
    f->loss_part = malloc(sizeof(double) * max_chunks(max_B, rows, lanes));
    f->keep = dropout ? alloc64((size_t)lanes * (size_t)rows * (size_t)L->N) : NULL;
    if (!f->scratch || !f->part || !f->loss_part || (dropout && !f->keep)) {
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
    memset(f, 0, sizeof *f);
}

/* The chunks of a batch of B rows: about B / rows of them, rounded up to a
 * multiple of the lanes once there are more than lanes, so that every lane
 * gets as many; all of R rows but the last. Returns R; *nch = chunk count. */
static int chunking(int B, int rows, int lanes, int *nch) {
    int c = (B + rows - 1) / rows;
    if (c > lanes) c = (c + lanes - 1) / lanes * lanes;
    int R = (B + c - 1) / c;
    *nch = (B + R - 1) / R;
    return R;
}

/* What every chunk of one pass reads. */
typedef struct pass {
    const gl_layout *L;
    const float *Ut, *Vt, *W, *gamma, *beta; /* (p, N) x 3, (N) x 2 */
    const gl_batch *bt;
    int N, p, B;
    gl_act act;
    int layernorm;
    gl_loss loss;
    double eps, drop;
    float scale; /* 1 / (1 - drop) */
    uint64_t seed;
    long step;
} pass;

static inline float gelu(float x) { return 0.5f * x * (1.0f + (float)erf((double)x * M_SQRT1_2)); }
static inline float gelu_grad(float x) {
    double cdf = 0.5 * (1.0 + erf((double)x * M_SQRT1_2));
    double pdf = exp(-0.5 * (double)x * (double)x) / sqrt(2.0 * M_PI);
    return (float)(cdf + (double)x * pdf);
}

/* keep ? y : +0.0f for keep in {0, 1}, as a bit mask: gcc does not
 * vectorize the select of a float by a byte. */
static inline float keep_or_zero(float y, uint8_t keep) {
    uint32_t bits;
    memcpy(&bits, &y, sizeof bits);
    bits &= 0u - (uint32_t)keep;
    memcpy(&y, &bits, sizeof y);
    return y;
}

/* One row's loop over k with h = dropout(u + v) in x: the two variants,
 * with a mask (keep != NULL) and without, so that each vectorizes. */
#define ROW_LOOP(BODY)                                                                             \
    do {                                                                                           \
        if (keep)                                                                                  \
            for (int k = 0; k < N; k++) {                                                          \
                float x = keep_or_zero((u[k] + v[k]) * scale, keep[k]);                            \
                BODY;                                                                              \
            }                                                                                      \
        else                                                                                       \
            for (int k = 0; k < N; k++) {                                                          \
                float x = u[k] + v[k];                                                             \
                BODY;                                                                              \
            }                                                                                      \
    } while (0)

/* a = phi(dropout(u + v)) of one row. a, u, v: (N); keep: (N) or NULL */
static inline void forward_row(float *restrict a, const float *restrict u, const float *restrict v,
                               const uint8_t *restrict keep, float scale, int N, gl_act act) {
    switch (act) {
    case GL_ACT_QUADRATIC:
        ROW_LOOP(a[k] = x * x);
        break;
    case GL_ACT_RELU:
        ROW_LOOP(a[k] = x > 0 ? x : 0.0f);
        break;
    case GL_ACT_GELU:
        ROW_LOOP(a[k] = gelu(x));
        break;
    case GL_ACT_IDENTITY:
    case GL_ACT_AUTO: /* resolved before any layer runs (gl_config_resolve) */
        ROW_LOOP(a[k] = x);
        break;
    }
}

/* Backward of one row from g = dL/da to the scatter-add: with h =
 * dropout(u + v) gathered again, dh = dropout'(g phi'(h)); du += dh, dv += dh.
 * g, u, v, du, dv: (N); keep: (N) or NULL. */
#define SCATTER(DH)                                                                                \
    do {                                                                                           \
        float d = (DH);                                                                            \
        if (keep) d = keep_or_zero(d * scale, keep[k]);                                            \
        du[k] += d;                                                                                \
        dv[k] += d;                                                                                \
    } while (0)
static inline void backward_row(float *restrict du, float *restrict dv, const float *restrict g,
                                const float *restrict u, const float *restrict v,
                                const uint8_t *restrict keep, float scale, int N, gl_act act) {
    switch (act) {
    case GL_ACT_QUADRATIC:
        ROW_LOOP(SCATTER(g[k] * 2.0f * x));
        break;
    case GL_ACT_RELU:
        ROW_LOOP(SCATTER(x > 0 ? g[k] : 0.0f));
        break;
    case GL_ACT_GELU:
        ROW_LOOP(SCATTER(g[k] * gelu_grad(x)));
        break;
    case GL_ACT_IDENTITY:
    case GL_ACT_AUTO: /* resolved before any layer runs (gl_config_resolve) */
        for (int k = 0; k < N; k++) SCATTER(g[k]);
        break;
    }
}
#undef SCATTER
#undef ROW_LOOP

/* z = LayerNorm(a) of one row (as gl_layernorm_forward_f32). a, z, gamma, beta: (N) */
static inline void layernorm_row(float *restrict z, float *mean, float *rstd,
                                 const float *restrict a, const float *restrict gamma,
                                 const float *restrict beta, int N, double eps) {
    double s = 0, q = 0;
    for (int k = 0; k < N; k++) s += a[k];
    s /= N;
    for (int k = 0; k < N; k++) q += (a[k] - s) * (a[k] - s);
    double r = 1.0 / sqrt(q / N + eps);
    *mean = (float)s;
    *rstd = (float)r;
    for (int k = 0; k < N; k++) z[k] = (float)((a[k] - s) * r * gamma[k] + beta[k]);
}

/* LayerNorm backward of one row (as gl_layernorm_backward_f32): dgamma, dbeta
 * accumulate; g = dL/dz becomes dL/da in place. */
static inline void layernorm_back_row(float *restrict g, float *restrict dgamma,
                                      float *restrict dbeta, const float *restrict a, float mean,
                                      float rstd, const float *restrict gamma, int N) {
    for (int k = 0; k < N; k++) {
        dgamma[k] += g[k] * (float)((a[k] - mean) * rstd);
        dbeta[k] += g[k];
    }
    double sg = 0, sgx = 0, r = rstd;
    for (int k = 0; k < N; k++) {
        double gg = (double)g[k] * gamma[k];
        sg += gg;
        sgx += gg * (a[k] - mean) * r;
    }
    for (int k = 0; k < N; k++) {
        double gg = (double)g[k] * gamma[k], xhat = (a[k] - mean) * r;
        g[k] = (float)(r / N * ((double)N * gg - sg - xhat * sgx));
    }
}

/* Loss sum of rows r0.. r0+R-1 (double, rows in order); out: (R, p) becomes
 * dL/dout of the mean loss over the whole batch of ps->B rows. e: (p) scratch. */
static double loss_rows(const pass *ps, float *out, double *restrict e, int r0, int R) {
    int p = ps->p, B = ps->B;
    const int32_t *y = ps->bt->y + r0;
    double s = 0;
    if (ps->loss == GL_LOSS_MSE) {
        /* d = out - onehot(y); the squares summed in 8 fixed partial sums
         * (so that the loop vectorizes), then those in a fixed order */
        float g = (float)(2.0 / ((double)B * p));
        for (int i = 0; i < R; i++) {
            float *restrict o = out + (size_t)i * p;
            o[y[i]] -= 1.0f;
            double acc[8] = {0};
            int j = 0;
            for (; j + 8 <= p; j += 8)
                for (int l = 0; l < 8; l++) acc[l] += (double)o[j + l] * o[j + l];
            for (; j < p; j++) acc[j % 8] += (double)o[j] * o[j];
            s += ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
            for (j = 0; j < p; j++) o[j] *= g;
        }
    } else {
        for (int i = 0; i < R; i++) {
            float *o = out + (size_t)i * p;
            double mx = o[0];
            for (int j = 1; j < p; j++)
                if (o[j] > mx) mx = o[j];
            double zs = 0;
            for (int j = 0; j < p; j++) {
                e[j] = exp((double)o[j] - mx);
                zs += e[j];
            }
            s += mx + log(zs) - o[y[i]];
            /* softmax = e / zs: one exp per entry rather than two */
            for (int j = 0; j < p; j++) o[j] = (float)(e[j] / zs / B);
            o[y[i]] = (float)((e[y[i]] / zs - 1.0) / B);
        }
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
        forward_row(ai, ps->Ut + (size_t)m[i] * N, ps->Vt + (size_t)n[i] * N, ki, ps->scale, N,
                    ps->act);
        if (ps->layernorm)
            layernorm_row(z + (size_t)i * N, mean + i, rstd + i, ai, ps->gamma, ps->beta, N,
                          ps->eps);
    }
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
    /* LayerNorm and activation backward, scatter-add */
    float *dUt = gp + ps->L->off_u, *dVt = gp + ps->L->off_v;
    for (int i = 0; i < R; i++) {
        float *g = dz + (size_t)i * N;
        if (ps->layernorm)
            layernorm_back_row(g, gp + ps->L->off_gamma, gp + ps->L->off_beta, a + (size_t)i * N,
                               mean[i], rstd[i], ps->gamma, N);
        backward_row(dUt + (size_t)m[i] * N, dVt + (size_t)n[i] * N, g,
                     ps->Ut + (size_t)m[i] * N, ps->Vt + (size_t)n[i] * N,
                     keep ? keep + (size_t)i * N : NULL, ps->scale, N, ps->act);
    }
    return s;
}

int gl_fused_loss_grad(gl_fused_work *f, double *loss, float *grads, const gl_layout *L,
                       const float *params, const gl_config *c, long step, const gl_batch *bt) {
    int B = bt->B;
    if (L->norm == GL_NORM_BATCHNORM || B < 1 || B > f->max_B || (c->dropout > 0 && !f->keep))
        return -1;
    pass ps = {
        .L = L, .Ut = params + L->off_u, .Vt = params + L->off_v, .W = params + L->off_w,
        .gamma = params + L->off_gamma, .beta = params + L->off_beta, .bt = bt,
        .N = L->N, .p = L->p, .B = B, .act = L->act, .layernorm = L->norm == GL_NORM_LAYERNORM,
        .loss = c->loss, .eps = c->norm_eps, .drop = c->dropout,
        .scale = (float)(1.0 / (1.0 - c->dropout)), .seed = c->seed, .step = step,
    };
    int nch, R = chunking(B, f->rows, f->lanes, &nch);
    int lanes = f->lanes, used = imin(lanes, nch);
    int nt = imin(omp_get_max_threads(), used);
    size_t np = L->n_params, stride = part_stride(L);

#pragma omp parallel num_threads(nt)
    {
        slot sl = slot_of(f, L, omp_get_thread_num(), c->dropout > 0);
#pragma omp for schedule(dynamic, 1)
        for (int lane = 0; lane < used; lane++) {
            float *gp = f->part + (size_t)lane * stride;
            memset(gp, 0, np * sizeof(float));
            for (int ch = lane; ch < nch; ch += lanes)
                f->loss_part[ch] = run_chunk(&ps, ch * R, imin(R, B - ch * R), &sl, gp);
        }
        /* grads = the lanes' partials, summed in lane order */
#pragma omp for schedule(static)
        for (size_t i0 = 0; i0 < np; i0 += RED_BLOCK) {
            size_t len = np - i0 < RED_BLOCK ? np - i0 : RED_BLOCK;
            float *restrict g = grads + i0;
            memcpy(g, f->part + i0, len * sizeof(float));
            for (int l = 1; l < used; l++) {
                const float *restrict q = f->part + (size_t)l * stride + i0;
                for (size_t i = 0; i < len; i++) g[i] += q[i];
            }
        }
    }
    double s = 0;
    for (int ch = 0; ch < nch; ch++) s += f->loss_part[ch];
    *loss = c->loss == GL_LOSS_MSE ? s / ((double)B * L->p) : s / B;
    return 0;
}
