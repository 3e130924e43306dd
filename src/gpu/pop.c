/* groklab GPU backend: a population of two-layer MLPs trained in lockstep.
 *
 * The order of one step, for all M members at once (kernels.h has the
 * bodies, dev.h the device):
 *
 *   batch_rows, gather, csr_*    the batch (full batch: once, until an
 *                                evaluation reuses the buffers)
 *   hidden                       h = Ut[m] + Vt[n], dropout, a = phi(h)
 *   bn_stats | ln_stats, norm    z = norm(a)
 *   GEMM                         out = z W^T
 *   mse_grad | loss_rows         dL/dout; a member whose loss is not finite stops
 *   GEMM, GEMM                   dW = dout^T z, dz = dout W
 *   *_back                       through the norm
 *   embed_back                   through the activation and dropout: dUt,
 *                                dVt gathered by operand (csr)
 *   optim_prep, optim            AdamW / Adam / SGD
 *
 * The host keeps only the step count and, with minibatches, draws each
 * member's epoch permutation with the CPU's gl_shuffle and uploads it. At a
 * logging step the population is evaluated on the GPU (norms, IPR as a GEMM
 * with the DFT matrix, accuracies and losses on every subset) and GL_ACC
 * numbers per member come back. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu/dev.h"
#include "groklab/gpu.h"
#include "groklab/metrics.h"
#include "groklab/rng.h"

_Static_assert((int)GK_ACT_IDENTITY == (int)GL_ACT_IDENTITY &&
                   (int)GK_ACT_GELU == (int)GL_ACT_GELU,
               "kernel activation codes");
_Static_assert((int)GK_NORM_LAYERNORM == (int)GL_NORM_LAYERNORM &&
                   (int)GK_LOSS_CE == (int)GL_LOSS_CE && (int)GK_OPT_SGD == (int)GL_OPT_SGD,
               "kernel enum codes");

typedef struct gpop {
    const gl_dev_ops *ops;
    gl_dev *dev;
    gl_trainer **t;
    gl_gview v;              /* device pointers and sizes */
    gl_gmember *mem;         /* (M) host copy */
    double *acc;             /* (M, GL_ACC) host copy */
    int32_t *perm;           /* (T) host scratch for one member's permutation */
    long *epoch;             /* (M) epoch whose permutation is on the device */
    float *dft;              /* device (p, 2nb): the IPR's basis functions */
    int batch_ready;         /* the batch buffers hold this step's rows (full batch) */
    /* Full batch: members sorted by training-set size form groups of equal
     * rows, and each group's GEMMs cover its rows only (no padding work). */
    int n_groups;
    int *grp_first, *grp_rows; /* (n_groups + 1) first member; (n_groups) rows */
    double last_progress;      /* when the trainers' progress callbacks were last called */
    gl_gpu_profile *prof;      /* gl_gpu_bench: each operation synchronized and timed */
    int prof_failed;           /* a synchronization of the profile reported an error */
    void *blocks[48];
    int n_blocks;
} gpop;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int gl_gpu_compatible(const gl_config *a, const gl_config *b) {
    return strcmp(a->task, b->task) == 0 && a->p == b->p && a->width == b->width &&
           a->arch == b->arch && a->act == b->act && a->norm == b->norm && a->loss == b->loss &&
           a->optim == b->optim && a->batch == b->batch && a->steps == b->steps &&
           a->ipr == b->ipr && gl_config_basis(a) == gl_config_basis(b) &&
           a->log_every == b->log_every && a->log_points == b->log_points;
}

int gl_gpu_check_config(const gl_config *c, gl_error *err) {
    if (c->arch != GL_ARCH_MLP)
        return gl_fail(err,
                       "--device cuda: the CUDA backend trains the two-layer MLP (--model mlp); "
                       "use --device cpu for --model %s",
                       gl_arch_name(c->arch));
    return 0;
}

/* Rows per member: the batch, and at least a useful evaluation chunk. */
static int rows_of(const gl_config *c, long n_train, long n_test) {
    long B = c->batch > 0 && c->batch < n_train ? c->batch : n_train;
    long most = n_train > n_test ? n_train : n_test;
    long R = B > 2048 || most <= B ? B : (most < 2048 ? most : 2048);
    return (int)(R > 0 ? R : 1);
}

static double member_bytes(const gl_config *c, int R, long T, long S, long np) {
    double N = c->width, p = c->p, nb = p / 2 + 1;
    double floats = 4.0 * np + 2 * N + R * (2 * N + p) + 2 * (N > R ? N : R) + 6 * nb * N;
    double doubles = 2 * (N > R ? N : R) + R + (3 * p > N ? 3 * p : N) + GL_ACC;
    double ints = 5.0 * R + 2 * (p + 1) + 2.0 * R + R + 5.0 * T + 3.0 * S;
    return 4 * floats + 8 * doubles + 4 * ints + R * N /* keep */ + sizeof(gl_gmember);
}

static const gl_dev_ops *pick_ops(int emulate) {
    const char *e = getenv("GROKLAB_GPU_EMULATE");
    if (emulate || (e && (strcmp(e, "1") == 0 || strcmp(e, "strict") == 0)))
        return gl_dev_host_ops();
    return gl_dev_cuda_ops();
}

/* Opening a device (a CUDA context, a cuBLAS handle) takes milliseconds and
 * configs are validated often (a sweep validates every point): the answer is
 * found once per process. */
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int probe_ok;
static char probe_why[GL_ERRLEN];

static void probe(void) {
    const gl_dev_ops *ops = pick_ops(0);
    if (!ops) {
        snprintf(probe_why, sizeof probe_why,
                 "this build has no CUDA backend (it is compiled when CMake finds nvcc; "
                 "configure with -DGL_CUDA=ON to require it)");
        return;
    }
    gl_dev *d;
    gl_error e;
    if (ops->open(&d, &e) != 0) {
        snprintf(probe_why, sizeof probe_why, "%s", e.msg);
        return;
    }
    ops->close(d);
    probe_ok = 1;
}

int gl_gpu_available(char *why, size_t cap) {
    pthread_once(&probe_once, probe);
    if (!probe_ok) snprintf(why, cap, "%s", probe_why);
    return probe_ok;
}

int gl_gpu_population_fit(const gl_config *c, gl_error *err) {
    const gl_dev_ops *ops = pick_ops(0);
    if (!ops) return gl_fail(err, "this build has no CUDA backend");
    gl_dev *d;
    if (ops->open(&d, err) != 0) return -1;
    double free_b = ops->free_bytes(d);
    ops->close(d);
    gl_layout L;
    gl_layout_init(&L, c->p, c->width, c->act, c->norm);
    long pairs = gl_task_pairs(c->task, c->p), T = (long)floor(c->frac * (double)pairs);
    if (T < 1) T = 1;
    /* the largest member of any alpha: all pairs in both sets */
    double per = member_bytes(c, rows_of(c, pairs, pairs), pairs, pairs, (long)L.n_params);
    long M = (long)(0.85 * free_b / per);
    if (M < 1)
        return gl_fail(err, "one model of this size (%.1f MiB) does not fit the GPU's %.1f MiB free",
                       per / 1048576.0, free_b / 1048576.0);
    return M > 65536 ? 65536 : (int)M;
}

static void *dev_alloc(gpop *g, size_t bytes, int *ok) {
    if (!*ok || g->n_blocks == (int)(sizeof g->blocks / sizeof g->blocks[0])) {
        *ok = 0;
        return NULL;
    }
    void *p = g->ops->alloc(g->dev, bytes);
    if (!p) *ok = 0;
    else g->blocks[g->n_blocks++] = p;
    return p;
}

static void gpop_free(gpop *g) {
    if (g->dev) {
        for (int i = 0; i < g->n_blocks; i++) g->ops->release(g->dev, g->blocks[i]);
        g->ops->close(g->dev);
    }
    free(g->t);
    free(g->grp_first);
    free(g->grp_rows);
    free(g->mem);
    free(g->acc);
    free(g->perm);
    free(g->epoch);
}

/* Profiling: waits for the queued work (an error shows at the bench's own sync) */
static double prof_start(gpop *g) {
    gl_error e;
    if (g->ops->sync(g->dev, &e) != 0) g->prof_failed = 1;
    return now();
}

/* Profiling: once the operation is done, adds the time since t0 to the entry named what */
static void prof_add(gpop *g, const char *what, double t0) {
    double ms = 1e3 * (prof_start(g) - t0);
    gl_gpu_profile *p = g->prof;
    int i = 0;
    while (i < p->n && strcmp(p->op[i].name, what) != 0) i++;
    if (i == GL_GPU_PROFILE_OPS) return;
    if (i == p->n) {
        p->n++;
        snprintf(p->op[i].name, sizeof p->op[i].name, "%s", what);
        p->op[i].calls = 0;
        p->op[i].ms = 0;
    }
    p->op[i].calls++;
    p->op[i].ms += ms;
}

static void launch(gpop *g, gl_kernel k, long rows, long cols) {
    double t0 = g->prof ? prof_start(g) : 0;
    g->ops->launch(g->dev, k, rows, cols, &g->v);
    if (g->prof) prof_add(g, gl_kernel_name(k), t0);
}

/* the device's batched GEMM (dev.h), named for the profile */
static void gemm(gpop *g, const char *what, int ta, int tb, int m, int n, int k, const float *A,
                 int lda, long sa, const float *B, int ldb, long sb, float *C, int ldc, long sc,
                 int batch) {
    double t0 = g->prof ? prof_start(g) : 0;
    g->ops->gemm(g->dev, ta, tb, m, n, k, A, lda, sa, B, ldb, sb, C, ldc, sc, batch);
    if (g->prof) prof_add(g, what, t0);
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
 * it are zero rows), stored (p, 2nb) column-major with leading dimension p. */
static int upload_dft(gpop *g, const gl_config *c, gl_error *err) {
    gl_ipr_plan *plan;
    int p = c->p, N = c->width;
    if (gl_ipr_plan_create(&plan, p, 1, gl_config_basis(c), err) != 0) return -1;
    int n = gl_ipr_plan_length(plan), nb = gl_ipr_plan_bins(plan);
    float *F = calloc((size_t)p * 2 * (size_t)nb, sizeof(float));
    if (!F) {
        gl_ipr_plan_free(plan);
        return gl_fail(err, "out of memory");
    }
    for (int pos = 0; pos < n; pos++) {
        int res = gl_ipr_plan_index(plan, pos);
        for (int j = 0; j < nb; j++) {
            double ang = 2.0 * M_PI * (double)((long)j * pos % n) / n;
            F[res + (size_t)j * p] = (float)cos(ang);
            F[res + (size_t)(nb + j) * p] = (float)-sin(ang);
        }
    }
    g->v.n_ipr = n;
    g->v.nb = nb;
    g->ops->upload(g->dev, g->dft, F, sizeof(float) * (size_t)p * 2 * (size_t)nb);
    free(F);
    gl_ipr_plan_free(plan);
    (void)N;
    return 0;
}

static int by_train_size(const void *a, const void *b) {
    long x = gl_trainer_data(*(gl_trainer *const *)a)->n_train;
    long y = gl_trainer_data(*(gl_trainer *const *)b)->n_train;
    return (x > y) - (x < y);
}

/* Members of equal rows per step, consecutive after sorting (full batch: the
 * training-set size; minibatches: one group of R rows). */
static int make_groups(gpop *g) {
    gl_gview *v = &g->v;
    g->grp_first = malloc(sizeof(int) * (size_t)(v->M + 1));
    g->grp_rows = malloc(sizeof(int) * (size_t)v->M);
    if (!g->grp_first || !g->grp_rows) return -1;
    g->n_groups = 0;
    for (int i = 0; i < v->M; i++) {
        int rows = v->batch > 0 && v->batch < v->T ? v->R : gl_trainer_data(g->t[i])->n_train;
        if (g->n_groups > 0 && g->grp_rows[g->n_groups - 1] == rows) continue;
        g->grp_first[g->n_groups] = i;
        g->grp_rows[g->n_groups++] = rows;
    }
    g->grp_first[g->n_groups] = v->M;
    return 0;
}

static int gpop_create(gpop *g, gl_trainer **members, int M, int emulate, gl_error *err) {
    memset(g, 0, sizeof *g);
    g->t = malloc(sizeof *g->t * (size_t)M);
    if (!g->t) return gl_fail(err, "out of memory");
    memcpy(g->t, members, sizeof *g->t * (size_t)M);
    qsort(g->t, (size_t)M, sizeof *g->t, by_train_size); /* the results go back by pointer */
    members = g->t;
    const gl_config *c = gl_trainer_config(members[0]);
    if (gl_gpu_check_config(c, err) != 0) {
        gpop_free(g);
        return -1;
    }
    long T = 1, S = 1, step0 = gl_trainer_step_count(members[0]);
    for (int i = 0; i < M; i++) {
        const gl_config *ci = gl_trainer_config(members[i]);
        if (!gl_gpu_compatible(c, ci)) {
            gpop_free(g);
            return gl_fail(err, "population members differ in shape (gl_gpu_compatible)");
        }
        if (gl_trainer_step_count(members[i]) != step0) {
            gpop_free(g);
            return gl_fail(err, "population members start at different steps (%ld and %ld)",
                           step0, gl_trainer_step_count(members[i]));
        }
        const gl_dataset *d = gl_trainer_data(members[i]);
        if (d->n_train > T) T = d->n_train;
        if (d->n_test > S) S = d->n_test;
    }
    g->ops = pick_ops(emulate);
    if (!g->ops || g->ops->open(&g->dev, err) != 0) {
        if (!g->ops)
            gl_fail(err, "--device cuda: this build has no CUDA backend (it is compiled when "
                         "CMake finds nvcc); use --device cpu");
        gpop_free(g);
        return -1;
    }
    const gl_layout *L = gl_trainer_layout(members[0]);
    gl_gview *v = &g->v;
    v->M = M;
    v->N = L->N;
    v->p = L->p;
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
    v->T = (int)T;
    v->S = (int)S;
    v->ipr_full = c->ipr == GL_IPR_FULL;
    int R = rows_of(c, T, S);
    v->R = R;
    int N = v->N, p = v->p;
    size_t Mz = (size_t)M, MR = Mz * (size_t)R, np = (size_t)v->np;
    size_t stat = Mz * (size_t)(N > R ? N : R), nb = (size_t)(p / 2 + 1);
    int ok = 1;
    g->mem = calloc(Mz, sizeof *g->mem);
    g->acc = calloc(Mz * GL_ACC, sizeof(double));
    g->perm = malloc(sizeof(int32_t) * (size_t)T);
    g->epoch = malloc(sizeof(long) * Mz);
    if (!g->mem || !g->acc || !g->perm || !g->epoch || make_groups(g) != 0) ok = 0;
    v->pad_zero = !(v->batch <= 0 || v->batch >= v->T);
    v->mem = dev_alloc(g, sizeof(gl_gmember) * Mz, &ok);
    v->P = dev_alloc(g, 4 * Mz * np, &ok);
    v->G = dev_alloc(g, 4 * Mz * np, &ok);
    v->M1 = dev_alloc(g, 4 * Mz * np, &ok);
    v->M2 = dev_alloc(g, 4 * Mz * np, &ok);
    v->run_mean = dev_alloc(g, 4 * Mz * (size_t)N, &ok);
    v->run_var = dev_alloc(g, 4 * Mz * (size_t)N, &ok);
    v->tr_m = dev_alloc(g, 4 * Mz * (size_t)T, &ok);
    v->tr_n = dev_alloc(g, 4 * Mz * (size_t)T, &ok);
    v->tr_y = dev_alloc(g, 4 * Mz * (size_t)T, &ok);
    v->tr_true = dev_alloc(g, 4 * Mz * (size_t)T, &ok);
    v->perm = dev_alloc(g, 4 * Mz * (size_t)T, &ok);
    v->te_m = dev_alloc(g, 4 * Mz * (size_t)S, &ok);
    v->te_n = dev_alloc(g, 4 * Mz * (size_t)S, &ok);
    v->te_y = dev_alloc(g, 4 * Mz * (size_t)S, &ok);
    v->bm = dev_alloc(g, 4 * MR, &ok);
    v->bn = dev_alloc(g, 4 * MR, &ok);
    v->by = dev_alloc(g, 4 * MR, &ok);
    v->by2 = dev_alloc(g, 4 * MR, &ok);
    v->bid = dev_alloc(g, 4 * MR, &ok);
    v->csr_off = dev_alloc(g, 4 * Mz * 2 * (size_t)(p + 1), &ok);
    v->csr_idx = dev_alloc(g, 4 * MR * 2, &ok);
    v->a = dev_alloc(g, 4 * MR * (size_t)N, &ok);
    /* without a norm z is a: the norm kernels are not run */
    v->z = c->norm == GL_NORM_NONE ? v->a : dev_alloc(g, 4 * MR * (size_t)N, &ok);
    v->out = dev_alloc(g, 4 * MR * (size_t)p, &ok);
    v->keep = dev_alloc(g, MR * (size_t)N, &ok); /* members may differ in dropout */
    v->s1 = dev_alloc(g, 4 * stat, &ok);
    v->s2 = dev_alloc(g, 4 * stat, &ok);
    v->s3 = dev_alloc(g, 8 * stat, &ok);
    v->s4 = dev_alloc(g, 8 * stat, &ok);
    v->rowloss = dev_alloc(g, 8 * MR, &ok);
    v->rowhit = dev_alloc(g, 4 * MR, &ok);
    v->acc = dev_alloc(g, 8 * Mz * GL_ACC, &ok);
    v->spec = dev_alloc(g, 4 * Mz * 3 * 2 * nb * (size_t)N, &ok);
    v->part = dev_alloc(g, 8 * Mz * (size_t)(3 * p > N ? 3 * p : N), &ok);
    g->dft = dev_alloc(g, 4 * (size_t)p * 2 * nb, &ok);
    int32_t *sets[] = {v->tr_m, v->tr_n, v->tr_y, v->tr_true, v->te_m, v->te_n, v->te_y};
    for (int w = 0; w < 7; w++) upload_sets(g, w, sets[w], w < 4 ? v->T : v->S, &ok);
    if (!ok) { /* -2: the caller may try fewer members at once */
        gpop_free(g);
        gl_fail(err, "out of GPU memory for a population of %d (about %.1f MiB each)", M,
                member_bytes(c, R, T, S, v->np) / 1048576.0);
        return -2;
    }
    if (upload_dft(g, c, err) != 0) {
        gpop_free(g);
        return -1;
    }
    /* members: settings, weights, optimizer state, running statistics */
    float *buf = malloc(4 * Mz * np);
    if (!buf) {
        gpop_free(g);
        return gl_fail(err, "out of memory");
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
        m->n_train = d->n_train;
        m->n_test = d->n_test;
        m->n_corrupt = d->n_corrupt;
        m->alive = gl_trainer_diverged_at(members[i]) < 0;
        m->diverged_at = gl_trainer_diverged_at(members[i]);
        g->epoch[i] = -1;
    }
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
    free(buf);
    return 0;
}

/* The rows of this step (training) or of an evaluation chunk, grouped by
 * operand for the embedding's backward. */
static void load_batch(gpop *g, int with_csr) {
    gl_gview *v = &g->v;
    long M = v->M;
    launch(g, GL_K_batch_rows, M, 1);
    launch(g, GL_K_gather, M, v->R);
    if (!with_csr) return;
    launch(g, GL_K_csr_count, 2 * M, v->p);
    launch(g, GL_K_csr_scan, 2 * M, 1);
    launch(g, GL_K_csr_fill, 2 * M, v->p);
}

/* Minibatches: uploads the permutation of every member whose epoch changed. */
static void refresh_perms(gpop *g) {
    gl_gview *v = &g->v;
    for (int i = 0; i < v->M; i++) {
        const gl_config *c = gl_trainer_config(g->t[i]);
        long n = g->mem[i].n_train, nb = (n + v->batch - 1) / v->batch, e = v->step / nb;
        if (v->batch >= n || e == g->epoch[i]) continue;
        for (int32_t k = 0; k < n; k++) g->perm[k] = k;
        gl_shuffle(g->perm, (int32_t)n, c->seed, GL_STREAM_MINIBATCH, (uint32_t)e);
        g->ops->upload(g->dev, v->perm + (size_t)i * v->T, g->perm, sizeof(int32_t) * (size_t)n);
        g->epoch[i] = e;
    }
}

/* z = norm(a) and out = z W^T for the loaded rows (training or evaluation mode) */
static void forward(gpop *g) {
    gl_gview *v = &g->v;
    long M = v->M, MR = M * v->R;
    launch(g, GL_K_hidden, MR, v->N);
    if (v->norm == GL_NORM_BATCHNORM) {
        if (v->training) launch(g, GL_K_bn_stats, M, v->N);
        launch(g, GL_K_norm, MR, v->N);
    } else if (v->norm == GL_NORM_LAYERNORM) {
        launch(g, GL_K_ln_stats, M, v->R);
        launch(g, GL_K_norm, MR, v->N);
    }
    /* out (R, p) row-major = z (R, N) W^T: column-major out^T (p, R) = W z^T */
    for (int q = 0; q < (v->training ? g->n_groups : 1); q++) {
        long i0 = v->training ? g->grp_first[q] : 0;
        int n = v->training ? g->grp_first[q + 1] - g->grp_first[q] : v->M;
        int rows = v->training ? g->grp_rows[q] : v->R;
        gemm(g, "gemm out = z W^T", 1, 0, v->p, rows, v->N, v->P + i0 * v->np + v->off_w, v->N,
             v->np, v->z + i0 * v->R * v->N, v->N, (long)v->R * v->N, v->out + i0 * v->R * v->p,
             v->p, (long)v->R * v->p, n);
    }
}

static void train_step(gpop *g) {
    gl_gview *v = &g->v;
    long M = v->M, MR = M * v->R;
    int full = v->batch <= 0 || v->batch >= v->T;
    v->training = 1;
    if (!full) refresh_perms(g);
    if (!full || !g->batch_ready) load_batch(g, 1);
    g->batch_ready = full;
    forward(g);
    if (v->loss == GL_LOSS_MSE) launch(g, GL_K_mse_grad, M * v->R, v->p);
    else launch(g, GL_K_loss_rows, M, v->R);
    for (int q = 0; q < g->n_groups; q++) {
        long i0 = g->grp_first[q], RN = (long)v->R * v->N, Rp = (long)v->R * v->p;
        int n = g->grp_first[q + 1] - g->grp_first[q], rows = g->grp_rows[q];
        /* dW (p, N) row-major = dout^T z: column-major dW^T (N, p) = z^T dout */
        gemm(g, "gemm dW = dout^T z", 0, 1, v->N, v->p, rows, v->z + i0 * RN, v->N, RN,
             v->out + i0 * Rp, v->p, Rp, v->G + i0 * v->np + v->off_w, v->N, v->np, n);
        /* dz (R, N) = dout W: column-major dz^T (N, R) = W^T dout^T; into z
         * (a without a norm, which is no longer needed) */
        gemm(g, "gemm dz = dout W", 0, 0, v->N, rows, v->p, v->P + i0 * v->np + v->off_w, v->N,
             v->np, v->out + i0 * Rp, v->p, Rp, v->z + i0 * RN, v->N, RN, n);
    }
    if (v->norm == GL_NORM_BATCHNORM) {
        launch(g, GL_K_bn_back_sums, M, v->N);
        launch(g, GL_K_norm_back, MR, v->N);
    } else if (v->norm == GL_NORM_LAYERNORM) {
        launch(g, GL_K_ln_back_rows, M, v->R);
        launch(g, GL_K_ln_back_cols, M, v->N);
        launch(g, GL_K_norm_back, MR, v->N);
    }
    launch(g, GL_K_embed_back, 2 * M * v->p, v->N);
    launch(g, GL_K_optim_prep, M, 1);
    launch(g, GL_K_optim, M, v->np);
    v->step++;
}

/* Evaluates every member into g->acc (host). */
static int evaluate(gpop *g, gl_error *err) {
    gl_gview *v = &g->v;
    long M = v->M;
    memset(g->acc, 0, sizeof(double) * (size_t)M * GL_ACC);
    g->ops->upload(g->dev, v->acc, g->acc, sizeof(double) * (size_t)M * GL_ACC);
    launch(g, GL_K_norm_rows, 3 * M, v->p);
    launch(g, GL_K_norm_sum, 3 * M, 1);
    /* spectra: column-major S^T (N, 2nb) = X^T (N, p) F (p, 2nb) for X = Ut, Vt, W */
    long offs[3] = {v->off_u, v->off_v, v->off_w}, nb2 = 2L * v->nb;
    for (int c = 0; c < 3; c++)
        gemm(g, "gemm spectra", 0, 0, v->N, (int)nb2, v->p, v->P + offs[c], v->N, v->np, g->dft,
             v->p, 0, v->spec + (long)c * nb2 * v->N, v->N, 3 * nb2 * v->N, v->M);
    launch(g, GL_K_ipr, M, v->N);
    launch(g, GL_K_ipr_mean, M, 1);
    v->training = 0;
    for (int set = GK_SET_TRAIN; set <= GK_SET_TEST; set++) {
        v->set = set;
        int most = set == GK_SET_TRAIN ? v->T : v->S;
        for (v->start = 0; v->start < most; v->start += v->R) {
            load_batch(g, 0);
            forward(g);
            launch(g, GL_K_loss_rows, M, v->R);
            launch(g, GL_K_eval_acc, M, 1);
        }
    }
    v->start = 0;
    g->batch_ready = 0;
    g->ops->download(g->dev, g->acc, v->acc, sizeof(double) * (size_t)M * GL_ACC);
    g->ops->download(g->dev, g->mem, v->mem, sizeof(gl_gmember) * (size_t)M);
    return g->ops->sync(g->dev, err);
}

static double ratio(double num, long den) { return den > 0 ? num / (double)den : NAN; }

static void metrics_of(const gpop *g, int i, long step, gl_metrics *r) {
    const double *a = g->acc + (size_t)i * GL_ACC;
    const gl_gmember *m = &g->mem[i];
    double lden = g->v.loss == GL_LOSS_MSE ? (double)g->v.p : 1.0;
    r->step = step;
    r->train_loss = ratio(a[GL_ACC_TRAIN_LOSS] / lden, m->n_train);
    r->test_loss = ratio(a[GL_ACC_TEST_LOSS] / lden, m->n_test);
    r->train_acc = ratio(a[GL_ACC_TRAIN_HIT], m->n_train);
    r->test_acc = ratio(a[GL_ACC_TEST_HIT], m->n_test);
    r->corrupted_acc = ratio(a[GL_ACC_LO_HIT], m->n_corrupt);
    r->corrupted_true_acc = ratio(a[GL_ACC_LO_HIT2], m->n_corrupt);
    r->clean_acc = ratio(a[GL_ACC_HI_HIT], (long)m->n_train - m->n_corrupt);
    r->norm_u = sqrt(a[GL_ACC_SQ_U]);
    r->norm_v = sqrt(a[GL_ACC_SQ_V]);
    r->norm_w = sqrt(a[GL_ACC_SQ_W]);
    r->mean_ipr = a[GL_ACC_IPR];
}

/* Logs the population at the current step (evaluated on the device): a row
 * for each member with skip[i] == 0 that is still training, and for one that
 * stopped since, its divergence row (the weights frozen at the failed step,
 * as the CPU logs it); stopped members get skip[i] = 1. With only_stopped,
 * rows only for the stopped ones. */
static int log_rows(gpop *g, int *skip, int only_stopped, gl_error *err) {
    if (evaluate(g, err) != 0) return -1;
    for (int i = 0; i < g->v.M; i++) {
        const gl_gmember *m = &g->mem[i];
        if (skip[i] || (only_stopped && m->alive)) continue;
        gl_metrics r;
        metrics_of(g, i, m->alive ? g->v.step : m->diverged_at, &r);
        if (!m->alive) skip[i] = 1;
        if (gl_trainer_push_row(g->t[i], &r, err) != 0) return -1;
    }
    /* progress lines, about every 0.25 s: the position as of this log */
    double tn = now();
    if (tn - g->last_progress >= 0.25) {
        g->last_progress = tn;
        for (int i = 0; i < g->v.M; i++)
            if (g->mem[i].alive) {
                gl_trainer_set_position(g->t[i], g->v.step, -1, 0);
                gl_trainer_notify(g->t[i]);
            }
    }
    return 0;
}

/* Copies weights, optimizer state and running statistics back. */
static int download_state(gpop *g, gl_error *err) {
    gl_gview *v = &g->v;
    size_t np = (size_t)v->np, M = (size_t)v->M, N = (size_t)v->N;
    float *buf = malloc(4 * M * np);
    if (!buf) return gl_fail(err, "out of memory");
    const float *src[] = {v->P, v->M1, v->M2};
    for (int w = 0; w < 3; w++) {
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
    free(buf);
    return g->ops->sync(g->dev, err);
}

int gl_gpu_population_advance(gl_trainer **members, int M, long until, int emulate,
                              gl_error *err) {
    if (M <= 0) return 0;
    const gl_config *c = gl_trainer_config(members[0]);
    if (until > c->steps) until = c->steps;
    gpop g;
    int made = gpop_create(&g, members, M, emulate, err);
    if (made == -2 && M > 1) { /* the estimate of what fits was too high: halves */
        int h = M / 2;
        if (gl_gpu_population_advance(members, h, until, emulate, err) != 0) return -1;
        return gl_gpu_population_advance(members + h, M - h, until, emulate, err);
    }
    if (made != 0) return -1;
    double t0 = now();
    /* stopped[i]: diverged and logged; skip: also those logged at this step */
    int *stopped = calloc((size_t)M, sizeof(int)), *skip = calloc((size_t)M, sizeof(int));
    int rc = 0, any = 0;
    if (!stopped || !skip) rc = gl_fail(err, "out of memory");
    g.v.step = gl_trainer_step_count(members[0]);
    for (int i = 0; rc == 0 && i < M; i++) {
        long n;
        const gl_metrics *rows = gl_trainer_rows(members[i], &n);
        stopped[i] = !g.mem[i].alive;
        skip[i] = stopped[i] || (n > 0 && rows[n - 1].step == g.v.step);
        any |= !skip[i];
    }
    if (rc == 0 && any && gl_log_due(c, g.v.step)) rc = log_rows(&g, skip, 0, err);
    for (int live = 1; rc == 0 && live && g.v.step < until;) {
        train_step(&g);
        if (!gl_log_due(c, g.v.step)) continue;
        rc = log_rows(&g, stopped, 0, err);
        live = 0;
        for (int i = 0; i < M; i++) live |= !stopped[i];
    }
    /* members that stopped after the last log: their divergence rows */
    if (rc == 0) {
        g.ops->download(g.dev, g.mem, g.v.mem, sizeof(gl_gmember) * (size_t)M);
        rc = g.ops->sync(g.dev, err);
    }
    for (int i = 0; rc == 0 && i < M; i++)
        if (!stopped[i] && !g.mem[i].alive) {
            rc = log_rows(&g, stopped, 1, err);
            break;
        }
    if (rc == 0) rc = download_state(&g, err);
    double secs = now() - t0;
    for (int i = 0; rc == 0 && i < M; i++) {
        const gl_gmember *m = &g.mem[i];
        long step = m->alive ? g.v.step : m->diverged_at;
        gl_trainer_set_position(g.t[i], step, m->alive ? -1 : m->diverged_at, secs / M);
    }
    free(stopped);
    free(skip);
    gpop_free(&g);
    return rc;
}

int gl_gpu_bench(gl_trainer **members, int M, int warmup, int steps, double *ms, char *device,
                 size_t cap, double *peak, gl_gpu_profile *prof, gl_error *err) {
    gpop g;
    if (gpop_create(&g, members, M, 0, err) != 0) return -1;
    g.ops->describe(g.dev, device, cap, peak);
    g.v.step = gl_trainer_step_count(members[0]);
    int rc = 0;
    for (int i = 0; i < warmup && rc == 0; i++) {
        train_step(&g);
        rc = g.ops->sync(g.dev, err);
    }
    for (int i = 0; i < steps && rc == 0; i++) {
        double t0 = now();
        train_step(&g);
        rc = g.ops->sync(g.dev, err);
        ms[i] = 1e3 * (now() - t0);
    }
    if (prof && rc == 0) {
        prof->n = 0;
        g.prof = prof;
        for (int i = 0; i < prof->steps; i++) train_step(&g);
        g.prof = NULL;
        rc = g.ops->sync(g.dev, err);
        if (rc == 0 && g.prof_failed) rc = gl_fail(err, "GPU: an operation failed while profiling");
    }
    gpop_free(&g);
    return rc;
}
