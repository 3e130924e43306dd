/* groklab: the workers of a sweep in one process. Each worker thread claims
 * the next pending run, trains it on one core and records it; the store is
 * shared through one connection under a lock. */
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "groklab/analysis.h"
#include "groklab/gpu.h"
#include "groklab/sweep.h"
#include "groklab/train.h"

int gl_sweep_train_one(const gl_config *c, int keep_weights, gl_trainer **tp, gl_run_result *r,
                       double **ipr_buf, float **wbuf) {
    memset(r, 0, sizeof *r);
    r->diverged_at = -1;
    *tp = NULL;
    *ipr_buf = NULL;
    *wbuf = NULL;
    gl_error err;
    gl_trainer *t;
    if (gl_trainer_create(&t, c, &err) != 0) {
        r->status = GL_RUN_FAILED;
        snprintf(r->message, sizeof r->message, "%s", err.msg);
        return 0;
    }
    *tp = t;
    if (gl_trainer_advance(t, c->steps, 1, &err) != 0) {
        r->status = GL_RUN_FAILED;
        snprintf(r->message, sizeof r->message, "%s", err.msg);
        return 0;
    }
    return gl_sweep_result(t, c, keep_weights, r, ipr_buf, wbuf);
}

int gl_sweep_result(gl_trainer *t, const gl_config *c, int keep_weights, gl_run_result *r,
                    double **ipr_buf, float **wbuf) {
    gl_error err;
    memset(r, 0, sizeof *r);
    *ipr_buf = NULL;
    *wbuf = NULL;
    r->rows = gl_trainer_rows(t, &r->n_rows);
    r->steps = gl_trainer_step_count(t);
    r->diverged_at = gl_trainer_diverged_at(t);
    r->wall_seconds = gl_trainer_seconds(t);
    r->status = r->diverged_at >= 0 ? GL_RUN_DIVERGED : GL_RUN_DONE;
    if (keep_weights) {
        /* per-unit IPR of the input layer (the paper's IPR_k for the MLP);
         * U, V, W for the MLPs (the deep MLP's first and last layers) */
        const gl_net *net = gl_trainer_net(t);
        int N = net->n_units, p = c->p;
        const float *P = gl_trainer_params(t);
        *ipr_buf = malloc(sizeof(double) * (size_t)N);
        if (net->arch == GL_ARCH_MLP) {
            gl_neurons nr;
            if (*ipr_buf && gl_neurons_compute(&nr, c, gl_trainer_layout(t), P, GL_BASIS_AUTO,
                                               c->ipr, 2.0, &err) == 0) {
                memcpy(*ipr_buf, nr.ipr, sizeof(double) * (size_t)N);
                gl_neurons_free(&nr);
            }
        } else {
            gl_ipr_plan *plan;
            if (*ipr_buf && gl_ipr_plan_create(&plan, p, N, gl_config_basis(c), &err) == 0) {
                gl_ipr_layer(plan, *ipr_buf, net, P, 0, c->ipr, 2.0);
                gl_ipr_plan_free(plan);
            }
        }
        size_t in[2], out[2];
        int groups;
        gl_net_ipr_units(net, 0, in, &groups);
        gl_net_ipr_units(net, 1, out, &groups);
        if (net->arch != GL_ARCH_TRANSFORMER) *wbuf = malloc(sizeof(float) * 3 * (size_t)N * p);
        if (*wbuf) { /* files' shapes: U, V (N, p) from the stored (p, N); W (p, N) */
            float *U = *wbuf, *V = U + (size_t)N * p, *W = V + (size_t)N * p;
            for (int i = 0; i < p; i++)
                for (int k = 0; k < N; k++) {
                    U[(size_t)k * p + i] = P[in[0] + (size_t)i * N + k];
                    V[(size_t)k * p + i] = P[in[1] + (size_t)i * N + k];
                }
            memcpy(W, P + out[0], sizeof(float) * (size_t)N * p);
            r->U = U;
            r->V = V;
            r->W = W;
        }
        r->ipr = *ipr_buf;
        r->N = N;
        r->p = p;
    }
    return 0;
}

typedef struct shared {
    gl_store *s;
    const gl_sweep_opts *o;
    pthread_mutex_t lock;
    int failed;
    gl_error err;
    int active;
} shared;

typedef struct worker_arg {
    shared *sh;
    int index;
} worker_arg;

/* --threads, or every core */
static int cores(const gl_sweep_opts *o) { return o->threads > 0 ? o->threads : omp_get_num_procs(); }

static void *worker(void *arg) {
    worker_arg *wa = arg;
    shared *sh = wa->sh;
    char name[64], host[32] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(name, sizeof name, "%s:%ld:%d", host, (long)getpid(), wa->index);
    omp_set_num_threads(1);
    for (;;) {
        long id = 0;
        gl_config c;
        gl_error e;
        pthread_mutex_lock(&sh->lock);
        int got = sh->failed ? 0 : gl_store_claim(sh->s, sh->o->shard_i, sh->o->shard_n, name, &id, &e);
        if (got > 0 && gl_store_point(sh->s, id, &c, &e) != 0) got = -1;
        if (got < 0 && !sh->failed) sh->failed = 1, sh->err = e;
        pthread_mutex_unlock(&sh->lock);
        if (got <= 0) break;
        gl_trainer *t;
        gl_run_result r;
        double *ipr;
        float *wb;
        gl_sweep_train_one(&c, sh->o->keep_weights, &t, &r, &ipr, &wb);
        pthread_mutex_lock(&sh->lock);
        if (gl_store_finish(sh->s, id, &c, &r, &e) != 0) {
            if (!sh->failed) sh->failed = 1, sh->err = e;
        } else if (sh->o->on_done) {
            sh->o->on_done(sh->o->ctx, id, &c, &r);
        }
        pthread_mutex_unlock(&sh->lock);
        gl_trainer_free(t);
        free(ipr);
        free(wb);
    }
    pthread_mutex_lock(&sh->lock);
    sh->active--;
    pthread_mutex_unlock(&sh->lock);
    return NULL;
}

static void record(shared *sh, long id, const gl_config *c, const gl_run_result *r) {
    gl_error e;
    pthread_mutex_lock(&sh->lock);
    if (gl_store_finish(sh->s, id, c, r, &e) != 0) {
        if (!sh->failed) sh->failed = 1, sh->err = e;
    } else if (sh->o->on_done) {
        sh->o->on_done(sh->o->ctx, id, c, r);
    }
    pthread_mutex_unlock(&sh->lock);
}

static void record_failed(shared *sh, long id, const gl_config *c, const char *msg) {
    gl_run_result r;
    memset(&r, 0, sizeof r);
    r.status = GL_RUN_FAILED;
    r.diverged_at = -1;
    snprintf(r.message, sizeof r.message, "%s", msg);
    record(sh, id, c, &r);
}

/* Claims up to max pending runs that can share one GPU population with the
 * first; a claimed run of another shape is kept in *held for the next. */
typedef struct claimed {
    long id;
    gl_config c;
} claimed;

static int claim_population(shared *sh, const char *name, claimed *out, int max, claimed *held,
                            int *have_held) {
    int n = 0;
    if (*have_held) out[n++] = *held, *have_held = 0;
    pthread_mutex_lock(&sh->lock);
    while (n < max && !sh->failed) {
        claimed x;
        gl_error e;
        int got = gl_store_claim(sh->s, sh->o->shard_i, sh->o->shard_n, name, &x.id, &e);
        if (got > 0 && gl_store_point(sh->s, x.id, &x.c, &e) != 0) got = -1;
        if (got < 0) sh->failed = 1, sh->err = e;
        if (got <= 0) break;
        if (n > 0 && !gl_gpu_compatible(&out[0].c, &x.c)) {
            *held = x;
            *have_held = 1;
            break;
        }
        out[n++] = x;
    }
    pthread_mutex_unlock(&sh->lock);
    return n;
}

/* The GPU worker: packs pending runs into populations as large as fit. */
static void *gpu_worker(void *arg) {
    worker_arg *wa = arg;
    shared *sh = wa->sh;
    char name[64], host[32] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(name, sizeof name, "%s:%ld:gpu", host, (long)getpid());
    /* the only worker: the host's share (data, initial weights, or the
     * emulator's kernels) may use every core */
    omp_set_num_threads(cores(sh->o));
    claimed held;
    int have_held = 0, cap = 0;
    claimed *runs = NULL;
    gl_trainer **tr = NULL;
    for (;;) {
        gl_error e;
        if (!have_held) { /* the next run: its shape sizes the population */
            claimed unused;
            int none = 0;
            if (claim_population(sh, name, &held, 1, &unused, &none) == 0) break;
            have_held = 1;
        }
        int fit = gl_gpu_population_fit(&held.c, &e);
        if (sh->o->max_population > 0 && fit > sh->o->max_population) fit = sh->o->max_population;
        if (fit <= 0) { /* not even one fits: fail this run, go on */
            have_held = 0;
            record_failed(sh, held.id, &held.c, e.msg);
            continue;
        }
        if (fit > cap) {
            claimed *nr = realloc(runs, sizeof *runs * (size_t)fit);
            gl_trainer **nt = nr ? realloc(tr, sizeof *tr * (size_t)fit) : NULL;
            if (nr) runs = nr;
            if (nt) tr = nt;
            if (!nr || !nt) {
                pthread_mutex_lock(&sh->lock);
                if (!sh->failed) sh->failed = 1, gl_fail(&sh->err, "out of memory");
                pthread_mutex_unlock(&sh->lock);
                break;
            }
            cap = fit;
        }
        int n = claim_population(sh, name, runs, fit, &held, &have_held), m = 0;
        for (int i = 0; i < n; i++) { /* runs that cannot start fail alone */
            if (gl_trainer_create(&tr[m], &runs[i].c, &e) != 0) record_failed(sh, runs[i].id, &runs[i].c, e.msg);
            else runs[m] = runs[i], m++;
        }
        int ok = m == 0 || gl_gpu_population_advance(tr, m, runs[0].c.steps, 0, &e) == 0;
        for (int i = 0; i < m; i++) {
            gl_run_result r;
            double *ipr;
            float *wb;
            if (ok) {
                gl_sweep_result(tr[i], &runs[i].c, sh->o->keep_weights, &r, &ipr, &wb);
                record(sh, runs[i].id, &runs[i].c, &r);
                free(ipr);
                free(wb);
            } else {
                record_failed(sh, runs[i].id, &runs[i].c, e.msg);
            }
            gl_trainer_free(tr[i]);
        }
    }
    free(runs);
    free(tr);
    pthread_mutex_lock(&sh->lock);
    sh->active--;
    pthread_mutex_unlock(&sh->lock);
    return NULL;
}

int gl_sweep_work(gl_store *s, const gl_sweep_opts *o, gl_error *err) {
    gl_grid grid;
    if (gl_store_grid(s, &grid, err) != 0) return -1;
    int gpu = strcmp(grid.base.device, "cuda") == 0;
    gl_grid_free(&grid);
    int W = gpu ? 1 : cores(o);
    shared sh;
    memset(&sh, 0, sizeof sh);
    sh.s = s;
    sh.o = o;
    pthread_mutex_init(&sh.lock, NULL);
    pthread_t *th = calloc((size_t)W, sizeof *th);
    worker_arg *wa = calloc((size_t)W, sizeof *wa);
    if (!th || !wa) {
        free(th);
        free(wa);
        return gl_fail(err, "out of memory");
    }
    gl_blas_init();
    int started = 0;
    sh.active = W;
    for (int i = 0; i < W; i++) {
        wa[i].sh = &sh;
        wa[i].index = i;
        if (pthread_create(&th[i], NULL, gpu ? gpu_worker : worker, &wa[i]) == 0) started++;
        else {
            pthread_mutex_lock(&sh.lock);
            sh.active--;
            pthread_mutex_unlock(&sh.lock);
        }
    }
    for (;;) {
        pthread_mutex_lock(&sh.lock);
        int active = sh.active;
        if (o->on_tick && active > 0) o->on_tick(o->ctx, s);
        pthread_mutex_unlock(&sh.lock);
        if (active <= 0) break;
        struct timespec ts = {0, 250 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < W; i++)
        if (th[i]) pthread_join(th[i], NULL);
    free(th);
    free(wa);
    pthread_mutex_destroy(&sh.lock);
    if (!started) return gl_fail(err, "could not start any worker thread");
    if (sh.failed) {
        *err = sh.err;
        return -1;
    }
    return 0;
}
