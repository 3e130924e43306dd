/* groklab GPU backend: evaluating a population on the device at a logging
 * step, and the rows it logs (see pop.h). */
#include <math.h>
#include <string.h>

#include "backend/gpu/pop.h"
#include "groklab/runtime.h"

/* An evaluation's launches and products into v->acc: the same each time,
 * so gpop_submit records and replays them */
static void eval_ops(gpop *g, int unused) {
    (void)unused;
    gl_gview *v = &g->v;
    long M = v->M;
    gpop_launch(g, GL_K_acc_zero, M, GL_ACC);
    gpop_launch(g, GL_K_norm_rows, 3 * M, v->p);
    gpop_launch(g, GL_K_norm_sum, 3 * M, 1);
    /* spectra: column-major S^T (N, 2nb) = X^T (N, p) F (p, 2nb) for X = Ut, Vt, W */
    long offs[3] = {v->off_u, v->off_v, v->off_w}, nb2 = 2L * v->nb;
    for (int c = 0; c < 3; c++)
        gpop_gemm(g, "gemm spectra", 0, 0, v->N, (int)nb2, v->p, v->P + offs[c], v->N, v->np, g->dft,
             v->ldo, 0, v->spec + (long)c * nb2 * v->N, v->N, 3 * nb2 * v->N, v->M);
    gpop_launch(g, GL_K_ipr, M, v->N);
    gpop_launch(g, GL_K_ipr_mean, M, 1);
    v->training = 0;
    for (int set = GK_SET_TRAIN; set <= GK_SET_TEST; set++) {
        v->set = set;
        int most = set == GK_SET_TRAIN ? v->T : v->S;
        for (v->start = 0; v->start < most; v->start += v->R) {
            /* the chunk's GEMM covers its longest member's rows */
            g->eval_rows = 0;
            for (int i = 0; i < M; i++) {
                int left = (set == GK_SET_TRAIN ? g->mem[i].n_train : g->mem[i].n_test) - v->start;
                if (left > g->eval_rows) g->eval_rows = left < v->R ? left : v->R;
            }
            gpop_load_batch(g, 0);
            gpop_forward(g);
            gpop_launch(g, GL_K_loss_rows, M, v->R);
            gpop_launch(g, GL_K_eval_part, M, GL_EVAL_SUMS * gl_k_eval_runs(v));
            gpop_launch(g, GL_K_eval_acc, M, GL_EVAL_SUMS);
        }
    }
}

/* Evaluates every member into g->acc (host). */
int gpop_evaluate(gpop *g, gl_error *err) {
    gl_gview *v = &g->v;
    long M = v->M;
    gpop_submit(g, GPOP_EVAL, eval_ops, 0); /* queued behind the steps: no wait until the downloads */
    v->training = 0; /* as eval_ops leaves the view, whether it ran or was replayed */
    v->set = GK_SET_TEST;
    v->start = 0;
    g->batch_ready = 0;
    g->ops->download(g->dev, g->acc, v->acc, sizeof(double) * (size_t)M * GL_ACC);
    g->ops->download(g->dev, g->pred, v->pred, sizeof(int32_t) * (size_t)M * (size_t)v->T);
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
    /* the device computes the paper's columns; the later ones are the CPU's */
    r->ipr_u = r->ipr_v = r->ipr_w = r->grad_norm = r->gamma_mean = r->gamma_std = NAN;
}

/* Logs the population at the current step (evaluated on the device): a row
 * for each member with skip[i] == 0 that is still training, and for one that
 * stopped since, its divergence row (the weights frozen at the failed step,
 * as the CPU logs it); stopped members get skip[i] = 1. With only_stopped,
 * rows only for the stopped ones. Each row is recorded in the member's
 * trainer (gl_trainer_record: the examples' story, then its log hook, which
 * writes snapshots: with --snapshots the weights come back first). */
int gpop_log_rows(gpop *g, int *skip, int only_stopped, gl_error *err) {
    if (gpop_evaluate(g, err) != 0) return -1;
    /* snapshots and progress measures: the trainers' log hooks read their weights as of this row */
    const gl_config *c = gl_trainer_config(g->t[0]);
    if ((c->snapshots > 0 || c->progress_measures) && gpop_download(g, 0, err) != 0) return -1;
    for (int i = 0; i < g->v.M; i++) {
        const gl_gmember *m = &g->mem[i];
        if (skip[i] || (only_stopped && m->alive)) continue;
        gl_metrics r;
        long step = m->alive ? g->step : m->diverged_at;
        metrics_of(g, i, step, &r);
        if (!m->alive) skip[i] = 1;
        if (gl_trainer_push_row(g->t[i], &r, err) != 0) return -1;
        /* each logged row moves the examples' story on, as on the CPU (a divergence row's
         * predictions are those of the weights it froze at) */
        gl_trainer_set_position(g->t[i], step, m->alive ? -1 : m->diverged_at, 0);
        if (gl_trainer_record(g->t[i], g->pred + (size_t)i * (size_t)g->v.T, err) != 0) return -1;
    }
    /* progress lines, about every 0.25 s: the position as of this log */
    double tn = gl_now();
    if (tn - g->last_progress >= 0.25) {
        g->last_progress = tn;
        for (int i = 0; i < g->v.M; i++)
            if (g->mem[i].alive) {
                gl_trainer_set_position(g->t[i], g->step, -1, 0);
                gl_trainer_notify(g->t[i]);
            }
    }
    return 0;
}

