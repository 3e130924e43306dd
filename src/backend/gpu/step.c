/* groklab GPU backend: one training step of a population (see pop.h), and
 * the launches and products it is made of, each timed on its own when
 * gl_gpu_bench profiles. */
#include <stdio.h>
#include <string.h>

#include "backend/gpu/pop.h"
#include "groklab/rng.h"
#include "groklab/runtime.h"

/* Profiling: waits for the queued work (an error shows at the bench's own sync) */
static double prof_start(gpop *g) {
    gl_error e;
    if (g->ops->sync(g->dev, &e) != 0) g->prof_failed = 1;
    return gl_now();
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

void gpop_launch(gpop *g, gl_kernel k, long rows, long cols) {
    double t0 = g->prof ? prof_start(g) : 0;
    g->submits += !g->recording;
    g->ops->launch(g->dev, k, rows, cols, &g->v);
    if (g->prof) prof_add(g, gl_kernel_name(k), t0);
}

/* the device's batched GEMM (dev.h), named for the profile */
void gpop_gemm(gpop *g, const char *what, int ta, int tb, int m, int n, int k, const float *A, int lda,
               long sa, const float *B, int ldb, long sb, float *C, int ldc, long sc, int batch) {
    double t0 = g->prof ? prof_start(g) : 0;
    g->submits += !g->recording;
    g->ops->gemm(g->dev, ta, tb, m, n, k, A, lda, sa, B, ldb, sb, C, ldc, sc, batch);
    if (g->prof) prof_add(g, what, t0);
}

/* The rows of this step (training) or of an evaluation chunk, grouped by
 * operand for the embedding's backward. */
void gpop_load_batch(gpop *g, int with_csr) {
    gl_gview *v = &g->v;
    long M = v->M;
    gpop_launch(g, GL_K_batch_rows, M, 1);
    gpop_launch(g, GL_K_gather, M, v->R);
    if (!with_csr) return;
    gpop_launch(g, GL_K_csr_count, 2 * M, v->p);
    gpop_launch(g, GL_K_csr_scan, 2 * M, 1);
    gpop_launch(g, GL_K_csr_fill, 2 * M, v->p);
}

/* the epoch member i's minibatches come from at this step, if its
 * permutation on the device is another's; else -1 */
static long new_epoch(const gpop *g, int i) {
    long n = g->mem[i].n_train, e = g->step / gl_minibatch_count(n, g->v.batch, g->v.drop_last);
    return g->v.batch < n && e != g->epoch[i] ? e : -1;
}

/* Minibatches: draws the permutations of the members whose epoch changes
 * into the next host buffer and queues one upload per run of consecutive
 * such members (members of one alpha are consecutive and change together);
 * the buffer's previous uploads are waited for first (two refreshes back),
 * so the host does not wait for the step before. */
static void refresh_perms(gpop *g) {
    gl_gview *v = &g->v;
    int s = g->perm_slot, waited = 0;
    for (int i = 0; i < v->M;) {
        int j = i;
        for (long e; j < v->M && (e = new_epoch(g, j)) >= 0; j++) {
            if (!waited) g->ops->wait_uploads(g->dev, s);
            waited = 1;
            int32_t *perm = g->perm[s] + (size_t)j * v->T;
            for (int32_t k = 0; k < g->mem[j].n_train; k++) perm[k] = k;
            gl_shuffle(perm, (int32_t)g->mem[j].n_train, gl_trainer_config(g->t[j])->seed,
                       GL_STREAM_MINIBATCH, (uint32_t)e);
            g->epoch[j] = e;
        }
        if (j == i) {
            i++;
            continue;
        }
        size_t at = (size_t)i * v->T;
        g->ops->upload_queued(g->dev, v->perm + at, g->perm[s] + at,
                              sizeof(int32_t) * (size_t)(j - i) * v->T, s);
        i = j;
    }
    if (waited) g->perm_slot = !s;
}

/* z = norm(a) and out = z W^T for the loaded rows (training or evaluation mode) */
void gpop_forward(gpop *g) {
    gl_gview *v = &g->v;
    long M = v->M, MR = M * v->R;
    gpop_launch(g, GL_K_hidden, MR, v->N);
    if (v->norm == GL_NORM_BATCHNORM) {
        if (v->training) gpop_launch(g, GL_K_bn_stats, M, v->N);
        gpop_launch(g, GL_K_norm, MR, v->N);
    } else if (v->norm == GL_NORM_LAYERNORM) {
        gpop_launch(g, GL_K_ln_stats, M, v->R);
        gpop_launch(g, GL_K_norm, MR, v->N);
    }
    /* out (R, p) row-major = z (R, N) W^T: column-major out^T (p, R) = W z^T */
    for (int q = 0; q < (v->training ? g->n_groups : 1); q++) {
        long i0 = v->training ? g->grp_first[q] : 0;
        int n = v->training ? g->grp_first[q + 1] - g->grp_first[q] : v->M;
        int rows = v->training ? g->grp_rows[q] : g->eval_rows;
        gpop_gemm(g, "gemm out = z W^T", 1, 0, v->p, rows, v->N, v->P + i0 * v->np + v->off_w, v->N,
             v->np, v->z + i0 * v->R * v->N, v->N, (long)v->R * v->N, v->out + i0 * v->R * v->ldo,
             v->ldo, (long)v->R * v->ldo, n);
    }
}

/* The device's work of a training step: with load, the batch first */
static void step_ops(gpop *g, int load) {
    gl_gview *v = &g->v;
    long M = v->M, MR = M * v->R;
    if (load) gpop_load_batch(g, 1);
    gpop_forward(g);
    if (v->loss == GL_LOSS_MSE) gpop_launch(g, GL_K_mse_grad, M * v->R, v->p);
    else gpop_launch(g, GL_K_loss_rows, M, v->R);
    for (int q = 0; q < g->n_groups; q++) {
        long i0 = g->grp_first[q], RN = (long)v->R * v->N, Rp = (long)v->R * v->ldo;
        int n = g->grp_first[q + 1] - g->grp_first[q], rows = g->grp_rows[q];
        /* dW (p, N) row-major = dout^T z: column-major dW^T (N, p) = z^T dout */
        gpop_gemm(g, "gemm dW = dout^T z", 0, 1, v->N, v->p, rows, v->z + i0 * RN, v->N, RN,
             v->out + i0 * Rp, v->ldo, Rp, v->G + i0 * v->np + v->off_w, v->N, v->np, n);
        /* dz (R, N) = dout W: column-major dz^T (N, R) = W^T dout^T; into z
         * (a without a norm, which is no longer needed) */
        gpop_gemm(g, "gemm dz = dout W", 0, 0, v->N, rows, v->p, v->P + i0 * v->np + v->off_w, v->N,
             v->np, v->out + i0 * Rp, v->ldo, Rp, v->z + i0 * RN, v->N, RN, n);
    }
    if (v->norm == GL_NORM_BATCHNORM) {
        gpop_launch(g, GL_K_bn_back_sums, M, v->N);
        gpop_launch(g, GL_K_norm_back, MR, v->N);
    } else if (v->norm == GL_NORM_LAYERNORM) {
        gpop_launch(g, GL_K_ln_back_rows, M, v->R);
        gpop_launch(g, GL_K_ln_back_cols, M, v->N);
        gpop_launch(g, GL_K_norm_back, MR, v->N);
    }
    gpop_launch(g, GL_K_embed_back, 2 * M * v->p, v->N);
    /* the update, with the training methods the population asks for (k_optim.h) */
    gpop_launch(g, GL_K_optim_prep, M, 1); /* and the step advanced on the device */
    if (v->gf != GL_GROKFAST_OFF || v->train_norm) gpop_launch(g, GL_K_grad_filter, M, v->np);
    if (v->clip) {
        v->sq_params = 0;
        gpop_launch(g, GL_K_sq_part, M, v->nchunk);
        gpop_launch(g, GL_K_clip_factor, M, 1);
    }
    gpop_launch(g, GL_K_optim, M, v->np);
    if (v->wnorm) {
        v->sq_params = 1;
        gpop_launch(g, GL_K_sq_part, M, v->nchunk);
        gpop_launch(g, GL_K_norm_factor, M, 1);
        gpop_launch(g, GL_K_rescale, M, v->np);
    }
}

void gpop_submit(gpop *g, int work, void (*ops)(gpop *g, int arg), int arg) {
    void **graph = &g->graph[work];
    /* recorded the second time: the first, launched directly, loads every
     * kernel and product's code outside a capture */
    if (g->graphs && !g->prof && !*graph && g->ran[work]) {
        if (g->ops->record_begin(g->dev) == 0) {
            g->recording = 1;
            ops(g, arg);
            g->recording = 0;
            *graph = g->ops->record_end(g->dev);
        }
        if (!*graph) g->graphs = 0;
    }
    if (g->graphs && !g->prof && *graph) {
        g->submits++;
        g->ops->replay(g->dev, *graph);
    } else {
        ops(g, arg);
    }
    g->ran[work] = 1;
}

/* A step's work is the same operations with the same arguments every step
 * (the step itself is on the device, mem.step), so it is recorded once as a
 * graph, for each of with and without the batch's load, and replayed: one
 * submission instead of 8 to 18 launches and products (3 products more for
 * each group after the first). */
void gpop_train_step(gpop *g) {
    gl_gview *v = &g->v;
    int full = v->batch <= 0 || v->batch >= v->T, load = !full || !g->batch_ready;
    v->training = 1;
    if (!full) refresh_perms(g); /* a copy: never inside a recording */
    gpop_submit(g, load ? GPOP_STEP_LOAD : GPOP_STEP, step_ops, load);
    g->batch_ready = full;
    g->step++;
}

