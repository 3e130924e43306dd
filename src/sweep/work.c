/* groklab: the workers of a sweep in one process. Each worker thread claims
 * the next pending run, trains it on one core and records it; with a
 * backend that packs populations (a GPU) one worker fills populations as a
 * plan allows and trains each in one call. The store is shared through one
 * connection under a lock. */
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "groklab/analysis.h"
#include "groklab/array.h"
#include "groklab/io.h"
#include "groklab/runtime.h"
#include "groklab/sweep.h"
#include "groklab/train.h"
#include "sweep/store_impl.h"

void gl_sweep_run_dir(const gl_store *s, long id, const gl_config *c, char *out, size_t cap) {
    if (cap) out[0] = 0;
    if (c->snapshots <= 0 && !c->progress_measures) return;
    const char *path = gl_store_path(s), *slash = strrchr(path, '/');
    if (slash) snprintf(out, cap, "%.*s/runs/%ld", (int)(slash - path), path, id);
    else snprintf(out, cap, "runs/%ld", id);
}

int gl_sweep_train_one(const gl_config *c, int keep_weights, const char *run_dir, gl_trainer **tp,
                       gl_run_result *r, double **ipr_buf, float **wbuf, gl_error *err) {
    memset(r, 0, sizeof *r);
    r->diverged_at = -1;
    *tp = NULL;
    *ipr_buf = NULL;
    *wbuf = NULL;
    gl_error e;
    gl_trainer *t;
    int in_dir = run_dir && run_dir[0];
    int rc = in_dir ? gl_run_prepare(run_dir, 1, &e) : 0; /* makes DIR/runs/ID with its parents */
    if (rc != 0) { /* the sweep's directory cannot hold the run: the sweep's error */
        if (err) *err = e;
        return rc;
    }
    rc = gl_trainer_create(&t, c, &e);
    if (rc == GL_E_NOMEM) { /* this machine ran out of memory: not the run's failure */
        if (err) *err = e;
        return rc;
    }
    if (rc != 0) { /* the run cannot start: recorded as failed */
        r->status = GL_RUN_FAILED;
        snprintf(r->message, sizeof r->message, "%s", e.msg);
        return 0;
    }
    *tp = t;
    /* with snapshots or progress measures the run trains into its own
     * directory, as groklab train would (its files are the run's record) */
    rc = in_dir ? gl_run_train(run_dir, t, 0, 1, &e) : gl_trainer_advance(t, c->steps, 1, &e);
    if (rc == GL_E_INTERRUPTED || rc == GL_E_NOMEM || (in_dir && rc == GL_E_IO)) {
        if (err) *err = e;
        return rc;
    }
    if (rc != 0) {
        r->status = GL_RUN_FAILED;
        snprintf(r->message, sizeof r->message, "%s", e.msg);
        return 0;
    }
    return gl_sweep_result(t, c, keep_weights, r, ipr_buf, wbuf, err);
}

int gl_sweep_result(gl_trainer *t, const gl_config *c, int keep_weights, gl_run_result *r,
                    double **ipr_buf, float **wbuf, gl_error *err) {
    memset(r, 0, sizeof *r);
    *ipr_buf = NULL;
    *wbuf = NULL;
    r->rows = gl_trainer_rows(t, &r->n_rows);
    r->steps = gl_trainer_step_count(t);
    r->diverged_at = gl_trainer_diverged_at(t);
    r->wall_seconds = gl_trainer_seconds(t);
    r->status = r->diverged_at >= 0 ? GL_RUN_DIVERGED : GL_RUN_DONE;
    const gl_dataset *d = gl_trainer_data(t);
    if (gl_trainer_story(t, 0)) {
        double *scratch = malloc(sizeof(double) * ((size_t)d->n_corrupt + 1));
        if (!scratch) return gl_fail_nomem(err, "for the examples' story");
        gl_story_stats_compute(&r->story, gl_trainer_story(t, 0), gl_trainer_story(t, 2), d->n_corrupt, scratch);
        r->has_story = 1;
        free(scratch);
    }
    if (!keep_weights) return 0;
    /* per-unit IPR of the input layer (the paper's IPR_k for the MLP);
     * U, V, W for the MLPs (the deep MLP's first and last layers) */
    const gl_net *net = gl_trainer_net(t);
    int N = net->n_units, p = c->p, rc = 0;
    const float *P = gl_trainer_params(t);
    *ipr_buf = malloc(sizeof(double) * (size_t)N);
    if (!*ipr_buf) {
        rc = gl_fail_nomem(err, "for the IPR of --keep-weights");
    } else if (net->arch == GL_ARCH_MLP) {
        gl_neurons nr;
        if ((rc = gl_neurons_compute(&nr, c, gl_trainer_layout(t), P, GL_BASIS_AUTO, c->ipr, 2.0, err)) == 0) {
            memcpy(*ipr_buf, nr.ipr, sizeof(double) * (size_t)N);
            gl_neurons_free(&nr);
        }
    } else {
        gl_ipr_plan *plan;
        if ((rc = gl_ipr_plan_create(&plan, p, N, gl_config_basis(c), err)) == 0) {
            gl_ipr_layer(plan, *ipr_buf, net, P, 0, c->ipr, 2.0);
            gl_ipr_plan_free(plan);
        }
    }
    if (rc == 0 && net->arch != GL_ARCH_TRANSFORMER) {
        *wbuf = malloc(sizeof(float) * 3 * (size_t)N * p);
        if (!*wbuf) rc = gl_fail_nomem(err, "for the weights of --keep-weights");
    }
    if (rc != 0) { /* nothing half-made is recorded */
        free(*ipr_buf);
        free(*wbuf);
        *ipr_buf = NULL;
        *wbuf = NULL;
        return rc;
    }
    if (*wbuf) { /* files' shapes: U, V (N, p) from the stored (p, N); W (p, N) */
        size_t in[2], out[2];
        int groups;
        gl_net_ipr_units(net, 0, in, &groups);
        gl_net_ipr_units(net, 1, out, &groups);
        float *U = *wbuf, *V = U + (size_t)N * p, *W = V + (size_t)N * p;
        gl_transpose(U, P + in[0], p, N);
        gl_transpose(V, P + in[1], p, N);
        memcpy(W, P + out[0], sizeof(float) * (size_t)N * p);
        r->U = U;
        r->V = V;
        r->W = W;
    }
    r->ipr = *ipr_buf;
    r->N = N;
    r->p = p;
    return 0;
}

typedef struct shared {
    gl_store *s;
    const gl_sweep_opts *o;
    pthread_mutex_t lock;
    int failed;      /* the first error below ends the sweep */
    gl_error err;
    int interrupted; /* gl_stop_request stopped a run in flight */
    int active;
} shared;

typedef struct worker_arg {
    shared *sh;
    int index;
} worker_arg;

/* --threads, or every core */
static int cores(const gl_sweep_opts *o) { return o->threads > 0 ? o->threads : omp_get_num_procs(); }

/* Under the lock: the first failure is the sweep's. */
static void fail_locked(shared *sh, const gl_error *e) {
    if (!sh->failed) sh->failed = 1, sh->err = *e;
}

static void record(shared *sh, long id, const gl_config *c, const gl_run_result *r) {
    gl_error e;
    pthread_mutex_lock(&sh->lock);
    if (gl_store_finish(sh->s, id, c, r, &e) != 0) fail_locked(sh, &e);
    else if (sh->o->on_done) sh->o->on_done(sh->o->ctx, id, c, r);
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

/* A run that was not finished goes back to pending: interrupted, or what
 * it asked for could not be computed (e, which then ends the sweep). */
static void release(shared *sh, long id, int code, const gl_error *e) {
    gl_error e2;
    pthread_mutex_lock(&sh->lock);
    if (gl_store_release(sh->s, id, &e2) != 0) fail_locked(sh, &e2);
    if (code == GL_E_INTERRUPTED) sh->interrupted = 1;
    else fail_locked(sh, e);
    pthread_mutex_unlock(&sh->lock);
}

typedef struct claimed {
    long id;
    gl_config c;
} claimed;

/* The next pending run: 1, or 0 when none is left (or the sweep stops). */
static int claim_one(shared *sh, const char *name, claimed *x) {
    gl_error e;
    pthread_mutex_lock(&sh->lock);
    int got = sh->failed || sh->interrupted || gl_stop_requested()
                  ? 0
                  : gl_store_claim(sh->s, sh->o->shard_i, sh->o->shard_n, name, &x->id, &e);
    if (got > 0 && gl_store_point(sh->s, x->id, &x->c, &e) != 0) got = -1;
    if (got < 0) fail_locked(sh, &e);
    pthread_mutex_unlock(&sh->lock);
    return got > 0;
}

static void worker_name(char *name, size_t cap, const char *what) {
    char host[32] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(name, cap, "%s:%ld:%s", host, (long)getpid(), what);
}

static void worker_done(shared *sh) {
    pthread_mutex_lock(&sh->lock);
    sh->active--;
    pthread_mutex_unlock(&sh->lock);
}

/* One run at a time on one core. */
static void *worker(void *arg) {
    worker_arg *wa = arg;
    shared *sh = wa->sh;
    char name[64], idx[16];
    snprintf(idx, sizeof idx, "%d", wa->index);
    worker_name(name, sizeof name, idx);
    omp_set_num_threads(1);
    claimed x;
    while (claim_one(sh, name, &x)) {
        gl_trainer *t;
        gl_run_result r;
        double *ipr;
        float *wb;
        gl_error e;
        char dir[4096];
        gl_sweep_run_dir(sh->s, x.id, &x.c, dir, sizeof dir);
        int rc = gl_sweep_train_one(&x.c, sh->o->keep_weights, dir, &t, &r, &ipr, &wb, &e);
        if (rc == 0) record(sh, x.id, &x.c, &r);
        else release(sh, x.id, rc, &e);
        gl_trainer_free(t);
        free(ipr);
        free(wb);
    }
    worker_done(sh);
    return NULL;
}

/* Claims runs into the population of plan pl, whose first run is *held,
 * while pl accepts them; a run pl cannot take is kept in *held for the next
 * population (*have_held). Returns the population's size. */
static int claim_population(shared *sh, const char *name, gl_plan *pl, claimed *out, claimed *held,
                            int *have_held) {
    int n = 0;
    out[n++] = *held;
    *have_held = 0;
    claimed x;
    while (n < pl->fit && claim_one(sh, name, &x)) {
        if (!gl_plan_accepts(pl, &x.c)) {
            *held = x;
            *have_held = 1;
            break;
        }
        out[n++] = x;
    }
    return n;
}

/* Trains the population runs[0..n) and records its runs (runs that cannot
 * start fail alone; an interrupted population goes back to pending). */
static void train_population(shared *sh, claimed *runs, gl_trainer **tr, int n) {
    gl_error e;
    int m = 0;
    for (int i = 0; i < n; i++) {
        int rc = gl_trainer_create(&tr[m], &runs[i].c, &e);
        if (rc == GL_E_NOMEM) release(sh, runs[i].id, rc, &e); /* not the run's failure */
        else if (rc != 0) record_failed(sh, runs[i].id, &runs[i].c, e.msg);
        else runs[m] = runs[i], m++;
    }
    int rc = m == 0 ? 0 : gl_population_advance(tr, m, 0, &e);
    for (int i = 0; i < m; i++) {
        gl_run_result r;
        double *ipr;
        float *wb;
        gl_error e2;
        int rr = rc;
        if (rc == 0 && (rr = gl_sweep_result(tr[i], &runs[i].c, sh->o->keep_weights, &r, &ipr, &wb, &e2)) == 0) {
            record(sh, runs[i].id, &runs[i].c, &r);
            free(ipr);
            free(wb);
        } else if (rc == GL_E_INTERRUPTED || rc == GL_E_NOMEM || rc == 0) {
            release(sh, runs[i].id, rr, rc ? &e : &e2);
        } else {
            record_failed(sh, runs[i].id, &runs[i].c, e.msg);
        }
        gl_trainer_free(tr[i]);
    }
}

/* The worker of a backend that packs runs into populations (a GPU). */
static void *pack_worker(void *arg) {
    worker_arg *wa = arg;
    shared *sh = wa->sh;
    char name[64];
    worker_name(name, sizeof name, "gpu");
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
            if (!claim_one(sh, name, &held)) break;
            have_held = 1;
        }
        gl_plan pl;
        if (gl_plan_begin(&pl, &held.c, sh->o->max_population, &e) != 0) { /* not even one fits */
            have_held = 0;
            record_failed(sh, held.id, &held.c, e.msg);
            continue;
        }
        if (pl.fit > cap) {
            claimed *nr = realloc(runs, sizeof *runs * (size_t)pl.fit);
            gl_trainer **nt = nr ? realloc(tr, sizeof *tr * (size_t)pl.fit) : NULL;
            if (nr) runs = nr;
            if (nt) tr = nt;
            if (!nr || !nt) {
                gl_fail_nomem(&e, "for a population");
                release(sh, held.id, e.code, &e);
                break;
            }
            cap = pl.fit;
        }
        int n = claim_population(sh, name, &pl, runs, &held, &have_held);
        train_population(sh, runs, tr, n);
    }
    if (have_held) { /* stopped with a claimed run in hand */
        gl_error e;
        gl_failc(&e, GL_E_INTERRUPTED, "interrupted");
        release(sh, held.id, GL_E_INTERRUPTED, &e);
    }
    free(runs);
    free(tr);
    worker_done(sh);
    return NULL;
}

int gl_sweep_work(gl_store *s, const gl_sweep_opts *o, gl_error *err) {
    gl_grid grid;
    int rc = gl_store_grid(s, &grid, err);
    if (rc != 0) return rc;
    int packs = gl_backend_packs(grid.base.device);
    gl_grid_free(&grid);
    int W = packs ? 1 : cores(o);
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
        return gl_fail_nomem(err, "for the workers");
    }
    gl_blas_init();
    int started = 0;
    sh.active = W;
    for (int i = 0; i < W; i++) {
        wa[i].sh = &sh;
        wa[i].index = i;
        if (pthread_create(&th[i], NULL, packs ? pack_worker : worker, &wa[i]) == 0) started++;
        else worker_done(&sh);
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
    if (!started) return gl_failc(err, GL_E_INTERNAL, "could not start any worker thread");
    if (sh.failed) {
        if (err) *err = sh.err;
        return sh.err.code ? sh.err.code : GL_E_INTERNAL;
    }
    if (sh.interrupted || gl_stop_requested())
        return gl_failc(err, GL_E_INTERRUPTED, "interrupted: the runs in flight are pending again");
    return 0;
}
