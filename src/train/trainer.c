/* groklab: training one model (CPU backend).
 *
 * A step is: pick the batch (all of the training set, or the next slice of
 * this epoch's Philox permutation), forward in training mode, loss and its
 * gradient, backward, optimizer. The pass is the fused, cache-blocked one
 * (src/model/fused.c), except with BatchNorm, whose batch statistics need the
 * layered pass over whole-batch arrays. Everything is allocated in
 * gl_trainer_create; the step loop allocates nothing. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "groklab/arch.h"
#include "groklab/gpu.h"
#include "groklab/optim.h"
#include "groklab/rng.h"
#include "groklab/train.h"

enum { EVAL_CHUNK = 2048 };

struct gl_trainer {
    gl_config cfg; /* resolved (gl_config_resolve) */
    gl_dataset data;
    gl_net net;  /* net.mlp: the two-layer MLP's layout */
    int B; /* examples per step */
    int gpu; /* device cuda: trained by src/gpu (no CPU pass buffers) */
    float *params, *grads, *m1, *m2, *init;
    float *run_mean, *run_var; /* BatchNorm running statistics, (net.n_run_layers, N) */
    /* the two-layer MLP: */
    gl_mlp_work work, ework;   /* work: the layered pass (BatchNorm only) */
    gl_fused_work fused;       /* the fused pass (every other norm) */
    /* the other families: */
    gl_deep_work_f32 *deep;
    gl_tf_work_f32 *tf;
    float *logits;             /* (EVAL_CHUNK, p) evaluation output */
    int32_t *perm;             /* this epoch's order of the training set */
    long perm_epoch;
    int32_t *bm, *bn, *by, *bid; /* the current minibatch */
    gl_ipr_plan *ipr;
    double *ipr_buf;
    long step, diverged_at;
    gl_metrics *rows;
    long n_rows, cap_rows;
    double seconds;
    gl_progress_fn progress;
    void *progress_ctx;
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double gl_system_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : 0.0;
}

static int batch_size(const gl_config *c, long n_train) {
    return c->batch > 0 && c->batch < n_train ? c->batch : (int)n_train;
}

double gl_trainer_bytes(const gl_config *cfg) {
    gl_config rc = *cfg;
    gl_config_resolve(&rc);
    const gl_config *c = &rc;
    gl_net net;
    if (gl_net_init(&net, c, NULL) != 0) return 0; /* invalid: validation says why */
    double pairs = (double)gl_task_pairs(c->task, c->p);
    double n_train = floor(c->frac * pairs);
    double B = batch_size(c, (long)n_train), N = net.n_units, p = c->p;
    double eb = EVAL_CHUNK < pairs ? EVAL_CHUNK : pairs;
    double pass;
    if (c->arch == GL_ARCH_DEEP_MLP) {
        pass = gl_deep_work_bytes(&net.deep, (int)B, c->dropout > 0) + 4 * eb * p;
    } else if (c->arch == GL_ARCH_TRANSFORMER) {
        pass = gl_tf_work_bytes(&net.tf, (int)B, 0, 0) + 4 * eb * p;
    } else {
        double per_row = 4 * (N * (c->norm != GL_NORM_NONE ? 4 : 3) + p) + (c->dropout > 0 ? N : 0);
        pass = (c->norm == GL_NORM_BATCHNORM ? B * per_row
                                             : gl_fused_work_bytes(&net.mlp, (int)B, c->dropout > 0)) +
               eb * per_row;
    }
    return 4 * (double)net.n_params * 5 /* params, grads, 2 moments, initial copy */
           + pass
           + 4 * 9 * pairs                /* dataset and permutation */
           + 8 * 3 * N;                   /* IPR scratch */
}

int gl_trainer_create(gl_trainer **out, const gl_config *cfg, gl_error *err) {
    if (gl_config_validate(cfg, err) != 0) return -1;
    gl_config rc = *cfg;
    gl_config_resolve(&rc);
    const gl_config *c = &rc;
    double need = gl_trainer_bytes(c), have = gl_system_memory();
    const char *lim = getenv("GROKLAB_MEMORY_LIMIT");
    if (lim && atof(lim) > 0) have = atof(lim);
    if (have > 0 && need > 0.8 * have)
        return gl_fail(err,
                       "this run needs about %.1f GiB (p %d, width %d, %.0f examples per step) but "
                       "the limit is %.1f GiB (80%% of memory): lower --p, --width, --frac or --batch",
                       need / 1073741824.0, c->p, c->width,
                       (double)batch_size(c, (long)floor(c->frac * gl_task_pairs(c->task, c->p))),
                       0.8 * have / 1073741824.0);
    gl_net net;
    if (gl_net_init(&net, c, err) != 0) return -1;
    int gpu = strcmp(c->device, "cuda") == 0;
    gl_blas_init();
    gl_trainer *t = calloc(1, sizeof *t);
    if (!t) return gl_fail(err, "out of memory");
    t->cfg = *c;
    t->net = net;
    t->gpu = gpu;
    t->diverged_at = -1;
    t->perm_epoch = -1;
    if (gl_dataset_create(&t->data, c, err) != 0) {
        free(t);
        return -1;
    }
    const gl_layout *L = &t->net.mlp;
    int N = net.n_units, p = c->p;
    size_t np = net.n_params, nrun = (size_t)net.n_run_layers * (size_t)net.run_width + 1;
    t->B = batch_size(c, t->data.n_train);
    t->params = calloc(np, sizeof(float));
    t->grads = calloc(np, sizeof(float));
    t->m1 = calloc(np, sizeof(float));
    t->m2 = calloc(np, sizeof(float));
    t->init = calloc(np, sizeof(float));
    t->run_mean = calloc(nrun, sizeof(float));
    t->run_var = calloc(nrun, sizeof(float));
    t->ipr_buf = calloc((size_t)N, sizeof(double));
    int eb = EVAL_CHUNK;
    int ok = t->params && t->grads && t->m1 && t->m2 && t->init && t->run_mean && t->run_var &&
             t->ipr_buf;
    gl_error e;
    if (ok && gpu)
        ; /* the GPU population holds the pass */
    else if (ok && c->arch == GL_ARCH_MLP)
        ok = gl_mlp_work_alloc(&t->ework, L, eb, 0) == 0 &&
             (c->norm == GL_NORM_BATCHNORM
                  ? gl_mlp_work_alloc(&t->work, L, t->B, c->dropout > 0)
                  : gl_fused_work_alloc(&t->fused, L, t->B, c->dropout > 0, 0, 0)) == 0;
    else if (ok) {
        t->logits = malloc((size_t)eb * (size_t)p * sizeof(float));
        ok = t->logits &&
             (c->arch == GL_ARCH_DEEP_MLP
                  ? gl_deep_work_new_f32(&t->deep, &net.deep, t->B, c->dropout > 0, &e)
                  : gl_tf_work_new_f32(&t->tf, &net.tf, t->B, 0, 0, &e)) == 0;
    }
    if (ok && !gpu && t->B < t->data.n_train) {
        size_t n = (size_t)t->data.n_train;
        t->perm = malloc(n * sizeof(int32_t));
        t->bm = malloc((size_t)t->B * sizeof(int32_t));
        t->bn = malloc((size_t)t->B * sizeof(int32_t));
        t->by = malloc((size_t)t->B * sizeof(int32_t));
        t->bid = malloc((size_t)t->B * sizeof(int32_t));
        ok = t->perm && t->bm && t->bn && t->by && t->bid;
    }
    if (!ok) {
        gl_trainer_free(t);
        return gl_fail(err, "out of memory allocating the model and its buffers");
    }
    if (gl_ipr_plan_create(&t->ipr, p, N, gl_config_basis(c), err) != 0) {
        gl_trainer_free(t);
        return -1;
    }
    gl_net_init_params(&net, t->params, c);
    for (size_t k = 0; k < nrun; k++) t->run_var[k] = 1.0f;
    memcpy(t->init, t->params, np * sizeof(float));
    *out = t;
    return 0;
}

void gl_trainer_free(gl_trainer *t) {
    if (!t) return;
    gl_dataset_free(&t->data);
    free(t->params);
    free(t->grads);
    free(t->m1);
    free(t->m2);
    free(t->init);
    free(t->run_mean);
    free(t->run_var);
    free(t->ipr_buf);
    gl_mlp_work_free(&t->work);
    gl_mlp_work_free(&t->ework);
    gl_fused_work_free(&t->fused);
    gl_deep_work_free_f32(t->deep);
    gl_tf_work_free_f32(t->tf);
    free(t->logits);
    free(t->perm);
    free(t->bm);
    free(t->bn);
    free(t->by);
    free(t->bid);
    gl_ipr_plan_free(t->ipr);
    free(t->rows);
    free(t);
}

/* The examples of step s: with minibatches, epoch e = s / nb uses the
 * permutation shuffle(n_train; seed, MINIBATCH, b = e), and step s takes its
 * slice (s % nb); the last slice of an epoch may be short. Returns B. */
static int select_batch(gl_trainer *t, const int32_t **m, const int32_t **n, const int32_t **y,
                        const int32_t **id) {
    const gl_dataset *d = &t->data;
    if (t->B >= d->n_train) {
        *m = d->train_m;
        *n = d->train_n;
        *y = d->train_y;
        *id = NULL;
        return d->n_train;
    }
    long nb = (d->n_train + t->B - 1) / t->B;
    long e = t->step / nb, k = t->step % nb;
    if (e != t->perm_epoch) {
        for (int32_t i = 0; i < d->n_train; i++) t->perm[i] = i;
        gl_shuffle(t->perm, d->n_train, t->cfg.seed, GL_STREAM_MINIBATCH, (uint32_t)e);
        t->perm_epoch = e;
    }
    long start = k * t->B;
    int B = (int)((start + t->B <= d->n_train) ? t->B : d->n_train - start);
    for (int b = 0; b < B; b++) {
        int32_t i = t->perm[start + b];
        t->bm[b] = d->train_m[i];
        t->bn[b] = d->train_n[i];
        t->by[b] = d->train_y[i];
        t->bid[b] = i;
    }
    *m = t->bm;
    *n = t->bn;
    *y = t->by;
    *id = t->bid;
    return B;
}

double gl_trainer_step(gl_trainer *t, int threads) {
    if (t->gpu) return NAN; /* CPU only: gl_trainer_advance runs GPU trainers */
    if (threads > 0) omp_set_num_threads(threads);
    const gl_config *c = &t->cfg;
    const gl_layout *L = &t->net.mlp;
    gl_batch bt;
    bt.B = select_batch(t, &bt.m, &bt.n, &bt.y, &bt.id);
    double loss;
    gl_error e;
    if (c->arch == GL_ARCH_DEEP_MLP) {
        gl_deep_opts o = {c->loss, c->dropout, c->norm_eps, c->bn_momentum, c->seed, t->step};
        if (gl_deep_loss_grad_f32(t->deep, &loss, t->grads, t->params, &o, &bt, t->run_mean,
                                  t->run_var, &e) != 0)
            loss = NAN; /* cannot happen: the work is sized for this trainer's batches */
    } else if (c->arch == GL_ARCH_TRANSFORMER) {
        if (gl_tf_loss_grad_f32(t->tf, &loss, t->grads, t->params, c->loss, c->seed, t->step, &bt,
                                &e) != 0)
            loss = NAN; /* as above */
    } else if (L->norm == GL_NORM_BATCHNORM) {
        gl_mlp_work *w = &t->work;
        loss = gl_mlp_loss_grad(w, t->grads, L, t->params, c, t->step, &bt);
        /* running statistics as torch.nn.BatchNorm1d: unbiased variance */
        int N = L->N, B = bt.B;
        float mom = (float)c->bn_momentum, keepm = (float)(1.0 - c->bn_momentum);
        double unb = B > 1 ? (double)B / (B - 1) : 1.0;
        for (int k = 0; k < N; k++) {
            t->run_mean[k] = keepm * t->run_mean[k] + mom * w->mean[k];
            t->run_var[k] = keepm * t->run_var[k] + mom * (float)(w->stat[k] * unb);
        }
    } else if (gl_fused_loss_grad(&t->fused, &loss, t->grads, L, t->params, c, t->step, &bt) != 0) {
        loss = NAN; /* cannot happen: the work is sized for this trainer's batches */
    }
    if (!isfinite(loss)) return loss; /* the caller records the divergence */

    t->step++;
    gl_optim_step(c, t->params, t->grads, t->m1, t->m2, t->net.n_params, t->step);
    return loss;
}

/* Loss sum and correct counts over examples [0, n) of a set, in evaluation
 * mode, in chunks. Counts against labels y and (if y2) y2, split at `split`
 * (examples below it form the first subset). */
typedef struct eval_counts {
    double loss_sum;
    long correct, correct_lo, correct2_lo, correct_hi;
} eval_counts;

/* Evaluation-mode outputs (B <= EVAL_CHUNK, p) of the examples (m[b], n[b]). */
static const float *eval_logits(gl_trainer *t, const int32_t *m, const int32_t *n, int B) {
    switch (t->cfg.arch) {
    case GL_ARCH_DEEP_MLP:
        gl_deep_logits_f32(t->deep, t->logits, t->params, t->run_mean, t->run_var,
                           t->cfg.norm_eps, m, n, B);
        return t->logits;
    case GL_ARCH_TRANSFORMER:
        gl_tf_logits_f32(t->tf, t->logits, t->params, m, n, B);
        return t->logits;
    case GL_ARCH_MLP: break;
    }
    gl_mlp_eval(&t->ework, &t->net.mlp, t->params, t->run_mean, t->run_var, t->cfg.norm_eps, m, n, B);
    return t->ework.out;
}

static void eval_set(gl_trainer *t, const int32_t *m, const int32_t *n, const int32_t *y,
                     const int32_t *y2, long count, long split, eval_counts *ec) {
    memset(ec, 0, sizeof *ec);
    int p = t->cfg.p;
    for (long s = 0; s < count; s += EVAL_CHUNK) {
        int B = (int)(count - s < EVAL_CHUNK ? count - s : EVAL_CHUNK);
        const float *out = eval_logits(t, m + s, n + s, B);
        double l = t->cfg.loss == GL_LOSS_MSE ? gl_mse_loss_f32(NULL, out, y + s, B, p)
                                              : gl_ce_loss_f32(NULL, out, y + s, B, p);
        ec->loss_sum += l * (t->cfg.loss == GL_LOSS_MSE ? (double)B * p : (double)B);
        for (int b = 0; b < B; b++) {
            const float *o = out + (size_t)b * p;
            int best = 0;
            for (int j = 1; j < p; j++)
                if (o[j] > o[best]) best = j;
            long i = s + b;
            int hit = best == y[i];
            ec->correct += hit;
            if (i < split) {
                ec->correct_lo += hit;
                if (y2) ec->correct2_lo += best == y2[i];
            } else {
                ec->correct_hi += hit;
            }
        }
    }
}

static double frac_or_nan(long num, long den) { return den > 0 ? (double)num / (double)den : NAN; }

void gl_trainer_evaluate(gl_trainer *t, gl_metrics *out, int threads) {
    if (t->gpu) { /* CPU only, as gl_trainer_step */
        double x[GL_METRICS_NCOLS];
        for (int i = 0; i < GL_METRICS_NCOLS; i++) x[i] = NAN;
        gl_metrics_from_array(out, x);
        out->step = t->step;
        return;
    }
    if (threads > 0) omp_set_num_threads(threads);
    const gl_dataset *d = &t->data;
    double lden = t->cfg.loss == GL_LOSS_MSE ? (double)t->cfg.p : 1.0;
    eval_counts tr, te;
    eval_set(t, d->train_m, d->train_n, d->train_y, d->train_true, d->n_train, d->n_corrupt, &tr);
    eval_set(t, d->test_m, d->test_n, d->test_y, NULL, d->n_test, 0, &te);
    gl_metrics *r = out;
    r->step = t->step;
    r->train_loss = d->n_train ? tr.loss_sum / (lden * d->n_train) : NAN;
    r->test_loss = d->n_test ? te.loss_sum / (lden * d->n_test) : NAN;
    r->train_acc = frac_or_nan(tr.correct, d->n_train);
    r->test_acc = frac_or_nan(te.correct, d->n_test);
    r->corrupted_acc = frac_or_nan(tr.correct_lo, d->n_corrupt);
    r->corrupted_true_acc = frac_or_nan(tr.correct2_lo, d->n_corrupt);
    r->clean_acc = frac_or_nan(tr.correct_hi, d->n_train - d->n_corrupt);
    gl_net_norms(&t->net, t->params, &r->norm_u, &r->norm_v, &r->norm_w);
    r->mean_ipr = t->cfg.arch == GL_ARCH_MLP
                      ? gl_ipr_neurons(t->ipr, t->ipr_buf, &t->net.mlp, t->params, t->cfg.ipr)
                      : gl_ipr_layer(t->ipr, t->ipr_buf, &t->net, t->params, 0, t->cfg.ipr, 2.0);
}

int gl_log_due(const gl_config *c, long s) {
    if (s == 0 || s == c->steps) return 1;
    if (s < 0 || s > c->steps) return 0;
    if (c->log_points <= 0) return s % c->log_every == 0;
    /* log-spaced: s = round(steps^(i / (P-1))) for some i in [0, P) */
    int P = c->log_points;
    if (P < 2) return 0;
    double lt = log((double)c->steps);
    double x = log((double)s) / lt * (P - 1);
    for (long i = (long)floor(x) - 1; i <= (long)ceil(x) + 1; i++) {
        if (i < 0 || i >= P) continue;
        if ((long)floor(exp(lt * (double)i / (P - 1)) + 0.5) == s) return 1;
    }
    return 0;
}

int gl_trainer_push_row(gl_trainer *t, const gl_metrics *r, gl_error *err) {
    if (t->n_rows > 0 && t->rows[t->n_rows - 1].step >= r->step)
        return gl_fail(err, "logged rows must advance (step %ld after %ld)", r->step,
                       t->rows[t->n_rows - 1].step);
    if (t->n_rows == t->cap_rows) {
        long cap = t->cap_rows ? 2 * t->cap_rows : 256;
        gl_metrics *nr = realloc(t->rows, (size_t)cap * sizeof *nr);
        if (!nr) return gl_fail(err, "out of memory for the metrics log");
        t->rows = nr;
        t->cap_rows = cap;
    }
    t->rows[t->n_rows++] = *r;
    return 0;
}

void gl_trainer_notify(gl_trainer *t) {
    if (t->progress) t->progress(t->progress_ctx, t);
}

void gl_trainer_set_position(gl_trainer *t, long step, long diverged_at, double seconds) {
    t->step = step;
    t->diverged_at = diverged_at;
    t->seconds += seconds;
}

static int push_row(gl_trainer *t, const gl_metrics *r) {
    if (t->n_rows == t->cap_rows) {
        long cap = t->cap_rows ? 2 * t->cap_rows : 256;
        gl_metrics *nr = realloc(t->rows, (size_t)cap * sizeof *nr);
        if (!nr) return -1;
        t->rows = nr;
        t->cap_rows = cap;
    }
    t->rows[t->n_rows++] = *r;
    return 0;
}

static int log_now(gl_trainer *t, int threads, gl_error *err) {
    if (t->n_rows > 0 && t->rows[t->n_rows - 1].step == t->step) return 0;
    gl_metrics r;
    gl_trainer_evaluate(t, &r, threads);
    if (push_row(t, &r) != 0) return gl_fail(err, "out of memory for the metrics log");
    return 0;
}

int gl_trainer_advance(gl_trainer *t, long until, int threads, gl_error *err) {
    if (t->gpu) return t->diverged_at >= 0 ? 0 : gl_gpu_population_advance(&t, 1, until, 0, err);
    if (threads <= 0) threads = omp_get_num_procs();
    if (until > t->cfg.steps) until = t->cfg.steps;
    double t0 = now(), last = t0;
    if (t->diverged_at >= 0) return 0;
    if (gl_log_due(&t->cfg, t->step) && log_now(t, threads, err) != 0) return -1;
    while (t->step < until) {
        double loss = gl_trainer_step(t, threads);
        if (!isfinite(loss)) {
            t->diverged_at = t->step;
            if (log_now(t, threads, err) != 0) return -1;
            break;
        }
        if (gl_log_due(&t->cfg, t->step) && log_now(t, threads, err) != 0) return -1;
        if (t->progress) {
            double tn = now();
            if (tn - last >= 0.25 || t->step == until) {
                t->seconds += tn - t0;
                t0 = last = tn;
                t->progress(t->progress_ctx, t);
            }
        }
    }
    t->seconds += now() - t0;
    return 0;
}

/* GPU members: consecutive compatible members share a population, as many
 * as fit the GPU at once. */
static int gpu_populations(gl_trainer **members, int M, gl_error *err) {
    for (int i = 0; i < M;) {
        int fit = gl_gpu_population_fit(&members[i]->cfg, err), j = i + 1;
        if (fit < 0) return -1;
        while (j < M && j - i < fit && gl_gpu_compatible(&members[i]->cfg, &members[j]->cfg) &&
               members[j]->step == members[i]->step)
            j++;
        if (gl_gpu_population_advance(members + i, j - i, members[i]->cfg.steps, 0, err) != 0)
            return -1;
        i = j;
    }
    return 0;
}

int gl_population_advance(gl_trainer **members, int M, int threads, gl_error *err) {
    if (M > 0 && members[0]->gpu) return gpu_populations(members, M, err);
    if (threads <= 0) threads = omp_get_num_procs();
    if (M == 1) return gl_trainer_advance(members[0], members[0]->cfg.steps, threads, err);
    int failed = 0;
    gl_error first = {{0}};
    /* one member per core; each member's own loops then run on one thread */
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads < M ? threads : M)
    for (int i = 0; i < M; i++) {
        gl_error e;
        if (gl_trainer_advance(members[i], members[i]->cfg.steps, 1, &e) != 0) {
#pragma omp critical
            {
                if (!failed) first = e;
                failed = 1;
            }
        }
    }
    if (failed) {
        if (err) *err = first;
        return -1;
    }
    return 0;
}

const gl_config *gl_trainer_config(const gl_trainer *t) { return &t->cfg; }
const gl_dataset *gl_trainer_data(const gl_trainer *t) { return &t->data; }
const gl_layout *gl_trainer_layout(const gl_trainer *t) { return &t->net.mlp; }
const gl_net *gl_trainer_net(const gl_trainer *t) { return &t->net; }
long gl_trainer_step_count(const gl_trainer *t) { return t->step; }
long gl_trainer_diverged_at(const gl_trainer *t) { return t->diverged_at; }
const gl_metrics *gl_trainer_rows(const gl_trainer *t, long *n_rows) {
    *n_rows = t->n_rows;
    return t->rows;
}
float *gl_trainer_params(gl_trainer *t) { return t->params; }
const float *gl_trainer_init_params(const gl_trainer *t) { return t->init; }
float *gl_trainer_moment(gl_trainer *t, int which) { return which == 0 ? t->m1 : t->m2; }
float *gl_trainer_running(gl_trainer *t, int which) {
    if (t->net.n_run_layers == 0) return NULL;
    return which == 0 ? t->run_mean : t->run_var;
}
double gl_trainer_seconds(const gl_trainer *t) { return t->seconds; }
void gl_trainer_set_progress(gl_trainer *t, gl_progress_fn fn, void *ctx) {
    t->progress = fn;
    t->progress_ctx = ctx;
}

int gl_trainer_restore(gl_trainer *t, long step, const gl_metrics *rows, long n_rows,
                       double seconds, gl_error *err) {
    t->step = step;
    t->seconds = seconds;
    t->n_rows = 0;
    for (long i = 0; i < n_rows; i++) {
        if (rows[i].step > step) break;
        if (push_row(t, &rows[i]) != 0) return gl_fail(err, "out of memory for the metrics log");
    }
    return 0;
}
