/* groklab GPU backend: a population on the device (see pop.h): its arrays,
 * listed once in a table that both allocates them and sizes a member, and
 * the members' upload and download. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/gpu/pop.h"
#include "groklab/metrics.h"
#include "groklab/runtime.h"

_Static_assert((int)GK_ACT_IDENTITY == (int)GL_ACT_IDENTITY && (int)GK_ACT_GELU == (int)GL_ACT_GELU,
               "kernel activation codes");
_Static_assert((int)GK_NORM_LAYERNORM == (int)GL_NORM_LAYERNORM && (int)GK_LOSS_CE == (int)GL_LOSS_CE &&
                   (int)GK_OPT_SGD == (int)GL_OPT_SGD,
               "kernel enum codes");

const gl_dev_ops *gpop_device(void) {
    return gl_runtime_get()->gpu_emulate ? gl_dev_host_ops() : gl_dev_cuda_ops();
}

int gpop_rows(const gl_config *c, long n_train, long n_test) {
    long B = c->batch > 0 && c->batch < n_train ? c->batch : n_train;
    long most = n_train > n_test ? n_train : n_test;
    long R = B > 2048 || most <= B ? B : (most < 2048 ? most : 2048);
    /* a set a little larger than a large batch (4705 test rows to 4704
     * training rows at alpha 0.5): one chunk, not a second of a few rows */
    if (B > 2048 && most > B && most <= B + B / 8) R = most;
    return (int)(R > 0 ? R : 1);
}

/* out's row stride: p rounded up to 8 floats (32 bytes) */
static int out_stride(int p) { return (p + 7) / 8 * 8; }

/* the GL_RED_BLOCK blocks of np parameters that the methods' norms sum (k_optim.h) */
static size_t red_blocks(size_t np) { return (np + GL_RED_BLOCK - 1) / GL_RED_BLOCK; }

/* The sizes a population's arrays depend on. */
typedef struct shape {
    size_t M, R, N, p, ldo, np, T, S, nb, stat, part;
    size_t filter, init; /* per member: GrokFast's state, the initial weights (decay toward them) */
    int norm; /* without a norm z is a: the norm kernels are not run */
} shape;

/* The device arrays of the view: X(field, bytes per element, elements). */
#define GPOP_ARRAYS(X)                                                                             \
    X(mem, sizeof(gl_gmember), s->M)                                                               \
    X(P, 4, s->M * s->np) X(G, 4, s->M * s->np) X(M1, 4, s->M * s->np) X(M2, 4, s->M * s->np)       \
    X(filter, 4, s->M * s->filter) X(init, 4, s->M * s->init)                                      \
    X(run_mean, 4, s->M * s->N) X(run_var, 4, s->M * s->N)                                         \
    X(tr_m, 4, s->M * s->T) X(tr_n, 4, s->M * s->T) X(tr_y, 4, s->M * s->T)                        \
    X(tr_true, 4, s->M * s->T) X(perm, 4, s->M * s->T)                                             \
    X(te_m, 4, s->M * s->S) X(te_n, 4, s->M * s->S) X(te_y, 4, s->M * s->S)                        \
    X(bm, 4, s->M * s->R) X(bn, 4, s->M * s->R) X(by, 4, s->M * s->R) X(by2, 4, s->M * s->R)       \
    X(bid, 4, s->M * s->R)                                                                         \
    X(csr_off, 4, s->M * 2 * (s->p + 1)) X(csr_idx, 4, s->M * s->R * 2)                            \
    X(a, 4, s->M * s->R * s->N) X(z, 4, s->norm ? s->M * s->R * s->N : 0)                           \
    X(out, 4, s->M * s->R * s->ldo) X(keep, 1, s->M * s->R * s->N) /* members may differ in dropout */ \
    X(s1, 4, s->stat) X(s2, 4, s->stat) X(s3, 8, s->stat) X(s4, 8, s->stat)                        \
    X(rstd, 8, s->norm ? s->M * s->N : 0)                                                          \
    X(rowloss, 8, s->M * s->R) X(rowhit, 4, s->M * s->R) X(acc, 8, s->M * GL_ACC)                  \
    X(pred, 4, s->M * s->T)                                                                        \
    X(spec, 4, s->M * 3 * 2 * s->nb * s->N) X(part, 8, s->part)

static shape shape_of(const gl_config *c, size_t M, int R, long T, long S) {
    shape s;
    gl_layout L;
    gl_layout_init(&L, c->p, c->width, c->act, c->norm);
    s.M = M;
    s.R = (size_t)R;
    s.N = (size_t)c->width;
    s.p = (size_t)c->p;
    s.ldo = (size_t)out_stride(c->p);
    s.np = L.n_params;
    s.T = (size_t)T;
    s.S = (size_t)S;
    s.nb = s.p / 2 + 1;
    s.stat = M * (s.N > s.R ? s.N : s.R);
    size_t sums = GL_EVAL_SUMS * ((s.R + GL_EVAL_RUN - 1) / GL_EVAL_RUN), most = 3 * s.p > s.N ? 3 * s.p : s.N;
    if (red_blocks(s.np) > most) most = red_blocks(s.np);
    s.part = M * (sums > most ? sums : most);
    s.filter = c->grokfast == GL_GROKFAST_OFF ? 0 : c->grokfast == GL_GROKFAST_MA ? (size_t)c->grokfast_window * s.np : s.np;
    s.init = c->wd_toward == GL_WD_TO_INIT ? s.np : 0;
    s.norm = c->norm != GL_NORM_NONE;
    return s;
}

double gpop_member_bytes(const gl_config *c, int R, long T, long S) {
    shape sh = shape_of(c, 1, R, T, S), *s = &sh;
    double bytes = 0;
#define GPOP_SUM(field, size, count) bytes += (double)(size) * (double)(count);
    GPOP_ARRAYS(GPOP_SUM)
#undef GPOP_SUM
    return bytes;
}

static void *dev_alloc(gpop *g, size_t bytes, int *ok) {
    if (!*ok || !bytes) return NULL;
    if (g->n_blocks == GPOP_MAX_BLOCKS) {
        *ok = 0;
        return NULL;
    }
    void *p = g->ops->alloc(g->dev, bytes);
    if (!p) *ok = 0;
    else g->blocks[g->n_blocks++] = p;
    return p;
}

void gpop_free(gpop *g) {
    if (g->dev) {
        for (int i = 0; i < GPOP_GRAPHS; i++)
            if (g->graph[i]) g->ops->graph_release(g->dev, g->graph[i]);
        for (int i = 0; i < g->n_blocks; i++) g->ops->release(g->dev, g->blocks[i]);
        for (int i = 0; i < 2; i++) g->ops->host_release(g->dev, g->perm[i]);
        g->ops->close(g->dev);
    }
    free(g->t);
    free(g->grp_first);
    free(g->grp_rows);
    free(g->mem);
    free(g->acc);
    free(g->pred);
    free(g->epoch);
    memset(g, 0, sizeof *g);
}

/* Copies member data padded to T / S rows into one host array and uploads. */
static int upload_sets(gpop *g, int which, int32_t *dst, int rows, int *ok) {
    if (!*ok) return -1;
    int M = g->v.M;
    int32_t *host = calloc((size_t)M * (size_t)rows, sizeof(int32_t));
    if (!host) return *ok = 0, -1;
    for (int i = 0; i < M; i++) {
        const gl_dataset *d = gl_trainer_data(g->t[i]);
        const int32_t *src[] = {d->train_m, d->train_n, d->train_y, d->train_true,
                                d->test_m,  d->test_n,  d->test_y};
        int n = which < 4 ? d->n_train : d->n_test;
        memcpy(host + (size_t)i * rows, src[which], sizeof(int32_t) * (size_t)n);
    }
    g->ops->upload(g->dev, dst, host, sizeof(int32_t) * (size_t)M * (size_t)rows);
    free(host);
    return 0;
}

/* The IPR's basis: column j < nb is cos(2 pi j pos / n), nb + j is
 * -sin(...), at the residue of position pos (plan's basis; residues outside
 * it are zero rows), stored (p, 2nb) column-major with leading dimension
 * out_stride(p), as out's rows, so that the product's operand is aligned. */
static int upload_dft(gpop *g, const gl_config *c, gl_error *err) {
    gl_ipr_plan *plan;
    int p = c->p, ld = out_stride(p);
    int rc = gl_ipr_plan_create(&plan, p, 1, gl_config_basis(c), err);
    if (rc != 0) return rc;
    int n = gl_ipr_plan_length(plan), nb = gl_ipr_plan_bins(plan);
    float *F = calloc((size_t)ld * 2 * (size_t)nb, sizeof(float));
    if (!F) {
        gl_ipr_plan_free(plan);
        return gl_fail_nomem(err, "for the DFT basis");
    }
    for (int pos = 0; pos < n; pos++) {
        int res = gl_ipr_plan_index(plan, pos);
        for (int j = 0; j < nb; j++) {
            double ang = 2.0 * M_PI * (double)((long)j * pos % n) / n;
            F[res + (size_t)j * ld] = (float)cos(ang);
            F[res + (size_t)(nb + j) * ld] = (float)-sin(ang);
        }
    }
    g->v.n_ipr = n;
    g->v.nb = nb;
    g->ops->upload(g->dev, g->dft, F, sizeof(float) * (size_t)ld * 2 * (size_t)nb);
    free(F);
    gl_ipr_plan_free(plan);
    return 0;
}

static int by_train_size(const void *a, const void *b) {
    long x = gl_trainer_data(*(gl_trainer *const *)a)->n_train;
    long y = gl_trainer_data(*(gl_trainer *const *)b)->n_train;
    return (x > y) - (x < y);
}

/* Full batch: the sorted groups g[0..G) of equal rows partitioned into K
 * runs of consecutive groups, each run one set of GEMMs over its largest
 * rows (the others padded with zero rows). Fewer runs save the fixed cost
 * of a product (GPOP_PRODUCT_S seconds each, three per step); more runs
 * save the padding's arithmetic (row_s seconds per padded row of a member).
 * The K of least estimated time, into first (K + 1 group indices); returns
 * K (-1: out of memory). Beyond GPOP_MERGE_MAX groups, none are merged. */
#define GPOP_PRODUCT_S 5e-6
#define GPOP_MERGE_MAX 128
static int merge_groups(const int *rows, const int *count, int G, double row_s, int *first) {
    for (int q = 0; q <= G; q++) first[q] = q;
    if (G <= 1 || G > GPOP_MERGE_MAX) return G;
    /* best[k][j]: the fewest padded rows of groups [0, j) in k runs; cut: where its last run starts */
    double *best = malloc(sizeof(double) * (size_t)(G + 1) * (size_t)(G + 1));
    int *cut = malloc(sizeof(int) * (size_t)(G + 1) * (size_t)(G + 1));
    if (!best || !cut) {
        free(best);
        free(cut);
        return -1;
    }
#define AT(k, j) ((size_t)(k) * (size_t)(G + 1) + (size_t)(j))
    for (int j = 0; j <= G; j++) best[AT(0, j)] = j ? INFINITY : 0;
    int K = G;
    double least = INFINITY;
    for (int k = 1; k <= G; k++) {
        for (int j = 0; j <= G; j++) {
            best[AT(k, j)] = INFINITY;
            double members = 0;
            for (int a = j - 1; a >= 0; a--) { /* the last run is groups [a, j) */
                members += count[a];
                double c = best[AT(k - 1, a)] + members * rows[j - 1];
                if (c < best[AT(k, j)]) best[AT(k, j)] = c, cut[AT(k, j)] = a;
            }
        }
        double t = 3 * k * GPOP_PRODUCT_S + best[AT(k, G)] * row_s;
        if (t < least) least = t, K = k;
    }
    for (int k = K, j = G; k > 0; k--) {
        first[k] = j;
        j = cut[AT(k, j)];
    }
    first[0] = 0;
#undef AT
    free(best);
    free(cut);
    return K;
}

/* Members of equal rows per step, consecutive after sorting (full batch: the
 * training-set size, groups of nearly equal sizes merged by merge_groups;
 * minibatches: one group of the batch's rows). */
static int make_groups(gpop *g) {
    gl_gview *v = &g->v;
    int M = v->M, G = 0, minibatch = v->batch > 0 && v->batch < v->T;
    int *rows = malloc(sizeof(int) * (size_t)M), *count = malloc(sizeof(int) * (size_t)M),
        *start = malloc(sizeof(int) * (size_t)(M + 1)), *first = malloc(sizeof(int) * (size_t)(M + 1));
    g->grp_first = malloc(sizeof(int) * (size_t)(M + 1));
    g->grp_rows = malloc(sizeof(int) * (size_t)M);
    int rc = rows && count && start && first && g->grp_first && g->grp_rows ? 0 : -1;
    for (int i = 0; rc == 0 && i < M; i++) {
        int r = minibatch ? v->batch : gl_trainer_data(g->t[i])->n_train;
        if (G > 0 && rows[G - 1] == r) {
            count[G - 1]++;
            continue;
        }
        start[G] = i;
        rows[G] = r;
        count[G++] = 1;
    }
    /* a padded row's three products: 6 N p FLOP at half the device's FP32
     * peak (unknown, as on the emulator: 20 TFLOP/s) */
    char name[256];
    double peak = 0;
    g->ops->describe(g->dev, name, sizeof name, &peak);
    double row_s = 6.0 * v->N * v->p / (0.5 * (peak > 0 ? peak : 4e13));
    int K = rc == 0 ? merge_groups(rows, count, G, minibatch ? 0 : row_s, first) : -1;
    if (K < 0) rc = -1;
    for (int q = 0; rc == 0 && q < K; q++) {
        g->grp_first[q] = start[first[q]];
        g->grp_rows[q] = rows[first[q + 1] - 1];
    }
    if (rc == 0) {
        g->n_groups = K;
        g->grp_first[K] = M;
        /* padding rows inside a GEMM must be zero in every gradient */
        v->pad_zero = minibatch || K < G;
    }
    free(rows);
    free(count);
    free(start);
    free(first);
    return rc;
}

int gpop_create(gpop *g, gl_trainer **members, int M, gl_error *err) {
    memset(g, 0, sizeof *g);
    g->t = malloc(sizeof *g->t * (size_t)M);
    if (!g->t) return gl_fail_nomem(err, "for the population");
    memcpy(g->t, members, sizeof *g->t * (size_t)M);
    qsort(g->t, (size_t)M, sizeof *g->t, by_train_size); /* the results go back by pointer */
    members = g->t;
    const gl_config *c = gl_trainer_config(members[0]);
    long T = 1, S = 1, step0 = gl_trainer_step_count(members[0]);
    for (int i = 0; i < M; i++) {
        const gl_config *ci = gl_trainer_config(members[i]);
        if (!gl_gpu_compatible(c, ci)) {
            gpop_free(g);
            return gl_failc(err, GL_E_INTERNAL, "population members differ in shape (gl_gpu_compatible)");
        }
        if (gl_trainer_step_count(members[i]) != step0) {
            gpop_free(g);
            return gl_failc(err, GL_E_INTERNAL, "population members start at different steps (%ld and %ld)",
                           step0, gl_trainer_step_count(members[i]));
        }
        const gl_dataset *d = gl_trainer_data(members[i]);
        if (d->n_train > T) T = d->n_train;
        if (d->n_test > S) S = d->n_test;
    }
    g->ops = gpop_device();
    if (!g->ops) {
        gpop_free(g);
        return gl_failc(err, GL_E_NODEVICE, "--device cuda: this build has no CUDA backend (it is compiled "
                                            "when CMake finds nvcc); use --device cpu");
    }
    int rc = g->ops->open(&g->dev, err);
    if (rc != 0) {
        gpop_free(g);
        return rc;
    }
    const gl_layout *L = gl_trainer_layout(members[0]);
    gl_gview *v = &g->v;
    v->M = M;
    v->N = L->N;
    v->p = L->p;
    v->ldo = out_stride(L->p);
    v->np = (long)L->n_params;
    v->off_u = (long)L->off_u;
    v->off_v = (long)L->off_v;
    v->off_w = (long)L->off_w;
    v->off_g = (long)L->off_gamma;
    v->off_b = (long)L->off_beta;
    v->act = c->act;
    v->norm = c->norm;
    v->loss = c->loss;
    v->optim = c->optim;
    v->batch = c->batch;
    v->drop_last = c->drop_last;
    v->T = (int)T;
    v->S = (int)S;
    v->ipr_full = c->ipr == GL_IPR_FULL;
    v->gf = c->grokfast;
    v->gf_window = c->grokfast_window;
    v->clip = c->clip > 0;
    v->wnorm = c->weight_norm > 0;
    v->wd_init = c->wd_toward == GL_WD_TO_INIT;
    v->wd_matrices = c->wd_groups == GL_WD_MATRICES;
    v->train_norm = c->trainable == GL_TRAIN_NORM;
    v->nchunk = (int)red_blocks((size_t)v->np);
    int R = gpop_rows(c, T, S);
    v->R = R;
    int N = v->N, p = v->p;
    size_t Mz = (size_t)M, np = (size_t)v->np, nb = (size_t)(p / 2 + 1);
    int ok = 1;
    g->mem = calloc(Mz, sizeof *g->mem);
    g->acc = calloc(Mz * GL_ACC, sizeof(double));
    g->pred = malloc(sizeof(int32_t) * Mz * (size_t)T);
    int minibatch = c->batch > 0 && c->batch < T;
    for (int i = 0; i < 2 && minibatch; i++)
        g->perm[i] = g->ops->host_alloc(g->dev, sizeof(int32_t) * Mz * (size_t)T);
    g->epoch = malloc(sizeof(long) * Mz);
    if (!g->mem || !g->acc || !g->pred || (minibatch && (!g->perm[0] || !g->perm[1])) || !g->epoch ||
        make_groups(g) != 0)
        ok = 0;
    shape sh = shape_of(c, Mz, R, T, S), *s = &sh;
#define GPOP_ALLOC(field, size, count) v->field = dev_alloc(g, (size_t)(size) * (size_t)(count), &ok);
    GPOP_ARRAYS(GPOP_ALLOC)
#undef GPOP_ALLOC
    if (!v->z) v->z = v->a;
    g->dft = dev_alloc(g, 4 * (size_t)out_stride(p) * 2 * nb, &ok);
    int32_t *sets[] = {v->tr_m, v->tr_n, v->tr_y, v->tr_true, v->te_m, v->te_n, v->te_y};
    for (int w = 0; w < 7; w++) upload_sets(g, w, sets[w], w < 4 ? v->T : v->S, &ok);
    if (!ok) { /* the caller may try fewer members at once */
        gpop_free(g);
        return gl_failc(err, GL_E_NOMEM, "out of GPU memory for a population of %d (about %.1f MiB each)", M,
                        gpop_member_bytes(c, R, T, S) / 1048576.0);
    }
    if ((rc = upload_dft(g, c, err)) != 0) {
        gpop_free(g);
        return rc;
    }
    /* members: settings, weights, optimizer state, running statistics */
    float *buf = malloc(4 * Mz * np);
    if (!buf) {
        gpop_free(g);
        return gl_fail_nomem(err, "for the upload");
    }
    for (int i = 0; i < M; i++) {
        const gl_config *ci = gl_trainer_config(members[i]);
        const gl_dataset *d = gl_trainer_data(members[i]);
        gl_gmember *m = &g->mem[i];
        m->lr = ci->lr;
        m->wd = ci->wd;
        m->beta1 = ci->beta1;
        m->beta2 = ci->beta2;
        m->eps = ci->eps;
        m->momentum = ci->momentum;
        m->dropout = ci->dropout;
        m->bn_momentum = ci->bn_momentum;
        m->norm_eps = ci->norm_eps;
        m->seed = ci->seed;
        m->warmup = ci->warmup;
        m->steps = ci->steps;
        m->lr_decay = ci->lr_decay;
        m->gf_alpha = ci->grokfast_alpha;
        m->gf_lambda = gl_grokfast_lambda(ci);
        m->clip = ci->clip;
        m->weight_norm = ci->weight_norm;
        m->init_norm = members[i]->init_norm;
        m->n_train = d->n_train;
        m->n_test = d->n_test;
        m->n_corrupt = d->n_corrupt;
        m->alive = gl_trainer_diverged_at(members[i]) < 0;
        m->diverged_at = gl_trainer_diverged_at(members[i]);
        m->step = step0;
        g->epoch[i] = -1;
    }
    g->step = step0;
    g->graphs = !gl_runtime_get()->gpu_direct;
    g->ops->upload(g->dev, v->mem, g->mem, sizeof(gl_gmember) * Mz);
    float *dst[] = {v->P, v->M1, v->M2};
    for (int w = 0; w < 3; w++) {
        for (int i = 0; i < M; i++) {
            const float *src = w == 0 ? gl_trainer_params(members[i])
                                      : gl_trainer_moment(members[i], w - 1);
            if (src) memcpy(buf + (size_t)i * np, src, 4 * np);
            else memset(buf + (size_t)i * np, 0, 4 * np);
        }
        g->ops->upload(g->dev, dst[w], buf, 4 * Mz * np);
    }
    for (int w = 0; w < 2; w++) {
        for (int i = 0; i < M; i++) {
            const float *src = gl_trainer_running(members[i], w);
            for (int k = 0; k < N; k++) buf[(size_t)i * N + k] = src ? src[k] : (float)w;
        }
        g->ops->upload(g->dev, w ? v->run_var : v->run_mean, buf, 4 * Mz * (size_t)N);
    }
    if (v->init) {
        for (int i = 0; i < M; i++) memcpy(buf + (size_t)i * np, gl_trainer_init_params(members[i]), 4 * np);
        g->ops->upload(g->dev, v->init, buf, 4 * Mz * np);
    }
    free(buf);
    /* GrokFast's state, one member's at a time (the MA filter holds window gradients) */
    for (int i = 0; v->filter && i < M; i++) {
        int64_t fs[2];
        const float *f = gl_trainer_filter(members[i], fs);
        size_t len = (size_t)(fs[0] * fs[1]);
        g->ops->upload(g->dev, v->filter + i * len, f, 4 * len);
    }
    return 0;
}

/* Copies the weights and running statistics back, with optimizer also the
 * optimizer's state and GrokFast's filter (pop.h). */
int gpop_download(gpop *g, int optimizer, gl_error *err) {
    gl_gview *v = &g->v;
    size_t np = (size_t)v->np, M = (size_t)v->M, N = (size_t)v->N;
    float *buf = malloc(4 * M * np);
    if (!buf) return gl_fail_nomem(err, "for the download");
    const float *src[] = {v->P, v->M1, v->M2};
    for (int w = 0; w < (optimizer ? 3 : 1); w++) {
        g->ops->download(g->dev, buf, src[w], 4 * M * np);
        for (size_t i = 0; i < M; i++) {
            float *dst = w == 0 ? gl_trainer_params(g->t[i]) : gl_trainer_moment(g->t[i], w - 1);
            if (dst) memcpy(dst, buf + i * np, 4 * np);
        }
    }
    for (int w = 0; w < 2; w++) {
        g->ops->download(g->dev, buf, w ? v->run_var : v->run_mean, 4 * M * N);
        for (size_t i = 0; i < M; i++) {
            float *dst = gl_trainer_running(g->t[i], w);
            if (dst) memcpy(dst, buf + i * N, 4 * N);
        }
    }
    for (size_t i = 0; optimizer && v->filter && i < M; i++) { /* GrokFast's state, for the checkpoint */
        int64_t fs[2];
        float *f = gl_trainer_filter(g->t[i], fs);
        size_t len = (size_t)(fs[0] * fs[1]);
        g->ops->download(g->dev, f, v->filter + i * len, 4 * len);
    }
    free(buf);
    return g->ops->sync(g->dev, err);
}

