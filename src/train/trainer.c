/* groklab: the trainer's state and its life cycle, the logging schedule,
 * and populations (groklab/train.h). The numerics of a step live in the
 * backends (src/backend/), which the trainer calls through its table
 * (src/train/backend.h). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "groklab/runtime.h"
#include "train/backend.h"

int gl_batch_size(const gl_config *c, long n_train) {
    return c->batch > 0 && c->batch < n_train ? c->batch : (int)n_train;
}

double gl_trainer_state_bytes(const gl_config *c, const gl_net *net) {
    double pairs = (double)gl_task_pairs(c->task, c->p);
    double filter = c->grokfast == GL_GROKFAST_MA    ? (double)c->grokfast_window + 1 /* ring, sum */
                    : c->grokfast == GL_GROKFAST_EMA ? 1.0
                                                     : 0.0;
    return 4.0 * (double)net->n_params * (4 + filter) /* params, 2 moments, initial copy, GrokFast */
           + 4.0 * 9 * pairs;                         /* dataset and permutation */
}

int gl_trainer_new(gl_trainer **out, const gl_config *c, const gl_backend *be, gl_error *err) {
    *out = NULL;
    gl_trainer *t = calloc(1, sizeof *t);
    if (!t) return gl_fail_nomem(err, "for the trainer");
    t->cfg = *c;
    t->be = be;
    t->diverged_at = -1;
    if (gl_net_init(&t->net, c, err) != 0 || gl_dataset_create(&t->data, c, err) != 0) {
        free(t);
        return err ? err->code : GL_E_INPUT;
    }
    size_t np = t->net.n_params, nrun = (size_t)t->net.n_run_layers * (size_t)t->net.run_width + 1;
    t->B = gl_batch_size(c, t->data.n_train);
    t->params = calloc(np, sizeof(float));
    t->m1 = calloc(np, sizeof(float));
    t->m2 = calloc(np, sizeof(float));
    t->init = calloc(np, sizeof(float));
    t->story = malloc(3 * ((size_t)t->data.n_train + 1) * sizeof(int64_t));
    t->run_mean = calloc(nrun, sizeof(float));
    t->run_var = calloc(nrun, sizeof(float));
    if (!t->params || !t->m1 || !t->m2 || !t->init || !t->run_mean || !t->run_var || !t->story) {
        gl_trainer_free(t);
        return gl_fail_nomem(err, "allocating the model and its buffers");
    }
    gl_net_init_params(&t->net, t->params, c);
    for (size_t k = 0; k < nrun; k++) t->run_var[k] = 1.0f;
    for (size_t k = 0; k < 3 * (size_t)t->data.n_train; k++) t->story[k] = -1;
    memcpy(t->init, t->params, np * sizeof(float));
    if (gl_methods_attach(t, err) != 0) {
        int rc = err ? err->code : GL_E_NOMEM;
        gl_trainer_free(t);
        return rc;
    }
    if (be->attach && be->attach(t, err) != 0) {
        int rc = err ? err->code : GL_E_NOMEM;
        gl_trainer_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void gl_trainer_free(gl_trainer *t) {
    if (!t) return;
    if (t->be && t->be->detach) t->be->detach(t);
    gl_methods_detach(t);
    gl_dataset_free(&t->data);
    free(t->params);
    free(t->m1);
    free(t->m2);
    free(t->init);
    free(t->run_mean);
    free(t->run_var);
    free(t->rows);
    free(t->story);
    free(t);
}

int gl_trainer_advance(gl_trainer *t, long until, int threads, gl_error *err) {
    if (t->diverged_at >= 0) return 0;
    return t->be->advance(&t, 1, until, threads, err);
}

double gl_trainer_step(gl_trainer *t, int threads) {
    return t->be->step ? t->be->step(t, threads) : NAN;
}

int gl_trainer_evaluate(gl_trainer *t, gl_metrics *m, int threads, gl_error *err) {
    if (t->be->evaluate) return t->be->evaluate(t, m, threads, err);
    double x[GL_METRICS_NCOLS];
    for (int i = 0; i < GL_METRICS_NCOLS; i++) x[i] = NAN;
    gl_metrics_from_array(m, x);
    m->step = t->step;
    return 0;
}

int gl_log_spaced(long steps, int P, long s) {
    if (P < 2 || s < 1 || s > steps) return 0;
    double lt = log((double)steps);
    if (lt <= 0) return s == steps;
    double x = log((double)s) / lt * (P - 1);
    for (long i = (long)floor(x) - 1; i <= (long)ceil(x) + 1; i++) {
        if (i < 0 || i >= P) continue;
        if ((long)floor(exp(lt * (double)i / (P - 1)) + 0.5) == s) return 1;
    }
    return 0;
}

int gl_snapshot_due(const gl_config *c, long s) {
    if (c->snapshots <= 0 || s < 0 || s > c->steps) return 0;
    return s == 0 || s == c->steps || gl_log_spaced(c->steps, c->snapshots < 2 ? 2 : c->snapshots, s);
}

long gl_log_period(const gl_config *c) {
    if (c->log_every > 0) return c->log_every;
    /* an evaluation of all pairs costs about pairs / (2 B) minibatch steps
     * of B rows (its forward of every pair against a step's forward and
     * backward); a full batch's step costs about as much (at most 10 steps'
     * worth for alpha >= 0.05), so only minibatches are held back. From the
     * config alone: the same for a run on a dataset file. */
    long per = c->steps / GL_LOG_ROWS, cost = 1;
    if (c->batch > 0) cost = (long)ceil((double)gl_task_pairs(c->task, c->p) / (2.0 * c->batch));
    if (cost > per) per = cost;
    return per > 1 ? per : 1;
}

int gl_log_due(const gl_config *c, long s) {
    if (s == 0 || s == c->steps) return 1;
    if (s < 0 || s > c->steps) return 0;
    if (gl_snapshot_due(c, s)) return 1;
    if (c->log_points <= 0) return s % gl_log_period(c) == 0;
    return gl_log_spaced(c->steps, c->log_points, s);
}

int gl_trainer_push_row(gl_trainer *t, const gl_metrics *r, gl_error *err) {
    if (t->n_rows > 0 && t->rows[t->n_rows - 1].step >= r->step)
        return gl_failc(err, GL_E_INTERNAL, "logged rows must advance (step %ld after %ld)", r->step,
                        t->rows[t->n_rows - 1].step);
    if (t->n_rows == t->cap_rows) {
        long cap = t->cap_rows ? 2 * t->cap_rows : 256;
        gl_metrics *nr = realloc(t->rows, (size_t)cap * sizeof *nr);
        if (!nr) return gl_fail_nomem(err, "for the metrics log");
        t->rows = nr;
        t->cap_rows = cap;
    }
    t->rows[t->n_rows++] = *r;
    return 0;
}

int gl_trainer_record(gl_trainer *t, const int32_t *pred, gl_error *err) {
    if (pred) {
        const gl_dataset *d = &t->data;
        int64_t *first = t->story, *last = first + d->n_train, *unl = last + d->n_train, s = t->step;
        for (int32_t i = 0; i < d->n_train; i++) {
            if (pred[i] == d->train_y[i]) {
                if (first[i] < 0) first[i] = s;
                last[i] = s;
            } else if (i < d->n_corrupt && first[i] >= 0 && unl[i] < 0 && pred[i] == d->train_true[i]) {
                unl[i] = s;
            }
        }
        t->story_live = 1;
    }
    return t->hook ? t->hook(t->hook_ctx, t, err) : 0;
}

void gl_trainer_set_log_hook(gl_trainer *t, gl_log_hook fn, void *ctx) {
    t->hook = fn;
    t->hook_ctx = ctx;
}

int gl_trainer_logits(void *tv, const int32_t *m, const int32_t *n, int B, float *out, gl_error *err) {
    gl_trainer *t = tv;
    if (!t->be->logits)
        return gl_failc(err, GL_E_NODEVICE, "the %s backend evaluates only while it trains (use --device cpu)",
                        t->be->name);
    return t->be->logits(t, m, n, B, out, err);
}

const int64_t *gl_trainer_story(const gl_trainer *t, int which) {
    if (!t->story_live || which < 0 || which > 2) return NULL;
    return t->story + (size_t)which * (size_t)t->data.n_train;
}

void gl_trainer_restore_story(gl_trainer *t, const int64_t *first, const int64_t *last, const int64_t *unlearned) {
    size_t n = (size_t)t->data.n_train;
    memcpy(t->story, first, n * sizeof(int64_t));
    memcpy(t->story + n, last, n * sizeof(int64_t));
    memcpy(t->story + 2 * n, unlearned, n * sizeof(int64_t));
    t->story_live = 1;
}

void gl_trainer_notify(gl_trainer *t) {
    if (t->progress) t->progress(t->progress_ctx, t);
}

void gl_trainer_set_position(gl_trainer *t, long step, long diverged_at, double seconds) {
    t->step = step;
    t->diverged_at = diverged_at;
    t->seconds += seconds;
}

int gl_trainer_restore(gl_trainer *t, long step, const gl_metrics *rows, long n_rows,
                       double seconds, gl_error *err) {
    t->step = step;
    t->seconds = seconds;
    t->n_rows = 0;
    for (long i = 0; i < n_rows; i++) {
        if (rows[i].step > step) break;
        if (gl_trainer_push_row(t, &rows[i], err) != 0) return err ? err->code : GL_E_NOMEM;
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

/* ---- plans and populations ---- */

int gl_plan_begin_on(gl_plan *pl, const gl_backend *be, const gl_config *c, int max, gl_error *err) {
    memset(pl, 0, sizeof *pl);
    int fit = be->fit(c, err);
    if (fit < 0) return fit;
    if (max > 0 && fit > max) fit = max;
    pl->first = *c;
    pl->be = be;
    pl->fit = fit < 1 ? 1 : fit;
    pl->n = 1;
    pl->packs = be->packs;
    return 0;
}

int gl_plan_accepts(gl_plan *pl, const gl_config *c) {
    if (pl->n >= pl->fit || strcmp(c->device, pl->first.device) != 0 ||
        !pl->be->compatible(&pl->first, c))
        return 0;
    pl->n++;
    return 1;
}

int gl_population_advance(gl_trainer **members, int M, int threads, gl_error *err) {
    for (int i = 0; i < M;) {
        gl_plan pl;
        int rc = gl_plan_begin_on(&pl, members[i]->be, &members[i]->cfg, 0, err);
        if (rc != 0) return rc;
        int j = i + 1;
        while (j < M && members[j]->step == members[i]->step && members[j]->be == members[i]->be &&
               gl_plan_accepts(&pl, &members[j]->cfg))
            j++;
        rc = members[i]->be->advance(members + i, j - i, LONG_MAX, threads, err);
        if (rc != 0) return rc;
        i = j;
    }
    return 0;
}
