/* groklab: the CPU backend.
 *
 * A step is: pick the batch (all of the training set, or the next slice of
 * this epoch's Philox permutation), forward in training mode, loss and its
 * gradient, backward, optimizer. The family's pass (gl_net_pass,
 * src/model/pass.c) picks the code: for the two-layer MLP the fused,
 * cache-blocked pass (src/model/fused.c), except with BatchNorm, whose batch
 * statistics need the layered pass over whole-batch arrays; the deep MLP and
 * the Transformer run their own passes. Everything is allocated when the
 * trainer is made (attach); the step loop allocates nothing. Populations run
 * one member per core, a single member on every core. */
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backends.h"
#include "groklab/optim.h"
#include "groklab/rng.h"
#include "groklab/runtime.h"
#include "model/ops.h" /* gl_minibatch_count */

enum { EVAL_CHUNK = 2048 };

typedef struct cpu_work {
    float *grads;              /* (n_params) */
    gl_net_pass *pass;         /* the family's training and evaluation pass */
    int32_t *perm;             /* this epoch's order of the training set */
    long perm_epoch;
    int32_t *bm, *bn, *by, *bid; /* the current minibatch */
    gl_ipr_plan *ipr;
    double *ipr_buf;           /* (n_units) */
    int32_t *pred;             /* (n_train) argmax of the last evaluation */
    long grads_step;           /* the step whose gradient grads holds (0: none) */
    double raw_grad_norm;      /* its norm before the training methods changed it (NaN: unchanged) */
} cpu_work;

static double cpu_bytes(const gl_config *c, const gl_net *net, int Bi) {
    double pairs = (double)gl_task_pairs(c->task, c->p);
    int eb = EVAL_CHUNK < pairs ? EVAL_CHUNK : (int)pairs;
    return 4 * (double)net->n_params /* gradients */ + gl_net_pass_bytes(net, c, Bi, eb) +
           8 * 3 * (double)net->n_units /* IPR scratch */ + 4 * pairs /* predictions */;
}

static void cpu_detach(gl_trainer *t) {
    cpu_work *w = t->impl;
    if (!w) return;
    free(w->grads);
    gl_net_pass_free(w->pass);
    free(w->perm);
    free(w->bm);
    free(w->bn);
    free(w->by);
    free(w->bid);
    gl_ipr_plan_free(w->ipr);
    free(w->ipr_buf);
    free(w->pred);
    free(w);
    t->impl = NULL;
}

static int cpu_attach(gl_trainer *t, gl_error *err) {
    const gl_config *c = &t->cfg;
    cpu_work *w = calloc(1, sizeof *w);
    if (!w) return gl_fail_nomem(err, "for the CPU pass");
    t->impl = w;
    gl_blas_init(); /* groklab chunks the products itself: the BLAS runs on one thread */
    w->perm_epoch = -1;
    int N = t->net.n_units, p = c->p;
    w->grads = calloc(t->net.n_params, sizeof(float));
    w->ipr_buf = calloc((size_t)N, sizeof(double));
    w->pred = malloc(((size_t)t->data.n_train + 1) * sizeof(int32_t));
    int ok = w->grads && w->ipr_buf && w->pred;
    gl_error e;
    if (ok) ok = gl_net_pass_new(&w->pass, &t->net, c, t->B, EVAL_CHUNK, &e) == 0;
    if (ok && t->B < t->data.n_train) {
        size_t n = (size_t)t->data.n_train;
        w->perm = malloc(n * sizeof(int32_t));
        w->bm = malloc((size_t)t->B * sizeof(int32_t));
        w->bn = malloc((size_t)t->B * sizeof(int32_t));
        w->by = malloc((size_t)t->B * sizeof(int32_t));
        w->bid = malloc((size_t)t->B * sizeof(int32_t));
        ok = w->perm && w->bm && w->bn && w->by && w->bid;
    }
    if (!ok) {
        cpu_detach(t);
        return gl_fail_nomem(err, "allocating the model and its buffers");
    }
    if (gl_ipr_plan_create(&w->ipr, p, N, gl_config_basis(c), err) != 0) {
        cpu_detach(t);
        return err ? err->code : GL_E_NOMEM;
    }
    return 0;
}

/* The examples of step s: with minibatches, epoch e = s / nb uses the
 * permutation shuffle(n_train; seed, MINIBATCH, b = e), and step s takes its
 * slice (s % nb); the last slice of an epoch may be short. */
static void select_batch(gl_trainer *t, gl_batch *bt) {
    const gl_dataset *d = &t->data;
    cpu_work *w = t->impl;
    if (t->B >= d->n_train) {
        *bt = (gl_batch){d->train_m, d->train_n, d->train_y, NULL, d->n_train};
        return;
    }
    long nb = gl_minibatch_count(d->n_train, t->B, t->cfg.drop_last);
    long e = t->step / nb, k = t->step % nb;
    if (e != w->perm_epoch) {
        for (int32_t i = 0; i < d->n_train; i++) w->perm[i] = i;
        gl_shuffle(w->perm, d->n_train, t->cfg.seed, GL_STREAM_MINIBATCH, (uint32_t)e);
        w->perm_epoch = e;
    }
    long start = k * t->B;
    int B = (int)((start + t->B <= d->n_train) ? t->B : d->n_train - start); /* short only without drop_last */
    for (int b = 0; b < B; b++) {
        int32_t i = w->perm[start + b];
        w->bm[b] = d->train_m[i];
        w->bn[b] = d->train_n[i];
        w->by[b] = d->train_y[i];
        w->bid[b] = i;
    }
    *bt = (gl_batch){w->bm, w->bn, w->by, w->bid, B};
}

static double cpu_step(gl_trainer *t, int threads) {
    if (threads > 0) omp_set_num_threads(threads);
    cpu_work *w = t->impl;
    gl_batch bt;
    select_batch(t, &bt);
    double loss = gl_net_pass_loss_grad(w->pass, w->grads, t->params, t->run_mean, t->run_var, t->step, &bt);
    if (!isfinite(loss)) return loss; /* the caller records the divergence */
    t->step++;
    w->grads_step = t->step;
    w->raw_grad_norm = gl_methods_update(t, w->grads);
    return loss;
}

/* Loss sum and correct counts over a set, in evaluation mode, in chunks. */
static void eval_set(gl_trainer *t, const int32_t *m, const int32_t *n, const int32_t *y, const int32_t *y2,
                     long count, long split, gl_eval_counts *ec, int32_t *pred) {
    cpu_work *w = t->impl;
    memset(ec, 0, sizeof *ec);
    for (long s = 0; s < count; s += EVAL_CHUNK) {
        int B = (int)(count - s < EVAL_CHUNK ? count - s : EVAL_CHUNK);
        gl_eval_add(ec, gl_net_pass_logits(w->pass, t->params, t->run_mean, t->run_var, m + s, n + s, B), y, y2, s, B, split, t->cfg.p, t->cfg.loss, pred);
    }
}

static int cpu_evaluate(gl_trainer *t, gl_metrics *r, int threads, gl_error *err) {
    (void)err;
    cpu_work *w = t->impl;
    if (threads > 0) omp_set_num_threads(threads);
    const gl_dataset *d = &t->data;
    gl_eval_counts tr, te;
    eval_set(t, d->train_m, d->train_n, d->train_y, d->train_true, d->n_train, d->n_corrupt, &tr, w->pred);
    eval_set(t, d->test_m, d->test_n, d->test_y, NULL, d->n_test, 0, &te, NULL);
    gl_eval_metrics(r, &tr, &te, d, t->cfg.p, t->cfg.loss);
    r->step = t->step;
    gl_net_norms(&t->net, t->params, &r->norm_u, &r->norm_v, &r->norm_w);
    double parts[3];
    r->mean_ipr = gl_ipr_net_parts(w->ipr, w->ipr_buf, &t->net, t->params, t->cfg.ipr, parts);
    r->ipr_u = parts[0], r->ipr_v = parts[1], r->ipr_w = parts[2];
    r->grad_norm = NAN;
    if (w->grads_step > 0 && w->grads_step == t->step) {
        r->grad_norm = w->raw_grad_norm; /* the norm before the training methods changed grads */
        if (isnan(r->grad_norm)) {       /* none did: grads is the raw gradient */
            double g2 = 0;
            for (size_t i = 0; i < t->net.n_params; i++) g2 += (double)w->grads[i] * w->grads[i];
            r->grad_norm = sqrt(g2);
        }
    }
    gl_metrics_gains(r, &t->net, t->params);
    return 0;
}

static int cpu_logits(gl_trainer *t, const int32_t *m, const int32_t *n, int B, float *out, gl_error *err) {
    if (B < 0 || B > EVAL_CHUNK) return gl_failc(err, GL_E_INTERNAL, "logits of %d pairs at once (at most %d)", B, EVAL_CHUNK);
    cpu_work *w = t->impl;
    memcpy(out, gl_net_pass_logits(w->pass, t->params, t->run_mean, t->run_var, m, n, B),
           (size_t)B * (size_t)t->cfg.p * sizeof(float));
    return 0;
}

/* Logs the current step once. */
static int log_now(gl_trainer *t, int threads, gl_error *err) {
    if (t->n_rows > 0 && t->rows[t->n_rows - 1].step == t->step) return 0;
    gl_metrics r;
    int rc = cpu_evaluate(t, &r, threads, err);
    if (rc == 0) rc = gl_trainer_push_row(t, &r, err);
    return rc ? rc : gl_trainer_record(t, t->impl ? ((cpu_work *)t->impl)->pred : NULL, err);
}

static int advance_one(gl_trainer *t, long until, int threads, gl_error *err) {
    if (threads <= 0) threads = gl_cores();
    if (until > t->cfg.steps) until = t->cfg.steps;
    double t0 = gl_now(), last = t0;
    if (t->diverged_at >= 0) return 0;
    int rc = 0;
    if (gl_log_due(&t->cfg, t->step)) rc = log_now(t, threads, err);
    while (rc == 0 && t->step < until) {
        double loss = cpu_step(t, threads);
        if (!isfinite(loss)) {
            t->diverged_at = t->step;
            rc = log_now(t, threads, err);
            break;
        }
        if (gl_log_due(&t->cfg, t->step)) rc = log_now(t, threads, err);
        if (t->progress) {
            double tn = gl_now();
            if (tn - last >= 0.25 || t->step == until) {
                t->seconds += tn - t0;
                t0 = last = tn;
                t->progress(t->progress_ctx, t);
            }
        }
        if (rc == 0 && t->step < until && gl_stop_requested())
            rc = gl_failc(err, GL_E_INTERRUPTED, "interrupted at step %ld of %ld", t->step, t->cfg.steps);
    }
    t->seconds += gl_now() - t0;
    return rc;
}

static int cpu_advance(gl_trainer **members, int M, long until, int threads, gl_error *err) {
    if (threads <= 0) threads = gl_cores();
    if (M == 1) return advance_one(members[0], until, threads, err);
    int failed = 0;
    gl_error first = {{0}, 0};
    /* one member per core; each member's own loops then run on one thread */
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads < M ? threads : M)
    for (int i = 0; i < M; i++) {
        gl_error e;
        if (advance_one(members[i], until, 1, &e) != 0) {
#pragma omp critical
            {
                /* a real failure outranks an interrupt */
                if (!failed || (first.code == GL_E_INTERRUPTED && e.code != GL_E_INTERRUPTED)) first = e;
                failed = 1;
            }
        }
    }
    if (!failed) return 0;
    if (err) *err = first;
    return first.code ? first.code : GL_E_INTERNAL;
}

static int cpu_check(const gl_config *c, gl_error *err) {
    (void)c;
    (void)err;
    return 0;
}

static int cpu_compatible(const gl_config *a, const gl_config *b) {
    (void)a;
    (void)b;
    return 1; /* CPU members train independently, one per core */
}

static int cpu_fit(const gl_config *c, gl_error *err) {
    (void)c;
    (void)err;
    return INT_MAX;
}

const gl_backend *gl_backend_cpu(void) {
    static const gl_backend be = {
        .name = "cpu", .check = cpu_check, .bytes = cpu_bytes, .attach = cpu_attach, .detach = cpu_detach,
        .advance = cpu_advance, .compatible = cpu_compatible, .fit = cpu_fit, .step = cpu_step,
        .evaluate = cpu_evaluate, .logits = cpu_logits, .packs = 0,
    };
    return &be;
}
