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

int gl_sweep_work(gl_store *s, const gl_sweep_opts *o, gl_error *err) {
    int W = o->threads > 0 ? o->threads : omp_get_num_procs();
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
        if (pthread_create(&th[i], NULL, worker, &wa[i]) == 0) started++;
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
